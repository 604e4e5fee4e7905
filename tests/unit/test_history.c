/* The history reader: answers from its own thread what the store committed, oldest first per
 * timeframe, only bars before the asked time, bounded by max; a full queue refuses; answers are
 * merged in front of live bars by candles_load_older. Real bars: the store is fed from the
 * bundled replay through the ingest pipeline. */
#include "check.h"

#include "kestrel/history.h"
#include "kestrel/ingest.h"
#include "kestrel/replay.h"
#include "kestrel/store.h"

#include <stdlib.h>
#include <unistd.h>

typedef struct got {
    int answers;
    uint32_t n[TF_COUNT];
    candle first1m, last1m;
    bool ordered, failed;
    market *m;
    uint32_t merged;
} got;

static void on_answer(void *ud, const history_answer *a)
{
    got *g = ud;
    g->answers++;
    g->failed = g->failed || a->failed;
    g->ordered = true;
    for (int t = 0; t < TF_COUNT; t++) {
        g->n[t] = a->n[t];
        for (uint32_t i = 1; i < a->n[t]; i++)
            if (a->bars[t][i].open_ms <= a->bars[t][i - 1].open_ms)
                g->ordered = false;
    }
    if (a->n[TF_1M]) {
        g->first1m = a->bars[TF_1M][0];
        g->last1m = a->bars[TF_1M][a->n[TF_1M] - 1];
    }
    market_sym *s = g->m ? market_find(g->m, a->venue, a->symbol) : NULL;
    for (int t = 0; s && t < TF_COUNT; t++)
        g->merged += candles_load_older(s->series[t], a->bars[t], a->n[t]);
}

typedef struct sink {
    store *st;
} sink;

static void to_store(void *ud, const market_note *n)
{
    sink *k = ud;
    if (n->kind == MARKET_BAR_CLOSED)
        (void)store_put_candle(k->st, n->sym->venue, n->sym->name, n->tf, n->bar);
}

int main(void)
{
    char dir[] = "/tmp/kestrel-hist-XXXXXX", path[600], err[256];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/k.db", dir);
    store *st = NULL;
    CHECK_INT(store_open(&st, path, NULL, err, sizeof err), K_OK);
    if (!st) {
        fprintf(stderr, "%s\n", err);
        CHECK_DONE();
    }
    /* the 08 capture's bars into the store */
    static const char *const spec8[] = {"data/replay/btcusdt_20240808.gz"};
    replay *r = NULL;
    CHECK_INT(replay_open(&r, spec8, 1, err, sizeof err), K_OK);
    market *m = market_new(NULL);
    ingest *p = ingest_new(m, NULL, NULL);
    sink k = {st};
    market_subscribe(m, to_store, &k);
    ingest_replay_all(p, r, 0);
    ingest_finish(p);
    market_sym *s8 = market_find(m, VENUE_BINANCE_SPOT, "BTCUSDT");
    uint32_t held1m = s8 ? candles_count(s8->series[TF_1M]) : 0;
    CHECK_INT(held1m, 6);
    store_flush(st);
    replay_close(r);
    ingest_free(p);
    market_free(m);

    history *h = NULL;
    CHECK_INT(history_open(&h, path, 4, err, sizeof err), K_OK);
    if (!h)
        CHECK_DONE();
    int64_t before[TF_COUNT];
    for (int t = 0; t < TF_COUNT; t++)
        before[t] = 1723161600000LL; /* 2024-08-09 00:00 */
    got g;
    memset(&g, 0, sizeof g);
    CHECK(history_request(h, VENUE_BINANCE_SPOT, "BTCUSDT", before) > 0);
    history_drain(h, on_answer, &g);
    CHECK_INT(g.answers, 1);
    CHECK(!g.failed && g.ordered);
    CHECK_INT(g.n[TF_1M], 4); /* at most max, the newest ones */
    CHECK_INT(g.last1m.open_ms, 1723161540000LL); /* 23:59 */
    CHECK_INT(g.first1m.open_ms, 1723161360000LL); /* 23:56 */
    CHECK_INT(g.n[TF_1S], 4);
    CHECK(g.last1m.volume > 0 && g.last1m.l > 0);
    /* only bars before the asked time */
    for (int t = 0; t < TF_COUNT; t++)
        before[t] = 1723161480000LL; /* 23:58 */
    memset(&g, 0, sizeof g);
    history_request(h, VENUE_BINANCE_SPOT, "BTCUSDT", before);
    history_drain(h, on_answer, &g);
    CHECK_INT(g.last1m.open_ms, 1723161420000LL);
    /* an unknown symbol: an empty answer */
    memset(&g, 0, sizeof g);
    history_request(h, VENUE_BINANCE_SPOT, "NOPEUSDT", before);
    history_drain(h, on_answer, &g);
    CHECK_INT(g.answers, 1);
    CHECK_INT(g.n[TF_1M], 0);
    CHECK_INT(history_pending(h), 0);

    /* merged in front of live bars that closed meanwhile: the 09 capture first, then the answer */
    static const char *const spec9[] = {"data/replay/btcusdt_20240809.gz"};
    CHECK_INT(replay_open(&r, spec9, 1, err, sizeof err), K_OK);
    m = market_new(NULL);
    p = ingest_new(m, NULL, NULL);
    ingest_replay_all(p, r, 0);
    market_sym *s9 = market_find(m, VENUE_BINANCE_SPOT, "BTCUSDT");
    uint32_t live1m = s9 ? candles_count(s9->series[TF_1M]) : 0;
    CHECK(live1m >= 4);
    for (int t = 0; t < TF_COUNT; t++)
        before[t] = 1723161600000LL;
    memset(&g, 0, sizeof g);
    g.m = m;
    history_request(h, VENUE_BINANCE_SPOT, "BTCUSDT", before);
    history_drain(h, on_answer, &g);
    CHECK(g.merged >= 4);
    if (s9) {
        CHECK_INT(candles_count(s9->series[TF_1M]), live1m + 4);
        CHECK_INT(candles_get(s9->series[TF_1M], 0)->open_ms, 1723161360000LL);
        CHECK_INT(candles_get(s9->series[TF_1M], 4)->open_ms, 1723161600000LL);
        /* a second merge of the same bars adds nothing */
        CHECK_INT(candles_load_older(s9->series[TF_1M], candles_get(s9->series[TF_1M], 0), 1), 0);
    }
    replay_close(r);
    ingest_free(p);
    market_free(m);

    /* the queue is bounded: a stalled reader is not needed to see it, just more than it holds */
    int refused = 0;
    for (int i = 0; i < HISTORY_QUEUE + 10; i++)
        refused += history_request(h, VENUE_BINANCE_SPOT, "BTCUSDT", before) == 0;
    CHECK(refused >= 10);
    history_drain(h, NULL, NULL);
    CHECK_INT(history_pending(h), 0);
    history_close(h);
    store_close(st);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK_INT(system(cmd), 0);
    CHECK_DONE();
}
