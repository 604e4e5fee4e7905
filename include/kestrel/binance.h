/* Binance market-data decoder: one websocket / REST message (bytes) -> one feed_event.
 * Pure (no I/O, no allocation, no state); safe on any byte sequence of any length. */
#ifndef KESTREL_BINANCE_H
#define KESTREL_BINANCE_H
#include "kestrel/feed.h"

/* Deepest JSON nesting accepted (objects + arrays); deeper input fails with "too deep". */
#define BINANCE_MAX_DEPTH 32

/* Decodes one message of `len` bytes (need not be NUL-terminated; never read past len).
 *
 * Accepted shapes (JSON key order never matters, unknown keys are ignored):
 *   - combined-stream envelope {"stream":"<name>","data":{<payload>}}; streams named
 *     "<sym>@depth<N>..." (partial book depth) are refused: they are not diffs;
 *   - a raw stream payload (no envelope);
 *   - a REST depth snapshot {"lastUpdateId":N,"bids":[[p,q]..],"asks":[[p,q]..]} (USD-M adds E,T);
 *   - control replies {"result":...,"id":...} -> K_OK with kind FEED_NONE;
 *   - exchange errors {"code":N,"msg":"..."} or {"error":...} -> K_ERR "exchange error".
 * Payloads by "e": depthUpdate (FEED_DEPTH_DIFF; s,U,u,b,a; pu optional -> has_prev),
 *   trade (FEED_TRADE; s,t,p,q,m; T optional, falls back to E), aggTrade (FEED_TRADE, id = a),
 *   bookTicker (FEED_BOOK_TICKER; s,u,b,B,a,A), kline (FEED_KLINE; s and k{t,T,i,o,h,l,c,v,q,n,x}),
 *   24hrTicker, 24hrMiniTicker, markPriceUpdate, serverShutdown, avgPrice, 1hTicker, 4hTicker,
 *   1dTicker -> FEED_NONE; any other "e" -> K_ERR "unknown stream".
 *   No "e": "lastUpdateId" -> FEED_DEPTH_SNAPSHOT (symbol ""), "u" -> spot bookTicker.
 * Validation: strict JSON (RFC 8259 syntax, UTF-8 checked, no control characters, only
 * whitespace after the value, numbers at most 63 characters, nesting <= BINANCE_MAX_DEPTH).
 * Prices and quantities are decimal strings parsed exactly by decimal_parse (>= 0, no numbers,
 * no escapes); ids and times are JSON integers >= 0 fitting int64 (pu may be negative);
 * flags are true/false; "s" is 1..KSYM_MAX-1 bytes of printable non-space characters (no escapes)
 * and is uppercased (ASCII). A key that repeats a field the decoder reads, or any key containing
 * a backslash escape, is refused.
 * Venue: VENUE_BINANCE_USDM when the message proves it (depthUpdate with pu, bookTicker with "e",
 * trade with "X", snapshot with "E" or "T"), else VENUE_BINANCE_SPOT; sources that know better
 * (replay files, live connections) override it.
 *
 * `levels` is caller scratch for depth levels (cap_levels entries in total for bids + asks);
 * ev->u.depth.bids / asks point into it. More levels than cap_levels -> "too many levels".
 * ev->recv_ns is set to 0 (the source fills it).
 *
 * Returns K_OK with *ev filled (*why = NULL), or K_ERR with ev->kind = FEED_NONE and *why a short
 * static reason ("invalid json", "unknown stream", "bad price", "too many levels", ...).
 * why may be NULL. */
int binance_decode(const char *json, size_t len, feed_event *ev, feed_level *levels,
                   uint32_t cap_levels, const char **why);

#endif
