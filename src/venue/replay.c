/* Replay source: reads capture files (gzip or plain, through zlib) and hands out their lines
 * merged by receive time, then decodes them with the file's venue and symbol.
 *
 * Shape: each file has one growable read buffer and a "head" (its next line, parsed timestamp,
 * a span in that buffer). A binary min-heap keyed by (head time, file index) picks the next line;
 * the file that supplied it is only advanced on the following replay_next(), so the span handed
 * out stays valid until then without copying. Lines are found with memchr over large gzread
 * chunks; a line that outgrows REPLAY_LINE_MAX switches the file into a discard mode that drops
 * bytes up to the next newline, so memory stays bounded whatever the file holds. Venue and symbol
 * detection need a look at the data before the first line is delivered (a snapshot may come
 * first), so open() pre-scans each seekable file and rewinds it. */
#include "kestrel/replay.h"

#include "kestrel/binance.h"
#include "kestrel/xmalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define READ_BUF_INIT (256u << 10)
#define GZ_BUF (128u << 10)

typedef struct rfile {
    replay_file_info info;
    char *path;   /* owned; info.path points here */
    gzFile gz;
    bool seekable;
    char *buf;
    size_t cap, start, end, scan; /* data in [start, end); no newline in [start, scan) */
    bool eof;                     /* no more input: end of file or read error */
    bool discard;                 /* inside an oversized line */
    uint64_t lineno;
    /* head: the next line to deliver */
    bool has_head;
    int64_t head_ns;
    size_t head_off, head_len;
    uint64_t head_lineno;
} rfile;

struct replay {
    rfile *files;
    int n;
    int *heap; /* file indices, min-heap on (head_ns, index) */
    int nheap;
    int pending; /* file whose head was delivered last and must advance, -1 = none */
    feed_level *levels;
    replay_stats st;
};

/* ---- reading lines ---- */

static void rfile_reset(rfile *f)
{
    f->start = f->end = f->scan = 0;
    f->eof = f->discard = false;
    f->lineno = 0;
    f->has_head = false;
    f->info.lines = f->info.malformed = f->info.oversized = f->info.bytes = 0;
    f->info.first_ns = f->info.last_ns = 0;
    f->info.read_error = false;
    f->info.error[0] = '\0';
    f->info.done = false;
}

static void rfile_fill(rfile *f)
{
    if (f->start > 0) {
        memmove(f->buf, f->buf + f->start, f->end - f->start);
        f->end -= f->start;
        f->scan -= f->start;
        f->start = 0;
    }
    if (f->end == f->cap) {
        size_t ncap = f->cap * 2;
        if (ncap > (size_t)REPLAY_LINE_MAX + 1)
            ncap = (size_t)REPLAY_LINE_MAX + 1;
        f->buf = xrealloc(f->buf, ncap);
        f->cap = ncap;
    }
    int n = gzread(f->gz, f->buf + f->end, (unsigned)(f->cap - f->end));
    if (n > 0) {
        f->end += (size_t)n;
        f->info.bytes += (uint64_t)n;
        return;
    }
    /* 0 is the end; a truncated gzip also ends in 0 with Z_BUF_ERROR left in gzerror */
    int zerr = Z_OK;
    const char *msg = gzerror(f->gz, &zerr);
    f->eof = true;
    if (n < 0 || zerr != Z_OK) {
        f->info.read_error = true;
        if (msg && strncmp(msg, "<fd:", 4) == 0 && strstr(msg, ": "))
            msg = strstr(msg, ": ") + 2; /* gzdopen names the file "<fd:N>" */
        snprintf(f->info.error, sizeof f->info.error, "%s",
                 zerr == Z_ERRNO ? strerror(errno) : msg && *msg ? msg : "read error");
    }
}

/* Next physical line (without '\n' / trailing '\r'): 1 and its span, or 0 at the end. */
static int rfile_line(rfile *f, size_t *off, size_t *len)
{
    for (;;) {
        char *nl = f->scan < f->end ? memchr(f->buf + f->scan, '\n', f->end - f->scan) : NULL;
        if (nl) {
            size_t lo = f->start, ll = (size_t)(nl - (f->buf + f->start));
            f->start = f->scan = (size_t)(nl - f->buf) + 1;
            f->lineno++;
            if (f->discard) {
                f->discard = false;
                f->info.malformed++;
                f->info.oversized++;
                continue;
            }
            if (ll && f->buf[lo + ll - 1] == '\r')
                ll--;
            *off = lo;
            *len = ll;
            return 1;
        }
        f->scan = f->end;
        if (f->discard || f->end - f->start > REPLAY_LINE_MAX) {
            f->discard = true; /* drop what we have; keep reading to the newline */
            f->start = f->end = f->scan = 0;
        }
        if (f->eof) {
            if (f->discard || f->end > f->start) { /* unterminated last line */
                f->lineno++;
                f->info.malformed++;
                if (f->discard)
                    f->info.oversized++;
                f->discard = false;
                f->start = f->end = f->scan = 0;
            }
            return 0;
        }
        rfile_fill(f);
    }
}

/* "<ns> <json>" or "<secs>[.<frac>]: <json>". 1 and the JSON span, or 0 when malformed. */
static int parse_stamp(const char *s, size_t n, int64_t *ns, size_t *json_off)
{
    size_t i = 0;
    uint64_t v = 0, frac = 0;
    while (i < n && s[i] >= '0' && s[i] <= '9') {
        if (v > ((uint64_t)INT64_MAX - 9) / 10)
            return 0;
        v = v * 10 + (uint64_t)(s[i] - '0');
        i++;
    }
    if (i == 0 || i >= n)
        return 0;
    if (s[i] == ' ') {
        *ns = (int64_t)v;
    } else {
        int fd = 0;
        if (s[i] == '.') {
            i++;
            size_t f0 = i;
            for (; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
                if (fd < 9) {
                    frac = frac * 10 + (uint64_t)(s[i] - '0');
                    fd++;
                }
            }
            if (i == f0)
                return 0;
        }
        if (i >= n || s[i] != ':' || v > (uint64_t)INT64_MAX / 1000000000u - 1)
            return 0;
        for (; fd < 9; fd++)
            frac *= 10;
        *ns = (int64_t)(v * 1000000000u + frac);
        i++;
    }
    while (i < n && (s[i] == ' ' || s[i] == '\t'))
        i++;
    if (i >= n)
        return 0;
    *json_off = i;
    return 1;
}

/* Loads the file's next deliverable line into its head (has_head = false at the end). */
static void rfile_advance(rfile *f)
{
    size_t off, len, jo;
    int64_t ns;
    f->has_head = false;
    while (rfile_line(f, &off, &len)) {
        if (len == 0)
            continue; /* blank line */
        if (!parse_stamp(f->buf + off, len, &ns, &jo)) {
            f->info.malformed++;
            continue;
        }
        f->has_head = true;
        f->head_ns = ns;
        f->head_off = off + jo;
        f->head_len = len - jo;
        f->head_lineno = f->lineno;
        return;
    }
    f->info.done = true;
}

/* ---- the merge ---- */

static bool before(const replay *r, int a, int b)
{
    const rfile *fa = &r->files[a], *fb = &r->files[b];
    return fa->head_ns < fb->head_ns || (fa->head_ns == fb->head_ns && a < b);
}

static void heap_push(replay *r, int idx)
{
    int i = r->nheap++;
    while (i > 0) {
        int parent = (i - 1) / 2;
        if (!before(r, idx, r->heap[parent]))
            break;
        r->heap[i] = r->heap[parent];
        i = parent;
    }
    r->heap[i] = idx;
}

static int heap_pop(replay *r)
{
    int top = r->heap[0], last = r->heap[--r->nheap], i = 0;
    for (;;) {
        int c = 2 * i + 1;
        if (c >= r->nheap)
            break;
        if (c + 1 < r->nheap && before(r, r->heap[c + 1], r->heap[c]))
            c++;
        if (!before(r, r->heap[c], last))
            break;
        r->heap[i] = r->heap[c];
        i = c;
    }
    if (r->nheap > 0)
        r->heap[i] = last;
    return top;
}

/* ---- opening ---- */

static int venue_prefix(const char *spec, enum venue *v, const char **path)
{
    static const struct {
        const char *prefix;
        enum venue v;
    } pre[] = {
        {"spot:", VENUE_BINANCE_SPOT},
        {"usdm:", VENUE_BINANCE_USDM},
        {"binance-spot:", VENUE_BINANCE_SPOT},
        {"binance-usdm:", VENUE_BINANCE_USDM},
    };
    for (size_t i = 0; i < K_ARRAY_LEN(pre); i++) {
        size_t n = strlen(pre[i].prefix);
        if (strncmp(spec, pre[i].prefix, n) == 0) {
            *v = pre[i].v;
            *path = spec + n;
            return 1;
        }
    }
    *path = spec;
    return 0;
}

const char *replay_spec_path(const char *spec)
{
    enum venue v;
    const char *path;
    venue_prefix(spec, &v, &path);
    return path;
}

static int rfile_open(rfile *f, char *err, size_t errlen)
{
    struct stat sb;
    int fd = open(f->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open %s: %s", f->path, strerror(errno));
        return K_ERR;
    }
    if (fstat(fd, &sb) != 0) {
        snprintf(err, errlen, "cannot read %s: %s", f->path, strerror(errno));
        close(fd);
        return K_ERR;
    }
    if (S_ISDIR(sb.st_mode)) {
        snprintf(err, errlen, "cannot read %s: is a directory", f->path);
        close(fd);
        return K_ERR;
    }
    f->seekable = S_ISREG(sb.st_mode);
    f->gz = gzdopen(fd, "rb");
    if (!f->gz) {
        snprintf(err, errlen, "cannot open %s: out of memory in zlib", f->path);
        close(fd);
        return K_ERR;
    }
    gzbuffer(f->gz, GZ_BUF);
    return K_OK;
}

/* What one decoded message says about its file. */
static void learn(rfile *f, const feed_event *ev)
{
    if (!f->info.symbol[0] && ev->symbol[0])
        memcpy(f->info.symbol, ev->symbol, KSYM_MAX);
    if (f->info.venue_from == REPLAY_VENUE_DEFAULT) {
        if (ev->venue == VENUE_BINANCE_USDM) {
            f->info.venue = VENUE_BINANCE_USDM;
            f->info.venue_from = REPLAY_VENUE_DATA;
        } else if (ev->kind == FEED_DEPTH_DIFF) { /* a diff without "pu": spot */
            f->info.venue = VENUE_BINANCE_SPOT;
            f->info.venue_from = REPLAY_VENUE_DATA;
        }
    }
}

static int rfile_prescan(replay *r, rfile *f, char *err, size_t errlen)
{
    feed_event ev;
    const char *why;
    for (int i = 0; i < REPLAY_PRESCAN_LINES; i++) {
        if (f->info.symbol[0] && f->info.venue_from != REPLAY_VENUE_DEFAULT)
            break;
        rfile_advance(f);
        if (!f->has_head)
            break;
        if (binance_decode(f->buf + f->head_off, f->head_len, &ev, r->levels, REPLAY_MAX_LEVELS,
                           &why) == K_OK)
            learn(f, &ev);
    }
    if (gzrewind(f->gz) != 0) {
        snprintf(err, errlen, "cannot rewind %s", f->path);
        return K_ERR;
    }
    rfile_reset(f);
    return K_OK;
}

int replay_open(replay **out, const char *const *specs, int n, char *err, size_t errlen)
{
    *out = NULL;
    if (errlen)
        err[0] = '\0';
    if (n <= 0 || !specs) {
        snprintf(err, errlen, "no replay files");
        return K_ERR;
    }
    if (n > REPLAY_MAX_FILES) {
        snprintf(err, errlen, "too many replay files: %d (at most %d)", n, REPLAY_MAX_FILES);
        return K_ERR;
    }
    replay *r = xcalloc(1, sizeof *r);
    r->files = xcalloc((size_t)n, sizeof *r->files);
    r->heap = xcalloc((size_t)n, sizeof *r->heap);
    r->levels = xmalloc(REPLAY_MAX_LEVELS * sizeof *r->levels);
    r->n = n;
    r->pending = -1;
    for (int i = 0; i < n; i++) {
        rfile *f = &r->files[i];
        const char *path;
        enum venue v = VENUE_BINANCE_SPOT;
        if (!specs[i] || !*specs[i]) {
            snprintf(err, errlen, "replay file %d: empty path", i + 1);
            goto fail;
        }
        if (venue_prefix(specs[i], &v, &path)) {
            f->info.venue_from = REPLAY_VENUE_PREFIX;
        } else if (strcasestr(path, "usdm") || strcasestr(path, "futures")) {
            v = VENUE_BINANCE_USDM;
            f->info.venue_from = REPLAY_VENUE_PATH;
        } else {
            f->info.venue_from = REPLAY_VENUE_DEFAULT;
        }
        f->info.venue = v;
        f->path = xstrdup(path);
        f->info.path = f->path;
        f->cap = READ_BUF_INIT;
        f->buf = xmalloc(f->cap);
        if (rfile_open(f, err, errlen) != K_OK)
            goto fail;
        if (f->seekable && rfile_prescan(r, f, err, errlen) != K_OK)
            goto fail;
    }
    for (int i = 0; i < n; i++) {
        rfile_advance(&r->files[i]);
        if (r->files[i].has_head)
            heap_push(r, i);
    }
    r->st.files = n;
    *out = r;
    return K_OK;
fail:
    replay_close(r);
    return K_ERR;
}

int replay_next(replay *r, replay_line *line)
{
    if (r->pending >= 0) {
        rfile *f = &r->files[r->pending];
        rfile_advance(f);
        if (f->has_head)
            heap_push(r, r->pending);
        r->pending = -1;
    }
    if (r->nheap == 0)
        return 0;
    int i = heap_pop(r);
    rfile *f = &r->files[i];
    line->recv_ns = f->head_ns;
    line->json = f->buf + f->head_off;
    line->len = f->head_len;
    line->file = i;
    line->lineno = f->head_lineno;
    if (f->info.lines++ == 0)
        f->info.first_ns = f->head_ns;
    f->info.last_ns = f->head_ns;
    if (r->st.lines++ == 0)
        r->st.first_ns = f->head_ns;
    r->st.last_ns = f->head_ns;
    r->pending = i;
    return 1;
}

int replay_decode(replay *r, const replay_line *line, feed_event *ev, const char **why)
{
    if (line->file < 0 || line->file >= r->n) {
        memset(ev, 0, sizeof *ev);
        if (why)
            *why = "bad replay line";
        return K_ERR;
    }
    rfile *f = &r->files[line->file];
    if (binance_decode(line->json, line->len, ev, r->levels, REPLAY_MAX_LEVELS, why) != K_OK) {
        f->info.decode_errors++;
        r->st.decode_errors++;
        ev->recv_ns = line->recv_ns;
        return K_ERR;
    }
    if (!f->info.symbol[0] && ev->symbol[0]) /* not seekable: learnt as we go */
        memcpy(f->info.symbol, ev->symbol, KSYM_MAX);
    ev->venue = f->info.venue;
    ev->recv_ns = line->recv_ns;
    if (ev->kind == FEED_DEPTH_SNAPSHOT && !ev->symbol[0])
        memcpy(ev->symbol, f->info.symbol, KSYM_MAX);
    return K_OK;
}

void replay_note_symbol(replay *r, int file, const char *symbol)
{
    if (file < 0 || file >= r->n || !symbol || strlen(symbol) >= KSYM_MAX)
        return;
    rfile *f = &r->files[file];
    if (!f->info.symbol[0])
        memcpy(f->info.symbol, symbol, strlen(symbol) + 1);
}

void replay_count_decode_error(replay *r, int file)
{
    if (file < 0 || file >= r->n)
        return;
    r->files[file].info.decode_errors++;
    r->st.decode_errors++;
}

const replay_stats *replay_get_stats(replay *r)
{
    replay_stats *st = &r->st;
    st->malformed = st->oversized = st->bytes = 0;
    st->read_errors = 0;
    for (int i = 0; i < r->n; i++) { /* the per-file counters are the truth; sum them */
        const replay_file_info *fi = &r->files[i].info;
        st->malformed += fi->malformed;
        st->oversized += fi->oversized;
        st->bytes += fi->bytes;
        st->read_errors += fi->read_error;
    }
    return st;
}

int replay_file_count(const replay *r)
{
    return r->n;
}

const replay_file_info *replay_file(const replay *r, int i)
{
    return i >= 0 && i < r->n ? &r->files[i].info : NULL;
}

void replay_close(replay *r)
{
    if (!r)
        return;
    for (int i = 0; i < r->n; i++) {
        rfile *f = &r->files[i];
        if (f->gz)
            gzclose(f->gz);
        free(f->buf);
        free(f->path);
    }
    free(r->files);
    free(r->heap);
    free(r->levels);
    free(r);
}
