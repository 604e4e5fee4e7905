/* portfolio: the accounting mechanics on hand-computed numbers (round trip with fees, partial
 * close, flip, short, funding, liquidation, statistics), then the paper broker on the real
 * spot captures feeding it: the realised P&L equals the broker's cash change to the last unit,
 * equity equals the wallet valued at the mark, the replay's UTC midnight splits the days, dust
 * from the bundled filters, and the JSON form restores the state identically. */
#include "check.h"

#include "capture_stream.h"
#include "kestrel/paper.h"
#include "kestrel/portfolio.h"

#include <cJSON.h>

static kdec D(const char *s)
{
    kdec v = 0;
    if (decimal_parse(s, strlen(s), &v) != K_OK)
        fprintf(stderr, "bad decimal %s\n", s);
    return v;
}

static order_fill F(int64_t id, const char *px, const char *qty, const char *fee, int64_t t)
{
    order_fill f = {.trade_id = id, .time_ms = t, .px = D(px), .qty = D(qty), .fee = D(fee),
                    .fee_asset = "USDT"};
    return f;
}

#define SPOT VENUE_BINANCE_SPOT
#define USDM VENUE_BINANCE_USDM

static void test_mechanics(void)
{
    portfolio *pf = portfolio_new(D("10000"), "USDT", 100);
    order_fill f = F(1, "61602.01", "0.01", "0.6160201", 1000);
    CHECK_INT(portfolio_on_fill(pf, SPOT, "BTCUSDT", SIDE_BUY, &f), PF_OK);
    const pf_position *p = portfolio_position(pf, SPOT, "BTCUSDT");
    CHECK_INT(p->qty, D("0.01"));
    CHECK_INT(p->entry, D("61602.01"));
    CHECK_INT(p->realised_pnl, -D("0.6160201"));
    portfolio_mark(pf, SPOT, "BTCUSDT", D("61700"));
    CHECK_INT(p->upnl, D("0.9799"));
    pf_summary s;
    portfolio_summary(pf, &s);
    CHECK_INT(s.equity, D("10000") + D("0.9799") - D("0.6160201"));
    CHECK_INT(s.cash, D("10000") - D("616.0201") - D("0.6160201"));
    CHECK_INT(s.exposure, D("617"));
    CHECK_INT(s.open_positions, 1);
    /* add at a second price: the average entry is exact */
    f = F(2, "61500", "0.02", "1.23", 2000);
    CHECK_INT(portfolio_on_fill(pf, SPOT, "BTCUSDT", SIDE_BUY, &f), PF_OK);
    CHECK_INT(p->entry, D("61534.00333333")); /* (616.0201 + 1230) / 0.03 */
    /* close 0.01, then 0.02 */
    f = F(3, "61700", "0.01", "0.617", 3000);
    CHECK_INT(portfolio_on_fill(pf, SPOT, "BTCUSDT", SIDE_SELL, &f), PF_OK);
    /* removed cost = 1846.0201 * 0.01 / 0.03 = 615.34003333 (truncated) */
    CHECK_INT(p->qty, D("0.02"));
    f = F(4, "61400", "0.02", "1.228", 4000);
    CHECK_INT(portfolio_on_fill(pf, SPOT, "BTCUSDT", SIDE_SELL, &f), PF_OK);
    CHECK_INT(p->qty, 0);
    /* gross = 617 + 1228 - 1846.0201 = -1.0201; fees 0.6160201 + 1.23 + 0.617 + 1.228 */
    kdec fees = D("0.6160201") + D("1.23") + D("0.617") + D("1.228");
    portfolio_summary(pf, &s);
    CHECK_INT(s.realised_pnl, -D("1.0201") - fees);
    CHECK_INT(s.fees, fees);
    CHECK_INT(s.equity, D("10000") - D("1.0201") - fees);
    CHECK_INT(s.cash, s.equity);
    CHECK_INT(s.open_positions, 0);
    CHECK_INT(portfolio_trade_count(pf), 1);
    const pf_trade *t = portfolio_trade_at(pf, 0);
    CHECK_INT(t->side, SIDE_BUY);
    CHECK_INT(t->qty, D("0.03"));
    CHECK_INT(t->entry, D("61534.00333333"));
    CHECK_INT(t->exit, D("61500"));
    CHECK_INT(t->pnl, -D("1.0201") - fees);
    CHECK_INT(t->opened_ms, 1000);
    CHECK_INT(t->closed_ms, 4000);

    /* USD-M: a short, funding received, a flip to long in one fill (fee split pro rata) */
    f = F(5, "60000", "0.1", "3", 5000);
    CHECK_INT(portfolio_on_fill(pf, USDM, "BTCUSDT", SIDE_SELL, &f), PF_OK);
    portfolio_on_funding(pf, USDM, "BTCUSDT", D("0.6"), 6000);
    f = F(6, "59000", "0.3", "9", 7000);
    CHECK_INT(portfolio_on_fill(pf, USDM, "BTCUSDT", SIDE_BUY, &f), PF_OK);
    p = portfolio_position(pf, USDM, "BTCUSDT");
    CHECK_INT(p->qty, D("0.2"));
    CHECK_INT(p->entry, D("59000"));
    CHECK_INT(p->realised_pnl, -D("6")); /* the new trip carries its share of the fee */
    CHECK_INT(portfolio_trade_count(pf), 2);
    t = portfolio_trade_at(pf, 1);
    CHECK_INT(t->side, SIDE_SELL);
    CHECK_INT(t->pnl, D("100") - D("3") - D("3") + D("0.6")); /* gross 0.1*(60000-59000) */
    CHECK_INT(t->funding, -D("0.6"));
    /* liquidation: the wallet change closes the trip */
    portfolio_on_liquidation(pf, USDM, "BTCUSDT", -D("1180"), 8000);
    CHECK_INT(p->qty, 0);
    CHECK_INT(portfolio_trade_count(pf), 3);
    CHECK_INT(portfolio_trade_at(pf, 2)->pnl, -D("1180") - D("6"));

    pf_stats st;
    portfolio_stats(pf, &st);
    CHECK_INT(st.trades, 3);
    CHECK_INT(st.wins, 1);
    CHECK_INT(st.losses, 2);
    CHECK_NEAR(st.win_rate, 1.0 / 3, 1e-12);
    kdec w = D("94.6"), l1 = -D("1.0201") - fees, l2 = -D("1186");
    CHECK_INT(st.avg_win, w);
    CHECK_INT(st.avg_loss, (l1 + l2) / 2);
    CHECK_INT(st.expectancy, (w + l1 + l2) / 3);
    CHECK_NEAR(st.profit_factor, (double)w / (double)-(l1 + l2), 1e-12);
    CHECK_NEAR(st.payoff, (double)w / (double)-((l1 + l2) / 2), 1e-12);
    CHECK(portfolio_on_fill(pf, SPOT, "X", SIDE_BUY, &(order_fill){.qty = 0, .px = 1}) ==
          PF_ERR_INVALID);
    portfolio_free(pf);
}

static void test_days_drawdown_sharpe(void)
{
    portfolio *pf = portfolio_new(D("1000"), "USDT", 3);
    int64_t day = 86400000LL;
    int64_t t0 = 19943 * day; /* 2024-08-08 */
    order_fill f = F(1, "100", "5", "0", t0);
    CHECK_INT(portfolio_on_fill(pf, SPOT, "ABCUSDT", SIDE_BUY, &f), PF_OK);
    portfolio_sample(pf, t0 + 1);
    portfolio_mark(pf, SPOT, "ABCUSDT", D("120")); /* +100 */
    portfolio_sample(pf, t0 + 2);
    portfolio_mark(pf, SPOT, "ABCUSDT", D("90")); /* -50 from the start, -150 from the peak */
    portfolio_sample(pf, t0 + day); /* the next UTC day */
    pf_summary s;
    portfolio_summary(pf, &s);
    CHECK_INT(s.peak_equity, D("1100"));
    CHECK_INT(s.equity, D("950"));
    CHECK_INT(s.drawdown_pct, D("13.63636363")); /* 150 / 1100 */
    CHECK_INT(s.day_start_equity, D("1100"));
    CHECK_INT(s.day_pnl, -D("150"));
    CHECK_INT(portfolio_day_count(pf), 2);
    CHECK_INT(portfolio_day_at(pf, 0)->end_equity, D("1100"));
    portfolio_mark(pf, SPOT, "ABCUSDT", D("110"));
    portfolio_sample(pf, t0 + 2 * day);
    /* the ring keeps the latest 3 points */
    CHECK_INT(portfolio_point_count(pf), 3);
    CHECK_INT(portfolio_point_at(pf, 0)->time_ms, t0 + 2);
    CHECK_INT(portfolio_point_at(pf, 2)->equity, D("1050"));
    pf_stats st;
    portfolio_stats(pf, &st);
    CHECK_INT(st.days, 3);
    double r[3] = {0.1, -150.0 / 1100, 100.0 / 950};
    double m = (r[0] + r[1] + r[2]) / 3, v = 0;
    for (int i = 0; i < 3; i++)
        v += (r[i] - m) * (r[i] - m);
    v /= 2;
    CHECK_NEAR(st.sharpe, m / sqrt(v) * sqrt(365.0), 1e-12);
    CHECK_INT(st.trades, 0);
    portfolio_free(pf);
}

typedef struct pf_link {
    portfolio *pf;
    int fills;
} pf_link;

static void on_event(void *ud, const broker_event *ev)
{
    pf_link *l = ud;
    if (ev->kind == BROKER_EV_FILL) {
        l->fills++;
        CHECK_INT(portfolio_on_fill(l->pf, ev->venue, ev->symbol, ev->side, &ev->fill), PF_OK);
    } else if (ev->kind == BROKER_EV_FUNDING) {
        portfolio_on_funding(l->pf, ev->venue, ev->symbol, ev->amount, ev->time_ms);
    }
}

/* the paper broker on the real BTCUSDT replay across midnight, a buy at 23:56, a partial sell
 * at 23:59, the rest at 00:03, marks on every trade */
static void test_real_replay(void)
{
    instruments *in = instruments_new();
    char err[200];
    size_t sk;
    CHECK_INT(instruments_load_file(in, SPOT,
                                    "data/instruments/binance-spot-exchangeinfo-2021-10-12.json",
                                    &sk, err, sizeof err),
              INSTR_OK);
    cap_stream s;
    stream_init(&s, SPOT, "BTCUSDT", SPOT_BTC_08, SPOT_BTC_09);
    book *b = book_new(BOOK_RULES_BINANCE_SPOT, 5000, 4096);
    paper_config c;
    paper_config_default(&c); /* 50 ms both ways, 0.1% fees */
    paper *p = paper_new(&c, in);
    pf_link l = {.pf = portfolio_new(D("10000"), "USDT", 0)};
    portfolio_set_instruments(l.pf, in);
    broker_set_listener(paper_broker(p), on_event, &l);
    paper_attach_book(p, SPOT, "BTCUSDT", b);
    const int64_t midnight = 1723161600000LL; /* 2024-08-09 00:00 UTC */
    int64_t at[3] = {midnight - 240000, midnight - 60000, midnight + 180000};
    kdec qty[3] = {D("0.05"), D("0.02"), D("0.03")};
    enum side side[3] = {SIDE_BUY, SIDE_SELL, SIDE_SELL};
    int next = 0, equity_checks = 0, equity_bad = 0;
    feed_event ev;
    int64_t now = 0, last_sample = 0;
    kdec last_px = 0;
    while (stream_next(&s, &ev)) {
        now = ev.recv_ns / 1000000;
        paper_on_time(p, now);
        if (ev.kind == FEED_DEPTH_DIFF)
            (void)book_on_diff(b, &ev);
        else if (ev.kind == FEED_DEPTH_SNAPSHOT)
            (void)book_on_snapshot(b, &ev);
        else if (ev.kind == FEED_TRADE) {
            paper_on_trade(p, &ev, now);
            last_px = ev.u.trade.px;
            portfolio_mark(l.pf, SPOT, "BTCUSDT", last_px);
            if (now - last_sample >= 1000) {
                portfolio_sample(l.pf, now);
                last_sample = now;
            }
            /* equity == USDT + BTC valued at the mark, exactly, whenever nothing is in flight */
            if (paper_in_flight(p) == 0) {
                pf_summary sm;
                portfolio_summary(l.pf, &sm);
                kdec btc = paper_balance(p, "BTC", NULL);
                kdec wallet = paper_balance(p, "USDT", NULL) +
                              (kdec)((__int128)btc * last_px / KDEC_SCALE);
                equity_checks++;
                equity_bad += wallet != sm.equity;
            }
        }
        if (next < 3 && now >= at[next] && book_is_live(b)) {
            order o = {.req = {.venue = SPOT, .symbol = "BTCUSDT", .side = side[next],
                               .type = ORDER_MARKET, .qty = qty[next]}};
            snprintf(o.client_id, sizeof o.client_id, "R%d", next);
            CHECK_INT(broker_place(paper_broker(p), &o, now), BROKER_OK);
            next++;
        }
    }
    paper_on_time(p, now + 1000);
    CHECK_INT(next, 3);
    CHECK(l.fills >= 3);
    CHECK(equity_checks > 10000);
    CHECK_INT(equity_bad, 0);
    pf_summary sm;
    portfolio_summary(l.pf, &sm);
    CHECK_INT(paper_balance(p, "BTC", NULL), 0);
    /* flat: realised (net of every fee) is exactly the broker's cash change */
    CHECK_INT(sm.realised_pnl, paper_balance(p, "USDT", NULL) - D("10000"));
    CHECK_INT(sm.equity, paper_balance(p, "USDT", NULL));
    CHECK(sm.fees > 0);
    CHECK_INT(portfolio_trade_count(l.pf), 1);
    CHECK_INT(portfolio_trade_at(l.pf, 0)->pnl, sm.realised_pnl);
    CHECK_INT(portfolio_day_count(l.pf), 2); /* 08-08 and 08-09 */
    CHECK_INT(portfolio_day_at(l.pf, 1)->day, midnight / 86400000LL);
    CHECK_INT(portfolio_day_at(l.pf, 1)->start_equity, portfolio_day_at(l.pf, 0)->end_equity);
    fprintf(stderr, "replay round trip: pnl %lld (fees %lld), %d fills\n",
            (long long)sm.realised_pnl, (long long)sm.fees, l.fills);

    /* dust: a remainder of 0.0001 BTC (6.16 USDT < minNotional 10) is not an open position */
    order_fill f = F(99, "61602.01", "0.0001", "0", now);
    CHECK_INT(portfolio_on_fill(l.pf, SPOT, "BTCUSDT", SIDE_BUY, &f), PF_OK);
    portfolio_mark(l.pf, SPOT, "BTCUSDT", D("61602.01"));
    const pf_position *pos = portfolio_position(l.pf, SPOT, "BTCUSDT");
    CHECK(pos->dust);
    portfolio_summary(l.pf, &sm);
    CHECK_INT(sm.open_positions, 0);
    f.qty = D("0.0002");
    f.trade_id = 100;
    CHECK_INT(portfolio_on_fill(l.pf, SPOT, "BTCUSDT", SIDE_BUY, &f), PF_OK);
    CHECK(!pos->dust);
    portfolio_summary(l.pf, &sm);
    CHECK_INT(sm.open_positions, 1);
    CHECK_INT(portfolio_exposure_asset(l.pf, "BTC"), D("18.480603"));
    CHECK_INT(portfolio_exposure_symbol(l.pf, SPOT, "BTCUSDT"), D("18.480603"));

    /* the control socket's field names (a contract) */
    cJSON *pj = portfolio_position_json(pos, instruments_find(in, SPOT, "BTCUSDT"));
    char *ps = cJSON_PrintUnformatted(pj);
    char want[400];
    snprintf(want, sizeof want,
             "{\"venue\":\"binance-spot\",\"symbol\":\"BTCUSDT\",\"side\":\"long\","
             "\"qty\":\"0.00030\",\"entry\":\"61602.01\",\"mark\":\"61602.01\","
             "\"upnl\":\"0\",\"realised_pnl\":\"0\",\"sl\":\"0.00\",\"tp\":\"0.00\","
             "\"opened\":%lld,\"dust\":false}",
             (long long)now);
    CHECK_STR(ps, want);
    cJSON_free(ps);
    cJSON_Delete(pj);
    pj = portfolio_summary_json(&sm);
    const char *fields[] = {"equity", "cash", "realised_pnl", "unrealised_pnl", "fees",
                            "funding", "day_pnl", "peak_equity", "drawdown"};
    for (size_t i = 0; i < K_ARRAY_LEN(fields); i++)
        CHECK(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(pj, fields[i])));
    cJSON_Delete(pj);
    pf_stats pst;
    portfolio_stats(l.pf, &pst);
    pj = portfolio_stats_json(&pst);
    CHECK_INT(cJSON_GetObjectItemCaseSensitive(pj, "trades")->valueint, 1);
    cJSON_Delete(pj);

    /* serialise, restore, serialise: identical; the summary and the stats too */
    char *j1 = portfolio_to_json(l.pf);
    enum portfolio_result pr;
    portfolio *back = portfolio_from_json(j1, &pr);
    CHECK_INT(pr, PF_OK);
    CHECK(back != NULL);
    if (back) {
        portfolio_set_instruments(back, in);
        char *j2 = portfolio_to_json(back);
        CHECK_STR(j2, j1);
        pf_summary s2;
        portfolio_summary(back, &s2);
        CHECK(memcmp(&s2, &sm, sizeof sm) == 0);
        pf_stats a, z;
        portfolio_stats(l.pf, &a);
        portfolio_stats(back, &z);
        CHECK(memcmp(&a, &z, sizeof a) == 0);
        CHECK_INT(portfolio_position(back, SPOT, "BTCUSDT")->entry, pos->entry);
        free(j2);
        portfolio_free(back);
    }
    /* a kdec stored as a string: a JSON number in its place is refused */
    CHECK(strstr(j1, "\"start_cash\":\"10000\"") != NULL);
    char *bad = strdup(j1);
    char *q = strstr(bad, "\"start_cash\":\"10000\"");
    memcpy(q, "\"start_cash\":  10000 ", 21);
    CHECK(portfolio_from_json(bad, &pr) == NULL);
    CHECK_INT(pr, PF_ERR_PARSE);
    CHECK(portfolio_from_json("{", &pr) == NULL);
    free(bad);
    free(j1);
    portfolio_free(l.pf);
    paper_free(p);
    book_free(b);
    instruments_free(in);
    stream_close(&s);
}

/* a starting holding (mechanics): a long at the first price, its value in the starting
 * capital, cash unchanged; selling part of it realises against that price, never a short */
static void test_deposit(void)
{
    portfolio *pf = portfolio_new(D("10000"), "USDT", 0);
    CHECK_INT(portfolio_deposit(pf, VENUE_BINANCE_SPOT, "BTCUSDT", D("0.01"), D("60000"), 1000),
              PF_OK);
    pf_summary sm;
    portfolio_summary(pf, &sm);
    CHECK_INT(sm.equity, D("10600"));
    CHECK_INT(sm.cash, D("10000"));
    CHECK_INT(sm.peak_equity, D("10600"));
    CHECK_INT(sm.open_positions, 1);
    order_fill f = {.trade_id = 1, .time_ms = 2000, .px = D("61000"), .qty = D("0.004"),
                    .fee = D("0.244")};
    CHECK_INT(portfolio_on_fill(pf, VENUE_BINANCE_SPOT, "BTCUSDT", SIDE_SELL, &f), PF_OK);
    const pf_position *p = portfolio_position(pf, VENUE_BINANCE_SPOT, "BTCUSDT");
    CHECK(p && p->qty == D("0.006") && p->entry == D("60000"));
    portfolio_summary(pf, &sm);
    CHECK_INT(sm.realised_pnl, D("4") - D("0.244")); /* (61000 - 60000) * 0.004 - fee */
    CHECK_INT(sm.cash, D("10000") + D("244") - D("0.244"));
    CHECK_INT(portfolio_deposit(pf, VENUE_BINANCE_SPOT, "ETHUSDT", 0, D("1"), 3000),
              PF_ERR_INVALID);
    portfolio_free(pf);
}

int main(void)
{
    test_deposit();
    test_mechanics();
    test_days_drawdown_sharpe();
    test_real_replay();
    cap_cache_free();
    CHECK_DONE();
}
