/* Decode throughput on the bundled real captures (the data/replay .gz files, loaded into memory
 * first): (a) cJSON_Parse + cJSON_Delete, the parse-only reference, and (b) binance_decode;
 * (c) "pipeline": the app's ingest pipeline (ingest_frame_apply: decoder table, data clock,
 * market_apply into book, tape and candles, bar closes) per message, from memory, file by file,
 * with "ratio_vs_cjson" (the goal is >= 1.5); then the replay source alone (gunzip + line split +
 * merge of the 4 files) and replay + decode.
 * One JSON line per measurement; best of several passes (the machine is shared).
 * Usage: bench_decode [DATA_DIR]   (default data/replay) */
#include "kestrel/binance.h"
#include "kestrel/ingest.h"
#include "kestrel/market.h"
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
    int64_t *ns;  /* recorded receive time */
    uint8_t *file; /* which file the line came from */
    size_t n, ncap;
} corpus;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int load(corpus *c, const char *path, int fileno)
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
            c->ns = xrealloc(c->ns, c->ncap * sizeof *c->ns);
            c->file = xrealloc(c->file, c->ncap);
        }
        c->ns[c->n] = strtoll(line, NULL, 10);
        c->file[c->n] = (uint8_t)fileno;
        c->off[c->n++] = c->len;
        memcpy(c->buf + c->len, js, n + 1);
        c->len += n + 1;
    }
    free(line);
    gzclose(f);
    return 0;
}

static void report(const char *impl, size_t msgs, double secs, size_t bytes, double ref_secs)
{
    /* the issue's `pipeline` benchmark is the decode+book+tape+candles row */
    printf("{\"bench\":\"%s\",\"impl\":\"%s\",\"msgs\":%zu,\"seconds\":%.4f,"
           "\"msgs_per_s\":%.0f,\"mb_per_s\":%.1f",
           strcmp(impl, "pipeline") == 0 ? "pipeline" : "decode", impl, msgs, secs,
           (double)msgs / secs, (double)bytes / secs / 1e6);
    if (ref_secs > 0)
        printf(",\"ratio_vs_cjson\":%.2f", ref_secs / secs);
    printf("}\n");
    fflush(stdout);
}

static const char *line_at(const corpus *c, size_t i, size_t *n)
{
    *n = (i + 1 < c->n ? c->off[i + 1] : c->len) - c->off[i] - 1;
    return c->buf + c->off[i];
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
        if (load(&c, paths[i], i) != 0)
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
    report("cjson", c.n, best, bytes, 0);
    double cjson_secs = best;

    best = 1e30;
    uint64_t sink = 0;
    for (int pass = 0; pass < PASSES; pass++) {
        double t0 = now_s();
        size_t bad = 0;
        for (size_t i = 0; i < c.n; i++) {
            size_t n;
            const char *s = line_at(&c, i, &n);
            bad += binance_decode(s, n, &ev, lv, MAX_LEVELS, &why) != K_OK;
            sink += (uint64_t)ev.kind;
        }
        double t = now_s() - t0;
        if (bad)
            fprintf(stderr, "bench_decode: binance_decode refused %zu lines\n", bad);
        best = t < best ? t : best;
    }
    report("binance_decode", c.n, best, bytes, cjson_secs);

    /* the pipeline as the app runs it: ingest_frame_apply (decoder table, the file's venue and
     * the snapshot's symbol, data clock, apply, bar closes). The corpus is file by file, so each
     * symbol gets its own pipeline and market (one venue clock each, as if merged by time). */
    best = 1e30;
    for (int pass = 0; pass < PASSES; pass++) {
        market *m[2] = {market_new(&(market_limits){0}), market_new(&(market_limits){0})};
        ingest *pp[2] = {ingest_new(m[0], NULL, NULL), ingest_new(m[1], NULL, NULL)};
        static const char *const syms[4] = {"BTCUSDT", "BTCUSDT", "ETHUSDT", "ETHUSDT"};
        size_t bad = 0;
        double t0 = now_s();
        for (size_t i = 0; i < c.n; i++) {
            size_t n;
            const char *s = line_at(&c, i, &n);
            ingest_frame f = {.venue = VENUE_BINANCE_SPOT, .bytes = s, .len = n,
                              .recv_ns = c.ns[i], .symbol = syms[c.file[i]]};
            enum ingest_result r = ingest_frame_apply(pp[c.file[i] / 2], &f, &why);
            bad += r != INGEST_OK && r != INGEST_IGNORED;
        }
        double t = now_s() - t0;
        for (int k = 0; k < 2; k++) {
            ingest_free(pp[k]);
            market_free(m[k]);
        }
        if (bad)
            fprintf(stderr, "bench_decode: pipeline refused %zu lines\n", bad);
        best = t < best ? t : best;
    }
    report("pipeline", c.n, best, bytes, cjson_secs);

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
                if (mode == 1 && binance_decode(line.json, line.len, &ev, lv, MAX_LEVELS,
                                                &why) == K_OK)
                    sink += (uint64_t)ev.kind;
            }
            double t = now_s() - t0;
            replay_close(r);
            best = t < best ? t : best;
        }
        report(mode ? "replay+binance_decode" : "replay", lines, best, bytes, 0);
    }
    if (sink == 42)
        puts("");
    free(lv);
    free(c.buf);
    free(c.off);
    free(c.ns);
    free(c.file);
    return 0;
}
