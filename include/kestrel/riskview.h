/* The risk metrics of the Trading screen and `kestrel ctl risk` (issue #10 "Risk metrics"),
 * computed from stored data -- the daily closes each watched symbol's 1d series holds (loaded
 * from the store's candles at start, extended by the session) -- never from a guess:
 *   - historical VaR and expected shortfall, 95 %, 1 day, of the open portfolio: the daily P&L
 *     sum_i exposure_i x r_i[t] over the days every open position's symbol has a return
 *     (risk_portfolio_var_es), at least RISKVIEW_MIN_VAR_DAYS of them;
 *   - the exposure by asset (signed: short < 0) and in percent of equity;
 *   - the correlation matrix of the watched symbols' daily returns over their last
 *     RISKVIEW_CORR_DAYS common days (at least RISKVIEW_MIN_CORR_DAYS, else "not enough data").
 * Each figure carries its sample size. Recomputed once a second of wall time (the app's stats
 * timer) and stored when an hour of data ends (table risk_metrics). */
#ifndef KESTREL_RISKVIEW_H
#define KESTREL_RISKVIEW_H
#include "kestrel/common.h"

#define RISKVIEW_MAX_SYM 16       /* symbols in the correlation matrix (the first watched) */
#define RISKVIEW_MAX_ASSETS 16
#define RISKVIEW_MIN_VAR_DAYS 20  /* k = floor(n * 0.05) >= 1 */
#define RISKVIEW_CORR_DAYS 30     /* as the risk engine's correlation rule */
#define RISKVIEW_MIN_CORR_DAYS 10
#define RISKVIEW_DAYS_MAX 400     /* daily returns read per symbol at most */

struct app;
struct cJSON;

typedef struct riskview_asset {
    char asset[16];
    kdec exposure; /* signed notional at the mark, quote units */
    kdec pct;      /* |exposure| / equity * 100 */
} riskview_asset;

typedef struct riskview {
    bool computed;
    int64_t time_ms; /* data time of the computation */
    /* VaR / ES of the open portfolio */
    uint32_t positions; /* open (non-dust) positions */
    uint32_t var_days;  /* days of the P&L series (0: none) */
    bool var_ok;        /* enough days (and positions) to say */
    kdec var, es, exposure; /* quote units; exposure: sum of |exposure| */
    char var_status[160];   /* "ok", "no open positions", "not enough data (...)" */
    /* exposure by asset */
    riskview_asset assets[RISKVIEW_MAX_ASSETS];
    int nassets;
    /* correlations */
    uint32_t nsym;
    char sym[RISKVIEW_MAX_SYM][KSYM_MAX + 16]; /* "venue:SYMBOL" */
    char label[RISKVIEW_MAX_SYM][KSYM_MAX + 4]; /* the symbol as the screen names it */
    double corr[RISKVIEW_MAX_SYM * RISKVIEW_MAX_SYM];
    uint32_t corr_days[RISKVIEW_MAX_SYM * RISKVIEW_MAX_SYM]; /* < MIN: not enough data */
    uint32_t ret_days[RISKVIEW_MAX_SYM]; /* daily returns each symbol has */
    /* storage */
    int64_t stored_hour; /* data-clock hour of the last row (-1: none yet) */
    uint64_t rows_stored;
} riskview;

/* The current metrics (computed now if they never were). NULL without trading. */
const riskview *riskview_current(struct app *a);
/* Once a second (the app's stats timer): recompute for the screen and `ctl risk`. */
void riskview_tick(struct app *a);
/* Subscribes to the market (after the trading runner opened, again after a seek's re-run): when
 * an hour of data ends (a 1h bar closes) the metrics of that moment are stored, once per hour,
 * stamped with the hour's start: the same rows at any replay speed. K_OK or K_ERR. */
int riskview_attach(struct app *a);
/* The "metrics" object of `ctl risk` (and of each stored row). NULL when out of memory. */
struct cJSON *riskview_json(const riskview *v);
void riskview_free(struct app *a);

#endif
