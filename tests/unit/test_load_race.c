/* engine_load while the learner thread trains the engine's off-thread models (issue 12: a
 * restore meeting a running training used to abort). On real 1m bars, engine `a` makes a signal
 * per bar and trains its LSTM / CNN / XGBoost on the learner thread the way the runner does; a
 * state S is saved early on. Then, again and again, a training is submitted, the test waits (a
 * bounded poll) until a network's train() is running, and restores S into `a` while it runs:
 *   - engine_load returns K_MODEL_OK at once (no abort, no wait for the learner);
 *   - `a` predicts exactly what engine `c` predicts, which restored S with nothing in flight;
 *   - when the training comes back its result is stale: swap() drops it (K_MODEL_REFUSED) and
 *     `a` still predicts exactly what `c` does (no stale result reaches the restored weights).
 * Built with -fsanitize=thread (docs/MODELS.md "Threads": the command) the same run reports no
 * race. The waits are bounded polls, never timing asserts. */
#include "check.h"
#include "klines.h"
#include "kestrel/cnn.h"
#include "kestrel/engine.h"
#include "kestrel/learner.h"
#include "kestrel/logreg.h"
#include "kestrel/lstm.h"
#include "kestrel/nn.h"
#include "kestrel/xgb.h"

#include <time.h>
#include <unistd.h>

/* a day after bar i: XGBoost's timer trigger is due whenever it has a live model */
#define LATER(i) (bars[(i)].open_ms + 25LL * 3600 * 1000)

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
    nc.hidden = 16;
    nc.min_samples = 32;
    nc.steps = 16;
    xgb_config xc;
    xgb_config_default(&xc);
    xc.min_samples = 60;
    xc.retrain_every = 60;
    xc.rounds = 20;
    model *m[5] = {scorer_weights_new("weights", FEAT_COUNT, features_vote_idx),
                   logreg_new("logreg", FEAT_COUNT, NULL), lstm_new("lstm", FEAT_COUNT, &nc),
                   cnn_new("cnn", FEAT_COUNT, &nc), xgb_new("xgb", FEAT_COUNT, &xc)};
    return engine_new(&c, m, 5);
}

static void nap_ms(long ms)
{
    struct timespec ts = {0, ms * 1000 * 1000};
    nanosleep(&ts, NULL);
}

/* One bar into both engines and a signal from each: 1 when every probability is the same. */
static int same_next(engine *a, engine *c, uint32_t i)
{
    CHECK_INT(engine_on_bar(a, TF_1M, &bars[i], false), K_OK);
    CHECK_INT(engine_on_bar(c, TF_1M, &bars[i], false), K_OK);
    int64_t now = bars[i].open_ms + 60000;
    engine_signal sa, sc;
    CHECK_INT(engine_signal_make(a, now, &sa), K_MODEL_OK);
    CHECK_INT(engine_signal_make(c, now, &sc), K_MODEL_OK);
    int same = memcmp(sa.p, sc.p, sizeof sa.p) == 0 && sa.nmodels == sc.nmodels;
    for (uint32_t k = 0; k < sa.nmodels && same; k++)
        same &= sa.models[k].ready == sc.models[k].ready &&
                memcmp(sa.models[k].p, sc.models[k].p, sizeof sa.models[k].p) == 0;
    return same;
}

/* Collects finished trainings and swaps them in; counts swaps that dropped a stale result. */
static uint32_t collect(learner *l, uint32_t *stale, uint32_t *xgb_stale)
{
    learner_done d[8];
    size_t nd = learner_collect(l, d, 8);
    for (size_t k = 0; k < nd; k++) {
        enum model_result r = d[k].m->ops->swap(d[k].m);
        if (r == K_MODEL_REFUSED) {
            (*stale)++;
            *xgb_stale += !strcmp(d[k].m->ops->kind, "xgboost");
        }
    }
    return (uint32_t)nd;
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
    engine *a = make_engine(), *c = make_engine();
    CHECK(a && c);
    uint32_t stale = 0, xgb_stale = 0, busy_loads = 0, episodes = 0, diverged = 0;
    uint32_t fresh_after = 0;
    model_blob S = {0};
    uint32_t i = 0;
    /* history: 200 bars, trainings inline so S holds trained networks */
    for (; i < 200; i++) { /* c sees every bar too: indicator state is not in a blob */
        CHECK_INT(engine_on_bar(a, TF_1M, &bars[i], false), K_OK);
        CHECK_INT(engine_on_bar(c, TF_1M, &bars[i], false), K_OK);
        engine_signal s;
        CHECK_INT(engine_signal_make(a, bars[i].open_ms + 60000, &s), K_MODEL_OK);
        if (i % 20 == 19)
            for (uint32_t k = 0; k < engine_models(a); k++) {
                model *m = engine_model(a, k);
                if ((m->ops->flags & MODEL_F_OFFTHREAD) &&
                    (strcmp(m->ops->kind, "xgboost") || xgb_should_retrain(m, LATER(i))) &&
                    m->ops->train(m) == K_MODEL_OK)
                    (void)m->ops->swap(m);
            }
    }
    CHECK_INT(engine_save(a, &S), K_MODEL_OK);
    /* episodes: a training in flight, then the restore */
    while (i + 3 < nbars && episodes < 40) {
        CHECK_INT(engine_on_bar(a, TF_1M, &bars[i], false), K_OK);
        CHECK_INT(engine_on_bar(c, TF_1M, &bars[i], false), K_OK);
        engine_signal s;
        CHECK_INT(engine_signal_make(a, bars[i].open_ms + 60000, &s), K_MODEL_OK);
        i++;
        /* one off-thread model per episode, in turn: lstm, cnn, xgb */
        uint32_t offs[3], noff = 0;
        for (uint32_t k = 0; k < engine_models(a) && noff < 3; k++)
            if (engine_model(a, k)->ops->flags & MODEL_F_OFFTHREAD)
                offs[noff++] = k;
        CHECK_INT(noff, 3);
        uint32_t mk = offs[episodes % 3];
        model *m = engine_model(a, mk);
        bool is_xgb = !strcmp(m->ops->kind, "xgboost");
        if (is_xgb)
            (void)xgb_should_retrain(m, LATER(i)); /* its trigger, if one is due (else manual) */
        CHECK_INT(learner_submit(l, m, mk), K_LEARNER_OK);
        nn_model *net = is_xgb ? NULL : (nn_model *)m;
        /* wait until the model's train() holds its candidate (bounded poll) */
        for (int w = 0; w < 4000; w++) {
            if (net && pthread_mutex_trylock(&net->cand_mu) != 0)
                break; /* running */
            if (net)
                pthread_mutex_unlock(&net->cand_mu);
            else if (xgb_training(m))
                break;
            learner_stats st;
            learner_stats_get(l, &st);
            if (st.used == 0)
                break; /* already done */
            struct timespec ts = {0, 50 * 1000};
            nanosleep(&ts, NULL);
        }
        episodes++;
        CHECK_INT(engine_load(a, S.data, S.len), K_MODEL_OK);
        uint64_t xs = is_xgb ? xgb_stale_dropped(m) : 0;
        busy_loads += net && net->restore_pending != 0;
        CHECK_INT(engine_load(c, S.data, S.len), K_MODEL_OK);
        int d1 = !same_next(a, c, i++);
        diverged += d1;
        if (d1)
            fprintf(stderr, "episode %u: differs right after the load\n", episodes);
        uint32_t before = stale;
        for (int w = 0; w < 3000; w++) { /* the training comes back (bounded poll) */
            collect(l, &stale, &xgb_stale);
            learner_stats st;
            learner_stats_get(l, &st);
            if (st.used == 0)
                break;
            nap_ms(2);
        }
        if (net)
            CHECK_INT(net->restore_pending, 0);
        if (is_xgb)
            CHECK(xgb_stale_dropped(m) >= xs);
        if (stale > before) { /* dropped: a and c still agree on everything */
            int d2 = !same_next(a, c, i++);
            diverged += d2;
            if (d2)
                fprintf(stderr, "episode %u: differs after the stale result\n", episodes);
        } else { /* it started after the restore: trained from the restored state, applied */
            CHECK(is_xgb || !busy_loads || net->restore_pending == 0);
            fresh_after++;
            /* the others agree: make c equal to a again for the next episode's comparison */
            (void)same_next(a, c, i++);
        }
    }
    learner_stats st;
    learner_stats_get(l, &st);
    printf("%u episodes, %u loads met a running network training, %u stale results dropped "
           "(%u xgb), %u trainings started after the restore, %llu trainings\n",
           episodes, busy_loads, stale, xgb_stale, fresh_after, (unsigned long long)st.done);
    CHECK(episodes >= 20);
    CHECK(busy_loads >= 5);
    CHECK(stale >= busy_loads);
    CHECK(xgb_stale >= 1);
    CHECK_INT(diverged, 0);
    CHECK_INT(st.used, 0);
    model_blob_free(&S);
    learner_free(l);
    engine_free(a);
    engine_free(c);
    free(bars);
    CHECK_DONE();
}
