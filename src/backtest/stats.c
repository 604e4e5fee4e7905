/* Backtest statistics: the numbers a report needs to say honestly whether there is an edge.
 * Everything here is a pure function of its inputs (the bootstrap's randomness comes from the
 * caller's seed through a local splitmix64), so a report reproduces byte for byte.
 *
 * References: Politis & Romano (1994) stationary bootstrap; Kunsch (1989) moving blocks;
 * Bailey & Lopez de Prado (2012) PSR and (2014) "The Deflated Sharpe Ratio"; Bailey, Borwein,
 * Lopez de Prado & Zhu (2017) "The Probability of Backtest Overfitting" (CSCV). */
#include "kestrel/bt_stats.h"

#include "kestrel/xmalloc.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *bt_stats_strerror(enum bt_stats_result r)
{
    switch (r) {
    case BT_STATS_OK: return "ok";
    case BT_STATS_TOO_FEW: return "too few observations";
    case BT_STATS_BAD_INPUT: return "bad input (NaN, or a parameter out of range)";
    }
    return "unknown statistics result";
}

/* ---------------------------------------------------------------- descriptive */

double bt_mean(const double *x, size_t n)
{
    if (n < 1)
        return NAN;
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += x[i];
    return s / (double)n;
}

double bt_stddev(const double *x, size_t n)
{
    if (n < 2)
        return NAN;
    double m = bt_mean(x, n), s = 0;
    for (size_t i = 0; i < n; i++)
        s += (x[i] - m) * (x[i] - m);
    return sqrt(s / (double)(n - 1));
}

static double bt_central(const double *x, size_t n, int k)
{
    double m = bt_mean(x, n), s = 0;
    for (size_t i = 0; i < n; i++)
        s += pow(x[i] - m, k);
    return s / (double)n;
}

double bt_skewness(const double *x, size_t n)
{
    if (n < 2)
        return NAN;
    double m2 = bt_central(x, n, 2);
    return m2 > 0 ? bt_central(x, n, 3) / pow(m2, 1.5) : 0.0;
}

double bt_kurtosis(const double *x, size_t n)
{
    if (n < 2)
        return NAN;
    double m2 = bt_central(x, n, 2);
    return m2 > 0 ? bt_central(x, n, 4) / (m2 * m2) : 3.0;
}

static double bt_ratio(double num, double den)
{
    if (den > 0)
        return num / den;
    return num > 0 ? INFINITY : num < 0 ? -INFINITY : 0.0;
}

double bt_sharpe(const double *r, size_t n)
{
    if (n < 2)
        return NAN;
    return bt_ratio(bt_mean(r, n), bt_stddev(r, n));
}

double bt_sortino(const double *r, size_t n, double target)
{
    if (n < 2)
        return NAN;
    double d = 0;
    for (size_t i = 0; i < n; i++)
        if (r[i] < target)
            d += (r[i] - target) * (r[i] - target);
    return bt_ratio(bt_mean(r, n) - target, sqrt(d / (double)n));
}

double bt_max_drawdown(const double *equity, size_t n)
{
    double peak = n ? equity[0] : 0, dd = 0;
    for (size_t i = 1; i < n; i++) {
        if (equity[i] > peak)
            peak = equity[i];
        else if (peak > 0 && (peak - equity[i]) / peak > dd)
            dd = (peak - equity[i]) / peak;
    }
    return dd;
}

double bt_max_drawdown_returns(const double *r, size_t n)
{
    double eq = 1, peak = 1, dd = 0;
    for (size_t i = 0; i < n; i++) {
        eq *= 1 + r[i];
        if (eq > peak)
            peak = eq;
        else if ((peak - eq) / peak > dd)
            dd = (peak - eq) / peak;
    }
    return dd;
}

/* ---------------------------------------------------------------- bootstrap */

static uint64_t bt_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double bt_unif(uint64_t *s)
{
    return (double)(bt_next(s) >> 11) * 0x1.0p-53;
}

/* stat of x over the index list (the point estimate: every index once) */
static double bt_stat_idx(const double *x, const size_t *idx, size_t n, enum bt_stat stat)
{
    double s = 0, s2 = 0;
    for (size_t i = 0; i < n; i++) {
        double v = x[idx[i]];
        s += v;
        s2 += v * v;
    }
    double m = s / (double)n;
    if (stat != BT_STAT_SHARPE)
        return m;
    double var = n > 1 ? (s2 - s * m) / (double)(n - 1) : 0;
    return bt_ratio(m, var > 0 ? sqrt(var) : 0);
}

static double bt_stat_sums(double s, double s2, size_t n, enum bt_stat stat)
{
    double m = s / (double)n;
    if (stat != BT_STAT_SHARPE)
        return m;
    double var = n > 1 ? (s2 - s * m) / (double)(n - 1) : 0;
    return bt_ratio(m, var > 0 ? sqrt(var) : 0);
}

/* One resample's blocks (start, length), drawn as the moving block bootstrap (blocks of
 * round(L) from random starts) or the stationary bootstrap (Politis & Romano: blocks of geometric
 * length with mean L) does; both wrap around the end of the series. A block's sums come from the
 * prefix sums, so a resample costs O(n / L), not O(n). The draws depend only on the
 * configuration, n and the generator, never on the data: every series of a batch is resampled by
 * the same blocks (the same paired indices the single calls would draw). Returns the count. */
static size_t bt_resample_blocks(const bt_boot_cfg *c, size_t n, double L, uint64_t *rng,
                                 size_t *bstart, size_t *blen)
{
    size_t fixed = (size_t)llround(L) ? (size_t)llround(L) : 1, nb = 0;
    double p = 1.0 / L, lq = p < 1 ? log1p(-p) : 0;
    /* x % n without a 64-bit division per block (Barrett): with M = floor(2^64 / n) the quotient
     * estimate hi64(x * M) is floor(x / n) or one less, so one conditional subtraction gives
     * exactly x % n */
    uint64_t M = UINT64_MAX / (uint64_t)n + (UINT64_MAX % (uint64_t)n + 1 == (uint64_t)n);
    for (size_t i = 0; i < n;) {
        uint64_t x = bt_next(rng), q = (uint64_t)(((unsigned __int128)x * M) >> 64);
        uint64_t rem = x - q * (uint64_t)n;
        if (rem >= (uint64_t)n)
            rem -= (uint64_t)n;
        size_t start = (size_t)rem, len;
        if (c->kind == BT_BOOT_MOVING) {
            len = fixed;
        } else if (p >= 1) {
            len = 1;
        } else { /* P(len = k) = (1-p)^(k-1) p */
            double u = 1.0 - bt_unif(rng); /* (0, 1] */
            double g = floor(log(u) / lq);
            len = g >= (double)n ? n : 1 + (size_t)g;
        }
        if (len > n - i)
            len = n - i;
        bstart[nb] = start;
        blen[nb++] = len;
        i += len;
    }
    return nb;
}

static int bt_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double bt_quantile(const double *sorted, size_t n, double q)
{
    double pos = q * (double)(n - 1);
    size_t i = (size_t)floor(pos);
    if (i + 1 >= n)
        return sorted[n - 1];
    double f = pos - (double)i;
    if (f == 0)
        return sorted[i];
    return sorted[i] + f * (sorted[i + 1] - sorted[i]);
}

/* A resampled series of a batch: x, or x - y (a paired difference of means), with its prefix
 * sums and one resample's sums. Jobs that resample the same series share it. */
typedef struct bt_series {
    const double *x, *y; /* y != NULL: the series x - y */
    double s, s2;        /* one resample's sums */
} bt_series;

static size_t bt_series_get(bt_series *sv, size_t *ns, const double *x, const double *y)
{
    for (size_t i = 0; i < *ns; i++)
        if (sv[i].x == x && sv[i].y == y)
            return i;
    sv[*ns].x = x;
    sv[*ns].y = y;
    return (*ns)++;
}

enum bt_stats_result bt_bootstrap_many(bt_boot_job *jobs, size_t njobs, size_t n,
                                       const bt_boot_cfg *cfg)
{
    bt_boot_cfg c = cfg ? *cfg : (bt_boot_cfg){0};
    if (c.resamples == 0)
        c.resamples = 2000;
    if (c.level == 0)
        c.level = 0.95;
    bool cfg_ok = c.level > 0 && c.level < 1 && c.block >= 0 && c.resamples <= 1000000;
    size_t live = 0;
    for (size_t j = 0; j < njobs; j++) {
        bt_boot_job *jb = &jobs[j];
        enum bt_stat st = jb->stat;
        jb->rc = BT_STATS_OK;
        if (!jb->x || !jb->out || (st != BT_STAT_MEAN && st != BT_STAT_SHARPE &&
                                   st != BT_STAT_ACCURACY))
            jb->rc = BT_STATS_BAD_INPUT;
        else if (n < 2)
            jb->rc = BT_STATS_TOO_FEW;
        else
            for (size_t i = 0; i < n && jb->rc == BT_STATS_OK; i++)
                if (!isfinite(jb->x[i]) || (jb->y && !isfinite(jb->y[i])))
                    jb->rc = BT_STATS_BAD_INPUT;
        if (jb->rc == BT_STATS_OK && !cfg_ok)
            jb->rc = BT_STATS_BAD_INPUT;
        live += jb->rc == BT_STATS_OK;
    }
    if (!cfg_ok)
        return BT_STATS_BAD_INPUT;
    if (live == 0)
        return BT_STATS_OK;
    double L = c.block > 0 ? c.block : cbrt((double)n);
    if (L < 1)
        L = 1;
    size_t *idx = xmalloc(n * sizeof(*idx));
    for (size_t i = 0; i < n; i++)
        idx[i] = i;
    bt_series *sv = xcalloc(2 * njobs, sizeof *sv);
    size_t ns = 0, (*use)[2] = xmalloc(njobs * sizeof *use);
    double **v = xcalloc(njobs, sizeof *v);
    size_t *k = xcalloc(njobs, sizeof *k);
    for (size_t j = 0; j < njobs; j++) {
        bt_boot_job *jb = &jobs[j];
        if (jb->rc != BT_STATS_OK)
            continue;
        jb->out->estimate = bt_stat_idx(jb->x, idx, n, jb->stat) -
                            (jb->y ? bt_stat_idx(jb->y, idx, n, jb->stat) : 0);
        /* a paired difference of means is the mean of the differences: resampled as one series,
         * so a series against itself gives exactly 0 */
        if (jb->y && jb->stat != BT_STAT_SHARPE) {
            use[j][0] = bt_series_get(sv, &ns, jb->x, jb->y);
            use[j][1] = SIZE_MAX;
        } else {
            use[j][0] = bt_series_get(sv, &ns, jb->x, NULL);
            use[j][1] = jb->y ? bt_series_get(sv, &ns, jb->y, NULL) : SIZE_MAX;
        }
        v[j] = xmalloc(c.resamples * sizeof(double));
    }
    /* every series' prefix sums side by side, (s, s2) per series per index: a block's ends are
     * then one or two cache lines for all series, not two per series: P[t+1] = P[t] + x[t],
     * P2[t+1] = P2[t] + x[t]^2, a block's sums P[end] - P[start] (wrapping: the tail to n plus
     * the head), so a block costs O(1) */
    double *d = xmalloc(n * sizeof(*d)), *tab = xmalloc((n + 1) * ns * 2 * sizeof(double));
    for (size_t i = 0; i < ns; i++) {
        const double *src = sv[i].x;
        if (sv[i].y) {
            for (size_t t = 0; t < n; t++)
                d[t] = sv[i].x[t] - sv[i].y[t];
            src = d;
        }
        double *col = tab + 2 * i;
        col[0] = col[1] = 0;
        for (size_t t = 0; t < n; t++) {
            col[2 * ns * (t + 1)] = col[2 * ns * t] + src[t];
            col[2 * ns * (t + 1) + 1] = col[2 * ns * t + 1] + src[t] * src[t];
        }
    }
    free(d);
    size_t *bstart = xmalloc(n * sizeof(size_t)), *blen = xmalloc(n * sizeof(size_t));
    uint64_t rng = c.seed ^ 0x6b657374726c3133ull;
    for (uint32_t b = 0; b < c.resamples; b++) {
        size_t nb = bt_resample_blocks(&c, n, L, &rng, bstart, blen);
        for (size_t i = 0; i < ns; i++)
            sv[i].s = sv[i].s2 = 0;
        for (size_t q = 0; q < nb; q++) { /* each series' sums, block by block */
            size_t start = bstart[q], end = start + blen[q];
            const double *ps = tab + 2 * ns * start;
            if (end <= n) {
                const double *pe = tab + 2 * ns * end;
                for (size_t i = 0; i < ns; i++) {
                    sv[i].s += pe[2 * i] - ps[2 * i];
                    sv[i].s2 += pe[2 * i + 1] - ps[2 * i + 1];
                }
            } else {
                const double *pn = tab + 2 * ns * n, *pw = tab + 2 * ns * (end - n);
                for (size_t i = 0; i < ns; i++) {
                    sv[i].s += (pn[2 * i] - ps[2 * i]) + pw[2 * i];
                    sv[i].s2 += (pn[2 * i + 1] - ps[2 * i + 1]) + pw[2 * i + 1];
                }
            }
        }
        for (size_t j = 0; j < njobs; j++) {
            if (jobs[j].rc != BT_STATS_OK)
                continue;
            const bt_series *a = &sv[use[j][0]];
            double st = bt_stat_sums(a->s, a->s2, n, jobs[j].stat);
            if (use[j][1] != SIZE_MAX)
                st -= bt_stat_sums(sv[use[j][1]].s, sv[use[j][1]].s2, n, jobs[j].stat);
            if (!isnan(st))
                v[j][k[j]++] = st;
        }
    }
    for (size_t j = 0; j < njobs; j++) {
        if (jobs[j].rc != BT_STATS_OK)
            continue;
        if (k[j] < 2) {
            jobs[j].rc = BT_STATS_TOO_FEW;
        } else {
            qsort(v[j], k[j], sizeof(double), bt_cmp);
            jobs[j].out->lo = bt_quantile(v[j], k[j], (1 - c.level) / 2);
            jobs[j].out->hi = bt_quantile(v[j], k[j], 1 - (1 - c.level) / 2);
        }
        free(v[j]);
    }
    free(tab);
    free(bstart);
    free(blen);
    free(sv);
    free(use);
    free(v);
    free(k);
    free(idx);
    return BT_STATS_OK;
}

enum bt_stats_result bt_bootstrap_ci(const double *x, size_t n, enum bt_stat stat,
                                     const bt_boot_cfg *cfg, bt_ci *out)
{
    bt_boot_job jb = { .x = x, .stat = stat, .out = out };
    enum bt_stats_result r = bt_bootstrap_many(&jb, 1, n, cfg);
    (void)r; /* the job's rc says it all */
    return jb.rc;
}

enum bt_stats_result bt_bootstrap_diff_ci(const double *x, const double *y, size_t n,
                                          enum bt_stat stat, const bt_boot_cfg *cfg, bt_ci *out)
{
    if (!y)
        return BT_STATS_BAD_INPUT;
    bt_boot_job jb = { .x = x, .y = y, .stat = stat, .out = out };
    enum bt_stats_result r = bt_bootstrap_many(&jb, 1, n, cfg);
    (void)r; /* the job's rc says it all */
    return jb.rc;
}

int bt_edge_verdict(const bt_ci *diff, double level, const char *baseline, char *buf, size_t len)
{
    int edge = diff && diff->lo > 0 && diff->hi >= diff->lo;
    if (edge)
        snprintf(buf, len, "edge over %s: %+.6g (%g%% CI %.6g .. %.6g)", baseline,
                 diff->estimate, (level > 0 ? level : 0.95) * 100, diff->lo, diff->hi);
    else
        snprintf(buf, len, "no evidence of an edge over %s", baseline);
    return edge;
}

/* ---------------------------------------------------------------- normal */

double bt_norm_cdf(double x)
{
    return 0.5 * erfc(-x / sqrt(2.0));
}

/* Acklam's rational approximation, then one Halley step on erfc (full double precision). */
double bt_norm_ppf(double p)
{
    if (!(p > 0 && p < 1))
        return NAN;
    static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02,
                               -2.759285104469687e+02, 1.383577518672690e+02,
                               -3.066479806614716e+01, 2.506628277459239e+00};
    static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02,
                               -1.556989798598866e+02, 6.680131188771972e+01,
                               -1.328068155288572e+01};
    static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01,
                               -2.400758277161838e+00, -2.549732539343734e+00,
                               4.374664141464968e+00,  2.938163982698783e+00};
    static const double d[] = {7.784695709041462e-03, 3.224671290700398e-01,
                               2.445134137142996e+00, 3.754408661907416e+00};
    double q, x;
    if (p < 0.02425) {
        q = sqrt(-2 * log(p));
        x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
            ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
    } else if (p > 1 - 0.02425) {
        q = sqrt(-2 * log(1 - p));
        x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
            ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
    } else {
        q = p - 0.5;
        double r = q * q;
        x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
            (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
    }
    double e = bt_norm_cdf(x) - p, u = e * sqrt(2 * M_PI) * exp(x * x / 2);
    return x - u / (1 + x * u / 2);
}

/* ---------------------------------------------------------------- DSR */

double bt_expected_max_sharpe(double var_sr, uint32_t trials)
{
    const double g = 0.5772156649015329, e = 2.718281828459045;
    if (trials < 2 || !(var_sr >= 0))
        return 0.0;
    double n = (double)trials;
    return sqrt(var_sr) * ((1 - g) * bt_norm_ppf(1 - 1 / n) + g * bt_norm_ppf(1 - 1 / (n * e)));
}

double bt_psr(double sr, double sr_bench, size_t t, double skew, double kurt)
{
    if (t < 2)
        return NAN;
    double den = 1 - skew * sr + (kurt - 1) / 4 * sr * sr;
    if (!(den > 0))
        return NAN;
    return bt_norm_cdf((sr - sr_bench) * sqrt((double)(t - 1)) / sqrt(den));
}

enum bt_stats_result bt_deflated_sharpe(double sr, double var_sr, uint32_t trials, size_t t,
                                        double skew, double kurt, bt_dsr *out)
{
    if (!out || !isfinite(sr) || !(var_sr >= 0) || !isfinite(var_sr) || trials < 1 ||
        !isfinite(skew) || !isfinite(kurt))
        return BT_STATS_BAD_INPUT;
    if (t < 2)
        return BT_STATS_TOO_FEW;
    out->sr = sr;
    out->sr0 = bt_expected_max_sharpe(var_sr, trials);
    out->dsr = bt_psr(sr, out->sr0, t, skew, kurt);
    return isnan(out->dsr) ? BT_STATS_BAD_INPUT : BT_STATS_OK;
}

enum bt_stats_result bt_deflated_sharpe_returns(const double *r, size_t n, double var_sr,
                                                uint32_t trials, bt_dsr *out)
{
    if (!r)
        return BT_STATS_BAD_INPUT;
    if (n < 3)
        return BT_STATS_TOO_FEW;
    for (size_t i = 0; i < n; i++)
        if (!isfinite(r[i]))
            return BT_STATS_BAD_INPUT;
    return bt_deflated_sharpe(bt_sharpe(r, n), var_sr, trials, n, bt_skewness(r, n),
                              bt_kurtosis(r, n), out);
}

/* ---------------------------------------------------------------- PBO by CSCV */

static double bt_perf(double s, double s2, double cnt)
{
    double m = s / cnt, var = cnt > 1 ? (s2 - s * m) / (cnt - 1) : 0;
    return bt_ratio(m, var > 1e-300 ? sqrt(var) : 0);
}

enum bt_stats_result bt_pbo_cscv(const double *m, size_t t, size_t n, uint32_t s, bt_pbo *out)
{
    if (!m || !out || s < 2 || s > 24 || s % 2 || n < 2)
        return BT_STATS_BAD_INPUT;
    size_t rows = t / s, skip = t % s;
    if (rows < 2)
        return BT_STATS_TOO_FEW;
    for (size_t i = 0; i < t * n; i++)
        if (!isfinite(m[i]))
            return BT_STATS_BAD_INPUT;
    /* per block and configuration: sum and sum of squares */
    double *bs = xcalloc((size_t)s * n, sizeof(double));
    double *bq = xcalloc((size_t)s * n, sizeof(double));
    double *ts = xcalloc(n, sizeof(double)), *tq = xcalloc(n, sizeof(double));
    for (size_t r = 0; r < rows * s; r++) {
        size_t blk = r / rows;
        const double *row = m + (skip + r) * n;
        for (size_t j = 0; j < n; j++) {
            bs[blk * n + j] += row[j];
            bq[blk * n + j] += row[j] * row[j];
        }
    }
    for (size_t b = 0; b < s; b++)
        for (size_t j = 0; j < n; j++) {
            ts[j] += bs[b * n + j];
            tq[j] += bq[b * n + j];
        }
    uint64_t splits = 1;
    for (uint32_t k = 1; k <= s / 2; k++)
        splits = splits * (s / 2 + k) / k;
    double *lam = xmalloc(splits * sizeof(double)), *oos = xmalloc(n * sizeof(double));
    double *is_s = xmalloc(n * sizeof(double)), *is_q = xmalloc(n * sizeof(double));
    double half = (double)(rows * (s / 2)), below = 0, degr = 0;
    uint64_t k = 0;
    /* every s/2-subset of the s blocks, in increasing bitmask order (Gosper's hack) */
    for (uint32_t mask = (1u << (s / 2)) - 1; mask < (1u << s);) {
        memset(is_s, 0, n * sizeof(double));
        memset(is_q, 0, n * sizeof(double));
        for (uint32_t b = 0; b < s; b++)
            if (mask & (1u << b))
                for (size_t j = 0; j < n; j++) {
                    is_s[j] += bs[b * n + j];
                    is_q[j] += bq[b * n + j];
                }
        size_t best = 0;
        double best_perf = -INFINITY;
        for (size_t j = 0; j < n; j++) {
            double p = bt_perf(is_s[j], is_q[j], half);
            if (p > best_perf || j == 0) {
                best_perf = p;
                best = j;
            }
            oos[j] = bt_perf(ts[j] - is_s[j], tq[j] - is_q[j], half);
        }
        double rank = 1; /* 1 = worst .. n = best, ties half */
        for (size_t j = 0; j < n; j++)
            if (j != best)
                rank += oos[j] < oos[best] ? 1.0 : oos[j] == oos[best] ? 0.5 : 0.0;
        double w = rank / (double)(n + 1);
        lam[k] = log(w / (1 - w));
        below += lam[k] < 0 ? 1.0 : lam[k] == 0 ? 0.5 : 0.0;
        if (isfinite(oos[best]) && isfinite(best_perf))
            degr += oos[best] - best_perf;
        k++;
        uint32_t c = mask & -mask, r = mask + c;
        mask = (((r ^ mask) >> 2) / c) | r;
    }
    qsort(lam, k, sizeof(double), bt_cmp);
    out->splits = k;
    out->pbo = below / (double)k;
    out->logit_median = k % 2 ? lam[k / 2] : (lam[k / 2 - 1] + lam[k / 2]) / 2;
    out->degradation = degr / (double)k;
    free(bs);
    free(bq);
    free(ts);
    free(tq);
    free(lam);
    free(oos);
    free(is_s);
    free(is_q);
    return BT_STATS_OK;
}
