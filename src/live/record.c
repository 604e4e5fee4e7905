/* The recorder (include/kestrel/record.h): a live session written as a replay capture. It owns a
 * byte ring (bounded, allocated once) between the main thread and a writer thread, and the gzip
 * stream the writer feeds. The main thread copies a line into the ring under the mutex and
 * signals; the writer takes the filled span, writes it through zlib outside the lock and then
 * gives the room back. Nothing on the main thread touches the file after record_open. */
#include "kestrel/record.h"

#include "kestrel/xmalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

struct krec {
    char *path;
    gzFile gz;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    char *ring;
    size_t cap;
    size_t head, used; /* filled: [head, head + used) mod cap */
    size_t taking;     /* of used, the span the writer is writing now */
    bool stop;
    record_stats st;
};

const char *record_strerror(enum record_result r)
{
    switch (r) {
    case RECORD_OK: return "ok";
    case RECORD_ERR_OPEN: return "cannot create the recording";
    case RECORD_ERR_THREAD: return "cannot start the recording's writer thread";
    }
    return "unknown";
}

static void *record_writer(void *arg)
{
    krec *r = arg;
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL); /* the owner's loop takes the signals */
    pthread_mutex_lock(&r->mu);
    for (;;) {
        while (r->used == 0 && !r->stop)
            pthread_cond_wait(&r->cond, &r->mu);
        if (r->used == 0 && r->stop)
            break;
        size_t n = K_MIN(r->used, r->cap - r->head); /* contiguous part */
        const char *p = r->ring + r->head;
        bool failed = r->st.write_error;
        r->taking = n;
        pthread_mutex_unlock(&r->mu);
        int w = failed ? (int)n : gzwrite(r->gz, p, (unsigned)n);
        int errnum = 0;
        const char *zmsg = w <= 0 ? gzerror(r->gz, &errnum) : NULL;
        pthread_mutex_lock(&r->mu);
        if (w <= 0 && !r->st.write_error) {
            r->st.write_error = true;
            snprintf(r->st.error, sizeof r->st.error, "write %s: %s", r->path,
                     errnum == Z_ERRNO ? strerror(errno) : zmsg ? zmsg : "zlib error");
        }
        if (!failed && w > 0)
            r->st.written += (uint64_t)w;
        r->head = (r->head + n) % r->cap;
        r->used -= n;
        r->taking = 0;
        pthread_cond_broadcast(&r->cond);
    }
    pthread_mutex_unlock(&r->mu);
    int zr = gzclose(r->gz); /* the last deflate block, here rather than on the owner's thread */
    pthread_mutex_lock(&r->mu);
    if (zr != Z_OK && !r->st.write_error) {
        r->st.write_error = true;
        snprintf(r->st.error, sizeof r->st.error, "closing %s failed (zlib %d)", r->path, zr);
    }
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

enum record_result record_open(krec **out, const char *path, size_t queue_bytes, char *err,
                               size_t errlen)
{
    *out = NULL;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "cannot create %s: %s", path, strerror(errno));
        return RECORD_ERR_OPEN;
    }
    gzFile gz = gzdopen(fd, "wb3");
    if (!gz) {
        close(fd);
        snprintf(err, errlen, "cannot start gzip on %s", path);
        return RECORD_ERR_OPEN;
    }
    krec *r = xcalloc(1, sizeof *r);
    r->path = xmalloc(strlen(path) + 1);
    memcpy(r->path, path, strlen(path) + 1);
    r->gz = gz;
    r->cap = queue_bytes ? queue_bytes : RECORD_QUEUE_DEFAULT;
    if (r->cap < 4096)
        r->cap = 4096;
    r->ring = xmalloc(r->cap);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    r->st.started_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cond, NULL);
    if (pthread_create(&r->thread, NULL, record_writer, r) != 0) {
        snprintf(err, errlen, "cannot start the writer thread for %s", path);
        gzclose(gz);
        pthread_mutex_destroy(&r->mu);
        pthread_cond_destroy(&r->cond);
        free(r->ring);
        free(r->path);
        free(r);
        return RECORD_ERR_THREAD;
    }
    *out = r;
    return RECORD_OK;
}

/* Copies n bytes at the ring's tail (the caller checked the room). */
static void record_put(krec *r, const char *s, size_t n, bool clean)
{
    size_t tail = (r->head + r->used) % r->cap;
    for (size_t done = 0; done < n;) {
        size_t k = K_MIN(n - done, r->cap - tail);
        memcpy(r->ring + tail, s + done, k);
        if (clean)
            for (size_t i = 0; i < k; i++)
                if (r->ring[tail + i] == '\n' || r->ring[tail + i] == '\r')
                    r->ring[tail + i] = ' ';
        done += k;
        r->used += k;
        tail = (tail + k) % r->cap;
    }
}

static bool record_put_line(krec *r, int64_t recv_ns, const char *tag, const char *symbol,
                            const char *json, size_t len)
{
    char head[96];
    bool sym = symbol && symbol[0];
    int hn = snprintf(head, sizeof head, "%lld %s%s%s ", (long long)(recv_ns > 0 ? recv_ns : 0),
                      tag, sym ? ":" : "", sym ? symbol : "");
    if (hn <= 0 || (size_t)hn >= sizeof head)
        return false;
    size_t need = (size_t)hn + len + 1;
    pthread_mutex_lock(&r->mu);
    bool ok = need <= r->cap - r->used && !r->st.write_error;
    if (ok) {
        record_put(r, head, (size_t)hn, false);
        record_put(r, json, len, true);
        record_put(r, "\n", 1, false);
        r->st.lines++;
        r->st.bytes += need;
        r->st.snapshots += sym;
        pthread_cond_signal(&r->cond);
    } else {
        r->st.dropped++;
    }
    pthread_mutex_unlock(&r->mu);
    return ok;
}

bool record_line(krec *r, int64_t recv_ns, enum venue v, const char *symbol, const char *json,
                 size_t len)
{
    return record_put_line(r, recv_ns, venue_name(v), symbol, json, len);
}

bool record_tick_line(krec *r, int64_t recv_ns, const char *json, size_t len)
{
    return record_put_line(r, recv_ns, "wall", NULL, json, len);
}

void record_get_stats(krec *r, record_stats *out)
{
    pthread_mutex_lock(&r->mu);
    *out = r->st;
    pthread_mutex_unlock(&r->mu);
}

const char *record_path(const krec *r)
{
    return r->path;
}

void record_close(krec *r, record_stats *st)
{
    if (!r)
        return;
    pthread_mutex_lock(&r->mu);
    r->stop = true;
    pthread_cond_broadcast(&r->cond);
    pthread_mutex_unlock(&r->mu);
    pthread_join(r->thread, NULL); /* the writer empties the queue first */
    if (st)
        *st = r->st;
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cond);
    free(r->ring);
    free(r->path);
    free(r);
}
