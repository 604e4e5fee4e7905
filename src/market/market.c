/* The market model: every watched (venue, symbol) with its book, tape, candles and counters.
 *
 * One symbol table, bounded by limits.max_symbols: an array of stable market_sym pointers
 * (panes keep them) plus an open-addressing hash of (venue, name) -> index sized once at
 * 2 * max_symbols, so routing an event costs one hash and no allocation. market_apply is the
 * single entry point for decoded events; everything it changes bumps sym->dirty, and the
 * events the rest of the app must react to (bar closed, book gap, book synced, book crossed)
 * go to one listener, synchronously, while the model is consistent.
 *
 * Every trade feeds all seven candle series directly (seven O(1) updates) rather than
 * cascading closed 1s bars upward: each series' forming bar is then always current, and a
 * series never waits for a lower one to close. Bars close on later trades or on the data clock
 * (market_advance). Exchange klines (FEED_KLINE) are accepted and ignored: trades already build
 * the bars.
 *
 * Book rules follow the venue: binance-spot -> spot U/u rules, anything else (binance-usdm, and
 * okx, whose seqId/prevSeqId has the same shape and which no decoder produces yet) -> pu chain.
 *
 * Display decimals are learned as the max decimal_places seen in trades, bookTickers and
 * snapshot levels (not diff levels: that would cost a loop per level on the hottest path and
 * adds nothing a 1000-level snapshot has not shown). Tick-aligned prices make this converge
 * fast: ETHUSDT's 2677.61 teaches 2 decimals, so 2677.6 prints as "2677.60".
 *
 * Memory per symbol with the default limits: book <= ~200 KB of levels (+ <= ~1.1 MB of sync
 * buffer, only while buffering bursts), tape 16 KB, candles <= 7 * 2000 * 72 B (grown on use:
 * 1s fills in 33 min, 1d holds a handful of bars for weeks). */
#include "kestrel/market.h"

#include "kestrel/decimal.h"
#include "kestrel/xmalloc.h"

#include <stdlib.h>
#include <string.h>

#define MARKET_DEF_SYMBOLS 256u
#define MARKET_DEF_LEVELS 5000u
#define MARKET_DEF_BUFFERED 4096u
#define MARKET_DEF_TAPE 512u
#define MARKET_DEF_CANDLES 2000u
#define MARKET_MAX_SYMBOLS 65536u
#define HASH_EMPTY UINT32_MAX

struct market {
    market_limits lim;
    market_sym **syms;
    uint32_t nsyms;
    uint32_t *hash; /* index into syms, HASH_EMPTY when free */
    uint32_t hmask;
    market_listener_fn fn;
    void *ud;
    uint64_t refused; /* market_add() calls refused because the table was full */
};

typedef struct bar_ctx {
    market *m;
    market_sym *s;
} bar_ctx;

market *market_new(const market_limits *lim)
{
    market *m = xcalloc(1, sizeof *m);
    if (lim)
        m->lim = *lim;
    if (m->lim.max_symbols == 0)
        m->lim.max_symbols = MARKET_DEF_SYMBOLS;
    if (m->lim.max_symbols > MARKET_MAX_SYMBOLS)
        m->lim.max_symbols = MARKET_MAX_SYMBOLS;
    if (m->lim.book_levels == 0)
        m->lim.book_levels = MARKET_DEF_LEVELS;
    if (m->lim.book_buffered == 0)
        m->lim.book_buffered = MARKET_DEF_BUFFERED;
    if (m->lim.tape_size == 0)
        m->lim.tape_size = MARKET_DEF_TAPE;
    if (m->lim.candles_max == 0)
        m->lim.candles_max = MARKET_DEF_CANDLES;
    m->syms = xcalloc(m->lim.max_symbols, sizeof *m->syms);
    uint32_t hs = 4;
    while (hs < m->lim.max_symbols * 2)
        hs *= 2;
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

void market_set_listener(market *m, market_listener_fn fn, void *ud)
{
    m->fn = fn;
    m->ud = ud;
}

static void notify(market *m, enum market_note_kind kind, market_sym *s, enum tf tf,
                   const candle *bar, bool resync)
{
    if (!m->fn)
        return;
    market_note n = {.kind = kind, .sym = s, .tf = tf, .bar = bar, .resync = resync};
    m->fn(m->ud, &n);
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
    enum book_rules rules = v == VENUE_BINANCE_SPOT ? BOOK_RULES_BINANCE_SPOT
                                                    : BOOK_RULES_BINANCE_USDM;
    s->book = book_new(rules, m->lim.book_levels, m->lim.book_buffered);
    s->tape = tape_new(m->lim.tape_size);
    for (int t = 0; t < TF_COUNT; t++)
        s->series[t] = candles_new((enum tf)t, m->lim.candles_max);
    m->syms[m->nsyms++] = s;
    m->hash[slot] = s->index;
    s->dirty++;
    notify(m, MARKET_SYMBOL_ADDED, s, TF_1S, NULL, false);
    return s;
}

uint64_t market_refused(const market *m)
{
    return m->refused;
}

uint32_t market_count(const market *m)
{
    return m->nsyms;
}

market_sym *market_at(market *m, uint32_t i)
{
    return i < m->nsyms ? m->syms[i] : NULL;
}

static void on_bar_closed(void *ud, enum tf tf, const candle *bar)
{
    bar_ctx *ctx = ud;
    notify(ctx->m, MARKET_BAR_CLOSED, ctx->s, tf, bar, false);
}

static void learn_decimals(market_sym *s, kdec px, kdec qty)
{
    if (s->px_decimals < KDEC_DIGITS) {
        int d = decimal_places(px);
        if (d > s->px_decimals)
            s->px_decimals = d;
    }
    if (s->qty_decimals < KDEC_DIGITS) {
        int d = decimal_places(qty);
        if (d > s->qty_decimals)
            s->qty_decimals = d;
    }
}

static bool values_ok(const feed_event *ev)
{
    if (ev->kind == FEED_TRADE) /* and a time to put it in a bar (T, or E as fallback) */
        return ev->u.trade.px > 0 && ev->u.trade.qty >= 0 &&
               (ev->u.trade.time_ms > 0 || ev->event_ms > 0);
    if (ev->kind == FEED_BOOK_TICKER)
        return ev->u.ticker.bid_px >= 0 && ev->u.ticker.bid_qty >= 0 &&
               ev->u.ticker.ask_px >= 0 && ev->u.ticker.ask_qty >= 0;
    return true; /* depth: judged by the book */
}

static void apply_trade(market *m, market_sym *s, const feed_event *ev)
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
    learn_decimals(s, px, qty);
}

static void apply_ticker(market_sym *s, const feed_event *ev)
{
    s->tick_bid = ev->u.ticker.bid_px;
    s->tick_bid_qty = ev->u.ticker.bid_qty;
    s->tick_ask = ev->u.ticker.ask_px;
    s->tick_ask_qty = ev->u.ticker.ask_qty;
    s->tickers++;
    learn_decimals(s, s->tick_bid, s->tick_bid_qty);
    learn_decimals(s, s->tick_ask, s->tick_ask_qty);
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

int market_apply(market *m, const feed_event *ev)
{
    if (!ev)
        return K_ERR;
    if (ev->kind == FEED_NONE || ev->kind == FEED_KLINE)
        return K_OK;
    if (ev->kind != FEED_TRADE && ev->kind != FEED_BOOK_TICKER &&
        ev->kind != FEED_DEPTH_DIFF && ev->kind != FEED_DEPTH_SNAPSHOT)
        return K_ERR;
    if (ev->symbol[0] == '\0' || strnlen(ev->symbol, KSYM_MAX) >= KSYM_MAX)
        return K_ERR; /* includes a snapshot whose symbol the caller did not fill */
    if (!values_ok(ev))
        return K_ERR; /* checked before the symbol is created: junk never takes a table slot */
    market_sym *s = market_add(m, ev->venue, ev->symbol);
    if (!s)
        return K_ERR; /* table full or bad venue */

    int rc = K_OK;
    enum book_state before = book_state(s->book);
    uint64_t crossed_before = book_get_stats(s->book)->crossed;
    switch (ev->kind) {
    case FEED_TRADE:
        apply_trade(m, s, ev);
        break;
    case FEED_BOOK_TICKER:
        apply_ticker(s, ev);
        break;
    case FEED_DEPTH_DIFF:
        s->diffs++;
        rc = book_outcome(m, s, book_on_diff(s->book, ev), before, crossed_before);
        break;
    case FEED_DEPTH_SNAPSHOT: {
        enum book_result r = book_on_snapshot(s->book, ev);
        if (r != BOOK_REJECTED) {
            for (uint32_t j = 0; j < ev->u.depth.nbids; j++)
                learn_decimals(s, ev->u.depth.bids[j].px, ev->u.depth.bids[j].qty);
            for (uint32_t j = 0; j < ev->u.depth.nasks; j++)
                learn_decimals(s, ev->u.depth.asks[j].px, ev->u.depth.asks[j].qty);
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
    return rc;
}

void market_advance(market *m, int64_t now_ms)
{
    for (uint32_t i = 0; i < m->nsyms; i++) {
        market_sym *s = m->syms[i];
        bar_ctx ctx = {m, s};
        int closed = 0;
        for (int k = 0; k < TF_COUNT; k++)
            closed += candles_advance(s->series[k], now_ms, on_bar_closed, &ctx);
        if (closed)
            s->dirty++;
    }
}
