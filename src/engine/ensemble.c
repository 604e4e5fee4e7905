/* The ensemble's weighting by out-of-sample loss, the adaptive entry threshold, the self-pause
 * guard and regime detection. Owns per-model rings of recent log losses; the threshold and guard
 * are plain structs with fixed rings. All rules are in ensemble.h and docs/ENGINE.md. */
#include "kestrel/ensemble.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kestrel/xmalloc.h"

#define ENSEMBLE_MAGIC 0x4B454E53u /* "KENS" */
#define ENSEMBLE_VERSION 1u

struct ensemble {
    ensemble_config cfg;
    uint32_t nmodels;
    double *loss; /* nmodels * window ring */
    uint32_t *n, *head;
    int baseline;                       /* -1: no baseline rule */
    bool gated[ENSEMBLE_MAX_MODELS];
};

void ensemble_config_default(ensemble_config *c)
{
    c->window = 100;
    c->min_scored = 10;
    c->eta = 5.0;
}

ensemble *ensemble_new(uint32_t nmodels, const ensemble_config *cfg)
{
    ensemble *e = xcalloc(1, sizeof *e);
    if (cfg)
        e->cfg = *cfg;
    else
        ensemble_config_default(&e->cfg);
    if (e->cfg.window == 0)
        e->cfg.window = 1;
    e->nmodels = nmodels > ENSEMBLE_MAX_MODELS ? ENSEMBLE_MAX_MODELS : nmodels;
    e->loss = xcalloc((size_t)(e->nmodels ? e->nmodels : 1) * e->cfg.window, sizeof(double));
    e->n = xcalloc(e->nmodels ? e->nmodels : 1, sizeof(uint32_t));
    e->head = xcalloc(e->nmodels ? e->nmodels : 1, sizeof(uint32_t));
    e->baseline = -1;
    return e;
}

void ensemble_free(ensemble *e)
{
    if (!e)
        return;
    free(e->loss);
    free(e->n);
    free(e->head);
    free(e);
}

uint32_t ensemble_models(const ensemble *e)
{
    return e->nmodels;
}

double ensemble_loss(const ensemble *e, uint32_t i)
{
    if (i >= e->nmodels || e->n[i] == 0)
        return NAN;
    double s = 0;
    const double *r = e->loss + (size_t)i * e->cfg.window;
    uint32_t h = e->head[i], n = e->n[i], first = e->cfg.window - h < n ? e->cfg.window - h : n;
    for (uint32_t k = 0; k < first; k++) /* oldest first, as the ring runs: no modulo per item */
        s += r[h + k];
    for (uint32_t k = first; k < n; k++)
        s += r[k - first];
    return s / n;
}

uint32_t ensemble_scored(const ensemble *e, uint32_t i)
{
    return i < e->nmodels ? e->n[i] : 0;
}

bool ensemble_own_loss(const ensemble *e, uint32_t i)
{
    return i < e->nmodels && e->n[i] >= e->cfg.min_scored && e->n[i] > 0;
}

/* The loss a model's weight uses: its own once it has min_scored, else ln 3. */
static double ensemble_eff_loss(const ensemble *e, uint32_t i)
{
    return ensemble_own_loss(e, i) ? ensemble_loss(e, i) : log(3.0);
}

void ensemble_set_baseline(ensemble *e, int baseline, const bool *gated)
{
    e->baseline = baseline >= 0 && (uint32_t)baseline < e->nmodels ? baseline : -1;
    for (uint32_t i = 0; i < e->nmodels; i++)
        e->gated[i] = gated && gated[i] && (int)i != e->baseline;
}

bool ensemble_held(const ensemble *e, uint32_t i, double *loss, double *base)
{
    if (loss)
        *loss = i < e->nmodels ? ensemble_loss(e, i) : NAN;
    if (base)
        *base = e->baseline >= 0 ? ensemble_loss(e, (uint32_t)e->baseline) : NAN;
    if (i >= e->nmodels || e->baseline < 0 || !e->gated[i])
        return false;
    uint32_t b = (uint32_t)e->baseline;
    if (e->n[i] < e->cfg.min_scored || e->n[i] == 0)
        return true; /* not enough out-of-sample evidence yet */
    return !(ensemble_loss(e, i) < (e->n[b] ? ensemble_loss(e, b) : log(3.0)));
}

void ensemble_weights(const ensemble *e, double *w)
{
    double mn = INFINITY, sum = 0, L[ENSEMBLE_MAX_MODELS];
    bool held[ENSEMBLE_MAX_MODELS];
    for (uint32_t i = 0; i < e->nmodels; i++) {
        held[i] = ensemble_held(e, i, NULL, NULL);
        L[i] = ensemble_eff_loss(e, i);
        if (!held[i])
            mn = fmin(mn, L[i]);
    }
    for (uint32_t i = 0; i < e->nmodels; i++)
        sum += (w[i] = held[i] ? 0.0 : exp(-e->cfg.eta * (L[i] - mn)));
    for (uint32_t i = 0; i < e->nmodels; i++)
        w[i] = sum > 0 ? w[i] / sum : 0.0;
}

bool ensemble_combine(const ensemble *e, const model_output *outs, const bool *ready, double *p,
                      double *used)
{
    double w[ENSEMBLE_MAX_MODELS], sum = 0;
    ensemble_weights(e, w);
    for (uint32_t i = 0; i < e->nmodels; i++)
        sum += ready[i] ? w[i] : 0;
    for (int k = 0; k < MODEL_CLASSES; k++)
        p[k] = sum > 0 ? 0 : 1.0 / MODEL_CLASSES;
    for (uint32_t i = 0; i < e->nmodels; i++) {
        double wi = (ready[i] && sum > 0) ? w[i] / sum : 0;
        if (used)
            used[i] = wi;
        for (int k = 0; k < MODEL_CLASSES && wi > 0; k++)
            p[k] += wi * outs[i].p[k];
    }
    return sum > 0;
}

void ensemble_score(ensemble *e, uint32_t i, const double *p, int outcome)
{
    if (i >= e->nmodels || outcome < 0 || outcome >= MODEL_CLASSES)
        return;
    double po = p[outcome] > 1e-15 ? p[outcome] : 1e-15;
    double *r = e->loss + (size_t)i * e->cfg.window;
    if (e->n[i] < e->cfg.window) {
        r[(e->head[i] + e->n[i]) % e->cfg.window] = -log(po);
        e->n[i]++;
    } else {
        r[e->head[i]] = -log(po);
        e->head[i] = (e->head[i] + 1) % e->cfg.window;
    }
}

void ensemble_reset(ensemble *e)
{
    for (uint32_t i = 0; i < e->nmodels; i++)
        e->n[i] = e->head[i] = 0;
}

struct ensemble_header {
    uint32_t magic, version, nmodels, window;
};

void ensemble_save(const ensemble *e, model_blob *out)
{
    struct ensemble_header h = { ENSEMBLE_MAGIC, ENSEMBLE_VERSION, e->nmodels, e->cfg.window };
    model_blob_put(out, &h, sizeof h);
    model_blob_put(out, e->n, e->nmodels * sizeof(uint32_t));
    model_blob_put(out, e->head, e->nmodels * sizeof(uint32_t));
    model_blob_put(out, e->loss, (size_t)e->nmodels * e->cfg.window * sizeof(double));
}

enum model_result ensemble_load(ensemble *e, const uint8_t *data, size_t len)
{
    struct ensemble_header h;
    size_t off = 0, nl = (size_t)e->nmodels * e->cfg.window;
    if (model_blob_get(data, len, &off, &h, sizeof h) != K_MODEL_OK ||
        h.magic != ENSEMBLE_MAGIC || h.version != ENSEMBLE_VERSION || h.nmodels != e->nmodels ||
        h.window != e->cfg.window || len != sizeof h + 2 * e->nmodels * sizeof(uint32_t) +
                                                 nl * sizeof(double))
        return K_MODEL_BAD_STATE;
    memcpy(e->n, data + off, e->nmodels * sizeof(uint32_t));
    off += e->nmodels * sizeof(uint32_t);
    memcpy(e->head, data + off, e->nmodels * sizeof(uint32_t));
    off += e->nmodels * sizeof(uint32_t);
    memcpy(e->loss, data + off, nl * sizeof(double));
    for (uint32_t i = 0; i < e->nmodels; i++)
        if (e->n[i] > e->cfg.window || e->head[i] >= e->cfg.window)
            e->n[i] = e->head[i] = 0;
    return K_MODEL_OK;
}

/* ---- adaptive threshold --------------------------------------------------------------- */

void ensemble_threshold_init(ensemble_threshold *t, double base)
{
    memset(t, 0, sizeof *t);
    t->base = base;
    t->step = 0.05;
    t->window = 50;
    t->min_n = 20;
}

/* The sum of n bytes (n <= ENSEMBLE_RING), any values: eight at a time, the even and odd bytes
 * in 16-bit lanes (at most 32 words of 255 + 255: no lane overflows), then the lanes added. */
static uint32_t ensemble_bytes_sum(const uint8_t *v, uint32_t n)
{
    const uint64_t m = 0x00FF00FF00FF00FFull;
    uint64_t acc = 0;
    uint32_t i = 0, s = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, v + i, sizeof w);
        acc += (w & m) + ((w >> 8) & m);
    }
    s = (uint32_t)((acc * 0x0001000100010001ull) >> 48);
    for (; i < n; i++)
        s += v[i];
    return s;
}

void ensemble_threshold_add(ensemble_threshold *t, bool win)
{
    uint32_t w = t->window >= ENSEMBLE_RING ? ENSEMBLE_RING - 1 : t->window;
    t->hit[(t->head + t->n) % ENSEMBLE_RING] = win; /* n < ENSEMBLE_RING: a free slot */
    if (t->n < w)
        t->n++;
    else
        t->head = (t->head + 1) % ENSEMBLE_RING;
}

double ensemble_threshold_accuracy(const ensemble_threshold *t, uint32_t *n)
{
    uint32_t n1 = K_MIN(t->n, (uint32_t)ENSEMBLE_RING - t->head);
    uint32_t k = ensemble_bytes_sum(t->hit + t->head, n1) + ensemble_bytes_sum(t->hit, t->n - n1);
    if (n)
        *n = t->n;
    return t->n ? (double)k / t->n : NAN;
}

double ensemble_threshold_get(const ensemble_threshold *t)
{
    uint32_t n;
    double acc = ensemble_threshold_accuracy(t, &n);
    if (n < t->min_n)
        return t->base;
    if (acc > 0.6)
        return t->base - t->step;
    if (acc < 0.45)
        return t->base + t->step;
    return t->base;
}

/* ---- guard -------------------------------------------------------------------------- */

void ensemble_guard_init(ensemble_guard *g)
{
    memset(g, 0, sizeof *g);
    g->window = 200;
    g->min_n = 50;
    g->floor = 0.40;
}

void ensemble_guard_add(ensemble_guard *g, bool right, bool outcome_hold)
{
    uint32_t w = g->window >= ENSEMBLE_RING ? ENSEMBLE_RING - 1 : g->window;
    uint32_t at = (g->head + g->n) % ENSEMBLE_RING; /* n < ENSEMBLE_RING: a free slot */
    g->right[at] = right;
    g->hold[at] = outcome_hold;
    if (g->n < w)
        g->n++;
    else
        g->head = (g->head + 1) % ENSEMBLE_RING;
}

double ensemble_wilson_lower(double k, double n)
{
    if (n <= 0)
        return 0;
    const double z = 1.96;
    double p = k / n, z2 = z * z;
    return (p + z2 / (2 * n) - z * sqrt(p * (1 - p) / n + z2 / (4 * n * n))) / (1 + z2 / n);
}

bool ensemble_guard_paused(const ensemble_guard *g, char *why, size_t whylen)
{
    if (why && whylen)
        why[0] = 0;
    if (g->n < g->min_n)
        return false;
    /* the ring's live part as two straight runs (head to the end, then from 0): the same integer
     * sums, eight bytes at a time (this ran twice per signal) */
    uint32_t n1 = K_MIN(g->n, (uint32_t)ENSEMBLE_RING - g->head);
    uint32_t right = ensemble_bytes_sum(g->right + g->head, n1) +
                     ensemble_bytes_sum(g->right, g->n - n1);
    uint32_t hold = ensemble_bytes_sum(g->hold + g->head, n1) +
                    ensemble_bytes_sum(g->hold, g->n - n1);
    double lo = ensemble_wilson_lower(right, g->n);
    if (lo < g->floor) {
        if (why)
            snprintf(why, whylen, "accuracy %.3f over %u: 95%% lower bound %.3f < %.2f",
                     (double)right / g->n, g->n, lo, g->floor);
        return true;
    }
    if (right <= hold) {
        if (why)
            snprintf(why, whylen, "accuracy %.3f over %u does not beat always-HOLD %.3f",
                     (double)right / g->n, g->n, (double)hold / g->n);
        return true;
    }
    return false;
}

/* ---- regime ------------------------------------------------------------------------- */

const char *ensemble_regime_name(enum regime r)
{
    switch (r) {
    case REGIME_TRENDING: return "trending";
    case REGIME_RANGING: return "ranging";
    case REGIME_VOLATILE: return "volatile";
    case REGIME_UNKNOWN: break;
    }
    return "unknown";
}

enum regime ensemble_regime(const scorer_input *in)
{
    if (!isnan(in->vol_pct) && in->vol_pct >= 0.9)
        return REGIME_VOLATILE;
    if (isnan(in->adx))
        return REGIME_UNKNOWN;
    return in->adx >= 25 ? REGIME_TRENDING : REGIME_RANGING;
}

bool ensemble_regime_allows(enum regime r, int action, const scorer_result *sr,
                            const scorer_input *in, char *why, size_t whylen)
{
    if (why && whylen)
        why[0] = 0;
    if (action == MODEL_HOLD)
        return false;
    int dir = action == MODEL_BUY ? 1 : -1;
    bool ok = true;
    const char *logic = "";
    switch (r) {
    case REGIME_TRENDING:
        ok = sr->votes[SCORER_MA] == dir || sr->votes[SCORER_MOM] == dir;
        logic = "trending: needs MA alignment or momentum in its direction";
        break;
    case REGIME_RANGING:
        ok = sr->votes[SCORER_RSI] == dir || sr->votes[SCORER_BB] == dir;
        logic = "ranging: needs an RSI extreme or a Bollinger touch in its direction";
        break;
    case REGIME_VOLATILE: {
        int agree = 0;
        for (int k = 0; k < 3; k++)
            agree += !isnan(in->ctx_trend[k]) && in->ctx_trend[k] * dir > 0;
        ok = agree >= 2;
        logic = "volatile: needs 2 of the 1m/5m/1h trends in its direction";
        break;
    }
    case REGIME_UNKNOWN:
        break;
    }
    if (!ok && why)
        snprintf(why, whylen, "%s", logic);
    return ok;
}
