/* The net thread (see ws.h): one libwebsockets context, one service thread, every websocket.
 *
 * Threads. The main thread only touches the connection table through ws_open/send/reconnect/
 * close/get_stats (under n->mu) and the inbound ring through ws_drain (under ring.mu, but never
 * while it runs the item callback). Every lws call except lws_cancel_service() happens in the
 * net thread: requests from the main thread set flags in the table and wake the thread with
 * lws_cancel_service(); LWS_CALLBACK_EVENT_WAIT_CANCELLED then runs ws_tick(), which also runs
 * every WS_TICK_MS from an lws_sul timer (connects, backoff, stall, keepalive and lifetime
 * checks).
 *
 * Inbound ring. Messages are reassembled per connection (lws delivers a message in chunks;
 * lws_is_final_fragment() and lws_remaining_packet_payload() == 0 mark its end) in a buffer
 * that grows up to max_frame and is reused, then copied once into one byte ring of records
 * (header + bytes, 8-byte aligned, a PAD record or a short tail where a record does not fit
 * before the end). The consumer reads records in place without holding the lock (the producer
 * only writes outside [r, r + used)), so nothing allocates per message. When the ring is full
 * the message is dropped and counted (a dropped diff shows up as a book gap and is resynced).
 * A message lws hands over whole (the usual case: rx buffer WS_RX_CHUNK) goes from lws' buffer
 * straight into the ring; only one that arrives in pieces is assembled first. Per message the
 * thread takes the ring lock once and the table lock once, and reads a coarse clock for the
 * stall timer. Backpressure, not loss: when the ring is more than 3/4 full the connection that
 * filled it stops reading (lws_rx_flow_control: its socket buffer fills, the sender waits, as
 * TCP does), and every paused connection reads again once the main thread has drained the ring
 * below 1/4 (ws_tick, woken by ws_drain). A message is dropped only when it does not fit even
 * so. The eventfd is written once per lws service pass that queued anything (not per
 * message: one wake-up of the main loop carries every message of the pass), and by ws_drain
 * itself when it stops at `max` with records left, so the main loop never misses a wake-up.
 *
 * Reconnects. Any close or failure of a connection that was not ws_close()d schedules the next
 * attempt after ws_backoff_ms(attempt) jittered to [d/2, d]; attempt is reset by the first
 * message of a new connection (so a server that accepts and drops at once still backs off).
 * Rotation is make-before-break and driven by the main thread: at lifetime_ms the thread sends
 * WS_ITEM_ROTATE once; the main thread opens a successor, syncs it and ws_close()s this one. If
 * that has not happened rotate_grace_ms later, the connection is killed and reconnected.
 * A stall (OPEN and silent for stall_ms), that forced rotation or ws_reconnect() kill the wsi
 * from its own WRITEABLE callback (returning -1, the lws way), with lws_set_timeout() as a
 * fallback when the socket never becomes writable. */
#include "kestrel/ws.h"

#include "kestrel/xmalloc.h"

#include <errno.h>
#include <libwebsockets.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define WS_TICK_MS 20
#define WS_ITEM_PAD 0xFFu
#define WS_RX_CHUNK 65536

typedef struct ws_rec {
    uint32_t kind, conn, venue, len;
    int64_t recv_ns;
} ws_rec;

typedef struct ws_ring {
    pthread_mutex_t mu;
    unsigned char *buf;
    size_t cap, r, w, used;
} ws_ring;

typedef struct ws_out {
    char *msg;
    size_t len;
} ws_out;

typedef struct ws_conn {
    /* set by the main thread under n->mu */
    bool in_use, want_close, want_kill;
    uint32_t id;
    ws_opts o;
    ws_url url;
    ws_out out[WS_OUT_MAX];
    uint32_t out_head, out_n;
    /* net thread */
    struct lws *wsi;
    bool killing, got_msg, rotate_sent;
    bool rx_paused; /* not reading: the ring is too full (ws_rx, resumed by ws_tick) */
    unsigned char *asm_buf; /* LWS_PRE bytes of headroom are not needed for rx */
    size_t asm_len, asm_cap;
    bool asm_over;
    int64_t ping_sent_ms;
    int64_t kill_reason; /* 1 stall, 2 rotation, 3 requested */
    int64_t rate_start_ms; /* msgs/s window */
    uint64_t rate_msgs;
    ws_stats st;         /* under n->mu */
} ws_conn;

struct ws_net {
    pthread_mutex_t mu;
    ws_conn conns[WS_MAX_CONNS];
    uint32_t gen;
    struct lws_context *ctx;
    pthread_t thread;
    bool thread_started;
    atomic_bool stop;
    int efd;
    ws_ring ring;
    lws_sorted_usec_list_t sul;
    uint64_t rnd;
    bool notify; /* net thread: something was queued in this service pass */
    atomic_bool paused; /* some connection stopped reading until the ring drains */
    char ca_file[1024];
    /* net thread: one client vhost per other CA bundle a connection names (ws_opts.ca_file) */
    struct {
        char ca[WS_CA_MAX];
        struct lws_vhost *vh;
    } vhosts[WS_MAX_VHOSTS];
    int nvhosts;
};

const char *ws_strerror(enum ws_result r)
{
    switch (r) {
    case WS_OK: return "ok";
    case WS_ERR_URL: return "bad websocket URL";
    case WS_ERR_INSECURE: return "plain ws:// or http:// is allowed only to a loopback address";
    case WS_ERR_TOO_MANY: return "too many connections";
    case WS_ERR_NO_CONN: return "no such connection";
    case WS_ERR_TOO_LONG: return "message too long";
    case WS_ERR_QUEUE_FULL: return "outbound queue full";
    case WS_ERR_INIT: return "cannot start the net thread";
    }
    return "unknown error";
}

const char *ws_state_name(enum ws_state s)
{
    switch (s) {
    case WS_IDLE: return "idle";
    case WS_CONNECTING: return "connecting";
    case WS_OPEN: return "open";
    case WS_BACKOFF: return "backoff";
    case WS_CLOSED: return "closed";
    }
    return "unknown";
}

static int64_t ws_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The stall timer's clock: CLOCK_MONOTONIC_COARSE (a few ms of resolution, no clock read per
 * message), the same timeline as ws_mono_ms. */
static int64_t ws_coarse_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t ws_wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* ---------------------------------------------------------------------------------------- */
/* URLs                                                                                      */

bool ws_host_is_loopback(const char *host)
{
    if (!host)
        return false;
    if (strcmp(host, "localhost") == 0 || strcmp(host, "::1") == 0)
        return true;
    /* 127.0.0.0/8 written as a dotted quad */
    unsigned a, b, c, d;
    char tail;
    if (sscanf(host, "%u.%u.%u.%u%c", &a, &b, &c, &d, &tail) == 4)
        return a == 127 && b < 256 && c < 256 && d < 256;
    return false;
}

enum ws_result ws_url_parse(const char *url, ws_url *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (err && errlen)
        err[0] = '\0';
    if (!url || strlen(url) >= WS_URL_MAX) {
        if (err)
            snprintf(err, errlen, "URL missing or too long");
        return WS_ERR_URL;
    }
    const char *p;
    if (strncmp(url, "wss://", 6) == 0) {
        out->tls = out->websocket = true;
        p = url + 6;
    } else if (strncmp(url, "ws://", 5) == 0) {
        out->websocket = true;
        p = url + 5;
    } else if (strncmp(url, "https://", 8) == 0) {
        out->tls = true;
        p = url + 8;
    } else if (strncmp(url, "http://", 7) == 0) {
        p = url + 7;
    } else {
        if (err)
            snprintf(err, errlen, "'%.200s': expected ws://, wss://, http:// or https://", url);
        return WS_ERR_URL;
    }
    const char *hs = p, *he;
    if (*p == '[') {
        he = strchr(p, ']');
        if (!he) {
            if (err)
                snprintf(err, errlen, "'%.200s': unterminated IPv6 address", url);
            return WS_ERR_URL;
        }
        hs = p + 1;
        p = he + 1;
    } else {
        while (*p && *p != ':' && *p != '/' && *p != '?')
            p++;
        he = p;
    }
    size_t hl = (size_t)(he - hs);
    if (hl == 0 || hl >= sizeof out->host) {
        if (err)
            snprintf(err, errlen, "'%.200s': bad host", url);
        return WS_ERR_URL;
    }
    for (size_t i = 0; i < hl; i++) {
        char ch = hs[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '.' || ch == '-' || ch == ':' || ch == '_')) {
            if (err)
                snprintf(err, errlen, "'%.200s': bad host", url);
            return WS_ERR_URL;
        }
    }
    memcpy(out->host, hs, hl);
    out->port = out->tls ? 443 : 80;
    if (*p == ':') {
        char *e;
        long port = strtol(p + 1, &e, 10);
        if (e == p + 1 || port <= 0 || port > 65535) {
            if (err)
                snprintf(err, errlen, "'%.200s': bad port", url);
            return WS_ERR_URL;
        }
        out->port = (int)port;
        p = e;
    }
    if (*p && *p != '/' && *p != '?') {
        if (err)
            snprintf(err, errlen, "'%.200s': bad URL", url);
        return WS_ERR_URL;
    }
    int n = snprintf(out->path, sizeof out->path, "%s%s", *p == '/' ? "" : "/", p);
    if (n < 0 || (size_t)n >= sizeof out->path) {
        if (err)
            snprintf(err, errlen, "'%.200s': path too long", url);
        return WS_ERR_URL;
    }
    for (const char *q = out->path; *q; q++) {
        if ((unsigned char)*q <= ' ' || (unsigned char)*q >= 0x7f) {
            if (err)
                snprintf(err, errlen, "'%.200s': bad character in the path", url);
            return WS_ERR_URL;
        }
    }
    if (!out->tls && !ws_host_is_loopback(out->host)) {
        if (err)
            snprintf(err, errlen,
                     "refusing plain %s://%s: unencrypted connections are allowed only to "
                     "loopback (127.0.0.1, ::1, localhost); use %s://",
                     out->websocket ? "ws" : "http", out->host,
                     out->websocket ? "wss" : "https");
        return WS_ERR_INSECURE;
    }
    return WS_OK;
}

void ws_opts_default(ws_opts *o, enum venue v)
{
    memset(o, 0, sizeof *o);
    o->venue = v;
    o->max_frame = 4u << 20;
    o->backoff_min_ms = 250;
    o->backoff_max_ms = 30000;
    if (v == VENUE_OKX) {
        /* OKX drops a silent connection after 30 s; we ping after 20 s of silence. A books
         * channel pushes at least a heartbeat every ~60 s, so silence past ping + 10 s with no
         * pong is a dead connection. */
        o->ping_ms = 20000;
        strcpy(o->ping_text, "ping");
        o->stall_ms = 30000;
        o->lifetime_ms = 0;
    } else {
        /* Binance pings every 20 s (spot) / 3 min (USD-M); busy streams push every 100 ms. A
         * depth@100ms stream silent for 10 s is dead. 24 h cut: rotate at 23 h. */
        o->stall_ms = 10000;
        o->lifetime_ms = 23LL * 3600 * 1000;
        o->rotate_grace_ms = 30LL * 60 * 1000;
    }
}

int64_t ws_backoff_ms(const ws_opts *o, uint32_t k)
{
    int64_t d = o->backoff_min_ms > 0 ? o->backoff_min_ms : 1;
    int64_t cap = o->backoff_max_ms > d ? o->backoff_max_ms : d;
    for (uint32_t i = 0; i < k && d < cap; i++)
        d *= 2;
    return d < cap ? d : cap;
}

/* ---------------------------------------------------------------------------------------- */
/* inbound ring                                                                              */

static size_t ws_rec_size(size_t len)
{
    return (sizeof(ws_rec) + len + 7u) & ~(size_t)7u;
}

static void ws_notify(ws_net *n)
{
    uint64_t one = 1;
    ssize_t w = write(n->efd, &one, sizeof one);
    (void)w; /* EAGAIN: the counter is already non-zero, the main thread will wake */
}

/* Net thread. False when the ring is full. The main loop is woken at the end of the service
 * pass (ws_thread). */
static bool ws_ring_push_used(ws_net *n, uint32_t kind, const ws_conn *c, const void *data,
                              size_t len, size_t *used);

static bool ws_ring_push(ws_net *n, uint32_t kind, const ws_conn *c, const void *data,
                         size_t len)
{
    size_t used;
    return ws_ring_push_used(n, kind, c, data, len, &used);
}

/* ... and *used: the ring's bytes in use after it. */
static bool ws_ring_push_used(ws_net *n, uint32_t kind, const ws_conn *c, const void *data,
                              size_t len, size_t *used)
{
    ws_ring *q = &n->ring;
    size_t need = ws_rec_size(len);
    bool ok = false;
    pthread_mutex_lock(&q->mu);
    if (q->used == 0)
        q->r = q->w = 0; /* empty: restart at the front (keeps big records contiguous) */
    size_t pad = 0;
    bool fits = false;
    if (q->w >= q->r && q->used < q->cap) { /* free: [w, cap) and [0, r) */
        if (q->cap - q->w >= need)
            fits = true;
        else if (need <= q->r) {
            pad = q->cap - q->w; /* the record goes to the front */
            fits = true;
        }
    } else if (q->w < q->r) { /* free: [w, r) */
        fits = q->r - q->w >= need;
    }
    if (fits) {
        if (pad) {
            if (pad >= sizeof(ws_rec)) {
                ws_rec pr = {.kind = WS_ITEM_PAD};
                memcpy(q->buf + q->w, &pr, sizeof pr);
            }
            q->used += pad;
            q->w = 0;
        }
        ws_rec h = {.kind = kind, .conn = c->id, .venue = (uint32_t)c->o.venue,
                    .len = (uint32_t)len, .recv_ns = ws_wall_ns()};
        memcpy(q->buf + q->w, &h, sizeof h);
        if (len)
            memcpy(q->buf + q->w + sizeof h, data, len);
        q->w += need;
        if (q->w == q->cap)
            q->w = 0;
        q->used += need;
        ok = true;
    }
    *used = q->used;
    pthread_mutex_unlock(&q->mu);
    if (ok)
        n->notify = true;
    return ok;
}

size_t ws_drain(ws_net *n, size_t max, ws_item_fn fn, void *ud)
{
    ws_ring *q = &n->ring;
    uint64_t junk;
    ssize_t rd = read(n->efd, &junk, sizeof junk);
    (void)rd;
    size_t done = 0;
    for (;;) {
        pthread_mutex_lock(&q->mu);
        size_t r = q->r, used = q->used;
        pthread_mutex_unlock(&q->mu);
        if (used == 0 || done >= max)
            break;
        size_t consumed = 0;
        while (consumed < used && done < max) {
            size_t tail = q->cap - r;
            if (tail < sizeof(ws_rec)) {
                consumed += tail;
                r = 0;
                continue;
            }
            ws_rec h;
            memcpy(&h, q->buf + r, sizeof h);
            if (h.kind == WS_ITEM_PAD) {
                consumed += tail;
                r = 0;
                continue;
            }
            ws_item it = {.kind = (enum ws_item_kind)h.kind, .conn = h.conn,
                          .venue = (enum venue)h.venue, .recv_ns = h.recv_ns,
                          .data = (const char *)q->buf + r + sizeof h, .len = h.len};
            fn(ud, &it);
            size_t sz = ws_rec_size(h.len);
            consumed += sz;
            r += sz;
            if (r == q->cap)
                r = 0;
            done++;
        }
        pthread_mutex_lock(&q->mu);
        q->used -= consumed;
        q->r = r;
        if (q->used == 0)
            q->r = q->w = 0;
        pthread_mutex_unlock(&q->mu);
    }
    pthread_mutex_lock(&q->mu);
    bool left = q->used > 0, low = q->used < q->cap / 4;
    pthread_mutex_unlock(&q->mu);
    if (left)
        ws_notify(n);
    if (low && atomic_load(&n->paused))
        lws_cancel_service(n->ctx); /* ws_tick lets the paused connections read again */
    return done;
}

int ws_net_fd(const ws_net *n)
{
    return n->efd;
}

/* ---------------------------------------------------------------------------------------- */
/* net thread                                                                                */

static uint64_t ws_rand(ws_net *n)
{
    /* xorshift64*: jitter only, never security */
    n->rnd ^= n->rnd >> 12;
    n->rnd ^= n->rnd << 25;
    n->rnd ^= n->rnd >> 27;
    return n->rnd * 2685821657736338717ull;
}

static ws_conn *ws_find(ws_net *n, uint32_t id)
{
    uint32_t idx = (id & 0xFFu) - 1;
    if (id == 0 || idx >= WS_MAX_CONNS || !n->conns[idx].in_use || n->conns[idx].id != id)
        return NULL;
    return &n->conns[idx];
}

static void ws_out_clear(ws_conn *c)
{
    for (uint32_t i = 0; i < c->out_n; i++)
        free(c->out[(c->out_head + i) % WS_OUT_MAX].msg);
    c->out_head = c->out_n = 0;
}

/* Under n->mu: the connection went away (failed or closed); schedule what comes next. */
static void ws_after_close(ws_net *n, ws_conn *c, bool was_open, const char *why)
{
    int64_t now = ws_mono_ms();
    c->wsi = NULL;
    c->killing = false;
    c->rx_paused = false;
    c->asm_len = 0;
    c->asm_over = false;
    c->ping_sent_ms = 0;
    c->rate_start_ms = 0;
    c->st.msgs_per_s = 0;
    ws_out_clear(c);
    if (why && *why)
        snprintf(c->st.last_error, sizeof c->st.last_error, "%s", why);
    if (was_open)
        c->st.disconnects++;
    else
        c->st.failures++;
    if (c->want_close) {
        c->st.state = WS_CLOSED;
        return;
    }
    int64_t d = ws_backoff_ms(&c->o, c->st.attempt);
    d = d / 2 + (int64_t)(ws_rand(n) % (uint64_t)(d / 2 + 1));
    c->st.attempt++;
    c->st.state = WS_BACKOFF;
    c->st.next_retry_ms = now + d;
}

static int ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                       size_t len);
static const struct lws_protocols ws_protocols[] = {
    {"kestrel", ws_callback, 0, WS_RX_CHUNK, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

/* Net thread: the client vhost whose TLS context trusts ca (created on first use: lws is not
 * thread-safe, so only this thread creates them). NULL: the context's default vhost. */
static struct lws_vhost *ws_vhost_for(ws_net *n, const char *ca)
{
    if (!ca[0] || strcmp(ca, n->ca_file) == 0)
        return NULL;
    for (int i = 0; i < n->nvhosts; i++)
        if (strcmp(n->vhosts[i].ca, ca) == 0)
            return n->vhosts[i].vh;
    if (n->nvhosts >= WS_MAX_VHOSTS)
        return NULL;
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    char name[32];
    snprintf(name, sizeof name, "kestrel-ca%d", n->nvhosts + 1);
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = ws_protocols;
    info.vhost_name = name;
    info.client_ssl_ca_filepath = ca;
    info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT; /* else lws skips the client TLS init */
    info.gid = (gid_t)-1;
    info.uid = (uid_t)-1;
    struct lws_vhost *vh = lws_create_vhost(n->ctx, &info);
    if (!vh)
        return NULL;
    if (lws_init_vhost_client_ssl(&info, vh) != 0) /* the client TLS context with this CA */
        return NULL; /* the vhost stays unused; destroyed with the context */
    snprintf(n->vhosts[n->nvhosts].ca, WS_CA_MAX, "%s", ca);
    n->vhosts[n->nvhosts++].vh = vh;
    return vh;
}

/* Net thread, n->mu NOT held: lws may call the error callback synchronously, which locks. */
static void ws_connect(ws_net *n, ws_conn *c)
{
    struct lws_client_connect_info ci;
    memset(&ci, 0, sizeof ci);
    ci.context = n->ctx;
    if (c->url.tls && c->o.ca_file[0]) {
        ci.vhost = ws_vhost_for(n, c->o.ca_file);
        if (!ci.vhost && strcmp(c->o.ca_file, n->ca_file) != 0) {
            pthread_mutex_lock(&n->mu);
            ws_after_close(n, c, false, "cannot load ca_file");
            pthread_mutex_unlock(&n->mu);
            return;
        }
    }
    ci.address = c->url.host;
    ci.port = c->url.port;
    ci.path = c->url.path;
    ci.host = c->url.host;
    ci.origin = c->url.host;
    ci.protocol = NULL;
    ci.local_protocol_name = "kestrel";
    ci.ssl_connection = c->url.tls ? LCCSCF_USE_SSL : 0; /* never ALLOW_SELFSIGNED & co. */
    ci.userdata = c;
    ci.pwsi = &c->wsi;
    struct lws *w = lws_client_connect_via_info(&ci);
    pthread_mutex_lock(&n->mu);
    if (!w && c->st.state == WS_CONNECTING) {
        /* failed synchronously (unless the error callback already ran and rescheduled) */
        ws_after_close(n, c, false, "connect failed");
    }
    pthread_mutex_unlock(&n->mu);
}

static void ws_kill(ws_conn *c, int reason)
{
    if (!c->wsi || c->killing)
        return;
    c->killing = true;
    c->kill_reason = reason;
    lws_callback_on_writable(c->wsi);
    lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, 2); /* if never writable */
}

/* Net thread: the ring drained below 1/4: every paused connection reads again. */
static void ws_resume(ws_net *n)
{
    if (!atomic_load(&n->paused))
        return;
    pthread_mutex_lock(&n->ring.mu);
    bool low = n->ring.used < n->ring.cap / 4;
    pthread_mutex_unlock(&n->ring.mu);
    if (!low)
        return;
    atomic_store(&n->paused, false);
    for (int i = 0; i < WS_MAX_CONNS; i++) {
        ws_conn *c = &n->conns[i];
        if (c->rx_paused) {
            c->rx_paused = false;
            if (c->wsi)
                lws_rx_flow_control(c->wsi, 1);
        }
    }
}

static void ws_tick(ws_net *n)
{
    ws_resume(n);
    int64_t now = ws_mono_ms();
    ws_conn *todo[WS_MAX_CONNS], *rotate[WS_MAX_CONNS];
    int ntodo = 0, nrotate = 0;
    pthread_mutex_lock(&n->mu);
    for (int i = 0; i < WS_MAX_CONNS; i++) {
        ws_conn *c = &n->conns[i];
        if (!c->in_use)
            continue;
        if (c->want_close) {
            if (c->wsi)
                ws_kill(c, 3);
            else {
                c->st.state = WS_CLOSED;
                ws_out_clear(c);
                free(c->asm_buf);
                c->asm_buf = NULL;
                c->asm_cap = 0;
                c->in_use = false;
            }
            continue;
        }
        switch (c->st.state) {
        case WS_IDLE:
        case WS_BACKOFF:
            if (c->st.state == WS_IDLE || now >= c->st.next_retry_ms) {
                c->st.state = WS_CONNECTING;
                c->got_msg = false;
                todo[ntodo++] = c;
            }
            break;
        case WS_OPEN:
            if (now - c->rate_start_ms >= 1000) {
                uint64_t d = c->st.msgs - c->rate_msgs;
                int64_t span = now - c->rate_start_ms;
                c->st.msgs_per_s = c->rate_start_ms ? (uint32_t)(d * 1000 / (uint64_t)span) : 0;
                c->rate_start_ms = now;
                c->rate_msgs = c->st.msgs;
            }
            if (c->want_kill) {
                c->want_kill = false;
                ws_kill(c, 3);
                break;
            }
            if (c->o.stall_ms > 0 && now - c->st.last_msg_ms > c->o.stall_ms) {
                if (!c->killing)
                    c->st.stalls++;
                ws_kill(c, 1);
                break;
            }
            if (c->o.lifetime_ms > 0 && now - c->st.opened_ms > c->o.lifetime_ms) {
                if (!c->rotate_sent) {
                    c->rotate_sent = true;
                    c->st.rotations++;
                    rotate[nrotate++] = c;
                } else if (now - c->st.opened_ms > c->o.lifetime_ms + c->o.rotate_grace_ms) {
                    if (!c->killing)
                        c->st.forced_rotations++;
                    ws_kill(c, 2);
                    break;
                }
            }
            if (c->o.ping_text[0] && c->o.ping_ms > 0 && !c->ping_sent_ms &&
                now - c->st.last_msg_ms > c->o.ping_ms && c->out_n < WS_OUT_MAX) {
                size_t l = strlen(c->o.ping_text);
                ws_out *o = &c->out[(c->out_head + c->out_n) % WS_OUT_MAX];
                o->msg = xstrndup(c->o.ping_text, l);
                o->len = l;
                c->out_n++;
                c->ping_sent_ms = now;
                c->st.pings_sent++;
            }
            if (c->out_n && c->wsi)
                lws_callback_on_writable(c->wsi);
            break;
        default:
            break;
        }
    }
    pthread_mutex_unlock(&n->mu);
    for (int i = 0; i < nrotate; i++)
        (void)ws_ring_push(n, WS_ITEM_ROTATE, rotate[i], NULL, 0);
    for (int i = 0; i < ntodo; i++)
        ws_connect(n, todo[i]);
}

static void ws_sul_cb(lws_sorted_usec_list_t *sul)
{
    ws_net *n = lws_container_of(sul, ws_net, sul);
    ws_tick(n);
    if (!atomic_load(&n->stop))
        lws_sul_schedule(n->ctx, 0, &n->sul, ws_sul_cb, WS_TICK_MS * LWS_US_PER_MS);
}

static void ws_rx(ws_net *n, ws_conn *c, const void *in, size_t len, struct lws *wsi)
{
    bool whole = lws_is_final_fragment(wsi) && lws_remaining_packet_payload(wsi) == 0;
    const void *msg = in;
    size_t mlen = len;
    if (!whole || c->asm_len > 0 || c->asm_over) { /* in pieces: assembled in asm_buf */
        if (!c->asm_over) {
            if (c->asm_len + len > c->o.max_frame) {
                c->asm_over = true;
                c->asm_len = 0;
            } else {
                if (c->asm_len + len > c->asm_cap) {
                    size_t nc = c->asm_cap ? c->asm_cap : 4096;
                    while (nc < c->asm_len + len)
                        nc *= 2;
                    if (nc > c->o.max_frame)
                        nc = c->o.max_frame;
                    c->asm_buf = xrealloc(c->asm_buf, nc);
                    c->asm_cap = nc;
                }
                memcpy(c->asm_buf + c->asm_len, in, len);
                c->asm_len += len;
            }
        }
        if (!whole)
            return;
        msg = c->asm_buf;
        mlen = c->asm_len;
    } else if (len > c->o.max_frame) {
        c->asm_over = true;
    }
    /* a whole message */
    bool over = c->asm_over;
    size_t used = 0;
    bool ok = !over && ws_ring_push_used(n, WS_ITEM_FRAME, c, msg, mlen, &used);
    bool pause = !c->rx_paused && used > n->ring.cap / 4 * 3;
    if (pause) { /* backpressure: this socket is not read until the ring drains */
        c->rx_paused = true;
        atomic_store(&n->paused, true);
        lws_rx_flow_control(wsi, 0);
    }
    bool pong = !over && c->o.ping_text[0] && mlen == 4 && memcmp(msg, "pong", 4) == 0;
    int64_t now = ws_coarse_ms();
    pthread_mutex_lock(&n->mu);
    c->st.last_msg_ms = now;
    c->ping_sent_ms = 0;
    if (!c->got_msg) {
        c->got_msg = true;
        c->st.attempt = 0;
    }
    if (over) {
        c->st.oversize++;
    } else if (ok) {
        c->st.msgs++;
        c->st.bytes += mlen;
    } else {
        c->st.queue_drops++;
    }
    if (pong)
        c->st.pongs++;
    if (pause)
        c->st.rx_pauses++;
    pthread_mutex_unlock(&n->mu);
    c->asm_len = 0;
    c->asm_over = false;
}

static int ws_writeable(ws_net *n, ws_conn *c, struct lws *wsi)
{
    if (c->killing)
        return -1;
    pthread_mutex_lock(&n->mu);
    if (c->out_n == 0) {
        pthread_mutex_unlock(&n->mu);
        return 0;
    }
    ws_out o = c->out[c->out_head];
    c->out_head = (c->out_head + 1) % WS_OUT_MAX;
    c->out_n--;
    bool more = c->out_n > 0;
    pthread_mutex_unlock(&n->mu);
    unsigned char *buf = xmalloc(LWS_PRE + o.len);
    memcpy(buf + LWS_PRE, o.msg, o.len);
    int w = lws_write(wsi, buf + LWS_PRE, o.len, LWS_WRITE_TEXT);
    free(buf);
    free(o.msg);
    if (w < (int)o.len)
        return -1;
    if (more)
        lws_callback_on_writable(wsi);
    return 0;
}

static int ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                       size_t len)
{
    ws_net *n = lws_context_user(lws_get_context(wsi));
    ws_conn *c = user;
    switch (reason) {
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        if (n)
            ws_tick(n);
        return 0;
    case LWS_CALLBACK_CLIENT_ESTABLISHED: {
        if (!c)
            return -1;
        int64_t now = ws_mono_ms();
        pthread_mutex_lock(&n->mu);
        c->wsi = wsi;
        c->st.state = WS_OPEN;
        c->st.connects++;
        c->st.opened_ms = now;
        c->st.last_msg_ms = now;
        c->rotate_sent = false;
        c->st.last_error[0] = '\0';
        pthread_mutex_unlock(&n->mu);
        if (!ws_ring_push(n, WS_ITEM_OPEN, c, NULL, 0)) {
            pthread_mutex_lock(&n->mu);
            c->st.queue_drops++;
            pthread_mutex_unlock(&n->mu);
        }
        return 0;
    }
    case LWS_CALLBACK_CLIENT_RECEIVE:
        if (c)
            ws_rx(n, c, in, len, wsi);
        return 0;
    case LWS_CALLBACK_CLIENT_RECEIVE_PONG:
        if (c) {
            pthread_mutex_lock(&n->mu);
            c->st.last_msg_ms = ws_mono_ms();
            c->st.pongs++;
            pthread_mutex_unlock(&n->mu);
        }
        return 0;
    case LWS_CALLBACK_CLIENT_WRITEABLE:
        return c ? ws_writeable(n, c, wsi) : 0;
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        if (c) {
            char why[128];
            snprintf(why, sizeof why, "%.*s", in ? (int)K_MIN(len ? len : strlen(in), 120) : 0,
                     in ? (const char *)in : "");
            if (!why[0])
                snprintf(why, sizeof why, "connection failed");
            pthread_mutex_lock(&n->mu);
            bool was_open = c->st.state == WS_OPEN;
            ws_after_close(n, c, was_open, why);
            pthread_mutex_unlock(&n->mu);
            if (was_open)
                (void)ws_ring_push(n, WS_ITEM_CLOSED, c, NULL, 0);
        }
        return 0;
    case LWS_CALLBACK_CLIENT_CLOSED:
        if (c) {
            pthread_mutex_lock(&n->mu);
            const char *why = c->kill_reason == 1   ? "stalled: no message within stall_ms"
                              : c->kill_reason == 2 ? "not rotated within rotate_grace_ms"
                              : c->kill_reason == 3 ? "closed by request"
                                                    : "closed by the server";
            c->kill_reason = 0;
            ws_after_close(n, c, true, why);
            pthread_mutex_unlock(&n->mu);
            (void)ws_ring_push(n, WS_ITEM_CLOSED, c, NULL, 0);
        }
        return 0;
    default:
        return 0;
    }
}

static void *ws_thread(void *arg)
{
    ws_net *n = arg;
    lws_sul_schedule(n->ctx, 0, &n->sul, ws_sul_cb, WS_TICK_MS * LWS_US_PER_MS);
    while (!atomic_load(&n->stop)) {
        if (lws_service(n->ctx, 0) < 0)
            break;
        if (n->notify) { /* one wake-up for everything this pass queued */
            n->notify = false;
            ws_notify(n);
        }
    }
    return NULL;
}

static void ws_lws_log(int level, const char *line)
{
    (void)level;
    (void)line; /* lws' own chatter stays out of the terminal; errors reach ws_stats */
}

ws_net *ws_net_new(const ws_net_opts *o, enum ws_result *err)
{
    ws_net *n = xcalloc(1, sizeof *n);
    pthread_mutex_init(&n->mu, NULL);
    pthread_mutex_init(&n->ring.mu, NULL);
    n->ring.cap = o && o->queue_bytes ? o->queue_bytes : 64u << 20;
    if (n->ring.cap < 1u << 16)
        n->ring.cap = 1u << 16;
    n->ring.cap &= ~(size_t)7u;
    n->ring.buf = xmalloc(n->ring.cap);
    n->rnd = (uint64_t)ws_wall_ns() | 1u;
    n->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (o && o->ca_file)
        snprintf(n->ca_file, sizeof n->ca_file, "%s", o->ca_file);
    if (n->efd < 0)
        goto fail;
    lws_set_log_level(LLL_ERR, ws_lws_log);
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = ws_protocols;
    info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    info.user = n;
    info.gid = (gid_t)-1;
    info.uid = (uid_t)-1;
    if (n->ca_file[0])
        info.client_ssl_ca_filepath = n->ca_file;
    n->ctx = lws_create_context(&info);
    if (!n->ctx)
        goto fail;
    if (pthread_create(&n->thread, NULL, ws_thread, n) != 0)
        goto fail;
    n->thread_started = true;
    pthread_setname_np(n->thread, "kestrel-net"); /* top -H, perf: the net thread by name */
    if (err)
        *err = WS_OK;
    return n;
fail:
    if (err)
        *err = WS_ERR_INIT;
    ws_net_free(n);
    return NULL;
}

void ws_net_free(ws_net *n)
{
    if (!n)
        return;
    if (n->thread_started) {
        atomic_store(&n->stop, true);
        lws_cancel_service(n->ctx);
        pthread_join(n->thread, NULL);
    }
    if (n->ctx)
        lws_context_destroy(n->ctx); /* closes every wsi (CLIENT_CLOSED callbacks run here) */
    for (int i = 0; i < WS_MAX_CONNS; i++) {
        ws_out_clear(&n->conns[i]);
        free(n->conns[i].asm_buf);
    }
    if (n->efd >= 0)
        close(n->efd);
    free(n->ring.buf);
    pthread_mutex_destroy(&n->mu);
    pthread_mutex_destroy(&n->ring.mu);
    free(n);
}

/* ---------------------------------------------------------------------------------------- */
/* main-thread API                                                                           */

enum ws_result ws_open(ws_net *n, const char *url, const ws_opts *o, uint32_t *id, char *err,
                       size_t errlen)
{
    ws_url u;
    enum ws_result r = ws_url_parse(url, &u, err, errlen);
    if (r != WS_OK)
        return r;
    if (!u.websocket) {
        if (err)
            snprintf(err, errlen, "'%.200s': a websocket URL starts with ws:// or wss://", url);
        return WS_ERR_URL;
    }
    pthread_mutex_lock(&n->mu);
    int idx = -1;
    for (int i = 0; i < WS_MAX_CONNS; i++) {
        if (!n->conns[i].in_use) {
            idx = i;
            break;
        }
    }
    if (idx < 0) {
        pthread_mutex_unlock(&n->mu);
        if (err)
            snprintf(err, errlen, "%d connections already open", WS_MAX_CONNS);
        return WS_ERR_TOO_MANY;
    }
    ws_conn *c = &n->conns[idx];
    free(c->asm_buf);
    memset(c, 0, sizeof *c);
    c->in_use = true;
    n->gen = (n->gen + 1) & 0xFFFFFFu;
    c->id = (n->gen << 8) | (uint32_t)(idx + 1);
    c->url = u;
    if (o)
        c->o = *o;
    else
        ws_opts_default(&c->o, VENUE_BINANCE_SPOT);
    if (c->o.max_frame == 0)
        c->o.max_frame = 4u << 20;
    c->st.state = WS_IDLE;
    c->st.venue = c->o.venue;
    *id = c->id;
    pthread_mutex_unlock(&n->mu);
    lws_cancel_service(n->ctx);
    return WS_OK;
}

enum ws_result ws_send(ws_net *n, uint32_t id, const char *msg, size_t len)
{
    if (len > WS_SEND_MAX)
        return WS_ERR_TOO_LONG;
    pthread_mutex_lock(&n->mu);
    ws_conn *c = ws_find(n, id);
    if (!c || c->want_close) {
        pthread_mutex_unlock(&n->mu);
        return WS_ERR_NO_CONN;
    }
    if (c->out_n >= WS_OUT_MAX) {
        pthread_mutex_unlock(&n->mu);
        return WS_ERR_QUEUE_FULL;
    }
    ws_out *o = &c->out[(c->out_head + c->out_n) % WS_OUT_MAX];
    o->msg = xstrndup(msg, len);
    o->len = len;
    c->out_n++;
    pthread_mutex_unlock(&n->mu);
    lws_cancel_service(n->ctx);
    return WS_OK;
}

enum ws_result ws_reconnect(ws_net *n, uint32_t id)
{
    pthread_mutex_lock(&n->mu);
    ws_conn *c = ws_find(n, id);
    if (!c || c->want_close) {
        pthread_mutex_unlock(&n->mu);
        return WS_ERR_NO_CONN;
    }
    c->want_kill = true;
    pthread_mutex_unlock(&n->mu);
    lws_cancel_service(n->ctx);
    return WS_OK;
}

enum ws_result ws_close(ws_net *n, uint32_t id)
{
    pthread_mutex_lock(&n->mu);
    ws_conn *c = ws_find(n, id);
    if (!c || c->want_close) {
        pthread_mutex_unlock(&n->mu);
        return WS_ERR_NO_CONN;
    }
    c->want_close = true;
    pthread_mutex_unlock(&n->mu);
    lws_cancel_service(n->ctx);
    return WS_OK;
}

enum ws_result ws_get_stats(ws_net *n, uint32_t id, ws_stats *out)
{
    pthread_mutex_lock(&n->mu);
    ws_conn *c = ws_find(n, id);
    if (!c) {
        pthread_mutex_unlock(&n->mu);
        return WS_ERR_NO_CONN;
    }
    *out = c->st;
    pthread_mutex_unlock(&n->mu);
    return WS_OK;
}
