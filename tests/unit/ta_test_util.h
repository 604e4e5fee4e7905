/* Helpers for the indicator tests: load real kline files and TA-Lib reference CSVs (plain or
 * gzip) into memory. Test-only code; not a test binary itself (no test_ prefix). */
#ifndef KESTREL_TA_TEST_UTIL_H
#define KESTREL_TA_TEST_UTIL_H
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "kestrel/ta.h"
#include "kestrel/xmalloc.h"

typedef struct tt_bars {
    ta_bar *b;
    size_t n;
} tt_bars;

/* Bars of a klines CSV (header skipped). n = 0 when the file cannot be read. */
static inline tt_bars tt_load_bars(const char *path)
{
    tt_bars r = { NULL, 0 };
    size_t cap = 0;
    char line[512];
    gzFile gz = gzopen(path, "rb");
    if (!gz) {
        fprintf(stderr, "cannot open %s\n", path);
        return r;
    }
    while (gzgets(gz, line, sizeof(line))) {
        ta_bar b;
        long long t;
        if (sscanf(line, "%lld,%lf,%lf,%lf,%lf,%lf", &t, &b.o, &b.h, &b.l, &b.c, &b.v) != 6)
            continue;
        b.t = t;
        if (r.n == cap) {
            cap = cap ? cap * 2 : 1024;
            r.b = xrealloc(r.b, cap * sizeof(ta_bar));
        }
        r.b[r.n++] = b;
    }
    gzclose(gz);
    return r;
}

typedef struct tt_ref {
    char **cols; /* column names (without open_time_ms) */
    size_t ncols, nrows;
    long long *t;
    double *v; /* nrows x ncols, NaN = empty */
} tt_ref;

static inline tt_ref tt_load_ref(const char *path)
{
    tt_ref r;
    memset(&r, 0, sizeof(r));
    size_t cap = 0, len = 1 << 16;
    char *line = xmalloc(len);
    gzFile gz = gzopen(path, "rb");
    if (!gz) {
        fprintf(stderr, "cannot open %s\n", path);
        free(line);
        return r;
    }
    bool header = true;
    while (gzgets(gz, line, (int)len)) {
        line[strcspn(line, "\r\n")] = 0;
        if (header) { /* names may be quoted and hold commas: "MACD(12,26,9).outMACD" */
            char *p = line;
            while (*p) {
                char name[256];
                size_t o = 0;
                bool q = *p == '"';
                if (q)
                    p++;
                while (*p && (q ? *p != '"' : *p != ',') && o + 1 < sizeof(name))
                    name[o++] = *p++;
                name[o] = 0;
                if (q && *p == '"')
                    p++;
                if (*p == ',')
                    p++;
                if (strcmp(name, "open_time_ms") == 0)
                    continue;
                r.cols = xrealloc(r.cols, (r.ncols + 1) * sizeof(char *));
                r.cols[r.ncols++] = xstrdup(name);
            }
            header = false;
            continue;
        }
        if (r.nrows == cap) {
            cap = cap ? cap * 2 : 1024;
            r.t = xrealloc(r.t, cap * sizeof(long long));
            r.v = xrealloc(r.v, cap * r.ncols * sizeof(double));
        }
        double *row = r.v + r.nrows * r.ncols;
        char *p = line;
        r.t[r.nrows] = strtoll(p, &p, 10);
        for (size_t k = 0; k < r.ncols; k++) {
            if (*p == ',')
                p++;
            if (*p == ',' || *p == 0) {
                row[k] = NAN;
            } else {
                row[k] = strtod(p, &p);
            }
        }
        r.nrows++;
    }
    gzclose(gz);
    free(line);
    return r;
}

static inline void tt_free_ref(tt_ref *r)
{
    for (size_t k = 0; k < r->ncols; k++)
        free(r->cols[k]);
    free(r->cols);
    free(r->t);
    free(r->v);
}

/* Bitwise equality that treats NaN as equal to NaN. */
static inline bool tt_same(double a, double b)
{
    if (isnan(a) || isnan(b))
        return isnan(a) && isnan(b);
    return memcmp(&a, &b, sizeof(a)) == 0 || a == b;
}

/* |a-b| <= rel * max(|a|,|b|) */
static inline bool tt_near(double a, double b, double rel)
{
    if (isnan(a) || isnan(b))
        return isnan(a) && isnan(b);
    double m = fabs(a) > fabs(b) ? fabs(a) : fabs(b);
    return fabs(a - b) <= rel * m;
}

static inline void tt_path(char *buf, size_t len, const char *rel)
{
    snprintf(buf, len, "%s/%s", check_shared_data(), rel);
}

#endif
