/* Orders: types, the status state machine with its transition table, fills with duplicate
 * trade-id suppression, and client order ids that a restart never reuses. The order manager
 * owns every order of a session; each transition (and each applied fill) is reported to one
 * listener, which the app uses to persist it through the store's durable lane (write-ahead: the
 * PENDING_NEW transition is reported before the order is handed to any broker). Pure, main
 * thread, no I/O. */
#ifndef KESTREL_ORDER_H
#define KESTREL_ORDER_H
#include "kestrel/instrument.h"

enum order_type {
    ORDER_MARKET = 0,
    ORDER_LIMIT,
    ORDER_STOP_MARKET,   /* market once a trade prints at/through stop (buy: >=, sell: <=) */
    ORDER_STOP_LIMIT,    /* limit at price once the stop triggers */
    ORDER_TAKE_PROFIT,   /* market once a trade prints at/through stop the profitable way
                          * (sell: >=, buy: <=) */
    ORDER_TRAILING_STOP, /* market once the price retraces trail_pct from its best since placed */
    ORDER_TYPE_COUNT
};
/* "market" "limit" "stop" "stop_limit" "tp" "trailing" (the ctl `type=` names) */
const char *order_type_name(enum order_type t);
int order_type_parse(const char *s, enum order_type *out);

enum order_tif { TIF_GTC = 0, TIF_IOC, TIF_FOK };
const char *order_tif_name(enum order_tif t); /* "gtc" "ioc" "fok" */
int order_tif_parse(const char *s, enum order_tif *out);

enum order_status {
    ORDER_PENDING_NEW = 0, /* intent recorded, not yet acknowledged by the broker */
    ORDER_NEW,
    ORDER_PARTIALLY_FILLED,
    ORDER_FILLED,
    ORDER_PENDING_CANCEL,
    ORDER_CANCELED,
    ORDER_REJECTED,
    ORDER_EXPIRED,
    ORDER_UNKNOWN,         /* outcome not known (timeout, lost connection): query by client id */
    ORDER_STATUS_COUNT
};
/* "PENDING_NEW" "NEW" "PARTIALLY_FILLED" "FILLED" "PENDING_CANCEL" "CANCELED" "REJECTED"
 * "EXPIRED" "UNKNOWN" */
const char *order_status_name(enum order_status s);
int order_status_parse(const char *s, enum order_status *out);
/* The transition table: may an order go from `from` to `to`? (same -> same is allowed only for
 * PARTIALLY_FILLED, i.e. another partial fill). */
bool order_transition_ok(enum order_status from, enum order_status to);
bool order_status_terminal(enum order_status s); /* FILLED CANCELED REJECTED EXPIRED */
bool order_status_open(enum order_status s);     /* counts as an open order */

enum order_result {
    ORDER_OK = 0,
    ORDER_ERR_ILLEGAL_TRANSITION,
    ORDER_ERR_NOT_FOUND,
    ORDER_ERR_DUPLICATE_FILL,  /* trade id already applied: ignored */
    ORDER_ERR_OVERFILL,        /* fill beyond the order quantity: refused */
    ORDER_ERR_INVALID,         /* bad request (qty <= 0, missing price for a limit, ...) */
    ORDER_ERR_FULL,            /* the order table is at its bound */
    ORDER_ERR_BAD_ID,          /* client id not valid for the venue / already used */
};
const char *order_strerror(enum order_result r);

#define ORDER_ID_MAX 40     /* buffer size; ids are at most 36 chars (OKX 32) */
#define ORDER_REASON_MAX 160

typedef struct order_req {
    enum venue venue;
    char symbol[KSYM_MAX];
    enum side side;
    enum order_type type;
    enum order_tif tif;
    bool post_only;
    bool reduce_only;
    bool sweep;      /* a dust sweep (reduce-only market sell of a remainder below the venue's
                      * minimum, where the broker allows it: broker_ops.can_sweep) */
    kdec qty;        /* base quantity */
    kdec price;      /* limit price (LIMIT, STOP_LIMIT) */
    kdec stop;       /* trigger (STOP_*, TAKE_PROFIT) */
    kdec trail_pct;  /* TRAILING_STOP callback in percent, e.g. 1 = 1% */
    kdec sl, tp;     /* protective prices attached to the resulting position, 0 = none */
    int leverage;    /* futures: 1.. (0 = the broker's default) */
} order_req;

typedef struct order_fill {
    int64_t trade_id;
    int64_t time_ms;
    kdec px, qty;
    kdec fee;            /* in fee_asset, >= 0 */
    char fee_asset[INSTR_ASSET_MAX];
    bool maker;          /* liquidity: maker / taker */
} order_fill;

typedef struct order {
    char client_id[ORDER_ID_MAX];
    uint64_t seq;          /* the id's sequence number (per session) */
    order_req req;
    enum order_status status;
    kdec filled;           /* cumulated base quantity */
    kdec filled_quote;     /* cumulated quote notional (sum px*qty, exact to 1e-8 per fill) */
    kdec fees;             /* cumulated fees in the fill's fee asset */
    uint32_t nfills;
    int64_t created_ms, updated_ms;
    bool fill_after_cancel; /* a fill arrived after the order reached CANCELED / EXPIRED */
    bool triggered;        /* a stop / take-profit / trailing order has triggered (persisted: a
                            * triggered stop-limit rests as a limit after a restart) */
    kdec trail_best;       /* TRAILING_STOP: the best price since placed (high-water for a
                            * sell, low-water for a buy) as the broker reported it, 0 = none
                            * yet; persisted, so a restart resumes at the same stop */
    char reason[ORDER_REASON_MAX]; /* last rejection / expiry reason */
    /* applied trade ids (duplicate suppression), owned */
    int64_t *trade_ids;
    uint32_t ntrade_ids, trade_ids_cap;
} order;

/* Average fill price (quote / base), 0 when nothing is filled. */
kdec order_avg_price(const order *o);
kdec order_remaining(const order *o);

enum order_note_kind {
    ORDER_NOTE_TRANSITION, /* status changed from -> to (reason set for REJECTED/EXPIRED) */
    ORDER_NOTE_FILL,       /* a fill was applied (fill set); a transition note follows if the
                            * status changed */
};

typedef struct order_note {
    enum order_note_kind kind;
    const order *order;
    enum order_status from, to;
    const order_fill *fill;
    int64_t time_ms;
} order_note;

typedef void (*order_listener_fn)(void *ud, const order_note *note);

/* ---- client ids ----
 * An id is PREFIX + EPOCH (8 base-36 digits) + SEQ (base 36), alphanumerics only, so it is valid
 * on Binance (<= 36 of [A-Za-z0-9_-]) and OKX (<= 32 alphanumerics). EPOCH is the session's
 * epoch: the caller passes a value strictly greater than every earlier session's (the wall clock
 * at start in ms, raised above the last epoch the store recorded); with SEQ counting from 1 a
 * restart can never produce an id used before. PREFIX: 0..8 alphanumerics. */
K_MUST_USE enum order_result order_client_id_make(const char *prefix, uint64_t epoch,
                                                  uint64_t seq, char *out, size_t cap);
/* Valid on venue v: Binance 1..36 of [A-Za-z0-9_-], OKX 1..32 of [A-Za-z0-9]. */
bool order_client_id_valid(const char *id, enum venue v);

/* ---- the order manager ---- */
typedef struct order_mgr order_mgr;

/* max_orders: bound on the orders kept; at the bound the oldest terminal ones are dropped,
 * down to 3/4 of it (open orders are never dropped: create then fails with ORDER_ERR_FULL). */
order_mgr *order_mgr_new(const char *prefix, uint64_t epoch, uint32_t max_orders);
void order_mgr_free(order_mgr *m);
void order_mgr_set_listener(order_mgr *m, order_listener_fn fn, void *ud);
uint64_t order_mgr_epoch(const order_mgr *m);

/* Creates an order in PENDING_NEW with a fresh client id (reported: from == to == PENDING_NEW,
 * the write-ahead record). The request is checked for shape only (risk and precision come
 * before). *out points into the manager (valid until the order is dropped). */
K_MUST_USE enum order_result order_mgr_create(order_mgr *m, const order_req *req, int64_t now_ms,
                                              const order **out);
/* Re-inserts an order read back from the store after a restart (its seq must be below the
 * session's or its epoch older). */
K_MUST_USE enum order_result order_mgr_restore(order_mgr *m, const order *o);

order *order_mgr_find(order_mgr *m, const char *client_id);
uint32_t order_mgr_count(const order_mgr *m);
order *order_mgr_at(order_mgr *m, uint32_t i);
uint32_t order_mgr_open_count(const order_mgr *m);

/* Moves an order to `to` (table-checked; illegal ones are refused and nothing changes). reason
 * is kept for REJECTED / EXPIRED / UNKNOWN (may be NULL). */
K_MUST_USE enum order_result order_mgr_transition(order_mgr *m, const char *client_id,
                                                  enum order_status to, const char *reason,
                                                  int64_t now_ms);
/* Applies a fill: duplicate trade ids are ignored (ORDER_ERR_DUPLICATE_FILL, nothing changes);
 * a fill beyond the quantity is refused; a fill on a CANCELED / EXPIRED order is applied and
 * flagged (the status stays terminal); otherwise the status becomes PARTIALLY_FILLED or FILLED. */
K_MUST_USE enum order_result order_mgr_fill(order_mgr *m, const char *client_id,
                                            const order_fill *fill);
/* Amends price / quantity of a resting order (0 = unchanged); the new quantity may not be
 * below what is filled. */
K_MUST_USE enum order_result order_mgr_amend(order_mgr *m, const char *client_id, kdec price,
                                             kdec qty, int64_t now_ms);

/* The broker says the order triggered (a stop / take-profit / trailing): flagged and reported
 * (a note from == to), so the store keeps it. Once only: a second call changes nothing. */
K_MUST_USE enum order_result order_mgr_triggered(order_mgr *m, const char *client_id,
                                                 int64_t now_ms);
/* The broker says a trailing stop's best price moved to best (its stop moves with it): kept and
 * reported (a note from == to), so the store keeps it. Unchanged best: nothing happens. */
K_MUST_USE enum order_result order_mgr_trail(order_mgr *m, const char *client_id, kdec best,
                                             int64_t now_ms);
/* A trailing stop's stop price for its best price: best - best * trail_pct / 100 for a sell,
 * best + ... for a buy, the distance rounded up (1e-8); 0 when best is 0. The paper broker
 * triggers on it. */
kdec order_trail_stop(const order_req *r, kdec best);

/* The venue accepted less than was asked (a reduce-only order clipped to the position): the
 * order's quantity becomes qty (never below what is filled; never raised). Reported. */
K_MUST_USE enum order_result order_mgr_trim(order_mgr *m, const char *client_id, kdec qty,
                                            int64_t now_ms);

/* ---- JSON (control socket, store): ids, prices and quantities as strings ---- */
struct cJSON;
/* A fill with the contract fields: id, order_id, trade_id, time, symbol, side, price, qty, fee,
 * fee_asset, liquidity ("maker" / "taker"). fill_id is the store's id (may be NULL: omitted).
 * Prices / quantities with px_decimals / qty_decimals (-1: as many as they need). */
struct cJSON *order_fill_json(const char *fill_id, const char *order_id, const char *symbol,
                              enum side side, const order_fill *f, int px_decimals,
                              int qty_decimals);
/* An order: id, venue, symbol, side, type, tif, post_only, reduce_only, status, qty, price,
 * stop, trail_pct, sl, tp, leverage, filled, filled_quote, avg_price, fees, fills, created,
 * updated, fill_after_cancel, triggered, reason, trade_ids (strings); a trailing stop also
 * trail_best and trail_stop (its current stop price, derived: not read back). */
struct cJSON *order_json(const order *o);
/* Rebuilds an order from order_json() output (for order_mgr_restore; the caller frees
 * out->trade_ids). ORDER_ERR_INVALID on a missing or malformed field. */
K_MUST_USE enum order_result order_from_json(const struct cJSON *j, order *out);

#endif
