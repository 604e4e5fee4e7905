/* Broker interface: the dispatch through the vtable, the listener, and the mapping of broker
 * events onto the order state machine. Implementations (paper.c, later the live brokers) only
 * fill the vtable and emit events; nothing here knows a venue. */
#include "kestrel/broker.h"

#include <string.h>

const char *broker_strerror(enum broker_result r)
{
    switch (r) {
    case BROKER_OK: return "ok";
    case BROKER_ERR_UNKNOWN_SYMBOL: return "unknown symbol";
    case BROKER_ERR_NOT_FOUND: return "no such order";
    case BROKER_ERR_DUPLICATE_ID: return "duplicate client order id";
    case BROKER_ERR_NOT_SUPPORTED: return "not supported by this broker";
    case BROKER_ERR_INVALID: return "invalid request";
    case BROKER_ERR_STATE: return "order state does not allow it";
    case BROKER_ERR_FULL: return "broker table full";
    case BROKER_ERR_UNAVAILABLE: return "venue unavailable";
    case BROKER_ERR_BALANCE: return "insufficient free balance";
    }
    return "?";
}

const char *broker_event_name(enum broker_event_kind k)
{
    static const char *const names[] = {"accepted", "rejected", "fill", "canceled",
                                        "expired", "unknown", "triggered", "amended",
                                        "funding", "liquidation", "trailed"};
    return (unsigned)k < K_ARRAY_LEN(names) ? names[k] : "?";
}

void broker_set_listener(broker *b, broker_listener_fn fn, void *ud)
{
    b->listener = fn;
    b->listener_ud = ud;
}

void broker_emit(broker *b, const broker_event *ev)
{
    if (b->listener)
        b->listener(b->listener_ud, ev);
}

enum broker_result broker_place(broker *b, const order *o, int64_t now_ms)
{
    if (o->req.sweep && !b->ops->can_sweep)
        return BROKER_ERR_NOT_SUPPORTED;
    return b->ops->place(b, o->client_id, &o->req, now_ms);
}

enum broker_result broker_cancel(broker *b, const char *client_id, int64_t now_ms)
{
    return b->ops->cancel(b, client_id, now_ms);
}

enum broker_result broker_amend(broker *b, const char *client_id, kdec price, kdec qty,
                                int64_t now_ms)
{
    if (!b->ops->can_amend || !b->ops->amend)
        return BROKER_ERR_NOT_SUPPORTED;
    return b->ops->amend(b, client_id, price, qty, now_ms);
}

enum broker_result broker_query(broker *b, const char *client_id, broker_order_info *out)
{
    return b->ops->query(b, client_id, out);
}

size_t broker_open_orders(broker *b, broker_order_info *out, size_t cap)
{
    return b->ops->open_orders(b, out, cap);
}

size_t broker_balances(broker *b, broker_balance *out, size_t cap)
{
    return b->ops->balances(b, out, cap);
}

size_t broker_positions(broker *b, broker_position *out, size_t cap)
{
    return b->ops->positions(b, out, cap);
}

void broker_free(broker *b)
{
    if (b)
        b->ops->destroy(b);
}

enum order_result broker_event_apply(order_mgr *m, const broker_event *ev)
{
    switch (ev->kind) {
    case BROKER_EV_ACCEPTED: {
        order *o = order_mgr_find(m, ev->client_id);
        if (!o)
            return ORDER_ERR_NOT_FOUND;
        enum order_result r = ORDER_OK;
        if (o->status == ORDER_PENDING_NEW || o->status == ORDER_UNKNOWN) /* else a fill moved it */
            r = order_mgr_transition(m, ev->client_id, ORDER_NEW, NULL, ev->time_ms);
        if (r == ORDER_OK && ev->qty > 0 && ev->qty < o->req.qty)
            r = order_mgr_trim(m, ev->client_id, ev->qty, ev->time_ms);
        return r;
    }
    case BROKER_EV_REJECTED:
        return order_mgr_transition(m, ev->client_id, ORDER_REJECTED, ev->reason, ev->time_ms);
    case BROKER_EV_CANCELED:
        return order_mgr_transition(m, ev->client_id, ORDER_CANCELED, ev->reason, ev->time_ms);
    case BROKER_EV_EXPIRED:
        return order_mgr_transition(m, ev->client_id, ORDER_EXPIRED, ev->reason, ev->time_ms);
    case BROKER_EV_UNKNOWN:
        return order_mgr_transition(m, ev->client_id, ORDER_UNKNOWN, ev->reason, ev->time_ms);
    case BROKER_EV_FILL:
        return order_mgr_fill(m, ev->client_id, &ev->fill);
    case BROKER_EV_TRIGGERED:
        return order_mgr_triggered(m, ev->client_id, ev->time_ms);
    case BROKER_EV_TRAILED:
        return order_mgr_trail(m, ev->client_id, ev->price, ev->time_ms);
    case BROKER_EV_AMENDED:
    case BROKER_EV_FUNDING:
    case BROKER_EV_LIQUIDATION:
        return ORDER_OK;
    }
    return ORDER_ERR_INVALID;
}
