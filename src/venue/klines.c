/* Kline CSV reader (see klines.h): zlib's gzgets reads plain and gzip alike, one bounded line at
 * a time; the first rows are read ahead to infer the interval, then handed out from that buffer.
 * A row becomes a closed FEED_KLINE with exact kdec fields. */
#include "kestrel/klines.h"

#include "kestrel/decimal.h"
#include "kestrel/xmalloc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define KLINES_AHEAD 16

struct klines {
    gzFile gz;
    enum venue venue;
    char symbol[KSYM_MAX];
    enum tf tf;
    char line[KLINES_LINE_MAX + 2];
    uint64_t lineno, rows, bad;
    int64_t last_open;
    char err[200];
    feed_event ahead[KLINES_AHEAD];
    int nahead, iahead;
    bool eof;
};

/* Splits and parses one row; K_ERR with k->err set. */
static int klines_parse(klines *k, char *s, feed_event *ev)
{
    char *f[6];
    int n = 0;
    for (char *p = s; n < 6;) {
        f[n++] = p;
        char *c = strchr(p, ',');
        if (!c)
            break;
        *c = '\0';
        p = c + 1;
    }
    if (n != 6 || strchr(f[5], ',')) {
        snprintf(k->err, sizeof k->err, "line %llu: %d fields, expected 6",
                 (unsigned long long)k->lineno, n);
        return K_ERR;
    }
    char *end;
    errno = 0;
    long long t = strtoll(f[0], &end, 10);
    if (errno || end == f[0] || *end || t < 0) {
        snprintf(k->err, sizeof k->err, "line %llu: bad open_time_ms \"%.40s\"",
                 (unsigned long long)k->lineno, f[0]);
        return K_ERR;
    }
    kdec v[5];
    static const char *const names[5] = {"open", "high", "low", "close", "volume"};
    for (int i = 0; i < 5; i++) {
        if (decimal_parse(f[i + 1], strlen(f[i + 1]), &v[i]) != K_OK) {
            snprintf(k->err, sizeof k->err, "line %llu: bad %s \"%.40s\"",
                     (unsigned long long)k->lineno, names[i], f[i + 1]);
            return K_ERR;
        }
    }
    memset(ev, 0, sizeof *ev);
    ev->kind = FEED_KLINE;
    ev->venue = k->venue;
    memcpy(ev->symbol, k->symbol, KSYM_MAX);
    ev->event_ms = 0;
    ev->u.kline.open_ms = t;
    ev->u.kline.o = v[0];
    ev->u.kline.h = v[1];
    ev->u.kline.l = v[2];
    ev->u.kline.c = v[3];
    ev->u.kline.volume = v[4];
    ev->u.kline.closed = true;
    return K_OK;
}

/* Next raw row: 1 parsed, 0 eof, -1 bad (counted). */
static int klines_read(klines *k, feed_event *ev)
{
    for (;;) {
        if (!gzgets(k->gz, k->line, sizeof k->line))
            return 0;
        k->lineno++;
        size_t len = strlen(k->line);
        if (len && k->line[len - 1] == '\n')
            k->line[--len] = '\0';
        else if (!gzeof(k->gz)) { /* longer than the cap: skip the rest */
            int ch;
            while ((ch = gzgetc(k->gz)) != -1 && ch != '\n')
                ;
            snprintf(k->err, sizeof k->err, "line %llu: longer than %d bytes",
                     (unsigned long long)k->lineno, KLINES_LINE_MAX);
            k->bad++;
            return -1;
        }
        if (len && k->line[len - 1] == '\r')
            k->line[--len] = '\0';
        if (len == 0)
            continue;
        if (k->lineno == 1 && (k->line[0] < '0' || k->line[0] > '9'))
            continue; /* header */
        if (klines_parse(k, k->line, ev) != K_OK) {
            k->bad++;
            return -1;
        }
        return 1;
    }
}

int klines_open(klines **out, const char *path, enum venue v, const char *symbol,
                const char *interval, char *err, size_t errlen)
{
    *out = NULL;
    if (!symbol || !symbol[0] || strlen(symbol) >= KSYM_MAX) {
        snprintf(err, errlen, "a kline file needs a symbol (1..%d characters)", KSYM_MAX - 1);
        return K_ERR;
    }
    gzFile gz = gzopen(path, "rb");
    if (!gz) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno ? errno : ENOENT));
        return K_ERR;
    }
    klines *k = xcalloc(1, sizeof *k);
    k->gz = gz;
    k->venue = v;
    memcpy(k->symbol, symbol, strlen(symbol) + 1);
    k->last_open = -1;
    while (k->nahead < KLINES_AHEAD) {
        int r = klines_read(k, &k->ahead[k->nahead]);
        if (r == 0)
            break;
        if (r > 0)
            k->nahead++;
    }
    if (interval && interval[0]) {
        if (tf_parse(interval, &k->tf) != K_OK) {
            snprintf(err, errlen, "%s: interval \"%s\" is not one of 1s 1m 5m 15m 1h 4h 1d", path,
                     interval);
            klines_close(k);
            return K_ERR;
        }
    } else {
        int64_t step = INT64_MAX;
        for (int i = 1; i < k->nahead; i++) {
            int64_t d = k->ahead[i].u.kline.open_ms - k->ahead[i - 1].u.kline.open_ms;
            if (d > 0 && d < step)
                step = d;
        }
        bool found = false;
        for (int t = 0; t < TF_COUNT && step != INT64_MAX; t++)
            if (tf_ms((enum tf)t) == step)
                k->tf = (enum tf)t, found = true;
        if (!found) {
            snprintf(err, errlen, "%s: cannot tell the interval from the first rows (give it; "
                     "one of 1s 1m 5m 15m 1h 4h 1d)", path);
            klines_close(k);
            return K_ERR;
        }
    }
    for (int i = 0; i < k->nahead; i++)
        snprintf(k->ahead[i].u.kline.interval, sizeof k->ahead[i].u.kline.interval, "%s",
                 tf_name(k->tf));
    *out = k;
    return K_OK;
}

int klines_next(klines *k, feed_event *ev)
{
    int r;
    if (k->iahead < k->nahead) {
        *ev = k->ahead[k->iahead++];
        r = 1;
    } else {
        r = klines_read(k, ev);
        if (r <= 0)
            return r;
        snprintf(ev->u.kline.interval, sizeof ev->u.kline.interval, "%s", tf_name(k->tf));
    }
    int64_t t = ev->u.kline.open_ms;
    if (t % tf_ms(k->tf) != 0 || t <= k->last_open) {
        snprintf(k->err, sizeof k->err, "row at open_time_ms %lld: %s", (long long)t,
                 t % tf_ms(k->tf) ? "not aligned to the interval" : "not after the previous row");
        k->bad++;
        return -1;
    }
    k->last_open = t;
    k->rows++;
    return 1;
}

const char *klines_error(const klines *k)
{
    return k->err;
}

enum tf klines_tf(const klines *k)
{
    return k->tf;
}

uint64_t klines_rows(const klines *k)
{
    return k->rows;
}

uint64_t klines_bad(const klines *k)
{
    return k->bad;
}

void klines_close(klines *k)
{
    if (!k)
        return;
    if (k->gz)
        gzclose(k->gz);
    free(k);
}
