/* mlp: learns a separable toy problem (one and two hidden layers), backprop == numerical
 * gradient, same seed = same model, save/load gives bit-identical predictions. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "kestrel/mlp.h"
#include "model_toy.h"

#define NF 6

static void test_learns(uint32_t h2)
{
    mlp_config c;
    mlp_config_default(&c);
    c.hidden2 = h2;
    model *m = mlp_new("mlp", NF, &c);
    uint64_t rng = 5;
    float x[NF];
    model_input in = { .x = x, .nfeat = NF };
    model_output o;
    x[0] = 0;
    CHECK_INT(model_predict(m, &in, &o), K_MODEL_NOT_READY);
    int right = 0, n = 0;
    for (int i = 0; i < 6000; i++) {
        int y = toy_sample(&rng, x, NF);
        if (i >= 5000) {
            CHECK_INT(model_predict(m, &in, &o), K_MODEL_OK);
            right += toy_argmax(o.p) == y;
            n++;
        }
        CHECK_INT(model_learn(m, &in, y, 1.0), K_MODEL_OK);
    }
    printf("mlp(h2=%u) toy accuracy %.3f\n", h2, (double)right / n);
    CHECK(right >= n * 0.95);
    m->ops->free(m);
}

static void test_gradient(uint32_t h2)
{
    mlp_config c;
    mlp_config_default(&c);
    c.hidden1 = 5;
    c.hidden2 = h2;
    c.l2 = 0.01;
    model *m = mlp_new("mlp", NF, &c);
    uint64_t rng = 9;
    size_t np = mlp_nparams(m);
    double *p = mlp_params(m), *g = calloc(np, sizeof(double));
    for (size_t i = 0; i < np; i++)
        p[i] += 0.3 * (2 * model_rng_uniform(&rng) - 1); /* non-zero biases too */
    float x[NF];
    model_input in = { .x = x, .nfeat = NF };
    double worst = 0, gmax = 0;
    for (int trial = 0; trial < 4; trial++) {
        int y = toy_sample(&rng, x, NF);
        mlp_grad(m, &in, y, g);
        for (size_t i = 0; i < np; i++) {
            double keep = p[i], h = 1e-6;
            p[i] = keep + h;
            double lp = mlp_loss(m, &in, y);
            p[i] = keep - h;
            double lm = mlp_loss(m, &in, y);
            p[i] = keep;
            double num = (lp - lm) / (2 * h);
            double err = fabs(num - g[i]) / fmax(1e-3, fabs(num));
            if (err > worst)
                worst = err;
            gmax = fmax(gmax, fabs(g[i]));
        }
    }
    printf("mlp(h2=%u) %zu params, worst relative gradient error %.3g (max |g| %.3g)\n", h2, np,
           worst, gmax);
    CHECK(gmax > 0.01);
    CHECK(worst < 1e-5);
    free(g);
    m->ops->free(m);
}

static void test_determinism_save_load(void)
{
    mlp_config c;
    mlp_config_default(&c);
    c.hidden2 = 8;
    c.seed = 42;
    model *a = mlp_new("a", NF, &c), *b = mlp_new("b", NF, &c);
    CHECK(memcmp(mlp_params(a), mlp_params(b), mlp_nparams(a) * sizeof(double)) == 0);
    c.seed = 43;
    model *other = mlp_new("o", NF, &c);
    CHECK(memcmp(mlp_params(a), mlp_params(other), mlp_nparams(a) * sizeof(double)) != 0);
    uint64_t rng = 1;
    float x[NF];
    model_input in = { .x = x, .nfeat = NF };
    for (int i = 0; i < 300; i++) {
        int y = toy_sample(&rng, x, NF);
        CHECK_INT(model_learn(a, &in, y, 1.0), K_MODEL_OK);
    }
    model_blob blob = { 0 };
    CHECK_INT(a->ops->save(a, &blob), K_MODEL_OK);
    CHECK_INT(b->ops->load(b, blob.data, blob.len), K_MODEL_OK);
    int same = 1;
    for (int i = 0; i < 200; i++) {
        int y = toy_sample(&rng, x, NF);
        model_output oa, ob;
        CHECK_INT(model_predict(a, &in, &oa), K_MODEL_OK);
        CHECK_INT(model_predict(b, &in, &ob), K_MODEL_OK);
        same &= memcmp(oa.p, ob.p, sizeof oa.p) == 0;
        CHECK_INT(model_learn(a, &in, y, 1.0), K_MODEL_OK);
        CHECK_INT(model_learn(b, &in, y, 1.0), K_MODEL_OK);
    }
    CHECK(same);
    mlp_config_default(&c);
    model *one = mlp_new("one", NF, &c);
    CHECK_INT(one->ops->load(one, blob.data, blob.len), K_MODEL_BAD_STATE);
    model_blob_free(&blob);
    a->ops->free(a);
    b->ops->free(b);
    other->ops->free(other);
    one->ops->free(one);
}

/* The fast paths (row-interleaved forward over the present inputs, the fused backward + vector
 * AdaGrad step) against the plain definition, bit for bit: a one-layer forward written out here
 * and, for one and two hidden layers, mlp_grad followed by G += g^2, w -= lr g / sqrt(G) (in
 * float) on a
 * copy of the parameters. Widths that are not multiples of the vector / row blocks, missing
 * inputs and exact zeros. */
static void test_fast_paths_exact(uint32_t h2)
{
    enum { NX = 37 };
    mlp_config c;
    mlp_config_default(&c);
    c.hidden1 = 11;
    c.hidden2 = h2;
    c.min_samples = 0;
    model *m = mlp_new("mlp", NX, &c);
    size_t np = mlp_nparams(m);
    double *p = mlp_params(m), *ref = malloc(np * sizeof(double));
    double *G = calloc(np, sizeof(double)), *g = malloc(np * sizeof(double));
    memcpy(ref, p, np * sizeof(double));
    uint64_t rng = 77;
    float x[NX];
    uint8_t miss[NX];
    model_input in = { .x = x, .missing = miss, .nfeat = NX };
    int same_p = 1, same_fwd = 1, steps = 0;
    for (int i = 0; i < 400; i++) {
        for (int j = 0; j < NX; j++) {
            double u = model_rng_uniform(&rng);
            miss[j] = u < 0.25;
            x[j] = u < 0.35 ? 0.0f : (float)(4 * model_rng_uniform(&rng) - 2);
        }
        int y = (int)(model_rng_uniform(&rng) * 3);
        if (h2 == 0) { /* forward by the definition: layer after layer, bias then j order */
            double hid[11], z[3], mx, sum = 0, pr[3];
            for (uint32_t u = 0; u < 11; u++) {
                const double *w = p + (size_t)u * (NX + 1);
                double s = w[NX];
                for (int j = 0; j < NX; j++)
                    s += w[j] * (miss[j] ? 0.0 : (double)x[j]);
                hid[u] = tanh(s);
            }
            for (int k = 0; k < 3; k++) {
                const double *w = p + (size_t)11 * (NX + 1) + (size_t)k * 12;
                double s = w[11];
                for (int j = 0; j < 11; j++)
                    s += w[j] * hid[j];
                z[k] = s;
            }
            mx = fmax(fmax(z[0], z[1]), z[2]);
            for (int k = 0; k < 3; k++)
                sum += pr[k] = exp(z[k] - mx);
            model_output o;
            CHECK_INT(model_predict(m, &in, &o), K_MODEL_OK);
            for (int k = 0; k < 3; k++)
                same_fwd &= o.p[k] == pr[k] / sum;
        }
        mlp_grad(m, &in, y, g);
        for (size_t k = 0; k < np; k++) {
            if (g[k] == 0.0)
                continue;
            G[k] += g[k] * g[k]; /* the step size in float (mlp.c), double out of its range */
            double lg = c.lr * g[k];
            ref[k] -= G[k] >= 1e-30 && G[k] <= 1e30 ? (double)((float)lg / sqrtf((float)G[k]))
                                                    : lg / sqrt(G[k]);
        }
        CHECK_INT(model_learn(m, &in, y, 1.0), K_MODEL_OK);
        same_p &= memcmp(p, ref, np * sizeof(double)) == 0;
        steps++;
    }
    CHECK_INT(steps, 400);
    CHECK(same_fwd);
    CHECK(same_p);
    free(ref);
    free(G);
    free(g);
    m->ops->free(m);
}

int main(void)
{
    test_fast_paths_exact(0);
    test_fast_paths_exact(5);
    test_learns(0);
    test_learns(8);
    test_gradient(0);
    test_gradient(4);
    test_determinism_save_load();
    CHECK_DONE();
}
