/* live_loopback: the live path end to end over loopback, beside the replay pipeline on the same
 * capture files in the same run (the machine is shared: ratios against the replay are the stable
 * figures):
 *
 *   throughput  bench/fakefeed.c (C, pre-framed real capture lines, the four Binance tapes under
 *               ALIASES names each) streams flat out; the live module (net thread -> ring ->
 *               ingest -> books) takes them: messages/s from the first to the last frame applied,
 *               frame-to-book latency (the net thread's receive time of the frame's last byte to
 *               the pipeline having applied it) p50 / p99 / max, and where the CPU went (the
 *               feed process, the net thread, the main thread). fake_bound: the feed used more
 *               than 90 % of a core, so it, not Kestrel, may be the limit.
 *   sustained   the same at a fixed rate below saturation (rate_*): latency without queueing.
 *   replay      ingest_replay_all over the spot + USD-M BTCUSDT files: the replay's messages/s.
 *   stall       a depth@100ms stream (expected cadence 100 ms) the Python fake stops sending
 *               on: the time to detect it (the connection's stall counter) and to have it
 *               replaced (a connection delivering and the book live again), with stall_ms = 2 x
 *               the cadence, and the default stall_ms for comparison.
 *   rss         a child process watching 100 symbols (25 fakefeed aliases of each of the four
 *               tapes) at a sustained rate, every book live, then 10 s of streaming: VmRSS and
 *               VmHWM, and how many books are still live at the end.
 *
 * One JSON line. Goals (issue 9): >= 500k msgs/s into the book with p99 < 1 ms, a stall replaced
 * within 2 x the cadence, RSS < 64 MB with 100 symbols. Run from the repository root (bench/run.sh
 * does); the feed is the fakefeed binary next to this one. The stall part needs /usr/bin/python3
 * with python3-websockets (tools/deps.sh test). */
#include "kestrel/book.h"
#include "kestrel/decimal.h"
#include "kestrel/ingest.h"
#include "kestrel/live.h"
#include "kestrel/replay.h"
#include "kestrel/xmalloc.h"

#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BENCH_FAKE "tests/fake/fake_exchange.py"

static double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *bench_data(void)
{
    const char *d = getenv("KESTREL_SHARED_DATA");
    return d && d[0] ? d : "../shared/data";
}

typedef struct bench_fake {
    pid_t pid;
    int port;
    char portfile[96];
} bench_fake;

/* Starts the fake with extra arguments; K_OK once its port file is written (bounded). */
static int bench_fake_start(bench_fake *f, const char *const *extra, int nextra)
{
    snprintf(f->portfile, sizeof f->portfile, "/tmp/kestrel-bench-fake.%d.%d", (int)getpid(),
             rand());
    unlink(f->portfile);
    char parent[24];
    snprintf(parent, sizeof parent, "%d", (int)getpid());
    const char *argv[64] = {"/usr/bin/python3", BENCH_FAKE, "--port-file", f->portfile,
                            "--data", bench_data(), "--lifetime", "400", "--parent", parent,
                            "--queue", "2000000"};
    int n = 12;
    for (int i = 0; i < nextra && n < 62; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    f->pid = fork();
    if (f->pid == 0) {
        FILE *nul = freopen("/dev/null", "w", stderr);
        (void)nul;
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    for (int i = 0; i < 1200; i++) { /* 120 s: a big tape takes a while to load */
        FILE *pf = fopen(f->portfile, "r");
        if (pf) {
            int ok = fscanf(pf, "%d", &f->port) == 1;
            fclose(pf);
            if (ok)
                return K_OK;
        }
        if (waitpid(f->pid, NULL, WNOHANG) == f->pid)
            return K_ERR;
        struct timespec ts = {0, 100000000};
        nanosleep(&ts, NULL);
    }
    return K_ERR;
}

static void bench_fake_stop(bench_fake *f)
{
    if (f->pid > 0) {
        kill(f->pid, SIGTERM);
        waitpid(f->pid, NULL, 0);
        f->pid = 0;
    }
    unlink(f->portfile);
}

/* bench/fakefeed (next to this binary) with extra arguments; K_OK once its port is known. */
static int bench_feed_start(bench_fake *f, const char *const *extra, int nextra)
{
    char exe[1024], feed[1100];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return K_ERR;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash)
        *slash = '\0';
    snprintf(feed, sizeof feed, "%s/fakefeed", exe);
    snprintf(f->portfile, sizeof f->portfile, "/tmp/kestrel-bench-feed.%d.%d", (int)getpid(),
             rand());
    unlink(f->portfile);
    char parent[24];
    snprintf(parent, sizeof parent, "%d", (int)getpid());
    const char *argv[64] = {feed, "--port-file", f->portfile, "--data", bench_data(),
                            "--lifetime", "300", "--parent", parent};
    int k = 9;
    for (int i = 0; i < nextra && k < 62; i++)
        argv[k++] = extra[i];
    argv[k] = NULL;
    f->pid = fork();
    if (f->pid == 0) {
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    for (int i = 0; i < 600; i++) { /* 60 s: loading the captures takes a few seconds */
        FILE *pf = fopen(f->portfile, "r");
        if (pf) {
            int ok = fscanf(pf, "%d", &f->port) == 1;
            fclose(pf);
            if (ok)
                return K_OK;
        }
        if (waitpid(f->pid, NULL, WNOHANG) == f->pid) {
            f->pid = 0;
            return K_ERR;
        }
        struct timespec ts = {0, 100000000};
        nanosleep(&ts, NULL);
    }
    return K_ERR;
}

/* CPU seconds (user + system) of /proc/<path>/stat. */
static double bench_cpu_of(const char *path)
{
    FILE *f = fopen(path, "r");
    char buf[1024];
    double s = 0;
    if (f && fgets(buf, sizeof buf, f)) {
        const char *p = strrchr(buf, ')');
        unsigned long ut = 0, st = 0;
        if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut,
                        &st) == 2)
            s = (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
    }
    if (f)
        fclose(f);
    return s;
}

typedef struct bench_cpu {
    double feed, main, net; /* CPU seconds */
} bench_cpu;

static void bench_cpu_sample(pid_t feed, bench_cpu *o)
{
    char p[96];
    snprintf(p, sizeof p, "/proc/%d/stat", (int)feed);
    o->feed = bench_cpu_of(p);
    snprintf(p, sizeof p, "/proc/self/task/%d/stat", (int)getpid());
    o->main = bench_cpu_of(p);
    o->net = bench_cpu_of("/proc/self/stat") - o->main; /* every other thread: the net thread */
}

/* The watch list of a fakefeed run: aliases names of each of the four tapes (alias 0 is the
 * capture's own name, k the first five letters and k in two digits). */
static int bench_feed_watch(int aliases, char (*names)[CONFIG_WATCH_MAX], const char **watch)
{
    static const char *const tapes[] = {"binance-spot:BTCUS", "binance-spot:ETHUS",
                                        "binance-usdm:BTCUS", "binance-usdm:ETHUS"};
    int n = 0;
    for (int a = 0; a < aliases; a++)
        for (int t = 0; t < 4 && n < CONFIG_MAX_WATCH; t++) {
            if (a == 0)
                snprintf(names[n], CONFIG_WATCH_MAX, "%sDT", tapes[t]);
            else
                snprintf(names[n], CONFIG_WATCH_MAX, "%s%02d", tapes[t], a);
            watch[n] = names[n];
            n++;
        }
    return n;
}

static size_t bench_curl_sink(char *p, size_t sz, size_t n, void *ud)
{
    (void)p;
    (void)ud;
    return sz * n;
}

static void bench_fault(const bench_fake *f, const char *q)
{
    char url[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/_fake/fault?%s", f->port, q);
    CURL *e = curl_easy_init();
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, bench_curl_sink);
    curl_easy_perform(e);
    curl_easy_cleanup(e);
}

/* A live session on its own loop against the fake. */
typedef struct bench_live {
    kconfig cfg;
    loop *l;
    market *m;
    ingest *ing;
    klive *lv;
} bench_live;

static int bench_live_open(bench_live *b, const bench_fake *f, const char *const *watch, int n,
                           int64_t stall_ms, bool standby)
{
    char err[512];
    memset(b, 0, sizeof *b);
    config_defaults(&b->cfg);
    for (int i = 0; i < n && i < CONFIG_MAX_WATCH; i++)
        snprintf(b->cfg.watch[b->cfg.watch_count++], CONFIG_WATCH_MAX, "%s", watch[i]);
    for (int v = 0; v < VENUE_COUNT; v++) {
        kconfig_venue *vc = &b->cfg.venues[v];
        snprintf(vc->rest_url, sizeof vc->rest_url, "http://127.0.0.1:%d", f->port);
        snprintf(vc->ws_url, sizeof vc->ws_url, "ws://127.0.0.1:%d", f->port);
    }
    b->l = loop_new();
    b->m = market_new(&b->cfg.limits);
    /* the captures' own (2024) exchange times: the skew guard is for live venues */
    ingest_opts io = {.grace_ms = b->cfg.limits.bar_grace_ms, .max_skew_ms = INT64_MAX / 4};
    b->ing = ingest_new(b->m, NULL, &io);
    live_opts lo = {.loop = b->l, .ingest = b->ing, .market = b->m, .cfg = &b->cfg,
                    .stall_ms = stall_ms, .no_backfill = true, .warm_standby = standby};
    if (live_open(&b->lv, &lo, err, sizeof err) != LIVE_OK) {
        fprintf(stderr, "live_open: %s\n", err);
        return K_ERR;
    }
    return K_OK;
}

static void bench_live_close(bench_live *b)
{
    live_close(b->lv);
    ingest_free(b->ing);
    market_free(b->m);
    loop_free(b->l);
}

static bool bench_wait_live(bench_live *b, double secs)
{
    double end = bench_now() + secs;
    while (bench_now() < end && !live_all_books_live(b->lv))
        loop_once(b->l, 20);
    return live_all_books_live(b->lv);
}

static long bench_status_kb(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    size_t n = strlen(key);
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, key, n) == 0)
            kb = strtol(line + n, NULL, 10);
    if (f)
        fclose(f);
    return kb;
}

typedef struct bench_tp {
    double mps, secs;
    uint64_t frames, drops, reconnects, gaps, stalls;
    live_latency lat;
    bench_cpu cpu; /* over [first frame, last frame] */
    int books, books_live, conns;
    int books_final_ok; /* top of book at the end as the capture's (see bench_books_final) */
} bench_tp;

/* Books whose top of book at the end of the tapes is the capture's: spot BTCUSDT 61602.01 /
 * 61602.02 and ETHUSDT 2677.60 / 2677.61 (MANIFEST.md), every USD-M alias equal to its tape's
 * alias 0. A lost or doubled diff shows here. */
static int bench_books_final(bench_live *b)
{
    int ok = 0;
    for (size_t i = 0; i < live_book_count(b->lv); i++) {
        live_book_info bi;
        if (live_book_get(b->lv, i, &bi) != K_OK)
            continue;
        market_sym *ms = market_find(b->m, bi.venue, bi.symbol);
        kdec bp, bq, ap, aq;
        if (!ms || !book_is_live(ms->book) || book_level(ms->book, BOOK_BID, 0, &bp, &bq) != K_OK ||
            book_level(ms->book, BOOK_ASK, 0, &ap, &aq) != K_OK)
            continue;
        kdec wb = 0, wa = 0;
        bool btc = strncmp(bi.symbol, "BTC", 3) == 0;
        if (bi.venue == VENUE_BINANCE_SPOT) {
            if (decimal_parse(btc ? "61602.01" : "2677.60", btc ? 8 : 7, &wb) != K_OK ||
                decimal_parse(btc ? "61602.02" : "2677.61", btc ? 8 : 7, &wa) != K_OK)
                continue;
        } else {
            market_sym *m0 = market_find(b->m, bi.venue, btc ? "BTCUSDT" : "ETHUSDT");
            kdec q;
            if (!m0 || book_level(m0->book, BOOK_BID, 0, &wb, &q) != K_OK ||
                book_level(m0->book, BOOK_ASK, 0, &wa, &q) != K_OK)
                continue;
        }
        ok += bp == wb && ap == wa;
    }
    return ok;
}

static int bench_books_live(bench_live *b)
{
    int live = 0;
    for (size_t i = 0; i < live_book_count(b->lv); i++) {
        live_book_info bi;
        live += live_book_get(b->lv, i, &bi) == K_OK && strcmp(bi.state, "live") == 0;
    }
    return live;
}

/* fakefeed at rate msgs/s (0: flat out), aliases names per tape, at most max_s seconds of
 * frames: msgs/s into the books, latency, CPU. K_ERR when the feed or the session failed. */
static int bench_throughput(long rate, int aliases, double max_s, bench_tp *o)
{
    memset(o, 0, sizeof *o);
    o->mps = -1;
    char r[24], al[16];
    snprintf(r, sizeof r, "%ld", rate);
    snprintf(al, sizeof al, "%d", aliases);
    const char *args[] = {"--rate", r, "--aliases", al};
    bench_fake f;
    if (bench_feed_start(&f, args, 4) != K_OK)
        return K_ERR;
    static char names[CONFIG_MAX_WATCH][CONFIG_WATCH_MAX];
    const char *watch[CONFIG_MAX_WATCH];
    int n = bench_feed_watch(aliases, names, watch);
    bench_live b;
    int rc = K_ERR;
    if (bench_live_open(&b, &f, watch, n, 0, false) == K_OK) {
        double first = 0, last = 0, last_cpu = 0, end = bench_now() + 120;
        uint64_t seen = 0, at_first = 0;
        bench_cpu c0 = {0}, c1 = {0};
        while (bench_now() < end) {
            loop_once(b.l, 50);
            uint64_t fr = ingest_get_stats(b.ing)->frames;
            double now = bench_now();
            if (fr != seen) {
                if (!first) {
                    first = now;
                    at_first = fr;
                    live_latency_reset(b.lv);
                    bench_cpu_sample(f.pid, &c0);
                }
                last = now;
                seen = fr;
                if (now - last_cpu > 0.05) { /* /proc reads cost the main thread too */
                    bench_cpu_sample(f.pid, &c1);
                    last_cpu = now;
                }
                if (now - first > max_s)
                    break;
            } else if (first && now - last > 1.0) {
                break; /* the tapes are over */
            }
        }
        o->frames = seen - at_first;
        o->secs = last - first;
        o->mps = o->secs > 0 ? (double)o->frames / o->secs : -1;
        live_latency_get(b.lv, &o->lat);
        o->cpu = (bench_cpu){c1.feed - c0.feed, c1.main - c0.main, c1.net - c0.net};
        o->conns = (int)live_conn_count(b.lv);
        for (size_t i = 0; i < live_conn_count(b.lv); i++) {
            live_conn_info ci;
            if (live_conn_get(b.lv, i, &ci) == K_OK) {
                o->drops += ci.queue_drops;
                o->reconnects += ci.reconnects;
                o->gaps += ci.gaps;
                o->stalls += ci.stalls;
            }
        }
        o->books = (int)live_book_count(b.lv);
        o->books_live = bench_books_live(&b);
        o->books_final_ok = bench_books_final(&b);
        rc = o->frames > 0 ? K_OK : K_ERR;
    }
    bench_live_close(&b);
    bench_fake_stop(&f);
    return rc;
}

/* The child: 100 symbols (25 aliases of each tape) at a sustained 20k msgs/s. Writes
 * "rss_mb hwm_mb books_live synced_s books" to fd. */
static void bench_rss_child(int fd)
{
    bench_fake f;
    const char *args[] = {"--rate", "20000", "--aliases", "25"};
    char out[128] = "-1 -1 0 -1 0";
    if (bench_feed_start(&f, args, 4) == K_OK) {
        static char names[CONFIG_MAX_WATCH][CONFIG_WATCH_MAX];
        const char *watch[CONFIG_MAX_WATCH];
        int n = bench_feed_watch(25, names, watch);
        bench_live b;
        if (bench_live_open(&b, &f, watch, n, 0, false) == K_OK) {
            double t0 = bench_now();
            bool all = bench_wait_live(&b, 100);
            double synced = bench_now() - t0;
            double end = bench_now() + 10; /* then 10 s of streaming */
            while (bench_now() < end)
                loop_once(b.l, 20);
            snprintf(out, sizeof out, "%.1f %.1f %d %.1f %d", bench_status_kb("VmRSS:") / 1024.0,
                     bench_status_kb("VmHWM:") / 1024.0, bench_books_live(&b),
                     all ? synced : -1.0, (int)live_book_count(b.lv));
        }
        bench_live_close(&b);
    }
    bench_fake_stop(&f);
    ssize_t w = write(fd, out, strlen(out));
    (void)w;
}

/* A spot ETHUSDT depth@100ms stream the Python fake stops sending on (the oldest connection:
 * with a warm standby, the active one). detect: the stall counted or the standby switched to;
 * replaced: data applied again with the book live. -1 when not seen within 30 s. */
static void bench_stall(int64_t stall_ms, bool standby, double *det, double *rep)
{
    *det = *rep = -1;
    bench_fake f;
    const char *sargs[] = {"--rate", "200", "--preload", "binance-spot:ETHUSDT"};
    if (bench_fake_start(&f, sargs, 4) != K_OK)
        return;
    const char *watch[] = {"binance-spot:ETHUSDT"};
    bench_live b;
    if (bench_live_open(&b, &f, watch, 1, stall_ms, standby) == K_OK && bench_wait_live(&b, 30)) {
        live_conn_info ci;
        double settle = bench_now() + (standby ? 2 : 1); /* the standby matched */
        while (bench_now() < settle)
            loop_once(b.l, 20);
        (void)live_conn_get(b.lv, 0, &ci);
        uint64_t stalls0 = ci.stalls, sw0 = ci.standby_switches, fr0 = 0;
        bench_fault(&f, "type=stall&secs=60&one=1");
        double t0 = bench_now(), end = t0 + 30;
        while (bench_now() < end) {
            loop_once(b.l, 5);
            if (live_conn_get(b.lv, 0, &ci) != K_OK)
                break;
            uint64_t fr = ingest_get_stats(b.ing)->frames;
            if (*det < 0 && (ci.stalls > stalls0 || ci.standby_switches > sw0)) {
                *det = (bench_now() - t0) * 1000;
                fr0 = fr;
            }
            if (*det >= 0 && strcmp(ci.state, "open") == 0 && ci.books_live == 1 && fr > fr0) {
                *rep = (bench_now() - t0) * 1000;
                break;
            }
        }
    }
    bench_live_close(&b);
    bench_fake_stop(&f);
}

/* `bench_live_loopback --throughput RATE ALIASES`: only the throughput part, one JSON line (for
 * perf record while profiling the path); `--stall STALL_MS 0|1`: only one stall (1: with a warm
 * standby). */
static int bench_throughput_only(long rate, int aliases)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    bench_tp tp;
    int rc = bench_throughput(rate, aliases, 60, &tp);
    printf("{\"rate\":%ld,\"symbols\":%d,\"conns\":%d,\"msgs_per_s\":%.0f,\"frames\":%llu,"
           "\"p50_us\":%.0f,\"p99_us\":%.0f,\"max_us\":%.0f,\"feed_cpu_s\":%.2f,"
           "\"net_cpu_s\":%.2f,\"main_cpu_s\":%.2f,\"secs\":%.2f,\"drops\":%llu,"
           "\"books_live\":%d,\"books_final_ok\":%d,\"reconnects\":%llu,\"gaps\":%llu,"
           "\"stalls\":%llu}\n",
           rate, tp.books, tp.conns, tp.mps,
           (unsigned long long)tp.frames, tp.lat.p50_us, tp.lat.p99_us, tp.lat.max_us,
           tp.cpu.feed, tp.cpu.net, tp.cpu.main, tp.secs, (unsigned long long)tp.drops,
           tp.books_live, tp.books_final_ok, (unsigned long long)tp.reconnects,
           (unsigned long long)tp.gaps,
           (unsigned long long)tp.stalls);
    curl_global_cleanup();
    return rc == K_OK ? 0 : 1;
}

int main(int argc, char **argv)
{
    srand((unsigned)getpid());
    if (argc == 4 && strcmp(argv[1], "--throughput") == 0)
        return bench_throughput_only(atol(argv[2]), atoi(argv[3]));
    if (argc == 4 && strcmp(argv[1], "--stall") == 0) { /* --stall STALL_MS STANDBY(0|1) */
        curl_global_init(CURL_GLOBAL_DEFAULT);
        double d, r;
        bench_stall(atol(argv[2]), atoi(argv[3]) != 0, &d, &r);
        printf("{\"stall_detect_ms\":%.0f,\"stall_replaced_ms\":%.0f}\n", d, r);
        curl_global_cleanup();
        return 0;
    }
    /* the RSS child first, while this process has no thread */
    int pfd[2];
    double rss = -1, hwm = -1, rss_synced_s = -1;
    int rss_live = 0, rss_books = 0;
    if (pipe(pfd) == 0) {
        pid_t c = fork();
        if (c == 0) {
            close(pfd[0]);
            bench_rss_child(pfd[1]);
            _exit(0);
        }
        close(pfd[1]);
        char buf[128] = "";
        ssize_t n = read(pfd[0], buf, sizeof buf - 1);
        buf[n > 0 ? n : 0] = '\0';
        close(pfd[0]);
        waitpid(c, NULL, 0);
        if (sscanf(buf, "%lf %lf %d %lf %d", &rss, &hwm, &rss_live, &rss_synced_s,
                   &rss_books) != 5)
            rss = -1;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);

    double load1 = -1;
    FILE *la = fopen("/proc/loadavg", "r");
    if (la) {
        if (fscanf(la, "%lf", &load1) != 1)
            load1 = -1;
        fclose(la);
    }
    /* throughput: the C feed flat out; then a sustained rate below saturation */
    bench_tp tp, sr;
    const int aliases = 8;
    const long sustained = 100000;
    if (bench_throughput(0, aliases, 60, &tp) != K_OK)
        fprintf(stderr, "live_loopback: the flat-out run failed\n");
    if (bench_throughput(sustained, aliases, 8, &sr) != K_OK)
        fprintf(stderr, "live_loopback: the sustained run failed\n");

    /* the replay pipeline on the same capture files */
    char s1[512], s2[512];
    snprintf(s1, sizeof s1, "spot:%s/binance/streams/spot/btcusdt_20240808.gz", bench_data());
    snprintf(s2, sizeof s2, "usdm:%s/binance/streams/usdm/btcusdt_20240808.gz", bench_data());
    const char *specs[] = {s1, s2};
    double replay_mps = -1;
    uint64_t replay_lines = 0;
    {
        kconfig *cfg = xmalloc(sizeof *cfg);
        char err[256];
        replay *r = NULL;
        config_defaults(cfg);
        if (replay_open(&r, specs, 2, err, sizeof err) == K_OK) {
            market *m = market_new(&cfg->limits);
            ingest_opts io = {.grace_ms = cfg->limits.bar_grace_ms};
            ingest *ing = ingest_new(m, NULL, &io);
            double t = bench_now();
            replay_lines = ingest_replay_all(ing, r, 0);
            t = bench_now() - t;
            replay_mps = t > 0 ? (double)replay_lines / t : -1;
            ingest_free(ing);
            market_free(m);
            replay_close(r);
        }
        free(cfg);
    }

    /* stall: detection and replacement, stall_ms = 2 x the 100 ms cadence, the default, and
     * with a warm standby (stall_ms 200 for the stalled one's reconnect) */
    double det[3], rep[3];
    int64_t stall_cfg[3] = {200, 0, 200}, stall_used[3] = {200, 10000, 200};
    for (int k = 0; k < 3; k++)
        bench_stall(stall_cfg[k], k == 2, &det[k], &rep[k]);
    curl_global_cleanup();

    double fcpu = tp.secs > 0 ? 100 * tp.cpu.feed / tp.secs : -1;
    printf("{\"bench\":\"live_loopback\",\"source\":\"fakefeed\",\"load_avg\":%.1f,"
           "\"live_symbols\":%d,\"live_conns\":%d,"
           "\"live_msgs_per_s\":%.0f,\"live_frames\":%llu,\"live_seconds\":%.2f,"
           "\"live_vs_replay\":%.2f,\"fake_bound\":%s,\"fake_cpu_pct\":%.0f,"
           "\"net_thread_cpu_pct\":%.0f,\"main_thread_cpu_pct\":%.0f,"
           "\"net_us_per_msg\":%.2f,\"main_us_per_msg\":%.2f,\"queue_drops\":%llu,"
           "\"books_live_end\":%d,\"books_final_ok\":%d,\"books\":%d,"
           "\"p50_us\":%.0f,\"p99_us\":%.0f,\"max_us\":%.0f,"
           "\"rate_target_msgs_per_s\":%ld,\"rate_msgs_per_s\":%.0f,\"rate_p50_us\":%.0f,"
           "\"rate_p99_us\":%.0f,\"rate_max_us\":%.0f,\"rate_queue_drops\":%llu,"
           "\"replay_msgs_per_s\":%.0f,\"replay_lines\":%llu,"
           "\"stall_cadence_ms\":100,\"stall_ms\":%lld,\"stall_detect_ms\":%.0f,"
           "\"stall_replaced_ms\":%.0f,\"stall_default_ms\":%lld,"
           "\"stall_default_detect_ms\":%.0f,\"stall_default_replaced_ms\":%.0f,"
           "\"stall_standby_detect_ms\":%.0f,\"stall_standby_replaced_ms\":%.0f,"
           "\"rss_symbols\":%d,\"rss_books_live\":%d,\"rss_synced_s\":%.1f,\"rss_mb\":%.1f,"
           "\"rss_hwm_mb\":%.1f}\n",
           load1, tp.books, tp.conns, tp.mps, (unsigned long long)tp.frames, tp.secs,
           tp.mps > 0 && replay_mps > 0 ? tp.mps / replay_mps : -1,
           fcpu > 90 ? "true" : "false", fcpu,
           tp.secs > 0 ? 100 * tp.cpu.net / tp.secs : -1,
           tp.secs > 0 ? 100 * tp.cpu.main / tp.secs : -1,
           tp.frames ? 1e6 * tp.cpu.net / (double)tp.frames : -1,
           tp.frames ? 1e6 * tp.cpu.main / (double)tp.frames : -1,
           (unsigned long long)tp.drops, tp.books_live, tp.books_final_ok, tp.books,
           tp.lat.p50_us, tp.lat.p99_us,
           tp.lat.max_us, sustained, sr.mps, sr.lat.p50_us, sr.lat.p99_us, sr.lat.max_us,
           (unsigned long long)sr.drops, replay_mps,
           (unsigned long long)replay_lines, (long long)stall_used[0], det[0], rep[0],
           (long long)stall_used[1], det[1], rep[1], det[2], rep[2], rss_books, rss_live,
           rss_synced_s, rss,
           hwm);
    return 0;
}
