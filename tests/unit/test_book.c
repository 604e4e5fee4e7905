/* book: the Binance sync procedures proven on the real captures (spot U/u rules, USD-M pu
 * chain), the known facts of shared/data/MANIFEST.md, and the failure paths (a dropped diff,
 * a stale diff, a snapshot too old, buffer overflow, malformed input, crossing, level caps). */
#include "check.h"

#include "capture_stream.h"
#include "kestrel/book.h"

static kdec D(const char *s)
{
    kdec v = 0;
    if (decimal_parse(s, strlen(s), &v) != K_OK)
        fprintf(stderr, "bad decimal %s\n", s);
    return v;
}

/* the book's state after each applied diff, to compare with the bookTickers of the same id */
typedef struct id_best {
    int64_t id;
    kdec bid, bid_qty, ask, ask_qty;
} id_best;

typedef struct fact_result {
    book_stats st;
    kdec bid, ask, bid_qty, ask_qty;
    kdec tick_bid, tick_ask, tick_bid_qty, tick_ask_qty;
    uint64_t ticker_matches, ticker_mismatches, diffs_seen, snapshots_seen;
    uint64_t order_violations, max_depth;
    bool live;
} fact_result;

static int cmp_id(const void *a, const void *b)
{
    int64_t x = ((const id_best *)a)->id, y = ((const id_best *)b)->id;
    return (x > y) - (x < y);
}

/* Replays a capture through one book exactly as a client would (diffs buffered until the
 * snapshot line) and checks every bookTicker whose update id equals a book id. */
static void run_fact(enum venue v, enum book_rules rules, const char *sym, const char *f1,
                     const char *f2, uint32_t max_levels, fact_result *out)
{
    memset(out, 0, sizeof *out);
    cap_stream s;
    stream_init(&s, v, sym, f1, f2);
    book *b = book_new(rules, max_levels, 4096);
    size_t nstates = 0, cstates = 16384, nticks = 0, cticks = 131072;
    id_best *states = malloc(cstates * sizeof *states);
    id_best *ticks = malloc(cticks * sizeof *ticks);
    feed_event ev;
    while (stream_next(&s, &ev)) {
        if (ev.kind == FEED_DEPTH_DIFF) {
            out->diffs_seen++;
            enum book_result r = book_on_diff(b, &ev);
            if (r == BOOK_APPLIED && nstates < cstates) {
                id_best *st = &states[nstates++];
                st->id = book_last_id(b);
                if (!book_best(b, &st->bid, &st->bid_qty, &st->ask, &st->ask_qty))
                    nstates--;
            }
            uint32_t d = K_MAX(book_depth(b, BOOK_BID), book_depth(b, BOOK_ASK));
            if (d > out->max_depth)
                out->max_depth = d;
        } else if (ev.kind == FEED_DEPTH_SNAPSHOT) {
            out->snapshots_seen++;
            CHECK_INT(book_on_snapshot(b, &ev), BOOK_SYNCED);
        } else if (ev.kind == FEED_BOOK_TICKER) {
            out->tick_bid = ev.u.ticker.bid_px;
            out->tick_ask = ev.u.ticker.ask_px;
            out->tick_bid_qty = ev.u.ticker.bid_qty;
            out->tick_ask_qty = ev.u.ticker.ask_qty;
            if (nticks < cticks) {
                ticks[nticks++] = (id_best){ev.u.ticker.update_id, ev.u.ticker.bid_px,
                                            ev.u.ticker.bid_qty, ev.u.ticker.ask_px,
                                            ev.u.ticker.ask_qty};
            }
        }
    }
    CHECK_INT(s.errors, 0);
    stream_close(&s);
    /* join tickers with book states on the update id */
    qsort(states, nstates, sizeof *states, cmp_id);
    for (size_t i = 0; i < nticks; i++) {
        id_best *hit = bsearch(&ticks[i], states, nstates, sizeof *states, cmp_id);
        if (!hit)
            continue;
        bool same = hit->bid == ticks[i].bid && hit->ask == ticks[i].ask &&
                    hit->bid_qty == ticks[i].bid_qty && hit->ask_qty == ticks[i].ask_qty;
        if (same)
            out->ticker_matches++;
        else
            out->ticker_mismatches++;
    }
    /* strict ordering of every level */
    for (int side = 0; side < 2; side++) {
        uint32_t n = book_depth(b, (enum book_side)side);
        kdec prev = 0;
        for (uint32_t i = 0; i < n; i++) {
            kdec px, qty;
            book_level(b, (enum book_side)side, i, &px, &qty);
            if (qty <= 0 || px <= 0 || (i > 0 && (side == BOOK_BID ? px >= prev : px <= prev)))
                out->order_violations++;
            prev = px;
        }
    }
    out->st = *book_get_stats(b);
    out->live = book_best(b, &out->bid, &out->bid_qty, &out->ask, &out->ask_qty);
    free(states);
    free(ticks);
    book_free(b);
}

static void test_fact_spot_btc(void)
{
    fact_result f;
    run_fact(VENUE_BINANCE_SPOT, BOOK_RULES_BINANCE_SPOT, "BTCUSDT", SPOT_BTC_08, SPOT_BTC_09,
             5000, &f);
    CHECK_INT(f.diffs_seen, 3451 + 3044);
    CHECK_INT(f.snapshots_seen, 1);
    CHECK_INT(f.st.diffs_applied, 6493);
    CHECK_INT(f.st.gaps, 0);
    CHECK_INT(f.st.crossed, 0);
    CHECK_INT(f.st.rejected, 0);
    CHECK_INT(f.st.snapshots, 1);
    CHECK_INT(f.st.resyncs, 0);
    /* 6495 diffs = 6493 applied + the ones older than the snapshot, dropped from the buffer */
    CHECK_INT(f.st.diffs_applied + f.st.diffs_buffered_dropped + f.st.diffs_stale, 6495);
    CHECK(f.live);
    CHECK_INT(f.bid, D("61602.01"));
    CHECK_INT(f.ask, D("61602.02"));
    CHECK_INT(f.bid, f.tick_bid);
    CHECK_INT(f.ask, f.tick_ask);
    CHECK_INT(f.bid_qty, f.tick_bid_qty);
    CHECK_INT(f.ask_qty, f.tick_ask_qty);
    CHECK_INT(f.order_violations, 0);
    /* every bookTicker stamped with an id the book passed through shows the book's top */
    CHECK(f.ticker_matches > 100);
    CHECK_INT(f.ticker_mismatches, 0);
    fprintf(stderr, "spot BTCUSDT: applied %llu, ticker matches %llu, max depth %llu\n",
            (unsigned long long)f.st.diffs_applied, (unsigned long long)f.ticker_matches,
            (unsigned long long)f.max_depth);
}

static void test_fact_spot_eth(void)
{
    fact_result f;
    run_fact(VENUE_BINANCE_SPOT, BOOK_RULES_BINANCE_SPOT, "ETHUSDT", SPOT_ETH_08, SPOT_ETH_09,
             5000, &f);
    CHECK_INT(f.diffs_seen, 3434 + 3036);
    CHECK_INT(f.st.gaps, 0);
    CHECK_INT(f.st.crossed, 0);
    CHECK(f.live);
    CHECK_INT(f.bid, D("2677.60"));
    CHECK_INT(f.ask, D("2677.61"));
    CHECK_INT(f.bid, f.tick_bid);
    CHECK_INT(f.ask, f.tick_ask);
    CHECK_INT(f.order_violations, 0);
    CHECK(f.ticker_matches > 100);
    CHECK_INT(f.ticker_mismatches, 0);
}

static void test_fact_usdm(void)
{
    fact_result f;
    run_fact(VENUE_BINANCE_USDM, BOOK_RULES_BINANCE_USDM, "BTCUSDT", USDM_BTC_08, NULL, 5000,
             &f);
    CHECK_INT(f.diffs_seen, 6551);
    CHECK_INT(f.st.diffs_applied, 6547);
    CHECK_INT(f.st.gaps, 0);
    CHECK_INT(f.st.crossed, 0);
    CHECK(f.live);
    CHECK_INT(f.order_violations, 0);
    CHECK_INT(f.bid, f.tick_bid);
    CHECK_INT(f.ask, f.tick_ask);
    CHECK(f.ticker_matches > 100);
    CHECK_INT(f.ticker_mismatches, 0);

    run_fact(VENUE_BINANCE_USDM, BOOK_RULES_BINANCE_USDM, "ETHUSDT", USDM_ETH_08, NULL, 5000,
             &f);
    CHECK_INT(f.diffs_seen, 6586);
    CHECK_INT(f.st.diffs_applied, 6581);
    CHECK_INT(f.st.gaps, 0);
    CHECK_INT(f.st.crossed, 0);
    CHECK(f.live);
    CHECK_INT(f.order_violations, 0);
    CHECK_INT(f.bid, f.tick_bid);
    CHECK_INT(f.ask, f.tick_ask);
    CHECK(f.ticker_matches > 100);
    CHECK_INT(f.ticker_mismatches, 0);
}

/* The spot rules also hold when applied through the wrong venue's rules? No: the USD-M pu rule
 * needs pu, which spot diffs do not carry, so every spot diff is rejected under USD-M rules. */
static void test_rules_mismatch(void)
{
    cap_stream s;
    stream_init(&s, VENUE_BINANCE_SPOT, "BTCUSDT", SPOT_BTC_08, NULL);
    book *b = book_new(BOOK_RULES_BINANCE_USDM, 5000, 64);
    feed_event ev;
    int n = 0;
    while (n < 20 && stream_next(&s, &ev)) {
        if (ev.kind != FEED_DEPTH_DIFF)
            continue;
        CHECK_INT(book_on_diff(b, &ev), BOOK_REJECTED);
        n++;
    }
    CHECK_INT(book_get_stats(b)->rejected, 20);
    CHECK_INT(book_state(b), BOOK_EMPTY);
    stream_close(&s);
    book_free(b);
}

/* A level cap: the book never holds more than the cap and stays ordered. The cap is a window
 * like the exchange's snapshot window: a level it dropped is unknown until it changes. With a
 * cap of 1000 (the snapshot's own size) the book still matches every bookTicker and ends on the
 * known fact; with a tiny cap of 50 the capture's $235 move shows the caveat near the top (a
 * few bookTickers out of ~1000 disagree while an unchanged, dropped level is missing), and it
 * still ends right. */
static void test_level_cap(void)
{
    fact_result f;
    run_fact(VENUE_BINANCE_SPOT, BOOK_RULES_BINANCE_SPOT, "BTCUSDT", SPOT_BTC_08, SPOT_BTC_09, 50,
             &f);
    CHECK_INT(f.max_depth, 50);
    CHECK_INT(f.st.diffs_applied, 6493);
    CHECK_INT(f.st.gaps, 0);
    CHECK_INT(f.st.crossed, 0);
    CHECK_INT(f.order_violations, 0);
    CHECK(f.live);
    CHECK_INT(f.bid, D("61602.01"));
    CHECK_INT(f.ask, D("61602.02"));
    CHECK(f.ticker_matches > 1000);
    CHECK(f.ticker_mismatches * 100 < f.ticker_matches); /* < 1% */
    fprintf(stderr, "cap 50: ticker matches %llu, mismatches %llu\n",
            (unsigned long long)f.ticker_matches, (unsigned long long)f.ticker_mismatches);

    run_fact(VENUE_BINANCE_SPOT, BOOK_RULES_BINANCE_SPOT, "BTCUSDT", SPOT_BTC_08, SPOT_BTC_09,
             1000, &f);
    CHECK_INT(f.max_depth, 1000);
    CHECK_INT(f.st.diffs_applied, 6493);
    CHECK(f.live);
    CHECK_INT(f.bid, D("61602.01"));
    CHECK_INT(f.ask, D("61602.02"));
    CHECK_INT(f.order_violations, 0);
    CHECK(f.ticker_matches > 100);
    CHECK_INT(f.ticker_mismatches, 0);
}

/* Drops one diff after the book is live: exactly one gap, RESYNCING, nothing shown. Then a
 * snapshot (the reference book's real state, delivered a few diffs late like a REST reply)
 * brings it back, and it ends identical to the reference. */
static void test_gap_and_resync(enum venue v, enum book_rules rules, const char *sym,
                                const char *f1, const char *f2, uint32_t max_buffered,
                                bool expect_sync)
{
    cap_stream s;
    stream_init(&s, v, sym, f1, f2);
    book *ref = book_new(rules, 5000, 4096);
    book *b = book_new(rules, 5000, max_buffered);
    const int drop_at = 300, snap_at = 1500, deliver_at = 1507;
    int ndiff = 0, gap_results = 0;
    uint64_t applied_before_gap = 0, dropped_before_gap = 0;
    owned_ev snap = {0};
    bool checked_resyncing = false;
    feed_event ev;
    while (stream_next(&s, &ev)) {
        if (ev.kind == FEED_DEPTH_SNAPSHOT) {
            CHECK_INT(book_on_snapshot(ref, &ev), BOOK_SYNCED);
            CHECK_INT(book_on_snapshot(b, &ev), BOOK_SYNCED);
            continue;
        }
        if (ev.kind != FEED_DEPTH_DIFF)
            continue;
        int k = ndiff++;
        CHECK(book_on_diff(ref, &ev) == BOOK_APPLIED || k < 10);
        if (k == drop_at) {
            applied_before_gap = book_get_stats(b)->diffs_applied;
            dropped_before_gap = book_get_stats(b)->diffs_buffered_dropped;
            continue; /* lost */
        }
        enum book_result r = book_on_diff(b, &ev);
        if (r == BOOK_GAP) {
            gap_results++;
            CHECK_INT(k, drop_at + 1);
        }
        if (k > drop_at && k < deliver_at) {
            CHECK(r == BOOK_GAP || r == BOOK_BUFFERED);
            CHECK_INT(book_state(b), BOOK_RESYNCING);
            CHECK(!book_is_live(b));
            kdec x1, x2, x3, x4;
            CHECK(!book_best(b, &x1, &x2, &x3, &x4));
            CHECK_INT(book_depth(b, BOOK_BID), 0);
            CHECK_INT(book_level(b, BOOK_ASK, 0, &x1, &x2), K_ERR);
            CHECK(book_buffered(b) >= 1 && book_buffered(b) <= max_buffered);
            checked_resyncing = true;
        }
        if (k == snap_at)
            own_snapshot_of(&snap, ref, sym);
        if (k == deliver_at) {
            uint64_t applied = book_get_stats(b)->diffs_applied;
            enum book_result sr = book_on_snapshot(b, &snap.ev);
            if (expect_sync) {
                CHECK_INT(sr, BOOK_SYNCED);
                /* the 7 diffs after the snapshot's id were replayed from the buffer; USD-M
                 * keeps the one with u == lastUpdateId as well (it drops only u < L) */
                CHECK_INT(book_get_stats(b)->diffs_applied,
                          applied + (rules == BOOK_RULES_BINANCE_SPOT ? 7 : 8));
                CHECK(books_equal(ref, b));
            } else {
                /* the buffer kept only the newest diffs: this snapshot predates them */
                CHECK_INT(sr, BOOK_SNAPSHOT_OLD);
                CHECK_INT(book_state(b), BOOK_RESYNCING);
                CHECK_INT(book_buffered(b), max_buffered);
            }
        }
    }
    CHECK_INT(s.errors, 0);
    stream_close(&s);
    const book_stats *st = book_get_stats(b);
    CHECK_INT(gap_results, 1);
    CHECK_INT(st->gaps, 1);
    CHECK(checked_resyncing);
    CHECK(applied_before_gap > 0);
    if (expect_sync) {
        CHECK_INT(st->resyncs, 1);
        CHECK(books_equal(ref, b));
        CHECK_INT(book_get_stats(ref)->gaps, 0);
    } else {
        CHECK_INT(st->resyncs, 0);
        CHECK_INT(book_state(b), BOOK_RESYNCING);
        CHECK_INT(book_buffered(b), max_buffered);
        /* every diff seen after the loss is either still buffered or counted as dropped */
        CHECK_INT(st->diffs_stale, 0);
        CHECK_INT(st->diffs_buffered_dropped - dropped_before_gap + book_buffered(b),
                  ndiff - drop_at - 1);
    }
    own_free(&snap);
    book_free(ref);
    book_free(b);
}

/* The original snapshot, fed again after a gap, is far too old: refused, still resyncing. */
static void test_old_snapshot_after_gap(void)
{
    cap_stream s;
    stream_init(&s, VENUE_BINANCE_SPOT, "BTCUSDT", SPOT_BTC_08, NULL);
    book *b = book_new(BOOK_RULES_BINANCE_SPOT, 5000, 4096);
    owned_ev first = {0};
    int ndiff = 0;
    feed_event ev;
    while (stream_next(&s, &ev)) {
        if (ev.kind == FEED_DEPTH_SNAPSHOT) {
            own(&first, &ev);
            CHECK_INT(book_on_snapshot(b, &ev), BOOK_SYNCED);
        } else if (ev.kind == FEED_DEPTH_DIFF) {
            if (ndiff++ == 100)
                continue;
            book_on_diff(b, &ev);
        }
    }
    stream_close(&s);
    CHECK_INT(book_get_stats(b)->gaps, 1);
    uint32_t nbuf = book_buffered(b);
    /* 3350 diffs after the loss; the level arena (4096 * 16 levels) holds the newest of them */
    CHECK(nbuf > 1000 && nbuf < 3350);
    CHECK_INT(book_get_stats(b)->diffs_buffered_dropped + nbuf, 3350 + 2);
    CHECK_INT(book_on_snapshot(b, &first.ev), BOOK_SNAPSHOT_OLD);
    CHECK_INT(book_state(b), BOOK_RESYNCING);
    CHECK_INT(book_buffered(b), nbuf); /* nothing was dropped by the refused snapshot */
    own_free(&first);
    book_free(b);
}

/* Snapshot too old at first sync (spot step 3): the client subscribed late, its first buffered
 * diff is newer than the snapshot. A later snapshot (reference book state) then syncs. */
static void test_snapshot_too_old(void)
{
    cap_stream s;
    stream_init(&s, VENUE_BINANCE_SPOT, "BTCUSDT", SPOT_BTC_08, SPOT_BTC_09);
    book *ref = book_new(BOOK_RULES_BINANCE_SPOT, 5000, 4096);
    book *b = book_new(BOOK_RULES_BINANCE_SPOT, 5000, 4096);
    owned_ev snap = {0}, later = {0};
    int ndiff = 0;
    feed_event ev;
    while (stream_next(&s, &ev)) {
        if (ev.kind == FEED_DEPTH_SNAPSHOT) {
            CHECK_INT(book_on_snapshot(ref, &ev), BOOK_SYNCED);
            own(&snap, &ev);
            continue;
        }
        if (ev.kind != FEED_DEPTH_DIFF)
            continue;
        int k = ndiff++;
        book_on_diff(ref, &ev);
        if (k < 20)
            continue; /* b subscribed late */
        CHECK_INT(book_on_diff(b, &ev), BOOK_BUFFERED);
        if (k == 25) {
            CHECK_INT(book_on_snapshot(b, &snap.ev), BOOK_SNAPSHOT_OLD);
            CHECK_INT(book_state(b), BOOK_SYNCING);
            CHECK_INT(book_buffered(b), 6);
        }
        if (k == 40)
            own_snapshot_of(&later, ref, "BTCUSDT");
        if (k == 45) {
            CHECK_INT(book_on_snapshot(b, &later.ev), BOOK_SYNCED);
            CHECK(books_equal(ref, b));
            break;
        }
    }
    while (stream_next(&s, &ev)) {
        if (ev.kind != FEED_DEPTH_DIFF)
            continue;
        book_on_diff(ref, &ev);
        CHECK_INT(book_on_diff(b, &ev), BOOK_APPLIED);
    }
    stream_close(&s);
    CHECK(books_equal(ref, b));
    kdec bid, ask;
    CHECK(book_best(b, &bid, NULL, &ask, NULL));
    CHECK_INT(bid, D("61602.01"));
    CHECK_INT(ask, D("61602.02"));
    CHECK_INT(book_get_stats(b)->snapshots, 2);
    CHECK_INT(book_get_stats(b)->resyncs, 0); /* first sync, not a resync */
    own_free(&snap);
    own_free(&later);
    book_free(ref);
    book_free(b);
}

/* Snapshot first (empty buffer): the diffs older than it are stale, the first newer one must
 * straddle lastUpdateId+1, and the result is the same book. */
static void test_snapshot_before_diffs(void)
{
    owned_ev snap = {0};
    cap_stream s;
    stream_init(&s, VENUE_BINANCE_SPOT, "BTCUSDT", SPOT_BTC_08, SPOT_BTC_09);
    feed_event ev;
    while (stream_next(&s, &ev))
        if (ev.kind == FEED_DEPTH_SNAPSHOT) {
            own(&snap, &ev);
            break;
        }
    stream_close(&s);
    book *b = book_new(BOOK_RULES_BINANCE_SPOT, 5000, 4096);
    CHECK_INT(book_state(b), BOOK_EMPTY);
    CHECK_INT(book_on_snapshot(b, &snap.ev), BOOK_SYNCED);
    CHECK(book_is_live(b));
    stream_init(&s, VENUE_BINANCE_SPOT, "BTCUSDT", SPOT_BTC_08, SPOT_BTC_09);
    while (stream_next(&s, &ev))
        if (ev.kind == FEED_DEPTH_DIFF)
            book_on_diff(b, &ev);
    stream_close(&s);
    const book_stats *st = book_get_stats(b);
    CHECK_INT(st->diffs_applied, 6493);
    CHECK_INT(st->diffs_stale, 2);
    CHECK_INT(st->gaps, 0);
    kdec bid, ask;
    CHECK(book_best(b, &bid, NULL, &ask, NULL));
    CHECK_INT(bid, D("61602.01"));
    CHECK_INT(ask, D("61602.02"));
    /* a refresh snapshot on a live book: an older one is refused, the book stays live */
    CHECK_INT(book_on_snapshot(b, &snap.ev), BOOK_SNAPSHOT_OLD);
    CHECK(book_is_live(b));
    /* a current one (its own state) is accepted */
    owned_ev self = {0};
    own_snapshot_of(&self, b, "BTCUSDT");
    CHECK_INT(book_on_snapshot(b, &self.ev), BOOK_SYNCED);
    CHECK(book_is_live(b));
    CHECK(book_best(b, &bid, NULL, &ask, NULL));
    CHECK_INT(bid, D("61602.01"));
    book_invalidate(b);
    CHECK_INT(book_state(b), BOOK_RESYNCING);
    CHECK(!book_is_live(b));
    CHECK_INT(book_depth(b, BOOK_BID), 0);
    CHECK_INT(book_buffered(b), 0);
    CHECK(!book_best(b, &bid, NULL, &ask, NULL));
    CHECK_INT(book_on_snapshot(b, &self.ev), BOOK_SYNCED);
    CHECK_INT(book_get_stats(b)->resyncs, 1);
    own_free(&self);
    own_free(&snap);
    book_free(b);
}

/* A stale diff (older than the book) is ignored and counted; the book ends correct. */
static void test_stale(enum venue v, enum book_rules rules, const char *sym, const char *f1,
                       const char *f2, uint64_t want_applied)
{
    cap_stream s;
    stream_init(&s, v, sym, f1, f2);
    book *b = book_new(rules, 5000, 4096);
    owned_ev hist[8];
    memset(hist, 0, sizeof hist);
    int ndiff = 0, stale_seen = 0;
    feed_event ev;
    while (stream_next(&s, &ev)) {
        if (ev.kind == FEED_DEPTH_SNAPSHOT)
            book_on_snapshot(b, &ev);
        if (ev.kind != FEED_DEPTH_DIFF)
            continue;
        int k = ndiff++;
        book_on_diff(b, &ev);
        own(&hist[k % 8], &ev);
        if (k == 500 || k == 1000) {
            /* replay an older diff: 5 back, and (USD-M) the very same one again */
            enum book_result r = book_on_diff(b, &hist[(k - 5) % 8].ev);
            CHECK_INT(r, BOOK_STALE);
            stale_seen += r == BOOK_STALE;
            if (rules == BOOK_RULES_BINANCE_USDM) {
                r = book_on_diff(b, &hist[k % 8].ev);
                CHECK_INT(r, BOOK_STALE);
                stale_seen += r == BOOK_STALE;
            }
        }
    }
    stream_close(&s);
    const book_stats *st = book_get_stats(b);
    CHECK_INT(st->diffs_applied, want_applied);
    CHECK_INT(st->gaps, 0);
    CHECK_INT(st->diffs_stale, (uint64_t)stale_seen);
    CHECK(book_is_live(b));
    for (int i = 0; i < 8; i++)
        own_free(&hist[i]);
    book_free(b);
}

/* The sync buffer is bounded by count and by levels; overflow drops the oldest. */
static void test_buffer_bounds(void)
{
    cap_stream s;
    stream_init(&s, VENUE_BINANCE_SPOT, "BTCUSDT", SPOT_BTC_08, NULL);
    book *small = book_new(BOOK_RULES_BINANCE_SPOT, 5000, 8);
    book *arena = book_new(BOOK_RULES_BINANCE_SPOT, 5000, 300); /* arena: 300*16 = 4800 levels */
    book *ref = book_new(BOOK_RULES_BINANCE_SPOT, 5000, 4096);
    owned_ev later = {0};
    int ndiff = 0;
    uint64_t levels_fed = 0;
    feed_event ev;
    while (stream_next(&s, &ev)) {
        if (ev.kind == FEED_DEPTH_SNAPSHOT)
            book_on_snapshot(ref, &ev);
        if (ev.kind != FEED_DEPTH_DIFF)
            continue;
        int k = ndiff++;
        book_on_diff(ref, &ev);
        if (k < 10)
            continue;
        if (k < 110) {
            CHECK_INT(book_on_diff(small, &ev), BOOK_BUFFERED);
            CHECK(book_buffered(small) <= 8);
        }
        if (k <= 310) {
            CHECK_INT(book_on_diff(arena, &ev), BOOK_BUFFERED);
            levels_fed += ev.u.depth.nbids + ev.u.depth.nasks;
        }
        if (k == 305)
            own_snapshot_of(&later, ref, "BTCUSDT");
        if (k == 310)
            break;
    }
    stream_close(&s);
    CHECK_INT(book_buffered(small), 8);
    CHECK_INT(book_get_stats(small)->diffs_buffered_dropped, 92);
    CHECK_INT(book_state(small), BOOK_SYNCING);
    /* 300 real diffs carry far more than 4800 levels: the arena evicted the oldest */
    CHECK(levels_fed > 4800);
    CHECK(book_buffered(arena) < 300);
    CHECK(book_buffered(arena) > 10);
    CHECK_INT(book_get_stats(arena)->diffs_buffered_dropped + book_buffered(arena), 301);
    /* what is left is still one unbroken chain: a current snapshot syncs it */
    CHECK_INT(book_on_snapshot(arena, &later.ev), BOOK_SYNCED);
    CHECK(books_equal(ref, arena));
    own_free(&later);
    book_free(small);
    book_free(arena);
    book_free(ref);
}

/* Malformed input is rejected, counted, and changes nothing. */
static void test_rejects(void)
{
    book *b = book_new(BOOK_RULES_BINANCE_SPOT, 100, 16);
    feed_level bid[1] = {{D("100.5"), D("1")}}, ask[1] = {{D("100.6"), D("2")}};
    feed_event d;
    memset(&d, 0, sizeof d);
    d.kind = FEED_DEPTH_DIFF;
    d.u.depth.first_id = 11;
    d.u.depth.last_id = 10; /* U > u */
    d.u.depth.bids = bid;
    d.u.depth.nbids = 1;
    d.u.depth.asks = ask;
    d.u.depth.nasks = 1;
    CHECK_INT(book_on_diff(b, &d), BOOK_REJECTED);
    d.u.depth.first_id = 10;
    bid[0].qty = -1;
    CHECK_INT(book_on_diff(b, &d), BOOK_REJECTED);
    bid[0].qty = D("1");
    ask[0].px = 0;
    CHECK_INT(book_on_diff(b, &d), BOOK_REJECTED);
    ask[0].px = -D("100.6");
    CHECK_INT(book_on_diff(b, &d), BOOK_REJECTED);
    ask[0].px = D("100.6");
    d.u.depth.asks = NULL; /* count without an array */
    CHECK_INT(book_on_diff(b, &d), BOOK_REJECTED);
    d.u.depth.asks = ask;
    d.kind = FEED_TRADE;
    CHECK_INT(book_on_diff(b, &d), BOOK_REJECTED);
    d.kind = FEED_DEPTH_DIFF;
    CHECK_INT(book_get_stats(b)->rejected, 6);
    CHECK_INT(book_state(b), BOOK_EMPTY);
    CHECK_INT(book_buffered(b), 0);

    feed_event sn = d;
    sn.kind = FEED_DEPTH_SNAPSHOT;
    sn.u.depth.first_id = sn.u.depth.last_id = 5;
    bid[0].qty = -5;
    CHECK_INT(book_on_snapshot(b, &sn), BOOK_REJECTED);
    bid[0].qty = D("1");
    sn.u.depth.last_id = -1;
    CHECK_INT(book_on_snapshot(b, &sn), BOOK_REJECTED);
    CHECK_INT(book_get_stats(b)->rejected, 8);
    CHECK_INT(book_get_stats(b)->snapshots, 0);
    CHECK_INT(book_state(b), BOOK_EMPTY);

    /* USD-M diffs must carry pu */
    book *u = book_new(BOOK_RULES_BINANCE_USDM, 100, 16);
    CHECK_INT(book_on_diff(u, &d), BOOK_REJECTED);
    d.u.depth.has_prev = true;
    d.u.depth.prev_id = 9;
    CHECK_INT(book_on_diff(u, &d), BOOK_BUFFERED);
    CHECK_INT(book_state(u), BOOK_SYNCING);
    book_free(u);

    CHECK_STR(book_state_name(BOOK_EMPTY), "empty");
    CHECK_STR(book_state_name(BOOK_SYNCING), "syncing");
    CHECK_STR(book_state_name(BOOK_LIVE), "live");
    CHECK_STR(book_state_name(BOOK_RESYNCING), "resyncing");
    book_free(b);
}

/* Update ids are whatever the feed sends (any int64 >= 0): a live spot book at the largest id
 * must judge the next diff without overflowing id + 1 (u == id: applied, as the spot rule says). */
static void test_id_at_int64_max(void)
{
    book *b = book_new(BOOK_RULES_BINANCE_SPOT, 100, 16);
    feed_level bid[1] = {{D("100.5"), D("1")}}, ask[1] = {{D("100.6"), D("2")}};
    feed_event sn;
    memset(&sn, 0, sizeof sn);
    sn.kind = FEED_DEPTH_SNAPSHOT;
    sn.u.depth.first_id = sn.u.depth.last_id = 5;
    sn.u.depth.bids = bid;
    sn.u.depth.nbids = 1;
    sn.u.depth.asks = ask;
    sn.u.depth.nasks = 1;
    CHECK_INT(book_on_snapshot(b, &sn), BOOK_SYNCED);
    feed_event d = sn;
    d.kind = FEED_DEPTH_DIFF;
    d.u.depth.first_id = 6;
    d.u.depth.last_id = INT64_MAX;
    CHECK_INT(book_on_diff(b, &d), BOOK_APPLIED);
    CHECK_INT(book_last_id(b), INT64_MAX);
    d.u.depth.first_id = INT64_MAX;
    CHECK_INT(book_on_diff(b, &d), BOOK_APPLIED);
    d.u.depth.first_id = d.u.depth.last_id = INT64_MAX - 1;
    CHECK_INT(book_on_diff(b, &d), BOOK_STALE);
    CHECK(book_is_live(b));
    book_free(b);
}

/* Crossing is detected on transitions, from the real snapshot's levels. Deleting a level that
 * is not there is normal. An unsorted snapshot gives the same book as the sorted one. */
static void test_crossed_and_snapshot_order(void)
{
    owned_ev snap = {0};
    cap_stream s;
    stream_init(&s, VENUE_BINANCE_SPOT, "BTCUSDT", SPOT_BTC_08, NULL);
    feed_event ev;
    while (stream_next(&s, &ev))
        if (ev.kind == FEED_DEPTH_SNAPSHOT) {
            own(&snap, &ev);
            break;
        }
    stream_close(&s);
    CHECK_INT(snap.ev.u.depth.nbids, 1000);
    CHECK_INT(snap.ev.u.depth.nasks, 1000);

    book *b = book_new(BOOK_RULES_BINANCE_SPOT, 5000, 16);
    CHECK_INT(book_on_snapshot(b, &snap.ev), BOOK_SYNCED);
    int64_t L = snap.ev.u.depth.last_id;
    kdec bid, bq, ask, aq;
    CHECK(book_best(b, &bid, &bq, &ask, &aq));
    CHECK_INT(bid, snap.ev.u.depth.bids[0].px);
    CHECK_INT(ask, snap.ev.u.depth.asks[0].px);
    CHECK_INT(book_depth(b, BOOK_BID), 1000);
    CHECK_INT(book_depth_qty(b, BOOK_BID, 1), bq);
    kdec sum3 = snap.ev.u.depth.asks[0].qty + snap.ev.u.depth.asks[1].qty +
                snap.ev.u.depth.asks[2].qty;
    CHECK_INT(book_depth_qty(b, BOOK_ASK, 3), sum3);
    CHECK(!book_is_crossed(b));

    feed_level lv[2];
    feed_event d;
    memset(&d, 0, sizeof d);
    d.kind = FEED_DEPTH_DIFF;
    int64_t id = L;
    /* 1: a bid at the best ask price: crossed */
    lv[0] = (feed_level){ask, D("0.5")};
    d.u.depth.first_id = d.u.depth.last_id = ++id;
    d.u.depth.bids = lv;
    d.u.depth.nbids = 1;
    d.u.depth.nasks = 0;
    CHECK_INT(book_on_diff(b, &d), BOOK_APPLIED);
    CHECK(book_is_crossed(b));
    CHECK_INT(book_get_stats(b)->crossed, 1);
    /* 2: still crossed: not counted again; deleting a missing ask level is fine */
    lv[0] = (feed_level){D("1.23"), 0};
    d.u.depth.first_id = d.u.depth.last_id = ++id;
    d.u.depth.bids = NULL;
    d.u.depth.nbids = 0;
    d.u.depth.asks = lv;
    d.u.depth.nasks = 1;
    CHECK_INT(book_on_diff(b, &d), BOOK_APPLIED);
    CHECK(book_is_crossed(b));
    CHECK_INT(book_get_stats(b)->crossed, 1);
    /* 3: the crossing bid is deleted: uncrossed, best bid back */
    lv[0] = (feed_level){ask, 0};
    d.u.depth.first_id = d.u.depth.last_id = ++id;
    d.u.depth.bids = lv;
    d.u.depth.nbids = 1;
    d.u.depth.nasks = 0;
    CHECK_INT(book_on_diff(b, &d), BOOK_APPLIED);
    CHECK(!book_is_crossed(b));
    kdec bid2, ask2;
    CHECK(book_best(b, &bid2, NULL, &ask2, NULL));
    CHECK_INT(bid2, bid);
    CHECK_INT(ask2, ask);
    /* 4: an ask below the best bid: crossed again, second transition */
    lv[0] = (feed_level){bid - 1, D("1")};
    d.u.depth.first_id = d.u.depth.last_id = ++id;
    d.u.depth.bids = NULL;
    d.u.depth.nbids = 0;
    d.u.depth.asks = lv;
    d.u.depth.nasks = 1;
    CHECK_INT(book_on_diff(b, &d), BOOK_APPLIED);
    CHECK(book_is_crossed(b));
    CHECK_INT(book_get_stats(b)->crossed, 2);
    /* 5: overlapping ids are fine on spot (U <= id+1), a jump is a gap */
    d.u.depth.first_id = id - 1;
    d.u.depth.last_id = id + 1;
    lv[0] = (feed_level){bid - 1, 0};
    CHECK_INT(book_on_diff(b, &d), BOOK_APPLIED);
    id++;
    CHECK(!book_is_crossed(b));
    d.u.depth.first_id = id + 2;
    d.u.depth.last_id = id + 3;
    CHECK_INT(book_on_diff(b, &d), BOOK_GAP);
    CHECK(!book_is_crossed(b));
    CHECK_INT(book_state(b), BOOK_RESYNCING);
    CHECK_INT(book_buffered(b), 1);

    /* the same snapshot shuffled, with a duplicate and a zero level, gives the same book */
    uint32_t nb = snap.ev.u.depth.nbids, na = snap.ev.u.depth.nasks;
    feed_level *sb = malloc((nb + 2) * sizeof *sb), *sa = malloc(na * sizeof *sa);
    for (uint32_t i = 0; i < nb; i++)
        sb[(i * 7919u) % nb] = snap.ev.u.depth.bids[i]; /* 7919 is prime: a permutation */
    for (uint32_t i = 0; i < na; i++)
        sa[na - 1 - i] = snap.ev.u.depth.asks[i];
    sb[nb] = snap.ev.u.depth.bids[5];                          /* duplicate */
    sb[nb + 1] = (feed_level){snap.ev.u.depth.bids[0].px + 1, 0}; /* zero: skipped */
    feed_event sh = snap.ev;
    sh.u.depth.bids = sb;
    sh.u.depth.nbids = nb + 2;
    sh.u.depth.asks = sa;
    book *a1 = book_new(BOOK_RULES_BINANCE_SPOT, 5000, 16);
    book *a2 = book_new(BOOK_RULES_BINANCE_SPOT, 5000, 16);
    CHECK_INT(book_on_snapshot(a1, &snap.ev), BOOK_SYNCED);
    CHECK_INT(book_on_snapshot(a2, &sh), BOOK_SYNCED);
    CHECK(books_equal(a1, a2));
    /* a snapshot deeper than the cap keeps the best levels */
    book *c = book_new(BOOK_RULES_BINANCE_SPOT, 10, 16);
    CHECK_INT(book_on_snapshot(c, &sh), BOOK_SYNCED);
    CHECK_INT(book_depth(c, BOOK_BID), 10);
    CHECK_INT(book_depth(c, BOOK_ASK), 10);
    for (uint32_t i = 0; i < 10; i++) {
        kdec p, q;
        book_level(c, BOOK_BID, i, &p, &q);
        CHECK_INT(p, snap.ev.u.depth.bids[i].px);
        book_level(c, BOOK_ASK, i, &p, &q);
        CHECK_INT(p, snap.ev.u.depth.asks[i].px);
    }
    book *c2 = book_new(BOOK_RULES_BINANCE_SPOT, 10, 16);
    CHECK_INT(book_on_snapshot(c2, &snap.ev), BOOK_SYNCED);
    CHECK(books_equal(c, c2));
    free(sb);
    free(sa);
    book_free(a1);
    book_free(a2);
    book_free(c);
    book_free(c2);
    own_free(&snap);
    book_free(b);
}

/* ---------------------------------------------------------------------------------------- */
/* Differential check of the level storage against a naive best-first array with the same cap
 * semantics (drop the worst when full, ignore a new level worse than all when full), compared
 * level by level after every applied diff of a real capture. Small caps stress the drop and
 * recentring paths. */

typedef struct naive_side {
    feed_level *v;
    uint32_t n;
} naive_side;

static void naive_set(naive_side *s, uint32_t cap, bool bid, kdec px, kdec qty)
{
    uint32_t j = 0, z = s->n; /* first position not better than px */
    while (j < z) {
        uint32_t mid = j + (z - j) / 2;
        if (bid ? s->v[mid].px > px : s->v[mid].px < px)
            j = mid + 1;
        else
            z = mid;
    }
    if (j < s->n && s->v[j].px == px) {
        if (qty == 0) {
            memmove(s->v + j, s->v + j + 1, (s->n - j - 1) * sizeof *s->v);
            s->n--;
        } else {
            s->v[j].qty = qty;
        }
        return;
    }
    if (qty == 0)
        return;
    if (s->n == cap) {
        if (j == s->n)
            return;
        s->n--;
    }
    memmove(s->v + j + 1, s->v + j, (s->n - j) * sizeof *s->v);
    s->v[j] = (feed_level){px, qty};
    s->n++;
}

static bool naive_equal(const naive_side *s, const book *b, enum book_side side)
{
    if (book_depth(b, side) != s->n)
        return false;
    for (uint32_t i = 0; i < s->n; i++) {
        kdec px, qty;
        book_level(b, side, i, &px, &qty);
        if (px != s->v[i].px || qty != s->v[i].qty)
            return false;
    }
    return true;
}

/* Reorders a diff's levels (each diff holds distinct prices, so the result must not change):
 * mode 1 reverses them (worst-first), mode 2 swaps neighbours (out of order every other step). */
static void shuffle_levels(feed_level *lv, uint32_t n, int mode)
{
    for (uint32_t i = 0; mode == 1 && i < n / 2; i++) {
        feed_level t = lv[i];
        lv[i] = lv[n - 1 - i];
        lv[n - 1 - i] = t;
    }
    for (uint32_t i = 0; mode == 2 && i + 1 < n; i += 2) {
        feed_level t = lv[i];
        lv[i] = lv[i + 1];
        lv[i + 1] = t;
    }
}

static void test_levels_differential_mode(enum venue v, enum book_rules rules, const char *sym,
                                          const char *f1, const char *f2, uint32_t cap, int mode)
{
    cap_stream s;
    stream_init(&s, v, sym, f1, f2);
    book *b = book_new(rules, cap, 4096);
    naive_side nb = {calloc(cap + 1, sizeof(feed_level)), 0};
    naive_side na = {calloc(cap + 1, sizeof(feed_level)), 0};
    owned_ev pending[16];
    memset(pending, 0, sizeof pending);
    int npending = 0;
    bool live = false;
    uint64_t compared = 0, differ = 0;
    feed_event ev;
    while (stream_next(&s, &ev)) {
        if (ev.kind == FEED_DEPTH_SNAPSHOT) {
            CHECK_INT(book_on_snapshot(b, &ev), BOOK_SYNCED);
            nb.n = na.n = 0;
            for (uint32_t i = 0; i < ev.u.depth.nbids; i++)
                naive_set(&nb, cap, true, ev.u.depth.bids[i].px, ev.u.depth.bids[i].qty);
            for (uint32_t i = 0; i < ev.u.depth.nasks; i++)
                naive_set(&na, cap, false, ev.u.depth.asks[i].px, ev.u.depth.asks[i].qty);
            int64_t L = ev.u.depth.last_id;
            for (int k = 0; k < npending; k++) {
                const feed_event *d = &pending[k].ev;
                bool keep = rules == BOOK_RULES_BINANCE_SPOT ? d->u.depth.last_id > L
                                                             : d->u.depth.last_id >= L;
                if (!keep)
                    continue;
                for (uint32_t i = 0; i < d->u.depth.nbids; i++)
                    naive_set(&nb, cap, true, d->u.depth.bids[i].px, d->u.depth.bids[i].qty);
                for (uint32_t i = 0; i < d->u.depth.nasks; i++)
                    naive_set(&na, cap, false, d->u.depth.asks[i].px, d->u.depth.asks[i].qty);
            }
            live = true;
            continue;
        }
        if (ev.kind != FEED_DEPTH_DIFF)
            continue;
        static feed_level sb[20000], sa[20000]; /* a reordered copy: the stream's own
                                                    * levels stay as recorded */
        if (mode && ev.u.depth.nbids <= 20000 && ev.u.depth.nasks <= 20000) {
            memcpy(sb, ev.u.depth.bids, ev.u.depth.nbids * sizeof *sb);
            memcpy(sa, ev.u.depth.asks, ev.u.depth.nasks * sizeof *sa);
            shuffle_levels(sb, ev.u.depth.nbids, mode);
            shuffle_levels(sa, ev.u.depth.nasks, mode);
            ev.u.depth.bids = sb;
            ev.u.depth.asks = sa;
        }
        enum book_result r = book_on_diff(b, &ev);
        if (!live) {
            CHECK(npending < 16);
            if (npending < 16)
                own(&pending[npending++], &ev);
            continue;
        }
        CHECK_INT(r, BOOK_APPLIED);
        for (uint32_t i = 0; i < ev.u.depth.nbids; i++)
            naive_set(&nb, cap, true, ev.u.depth.bids[i].px, ev.u.depth.bids[i].qty);
        for (uint32_t i = 0; i < ev.u.depth.nasks; i++)
            naive_set(&na, cap, false, ev.u.depth.asks[i].px, ev.u.depth.asks[i].qty);
        compared++;
        if (!naive_equal(&nb, b, BOOK_BID) || !naive_equal(&na, b, BOOK_ASK))
            differ++;
    }
    stream_close(&s);
    CHECK(compared > 6000);
    CHECK_INT(differ, 0);
    for (int k = 0; k < npending; k++)
        own_free(&pending[k]);
    free(nb.v);
    free(na.v);
    book_free(b);
}

static void test_levels_differential(enum venue v, enum book_rules rules, const char *sym,
                                     const char *f1, const char *f2, uint32_t cap)
{
    test_levels_differential_mode(v, rules, sym, f1, f2, cap, 0);
}

int main(void)
{
    /* levels out of the exchanges' best-first order take the book's full-search path */
    test_levels_differential_mode(VENUE_BINANCE_SPOT, BOOK_RULES_BINANCE_SPOT, "BTCUSDT",
                                  SPOT_BTC_08, SPOT_BTC_09, 5000, 1);
    test_levels_differential_mode(VENUE_BINANCE_SPOT, BOOK_RULES_BINANCE_SPOT, "BTCUSDT",
                                  SPOT_BTC_08, SPOT_BTC_09, 50, 2);
    test_levels_differential(VENUE_BINANCE_SPOT, BOOK_RULES_BINANCE_SPOT, "BTCUSDT", SPOT_BTC_08,
                             SPOT_BTC_09, 5000);
    test_levels_differential(VENUE_BINANCE_SPOT, BOOK_RULES_BINANCE_SPOT, "BTCUSDT", SPOT_BTC_08,
                             SPOT_BTC_09, 50);
    test_levels_differential(VENUE_BINANCE_USDM, BOOK_RULES_BINANCE_USDM, "ETHUSDT", USDM_ETH_08,
                             NULL, 1000);
    test_levels_differential(VENUE_BINANCE_USDM, BOOK_RULES_BINANCE_USDM, "ETHUSDT", USDM_ETH_08,
                             NULL, 7);
    test_fact_spot_btc();
    test_fact_spot_eth();
    test_fact_usdm();
    test_rules_mismatch();
    test_level_cap();
    test_gap_and_resync(VENUE_BINANCE_SPOT, BOOK_RULES_BINANCE_SPOT, "BTCUSDT", SPOT_BTC_08,
                        SPOT_BTC_09, 4096, true);
    test_gap_and_resync(VENUE_BINANCE_USDM, BOOK_RULES_BINANCE_USDM, "BTCUSDT", USDM_BTC_08,
                        NULL, 4096, true);
    test_gap_and_resync(VENUE_BINANCE_USDM, BOOK_RULES_BINANCE_USDM, "ETHUSDT", USDM_ETH_08,
                        NULL, 64, true);
    test_gap_and_resync(VENUE_BINANCE_SPOT, BOOK_RULES_BINANCE_SPOT, "ETHUSDT", SPOT_ETH_08,
                        SPOT_ETH_09, 64, true);
    test_gap_and_resync(VENUE_BINANCE_SPOT, BOOK_RULES_BINANCE_SPOT, "BTCUSDT", SPOT_BTC_08,
                        SPOT_BTC_09, 4, false);
    test_old_snapshot_after_gap();
    test_snapshot_too_old();
    test_snapshot_before_diffs();
    test_stale(VENUE_BINANCE_SPOT, BOOK_RULES_BINANCE_SPOT, "BTCUSDT", SPOT_BTC_08, SPOT_BTC_09,
               6493);
    test_stale(VENUE_BINANCE_USDM, BOOK_RULES_BINANCE_USDM, "ETHUSDT", USDM_ETH_08, NULL, 6581);
    test_buffer_bounds();
    test_rejects();
    test_id_at_int64_max();
    test_crossed_and_snapshot_order();
    cap_cache_free();
    CHECK_DONE();
}
