/* market: the whole model fed the real captures event by event (routing, counters, learned
 * decimals, notes to the listener), the known final states, gap/resync/crossed notes, and the
 * malformed-event and table-full paths. */
#include "check.h"

#include "capture_stream.h"
#include "kestrel/chartta.h"
#include "kestrel/klines.h"
#include "kestrel/market.h"
#include "kestrel/ta.h"

#include <math.h>

static kdec D(const char *s)
{
    kdec v = 0;
    if (decimal_parse(s, strlen(s), &v) != K_OK)
        fprintf(stderr, "bad decimal %s\n", s);
    return v;
}

typedef struct notes {
    uint64_t added, gap, synced, resynced, crossed, bars[TF_COUNT], bad, trades, tops, decimals;
    uint64_t funding, revised;
    market_sym *sym;
} notes;

static void on_note(void *ud, const market_note *n)
{
    notes *c = ud;
    if (!n->sym) {
        c->bad++;
        return;
    }
    switch (n->kind) {
    case MARKET_SYMBOL_ADDED:
        c->added++;
        c->sym = n->sym;
        break;
    case MARKET_BAR_CLOSED:
        if ((unsigned)n->tf >= TF_COUNT || !n->bar || n->bar->open_ms % tf_ms(n->tf) != 0) {
            c->bad++;
            break;
        }
        c->bars[n->tf]++;
        break;
    case MARKET_BOOK_GAP:
        c->gap++;
        if (book_is_live(n->sym->book))
            c->bad++;
        break;
    case MARKET_BOOK_SYNCED:
        c->synced++;
        c->resynced += n->resync;
        if (!book_is_live(n->sym->book))
            c->bad++;
        break;
    case MARKET_BOOK_CROSSED:
        c->crossed++;
        break;
    case MARKET_TRADE:
        c->trades++;
        if (!n->ev || n->ev->kind != FEED_TRADE || n->sym->trades == 0)
            c->bad++;
        break;
    case MARKET_TOP_CHANGED:
        c->tops++;
        break;
    case MARKET_DECIMALS:
        c->decimals++;
        break;
    case MARKET_BAR_REVISED:
        c->revised++;
        break;
    case MARKET_FUNDING:
        c->funding++;
        if (!n->ev || n->ev->kind != FEED_FUNDING)
            c->bad++;
        break;
    }
    if (n->kind != MARKET_SYMBOL_ADDED && c->added == 0)
        c->bad++, fprintf(stderr, "note %d before its symbol was announced\n", n->kind);
}

typedef struct replay_out {
    uint64_t events, trades, tickers, diffs, errors;
    kdec first_px, last_px, tbid, task, tbidq, taskq;
    int px_dec, qty_dec;
    int64_t last_ms;
} replay_out;

/* Feeds every event of the capture to market_apply, and keeps the test's own truth. */
static void replay(market *m, enum venue v, const char *sym, const char *f1, const char *f2,
                   int drop_diff, replay_out *o)
{
    memset(o, 0, sizeof *o);
    cap_stream s;
    stream_init(&s, v, sym, f1, f2);
    feed_event ev;
    int ndiff = 0;
    while (stream_next(&s, &ev)) {
        if (ev.kind == FEED_DEPTH_DIFF && ndiff++ == drop_diff)
            continue;
        o->events++;
        if (market_apply(m, &ev) != K_OK)
            o->errors++;
        if (ev.event_ms > o->last_ms)
            o->last_ms = ev.event_ms;
        if (ev.kind == FEED_TRADE) {
            o->trades++;
            if (!o->first_px)
                o->first_px = ev.u.trade.px;
            o->last_px = ev.u.trade.px;
            o->px_dec = K_MAX(o->px_dec, decimal_places(ev.u.trade.px));
            o->qty_dec = K_MAX(o->qty_dec, decimal_places(ev.u.trade.qty));
        } else if (ev.kind == FEED_BOOK_TICKER) {
            o->tickers++;
            o->tbid = ev.u.ticker.bid_px;
            o->task = ev.u.ticker.ask_px;
            o->tbidq = ev.u.ticker.bid_qty;
            o->taskq = ev.u.ticker.ask_qty;
            o->px_dec = K_MAX(o->px_dec, decimal_places(ev.u.ticker.bid_px));
            o->px_dec = K_MAX(o->px_dec, decimal_places(ev.u.ticker.ask_px));
            o->qty_dec = K_MAX(o->qty_dec, decimal_places(ev.u.ticker.bid_qty));
            o->qty_dec = K_MAX(o->qty_dec, decimal_places(ev.u.ticker.ask_qty));
        } else if (ev.kind == FEED_DEPTH_DIFF) {
            o->diffs++;
        } else if (ev.kind == FEED_DEPTH_SNAPSHOT) {
            for (uint32_t i = 0; i < ev.u.depth.nbids; i++) {
                o->px_dec = K_MAX(o->px_dec, decimal_places(ev.u.depth.bids[i].px));
                o->qty_dec = K_MAX(o->qty_dec, decimal_places(ev.u.depth.bids[i].qty));
            }
            for (uint32_t i = 0; i < ev.u.depth.nasks; i++) {
                o->px_dec = K_MAX(o->px_dec, decimal_places(ev.u.depth.asks[i].px));
                o->qty_dec = K_MAX(o->qty_dec, decimal_places(ev.u.depth.asks[i].qty));
            }
        }
    }
    CHECK_INT(s.errors, 0);
    stream_close(&s);
}

static void test_spot_btc(void)
{
    market *m = market_new(NULL);
    notes n;
    memset(&n, 0, sizeof n);
    CHECK_INT(market_subscribe(m, on_note, &n), K_OK);
    replay_out o;
    replay(m, VENUE_BINANCE_SPOT, "BTCUSDT", SPOT_BTC_08, SPOT_BTC_09, -1, &o);
    CHECK_INT(o.errors, 0);
    CHECK_INT(market_count(m), 1);
    market_sym *s = market_find(m, VENUE_BINANCE_SPOT, "BTCUSDT");
    CHECK(s != NULL);
    if (!s) {
        market_free(m);
        return;
    }
    CHECK(market_at(m, 0) == s);
    CHECK(market_at(m, 1) == NULL);
    CHECK(market_find(m, VENUE_BINANCE_USDM, "BTCUSDT") == NULL);
    CHECK(n.sym == s);
    CHECK_INT(n.added, 1);
    CHECK_INT(n.synced, 1);
    CHECK_INT(n.resynced, 0);
    CHECK_INT(n.gap, 0);
    CHECK_INT(n.crossed, 0);
    CHECK_INT(n.bad, 0);

    CHECK_INT(s->trades, 9757 + 10147);
    CHECK_INT(n.trades, 9757 + 10147); /* one MARKET_TRADE note per trade */
    CHECK(n.tops > 1000 && n.tops <= s->tickers + s->diffs); /* top-of-book changes */
    /* the first message is a diff (decimals are not learned from diffs): the snapshot and the
     * first trades teach them, each growth announced once */
    CHECK(n.decimals >= 1 && n.decimals <= 4);
    CHECK_INT(s->px_decimals, o.px_dec);
    CHECK_INT(s->tickers, 28040 + 45134);
    CHECK_INT(s->diffs, 3451 + 3044);
    CHECK_INT(s->trades, o.trades);
    CHECK_INT(s->diffs, o.diffs);
    const book_stats *st = book_get_stats(s->book);
    CHECK_INT(st->diffs_applied, 6493);
    CHECK_INT(st->gaps, 0);
    CHECK_INT(st->crossed, 0);
    kdec bid, ask, bq, aq;
    CHECK(book_best(s->book, &bid, &bq, &ask, &aq));
    CHECK_INT(bid, D("61602.01"));
    CHECK_INT(ask, D("61602.02"));
    CHECK_INT(s->tick_bid, bid);
    CHECK_INT(s->tick_ask, ask);
    CHECK_INT(s->tick_bid_qty, bq);
    CHECK_INT(s->tick_ask_qty, aq);
    CHECK_INT(s->tick_bid, o.tbid);
    CHECK_INT(s->last_px, o.last_px);
    CHECK_INT(s->ref_px, o.first_px);
    CHECK(s->ref_px != s->last_px);
    CHECK_INT(s->last_event_ms, o.last_ms);
    CHECK_INT(s->px_decimals, o.px_dec);
    CHECK_INT(s->qty_decimals, o.qty_dec);
    CHECK_INT(s->px_decimals, 2);
    CHECK_INT(s->qty_decimals, 5);
    CHECK_INT(s->dirty, o.events + 1); /* every event, plus the creation */
    CHECK_INT(tape_count(s->tape), 512);
    CHECK_INT(tape_get(s->tape, 0)->px, o.last_px);
    CHECK(tape_get(s->tape, 512) == NULL);
    CHECK_INT(s->last_trade_ms, tape_get(s->tape, 0)->time_ms);
    for (int t = 0; t < TF_COUNT; t++) {
        CHECK_INT(n.bars[t], candles_total_closed(s->series[t]));
        CHECK(candles_forming(s->series[t]) != NULL);
        CHECK_INT(candles_forming(s->series[t])->c, o.last_px);
    }
    CHECK(n.bars[TF_1S] > 600);
    CHECK_INT(n.bars[TF_1D], 1); /* the capture crosses 2024-08-09 00:00 UTC */

    /* the data clock: a day later every series has closed its forming bar */
    uint64_t before[TF_COUNT], dirty = s->dirty;
    for (int t = 0; t < TF_COUNT; t++)
        before[t] = n.bars[t];
    market_advance(m, o.last_ms); /* may close the last 1s bar; never reopens anything */
    CHECK(s->dirty >= dirty);
    market_advance(m, o.last_ms + 86400000LL);
    for (int t = 0; t < TF_COUNT; t++) {
        CHECK(n.bars[t] > before[t]);
        CHECK_INT(n.bars[t], candles_total_closed(s->series[t]));
        CHECK_INT(candles_forming(s->series[t])->trades, 0);
    }
    CHECK(s->dirty > dirty);
    dirty = s->dirty;
    market_advance(m, o.last_ms + 86400000LL); /* nothing new: no bump */
    CHECK_INT(s->dirty, dirty);
    CHECK_INT(n.bad, 0);
    market_free(m);
}

static void test_spot_eth_display(void)
{
    market_limits lim = {.max_symbols = 4, .book_levels = 2000, .book_buffered = 256,
                         .tape_size = 64, .candles_max = 100};
    market *m = market_new(&lim);
    replay_out o;
    replay(m, VENUE_BINANCE_SPOT, "ETHUSDT", SPOT_ETH_08, SPOT_ETH_09, -1, &o);
    CHECK_INT(o.errors, 0);
    market_sym *s = market_find(m, VENUE_BINANCE_SPOT, "ETHUSDT");
    CHECK(s != NULL);
    if (!s) {
        market_free(m);
        return;
    }
    kdec bid, ask;
    CHECK(book_best(s->book, &bid, NULL, &ask, NULL));
    CHECK_INT(s->px_decimals, 2);
    CHECK_INT(s->px_decimals, o.px_dec);
    CHECK_INT(s->qty_decimals, o.qty_dec);
    char b1[32], b2[32];
    decimal_format(bid, s->px_decimals, b1, sizeof b1);
    decimal_format(ask, s->px_decimals, b2, sizeof b2);
    CHECK_STR(b1, "2677.60");
    CHECK_STR(b2, "2677.61");
    CHECK_INT(s->tick_bid, bid);
    CHECK_INT(s->tick_ask, ask);
    CHECK_INT(tape_count(s->tape), 64);
    CHECK_INT(candles_count(s->series[TF_1S]), 100);
    CHECK_INT(book_get_stats(s->book)->gaps, 0);
    market_free(m);
}

static void test_usdm_two_symbols(void)
{
    market *m = market_new(NULL);
    notes n;
    memset(&n, 0, sizeof n);
    CHECK_INT(market_subscribe(m, on_note, &n), K_OK);
    replay_out ob, oe;
    replay(m, VENUE_BINANCE_USDM, "BTCUSDT", USDM_BTC_08, NULL, -1, &ob);
    replay(m, VENUE_BINANCE_USDM, "ETHUSDT", USDM_ETH_08, NULL, -1, &oe);
    CHECK_INT(ob.errors, 0);
    CHECK_INT(oe.errors, 0);
    CHECK_INT(market_count(m), 2);
    CHECK_INT(n.added, 2);
    CHECK_INT(n.synced, 2);
    CHECK_INT(n.gap, 0);
    CHECK_INT(n.crossed, 0);
    market_sym *b = market_find(m, VENUE_BINANCE_USDM, "BTCUSDT");
    market_sym *e = market_find(m, VENUE_BINANCE_USDM, "ETHUSDT");
    CHECK(b && e && b != e);
    if (!b || !e) {
        market_free(m);
        return;
    }
    CHECK_INT(b->index, 0);
    CHECK_INT(e->index, 1);
    CHECK_INT(book_get_stats(b->book)->diffs_applied, 6547);
    CHECK_INT(book_get_stats(e->book)->diffs_applied, 6581);
    CHECK_INT(b->diffs, 6551);
    CHECK_INT(e->diffs, 6586);
    CHECK_INT(b->trades, 21313);
    CHECK_INT(e->trades, 14076);
    CHECK_INT(b->px_decimals, ob.px_dec);
    CHECK_INT(e->px_decimals, oe.px_dec);
    CHECK_INT(b->qty_decimals, ob.qty_dec);
    CHECK_INT(e->qty_decimals, oe.qty_dec);
    CHECK_INT(b->qty_decimals, 3); /* USD-M BTCUSDT lot 0.001 */
    kdec bid, ask;
    CHECK(book_best(b->book, &bid, NULL, &ask, NULL));
    CHECK_INT(bid, b->tick_bid);
    CHECK_INT(ask, b->tick_ask);
    CHECK(book_best(e->book, &bid, NULL, &ask, NULL));
    CHECK_INT(bid, e->tick_bid);
    CHECK_INT(ask, e->tick_ask);
    /* the same name on another venue is another symbol */
    market_sym *spot = market_add(m, VENUE_BINANCE_SPOT, "BTCUSDT");
    CHECK(spot && spot != b);
    CHECK_INT(market_count(m), 3);
    CHECK(market_add(m, VENUE_BINANCE_USDM, "BTCUSDT") == b);
    CHECK_INT(market_count(m), 3);
    CHECK_INT(n.bad, 0);
    market_free(m);
}

/* One lost diff: exactly one gap note; a later snapshot (the reference model's real book
 * state) gives a SYNCED note flagged as a resync; a crossing diff gives a CROSSED note. */
static void test_gap_resync_notes(void)
{
    market *ref = market_new(NULL);
    market *m = market_new(NULL);
    notes n;
    memset(&n, 0, sizeof n);
    CHECK_INT(market_subscribe(m, on_note, &n), K_OK);
    replay_out o1, o2;
    replay(ref, VENUE_BINANCE_SPOT, "BTCUSDT", SPOT_BTC_08, SPOT_BTC_09, -1, &o1);
    replay(m, VENUE_BINANCE_SPOT, "BTCUSDT", SPOT_BTC_08, SPOT_BTC_09, 1000, &o2);
    CHECK_INT(o2.errors, 0);
    CHECK_INT(n.gap, 1);
    CHECK_INT(n.synced, 1);
    CHECK_INT(n.resynced, 0);
    market_sym *s = market_find(m, VENUE_BINANCE_SPOT, "BTCUSDT");
    market_sym *r = market_find(ref, VENUE_BINANCE_SPOT, "BTCUSDT");
    CHECK(s && r);
    if (!s || !r) {
        market_free(ref);
        market_free(m);
        return;
    }
    CHECK_INT(book_state(s->book), BOOK_RESYNCING);
    kdec bid, ask;
    CHECK(!book_best(s->book, &bid, NULL, &ask, NULL));
    /* trades, tickers and candles are unaffected by the book */
    CHECK_INT(s->trades, r->trades);
    CHECK_INT(s->last_px, r->last_px);
    CHECK_INT(candles_total_closed(s->series[TF_1S]), candles_total_closed(r->series[TF_1S]));

    /* the reference's final book as a snapshot: older than the newest buffered diffs? no: it
     * is at the last id, so every buffered diff is dropped and the book is live again */
    owned_ev snap = {0};
    own_snapshot_of(&snap, r->book, "BTCUSDT");
    CHECK_INT(market_apply(m, &snap.ev), K_OK);
    CHECK_INT(n.synced, 2);
    CHECK_INT(n.resynced, 1);
    CHECK(books_equal(r->book, s->book));
    CHECK_INT(book_get_stats(s->book)->resyncs, 1);

    /* a diff that crosses the book: one note; a second crossed diff: no new note */
    feed_level lv = {0, D("1")};
    CHECK(book_best(s->book, &bid, NULL, &ask, NULL));
    lv.px = ask;
    feed_event d;
    memset(&d, 0, sizeof d);
    d.kind = FEED_DEPTH_DIFF;
    d.venue = VENUE_BINANCE_SPOT;
    snprintf(d.symbol, sizeof d.symbol, "BTCUSDT");
    d.u.depth.first_id = d.u.depth.last_id = book_last_id(s->book) + 1;
    d.u.depth.bids = &lv;
    d.u.depth.nbids = 1;
    CHECK_INT(market_apply(m, &d), K_OK);
    CHECK_INT(n.crossed, 1);
    d.u.depth.first_id = d.u.depth.last_id = book_last_id(s->book) + 1;
    CHECK_INT(market_apply(m, &d), K_OK);
    CHECK_INT(n.crossed, 1);
    /* a malformed diff is K_ERR (counted by the caller), the book counts it too */
    d.u.depth.first_id = d.u.depth.last_id + 5;
    CHECK_INT(market_apply(m, &d), K_ERR);
    CHECK_INT(book_get_stats(s->book)->rejected, 1);
    CHECK_INT(n.bad, 0);
    own_free(&snap);
    market_free(ref);
    market_free(m);
}

static void test_errors_and_table(void)
{
    market_limits lim = {.max_symbols = 2};
    market *m = market_new(&lim);
    notes n;
    memset(&n, 0, sizeof n);
    CHECK_INT(market_subscribe(m, on_note, &n), K_OK);

    /* the real snapshot line carries no symbol: unusable until the caller fills it */
    cap_reader r;
    CHECK_INT(cap_open(&r, SPOT_BTC_08, VENUE_BINANCE_SPOT, "BTCUSDT"), 0);
    r.fill_snapshot_symbol = false;
    feed_event ev;
    int rc;
    bool found = false;
    while ((rc = cap_next(&r, &ev)) != 0) {
        if (rc > 0 && ev.kind == FEED_DEPTH_SNAPSHOT) {
            found = true;
            CHECK_STR(ev.symbol, "");
            CHECK_INT(market_apply(m, &ev), K_ERR);
            CHECK_INT(market_count(m), 0);
            snprintf(ev.symbol, sizeof ev.symbol, "BTCUSDT");
            CHECK_INT(market_apply(m, &ev), K_OK); /* unknown symbol: added */
            CHECK_INT(market_count(m), 1);
            break;
        }
    }
    CHECK(found);
    cap_close(&r);
    CHECK_INT(n.added, 1);
    CHECK_INT(n.synced, 1);

    feed_event t;
    memset(&t, 0, sizeof t);
    t.kind = FEED_TRADE;
    t.venue = VENUE_BINANCE_SPOT;
    snprintf(t.symbol, sizeof t.symbol, "ETHUSDT");
    t.u.trade.px = 0; /* malformed: refused before it can take a table slot */
    t.u.trade.qty = D("1");
    t.u.trade.time_ms = 1723161600000LL;
    CHECK_INT(market_apply(m, &t), K_ERR);
    CHECK_INT(market_count(m), 1);
    t.u.trade.px = D("2677.61");
    t.u.trade.qty = -1;
    CHECK_INT(market_apply(m, &t), K_ERR);
    t.u.trade.qty = D("0.5");
    t.u.trade.time_ms = 0; /* no T and no E: no bar to put it in */
    CHECK_INT(market_apply(m, &t), K_ERR);
    CHECK_INT(market_count(m), 1);
    t.event_ms = 1723161600000LL; /* E is the fallback */
    CHECK_INT(market_apply(m, &t), K_OK);
    CHECK_INT(market_count(m), 2);
    market_sym *e = market_find(m, VENUE_BINANCE_SPOT, "ETHUSDT");
    CHECK(e && e->trades == 1 && e->ref_px == D("2677.61") && e->px_decimals == 2 &&
          e->qty_decimals == 1);
    /* table full */
    snprintf(t.symbol, sizeof t.symbol, "SOLUSDT");
    CHECK_INT(market_apply(m, &t), K_ERR);
    CHECK(market_add(m, VENUE_OKX, "BTC-USDT") == NULL);
    CHECK_INT(market_count(m), 2);
    /* no symbol, bad venue, too long a name, unknown kind */
    t.symbol[0] = '\0';
    CHECK_INT(market_apply(m, &t), K_ERR);
    snprintf(t.symbol, sizeof t.symbol, "ETHUSDT");
    t.venue = (enum venue)VENUE_COUNT;
    CHECK_INT(market_apply(m, &t), K_ERR);
    t.venue = VENUE_BINANCE_SPOT;
    memset(t.symbol, 'A', sizeof t.symbol); /* not NUL-terminated */
    CHECK_INT(market_apply(m, &t), K_ERR);
    CHECK(market_find(m, VENUE_BINANCE_SPOT, "") == NULL);
    CHECK(market_find(m, VENUE_BINANCE_SPOT, NULL) == NULL);
    CHECK(market_add(m, VENUE_BINANCE_SPOT, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") == NULL);
    CHECK_INT(market_apply(m, NULL), K_ERR);
    feed_event k;
    memset(&k, 0, sizeof k);
    k.kind = FEED_NONE;
    CHECK_INT(market_apply(m, &k), K_OK);
    k.kind = FEED_KLINE; /* a kline with no prices: refused */
    snprintf(k.symbol, sizeof k.symbol, "ETHUSDT");
    CHECK_INT(market_apply(m, &k), K_ERR);
    k.u.kline.o = k.u.kline.h = k.u.kline.l = k.u.kline.c = D("2677.60");
    k.u.kline.open_ms = 1723161540000LL;
    snprintf(k.u.kline.interval, sizeof k.u.kline.interval, "1m");
    k.u.kline.closed = true;
    uint64_t ign = market_klines_ignored(m);
    CHECK_INT(market_apply(m, &k), K_OK); /* accepted, not applied: trades build ETHUSDT's bars */
    CHECK_INT(market_klines_ignored(m), ign + 1);
    k.kind = (enum feed_kind)99;
    CHECK_INT(market_apply(m, &k), K_ERR);
    /* a bookTicker with a negative field is refused */
    feed_event bt;
    memset(&bt, 0, sizeof bt);
    bt.kind = FEED_BOOK_TICKER;
    bt.venue = VENUE_BINANCE_SPOT;
    snprintf(bt.symbol, sizeof bt.symbol, "ETHUSDT");
    bt.u.ticker.bid_px = D("2677.60");
    bt.u.ticker.ask_px = -1;
    CHECK_INT(market_apply(m, &bt), K_ERR);
    bt.u.ticker.ask_px = D("2677.61");
    uint64_t dirty = e ? e->dirty : 0;
    CHECK_INT(market_apply(m, &bt), K_OK);
    CHECK(e && e->tickers == 1 && e->tick_ask == D("2677.61") && e->dirty == dirty + 1);
    market_unsubscribe(m, on_note, &n);
    market_advance(m, 1723161600000LL + 3600000LL); /* no listener: fine */
    CHECK_INT(n.bad, 0);
    market_free(m);
    market_free(NULL);
}

/* Partial bars never reach the display indicators: on the real BTCUSDT replay (from 23:54:13)
 * the first 1m bar and the only closed 1h bar are partial; the 1m chart's history starts at the
 * first whole bar (so an indicator's warm-up counts whole bars: sma_2 has its first value at the
 * second whole bar, the mean of the two whole closes) and the 1h chart has seen no bar. */
static void test_partial_indicators(void)
{
    market *m = market_new(NULL);
    chartta *ct = chartta_new(m, 0);
    CHECK_INT(market_subscribe(m, chartta_on_note, ct), K_OK);
    char err[160];
    CHECK_INT(chartta_set(ct, "sma_2", err, sizeof err), K_OK);
    replay_out o;
    replay(m, VENUE_BINANCE_SPOT, "BTCUSDT", SPOT_BTC_08, SPOT_BTC_09, -1, &o);
    market_sym *s = market_find(m, VENUE_BINANCE_SPOT, "BTCUSDT");
    CHECK(s != NULL);
    if (s) {
        const candles *c1 = s->series[TF_1M];
        const ta_chart *ch = chartta_get(ct, s->index, TF_1M);
        CHECK(ch != NULL && candles_count(c1) > 4);
        CHECK(candles_get(c1, 0) && (candles_get(c1, 0)->flags & CANDLE_PARTIAL));
        if (ch && candles_count(c1) > 4) {
            CHECK_INT(ta_chart_bars(ch), candles_count(c1) - 1);
            CHECK_INT(ta_chart_history_time(ch, 0), candles_get(c1, 1)->open_ms);
            CHECK(isnan(ta_chart_history(ch, 0, 0)));
            double want = (decimal_to_double(candles_get(c1, 1)->c) +
                           decimal_to_double(candles_get(c1, 2)->c)) / 2;
            CHECK(fabs(ta_chart_history(ch, 0, 1) - want) < 0.01); /* float history */
        }
        const candles *c60 = s->series[TF_1H];
        const ta_chart *h1 = chartta_get(ct, s->index, TF_1H);
        CHECK_INT(candles_count(c60), 1);
        CHECK(candles_get(c60, 0) && (candles_get(c60, 0)->flags & CANDLE_PARTIAL));
        CHECK(h1 && ta_chart_bars(h1) == 0 && ta_chart_history_len(h1) == 0);
        /* a rebuild (a new list, a history load) skips it too */
        CHECK_INT(chartta_set(ct, "sma_3", err, sizeof err), K_OK);
        h1 = chartta_get(ct, s->index, TF_1H);
        ch = chartta_get(ct, s->index, TF_1M);
        CHECK(h1 && ta_chart_bars(h1) == 0);
        CHECK(ch && ta_chart_bars(ch) == candles_count(c1) - 1);
    }
    chartta_free(ct);
    market_free(m);
}

/* The 24 h reference (market_ref_24h) on a real kline feed (Binance USD-M BTCUSDT 1m, July 2023):
 * none for the first 24 h, then at every bar the open of the bar that opened exactly 24 h before
 * the newest data (the end of the newest 1m bar). */
static void test_ref_24h_klines(void)
{
    char path[1024], err[256];
    snprintf(path, sizeof path, "%s/klines/long/%s", check_shared_data(),
             "binance-usdm_BTCUSDT_1m_2023-07-18_2023-08-17.csv.gz");
    klines *k = NULL;
    CHECK_INT(klines_open(&k, path, VENUE_BINANCE_USDM, "BTCUSDT", "", err, sizeof err), K_OK);
    if (!k)
        return;
    market *m = market_new(NULL);
    static feed_event evs[1700];
    int n = 0, r;
    while (n < 1700 && (r = klines_next(k, &evs[n])) != 0)
        if (r > 0)
            n++;
    CHECK_INT(n, 1700);
    int none_before = 0, exact_after = 0;
    for (int i = 0; i < n; i++) {
        CHECK_INT(market_apply(m, &evs[i]), K_OK);
        market_sym *s = market_find(m, VENUE_BINANCE_USDM, "BTCUSDT");
        kdec ref = 0;
        bool got = s && market_ref_24h(s, &ref);
        /* newest data ends at open_i + 1 min; 24 h before is the open of bar i - 1439 */
        int j = i - 1439;
        if (j < 0)
            none_before += !got;
        else if (got && ref == evs[j].u.kline.o &&
                 evs[j].u.kline.open_ms == evs[i].u.kline.open_ms + 60000 - 86400000LL)
            exact_after++;
    }
    CHECK_INT(none_before, 1439);
    CHECK_INT(exact_after, n - 1439);
    klines_close(k);
    market_free(m);
}

/* Mechanics (hand-made trades): a partial bar is no 24 h reference. Trades every minute from
 * 00:00:30 (so the 00:00 bars of every timeframe are partial) to a day later. */
static void test_ref_24h_partial(void)
{
    market *m = market_new(NULL);
    feed_event ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = FEED_TRADE;
    ev.venue = VENUE_BINANCE_SPOT;
    snprintf(ev.symbol, sizeof ev.symbol, "BTCUSDT");
    int64_t day0 = 1723075200000LL; /* 2024-08-08 00:00 UTC */
    market_sym *s = NULL;
    kdec ref = 0;
    bool at_partial = true, at_whole = false;
    for (int i = 0; i <= 1441; i++) {
        ev.event_ms = ev.u.trade.time_ms = day0 + 30000 + (int64_t)i * 60000;
        ev.u.trade.id = i + 1;
        ev.u.trade.px = D("100") + i * KDEC_SCALE;
        ev.u.trade.qty = D("1");
        CHECK_INT(market_apply(m, &ev), K_OK);
        s = market_find(m, VENUE_BINANCE_SPOT, "BTCUSDT");
        if (i == 1440) /* 24 h before is 00:00:30: inside the partial 00:00 bars */
            at_partial = s && market_ref_24h(s, &ref);
        if (i == 1441) /* 24 h before is 00:01:30: the whole 00:01 bar opened at 101 */
            at_whole = s && market_ref_24h(s, &ref) && ref == D("101");
    }
    CHECK(!at_partial);
    CHECK(at_whole);
    market_free(m);
}

/* A funding event is about a symbol with data: for an unknown symbol it creates nothing and
 * says nothing; for a known one it is a MARKET_FUNDING note carrying the event; a bad one is
 * refused. */
static void test_funding_note(void)
{
    market *m = market_new(NULL);
    notes c;
    memset(&c, 0, sizeof c);
    CHECK_INT(market_subscribe(m, on_note, &c), K_OK);
    feed_event f;
    memset(&f, 0, sizeof f);
    f.kind = FEED_FUNDING;
    f.venue = VENUE_BINANCE_USDM;
    snprintf(f.symbol, sizeof f.symbol, "BTCUSDT");
    f.u.funding.time_ms = 1689465600001LL;
    f.u.funding.rate = D("0.0001");
    CHECK_INT(market_apply(m, &f), K_OK);
    CHECK(market_find(m, VENUE_BINANCE_USDM, "BTCUSDT") == NULL);
    CHECK_INT(c.funding, 0);
    feed_event t;
    memset(&t, 0, sizeof t);
    t.kind = FEED_TRADE;
    t.venue = VENUE_BINANCE_USDM;
    snprintf(t.symbol, sizeof t.symbol, "BTCUSDT");
    t.u.trade.px = D("30000.1");
    t.u.trade.qty = D("0.5");
    t.u.trade.time_ms = 1689465599000LL;
    CHECK_INT(market_apply(m, &t), K_OK);
    CHECK_INT(market_apply(m, &f), K_OK);
    CHECK_INT(c.funding, 1);
    f.u.funding.time_ms = 0;
    CHECK_INT(market_apply(m, &f), K_ERR);
    CHECK_INT(c.funding, 1);
    CHECK_INT(c.bad, 0);
    market_free(m);
}

int main(void)
{
    test_funding_note();
    test_spot_btc();
    test_spot_eth_display();
    test_usdm_two_symbols();
    test_gap_resync_notes();
    test_errors_and_table();
    test_partial_indicators();
    test_ref_24h_klines();
    test_ref_24h_partial();
    cap_cache_free();
    CHECK_DONE();
}
