/* Live market data end to end against the fake exchange (tests/fake/fake_exchange.py, started
 * and stopped here on loopback): the net thread (ws.c), REST over curl multi on the main loop
 * (http.c), the decoders and the book sync rules, wired the way the ingest pipeline will wire
 * them: a frame (venue, bytes, len, recv_ns) from ws_drain -> decoder -> book; a gap or a
 * (re)connect -> REST snapshot -> book_on_snapshot.
 *
 * Scenarios (each on its own fake, real captures streamed from ../shared/data):
 *   spot   Binance spot BTCUSDT over ws:// + http://: sync, then one fault at a time with
 *          recovery and counters: sequence gap, malformed JSON, invalid UTF-8, a 16 MB frame,
 *          REST 429 + Retry-After, a stale REST snapshot (refused, fetched again), a slow REST
 *          answer past our timeout, a dropped connection,
 *          a stall, serverShutdown; clock skew measured; at the end of the tape the book equals
 *          the fake's authoritative book (top 50 levels, exact).
 *   usdm   Binance USD-M BTCUSDT on /public/stream (pu rules) through a 64 KB inbound ring
 *          (records wrap around it all the time), with a 418 and a 500: same final check.
 *   okx    OKX BTC-USDT-SWAP over wss:// + https:// with a test CA made here: subscribe, REST
 *          snapshot sync, maintenance reset, gap, then the pushed-snapshot path after a drop;
 *          final check; and the same fake refused without the CA (verification is never off).
 *   rotate Binance spot ETHUSDT with the 24 h cut shortened to 6 s: make-before-break rotation
 *          every 2 s, no server cut, no gap, exact final book.
 *   refuse plain ws:// and http:// to a non-loopback host are refused with a clear message.
 * Needs python3 with websockets (Debian python3-websockets; tools/deps.sh test). */
#include "check.h"

#include "kestrel/binance.h"
#include "kestrel/book.h"
#include "kestrel/decimal.h"
#include "kestrel/http.h"
#include "kestrel/loop.h"
#include "kestrel/okx.h"
#include "kestrel/ws.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define LV_CAP 20000
#define NEV 64

/* ---------------------------------------------------------------------------------------- */
/* the fake                                                                                   */

typedef struct fake {
    pid_t pid;
    int port;
    bool tls;
    char dir[256];
    char http[64], ws[64];
    char ca[300];
} fake;

static const char *python_bin(void)
{
    const char *e = getenv("KESTREL_FAKE_PYTHON");
    if (e && *e)
        return e;
    return access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3";
}

static void msleep(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static bool fake_start(fake *f, bool tls, const char *const *extra)
{
    memset(f, 0, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/kestrel-live.XXXXXX");
    if (!mkdtemp(f->dir))
        return false;
    f->tls = tls;
    char cmd[600];
    if (tls) {
        snprintf(cmd, sizeof cmd, "sh tests/fake/mkca.sh %s/ca", f->dir);
        if (system(cmd) != 0) {
            fprintf(stderr, "mkca.sh failed\n");
            return false;
        }
        snprintf(f->ca, sizeof f->ca, "%s/ca/ca.pem", f->dir);
    }
    char portfile[300], logfile[300], cert[300], key[300], parent[32];
    snprintf(portfile, sizeof portfile, "%s/port", f->dir);
    snprintf(logfile, sizeof logfile, "%s/fake.log", f->dir);
    snprintf(cert, sizeof cert, "%s/ca/server.pem", f->dir);
    snprintf(key, sizeof key, "%s/ca/server.key", f->dir);
    snprintf(parent, sizeof parent, "%d", (int)getpid());
    const char *argv[40];
    int a = 0;
    argv[a++] = python_bin();
    argv[a++] = "tests/fake/fake_exchange.py";
    argv[a++] = "--port-file";
    argv[a++] = portfile;
    argv[a++] = "--data";
    argv[a++] = check_shared_data();
    argv[a++] = "--lifetime";
    argv[a++] = "180";
    argv[a++] = "--parent";
    argv[a++] = parent;
    if (tls) {
        argv[a++] = "--cert";
        argv[a++] = cert;
        argv[a++] = "--key";
        argv[a++] = key;
    }
    for (int i = 0; extra && extra[i] && a < 38; i++)
        argv[a++] = extra[i];
    argv[a] = NULL;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return false;
    if (pid == 0) {
        FILE *lf = freopen(logfile, "w", stderr);
        (void)lf;
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    f->pid = pid;
    for (int i = 0; i < 300; i++) { /* bounded: 30 s */
        FILE *pf = fopen(portfile, "r");
        if (pf) {
            int ok = fscanf(pf, "%d", &f->port);
            fclose(pf);
            if (ok == 1 && f->port > 0)
                break;
        }
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            fprintf(stderr, "fake exchange exited early; log %s\n", logfile);
            f->pid = 0;
            return false;
        }
        msleep(100);
    }
    if (f->port <= 0)
        return false;
    snprintf(f->http, sizeof f->http, "%s://127.0.0.1:%d", tls ? "https" : "http", f->port);
    snprintf(f->ws, sizeof f->ws, "%s://127.0.0.1:%d", tls ? "wss" : "ws", f->port);
    return true;
}

static void fake_stop(fake *f)
{
    if (f->pid > 0) {
        kill(f->pid, SIGTERM);
        for (int i = 0; i < 50; i++) {
            int st;
            if (waitpid(f->pid, &st, WNOHANG) == f->pid) {
                f->pid = 0;
                break;
            }
            msleep(100);
        }
        if (f->pid > 0) {
            kill(f->pid, SIGKILL);
            waitpid(f->pid, NULL, 0);
        }
    }
    char cmd[400];
    if (f->dir[0] && strncmp(f->dir, "/tmp/kestrel-live.", 18) == 0) {
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
        if (system(cmd) != 0)
            fprintf(stderr, "cannot remove %s\n", f->dir);
    }
}

typedef struct membuf {
    char *p;
    size_t n;
} membuf;

static size_t membuf_write(char *ptr, size_t size, size_t nmemb, void *ud)
{
    membuf *m = ud;
    size_t k = size * nmemb;
    m->p = realloc(m->p, m->n + k + 1);
    memcpy(m->p + m->n, ptr, k);
    m->n += k;
    m->p[m->n] = '\0';
    return k;
}

/* A blocking control request to the fake (test harness only; the client never blocks). */
static cJSON *fake_get(const fake *f, const char *path)
{
    char url[512];
    snprintf(url, sizeof url, "%s%s", f->http, path);
    CURL *e = curl_easy_init();
    membuf m = {0};
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 5000L);
    if (f->tls)
        curl_easy_setopt(e, CURLOPT_CAINFO, f->ca);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, membuf_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &m);
    CURLcode rc = curl_easy_perform(e);
    curl_easy_cleanup(e);
    cJSON *j = rc == CURLE_OK && m.p ? cJSON_Parse(m.p) : NULL;
    free(m.p);
    return j;
}

static bool fake_fault(const fake *f, const char *query)
{
    char path[300];
    snprintf(path, sizeof path, "/_fake/fault?%s", query);
    cJSON *j = fake_get(f, path);
    bool ok = j && cJSON_IsTrue(cJSON_GetObjectItem(j, "ok"));
    if (!ok)
        fprintf(stderr, "fault %s refused\n", query);
    cJSON_Delete(j);
    return ok;
}

/* ---------------------------------------------------------------------------------------- */
/* a client: one connection, one book                                                        */

/* One connection and its book. A client has two: the active one, and during a rotation the
 * successor, which is synced on its own before it replaces the active one. */
typedef struct client client;
typedef struct feed {
    client *c;
    uint32_t conn;
    book *b;
    bool fetching;
    uint64_t retry_timer;
    int64_t last_snap_id;
} feed;

struct client {
    loop *l;
    ws_net *net;
    http_client *http;
    const fake *f;
    enum venue venue;
    char sym[KSYM_MAX];
    char rest_url[512];
    char ws_url[600];
    ws_opts o;
    feed fd[2];
    int act; /* fd[act] is the active feed */
    /* the active feed, kept in step with fd[act] (client_sync_active) */
    uint32_t conn;
    book *b;
    int64_t last_snap_id;
    int snap_requests, snap_ok, snap_old, http_fail, http_status_err, http_paused, timeouts;
    int opens, closes, gaps, decode_errors, frames, trades, pushed_snapshots, shutdowns;
    int rotations, rotation_gaps;
    int klines, klines_closed, klines_bad;
    int64_t last_kline_open;
    feed_level *lv;
    feed_event evs[NEV];
};

static void client_sync_active(client *c)
{
    c->conn = c->fd[c->act].conn;
    c->b = c->fd[c->act].b;
    c->last_snap_id = c->fd[c->act].last_snap_id;
}

static void client_fetch(feed *fd);

static void client_retry_cb(loop *l, uint64_t id, void *ud)
{
    (void)l;
    (void)id;
    feed *fd = ud;
    fd->retry_timer = 0;
    if (fd->conn && !book_is_live(fd->b))
        client_fetch(fd);
}

static void client_retry(feed *fd, int64_t ms)
{
    client *c = fd->c;
    if (fd->retry_timer)
        loop_timer_cancel(c->l, fd->retry_timer);
    fd->retry_timer = loop_timer_add(c->l, ms, client_retry_cb, fd);
}

/* The successor is live: it replaces the active feed, whose connection closes now. */
static void client_promote(client *c, int w)
{
    feed *old = &c->fd[c->act];
    CHECK_INT(ws_close(c->net, old->conn), WS_OK);
    old->conn = 0;
    book_invalidate(old->b);
    if (old->retry_timer) {
        loop_timer_cancel(c->l, old->retry_timer);
        old->retry_timer = 0;
    }
    c->act = w;
    c->rotations++;
    client_sync_active(c);
}

static void client_on_snapshot(feed *fd, feed_event *ev)
{
    client *c = fd->c;
    snprintf(ev->symbol, sizeof ev->symbol, "%s", c->sym);
    enum book_result r = book_on_snapshot(fd->b, ev);
    if (r == BOOK_SYNCED) {
        c->snap_ok++;
        fd->last_snap_id = ev->u.depth.last_id;
        int w = (int)(fd - c->fd);
        if (w != c->act)
            client_promote(c, w);
        client_sync_active(c);
    } else if (r == BOOK_SNAPSHOT_OLD) {
        c->snap_old++;
        client_retry(fd, 100);
    }
}

static void client_on_http(void *ud, const http_response *r)
{
    feed *fd = ud;
    client *c = fd->c;
    fd->fetching = false;
    if (r->result != HTTP_OK) {
        c->http_fail++;
        if (r->result == HTTP_ERR_TIMEOUT)
            c->timeouts++;
        if (r->result != HTTP_ERR_CANCELLED)
            client_retry(fd, 200);
        return;
    }
    if (!fd->conn)
        return; /* a feed closed while its snapshot was on the way */
    if (r->status == 429 || r->status == 418) {
        http_venue_state vs;
        http_venue_state_get(c->http, c->venue, &vs);
        int64_t wait = vs.paused_until_ms - loop_mono_ms();
        client_retry(fd, wait > 0 ? wait + 10 : 10);
        return;
    }
    if (r->status != 200) {
        c->http_status_err++;
        client_retry(fd, 300);
        return;
    }
    const char *why = NULL;
    uint32_t n = 0;
    int rc;
    if (c->venue == VENUE_OKX)
        rc = okx_decode(r->body, r->len, c->evs, NEV, &n, c->lv, LV_CAP, NULL, &why);
    else {
        rc = binance_decode(r->body, r->len, &c->evs[0], c->lv, LV_CAP, &why);
        n = rc == K_OK;
    }
    if (rc != K_OK || n != 1 || c->evs[0].kind != FEED_DEPTH_SNAPSHOT) {
        c->decode_errors++;
        client_retry(fd, 300);
        return;
    }
    client_on_snapshot(fd, &c->evs[0]);
}

static void client_fetch(feed *fd)
{
    client *c = fd->c;
    if (fd->fetching)
        return;
    int weight = c->venue == VENUE_BINANCE_SPOT ? 250 : c->venue == VENUE_BINANCE_USDM ? 20 : 1;
    enum http_result r = http_get(c->http, c->venue, c->rest_url, weight, client_on_http, fd,
                                  NULL);
    if (r == HTTP_OK) {
        fd->fetching = true;
        c->snap_requests++;
        return;
    }
    if (r == HTTP_ERR_PAUSED) {
        c->http_paused++;
        http_venue_state vs;
        http_venue_state_get(c->http, c->venue, &vs);
        int64_t wait = vs.paused_until_ms - loop_mono_ms();
        client_retry(fd, wait > 0 ? wait + 10 : 10);
        return;
    }
    c->http_fail++;
    client_retry(fd, 250);
}

static void client_subscribe(feed *fd)
{
    client *c = fd->c;
    if (c->venue != VENUE_OKX)
        return; /* Binance: the streams are in the URL */
    char msg[256];
    const char *chans[] = {"books", "trades"};
    for (size_t i = 0; i < 2; i++) {
        size_t n = okx_subscribe_msg(msg, sizeof msg, true, chans[i], c->sym);
        CHECK(n > 0);
        CHECK_INT(ws_send(c->net, fd->conn, msg, n), WS_OK);
    }
}

/* The active connection asked for a rotation: open the successor on the other feed. */
static void client_rotate(client *c)
{
    feed *nx = &c->fd[1 - c->act];
    if (nx->conn)
        return; /* one already under way */
    char err[256];
    book_invalidate(nx->b);
    nx->fetching = false;
    enum ws_result r = ws_open(c->net, c->ws_url, &c->o, &nx->conn, err, sizeof err);
    CHECK_INT(r, WS_OK);
    if (r != WS_OK)
        nx->conn = 0;
}

static void client_on_item(void *ud, const ws_item *it)
{
    client *c = ud;
    feed *fd = NULL;
    for (int i = 0; i < 2; i++)
        if (c->fd[i].conn && c->fd[i].conn == it->conn)
            fd = &c->fd[i];
    if (!fd)
        return; /* a connection we closed: its last items */
    bool active = fd == &c->fd[c->act];
    if (it->kind == WS_ITEM_ROTATE) {
        if (active)
            client_rotate(c);
        return;
    }
    if (it->kind == WS_ITEM_OPEN) {
        c->opens++;
        book_invalidate(fd->b);
        client_subscribe(fd);
        return;
    }
    if (it->kind == WS_ITEM_CLOSED) {
        c->closes++;
        book_invalidate(fd->b);
        return;
    }
    c->frames++;
    uint32_t n = 0;
    const char *why = NULL;
    int rc;
    if (c->venue == VENUE_OKX) {
        okx_info info;
        rc = okx_decode(it->data, it->len, c->evs, NEV, &n, c->lv, LV_CAP, &info, &why);
        if (rc == K_OK && info.kind == OKX_MSG_NOTICE)
            c->shutdowns++;
    } else {
        rc = binance_decode(it->data, it->len, &c->evs[0], c->lv, LV_CAP, &why);
        n = rc == K_OK;
        if (rc == K_OK && c->evs[0].kind == FEED_NONE && it->len < 200 &&
            memmem(it->data, it->len, "\"serverShutdown\"", 16)) {
            c->shutdowns++;
            CHECK_INT(ws_reconnect(c->net, fd->conn), WS_OK); /* now, not at the cut */
        }
    }
    if (rc != K_OK) {
        c->decode_errors++;
        return;
    }
    for (uint32_t i = 0; i < n; i++) {
        feed_event *ev = &c->evs[i];
        ev->venue = c->venue;
        ev->recv_ns = it->recv_ns;
        if (ev->kind == FEED_TRADE) {
            if (active)
                c->trades++;
        } else if (ev->kind == FEED_KLINE) {
            c->klines++;
            const feed_event *k = ev;
            if (k->u.kline.l > K_MIN(k->u.kline.o, k->u.kline.c) ||
                k->u.kline.h < K_MAX(k->u.kline.o, k->u.kline.c) ||
                k->u.kline.close_ms != k->u.kline.open_ms + 59999 ||
                k->u.kline.open_ms < c->last_kline_open)
                c->klines_bad++;
            c->last_kline_open = k->u.kline.open_ms;
            c->klines_closed += k->u.kline.closed;
        } else if (ev->kind == FEED_DEPTH_SNAPSHOT) {
            c->pushed_snapshots++;
            client_on_snapshot(fd, ev);
        } else if (ev->kind == FEED_DEPTH_DIFF) {
            enum book_result r = book_on_diff(fd->b, ev);
            if (r == BOOK_GAP) {
                c->gaps++;
                if (c->rotations > 0)
                    c->rotation_gaps++;
                client_fetch(fd);
            } else if (r == BOOK_BUFFERED && !fd->fetching && !fd->retry_timer) {
                client_fetch(fd);
            }
        }
    }
}

static void client_on_net(loop *l, int fd, unsigned events, void *ud)
{
    (void)l;
    (void)fd;
    (void)events;
    client *c = ud;
    ws_drain(c->net, 4096, client_on_item, c);
}

static bool client_init(client *c, loop *l, const fake *f, enum venue v, const char *sym,
                        const char *ws_path, const char *rest_path, const ws_opts *o,
                        const char *ca, uint32_t queue_bytes)
{
    memset(c, 0, sizeof *c);
    c->l = l;
    c->f = f;
    c->venue = v;
    c->o = *o;
    snprintf(c->sym, sizeof c->sym, "%s", sym);
    snprintf(c->rest_url, sizeof c->rest_url, "%s%s", f->http, rest_path);
    snprintf(c->ws_url, sizeof c->ws_url, "%s%s", f->ws, ws_path);
    c->lv = malloc(LV_CAP * sizeof *c->lv);
    enum book_rules rules = v == VENUE_BINANCE_SPOT   ? BOOK_RULES_BINANCE_SPOT
                            : v == VENUE_BINANCE_USDM ? BOOK_RULES_BINANCE_USDM
                                                      : BOOK_RULES_OKX;
    for (int i = 0; i < 2; i++) {
        c->fd[i].c = c;
        c->fd[i].b = book_new(rules, 5000, 4096);
    }
    client_sync_active(c);
    ws_net_opts no = {.ca_file = ca, .queue_bytes = queue_bytes};
    enum ws_result wr;
    c->net = ws_net_new(&no, &wr);
    CHECK(c->net != NULL);
    if (!c->net)
        return false;
    http_opts ho = {.ca_file = ca, .timeout_ms = 2000};
    c->http = http_new(l, &ho);
    CHECK_INT(loop_watch(l, ws_net_fd(c->net), LOOP_READ, client_on_net, c), K_OK);
    char err[256];
    enum ws_result r = ws_open(c->net, c->ws_url, o, &c->fd[0].conn, err, sizeof err);
    CHECK_INT(r, WS_OK);
    if (r != WS_OK)
        fprintf(stderr, "ws_open: %s\n", err);
    client_sync_active(c);
    return r == WS_OK;
}

static void client_free(client *c)
{
    if (c->net) {
        loop_unwatch(c->l, ws_net_fd(c->net));
        ws_net_free(c->net);
    }
    http_free(c->http); /* first: its cancelled callbacks may arm the retry timers */
    for (int i = 0; i < 2; i++) {
        if (c->fd[i].retry_timer)
            loop_timer_cancel(c->l, c->fd[i].retry_timer);
        book_free(c->fd[i].b);
    }
    free(c->lv);
}

static ws_stats client_stats(client *c)
{
    ws_stats s;
    memset(&s, 0, sizeof s);
    CHECK_INT(ws_get_stats(c->net, c->conn, &s), WS_OK);
    return s;
}

/* the active feed, for callers outside the client */
static void client_fetch_active(client *c)
{
    client_fetch(&c->fd[c->act]);
}

typedef bool (*pred_fn)(client *c, void *arg);

/* Runs the loop until pred holds or timeout_ms passes (a bounded poll, 20 ms per turn). */
static bool run_until(client *c, int64_t timeout_ms, pred_fn pred, void *arg)
{
    int64_t end = loop_mono_ms() + timeout_ms;
    while (loop_mono_ms() < end) {
        if (pred(c, arg))
            return true;
        loop_once(c->l, 20);
    }
    return pred(c, arg);
}

static bool p_live(client *c, void *arg)
{
    (void)arg;
    return book_is_live(c->b);
}

static bool p_gap_resynced(client *c, void *arg)
{
    return c->gaps > *(int *)arg && book_is_live(c->b) && c->snap_ok > *((int *)arg + 1);
}

static bool p_errors(client *c, void *arg)
{
    ws_stats s;
    if (ws_get_stats(c->net, c->conn, &s) != WS_OK)
        return false;
    return c->decode_errors >= *(int *)arg && s.oversize >= 1;
}

static bool p_reconnected(client *c, void *arg)
{
    return c->opens > *(int *)arg && book_is_live(c->b);
}

static bool p_stalled(client *c, void *arg)
{
    ws_stats s;
    if (ws_get_stats(c->net, c->conn, &s) != WS_OK)
        return false;
    return s.stalls > (uint64_t)*(int *)arg && c->opens > *((int *)arg + 1) && book_is_live(c->b);
}

static bool p_rate(client *c, void *arg)
{
    (void)arg;
    ws_stats s;
    return ws_get_stats(c->net, c->conn, &s) == WS_OK && s.msgs_per_s > 100;
}

/* The tape is over and our book has applied its last diff. */
static bool p_tape_done(client *c, void *arg)
{
    (void)arg;
    static int64_t last_check;
    int64_t now = loop_mono_ms();
    if (now - last_check < 100 || !book_is_live(c->b))
        return false;
    last_check = now;
    cJSON *st = fake_get(c->f, "/_fake/status");
    bool done = false;
    if (st) {
        char key[64];
        snprintf(key, sizeof key, "%s:%s", venue_name(c->venue), c->sym);
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItem(st, "tapes"), key);
        const cJSON *idv = t ? cJSON_GetObjectItem(t, c->venue == VENUE_OKX ? "seq" : "last_id")
                             : NULL;
        if (idv)
            done = cJSON_IsTrue(cJSON_GetObjectItem(t, "done")) &&
                   book_last_id(c->b) == (int64_t)idv->valuedouble;
    }
    cJSON_Delete(st);
    return done;
}

/* Our book against the fake's authoritative one, top `depth` levels per side, exact. */
static void compare_books(client *c, int depth)
{
    char path[200];
    snprintf(path, sizeof path, "/_fake/book?venue=%s&symbol=%s&depth=%d", venue_name(c->venue),
             c->sym, depth);
    cJSON *j = fake_get(c->f, path);
    CHECK(j != NULL);
    if (!j)
        return;
    CHECK(book_is_live(c->b));
    const char *sides[2] = {"bids", "asks"};
    int mismatches = 0, compared = 0;
    for (int s = 0; s < 2; s++) {
        cJSON *arr = cJSON_GetObjectItem(j, sides[s]);
        int n = cJSON_GetArraySize(arr);
        CHECK(n >= depth / 2);
        for (int i = 0; i < n; i++) {
            cJSON *lvl = cJSON_GetArrayItem(arr, i);
            const char *ps = cJSON_GetArrayItem(lvl, 0)->valuestring;
            const char *qs = cJSON_GetArrayItem(lvl, 1)->valuestring;
            kdec px = 0, qty = 0, bp = -1, bq = -1;
            CHECK_INT(decimal_parse(ps, strlen(ps), &px), K_OK);
            CHECK_INT(decimal_parse(qs, strlen(qs), &qty), K_OK);
            if (book_level(c->b, (enum book_side)s, (uint32_t)i, &bp, &bq) != K_OK ||
                bp != px || bq != qty) {
                if (mismatches++ < 3)
                    fprintf(stderr, "%s %s level %d: ours %lld/%lld, fake %s/%s\n", c->sym,
                            sides[s], i, (long long)bp, (long long)bq, ps, qs);
            }
            compared++;
        }
    }
    CHECK_INT(mismatches, 0);
    CHECK(compared >= depth);
    /* the book was built by diffs after its last snapshot, not just copied from one */
    CHECK(book_last_id(c->b) != c->last_snap_id);
    cJSON_Delete(j);
}

/* ---------------------------------------------------------------------------------------- */
/* scenarios                                                                                  */

static void scenario_spot(void)
{
    fake f;
    const char *extra[] = {"--rate", "6000", "--preload", "binance-spot:BTCUSDT", NULL};
    CHECK(fake_start(&f, false, extra));
    if (!f.port) {
        fake_stop(&f);
        return;
    }
    loop *l = loop_new();
    client c;
    ws_opts o;
    ws_opts_default(&o, VENUE_BINANCE_SPOT);
    o.stall_ms = 3000; /* a loaded test machine may pause the fake for a second */
    o.backoff_min_ms = 100;
    o.backoff_max_ms = 1000;
    if (!client_init(&c, l, &f, VENUE_BINANCE_SPOT, "BTCUSDT",
                     "/stream?streams=btcusdt@depth@100ms/btcusdt@trade/btcusdt@bookTicker/"
                     "btcusdt@kline_1m",
                     "/api/v3/depth?symbol=BTCUSDT&limit=5000", &o, NULL, 0)) {
        client_free(&c);
        loop_free(l);
        fake_stop(&f);
        return;
    }
    CHECK(run_until(&c, 15000, p_live, NULL));
    CHECK_INT(c.opens, 1);

    /* a skipped diff: gap detected, counted, resynced from REST */
    int arg[2] = {c.gaps, c.snap_ok};
    uint64_t resyncs0 = book_get_stats(c.b)->resyncs;
    CHECK(fake_fault(&f, "type=gap&venue=binance-spot"));
    CHECK(run_until(&c, 5000, p_gap_resynced, arg));
    CHECK_INT(book_get_stats(c.b)->gaps, 1);
    CHECK_INT(book_get_stats(c.b)->resyncs, resyncs0 + 1);

    /* malformed JSON, invalid UTF-8 and a 16 MB frame: counted and dropped, the connection and
     * the book carry on */
    int de[1] = {c.decode_errors + 2};
    CHECK(fake_fault(&f, "type=malformed&venue=binance-spot"));
    CHECK(fake_fault(&f, "type=badutf8&venue=binance-spot"));
    CHECK(fake_fault(&f, "type=huge&venue=binance-spot"));
    CHECK(run_until(&c, 8000, p_errors, de));
    ws_stats s = client_stats(&c);
    CHECK_INT(s.oversize, 1);
    CHECK_INT(s.connects, 1);
    CHECK(book_is_live(c.b));

    /* REST 429 with Retry-After: 1: the resync waits out the pause, then succeeds */
    CHECK(fake_fault(&f, "type=http&status=429&secs=1&n=1&venue=binance-spot"));
    int64_t t0 = loop_mono_ms();
    arg[0] = c.gaps;
    arg[1] = c.snap_ok;
    CHECK(fake_fault(&f, "type=gap&venue=binance-spot"));
    CHECK(run_until(&c, 8000, p_gap_resynced, arg));
    http_venue_state vs;
    http_venue_state_get(c.http, VENUE_BINANCE_SPOT, &vs);
    CHECK_INT(vs.status_429, 1);
    CHECK(loop_mono_ms() - t0 >= 1000); /* Retry-After respected */
    CHECK(vs.used_weight > 0);          /* X-MBX-USED-WEIGHT-1M tracked */

    /* a stale snapshot (an old cache answer): refused as too old, fetched again, synced */
    CHECK(fake_fault(&f, "type=oldsnap&n=1&venue=binance-spot"));
    int old0 = c.snap_old;
    arg[0] = c.gaps;
    arg[1] = c.snap_ok;
    CHECK(fake_fault(&f, "type=gap&venue=binance-spot"));
    CHECK(run_until(&c, 8000, p_gap_resynced, arg));
    CHECK_INT(c.snap_old, old0 + 1);

    /* a REST answer slower than our 2 s timeout: timed out, retried, synced */
    CHECK(fake_fault(&f, "type=slow&secs=3&n=1&venue=binance-spot"));
    arg[0] = c.gaps;
    arg[1] = c.snap_ok;
    CHECK(fake_fault(&f, "type=gap&venue=binance-spot"));
    CHECK(run_until(&c, 10000, p_gap_resynced, arg));
    CHECK_INT(c.timeouts, 1);

    /* a dropped connection: reconnect with backoff, book invalidated and resynced */
    int op[2] = {c.opens, 0};
    CHECK(fake_fault(&f, "type=drop&venue=binance-spot"));
    CHECK(run_until(&c, 8000, p_reconnected, op));
    s = client_stats(&c);
    CHECK(s.disconnects >= 1);
    CHECK_INT(s.connects, 2);

    /* a stall: the fake keeps the socket open but sends nothing; detected after stall_ms */
    int st[2] = {(int)s.stalls, c.opens};
    int64_t t1 = loop_mono_ms();
    CHECK(fake_fault(&f, "type=stall&secs=60&venue=binance-spot"));
    CHECK(run_until(&c, 8000, p_stalled, st));
    CHECK(loop_mono_ms() - t1 >= 2900);
    s = client_stats(&c);
    CHECK_INT(s.stalls, 1);

    /* serverShutdown: we reconnect at once */
    op[0] = c.opens;
    CHECK(fake_fault(&f, "type=shutdown&venue=binance-spot"));
    CHECK(run_until(&c, 8000, p_reconnected, op));
    CHECK_INT(c.shutdowns, 1);

    /* clock skew: the server time is 1500 ms ahead */
    CHECK(fake_fault(&f, "type=skew&ms=1500"));
    cJSON *tj = fake_get(&f, "/api/v3/time");
    int64_t local = loop_wall_ms();
    CHECK(tj != NULL);
    if (tj) {
        int64_t server = (int64_t)cJSON_GetObjectItem(tj, "serverTime")->valuedouble;
        CHECK(server - local > 1000 && server - local < 2500);
        cJSON_Delete(tj);
    }

    /* health while streaming: a message rate (after a full second open), a fresh message */
    CHECK(run_until(&c, 3000, p_rate, NULL));
    s = client_stats(&c);
    CHECK_STR(ws_state_name(s.state), "open");
    CHECK(s.msgs_per_s > 100);
    CHECK(loop_mono_ms() - s.last_msg_ms < 1000);

    /* the end of the tape: our book equals the fake's */
    CHECK(run_until(&c, 60000, p_tape_done, NULL));
    compare_books(&c, 50);
    CHECK(c.trades > 1000);
    /* 1m klines (the fake's real octobot bars on the tape's minutes: the minute's bar pushed
     * as forming every 2 s, final when the next minute starts): sane, in order, a final one per
     * minute the tape crossed */
    CHECK(c.klines > c.klines_closed);
    CHECK(c.klines_closed >= 5);
    CHECK_INT(c.klines_bad, 0);
    s = client_stats(&c);
    fprintf(stderr, "spot: frames %d trades %d gaps %d snaps %d/%d old %d decode errors %d "
                    "connects %llu stalls %llu\n",
            c.frames, c.trades, c.gaps, c.snap_ok, c.snap_requests, c.snap_old, c.decode_errors,
            (unsigned long long)s.connects, (unsigned long long)s.stalls);
    client_free(&c);
    loop_free(l);
    fake_stop(&f);
}

static void scenario_usdm(void)
{
    fake f;
    const char *extra[] = {"--rate", "10000", "--max-lines", "30000", "--preload",
                           "binance-usdm:BTCUSDT", NULL};
    CHECK(fake_start(&f, false, extra));
    if (!f.port) {
        fake_stop(&f);
        return;
    }
    loop *l = loop_new();
    client c;
    ws_opts o;
    ws_opts_default(&o, VENUE_BINANCE_USDM);
    o.backoff_min_ms = 100;
    if (!client_init(&c, l, &f, VENUE_BINANCE_USDM, "BTCUSDT",
                     "/public/stream?streams=btcusdt@depth",
                     "/fapi/v1/depth?symbol=BTCUSDT&limit=1000", &o, NULL, 1u << 16)) {
        client_free(&c);
        loop_free(l);
        fake_stop(&f);
        return;
    }
    CHECK(run_until(&c, 15000, p_live, NULL));
    /* backpressure: the main loop does not drain for a while; the 64 KB ring fills to 3/4 and
     * the connection stops reading (its socket buffer fills, the fake waits) instead of dropping
     * messages; once drained it reads again. Bounded poll (10 s) on the counter. */
    ws_stats bp = client_stats(&c);
    uint64_t pauses0 = bp.rx_pauses;
    for (int i = 0; i < 1000 && bp.rx_pauses == pauses0; i++) {
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
        bp = client_stats(&c);
    }
    CHECK(bp.rx_pauses > pauses0);
    uint64_t msgs_paused = bp.msgs;
    /* 418 (banned) with Retry-After on the resync */
    CHECK(fake_fault(&f, "type=http&status=418&secs=1&n=1&venue=binance-usdm"));
    int arg[2] = {c.gaps, c.snap_ok};
    CHECK(fake_fault(&f, "type=gap&venue=binance-usdm"));
    CHECK(run_until(&c, 8000, p_gap_resynced, arg));
    http_venue_state vs;
    http_venue_state_get(c.http, VENUE_BINANCE_USDM, &vs);
    CHECK_INT(vs.status_418, 1);
    /* a 500: retried */
    CHECK(fake_fault(&f, "type=http&status=500&n=1&venue=binance-usdm"));
    arg[0] = c.gaps;
    arg[1] = c.snap_ok;
    CHECK(fake_fault(&f, "type=gap&venue=binance-usdm"));
    CHECK(run_until(&c, 8000, p_gap_resynced, arg));
    CHECK_INT(c.http_status_err, 1);
    CHECK(run_until(&c, 30000, p_tape_done, NULL));
    compare_books(&c, 50);
    bp = client_stats(&c);
    CHECK(bp.msgs > msgs_paused); /* it read again */
    CHECK_INT(bp.queue_drops, 0); /* paused, never dropped */
    client_free(&c);
    loop_free(l);
    fake_stop(&f);
}

typedef struct candle_req {
    bool done, descending;
    uint32_t n;
    int64_t first_open;
    kdec first_close;
} candle_req;

static void on_candles(void *ud, const http_response *r)
{
    candle_req *cr = ud;
    static feed_event ev[400];
    const char *why = NULL;
    cr->done = true;
    CHECK_INT(r->result, HTTP_OK);
    CHECK_INT(r->status, 200);
    if (okx_decode_candles(r->body, r->len, "BTC-USDT", "1m", ev, 400, &cr->n, &why) != K_OK) {
        fprintf(stderr, "candles: %s\n", why);
        return;
    }
    cr->descending = cr->n > 1;
    for (uint32_t i = 1; i < cr->n; i++)
        if (ev[i].u.kline.open_ms >= ev[i - 1].u.kline.open_ms)
            cr->descending = false;
    if (cr->n) {
        cr->first_open = ev[0].u.kline.open_ms;
        cr->first_close = ev[0].u.kline.c;
    }
}

static bool p_pushed(client *c, void *arg)
{
    return c->pushed_snapshots > *(int *)arg && c->opens > *((int *)arg + 1) &&
           book_is_live(c->b);
}

static void scenario_okx_tls(void)
{
    fake f;
    const char *extra[] = {"--rate", "10000", "--max-lines", "40000", "--preload",
                           "okx:BTC-USDT-SWAP", NULL};
    CHECK(fake_start(&f, true, extra));
    if (!f.port) {
        fake_stop(&f);
        return;
    }
    loop *l = loop_new();

    /* without the test CA: the fake's certificate is not trusted, nothing connects */
    {
        client bad;
        ws_opts o;
        ws_opts_default(&o, VENUE_OKX);
        o.backoff_min_ms = 100;
        if (client_init(&bad, l, &f, VENUE_OKX, "BTC-USDT-SWAP", "/ws/v5/public",
                        "/api/v5/market/books?instId=BTC-USDT-SWAP&sz=400", &o, NULL, 0)) {
            client_fetch_active(&bad);
            int64_t end = loop_mono_ms() + 1500;
            while (loop_mono_ms() < end)
                loop_once(l, 20);
            ws_stats s = client_stats(&bad);
            CHECK_INT(s.connects, 0);
            CHECK(s.failures >= 1);
            CHECK_INT(bad.opens, 0);
            CHECK_INT(bad.snap_ok, 0);
            CHECK(bad.http_fail >= 1);
        }
        client_free(&bad);
    }

    client c;
    ws_opts o;
    ws_opts_default(&o, VENUE_OKX);
    o.backoff_min_ms = 100;
    o.stall_ms = 3000;
    if (!client_init(&c, l, &f, VENUE_OKX, "BTC-USDT-SWAP", "/ws/v5/public",
                     "/api/v5/market/books?instId=BTC-USDT-SWAP&sz=400", &o, f.ca, 0)) {
        client_free(&c);
        loop_free(l);
        fake_stop(&f);
        return;
    }
    CHECK(run_until(&c, 15000, p_live, NULL));
    CHECK_INT(c.pushed_snapshots, 0); /* production 2026: no snapshot push, REST path */
    CHECK(c.snap_ok >= 1);

    /* candle history over https (the fake serves octobot's real 1m bars), newest first */
    {
        char url[300];
        snprintf(url, sizeof url, "%s/api/v5/market/candles?instId=BTC-USDT&bar=1m&limit=100",
                 f.http);
        candle_req cr = {0};
        CHECK_INT(http_get(c.http, VENUE_OKX, url, 1, on_candles, &cr, NULL), HTTP_OK);
        int64_t until = loop_mono_ms() + 5000;
        while (!cr.done && loop_mono_ms() < until)
            loop_once(l, 20);
        CHECK(cr.done);
        CHECK_INT(cr.n, 100);
        CHECK_INT(cr.first_open, 1524910440000); /* the file's last bar */
        CHECK_INT(cr.first_close, 926685000000); /* 9266.85 */
        CHECK(cr.descending);
    }

    /* maintenance reset: seqId drops below prevSeqId, accepted, no gap */
    int gaps0 = c.gaps;
    int64_t id0 = book_last_id(c.b);
    CHECK(fake_fault(&f, "type=okxreset"));
    int64_t end = loop_mono_ms() + 3000;
    while (loop_mono_ms() < end && book_last_id(c.b) >= id0)
        loop_once(l, 20);
    CHECK(book_last_id(c.b) < id0);
    CHECK_INT(c.gaps, gaps0);
    CHECK(book_is_live(c.b));

    /* a gap: resynced from the REST snapshot; the first answer is stale (refused, refetched) */
    int arg[2] = {c.gaps, c.snap_ok};
    int old0 = c.snap_old;
    CHECK(fake_fault(&f, "type=oldsnap&n=1&venue=okx"));
    CHECK(fake_fault(&f, "type=gap&venue=okx"));
    CHECK(run_until(&c, 8000, p_gap_resynced, arg));
    CHECK_INT(c.snap_old, old0 + 1);

    /* the pushed-snapshot path: the fake pushes one on subscribe after a reconnect */
    CHECK(fake_fault(&f, "type=okxsnapshot&on=1"));
    int pa[2] = {c.pushed_snapshots, c.opens};
    CHECK(fake_fault(&f, "type=drop&venue=okx"));
    CHECK(run_until(&c, 8000, p_pushed, pa));

    /* notice 64008 (service upgrade): seen, and the fake's close is healed */
    int op[2] = {c.opens, 0};
    CHECK(fake_fault(&f, "type=shutdown&venue=okx"));
    CHECK(run_until(&c, 8000, p_reconnected, op));
    CHECK_INT(c.shutdowns, 1);

    CHECK(run_until(&c, 30000, p_tape_done, NULL));
    compare_books(&c, 50);
    CHECK(c.trades > 100);
    fprintf(stderr, "okx: frames %d trades %d gaps %d snaps %d pushed %d decode errors %d\n",
            c.frames, c.trades, c.gaps, c.snap_ok, c.pushed_snapshots, c.decode_errors);
    client_free(&c);
    loop_free(l);
    fake_stop(&f);
}

/* 24 h rotation, shortened: the fake cuts every connection 6 s after it opened; we rotate at
 * 2 s (make-before-break: the successor is synced before the old connection closes), so no
 * connection is ever cut by the server, no book ever gaps, and the final book is exact. */
static bool p_rotated(client *c, void *arg)
{
    return c->rotations >= *(int *)arg;
}

static void scenario_rotation(void)
{
    fake f;
    const char *extra[] = {"--rate", "4000", "--max-lines", "60000", "--conn-lifetime", "6",
                           "--preload", "binance-spot:ETHUSDT", NULL};
    CHECK(fake_start(&f, false, extra));
    if (!f.port) {
        fake_stop(&f);
        return;
    }
    loop *l = loop_new();
    client c;
    ws_opts o;
    ws_opts_default(&o, VENUE_BINANCE_SPOT);
    o.lifetime_ms = 2000;
    o.rotate_grace_ms = 3000;
    o.backoff_min_ms = 100;
    if (!client_init(&c, l, &f, VENUE_BINANCE_SPOT, "ETHUSDT",
                     "/stream?streams=ethusdt@depth@100ms/ethusdt@trade",
                     "/api/v3/depth?symbol=ETHUSDT&limit=5000", &o, NULL, 0)) {
        client_free(&c);
        loop_free(l);
        fake_stop(&f);
        return;
    }
    CHECK(run_until(&c, 15000, p_live, NULL));
    int want = 3;
    CHECK(run_until(&c, 20000, p_rotated, &want));
    CHECK(run_until(&c, 30000, p_tape_done, NULL));
    CHECK(c.rotations >= 3);
    CHECK_INT(c.closes, 0);        /* the server never had to cut one */
    CHECK_INT(c.gaps, 0);          /* no diff missed across the switches */
    ws_stats s = client_stats(&c);
    CHECK_INT(s.forced_rotations, 0);
    CHECK_INT(s.connects, 1);      /* the active connection is the latest successor */
    compare_books(&c, 50);
    fprintf(stderr, "rotation: %d rotations, %d snapshots, %d gaps\n", c.rotations, c.snap_ok,
            c.gaps);
    client_free(&c);
    loop_free(l);
    fake_stop(&f);
}

static void scenario_refuse(void)
{
    enum ws_result e;
    ws_net *n = ws_net_new(NULL, &e);
    CHECK(n != NULL);
    if (!n)
        return;
    uint32_t id = 0;
    char err[256];
    ws_opts o;
    ws_opts_default(&o, VENUE_BINANCE_SPOT);
    CHECK_INT(ws_open(n, "ws://10.0.0.1:9443/ws/btcusdt@trade", &o, &id, err, sizeof err),
              WS_ERR_INSECURE);
    CHECK(strstr(err, "10.0.0.1") != NULL);
    CHECK(strstr(err, "loopback") != NULL);
    CHECK_INT(ws_open(n, "ws://stream.binance.com:9443/ws", &o, &id, err, sizeof err),
              WS_ERR_INSECURE);
    CHECK_INT(ws_open(n, "ftp://127.0.0.1/", &o, &id, err, sizeof err), WS_ERR_URL);
    CHECK_INT(ws_open(n, "https://127.0.0.1/", &o, &id, err, sizeof err), WS_ERR_URL);
    CHECK_INT(ws_open(n, "ws://127.0.0.1:0/", &o, &id, err, sizeof err), WS_ERR_URL);
    CHECK_INT(ws_open(n, "ws://[::1]:1/x", &o, &id, err, sizeof err), WS_OK);
    CHECK_INT(ws_close(n, id), WS_OK);
    ws_url u;
    CHECK_INT(ws_url_parse("wss://stream.binance.com:9443/stream?streams=a/b", &u, err,
                           sizeof err),
              WS_OK);
    CHECK_STR(u.host, "stream.binance.com");
    CHECK_INT(u.port, 9443);
    CHECK_STR(u.path, "/stream?streams=a/b");
    CHECK(u.tls);
    CHECK_INT(ws_url_parse("wss://ws.okx.com", &u, err, sizeof err), WS_OK);
    CHECK_STR(u.path, "/");
    CHECK_INT(u.port, 443);
    CHECK(ws_host_is_loopback("127.3.4.5"));
    CHECK(!ws_host_is_loopback("127.0.0.1.evil.com"));
    CHECK(!ws_host_is_loopback("128.0.0.1"));
    ws_net_free(n);

    loop *l = loop_new();
    http_client *h = http_new(l, NULL);
    CHECK_INT(http_get(h, VENUE_BINANCE_SPOT, "http://api.binance.com/api/v3/ping", 1, NULL,
                       NULL, NULL),
              HTTP_ERR_INSECURE);
    CHECK_INT(http_get(h, VENUE_BINANCE_SPOT, "wss://api.binance.com/", 1, NULL, NULL, NULL),
              HTTP_ERR_URL);
    http_free(h);
    loop_free(l);

    /* backoff: doubling to the cap */
    ws_opts_default(&o, VENUE_OKX);
    o.backoff_min_ms = 250;
    o.backoff_max_ms = 30000;
    CHECK_INT(ws_backoff_ms(&o, 0), 250);
    CHECK_INT(ws_backoff_ms(&o, 3), 2000);
    CHECK_INT(ws_backoff_ms(&o, 40), 30000);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    scenario_refuse();
    scenario_spot();
    scenario_usdm();
    scenario_okx_tls();
    scenario_rotation();
    curl_global_cleanup();
    CHECK_DONE();
}
