/* Online MLP: owns one flat parameter vector (layer after layer, each a [out][in+1] matrix whose
 * last column is the bias), the AdaGrad accumulators and scratch activations. Forward and
 * backward are loops over doubles arranged for speed (rows interleaved, zero inputs skipped, the
 * AdaGrad step in SSE2 / AVX2 / AVX-512 lanes, its step size in float) that compute exactly the
 * plain loops' numbers, in the same order (test_mlp compares them bit for bit); the saved blob is the header, the
 * parameters, the accumulators and the PRNG state, so a reloaded model predicts bit-identically. */
#include "kestrel/mlp.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kestrel/xmalloc.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define MLP_X86 1
#endif

#define MLP_MAGIC 0x4B4D4C50u /* "KMLP" */
#define MLP_VERSION 1u
#define MLP_MAX_LAYERS 3

typedef struct mlp {
    model base;
    mlp_config cfg;
    uint64_t samples, rng;
    uint32_t nlayers;               /* weight layers: 2 or 3 */
    uint32_t in[MLP_MAX_LAYERS];    /* inputs of layer l (without bias) */
    uint32_t out[MLP_MAX_LAYERS];   /* outputs of layer l */
    size_t off[MLP_MAX_LAYERS];     /* offset of layer l in params */
    size_t nparams;
    double *p, *g;                  /* parameters, AdaGrad accumulators */
    double *act[MLP_MAX_LAYERS + 1]; /* act[0] = input, act[l+1] = output of layer l */
    double *delta[MLP_MAX_LAYERS];  /* dL/d(pre-activation) of layer l */
    double *grad;                   /* scratch gradient, nparams */
    uint32_t *nz;                   /* scratch: indices of the non-zero inputs of a layer */
    void (*update)(double *w, double *g, const double *a, uint32_t n, double d, double l2,
                   double lr); /* one row's AdaGrad step (mlp_update_row_*: same results) */
} mlp;

void mlp_config_default(mlp_config *c)
{
    c->hidden1 = 16;
    c->hidden2 = 0;
    c->lr = 0.05;
    c->l2 = 1e-4;
    c->seed = 1;
    c->min_samples = 50;
}

static enum model_result mlp_check(const mlp *m, const model_input *in)
{
    return model_input_check(&m->base, in);
}

/* Dot products of rows u0 .. u0+NB-1 of a layer with a: each row's sum starts at its bias and adds
 * w[j] * a[j] in j order, exactly as the one-row loop would; the NB independent chains only let
 * the CPU overlap them. nz (count nnz) lists the inputs that are not 0: a zero input adds w * 0 =
 * +-0, which changes a sum only when the sum is itself +-0 (the caller redoes that rare row). */
#define MLP_ROWS 8
static void mlp_rows(const double *w, uint32_t ni, uint32_t u0, uint32_t nb, const double *a,
                     const uint32_t *nz, uint32_t nnz, double *o)
{
    size_t st = (size_t)ni + 1;
    const double *w0 = w + (size_t)u0 * st;
    if (nb == MLP_ROWS) { /* eight named accumulators: registers, not a stack array */
        const double *r0 = w0, *r1 = r0 + st, *r2 = r1 + st, *r3 = r2 + st, *r4 = r3 + st;
        const double *r5 = r4 + st, *r6 = r5 + st, *r7 = r6 + st;
        double s0 = r0[ni], s1 = r1[ni], s2 = r2[ni], s3 = r3[ni], s4 = r4[ni], s5 = r5[ni];
        double s6 = r6[ni], s7 = r7[ni];
        for (uint32_t k = 0; k < nnz; k++) {
            uint32_t j = nz[k];
            double aj = a[j];
            s0 += r0[j] * aj;
            s1 += r1[j] * aj;
            s2 += r2[j] * aj;
            s3 += r3[j] * aj;
            s4 += r4[j] * aj;
            s5 += r5[j] * aj;
            s6 += r6[j] * aj;
            s7 += r7[j] * aj;
        }
        o[u0] = s0;
        o[u0 + 1] = s1;
        o[u0 + 2] = s2;
        o[u0 + 3] = s3;
        o[u0 + 4] = s4;
        o[u0 + 5] = s5;
        o[u0 + 6] = s6;
        o[u0 + 7] = s7;
        return;
    }
    for (uint32_t r = 0; r < nb; r++) {
        const double *wu = w0 + r * st;
        double s = wu[ni];
        for (uint32_t k = 0; k < nnz; k++)
            s += wu[nz[k]] * a[nz[k]];
        o[u0 + r] = s;
    }
}

/* Forward pass into m->act (const-cast: the scratch buffers are not model state). */
static void mlp_forward(const mlp *cm, const model_input *in, double *prob)
{
    mlp *m = (mlp *)cm;
    for (uint32_t j = 0; j < m->base.nfeat; j++)
        m->act[0][j] = (in->missing && in->missing[j]) ? 0.0 : (double)in->x[j];
    for (uint32_t l = 0; l < m->nlayers; l++) {
        const double *w = m->p + m->off[l];
        uint32_t ni = m->in[l], no = m->out[l];
        const double *a = m->act[l];
        double *o = m->act[l + 1];
        uint32_t nnz = 0, *nz = m->nz;
        for (uint32_t j = 0; j < ni; j++)
            if (a[j] != 0.0)
                nz[nnz++] = j;
        for (uint32_t u0 = 0; u0 < no; u0 += MLP_ROWS)
            mlp_rows(w, ni, u0, no - u0 < MLP_ROWS ? no - u0 : MLP_ROWS, a, nz, nnz, o);
        for (uint32_t u = 0; u < no; u++) {
            if (o[u] == 0.0) { /* the sign of a zero sum: redo the row over every input */
                const double *wu = w + (size_t)u * (ni + 1);
                double s = wu[ni];
                for (uint32_t j = 0; j < ni; j++)
                    s += wu[j] * a[j];
                o[u] = s;
            }
            if (l + 1 < m->nlayers)
                o[u] = tanh(o[u]);
        }
    }
    double *z = m->act[m->nlayers];
    double mx = z[0] > z[1] ? z[0] : z[1];
    mx = mx > z[2] ? mx : z[2];
    double sum = 0;
    for (int k = 0; k < MODEL_CLASSES; k++) {
        prob[k] = exp(z[k] - mx);
        sum += prob[k];
    }
    for (int k = 0; k < MODEL_CLASSES; k++)
        prob[k] /= sum;
}

/* Backward pass after mlp_forward: gradient of the objective into grad (nparams). */
static void mlp_backward(const mlp *cm, const double *prob, int label, double weight,
                         double *grad)
{
    mlp *m = (mlp *)cm;
    uint32_t L = m->nlayers;
    /* errors below 1e-12 are flushed to 0: a saturated softmax otherwise feeds subnormal
     * products through the whole backward pass (100x slower, no effect on the weights) */
    for (int k = 0; k < MODEL_CLASSES; k++) {
        double d = weight * (prob[k] - (k == label ? 1.0 : 0.0));
        m->delta[L - 1][k] = fabs(d) < 1e-12 ? 0.0 : d;
    }
    for (uint32_t l = L; l-- > 0;) {
        uint32_t ni = m->in[l], no = m->out[l];
        const double *w = m->p + m->off[l], *a = m->act[l], *d = m->delta[l];
        double *gw = grad + m->off[l];
        for (uint32_t u = 0; u < no; u++) {
            const double *wu = w + (size_t)u * (ni + 1);
            double *gu = gw + (size_t)u * (ni + 1);
            for (uint32_t j = 0; j < ni; j++) /* L2 only where the input is present (!= 0) */
                gu[j] = a[j] != 0.0 ? d[u] * a[j] + m->cfg.l2 * wu[j] : 0.0;
            gu[ni] = d[u];
        }
        if (l == 0)
            break;
        double *dp = m->delta[l - 1];
        for (uint32_t j = 0; j < ni; j++) {
            double s = 0;
            for (uint32_t u = 0; u < no; u++)
                s += w[(size_t)u * (ni + 1) + j] * d[u];
            double dj = s * (1.0 - a[j] * a[j]); /* tanh' */
            dp[j] = fabs(dj) < 1e-12 ? 0.0 : dj;
        }
    }
}

static enum model_result mlp_predict(model *mm, const model_input *in, model_output *out)
{
    mlp *m = (mlp *)mm;
    enum model_result r = mlp_check(m, in);
    if (r != K_MODEL_OK)
        return r;
    if (m->samples < m->cfg.min_samples)
        return K_MODEL_NOT_READY;
    mlp_forward(m, in, out->p);
    out->confidence = -1;
    return K_MODEL_OK;
}

/* The AdaGrad step size lr * gr / sqrt(G) in float (the weights and G stay double): float sqrt
 * and division are correctly rounded in every width as well, so scalar, SSE2, AVX2 and AVX-512
 * give the same bits, at about a third of the cost of the double ones (the step was the largest
 * part of a backtest). A step's 24-bit precision is far below the noise of SGD; where G is out of
 * float's comfortable range (below 1e-30 or above 1e30) the step is the double formula. */
#define MLP_FLOAT_LO 1e-30
#define MLP_FLOAT_HI 1e30
static inline double mlp_adagrad_step(double lr_gr, double gn)
{
    if (gn >= MLP_FLOAT_LO && gn <= MLP_FLOAT_HI)
        return (double)((float)lr_gr / sqrtf((float)gn));
    return lr_gr / sqrt(gn);
}

/* One row's AdaGrad step over its n weights (the bias is the caller's): the gradient of weight j
 * is d * a[j] + l2 * w[j] where a[j] != 0, else 0 (lazy L2), and a zero gradient leaves the
 * weight and its accumulator as they are; otherwise G += gr^2, w -= mlp_adagrad_step(lr * gr,
 * G). The vector versions give the scalar's bits. */
static void mlp_update_row_c(double *w, double *g, const double *a, uint32_t n, double d,
                             double l2, double lr)
{
    for (uint32_t j = 0; j < n; j++) {
        if (a[j] == 0.0)
            continue;
        double gr = d * a[j] + l2 * w[j];
        if (gr == 0.0)
            continue;
        g[j] += gr * gr;
        w[j] -= mlp_adagrad_step(lr * gr, g[j]);
    }
}

#ifdef MLP_X86
static void mlp_update_row_sse2(double *w, double *g, const double *a, uint32_t n, double d,
                                double l2, double lr)
{
    __m128d vd = _mm_set1_pd(d), vl2 = _mm_set1_pd(l2), vlr = _mm_set1_pd(lr);
    __m128d zero = _mm_setzero_pd(), flo = _mm_set1_pd(MLP_FLOAT_LO);
    __m128d fhi = _mm_set1_pd(MLP_FLOAT_HI);
    uint32_t j = 0;
    for (; j + 2 <= n; j += 2) {
        __m128d va = _mm_loadu_pd(a + j), vw = _mm_loadu_pd(w + j), vg = _mm_loadu_pd(g + j);
        __m128d gr = _mm_add_pd(_mm_mul_pd(vd, va), _mm_mul_pd(vl2, vw));
        __m128d live = _mm_and_pd(_mm_cmpneq_pd(va, zero), _mm_cmpneq_pd(gr, zero));
        __m128d gn = _mm_add_pd(vg, _mm_mul_pd(gr, gr));
        __m128d lg = _mm_mul_pd(vlr, gr);
        __m128d fl = _mm_and_pd(_mm_cmpge_pd(gn, flo), _mm_cmple_pd(gn, fhi));
        __m128d st = _mm_cvtps_pd(_mm_div_ps(_mm_cvtpd_ps(lg), _mm_sqrt_ps(_mm_cvtpd_ps(gn))));
        if (_mm_movemask_pd(_mm_andnot_pd(fl, live))) /* rare: the double formula there */
            st = _mm_or_pd(_mm_and_pd(fl, st), _mm_andnot_pd(fl, _mm_div_pd(lg, _mm_sqrt_pd(gn))));
        __m128d wn = _mm_sub_pd(vw, st);
        _mm_storeu_pd(g + j, _mm_or_pd(_mm_and_pd(live, gn), _mm_andnot_pd(live, vg)));
        _mm_storeu_pd(w + j, _mm_or_pd(_mm_and_pd(live, wn), _mm_andnot_pd(live, vw)));
    }
    mlp_update_row_c(w + j, g + j, a + j, n - j, d, l2, lr);
}

/* AVX2 without FMA (a fused multiply-add would round differently). */
__attribute__((target("avx2"))) static void mlp_update_row_avx2(double *w, double *g,
                                                                const double *a, uint32_t n,
                                                                double d, double l2, double lr)
{
    __m256d vd = _mm256_set1_pd(d), vl2 = _mm256_set1_pd(l2), vlr = _mm256_set1_pd(lr);
    __m256d zero = _mm256_setzero_pd(), flo = _mm256_set1_pd(MLP_FLOAT_LO);
    __m256d fhi = _mm256_set1_pd(MLP_FLOAT_HI);
    uint32_t j = 0;
    for (; j + 4 <= n; j += 4) {
        __m256d va = _mm256_loadu_pd(a + j), vw = _mm256_loadu_pd(w + j);
        __m256d vg = _mm256_loadu_pd(g + j);
        __m256d gr = _mm256_add_pd(_mm256_mul_pd(vd, va), _mm256_mul_pd(vl2, vw));
        __m256d live = _mm256_and_pd(_mm256_cmp_pd(va, zero, _CMP_NEQ_UQ),
                                     _mm256_cmp_pd(gr, zero, _CMP_NEQ_UQ));
        __m256d gn = _mm256_add_pd(vg, _mm256_mul_pd(gr, gr));
        __m256d lg = _mm256_mul_pd(vlr, gr);
        __m256d fl = _mm256_and_pd(_mm256_cmp_pd(gn, flo, _CMP_GE_OQ),
                                   _mm256_cmp_pd(gn, fhi, _CMP_LE_OQ));
        __m256d st = _mm256_cvtps_pd(
            _mm_div_ps(_mm256_cvtpd_ps(lg), _mm_sqrt_ps(_mm256_cvtpd_ps(gn))));
        if (_mm256_movemask_pd(_mm256_andnot_pd(fl, live)))
            st = _mm256_blendv_pd(_mm256_div_pd(lg, _mm256_sqrt_pd(gn)), st, fl);
        __m256d wn = _mm256_sub_pd(vw, st);
        _mm256_storeu_pd(g + j, _mm256_blendv_pd(vg, gn, live));
        _mm256_storeu_pd(w + j, _mm256_blendv_pd(vw, wn, live));
    }
    mlp_update_row_c(w + j, g + j, a + j, n - j, d, l2, lr);
}

__attribute__((target("avx512f"))) static void mlp_update_row_avx512(double *w, double *g,
                                                                     const double *a, uint32_t n,
                                                                     double d, double l2,
                                                                     double lr)
{
    __m512d vd = _mm512_set1_pd(d), vl2 = _mm512_set1_pd(l2), vlr = _mm512_set1_pd(lr);
    __m512d zero = _mm512_setzero_pd(), flo = _mm512_set1_pd(MLP_FLOAT_LO);
    __m512d fhi = _mm512_set1_pd(MLP_FLOAT_HI);
    uint32_t j = 0;
    for (; j + 8 <= n; j += 8) {
        __m512d va = _mm512_loadu_pd(a + j), vw = _mm512_loadu_pd(w + j);
        __m512d vg = _mm512_loadu_pd(g + j);
        __m512d gr = _mm512_add_pd(_mm512_mul_pd(vd, va), _mm512_mul_pd(vl2, vw));
        __mmask8 live = _mm512_cmp_pd_mask(va, zero, _CMP_NEQ_UQ) &
                        _mm512_cmp_pd_mask(gr, zero, _CMP_NEQ_UQ);
        __m512d gn = _mm512_add_pd(vg, _mm512_mul_pd(gr, gr));
        __m512d lg = _mm512_mul_pd(vlr, gr);
        __mmask8 fl = _mm512_cmp_pd_mask(gn, flo, _CMP_GE_OQ) &
                      _mm512_cmp_pd_mask(gn, fhi, _CMP_LE_OQ);
        __m512d st = _mm512_cvtps_pd(
            _mm256_div_ps(_mm512_cvtpd_ps(lg), _mm256_sqrt_ps(_mm512_cvtpd_ps(gn))));
        if (live & (__mmask8)~fl)
            st = _mm512_mask_blend_pd(fl, _mm512_div_pd(lg, _mm512_sqrt_pd(gn)), st);
        __m512d wn = _mm512_sub_pd(vw, st);
        _mm512_mask_storeu_pd(g + j, live, gn);
        _mm512_mask_storeu_pd(w + j, live, wn);
    }
    mlp_update_row_c(w + j, g + j, a + j, n - j, d, l2, lr);
}
#endif

/* Backward pass and AdaGrad step in one sweep, layer after layer from the output: a layer's
 * error for the layer below is computed from its weights before they move, and a weight's
 * gradient depends only on its own layer, so this equals mlp_backward followed by the step on
 * every parameter (test_mlp checks it bit for bit). */
static void mlp_step(mlp *m, const double *prob, int label, double weight)
{
    uint32_t L = m->nlayers;
    for (int k = 0; k < MODEL_CLASSES; k++) {
        double d = weight * (prob[k] - (k == label ? 1.0 : 0.0));
        m->delta[L - 1][k] = fabs(d) < 1e-12 ? 0.0 : d;
    }
    for (uint32_t l = L; l-- > 0;) {
        uint32_t ni = m->in[l], no = m->out[l];
        double *w = m->p + m->off[l], *g = m->g + m->off[l];
        const double *a = m->act[l], *d = m->delta[l];
        if (l > 0) {
            double *dp = m->delta[l - 1];
            for (uint32_t j = 0; j < ni; j++) {
                double s = 0;
                for (uint32_t u = 0; u < no; u++)
                    s += w[(size_t)u * (ni + 1) + j] * d[u];
                double dj = s * (1.0 - a[j] * a[j]); /* tanh' */
                dp[j] = fabs(dj) < 1e-12 ? 0.0 : dj;
            }
        }
        for (uint32_t u = 0; u < no; u++) {
            double *wu = w + (size_t)u * (ni + 1), *gu = g + (size_t)u * (ni + 1);
            double du = d[u];
            m->update(wu, gu, a, ni, du, m->cfg.l2, m->cfg.lr);
            if (du != 0.0) {
                gu[ni] += du * du;
                wu[ni] -= mlp_adagrad_step(m->cfg.lr * du, gu[ni]);
            }
        }
    }
}

static enum model_result mlp_learn(model *mm, const model_input *in, int label, double weight)
{
    mlp *m = (mlp *)mm;
    enum model_result r = mlp_check(m, in);
    if (r != K_MODEL_OK)
        return r;
    if (label < 0 || label >= MODEL_CLASSES || !(weight >= 0) || !isfinite(weight))
        return K_MODEL_BAD_INPUT;
    double prob[MODEL_CLASSES];
    mlp_forward(m, in, prob);
    mlp_step(m, prob, label, weight);
    m->samples++;
    return K_MODEL_OK;
}

double mlp_loss(const model *mm, const model_input *in, int label)
{
    const mlp *m = (const mlp *)mm;
    double prob[MODEL_CLASSES];
    mlp_forward(m, in, prob);
    double reg = 0;
    for (uint32_t l = 0; l < m->nlayers; l++)
        for (uint32_t u = 0; u < m->out[l]; u++)
            for (uint32_t j = 0; j < m->in[l]; j++) {
                double w = m->p[m->off[l] + (size_t)u * (m->in[l] + 1) + j];
                reg += m->act[l][j] != 0.0 ? w * w : 0.0;
            }
    return -log(prob[label]) + 0.5 * m->cfg.l2 * reg;
}

void mlp_grad(const model *mm, const model_input *in, int label, double *grad)
{
    const mlp *m = (const mlp *)mm;
    double prob[MODEL_CLASSES];
    mlp_forward(m, in, prob);
    mlp_backward(m, prob, label, 1.0, grad);
}

double *mlp_params(model *mm)
{
    return ((mlp *)mm)->p;
}

size_t mlp_nparams(const model *mm)
{
    return ((const mlp *)mm)->nparams;
}

static enum model_result mlp_nothing(model *mm)
{
    (void)mm;
    return K_MODEL_OK;
}

struct mlp_header {
    uint32_t magic, version, nfeat, hidden1, hidden2, min_samples;
    double lr, l2;
    uint64_t seed, samples, rng, nparams;
};

static enum model_result mlp_save(const model *mm, model_blob *out)
{
    const mlp *m = (const mlp *)mm;
    struct mlp_header h = { MLP_MAGIC, MLP_VERSION, m->base.nfeat, m->cfg.hidden1,
                            m->cfg.hidden2, m->cfg.min_samples, m->cfg.lr, m->cfg.l2,
                            m->cfg.seed, m->samples, m->rng, m->nparams };
    model_blob_put(out, &h, sizeof h);
    model_blob_put(out, m->p, m->nparams * sizeof(double));
    model_blob_put(out, m->g, m->nparams * sizeof(double));
    return K_MODEL_OK;
}

static enum model_result mlp_load(model *mm, const uint8_t *data, size_t len)
{
    mlp *m = (mlp *)mm;
    struct mlp_header h;
    size_t off = 0;
    if (model_blob_get(data, len, &off, &h, sizeof h) != K_MODEL_OK || h.magic != MLP_MAGIC ||
        h.version != MLP_VERSION || h.nfeat != m->base.nfeat || h.hidden1 != m->cfg.hidden1 ||
        h.hidden2 != m->cfg.hidden2 || h.nparams != m->nparams ||
        len != sizeof h + 2 * m->nparams * sizeof(double))
        return K_MODEL_BAD_STATE;
    memcpy(m->p, data + off, m->nparams * sizeof(double));
    memcpy(m->g, data + off + m->nparams * sizeof(double), m->nparams * sizeof(double));
    m->cfg.lr = h.lr;
    m->cfg.l2 = h.l2;
    m->cfg.min_samples = h.min_samples;
    m->cfg.seed = h.seed;
    m->samples = h.samples;
    m->rng = h.rng;
    return K_MODEL_OK;
}

static uint64_t mlp_samples(const model *mm)
{
    return ((const mlp *)mm)->samples;
}

static void mlp_free(model *mm)
{
    mlp *m = (mlp *)mm;
    if (!m)
        return;
    free(m->p);
    free(m->g);
    free(m->grad);
    free(m->nz);
    for (uint32_t l = 0; l <= m->nlayers; l++)
        free(m->act[l]);
    for (uint32_t l = 0; l < m->nlayers; l++)
        free(m->delta[l]);
    free(m);
}

static const model_ops mlp_ops = {
    .kind = "mlp", .flags = 0, .predict = mlp_predict, .learn = mlp_learn,
    .train = mlp_nothing, .swap = mlp_nothing, .save = mlp_save, .load = mlp_load,
    .samples = mlp_samples, .free = mlp_free,
};

model *mlp_new(const char *name, uint32_t nfeat, const mlp_config *cfg)
{
    mlp *m = xcalloc(1, sizeof *m);
    m->base.ops = &mlp_ops;
    snprintf(m->base.name, sizeof m->base.name, "%s", name ? name : "mlp");
    m->base.nfeat = nfeat;
    if (cfg)
        m->cfg = *cfg;
    else
        mlp_config_default(&m->cfg);
    if (m->cfg.hidden1 == 0)
        m->cfg.hidden1 = 1;
    uint32_t widths[MLP_MAX_LAYERS + 1] = { nfeat, m->cfg.hidden1, 0, 0 };
    uint32_t nw = 0;
    if (m->cfg.hidden2) {
        widths[2] = m->cfg.hidden2;
        widths[3] = MODEL_CLASSES;
        nw = 3;
    } else {
        widths[2] = MODEL_CLASSES;
        nw = 2;
    }
    m->nlayers = nw;
    size_t off = 0;
    for (uint32_t l = 0; l < nw; l++) {
        m->in[l] = widths[l];
        m->out[l] = widths[l + 1];
        m->off[l] = off;
        off += (size_t)m->out[l] * (m->in[l] + 1);
    }
    m->nparams = off;
    m->p = xcalloc(off, sizeof(double));
    m->g = xcalloc(off, sizeof(double));
    m->grad = xcalloc(off, sizeof(double));
    uint32_t widest = nfeat > m->cfg.hidden1 ? nfeat : m->cfg.hidden1;
    widest = widest > m->cfg.hidden2 ? widest : m->cfg.hidden2;
    m->nz = xcalloc((size_t)widest + 1, sizeof(uint32_t));
    m->update = mlp_update_row_c;
#ifdef MLP_X86
    m->update = __builtin_cpu_supports("avx512f") ? mlp_update_row_avx512
              : __builtin_cpu_supports("avx2") ? mlp_update_row_avx2 : mlp_update_row_sse2;
#endif
    for (uint32_t l = 0; l <= nw; l++)
        m->act[l] = xcalloc(widths[l] ? widths[l] : 1, sizeof(double));
    for (uint32_t l = 0; l < nw; l++)
        m->delta[l] = xcalloc(m->out[l], sizeof(double));
    m->rng = m->cfg.seed;
    for (uint32_t l = 0; l < nw; l++) {
        double a = sqrt(6.0 / (double)(m->in[l] + m->out[l]));
        for (uint32_t u = 0; u < m->out[l]; u++)
            for (uint32_t j = 0; j < m->in[l]; j++)
                m->p[m->off[l] + (size_t)u * (m->in[l] + 1) + j] =
                    (2.0 * model_rng_uniform(&m->rng) - 1.0) * a;
    }
    return &m->base;
}
