/* Order path and paper fills. Prints JSON lines:
 *   order_path:  risk_check + instrument_check + order_mgr_create per order (the pure part of
 *                "signal -> acceptance"), on the bundled BTCUSDT filters and a portfolio of 4
 *                positions: mean and p99 in us.
 *   order_path_commit: the whole path of one order as the app runs it (a signal's or a `ctl
 *                order`'s, after parsing): risk + precision, the order manager, the write-ahead
 *                record (order_json) through a real store's durable lane (SQLite, fsynced, in
 *                $KESTREL_BENCH_DIR or /tmp) until its confirmation, then the paper broker over
 *                the real BTCUSDT book (latency 0) until its ACCEPTED: each part's p50 / p99.
 *   paper_fills: the real spot BTCUSDT replay (08+09) at full speed through a book and the paper
 *                broker, keeping a resting order on every price level of the top 200 of both
 *                sides as the book moves (after every book update a level without one gets one;
 *                a filled order's level gets a new one at the back of the queue; orders the book
 *                left behind are canceled when a side holds 400): fills per second, events per
 *                second. */
#include "kestrel/book.h"
#include "kestrel/paper.h"
#include "kestrel/risk.h"
#include "kestrel/store.h"

#include <cjson/cJSON.h>
#include <poll.h>
#include <stdio.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static inline const char *check_shared_data(void)
{
    const char *e = getenv("KESTREL_SHARED_DATA");
    return e && *e ? e : "../shared/data";
}

#include "../tests/unit/capture_stream.h"

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static kdec D(const char *s)
{
    kdec v = 0;
    (void)decimal_parse(s, strlen(s), &v);
    return v;
}

static void bench_order_path(void)
{
    instruments *in = instruments_new();
    char err[200];
    size_t sk;
    if (instruments_load_file(in, VENUE_BINANCE_SPOT,
                              "data/instruments/binance-spot-exchangeinfo-2021-10-12.json", &sk,
                              err, sizeof err) != INSTR_OK) {
        fprintf(stderr, "%s\n", err);
        instruments_free(in);
        return;
    }
    const instrument *btc = instruments_find(in, VENUE_BINANCE_SPOT, "BTCUSDT");
    portfolio *pf = portfolio_new(D("10000"), "USDT", 0);
    portfolio_set_instruments(pf, in);
    const char *syms[] = {"AUSDT", "BUSDT", "CUSDT", "ETHUSDT"};
    for (int i = 0; i < 4; i++) {
        order_fill f = {.trade_id = i + 1, .px = D("100"), .qty = D("1"), .fee = D("0.1")};
        if (portfolio_on_fill(pf, VENUE_BINANCE_SPOT, syms[i], SIDE_BUY, &f) != PF_OK)
            return;
    }
    risk *rk = risk_new(NULL);
    enum { N = 200000 };
    order_mgr *m = order_mgr_new("b", 1733040000000ULL, 1000);
    int64_t *lat = malloc(N * sizeof *lat), *all = malloc(N * sizeof *all);
    int64_t rp_total = 0;
    int ok = 0;
    int64_t t0 = now_ns();
    for (int i = 0; i < N; i++) {
        int64_t a = now_ns();
        kdec px = D("61602.01") + (i % 97) * 37; /* off-tick prices: alignment does work */
        risk_order ro = {.venue = VENUE_BINANCE_SPOT, .symbol = "BTCUSDT", .asset = "BTC",
                         .side = SIDE_BUY, .qty = D("0.00162") + (i % 13), .price = px,
                         .stop = px - D("500"), .leverage = 1};
        risk_verdict v;
        instrument_checked c;
        char why[160];
        if (risk_check(rk, pf, &ro, 1723161600000LL, &v) == RISK_OK) {
            instrument_order io = {.side = SIDE_BUY, .qty = v.qty, .price = px,
                                   .ref_px = D("61602.01")};
            if (instrument_check(btc, &io, &c, why, sizeof why) == INSTR_OK) {
                order_req req = {.venue = VENUE_BINANCE_SPOT, .symbol = "BTCUSDT",
                                 .side = SIDE_BUY, .type = ORDER_LIMIT, .qty = c.qty,
                                 .price = c.price};
                rp_total += lat[i] = now_ns() - a;
                const order *o;
                if (order_mgr_create(m, &req, i, &o) == ORDER_OK) {
                    ok++;
                    /* terminal, so the bounded table recycles */
                    if (order_mgr_transition(m, o->client_id, ORDER_REJECTED, NULL, i))
                        ok--;
                }
            }
        }
        all[i] = now_ns() - a;
    }
    int64_t total = now_ns() - t0;
    qsort(lat, N, sizeof *lat, cmp_i64);
    qsort(all, N, sizeof *all, cmp_i64);
    printf("{\"bench\":\"order_path\",\"orders\":%d,\"accepted\":%d,"
           "\"risk_precision_us\":%.3f,\"risk_precision_p99_us\":%.3f,"
           "\"with_order_mgr_us\":%.3f,\"with_order_mgr_p99_us\":%.3f}\n",
           N, ok, rp_total / 1e3 / N, lat[N * 99 / 100] / 1e3, total / 1e3 / N,
           all[N * 99 / 100] / 1e3);
    free(lat);
    free(all);
    order_mgr_free(m);
    risk_free(rk);
    portfolio_free(pf);
    instruments_free(in);
}

/* ---- paper fills with resting orders on every level as the book moves ----
 * Our resting orders, keyed by (side, price): an open-addressing table (linear probing,
 * backward-shift deletion) so the refill after every book update is a lookup per level. */
enum { RS_SLOTS = 4096, RS_LEVELS = 200, RS_MAX_SIDE = 400 };

typedef struct rs_slot {
    kdec px;     /* 0 = empty */
    int side;
    kdec filled;
} rs_slot;

typedef struct resting {
    rs_slot slot[RS_SLOTS];
    uint32_t n[2];
    uint64_t fills, events, placed, canceled;
    kdec qty;
} resting;

static uint32_t rs_hash(kdec px, int side)
{
    uint64_t h = (uint64_t)px * 0x9E3779B97F4A7C15ull ^ (uint64_t)side;
    return (uint32_t)(h >> 40) & (RS_SLOTS - 1);
}

static rs_slot *rs_find(resting *r, kdec px, int side)
{
    for (uint32_t i = rs_hash(px, side);; i = (i + 1) & (RS_SLOTS - 1)) {
        rs_slot *e = &r->slot[i];
        if (e->px == 0 || (e->px == px && e->side == side))
            return e;
    }
}

static void rs_del(resting *r, rs_slot *e)
{
    r->n[e->side]--;
    uint32_t i = (uint32_t)(e - r->slot);
    for (uint32_t j = (i + 1) & (RS_SLOTS - 1); r->slot[j].px; j = (j + 1) & (RS_SLOTS - 1)) {
        uint32_t h = rs_hash(r->slot[j].px, r->slot[j].side);
        /* move j back into the hole i when its home is not in (i, j] */
        if ((j > i && (h <= i || h > j)) || (j < i && h <= i && h > j)) {
            r->slot[i] = r->slot[j];
            i = j;
        }
    }
    r->slot[i].px = 0;
}

/* the client id carries side and price: "r<side>_<price in 1e-8>" */
static bool rs_parse(const char *id, int *side, kdec *px)
{
    if (id[0] != 'r' || (id[1] != '0' && id[1] != '1') || id[2] != '_')
        return false;
    *side = id[1] - '0';
    *px = strtoll(id + 3, NULL, 10);
    return *px > 0;
}

static void on_event(void *ud, const broker_event *ev)
{
    resting *r = ud;
    r->events++;
    int side;
    kdec px;
    if (!rs_parse(ev->client_id, &side, &px))
        return;
    rs_slot *e = rs_find(r, px, side);
    if (!e->px)
        return;
    if (ev->kind == BROKER_EV_FILL) {
        r->fills++;
        e->filled += ev->fill.qty;
        if (e->filled >= r->qty)
            rs_del(r, e);
    } else if (ev->kind == BROKER_EV_CANCELED || ev->kind == BROKER_EV_EXPIRED ||
               ev->kind == BROKER_EV_REJECTED) {
        rs_del(r, e);
    }
}

/* an order on every one of the top RS_LEVELS levels of both sides that has none; orders that
 * fell behind the window (the book moved away) are canceled when a side holds RS_MAX_SIDE */
static void rs_refill(resting *r, paper *p, const book *b, int64_t t)
{
    for (int side = 0; side < 2; side++) {
        uint32_t n = K_MIN(book_depth(b, (enum book_side)side), (uint32_t)RS_LEVELS);
        kdec edge = 0, q;
        for (uint32_t i = 0; i < n; i++) {
            kdec px;
            if (book_level(b, (enum book_side)side, i, &px, &q) != K_OK)
                break;
            edge = px;
            rs_slot *e = rs_find(r, px, side);
            if (e->px)
                continue;
            order o = {.req = {.venue = VENUE_BINANCE_SPOT, .symbol = "BTCUSDT",
                               .side = side == BOOK_BID ? SIDE_BUY : SIDE_SELL,
                               .type = ORDER_LIMIT, .qty = r->qty, .price = px}};
            snprintf(o.client_id, sizeof o.client_id, "r%d_%lld", side, (long long)px);
            *e = (rs_slot){.px = px, .side = side};
            r->n[side]++;
            r->placed++;
            if (broker_place(paper_broker(p), &o, t) != BROKER_OK)
                rs_del(r, e);
        }
        if (r->n[side] < RS_MAX_SIDE || edge == 0)
            continue;
        kdec gone[RS_SLOTS];
        uint32_t ng = 0;
        for (uint32_t i = 0; i < RS_SLOTS; i++) {
            const rs_slot *e = &r->slot[i];
            if (e->px && e->side == side && (side == BOOK_BID ? e->px < edge : e->px > edge))
                gone[ng++] = e->px;
        }
        for (uint32_t i = 0; i < ng; i++) { /* latency 0: CANCELED comes at once (rs_del) */
            char id[ORDER_ID_MAX];
            snprintf(id, sizeof id, "r%d_%lld", side, (long long)gone[i]);
            if (broker_cancel(paper_broker(p), id, t) == BROKER_OK)
                r->canceled++;
            rs_slot *e = rs_find(r, gone[i], side);
            if (e->px) /* no longer cancelable (already final): forget it */
                rs_del(r, e);
        }
    }
}

static void bench_paper_fills(void)
{
    cap_stream s;
    stream_init(&s, VENUE_BINANCE_SPOT, "BTCUSDT", SPOT_BTC_08, SPOT_BTC_09);
    if (s.errors) {
        fprintf(stderr, "paper_fills: capture not readable\n");
        return;
    }
    book *b = book_new(BOOK_RULES_BINANCE_SPOT, 5000, 4096);
    paper_config c;
    paper_config_default(&c);
    c.latency_ms = c.report_latency_ms = 0;
    (void)paper_config_balance(&c, "USDT", D("90000000000"));
    (void)paper_config_balance(&c, "BTC", D("100000"));
    c.max_orders = 4 * RS_MAX_SIDE; /* terminal orders are dropped at the bound */
    paper *p = paper_new(&c, NULL);
    resting *r = calloc(1, sizeof *r);
    r->qty = D("0.001");
    broker_set_listener(paper_broker(p), on_event, r);
    paper_attach_book(p, VENUE_BINANCE_SPOT, "BTCUSDT", b);
    uint64_t events = 0, refills = 0, most = 0;
    int64_t t0 = now_ns();
    feed_event ev;
    while (stream_next(&s, &ev)) {
        int64_t t = ev.recv_ns / 1000000;
        paper_on_time(p, t);
        bool depth = false;
        if (ev.kind == FEED_DEPTH_DIFF)
            depth = book_on_diff(b, &ev) == K_OK;
        else if (ev.kind == FEED_DEPTH_SNAPSHOT)
            depth = book_on_snapshot(b, &ev) == K_OK;
        else if (ev.kind == FEED_TRADE)
            paper_on_trade(p, &ev, t);
        events++;
        if (depth && book_is_live(b)) { /* the book moved: every level has its order again */
            rs_refill(r, p, b, t);
            refills++;
            most = K_MAX(most, (uint64_t)(r->n[0] + r->n[1]));
        }
    }
    int64_t dt = now_ns() - t0;
    printf("{\"bench\":\"paper_fills\",\"events\":%llu,\"book_updates\":%llu,"
           "\"orders_placed\":%llu,\"orders_canceled\":%llu,\"resting_max\":%llu,"
           "\"fills\":%llu,\"fills_per_s\":%.0f,\"events_per_s\":%.0f}\n",
           (unsigned long long)events, (unsigned long long)refills,
           (unsigned long long)r->placed, (unsigned long long)r->canceled,
           (unsigned long long)most, (unsigned long long)r->fills, r->fills / (dt / 1e9),
           events / (dt / 1e9));
    free(r);
    paper_free(p);
    book_free(b);
    stream_close(&s);
    cap_cache_free();
}

typedef struct commit_ctx {
    order_mgr *m;
    int acked, accepted;
} commit_ctx;

static void commit_on_durable(void *ud, uint64_t id, enum store_result rc)
{
    (void)id;
    commit_ctx *c = ud;
    c->acked += rc == STORE_OK ? 1 : 1000000;
}

static void commit_on_event(void *ud, const broker_event *ev)
{
    commit_ctx *c = ud;
    if (broker_event_apply(c->m, ev) == ORDER_OK && ev->kind == BROKER_EV_ACCEPTED)
        c->accepted++;
}

static double pct_us(int64_t *v, int n, int pct)
{
    qsort(v, (size_t)n, sizeof *v, cmp_i64);
    return v[(int64_t)n * pct / 100 - (pct == 100)] / 1e3;
}

static void bench_order_commit(void)
{
    instruments *in = instruments_new();
    char err[512];
    size_t sk;
    if (instruments_load_file(in, VENUE_BINANCE_SPOT,
                              "data/instruments/binance-spot-exchangeinfo-2021-10-12.json", &sk,
                              err, sizeof err) != INSTR_OK) {
        fprintf(stderr, "%s\n", err);
        instruments_free(in);
        return;
    }
    const instrument *btc = instruments_find(in, VENUE_BINANCE_SPOT, "BTCUSDT");
    /* the real book, live */
    cap_stream cs;
    stream_init(&cs, VENUE_BINANCE_SPOT, "BTCUSDT", SPOT_BTC_08, SPOT_BTC_09);
    book *b = book_new(BOOK_RULES_BINANCE_SPOT, 5000, 4096);
    feed_event ev;
    int64_t t = 0;
    while (!book_is_live(b) && stream_next(&cs, &ev)) {
        t = ev.recv_ns / 1000000;
        if (ev.kind == FEED_DEPTH_DIFF)
            (void)book_on_diff(b, &ev);
        else if (ev.kind == FEED_DEPTH_SNAPSHOT)
            (void)book_on_snapshot(b, &ev);
    }
    kdec bid, bq, ask, aq;
    if (!book_best(b, &bid, &bq, &ask, &aq)) {
        fprintf(stderr, "order_path_commit: the book never synced\n");
        return;
    }
    char db[600];
    const char *dir = getenv("KESTREL_BENCH_DIR");
    snprintf(db, sizeof db, "%s/kestrel-bench-order-%ld/bench.db", dir && *dir ? dir : "/tmp",
             (long)getpid());
    store *st = NULL;
    if (store_open(&st, db, NULL, err, sizeof err) != K_OK) {
        fprintf(stderr, "order_path_commit: %s\n", err);
        return;
    }
    paper_config c;
    paper_config_default(&c);
    c.latency_ms = c.report_latency_ms = 0;
    (void)paper_config_balance(&c, "USDT", D("1000000000"));
    paper *p = paper_new(&c, in);
    paper_attach_book(p, VENUE_BINANCE_SPOT, "BTCUSDT", b);
    portfolio *pf = portfolio_new(D("1000000000"), "USDT", 0);
    portfolio_set_instruments(pf, in);
    risk *rk = risk_new(NULL);
    commit_ctx cx = {.m = order_mgr_new("b", 1733040000000ULL, 4000)};
    broker_set_listener(paper_broker(p), commit_on_event, &cx);
    enum { N = 1000 };
    static int64_t rp[N], cm[N], ac[N], tot[N];
    int ok = 0;
    for (int i = 0; i < N; i++) {
        int64_t a = now_ns();
        kdec px = bid - (i % 50) * D("0.01") - D("0.003"); /* rests: off-tick, rounded down */
        risk_order ro = {.venue = VENUE_BINANCE_SPOT, .symbol = "BTCUSDT", .asset = "BTC",
                         .side = SIDE_BUY, .qty = D("0.00162"), .price = px,
                         .stop = px - D("500"), .leverage = 1};
        risk_verdict v;
        instrument_checked ck;
        char why[160];
        if (risk_check(rk, pf, &ro, t, &v) != RISK_OK)
            break;
        instrument_order io = {.side = SIDE_BUY, .qty = v.qty, .price = px, .ref_px = bid};
        if (instrument_check(btc, &io, &ck, why, sizeof why) != INSTR_OK) {
            fprintf(stderr, "order_path_commit: %s\n", why);
            break;
        }
        int64_t a1 = now_ns();
        order_req req = {.venue = VENUE_BINANCE_SPOT, .symbol = "BTCUSDT", .side = SIDE_BUY,
                         .type = ORDER_LIMIT, .qty = ck.qty, .price = ck.price};
        const order *o;
        if (order_mgr_create(cx.m, &req, t, &o) != ORDER_OK)
            break;
        cJSON *j = order_json(o);
        char *txt = cJSON_PrintUnformatted(j);
        cJSON_Delete(j);
        store_record rec = {.kind = "order", .key = o->client_id, .payload = txt,
                            .len = strlen(txt), .time_ms = t};
        int want = cx.acked + 1;
        enum store_result sr = store_durable_put(st, &rec, commit_on_durable, &cx, NULL);
        cJSON_free(txt);
        if (sr != STORE_OK)
            break;
        while (cx.acked < want) {
            struct pollfd pfd = {.fd = store_fd(st), .events = POLLIN};
            if (poll(&pfd, 1, 1000) > 0)
                store_process(st);
        }
        if (cx.acked != want)
            break; /* the commit failed */
        int64_t a2 = now_ns();
        int acc = cx.accepted;
        if (broker_place(paper_broker(p), o, t) != BROKER_OK || cx.accepted != acc + 1)
            break;
        int64_t a3 = now_ns();
        rp[ok] = a1 - a;
        cm[ok] = a2 - a1;
        ac[ok] = a3 - a2;
        tot[ok] = a3 - a;
        ok++;
        /* cancel it (latency 0: at once), so the resting set stays small */
        if (broker_cancel(paper_broker(p), o->client_id, t) != BROKER_OK)
            break;
    }
    if (ok == N)
        printf("{\"bench\":\"order_path_commit\",\"orders\":%d,"
               "\"risk_precision_p50_us\":%.2f,\"risk_precision_p99_us\":%.2f,"
               "\"durable_commit_p50_us\":%.0f,\"durable_commit_p99_us\":%.0f,"
               "\"durable_commit_max_us\":%.0f,\"paper_accept_p50_us\":%.2f,"
               "\"paper_accept_p99_us\":%.2f,\"total_p50_us\":%.0f,\"total_p99_us\":%.0f}\n",
               N, pct_us(rp, N, 50), pct_us(rp, N, 99), pct_us(cm, N, 50), pct_us(cm, N, 99),
               pct_us(cm, N, 100), pct_us(ac, N, 50), pct_us(ac, N, 99), pct_us(tot, N, 50),
               pct_us(tot, N, 99));
    else
        fprintf(stderr, "order_path_commit: stopped after %d orders\n", ok);
    store_close(st);
    const char *sfx[] = {"", "-wal", "-shm", ".lock"};
    for (int i = 0; i < 4; i++) {
        char f[620];
        snprintf(f, sizeof f, "%s%s", db, sfx[i]);
        unlink(f);
    }
    *strrchr(db, '/') = '\0';
    rmdir(db);
    order_mgr_free(cx.m);
    risk_free(rk);
    portfolio_free(pf);
    paper_free(p);
    book_free(b);
    stream_close(&cs);
    instruments_free(in);
}

int main(void)
{
    bench_order_path();
    bench_order_commit();
    bench_paper_fills();
    return 0;
}
