/* `kestrel download --venue V --symbol S --interval TF --from DATE [--to DATE] [--out FILE.csv]`:
 * history through the one kline pager (klfetch.c) on a private loop, every page into the store's
 * candles table (upserts) and, with --out, appended to a CSV in the shared klines format.
 *
 * Resumable: after each page the store gets a setting `download.<venue>.<symbol>.<tf>` =
 * "<from> <next> <to>" queued behind that page's candles (one lane, so a committed progress
 * means its candles are committed). A rerun over the same range starts at the stored next (or
 * at the CSV's last bar + one period, whichever is earlier: both end complete); CSV rows at or
 * before the file's last bar are never written again and a torn last line (a kill mid-write) is
 * cut off first, so the file has no duplicates; the candles table is keyed by open time.
 * Progress bar and ETA on stderr only when it is a terminal. */
#include "kestrel/download.h"

#include "kestrel/config.h"
#include "kestrel/decimal.h"
#include "kestrel/http.h"
#include "kestrel/klfetch.h"
#include "kestrel/live.h"
#include "kestrel/loop.h"
#include "kestrel/store.h"
#include "kestrel/xmalloc.h"

#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define DOWNLOAD_USAGE                                                                          \
    "usage: kestrel download --venue VENUE --symbol SYMBOL --interval TF --from DATE "         \
    "[--to DATE] [--out FILE.csv] [--config FILE] [--db FILE] [--page N]\n"                     \
    "  VENUE binance-spot | binance-usdm | okx; TF 1s 1m 5m 15m 1h 4h 1d;\n"                   \
    "  DATE YYYY-MM-DD[THH:MM[:SS]] (UTC) or milliseconds; --to defaults to now\n"

typedef struct download {
    loop *l;
    store *st;
    FILE *csv;
    klfetch *f;
    enum venue venue;
    char symbol[KSYM_MAX];
    enum tf tf;
    int64_t from, to, start;
    int64_t csv_last; /* the CSV's last bar (-1: none) */
    char key[64];
    bool tty, done, interrupted;
    int rc;
    uint64_t bars, csv_rows;
    int64_t t0_ms;
    char err[512];
} download;

int download_parse_date(const char *s, int64_t *ms)
{
    if (!s || !*s)
        return K_ERR;
    bool digits = true;
    for (const char *p = s; *p; p++)
        digits = digits && isdigit((unsigned char)*p);
    if (digits && strlen(s) > 8) { /* milliseconds (a date has dashes) */
        errno = 0;
        long long v = strtoll(s, NULL, 10);
        if (errno)
            return K_ERR;
        *ms = v;
        return K_OK;
    }
    int y, mo, d, h = 0, mi = 0, se = 0, n = 0;
    char sep = 0;
    if (sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3)
        return K_ERR;
    const char *p = s + n;
    if (*p) {
        int k = 0;
        sep = *p;
        if ((sep != 'T' && sep != ' ') || sscanf(p + 1, "%2d:%2d%n", &h, &mi, &k) != 2)
            return K_ERR;
        p += 1 + k;
        if (*p == ':') {
            if (sscanf(p + 1, "%2d%n", &se, &k) != 1)
                return K_ERR;
            p += 1 + k;
        }
        if (*p == 'Z')
            p++;
        if (*p)
            return K_ERR;
    }
    if (y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
        se > 59)
        return K_ERR;
    /* days from civil (Howard Hinnant's algorithm): no timegm, no TZ */
    int yy = y - (mo <= 2);
    int era = yy / 400;
    int yoe = yy - era * 400;
    int doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    int64_t days = (int64_t)era * 146097 + doe - 719468;
    *ms = ((days * 24 + h) * 60 + mi) * 60000LL + se * 1000LL;
    return K_OK;
}

/* The CSV's last bar, after cutting a torn last line; -1 when it holds none. K_ERR when the
 * file is not a klines CSV. */
static int download_csv_tail(const char *path, int64_t *last, char *err, size_t errlen)
{
    *last = -1;
    FILE *fp = fopen(path, "r+");
    if (!fp && errno == ENOENT) {
        *last = -2; /* a new file: write the header */
        return K_OK;
    }
    if (!fp) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return K_ERR;
    }
    char line[512];
    long good = 0; /* offset after the last complete line */
    bool header = false;
    int rc = K_OK;
    while (fgets(line, sizeof line, fp)) {
        size_t n = strlen(line);
        if (n == 0 || line[n - 1] != '\n')
            break; /* torn: cut from here */
        good = ftell(fp);
        if (!header) {
            header = true;
            if (strncmp(line, "open_time_ms,", 13) != 0) {
                snprintf(err, errlen, "%s: not a klines CSV (its first line is not "
                         "open_time_ms,open,high,low,close,volume)", path);
                rc = K_ERR;
                break;
            }
            continue;
        }
        *last = strtoll(line, NULL, 10);
    }
    if (rc == K_OK && ftruncate(fileno(fp), good) != 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        rc = K_ERR;
    }
    fclose(fp);
    if (rc == K_OK && good == 0)
        *last = -2; /* empty file: write the header */
    return rc;
}

static void download_bar(download *dl, const klfetch_progress *p)
{
    if (!dl->tty)
        return;
    double span = (double)(p->to_ms - p->from_ms);
    double frac = span > 0 ? (double)(p->next_ms - dl->from) / (double)(dl->to - dl->from) : 1;
    if (frac > 1)
        frac = 1;
    if (frac < 0)
        frac = 0;
    int w = 30, fill = (int)(frac * w + 0.5);
    char bar[32];
    for (int i = 0; i < w; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[w] = '\0';
    double done_since = (double)(p->next_ms - dl->start);
    double left = (double)(dl->to - p->next_ms);
    double el = (double)(loop_mono_ms() - dl->t0_ms) / 1000.0;
    char eta[32] = "--:--";
    if (done_since > 0 && el > 0.2 && left > 0) {
        long s = (long)(el * left / done_since + 0.5);
        snprintf(eta, sizeof eta, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
    } else if (left <= 0) {
        snprintf(eta, sizeof eta, "0:00:00");
    }
    fprintf(stderr, "\r[%s] %3d%% %llu bars  ETA %s ", bar, (int)(frac * 100),
            (unsigned long long)dl->bars, eta);
    fflush(stderr);
}

static void download_on_page(void *ud, const candle *bars, uint32_t n)
{
    download *dl = ud;
    for (uint32_t i = 0; i < n; i++) {
        const candle *b = &bars[i];
        if (dl->st && store_put_candle(dl->st, dl->venue, dl->symbol, dl->tf, b) != STORE_OK) {
            snprintf(dl->err, sizeof dl->err, "the database refused a candle (queue full?)");
            dl->rc = 1;
        }
        if (dl->csv && b->open_ms > dl->csv_last) {
            char o[40], h[40], lo[40], c[40], v[40];
            decimal_format(b->o, 0, o, sizeof o);
            decimal_format(b->h, 0, h, sizeof h);
            decimal_format(b->l, 0, lo, sizeof lo);
            decimal_format(b->c, 0, c, sizeof c);
            decimal_format(b->volume, 0, v, sizeof v);
            fprintf(dl->csv, "%lld,%s,%s,%s,%s,%s\n", (long long)b->open_ms, o, h, lo, c, v);
            dl->csv_last = b->open_ms;
            dl->csv_rows++;
        }
    }
    dl->bars += n;
    if (dl->csv && fflush(dl->csv) != 0) {
        snprintf(dl->err, sizeof dl->err, "writing the CSV: %s", strerror(errno));
        dl->rc = 1;
    }
    klfetch_progress p;
    klfetch_get_progress(dl->f, &p);
    if (dl->st) { /* behind this page's candles on the same lane */
        char v[96];
        snprintf(v, sizeof v, "%lld %lld %lld", (long long)dl->from, (long long)p.next_ms,
                 (long long)dl->to);
        if (store_put_setting(dl->st, dl->key, v, loop_wall_ms()) != STORE_OK)
            dl->rc = 1;
    }
    download_bar(dl, &p);
    if (dl->rc)
        loop_stop(dl->l);
}

static void download_on_done(void *ud, enum klfetch_result r, const char *err)
{
    download *dl = ud;
    dl->done = true;
    if (r != KLFETCH_OK) {
        snprintf(dl->err, sizeof dl->err, "%s", err ? err : klfetch_strerror(r));
        dl->rc = 1;
    } else if (dl->st) {
        char v[96];
        snprintf(v, sizeof v, "%lld %lld %lld", (long long)dl->from, (long long)dl->to,
                 (long long)dl->to);
        if (store_put_setting(dl->st, dl->key, v, loop_wall_ms()) != STORE_OK)
            dl->rc = 1;
    }
    loop_stop(dl->l);
}

static void download_on_store(loop *l, int fd, unsigned ev, void *ud)
{
    (void)l;
    (void)fd;
    (void)ev;
    store_process(ud);
}

static void download_on_signal(loop *l, int signo, void *ud)
{
    (void)signo;
    download *dl = ud;
    dl->interrupted = true;
    loop_stop(l);
}

/* Where a rerun over [from, to) starts: the stored progress of a range that holds from, and
 * the CSV's last bar; the earlier of the two, so both end complete. */
static int64_t download_resume(download *dl)
{
    int64_t db_next = dl->from;
    char v[STORE_TEXT_MAX];
    long long f, nx, t;
    if (dl->st && store_get_setting(dl->st, dl->key, v, sizeof v) == STORE_OK &&
        sscanf(v, "%lld %lld %lld", &f, &nx, &t) == 3 && f <= dl->from && nx > dl->from)
        db_next = nx < dl->to ? nx : dl->to;
    if (!dl->csv)
        return db_next;
    int64_t csv_next = dl->csv_last >= dl->from ? dl->csv_last + tf_ms(dl->tf) : dl->from;
    return csv_next < db_next ? csv_next : db_next;
}

int download_main(int argc, char **argv)
{
    const char *venue = NULL, *symbol = NULL, *interval = NULL, *from = NULL, *to = NULL,
               *out = NULL, *cfgpath = NULL, *db = NULL, *page = NULL;
    for (int i = 1; i < argc; i++) {
        const char **dst = NULL;
        if (!strcmp(argv[i], "--venue"))
            dst = &venue;
        else if (!strcmp(argv[i], "--symbol"))
            dst = &symbol;
        else if (!strcmp(argv[i], "--interval"))
            dst = &interval;
        else if (!strcmp(argv[i], "--from"))
            dst = &from;
        else if (!strcmp(argv[i], "--to"))
            dst = &to;
        else if (!strcmp(argv[i], "--out"))
            dst = &out;
        else if (!strcmp(argv[i], "--config"))
            dst = &cfgpath;
        else if (!strcmp(argv[i], "--db"))
            dst = &db;
        else if (!strcmp(argv[i], "--page"))
            dst = &page;
        else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(DOWNLOAD_USAGE, stdout);
            return 0;
        }
        if (!dst || i + 1 >= argc) {
            fprintf(stderr, "kestrel download: %s '%s'\n%s",
                    dst ? "missing value for" : "unknown argument", argv[i], DOWNLOAD_USAGE);
            return 2;
        }
        *dst = argv[++i];
    }
    if (!venue || !symbol || !interval || !from) {
        fprintf(stderr, "kestrel download: --venue, --symbol, --interval and --from are "
                "required\n%s", DOWNLOAD_USAGE);
        return 2;
    }
    download dl = {.rc = 0, .csv_last = -1};
    if (venue_parse(venue, &dl.venue) != K_OK) {
        fprintf(stderr, "kestrel download: unknown venue '%s' (binance-spot, binance-usdm, "
                "okx)\n", venue);
        return 2;
    }
    size_t sl = strlen(symbol);
    if (sl == 0 || sl >= KSYM_MAX) {
        fprintf(stderr, "kestrel download: bad symbol '%s'\n", symbol);
        return 2;
    }
    for (size_t i = 0; i <= sl; i++)
        dl.symbol[i] = (char)toupper((unsigned char)symbol[i]);
    if (tf_parse(interval, &dl.tf) != K_OK || !klfetch_interval(dl.venue, dl.tf)) {
        fprintf(stderr, "kestrel download: interval '%s' is not one of 1s 1m 5m 15m 1h 4h 1d "
                "(1s: binance-spot and okx only)\n", interval);
        return 2;
    }
    int64_t ms = tf_ms(dl.tf);
    if (download_parse_date(from, &dl.from) != K_OK ||
        (to && download_parse_date(to, &dl.to) != K_OK)) {
        fprintf(stderr, "kestrel download: bad date '%s' (YYYY-MM-DD[THH:MM[:SS]] UTC, or "
                "milliseconds)\n", download_parse_date(from, &dl.from) != K_OK ? from : to);
        return 2;
    }
    if (!to)
        dl.to = loop_wall_ms();
    dl.from -= dl.from % ms;
    if (dl.to <= dl.from) {
        fprintf(stderr, "kestrel download: --to must be after --from\n");
        return 2;
    }
    long pg = page ? strtol(page, NULL, 10) : 0;
    if (page && (pg < 1 || pg > KLFETCH_PAGE_MAX)) {
        fprintf(stderr, "kestrel download: --page must be 1..%d\n", KLFETCH_PAGE_MAX);
        return 2;
    }
    kconfig *cfg = xmalloc(sizeof *cfg);
    char err[1024], base[CONFIG_URL_MAX];
    if (config_load(cfg, cfgpath, NULL, NULL, err, sizeof err) != K_OK ||
        live_rest_base(cfg, dl.venue, base, sizeof base, err, sizeof err) != K_OK) {
        fprintf(stderr, "kestrel download: %s\n", err);
        free(cfg);
        return 2;
    }
    snprintf(dl.key, sizeof dl.key, "download.%s.%s.%s", venue_name(dl.venue), dl.symbol,
             tf_name(dl.tf));

    int rc = 1;
    dl.l = loop_new();
    http_opts ho = {.ca_file = cfg->venues[dl.venue].ca_file[0] ? cfg->venues[dl.venue].ca_file
                                                                : NULL};
    http_client *http = dl.l ? http_new(dl.l, &ho) : NULL;
    store_opts so = {0};
    const char *dbp = db ? db : cfg->db_path;
    if (!http) {
        fprintf(stderr, "kestrel download: cannot start the REST client\n");
        goto out;
    }
    if (store_open(&dl.st, dbp, &so, err, sizeof err) != STORE_OK) {
        fprintf(stderr, "kestrel download: %s\n", err);
        goto out;
    }
    if (loop_watch(dl.l, store_fd(dl.st), LOOP_READ, download_on_store, dl.st) != K_OK)
        goto out;
    if (out) {
        if (download_csv_tail(out, &dl.csv_last, err, sizeof err) != K_OK) {
            fprintf(stderr, "kestrel download: %s\n", err);
            goto out;
        }
        dl.csv = fopen(out, "a");
        if (!dl.csv) {
            fprintf(stderr, "kestrel download: %s: %s\n", out, strerror(errno));
            goto out;
        }
        if (dl.csv_last == -2) {
            fputs("open_time_ms,open,high,low,close,volume\n", dl.csv);
            dl.csv_last = -1;
        }
    }
    dl.start = download_resume(&dl);
    dl.tty = isatty(STDERR_FILENO);
    int sigs[] = {SIGINT, SIGTERM};
    if (loop_signals(dl.l, sigs, 2, download_on_signal, &dl) != K_OK)
        goto out;
    if (dl.start >= dl.to) {
        printf("download: %s %s %s already complete up to %lld\n", venue_name(dl.venue),
               dl.symbol, tf_name(dl.tf), (long long)dl.to);
        rc = 0;
        goto out;
    }
    klfetch_opts ko = {.loop = dl.l, .http = http, .venue = dl.venue, .rest_base = base,
                       .symbol = dl.symbol, .tf = dl.tf, .from_ms = dl.start, .to_ms = dl.to,
                       .page = (uint32_t)pg, .on_page = download_on_page,
                       .on_done = download_on_done, .ud = &dl};
    dl.t0_ms = loop_mono_ms();
    dl.f = klfetch_start(&ko, err, sizeof err);
    if (!dl.f) {
        fprintf(stderr, "kestrel download: %s\n", err);
        rc = 2;
        goto out;
    }
    if (dl.start > dl.from)
        fprintf(stderr, "download: resuming at %lld (%s %s %s)\n", (long long)dl.start,
                venue_name(dl.venue), dl.symbol, tf_name(dl.tf));
    (void)loop_run(dl.l);
    if (dl.tty)
        fputc('\n', stderr);
    klfetch_progress p;
    klfetch_get_progress(dl.f, &p);
    if (dl.interrupted) {
        fprintf(stderr, "download: interrupted at %lld; run the same command again to resume\n",
                (long long)p.next_ms);
        rc = 1;
    } else if (dl.rc || !dl.done) {
        fprintf(stderr, "kestrel download: %s\n", dl.err[0] ? dl.err : "stopped");
        rc = 1;
    } else {
        printf("download: %s %s %s: %llu bars in %llu requests (%llu waits, %llu retries) into "
               "%s%s%s\n", venue_name(dl.venue), dl.symbol, tf_name(dl.tf),
               (unsigned long long)dl.bars, (unsigned long long)p.requests,
               (unsigned long long)p.waits, (unsigned long long)p.retries, dbp,
               out ? " and " : "", out ? out : "");
        rc = 0;
    }
out:
    klfetch_free(dl.f);
    if (dl.csv && fclose(dl.csv) != 0 && rc == 0) {
        fprintf(stderr, "kestrel download: %s: %s\n", out, strerror(errno));
        rc = 1;
    }
    if (dl.st) {
        store_flush(dl.st);
        loop_unwatch(dl.l, store_fd(dl.st));
        store_close(dl.st);
    }
    http_free(http);
    loop_free(dl.l);
    free(cfg);
    return rc;
}
