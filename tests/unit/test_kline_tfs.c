/* Exchange klines of every timeframe (docs/LIVE.md "Klines of every timeframe"): the interval
 * names (Binance's and OKX's spelling, OKX's UTC+8 "1D" refused), and their reconciliation with
 * the trade-built bars, the mechanics of the 1m case for the longer timeframes: the real
 * Binance spot BTCUSDT capture replayed through the ingest pipeline with reconciliation on
 * (as live data runs). In its last minute of 2024-08-08 (23:59) the 5m, 15m, 1h, 4h and 1d
 * bars are forming; a final kline for each (5m / 15m in Binance's names, 1H / 4H / 1Dutc in
 * OKX's) with a different high (the bar's own high plus one tick: the mechanics) is held
 * pending and taken when the 09 file's first trades close the bars at 00:00: each closed bar
 * has the exchange's high, kline_diffs and klines_final_tf count them. Then a final 1H kline
 * (through the pipeline) for a bar already closed replaces it with a MARKET_BAR_REVISED note; a
 * "1D" one is ignored. */
#include "check.h"

#include "kestrel/clock.h"
#include "kestrel/ingest.h"
#include "kestrel/replay.h"

#include <string.h>

typedef struct revised {
    uint32_t n;
    enum tf tf;
    int64_t open_ms;
} revised;

static void on_note(void *ud, const market_note *n)
{
    revised *r = ud;
    if (n->kind == MARKET_BAR_REVISED && n->bar) {
        r->n++;
        r->tf = n->tf;
        r->open_ms = n->bar->open_ms;
    }
}

static void names(void)
{
    static const struct {
        const char *name;
        int ok;
        enum tf tf;
    } t[] = {
        {"1m", 1, TF_1M},   {"5m", 1, TF_5M},  {"15m", 1, TF_15M},   {"1h", 1, TF_1H},
        {"4h", 1, TF_4H},   {"1d", 1, TF_1D},  {"1H", 1, TF_1H},     {"4H", 1, TF_4H},
        {"1Dutc", 1, TF_1D}, {"1D", 0, TF_1D}, {"1M", 0, TF_1M},     {"3m", 0, TF_1M},
        {"1Hutc", 0, TF_1H}, {"", 0, TF_1M},   {"4Hutc", 0, TF_4H},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        enum tf got = TF_COUNT;
        int rc = tf_parse_kline(t[i].name, &got);
        CHECK_INT(rc, t[i].ok ? K_OK : K_ERR);
        if (t[i].ok)
            CHECK_INT(got, t[i].tf);
    }
    enum tf got;
    CHECK_INT(tf_parse_kline(NULL, &got), K_ERR);
}

static feed_event kline_of(const candle *b, const char *interval, enum tf tf)
{
    feed_event k;
    memset(&k, 0, sizeof k);
    k.kind = FEED_KLINE;
    k.venue = VENUE_BINANCE_SPOT;
    snprintf(k.symbol, sizeof k.symbol, "BTCUSDT");
    snprintf(k.u.kline.interval, sizeof k.u.kline.interval, "%s", interval);
    k.u.kline.open_ms = b->open_ms;
    k.u.kline.close_ms = b->open_ms + tf_ms(tf) - 1;
    k.u.kline.o = b->o;
    k.u.kline.h = b->h + 1000000; /* + 0.01, a tick of BTCUSDT */
    k.u.kline.l = b->l;
    k.u.kline.c = b->c;
    k.u.kline.volume = b->volume;
    k.u.kline.closed = true;
    return k;
}

int main(void)
{
    names();
    char s08[1024], s09[1024], err[256];
    snprintf(s08, sizeof s08, "spot:%s/binance/streams/spot/btcusdt_20240808.gz",
             check_shared_data());
    snprintf(s09, sizeof s09, "spot:%s/binance/streams/spot/btcusdt_20240809.gz",
             check_shared_data());
    const char *specs[] = {s08, s09};
    replay *rp = NULL;
    CHECK_INT(replay_open(&rp, specs, 2, err, sizeof err), K_OK);
    if (!rp) {
        fprintf(stderr, "%s\n", err);
        CHECK_DONE();
    }
    market *m = market_new(NULL);
    market_set_reconcile(m, true);
    revised rv = {0, TF_1S, 0};
    CHECK_INT(market_subscribe(m, on_note, &rv), K_OK);
    kclock *clk = kclock_new_simulated();
    ingest_opts o = {.grace_ms = 0};
    ingest *p = ingest_new(m, clk, &o);
    /* the capture up to its last minute of 2024-08-08 (23:59): the 5m bar of 23:55, the 15m of
     * 23:45, the 1h of 23:00, the 4h of 20:00 and the day form */
    CHECK(ingest_replay_all(p, rp, 30000) == 30000);
    market_sym *s = market_find(m, VENUE_BINANCE_SPOT, "BTCUSDT");
    CHECK(s != NULL);
    if (!s)
        goto out;
    const int64_t last_min = 1723161540000LL; /* 2024-08-08 23:59 */
    for (int i = 0; i < 20000 && candles_forming(s->series[TF_1M]) &&
                    candles_forming(s->series[TF_1M])->open_ms < last_min; i++)
        if (ingest_replay_all(p, rp, 1) == 0)
            break;
    CHECK(candles_forming(s->series[TF_1M]) &&
          candles_forming(s->series[TF_1M])->open_ms == last_min);
    static const char *const iv[TF_COUNT] = {"", "", "5m", "15m", "1H", "4H", "1Dutc"};
    candle formed[TF_COUNT];
    uint64_t diffs0 = s->kline_diffs;
    for (int tf = TF_5M; tf <= TF_1D; tf++) {
        const candle *f = candles_forming(s->series[tf]);
        CHECK(f != NULL);
        if (!f)
            goto out;
        formed[tf] = *f;
        feed_event k = kline_of(f, iv[tf], (enum tf)tf);
        /* into the market itself: through the pipeline its end time would move the clock to
         * 00:00 and close the bars before the next kline (as a live venue's would, later) */
        CHECK_INT(market_apply(m, &k), K_OK);
        CHECK(s->has_kline_pending[tf]);
        CHECK_INT(s->klines_final_tf[tf], 1);
    }
    CHECK_INT(s->kline_diffs, diffs0); /* pending: nothing replaced yet */
    CHECK_INT(formed[TF_1D].open_ms % 86400000, 0);
    CHECK_INT(formed[TF_5M].open_ms, last_min - 240000); /* 23:55 */

    /* the 09 file: 00:00 closes every one of them, each with the exchange's high */
    for (int i = 0; i < 600 && !candles_find(s->series[TF_1D], formed[TF_1D].open_ms); i++)
        if (ingest_replay_all(p, rp, 100) == 0)
            break; /* the end of the file */
    for (int tf = TF_5M; tf <= TF_1D; tf++) {
        const candle *b = candles_find(s->series[tf], formed[tf].open_ms);
        CHECK(b != NULL);
        if (b)
            CHECK_INT(b->h, formed[tf].h + 1000000);
        CHECK(!s->has_kline_pending[tf]);
    }
    CHECK_INT(s->kline_diffs, diffs0 + 5);

    /* a final 1h kline (OKX's "1H") for the bar already closed, through the pipeline (its end
     * time is the receive time: the 1H mapping passes the skew check): replaced, with a
     * MARKET_BAR_REVISED note */
    const candle *c1h = candles_find(s->series[TF_1H], formed[TF_1H].open_ms);
    CHECK(c1h != NULL);
    if (c1h) {
        candle held = *c1h;
        feed_event k = kline_of(&held, "1H", TF_1H);
        k.u.kline.h = held.h + 2000000;
        k.recv_ns = (held.open_ms + 3600000) * 1000000LL;
        uint32_t n0 = rv.n;
        CHECK_INT(ingest_event(p, &k, NULL), INGEST_OK);
        CHECK_INT(rv.n, n0 + 1);
        CHECK_INT(rv.tf, TF_1H);
        CHECK_INT(rv.open_ms, held.open_ms);
        CHECK_INT(candles_find(s->series[TF_1H], held.open_ms)->h, held.h + 2000000);
        CHECK_INT(s->kline_diffs, diffs0 + 6);
        CHECK_INT(s->klines_final_tf[TF_1H], 2);
    }
    /* OKX's UTC+8 day is not ours: ignored, nothing counted */
    uint64_t ign = market_klines_ignored(m), fin = s->klines_final;
    feed_event d = kline_of(&formed[TF_1D], "1D", TF_1D);
    CHECK_INT(market_apply(m, &d), K_OK);
    CHECK_INT(market_klines_ignored(m), ign + 1);
    CHECK_INT(s->klines_final, fin);
out:
    ingest_free(p);
    kclock_free(clk);
    market_free(m);
    replay_close(rp);
    CHECK_DONE();
}
