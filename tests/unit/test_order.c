/* order: the transition table (every legal and illegal pair), fills (partial, full, duplicate
 * trade id ignored, overfill refused, fill after cancel applied), client ids (format, venue
 * rules, uniqueness across a restart with a later epoch), amend, the listener's write-ahead
 * record and the bound on kept orders. */
#include "check.h"

#include "kestrel/broker.h"
#include "kestrel/decimal.h"
#include "kestrel/order.h"

#include <cJSON.h>

static kdec D(const char *s)
{
    kdec v = 0;
    if (decimal_parse(s, strlen(s), &v) != K_OK)
        fprintf(stderr, "bad decimal %s\n", s);
    return v;
}

typedef struct rec {
    int n, fills;
    enum order_status from[64], to[64];
    char first_id[ORDER_ID_MAX];
} rec;

static void on_note(void *ud, const order_note *n)
{
    rec *r = ud;
    if (n->kind == ORDER_NOTE_FILL) {
        r->fills++;
        return;
    }
    if (r->n == 0)
        snprintf(r->first_id, sizeof r->first_id, "%s", n->order->client_id);
    if (r->n < 64) {
        r->from[r->n] = n->from;
        r->to[r->n] = n->to;
    }
    r->n++;
}

static order_req limit_buy(void)
{
    order_req q = {.venue = VENUE_BINANCE_SPOT, .symbol = "BTCUSDT", .side = SIDE_BUY,
                   .type = ORDER_LIMIT, .qty = D("0.003"), .price = D("61600")};
    return q;
}

static void test_table(void)
{
    /* the documented table, spelled out pair by pair */
    static const char *legal[] = {
        "PENDING_NEW>NEW", "PENDING_NEW>PARTIALLY_FILLED", "PENDING_NEW>FILLED",
        "PENDING_NEW>PENDING_CANCEL", "PENDING_NEW>CANCELED", "PENDING_NEW>REJECTED",
        "PENDING_NEW>EXPIRED", "PENDING_NEW>UNKNOWN", "NEW>PARTIALLY_FILLED", "NEW>FILLED",
        "NEW>PENDING_CANCEL", "NEW>CANCELED", "NEW>EXPIRED", "NEW>UNKNOWN",
        "PARTIALLY_FILLED>PARTIALLY_FILLED", "PARTIALLY_FILLED>FILLED",
        "PARTIALLY_FILLED>PENDING_CANCEL", "PARTIALLY_FILLED>CANCELED",
        "PARTIALLY_FILLED>EXPIRED", "PARTIALLY_FILLED>UNKNOWN", "PENDING_CANCEL>NEW",
        "PENDING_CANCEL>PARTIALLY_FILLED", "PENDING_CANCEL>FILLED", "PENDING_CANCEL>CANCELED",
        "PENDING_CANCEL>EXPIRED", "PENDING_CANCEL>UNKNOWN", "UNKNOWN>NEW",
        "UNKNOWN>PARTIALLY_FILLED", "UNKNOWN>FILLED", "UNKNOWN>PENDING_CANCEL",
        "UNKNOWN>CANCELED", "UNKNOWN>REJECTED", "UNKNOWN>EXPIRED",
    };
    int legal_seen = 0, wrong = 0;
    for (int a = 0; a < ORDER_STATUS_COUNT; a++)
        for (int b = 0; b < ORDER_STATUS_COUNT; b++) {
            char pair[64];
            snprintf(pair, sizeof pair, "%s>%s", order_status_name((enum order_status)a),
                     order_status_name((enum order_status)b));
            bool want = false;
            for (size_t i = 0; i < K_ARRAY_LEN(legal); i++)
                want |= !strcmp(legal[i], pair);
            bool got = order_transition_ok((enum order_status)a, (enum order_status)b);
            legal_seen += got;
            if (got != want) {
                wrong++;
                fprintf(stderr, "table: %s is %d\n", pair, got);
            }
        }
    CHECK_INT(wrong, 0);
    CHECK_INT(legal_seen, (int)K_ARRAY_LEN(legal));
    for (int s = 0; s < ORDER_STATUS_COUNT; s++) {
        enum order_status p;
        CHECK_INT(order_status_parse(order_status_name((enum order_status)s), &p), K_OK);
        CHECK_INT(p, s);
    }
    enum order_type t;
    CHECK_INT(order_type_parse("stop_limit", &t), K_OK);
    CHECK_INT(t, ORDER_STOP_LIMIT);
    CHECK_INT(order_type_parse("bogus", &t), K_ERR);
}

static void test_lifecycle(void)
{
    rec r = {0};
    order_mgr *m = order_mgr_new("k", 1733040000000ULL, 0);
    order_mgr_set_listener(m, on_note, &r);
    order_req q = limit_buy();
    const order *o;
    CHECK_INT(order_mgr_create(m, &q, 1000, &o), ORDER_OK);
    /* write-ahead: the PENDING_NEW record is reported before any broker sees the order */
    CHECK_INT(r.n, 1);
    CHECK_INT(r.to[0], ORDER_PENDING_NEW);
    CHECK_STR(r.first_id, o->client_id);
    char id[ORDER_ID_MAX];
    snprintf(id, sizeof id, "%s", o->client_id);
    /* illegal: PENDING_NEW -> PENDING_NEW; nothing changes, nothing reported */
    CHECK_INT(order_mgr_transition(m, id, ORDER_PENDING_NEW, NULL, 1001),
              ORDER_ERR_ILLEGAL_TRANSITION);
    CHECK_INT(r.n, 1);
    CHECK_INT(order_mgr_transition(m, id, ORDER_NEW, NULL, 1002), ORDER_OK);
    order_fill f = {.trade_id = 77, .time_ms = 1003, .px = D("61600"), .qty = D("0.001"),
                    .fee = D("0.0616"), .fee_asset = "USDT", .maker = true};
    CHECK_INT(order_mgr_fill(m, id, &f), ORDER_OK);
    CHECK_INT(o->status, ORDER_PARTIALLY_FILLED);
    /* the same trade id again (a reconnect replays it): ignored */
    CHECK_INT(order_mgr_fill(m, id, &f), ORDER_ERR_DUPLICATE_FILL);
    CHECK_INT(o->filled, D("0.001"));
    CHECK_INT(o->nfills, 1);
    CHECK_INT(r.fills, 1);
    /* overfill refused */
    f.trade_id = 78;
    f.qty = D("0.0021");
    CHECK_INT(order_mgr_fill(m, id, &f), ORDER_ERR_OVERFILL);
    /* cancel: PENDING_CANCEL, then CANCELED; a fill arriving after is applied, status stays */
    CHECK_INT(order_mgr_transition(m, id, ORDER_PENDING_CANCEL, NULL, 1004), ORDER_OK);
    CHECK_INT(order_mgr_transition(m, id, ORDER_CANCELED, NULL, 1005), ORDER_OK);
    f.qty = D("0.0005");
    f.px = D("61599.5");
    CHECK_INT(order_mgr_fill(m, id, &f), ORDER_OK);
    CHECK_INT(o->status, ORDER_CANCELED);
    CHECK(o->fill_after_cancel);
    CHECK_INT(o->filled, D("0.0015"));
    CHECK_INT(o->filled_quote, D("61.6") + D("30.79975"));
    CHECK_INT(order_avg_price(o), D("61599.83333333"));
    CHECK_INT(order_mgr_fill(m, id, &f), ORDER_ERR_DUPLICATE_FILL);
    /* terminal is terminal */
    CHECK_INT(order_mgr_transition(m, id, ORDER_NEW, NULL, 1006), ORDER_ERR_ILLEGAL_TRANSITION);
    CHECK_INT(order_mgr_transition(m, "nope", ORDER_NEW, NULL, 1006), ORDER_ERR_NOT_FOUND);
    /* reported: PN, PN>N, N>PF, PF>PC, PC>C */
    CHECK_INT(r.n, 5);
    CHECK_INT(r.from[2], ORDER_NEW);
    CHECK_INT(r.to[2], ORDER_PARTIALLY_FILLED);
    CHECK_INT(r.to[4], ORDER_CANCELED);
    CHECK_INT(order_mgr_open_count(m), 0);

    /* a second order filled in two parts through broker events */
    CHECK_INT(order_mgr_create(m, &q, 2000, &o), ORDER_OK);
    broker_event ev = {.kind = BROKER_EV_ACCEPTED, .time_ms = 2001};
    snprintf(ev.client_id, sizeof ev.client_id, "%s", o->client_id);
    CHECK_INT(broker_event_apply(m, &ev), ORDER_OK);
    CHECK_INT(o->status, ORDER_NEW);
    CHECK_INT(order_mgr_open_count(m), 1);
    CHECK_INT(order_mgr_amend(m, o->client_id, D("61500"), 0, 2002), ORDER_OK);
    CHECK_INT(o->req.price, D("61500"));
    ev.kind = BROKER_EV_FILL;
    ev.fill = (order_fill){.trade_id = 1, .time_ms = 2003, .px = D("61500"), .qty = D("0.002")};
    CHECK_INT(broker_event_apply(m, &ev), ORDER_OK);
    CHECK_INT(order_mgr_amend(m, o->client_id, 0, D("0.002"), 2004), ORDER_ERR_INVALID);
    ev.fill.trade_id = 2;
    ev.fill.qty = D("0.001");
    CHECK_INT(broker_event_apply(m, &ev), ORDER_OK);
    CHECK_INT(o->status, ORDER_FILLED);
    CHECK_INT(broker_event_apply(m, &ev), ORDER_ERR_DUPLICATE_FILL);
    ev.kind = BROKER_EV_CANCELED;
    CHECK_INT(broker_event_apply(m, &ev), ORDER_ERR_ILLEGAL_TRANSITION);
    /* invalid requests */
    order_req bad = q;
    bad.qty = 0;
    CHECK_INT(order_mgr_create(m, &bad, 3000, &o), ORDER_ERR_INVALID);
    bad = q;
    bad.type = ORDER_STOP_MARKET;
    CHECK_INT(order_mgr_create(m, &bad, 3000, &o), ORDER_ERR_INVALID); /* no stop */
    bad.post_only = true;
    bad.stop = D("1");
    CHECK_INT(order_mgr_create(m, &bad, 3000, &o), ORDER_ERR_INVALID); /* post-only stop */
    order_mgr_free(m);
}

static void test_client_ids(void)
{
    char id[ORDER_ID_MAX];
    CHECK_INT(order_client_id_make("k", 1733040000000ULL, 1, id, sizeof id), ORDER_OK);
    CHECK_INT(strlen(id), 1 + 8 + 1);
    CHECK(order_client_id_valid(id, VENUE_BINANCE_SPOT));
    CHECK(order_client_id_valid(id, VENUE_OKX));
    CHECK_INT(order_client_id_make("kestrel_", 1, 1, id, sizeof id), ORDER_ERR_BAD_ID);
    CHECK_INT(order_client_id_make("toolongpfx", 1, 1, id, sizeof id), ORDER_ERR_BAD_ID);
    CHECK_INT(order_client_id_make("k", 1, 0, id, sizeof id), ORDER_ERR_BAD_ID);
    /* the longest: 8-char prefix, the largest epoch, the largest seq: still <= 32 */
    CHECK_INT(order_client_id_make("ABCDEFGH", 2821109907455ULL, UINT64_MAX, id, sizeof id),
              ORDER_OK);
    CHECK(strlen(id) <= 32);
    CHECK(order_client_id_valid(id, VENUE_OKX));
    CHECK(order_client_id_valid("a-b_c", VENUE_BINANCE_USDM));
    CHECK(!order_client_id_valid("a-b_c", VENUE_OKX));
    CHECK(!order_client_id_valid("", VENUE_BINANCE_SPOT));
    CHECK(!order_client_id_valid("a b", VENUE_BINANCE_SPOT));
    CHECK(!order_client_id_valid("0123456789012345678901234567890123456", VENUE_BINANCE_SPOT));
    CHECK(order_client_id_valid("012345678901234567890123456789012345", VENUE_BINANCE_SPOT));
    CHECK(!order_client_id_valid("012345678901234567890123456789012", VENUE_OKX));

    /* a session, then a "restart" with a later epoch: no id of the first reappears */
    enum { N = 2000 };
    static char seen[2 * N][ORDER_ID_MAX];
    int n = 0;
    order_req q = limit_buy();
    uint64_t epochs[2] = {1733040000000ULL, 1733040000001ULL};
    for (int s = 0; s < 2; s++) {
        order_mgr *m = order_mgr_new("k", epochs[s], 100);
        for (int i = 0; i < N; i++) {
            const order *o;
            if (order_mgr_create(m, &q, i, &o) != ORDER_OK)
                break;
            snprintf(seen[n++], ORDER_ID_MAX, "%s", o->client_id);
            /* terminal so the bound of 100 drops them */
            order *w = order_mgr_find(m, o->client_id);
            CHECK_INT(order_mgr_transition(m, w->client_id, ORDER_REJECTED, "test", i), ORDER_OK);
        }
        CHECK(order_mgr_count(m) <= 100 && order_mgr_count(m) >= 75);
        order_mgr_free(m);
    }
    CHECK_INT(n, 2 * N);
    int dups = 0;
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++)
            dups += !strcmp(seen[i], seen[j]);
    CHECK_INT(dups, 0);

    /* the bound holds open orders: when all are open, create refuses */
    order_mgr *m = order_mgr_new("k", 5, 3);
    const order *o;
    for (int i = 0; i < 3; i++)
        CHECK_INT(order_mgr_create(m, &q, i, &o), ORDER_OK);
    CHECK_INT(order_mgr_create(m, &q, 4, &o), ORDER_ERR_FULL);
    order_mgr_free(m);
}

/* JSON: the fill contract fields, an order through order_json -> order_from_json -> restore,
 * and a restored order still ignores a trade id it had applied */
static void test_json(void)
{
    order_fill f = {.trade_id = 3782514932LL, .time_ms = 1723161599123LL, .px = D("61602.01"),
                    .qty = D("0.0015"), .fee = D("0.09240301"), .fee_asset = "USDT"};
    cJSON *j = order_fill_json("17", "k0lzk9a001", "BTCUSDT", SIDE_BUY, &f, 2, 5);
    char *s = cJSON_PrintUnformatted(j);
    CHECK_STR(s, "{\"id\":\"17\",\"order_id\":\"k0lzk9a001\",\"trade_id\":\"3782514932\","
                 "\"time\":1723161599123,\"symbol\":\"BTCUSDT\",\"side\":\"buy\","
                 "\"price\":\"61602.01\",\"qty\":\"0.00150\",\"fee\":\"0.09240301\","
                 "\"fee_asset\":\"USDT\",\"liquidity\":\"taker\"}");
    cJSON_free(s);
    cJSON_Delete(j);

    order_mgr *m = order_mgr_new("k", 1733040000000ULL, 0);
    order_req q = limit_buy();
    q.reduce_only = true;
    q.sl = D("60000");
    const order *o;
    CHECK_INT(order_mgr_create(m, &q, 1000, &o), ORDER_OK);
    CHECK_INT(order_mgr_transition(m, o->client_id, ORDER_NEW, NULL, 1001), ORDER_OK);
    f.qty = D("0.001");
    CHECK_INT(order_mgr_fill(m, o->client_id, &f), ORDER_OK);
    j = order_json(o);
    char *s1 = cJSON_PrintUnformatted(j);
    order back;
    CHECK_INT(order_from_json(j, &back), ORDER_OK);
    cJSON_Delete(j);
    j = order_json(&back);
    char *s2 = cJSON_PrintUnformatted(j);
    CHECK_STR(s2, s1);
    CHECK(strstr(s1, "\"status\":\"PARTIALLY_FILLED\"") != NULL);
    CHECK(strstr(s1, "\"trade_ids\":[\"3782514932\"]") != NULL);
    cJSON_free(s1);
    cJSON_free(s2);
    cJSON_Delete(j);
    /* restored into a new session (a later epoch): the old trade id is still known */
    order_mgr *m2 = order_mgr_new("k", 1733040000001ULL, 0);
    CHECK_INT(order_mgr_restore(m2, &back), ORDER_OK);
    CHECK_INT(order_mgr_restore(m2, &back), ORDER_ERR_BAD_ID);
    CHECK_INT(order_mgr_fill(m2, back.client_id, &f), ORDER_ERR_DUPLICATE_FILL);
    f.trade_id++;
    CHECK_INT(order_mgr_fill(m2, back.client_id, &f), ORDER_OK);
    CHECK_INT(order_mgr_find(m2, back.client_id)->filled, D("0.002"));
    const order *o2;
    CHECK_INT(order_mgr_create(m2, &q, 2000, &o2), ORDER_OK);
    CHECK(strcmp(o2->client_id, back.client_id) != 0);
    free(back.trade_ids);
    /* triggered (a stop-limit) and a venue's trim: reported once, persisted, restored */
    order_req sq = limit_buy();
    sq.type = ORDER_STOP_LIMIT;
    sq.stop = D("61700");
    CHECK_INT(order_mgr_create(m2, &sq, 3000, &o2), ORDER_OK);
    char sid[ORDER_ID_MAX];
    snprintf(sid, sizeof sid, "%s", o2->client_id);
    CHECK_INT(order_mgr_transition(m2, sid, ORDER_NEW, NULL, 3001), ORDER_OK);
    CHECK(!o2->triggered);
    CHECK_INT(order_mgr_triggered(m2, sid, 3002), ORDER_OK);
    CHECK(o2->triggered && o2->status == ORDER_NEW);
    CHECK_INT(order_mgr_triggered(m2, sid, 3003), ORDER_OK);
    CHECK_INT(o2->updated_ms, 3002); /* once */
    CHECK_INT(order_mgr_trim(m2, sid, o2->req.qty * 2, 3004), ORDER_OK); /* never raised */
    CHECK_INT(o2->req.qty, D("0.003"));
    CHECK_INT(order_mgr_trim(m2, sid, D("0.001"), 3005), ORDER_OK);
    CHECK_INT(o2->req.qty, D("0.001"));
    CHECK_INT(order_mgr_trim(m2, sid, 0, 3006), ORDER_ERR_INVALID);
    CHECK_INT(order_mgr_triggered(m2, "nosuch", 3007), ORDER_ERR_NOT_FOUND);
    j = order_json(o2);
    CHECK(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "triggered")));
    order tb;
    CHECK_INT(order_from_json(j, &tb), ORDER_OK);
    CHECK(tb.triggered && tb.req.qty == D("0.001"));
    cJSON_DeleteItemFromObjectCaseSensitive(j, "triggered"); /* a record from before */
    CHECK_INT(order_from_json(j, &tb), ORDER_OK);
    CHECK(!tb.triggered);
    cJSON_Delete(j);
    cJSON *bad = cJSON_Parse("{\"id\":\"x\"}");
    CHECK_INT(order_from_json(bad, &back), ORDER_ERR_INVALID);
    cJSON_Delete(bad);
    order_mgr_free(m2);
    order_mgr_free(m);
}

int main(void)
{
    test_json();
    test_table();
    test_lifecycle();
    test_client_ids();
    CHECK_DONE();
}
