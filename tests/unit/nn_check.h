/* Shared checks of the deep sequence models (test_lstm, test_transformer, test_cnn): gradient
 * check by central finite differences on every parameter tensor, learning a separable synthetic
 * sequence problem (the only place synthetic data is allowed: these test a model's mechanics),
 * the confidence head's calibration, save/load identity, refusal of foreign blobs, and
 * determinism for a seed. */
#ifndef KESTREL_NN_CHECK_H
#define KESTREL_NN_CHECK_H
#include "check.h"
#include "kestrel/nn.h"
#include "kestrel/xmalloc.h"

typedef model *(*nnc_ctor)(const char *name, uint32_t nfeat, const nn_config *cfg);

/* Relative error ||num - ana|| / (||num|| + ||ana||) per tensor; returns the worst, prints each. */
/* eps: smooth nets (LSTM) take 2e-3 (less float noise); ReLU nets 5e-4 (a kink within +-eps
 * biases the difference). */
static double nnc_gradcheck(nnc_ctor ctor, const nn_config *cfg, uint32_t F, uint64_t seed,
                            float eps)
{
    model *m = ctor("gc", F, cfg);
    nn_model *nm = (nn_model *)m;
    const nn_arch *a = nm->arch;
    nn_rng r;
    nn_rng_seed(&r, seed);
    /* larger weights than the init so every path carries gradient */
    for (uint32_t i = 0; i < a->nparams; i++)
        nm->cand[i] += (float)(0.3 * nn_rng_normal(&r));
    float *win = xmalloc((size_t)a->T * a->F * sizeof(float));
    for (uint32_t i = 0; i < a->T * a->F; i++)
        win[i] = (float)nn_rng_normal(&r);
    float *g = xcalloc(a->nparams, sizeof(float));
    int label = (int)(seed % 3);
    nn_model_loss_grad(nm, nm->cand, win, label, g);
    double worst = 0;
    for (uint32_t ti = 0; ti < a->ntensors; ti++) {
        const nn_tensor *t = &a->t[ti];
        double dn = 0, num2 = 0, ana2 = 0;
        uint32_t n = t->rows * t->cols;
        for (uint32_t j = 0; j < n; j++) {
            float *p = nm->cand + t->off + j, old = *p;
            *p = old + eps;
            double lp = nn_model_loss_grad(nm, nm->cand, win, label, NULL);
            *p = old - eps;
            double lm = nn_model_loss_grad(nm, nm->cand, win, label, NULL);
            *p = old;
            double num = (lp - lm) / (2.0 * eps), ana = g[t->off + j];
            dn += (num - ana) * (num - ana);
            num2 += num * num;
            ana2 += ana * ana;
        }
        double rel = sqrt(dn) / (sqrt(num2) + sqrt(ana2) + 1e-12);
        if (sqrt(num2) + sqrt(ana2) < 1e-6)
            rel = 0; /* a tensor the sample does not reach */
        if (rel > 1e-2)
            fprintf(stderr, "gradcheck %s tensor %u %s: rel err %.3g (|num| %.3g |ana| %.3g)\n",
                    a->kind, ti, t->name, rel, sqrt(num2), sqrt(ana2));
        worst = rel > worst ? rel : worst;
    }
    free(win);
    free(g);
    m->ops->free(m);
    return worst;
}

/* The synthetic problem: class c in {SELL, HOLD, BUY}; feature 1 of every bar is (c - 1) plus
 * unit noise, the others pure noise. One bar says little (about 55% right); the mean over the
 * window separates the classes, so the model has to integrate over time. With label_noise the
 * given label is replaced by a uniform class that often (the confidence head must learn that
 * the signal is right only ~87% of the time). Returns the clean class; *label gets the label. */
static int nnc_problem(nn_rng *r, uint32_t T, uint32_t F, float *win, double label_noise,
                       int *label)
{
    int c = (int)(nn_rng_next(r) % 3);
    for (uint32_t t = 0; t < T; t++)
        for (uint32_t f = 0; f < F; f++)
            win[t * F + f] = (float)(nn_rng_normal(r) + (f == 1 % F ? (double)(c - 1) : 0.0));
    *label = nn_rng_uniform(r) < label_noise ? (int)(nn_rng_next(r) % 3) : c;
    return c;
}

typedef struct nnc_result {
    double acc_clean;  /* argmax vs the clean class, held-out */
    double ece;        /* confidence vs (argmax == noisy label), 10 bins */
    double mean_conf, hit_rate;
    uint32_t not_ready;
} nnc_result;

/* Trains online on n samples (train() + swap() every `every` samples, as the learner would), then
 * scores `test` fresh samples. */
static nnc_result nnc_learn(model *m, uint32_t T, uint32_t F, uint32_t n, uint32_t every,
                            uint32_t test, double label_noise, uint64_t seed)
{
    nnc_result res;
    memset(&res, 0, sizeof(res));
    nn_rng r;
    nn_rng_seed(&r, seed);
    float *win = xmalloc((size_t)T * F * sizeof(float));
    model_input in = {.window = win, .window_len = T, .nfeat = F};
    for (uint32_t i = 0; i < n; i++) {
        int label;
        nnc_problem(&r, T, F, win, label_noise, &label);
        in.x = win + (size_t)(T - 1) * F;
        if (m->ops->learn(m, &in, label, 1.0) != K_MODEL_OK)
            res.not_ready++;
        if ((i + 1) % every == 0) {
            enum model_result tr = m->ops->train(m);
            if (tr == K_MODEL_OK && m->ops->swap(m) != K_MODEL_OK)
                res.not_ready++;
        }
    }
    double bins_c[10] = {0}, bins_h[10] = {0}, bins_n[10] = {0};
    uint32_t ok = 0, hits = 0;
    double csum = 0;
    for (uint32_t i = 0; i < test; i++) {
        int label, c = nnc_problem(&r, T, F, win, label_noise, &label);
        in.x = win + (size_t)(T - 1) * F;
        model_output o;
        if (m->ops->predict(m, &in, &o) != K_MODEL_OK) {
            res.not_ready++;
            continue;
        }
        int arg = 0;
        for (int k = 1; k < 3; k++)
            if (o.p[k] > o.p[arg])
                arg = k;
        ok += arg == c;
        hits += arg == label;
        csum += o.confidence;
        int b = (int)(o.confidence * 10);
        b = b < 0 ? 0 : b > 9 ? 9 : b;
        bins_c[b] += o.confidence;
        bins_h[b] += arg == label;
        bins_n[b] += 1;
    }
    for (int b = 0; b < 10; b++)
        if (bins_n[b] > 0)
            res.ece += fabs(bins_c[b] - bins_h[b]) / test;
    res.acc_clean = (double)ok / test;
    res.hit_rate = (double)hits / test;
    res.mean_conf = csum / test;
    free(win);
    return res;
}

/* Predictions of m on k fixed random windows into p (k * 4 doubles). */
static int nnc_predict_set(model *m, uint32_t T, uint32_t F, uint32_t k, double *out)
{
    nn_rng r;
    nn_rng_seed(&r, 777);
    float *win = xmalloc((size_t)T * F * sizeof(float));
    model_input in = {.window = win, .window_len = T, .nfeat = F};
    int rc = 0;
    for (uint32_t i = 0; i < k; i++) {
        int label;
        nnc_problem(&r, T, F, win, 0, &label);
        in.x = win + (size_t)(T - 1) * F;
        model_output o;
        if (m->ops->predict(m, &in, &o) != K_MODEL_OK)
            rc = -1;
        memcpy(out + 4 * i, o.p, 3 * sizeof(double));
        out[4 * i + 3] = o.confidence;
    }
    free(win);
    return rc;
}

/* The whole battery for one network kind; cal_tol bounds the confidence head's ECE and its
 * mean error against the hit rate. */
static void nnc_battery(nnc_ctor ctor, const char *kind, const nn_config *small,
                        const nn_config *learn_cfg, double min_acc, double cal_tol,
                        float eps)
{
    const uint32_t F = 4;
    uint32_t T = learn_cfg->window;

    /* gradients: every tensor, three seeds (three labels) */
    for (uint64_t s = 1; s <= 3; s++) {
        double worst = nnc_gradcheck(ctor, small, 3, s, eps);
        fprintf(stderr, "%s gradcheck seed %llu: worst rel err %.3g\n", kind,
                (unsigned long long)s, worst);
        CHECK(worst < 1e-2);
    }

    /* interface basics */
    model *m = ctor(kind, F, learn_cfg);
    CHECK(m != NULL);
    CHECK_STR(m->ops->kind, kind);
    CHECK(m->ops->flags & MODEL_F_SEQUENCE);
    CHECK(m->ops->flags & MODEL_F_OFFTHREAD);
    float *win = xcalloc((size_t)T * F, sizeof(float));
    model_input in = {.x = win + (T - 1) * F, .window = win, .window_len = T, .nfeat = F};
    model_output o;
    CHECK_INT(m->ops->predict(m, &in, &o), K_MODEL_NOT_READY); /* untrained */
    CHECK_INT(m->ops->train(m), K_MODEL_NOT_READY);           /* no samples */
    CHECK_INT(m->ops->swap(m), K_MODEL_NOT_READY);
    in.nfeat = F + 1;
    CHECK_INT(m->ops->predict(m, &in, &o), K_MODEL_BAD_INPUT);
    in.nfeat = F;
    in.window_len = T - 1;
    CHECK_INT(m->ops->learn(m, &in, 1, 1.0), K_MODEL_BAD_INPUT);
    in.window_len = T;
    win[3] = NAN;
    CHECK_INT(m->ops->learn(m, &in, 1, 1.0), K_MODEL_BAD_INPUT);
    win[3] = 0;
    CHECK_INT(m->ops->learn(m, &in, 3, 1.0), K_MODEL_BAD_INPUT);
    CHECK_INT(m->ops->learn(m, &in, 1, -1.0), K_MODEL_BAD_INPUT);
    CHECK_INT(m->ops->samples(m), 0);
    free(win);

    /* learning + calibration */
    nnc_result res = nnc_learn(m, T, F, 3000, 10, 1000, 0.2, 42);
    fprintf(stderr, "%s: clean acc %.3f, hit %.3f, mean conf %.3f, ECE %.3f\n", kind,
            res.acc_clean, res.hit_rate, res.mean_conf, res.ece);
    CHECK_INT(res.not_ready, 0);
    CHECK(res.acc_clean >= min_acc);
    CHECK(res.ece < cal_tol); /* reliability: |confidence - hit rate| per bin, weighted */
    CHECK(fabs(res.mean_conf - res.hit_rate) < cal_tol);
    CHECK_INT(m->ops->samples(m), 3000);

    /* save / load: bit-identical predictions in a fresh model, refusal of foreign blobs */
    model_blob blob = {0};
    CHECK_INT(m->ops->save(m, &blob), K_MODEL_OK);
    double *p1 = xmalloc(64 * 4 * sizeof(double)), *p2 = xmalloc(64 * 4 * sizeof(double));
    CHECK_INT(nnc_predict_set(m, T, F, 64, p1), 0);
    nn_config other = *learn_cfg;
    other.seed = 999;
    model *m2 = ctor(kind, F, &other);
    CHECK_INT(m2->ops->load(m2, blob.data, blob.len), K_MODEL_OK);
    CHECK_INT(nnc_predict_set(m2, T, F, 64, p2), 0);
    CHECK(memcmp(p1, p2, 64 * 4 * sizeof(double)) == 0);
    CHECK_INT(m2->ops->samples(m2), 3000);
    blob.data[blob.len / 2] ^= 1; /* corrupt: refused, model unchanged */
    CHECK_INT(m2->ops->load(m2, blob.data, blob.len), K_MODEL_BAD_STATE);
    blob.data[blob.len / 2] ^= 1;
    CHECK_INT(m2->ops->load(m2, blob.data, blob.len - 1), K_MODEL_BAD_STATE);
    CHECK_INT(nnc_predict_set(m2, T, F, 64, p2), 0);
    CHECK(memcmp(p1, p2, 64 * 4 * sizeof(double)) == 0);
    nn_config wide = *learn_cfg;
    wide.hidden = learn_cfg->hidden + 4;
    model *m3 = ctor(kind, F, &wide);
    CHECK_INT(m3->ops->load(m3, blob.data, blob.len), K_MODEL_BAD_STATE);
    m3->ops->free(m3);
    model *m4 = ctor(kind, F + 1, learn_cfg);
    CHECK_INT(m4->ops->load(m4, blob.data, blob.len), K_MODEL_BAD_STATE);
    m4->ops->free(m4);
    /* training continues after a load */
    nnc_result again = nnc_learn(m2, T, F, 200, 10, 200, 0.2, 43);
    CHECK_INT(again.not_ready, 0);
    CHECK(again.acc_clean >= min_acc - 0.05);
    model_blob_free(&blob);
    m2->ops->free(m2);

    /* determinism for a seed: same seed + same calls = same state, byte for byte */
    model *a = ctor(kind, F, learn_cfg), *b = ctor(kind, F, learn_cfg);
    nn_config seeded = *learn_cfg;
    seeded.seed = learn_cfg->seed + 1;
    model *c = ctor(kind, F, &seeded);
    nnc_learn(a, T, F, 300, 10, 10, 0.2, 5);
    nnc_learn(b, T, F, 300, 10, 10, 0.2, 5);
    nnc_learn(c, T, F, 300, 10, 10, 0.2, 5);
    model_blob ba = {0}, bb = {0}, bc = {0};
    CHECK_INT(a->ops->save(a, &ba), K_MODEL_OK);
    CHECK_INT(b->ops->save(b, &bb), K_MODEL_OK);
    CHECK_INT(c->ops->save(c, &bc), K_MODEL_OK);
    CHECK(ba.len == bb.len && memcmp(ba.data, bb.data, ba.len) == 0);
    CHECK(ba.len == bc.len && memcmp(ba.data, bc.data, ba.len) != 0);
    model_blob_free(&ba);
    model_blob_free(&bb);
    model_blob_free(&bc);
    a->ops->free(a);
    b->ops->free(b);
    c->ops->free(c);
    free(p1);
    free(p2);
    m->ops->free(m);
}

#endif
