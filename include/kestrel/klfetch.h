/* Kline history over REST, paginated, inside each venue's rate limits: the one mechanism behind
 * the live backfill (start-up history, gaps after a disconnect; live.c) and `kestrel download`
 * (download.c). A fetch walks [from_ms, to_ms) forward in windows of one page (Binance
 * `GET /api/v3/klines` / `/fapi/v1/klines` limit 1000 with startTime/endTime; OKX
 * `GET /api/v5/market/candles` (limit 300) for the newest 1440 bars and
 * `/api/v5/market/history-candles` (limit 100) before that, with after/before bounds), hands each
 * page's closed bars to the caller oldest first, and never hands out a bar that has not closed
 * yet (close time after the wall clock): a forming bar is never taken for a closed one.
 *
 * Rate discipline is http.c's: every request carries its weight (spot 2, USD-M 5 for limit
 * 1000, OKX 1 of its 20 / 2 s); a request http.c refuses (PAUSED after a 429 / 418 with
 * Retry-After, THROTTLED at 80 % of the weight budget, BUSY) is retried from a loop timer when
 * the pause or the weight minute ends; a 5xx or a network error is retried with exponential
 * backoff (250 ms .. 8 s, jittered) up to 6 times; any other status fails the fetch. Everything
 * runs on the loop: nothing waits. docs/LIVE.md "Kline history". */
#ifndef KESTREL_KLFETCH_H
#define KESTREL_KLFETCH_H
#include "kestrel/candles.h"
#include "kestrel/http.h"
#include "kestrel/loop.h"

enum klfetch_result {
    KLFETCH_OK = 0,      /* the whole range was walked */
    KLFETCH_ERR_ARG,     /* bad venue / timeframe / range / URL */
    KLFETCH_ERR_HTTP,    /* a status that is not retried (4xx), or retries exhausted */
    KLFETCH_ERR_PARSE,   /* a response that is not the venue's kline format */
    KLFETCH_ERR_CANCELLED,
};
const char *klfetch_strerror(enum klfetch_result r);

#define KLFETCH_PAGE_MAX 1000 /* bars per page, the largest (Binance) */

/* One page of closed bars, oldest first (n > 0). */
typedef void (*klfetch_page_fn)(void *ud, const candle *bars, uint32_t n);
/* The end: r, and err a message for anything but KLFETCH_OK. Runs once, from the loop. The
 * fetch may be freed inside it. */
typedef void (*klfetch_done_fn)(void *ud, enum klfetch_result r, const char *err);

typedef struct klfetch_opts {
    loop *loop;
    http_client *http;
    enum venue venue;
    const char *rest_base; /* "https://api.binance.com" (the documented paths are appended) */
    const char *symbol;    /* exchange symbol: BTCUSDT, BTC-USDT-SWAP */
    enum tf tf;
    int64_t from_ms, to_ms; /* open times in [from_ms, to_ms); aligned down to tf */
    uint32_t page;          /* bars per request, 0 = the venue's maximum */
    klfetch_page_fn on_page;
    klfetch_done_fn on_done;
    void *ud;
} klfetch_opts;

typedef struct klfetch klfetch;

/* Starts the fetch (its first request goes out from the loop). NULL with a message in err for
 * a bad argument. */
klfetch *klfetch_start(const klfetch_opts *o, char *err, size_t errlen);
/* Stops it (no callback runs after this; a request in flight is dropped when it answers). */
void klfetch_free(klfetch *f);

typedef struct klfetch_progress {
    int64_t next_ms;   /* the next window's first open time */
    int64_t from_ms, to_ms;
    uint64_t requests, bars, retries, waits; /* waits: pauses / throttles waited out */
} klfetch_progress;
void klfetch_get_progress(const klfetch *f, klfetch_progress *out);

/* The venue's name of a timeframe ("1m"; OKX "1H", "1Dutc"), or NULL when it has none. */
const char *klfetch_interval(enum venue v, enum tf tf);
/* Parses one REST kline response of the venue (Binance arrays of 12, OKX {"code":"0","data":
 * [[ts,o,h,l,c,vol,volCcy,volCcyQuote,confirm]...]} newest first) into bars oldest first, at
 * most cap. Bars that are not closed (OKX confirm "0", or close time > closed_before_ms) are
 * left out. K_OK with *n, or K_ERR with *why. Pure. */
int klfetch_parse(enum venue v, enum tf tf, const char *json, size_t len, int64_t closed_before_ms,
                  candle *out, uint32_t cap, uint32_t *n, const char **why);

#endif
