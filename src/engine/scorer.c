/* The rule scorer, the RSI fallback and the adaptive indicator-weights model. Pure functions of
 * the raw indicator values the feature extractor hands over (scorer_input); the weights model
 * owns only its weights and counters. The weights and thresholds are the issue's, documented in
 * scorer.h and docs/ENGINE.md. */
#include "kestrel/scorer.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kestrel/xmalloc.h"

const double scorer_base_weight[SCORER_NVOTES] = { 0.30, 0.25, 0.20, 0.25, 0.20, 0.20, 0.15 };

static const char *const scorer_names[SCORER_NVOTES] = {
    "ma", "momentum", "rsi", "macd", "bb", "flow", "volume",
};

const char *scorer_vote_name(enum scorer_vote v)
{
    return (unsigned)v < SCORER_NVOTES ? scorer_names[v] : "?";
}

void scorer_input_clear(scorer_input *in)
{
    double *d = (double *)in;
    for (size_t i = 0; i < sizeof *in / sizeof(double); i++)
        d[i] = NAN;
}

static void scorer_reason_add(scorer_result *r, double delta, const char *text)
{
    if (r->nreasons >= SCORER_REASONS)
        return;
    scorer_reason *x = &r->reasons[r->nreasons++];
    x->delta = delta;
    snprintf(x->text, sizeof x->text, "%s", text);
}

static double scorer_clip01(double v)
{
    return v < 0 ? 0 : v > 1 ? 1 : v;
}

/* The rule's probabilities: a BUY/SELL action puts 0.4 + 0.5 * strength (<= 0.9) on itself and
 * splits the rest; HOLD puts 0.5 on HOLD and 0.25 -/+ d/4 on SELL/BUY, d = bull - bear clipped
 * to [-0.9, 0.9]. */
static void scorer_probs(scorer_result *r)
{
    if (r->action != MODEL_HOLD) {
        double pa = 0.4 + 0.5 * r->strength;
        pa = pa > 0.9 ? 0.9 : pa;
        for (int k = 0; k < MODEL_CLASSES; k++)
            r->p[k] = k == r->action ? pa : (1.0 - pa) / 2.0;
    } else {
        double d = r->bull - r->bear;
        d = d > 0.9 ? 0.9 : d < -0.9 ? -0.9 : d;
        r->p[MODEL_HOLD] = 0.5;
        r->p[MODEL_BUY] = 0.25 + d / 4.0;
        r->p[MODEL_SELL] = 0.25 - d / 4.0;
    }
}

static void scorer_vote(scorer_result *r, enum scorer_vote v, int side, double *bull,
                        double *bear, const char *text)
{
    r->votes[v] = side;
    if (side == 0)
        return;
    double w = scorer_base_weight[v];
    if (side > 0)
        *bull += w;
    else
        *bear += w;
    scorer_reason_add(r, side > 0 ? w : -w, text);
}

void scorer_score(const scorer_input *in, double threshold, scorer_result *r)
{
    memset(r, 0, sizeof *r);
    double bull = 0, bear = 0;
    /* MA alignment */
    if (isnan(in->ema9) || isnan(in->ema21) || isnan(in->ema50))
        r->vote_missing[SCORER_MA] = 1;
    else if (in->ema9 > in->ema21 && in->ema21 > in->ema50)
        scorer_vote(r, SCORER_MA, 1, &bull, &bear, "MA alignment bull (ema9>ema21>ema50)");
    else if (in->ema9 < in->ema21 && in->ema21 < in->ema50)
        scorer_vote(r, SCORER_MA, -1, &bull, &bear, "MA alignment bear (ema9<ema21<ema50)");
    /* momentum */
    if (isnan(in->ret_5))
        r->vote_missing[SCORER_MOM] = 1;
    else if (in->ret_5 > 0.001)
        scorer_vote(r, SCORER_MOM, 1, &bull, &bear, "momentum up (5-bar return > +0.1%)");
    else if (in->ret_5 < -0.001)
        scorer_vote(r, SCORER_MOM, -1, &bull, &bear, "momentum down (5-bar return < -0.1%)");
    /* RSI */
    if (isnan(in->rsi)) {
        r->vote_missing[SCORER_RSI] = 1;
    } else if (in->rsi < 30) {
        scorer_vote(r, SCORER_RSI, 1, &bull, &bear, "RSI oversold (< 30)");
    } else if (in->rsi > 70) {
        scorer_vote(r, SCORER_RSI, -1, &bull, &bear, "RSI overbought (> 70)");
    } else if (in->rsi >= 40 && in->rsi <= 60) {
        bull -= 0.1;
        bear -= 0.1;
        scorer_reason_add(r, -0.1, "RSI neutral (40-60): -0.1 both sides");
    }
    /* MACD crossover and growing histogram */
    if (isnan(in->macd) || isnan(in->macd_signal) || isnan(in->macd_prev_diff)) {
        r->vote_missing[SCORER_MACD] = 1;
    } else {
        double d = in->macd - in->macd_signal;
        if (in->macd_prev_diff <= 0 && d > 0)
            scorer_vote(r, SCORER_MACD, 1, &bull, &bear, "MACD crossed above signal");
        else if (in->macd_prev_diff >= 0 && d < 0)
            scorer_vote(r, SCORER_MACD, -1, &bull, &bear, "MACD crossed below signal");
        if (!isnan(in->hist) && !isnan(in->hist_prev)) {
            if (in->hist > 0 && in->hist > in->hist_prev && in->hist_prev >= 0) {
                bull += 0.1;
                scorer_reason_add(r, 0.1, "MACD histogram growing (bull)");
            } else if (in->hist < 0 && in->hist < in->hist_prev && in->hist_prev <= 0) {
                bear += 0.1;
                scorer_reason_add(r, -0.1, "MACD histogram growing (bear)");
            }
        }
    }
    /* Bollinger */
    if (isnan(in->bb_upper) || isnan(in->bb_lower) || isnan(in->close) || isnan(in->bb_width)) {
        r->vote_missing[SCORER_BB] = 1;
    } else {
        if (in->close <= in->bb_lower)
            scorer_vote(r, SCORER_BB, 1, &bull, &bear, "Bollinger lower band touch");
        else if (in->close >= in->bb_upper)
            scorer_vote(r, SCORER_BB, -1, &bull, &bear, "Bollinger upper band touch");
        if (in->bb_width < 2.0) {
            bull += 0.15;
            bear += 0.15;
            scorer_reason_add(r, 0.15, "Bollinger squeeze (width < 2%): +0.15 both sides");
        } else if (in->bb_width > 8.0) {
            bull -= 0.1;
            bear -= 0.1;
            scorer_reason_add(r, -0.1, "Bollinger expansion (width > 8%): -0.1 both sides");
        }
    }
    /* order flow */
    if (isnan(in->imbalance))
        r->vote_missing[SCORER_FLOW] = 1;
    else if (in->imbalance > 0.2)
        scorer_vote(r, SCORER_FLOW, 1, &bull, &bear, "order-flow imbalance buy (> 0.2)");
    else if (in->imbalance < -0.2)
        scorer_vote(r, SCORER_FLOW, -1, &bull, &bear, "order-flow imbalance sell (< -0.2)");
    /* volume confirmation */
    if (isnan(in->vol_ratio) || isnan(in->close) || isnan(in->open))
        r->vote_missing[SCORER_VOL] = 1;
    else if (in->vol_ratio > 1.5 && in->close != in->open)
        scorer_vote(r, SCORER_VOL, in->close > in->open ? 1 : -1, &bull, &bear,
                    in->close > in->open ? "volume confirms up bar (ratio > 1.5)"
                                         : "volume confirms down bar (ratio > 1.5)");
    r->bull = scorer_clip01(bull);
    r->bear = scorer_clip01(bear);
    if (r->bull >= threshold && r->bull > r->bear) {
        r->action = MODEL_BUY;
        r->strength = r->bull;
    } else if (r->bear >= threshold && r->bear > r->bull) {
        r->action = MODEL_SELL;
        r->strength = r->bear;
    } else {
        r->action = MODEL_HOLD;
        r->strength = r->bull > r->bear ? r->bull : r->bear;
    }
    scorer_probs(r);
}

void scorer_rsi_fallback(double rsi, scorer_result *r)
{
    memset(r, 0, sizeof *r);
    r->fallback = true;
    if (isnan(rsi)) {
        r->action = MODEL_HOLD;
        for (int k = 0; k < MODEL_CLASSES; k++)
            r->p[k] = 1.0 / 3.0;
        scorer_reason_add(r, 0, "RSI fallback: RSI warming up");
        return;
    }
    r->strength = fabs(rsi - 50.0) / 50.0;
    if (rsi < 30) {
        r->action = MODEL_BUY;
        r->bull = r->strength;
        scorer_reason_add(r, r->strength, "RSI fallback: oversold (< 30)");
    } else if (rsi > 70) {
        r->action = MODEL_SELL;
        r->bear = r->strength;
        scorer_reason_add(r, -r->strength, "RSI fallback: overbought (> 70)");
    } else {
        r->action = MODEL_HOLD;
        scorer_reason_add(r, 0, "RSI fallback: between 30 and 70");
    }
    scorer_probs(r);
}

/* ---- adaptive indicator weights ------------------------------------------------------- */

#define SCORER_W_MAGIC 0x4B575447u /* "KWTG" */
#define SCORER_W_VERSION 2u /* 2: class counts and the learned scales of the probability map */
#define SCORER_W_LR 0.1
#define SCORER_W_MIN 10
#define SCORER_W_MAP_LR 0.02 /* AdaGrad step of the map's two scales */
#define SCORER_W_MAP_MAX 8.0 /* |scale| bound */

/* The probability map (docs/ENGINE.md "Adaptive indicator weights"): with s the weighted vote in
 * [-1, 1], logits z_SELL = b_SELL - a s, z_HOLD = b_HOLD - c |s|, z_BUY = b_BUY + a s, where b_k
 * is the log of the Laplace-smoothed frequency of outcome k so far (the class prior) and a, c
 * start at 0 and are learned online (AdaGrad on the log loss of each label, before the label is
 * counted in the prior). Before any sample it predicts 1/3 each; until the votes have shown they
 * carry information it stays at the prior, so its probabilities are honest from the start. */
typedef struct scorer_map {
    double a, c;       /* scales of s (BUY vs SELL) and |s| (against HOLD) */
    double ga, gc;     /* AdaGrad accumulators */
    double dloss;      /* cumulative log loss of the map minus the prior's (prequential) */
    uint64_t cls[MODEL_CLASSES]; /* outcomes seen per class */
} scorer_map;

typedef struct scorer_weights {
    model base;
    uint32_t idx[SCORER_NVOTES];
    double w[SCORER_NVOTES];
    uint64_t n[SCORER_NVOTES], hits[SCORER_NVOTES];
    uint64_t samples;
    scorer_map map;
} scorer_weights;

static enum model_result scorer_w_check(const scorer_weights *m, const model_input *in)
{
    if (!in || !in->x || in->nfeat != m->base.nfeat)
        return K_MODEL_BAD_INPUT;
    for (int i = 0; i < SCORER_NVOTES; i++)
        if (!(in->missing && in->missing[m->idx[i]]) && !isfinite(in->x[m->idx[i]]))
            return K_MODEL_BAD_INPUT;
    return K_MODEL_OK;
}

static int scorer_w_vote(const scorer_weights *m, const model_input *in, int i)
{
    if (in->missing && in->missing[m->idx[i]])
        return 0;
    float v = in->x[m->idx[i]];
    return v > 0.5f ? 1 : v < -0.5f ? -1 : 0;
}

/* The weighted vote s in [-1, 1] over the votes present (0 with none). */
static double scorer_w_score(const scorer_weights *m, const model_input *in)
{
    double num = 0, den = 0;
    for (int i = 0; i < SCORER_NVOTES; i++) {
        if (in->missing && in->missing[m->idx[i]])
            continue;
        num += m->w[i] * scorer_w_vote(m, in, i);
        den += m->w[i];
    }
    return den > 0 ? num / den : 0;
}

/* The class prior (Laplace-smoothed outcome frequencies) and the map's probabilities. */
static void scorer_w_parts(const scorer_weights *m, double s, double *prior, double *p)
{
    const scorer_map *q = &m->map;
    double tot = (double)(q->cls[0] + q->cls[1] + q->cls[2]) + MODEL_CLASSES;
    double z[MODEL_CLASSES];
    for (int k = 0; k < MODEL_CLASSES; k++)
        z[k] = log(prior[k] = ((double)q->cls[k] + 1.0) / tot);
    z[MODEL_SELL] -= q->a * s;
    z[MODEL_HOLD] -= q->c * fabs(s);
    z[MODEL_BUY] += q->a * s;
    double mx = fmax(z[0], fmax(z[1], z[2])), sum = 0;
    for (int k = 0; k < MODEL_CLASSES; k++)
        sum += (p[k] = exp(z[k] - mx));
    for (int k = 0; k < MODEL_CLASSES; k++)
        p[k] /= sum;
}

/* Bayesian mixture of the prior and the map: the map's share starts at SCORER_W_MIX0 and grows
 * only as its cumulative prequential log loss falls below the prior's (share = 1 / (1 + (1 -
 * m0) / m0 * exp(dloss))), so the output is never much worse than the prior in total (by at
 * most -ln(1 - m0) nats over the whole run) and follows the map once it has earned it. */
#define SCORER_W_MIX0 0.001
static double scorer_w_share(const scorer_weights *m)
{
    double d = m->map.dloss;
    d = d > 700 ? 700 : d < -700 ? -700 : d;
    return 1.0 / (1.0 + (1.0 - SCORER_W_MIX0) / SCORER_W_MIX0 * exp(d));
}

static void scorer_w_probs(const scorer_weights *m, double s, double *out)
{
    double prior[MODEL_CLASSES], p[MODEL_CLASSES];
    scorer_w_parts(m, s, prior, p);
    double u = scorer_w_share(m);
    for (int k = 0; k < MODEL_CLASSES; k++)
        out[k] = u * p[k] + (1.0 - u) * prior[k];
}

static enum model_result scorer_w_predict(model *mm, const model_input *in, model_output *out)
{
    scorer_weights *m = (scorer_weights *)mm;
    enum model_result r = scorer_w_check(m, in);
    if (r != K_MODEL_OK)
        return r;
    scorer_w_probs(m, scorer_w_score(m, in), out->p);
    out->confidence = -1;
    return K_MODEL_OK;
}

static double scorer_w_clip(double v)
{
    return v > SCORER_W_MAP_MAX ? SCORER_W_MAP_MAX : v < -SCORER_W_MAP_MAX ? -SCORER_W_MAP_MAX : v;
}

/* One AdaGrad step of the map on the label (with the prior as it was when predicting), then the
 * label joins the prior. dL/da = s (p_BUY - y_BUY) - s (p_SELL - y_SELL), dL/dc = -|s| (p_HOLD -
 * y_HOLD). */
static void scorer_w_map_learn(scorer_weights *m, double s, int label, double wt)
{
    scorer_map *q = &m->map;
    double p[MODEL_CLASSES], prior[MODEL_CLASSES];
    scorer_w_parts(m, s, prior, p);
    if (wt > 0)
        q->dloss += wt * (log(fmax(prior[label], 1e-300)) - log(fmax(p[label], 1e-300)));
    double ga = wt * (s * (p[MODEL_BUY] - (label == MODEL_BUY)) -
                      s * (p[MODEL_SELL] - (label == MODEL_SELL)));
    double gc = wt * (-fabs(s) * (p[MODEL_HOLD] - (label == MODEL_HOLD)));
    q->ga += ga * ga;
    q->gc += gc * gc;
    if (q->ga > 0)
        q->a = scorer_w_clip(q->a - SCORER_W_MAP_LR * ga / sqrt(q->ga));
    if (q->gc > 0)
        q->c = scorer_w_clip(q->c - SCORER_W_MAP_LR * gc / sqrt(q->gc));
    if (wt > 0)
        q->cls[label]++;
}

static enum model_result scorer_w_learn(model *mm, const model_input *in, int label, double wt)
{
    scorer_weights *m = (scorer_weights *)mm;
    enum model_result r = scorer_w_check(m, in);
    if (r != K_MODEL_OK)
        return r;
    if (label < 0 || label >= MODEL_CLASSES || !(wt >= 0))
        return K_MODEL_BAD_INPUT;
    m->samples++;
    scorer_w_map_learn(m, scorer_w_score(m, in), label, wt);
    if (label == MODEL_HOLD || wt == 0)
        return K_MODEL_OK;
    int dir = label == MODEL_BUY ? 1 : -1;
    for (int i = 0; i < SCORER_NVOTES; i++) {
        int v = scorer_w_vote(m, in, i);
        if (v == 0)
            continue;
        m->n[i]++;
        m->hits[i] += v == dir;
        if (m->n[i] >= SCORER_W_MIN) {
            double target = 2.0 * scorer_base_weight[i] * (double)m->hits[i] / (double)m->n[i];
            m->w[i] += SCORER_W_LR * (target - m->w[i]);
        }
    }
    return K_MODEL_OK;
}

static enum model_result scorer_w_nothing(model *mm)
{
    (void)mm;
    return K_MODEL_OK;
}

struct scorer_w_header {
    uint32_t magic, version, nfeat, nvotes;
    uint32_t idx[SCORER_NVOTES], pad;
    uint64_t samples;
};

static enum model_result scorer_w_save(const model *mm, model_blob *out)
{
    const scorer_weights *m = (const scorer_weights *)mm;
    struct scorer_w_header h = { SCORER_W_MAGIC, SCORER_W_VERSION, m->base.nfeat, SCORER_NVOTES,
                                 { 0 }, 0, m->samples };
    memcpy(h.idx, m->idx, sizeof h.idx);
    model_blob_put(out, &h, sizeof h);
    model_blob_put(out, m->w, sizeof m->w);
    model_blob_put(out, m->n, sizeof m->n);
    model_blob_put(out, m->hits, sizeof m->hits);
    model_blob_put(out, &m->map, sizeof m->map);
    return K_MODEL_OK;
}

static enum model_result scorer_w_load(model *mm, const uint8_t *data, size_t len)
{
    scorer_weights *m = (scorer_weights *)mm;
    struct scorer_w_header h;
    size_t off = 0;
    if (model_blob_get(data, len, &off, &h, sizeof h) != K_MODEL_OK ||
        h.magic != SCORER_W_MAGIC || h.version != SCORER_W_VERSION ||
        h.nfeat != m->base.nfeat || h.nvotes != SCORER_NVOTES ||
        memcmp(h.idx, m->idx, sizeof h.idx) != 0 ||
        len != sizeof h + sizeof m->w + sizeof m->n + sizeof m->hits + sizeof m->map)
        return K_MODEL_BAD_STATE;
    memcpy(m->w, data + off, sizeof m->w);
    memcpy(m->n, data + off + sizeof m->w, sizeof m->n);
    memcpy(m->hits, data + off + sizeof m->w + sizeof m->n, sizeof m->hits);
    memcpy(&m->map, data + off + sizeof m->w + sizeof m->n + sizeof m->hits, sizeof m->map);
    m->samples = h.samples;
    return K_MODEL_OK;
}

static uint64_t scorer_w_samples(const model *mm)
{
    return ((const scorer_weights *)mm)->samples;
}

static void scorer_w_free(model *mm)
{
    free(mm);
}

static const model_ops scorer_w_ops = {
    .kind = "weights", .flags = 0, .predict = scorer_w_predict, .learn = scorer_w_learn,
    .train = scorer_w_nothing, .swap = scorer_w_nothing, .save = scorer_w_save,
    .load = scorer_w_load, .samples = scorer_w_samples, .free = scorer_w_free,
};

model *scorer_weights_new(const char *name, uint32_t nfeat, const uint32_t *vote_idx)
{
    for (int i = 0; i < SCORER_NVOTES; i++)
        if (vote_idx[i] >= nfeat)
            return NULL;
    scorer_weights *m = xcalloc(1, sizeof *m);
    m->base.ops = &scorer_w_ops;
    snprintf(m->base.name, sizeof m->base.name, "%s", name ? name : "weights");
    m->base.nfeat = nfeat;
    memcpy(m->idx, vote_idx, sizeof m->idx);
    memcpy(m->w, scorer_base_weight, sizeof m->w);
    return &m->base;
}

void scorer_weights_map(const model *mm, double *a, double *c)
{
    const scorer_weights *m = (const scorer_weights *)mm;
    *a = m->map.a;
    *c = m->map.c;
}

void scorer_weights_get(const model *mm, double *w, uint64_t *n)
{
    const scorer_weights *m = (const scorer_weights *)mm;
    for (int i = 0; i < SCORER_NVOTES; i++) {
        if (w)
            w[i] = m->w[i];
        if (n)
            n[i] = m->n[i];
    }
}
