/* Logging: one klog per process, owned by the app struct, written from the main thread and the
 * worker threads alike.
 *
 * Shape: each call formats into a bounded stack buffer, escapes control characters (so a message
 * that carries text from the network cannot forge extra lines), prefixes a UTC timestamp and the
 * level, and hands the finished line to a single write(2) on an O_APPEND descriptor under a
 * mutex. Messages below the level filter are counted but never formatted, so debug calls on hot
 * paths cost one atomic increment. A failed write is counted (log_dropped) and otherwise ignored:
 * logging must never take the process down, including SIGPIPE on a closed stderr pipe.
 *
 * The tail: the last LOG_TAIL_LINES lines that passed the level filter (written or not: a
 * disabled log still keeps them) are also copied, cut to LOG_TAIL_COLS bytes, into a ring in
 * memory under their own short lock (a memcpy, never held across a write), so the System screen
 * shows the log without reading the file, and a thread blocked in write(2) never holds it.
 *
 * Where the roadmap plugs in: secret redaction (API keys, signatures) belongs on the formatted
 * message before it is escaped (it may only shorten it); size-based rotation belongs under the
 * lock, just before the write (it may swap lg->fd). */
#include "kestrel/log.h"

#include "kestrel/xmalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define LOG_LEVELS 4
#define LOG_PREFIX_MAX 40  /* "2024-08-08T23:54:13.123Z DEBUG " */
#define LOG_SUFFIX_MAX 48  /* " [truncated, 18446744073709551615 bytes]" */

struct klog {
    int fd;          /* -1: disabled */
    bool own_fd;     /* close it in log_close (not stderr) */
    bool pipe_like;  /* a pipe or socket: guard writes against SIGPIPE */
    enum log_level level;
    pthread_mutex_t lock; /* serialises writes */
    _Atomic uint64_t counts[LOG_LEVELS];
    _Atomic uint64_t dropped;
    char path[CONFIG_PATH_MAX];
    pthread_mutex_t tail_lock; /* the tail ring only */
    char tail[LOG_TAIL_LINES][LOG_TAIL_COLS];
    uint32_t tail_head, tail_n; /* oldest at tail_head */
    _Atomic uint64_t tail_seq;  /* lines ever kept */
};

klog *log_open(const char *path, bool to_stderr, enum log_level level, char *err, size_t errlen)
{
    klog *lg = xcalloc(1, sizeof *lg);
    lg->fd = -1;
    lg->level = level;
    if (path && *path) {
        if (strlen(path) >= sizeof lg->path) {
            snprintf(err, errlen, "log file name too long (at most %zu characters)",
                     sizeof lg->path - 1);
            free(lg);
            return NULL;
        }
        int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY, 0600);
        if (fd < 0) {
            snprintf(err, errlen, "%s: cannot open log file: %s", path, strerror(errno));
            free(lg);
            return NULL;
        }
        memcpy(lg->path, path, strlen(path) + 1);
        lg->fd = fd;
        lg->own_fd = true;
    } else if (to_stderr) {
        lg->fd = STDERR_FILENO;
    }
    if (lg->fd >= 0) {
        struct stat st;
        if (fstat(lg->fd, &st) == 0)
            lg->pipe_like = S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode);
    }
    if (pthread_mutex_init(&lg->lock, NULL) != 0) {
        snprintf(err, errlen, "cannot create the log lock");
        if (lg->own_fd)
            close(lg->fd);
        free(lg);
        return NULL;
    }
    if (pthread_mutex_init(&lg->tail_lock, NULL) != 0) {
        snprintf(err, errlen, "cannot create the log lock");
        pthread_mutex_destroy(&lg->lock);
        if (lg->own_fd)
            close(lg->fd);
        free(lg);
        return NULL;
    }
    return lg;
}

void log_close(klog *lg)
{
    if (!lg)
        return;
    if (lg->own_fd)
        close(lg->fd);
    pthread_mutex_destroy(&lg->lock);
    pthread_mutex_destroy(&lg->tail_lock);
    free(lg);
}

uint64_t log_count(const klog *lg, enum log_level level)
{
    if (!lg || (unsigned)level >= LOG_LEVELS)
        return 0;
    return atomic_load(&lg->counts[level]);
}

uint64_t log_dropped(const klog *lg)
{
    return lg ? atomic_load(&lg->dropped) : 0;
}

static size_t utf8_seq_len(unsigned char ch)
{
    if (ch >= 0xF0 && ch <= 0xF7)
        return 4;
    if (ch >= 0xE0)
        return ch <= 0xEF ? 3 : 1;
    if (ch >= 0xC0)
        return 2;
    return 1;
}

/* Copies msg to out with control characters escaped, at most cap bytes, never splitting a UTF-8
 * sequence. Returns the bytes written; *cut says whether msg did not fit. */
static size_t escape_into(char *out, size_t cap, const char *msg, size_t len, bool *cut)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0, i = 0;
    while (i < len) {
        unsigned char ch = (unsigned char)msg[i];
        if (ch < 0x20 || ch == 0x7f) {
            char esc[4];
            size_t n;
            if (ch == '\n' || ch == '\r' || ch == '\t') {
                esc[0] = '\\';
                esc[1] = ch == '\n' ? 'n' : ch == '\r' ? 'r' : 't';
                n = 2;
            } else {
                esc[0] = '\\';
                esc[1] = 'x';
                esc[2] = hex[ch >> 4];
                esc[3] = hex[ch & 15];
                n = 4;
            }
            if (o + n > cap)
                break;
            memcpy(out + o, esc, n);
            o += n;
            i++;
            continue;
        }
        size_t n = utf8_seq_len(ch);
        if (i + n > len || o + n > cap)
            break;
        memcpy(out + o, msg + i, n);
        o += n;
        i += n;
    }
    *cut = i < len;
    return o;
}

static size_t format_prefix(char *out, size_t outlen, enum log_level level)
{
    static const char *const labels[LOG_LEVELS] = {"ERROR", "WARN ", "INFO ", "DEBUG"};
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    char when[32];
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    int n = snprintf(out, outlen, "%s.%03ldZ %s ", when, ts.tv_nsec / 1000000L, labels[level]);
    return n < 0 ? 0 : K_MIN((size_t)n, outlen - 1);
}

/* One write(2) of the whole line (retried on EINTR and short writes); false on failure. */
static bool write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t w = write(fd, buf, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return false;
        }
        if (w == 0)
            return false;
        buf += w;
        len -= (size_t)w;
    }
    return true;
}

/* Writes to a pipe/socket with SIGPIPE blocked, and swallows the SIGPIPE our write raised so it
 * is not delivered when the mask is restored (a SIGPIPE pending from elsewhere is left alone). */
static bool write_guarded(int fd, const char *buf, size_t len)
{
    sigset_t pipe_set, old, pending;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    if (pthread_sigmask(SIG_BLOCK, &pipe_set, &old) != 0)
        return false;
    bool was_pending = sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE);
    bool ok = write_all(fd, buf, len);
    if (!ok && errno == EPIPE && !was_pending) {
        struct timespec zero = {0, 0};
        while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR) {
        }
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return ok;
}

/* Copies a finished line (no newline) into the tail ring, cut at a UTF-8 boundary. */
static void log_tail_put(klog *lg, const char *line, size_t n)
{
    if (n > LOG_TAIL_COLS - 1) {
        n = LOG_TAIL_COLS - 1;
        while (n > 0 && ((unsigned char)line[n] & 0xC0) == 0x80)
            n--; /* line[n] would start the cut-off part: never inside a sequence */
    }
    pthread_mutex_lock(&lg->tail_lock);
    uint32_t slot = (lg->tail_head + lg->tail_n) % LOG_TAIL_LINES;
    if (lg->tail_n == LOG_TAIL_LINES)
        lg->tail_head = (lg->tail_head + 1) % LOG_TAIL_LINES;
    else
        lg->tail_n++;
    memcpy(lg->tail[slot], line, n);
    lg->tail[slot][n] = '\0';
    atomic_fetch_add(&lg->tail_seq, 1);
    pthread_mutex_unlock(&lg->tail_lock);
}

uint32_t log_tail(klog *lg, char (*out)[LOG_TAIL_COLS], uint32_t max, uint64_t *seq)
{
    if (!lg) {
        if (seq)
            *seq = 0;
        return 0;
    }
    pthread_mutex_lock(&lg->tail_lock);
    uint32_t n = K_MIN(max, lg->tail_n);
    uint32_t first = lg->tail_head + (lg->tail_n - n); /* the newest n, oldest first */
    for (uint32_t i = 0; i < n; i++)
        memcpy(out[i], lg->tail[(first + i) % LOG_TAIL_LINES], LOG_TAIL_COLS);
    if (seq)
        *seq = atomic_load(&lg->tail_seq);
    pthread_mutex_unlock(&lg->tail_lock);
    return n;
}

uint64_t log_tail_seq(const klog *lg)
{
    return lg ? atomic_load(&lg->tail_seq) : 0;
}

void log_write(klog *lg, enum log_level level, const char *fmt, ...)
{
    if (!lg || (unsigned)level >= LOG_LEVELS)
        return;
    atomic_fetch_add(&lg->counts[level], 1);
    if (level > lg->level)
        return;

    char msg[LOG_LINE_MAX + 1];
    va_list ap;
    va_start(ap, fmt);
    int full = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (full < 0) {
        snprintf(msg, sizeof msg, "(unformattable log message: %s)", fmt);
        full = (int)strlen(msg);
    }
    bool truncated = (size_t)full >= sizeof msg;
    size_t len = K_MIN((size_t)full, sizeof msg - 1);

    char line[LOG_PREFIX_MAX + LOG_LINE_MAX + LOG_SUFFIX_MAX + 2];
    size_t n = format_prefix(line, LOG_PREFIX_MAX, level);
    bool cut;
    n += escape_into(line + n, LOG_LINE_MAX, msg, len, &cut);
    if (cut || truncated)
        n += (size_t)snprintf(line + n, LOG_SUFFIX_MAX, " [truncated, %d bytes]", full);
    log_tail_put(lg, line, n);
    if (lg->fd < 0)
        return;
    line[n++] = '\n';

    pthread_mutex_lock(&lg->lock);
    bool ok = lg->pipe_like ? write_guarded(lg->fd, line, n) : write_all(lg->fd, line, n);
    pthread_mutex_unlock(&lg->lock);
    if (!ok)
        atomic_fetch_add(&lg->dropped, 1);
}
