/* The memory budget (market.h, chartta.h): the figures are computed from the real struct sizes,
 * the defaults fit 100 symbols in 64 MB, and a process that really creates 100 symbols through
 * the market model, fills every user-sized structure to its cap (both book sides at
 * book_levels, the sync buffer at book_buffered diffs, the tape, every timeframe's ring) and
 * attaches the default indicators to all of them stays within the computed figure (VmRSS from
 * /proc/self/status; not under AddressSanitizer, whose shadow memory and quarantine are not the
 * program's). Indicator lists: one over the budget is refused with the numbers; a list that fits
 * for the symbols held attaches to new symbols only while the budget lasts (the rest are
 * counted), so its memory stays within the budget however many symbols arrive.
 * Synthetic events: this tests the model's accounting mechanics, not market data. */
#include "check.h"

#include "kestrel/app.h"
#include "kestrel/chartta.h"
#include "kestrel/config.h"
#include "kestrel/market.h"
#include "kestrel/ta.h"
#include "kestrel/xmalloc.h"

#if defined(__SANITIZE_ADDRESS__)
#define MEM_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MEM_ASAN 1
#endif
#endif
#ifndef MEM_ASAN
#define MEM_ASAN 0
#endif

#define MEM_SYMBOLS 100
#define MEM_T0 1700000000000LL /* ms, a day boundary is not needed: bars are aligned below */

/* VmRSS or VmHWM of this process in bytes, 0 when unreadable. */
static size_t mem_status(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return 0;
    char line[256];
    size_t kb = 0, n = strlen(key);
    while (fgets(line, sizeof line, f))
        if (strncmp(line, key, n) == 0 && line[n] == ':')
            kb = strtoull(line + n + 1, NULL, 10);
    fclose(f);
    return kb * 1024;
}

static kdec px(int64_t cents)
{
    return cents * (KDEC_SCALE / 100);
}

/* One symbol at its worst: a full sync buffer kept after the snapshot, both sides full, a full
 * tape and every ring full (trades for 1s, stored history for the rest, as the app loads it). */
static void mem_fill(market *m, chartta *ct, const market_limits *lim, int i)
{
    feed_event ev;
    static feed_level bids[100000], asks[100000];
    char name[KSYM_MAX];
    snprintf(name, sizeof name, "S%03dUSDT", i);

    /* diffs while syncing: book_buffered of them, 16 levels each (the arena's average) */
    uint32_t nb = lim->book_buffered;
    for (uint32_t k = 0; k < nb; k++) {
        memset(&ev, 0, sizeof ev);
        ev.kind = FEED_DEPTH_DIFF;
        ev.venue = VENUE_BINANCE_SPOT;
        snprintf(ev.symbol, sizeof ev.symbol, "%s", name);
        ev.event_ms = MEM_T0;
        ev.u.depth.first_id = ev.u.depth.last_id = 1000 + k;
        for (int j = 0; j < 8; j++) {
            bids[j] = (feed_level){px(5000000 - j - 1 - (int64_t)(k % 50) * 10), px(1 + j)};
            asks[j] = (feed_level){px(5000100 + j + 1 + (int64_t)(k % 50) * 10), px(1 + j)};
        }
        ev.u.depth.bids = bids;
        ev.u.depth.asks = asks;
        ev.u.depth.nbids = ev.u.depth.nasks = 8;
        CHECK_INT(market_apply(m, &ev), K_OK);
    }
    market_sym *s = market_find(m, VENUE_BINANCE_SPOT, name);
    CHECK(s != NULL);
    if (!s)
        return;
    CHECK_INT(book_buffered(s->book), nb);

    /* a snapshot with book_levels per side (and more: the worst are trimmed) */
    uint32_t nl = lim->book_levels + 10;
    for (uint32_t j = 0; j < nl; j++) {
        bids[j] = (feed_level){px(5000000 - (int64_t)j), px(2)};
        asks[j] = (feed_level){px(5000100 + (int64_t)j), px(2)};
    }
    memset(&ev, 0, sizeof ev);
    ev.kind = FEED_DEPTH_SNAPSHOT;
    ev.venue = VENUE_BINANCE_SPOT;
    snprintf(ev.symbol, sizeof ev.symbol, "%s", name);
    ev.u.depth.first_id = ev.u.depth.last_id = 1000 + nb / 2;
    ev.u.depth.bids = bids;
    ev.u.depth.asks = asks;
    ev.u.depth.nbids = ev.u.depth.nasks = nl;
    CHECK_INT(market_apply(m, &ev), K_OK);
    CHECK(book_is_live(s->book));
    CHECK_INT(book_depth(s->book, BOOK_BID), lim->book_levels);
    CHECK_INT(book_depth(s->book, BOOK_ASK), lim->book_levels);

    /* trades, one a second: the tape and the 1s ring fill */
    uint32_t nt = K_MAX(lim->tape_size, lim->candles_max) + 2;
    int64_t t_first = MEM_T0 - MEM_T0 % 86400000LL + 86400000LL;
    for (uint32_t k = 0; k < nt; k++) {
        memset(&ev, 0, sizeof ev);
        ev.kind = FEED_TRADE;
        ev.venue = VENUE_BINANCE_SPOT;
        snprintf(ev.symbol, sizeof ev.symbol, "%s", name);
        ev.u.trade.id = k + 1;
        ev.u.trade.px = px(5000050 + (int64_t)(k % 7));
        ev.u.trade.qty = px(3);
        ev.u.trade.time_ms = ev.event_ms = t_first + (int64_t)k * 1000;
        CHECK_INT(market_apply(m, &ev), K_OK);
    }
    CHECK_INT(tape_count(s->tape), lim->tape_size);

    /* stored history in front of every other timeframe, as the app's history load merges it */
    static candle hist[100000];
    for (int t = TF_1M; t < TF_COUNT; t++) {
        int64_t ms = tf_ms((enum tf)t);
        uint32_t cap = candles_cap(s->series[t]); /* 1m: at least a day */
        int64_t first = t_first - (int64_t)cap * ms;
        for (uint32_t k = 0; k < cap; k++) {
            kdec p = px(5000000 + (int64_t)(k % 13));
            hist[k] = (candle){.open_ms = first + (int64_t)k * ms, .o = p, .h = p + px(5),
                               .l = p - px(5), .c = p, .volume = px(1), .trades = 1};
        }
        candles_load_older(s->series[t], hist, cap);
    }
    for (int t = 0; t < TF_COUNT; t++)
        CHECK_INT(candles_count(s->series[t]),
                  t == TF_1M ? K_MAX(lim->candles_max, MARKET_DAY_1M_BARS) : lim->candles_max);
    if (ct)
        chartta_rebuild(ct, s); /* after a history load, as the app does */
}

static void test_defaults_fit(void)
{
    kconfig cfg;
    config_defaults(&cfg);
    market_limits lim = cfg.limits;
    market_memory mm = market_limits_memory(&lim);
    char err[600];
    CHECK_INT(market_limits_check(&lim, err, sizeof err), K_OK);
    CHECK_INT(mm.max_symbols, MEM_SYMBOLS);
    CHECK_INT(mm.budget, (size_t)64 << 20);
    /* the figures are the modules' own, from the real struct sizes */
    CHECK_INT(mm.book, book_memory_max(lim.book_levels, lim.book_buffered));
    CHECK_INT(mm.tape, tape_memory_max(lim.tape_size));
    CHECK_INT(mm.candles, (TF_COUNT - 1) * candles_memory_max(lim.candles_max) +
                              candles_memory_max(K_MAX(lim.candles_max, MARKET_DAY_1M_BARS)));
    CHECK(mm.candles >= (size_t)TF_COUNT * lim.candles_max * sizeof(candle));
    CHECK(mm.tape >= (size_t)lim.tape_size * sizeof(tape_trade));
    CHECK(mm.book >= (size_t)2 * lim.book_levels * sizeof(feed_level));
    size_t structs = mm.book + mm.tape + mm.candles + mm.symbol;
    CHECK_INT(mm.per_symbol, structs + structs / MARKET_ALLOC_SHARE);

    size_t rss0 = mem_status("VmRSS");
    market *m = market_new(&lim);
    chartta *ct = chartta_new(m, 0);
    CHECK_INT(market_subscribe(m, chartta_on_note, ct), K_OK);
    CHECK_INT(chartta_set(ct, APP_DEFAULT_INDICATORS, err, sizeof err), K_OK);
    CHECK_INT(chartta_budget(ct), mm.left);
    for (int i = 0; i < MEM_SYMBOLS; i++)
        mem_fill(m, ct, &lim, i);
    CHECK_INT(market_count(m), MEM_SYMBOLS);
    /* the default list fits every one of the 100 symbols */
    CHECK_INT(chartta_skipped(ct), 0);
    size_t ta = chartta_per_symbol(ct) * MEM_SYMBOLS;
    CHECK_INT(chartta_memory(ct), ta);
    size_t figure = mm.market + ta; /* what the budget says 100 full symbols take */
    CHECK(mm.reserve + figure < (size_t)64 << 20);
    /* the structures really are at their caps: what they hold is the worst case, nearly */
    size_t held = market_memory_now(m);
    CHECK(held <= mm.market);
    CHECK(held >= mm.market / 100 * 95);
    size_t rss1 = mem_status("VmRSS"), hwm = mem_status("VmHWM");
    printf("100 symbols at their caps: market %.1f MB held of %.1f MB computed, indicators "
           "%.1f MB; figure %.1f MB + %zu MB reserve = %.1f MB; RSS %.1f -> %.1f MB (+%.1f), "
           "peak %.1f MB\n",
           held / 1048576.0, mm.market / 1048576.0, ta / 1048576.0, figure / 1048576.0,
           mm.reserve >> 20, (mm.reserve + figure) / 1048576.0, rss0 / 1048576.0,
           rss1 / 1048576.0, (rss1 - rss0) / 1048576.0, hwm / 1048576.0);
    if (MEM_ASAN) {
        printf("AddressSanitizer build: RSS not compared (shadow memory and quarantine)\n");
    } else {
        CHECK(rss0 > 0 && rss1 > rss0);
        CHECK(rss1 - rss0 <= figure);    /* measured growth within the computed figure */
        CHECK(rss1 - rss0 >= figure / 2); /* and the test really did fill the structures */
        CHECK(hwm <= mm.budget);          /* the whole test process within 64 MB */
    }

    /* a list over the budget for these 100 symbols: refused with the numbers */
    const char *big = "ichimoku_5000_5000_5000_5000";
    CHECK_INT(chartta_check(ct, big, err, sizeof err), K_ERR);
    printf("refused: %s\n", err);
    CHECK(strstr(err, "for 100 symbols; the memory budget leaves") != NULL);
    CHECK(strstr(err, "(limits.memory_mb)") != NULL);
    CHECK_STR(chartta_specs(ct), APP_DEFAULT_INDICATORS); /* nothing changed */
    CHECK_INT(chartta_set(ct, big, err, sizeof err), K_ERR);
    CHECK_INT(chartta_memory(ct), ta);

    chartta_free(ct);
    market_free(m);
}

/* The reproduction: 16 x ichimoku_5000_5000_5000_5000 (116 MB on 2 symbols, an
 * out-of-memory abort on 300) is refused even for one symbol; one such instance fits a few
 * symbols and later symbols get no indicators, so memory stays within the budget. */
static void test_ichimoku(void)
{
    market_limits lim = {0};
    market *m = market_new(&lim);
    chartta *ct = chartta_new(m, 0);
    CHECK_INT(market_subscribe(m, chartta_on_note, ct), K_OK);
    char list[600] = "", err[600];
    for (int i = 0; i < 16; i++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%sichimoku_5000_5000_5000_5000",
                 i ? "," : "");
    CHECK_INT(chartta_set(ct, list, err, sizeof err), K_ERR);
    printf("16 x ichimoku: %s\n", err);
    CHECK(strstr(err, "MB per symbol") != NULL);
    CHECK_INT(chartta_set(ct, "ichimoku_5000_5000_5000_5000", err, sizeof err), K_OK);
    size_t per = chartta_per_symbol(ct);
    CHECK(per > (size_t)3 << 20);
    for (int i = 0; i < 300 && i < (int)market_get_limits(m)->max_symbols; i++) {
        feed_event ev;
        memset(&ev, 0, sizeof ev);
        ev.kind = FEED_TRADE;
        ev.venue = VENUE_BINANCE_SPOT;
        snprintf(ev.symbol, sizeof ev.symbol, "I%03dUSDT", i);
        ev.u.trade.px = px(100);
        ev.u.trade.qty = px(1);
        ev.u.trade.time_ms = MEM_T0;
        CHECK_INT(market_apply(m, &ev), K_OK);
    }
    uint32_t n = market_count(m), skipped = chartta_skipped(ct);
    size_t attached = chartta_budget(ct) / per;
    CHECK_INT(n, 100);
    CHECK_INT(skipped, n - attached);
    CHECK(chartta_memory(ct) <= chartta_budget(ct));
    printf("one ichimoku_5000 (%zu KB per symbol): %zu of %u symbols carry it, %.1f MB of a "
           "%.1f MB share\n", per / 1024, attached, n, chartta_memory(ct) / 1048576.0,
           chartta_budget(ct) / 1048576.0);
    chartta_free(ct);
    market_free(m);
}

int main(void)
{
    test_defaults_fit();
    test_ichimoku();
    CHECK_DONE();
}
