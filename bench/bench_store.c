/* Store throughput and barrier latency on a real disk, with real bars (the 45,031-bar BTC
 * perpetual 1m file). Prints one JSON line per measurement:
 *   store_put:     main-thread cost of store_put_candle (ns/row) — what the UI thread pays
 *   store_write:   rows/s from the first put until store_flush() returns (writer throughput)
 *   store_barrier: store_commit_then() round trip (1 row + durable commit + callback), p50/p99
 *   store_durable: store_durable_put() round trip (intent committed + fsynced + acknowledged)
 *                  while BACKLOG market rows are queued ahead of it each time, p50/p99, and
 *                  how many of those rows were already written when the ack came (fewer than
 *                  BACKLOG: the lane does not wait behind the market queue)
 * Directory: $KESTREL_BENCH_DIR or /tmp. */
#include "kestrel/store.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#define MAXBARS 50000
#define BARRIERS 200
#define DURABLES 100
#define BACKLOG 20000

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static kdec dec(const char *p, char **end)
{
    bool neg = *p == '-';
    if (neg)
        p++;
    int64_t ip = 0, fp = 0;
    int fd = 0;
    while (*p >= '0' && *p <= '9')
        ip = ip * 10 + (*p++ - '0');
    if (*p == '.') {
        p++;
        for (; *p >= '0' && *p <= '9'; p++)
            if (fd < 8) {
                fp = fp * 10 + (*p - '0');
                fd++;
            }
    }
    for (; fd < 8; fd++)
        fp *= 10;
    *end = (char *)p;
    return neg ? -(ip * KDEC_SCALE + fp) : ip * KDEC_SCALE + fp;
}

static int load(const char *path, candle *out, int max)
{
    gzFile f = gzopen(path, "rb");
    if (!f)
        return -1;
    char line[256];
    int n = 0;
    while (n < max && gzgets(f, line, sizeof line)) {
        if (line[0] < '0' || line[0] > '9')
            continue;
        candle *b = &out[n];
        memset(b, 0, sizeof *b);
        char *p;
        b->open_ms = strtoll(line, &p, 10);
        kdec *f5[5] = {&b->o, &b->h, &b->l, &b->c, &b->volume};
        int k = 0;
        for (; k < 5 && *p == ','; k++)
            *f5[k] = dec(p + 1, &p);
        if (k == 5)
            n++;
    }
    gzclose(f);
    return n;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static void on_done(void *ud, enum store_result rc)
{
    (void)rc;
    (*(int *)ud)++;
}

static void on_durable(void *ud, uint64_t id, enum store_result rc)
{
    (void)id;
    (void)rc;
    (*(int *)ud)++;
}

int main(void)
{
    static candle bars[MAXBARS];
    const char *data = getenv("KESTREL_SHARED_DATA");
    char path[512], db[512];
    snprintf(path, sizeof path, "%s/klines/btc-perp_1m_2021-12-31_2022-02-01.csv.gz",
             data && *data ? data : "../shared/data");
    int n = load(path, bars, MAXBARS);
    if (n <= 0) {
        fprintf(stderr, "bench_store: cannot read %s\n", path);
        return 1;
    }
    const char *dir = getenv("KESTREL_BENCH_DIR");
    snprintf(db, sizeof db, "%s/kestrel-bench-store-%ld/bench.db", dir && *dir ? dir : "/tmp",
             (long)getpid());

    char err[512];
    store *s = NULL;
    if (store_open(&s, db, NULL, err, sizeof err) != K_OK) {
        fprintf(stderr, "bench_store: %s\n", err);
        return 1;
    }
    int64_t t0 = now_ns();
    for (int i = 0; i < n; i++)
        store_put_candle(s, VENUE_BINANCE_USDM, "BTCUSDT", TF_1M, &bars[i]);
    int64_t t1 = now_ns();
    store_flush(s);
    int64_t t2 = now_ns();
    const store_stats *st = store_get_stats(s);
    printf("{\"bench\":\"store_put\",\"rows\":%d,\"ns_per_row\":%.1f,\"dropped\":%llu}\n", n,
           (double)(t1 - t0) / n, (unsigned long long)st->dropped);
    printf("{\"bench\":\"store_write\",\"rows\":%llu,\"rows_per_s\":%.0f,\"commits\":%llu,"
           "\"last_commit_us\":%lld,\"max_commit_us\":%lld}\n",
           (unsigned long long)st->rows_written, st->rows_written / ((t2 - t0) / 1e9),
           (unsigned long long)st->commits, (long long)st->last_commit_us,
           (long long)st->max_commit_us);

    static int64_t lat[BARRIERS];
    int done = 0;
    for (int i = 0; i < BARRIERS; i++) {
        int64_t b0 = now_ns();
        store_put_candle(s, VENUE_BINANCE_USDM, "BTCUSDT", TF_5M, &bars[i]);
        if (store_commit_then(s, on_done, &done) != STORE_OK)
            return 1;
        while (done <= i) {
            struct pollfd p = {.fd = store_fd(s), .events = POLLIN};
            if (poll(&p, 1, 1000) > 0)
                store_process(s);
        }
        lat[i] = now_ns() - b0;
    }
    qsort(lat, BARRIERS, sizeof lat[0], cmp_i64);
    printf("{\"bench\":\"store_barrier\",\"n\":%d,\"p50_us\":%.0f,\"p99_us\":%.0f,"
           "\"max_us\":%.0f}\n",
           BARRIERS, lat[BARRIERS / 2] / 1e3, lat[BARRIERS * 99 / 100] / 1e3,
           lat[BARRIERS - 1] / 1e3);

    static int64_t dlat[DURABLES];
    int acked = 0;
    uint64_t ahead_written = 0;
    for (int i = 0; i < DURABLES; i++) {
        uint64_t w0 = store_get_stats(s)->rows_written;
        for (int k = 0; k < BACKLOG; k++) {
            candle b = bars[k % n];
            b.open_ms += (int64_t)(i + 1) * 1000000000LL; /* new rows, not replacements */
            (void)store_put_candle(s, VENUE_BINANCE_USDM, "ETHUSDT", TF_1M, &b);
        }
        char key[32], json[96];
        snprintf(key, sizeof key, "bench-%d", i);
        snprintf(json, sizeof json, "{\"side\":\"buy\",\"qty\":\"0.001\",\"n\":%d}", i);
        store_record rec = {.kind = "intent", .key = key, .payload = json, .len = strlen(json)};
        int64_t d0 = now_ns();
        if (store_durable_put(s, &rec, on_durable, &acked, NULL) != STORE_OK)
            return 1;
        while (acked <= i) {
            struct pollfd p = {.fd = store_fd(s), .events = POLLIN};
            if (poll(&p, 1, 1000) > 0)
                store_process(s);
        }
        dlat[i] = now_ns() - d0;
        ahead_written += store_get_stats(s)->rows_written - w0;
        store_flush(s);
    }
    qsort(dlat, DURABLES, sizeof dlat[0], cmp_i64);
    printf("{\"bench\":\"store_durable\",\"n\":%d,\"backlog\":%d,\"p50_us\":%.0f,"
           "\"p99_us\":%.0f,\"max_us\":%.0f,\"backlog_written_at_ack\":%.0f}\n",
           DURABLES, BACKLOG, dlat[DURABLES / 2] / 1e3, dlat[DURABLES * 99 / 100] / 1e3,
           dlat[DURABLES - 1] / 1e3, (double)ahead_written / DURABLES);
    store_close(s);

    /* clean up the bench database and its directory */
    char f[600];
    const char *sfx[] = {"", "-wal", "-shm", ".lock"};
    for (int i = 0; i < 4; i++) {
        snprintf(f, sizeof f, "%s%s", db, sfx[i]);
        unlink(f);
    }
    *strrchr(db, '/') = '\0';
    rmdir(db);
    return 0;
}
