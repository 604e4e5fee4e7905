/* Incremental == batch, for EVERY indicator: each one is re-implemented here the naive way, as a
 * batch function over the whole series (windowed quantities - sums, means, deviations, highs and
 * lows, regressions - recomputed from scratch over the window at every bar; recursive ones -
 * EMA, Wilder smoothing, SAR, SuperTrend - as plain array recurrences from their definitions),
 * and compared with the streaming instance fed bar by bar, on real kline files (a day of 1m,
 * two days of 1m with missing minutes, 4h bars, a coin priced ~10, a month of 45,031 1m bars),
 * at the defaults and at other parameters.
 *
 * What must agree: the warm-up (NaN in exactly the same places) and every value after it, to
 * 1e-9 relative - relative to the value itself, or, for outputs that cross zero (MACD, momentum,
 * slopes, oscillators centred on 0), to the output's natural scale (the largest magnitude it
 * takes over the series), since a relative error of a value at 1e-12 of its scale means nothing.
 * This catches state bugs the TA-Lib references cannot (they only cover TA-Lib's own functions
 * and a few compositions): a wrong ring index, a deque that keeps a stale extreme, running sums
 * that drift, a window that is one bar too long. */
#include "check.h"
#include "kestrel/ta.h"
#include "ta_test_util.h"

#define MAXO TA_MAX_OUTPUTS

typedef struct series {
    const ta_bar *b;
    size_t n;
    const double *c, *h, *l, *v; /* columns */
} series;

/* out[i * no + k] */
typedef void (*batch_fn)(const series *s, const double *p, double *out);

static double *nans(size_t n)
{
    double *a = xmalloc((n ? n : 1) * sizeof(double));
    for (size_t i = 0; i < n; i++)
        a[i] = NAN;
    return a;
}

/* ---- building blocks, all from scratch ---------------------------------------------------- */

static double win_sum(const double *x, size_t i, size_t p)
{
    double s = 0;
    for (size_t j = i + 1 - p; j <= i; j++)
        s += x[j];
    return s;
}
static double win_max(const double *x, size_t i, size_t p)
{
    double m = x[i + 1 - p];
    for (size_t j = i + 1 - p; j <= i; j++)
        m = fmax(m, x[j]);
    return m;
}
static double win_min(const double *x, size_t i, size_t p)
{
    double m = x[i + 1 - p];
    for (size_t j = i + 1 - p; j <= i; j++)
        m = fmin(m, x[j]);
    return m;
}
/* population standard deviation, two-pass */
static double win_sd(const double *x, size_t i, size_t p, double *mean)
{
    double m = win_sum(x, i, p) / (double)p, ss = 0;
    for (size_t j = i + 1 - p; j <= i; j++)
        ss += (x[j] - m) * (x[j] - m);
    *mean = m;
    return sqrt(ss / (double)p);
}

/* SMA of x (which may start with NaN); NaN until p valid values */
static double *sma_arr(const double *x, size_t n, size_t p)
{
    double *o = nans(n);
    size_t first = 0;
    while (first < n && isnan(x[first]))
        first++;
    for (size_t i = first + p - 1; i < n && first + p - 1 >= first; i++)
        o[i] = win_sum(x, i, p) / (double)p;
    return o;
}

/* EMA seeded with the SMA of the first p valid values (skip: start the seed window that many
 * valid values later, as MACD's fast EMA) */
static double *ema_arr(const double *x, size_t n, size_t p, size_t skip)
{
    double *o = nans(n);
    size_t s = 0;
    while (s < n && isnan(x[s]))
        s++;
    s += skip;
    if (s + p - 1 >= n)
        return o;
    double k = 2.0 / (double)(p + 1), e = win_sum(x, s + p - 1, p) / (double)p;
    o[s + p - 1] = e;
    for (size_t i = s + p; i < n; i++) {
        e = e + (x[i] - e) * k;
        o[i] = e;
    }
    return o;
}

static double *wma_arr(const double *x, size_t n, size_t p)
{
    double *o = nans(n);
    size_t first = 0;
    while (first < n && isnan(x[first]))
        first++;
    double div = (double)p * (double)(p + 1) / 2.0;
    for (size_t i = first + p - 1; i < n; i++) {
        double s = 0;
        for (size_t j = 0; j < p; j++)
            s += (double)(j + 1) * x[i + 1 - p + j];
        o[i] = s / div;
    }
    return o;
}

static double true_range(const series *s, size_t i)
{
    double pc = s->c[i - 1];
    return fmax(s->h[i] - s->l[i], fmax(fabs(s->h[i] - pc), fabs(s->l[i] - pc)));
}

/* TA-Lib ATR: first value at bar p = mean of TR[1..p], then Wilder */
static double *atr_arr(const series *s, size_t p)
{
    double *o = nans(s->n);
    if (p == 1) {
        for (size_t i = 1; i < s->n; i++)
            o[i] = true_range(s, i);
        return o;
    }
    if (p >= s->n)
        return o;
    double a = 0;
    for (size_t i = 1; i <= p; i++)
        a += true_range(s, i);
    a /= (double)p;
    o[p] = a;
    for (size_t i = p + 1; i < s->n; i++) {
        a = (a * (double)(p - 1) + true_range(s, i)) / (double)p;
        o[i] = a;
    }
    return o;
}

/* Wilder RSI over x */
static double *rsi_arr(const double *x, size_t n, size_t p)
{
    double *o = nans(n);
    if (p >= n)
        return o;
    double g = 0, l = 0;
    for (size_t i = 1; i <= p; i++) {
        double d = x[i] - x[i - 1];
        g += d > 0 ? d : 0;
        l += d < 0 ? -d : 0;
    }
    g /= (double)p;
    l /= (double)p;
    o[p] = g + l > 1e-14 ? 100 * (g / (g + l)) : 0;
    for (size_t i = p + 1; i < n; i++) {
        double d = x[i] - x[i - 1];
        g = (g * (double)(p - 1) + (d > 0 ? d : 0)) / (double)p;
        l = (l * (double)(p - 1) + (d < 0 ? -d : 0)) / (double)p;
        o[i] = g + l > 1e-14 ? 100 * (g / (g + l)) : 0;
    }
    return o;
}

/* %K of x against the window's high/low series (0 when flat) */
static double pct_k(double x, double hi, double lo)
{
    return hi != lo ? (x - lo) / ((hi - lo) / 100) : 0;
}

/* ---- the indicators --------------------------------------------------------------------- */
#define N s->n
#define P(k) ((size_t)p[k])

static void b_sma(const series *s, const double *p, double *o)
{
    double *a = sma_arr(s->c, N, P(0));
    memcpy(o, a, N * sizeof(double));
    free(a);
}
static void b_ema(const series *s, const double *p, double *o)
{
    double *a = ema_arr(s->c, N, P(0), 0);
    memcpy(o, a, N * sizeof(double));
    free(a);
}
static void b_wma(const series *s, const double *p, double *o)
{
    double *a = wma_arr(s->c, N, P(0));
    memcpy(o, a, N * sizeof(double));
    free(a);
}
static void b_dema(const series *s, const double *p, double *o)
{
    double *e1 = ema_arr(s->c, N, P(0), 0), *e2 = ema_arr(e1, N, P(0), 0);
    for (size_t i = 0; i < N; i++)
        o[i] = 2 * e1[i] - e2[i];
    free(e1);
    free(e2);
}
static void b_tema(const series *s, const double *p, double *o)
{
    double *e1 = ema_arr(s->c, N, P(0), 0), *e2 = ema_arr(e1, N, P(0), 0);
    double *e3 = ema_arr(e2, N, P(0), 0);
    for (size_t i = 0; i < N; i++)
        o[i] = 3 * e1[i] - 3 * e2[i] + e3[i];
    free(e1);
    free(e2);
    free(e3);
}
static void b_trix(const series *s, const double *p, double *o)
{
    double *e1 = ema_arr(s->c, N, P(0), 0), *e2 = ema_arr(e1, N, P(0), 0);
    double *e3 = ema_arr(e2, N, P(0), 0);
    o[0] = NAN;
    for (size_t i = 1; i < N; i++)
        o[i] = isnan(e3[i - 1]) ? NAN : e3[i - 1] != 0 ? 100 * (e3[i] / e3[i - 1] - 1) : 0;
    free(e1);
    free(e2);
    free(e3);
}
static void b_kama(const series *s, const double *p, double *o)
{
    size_t n = P(0);
    const double fast = 2.0 / 3.0, slow = 2.0 / 31.0;
    for (size_t i = 0; i < N; i++)
        o[i] = NAN;
    double k = 0;
    for (size_t i = n; i < N; i++) {
        double vol = 0;
        for (size_t j = i + 1 - n; j <= i; j++)
            vol += fabs(s->c[j] - s->c[j - 1]);
        double change = fabs(s->c[i] - s->c[i - n]);
        double er = vol > 1e-14 ? change / vol : 1;
        double sc = (er * (fast - slow) + slow) * (er * (fast - slow) + slow);
        double prev = i == n ? s->c[i - 1] : k;
        k = prev + sc * (s->c[i] - prev);
        o[i] = k;
    }
}
static void b_hma(const series *s, const double *p, double *o)
{
    size_t n = P(0), sq = (size_t)floor(sqrt((double)n));
    double *h = wma_arr(s->c, N, n / 2), *f = wma_arr(s->c, N, n), *d = nans(N);
    for (size_t i = 0; i < N; i++)
        d[i] = isnan(f[i]) ? NAN : 2 * h[i] - f[i];
    double *r = wma_arr(d, N, sq ? sq : 1);
    memcpy(o, r, N * sizeof(double));
    free(h);
    free(f);
    free(d);
    free(r);
}
static void b_rsi(const series *s, const double *p, double *o)
{
    double *a = rsi_arr(s->c, N, P(0));
    memcpy(o, a, N * sizeof(double));
    free(a);
}
static void b_stochrsi(const series *s, const double *p, double *o)
{
    size_t kp = P(1);
    double *r = rsi_arr(s->c, N, P(0)), *k = nans(N);
    for (size_t i = P(0) + kp - 1; i < N; i++)
        k[i] = pct_k(r[i], win_max(r, i, kp), win_min(r, i, kp));
    double *d = sma_arr(k, N, P(2));
    for (size_t i = 0; i < N; i++) {
        o[i * 2] = isnan(d[i]) ? NAN : k[i];
        o[i * 2 + 1] = d[i];
    }
    free(r);
    free(k);
    free(d);
}
static void b_macd(const series *s, const double *p, double *o)
{
    size_t f = P(0), sl = P(1);
    if (sl < f) {
        size_t t = f;
        f = sl;
        sl = t;
    }
    double *es = ema_arr(s->c, N, sl, 0), *ef = ema_arr(s->c, N, f, sl - f), *line = nans(N);
    for (size_t i = 0; i < N; i++)
        line[i] = ef[i] - es[i];
    double *sig = ema_arr(line, N, P(2), 0);
    for (size_t i = 0; i < N; i++) {
        bool ok = !isnan(sig[i]);
        o[i * 3] = ok ? line[i] : NAN;
        o[i * 3 + 1] = sig[i];
        o[i * 3 + 2] = ok ? line[i] - sig[i] : NAN;
    }
    free(es);
    free(ef);
    free(line);
    free(sig);
}
static void b_bb(const series *s, const double *p, double *o)
{
    size_t n = P(0);
    for (size_t i = 0; i < N; i++) {
        for (int k = 0; k < 5; k++)
            o[i * 5 + k] = NAN;
        if (i + 1 < n)
            continue;
        double m, sd = win_sd(s->c, i, n, &m);
        double up = m + p[1] * sd, lo = m - p[1] * sd;
        o[i * 5] = up;
        o[i * 5 + 1] = m;
        o[i * 5 + 2] = lo;
        o[i * 5 + 3] = up != lo ? (s->c[i] - lo) / (up - lo) : 0.5;
        o[i * 5 + 4] = m != 0 ? 100 * (up - lo) / m : 0;
    }
}
static void b_atr(const series *s, const double *p, double *o)
{
    double *a = atr_arr(s, P(0));
    memcpy(o, a, N * sizeof(double));
    free(a);
}
static void b_natr(const series *s, const double *p, double *o)
{
    double *a = atr_arr(s, P(0));
    for (size_t i = 0; i < N; i++)
        o[i] = isnan(a[i]) ? NAN : s->c[i] != 0 ? 100 * a[i] / s->c[i] : 0;
    free(a);
}
static double *raw_k(const series *s, size_t kp)
{
    double *k = nans(N);
    for (size_t i = kp - 1; i < N; i++)
        k[i] = pct_k(s->c[i], win_max(s->h, i, kp), win_min(s->l, i, kp));
    return k;
}
static void b_stoch(const series *s, const double *p, double *o)
{
    double *k = raw_k(s, P(0)), *sk = sma_arr(k, N, P(1)), *sd = sma_arr(sk, N, P(2));
    for (size_t i = 0; i < N; i++) {
        o[i * 2] = isnan(sd[i]) ? NAN : sk[i];
        o[i * 2 + 1] = sd[i];
    }
    free(k);
    free(sk);
    free(sd);
}
static void b_stochf(const series *s, const double *p, double *o)
{
    double *k = raw_k(s, P(0)), *d = sma_arr(k, N, P(1));
    for (size_t i = 0; i < N; i++) {
        o[i * 2] = isnan(d[i]) ? NAN : k[i];
        o[i * 2 + 1] = d[i];
    }
    free(k);
    free(d);
}
static void b_willr(const series *s, const double *p, double *o)
{
    size_t n = P(0);
    for (size_t i = 0; i < N; i++) {
        o[i] = NAN;
        if (i + 1 < n)
            continue;
        double hh = win_max(s->h, i, n), ll = win_min(s->l, i, n);
        o[i] = hh != ll ? -100 * (hh - s->c[i]) / (hh - ll) : 0;
    }
}
/* Wilder's DMI as TA-Lib runs it: DM and TR summed over bars 1..n-1, then smoothed with
 * x - x/n + new from bar n; DX averaged over its first n values, then Wilder */
static void b_adx(const series *s, const double *p, double *o)
{
    size_t n = P(0);
    double pdm = 0, mdm = 0, tr = 0, adx = NAN, sum_dx = 0;
    for (size_t i = 0; i < N; i++) {
        o[i * 3] = o[i * 3 + 1] = o[i * 3 + 2] = NAN;
        if (i == 0)
            continue;
        double up = s->h[i] - s->h[i - 1], dn = s->l[i - 1] - s->l[i];
        double pd = up > dn && up > 0 ? up : 0, md = dn > up && dn > 0 ? dn : 0;
        if (i < n) {
            pdm += pd;
            mdm += md;
            tr += true_range(s, i);
            continue;
        }
        pdm = pdm - pdm / (double)n + pd;
        mdm = mdm - mdm / (double)n + md;
        tr = tr - tr / (double)n + true_range(s, i);
        double pdi = tr > 1e-14 ? 100 * pdm / tr : 0, mdi = tr > 1e-14 ? 100 * mdm / tr : 0;
        double dx = pdi + mdi > 1e-14 ? 100 * fabs(pdi - mdi) / (pdi + mdi) : NAN;
        if (i < 2 * n) {
            sum_dx += isnan(dx) ? 0 : dx;
            if (i == 2 * n - 1)
                adx = sum_dx / (double)n;
        } else if (!isnan(dx)) {
            adx = (adx * (double)(n - 1) + dx) / (double)n;
        }
        o[i * 3] = i >= 2 * n - 1 ? adx : NAN;
        o[i * 3 + 1] = pdi;
        o[i * 3 + 2] = mdi;
    }
}
static void b_aroon(const series *s, const double *p, double *o)
{
    size_t n = P(0);
    for (size_t i = 0; i < N; i++) {
        o[i * 3] = o[i * 3 + 1] = o[i * 3 + 2] = NAN;
        if (i < n)
            continue;
        size_t hi = i - n, lo = i - n; /* latest extreme wins ties */
        for (size_t j = i - n; j <= i; j++) {
            if (s->h[j] >= s->h[hi])
                hi = j;
            if (s->l[j] <= s->l[lo])
                lo = j;
        }
        double up = 100.0 * (double)(n - (i - hi)) / (double)n;
        double down = 100.0 * (double)(n - (i - lo)) / (double)n;
        o[i * 3] = up;
        o[i * 3 + 1] = down;
        o[i * 3 + 2] = up - down;
    }
}
static void b_cci(const series *s, const double *p, double *o)
{
    size_t n = P(0);
    double *tp = xmalloc(N * sizeof(double));
    for (size_t i = 0; i < N; i++)
        tp[i] = (s->h[i] + s->l[i] + s->c[i]) / 3;
    for (size_t i = 0; i < N; i++) {
        o[i] = NAN;
        if (i + 1 < n)
            continue;
        double m = win_sum(tp, i, n) / (double)n, md = 0;
        for (size_t j = i + 1 - n; j <= i; j++)
            md += fabs(tp[j] - m);
        md /= (double)n;
        o[i] = md != 0 && tp[i] != m ? (tp[i] - m) / (0.015 * md) : 0;
    }
    free(tp);
}
static void b_mfi(const series *s, const double *p, double *o)
{
    size_t n = P(0);
    for (size_t i = 0; i < N; i++) {
        o[i] = NAN;
        if (i < n)
            continue;
        double pos = 0, neg = 0;
        for (size_t j = i + 1 - n; j <= i; j++) {
            double tp = (s->h[j] + s->l[j] + s->c[j]) / 3;
            double pt = (s->h[j - 1] + s->l[j - 1] + s->c[j - 1]) / 3;
            if (tp > pt)
                pos += tp * s->v[j];
            else if (tp < pt)
                neg += tp * s->v[j];
        }
        o[i] = pos + neg < 1 ? 0 : 100 * pos / (pos + neg);
    }
}
static void b_obv(const series *s, const double *p, double *o)
{
    (void)p;
    double obv = 0;
    for (size_t i = 0; i < N; i++) {
        if (i == 0)
            obv = s->v[0];
        else if (s->c[i] > s->c[i - 1])
            obv += s->v[i];
        else if (s->c[i] < s->c[i - 1])
            obv -= s->v[i];
        o[i] = obv;
    }
}
/* VWAP recomputed over the whole UTC day up to the bar */
static void b_vwap(const series *s, const double *p, double *o)
{
    (void)p;
    const int64_t day_ms = 86400000;
    size_t start = 0;
    for (size_t i = 0; i < N; i++) {
        int64_t day = s->b[i].t >= 0 ? s->b[i].t / day_ms : -((-s->b[i].t - 1) / day_ms) - 1;
        int64_t sd = s->b[start].t >= 0 ? s->b[start].t / day_ms
                                          : -((-s->b[start].t - 1) / day_ms) - 1;
        if (day != sd)
            start = i;
        double pv = 0, v = 0;
        for (size_t j = start; j <= i; j++) {
            pv += (s->h[j] + s->l[j] + s->c[j]) / 3 * s->v[j];
            v += s->v[j];
        }
        o[i] = v > 0 ? pv / v : (s->h[i] + s->l[i] + s->c[i]) / 3;
    }
}
static void b_roc(const series *s, const double *p, double *o)
{
    size_t n = P(0);
    for (size_t i = 0; i < N; i++)
        o[i] = i < n ? NAN : s->c[i - n] != 0 ? 100 * (s->c[i] / s->c[i - n] - 1) : 0;
}
static void b_mom(const series *s, const double *p, double *o)
{
    size_t n = P(0);
    for (size_t i = 0; i < N; i++)
        o[i] = i < n ? NAN : s->c[i] - s->c[i - n];
}
/* Wilder's parabolic SAR with TA-Lib's start: the direction from the first two bars' DM, the
 * first SAR the first bar's extreme; the output of a bar is the stop in force during it, and a
 * reversal outputs the old trend's extreme point (clamped to the last two bars' range) */
static void b_sar(const series *s, const double *p, double *o)
{
    double af0 = fmin(p[0], p[1]), afmax = p[1];
    o[0] = NAN;
    if (N < 2)
        return;
    double dm = s->l[0] - s->l[1], dp = s->h[1] - s->h[0];
    bool up = !(dm > 0 && dp < dm);
    double ep = up ? s->h[1] : s->l[1], sar = up ? s->l[0] : s->h[0], af = af0;
    for (size_t i = 1; i < N; i++) {
        /* the two bars before this one (TA-Lib treats bar 1 as its own predecessor) */
        size_t q = i == 1 ? 1 : i - 1;
        double ph = s->h[q], pl = s->l[q];
        if (up) {
            if (s->l[i] <= sar) { /* reversal to short */
                up = false;
                sar = fmax(ep, fmax(ph, s->h[i]));
                o[i] = sar;
                af = af0;
                ep = s->l[i];
                sar = fmax(sar + af * (ep - sar), fmax(ph, s->h[i]));
            } else {
                o[i] = sar;
                if (s->h[i] > ep) {
                    ep = s->h[i];
                    af = fmin(af + af0, afmax);
                }
                sar = fmin(sar + af * (ep - sar), fmin(pl, s->l[i]));
            }
        } else {
            if (s->h[i] >= sar) { /* reversal to long */
                up = true;
                sar = fmin(ep, fmin(pl, s->l[i]));
                o[i] = sar;
                af = af0;
                ep = s->h[i];
                sar = fmin(sar + af * (ep - sar), fmin(pl, s->l[i]));
            } else {
                o[i] = sar;
                if (s->l[i] < ep) {
                    ep = s->l[i];
                    af = fmin(af + af0, afmax);
                }
                sar = fmax(sar + af * (ep - sar), fmax(ph, s->h[i]));
            }
        }
    }
}
static void b_ichimoku(const series *s, const double *p, double *o)
{
    size_t t = P(0), k = P(1), sb = P(2);
    for (size_t i = 0; i < N; i++) {
        double ten = i + 1 >= t ? (win_max(s->h, i, t) + win_min(s->l, i, t)) / 2 : NAN;
        double kij = i + 1 >= k ? (win_max(s->h, i, k) + win_min(s->l, i, k)) / 2 : NAN;
        o[i * 5] = ten;
        o[i * 5 + 1] = kij;
        o[i * 5 + 2] = isnan(ten) || isnan(kij) ? NAN : (ten + kij) / 2;
        o[i * 5 + 3] = i + 1 >= sb ? (win_max(s->h, i, sb) + win_min(s->l, i, sb)) / 2 : NAN;
        o[i * 5 + 4] = s->c[i];
    }
}
static void b_keltner(const series *s, const double *p, double *o)
{
    double *e = ema_arr(s->c, N, P(0), 0), *a = atr_arr(s, P(2));
    for (size_t i = 0; i < N; i++) {
        bool ok = !isnan(e[i]) && !isnan(a[i]);
        o[i * 3] = ok ? e[i] + p[1] * a[i] : NAN;
        o[i * 3 + 1] = ok ? e[i] : NAN;
        o[i * 3 + 2] = ok ? e[i] - p[1] * a[i] : NAN;
    }
    free(e);
    free(a);
}
static void b_donchian(const series *s, const double *p, double *o)
{
    size_t n = P(0);
    for (size_t i = 0; i < N; i++) {
        bool ok = i + 1 >= n;
        double hi = ok ? win_max(s->h, i, n) : NAN, lo = ok ? win_min(s->l, i, n) : NAN;
        o[i * 3] = hi;
        o[i * 3 + 1] = (hi + lo) / 2;
        o[i * 3 + 2] = lo;
    }
}
static void b_supertrend(const series *s, const double *p, double *o)
{
    double *a = atr_arr(s, P(0)), fu = 0, fl = 0;
    int dir = 0;
    for (size_t i = 0; i < N; i++) {
        o[i * 2] = o[i * 2 + 1] = NAN;
        if (isnan(a[i]))
            continue;
        double mid = (s->h[i] + s->l[i]) / 2, bu = mid + p[1] * a[i], bl = mid - p[1] * a[i];
        if (!dir) {
            fu = bu;
            fl = bl;
            dir = -1;
        } else {
            double pc = s->c[i - 1];
            fl = bl > fl || pc < fl ? bl : fl;
            fu = bu < fu || pc > fu ? bu : fu;
            dir = dir < 0 ? (s->c[i] > fu ? 1 : -1) : (s->c[i] < fl ? -1 : 1);
        }
        o[i * 2] = dir > 0 ? fl : fu;
        o[i * 2 + 1] = dir;
    }
    free(a);
}
static double mfv(const series *s, size_t j)
{
    double hl = s->h[j] - s->l[j];
    return hl > 0 ? ((s->c[j] - s->l[j]) - (s->h[j] - s->c[j])) / hl * s->v[j] : 0;
}
static void b_cmf(const series *s, const double *p, double *o)
{
    size_t n = P(0);
    for (size_t i = 0; i < N; i++) {
        o[i] = NAN;
        if (i + 1 < n)
            continue;
        double m = 0, v = 0;
        for (size_t j = i + 1 - n; j <= i; j++) {
            m += mfv(s, j);
            v += s->v[j];
        }
        o[i] = v > 0 ? m / v : 0;
    }
}
static void b_ultosc(const series *s, const double *p, double *o)
{
    size_t per[3] = { P(0), P(1), P(2) };
    for (int a = 0; a < 3; a++) /* shortest first: weights 4, 2, 1 */
        for (int b = a + 1; b < 3; b++)
            if (per[b] < per[a]) {
                size_t t = per[a];
                per[a] = per[b];
                per[b] = t;
            }
    for (size_t i = 0; i < N; i++) {
        o[i] = NAN;
        if (i < per[2])
            continue;
        double u = 0;
        const double w[3] = { 4, 2, 1 };
        for (int k = 0; k < 3; k++) {
            double bp = 0, tr = 0;
            for (size_t j = i + 1 - per[k]; j <= i; j++) {
                bp += s->c[j] - fmin(s->l[j], s->c[j - 1]);
                tr += true_range(s, j);
            }
            u += tr > 1e-14 ? w[k] * bp / tr : 0;
        }
        o[i] = 100 * u / 7;
    }
}
static void b_stddev(const series *s, const double *p, double *o)
{
    size_t n = P(0);
    for (size_t i = 0; i < N; i++) {
        double m;
        o[i] = i + 1 >= n ? win_sd(s->c, i, n, &m) : NAN;
    }
}
static void b_zscore(const series *s, const double *p, double *o)
{
    size_t n = P(0);
    for (size_t i = 0; i < N; i++) {
        o[i] = NAN;
        if (i + 1 < n)
            continue;
        double m, sd = win_sd(s->c, i, n, &m), r = 0;
        for (size_t j = i + 1 - n; j <= i; j++) /* the mean to the last bit: flat -> exactly 0 */
            r += s->c[j] - m;
        m += r / (double)n;
        o[i] = sd > 0 && s->c[i] != m ? (s->c[i] - m) / sd : 0;
    }
}
/* least squares over x = 0 (oldest) .. n-1 (this bar), centred */
static void b_linreg_slope(const series *s, const double *p, double *o)
{
    size_t n = P(0);
    double xm = (double)(n - 1) / 2, sxx = 0;
    for (size_t j = 0; j < n; j++)
        sxx += ((double)j - xm) * ((double)j - xm);
    for (size_t i = 0; i < N; i++) {
        o[i] = NAN;
        if (i + 1 < n)
            continue;
        double ym = win_sum(s->c, i, n) / (double)n, sxy = 0;
        for (size_t j = 0; j < n; j++)
            sxy += ((double)j - xm) * (s->c[i + 1 - n + j] - ym);
        o[i] = sxy / sxx;
    }
}
static void b_rvol(const series *s, const double *p, double *o)
{
    size_t n = P(0);
    double ann = p[1] > 0 ? sqrt(p[1]) : 1;
    for (size_t i = 0; i < N; i++) {
        o[i] = NAN;
        if (i < n)
            continue;
        double m = 0, ss = 0;
        for (size_t j = i + 1 - n; j <= i; j++)
            m += log(s->c[j] / s->c[j - 1]);
        m /= (double)n;
        for (size_t j = i + 1 - n; j <= i; j++) {
            double r = log(s->c[j] / s->c[j - 1]) - m;
            ss += r * r;
        }
        o[i] = 100 * sqrt(ss / (double)(n - 1)) * ann;
    }
}
static void b_ad(const series *s, const double *p, double *o)
{
    (void)p;
    double ad = 0;
    for (size_t i = 0; i < N; i++) {
        ad += mfv(s, i);
        o[i] = ad;
    }
}
/* EMAs of the A/D line seeded with its first value (TA-Lib ADOSC) */
static void b_adosc(const series *s, const double *p, double *o)
{
    double kf = 2.0 / (double)(P(0) + 1), ks = 2.0 / (double)(P(1) + 1), ad = 0, f = 0, sl = 0;
    size_t lb = (P(0) > P(1) ? P(0) : P(1)) - 1;
    for (size_t i = 0; i < N; i++) {
        ad += mfv(s, i);
        f = i ? f + (ad - f) * kf : ad;
        sl = i ? sl + (ad - sl) * ks : ad;
        o[i] = i >= lb ? f - sl : NAN;
    }
}

/* ---- the table: every registry indicator, at its defaults and at other parameters ---------
 * mode, one letter per output (missing = 'r'):
 *   r  |inc - batch| <= 1e-9 * |value|
 *   s  <= 1e-9 * the output's scale (its largest magnitude over the series): outputs that cross
 *      or touch zero (MACD, momentum, slopes, A/D) or are bounded (0..100 oscillators), where a
 *      value of 1e-14 against an exact 0 is rounding, not an error
 *   v  <= 1e-6 * the price level: TA-Lib's running variance (BBANDS, STDDEV), which Kestrel
 *      reproduces bit for bit as the issue requires, computes E[x^2] - E[x]^2 from running sums
 *      and so loses about half the digits against an exact two-pass deviation when the window
 *      is flat (a 2-bar window of equal closes gives a band 1e-3 wide at price 17,000). The
 *      agreement with TA-Lib itself is tested to 1e-9 in test_ta_talib.
 *   c  checked for consistency with the instance's own other outputs (Bollinger %B and
 *      bandwidth from its bands), since against exact bands they inherit the above */
typedef struct bcase {
    const char *name; /* registry name */
    batch_fn fn;
    const char *mode;
    const char *variants[4]; /* more specs ("" ends) */
} bcase;

static const bcase cases[] = {
    { "sma", b_sma, "r", { "sma_1", "sma_7", "sma_200" } },
    { "ema", b_ema, "r", { "ema_1", "ema_9", "ema_200" } },
    { "wma", b_wma, "r", { "wma_1", "wma_2", "wma_50" } },
    { "dema", b_dema, "r", { "dema_1", "dema_9" } },
    { "tema", b_tema, "r", { "tema_1", "tema_9" } },
    { "kama", b_kama, "r", { "kama_2", "kama_30" } },
    { "hma", b_hma, "r", { "hma_2", "hma_3", "hma_9", "hma_55" } },
    { "rsi", b_rsi, "s", { "rsi_2", "rsi_7", "rsi_50" } },
    { "stochrsi", b_stochrsi, "ss", { "stochrsi_2_1_1", "stochrsi_14_5_3" } },
    { "macd", b_macd, "sss", { "macd_1_1_1", "macd_5_13_4", "macd_26_12_9" } },
    { "bb", b_bb, "vrvcc", { "bb_2_1", "bb_50_2.5" } },
    { "atr", b_atr, "r", { "atr_1", "atr_5" } },
    { "natr", b_natr, "r", { "natr_1", "natr_30" } },
    { "stoch", b_stoch, "ss", { "stoch_1_1_1", "stoch_5_2_4" } },
    { "stochf", b_stochf, "ss", { "stochf_1_1", "stochf_9_5" } },
    { "adx", b_adx, "sss", { "adx_2", "adx_30" } },
    { "aroon", b_aroon, "sss", { "aroon_2", "aroon_25" } },
    { "cci", b_cci, "s", { "cci_2", "cci_50" } },
    { "mfi", b_mfi, "s", { "mfi_1", "mfi_30" } },
    { "obv", b_obv, "s", { "" } },
    { "vwap", b_vwap, "r", { "" } },
    { "roc", b_roc, "s", { "roc_1", "roc_30" } },
    { "mom", b_mom, "s", { "mom_1", "mom_30" } },
    { "willr", b_willr, "s", { "willr_1", "willr_30" } },
    { "sar", b_sar, "r", { "sar_0.2_0.02", "sar_0.01_0.1", "sar_0.05_0.5" } },
    { "ichimoku", b_ichimoku, "rrrrr", { "ichimoku_1_1_1_1", "ichimoku_20_60_120_30" } },
    { "keltner", b_keltner, "rrr", { "keltner_1_1_1", "keltner_10_1.5_30" } },
    { "donchian", b_donchian, "rrr", { "donchian_1", "donchian_55" } },
    { "supertrend", b_supertrend, "rs", { "supertrend_1_1", "supertrend_7_2.5" } },
    { "cmf", b_cmf, "s", { "cmf_1", "cmf_50" } },
    { "trix", b_trix, "s", { "trix_1", "trix_5" } },
    { "ultosc", b_ultosc, "s", { "ultosc_1_1_1", "ultosc_28_7_14", "ultosc_3_9_5" } },
    { "stddev", b_stddev, "v", { "stddev_2", "stddev_50" } },
    { "zscore", b_zscore, "s", { "zscore_2", "zscore_50" } },
    { "linreg_slope", b_linreg_slope, "s", { "linreg_slope_2", "linreg_slope_50" } },
    { "rvol", b_rvol, "s", { "rvol_2_525600", "rvol_50" } },
    { "ad", b_ad, "s", { "" } },
    { "adosc", b_adosc, "s", { "adosc_1_1", "adosc_5_20" } },
};

/* worst errors seen, per indicator name, for the summary */
static double worst_rel[64], worst_var[64]; /* 'v' outputs: against the price level */

/* Runs one spec both ways over s; returns the number of disagreements. */
static size_t compare(const series *s, const bcase *bc, int ci, const char *spec,
                      const char *label)
{
    char err[160];
    ta_ind *ind = ta_ind_new(spec, err, sizeof(err));
    CHECK(ind != NULL);
    if (!ind) {
        fprintf(stderr, "%s: %s\n", spec, err);
        return 1;
    }
    CHECK_STR(ta_ind_info(ind)->name, bc->name);
    uint32_t no = ta_ind_outputs(ind);
    double p[TA_MAX_PARAMS];
    for (uint32_t k = 0; k < TA_MAX_PARAMS; k++)
        p[k] = ta_ind_param(ind, k);
    double *want = xmalloc(s->n * no * sizeof(double)), *got = xmalloc(s->n * no * sizeof(double));
    bc->fn(s, p, want);
    for (size_t i = 0; i < s->n; i++)
        ta_ind_update(ind, &s->b[i], got + i * no);
    double price = 0;
    for (size_t i = 0; i < s->n; i++)
        price = fmax(price, fabs(s->c[i]));
    size_t bad = 0;
    for (uint32_t k = 0; k < no; k++) {
        char mode = k < strlen(bc->mode) ? bc->mode[k] : 'r';
        double scale = 0;
        for (size_t i = 0; i < s->n; i++)
            if (isfinite(want[i * no + k]))
                scale = fmax(scale, fabs(want[i * no + k]));
        for (size_t i = 0; i < s->n; i++) {
            double a = got[i * no + k], b = want[i * no + k];
            if (isnan(a) || isnan(b)) {
                if (isnan(a) != isnan(b) && bad++ < 5)
                    fprintf(stderr, "%s %s: %s at bar %zu: incremental %.17g, batch %.17g "
                                    "(warm-up differs)\n",
                            label, spec, ta_ind_output_name(ind, k), i, a, b);
                continue;
            }
            double ref = mode == 's' ? scale : mode == 'v' ? price : fmax(fabs(a), fabs(b));
            double tol = mode == 'v' ? 1e-6 : 1e-9;
            if (mode == 'c') { /* Bollinger %B, bandwidth from the instance's own bands */
                const double *g = got + i * no;
                double w = g[0] - g[2];
                b = k == 3 ? (w != 0.0 ? (s->c[i] - g[2]) / w : 0.5)
                           : (g[1] != 0.0 ? 100.0 * w / g[1] : 0.0);
                ref = fmax(fabs(a), fabs(b));
            }
            double rel = ref > 0 ? fabs(a - b) / ref : fabs(a - b);
            double *w = mode == 'v' ? &worst_var[ci] : &worst_rel[ci];
            if (rel > *w)
                *w = rel;
            if (rel > tol && bad++ < 5)
                fprintf(stderr, "%s %s: %s at bar %zu: incremental %.17g, batch %.17g (rel %g)\n",
                        label, spec, ta_ind_output_name(ind, k), i, a, b, rel);
        }
    }
    free(want);
    free(got);
    ta_ind_free(ind);
    return bad;
}

static void run_file(const char *rel, const char *label, size_t expect_min)
{
    char path[512];
    tt_path(path, sizeof(path), rel);
    tt_bars d = tt_load_bars(path);
    CHECK(d.n >= expect_min);
    if (d.n == 0)
        return;
    double *cols = xmalloc(4 * d.n * sizeof(double));
    series s = { d.b, d.n, cols, cols + d.n, cols + 2 * d.n, cols + 3 * d.n };
    for (size_t i = 0; i < d.n; i++) {
        cols[i] = d.b[i].c;
        cols[d.n + i] = d.b[i].h;
        cols[2 * d.n + i] = d.b[i].l;
        cols[3 * d.n + i] = d.b[i].v;
    }
    size_t specs = 0, bad = 0;
    for (size_t c = 0; c < K_ARRAY_LEN(cases); c++) {
        const bcase *bc = &cases[c];
        bad += compare(&s, bc, (int)c, bc->name, label);
        specs++;
        for (int v = 0; v < 4 && bc->variants[v] && bc->variants[v][0]; v++) {
            bad += compare(&s, bc, (int)c, bc->variants[v], label);
            specs++;
        }
    }
    CHECK_INT(bad, 0);
    printf("%s: %zu bars, %zu indicator instances: incremental == batch (%zu disagreements)\n",
           label, d.n, specs, bad);
    free(cols);
    free(d.b);
}

int main(void)
{
    /* every registry indicator has a batch twin here */
    for (uint32_t i = 0; i < ta_info_count(); i++) {
        bool found = false;
        for (size_t c = 0; c < K_ARRAY_LEN(cases); c++)
            found |= strcmp(cases[c].name, ta_info_at(i)->name) == 0;
        if (!found)
            fprintf(stderr, "no batch implementation for %s\n", ta_info_at(i)->name);
        CHECK(found);
    }
    CHECK_INT(K_ARRAY_LEN(cases), ta_info_count());
    run_file("klines/lean_binance_BTCBUSD_1m_2022-12-13.csv", "BTCBUSD 1m day", 1440);
    run_file("klines/lean_coinbase_ETHUSD_1m_2018-04-04_05.csv", "Coinbase ETHUSD 1m, gaps", 2000);
    run_file("klines/octobot/binance_ETHUSDT_4h_1703923200.csv", "ETHUSDT 4h", 500);
    run_file("klines/jesse/test_candles_sol.csv", "SOL (~10)", 300);
    run_file("klines/btc-perp_1m_2021-12-31_2022-02-01.csv.gz", "BTC perp 1m month", 45031);
    printf("worst relative difference per indicator:\n");
    for (size_t c = 0; c < K_ARRAY_LEN(cases); c++)
        printf("  %-13s %.3g%s\n", cases[c].name, worst_rel[c],
               worst_var[c] > 0 ? "  (running-variance outputs: see below)" : "");
    for (size_t c = 0; c < K_ARRAY_LEN(cases); c++)
        if (worst_var[c] > 0)
            printf("%s: TA-Lib's running variance vs an exact two-pass one: worst %.3g of the "
                   "price level\n", cases[c].name, worst_var[c]);
    CHECK_DONE();
}
