/* OHLCV candles of one timeframe: a bounded ring of closed bars plus the forming bar.
 *
 * Bars are UTC-aligned (open = floor(t / tf) * tf; every supported timeframe divides a day).
 * The forming bar closes when a trade (or lower-timeframe bar) of a later bar arrives, or when
 * the data clock passes its end (candles_advance). Periods without trades become bars that
 * carry the previous close with zero volume, as Binance's own klines do; when a trade then
 * arrives in such a bar its open is that trade's price (Binance: open = first trade). Gap
 * filling is bounded: at most `cap` fill bars are produced at once (older ones would fall out
 * of the ring anyway), so a data clock that jumps a year ahead costs O(cap), not O(gap).
 * Filling happens only between bars built here from live data: the gap between seeded history
 * (candles_load) and the first live bar is left as it is, since nothing is known about it.
 *
 * Memory: the ring grows by doubling up to `cap` bars (72 bytes each) and then wraps, so
 * high timeframes that hold few bars use little. Nothing allocates once the ring is full.
 *
 * Exactness: volume and buy volume are kdec sums; quote_volume = sum(px * qty) is accumulated
 * exactly in __int128 (1e-16 quote units) for the forming bar and scaled back to kdec by
 * truncation (so a bar's quote volume is at most 1e-8 below the exact sum). Aggregated bars
 * (candles_on_bar) sum the lower bars' already truncated quote volumes. Sums saturate at
 * KDEC_MAX instead of wrapping (a 1d bar of a meme coin can exceed 9.2e10 base units).
 *
 * Partial bars: the first bar a series builds is flagged CANDLE_PARTIAL when its period began
 * before the series' data did (the data does not start at its open; stored history holds only
 * closed bars, so it never covers the start of the bar the new data opens in): the first 1h bar
 * of a replay that starts at 23:54 holds six minutes, not an hour.
 * Gap-filled and later bars are whole. A partial lower bar makes its higher bar partial.
 *
 * Late trades (older than the forming bar) are counted with their volume, so every timeframe's
 * bars plus its late volume add up to the traded volume.
 *
 * Rejected input (time before 1970 or after 9999, px <= 0, qty < 0, a lower bar that does not
 * fit inside one bar) is ignored and counted with the late trades. Seeded history is held to
 * the same rules (prices > 0, o and c within [l, h], volumes >= 0): a bar that breaks them is
 * skipped, so the panes and indicators only ever see bars this module could have built. */
#include "kestrel/candles.h"

#include "kestrel/xmalloc.h"

#include <stdlib.h>
#include <string.h>

#define CANDLES_MAX_MS 253402300799999LL /* 9999-12-31T23:59:59.999Z */
#define CANDLES_RING_INITIAL 64u

static const int64_t tf_ms_tab[TF_COUNT] = {
    1000LL, 60000LL, 300000LL, 900000LL, 3600000LL, 14400000LL, 86400000LL,
};
static const char *const tf_names[TF_COUNT] = {"1s", "1m", "5m", "15m", "1h", "4h", "1d"};

int64_t tf_ms(enum tf tf)
{
    return (unsigned)tf < TF_COUNT ? tf_ms_tab[tf] : 0;
}

const char *tf_name(enum tf tf)
{
    return (unsigned)tf < TF_COUNT ? tf_names[tf] : "?";
}

int tf_parse(const char *name, enum tf *out)
{
    if (!name)
        return K_ERR;
    for (int i = 0; i < TF_COUNT; i++) {
        if (strcmp(name, tf_names[i]) == 0) {
            *out = (enum tf)i;
            return K_OK;
        }
    }
    return K_ERR;
}

int tf_parse_kline(const char *name, enum tf *out)
{
    static const struct {
        const char *name;
        enum tf tf;
    } okx[] = {{"1H", TF_1H}, {"4H", TF_4H}, {"1Dutc", TF_1D}};
    if (tf_parse(name, out) == K_OK)
        return K_OK;
    for (size_t i = 0; name && i < sizeof okx / sizeof okx[0]; i++) {
        if (strcmp(name, okx[i].name) == 0) {
            *out = okx[i].tf;
            return K_OK;
        }
    }
    return K_ERR;
}

struct candles {
    enum tf tf;
    int64_t ms;
    uint32_t cap;
    candle *ring;
    uint32_t alloc, start, count; /* closed bars: ring[(start + i) % alloc], i < count */

    bool has_forming;
    bool fdata;          /* the forming bar holds at least one trade / non-empty lower bar */
    candle forming;
    __int128 quote_acc; /* exact sum px*qty of the forming bar, 1e-16 quote units */

    uint64_t total_closed, late;
    kdec late_volume;
};

static const __int128 QUOTE_ACC_MAX = (__int128)KDEC_MAX * KDEC_SCALE;

candles *candles_new(enum tf tf, uint32_t cap)
{
    if ((unsigned)tf >= TF_COUNT)
        return NULL;
    candles *c = xcalloc(1, sizeof *c);
    c->tf = tf;
    c->ms = tf_ms_tab[tf];
    c->cap = cap ? cap : 1;
    return c;
}

void candles_free(candles *c)
{
    if (!c)
        return;
    free(c->ring);
    free(c);
}

size_t candles_memory_max(uint32_t cap)
{
    return sizeof(struct candles) + (size_t)(cap ? cap : 1) * sizeof(candle);
}

uint32_t candles_cap(const candles *c)
{
    return c->cap;
}

size_t candles_memory(const candles *c)
{
    return sizeof *c + (size_t)c->alloc * sizeof(candle);
}

enum tf candles_tf(const candles *c)
{
    return c->tf;
}

static inline kdec sat_add(kdec a, kdec b)
{
    if (b > 0 && a > KDEC_MAX - b)
        return KDEC_MAX;
    if (b < 0 && a < -KDEC_MAX - b)
        return -KDEC_MAX;
    return a + b;
}

static inline int64_t align_down(int64_t t, int64_t ms)
{
    return t - t % ms; /* t >= 0 */
}

/* Appends a closed bar (dropping the oldest at cap); returns where it now lives. */
static const candle *ring_push(candles *c, const candle *bar)
{
    if (c->count < c->cap) {
        if (c->count == c->alloc) { /* never wrapped yet: start == 0, a plain grow is enough */
            uint32_t na = c->alloc ? c->alloc * 2 : CANDLES_RING_INITIAL;
            if (na > c->cap)
                na = c->cap;
            c->ring = xrealloc(c->ring, (size_t)na * sizeof *c->ring);
            c->alloc = na;
        }
        candle *slot = &c->ring[(c->start + c->count) % c->alloc];
        *slot = *bar;
        c->count++;
        return slot;
    }
    candle *slot = &c->ring[c->start];
    *slot = *bar;
    c->start = c->start + 1 == c->alloc ? 0 : c->start + 1;
    return slot;
}

static void forming_reset(candles *c, int64_t open_ms, kdec carry)
{
    memset(&c->forming, 0, sizeof c->forming);
    c->forming.open_ms = open_ms;
    c->forming.o = c->forming.h = c->forming.l = c->forming.c = carry;
    c->fdata = false;
    c->quote_acc = 0;
    c->has_forming = true;
}

static int close_bar(candles *c, const candle *bar, candles_closed_fn fn, void *ud)
{
    const candle *stored = ring_push(c, bar);
    c->total_closed++;
    if (fn)
        fn(ud, c->tf, stored);
    return 1;
}

/* Closes the forming bar, fills the empty periods up to target_open (at most cap of them) and
 * opens an empty forming bar at target_open carrying the last close. target > forming open. */
static int roll_to(candles *c, int64_t target_open, candles_closed_fn fn, void *ud)
{
    int closed = close_bar(c, &c->forming, fn, ud);
    kdec carry = c->forming.c;
    int64_t next = c->forming.open_ms + c->ms;
    int64_t nfill = (target_open - next) / c->ms;
    if (nfill > (int64_t)c->cap) {
        next += (nfill - (int64_t)c->cap) * c->ms;
        nfill = c->cap;
    }
    candle fill;
    memset(&fill, 0, sizeof fill);
    fill.o = fill.h = fill.l = fill.c = carry;
    for (int64_t k = 0; k < nfill; k++) {
        fill.open_ms = next;
        closed += close_bar(c, &fill, fn, ud);
        next += c->ms;
    }
    forming_reset(c, target_open, carry);
    return closed;
}

/* Positions the forming bar on open_ms. Returns bars closed, or -1 when the time is late.
 * data_ms is the time of the first data in it: the very first bar is partial unless the data
 * starts at its open. */
static int seek(candles *c, int64_t open_ms, int64_t data_ms, kdec carry, candles_closed_fn fn,
                void *ud)
{
    if (c->has_forming) {
        if (open_ms < c->forming.open_ms)
            return -1;
        if (open_ms > c->forming.open_ms)
            return roll_to(c, open_ms, fn, ud);
        return 0;
    }
    if (c->count > 0 && open_ms < candles_last(c)->open_ms + c->ms)
        return -1; /* inside seeded history */
    forming_reset(c, open_ms, carry);
    if (data_ms != open_ms) /* whatever history says, this bar's start was not seen */
        c->forming.flags |= CANDLE_PARTIAL;
    return 0;
}

int candles_on_trade(candles *c, int64_t time_ms, kdec px, kdec qty, bool buyer_maker,
                     candles_closed_fn fn, void *ud)
{
    if (time_ms < 0 || time_ms > CANDLES_MAX_MS || px <= 0 || qty < 0) {
        c->late++;
        return 0;
    }
    int closed = seek(c, align_down(time_ms, c->ms), time_ms, px, fn, ud);
    if (closed < 0) {
        c->late++;
        c->late_volume = sat_add(c->late_volume, qty);
        return 0;
    }
    candle *f = &c->forming;
    if (!c->fdata) {
        f->o = f->h = f->l = f->c = px;
        c->fdata = true;
    } else {
        if (px > f->h)
            f->h = px;
        if (px < f->l)
            f->l = px;
        f->c = px;
    }
    f->volume = sat_add(f->volume, qty);
    if (!buyer_maker)
        f->buy_volume = sat_add(f->buy_volume, qty);
    c->quote_acc += (__int128)px * qty;
    if (c->quote_acc > QUOTE_ACC_MAX)
        c->quote_acc = QUOTE_ACC_MAX;
    f->quote_volume = (kdec)(c->quote_acc / KDEC_SCALE);
    if (f->trades < UINT32_MAX)
        f->trades++;
    return closed;
}

int candles_on_bar(candles *c, const candle *lower, int64_t lower_ms, candles_closed_fn fn,
                   void *ud)
{
    int64_t t = lower->open_ms;
    if (lower_ms <= 0 || lower_ms > c->ms || t < 0 || t > CANDLES_MAX_MS - lower_ms ||
        align_down(t, c->ms) != align_down(t + lower_ms - 1, c->ms) || lower->l > lower->h) {
        c->late++;
        return 0;
    }
    int closed = seek(c, align_down(t, c->ms), t, lower->c, fn, ud);
    if (closed < 0) {
        c->late++;
        c->late_volume = sat_add(c->late_volume, lower->volume);
        return 0;
    }
    candle *f = &c->forming;
    if (lower->flags & CANDLE_PARTIAL)
        f->flags |= CANDLE_PARTIAL;
    bool has_trades = lower->volume != 0 || lower->trades != 0;
    if (has_trades) {
        if (!c->fdata) {
            f->o = lower->o;
            f->h = lower->h;
            f->l = lower->l;
            c->fdata = true;
        } else {
            if (lower->h > f->h)
                f->h = lower->h;
            if (lower->l < f->l)
                f->l = lower->l;
        }
        f->c = lower->c;
        f->volume = sat_add(f->volume, lower->volume);
        f->buy_volume = sat_add(f->buy_volume, lower->buy_volume);
        c->quote_acc += (__int128)lower->quote_volume * KDEC_SCALE;
        if (c->quote_acc > QUOTE_ACC_MAX)
            c->quote_acc = QUOTE_ACC_MAX;
        f->quote_volume = (kdec)(c->quote_acc / KDEC_SCALE);
        uint64_t tr = (uint64_t)f->trades + lower->trades;
        f->trades = tr > UINT32_MAX ? UINT32_MAX : (uint32_t)tr;
    }
    /* the lower bar's end is a data-clock reading: the last lower bar closes this one */
    return closed + candles_advance(c, t + lower_ms, fn, ud);
}

int candles_advance(candles *c, int64_t now_ms, candles_closed_fn fn, void *ud)
{
    if (!c->has_forming)
        return 0; /* no live data yet: nothing to close or carry */
    if (now_ms > CANDLES_MAX_MS)
        now_ms = CANDLES_MAX_MS;
    if (now_ms < c->forming.open_ms + c->ms)
        return 0;
    return roll_to(c, align_down(now_ms, c->ms), fn, ud);
}

void candles_load(candles *c, const candle *bars, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        const candle *b = &bars[i];
        if (b->open_ms < 0 || b->open_ms > CANDLES_MAX_MS || b->open_ms % c->ms != 0)
            continue; /* not a bar of this timeframe */
        if (b->l <= 0 || b->h < b->l || b->o < b->l || b->o > b->h || b->c < b->l ||
            b->c > b->h || b->volume < 0 || b->buy_volume < 0 || b->quote_volume < 0)
            continue; /* not a bar this module builds (a corrupt or foreign store row) */
        if (c->count > 0 && b->open_ms <= candles_last(c)->open_ms)
            continue; /* not strictly after what is held */
        if (c->has_forming && b->open_ms >= c->forming.open_ms)
            continue; /* live data already covers it */
        ring_push(c, b);
    }
}

static bool candles_sane(const candles *c, const candle *b)
{
    return b->open_ms >= 0 && b->open_ms <= CANDLES_MAX_MS && b->open_ms % c->ms == 0 &&
           b->l > 0 && b->h >= b->l && b->o >= b->l && b->o <= b->h && b->c >= b->l &&
           b->c <= b->h && b->volume >= 0 && b->buy_volume >= 0 && b->quote_volume >= 0;
}

uint32_t candles_load_older(candles *c, const candle *bars, uint32_t n)
{
    int64_t limit = c->count ? candles_get(c, 0)->open_ms
                    : c->has_forming ? c->forming.open_ms
                                     : INT64_MAX;
    candle *all = xmalloc(((size_t)n + c->count + 1) * sizeof *all);
    uint32_t k = 0;
    for (uint32_t i = 0; i < n; i++) {
        const candle *b = &bars[i];
        if (!candles_sane(c, b) || b->open_ms >= limit || (k && b->open_ms <= all[k - 1].open_ms))
            continue;
        all[k++] = *b;
    }
    uint32_t added = k;
    if (added) {
        for (uint32_t i = 0; i < c->count; i++)
            all[k++] = *candles_get(c, i);
        c->start = c->count = 0; /* refill oldest first: the ring keeps the newest cap bars */
        for (uint32_t i = 0; i < k; i++)
            ring_push(c, &all[i]);
    }
    free(all);
    return added;
}

/* Copies the exchange's bar over a held one; 1 when OHLCV differed. */
static int candles_take(candle *held, const candle *bar)
{
    bool diff = held->o != bar->o || held->h != bar->h || held->l != bar->l ||
                held->c != bar->c || held->volume != bar->volume;
    if (!diff && !(held->flags & CANDLE_PARTIAL))
        return 0;
    candle n = *bar;
    if (n.trades == 0)
        n.trades = held->trades;
    if (n.buy_volume == 0 && held->buy_volume <= n.volume)
        n.buy_volume = held->buy_volume;
    n.flags = held->flags & ~CANDLE_PARTIAL;
    *held = n;
    return diff ? 1 : 0;
}

int candles_replace(candles *c, const candle *bar)
{
    if (!candles_sane(c, bar))
        return -1;
    const candle *h = candles_find(c, bar->open_ms);
    if (!h)
        return -1;
    return candles_take((candle *)h, bar); /* the ring is ours: find only hands it out const */
}

uint32_t candles_merge(candles *c, const candle *bars, uint32_t n, uint32_t *replaced)
{
    int64_t limit = c->has_forming ? c->forming.open_ms : INT64_MAX;
    uint32_t rep = 0, added = 0;
    candle *all = xmalloc(((size_t)n + c->count + 1) * sizeof *all);
    uint32_t k = 0, i = 0, j = 0;
    int64_t prev = INT64_MIN;
    while (i < c->count || j < n) {
        const candle *h = i < c->count ? candles_get(c, i) : NULL;
        const candle *b = j < n ? &bars[j] : NULL;
        if (b && (!candles_sane(c, b) || b->open_ms >= limit || b->open_ms <= prev)) {
            j++;
            continue;
        }
        if (h && (!b || h->open_ms < b->open_ms)) {
            all[k++] = *h;
            i++;
        } else if (h && h->open_ms == b->open_ms) {
            all[k] = *h;
            rep += (uint32_t)candles_take(&all[k], b);
            k++;
            i++;
            j++;
        } else {
            all[k++] = *b;
            added++;
            j++;
        }
        prev = all[k - 1].open_ms;
    }
    c->start = c->count = 0; /* refill oldest first: the ring keeps the newest cap bars */
    for (uint32_t x = 0; x < k; x++)
        ring_push(c, &all[x]);
    free(all);
    if (replaced)
        *replaced = rep;
    return added;
}

uint32_t candles_count(const candles *c)
{
    return c->count;
}

const candle *candles_get(const candles *c, uint32_t i)
{
    if (i >= c->count)
        return NULL;
    return &c->ring[(c->start + i) % c->alloc];
}

const candle *candles_find(const candles *c, int64_t open_ms)
{
    uint32_t lo = 0, hi = c->count; /* held bars: open times strictly increasing */
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        const candle *b = candles_get(c, mid);
        if (b->open_ms == open_ms)
            return b;
        if (b->open_ms < open_ms)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

const candle *candles_last(const candles *c)
{
    return c->count ? candles_get(c, c->count - 1) : NULL;
}

const candle *candles_forming(const candles *c)
{
    return c->has_forming ? &c->forming : NULL;
}

uint64_t candles_total_closed(const candles *c)
{
    return c->total_closed;
}

uint64_t candles_late(const candles *c)
{
    return c->late;
}

kdec candles_late_volume(const candles *c)
{
    return c->late_volume;
}
