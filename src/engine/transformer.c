/* The Transformer-encoder trunk: embedding + sinusoidal positions, pre-LN blocks
 *     X1 = X + Attn(LN1(X)) Wo + bo,   X2 = X1 + ReLU(LN2(X1) W1 + b1) W2 + b2,
 * and z = LNf(X_L[T-1]); the last block computes only that row past its keys and values (the
 * other rows cannot reach z), exactly and at a fraction of the cost. Attention per head is two
 * sgemms on column slices of the packed QKV matrix (leading dimension 3d, so no copies), softmax
 * per row in between; backward mirrors it.
 * Heads, optimiser, replay and threading are nn.c's. The positional table is computed once at
 * creation and lives after the arch struct (one allocation, freed with it).
 *
 * dim[]: 0 = d_model, 1 = layers, 2 = heads, 3 = feed-forward width. */
#include "kestrel/transformer.h"

#include "kestrel/xmalloc.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

#define TF_EPS 1e-5f
#define TF_PER_LAYER 12
enum { TF_WE = 0, TF_BE, TF_LAYER0 };
enum { TF_LN1G = 0, TF_LN1B, TF_WQKV, TF_BQKV, TF_WO, TF_BO, TF_LN2G, TF_LN2B, TF_W1, TF_B1,
       TF_W2, TF_B2 };

typedef struct tf_arch {
    nn_arch a;
    float pos[]; /* T x d */
} tf_arch;

typedef struct tf_layer_ws {
    float *xhat1, *rs1, *u1, *qkv, *att, *o, *x1, *xhat2, *rs2, *u2, *hf, *x2;
} tf_layer_ws;

static size_t tf_layer_floats(uint32_t T, uint32_t d, uint32_t H, uint32_t dff)
{
    return (size_t)T * d * 7 + 2 * (size_t)T + (size_t)T * 3 * d + (size_t)H * T * T +
           (size_t)T * dff;
}

static tf_layer_ws tf_layer(const nn_arch *a, float *ws, uint32_t l)
{
    uint32_t T = a->T, d = a->dim[0], H = a->dim[2], dff = a->dim[3];
    float *p = ws + (size_t)T * d + tf_layer_floats(T, d, H, dff) * l;
    tf_layer_ws w;
    w.xhat1 = p;
    w.rs1 = w.xhat1 + (size_t)T * d;
    w.u1 = w.rs1 + T;
    w.qkv = w.u1 + (size_t)T * d;
    w.att = w.qkv + (size_t)T * 3 * d;
    w.o = w.att + (size_t)H * T * T;
    w.x1 = w.o + (size_t)T * d;
    w.xhat2 = w.x1 + (size_t)T * d;
    w.rs2 = w.xhat2 + (size_t)T * d;
    w.u2 = w.rs2 + T;
    w.hf = w.u2 + (size_t)T * d;
    w.x2 = w.hf + (size_t)T * dff;
    return w;
}

/* after the layers: xhatf (d), rsf (1), then backward scratch */
static float *tf_tail(const nn_arch *a, float *ws)
{
    uint32_t T = a->T, d = a->dim[0], H = a->dim[2], dff = a->dim[3];
    return ws + (size_t)T * d + tf_layer_floats(T, d, H, dff) * a->dim[1];
}

static uint32_t tf_t(uint32_t l, uint32_t which)
{
    return TF_LAYER0 + TF_PER_LAYER * l + which;
}

static void tf_ln_row(const float *x, const float *g, const float *b, uint32_t d, float *xhat,
                      float *rs, float *y)
{
    float m = 0, v = 0;
    for (uint32_t i = 0; i < d; i++)
        m += x[i];
    m /= (float)d;
    for (uint32_t i = 0; i < d; i++)
        v += (x[i] - m) * (x[i] - m);
    float r = 1.0f / sqrtf(v / (float)d + TF_EPS);
    *rs = r;
    for (uint32_t i = 0; i < d; i++) {
        xhat[i] = (x[i] - m) * r;
        y[i] = g[i] * xhat[i] + b[i];
    }
}

/* dx (=, or += when add) from dy through y = g * xhat + b; accumulates dg, db */
static void tf_ln_back(const float *dy, const float *g, const float *xhat, float rs, uint32_t d,
                       float *dg, float *db, float *dx, int add)
{
    float m1 = 0, m2 = 0;
    for (uint32_t i = 0; i < d; i++) {
        float dxh = dy[i] * g[i];
        m1 += dxh;
        m2 += dxh * xhat[i];
        dg[i] += dy[i] * xhat[i];
        db[i] += dy[i];
    }
    m1 /= (float)d;
    m2 /= (float)d;
    for (uint32_t i = 0; i < d; i++) {
        float v = rs * (dy[i] * g[i] - m1 - xhat[i] * m2);
        dx[i] = add ? dx[i] + v : v;
    }
}

static void tf_rows_bias(float *y, const float *b, uint32_t rows, uint32_t n)
{
    for (uint32_t r = 0; r < rows; r++)
        memcpy(y + (size_t)r * n, b, n * sizeof(float));
}

static void tf_colsum(const float *x, uint32_t rows, uint32_t n, float *out)
{
    for (uint32_t r = 0; r < rows; r++)
        for (uint32_t i = 0; i < n; i++)
            out[i] += x[(size_t)r * n + i];
}

static void tf_forward(const nn_arch *a, const float *p, const float *win, float *ws, float *z)
{
    const tf_arch *ta = (const tf_arch *)a;
    uint32_t T = a->T, F = a->F, d = a->dim[0], L = a->dim[1], H = a->dim[2], dff = a->dim[3];
    uint32_t dh = d / H;
    float scale = 1.0f / sqrtf((float)dh);
    float *x = ws; /* X0 */
    memcpy(x, ta->pos, (size_t)T * d * sizeof(float));
    for (uint32_t t = 0; t < T; t++)
        for (uint32_t i = 0; i < d; i++)
            x[(size_t)t * d + i] += nn_cat(a, p, TF_BE)[i];
    a->blas.sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)T, (int)d, (int)F, 1.0f, win,
                  (int)F, nn_cat(a, p, TF_WE), (int)F, 1.0f, x, (int)d);
    for (uint32_t l = 0; l < L; l++) {
        tf_layer_ws w = tf_layer(a, ws, l);
        const float *g1 = nn_cat(a, p, tf_t(l, TF_LN1G)), *b1 = nn_cat(a, p, tf_t(l, TF_LN1B));
        for (uint32_t t = 0; t < T; t++)
            tf_ln_row(x + (size_t)t * d, g1, b1, d, w.xhat1 + (size_t)t * d, w.rs1 + t,
                      w.u1 + (size_t)t * d);
        tf_rows_bias(w.qkv, nn_cat(a, p, tf_t(l, TF_BQKV)), T, 3 * d);
        a->blas.sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)T, (int)(3 * d), (int)d, 1.0f,
                      w.u1, (int)d, nn_cat(a, p, tf_t(l, TF_WQKV)), (int)d, 1.0f, w.qkv,
                      (int)(3 * d));
        /* the last block feeds only the newest bar's row to LNf: its queries, attention output
         * and feed-forward run for that row alone (keys and values still cover the window) */
        uint32_t r0 = l + 1 == L ? T - 1 : 0, nq = T - r0;
        for (uint32_t h = 0; h < H; h++) {
            float *A = w.att + (size_t)h * T * T + (size_t)r0 * T;
            a->blas.sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nq, (int)T, (int)dh, scale,
                          w.qkv + (size_t)r0 * 3 * d + h * dh, (int)(3 * d), w.qkv + d + h * dh,
                          (int)(3 * d), 0.0f, A, (int)T);
            for (uint32_t r = 0; r < nq; r++) {
                float *row = A + (size_t)r * T, mx = row[0], s = 0;
                for (uint32_t c = 1; c < T; c++)
                    mx = row[c] > mx ? row[c] : mx;
                for (uint32_t c = 0; c < T; c++)
                    row[c] -= mx;
                nn_exp_v(row, T);
                for (uint32_t c = 0; c < T; c++)
                    s += row[c];
                for (uint32_t c = 0; c < T; c++)
                    row[c] /= s;
            }
            a->blas.sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)nq, (int)dh, (int)T, 1.0f,
                          A, (int)T, w.qkv + 2 * d + h * dh, (int)(3 * d), 0.0f,
                          w.o + (size_t)r0 * d + h * dh, (int)d);
        }
        const float *bo = nn_cat(a, p, tf_t(l, TF_BO));
        for (uint32_t t = r0; t < T; t++)
            for (uint32_t i = 0; i < d; i++)
                w.x1[(size_t)t * d + i] = x[(size_t)t * d + i] + bo[i];
        a->blas.sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nq, (int)d, (int)d, 1.0f,
                      w.o + (size_t)r0 * d, (int)d, nn_cat(a, p, tf_t(l, TF_WO)), (int)d, 1.0f,
                      w.x1 + (size_t)r0 * d, (int)d);
        const float *g2 = nn_cat(a, p, tf_t(l, TF_LN2G)), *b2 = nn_cat(a, p, tf_t(l, TF_LN2B));
        for (uint32_t t = r0; t < T; t++)
            tf_ln_row(w.x1 + (size_t)t * d, g2, b2, d, w.xhat2 + (size_t)t * d, w.rs2 + t,
                      w.u2 + (size_t)t * d);
        tf_rows_bias(w.hf + (size_t)r0 * dff, nn_cat(a, p, tf_t(l, TF_B1)), nq, dff);
        a->blas.sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nq, (int)dff, (int)d, 1.0f,
                      w.u2 + (size_t)r0 * d, (int)d, nn_cat(a, p, tf_t(l, TF_W1)), (int)d, 1.0f,
                      w.hf + (size_t)r0 * dff, (int)dff);
        for (size_t i = (size_t)r0 * dff; i < (size_t)T * dff; i++)
            w.hf[i] = w.hf[i] > 0 ? w.hf[i] : 0.0f;
        const float *bb2 = nn_cat(a, p, tf_t(l, TF_B2));
        for (uint32_t t = r0; t < T; t++)
            for (uint32_t i = 0; i < d; i++)
                w.x2[(size_t)t * d + i] = w.x1[(size_t)t * d + i] + bb2[i];
        a->blas.sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nq, (int)d, (int)dff, 1.0f,
                      w.hf + (size_t)r0 * dff, (int)dff, nn_cat(a, p, tf_t(l, TF_W2)), (int)dff,
                      1.0f, w.x2 + (size_t)r0 * d, (int)d);
        x = w.x2;
    }
    float *tail = tf_tail(a, ws);
    uint32_t lf = TF_LAYER0 + TF_PER_LAYER * L;
    tf_ln_row(x + (size_t)(T - 1) * d, nn_cat(a, p, lf), nn_cat(a, p, lf + 1), d, tail,
              tail + d, z);
}

static void tf_backward(const nn_arch *a, const float *p, const float *win, float *ws,
                        const float *dz, float *g)
{
    uint32_t T = a->T, F = a->F, d = a->dim[0], L = a->dim[1], H = a->dim[2], dff = a->dim[3];
    uint32_t dh = d / H, lf = TF_LAYER0 + TF_PER_LAYER * L;
    float scale = 1.0f / sqrtf((float)dh);
    float *tail = tf_tail(a, ws);
    float *dx = tail + d + 1, *dx1 = dx + (size_t)T * d, *du = dx1 + (size_t)T * d;
    float *dqkv = du + (size_t)T * d, *dout = dqkv + (size_t)T * 3 * d;
    float *dhf = dout + (size_t)T * d, *da = dhf + (size_t)T * dff;
    memset(dx, 0, (size_t)T * d * sizeof(float));
    tf_ln_back(dz, nn_cat(a, p, lf), tail, tail[d], d, nn_at(a, g, lf), nn_at(a, g, lf + 1),
               dx + (size_t)(T - 1) * d, 0);
    for (uint32_t l = L; l-- > 0;) {
        tf_layer_ws w = tf_layer(a, ws, l);
        uint32_t r0 = l + 1 == L ? T - 1 : 0, nq = T - r0; /* rows the forward computed */
        const float *dxr = dx + (size_t)r0 * d;
        /* X2 = X1 + Hf W2^T + b2 */
        a->blas.sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)d, (int)dff, (int)nq, 1.0f, dxr,
                      (int)d, w.hf + (size_t)r0 * dff, (int)dff, 1.0f, nn_at(a, g, tf_t(l, TF_W2)),
                      (int)dff);
        tf_colsum(dxr, nq, d, nn_at(a, g, tf_t(l, TF_B2)));
        a->blas.sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)nq, (int)dff, (int)d, 1.0f,
                      dxr, (int)d, nn_cat(a, p, tf_t(l, TF_W2)), (int)dff, 0.0f, dhf, (int)dff);
        for (size_t i = 0; i < (size_t)nq * dff; i++)
            dhf[i] = w.hf[(size_t)r0 * dff + i] > 0 ? dhf[i] : 0.0f;
        a->blas.sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)dff, (int)d, (int)nq, 1.0f, dhf,
                      (int)dff, w.u2 + (size_t)r0 * d, (int)d, 1.0f, nn_at(a, g, tf_t(l, TF_W1)),
                      (int)d);
        tf_colsum(dhf, nq, dff, nn_at(a, g, tf_t(l, TF_B1)));
        a->blas.sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)nq, (int)d, (int)dff, 1.0f,
                      dhf, (int)dff, nn_cat(a, p, tf_t(l, TF_W1)), (int)d, 0.0f, du, (int)d);
        memcpy(dx1, dx, (size_t)T * d * sizeof(float));
        for (uint32_t t = r0; t < T; t++)
            tf_ln_back(du + (size_t)(t - r0) * d, nn_cat(a, p, tf_t(l, TF_LN2G)),
                       w.xhat2 + (size_t)t * d, w.rs2[t], d, nn_at(a, g, tf_t(l, TF_LN2G)),
                       nn_at(a, g, tf_t(l, TF_LN2B)), dx1 + (size_t)t * d, 1);
        /* X1 = X + O Wo^T + bo */
        const float *dx1r = dx1 + (size_t)r0 * d;
        a->blas.sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)d, (int)d, (int)nq, 1.0f, dx1r,
                      (int)d, w.o + (size_t)r0 * d, (int)d, 1.0f, nn_at(a, g, tf_t(l, TF_WO)),
                      (int)d);
        tf_colsum(dx1r, nq, d, nn_at(a, g, tf_t(l, TF_BO)));
        a->blas.sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)nq, (int)d, (int)d, 1.0f,
                      dx1r, (int)d, nn_cat(a, p, tf_t(l, TF_WO)), (int)d, 0.0f, dout, (int)d);
        if (r0)
            memset(dqkv, 0, (size_t)T * 3 * d * sizeof(float)); /* queries of rows < r0 */
        for (uint32_t h = 0; h < H; h++) {
            const float *A = w.att + (size_t)h * T * T + (size_t)r0 * T;
            const float *q = w.qkv + (size_t)r0 * 3 * d + h * dh, *k = w.qkv + d + h * dh;
            const float *v = w.qkv + 2 * d + h * dh;
            a->blas.sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nq, (int)T, (int)dh, 1.0f,
                          dout + h * dh, (int)d, v, (int)(3 * d), 0.0f, da, (int)T);
            a->blas.sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)T, (int)dh, (int)nq, 1.0f,
                          A, (int)T, dout + h * dh, (int)d, 0.0f, dqkv + 2 * d + h * dh,
                          (int)(3 * d));
            for (uint32_t r = 0; r < nq; r++) {
                const float *ar = A + (size_t)r * T;
                float *dr = da + (size_t)r * T, s = 0;
                for (uint32_t c = 0; c < T; c++)
                    s += dr[c] * ar[c];
                for (uint32_t c = 0; c < T; c++)
                    dr[c] = ar[c] * (dr[c] - s) * scale;
            }
            a->blas.sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)nq, (int)dh, (int)T, 1.0f,
                          da, (int)T, k, (int)(3 * d), 0.0f, dqkv + (size_t)r0 * 3 * d + h * dh,
                          (int)(3 * d));
            a->blas.sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)T, (int)dh, (int)nq, 1.0f,
                          da, (int)T, q, (int)(3 * d), 0.0f, dqkv + d + h * dh, (int)(3 * d));
        }
        a->blas.sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)(3 * d), (int)d, (int)T, 1.0f,
                      dqkv, (int)(3 * d), w.u1, (int)d, 1.0f, nn_at(a, g, tf_t(l, TF_WQKV)),
                      (int)d);
        tf_colsum(dqkv, T, 3 * d, nn_at(a, g, tf_t(l, TF_BQKV)));
        a->blas.sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)T, (int)d, (int)(3 * d), 1.0f,
                      dqkv, (int)(3 * d), nn_cat(a, p, tf_t(l, TF_WQKV)), (int)d, 0.0f, du, (int)d);
        memcpy(dx, dx1, (size_t)T * d * sizeof(float));
        for (uint32_t t = 0; t < T; t++)
            tf_ln_back(du + (size_t)t * d, nn_cat(a, p, tf_t(l, TF_LN1G)),
                       w.xhat1 + (size_t)t * d, w.rs1[t], d, nn_at(a, g, tf_t(l, TF_LN1G)),
                       nn_at(a, g, tf_t(l, TF_LN1B)), dx + (size_t)t * d, 1);
    }
    a->blas.sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)d, (int)F, (int)T, 1.0f, dx, (int)d,
                  win, (int)F, 1.0f, nn_at(a, g, TF_WE), (int)F);
    tf_colsum(dx, T, d, nn_at(a, g, TF_BE));
}

static const model_ops tf_ops = {
    .kind = "transformer",
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

model *transformer_new(const char *name, uint32_t nfeat, const nn_config *cfg)
{
    if (!nn_config_ok(cfg) || nfeat == 0 || nfeat > 4096 || cfg->window < 2 || cfg->window > 512 ||
        cfg->heads == 0 || cfg->heads > 16 || cfg->hidden == 0 || cfg->hidden > 256 ||
        cfg->hidden % cfg->heads || cfg->layers < 1 || cfg->layers > 2)
        return NULL;
    uint32_t T = cfg->window, d = cfg->hidden, L = cfg->layers, H = cfg->heads, dff = 2 * d;
    tf_arch *ta = xcalloc(1, sizeof(*ta) + (size_t)T * d * sizeof(float));
    nn_arch *a = &ta->a;
    a->kind = "transformer";
    a->T = T;
    a->F = nfeat;
    a->D = d;
    a->dim[0] = d;
    a->dim[1] = L;
    a->dim[2] = H;
    a->dim[3] = dff;
    a->forward = tf_forward;
    a->backward = tf_backward;
    for (uint32_t t = 0; t < T; t++)
        for (uint32_t i = 0; i < d; i++) {
            double f = pow(10000.0, -(double)(i / 2 * 2) / (double)d) * t;
            ta->pos[(size_t)t * d + i] = (float)(i % 2 ? cos(f) : sin(f));
        }
    float sd = 1.0f / sqrtf((float)d);
    nn_arch_add(a, "we", d, nfeat, NN_INIT_UNIFORM, 1.0f / sqrtf((float)nfeat));
    nn_arch_add(a, "be", 1, d, NN_INIT_CONST, 0.0f);
    for (uint32_t l = 0; l < L; l++) {
        nn_arch_add(a, "ln1_g", 1, d, NN_INIT_CONST, 1.0f);
        nn_arch_add(a, "ln1_b", 1, d, NN_INIT_CONST, 0.0f);
        nn_arch_add(a, "wqkv", 3 * d, d, NN_INIT_UNIFORM, sd);
        nn_arch_add(a, "bqkv", 1, 3 * d, NN_INIT_CONST, 0.0f);
        nn_arch_add(a, "wo", d, d, NN_INIT_UNIFORM, sd);
        nn_arch_add(a, "bo", 1, d, NN_INIT_CONST, 0.0f);
        nn_arch_add(a, "ln2_g", 1, d, NN_INIT_CONST, 1.0f);
        nn_arch_add(a, "ln2_b", 1, d, NN_INIT_CONST, 0.0f);
        nn_arch_add(a, "w1", dff, d, NN_INIT_UNIFORM, sd);
        nn_arch_add(a, "b1", 1, dff, NN_INIT_CONST, 0.01f);
        nn_arch_add(a, "w2", d, dff, NN_INIT_UNIFORM, 1.0f / sqrtf((float)dff));
        nn_arch_add(a, "b2", 1, d, NN_INIT_CONST, 0.0f);
    }
    nn_arch_add(a, "lnf_g", 1, d, NN_INIT_CONST, 1.0f);
    nn_arch_add(a, "lnf_b", 1, d, NN_INIT_CONST, 0.0f);
    a->ws_floats = (size_t)T * d + tf_layer_floats(T, d, H, dff) * L + d + 1 +
                   (size_t)T * d * 4 + (size_t)T * 3 * d + (size_t)T * dff + (size_t)T * T;
    return nn_model_new(&tf_ops, name, nfeat, cfg, a);
}
