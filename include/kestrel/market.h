/* The market model: every watched (venue, symbol) with its book, tape, candles and counters.
 * Fed decoded events by the ingest pipeline (ingest.h) on the main thread; panes draw from it; it
 * does no I/O. What the rest of the app reacts to (a trade, a top-of-book change, a bar closed, a
 * book gap or resync, a new symbol) is published as notes to an ordered list of subscribers:
 * store, display indicators, and the engine, portfolio marks, paper fills, risk and alerts of the
 * issues that follow. Subscribers run synchronously, in subscription order, while the model is
 * consistent; none owns state another one uses. */
#ifndef KESTREL_MARKET_H
#define KESTREL_MARKET_H
#include "kestrel/book.h"
#include "kestrel/candles.h"
#include "kestrel/feed.h"
#include "kestrel/tape.h"

typedef struct market_sym {
    uint32_t index; /* position in market.syms */
    enum venue venue;
    char name[KSYM_MAX];
    book *book;
    tape *tape;
    candles *series[TF_COUNT];

    kdec last_px;       /* last trade price, 0 = none yet */
    kdec ref_px;        /* reference for change %: first trade seen this session (replay) */
    kdec tick_bid, tick_bid_qty, tick_ask, tick_ask_qty; /* last bookTicker */
    int64_t last_trade_ms;
    int64_t last_event_ms;
    int px_decimals;  /* decimals from the instrument (tick size) when known, else learned */
    int qty_decimals; /* from the prices and quantities seen (never lowered) */
    bool decimals_fixed; /* set by market_set_decimals (instrument data): not learned any more */
    bool bars_from_klines; /* bars come from exchange klines (a kline feed), not from trades */
    bool announced;        /* MARKET_SYMBOL_ADDED has been published */

    uint64_t trades;
    uint64_t tickers;
    uint64_t diffs; /* depth diffs received (applied or not) */
    uint64_t klines; /* exchange klines applied (a kline feed) */

    /* the venue's rolling 24 h statistics (FEED_TICKER24; day_ms 0 = none received) */
    kdec day_open, day_last, day_high, day_low, day_volume, day_quote_volume;
    int64_t day_ms;
    /* a perpetual's mark (FEED_MARK; mark_ms 0 = none received) */
    kdec mark_px, index_px, funding_rate;
    int64_t next_funding_ms, mark_ms;
    uint64_t fundings; /* funding times passed while marks were received (MARKET_FUNDING) */
    /* exchange klines against the trade-built bars (market_set_reconcile, docs/MARKET.md) */
    uint64_t klines_final;   /* final exchange bars streamed (x / confirm) */
    uint64_t klines_final_tf[TF_COUNT]; /* the same per timeframe (kline_<tf>, candle<bar>) */
    uint64_t kline_diffs;    /* of them, replaced a trade-built bar that differed */
    uint64_t bars_backfilled; /* bars inserted from exchange history (REST) */
    candle kline_pending[TF_COUNT]; /* a final bar for the still forming bar, applied at close */
    bool has_kline_pending[TF_COUNT];
    uint64_t dirty; /* bumped on every change: panes compare to their last drawn value */
} market_sym;

enum market_note_kind {
    MARKET_SYMBOL_ADDED, /* sym: after its first event was applied (decimals already known) */
    MARKET_TRADE,        /* sym, ev (FEED_TRADE): after the tape and candles took it */
    MARKET_TOP_CHANGED,  /* sym: best bid/ask price or size changed (book or bookTicker) */
    MARKET_BAR_CLOSED,   /* sym, tf, bar */
    MARKET_BOOK_GAP,     /* sym: gap detected, book RESYNCING */
    MARKET_BOOK_SYNCED,  /* sym: snapshot accepted (first sync or resync) */
    MARKET_BOOK_CROSSED, /* sym: the book became crossed */
    MARKET_DECIMALS,     /* sym: px_decimals / qty_decimals changed */
    MARKET_FUNDING,      /* sym, ev (FEED_FUNDING): a perpetual's funding time passed */
    MARKET_BAR_REVISED,  /* sym, tf, bar: a closed bar that did not close here -- the
                          * exchange's own replacing a trade-built one (kline reconciliation),
                          * or history inserted by a REST backfill; not a new close: the store
                          * keeps it, indicators computed at a close stay as they were */
};

typedef struct market_note {
    enum market_note_kind kind;
    market_sym *sym;
    enum tf tf;
    const candle *bar;
    const feed_event *ev; /* MARKET_TRADE, MARKET_FUNDING */
    bool resync;          /* BOOK_SYNCED: true when it follows a gap */
} market_note;

typedef void (*market_listener_fn)(void *ud, const market_note *note);
#define MARKET_MAX_SUBSCRIBERS 16

typedef struct market_limits {
    uint32_t max_symbols;     /* default 100 */
    uint32_t book_levels;     /* per side, default 1000 */
    uint32_t book_buffered;   /* diffs buffered while syncing, default 256 */
    uint32_t tape_size;       /* default 512 */
    uint32_t candles_max;     /* closed bars kept per timeframe, default 300 (1m: a day) */
    uint32_t bar_grace_ms;    /* ingest: 1s bars close this long after their end (4x longer ones);
                               * read by the app into ingest_opts, not by market_new */
    uint32_t memory_mb;       /* the memory budget (config limits.memory_mb), default 64 */
} market_limits;

/* The memory budget: limits.memory_mb covers the process. MARKET_MEMORY_RESERVE of it is kept
 * for what no limit sizes (code, libraries, SQLite's cache, decoder and UI buffers: a headless
 * replay of two symbols peaks at 9 MB); the market takes max_symbols x the worst case of one
 * symbol (book sides and sync buffer full, tape and every timeframe's ring full, from the real
 * struct sizes) plus its tables, reserved up front whether the symbols arrive or not; the display
 * indicators get the rest (chartta.h). A configuration whose market does not fit is refused at
 * start with the numbers (market_limits_check). */
#define MARKET_MEMORY_RESERVE ((size_t)10 << 20)
/* 1/25 (4 %) on top of each symbol's structures for the allocator: its per-block overhead and
 * the blocks that growth by doubling leaves behind (measured: 2.8 % at the defaults). */
#define MARKET_ALLOC_SHARE 25
#define MARKET_DEF_MEMORY_MB 64u
/* The 1m series keeps at least a day and one bar whatever candles_max says: the 24 h reference
 * (the watchlist's 24 h change) reads the 1m bar that opened 24 h before the newest data. */
#define MARKET_DAY_1M_BARS 1441u

typedef struct market_memory {
    size_t budget;     /* limits.memory_mb in bytes */
    size_t reserve;    /* MARKET_MEMORY_RESERVE */
    size_t per_symbol; /* one symbol at worst: the five below */
    size_t book, tape, candles, symbol; /* candles: every timeframe; symbol: market_sym */
    size_t alloc;      /* the allocator's share (MARKET_ALLOC_SHARE) */
    size_t tables;     /* the symbol table and its hash */
    size_t market;     /* tables + max_symbols x per_symbol: what the market reserves */
    size_t left;       /* budget - reserve - market (0 when over): the display indicators' share */
    uint32_t max_symbols;
} market_memory;

/* The budget's figures for these limits (zeros take the defaults, as market_new does). */
market_memory market_limits_memory(const market_limits *lim);
/* K_OK when the market of these limits fits the budget; K_ERR with the numbers otherwise
 * ("market: 256 symbols x 1.31 MB at most (book 1.11 MB, candles 204 KB, tape 16 KB) = 336 MB;
 * with 10 MB for the process that is over limits.memory_mb = 64: lower market.max_symbols,
 * market.book_levels, market.book_buffered, market.tape_size or market.candles_max, or raise
 * limits.memory_mb"). */
int market_limits_check(const market_limits *lim, char *err, size_t errlen);

typedef struct market market;

market *market_new(const market_limits *lim);
void market_free(market *m);
/* Appends a subscriber (notes reach subscribers in the order they subscribed). K_ERR when
 * MARKET_MAX_SUBSCRIBERS are subscribed. */
int market_subscribe(market *m, market_listener_fn fn, void *ud);
void market_unsubscribe(market *m, market_listener_fn fn, void *ud);
/* Grace before a bar closes on the data clock: grace_ms for 1s bars, 4 x grace_ms for longer
 * ones (see ingest.h). Default 0 (bars close as soon as the clock passes their end). */
void market_set_grace(market *m, int64_t grace_ms);
int64_t market_grace_ms(const market *m, enum tf tf);
/* Instrument data for symbols as they appear: fn answers a new symbol's price and quantity
 * decimals (from the tick and step sizes of exchange info or the instrument cache) and returns
 * true, or false when it does not know the symbol (its decimals are then learned from the data).
 * Called once per new symbol, before its first event is applied. */
typedef bool (*market_lookup_fn)(void *ud, enum venue v, const char *symbol, int *px_decimals,
                                 int *qty_decimals);
void market_set_lookup(market *m, market_lookup_fn fn, void *ud);
/* Decimals from instrument data (tick / step size): fixed from then on, with a MARKET_DECIMALS
 * note when they differ from what was shown. */
void market_set_decimals(market *m, market_sym *s, int px_decimals, int qty_decimals);

/* Finds a symbol, or NULL. */
market_sym *market_find(market *m, enum venue v, const char *name);
/* Finds or creates (NULL when max_symbols is reached). */
market_sym *market_add(market *m, enum venue v, const char *name);
uint32_t market_count(const market *m);
/* The limits in force (defaults filled in). */
const market_limits *market_get_limits(const market *m);
/* Bytes the market holds now (every symbol's book, tape and candles as allocated, the tables). */
size_t market_memory_now(const market *m);
/* New symbols refused because max_symbols were already there (their events count as malformed;
 * the app logs a WARN when this first turns non-zero). */
uint64_t market_refused(const market *m);
market_sym *market_at(market *m, uint32_t i);
/* The price 24 h before the symbol's newest data (its last trade, event or closed 1m bar): the
 * open of the held closed bar that opened at that moment, from the finest of 1m 5m 15m 1h that
 * holds it (live bars or stored history). A partial bar (CANDLE_PARTIAL) is no reference: its
 * open is not the price at its period's start. false when none is held (then the change is
 * measured against the session's first price, ref_px). */
bool market_ref_24h(const market_sym *s, kdec *px);

/* Live: exchange klines reconcile with the trade-built bars (docs/MARKET.md "Klines and
 * trade-built bars") instead of making a symbol kline-fed: a kline never creates a symbol;
 * forming klines are ignored; a final one (x / confirm) replaces the held closed bar of its open
 * time (MARKET_BAR_REVISED when it differed, counted in kline_diffs), or, while that bar is
 * still forming, replaces it the moment it closes (the MARKET_BAR_CLOSED note carries the
 * exchange's bar). Off by default (replay, backtest). */
void market_set_reconcile(market *m, bool on);
/* Exchange history (REST backfill), oldest first, into tf of s (candles_merge): inserted bars
 * are counted in bars_backfilled, replaced ones in kline_diffs (a MARKET_BAR_REVISED each);
 * never the forming bar. Returns the bars inserted. */
uint32_t market_merge_bars(market *m, market_sym *s, enum tf tf, const candle *bars, uint32_t n);

/* Applies one decoded event. K_OK, or K_ERR when the event is unusable (unknown symbol and the
 * table is full, snapshot without a symbol, ...): the caller counts it as malformed.
 * FEED_KLINE: a closed exchange kline becomes a closed bar of its timeframe (and is aggregated
 * into the longer ones) for a symbol whose bars come from klines (a kline feed: backtests,
 * history); for a symbol that builds its bars from trades, klines are counted and not applied
 * (the live-data issue reconciles the two). Forming (not final) klines are ignored. */
int market_apply(market *m, const feed_event *ev);
/* Advances the data clock of every symbol of venue v (VENUE_COUNT = all): closes the bars whose
 * end plus grace the clock has passed. */
void market_advance_venue(market *m, enum venue v, int64_t now_ms);
/* The same for every venue. */
void market_advance(market *m, int64_t now_ms);
/* End of data for venue v (VENUE_COUNT = all): closes, without grace, every bar that ended. */
void market_advance_final(market *m, enum venue v, int64_t now_ms);
/* Trades refused by the candles of timeframe tf as late, over all symbols, and their volume. */
uint64_t market_late_trades(const market *m, enum tf tf);
uint64_t market_klines_ignored(const market *m);
/* Exchange kline and candle fields to a candle (trades clamped to uint32). */
candle market_kline_candle(const feed_event *ev);

#endif
