/* Internal to src/ta: the indicator implementation table and the streaming primitives every
 * indicator is built from (rings, TA-Lib's SMA and EMA, monotonic min/max deques).
 *
 * Every primitive has one step function taking `commit`: with commit=false it computes what the
 * step would produce and writes nothing (that is how peek works without copying state), with
 * commit=true it also advances. The arithmetic repeats TA-Lib's operation order exactly, so the
 * results are bit-identical to TA-Lib's batch functions run over the same whole series. */
#ifndef KESTREL_TA_IMPL_H
#define KESTREL_TA_IMPL_H
#include <math.h>
#include <stdbool.h>
#include <stdint.h>

#include "kestrel/ta.h"

/* TA-Lib 0.6's TA_EPSILON / TA_IS_ZERO / TA_IS_ZERO_OR_NEG (ta_utility.h). */
#define TA_EPS 1e-14
static inline bool ta_is_zero(double v)
{
    return -TA_EPS < v && v < TA_EPS;
}
static inline bool ta_is_zero_or_neg(double v)
{
    return v < TA_EPS;
}
/* TA-Lib's PER_TO_K */
static inline double ta_per_to_k(uint32_t n)
{
    return 2.0 / (double)(n + 1);
}
/* True range against the previous close (TA-Lib's TRUE_RANGE macro). */
static inline double ta_true_range(double h, double l, double pc)
{
    double out = h - l, t = fabs(h - pc);
    if (t > out)
        out = t;
    t = fabs(l - pc);
    if (t > out)
        out = t;
    return out;
}

/* ---- arena: an instance's arrays are carved from its one allocation ----------------------- */
typedef struct ta_arena {
    char *base; /* NULL: measuring pass, take() returns NULL and only counts */
    size_t used;
} ta_arena;

static inline void *ta_arena_take(ta_arena *a, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    void *p = a->base ? a->base + a->used : NULL;
    a->used += n;
    return p;
}

/* ---- ring of the last n values --------------------------------------------------------- */
typedef struct ta_ring {
    double *buf;
    uint32_t n, pos; /* pos: slot the next value goes to (the oldest value while full) */
} ta_ring;

static inline void ta_ring_init(ta_ring *r, uint32_t n, ta_arena *a)
{
    r->n = n ? n : 1;
    r->pos = 0;
    r->buf = (double *)ta_arena_take(a, (size_t)r->n * sizeof(double));
}
/* The value pushed k pushes ago (1 <= k <= n). */
static inline double ta_ring_back(const ta_ring *r, uint32_t k)
{
    uint32_t i = r->pos >= k ? r->pos - k : r->pos + r->n - k;
    return r->buf[i];
}
static inline void ta_ring_push(ta_ring *r, double x)
{
    r->buf[r->pos] = x;
    r->pos = r->pos + 1 == r->n ? 0 : r->pos + 1;
}

/* ---- TA-Lib INT_SMA: running total, added before and the trailing value removed after ---- */
typedef struct ta_sma {
    ta_ring r;
    double sum;
    uint32_t n;
    uint64_t cnt;
} ta_sma;

static inline void ta_sma_init(ta_sma *s, uint32_t n, ta_arena *a)
{
    s->n = n;
    s->sum = 0.0;
    s->cnt = 0;
    ta_ring_init(&s->r, n, a);
}
static inline double ta_sma_step(ta_sma *s, double x, bool commit)
{
    double sum = s->sum + x, out = NAN;
    if (s->cnt + 1 >= s->n) {
        out = sum / s->n;
        sum -= s->n == 1 ? x : ta_ring_back(&s->r, s->n - 1);
    }
    if (commit) {
        s->sum = sum;
        ta_ring_push(&s->r, x);
        s->cnt++;
    }
    return out;
}

/* ---- TA-Lib INT_EMA (default compatibility): seeded with the SMA of the first n inputs after
 * `skip` ignored ones (MACD seeds its fast EMA late so both EMAs start on the same bar) ------- */
typedef struct ta_ema {
    double k, sum, prev;
    uint32_t n, skip;
    uint64_t cnt;
} ta_ema;

static inline void ta_ema_init(ta_ema *e, uint32_t n, uint32_t skip)
{
    e->n = n;
    e->skip = skip;
    e->k = ta_per_to_k(n);
    e->sum = e->prev = 0.0;
    e->cnt = 0;
}
static inline double ta_ema_step(ta_ema *e, double x, bool commit)
{
    double sum = e->sum, prev = e->prev, out = NAN;
    if (e->cnt >= e->skip) {
        uint64_t j = e->cnt - e->skip;
        if (j + 1 < e->n) {
            sum += x;
        } else if (j + 1 == e->n) {
            sum += x;
            prev = sum / e->n;
            out = prev;
        } else {
            prev = ((x - prev) * e->k) + prev;
            out = prev;
        }
    }
    if (commit) {
        e->sum = sum;
        e->prev = prev;
        e->cnt++;
    }
    return out;
}

/* ---- TA-Lib INT_WMA: periodSum / periodSub / trailingValue ------------------------------- */
typedef struct ta_wma {
    ta_ring r;
    double psum, psub, trailing, divider;
    uint32_t n;
    uint64_t cnt;
} ta_wma;

static inline void ta_wma_init(ta_wma *w, uint32_t n, ta_arena *a)
{
    w->n = n;
    w->psum = w->psub = w->trailing = 0.0;
    w->divider = (double)((n * (n + 1)) >> 1);
    w->cnt = 0;
    ta_ring_init(&w->r, n, a);
}
static inline double ta_wma_step(ta_wma *w, double x, bool commit)
{
    double psum = w->psum, psub = w->psub, trailing = w->trailing, out = NAN;
    if (w->n == 1) {
        out = x;
    } else if (w->cnt + 1 < w->n) {
        psub += x;
        psum += x * (double)(w->cnt + 1);
    } else {
        psub += x;
        psub -= trailing;
        psum += x * (double)w->n;
        trailing = ta_ring_back(&w->r, w->n - 1);
        out = psum / w->divider;
        psum -= psub;
    }
    if (commit) {
        w->psum = psum;
        w->psub = psub;
        w->trailing = trailing;
        ta_ring_push(&w->r, x);
        w->cnt++;
    }
    return out;
}

/* ---- monotonic deque: extreme of the last n values and its position -------------------- */
/* Ties resolve to the most recent position, as TA-Lib's AROON/STOCH/WILLR scans do. */
typedef struct ta_mono {
    uint64_t *idx;
    double *val;
    uint32_t n, head, len;
    bool is_max;
} ta_mono;

static inline void ta_mono_init(ta_mono *m, uint32_t n, bool is_max, ta_arena *a)
{
    m->n = n ? n : 1;
    m->head = m->len = 0;
    m->is_max = is_max;
    m->idx = (uint64_t *)ta_arena_take(a, (size_t)m->n * sizeof(uint64_t));
    m->val = (double *)ta_arena_take(a, (size_t)m->n * sizeof(double));
}
static inline uint32_t ta_mono_slot(const ta_mono *m, uint32_t k)
{
    uint32_t s = m->head + k;
    return s >= m->n ? s - m->n : s;
}
/* Extreme over positions (i-n, i] where position i holds x; *pos gets its position. Written
 * once per direction (MAX = 1 / 0) so the comparisons are compile-time. */
#define TA_MONO_STEP(NAME, BETTER, DOMINATED)                                                   \
    static inline double NAME(ta_mono *m, uint64_t i, double x, bool commit, uint64_t *pos)    \
    {                                                                                           \
        uint32_t f = m->len && m->idx[m->head] + m->n <= i; /* front leaves the window */      \
        double best = x;                                                                        \
        uint64_t bi = i;                                                                        \
        if (f < m->len) {                                                                       \
            uint32_t s = ta_mono_slot(m, f);                                                    \
            if (BETTER(m->val[s], x)) {                                                         \
                best = m->val[s];                                                               \
                bi = m->idx[s];                                                                 \
            }                                                                                   \
        }                                                                                       \
        if (commit) {                                                                           \
            if (f) {                                                                            \
                m->head = m->head + 1 == m->n ? 0 : m->head + 1;                                \
                m->len--;                                                                       \
            }                                                                                   \
            while (m->len && DOMINATED(m->val[ta_mono_slot(m, m->len - 1)], x))                 \
                m->len--;                                                                       \
            uint32_t s = ta_mono_slot(m, m->len);                                               \
            m->idx[s] = i;                                                                      \
            m->val[s] = x;                                                                      \
            m->len++;                                                                           \
        }                                                                                       \
        if (pos)                                                                                \
            *pos = bi;                                                                          \
        return best;                                                                            \
    }
#define TA_GT(a, b) ((a) > (b))
#define TA_LT(a, b) ((a) < (b))
#define TA_LE(a, b) ((a) <= (b))
#define TA_GE(a, b) ((a) >= (b))
TA_MONO_STEP(ta_max_step, TA_GT, TA_LE)
TA_MONO_STEP(ta_min_step, TA_LT, TA_GE)

static inline double ta_mono_step(ta_mono *m, uint64_t i, double x, bool commit, uint64_t *pos)
{
    return m->is_max ? ta_max_step(m, i, x, commit, pos) : ta_min_step(m, i, x, commit, pos);
}

/* ---- the implementation table ------------------------------------------------------------ */
typedef struct ta_impl {
    ta_info info; /* first member: a ta_info pointer from the registry is a ta_impl pointer */
    size_t state_size;
    /* Optional cross-parameter check (K_OK / K_ERR with message). */
    int (*check)(const double *p, char *err, size_t errlen);
    /* Sets up the state (zeroed on entry) and takes its arrays from the arena. Must not read
     * array contents: it also runs in a measuring pass where the arrays are NULL. */
    void (*init)(void *st, const double *p, ta_arena *a);
    /* lb[k] = TA-Lib lookback of output k */
    void (*lookback)(const double *p, uint32_t *lb);
    /* Optional: drawing shift of output k for these parameters (default: info.outputs[k].shift) */
    int (*shift)(const double *p, uint32_t k);
    /* i = number of bars committed before this one */
    void (*step)(void *st, const ta_bar *b, uint64_t i, double *out, bool commit);
} ta_impl;

#define TA_STATE_MAX 1024 /* largest state struct (checked at registration in a test) */

/* Every indicator, defined in ta_ma.c, ta_osc.c, ta_band.c, ta_volu.c. */
extern const ta_impl ta_impl_sma, ta_impl_ema, ta_impl_wma, ta_impl_dema, ta_impl_tema,
    ta_impl_kama, ta_impl_hma, ta_impl_trix;
extern const ta_impl ta_impl_rsi, ta_impl_stochrsi, ta_impl_macd, ta_impl_stoch, ta_impl_stochf,
    ta_impl_adx, ta_impl_aroon, ta_impl_cci, ta_impl_roc, ta_impl_mom, ta_impl_willr,
    ta_impl_ultosc, ta_impl_linreg_slope;
extern const ta_impl ta_impl_bb, ta_impl_atr, ta_impl_natr, ta_impl_keltner, ta_impl_donchian,
    ta_impl_supertrend, ta_impl_sar, ta_impl_ichimoku, ta_impl_stddev, ta_impl_zscore,
    ta_impl_rvol;
extern const ta_impl ta_impl_obv, ta_impl_vwap, ta_impl_mfi, ta_impl_cmf, ta_impl_ad,
    ta_impl_adosc;

/* Handy initialisers for the tables. */
#define TA_AUTO NAN, NAN
#define TA_P(nm, d, lo, hi) { (nm), (d), (lo), (hi), true }
#define TA_PR(nm, d, lo, hi) { (nm), (d), (lo), (hi), false }
#define TA_PERIOD(d) TA_P("period", (d), 1, TA_PERIOD_MAX)

/* Internal: the state block of an instance (tests compare it around peek). */
const void *ta_ind_state(const ta_ind *ind, size_t *len);

#endif
