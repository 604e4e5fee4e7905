/* One order book: exact integer levels plus Binance's sync state machine.
 *
 * Levels. Each side is a sorted array of feed_level with the BEST level at the END: bids
 * ascending by price, asks descending by price (one ascending "key" = px for bids, -px for
 * asks, so one binary search serves both). Most traffic touches the top of the book, and with
 * the best at the end an insert or delete there moves only the few levels above it. The used
 * region is [lo, hi) inside a buffer of `alloc` slots with free room at both ends, so an
 * insert or delete moves whichever part is shorter (the better levels up, or the worse levels
 * down): deep updates, which Binance sends plenty of, cost no more than top ones. Dropping the
 * worst level when the side is full is lo++ (no move). When an end runs out of room the
 * region is recentred (amortised O(1) per op). Cap per side = max_levels; the buffer grows by
 * doubling up to max_levels + slack (slack = max_levels/4, at least 16) and is never shrunk,
 * so a synced book does not allocate.
 * Memory per book <= 2 * (max_levels + slack) * 16 bytes (1000 levels, the default: 40 KB).
 * The cap is a window like the exchange's own snapshot window (exchanges.md §5.1 caveat):
 * levels beyond it that we dropped are unknown until they change, exactly as levels beyond a
 * 1000-level snapshot are, and new levels there are accepted as they arrive (the official
 * procedure). With the default cap (1000: the depth of the recorded snapshots and of USD-M's
 * REST snapshot; a 5000-level spot snapshot keeps its best 1000) only the far tail is trimmed,
 * far from anything a pane or a strategy reads. A tiny cap (tests use 50) shows this caveat
 * near the top: after a fast move it can briefly miss an unchanged level that the cap dropped
 * earlier.
 *
 * Sync (docs/exchanges.md §5). Spot: diffs are buffered until a snapshot; a snapshot older than
 * the first buffered U is refused (BOOK_SNAPSHOT_OLD); buffered diffs with u <= lastUpdateId
 * are dropped; the first applied diff must have U <= lastUpdateId+1 <= u; afterwards u < id is
 * stale and U > id+1 is a gap. USD-M: drop u < lastUpdateId; the first applied must have
 * U <= lastUpdateId <= u (or pu == lastUpdateId: the event right after a snapshot taken between
 * two events, as a recording writes its books); afterwards pu must equal the previous u. Two additions,
 * both harmless on a correct stream: a USD-M diff with u <= id is stale rather than a gap
 * (a duplicate delivered after a reconnect), and the buffer is kept contiguous while it fills
 * (a break in the chain drops what came before it: those diffs could never be applied).
 * A gap clears the levels (the book is never shown unless LIVE) and starts buffering again,
 * beginning with the diff that revealed the gap.
 *
 * OKX (BOOK_RULES_OKX, exchanges.md §8.6; the book_okx_* functions below): a diff's seqId is both
 * first_id and last_id, prevSeqId is prev_id. Live: prevSeqId == last seqId applies it (normal,
 * heartbeat seqId == prevSeqId with empty sides, and maintenance reset seqId < prevSeqId: we
 * continue from the new seqId); a repeat of the last seqId is stale; anything else is a gap. Sync
 * from a REST snapshot S (or a pushed snapshot, same path): S < prevSeqId of the first buffered
 * diff -> BOOK_SNAPSHOT_OLD (fetch again); buffered diffs with seqId <= S are dropped; the first
 * applied must satisfy prevSeqId <= S < seqId; afterwards the chain rule. A maintenance reset
 * inside the sync buffer makes seqId comparisons meaningless: the snapshot is refused as old and
 * a later one (after the reset) syncs.
 *
 * Buffered diffs are COPIED (event level arrays live in the decoder's scratch): headers in an
 * array of at most max_buffered entries, levels in one arena of at most
 * max_buffered * BOOK_ARENA_AVG_LEVELS levels (>= BOOK_ARENA_MIN_LEVELS). Both grow by doubling
 * to their caps and are reused; beyond either cap the oldest diffs are dropped (counted). With
 * the defaults (256 diffs) the worst case is 8 KB of headers + 64 KB of levels per book; a
 * normal sync buffers a few dozen diffs. book_memory_max() is that worst case (both sides and
 * the buffer full at once), the figure the memory budget admits the limits against. After a
 * sync, buffers grown past BOOK_BUF_KEEP / BOOK_ARENA_KEEP are released (one free per resync,
 * never per diff), so a long outage does not leave every book holding its worst case. */
#include "kestrel/book.h"

#include "kestrel/xmalloc.h"

#include <stdlib.h>
#include <string.h>

#define BOOK_ARENA_AVG_LEVELS 16u
#define BOOK_ARENA_MIN_LEVELS 4096u
#define BOOK_SIDE_INITIAL 64u
#define BOOK_BUF_INITIAL 16u
#define BOOK_BUF_KEEP 256u     /* headers kept allocated after a sync */
#define BOOK_ARENA_KEEP 8192u  /* arena levels kept allocated after a sync (128 KB) */

typedef struct side_arr {
    feed_level *lv;
    uint32_t lo, hi; /* levels in lv[lo..hi), ascending key, best at hi-1 */
    uint32_t alloc;
} side_arr;

typedef struct bufdiff {
    int64_t first_id, last_id, prev_id;
    bool has_prev;
    uint32_t off; /* into the arena: nbids bid levels then nasks ask levels */
    uint32_t nbids, nasks;
} bufdiff;

struct book {
    enum book_rules rules;
    enum book_state state;
    uint32_t max_levels, side_cap; /* side_cap = max_levels + slack (buffer slots) */
    side_arr side[2];
    int64_t id;         /* last applied update id (u), or the snapshot's lastUpdateId */
    bool first_pending; /* after a snapshot: the next applied diff uses the setup rule */
    bool crossed;

    /* diffs buffered while (re)syncing: hdr[head .. head+nbuf), contiguous chain */
    bufdiff *hdr;
    uint32_t hdr_alloc, head, nbuf, max_buffered;
    feed_level *arena;
    uint32_t arena_alloc, arena_cap, arena_lo, arena_hi;

    book_stats stats;
};

const char *book_state_name(enum book_state s)
{
    switch (s) {
    case BOOK_EMPTY:
        return "empty";
    case BOOK_SYNCING:
        return "syncing";
    case BOOK_LIVE:
        return "live";
    case BOOK_RESYNCING:
        return "resyncing";
    }
    return "unknown";
}

/* The caps book_new derives from its arguments (clamped), shared with book_memory_max. */
static void book_caps(uint32_t *max_levels, uint32_t *max_buffered, uint32_t *side_cap,
                      uint32_t *arena_cap)
{
    if (*max_levels == 0)
        *max_levels = 1;
    if (*max_levels > (1u << 24))
        *max_levels = 1u << 24;
    if (*max_buffered == 0)
        *max_buffered = 1;
    if (*max_buffered > (1u << 20))
        *max_buffered = 1u << 20;
    *side_cap = *max_levels + K_MAX(*max_levels / 4, 16u);
    *arena_cap = K_MAX(*max_buffered * BOOK_ARENA_AVG_LEVELS, BOOK_ARENA_MIN_LEVELS);
}

book *book_new(enum book_rules rules, uint32_t max_levels, uint32_t max_buffered)
{
    book *b = xcalloc(1, sizeof *b);
    b->rules = rules;
    b->state = BOOK_EMPTY;
    book_caps(&max_levels, &max_buffered, &b->side_cap, &b->arena_cap);
    b->max_levels = max_levels;
    b->max_buffered = max_buffered;
    return b;
}

size_t book_memory_max(uint32_t max_levels, uint32_t max_buffered)
{
    uint32_t side_cap, arena_cap;
    book_caps(&max_levels, &max_buffered, &side_cap, &arena_cap);
    /* both sides full and, at the same time, a full sync buffer (headers and level arena) */
    return sizeof(struct book) + 2 * (size_t)side_cap * sizeof(feed_level) +
           (size_t)max_buffered * sizeof(bufdiff) + (size_t)arena_cap * sizeof(feed_level);
}

size_t book_memory(const book *b)
{
    return sizeof *b + ((size_t)b->side[0].alloc + b->side[1].alloc + b->arena_alloc) *
                           sizeof(feed_level) + (size_t)b->hdr_alloc * sizeof(bufdiff);
}

void book_free(book *b)
{
    if (!b)
        return;
    free(b->side[0].lv);
    free(b->side[1].lv);
    free(b->hdr);
    free(b->arena);
    free(b);
}

/* ---------------------------------------------------------------------------------------- */
/* levels                                                                                    */

static inline int64_t lv_key(int side, kdec px)
{
    return side == BOOK_BID ? px : -px;
}

static inline uint32_t side_n(const side_arr *s)
{
    return s->hi - s->lo;
}

static void side_clear(side_arr *s)
{
    s->lo = s->hi = 0;
}

/* Grows the buffer to at least `want` slots (capped at side_cap) and centres the region, so
 * that both ends have free slots. */
static void side_regrow(book *b, side_arr *s, uint32_t want)
{
    if (want > b->side_cap)
        want = b->side_cap;
    uint32_t n = side_n(s);
    if (s->alloc < want) {
        uint32_t na = s->alloc ? s->alloc : BOOK_SIDE_INITIAL;
        while (na < want)
            na = na > b->side_cap / 2 ? b->side_cap : na * 2;
        if (na > b->side_cap)
            na = b->side_cap;
        if (s->lo > 0 && n > 0)
            memmove(s->lv, s->lv + s->lo, (size_t)n * sizeof *s->lv);
        s->lo = 0;
        s->hi = n;
        s->lv = xrealloc(s->lv, (size_t)na * sizeof *s->lv);
        s->alloc = na;
    }
    uint32_t lo = (s->alloc - n) / 2;
    if (lo != s->lo && n > 0)
        memmove(s->lv + lo, s->lv + s->lo, (size_t)n * sizeof *s->lv);
    s->lo = lo;
    s->hi = lo + n;
}

/* Called when one end is out of free slots: doubles the buffer while it is at least half
 * full (up to side_cap), then recentres. Afterwards both ends have a free slot, because
 * n < max_levels < side_cap (slack >= 16) or n + 1 <= alloc / 2. Amortised O(1) per op. */
static void side_make_room(book *b, side_arr *s)
{
    uint32_t n = side_n(s);
    uint32_t want = s->alloc;
    if (s->alloc < b->side_cap && n + 1 > s->alloc / 2)
        want = s->alloc ? s->alloc * 2 : BOOK_SIDE_INITIAL;
    side_regrow(b, s, want);
}

/* First index in [a, z) whose key is >= k (z when none). Branchless (the comparison becomes a
 * conditional move): a diff's levels land anywhere in a 5000-level side, so a branching
 * search mispredicts about half its steps, and this is the hottest loop of a replay. */
static uint32_t side_lower_bound(const side_arr *s, int side, int64_t k, uint32_t a, uint32_t z)
{
    uint32_t n = z - a;
    if (n == 0)
        return a;
    const feed_level *base = s->lv + a;
    const int64_t sgn = side == BOOK_BID ? 1 : -1;
    while (n > 1) {
        uint32_t half = n / 2;
        base = sgn * base[half].px < k ? base + half : base;
        n -= half;
    }
    return (uint32_t)(base - s->lv) + (sgn * base->px < k);
}

/* The same, knowing that every level whose key is < k lies below `bound` (bound <= hi): a
 * galloping search down from bound. The levels of one diff arrive best-first, so each one is
 * found a short way below the previous one. */
static uint32_t side_find(const side_arr *s, int side, int64_t k, uint32_t bound)
{
    uint32_t z = bound, step = 1;
    while (z - s->lo > step && lv_key(side, s->lv[z - step].px) >= k) {
        z -= step;
        step <<= 1;
    }
    return side_lower_bound(s, side, k, z - s->lo > step ? z - step : s->lo, z);
}

/* Sets one level (qty 0 deletes). Inserts and deletes move whichever part of the array is
 * shorter: the better levels toward the top end or the worse ones toward the bottom end.
 * *bound: in, an index every level with a key below px's lies under (hi when unknown); out,
 * the same for the levels below px after the change (the next level of a best-first diff). */
static void side_set(book *b, int side, kdec px, kdec qty, uint32_t *bound)
{
    side_arr *s = &b->side[side];
    int64_t k = lv_key(side, px);
    uint32_t z = *bound > s->hi ? s->hi : *bound < s->lo ? s->lo : *bound;
    uint32_t i = side_find(s, side, k, z);
    bool found = i < s->hi && s->lv[i].px == px;
    *bound = i;
    if (qty == 0) {
        if (!found)
            return; /* deleting a level we do not hold is normal */
        uint32_t below = i - s->lo, above = s->hi - i - 1;
        if (below < above) {
            if (below)
                memmove(s->lv + s->lo + 1, s->lv + s->lo, (size_t)below * sizeof *s->lv);
            s->lo++;
            *bound = i + 1; /* the worse levels moved up by one */
        } else {
            if (above)
                memmove(s->lv + i, s->lv + i + 1, (size_t)above * sizeof *s->lv);
            s->hi--;
        }
        return;
    }
    if (found) {
        s->lv[i].qty = qty;
        return;
    }
    uint32_t below = i - s->lo, above = s->hi - i;
    if (side_n(s) >= b->max_levels) {
        if (below == 0)
            return; /* worse than everything we keep: outside the tracked depth */
        s->lo++;    /* drop the worst level */
        below--;
    }
    if (below < above) {
        if (s->lo == 0)
            side_make_room(b, s);
        if (below)
            memmove(s->lv + s->lo - 1, s->lv + s->lo, (size_t)below * sizeof *s->lv);
        s->lo--;
    } else {
        if (s->hi == s->alloc)
            side_make_room(b, s);
        i = s->lo + below;
        if (above)
            memmove(s->lv + i + 1, s->lv + i, (size_t)above * sizeof *s->lv);
        s->hi++;
    }
    i = s->lo + below;
    s->lv[i].px = px;
    s->lv[i].qty = qty;
    *bound = i;
}

static int cmp_key_bid(const void *a, const void *b)
{
    kdec x = ((const feed_level *)a)->px, y = ((const feed_level *)b)->px;
    return (x > y) - (x < y);
}

static int cmp_key_ask(const void *a, const void *b)
{
    kdec x = ((const feed_level *)a)->px, y = ((const feed_level *)b)->px;
    return (x < y) - (x > y);
}

/* Replaces one side with snapshot levels (best-first as sent; any order tolerated). */
static void side_load(book *b, int side, const feed_level *in, uint32_t n)
{
    side_arr *s = &b->side[side];
    side_clear(s);
    /* fast path: strictly best-first, as Binance sends it */
    bool sorted = true;
    for (uint32_t j = 1; j < n && sorted; j++)
        if (lv_key(side, in[j].px) >= lv_key(side, in[j - 1].px))
            sorted = false;
    if (sorted) {
        uint32_t nz = 0;
        for (uint32_t j = 0; j < n; j++)
            nz += in[j].qty != 0;
        uint32_t keep = K_MIN(nz, b->max_levels);
        side_regrow(b, s, keep + keep / 4 + 2);
        s->lo = (s->alloc - keep) / 2;
        /* take the best `keep` non-zero levels, written worst-first */
        uint32_t taken = 0, j = 0;
        feed_level *tmp = s->lv + s->lo; /* fill [lo, lo + keep) from its end downward */
        for (; j < n && taken < keep; j++) {
            if (in[j].qty == 0)
                continue;
            tmp[keep - 1 - taken] = in[j];
            taken++;
        }
        s->hi = s->lo + keep;
        return;
    }
    /* unsorted or duplicated input (never seen from Binance): sort a copy, last dup wins */
    feed_level *cp = xmalloc((size_t)(n ? n : 1) * sizeof *cp);
    uint32_t m = 0;
    for (uint32_t j = 0; j < n; j++)
        if (in[j].qty != 0)
            cp[m++] = in[j];
    qsort(cp, m, sizeof *cp, side == BOOK_BID ? cmp_key_bid : cmp_key_ask);
    uint32_t u = 0;
    for (uint32_t j = 0; j < m; j++) {
        if (u > 0 && cp[u - 1].px == cp[j].px)
            cp[u - 1] = cp[j];
        else
            cp[u++] = cp[j];
    }
    uint32_t keep = K_MIN(u, b->max_levels);
    side_regrow(b, s, keep + keep / 4 + 2);
    s->lo = (s->alloc - keep) / 2;
    s->hi = s->lo + keep;
    memcpy(s->lv + s->lo, cp + (u - keep), (size_t)keep * sizeof *cp);
    free(cp);
}

static bool levels_valid(const feed_level *lv, uint32_t n)
{
    if (n > 0 && !lv)
        return false;
    for (uint32_t j = 0; j < n; j++)
        if (lv[j].px <= 0 || lv[j].qty < 0)
            return false;
    return true;
}

static void update_crossed(book *b)
{
    const side_arr *bs = &b->side[BOOK_BID], *as = &b->side[BOOK_ASK];
    bool now = side_n(bs) > 0 && side_n(as) > 0 && bs->lv[bs->hi - 1].px >= as->lv[as->hi - 1].px;
    if (now && !b->crossed)
        b->stats.crossed++;
    b->crossed = now;
}

static void apply_levels(book *b, const feed_level *bids, uint32_t nb, const feed_level *asks,
                         uint32_t na)
{
    /* best-first levels (as the exchanges send them) search down from the previous one; a
     * level out of that order searches the whole side */
    uint32_t bound = UINT32_MAX;
    for (uint32_t j = 0; j < nb; j++) {
        if (j && bids[j].px >= bids[j - 1].px)
            bound = UINT32_MAX;
        side_set(b, BOOK_BID, bids[j].px, bids[j].qty, &bound);
    }
    bound = UINT32_MAX;
    for (uint32_t j = 0; j < na; j++) {
        if (j && asks[j].px <= asks[j - 1].px)
            bound = UINT32_MAX;
        side_set(b, BOOK_ASK, asks[j].px, asks[j].qty, &bound);
    }
}

/* ---------------------------------------------------------------------------------------- */
/* buffered diffs                                                                            */

static void buf_clear(book *b)
{
    b->head = b->nbuf = 0;
    b->arena_lo = b->arena_hi = 0;
}

static void buf_drop_oldest(book *b)
{
    b->head++;
    b->nbuf--;
    b->stats.diffs_buffered_dropped++;
    if (b->nbuf == 0) {
        buf_clear(b);
    } else {
        b->arena_lo = b->hdr[b->head].off;
    }
}

static void buf_drop_all(book *b)
{
    b->stats.diffs_buffered_dropped += b->nbuf;
    buf_clear(b);
}

static void arena_compact(book *b)
{
    if (b->arena_lo == 0)
        return;
    uint32_t used = b->arena_hi - b->arena_lo;
    if (used)
        memmove(b->arena, b->arena + b->arena_lo, (size_t)used * sizeof *b->arena);
    for (uint32_t j = 0; j < b->nbuf; j++)
        b->hdr[b->head + j].off -= b->arena_lo;
    b->arena_lo = 0;
    b->arena_hi = used;
}

/* Copies a diff into the buffer (oldest dropped beyond the caps). */
static void buf_push(book *b, const feed_event *d)
{
    uint32_t nb = d->u.depth.nbids, na = d->u.depth.nasks;
    uint64_t k64 = (uint64_t)nb + na;
    if (k64 > b->arena_cap) {
        /* cannot be held at all: everything before it is now useless too (chain broken) */
        buf_drop_all(b);
        b->stats.diffs_buffered_dropped++;
        return;
    }
    uint32_t k = (uint32_t)k64;
    if (b->nbuf == b->max_buffered)
        buf_drop_oldest(b);
    /* headers: room at head + nbuf */
    if (b->head + b->nbuf == b->hdr_alloc) {
        if (b->head > 0) {
            memmove(b->hdr, b->hdr + b->head, (size_t)b->nbuf * sizeof *b->hdr);
            b->head = 0;
        }
        if (b->nbuf == b->hdr_alloc) {
            uint32_t na2 = b->hdr_alloc ? b->hdr_alloc * 2 : BOOK_BUF_INITIAL;
            if (na2 > b->max_buffered)
                na2 = b->max_buffered;
            b->hdr = xrealloc(b->hdr, (size_t)na2 * sizeof *b->hdr);
            b->hdr_alloc = na2;
        }
    }
    /* levels: room for k at arena_hi */
    if (b->arena_hi + k > b->arena_alloc) {
        arena_compact(b);
        while (b->arena_hi + k > b->arena_alloc && b->arena_alloc < b->arena_cap) {
            uint32_t na2 = b->arena_alloc ? b->arena_alloc * 2 : 1024;
            if (na2 > b->arena_cap)
                na2 = b->arena_cap;
            b->arena = xrealloc(b->arena, (size_t)na2 * sizeof *b->arena);
            b->arena_alloc = na2;
        }
        while (b->arena_hi + k > b->arena_alloc && b->nbuf > 0) {
            buf_drop_oldest(b);
            arena_compact(b);
        }
    }
    bufdiff *h = &b->hdr[b->head + b->nbuf];
    h->first_id = d->u.depth.first_id;
    h->last_id = d->u.depth.last_id;
    h->prev_id = d->u.depth.prev_id;
    h->has_prev = d->u.depth.has_prev;
    h->off = b->arena_hi;
    h->nbids = nb;
    h->nasks = na;
    if (nb)
        memcpy(b->arena + b->arena_hi, d->u.depth.bids, (size_t)nb * sizeof *b->arena);
    if (na)
        memcpy(b->arena + b->arena_hi + nb, d->u.depth.asks, (size_t)na * sizeof *b->arena);
    b->arena_hi += k;
    b->nbuf++;
}

/* A diff arrives while not LIVE: keep it (the buffer stays one unbroken chain). */
static enum book_result buffer_diff(book *b, const feed_event *d)
{
    if (b->state == BOOK_EMPTY)
        b->state = BOOK_SYNCING;
    if (b->rules == BOOK_RULES_OKX && b->nbuf > 0) {
        const bufdiff *last = &b->hdr[b->head + b->nbuf - 1];
        if (d->u.depth.last_id == last->last_id && d->u.depth.prev_id == last->prev_id) {
            b->stats.diffs_stale++;
            return BOOK_STALE; /* the same update delivered twice */
        }
        if (d->u.depth.prev_id != last->last_id)
            buf_drop_all(b);
    } else if (b->nbuf > 0) {
        const bufdiff *last = &b->hdr[b->head + b->nbuf - 1];
        if (d->u.depth.last_id <= last->last_id) {
            b->stats.diffs_stale++;
            return BOOK_STALE;
        }
        bool broken = b->rules == BOOK_RULES_BINANCE_SPOT
                          ? d->u.depth.first_id > last->last_id + 1
                          : d->u.depth.prev_id != last->last_id;
        if (broken)
            buf_drop_all(b);
    }
    buf_push(b, d);
    return BOOK_BUFFERED;
}

/* ---------------------------------------------------------------------------------------- */
/* live application                                                                          */

static void go_resyncing(book *b)
{
    side_clear(&b->side[BOOK_BID]);
    side_clear(&b->side[BOOK_ASK]);
    b->state = BOOK_RESYNCING;
    b->crossed = false;
    b->first_pending = false;
}

/* OKX's per-event rule (seq = seqId, prev = prevSeqId): APPLIED means "apply it". */
static enum book_result book_okx_check(const book *b, int64_t seq, int64_t prev)
{
    int64_t id = b->id;
    if (prev == id)
        return BOOK_APPLIED; /* normal, heartbeat (seq == prev) or maintenance reset (seq < prev) */
    if (b->first_pending) {
        if (prev < id && id < seq)
            return BOOK_APPLIED; /* the snapshot lies inside this update */
        if (seq <= id)
            return BOOK_STALE; /* already contained in the snapshot */
        return BOOK_GAP;
    }
    if (seq == id)
        return BOOK_STALE; /* a repeat of the last update */
    return BOOK_GAP;
}

/* OKX sync of the buffer against snapshot seqId L: K_OK to load it, K_ERR = too old. */
static int book_okx_sync_buffer(book *b, int64_t L)
{
    if (b->nbuf == 0)
        return K_OK;
    if (L < b->hdr[b->head].prev_id)
        return K_ERR; /* the buffer starts after the snapshot: fetch another */
    while (b->nbuf > 0 && b->hdr[b->head].last_id <= L)
        buf_drop_oldest(b);
    if (b->nbuf > 0) {
        const bufdiff *h = &b->hdr[b->head];
        if (!(h->prev_id <= L && L < h->last_id))
            return K_ERR;
    }
    return K_OK;
}

/* The per-event rule on a LIVE book. Returns APPLIED, STALE or GAP; applies nothing on GAP. */
static enum book_result live_apply(book *b, int64_t U, int64_t u, int64_t pu,
                                   const feed_level *bids, uint32_t nb, const feed_level *asks,
                                   uint32_t na)
{
    int64_t id = b->id;
    bool spot = b->rules == BOOK_RULES_BINANCE_SPOT;
    if (b->rules == BOOK_RULES_OKX) {
        enum book_result r = book_okx_check(b, u, pu);
        if (r != BOOK_APPLIED)
            return r;
    } else if (b->first_pending) {
        if (spot) {
            if (u <= id)
                return BOOK_STALE;
            if (!(U <= id + 1 && id + 1 <= u))
                return BOOK_GAP;
        } else {
            if (u < id)
                return BOOK_STALE;
            /* the documented U <= id <= u, or the diff that directly follows the snapshot's id
             * (pu == id: a snapshot taken between two events, e.g. a recording's own line) */
            if (!(U <= id && id <= u) && pu != id)
                return BOOK_GAP;
        }
    } else if (spot) {
        if (u < id)
            return BOOK_STALE;
        if (id < INT64_MAX && U > id + 1) /* ids come from the feed: id + 1 may not exist */
            return BOOK_GAP;
    } else {
        if (u <= id)
            return BOOK_STALE;
        if (pu != id)
            return BOOK_GAP;
    }
    apply_levels(b, bids, nb, asks, na);
    b->id = u;
    b->first_pending = false;
    b->stats.diffs_applied++;
    update_crossed(b);
    return BOOK_APPLIED;
}

enum book_result book_on_diff(book *b, const feed_event *d)
{
    int64_t U = d->u.depth.first_id, u = d->u.depth.last_id;
    bool usdm = b->rules == BOOK_RULES_BINANCE_USDM || b->rules == BOOK_RULES_OKX;
    if (d->kind != FEED_DEPTH_DIFF || U > u || (usdm && !d->u.depth.has_prev) ||
        !levels_valid(d->u.depth.bids, d->u.depth.nbids) ||
        !levels_valid(d->u.depth.asks, d->u.depth.nasks)) {
        b->stats.rejected++;
        return BOOK_REJECTED;
    }
    if (b->state != BOOK_LIVE)
        return buffer_diff(b, d);
    enum book_result r = live_apply(b, U, u, d->u.depth.prev_id, d->u.depth.bids,
                                    d->u.depth.nbids, d->u.depth.asks, d->u.depth.nasks);
    if (r == BOOK_STALE) {
        b->stats.diffs_stale++;
    } else if (r == BOOK_GAP) {
        b->stats.gaps++;
        go_resyncing(b);
        buf_clear(b);
        buf_push(b, d); /* the diff that showed the gap starts the new buffer */
    }
    return r;
}

enum book_result book_on_snapshot(book *b, const feed_event *snap)
{
    int64_t L = snap->u.depth.last_id;
    if (snap->kind != FEED_DEPTH_SNAPSHOT || L < 0 ||
        !levels_valid(snap->u.depth.bids, snap->u.depth.nbids) ||
        !levels_valid(snap->u.depth.asks, snap->u.depth.nasks)) {
        b->stats.rejected++;
        return BOOK_REJECTED;
    }
    b->stats.snapshots++;
    bool spot = b->rules == BOOK_RULES_BINANCE_SPOT;

    if (b->state == BOOK_LIVE) {
        /* a refresh of a live book: never go backwards */
        if (L < b->id)
            return BOOK_SNAPSHOT_OLD;
    } else if (b->rules == BOOK_RULES_OKX) {
        if (book_okx_sync_buffer(b, L) != K_OK)
            return BOOK_SNAPSHOT_OLD;
    } else if (b->nbuf > 0) {
        const bufdiff *first = &b->hdr[b->head];
        if (spot && L < first->first_id)
            return BOOK_SNAPSHOT_OLD; /* step 3: too old, fetch another */
        while (b->nbuf > 0) {
            const bufdiff *h = &b->hdr[b->head];
            if (spot ? h->last_id <= L : h->last_id < L)
                buf_drop_oldest(b);
            else
                break;
        }
        if (b->nbuf > 0) {
            const bufdiff *h = &b->hdr[b->head];
            bool ok = spot ? (h->first_id <= L + 1 && L + 1 <= h->last_id)
                           : (h->first_id <= L && L <= h->last_id);
            if (!ok)
                return BOOK_SNAPSHOT_OLD;
        }
    }

    bool was_resyncing = b->state == BOOK_RESYNCING;
    /* a live book refreshed at exactly its own id (a recording's snapshot line of this very
     * book) keeps its chain: the next diff continues it as before */
    bool same_point = b->state == BOOK_LIVE && L == b->id && !b->first_pending;
    side_load(b, BOOK_BID, snap->u.depth.bids, snap->u.depth.nbids);
    side_load(b, BOOK_ASK, snap->u.depth.asks, snap->u.depth.nasks);
    b->id = L;
    b->first_pending = !same_point;
    b->state = BOOK_LIVE;
    b->crossed = false;
    update_crossed(b);

    /* replay the buffer through the per-event rule */
    while (b->nbuf > 0) {
        const bufdiff *h = &b->hdr[b->head];
        const feed_level *lv = b->arena + h->off;
        enum book_result r = live_apply(b, h->first_id, h->last_id, h->prev_id, lv, h->nbids,
                                        lv + h->nbids, h->nasks);
        if (r == BOOK_GAP) {
            /* cannot happen on a contiguous buffer; handled anyway: keep the rest buffered */
            b->stats.gaps++;
            go_resyncing(b);
            return BOOK_GAP;
        }
        if (r == BOOK_STALE)
            b->stats.diffs_stale++;
        b->head++;
        b->nbuf--;
        if (b->nbuf > 0)
            b->arena_lo = b->hdr[b->head].off;
    }
    buf_clear(b);
    if (b->hdr_alloc > BOOK_BUF_KEEP) {
        free(b->hdr);
        b->hdr = NULL;
        b->hdr_alloc = 0;
    }
    if (b->arena_alloc > BOOK_ARENA_KEEP) {
        free(b->arena);
        b->arena = NULL;
        b->arena_alloc = 0;
    }
    if (was_resyncing)
        b->stats.resyncs++;
    return BOOK_SYNCED;
}

void book_invalidate(book *b)
{
    buf_drop_all(b);
    go_resyncing(b);
}

/* ---------------------------------------------------------------------------------------- */
/* queries                                                                                   */

enum book_state book_state(const book *b)
{
    return b->state;
}

bool book_is_live(const book *b)
{
    return b->state == BOOK_LIVE;
}

bool book_is_crossed(const book *b)
{
    return b->state == BOOK_LIVE && b->crossed;
}

int64_t book_last_id(const book *b)
{
    return b->id;
}

const book_stats *book_get_stats(const book *b)
{
    return &b->stats;
}

uint32_t book_buffered(const book *b)
{
    return b->nbuf;
}

uint32_t book_depth(const book *b, enum book_side side)
{
    if (b->state != BOOK_LIVE || (unsigned)side > BOOK_ASK)
        return 0;
    return side_n(&b->side[side]);
}

int book_level(const book *b, enum book_side side, uint32_t i, kdec *px, kdec *qty)
{
    if (i >= book_depth(b, side))
        return K_ERR;
    const side_arr *s = &b->side[side];
    const feed_level *l = &s->lv[s->hi - 1 - i];
    if (px)
        *px = l->px;
    if (qty)
        *qty = l->qty;
    return K_OK;
}

bool book_best(const book *b, kdec *bid, kdec *bid_qty, kdec *ask, kdec *ask_qty)
{
    if (book_depth(b, BOOK_BID) == 0 || book_depth(b, BOOK_ASK) == 0)
        return false;
    book_level(b, BOOK_BID, 0, bid, bid_qty);
    book_level(b, BOOK_ASK, 0, ask, ask_qty);
    return true;
}

kdec book_depth_qty(const book *b, enum book_side side, uint32_t n)
{
    uint32_t d = book_depth(b, side);
    if (n > d)
        n = d;
    const side_arr *s = &b->side[side];
    kdec sum = 0;
    for (uint32_t j = 0; j < n; j++) {
        kdec q = s->lv[s->hi - 1 - j].qty;
        sum = q > KDEC_MAX - sum ? KDEC_MAX : sum + q; /* saturate, never wrap */
    }
    return sum;
}
