/* Indicators TA-Lib does not have (session VWAP, SuperTrend, Chaikin money flow, realised
 * volatility, z-score, Keltner, Donchian, Ichimoku, Hull MA, Bollinger %B / bandwidth) against
 * values worked out by hand on short made-up series, and against naive
 * batch recomputations (whole window summed from scratch at every bar) over a real day. Also a
 * few hand checks of the TA-Lib conventions that traders ask about (SMA-seeded EMA, OBV start,
 * Wilder RSI seed, MACD seeding). */
#include "check.h"
#include "kestrel/ta.h"
#include "ta_test_util.h"

#define DAY_MS 86400000LL

static void run(const char *spec, const ta_bar *b, size_t n, double *out /* n x outputs */)
{
    char err[160];
    ta_ind *ind = ta_ind_new(spec, err, sizeof(err));
    CHECK(ind != NULL);
    if (!ind)
        return;
    uint32_t no = ta_ind_outputs(ind);
    for (size_t i = 0; i < n; i++)
        ta_ind_update(ind, &b[i], out + i * no);
    ta_ind_free(ind);
}

static ta_bar bar(int64_t t, double o, double h, double l, double c, double v)
{
    return (ta_bar){ t, o, h, l, c, v };
}

static void hand_vwap(void)
{
    int64_t d = 19000 * DAY_MS;
    ta_bar b[] = {
        bar(d - 120000, 10, 12, 8, 10, 2),  /* 23:58, typical 10 */
        bar(d - 60000, 10, 14, 10, 12, 2),  /* 23:59, typical 12 */
        bar(d, 20, 22, 18, 20, 1),          /* 00:00: new session, typical 20 */
        bar(d + 60000, 30, 32, 28, 30, 3),  /* typical 30 */
        bar(d + DAY_MS, 5, 6, 4, 5, 0),     /* next session, no volume yet */
        bar(d + DAY_MS + 60000, 5, 6, 4, 5, 4),
    };
    double o[6];
    run("vwap", b, 6, o);
    CHECK(o[0] == 10);
    CHECK(o[1] == 11);   /* (10*2 + 12*2) / 4 */
    CHECK(o[2] == 20);   /* reset at 00:00 UTC */
    CHECK(o[3] == 27.5); /* (20*1 + 30*3) / 4 */
    CHECK(o[4] == 5);    /* no volume in the session: the typical price */
    CHECK(o[5] == 5);
    /* before 1970 (negative times) the session still starts at 00:00 UTC */
    ta_bar n[] = { bar(-60000, 1, 1, 1, 1, 1), bar(0, 3, 3, 3, 3, 1) };
    run("vwap", n, 2, o);
    CHECK(o[1] == 3);
}

static void hand_cmf(void)
{
    ta_bar b[] = {
        bar(0, 5, 10, 0, 10, 1),     /* multiplier +1   -> +1 */
        bar(1, 5, 10, 0, 0, 2),      /* multiplier -1   -> -2 */
        bar(2, 5, 10, 0, 5, 4),      /* multiplier 0    ->  0 */
        bar(3, 5, 10, 0, 7.5, 8),    /* multiplier 0.5  -> +4 */
        bar(4, 5, 5, 5, 5, 16),      /* high == low     ->  0 */
    };
    double o[5];
    run("cmf_3", b, 5, o);
    CHECK(isnan(o[0]) && isnan(o[1]));
    CHECK(o[2] == -1.0 / 7.0); /* (1 - 2 + 0) / (1 + 2 + 4) */
    CHECK(o[3] == 1.0 / 7.0);  /* (-2 + 0 + 4) / (2 + 4 + 8) */
    CHECK(o[4] == 4.0 / 28.0); /* (0 + 4 + 0) / (4 + 8 + 16) */
}

static void hand_rvol(void)
{
    ta_bar b[] = { bar(0, 100, 100, 100, 100, 1), bar(1, 110, 110, 110, 110, 1),
                   bar(2, 99, 99, 99, 99, 1),     bar(3, 99, 99, 99, 99, 1),
                   bar(4, 108.9, 108.9, 108.9, 108.9, 1) };
    double o[5], a[5];
    run("rvol_3", b, 5, o);
    run("rvol_3_4", b, 5, a);
    double r[5] = { 0, log(1.1), log(0.9), 0, log(1.1) };
    CHECK(isnan(o[2]));
    for (int i = 3; i < 5; i++) {
        double m = (r[i - 2] + r[i - 1] + r[i]) / 3, ss = 0;
        for (int j = i - 2; j <= i; j++)
            ss += (r[j] - m) * (r[j] - m);
        double want = 100 * sqrt(ss / 2); /* sample stddev, percent */
        CHECK_NEAR(o[i], want, 1e-12);
        CHECK_NEAR(a[i], 2 * want, 1e-12); /* annualised by sqrt(4) */
    }
}

static void hand_supertrend(void)
{
    ta_bar b[] = {
        bar(0, 9, 10, 8, 9, 1),       /* no ATR yet */
        bar(1, 10, 11, 9, 10, 1),     /* TR 2, hl2 10: bands 12/8, starts down: line 12 */
        bar(2, 12, 13, 11, 12.5, 1),  /* TR 3, bands 15/9 -> upper stays 12, close > 12: up */
        bar(3, 11, 12, 9, 9.5, 1),    /* TR 3.5, lower stays 9, close 9.5 >= 9: still up */
        bar(4, 9, 9, 7, 7.5, 1),      /* TR 2.5, upper 10.5, close 7.5 < 9: down */
    };
    double o[10];
    run("supertrend_1_1", b, 5, o);
    CHECK(isnan(o[0]) && isnan(o[1]));
    CHECK(o[2] == 12 && o[3] == -1);
    CHECK(o[4] == 9 && o[5] == 1);
    CHECK(o[6] == 9 && o[7] == 1);
    CHECK(o[8] == 10.5 && o[9] == -1);
}

/* The other indicators TA-Lib lacks or that Kestrel composes: z-score, Keltner, Donchian,
 * Ichimoku, Hull MA, Bollinger %B and bandwidth, worked out by hand on short series. */
static const ta_bar hb[] = {
    { 0, 10, 11, 9, 10, 1 },    { 1, 11, 12, 10, 11, 1 },   { 2, 12, 14, 11, 13, 1 },
    { 3, 13, 13, 10, 12, 1 },   { 4, 12, 12, 11, 11.5, 1 },
};

static void hand_zscore(void)
{
    static const double c[] = { 1, 2, 3, 3, 3, 4 };
    ta_bar b[6];
    for (int i = 0; i < 6; i++)
        b[i] = bar(i, c[i], c[i], c[i], c[i], 1);
    double o[6];
    run("zscore_3", b, 6, o);
    CHECK(isnan(o[0]) && isnan(o[1]));
    CHECK_NEAR(o[2], 1.0 / sqrt(2.0 / 3.0), 1e-15); /* (3 - 2) / sqrt(2/3) */
    CHECK_NEAR(o[3], 1.0 / sqrt(2.0), 1e-15);       /* 2,3,3: (1/3) / (sqrt 2 / 3) */
    CHECK(o[4] == 0);                               /* 3,3,3: no deviation */
    CHECK_NEAR(o[5], sqrt(2.0), 1e-15);             /* 3,3,4: (2/3) / (sqrt 2 / 3) */

    /* a flat window is exactly 0 whatever the price: a mean rounded one ulp off the closes
     * must not become a deviation of one ulp and a z-score of +-1 (the first two-pass version
     * did that at 61765.99 with 20 bars) */
    static const double px[] = { 0.1, 1.23456789, 3, 2682.4, 17169.27, 61765.99, 99999.99 };
    static const char *zs[] = { "zscore_2", "zscore_3", "zscore_7", "zscore_20", "zscore_50" };
    size_t flat_bad = 0;
    for (size_t k = 0; k < K_ARRAY_LEN(px); k++)
        for (size_t z = 0; z < K_ARRAY_LEN(zs); z++) {
            ta_bar f[120];
            for (int i = 0; i < 120; i++) { /* moving, then flat for 60 bars */
                double v = i < 60 ? px[k] * (1 + 0.001 * (i % 7)) : px[k];
                f[i] = bar(i, v, v, v, v, 1);
            }
            double fo[120];
            run(zs[z], f, 120, fo);
            flat_bad += fo[119] != 0;
            run("rvol_20", f, 120, fo);
            flat_bad += fo[119] != 0;
        }
    CHECK_INT(flat_bad, 0);

    /* a 2-bar z-score is exactly -1, 0 or +1; at BTC prices after a day of bars it still is
     * (running sums of squares would give +-1 +- 5e-8, and +-1 for equal closes) */
    char p[512];
    tt_path(p, sizeof(p), "klines/lean_binance_BTCBUSD_1m_2022-12-13.csv");
    tt_bars d = tt_load_bars(p);
    CHECK_INT(d.n, 1440);
    double *z = xmalloc(d.n * sizeof(double));
    run("zscore_2", d.b, d.n, z);
    size_t bad = 0, zeros = 0;
    for (size_t i = 1; i < d.n; i++) {
        double want = d.b[i].c > d.b[i - 1].c ? 1 : d.b[i].c < d.b[i - 1].c ? -1 : 0;
        zeros += want == 0;
        /* (b - mean) / sd with b - mean = (b - a) / 2: relative error ~ ulp(price) / |b - a| */
        bad += want == 0 ? z[i] != 0 : fabs(z[i] - want) > 1e-9;
    }
    CHECK(zeros > 0); /* the day has unchanged closes */
    printf("zscore_2 over a real day: %zu unchanged closes give exactly 0, %zu others +-1\n",
           zeros, d.n - 1 - zeros);
    CHECK_INT(bad, 0);
    free(z);
    free(d.b);
}

static void hand_keltner_donchian(void)
{
    double o[5 * 3];
    /* Keltner 3/2/2: EMA(3) of the close +- 2 * ATR(2). TRs: bar1 2, bar2 3, bar3 3. */
    run("keltner_3_2_2", hb, 5, o);
    CHECK(isnan(o[1 * 3]) && isnan(o[1 * 3 + 1]));
    double ema = (10 + 11 + 13) / 3.0, atr = (2 + 3) / 2.0; /* first values at bar 2 */
    CHECK_NEAR(o[2 * 3 + 1], ema, 1e-15);
    CHECK_NEAR(o[2 * 3], ema + 2 * atr, 1e-15);
    CHECK_NEAR(o[2 * 3 + 2], ema - 2 * atr, 1e-15);
    ema += (12 - ema) * 0.5;     /* 35/3 */
    atr = (atr * 1 + 3) / 2;     /* Wilder: 2.75 */
    CHECK_NEAR(o[3 * 3 + 1], 35.0 / 3.0, 1e-15);
    CHECK_NEAR(o[3 * 3], ema + 2 * atr, 1e-15);
    CHECK_NEAR(o[3 * 3 + 2], ema - 2 * atr, 1e-15);

    /* Donchian 3: highest high, mid, lowest low of the last 3 bars including this one */
    run("donchian_3", hb, 5, o);
    CHECK(isnan(o[1 * 3]));
    CHECK(o[2 * 3] == 14 && o[2 * 3 + 1] == 11.5 && o[2 * 3 + 2] == 9);
    CHECK(o[3 * 3] == 14 && o[3 * 3 + 1] == 12 && o[3 * 3 + 2] == 10);
    CHECK(o[4 * 3] == 14 && o[4 * 3 + 1] == 12 && o[4 * 3 + 2] == 10);
}

static void hand_ichimoku(void)
{
    double o[5 * 5];
    char err[160];
    /* tenkan 2, kijun 3, senkou B 4, displacement 3: drawn +-2 bars */
    run("ichimoku_2_3_4_3", hb, 5, o);
    static const double want[5][5] = {
        /* tenkan, kijun, senkou A, senkou B, chikou (NaN = warming up) */
        { NAN, NAN, NAN, NAN, 10 },
        { 10.5, NAN, NAN, NAN, 11 },            /* (12 + 9) / 2 */
        { 12, 11.5, 11.75, NAN, 13 },           /* (14 + 10) / 2, (14 + 9) / 2 */
        { 12, 12, 12, 11.5, 12 },               /* senkou B (14 + 9) / 2 over 4 bars */
        { 11.5, 12, 11.75, 12, 11.5 },          /* (13 + 10) / 2; (14 + 10) / 2 */
    };
    size_t bad = 0;
    for (int i = 0; i < 5; i++)
        for (int k = 0; k < 5; k++)
            bad += !(isnan(want[i][k]) ? isnan(o[i * 5 + k]) : o[i * 5 + k] == want[i][k]);
    CHECK_INT(bad, 0);
    ta_ind *ind = ta_ind_new("ichimoku_2_3_4_3", err, sizeof(err));
    CHECK(ind != NULL);
    if (ind) {
        CHECK_INT(ta_ind_output_shift(ind, 0), 0);
        CHECK_INT(ta_ind_output_shift(ind, 1), 0);
        CHECK_INT(ta_ind_output_shift(ind, 2), 2);
        CHECK_INT(ta_ind_output_shift(ind, 3), 2);
        CHECK_INT(ta_ind_output_shift(ind, 4), -2);
        ta_ind_free(ind);
    }
}

static void hand_hma_bb(void)
{
    static const double c[] = { 1, 2, 4, 8, 16, 32 };
    ta_bar b[6];
    for (int i = 0; i < 6; i++)
        b[i] = bar(i, c[i], c[i], c[i], c[i], 1);
    double o[6 * 5];
    /* HMA 4 = WMA(2 * WMA(2) - WMA(4), 2); WMA(2) = (x[i-1] + 2x[i]) / 3 */
    run("hma_4", b, 6, o);
    double d3 = 2 * (4 + 2 * 8) / 3.0 - (1 + 2 * 2 + 3 * 4 + 4 * 8) / 10.0;
    double d4 = 2 * (8 + 2 * 16) / 3.0 - (2 + 2 * 4 + 3 * 8 + 4 * 16) / 10.0;
    double d5 = 2 * (16 + 2 * 32) / 3.0 - (4 + 2 * 8 + 3 * 16 + 4 * 32) / 10.0;
    CHECK(isnan(o[3]));
    CHECK_NEAR(o[4], (d3 + 2 * d4) / 3, 1e-14);
    CHECK_NEAR(o[5], (d4 + 2 * d5) / 3, 1e-14);

    /* Bollinger 3/2 %B and bandwidth: closes 1, 2, 4 -> mean 7/3, population sd */
    run("bb_3_2", b, 3, o);
    double m = 7.0 / 3.0;
    double sd = sqrt(((1 - m) * (1 - m) + (2 - m) * (2 - m) + (4 - m) * (4 - m)) / 3);
    double up = m + 2 * sd, lo = m - 2 * sd;
    CHECK_NEAR(o[2 * 5], up, 1e-12);
    CHECK_NEAR(o[2 * 5 + 2], lo, 1e-12);
    CHECK_NEAR(o[2 * 5 + 3], (4 - lo) / (up - lo), 1e-12);
    CHECK_NEAR(o[2 * 5 + 4], 100 * (up - lo) / m, 1e-12);
    ta_bar flat[3] = { bar(0, 5, 5, 5, 5, 1), bar(1, 5, 5, 5, 5, 1), bar(2, 5, 5, 5, 5, 1) };
    run("bb_3_2", flat, 3, o);
    CHECK(o[2 * 5] == 5 && o[2 * 5 + 2] == 5);
    CHECK(o[2 * 5 + 3] == 0.5 && o[2 * 5 + 4] == 0); /* bands met: %B 0.5, width 0 */
}

static void hand_talib_conventions(void)
{
    ta_bar b[40];
    static const double c[40] = { 10, 11, 12, 11, 13, 14, 13, 15, 16, 15, 17, 18, 17, 19,
                                  20, 19, 21, 22, 21, 23, 22, 21, 20, 21, 19, 18, 19, 17,
                                  16, 17, 15, 14, 15, 13, 12, 13, 11, 12, 10, 11 };
    for (int i = 0; i < 40; i++)
        b[i] = bar(i, c[i], c[i] + 1, c[i] - 1, c[i], 10 + i);
    double o[40 * 3];
    run("ema_3", b, 5, o); /* seed: SMA of the first 3 = 11, then k = 0.5 */
    CHECK(isnan(o[1]));
    CHECK(o[2] == 11);
    CHECK(o[3] == 11);   /* (11 - 11) * 0.5 + 11 */
    CHECK(o[4] == 12);   /* (13 - 11) * 0.5 + 11 */
    run("obv", b, 3, o); /* starts at the first bar's volume */
    CHECK(o[0] == 10 && o[1] == 21 && o[2] == 33);
    run("rsi_3", b, 5, o); /* seed: gains 1+1, losses 1 over 3 changes -> 2/3 vs 1/3 */
    CHECK(isnan(o[2]));
    CHECK_NEAR(o[3], 100.0 * (2.0 / 3.0) / (2.0 / 3.0 + 1.0 / 3.0), 1e-15);
    /* then Wilder: gain = (2/3*2 + 2)/3, loss = (1/3*2 + 0)/3 */
    double g = (2.0 / 3.0 * 2 + 2) / 3, l = (1.0 / 3.0 * 2) / 3;
    CHECK_NEAR(o[4], 100 * g / (g + l), 1e-12);
    run("sma_4", b, 5, o);
    CHECK(o[3] == 11 && o[4] == 11.75);
    /* MACD 2/4/2: the slow EMA seeds on bars 0-3, the fast one on bars 2-3 (TA-Lib), the
     * signal on the first two MACD values */
    run("macd_2_4_2", b, 6, o);
    double slow = (10 + 11 + 12 + 11) / 4.0, fast = (12 + 11) / 2.0;
    double m3 = fast - slow;
    slow = (13 - slow) * 0.4 + slow;
    fast = (13 - fast) * (2.0 / 3.0) + fast;
    double m4 = fast - slow;
    CHECK(isnan(o[3 * 3]));
    CHECK_NEAR(o[4 * 3], m4, 1e-12);
    CHECK_NEAR(o[4 * 3 + 1], (m3 + m4) / 2, 1e-12);
    CHECK_NEAR(o[4 * 3 + 2], m4 - (m3 + m4) / 2, 1e-9);
}

/* naive batch versions over a real day: each bar recomputed from scratch */
static void batch_vs_incremental(void)
{
    char p[512];
    tt_path(p, sizeof(p), "klines/lean_coinbase_BTCUSD_1m_2018-04-04_05.csv"); /* 2 days, gaps */
    tt_bars d = tt_load_bars(p);
    CHECK(d.n > 2000);
    size_t n = d.n, bad = 0;
    double *o = xmalloc(n * 2 * sizeof(double));

    run("vwap", d.b, n, o);
    for (size_t i = 0; i < n; i++) {
        int64_t day = d.b[i].t / DAY_MS;
        double pv = 0, v = 0;
        for (size_t j = 0; j <= i; j++)
            if (d.b[j].t / DAY_MS == day) {
                pv += (d.b[j].h + d.b[j].l + d.b[j].c) / 3.0 * d.b[j].v;
                v += d.b[j].v;
            }
        bad += !tt_near(o[i], v > 0 ? pv / v : (d.b[i].h + d.b[i].l + d.b[i].c) / 3.0, 1e-12);
    }
    CHECK_INT(bad, 0);

    const size_t w = 20;
    run("cmf_20", d.b, n, o);
    for (size_t i = w - 1; i < n; i++) {
        double m = 0, v = 0;
        for (size_t j = i + 1 - w; j <= i; j++) {
            double hl = d.b[j].h - d.b[j].l;
            if (hl > 0)
                m += ((d.b[j].c - d.b[j].l) - (d.b[j].h - d.b[j].c)) / hl * d.b[j].v;
            v += d.b[j].v;
        }
        bad += fabs(o[i] - (v > 0 ? m / v : 0)) > 1e-9;
    }
    CHECK_INT(bad, 0);

    run("rvol_20", d.b, n, o);
    for (size_t i = w; i < n; i++) {
        double r[20], m = 0, ss = 0;
        for (size_t j = 0; j < w; j++) {
            size_t k = i + 1 - w + j;
            r[j] = log(d.b[k].c / d.b[k - 1].c);
            m += r[j];
        }
        m /= (double)w;
        for (size_t j = 0; j < w; j++)
            ss += (r[j] - m) * (r[j] - m);
        double want = 100 * sqrt(ss / (double)(w - 1));
        bad += fabs(o[i] - want) > 1e-9 * want + 1e-12;
    }
    CHECK_INT(bad, 0);

    /* SuperTrend from its definition, with a batch TA-Lib-style ATR */
    run("supertrend_10_3", d.b, n, o);
    double *atr = xmalloc(n * sizeof(double));
    for (size_t i = 0; i < n; i++)
        atr[i] = NAN;
    double s = 0;
    for (size_t i = 1; i <= 10 && i < n; i++)
        s += fmax(d.b[i].h - d.b[i].l, fmax(fabs(d.b[i].h - d.b[i - 1].c),
                                            fabs(d.b[i].l - d.b[i - 1].c)));
    atr[10] = s / 10;
    for (size_t i = 11; i < n; i++) {
        double tr = fmax(d.b[i].h - d.b[i].l,
                         fmax(fabs(d.b[i].h - d.b[i - 1].c), fabs(d.b[i].l - d.b[i - 1].c)));
        atr[i] = (atr[i - 1] * 9 + tr) / 10;
    }
    double fu = 0, fl = 0;
    int dir = 0;
    for (size_t i = 10; i < n; i++) {
        double hl2 = (d.b[i].h + d.b[i].l) / 2, bu = hl2 + 3 * atr[i], bl = hl2 - 3 * atr[i];
        if (!dir) {
            fu = bu;
            fl = bl;
            dir = -1;
        } else {
            double pc = d.b[i - 1].c;
            fl = (bl > fl || pc < fl) ? bl : fl;
            fu = (bu < fu || pc > fu) ? bu : fu;
            dir = dir < 0 ? (d.b[i].c > fu ? 1 : -1) : (d.b[i].c < fl ? -1 : 1);
        }
        bad += !tt_near(o[2 * i], dir > 0 ? fl : fu, 1e-12) || o[2 * i + 1] != dir;
    }
    CHECK_INT(bad, 0);
    free(atr);
    free(o);
    free(d.b);
}

int main(void)
{
    hand_vwap();
    hand_cmf();
    hand_rvol();
    hand_supertrend();
    hand_zscore();
    hand_keltner_donchian();
    hand_ichimoku();
    hand_hma_bb();
    hand_talib_conventions();
    batch_vs_incremental();
    CHECK_DONE();
}
