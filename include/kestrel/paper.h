/* The paper broker: broker.h over real (live or replayed) books and trades, on the caller's
 * clock. Market orders walk the book level by level (VWAP, partial when depth runs out or the
 * slippage cap is reached); resting limits fill only when a trade prints through their price, or
 * at it once the queue ahead (the book quantity at that price when the order arrived) has
 * traded; stops, take-profits and trailing stops trigger on trades. Maker/taker fees from the
 * config, a latency before an order reaches the book and before its outcome is seen. Spot:
 * per-asset balances, no shorting. USD-M: leverage, isolated margin, liquidation price, funding.
 * Time: every function takes now_ms on the data clock; nothing reads a wall clock. Call
 * paper_on_time(t) before applying an event stamped t to the book, so an order that arrives at t
 * sees the book as it was. Main thread only. */
#ifndef KESTREL_PAPER_H
#define KESTREL_PAPER_H
#include "kestrel/book.h"
#include "kestrel/broker.h"
#include "kestrel/instrument.h"

#define PAPER_MAX_ASSETS 32
/* A dust sweep (order_req.sweep, spot only, like Binance's "convert small assets"): the whole
 * remainder is sold at the best bid when it arrives, paying this fee (percent of the notional,
 * in the quote asset), whatever the instrument's filters say. */
#define PAPER_DUST_FEE_PCT 2

typedef struct paper_fee {
    kdec maker_pct, taker_pct; /* percent of notional: 0.1 = 0.1% */
} paper_fee;

typedef struct paper_config {
    /* paper.balances: asset = "amount" (default USDT = "10000") */
    broker_balance balances[PAPER_MAX_ASSETS];
    int nbalances;
    int64_t latency_ms;        /* paper.latency_ms: before an order reaches the book (50) */
    int64_t report_latency_ms; /* before its outcome is seen (the lead maps paper.latency_ms
                                * here too; default 50) */
    kdec slippage_cap_pct;     /* paper.slippage_cap_pct: market orders stop walking beyond
                                * best * (1 +- cap) (default 1 = 1%) */
    paper_fee fees[VENUE_COUNT]; /* fees.<venue>.maker|taker (percent) */
    int default_leverage;      /* USD-M, when an order asks for 0 (default 1) */
    kdec maint_margin_pct;     /* USD-M maintenance margin rate for the liquidation price (0.4) */
    uint32_t max_orders;       /* bound on orders held (default 10000) */
    int64_t trade_id_base;     /* paper trade ids are base + 1, base + 2, ...: give each session
                                * a distinct base (e.g. its epoch * 1000) */
} paper_config;

/* Defaults: USDT 10000; latency 50 ms both ways; slippage cap 1%; fees Binance spot 0.1/0.1,
 * USD-M 0.02/0.05, OKX 0.08/0.1; leverage 1; maintenance 0.4%. */
void paper_config_default(paper_config *c);
/* Sets (or adds) a starting balance. K_ERR when the table is full or the amount negative. */
int paper_config_balance(paper_config *c, const char *asset, kdec amount);

/* Sets one key from its text, validated: "paper.latency_ms" (0..60000, both directions),
 * "paper.slippage_cap_pct" (0.01..100), "paper.balances.<ASSET>" (>= 0), "fees.<venue>.maker" /
 * "fees.<venue>.taker" (percent, 0..5; venue as venue_name(): binance-spot, binance-usdm, okx).
 * K_ERR with err ("paper.latency_ms -1 outside [0, 60000]") and nothing changed otherwise. */
int paper_config_set(paper_config *c, const char *key, const char *value, char *err,
                     size_t errlen);

/* The value of one of those keys as text (kdec in its shortest exact form); K_ERR for an
 * unknown key. */
int paper_config_get(const paper_config *c, const char *key, char *buf, size_t cap);

typedef struct paper paper;

/* instr (may be NULL, borrowed) gives base/quote assets and steps; without it the assets are
 * split from the symbol's known quote suffix (USDT, USDC, BUSD, FDUSD, BTC, ETH, BNB, EUR). */
paper *paper_new(const paper_config *c, const instruments *instr);
void paper_free(paper *p); /* also what broker_free() does on paper_broker(p) */
broker *paper_broker(paper *p);
const paper_config *paper_get_config(const paper *p);
/* paper_config_set on the running broker (`ctl set`): latency, slippage cap and fees apply to
 * what happens next; paper.balances.* are refused (starting balances: the next start). */
int paper_set(paper *p, const char *key, const char *value, char *err, size_t errlen);

/* The book orders on (venue, symbol) execute against (borrowed; must outlive the paper). */
void paper_attach_book(paper *p, enum venue v, const char *symbol, const book *b);
/* Arrivals due by now reach the book; events due by now are delivered. */
void paper_on_time(paper *p, int64_t now_ms);
/* A trade print (FEED_TRADE): triggers stops, fills resting limits (queue model). */
void paper_on_trade(paper *p, const feed_event *trade, int64_t now_ms);
/* USD-M mark price: liquidations are checked against it (else against trades). */
void paper_on_mark(paper *p, enum venue v, const char *symbol, kdec mark, int64_t now_ms);
/* A funding time: every open USD-M position on the symbol pays qty * mark * rate (longs pay a
 * positive rate). rate is a fraction (0.0001 = 0.01%). */
void paper_on_funding(paper *p, enum venue v, const char *symbol, kdec rate, kdec mark,
                      int64_t now_ms);

/* Total and locked (resting orders, isolated margin) of an asset. */
kdec paper_balance(const paper *p, const char *asset, kdec *locked);
/* The fee a fill of that notional pays (rounded up to 1e-8). */
kdec paper_fee_for(const paper *p, enum venue v, kdec notional, bool maker);
/* The total of an asset as the events delivered so far tell it: spot fills still travelling
 * to the listener (report latency) are taken out, so it matches the portfolio the listener
 * keeps (what the app persists). */
kdec paper_balance_seen(const paper *p, const char *asset);
/* The assets the account has held (names into out, at most cap); returns how many exist. */
size_t paper_assets(const paper *p, char (*out)[INSTR_ASSET_MAX], size_t cap);

/* ---- restart: the account as the store kept it ----
 * Sets an asset's total (free + locked) as it was. */
void paper_restore_balance(paper *p, const char *asset, kdec total);
/* Re-creates an open order (NEW / PARTIALLY_FILLED, with what was filled) under its client id:
 * it reaches the book again latency_ms after now_ms, without a second ACCEPTED; a limit rests
 * at the back of the queue as the book is then (measured on the first trade once the book is
 * live), stops wait for their trigger; a triggered stop-limit rests as its limit (it never
 * triggers again). Futures positions: paper_restore_position. */
K_MUST_USE enum broker_result paper_restore_order(paper *p, const char *client_id,
                                                  const order_req *req, enum order_status status,
                                                  kdec filled, kdec filled_quote, bool triggered,
                                                  int64_t now_ms);
/* A restored trailing stop's best price (order.trail_best as stored): it resumes at the same
 * stop. K_ERR when client_id is not a restored trailing stop. */
K_MUST_USE int paper_restore_trail(paper *p, const char *client_id, kdec best);
/* A USD-M position as the delivered events tell it (fills still travelling to the listener are
 * taken out, as paper_balance_seen does for balances): what the app persists and restores.
 * cost: the signed sum of the fills' truncated notionals (entry = cost / qty); margin: the
 * isolated margin held. */
typedef struct paper_position_state {
    enum venue venue;
    char symbol[KSYM_MAX];
    char quote[INSTR_ASSET_MAX]; /* the margin asset */
    kdec qty, cost, margin;
    int leverage;
} paper_position_state;
/* The open positions as seen (into out, at most cap); returns how many exist. */
size_t paper_positions_seen(const paper *p, paper_position_state *out, size_t cap);
/* The liquidation price of such a position (maint_margin_pct of this broker). */
kdec paper_position_liq_px(const paper *p, const paper_position_state *st);
/* Re-creates a USD-M position as stored (after a restart). Restore the balances too. K_ERR on a
 * malformed one (spot venue, qty 0, cost sign, leverage outside 1..125). */
int paper_restore_position(paper *p, const paper_position_state *st);
/* The queue model's state of a resting limit: the book quantity still ahead of it at its price
 * (-1 when the order is not resting). */
kdec paper_queue_ahead(const paper *p, const char *client_id);
/* Orders whose arrival or events are still in flight. */
uint32_t paper_in_flight(const paper *p);

#endif
