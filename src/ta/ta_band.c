/* Volatility, bands and trend-following overlays: Bollinger, ATR, NATR, Keltner, Donchian,
 * SuperTrend, Parabolic SAR, Ichimoku, rolling standard deviation, z-score and realised
 * volatility. The TA-Lib ones (BBANDS, ATR, NATR, SAR, STDDEV) repeat TA-Lib's arithmetic in
 * order; Keltner, Donchian and Ichimoku are built from those same exact pieces, so they equal
 * the corresponding compositions of TA-Lib functions. The z-score and realised volatility, which
 * TA-Lib lacks, are computed two-pass over their window instead of from running sums of squares
 * (see zscore_step). */
#include "ta_impl.h"

#define PI(k) ((uint32_t)p[k])
#define PN(nm, d, lo) TA_P((nm), (d), (lo), TA_PERIOD_MAX)
#define OUT_OVL(pfx, lbl) { (pfx), (lbl), TA_OVERLAY, TA_LINE, 0, TA_AUTO, 0, { 0 } }
#define OUT_OSC(pfx, lbl, nl, ...) \
    { (pfx), (lbl), TA_OSCILLATOR, TA_LINE, 0, TA_AUTO, (nl), { __VA_ARGS__ } }

/* ---- TA-Lib ATR: TR from the second bar, seeded with the SMA of the first n TRs, then
 * Wilder's smoothing; period 1 is the plain true range ---- */
typedef struct ta_atr {
    double pc, sum, atr;
    uint32_t n;
    uint64_t cnt;
} ta_atr;

static void ta_atr_init(ta_atr *a, uint32_t n)
{
    a->n = n;
    a->pc = a->sum = a->atr = 0.0;
    a->cnt = 0;
}
static double ta_atr_step(ta_atr *a, const ta_bar *b, bool commit)
{
    double sum = a->sum, atr = a->atr, out = NAN;
    uint64_t i = a->cnt;
    if (i > 0) {
        double tr = ta_true_range(b->h, b->l, a->pc);
        if (a->n <= 1) {
            out = tr;
        } else if (i < a->n) {
            sum += tr;
        } else if (i == a->n) {
            sum += tr;
            atr = sum / a->n;
            out = atr;
        } else {
            atr *= (double)(a->n - 1);
            atr += tr;
            atr /= a->n;
            out = atr;
        }
    }
    if (commit) {
        a->sum = sum;
        a->atr = atr;
        a->pc = b->c;
        a->cnt++;
    }
    return out;
}

static void lb_n(const double *p, uint32_t *lb)
{
    lb[0] = PI(0);
}
static void lb_n_minus_1(const double *p, uint32_t *lb)
{
    lb[0] = PI(0) - 1;
}

typedef struct { ta_atr a; } atr_st;
static void atr_init(void *st, const double *p, ta_arena *ar)
{
    (void)ar;
    ta_atr_init(&((atr_st *)st)->a, PI(0));
}
static void atr_step(void *st, const ta_bar *b, uint64_t i, double *out, bool commit)
{
    (void)i;
    out[0] = ta_atr_step(&((atr_st *)st)->a, b, commit);
}
const ta_impl ta_impl_atr = {
    .info = { "atr", "Average true range (Wilder)", "ATR", TA_OSCILLATOR, 1,
              { PN("period", 14, 1) }, 1, { OUT_OSC("atr", "atr", 0, 0) } },
    .state_size = sizeof(atr_st), .init = atr_init, .lookback = lb_n, .step = atr_step,
};

static void natr_step(void *st, const ta_bar *b, uint64_t i, double *out, bool commit)
{
    (void)i;
    double a = ta_atr_step(&((atr_st *)st)->a, b, commit);
    out[0] = isnan(a) ? NAN : !ta_is_zero(b->c) ? (a / b->c) * 100.0 : 0.0;
}
const ta_impl ta_impl_natr = {
    .info = { "natr", "Normalised ATR, percent of close", "NATR", TA_OSCILLATOR, 1,
              { PN("period", 14, 1) }, 1, { OUT_OSC("natr", "natr", 0, 0) } },
    .state_size = sizeof(atr_st), .init = atr_init, .lookback = lb_n, .step = natr_step,
};

/* ---- Bollinger bands: SMA middle, population stddev from TA-Lib's running sum of squares
 * (INT_stddev_using_precalc_ma); %B = (close-lower)/(upper-lower) (0.5 when the bands meet),
 * bandwidth = 100*(upper-lower)/middle ---- */
typedef struct { ta_sma m; double sq, k; } bb_st;
static void bb_init(void *st, const double *p, ta_arena *a)
{
    bb_st *s = st;
    ta_sma_init(&s->m, PI(0), a);
    s->k = p[1];
}
static void bb_lb(const double *p, uint32_t *lb)
{
    for (int k = 0; k < 5; k++)
        lb[k] = PI(0) - 1;
}
static void bb_step(void *st, const ta_bar *b, uint64_t i, double *out, bool commit)
{
    bb_st *s = st;
    uint32_t n = s->m.n;
    double x = b->c, trailing = n == 1 ? x : ta_ring_back(&s->m.r, n - 1);
    double mid = ta_sma_step(&s->m, x, commit);
    double sq = s->sq + x * x;
    for (int k = 0; k < 5; k++)
        out[k] = NAN;
    if (i + 1 >= n) {
        double mean2 = sq / n;
        sq -= trailing * trailing;
        mean2 -= mid * mid;
        double sd = !ta_is_zero_or_neg(mean2) ? sqrt(mean2) : 0.0;
        double dev = sd * s->k;
        out[0] = mid + dev;
        out[1] = mid;
        out[2] = mid - dev;
        double w = out[0] - out[2];
        out[3] = w != 0.0 ? (x - out[2]) / w : 0.5;
        out[4] = mid != 0.0 ? 100.0 * w / mid : 0.0;
    }
    if (commit)
        s->sq = sq;
}
const ta_impl ta_impl_bb = {
    .info = { "bb", "Bollinger bands (SMA, population stddev), %B, bandwidth %", "BBANDS",
              TA_OVERLAY, 2, { PN("period", 20, 2), TA_PR("mult", 2, 0.01, 100) }, 5,
              { OUT_OVL("bb_upper", "upper"), OUT_OVL("bb_middle", "middle"),
                OUT_OVL("bb_lower", "lower"), OUT_OSC("bb_pctb", "%b", 2, 0, 1),
                OUT_OSC("bb_width", "width", 0, 0) } },
    .state_size = sizeof(bb_st), .init = bb_init, .lookback = bb_lb, .step = bb_step,
};

/* ---- TA-Lib INT_VAR: running sums of x and x^2, var = E[x^2] - E[x]^2 ---- */
typedef struct ta_var {
    ta_ring r;
    double s1, s2;
    uint32_t n;
    uint64_t cnt;
} ta_var;
static void ta_var_init(ta_var *v, uint32_t n, ta_arena *a)
{
    v->n = n;
    v->s1 = v->s2 = 0.0;
    v->cnt = 0;
    ta_ring_init(&v->r, n, a);
}
/* Returns the variance (NaN while warming up); *mean gets the window mean. */
static double ta_var_step(ta_var *v, double x, bool commit, double *mean)
{
    double s1 = v->s1 + x, s2 = v->s2, out = NAN, t = x;
    t *= t;
    s2 += t;
    *mean = NAN;
    if (v->cnt + 1 >= v->n) {
        double m1 = s1 / v->n, m2 = s2 / v->n;
        double tr = v->n == 1 ? x : ta_ring_back(&v->r, v->n - 1);
        s1 -= tr;
        tr *= tr;
        s2 -= tr;
        out = m2 - m1 * m1;
        *mean = m1;
    }
    if (commit) {
        v->s1 = s1;
        v->s2 = s2;
        ta_ring_push(&v->r, x);
        v->cnt++;
    }
    return out;
}
static double var_to_sd(double var)
{
    return !ta_is_zero_or_neg(var) ? sqrt(var) : 0.0;
}

typedef struct { ta_var v; } var_st;
static void var_init(void *st, const double *p, ta_arena *a)
{
    ta_var_init(&((var_st *)st)->v, PI(0), a);
}
static void stddev_step(void *st, const ta_bar *b, uint64_t i, double *out, bool commit)
{
    double mean, var = ta_var_step(&((var_st *)st)->v, b->c, commit, &mean);
    (void)i;
    out[0] = isnan(var) ? NAN : var_to_sd(var);
}
const ta_impl ta_impl_stddev = {
    .info = { "stddev", "Rolling standard deviation of the close (population)", "STDDEV",
              TA_OSCILLATOR, 1, { PN("period", 20, 2) }, 1, { OUT_OSC("stddev", "sd", 0, 0) } },
    .state_size = sizeof(var_st), .init = var_init, .lookback = lb_n_minus_1,
    .step = stddev_step,
};

/* Mean and sum of squared deviations of a full window: the ring minus its slot `pos` (the
 * oldest value, about to leave; while the ring is filling, the unused slot) plus x. Corrected
 * two-pass (Chan, Golub & LeVeque): m = sum / n, then with d = v - m, the mean is refined to
 * m + sum(d) / n and ss = sum(d^2) - sum(d)^2 / n. Without the correction a flat window whose
 * rounded mean is one ulp off its values gives a deviation of one ulp and a z-score of +-1;
 * with it, a flat window has exactly ss = 0 and mean = its value. Contiguous ranges with
 * several accumulators, so the additions are not one long dependency chain. */
static double span_sum(const double *v, uint32_t n)
{
    double a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    uint32_t j = 0;
    for (; j + 4 <= n; j += 4) {
        a0 += v[j];
        a1 += v[j + 1];
        a2 += v[j + 2];
        a3 += v[j + 3];
    }
    for (; j < n; j++)
        a0 += v[j];
    return (a0 + a1) + (a2 + a3);
}
static void span_dev(const double *v, uint32_t n, double m, double *sd, double *sd2)
{
    double d0 = 0, d1 = 0, q0 = 0, q1 = 0;
    uint32_t j = 0;
    for (; j + 2 <= n; j += 2) {
        double e0 = v[j] - m, e1 = v[j + 1] - m;
        d0 += e0;
        d1 += e1;
        q0 += e0 * e0;
        q1 += e1 * e1;
    }
    if (j < n) {
        double e0 = v[j] - m;
        d0 += e0;
        q0 += e0 * e0;
    }
    *sd += d0 + d1;
    *sd2 += q0 + q1;
}
static double ring_moments(const ta_ring *r, double x, uint32_t n, double *mean)
{
    const double *hi = r->buf + r->pos + 1;
    uint32_t nhi = r->n - r->pos - 1;
    double m = (x + span_sum(r->buf, r->pos) + span_sum(hi, nhi)) / n;
    double d = x - m, d2 = d * d;
    span_dev(r->buf, r->pos, m, &d, &d2);
    span_dev(hi, nhi, m, &d, &d2);
    *mean = m + d / n;
    double ss = d2 - (d * d) / n;
    return ss > 0.0 ? ss : 0.0;
}

/* ---- Z-score: (close - mean) / population stddev over n closes, two-pass over the window.
 * Not TA-Lib's running E[x^2] - E[x]^2: at price 1e4-1e5 that cancels to ~1e-7 of the price,
 * which on flat or nearly flat windows (common on 1s bars) turns z into noise (a 2-bar window
 * of equal closes gave +-1 instead of 0). O(n) per bar, like CCI. ---- */
typedef struct { ta_ring r; uint32_t n; } zscore_st;
static void zscore_init(void *st, const double *p, ta_arena *a)
{
    zscore_st *s = st;
    s->n = PI(0);
    ta_ring_init(&s->r, s->n, a);
}
static void zscore_step(void *st, const ta_bar *b, uint64_t i, double *out, bool commit)
{
    zscore_st *s = st;
    uint32_t n = s->n;
    double x = b->c;
    out[0] = NAN;
    if (i + 1 >= n) {
        double m, sd = sqrt(ring_moments(&s->r, x, n, &m) / n);
        out[0] = sd > 0.0 ? (x - m) / sd : 0.0;
    }
    if (commit)
        ta_ring_push(&s->r, x);
}
const ta_impl ta_impl_zscore = {
    .info = { "zscore", "Z-score of the close: (close - mean) / population stddev", NULL,
              TA_OSCILLATOR, 1, { PN("period", 20, 2) }, 1,
              { OUT_OSC("zscore", "z", 3, -2, 0, 2) } },
    .state_size = sizeof(zscore_st), .init = zscore_init, .lookback = lb_n_minus_1,
    .step = zscore_step,
};

/* ---- Realised volatility: sample stddev (n-1) of the last n log returns, in percent,
 * times sqrt(periods_per_year) when that parameter is > 0. Two-pass over the ring of returns
 * (running sums of r and r^2 lose most digits when the returns are nearly equal). ---- */
typedef struct {
    ta_ring r; /* the last n log returns */
    double pc, ann;
    uint32_t n;
} rvol_st;
static void rvol_init(void *st, const double *p, ta_arena *a)
{
    rvol_st *s = st;
    s->n = PI(0);
    s->ann = p[1] > 0 ? sqrt(p[1]) : 1.0;
    ta_ring_init(&s->r, s->n, a);
}
static void rvol_step(void *st, const ta_bar *b, uint64_t i, double *out, bool commit)
{
    rvol_st *s = st;
    uint32_t n = s->n;
    out[0] = NAN;
    if (i == 0) {
        if (commit)
            s->pc = b->c;
        return;
    }
    double r = s->pc > 0 && b->c > 0 ? log(b->c / s->pc) : 0.0;
    if (i >= n) { /* n returns: this one and the n-1 before it */
        double m;
        out[0] = 100.0 * sqrt(ring_moments(&s->r, r, n, &m) / (n - 1)) * s->ann;
    }
    if (commit) {
        s->pc = b->c;
        ta_ring_push(&s->r, r);
    }
}
const ta_impl ta_impl_rvol = {
    .info = { "rvol", "Realised volatility: stddev of log returns, percent (annualised by P>0)",
              NULL, TA_OSCILLATOR, 2,
              { PN("period", 20, 2), TA_P("annual", 0, 0, 1e8) }, 1,
              { OUT_OSC("rvol", "rvol", 0, 0) } },
    .state_size = sizeof(rvol_st), .init = rvol_init, .lookback = lb_n, .step = rvol_step,
};

/* ---- Keltner channels: EMA(n) middle +- mult * ATR(atr_n) ---- */
typedef struct { ta_ema e; ta_atr a; double m; } keltner_st;
static void keltner_init(void *st, const double *p, ta_arena *ar)
{
    keltner_st *s = st;
    (void)ar;
    ta_ema_init(&s->e, PI(0), 0);
    ta_atr_init(&s->a, PI(2));
    s->m = p[1];
}
static void keltner_lb(const double *p, uint32_t *lb)
{
    uint32_t x = PI(0) - 1 > PI(2) ? PI(0) - 1 : PI(2);
    lb[0] = lb[1] = lb[2] = x;
}
static void keltner_step(void *st, const ta_bar *b, uint64_t i, double *out, bool commit)
{
    keltner_st *s = st;
    (void)i;
    double mid = ta_ema_step(&s->e, b->c, commit), atr = ta_atr_step(&s->a, b, commit);
    out[0] = mid + s->m * atr;
    out[1] = mid;
    out[2] = mid - s->m * atr;
}
const ta_impl ta_impl_keltner = {
    .info = { "keltner", "Keltner channels: EMA +- mult * ATR", NULL, TA_OVERLAY, 3,
              { PN("period", 20, 1), TA_PR("mult", 2, 0.01, 100), PN("atr", 10, 1) }, 3,
              { OUT_OVL("keltner_upper", "upper"), OUT_OVL("keltner_middle", "middle"),
                OUT_OVL("keltner_lower", "lower") } },
    .state_size = sizeof(keltner_st), .init = keltner_init, .lookback = keltner_lb,
    .step = keltner_step,
};

/* ---- Donchian channels: highest high / lowest low over n bars (current included) ---- */
typedef struct { ta_mono hi, lo; } donchian_st;
static void donchian_init(void *st, const double *p, ta_arena *a)
{
    donchian_st *s = st;
    ta_mono_init(&s->hi, PI(0), true, a);
    ta_mono_init(&s->lo, PI(0), false, a);
}
static void donchian_lb(const double *p, uint32_t *lb)
{
    lb[0] = lb[1] = lb[2] = PI(0) - 1;
}
static void donchian_step(void *st, const ta_bar *b, uint64_t i, double *out, bool commit)
{
    donchian_st *s = st;
    out[0] = ta_max_step(&s->hi, i, b->h, commit, NULL);
    out[2] = ta_min_step(&s->lo, i, b->l, commit, NULL);
    out[1] = (out[0] + out[2]) / 2.0;
}
const ta_impl ta_impl_donchian = {
    .info = { "donchian", "Donchian channels", NULL, TA_OVERLAY, 1, { PN("period", 20, 1) }, 3,
              { OUT_OVL("donchian_upper", "upper"), OUT_OVL("donchian_middle", "middle"),
                OUT_OVL("donchian_lower", "lower") } },
    .state_size = sizeof(donchian_st), .init = donchian_init, .lookback = donchian_lb,
    .step = donchian_step,
};

/* ---- Ichimoku. Outputs are the values computed AT each bar from data up to it (causal);
 * drawing displaces senkou A/B forward and chikou back by (displacement - 1) bars, which is
 * TradingView's convention (offset 25 for displacement 26). The cloud facing bar i is
 * therefore the senkou values of bar i - 25. ---- */
typedef struct { ta_mono th, tl, kh, kl, sh, sl; } ichimoku_st;
static void ichimoku_init(void *st, const double *p, ta_arena *a)
{
    ichimoku_st *s = st;
    ta_mono_init(&s->th, PI(0), true, a);
    ta_mono_init(&s->tl, PI(0), false, a);
    ta_mono_init(&s->kh, PI(1), true, a);
    ta_mono_init(&s->kl, PI(1), false, a);
    ta_mono_init(&s->sh, PI(2), true, a);
    ta_mono_init(&s->sl, PI(2), false, a);
}
static void ichimoku_lb(const double *p, uint32_t *lb)
{
    lb[0] = PI(0) - 1;
    lb[1] = PI(1) - 1;
    lb[2] = (PI(0) > PI(1) ? PI(0) : PI(1)) - 1;
    lb[3] = PI(2) - 1;
    lb[4] = 0;
}
static int ichimoku_shift(const double *p, uint32_t k)
{
    int d = (int)p[3] - 1;
    return k == 2 || k == 3 ? d : k == 4 ? -d : 0;
}
static void ichimoku_step(void *st, const ta_bar *b, uint64_t i, double *out, bool commit)
{
    ichimoku_st *s = st;
    double th = ta_max_step(&s->th, i, b->h, commit, NULL);
    double tl = ta_min_step(&s->tl, i, b->l, commit, NULL);
    double kh = ta_max_step(&s->kh, i, b->h, commit, NULL);
    double kl = ta_min_step(&s->kl, i, b->l, commit, NULL);
    double sh = ta_max_step(&s->sh, i, b->h, commit, NULL);
    double sl = ta_min_step(&s->sl, i, b->l, commit, NULL);
    out[0] = (th + tl) / 2.0;
    out[1] = (kh + kl) / 2.0;
    out[2] = (out[0] + out[1]) / 2.0;
    out[3] = (sh + sl) / 2.0;
    out[4] = b->c;
}
const ta_impl ta_impl_ichimoku = {
    .info = { "ichimoku", "Ichimoku cloud (senkou drawn forward, chikou back)", NULL, TA_OVERLAY,
              4, { PN("tenkan", 9, 1), PN("kijun", 26, 1), PN("senkou", 52, 1),
                   PN("displacement", 26, 1) }, 5,
              { OUT_OVL("ichimoku_tenkan", "tenkan"), OUT_OVL("ichimoku_kijun", "kijun"),
                { "ichimoku_senkou_a", "senkou a", TA_OVERLAY, TA_LINE, 25, TA_AUTO, 0, { 0 } },
                { "ichimoku_senkou_b", "senkou b", TA_OVERLAY, TA_LINE, 25, TA_AUTO, 0, { 0 } },
                { "ichimoku_chikou", "chikou", TA_OVERLAY, TA_LINE, -25, TA_AUTO, 0, { 0 } } } },
    .state_size = sizeof(ichimoku_st), .init = ichimoku_init, .lookback = ichimoku_lb,
    .shift = ichimoku_shift, .step = ichimoku_step,
};

/* ---- SuperTrend (TradingView's ta.supertrend on hl2, with TA-Lib's ATR). dir = +1 in an
 * up-trend (line under price), -1 in a down-trend; TradingView reports the opposite sign. ---- */
typedef struct {
    ta_atr a;
    double m, fu, fl, pc;
    int dir; /* 0 = no band yet */
} supertrend_st;
static void supertrend_init(void *st, const double *p, ta_arena *ar)
{
    supertrend_st *s = st;
    (void)ar;
    ta_atr_init(&s->a, PI(0));
    s->m = p[1];
}
static void supertrend_lb(const double *p, uint32_t *lb)
{
    lb[0] = lb[1] = PI(0);
}
static void supertrend_step(void *st, const ta_bar *b, uint64_t i, double *out, bool commit)
{
    supertrend_st *s = st, t = *s;
    (void)i;
    double atr = ta_atr_step(&s->a, b, commit);
    out[0] = out[1] = NAN;
    if (!isnan(atr)) {
        double hl2 = (b->h + b->l) / 2.0, bu = hl2 + t.m * atr, bl = hl2 - t.m * atr;
        if (!t.dir) {
            t.fu = bu;
            t.fl = bl;
            t.dir = -1;
        } else {
            double fl = (bl > t.fl || t.pc < t.fl) ? bl : t.fl;
            double fu = (bu < t.fu || t.pc > t.fu) ? bu : t.fu;
            if (t.dir < 0)
                t.dir = b->c > fu ? 1 : -1;
            else
                t.dir = b->c < fl ? -1 : 1;
            t.fu = fu;
            t.fl = fl;
        }
        out[0] = t.dir > 0 ? t.fl : t.fu;
        out[1] = t.dir;
    }
    if (commit) {
        s->fu = t.fu;
        s->fl = t.fl;
        s->dir = t.dir;
        s->pc = b->c;
    }
}
const ta_impl ta_impl_supertrend = {
    .info = { "supertrend", "SuperTrend (hl2 +- mult * ATR, trailing)", NULL, TA_OVERLAY, 2,
              { PN("period", 10, 1), TA_PR("mult", 3, 0.01, 100) }, 2,
              { OUT_OVL("supertrend", "supertrend"),
                { "supertrend_dir", "dir", TA_OSCILLATOR, TA_LINE, 0, -1, 1, 1, { 0 } } } },
    .state_size = sizeof(supertrend_st), .init = supertrend_init, .lookback = supertrend_lb,
    .step = supertrend_step,
};

/* ---- Parabolic SAR (TA-Lib SAR: direction from the first bars' -DM, the value output for a
 * bar is the stop in force during it) ---- */
typedef struct {
    double accel, max, af, ep, sar, nh, nl;
    bool is_long;
} sar_st;
static void sar_init(void *st, const double *p, ta_arena *a)
{
    sar_st *s = st;
    (void)a;
    s->accel = p[0];
    s->max = p[1];
    if (s->accel > s->max)
        s->accel = s->max;
    s->af = s->accel;
}
static void sar_lb(const double *p, uint32_t *lb)
{
    (void)p;
    lb[0] = 1;
}
static void sar_step(void *st, const ta_bar *b, uint64_t i, double *out, bool commit)
{
    sar_st *s = st, t = *s;
    double ph, pl;
    out[0] = NAN;
    if (i == 0) {
        t.nh = b->h;
        t.nl = b->l;
        if (commit)
            *s = t;
        return;
    }
    if (i == 1) {
        double dp = b->h - t.nh, dm = t.nl - b->l;
        t.is_long = !((dm > 0) && (dp < dm));
        if (t.is_long) {
            t.ep = b->h;
            t.sar = t.nl;
        } else {
            t.ep = b->l;
            t.sar = t.nh;
        }
        ph = b->h; /* TA-Lib starts with the second bar as its own "previous" bar */
        pl = b->l;
    } else {
        ph = t.nh;
        pl = t.nl;
    }
    double nh = b->h, nl = b->l;
    if (t.is_long) {
        if (nl <= t.sar) {
            t.is_long = false;
            t.sar = t.ep;
            if (t.sar < ph)
                t.sar = ph;
            if (t.sar < nh)
                t.sar = nh;
            out[0] = t.sar;
            t.af = t.accel;
            t.ep = nl;
            t.sar = t.sar + t.af * (t.ep - t.sar);
            if (t.sar < ph)
                t.sar = ph;
            if (t.sar < nh)
                t.sar = nh;
        } else {
            out[0] = t.sar;
            if (nh > t.ep) {
                t.ep = nh;
                t.af += t.accel;
                if (t.af > t.max)
                    t.af = t.max;
            }
            t.sar = t.sar + t.af * (t.ep - t.sar);
            if (t.sar > pl)
                t.sar = pl;
            if (t.sar > nl)
                t.sar = nl;
        }
    } else {
        if (nh >= t.sar) {
            t.is_long = true;
            t.sar = t.ep;
            if (t.sar > pl)
                t.sar = pl;
            if (t.sar > nl)
                t.sar = nl;
            out[0] = t.sar;
            t.af = t.accel;
            t.ep = nh;
            t.sar = t.sar + t.af * (t.ep - t.sar);
            if (t.sar > pl)
                t.sar = pl;
            if (t.sar > nl)
                t.sar = nl;
        } else {
            out[0] = t.sar;
            if (nl < t.ep) {
                t.ep = nl;
                t.af += t.accel;
                if (t.af > t.max)
                    t.af = t.max;
            }
            t.sar = t.sar + t.af * (t.ep - t.sar);
            if (t.sar < ph)
                t.sar = ph;
            if (t.sar < nh)
                t.sar = nh;
        }
    }
    t.nh = nh;
    t.nl = nl;
    if (commit)
        *s = t;
}
const ta_impl ta_impl_sar = {
    .info = { "sar", "Parabolic SAR", "SAR", TA_OVERLAY, 2,
              { TA_PR("accel", 0.02, 0.0001, 1), TA_PR("max", 0.2, 0.0001, 10) }, 1,
              { { "sar", "sar", TA_OVERLAY, TA_DOTS, 0, TA_AUTO, 0, { 0 } } } },
    .state_size = sizeof(sar_st), .init = sar_init, .lookback = sar_lb,
    .step = sar_step,
};
