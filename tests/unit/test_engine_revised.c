/* A bar revised after its close reaches the engine going forward (docs/LIVE.md "A bar revised
 * after its close"), through the runner that feeds it:
 *  - tape: the real Binance spot BTCUSDT capture (08 then 09) replayed through the ingest
 *    pipeline with kline reconciliation on (as live data runs); after the 08 file the exchange's
 *    final kline of the newest closed 1m bar arrives with a different close (the mechanics: its
 *    close set to the bar's own high, a price of the data) and replaces the trade-built bar
 *    (MARKET_BAR_REVISED). No signal is re-made; at the next 1m close (from the 09 file) the
 *    engine's 1m features are exactly those of a feature set built from the corrected series,
 *    and its ctx_1m_ret is not the one the trade-built bar gives (six bars: the longer
 *    indicators are not warm yet). A kline equal to the held bar rebuilds nothing.
 *  - backfill: 300 real bars of lean_binance_BTCBUSD_1m_2022-12-13.csv (every 1m feature warm),
 *    the newest replaced by a REST page (market_merge_bars) with its close at its high, then the
 *    next row: ctx_1m_rsi / ret / ema_9_21 / macd_hist_n equal the corrected series' exactly and
 *    differ from the unrevised series'. */
#include "check.h"

#include "kestrel/backtest.h"
#include "kestrel/clock.h"
#include "kestrel/features.h"
#include "kestrel/ingest.h"
#include "kestrel/klines.h"
#include "kestrel/replay.h"
#include "kestrel/runner.h"

#include <math.h>
#include <string.h>

static const int ctx1m[4] = {FEAT_C1M_RSI, FEAT_C1M_RET, FEAT_C1M_EMA, FEAT_C1M_MACD};

/* The 1m context features of a feature set fed series s's whole bars (oldest first). */
static void fresh_ctx(const candles *s, int64_t now_ms, bool taker, double *out)
{
    features *f = features_new(NULL);
    for (uint32_t i = 0; i < candles_count(s); i++) {
        const candle *cd = candles_get(s, i);
        if (!(cd->flags & CANDLE_PARTIAL))
            (void)features_on_bar(f, TF_1M, cd, taker);
    }
    double raw[FEAT_COUNT];
    features_peek(f, now_ms, raw);
    for (int k = 0; k < 4; k++)
        out[k] = raw[ctx1m[k]];
    features_free(f);
}

static void engine_ctx(const engine *e, int64_t now_ms, double *out)
{
    double raw[FEAT_COUNT];
    engine_peek_features(e, now_ms, raw);
    for (int k = 0; k < 4; k++)
        out[k] = raw[ctx1m[k]];
}

static bool same(double a, double b)
{
    return (isnan(a) && isnan(b)) || a == b;
}

static void test_tape(void)
{
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
        return;
    }
    market *m = market_new(NULL);
    market_set_reconcile(m, true);
    kclock *clk = kclock_new_simulated();
    ingest_opts o = {.grace_ms = 0};
    ingest *p = ingest_new(m, clk, &o);
    runner_config c;
    backtest_config_default(&c);
    c.models = 0;
    c.signal_interval_ms = 0;
    runner *r = runner_new(m, clk, &c);
    CHECK(r != NULL);
    if (!r)
        goto out;

    /* the 08 file: 41,249 lines (MANIFEST.md), the bars of 23:54 .. 23:58 closed */
    CHECK(ingest_replay_all(p, rp, 41249) == 41249);
    market_sym *s = market_find(m, VENUE_BINANCE_SPOT, "BTCUSDT");
    CHECK(s != NULL);
    engine *e = runner_engine(r, 0);
    CHECK(e != NULL);
    if (!s || !e)
        goto out;
    const candles *c1 = s->series[TF_1M];
    CHECK(candles_count(c1) >= 4);
    if (candles_count(c1) < 4)
        goto out;
    candle last = *candles_get(c1, candles_count(c1) - 1);
    CHECK_INT(engine_last_bar(e, TF_1M), last.open_ms);
    uint64_t bars0 = engine_bars(e, TF_1M);
    uint64_t signals0 = runner_get_stats(r)->signals;
    int64_t now = last.open_ms + 60000;
    double before[4], want[4], after[4];
    engine_ctx(e, now, before);
    CHECK(!isnan(before[1])); /* ret; five whole bars: rsi_14 and the EMAs are not warm yet */

    /* the exchange's final bar of the same minute, equal to the held one: nothing changes */
    feed_event k;
    memset(&k, 0, sizeof k);
    k.kind = FEED_KLINE;
    k.venue = VENUE_BINANCE_SPOT;
    snprintf(k.symbol, sizeof k.symbol, "BTCUSDT");
    snprintf(k.u.kline.interval, sizeof k.u.kline.interval, "1m");
    k.u.kline.open_ms = last.open_ms;
    k.u.kline.close_ms = last.open_ms + 59999;
    k.u.kline.o = last.o;
    k.u.kline.h = last.h;
    k.u.kline.l = last.l;
    k.u.kline.c = last.c;
    k.u.kline.volume = last.volume;
    k.u.kline.trades = last.trades;
    k.u.kline.closed = true;
    uint64_t diffs0 = s->kline_diffs;
    CHECK_INT(market_apply(m, &k), K_OK);
    CHECK_INT(s->kline_diffs, diffs0);

    /* ... and with a different close (the bar's high): revised */
    CHECK(last.h != last.c);
    k.u.kline.c = last.h;
    CHECK_INT(market_apply(m, &k), K_OK);
    CHECK_INT(s->kline_diffs, diffs0 + 1);
    CHECK_INT(candles_get(c1, candles_count(c1) - 1)->c, last.h);
    CHECK_INT(runner_get_stats(r)->signals, signals0); /* signals made stand, none re-made */

    /* going forward: the 09 file until the next 1m bar closed */
    uint32_t n0 = candles_count(c1);
    for (int i = 0; i < 400 && candles_count(c1) == n0; i++)
        if (ingest_replay_all(p, rp, 50) == 0)
            break; /* the end of the file */
    CHECK(candles_count(c1) == n0 + 1);
    const candle *next = candles_last(c1);
    CHECK(next && next->open_ms == last.open_ms + 60000);
    CHECK_INT(engine_last_bar(e, TF_1M), last.open_ms + 60000);
    CHECK_INT(engine_bars(e, TF_1M), bars0 + 1);
    CHECK_INT(runner_get_stats(r)->revisions, 1); /* the equal kline rebuilt nothing */
    CHECK_INT(runner_get_stats(r)->revisions_skipped, 0);
    now = last.open_ms + 120000;
    engine_ctx(e, now, after);
    fresh_ctx(c1, now, true, want);
    for (int i = 0; i < 4; i++)
        CHECK(same(after[i], want[i])); /* the exchange's bar, exactly */

    /* ... and not what the trade-built bar gives: the same series with the held bar's close */
    candles *tb = candles_new(TF_1M, candles_count(c1) + 1);
    for (uint32_t i = 0; i < candles_count(c1); i++) {
        candle b = *candles_get(c1, i);
        if (b.open_ms == last.open_ms)
            b = last;
        uint32_t rep = 0;
        (void)candles_merge(tb, &b, 1, &rep);
    }
    double trade_built[4];
    fresh_ctx(tb, now, true, trade_built);
    candles_free(tb);
    CHECK(!isnan(after[1]) && !same(after[1], trade_built[1])); /* ret (6 bars: rsi not warm) */
    fprintf(stderr, "tape: ctx_1m_ret %.8f (trade-built bar: %.8f)\n", after[1], trade_built[1]);
out:
    runner_free(r);
    ingest_free(p);
    kclock_free(clk);
    market_free(m);
    replay_close(rp);
}

/* The REST backfill's path (market_merge_bars, a page that differs) on a kline-fed symbol with
 * every 1m feature warm: 300 real bars of lean_binance_BTCBUSD_1m_2022-12-13.csv, the newest
 * one revised (its close set to its high), then the next row of the file. */
static void test_backfill(void)
{
    char path[1024], err[256];
    snprintf(path, sizeof path, "%s/klines/lean_binance_BTCBUSD_1m_2022-12-13.csv",
             check_shared_data());
    klines *kl = NULL;
    if (klines_open(&kl, path, VENUE_BINANCE_USDM, "BTCUSDT", "", err, sizeof err) != K_OK) {
        fprintf(stderr, "%s\n", err);
        CHECK(!"klines_open");
        return;
    }
    market *m = market_new(NULL);
    kclock *clk = kclock_new_simulated();
    ingest *p = ingest_new(m, clk, NULL);
    runner_config c;
    backtest_config_default(&c);
    c.models = 0;
    c.signal_interval_ms = 0;
    runner *r = runner_new(m, clk, &c);
    CHECK(r != NULL);
    feed_event ev;
    int bars = 0;
    while (r && bars < 300 && klines_next(kl, &ev) > 0) {
        ev.recv_ns = (ev.u.kline.open_ms + 60000) * 1000000;
        CHECK_INT(ingest_event(p, &ev, NULL), INGEST_OK);
        bars++;
    }
    CHECK_INT(bars, 300);
    market_sym *s = market_find(m, VENUE_BINANCE_USDM, "BTCUSDT");
    engine *e = r ? runner_engine(r, 0) : NULL;
    CHECK(s && e && s->bars_from_klines);
    if (!s || !e || candles_count(s->series[TF_1M]) < 300)
        goto out;
    const candles *c1 = s->series[TF_1M];
    candle last = *candles_last(c1);
    CHECK_INT(engine_last_bar(e, TF_1M), last.open_ms);
    uint64_t signals0 = runner_get_stats(r)->signals;
    candle rev = last;
    CHECK(last.h != last.c);
    rev.c = last.h;
    CHECK_INT(market_merge_bars(m, s, TF_1M, &rev, 1), 0); /* replaced, none inserted */
    CHECK_INT(candles_last(c1)->c, last.h);
    CHECK_INT(runner_get_stats(r)->signals, signals0);
    CHECK(klines_next(kl, &ev) > 0);
    ev.recv_ns = (ev.u.kline.open_ms + 60000) * 1000000;
    CHECK_INT(ingest_event(p, &ev, NULL), INGEST_OK);
    CHECK_INT(engine_last_bar(e, TF_1M), last.open_ms + 60000);
    CHECK_INT(runner_get_stats(r)->revisions, 1);
    int64_t now = last.open_ms + 120000;
    double after[4], want[4], old[4];
    engine_ctx(e, now, after);
    fresh_ctx(c1, now, false, want);
    candles *tb = candles_new(TF_1M, candles_count(c1) + 1);
    for (uint32_t i = 0; i < candles_count(c1); i++) {
        candle b = *candles_get(c1, i);
        if (b.open_ms == last.open_ms)
            b = last;
        uint32_t rep = 0;
        (void)candles_merge(tb, &b, 1, &rep);
    }
    fresh_ctx(tb, now, false, old);
    candles_free(tb);
    for (int i = 0; i < 4; i++) {
        CHECK(!isnan(after[i]));      /* warm */
        CHECK(same(after[i], want[i])); /* the corrected series, exactly */
    }
    CHECK(!same(after[0], old[0])); /* rsi: not the value the bar before revision gives */
    CHECK(!same(after[1], old[1])); /* ret */
    CHECK(!same(after[2], old[2])); /* ema 9/21 */
    fprintf(stderr, "backfill: ctx_1m_rsi %.4f (before the revision: %.4f), ema_9_21 %.8f (%.8f)\n",
            after[0], old[0], after[2], old[2]);
out:
    runner_free(r);
    ingest_free(p);
    kclock_free(clk);
    market_free(m);
    klines_close(kl);
}

int main(void)
{
    test_tape();
    test_backfill();
    CHECK_DONE();
}
