/* The net thread: every websocket connection, in one libwebsockets 4.1 context serviced by its
 * own thread (Debian's lws has no external poll; docs/ARCHITECTURE.md). Whole messages go to
 * the main loop through one bounded byte ring and an eventfd; outbound messages (subscribe,
 * text pings) go through a per-connection queue and lws_cancel_service(). The thread itself
 * reconnects (exponential backoff + jitter + cap), detects stalls (silent longer than the
 * connection's stall_ms -> reconnect), sends the text keepalive (OKX "ping"), asks for a
 * make-before-break rotation after lifetime_ms (and forces one after rotate_grace_ms more), and
 * keeps health counters the main thread reads with
 * ws_get_stats(). TLS verification is never disabled; plain ws:// is accepted only to a
 * loopback host. */
#ifndef KESTREL_WS_H
#define KESTREL_WS_H
#include "kestrel/common.h"

#define WS_MAX_CONNS 64
#define WS_URL_MAX 2048
#define WS_CA_MAX 512   /* a ca_file path */
#define WS_MAX_VHOSTS 8 /* distinct CA bundles in one net thread */

enum ws_result {
    WS_OK = 0,
    WS_ERR_URL,        /* not a ws:// / wss:// (http:// / https://) URL we can use */
    WS_ERR_INSECURE,   /* plain ws:// or http:// to a host that is not loopback */
    WS_ERR_TOO_MANY,   /* WS_MAX_CONNS connections open */
    WS_ERR_NO_CONN,    /* unknown or closed connection id */
    WS_ERR_TOO_LONG,   /* message longer than WS_SEND_MAX */
    WS_ERR_QUEUE_FULL, /* outbound queue of the connection full (WS_OUT_MAX messages) */
    WS_ERR_INIT,       /* lws context, thread or eventfd could not be created */
};
const char *ws_strerror(enum ws_result r);

#define WS_SEND_MAX 65536u
#define WS_OUT_MAX 256u

enum ws_state {
    WS_IDLE = 0,    /* created, not yet connecting */
    WS_CONNECTING,  /* TCP / TLS / upgrade in progress */
    WS_OPEN,        /* upgraded: messages flow */
    WS_BACKOFF,     /* closed or failed: reconnecting at next_retry */
    WS_CLOSED,      /* ws_close()d: stays closed */
};
const char *ws_state_name(enum ws_state s); /* "idle" "connecting" "open" "backoff" "closed" */

/* A parsed URL. ws/wss and http/https are all accepted by ws_url_parse (http.c shares it). */
typedef struct ws_url {
    bool tls;        /* wss:// or https:// */
    bool websocket;  /* ws:// or wss:// */
    char host[256];  /* without brackets for IPv6 literals */
    int port;        /* explicit, else 443 / 80 */
    char path[1536]; /* path + query, at least "/" */
} ws_url;

/* True for 127.0.0.0/8, ::1 and "localhost". */
bool ws_host_is_loopback(const char *host);

/* Parses url; refuses plain ws:// and http:// to non-loopback hosts (WS_ERR_INSECURE) with a
 * message naming the host in err. */
K_MUST_USE enum ws_result ws_url_parse(const char *url, ws_url *out, char *err, size_t errlen);

/* Per-connection behaviour. ws_opts_default() fills the documented venue cadences. */
typedef struct ws_opts {
    enum venue venue;
    int64_t stall_ms;       /* no message for this long while OPEN -> stall, reconnect; 0 off */
    int64_t ping_ms;        /* silent this long -> send ping_text (OKX: 20 s < its 30 s cut) */
    char ping_text[8];      /* "" = no text keepalive (Binance pings us; lws answers) */
    uint32_t max_frame;     /* longest message kept; longer ones are dropped and counted */
    int64_t backoff_min_ms; /* first retry delay; doubles per failed attempt ... */
    int64_t backoff_max_ms; /* ... up to this cap; each delay is jittered to [d/2, d] */
    int64_t lifetime_ms;    /* open this long -> WS_ITEM_ROTATE (make-before-break); 0 off */
    int64_t rotate_grace_ms; /* ... and still open this much later -> closed and reconnected */
    char ca_file[WS_CA_MAX]; /* wss://: this connection's CA bundle ("" = ws_net_opts.ca_file);
                              * each distinct bundle gets its own TLS context (lws vhost) */
} ws_opts;
void ws_opts_default(ws_opts *o, enum venue v);

typedef struct ws_net_opts {
    const char *ca_file;    /* CA bundle for wss:// (NULL: the system's) */
    uint32_t queue_bytes;   /* inbound ring size (default 64 MB) */
} ws_net_opts;

typedef struct ws_net ws_net;

/* Creates the lws context and starts the net thread. NULL and *err on failure. */
ws_net *ws_net_new(const ws_net_opts *o, enum ws_result *err);
/* Stops and joins the thread, closes every connection, frees everything. NULL is fine. */
void ws_net_free(ws_net *n);
/* The eventfd the main loop watches (LOOP_READ): readable when items are queued. */
int ws_net_fd(const ws_net *n);

/* Opens a connection (connects in the net thread; reconnects by itself until ws_close). */
K_MUST_USE enum ws_result ws_open(ws_net *n, const char *url, const ws_opts *o, uint32_t *id,
                                  char *err, size_t errlen);
/* Queues a text message (sent when the connection is OPEN; dropped on a disconnect: the main
 * thread re-subscribes on WS_ITEM_OPEN). */
K_MUST_USE enum ws_result ws_send(ws_net *n, uint32_t id, const char *msg, size_t len);
/* Drops the connection now and reconnects after the backoff (serverShutdown, a stalled book). */
K_MUST_USE enum ws_result ws_reconnect(ws_net *n, uint32_t id);
/* Closes for good; the id becomes invalid once the close is done. */
K_MUST_USE enum ws_result ws_close(ws_net *n, uint32_t id);

enum ws_item_kind {
    WS_ITEM_FRAME = 1, /* one whole message */
    WS_ITEM_OPEN,      /* the connection (re)opened: (re)subscribe now */
    WS_ITEM_CLOSED,    /* it closed (will reconnect unless ws_close()d): invalidate books */
    WS_ITEM_ROTATE,    /* open for lifetime_ms: open a successor with the same URL, sync its
                          books, then ws_close() this one (docs/LIVE.md) */
};

typedef struct ws_item {
    enum ws_item_kind kind;
    uint32_t conn;
    enum venue venue;
    int64_t recv_ns;  /* wall clock (UTC ns) when the last byte of the message arrived */
    const char *data; /* FRAME: the message (not NUL-terminated), valid during the callback */
    size_t len;
} ws_item;

typedef void (*ws_item_fn)(void *ud, const ws_item *it);

/* Main thread: hands at most max queued items to fn, in arrival order; returns how many. If
 * items remain, the eventfd stays readable. */
size_t ws_drain(ws_net *n, size_t max, ws_item_fn fn, void *ud);

typedef struct ws_stats {
    enum ws_state state;
    enum venue venue;
    uint64_t connects;     /* successful upgrades */
    uint64_t failures;     /* connect attempts that failed before the upgrade */
    uint64_t disconnects;  /* OPEN connections that closed (any reason) */
    uint64_t stalls;       /* disconnects we forced because the stream went silent */
    uint64_t rotations;    /* WS_ITEM_ROTATE notices sent (one per lifetime_ms open) */
    uint64_t forced_rotations; /* still open at lifetime_ms + rotate_grace_ms: closed by us */
    uint64_t msgs, bytes;  /* whole messages queued to the main thread */
    uint32_t msgs_per_s;   /* messages in the last full second (0 when not OPEN) */
    uint64_t oversize;     /* messages longer than max_frame, dropped */
    uint64_t queue_drops;  /* messages dropped because the inbound ring was full even so */
    uint64_t rx_pauses;    /* times it stopped reading because the ring was 3/4 full */
    uint64_t pings_sent, pongs;
    int64_t last_msg_ms;   /* monotonic ms of the last message or pong (0: none yet) */
    int64_t opened_ms;     /* monotonic ms of the last upgrade (0: never) */
    int64_t next_retry_ms; /* BACKOFF: monotonic ms of the next attempt */
    uint32_t attempt;      /* failed attempts since the last message */
    char last_error[128];
} ws_stats;

K_MUST_USE enum ws_result ws_get_stats(ws_net *n, uint32_t id, ws_stats *out);

/* The backoff delay for attempt k (0-based) before jitter: min(cap, min_ms << k). */
int64_t ws_backoff_ms(const ws_opts *o, uint32_t k);

#endif
