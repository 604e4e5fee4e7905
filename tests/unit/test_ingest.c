/* The one ingest pipeline on the real captures: volume reconciliation across timeframes on every
 * shipped capture, no trade lost to a bar close at the default grace, a trade beyond the grace
 * counted late (and its volume), subscribers in order, bad times refused, the market clock driven
 * by the data, and exchange klines through the same path (octobot's 1m bars aggregate into
 * Binance's own 5m bars). */
#include "check.h"

#include "kestrel/clock.h"
#include "kestrel/decimal.h"
#include "kestrel/ingest.h"
#include "kestrel/klines.h"
#include "kestrel/replay.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct vol {
    __int128 traded[8]; /* per symbol index: sum of MARKET_TRADE quantities */
    uint64_t trades, notes, order_bad, added_bad;
    int last_sub; /* which subscriber saw the last note */
} vol;

static void on_first(void *ud, const market_note *n)
{
    vol *v = ud;
    v->notes++;
    if (v->last_sub != 2 && v->notes > 1)
        v->order_bad++; /* the second subscriber must have seen the previous note */
    v->last_sub = 1;
    if (n->kind == MARKET_SYMBOL_ADDED && n->sym->px_decimals == 0 && n->sym->trades > 0)
        v->added_bad++; /* announced after its first event: the decimals it taught are known */
    if (n->kind == MARKET_TRADE && n->sym->index < 8) {
        v->traded[n->sym->index] += n->ev->u.trade.qty;
        v->trades++;
    }
}

static void on_second(void *ud, const market_note *n)
{
    (void)n;
    vol *v = ud;
    if (v->last_sub != 1)
        v->order_bad++;
    v->last_sub = 2;
}

static __int128 series_volume(const candles *c)
{
    __int128 sum = 0;
    for (uint32_t i = 0; i < candles_count(c); i++)
        sum += candles_get(c, i)->volume;
    if (candles_forming(c))
        sum += candles_forming(c)->volume;
    return sum + candles_late_volume(c);
}

/* Replays specs through the pipeline; checks reconciliation and returns the late count. */
static uint64_t run_capture(const char *const *specs, int n, int64_t grace, uint64_t *lines_out)
{
    char err[256];
    replay *r = NULL;
    CHECK_INT(replay_open(&r, specs, n, err, sizeof err), K_OK);
    if (!r) {
        fprintf(stderr, "%s\n", err);
        return UINT64_MAX;
    }
    market *m = market_new(NULL);
    kclock *clk = kclock_new_simulated();
    ingest_opts o = {.grace_ms = grace};
    ingest *p = ingest_new(m, clk, &o);
    static vol v;
    memset(&v, 0, sizeof v);
    CHECK_INT(market_subscribe(m, on_first, &v), K_OK);
    CHECK_INT(market_subscribe(m, on_second, &v), K_OK);
    uint64_t lines = ingest_replay_all(p, r, 0);
    ingest_finish(p);
    if (lines_out)
        *lines_out = lines;
    CHECK_INT(ingest_dropped(p), 0);
    CHECK_INT(v.order_bad, 0);
    CHECK_INT(v.added_bad, 0);
    CHECK(v.trades > 1000);
    CHECK_INT(kclock_now_ms(clk), ingest_clock_ms(p)); /* the market clock is the data's */
    uint64_t late = 0;
    for (uint32_t i = 0; i < market_count(m); i++) {
        market_sym *s = market_at(m, i);
        static const enum tf tfs[] = {TF_1S, TF_1M, TF_5M};
        for (int k = 0; k < 3; k++) {
            __int128 got = series_volume(s->series[tfs[k]]);
            if (got != v.traded[i])
                fprintf(stderr, "%s %s: bars + late %.8f, traded %.8f\n", s->name,
                        tf_name(tfs[k]), (double)got / 1e8, (double)v.traded[i] / 1e8);
            CHECK(got == v.traded[i]);
        }
        late += candles_late(s->series[TF_1S]);
    }
    ingest_free(p);
    kclock_free(clk);
    market_free(m);
    replay_close(r);
    return late;
}

static void test_reconcile(void)
{
    static const char *const bundled[] = {
        "data/replay/btcusdt_20240808.gz", "data/replay/btcusdt_20240809.gz",
        "data/replay/ethusdt_20240808.gz", "data/replay/ethusdt_20240809.gz"};
    uint64_t lines = 0;
    CHECK_INT(run_capture(bundled, 4, 250, &lines), 0); /* default grace: no trade lost */
    CHECK_INT(lines, 179318);
    /* without a grace, trades whose T lags the depth stream's E are late (the old defect) —
     * counted with their volume, so reconciliation still holds */
    CHECK(run_capture(bundled, 4, 0, NULL) > 100);

    char a[600], b[600];
    snprintf(a, sizeof a, "usdm:%s/binance/streams/usdm/btcusdt_20240808.gz",
             check_shared_data());
    snprintf(b, sizeof b, "usdm:%s/binance/streams/usdm/ethusdt_20240808.gz",
             check_shared_data());
    const char *usdm[] = {a, b};
    CHECK_INT(run_capture(usdm, 2, 250, &lines), 0);
    CHECK_INT(lines, 93954 + 74655);
}

/* Feeds BTCUSDT 08 through the pipeline, then a real trade of it again at a given lag behind
 * the venue clock. Returns the 1s late count after it. */
static uint64_t lagging_trade(int64_t lag_ms, kdec *qty_out, bool *reconciled)
{
    static const char *const spec[] = {"data/replay/btcusdt_20240808.gz"};
    char err[256];
    replay *r = NULL;
    if (replay_open(&r, spec, 1, err, sizeof err) != K_OK)
        return UINT64_MAX;
    market *m = market_new(NULL);
    ingest *p = ingest_new(m, NULL, &(ingest_opts){.grace_ms = 250});
    static vol v;
    memset(&v, 0, sizeof v);
    market_subscribe(m, on_first, &v);
    market_subscribe(m, on_second, &v);
    replay_line ln;
    feed_event tr;
    memset(&tr, 0, sizeof tr);
    while (replay_next(r, &ln) > 0) {
        ingest_replay_line(p, r, &ln, NULL);
        market_sym *s = market_find(m, VENUE_BINANCE_SPOT, "BTCUSDT");
        if (s && s->trades == 5000 && tr.kind == FEED_NONE) {
            const tape_trade *t = tape_get(s->tape, 0); /* the real 5000th trade */
            tr.kind = FEED_TRADE;
            tr.venue = VENUE_BINANCE_SPOT;
            snprintf(tr.symbol, sizeof tr.symbol, "BTCUSDT");
            tr.u.trade.px = t->px;
            tr.u.trade.qty = t->qty;
            tr.u.trade.id = 1;
        }
    }
    market_sym *s = market_find(m, VENUE_BINANCE_SPOT, "BTCUSDT");
    uint64_t before = candles_late(s->series[TF_1S]);
    int64_t clock = ingest_venue_clock_ms(p, VENUE_BINANCE_SPOT);
    tr.event_ms = tr.u.trade.time_ms = clock - lag_ms;
    tr.recv_ns = clock * 1000000LL;
    CHECK_INT(ingest_event(p, &tr, NULL), INGEST_OK);
    uint64_t late = candles_late(s->series[TF_1S]) - before;
    *qty_out = tr.u.trade.qty;
    *reconciled = series_volume(s->series[TF_1S]) == v.traded[s->index] &&
                  series_volume(s->series[TF_1M]) == v.traded[s->index];
    ingest_free(p);
    market_free(m);
    replay_close(r);
    return late;
}

static void test_grace(void)
{
    kdec q;
    bool rec = false;
    CHECK_INT(lagging_trade(249, &q, &rec), 0); /* within the grace: lands in its own bar */
    CHECK(rec);
    CHECK_INT(lagging_trade(2500, &q, &rec), 1); /* beyond it: late, counted */
    CHECK(rec);                                  /* ... with its volume */
    CHECK(q > 0);
}

static void test_bad_time(void)
{
    market *m = market_new(NULL);
    ingest *p = ingest_new(m, NULL, NULL);
    const char *msg = "{\"stream\":\"btcusdt@trade\",\"data\":{\"e\":\"trade\",\"E\":1723161255208,"
                      "\"s\":\"BTCUSDT\",\"t\":1,\"p\":\"61737.63\",\"q\":\"0.001\","
                      "\"T\":1723161255207,\"m\":true,\"M\":true}}";
    ingest_frame f = {.venue = VENUE_BINANCE_SPOT, .bytes = msg, .len = strlen(msg),
                      .recv_ns = 1723161255300LL * 1000000LL};
    const char *why = NULL;
    CHECK_INT(ingest_frame_apply(p, &f, &why), INGEST_OK);
    CHECK_INT(ingest_clock_ms(p), 1723161255208LL);
    f.recv_ns += 11LL * 60 * 1000 * 1000000LL; /* received 11 minutes after its exchange time */
    CHECK_INT(ingest_frame_apply(p, &f, &why), INGEST_BAD_TIME);
    CHECK(why != NULL);
    CHECK_INT(ingest_clock_ms(p), 1723161255208LL); /* the clock did not move */
    f.len -= 3;                                     /* cut off: malformed, dropped, counted */
    CHECK_INT(ingest_frame_apply(p, &f, &why), INGEST_MALFORMED);
    CHECK_INT(ingest_get_stats(p)->malformed, 1);
    CHECK_INT(ingest_get_stats(p)->bad_time, 1);
    CHECK_INT(ingest_dropped(p), 2);
    CHECK_INT(ingest_get_stats(p)->venue[VENUE_BINANCE_SPOT].frames, 3);
    const char *ack = "{\"result\":null,\"id\":1}";
    f.bytes = ack;
    f.len = strlen(ack);
    CHECK_INT(ingest_frame_apply(p, &f, &why), INGEST_IGNORED);
    ingest_free(p);
    market_free(m);
}

/* Binance's own 5m bars = octobot's 1m bars through the pipeline (FEED_KLINE path). */
static void test_klines(void)
{
    char p1[600], p5[600], err[256];
    snprintf(p1, sizeof p1, "%s/klines/octobot/binance_BTCUSDT_1m_1524880320.csv",
             check_shared_data());
    snprintf(p5, sizeof p5, "%s/klines/octobot/binance_BTCUSDT_5m_1524760500.csv",
             check_shared_data());
    klines *k1 = NULL, *k5 = NULL;
    CHECK_INT(klines_open(&k1, p1, VENUE_BINANCE_SPOT, "BTCUSDT", "", err, sizeof err), K_OK);
    CHECK_INT(klines_open(&k5, p5, VENUE_BINANCE_SPOT, "BTCUSDT", "5m", err, sizeof err), K_OK);
    if (!k1 || !k5) {
        fprintf(stderr, "%s\n", err);
        return;
    }
    CHECK_INT(klines_tf(k1), TF_1M);
    market *m = market_new(NULL);
    kclock *clk = kclock_new_simulated();
    ingest *p = ingest_new(m, clk, NULL);
    feed_event ev;
    int r;
    static int64_t have[1024]; /* the 1m open times in the file */
    int nhave = 0;
    while ((r = klines_next(k1, &ev)) != 0)
        if (r > 0) {
            CHECK_INT(ingest_event(p, &ev, NULL), INGEST_OK);
            if (nhave < 1024)
                have[nhave++] = ev.u.kline.open_ms;
        }
    CHECK_INT(klines_rows(k1), 502);
    CHECK_INT(klines_bad(k1), 0);
    market_sym *s = market_find(m, VENUE_BINANCE_SPOT, "BTCUSDT");
    CHECK(s && s->bars_from_klines);
    if (!s)
        return;
    /* 502 rows over 503 minutes: the missing minute is a gap-filled bar */
    CHECK_INT(candles_count(s->series[TF_1M]), 503);
    const candles *c5 = s->series[TF_5M];
    int matched = 0, compared = 0;
    while ((r = klines_next(k5, &ev)) != 0) {
        if (r < 0)
            continue;
        for (uint32_t i = 0; i < candles_count(c5); i++) {
            const candle *b = candles_get(c5, i);
            if (b->open_ms != ev.u.kline.open_ms || (b->flags & CANDLE_PARTIAL))
                continue;
            int covered = 0; /* fully covered: all five minutes are rows of the 1m file */
            for (int j = 0; j < nhave; j++)
                covered += have[j] >= b->open_ms && have[j] < b->open_ms + 300000;
            if (covered != 5)
                continue;
            compared++;
            matched += b->o == ev.u.kline.o && b->h == ev.u.kline.h && b->l == ev.u.kline.l &&
                       b->c == ev.u.kline.c && b->volume == ev.u.kline.volume;
        }
    }
    CHECK(compared >= 90);
    CHECK_INT(matched, compared);
    /* the first 5m bar began before the 1m data did (01:52 in a 01:50 bar): partial */
    CHECK(candles_count(c5) > 0 && (candles_get(c5, 0)->flags & CANDLE_PARTIAL));
    CHECK(!(candles_get(s->series[TF_1M], 0)->flags & CANDLE_PARTIAL)); /* klines are whole */
    CHECK_INT(kclock_now_ms(clk), 1524880320000LL + 503 * 60000LL); /* the last bar's end */
    ingest_free(p);
    kclock_free(clk);
    market_free(m);
    klines_close(k1);
    klines_close(k5);
}

/* The first 1h / 4h / 1d bars of the bundled replay (which starts at 23:54) are partial; the
 * 1h bar that follows midnight is whole. */
static void test_partial(void)
{
    static const char *const spec[] = {"data/replay/btcusdt_20240808.gz",
                                       "data/replay/btcusdt_20240809.gz"};
    char err[256];
    replay *r = NULL;
    CHECK_INT(replay_open(&r, spec, 2, err, sizeof err), K_OK);
    if (!r)
        return;
    market *m = market_new(NULL);
    ingest *p = ingest_new(m, NULL, NULL);
    ingest_replay_all(p, r, 0);
    market_sym *s = market_find(m, VENUE_BINANCE_SPOT, "BTCUSDT");
    CHECK(s != NULL);
    if (s) {
        static const enum tf tfs[] = {TF_1H, TF_4H, TF_1D};
        for (int k = 0; k < 3; k++) {
            const candles *c = s->series[tfs[k]];
            CHECK_INT(candles_count(c), 1);
            CHECK(candles_count(c) && (candles_get(c, 0)->flags & CANDLE_PARTIAL));
            CHECK(candles_forming(c) && !(candles_forming(c)->flags & CANDLE_PARTIAL));
        }
        const candles *c1 = s->series[TF_1M];
        CHECK(candles_get(c1, 0) && (candles_get(c1, 0)->flags & CANDLE_PARTIAL));
        CHECK(candles_get(c1, 1) && !(candles_get(c1, 1)->flags & CANDLE_PARTIAL));
    }
    ingest_free(p);
    market_free(m);
    replay_close(r);
}

/* The one kline reader: more than 8 decimals rounded half away from zero to 1e-8 and counted,
 * inconsistent and misaligned rows refused with their line numbers, in file order. */
static void test_klines_rows(void)
{
    char path[] = "/tmp/kestrel-klines-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd < 0)
        return;
    const char *csv = "open_time_ms,open,high,low,close,volume\n"
                      "60000,1.000000005,1.000000005,1,1,0.123456784999\n" /* line 2 */
                      "120000,1,1,2,1,1\n"                                 /* 3: high < low */
                      "150000,1,1,1,1,1\n"                                 /* 4: misaligned */
                      "180000,1,1,1,1,-1\n"                                /* 5: volume < 0 */
                      "240000,1,1,1,1,1e3\n"                               /* 6: exponent */
                      "300000,3,3,3,3,7\n";
    CHECK_INT((long long)write(fd, csv, strlen(csv)), (long long)strlen(csv));
    close(fd);
    klines *k = NULL;
    char err[256];
    CHECK_INT(klines_open(&k, path, VENUE_BINANCE_SPOT, "BTCUSDT", "1m", err, sizeof err), K_OK);
    if (!k) {
        unlink(path);
        return;
    }
    feed_event ev;
    CHECK_INT(klines_next(k, &ev), 1);
    CHECK_INT(ev.u.kline.o, 100000001LL);  /* 1.000000005 -> 1.00000001 */
    CHECK_INT(ev.u.kline.volume, 12345678LL); /* 0.123456784999 -> 0.12345678 */
    CHECK_INT(klines_line(k), 2);
    static const uint64_t bad_lines[] = {3, 4, 5, 6};
    static const char *const reasons[] = {"high < low", "not aligned", "negative volume",
                                          "not a decimal"};
    for (int i = 0; i < 4; i++) {
        CHECK_INT(klines_next(k, &ev), -1);
        CHECK_INT(klines_line(k), bad_lines[i]);
        CHECK(strstr(klines_error(k), reasons[i]) != NULL);
    }
    CHECK_INT(klines_next(k, &ev), 1);
    CHECK_INT(ev.u.kline.c, 300000000LL);
    CHECK_INT(klines_next(k, &ev), 0);
    CHECK_INT(klines_rows(k), 2);
    CHECK_INT(klines_bad(k), 4);
    CHECK_INT(klines_rounded(k), 1);
    CHECK(klines_io_error(k) == NULL);
    klines_close(k);
    unlink(path);
}

int main(void)
{
    test_klines_rows();
    test_reconcile();
    test_grace();
    test_bad_time();
    test_klines();
    test_partial();
    CHECK_DONE();
}
