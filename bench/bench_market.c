/* Market model throughput on the real captures (decoded once with cJSON outside the timing,
 * so only the model is measured). Prints one JSON line per measurement:
 *   book_spot:   book_on_diff on spot BTCUSDT 08+09 (6495 diffs + the snapshot), ns/diff
 *   book_usdm:   the same on USD-M BTCUSDT (6551 diffs, ~68 levels each)
 *   market_spot: market_apply of every spot BTCUSDT event (trades feed the tape and 7 candle
 *                series, bookTickers, diffs), ns/event
 * Each is the best of several passes over the whole capture with a fresh model. */
#include "kestrel/book.h"
#include "kestrel/market.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static inline const char *check_shared_data(void)
{
    const char *e = getenv("KESTREL_SHARED_DATA");
    return e && *e ? e : "../shared/data";
}

#include "../tests/unit/capture_stream.h"

#define PASSES 7

typedef struct evlist {
    owned_ev *v;
    size_t n, cap;
    uint64_t levels;
} evlist;

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int load(evlist *l, enum venue v, const char *sym, const char *f1, const char *f2,
                bool depth_only)
{
    cap_stream s;
    stream_init(&s, v, sym, f1, f2);
    feed_event ev;
    while (stream_next(&s, &ev)) {
        bool depth = ev.kind == FEED_DEPTH_DIFF || ev.kind == FEED_DEPTH_SNAPSHOT;
        if (depth_only && !depth)
            continue;
        if (l->n == l->cap) {
            l->cap = l->cap ? l->cap * 2 : 4096;
            l->v = realloc(l->v, l->cap * sizeof *l->v);
        }
        memset(&l->v[l->n], 0, sizeof l->v[l->n]);
        own(&l->v[l->n], &ev);
        if (ev.kind == FEED_DEPTH_DIFF)
            l->levels += ev.u.depth.nbids + ev.u.depth.nasks;
        l->n++;
    }
    uint64_t errors = s.errors;
    stream_close(&s);
    return errors ? -1 : 0;
}

static void evlist_free(evlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        own_free(&l->v[i]);
    free(l->v);
}

static void bench_book(const char *name, enum book_rules rules, const evlist *l)
{
    int64_t best = INT64_MAX;
    uint64_t applied = 0;
    for (int p = 0; p < PASSES; p++) {
        book *b = book_new(rules, 5000, 4096);
        int64_t t0 = now_ns();
        for (size_t i = 0; i < l->n; i++) {
            const feed_event *ev = &l->v[i].ev;
            if (ev->kind == FEED_DEPTH_DIFF)
                book_on_diff(b, ev);
            else
                book_on_snapshot(b, ev);
        }
        int64_t dt = now_ns() - t0;
        applied = book_get_stats(b)->diffs_applied;
        book_free(b);
        if (dt < best)
            best = dt;
    }
    printf("{\"bench\":\"%s\",\"diffs\":%zu,\"applied\":%llu,\"levels\":%llu,\"ns_per_diff\":%.1f,"
           "\"diffs_per_s\":%.0f,\"levels_per_s\":%.0f}\n",
           name, l->n - 1, (unsigned long long)applied, (unsigned long long)l->levels,
           (double)best / (double)(l->n - 1), (double)(l->n - 1) * 1e9 / (double)best,
           (double)l->levels * 1e9 / (double)best);
}

static void bench_market(const char *name, const evlist *l)
{
    int64_t best = INT64_MAX;
    for (int p = 0; p < PASSES; p++) {
        market *m = market_new(NULL);
        int64_t t0 = now_ns();
        for (size_t i = 0; i < l->n; i++)
            market_apply(m, &l->v[i].ev);
        int64_t dt = now_ns() - t0;
        market_free(m);
        if (dt < best)
            best = dt;
    }
    printf("{\"bench\":\"%s\",\"events\":%zu,\"ns_per_event\":%.1f,\"events_per_s\":%.0f}\n", name,
           l->n, (double)best / (double)l->n, (double)l->n * 1e9 / (double)best);
}

int main(void)
{
    evlist spot_depth = {0}, usdm_depth = {0}, spot_all = {0};
    if (load(&spot_depth, VENUE_BINANCE_SPOT, "BTCUSDT", SPOT_BTC_08, SPOT_BTC_09, true) ||
        load(&usdm_depth, VENUE_BINANCE_USDM, "BTCUSDT", USDM_BTC_08, NULL, true) ||
        load(&spot_all, VENUE_BINANCE_SPOT, "BTCUSDT", SPOT_BTC_08, SPOT_BTC_09, false)) {
        fprintf(stderr, "bench_market: cannot read the captures under %s\n",
                check_shared_data());
        return 1;
    }
    bench_book("book_spot", BOOK_RULES_BINANCE_SPOT, &spot_depth);
    bench_book("book_usdm", BOOK_RULES_BINANCE_USDM, &usdm_depth);
    bench_market("market_spot", &spot_all);
    evlist_free(&spot_depth);
    evlist_free(&usdm_depth);
    evlist_free(&spot_all);
    cap_cache_free();
    return 0;
}
