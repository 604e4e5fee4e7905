/* Live market data end to end against the fake exchange (tests/fake/fake_exchange.py, started
 * and stopped here on loopback), through the product's own code path: live_open (live.h) with
 * a market and the ingest pipeline, exactly as the app wires them. The net thread (ws.c), REST
 * over curl multi (http.c), the decoders, the ingest pipeline and the book sync recipe of
 * live.c (a diff buffered by a book that is not live -> REST snapshot; too old -> again; a gap
 * -> again, counted; a (re)connect -> invalidated and synced again; rotation make-before-break;
 * Binance streams past the URL's room SUBSCRIBEd) are all the real ones, so a change of the
 * recipe is tested here. Only the public API's counters (live_conn_get, live_book_get,
 * live_rest_get), the pipeline's and the market's books are read.
 *
 * Scenarios (each on its own fake, real captures streamed from ../shared/data):
 *   spot   Binance spot BTCUSDT over ws:// + http://: sync, then one fault at a time with
 *          recovery and counters: sequence gap, malformed JSON, invalid UTF-8, a 16 MB frame,
 *          a stale REST snapshot (refused, fetched again), a dropped connection, a stall,
 *          serverShutdown (REST 418 + Retry-After: usdm; 429: live_health.sh); at the end of
 *          the tape the book equals the fake's authoritative book (top 50 levels, exact); final
 *          klines of every streamed timeframe (1m .. 1d: the tape crosses 00:00).
 *   usdm   Binance USD-M BTCUSDT on /public + /market through a 256 KB inbound ring (records
 *          wrap around it all the time), with a 418 and a 500: same final check.
 *   okx    OKX BTC-USDT-SWAP over wss:// + https:// with a test CA made here: subscribe, REST
 *          snapshot sync, maintenance reset, gap, then the pushed-snapshot path after a drop;
 *          final check; and the same fake refused without the CA (verification is never off).
 *   rotate Binance spot ETHUSDT with the 24 h cut shortened to 6 s: make-before-break rotation
 *          every 2 s, no server cut, no gap, exact final book.
 *   many   100 USD-M symbols (the fake's aliases of the real capture) on one /public and one
 *          /market connection: the streams past WS_URL_MAX go in SUBSCRIBE messages (at most 4
 *          a second; the documented limit is 10, spot's 5, and the fake enforces it), each
 *          acknowledged in the real wire format; every book live; a subscribed-only book exact.
 *   refuse plain ws:// and http:// to a non-loopback host are refused with a clear message.
 * Needs python3 with websockets (Debian python3-websockets; tools/deps.sh test). */
#include "check.h"

#include "kestrel/book.h"
#include "kestrel/config.h"
#include "kestrel/decimal.h"
#include "kestrel/http.h"
#include "kestrel/ingest.h"
#include "kestrel/live.h"
#include "kestrel/loop.h"
#include "kestrel/market.h"
#include "kestrel/okx.h"
#include "kestrel/ws.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>


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
/* a session: the product's live module on its own loop, market and pipeline                 */

typedef struct session {
    kconfig cfg;
    loop *l;
    market *m;
    ingest *ing;
    klive *lv;
    klog *log; /* KESTREL_TEST_LOG=FILE: the live module's log, for a failure's post-mortem */
    const fake *f;
} session;

typedef void (*cfg_fn)(kconfig *cfg, const fake *f);

/* live_open over the watch list against the fake (every venue's REST and websocket bases are
 * the fake's; with TLS the test CA). No kline backfill, no instruments: the book path. */
static bool session_open(session *s, const fake *f, const char *const *watch, cfg_fn tweak,
                         uint32_t queue_bytes)
{
    memset(s, 0, sizeof *s);
    s->f = f;
    config_defaults(&s->cfg);
    for (int i = 0; watch[i] && i < CONFIG_MAX_WATCH; i++)
        snprintf(s->cfg.watch[s->cfg.watch_count++], CONFIG_WATCH_MAX, "%s", watch[i]);
    for (int v = 0; v < VENUE_COUNT; v++) {
        kconfig_venue *vc = &s->cfg.venues[v];
        snprintf(vc->rest_url, sizeof vc->rest_url, "%s", f->http);
        snprintf(vc->ws_url, sizeof vc->ws_url, "%s", f->ws);
        if (f->tls)
            snprintf(vc->ca_file, sizeof vc->ca_file, "%s", f->ca);
    }
    s->cfg.health_stall_factor = 30; /* book streams: 3 s (a loaded machine pauses the fake) */
    if (tweak)
        tweak(&s->cfg, f);
    s->l = loop_new();
    s->m = market_new(&s->cfg.limits);
    /* the captures' own (2024) exchange times: the skew guard is for live venues */
    ingest_opts io = {.grace_ms = s->cfg.limits.bar_grace_ms, .max_skew_ms = INT64_MAX / 4};
    s->ing = ingest_new(s->m, NULL, &io);
    const char *lp = getenv("KESTREL_TEST_LOG");
    char lerr[200];
    if (lp && lp[0])
        s->log = log_open(lp, false, LOG_DEBUG, lerr, sizeof lerr);
    live_opts lo = {.loop = s->l, .ingest = s->ing, .market = s->m, .cfg = &s->cfg,
                    .log = s->log, .no_backfill = true, .queue_bytes = queue_bytes};
    char err[512];
    enum live_result r = live_open(&s->lv, &lo, err, sizeof err);
    CHECK_INT(r, LIVE_OK);
    if (r != LIVE_OK)
        fprintf(stderr, "live_open: %s\n", err);
    return r == LIVE_OK;
}

static void session_close(session *s)
{
    live_close(s->lv);
    ingest_free(s->ing);
    market_free(s->m);
    loop_free(s->l);
    log_close(s->log);
}

static book *session_book(session *s, enum venue v, const char *sym)
{
    market_sym *ms = market_find(s->m, v, sym);
    return ms ? ms->book : NULL;
}

/* The watched book i (live_book_get), zeroed when absent. */
static live_book_info session_bi(session *s, size_t i)
{
    live_book_info bi;
    memset(&bi, 0, sizeof bi);
    CHECK_INT(live_book_get(s->lv, i, &bi), K_OK);
    return bi;
}

/* The connection labelled `label` ("binance-spot books", "binance-usdm market", ...). */
static live_conn_info session_conn(session *s, const char *label)
{
    live_conn_info ci;
    for (size_t i = 0; i < live_conn_count(s->lv); i++)
        if (live_conn_get(s->lv, i, &ci) == K_OK && strcmp(ci.label, label) == 0)
            return ci;
    memset(&ci, 0, sizeof ci);
    CHECK(!"no such connection");
    return ci;
}

/* every connection's message counters added up (the inbound ring is the net thread's, shared) */
static live_conn_info session_conn_sum(session *s)
{
    live_conn_info sum;
    memset(&sum, 0, sizeof sum);
    for (size_t i = 0; i < live_conn_count(s->lv); i++) {
        live_conn_info ci;
        if (live_conn_get(s->lv, i, &ci) != K_OK)
            continue;
        sum.msgs += ci.msgs;
        sum.queue_drops += ci.queue_drops;
        sum.rx_pauses += ci.rx_pauses;
    }
    return sum;
}

typedef bool (*pred_fn)(session *s, void *arg);

/* Runs the loop until pred holds or timeout_ms passes (a bounded poll, 20 ms per turn). */
static bool run_until(session *s, int64_t timeout_ms, pred_fn pred, void *arg)
{
    int64_t end = loop_mono_ms() + timeout_ms;
    while (loop_mono_ms() < end) {
        if (pred(s, arg))
            return true;
        loop_once(s->l, 20);
    }
    return pred(s, arg);
}

static bool p_all_live(session *s, void *arg)
{
    (void)arg;
    return live_all_books_live(s->lv);
}

/* arg: {gaps, snapshots} of book 0 before the fault */
static bool p_gap_resynced(session *s, void *arg)
{
    const uint64_t *a = arg;
    live_book_info bi = session_bi(s, 0);
    return bi.gaps > a[0] && bi.snapshots > a[1] && live_all_books_live(s->lv);
}

typedef struct conn_arg {
    const char *label;
    uint64_t value;
} conn_arg;

static bool p_reconnected(session *s, void *arg)
{
    conn_arg *a = arg;
    return session_conn(s, a->label).reconnects > a->value && live_all_books_live(s->lv);
}

static bool p_oversize(session *s, void *arg)
{
    conn_arg *a = arg;
    return session_conn(s, a->label).oversize > a->value;
}

static bool p_data_stalled(session *s, void *arg)
{
    conn_arg *a = arg;
    live_conn_info ci = session_conn(s, a->label);
    return ci.data_stalls > a->value && strcmp(ci.state, "open") == 0 &&
           live_all_books_live(s->lv);
}

static bool p_rate(session *s, void *arg)
{
    conn_arg *a = arg;
    return session_conn(s, a->label).msgs_per_s > 100;
}

static bool p_rotated(session *s, void *arg)
{
    conn_arg *a = arg;
    return session_conn(s, a->label).rotations >= a->value;
}

typedef struct tape_arg {
    enum venue venue;
    const char *sym;
    int64_t last_check;
} tape_arg;

/* The tape is over and our book has applied its last diff. */
static bool p_tape_done(session *s, void *arg)
{
    tape_arg *t = arg;
    int64_t now = loop_mono_ms();
    book *b = session_book(s, t->venue, t->sym);
    if (now - t->last_check < 100 || !b || !book_is_live(b))
        return false;
    t->last_check = now;
    cJSON *st = fake_get(s->f, "/_fake/status");
    bool done = false;
    if (st) {
        char key[64];
        snprintf(key, sizeof key, "%s:%s", venue_name(t->venue), t->sym);
        const cJSON *tp = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItem(st, "tapes"), key);
        const cJSON *idv = tp ? cJSON_GetObjectItem(tp, t->venue == VENUE_OKX ? "seq"
                                                                               : "last_id")
                              : NULL;
        if (idv)
            done = cJSON_IsTrue(cJSON_GetObjectItem(tp, "done")) &&
                   book_last_id(b) == (int64_t)idv->valuedouble;
    }
    cJSON_Delete(st);
    return done;
}

/* Our book against the fake's authoritative one, top `depth` levels per side, exact. */
static void compare_books(session *s, enum venue v, const char *sym, int depth)
{
    char path[200];
    snprintf(path, sizeof path, "/_fake/book?venue=%s&symbol=%s&depth=%d", venue_name(v), sym,
             depth);
    cJSON *j = fake_get(s->f, path);
    book *b = session_book(s, v, sym);
    CHECK(j != NULL);
    CHECK(b != NULL);
    if (!j || !b) {
        cJSON_Delete(j);
        return;
    }
    CHECK(book_is_live(b));
    const char *sides[2] = {"bids", "asks"};
    int mismatches = 0, compared = 0;
    for (int sd = 0; sd < 2; sd++) {
        cJSON *arr = cJSON_GetObjectItem(j, sides[sd]);
        int n = cJSON_GetArraySize(arr);
        CHECK(n >= depth / 2);
        for (int i = 0; i < n; i++) {
            cJSON *lvl = cJSON_GetArrayItem(arr, i);
            const char *ps = cJSON_GetArrayItem(lvl, 0)->valuestring;
            const char *qs = cJSON_GetArrayItem(lvl, 1)->valuestring;
            kdec px = 0, qty = 0, bp = -1, bq = -1;
            CHECK_INT(decimal_parse(ps, strlen(ps), &px), K_OK);
            CHECK_INT(decimal_parse(qs, strlen(qs), &qty), K_OK);
            if (book_level(b, (enum book_side)sd, (uint32_t)i, &bp, &bq) != K_OK || bp != px ||
                bq != qty) {
                if (mismatches++ < 3)
                    fprintf(stderr, "%s %s level %d: ours %lld/%lld, fake %s/%s\n", sym,
                            sides[sd], i, (long long)bp, (long long)bq, ps, qs);
            }
            compared++;
        }
    }
    CHECK_INT(mismatches, 0);
    CHECK(compared >= depth);
    /* the book was built by diffs after its last snapshot, not just copied from one */
    CHECK_INT(book_get_stats(b)->diffs_applied > 0, 1);
    cJSON_Delete(j);
}

/* ---------------------------------------------------------------------------------------- */
/* scenarios                                                                                  */

static void scenario_spot(void)
{
    fake f;
    const char *extra[] = {"--rate", "800", "--preload", "binance-spot:BTCUSDT", NULL};
    CHECK(fake_start(&f, false, extra));
    if (!f.port) {
        fake_stop(&f);
        return;
    }
    session s;
    const char *watch[] = {"binance-spot:BTCUSDT", NULL};
    const char *L = "binance-spot books";
    if (!session_open(&s, &f, watch, NULL, 0)) {
        session_close(&s);
        fake_stop(&f);
        return;
    }
    CHECK(run_until(&s, 15000, p_all_live, NULL));
    /* the fake's exchangeInfo is a real recorded one: REQUEST_WEIGHT 1200 a minute, so after
     * three depth snapshots (weight 250 each) the next waits for the venue's next minute (the
     * tracker keeps 20 % in reserve): the waits below allow for that */
    CHECK_INT(session_conn(&s, L).reconnects, 0);
    CHECK_INT(session_bi(&s, 0).snapshots, 1);

    /* a skipped diff: gap detected, counted, resynced from REST */
    uint64_t arg[2] = {session_bi(&s, 0).gaps, session_bi(&s, 0).snapshots};
    uint64_t resyncs0 = session_bi(&s, 0).resyncs;
    CHECK(fake_fault(&f, "type=gap&venue=binance-spot"));
    CHECK(run_until(&s, 5000, p_gap_resynced, arg));
    CHECK_INT(session_bi(&s, 0).gaps, 1);
    CHECK_INT(session_bi(&s, 0).resyncs, resyncs0 + 1);

    /* malformed JSON, invalid UTF-8 and a 6 MB frame (1.5 x the 4 MB max_frame): counted and
     * dropped, the connection and the book carry on (16 MB took the loaded Python fake and
     * the net thread over the stream's 3 s stall threshold, and the reconnect came first) */
    conn_arg ov = {L, session_conn(&s, L).oversize};
    uint64_t malformed0 = ingest_get_stats(s.ing)->venue[VENUE_BINANCE_SPOT].malformed;
    CHECK(fake_fault(&f, "type=malformed&venue=binance-spot"));
    CHECK(fake_fault(&f, "type=badutf8&venue=binance-spot"));
    CHECK(fake_fault(&f, "type=huge&venue=binance-spot&bytes=6291456"));
    CHECK(run_until(&s, 20000, p_oversize, &ov));
    CHECK_INT(session_conn(&s, L).oversize, 1);
    CHECK(ingest_get_stats(s.ing)->venue[VENUE_BINANCE_SPOT].malformed >= malformed0 + 1);
    CHECK_INT(session_conn(&s, L).reconnects, 0);
    CHECK(live_all_books_live(s.lv));

    /* a stale snapshot (an old cache answer): refused as too old, fetched again, synced */
    CHECK(fake_fault(&f, "type=oldsnap&n=1&venue=binance-spot"));
    uint64_t old0 = session_conn(&s, L).snapshots_old;
    arg[0] = session_bi(&s, 0).gaps;
    arg[1] = session_bi(&s, 0).snapshots;
    CHECK(fake_fault(&f, "type=gap&venue=binance-spot"));
    CHECK(run_until(&s, 75000, p_gap_resynced, arg));
    CHECK_INT(session_conn(&s, L).snapshots_old, old0 + 1);

    /* a dropped connection: reconnect with backoff, book invalidated and resynced */
    conn_arg op = {L, session_conn(&s, L).reconnects};
    CHECK(fake_fault(&f, "type=drop&venue=binance-spot"));
    CHECK(run_until(&s, 75000, p_reconnected, &op));
    CHECK_INT(session_conn(&s, L).reconnects, 1);

    /* a stall: the fake keeps the socket open but sends nothing; detected after the health
     * threshold (30 x 100 ms), reconnected, synced again */
    conn_arg st = {L, session_conn(&s, L).data_stalls};
    int64_t t1 = loop_mono_ms();
    CHECK(fake_fault(&f, "type=stall&secs=60&venue=binance-spot"));
    int64_t tw = loop_mono_ms();
    CHECK(run_until(&s, 75000, p_data_stalled, &st));
    fprintf(stderr, "spot: stall detected and the book live again after %lld ms (%s, %s, "
            "%llu)\n", (long long)(loop_mono_ms() - tw), session_conn(&s, L).state,
            session_bi(&s, 0).state, (unsigned long long)session_conn(&s, L).data_stalls);
    CHECK(loop_mono_ms() - t1 >= 2900);
    CHECK_INT(session_conn(&s, L).data_stalls, 1);

    /* serverShutdown: we reconnect at once */
    op.value = session_conn(&s, L).reconnects;
    CHECK(fake_fault(&f, "type=shutdown&venue=binance-spot"));
    CHECK(run_until(&s, 75000, p_reconnected, &op));

    /* health while streaming: a message rate, a fresh message */
    conn_arg ra = {L, 0};
    CHECK(run_until(&s, 3000, p_rate, &ra));
    live_conn_info ci = session_conn(&s, L);
    CHECK_STR(ci.state, "open");
    CHECK(ci.last_msg_age_ms >= 0 && ci.last_msg_age_ms < 1000);

    /* the end of the tape: our book equals the fake's */
    tape_arg ta = {VENUE_BINANCE_SPOT, "BTCUSDT", 0};
    CHECK(run_until(&s, 240000, p_tape_done, &ta));
    compare_books(&s, VENUE_BINANCE_SPOT, "BTCUSDT", 50);
    market_sym *ms = market_find(s.m, VENUE_BINANCE_SPOT, "BTCUSDT");
    CHECK(ms && ms->trades > 1000);
    /* 1m klines (the fake's real octobot bars on the tape's minutes, final when the next minute
     * starts): applied as the exchange's final bars */
    CHECK(ms && ms->klines_final >= 5);
    /* ... and the longer timeframes' own streams (kline_5m .. kline_1d: the fake aggregates its
     * real 1m rows), final when the tape crosses their period: 23:55 and 00:00 for 5m, 00:00
     * (every boundary) for 15m, 1h, 4h and 1d; reconciled like 1m (pending, then applied) */
    CHECK(ms && ms->klines_final_tf[TF_1M] >= 5);
    CHECK(ms && ms->klines_final_tf[TF_5M] >= 1);
    for (int tf = TF_15M; ms && tf <= TF_1D; tf++)
        CHECK(ms->klines_final_tf[tf] >= 1);
    /* (how they replace the trade-built bars is test_kline_tfs' and live_klines.sh's: here the
     * tape keeps its 2024 times, so the wall clock's tick runs the bars ahead of them) */
    fprintf(stderr, "spot: klines final %llu (1m %llu 5m %llu 1d %llu) diffs %llu ignored %llu\n",
            (unsigned long long)(ms ? ms->klines_final : 0),
            (unsigned long long)(ms ? ms->klines_final_tf[TF_1M] : 0),
            (unsigned long long)(ms ? ms->klines_final_tf[TF_5M] : 0),
            (unsigned long long)(ms ? ms->klines_final_tf[TF_1D] : 0),
            (unsigned long long)(ms ? ms->kline_diffs : 0),
            (unsigned long long)market_klines_ignored(s.m));
    fprintf(stderr, "spot: gaps %llu snaps %llu old %llu reconnects %llu stalls %llu\n",
            (unsigned long long)session_bi(&s, 0).gaps,
            (unsigned long long)session_bi(&s, 0).snapshots,
            (unsigned long long)session_conn(&s, L).snapshots_old,
            (unsigned long long)session_conn(&s, L).reconnects,
            (unsigned long long)session_conn(&s, L).stalls);
    session_close(&s);
    fake_stop(&f);
}

static void scenario_usdm(void)
{
    fake f;
    const char *extra[] = {"--rate", "5000", "--max-lines", "30000", "--preload",
                           "binance-usdm:BTCUSDT", NULL};
    CHECK(fake_start(&f, false, extra));
    if (!f.port) {
        fake_stop(&f);
        return;
    }
    session s;
    const char *watch[] = {"binance-usdm:BTCUSDT", NULL};
    if (!session_open(&s, &f, watch, NULL, 1u << 18)) {
        session_close(&s);
        fake_stop(&f);
        return;
    }
    CHECK(run_until(&s, 15000, p_all_live, NULL));
    CHECK_INT(live_conn_count(s.lv), 2); /* /public (books) and /market (trades, klines) */
    CHECK(strstr(session_conn(&s, "binance-usdm public").url, "/public/stream?streams=") != NULL);
    CHECK(strstr(session_conn(&s, "binance-usdm market").url, "/market/stream?streams=") != NULL);
    /* backpressure: the main loop does not drain for a while; the 256 KB ring fills to 3/4 and
     * the connections stop reading (their socket buffers fill, the fake waits) instead of
     * dropping messages; once drained they read again. Bounded poll (10 s) on the counter. */
    live_conn_info bp = session_conn_sum(&s);
    uint64_t pauses0 = bp.rx_pauses;
    for (int i = 0; i < 1000 && bp.rx_pauses == pauses0; i++) {
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
        bp = session_conn_sum(&s);
    }
    CHECK(bp.rx_pauses > pauses0);
    uint64_t msgs_paused = bp.msgs;
    /* 418 (banned) with Retry-After on the resync */
    CHECK(fake_fault(&f, "type=http&status=418&secs=1&n=1&venue=binance-usdm"));
    uint64_t arg[2] = {session_bi(&s, 0).gaps, session_bi(&s, 0).snapshots};
    CHECK(fake_fault(&f, "type=gap&venue=binance-usdm"));
    CHECK(run_until(&s, 8000, p_gap_resynced, arg));
    live_rest_info ri;
    live_rest_get(s.lv, VENUE_BINANCE_USDM, &ri);
    CHECK_INT(ri.status_418, 1);
    /* a 500: retried */
    uint64_t req0 = ri.requests;
    CHECK(fake_fault(&f, "type=http&status=500&n=1&venue=binance-usdm"));
    arg[0] = session_bi(&s, 0).gaps;
    arg[1] = session_bi(&s, 0).snapshots;
    CHECK(fake_fault(&f, "type=gap&venue=binance-usdm"));
    CHECK(run_until(&s, 8000, p_gap_resynced, arg));
    live_rest_get(s.lv, VENUE_BINANCE_USDM, &ri);
    CHECK(ri.requests >= req0 + 2); /* the 500 and the retry */
    tape_arg ta = {VENUE_BINANCE_USDM, "BTCUSDT", 0};
    CHECK(run_until(&s, 90000, p_tape_done, &ta));
    compare_books(&s, VENUE_BINANCE_USDM, "BTCUSDT", 50);
    bp = session_conn_sum(&s);
    CHECK(bp.msgs > msgs_paused); /* they read again */
    CHECK_INT(bp.queue_drops, 0); /* paused, never dropped */
    session_close(&s);
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

static void cfg_no_ca(kconfig *cfg, const fake *f)
{
    (void)f;
    cfg->venues[VENUE_OKX].ca_file[0] = '\0'; /* the system's bundle: the fake is not in it */
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
    const char *watch[] = {"okx:BTC-USDT-SWAP", NULL};
    const char *L = "okx books";

    /* without the test CA: the fake's certificate is not trusted, nothing connects */
    {
        session bad;
        if (session_open(&bad, &f, watch, cfg_no_ca, 0)) {
            int64_t end = loop_mono_ms() + 1500;
            while (loop_mono_ms() < end)
                loop_once(bad.l, 20);
            live_conn_info ci = session_conn(&bad, L);
            CHECK(ci.failures >= 1);
            CHECK_INT(ci.reconnects, 0);
            CHECK_INT(ci.msgs, 0);
            CHECK_INT(session_bi(&bad, 0).snapshots, 0);
            CHECK(!live_all_books_live(bad.lv));
        }
        session_close(&bad);
    }

    session s;
    if (!session_open(&s, &f, watch, NULL, 0)) {
        session_close(&s);
        fake_stop(&f);
        return;
    }
    CHECK(run_until(&s, 15000, p_all_live, NULL));
    CHECK(session_bi(&s, 0).snapshots >= 1); /* production 2026: no snapshot push, REST path */
    CHECK(session_conn(&s, L).sub_acks >= 4); /* books, trades, bbo-tbt, tickers */
    CHECK_INT(session_conn(&s, L).sub_errors, 0);

    /* candle history over https (the fake serves octobot's real 1m bars), newest first */
    {
        http_opts ho = {.ca_file = f.ca};
        http_client *h = http_new(s.l, &ho);
        char url[300];
        snprintf(url, sizeof url, "%s/api/v5/market/candles?instId=BTC-USDT&bar=1m&limit=100",
                 f.http);
        candle_req cr = {0};
        CHECK_INT(http_get(h, VENUE_OKX, url, 1, on_candles, &cr, NULL), HTTP_OK);
        int64_t until = loop_mono_ms() + 5000;
        while (!cr.done && loop_mono_ms() < until)
            loop_once(s.l, 20);
        CHECK(cr.done);
        CHECK_INT(cr.n, 100);
        CHECK_INT(cr.first_open, 1524910440000); /* the file's last bar */
        CHECK_INT(cr.first_close, 926685000000); /* 9266.85 */
        CHECK(cr.descending);
        http_free(h);
    }

    /* maintenance reset: seqId drops below prevSeqId, accepted, no gap */
    uint64_t gaps0 = session_bi(&s, 0).gaps;
    book *b = session_book(&s, VENUE_OKX, "BTC-USDT-SWAP");
    int64_t id0 = b ? book_last_id(b) : 0;
    CHECK(fake_fault(&f, "type=okxreset"));
    int64_t end = loop_mono_ms() + 3000;
    while (b && loop_mono_ms() < end && book_last_id(b) >= id0)
        loop_once(s.l, 20);
    CHECK(b && book_last_id(b) < id0);
    CHECK_INT(session_bi(&s, 0).gaps, gaps0);
    CHECK(live_all_books_live(s.lv));

    /* a gap: resynced from the REST snapshot; the first answer is stale (refused, refetched) */
    uint64_t arg[2] = {session_bi(&s, 0).gaps, session_bi(&s, 0).snapshots};
    uint64_t old0 = session_conn(&s, L).snapshots_old;
    CHECK(fake_fault(&f, "type=oldsnap&n=1&venue=okx"));
    CHECK(fake_fault(&f, "type=gap&venue=okx"));
    CHECK(run_until(&s, 8000, p_gap_resynced, arg));
    CHECK_INT(session_conn(&s, L).snapshots_old, old0 + 1);

    /* the pushed-snapshot path: the fake pushes one on subscribe after a reconnect; the book
     * is live again without a REST snapshot */
    CHECK(fake_fault(&f, "type=okxsnapshot&on=1"));
    uint64_t snaps0 = session_bi(&s, 0).snapshots;
    conn_arg op = {L, session_conn(&s, L).reconnects};
    CHECK(fake_fault(&f, "type=drop&venue=okx"));
    CHECK(run_until(&s, 8000, p_reconnected, &op));
    CHECK_INT(session_bi(&s, 0).snapshots, snaps0);
    CHECK(fake_fault(&f, "type=okxsnapshot&on=0"));

    /* notice 64008 (service upgrade): the fake's close is healed */
    op.value = session_conn(&s, L).reconnects;
    CHECK(fake_fault(&f, "type=shutdown&venue=okx"));
    CHECK(run_until(&s, 8000, p_reconnected, &op));

    tape_arg ta = {VENUE_OKX, "BTC-USDT-SWAP", 0};
    CHECK(run_until(&s, 30000, p_tape_done, &ta));
    compare_books(&s, VENUE_OKX, "BTC-USDT-SWAP", 50);
    market_sym *ms = market_find(s.m, VENUE_OKX, "BTC-USDT-SWAP");
    CHECK(ms && ms->trades > 100);
    /* candles on /ws/v5/business: candle1m 5m 15m 1H 4H 1Dutc in one request, each acked; the
     * tape crosses 23:55, so a final 1m and 5m (OKX "5m") bar came and was reconciled */
    live_conn_info kc = session_conn(&s, "okx candles");
    CHECK(kc.sub_acks >= 6);
    CHECK_INT(kc.sub_errors, 0);
    CHECK(ms && ms->klines_final_tf[TF_1M] >= 1);
    CHECK(ms && ms->klines_final_tf[TF_5M] >= 1);
    CHECK_INT(market_klines_ignored(s.m) > 0, 1); /* the forming 1m candles (confirm "0") */
    session_close(&s);
    fake_stop(&f);
}

/* 24 h rotation, shortened: the fake cuts every connection 6 s after it opened; we rotate at
 * 2 s (make-before-break: the successor overlaps the live book before the old connection
 * closes), so no connection is ever cut by the server, no book ever gaps, and the final book
 * is exact. */
static void cfg_rotate(kconfig *cfg, const fake *f)
{
    (void)f;
    cfg->venues[VENUE_BINANCE_SPOT].lifetime_s = 2;
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
    session s;
    const char *watch[] = {"binance-spot:ETHUSDT", NULL};
    const char *L = "binance-spot books";
    if (!session_open(&s, &f, watch, cfg_rotate, 0)) {
        session_close(&s);
        fake_stop(&f);
        return;
    }
    CHECK(run_until(&s, 15000, p_all_live, NULL));
    conn_arg want = {L, 3};
    CHECK(run_until(&s, 20000, p_rotated, &want));
    tape_arg ta = {VENUE_BINANCE_SPOT, "ETHUSDT", 0};
    CHECK(run_until(&s, 30000, p_tape_done, &ta));
    live_conn_info ci = session_conn(&s, L);
    CHECK(ci.rotations >= 3);
    CHECK_INT(ci.reconnects, 0); /* the server never had to cut one */
    CHECK_INT(session_bi(&s, 0).gaps, 0); /* no diff missed across the switches */
    CHECK_INT(session_bi(&s, 0).resyncs, 0);
    compare_books(&s, VENUE_BINANCE_SPOT, "ETHUSDT", 50);
    fprintf(stderr, "rotation: %llu rotations, %llu snapshots\n",
            (unsigned long long)ci.rotations, (unsigned long long)session_bi(&s, 0).snapshots);
    session_close(&s);
    fake_stop(&f);
}

/* 100 USD-M symbols: the fake's aliases BTCUSDTA1..A100 of the real capture. */
#define MANY 100

/* Every SUBSCRIBE message of both connections sent and answered. */
static bool p_subscribed(session *s, void *arg)
{
    (void)arg;
    live_conn_info p = session_conn(s, "binance-usdm public");
    live_conn_info m = session_conn(s, "binance-usdm market");
    return p.sub_msgs == (p.streams_subscribed + 99) / 100 && p.sub_acks >= p.sub_msgs &&
           m.sub_msgs == (m.streams_subscribed + 99) / 100 && m.sub_acks >= m.sub_msgs;
}

static void scenario_many(void)
{
    fake f;
    static char names[MANY][CONFIG_WATCH_MAX];
    const char *watch[MANY + 1];
    for (int i = 0; i < MANY; i++) {
        snprintf(names[i], sizeof names[i], "binance-usdm:BTCUSDTA%d", i + 1);
        watch[i] = names[i];
    }
    watch[MANY] = NULL;
    const char *extra[] = {"--rate", "40", "--max-lines", "1500", NULL};
    CHECK(fake_start(&f, false, extra));
    if (!f.port) {
        fake_stop(&f);
        return;
    }
    session s;
    if (!session_open(&s, &f, watch, NULL, 0)) {
        session_close(&s);
        fake_stop(&f);
        return;
    }
    /* two connections: every book on one /public, the rest on one /market */
    CHECK_INT(live_conn_count(s.lv), 2);
    live_conn_info pub = session_conn(&s, "binance-usdm public");
    live_conn_info mkt = session_conn(&s, "binance-usdm market");
    CHECK_INT(pub.streams, 2 * MANY);   /* depth@100ms, bookTicker */
    CHECK_INT(mkt.streams, 9 * MANY);   /* trade, ticker, markPrice@1s, kline_1m .. kline_1d */
    CHECK(strlen(pub.url) < WS_URL_MAX && strlen(mkt.url) < WS_URL_MAX);
    CHECK(pub.streams_subscribed > 0 && pub.streams_subscribed < pub.streams);
    CHECK(mkt.streams_subscribed > pub.streams_subscribed);
    int64_t t0 = loop_mono_ms();
    CHECK(run_until(&s, 90000, p_all_live, NULL));
    CHECK(run_until(&s, 20000, p_subscribed, NULL)); /* the /market one may answer last */
    pub = session_conn(&s, "binance-usdm public");
    mkt = session_conn(&s, "binance-usdm market");
    /* 100 streams a message, each answered {"result":null,"id":N}; paced at <= 4 a second */
    CHECK_INT(pub.sub_msgs, (pub.streams_subscribed + 99) / 100);
    CHECK_INT(mkt.sub_msgs, (mkt.streams_subscribed + 99) / 100);
    CHECK_INT(pub.sub_acks, pub.sub_msgs);
    CHECK_INT(mkt.sub_acks, mkt.sub_msgs);
    CHECK_INT(pub.sub_errors + mkt.sub_errors, 0);
    CHECK(loop_mono_ms() - t0 >= (int64_t)(mkt.sub_msgs - 1) * 250);
    CHECK_INT(pub.reconnects + mkt.reconnects, 0); /* never cut for a rate-limit breach */
    /* the last symbol is on the connection only through SUBSCRIBE: its trades arrive, and its
     * book is exact against the fake's */
    CHECK(strstr(pub.url, "btcusdta100@") == NULL);
    char last[KSYM_MAX];
    snprintf(last, sizeof last, "BTCUSDTA%d", MANY);
    market_sym *ms = market_find(s.m, VENUE_BINANCE_USDM, last);
    int64_t end = loop_mono_ms() + 20000;
    while (loop_mono_ms() < end && !(ms && ms->trades > 0)) {
        loop_once(s.l, 20);
        ms = market_find(s.m, VENUE_BINANCE_USDM, last);
    }
    CHECK(ms && ms->trades > 0);
    tape_arg ta = {VENUE_BINANCE_USDM, "BTCUSDTA100", 0};
    CHECK(run_until(&s, 90000, p_tape_done, &ta));
    compare_books(&s, VENUE_BINANCE_USDM, last, 20);
    cJSON *st = fake_get(&f, "/_fake/status");
    CHECK(st != NULL);
    if (st) {
        CHECK_INT((int)cJSON_GetObjectItem(st, "rate_limited")->valuedouble, 0);
        CHECK_INT((int)cJSON_GetObjectItem(st, "subscribe_msgs")->valuedouble,
                  (int)(pub.sub_msgs + mkt.sub_msgs));
        cJSON_Delete(st);
    }
    fprintf(stderr, "many: %u + %u streams, %u + %u subscribed in %llu + %llu messages\n",
            pub.streams, mkt.streams, pub.streams_subscribed, mkt.streams_subscribed,
            (unsigned long long)pub.sub_msgs, (unsigned long long)mkt.sub_msgs);
    session_close(&s);
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
    const char *only = getenv("KESTREL_TEST_ONLY"); /* one scenario: spot usdm okx rotate many */
#define RUN(name, fn) if (!only || !strcmp(only, name)) fn()
    RUN("refuse", scenario_refuse);
    RUN("spot", scenario_spot);
    RUN("usdm", scenario_usdm);
    RUN("okx", scenario_okx_tls);
    RUN("rotate", scenario_rotation);
    RUN("many", scenario_many);
#undef RUN
    curl_global_cleanup();
    CHECK_DONE();
}
