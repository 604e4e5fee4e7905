/* Decode throughput on the bundled real captures (the data/replay .gz files, loaded into memory
 * first): (a) cJSON_Parse + cJSON_Delete, the parse-only reference, and (b) binance_decode; then
 * the replay source alone (gunzip + line split + merge of the 4 files) and replay + decode.
 * One JSON line per measurement; best of several passes (the machine is shared).
 * Usage: bench_decode [DATA_DIR]   (default data/replay) */
#include "kestrel/binance.h"
#include "kestrel/replay.h"
#include "kestrel/xmalloc.h"

#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#define PASSES 5
#define MAX_LEVELS 10000

typedef struct corpus {
    char *buf; /* every JSON part, NUL-terminated, back to back */
    size_t len, cap;
    size_t *off;
    size_t n, ncap;
} corpus;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int load(corpus *c, const char *path)
{
    gzFile f = gzopen(path, "rb");
    if (!f) {
        fprintf(stderr, "bench_decode: cannot open %s\n", path);
        return -1;
    }
    size_t lcap = 1 << 20;
    char *line = xmalloc(lcap);
    while (gzgets(f, line, (int)lcap)) {
        size_t n = strlen(line);
        while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = '\0';
        char *js = strchr(line, ' ');
        if (!js)
            continue;
        js++;
        n -= (size_t)(js - line);
        if (c->len + n + 1 > c->cap) {
            c->cap = (c->len + n + 1) * 2;
            c->buf = xrealloc(c->buf, c->cap);
        }
        if (c->n == c->ncap) {
            c->ncap = c->ncap ? c->ncap * 2 : 4096;
            c->off = xrealloc(c->off, c->ncap * sizeof *c->off);
        }
        c->off[c->n++] = c->len;
        memcpy(c->buf + c->len, js, n + 1);
        c->len += n + 1;
    }
    free(line);
    gzclose(f);
    return 0;
}

static void report(const char *impl, size_t msgs, double secs, size_t bytes)
{
    printf("{\"bench\":\"decode\",\"impl\":\"%s\",\"msgs\":%zu,\"seconds\":%.4f,"
           "\"msgs_per_s\":%.0f,\"mb_per_s\":%.1f}\n",
           impl, msgs, secs, (double)msgs / secs, (double)bytes / secs / 1e6);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "data/replay";
    static const char *const files[] = {"btcusdt_20240808.gz", "btcusdt_20240809.gz",
                                        "ethusdt_20240808.gz", "ethusdt_20240809.gz"};
    corpus c = {0};
    char paths[4][1024];
    const char *specs[4];
    for (int i = 0; i < 4; i++) {
        snprintf(paths[i], sizeof paths[i], "%s/%s", dir, files[i]);
        specs[i] = paths[i];
        if (load(&c, paths[i]) != 0)
            return 1;
    }
    size_t bytes = c.len - c.n;
    feed_level *lv = xmalloc(MAX_LEVELS * sizeof *lv);
    feed_event ev;
    const char *why;

    double best = 1e30;
    for (int pass = 0; pass < PASSES; pass++) {
        double t0 = now_s();
        size_t bad = 0;
        for (size_t i = 0; i < c.n; i++) {
            cJSON *j = cJSON_Parse(c.buf + c.off[i]);
            bad += j == NULL;
            cJSON_Delete(j);
        }
        double t = now_s() - t0;
        if (bad)
            fprintf(stderr, "bench_decode: cJSON refused %zu lines\n", bad);
        best = t < best ? t : best;
    }
    report("cjson", c.n, best, bytes);

    best = 1e30;
    uint64_t sink = 0;
    for (int pass = 0; pass < PASSES; pass++) {
        double t0 = now_s();
        size_t bad = 0;
        for (size_t i = 0; i < c.n; i++) {
            const char *s = c.buf + c.off[i];
            size_t n = (i + 1 < c.n ? c.off[i + 1] : c.len) - c.off[i] - 1;
            bad += binance_decode(s, n, &ev, lv, MAX_LEVELS, &why) != K_OK;
            sink += (uint64_t)ev.kind;
        }
        double t = now_s() - t0;
        if (bad)
            fprintf(stderr, "bench_decode: binance_decode refused %zu lines\n", bad);
        best = t < best ? t : best;
    }
    report("binance_decode", c.n, best, bytes);

    for (int mode = 0; mode < 2; mode++) {
        best = 1e30;
        size_t lines = 0;
        for (int pass = 0; pass < 3; pass++) {
            char err[256];
            replay *r;
            replay_line line;
            if (replay_open(&r, specs, 4, err, sizeof err) != K_OK) {
                fprintf(stderr, "bench_decode: %s\n", err);
                return 1;
            }
            double t0 = now_s();
            lines = 0;
            while (replay_next(r, &line) == 1) {
                lines++;
                if (mode == 1 && replay_decode(r, &line, &ev, &why) == K_OK)
                    sink += (uint64_t)ev.kind;
            }
            double t = now_s() - t0;
            replay_close(r);
            best = t < best ? t : best;
        }
        report(mode ? "replay+binance_decode" : "replay", lines, best, bytes);
    }
    if (sink == 42)
        puts("");
    free(lv);
    free(c.buf);
    free(c.off);
    return 0;
}
