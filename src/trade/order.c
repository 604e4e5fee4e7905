/* Orders: the status state machine, fills and client order ids.
 *
 * The transition table below is the single authority on what may follow what; everything else
 * (brokers, the app, restore after a restart) goes through order_mgr_transition / order_mgr_fill
 * so an illegal move is refused in one place and every accepted one is reported to the listener
 * (the app persists it). Exchanges deliver fills after a cancel was acknowledged: such a fill is
 * applied (money moved) while the status stays terminal. Exchanges and reconnects also repeat
 * fills: a trade id already applied to the order is ignored. Orders live in one array bounded by
 * max_orders; when it is full the oldest terminal orders are dropped (down to 3/4 of it). */
#include "kestrel/order.h"

#include "kestrel/decimal.h"
#include "kestrel/xmalloc.h"

#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const order_type_names[ORDER_TYPE_COUNT] = {
    "market", "limit", "stop", "stop_limit", "tp", "trailing",
};

const char *order_type_name(enum order_type t)
{
    return (unsigned)t < ORDER_TYPE_COUNT ? order_type_names[t] : "?";
}

int order_type_parse(const char *s, enum order_type *out)
{
    for (int i = 0; i < ORDER_TYPE_COUNT; i++)
        if (!strcmp(s, order_type_names[i])) {
            *out = (enum order_type)i;
            return K_OK;
        }
    return K_ERR;
}

static const char *const order_tif_names[] = {"gtc", "ioc", "fok"};

const char *order_tif_name(enum order_tif t)
{
    return (unsigned)t < 3 ? order_tif_names[t] : "?";
}

int order_tif_parse(const char *s, enum order_tif *out)
{
    for (int i = 0; i < 3; i++)
        if (!strcmp(s, order_tif_names[i])) {
            *out = (enum order_tif)i;
            return K_OK;
        }
    return K_ERR;
}

static const char *const order_status_names[ORDER_STATUS_COUNT] = {
    "PENDING_NEW", "NEW", "PARTIALLY_FILLED", "FILLED", "PENDING_CANCEL",
    "CANCELED", "REJECTED", "EXPIRED", "UNKNOWN",
};

const char *order_status_name(enum order_status s)
{
    return (unsigned)s < ORDER_STATUS_COUNT ? order_status_names[s] : "?";
}

int order_status_parse(const char *s, enum order_status *out)
{
    for (int i = 0; i < ORDER_STATUS_COUNT; i++)
        if (!strcmp(s, order_status_names[i])) {
            *out = (enum order_status)i;
            return K_OK;
        }
    return K_ERR;
}

/* rows: from, columns: to. PN=PENDING_NEW N=NEW PF=PARTIALLY_FILLED F=FILLED PC=PENDING_CANCEL
 * C=CANCELED R=REJECTED E=EXPIRED U=UNKNOWN */
static const bool order_table[ORDER_STATUS_COUNT][ORDER_STATUS_COUNT] = {
    /*                 PN N  PF F  PC C  R  E  U */
    [ORDER_PENDING_NEW] = {0, 1, 1, 1, 1, 1, 1, 1, 1},
    [ORDER_NEW] = {0, 0, 1, 1, 1, 1, 0, 1, 1},
    [ORDER_PARTIALLY_FILLED] = {0, 0, 1, 1, 1, 1, 0, 1, 1},
    [ORDER_FILLED] = {0, 0, 0, 0, 0, 0, 0, 0, 0},
    /* a cancel refused by the venue returns the order to NEW / PARTIALLY_FILLED */
    [ORDER_PENDING_CANCEL] = {0, 1, 1, 1, 0, 1, 0, 1, 1},
    [ORDER_CANCELED] = {0, 0, 0, 0, 0, 0, 0, 0, 0},
    [ORDER_REJECTED] = {0, 0, 0, 0, 0, 0, 0, 0, 0},
    [ORDER_EXPIRED] = {0, 0, 0, 0, 0, 0, 0, 0, 0},
    /* a query resolves UNKNOWN to what the venue says */
    [ORDER_UNKNOWN] = {0, 1, 1, 1, 1, 1, 1, 1, 0},
};

bool order_transition_ok(enum order_status from, enum order_status to)
{
    if ((unsigned)from >= ORDER_STATUS_COUNT || (unsigned)to >= ORDER_STATUS_COUNT)
        return false;
    return order_table[from][to];
}

bool order_status_terminal(enum order_status s)
{
    return s == ORDER_FILLED || s == ORDER_CANCELED || s == ORDER_REJECTED || s == ORDER_EXPIRED;
}

bool order_status_open(enum order_status s)
{
    return (unsigned)s < ORDER_STATUS_COUNT && !order_status_terminal(s);
}

const char *order_strerror(enum order_result r)
{
    switch (r) {
    case ORDER_OK: return "ok";
    case ORDER_ERR_ILLEGAL_TRANSITION: return "illegal order status transition";
    case ORDER_ERR_NOT_FOUND: return "no such order";
    case ORDER_ERR_DUPLICATE_FILL: return "duplicate fill (trade id already applied)";
    case ORDER_ERR_OVERFILL: return "fill exceeds the order quantity";
    case ORDER_ERR_INVALID: return "invalid order request";
    case ORDER_ERR_FULL: return "order table full";
    case ORDER_ERR_BAD_ID: return "invalid or reused client order id";
    }
    return "?";
}

kdec order_avg_price(const order *o)
{
    if (o->filled <= 0)
        return 0;
    return (kdec)((__int128)o->filled_quote * KDEC_SCALE / o->filled);
}

kdec order_remaining(const order *o)
{
    return o->req.qty > o->filled ? o->req.qty - o->filled : 0;
}

/* ---- client ids ---- */

static bool order_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static size_t order_base36(uint64_t v, int width, char *out)
{
    static const char dig[] = "0123456789abcdefghijklmnopqrstuvwxyz";
    char tmp[16];
    int n = 0;
    do {
        tmp[n++] = dig[v % 36];
        v /= 36;
    } while (v && n < 15);
    while (n < width)
        tmp[n++] = '0';
    for (int i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    return (size_t)n;
}

enum order_result order_client_id_make(const char *prefix, uint64_t epoch, uint64_t seq,
                                       char *out, size_t cap)
{
    size_t pl = prefix ? strlen(prefix) : 0;
    if (pl > 8 || seq == 0)
        return ORDER_ERR_BAD_ID;
    for (size_t i = 0; i < pl; i++)
        if (!order_alnum(prefix[i]))
            return ORDER_ERR_BAD_ID;
    /* 36^8 ms reaches the year 2059; larger epochs would widen the field and stay unique only
     * if every epoch had the same width, so refuse them */
    if (epoch >= 2821109907456ULL)
        return ORDER_ERR_BAD_ID;
    char buf[48];
    memcpy(buf, prefix, pl);
    size_t n = pl;
    n += order_base36(epoch, 8, buf + n);
    n += order_base36(seq, 1, buf + n);
    if (n > 32 || n + 1 > cap)
        return ORDER_ERR_BAD_ID;
    memcpy(out, buf, n);
    out[n] = '\0';
    return ORDER_OK;
}

bool order_client_id_valid(const char *id, enum venue v)
{
    size_t n = strlen(id);
    if (n == 0 || n > (v == VENUE_OKX ? 32u : 36u))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!order_alnum(id[i]) && (v == VENUE_OKX || (id[i] != '_' && id[i] != '-')))
            return false;
    return true;
}

/* ---- manager ---- */

struct order_mgr {
    char prefix[9];
    uint64_t epoch, seq;
    order *v; /* orders, oldest first */
    uint32_t n, cap, max;
    order_listener_fn fn;
    void *ud;
};

order_mgr *order_mgr_new(const char *prefix, uint64_t epoch, uint32_t max_orders)
{
    order_mgr *m = xcalloc(1, sizeof *m);
    snprintf(m->prefix, sizeof m->prefix, "%s", prefix ? prefix : "");
    m->epoch = epoch;
    m->max = max_orders ? max_orders : 100000;
    return m;
}

static void order_release(order *o)
{
    free(o->trade_ids);
    o->trade_ids = NULL;
}

void order_mgr_free(order_mgr *m)
{
    if (!m)
        return;
    for (uint32_t i = 0; i < m->n; i++)
        order_release(&m->v[i]);
    free(m->v);
    free(m);
}

void order_mgr_set_listener(order_mgr *m, order_listener_fn fn, void *ud)
{
    m->fn = fn;
    m->ud = ud;
}

uint64_t order_mgr_epoch(const order_mgr *m)
{
    return m->epoch;
}

static void order_note_send(order_mgr *m, enum order_note_kind k, const order *o,
                            enum order_status from, const order_fill *f, int64_t t)
{
    if (!m->fn)
        return;
    order_note note = {.kind = k, .order = o, .from = from, .to = o->status, .fill = f,
                       .time_ms = t};
    m->fn(m->ud, &note);
}

/* a free slot: grow, or (at the bound) drop the oldest terminal orders in one compaction pass
 * down to 3/4 of the bound, so the cost is amortised O(1) per order */
static order *order_mgr_slot(order_mgr *m)
{
    if (m->n >= m->max) {
        uint32_t drop = m->n - m->max * 3 / 4, w = 0;
        if (drop == 0)
            drop = 1;
        for (uint32_t i = 0; i < m->n; i++) {
            if (drop > 0 && order_status_terminal(m->v[i].status)) {
                order_release(&m->v[i]);
                drop--;
                continue;
            }
            if (w != i)
                m->v[w] = m->v[i];
            w++;
        }
        m->n = w;
        if (m->n >= m->max)
            return NULL;
    }
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 64;
        m->v = xrealloc(m->v, m->cap * sizeof *m->v);
    }
    order *o = &m->v[m->n++];
    memset(o, 0, sizeof *o);
    return o;
}

static bool order_req_valid(const order_req *r)
{
    if (r->qty <= 0 || !r->symbol[0] || (unsigned)r->type >= ORDER_TYPE_COUNT ||
        (unsigned)r->side > SIDE_SELL || (unsigned)r->tif > TIF_FOK)
        return false;
    if ((r->type == ORDER_LIMIT || r->type == ORDER_STOP_LIMIT) && r->price <= 0)
        return false;
    if ((r->type == ORDER_STOP_MARKET || r->type == ORDER_STOP_LIMIT ||
         r->type == ORDER_TAKE_PROFIT) && r->stop <= 0)
        return false;
    if (r->type == ORDER_TRAILING_STOP && (r->trail_pct <= 0 || r->trail_pct >= 100 * KDEC_SCALE))
        return false;
    if (r->post_only && r->type != ORDER_LIMIT)
        return false;
    return r->leverage >= 0;
}

enum order_result order_mgr_create(order_mgr *m, const order_req *req, int64_t now_ms,
                                   const order **out)
{
    *out = NULL;
    if (!order_req_valid(req))
        return ORDER_ERR_INVALID;
    char id[ORDER_ID_MAX];
    enum order_result r = order_client_id_make(m->prefix, m->epoch, m->seq + 1, id, sizeof id);
    if (r != ORDER_OK)
        return r;
    order *o = order_mgr_slot(m);
    if (!o)
        return ORDER_ERR_FULL;
    m->seq++;
    memcpy(o->client_id, id, sizeof id);
    o->seq = m->seq;
    o->req = *req;
    o->status = ORDER_PENDING_NEW;
    o->created_ms = o->updated_ms = now_ms;
    order_note_send(m, ORDER_NOTE_TRANSITION, o, ORDER_PENDING_NEW, NULL, now_ms);
    *out = o;
    return ORDER_OK;
}

enum order_result order_mgr_restore(order_mgr *m, const order *src)
{
    if (order_mgr_find(m, src->client_id))
        return ORDER_ERR_BAD_ID;
    order *o = order_mgr_slot(m);
    if (!o)
        return ORDER_ERR_FULL;
    *o = *src;
    o->trade_ids = NULL;
    o->ntrade_ids = o->trade_ids_cap = 0;
    if (src->ntrade_ids) {
        o->trade_ids = xmalloc(src->ntrade_ids * sizeof *o->trade_ids);
        memcpy(o->trade_ids, src->trade_ids, src->ntrade_ids * sizeof *o->trade_ids);
        o->ntrade_ids = o->trade_ids_cap = src->ntrade_ids;
    }
    return ORDER_OK;
}

order *order_mgr_find(order_mgr *m, const char *client_id)
{
    for (uint32_t i = m->n; i-- > 0;)
        if (!strcmp(m->v[i].client_id, client_id))
            return &m->v[i];
    return NULL;
}

uint32_t order_mgr_count(const order_mgr *m)
{
    return m->n;
}

order *order_mgr_at(order_mgr *m, uint32_t i)
{
    return i < m->n ? &m->v[i] : NULL;
}

uint32_t order_mgr_open_count(const order_mgr *m)
{
    uint32_t c = 0;
    for (uint32_t i = 0; i < m->n; i++)
        c += order_status_open(m->v[i].status);
    return c;
}

enum order_result order_mgr_transition(order_mgr *m, const char *client_id, enum order_status to,
                                       const char *reason, int64_t now_ms)
{
    order *o = order_mgr_find(m, client_id);
    if (!o)
        return ORDER_ERR_NOT_FOUND;
    if (!order_transition_ok(o->status, to))
        return ORDER_ERR_ILLEGAL_TRANSITION;
    enum order_status from = o->status;
    o->status = to;
    o->updated_ms = now_ms;
    if (reason)
        snprintf(o->reason, sizeof o->reason, "%s", reason);
    order_note_send(m, ORDER_NOTE_TRANSITION, o, from, NULL, now_ms);
    return ORDER_OK;
}

enum order_result order_mgr_fill(order_mgr *m, const char *client_id, const order_fill *f)
{
    order *o = order_mgr_find(m, client_id);
    if (!o)
        return ORDER_ERR_NOT_FOUND;
    for (uint32_t i = 0; i < o->ntrade_ids; i++)
        if (o->trade_ids[i] == f->trade_id)
            return ORDER_ERR_DUPLICATE_FILL;
    if (f->qty <= 0 || f->px <= 0 || f->fee < 0 || o->filled + f->qty > o->req.qty)
        return f->qty > 0 && f->px > 0 && f->fee >= 0 ? ORDER_ERR_OVERFILL : ORDER_ERR_INVALID;
    if (o->status == ORDER_FILLED || o->status == ORDER_REJECTED)
        return ORDER_ERR_ILLEGAL_TRANSITION;
    if (o->ntrade_ids == o->trade_ids_cap) {
        o->trade_ids_cap = o->trade_ids_cap ? o->trade_ids_cap * 2 : 4;
        o->trade_ids = xrealloc(o->trade_ids, o->trade_ids_cap * sizeof *o->trade_ids);
    }
    o->trade_ids[o->ntrade_ids++] = f->trade_id;
    o->filled += f->qty;
    o->filled_quote += (kdec)((__int128)f->px * f->qty / KDEC_SCALE);
    o->fees += f->fee;
    o->nfills++;
    o->updated_ms = f->time_ms;
    enum order_status from = o->status;
    order_note_send(m, ORDER_NOTE_FILL, o, from, f, f->time_ms);
    if (order_status_terminal(from)) {
        o->fill_after_cancel = true; /* CANCELED / EXPIRED: the money moved, the status stays */
        return ORDER_OK;
    }
    enum order_status to = o->filled == o->req.qty ? ORDER_FILLED : ORDER_PARTIALLY_FILLED;
    if (from == ORDER_PENDING_CANCEL && to == ORDER_PARTIALLY_FILLED)
        return ORDER_OK; /* still waiting for the cancel's answer */
    if (to != from || to == ORDER_PARTIALLY_FILLED) {
        o->status = to;
        order_note_send(m, ORDER_NOTE_TRANSITION, o, from, NULL, f->time_ms);
    }
    return ORDER_OK;
}

enum order_result order_mgr_amend(order_mgr *m, const char *client_id, kdec price, kdec qty,
                                  int64_t now_ms)
{
    order *o = order_mgr_find(m, client_id);
    if (!o)
        return ORDER_ERR_NOT_FOUND;
    if (o->status != ORDER_NEW && o->status != ORDER_PARTIALLY_FILLED)
        return ORDER_ERR_ILLEGAL_TRANSITION;
    if (price < 0 || qty < 0 || (qty > 0 && qty <= o->filled))
        return ORDER_ERR_INVALID;
    if (price > 0)
        o->req.price = price;
    if (qty > 0)
        o->req.qty = qty;
    o->updated_ms = now_ms;
    order_note_send(m, ORDER_NOTE_TRANSITION, o, o->status, NULL, now_ms);
    return ORDER_OK;
}

enum order_result order_mgr_triggered(order_mgr *m, const char *client_id, int64_t now_ms)
{
    order *o = order_mgr_find(m, client_id);
    if (!o)
        return ORDER_ERR_NOT_FOUND;
    if (o->triggered)
        return ORDER_OK;
    o->triggered = true;
    o->updated_ms = now_ms;
    order_note_send(m, ORDER_NOTE_TRANSITION, o, o->status, NULL, now_ms);
    return ORDER_OK;
}

enum order_result order_mgr_trail(order_mgr *m, const char *client_id, kdec best,
                                  int64_t now_ms)
{
    order *o = order_mgr_find(m, client_id);
    if (!o)
        return ORDER_ERR_NOT_FOUND;
    if (o->req.type != ORDER_TRAILING_STOP || best <= 0)
        return ORDER_ERR_INVALID;
    if (best == o->trail_best)
        return ORDER_OK;
    o->trail_best = best;
    o->updated_ms = now_ms;
    order_note_send(m, ORDER_NOTE_TRANSITION, o, o->status, NULL, now_ms);
    return ORDER_OK;
}

kdec order_trail_stop(const order_req *r, kdec best)
{
    if (best <= 0 || r->trail_pct <= 0)
        return 0;
    __int128 d = (__int128)KDEC_SCALE * 100;
    __int128 dist = ((__int128)best * r->trail_pct + d - 1) / d;
    __int128 s = r->side == SIDE_BUY ? best + dist : best - dist;
    return s > KDEC_MAX ? KDEC_MAX : s < 0 ? 0 : (kdec)s;
}

enum order_result order_mgr_trim(order_mgr *m, const char *client_id, kdec qty, int64_t now_ms)
{
    order *o = order_mgr_find(m, client_id);
    if (!o)
        return ORDER_ERR_NOT_FOUND;
    if (qty <= 0 || qty < o->filled)
        return ORDER_ERR_INVALID;
    if (qty >= o->req.qty)
        return ORDER_OK;
    o->req.qty = qty;
    o->updated_ms = now_ms;
    order_note_send(m, ORDER_NOTE_TRANSITION, o, o->status, NULL, now_ms);
    return ORDER_OK;
}

/* ---- JSON ---- */

static void order_put_kdec(cJSON *o, const char *k, kdec v, int decimals)
{
    char b[40];
    decimal_format(v, decimals >= 0 ? decimals : decimal_places(v), b, sizeof b);
    cJSON_AddStringToObject(o, k, b);
}

static void order_put_i64(cJSON *o, const char *k, int64_t v)
{
    char b[32];
    snprintf(b, sizeof b, "%lld", (long long)v);
    cJSON_AddStringToObject(o, k, b);
}

cJSON *order_fill_json(const char *fill_id, const char *order_id, const char *symbol,
                       enum side side, const order_fill *f, int px_decimals, int qty_decimals)
{
    cJSON *o = cJSON_CreateObject();
    if (fill_id)
        cJSON_AddStringToObject(o, "id", fill_id);
    cJSON_AddStringToObject(o, "order_id", order_id);
    order_put_i64(o, "trade_id", f->trade_id);
    cJSON_AddNumberToObject(o, "time", (double)f->time_ms);
    cJSON_AddStringToObject(o, "symbol", symbol);
    cJSON_AddStringToObject(o, "side", side_name(side));
    order_put_kdec(o, "price", f->px, px_decimals);
    order_put_kdec(o, "qty", f->qty, qty_decimals);
    order_put_kdec(o, "fee", f->fee, -1);
    cJSON_AddStringToObject(o, "fee_asset", f->fee_asset);
    cJSON_AddStringToObject(o, "liquidity", f->maker ? "maker" : "taker");
    return o;
}

cJSON *order_json(const order *o)
{
    cJSON *j = cJSON_CreateObject();
    const order_req *r = &o->req;
    cJSON_AddStringToObject(j, "id", o->client_id);
    order_put_i64(j, "seq", (int64_t)o->seq);
    cJSON_AddStringToObject(j, "venue", venue_name(r->venue));
    cJSON_AddStringToObject(j, "symbol", r->symbol);
    cJSON_AddStringToObject(j, "side", side_name(r->side));
    cJSON_AddStringToObject(j, "type", order_type_name(r->type));
    cJSON_AddStringToObject(j, "tif", order_tif_name(r->tif));
    cJSON_AddBoolToObject(j, "post_only", r->post_only);
    cJSON_AddBoolToObject(j, "reduce_only", r->reduce_only);
    if (r->sweep)
        cJSON_AddBoolToObject(j, "sweep", true);
    cJSON_AddStringToObject(j, "status", order_status_name(o->status));
    order_put_kdec(j, "qty", r->qty, -1);
    order_put_kdec(j, "price", r->price, -1);
    order_put_kdec(j, "stop", r->stop, -1);
    order_put_kdec(j, "trail_pct", r->trail_pct, -1);
    order_put_kdec(j, "sl", r->sl, -1);
    order_put_kdec(j, "tp", r->tp, -1);
    cJSON_AddNumberToObject(j, "leverage", r->leverage);
    order_put_kdec(j, "filled", o->filled, -1);
    order_put_kdec(j, "filled_quote", o->filled_quote, -1);
    order_put_kdec(j, "avg_price", order_avg_price(o), -1);
    order_put_kdec(j, "fees", o->fees, -1);
    cJSON_AddNumberToObject(j, "fills", o->nfills);
    cJSON_AddNumberToObject(j, "created", (double)o->created_ms);
    cJSON_AddNumberToObject(j, "updated", (double)o->updated_ms);
    cJSON_AddBoolToObject(j, "fill_after_cancel", o->fill_after_cancel);
    cJSON_AddBoolToObject(j, "triggered", o->triggered);
    if (r->type == ORDER_TRAILING_STOP) {
        order_put_kdec(j, "trail_best", o->trail_best, -1);
        order_put_kdec(j, "trail_stop", order_trail_stop(r, o->trail_best), -1);
    }
    cJSON_AddStringToObject(j, "reason", o->reason);
    cJSON *ids = cJSON_AddArrayToObject(j, "trade_ids");
    for (uint32_t i = 0; i < o->ntrade_ids; i++) {
        char b[32];
        snprintf(b, sizeof b, "%lld", (long long)o->trade_ids[i]);
        cJSON_AddItemToArray(ids, cJSON_CreateString(b));
    }
    return j;
}

static const char *order_js(const cJSON *j, const char *k, bool *ok)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(j, k);
    if (!cJSON_IsString(it) || !it->valuestring) {
        *ok = false;
        return "";
    }
    return it->valuestring;
}

static kdec order_jk(const cJSON *j, const char *k, bool *ok)
{
    const char *s = order_js(j, k, ok);
    kdec v = 0;
    if (*ok && decimal_parse(s, strlen(s), &v) != K_OK)
        *ok = false;
    return v;
}

static int64_t order_ji64(const char *s, bool *ok)
{
    char *end;
    long long v = strtoll(s, &end, 10);
    if (!*s || *end)
        *ok = false;
    return v;
}

static double order_jn(const cJSON *j, const char *k, bool *ok)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(j, k);
    if (!cJSON_IsNumber(it)) {
        *ok = false;
        return 0;
    }
    return it->valuedouble;
}

static bool order_jb(const cJSON *j, const char *k, bool *ok)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(j, k);
    if (!cJSON_IsBool(it))
        *ok = false;
    return cJSON_IsTrue(it);
}

enum order_result order_from_json(const cJSON *j, order *out)
{
    memset(out, 0, sizeof *out);
    bool ok = true;
    const char *id = order_js(j, "id", &ok);
    const char *sym = order_js(j, "symbol", &ok);
    if (!ok || strlen(id) >= sizeof out->client_id || strlen(sym) >= sizeof out->req.symbol)
        return ORDER_ERR_INVALID;
    memcpy(out->client_id, id, strlen(id) + 1);
    memcpy(out->req.symbol, sym, strlen(sym) + 1);
    out->seq = (uint64_t)order_ji64(order_js(j, "seq", &ok), &ok);
    const char *side = order_js(j, "side", &ok);
    out->req.side = !strcmp(side, "sell") ? SIDE_SELL : SIDE_BUY;
    if (strcmp(side, "sell") && strcmp(side, "buy"))
        ok = false;
    if (venue_parse(order_js(j, "venue", &ok), &out->req.venue) != K_OK ||
        order_type_parse(order_js(j, "type", &ok), &out->req.type) != K_OK ||
        order_tif_parse(order_js(j, "tif", &ok), &out->req.tif) != K_OK ||
        order_status_parse(order_js(j, "status", &ok), &out->status) != K_OK)
        ok = false;
    out->req.post_only = order_jb(j, "post_only", &ok);
    out->req.reduce_only = order_jb(j, "reduce_only", &ok);
    out->req.sweep = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "sweep"));
    out->req.qty = order_jk(j, "qty", &ok);
    out->req.price = order_jk(j, "price", &ok);
    out->req.stop = order_jk(j, "stop", &ok);
    out->req.trail_pct = order_jk(j, "trail_pct", &ok);
    out->req.sl = order_jk(j, "sl", &ok);
    out->req.tp = order_jk(j, "tp", &ok);
    out->req.leverage = (int)order_jn(j, "leverage", &ok);
    out->filled = order_jk(j, "filled", &ok);
    out->filled_quote = order_jk(j, "filled_quote", &ok);
    out->fees = order_jk(j, "fees", &ok);
    out->nfills = (uint32_t)order_jn(j, "fills", &ok);
    out->created_ms = (int64_t)order_jn(j, "created", &ok);
    out->updated_ms = (int64_t)order_jn(j, "updated", &ok);
    out->fill_after_cancel = order_jb(j, "fill_after_cancel", &ok);
    /* absent in records written before it existed: not triggered */
    out->triggered = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "triggered"));
    if (out->req.type == ORDER_TRAILING_STOP && cJSON_GetObjectItemCaseSensitive(j, "trail_best"))
        out->trail_best = order_jk(j, "trail_best", &ok); /* absent before it was stored: 0 */
    snprintf(out->reason, sizeof out->reason, "%s", order_js(j, "reason", &ok));
    const cJSON *ids = cJSON_GetObjectItemCaseSensitive(j, "trade_ids");
    if (!cJSON_IsArray(ids))
        ok = false;
    int n = cJSON_GetArraySize(ids);
    if (ok && n > 0) {
        out->trade_ids = xmalloc((size_t)n * sizeof *out->trade_ids);
        const cJSON *it;
        cJSON_ArrayForEach(it, ids) {
            if (!cJSON_IsString(it) || !it->valuestring) {
                ok = false;
                break;
            }
            out->trade_ids[out->ntrade_ids++] = order_ji64(it->valuestring, &ok);
        }
        out->trade_ids_cap = out->ntrade_ids;
    }
    if (!ok || out->req.qty <= 0 || out->filled < 0 || out->filled > out->req.qty) {
        free(out->trade_ids);
        memset(out, 0, sizeof *out);
        return ORDER_ERR_INVALID;
    }
    return ORDER_OK;
}
