/* The whole ensemble with every model, as the app runs it, one JSON line ("models_engine"):
 *   us_per_bar_per_symbol - CPU µs per closed 1m bar per symbol: engine_on_bar (1m and the
 *                           5m / 15m / 1h it closes) + engine_signal_make (features, all seven
 *                           models' predict, ensemble, calibration, and the due label's
 *                           learn()s, scoring, metrics); p50 / p99 beside the mean
 *   train_ms_total        - the off-thread trainings (learner thread in the app: not in the
 *                           per-bar figure), run inline here at the runner's points
 *   peak_rss_mb           - this process's peak RSS: two symbols' engines with every model
 *                           (weights, logreg, mlp, lstm, transformer, cnn, xgb at the default
 *                           sizes, full replay buffers), OpenBLAS and XGBoost loaded
 * Real data: the two Coinbase 1m files (BTC-USD, ETH-USD, 2018-04-04..05, 2,4xx bars each) from
 * $KESTREL_SHARED_DATA or ../shared/data. Every model must predict for the timing to mean
 * something, so the walk-forward gates are off here (network holdout 0, XGBoost min_gain -inf):
 * a network the gate refused would be NOT_READY and cost nothing. Trainings after every 256
 * labels (networks, engine.train_every) and on XGBoost's triggers, as the runner does. Times are
 * CPU time (CLOCK_PROCESS_CPUTIME_ID; OpenBLAS one thread). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "kestrel/cnn.h"
#include "kestrel/engine.h"
#include "kestrel/logreg.h"
#include "kestrel/lstm.h"
#include "kestrel/mlp.h"
#include "kestrel/transformer.h"
#include "kestrel/xgb.h"
#include "kestrel/xmalloc.h"

#include "../tests/unit/klines.h" /* the test kline loader, on the project's reader */

#define NSYM 2
#define NMODELS 7

static double bench_cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void bench_closed(void *ud, enum tf tf, const candle *bar)
{
    if (engine_on_bar(ud, tf, bar, false) != K_OK)
        fprintf(stderr, "bench_engine_models: a %s bar was refused\n", tf_name(tf));
}

static engine *bench_engine(const char *sym)
{
    engine_config c;
    engine_config_default(&c);
    snprintf(c.symbol, sizeof c.symbol, "%s", sym);
    nn_config nc;
    nn_config_default(&nc);
    nc.window = c.window_len;
    nc.holdout = 0; /* every candidate live: see the header */
    nc.replay_steps = nc.replay + 4 * nc.window; /* as the runner: windows share bars */
    if (getenv("BENCH_REPLAY")) nc.replay = (uint32_t)atoi(getenv("BENCH_REPLAY"));
    xgb_config xc;
    xgb_config_default(&xc);
    xc.min_gain = -INFINITY;
    model *m[NMODELS] = {scorer_weights_new("weights", FEAT_COUNT, features_vote_idx),
                         logreg_new("logreg", FEAT_COUNT, NULL),
                         mlp_new("mlp", FEAT_COUNT, NULL),
                         lstm_new("lstm", FEAT_COUNT, &nc),
                         transformer_new("transformer", FEAT_COUNT, &nc),
                         cnn_new("cnn", FEAT_COUNT, &nc),
                         xgb_new("xgb", FEAT_COUNT, &xc)};
    for (int i = 0; i < NMODELS; i++)
        if (!m[i])
            return NULL;
    return engine_new(&c, m, NMODELS);
}

static int bench_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(void)
{
    const char *data = getenv("KESTREL_SHARED_DATA");
    const char *files[NSYM] = {"lean_coinbase_BTCUSD_1m_2018-04-04_05.csv",
                               "lean_coinbase_ETHUSD_1m_2018-04-04_05.csv"};
    const char *syms[NSYM] = {"BTCUSD", "ETHUSD"};
    candle *bars[NSYM];
    uint32_t nb[NSYM], n = UINT32_MAX;
    for (int s = 0; s < NSYM; s++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/klines/%s", data && *data ? data : "../shared/data",
                 files[s]);
        nb[s] = klines_load(path, &bars[s]);
        if (nb[s] < 1000) {
            fprintf(stderr, "bench_engine_models: cannot read %s\n", path);
            return 1;
        }
        n = nb[s] < n ? nb[s] : n;
    }
    engine *e[NSYM];
    candles *agg[NSYM][3];
    const enum tf tfs[3] = {TF_5M, TF_15M, TF_1H};
    uint64_t trained_at[NSYM][NMODELS] = {{0}};
    for (int s = 0; s < NSYM; s++) {
        e[s] = bench_engine(syms[s]);
        if (!e[s]) {
            fprintf(stderr, "bench_engine_models: a model could not be made\n");
            return 1;
        }
        for (int k = 0; k < 3; k++)
            agg[s][k] = candles_new(tfs[k], 64);
    }
    double *lat = xmalloc((size_t)n * NSYM * sizeof(double));
    uint32_t nlat = 0, warm = 600; /* the first bars train the models: not timed */
    double t_bars = 0, t_train = 0;
    uint64_t trains = 0, all_ready = 0, timed = 0;
    for (uint32_t i = 0; i < n; i++) {
        for (int s = 0; s < NSYM; s++) {
            candle c = bars[s][i];
            int64_t now = c.open_ms + 60000;
            engine_signal sig;
            double t0 = bench_cpu();
            if (engine_on_bar(e[s], TF_1M, &c, false) != K_OK)
                continue;
            for (int k = 0; k < 3; k++) {
                candles_on_bar(agg[s][k], &c, 60000, bench_closed, e[s]);
                candles_advance(agg[s][k], now, bench_closed, e[s]);
            }
            enum model_result r = engine_signal_make(e[s], now, &sig);
            double dt = bench_cpu() - t0;
            if (r != K_MODEL_OK)
                continue;
            if (i >= warm) {
                t_bars += dt;
                lat[nlat++] = dt;
                timed++;
                uint32_t ready = 0;
                for (uint32_t k = 0; k < sig.nmodels; k++)
                    ready += sig.models[k].ready;
                all_ready += ready == NMODELS;
            }
            /* the runner's training points (the learner thread's work in the app) */
            t0 = bench_cpu();
            for (uint32_t k = 0; k < engine_models(e[s]); k++) {
                model *m = engine_model(e[s], k);
                if (!(m->ops->flags & MODEL_F_OFFTHREAD))
                    continue;
                uint64_t have = m->ops->samples(m);
                bool due = !strcmp(m->ops->kind, "xgboost")
                               ? xgb_should_retrain(m, now) != MODEL_TRIGGER_NONE
                               : have >= trained_at[s][k] + 256;
                if (!due)
                    continue;
                if (m->ops->train(m) == K_MODEL_OK || !strcmp(m->ops->kind, "xgboost"))
                    (void)m->ops->swap(m);
                trained_at[s][k] = have;
                trains++;
            }
            t_train += bench_cpu() - t0;
        }
    }
    qsort(lat, nlat, sizeof *lat, bench_cmp);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("{\"bench\":\"models_engine\",\"us_per_bar_per_symbol\":%.1f,\"p50_us\":%.1f,"
           "\"p99_us\":%.1f,\"bars_timed\":%llu,\"all_models_ready_share\":%.3f,"
           "\"train_ms_total\":%.0f,\"trainings\":%llu,\"peak_rss_mb\":%.1f,\"symbols\":%d,"
           "\"models\":%d,\"features\":%u}\n",
           timed ? t_bars / (double)timed * 1e6 : -1.0, nlat ? lat[nlat / 2] * 1e6 : -1.0,
           nlat ? lat[(size_t)(nlat * 0.99)] * 1e6 : -1.0, (unsigned long long)timed,
           timed ? (double)all_ready / (double)timed : 0.0, t_train * 1e3,
           (unsigned long long)trains, (double)ru.ru_maxrss / 1024.0, NSYM, NMODELS, FEAT_COUNT);
    for (int s = 0; s < NSYM; s++) {
        for (int k = 0; k < 3; k++)
            candles_free(agg[s][k]);
        engine_free(e[s]);
        free(bars[s]);
    }
    free(lat);
    return 0;
}
