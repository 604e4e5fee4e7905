/* Metrics of the signal engine: owns the per-predictor accumulators and rolling rings, the
 * traded-signal tallies, and writes the `ctl metrics` JSON and the signals export. Every sum is
 * taken in record order (see metrics.h) so the export reproduces each number exactly. */
#include "kestrel/metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kestrel/xmalloc.h"

static const char *const metrics_classes[MODEL_CLASSES] = { "SELL", "HOLD", "BUY" };

const char *metrics_class_name(int k)
{
    return k >= 0 && k < MODEL_CLASSES ? metrics_classes[k] : "?";
}

int metrics_class_parse(const char *s)
{
    for (int k = 0; k < MODEL_CLASSES; k++)
        if (s && strcmp(s, metrics_classes[k]) == 0)
            return k;
    return -1;
}

const char *metrics_result_name(int result)
{
    return result > 0 ? "win" : result < 0 ? "loss" : "neutral";
}

int metrics_bin(double c)
{
    if (!(c > 0))
        return 0;
    int b = (int)(c * METRICS_BINS);
    return b >= METRICS_BINS ? METRICS_BINS - 1 : b;
}

void metrics_acc_add(metrics_acc *a, const metrics_rec *r)
{
    if (r->predicted < 0 || r->predicted >= MODEL_CLASSES || r->outcome < 0 ||
        r->outcome >= MODEL_CLASSES)
        return;
    a->n++;
    a->confusion[r->predicted][r->outcome]++;
    double b = 0;
    for (int k = 0; k < MODEL_CLASSES; k++) {
        double d = r->p[k] - (k == r->outcome ? 1.0 : 0.0);
        b += d * d;
    }
    a->brier_sum += b;
    double po = r->p[r->outcome];
    a->ll_sum += -log(po > METRICS_LL_EPS ? po : METRICS_LL_EPS);
    int bin = metrics_bin(r->confidence);
    a->bin_n[bin]++;
    a->bin_conf[bin] += r->confidence;
    a->bin_hit[bin] += r->predicted == r->outcome;
}

void metrics_acc_summary(const metrics_acc *a, metrics_summary *s)
{
    memset(s, 0, sizeof *s);
    s->n = a->n;
    double n = (double)a->n;
    uint64_t right = 0;
    for (int k = 0; k < MODEL_CLASSES; k++)
        right += a->confusion[k][k];
    s->accuracy = a->n ? (double)right / n : NAN;
    s->brier = a->n ? a->brier_sum / n : NAN;
    s->log_loss = a->n ? a->ll_sum / n : NAN;
    double ece = 0;
    for (int b = 0; b < METRICS_BINS; b++) {
        s->bin_n[b] = a->bin_n[b];
        if (a->bin_n[b] == 0) {
            s->bin_conf[b] = s->bin_hit[b] = NAN;
            continue;
        }
        double bn = (double)a->bin_n[b];
        s->bin_conf[b] = a->bin_conf[b] / bn;
        s->bin_hit[b] = (double)a->bin_hit[b] / bn;
        ece += bn / n * fabs(s->bin_hit[b] - s->bin_conf[b]);
    }
    s->ece = a->n ? ece : NAN;
    for (int k = 0; k < MODEL_CLASSES; k++) {
        uint64_t pred = 0, act = 0;
        for (int j = 0; j < MODEL_CLASSES; j++) {
            pred += a->confusion[k][j];
            act += a->confusion[j][k];
        }
        s->support[k] = act;
        uint64_t tp = a->confusion[k][k];
        s->precision[k] = pred ? (double)tp / (double)pred : NAN;
        s->recall[k] = act ? (double)tp / (double)act : NAN;
        double p = s->precision[k], r = s->recall[k];
        s->f1[k] = (isnan(p) || isnan(r)) ? NAN : p + r > 0 ? 2 * p * r / (p + r) : 0;
    }
}

/* Numbers go in as raw %.17g text: cJSON's own printer keeps 15 digits when it deems that close
 * enough, and every number shown must be exactly recomputable from the export. NaN is null. */
static void metrics_num(cJSON *o, const char *k, double v)
{
    if (isfinite(v)) {
        char buf[40];
        snprintf(buf, sizeof buf, "%.17g", v);
        cJSON_AddRawToObject(o, k, buf);
    } else {
        cJSON_AddNullToObject(o, k);
    }
}

static void metrics_summary_fill(cJSON *o, const metrics_summary *s)
{
    cJSON_AddNumberToObject(o, "n", (double)s->n);
    metrics_num(o, "accuracy", s->accuracy);
    metrics_num(o, "brier", s->brier);
    metrics_num(o, "log_loss", s->log_loss);
    metrics_num(o, "ece", s->ece);
    cJSON *pc = cJSON_AddObjectToObject(o, "per_class");
    for (int k = MODEL_CLASSES - 1; k >= 0; k--) {
        cJSON *c = cJSON_AddObjectToObject(pc, metrics_classes[k]);
        metrics_num(c, "precision", s->precision[k]);
        metrics_num(c, "recall", s->recall[k]);
        metrics_num(c, "f1", s->f1[k]);
        cJSON_AddNumberToObject(c, "support", (double)s->support[k]);
    }
    cJSON *d = cJSON_AddArrayToObject(o, "deciles");
    for (int b = 0; b < METRICS_BINS; b++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddNumberToObject(e, "lo", b / 10.0);
        cJSON_AddNumberToObject(e, "hi", (b + 1) / 10.0);
        cJSON_AddNumberToObject(e, "n", (double)s->bin_n[b]);
        metrics_num(e, "confidence", s->bin_conf[b]);
        metrics_num(e, "hit_rate", s->bin_hit[b]);
        cJSON_AddItemToArray(d, e);
    }
}

cJSON *metrics_summary_json(const metrics_summary *s)
{
    cJSON *o = cJSON_CreateObject();
    metrics_summary_fill(o, s);
    return o;
}

/* ---- tracks ------------------------------------------------------------------------ */

/* The rolling window is kept as an accumulator too: a push adds the new record and subtracts
 * the one it evicts, so a rolling summary costs O(1) rather than a pass (with a log) over the
 * window, which the health score takes on every signal. The float sums are rebuilt from the
 * ring every `cap` pushes, so rounding cannot drift over a long run. */
struct metrics_track {
    metrics_acc all, roll;
    metrics_rec *ring;
    uint32_t cap, n, head, since_rebuild;
};

/* metrics_acc_add in reverse (r was added before). */
static void metrics_acc_sub(metrics_acc *a, const metrics_rec *r)
{
    a->n--;
    a->confusion[r->predicted][r->outcome]--;
    double b = 0;
    for (int k = 0; k < MODEL_CLASSES; k++) {
        double d = r->p[k] - (k == r->outcome ? 1.0 : 0.0);
        b += d * d;
    }
    a->brier_sum -= b;
    double po = r->p[r->outcome];
    a->ll_sum -= -log(po > METRICS_LL_EPS ? po : METRICS_LL_EPS);
    int bin = metrics_bin(r->confidence);
    a->bin_n[bin]--;
    a->bin_conf[bin] -= r->confidence;
    a->bin_hit[bin] -= r->predicted == r->outcome;
}

metrics_track *metrics_track_new(uint32_t window)
{
    metrics_track *t = xcalloc(1, sizeof *t);
    t->cap = window ? window : 1;
    t->ring = xcalloc(t->cap, sizeof *t->ring);
    return t;
}

void metrics_track_free(metrics_track *t)
{
    if (!t)
        return;
    free(t->ring);
    free(t);
}

void metrics_track_add(metrics_track *t, const metrics_rec *r)
{
    uint64_t before = t->all.n;
    metrics_acc_add(&t->all, r);
    if (t->all.n == before)
        return; /* invalid record */
    if (t->n < t->cap) {
        t->ring[(t->head + t->n) % t->cap] = *r;
        t->n++;
    } else {
        metrics_acc_sub(&t->roll, &t->ring[t->head]);
        t->ring[t->head] = *r;
        t->head = (t->head + 1) % t->cap;
    }
    metrics_acc_add(&t->roll, r);
    if (++t->since_rebuild >= t->cap) {
        t->since_rebuild = 0;
        memset(&t->roll, 0, sizeof t->roll);
        for (uint32_t i = 0; i < t->n; i++)
            metrics_acc_add(&t->roll, &t->ring[(t->head + i) % t->cap]);
    }
}

void metrics_track_all(const metrics_track *t, metrics_summary *s)
{
    metrics_acc_summary(&t->all, s);
}

void metrics_track_rolling(const metrics_track *t, metrics_summary *s)
{
    metrics_acc_summary(&t->roll, s);
}

/* ---- the board ------------------------------------------------------------------------ */

struct metrics_set {
    uint32_t nmodels;
    char (*names)[32];
    metrics_track *ensemble, **models, *base[METRICS_NBASELINES];
    uint64_t trades, wins;
    double gross_win, gross_loss;
};

metrics_set *metrics_set_new(uint32_t window, uint32_t nmodels, const char *const *names)
{
    metrics_set *m = xcalloc(1, sizeof *m);
    m->nmodels = nmodels;
    m->names = xcalloc(nmodels ? nmodels : 1, sizeof *m->names);
    m->models = xcalloc(nmodels ? nmodels : 1, sizeof *m->models);
    for (uint32_t i = 0; i < nmodels; i++) {
        snprintf(m->names[i], sizeof m->names[i], "%s", names[i]);
        m->models[i] = metrics_track_new(window);
    }
    m->ensemble = metrics_track_new(window);
    for (int b = 0; b < METRICS_NBASELINES; b++)
        m->base[b] = metrics_track_new(window);
    return m;
}

void metrics_set_free(metrics_set *m)
{
    if (!m)
        return;
    for (uint32_t i = 0; i < m->nmodels; i++)
        metrics_track_free(m->models[i]);
    for (int b = 0; b < METRICS_NBASELINES; b++)
        metrics_track_free(m->base[b]);
    metrics_track_free(m->ensemble);
    free(m->models);
    free(m->names);
    free(m);
}

void metrics_set_ensemble(metrics_set *m, const metrics_rec *r)
{
    metrics_track_add(m->ensemble, r);
}

void metrics_set_model(metrics_set *m, uint32_t i, const metrics_rec *r)
{
    if (i < m->nmodels)
        metrics_track_add(m->models[i], r);
}

void metrics_set_baseline(metrics_set *m, enum metrics_baseline b, const metrics_rec *r)
{
    if ((unsigned)b < METRICS_NBASELINES)
        metrics_track_add(m->base[b], r);
}

void metrics_set_trade(metrics_set *m, double net)
{
    if (!isfinite(net))
        return;
    m->trades++;
    if (net > 0) {
        m->wins++;
        m->gross_win += net;
    } else {
        m->gross_loss += -net;
    }
}

const metrics_track *metrics_set_ensemble_track(const metrics_set *m)
{
    return m->ensemble;
}

const metrics_track *metrics_set_model_track(const metrics_set *m, uint32_t i)
{
    return i < m->nmodels ? m->models[i] : NULL;
}

const metrics_track *metrics_set_baseline_track(const metrics_set *m, enum metrics_baseline b)
{
    return (unsigned)b < METRICS_NBASELINES ? m->base[b] : NULL;
}

static double metrics_clip01(double v)
{
    return v < 0 ? 0 : v > 1 ? 1 : v;
}

double metrics_set_health(const metrics_set *m)
{
    metrics_summary e, maj;
    metrics_track_rolling(m->ensemble, &e);
    metrics_track_rolling(m->base[METRICS_MAJORITY], &maj);
    if (e.n < 30 || maj.n < 30)
        return NAN;
    return 40 * metrics_clip01(0.5 + 2 * (e.accuracy - maj.accuracy)) +
           30 * metrics_clip01(1 - e.ece / 0.2) +
           30 * metrics_clip01(0.5 + (maj.log_loss - e.log_loss));
}

static cJSON *metrics_track_json(const metrics_track *t, bool split)
{
    metrics_summary all, roll;
    metrics_track_all(t, &all);
    metrics_track_rolling(t, &roll);
    cJSON *o = cJSON_CreateObject();
    if (split) {
        cJSON_AddItemToObject(o, "all_time", metrics_summary_json(&all));
    } else {
        metrics_summary_fill(o, &all);
    }
    cJSON_AddItemToObject(o, "rolling", metrics_summary_json(&roll));
    return o;
}

cJSON *metrics_set_json(const metrics_set *m)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "ensemble", metrics_track_json(m->ensemble, true));
    cJSON *models = cJSON_AddObjectToObject(o, "models");
    for (uint32_t i = 0; i < m->nmodels; i++)
        cJSON_AddItemToObject(models, m->names[i], metrics_track_json(m->models[i], false));
    cJSON *base = cJSON_AddObjectToObject(o, "baselines");
    cJSON_AddItemToObject(base, "majority", metrics_track_json(m->base[METRICS_MAJORITY], false));
    cJSON_AddItemToObject(base, "rules", metrics_track_json(m->base[METRICS_RULES], false));
    cJSON *tr = cJSON_AddObjectToObject(o, "traded");
    cJSON_AddNumberToObject(tr, "n", (double)m->trades);
    metrics_num(tr, "win_rate", m->trades ? (double)m->wins / (double)m->trades : NAN);
    metrics_num(tr, "profit_factor", m->gross_loss > 0 ? m->gross_win / m->gross_loss : NAN);
    metrics_num(o, "health", metrics_set_health(m));
    return o;
}

/* ---- export ------------------------------------------------------------------------- */

static void metrics_iso(int64_t ms, char *buf, size_t cap)
{
    time_t s = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    int frac = (int)(ms - (int64_t)s * 1000);
    struct tm tm;
    if (!gmtime_r(&s, &tm)) {
        snprintf(buf, cap, "%lld", (long long)ms);
        return;
    }
    snprintf(buf, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
}

/* Symbols are [A-Z0-9-] in practice; anything needing quotes is written without commas. */
static void metrics_csv_text(FILE *fp, const char *s)
{
    for (; *s; s++)
        if (*s != ',' && *s != '"' && *s != '\n' && *s != '\r')
            fputc(*s, fp);
}

int metrics_export_csv(FILE *fp, const metrics_signal_row *rows, size_t n)
{
    fprintf(fp, "id,time,symbol,horizon_end,action,p_buy,p_hold,p_sell,confidence,strength,"
                "outcome,result,return,scored,regime,source,mfe,mae,first_hit,traded\n");
    for (size_t i = 0; i < n; i++) {
        const metrics_signal_row *r = &rows[i];
        char t0[80], t1[80];
        metrics_iso(r->time_ms, t0, sizeof t0);
        metrics_iso(r->horizon_end_ms, t1, sizeof t1);
        fprintf(fp, "%llu,%s,", (unsigned long long)r->id, t0);
        metrics_csv_text(fp, r->symbol);
        fprintf(fp, ",%s,%s,%.17g,%.17g,%.17g,%.17g,%.17g,", t1, metrics_class_name(r->action),
                r->p[MODEL_BUY], r->p[MODEL_HOLD], r->p[MODEL_SELL], r->confidence,
                r->strength);
        if (r->scored)
            fprintf(fp, "%s,%s,%.17g,1,", metrics_class_name(r->outcome),
                    metrics_result_name(r->result), r->ret);
        else
            fputs(",,,0,", fp);
        metrics_csv_text(fp, r->regime);
        fputc(',', fp);
        metrics_csv_text(fp, r->source);
        if (r->scored)
            fprintf(fp, ",%.17g,%.17g,", r->mfe, r->mae);
        else
            fputs(",,,", fp);
        metrics_csv_text(fp, r->first_hit);
        fprintf(fp, ",%d\n", r->traded ? 1 : 0);
    }
    return ferror(fp) ? K_ERR : K_OK;
}

int metrics_export_json(FILE *fp, const metrics_signal_row *rows, size_t n)
{
    fputs("[", fp);
    for (size_t i = 0; i < n; i++) {
        const metrics_signal_row *r = &rows[i];
        char t0[80], t1[80];
        metrics_iso(r->time_ms, t0, sizeof t0);
        metrics_iso(r->horizon_end_ms, t1, sizeof t1);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "id", (double)r->id);
        cJSON_AddStringToObject(o, "time", t0);
        cJSON_AddStringToObject(o, "symbol", r->symbol);
        cJSON_AddStringToObject(o, "horizon_end", t1);
        cJSON_AddStringToObject(o, "action", metrics_class_name(r->action));
        metrics_num(o, "p_buy", r->p[MODEL_BUY]);
        metrics_num(o, "p_hold", r->p[MODEL_HOLD]);
        metrics_num(o, "p_sell", r->p[MODEL_SELL]);
        metrics_num(o, "confidence", r->confidence);
        metrics_num(o, "strength", r->strength);
        if (r->scored) {
            cJSON_AddStringToObject(o, "outcome", metrics_class_name(r->outcome));
            cJSON_AddStringToObject(o, "result", metrics_result_name(r->result));
            metrics_num(o, "return", r->ret);
        } else {
            cJSON_AddNullToObject(o, "outcome");
            cJSON_AddNullToObject(o, "result");
            cJSON_AddNullToObject(o, "return");
        }
        cJSON_AddBoolToObject(o, "scored", r->scored);
        cJSON_AddStringToObject(o, "regime", r->regime);
        cJSON_AddStringToObject(o, "source", r->source);
        if (r->scored) {
            metrics_num(o, "mfe", r->mfe);
            metrics_num(o, "mae", r->mae);
        } else {
            cJSON_AddNullToObject(o, "mfe");
            cJSON_AddNullToObject(o, "mae");
        }
        cJSON_AddStringToObject(o, "first_hit", r->first_hit);
        cJSON_AddBoolToObject(o, "traded", r->traded);
        char *s = cJSON_PrintUnformatted(o);
        fprintf(fp, "%s%s\n", i ? "," : "", s ? s : "{}");
        free(s);
        cJSON_Delete(o);
    }
    fputs("]\n", fp);
    return ferror(fp) ? K_ERR : K_OK;
}

/* ---- persistence (the engine's blob) ------------------------------------------------- */

#define METRICS_MAGIC 0x4B4D5452u /* "KMTR" */
#define METRICS_VERSION 1u

static void metrics_track_save(const metrics_track *t, model_blob *out)
{
    model_blob_put(out, &t->all, sizeof t->all);
    model_blob_put(out, &t->roll, sizeof t->roll);
    uint32_t h[4] = { t->cap, t->n, t->since_rebuild, 0 };
    model_blob_put(out, h, sizeof h);
    for (uint32_t i = 0; i < t->n; i++) /* oldest first */
        model_blob_put(out, &t->ring[(t->head + i) % t->cap], sizeof t->ring[0]);
}

static enum model_result metrics_track_load(metrics_track *t, const uint8_t *d, size_t len,
                                            size_t *off)
{
    metrics_acc all, roll;
    uint32_t h[4];
    if (model_blob_get(d, len, off, &all, sizeof all) != K_MODEL_OK ||
        model_blob_get(d, len, off, &roll, sizeof roll) != K_MODEL_OK ||
        model_blob_get(d, len, off, h, sizeof h) != K_MODEL_OK || h[0] != t->cap ||
        h[1] > t->cap || len - *off < (size_t)h[1] * sizeof t->ring[0])
        return K_MODEL_BAD_STATE;
    t->all = all;
    t->roll = roll;
    t->n = h[1];
    t->since_rebuild = h[2];
    t->head = 0;
    memcpy(t->ring, d + *off, (size_t)h[1] * sizeof t->ring[0]);
    *off += (size_t)h[1] * sizeof t->ring[0];
    return K_MODEL_OK;
}

void metrics_set_save(const metrics_set *m, model_blob *out)
{
    uint32_t h[2] = { METRICS_MAGIC, METRICS_VERSION };
    model_blob_put(out, h, sizeof h);
    uint32_t nm = m->nmodels;
    model_blob_put(out, &nm, sizeof nm);
    model_blob_put(out, &m->trades, sizeof m->trades);
    model_blob_put(out, &m->wins, sizeof m->wins);
    model_blob_put(out, &m->gross_win, sizeof m->gross_win);
    model_blob_put(out, &m->gross_loss, sizeof m->gross_loss);
    metrics_track_save(m->ensemble, out);
    for (uint32_t i = 0; i < m->nmodels; i++)
        metrics_track_save(m->models[i], out);
    for (int b = 0; b < METRICS_NBASELINES; b++)
        metrics_track_save(m->base[b], out);
}

enum model_result metrics_set_load(metrics_set *m, const uint8_t *d, size_t len)
{
    /* into a scratch set first: a blob that fails half-way leaves m as it was */
    const char *names[ENSEMBLE_MAX_MODELS_METRICS];
    for (uint32_t i = 0; i < m->nmodels && i < ENSEMBLE_MAX_MODELS_METRICS; i++)
        names[i] = m->names[i];
    if (m->nmodels > ENSEMBLE_MAX_MODELS_METRICS)
        return K_MODEL_BAD_STATE;
    metrics_set *t = metrics_set_new(m->ensemble->cap, m->nmodels, names);
    size_t off = 0;
    uint32_t h[2], nm;
    enum model_result r = K_MODEL_BAD_STATE;
    if (model_blob_get(d, len, &off, h, sizeof h) != K_MODEL_OK || h[0] != METRICS_MAGIC ||
        h[1] != METRICS_VERSION || model_blob_get(d, len, &off, &nm, sizeof nm) != K_MODEL_OK ||
        nm != m->nmodels ||
        model_blob_get(d, len, &off, &t->trades, sizeof t->trades) != K_MODEL_OK ||
        model_blob_get(d, len, &off, &t->wins, sizeof t->wins) != K_MODEL_OK ||
        model_blob_get(d, len, &off, &t->gross_win, sizeof t->gross_win) != K_MODEL_OK ||
        model_blob_get(d, len, &off, &t->gross_loss, sizeof t->gross_loss) != K_MODEL_OK ||
        metrics_track_load(t->ensemble, d, len, &off) != K_MODEL_OK)
        goto out;
    for (uint32_t i = 0; i < nm; i++)
        if (metrics_track_load(t->models[i], d, len, &off) != K_MODEL_OK)
            goto out;
    for (int b = 0; b < METRICS_NBASELINES; b++)
        if (metrics_track_load(t->base[b], d, len, &off) != K_MODEL_OK)
            goto out;
    if (off != len)
        goto out;
    /* swap the contents */
    metrics_set tmp = *m;
    *m = *t;
    *t = tmp;
    r = K_MODEL_OK;
out:
    metrics_set_free(t);
    return r;
}
