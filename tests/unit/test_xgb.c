/* XGBoost model: learns a separable rule; the walk-forward gate refuses a candidate that is worse
 * on the later held-out slice (the window's older part follows another rule than its newer part)
 * and accepts a better one (the rule changed for the whole window); retrain triggers (first,
 * count, timer, degraded accuracy); every retrain recorded; missing features; save/load with
 * identical predictions; determinism for a seed. Synthetic rows: a model's mechanics only. */
#include "check.h"
#include "kestrel/learner.h"
#include "kestrel/nn.h"

#include <poll.h>
#include "kestrel/xgb.h"

#define NF 3

/* label from feature `f`: > .5 BUY, < -.5 SELL, else HOLD; features uniform in [-1.5, 1.5] */
static int gen(nn_rng *r, float *x, int f)
{
    for (int i = 0; i < NF; i++)
        x[i] = (float)(3.0 * nn_rng_uniform(r) - 1.5);
    return x[f] > 0.5f ? MODEL_BUY : x[f] < -0.5f ? MODEL_SELL : MODEL_HOLD;
}

static void feed(model *m, nn_rng *r, int f, int n)
{
    float x[NF];
    model_input in = {.x = x, .nfeat = NF};
    for (int i = 0; i < n; i++) {
        int y = gen(r, x, f);
        if (m->ops->learn(m, &in, y, 1.0) != K_MODEL_OK)
            CHECK(0);
    }
}

static double accuracy(model *m, int f, int n)
{
    nn_rng r;
    nn_rng_seed(&r, 1234);
    float x[NF];
    model_input in = {.x = x, .nfeat = NF};
    int ok = 0;
    for (int i = 0; i < n; i++) {
        int y = gen(&r, x, f);
        model_output o;
        if (m->ops->predict(m, &in, &o) != K_MODEL_OK)
            return -1;
        int arg = o.p[1] > o.p[0] ? 1 : 0;
        arg = o.p[2] > o.p[arg] ? 2 : arg;
        ok += arg == y;
    }
    return (double)ok / n;
}

static void predictions(model *m, double *out, int n)
{
    nn_rng r;
    nn_rng_seed(&r, 99);
    float x[NF];
    uint8_t miss[NF] = {0, 0, 1};
    for (int i = 0; i < n; i++) {
        gen(&r, x, 0);
        model_input in = {.x = x, .missing = i % 2 ? miss : NULL, .nfeat = NF};
        model_output o;
        if (m->ops->predict(m, &in, &o) != K_MODEL_OK)
            CHECK(0);
        memcpy(out + 3 * i, o.p, sizeof(o.p));
    }
}

/* trigger -> train -> swap, as the engine and learner would; returns the new record */
static model_retrain retrain(model *m, int64_t now, enum model_trigger want)
{
    model_retrain r;
    memset(&r, 0, sizeof(r));
    CHECK_INT(xgb_should_retrain(m, now), want);
    CHECK_INT(xgb_should_retrain(m, now), MODEL_TRIGGER_NONE); /* outstanding */
    /* a learner queue that was full: cancelled, the same trigger is asked again */
    xgb_retrain_cancel(m);
    CHECK_INT(xgb_should_retrain(m, now), want);
    CHECK_INT(xgb_should_retrain(m, now), MODEL_TRIGGER_NONE);
    CHECK_INT(m->ops->train(m), K_MODEL_OK);
    CHECK_INT(m->ops->swap(m), K_MODEL_OK);
    CHECK_INT(xgb_history(m, &r, 1), 1);
    return r;
}

int main(void)
{
    xgb_config cfg;
    xgb_config_default(&cfg);
    cfg.window = 400;
    cfg.min_samples = 200;
    cfg.retrain_every = 300;
    cfg.retrain_ms = 3600 * 1000;
    cfg.acc_window = 50;
    cfg.degrade = 0.1;
    model *m = xgb_new("xgb", NF, &cfg);
    CHECK(m != NULL);
    CHECK_STR(m->ops->kind, "xgboost");
    CHECK(m->ops->flags & MODEL_F_OFFTHREAD);
    nn_rng r;
    nn_rng_seed(&r, 5);
    float x[NF] = {0};
    model_input in = {.x = x, .nfeat = NF};
    model_output o;
    CHECK_INT(m->ops->predict(m, &in, &o), K_MODEL_NOT_READY);
    CHECK_INT(m->ops->swap(m), K_MODEL_NOT_READY);
    in.nfeat = 2;
    CHECK_INT(m->ops->learn(m, &in, 0, 1), K_MODEL_BAD_INPUT);
    in.nfeat = NF;
    x[1] = INFINITY;
    CHECK_INT(m->ops->learn(m, &in, 0, 1), K_MODEL_BAD_INPUT);
    x[1] = 0;
    CHECK_INT(m->ops->learn(m, &in, 5, 1), K_MODEL_BAD_INPUT);

    /* first model: rule on feature 0 */
    feed(m, &r, 0, 150);
    CHECK_INT(xgb_should_retrain(m, 1000), MODEL_TRIGGER_NONE); /* 150 < min_samples */
    CHECK_INT(m->ops->train(m), K_MODEL_NOT_READY);
    feed(m, &r, 0, 250);
    model_retrain h = retrain(m, 2000, MODEL_TRIGGER_FIRST);
    CHECK(h.accepted);
    CHECK_INT(h.seq, 1);
    CHECK_INT(h.at_ms, 2000);
    CHECK_INT(h.n_train, 300);
    CHECK_INT(h.n_holdout, 100);
    CHECK(isnan(h.live_logloss));
    CHECK(h.cand_logloss < h.base_logloss);
    double a0 = accuracy(m, 0, 500);
    fprintf(stderr, "xgb rule-0 accuracy %.3f (holdout acc %.3f, ll %.3f vs prior %.3f)\n", a0,
            h.cand_acc, h.cand_logloss, h.base_logloss);
    CHECK(a0 > 0.9);
    CHECK_INT(m->ops->predict(m, &in, &o), K_MODEL_OK);
    CHECK(o.confidence < 0); /* no confidence head */
    CHECK_NEAR(o.p[0] + o.p[1] + o.p[2], 1.0, 1e-9);

    /* gate refuses: the window's older 300 rows follow feature 1, the held-out newer 100 still
     * follow feature 0, so the candidate (fit on feature 1) loses to the live model there */
    double before[60], after[60];
    predictions(m, before, 20);
    feed(m, &r, 1, 300);
    feed(m, &r, 0, 100);
    h = retrain(m, 3000, MODEL_TRIGGER_COUNT);
    fprintf(stderr, "xgb refuse: cand ll %.3f acc %.3f, live ll %.3f acc %.3f\n", h.cand_logloss,
            h.cand_acc, h.live_logloss, h.live_acc);
    CHECK(!h.accepted);
    CHECK(h.cand_logloss > h.live_logloss);
    CHECK_INT(h.seq, 2);
    predictions(m, after, 20);
    CHECK(memcmp(before, after, 20 * 3 * sizeof(double)) == 0); /* live model unchanged */

    /* timer trigger on the caller's clock */
    CHECK_INT(xgb_should_retrain(m, 3000 + 3600 * 1000 - 1), MODEL_TRIGGER_NONE);
    /* degraded: feature 1 rows make the live (feature 0) model's rolling accuracy fall */
    feed(m, &r, 1, 60);
    double roll, val;
    xgb_accuracy(m, &roll, &val);
    fprintf(stderr, "xgb rolling acc %.3f validated %.3f\n", roll, val);
    CHECK(roll < val - 0.1);
    /* gate accepts: the whole window now follows feature 1 */
    feed(m, &r, 1, 340);
    h = retrain(m, 4000, MODEL_TRIGGER_COUNT);
    CHECK(h.accepted);
    CHECK(h.cand_logloss < h.live_logloss);
    CHECK(accuracy(m, 1, 500) > 0.9);
    CHECK(accuracy(m, 0, 500) < 0.6);

    feed(m, &r, 1, 10);
    CHECK_INT(xgb_should_retrain(m, 4000 + 3600 * 1000), MODEL_TRIGGER_TIMER);
    CHECK_INT(m->ops->train(m), K_MODEL_OK);
    CHECK_INT(m->ops->train(m), K_MODEL_NOT_READY); /* result not swapped in yet */
    CHECK_INT(m->ops->swap(m), K_MODEL_OK);
    CHECK_INT(xgb_history(m, &h, 1), 1);
    CHECK_INT(h.trigger, MODEL_TRIGGER_TIMER);
    /* the degraded trigger itself */
    feed(m, &r, 0, 50);
    CHECK_INT(xgb_should_retrain(m, 4000 + 3600 * 1000 + 1), MODEL_TRIGGER_DEGRADED);
    CHECK_INT(m->ops->train(m), K_MODEL_OK);
    CHECK_INT(m->ops->swap(m), K_MODEL_OK);
    model_retrain hist[XGB_HISTORY];
    CHECK_INT(xgb_history(m, hist, XGB_HISTORY), 5);
    CHECK_INT(hist[0].trigger, MODEL_TRIGGER_DEGRADED);
    CHECK_INT(hist[4].trigger, MODEL_TRIGGER_FIRST);
    CHECK_INT(hist[0].seq, 5);
    CHECK_STR(model_trigger_name(MODEL_TRIGGER_DEGRADED), "degraded");

    /* save / load: identical predictions (with missing features too); foreign blobs refused */
    model_blob b = {0};
    CHECK_INT(m->ops->save(m, &b), K_MODEL_OK);
    predictions(m, before, 20);
    model *m2 = xgb_new("xgb", NF, &cfg);
    CHECK_INT(m2->ops->load(m2, b.data, b.len), K_MODEL_OK);
    predictions(m2, after, 20);
    CHECK(memcmp(before, after, 20 * 3 * sizeof(double)) == 0);
    CHECK_INT(m2->ops->samples(m2), m->ops->samples(m));
    CHECK_INT(xgb_history(m2, hist, XGB_HISTORY), 5);
    b.data[b.len - 20] ^= 4;
    CHECK_INT(m2->ops->load(m2, b.data, b.len), K_MODEL_BAD_STATE);
    b.data[b.len - 20] ^= 4;
    predictions(m2, after, 20);
    CHECK(memcmp(before, after, 20 * 3 * sizeof(double)) == 0);
    model *m3 = xgb_new("xgb", NF + 1, &cfg);
    CHECK_INT(m3->ops->load(m3, b.data, b.len), K_MODEL_BAD_STATE);
    m3->ops->free(m3);
    model_blob_free(&b);
    m2->ops->free(m2);
    m->ops->free(m);

    /* determinism: same seed and calls, same trees (bit-identical predictions) and the same
     * retrain record except its wall time */
    model *d[2];
    model_retrain dh[2];
    double dp[2][60];
    for (int k = 0; k < 2; k++) {
        d[k] = xgb_new("xgb", NF, &cfg);
        nn_rng_seed(&r, 77);
        feed(d[k], &r, 0, 400);
        dh[k] = retrain(d[k], 1, MODEL_TRIGGER_FIRST);
        dh[k].train_ms = 0;
        predictions(d[k], dp[k], 20);
    }
    CHECK(memcmp(dp[0], dp[1], sizeof(dp[0])) == 0);
    CHECK(memcmp(&dh[0], &dh[1], sizeof(dh[0])) == 0);
    model_blob s1 = {0}, s2 = {0};
    CHECK_INT(d[0]->ops->save(d[0], &s1), K_MODEL_OK);
    CHECK_INT(d[1]->ops->save(d[1], &s2), K_MODEL_OK);
    CHECK_INT(s1.len, s2.len);
    model_blob_free(&s1);
    model_blob_free(&s2);
    d[0]->ops->free(d[0]);
    d[1]->ops->free(d[1]);
    /* on the learner thread: the trigger on the main thread, the fit off it, swap on return */
    char err[128];
    learner *l = learner_new(2, err, sizeof(err));
    model *lm = xgb_new("xgb", NF, &cfg);
    nn_rng_seed(&r, 78);
    feed(lm, &r, 2, 400);
    CHECK_INT(xgb_should_retrain(lm, 10), MODEL_TRIGGER_FIRST);
    CHECK_INT(learner_submit(l, lm, 1), K_LEARNER_OK);
    learner_done done;
    size_t got = 0;
    for (int i = 0; i < 2000 && !got; i++) {
        struct pollfd pfd = {.fd = learner_fd(l), .events = POLLIN};
        if (poll(&pfd, 1, 10) > 0)
            got = learner_collect(l, &done, 1);
    }
    CHECK_INT(got, 1);
    CHECK(done.m == lm && done.rc == K_MODEL_OK);
    CHECK_INT(lm->ops->swap(lm), K_MODEL_OK);
    CHECK(accuracy(lm, 2, 300) > 0.9);
    lm->ops->free(lm);
    learner_free(l);
    CHECK(xgb_new("x", 0, &cfg) == NULL);
    cfg.holdout = 0.95;
    CHECK(xgb_new("x", NF, &cfg) == NULL);
    CHECK_DONE();
}
