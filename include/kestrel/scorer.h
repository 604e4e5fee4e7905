/* The rule scorer (the well-known scalping score), its RSI-only fallback, and the adaptive
 * indicator-weights model built on the same votes.
 *
 * Every component votes for a side and adds its weight to that side's score (bull or bear);
 * both scores are capped to [0, 1]. Weights and conditions are in docs/ENGINE.md ("Rule scorer"):
 *   MA alignment 0.30  ema9 > ema21 > ema50 bull, ema9 < ema21 < ema50 bear
 *   momentum     0.25  5-bar return > +0.1% bull, < -0.1% bear
 *   RSI extreme  0.20  RSI < 30 bull, > 70 bear; RSI in [40, 60]: -0.10 on both sides
 *   MACD cross   0.25  MACD crossed above (below) its signal on this bar; growing histogram
 *                      (same sign, larger magnitude) +0.10 on its side
 *   Bollinger    0.20  close <= lower band bull, >= upper band bear; bandwidth < 2%: +0.15 on
 *                      both sides (squeeze), > 8%: -0.10 on both sides (expansion)
 *   order flow   0.20  imbalance > +0.2 bull, < -0.2 bear
 *   volume       0.15  volume ratio > 1.5 confirms the bar's direction (close vs open)
 * Action: BUY when bull >= threshold (0.65) and bull > bear, SELL mirrored, else HOLD; strength
 * is the winning side's score (the larger one for HOLD). A component whose inputs are NaN does
 * not vote and is listed as missing. */
#ifndef KESTREL_SCORER_H
#define KESTREL_SCORER_H
#include "kestrel/model.h"

#define SCORER_THRESHOLD 0.65

enum scorer_vote {
    SCORER_MA = 0, SCORER_MOM, SCORER_RSI, SCORER_MACD, SCORER_BB, SCORER_FLOW, SCORER_VOL,
    SCORER_NVOTES
};
const char *scorer_vote_name(enum scorer_vote v); /* "ma" "momentum" "rsi" "macd" "bb" ... */
extern const double scorer_base_weight[SCORER_NVOTES];

/* Raw (not normalised) inputs of the analysis timeframe; NaN = not available. */
typedef struct scorer_input {
    double close, open;
    double ema9, ema21, ema50;
    double ret_5;                   /* 5-bar simple return */
    double rsi;
    double macd, macd_signal, macd_prev_diff; /* prev_diff: macd - signal of the previous bar */
    double hist, hist_prev;
    double bb_upper, bb_lower, bb_width; /* width in percent of the middle band */
    double imbalance;               /* book top-5 imbalance, else trade flow, in [-1, 1] */
    double vol_ratio;               /* bar volume / 20-bar mean */
    double adx, vol_pct, atr;       /* regime and stops (not scored) */
    double ctx_trend[3];            /* ema9/ema21 - 1 on 1m, 5m, 1h (regime consensus) */
} scorer_input;

void scorer_input_clear(scorer_input *in); /* every field NaN */

#define SCORER_REASONS 12
typedef struct scorer_reason {
    char text[56];  /* "MA alignment bull (ema9>ema21>ema50)" */
    double delta;   /* signed contribution: + bull, - bear (both-side terms: +/- on both) */
} scorer_reason;

typedef struct scorer_result {
    double bull, bear;     /* capped scores */
    int action;            /* model_class */
    double strength;
    double p[MODEL_CLASSES]; /* the rule's probabilities (docs/ENGINE.md), for metrics */
    int votes[SCORER_NVOTES];      /* -1 / 0 / +1 */
    uint8_t vote_missing[SCORER_NVOTES];
    uint32_t nreasons;
    scorer_reason reasons[SCORER_REASONS];
    bool fallback;         /* produced by the RSI-only fallback */
} scorer_result;

void scorer_score(const scorer_input *in, double threshold, scorer_result *out);
/* RSI-only: RSI < 30 BUY, > 70 SELL, else HOLD; strength |rsi - 50| / 50. HOLD with strength 0
 * and p = 1/3 each when rsi is NaN. */
void scorer_rsi_fallback(double rsi, scorer_result *out);

/* ---- adaptive indicator weights (a model.h learner) --------------------------------------
 * Reads the SCORER_NVOTES vote features at vote_idx[] of the feature vector (raw -1/0/+1).
 * Prediction: s = sum(w_i v_i) / sum(w_i) over the votes present; logits b_SELL - a s, b_HOLD -
 * c |s|, b_BUY + a s with b_k the log of the Laplace-smoothed outcome frequencies so far (the
 * class prior: 1/3 each before any sample) and the scales a, c learned online (AdaGrad on the
 * log loss, from 0), so it says the prior until its votes have shown they carry information.
 * Learning, per non-zero vote on a BUY/SELL outcome: n_i += 1, hits_i += the
 * vote's side matched; once n_i >= 10, w_i += 0.1 * (2 * base_i * hits_i / n_i - w_i). HOLD
 * outcomes are counted as samples (and in the prior) but move no weight. */
model *scorer_weights_new(const char *name, uint32_t nfeat, const uint32_t *vote_idx);
/* Current weights and per-vote sample counts (for the AI screen). */
void scorer_weights_get(const model *m, double *w, uint64_t *n);
/* The probability map's learned scales a (BUY vs SELL) and c (against HOLD). */
void scorer_weights_map(const model *m, double *a, double *c);

#endif
