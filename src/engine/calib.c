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
    double y;     /* 0 or 1 */
    uint64_t seq; /* arrival number: identifies the pair in the sorted array */
} calib_pair;

/* An isotonic step function: nb blocks with score range [lo, hi] and value v, increasing. */
typedef struct calib_iso {
    uint32_t nb;
    double *lo, *hi, *v;
} calib_iso;

struct calib {
    enum calib_method method;
    uint32_t window, min_n, n, head; /* ring: oldest at head when full */
    uint64_t seq;
    calib_pair *ring;
    calib_pair *sorted; /* the n live pairs by (score, seq), kept sorted on every add */
    calib_pair *extra;  /* scratch: sorted + one test pair (Venn-Abers) */
    calib_iso iso, iso_va;
    double a, b; /* Platt */
    bool dirty;  /* pairs changed since the last fit (fits are lazy: on the next map) */
    /* The last isotonic fit's PAV history, one entry per point (run of equal scores): where the
     * point starts in sorted, the stack height after it and the top block after it. The sorted
     * pairs before `keep` are unchanged since that fit, so a refit resumes PAV there (see
     * calib_fit_sorted); keep = 0 when there is no usable history. */
    uint32_t keep, hist_n;
    uint32_t *h_start, *h_height;
    double *h_v, *h_w, *h_lo, *h_hi;
    double *sw; /* PAV block weights */
};

const char *calib_method_name(enum calib_method m)
{
    return m == CALIB_PLATT ? "platt" : "isotonic";
}

/* PAV with an explicit block stack; scratch arrays of n + 1 from the caller. */
static void calib_pav_into(const double *y, const double *w, size_t n, double *fit, size_t *start,
                           double *val, double *wt)
{
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
}

void calib_pav(const double *y, const double *w, size_t n, double *fit)
{
    size_t *start = xmalloc((n + 1) * sizeof *start);
    double *val = xmalloc((n + 1) * sizeof *val), *wt = xmalloc((n + 1) * sizeof *wt);
    calib_pav_into(y, w, n, fit, start, val, wt);
    free(start);
    free(val);
    free(wt);
}

/* Position of the first pair not ordered before (s, seq). */
static uint32_t calib_lower(const calib_pair *v, uint32_t n, double s, uint64_t seq)
{
    uint32_t lo = 0, hi = n;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (v[mid].s < s || (v[mid].s == s && v[mid].seq < seq))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Isotonic fit over k sorted pairs (equal scores pooled first: ties share one value). One sweep:
 * each run of equal scores enters PAV's block stack as one point (its mean, weight = its count)
 * and adjacent violators are pooled there; then neighbouring blocks of equal value join. The
 * arithmetic is calib_pav_into's, point for point, so the fit is the same to the bit (the stack
 * lives in iso itself and in c->sw: v = value, lo / hi = score range, sw = weight).
 *
 * With hist (the main fit over c->sorted) the sweep records, per point, the stack height and top
 * block after it, and starts at the first point that may differ from the last fit's (the one
 * holding pair keep - 1: a run ending there may have grown). The stack as it stood before that
 * point is rebuilt from the history: the block at level j is the top recorded at the last point
 * after which the height was j + 1 (a block changes only while it is the top, and the height
 * passes through every level on its way back up). So the resumed sweep does exactly the
 * operations of a full one on the same pairs and gives the same bits (test_calib compares it
 * with calib_pav on a sliding window). */
static void calib_fit_sorted(calib *c, const calib_pair *v, uint32_t k, calib_iso *iso, bool hist)
{
    double *val = iso->v, *lo = iso->lo, *hi = iso->hi, *wt = c->sw;
    uint32_t nb = 0, g = 0, i = 0;
    if (hist && c->keep > 0 && c->hist_n > 0) {
        uint32_t a = 0, b = c->hist_n; /* g: the last point starting at or before keep - 1 */
        while (b - a > 1) {
            uint32_t mid = (a + b) / 2;
            if (c->h_start[mid] <= c->keep - 1)
                a = mid;
            else
                b = mid;
        }
        g = a;
        i = c->h_start[g];
        if (g > 0) {
            nb = c->h_height[g - 1];
            uint32_t t = g - 1;
            for (uint32_t lev = nb; lev-- > 0;) {
                while (c->h_height[t] != lev + 1)
                    t--;
                val[lev] = c->h_v[t];
                wt[lev] = c->h_w[t];
                lo[lev] = c->h_lo[t];
                hi[lev] = c->h_hi[t];
            }
        }
    }
    for (; i < k; g++) {
        uint32_t j = i;
        double sum = 0, si = v[i].s;
        while (j < k && v[j].s == si)
            sum += v[j++].y;
        val[nb] = sum / (j - i);
        wt[nb] = j - i;
        lo[nb] = hi[nb] = si;
        nb++;
        while (nb > 1 && val[nb - 2] > val[nb - 1]) {
            double tw = wt[nb - 2] + wt[nb - 1];
            val[nb - 2] = tw > 0 ? (val[nb - 2] * wt[nb - 2] + val[nb - 1] * wt[nb - 1]) / tw
                                 : (val[nb - 2] + val[nb - 1]) / 2;
            wt[nb - 2] = tw;
            hi[nb - 2] = hi[nb - 1];
            nb--;
        }
        if (hist) {
            c->h_start[g] = i;
            c->h_height[g] = nb;
            c->h_v[g] = val[nb - 1];
            c->h_w[g] = wt[nb - 1];
            c->h_lo[g] = lo[nb - 1];
            c->h_hi[g] = hi[nb - 1];
        }
        i = j;
    }
    if (hist) {
        c->hist_n = g;
        c->keep = k; /* nothing changed since this fit */
    }
    uint32_t out = 0;
    for (uint32_t b = 0; b < nb; b++) {
        if (out && val[out - 1] == val[b]) {
            hi[out - 1] = hi[b];
            continue;
        }
        lo[out] = lo[b];
        hi[out] = hi[b];
        val[out] = val[b];
        out++;
    }
    iso->nb = out;
}

static double calib_iso_eval(const calib_iso *iso, double s)
{
    if (iso->nb == 0)
        return s;
    if (s <= iso->hi[0])
        return iso->v[0];
    if (s >= iso->lo[iso->nb - 1])
        return iso->v[iso->nb - 1];
    uint32_t lo = 0, hi = iso->nb - 1; /* the last block with lo <= s */
    while (hi - lo > 1) {
        uint32_t mid = (lo + hi) / 2;
        if (iso->lo[mid] <= s)
            lo = mid;
        else
            hi = mid;
    }
    if (s <= iso->hi[lo])
        return iso->v[lo];
    double t = (s - iso->hi[lo]) / (iso->lo[lo + 1] - iso->hi[lo]);
    return iso->v[lo] + t * (iso->v[lo + 1] - iso->v[lo]);
}

/* Platt scaling by Newton's method with Platt's smoothed targets (Lin, Lin & Weng 2007). */
static void calib_fit_platt(calib *c)
{
    double np = 0, nn = 0;
    for (uint32_t i = 0; i < c->n; i++) {
        if (c->sorted[i].y > 0.5)
            np++;
        else
            nn++;
    }
    double tp = (np + 1) / (np + 2), tn = 1 / (nn + 2);
    double a = 0, b = log((nn + 1) / (np + 1));
    for (int it = 0; it < 50; it++) {
        double h11 = 1e-12, h22 = 1e-12, h21 = 0, g1 = 0, g2 = 0;
        for (uint32_t i = 0; i < c->n; i++) {
            double s = c->sorted[i].s, t = c->sorted[i].y > 0.5 ? tp : tn;
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
        c->iso.nb = 0;
        c->a = 0;
        c->b = 0;
        return;
    }
    if (c->method == CALIB_PLATT)
        calib_fit_platt(c);
    else
        calib_fit_sorted(c, c->sorted, c->n, &c->iso, true);
}

static void calib_fit_if_dirty(calib *c)
{
    if (c->dirty) {
        calib_refit(c);
        c->dirty = false;
    }
}

static void calib_iso_alloc(calib_iso *iso, uint32_t n)
{
    iso->lo = xcalloc(n, sizeof(double));
    iso->hi = xcalloc(n, sizeof(double));
    iso->v = xcalloc(n, sizeof(double));
}

calib *calib_new(enum calib_method method, uint32_t window, uint32_t min_n)
{
    calib *c = xcalloc(1, sizeof *c);
    c->method = method;
    c->window = window < 2 ? 2 : window;
    c->min_n = min_n;
    uint32_t w2 = c->window + 2;
    c->ring = xcalloc(c->window, sizeof *c->ring);
    c->sorted = xcalloc(w2, sizeof *c->sorted);
    c->extra = xcalloc(w2, sizeof *c->extra);
    calib_iso_alloc(&c->iso, w2);
    calib_iso_alloc(&c->iso_va, w2);
    c->sw = xcalloc(w2, sizeof(double));
    c->h_start = xcalloc(w2, sizeof(uint32_t));
    c->h_height = xcalloc(w2, sizeof(uint32_t));
    c->h_v = xcalloc(w2, sizeof(double));
    c->h_w = xcalloc(w2, sizeof(double));
    c->h_lo = xcalloc(w2, sizeof(double));
    c->h_hi = xcalloc(w2, sizeof(double));
    return c;
}

void calib_free(calib *c)
{
    if (!c)
        return;
    free(c->ring);
    free(c->sorted);
    free(c->extra);
    free(c->iso.lo);
    free(c->iso.hi);
    free(c->iso.v);
    free(c->iso_va.lo);
    free(c->iso_va.hi);
    free(c->iso_va.v);
    free(c->sw);
    free(c->h_start);
    free(c->h_height);
    free(c->h_v);
    free(c->h_w);
    free(c->h_lo);
    free(c->h_hi);
    free(c);
}

/* Both keep c->keep at most the first position they change (pairs before it are untouched). */
static void calib_sorted_remove(calib *c, const calib_pair *p)
{
    uint32_t i = calib_lower(c->sorted, c->n, p->s, p->seq);
    if (i < c->n && c->sorted[i].seq == p->seq) {
        if (i < c->keep)
            c->keep = i;
        memmove(&c->sorted[i], &c->sorted[i + 1], (c->n - 1 - i) * sizeof *c->sorted);
        c->n--;
    }
}

static void calib_sorted_insert(calib *c, const calib_pair *p)
{
    uint32_t i = calib_lower(c->sorted, c->n, p->s, p->seq);
    if (i < c->keep)
        c->keep = i;
    memmove(&c->sorted[i + 1], &c->sorted[i], (c->n - i) * sizeof *c->sorted);
    c->sorted[i] = *p;
    c->n++;
}

void calib_add(calib *c, double score, bool correct)
{
    if (!isfinite(score))
        return;
    calib_pair p = { score, correct ? 1.0 : 0.0, c->seq++ };
    if (c->n == c->window) {
        calib_sorted_remove(c, &c->ring[c->head]);
        c->ring[c->head] = p;
        c->head = (c->head + 1) % c->window;
    } else {
        c->ring[(c->head + c->n) % c->window] = p;
    }
    calib_sorted_insert(c, &p);
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
    return calib_iso_eval(&c->iso, score);
}

void calib_interval(calib *c, double score, double *p0, double *p1)
{
    *p0 = 0;
    *p1 = 1;
    if (c->n < c->min_n || c->n == 0 || !isfinite(score))
        return;
    /* the test pair goes after every equal score: O(n) copy, O(n) PAV, twice */
    uint32_t at = calib_lower(c->sorted, c->n, score, UINT64_MAX);
    memcpy(c->extra, c->sorted, at * sizeof *c->extra);
    memcpy(c->extra + at + 1, c->sorted + at, (c->n - at) * sizeof *c->extra);
    for (int y = 0; y < 2; y++) {
        c->extra[at] = (calib_pair){ score, (double)y, UINT64_MAX };
        calib_fit_sorted(c, c->extra, c->n + 1, &c->iso_va, false);
        double p = calib_iso_eval(&c->iso_va, score);
        if (y == 0)
            *p0 = p;
        else
            *p1 = p;
    }
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
    while (c->n > keep) {
        calib_sorted_remove(c, &c->ring[c->head]);
        c->head = (c->head + 1) % c->window;
    }
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
    c->n = 0;
    c->seq = 0;
    for (uint32_t i = 0; i < h.n; i++) {
        if (c->ring[i].seq >= c->seq)
            c->seq = c->ring[i].seq + 1;
        calib_sorted_insert(c, &c->ring[i]);
    }
    c->method = h.method == CALIB_PLATT ? CALIB_PLATT : CALIB_ISOTONIC;
    c->min_n = h.min_n;
    c->dirty = true;
    return K_MODEL_OK;
}
