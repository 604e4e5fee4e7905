/* logreg: learns a separable toy problem, analytic gradient == numerical gradient, NOT_READY
 * before min_samples, bad input refused, save/load gives bit-identical predictions and refuses a
 * blob of another shape. */
#include "check.h"
#include "kestrel/logreg.h"
#include "model_toy.h"

#define NF 6

static void test_learns(void)
{
    model *m = logreg_new("logreg", NF, NULL);
    uint64_t rng = 7;
    float x[NF];
    model_input in = { .x = x, .nfeat = NF };
    model_output o;
    x[0] = 0;
    CHECK_INT(model_predict(m, &in, &o), K_MODEL_NOT_READY);
    int right = 0, n = 0;
    for (int i = 0; i < 4000; i++) {
        int y = toy_sample(&rng, x, NF);
        if (i >= 3000) { /* prequential: predict before learning */
            CHECK_INT(model_predict(m, &in, &o), K_MODEL_OK);
            right += toy_argmax(o.p) == y;
            n++;
        }
        CHECK_INT(model_learn(m, &in, y, 1.0), K_MODEL_OK);
    }
    printf("logreg toy accuracy %.3f\n", (double)right / n);
    /* feature 0 separates the classes: it is what moves BUY for a BUY-like input */
    x[0] = 0.9f;
    for (int j = 1; j < NF; j++)
        x[j] = 0.1f;
    uint32_t idx[3];
    double con[3];
    CHECK_INT(logreg_explain(m, &in, MODEL_BUY, idx, con, 3), 3);
    CHECK_INT(idx[0], 0);
    CHECK(con[0] > 0 && fabs(con[0]) >= fabs(con[1]) && fabs(con[1]) >= fabs(con[2]));
    CHECK_INT(logreg_explain(m, &in, MODEL_SELL, idx, con, 1), 1);
    CHECK(idx[0] == 0 && con[0] < 0);
    CHECK(right >= n * 0.97);
    CHECK_INT(m->ops->samples(m), 4000);
    x[1] = NAN;
    CHECK_INT(model_predict(m, &in, &o), K_MODEL_BAD_INPUT);
    uint8_t miss[NF] = { 0, 1, 0, 0, 0, 0 };
    in.missing = miss;
    CHECK_INT(model_predict(m, &in, &o), K_MODEL_OK);
    CHECK_INT(model_learn(m, &in, 3, 1.0), K_MODEL_BAD_INPUT);
    model_input bad = { .x = x, .nfeat = NF - 1 };
    CHECK_INT(model_predict(m, &bad, &o), K_MODEL_BAD_INPUT);
    m->ops->free(m);
}

static void test_gradient(void)
{
    logreg_config c;
    logreg_config_default(&c);
    c.l2 = 0.01;
    model *m = logreg_new("lr", NF, &c);
    uint64_t rng = 3;
    double *w = logreg_weights(m);
    for (int i = 0; i < 3 * (NF + 1); i++)
        w[i] = 2 * model_rng_uniform(&rng) - 1;
    float x[NF];
    model_input in = { .x = x, .nfeat = NF };
    double g[3 * (NF + 1)];
    double worst = 0, gmax = 0;
    for (int trial = 0; trial < 5; trial++) {
        int y = toy_sample(&rng, x, NF);
        logreg_grad(m, &in, y, g);
        for (int i = 0; i < 3 * (NF + 1); i++) {
            double keep = w[i], h = 1e-6;
            w[i] = keep + h;
            double lp = logreg_loss(m, &in, y);
            w[i] = keep - h;
            double lm = logreg_loss(m, &in, y);
            w[i] = keep;
            double num = (lp - lm) / (2 * h);
            double err = fabs(num - g[i]) / fmax(1e-3, fabs(num));
            if (err > worst)
                worst = err;
            gmax = fmax(gmax, fabs(g[i]));
        }
    }
    printf("logreg worst relative gradient error %.3g (max |g| %.3g)\n", worst, gmax);
    CHECK(gmax > 0.01);
    CHECK(worst < 1e-6);
    m->ops->free(m);
}

static void test_save_load(void)
{
    model *a = logreg_new("a", NF, NULL);
    uint64_t rng = 11;
    float x[NF];
    model_input in = { .x = x, .nfeat = NF };
    for (int i = 0; i < 500; i++) {
        int y = toy_sample(&rng, x, NF);
        CHECK_INT(model_learn(a, &in, y, 1.0), K_MODEL_OK);
    }
    model_blob b = { 0 };
    CHECK_INT(a->ops->save(a, &b), K_MODEL_OK);
    model *c = logreg_new("c", NF, NULL);
    CHECK_INT(c->ops->load(c, b.data, b.len), K_MODEL_OK);
    CHECK_INT(c->ops->samples(c), 500);
    int same = 1;
    for (int i = 0; i < 200; i++) {
        int y = toy_sample(&rng, x, NF);
        model_output oa, oc;
        CHECK_INT(model_predict(a, &in, &oa), K_MODEL_OK);
        CHECK_INT(model_predict(c, &in, &oc), K_MODEL_OK);
        same &= memcmp(oa.p, oc.p, sizeof oa.p) == 0;
        CHECK_INT(model_learn(a, &in, y, 1.0), K_MODEL_OK);
        CHECK_INT(model_learn(c, &in, y, 1.0), K_MODEL_OK);
    }
    CHECK(same);
    model *d = logreg_new("d", NF + 1, NULL);
    CHECK_INT(d->ops->load(d, b.data, b.len), K_MODEL_BAD_STATE);
    CHECK_INT(d->ops->samples(d), 0);
    CHECK_INT(c->ops->load(c, b.data, b.len - 1), K_MODEL_BAD_STATE);
    b.data[0] ^= 1;
    CHECK_INT(c->ops->load(c, b.data, b.len), K_MODEL_BAD_STATE);
    CHECK_STR(model_strerror(K_MODEL_REFUSED), "refused (label offered before its horizon)");
    model_blob_free(&b);
    a->ops->free(a);
    c->ops->free(c);
    d->ops->free(d);
}

int main(void)
{
    test_learns();
    test_gradient();
    test_save_load();
    CHECK_DONE();
}
