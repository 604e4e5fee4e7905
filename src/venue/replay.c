/* Replay source: reads capture files (gzip or plain) and hands out their lines merged by receive
 * time, then decodes them with the file's venue and symbol.
 *
 * Shape: each file has a reader thread that reads the file and inflates it into a small ring of
 * fixed chunks (REPLAY_RING x REPLAY_CHUNK bytes), so inflating runs beside decoding on another
 * core; the merge (the owner's thread) copies chunks into the file's line buffer and keeps a
 * "head" (its next line, parsed timestamp, a span in that buffer). A binary min-heap keyed by
 * (head time, file index) picks the next line; the file that supplied it is only advanced on the
 * following replay_next(), so the span handed out stays valid until then without copying. A line
 * that outgrows REPLAY_LINE_MAX switches the file into a discard mode that drops bytes up to the
 * next newline, so memory stays bounded whatever the file holds.
 *
 * Opening never blocks and never reads a whole file: files are opened O_NONBLOCK and must be
 * regular files or pipes with a writer (a FIFO nobody writes to is refused at once). Venue and
 * symbol detection need a look at the data before the first line is delivered (a snapshot may
 * come first): each reader thread looks at a bounded head of a regular file (at most
 * REPLAY_PRESCAN_LINES lines and REPLAY_PRESCAN_BYTES bytes) and rewinds before it streams; the
 * merge delivers nothing until every file has its first line. Gzip is inflated with zlib's
 * inflate() over read(), so the reader knows its compressed position (replay_progress) and a
 * reader blocked on a quiet pipe is woken by replay_close(). A regular file of at most
 * REPLAY_INLINE_MAX bytes gets no thread: the merge runs the reader's steps itself (the bounded
 * pre-scan, then one chunk per fill), which costs less than a thread for so little. */
#include "kestrel/replay.h"

#include "kestrel/binance.h"
#include "kestrel/xmalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define REPLAY_BUF_INIT (256u << 10)  /* a file's line buffer to start with */
#define REPLAY_RAW_BUF (64u << 10)    /* compressed bytes per read() */
#define REPLAY_SCAN_BUF (256u << 10)  /* the pre-scan's line buffer (longer lines are skipped) */
#define REPLAY_SCAN_LEVELS 1024       /* the pre-scan's level scratch (a bigger depth is skipped) */
#define REPLAY_SMALL (4u << 10)       /* smallest chunk / line buffer for a small file */
#define REPLAY_LEVELS_INIT 1024u      /* decode scratch at first (grown to REPLAY_MAX_LEVELS) */
#define REPLAY_INLINE_MAX (64u << 10) /* a regular file this small gets no reader thread */

/* One file's input in the reader thread: raw read() and, for gzip, inflate. */
typedef struct replay_src {
    int fd;
    int stopfd;             /* readable once replay_close() wants the reader gone */
    z_stream z;
    bool zinit;
    int mode;               /* 0 undecided, 1 plain, 2 gzip */
    bool in_member;         /* inside a gzip member */
    bool in_eof;
    unsigned char *in;      /* REPLAY_RAW_BUF; z.next_in / z.avail_in are the unread part */
    uint64_t raw;           /* bytes read from the file */
    char error[160];
} replay_src;

typedef struct replay_chunk {
    char *data;       /* REPLAY_CHUNK bytes */
    size_t len;
    uint64_t raw_end; /* compressed bytes read when the chunk was complete */
} replay_chunk;

/* Between one reader thread and the merge; everything below mu is under it. */
typedef struct replay_shared {
    pthread_mutex_t mu;
    pthread_cond_t cond;   /* chunk published, slot freed, stop */
    replay_chunk ring[REPLAY_RING];
    unsigned head, count;  /* filled: ring[head .. head + count) mod REPLAY_RING */
    bool ended;            /* no chunk will follow those in the ring */
    bool stop;
    bool waiting;          /* the merge returned REPLAY_AGAIN on this file: kick the eventfd */
    bool learnt;           /* venue / symbol below are the pre-scan's answer */
    enum venue venue;
    enum replay_venue_from venue_from;
    char symbol[KSYM_MAX];
    bool read_error;
    char error[160];
} replay_shared;

typedef struct rfile {
    replay_file_info info;
    char *path;   /* owned; info.path points here */
    bool seekable;
    uint64_t raw_total; /* size of a regular file, 0 otherwise */
    size_t chunk;       /* bytes per ring chunk: REPLAY_CHUNK, less for a small file */
    uint64_t raw_pos;   /* compressed bytes behind what the merge has taken */
    replay_src src;     /* the reader thread's */
    replay_shared sh;
    bool sh_init, thread_started, learnt_taken;
    pthread_t thread;
    int evfd;           /* the replay's eventfd (copy) */
    int cur;            /* ring slot being copied from, -1 none */
    size_t cur_off;
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
    int head_venue;              /* the line's source tag, -1 none */
    char head_sym[KSYM_MAX];
} rfile;

struct replay {
    rfile *files;
    int n;
    int *heap; /* file indices, min-heap on (head_ns, index) */
    int nheap;
    int *todo; /* files that must advance before the merge can pick (their head is unknown) */
    int ntodo;
    bool nonblock;
    int evfd;   /* readable when a REPLAY_AGAIN is worth retrying */
    int stopfd; /* written once by replay_close: wakes readers waiting on a pipe */
    feed_level *levels; /* decode scratch of nlevels (REPLAY_LEVELS_INIT, grown once) */
    uint32_t nlevels;
    replay_stats st;
};

/* ---- the reader thread: bytes from the file ---- */

static void replay_kick(int evfd)
{
    uint64_t one = 1;
    ssize_t w = write(evfd, &one, sizeof one);
    (void)w; /* a full counter is still readable */
}

/* More raw input after what is unread: 1, 0 at the end of the file, -1 error or stop. */
static int replay_src_fill(replay_src *s)
{
    if (s->z.avail_in && s->z.next_in != s->in)
        memmove(s->in, s->z.next_in, s->z.avail_in);
    s->z.next_in = s->in;
    for (;;) {
        ssize_t n = read(s->fd, s->in + s->z.avail_in, REPLAY_RAW_BUF - s->z.avail_in);
        if (n > 0) {
            s->z.avail_in += (unsigned)n;
            s->raw += (uint64_t)n;
            return 1;
        }
        if (n == 0) {
            s->in_eof = true;
            return 0;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) { /* a pipe: wait for its writer or stop */
            struct pollfd p[2] = {{.fd = s->fd, .events = POLLIN}, {.fd = s->stopfd,
                                                                     .events = POLLIN}};
            if (poll(p, 2, -1) < 0 && errno != EINTR) {
                snprintf(s->error, sizeof s->error, "%s", strerror(errno));
                return -1;
            }
            if (p[1].revents) {
                snprintf(s->error, sizeof s->error, "stopped");
                return -1;
            }
            continue;
        }
        snprintf(s->error, sizeof s->error, "%s", strerror(errno));
        return -1;
    }
}

/* Up to cap decompressed bytes: > 0, 0 at the end, -1 on error (s->error). Gzip members may
 * follow each other; bytes after the last member that are not a gzip header are ignored (as
 * gzread does); a file that is not gzip at all is passed through. */
static long replay_src_read(replay_src *s, char *out, size_t cap)
{
    if (s->mode == 0) {
        while (s->z.avail_in < 2 && !s->in_eof)
            if (replay_src_fill(s) < 0)
                return -1;
        s->mode = s->z.avail_in >= 2 && s->z.next_in[0] == 0x1f && s->z.next_in[1] == 0x8b ? 2 : 1;
    }
    if (s->mode == 1) {
        if (s->z.avail_in == 0 && !s->in_eof && replay_src_fill(s) < 0)
            return -1;
        size_t k = s->z.avail_in < cap ? s->z.avail_in : cap;
        memcpy(out, s->z.next_in, k);
        s->z.next_in += k;
        s->z.avail_in -= (unsigned)k;
        return (long)k;
    }
    if (!s->zinit) {
        if (inflateInit2(&s->z, 15 + 16) != Z_OK) {
            snprintf(s->error, sizeof s->error, "out of memory in zlib");
            return -1;
        }
        s->zinit = true;
        s->in_member = true;
    }
    s->z.next_out = (unsigned char *)out;
    s->z.avail_out = (unsigned)cap;
    while (s->z.avail_out == cap) {
        if (!s->in_member) { /* between members: another one, or the end */
            while (s->z.avail_in < 2 && !s->in_eof)
                if (replay_src_fill(s) < 0)
                    return -1;
            if (s->z.avail_in < 2 || s->z.next_in[0] != 0x1f || s->z.next_in[1] != 0x8b)
                return 0;
            inflateReset(&s->z);
            s->in_member = true;
        }
        if (s->z.avail_in == 0) {
            if (s->in_eof) {
                snprintf(s->error, sizeof s->error, "unexpected end of file");
                return -1;
            }
            if (replay_src_fill(s) < 0)
                return -1;
            continue;
        }
        int zr = inflate(&s->z, Z_NO_FLUSH);
        if (zr == Z_STREAM_END)
            s->in_member = false;
        else if (zr != Z_OK && zr != Z_BUF_ERROR) {
            snprintf(s->error, sizeof s->error, "%s",
                     s->z.msg ? s->z.msg : zr == Z_MEM_ERROR ? "out of memory in zlib"
                                                             : "data error");
            return -1;
        }
    }
    return (long)(cap - s->z.avail_out);
}

/* Back to the start of a regular file (after the pre-scan). */
static int replay_src_rewind(replay_src *s)
{
    if (lseek(s->fd, 0, SEEK_SET) != 0) {
        snprintf(s->error, sizeof s->error, "cannot rewind: %s", strerror(errno));
        return -1;
    }
    s->mode = 0;
    s->in_member = s->in_eof = false;
    s->z.next_in = s->in;
    s->z.avail_in = 0;
    s->raw = 0;
    return 0;
}

/* The optional source tag of a `kestrel record` line, "<venue>[:<SYMBOL>] " before the JSON
 * (record.h): at s[*i] (a lower-case letter). 1 with the venue and symbol ("" when absent) and
 * *i past it, 0 when malformed. */
static int replay_parse_tag(const char *s, size_t n, size_t *i, int *venue, char *sym)
{
    char name[32];
    size_t k = 0, j = *i;
    while (j < n && ((s[j] >= 'a' && s[j] <= 'z') || s[j] == '-') && k < sizeof name - 1)
        name[k++] = s[j++];
    name[k] = '\0';
    enum venue v;
    sym[0] = '\0';
    if (strcmp(name, "wall") == 0 && j < n && s[j] == ' ') { /* a recorded wall-clock tick */
        *venue = REPLAY_TAG_WALL;
        *i = j;
        return 1;
    }
    if (venue_parse(name, &v) != K_OK)
        return 0;
    if (j < n && s[j] == ':') {
        j++;
        size_t m = 0;
        while (j < n && s[j] != ' ' && m < KSYM_MAX - 1) {
            char c = s[j++];
            if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-'))
                return 0;
            sym[m++] = c;
        }
        sym[m] = '\0';
        if (m == 0)
            return 0;
    }
    if (j >= n || s[j] != ' ')
        return 0;
    *venue = (int)v;
    *i = j;
    return 1;
}

/* "<ns> <json>" or "<secs>[.<frac>]: <json>", either with an optional source tag before the
 * JSON. 1 and the JSON span (venue -1 and sym "" without a tag), or 0 when malformed. */
static int replay_parse_stamp_tag(const char *s, size_t n, int64_t *ns, size_t *json_off,
                                  int *venue, char *sym);
static int replay_parse_stamp(const char *s, size_t n, int64_t *ns, size_t *json_off)
{
    int v;
    char sym[KSYM_MAX];
    return replay_parse_stamp_tag(s, n, ns, json_off, &v, sym);
}

static int replay_parse_stamp_tag(const char *s, size_t n, int64_t *ns, size_t *json_off,
                                  int *venue, char *sym)
{
    *venue = -1;
    sym[0] = '\0';
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
    if (i < n && s[i] >= 'a' && s[i] <= 'z') {
        if (!replay_parse_tag(s, n, &i, venue, sym))
            return 0;
        while (i < n && s[i] == ' ')
            i++;
    }
    if (i >= n)
        return 0;
    *json_off = i;
    return 1;
}

/* What one decoded message says about its file (pre-scan: sh fields, reader thread only). */
static void replay_learn(replay_shared *sh, const feed_event *ev)
{
    if (!sh->symbol[0] && ev->symbol[0])
        memcpy(sh->symbol, ev->symbol, KSYM_MAX);
    if (sh->venue_from == REPLAY_VENUE_DEFAULT) {
        if (ev->venue == VENUE_BINANCE_USDM) {
            sh->venue = VENUE_BINANCE_USDM;
            sh->venue_from = REPLAY_VENUE_DATA;
        } else if (ev->kind == FEED_DEPTH_DIFF) { /* a diff without "pu": spot */
            sh->venue = VENUE_BINANCE_SPOT;
            sh->venue_from = REPLAY_VENUE_DATA;
        }
    }
}

/* The bounded look at the head of a regular file, then the rewind. Runs in the reader before
 * the first chunk is published, so the merge sees the answer with that chunk. */
static int replay_prescan(rfile *f)
{
    replay_shared *sh = &f->sh;
    /* a small file's look needs less (a longer line is skipped by the look, not by the replay) */
    size_t scan = f->raw_total <= REPLAY_INLINE_MAX ? REPLAY_SCAN_BUF / 4 : REPLAY_SCAN_BUF;
    char *buf = xmalloc(scan);
    feed_level *levels = xmalloc(REPLAY_SCAN_LEVELS * sizeof *levels);
    size_t have = 0;
    uint64_t total = 0;
    int lines = 0;
    bool skipping = false, done = false;
    feed_event ev;
    const char *why;
    while (!done && lines < REPLAY_PRESCAN_LINES && total < REPLAY_PRESCAN_BYTES) {
        long n = replay_src_read(&f->src, buf + have, scan - have);
        if (n <= 0)
            break; /* an error shows again when the file is streamed */
        total += (uint64_t)n;
        have += (size_t)n;
        size_t pos = 0;
        for (;;) {
            char *nl = memchr(buf + pos, '\n', have - pos);
            if (!nl)
                break;
            size_t len = (size_t)(nl - (buf + pos));
            int64_t ns;
            size_t jo;
            if (!skipping && len && replay_parse_stamp(buf + pos, len, &ns, &jo)) {
                if (binance_decode(buf + pos + jo, len - jo, &ev, levels, REPLAY_SCAN_LEVELS,
                                   &why) == K_OK)
                    replay_learn(sh, &ev);
                if (++lines >= REPLAY_PRESCAN_LINES ||
                    (sh->symbol[0] && sh->venue_from != REPLAY_VENUE_DEFAULT)) {
                    done = true;
                    break;
                }
            }
            skipping = false;
            pos += len + 1;
        }
        if (pos == 0 && have == scan) { /* a line longer than the look: skip it */
            skipping = true;
            have = 0;
        } else {
            memmove(buf, buf + pos, have - pos);
            have -= pos;
        }
    }
    free(levels);
    free(buf);
    return replay_src_rewind(&f->src);
}

static void *replay_reader(void *arg)
{
    rfile *f = arg;
    replay_shared *sh = &f->sh;
    int rc = f->seekable ? replay_prescan(f) : 0;
    pthread_mutex_lock(&sh->mu);
    sh->learnt = true;
    pthread_mutex_unlock(&sh->mu);
    while (rc == 0) {
        pthread_mutex_lock(&sh->mu);
        while (sh->count == REPLAY_RING && !sh->stop)
            pthread_cond_wait(&sh->cond, &sh->mu);
        bool stop = sh->stop;
        replay_chunk *c = &sh->ring[(sh->head + sh->count) % REPLAY_RING];
        pthread_mutex_unlock(&sh->mu);
        if (stop)
            break;
        /* the free slot is the reader's alone until it is published */
        long n = replay_src_read(&f->src, c->data, f->chunk);
        if (n <= 0) {
            rc = n < 0 ? -1 : 1;
            break;
        }
        c->len = (size_t)n;
        c->raw_end = f->src.raw;
        pthread_mutex_lock(&sh->mu);
        sh->count++;
        pthread_cond_broadcast(&sh->cond);
        if (sh->waiting) {
            sh->waiting = false;
            replay_kick(f->evfd);
        }
        pthread_mutex_unlock(&sh->mu);
    }
    pthread_mutex_lock(&sh->mu);
    sh->ended = true;
    if (rc < 0 && !sh->stop) {
        sh->read_error = true;
        snprintf(sh->error, sizeof sh->error, "%s", f->src.error[0] ? f->src.error : "read error");
    }
    pthread_cond_broadcast(&sh->cond);
    if (sh->waiting) {
        sh->waiting = false;
        replay_kick(f->evfd);
    }
    pthread_mutex_unlock(&sh->mu);
    return NULL;
}

/* ---- the merge side: lines from the chunks ---- */

/* A small regular file has no reader thread: the merge runs the reader's steps itself, one
 * chunk at a time (the pre-scan first). Called with sh->mu not held and the ring empty. */
static void rfile_inline_step(rfile *f)
{
    replay_shared *sh = &f->sh;
    if (!sh->learnt) {
        if (replay_prescan(f) != 0) {
            sh->ended = sh->read_error = true;
            snprintf(sh->error, sizeof sh->error, "%s", f->src.error);
        }
        sh->learnt = true;
        if (sh->ended)
            return;
    }
    sh->head = 0; /* the ring is empty; the one chunk is slot 0 */
    replay_chunk *c = &sh->ring[0];
    long n = replay_src_read(&f->src, c->data, f->chunk);
    if (n <= 0) {
        sh->ended = true;
        if (n < 0) {
            sh->read_error = true;
            snprintf(sh->error, sizeof sh->error, "%s",
                     f->src.error[0] ? f->src.error : "read error");
        }
        return;
    }
    c->len = (size_t)n;
    c->raw_end = f->src.raw;
    sh->count = 1;
}

/* Moves decompressed bytes from the reader into f->buf: 1, 0 at the end, REPLAY_AGAIN when
 * none are ready and the replay does not block. */
static int rfile_fill(replay *r, rfile *f)
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
    replay_shared *sh = &f->sh;
    if (f->cur < 0) {
        pthread_mutex_lock(&sh->mu);
        while (sh->count == 0 && !sh->ended) {
            if (!f->thread_started) { /* a small file: read here (bounded: one chunk) */
                pthread_mutex_unlock(&sh->mu);
                rfile_inline_step(f);
                pthread_mutex_lock(&sh->mu);
                continue;
            }
            if (r->nonblock) {
                sh->waiting = true;
                pthread_mutex_unlock(&sh->mu);
                return REPLAY_AGAIN;
            }
            pthread_cond_wait(&sh->cond, &sh->mu);
        }
        if (!f->learnt_taken && sh->learnt) {
            f->learnt_taken = true;
            if (f->info.venue_from == REPLAY_VENUE_DEFAULT) {
                f->info.venue = sh->venue;
                f->info.venue_from = sh->venue_from;
            }
            if (!f->info.symbol[0])
                memcpy(f->info.symbol, sh->symbol, KSYM_MAX);
        }
        if (sh->count == 0) { /* ended */
            f->eof = true;
            f->raw_pos = f->raw_total;
            if (sh->read_error) {
                f->info.read_error = true;
                snprintf(f->info.error, sizeof f->info.error, "%s", sh->error);
            }
            pthread_mutex_unlock(&sh->mu);
            return 0;
        }
        f->cur = (int)sh->head;
        f->cur_off = 0;
        pthread_mutex_unlock(&sh->mu);
    }
    const replay_chunk *c = &sh->ring[f->cur];
    size_t k = c->len - f->cur_off;
    if (k > f->cap - f->end)
        k = f->cap - f->end;
    memcpy(f->buf + f->end, c->data + f->cur_off, k);
    f->end += k;
    f->cur_off += k;
    f->info.bytes += k;
    if (f->cur_off == c->len) {
        f->raw_pos = c->raw_end;
        f->cur = -1;
        pthread_mutex_lock(&sh->mu);
        sh->head = (sh->head + 1) % REPLAY_RING;
        sh->count--;
        pthread_cond_broadcast(&sh->cond);
        pthread_mutex_unlock(&sh->mu);
    }
    return 1;
}

/* Next physical line (without '\n' / trailing '\r'): 1 and its span, 0 at the end, or
 * REPLAY_AGAIN (the state is kept: the next call goes on where this one stopped). */
static int rfile_line(replay *r, rfile *f, size_t *off, size_t *len)
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
        int rc = rfile_fill(r, f);
        if (rc == REPLAY_AGAIN)
            return rc;
    }
}

/* Loads the file's next deliverable line into its head: 1, 0 at the end (has_head = false), or
 * REPLAY_AGAIN (no bytes ready, or the skip budget of a non-blocking call is spent). */
static int rfile_advance(replay *r, rfile *f)
{
    size_t off, len, jo;
    int64_t ns;
    int rc, skipped = 0;
    f->has_head = false;
    while ((rc = rfile_line(r, f, &off, &len)) == 1) {
        if (len == 0 ||
            !replay_parse_stamp_tag(f->buf + off, len, &ns, &jo, &f->head_venue, f->head_sym)) {
            if (len)
                f->info.malformed++; /* blank lines are skipped silently */
            if (r->nonblock && ++skipped >= REPLAY_SKIP_BUDGET) {
                replay_kick(r->evfd); /* nothing to wait for: come back at once */
                return REPLAY_AGAIN;
            }
            continue;
        }
        f->has_head = true;
        f->head_ns = ns;
        f->head_off = off + jo;
        f->head_len = len - jo;
        f->head_lineno = f->lineno;
        return 1;
    }
    if (rc == 0)
        f->info.done = true;
    return rc;
}

/* ---- the merge ---- */

static bool replay_before(const replay *r, int a, int b)
{
    const rfile *fa = &r->files[a], *fb = &r->files[b];
    return fa->head_ns < fb->head_ns || (fa->head_ns == fb->head_ns && a < b);
}

static void replay_heap_push(replay *r, int idx)
{
    int i = r->nheap++;
    while (i > 0) {
        int parent = (i - 1) / 2;
        if (!replay_before(r, idx, r->heap[parent]))
            break;
        r->heap[i] = r->heap[parent];
        i = parent;
    }
    r->heap[i] = idx;
}

static int replay_heap_pop(replay *r)
{
    int top = r->heap[0], last = r->heap[--r->nheap], i = 0;
    for (;;) {
        int c = 2 * i + 1;
        if (c >= r->nheap)
            break;
        if (c + 1 < r->nheap && replay_before(r, r->heap[c + 1], r->heap[c]))
            c++;
        if (!replay_before(r, r->heap[c], last))
            break;
        r->heap[i] = r->heap[c];
        i = c;
    }
    if (r->nheap > 0)
        r->heap[i] = last;
    return top;
}

/* Advances every file whose head is unknown: K_OK, or REPLAY_AGAIN (some are still waiting). */
static int replay_prime(replay *r)
{
    while (r->ntodo > 0) {
        int i = r->todo[r->ntodo - 1];
        int rc = rfile_advance(r, &r->files[i]);
        if (rc == REPLAY_AGAIN)
            return rc;
        r->ntodo--;
        if (rc == 1)
            replay_heap_push(r, i);
    }
    return K_OK;
}

/* ---- opening ---- */

static int replay_venue_prefix(const char *spec, enum venue *v, const char **path)
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
    replay_venue_prefix(spec, &v, &path);
    return path;
}

/* Opens without blocking; a regular file, or a pipe that has a writer (its first bytes, if any
 * are there already, stay in the reader's input). */
static int rfile_open(rfile *f, char *err, size_t errlen)
{
    struct stat sb;
    int fd = open(f->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open %s: %s", f->path, strerror(errno));
        return K_ERR;
    }
    f->src.fd = fd;
    if (fstat(fd, &sb) != 0) {
        snprintf(err, errlen, "cannot read %s: %s", f->path, strerror(errno));
        return K_ERR;
    }
    if (S_ISDIR(sb.st_mode)) {
        snprintf(err, errlen, "cannot read %s: is a directory", f->path);
        return K_ERR;
    }
    if (!S_ISREG(sb.st_mode) && !S_ISFIFO(sb.st_mode)) {
        snprintf(err, errlen, "cannot read %s: not a regular file or a pipe", f->path);
        return K_ERR;
    }
    f->seekable = S_ISREG(sb.st_mode);
    f->raw_total = f->seekable ? (uint64_t)sb.st_size : 0;
    f->src.in = xmalloc(REPLAY_RAW_BUF);
    f->src.z.next_in = f->src.in;
    if (!f->seekable) {
        /* Without a writer a FIFO reads as the end (0) at once; with one but no data, EAGAIN. */
        ssize_t n;
        do
            n = read(fd, f->src.in, REPLAY_RAW_BUF);
        while (n < 0 && errno == EINTR);
        if (n == 0) {
            snprintf(err, errlen, "cannot read %s: a pipe with no writer", f->path);
            return K_ERR;
        }
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
            snprintf(err, errlen, "cannot read %s: %s", f->path, strerror(errno));
            return K_ERR;
        }
        if (n > 0) {
            f->src.z.avail_in = (unsigned)n;
            f->src.raw = (uint64_t)n;
        }
    }
    return K_OK;
}

static int rfile_start(replay *r, rfile *f, char *err, size_t errlen)
{
    replay_shared *sh = &f->sh;
    pthread_mutex_init(&sh->mu, NULL);
    pthread_cond_init(&sh->cond, NULL);
    f->sh_init = true;
    sh->venue = f->info.venue;
    sh->venue_from = f->info.venue_from;
    f->evfd = r->evfd;
    f->src.stopfd = r->stopfd;
    f->cur = -1;
    if (f->seekable && f->raw_total <= REPLAY_INLINE_MAX) {
        sh->ring[0].data = xmalloc(f->chunk); /* no thread: one chunk, filled by the merge */
        return K_OK;
    }
    for (int k = 0; k < REPLAY_RING; k++)
        sh->ring[k].data = xmalloc(f->chunk);
    /* the reader takes no signal: they belong to the owner's loop (signalfd) */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&f->thread, NULL, replay_reader, f);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        snprintf(err, errlen, "cannot read %s: no reader thread: %s", f->path, strerror(rc));
        return K_ERR;
    }
    f->thread_started = true;
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
    r->todo = xcalloc((size_t)n, sizeof *r->todo);
    r->nlevels = REPLAY_LEVELS_INIT; /* 16 KB; the first message with more grows it, once */
    r->levels = xmalloc(r->nlevels * sizeof *r->levels);
    r->n = n;
    for (int i = 0; i < n; i++)
        r->files[i].src.fd = -1;
    r->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    r->stopfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (r->evfd < 0 || r->stopfd < 0) {
        snprintf(err, errlen, "cannot create the replay's eventfd: %s", strerror(errno));
        goto fail;
    }
    for (int i = 0; i < n; i++) {
        rfile *f = &r->files[i];
        const char *path;
        enum venue v = VENUE_BINANCE_SPOT;
        if (!specs[i] || !*specs[i]) {
            snprintf(err, errlen, "replay file %d: empty path", i + 1);
            goto fail;
        }
        if (replay_venue_prefix(specs[i], &v, &path)) {
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
        if (rfile_open(f, err, errlen) != K_OK)
            goto fail;
    }
    for (int i = 0; i < n; i++) {
        rfile *f = &r->files[i];
        /* a small regular file gets small buffers (they grow as its lines need) */
        size_t small = f->seekable && f->raw_total < REPLAY_BUF_INIT
                           ? (size_t)K_MAX(f->raw_total + 1, (uint64_t)REPLAY_SMALL)
                           : REPLAY_BUF_INIT;
        f->cap = small;
        f->chunk = K_MIN(small, (size_t)REPLAY_CHUNK);
        f->buf = xmalloc(f->cap);
        if (rfile_start(r, f, err, errlen) != K_OK)
            goto fail;
        r->todo[r->ntodo++] = n - 1 - i; /* file 0 advances first */
    }
    r->st.files = n;
    *out = r;
    return K_OK;
fail:
    replay_close(r);
    return K_ERR;
}

void replay_set_nonblock(replay *r, bool on)
{
    r->nonblock = on;
}

int replay_fd(const replay *r)
{
    return r->evfd;
}

void replay_fd_drain(replay *r)
{
    uint64_t v;
    ssize_t n = read(r->evfd, &v, sizeof v);
    (void)n; /* EAGAIN: nothing was pending */
}

int replay_wait_ready(replay *r)
{
    bool nb = r->nonblock;
    r->nonblock = false;
    int rc = replay_prime(r);
    r->nonblock = nb;
    return rc;
}

int replay_next(replay *r, replay_line *line)
{
    if (replay_prime(r) == REPLAY_AGAIN)
        return REPLAY_AGAIN;
    if (r->nheap == 0)
        return 0;
    int i = replay_heap_pop(r);
    rfile *f = &r->files[i];
    line->recv_ns = f->head_ns;
    line->json = f->buf + f->head_off;
    line->len = f->head_len;
    line->file = i;
    line->lineno = f->head_lineno;
    line->venue = f->head_venue;
    memcpy(line->symbol, f->head_sym, KSYM_MAX);
    if (f->info.lines++ == 0)
        f->info.first_ns = f->head_ns;
    f->info.last_ns = f->head_ns;
    if (r->st.lines++ == 0)
        r->st.first_ns = f->head_ns;
    r->st.last_ns = f->head_ns;
    r->todo[r->ntodo++] = i; /* advanced at the next call: the span stays valid until then */
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
    const char *w = NULL;
    int rc = binance_decode(line->json, line->len, ev, r->levels, r->nlevels, &w);
    if (rc != K_OK && r->nlevels < REPLAY_MAX_LEVELS && w && strcmp(w, "too many levels") == 0) {
        r->nlevels = REPLAY_MAX_LEVELS; /* a deep snapshot: the full scratch, kept from now on */
        free(r->levels);
        r->levels = xmalloc(r->nlevels * sizeof *r->levels);
        rc = binance_decode(line->json, line->len, ev, r->levels, r->nlevels, &w);
    }
    if (why)
        *why = w;
    if (rc != K_OK) {
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

double replay_progress(const replay *r)
{
    uint64_t pos = 0, total = 0;
    for (int i = 0; i < r->n; i++) {
        const rfile *f = &r->files[i];
        if (!f->seekable)
            return -1.0;
        pos += f->raw_pos < f->raw_total ? f->raw_pos : f->raw_total;
        total += f->raw_total;
    }
    return total ? (double)pos / (double)total : 1.0;
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
    if (r->stopfd >= 0)
        replay_kick(r->stopfd);
    for (int i = 0; i < r->n; i++) {
        rfile *f = &r->files[i];
        if (f->thread_started) {
            pthread_mutex_lock(&f->sh.mu);
            f->sh.stop = true;
            pthread_cond_broadcast(&f->sh.cond);
            pthread_mutex_unlock(&f->sh.mu);
            pthread_join(f->thread, NULL);
        }
        if (f->sh_init) {
            pthread_mutex_destroy(&f->sh.mu);
            pthread_cond_destroy(&f->sh.cond);
        }
        for (int k = 0; k < REPLAY_RING; k++)
            free(f->sh.ring[k].data);
        if (f->src.zinit)
            inflateEnd(&f->src.z);
        if (f->src.fd >= 0)
            close(f->src.fd);
        free(f->src.in);
        free(f->buf);
        free(f->path);
    }
    if (r->evfd >= 0)
        close(r->evfd);
    if (r->stopfd >= 0)
        close(r->stopfd);
    free(r->files);
    free(r->heap);
    free(r->todo);
    free(r->levels);
    free(r);
}
