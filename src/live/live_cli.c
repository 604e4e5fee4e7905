/* `kestrel check`: a step-by-step connectivity self-test against the configured venues, each
 * step printed with pass/fail and why: the live configuration (watch list, URLs), per venue a
 * REST ping and the server time (clock offset), then the live module itself on a private loop:
 * per connection the websocket open and its first message, per book a REST snapshot plus
 * buffered diffs until it is live. Every wait is bounded. Exit 0 when every step passed, 1 when
 * one failed, 2 for a bad command line or configuration. */
#include "kestrel/live.h"

#include "kestrel/http.h"
#include "kestrel/ingest.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "kestrel/ws.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct live_cli_req {
    bool done;
    http_response r;
    char body[512];
} live_cli_req;

static void live_cli_on_http(void *ud, const http_response *r)
{
    live_cli_req *q = ud;
    q->done = true;
    q->r = *r;
    snprintf(q->body, sizeof q->body, "%s", r->body ? r->body : "");
    q->r.body = q->body;
}

static void live_cli_step(int *fails, bool ok, const char *what, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void live_cli_step(int *fails, bool ok, const char *what, const char *fmt, ...)
{
    char why[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    printf("%-4s %-44s %s\n", ok ? "ok" : "FAIL", what, why);
    fflush(stdout);
    *fails += !ok;
}

/* GET url and wait for it (bounded by the client's own timeout). */
static bool live_cli_get(loop *l, http_client *h, enum venue v, const char *url, live_cli_req *q)
{
    memset(q, 0, sizeof *q);
    enum http_result r = http_get(h, v, url, 1, live_cli_on_http, q, NULL);
    if (r != HTTP_OK) {
        q->r.result = r;
        return false;
    }
    for (int i = 0; i < 1500 && !q->done; i++) /* 15 s, the request times out at 10 */
        loop_once(l, 10);
    return q->done && q->r.result == HTTP_OK && q->r.status == 200;
}

static const char *live_cli_base(const kconfig *cfg, enum venue v)
{
    static const char *const def[VENUE_COUNT] = {"https://api.binance.com",
                                                 "https://fapi.binance.com", "https://www.okx.com"};
    static const char *const test[VENUE_COUNT] = {"https://testnet.binance.vision",
                                                  "https://testnet.binancefuture.com",
                                                  "https://www.okx.com"};
    const kconfig_venue *vc = &cfg->venues[v];
    if (vc->rest_url[0])
        return vc->rest_url;
    return vc->network[0] && strcmp(vc->network, "mainnet") != 0 ? test[v] : def[v];
}

/* The websocket base URL of venue v (USD-M: the /public one), as the live module uses it. */
static void live_ws_base(const kconfig *cfg, enum venue v, char *out, size_t cap)
{
    static const char *const def[VENUE_COUNT] = {"wss://stream.binance.com:9443",
                                                 "wss://fstream.binance.com",
                                                 "wss://ws.okx.com:8443"};
    static const char *const test[VENUE_COUNT] = {"wss://stream.testnet.binance.vision",
                                                  "wss://fstream.binancefuture.com",
                                                  "wss://wspap.okx.com:8443"};
    const kconfig_venue *vc = &cfg->venues[v];
    const char *b = v == VENUE_BINANCE_USDM && vc->ws_public_url[0] ? vc->ws_public_url
                    : vc->ws_url[0] ? vc->ws_url
                    : vc->network[0] && strcmp(vc->network, "mainnet") != 0 ? test[v] : def[v];
    snprintf(out, cap, "%s", b);
}

static int64_t live_cli_server_ms(enum venue v, const char *body)
{
    cJSON *j = cJSON_Parse(body);
    int64_t t = 0;
    if (j && v == VENUE_OKX) {
        cJSON *d = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "data"), 0);
        cJSON *ts = d ? cJSON_GetObjectItem(d, "ts") : NULL;
        if (cJSON_IsString(ts))
            t = strtoll(ts->valuestring, NULL, 10);
    } else if (j) {
        cJSON *st = cJSON_GetObjectItem(j, "serverTime");
        if (cJSON_IsNumber(st))
            t = (int64_t)st->valuedouble;
    }
    cJSON_Delete(j);
    return t;
}

/* ---- DNS, TCP, TLS: the steps below curl, each on its own ------------------------------------ */

/* Resolves host: the first address in out. */
static bool live_cli_dns(const char *host, int port, struct addrinfo **res, char *why,
                         size_t cap)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port);
    int rc = getaddrinfo(host, ps, &hints, res);
    if (rc != 0) {
        snprintf(why, cap, "%s: %s", host, gai_strerror(rc));
        return false;
    }
    char addr[INET6_ADDRSTRLEN] = "?";
    int n = 0;
    for (struct addrinfo *a = *res; a; a = a->ai_next)
        n++;
    const struct addrinfo *a = *res;
    const void *in = a->ai_family == AF_INET ? (const void *)&((struct sockaddr_in *)a->ai_addr)->sin_addr
                                             : (const void *)&((struct sockaddr_in6 *)a->ai_addr)->sin6_addr;
    inet_ntop(a->ai_family, in, addr, sizeof addr);
    snprintf(why, cap, "%s -> %s%s", host, addr, n > 1 ? " (and more)" : "");
    return true;
}

/* A TCP connection within timeout_ms: the fd, or -1 with why. */
static int live_cli_tcp(const struct addrinfo *res, int timeout_ms, char *why, size_t cap)
{
    int last = 0;
    for (const struct addrinfo *a = res; a; a = a->ai_next) {
        int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
                        a->ai_protocol);
        if (fd < 0) {
            last = errno;
            continue;
        }
        if (connect(fd, a->ai_addr, a->ai_addrlen) == 0)
            return fd;
        if (errno == EINPROGRESS) {
            struct pollfd p = {.fd = fd, .events = POLLOUT};
            int err = 0;
            socklen_t el = sizeof err;
            if (poll(&p, 1, timeout_ms) == 1 &&
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) == 0 && err == 0)
                return fd;
            last = err ? err : ETIMEDOUT;
        } else {
            last = errno;
        }
        close(fd);
    }
    snprintf(why, cap, "%s", strerror(last ? last : ECONNREFUSED));
    return -1;
}

/* TLS handshake on fd with peer and host name verification against ca (the system's when ""):
 * true and the peer's subject, or false and OpenSSL's reason. */
static bool live_cli_tls(int fd, const char *host, const char *ca, char *why, size_t cap)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    SSL *ssl = NULL;
    bool ok = false;
    if (!ctx) {
        snprintf(why, cap, "cannot create a TLS context");
        return false;
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    if (ca[0] ? SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1
              : SSL_CTX_set_default_verify_paths(ctx) != 1) {
        snprintf(why, cap, "cannot load the CA bundle %s", ca[0] ? ca : "(system)");
        goto out;
    }
    ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    SSL_set_tlsext_host_name(ssl, host);
    SSL_set1_host(ssl, host);
    int flags = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
    struct timeval tv = {.tv_sec = 5};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (SSL_connect(ssl) != 1) {
        long vr = SSL_get_verify_result(ssl);
        unsigned long e = ERR_get_error();
        if (vr != X509_V_OK)
            snprintf(why, cap, "certificate verification failed: %s (CA: %s)",
                     X509_verify_cert_error_string(vr), ca[0] ? ca : "system");
        else
            snprintf(why, cap, "handshake failed: %s", e ? ERR_reason_error_string(e) : "closed");
        goto out;
    }
    X509 *peer = SSL_get1_peer_certificate(ssl);
    char subj[160] = "?";
    if (peer) {
        X509_NAME_oneline(X509_get_subject_name(peer), subj, sizeof subj);
        X509_free(peer);
    }
    int w = snprintf(why, cap, "%.60s, %.12s, peer %.80s verified (CA: %.120s)", host,
                     SSL_get_version(ssl), subj, ca[0] ? ca : "system");
    (void)w;
    ok = true;
out:
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    ERR_clear_error();
    return ok;
}

/* DNS, TCP connect and (for https:// / wss://) the TLS handshake to one URL's host. */
static void live_cli_net_steps(int *fails, enum venue v, const char *what, const char *url,
                               const char *ca)
{
    ws_url u;
    char why[400], step[96];
    if (ws_url_parse(url, &u, why, sizeof why) != WS_OK)
        return; /* the configuration step said it */
    struct addrinfo *res = NULL;
    snprintf(step, sizeof step, "%s DNS (%s)", venue_name(v), what);
    bool ok = live_cli_dns(u.host, u.port, &res, why, sizeof why);
    live_cli_step(fails, ok, step, "%s", why);
    if (!ok)
        return;
    snprintf(step, sizeof step, "%s TCP connect (%s)", venue_name(v), what);
    int fd = live_cli_tcp(res, 5000, why, sizeof why);
    freeaddrinfo(res);
    live_cli_step(fails, fd >= 0, step, "%s:%d%s%s", u.host, u.port, fd >= 0 ? "" : ": ",
                  fd >= 0 ? "" : why);
    if (fd < 0)
        return;
    snprintf(step, sizeof step, "%s TLS handshake (%s)", venue_name(v), what);
    if (!u.tls) {
        live_cli_step(fails, true, step, "none: plain text to the loopback host %s (tests)",
                      u.host);
    } else {
        ok = live_cli_tls(fd, u.host, ca, why, sizeof why);
        live_cli_step(fails, ok, step, "%s", why);
    }
    close(fd);
}

/* ---- exchange info ------------------------------------------------------------------------------ */

typedef struct live_cli_info {
    bool done;
    enum http_result result;
    long status;
    int symbols;     /* instruments in the answer */
    char missing[256]; /* watched symbols it does not list */
    const kconfig *cfg;
    enum venue v;
} live_cli_info;

static void live_cli_on_info(void *ud, const http_response *r)
{
    live_cli_info *q = ud;
    q->done = true;
    q->result = r->result;
    q->status = r->status;
    if (r->result != HTTP_OK || r->status != 200)
        return;
    cJSON *j = cJSON_ParseWithLength(r->body, r->len);
    cJSON *arr = j ? cJSON_GetObjectItem(j, q->v == VENUE_OKX ? "data" : "symbols") : NULL;
    const char *key = q->v == VENUE_OKX ? "instId" : "symbol";
    q->symbols = cJSON_GetArraySize(arr);
    for (int i = 0; i < q->cfg->watch_count; i++) {
        enum venue wv;
        char sym[KSYM_MAX], err[200];
        if (live_parse_watch(q->cfg->watch[i], &wv, sym, sizeof sym, err, sizeof err) != K_OK ||
            wv != q->v)
            continue;
        bool found = false;
        cJSON *it;
        cJSON_ArrayForEach(it, arr) {
            cJSON *s = cJSON_GetObjectItem(it, key);
            found = found || (cJSON_IsString(s) && strcmp(s->valuestring, sym) == 0);
        }
        if (!found) {
            size_t n = strlen(q->missing);
            snprintf(q->missing + n, sizeof q->missing - n, "%s%s", n ? " " : "", sym);
        }
    }
    cJSON_Delete(j);
}

static void live_cli_exchange_info(int *fails, loop *l, http_client *h, const kconfig *cfg,
                                   enum venue v, const char *base)
{
    char url[CONFIG_URL_MAX + 96], what[96];
    bool swap = false, spot = false;
    for (int i = 0; i < cfg->watch_count; i++) {
        enum venue wv;
        char sym[KSYM_MAX], err[200];
        if (live_parse_watch(cfg->watch[i], &wv, sym, sizeof sym, err, sizeof err) == K_OK &&
            wv == VENUE_OKX) {
            size_t n = strlen(sym);
            if (n > 5 && strcmp(sym + n - 5, "-SWAP") == 0)
                swap = true;
            else
                spot = true;
        }
    }
    for (int pass = 0; pass < (v == VENUE_OKX ? 2 : 1); pass++) {
        if (v == VENUE_OKX && !(pass == 0 ? spot : swap))
            continue;
        if (v == VENUE_OKX)
            snprintf(url, sizeof url, "%s/api/v5/public/instruments?instType=%s", base,
                     pass == 0 ? "SPOT" : "SWAP");
        else
            snprintf(url, sizeof url, "%s%s", base,
                     v == VENUE_BINANCE_SPOT ? "/api/v3/exchangeInfo" : "/fapi/v1/exchangeInfo");
        snprintf(what, sizeof what, "%s exchange info%s", venue_name(v),
                 v != VENUE_OKX ? "" : pass == 0 ? " (SPOT)" : " (SWAP)");
        live_cli_info q = {.cfg = cfg, .v = v};
        enum http_result r = http_get(h, v, url, v == VENUE_BINANCE_SPOT ? 20 : 1,
                                      live_cli_on_info, &q, NULL);
        for (int i = 0; r == HTTP_OK && i < 1500 && !q.done; i++)
            loop_once(l, 10);
        if (r != HTTP_OK || !q.done || q.result != HTTP_OK || q.status != 200)
            live_cli_step(fails, false, what, "%s: %s (HTTP %ld)", url,
                          http_strerror(r != HTTP_OK ? r : q.result), q.status);
        else if (q.missing[0])
            live_cli_step(fails, false, what, "%d instruments, but not %s: check the watch list",
                          q.symbols, q.missing);
        else
            live_cli_step(fails, q.symbols > 0, what, "%d instruments, every watched symbol listed",
                          q.symbols);
    }
}

/* Every watched symbol has had a depth diff, a trade and a book ticker. */
static bool live_cli_all_streams(klive *lv, market *m)
{
    for (size_t i = 0; i < live_book_count(lv); i++) {
        live_book_info bi;
        if (live_book_get(lv, i, &bi) != K_OK)
            return false;
        market_sym *ms = market_find(m, bi.venue, bi.symbol);
        if (!ms || !ms->diffs || !ms->trades || !ms->tickers)
            return false;
    }
    return true;
}

/* Every connection has had a message. */
static bool live_cli_all_heard(klive *lv)
{
    for (size_t i = 0; i < live_conn_count(lv); i++) {
        live_conn_info ci;
        if (live_conn_get(lv, i, &ci) != K_OK || ci.msgs == 0)
            return false;
    }
    return true;
}

int live_check_main(kconfig *cfg)
{
    char err[1024];
    int fails = 0;
    enum live_result lr = live_check(cfg, err, sizeof err);
    live_cli_step(&fails, lr == LIVE_OK, "configuration (watch list, venue URLs)", "%s",
                  lr == LIVE_OK ? "" : err);
    if (lr != LIVE_OK)
        return 2;
    bool used[VENUE_COUNT] = {false};
    for (int i = 0; i < cfg->watch_count; i++) {
        enum venue v;
        char sym[KSYM_MAX], one[CONFIG_WATCH_MAX];
        snprintf(one, sizeof one, "%s", cfg->watch[i]);
        char *at = strchr(one, '@'); /* primary@backup (failover): both venues are used */
        if (at)
            *at = '\0';
        if (live_parse_watch(one, &v, sym, sizeof sym, err, sizeof err) == K_OK)
            used[v] = true;
        if (at && live_parse_watch(at + 1, &v, sym, sizeof sym, err, sizeof err) == K_OK)
            used[v] = true;
    }
    loop *l = loop_new();
    http_opts ho = {.ca_file = NULL, .timeout_ms = 10000};
    http_client *h = http_new(l, &ho);
    for (int v = 0; v < VENUE_COUNT; v++)
        http_set_venue_ca(h, (enum venue)v, cfg->venues[v].ca_file);
    static const char *const ping[VENUE_COUNT] = {"/api/v3/ping", "/fapi/v1/ping",
                                                  "/api/v5/public/time"};
    static const char *const tpath[VENUE_COUNT] = {"/api/v3/time", "/fapi/v1/time",
                                                   "/api/v5/public/time"};
    for (int v = 0; v < VENUE_COUNT; v++) {
        if (!used[v])
            continue;
        char url[CONFIG_URL_MAX + 64], what[96];
        live_cli_req q;
        live_cli_net_steps(&fails, (enum venue)v, "REST", live_cli_base(cfg, (enum venue)v),
                           cfg->venues[v].ca_file);
        char wsb[CONFIG_URL_MAX];
        live_ws_base(cfg, (enum venue)v, wsb, sizeof wsb);
        live_cli_net_steps(&fails, (enum venue)v, "websocket", wsb, cfg->venues[v].ca_file);
        snprintf(url, sizeof url, "%s%s", live_cli_base(cfg, (enum venue)v), ping[v]);
        snprintf(what, sizeof what, "%s REST ping (DNS, TLS, HTTP)", venue_name((enum venue)v));
        bool ok = live_cli_get(l, h, (enum venue)v, url, &q);
        if (ok)
            live_cli_step(&fails, true, what, "%s in %lld ms", url, (long long)q.r.elapsed_ms);
        else
            live_cli_step(&fails, false, what, "%s: %s %s (HTTP %ld)", url, http_strerror(q.r.result),
                          q.r.error, q.r.status);
        snprintf(url, sizeof url, "%s%s", live_cli_base(cfg, (enum venue)v), tpath[v]);
        snprintf(what, sizeof what, "%s server time (clock offset)", venue_name((enum venue)v));
        int64_t before = loop_wall_ms();
        ok = live_cli_get(l, h, (enum venue)v, url, &q);
        int64_t after = loop_wall_ms();
        int64_t st = ok ? live_cli_server_ms((enum venue)v, q.body) : 0;
        if (!ok || st <= 0) {
            live_cli_step(&fails, false, what, "%s: %s", url, ok ? "no server time in the answer"
                                                         : http_strerror(q.r.result));
        } else {
            int64_t off = st - (before + after) / 2;
            live_cli_step(&fails, off < 500 && off > -500, what, "offset %+lld ms (round trip %lld ms)%s",
                          (long long)off, (long long)(after - before),
                          off < 500 && off > -500 ? "" : ": above 500 ms, fix the clock (NTP)");
        }
        live_cli_exchange_info(&fails, l, h, cfg, (enum venue)v,
                               live_cli_base(cfg, (enum venue)v));
    }
    http_free(h);

    /* the live module itself: websockets, first messages, book sync */
    market *m = market_new(&cfg->limits);
    ingest_opts io = {.grace_ms = cfg->limits.bar_grace_ms};
    ingest *ing = ingest_new(m, NULL, &io);
    live_opts lo = {.loop = l, .ingest = ing, .market = m, .cfg = cfg, .no_backfill = true};
    klive *lv = NULL;
    lr = live_open(&lv, &lo, err, sizeof err);
    live_cli_step(&fails, lr == LIVE_OK, "net thread and connections", "%s", lr == LIVE_OK ? "" : err);
    if (lr == LIVE_OK) {
        int64_t end = loop_mono_ms() + 20000;
        while (loop_mono_ms() < end &&
               !(live_all_books_live(lv) && live_cli_all_heard(lv) && live_cli_all_streams(lv, m)))
            loop_once(l, 20);
        for (size_t i = 0; i < live_conn_count(lv); i++) {
            live_conn_info ci;
            if (live_conn_get(lv, i, &ci) != K_OK)
                continue;
            char what[96];
            snprintf(what, sizeof what, "%s %s websocket: first message",
                     venue_name(ci.venue), ci.channel);
            live_cli_step(&fails, ci.msgs > 0, what, "%s: %s, %llu messages%s%s", ci.url, ci.state,
                          (unsigned long long)ci.msgs, ci.last_error[0] ? ", " : "",
                          ci.last_error);
        }
        for (size_t i = 0; i < live_conn_count(lv); i++) {
            live_conn_info ci;
            if (live_conn_get(lv, i, &ci) != K_OK)
                continue;
            char what[96];
            snprintf(what, sizeof what, "%s %s websocket: subscribe", venue_name(ci.venue),
                     ci.channel);
            if (ci.venue != VENUE_OKX)
                live_cli_step(&fails, ci.msgs > 0, what, "streams named in the URL%s",
                              ci.msgs > 0 ? ", the server streams them" : ": nothing received");
            else
                live_cli_step(&fails, ci.sub_acks > 0 && ci.sub_errors == 0, what,
                              "%llu acknowledged, %llu refused%s%s",
                              (unsigned long long)ci.sub_acks, (unsigned long long)ci.sub_errors,
                              ci.sub_error[0] ? ": " : "", ci.sub_error);
        }
        for (size_t i = 0; i < live_book_count(lv); i++) {
            live_book_info bi;
            if (live_book_get(lv, i, &bi) != K_OK)
                continue;
            market_sym *ms = market_find(m, bi.venue, bi.symbol);
            static const char *const kinds[] = {"depth", "trades", "book ticker"};
            uint64_t got[3] = {ms ? ms->diffs : 0, ms ? ms->trades : 0, ms ? ms->tickers : 0};
            for (int k = 0; k < 3; k++) {
                char what[96];
                snprintf(what, sizeof what, "%s %s %s: first message", venue_name(bi.venue),
                         bi.symbol, kinds[k]);
                live_cli_step(&fails, got[k] > 0, what, "%llu message(s)%s",
                              (unsigned long long)got[k],
                              got[k] ? "" : " within 20 s (a quiet market sends few trades)");
            }
        }
        for (size_t i = 0; i < live_book_count(lv); i++) {
            live_book_info bi;
            if (live_book_get(lv, i, &bi) != K_OK)
                continue;
            char what[96];
            snprintf(what, sizeof what, "%s %s book sync (REST + diffs)", venue_name(bi.venue),
                     bi.symbol);
            live_cli_step(&fails, strcmp(bi.state, "live") == 0, what, "%s, %llu snapshot(s)",
                          bi.state, (unsigned long long)bi.snapshots);
        }
    }
    live_close(lv);
    ingest_free(ing);
    market_free(m);
    loop_free(l);
    printf("%s: %d step(s) failed\n", fails ? "FAIL" : "ok", fails);
    return fails ? 1 : 0;
}

/* ---- kestrel record ------------------------------------------------------------------------- */

static void live_cli_on_signal(loop *l, int signo, void *ud)
{
    (void)signo;
    (void)ud;
    loop_stop(l);
}

/* The app's 1 s wall tick, so the recording holds it as an app's would. */
static void live_cli_on_tick(loop *l, uint64_t id, void *ud)
{
    (void)id;
    live_wall_tick(ud, loop_wall_ms());
    loop_timer_add(l, 1000, live_cli_on_tick, ud);
}

static void live_cli_on_deadline(loop *l, uint64_t id, void *ud)
{
    (void)id;
    (void)ud;
    loop_stop(l);
}

int live_record_main(kconfig *cfg, const char *out, double seconds)
{
    char err[1024];
    enum live_result lr = live_check(cfg, err, sizeof err);
    if (lr != LIVE_OK) {
        fprintf(stderr, "kestrel record: %s\n", err);
        return 2;
    }
    loop *l = loop_new();
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
    if (loop_signals(l, sigs, 3, live_cli_on_signal, NULL) != K_OK) { /* before any thread */
        fprintf(stderr, "kestrel record: cannot take the signals\n");
        loop_free(l);
        return 1;
    }
    market *m = market_new(&cfg->limits);
    ingest_opts io = {.grace_ms = cfg->limits.bar_grace_ms};
    ingest *ing = ingest_new(m, NULL, &io);
    live_opts lo = {.loop = l, .ingest = ing, .market = m, .cfg = cfg, .no_backfill = true};
    klive *lv = NULL;
    int rc = 0;
    lr = live_open(&lv, &lo, err, sizeof err);
    if (lr != LIVE_OK) {
        fprintf(stderr, "kestrel record: %s\n", err);
        rc = lr == LIVE_ERR_INIT ? 1 : 2;
    } else if (live_record_start(lv, out, err, sizeof err) != LIVE_OK) {
        fprintf(stderr, "kestrel record: %s\n", err);
        rc = 2;
    } else {
        fprintf(stderr, "kestrel record: recording %d stream(s) to %s (Ctrl-C stops)\n",
                (int)live_conn_count(lv), out);
        if (seconds > 0)
            loop_timer_add(l, (int64_t)(seconds * 1000.0), live_cli_on_deadline, NULL);
        loop_timer_add(l, 1000, live_cli_on_tick, lv);
        if (loop_run(l) != K_OK)
            rc = 1;
        live_record_info ri;
        live_record_stop(lv, &ri);
        for (size_t i = 0; i < live_book_count(lv); i++) {
            live_book_info bi;
            if (live_book_get(lv, i, &bi) == K_OK)
                printf("book %s %s: %s, %llu snapshot(s), %llu gap(s)\n", venue_name(bi.venue),
                       bi.symbol, bi.state, (unsigned long long)bi.snapshots,
                       (unsigned long long)bi.gaps);
        }
        printf("recorded %s: %llu lines (%llu REST snapshots), %llu bytes, %llu dropped%s%s\n",
               ri.path, (unsigned long long)ri.lines, (unsigned long long)ri.snapshots,
               (unsigned long long)ri.bytes, (unsigned long long)ri.dropped,
               ri.write_error ? ", write error: " : "", ri.error);
        if (ri.write_error || ri.dropped)
            rc = 1;
    }
    live_close(lv);
    ingest_free(ing);
    market_free(m);
    loop_free(l);
    return rc;
}
