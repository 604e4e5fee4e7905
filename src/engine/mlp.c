/* Online MLP: owns one flat parameter vector (layer after layer, each a [out][in+1] matrix whose
 * last column is the bias), the AdaGrad accumulators and scratch activations. Forward and
 * backward are plain loops over doubles; the saved blob is the header, the parameters, the
 * accumulators and the PRNG state, so a reloaded model predicts bit-identically. */
#include "kestrel/mlp.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kestrel/xmalloc.h"

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
    if (!in || !in->x || in->nfeat != m->base.nfeat)
        return K_MODEL_BAD_INPUT;
    for (uint32_t j = 0; j < in->nfeat; j++)
        if (!isfinite(in->x[j]) && !(in->missing && in->missing[j]))
            return K_MODEL_BAD_INPUT;
    return K_MODEL_OK;
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
        for (uint32_t u = 0; u < no; u++) {
            const double *wu = w + (size_t)u * (ni + 1);
            double s = wu[ni];
            for (uint32_t j = 0; j < ni; j++)
                s += wu[j] * a[j];
            o[u] = l + 1 < m->nlayers ? tanh(s) : s;
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
    mlp_backward(m, prob, label, weight, m->grad);
    for (size_t i = 0; i < m->nparams; i++) {
        double gr = m->grad[i];
        if (gr == 0.0)
            continue;
        m->g[i] += gr * gr;
        m->p[i] -= m->cfg.lr * gr / sqrt(m->g[i]);
    }
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
