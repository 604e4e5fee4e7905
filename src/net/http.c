/* REST over curl multi on the main loop (see http.h).
 *
 * Wiring (docs/ARCHITECTURE.md): CURLMOPT_SOCKETFUNCTION maps CURL_POLL_IN/OUT/INOUT/REMOVE onto
 * loop watchers; CURLMOPT_TIMERFUNCTION only (re)arms one loop timer (curl_multi_socket_action
 * is never called from inside curl's own callbacks); watcher and timer callbacks call
 * curl_multi_socket_action and then collect finished transfers with curl_multi_info_read,
 * copying msg->data.result before the easy handle is cleaned up. CURLOPT_NOSIGNAL is set on
 * every handle (threads + timeouts). Bodies are capped at max_body (the write callback refuses
 * more, curl then ends the transfer with CURLE_WRITE_ERROR). Only http and https are allowed,
 * redirects are not followed, and peer + host verification stay at curl's secure defaults.
 *
 * Rate discipline per venue: a request is refused before it is sent when the venue is paused
 * (429/418 seen: Retry-After + 0..1 s of jitter, 5 s without the header) or would cross 80 % of
 * the weight budget (Binance: the last X-MBX-USED-WEIGHT-1M plus what is in flight, reset when
 * the wall-clock minute turns; OKX: requests in the current 2 s window). Callers retry from a
 * timer; nothing queues unboundedly here. */
#include "kestrel/http.h"

#include "kestrel/ws.h"
#include "kestrel/xmalloc.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#ifndef KESTREL_VERSION
#define KESTREL_VERSION "dev" /* builds outside the Makefile (tests/fuzz/run.sh) */
#endif

typedef struct http_req {
    http_client *c;
    CURL *easy;
    enum venue venue;
    int weight;
    http_done_fn fn;
    void *ud;
    uint64_t id;
    char *body;
    size_t len, cap;
    bool too_large;
    int64_t retry_after_ms, used_weight, started_ms;
    char errbuf[CURL_ERROR_SIZE];
} http_req;

typedef struct http_venue {
    http_venue_state st;
    int64_t window_start_ms; /* Binance: wall minute; OKX: 2 s window start (mono) */
    int64_t inflight_weight;
} http_venue;

struct http_client {
    loop *l;
    CURLM *multi;
    uint64_t timer;
    uint64_t next_id;
    http_opts o;
    char ca_file[1024];
    char venue_ca[VENUE_COUNT][1024]; /* http_set_venue_ca: wins over ca_file for that venue */
    http_req *reqs[HTTP_MAX_INFLIGHT];
    uint32_t ninflight;
    http_venue v[VENUE_COUNT];
    uint64_t rnd;
};

const char *http_strerror(enum http_result r)
{
    switch (r) {
    case HTTP_OK: return "ok";
    case HTTP_ERR_URL: return "bad URL";
    case HTTP_ERR_INSECURE: return "plain http:// is allowed only to a loopback address";
    case HTTP_ERR_PAUSED: return "paused after HTTP 429/418 (Retry-After)";
    case HTTP_ERR_THROTTLED: return "request weight budget nearly used up";
    case HTTP_ERR_TOO_LARGE: return "response too large";
    case HTTP_ERR_TIMEOUT: return "timed out";
    case HTTP_ERR_NETWORK: return "network or TLS error";
    case HTTP_ERR_BUSY: return "too many requests in flight";
    case HTTP_ERR_CANCELLED: return "cancelled";
    }
    return "unknown error";
}

static uint64_t http_rand(http_client *c)
{
    c->rnd ^= c->rnd >> 12;
    c->rnd ^= c->rnd << 25;
    c->rnd ^= c->rnd >> 27;
    return c->rnd * 2685821657736338717ull;
}

static void http_check_done(http_client *c);

static void http_on_fd(loop *l, int fd, unsigned events, void *ud)
{
    (void)l;
    http_client *c = ud;
    int flags = 0, running = 0;
    if (events & LOOP_READ)
        flags |= CURL_CSELECT_IN;
    if (events & LOOP_WRITE)
        flags |= CURL_CSELECT_OUT;
    curl_multi_socket_action(c->multi, fd, flags, &running);
    http_check_done(c);
}

static void http_on_timer(loop *l, uint64_t id, void *ud)
{
    (void)l;
    (void)id;
    http_client *c = ud;
    int running = 0;
    c->timer = 0;
    curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    http_check_done(c);
}

static int http_sock_cb(CURL *e, curl_socket_t s, int what, void *userp, void *socketp)
{
    (void)e;
    (void)socketp;
    http_client *c = userp;
    if (what == CURL_POLL_REMOVE) {
        loop_unwatch(c->l, s);
        return 0;
    }
    unsigned ev = 0;
    if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
        ev |= LOOP_READ;
    if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
        ev |= LOOP_WRITE;
    return loop_watch(c->l, s, ev, http_on_fd, c) == K_OK ? 0 : -1;
}

static int http_timer_cb(CURLM *m, long timeout_ms, void *userp)
{
    (void)m;
    http_client *c = userp;
    if (c->timer) {
        loop_timer_cancel(c->l, c->timer);
        c->timer = 0;
    }
    if (timeout_ms >= 0)
        c->timer = loop_timer_add(c->l, timeout_ms, http_on_timer, c);
    return 0;
}

static size_t http_write_cb(char *ptr, size_t size, size_t nmemb, void *ud)
{
    http_req *r = ud;
    size_t n = size * nmemb;
    if (r->len + n > r->c->o.max_body) {
        r->too_large = true;
        return 0; /* curl ends the transfer: CURLE_WRITE_ERROR */
    }
    if (r->len + n + 1 > r->cap) {
        size_t nc = r->cap ? r->cap : 16384;
        while (nc < r->len + n + 1)
            nc *= 2;
        r->body = xrealloc(r->body, nc);
        r->cap = nc;
    }
    memcpy(r->body + r->len, ptr, n);
    r->len += n;
    r->body[r->len] = '\0';
    return n;
}

static int64_t http_header_int(const char *v, size_t n)
{
    int64_t x = 0;
    size_t i = 0;
    while (i < n && (v[i] == ' ' || v[i] == '\t'))
        i++;
    if (i == n || v[i] < '0' || v[i] > '9')
        return -1;
    for (; i < n && v[i] >= '0' && v[i] <= '9'; i++) {
        if (x > INT64_MAX / 10 - 10)
            return -1;
        x = x * 10 + (v[i] - '0');
    }
    return x;
}

static size_t http_header_cb(char *buf, size_t size, size_t nitems, void *ud)
{
    http_req *r = ud;
    size_t n = size * nitems;
    static const char ra[] = "retry-after:", uw[] = "x-mbx-used-weight-1m:";
    if (n > sizeof ra - 1 && strncasecmp(buf, ra, sizeof ra - 1) == 0) {
        int64_t s = http_header_int(buf + sizeof ra - 1, n - (sizeof ra - 1));
        if (s >= 0 && s < 3 * 86400)
            r->retry_after_ms = s * 1000;
    } else if (n > sizeof uw - 1 && strncasecmp(buf, uw, sizeof uw - 1) == 0) {
        r->used_weight = http_header_int(buf + sizeof uw - 1, n - (sizeof uw - 1));
    }
    return n;
}

static void http_req_free(http_req *r)
{
    free(r->body);
    free(r);
}

/* Updates the venue's tracker from a finished request. */
static void http_account(http_client *c, http_req *r, long status)
{
    http_venue *hv = &c->v[r->venue];
    hv->inflight_weight -= r->weight;
    if (hv->inflight_weight < 0)
        hv->inflight_weight = 0;
    if (r->used_weight >= 0 && r->venue != VENUE_OKX)
        hv->st.used_weight = r->used_weight;
    if (status == 429 || status == 418) {
        if (status == 429)
            hv->st.status_429++;
        else
            hv->st.status_418++;
        int64_t wait = r->retry_after_ms >= 0 ? r->retry_after_ms : 5000;
        int64_t until = loop_mono_ms() + wait + (int64_t)(http_rand(c) % 1000);
        if (until > hv->st.paused_until_ms)
            hv->st.paused_until_ms = until;
    } else if (status >= 500) {
        hv->st.status_5xx++;
    }
}

static void http_finish(http_client *c, http_req *r, CURLcode code)
{
    http_response resp;
    memset(&resp, 0, sizeof resp);
    long status = 0;
    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
    resp.status = status;
    resp.id = r->id;
    resp.retry_after_ms = r->retry_after_ms;
    resp.used_weight = r->used_weight;
    resp.elapsed_ms = loop_mono_ms() - r->started_ms;
    resp.body = r->body ? r->body : "";
    resp.len = r->len;
    if (r->too_large)
        resp.result = HTTP_ERR_TOO_LARGE;
    else if (code == CURLE_OK)
        resp.result = HTTP_OK;
    else if (code == CURLE_OPERATION_TIMEDOUT)
        resp.result = HTTP_ERR_TIMEOUT;
    else
        resp.result = HTTP_ERR_NETWORK;
    if (code != CURLE_OK)
        snprintf(resp.error, sizeof resp.error, "%.150s",
                 r->errbuf[0] ? r->errbuf : curl_easy_strerror(code));
    http_venue *hv = &c->v[r->venue];
    if (resp.result == HTTP_OK)
        hv->st.responses++;
    else
        hv->st.errors++;
    http_account(c, r, resp.result == HTTP_OK ? status : 0);
    if (r->fn)
        r->fn(r->ud, &resp);
}

static void http_detach(http_client *c, http_req *r)
{
    for (uint32_t i = 0; i < HTTP_MAX_INFLIGHT; i++) {
        if (c->reqs[i] == r) {
            c->reqs[i] = NULL;
            c->ninflight--;
            break;
        }
    }
    curl_multi_remove_handle(c->multi, r->easy);
    curl_easy_cleanup(r->easy);
    http_req_free(r);
}

static void http_check_done(http_client *c)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(c->multi, &left))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        CURL *e = msg->easy_handle;
        CURLcode code = msg->data.result; /* copied before the handle goes away */
        http_req *r = NULL;
        curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&r);
        if (!r)
            continue;
        http_finish(c, r, code);
        http_detach(c, r);
    }
}

http_client *http_new(loop *l, const http_opts *o)
{
    curl_global_init(CURL_GLOBAL_DEFAULT); /* reference-counted by curl; http_free releases */
    http_client *c = xcalloc(1, sizeof *c);
    c->l = l;
    if (o)
        c->o = *o;
    if (c->o.max_body == 0)
        c->o.max_body = 16u << 20;
    if (c->o.timeout_ms <= 0)
        c->o.timeout_ms = 10000;
    if (o && o->ca_file)
        snprintf(c->ca_file, sizeof c->ca_file, "%s", o->ca_file);
    c->multi = curl_multi_init();
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, http_sock_cb);
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, http_timer_cb);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
    c->rnd = (uint64_t)loop_mono_ns() | 1u;
    c->v[VENUE_BINANCE_SPOT].st.weight_limit = 6000;
    c->v[VENUE_BINANCE_USDM].st.weight_limit = 2400;
    c->v[VENUE_OKX].st.weight_limit = 20; /* public market data: 20-40 requests per 2 s */
    return c;
}

void http_set_venue_ca(http_client *c, enum venue v, const char *ca_file)
{
    if ((unsigned)v < VENUE_COUNT)
        snprintf(c->venue_ca[v], sizeof c->venue_ca[v], "%s", ca_file ? ca_file : "");
}

void http_free(http_client *c)
{
    if (!c)
        return;
    for (uint32_t i = 0; i < HTTP_MAX_INFLIGHT; i++) {
        http_req *r = c->reqs[i];
        if (!r)
            continue;
        if (r->fn) {
            http_response resp;
            memset(&resp, 0, sizeof resp);
            resp.result = HTTP_ERR_CANCELLED;
            resp.id = r->id;
            resp.body = "";
            resp.retry_after_ms = resp.used_weight = -1;
            r->fn(r->ud, &resp);
        }
        http_detach(c, r);
    }
    if (c->timer)
        loop_timer_cancel(c->l, c->timer);
    curl_multi_cleanup(c->multi);
    free(c);
    curl_global_cleanup();
}

void http_set_weight_limit(http_client *c, enum venue v, int64_t limit)
{
    if ((unsigned)v < VENUE_COUNT && limit > 0)
        c->v[v].st.weight_limit = limit;
}

void http_venue_state_get(const http_client *c, enum venue v, http_venue_state *out)
{
    memset(out, 0, sizeof *out);
    if ((unsigned)v >= VENUE_COUNT)
        return;
    *out = c->v[v].st;
    if (out->paused_until_ms && out->paused_until_ms <= loop_mono_ms())
        out->paused_until_ms = 0;
}

uint32_t http_inflight(const http_client *c)
{
    return c->ninflight;
}

/* Refuses a request the venue's budget cannot take now. */
static enum http_result http_admit(http_client *c, enum venue v, int weight)
{
    http_venue *hv = &c->v[v];
    int64_t now = loop_mono_ms();
    if (hv->st.paused_until_ms > now) {
        hv->st.paused++;
        return HTTP_ERR_PAUSED;
    }
    hv->st.paused_until_ms = 0;
    if (v == VENUE_OKX) {
        if (now - hv->window_start_ms >= 2000) {
            hv->window_start_ms = now;
            hv->st.used_weight = 0;
        }
        if (hv->st.used_weight + 1 > hv->st.weight_limit) {
            hv->st.throttled++;
            return HTTP_ERR_THROTTLED;
        }
        hv->st.used_weight++;
        return HTTP_OK;
    }
    int64_t minute = loop_wall_ms() / 60000;
    if (minute != hv->window_start_ms) {
        hv->window_start_ms = minute; /* Binance's weight window is the wall-clock minute */
        hv->st.used_weight = 0;
    }
    if ((hv->st.used_weight + hv->inflight_weight + weight) * 10 > hv->st.weight_limit * 8) {
        hv->st.throttled++;
        return HTTP_ERR_THROTTLED;
    }
    return HTTP_OK;
}

enum http_result http_get(http_client *c, enum venue v, const char *url, int weight,
                          http_done_fn fn, void *ud, uint64_t *id)
{
    if ((unsigned)v >= VENUE_COUNT)
        return HTTP_ERR_URL;
    ws_url u;
    char err[256];
    enum ws_result ur = ws_url_parse(url, &u, err, sizeof err);
    if (ur == WS_ERR_INSECURE)
        return HTTP_ERR_INSECURE;
    if (ur != WS_OK || u.websocket)
        return HTTP_ERR_URL;
    if (c->ninflight >= HTTP_MAX_INFLIGHT)
        return HTTP_ERR_BUSY;
    enum http_result ar = http_admit(c, v, weight);
    if (ar != HTTP_OK)
        return ar;
    http_req *r = xcalloc(1, sizeof *r);
    r->c = c;
    r->venue = v;
    r->weight = weight > 0 ? weight : 1;
    r->fn = fn;
    r->ud = ud;
    r->id = ++c->next_id;
    r->retry_after_ms = r->used_weight = -1;
    r->started_ms = loop_mono_ms();
    CURL *e = curl_easy_init();
    r->easy = e;
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)c->o.timeout_ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)K_MIN(c->o.timeout_ms, 5000));
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
    const char *ca = (unsigned)v < VENUE_COUNT && c->venue_ca[v][0] ? c->venue_ca[v] : c->ca_file;
    if (ca[0])
        curl_easy_setopt(e, CURLOPT_CAINFO, ca);
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(e, CURLOPT_USERAGENT, "kestrel/" KESTREL_VERSION);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, http_write_cb);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, http_header_cb);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
    curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)r);
    for (uint32_t i = 0; i < HTTP_MAX_INFLIGHT; i++) {
        if (!c->reqs[i]) {
            c->reqs[i] = r;
            break;
        }
    }
    c->ninflight++;
    c->v[v].inflight_weight += r->weight;
    c->v[v].st.requests++;
    if (curl_multi_add_handle(c->multi, e) != CURLM_OK) {
        c->v[v].inflight_weight -= r->weight;
        http_detach(c, r);
        return HTTP_ERR_NETWORK;
    }
    if (id)
        *id = r->id;
    return HTTP_OK;
}
