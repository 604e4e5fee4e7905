/* The 1-D CNN trunk: conv(k=3, F -> C1) + ReLU, max-pool 2, conv(k=3, C1 -> C2) + ReLU, global
 * average over time -> z (C2). Convolutions are im2col (the k bars of a patch are contiguous in
 * the row-major window, so a patch is one memcpy) followed by one sgemm; backward is the
 * transposed sgemms and a col2im. Heads, optimiser, replay and threading are nn.c's.
 *
 * dim[]: 0 = C1, 1 = C2, 2 = kernel, 3 = T1 (after conv 1), 4 = T2 (after pool), 5 = T3. */
#include "kestrel/cnn.h"

#include "kestrel/xmalloc.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

enum { CNN_W1 = 0, CNN_B1, CNN_W2, CNN_B2 };

typedef struct cnn_ws {
    float *p1, *y1, *pm, *arg, *p2, *y2, *dy2, *dp2, *dpm, *dy1;
} cnn_ws;

static cnn_ws cnn_layout(const nn_arch *a, float *ws)
{
    uint32_t F = a->F, C1 = a->dim[0], C2 = a->dim[1], K = a->dim[2];
    uint32_t T1 = a->dim[3], T2 = a->dim[4], T3 = a->dim[5];
    cnn_ws w;
    w.p1 = ws;
    w.y1 = w.p1 + (size_t)T1 * K * F;
    w.pm = w.y1 + (size_t)T1 * C1;
    w.arg = w.pm + (size_t)T2 * C1;
    w.p2 = w.arg + (size_t)T2 * C1;
    w.y2 = w.p2 + (size_t)T3 * K * C1;
    w.dy2 = w.y2 + (size_t)T3 * C2;
    w.dp2 = w.dy2 + (size_t)T3 * C2;
    w.dpm = w.dp2 + (size_t)T3 * K * C1;
    w.dy1 = w.dpm + (size_t)T2 * C1;
    return w;
}

static size_t cnn_ws_floats(uint32_t F, uint32_t C1, uint32_t C2, uint32_t K, uint32_t T1,
                            uint32_t T2, uint32_t T3)
{
    return (size_t)T1 * K * F + (size_t)T1 * C1 + 2 * (size_t)T2 * C1 + (size_t)T3 * K * C1 +
           2 * (size_t)T3 * C2 + (size_t)T3 * K * C1 + (size_t)T2 * C1 + (size_t)T1 * C1;
}

/* y (rows x n) = x (rows x k) * w^T + b, then ReLU */
static void cnn_dense_relu(const nn_arch *a, const float *x, const float *w, const float *b,
                           float *y, uint32_t rows, uint32_t k, uint32_t n)
{
    for (uint32_t r = 0; r < rows; r++)
        memcpy(y + (size_t)r * n, b, n * sizeof(float));
    a->blas.sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, (int)n, (int)k, 1.0f, x,
                  (int)k, w, (int)k, 1.0f, y, (int)n);
    for (size_t i = 0; i < (size_t)rows * n; i++)
        y[i] = y[i] > 0 ? y[i] : 0.0f;
}

static void cnn_forward(const nn_arch *a, const float *p, const float *win, float *ws, float *z)
{
    uint32_t F = a->F, C1 = a->dim[0], C2 = a->dim[1], K = a->dim[2];
    uint32_t T1 = a->dim[3], T2 = a->dim[4], T3 = a->dim[5];
    cnn_ws w = cnn_layout(a, ws);
    for (uint32_t t = 0; t < T1; t++)
        memcpy(w.p1 + (size_t)t * K * F, win + (size_t)t * F, K * F * sizeof(float));
    cnn_dense_relu(a, w.p1, nn_cat(a, p, CNN_W1), nn_cat(a, p, CNN_B1), w.y1, T1, K * F, C1);
    for (uint32_t t = 0; t < T2; t++)
        for (uint32_t c = 0; c < C1; c++) {
            float u = w.y1[(size_t)(2 * t) * C1 + c], v = w.y1[(size_t)(2 * t + 1) * C1 + c];
            w.pm[(size_t)t * C1 + c] = v > u ? v : u;
            w.arg[(size_t)t * C1 + c] = v > u ? 1.0f : 0.0f;
        }
    for (uint32_t t = 0; t < T3; t++)
        memcpy(w.p2 + (size_t)t * K * C1, w.pm + (size_t)t * C1, K * C1 * sizeof(float));
    cnn_dense_relu(a, w.p2, nn_cat(a, p, CNN_W2), nn_cat(a, p, CNN_B2), w.y2, T3, K * C1, C2);
    for (uint32_t c = 0; c < C2; c++) {
        float s = 0;
        for (uint32_t t = 0; t < T3; t++)
            s += w.y2[(size_t)t * C2 + c];
        z[c] = s / (float)T3;
    }
}

static void cnn_backward(const nn_arch *a, const float *p, const float *win, float *ws,
                         const float *dz, float *g)
{
    (void)win;
    uint32_t F = a->F, C1 = a->dim[0], C2 = a->dim[1], K = a->dim[2];
    uint32_t T1 = a->dim[3], T2 = a->dim[4], T3 = a->dim[5];
    cnn_ws w = cnn_layout(a, ws);
    float *gb2 = nn_at(a, g, CNN_B2), *gb1 = nn_at(a, g, CNN_B1);
    for (uint32_t t = 0; t < T3; t++)
        for (uint32_t c = 0; c < C2; c++) {
            float d = w.y2[(size_t)t * C2 + c] > 0 ? dz[c] / (float)T3 : 0.0f;
            w.dy2[(size_t)t * C2 + c] = d;
            gb2[c] += d;
        }
    a->blas.sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)C2, (int)(K * C1), (int)T3, 1.0f,
                  w.dy2, (int)C2, w.p2, (int)(K * C1), 1.0f, nn_at(a, g, CNN_W2), (int)(K * C1));
    a->blas.sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)T3, (int)(K * C1), (int)C2, 1.0f,
                  w.dy2, (int)C2, nn_cat(a, p, CNN_W2), (int)(K * C1), 0.0f, w.dp2, (int)(K * C1));
    memset(w.dpm, 0, (size_t)T2 * C1 * sizeof(float));
    for (uint32_t t = 0; t < T3; t++)
        for (uint32_t j = 0; j < K * C1; j++)
            w.dpm[(size_t)t * C1 + j] += w.dp2[(size_t)t * K * C1 + j];
    memset(w.dy1, 0, (size_t)T1 * C1 * sizeof(float));
    for (uint32_t t = 0; t < T2; t++)
        for (uint32_t c = 0; c < C1; c++) {
            uint32_t src = 2 * t + (w.arg[(size_t)t * C1 + c] > 0 ? 1 : 0);
            if (w.y1[(size_t)src * C1 + c] > 0)
                w.dy1[(size_t)src * C1 + c] = w.dpm[(size_t)t * C1 + c];
        }
    for (uint32_t t = 0; t < T1; t++)
        for (uint32_t c = 0; c < C1; c++)
            gb1[c] += w.dy1[(size_t)t * C1 + c];
    a->blas.sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)C1, (int)(K * F), (int)T1, 1.0f,
                  w.dy1, (int)C1, w.p1, (int)(K * F), 1.0f, nn_at(a, g, CNN_W1), (int)(K * F));
}

static const model_ops cnn_ops = {
    .kind = "cnn",
    .flags = MODEL_F_SEQUENCE | MODEL_F_OFFTHREAD,
    .predict = nn_model_predict,
    .learn = nn_model_learn,
    .train = nn_model_train,
    .swap = nn_model_swap,
    .save = nn_model_save,
    .load = nn_model_load,
    .samples = nn_model_samples,
    .free = nn_model_free,
    .retrains = nn_model_retrains,
};

model *cnn_new(const char *name, uint32_t nfeat, const nn_config *cfg)
{
    const uint32_t K = 3;
    if (!nn_config_ok(cfg) || nfeat == 0 || nfeat > 4096 || cfg->window < 8 || cfg->window > 1024 ||
        cfg->hidden == 0 || cfg->hidden > 512)
        return NULL;
    nn_arch *a = xcalloc(1, sizeof(*a));
    uint32_t T = cfg->window, C1 = cfg->hidden, C2 = cfg->hidden;
    uint32_t T1 = T - K + 1, T2 = T1 / 2, T3 = T2 - K + 1;
    a->kind = "cnn";
    a->T = T;
    a->F = nfeat;
    a->D = C2;
    a->dim[0] = C1;
    a->dim[1] = C2;
    a->dim[2] = K;
    a->dim[3] = T1;
    a->dim[4] = T2;
    a->dim[5] = T3;
    a->forward = cnn_forward;
    a->backward = cnn_backward;
    nn_arch_add(a, "w1", C1, K * nfeat, NN_INIT_UNIFORM, sqrtf(6.0f / (float)(K * nfeat)));
    nn_arch_add(a, "b1", 1, C1, NN_INIT_CONST, 0.01f);
    nn_arch_add(a, "w2", C2, K * C1, NN_INIT_UNIFORM, sqrtf(6.0f / (float)(K * C1)));
    nn_arch_add(a, "b2", 1, C2, NN_INIT_CONST, 0.01f);
    a->ws_floats = cnn_ws_floats(nfeat, C1, C2, K, T1, T2, T3);
    return nn_model_new(&cnn_ops, name, nfeat, cfg, a);
}
