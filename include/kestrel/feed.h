/* Venue-neutral decoded market events: what every venue decoder (replay, live) produces and
 * what the market model consumes. Plain data; the level arrays point into caller scratch. */
#ifndef KESTREL_FEED_H
#define KESTREL_FEED_H
#include "kestrel/common.h"

enum feed_kind {
    FEED_NONE = 0,       /* benign message with nothing to apply (subscribe ack, ping, ...) */
    FEED_TRADE,
    FEED_BOOK_TICKER,
    FEED_DEPTH_DIFF,     /* incremental book update */
    FEED_DEPTH_SNAPSHOT, /* full snapshot (REST depth); symbol may be empty: caller fills it */
    FEED_KLINE,          /* exchange kline (live data issue) */
    FEED_FUNDING,        /* a perpetual's funding at its funding time (backtest funding files;
                          * never the markPrice stream: that is FEED_MARK) */
    FEED_TICKER24,       /* rolling 24 h statistics (Binance @ticker, OKX tickers) */
    FEED_MARK,           /* a perpetual's mark / index price and the current funding rate
                          * (Binance USD-M @markPrice): the market turns the passing of its
                          * next funding time into a MARKET_FUNDING note */
};

typedef struct feed_level {
    kdec px;
    kdec qty;
} feed_level;

typedef struct feed_event {
    enum feed_kind kind;
    enum venue venue;
    char symbol[KSYM_MAX]; /* uppercase exchange symbol, "" when the message carries none */
    int64_t event_ms;      /* exchange event time (E), 0 if absent */
    int64_t recv_ns;       /* local receive time (replay: recorded), set by the source */
    union {
        struct {
            int64_t id;
            kdec px, qty;
            int64_t time_ms; /* trade time T (falls back to E) */
            bool buyer_maker;
        } trade;
        struct {
            int64_t update_id;
            kdec bid_px, bid_qty, ask_px, ask_qty;
        } ticker;
        struct {
            int64_t first_id; /* U (snapshot: lastUpdateId) */
            int64_t last_id;  /* u (snapshot: lastUpdateId) */
            int64_t prev_id;  /* pu (USD-M), valid when has_prev */
            bool has_prev;
            const feed_level *bids, *asks; /* bids best-first as sent, asks as sent */
            uint32_t nbids, nasks;
        } depth;
        struct {
            int64_t open_ms, close_ms;
            char interval[8];
            kdec o, h, l, c, volume, quote_volume;
            int64_t trades;
            bool closed;
        } kline;
        struct {
            int64_t time_ms; /* the funding time */
            kdec rate;       /* > 0: longs pay shorts */
            kdec mark;       /* mark price at that time, 0 = unknown (the last price is used) */
            kdec index;      /* index price, 0 = unknown */
        } funding;
        struct {
            kdec open, last, high, low; /* open = the price 24 h ago */
            kdec volume, quote_volume;  /* base and quote volume over the 24 h */
        } day;
        struct {
            kdec mark, index;     /* index 0 = not sent */
            kdec rate;            /* the funding rate that applies at next_funding_ms */
            int64_t next_funding_ms;
        } mark;
    } u;
} feed_event;

#endif
