/* live_loopback: the live path end to end over loopback against the fake exchange
 * (tests/fake/fake_exchange.py streaming the real captures of ../shared/data), beside the replay
 * pipeline on the same capture files in the same run:
 *
 *   throughput  the fake streams spot + USD-M BTCUSDT as fast as it can (--rate 0, the capture
 *               lines byte for byte); the live module (net thread -> ring -> ingest -> books)
 *               takes them: messages/s from the first to the last frame, and the frame-to-book
 *               latency (the net thread's receive time to the book updated) p50 / p99 / max.
 *               The fake is one Python process: when it cannot send faster than Kestrel takes,
 *               msgs/s measures the fake, and the JSON says so (fake_bound).
 *   replay      ingest_replay_all over the same two files: the replay pipeline's messages/s.
 *   stall       a depth@100ms stream (expected cadence 100 ms) the fake stops sending on: the
 *               time to detect it (the connection's stall counter) and to have it replaced (a new
 *               connection open and the book live again), with stall_ms = 2 x the cadence, and
 *               the default stall_ms for comparison.
 *   rss         a child process watching 100 USD-M symbols (the fake's aliases BTCUSDTA1.. over
 *               the real capture), every book live and streaming: VmRSS and VmHWM.
 *
 * One JSON line. Goals (issue 9): >= 500k msgs/s into the book with p99 < 1 ms, a stall replaced
 * within 2 x the cadence, RSS < 64 MB with 100 symbols. Run from the repository root (bench/run.sh
 * does). Needs /usr/bin/python3 with python3-websockets (tools/deps.sh test). */
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
                           int64_t stall_ms)
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
                    .stall_ms = stall_ms};
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

/* The child: 100 symbols. Writes "rss_mb hwm_mb books_live" to fd. */
static void bench_rss_child(int fd)
{
    bench_fake f;
    const char *args[] = {"--rate", "20", "--max-lines", "6000"};
    char out[128] = "-1 -1 0 0";
    if (bench_fake_start(&f, args, 4) == K_OK) {
        static char names[100][CONFIG_WATCH_MAX];
        const char *watch[100];
        for (int i = 0; i < 100; i++) {
            snprintf(names[i], sizeof names[i], "binance-usdm:%sA%d",
                     i % 2 ? "ETHUSDT" : "BTCUSDT", i / 2 + 1);
            watch[i] = names[i];
        }
        bench_live b;
        if (bench_live_open(&b, &f, watch, 100, 0) == K_OK) {
            double t0 = bench_now();
            bool all = bench_wait_live(&b, 100); /* REST weight: 96 snapshots a minute */
            double synced = bench_now() - t0;
            double end = bench_now() + 10; /* then 10 s of streaming */
            while (bench_now() < end)
                loop_once(b.l, 20);
            int live = 0;
            for (size_t i = 0; i < live_book_count(b.lv); i++) {
                live_book_info bi;
                live += live_book_get(b.lv, i, &bi) == K_OK && strcmp(bi.state, "live") == 0;
            }
            snprintf(out, sizeof out, "%.1f %.1f %d %.1f", bench_status_kb("VmRSS:") / 1024.0,
                     bench_status_kb("VmHWM:") / 1024.0, live, all ? synced : -1.0);
        }
        bench_live_close(&b);
    }
    bench_fake_stop(&f);
    ssize_t w = write(fd, out, strlen(out));
    (void)w;
}

int main(void)
{
    srand((unsigned)getpid());
    /* the RSS child first, while this process has no thread */
    int pfd[2];
    double rss = -1, hwm = -1, rss_synced_s = -1;
    int rss_live = 0;
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
        if (sscanf(buf, "%lf %lf %d %lf", &rss, &hwm, &rss_live, &rss_synced_s) != 4)
            rss = -1;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);

    /* throughput and latency: the fake flat out */
    char maxl[16] = "50000";
    const char *fargs[] = {"--rate", "0", "--max-lines", maxl, "--preload", "binance-spot:BTCUSDT",
                           "--preload", "binance-usdm:BTCUSDT"};
    bench_fake f;
    double live_mps = -1, live_secs = 0;
    uint64_t live_frames = 0;
    live_latency lat = {0};
    uint64_t drops = 0;
    if (bench_fake_start(&f, fargs, 8) == K_OK) {
        const char *watch[] = {"binance-spot:BTCUSDT", "binance-usdm:BTCUSDT"};
        bench_live b;
        if (bench_live_open(&b, &f, watch, 2, 0) == K_OK) {
            double first = 0, last = 0, end = bench_now() + 120;
            uint64_t seen = 0, at_first = 0;
            while (bench_now() < end) {
                loop_once(b.l, 50);
                uint64_t fr = ingest_get_stats(b.ing)->frames;
                double now = bench_now();
                if (fr != seen) {
                    if (!first) {
                        first = now;
                        at_first = fr;
                        live_latency_reset(b.lv);
                    }
                    last = now;
                    seen = fr;
                } else if (first && now - last > 2.0) {
                    break; /* the tapes are over */
                }
            }
            live_frames = seen - at_first;
            live_secs = last - first;
            live_mps = live_secs > 0 ? (double)live_frames / live_secs : -1;
            live_latency_get(b.lv, &lat);
            for (size_t i = 0; i < live_conn_count(b.lv); i++) {
                live_conn_info ci;
                if (live_conn_get(b.lv, i, &ci) == K_OK)
                    drops += ci.queue_drops;
            }
        }
        bench_live_close(&b);
    }
    bench_fake_stop(&f);

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

    /* stall: detection and replacement, stall_ms = 2 x the 100 ms cadence, then the default */
    double det[2] = {-1, -1}, rep[2] = {-1, -1};
    int64_t stall_cfg[2] = {200, 0}, stall_used[2] = {200, 10000};
    const char *sargs[] = {"--rate", "200", "--preload", "binance-spot:ETHUSDT"};
    for (int k = 0; k < 2; k++) {
        if (bench_fake_start(&f, sargs, 4) != K_OK)
            break;
        const char *watch[] = {"binance-spot:ETHUSDT"};
        bench_live b;
        if (bench_live_open(&b, &f, watch, 1, stall_cfg[k]) == K_OK && bench_wait_live(&b, 30)) {
            live_conn_info ci;
            double settle = bench_now() + 1;
            while (bench_now() < settle)
                loop_once(b.l, 20);
            (void)live_conn_get(b.lv, 0, &ci);
            uint64_t stalls0 = ci.stalls;
            bench_fault(&f, "type=stall&secs=60");
            double t0 = bench_now(), end = t0 + 30;
            while (bench_now() < end) {
                loop_once(b.l, 5);
                if (live_conn_get(b.lv, 0, &ci) != K_OK)
                    break;
                if (det[k] < 0 && ci.stalls > stalls0)
                    det[k] = (bench_now() - t0) * 1000;
                if (det[k] >= 0 && strcmp(ci.state, "open") == 0 && ci.books_live == 1) {
                    rep[k] = (bench_now() - t0) * 1000;
                    break;
                }
            }
        }
        bench_live_close(&b);
        bench_fake_stop(&f);
    }
    curl_global_cleanup();

    printf("{\"bench\":\"live_loopback\",\"live_msgs_per_s\":%.0f,\"live_frames\":%llu,"
           "\"live_seconds\":%.2f,\"fake_bound\":%s,\"queue_drops\":%llu,"
           "\"p50_us\":%.0f,\"p99_us\":%.0f,\"max_us\":%.0f,"
           "\"replay_msgs_per_s\":%.0f,\"replay_lines\":%llu,"
           "\"stall_cadence_ms\":100,\"stall_ms\":%lld,\"stall_detect_ms\":%.0f,"
           "\"stall_replaced_ms\":%.0f,\"stall_default_ms\":%lld,"
           "\"stall_default_detect_ms\":%.0f,\"stall_default_replaced_ms\":%.0f,"
           "\"rss_symbols\":100,\"rss_books_live\":%d,\"rss_synced_s\":%.1f,\"rss_mb\":%.1f,"
           "\"rss_hwm_mb\":%.1f}\n",
           live_mps, (unsigned long long)live_frames, live_secs,
           live_mps > 0 && replay_mps > 2 * live_mps ? "true" : "false",
           (unsigned long long)drops, lat.p50_us, lat.p99_us, lat.max_us, replay_mps,
           (unsigned long long)replay_lines, (long long)stall_used[0], det[0], rep[0],
           (long long)stall_used[1], det[1], rep[1], rss_live, rss_synced_s, rss, hwm);
    return 0;
}
