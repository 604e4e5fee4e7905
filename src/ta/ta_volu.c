/* Volume indicators: OBV, session VWAP, money flow index, Chaikin money flow, the
 * accumulation/distribution line and the Chaikin A/D oscillator. OBV, MFI, AD and ADOSC repeat
 * TA-Lib's arithmetic (OBV starts at the first bar's volume; MFI reports 0 while the window's
 * money flow is below 1.0, as TA-Lib does). */
#include "ta_impl.h"

#define PI(k) ((uint32_t)p[k])
#define PN(nm, d, lo) TA_P((nm), (d), (lo), TA_PERIOD_MAX)
#define OUT_OSC(pfx, lbl, nl, ...) \
    { (pfx), (lbl), TA_OSCILLATOR, TA_LINE, 0, TA_AUTO, (nl), { __VA_ARGS__ } }

static void lb_zero(const double *p, uint32_t *lb)
{
    (void)p;
    lb[0] = 0;
}
static void init_none(void *st, const double *p, ta_arena *a)
{
    (void)st;
    (void)p;
    (void)a;
}

/* ---- OBV ---- */
typedef struct { double obv, pc; } obv_st;
static void obv_step(void *st, const ta_bar *b, uint64_t i, double *out, bool commit)
{
    obv_st *s = st;
    double obv = s->obv;
    if (i == 0)
        obv = b->v;
    else if (b->c > s->pc)
        obv += b->v;
    else if (b->c < s->pc)
        obv -= b->v;
    out[0] = obv;
    if (commit) {
        s->obv = obv;
        s->pc = b->c;
    }
}
const ta_impl ta_impl_obv = {
    .info = { "obv", "On-balance volume (starts at the first bar's volume)", "OBV",
              TA_OSCILLATOR, 0, { { 0 } }, 1, { OUT_OSC("obv", "obv", 0, 0) } },
    .state_size = sizeof(obv_st), .init = init_none, .lookback = lb_zero, .step = obv_step,
};

/* ---- Session VWAP: sum(typical * volume) / sum(volume) since 00:00 UTC of the bar's open
 * time; while the session has no volume yet it shows the bar's typical price ---- */
typedef struct { double pv, v; int64_t day; } vwap_st;
static void vwap_init(void *st, const double *p, ta_arena *a)
{
    (void)p;
    (void)a;
    ((vwap_st *)st)->day = INT64_MIN;
}
static void vwap_step(void *st, const ta_bar *b, uint64_t i, double *out, bool commit)
{
    vwap_st *s = st;
    const int64_t day_ms = 86400000;
    int64_t day = b->t / day_ms - (b->t % day_ms < 0); /* floor division */
    double tp = (b->h + b->l + b->c) / 3.0, pv = s->pv, v = s->v;
    (void)i;
    if (day != s->day)
        pv = v = 0.0;
    pv += tp * b->v;
    v += b->v;
    out[0] = v > 0 ? pv / v : tp;
    if (commit) {
        s->pv = pv;
        s->v = v;
        s->day = day;
    }
}
const ta_impl ta_impl_vwap = {
    .info = { "vwap", "Session VWAP of the typical price, reset at 00:00 UTC", NULL, TA_OVERLAY,
              0, { { 0 } }, 1,
              { { "vwap", "vwap", TA_OVERLAY, TA_LINE, 0, TA_AUTO, 0, { 0 } } } },
    .state_size = sizeof(vwap_st), .init = vwap_init, .lookback = lb_zero, .step = vwap_step,
};

/* ---- MFI (TA-Lib: money flow of bars 1..n, ring of positive/negative flows) ---- */
typedef struct { ta_ring pos, neg; double psum, nsum, ptp; uint32_t n; } mfi_st;
static void mfi_init(void *st, const double *p, ta_arena *a)
{
    mfi_st *s = st;
    s->n = PI(0);
    ta_ring_init(&s->pos, s->n, a);
    ta_ring_init(&s->neg, s->n, a);
}
static void lb_n(const double *p, uint32_t *lb)
{
    lb[0] = PI(0);
}
static void mfi_step(void *st, const ta_bar *b, uint64_t i, double *out, bool commit)
{
    mfi_st *s = st;
    double tp = (b->h + b->l + b->c) / 3.0, psum = s->psum, nsum = s->nsum, pf = 0.0, nf = 0.0;
    out[0] = NAN;
    if (i > 0) {
        double d = tp - s->ptp, mf = tp * b->v;
        if (i > s->n) {
            psum -= ta_ring_back(&s->pos, s->n);
            nsum -= ta_ring_back(&s->neg, s->n);
        }
        nf = d < 0 ? mf : 0.0; /* adding +0.0 to the other sum changes no bit */
        pf = d > 0 ? mf : 0.0;
        nsum += nf;
        psum += pf;
        if (i >= s->n) {
            double t = psum + nsum;
            out[0] = t < 1.0 ? 0.0 : 100.0 * (psum / t);
        }
    }
    if (commit) {
        if (i > 0) {
            ta_ring_push(&s->pos, pf);
            ta_ring_push(&s->neg, nf);
        }
        s->psum = psum;
        s->nsum = nsum;
        s->ptp = tp;
    }
}
const ta_impl ta_impl_mfi = {
    .info = { "mfi", "Money flow index", "MFI", TA_OSCILLATOR, 1, { PN("period", 14, 1) }, 1,
              { { "mfi", "mfi", TA_OSCILLATOR, TA_LINE, 0, 0, 100, 2, { 20, 80 } } } },
    .state_size = sizeof(mfi_st), .init = mfi_init, .lookback = lb_n, .step = mfi_step,
};

/* Money-flow multiplier times volume, TA-Lib AD's term (0 when high == low). */
static double ad_term(const ta_bar *b)
{
    double tmp = b->h - b->l;
    return tmp > 0.0 ? (((b->c - b->l) - (b->h - b->c)) / tmp) * b->v : 0.0;
}

/* ---- Chaikin money flow: sum of money-flow volume / sum of volume over n bars; 0 when the
 * window traded nothing ---- */
typedef struct { ta_ring mfv, vol; double smfv, svol; uint32_t n, traded; } cmf_st;
static void cmf_init(void *st, const double *p, ta_arena *a)
{
    cmf_st *s = st;
    s->n = PI(0);
    ta_ring_init(&s->mfv, s->n, a);
    ta_ring_init(&s->vol, s->n, a);
}
static void lb_n_minus_1(const double *p, uint32_t *lb)
{
    lb[0] = PI(0) - 1;
}
static void cmf_step(void *st, const ta_bar *b, uint64_t i, double *out, bool commit)
{
    cmf_st *s = st;
    double m = ad_term(b), smfv = s->smfv + m, svol = s->svol + b->v;
    uint32_t traded = s->traded + (b->v > 0);
    out[0] = NAN;
    if (i + 1 >= s->n) {
        out[0] = traded && svol > 0 ? smfv / svol : 0.0;
        double om = s->n == 1 ? m : ta_ring_back(&s->mfv, s->n - 1);
        double ov = s->n == 1 ? b->v : ta_ring_back(&s->vol, s->n - 1);
        smfv -= om;
        svol -= ov;
        traded -= (ov > 0);
    }
    if (commit) {
        s->smfv = smfv;
        s->svol = svol;
        s->traded = traded;
        ta_ring_push(&s->mfv, m);
        ta_ring_push(&s->vol, b->v);
    }
}
const ta_impl ta_impl_cmf = {
    .info = { "cmf", "Chaikin money flow", NULL, TA_OSCILLATOR, 1, { PN("period", 20, 1) }, 1,
              { { "cmf", "cmf", TA_OSCILLATOR, TA_LINE, 0, -1, 1, 1, { 0 } } } },
    .state_size = sizeof(cmf_st), .init = cmf_init, .lookback = lb_n_minus_1,
    .step = cmf_step,
};

/* ---- Accumulation/distribution line ---- */
typedef struct { double ad; } ad_st;
static void ad_step(void *st, const ta_bar *b, uint64_t i, double *out, bool commit)
{
    ad_st *s = st;
    double ad = s->ad, tmp = b->h - b->l;
    (void)i;
    if (tmp > 0.0)
        ad += (((b->c - b->l) - (b->h - b->c)) / tmp) * b->v;
    out[0] = ad;
    if (commit)
        s->ad = ad;
}
const ta_impl ta_impl_ad = {
    .info = { "ad", "Chaikin accumulation/distribution line", "AD", TA_OSCILLATOR, 0, { { 0 } },
              1, { OUT_OSC("ad", "a/d", 0, 0) } },
    .state_size = sizeof(ad_st), .init = init_none, .lookback = lb_zero, .step = ad_step,
};

/* ---- Chaikin A/D oscillator: EMA(fast) - EMA(slow) of the A/D line, both seeded with the
 * first A/D value (TA-Lib ADOSC) ---- */
typedef struct { double ad, fast, slow, fk, sk; } adosc_st;
static void adosc_init(void *st, const double *p, ta_arena *a)
{
    adosc_st *s = st;
    (void)a;
    s->fk = ta_per_to_k(PI(0));
    s->sk = ta_per_to_k(PI(1));
}
static void adosc_lb(const double *p, uint32_t *lb)
{
    lb[0] = (PI(0) > PI(1) ? PI(0) : PI(1)) - 1;
}
static void adosc_step(void *st, const ta_bar *b, uint64_t i, double *out, bool commit)
{
    adosc_st *s = st;
    double ad = s->ad, tmp = b->h - b->l, fast, slow;
    if (tmp > 0.0)
        ad += (((b->c - b->l) - (b->h - b->c)) / tmp) * b->v;
    if (i == 0) {
        fast = slow = ad;
    } else {
        fast = (s->fk * ad) + ((1.0 - s->fk) * s->fast);
        slow = (s->sk * ad) + ((1.0 - s->sk) * s->slow);
    }
    out[0] = fast - slow;
    if (commit) {
        s->ad = ad;
        s->fast = fast;
        s->slow = slow;
    }
}
const ta_impl ta_impl_adosc = {
    .info = { "adosc", "Chaikin A/D oscillator", "ADOSC", TA_OSCILLATOR, 2,
              { PN("fast", 3, 1), PN("slow", 10, 1) }, 1, { OUT_OSC("adosc", "adosc", 1, 0) } },
    .state_size = sizeof(adosc_st), .init = adosc_init, .lookback = adosc_lb,
    .step = adosc_step,
};
