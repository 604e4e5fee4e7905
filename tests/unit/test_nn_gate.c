/* The networks' walk-forward gate (issue 12: "the candidate goes live only if it beats the current
 * model on a later held-out slice"), for LSTM, Transformer and CNN, on constructed cases of the
 * synthetic sequence problem (nn_check.h: a model's mechanics, the one place synthetic data is
 * allowed):
 *   better: an untrained network learns the problem; the candidate beats the live (initial)
 *           weights on the newest held-out samples and goes live (accepted, both losses, n);
 *   worse:  the replay is then filled with samples whose labels are rotated (SELL->HOLD->BUY->
 *           SELL) followed by correctly labelled ones, exactly the held-out share; the candidate,
 *           trained only on the older rotated samples, is worse there than the live network, is
 *           refused, and the live weights (predictions) stay bit for bit;
 *   the held-out slice is never trained on: n_train + n_holdout = the replay's count, and a
 *   candidate trained with holdout = 0 always goes live (no gate).
 * The gate's record goes through the runner to the retrains table (tests/integration
 * deep_models.sh checks the stored rows). */
#include "kestrel/cnn.h"
#include "kestrel/engine.h"
#include "kestrel/logreg.h"
#include "kestrel/mlp.h"
#include "kestrel/xgb.h"
#include "kestrel/lstm.h"
#include "kestrel/transformer.h"
#include "nn_check.h"

static void feed(model *m, nn_rng *r, uint32_t T, uint32_t F, uint32_t n, int rotate)
{
    float *win = xmalloc((size_t)T * F * sizeof(float));
    model_input in = {.window = win, .window_len = T, .nfeat = F};
    for (uint32_t i = 0; i < n; i++) {
        int label;
        nnc_problem(r, T, F, win, 0, &label);
        in.x = win + (size_t)(T - 1) * F;
        CHECK_INT(m->ops->learn(m, &in, rotate ? (label + 1) % 3 : label, 1.0), K_MODEL_OK);
    }
    free(win);
}

static void gate_case(nnc_ctor ctor, const char *kind)
{
    const uint32_t F = 4, T = 8;
    nn_config c;
    nn_config_default(&c);
    c.window = T;
    c.hidden = 8;
    c.bptt = T;
    c.dropout = 0;
    c.steps = 60;
    c.lr = 0.01f;
    c.replay = 400;
    c.min_samples = 64;
    c.holdout = 0.25f;
    model *m = ctor(kind, F, &c);
    CHECK(m != NULL);
    if (!m)
        return;
    nn_model *nm = (nn_model *)m;
    model_retrain g;
    CHECK_INT(model_retrains(m, &g, 1), 0); /* no gate yet */
    nn_rng r;
    nn_rng_seed(&r, 42);

    /* better: 400 correct samples; the candidate must beat the initial weights */
    feed(m, &r, T, F, 400, 0);
    int accepted = 0, rounds = 0;
    for (; rounds < 5 && !accepted; rounds++) {
        CHECK_INT(m->ops->train(m), K_MODEL_OK);
        CHECK_INT(m->ops->swap(m), K_MODEL_OK);
        CHECK_INT(model_retrains(m, &g, 1), 1);
        accepted = g.accepted;
    }
    fprintf(stderr, "%s better: #%llu cand ll %.3f acc %.3f, live ll %.3f acc %.3f, %u/%u, %s\n",
            kind, (unsigned long long)g.seq, g.cand_logloss, g.cand_acc, g.live_logloss,
            g.live_acc, g.n_train, g.n_holdout, g.accepted ? "accepted" : "refused");
    CHECK(accepted);
    CHECK_INT(g.n_holdout, 100); /* 25% of the 400 stored */
    CHECK_INT(g.n_train, 300);
    CHECK(g.cand_logloss < g.live_logloss);
    CHECK(isfinite(g.cand_logloss) && isfinite(g.live_logloss));
    for (int k = 0; k < 10; k++) { /* more training until the live network is good */
        CHECK_INT(m->ops->train(m), K_MODEL_OK);
        CHECK_INT(m->ops->swap(m), K_MODEL_OK);
    }
    double before[4 * 20], after[4 * 20];
    CHECK_INT(nnc_predict_set(m, T, F, 20, before), 0);
    CHECK(nm->ready);

    /* worse: 300 rotated-label samples then 100 correct ones (the held-out quarter) */
    feed(m, &r, T, F, 300, 1);
    feed(m, &r, T, F, 100, 0);
    uint64_t seq0 = g.seq;
    model_retrain w;
    CHECK_INT(g.trigger, MODEL_TRIGGER_MANUAL); /* trained without a trigger */
    nn_model_set_trigger(m, MODEL_TRIGGER_COUNT, 1723161600000); /* the runner's, before train */
    CHECK_INT(m->ops->train(m), K_MODEL_OK);
    CHECK_INT(m->ops->swap(m), K_MODEL_OK);
    CHECK_INT(model_retrains(m, &w, 1), 1);
    CHECK_INT(w.trigger, MODEL_TRIGGER_COUNT);
    CHECK(w.at_ms == 1723161600000);
    CHECK(isnan(w.base_logloss) && isnan(w.train_ms)); /* no bar of its own; timed outside */
    { /* the history: newest first, numbered by swap() */
        model_retrain hh[MODEL_RETRAIN_HISTORY + 1];
        uint32_t nh = model_retrains(m, hh, MODEL_RETRAIN_HISTORY + 1);
        CHECK(nh >= 2 && nh <= MODEL_RETRAIN_HISTORY);
        for (uint32_t k = 0; k + 1 < nh; k++)
            CHECK(hh[k].seq == hh[k + 1].seq + 1);
        CHECK(hh[0].seq == w.seq);
    }
    fprintf(stderr, "%s worse: #%llu cand ll %.3f acc %.3f, live ll %.3f acc %.3f, %u/%u, %s\n",
            kind, (unsigned long long)w.seq, w.cand_logloss, w.cand_acc, w.live_logloss,
            w.live_acc, w.n_train, w.n_holdout, w.accepted ? "accepted" : "refused");
    CHECK(w.seq > seq0);
    CHECK(!w.accepted);
    CHECK(w.cand_logloss > w.live_logloss);
    CHECK_INT(w.n_holdout, 100);
    CHECK(w.live_acc > 0.8); /* the live network still knows the problem */
    CHECK_INT(nnc_predict_set(m, T, F, 20, after), 0);
    CHECK(memcmp(before, after, sizeof before) == 0); /* refused: live weights untouched */
    m->ops->free(m);

    /* holdout 0: no gate, the candidate always goes live */
    c.holdout = 0;
    m = ctor(kind, F, &c);
    feed(m, &r, T, F, 100, 1);
    CHECK_INT(m->ops->train(m), K_MODEL_OK);
    CHECK_INT(m->ops->swap(m), K_MODEL_OK);
    CHECK_INT(model_retrains(m, &g, 1), 1);
    CHECK(g.accepted);
    CHECK_INT(g.n_holdout, 0);
    CHECK_INT(g.n_train, 100);
    m->ops->free(m);

    /* config: holdout in [0, 0.9), min_gain >= 0 */
    c.holdout = 0.95f;
    CHECK(!nn_config_ok(&c));
    c.holdout = 0.25f;
    c.min_gain = -1;
    CHECK(!nn_config_ok(&c));
}

/* The baseline rule in an engine with every network and XGBoost: each is held at zero weight
 * (and the screen's engine_model_held() says so) until it beats the logistic regression out of
 * sample; logreg and the online models are not held. (The rule itself, with scored losses:
 * test_ensemble.) */
static void engine_rule(void)
{
    engine_config c;
    engine_config_default(&c);
    nn_config nc;
    nn_config_default(&nc);
    nc.hidden = 8;
    xgb_config xc;
    xgb_config_default(&xc);
    model *m[7] = {logreg_new("logreg", FEAT_COUNT, NULL),
                   scorer_weights_new("weights", FEAT_COUNT, features_vote_idx),
                   lstm_new("lstm", FEAT_COUNT, &nc),
                   transformer_new("transformer", FEAT_COUNT, &nc),
                   cnn_new("cnn", FEAT_COUNT, &nc), xgb_new("xgb", FEAT_COUNT, &xc),
                   mlp_new("mlp", FEAT_COUNT, NULL)};
    engine *e = engine_new(&c, m, 7);
    CHECK(e != NULL);
    if (!e)
        return;
    double w[7];
    engine_weights(e, w);
    for (uint32_t i = 0; i < 7; i++) {
        bool off = (engine_model(e, i)->ops->flags & MODEL_F_OFFTHREAD) != 0;
        CHECK_INT(engine_model_held(e, i, NULL, NULL), off);
        if (off)
            CHECK(w[i] == 0);
        else
            CHECK(w[i] > 0);
    }
    engine_free(e);
}

/* The replay's shared steps: windows shifted by one bar store one bar each and come back
 * exactly; a window that does not continue the newest one stores all its bars; samples whose
 * first bar the ring overwrote are dropped, oldest first. */
static void replay_steps(void)
{
    enum { T = 4, F = 3, N = 40 };
    float series[(N + T) * F], got[T * F];
    for (int i = 0; i < (N + T) * F; i++)
        series[i] = (float)i * 0.5f;
    nn_replay r;
    nn_replay_init_steps(&r, 16, T * F, F, 16 + 2 * T);
    for (int i = 0; i < 10; i++) /* windows series[i .. i + T) */
        nn_replay_push(&r, series + i * F, i % 3, 1.0f);
    CHECK_INT(r.count, 10);
    CHECK_INT(r.rseq, T + 9); /* one bar per window after the first */
    uint8_t y;
    float w;
    int same = 1;
    for (uint32_t k = 0; k < 10; k++) {
        CHECK_INT(nn_replay_get(&r, k, 1, got, &y, &w), 1);
        same &= memcmp(got, series + k * F, sizeof got) == 0 && y == k % 3;
    }
    CHECK(same);
    float other[T * F];
    for (int i = 0; i < T * F; i++)
        other[i] = -1.0f - (float)i;
    nn_replay_push(&r, other, 2, 1.0f); /* not a continuation: all T bars */
    CHECK_INT(r.rseq, 2 * T + 9);
    CHECK_INT(nn_replay_get(&r, 10, 1, got, &y, &w), 1);
    CHECK(memcmp(got, other, sizeof got) == 0);
    /* ring of 24 bars: after 4 more whole windows the oldest samples are gone */
    for (int k = 0; k < 4; k++)
        nn_replay_push(&r, k % 2 ? other : series, 0, 1.0f);
    CHECK_INT(r.rseq, 6 * T + 9);
    CHECK(r.count < 15);
    uint64_t oldest = r.seq - r.count;
    CHECK(oldest > 0);
    CHECK_INT(nn_replay_get(&r, oldest, 1, got, &y, &w), 1);
    CHECK_INT(nn_replay_get(&r, 0, 1, got, &y, &w), 0); /* dropped */
    nn_replay_destroy(&r);
    /* without step sharing (nn_replay_init): every sample whole, capacity exact */
    nn_replay_init(&r, 8, T * F);
    for (int i = 0; i < 10; i++)
        nn_replay_push(&r, series + i * F, 0, 1.0f);
    CHECK_INT(r.count, 8);
    CHECK_INT(nn_replay_get(&r, 2, 1, got, &y, &w), 1);
    CHECK(memcmp(got, series + 2 * F, sizeof got) == 0);
    nn_replay_destroy(&r);
}

int main(void)
{
    replay_steps();
    engine_rule();
    (void)nnc_battery; /* nn_check.h's battery runs in test_lstm/transformer/cnn */
    gate_case(lstm_new, "lstm");
    gate_case(transformer_new, "transformer");
    gate_case(cnn_new, "cnn");
    CHECK_DONE();
}
