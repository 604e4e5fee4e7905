/* engine_save on the main thread while the learner thread trains the engine's off-thread models
 * (issue 12): the main thread makes a signal per real 1m bar, learns the due labels, submits the
 * LSTM / CNN / XGBoost trainings the way the runner does, swaps finished ones in, and saves the
 * whole engine after every bar, most of them while a training is in flight. What save() reads is
 * what the main thread owns (the live weights, the counters, the history copied by swap() under
 * the candidate mutex: docs/MODELS.md "Threads"), never the learner's candidate, replay sample
 * or moments, so the blobs are consistent: each one taken during a training loads into a second
 * engine and saves back to the same bytes, and the last one predicts what the first engine
 * predicts. Built with -fsanitize=thread (docs/MODELS.md "Threads": the command) the same run
 * reports no race.
 * The waits are bounded polls, never timing asserts. */
#include "check.h"
#include "klines.h"
#include "kestrel/cnn.h"
#include "kestrel/engine.h"
#include "kestrel/learner.h"
#include "kestrel/logreg.h"
#include "kestrel/lstm.h"
#include "kestrel/xgb.h"

#include <time.h>
#include <unistd.h>

static candle *bars;
static uint32_t nbars;

static engine *make_engine(void)
{
    engine_config c;
    engine_config_default(&c);
    c.analysis_tf = TF_1M;
    c.horizon_ms = 5 * 60000;
    c.features.norm_warmup = 5;
    snprintf(c.symbol, sizeof c.symbol, "BTCBUSD");
    nn_config nc;
    nn_config_default(&nc);
    nc.hidden = 8;
    nc.min_samples = 32;
    nc.steps = 4;
    xgb_config xc;
    xgb_config_default(&xc);
    xc.min_samples = 60;
    xc.retrain_every = 60;
    xc.rounds = 10;
    model *m[5] = {scorer_weights_new("weights", FEAT_COUNT, features_vote_idx),
                   logreg_new("logreg", FEAT_COUNT, NULL), lstm_new("lstm", FEAT_COUNT, &nc),
                   cnn_new("cnn", FEAT_COUNT, &nc), xgb_new("xgb", FEAT_COUNT, &xc)};
    return engine_new(&c, m, 5);
}

int main(void)
{
    char path[512];
    snprintf(path, sizeof path, "%s/klines/lean_binance_BTCBUSD_1m_2022-12-13.csv",
             check_shared_data());
    nbars = klines_load(path, &bars);
    CHECK_INT(nbars, 1440);
    if (nbars < 1440)
        CHECK_DONE();
    char err[128];
    learner *l = learner_new(8, err, sizeof err);
    CHECK(l != NULL);
    engine *a = make_engine(), *b = make_engine();
    CHECK(a && b);
    uint64_t trained_at[8] = {0};
    uint32_t saves = 0, saves_in_flight = 0, roundtrip_bad = 0, loads_ok = 0, swaps = 0;
    uint32_t used = 560; /* bars fed; a day is more than the test needs */
    for (uint32_t i = 0; i < used; i++) {
        CHECK_INT(engine_on_bar(a, TF_1M, &bars[i], false), K_OK);
        CHECK_INT(engine_on_bar(b, TF_1M, &bars[i], false), K_OK);
        int64_t now = bars[i].open_ms + 60000;
        engine_signal s;
        CHECK_INT(engine_signal_make(a, now, &s), K_MODEL_OK);
        /* the runner's schedule: networks every 16 new samples, XGBoost on its own trigger */
        for (uint32_t k = 0; k < engine_models(a); k++) {
            model *m = engine_model(a, k);
            if (!(m->ops->flags & MODEL_F_OFFTHREAD))
                continue;
            uint64_t have = m->ops->samples(m);
            bool due = !strcmp(m->ops->kind, "xgboost") ? xgb_should_retrain(m, now) != 0
                                                        : have >= trained_at[k] + 16;
            if (due && learner_submit(l, m, k) == K_LEARNER_OK)
                trained_at[k] = have;
        }
        learner_done d[8];
        size_t nd = learner_collect(l, d, 8);
        for (size_t k = 0; k < nd; k++)
            swaps += d[k].m->ops->swap(d[k].m) == K_MODEL_OK;
        learner_stats st;
        learner_stats_get(l, &st);
        model_blob blob = {0};
        CHECK_INT(engine_save(a, &blob), K_MODEL_OK);
        saves++;
        if (st.used > 0) { /* a training was queued or running while we saved */
            saves_in_flight++;
            if (saves_in_flight % 16 == 1) { /* the blob is consistent: load, save, same bytes */
                if (engine_load(b, blob.data, blob.len) == K_MODEL_OK) {
                    loads_ok++;
                    model_blob again = {0};
                    CHECK_INT(engine_save(b, &again), K_MODEL_OK);
                    roundtrip_bad += again.len != blob.len ||
                                     memcmp(again.data, blob.data, blob.len) != 0;
                    model_blob_free(&again);
                }
            }
        }
        model_blob_free(&blob);
    }
    /* drain: every submitted training comes back (bounded poll) */
    for (int w = 0; w < 3000; w++) {
        learner_done d[8];
        size_t nd = learner_collect(l, d, 8);
        for (size_t k = 0; k < nd; k++)
            swaps += d[k].m->ops->swap(d[k].m) == K_MODEL_OK;
        learner_stats st;
        learner_stats_get(l, &st);
        if (st.used == 0)
            break;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    learner_stats st;
    learner_stats_get(l, &st);
    printf("%u saves, %u while a training was in flight, %u reloaded, %u swaps, %llu trainings\n",
           saves, saves_in_flight, loads_ok, swaps, (unsigned long long)st.done);
    CHECK_INT(st.used, 0);
    CHECK(st.done >= 4);
    CHECK(swaps >= 3);
    CHECK(saves_in_flight >= 10);
    CHECK(loads_ok >= 1);
    CHECK_INT(roundtrip_bad, 0);
    /* the final state: b restores it and predicts exactly what a predicts next */
    model_blob blob = {0};
    CHECK_INT(engine_save(a, &blob), K_MODEL_OK);
    CHECK_INT(engine_load(b, blob.data, blob.len), K_MODEL_OK);
    model_blob_free(&blob);
    uint32_t same = 1;
    for (uint32_t i = used; i < used + 30; i++) {
        CHECK_INT(engine_on_bar(a, TF_1M, &bars[i], false), K_OK);
        CHECK_INT(engine_on_bar(b, TF_1M, &bars[i], false), K_OK);
        int64_t now = bars[i].open_ms + 60000;
        engine_signal sa, sb;
        CHECK_INT(engine_signal_make(a, now, &sa), K_MODEL_OK);
        CHECK_INT(engine_signal_make(b, now, &sb), K_MODEL_OK);
        same &= memcmp(sa.p, sb.p, sizeof sa.p) == 0 && sa.nmodels == sb.nmodels;
        for (uint32_t k = 0; k < sa.nmodels; k++)
            same &= sa.models[k].ready == sb.models[k].ready &&
                    memcmp(sa.models[k].p, sb.models[k].p, sizeof sa.models[k].p) == 0;
    }
    CHECK(same);
    learner_free(l);
    engine_free(a);
    engine_free(b);
    free(bars);
    CHECK_DONE();
}
