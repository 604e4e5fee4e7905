/* Moving averages on the close: SMA, EMA, WMA, DEMA, TEMA, KAMA, HMA and TRIX.
 * Each is a state struct plus one step function (commit=false is peek). The TA-Lib ones repeat
 * TA-Lib's arithmetic in the same order (see ta_impl.h) so they agree bit for bit; HMA, which
 * TA-Lib lacks, is composed of TA-Lib-exact WMAs. */
#include "ta_impl.h"

#define OUT_OVL(pfx) { (pfx), (pfx), TA_OVERLAY, TA_LINE, 0, TA_AUTO, 0, { 0 } }
#define OUT_OSC0(pfx) { (pfx), (pfx), TA_OSCILLATOR, TA_LINE, 0, TA_AUTO, 1, { 0 } }
#define PI(k) ((uint32_t)p[k])

/* ---- SMA ---- */
typedef struct { ta_sma s; } sma_st;
static void sma_init(void *st, const double *p, ta_arena *a)
{
    ta_sma_init(&((sma_st *)st)->s, PI(0), a);
}
static void lb_n_minus_1(const double *p, uint32_t *lb)
{
    lb[0] = PI(0) - 1;
}
static void sma_step(void *st, const ta_bar *b, uint64_t i, double *out, bool commit)
{
    (void)i;
    out[0] = ta_sma_step(&((sma_st *)st)->s, b->c, commit);
}
const ta_impl ta_impl_sma = {
    .info = { "sma", "Simple moving average", "SMA", TA_OVERLAY, 1, { TA_PERIOD(20) }, 1,
              { OUT_OVL("sma") } },
    .state_size = sizeof(sma_st), .init = sma_init, .lookback = lb_n_minus_1, .step = sma_step,
};

/* ---- EMA: seeded with the SMA of the first period ---- */
typedef struct { ta_ema e; } ema_st;
static void ema_init(void *st, const double *p, ta_arena *a)
{
    (void)a;
    ta_ema_init(&((ema_st *)st)->e, PI(0), 0);
}
static void ema_step(void *st, const ta_bar *b, uint64_t i, double *out, bool commit)
{
    (void)i;
    out[0] = ta_ema_step(&((ema_st *)st)->e, b->c, commit);
}
const ta_impl ta_impl_ema = {
    .info = { "ema", "Exponential moving average (SMA seed)", "EMA", TA_OVERLAY, 1,
              { TA_PERIOD(20) }, 1, { OUT_OVL("ema") } },
    .state_size = sizeof(ema_st), .init = ema_init, .lookback = lb_n_minus_1, .step = ema_step,
};

/* ---- WMA ---- */
typedef struct { ta_wma w; } wma_st;
static void wma_init(void *st, const double *p, ta_arena *a)
{
    ta_wma_init(&((wma_st *)st)->w, PI(0), a);
}
static void wma_step(void *st, const ta_bar *b, uint64_t i, double *out, bool commit)
{
    (void)i;
    out[0] = ta_wma_step(&((wma_st *)st)->w, b->c, commit);
}
const ta_impl ta_impl_wma = {
    .info = { "wma", "Weighted moving average", "WMA", TA_OVERLAY, 1, { TA_PERIOD(20) }, 1,
              { OUT_OVL("wma") } },
    .state_size = sizeof(wma_st), .init = wma_init, .lookback = lb_n_minus_1, .step = wma_step,
};

/* ---- DEMA / TEMA / TRIX: chains of TA-Lib EMAs, each stage fed from the previous stage's
 * first value on ---- */
typedef struct { ta_ema e1, e2, e3; double prev3; } ema3_st;
static void ema3_init(void *st, const double *p, ta_arena *a)
{
    ema3_st *s = st;
    (void)a;
    ta_ema_init(&s->e1, PI(0), 0);
    ta_ema_init(&s->e2, PI(0), 0);
    ta_ema_init(&s->e3, PI(0), 0);
    s->prev3 = NAN;
}
static void dema_lb(const double *p, uint32_t *lb)
{
    lb[0] = 2 * (PI(0) - 1);
}
static void dema_step(void *st, const ta_bar *b, uint64_t i, double *out, bool commit)
{
    ema3_st *s = st;
    (void)i;
    double e1 = ta_ema_step(&s->e1, b->c, commit), e2 = NAN;
    if (!isnan(e1))
        e2 = ta_ema_step(&s->e2, e1, commit);
    out[0] = (2.0 * e1) - e2;
}
const ta_impl ta_impl_dema = {
    .info = { "dema", "Double exponential moving average", "DEMA", TA_OVERLAY, 1,
              { TA_PERIOD(20) }, 1, { OUT_OVL("dema") } },
    .state_size = sizeof(ema3_st), .init = ema3_init, .lookback = dema_lb, .step = dema_step,
};

static void tema_lb(const double *p, uint32_t *lb)
{
    lb[0] = 3 * (PI(0) - 1);
}
static void tema_step(void *st, const ta_bar *b, uint64_t i, double *out, bool commit)
{
    ema3_st *s = st;
    (void)i;
    double e1 = ta_ema_step(&s->e1, b->c, commit), e2 = NAN, e3 = NAN;
    if (!isnan(e1))
        e2 = ta_ema_step(&s->e2, e1, commit);
    if (!isnan(e2))
        e3 = ta_ema_step(&s->e3, e2, commit);
    out[0] = e3 + ((3.0 * e1) - (3.0 * e2));
}
const ta_impl ta_impl_tema = {
    .info = { "tema", "Triple exponential moving average", "TEMA", TA_OVERLAY, 1,
              { TA_PERIOD(20) }, 1, { OUT_OVL("tema") } },
    .state_size = sizeof(ema3_st), .init = ema3_init, .lookback = tema_lb, .step = tema_step,
};

static void trix_lb(const double *p, uint32_t *lb)
{
    lb[0] = 3 * (PI(0) - 1) + 1;
}
static void trix_step(void *st, const ta_bar *b, uint64_t i, double *out, bool commit)
{
    ema3_st *s = st;
    (void)i;
    double e1 = ta_ema_step(&s->e1, b->c, commit), e2 = NAN, e3 = NAN;
    if (!isnan(e1))
        e2 = ta_ema_step(&s->e2, e1, commit);
    if (!isnan(e2))
        e3 = ta_ema_step(&s->e3, e2, commit);
    out[0] = NAN;
    if (!isnan(e3) && !isnan(s->prev3))
        out[0] = s->prev3 != 0.0 ? ((e3 / s->prev3) - 1.0) * 100.0 : 0.0; /* TA-Lib ROC(1) */
    if (commit && !isnan(e3))
        s->prev3 = e3;
}
const ta_impl ta_impl_trix = {
    .info = { "trix", "1-bar rate of change of a triple EMA, percent", "TRIX", TA_OSCILLATOR, 1,
              { TA_PERIOD(18) }, 1, { OUT_OSC0("trix") } },
    .state_size = sizeof(ema3_st), .init = ema3_init, .lookback = trix_lb, .step = trix_step,
};

/* ---- KAMA: Kaufman adaptive MA, fast 2 / slow 30 constants as TA-Lib ---- */
typedef struct {
    ta_ring r; /* last n closes */
    double sum_roc1, prev_kama, trailing, prev_c;
    uint32_t n;
} kama_st;
static void kama_init(void *st, const double *p, ta_arena *a)
{
    kama_st *s = st;
    s->n = PI(0);
    ta_ring_init(&s->r, s->n, a);
}
static void kama_lb(const double *p, uint32_t *lb)
{
    lb[0] = PI(0);
}
static double kama_sc(double sum_roc1, double period_roc)
{
    const double const_max = 2.0 / (30.0 + 1.0);
    const double const_diff = 2.0 / (2.0 + 1.0) - const_max;
    double t;
    if ((sum_roc1 <= period_roc) || ta_is_zero(sum_roc1))
        t = 1.0;
    else
        t = fabs(period_roc / sum_roc1);
    t = (t * const_diff) + const_max;
    return t * t;
}
static void kama_step(void *st, const ta_bar *b, uint64_t i, double *out, bool commit)
{
    kama_st *s = st;
    double x = b->c, sum = s->sum_roc1, kama = s->prev_kama, trailing = s->trailing;
    uint32_t n = s->n;
    out[0] = NAN;
    if (i >= 1 && i <= n)
        sum += fabs(s->prev_c - x);
    if (i == n) {
        /* first value: seed with the previous close, trailing = x[0] */
        double x0 = ta_ring_back(&s->r, n);
        kama = ((x - s->prev_c) * kama_sc(sum, x - x0)) + s->prev_c;
        trailing = x0;
        out[0] = kama;
    } else if (i > n) {
        double xt = ta_ring_back(&s->r, n); /* x[i-n] */
        double period_roc = x - xt;
        sum -= fabs(trailing - xt);
        sum += fabs(x - s->prev_c);
        trailing = xt;
        kama = ((x - kama) * kama_sc(sum, period_roc)) + kama;
        out[0] = kama;
    }
    if (commit) {
        s->sum_roc1 = sum;
        s->prev_kama = kama;
        s->trailing = trailing;
        s->prev_c = x;
        ta_ring_push(&s->r, x);
    }
}
const ta_impl ta_impl_kama = {
    .info = { "kama", "Kaufman adaptive moving average (fast 2, slow 30)", "KAMA", TA_OVERLAY, 1,
              { TA_P("period", 10, 2, TA_PERIOD_MAX) }, 1, { OUT_OVL("kama") } },
    .state_size = sizeof(kama_st), .init = kama_init, .lookback = kama_lb, .step = kama_step,
};

/* ---- HMA: WMA(2*WMA(n/2) - WMA(n), floor(sqrt(n))) ---- */
typedef struct { ta_wma half, full, out; } hma_st;
static uint32_t hma_sqrt(uint32_t n)
{
    uint32_t s = (uint32_t)floor(sqrt((double)n));
    return s ? s : 1;
}
static void hma_init(void *st, const double *p, ta_arena *a)
{
    hma_st *s = st;
    ta_wma_init(&s->half, PI(0) / 2, a);
    ta_wma_init(&s->full, PI(0), a);
    ta_wma_init(&s->out, hma_sqrt(PI(0)), a);
}
static void hma_lb(const double *p, uint32_t *lb)
{
    lb[0] = (PI(0) - 1) + (hma_sqrt(PI(0)) - 1);
}
static void hma_step(void *st, const ta_bar *b, uint64_t i, double *out, bool commit)
{
    hma_st *s = st;
    (void)i;
    double h = ta_wma_step(&s->half, b->c, commit), f = ta_wma_step(&s->full, b->c, commit);
    out[0] = NAN;
    if (!isnan(f))
        out[0] = ta_wma_step(&s->out, 2.0 * h - f, commit);
}
const ta_impl ta_impl_hma = {
    .info = { "hma", "Hull moving average", NULL, TA_OVERLAY, 1,
              { TA_P("period", 20, 2, TA_PERIOD_MAX) }, 1, { OUT_OVL("hma") } },
    .state_size = sizeof(hma_st), .init = hma_init, .lookback = hma_lb, .step = hma_step,
};
