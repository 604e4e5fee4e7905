/* scorer: the weights on hand-built inputs (every component, caps, neutral/squeeze/
 * expansion terms, threshold), missing inputs never vote, the RSI fallback, and the adaptive
 * weights model (does not move before 10 samples, then learns which vote is right; save/load). */
#include "check.h"
#include "kestrel/scorer.h"
#include "model_toy.h"

static void base_input(scorer_input *in)
{
    scorer_input_clear(in);
    in->close = 100;
    in->open = 100;
    in->rsi = 65; /* neither extreme nor neutral */
}

static void test_components(void)
{
    scorer_input in;
    scorer_result r;
    base_input(&in);
    scorer_score(&in, SCORER_THRESHOLD, &r);
    CHECK_INT(r.action, MODEL_HOLD);
    CHECK_NEAR(r.bull, 0, 0);
    CHECK(r.vote_missing[SCORER_MA] && r.vote_missing[SCORER_BB] && r.vote_missing[SCORER_FLOW]);
    CHECK(!r.vote_missing[SCORER_RSI]);
    /* everything bull: 0.3+0.25+0.2+0.25+0.1+0.2+0.2+0.15 = 1.65, capped to 1 */
    in.ema9 = 103, in.ema21 = 102, in.ema50 = 101;
    in.ret_5 = 0.002;
    in.rsi = 25;
    in.macd = 1, in.macd_signal = 0, in.macd_prev_diff = -0.5, in.hist = 1, in.hist_prev = 0.5;
    in.bb_upper = 110, in.bb_lower = 100, in.bb_width = 5;
    in.imbalance = 0.3;
    in.vol_ratio = 2, in.open = 99;
    scorer_score(&in, SCORER_THRESHOLD, &r);
    CHECK_INT(r.action, MODEL_BUY);
    CHECK_NEAR(r.bull, 1.0, 1e-12);
    CHECK_NEAR(r.bear, 0.0, 1e-12);
    CHECK_NEAR(r.strength, 1.0, 1e-12);
    CHECK_INT(r.nreasons, 8);
    for (int v = 0; v < SCORER_NVOTES; v++)
        CHECK_INT(r.votes[v], 1);
    CHECK_NEAR(r.p[MODEL_BUY], 0.9, 1e-12);
    CHECK_NEAR(r.p[0] + r.p[1] + r.p[2], 1.0, 1e-12);
    /* MA 0.3 + momentum 0.25 - neutral RSI 0.1 + squeeze 0.15 = 0.60: under the threshold */
    base_input(&in);
    in.ema9 = 103, in.ema21 = 102, in.ema50 = 101;
    in.ret_5 = 0.002;
    in.rsi = 50;
    in.bb_upper = 101, in.bb_lower = 99, in.bb_width = 1.5;
    scorer_score(&in, SCORER_THRESHOLD, &r);
    CHECK_NEAR(r.bull, 0.60, 1e-12);
    CHECK_NEAR(r.bear, 0.05, 1e-12);
    CHECK_INT(r.action, MODEL_HOLD);
    CHECK_NEAR(r.strength, 0.60, 1e-12);
    CHECK_NEAR(r.p[MODEL_HOLD], 0.5, 1e-12);
    CHECK_NEAR(r.p[MODEL_BUY], 0.25 + 0.55 / 4, 1e-12);
    /* + order flow 0.2 = 0.80 -> BUY */
    in.imbalance = 0.25;
    scorer_score(&in, SCORER_THRESHOLD, &r);
    CHECK_NEAR(r.bull, 0.80, 1e-12);
    CHECK_INT(r.action, MODEL_BUY);
    CHECK_NEAR(r.p[MODEL_BUY], 0.8, 1e-12);
    /* expansion instead of squeeze: 0.3+0.25-0.1+0.2-0.1 = 0.55 -> HOLD */
    in.bb_width = 9;
    scorer_score(&in, SCORER_THRESHOLD, &r);
    CHECK_NEAR(r.bull, 0.55, 1e-12);
    CHECK_INT(r.action, MODEL_HOLD);
    /* a lower threshold makes the same score a BUY */
    scorer_score(&in, 0.5, &r);
    CHECK_INT(r.action, MODEL_BUY);
    /* bear side: MA bear, momentum down, RSI > 70, MACD cross down + growing negative hist,
     * upper touch, sell imbalance, volume on a down bar */
    base_input(&in);
    in.ema9 = 99, in.ema21 = 100, in.ema50 = 101;
    in.ret_5 = -0.003;
    in.rsi = 75;
    in.macd = -1, in.macd_signal = 0, in.macd_prev_diff = 0.2, in.hist = -1, in.hist_prev = -0.2;
    in.close = 111, in.open = 112, in.bb_upper = 110, in.bb_lower = 100, in.bb_width = 5;
    in.imbalance = -0.5;
    in.vol_ratio = 1.6;
    scorer_score(&in, SCORER_THRESHOLD, &r);
    CHECK_INT(r.action, MODEL_SELL);
    CHECK_NEAR(r.bear, 1.0, 1e-12);
    CHECK_NEAR(r.bull, 0.0, 1e-12);
    for (int v = 0; v < SCORER_NVOTES; v++)
        CHECK_INT(r.votes[v], -1);
    /* MACD: no cross when the sign did not change; growing hist alone adds 0.1 */
    base_input(&in);
    in.macd = 1, in.macd_signal = 0.5, in.macd_prev_diff = 0.3, in.hist = 0.5, in.hist_prev = 0.3;
    scorer_score(&in, SCORER_THRESHOLD, &r);
    CHECK_INT(r.votes[SCORER_MACD], 0);
    CHECK_NEAR(r.bull, 0.1, 1e-12);
    /* volume ratio under 1.5 does not vote */
    base_input(&in);
    in.vol_ratio = 1.4, in.open = 99;
    scorer_score(&in, SCORER_THRESHOLD, &r);
    CHECK_INT(r.votes[SCORER_VOL], 0);
    CHECK(!r.vote_missing[SCORER_VOL]);
}

static void test_fallback(void)
{
    scorer_result r;
    scorer_rsi_fallback(25, &r);
    CHECK_INT(r.action, MODEL_BUY);
    CHECK_NEAR(r.strength, 0.5, 1e-12);
    CHECK(r.fallback);
    scorer_rsi_fallback(80, &r);
    CHECK_INT(r.action, MODEL_SELL);
    CHECK_NEAR(r.strength, 0.6, 1e-12);
    scorer_rsi_fallback(55, &r);
    CHECK_INT(r.action, MODEL_HOLD);
    scorer_rsi_fallback(NAN, &r);
    CHECK_INT(r.action, MODEL_HOLD);
    CHECK_NEAR(r.p[1], 1.0 / 3.0, 1e-12);
}

/* Toy: vote 0 always right, vote 1 always wrong, vote 2 random, others silent. */
static void test_weights(void)
{
    enum { NF = 9 };
    uint32_t idx[SCORER_NVOTES] = { 2, 3, 4, 5, 6, 7, 8 };
    model *m = scorer_weights_new("weights", NF, idx);
    uint32_t badidx[SCORER_NVOTES] = { 2, 3, 4, 5, 6, 7, 9 };
    CHECK(scorer_weights_new("bad", NF, badidx) == NULL);
    float x[NF];
    uint8_t miss[NF] = { 0 };
    model_input in = { .x = x, .missing = miss, .nfeat = NF };
    uint64_t rng = 17;
    double w[SCORER_NVOTES];
    uint64_t n[SCORER_NVOTES];
    int right = 0, tot = 0;
    for (int i = 0; i < 300; i++) {
        int y = model_rng_next(&rng) % 2 ? MODEL_BUY : MODEL_SELL;
        int dir = y == MODEL_BUY ? 1 : -1;
        memset(x, 0, sizeof x);
        x[2] = (float)dir;
        x[3] = (float)-dir;
        x[4] = model_rng_next(&rng) % 2 ? 1.0f : -1.0f;
        miss[8] = 1;
        model_output o;
        CHECK_INT(model_predict(m, &in, &o), K_MODEL_OK);
        if (i == 0) /* no sample yet: the uniform prior, not 0.999 from one vote */
            for (int k = 0; k < MODEL_CLASSES; k++)
                CHECK_NEAR(o.p[k], 1.0 / 3.0, 1e-12);
        if (i >= 100) {
            right += toy_argmax(o.p) == y;
            tot++;
        }
        CHECK_INT(model_learn(m, &in, y, 1.0), K_MODEL_OK);
        if (i == 8) {
            scorer_weights_get(m, w, n);
            CHECK_INT(n[0], 9);
            CHECK_NEAR(w[0], 0.30, 0);
            CHECK_NEAR(w[1], 0.25, 0);
        }
        if (i == 9) {
            scorer_weights_get(m, w, n);
            CHECK_NEAR(w[0], 0.30 + 0.1 * (0.60 - 0.30), 1e-12);
            CHECK_NEAR(w[1], 0.25 + 0.1 * (0.0 - 0.25), 1e-12);
        }
    }
    scorer_weights_get(m, w, n);
    printf("weights after 300: ma %.3f mom %.3f rsi %.3f (n %llu)\n", w[0], w[1], w[2],
           (unsigned long long)n[0]);
    CHECK(fabs(w[0] - 0.60) < 1e-3);
    CHECK(w[1] < 1e-3);
    CHECK(w[2] > 0.1 && w[2] < 0.3);
    CHECK_INT(n[6], 0);
    CHECK(right >= tot * 0.95);
    double ma, mc;
    scorer_weights_map(m, &ma, &mc);
    CHECK(ma > 0.5); /* the map learned that s points the way */
    /* HOLD outcomes do not move weights */
    CHECK_INT(model_learn(m, &in, MODEL_HOLD, 1.0), K_MODEL_OK);
    double w2[SCORER_NVOTES];
    scorer_weights_get(m, w2, NULL);
    CHECK(memcmp(w, w2, sizeof w) == 0);
    model_blob b = { 0 };
    CHECK_INT(m->ops->save(m, &b), K_MODEL_OK);
    model *c = scorer_weights_new("c", NF, idx);
    CHECK_INT(c->ops->load(c, b.data, b.len), K_MODEL_OK);
    scorer_weights_get(c, w2, NULL);
    CHECK(memcmp(w, w2, sizeof w) == 0);
    CHECK_INT(c->ops->samples(c), 301);
    uint32_t otheridx[SCORER_NVOTES] = { 0, 1, 2, 3, 4, 5, 6 };
    model *d = scorer_weights_new("d", NF, otheridx);
    CHECK_INT(d->ops->load(d, b.data, b.len), K_MODEL_BAD_STATE);
    model_blob_free(&b);
    m->ops->free(m);
    c->ops->free(c);
    d->ops->free(d);
}

int main(void)
{
    test_components();
    test_fallback();
    test_weights();
    CHECK_DONE();
}
