/* Feature extraction for the signal engine. Owns one set of indicator instances per timeframe it
 * reads (1m, 5m, 15m, 1h and the analysis timeframe), small rings of past closes / returns /
 * volumes per timeframe, the 24 h high/low (monotone deques), a 5-minute ring of 1-second trade
 * buckets, the latest book summary and funding, and the per-feature Welford normalisers.
 * Every update is O(1) (vol_pct ranks over a 200-value ring, O(200) once per bar); extract() is
 * O(FEAT_COUNT + 300) and allocates nothing. */
#include "kestrel/features.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kestrel/ta.h"
#include "kestrel/xmalloc.h"

#define FEATURES_MAGIC 0x4B464E4Fu /* "KFNO" */
#define FEATURES_VERSION 1u
#define FEATURES_RING 64   /* bars of closes/returns/volumes kept per timeframe (>= 61) */
#define FEATURES_RVH 200   /* rv_10 values ranked for vol_pct */
#define FEATURES_LAGS 11   /* per-bar key values kept for lags 1..10 */
#define FEATURES_NKEY 4    /* ret_1, rsi_14, vol_ratio, macd_hist_n */
#define FEATURES_FLOW 300  /* 1-second trade buckets */
#define FEATURES_DAY_MS 86400000LL

static const char *const features_names[FEAT_COUNT] = {
#define FEATURES_NAME_(id, name, norm) name,
    FEATURES_LIST(FEATURES_NAME_)
#undef FEATURES_NAME_
};
static const uint8_t features_norm[FEAT_COUNT] = {
#define FEATURES_NORM_(id, name, norm) norm,
    FEATURES_LIST(FEATURES_NORM_)
#undef FEATURES_NORM_
};

const uint32_t features_vote_idx[SCORER_NVOTES] = {
    FEAT_VOTE_MA, FEAT_VOTE_MOM, FEAT_VOTE_RSI, FEAT_VOTE_MACD,
    FEAT_VOTE_BB, FEAT_VOTE_FLOW, FEAT_VOTE_VOL,
};

/* Sliding max (or min) over the last cap bars: indices of candidates, values in vals[]. */
typedef struct features_deque {
    uint64_t *idx;
    uint32_t cap, head, len;
} features_deque;

enum features_ind {
    FI_EMA9, FI_EMA21, FI_EMA50, FI_RSI, FI_MACD, FI_BB, FI_NATR, FI_ADX, FI_STOCH, FI_CCI,
    FI_MFI, FI_WILLR, FI_CMF, FI_AROON, FI_ZSCORE, FI_SLOPE, FI_OBV, FI_ATR, FI_COUNT
};
static const char *const features_specs[FI_COUNT] = {
    "ema_9", "ema_21", "ema_50", "rsi_14", "macd_12_26_9", "bb_20_2", "natr_14", "adx_14",
    "stoch_14_3_3", "cci_20", "mfi_14", "willr_14", "cmf_20", "aroon_14", "zscore_20",
    "linreg_slope_14", "obv", "atr_14",
};

typedef struct features_tf {
    uint64_t bars;
    int64_t last_open;
    ta_ind *ind[FI_COUNT];
    double out[FI_COUNT][TA_MAX_OUTPUTS];
    double prev_macd_diff, prev_hist;
    double open, close;
    double closes[FEATURES_RING], rets[FEATURES_RING], vols[FEATURES_RING];
    double deltas[FEATURES_RING], obvs[FEATURES_RING];
    uint8_t taker[FEATURES_RING];
    uint32_t cap24;
    double *hi, *lo;
    features_deque dmax, dmin;
    double rvh[FEATURES_RVH];
    uint32_t rvh_n;
    double vol_pct;
    double key[FEATURES_LAGS][FEATURES_NKEY];
} features_tf;

typedef struct features_bucket {
    int64_t sec;
    double buy, sell;
    uint32_t n;
} features_bucket;

struct features {
    features_config cfg;
    features_tf *tf[TF_COUNT]; /* NULL for timeframes not read */
    features_bucket flow[FEATURES_FLOW];
    int64_t last_trade_ms;
    bool book_valid;
    int64_t book_ms;
    double imb5, imb20, spread_bps, depth20, micro_bps;
    bool funding_valid;
    int64_t funding_ms;
    double funding, basis_bps;
    uint64_t norm_n[FEAT_COUNT];
    double norm_mean[FEAT_COUNT], norm_m2[FEAT_COUNT];
};

void features_config_default(features_config *c)
{
    c->analysis_tf = TF_15M;
    c->norm_warmup = 20;
    c->book_stale_ms = 10000;
    c->funding_stale_ms = 8 * 3600 * 1000LL + 60000;
}

uint32_t features_count(void)
{
    return FEAT_COUNT;
}

const char *features_name(uint32_t i)
{
    return i < FEAT_COUNT ? features_names[i] : NULL;
}

bool features_normalised(uint32_t i)
{
    return i < FEAT_COUNT && features_norm[i];
}

/* ---- per-timeframe state ------------------------------------------------------------- */

static void features_deque_push(features_deque *d, const double *vals, uint32_t vcap,
                                uint64_t i, bool is_max)
{
    while (d->len && d->idx[d->head] + vcap <= i) { /* expired: older than the window */
        d->head = (d->head + 1) % d->cap;
        d->len--;
    }
    double v = vals[i % vcap];
    while (d->len) {
        uint64_t back = d->idx[(d->head + d->len - 1) % d->cap];
        double bv = vals[back % vcap];
        if (is_max ? bv <= v : bv >= v)
            d->len--;
        else
            break;
    }
    d->idx[(d->head + d->len) % d->cap] = i;
    d->len++;
}

static features_tf *features_tf_new(enum tf tf)
{
    features_tf *s = xcalloc(1, sizeof *s);
    char err[128];
    for (int i = 0; i < FI_COUNT; i++) {
        s->ind[i] = ta_ind_new(features_specs[i], err, sizeof err);
        if (!s->ind[i])
            abort(); /* the specs are constants: a failure is a programming error */
        for (int k = 0; k < TA_MAX_OUTPUTS; k++)
            s->out[i][k] = NAN;
    }
    int64_t ms = tf_ms(tf);
    int64_t cap = ms > 0 ? FEATURES_DAY_MS / ms : 1;
    s->cap24 = (uint32_t)(cap < 1 ? 1 : cap > 1440 ? 1440 : cap);
    s->hi = xcalloc(s->cap24, sizeof(double));
    s->lo = xcalloc(s->cap24, sizeof(double));
    s->dmax.idx = xcalloc(s->cap24, sizeof(uint64_t));
    s->dmin.idx = xcalloc(s->cap24, sizeof(uint64_t));
    s->dmax.cap = s->dmin.cap = s->cap24;
    s->prev_macd_diff = s->prev_hist = NAN;
    s->open = s->close = s->vol_pct = NAN;
    s->last_open = INT64_MIN;
    return s;
}

static void features_tf_free(features_tf *s)
{
    if (!s)
        return;
    for (int i = 0; i < FI_COUNT; i++)
        ta_ind_free(s->ind[i]);
    free(s->hi);
    free(s->lo);
    free(s->dmax.idx);
    free(s->dmin.idx);
    free(s);
}

/* Value n bars back in a ring (0 = the newest bar), NaN when not held. */
static double features_back(const features_tf *s, const double *ring, uint64_t n)
{
    if (n >= s->bars || n >= FEATURES_RING)
        return NAN;
    return ring[(s->bars - 1 - n) % FEATURES_RING];
}

static double features_logret(const features_tf *s, uint64_t n)
{
    double c0 = features_back(s, s->closes, 0), cn = features_back(s, s->closes, n);
    return (isnan(c0) || isnan(cn)) ? NAN : log(c0 / cn);
}

/* Sample standard deviation of the last n one-bar log returns (needs n+1 bars). */
static double features_rv(const features_tf *s, uint32_t n)
{
    if (s->bars < (uint64_t)n + 1)
        return NAN;
    double sum = 0, sq = 0;
    for (uint32_t i = 0; i < n; i++) {
        double r = features_back(s, s->rets, i);
        sum += r;
        sq += r * r;
    }
    double mean = sum / n, var = (sq - n * mean * mean) / (n - 1);
    return sqrt(var > 0 ? var : 0);
}

static double features_mean_back(const features_tf *s, const double *ring, uint32_t n)
{
    if (s->bars < n)
        return NAN;
    double sum = 0;
    for (uint32_t i = 0; i < n; i++)
        sum += features_back(s, ring, i);
    return sum / n;
}

static double features_div(double a, double b)
{
    return (isnan(a) || isnan(b) || b == 0) ? NAN : a / b;
}

static double features_vol_ratio(const features_tf *s)
{
    return features_div(features_back(s, s->vols, 0), features_mean_back(s, s->vols, 20));
}

int features_on_bar(features *f, enum tf tf, const candle *c, bool has_taker)
{
    if ((unsigned)tf >= TF_COUNT || !f->tf[tf])
        return K_OK;
    features_tf *s = f->tf[tf];
    ta_bar b = ta_bar_from_candle(c);
    if (c->open_ms <= s->last_open || !(b.o > 0) || !(b.h > 0) || !(b.l > 0) || !(b.c > 0) ||
        b.h < b.l || !(b.v >= 0) || !isfinite(b.h) || !isfinite(b.v))
        return K_ERR;
    s->prev_macd_diff = s->out[FI_MACD][0] - s->out[FI_MACD][1];
    s->prev_hist = s->out[FI_MACD][2];
    for (int i = 0; i < FI_COUNT; i++)
        ta_ind_update(s->ind[i], &b, s->out[i]);
    uint64_t i = s->bars;
    double prev = i ? s->closes[(i - 1) % FEATURES_RING] : NAN;
    s->closes[i % FEATURES_RING] = b.c;
    s->rets[i % FEATURES_RING] = i ? log(b.c / prev) : NAN;
    s->vols[i % FEATURES_RING] = b.v;
    double buy = (double)c->buy_volume / (double)KDEC_SCALE;
    s->deltas[i % FEATURES_RING] = has_taker ? 2.0 * buy - b.v : NAN;
    s->taker[i % FEATURES_RING] = has_taker;
    s->obvs[i % FEATURES_RING] = s->out[FI_OBV][0];
    s->hi[i % s->cap24] = b.h;
    s->lo[i % s->cap24] = b.l;
    features_deque_push(&s->dmax, s->hi, s->cap24, i, true);
    features_deque_push(&s->dmin, s->lo, s->cap24, i, false);
    s->bars++;
    s->last_open = c->open_ms;
    s->open = b.o;
    s->close = b.c;
    double rv10 = features_rv(s, 10);
    if (!isnan(rv10)) {
        s->rvh[s->rvh_n % FEATURES_RVH] = rv10;
        s->rvh_n++;
        uint32_t n = s->rvh_n < FEATURES_RVH ? s->rvh_n : FEATURES_RVH, le = 0;
        for (uint32_t k = 0; k < n; k++)
            le += s->rvh[k] <= rv10;
        s->vol_pct = n >= 20 ? (double)le / n : NAN;
    }
    double *key = s->key[(s->bars - 1) % FEATURES_LAGS];
    key[0] = s->rets[i % FEATURES_RING];
    key[1] = s->out[FI_RSI][0];
    key[2] = features_vol_ratio(s);
    key[3] = features_div(s->out[FI_MACD][2], b.c);
    return K_OK;
}

/* Key value k of the bar `lag` bars before the newest. */
static double features_lag(const features_tf *s, uint32_t lag, int k)
{
    if ((uint64_t)lag >= s->bars || lag >= FEATURES_LAGS)
        return NAN;
    return s->key[(s->bars - 1 - lag) % FEATURES_LAGS][k];
}

/* ---- trades, book, funding ------------------------------------------------------------ */

void features_on_trade(features *f, int64_t time_ms, kdec px, kdec qty, bool buyer_maker)
{
    if (px <= 0 || qty <= 0)
        return;
    int64_t sec = time_ms / 1000;
    features_bucket *b = &f->flow[(uint64_t)sec % FEATURES_FLOW];
    if (b->sec != sec) {
        memset(b, 0, sizeof *b);
        b->sec = sec;
    }
    double q = (double)qty / (double)KDEC_SCALE;
    if (buyer_maker)
        b->sell += q;
    else
        b->buy += q;
    b->n++;
    if (time_ms > f->last_trade_ms)
        f->last_trade_ms = time_ms;
}

void features_on_depth(features *f, const kdec *bid_px, const kdec *bid_qty, uint32_t nbid,
                       const kdec *ask_px, const kdec *ask_qty, uint32_t nask, int64_t now_ms)
{
    f->book_valid = false;
    if (nbid == 0 || nask == 0 || bid_px[0] <= 0 || ask_px[0] <= bid_px[0])
        return;
    double bq5 = 0, aq5 = 0, bq20 = 0, aq20 = 0, notional = 0;
    for (uint32_t i = 0; i < 20; i++) {
        double bq = i < nbid ? (double)bid_qty[i] / KDEC_SCALE : 0;
        double aq = i < nask ? (double)ask_qty[i] / KDEC_SCALE : 0;
        if (i < 5) {
            bq5 += bq;
            aq5 += aq;
        }
        bq20 += bq;
        aq20 += aq;
        if (i < nbid)
            notional += bq * (double)bid_px[i] / KDEC_SCALE;
        if (i < nask)
            notional += aq * (double)ask_px[i] / KDEC_SCALE;
    }
    double bid = (double)bid_px[0] / KDEC_SCALE, ask = (double)ask_px[0] / KDEC_SCALE;
    double mid = (bid + ask) / 2;
    double bq0 = (double)bid_qty[0] / KDEC_SCALE, aq0 = (double)ask_qty[0] / KDEC_SCALE;
    f->imb5 = bq5 + aq5 > 0 ? (bq5 - aq5) / (bq5 + aq5) : NAN;
    f->imb20 = bq20 + aq20 > 0 ? (bq20 - aq20) / (bq20 + aq20) : NAN;
    f->spread_bps = (ask - bid) / mid * 1e4;
    f->depth20 = notional > 0 ? log10(notional) : NAN;
    f->micro_bps = bq0 + aq0 > 0 ? ((bid * aq0 + ask * bq0) / (bq0 + aq0) - mid) / mid * 1e4 : NAN;
    f->book_ms = now_ms;
    f->book_valid = true;
}

void features_on_book(features *f, const book *b, int64_t now_ms)
{
    if (!b || !book_is_live(b) || book_is_crossed(b)) {
        f->book_valid = false;
        return;
    }
    kdec bp[20], bq[20], ap[20], aq[20];
    uint32_t nb = 0, na = 0;
    while (nb < 20 && book_level(b, BOOK_BID, nb, &bp[nb], &bq[nb]) == K_OK)
        nb++;
    while (na < 20 && book_level(b, BOOK_ASK, na, &ap[na], &aq[na]) == K_OK)
        na++;
    features_on_depth(f, bp, bq, nb, ap, aq, na, now_ms);
}

void features_on_funding(features *f, int64_t time_ms, double rate, double mark, double index)
{
    if (!isfinite(rate) || !(mark > 0) || !(index > 0)) {
        f->funding_valid = false;
        return;
    }
    f->funding = rate;
    f->basis_bps = (mark - index) / index * 1e4;
    f->funding_ms = time_ms;
    f->funding_valid = true;
}

/* ---- construction ------------------------------------------------------------------- */

features *features_new(const features_config *cfg)
{
    features *f = xcalloc(1, sizeof *f);
    if (cfg)
        f->cfg = *cfg;
    else
        features_config_default(&f->cfg);
    const enum tf used[] = { TF_1M, TF_5M, TF_15M, TF_1H };
    for (size_t i = 0; i < K_ARRAY_LEN(used); i++)
        f->tf[used[i]] = features_tf_new(used[i]);
    if ((unsigned)f->cfg.analysis_tf >= TF_COUNT)
        f->cfg.analysis_tf = TF_15M;
    if (!f->tf[f->cfg.analysis_tf])
        f->tf[f->cfg.analysis_tf] = features_tf_new(f->cfg.analysis_tf);
    for (int i = 0; i < FEATURES_FLOW; i++)
        f->flow[i].sec = INT64_MIN;
    f->last_trade_ms = INT64_MIN;
    return f;
}

void features_free(features *f)
{
    if (!f)
        return;
    for (int i = 0; i < TF_COUNT; i++)
        features_tf_free(f->tf[i]);
    free(f);
}

uint32_t features_rebuild(features *f, enum tf tf, const candle *bars, uint32_t n,
                          bool has_taker)
{
    if ((unsigned)tf >= TF_COUNT || !f->tf[tf])
        return 0;
    features_tf_free(f->tf[tf]);
    f->tf[tf] = features_tf_new(tf);
    uint32_t fed = 0;
    for (uint32_t i = 0; i < n; i++)
        if (!(bars[i].flags & CANDLE_PARTIAL) &&
            features_on_bar(f, tf, &bars[i], has_taker) == K_OK)
            fed++;
    return fed;
}

int64_t features_last_open(const features *f, enum tf tf)
{
    return (unsigned)tf < TF_COUNT && f->tf[tf] ? f->tf[tf]->last_open : INT64_MIN;
}

uint64_t features_bars(const features *f, enum tf tf)
{
    return (unsigned)tf < TF_COUNT && f->tf[tf] ? f->tf[tf]->bars : 0;
}

double features_last_close(const features *f)
{
    return f->tf[f->cfg.analysis_tf]->close;
}

/* ---- extraction ----------------------------------------------------------------------- */

/* Trade flow over the last `secs` seconds up to now: (buy - sell) / (buy + sell) and count. */
static double features_flow(const features *f, int64_t now_ms, int secs, uint32_t *count)
{
    int64_t now_s = now_ms / 1000;
    double buy = 0, sell = 0;
    uint32_t n = 0;
    for (int i = 0; i < FEATURES_FLOW; i++) {
        const features_bucket *b = &f->flow[i];
        if (b->sec <= now_s && b->sec > now_s - secs) {
            buy += b->buy;
            sell += b->sell;
            n += b->n;
        }
    }
    if (count)
        *count = n;
    return buy + sell > 0 ? (buy - sell) / (buy + sell) : 0;
}

/* Any trade in the last 5 minutes up to now (later trades are the future: not counted). */
static bool features_trades_live(const features *f, int64_t now_ms)
{
    uint32_t n = 0;
    if (f->last_trade_ms == INT64_MIN)
        return false;
    features_flow(f, now_ms, FEATURES_FLOW, &n);
    return n > 0;
}

static bool features_book_live(const features *f, int64_t now_ms)
{
    return f->book_valid && now_ms - f->book_ms <= f->cfg.book_stale_ms && now_ms >= f->book_ms;
}

void features_scorer_input(const features *f, int64_t now_ms, scorer_input *in)
{
    const features_tf *s = f->tf[f->cfg.analysis_tf];
    scorer_input_clear(in);
    in->close = s->close;
    in->open = s->open;
    in->ema9 = s->out[FI_EMA9][0];
    in->ema21 = s->out[FI_EMA21][0];
    in->ema50 = s->out[FI_EMA50][0];
    in->ret_5 = features_div(features_back(s, s->closes, 0), features_back(s, s->closes, 5)) - 1;
    in->rsi = s->out[FI_RSI][0];
    in->macd = s->out[FI_MACD][0];
    in->macd_signal = s->out[FI_MACD][1];
    in->macd_prev_diff = s->prev_macd_diff;
    in->hist = s->out[FI_MACD][2];
    in->hist_prev = s->prev_hist;
    in->bb_upper = s->out[FI_BB][0];
    in->bb_lower = s->out[FI_BB][2];
    in->bb_width = s->out[FI_BB][4];
    if (features_book_live(f, now_ms) && !isnan(f->imb5))
        in->imbalance = f->imb5;
    else if (features_trades_live(f, now_ms))
        in->imbalance = features_flow(f, now_ms, 300, NULL);
    else if (s->bars && s->taker[(s->bars - 1) % FEATURES_RING])
        in->imbalance = features_div(features_back(s, s->deltas, 0),
                                     features_back(s, s->vols, 0));
    in->vol_ratio = features_vol_ratio(s);
    in->adx = s->out[FI_ADX][0];
    in->vol_pct = s->vol_pct;
    in->atr = s->out[FI_ATR][0];
    const enum tf ctx[3] = { TF_1M, TF_5M, TF_1H };
    for (int k = 0; k < 3; k++) {
        const features_tf *c = f->tf[ctx[k]];
        in->ctx_trend[k] = features_div(c->out[FI_EMA9][0], c->out[FI_EMA21][0]) - 1;
    }
}

static void features_ctx(const features_tf *c, double *out4)
{
    out4[0] = c->out[FI_RSI][0];
    out4[1] = features_logret(c, 1);
    out4[2] = features_div(c->out[FI_EMA9][0], c->out[FI_EMA21][0]) - 1;
    out4[3] = features_div(c->out[FI_MACD][2], c->close);
}

void features_peek(const features *f, int64_t now_ms, double *r)
{
    const features_tf *s = f->tf[f->cfg.analysis_tf];
    for (int i = 0; i < FEAT_COUNT; i++)
        r[i] = NAN;
    double c = s->close;
    r[FEAT_RET_1] = features_logret(s, 1);
    r[FEAT_RET_3] = features_logret(s, 3);
    r[FEAT_RET_5] = features_logret(s, 5);
    r[FEAT_RET_10] = features_logret(s, 10);
    r[FEAT_RET_20] = features_logret(s, 20);
    r[FEAT_ACCEL_1] = features_back(s, s->rets, 0) - features_back(s, s->rets, 1);
    double c5 = features_back(s, s->closes, 5), c10 = features_back(s, s->closes, 10);
    r[FEAT_ACCEL_5] = r[FEAT_RET_5] - (isnan(c5) || isnan(c10) ? NAN : log(c5 / c10));
    r[FEAT_MOM_EMA21] = features_div(c, s->out[FI_EMA21][0]) - 1;
    r[FEAT_EMA_9_21] = features_div(s->out[FI_EMA9][0], s->out[FI_EMA21][0]) - 1;
    r[FEAT_EMA_21_50] = features_div(s->out[FI_EMA21][0], s->out[FI_EMA50][0]) - 1;
    r[FEAT_RV_10] = features_rv(s, 10);
    r[FEAT_RV_60] = features_rv(s, 60);
    r[FEAT_RV_RATIO] = features_div(r[FEAT_RV_10], r[FEAT_RV_60]);
    if (s->bars * (uint64_t)tf_ms(f->cfg.analysis_tf) >= 3600000ULL && s->dmax.len) {
        double hi = s->hi[s->dmax.idx[s->dmax.head] % s->cap24];
        double lo = s->lo[s->dmin.idx[s->dmin.head] % s->cap24];
        r[FEAT_RANGE_POS_24H] = hi > lo ? (c - lo) / (hi - lo) : 0.5;
    }
    r[FEAT_RSI_14] = s->out[FI_RSI][0];
    r[FEAT_MACD_N] = features_div(s->out[FI_MACD][0], c);
    r[FEAT_MACD_SIG_N] = features_div(s->out[FI_MACD][1], c);
    r[FEAT_MACD_HIST_N] = features_div(s->out[FI_MACD][2], c);
    r[FEAT_BB_PCTB] = s->out[FI_BB][3];
    r[FEAT_BB_WIDTH] = s->out[FI_BB][4];
    r[FEAT_NATR_14] = s->out[FI_NATR][0];
    r[FEAT_ADX_14] = s->out[FI_ADX][0];
    r[FEAT_DI_DIFF] = s->out[FI_ADX][1] - s->out[FI_ADX][2];
    r[FEAT_STOCH_K] = s->out[FI_STOCH][0];
    r[FEAT_STOCH_D] = s->out[FI_STOCH][1];
    r[FEAT_CCI_20] = s->out[FI_CCI][0];
    r[FEAT_MFI_14] = s->out[FI_MFI][0];
    r[FEAT_WILLR_14] = s->out[FI_WILLR][0];
    r[FEAT_CMF_20] = s->out[FI_CMF][0];
    r[FEAT_AROON_OSC] = s->out[FI_AROON][2];
    r[FEAT_ZSCORE_20] = s->out[FI_ZSCORE][0];
    r[FEAT_SLOPE_14] = features_div(s->out[FI_SLOPE][0], c);
    r[FEAT_VOL_RATIO] = features_vol_ratio(s);
    r[FEAT_VOL_TREND] = features_div(features_mean_back(s, s->vols, 5),
                                     features_mean_back(s, s->vols, 20));
    double vsum10 = features_mean_back(s, s->vols, 10) * 10;
    r[FEAT_OBV_SLOPE] = features_div(features_back(s, s->obvs, 0) - features_back(s, s->obvs, 10),
                                     vsum10);
    if (s->bars && s->taker[(s->bars - 1) % FEATURES_RING])
        r[FEAT_BAR_DELTA] = features_div(features_back(s, s->deltas, 0),
                                         features_back(s, s->vols, 0));
    if (s->bars >= 20) {
        double d = 0, v = 0;
        bool all = true;
        for (uint32_t i = 0; i < 20; i++) {
            all &= s->taker[(s->bars - 1 - i) % FEATURES_RING] != 0;
            d += features_back(s, s->deltas, i);
            v += features_back(s, s->vols, i);
        }
        if (all)
            r[FEAT_CVD_20] = features_div(d, v);
    }
    if (features_book_live(f, now_ms)) {
        r[FEAT_IMB_5] = f->imb5;
        r[FEAT_IMB_20] = f->imb20;
        r[FEAT_SPREAD_BPS] = f->spread_bps;
        r[FEAT_DEPTH_20] = f->depth20;
        r[FEAT_MICRO_BPS] = f->micro_bps;
    }
    if (features_trades_live(f, now_ms)) {
        uint32_t n = 0;
        r[FEAT_FLOW_30S] = features_flow(f, now_ms, 30, NULL);
        r[FEAT_FLOW_300S] = features_flow(f, now_ms, 300, &n);
        r[FEAT_TRADE_RATE] = log1p(n / 5.0);
    }
    r[FEAT_VOL_PCT] = s->vol_pct;
    if (f->funding_valid && now_ms >= f->funding_ms &&
        now_ms - f->funding_ms <= f->cfg.funding_stale_ms) {
        r[FEAT_FUNDING] = f->funding;
        r[FEAT_BASIS_BPS] = f->basis_bps;
    }
    int64_t day_ms = ((now_ms % FEATURES_DAY_MS) + FEATURES_DAY_MS) % FEATURES_DAY_MS;
    double hour = (double)day_ms / 3600000.0;
    int64_t days = (now_ms - day_ms) / FEATURES_DAY_MS;
    int dow = (int)(((days + 3) % 7 + 7) % 7); /* 0 = Monday (1970-01-01 was a Thursday) */
    r[FEAT_HOUR_SIN] = sin(2 * M_PI * hour / 24);
    r[FEAT_HOUR_COS] = cos(2 * M_PI * hour / 24);
    r[FEAT_DOW_SIN] = sin(2 * M_PI * dow / 7);
    r[FEAT_DOW_COS] = cos(2 * M_PI * dow / 7);
    r[FEAT_WEEKEND] = dow >= 5 ? 1 : 0;
    const enum tf ctx[4] = { TF_1M, TF_5M, TF_15M, TF_1H };
    for (int k = 0; k < 4; k++)
        features_ctx(f->tf[ctx[k]], &r[FEAT_C1M_RSI + 4 * k]);
    const uint32_t lags[5] = { 1, 2, 3, 5, 10 };
    for (int k = 0; k < FEATURES_NKEY; k++)
        for (int j = 0; j < 5; j++)
            r[FEAT_RET_1_L1 + 5 * k + j] = features_lag(s, lags[j], k);
    r[FEAT_RSI_X_IMB] = (r[FEAT_RSI_14] - 50) / 50 * r[FEAT_IMB_5];
    r[FEAT_RET5_X_VR] = r[FEAT_RET_5] * r[FEAT_VOL_RATIO];
    r[FEAT_ADX_X_EMA] = r[FEAT_ADX_14] / 100 * r[FEAT_EMA_9_21];
    r[FEAT_RSI_X_FLOW] = (r[FEAT_RSI_14] - 50) / 50 * r[FEAT_FLOW_300S];
    scorer_input in;
    scorer_result sr;
    features_scorer_input(f, now_ms, &in);
    scorer_score(&in, SCORER_THRESHOLD, &sr);
    for (int v = 0; v < SCORER_NVOTES; v++)
        r[features_vote_idx[v]] = sr.vote_missing[v] ? NAN : (double)sr.votes[v];
    for (int i = 0; i < FEAT_COUNT; i++)
        if (!isfinite(r[i]))
            r[i] = NAN;
}

/* one normaliser's Welford update with the raw value v */
static void features_welford(features *f, int i, double v)
{
    uint64_t n = f->norm_n[i];
    f->norm_n[i] = n + 1;
    double d = v - f->norm_mean[i];
    f->norm_mean[i] += d / (double)(n + 1);
    f->norm_m2[i] += d * (v - f->norm_mean[i]);
}

uint32_t features_extract(features *f, int64_t now_ms, float *x, uint8_t *missing, double *raw)
{
    double local[FEAT_COUNT];
    double *r = raw ? raw : local;
    features_peek(f, now_ms, r);
    uint32_t nmiss = 0;
    for (int i = 0; i < FEAT_COUNT; i++) {
        double v = r[i];
        if (isnan(v)) {
            x[i] = 0;
            missing[i] = 1;
            nmiss++;
            continue;
        }
        if (!features_norm[i]) {
            x[i] = (float)v;
            missing[i] = 0;
            continue;
        }
        uint64_t n = f->norm_n[i];
        if (n < f->cfg.norm_warmup || n < 2) {
            x[i] = 0;
            missing[i] = 1;
            nmiss++;
        } else {
            double sd = sqrt(f->norm_m2[i] / (double)(n - 1));
            double z = sd > 0 ? (v - f->norm_mean[i]) / sd : 0;
            z = z > 8 ? 8 : z < -8 ? -8 : z;
            x[i] = (float)z;
            missing[i] = 0;
        }
        features_welford(f, i, v); /* after standardising: a sample never normalises itself */
    }
    return nmiss;
}

void features_observe(features *f, const double *raw)
{
    for (int i = 0; i < FEAT_COUNT; i++)
        if (!isnan(raw[i]) && features_norm[i])
            features_welford(f, i, raw[i]);
}

struct features_header {
    uint32_t magic, version, count, warmup;
};

void features_save(const features *f, model_blob *out)
{
    struct features_header h = { FEATURES_MAGIC, FEATURES_VERSION, FEAT_COUNT,
                                 f->cfg.norm_warmup };
    model_blob_put(out, &h, sizeof h);
    model_blob_put(out, f->norm_n, sizeof f->norm_n);
    model_blob_put(out, f->norm_mean, sizeof f->norm_mean);
    model_blob_put(out, f->norm_m2, sizeof f->norm_m2);
}

enum model_result features_load(features *f, const uint8_t *data, size_t len)
{
    struct features_header h;
    size_t off = 0;
    if (model_blob_get(data, len, &off, &h, sizeof h) != K_MODEL_OK ||
        h.magic != FEATURES_MAGIC || h.version != FEATURES_VERSION || h.count != FEAT_COUNT ||
        len != sizeof h + sizeof f->norm_n + sizeof f->norm_mean + sizeof f->norm_m2)
        return K_MODEL_BAD_STATE;
    memcpy(f->norm_n, data + off, sizeof f->norm_n);
    memcpy(f->norm_mean, data + off + sizeof f->norm_n, sizeof f->norm_mean);
    memcpy(f->norm_m2, data + off + sizeof f->norm_n + sizeof f->norm_mean, sizeof f->norm_m2);
    f->cfg.norm_warmup = h.warmup;
    return K_MODEL_OK;
}
