/* The engine's feature extractor: its own indicator instances per timeframe (never the chart's),
 * book, trade-flow and funding state, fed by the caller, and extract() into a fixed vector of
 * FEAT_COUNT floats with a missing mask. Normalisation is online (Welford mean/variance per
 * feature, updated AFTER the value is standardised with the statistics of earlier samples, so
 * nothing from the future leaks in); a feature whose normaliser has seen fewer than
 * norm_warmup samples, or whose data the feed cannot supply (no book in a kline backtest), is
 * marked missing and its value is 0 — never a silent zero. Every feature's definition is in
 * docs/ENGINE.md ("Features"). */
#ifndef KESTREL_FEATURES_H
#define KESTREL_FEATURES_H
#include "kestrel/book.h"
#include "kestrel/candles.h"
#include "kestrel/model.h"
#include "kestrel/scorer.h"

/* X(id, name, normalised) in vector order. Not normalised: bounded or categorical features
 * (cyclic time, weekend, votes). */
#define FEATURES_LIST(X)                                                                    \
    X(RET_1, "ret_1", 1) X(RET_3, "ret_3", 1) X(RET_5, "ret_5", 1) X(RET_10, "ret_10", 1)   \
    X(RET_20, "ret_20", 1) X(ACCEL_1, "accel_1", 1) X(ACCEL_5, "accel_5", 1)                 \
    X(MOM_EMA21, "mom_ema21", 1) X(EMA_9_21, "ema_9_21", 1) X(EMA_21_50, "ema_21_50", 1)     \
    X(RV_10, "rv_10", 1) X(RV_60, "rv_60", 1) X(RV_RATIO, "rv_ratio", 1)                     \
    X(RANGE_POS_24H, "range_pos_24h", 1)                                                     \
    X(RSI_14, "rsi_14", 1) X(MACD_N, "macd_n", 1) X(MACD_SIG_N, "macd_sig_n", 1)             \
    X(MACD_HIST_N, "macd_hist_n", 1) X(BB_PCTB, "bb_pctb", 1) X(BB_WIDTH, "bb_width", 1)     \
    X(NATR_14, "natr_14", 1) X(ADX_14, "adx_14", 1) X(DI_DIFF, "di_diff", 1)                 \
    X(STOCH_K, "stoch_k", 1) X(STOCH_D, "stoch_d", 1) X(CCI_20, "cci_20", 1)                 \
    X(MFI_14, "mfi_14", 1) X(WILLR_14, "willr_14", 1) X(CMF_20, "cmf_20", 1)                 \
    X(AROON_OSC, "aroon_osc", 1) X(ZSCORE_20, "zscore_20", 1) X(SLOPE_14, "slope_14", 1)     \
    X(VOL_RATIO, "vol_ratio", 1) X(VOL_TREND, "vol_trend", 1) X(OBV_SLOPE, "obv_slope", 1)   \
    X(BAR_DELTA, "bar_delta", 1) X(CVD_20, "cvd_20", 1)                                      \
    X(IMB_5, "imb_5", 1) X(IMB_20, "imb_20", 1) X(SPREAD_BPS, "spread_bps", 1)               \
    X(DEPTH_20, "depth_20", 1) X(MICRO_BPS, "micro_bps", 1)                                  \
    X(FLOW_30S, "flow_30s", 1) X(FLOW_300S, "flow_300s", 1) X(TRADE_RATE, "trade_rate", 1)   \
    X(VOL_PCT, "vol_pct", 1) X(FUNDING, "funding", 1) X(BASIS_BPS, "basis_bps", 1)           \
    X(HOUR_SIN, "hour_sin", 0) X(HOUR_COS, "hour_cos", 0) X(DOW_SIN, "dow_sin", 0)           \
    X(DOW_COS, "dow_cos", 0) X(WEEKEND, "weekend", 0)                                        \
    X(C1M_RSI, "ctx_1m_rsi", 1) X(C1M_RET, "ctx_1m_ret", 1) X(C1M_EMA, "ctx_1m_ema_9_21", 1) \
    X(C1M_MACD, "ctx_1m_macd_hist_n", 1)                                                     \
    X(C5M_RSI, "ctx_5m_rsi", 1) X(C5M_RET, "ctx_5m_ret", 1) X(C5M_EMA, "ctx_5m_ema_9_21", 1) \
    X(C5M_MACD, "ctx_5m_macd_hist_n", 1)                                                     \
    X(C15M_RSI, "ctx_15m_rsi", 1) X(C15M_RET, "ctx_15m_ret", 1)                              \
    X(C15M_EMA, "ctx_15m_ema_9_21", 1) X(C15M_MACD, "ctx_15m_macd_hist_n", 1)                \
    X(C1H_RSI, "ctx_1h_rsi", 1) X(C1H_RET, "ctx_1h_ret", 1) X(C1H_EMA, "ctx_1h_ema_9_21", 1) \
    X(C1H_MACD, "ctx_1h_macd_hist_n", 1)                                                     \
    X(RET_1_L1, "ret_1_lag1", 1) X(RET_1_L2, "ret_1_lag2", 1) X(RET_1_L3, "ret_1_lag3", 1)   \
    X(RET_1_L5, "ret_1_lag5", 1) X(RET_1_L10, "ret_1_lag10", 1)                              \
    X(RSI_L1, "rsi_14_lag1", 1) X(RSI_L2, "rsi_14_lag2", 1) X(RSI_L3, "rsi_14_lag3", 1)      \
    X(RSI_L5, "rsi_14_lag5", 1) X(RSI_L10, "rsi_14_lag10", 1)                                \
    X(VR_L1, "vol_ratio_lag1", 1) X(VR_L2, "vol_ratio_lag2", 1)                              \
    X(VR_L3, "vol_ratio_lag3", 1) X(VR_L5, "vol_ratio_lag5", 1)                              \
    X(VR_L10, "vol_ratio_lag10", 1)                                                          \
    X(MH_L1, "macd_hist_n_lag1", 1) X(MH_L2, "macd_hist_n_lag2", 1)                          \
    X(MH_L3, "macd_hist_n_lag3", 1) X(MH_L5, "macd_hist_n_lag5", 1)                          \
    X(MH_L10, "macd_hist_n_lag10", 1)                                                        \
    X(RSI_X_IMB, "rsi_x_imb5", 1) X(RET5_X_VR, "ret5_x_vol_ratio", 1)                        \
    X(ADX_X_EMA, "adx_x_ema_9_21", 1) X(RSI_X_FLOW, "rsi_x_flow300", 1)                      \
    X(VOTE_MA, "vote_ma", 0) X(VOTE_MOM, "vote_momentum", 0) X(VOTE_RSI, "vote_rsi", 0)      \
    X(VOTE_MACD, "vote_macd", 0) X(VOTE_BB, "vote_bb", 0) X(VOTE_FLOW, "vote_flow", 0)       \
    X(VOTE_VOL, "vote_volume", 0)

#define FEATURES_ENUM_(id, name, norm) FEAT_##id,
enum feat_id { FEATURES_LIST(FEATURES_ENUM_) FEAT_COUNT };
#undef FEATURES_ENUM_

/* The vote features in enum scorer_vote order (for scorer_weights_new). */
extern const uint32_t features_vote_idx[SCORER_NVOTES];

typedef struct features_config {
    enum tf analysis_tf;   /* TF_15M: the timeframe the full feature set and the scorer use */
    uint32_t norm_warmup;  /* samples before a normalised feature is trusted (20) */
    int64_t book_stale_ms; /* book values older than this are missing (10000) */
    int64_t funding_stale_ms; /* funding/basis older than this are missing (8 h + 1 min) */
} features_config;

void features_config_default(features_config *c);

typedef struct features features;

features *features_new(const features_config *cfg); /* NULL cfg = defaults */
void features_free(features *f);

/* A closed bar of timeframe tf (1m, 5m, 15m, 1h and the analysis timeframe are used; others
 * are ignored with K_OK). has_taker: buy_volume is real (trade-built bars); kline files have
 * none, which makes the delta features missing. K_ERR for a bar not after the previous one of
 * its timeframe or an unusable bar (state unchanged). */
int features_on_bar(features *f, enum tf tf, const candle *c, bool has_taker);
/* Timeframe tf's state (indicators, rings, 24 h range, lags) built again from bars (oldest
 * first; partial ones skipped) as if they had been the only bars: a bar revised after its close
 * (docs/LIVE.md "A bar revised after its close"). The normalisers, trades, book and funding
 * are not touched. Returns the bars taken; 0 for a timeframe not read. */
uint32_t features_rebuild(features *f, enum tf tf, const candle *bars, uint32_t n,
                          bool has_taker);
/* Open time of the newest bar tf took (INT64_MIN: none, or a timeframe not read). */
int64_t features_last_open(const features *f, enum tf tf);
void features_on_trade(features *f, int64_t time_ms, kdec px, kdec qty, bool buyer_maker);
/* The book's top levels now (only a LIVE book counts; otherwise the book features go missing). */
void features_on_book(features *f, const book *b, int64_t now_ms);
/* The same from plain level arrays (best first), for callers without a book object. */
void features_on_depth(features *f, const kdec *bid_px, const kdec *bid_qty, uint32_t nbid,
                       const kdec *ask_px, const kdec *ask_qty, uint32_t nask, int64_t now_ms);
/* Perpetuals: the current funding rate (fraction per interval) and mark / index prices. */
void features_on_funding(features *f, int64_t time_ms, double rate, double mark, double index);

/* The vector at now_ms: x[FEAT_COUNT] normalised, missing[FEAT_COUNT] (1 = missing, x = 0), and
 * optionally raw[FEAT_COUNT] (NaN = missing). Updates the normalisers (call once per sample).
 * Returns the number of missing features. */
uint32_t features_extract(features *f, int64_t now_ms, float *x, uint8_t *missing, double *raw);
/* Only the normalisers' update of features_extract for a sample's raw values (a stored
 * signal replayed after a restore: the normalisers end where they were). */
void features_observe(features *f, const double *raw);
/* The same raw values without touching the normalisers. */
void features_peek(const features *f, int64_t now_ms, double *raw);

/* The scorer's raw inputs from the analysis timeframe (NaN where not available). */
void features_scorer_input(const features *f, int64_t now_ms, scorer_input *in);

uint32_t features_count(void);
const char *features_name(uint32_t i);
bool features_normalised(uint32_t i);
uint64_t features_bars(const features *f, enum tf tf); /* closed bars fed for tf */
double features_last_close(const features *f);         /* analysis tf close, NaN before any */

/* Normaliser state (versioned blob; indicators are rebuilt from history on restart). */
void features_save(const features *f, model_blob *out);
K_MUST_USE enum model_result features_load(features *f, const uint8_t *data, size_t len);

#endif
