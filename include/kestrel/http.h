/* REST over curl multi, driven by the main loop (loop.h): curl's sockets become loop watchers
 * and its one timeout a loop timer, so no request ever blocks the main thread. Responses are
 * bounded in size and time. Each venue has a rate-limit tracker: Binance's used weight from the
 * X-MBX-USED-WEIGHT-1M header against the venue's limit (self-throttle at 80 %), OKX a request
 * count per 2 s window; HTTP 429 / 418 pause every request to that venue for Retry-After plus
 * jitter (and 5 s when the header is missing). TLS verification is never disabled; plain
 * http:// is accepted only to loopback. */
#ifndef KESTREL_HTTP_H
#define KESTREL_HTTP_H
#include "kestrel/common.h"
#include "kestrel/loop.h"

enum http_result {
    HTTP_OK = 0,        /* a response arrived (any status: see http_response.status) */
    HTTP_ERR_URL,       /* bad URL */
    HTTP_ERR_INSECURE,  /* http:// to a non-loopback host */
    HTTP_ERR_PAUSED,    /* the venue is paused after a 429/418 (see http_venue_state) */
    HTTP_ERR_THROTTLED, /* the request would cross 80 % of the venue's weight budget */
    HTTP_ERR_TOO_LARGE, /* response body longer than max_body */
    HTTP_ERR_TIMEOUT,
    HTTP_ERR_NETWORK,   /* DNS, connect, TLS (verification included), reset ... */
    HTTP_ERR_BUSY,      /* HTTP_MAX_INFLIGHT requests in flight */
    HTTP_ERR_CANCELLED, /* http_free() with the request in flight */
};
const char *http_strerror(enum http_result r);

#define HTTP_MAX_INFLIGHT 64

typedef struct http_opts {
    const char *ca_file;   /* CA bundle (NULL: the system's) */
    size_t max_body;       /* default 16 MB */
    int64_t timeout_ms;    /* whole request, default 10000 */
} http_opts;

typedef struct http_response {
    enum http_result result;
    long status;           /* HTTP status, 0 when no response */
    const char *body;      /* NUL-terminated, valid during the callback */
    size_t len;
    int64_t retry_after_ms; /* Retry-After, -1 if absent */
    int64_t used_weight;    /* X-MBX-USED-WEIGHT-1M, -1 if absent */
    int64_t elapsed_ms;
    uint64_t id;
    char error[160];        /* curl's message for NETWORK / TIMEOUT */
} http_response;

typedef void (*http_done_fn)(void *ud, const http_response *r);

typedef struct http_client http_client;

http_client *http_new(loop *l, const http_opts *o);
/* Cancels what is in flight (callbacks get HTTP_ERR_CANCELLED) and frees. NULL is fine. */
void http_free(http_client *c);

/* Starts GET url, counted as `weight` against venue v. On HTTP_OK the callback runs later, from
 * the loop, exactly once; on any other result it does not run (nothing was sent). */
K_MUST_USE enum http_result http_get(http_client *c, enum venue v, const char *url, int weight,
                                     http_done_fn fn, void *ud, uint64_t *id);

typedef struct http_venue_state {
    int64_t used_weight;    /* last header value (Binance) or requests in the window (OKX) */
    int64_t weight_limit;   /* per minute (Binance; default spot 6000, USD-M 2400), per 2 s (OKX) */
    int64_t paused_until_ms; /* loop_mono_ms() time the pause ends, 0 when not paused */
    uint64_t requests, responses, errors, status_429, status_418, status_5xx, throttled, paused;
} http_venue_state;

void http_venue_state_get(const http_client *c, enum venue v, http_venue_state *out);
/* The limit from exchangeInfo's REQUEST_WEIGHT rateLimits (or config). */
void http_set_weight_limit(http_client *c, enum venue v, int64_t limit);
/* The CA bundle for requests to venue v (NULL or "": http_opts.ca_file, else the system's):
 * every venue may trust its own CA. */
void http_set_venue_ca(http_client *c, enum venue v, const char *ca_file);
/* Requests in flight. */
uint32_t http_inflight(const http_client *c);

#endif
