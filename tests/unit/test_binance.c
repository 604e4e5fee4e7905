/* binance_decode: differential test against a cJSON reference decoder over every line of every
 * real capture in ../shared/data/binance (spot, USD-M, ws-captures), the MANIFEST's per-file
 * message counts, hand-checked fields of real messages, key order / unknown fields / envelope
 * independence, and a list of malformed inputs that must be refused without harm. */
#include "binance_ref.h"
#include "check.h"

#include "kestrel/binance.h"

#include <zlib.h>

#define CAP 20000
#define LINE_MAX_BYTES (8u << 20)

static feed_level lv_a[CAP], lv_b[CAP];

static int dec(const char *s, feed_event *ev, const char **why)
{
    return binance_decode(s, strlen(s), ev, lv_a, CAP, why);
}

/* Decodes s (expected to fail) and checks the reason and that ev was left empty. */
static void expect_err(const char *s, size_t len, const char *reason)
{
    feed_event ev;
    const char *why = NULL;
    int rc = binance_decode(s, len, &ev, lv_a, CAP, &why);
    CHECK_INT(rc, K_ERR);
    CHECK_INT(ev.kind, FEED_NONE);
    CHECK(why != NULL);
    if (reason) {
        if (!why || strcmp(why, reason) != 0)
            fprintf(stderr, "  input: %.200s\n", s);
        CHECK_STR(why, reason);
    }
}

#define ERR(lit, reason) expect_err(lit, sizeof(lit) - 1, reason)

typedef struct file_counts {
    uint64_t lines, json, ok, diffs, tickers, trades, snapshots, klines, none, usdm, mismatch;
} file_counts;

/* Every line of one capture: both decoders must accept it and agree field by field. */
static void diff_file(const char *path, file_counts *c)
{
    memset(c, 0, sizeof *c);
    gzFile f = gzopen(path, "rb");
    CHECK(f != NULL);
    if (!f) {
        fprintf(stderr, "cannot open %s\n", path);
        return;
    }
    char *line = malloc(LINE_MAX_BYTES);
    while (gzgets(f, line, (int)LINE_MAX_BYTES)) {
        size_t n = strlen(line);
        c->lines++;
        while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = '\0';
        const char *js = strchr(line, '{'); /* after "<ns> " or "<sec.frac>: " */
        if (!js)
            continue; /* the ws-captures header line (the subscribe URL) */
        c->json++;
        size_t jl = n - (size_t)(js - line);
        feed_event a, b;
        const char *wa = NULL, *wb = NULL;
        int parsed;
        int ra = binance_decode(js, jl, &a, lv_a, CAP, &wa);
        int rb = ref_decode(js, jl, &b, lv_b, CAP, &wb, &parsed);
        const char *field = ra == K_OK && rb == K_OK ? ref_compare(&a, &b) : "rc";
        if (field) {
            if (c->mismatch++ < 5)
                fprintf(stderr, "%s:%llu: %s differs (fast %s, ref %s): %.300s\n", path,
                        (unsigned long long)c->lines, field, wa ? wa : "ok", wb ? wb : "ok", js);
            continue;
        }
        c->ok++;
        switch (a.kind) {
        case FEED_DEPTH_DIFF: c->diffs++; break;
        case FEED_BOOK_TICKER: c->tickers++; break;
        case FEED_TRADE: c->trades++; break;
        case FEED_DEPTH_SNAPSHOT: c->snapshots++; break;
        case FEED_KLINE: c->klines++; break;
        case FEED_NONE: c->none++; break;
        case FEED_FUNDING: break; /* the Binance decoder makes none */
        case FEED_TICKER24: c->none++; break; /* the captures hold no @ticker */
        case FEED_MARK: c->none++; break;
        }
        if (a.venue == VENUE_BINANCE_USDM)
            c->usdm++;
    }
    gzclose(f);
    free(line);
}

static void test_differential(void)
{
    static const struct {
        const char *file;
        uint64_t lines, diffs, tickers, trades, snapshots, klines;
        int usdm; /* 0: every event spot; 1: diffs, tickers and snapshots prove USD-M */
    } want[] = {
        {"binance/streams/spot/btcusdt_20240808.gz", 41249, 3451, 28040, 9757, 1, 0, 0},
        {"binance/streams/spot/btcusdt_20240809.gz", 58325, 3044, 45134, 10147, 0, 0, 0},
        {"binance/streams/spot/ethusdt_20240808.gz", 33618, 3434, 24077, 6106, 1, 0, 0},
        {"binance/streams/spot/ethusdt_20240809.gz", 46126, 3036, 34681, 8409, 0, 0, 0},
        {"binance/streams/usdm/btcusdt_20240808.gz", 93954, 6551, 66089, 21313, 1, 0, 1},
        {"binance/streams/usdm/ethusdt_20240808.gz", 74655, 6586, 53992, 14076, 1, 0, 1},
        /* ws-captures: counts from grep of the files (one header line each, no snapshot) */
        {"binance/ws-captures/spot-combined-2021-10-12.txt", 267, 177, 84, 2, 0, 2, 0},
        {"binance/ws-captures/usdm-combined-2021-10-12.txt", 1536, 764, 613, 91, 0, 67, 2},
    };
    uint64_t total = 0;
    for (size_t i = 0; i < K_ARRAY_LEN(want); i++) {
        char path[1024];
        file_counts c;
        snprintf(path, sizeof path, "%s/%s", check_shared_data(), want[i].file);
        diff_file(path, &c);
        printf("%s: %llu lines, %llu agree\n", want[i].file, (unsigned long long)c.lines,
               (unsigned long long)c.ok);
        CHECK_INT(c.lines, want[i].lines);
        CHECK_INT(c.mismatch, 0);
        CHECK_INT(c.ok, c.json);
        CHECK_INT(c.diffs, want[i].diffs);
        CHECK_INT(c.tickers, want[i].tickers);
        CHECK_INT(c.trades, want[i].trades);
        CHECK_INT(c.snapshots, want[i].snapshots);
        CHECK_INT(c.klines, want[i].klines);
        CHECK_INT(c.none, 0);
        if (want[i].usdm == 0)
            CHECK_INT(c.usdm, 0);
        else if (want[i].usdm == 1) /* streams/usdm: trades carry X too */
            CHECK_INT(c.usdm, c.ok);
        else /* ws-captures usdm: aggTrade and kline cannot prove the venue */
            CHECK_INT(c.usdm, c.diffs + c.tickers);
        total += c.ok;
    }
    CHECK_INT(total, 349727);
}

/* Real lines (copied from the captures) checked by hand. */
static const char SPOT_DEPTH[] =
    "{\"stream\":\"btcusdt@depth@100ms\",\"data\":{\"e\":\"depthUpdate\",\"E\":1723161255208,"
    "\"s\":\"BTCUSDT\",\"U\":50093239189,\"u\":50093239202,\"b\":[[\"61737.63000000\","
    "\"0.00000000\"],[\"61730.17000000\",\"0.00000000\"],[\"56854.58000000\",\"0.00000000\"]],"
    "\"a\":[[\"61837.64000000\",\"1.54698000\"],[\"61839.85000000\",\"0.00000000\"],"
    "[\"61839.86000000\",\"0.00000000\"],[\"61845.11000000\",\"0.32329000\"],[\"61848.49000000\","
    "\"0.00000000\"],[\"61855.45000000\",\"0.32323000\"],[\"61862.51000000\",\"0.05041000\"],"
    "[\"61862.52000000\",\"0.00000000\"],[\"61937.64000000\",\"0.02000000\"]]}}";
static const char SPOT_TICKER[] =
    "{\"stream\":\"btcusdt@bookTicker\",\"data\":{\"u\":50093239212,\"s\":\"BTCUSDT\","
    "\"b\":\"61837.63000000\",\"B\":\"3.78826000\",\"a\":\"61837.64000000\",\"A\":\"1.54698000\"}}";
static const char SPOT_TRADE[] =
    "{\"stream\":\"btcusdt@trade\",\"data\":{\"e\":\"trade\",\"E\":1723161255343,\"s\":\"BTCUSDT\","
    "\"t\":3735683259,\"p\":\"61837.63000000\",\"q\":\"0.02000000\",\"T\":1723161255342,"
    "\"m\":true,\"M\":true}}";
static const char USDM_DEPTH[] =
    "{\"stream\":\"ctkusdt@depth@100ms\",\"data\":{\"e\":\"depthUpdate\",\"E\":1626992741203,"
    "\"T\":1626992741156,\"s\":\"CTKUSDT\",\"U\":600859602414,\"u\":600859603788,"
    "\"pu\":600859587990,\"b\":[[\"1.00600\",\"14217\"]],\"a\":[[\"1.01300\",\"17718\"],"
    "[\"1.01500\",\"20835\"]]}}";
static const char USDM_TICKER[] =
    "{\"stream\":\"btcusdt@bookTicker\",\"data\":{\"e\":\"bookTicker\",\"u\":5123107839020,"
    "\"s\":\"BTCUSDT\",\"b\":\"61800.20\",\"B\":\"2.507\",\"a\":\"61800.30\",\"A\":\"2.510\","
    "\"T\":1723161256313,\"E\":1723161256313}}";
static const char USDM_TRADE[] =
    "{\"stream\":\"btcusdt@trade\",\"data\":{\"e\":\"trade\",\"E\":1723161256322,"
    "\"T\":1723161256322,\"s\":\"BTCUSDT\",\"t\":5266583935,\"p\":\"61800.30\",\"q\":\"0.006\","
    "\"X\":\"MARKET\",\"m\":false}}";
static const char AGG_TRADE[] =
    "{\"stream\":\"nknusdt@aggTrade\",\"data\":{\"e\":\"aggTrade\",\"E\":1633998523963,"
    "\"s\":\"NKNUSDT\",\"a\":15683430,\"p\":\"0.35280000\",\"q\":\"58.00000000\",\"f\":19862790,"
    "\"l\":19862790,\"T\":1633998523963,\"m\":false,\"M\":true}}";
static const char KLINE[] =
    "{\"stream\":\"nknusdt@kline_1m\",\"data\":{\"e\":\"kline\",\"E\":1633998523963,"
    "\"s\":\"NKNUSDT\",\"k\":{\"t\":1633998480000,\"T\":1633998539999,\"s\":\"NKNUSDT\","
    "\"i\":\"1m\",\"f\":19862761,\"L\":19862790,\"o\":\"0.35270000\",\"c\":\"0.35280000\","
    "\"h\":\"0.35280000\",\"l\":\"0.35220000\",\"v\":\"25877.00000000\",\"n\":30,\"x\":false,"
    "\"q\":\"9116.04600000\",\"V\":\"58.00000000\",\"Q\":\"20.46240000\",\"B\":\"0\"}}}";
/* The start of the real USD-M BTCUSDT snapshot, cut to its first two levels per side. */
static const char USDM_SNAPSHOT[] =
    "{\"lastUpdateId\":5123107852948,\"E\":1723161256501,\"T\":1723161256493,"
    "\"bids\":[[\"61800.20\",\"2.909\"],[\"61800.10\",\"0.696\"]],"
    "\"asks\":[[\"61800.30\",\"3.330\"],[\"61804.60\",\"0.057\"]]}";

#define KD(units, frac8) ((kdec)(units) * KDEC_SCALE + (frac8))

static void test_fields(void)
{
    feed_event ev;
    const char *why = "x";

    CHECK_INT(dec(SPOT_DEPTH, &ev, &why), K_OK);
    CHECK(why == NULL);
    CHECK_INT(ev.kind, FEED_DEPTH_DIFF);
    CHECK_INT(ev.venue, VENUE_BINANCE_SPOT);
    CHECK_STR(ev.symbol, "BTCUSDT");
    CHECK_INT(ev.event_ms, 1723161255208LL);
    CHECK_INT(ev.recv_ns, 0);
    CHECK_INT(ev.u.depth.first_id, 50093239189LL);
    CHECK_INT(ev.u.depth.last_id, 50093239202LL);
    CHECK(!ev.u.depth.has_prev);
    CHECK_INT(ev.u.depth.nbids, 3);
    CHECK_INT(ev.u.depth.nasks, 9);
    CHECK_INT(ev.u.depth.bids[0].px, KD(61737, 63000000));
    CHECK_INT(ev.u.depth.bids[0].qty, 0);
    CHECK_INT(ev.u.depth.bids[2].px, KD(56854, 58000000));
    CHECK_INT(ev.u.depth.asks[0].px, KD(61837, 64000000));
    CHECK_INT(ev.u.depth.asks[0].qty, KD(1, 54698000));
    CHECK_INT(ev.u.depth.asks[8].px, KD(61937, 64000000));
    CHECK_INT(ev.u.depth.asks[8].qty, KD(0, 2000000));

    CHECK_INT(dec(SPOT_TICKER, &ev, &why), K_OK);
    CHECK_INT(ev.kind, FEED_BOOK_TICKER);
    CHECK_INT(ev.venue, VENUE_BINANCE_SPOT);
    CHECK_STR(ev.symbol, "BTCUSDT");
    CHECK_INT(ev.event_ms, 0);
    CHECK_INT(ev.u.ticker.update_id, 50093239212LL);
    CHECK_INT(ev.u.ticker.bid_px, KD(61837, 63000000));
    CHECK_INT(ev.u.ticker.bid_qty, KD(3, 78826000));
    CHECK_INT(ev.u.ticker.ask_px, KD(61837, 64000000));
    CHECK_INT(ev.u.ticker.ask_qty, KD(1, 54698000));

    CHECK_INT(dec(SPOT_TRADE, &ev, &why), K_OK);
    CHECK_INT(ev.kind, FEED_TRADE);
    CHECK_INT(ev.venue, VENUE_BINANCE_SPOT);
    CHECK_INT(ev.event_ms, 1723161255343LL);
    CHECK_INT(ev.u.trade.id, 3735683259LL);
    CHECK_INT(ev.u.trade.px, KD(61837, 63000000));
    CHECK_INT(ev.u.trade.qty, KD(0, 2000000));
    CHECK_INT(ev.u.trade.time_ms, 1723161255342LL);
    CHECK(ev.u.trade.buyer_maker);

    CHECK_INT(dec(USDM_DEPTH, &ev, &why), K_OK);
    CHECK_INT(ev.kind, FEED_DEPTH_DIFF);
    CHECK_INT(ev.venue, VENUE_BINANCE_USDM);
    CHECK_STR(ev.symbol, "CTKUSDT");
    CHECK(ev.u.depth.has_prev);
    CHECK_INT(ev.u.depth.prev_id, 600859587990LL);
    CHECK_INT(ev.u.depth.first_id, 600859602414LL);
    CHECK_INT(ev.u.depth.last_id, 600859603788LL);
    CHECK_INT(ev.u.depth.nbids, 1);
    CHECK_INT(ev.u.depth.nasks, 2);
    CHECK_INT(ev.u.depth.bids[0].px, KD(1, 600000));
    CHECK_INT(ev.u.depth.bids[0].qty, KD(14217, 0));
    CHECK_INT(ev.u.depth.asks[1].px, KD(1, 1500000));

    CHECK_INT(dec(USDM_TICKER, &ev, &why), K_OK);
    CHECK_INT(ev.kind, FEED_BOOK_TICKER);
    CHECK_INT(ev.venue, VENUE_BINANCE_USDM);
    CHECK_INT(ev.event_ms, 1723161256313LL);
    CHECK_INT(ev.u.ticker.update_id, 5123107839020LL);
    CHECK_INT(ev.u.ticker.ask_qty, KD(2, 51000000));

    CHECK_INT(dec(USDM_TRADE, &ev, &why), K_OK);
    CHECK_INT(ev.kind, FEED_TRADE);
    CHECK_INT(ev.venue, VENUE_BINANCE_USDM);
    CHECK_INT(ev.u.trade.id, 5266583935LL);
    CHECK_INT(ev.u.trade.qty, KD(0, 600000));
    CHECK(!ev.u.trade.buyer_maker);

    CHECK_INT(dec(AGG_TRADE, &ev, &why), K_OK);
    CHECK_INT(ev.kind, FEED_TRADE);
    CHECK_INT(ev.venue, VENUE_BINANCE_SPOT);
    CHECK_STR(ev.symbol, "NKNUSDT");
    CHECK_INT(ev.u.trade.id, 15683430);
    CHECK_INT(ev.u.trade.px, KD(0, 35280000));
    CHECK_INT(ev.u.trade.qty, KD(58, 0));
    CHECK_INT(ev.u.trade.time_ms, 1633998523963LL);

    CHECK_INT(dec(KLINE, &ev, &why), K_OK);
    CHECK_INT(ev.kind, FEED_KLINE);
    CHECK_STR(ev.symbol, "NKNUSDT");
    CHECK_INT(ev.event_ms, 1633998523963LL);
    CHECK_INT(ev.u.kline.open_ms, 1633998480000LL);
    CHECK_INT(ev.u.kline.close_ms, 1633998539999LL);
    CHECK_STR(ev.u.kline.interval, "1m");
    CHECK_INT(ev.u.kline.o, KD(0, 35270000));
    CHECK_INT(ev.u.kline.h, KD(0, 35280000));
    CHECK_INT(ev.u.kline.l, KD(0, 35220000));
    CHECK_INT(ev.u.kline.c, KD(0, 35280000));
    CHECK_INT(ev.u.kline.volume, KD(25877, 0));
    CHECK_INT(ev.u.kline.quote_volume, KD(9116, 4600000));
    CHECK_INT(ev.u.kline.trades, 30);
    CHECK(!ev.u.kline.closed);

    CHECK_INT(dec(USDM_SNAPSHOT, &ev, &why), K_OK);
    CHECK_INT(ev.kind, FEED_DEPTH_SNAPSHOT);
    CHECK_INT(ev.venue, VENUE_BINANCE_USDM);
    CHECK_STR(ev.symbol, "");
    CHECK_INT(ev.event_ms, 1723161256501LL);
    CHECK_INT(ev.u.depth.first_id, 5123107852948LL);
    CHECK_INT(ev.u.depth.last_id, 5123107852948LL);
    CHECK_INT(ev.u.depth.nbids, 2);
    CHECK_INT(ev.u.depth.nasks, 2);
    CHECK_INT(ev.u.depth.bids[1].px, KD(61800, 10000000));
    CHECK_INT(ev.u.depth.asks[1].qty, KD(0, 5700000));

    /* A spot snapshot (no E/T) is spot. */
    CHECK_INT(dec("{\"lastUpdateId\":50093239218,\"bids\":[[\"61837.63000000\",\"3.78826000\"]],"
                  "\"asks\":[]}", &ev, &why), K_OK);
    CHECK_INT(ev.kind, FEED_DEPTH_SNAPSHOT);
    CHECK_INT(ev.venue, VENUE_BINANCE_SPOT);
    CHECK_INT(ev.u.depth.nbids, 1);
    CHECK_INT(ev.u.depth.nasks, 0);

    /* Control replies and ignored streams are benign. */
    CHECK_INT(dec("{\"result\":null,\"id\":1}", &ev, &why), K_OK);
    CHECK_INT(ev.kind, FEED_NONE);
    CHECK(why == NULL);
    CHECK_INT(dec("{\"result\":[\"btcusdt@aggTrade\"],\"id\":3}", &ev, &why), K_OK);
    CHECK_INT(ev.kind, FEED_NONE);
    CHECK_INT(dec("{\"id\":312,\"result\":null}", &ev, &why), K_OK);
    /* a 24 h ticker without its statistics is refused */
    CHECK_INT(dec("{\"stream\":\"btcusdt@ticker\",\"data\":{\"e\":\"24hrTicker\",\"E\":1,"
                  "\"s\":\"BTCUSDT\",\"c\":\"1.0\"}}", &ev, &why), K_ERR);
    CHECK_INT(dec("{\"e\":\"serverShutdown\",\"E\":1}", &ev, &why), K_OK);
    CHECK_INT(ev.kind, FEED_NONE);
}

/* Same event regardless of key order, whitespace, unknown fields and the envelope. */
static void same_as(const char *base, const char *variant)
{
    feed_event a, b;
    const char *wa, *wb;
    int ra = binance_decode(base, strlen(base), &a, lv_a, CAP, &wa);
    int rb = binance_decode(variant, strlen(variant), &b, lv_b, CAP, &wb);
    CHECK_INT(ra, K_OK);
    CHECK_INT(rb, K_OK);
    const char *field = ra == K_OK && rb == K_OK ? ref_compare(&a, &b) : "rc";
    if (field)
        fprintf(stderr, "  variant differs in %s (%s): %s\n", field, wb ? wb : "ok", variant);
    CHECK(field == NULL);
}

static void test_order_and_unknown(void)
{
    /* raw payloads (no envelope) */
    same_as(SPOT_TRADE, "{\"e\":\"trade\",\"E\":1723161255343,\"s\":\"BTCUSDT\",\"t\":3735683259,"
                        "\"p\":\"61837.63000000\",\"q\":\"0.02000000\",\"T\":1723161255342,"
                        "\"m\":true,\"M\":true}");
    /* data before stream, "e" last, unknown fields of every type, whitespace everywhere */
    same_as(SPOT_TRADE,
            " {\r\n \"data\" : { \"m\" : true , \"new\" : [ 1 , { \"x\" : [ ] } , null ] ,"
            " \"q\":\"0.02000000\", \"p\":\"61837.63000000\", \"T\":1723161255342,"
            " \"t\":3735683259, \"s\":\"btcusdt\", \"E\":1723161255343, \"M\":true,"
            " \"e\":\"trade\" }, \"extra\": {\"k\": \"v\"}, \"stream\" : \"btcusdt@trade\" }\n");
    same_as(SPOT_DEPTH,
            "{\"data\":{\"a\":[[\"61837.64000000\",\"1.54698000\"],[\"61839.85000000\","
            "\"0.00000000\"],[\"61839.86000000\",\"0.00000000\"],[\"61845.11000000\","
            "\"0.32329000\"],[\"61848.49000000\",\"0.00000000\"],[\"61855.45000000\","
            "\"0.32323000\"],[\"61862.51000000\",\"0.05041000\"],[\"61862.52000000\","
            "\"0.00000000\"],[\"61937.64000000\",\"0.02000000\"]],\"u\":50093239202,"
            "\"b\":[[\"61737.63000000\",\"0.00000000\"],[\"61730.17000000\",\"0.00000000\",[]],"
            "[ \"56854.58000000\" , \"0.00000000\" ]],\"U\":50093239189,\"s\":\"BTCUSDT\","
            "\"E\":1723161255208,\"e\":\"depthUpdate\",\"st\":1},"
            "\"stream\":\"btcusdt@depth@100ms\"}");
    same_as(KLINE, "{\"e\":\"kline\",\"k\":{\"x\":false,\"q\":\"9116.04600000\",\"n\":30,"
                   "\"v\":\"25877.00000000\",\"l\":\"0.35220000\",\"h\":\"0.35280000\","
                   "\"c\":\"0.35280000\",\"o\":\"0.35270000\",\"i\":\"1m\",\"T\":1633998539999,"
                   "\"t\":1633998480000,\"zz\":{\"a\":[1]}},\"s\":\"NKNUSDT\","
                   "\"E\":1633998523963}");
    same_as(USDM_SNAPSHOT,
            "{\"asks\":[[\"61800.30\",\"3.330\"],[\"61804.60\",\"0.057\"]],\"T\":1723161256493,"
            "\"bids\":[[\"61800.20\",\"2.909\"],[\"61800.10\",\"0.696\"]],\"E\":1723161256501,"
            "\"lastUpdateId\":5123107852948}");
    /* old spot trades carried buyer/seller order ids in "b"/"a" (numbers): ignored */
    same_as(SPOT_TRADE, "{\"e\":\"trade\",\"E\":1723161255343,\"s\":\"BTCUSDT\",\"t\":3735683259,"
                        "\"p\":\"61837.63000000\",\"q\":\"0.02000000\",\"b\":88,\"a\":50,"
                        "\"T\":1723161255342,\"m\":true,\"M\":true}");
    /* non-ASCII in unknown fields is fine */
    same_as(SPOT_TICKER, "{\"u\":50093239212,\"s\":\"BTCUSDT\",\"b\":\"61837.63000000\","
                         "\"note\":\"caf\xc3\xa9 \\u00e9 \\ud83d\\ude00 \xf0\x9f\x98\x80\","
                         "\"B\":\"3.78826000\",\"a\":\"61837.64000000\",\"A\":\"1.54698000\"}");
    /* trade without T: time falls back to E */
    feed_event ev;
    const char *why;
    CHECK_INT(dec("{\"e\":\"trade\",\"E\":1723161255343,\"s\":\"BTCUSDT\",\"t\":1,\"p\":\"1\","
                  "\"q\":\"2\",\"m\":false}", &ev, &why), K_OK);
    CHECK_INT(ev.u.trade.time_ms, 1723161255343LL);
    /* 23-byte symbol is the longest accepted */
    CHECK_INT(dec("{\"u\":1,\"s\":\"ABCDEFGHIJKLMNOPQRSTUVW\",\"b\":\"1\",\"B\":\"1\",\"a\":\"1\","
                  "\"A\":\"1\"}", &ev, &why), K_OK);
    CHECK_STR(ev.symbol, "ABCDEFGHIJKLMNOPQRSTUVW");
    /* exactly the cap of levels is fine, one more is not */
    const char *two = "{\"lastUpdateId\":1,\"bids\":[[\"1\",\"1\"]],\"asks\":[[\"2\",\"1\"]]}";
    CHECK_INT(binance_decode(two, strlen(two), &ev, lv_a, 2, &why), K_OK);
    CHECK_INT(binance_decode(two, strlen(two), &ev, lv_a, 1, &why), K_ERR);
    CHECK_STR(why, "too many levels");
    CHECK_INT(binance_decode(two, strlen(two), &ev, NULL, 0, &why), K_ERR);
    CHECK_STR(why, "too many levels");
    /* why may be NULL */
    CHECK_INT(binance_decode(two, strlen(two), &ev, lv_a, 2, NULL), K_OK);
    CHECK_INT(binance_decode("x", 1, &ev, lv_a, 2, NULL), K_ERR);
}

static void test_malformed(void)
{
    feed_event ev;
    const char *why;

    ERR("", "empty");
    ERR("   \n", "empty");
    CHECK_INT(binance_decode(NULL, 0, &ev, lv_a, CAP, &why), K_ERR);
    ERR("{", "invalid json");
    ERR("}", "invalid json");
    ERR("garbage", "invalid json");
    ERR("[]", "not an object");
    ERR("null", "not an object");
    ERR("\"str\"", "not an object");
    ERR("{}", "unknown message");
    ERR("{\"a\":1,}", "invalid json");
    ERR("{\"a\" 1}", "invalid json");
    ERR("{'a':1}", "invalid json");
    ERR("{\"a\":01}", "invalid json");
    ERR("{\"a\":1.}", "invalid json");
    ERR("{\"a\":-}", "invalid json");
    ERR("{\"a\":.5}", "invalid json");
    ERR("{\"a\":+1}", "invalid json");
    ERR("{\"a\":tru}", "invalid json");
    ERR("{\"a\":NaN}", "invalid json");
    ERR("{\"a\":Infinity}", "invalid json");
    ERR("{\"a\":\"x\\q\"}", "invalid json");
    ERR("{\"a\":\"\\u12\"}", "invalid json");
    ERR("{\"a\":\"\\u0000\"}", "invalid json");
    ERR("{\"a\":\"\\udc00\"}", "invalid json");
    ERR("{\"a\":\"\\ud800x\"}", "invalid json");
    ERR("{\"a\":\"tab\there\"}", "invalid json");
    ERR("{\"result\":null,\"id\":1}trailing", "invalid json");
    ERR("{\"result\":null,\"id\":1}{}", "invalid json");
    /* a number longer than 63 bytes (cJSON refuses those too) */
    ERR("{\"a\":1234567890123456789012345678901234567890123456789012345678901234}",
        "invalid json");
    /* NUL inside / after */
    expect_err("{\"result\":null}\0", 16, "invalid json");
    expect_err("{\"a\":\"x\0y\"}", 11, "invalid json");

    /* invalid UTF-8: stray continuation, overlong, surrogate, truncated, beyond U+10FFFF */
    ERR("{\"u\":1,\"s\":\"BTC\xffUSDT\",\"b\":\"1\",\"B\":\"1\",\"a\":\"1\",\"A\":\"1\"}",
        "invalid json");
    ERR("{\"x\":\"\x80\"}", "invalid json");
    ERR("{\"x\":\"\xc0\xaf\"}", "invalid json");
    ERR("{\"x\":\"\xe0\x80\xaf\"}", "invalid json");
    ERR("{\"x\":\"\xed\xa0\x80\"}", "invalid json");
    ERR("{\"x\":\"\xf4\x90\x80\x80\"}", "invalid json");
    ERR("{\"x\":\"\xe2\x82\"}", "invalid json");
    ERR("{\"x\":\"\xc3", "invalid json");

    /* wrong types */
    ERR("{\"e\":\"trade\",\"E\":1,\"s\":\"BTCUSDT\",\"t\":1,\"p\":61837.63,\"q\":\"1\",\"m\":true}",
        "bad price");
    ERR("{\"e\":\"trade\",\"E\":1,\"s\":\"BTCUSDT\",\"t\":1,\"p\":\"1\",\"q\":2,\"m\":true}",
        "bad qty");
    ERR("{\"e\":\"trade\",\"E\":1,\"s\":\"BTCUSDT\",\"t\":\"1\",\"p\":\"1\",\"q\":\"2\","
        "\"m\":true}",
        "bad trade id");
    ERR("{\"e\":\"trade\",\"E\":1,\"s\":\"BTCUSDT\",\"t\":1,\"p\":\"1\",\"q\":\"2\","
        "\"m\":\"true\"}",
        "bad flag");
    ERR("{\"e\":\"trade\",\"E\":1,\"s\":123,\"t\":1,\"p\":\"1\",\"q\":\"2\",\"m\":true}",
        "bad symbol");
    ERR("{\"e\":\"trade\",\"E\":\"1\",\"s\":\"X\",\"t\":1,\"p\":\"1\",\"q\":\"2\",\"m\":true}",
        "bad time");
    ERR("{\"e\":\"trade\",\"E\":-5,\"s\":\"X\",\"t\":1,\"p\":\"1\",\"q\":\"2\",\"m\":true}",
        "bad time");
    ERR("{\"e\":\"trade\",\"E\":1.5,\"s\":\"X\",\"t\":1,\"p\":\"1\",\"q\":\"2\",\"m\":true}",
        "bad time");
    ERR("{\"e\":\"trade\",\"s\":\"X\",\"t\":1,\"p\":\"1\",\"q\":\"2\",\"m\":true,\"T\":null}",
        "bad time");
    ERR("{\"e\":5,\"s\":\"X\"}", "bad event type");
    ERR("{\"e\":\"depthUpdate\",\"E\":1,\"s\":\"X\",\"U\":\"1\",\"u\":2,\"b\":[],\"a\":[]}",
        "bad update id");
    ERR("{\"e\":\"depthUpdate\",\"E\":1,\"s\":\"X\",\"U\":3,\"u\":2,\"b\":[],\"a\":[]}",
        "bad update id");
    ERR("{\"e\":\"depthUpdate\",\"E\":1,\"s\":\"X\",\"U\":1,\"u\":2,\"b\":\"x\",\"a\":[]}",
        "bad levels");
    ERR("{\"e\":\"depthUpdate\",\"E\":1,\"s\":\"X\",\"U\":1,\"u\":2,\"b\":[]}", "bad levels");
    ERR("{\"e\":\"depthUpdate\",\"E\":1,\"s\":\"X\",\"U\":1,\"u\":2,\"b\":[[\"1\"]],\"a\":[]}",
        "bad level");
    ERR("{\"e\":\"depthUpdate\",\"E\":1,\"s\":\"X\",\"U\":1,\"u\":2,\"b\":[[1,2]],\"a\":[]}",
        "bad level");
    ERR("{\"e\":\"depthUpdate\",\"E\":1,\"s\":\"X\",\"U\":1,\"u\":2,\"b\":[{}],\"a\":[]}",
        "bad level");
    ERR("{\"e\":\"depthUpdate\",\"E\":1,\"s\":\"X\",\"U\":1,\"u\":2,\"pu\":\"0\",\"b\":[],"
        "\"a\":[]}", "bad update id");
    ERR("{\"e\":\"kline\",\"E\":1,\"s\":\"X\",\"k\":[]}", "bad kline");
    ERR("{\"e\":\"kline\",\"E\":1,\"s\":\"X\",\"k\":{\"t\":1,\"T\":2,\"i\":\"1m1m1m1m\","
        "\"o\":\"1\",\"c\":\"1\",\"h\":\"1\",\"l\":\"1\",\"v\":\"1\",\"q\":\"1\",\"n\":1,"
        "\"x\":true}}", "bad interval");
    ERR("{\"e\":\"kline\",\"E\":1,\"s\":\"X\",\"k\":{\"t\":1,\"T\":2,\"i\":\"1m\","
        "\"o\":\"1\",\"c\":\"1\",\"h\":\"1\",\"l\":\"1\",\"v\":\"1\",\"q\":\"1\",\"n\":1}}",
        "bad flag");
    ERR("{\"stream\":5,\"data\":{}}", "bad envelope");
    ERR("{\"stream\":\"x\",\"data\":[]}", "bad envelope");
    ERR("{\"data\":{\"u\":1}}", "bad envelope");

    /* absurd numbers and strings that are not decimals */
    static const char *const bad_px[] = {
        "1e400", "NaN", "nan", "inf", "-inf", "", " 1", "1 ", "+1", ".5", "1.", "0x10", "1,5",
        "1e5", "99999999999999999999", "92233720368.54775808", "0.000000001", "--1", "1.2.3",
        "\\u0031",
    };
    for (size_t i = 0; i < K_ARRAY_LEN(bad_px); i++) {
        char buf[256];
        int n = snprintf(buf, sizeof buf,
                         "{\"u\":1,\"s\":\"BTCUSDT\",\"b\":\"%s\",\"B\":\"1\",\"a\":\"1\","
                         "\"A\":\"1\"}", bad_px[i]);
        expect_err(buf, (size_t)n, "bad price");
        n = snprintf(buf, sizeof buf,
                     "{\"lastUpdateId\":1,\"bids\":[[\"1\",\"%s\"]],\"asks\":[]}", bad_px[i]);
        expect_err(buf, (size_t)n, "bad qty");
    }
    ERR("{\"u\":1,\"s\":\"BTCUSDT\",\"b\":\"1\",\"B\":\"-0.5\",\"a\":\"1\",\"A\":\"1\"}",
        "negative qty");
    ERR("{\"u\":1,\"s\":\"BTCUSDT\",\"b\":\"-1\",\"B\":\"0.5\",\"a\":\"1\",\"A\":\"1\"}",
        "negative price");
    ERR("{\"lastUpdateId\":1,\"bids\":[[\"-1\",\"1\"]],\"asks\":[]}", "negative price");
    ERR("{\"lastUpdateId\":1,\"bids\":[],\"asks\":[[\"1\",\"-1\"]]}", "negative qty");
    ERR("{\"lastUpdateId\":1e400,\"bids\":[],\"asks\":[]}", "bad update id");
    ERR("{\"lastUpdateId\":99999999999999999999,\"bids\":[],\"asks\":[]}", "bad update id");
    ERR("{\"lastUpdateId\":9223372036854775808,\"bids\":[],\"asks\":[]}", "bad update id");
    ERR("{\"lastUpdateId\":-1,\"bids\":[],\"asks\":[]}", "bad update id");
    CHECK_INT(dec("{\"lastUpdateId\":9223372036854775807,\"bids\":[],\"asks\":[]}", &ev, &why),
              K_OK);
    CHECK_INT(ev.u.depth.last_id, INT64_MAX);

    /* symbols */
    ERR("{\"u\":1,\"s\":\"ABCDEFGHIJKLMNOPQRSTUVWX\",\"b\":\"1\",\"B\":\"1\",\"a\":\"1\","
        "\"A\":\"1\"}", "bad symbol");
    ERR("{\"u\":1,\"s\":\"\",\"b\":\"1\",\"B\":\"1\",\"a\":\"1\",\"A\":\"1\"}", "bad symbol");
    ERR("{\"u\":1,\"s\":\"BTC USDT\",\"b\":\"1\",\"B\":\"1\",\"a\":\"1\",\"A\":\"1\"}",
        "bad symbol");
    ERR("{\"u\":1,\"s\":\"BTC\\u0055SDT\",\"b\":\"1\",\"B\":\"1\",\"a\":\"1\",\"A\":\"1\"}",
        "bad symbol");
    ERR("{\"u\":1,\"b\":\"1\",\"B\":\"1\",\"a\":\"1\",\"A\":\"1\"}", "bad symbol");
    /* only Binance's charset [A-Z0-9] (lowercase folded): wide, bidi, separators are malformed */
    ERR("{\"u\":1,\"s\":\"\xe6\xaf\x94\xe7\x89\xb9\xe5\xb8\x81USD\",\"b\":\"1\",\"B\":\"1\","
        "\"a\":\"1\",\"A\":\"1\"}", "bad symbol"); /* 比特币USD: wide characters */
    ERR("{\"u\":1,\"s\":\"BTC\xe2\x80\xaeUSDT\",\"b\":\"1\",\"B\":\"1\",\"a\":\"1\","
        "\"A\":\"1\"}", "bad symbol"); /* U+202E RIGHT-TO-LEFT OVERRIDE */
    ERR("{\"u\":1,\"s\":\"BTC-USDT\",\"b\":\"1\",\"B\":\"1\",\"a\":\"1\",\"A\":\"1\"}",
        "bad symbol");
    ERR("{\"u\":1,\"s\":\"BTC_USDT\",\"b\":\"1\",\"B\":\"1\",\"a\":\"1\",\"A\":\"1\"}",
        "bad symbol");
    ERR("{\"u\":1,\"s\":\"BTC/USDT\",\"b\":\"1\",\"B\":\"1\",\"a\":\"1\",\"A\":\"1\"}",
        "bad symbol");
    ERR("{\"u\":1,\"s\":\"\xc3\x89THUSDT\",\"b\":\"1\",\"B\":\"1\",\"a\":\"1\",\"A\":\"1\"}",
        "bad symbol"); /* a precomposed letter */
    CHECK_INT(dec("{\"u\":1,\"s\":\"1000SHIBUSDT\",\"b\":\"1\",\"B\":\"1\",\"a\":\"1\","
                  "\"A\":\"1\"}", &ev, &why), K_OK); /* digits are part of the charset */
    CHECK_STR(ev.symbol, "1000SHIBUSDT");

    /* unknown streams and shapes */
    ERR("{\"stream\":\"btcusdt@foo\",\"data\":{\"e\":\"foo\",\"E\":1,\"s\":\"BTCUSDT\"}}",
        "unknown stream");
    ERR("{\"e\":\"forceOrder\",\"E\":1}", "unknown stream");
    ERR("{\"e\":\"\",\"E\":1}", "unknown stream");
    ERR("{\"stream\":\"btcusdt@depth20@100ms\",\"data\":{\"lastUpdateId\":1,\"bids\":[],"
        "\"asks\":[]}}", "partial depth unsupported");
    ERR("{\"stream\":\"btcusdt@depth5\",\"data\":{\"e\":\"depthUpdate\",\"E\":1,\"s\":\"X\","
        "\"U\":1,\"u\":2,\"pu\":0,\"b\":[],\"a\":[]}}", "partial depth unsupported");
    ERR("{\"stream\":\"btcusdt@bookTicker\",\"data\":{\"x\":1}}", "unknown message");
    ERR("{\"code\":3,\"msg\":\"Invalid JSON\"}", "exchange error");
    ERR("{\"error\":{\"code\":2,\"msg\":\"Invalid request\"},\"id\":1}", "exchange error");

    /* duplicate and escaped keys */
    ERR("{\"e\":\"trade\",\"e\":\"trade\",\"E\":1,\"s\":\"X\",\"t\":1,\"p\":\"1\",\"q\":\"2\","
        "\"m\":true}", "duplicate key");
    ERR("{\"stream\":\"a\",\"data\":{\"u\":1},\"data\":{\"u\":2}}", "duplicate key");
    ERR("{\"\\u0065\":\"trade\",\"E\":1,\"s\":\"X\",\"t\":1,\"p\":\"1\",\"q\":\"2\",\"m\":true}",
        "escaped key");

    /* every proper prefix of a real line is refused, and so is every single-byte cut */
    const char *lines[] = {SPOT_DEPTH, SPOT_TICKER, SPOT_TRADE, USDM_DEPTH, KLINE, USDM_SNAPSHOT};
    for (size_t k = 0; k < K_ARRAY_LEN(lines); k++) {
        size_t n = strlen(lines[k]);
        int bad = 0;
        for (size_t i = 0; i < n; i++) {
            char *pre = malloc(i ? i : 1); /* exact size: ASan sees any read past the end */
            memcpy(pre, lines[k], i);
            if (binance_decode(pre, i, &ev, lv_a, CAP, &why) != K_ERR || ev.kind != FEED_NONE)
                bad++;
            free(pre);
        }
        CHECK_INT(bad, 0);
        /* a copy with one byte removed must never crash and never decode to a different
         * message silently: decode it with the reference too and compare when both accept */
        char *cut = malloc(n);
        bad = 0;
        for (size_t i = 0; i < n; i++) {
            memcpy(cut, lines[k], i);
            memcpy(cut + i, lines[k] + i + 1, n - i - 1);
            feed_event r;
            int parsed;
            int ra = binance_decode(cut, n - 1, &ev, lv_a, CAP, &why);
            int rb = ref_decode(cut, n - 1, &r, lv_b, CAP, &why, &parsed);
            if (ra == K_OK && ev.kind != FEED_NONE && !parsed)
                bad++;
            if (ra == K_OK && rb == K_OK && ref_compare(&ev, &r))
                bad++;
        }
        CHECK_INT(bad, 0);
        free(cut);
    }

    /* levels beyond the cap: a real line with a scratch too small, and a huge array */
    CHECK_INT(binance_decode(SPOT_DEPTH, strlen(SPOT_DEPTH), &ev, lv_a, 11, &why), K_ERR);
    CHECK_STR(why, "too many levels");
    CHECK_INT(binance_decode(SPOT_DEPTH, strlen(SPOT_DEPTH), &ev, lv_a, 12, &why), K_OK);
    {
        size_t nlv = 3 * CAP, cap = 64 + nlv * 16;
        char *big = malloc(cap);
        size_t n = (size_t)snprintf(big, cap, "{\"lastUpdateId\":1,\"asks\":[],\"bids\":[");
        for (size_t i = 0; i < nlv; i++)
            n += (size_t)snprintf(big + n, cap - n, "%s[\"%zu.5\",\"1\"]", i ? "," : "", i + 1);
        n += (size_t)snprintf(big + n, cap - n, "]}");
        expect_err(big, n, "too many levels");
        CHECK_INT(binance_decode(big, n, &ev, NULL, 0, &why), K_ERR);
        free(big);
    }

    /* deep nesting: refused past BINANCE_MAX_DEPTH without recursion, even a million deep */
    {
        size_t depth = 1000000, n = 0;
        char *deep = malloc(2 * depth + 64);
        n += (size_t)sprintf(deep, "{\"x\":");
        memset(deep + n, '[', depth);
        n += depth;
        memset(deep + n, ']', depth);
        n += depth;
        deep[n++] = '}';
        expect_err(deep, n, "too deep");
        n = (size_t)sprintf(deep, "{\"x\":");
        for (int i = 0; i < BINANCE_MAX_DEPTH - 1; i++)
            deep[n++] = '[';
        for (int i = 0; i < BINANCE_MAX_DEPTH - 1; i++)
            deep[n++] = ']';
        n += (size_t)sprintf(deep + n, ",\"result\":null}");
        CHECK_INT(binance_decode(deep, n, &ev, lv_a, CAP, &why), K_OK);
        n = (size_t)sprintf(deep, "{\"x\":");
        for (int i = 0; i < BINANCE_MAX_DEPTH; i++)
            deep[n++] = '{', deep[n++] = '"', deep[n++] = 'a', deep[n++] = '"', deep[n++] = ':';
        deep[n++] = '1';
        for (int i = 0; i < BINANCE_MAX_DEPTH; i++)
            deep[n++] = '}';
        deep[n++] = '}';
        expect_err(deep, n, "too deep");
        free(deep);
    }

    /* garbage: deterministic pseudo-random bytes, with and without a leading '{' */
    {
        uint64_t x = 0x9E3779B97F4A7C15ull;
        char buf[512];
        int ok = 0;
        for (int i = 0; i < 20000; i++) {
            size_t n = (size_t)(i % 500) + 1;
            for (size_t j = 0; j < n; j++) {
                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                buf[j] = (char)(x >> 24);
            }
            if (i & 1)
                buf[0] = '{';
            if (binance_decode(buf, n, &ev, lv_a, CAP, &why) == K_OK)
                ok++;
        }
        CHECK_INT(ok, 0);
    }
}

int main(void)
{
    test_fields();
    test_order_and_unknown();
    test_malformed();
    test_differential();
    CHECK_DONE();
}
