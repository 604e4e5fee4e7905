/* Order path and paper fills. Prints JSON lines:
 *   order_path:  risk_check + instrument_check + order_mgr_create per order (the pure part of
 *                "signal -> acceptance"; the store's write-ahead commit is measured by the
 *                store's bench), on the bundled BTCUSDT filters and a portfolio of 4 positions:
 *                mean and p99 in us.
 *   paper_fills: the real spot BTCUSDT replay (08+09) at full speed through a book and the paper
 *                broker, with a resting order on every level of both sides of the book (up to
 *                200 a side) placed when it first syncs: fills per second, events per second. */
#include "kestrel/book.h"
#include "kestrel/paper.h"
#include "kestrel/risk.h"

#include <stdio.h>
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

typedef struct counter {
    uint64_t fills, events;
} counter;

static void on_event(void *ud, const broker_event *ev)
{
    counter *c = ud;
    c->events++;
    c->fills += ev->kind == BROKER_EV_FILL;
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
    c.max_orders = 100000;
    paper *p = paper_new(&c, NULL);
    counter cnt = {0};
    broker_set_listener(paper_broker(p), on_event, &cnt);
    paper_attach_book(p, VENUE_BINANCE_SPOT, "BTCUSDT", b);
    bool placed = false;
    uint64_t events = 0, resting = 0;
    int64_t t0 = now_ns();
    feed_event ev;
    while (stream_next(&s, &ev)) {
        int64_t t = ev.recv_ns / 1000000;
        paper_on_time(p, t);
        if (ev.kind == FEED_DEPTH_DIFF)
            (void)book_on_diff(b, &ev);
        else if (ev.kind == FEED_DEPTH_SNAPSHOT)
            (void)book_on_snapshot(b, &ev);
        else if (ev.kind == FEED_TRADE)
            paper_on_trade(p, &ev, t);
        events++;
        if (!placed && book_is_live(b)) {
            placed = true;
            for (int side = 0; side < 2; side++) {
                uint32_t n = K_MIN(book_depth(b, (enum book_side)side), 200u);
                for (uint32_t i = 0; i < n; i++) {
                    kdec px, q;
                    if (book_level(b, (enum book_side)side, i, &px, &q) != K_OK)
                        break;
                    order o = {.req = {.venue = VENUE_BINANCE_SPOT, .symbol = "BTCUSDT",
                                       .side = side == BOOK_BID ? SIDE_BUY : SIDE_SELL,
                                       .type = ORDER_LIMIT, .qty = D("0.001"), .price = px}};
                    snprintf(o.client_id, sizeof o.client_id, "p%d_%u", side, i);
                    if (broker_place(paper_broker(p), &o, t) == BROKER_OK)
                        resting++;
                }
            }
        }
    }
    int64_t dt = now_ns() - t0;
    printf("{\"bench\":\"paper_fills\",\"events\":%llu,\"resting_orders\":%llu,\"fills\":%llu,"
           "\"fills_per_s\":%.0f,\"events_per_s\":%.0f}\n",
           (unsigned long long)events, (unsigned long long)resting,
           (unsigned long long)cnt.fills, cnt.fills / (dt / 1e9), events / (dt / 1e9));
    paper_free(p);
    book_free(b);
    stream_close(&s);
    cap_cache_free();
}

int main(void)
{
    bench_order_path();
    bench_paper_fills();
    return 0;
}
