/* Live data beyond trades and books (docs/LIVE.md "Kline history", docs/MARKET.md "Klines and
 * trade-built bars"): the 24 h ticker and markPrice decoders on real recorded messages, OKX
 * tickers' 24 h statistics, the REST kline parser on real responses, the candle series'
 * replace / merge, the market's kline reconciliation, funding times from mark prices, the 24 h
 * reference, and download's date parser. Model mechanics use small synthetic bars. */
#include "check.h"

#include "kestrel/binance.h"
#include "kestrel/decimal.h"
#include "kestrel/download.h"
#include "kestrel/klfetch.h"
#include "kestrel/market.h"
#include "kestrel/okx.h"

static kdec D(const char *s)
{
    kdec v = 0;
    if (decimal_parse(s, strlen(s), &v) != K_OK)
        abort();
    return v;
}

/* Line `needle` of a real message file under messages/ (static buffer). */
static const char *msg_line(const char *rel, const char *needle)
{
    static char line[1 << 16];
    char path[1024];
    snprintf(path, sizeof path, "%s/messages/%s", check_shared_data(), rel);
    FILE *f = fopen(path, "r");
    CHECK(f != NULL);
    if (!f)
        return "";
    while (fgets(line, sizeof line, f)) {
        if (strstr(line, needle)) {
            fclose(f);
            line[strcspn(line, "\n")] = '\0';
            return line;
        }
    }
    fclose(f);
    CHECK(!"message not found");
    return "";
}

static char *file_text(const char *rel, size_t *len)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", check_shared_data(), rel);
    FILE *f = fopen(path, "rb");
    CHECK(f != NULL);
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    *len = fread(buf, 1, (size_t)n, f);
    buf[*len] = '\0';
    fclose(f);
    return buf;
}

static void test_binance_stats(void)
{
    static feed_level lv[64];
    feed_event ev;
    const char *why = NULL;
    const char *t = msg_line("binance/crypto-msg-parser_binance.jsonl", "\"ethusdt@ticker\"");
    CHECK_INT(binance_decode(t, strlen(t), &ev, lv, 64, &why), K_OK);
    CHECK_INT(ev.kind, FEED_TICKER24);
    CHECK_STR(ev.symbol, "ETHUSDT");
    CHECK_INT(ev.event_ms, 1653812650349LL);
    CHECK_INT(ev.u.day.open, D("1764.61"));
    CHECK_INT(ev.u.day.last, D("1792.84"));
    CHECK_INT(ev.u.day.high, D("1808.98"));
    CHECK_INT(ev.u.day.low, D("1748.94"));
    CHECK_INT(ev.u.day.volume, D("471703.5311"));
    CHECK_INT(ev.u.day.quote_volume, D("840180761.513581"));

    const char *m = msg_line("binance/crypto-msg-parser_binance.jsonl", "\"btcusdt@markPrice\"");
    CHECK_INT(binance_decode(m, strlen(m), &ev, lv, 64, &why), K_OK);
    CHECK_INT(ev.kind, FEED_MARK);
    CHECK_INT(ev.venue, VENUE_BINANCE_USDM);
    CHECK_STR(ev.symbol, "BTCUSDT");
    CHECK_INT(ev.u.mark.mark, D("58940.14924532"));
    CHECK_INT(ev.u.mark.index, D("58857.26693664"));
    CHECK_INT(ev.u.mark.rate, D("0.00058455"));
    CHECK_INT(ev.u.mark.next_funding_ms, 1617321600000LL);
    /* a message without the index (as coin-margined contracts send it): index 0 */
    static const char noi[] = "{\"e\":\"markPriceUpdate\",\"E\":1,\"s\":\"X\",\"p\":\"1.5\","
                              "\"P\":\"1.4\",\"r\":\"0.00073689\",\"T\":8}";
    CHECK_INT(binance_decode(noi, sizeof noi - 1, &ev, lv, 64, &why), K_OK);
    CHECK_INT(ev.kind, FEED_MARK);
    CHECK_INT(ev.u.mark.index, 0);
    CHECK_INT(ev.u.mark.rate, D("0.00073689"));
    /* negative funding rates are normal; an empty rate (no funding) is 0; junk is refused */
    static const char neg[] = "{\"e\":\"markPriceUpdate\",\"E\":1,\"s\":\"X\",\"p\":\"1.5\","
                              "\"i\":\"1.4\",\"r\":\"-0.0001\",\"T\":8}";
    CHECK_INT(binance_decode(neg, sizeof neg - 1, &ev, lv, 64, &why), K_OK);
    CHECK_INT(ev.u.mark.rate, -10000);
    static const char empty[] = "{\"e\":\"markPriceUpdate\",\"E\":1,\"s\":\"X\",\"p\":\"1.5\","
                                "\"r\":\"\",\"T\":8}";
    CHECK_INT(binance_decode(empty, sizeof empty - 1, &ev, lv, 64, &why), K_OK);
    CHECK_INT(ev.u.mark.rate, 0);
    static const char bad[] = "{\"e\":\"markPriceUpdate\",\"E\":1,\"s\":\"X\",\"p\":\"1.5\","
                              "\"r\":\"1e-4\",\"T\":8}";
    CHECK_INT(binance_decode(bad, sizeof bad - 1, &ev, lv, 64, &why), K_ERR);
    static const char nop[] = "{\"e\":\"markPriceUpdate\",\"E\":1,\"s\":\"X\",\"T\":8}";
    CHECK_INT(binance_decode(nop, sizeof nop - 1, &ev, lv, 64, &why), K_ERR);
    /* a repeated field the decoder reads is refused (as for every other payload) */
    static const char rep[] = "{\"e\":\"24hrTicker\",\"E\":1,\"s\":\"X\",\"o\":\"1\",\"o\":\"2\","
                              "\"c\":\"1\",\"h\":\"1\",\"l\":\"1\",\"v\":\"1\",\"q\":\"1\"}";
    CHECK_INT(binance_decode(rep, sizeof rep - 1, &ev, lv, 64, &why), K_ERR);
}

static void test_okx_tickers(void)
{
    static feed_level lv[64];
    feed_event evs[4];
    uint32_t n = 0;
    const char *why = NULL;
    const char *t = msg_line("okx/crypto-msg-parser_okx_v5.jsonl",
                             "\"tickers\",\"instId\":\"BTC-USDT\"}");
    CHECK_INT(okx_decode(t, strlen(t), evs, 4, &n, lv, 64, NULL, &why), K_OK);
    CHECK_INT(n, 2);
    CHECK_INT(evs[0].kind, FEED_BOOK_TICKER);
    CHECK_INT(evs[1].kind, FEED_TICKER24);
    CHECK_STR(evs[1].symbol, "BTC-USDT");
    CHECK_INT(evs[1].u.day.open, D("31588.3"));
    CHECK_INT(evs[1].u.day.last, D("29934"));
    CHECK_INT(evs[1].u.day.high, D("31899.8"));
    CHECK_INT(evs[1].u.day.low, D("29318.7"));
    CHECK_INT(evs[1].u.day.volume, D("9935.14546361"));          /* spot: vol24h is base */
    CHECK_INT(evs[1].u.day.quote_volume, D("302140058.01215828")); /* volCcy24h is quote */
    const char *fu = msg_line("okx/crypto-msg-parser_okx_v5.jsonl",
                              "\"tickers\",\"instId\":\"BTC-USD-220624\"}");
    CHECK_INT(okx_decode(fu, strlen(fu), evs, 4, &n, lv, 64, NULL, &why), K_OK);
    CHECK_INT(n, 2);
    CHECK_INT(evs[1].u.day.volume, D("6540.5687")); /* futures: volCcy24h is the base */
    CHECK_INT(evs[1].u.day.quote_volume, 0);
}

static void test_klfetch_parse(void)
{
    size_t len = 0;
    char *js = file_text("binance/nautilus-captures/http_spot_market_klines.json", &len);
    static candle bars[KLFETCH_PAGE_MAX];
    uint32_t n = 0;
    const char *why = NULL;
    CHECK_INT(klfetch_parse(VENUE_BINANCE_SPOT, TF_1M, js, len, INT64_MAX, bars,
                            KLFETCH_PAGE_MAX, &n, &why), K_OK);
    CHECK(n >= 2);
    CHECK_INT(bars[0].open_ms, 1634943780000LL);
    CHECK_INT(bars[0].o, D("60685.22"));
    CHECK_INT(bars[0].h, D("60729.84"));
    CHECK_INT(bars[0].l, D("60670.9"));
    CHECK_INT(bars[0].c, D("60719.27"));
    CHECK_INT(bars[0].volume, D("21.63272"));
    CHECK_INT(bars[0].quote_volume, D("1313200.0134041"));
    CHECK_INT(bars[0].buy_volume, D("12.28492"));
    CHECK_INT(bars[0].trades, 617);
    CHECK_INT(bars[1].open_ms, 1634943840000LL);
    uint32_t all = n;
    /* a bar whose close time is not before the clock is forming: never handed out */
    CHECK_INT(klfetch_parse(VENUE_BINANCE_SPOT, TF_1M, js, len, 1634943839999LL, bars,
                            KLFETCH_PAGE_MAX, &n, &why), K_OK);
    CHECK_INT(n, 0);
    CHECK_INT(klfetch_parse(VENUE_BINANCE_SPOT, TF_1M, js, len, 1634943840000LL, bars,
                            KLFETCH_PAGE_MAX, &n, &why), K_OK);
    CHECK_INT(n, 1);
    /* the wrong timeframe (open times not on its grid), too small a buffer, an error body */
    CHECK_INT(klfetch_parse(VENUE_BINANCE_SPOT, TF_1H, js, len, INT64_MAX, bars,
                            KLFETCH_PAGE_MAX, &n, &why), K_ERR);
    CHECK_INT(n, 0);
    CHECK_INT(klfetch_parse(VENUE_BINANCE_SPOT, TF_1M, js, len, INT64_MAX, bars, all - 1, &n,
                            &why), K_ERR);
    static const char err[] = "{\"code\":-1121,\"msg\":\"Invalid symbol.\"}";
    CHECK_INT(klfetch_parse(VENUE_BINANCE_USDM, TF_1M, err, sizeof err - 1, INT64_MAX, bars,
                            KLFETCH_PAGE_MAX, &n, &why), K_ERR);
    CHECK_STR(why, "exchange error");
    free(js);

    /* OKX REST rows, newest first, with the real candle1m row's values and a confirm flag */
    static const char okx[] =
        "{\"code\":\"0\",\"msg\":\"\",\"data\":["
        "[\"1654154640000\",\"29936.3\",\"29940\",\"29930\",\"29931\",\"0.5\",\"1\",\"2\",\"0\"],"
        "[\"1654154580000\",\"29930.7\",\"29936.3\",\"29930.7\",\"29936.3\",\"0.0111536\","
        "\"333.86246417\",\"333.86246417\",\"1\"]]}";
    CHECK_INT(klfetch_parse(VENUE_OKX, TF_1M, okx, sizeof okx - 1, INT64_MAX, bars,
                            KLFETCH_PAGE_MAX, &n, &why), K_OK);
    CHECK_INT(n, 1); /* the unconfirmed (forming) bar is left out */
    CHECK_INT(bars[0].open_ms, 1654154580000LL);
    CHECK_INT(bars[0].o, D("29930.7"));
    CHECK_INT(bars[0].volume, D("0.0111536"));
    CHECK_INT(bars[0].quote_volume, D("333.86246417"));
    CHECK_STR(klfetch_interval(VENUE_OKX, TF_1H), "1H");
    CHECK_STR(klfetch_interval(VENUE_OKX, TF_1D), "1Dutc");
    CHECK(klfetch_interval(VENUE_BINANCE_USDM, TF_1S) == NULL);
    CHECK_STR(klfetch_interval(VENUE_BINANCE_SPOT, TF_1S), "1s");
}

static candle bar(int64_t open_ms, const char *o, const char *h, const char *l, const char *c,
                  const char *v)
{
    candle b = {.open_ms = open_ms, .o = D(o), .h = D(h), .l = D(l), .c = D(c), .volume = D(v)};
    return b;
}

static void test_candles_merge(void)
{
    candles *c = candles_new(TF_1M, 5);
    /* trades build 3 bars (0, 1, 2 min) and a forming one at 3 */
    for (int m = 0; m < 4; m++)
        candles_on_trade(c, m * 60000LL + 10, D("10"), D("1"), false, NULL, NULL);
    CHECK_INT(candles_count(c), 3);
    CHECK(candles_get(c, 0)->flags & CANDLE_PARTIAL);
    candle x = bar(60000, "10", "12", "9", "11", "3");
    CHECK_INT(candles_replace(c, &x), 1);
    CHECK_INT(candles_find(c, 60000)->h, D("12"));
    CHECK_INT(candles_find(c, 60000)->trades, 1); /* kept: the exchange's bar had none */
    CHECK_INT(candles_replace(c, &x), 0);         /* equal now */
    candle f = bar(180000, "10", "12", "9", "11", "3");
    CHECK_INT(candles_replace(c, &f), -1); /* the forming bar is not a held closed bar */
    candle p = bar(0, "10", "10", "10", "10", "1");
    CHECK_INT(candles_replace(c, &p), 0); /* equal values: the partial flag goes, no diff */
    CHECK(!(candles_get(c, 0)->flags & CANDLE_PARTIAL));
    candle bad = bar(120000, "10", "9", "11", "10", "1"); /* h < l */
    CHECK_INT(candles_replace(c, &bad), -1);
    /* history: two older bars, a replacement, the forming minute (never taken) */
    candle hist[] = {bar(-120000 + 120000 * 0 + 0, "5", "5", "5", "5", "1"), /* placeholder */
                     bar(0, "10", "10", "10", "10", "1"), bar(120000, "10", "13", "10", "10", "4"),
                     bar(180000, "1", "1", "1", "1", "1")};
    hist[0] = bar(0, "5", "5", "5", "5", "1");
    uint32_t rep = 0;
    /* not increasing (0 twice): the second is skipped */
    CHECK_INT(candles_merge(c, hist, 4, &rep), 0);
    CHECK_INT(rep, 2); /* 0 -> 5s, 120000 differed */
    CHECK_INT(candles_find(c, 0)->c, D("5"));
    CHECK_INT(candles_find(c, 120000)->h, D("13"));
    CHECK(candles_forming(c) && candles_forming(c)->open_ms == 180000 &&
          candles_forming(c)->o == D("10"));
    /* a hole in the middle is filled, the ring keeps the newest cap */
    candles *g = candles_new(TF_1M, 5);
    candle two[] = {bar(0, "1", "1", "1", "1", "1"), bar(180000, "4", "4", "4", "4", "1")};
    candles_load(g, two, 2);
    candle mid[] = {bar(60000, "2", "2", "2", "2", "1"), bar(120000, "3", "3", "3", "3", "1")};
    CHECK_INT(candles_merge(g, mid, 2, &rep), 2);
    CHECK_INT(candles_count(g), 4);
    for (uint32_t i = 0; i < 4; i++)
        CHECK_INT(candles_get(g, i)->open_ms, (int64_t)i * 60000);
    candle more[] = {bar(240000, "5", "5", "5", "5", "1"), bar(300000, "6", "6", "6", "6", "1")};
    CHECK_INT(candles_merge(g, more, 2, &rep), 2);
    CHECK_INT(candles_count(g), 5);
    CHECK_INT(candles_get(g, 0)->open_ms, 60000);
    candles_free(g);
    candles_free(c);
}

typedef struct notes {
    int closed, revised, funding;
    candle last_closed_1m;
    feed_event funding_ev;
} notes;

static void on_note(void *ud, const market_note *n)
{
    notes *c = ud;
    if (n->kind == MARKET_BAR_CLOSED && n->tf == TF_1M) {
        c->closed++;
        c->last_closed_1m = *n->bar;
    } else if (n->kind == MARKET_BAR_REVISED) {
        c->revised++;
    } else if (n->kind == MARKET_FUNDING) {
        c->funding++;
        c->funding_ev = *n->ev;
    }
}

static feed_event trade(int64_t t, const char *px)
{
    feed_event e = {.kind = FEED_TRADE, .venue = VENUE_BINANCE_SPOT};
    strcpy(e.symbol, "BTCUSDT");
    e.event_ms = t;
    e.u.trade.time_ms = t;
    e.u.trade.px = D(px);
    e.u.trade.qty = D("1");
    return e;
}

static feed_event kline(int64_t open_ms, const char *o, const char *h, const char *l,
                        const char *c, const char *v, bool closed)
{
    feed_event e = {.kind = FEED_KLINE, .venue = VENUE_BINANCE_SPOT};
    strcpy(e.symbol, "BTCUSDT");
    e.event_ms = open_ms + 60000;
    e.u.kline.open_ms = open_ms;
    e.u.kline.close_ms = open_ms + 59999;
    strcpy(e.u.kline.interval, "1m");
    e.u.kline.o = D(o);
    e.u.kline.h = D(h);
    e.u.kline.l = D(l);
    e.u.kline.c = D(c);
    e.u.kline.volume = D(v);
    e.u.kline.closed = closed;
    return e;
}

static void test_market_reconcile(void)
{
    market *m = market_new(NULL);
    notes c = {0};
    CHECK_INT(market_subscribe(m, on_note, &c), K_OK);
    market_set_reconcile(m, true);
    /* a kline before the symbol's first trade creates nothing */
    feed_event k0 = kline(0, "1", "1", "1", "1", "1", true);
    CHECK_INT(market_apply(m, &k0), K_OK);
    CHECK(market_find(m, VENUE_BINANCE_SPOT, "BTCUSDT") == NULL);
    int64_t T0 = 1700000000000LL - 1700000000000LL % 60000;
    feed_event t1 = trade(T0 + 1000, "100"), t2 = trade(T0 + 30000, "101");
    CHECK_INT(market_apply(m, &t1), K_OK);
    CHECK_INT(market_apply(m, &t2), K_OK);
    market_sym *s = market_find(m, VENUE_BINANCE_SPOT, "BTCUSDT");
    CHECK(s && !s->bars_from_klines);
    /* forming klines are ignored; the final one while the bar still forms waits for its close */
    feed_event kf = kline(T0, "99", "102", "98", "101", "5", false);
    CHECK_INT(market_apply(m, &kf), K_OK);
    CHECK_INT(s->klines_final, 0);
    feed_event kx = kline(T0, "99", "102", "98", "101", "5", true);
    CHECK_INT(market_apply(m, &kx), K_OK);
    CHECK_INT(s->klines_final, 1);
    CHECK_INT(c.closed, 0);                      /* a final kline closes nothing itself */
    CHECK(candles_forming(s->series[TF_1M]) != NULL);
    feed_event t3 = trade(T0 + 61000, "103");    /* the next minute: the bar closes */
    CHECK_INT(market_apply(m, &t3), K_OK);
    CHECK_INT(c.closed, 1);
    CHECK_INT(c.last_closed_1m.o, D("99"));       /* the note carries the exchange's bar */
    CHECK_INT(c.last_closed_1m.volume, D("5"));
    CHECK_INT(s->kline_diffs, 1);
    CHECK(!(candles_last(s->series[TF_1M])->flags & CANDLE_PARTIAL));
    /* a final kline arriving after the close replaces the held bar: MARKET_BAR_REVISED */
    feed_event t4 = trade(T0 + 121000, "104");
    CHECK_INT(market_apply(m, &t4), K_OK);
    CHECK_INT(c.closed, 2);
    feed_event late = kline(T0 + 60000, "103", "105", "103", "104", "2", true);
    CHECK_INT(market_apply(m, &late), K_OK);
    CHECK_INT(c.revised, 1);
    CHECK_INT(s->kline_diffs, 2);
    CHECK_INT(candles_find(s->series[TF_1M], T0 + 60000)->h, D("105"));
    /* the same bar again: equal, nothing revised */
    CHECK_INT(market_apply(m, &late), K_OK);
    CHECK_INT(c.revised, 1);
    /* REST history: inserted before the first bar, revised notes for the store */
    candle hist[] = {bar(T0 - 120000, "90", "91", "89", "90", "1"),
                     bar(T0 - 60000, "90", "92", "90", "91", "1"),
                     bar(T0 + 120000, "1", "1", "1", "1", "1")}; /* the forming bar: never */
    CHECK_INT(market_merge_bars(m, s, TF_1M, hist, 3), 2);
    CHECK_INT(s->bars_backfilled, 2);
    CHECK_INT(c.revised, 3);
    CHECK_INT(candles_get(s->series[TF_1M], 0)->open_ms, T0 - 120000);
    CHECK_INT(candles_forming(s->series[TF_1M])->o, D("104"));
    /* without reconciliation (replay, backtest) klines of a trade-built symbol are ignored */
    market_set_reconcile(m, false);
    uint64_t ign = market_klines_ignored(m);
    feed_event k2 = kline(T0 + 120000, "1", "1", "1", "1", "1", true);
    CHECK_INT(market_apply(m, &k2), K_OK);
    CHECK_INT(market_klines_ignored(m), ign + 1);
    market_free(m);
}

static void test_market_stats(void)
{
    market *m = market_new(NULL);
    notes c = {0};
    CHECK_INT(market_subscribe(m, on_note, &c), K_OK);
    feed_event mk = {.kind = FEED_MARK, .venue = VENUE_BINANCE_USDM, .event_ms = 1000};
    strcpy(mk.symbol, "BTCUSDT");
    mk.u.mark.mark = D("100");
    mk.u.mark.index = D("99");
    mk.u.mark.rate = D("0.0001");
    mk.u.mark.next_funding_ms = 28800000;
    CHECK_INT(market_apply(m, &mk), K_OK); /* no symbol yet: creates none */
    CHECK(market_find(m, VENUE_BINANCE_USDM, "BTCUSDT") == NULL);
    feed_event t = {.kind = FEED_TRADE, .venue = VENUE_BINANCE_USDM, .event_ms = 1000};
    strcpy(t.symbol, "BTCUSDT");
    t.u.trade.time_ms = 1000;
    t.u.trade.px = D("100");
    t.u.trade.qty = D("1");
    CHECK_INT(market_apply(m, &t), K_OK);
    CHECK_INT(market_apply(m, &mk), K_OK);
    market_sym *s = market_find(m, VENUE_BINANCE_USDM, "BTCUSDT");
    CHECK_INT(s->mark_px, D("100"));
    CHECK_INT(s->funding_rate, D("0.0001"));
    CHECK_INT(c.funding, 0);
    mk.u.mark.rate = D("0.0002"); /* the rate moves before the funding time: no payment */
    CHECK_INT(market_apply(m, &mk), K_OK);
    CHECK_INT(c.funding, 0);
    mk.u.mark.next_funding_ms = 57600000; /* the funding time passed */
    mk.u.mark.rate = D("-0.0003");
    mk.u.mark.mark = D("101");
    CHECK_INT(market_apply(m, &mk), K_OK);
    CHECK_INT(c.funding, 1);
    CHECK_INT(c.funding_ev.kind, FEED_FUNDING);
    CHECK_INT(c.funding_ev.u.funding.time_ms, 28800000);
    CHECK_INT(c.funding_ev.u.funding.rate, D("0.0002")); /* the rate that applied then */
    CHECK_INT(c.funding_ev.u.funding.mark, D("100"));
    CHECK_INT(c.funding_ev.u.funding.index, D("99"));
    CHECK_INT(s->fundings, 1);
    CHECK_INT(s->funding_rate, D("-0.0003"));
    CHECK_INT(market_apply(m, &mk), K_OK);
    CHECK_INT(c.funding, 1);
    /* 24 h ticker: the watchlist's reference is its open */
    kdec ref = 0;
    CHECK(!market_ref_24h(s, &ref));
    feed_event d = {.kind = FEED_TICKER24, .venue = VENUE_BINANCE_USDM, .event_ms = 2000};
    strcpy(d.symbol, "BTCUSDT");
    d.u.day.open = D("95");
    d.u.day.last = D("100");
    d.u.day.high = D("102");
    d.u.day.low = D("90");
    d.u.day.volume = D("10");
    CHECK_INT(market_apply(m, &d), K_OK);
    CHECK(market_ref_24h(s, &ref));
    CHECK_INT(ref, D("95"));
    d.u.day.high = D("80"); /* high < low */
    CHECK_INT(market_apply(m, &d), K_ERR);
    market_free(m);
}

static void test_dates(void)
{
    int64_t ms = 0;
    CHECK_INT(download_parse_date("2018-04-28", &ms), K_OK);
    CHECK_INT(ms, 1524873600000LL);
    CHECK_INT(download_parse_date("2018-04-28T02:00", &ms), K_OK);
    CHECK_INT(ms, 1524880800000LL);
    CHECK_INT(download_parse_date("2024-02-29 23:59:59Z", &ms), K_OK);
    CHECK_INT(ms, 1709251199000LL);
    CHECK_INT(download_parse_date("1970-01-01", &ms), K_OK);
    CHECK_INT(ms, 0);
    CHECK_INT(download_parse_date("1524880800000", &ms), K_OK);
    CHECK_INT(ms, 1524880800000LL);
    CHECK_INT(download_parse_date("2018-13-01", &ms), K_ERR);
    CHECK_INT(download_parse_date("2018-04-28T25:00", &ms), K_ERR);
    CHECK_INT(download_parse_date("2018-04-28x", &ms), K_ERR);
    CHECK_INT(download_parse_date("", &ms), K_ERR);
}

int main(void)
{
    test_binance_stats();
    test_okx_tickers();
    test_klfetch_parse();
    test_candles_merge();
    test_market_reconcile();
    test_market_stats();
    test_dates();
    CHECK_DONE();
}
