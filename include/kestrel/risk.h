/* Risk engine: every order, manual or automatic, passes risk_check() before it reaches the order
 * manager; each refusal names the rule and the numbers. Sizing modes (fixed quote, percent risk
 * given the stop, fractional Kelly after a minimum sample, confidence-scaled), limits (positions,
 * per-asset and total exposure, open risk, daily loss, drawdown, leverage, correlation), the
 * ACTIVE / REDUCING / HALTED state, stop-loss / take-profit placement (ATR or fixed percent), and
 * historical VaR / expected shortfall. Config is a plain struct with defaults and validated
 * ranges under the key names (risk.*). Pure; main thread. */
#ifndef KESTREL_RISK_H
#define KESTREL_RISK_H
#include "kestrel/portfolio.h"

enum risk_size_mode {
    RISK_SIZE_FIXED_QUOTE = 0, /* "fixed_quote": size_quote of the quote asset */
    RISK_SIZE_RISK_PCT,        /* "risk_pct": equity * risk_pct% lost if the stop is hit */
    RISK_SIZE_KELLY,           /* "kelly": kelly_fraction% of Kelly from win rate and payoff */
    RISK_SIZE_CONFIDENCE,      /* "confidence": size_quote * confidence (0..1) */
};
const char *risk_size_mode_name(enum risk_size_mode m);

enum risk_sl_mode { RISK_SL_ATR = 0, RISK_SL_PCT }; /* "atr" "pct" */

typedef struct risk_config {
    enum risk_size_mode size_mode; /* risk.size_mode, default fixed_quote */
    kdec size_quote;               /* risk.size_quote, 100 */
    kdec risk_pct;                 /* risk.risk_pct, 1 (%) */
    kdec kelly_fraction_pct;       /* risk.kelly_fraction_pct, 25 */
    int kelly_min_trades;          /* risk.kelly_min_trades, 30 */
    int max_positions;             /* risk.max_positions, 5 */
    kdec max_asset_pct;            /* risk.max_asset_pct, 30 */
    kdec max_exposure_pct;         /* risk.max_exposure_pct, 80 */
    kdec max_open_risk_pct;        /* risk.max_open_risk_pct, 5 */
    kdec daily_loss_pct;           /* risk.daily_loss_pct, 3 */
    kdec drawdown_reduce_pct;      /* risk.drawdown_reduce_pct, 10 -> half size */
    kdec drawdown_halt_pct;        /* risk.drawdown_halt_pct, 20 -> HALTED */
    int max_leverage;              /* risk.max_leverage, 10 */
    double corr_limit;             /* risk.corr_limit, 0.7 -> half size above it */
    enum risk_sl_mode sl_mode;     /* risk.sl_mode, atr */
    kdec atr_mult;                 /* risk.atr_mult, 1.5 */
    kdec reward_risk;              /* risk.reward_risk, 2 */
    kdec tp_pct;                   /* risk.tp_pct, 1.5 */
    kdec sl_pct;                   /* risk.sl_pct, 0.8 */
} risk_config;

void risk_config_default(risk_config *c);

enum risk_result {
    RISK_OK = 0,
    RISK_ERR_HALTED,
    RISK_ERR_REDUCING,       /* only position-reducing orders */
    RISK_ERR_DAILY_LOSS,
    RISK_ERR_MAX_POSITIONS,
    RISK_ERR_ASSET_EXPOSURE,
    RISK_ERR_TOTAL_EXPOSURE,
    RISK_ERR_OPEN_RISK,
    RISK_ERR_LEVERAGE,
    RISK_ERR_SIZE,           /* nothing left to trade (size 0, no edge, no stop for risk_pct) */
    RISK_ERR_CONFIG,         /* risk_config_set: unknown key or value out of range */
};
const char *risk_strerror(enum risk_result r);

/* Sets one key from its text ("risk.max_positions", "7"), validated against its range; on
 * failure nothing changes and err says why ("risk.max_positions 0 outside [1, 100]"). */
K_MUST_USE enum risk_result risk_config_set(risk_config *c, const char *key, const char *value,
                                            char *err, size_t errlen);
/* The current value as text; K_ERR for an unknown key. */
int risk_config_get(const risk_config *c, const char *key, char *buf, size_t cap);
/* The i-th key name, NULL past the last (for `get`, the settings form and config loading). */
const char *risk_config_key(size_t i);

enum risk_state { RISK_ACTIVE = 0, RISK_REDUCING, RISK_HALTED };
const char *risk_state_name(enum risk_state s); /* "ACTIVE" "REDUCING" "HALTED" */

typedef struct risk_order {
    enum venue venue;
    const char *symbol;
    const char *asset;  /* base asset, for the per-asset limit */
    enum side side;
    kdec qty;
    kdec price;         /* expected fill price (limit, or the touch for market orders) */
    kdec stop;          /* its stop-loss, 0 = none (then sl_pct of price counts as its risk) */
    int leverage;       /* 1 on spot */
    bool reducing;      /* only reduces an existing position (close, reduce-only) */
    double max_corr;    /* max |rho| (30 days) with any open position's symbol, 0 = none */
} risk_order;

typedef struct risk_verdict {
    enum risk_result result;
    kdec qty;           /* approved quantity (size reductions applied; floor it to the step) */
    int size_divisor;   /* 1, 2 (drawdown or correlation) or 4 (both) */
    enum risk_state state;
    char why[256];      /* the rule and the numbers, or the size notes when approved */
} risk_verdict;

typedef struct risk risk;

risk *risk_new(const risk_config *c);
void risk_free(risk *r);
const risk_config *risk_get_config(const risk *r);
/* Replaces the config (already validated key by key). */
void risk_set_config(risk *r, const risk_config *c);

/* Re-evaluates the state from the portfolio at now: HALTED at the drawdown limit (sticky),
 * REDUCING after the daily loss limit until the next UTC day. */
enum risk_state risk_update(risk *r, const portfolio *pf, int64_t now_ms);
enum risk_state risk_get_state(const risk *r);
/* A person's halt (close-all) and resume. Resume clears HALTED and REDUCING. */
void risk_halt(risk *r, const char *reason);
void risk_resume(risk *r);
const char *risk_reason(const risk *r); /* why the state is what it is ("" when ACTIVE) */

/* Checks one order against every rule (after risk_update at now). */
K_MUST_USE enum risk_result risk_check(risk *r, const portfolio *pf, const risk_order *o,
                                       int64_t now_ms, risk_verdict *out);

typedef struct risk_size_in {
    kdec price, stop;   /* stop needed for RISK_SIZE_RISK_PCT */
    double confidence;  /* RISK_SIZE_CONFIDENCE, clamped to [0, 1] */
    double max_corr;
} risk_size_in;
/* Suggested quantity (unfloored) in the configured mode, drawdown / correlation reductions
 * applied; RISK_ERR_SIZE with why when there is nothing to trade. Kelly uses the portfolio's
 * trade statistics and falls back to fixed quote below kelly_min_trades (why says so). */
K_MUST_USE enum risk_result risk_size(risk *r, const portfolio *pf, const risk_size_in *in,
                                      kdec *qty, char *why, size_t whylen);

/* Stop-loss and take-profit for an entry: ATR mode (atr > 0): stop at atr_mult * ATR, target at
 * reward_risk times that; otherwise (or in pct mode) sl_pct / tp_pct of the entry. */
void risk_protect(const risk_config *c, enum side side, kdec entry, kdec atr, kdec *sl,
                  kdec *tp);

/* Historical VaR and expected shortfall of returns (fractions) at conf (0.95): with the returns
 * sorted ascending and k = floor(n * (1 - conf)) (0-based), VaR = -r[k] and ES = -mean(r[0..k]),
 * both clamped at >= 0. Multiply by the exposure for an amount. Returns the sample size (0 when
 * n == 0). */
uint32_t risk_var_es(const double *returns, uint32_t n, double conf, double *var, double *es);
/* Pearson correlation of two equally long series; 0 when n < 2 or a series is constant. */
double risk_correlation(const double *x, const double *y, uint32_t n);

/* Pearson correlations of nsym return series of length n (row-major series[i][t]) into out
 * (nsym x nsym, row-major; 1 on the diagonal unless a series is constant: 0). */
void risk_correlation_matrix(const double *const *series, uint32_t nsym, uint32_t n,
                             double *out);
/* Historical VaR / ES (conf, one period) of the open portfolio in quote units: the P&L of day t
 * is sum_i exposure_i * r_i[t] (exposure signed: short < 0), over the n stored days. Returns n
 * (0: nothing to measure). */
uint32_t risk_portfolio_var_es(const double *const *series, const kdec *exposure, uint32_t nsym,
                               uint32_t n, double conf, kdec *var, kdec *es);

/* Risk of the open positions if every stop is hit (no stop: sl_pct of the notional). */
kdec risk_open_risk(const risk *r, const portfolio *pf);

/* For `ctl risk` and the Trading screen: state, reason, and each limit with its use:
 * positions {used, max}, exposure {used, max_pct, pct}, open_risk {used, max_pct, pct},
 * day_pnl, daily_loss_pct, drawdown, drawdown_reduce_pct, drawdown_halt_pct, max_leverage,
 * size_mode. Amounts as strings. */
struct cJSON;
struct cJSON *risk_json(const risk *r, const portfolio *pf);

#endif
