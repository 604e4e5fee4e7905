/* The broker interface: one vtable that the paper broker implements now, the backtest uses and
 * the live brokers (Binance, OKX) will implement. Requests return a typed result at once; what
 * the venue does afterwards comes back as events (accepted, rejected with a reason, fill with a
 * trade id, canceled, expired, unknown outcome, funding, liquidation) through one listener,
 * which the app feeds to order_mgr (order.h) and portfolio (portfolio.h). */
#ifndef KESTREL_BROKER_H
#define KESTREL_BROKER_H
#include "kestrel/order.h"

enum broker_result {
    BROKER_OK = 0,
    BROKER_ERR_UNKNOWN_SYMBOL,
    BROKER_ERR_NOT_FOUND,     /* no such client id */
    BROKER_ERR_DUPLICATE_ID,  /* client id already placed */
    BROKER_ERR_NOT_SUPPORTED, /* e.g. amend on a venue that cannot, shorting on spot */
    BROKER_ERR_INVALID,       /* malformed request */
    BROKER_ERR_STATE,         /* order not in a state that allows it (e.g. cancel when filled) */
    BROKER_ERR_FULL,          /* a bound was reached */
    BROKER_ERR_UNAVAILABLE,   /* venue not reachable (live brokers) */
    BROKER_ERR_BALANCE,       /* the free balance cannot hold it (e.g. an amend's larger lock) */
};
const char *broker_strerror(enum broker_result r);

enum broker_event_kind {
    BROKER_EV_ACCEPTED = 0, /* the venue has the order (NEW) */
    BROKER_EV_REJECTED,     /* reason set */
    BROKER_EV_FILL,         /* fill set */
    BROKER_EV_CANCELED,
    BROKER_EV_EXPIRED,      /* IOC/FOK remainder, market order out of depth; reason set */
    BROKER_EV_UNKNOWN,      /* outcome unknown (timeout): query by client id */
    BROKER_EV_TRIGGERED,    /* a stop / take-profit / trailing order triggered */
    BROKER_EV_AMENDED,
    BROKER_EV_FUNDING,      /* amount: funding paid (< 0) or received (> 0), in the quote asset */
    BROKER_EV_LIQUIDATION,  /* a futures position was liquidated at price; amount = loss */
    BROKER_EV_TRAILED,      /* a trailing stop's best price moved to price (its stop with it) */
};
const char *broker_event_name(enum broker_event_kind k); /* "accepted" "rejected" "fill" ... */

typedef struct broker_event {
    enum broker_event_kind kind;
    char client_id[ORDER_ID_MAX]; /* "" for FUNDING / LIQUIDATION */
    enum venue venue;
    char symbol[KSYM_MAX];
    enum side side;
    int64_t time_ms;              /* when the event is seen (data clock) */
    order_fill fill;              /* BROKER_EV_FILL */
    kdec price, amount;           /* FUNDING / LIQUIDATION; AMENDED: the new price */
    kdec qty;                     /* ACCEPTED / AMENDED: the quantity the venue holds (a
                                   * reduce-only order clipped to the position is less than
                                   * asked); 0 = as asked */
    char reason[ORDER_REASON_MAX];
} broker_event;

typedef void (*broker_listener_fn)(void *ud, const broker_event *ev);

typedef struct broker_order_info {
    char client_id[ORDER_ID_MAX];
    order_req req;
    enum order_status status;
    kdec filled, avg_px;
    bool triggered;
} broker_order_info;

typedef struct broker_balance {
    char asset[INSTR_ASSET_MAX];
    kdec free, locked;
} broker_balance;

typedef struct broker_position {
    enum venue venue;
    char symbol[KSYM_MAX];
    kdec qty;          /* signed: > 0 long, < 0 short */
    kdec entry;
    kdec margin;       /* isolated margin (futures), 0 on spot */
    kdec liq_px;       /* liquidation price (futures), 0 on spot */
    int leverage;
} broker_position;

typedef struct broker broker;

typedef struct broker_ops {
    const char *name;
    bool can_amend;
    bool can_sweep; /* takes order_req.sweep orders (dust below the venue minimum) */
    enum broker_result (*place)(broker *b, const char *client_id, const order_req *req,
                                int64_t now_ms);
    enum broker_result (*cancel)(broker *b, const char *client_id, int64_t now_ms);
    enum broker_result (*amend)(broker *b, const char *client_id, kdec price, kdec qty,
                                int64_t now_ms);
    enum broker_result (*query)(broker *b, const char *client_id, broker_order_info *out);
    /* fill up to cap entries, return how many exist */
    size_t (*open_orders)(broker *b, broker_order_info *out, size_t cap);
    size_t (*balances)(broker *b, broker_balance *out, size_t cap);
    size_t (*positions)(broker *b, broker_position *out, size_t cap);
    void (*destroy)(broker *b);
} broker_ops;

/* Every implementation embeds this as its first member. */
struct broker {
    const broker_ops *ops;
    broker_listener_fn listener;
    void *listener_ud;
};

void broker_set_listener(broker *b, broker_listener_fn fn, void *ud);
/* Sends an event to the listener (for implementations). */
void broker_emit(broker *b, const broker_event *ev);

K_MUST_USE enum broker_result broker_place(broker *b, const order *o, int64_t now_ms);
K_MUST_USE enum broker_result broker_cancel(broker *b, const char *client_id, int64_t now_ms);
K_MUST_USE enum broker_result broker_amend(broker *b, const char *client_id, kdec price,
                                           kdec qty, int64_t now_ms);
K_MUST_USE enum broker_result broker_query(broker *b, const char *client_id,
                                           broker_order_info *out);
size_t broker_open_orders(broker *b, broker_order_info *out, size_t cap);
size_t broker_balances(broker *b, broker_balance *out, size_t cap);
size_t broker_positions(broker *b, broker_position *out, size_t cap);
void broker_free(broker *b); /* NULL is fine */

/* Applies a broker event to the order manager: ACCEPTED -> NEW (and the accepted quantity when
 * the venue clipped it: order_mgr_trim), REJECTED, CANCELED, EXPIRED, UNKNOWN -> that status,
 * FILL -> order_mgr_fill, TRIGGERED -> order_mgr_triggered (persisted). Returns the order manager's result
 * (ORDER_ERR_DUPLICATE_FILL for a repeated trade id, ORDER_OK for FUNDING / LIQUIDATION /
 * AMENDED, which carry no status change: an amend is applied by whoever sent it). */
K_MUST_USE enum order_result broker_event_apply(order_mgr *m, const broker_event *ev);

#endif
