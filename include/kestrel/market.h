/* The market model: every watched (venue, symbol) with its book, tape, candles and counters.
 * Fed decoded events on the main thread; panes draw from it; it does no I/O. Things the rest of
 * the app must react to (a bar closed, a book gap, a resync) are reported to one listener. */
#ifndef KESTREL_MARKET_H
#define KESTREL_MARKET_H
#include "kestrel/book.h"
#include "kestrel/candles.h"
#include "kestrel/feed.h"
#include "kestrel/tape.h"

struct ta_chart; /* indicators attached per timeframe (ta.h); owned by the app */

typedef struct market_sym {
    uint32_t index; /* position in market.syms */
    enum venue venue;
    char name[KSYM_MAX];
    book *book;
    tape *tape;
    candles *series[TF_COUNT];
    struct ta_chart *ta[TF_COUNT]; /* NULL until the app attaches indicators */

    kdec last_px;       /* last trade price, 0 = none yet */
    kdec ref_px;        /* reference for change %: first trade seen this session (replay) */
    kdec tick_bid, tick_bid_qty, tick_ask, tick_ask_qty; /* last bookTicker */
    int64_t last_trade_ms;
    int64_t last_event_ms;
    int px_decimals;  /* display decimals learned from the prices seen (or instruments) */
    int qty_decimals;

    uint64_t trades;
    uint64_t tickers;
    uint64_t diffs; /* depth diffs received (applied or not) */
    uint64_t dirty; /* bumped on every change: panes compare to their last drawn value */
} market_sym;

enum market_note_kind {
    MARKET_SYMBOL_ADDED,
    MARKET_BAR_CLOSED,   /* sym, tf, bar */
    MARKET_BOOK_GAP,     /* sym: gap detected, book RESYNCING */
    MARKET_BOOK_SYNCED,  /* sym: snapshot accepted (first sync or resync) */
    MARKET_BOOK_CROSSED, /* sym: the book became crossed */
};

typedef struct market_note {
    enum market_note_kind kind;
    market_sym *sym;
    enum tf tf;
    const candle *bar;
    bool resync; /* BOOK_SYNCED: true when it follows a gap */
} market_note;

typedef void (*market_listener_fn)(void *ud, const market_note *note);

typedef struct market_limits {
    uint32_t max_symbols;     /* default 256 */
    uint32_t book_levels;     /* per side, default 5000 */
    uint32_t book_buffered;   /* diffs buffered while syncing, default 4096 */
    uint32_t tape_size;       /* default 512 */
    uint32_t candles_max;     /* closed bars kept per timeframe, default 2000 */
} market_limits;

typedef struct market market;

market *market_new(const market_limits *lim);
void market_free(market *m);
void market_set_listener(market *m, market_listener_fn fn, void *ud);

/* Finds a symbol, or NULL. */
market_sym *market_find(market *m, enum venue v, const char *name);
/* Finds or creates (NULL when max_symbols is reached). */
market_sym *market_add(market *m, enum venue v, const char *name);
uint32_t market_count(const market *m);
/* New symbols refused because max_symbols were already there (their events count as malformed;
 * the app logs a WARN when this first turns non-zero). */
uint64_t market_refused(const market *m);
market_sym *market_at(market *m, uint32_t i);

/* Applies one decoded event. K_OK, or K_ERR when the event is unusable (unknown symbol and the
 * table is full, snapshot without a symbol, ...): the caller counts it as malformed. */
int market_apply(market *m, const feed_event *ev);
/* Advances the data clock: closes bars whose end has passed for every symbol. */
void market_advance(market *m, int64_t now_ms);

#endif
