/* The market model: every watched (venue, symbol) with its book, tape, candles and counters.
 *
 * One symbol table, bounded by limits.max_symbols: an array of stable market_sym pointers
 * (panes keep them) plus an open-addressing hash of (venue, name) -> index sized once at
 * 2 * max_symbols, so routing an event costs one hash and no allocation. market_apply is the
 * single entry point for decoded events (the ingest pipeline calls it); everything it changes
 * bumps sym->dirty, and what the rest of the app reacts to (symbol added, trade, top of book,
 * bar closed, book gap / synced / crossed, decimals) goes to an ordered list of subscribers,
 * synchronously, while the model is consistent.
 *
 * Every trade feeds all seven candle series directly (seven O(1) updates) rather than
 * cascading closed 1s bars upward: each series' forming bar is then always current, and a
 * series never waits for a lower one to close. Bars close on later trades or on the data clock
 * (market_advance*), which waits a grace after each bar's end so a lagging trade still lands in
 * its own bar. A symbol whose first data is an exchange kline is a kline feed (backtests,
 * history): its final klines become closed bars of their timeframe and are aggregated upward;
 * for a symbol built from trades, klines are counted and not applied.
 *
 * Book rules follow the venue: binance-spot -> spot U/u rules, binance-usdm -> the pu chain, okx ->
 * its seqId/prevSeqId rules (heartbeats, maintenance resets: book.c).
 *
 * Display decimals are learned as the max decimal_places seen in trades, bookTickers and
 * snapshot levels (not diff levels: that would cost a loop per level on the hottest path and
 * adds nothing a 1000-level snapshot has not shown). Tick-aligned prices make this converge
 * fast: ETHUSDT's 2677.61 teaches 2 decimals, so 2677.6 prints as "2677.60".
 *
 * Memory is admitted against a budget (market_limits_check, market.h): with the default limits
 * one symbol holds at most a book of ~40 KB of levels + ~72 KB of sync buffer, a 16 KB tape
 * and 6 * 300 * 72 B + 1441 * 72 B of candles (the 1m series keeps a day: MARKET_DAY_1M_BARS;
 * grown on use: 1s fills in 5 minutes, 1d in 10 months, or at once from stored history),
 * ~373 KB in all, so 100 symbols reserve ~36 MB of the 64 MB default. The worst case is computed from the modules' own sizes (book_memory_max,
 * tape_memory_max, candles_memory_max), not estimated here. */
#include "kestrel/market.h"

#include "kestrel/decimal.h"
#include "kestrel/xmalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MARKET_DEF_SYMBOLS 100u
#define MARKET_DEF_LEVELS 1000u
#define MARKET_DEF_BUFFERED 256u
#define MARKET_DEF_TAPE 512u
#define MARKET_DEF_CANDLES 300u
#define MARKET_MAX_SYMBOLS 65536u
#define HASH_EMPTY UINT32_MAX

typedef struct market_sub {
    market_listener_fn fn;
    void *ud;
} market_sub;

struct market {
    market_limits lim;
    market_sym **syms;
    uint32_t nsyms;
    uint32_t *hash; /* index into syms, HASH_EMPTY when free */
    uint32_t hmask;
    market_sub subs[MARKET_MAX_SUBSCRIBERS];
    uint32_t nsubs;
    int64_t grace_1s, grace_long;
    uint64_t klines_ignored;
    market_lookup_fn lookup;
    void *lookup_ud;
    uint64_t refused; /* market_add() calls refused because the table was full */
    bool reconcile;   /* live: klines reconcile with trade-built bars */
};

typedef struct bar_ctx {
    market *m;
    market_sym *s;
} bar_ctx;

/* Zeros take the defaults; max_symbols is capped. */
static market_limits market_limits_fill(const market_limits *lim)
{
    market_limits l = {0};
    if (lim)
        l = *lim;
    if (l.max_symbols == 0)
        l.max_symbols = MARKET_DEF_SYMBOLS;
    if (l.max_symbols > MARKET_MAX_SYMBOLS)
        l.max_symbols = MARKET_MAX_SYMBOLS;
    if (l.book_levels == 0)
        l.book_levels = MARKET_DEF_LEVELS;
    if (l.book_buffered == 0)
        l.book_buffered = MARKET_DEF_BUFFERED;
    if (l.tape_size == 0)
        l.tape_size = MARKET_DEF_TAPE;
    if (l.candles_max == 0)
        l.candles_max = MARKET_DEF_CANDLES;
    if (l.memory_mb == 0)
        l.memory_mb = MARKET_DEF_MEMORY_MB;
    return l;
}

static uint32_t market_hash_size(uint32_t max_symbols)
{
    uint32_t hs = 4;
    while (hs < max_symbols * 2)
        hs *= 2;
    return hs;
}

market_memory market_limits_memory(const market_limits *lim)
{
    market_limits l = market_limits_fill(lim);
    market_memory mm = {.max_symbols = l.max_symbols, .reserve = MARKET_MEMORY_RESERVE};
    mm.budget = (size_t)l.memory_mb << 20;
    mm.book = book_memory_max(l.book_levels, l.book_buffered);
    mm.tape = tape_memory_max(l.tape_size);
    mm.candles = (TF_COUNT - 1) * candles_memory_max(l.candles_max) +
                 candles_memory_max(K_MAX(l.candles_max, MARKET_DAY_1M_BARS));
    mm.symbol = sizeof(market_sym);
    mm.alloc = (mm.book + mm.tape + mm.candles + mm.symbol) / MARKET_ALLOC_SHARE;
    mm.per_symbol = mm.book + mm.tape + mm.candles + mm.symbol + mm.alloc;
    mm.tables = sizeof(struct market) + (size_t)l.max_symbols * sizeof(market_sym *) +
                (size_t)market_hash_size(l.max_symbols) * sizeof(uint32_t);
    mm.market = mm.tables + (size_t)l.max_symbols * mm.per_symbol;
    mm.left = mm.budget > mm.reserve + mm.market ? mm.budget - mm.reserve - mm.market : 0;
    return mm;
}

/* "1.31 MB", "204 KB", "512 B" */
static void market_fmt_bytes(char *out, size_t cap, size_t n)
{
    if (n >= ((size_t)1 << 20))
        snprintf(out, cap, "%.2f MB", (double)n / 1048576.0);
    else if (n >= 1024)
        snprintf(out, cap, "%zu KB", (n + 1023) / 1024);
    else
        snprintf(out, cap, "%zu B", n);
}

int market_limits_check(const market_limits *lim, char *err, size_t errlen)
{
    market_limits l = market_limits_fill(lim);
    market_memory mm = market_limits_memory(&l);
    if (mm.reserve + mm.market <= mm.budget)
        return K_OK;
    char per[24], bk[24], cs[24], tp[24], tot[24];
    market_fmt_bytes(per, sizeof per, mm.per_symbol);
    market_fmt_bytes(bk, sizeof bk, mm.book);
    market_fmt_bytes(cs, sizeof cs, mm.candles);
    market_fmt_bytes(tp, sizeof tp, mm.tape);
    market_fmt_bytes(tot, sizeof tot, mm.market);
    snprintf(err, errlen, "the market needs %u symbols x %s at most (book %s for %u levels and "
             "%u buffered diffs, candles %s for %u bars x %d timeframes (1m: at least %u), tape %s "
             "for %u trades) "
             "= %s; with %zu MB for the process that is over limits.memory_mb = %u: lower "
             "market.max_symbols, market.book_levels, market.book_buffered, market.candles_max "
             "or market.tape_size, or raise limits.memory_mb",
             l.max_symbols, per, bk, l.book_levels, l.book_buffered, cs, l.candles_max,
             TF_COUNT, MARKET_DAY_1M_BARS, tp, l.tape_size, tot, mm.reserve >> 20, l.memory_mb);
    return K_ERR;
}

market *market_new(const market_limits *lim)
{
    market *m = xcalloc(1, sizeof *m);
    m->lim = market_limits_fill(lim);
    m->syms = xcalloc(m->lim.max_symbols, sizeof *m->syms);
    uint32_t hs = market_hash_size(m->lim.max_symbols);
    m->hash = xmalloc((size_t)hs * sizeof *m->hash);
    for (uint32_t i = 0; i < hs; i++)
        m->hash[i] = HASH_EMPTY;
    m->hmask = hs - 1;
    return m;
}

static void sym_free(market_sym *s)
{
    book_free(s->book);
    tape_free(s->tape);
    for (int t = 0; t < TF_COUNT; t++)
        candles_free(s->series[t]);
    free(s);
}

void market_free(market *m)
{
    if (!m)
        return;
    for (uint32_t i = 0; i < m->nsyms; i++)
        sym_free(m->syms[i]);
    free(m->syms);
    free(m->hash);
    free(m);
}

int market_subscribe(market *m, market_listener_fn fn, void *ud)
{
    if (!fn || m->nsubs >= MARKET_MAX_SUBSCRIBERS)
        return K_ERR;
    m->subs[m->nsubs++] = (market_sub){fn, ud};
    return K_OK;
}

void market_unsubscribe(market *m, market_listener_fn fn, void *ud)
{
    for (uint32_t i = 0; i < m->nsubs; i++) {
        if (m->subs[i].fn == fn && m->subs[i].ud == ud) {
            memmove(&m->subs[i], &m->subs[i + 1], (m->nsubs - i - 1) * sizeof m->subs[0]);
            m->nsubs--;
            return;
        }
    }
}

void market_set_lookup(market *m, market_lookup_fn fn, void *ud)
{
    m->lookup = fn;
    m->lookup_ud = ud;
}

void market_set_grace(market *m, int64_t grace_ms)
{
    m->grace_1s = grace_ms > 0 ? grace_ms : 0;
    m->grace_long = m->grace_1s * 4;
}

int64_t market_grace_ms(const market *m, enum tf tf)
{
    return tf == TF_1S ? m->grace_1s : m->grace_long;
}

static void market_publish(market *m, const market_note *n)
{
    for (uint32_t i = 0; i < m->nsubs; i++)
        m->subs[i].fn(m->subs[i].ud, n);
}

/* Every note about a symbol comes after the one that announces it (decimals already learned
 * from its first event). */
static void market_announce(market *m, market_sym *s)
{
    if (s->announced)
        return;
    s->announced = true;
    market_note n = {.kind = MARKET_SYMBOL_ADDED, .sym = s, .tf = TF_1S};
    market_publish(m, &n);
}

static void notify(market *m, enum market_note_kind kind, market_sym *s, enum tf tf,
                   const candle *bar, bool resync)
{
    market_announce(m, s);
    market_note n = {.kind = kind, .sym = s, .tf = tf, .bar = bar, .resync = resync};
    market_publish(m, &n);
}

static uint32_t sym_hash(enum venue v, const char *name)
{
    uint32_t h = 2166136261u ^ (uint32_t)v;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        h ^= *p;
        h *= 16777619u;
    }
    return h;
}

/* Returns the hash slot of (v, name): the symbol's or the empty one where it would go. */
static uint32_t sym_slot(const market *m, enum venue v, const char *name)
{
    uint32_t i = sym_hash(v, name) & m->hmask;
    for (;;) {
        uint32_t idx = m->hash[i];
        if (idx == HASH_EMPTY)
            return i;
        const market_sym *s = m->syms[idx];
        if (s->venue == v && strcmp(s->name, name) == 0)
            return i;
        i = (i + 1) & m->hmask; /* load factor <= 1/2: always terminates */
    }
}

static bool name_ok(enum venue v, const char *name)
{
    return (unsigned)v < VENUE_COUNT && name && name[0] && strnlen(name, KSYM_MAX) < KSYM_MAX;
}

market_sym *market_find(market *m, enum venue v, const char *name)
{
    if (!name_ok(v, name))
        return NULL;
    uint32_t idx = m->hash[sym_slot(m, v, name)];
    return idx == HASH_EMPTY ? NULL : m->syms[idx];
}

market_sym *market_add(market *m, enum venue v, const char *name)
{
    if (!name_ok(v, name))
        return NULL;
    uint32_t slot = sym_slot(m, v, name);
    if (m->hash[slot] != HASH_EMPTY)
        return m->syms[m->hash[slot]];
    if (m->nsyms >= m->lim.max_symbols) {
        m->refused++;
        return NULL;
    }
    market_sym *s = xcalloc(1, sizeof *s);
    s->index = m->nsyms;
    s->venue = v;
    memcpy(s->name, name, strlen(name) + 1);
    enum book_rules rules = v == VENUE_BINANCE_SPOT   ? BOOK_RULES_BINANCE_SPOT
                            : v == VENUE_OKX          ? BOOK_RULES_OKX
                                                      : BOOK_RULES_BINANCE_USDM;
    s->book = book_new(rules, m->lim.book_levels, m->lim.book_buffered);
    s->tape = tape_new(m->lim.tape_size);
    for (int t = 0; t < TF_COUNT; t++)
        s->series[t] = candles_new((enum tf)t, t == TF_1M ? K_MAX(m->lim.candles_max,
                                                                  MARKET_DAY_1M_BARS)
                                                          : m->lim.candles_max);
    m->syms[m->nsyms++] = s;
    m->hash[slot] = s->index;
    s->dirty++;
    int pd, qd;
    if (m->lookup && m->lookup(m->lookup_ud, v, s->name, &pd, &qd))
        market_set_decimals(m, s, pd, qd); /* not announced yet: no note of its own */
    return s;
}

uint64_t market_refused(const market *m)
{
    return m->refused;
}

bool market_ref_24h(const market_sym *s, kdec *px)
{
    static const enum tf tfs[] = {TF_1M, TF_5M, TF_15M, TF_1H};
    if (s->day_ms > 0 && s->day_open > 0) { /* the venue's own 24 h ticker (live) */
        *px = s->day_open;
        return true;
    }
    int64_t now = K_MAX(s->last_trade_ms, s->last_event_ms);
    const candle *last = candles_last(s->series[TF_1M]);
    if (last && last->open_ms + tf_ms(TF_1M) > now)
        now = last->open_ms + tf_ms(TF_1M);
    int64_t t = now - 86400000LL;
    if (s->last_px <= 0 || t < 0)
        return false;
    for (size_t k = 0; k < K_ARRAY_LEN(tfs); k++) {
        int64_t ms = tf_ms(tfs[k]);
        const candle *b = candles_find(s->series[tfs[k]], t - t % ms);
        if (b && !(b->flags & CANDLE_PARTIAL) && b->o > 0) {
            *px = b->o;
            return true;
        }
    }
    return false;
}

uint32_t market_count(const market *m)
{
    return m->nsyms;
}

const market_limits *market_get_limits(const market *m)
{
    return &m->lim;
}

size_t market_memory_now(const market *m)
{
    size_t n = sizeof *m + (size_t)m->lim.max_symbols * sizeof *m->syms +
               (m->hmask + (size_t)1) * sizeof *m->hash;
    for (uint32_t i = 0; i < m->nsyms; i++) {
        const market_sym *s = m->syms[i];
        n += sizeof *s + book_memory(s->book) + tape_memory_max(m->lim.tape_size);
        for (int t = 0; t < TF_COUNT; t++)
            n += candles_memory(s->series[t]);
    }
    return n;
}

market_sym *market_at(market *m, uint32_t i)
{
    return i < m->nsyms ? m->syms[i] : NULL;
}

static void on_bar_closed(void *ud, enum tf tf, const candle *bar)
{
    bar_ctx *ctx = ud;
    market_sym *s = ctx->s;
    if (s->has_kline_pending[tf]) { /* the exchange's final bar arrived while this one formed */
        candle *p = &s->kline_pending[tf];
        if (p->open_ms == bar->open_ms &&
            candles_replace(s->series[tf], p) == 1)
            s->kline_diffs++;
        if (p->open_ms <= bar->open_ms)
            s->has_kline_pending[tf] = false;
    }
    notify(ctx->m, MARKET_BAR_CLOSED, s, tf, bar, false);
}

void market_set_reconcile(market *m, bool on)
{
    m->reconcile = on;
}

candle market_kline_candle(const feed_event *ev)
{
    candle b = {.open_ms = ev->u.kline.open_ms, .o = ev->u.kline.o, .h = ev->u.kline.h,
                .l = ev->u.kline.l, .c = ev->u.kline.c, .volume = ev->u.kline.volume,
                .quote_volume = ev->u.kline.quote_volume,
                .trades = ev->u.kline.trades > UINT32_MAX ? UINT32_MAX
                          : ev->u.kline.trades < 0    ? 0
                                                      : (uint32_t)ev->u.kline.trades};
    return b;
}

/* A final exchange kline of a trade-built symbol (market_set_reconcile). */
static void reconcile_kline(market *m, market_sym *s, const feed_event *ev)
{
    enum tf tf;
    if (tf_parse_kline(ev->u.kline.interval, &tf) != K_OK) {
        m->klines_ignored++;
        return;
    }
    candle b = market_kline_candle(ev);
    s->klines_final++;
    s->klines_final_tf[tf]++;
    const candle *f = candles_forming(s->series[tf]);
    if (f && f->open_ms == b.open_ms) {
        s->kline_pending[tf] = b; /* applied when the trade-built bar closes */
        s->has_kline_pending[tf] = true;
        return;
    }
    if (f && b.open_ms > f->open_ms) { /* ahead of our bars: it is applied when ours close */
        s->kline_pending[tf] = b;
        s->has_kline_pending[tf] = true;
        return;
    }
    int r = candles_replace(s->series[tf], &b);
    if (r < 0) { /* not held: a hole (before the first bar, or the ring's past) */
        uint32_t rep = 0;
        if (candles_merge(s->series[tf], &b, 1, &rep) == 1)
            s->bars_backfilled++;
        return;
    }
    if (r == 1) {
        s->kline_diffs++;
        s->dirty++;
        notify(m, MARKET_BAR_REVISED, s, tf, candles_find(s->series[tf], b.open_ms), false);
    }
}

uint32_t market_merge_bars(market *m, market_sym *s, enum tf tf, const candle *bars, uint32_t n)
{
    if ((unsigned)tf >= TF_COUNT || !s || n == 0)
        return 0;
    uint32_t rep = 0;
    uint32_t added = candles_merge(s->series[tf], bars, n, &rep);
    s->bars_backfilled += added;
    s->kline_diffs += rep;
    if ((rep || added) && m->nsubs) {
        for (uint32_t i = 0; i < n; i++) { /* the store keeps them: every one now held */
            const candle *h = candles_find(s->series[tf], bars[i].open_ms);
            if (h && h->o == bars[i].o && h->c == bars[i].c && h->volume == bars[i].volume)
                notify(m, MARKET_BAR_REVISED, s, tf, h, false);
        }
    }
    if (added || rep)
        s->dirty++;
    return added;
}

void market_set_decimals(market *m, market_sym *s, int px_decimals, int qty_decimals)
{
    if (px_decimals < 0 || px_decimals > KDEC_DIGITS || qty_decimals < 0 ||
        qty_decimals > KDEC_DIGITS)
        return;
    bool changed = s->px_decimals != px_decimals || s->qty_decimals != qty_decimals;
    s->px_decimals = px_decimals;
    s->qty_decimals = qty_decimals;
    s->decimals_fixed = true;
    if (changed) {
        s->dirty++;
        if (s->announced) /* a symbol not announced yet: its announcement says it */
            notify(m, MARKET_DECIMALS, s, TF_1S, NULL, false);
    }
}

/* Returns true when the decimals grew. */
static bool learn_decimals(market_sym *s, kdec px, kdec qty)
{
    if (s->decimals_fixed)
        return false;
    bool grew = false;
    /* the common case costs one division: a value with no more decimals than already seen */
    static const int64_t unit[KDEC_DIGITS + 1] = {100000000LL, 10000000LL, 1000000LL, 100000LL,
                                                  10000LL,     1000LL,     100LL,     10LL, 1LL};
    if (s->px_decimals < KDEC_DIGITS && px % unit[s->px_decimals] != 0) {
        int d = decimal_places(px);
        if (d > s->px_decimals) {
            s->px_decimals = d;
            grew = true;
        }
    }
    if (s->qty_decimals < KDEC_DIGITS && qty % unit[s->qty_decimals] != 0) {
        int d = decimal_places(qty);
        if (d > s->qty_decimals) {
            s->qty_decimals = d;
            grew = true;
        }
    }
    return grew;
}

static bool values_ok(const feed_event *ev)
{
    if (ev->kind == FEED_TRADE) /* and a time to put it in a bar (T, or E as fallback) */
        return ev->u.trade.px > 0 && ev->u.trade.qty >= 0 &&
               (ev->u.trade.time_ms > 0 || ev->event_ms > 0);
    if (ev->kind == FEED_BOOK_TICKER)
        return ev->u.ticker.bid_px >= 0 && ev->u.ticker.bid_qty >= 0 &&
               ev->u.ticker.ask_px >= 0 && ev->u.ticker.ask_qty >= 0;
    if (ev->kind == FEED_KLINE) {
        kdec o = ev->u.kline.o, h = ev->u.kline.h, l = ev->u.kline.l, c = ev->u.kline.c;
        return ev->u.kline.open_ms >= 0 && l > 0 && h >= l && o >= l && o <= h && c >= l &&
               c <= h && ev->u.kline.volume >= 0 && ev->u.kline.quote_volume >= 0;
    }
    return true; /* depth: judged by the book */
}

static bool apply_trade(market *m, market_sym *s, const feed_event *ev)
{
    kdec px = ev->u.trade.px, qty = ev->u.trade.qty;
    int64_t t = ev->u.trade.time_ms ? ev->u.trade.time_ms : ev->event_ms;
    tape_trade tr = {.time_ms = t, .px = px, .qty = qty, .buyer_maker = ev->u.trade.buyer_maker};
    tape_push(s->tape, &tr);
    bar_ctx ctx = {m, s};
    for (int k = 0; k < TF_COUNT; k++)
        candles_on_trade(s->series[k], t, px, qty, ev->u.trade.buyer_maker, on_bar_closed, &ctx);
    s->last_px = px;
    if (s->ref_px == 0)
        s->ref_px = px;
    if (t > s->last_trade_ms)
        s->last_trade_ms = t;
    s->trades++;
    return learn_decimals(s, px, qty);
}

/* Returns true when the decimals grew; *top when the quote changed. */
static bool apply_ticker(market_sym *s, const feed_event *ev, bool *top)
{
    *top = s->tick_bid != ev->u.ticker.bid_px || s->tick_bid_qty != ev->u.ticker.bid_qty ||
           s->tick_ask != ev->u.ticker.ask_px || s->tick_ask_qty != ev->u.ticker.ask_qty;
    s->tick_bid = ev->u.ticker.bid_px;
    s->tick_bid_qty = ev->u.ticker.bid_qty;
    s->tick_ask = ev->u.ticker.ask_px;
    s->tick_ask_qty = ev->u.ticker.ask_qty;
    s->tickers++;
    bool grew = learn_decimals(s, s->tick_bid, s->tick_bid_qty);
    return learn_decimals(s, s->tick_ask, s->tick_ask_qty) || grew;
}

/* A final exchange kline of a kline-fed symbol: a closed bar of its timeframe, aggregated into
 * the longer ones. */
static bool apply_kline(market *m, market_sym *s, const feed_event *ev)
{
    enum tf tf;
    if (tf_parse_kline(ev->u.kline.interval, &tf) != K_OK || !ev->u.kline.closed)
        return false;
    candle b = {.open_ms = ev->u.kline.open_ms, .o = ev->u.kline.o, .h = ev->u.kline.h,
                .l = ev->u.kline.l, .c = ev->u.kline.c, .volume = ev->u.kline.volume,
                .quote_volume = ev->u.kline.quote_volume,
                .trades = ev->u.kline.trades > UINT32_MAX ? UINT32_MAX
                          : ev->u.kline.trades < 0    ? 0
                                                      : (uint32_t)ev->u.kline.trades};
    bar_ctx ctx = {m, s};
    for (int k = tf; k < TF_COUNT; k++)
        candles_on_bar(s->series[k], &b, tf_ms(tf), on_bar_closed, &ctx);
    s->last_px = b.c;
    if (s->ref_px == 0)
        s->ref_px = b.o;
    bool grew = learn_decimals(s, b.o, b.volume);
    grew = learn_decimals(s, b.h, 0) || grew;
    grew = learn_decimals(s, b.l, 0) || grew;
    return learn_decimals(s, b.c, 0) || grew;
}

typedef struct market_top {
    kdec bid, bid_qty, ask, ask_qty;
} market_top;

static market_top market_book_top(const market_sym *s)
{
    market_top t = {0, 0, 0, 0};
    if (!book_best(s->book, &t.bid, &t.bid_qty, &t.ask, &t.ask_qty))
        memset(&t, 0, sizeof t);
    return t;
}

/* Notes for what a book call did; K_ERR for rejected input. */
static int book_outcome(market *m, market_sym *s, enum book_result r, enum book_state before,
                        uint64_t crossed_before)
{
    switch (r) {
    case BOOK_GAP:
        notify(m, MARKET_BOOK_GAP, s, TF_1S, NULL, false);
        break;
    case BOOK_SYNCED:
        notify(m, MARKET_BOOK_SYNCED, s, TF_1S, NULL, before == BOOK_RESYNCING);
        break;
    case BOOK_REJECTED:
        return K_ERR;
    default:
        break;
    }
    if (book_get_stats(s->book)->crossed != crossed_before)
        notify(m, MARKET_BOOK_CROSSED, s, TF_1S, NULL, false);
    return K_OK;
}

/* FEED_TICKER24 / FEED_MARK: statistics of a symbol with data (they create none). A mark whose
 * next funding time moved on says the previous funding time passed: a MARKET_FUNDING note with
 * the rate that applied then (the runner pays it, the engine's funding features take it). */
static int apply_stats(market *m, const feed_event *ev)
{
    market_sym *s = market_find(m, ev->venue, ev->symbol);
    if (ev->kind == FEED_TICKER24) {
        const kdec *d = &ev->u.day.open;
        if (d[0] < 0 || ev->u.day.last < 0 || ev->u.day.high < ev->u.day.low ||
            ev->u.day.volume < 0 || ev->u.day.quote_volume < 0)
            return K_ERR;
        if (!s)
            return K_OK;
        s->day_open = ev->u.day.open;
        s->day_last = ev->u.day.last;
        s->day_high = ev->u.day.high;
        s->day_low = ev->u.day.low;
        s->day_volume = ev->u.day.volume;
        s->day_quote_volume = ev->u.day.quote_volume;
        s->day_ms = ev->event_ms > 0 ? ev->event_ms : ev->recv_ns / 1000000;
        s->dirty++;
        return K_OK;
    }
    if (ev->u.mark.mark < 0 || ev->u.mark.index < 0 || ev->u.mark.next_funding_ms < 0)
        return K_ERR;
    if (!s)
        return K_OK;
    if (s->next_funding_ms > 0 && ev->u.mark.next_funding_ms > s->next_funding_ms) {
        feed_event f = {.kind = FEED_FUNDING, .venue = s->venue, .event_ms = ev->event_ms,
                        .recv_ns = ev->recv_ns};
        memcpy(f.symbol, s->name, sizeof f.symbol);
        f.u.funding.time_ms = s->next_funding_ms;
        f.u.funding.rate = s->funding_rate;
        f.u.funding.mark = s->mark_px;
        f.u.funding.index = s->index_px;
        s->fundings++;
        if (m->nsubs) {
            market_note n = {.kind = MARKET_FUNDING, .sym = s, .ev = &f};
            market_publish(m, &n);
        }
    }
    s->mark_px = ev->u.mark.mark;
    s->index_px = ev->u.mark.index;
    s->funding_rate = ev->u.mark.rate;
    s->next_funding_ms = ev->u.mark.next_funding_ms;
    s->mark_ms = ev->event_ms > 0 ? ev->event_ms : ev->recv_ns / 1000000;
    s->dirty++;
    return K_OK;
}

int market_apply(market *m, const feed_event *ev)
{
    if (!ev)
        return K_ERR;
    if (ev->kind == FEED_NONE)
        return K_OK;
    if (ev->kind != FEED_TRADE && ev->kind != FEED_BOOK_TICKER && ev->kind != FEED_KLINE &&
        ev->kind != FEED_DEPTH_DIFF && ev->kind != FEED_DEPTH_SNAPSHOT &&
        ev->kind != FEED_FUNDING && ev->kind != FEED_TICKER24 && ev->kind != FEED_MARK)
        return K_ERR;
    if (ev->symbol[0] == '\0' || strnlen(ev->symbol, KSYM_MAX) >= KSYM_MAX)
        return K_ERR; /* includes a snapshot whose symbol the caller did not fill */
    if (ev->kind == FEED_TICKER24 || ev->kind == FEED_MARK)
        return apply_stats(m, ev);
    if (ev->kind == FEED_KLINE && m->reconcile) {
        market_sym *ks = values_ok(ev) ? market_find(m, ev->venue, ev->symbol) : NULL;
        if (!ks || ks->bars_from_klines || !ev->u.kline.closed)
            m->klines_ignored++; /* forming, or before the symbol's first trade */
        else
            reconcile_kline(m, ks, ev);
        return K_OK;
    }
    if (ev->kind == FEED_FUNDING) { /* about a symbol with data: it creates none */
        if (ev->u.funding.time_ms <= 0 || ev->u.funding.mark < 0 || ev->u.funding.index < 0)
            return K_ERR;
        market_sym *fs = market_find(m, ev->venue, ev->symbol);
        if (fs && m->nsubs) {
            market_note n = {.kind = MARKET_FUNDING, .sym = fs, .ev = ev};
            market_publish(m, &n);
        }
        return K_OK;
    }
    if (!values_ok(ev))
        return K_ERR; /* checked before the symbol is created: junk never takes a table slot */
    market_sym *s = market_add(m, ev->venue, ev->symbol);
    if (!s)
        return K_ERR; /* table full or bad venue */
    bool fresh = s->trades == 0 && s->tickers == 0 && s->diffs == 0 && s->klines == 0;
    if (ev->kind == FEED_KLINE) {
        if (fresh)
            s->bars_from_klines = true;
        if (!s->bars_from_klines) {
            m->klines_ignored++;
            return K_OK;
        }
    }

    int rc = K_OK;
    bool grew = false, top = false;
    enum book_state before = book_state(s->book);
    uint64_t crossed_before = book_get_stats(s->book)->crossed;
    bool depth = ev->kind == FEED_DEPTH_DIFF || ev->kind == FEED_DEPTH_SNAPSHOT;
    market_top top_before = {0, 0, 0, 0};
    if (depth && m->nsubs)
        top_before = market_book_top(s);
    switch (ev->kind) {
    case FEED_TRADE:
        if (s->bars_from_klines) { /* a kline feed keeps its bars; the tape still shows it */
            tape_trade tr = {.time_ms = ev->u.trade.time_ms ? ev->u.trade.time_ms : ev->event_ms,
                             .px = ev->u.trade.px, .qty = ev->u.trade.qty,
                             .buyer_maker = ev->u.trade.buyer_maker};
            tape_push(s->tape, &tr);
            s->last_px = tr.px;
            s->trades++;
            grew = learn_decimals(s, tr.px, tr.qty);
        } else {
            grew = apply_trade(m, s, ev);
        }
        break;
    case FEED_BOOK_TICKER:
        grew = apply_ticker(s, ev, &top);
        break;
    case FEED_KLINE:
        s->klines++;
        grew = apply_kline(m, s, ev);
        break;
    case FEED_DEPTH_DIFF:
        s->diffs++;
        rc = book_outcome(m, s, book_on_diff(s->book, ev), before, crossed_before);
        break;
    case FEED_DEPTH_SNAPSHOT: {
        enum book_result r = book_on_snapshot(s->book, ev);
        if (r != BOOK_REJECTED) {
            for (uint32_t j = 0; j < ev->u.depth.nbids; j++)
                grew = learn_decimals(s, ev->u.depth.bids[j].px, ev->u.depth.bids[j].qty) || grew;
            for (uint32_t j = 0; j < ev->u.depth.nasks; j++)
                grew = learn_decimals(s, ev->u.depth.asks[j].px, ev->u.depth.asks[j].qty) || grew;
        }
        rc = book_outcome(m, s, r, before, crossed_before);
        break;
    }
    default:
        break;
    }
    if (rc == K_OK && ev->event_ms > s->last_event_ms)
        s->last_event_ms = ev->event_ms;
    s->dirty++;
    if (!s->announced)
        market_announce(m, s);
    else if (grew)
        notify(m, MARKET_DECIMALS, s, TF_1S, NULL, false);
    if (!m->nsubs)
        return rc;
    if (ev->kind == FEED_TRADE && rc == K_OK) {
        market_note n = {.kind = MARKET_TRADE, .sym = s, .ev = ev};
        market_publish(m, &n);
    }
    if (depth) {
        market_top t = market_book_top(s);
        top = memcmp(&t, &top_before, sizeof t) != 0;
    }
    if (top)
        notify(m, MARKET_TOP_CHANGED, s, TF_1S, NULL, false);
    return rc;
}

static void market_advance_sym(market *m, market_sym *s, int64_t now_ms, bool final)
{
    bar_ctx ctx = {m, s};
    int closed = 0;
    for (int k = 0; k < TF_COUNT; k++) {
        int64_t g = final ? 0 : market_grace_ms(m, (enum tf)k);
        closed += candles_advance(s->series[k], now_ms - g, on_bar_closed, &ctx);
    }
    if (closed)
        s->dirty++;
}

void market_advance_venue(market *m, enum venue v, int64_t now_ms)
{
    for (uint32_t i = 0; i < m->nsyms; i++)
        if (v == VENUE_COUNT || m->syms[i]->venue == v)
            market_advance_sym(m, m->syms[i], now_ms, false);
}

void market_advance(market *m, int64_t now_ms)
{
    market_advance_venue(m, VENUE_COUNT, now_ms);
}

void market_advance_final(market *m, enum venue v, int64_t now_ms)
{
    for (uint32_t i = 0; i < m->nsyms; i++)
        if (v == VENUE_COUNT || m->syms[i]->venue == v)
            market_advance_sym(m, m->syms[i], now_ms, true);
}

uint64_t market_late_trades(const market *m, enum tf tf)
{
    uint64_t n = 0;
    for (uint32_t i = 0; (unsigned)tf < TF_COUNT && i < m->nsyms; i++)
        n += candles_late(m->syms[i]->series[tf]);
    return n;
}

uint64_t market_klines_ignored(const market *m)
{
    return m->klines_ignored;
}
