/* Reads back a signals export (metrics_export_csv) for the tests that recompute metrics from it:
 * the columns by name from the header line, not by position. */
#ifndef KESTREL_TEST_SIGNALS_CSV_H
#define KESTREL_TEST_SIGNALS_CSV_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kestrel/metrics.h"

typedef struct csv_signal {
    int action, outcome, scored;
    double p_buy, p_hold, p_sell, confidence, ret;
    char result[16];
} csv_signal;

/* Splits line in place on commas (empty fields kept); returns the field count. */
static inline int csv_split(char *line, char **f, int max)
{
    int n = 0;
    line[strcspn(line, "\r\n")] = 0;
    f[n++] = line;
    for (char *p = line; *p && n < max; p++)
        if (*p == ',') {
            *p = 0;
            f[n++] = p + 1;
        }
    return n;
}

static inline int csv_col(char **hdr, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(hdr[i], name) == 0)
            return i;
    return -1;
}

/* Returns rows read into *out (malloc'd), or -1 when a required column is absent. */
static inline int csv_signals_read(FILE *fp, csv_signal **out)
{
    char hline[1024], line[1024], *h[64], *f[64];
    if (!fgets(hline, sizeof hline, fp))
        return -1;
    int nh = csv_split(hline, h, 64);
    const char *need[] = { "id", "time", "symbol", "horizon_end", "action", "p_buy", "p_hold",
                           "p_sell", "confidence", "strength", "outcome", "result", "return",
                           "scored" };
    int col[14];
    for (int i = 0; i < 14; i++)
        if ((col[i] = csv_col(h, nh, need[i])) < 0)
            return -1;
    int n = 0, cap = 0;
    csv_signal *v = NULL;
    while (fgets(line, sizeof line, fp)) {
        int nf = csv_split(line, f, 64);
        if (nf != nh)
            return -1;
        if (n == cap) {
            cap = cap ? 2 * cap : 256;
            v = realloc(v, (size_t)cap * sizeof *v);
        }
        csv_signal *s = &v[n++];
        s->action = metrics_class_parse(f[col[4]]);
        s->p_buy = strtod(f[col[5]], NULL);
        s->p_hold = strtod(f[col[6]], NULL);
        s->p_sell = strtod(f[col[7]], NULL);
        s->confidence = strtod(f[col[8]], NULL);
        s->outcome = metrics_class_parse(f[col[10]]);
        snprintf(s->result, sizeof s->result, "%s", f[col[11]]);
        s->ret = strtod(f[col[12]], NULL);
        s->scored = atoi(f[col[13]]);
    }
    *out = v;
    return n;
}

/* Recomputes n, accuracy, brier, log_loss, ece of the scored rows (the definitions of
 * metrics.h, written out again independently, summing in row order). */
static inline void csv_signals_metrics(const csv_signal *v, int n, double *out_n, double *acc,
                                       double *brier, double *ll, double *ece)
{
    double cnt = 0, right = 0, b = 0, l = 0, bn[10] = { 0 }, bc[10] = { 0 }, bh[10] = { 0 };
    for (int i = 0; i < n; i++) {
        if (!v[i].scored)
            continue;
        cnt++;
        right += v[i].action == v[i].outcome;
        double p[3] = { v[i].p_sell, v[i].p_hold, v[i].p_buy };
        double s = 0;
        for (int k = 0; k < 3; k++) {
            double d = p[k] - (k == v[i].outcome);
            s += d * d;
        }
        b += s;
        double po = p[v[i].outcome];
        l += -log(po > 1e-15 ? po : 1e-15);
        int bin = v[i].confidence > 0 ? (int)(v[i].confidence * 10) : 0;
        bin = bin > 9 ? 9 : bin;
        bn[bin]++;
        bc[bin] += v[i].confidence;
        bh[bin] += v[i].action == v[i].outcome;
    }
    double e = 0;
    for (int k = 0; k < 10; k++)
        if (bn[k] > 0)
            e += bn[k] / cnt * fabs(bh[k] / bn[k] - bc[k] / bn[k]);
    *out_n = cnt;
    *acc = right / cnt;
    *brier = b / cnt;
    *ll = l / cnt;
    *ece = e;
}
#endif
