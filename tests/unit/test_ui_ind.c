/* The chart's indicator values (src/ui/pane_ind.c) on the app's real per-series indicator charts:
 *  - the forming bar shows the values peeked for it (ta_chart_peek: as if it closed now), not the
 *    last closed bar's, and the oscillator sub-pane label on screen prints them;
 *  - closed bars show what an independent instance computes for them (history is float);
 *  - Ichimoku's senkou lines are drawn 25 bars ahead and chikou 25 behind, counted in bars,
 *    including the 25 columns of cloud after the newest bar;
 *  - a series with holes (minutes without trades missing from a real Coinbase file, as after a
 *    restart) still finds every bar's values by time;
 *  - more oscillators than fit: the rest are named in the chart's top border.
 * Real data: the bundled Binance replay and a Coinbase 1m kline file with missing minutes. */
#include "check.h"

#include "kestrel/app.h"
#include "kestrel/candles.h"
#include "kestrel/decimal.h"
#include "kestrel/market.h"
#include "kestrel/replay.h"
#include "kestrel/ta.h"
#include "kestrel/ui.h"
#include "../../src/ui/ui_int.h"
#include "ta_test_util.h"
#include "ui_screen.h"

#include <locale.h>
#include <wchar.h>

static app A;
static char screen[64 * 1024];

static void grab(void)
{
    ui_screen_grab(screen, sizeof(screen), NULL, NULL);
}

/* The app's own data path (app_feed_replay: the ingest pipeline and the subscribers). */
static void feed(replay *r, uint64_t max)
{
    app_feed_replay(&A, r, max);
}

/* Expected values of every output of the series' chart at every closed bar (from an
 * independent set fed the closed candles, as the app does) and at the forming bar (peek). */
typedef struct expect {
    uint32_t nout, nbars;
    double *v;    /* nbars x nout, closed bars oldest first */
    double *peek; /* nout, NaN when no forming bar */
} expect;

static expect expected(const char *specs, const candles *c)
{
    char err[160];
    expect e = { 0, 0, NULL, NULL };
    ta_set *set = ta_set_new(specs, err, sizeof(err));
    CHECK(set != NULL);
    if (!set)
        return e;
    e.nout = ta_set_outputs(set);
    e.nbars = candles_count(c);
    e.v = xmalloc(((size_t)e.nbars + 1) * e.nout * sizeof(double));
    e.peek = xmalloc(e.nout * sizeof(double));
    for (uint32_t i = 0; i < e.nbars; i++) {
        const candle *cd = candles_get(c, i);
        if (cd->flags & CANDLE_PARTIAL) { /* never fed: no values at it, no warm-up count */
            for (uint32_t k = 0; k < e.nout; k++)
                e.v[(size_t)i * e.nout + k] = NAN;
            continue;
        }
        ta_bar b = ta_bar_from_candle(cd);
        ta_set_update(set, &b, e.v + (size_t)i * e.nout);
    }
    for (uint32_t k = 0; k < e.nout; k++)
        e.peek[k] = NAN;
    const candle *f = candles_forming(c);
    if (f && !(f->flags & CANDLE_PARTIAL)) {
        ta_bar b = ta_bar_from_candle(f);
        ta_set_peek(set, &b, e.peek);
    }
    ta_set_free(set);
    return e;
}

static void expect_free(expect *e)
{
    free(e->v);
    free(e->peek);
}

/* value of output k at bar index i of the series (nbars = the forming bar), as history stores
 * it: float for closed bars, exact for the peek; NaN outside */
static double want_at(const expect *e, uint32_t k, int64_t i)
{
    if (i == e->nbars)
        return e->peek[k];
    if (i < 0 || i > e->nbars)
        return NAN;
    double v = e->v[(size_t)i * e->nout + k];
    return isnan(v) ? v : (double)(float)v;
}

static bool same(double a, double b)
{
    return (isnan(a) && isnan(b)) || a == b;
}

/* every output at every bar of the series the chart keeps history for, shifts included */
static size_t check_series(const char *label, market_sym *s, enum tf tf, const char *specs,
                           size_t *forming_checked)
{
    const candles *c = s->series[tf];
    expect e = expected(specs, c);
    ind_ctx ic;
    ui_ind_begin(&A, &ic, s, tf);
    CHECK(ic.c != NULL);
    if (!ic.c) {
        expect_free(&e);
        return 1;
    }
    CHECK_INT(ic.nout, e.nout);
    const candle *f = candles_forming(c);
    CHECK(ic.has_peek == (f != NULL && !(f->flags & CANDLE_PARTIAL)));
    size_t bad = 0;
    /* the oldest history row's bar (partial bars have no row) */
    uint32_t kept = ta_chart_history_len(ic.c), first = e.nbars;
    for (uint32_t i = 0; kept && i < e.nbars; i++)
        if (candles_get(c, i)->open_ms == ta_chart_history_time(ic.c, 0)) {
            first = i;
            break;
        }
    /* a partial bar draws no indicator value */
    for (uint32_t i = 0; i < e.nbars; i++)
        if ((candles_get(c, i)->flags & CANDLE_PARTIAL) && e.nout > 0 &&
            !isnan(ui_ind_value(&ic, 0, candles_get(c, i)->open_ms)) && bad++ < 5)
            fprintf(stderr, "%s: a value drawn at the partial bar %u\n", label, i);
    for (uint32_t k = 0; k < e.nout; k++) {
        int shift = ta_chart_output_shift(ic.c, k);
        for (int64_t i = first; i <= e.nbars; i++) {
            const candle *b = i < e.nbars ? candles_get(c, (uint32_t)i) : f;
            if (!b)
                continue;
            int64_t src = i - shift;
            double want = src < first ? NAN : want_at(&e, k, src);
            double got = ui_ind_value(&ic, k, b->open_ms);
            if (!same(got, want) && bad++ < 5)
                fprintf(stderr, "%s: %s at bar %lld: drawn %.17g, expected %.17g\n", label,
                        ta_chart_output_name(ic.c, k), (long long)i, got, want);
            if (i == e.nbars && f && !isnan(want))
                ++*forming_checked;
        }
        /* after the newest bar: only forward-displaced outputs (the cloud ahead) */
        int64_t newest = f ? e.nbars : (int64_t)e.nbars - 1;
        for (int m = 1; m <= 30; m++) {
            double want = shift >= m ? want_at(&e, k, newest + m - shift) : NAN;
            if (!same(ui_ind_value_ahead(&ic, k, m), want) && bad++ < 5)
                fprintf(stderr, "%s: %s %d bars ahead: %.17g, expected %.17g\n", label,
                        ta_chart_output_name(ic.c, k), m, ui_ind_value_ahead(&ic, k, m), want);
        }
    }
    expect_free(&e);
    return bad;
}

static candle candle_of(const ta_bar *b)
{
    candle c;
    memset(&c, 0, sizeof(c));
    c.open_ms = b->t;
    c.o = (kdec)llround(b->o * 1e8);
    c.h = (kdec)llround(b->h * 1e8);
    c.l = (kdec)llround(b->l * 1e8);
    c.c = (kdec)llround(b->c * 1e8);
    c.volume = (kdec)llround(b->v * 1e8);
    c.trades = 1;
    return c;
}

int main(void)
{
    setlocale(LC_ALL, "C.UTF-8");
    char err[512];
    config_defaults(&A.cfg);
    A.cfg.replay_count = 4;
    A.cfg.ui_fps = 30;
    A.speed = 1.0;
    A.chart_tf = TF_1S;
    A.source = APP_SOURCE_REPLAY;
    CHECK_INT(app_model_open(&A), K_OK);
    CHECK(A.market != NULL);
    const char *files[] = { "data/replay/btcusdt_20240808.gz", "data/replay/ethusdt_20240808.gz",
                            "data/replay/btcusdt_20240809.gz", "data/replay/ethusdt_20240809.gz" };
    replay *r = NULL;
    CHECK_INT(replay_open(&r, files, 4, err, sizeof(err)), K_OK);
    if (!r) {
        fprintf(stderr, "%s\n", err);
        CHECK_DONE();
    }

    /* the real replay at four moments, the indicators attached by the app (each time: this
     * test has no app loop to feed the charts on bar close) */
    const char *specs = "sma_20,ichimoku,bb_20_2,rsi_14,macd_12_26_9,supertrend";
    feed(r, 30000);
    size_t forming = 0, bad = 0;
    for (int round = 0; round < 4; round++) {
        feed(r, 20000);
        CHECK_INT(app_set_indicators(&A, specs, err, sizeof(err)), K_OK);
        market_sym *btc = market_find(A.market, VENUE_BINANCE_SPOT, "BTCUSDT");
        market_sym *eth = market_find(A.market, VENUE_BINANCE_SPOT, "ETHUSDT");
        CHECK(btc && eth);
        if (!btc || !eth)
            break;
        bad += check_series("BTCUSDT 1s", btc, TF_1S, specs, &forming);
        bad += check_series("ETHUSDT 1s", eth, TF_1S, specs, &forming);
        bad += check_series("BTCUSDT 1m", btc, TF_1M, specs, &forming);
    }
    CHECK_INT(bad, 0);
    CHECK(forming > 50); /* the forming bar's values were there and were the peeked ones */
    printf("replay: drawn values == independent values at every bar, forming bars peeked "
           "(%zu forming values)\n", forming);

    /* on screen: the oscillator label prints the forming bar's peeked values */
    FILE *out = fopen("/dev/null", "w"), *in = fopen("/dev/null", "r");
    ui *u = ui_open_term(&A, out, in, "xterm-256color", 50, 160, err, sizeof(err));
    CHECK(u != NULL);
    market_sym *btc = market_find(A.market, VENUE_BINANCE_SPOT, "BTCUSDT");
    if (u && btc) {
        CHECK_INT(app_set_indicators(&A, "rsi_14", err, sizeof(err)), K_OK);
        bool differs = false;
        for (int tries = 0; tries < 50 && !differs; tries++) { /* a moment they differ */
            feed(r, 500);
            CHECK_INT(app_set_indicators(&A, "rsi_14", err, sizeof(err)), K_OK);
            const candle *f = candles_forming(btc->series[TF_1S]);
            const ta_chart *ch = app_chart_ta(&A, btc, TF_1S);
            if (!f || !ch || f->open_ms <= ta_chart_last_time(ch))
                continue;
            ta_bar b = ta_bar_from_candle(f);
            double pk[1];
            ta_chart_peek(ch, &b, pk);
            char want[64], last[64], num[32];
            ui_fmt_num(num, sizeof(num), pk[0], 2, 12);
            snprintf(want, sizeof(want), "rsi_14 %s", num);
            ui_fmt_num(num, sizeof(num), ta_chart_last(ch)[0], 2, 12);
            snprintf(last, sizeof(last), "rsi_14 %s", num);
            if (strcmp(want, last) == 0)
                continue;
            differs = true;
            ui_draw_now(u, true);
            grab();
            if (!strstr(screen, want))
                fprintf(stderr, "wanted '%s' (closed bar: '%s') on:\n%s", want, last, screen);
            CHECK(strstr(screen, want) != NULL);
            CHECK(strstr(screen, last) == NULL);
        }
        CHECK(differs);

        /* more oscillators than fit in 50 rows: the rest are named in the top border */
        CHECK_INT(app_set_indicators(&A, "rsi,macd,stoch,adx,cci,mfi,willr,obv", err, sizeof(err)),
                  K_OK);
        ui_draw_now(u, true);
        grab();
        CHECK(strstr(screen, "rsi_14") && strstr(screen, "+osc") && strstr(screen, "obv"));

        /* the picker keeps specs set by hand, whatever their case: toggling SMA (the first
         * entry) off leaves "RSI_7" (it used to drop it: "rsi" did not match "RSI_7") */
        CHECK_INT(app_set_indicators(&A, "sma_50,RSI_7", err, sizeof(err)), K_OK);
        ui_feed_key(u, 'i');
        ui_feed_key(u, ' ');
        ui_feed_key(u, 27);
        CHECK_STR(A.indicators, "RSI_7");
        ui_close(u);
    }
    fclose(out);
    fclose(in);
    replay_close(r);

    /* a series with holes, as after a restart: a real Coinbase file missing 5 minutes, then
     * 7 hours 8 minutes (bars 1008 and 1009); 600 bars around them, all kept as history */
    char p[512];
    tt_path(p, sizeof(p), "klines/lean_coinbase_ETHUSD_1m_2018-04-04_05.csv");
    tt_bars d = tt_load_bars(p);
    CHECK(d.n > 1300);
    size_t holes = 0;
    for (size_t i = 701; i < 1300 && i < d.n; i++)
        holes += d.b[i].t - d.b[i - 1].t > 60000;
    CHECK_INT(holes, 2);
    market_sym *g = market_add(A.market, VENUE_BINANCE_SPOT, "ETHUSD");
    CHECK(g != NULL);
    if (g && d.n > 1300) {
        uint32_t n = 600;
        candle *cs = xmalloc(n * sizeof(candle));
        for (uint32_t i = 0; i < n; i++)
            cs[i] = candle_of(&d.b[700 + i]);
        candles_load(g->series[TF_1M], cs, n);
        free(cs);
        CHECK_INT(app_set_indicators(&A, specs, err, sizeof(err)), K_OK); /* attaches, feeds */
        size_t dummy = 0, gb = check_series("Coinbase 1m with holes", g, TF_1M, specs, &dummy);
        CHECK_INT(gb, 0);
        printf("series with %zu holes: every bar's drawn values found by time (%zu wrong)\n",
               holes, gb);
    }
    free(d.b);
    app_set_indicators(&A, "", err, sizeof(err));
    app_model_close(&A);
    CHECK_DONE();
}
