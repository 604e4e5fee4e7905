/* The strategy runner: ONE market subscriber that turns market notes into engine input, signals,
 * risk-checked paper orders and portfolio marks, for every watched symbol. The backtest drives it
 * over kline CSVs and replay captures; the app subscribes the same runner for `--replay` (and
 * live paper trading) with auto-trading on, so a backtest and a replay of the same capture run
 * exactly the same code (parity).
 *
 * Per watched symbol, on the notes of the market it subscribed to:
 *   MARKET_TRADE       -> paper_on_trade (resting orders), engine_on_trade, portfolio_mark, and
 *                         the position's stop / take-profit against the print (trade mode)
 *   MARKET_TOP_CHANGED -> engine_on_book (live book only)
 *   MARKET_BAR_CLOSED  -> engine_on_bar (1m/5m/15m/1h); on the execution timeframe of a kline
 *                         symbol (bar mode): the stop / take-profit inside the bar (both inside
 *                         it: the stop, the conservative assumption), the bar book re-quoted at
 *                         the close +- slippage_bps, portfolio mark and sample; on the analysis
 *                         timeframe: a signal.
 *   kclock timer       -> a signal every signal_interval_ms on the market clock (simulated in
 *                         replay / backtest), engine_advance (scoring, learning when due).
 * A signal over the threshold (engine_signal.tradeable, BUY or SELL), with auto-trading on, goes
 * risk_size (confidence-scaled in the default config) -> qty floored to qty_step -> risk_protect
 * (ATR stop / take-profit) -> risk_check -> order_mgr_create -> broker_place on the paper
 * broker. One position per symbol; an opposite signal closes the position (reduce-only market)
 * and only a later signal may open the other way. Fills go to the order manager and portfolio.
 *
 * Bar mode (symbols whose bars come from klines: no book, no trades): the paper broker executes
 * against a one-level book per symbol that the runner quotes at the last close (or at the stop /
 * take-profit price when one is hit) +- slippage_bps, with a depth no order exhausts.
 * Trade mode (replay captures, live): the symbol's real book and prints.
 *
 * No I/O, no wall clock, no app struct: it takes a market, a kclock and configs. Main thread. */
#ifndef KESTREL_RUNNER_H
#define KESTREL_RUNNER_H
#include "kestrel/clock.h"
#include "kestrel/engine.h"
#include "kestrel/market.h"
#include "kestrel/paper.h"
#include "kestrel/portfolio.h"
#include "kestrel/risk.h"

/* Where actions come from. ENGINE is the product; the others are the backtest's baselines and
 * test strategies, run through the same risk engine, broker and portfolio. */
enum runner_strategy {
    RUNNER_ENGINE = 0,  /* the engine's signal (ensemble, RSI fallback while learning) */
    RUNNER_RULES,       /* the fixed rule scorer alone: strength >= threshold, bull vs bear */
    RUNNER_RSI,         /* the RSI fallback alone (RSI < 30 BUY, > 70 SELL) */
    RUNNER_ALWAYS_BUY,  /* every signal is a tradeable BUY (tests: equals buy-and-hold - fees) */
    RUNNER_STRATEGY_COUNT
};
const char *runner_strategy_name(enum runner_strategy s); /* "engine" "rules" "rsi" "always_buy" */
int runner_strategy_parse(const char *s, enum runner_strategy *out);

/* Which models the engine of each symbol gets (bit set). */
#define RUNNER_M_WEIGHTS 1u /* adaptive indicator weights */
#define RUNNER_M_LOGREG 2u
#define RUNNER_M_MLP 4u
#define RUNNER_M_LSTM 8u         /* the models issue's sequence and tree models: trained by */
#define RUNNER_M_TRANSFORMER 16u /* train() on a schedule (runner_train_due): inline in a */
#define RUNNER_M_CNN 32u         /* backtest (deterministic), on the learner thread in the app */
#define RUNNER_M_XGB 64u
#define RUNNER_M_DEFAULT (RUNNER_M_WEIGHTS | RUNNER_M_LOGREG | RUNNER_M_MLP)
/* "weights,logreg,mlp,lstm,transformer,cnn,xgb" (any subset, comma-separated) or "none" ->
 * bits; K_ERR on an unknown name. */
int runner_models_parse(const char *s, uint32_t *out);

/* One training of an off-thread model, with its walk-forward gate: the model's own record
 * (model_retrain, model.h: the same for XGBoost and the networks, taken through
 * model_retrains()) with the model's name and kind, the trigger's name, whether it ran on the
 * learner thread and the samples the model has. base_logloss: XGBoost's class prior on the
 * held-out slice; for a network (no bar of its own) the logistic regression's rolling
 * out-of-sample log loss (NaN without one). A result trained before a load() of the model's
 * state is dropped, not recorded. */
typedef struct runner_retrain {
    char model[32], kind[16], trigger[16];
    uint64_t seq;         /* per model: 1, 2, ... */
    int64_t time_ms;      /* data clock when the training was started */
    uint32_t n_train, n_holdout;
    double cand_logloss, cand_acc, live_logloss, live_acc, base_logloss;
    bool accepted, offthread; /* offthread: ran on the learner thread (else inline) */
    double train_ms;      /* wall time of train() */
    uint64_t samples;     /* labelled samples the model has learned */
} runner_retrain;
typedef struct runner_config {
    char symbol[KSYM_MAX];      /* "" = every symbol of the market, else only this one */
    engine_config engine;       /* per symbol (symbol filled in) */
    uint32_t models;            /* RUNNER_M_* */
    int64_t signal_interval_ms; /* engine.signal_interval (30000); 0 = only on bar closes */
    enum tf exec_tf;            /* bar mode: the data's timeframe (stops, marks, quotes) */
    double slippage_bps;        /* bar mode: each fill is this many bps worse (2) */
    kdec qty_step;              /* quantities floored to it (0.00001) */
    kdec start_cash;            /* the portfolio's starting cash (10000) */
    char cash_asset[INSTR_ASSET_MAX]; /* "USDT" */
    bool auto_trade;            /* engine.auto_trade (off unless configured) */
    enum runner_strategy strategy;
    int leverage;               /* USD-M orders (1) */
    risk_config risk;           /* default size_mode = confidence */
    paper_config paper;
    /* optional: one more model per symbol's engine (the engine owns it), e.g. the models issue's
     * deep / tree models, or a test's instrumented model */
    model *(*model_extra)(void *ud, const char *symbol);
    void *model_extra_ud;
    /* optional: told once per symbol right before its engine's first signal, now_ms = that
     * signal's data time (the engine has seen the data so far: its indicators are warm; the app
     * restores the engine's stored state here) */
    void (*on_engine)(void *ud, const market_sym *ms, engine *e, int64_t now_ms);
    void *on_engine_ud;
    /* optional: asked before every new auto-trading entry (never for exits, stops, take-profits
     * or a person's orders): false refuses it (a RUNNER_EV_REFUSED with why). The app: a live
     * symbol whose panes are failed over to another venue, or a backup feed (data only). */
    bool (*entry_gate)(void *ud, const market_sym *ms, char *why, size_t cap);
    void *entry_gate_ud;
    /* off-thread models (MODEL_F_OFFTHREAD): a sequence network trains after every train_every
     * new labelled samples (256), XGBoost when xgb_should_retrain() says so. With a learner (the
     * app) train() runs on its thread and runner_collect() swaps the results in; without (a
     * backtest) train() and swap() run inline at the same data-clock points. */
    uint32_t train_every;
    struct learner *learner;
    /* optional: told after every training of an off-thread model was swapped in (or refused),
     * on the main thread: the app stores it (table retrains) and the AI screen shows it */
    void (*on_retrain)(void *ud, const market_sym *ms, const runner_retrain *rt);
    void *on_retrain_ud;
    /* optional warm-up: when a symbol's engine is made, before the symbol's first data (at
     * before_ms), up to warmup_max closed 1m bars older than before_ms, oldest first (stored
     * candles, a downloaded klines file); the runner feeds them through the engine (1m and the
     * 5m / 15m / 1h it aggregates), makes a signal at every bar close (source "warmup", never
     * traded), scores and learns them as usual, and starts the off-thread trainings that fall
     * due, so the models trade with what history taught them. Returns the bar count. */
    uint32_t (*warmup)(void *ud, const market_sym *ms, int64_t before_ms, candle *out,
                       uint32_t max);
    /* ... or RUNNER_WARMUP_PENDING: the bars come later (the app: a read on the store's writer
     * thread) through runner_warmup_ready(); until they are fed the symbol's engine gets none of
     * its live data: its closed bars, trades and funding times wait in order (up to
     * RUNNER_WARM_QUEUE notes; the rest are dropped and counted, runner_warm_info) and are
     * applied after the history; it makes no signal, never trades, and runner_warming() says
     * so. A replay waits for runner_warmups_pending() before its next line (determinism). */
    void *warmup_ud;
    uint32_t warmup_max; /* 1440 (a day of 1m bars) */
    /* optional restore read: asked once per symbol at its first data (first_ms: its time),
     * before the warm-up. Returns 0 when the read is done (or there is none: the app's replay
     * reads at once, a fixed point of the data), or RUNNER_RESTORE_PENDING: the read runs on the
     * store's writer thread and runner_restore_ready() says when it answered; until then the
     * symbol is held as during a warm-up (its closed bars wait, up to 256, nothing else of its
     * data reaches the engine, no signal, no trade, runner_restoring() says so), then its
     * warm-up is asked (the answer tells the app whether one is needed), then the bars that
     * waited are fed. The state itself is applied by on_engine (before the first signal). */
    uint32_t (*restore)(void *ud, const market_sym *ms, int64_t first_ms);
    void *restore_ud;
    /* client order ids: "<id_prefix><epoch base36>x<seq>", so an epoch above every earlier one
     * (the app: the session id) never reuses an id after a restart. Default "bt", 1. */
    char id_prefix[8];
    uint64_t id_epoch;
    /* Write-ahead (the app, with a store): when set, an order the runner creates (the engine's,
     * a person's, a close) is handed to commit() in PENDING_NEW instead of the broker; commit
     * queues its intent on the store's durable lane and, when the store has confirmed it (or
     * failed), calls runner_release(). The order reaches the broker only from there. commit
     * returns K_ERR when it cannot even queue: the order is rejected at once. NULL (a backtest):
     * straight to the broker. */
    int (*commit)(void *ud, const order *o);
    void *commit_ud;
} runner_config;

void runner_config_default(runner_config *c);


/* What the runner did, in order: the backtest and the parity test record these. */
enum runner_ev_kind { RUNNER_EV_SIGNAL = 0, RUNNER_EV_ORDER, RUNNER_EV_FILL, RUNNER_EV_REFUSED };
typedef struct runner_ev {
    enum runner_ev_kind kind;
    int64_t time_ms;
    const market_sym *sym;
    const engine_signal *signal; /* SIGNAL (after the strategy override: action as traded) */
    const broker_event *fill;    /* FILL */
    const char *why;             /* ORDER: "open" "close" "stop" "tp" "end"; REFUSED: reason */
    enum side side;              /* ORDER */
    kdec qty;                    /* ORDER */
} runner_ev;
typedef void (*runner_ev_fn)(void *ud, const runner_ev *ev);

typedef struct runner_stats {
    uint64_t signals, tradeable, orders, fills, refused, stops, tps;
    uint64_t broker_errors; /* place failures, rejections, expiries */
    uint64_t signals_unchanged; /* interval signals skipped: no new data for the symbol */
    uint64_t fundings;          /* funding times passed to the paper broker */
    uint64_t trains, train_busy; /* off-thread model trainings started / skipped (still busy) */
    /* timeframes of an engine built again from revised bars (MARKET_BAR_REVISED), and the ones
     * skipped because the market held fewer bars than the engine had taken */
    uint64_t revisions, revisions_skipped;
} runner_stats;

typedef struct runner runner;

#define RUNNER_WARMUP_PENDING UINT32_MAX
/* The asynchronous warm-up's bars for ms (oldest first, at most warmup_max used, copied; n = 0:
 * none, the symbol starts cold). Feeding them is runner_warmup_step()'s. Main thread. */
void runner_warmup_ready(runner *r, const market_sym *ms, const candle *bars, uint32_t n);
/* Feeds at most max_bars warm-up bars (over every symbol, each with its signal, scoring and due
 * trainings); returns how many are still to feed. The app calls it once per loop turn. */
uint32_t runner_warmup_step(runner *r, uint32_t max_bars);
#define RUNNER_RESTORE_PENDING UINT32_MAX
/* The restore read of ms has answered (main thread): its warm-up is asked now, then the bars
 * that waited are fed (those of a warm-up after it). */
void runner_restore_ready(runner *r, const market_sym *ms);
/* True while symbol index si waits for its restore read. */
bool runner_restoring(const runner *r, uint32_t si);
/* True while symbol index si warms up: *fed bars fed so far of *total (0 while the read is
 * outstanding). */
bool runner_warming(const runner *r, uint32_t si, uint64_t *fed, uint32_t *total);
/* What a symbol's live data did while it warmed up (asynchronously): notes (closed bars, trades,
 * funding times) held and applied after the history, dropped past RUNNER_WARM_QUEUE (by kind),
 * the most held at once, and how many wait now. Kept after the warm-up (ctl metrics, screen 3). */
#define RUNNER_WARM_QUEUE 4096
typedef struct runner_warm_held {
    uint64_t held, applied, dropped_bars, dropped_trades, dropped_other;
    uint32_t peak, waiting;
} runner_warm_held;
void runner_warm_info(const runner *r, uint32_t si, runner_warm_held *out);
/* True while any symbol waits for its restore read or waits for or feeds its warm-up history
 * (the replay's pump holds its next line until it is false, so the stored state and the
 * history always meet the data at the same point). */
bool runner_warmups_pending(const runner *r);

/* The newest training of model i of symbol index si's engine (false when none yet). */
bool runner_last_retrain(const runner *r, uint32_t si, uint32_t i, runner_retrain *out);

/* Subscribes to m (call after the subscribers that must see a note first: store, display).
 * clock: the market clock (simulated in replay / backtest). NULL on a bad config. */
runner *runner_new(market *m, kclock *clock, const runner_config *cfg);
/* Unsubscribes and frees everything it owns (engines, paper broker, portfolio, risk). */
void runner_free(runner *r);

void runner_set_auto(runner *r, bool on); /* `S` / `P`, ctl start / pause-trading */
bool runner_auto(const runner *r);
void runner_set_listener(runner *r, runner_ev_fn fn, void *ud);

/* Replaces the stop-loss / take-profit of the open position on (v, symbol) (0 = none): a
 * person's edit, or a test's. K_ERR when the symbol is not watched or flat. */
int runner_set_protection(runner *r, enum venue v, const char *symbol, kdec sl, kdec tp);

/* FNV-1a over every signal made so far (time, action, traded action, confidence, p): two runs
 * that made the same signals have the same digest (parity checks). */
uint64_t runner_signal_digest(const runner *r);

/* End of data: closes every open position at the last price (bar mode: last close - slippage)
 * with reduce-only market orders, scores what is due, samples the portfolio. */
void runner_finish(runner *r, int64_t now_ms);
/* The app, when cfg.learner is set and learner_fd() is readable: collects finished trainings
 * and swaps each model's candidate in (main thread). Returns how many. */
uint32_t runner_collect(runner *r);

/* A person's market order (the ticket, `kestrel ctl order`): the same risk engine, order
 * manager and broker as the engine's orders (reducing = reduce-only, passes a halted risk
 * state). K_OK and the client id in id_out, or K_ERR with the reason (the rule and the
 * numbers) in why. The symbol must be in the market. */
int runner_manual_order(runner *r, enum venue v, const char *symbol, enum side side, kdec qty,
                        bool reducing, char *id_out, size_t idlen, char *why, size_t whylen);
/* What runner_place() sent: the client id and the values after the instrument's rounding. */
typedef struct runner_placed {
    char id[ORDER_ID_MAX];
    kdec qty, price, stop, notional;
    const market_sym *ms;
} runner_placed;
/* A person's order of any type (order.h: market, limit with gtc / ioc / fok and post-only,
 * stop-market, stop-limit, take-profit, trailing; reduce-only; sl / tp attached to the position
 * it opens). Checked for shape (what each type needs; a stop that would trigger at once; sl / tp
 * on the wrong side), rounded and checked by the instrument's filters when they are known
 * (runner_set_instruments), then the risk engine, the order manager (write-ahead record) and the
 * broker. Resting orders do not block other orders on the symbol; a market order does until it
 * is done. K_OK with *out, or K_ERR with the reason (the rule and the numbers). */
int runner_place(runner *r, const order_req *req, runner_placed *out, char *why, size_t whylen);
/* What runner_place would do, without placing (the order ticket): shape, the instrument's
 * rounding (*out: qty, price, stop, notional), the fee estimate (maker for a limit, else taker)
 * and the risk verdict: K_OK with why = the verdict's notes ("passes every risk rule" when
 * none), or K_ERR with the refusal. */
int runner_preview(runner *r, const order_req *req, runner_placed *out, kdec *fee, char *why,
                   size_t whylen);
/* Cancels an open order by client id (PENDING_CANCEL until the broker answers; a fill that
 * arrives meanwhile is applied). K_ERR with why when unknown, final or already canceling. */
int runner_cancel(runner *r, const char *client_id, char *why, size_t whylen);
/* Cancels every open resting order; returns how many cancels were sent. */
int runner_cancel_all(runner *r);
/* ---- after a restart (the app, from the store's durable lane) ----
 * The portfolio as stored (taken over; the old one is freed); watched symbols take their
 * position's stop-loss / take-profit from it. */
void runner_restore_portfolio(runner *r, portfolio *pf);
/* A paper balance as stored (total, free + locked). */
void runner_restore_balance(runner *r, const char *asset, kdec total);
/* An open order as stored (NEW / PARTIALLY_FILLED): back in the order manager under its id and
 * resting again on the paper broker (triggered: a stop-limit whose limit was resting). */
int runner_restore_order(runner *r, const order *o, bool triggered);
/* The durable commit of an order's intent has completed (see runner_config.commit): stored ->
 * the order goes to the broker now; not stored -> REJECTED with why ("not stored durably: ...")
 * and it never reaches a broker. An entry whose commit completes while the risk state is HALTED
 * (a close-all came in between) is CANCELED instead. K_ERR when the order is not waiting (a
 * close-all or a cancel ended it meanwhile). */
int runner_release(runner *r, const char *client_id, bool stored, const char *why);
/* Orders created but waiting for their durable commit. */
uint32_t runner_unreleased(const runner *r);
/* This order is waiting for its durable commit (the broker has never seen it). */
bool runner_order_unreleased(runner *r, const char *client_id);
/* Amends a resting limit order (price and / or quantity; 0 = unchanged) where the broker allows
 * it: the new values go through the instrument's filters (passive-side rounding), a quantity
 * below what is filled is refused, then the broker (the paper broker: a new price, or a larger
 * quantity, loses the queue position; a smaller quantity keeps it) and the order manager
 * (persisted). K_OK with the rounded values in *price / *qty, or K_ERR with why. */
int runner_amend(runner *r, const char *client_id, kdec *price, kdec *qty, char *why,
                 size_t whylen);
/* Sweeps the dust remainder of the position on (v, symbol) where the broker allows it (the paper
 * broker: spot only, sold to the quote asset at the best bid minus PAPER_DUST_FEE_PCT). K_OK
 * with the swept quantity in *qty, or K_ERR with why (not dust, not allowed, no price). */
int runner_sweep(runner *r, enum venue v, const char *symbol, kdec *qty, char *why,
                 size_t whylen);
/* Exchange filters for runner_place (borrowed; NULL = none). */
void runner_set_instruments(runner *r, const instruments *in);
/* Closes the position on (v, symbol) at market (reduce-only). K_ERR when flat / unknown / an
 * order is already in flight for it. */
int runner_close_symbol(runner *r, enum venue v, const char *symbol, char *why, size_t whylen);
/* Close-all: halts new entries first (risk HALTED until a person resumes), cancels every open
 * resting order, then closes every open position at market. Returns the number of close orders
 * sent. */
int runner_close_all(runner *r);
/* Makes a signal now for the symbol (the `g` key): the engine's full reasoning in *out.
 * K_ERR when the symbol is not watched. Acts on it only when auto-trading is on. */
int runner_signal_now(runner *r, enum venue v, const char *symbol, engine_signal *out);
order_mgr *runner_orders(runner *r);

portfolio *runner_portfolio(runner *r);
risk *runner_risk(runner *r);
broker *runner_broker(runner *r);
paper *runner_paper(runner *r);
const runner_stats *runner_get_stats(const runner *r);
uint32_t runner_symbols(const runner *r);
engine *runner_engine(runner *r, uint32_t i);
const market_sym *runner_symbol(const runner *r, uint32_t i);

#endif
