/* Properties every indicator must have, on real data: peek never changes state (the state block
 * compared byte for byte) and gives exactly what update then gives; a reset instance replays to
 * the same state as a fresh one; values are NaN exactly during the warm-up and finite after it
 * (NaN-free on a month of 1m bars and on a file with missing minutes); edge cases (flat prices,
 * zero volume, a single bar, minimal periods). Also the registry, spec parsing, ta_set and
 * ta_chart (history ring, validation, memory). */
#include "check.h"
#include "kestrel/candles.h"
#include "kestrel/ta.h"
#include "../../src/ta/ta_impl.h"
#include "ta_test_util.h"

/* Every indicator at its defaults, plus the smallest and odd parameters. */
static const char *extra_specs[] = {
    "sma_1",         "ema_1",          "wma_1",          "dema_1",       "tema_1",
    "trix_1",        "kama_2",         "hma_2",          "hma_3",        "rsi_2",
    "stochrsi_2_1_1", "macd_1_1_1",    "macd_26_12_9",   "bb_2_1",       "bb_20_0.5",
    "atr_1",         "natr_1",         "stoch_1_1_1",    "stochf_1_1",   "adx_2",
    "aroon_2",       "cci_2",          "mfi_1",          "roc_1",        "mom_1",
    "willr_1",       "sar_0.2_0.02",   "ichimoku_1_1_1_1", "keltner_1_1_1", "donchian_1",
    "supertrend_1_1", "cmf_1",         "ultosc_1_1_1",   "ultosc_28_7_14", "stddev_2",
    "zscore_2",      "linreg_slope_2", "rvol_2_525600",  "adosc_1_1",    "ichimoku_20_60_120_30",
};

static int nspecs(void)
{
    return (int)(ta_info_count() + K_ARRAY_LEN(extra_specs));
}
static const char *spec_at(int i)
{
    return i < (int)ta_info_count() ? ta_info_at((uint32_t)i)->name
                                    : extra_specs[i - (int)ta_info_count()];
}

static ta_bar forming_variant(const ta_bar *b, int v)
{
    ta_bar f = *b;
    if (v == 1) { /* a half-formed bar */
        f.c = (b->h + b->l) / 2;
        f.v = b->v / 3;
    } else if (v == 2) { /* an extreme one */
        f.h = b->h * 2;
        f.l = b->l / 2;
        f.o = f.c = f.l;
        f.v = 0;
    }
    return f;
}

/* peek invariance, peek == update, warm-up NaN / finite after, reset == fresh */
static void check_properties(const tt_bars *bars, const char *label)
{
    size_t bad_state = 0, bad_peek = 0, bad_warm = 0, bad_finite = 0, bad_reset = 0;
    for (int s = 0; s < nspecs(); s++) {
        char err[160];
        ta_ind *ind = ta_ind_new(spec_at(s), err, sizeof(err));
        CHECK(ind != NULL);
        if (!ind) {
            fprintf(stderr, "%s: %s\n", spec_at(s), err);
            continue;
        }
        uint32_t no = ta_ind_outputs(ind);
        size_t len;
        const void *st = ta_ind_state(ind, &len);
        unsigned char *copy = xmalloc(len), *initial = xmalloc(len);
        memcpy(initial, st, len);
        double *hist = xmalloc(bars->n * no * sizeof(double));
        for (size_t i = 0; i < bars->n; i++) {
            double pk[TA_MAX_OUTPUTS], up[TA_MAX_OUTPUTS];
            for (int v = 2; v >= 0; v--) {
                ta_bar f = forming_variant(&bars->b[i], v);
                memcpy(copy, st, len);
                ta_ind_peek(ind, &f, pk);
                if (memcmp(copy, st, len) != 0) {
                    if (bad_state++ < 5)
                        fprintf(stderr, "%s: peek changed the state of %s at bar %zu\n",
                                label, ta_ind_spec(ind), i);
                }
            }
            ta_ind_update(ind, &bars->b[i], up);
            for (uint32_t k = 0; k < no; k++) {
                hist[i * no + k] = up[k];
                if (!tt_same(pk[k], up[k]) && bad_peek++ < 5)
                    fprintf(stderr, "%s: %s peek %.17g != update %.17g at bar %zu\n", label,
                            ta_ind_output_name(ind, k), pk[k], up[k], i);
                bool warm = i < ta_ind_lookback(ind, k);
                if (warm && !isnan(up[k]) && bad_warm++ < 5)
                    fprintf(stderr, "%s: %s has a value during warm-up (bar %zu)\n", label,
                            ta_ind_output_name(ind, k), i);
                if (!warm && !isfinite(up[k]) && bad_finite++ < 5)
                    fprintf(stderr, "%s: %s not finite after warm-up (bar %zu): %g\n", label,
                            ta_ind_output_name(ind, k), i, up[k]);
            }
        }
        CHECK_INT(ta_ind_bars(ind), bars->n);
        /* reset and replay: the same outputs, and the same state as a fresh instance */
        ta_ind_reset(ind);
        if (memcmp(ta_ind_state(ind, &len), initial, len) != 0)
            bad_reset++; /* reset restores the state of creation, byte for byte */
        ta_ind *fresh = ta_ind_new(spec_at(s), err, sizeof(err));
        size_t flen;
        ta_ind_state(fresh, &flen);
        CHECK_INT(flen, len);
        for (size_t i = 0; i < bars->n; i++) {
            double a[TA_MAX_OUTPUTS], b[TA_MAX_OUTPUTS];
            ta_ind_update(ind, &bars->b[i], a);
            ta_ind_update(fresh, &bars->b[i], b);
            for (uint32_t k = 0; k < no; k++)
                if (!tt_same(a[k], hist[i * no + k]) || !tt_same(b[k], a[k]))
                    bad_reset++;
        }
        /* state is fully determined by the bars: replayed instance == fresh instance */
        { /* the states hold pointers into their own blocks, so compare what they produce */
            double a[TA_MAX_OUTPUTS], b[TA_MAX_OUTPUTS];
            ta_bar nb = bars->b[bars->n - 1];
            nb.t += 60000;
            ta_ind_peek(ind, &nb, a);
            ta_ind_peek(fresh, &nb, b);
            for (uint32_t k = 0; k < no; k++)
                if (!tt_same(a[k], b[k]))
                    bad_reset++;
        }
        ta_ind_free(fresh);
        free(copy);
        free(initial);
        free(hist);
        ta_ind_free(ind);
    }
    CHECK_INT(bad_state, 0);
    CHECK_INT(bad_peek, 0);
    CHECK_INT(bad_warm, 0);
    CHECK_INT(bad_finite, 0);
    CHECK_INT(bad_reset, 0);
    printf("%s: %d indicator instances x %zu bars: properties hold\n", label, nspecs(), bars->n);
}

/* Every output finite after warm-up over the whole 45,031-bar month (no drift to NaN/inf). */
static void check_nan_free_long(void)
{
    char p[512];
    tt_path(p, sizeof(p), "klines/btc-perp_1m_2021-12-31_2022-02-01.csv.gz");
    tt_bars bars = tt_load_bars(p);
    CHECK_INT(bars.n, 45031);
    size_t bad = 0;
    for (int s = 0; s < nspecs(); s++) {
        char err[160];
        ta_ind *ind = ta_ind_new(spec_at(s), err, sizeof(err));
        double o[TA_MAX_OUTPUTS];
        for (size_t i = 0; ind && i < bars.n; i++) {
            ta_ind_update(ind, &bars.b[i], o);
            for (uint32_t k = 0; k < ta_ind_outputs(ind); k++)
                if (i >= ta_ind_lookback(ind, k) && !isfinite(o[k]) && bad++ < 5)
                    fprintf(stderr, "%s not finite at bar %zu\n", ta_ind_output_name(ind, k), i);
        }
        ta_ind_free(ind);
    }
    CHECK_INT(bad, 0);
    free(bars.b);
}

static void run_series(const char *spec, const ta_bar *b, size_t n, double *last)
{
    char err[160];
    ta_ind *ind = ta_ind_new(spec, err, sizeof(err));
    CHECK(ind != NULL);
    for (size_t i = 0; ind && i < n; i++)
        ta_ind_update(ind, &b[i], last);
    ta_ind_free(ind);
}

static void check_flat_prices(void)
{
    ta_bar b[300];
    for (int i = 0; i < 300; i++)
        b[i] = (ta_bar){ 1670889600000LL + i * 60000LL, 100, 100, 100, 100, 5 };
    size_t bad = 0;
    for (int s = 0; s < nspecs(); s++) {
        char err[160];
        ta_ind *ind = ta_ind_new(spec_at(s), err, sizeof(err));
        double o[TA_MAX_OUTPUTS];
        for (int i = 0; i < 300; i++) {
            ta_ind_update(ind, &b[i], o);
            for (uint32_t k = 0; k < ta_ind_outputs(ind); k++)
                if ((uint32_t)i >= ta_ind_lookback(ind, k) && !isfinite(o[k]) && bad++ < 5)
                    fprintf(stderr, "flat: %s = %g\n", ta_ind_output_name(ind, k), o[k]);
        }
        ta_ind_free(ind);
    }
    CHECK_INT(bad, 0);
    static const struct {
        const char *spec;
        uint32_t out;
        double want;
    } expect[] = {
        { "sma", 0, 100 },       { "ema", 0, 100 },       { "wma", 0, 100 },
        { "dema", 0, 100 },      { "tema", 0, 100 },      { "kama", 0, 100 },
        { "hma", 0, 100 },       { "rsi", 0, 0 },         { "stochrsi", 0, 0 },
        { "macd", 0, 0 },        { "macd", 2, 0 },        { "bb", 0, 100 },
        { "bb", 2, 100 },        { "bb", 3, 0.5 },        { "bb", 4, 0 },
        { "atr", 0, 0 },         { "natr", 0, 0 },        { "stoch", 0, 0 },
        { "stochf", 0, 0 },      { "adx", 0, 0 },         { "adx", 1, 0 },
        { "aroon", 0, 100 },     { "aroon", 2, 0 },       { "cci", 0, 0 },
        { "mfi", 0, 0 },         { "obv", 0, 5 },         { "vwap", 0, 100 },
        { "roc", 0, 0 },         { "mom", 0, 0 },         { "willr", 0, 0 },
        { "sar", 0, 100 },       { "ichimoku", 2, 100 },  { "keltner", 0, 100 },
        { "donchian", 1, 100 },  { "supertrend", 0, 100 }, { "cmf", 0, 0 },
        { "trix", 0, 0 },        { "ultosc", 0, 0 },      { "stddev", 0, 0 },
        { "zscore", 0, 0 },      { "linreg_slope", 0, 0 }, { "rvol", 0, 0 },
        { "ad", 0, 0 },          { "adosc", 0, 0 },
    };
    for (size_t e = 0; e < K_ARRAY_LEN(expect); e++) {
        double o[TA_MAX_OUTPUTS];
        run_series(expect[e].spec, b, 300, o);
        if (o[expect[e].out] != expect[e].want)
            fprintf(stderr, "flat %s[%u] = %.17g, expected %g\n", expect[e].spec, expect[e].out,
                    o[expect[e].out], expect[e].want);
        CHECK(o[expect[e].out] == expect[e].want);
    }
}

static void check_zero_volume(const tt_bars *real)
{
    size_t n = real->n < 400 ? real->n : 400;
    ta_bar *b = xmalloc(n * sizeof(ta_bar));
    for (size_t i = 0; i < n; i++) {
        b[i] = real->b[i];
        b[i].v = 0;
    }
    size_t bad = 0;
    for (int s = 0; s < nspecs(); s++) {
        char err[160];
        ta_ind *ind = ta_ind_new(spec_at(s), err, sizeof(err));
        double o[TA_MAX_OUTPUTS];
        for (size_t i = 0; i < n; i++) {
            ta_ind_update(ind, &b[i], o);
            for (uint32_t k = 0; k < ta_ind_outputs(ind); k++)
                if (i >= ta_ind_lookback(ind, k) && !isfinite(o[k]) && bad++ < 5)
                    fprintf(stderr, "zero volume: %s = %g\n", ta_ind_output_name(ind, k), o[k]);
        }
        ta_ind_free(ind);
    }
    CHECK_INT(bad, 0);
    double o[TA_MAX_OUTPUTS];
    run_series("obv", b, n, o);
    CHECK(o[0] == 0);
    run_series("mfi", b, n, o);
    CHECK(o[0] == 0);
    run_series("cmf", b, n, o);
    CHECK(o[0] == 0);
    run_series("ad", b, n, o);
    CHECK(o[0] == 0);
    run_series("vwap", b, n, o);
    CHECK(o[0] == (b[n - 1].h + b[n - 1].l + b[n - 1].c) / 3.0);
    /* volume that stops: cmf returns to exactly 0 once the window has no volume left */
    for (size_t i = 0; i < n / 2; i++)
        b[i].v = real->b[i].v;
    run_series("cmf_20", b, n, o);
    CHECK(o[0] == 0);
    free(b);
}

static void check_single_bar(const tt_bars *real)
{
    for (int s = 0; s < nspecs(); s++) {
        char err[160];
        ta_ind *ind = ta_ind_new(spec_at(s), err, sizeof(err));
        double o[TA_MAX_OUTPUTS];
        ta_ind_update(ind, &real->b[0], o);
        for (uint32_t k = 0; k < ta_ind_outputs(ind); k++) {
            if (ta_ind_lookback(ind, k) == 0)
                CHECK(isfinite(o[k]));
            else
                CHECK(isnan(o[k]));
        }
        ta_ind_free(ind);
    }
    double o[TA_MAX_OUTPUTS];
    run_series("obv", real->b, 1, o);
    CHECK(o[0] == real->b[0].v); /* OBV starts at the first bar's volume */
}

static void check_registry(void)
{
    CHECK(ta_info_count() >= 35);
    for (uint32_t i = 0; i < ta_info_count(); i++) {
        const ta_info *a = ta_info_at(i);
        CHECK(ta_info_find(a->name) == a);
        CHECK(((const ta_impl *)a)->state_size <= TA_STATE_MAX);
        CHECK(a->noutputs >= 1 && a->noutputs <= TA_MAX_OUTPUTS);
        CHECK(a->nparams <= TA_MAX_PARAMS);
        for (uint32_t k = 0; k < a->nparams; k++)
            CHECK(a->params[k].def >= a->params[k].min && a->params[k].def <= a->params[k].max);
        for (uint32_t j = 0; j < ta_info_count(); j++) {
            const ta_info *b = ta_info_at(j);
            if (j != i)
                CHECK(strcmp(a->name, b->name) != 0);
            for (uint32_t k = 0; k < a->noutputs; k++)
                for (uint32_t m = 0; m < b->noutputs; m++)
                    if (i != j || k != m)
                        CHECK(strcmp(a->outputs[k].prefix, b->outputs[m].prefix) != 0);
            /* an output prefix may equal only its own indicator's name */
            for (uint32_t k = 0; k < a->noutputs; k++)
                if (j != i)
                    CHECK(strcmp(a->outputs[k].prefix, b->name) != 0);
        }
    }
    CHECK(ta_info_find("nope") == NULL);
    CHECK(ta_info_at(ta_info_count()) == NULL);

    char err[160], spec[TA_SPEC_MAX];
    ta_ind *ind = ta_ind_new("RSI", err, sizeof(err));
    CHECK_STR(ta_ind_spec(ind), "rsi_14");
    CHECK_STR(ta_ind_output_name(ind, 0), "rsi_14");
    CHECK_INT(ta_ind_lookback(ind, 0), 14);
    ta_ind_free(ind);
    ind = ta_ind_new("macd_5", err, sizeof(err));
    CHECK_STR(ta_ind_spec(ind), "macd_5_26_9");
    CHECK_STR(ta_ind_output_name(ind, 2), "macd_hist_5_26_9");
    CHECK_INT(ta_ind_lookback(ind, 0), 33);
    ta_ind_free(ind);
    ind = ta_ind_new("bb_20_2.5", err, sizeof(err));
    CHECK_STR(ta_ind_spec(ind), "bb_20_2.5");
    CHECK(ta_ind_param(ind, 1) == 2.5);
    ta_ind_free(ind);
    ind = ta_ind_new("linreg_slope_9", err, sizeof(err));
    CHECK_STR(ta_ind_spec(ind), "linreg_slope_9");
    ta_ind_free(ind);
    ind = ta_ind_new("sar", err, sizeof(err));
    CHECK_STR(ta_ind_spec(ind), "sar_0.02_0.2");
    ta_ind_free(ind);
    ind = ta_ind_new("ichimoku_9_26_52_30", err, sizeof(err));
    CHECK_INT(ta_ind_output_shift(ind, 2), 29);
    CHECK_INT(ta_ind_output_shift(ind, 4), -29);
    CHECK_INT(ta_ind_output_shift(ind, 0), 0);
    ta_ind_free(ind);
    static const char *bad[] = { "", "foo_14", "rsi_x", "rsi_14_3", "rsi_1", "rsi_2.5",
                                 "sma_0", "sma_5001", "sma_-3", "bb_20_1e3", "stoch_k_14",
                                 "sma__20", "rsi_14_", "_rsi",
                                 "a_very_long_spec_name_that_goes_on_and_on_and_on_beyond_64" };
    for (size_t i = 0; i < K_ARRAY_LEN(bad); i++) {
        err[0] = 0;
        ind = ta_ind_new(bad[i], err, sizeof(err));
        if (ind)
            fprintf(stderr, "spec \"%s\" was accepted\n", bad[i]);
        CHECK(ind == NULL);
        CHECK(err[0] != 0);
        ta_ind_free(ind);
    }
    uint32_t out = 99;
    CHECK(ta_column_parse("stoch_k_14_3_3", spec, sizeof(spec), &out) == K_OK);
    CHECK_STR(spec, "stoch_14_3_3");
    CHECK_INT(out, 0);
    CHECK(ta_column_parse("minus_di_14", spec, sizeof(spec), &out) == K_OK);
    CHECK_STR(spec, "adx_14");
    CHECK_INT(out, 2);
    CHECK(ta_column_parse("bb_lower", spec, sizeof(spec), &out) == K_OK);
    CHECK_STR(spec, "bb_20_2");
    CHECK_INT(out, 2);
    CHECK(ta_column_parse("macd_12_26_9", spec, sizeof(spec), &out) == K_OK);
    CHECK_INT(out, 0);
    CHECK(ta_column_parse("bb_20_2", spec, sizeof(spec), &out) == K_ERR); /* no such column */
    CHECK(ta_column_parse("ichimoku_chikou", spec, sizeof(spec), &out) == K_OK);
    CHECK_INT(out, 4);
}

static void check_set_and_chart(const tt_bars *bars)
{
    char err[160];
    ta_set *s = ta_set_new("sma_20, rsi_14 macd,,bb_20_2", err, sizeof(err));
    CHECK(s != NULL);
    CHECK_INT(ta_set_count(s), 4);
    CHECK_INT(ta_set_outputs(s), 10);
    CHECK_STR(ta_set_output_name(s, 3), "macd_signal_12_26_9");
    CHECK_INT(ta_set_output_instance(s, 9), 3);
    CHECK(ta_set_output_info(s, 4)->style == TA_HISTOGRAM);
    CHECK(ta_set_new("sma_20,foo", err, sizeof(err)) == NULL);
    CHECK(strstr(err, "foo") != NULL);

    /* the set equals its instances run alone; bad bars change nothing */
    ta_ind *alone = ta_ind_new("macd", err, sizeof(err));
    ta_set *twin = ta_set_new("sma_20,rsi_14,macd,bb_20_2", err, sizeof(err));
    size_t mism = 0;
    for (size_t i = 0; i < bars->n; i++) {
        double o[10], t[10], a[3];
        if (i % 100 == 50) { /* a bad bar goes only to s */
            ta_bar bad = bars->b[i];
            bad.c = NAN;
            CHECK(ta_set_update(s, &bad, o) == K_ERR);
            CHECK(isnan(o[0]));
            bad = bars->b[i];
            bad.h = bad.l - 1;
            CHECK(ta_set_update(s, &bad, o) == K_ERR);
            bad = bars->b[i];
            bad.v = -1;
            CHECK(ta_set_update(s, &bad, o) == K_ERR);
            CHECK(ta_set_peek(s, &bad, o) == K_ERR);
        }
        CHECK(ta_set_update(s, &bars->b[i], o) == K_OK);
        ta_set_update(twin, &bars->b[i], t);
        ta_ind_update(alone, &bars->b[i], a);
        for (int k = 0; k < 10; k++)
            mism += !tt_same(o[k], t[k]);
        for (int k = 0; k < 3; k++)
            mism += !tt_same(o[2 + k], a[k]);
    }
    CHECK_INT(mism, 0);
    ta_ind_free(alone);
    ta_set_free(twin);
    ta_set_free(s);

    /* chart: history ring, validation, peek, accessors */
    ta_chart *c = ta_chart_new("rsi_14,bb_20_2,ichimoku,supertrend", 100, err, sizeof(err));
    CHECK(c != NULL);
    CHECK_INT(ta_chart_instances(c), 4);
    CHECK_INT(ta_chart_outputs(c), 1 + 5 + 5 + 2);
    CHECK_STR(ta_chart_instance_spec(c, 2), "ichimoku_9_26_52_26");
    CHECK(ta_chart_instance_info(c, 0) == ta_info_find("rsi"));
    CHECK(ta_chart_output_kind(c, 0) == TA_OSCILLATOR);
    CHECK(ta_chart_output_kind(c, 1) == TA_OVERLAY);
    CHECK(ta_chart_output_kind(c, 4) == TA_OSCILLATOR); /* %B */
    uint32_t nl;
    const double *lv = ta_chart_output_levels(c, 0, &nl);
    CHECK_INT(nl, 2);
    CHECK(lv && lv[0] == 30 && lv[1] == 70);
    CHECK_INT(ta_chart_output_shift(c, 8), 25);
    CHECK_INT(ta_chart_output_shift(c, 10), -25);
    CHECK(ta_chart_output_info(c, 0)->range_hi == 100);
    CHECK_INT(ta_chart_history_len(c), 0);
    CHECK(ta_chart_last_time(c) == INT64_MIN);
    uint32_t no = ta_chart_outputs(c);
    double pk[16];
    size_t bad_peek = 0;
    for (size_t i = 0; i < bars->n; i++) {
        CHECK(ta_chart_peek(c, &bars->b[i], pk) == K_OK || i == 0);
        CHECK(ta_chart_on_bar(c, &bars->b[i]) == K_OK);
        for (uint32_t k = 0; k < no; k++)
            bad_peek += !tt_same(pk[k], ta_chart_last(c)[k]);
        if (i == 500) {
            CHECK(ta_chart_on_bar(c, &bars->b[i]) == K_ERR);     /* same time again */
            CHECK(ta_chart_on_bar(c, &bars->b[i - 1]) == K_ERR); /* older */
            CHECK(ta_chart_peek(c, &bars->b[i], pk) == K_ERR);
            CHECK(isnan(pk[0]));
        }
    }
    CHECK_INT(bad_peek, 0);
    CHECK_INT(ta_chart_bars(c), bars->n);
    CHECK_INT(ta_chart_history_len(c), 100);
    CHECK_INT(ta_chart_history_cap(c), 100);
    CHECK(ta_chart_history_time(c, 99) == bars->b[bars->n - 1].t);
    CHECK(ta_chart_history_time(c, 0) == bars->b[bars->n - 100].t);
    CHECK(ta_chart_history_time(c, 100) == INT64_MIN);
    for (uint32_t k = 0; k < no; k++)
        CHECK(ta_chart_history(c, k, 99) == (double)(float)ta_chart_last(c)[k]);
    CHECK(isnan(ta_chart_history(c, 0, 100)));
    /* history row i equals an independent run's value at that bar */
    ta_ind *r = ta_ind_new("rsi_14", err, sizeof(err));
    double rv[1];
    for (size_t i = 0; i < bars->n; i++) {
        ta_ind_update(r, &bars->b[i], rv);
        if (i == bars->n - 60)
            CHECK(ta_chart_history(c, 0, 40) == (double)(float)rv[0]);
    }
    ta_ind_free(r);
    ta_chart_reset(c);
    CHECK_INT(ta_chart_bars(c), 0);
    CHECK_INT(ta_chart_history_len(c), 0);
    CHECK(ta_chart_on_bar(c, &bars->b[0]) == K_OK);
    ta_chart_free(c);
    CHECK(ta_chart_new("rsi", TA_HISTORY_MAX + 1, err, sizeof(err)) == NULL);
    c = ta_chart_new("", 0, err, sizeof(err)); /* an empty chart is valid */
    CHECK(c != NULL);
    CHECK(ta_chart_on_bar(c, &bars->b[0]) == K_OK);
    ta_chart_free(c);

    /* memory: 100 symbols x 7 timeframes with a typical set */
    const char *typical = "sma_20,ema_50,rsi_14,macd,bb_20_2,atr_14,vwap,supertrend";
    size_t total0 = 0, total300 = 0;
    for (int i = 0; i < 700; i++) {
        ta_chart *a = ta_chart_new(typical, 0, err, sizeof(err));
        ta_chart *b = ta_chart_new(typical, 300, err, sizeof(err));
        total0 += ta_chart_memory(a);
        total300 += ta_chart_memory(b);
        ta_chart_free(a);
        ta_chart_free(b);
    }
    printf("memory, 700 charts of %s: %.1f MB without history, %.1f MB with 300 bars\n",
           typical, total0 / 1048576.0, total300 / 1048576.0);
    CHECK(total0 < 8u << 20);
    CHECK(total300 < 40u << 20);
}

static void check_candle_conversion(void)
{
    candle c = { 1670889600000LL, 1721212000000LL, 1721655000000LL, 1720888000000LL,
                 1720888000000LL, 11066042000LL, 0, 0, 7, 0 };
    ta_bar b = ta_bar_from_candle(&c);
    CHECK(b.t == 1670889600000LL);
    CHECK(b.o == strtod("17212.12", NULL) && b.h == strtod("17216.55", NULL));
    CHECK(b.l == strtod("17208.88", NULL) && b.c == strtod("17208.88", NULL));
    CHECK(b.v == strtod("110.66042", NULL));
}

int main(void)
{
    check_candle_conversion();
    char p[512];
    tt_path(p, sizeof(p), "klines/lean_binance_BTCBUSD_1m_2022-12-13.csv");
    tt_bars day = tt_load_bars(p);
    CHECK_INT(day.n, 1440);
    tt_path(p, sizeof(p), "klines/lean_coinbase_ETHUSD_1m_2018-04-04_05.csv");
    tt_bars gaps = tt_load_bars(p); /* minutes with no trade are absent */
    CHECK(gaps.n > 2000);
    check_registry();
    check_properties(&day, "BTCBUSD 1m day");
    check_properties(&gaps, "Coinbase ETHUSD 1m with gaps");
    check_nan_free_long();
    check_flat_prices();
    check_zero_volume(&day);
    check_single_bar(&day);
    check_set_and_chart(&day);
    free(day.b);
    free(gaps.b);
    CHECK_DONE();
}
