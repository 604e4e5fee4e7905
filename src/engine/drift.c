/* Drift detectors on a loss stream (see drift.h): Page-Hinkley and ADWIN. Each owns nothing but
 * its struct. */
#include "kestrel/drift.h"

#include <math.h>
#include <string.h>

void drift_init(drift *d, double delta, double lambda, uint32_t min_n)
{
    *d = (drift){ .delta = delta, .lambda = lambda, .min_n = min_n };
}

void drift_init_default(drift *d)
{
    drift_init(d, 0.05, 20.0, 30);
}

static void drift_restart(drift *d)
{
    d->n = 0;
    d->mean = d->cum = d->min_cum = 0;
}

bool drift_add(drift *d, double x)
{
    if (!isfinite(x))
        return false;
    d->n++;
    d->total++;
    d->mean += (x - d->mean) / (double)d->n;
    d->cum += x - d->mean - d->delta;
    if (d->cum < d->min_cum)
        d->min_cum = d->cum;
    if (d->n >= d->min_n && d->cum - d->min_cum > d->lambda) {
        d->detections++;
        d->last_detection_at = d->total;
        drift_restart(d);
        return true;
    }
    return false;
}

double drift_stat(const drift *d)
{
    return d->cum - d->min_cum;
}

/* ---- ADWIN ---------------------------------------------------------------------------- */

const char *drift_method_name(enum drift_method m)
{
    return m == DRIFT_ADWIN ? "adwin" : "page_hinkley";
}

int drift_method_parse(const char *s, enum drift_method *out)
{
    if (!s)
        return K_ERR;
    if (!strcmp(s, "page_hinkley") || !strcmp(s, "ph"))
        *out = DRIFT_PAGE_HINKLEY;
    else if (!strcmp(s, "adwin"))
        *out = DRIFT_ADWIN;
    else
        return K_ERR;
    return K_OK;
}

void adwin_init(adwin *a, double delta, uint32_t clock, uint32_t min_len)
{
    memset(a, 0, sizeof *a);
    a->delta = delta;
    a->clock = clock ? clock : 1;
    a->min_len = min_len;
}

void adwin_init_default(adwin *a)
{
    adwin_init(a, 0.002, 32, 5);
}

double adwin_mean(const adwin *a)
{
    return a->width ? a->total / (double)a->width : NAN;
}

static void adwin_row_pop_front(adwin_row *r, uint32_t k)
{
    for (uint32_t i = k; i < r->cnt; i++) {
        r->sum[i - k] = r->sum[i];
        r->var[i - k] = r->var[i];
    }
    r->cnt -= k;
}

/* Merges the two oldest buckets of every row holding more than ADWIN_M. */
static void adwin_compress(adwin *a)
{
    for (uint32_t r = 0; r < a->nrows; r++) {
        adwin_row *row = &a->rows[r];
        if (row->cnt <= ADWIN_M)
            break;
        double n = ldexp(1.0, (int)r), u0 = row->sum[0] / n, u1 = row->sum[1] / n;
        double s = row->sum[0] + row->sum[1];
        double v = row->var[0] + row->var[1] + n * n * (u0 - u1) * (u0 - u1) / (2 * n);
        adwin_row_pop_front(row, 2);
        if (r + 1 == ADWIN_ROWS) { /* cannot happen before 2^40 samples: the oldest goes */
            a->width -= (uint64_t)(2 * n);
            a->total -= s;
            continue;
        }
        if (r + 1 == a->nrows)
            a->nrows++;
        adwin_row *up = &a->rows[r + 1];
        up->sum[up->cnt] = s;
        up->var[up->cnt] = v;
        up->cnt++;
    }
}

/* Drops the oldest bucket. */
static void adwin_drop_oldest(adwin *a)
{
    while (a->nrows && a->rows[a->nrows - 1].cnt == 0)
        a->nrows--;
    if (!a->nrows)
        return;
    uint32_t r = a->nrows - 1;
    adwin_row *row = &a->rows[r];
    double n1 = ldexp(1.0, (int)r), s = row->sum[0], v = row->var[0];
    adwin_row_pop_front(row, 1);
    a->width -= (uint64_t)n1;
    a->total -= s;
    if (a->width == 0) {
        a->total = a->variance = 0;
    } else {
        double w = (double)a->width, u1 = s / n1, d = u1 - a->total / w;
        a->variance -= v + n1 * w * d * d / (n1 + w);
        if (a->variance < 0)
            a->variance = 0;
    }
    if (row->cnt == 0)
        a->nrows--;
}

/* One pass over the cuts, oldest bucket first: true (and the means) at the first cut that
 * says the two parts differ. */
static bool adwin_cut(const adwin *a, double *u_old, double *u_new)
{
    double n = (double)a->width, n0 = 0, n1 = n, s0 = 0, s1 = a->total;
    double dd = log(2.0 * log(n) / a->delta), v = a->variance / n, ml = (double)a->min_len;
    for (uint32_t rr = a->nrows; rr-- > 0;) {
        const adwin_row *row = &a->rows[rr];
        double size = ldexp(1.0, (int)rr);
        for (uint32_t k = 0; k < row->cnt; k++) {
            n0 += size;
            n1 -= size;
            s0 += row->sum[k];
            s1 -= row->sum[k];
            if (n1 <= ml)
                return false;
            if (n0 <= ml)
                continue;
            double m = 1.0 / (n0 - ml + 1) + 1.0 / (n1 - ml + 1);
            double eps = sqrt(2 * m * v * dd) + 2.0 / 3.0 * dd * m;
            if (fabs(s0 / n0 - s1 / n1) > eps) {
                *u_old = s0 / n0;
                *u_new = s1 / n1;
                return true;
            }
        }
    }
    return false;
}

bool adwin_add(adwin *a, double x)
{
    if (!isfinite(x))
        return false;
    a->width++;
    if (a->width > 1) {
        double w = (double)a->width, d = x - a->total / (w - 1);
        a->variance += (w - 1) * d * d / w;
    }
    a->total += x;
    if (a->nrows == 0)
        a->nrows = 1;
    adwin_row *r0 = &a->rows[0];
    r0->sum[r0->cnt] = x;
    r0->var[r0->cnt] = 0;
    r0->cnt++;
    adwin_compress(a);
    a->t++;
    if (a->t % a->clock != 0 || a->width <= 2 * (uint64_t)a->min_len + 2)
        return false;
    bool change = false;
    double uo, un;
    while (a->width > 2 * (uint64_t)a->min_len + 2 && adwin_cut(a, &uo, &un)) {
        if (!change) {
            a->last_old_mean = uo;
            a->last_new_mean = un;
        }
        change = true;
        adwin_drop_oldest(a);
    }
    if (change)
        a->detections++;
    return change;
}
