/* OKX v5 public market-data decoder: one websocket or REST message (bytes) -> feed_events.
 * Pure (no I/O, no state); safe on any byte sequence of any length. OKX pushes arrays ("data":
 * [...]) so one message may hold several events (trades, candles). */
#ifndef KESTREL_OKX_H
#define KESTREL_OKX_H
#include "kestrel/feed.h"

/* Largest message accepted (a 400-level REST book is ~40 KB). */
#define OKX_MAX_MSG (4u << 20)

/* What a message was, beyond its events. */
enum okx_msg_kind {
    OKX_MSG_DATA = 0,     /* a channel push or a REST "data" response: see the events */
    OKX_MSG_PONG,         /* the text "pong" answering our text "ping" */
    OKX_MSG_SUBSCRIBED,   /* {"event":"subscribe","arg":{..}} */
    OKX_MSG_UNSUBSCRIBED, /* {"event":"unsubscribe",..} */
    OKX_MSG_NOTICE,       /* {"event":"notice",..}: e.g. 64008 "connection will soon be closed
                             for a service upgrade" -> reconnect now */
    OKX_MSG_EVENT,        /* any other "event" (channel-conn-count, login, ...) */
    OKX_MSG_ERROR,        /* {"event":"error",..} or a REST {"code":"<non-0>",..} (K_ERR) */
};

typedef struct okx_info {
    enum okx_msg_kind kind;
    char channel[32];         /* arg.channel ("books", "trades", "candle1m", ...), or "" */
    char inst_id[KSYM_MAX];   /* arg.instId, or "" */
    char code[16];            /* "code" of event/error/REST messages, or "" */
    char msg[128];            /* "msg" (truncated), or "" */
    char action[16];          /* books: "snapshot" / "update", else "" */
} okx_info;

/* Decodes one message of `len` bytes (need not be NUL-terminated; never read past len) into at
 * most cap_evs events (*nev of them).
 *
 * Channel pushes {"arg":{"channel":C,"instId":I},["action":A,]"data":[..]}:
 *   books, books-l2-tbt, books50-l2-tbt: one event per data item; action "snapshot" ->
 *     FEED_DEPTH_SNAPSHOT, "update" -> FEED_DEPTH_DIFF. u.depth.first_id = last_id = seqId,
 *     prev_id = prevSeqId (-1 on a snapshot), has_prev = true. An item without seqId/prevSeqId
 *     (pre-2023 captures) decodes with has_prev = false and ids 0: book rules refuse it.
 *     Levels [px, sz, "0", numOrders] -> (px, sz); the checksum is ignored (OKX zeroed it).
 *   books5, bbo-tbt (top-N snapshots, never diffs) and tickers -> FEED_BOOK_TICKER from the best
 *     level of each side (update_id = ts); an item with an empty side -> no event.
 *   tickers items carrying open24h also give a FEED_TICKER24 (open24h, last, high24h, low24h;
 *     SPOT volume = vol24h, quote = volCcy24h; SWAP/FUTURES volume = volCcy24h, quote 0).
 *   trades, trades-all -> FEED_TRADE (id = tradeId, buyer_maker = side "sell", time = ts).
 *   candle<bar> (business endpoint) -> FEED_KLINE per row [ts,o,h,l,c,vol,volCcy,volCcyQuote,
 *     confirm]: interval = <bar> as OKX names it ("1m", "1H", "1Dutc"), closed = confirm "1"
 *     (absent -> false), close_ms = ts + bar - 1 (0 for month bars), volume = vol,
 *     quote_volume = volCcyQuote (0 if absent), trades = 0.
 *   funding-rate, mark-price, index-tickers, open-interest, price-limit, estimated-price,
 *     opt-summary, liquidation-orders -> no event (K_OK); any other channel -> K_ERR.
 * REST responses {"code":"0","msg":"","data":[..]}: an item with asks+bids (GET
 *   /api/v5/market/books) -> FEED_DEPTH_SNAPSHOT, symbol "", last_id = first_id = seqId (-1 when
 *   absent, which book rules refuse); other REST data -> no event. "code" != "0" -> K_ERR.
 * "pong" (exact text) -> OKX_MSG_PONG. {"event":..} -> SUBSCRIBED / UNSUBSCRIBED / NOTICE /
 *   EVENT (K_OK), "error" -> OKX_MSG_ERROR and K_ERR "exchange error" (info has code, msg).
 *
 * Validation: the whole message must be valid UTF-8 without raw control characters other than
 * whitespace, at most OKX_MAX_MSG bytes, one JSON value with only whitespace after it. instId is
 * 1..KSYM_MAX-1 bytes of [A-Z0-9-]; a data item's instId must equal arg.instId. Prices and sizes
 * are decimal strings parsed exactly (>= 0); ids and times are strings of digits or JSON integers
 * fitting int64 (prevSeqId may be -1 or any value: maintenance resets make it jump).
 *
 * `levels` is caller scratch shared by all the message's events (cap_levels entries); more ->
 * "too many levels". More items than cap_evs -> "too many events". info may be NULL; why may be
 * NULL. Events get venue VENUE_OKX, recv_ns 0 (the source fills it), event_ms = ts.
 * Returns K_OK (*why = NULL) or K_ERR with *nev = 0 and *why a short static reason. */
int okx_decode(const char *json, size_t len, feed_event *evs, uint32_t cap_evs, uint32_t *nev,
               feed_level *levels, uint32_t cap_levels, okx_info *info, const char **why);

/* REST GET /api/v5/market/candles or history-candles: {"code":"0","data":[[ts,o,h,l,c,vol,
 * volCcy,volCcyQuote,confirm],...]} (newest first, as OKX sends them) -> one FEED_KLINE per row
 * in the order received, symbol = inst, interval = bar (the request's), fields as the candle
 * channel above. "code" != "0" -> K_ERR "exchange error". Same validation as okx_decode. */
int okx_decode_candles(const char *json, size_t len, const char *inst, const char *bar,
                       feed_event *evs, uint32_t cap_evs, uint32_t *nev, const char **why);

/* Duration of an OKX bar name in ms ("1s","1m","3m","5m","15m","30m","1H","2H","4H","6H","12H",
 * "1D","2D","3D","5D","1W", each optionally with "utc"), 0 for months ("1M","3M") or unknown. */
int64_t okx_bar_ms(const char *bar);

/* True when s (len bytes) is a valid OKX instrument id: 1..KSYM_MAX-1 of [A-Z0-9-]. */
bool okx_inst_valid(const char *s, size_t len);

/* Writes the subscribe request for one channel and instId into out:
 * {"op":"subscribe","args":[{"channel":"<channel>","instId":"<inst>"}]}. Returns the length, or 0
 * when it does not fit or an argument is invalid (instId as okx_inst_valid, channel
 * [a-z0-9A-Z-]{1,31}). op "unsubscribe" when subscribe is false. */
size_t okx_subscribe_msg(char *out, size_t cap, bool subscribe, const char *channel,
                         const char *inst);

/* The same for nch channels of one instId in one request (OKX counts requests: at most 480
 * subscribe / unsubscribe / login an hour per connection): {"op":..,"args":[{..},{..}]}. */
size_t okx_subscribe_msgv(char *out, size_t cap, bool subscribe, const char *const *channels,
                          size_t nch, const char *inst);

#endif
