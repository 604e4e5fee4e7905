/* Signal engine benchmark, one JSON line on stdout ("signal"):
 *   us_per_signal     - engine_signal_make: features + every model's predict + ensemble +
 *                       calibration (+ the due label's updates: models, calibration, metrics)
 *   us_features       - features_extract alone
 *   us_update_<model> - one online update (learn) per model; us_predict_<model> one predict
 * on the real lean Binance BTCBUSD 1m day (1440 bars, 5m/15m/1h aggregated by the real candle
 * code), replayed 3 times on a continuing clock, a signal at every 1m close, 15-minute horizon.
 * Times are CPU time (CLOCK_PROCESS_CPUTIME_ID). Data: $KESTREL_SHARED_DATA or ../shared/data. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kestrel/decimal.h"
#include "kestrel/engine.h"
#include "kestrel/logreg.h"
#include "kestrel/mlp.h"
#include "kestrel/xmalloc.h"

#include "../tests/unit/klines.h" /* the test kline loader, on the project's reader */

#define BENCH_LOOPS 3

static double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void bench_closed(void *ud, enum tf tf, const candle *bar)
{
    if (engine_on_bar(ud, tf, bar, false) != K_OK)
        fprintf(stderr, "bench_signal: a %s bar was refused\n", tf_name(tf));
}

int main(void)
{
    const char *data = getenv("KESTREL_SHARED_DATA");
    char path[1024];
    snprintf(path, sizeof path, "%s/klines/lean_binance_BTCBUSD_1m_2022-12-13.csv",
             data && *data ? data : "../shared/data");
    candle *bars;
    uint32_t n = klines_load(path, &bars);
    if (n < 100) {
        fprintf(stderr, "bench_signal: cannot read %s\n", path);
        return 1;
    }
    engine_config cfg;
    engine_config_default(&cfg);
    cfg.analysis_tf = TF_5M;
    model *models[3] = { scorer_weights_new("weights", FEAT_COUNT, features_vote_idx),
                         logreg_new("logreg", FEAT_COUNT, NULL),
                         mlp_new("mlp", FEAT_COUNT, NULL) };
    engine *e = engine_new(&cfg, models, 3);
    const enum tf tfs[3] = { TF_5M, TF_15M, TF_1H };
    candles *agg[3];
    for (int k = 0; k < 3; k++)
        agg[k] = candles_new(tfs[k], 64);
    double t_signal = 0;
    uint64_t signals = 0;
    for (int loop = 0; loop < BENCH_LOOPS; loop++) {
        int64_t shift = (int64_t)loop * n * 60000;
        for (uint32_t i = 0; i < n; i++) {
            candle c = bars[i];
            c.open_ms += shift;
            if (engine_on_bar(e, TF_1M, &c, false) != K_OK)
                continue;
            int64_t now = c.open_ms + 60000;
            for (int k = 0; k < 3; k++) {
                candles_on_bar(agg[k], &c, 60000, bench_closed, e);
                candles_advance(agg[k], now, bench_closed, e);
            }
            engine_signal s;
            double t0 = bench_now();
            enum model_result r = engine_signal_make(e, now, &s);
            t_signal += bench_now() - t0;
            signals += r == K_MODEL_OK;
        }
    }
    /* features alone, and per-model update / predict on real feature rows */
    features_config fc;
    features_config_default(&fc);
    fc.analysis_tf = TF_1M;
    features *f = features_new(&fc);
    float *rows = xmalloc((size_t)n * FEAT_COUNT * sizeof(float));
    uint8_t *miss = xmalloc((size_t)n * FEAT_COUNT);
    int *labels = xmalloc(n * sizeof(int));
    double t_feat = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (features_on_bar(f, TF_1M, &bars[i], false) != K_OK)
            continue;
        double t0 = bench_now();
        features_extract(f, bars[i].open_ms + 60000, rows + (size_t)i * FEAT_COUNT,
                         miss + (size_t)i * FEAT_COUNT, NULL);
        t_feat += bench_now() - t0;
        double r = i + 15 < n ? (double)bars[i + 15].c / (double)bars[i].c - 1 : 0;
        labels[i] = r > 22e-4 ? MODEL_BUY : r < -22e-4 ? MODEL_SELL : MODEL_HOLD;
    }
    printf("{\"bench\":\"signal\",\"signals\":%llu,\"us_per_signal\":%.3f,\"us_features\":%.3f",
           (unsigned long long)signals, signals ? t_signal / (double)signals * 1e6 : -1.0,
           t_feat / n * 1e6);
    model *fresh[3] = { scorer_weights_new("weights", FEAT_COUNT, features_vote_idx),
                        logreg_new("logreg", FEAT_COUNT, NULL),
                        mlp_new("mlp", FEAT_COUNT, NULL) };
    for (int m = 0; m < 3; m++) {
        double t0 = bench_now();
        uint64_t ok = 0;
        for (int rep = 0; rep < 5; rep++)
            for (uint32_t i = 0; i < n; i++) {
                model_input in = { .x = rows + (size_t)i * FEAT_COUNT,
                                   .missing = miss + (size_t)i * FEAT_COUNT, .nfeat = FEAT_COUNT };
                ok += model_learn(fresh[m], &in, labels[i], 1.0) == K_MODEL_OK;
            }
        double tu = (bench_now() - t0) / (double)(ok ? ok : 1) * 1e6;
        t0 = bench_now();
        uint64_t np = 0;
        for (uint32_t i = 0; i < n; i++) {
            model_input in = { .x = rows + (size_t)i * FEAT_COUNT,
                               .missing = miss + (size_t)i * FEAT_COUNT, .nfeat = FEAT_COUNT };
            model_output o;
            np += model_predict(fresh[m], &in, &o) == K_MODEL_OK;
        }
        double tp = (bench_now() - t0) / (double)(np ? np : 1) * 1e6;
        printf(",\"us_update_%s\":%.3f,\"us_predict_%s\":%.3f", fresh[m]->name, tu,
               fresh[m]->name, tp);
        fresh[m]->ops->free(fresh[m]);
    }
    printf(",\"features\":%u}\n", FEAT_COUNT);
    for (int k = 0; k < 3; k++)
        candles_free(agg[k]);
    engine_free(e);
    features_free(f);
    free(rows);
    free(miss);
    free(labels);
    free(bars);
    return 0;
}
