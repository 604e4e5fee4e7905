/* Calibration of the engine's confidence: owns a ring of recent (score, correct) pairs, the
 * fitted isotonic step function (block bounds and values) or the Platt parameters, and scratch
 * buffers for the Venn-Abers interval. Fits are lazy (on the first map after new pairs): the
 * window is small (500) and labels arrive at most once per signal interval. */
#include "kestrel/calib.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kestrel/xmalloc.h"

#define CALIB_MAGIC 0x4B43414Cu /* "KCAL" */
#define CALIB_VERSION 1u

typedef struct calib_pair {
    double s;
    double y; /* 0 or 1 */
} calib_pair;

struct calib {
    enum calib_method method;
    uint32_t window, min_n, n, head; /* ring: oldest at head when full */
    calib_pair *ring;
    /* isotonic fit: nb blocks, x range and value each, increasing x */
    uint32_t nb;
    double *bx_lo, *bx_hi, *bv;
    double a, b; /* Platt */
    bool dirty;  /* pairs changed since the last fit (fits are lazy: on the next map) */
    calib_pair *sorted; /* scratch: window + 1 */
    double *sy, *sw, *sfit;
};

const char *calib_method_name(enum calib_method m)
{
    return m == CALIB_PLATT ? "platt" : "isotonic";
}

void calib_pav(const double *y, const double *w, size_t n, double *fit)
{
    /* stack of blocks: value, weight, length, in place over fit[] with index arrays */
    size_t *start = xmalloc((n + 1) * sizeof *start);
    double *val = xmalloc((n + 1) * sizeof *val), *wt = xmalloc((n + 1) * sizeof *wt);
    size_t nb = 0;
    for (size_t i = 0; i < n; i++) {
        start[nb] = i;
        val[nb] = y[i];
        wt[nb] = w ? w[i] : 1.0;
        nb++;
        while (nb > 1 && val[nb - 2] > val[nb - 1]) {
            double tw = wt[nb - 2] + wt[nb - 1];
            val[nb - 2] = tw > 0 ? (val[nb - 2] * wt[nb - 2] + val[nb - 1] * wt[nb - 1]) / tw
                                 : (val[nb - 2] + val[nb - 1]) / 2;
            wt[nb - 2] = tw;
            nb--;
        }
    }
    for (size_t b = 0; b < nb; b++) {
        size_t end = b + 1 < nb ? start[b + 1] : n;
        for (size_t i = start[b]; i < end; i++)
            fit[i] = val[b];
    }
    free(start);
    free(val);
    free(wt);
}

static int calib_cmp(const void *a, const void *b)
{
    double x = ((const calib_pair *)a)->s, y = ((const calib_pair *)b)->s;
    return x < y ? -1 : x > y;
}

/* Sorted copy of the ring (plus an optional extra pair) into c->sorted; returns the count. */
static uint32_t calib_sorted(calib *c, const calib_pair *extra)
{
    uint32_t k = 0;
    for (uint32_t i = 0; i < c->n; i++)
        c->sorted[k++] = c->ring[(c->head + i) % c->window];
    if (extra)
        c->sorted[k++] = *extra;
    qsort(c->sorted, k, sizeof *c->sorted, calib_cmp);
    return k;
}

/* PAV over c->sorted[0..k) with equal scores pooled first (ties must share one value). */
static void calib_fit_sorted(calib *c, uint32_t k)
{
    uint32_t m = 0;
    for (uint32_t i = 0; i < k;) {
        uint32_t j = i;
        double sum = 0;
        while (j < k && c->sorted[j].s == c->sorted[i].s)
            sum += c->sorted[j++].y;
        c->sy[m] = sum / (j - i);
        c->sw[m] = j - i;
        c->bx_lo[m] = c->bx_hi[m] = c->sorted[i].s;
        m++;
        i = j;
    }
    calib_pav(c->sy, c->sw, m, c->sfit);
    /* merge equal fitted values into blocks */
    uint32_t nb = 0;
    for (uint32_t i = 0; i < m; i++) {
        if (nb && c->bv[nb - 1] == c->sfit[i]) {
            c->bx_hi[nb - 1] = c->bx_hi[i];
            continue;
        }
        c->bx_lo[nb] = c->bx_lo[i];
        c->bx_hi[nb] = c->bx_hi[i];
        c->bv[nb] = c->sfit[i];
        nb++;
    }
    c->nb = nb;
}

static double calib_iso_eval(const calib *c, double s)
{
    if (c->nb == 0)
        return s;
    if (s <= c->bx_hi[0])
        return c->bv[0];
    if (s >= c->bx_lo[c->nb - 1])
        return c->bv[c->nb - 1];
    uint32_t lo = 0, hi = c->nb - 1; /* find the last block with bx_lo <= s */
    while (hi - lo > 1) {
        uint32_t mid = (lo + hi) / 2;
        if (c->bx_lo[mid] <= s)
            lo = mid;
        else
            hi = mid;
    }
    if (s <= c->bx_hi[lo])
        return c->bv[lo];
    double t = (s - c->bx_hi[lo]) / (c->bx_lo[lo + 1] - c->bx_hi[lo]);
    return c->bv[lo] + t * (c->bv[lo + 1] - c->bv[lo]);
}

/* Platt scaling by Newton's method with Platt's smoothed targets (Lin, Lin & Weng 2007). */
static void calib_fit_platt(calib *c)
{
    double np = 0, nn = 0;
    for (uint32_t i = 0; i < c->n; i++) {
        if (c->ring[i].y > 0.5)
            np++;
        else
            nn++;
    }
    double tp = (np + 1) / (np + 2), tn = 1 / (nn + 2);
    double a = 0, b = log((nn + 1) / (np + 1));
    for (int it = 0; it < 50; it++) {
        double h11 = 1e-12, h22 = 1e-12, h21 = 0, g1 = 0, g2 = 0;
        for (uint32_t i = 0; i < c->n; i++) {
            double s = c->ring[i].s, t = c->ring[i].y > 0.5 ? tp : tn;
            double f = a * s + b;
            double p = f >= 0 ? exp(-f) / (1 + exp(-f)) : 1 / (1 + exp(f));
            double q = 1 - p, d2 = p * q;
            h11 += s * s * d2;
            h22 += d2;
            h21 += s * d2;
            double d1 = t - p;
            g1 += s * d1;
            g2 += d1;
        }
        if (fabs(g1) < 1e-9 && fabs(g2) < 1e-9)
            break;
        double det = h11 * h22 - h21 * h21;
        if (det == 0)
            break;
        double da = -(h22 * g1 - h21 * g2) / det, db = -(-h21 * g1 + h11 * g2) / det;
        a += da;
        b += db;
        if (fabs(da) < 1e-10 && fabs(db) < 1e-10)
            break;
    }
    c->a = a;
    c->b = b;
}

static void calib_refit(calib *c)
{
    if (c->n == 0) {
        c->nb = 0;
        c->a = 0;
        c->b = 0;
        return;
    }
    if (c->method == CALIB_PLATT)
        calib_fit_platt(c);
    else
        calib_fit_sorted(c, calib_sorted(c, NULL));
}

static void calib_fit_if_dirty(calib *c)
{
    if (c->dirty) {
        calib_refit(c);
        c->dirty = false;
    }
}

calib *calib_new(enum calib_method method, uint32_t window, uint32_t min_n)
{
    calib *c = xcalloc(1, sizeof *c);
    c->method = method;
    c->window = window < 2 ? 2 : window;
    c->min_n = min_n;
    c->ring = xcalloc(c->window, sizeof *c->ring);
    c->sorted = xcalloc(c->window + 1, sizeof *c->sorted);
    c->bx_lo = xcalloc(c->window + 1, sizeof(double));
    c->bx_hi = xcalloc(c->window + 1, sizeof(double));
    c->bv = xcalloc(c->window + 1, sizeof(double));
    c->sy = xcalloc(c->window + 1, sizeof(double));
    c->sw = xcalloc(c->window + 1, sizeof(double));
    c->sfit = xcalloc(c->window + 1, sizeof(double));
    return c;
}

void calib_free(calib *c)
{
    if (!c)
        return;
    free(c->ring);
    free(c->sorted);
    free(c->bx_lo);
    free(c->bx_hi);
    free(c->bv);
    free(c->sy);
    free(c->sw);
    free(c->sfit);
    free(c);
}

void calib_add(calib *c, double score, bool correct)
{
    if (!isfinite(score))
        return;
    calib_pair p = { score, correct ? 1.0 : 0.0 };
    if (c->n < c->window) {
        c->ring[(c->head + c->n) % c->window] = p;
        c->n++;
    } else {
        c->ring[c->head] = p;
        c->head = (c->head + 1) % c->window;
    }
    c->dirty = true;
}

double calib_map(calib *c, double score, bool *calibrated)
{
    calib_fit_if_dirty(c);
    bool ok = c->n >= c->min_n && c->n > 0 && isfinite(score);
    if (calibrated)
        *calibrated = ok;
    if (!ok)
        return score;
    if (c->method == CALIB_PLATT) {
        double f = c->a * score + c->b;
        return f >= 0 ? exp(-f) / (1 + exp(-f)) : 1 / (1 + exp(f));
    }
    return calib_iso_eval(c, score);
}

void calib_interval(calib *c, double score, double *p0, double *p1)
{
    *p0 = 0;
    *p1 = 1;
    if (c->n < c->min_n || c->n == 0 || !isfinite(score))
        return;
    calib_fit_if_dirty(c);
    /* the fit scratch is reused, so save and restore the live isotonic blocks */
    uint32_t nb = c->nb;
    double *lo = xmalloc((nb + 1) * sizeof(double)), *hi = xmalloc((nb + 1) * sizeof(double));
    double *v = xmalloc((nb + 1) * sizeof(double));
    memcpy(lo, c->bx_lo, nb * sizeof(double));
    memcpy(hi, c->bx_hi, nb * sizeof(double));
    memcpy(v, c->bv, nb * sizeof(double));
    for (int y = 0; y < 2; y++) {
        calib_pair extra = { score, (double)y };
        calib_fit_sorted(c, calib_sorted(c, &extra));
        double p = calib_iso_eval(c, score);
        if (y == 0)
            *p0 = p;
        else
            *p1 = p;
    }
    memcpy(c->bx_lo, lo, nb * sizeof(double));
    memcpy(c->bx_hi, hi, nb * sizeof(double));
    memcpy(c->bv, v, nb * sizeof(double));
    c->nb = nb;
    free(lo);
    free(hi);
    free(v);
}

uint32_t calib_n(const calib *c)
{
    return c->n;
}

uint32_t calib_min_n(const calib *c)
{
    return c->min_n;
}

enum calib_method calib_get_method(const calib *c)
{
    return c->method;
}

void calib_platt_params(calib *c, double *a, double *b)
{
    calib_fit_if_dirty(c);
    *a = c->a;
    *b = c->b;
}

void calib_keep_recent(calib *c, uint32_t keep)
{
    if (keep >= c->n)
        return;
    c->head = (c->head + (c->n - keep)) % c->window;
    c->n = keep;
    c->dirty = true;
}

struct calib_header {
    uint32_t magic, version, method, window, min_n, n;
};

void calib_save(const calib *c, model_blob *out)
{
    struct calib_header h = { CALIB_MAGIC, CALIB_VERSION, c->method, c->window, c->min_n, c->n };
    model_blob_put(out, &h, sizeof h);
    for (uint32_t i = 0; i < c->n; i++)
        model_blob_put(out, &c->ring[(c->head + i) % c->window], sizeof(calib_pair));
}

enum model_result calib_load(calib *c, const uint8_t *data, size_t len)
{
    struct calib_header h;
    size_t off = 0;
    if (model_blob_get(data, len, &off, &h, sizeof h) != K_MODEL_OK || h.magic != CALIB_MAGIC ||
        h.version != CALIB_VERSION || h.window != c->window || h.n > c->window ||
        len != sizeof h + (size_t)h.n * sizeof(calib_pair))
        return K_MODEL_BAD_STATE;
    memcpy(c->ring, data + off, (size_t)h.n * sizeof(calib_pair));
    c->head = 0;
    c->n = h.n;
    c->method = h.method == CALIB_PLATT ? CALIB_PLATT : CALIB_ISOTONIC;
    c->min_n = h.min_n;
    c->dirty = true;
    return K_MODEL_OK;
}
