/* ensemble: log-loss weights (prior before min_scored, exact exp(-eta L) ratio after), combine
 * with models not ready, reset, save/load; adaptive threshold; self-pause guard (Wilson bound,
 * always-HOLD); regime detection and its trading gate. */
#include "check.h"
#include "kestrel/ensemble.h"

static void test_weights(void)
{
    ensemble *e = ensemble_new(2, NULL);
    double w[2];
    ensemble_weights(e, w);
    CHECK_NEAR(w[0], 0.5, 1e-15);
    double pa[3] = { 0.1, 0.1, 0.8 }, pb[3] = { 0.3, 0.3, 0.4 };
    for (int i = 0; i < 9; i++) {
        ensemble_score(e, 0, pa, MODEL_BUY);
        ensemble_score(e, 1, pb, MODEL_BUY);
    }
    ensemble_weights(e, w);
    CHECK_NEAR(w[0], 0.5, 1e-15); /* 9 < min_scored */
    ensemble_score(e, 0, pa, MODEL_BUY);
    ensemble_score(e, 1, pb, MODEL_BUY);
    ensemble_weights(e, w);
    CHECK_NEAR(w[0] / w[1], exp(5 * (-log(0.4) + log(0.8))), 1e-12);
    CHECK_NEAR(ensemble_loss(e, 0), -log(0.8), 1e-12);
    CHECK_INT(ensemble_scored(e, 1), 10);
    model_output outs[2] = { { { 0.1, 0.1, 0.8 }, -1 }, { { 0.6, 0.2, 0.2 }, -1 } };
    bool ready[2] = { true, true };
    double p[3], used[2];
    CHECK(ensemble_combine(e, outs, ready, p, used));
    CHECK_NEAR(p[2], w[0] * 0.8 + w[1] * 0.2, 1e-12);
    CHECK_NEAR(p[0] + p[1] + p[2], 1, 1e-12);
    ready[0] = false;
    CHECK(ensemble_combine(e, outs, ready, p, used));
    CHECK_NEAR(p[0], 0.6, 1e-15);
    CHECK_NEAR(used[0], 0, 0);
    CHECK_NEAR(used[1], 1, 0);
    ready[1] = false;
    CHECK(!ensemble_combine(e, outs, ready, p, used));
    CHECK_NEAR(p[1], 1.0 / 3, 1e-15);
    model_blob b = { 0 };
    ensemble_save(e, &b);
    ensemble *f = ensemble_new(2, NULL);
    CHECK_INT(ensemble_load(f, b.data, b.len), K_MODEL_OK);
    double w2[2];
    ensemble_weights(f, w2);
    CHECK(w2[0] == w[0] && w2[1] == w[1]);
    ensemble *g = ensemble_new(3, NULL);
    CHECK_INT(ensemble_load(g, b.data, b.len), K_MODEL_BAD_STATE);
    model_blob_free(&b);
    ensemble_reset(e);
    ensemble_weights(e, w);
    CHECK_NEAR(w[0], 0.5, 1e-15);
    CHECK(isnan(ensemble_loss(e, 0)));
    ensemble_free(e);
    ensemble_free(f);
    ensemble_free(g);
}

static void test_threshold_guard(void)
{
    ensemble_threshold t;
    ensemble_threshold_init(&t, 0.65);
    for (int i = 0; i < 19; i++)
        ensemble_threshold_add(&t, true);
    CHECK_NEAR(ensemble_threshold_get(&t), 0.65, 0);
    ensemble_threshold_add(&t, true);
    CHECK_NEAR(ensemble_threshold_get(&t), 0.60, 1e-15);
    for (int i = 0; i < 50; i++)
        ensemble_threshold_add(&t, i % 3 == 0); /* 17/50 = 0.34 */
    uint32_t n;
    CHECK_NEAR(ensemble_threshold_accuracy(&t, &n), 17.0 / 50, 1e-15);
    CHECK_INT(n, 50);
    CHECK_NEAR(ensemble_threshold_get(&t), 0.70, 1e-15);
    for (int i = 0; i < 500; i++) /* ring wrap keeps the last 50 */
        ensemble_threshold_add(&t, i % 2 == 0);
    CHECK_NEAR(ensemble_threshold_accuracy(&t, &n), 0.5, 1e-15);
    CHECK_NEAR(ensemble_threshold_get(&t), 0.65, 0);

    CHECK_NEAR(ensemble_wilson_lower(50, 100), 0.40383, 1e-4);
    ensemble_guard g;
    ensemble_guard_init(&g);
    char why[128];
    for (int i = 0; i < 49; i++)
        ensemble_guard_add(&g, false, false);
    CHECK(!ensemble_guard_paused(&g, why, sizeof why)); /* too few */
    ensemble_guard_add(&g, false, false);
    CHECK(ensemble_guard_paused(&g, why, sizeof why));
    CHECK(strstr(why, "lower bound") != NULL);
    ensemble_guard_init(&g);
    for (int i = 0; i < 200; i++) /* 60% right, 20% HOLD outcomes */
        ensemble_guard_add(&g, i % 5 < 3, i % 5 == 4);
    CHECK(!ensemble_guard_paused(&g, why, sizeof why));
    CHECK_STR(why, "");
    for (int i = 0; i < 1000; i++) /* 60% right but 70% HOLD outcomes; wraps the ring */
        ensemble_guard_add(&g, i % 10 < 6, i % 10 < 7);
    CHECK(ensemble_guard_paused(&g, why, sizeof why));
    CHECK(strstr(why, "always-HOLD") != NULL);
    CHECK_INT(g.n, 200);
}

static void test_regime(void)
{
    scorer_input in;
    scorer_input_clear(&in);
    CHECK_INT(ensemble_regime(&in), REGIME_UNKNOWN);
    in.adx = 30;
    CHECK_INT(ensemble_regime(&in), REGIME_TRENDING);
    in.adx = 20;
    CHECK_INT(ensemble_regime(&in), REGIME_RANGING);
    in.vol_pct = 0.95;
    CHECK_INT(ensemble_regime(&in), REGIME_VOLATILE);
    CHECK_STR(ensemble_regime_name(REGIME_VOLATILE), "volatile");
    scorer_result sr;
    memset(&sr, 0, sizeof sr);
    char why[128];
    CHECK(!ensemble_regime_allows(REGIME_TRENDING, MODEL_BUY, &sr, &in, why, sizeof why));
    sr.votes[SCORER_MOM] = 1;
    CHECK(ensemble_regime_allows(REGIME_TRENDING, MODEL_BUY, &sr, &in, why, sizeof why));
    CHECK(!ensemble_regime_allows(REGIME_TRENDING, MODEL_SELL, &sr, &in, why, sizeof why));
    CHECK(!ensemble_regime_allows(REGIME_RANGING, MODEL_BUY, &sr, &in, why, sizeof why));
    sr.votes[SCORER_BB] = 1;
    CHECK(ensemble_regime_allows(REGIME_RANGING, MODEL_BUY, &sr, &in, why, sizeof why));
    in.ctx_trend[0] = 0.001, in.ctx_trend[1] = -0.002, in.ctx_trend[2] = NAN;
    CHECK(!ensemble_regime_allows(REGIME_VOLATILE, MODEL_BUY, &sr, &in, why, sizeof why));
    in.ctx_trend[2] = 0.003;
    CHECK(ensemble_regime_allows(REGIME_VOLATILE, MODEL_BUY, &sr, &in, why, sizeof why));
    CHECK(!ensemble_regime_allows(REGIME_UNKNOWN, MODEL_HOLD, &sr, &in, why, sizeof why));
    CHECK(ensemble_regime_allows(REGIME_UNKNOWN, MODEL_SELL, &sr, &in, why, sizeof why));
}

/* The baseline rule (issue 12): a gated model (deep / tree) has no weight until it has
 * min_scored scored predictions and beats the baseline's rolling log loss; ungated models are
 * weighted as before. Model 0 = logreg (the baseline), 1 = a gated network, 2 = gated xgb,
 * 3 = an ungated MLP. */
static void test_baseline_rule(void)
{
    ensemble *e = ensemble_new(4, NULL);
    bool gated[4] = {false, true, true, false};
    ensemble_set_baseline(e, 0, gated);
    double w[4], ll, bl;
    ensemble_weights(e, w);
    CHECK(ensemble_held(e, 1, NULL, NULL) && ensemble_held(e, 2, NULL, NULL));
    CHECK(!ensemble_held(e, 0, NULL, NULL) && !ensemble_held(e, 3, NULL, NULL));
    CHECK(w[1] == 0 && w[2] == 0);
    CHECK_NEAR(w[0] + w[3], 1.0, 1e-12);
    /* logreg p(outcome) 0.5; model 1 better (0.7); model 2 worse (0.4); mlp 0.45 */
    double pb[3] = {0.25, 0.25, 0.5}, p1[3] = {0.15, 0.15, 0.7}, p2[3] = {0.3, 0.3, 0.4},
           p3[3] = {0.275, 0.275, 0.45};
    for (int k = 0; k < 9; k++) { /* below min_scored (10): held even when better */
        ensemble_score(e, 0, pb, MODEL_BUY);
        ensemble_score(e, 1, p1, MODEL_BUY);
        ensemble_score(e, 2, p2, MODEL_BUY);
        ensemble_score(e, 3, p3, MODEL_BUY);
    }
    CHECK(ensemble_held(e, 1, NULL, NULL));
    ensemble_score(e, 0, pb, MODEL_BUY);
    ensemble_score(e, 1, p1, MODEL_BUY);
    ensemble_score(e, 2, p2, MODEL_BUY);
    ensemble_score(e, 3, p3, MODEL_BUY);
    CHECK(!ensemble_held(e, 1, &ll, &bl)); /* beats logreg over 10 */
    CHECK_NEAR(ll, -log(0.7), 1e-12);
    CHECK_NEAR(bl, -log(0.5), 1e-12);
    CHECK(ensemble_held(e, 2, &ll, &bl)); /* worse than logreg: no weight */
    CHECK_NEAR(ll, -log(0.4), 1e-12);
    ensemble_weights(e, w);
    CHECK(w[1] > w[0] && w[2] == 0 && w[3] > 0); /* the ungated mlp keeps its weight */
    CHECK_NEAR(w[0] + w[1] + w[3], 1.0, 1e-12);
    double sum = 0;
    for (int i = 0; i < 4; i++)
        sum += w[i];
    CHECK_NEAR(sum, 1.0, 1e-12);
    /* equal is not beating */
    ensemble_reset(e);
    for (int k = 0; k < 10; k++) {
        ensemble_score(e, 0, pb, MODEL_BUY);
        ensemble_score(e, 1, pb, MODEL_BUY);
    }
    CHECK(ensemble_held(e, 1, NULL, NULL));
    /* no baseline (-1): no rule */
    ensemble_set_baseline(e, -1, gated);
    CHECK(!ensemble_held(e, 1, NULL, NULL) && !ensemble_held(e, 2, NULL, NULL));
    ensemble_free(e);
}

int main(void)
{
    test_baseline_rule();
    test_weights();
    test_threshold_guard();
    test_regime();
    CHECK_DONE();
}
