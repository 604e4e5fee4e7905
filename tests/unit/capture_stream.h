/* Test helpers on top of capture_cjson.h: a stream over several capture files in order (the
 * 08 file then the 09 file), owned deep copies of events (a reader's events point into its
 * scratch), and a snapshot built from a live book's levels (a real book state at a real id,
 * used where a test needs a second snapshot the capture does not contain). */
#ifndef KESTREL_TEST_CAPTURE_STREAM_H
#define KESTREL_TEST_CAPTURE_STREAM_H

#include "capture_cjson.h"
#include "kestrel/book.h"

typedef struct cap_stream {
    const char *files[4];
    int nf, cur;
    bool open;
    enum venue venue;
    const char *symbol;
    cap_reader r;
    uint64_t errors;
} cap_stream;

static inline void stream_init(cap_stream *s, enum venue v, const char *symbol, const char *f1,
                        const char *f2)
{
    memset(s, 0, sizeof *s);
    s->venue = v;
    s->symbol = symbol;
    s->files[s->nf++] = f1;
    if (f2)
        s->files[s->nf++] = f2;
}

/* 1 = event, 0 = end of all files */
static inline int stream_next(cap_stream *s, feed_event *ev)
{
    for (;;) {
        if (!s->open) {
            if (s->cur >= s->nf)
                return 0;
            if (cap_open(&s->r, s->files[s->cur], s->venue, s->symbol) != 0) {
                s->errors++;
                s->cur++;
                continue;
            }
            s->open = true;
        }
        int rc = cap_next(&s->r, ev);
        if (rc > 0)
            return 1;
        if (rc < 0)
            continue;
        s->errors += s->r.errors;
        cap_close(&s->r);
        s->open = false;
        s->cur++;
    }
}

static inline void stream_close(cap_stream *s)
{
    if (s->open) {
        s->errors += s->r.errors;
        cap_close(&s->r);
    }
    s->open = false;
}

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
