/* LSTM: gradient check on every tensor (1 and 2 layers), learning and calibration of the
 * confidence head on the synthetic sequence problem, truncated BPTT, save/load, determinism. */
#include "kestrel/lstm.h"
#include "nn_check.h"

int main(void)
{
    nn_config small, cfg;
    nn_config_default(&small);
    small.window = 6;
    small.hidden = 5;
    small.layers = 2;
    small.bptt = 6;
    nn_config_default(&cfg);
    cfg.window = 16;
    cfg.hidden = 16;
    cfg.bptt = 16;
    nnc_battery(lstm_new, "lstm", &small, &cfg, 0.9, 0.06, 2e-3f);

    small.layers = 1;
    CHECK(nnc_gradcheck(lstm_new, &small, 3, 9, 2e-3f) < 1e-2);

    /* truncated BPTT: with bptt = 1 the input weights' gradient is the outer product with the
     * last bar only, so a feature that is 0 in the last bar gets no gradient; with the full
     * window it does */
    for (uint32_t k = 1; k <= 6; k += 5) {
        small.bptt = k;
        small.layers = 1;
        model *m = lstm_new("t", 3, &small);
        nn_model *nm = (nn_model *)m;
        float win[18], g[4096] = {0};
        for (int i = 0; i < 18; i++)
            win[i] = (float)((i * 7) % 5) - 2.0f + 0.25f;
        win[5 * 3 + 2] = 0; /* feature 2 of the last bar */
        CHECK(nm->arch->nparams < 4096);
        nn_model_loss_grad(nm, nm->cand, win, 2, g);
        const nn_tensor *wx = &nm->arch->t[0];
        double col2 = 0;
        for (uint32_t r = 0; r < wx->rows; r++)
            col2 += fabs(g[wx->off + r * wx->cols + 2]);
        if (k == 1)
            CHECK(col2 == 0);
        else
            CHECK(col2 > 1e-4);
        m->ops->free(m);
    }

    /* the vector activations give the scalar forms' bits, and stay close to libm */
    float v[203], w1[203], w2[203];
    for (int i = 0; i < 203; i++)
        v[i] = (float)(i - 101) * 0.37f;
    v[0] = -200.0f;
    v[1] = 200.0f;
    memcpy(w1, v, sizeof(v));
    nn_sigmoid_v(w1, 203);
    int same = 1;
    double err = 0;
    for (int i = 0; i < 203; i++) {
        same &= memcmp(&w1[i], &(float){nn_sigmoidf(v[i])}, sizeof(float)) == 0;
        err = fmax(err, fabs(w1[i] - 1.0 / (1.0 + exp(-(double)v[i]))));
    }
    nn_tanh_v(v, w2, 203);
    for (int i = 0; i < 203; i++) {
        same &= memcmp(&w2[i], &(float){nn_tanhf(v[i])}, sizeof(float)) == 0;
        err = fmax(err, fabs(w2[i] - tanh((double)v[i])));
    }
    memcpy(w1, v, sizeof(v));
    nn_exp_v(w1, 203);
    for (int i = 2; i < 203; i++) { /* v[0] = -200 clamps to exp(-86) */
        same &= memcmp(&w1[i], &(float){nn_expf(v[i])}, sizeof(float)) == 0;
        err = fmax(err, fabs(w1[i] / exp((double)v[i]) - 1));
    }
    CHECK(same);
    CHECK(err < 1e-6);
    CHECK(w2[0] == -1.0f && w2[1] == 1.0f);

    /* out-of-range configurations */
    nn_config bad = cfg;
    bad.layers = 3;
    CHECK(lstm_new("x", 4, &bad) == NULL);
    bad = cfg;
    bad.hidden = 0;
    CHECK(lstm_new("x", 4, &bad) == NULL);
    CHECK(lstm_new("x", 0, &cfg) == NULL);
    bad = cfg;
    bad.dropout = 1.0f; /* 1 / (1 - rate) */
    CHECK(lstm_new("x", 4, &bad) == NULL);
    bad = cfg;
    bad.lr = 0;
    CHECK(lstm_new("x", 4, &bad) == NULL);
    CHECK(lstm_new("x", 4, NULL) == NULL);
    CHECK_DONE();
}
