/* A bar revised after its close (docs/LIVE.md "A bar revised after its close"): on the real
 * Binance spot BTCUSDT capture replayed through the ingest pipeline with kline reconciliation on
 * (as live data runs), the display indicators (chartta, sma_2 and ema_3) have values at the
 * newest closed 1m bar computed from the trade-built bars. Then the exchange's final kline of
 * that bar arrives with a different close (the mechanics: its close set to the bar's own high, a
 * price of the data): the market replaces the bar (MARKET_BAR_REVISED, kline_diffs), and the
 * chart's values change to exactly the ones a chart built from the corrected series has, not
 * the ones computed at the close. A kline equal to the held bar changes nothing. */
#include "check.h"

#include "kestrel/chartta.h"
#include "kestrel/clock.h"
#include "kestrel/ingest.h"
#include "kestrel/replay.h"
#include "kestrel/ta.h"

#include <math.h>
#include <string.h>



/* The values a chart of specs built from series s (whole bars) has at its newest bar. */
static void fresh_values(const candles *s, const char *specs, double *out, uint32_t n)
{
    char err[160];
    ta_chart *ch = ta_chart_new(specs, CHARTTA_HISTORY, err, sizeof err);
    CHECK(ch != NULL);
    if (!ch)
        return;
    for (uint32_t i = 0; i < candles_count(s); i++) {
        const candle *cd = candles_get(s, i);
        if (cd->flags & CANDLE_PARTIAL)
            continue;
        ta_bar b = ta_bar_from_candle(cd);
        ta_chart_on_bar(ch, &b);
    }
    const double *v = ta_chart_last(ch);
    for (uint32_t k = 0; k < n && k < ta_chart_outputs(ch); k++)
        out[k] = v[k];
    ta_chart_free(ch);
}

int main(void)
{
    char spec[1024], err[256];
    snprintf(spec, sizeof spec, "spot:%s/binance/streams/spot/btcusdt_20240808.gz",
             check_shared_data());
    const char *specs[] = {spec};
    replay *r = NULL;
    CHECK_INT(replay_open(&r, specs, 1, err, sizeof err), K_OK);
    if (!r) {
        fprintf(stderr, "%s\n", err);
        CHECK_DONE();
    }
    market *m = market_new(NULL);
    market_set_reconcile(m, true);
    kclock *clk = kclock_new_simulated();
    ingest_opts o = {.grace_ms = 0};
    ingest *p = ingest_new(m, clk, &o);
    chartta *ct = chartta_new(m, 0);
    CHECK_INT(market_subscribe(m, chartta_on_note, ct), K_OK);
    const char *ind = "sma_2,ema_3";
    if (chartta_set(ct, ind, err, sizeof err) != K_OK) {
        fprintf(stderr, "chartta_set: %s\n", err);
        CHECK(!"chartta_set");
    }
    CHECK(ingest_replay_all(p, r, 0) > 1000);
    market_sym *s = market_find(m, VENUE_BINANCE_SPOT, "BTCUSDT");
    CHECK(s != NULL);
    const candles *c1 = s ? s->series[TF_1M] : NULL;
    CHECK(c1 && candles_count(c1) >= 4);
    if (s && c1 && candles_count(c1) >= 4) {
        const ta_chart *ch = chartta_get(ct, s->index, TF_1M);
        CHECK(ch != NULL);
        uint32_t nout = ch ? ta_chart_outputs(ch) : 0;
        CHECK_INT(nout, 2);
        candle last = *candles_get(c1, candles_count(c1) - 1);
        double before[2] = {NAN, NAN}, want[2] = {NAN, NAN}, after[2] = {NAN, NAN};
        for (uint32_t k = 0; k < nout && k < 2; k++)
            before[k] = ta_chart_last(ch)[k];
        CHECK(!isnan(before[0]) && !isnan(before[1]));
        if (!ch)
            goto out;
        CHECK(ch && ta_chart_last_time(ch) == last.open_ms);

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
        ch = chartta_get(ct, s->index, TF_1M);
        CHECK(ch && ta_chart_last(ch)[0] == before[0]);

        /* ... and with a different close (the bar's high): revised, and the chart follows */
        CHECK(last.h != last.c);
        k.u.kline.c = last.h;
        CHECK_INT(market_apply(m, &k), K_OK);
        CHECK_INT(s->kline_diffs, diffs0 + 1);
        CHECK_INT(candles_get(c1, candles_count(c1) - 1)->c, last.h);
        fresh_values(c1, ind, want, 2);
        ch = chartta_get(ct, s->index, TF_1M);
        CHECK(ch != NULL);
        for (uint32_t i = 0; ch && i < 2; i++)
            after[i] = ta_chart_last(ch)[i];
        CHECK(ch && ta_chart_last_time(ch) == last.open_ms);
        for (int i = 0; i < 2; i++) {
            CHECK(after[i] != before[i]); /* not the value computed at the close */
            CHECK(after[i] == want[i]);   /* the one the exchange's bars give, exactly */
        }
        fprintf(stderr, "sma_2 %.2f -> %.2f, ema_3 %.2f -> %.2f\n", before[0], after[0],
                before[1], after[1]);
    }
out:
    chartta_free(ct);
    ingest_free(p);
    kclock_free(clk);
    market_free(m);
    replay_close(r);
    CHECK_DONE();
}
