/* Kline CSV reader (see klines.h): zlib's gzgets reads plain and gzip alike, one bounded line at
 * a time; the first rows are read ahead to infer the interval, then handed out from that buffer
 * in file order, bad rows included, so every caller sees every refusal with its line number.
 * A row becomes a closed FEED_KLINE with exact kdec fields. This is the one kline parser:
 * `kestrel ta`, the backtest, the engine's tests and benches all read through it. */
#include "kestrel/klines.h"

#include "kestrel/decimal.h"
#include "kestrel/xmalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#define KLINES_AHEAD 16
#define KLINES_WHY 120

typedef struct klines_row {
    feed_event ev;
    uint64_t lineno;
    bool rounded;         /* a value had more than 8 decimals */
    char why[KLINES_WHY]; /* "" = a parsed row */
} klines_row;

struct klines {
    gzFile gz;
    enum venue venue;
    char symbol[KSYM_MAX];
    enum tf tf;
    char line[KLINES_LINE_MAX + 2];
    uint64_t lineno, rows, bad, rounded;
    uint64_t row_line; /* line of the row klines_next() returned last */
    int64_t last_open;
    bool series; /* klines_open_series: any values, any spacing */
    char err[KLINES_WHY];
    char io_err[200];
    klines_row ahead[KLINES_AHEAD];
    int nahead, iahead;
};

/* decimal_parse, and for a plain decimal with more than 8 fractional digits (recorded float
 * noise such as "218102.59507500002"), the value rounded half away from zero to 1e-8: *rounded
 * is set. Anything else decimal_parse refuses stays refused. */
static int klines_decimal(const char *s, kdec *out, bool *rounded)
{
    size_t len = strlen(s);
    if (decimal_parse(s, len, out) == K_OK)
        return K_OK;
    const char *dot = strchr(s, '.');
    if (!dot || (size_t)(s + len - dot - 1) <= 8 || len > 64)
        return K_ERR;
    for (const char *p = dot + 9; *p; p++)
        if (*p < '0' || *p > '9')
            return K_ERR;
    char buf[64];
    size_t keep = (size_t)(dot - s) + 9;
    memcpy(buf, s, keep);
    buf[keep] = '\0';
    if (decimal_parse(buf, keep, out) != K_OK)
        return K_ERR;
    if (dot[9] >= '5') {
        if (*out == KDEC_MAX || *out == -KDEC_MAX)
            return K_ERR;
        *out += s[0] == '-' ? -1 : 1;
    }
    *rounded = true;
    return K_OK;
}

/* Splits and parses one row into r (why set when it is refused). */
static void klines_parse(char *s, klines_row *r, bool series)
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
        snprintf(r->why, sizeof r->why,
                 "expected 6 fields: open_time_ms,open,high,low,close,volume");
        return;
    }
    char *end;
    errno = 0;
    long long t = strtoll(f[0], &end, 10);
    if (errno || end == f[0] || *end || t < 0) {
        snprintf(r->why, sizeof r->why, "open_time_ms \"%.40s\" is not an integer >= 0", f[0]);
        return;
    }
    kdec v[5];
    static const char *const names[5] = {"open", "high", "low", "close", "volume"};
    for (int i = 0; i < 5; i++) {
        if (klines_decimal(f[i + 1], &v[i], &r->rounded) != K_OK) {
            snprintf(r->why, sizeof r->why, "%s \"%.40s\" is not a decimal number", names[i],
                     f[i + 1]);
            return;
        }
    }
    if (series)
        ; /* a series (funding rates: negative, zeros in the other columns) is taken as it is */
    else if (v[0] <= 0 || v[1] <= 0 || v[2] <= 0 || v[3] <= 0)
        snprintf(r->why, sizeof r->why, "a price <= 0");
    else if (v[1] < v[2])
        snprintf(r->why, sizeof r->why, "high < low");
    else if (v[0] < v[2] || v[0] > v[1] || v[3] < v[2] || v[3] > v[1])
        snprintf(r->why, sizeof r->why, "open or close outside [low, high]");
    else if (v[4] < 0)
        snprintf(r->why, sizeof r->why, "negative volume");
    if (r->why[0])
        return;
    feed_event *ev = &r->ev;
    ev->kind = FEED_KLINE;
    ev->u.kline.open_ms = t;
    ev->u.kline.o = v[0];
    ev->u.kline.h = v[1];
    ev->u.kline.l = v[2];
    ev->u.kline.c = v[3];
    ev->u.kline.volume = v[4];
    ev->u.kline.closed = true;
}

/* Next raw row into r: 1 a row (parsed or refused, see r->why), 0 end of input. */
static int klines_read(klines *k, klines_row *r)
{
    memset(r, 0, sizeof *r);
    for (;;) {
        if (!gzgets(k->gz, k->line, sizeof k->line)) {
            int zerr = Z_OK;
            const char *msg = gzerror(k->gz, &zerr);
            if (zerr != Z_OK && !k->io_err[0]) /* a truncated gzip file ends in Z_BUF_ERROR */
                snprintf(k->io_err, sizeof k->io_err, "%s", msg && msg[0] ? msg : "read error");
            return 0;
        }
        k->lineno++;
        r->lineno = k->lineno;
        size_t len = strlen(k->line);
        if (len && k->line[len - 1] == '\n') {
            k->line[--len] = '\0';
        } else if (len == sizeof k->line - 1) { /* longer than the cap: skip the rest */
            int ch;
            while ((ch = gzgetc(k->gz)) != -1 && ch != '\n')
                ;
            snprintf(r->why, sizeof r->why, "line longer than %d bytes", KLINES_LINE_MAX);
            return 1;
        }
        if (len && k->line[len - 1] == '\r')
            k->line[--len] = '\0';
        if (len == 0)
            continue;
        if (k->lineno == 1 && (k->line[0] < '0' || k->line[0] > '9') && k->line[0] != '-')
            continue; /* header */
        klines_parse(k->line, r, k->series);
        r->ev.venue = k->venue;
        memcpy(r->ev.symbol, k->symbol, KSYM_MAX);
        return 1;
    }
}

static int klines_open_as(klines **out, const char *path, enum venue v, const char *symbol,
                          const char *interval, bool series, char *err, size_t errlen);

int klines_open(klines **out, const char *path, enum venue v, const char *symbol,
                const char *interval, char *err, size_t errlen)
{
    return klines_open_as(out, path, v, symbol, interval, false, err, errlen);
}

int klines_open_series(klines **out, const char *path, char *err, size_t errlen)
{
    return klines_open_as(out, path, VENUE_BINANCE_USDM, "SERIES", "1s", true, err, errlen);
}

static int klines_open_as(klines **out, const char *path, enum venue v, const char *symbol,
                          const char *interval, bool series, char *err, size_t errlen)
{
    *out = NULL;
    if (!symbol || !symbol[0] || strlen(symbol) >= KSYM_MAX) {
        snprintf(err, errlen, "a kline file needs a symbol (1..%d characters)", KSYM_MAX - 1);
        return K_ERR;
    }
    gzFile gz = NULL;
    if (strcmp(path, "-") == 0) {
        int fd = dup(0);
        gz = fd >= 0 ? gzdopen(fd, "rb") : NULL;
        if (!gz && fd >= 0)
            close(fd);
    } else {
        errno = 0;
        gz = gzopen(path, "rb");
    }
    if (!gz) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno ? errno : ENOENT));
        return K_ERR;
    }
    klines *k = xcalloc(1, sizeof *k);
    k->series = series;
    k->gz = gz;
    k->venue = v;
    memcpy(k->symbol, symbol, strlen(symbol) + 1);
    k->last_open = -1;
    int good = 0;
    while (k->nahead < KLINES_AHEAD && good < KLINES_AHEAD / 2) {
        klines_row *r = &k->ahead[k->nahead];
        if (klines_read(k, r) == 0)
            break;
        k->nahead++;
        good += !r->why[0];
    }
    if (k->io_err[0] && good == 0) { /* a directory, not gzip nor text, ... */
        snprintf(err, errlen, "cannot read %s: %s", path, k->io_err);
        klines_close(k);
        return K_ERR;
    }
    if (interval && interval[0]) {
        if (tf_parse(interval, &k->tf) != K_OK) {
            snprintf(err, errlen, "%s: interval \"%s\" is not one of 1s 1m 5m 15m 1h 4h 1d", path,
                     interval);
            klines_close(k);
            return K_ERR;
        }
    } else if (good > 0) {
        int64_t step = INT64_MAX, prev = -1;
        for (int i = 0; i < k->nahead; i++) {
            if (k->ahead[i].why[0])
                continue;
            int64_t t = k->ahead[i].ev.u.kline.open_ms;
            if (prev >= 0 && t > prev && t - prev < step)
                step = t - prev;
            prev = t;
        }
        bool found = false;
        for (int t = 0; t < TF_COUNT && step != INT64_MAX; t++)
            if (tf_ms((enum tf)t) == step)
                k->tf = (enum tf)t, found = true;
        if (!found && good > 1) {
            snprintf(err, errlen, "%s: cannot tell the interval from the first rows (give it; "
                     "one of 1s 1m 5m 15m 1h 4h 1d)", path);
            klines_close(k);
            return K_ERR;
        }
        if (!found) { /* a single row: the interval its open time is aligned to */
            int64_t t0 = prev;
            for (int t = TF_COUNT - 1; t >= 0 && !found; t--)
                if (t0 % tf_ms((enum tf)t) == 0)
                    k->tf = (enum tf)t, found = true;
        }
    }
    for (int i = 0; i < k->nahead; i++)
        snprintf(k->ahead[i].ev.u.kline.interval, sizeof k->ahead[i].ev.u.kline.interval, "%s",
                 tf_name(k->tf));
    *out = k;
    return K_OK;
}

int klines_next(klines *k, feed_event *ev)
{
    klines_row rd, *r;
    if (k->iahead < k->nahead) {
        r = &k->ahead[k->iahead++];
    } else {
        if (klines_read(k, &rd) == 0)
            return 0;
        r = &rd;
        snprintf(r->ev.u.kline.interval, sizeof r->ev.u.kline.interval, "%s", tf_name(k->tf));
    }
    k->row_line = r->lineno;
    if (r->why[0]) {
        snprintf(k->err, sizeof k->err, "%s", r->why);
        k->bad++;
        return -1;
    }
    int64_t t = r->ev.u.kline.open_ms;
    if ((!k->series && t % tf_ms(k->tf) != 0) || t <= k->last_open) {
        if (t % tf_ms(k->tf))
            snprintf(k->err, sizeof k->err, "open_time_ms %lld not aligned to the %s interval",
                     (long long)t, tf_name(k->tf));
        else
            snprintf(k->err, sizeof k->err, "open_time_ms %lld not after the previous row",
                     (long long)t);
        k->bad++;
        return -1;
    }
    *ev = r->ev;
    k->last_open = t;
    k->rows++;
    k->rounded += r->rounded;
    return 1;
}

const char *klines_error(const klines *k)
{
    return k->err;
}

uint64_t klines_line(const klines *k)
{
    return k->row_line;
}

const char *klines_io_error(const klines *k)
{
    return k->io_err[0] ? k->io_err : NULL;
}

enum tf klines_tf(const klines *k)
{
    return k->tf;
}

uint64_t klines_rows(const klines *k)
{
    return k->rows;
}

uint64_t klines_rounded(const klines *k)
{
    return k->rounded;
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

int klines_load_before(const char *path, enum venue v, const char *symbol, int64_t before_ms,
                       candle *out, uint32_t max, uint32_t *nout, char *err, size_t errlen)
{
    *nout = 0;
    klines *k = NULL;
    if (klines_open(&k, path, v, symbol, "", err, errlen) != K_OK)
        return K_ERR;
    uint32_t n = 0, head = 0; /* a ring of the newest max bars */
    feed_event ev;
    int r;
    while (max && (r = klines_next(k, &ev)) != 0) {
        if (r < 0 || ev.u.kline.open_ms + 60000 > before_ms)
            continue;
        candle c = {.open_ms = ev.u.kline.open_ms, .o = ev.u.kline.o, .h = ev.u.kline.h,
                    .l = ev.u.kline.l, .c = ev.u.kline.c, .volume = ev.u.kline.volume};
        if (n < max) {
            out[n++] = c;
        } else {
            out[head] = c;
            head = (head + 1) % max;
        }
    }
    if (klines_tf(k) != TF_1M) {
        snprintf(err, errlen, "%s is not 1m klines; not used", path);
        klines_close(k);
        return K_ERR;
    }
    klines_close(k);
    if (head) { /* oldest first: rotate the ring left by head */
        candle *tmp = xmalloc(head * sizeof *tmp);
        memcpy(tmp, out, head * sizeof *tmp);
        memmove(out, out + head, (n - head) * sizeof *out);
        memcpy(out + (n - head), tmp, head * sizeof *tmp);
        free(tmp);
    }
    *nout = n;
    return K_OK;
}
