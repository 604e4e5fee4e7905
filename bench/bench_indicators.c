/* Indicator benchmarks, JSON lines on stdout:
 *   indicators  - ns per bar to update every registered indicator (defaults) on one series
 *   indicators_peek - ns to peek the whole set at a forming bar
 *   chart_on_bar - ns per bar through ta_chart (set + validation + history ring)
 *   kestrel_ta  - bars/s through the `kestrel ta` pipeline in this process (ta_cli_run: gzip
 *                 read, parse, default set, CSV formatting to /dev/null) on the 45,031-bar BTC
 *                 perpetual file; bench/process.py times the real binary ("kestrel_ta_bin")
 * Times are the process's CPU time (CLOCK_PROCESS_CPUTIME_ID): on a shared machine wall time
 * mostly measures the neighbours; "wall_*" fields give wall time for reference.
 * Data: $KESTREL_SHARED_DATA or ../shared/data. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#include "kestrel/ta.h"
#include "kestrel/ta_cli.h"
#include "kestrel/xmalloc.h"

static double clock_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}
static double now_s(void)
{
    return clock_s(CLOCK_PROCESS_CPUTIME_ID);
}
static double wall_s(void)
{
    return clock_s(CLOCK_MONOTONIC);
}

static ta_bar *load(const char *path, size_t *n)
{
    gzFile gz = gzopen(path, "rb");
    char line[256];
    size_t cap = 0;
    ta_bar *b = NULL;
    *n = 0;
    if (!gz)
        return NULL;
    while (gzgets(gz, line, sizeof(line))) {
        ta_bar x;
        long long t;
        if (sscanf(line, "%lld,%lf,%lf,%lf,%lf,%lf", &t, &x.o, &x.h, &x.l, &x.c, &x.v) != 6)
            continue;
        x.t = t;
        if (*n == cap) {
            cap = cap ? cap * 2 : 4096;
            b = xrealloc(b, cap * sizeof(*b));
        }
        b[(*n)++] = x;
    }
    gzclose(gz);
    return b;
}

int main(void)
{
    const char *data = getenv("KESTREL_SHARED_DATA");
    char path[1024], specs[2048] = "", err[256];
    snprintf(path, sizeof(path), "%s/klines/btc-perp_1m_2021-12-31_2022-02-01.csv.gz",
             data && *data ? data : "../shared/data");
    size_t n;
    ta_bar *bars = load(path, &n);
    if (!bars || n == 0) {
        fprintf(stderr, "bench_indicators: cannot read %s\n", path);
        return 1;
    }
    for (uint32_t i = 0; i < ta_info_count(); i++) {
        strcat(specs, i ? "," : "");
        strcat(specs, ta_info_at(i)->name);
    }
    ta_set *set = ta_set_new(specs, err, sizeof(err));
    if (!set) {
        fprintf(stderr, "bench_indicators: %s\n", err);
        return 1;
    }
    uint32_t nout = ta_set_outputs(set);
    double *out = xmalloc(nout * sizeof(double)), sink = 0;

    /* full set, update per bar */
    size_t total = 0;
    double t0 = now_s(), t1, w0 = wall_s();
    do {
        ta_set_reset(set);
        for (size_t i = 0; i < n; i++) {
            ta_set_update(set, &bars[i], out);
            sink += out[0];
        }
        total += n;
        t1 = now_s();
    } while (t1 - t0 < 1.0);
    printf("{\"bench\":\"indicators\",\"ns_per_bar\":%.1f,\"wall_ns_per_bar\":%.1f,"
           "\"indicators\":%u,\"outputs\":%u,\"bars\":%zu}\n",
           (t1 - t0) * 1e9 / (double)total, (wall_s() - w0) * 1e9 / (double)total,
           ta_set_count(set), nout, total);

    /* peek at a forming bar (state from the whole series) */
    size_t peeks = 0;
    ta_bar f = bars[n - 1];
    f.t += 60000;
    t0 = now_s();
    do {
        for (int r = 0; r < 10000; r++) {
            f.c = bars[(size_t)r % n].c;
            ta_set_peek(set, &f, out);
            sink += out[1];
        }
        peeks += 10000;
        t1 = now_s();
    } while (t1 - t0 < 0.5);
    printf("{\"bench\":\"indicators_peek\",\"ns_per_peek\":%.1f,\"indicators\":%u}\n",
           (t1 - t0) * 1e9 / (double)peeks, ta_set_count(set));

    /* a typical chart with history */
    ta_chart *c = ta_chart_new("sma_20,ema_50,rsi_14,macd,bb_20_2,atr_14,vwap,supertrend", 500,
                               err, sizeof(err));
    total = 0;
    t0 = now_s();
    do {
        ta_chart_reset(c);
        for (size_t i = 0; i < n; i++)
            ta_chart_on_bar(c, &bars[i]);
        sink += ta_chart_last(c)[0];
        total += n;
        t1 = now_s();
    } while (t1 - t0 < 0.5);
    printf("{\"bench\":\"chart_on_bar\",\"ns_per_bar\":%.1f,\"indicators\":%u,"
           "\"history\":500,\"bytes\":%zu}\n",
           (t1 - t0) * 1e9 / (double)total, ta_chart_instances(c), ta_chart_memory(c));
    ta_chart_free(c);

    /* the kestrel ta pipeline */
    FILE *devnull = fopen("/dev/null", "w");
    ta_cli_stats st;
    total = 0;
    t0 = now_s();
    w0 = wall_s();
    do {
        if (ta_cli_run(path, NULL, TA_CLI_CSV, devnull, stderr, &st, err, sizeof(err)) != 0) {
            fprintf(stderr, "bench_indicators: %s\n", err);
            return 1;
        }
        total += st.bars;
        t1 = now_s();
    } while (t1 - t0 < 1.0);
    printf("{\"bench\":\"kestrel_ta\",\"bars_per_s\":%.0f,\"wall_bars_per_s\":%.0f,"
           "\"bars\":%llu,\"columns\":19}\n",
           (double)total / (t1 - t0), (double)total / (wall_s() - w0),
           (unsigned long long)st.bars);
    fclose(devnull);

    fprintf(stderr, "(sink %g)\n", sink);
    free(out);
    free(bars);
    ta_set_free(set);
    return 0;
}
