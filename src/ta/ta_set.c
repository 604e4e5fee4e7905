/* ta_set: many indicator instances fed the same bars, outputs concatenated; ta_chart: a set
 * attached to one (symbol, timeframe) series plus a bounded history ring for drawing.
 *
 * Both validate what comes in (finite fields, high >= low, volume >= 0; the chart also wants
 * strictly increasing open times) and leave their state untouched on a bad bar, so a bad
 * message cannot poison an indicator for the rest of a session. History is kept as float: it
 * is for drawing (7 significant digits), and it halves the memory of 700 series; the exact
 * doubles of the newest bar are in ta_chart_last(). Nothing allocates after creation. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kestrel/candles.h"
#include "kestrel/xmalloc.h"
#include "ta_impl.h"

ta_bar ta_bar_from_candle(const candle *c)
{
    const double scale = (double)KDEC_SCALE;
    return (ta_bar){ c->open_ms,         (double)c->o / scale, (double)c->h / scale,
                     (double)c->l / scale, (double)c->c / scale, (double)c->volume / scale };
}

struct ta_set {
    ta_ind **ind;
    uint32_t n, cap;
    uint32_t nout;
    uint32_t *first; /* first output of instance i */
    uint32_t *owner; /* instance of output k */
    uint32_t *local; /* index of output k within its instance */
    uint32_t out_cap;
};

static void set_grow_outputs(ta_set *s, uint32_t need)
{
    if (need <= s->out_cap)
        return;
    uint32_t cap = s->out_cap ? s->out_cap : 16;
    while (cap < need)
        cap *= 2;
    s->owner = xrealloc(s->owner, cap * sizeof(*s->owner));
    s->local = xrealloc(s->local, cap * sizeof(*s->local));
    s->out_cap = cap;
}

int ta_set_add(ta_set *s, const char *spec, char *err, size_t errlen)
{
    if (s->n >= TA_SET_MAX) {
        snprintf(err, errlen, "too many indicators (at most %d)", TA_SET_MAX);
        return K_ERR;
    }
    ta_ind *ind = ta_ind_new(spec, err, errlen);
    if (!ind)
        return K_ERR;
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 8;
        s->ind = xrealloc(s->ind, s->cap * sizeof(*s->ind));
        s->first = xrealloc(s->first, s->cap * sizeof(*s->first));
    }
    uint32_t no = ta_ind_outputs(ind);
    set_grow_outputs(s, s->nout + no);
    s->ind[s->n] = ind;
    s->first[s->n] = s->nout;
    for (uint32_t k = 0; k < no; k++) {
        s->owner[s->nout + k] = s->n;
        s->local[s->nout + k] = k;
    }
    s->nout += no;
    s->n++;
    return K_OK;
}

ta_set *ta_set_new(const char *specs, char *err, size_t errlen)
{
    ta_set *s = xcalloc(1, sizeof(*s));
    const char *p = specs ? specs : "";
    while (*p) {
        size_t len = strcspn(p, ", \t\n");
        if (len) {
            char tok[TA_SPEC_MAX];
            if (len >= sizeof(tok)) {
                snprintf(err, errlen, "indicator spec too long: \"%.40s...\"", p);
                ta_set_free(s);
                return NULL;
            }
            memcpy(tok, p, len);
            tok[len] = 0;
            if (ta_set_add(s, tok, err, errlen) != K_OK) {
                ta_set_free(s);
                return NULL;
            }
        }
        p += len;
        if (*p)
            p++;
    }
    return s;
}

void ta_set_free(ta_set *s)
{
    if (!s)
        return;
    for (uint32_t i = 0; i < s->n; i++)
        ta_ind_free(s->ind[i]);
    free(s->ind);
    free(s->first);
    free(s->owner);
    free(s->local);
    free(s);
}

void ta_set_reset(ta_set *s)
{
    for (uint32_t i = 0; i < s->n; i++)
        ta_ind_reset(s->ind[i]);
}

static bool bar_ok(const ta_bar *b)
{
    return b && isfinite(b->o) && isfinite(b->h) && isfinite(b->l) && isfinite(b->c) &&
           isfinite(b->v) && b->h >= b->l && b->v >= 0;
}

static void all_nan(double *out, uint32_t n)
{
    for (uint32_t k = 0; k < n; k++)
        out[k] = NAN;
}

int ta_set_update(ta_set *s, const ta_bar *bar, double *out)
{
    if (!bar_ok(bar)) {
        all_nan(out, s->nout);
        return K_ERR;
    }
    for (uint32_t i = 0; i < s->n; i++)
        ta_ind_update(s->ind[i], bar, out + s->first[i]);
    return K_OK;
}

int ta_set_peek(const ta_set *s, const ta_bar *bar, double *out)
{
    if (!bar_ok(bar)) {
        all_nan(out, s->nout);
        return K_ERR;
    }
    for (uint32_t i = 0; i < s->n; i++)
        ta_ind_peek(s->ind[i], bar, out + s->first[i]);
    return K_OK;
}

uint32_t ta_set_count(const ta_set *s)
{
    return s->n;
}
ta_ind *ta_set_at(const ta_set *s, uint32_t i)
{
    return i < s->n ? s->ind[i] : NULL;
}
uint32_t ta_set_outputs(const ta_set *s)
{
    return s->nout;
}
const char *ta_set_output_name(const ta_set *s, uint32_t k)
{
    return k < s->nout ? ta_ind_output_name(s->ind[s->owner[k]], s->local[k]) : NULL;
}
uint32_t ta_set_output_instance(const ta_set *s, uint32_t k)
{
    return k < s->nout ? s->owner[k] : UINT32_MAX;
}
const ta_output_info *ta_set_output_info(const ta_set *s, uint32_t k)
{
    return k < s->nout ? &ta_ind_info(s->ind[s->owner[k]])->outputs[s->local[k]] : NULL;
}
static int set_output_shift(const ta_set *s, uint32_t k)
{
    return k < s->nout ? ta_ind_output_shift(s->ind[s->owner[k]], s->local[k]) : 0;
}
size_t ta_set_memory(const ta_set *s)
{
    size_t m = sizeof(*s) + s->cap * (sizeof(*s->ind) + sizeof(*s->first)) +
               s->out_cap * (sizeof(*s->owner) + sizeof(*s->local));
    for (uint32_t i = 0; i < s->n; i++)
        m += ta_ind_memory(s->ind[i]);
    return m;
}

/* ---- chart ------------------------------------------------------------------------------- */

struct ta_chart {
    ta_set *set;
    double *last;    /* nout */
    float *hist;     /* cap rows of nout */
    int64_t *times;  /* cap */
    uint32_t cap, head, len; /* head: row the next bar goes to */
    uint64_t bars;
    int64_t last_t;
};

ta_chart *ta_chart_new(const char *specs, uint32_t history_cap, char *err, size_t errlen)
{
    if (history_cap > TA_HISTORY_MAX) {
        snprintf(err, errlen, "history of %u bars is over the limit of %d", history_cap,
                 TA_HISTORY_MAX);
        return NULL;
    }
    ta_set *set = ta_set_new(specs, err, errlen);
    if (!set)
        return NULL;
    ta_chart *c = xcalloc(1, sizeof(*c));
    c->set = set;
    uint32_t n = set->nout;
    c->last = xmalloc((n ? n : 1) * sizeof(double));
    c->cap = history_cap;
    if (history_cap) {
        c->hist = xmalloc((size_t)history_cap * (n ? n : 1) * sizeof(float));
        c->times = xmalloc((size_t)history_cap * sizeof(int64_t));
    }
    ta_chart_reset(c);
    return c;
}

void ta_chart_free(ta_chart *c)
{
    if (!c)
        return;
    ta_set_free(c->set);
    free(c->last);
    free(c->hist);
    free(c->times);
    free(c);
}

void ta_chart_reset(ta_chart *c)
{
    ta_set_reset(c->set);
    all_nan(c->last, c->set->nout);
    c->head = c->len = 0;
    c->bars = 0;
    c->last_t = INT64_MIN;
}

int ta_chart_on_bar(ta_chart *c, const ta_bar *bar)
{
    if (!bar_ok(bar) || (c->bars && bar->t <= c->last_t))
        return K_ERR;
    uint32_t n = c->set->nout;
    ta_set_update(c->set, bar, c->last);
    c->last_t = bar->t;
    c->bars++;
    if (c->cap) {
        float *row = c->hist + (size_t)c->head * n;
        for (uint32_t k = 0; k < n; k++)
            row[k] = (float)c->last[k];
        c->times[c->head] = bar->t;
        c->head = c->head + 1 == c->cap ? 0 : c->head + 1;
        if (c->len < c->cap)
            c->len++;
    }
    return K_OK;
}

int ta_chart_peek(const ta_chart *c, const ta_bar *forming, double *out)
{
    if (c->bars && forming && forming->t <= c->last_t) {
        all_nan(out, c->set->nout);
        return K_ERR;
    }
    return ta_set_peek(c->set, forming, out);
}

const ta_set *ta_chart_set(const ta_chart *c)
{
    return c->set;
}
uint32_t ta_chart_instances(const ta_chart *c)
{
    return c->set->n;
}
const char *ta_chart_instance_spec(const ta_chart *c, uint32_t i)
{
    return i < c->set->n ? ta_ind_spec(c->set->ind[i]) : NULL;
}
const ta_info *ta_chart_instance_info(const ta_chart *c, uint32_t i)
{
    return i < c->set->n ? ta_ind_info(c->set->ind[i]) : NULL;
}
uint32_t ta_chart_outputs(const ta_chart *c)
{
    return c->set->nout;
}
const char *ta_chart_output_name(const ta_chart *c, uint32_t k)
{
    return ta_set_output_name(c->set, k);
}
uint32_t ta_chart_output_instance(const ta_chart *c, uint32_t k)
{
    return ta_set_output_instance(c->set, k);
}
const ta_output_info *ta_chart_output_info(const ta_chart *c, uint32_t k)
{
    return ta_set_output_info(c->set, k);
}
enum ta_kind ta_chart_output_kind(const ta_chart *c, uint32_t k)
{
    const ta_output_info *o = ta_set_output_info(c->set, k);
    return o ? o->kind : TA_OVERLAY;
}
int ta_chart_output_shift(const ta_chart *c, uint32_t k)
{
    return set_output_shift(c->set, k);
}
const double *ta_chart_output_levels(const ta_chart *c, uint32_t k, uint32_t *n)
{
    const ta_output_info *o = ta_set_output_info(c->set, k);
    *n = o ? o->nlevels : 0;
    return o ? o->levels : NULL;
}
const double *ta_chart_last(const ta_chart *c)
{
    return c->last;
}
uint64_t ta_chart_bars(const ta_chart *c)
{
    return c->bars;
}
int64_t ta_chart_last_time(const ta_chart *c)
{
    return c->last_t;
}
uint32_t ta_chart_history_cap(const ta_chart *c)
{
    return c->cap;
}
uint32_t ta_chart_history_len(const ta_chart *c)
{
    return c->len;
}
static uint32_t hist_row(const ta_chart *c, uint32_t i)
{
    /* oldest kept row: head - len (mod cap) */
    uint32_t r = c->head + c->cap - c->len + i;
    return r >= c->cap ? r - c->cap : r;
}
double ta_chart_history(const ta_chart *c, uint32_t k, uint32_t i)
{
    if (i >= c->len || k >= c->set->nout)
        return NAN;
    return c->hist[(size_t)hist_row(c, i) * c->set->nout + k];
}
int64_t ta_chart_history_time(const ta_chart *c, uint32_t i)
{
    return i < c->len ? c->times[hist_row(c, i)] : INT64_MIN;
}
size_t ta_chart_memory(const ta_chart *c)
{
    uint32_t n = c->set->nout ? c->set->nout : 1;
    return sizeof(*c) + ta_set_memory(c->set) + n * sizeof(double) +
           (size_t)c->cap * (n * sizeof(float) + sizeof(int64_t));
}
