/* Portfolio: the app's own accounting of positions, P&L and equity, fed by fills, funding and
 * marks (whatever the broker). Positions carry the average entry (exact cost basis), realised
 * P&L net of every fee and funding payment, unrealised P&L at the mark; the portfolio keeps the
 * equity curve, P&L per UTC day, peak equity and drawdown, exposure, and the history of round
 * trips (flat -> open -> flat) with its statistics, each with its sample size. Serialised to JSON
 * (every kdec as a string) and restored identically. Fees must be in the cash asset (the quote:
 * the paper broker charges them there). Main thread, no I/O. */
#ifndef KESTREL_PORTFOLIO_H
#define KESTREL_PORTFOLIO_H
#include "kestrel/instrument.h"
#include "kestrel/order.h"

enum portfolio_result {
    PF_OK = 0,
    PF_ERR_INVALID, /* qty/px <= 0, fee < 0 */
    PF_ERR_FULL,    /* position table bound reached */
    PF_ERR_PARSE,   /* restore: malformed JSON */
};
const char *portfolio_strerror(enum portfolio_result r);

typedef struct pf_position {
    enum venue venue;
    char symbol[KSYM_MAX];
    kdec qty;           /* signed: > 0 long, < 0 short; 0 = flat (kept for its history) */
    kdec entry;         /* average entry (cost / qty, truncated to 1e-8) */
    kdec mark;          /* last mark (0 = none: the entry is used) */
    kdec upnl;          /* qty * mark - cost */
    kdec realised_pnl;  /* since the position opened: gross - fees - funding */
    kdec fees, funding; /* since it opened; funding > 0 = paid */
    kdec sl, tp;        /* protective prices (0 = none) */
    int64_t opened_ms;
    bool dust;          /* below the venue minimum: not an open position, never blocks a close */
} pf_position;

typedef struct pf_trade {
    enum venue venue;
    char symbol[KSYM_MAX];
    enum side side;           /* buy = long, sell = short */
    kdec qty;                 /* largest absolute size */
    kdec entry, exit;         /* average prices */
    int64_t opened_ms, closed_ms;
    kdec pnl;                 /* net: gross - fees - funding */
    kdec fees, funding;
} pf_trade;

typedef struct pf_summary {
    kdec equity, cash, realised_pnl, unrealised_pnl, fees, funding;
    kdec day_pnl, peak_equity;
    kdec drawdown_pct; /* (peak - equity) / peak * 100 */
    kdec day_start_equity;
    uint32_t open_positions; /* non-zero, non-dust */
    kdec exposure;           /* sum |qty * mark| */
} pf_summary;

typedef struct pf_stats {
    uint32_t trades, wins, losses;
    double win_rate;       /* wins / trades */
    double profit_factor;  /* gross wins / |gross losses|; 0 when there is no loss */
    kdec expectancy;       /* mean net pnl per trade */
    kdec avg_win, avg_loss;
    double payoff;         /* avg_win / |avg_loss| (Kelly's R), 0 when undefined */
    uint32_t days;         /* daily returns in the Sharpe */
    double sharpe;         /* mean / stdev of daily returns * sqrt(365); 0 when days < 2 */
} pf_stats;

typedef struct pf_day {
    int64_t day;          /* UTC day number (ms / 86400000) */
    kdec start_equity, end_equity;
} pf_day;

typedef struct pf_point {
    int64_t time_ms;
    kdec equity;
} pf_point;

typedef struct portfolio portfolio;

/* start_cash in cash_asset (e.g. 10000 USDT). max_points: equity curve length kept (the latest
 * ones, default 10000); histories of trades and days are bounded at 100000 entries each. */
portfolio *portfolio_new(kdec start_cash, const char *cash_asset, uint32_t max_points);
void portfolio_free(portfolio *pf);
/* Instruments (borrowed) decide dust; without them nothing is dust. */
void portfolio_set_instruments(portfolio *pf, const instruments *in);

/* A fill (fee in the cash asset). */
K_MUST_USE enum portfolio_result portfolio_on_fill(portfolio *pf, enum venue v,
                                                   const char *symbol, enum side side,
                                                   const order_fill *f);
/* A spot holding that was there at the start (paper.balances.<ASSET> other than the cash
 * asset): a long position of qty at px (the first price seen, fee 0) whose value joins the
 * starting capital, so cash stays what it was and selling it is a reduction, never a short. */
K_MUST_USE enum portfolio_result portfolio_deposit(portfolio *pf, enum venue v,
                                                   const char *symbol, kdec qty, kdec px,
                                                   int64_t time_ms);
/* Funding: amount received (> 0) or paid (< 0), as the broker reports it. */
void portfolio_on_funding(portfolio *pf, enum venue v, const char *symbol, kdec amount,
                          int64_t time_ms);
/* A liquidation closes the position; amount is the wallet change (< 0). */
void portfolio_on_liquidation(portfolio *pf, enum venue v, const char *symbol, kdec amount,
                              int64_t time_ms);
/* A new mark price for a symbol. */
void portfolio_mark(portfolio *pf, enum venue v, const char *symbol, kdec mark);
/* Records the equity at now (curve point, day record, peak). Call on every bar or second. */
void portfolio_sample(portfolio *pf, int64_t now_ms);
void portfolio_set_protection(portfolio *pf, enum venue v, const char *symbol, kdec sl, kdec tp);

void portfolio_summary(const portfolio *pf, pf_summary *out);
void portfolio_stats(const portfolio *pf, pf_stats *out);

uint32_t portfolio_position_count(const portfolio *pf); /* including flat ones */
const pf_position *portfolio_position_at(const portfolio *pf, uint32_t i);
const pf_position *portfolio_position(const portfolio *pf, enum venue v, const char *symbol);
/* |qty * mark| of one symbol, and of every position whose instrument has base asset `asset`
 * (without instruments: whose symbol starts with it). */
kdec portfolio_exposure_symbol(const portfolio *pf, enum venue v, const char *symbol);
kdec portfolio_exposure_asset(const portfolio *pf, const char *asset);

uint32_t portfolio_trade_count(const portfolio *pf);
const pf_trade *portfolio_trade_at(const portfolio *pf, uint32_t i);
uint32_t portfolio_day_count(const portfolio *pf);
const pf_day *portfolio_day_at(const portfolio *pf, uint32_t i);
uint32_t portfolio_point_count(const portfolio *pf);
const pf_point *portfolio_point_at(const portfolio *pf, uint32_t i); /* oldest first */

/* Daily returns (end - start) / start of each recorded day, as doubles (for VaR / Sharpe);
 * returns how many were written (at most cap). */
uint32_t portfolio_daily_returns(const portfolio *pf, double *out, uint32_t cap);

/* JSON of the whole state (caller frees with free()). */
char *portfolio_to_json(const portfolio *pf);
/* Rebuilds a portfolio from portfolio_to_json() output; NULL and *err on malformed input. */
portfolio *portfolio_from_json(const char *json, enum portfolio_result *err);

/* ---- JSON for the control socket (prices and quantities as strings) ---- */
struct cJSON;
/* symbol, side ("long"/"short"/"flat"), qty (absolute), entry, mark, upnl, realised_pnl, sl, tp,
 * opened, dust (+ venue). Decimals from in when given. */
struct cJSON *portfolio_position_json(const pf_position *p, const instrument *in);
/* equity, cash, realised_pnl, unrealised_pnl, fees, funding, day_pnl, peak_equity, drawdown
 * (percent), open_positions, exposure. */
struct cJSON *portfolio_summary_json(const pf_summary *s);
/* trades, wins, losses, win_rate, profit_factor, expectancy, avg_win, avg_loss, payoff, days,
 * sharpe: every statistic next to its sample size. */
struct cJSON *portfolio_stats_json(const pf_stats *s);

#endif
