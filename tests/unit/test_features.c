/* features: >= 60 named features; on a real 1m kline day (lean BTCBUSD 2022-12-13) the raw
 * values equal brute-force recomputations from the CSV and TA-Lib's RSI; what a kline file cannot
 * supply (book, trades, taker delta, funding) is missing, never zero; book / trade / funding
 * inputs make them present and go stale; the online normaliser uses only earlier samples;
 * cyclic time; out-of-order bars refused; normaliser save/load. */
#include "check.h"
#include "kestrel/features.h"
#include "klines.h"

static candle *bars;
static uint32_t nbars;

static double px(kdec v)
{
    return (double)v / 1e8;
}

static void test_names(void)
{
    CHECK(features_count() >= 60);
    CHECK_INT(features_count(), FEAT_COUNT);
    int dup = 0;
    for (uint32_t i = 0; i < FEAT_COUNT; i++)
        for (uint32_t j = i + 1; j < FEAT_COUNT; j++)
            dup += strcmp(features_name(i), features_name(j)) == 0;
    CHECK_INT(dup, 0);
    CHECK_STR(features_name(FEAT_RSI_X_IMB), "rsi_x_imb5");
    CHECK(features_name(FEAT_COUNT) == NULL);
    CHECK(!features_normalised(FEAT_HOUR_SIN) && features_normalised(FEAT_RET_1));
    CHECK_INT(features_vote_idx[SCORER_BB], FEAT_VOTE_BB);
}

static void test_real_day(void)
{
    features_config cfg;
    features_config_default(&cfg);
    cfg.analysis_tf = TF_1M;
    features *f = features_new(&cfg);
    double raw[FEAT_COUNT];
    float x[FEAT_COUNT];
    uint8_t miss[FEAT_COUNT];
    int bad_ret = 0, bad_range = 0, bad_vr = 0, bad_rv = 0, bad_lag = 0, zero_missing = 0;
    int leak_bad = 0, checked_z = 0;
    double sum = 0, sq = 0; /* ret_1 history for the normaliser check */
    uint64_t nret = 0;
    for (uint32_t i = 0; i < nbars; i++) {
        CHECK_INT(features_on_bar(f, TF_1M, &bars[i], false), K_OK);
        int64_t now = bars[i].open_ms + 60000;
        uint32_t nm = features_extract(f, now, x, miss, raw);
        (void)nm;
        for (int k = 0; k < FEAT_COUNT; k++)
            zero_missing += miss[k] && x[k] != 0.0f;
        if (i >= 1) {
            double want = log(px(bars[i].c) / px(bars[i - 1].c));
            bad_ret += fabs(raw[FEAT_RET_1] - want) > 1e-12;
            if (nret >= 20) {
                double mean = sum / nret, sd = sqrt((sq - nret * mean * mean) / (nret - 1));
                double z = (raw[FEAT_RET_1] - mean) / sd;
                z = z > 8 ? 8 : z < -8 ? -8 : z;
                leak_bad += miss[FEAT_RET_1] || fabs(x[FEAT_RET_1] - z) > 1e-4 * (1 + fabs(z));
                checked_z++;
            } else {
                leak_bad += !miss[FEAT_RET_1];
            }
            sum += raw[FEAT_RET_1];
            sq += raw[FEAT_RET_1] * raw[FEAT_RET_1];
            nret++;
        }
        if (i >= 11) {
            double r[10], m = 0, v = 0;
            for (int k = 0; k < 10; k++) {
                r[k] = log(px(bars[i - k].c) / px(bars[i - k - 1].c));
                m += r[k] / 10;
            }
            for (int k = 0; k < 10; k++)
                v += (r[k] - m) * (r[k] - m) / 9;
            bad_rv += fabs(raw[FEAT_RV_10] - sqrt(v)) > 1e-9 * (1 + sqrt(v));
            double lag = log(px(bars[i - 10].c) / px(bars[i - 11].c));
            bad_lag += fabs(raw[FEAT_RET_1_L10] - lag) > 1e-12;
        }
        if (i >= 59) {
            double hi = 0, lo = 1e18;
            for (uint32_t k = 0; k <= i; k++) {
                hi = fmax(hi, px(bars[k].h));
                lo = fmin(lo, px(bars[k].l));
            }
            double want = (px(bars[i].c) - lo) / (hi - lo);
            bad_range += fabs(raw[FEAT_RANGE_POS_24H] - want) > 1e-12;
        } else {
            bad_range += !isnan(raw[FEAT_RANGE_POS_24H]);
        }
        if (i >= 19) {
            double m = 0;
            for (int k = 0; k < 20; k++)
                m += px(bars[i - k].volume) / 20;
            bad_vr += fabs(raw[FEAT_VOL_RATIO] - px(bars[i].volume) / m) > 1e-9;
        }
        /* a kline file has no book, trades, taker volume or funding */
        if (!miss[FEAT_IMB_5] || !miss[FEAT_SPREAD_BPS] || !miss[FEAT_FLOW_30S] ||
            !miss[FEAT_BAR_DELTA] || !miss[FEAT_CVD_20] || !miss[FEAT_FUNDING] ||
            !miss[FEAT_RSI_X_IMB] || !miss[FEAT_VOTE_FLOW])
            zero_missing++;
    }
    CHECK_INT(bad_ret, 0);
    CHECK_INT(bad_rv, 0);
    CHECK_INT(bad_lag, 0);
    CHECK_INT(bad_range, 0);
    CHECK_INT(bad_vr, 0);
    CHECK_INT(zero_missing, 0);
    CHECK_INT(leak_bad, 0);
    CHECK(checked_z > 1000);
    /* the 1m timeframe's RSI is TA-Lib's (last bar of the reference file) */
    char path[512];
    snprintf(path, sizeof path, "%s/ta-reference/talib_lean_binance_BTCBUSD_1m_2022-12-13.csv",
             check_shared_data());
    FILE *fp = fopen(path, "r");
    CHECK(fp != NULL);
    char line[4096], last[4096] = "";
    while (fp && fgets(line, sizeof line, fp))
        memcpy(last, line, sizeof line);
    if (fp)
        fclose(fp);
    char *tok = strtok(last, ","); /* time, sma, ema, rsi */
    for (int k = 0; k < 3 && tok; k++)
        tok = strtok(NULL, ",");
    CHECK(tok != NULL);
    if (tok)
        CHECK_NEAR(raw[FEAT_RSI_14], strtod(tok, NULL), 1e-9);
    CHECK_NEAR(raw[FEAT_C1M_RSI], raw[FEAT_RSI_14], 0);
    CHECK(isnan(raw[FEAT_C1H_RSI])); /* no 1h bars were fed */
    /* time of the last extract: 2022-12-14 00:00 UTC, a Wednesday */
    CHECK_NEAR(raw[FEAT_HOUR_SIN], 0, 1e-12);
    CHECK_NEAR(raw[FEAT_HOUR_COS], 1, 1e-12);
    CHECK_NEAR(raw[FEAT_DOW_SIN], sin(2 * M_PI * 2 / 7), 1e-12);
    CHECK_NEAR(raw[FEAT_WEEKEND], 0, 0);
    features_peek(f, 1671235200000LL + 6 * 3600000LL, raw); /* Sat 2022-12-17 06:00 */
    CHECK_NEAR(raw[FEAT_WEEKEND], 1, 0);
    CHECK_NEAR(raw[FEAT_HOUR_SIN], 1, 1e-12);
    /* a bar not after the last one of its timeframe is refused */
    CHECK_INT(features_on_bar(f, TF_1M, &bars[nbars - 1], false), K_ERR);
    candle bad = bars[nbars - 1];
    bad.open_ms += 60000;
    bad.l = bad.h + 1;
    CHECK_INT(features_on_bar(f, TF_1M, &bad, false), K_ERR);
    CHECK_INT(features_bars(f, TF_1M), nbars);
    CHECK_INT(features_on_bar(f, TF_1D, &bad, false), K_OK); /* not read: ignored */

    /* normaliser save/load: the next vectors are identical */
    model_blob b = { 0 };
    features_save(f, &b);
    features *g = features_new(&cfg);
    for (uint32_t i = 0; i < nbars; i++)
        CHECK_INT(features_on_bar(g, TF_1M, &bars[i], false), K_OK);
    CHECK_INT(features_load(g, b.data, b.len), K_MODEL_OK);
    float y[FEAT_COUNT];
    uint8_t my[FEAT_COUNT];
    int64_t now = bars[nbars - 1].open_ms + 60000;
    features_extract(f, now, x, miss, NULL);
    features_extract(g, now, y, my, NULL);
    CHECK(memcmp(x, y, sizeof x) == 0 && memcmp(miss, my, sizeof miss) == 0);
    CHECK_INT(features_load(g, b.data, b.len - 8), K_MODEL_BAD_STATE);
    model_blob_free(&b);
    features_free(g);
    features_free(f);
}

static void test_book_trades_funding(void)
{
    features *f = features_new(NULL);
    double raw[FEAT_COUNT];
    int64_t t0 = 1723161253000LL;
    features_peek(f, t0, raw);
    CHECK(isnan(raw[FEAT_IMB_5]) && isnan(raw[FEAT_FLOW_300S]) && isnan(raw[FEAT_BASIS_BPS]));
    /* 25 bid levels of 1.0 and 25 ask levels of 3.0 (top 5: bids 2.0 each) */
    kdec bp[25], bq[25], ap[25], aq[25];
    for (int i = 0; i < 25; i++) {
        bp[i] = (100 * KDEC_SCALE) - i * KDEC_SCALE / 100;
        ap[i] = (100 * KDEC_SCALE) + KDEC_SCALE / 100 + i * KDEC_SCALE / 100;
        bq[i] = (i < 5 ? 2 : 1) * KDEC_SCALE;
        aq[i] = 3 * KDEC_SCALE;
    }
    features_on_depth(f, bp, bq, 25, ap, aq, 25, t0);
    features_peek(f, t0 + 1000, raw);
    CHECK_NEAR(raw[FEAT_IMB_5], (10.0 - 15.0) / 25.0, 1e-12);
    CHECK_NEAR(raw[FEAT_IMB_20], (25.0 - 60.0) / 85.0, 1e-12);
    CHECK_NEAR(raw[FEAT_SPREAD_BPS], 0.01 / 100.005 * 1e4, 1e-9);
    double micro = (100.0 * 3 + 100.01 * 2) / 5, mid = 100.005;
    CHECK_NEAR(raw[FEAT_MICRO_BPS], (micro - mid) / mid * 1e4, 1e-9);
    CHECK(raw[FEAT_DEPTH_20] > 3 && raw[FEAT_DEPTH_20] < 4); /* ~8500 quote */
    features_peek(f, t0 + 10001, raw); /* stale */
    CHECK(isnan(raw[FEAT_IMB_5]));
    /* crossed or one-sided input invalidates */
    features_on_depth(f, ap, aq, 25, bp, bq, 25, t0);
    features_peek(f, t0, raw);
    CHECK(isnan(raw[FEAT_SPREAD_BPS]));
    /* trades: 3 buys of 1, 1 sell of 1 within 30 s; an older sell of 4 within 300 s */
    features_on_trade(f, t0 - 100000, 100 * KDEC_SCALE, 4 * KDEC_SCALE, true);
    for (int i = 0; i < 3; i++)
        features_on_trade(f, t0 - 1000 * i, 100 * KDEC_SCALE, KDEC_SCALE, false);
    features_on_trade(f, t0 - 5000, 100 * KDEC_SCALE, KDEC_SCALE, true);
    features_on_trade(f, t0 + 5000, 100 * KDEC_SCALE, 50 * KDEC_SCALE, false); /* future */
    features_peek(f, t0 + 999, raw);
    CHECK_NEAR(raw[FEAT_FLOW_30S], 0.5, 1e-12);
    CHECK_NEAR(raw[FEAT_FLOW_300S], (3.0 - 5.0) / 8.0, 1e-12);
    CHECK_NEAR(raw[FEAT_TRADE_RATE], log1p(5 / 5.0), 1e-12);
    features_peek(f, t0 + 5000 + 300000, raw); /* nothing in the last 5 minutes */
    CHECK(isnan(raw[FEAT_FLOW_30S]));
    features_on_funding(f, t0, 0.0001, 100.5, 100.0);
    features_peek(f, t0 + 1, raw);
    CHECK_NEAR(raw[FEAT_FUNDING], 0.0001, 1e-15);
    CHECK_NEAR(raw[FEAT_BASIS_BPS], 50, 1e-9);
    features_on_funding(f, t0, NAN, 100, 100);
    features_peek(f, t0 + 1, raw);
    CHECK(isnan(raw[FEAT_FUNDING]));
    features_on_book(f, NULL, t0);
    features_peek(f, t0, raw);
    CHECK(isnan(raw[FEAT_IMB_5]));
    features_free(f);
}

static void test_taker_delta(void)
{
    features_config cfg;
    features_config_default(&cfg);
    cfg.analysis_tf = TF_1M;
    features *f = features_new(&cfg);
    double raw[FEAT_COUNT];
    double d = 0, v = 0;
    for (uint32_t i = 0; i < 25; i++) {
        candle c = bars[i];
        c.buy_volume = c.volume / 3;
        CHECK_INT(features_on_bar(f, TF_1M, &c, true), K_OK);
        if (i >= 5) {
            d += 2 * px(c.buy_volume) - px(c.volume);
            v += px(c.volume);
        }
    }
    features_peek(f, bars[24].open_ms + 60000, raw);
    candle c = bars[24];
    c.buy_volume = c.volume / 3;
    CHECK_NEAR(raw[FEAT_BAR_DELTA], (2 * px(c.buy_volume) - px(c.volume)) / px(c.volume), 1e-9);
    CHECK_NEAR(raw[FEAT_CVD_20], d / v, 1e-9);
    features_free(f);
}

int main(void)
{
    char path[512];
    snprintf(path, sizeof path, "%s/klines/lean_binance_BTCBUSD_1m_2022-12-13.csv",
             check_shared_data());
    nbars = klines_load(path, &bars);
    CHECK_INT(nbars, 1440);
    if (nbars < 100)
        CHECK_DONE();
    test_names();
    test_real_day();
    test_book_trades_funding();
    test_taker_delta();
    free(bars);
    CHECK_DONE();
}
