/* The LSTM trunk: forward and backward of 1-2 stacked LSTM layers over a window of T bars. The
 * heads, optimiser, replay and threading are nn.c's. Gate order in every 4H block: input, forget,
 * cell candidate, output. The input projection of all T steps is one sgemm; the recurrence is a
 * 1-row sgemm per step (Debian's OpenBLAS on this CPU runs that in 0.6 us, sgemv in 1.1);
 * backward accumulates the weight gradients with one sgemm per matrix after the time loop (wh
 * is stored H x 4H, transposed). Truncated BPTT: only the last `bptt` steps receive gradient.
 *
 * dim[]: 0 = H (hidden), 1 = L (layers), 2 = bptt. Per-layer workspace (floats): gates T*4H
 * (post-activation), c T*H, tanh(c) T*H, h T*H; then shared backward scratch (dA T*4H, dHin
 * T*H, dh H, dc H, wh transposed 4H*H). */
#include "kestrel/lstm.h"

#include "kestrel/xmalloc.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

#define LSTM_LAYER_WS(T, H) ((size_t)(T) * (H) * 7)

/* g += h * W for one step (h: 1 x H, W: H x G4 row-major). A 1 x 32 by 32 x 128 product is too
 * small for a BLAS call: its overhead was most of an inference (31 calls per window). The
 * inner loop runs along W's rows, so it vectorises. */
static inline void lstm_vecmat(const float *restrict h, const float *restrict w, uint32_t H,
                               uint32_t G4, float *restrict g)
{
    for (uint32_t j = 0; j < H; j++) {
        const float hj = h[j];
        const float *restrict row = w + (size_t)j * G4;
        for (uint32_t k = 0; k < G4; k++)
            g[k] += hj * row[k];
    }
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
/* The same sums with g held in AVX registers, 64 columns at a time: every g[k] still adds
 * hj * row[k] in j order, one multiply and one add (AVX2 without FMA rounds as the scalar loop
 * does), so the result is the same to the bit; it only stops reloading and storing g per j. */
__attribute__((target("avx2"))) static void lstm_vecmat_avx2(const float *restrict h,
                                                             const float *restrict w, uint32_t H,
                                                             uint32_t G4, float *restrict g)
{
    uint32_t k0 = 0;
    for (; k0 + 64 <= G4; k0 += 64) {
        __m256 a0 = _mm256_loadu_ps(g + k0), a1 = _mm256_loadu_ps(g + k0 + 8);
        __m256 a2 = _mm256_loadu_ps(g + k0 + 16), a3 = _mm256_loadu_ps(g + k0 + 24);
        __m256 a4 = _mm256_loadu_ps(g + k0 + 32), a5 = _mm256_loadu_ps(g + k0 + 40);
        __m256 a6 = _mm256_loadu_ps(g + k0 + 48), a7 = _mm256_loadu_ps(g + k0 + 56);
        for (uint32_t j = 0; j < H; j++) {
            const __m256 hj = _mm256_set1_ps(h[j]);
            const float *row = w + (size_t)j * G4 + k0;
            a0 = _mm256_add_ps(a0, _mm256_mul_ps(hj, _mm256_loadu_ps(row)));
            a1 = _mm256_add_ps(a1, _mm256_mul_ps(hj, _mm256_loadu_ps(row + 8)));
            a2 = _mm256_add_ps(a2, _mm256_mul_ps(hj, _mm256_loadu_ps(row + 16)));
            a3 = _mm256_add_ps(a3, _mm256_mul_ps(hj, _mm256_loadu_ps(row + 24)));
            a4 = _mm256_add_ps(a4, _mm256_mul_ps(hj, _mm256_loadu_ps(row + 32)));
            a5 = _mm256_add_ps(a5, _mm256_mul_ps(hj, _mm256_loadu_ps(row + 40)));
            a6 = _mm256_add_ps(a6, _mm256_mul_ps(hj, _mm256_loadu_ps(row + 48)));
            a7 = _mm256_add_ps(a7, _mm256_mul_ps(hj, _mm256_loadu_ps(row + 56)));
        }
        _mm256_storeu_ps(g + k0, a0);
        _mm256_storeu_ps(g + k0 + 8, a1);
        _mm256_storeu_ps(g + k0 + 16, a2);
        _mm256_storeu_ps(g + k0 + 24, a3);
        _mm256_storeu_ps(g + k0 + 32, a4);
        _mm256_storeu_ps(g + k0 + 40, a5);
        _mm256_storeu_ps(g + k0 + 48, a6);
        _mm256_storeu_ps(g + k0 + 56, a7);
    }
    for (; k0 < G4; k0++) /* a tail of fewer than 64 columns, column by column */
        for (uint32_t j = 0; j < H; j++)
            g[k0] += h[j] * w[(size_t)j * G4 + k0];
}
/* AVX-512F: 128 columns in eight registers, the same per-column sums (no FMA). */
__attribute__((target("avx512f"))) static void lstm_vecmat_avx512(const float *restrict h,
                                                                  const float *restrict w,
                                                                  uint32_t H, uint32_t G4,
                                                                  float *restrict g)
{
    uint32_t k0 = 0;
    for (; k0 + 128 <= G4; k0 += 128) {
        __m512 a[8];
        for (int q = 0; q < 8; q++)
            a[q] = _mm512_loadu_ps(g + k0 + 16 * q);
        for (uint32_t j = 0; j < H; j++) {
            const __m512 hj = _mm512_set1_ps(h[j]);
            const float *row = w + (size_t)j * G4 + k0;
            for (int q = 0; q < 8; q++)
                a[q] = _mm512_add_ps(a[q], _mm512_mul_ps(hj, _mm512_loadu_ps(row + 16 * q)));
        }
        for (int q = 0; q < 8; q++)
            _mm512_storeu_ps(g + k0 + 16 * q, a[q]);
    }
    for (; k0 + 16 <= G4; k0 += 16) { /* the rest 16 columns at a time, then one by one */
        __m512 a0 = _mm512_loadu_ps(g + k0);
        for (uint32_t j = 0; j < H; j++)
            a0 = _mm512_add_ps(a0, _mm512_mul_ps(_mm512_set1_ps(h[j]),
                                                 _mm512_loadu_ps(w + (size_t)j * G4 + k0)));
        _mm512_storeu_ps(g + k0, a0);
    }
    for (; k0 < G4; k0++)
        for (uint32_t j = 0; j < H; j++)
            g[k0] += h[j] * w[(size_t)j * G4 + k0];
}
#define LSTM_VECMAT(h, w, H, G4, g)                                                              \
    (__builtin_cpu_supports("avx512f") ? lstm_vecmat_avx512(h, w, H, G4, g)                      \
     : __builtin_cpu_supports("avx2")  ? lstm_vecmat_avx2(h, w, H, G4, g)                        \
                                       : lstm_vecmat(h, w, H, G4, g))
#else
#define LSTM_VECMAT(h, w, H, G4, g) lstm_vecmat(h, w, H, G4, g)
#endif

/* out = W * d for one step (d: 1 x G4, out: 1 x H, W: H x G4 row-major): a dot product per row. */
static inline void lstm_matvec(const float *restrict w, const float *restrict d, uint32_t H,
                               uint32_t G4, float *restrict out)
{
    uint32_t j0 = 0;
    /* four rows side by side: each row's sum still runs along k from 0, so the bits are the
     * one-row loop's; the independent chains only overlap (the loop was latency-bound) */
    for (; j0 + 4 <= H; j0 += 4) {
        const float *r0 = w + (size_t)j0 * G4, *r1 = r0 + G4, *r2 = r1 + G4, *r3 = r2 + G4;
        float a0 = 0.0f, a1 = 0.0f, a2 = 0.0f, a3 = 0.0f;
        for (uint32_t k = 0; k < G4; k++) {
            float dk = d[k];
            a0 += r0[k] * dk;
            a1 += r1[k] * dk;
            a2 += r2[k] * dk;
            a3 += r3[k] * dk;
        }
        out[j0] = a0;
        out[j0 + 1] = a1;
        out[j0 + 2] = a2;
        out[j0 + 3] = a3;
    }
    for (uint32_t j = j0; j < H; j++) {
        const float *restrict row = w + (size_t)j * G4;
        float acc = 0.0f;
        for (uint32_t k = 0; k < G4; k++)
            acc += row[k] * d[k];
        out[j] = acc;
    }
}

#if defined(__x86_64__) && defined(__GNUC__)
/* lstm_matvec with eight rows per AVX register: wt is W transposed (G4 x H, wt[k * H + j] =
 * W[j][k]), so the column k of eight rows is one load. Each lane's sum starts at 0 and adds
 * W[j][k] * d[k] in k order, one multiply and one add (no FMA), so out[j] has the scalar
 * loop's bits; the scalar loop's four chains were latency-bound (a fifth of an LSTM backtest). */
__attribute__((target("avx2"))) static void lstm_matvec_t_avx2(const float *restrict wt,
                                                               const float *restrict d,
                                                               uint32_t H, uint32_t G4,
                                                               float *restrict out)
{
    uint32_t j0 = 0;
    for (; j0 + 32 <= H; j0 += 32) {
        __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
        __m256 a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
        for (uint32_t k = 0; k < G4; k++) {
            const __m256 dk = _mm256_set1_ps(d[k]);
            const float *c = wt + (size_t)k * H + j0;
            a0 = _mm256_add_ps(a0, _mm256_mul_ps(_mm256_loadu_ps(c), dk));
            a1 = _mm256_add_ps(a1, _mm256_mul_ps(_mm256_loadu_ps(c + 8), dk));
            a2 = _mm256_add_ps(a2, _mm256_mul_ps(_mm256_loadu_ps(c + 16), dk));
            a3 = _mm256_add_ps(a3, _mm256_mul_ps(_mm256_loadu_ps(c + 24), dk));
        }
        _mm256_storeu_ps(out + j0, a0);
        _mm256_storeu_ps(out + j0 + 8, a1);
        _mm256_storeu_ps(out + j0 + 16, a2);
        _mm256_storeu_ps(out + j0 + 24, a3);
    }
    for (; j0 + 8 <= H; j0 += 8) {
        __m256 a0 = _mm256_setzero_ps();
        for (uint32_t k = 0; k < G4; k++)
            a0 = _mm256_add_ps(a0, _mm256_mul_ps(_mm256_loadu_ps(wt + (size_t)k * H + j0),
                                                 _mm256_set1_ps(d[k])));
        _mm256_storeu_ps(out + j0, a0);
    }
    for (uint32_t j = j0; j < H; j++) { /* fewer than eight rows left: the scalar sum */
        float acc = 0.0f;
        for (uint32_t k = 0; k < G4; k++)
            acc += wt[(size_t)k * H + j] * d[k];
        out[j] = acc;
    }
}
#define LSTM_HAVE_MATVEC_T 1
#endif

static void lstm_forward(const nn_arch *a, const float *p, const float *win, float *ws, float *z)
{
    uint32_t T = a->T, H = a->dim[0], L = a->dim[1], G4 = 4 * H;
    const float *in = win;
    uint32_t in_dim = a->F;
    for (uint32_t l = 0; l < L; l++) {
        const float *wx = nn_cat(a, p, 3 * l), *wh = nn_cat(a, p, 3 * l + 1);
        const float *b = nn_cat(a, p, 3 * l + 2);
        float *G = ws + LSTM_LAYER_WS(T, H) * l, *C = G + (size_t)T * G4, *TC = C + (size_t)T * H;
        float *Hs = TC + (size_t)T * H;
        for (uint32_t t = 0; t < T; t++) /* the bias, then the input projection of every step */
            memcpy(G + (size_t)t * G4, b, G4 * sizeof(float));
        a->blas.sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)T, (int)G4, (int)in_dim, 1.0f,
                      in, (int)in_dim, wx, (int)in_dim, 1.0f, G, (int)G4);
        for (uint32_t t = 0; t < T; t++) {
            float *g = G + (size_t)t * G4, *c = C + (size_t)t * H, *tc = TC + (size_t)t * H;
            float *h = Hs + (size_t)t * H;
            if (t > 0)
                LSTM_VECMAT(h - H, wh, H, G4, g);
            nn_sigmoid_v(g, 2 * H);               /* input and forget gates */
            nn_tanh_v(g + 2 * H, g + 2 * H, H);    /* cell candidate */
            nn_sigmoid_v(g + 3 * H, H);           /* output gate */
            for (uint32_t j = 0; j < H; j++)
                c[j] = g[j] * g[2 * H + j];
            if (t > 0)
                for (uint32_t j = 0; j < H; j++)
                    c[j] += g[H + j] * C[(size_t)(t - 1) * H + j];
            nn_tanh_v(c, tc, H);
            for (uint32_t j = 0; j < H; j++)
                h[j] = g[3 * H + j] * tc[j];
        }
        in = Hs;
        in_dim = H;
    }
    memcpy(z, ws + LSTM_LAYER_WS(T, H) * (L - 1) + (size_t)T * (G4 + 2 * H) + (size_t)(T - 1) * H,
           H * sizeof(float));
}

static void lstm_backward(const nn_arch *a, const float *p, const float *win, float *ws,
                          const float *dz, float *g)
{
    uint32_t T = a->T, H = a->dim[0], L = a->dim[1], G4 = 4 * H;
    uint32_t t0 = a->dim[2] < T ? T - a->dim[2] : 0;
    float *dA = ws + LSTM_LAYER_WS(T, H) * L, *dHin = dA + (size_t)T * G4;
    float *dhn = dHin + (size_t)T * H, *dcn = dhn + H, *wht = dcn + H;
#ifdef LSTM_HAVE_MATVEC_T
    bool vt = __builtin_cpu_supports("avx2");
#endif
    memset(dHin, 0, (size_t)T * H * sizeof(float));
    memcpy(dHin + (size_t)(T - 1) * H, dz, H * sizeof(float));
    for (uint32_t l = L; l-- > 0;) {
        const float *wx = nn_cat(a, p, 3 * l), *wh = nn_cat(a, p, 3 * l + 1);
        float *gwx = nn_at(a, g, 3 * l), *gwh = nn_at(a, g, 3 * l + 1);
        float *gb = nn_at(a, g, 3 * l + 2);
        const float *G = ws + LSTM_LAYER_WS(T, H) * l, *C = G + (size_t)T * G4;
        const float *TC = C + (size_t)T * H, *Hs = TC + (size_t)T * H;
        const float *in =
            l == 0 ? win : ws + LSTM_LAYER_WS(T, H) * (l - 1) + (size_t)T * (G4 + 2 * H);
        uint32_t in_dim = l == 0 ? a->F : H;
        memset(dA, 0, (size_t)T * G4 * sizeof(float));
        memset(dhn, 0, 2 * H * sizeof(float));
#ifdef LSTM_HAVE_MATVEC_T
        if (vt) /* wh transposed once per layer for the vector matvec */
            for (uint32_t j = 0; j < H; j++)
                for (uint32_t k = 0; k < G4; k++)
                    wht[(size_t)k * H + j] = wh[(size_t)j * G4 + k];
#endif
        for (uint32_t t = T; t-- > t0;) {
            const float *gt = G + (size_t)t * G4, *tc = TC + (size_t)t * H;
            float *da = dA + (size_t)t * G4;
            for (uint32_t j = 0; j < H; j++) {
                float gi = gt[j], gf = gt[H + j], gg = gt[2 * H + j], go = gt[3 * H + j];
                float d = dHin[(size_t)t * H + j] + dhn[j];
                float dc = dcn[j] + d * go * (1.0f - tc[j] * tc[j]);
                float cprev = t > 0 ? C[(size_t)(t - 1) * H + j] : 0.0f;
                da[j] = dc * gg * gi * (1.0f - gi);
                da[H + j] = dc * cprev * gf * (1.0f - gf);
                da[2 * H + j] = dc * gi * (1.0f - gg * gg);
                da[3 * H + j] = d * tc[j] * go * (1.0f - go);
                dcn[j] = dc * gf;
            }
            if (t > 0) {
#ifdef LSTM_HAVE_MATVEC_T
                if (vt)
                    lstm_matvec_t_avx2(wht, da, H, G4, dhn);
                else
#endif
                    lstm_matvec(wh, da, H, G4, dhn);
            }
        }
        if (T > 1)
            a->blas.sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)H, (int)G4, (int)T - 1,
                          1.0f,
                          Hs, (int)H, dA + G4, (int)G4, 1.0f, gwh, (int)G4);
        a->blas.sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)G4, (int)in_dim, (int)T, 1.0f,
                      dA, (int)G4, in, (int)in_dim, 1.0f, gwx, (int)in_dim);
        for (uint32_t t = t0; t < T; t++)
            for (uint32_t j = 0; j < G4; j++)
                gb[j] += dA[(size_t)t * G4 + j];
        if (l > 0)
            a->blas.sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)T, (int)H, (int)G4, 1.0f,
                          dA, (int)G4, wx, (int)H, 0.0f, dHin, (int)H);
    }
}

static const model_ops lstm_ops = {
    .kind = "lstm",
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

model *lstm_new(const char *name, uint32_t nfeat, const nn_config *cfg)
{
    if (!nn_config_ok(cfg) || nfeat == 0 || nfeat > 4096 || cfg->window < 2 || cfg->window > 1024 ||
        cfg->hidden == 0 || cfg->hidden > 512 || cfg->layers < 1 || cfg->layers > 2)
        return NULL;
    nn_arch *a = xcalloc(1, sizeof(*a));
    uint32_t T = cfg->window, H = cfg->hidden, L = cfg->layers;
    a->kind = "lstm";
    a->T = T;
    a->F = nfeat;
    a->D = H;
    a->dim[0] = H;
    a->dim[1] = L;
    a->dim[2] = cfg->bptt ? K_MIN(cfg->bptt, T) : T;
    a->forward = lstm_forward;
    a->backward = lstm_backward;
    for (uint32_t l = 0; l < L; l++) {
        uint32_t in_dim = l == 0 ? nfeat : H;
        nn_arch_add(a, "wx", 4 * H, in_dim, NN_INIT_UNIFORM, 1.0f / sqrtf((float)in_dim));
        /* stored transposed (H x 4H): the per-step product is h (1 x H) times it */
        nn_arch_add(a, "wh", H, 4 * H, NN_INIT_UNIFORM, 1.0f / sqrtf((float)H));
        nn_arch_add(a, "b", 1, 4 * H, NN_INIT_FORGET, 1.0f);
    }
    a->ws_floats = LSTM_LAYER_WS(T, H) * L + (size_t)T * 4 * H + (size_t)T * H + 2 * (size_t)H +
                   (size_t)4 * H * H; /* wh transposed (lstm_backward) */
    return nn_model_new(&lstm_ops, name, nfeat, cfg, a);
}
