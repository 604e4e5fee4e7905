/* Online multinomial logistic regression: the engine's cheapest learned model. Owns its weights
 * W[3][nfeat+1] and the AdaGrad accumulators (one per feature, shared by its three class weights:
 * one square root per feature per step); everything is doubles so save/load round-trips
 * bit-exactly (the blob is the raw arrays after a versioned header, host byte order). */
#include "kestrel/logreg.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kestrel/xmalloc.h"

#define LOGREG_MAGIC 0x4B4C4752u /* "KLGR" */
#define LOGREG_VERSION 1u

typedef struct logreg {
    model base;
    logreg_config cfg;
    uint64_t samples;
    double *w; /* 3 * (nfeat + 1) */
    double *g; /* AdaGrad: per feature (and bias), the sum of its 3 classes' squared gradients */
} logreg;

static const model_ops logreg_ops;

void logreg_config_default(logreg_config *c)
{
    c->lr = 0.1;
    c->l2 = 1e-4;
    c->min_samples = 30;
}

static inline double logreg_xj(const model_input *in, uint32_t j)
{
    return (in->missing && in->missing[j]) ? 0.0 : (double)in->x[j];
}

static enum model_result logreg_check(const logreg *m, const model_input *in)
{
    return model_input_check(&m->base, in);
}

/* Softmax of the three logits into p. */
static void logreg_forward(const logreg *m, const model_input *in, double *p)
{
    uint32_t n = m->base.nfeat, stride = n + 1;
    double z[MODEL_CLASSES];
    /* the three logits side by side: each is its bias plus w[j] * x[j] in j order, as one row at
     * a time would add them; the independent chains only overlap */
    const double *w0 = m->w, *w1 = w0 + stride, *w2 = w1 + stride;
    double s0 = w0[n], s1 = w1[n], s2 = w2[n];
    for (uint32_t j = 0; j < n; j++) {
        double xj = logreg_xj(in, j);
        s0 += w0[j] * xj;
        s1 += w1[j] * xj;
        s2 += w2[j] * xj;
    }
    z[0] = s0;
    z[1] = s1;
    z[2] = s2;
    double mx = z[0] > z[1] ? z[0] : z[1];
    mx = mx > z[2] ? mx : z[2];
    double sum = 0;
    for (int k = 0; k < MODEL_CLASSES; k++) {
        p[k] = exp(z[k] - mx);
        sum += p[k];
    }
    for (int k = 0; k < MODEL_CLASSES; k++)
        p[k] /= sum;
}

static enum model_result logreg_predict(model *mm, const model_input *in, model_output *out)
{
    logreg *m = (logreg *)mm;
    enum model_result r = logreg_check(m, in);
    if (r != K_MODEL_OK)
        return r;
    if (m->samples < m->cfg.min_samples)
        return K_MODEL_NOT_READY;
    logreg_forward(m, in, out->p);
    out->confidence = -1;
    return K_MODEL_OK;
}

double logreg_loss(const model *mm, const model_input *in, int label)
{
    const logreg *m = (const logreg *)mm;
    double p[MODEL_CLASSES];
    logreg_forward(m, in, p);
    uint32_t n = m->base.nfeat, stride = n + 1;
    double reg = 0;
    for (int k = 0; k < MODEL_CLASSES; k++)
        for (uint32_t j = 0; j < n; j++)
            if (logreg_xj(in, j) != 0.0)
                reg += m->w[(size_t)k * stride + j] * m->w[(size_t)k * stride + j];
    return -log(p[label]) + 0.5 * m->cfg.l2 * reg;
}

void logreg_grad(const model *mm, const model_input *in, int label, double *grad)
{
    const logreg *m = (const logreg *)mm;
    double p[MODEL_CLASSES];
    logreg_forward(m, in, p);
    uint32_t n = m->base.nfeat, stride = n + 1;
    for (int k = 0; k < MODEL_CLASSES; k++) {
        double d = p[k] - (k == label ? 1.0 : 0.0);
        const double *wk = m->w + (size_t)k * stride;
        double *gk = grad + (size_t)k * stride;
        for (uint32_t j = 0; j < n; j++) {
            double xj = logreg_xj(in, j);
            gk[j] = xj != 0.0 ? d * xj + m->cfg.l2 * wk[j] : 0.0;
        }
        gk[n] = d;
    }
}

uint32_t logreg_explain(const model *mm, const model_input *in, int cls, uint32_t *idx,
                        double *contrib, uint32_t max)
{
    const logreg *m = (const logreg *)mm;
    uint32_t n = m->base.nfeat, stride = n + 1, got = 0;
    if (cls < 0 || cls >= MODEL_CLASSES || !in || in->nfeat != n || max == 0)
        return 0;
    for (uint32_t j = 0; j < n; j++) {
        double xj = logreg_xj(in, j);
        if (xj == 0.0 || !isfinite(xj))
            continue;
        double mean = (m->w[j] + m->w[stride + j] + m->w[2 * (size_t)stride + j]) / 3.0;
        double c = (m->w[(size_t)cls * stride + j] - mean) * xj;
        /* insertion into the top-max list by |c| */
        uint32_t pos = got < max ? got : max;
        while (pos > 0 && fabs(contrib[pos - 1]) < fabs(c))
            pos--;
        if (pos >= max)
            continue;
        uint32_t last = got < max ? got : max - 1;
        for (uint32_t k = last; k > pos; k--) {
            idx[k] = idx[k - 1];
            contrib[k] = contrib[k - 1];
        }
        idx[pos] = j;
        contrib[pos] = c;
        if (got < max)
            got++;
    }
    return got;
}

double *logreg_weights(model *mm)
{
    return ((logreg *)mm)->w;
}

static enum model_result logreg_learn(model *mm, const model_input *in, int label, double weight)
{
    logreg *m = (logreg *)mm;
    enum model_result r = logreg_check(m, in);
    if (r != K_MODEL_OK)
        return r;
    if (label < 0 || label >= MODEL_CLASSES || !(weight >= 0) || !isfinite(weight))
        return K_MODEL_BAD_INPUT;
    double p[MODEL_CLASSES], d[MODEL_CLASSES];
    logreg_forward(m, in, p);
    uint32_t n = m->base.nfeat, stride = n + 1;
    double lr = m->cfg.lr, l2 = m->cfg.l2;
    for (int k = 0; k < MODEL_CLASSES; k++)
        d[k] = weight * (p[k] - (k == label ? 1.0 : 0.0));
    double *w0 = m->w, *w1 = m->w + stride, *w2 = m->w + 2 * (size_t)stride;
    for (uint32_t j = 0; j <= n; j++) {
        double xj = j < n ? logreg_xj(in, j) : 1.0;
        if (xj == 0.0)
            continue; /* lazy L2: an absent input neither moves nor decays its weights */
        double lj = j < n ? l2 : 0.0; /* the bias is not penalised */
        double g0 = d[0] * xj + lj * w0[j], g1 = d[1] * xj + lj * w1[j];
        double g2 = d[2] * xj + lj * w2[j];
        m->g[j] += g0 * g0 + g1 * g1 + g2 * g2;
        if (m->g[j] == 0.0)
            continue;
        double step = lr / sqrt(m->g[j]);
        w0[j] -= step * g0;
        w1[j] -= step * g1;
        w2[j] -= step * g2;
    }
    m->samples++;
    return K_MODEL_OK;
}

static enum model_result logreg_nothing(model *mm)
{
    (void)mm;
    return K_MODEL_OK;
}

struct logreg_header {
    uint32_t magic, version, nfeat, classes;
    double lr, l2;
    uint32_t min_samples, pad;
    uint64_t samples;
};

static enum model_result logreg_save(const model *mm, model_blob *out)
{
    const logreg *m = (const logreg *)mm;
    struct logreg_header h = { LOGREG_MAGIC, LOGREG_VERSION, m->base.nfeat, MODEL_CLASSES,
                               m->cfg.lr, m->cfg.l2, m->cfg.min_samples, 0, m->samples };
    size_t nw = (size_t)MODEL_CLASSES * (m->base.nfeat + 1);
    model_blob_put(out, &h, sizeof h);
    model_blob_put(out, m->w, nw * sizeof(double));
    model_blob_put(out, m->g, (m->base.nfeat + 1) * sizeof(double));
    return K_MODEL_OK;
}

static enum model_result logreg_load(model *mm, const uint8_t *data, size_t len)
{
    logreg *m = (logreg *)mm;
    struct logreg_header h;
    size_t off = 0, nw = (size_t)MODEL_CLASSES * (m->base.nfeat + 1);
    if (model_blob_get(data, len, &off, &h, sizeof h) != K_MODEL_OK || h.magic != LOGREG_MAGIC ||
        h.version != LOGREG_VERSION || h.nfeat != m->base.nfeat || h.classes != MODEL_CLASSES ||
        len != sizeof h + (nw + m->base.nfeat + 1) * sizeof(double))
        return K_MODEL_BAD_STATE;
    memcpy(m->w, data + off, nw * sizeof(double));
    memcpy(m->g, data + off + nw * sizeof(double), (m->base.nfeat + 1) * sizeof(double));
    m->cfg.lr = h.lr;
    m->cfg.l2 = h.l2;
    m->cfg.min_samples = h.min_samples;
    m->samples = h.samples;
    return K_MODEL_OK;
}

static uint64_t logreg_samples(const model *mm)
{
    return ((const logreg *)mm)->samples;
}

static void logreg_free(model *mm)
{
    logreg *m = (logreg *)mm;
    if (!m)
        return;
    free(m->w);
    free(m->g);
    free(m);
}

static const model_ops logreg_ops = {
    .kind = "logreg", .flags = 0, .predict = logreg_predict, .learn = logreg_learn,
    .train = logreg_nothing, .swap = logreg_nothing, .save = logreg_save, .load = logreg_load,
    .samples = logreg_samples, .free = logreg_free,
};

model *logreg_new(const char *name, uint32_t nfeat, const logreg_config *cfg)
{
    logreg *m = xcalloc(1, sizeof *m);
    m->base.ops = &logreg_ops;
    snprintf(m->base.name, sizeof m->base.name, "%s", name ? name : "logreg");
    m->base.nfeat = nfeat;
    if (cfg)
        m->cfg = *cfg;
    else
        logreg_config_default(&m->cfg);
    size_t nw = (size_t)MODEL_CLASSES * (nfeat + 1);
    m->w = xcalloc(nw, sizeof(double));
    m->g = xcalloc(nfeat + 1, sizeof(double));
    return &m->base;
}
