/* Oscillators: RSI, StochRSI, MACD, slow and fast stochastics, ADX with +DI/-DI, Aroon, CCI,
 * ROC, momentum, Williams %R, the ultimate oscillator and the linear-regression slope.
 * All reproduce TA-Lib's functions of the same name step by step (Wilder smoothing seeded the
 * TA-Lib way, SMA-seeded EMAs, MACD's late-seeded fast EMA, TA_IS_ZERO guards), so values agree
 * with TA-Lib bit for bit over a whole series. */
#include "ta_impl.h"

#define PI(k) ((uint32_t)p[k])
#define PN(nm, d, lo) TA_P((nm), (d), (lo), TA_PERIOD_MAX)
#define OUT_BOUNDED(pfx, lbl, lo, hi, nl, ...) \
    { (pfx), (lbl), TA_OSCILLATOR, TA_LINE, 0, (lo), (hi), (nl), { __VA_ARGS__ } }
#define OUT_FREE(pfx, lbl, nl, ...) \
    { (pfx), (lbl), TA_OSCILLATOR, TA_LINE, 0, TA_AUTO, (nl), { __VA_ARGS__ } }

/* ---- RSI (Wilder) ---- */
typedef struct ta_rsi {
    double prev, gain, loss;
    uint32_t n;
    uint64_t cnt;
} ta_rsi;

static double rsi_value(double gain, double loss)
{
    double t = gain + loss;
    return !ta_is_zero(t) ? 100.0 * (gain / t) : 0.0;
}
static double rsi_step_x(ta_rsi *r, double x, bool commit)
{
    double gain = r->gain, loss = r->loss, out = NAN;
    uint32_t n = r->n;
    if (r->cnt > 0) {
        double d = x - r->prev;
        /* TA-Lib adds d to one of the two; adding +0.0 to the other changes no bit, and
         * keeps the unpredictable sign test out of a branch */
        double up = d < 0 ? 0.0 : d, down = d < 0 ? d : 0.0;
        if (r->cnt <= n) {
            loss -= down;
            gain += up;
            if (r->cnt == n) {
                loss /= n;
                gain /= n;
                out = rsi_value(gain, loss);
            }
        } else {
            loss *= (double)(n - 1);
            gain *= (double)(n - 1);
            loss -= down;
            gain += up;
            loss /= n;
            gain /= n;
            out = rsi_value(gain, loss);
        }
    }
    if (commit) {
        r->prev = x;
        r->gain = gain;
        r->loss = loss;
        r->cnt++;
    }
    return out;
}

typedef struct { ta_rsi r; } rsi_st;
static void rsi_init(void *st, const double *p, ta_arena *a)
{
    (void)a;
    ((rsi_st *)st)->r.n = PI(0);
}
static void lb_n(const double *p, uint32_t *lb)
{
    lb[0] = PI(0);
}
static void rsi_step(void *st, const ta_bar *b, uint64_t i, double *out, bool commit)
{
    (void)i;
    out[0] = rsi_step_x(&((rsi_st *)st)->r, b->c, commit);
}
const ta_impl ta_impl_rsi = {
    .info = { "rsi", "Relative strength index (Wilder)", "RSI", TA_OSCILLATOR, 1,
              { PN("period", 14, 2) }, 1, { OUT_BOUNDED("rsi", "rsi", 0, 100, 2, 30, 70) } },
    .state_size = sizeof(rsi_st), .init = rsi_init, .lookback = lb_n, .step = rsi_step,
};

/* ---- Stochastic %K of a series: (x - lowest) / ((highest - lowest) / 100), TA-Lib's form ---- */
static double stoch_k(double x, double hi, double lo)
{
    double diff = (hi - lo) / 100.0;
    return diff != 0.0 ? (x - lo) / diff : 0.0;
}

/* ---- StochRSI: TA-Lib STOCHRSI = STOCHF(fastk, fastd SMA) over RSI values ---- */
typedef struct {
    ta_rsi r;
    ta_mono hi, lo;
    ta_sma d;
    uint64_t nrsi; /* RSI values seen */
} stochrsi_st;
static void stochrsi_init(void *st, const double *p, ta_arena *a)
{
    stochrsi_st *s = st;
    s->r.n = PI(0);
    ta_mono_init(&s->hi, PI(1), true, a);
    ta_mono_init(&s->lo, PI(1), false, a);
    ta_sma_init(&s->d, PI(2), a);
}
static void stochrsi_lb(const double *p, uint32_t *lb)
{
    lb[0] = lb[1] = PI(0) + (PI(1) - 1) + (PI(2) - 1);
}
static void stochrsi_step(void *st, const ta_bar *b, uint64_t i, double *out, bool commit)
{
    stochrsi_st *s = st;
    (void)i;
    out[0] = out[1] = NAN;
    double r = rsi_step_x(&s->r, b->c, commit);
    if (isnan(r))
        return;
    double hi = ta_max_step(&s->hi, s->nrsi, r, commit, NULL);
    double lo = ta_min_step(&s->lo, s->nrsi, r, commit, NULL);
    if (s->nrsi + 1 >= s->hi.n) {
        out[0] = stoch_k(r, hi, lo);
        out[1] = ta_sma_step(&s->d, out[0], commit);
    }
    if (commit)
        s->nrsi++;
}
const ta_impl ta_impl_stochrsi = {
    .info = { "stochrsi", "Stochastic RSI (fast %K over RSI, %D = SMA)", "STOCHRSI",
              TA_OSCILLATOR, 3, { PN("period", 14, 2), PN("k", 14, 1), PN("d", 3, 1) }, 2,
              { OUT_BOUNDED("stochrsi_k", "k", 0, 100, 2, 20, 80),
                OUT_BOUNDED("stochrsi_d", "d", 0, 100, 2, 20, 80) } },
    .state_size = sizeof(stochrsi_st), .init = stochrsi_init, .lookback = stochrsi_lb,
    .step = stochrsi_step,
};

/* ---- MACD: TA-Lib MACD (not MACDFIX): slow EMA seeded by its first SMA, fast EMA seeded by
 * the SMA of the `fast` closes that end where the slow seed ends; signal = EMA of the line ---- */
typedef struct { ta_ema fast, slow, sig; } macd_st;
static void macd_periods(const double *p, uint32_t *f, uint32_t *sl)
{
    *f = PI(0);
    *sl = PI(1);
    if (*sl < *f) { /* TA-Lib swaps them */
        uint32_t t = *f;
        *f = *sl;
        *sl = t;
    }
}
static void macd_init(void *st, const double *p, ta_arena *a)
{
    macd_st *s = st;
    uint32_t f, sl;
    (void)a;
    macd_periods(p, &f, &sl);
    ta_ema_init(&s->slow, sl, 0);
    ta_ema_init(&s->fast, f, sl - f);
    ta_ema_init(&s->sig, PI(2), 0);
}
static void macd_lb(const double *p, uint32_t *lb)
{
    uint32_t f, sl;
    macd_periods(p, &f, &sl);
    lb[0] = lb[1] = lb[2] = (sl - 1) + (PI(2) - 1);
}
static void macd_step(void *st, const ta_bar *b, uint64_t i, double *out, bool commit)
{
    macd_st *s = st;
    (void)i;
    double sl = ta_ema_step(&s->slow, b->c, commit), f = ta_ema_step(&s->fast, b->c, commit);
    double line = f - sl, sig = NAN;
    if (!isnan(line))
        sig = ta_ema_step(&s->sig, line, commit);
    out[0] = line;
    out[1] = sig;
    out[2] = line - sig;
}
const ta_impl ta_impl_macd = {
    .info = { "macd", "Moving average convergence/divergence", "MACD", TA_OSCILLATOR, 3,
              { PN("fast", 12, 1), PN("slow", 26, 1), PN("signal", 9, 1) }, 3,
              { OUT_FREE("macd", "macd", 1, 0), OUT_FREE("macd_signal", "signal", 1, 0),
                { "macd_hist", "hist", TA_OSCILLATOR, TA_HISTOGRAM, 0, TA_AUTO, 1, { 0 } } } },
    .state_size = sizeof(macd_st), .init = macd_init, .lookback = macd_lb, .step = macd_step,
};

/* ---- Stochastics (TA-Lib STOCH with SMA slowing, STOCHF) ---- */
typedef struct { ta_mono hi, lo; ta_sma k, d; } stoch_st;
static void stoch_init(void *st, const double *p, ta_arena *a)
{
    stoch_st *s = st;
    ta_mono_init(&s->hi, PI(0), true, a);
    ta_mono_init(&s->lo, PI(0), false, a);
    ta_sma_init(&s->k, PI(1), a);
    ta_sma_init(&s->d, PI(2), a);
}
static void stoch_lb(const double *p, uint32_t *lb)
{
    lb[0] = lb[1] = (PI(0) - 1) + (PI(1) - 1) + (PI(2) - 1);
}
static double stoch_raw(stoch_st *s, const ta_bar *b, uint64_t i, bool commit)
{
    double hi = ta_max_step(&s->hi, i, b->h, commit, NULL);
    double lo = ta_min_step(&s->lo, i, b->l, commit, NULL);
    return i + 1 >= s->hi.n ? stoch_k(b->c, hi, lo) : NAN;
}
static void stoch_step(void *st, const ta_bar *b, uint64_t i, double *out, bool commit)
{
    stoch_st *s = st;
    double k = stoch_raw(s, b, i, commit), sk = NAN, sd = NAN;
    if (!isnan(k))
        sk = ta_sma_step(&s->k, k, commit);
    if (!isnan(sk))
        sd = ta_sma_step(&s->d, sk, commit);
    out[0] = sk;
    out[1] = sd;
}
const ta_impl ta_impl_stoch = {
    .info = { "stoch", "Slow stochastic (%K slowed by SMA, %D = SMA)", "STOCH", TA_OSCILLATOR, 3,
              { PN("k", 14, 1), PN("slow", 3, 1), PN("d", 3, 1) }, 2,
              { OUT_BOUNDED("stoch_k", "k", 0, 100, 2, 20, 80),
                OUT_BOUNDED("stoch_d", "d", 0, 100, 2, 20, 80) } },
    .state_size = sizeof(stoch_st), .init = stoch_init, .lookback = stoch_lb, .step = stoch_step,
};

static void stochf_init(void *st, const double *p, ta_arena *a)
{
    stoch_st *s = st;
    ta_mono_init(&s->hi, PI(0), true, a);
    ta_mono_init(&s->lo, PI(0), false, a);
    ta_sma_init(&s->d, PI(1), a);
}
static void stochf_lb(const double *p, uint32_t *lb)
{
    lb[0] = lb[1] = (PI(0) - 1) + (PI(1) - 1);
}
static void stochf_step(void *st, const ta_bar *b, uint64_t i, double *out, bool commit)
{
    stoch_st *s = st;
    double k = stoch_raw(s, b, i, commit);
    out[0] = k;
    out[1] = isnan(k) ? NAN : ta_sma_step(&s->d, k, commit);
}
const ta_impl ta_impl_stochf = {
    .info = { "stochf", "Fast stochastic (%K raw, %D = SMA)", "STOCHF", TA_OSCILLATOR, 2,
              { PN("k", 14, 1), PN("d", 3, 1) }, 2,
              { OUT_BOUNDED("stochf_k", "k", 0, 100, 2, 20, 80),
                OUT_BOUNDED("stochf_d", "d", 0, 100, 2, 20, 80) } },
    .state_size = sizeof(stoch_st), .init = stochf_init, .lookback = stochf_lb,
    .step = stochf_step,
};

/* ---- Williams %R ---- */
typedef struct { ta_mono hi, lo; } willr_st;
static void willr_init(void *st, const double *p, ta_arena *a)
{
    willr_st *s = st;
    ta_mono_init(&s->hi, PI(0), true, a);
    ta_mono_init(&s->lo, PI(0), false, a);
}
static void lb_n_minus_1(const double *p, uint32_t *lb)
{
    lb[0] = PI(0) - 1;
}
static void willr_step(void *st, const ta_bar *b, uint64_t i, double *out, bool commit)
{
    willr_st *s = st;
    double hi = ta_max_step(&s->hi, i, b->h, commit, NULL);
    double lo = ta_min_step(&s->lo, i, b->l, commit, NULL);
    double diff = (hi - lo) / (-100.0);
    out[0] = diff != 0.0 ? (hi - b->c) / diff : 0.0;
}
const ta_impl ta_impl_willr = {
    .info = { "willr", "Williams %R", "WILLR", TA_OSCILLATOR, 1, { PN("period", 14, 1) }, 1,
              { OUT_BOUNDED("willr", "%r", -100, 0, 2, -80, -20) } },
    .state_size = sizeof(willr_st), .init = willr_init, .lookback = lb_n_minus_1,
    .step = willr_step,
};

/* ---- ADX, +DI, -DI (Wilder; TA-Lib's seeding: DM/TR summed over n-1 bars, then smoothed) ---- */
typedef struct {
    double ph, pl, pc, pdm, mdm, tr, sum_dx, adx;
    uint32_t n;
} adx_st;
static void adx_init(void *st, const double *p, ta_arena *a)
{
    (void)a;
    ((adx_st *)st)->n = PI(0);
}
static void adx_lb(const double *p, uint32_t *lb)
{
    lb[0] = 2 * PI(0) - 1;
    lb[1] = lb[2] = PI(0);
}
static void adx_step(void *st, const ta_bar *b, uint64_t i, double *out, bool commit)
{
    adx_st *s = st, t = *s;
    uint32_t n = s->n;
    out[0] = out[1] = out[2] = NAN;
    if (i > 0) {
        double dp = b->h - t.ph, dm = t.pl - b->l, tr = ta_true_range(b->h, b->l, t.pc);
        if (i < n) {
            if ((dm > 0) && (dp < dm))
                t.mdm += dm;
            else if ((dp > 0) && (dp > dm))
                t.pdm += dp;
            t.tr += tr;
        } else {
            /* one of the two moves gets its delta, the other +0.0 (no bit changes) */
            bool minus = (dm > 0) && (dp < dm), plus = !minus && (dp > 0) && (dp > dm);
            t.mdm -= t.mdm / n;
            t.pdm -= t.pdm / n;
            t.mdm += minus ? dm : 0.0;
            t.pdm += plus ? dp : 0.0;
            t.tr = t.tr - (t.tr / n) + tr;
            double mdi = 0.0, pdi = 0.0, dx = NAN;
            if (!ta_is_zero(t.tr)) {
                mdi = 100.0 * (t.mdm / t.tr);
                pdi = 100.0 * (t.pdm / t.tr);
                double sum = mdi + pdi;
                if (!ta_is_zero(sum))
                    dx = 100.0 * (fabs(mdi - pdi) / sum);
            }
            out[1] = pdi;
            out[2] = mdi;
            if (i <= 2 * (uint64_t)n - 1) {
                if (!isnan(dx))
                    t.sum_dx += dx;
                if (i == 2 * (uint64_t)n - 1)
                    t.adx = t.sum_dx / n;
            } else if (!isnan(dx)) {
                t.adx = ((t.adx * (double)(n - 1)) + dx) / n;
            }
            out[0] = t.adx;
        }
    }
    if (commit) {
        t.ph = b->h;
        t.pl = b->l;
        t.pc = b->c;
        *s = t;
    }
}
const ta_impl ta_impl_adx = {
    .info = { "adx", "Average directional index with +DI/-DI (Wilder)", "ADX", TA_OSCILLATOR, 1,
              { PN("period", 14, 2) }, 3,
              { OUT_BOUNDED("adx", "adx", 0, 100, 2, 20, 25),
                OUT_BOUNDED("plus_di", "+di", 0, 100, 0, 0),
                OUT_BOUNDED("minus_di", "-di", 0, 100, 0, 0) } },
    .state_size = sizeof(adx_st), .init = adx_init, .lookback = adx_lb, .step = adx_step,
};

/* ---- Aroon: bars since the highest high / lowest low over n+1 bars ---- */
typedef struct { ta_mono hi, lo; uint32_t n; } aroon_st;
static void aroon_init(void *st, const double *p, ta_arena *a)
{
    aroon_st *s = st;
    s->n = PI(0);
    ta_mono_init(&s->hi, PI(0) + 1, true, a);
    ta_mono_init(&s->lo, PI(0) + 1, false, a);
}
static void aroon_lb(const double *p, uint32_t *lb)
{
    lb[0] = lb[1] = lb[2] = PI(0);
}
static void aroon_step(void *st, const ta_bar *b, uint64_t i, double *out, bool commit)
{
    aroon_st *s = st;
    uint64_t hi, lo;
    ta_max_step(&s->hi, i, b->h, commit, &hi);
    ta_min_step(&s->lo, i, b->l, commit, &lo);
    double factor = 100.0 / (double)s->n;
    int n = (int)s->n;
    out[0] = factor * (double)(n - (int)(i - hi));
    out[1] = factor * (double)(n - (int)(i - lo));
    out[2] = factor * (double)((int64_t)hi - (int64_t)lo);
}
const ta_impl ta_impl_aroon = {
    .info = { "aroon", "Aroon up/down and oscillator", "AROON", TA_OSCILLATOR, 1,
              { PN("period", 14, 2) }, 3,
              { OUT_BOUNDED("aroon_up", "up", 0, 100, 2, 30, 70),
                OUT_BOUNDED("aroon_down", "down", 0, 100, 2, 30, 70),
                OUT_BOUNDED("aroon_osc", "osc", -100, 100, 1, 0) } },
    .state_size = sizeof(aroon_st), .init = aroon_init, .lookback = aroon_lb, .step = aroon_step,
};

/* ---- CCI: mean deviation needs the whole window; TA-Lib's own O(n) loop over its circular
 * buffer in slot order, kept for bit-compatibility ---- */
typedef struct { ta_ring r; } cci_st;
static void cci_init(void *st, const double *p, ta_arena *a)
{
    ta_ring_init(&((cci_st *)st)->r, PI(0), a);
}
static void cci_step(void *st, const ta_bar *b, uint64_t i, double *out, bool commit)
{
    cci_st *s = st;
    const ta_ring *r = &s->r;
    double tp = (b->h + b->l + b->c) / 3;
    out[0] = NAN;
    if (i + 1 >= r->n) {
        /* slot order as TA-Lib's circular buffer, the new value in slot pos */
        double avg = 0, dev = 0;
        uint32_t j;
        for (j = 0; j < r->pos; j++)
            avg += r->buf[j];
        avg += tp;
        for (j = r->pos + 1; j < r->n; j++)
            avg += r->buf[j];
        avg /= r->n;
        for (j = 0; j < r->pos; j++)
            dev += fabs(r->buf[j] - avg);
        dev += fabs(tp - avg);
        for (j = r->pos + 1; j < r->n; j++)
            dev += fabs(r->buf[j] - avg);
        double d = tp - avg;
        out[0] = (d != 0.0) && (dev != 0.0) ? d / (0.015 * (dev / r->n)) : 0.0;
    }
    if (commit)
        ta_ring_push(&s->r, tp);
}
const ta_impl ta_impl_cci = {
    .info = { "cci", "Commodity channel index", "CCI", TA_OSCILLATOR, 1, { PN("period", 20, 2) },
              1, { OUT_FREE("cci", "cci", 2, -100, 100) } },
    .state_size = sizeof(cci_st), .init = cci_init, .lookback = lb_n_minus_1, .step = cci_step,
};

/* ---- ROC (percent) and momentum over n bars ---- */
typedef struct { ta_ring r; } lag_st;
static void lag_init(void *st, const double *p, ta_arena *a)
{
    ta_ring_init(&((lag_st *)st)->r, PI(0), a);
}
static void roc_step(void *st, const ta_bar *b, uint64_t i, double *out, bool commit)
{
    lag_st *s = st;
    out[0] = NAN;
    if (i >= s->r.n) {
        double prev = ta_ring_back(&s->r, s->r.n);
        out[0] = prev != 0.0 ? ((b->c / prev) - 1.0) * 100.0 : 0.0;
    }
    if (commit)
        ta_ring_push(&s->r, b->c);
}
const ta_impl ta_impl_roc = {
    .info = { "roc", "Rate of change, percent", "ROC", TA_OSCILLATOR, 1, { PN("period", 10, 1) },
              1, { OUT_FREE("roc", "roc", 1, 0) } },
    .state_size = sizeof(lag_st), .init = lag_init, .lookback = lb_n, .step = roc_step,
};
static void mom_step(void *st, const ta_bar *b, uint64_t i, double *out, bool commit)
{
    lag_st *s = st;
    out[0] = i >= s->r.n ? b->c - ta_ring_back(&s->r, s->r.n) : NAN;
    if (commit)
        ta_ring_push(&s->r, b->c);
}
const ta_impl ta_impl_mom = {
    .info = { "mom", "Momentum (close - close n bars ago)", "MOM", TA_OSCILLATOR, 1,
              { PN("period", 10, 1) }, 1, { OUT_FREE("mom", "mom", 1, 0) } },
    .state_size = sizeof(lag_st), .init = lag_init, .lookback = lb_n, .step = mom_step,
};

/* ---- Ultimate oscillator (TA-Lib ULTOSC; periods sorted, the shortest weighs 4) ---- */
typedef struct {
    ta_ring cmtl, trr; /* terms of the last maxp bars */
    double a[3], b[3];
    uint32_t per[3]; /* ascending */
    double pc;
} ultosc_st;
static void ultosc_sorted(const double *p, uint32_t *per)
{
    per[0] = PI(0);
    per[1] = PI(1);
    per[2] = PI(2);
    for (int x = 0; x < 2; x++)
        for (int y = 0; y < 2 - x; y++)
            if (per[y] > per[y + 1]) {
                uint32_t t = per[y];
                per[y] = per[y + 1];
                per[y + 1] = t;
            }
}
static void ultosc_init(void *st, const double *p, ta_arena *a)
{
    ultosc_st *s = st;
    ultosc_sorted(p, s->per);
    ta_ring_init(&s->cmtl, s->per[2], a);
    ta_ring_init(&s->trr, s->per[2], a);
}
static void ultosc_lb(const double *p, uint32_t *lb)
{
    uint32_t per[3];
    ultosc_sorted(p, per);
    lb[0] = per[2];
}
static void ultosc_step(void *st, const ta_bar *b, uint64_t i, double *out, bool commit)
{
    ultosc_st *s = st;
    double a[3] = { s->a[0], s->a[1], s->a[2] }, bb[3] = { s->b[0], s->b[1], s->b[2] };
    uint32_t maxp = s->per[2];
    out[0] = NAN;
    if (i >= 1) {
        double true_low = b->l < s->pc ? b->l : s->pc;
        double cmtl = b->c - true_low, tr = ta_true_range(b->h, b->l, s->pc);
        for (int k = 0; k < 3; k++)
            if (i + s->per[k] >= (uint64_t)maxp + 1) {
                a[k] += cmtl;
                bb[k] += tr;
            }
        if (i >= maxp) {
            double o = 0.0;
            if (!ta_is_zero(bb[0]))
                o += 4.0 * (a[0] / bb[0]);
            if (!ta_is_zero(bb[1]))
                o += 2.0 * (a[1] / bb[1]);
            if (!ta_is_zero(bb[2]))
                o += a[2] / bb[2];
            for (int k = 0; k < 3; k++) {
                uint32_t back = s->per[k] - 1;
                a[k] -= back ? ta_ring_back(&s->cmtl, back) : cmtl;
                bb[k] -= back ? ta_ring_back(&s->trr, back) : tr;
            }
            out[0] = 100.0 * (o / 7.0);
        }
        if (commit) {
            ta_ring_push(&s->cmtl, cmtl);
            ta_ring_push(&s->trr, tr);
        }
    }
    if (commit) {
        for (int k = 0; k < 3; k++) {
            s->a[k] = a[k];
            s->b[k] = bb[k];
        }
        s->pc = b->c;
    }
}
const ta_impl ta_impl_ultosc = {
    .info = { "ultosc", "Ultimate oscillator", "ULTOSC", TA_OSCILLATOR, 3,
              { PN("short", 7, 1), PN("mid", 14, 1), PN("long", 28, 1) }, 1,
              { OUT_BOUNDED("ultosc", "uo", 0, 100, 2, 30, 70) } },
    .state_size = sizeof(ultosc_st), .init = ultosc_init, .lookback = ultosc_lb,
    .step = ultosc_step,
};

/* ---- Linear-regression slope of the close over n bars (TA-Lib LINEARREG_SLOPE's O(n) loop;
 * running sums would drift from it by far more than 1e-9 when the slope is near zero) ---- */
typedef struct { ta_ring r; double sum_x, divisor; uint32_t n; } linreg_st;
static void linreg_init(void *st, const double *p, ta_arena *a)
{
    linreg_st *s = st;
    int64_t n = (int64_t)PI(0); /* TA-Lib uses int: identical wherever int does not overflow */
    s->n = (uint32_t)n;
    s->sum_x = (double)(n * (n - 1)) * 0.5;
    double sum_x_sqr = (double)(n * (n - 1) * (2 * n - 1) / 6);
    s->divisor = s->sum_x * s->sum_x - (double)n * sum_x_sqr;
    ta_ring_init(&s->r, s->n, a);
}
static void linreg_step(void *st, const ta_bar *b, uint64_t i, double *out, bool commit)
{
    linreg_st *s = st;
    out[0] = NAN;
    if (i + 1 >= s->n) {
        /* oldest first (weight n-1) to the new close (weight 0), as TA-Lib sums */
        double sum_xy = 0, sum_y = 0;
        const ta_ring *r = &s->r;
        uint32_t k = s->n - 1, slot = r->pos >= k ? r->pos - k : r->pos + r->n - k;
        for (; k > 0; k--) {
            double v = r->buf[slot];
            slot = slot + 1 == r->n ? 0 : slot + 1;
            sum_y += v;
            sum_xy += (double)k * v;
        }
        sum_y += b->c;
        sum_xy += 0.0 * b->c;
        out[0] = ((double)s->n * sum_xy - s->sum_x * sum_y) / s->divisor;
    }
    if (commit)
        ta_ring_push(&s->r, b->c);
}
const ta_impl ta_impl_linreg_slope = {
    .info = { "linreg_slope", "Linear-regression slope of the close, price per bar",
              "LINEARREG_SLOPE", TA_OSCILLATOR, 1, { PN("period", 14, 2) }, 1,
              { OUT_FREE("linreg_slope", "slope", 1, 0) } },
    .state_size = sizeof(linreg_st), .init = linreg_init, .lookback = lb_n_minus_1,
    .step = linreg_step,
};
