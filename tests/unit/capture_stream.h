/* Test helpers on top of capture_cjson.h: owned deep copies of events (a reader's events
 * point into its scratch), a cached stream over several capture files in order (the 08 file
 * then the 09 file), and a snapshot built from a live book's levels (a real book state at a
 * real id, used where a test needs a second snapshot the capture does not contain). */
#ifndef KESTREL_TEST_CAPTURE_STREAM_H
#define KESTREL_TEST_CAPTURE_STREAM_H

#include "capture_cjson.h"
#include "kestrel/book.h"

typedef struct owned_ev {
    feed_event ev;
    feed_level *lv;
} owned_ev;

static inline void own_free(owned_ev *o)
{
    free(o->lv);
    memset(o, 0, sizeof *o);
}

static inline void own(owned_ev *o, const feed_event *ev)
{
    own_free(o);
    o->ev = *ev;
    if (ev->kind == FEED_DEPTH_DIFF || ev->kind == FEED_DEPTH_SNAPSHOT) {
        uint32_t nb = ev->u.depth.nbids, na = ev->u.depth.nasks;
        o->lv = malloc(((size_t)nb + na + 1) * sizeof *o->lv);
        memcpy(o->lv, ev->u.depth.bids, nb * sizeof *o->lv);
        memcpy(o->lv + nb, ev->u.depth.asks, na * sizeof *o->lv);
        o->ev.u.depth.bids = o->lv;
        o->ev.u.depth.asks = o->lv + nb;
    }
}

/* Decoded captures are cached per file set for the life of the test binary: several tests
 * replay the same capture and cJSON (under ASan especially) dominates the run time otherwise.
 * cap_cache_free() at the end of main keeps LeakSanitizer quiet. */
typedef struct cap_cached {
    const char *f1, *f2;
    enum venue venue;
    owned_ev *ev;
    size_t n;
    uint64_t errors;
} cap_cached;

typedef struct cap_cache {
    cap_cached sets[8];
    int nsets;
} cap_cache;

static inline cap_cache *cap_cache_get(void)
{
    static cap_cache cache; /* test-only state */
    return &cache;
}

static inline void cap_cache_free(void)
{
    cap_cache *c = cap_cache_get();
    for (int i = 0; i < c->nsets; i++) {
        for (size_t j = 0; j < c->sets[i].n; j++)
            own_free(&c->sets[i].ev[j]);
        free(c->sets[i].ev);
    }
    memset(c, 0, sizeof *c);
}

static inline bool same_name(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static inline const cap_cached *cap_load(enum venue v, const char *symbol, const char *f1,
                                         const char *f2)
{
    cap_cache *c = cap_cache_get();
    for (int i = 0; i < c->nsets; i++)
        if (c->sets[i].venue == v && same_name(c->sets[i].f1, f1) &&
            same_name(c->sets[i].f2, f2))
            return &c->sets[i];
    if (c->nsets == (int)K_ARRAY_LEN(c->sets))
        return NULL;
    cap_cached *set = &c->sets[c->nsets++];
    memset(set, 0, sizeof *set);
    set->f1 = f1;
    set->f2 = f2;
    set->venue = v;
    size_t cap = 0;
    const char *files[2] = {f1, f2};
    for (int f = 0; f < 2 && files[f]; f++) {
        cap_reader r;
        if (cap_open(&r, files[f], v, symbol) != 0) {
            set->errors++;
            continue;
        }
        feed_event ev;
        int rc;
        while ((rc = cap_next(&r, &ev)) != 0) {
            if (rc < 0)
                continue;
            if (set->n == cap) {
                cap = cap ? cap * 2 : 65536;
                set->ev = realloc(set->ev, cap * sizeof *set->ev);
            }
            memset(&set->ev[set->n], 0, sizeof set->ev[set->n]);
            own(&set->ev[set->n++], &ev);
        }
        set->errors += r.errors;
        cap_close(&r);
    }
    return set;
}

/* A stream over several capture files in order (the 08 file then the 09 file). */
typedef struct cap_stream {
    const cap_cached *set;
    size_t pos;
    uint64_t errors;
} cap_stream;

static inline void stream_init(cap_stream *s, enum venue v, const char *symbol, const char *f1,
                               const char *f2)
{
    memset(s, 0, sizeof *s);
    s->set = cap_load(v, symbol, f1, f2);
    s->errors = s->set ? s->set->errors : 1;
}

/* 1 = event (valid until the test binary ends), 0 = end of all files */
static inline int stream_next(cap_stream *s, feed_event *ev)
{
    if (!s->set || s->pos >= s->set->n)
        return 0;
    *ev = s->set->ev[s->pos++].ev;
    return 1;
}

static inline void stream_close(cap_stream *s)
{
    s->set = NULL;
}

/* A snapshot event holding every level of a LIVE book, best first, lastUpdateId = its id. */
static inline void own_snapshot_of(owned_ev *o, const book *b, const char *symbol)
{
    own_free(o);
    uint32_t nb = book_depth(b, BOOK_BID), na = book_depth(b, BOOK_ASK);
    o->lv = malloc(((size_t)nb + na + 1) * sizeof *o->lv);
    for (uint32_t i = 0; i < nb; i++)
        book_level(b, BOOK_BID, i, &o->lv[i].px, &o->lv[i].qty);
    for (uint32_t i = 0; i < na; i++)
        book_level(b, BOOK_ASK, i, &o->lv[nb + i].px, &o->lv[nb + i].qty);
    o->ev.kind = FEED_DEPTH_SNAPSHOT;
    snprintf(o->ev.symbol, sizeof o->ev.symbol, "%s", symbol);
    o->ev.u.depth.first_id = o->ev.u.depth.last_id = book_last_id(b);
    o->ev.u.depth.bids = o->lv;
    o->ev.u.depth.asks = o->lv + nb;
    o->ev.u.depth.nbids = nb;
    o->ev.u.depth.nasks = na;
}

/* true when both books are live with identical levels on both sides */
static inline bool books_equal(const book *a, const book *b)
{
    if (!book_is_live(a) || !book_is_live(b))
        return false;
    for (int side = 0; side < 2; side++) {
        uint32_t n = book_depth(a, (enum book_side)side);
        if (n != book_depth(b, (enum book_side)side))
            return false;
        for (uint32_t i = 0; i < n; i++) {
            kdec p1, q1, p2, q2;
            book_level(a, (enum book_side)side, i, &p1, &q1);
            book_level(b, (enum book_side)side, i, &p2, &q2);
            if (p1 != p2 || q1 != q2)
                return false;
        }
    }
    return true;
}

#define SPOT_BTC_08 "binance/streams/spot/btcusdt_20240808.gz"
#define SPOT_BTC_09 "binance/streams/spot/btcusdt_20240809.gz"
#define SPOT_ETH_08 "binance/streams/spot/ethusdt_20240808.gz"
#define SPOT_ETH_09 "binance/streams/spot/ethusdt_20240809.gz"
#define USDM_BTC_08 "binance/streams/usdm/btcusdt_20240808.gz"
#define USDM_ETH_08 "binance/streams/usdm/ethusdt_20240808.gz"

#endif
