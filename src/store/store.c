/* The store: the main thread's enqueue API, the writer thread that owns the SQLite write
 * connection, and the read connection used for start-up loads.
 *
 * Shape (redis bio.c): the main thread appends fixed-size rows (strings copied, bounded) to the
 * "front" buffer under a mutex and returns; the writer swaps front and back under the same mutex
 * and writes the back buffer without holding it. Rows are executed with prepared statements
 * inside one open transaction, committed when `batch` rows are pending or `flush_ms` after the
 * first of them was queued, so a commit never runs on the main thread and the commit count is
 * deterministic (every batch-th row, plus timer/flush/barrier commits). Completions go the other
 * way: the writer appends (cb, ud, rc) to a done list and writes an eventfd; store_process() on
 * the main thread runs them.
 *
 * Bounds: at most queue_cap data rows wait in the front buffer (further puts are dropped and
 * counted); the writer holds at most one more buffer, so memory stays below 2 * cap rows.
 * Control rows (sessions, barriers, flushes) bypass the cap; barriers are bounded by
 * STORE_BARRIERS_MAX outstanding.
 *
 * Errors never stop the writer: a failed statement or commit is counted, its message kept in the
 * stats, the transaction's rows are counted as failed, and the next rows start a new one. */
#include "kestrel/store.h"

#include "kestrel/xmalloc.h"
#include "schema.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define DEF_BATCH 512
#define DEF_FLUSH_MS 250
#define DEF_QUEUE_CAP 65536
#define DEF_BUSY_MS 1000

enum row_kind {
    ROW_CANDLE,
    ROW_INSTRUMENT,
    ROW_BOOK_EVENT,
    ROW_SETTING,
    ROW_SESSION_BEGIN,
    ROW_SESSION_END,
    ROW_BARRIER,
    ROW_FLUSH,
};

typedef struct store_row {
    uint8_t kind;
    uint8_t venue;
    uint8_t tf;
    bool dropped_before; /* barrier: a row was dropped since the previous barrier */
    char symbol[KSYM_MAX];
    union {
        candle bar;
        struct {
            int64_t time_ms;
            int32_t px_dec, qty_dec;
        } inst;
        struct {
            int64_t time_ms, last_id, session_id;
            char kind[STORE_KIND_MAX];
            char detail[STORE_DETAIL_MAX];
            bool has_detail;
        } ev;
        struct {
            int64_t id, time_ms;
            char *source, *version, *args; /* owned; freed by the writer */
        } sess;
        struct {
            int64_t time_ms;
            char *key, *value; /* one owned block (key first); freed by the writer */
        } set;
        struct {
            void (*cb)(void *ud, int rc);
            void *ud;
        } barrier;
        uint64_t flush_seq;
    } u;
} store_row;

typedef struct rowbuf {
    store_row *v;
    uint32_t n, cap;
    uint32_t data_n;  /* rows subject to the cap */
    uint32_t ctrl_n;  /* session/barrier/flush rows: wake the writer at once */
    int64_t first_ms; /* monotonic time the first row was queued */
} rowbuf;

typedef struct completion {
    void (*cb)(void *ud, int rc);
    void *ud;
    int rc;
} completion;

enum {
    ST_CANDLE,
    ST_INSTRUMENT,
    ST_BOOK_EVENT,
    ST_SETTING,
    ST_SESSION_BEGIN,
    ST_SESSION_END,
    ST_BARRIER_MARK,
    ST_COUNT
};

static const char *const stmt_sql[ST_COUNT] = {
    [ST_CANDLE] = "INSERT OR REPLACE INTO candles(venue, symbol, tf, open_ms, o, h, l, c, volume,"
                  " buy_volume, quote_volume, trades)"
                  " VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12)",
    [ST_INSTRUMENT] = "INSERT INTO instruments(venue, symbol, px_decimals, qty_decimals,"
                      " first_seen_ms, updated_ms) VALUES(?1,?2,?3,?4,?5,?5)"
                      " ON CONFLICT(venue, symbol) DO UPDATE SET"
                      " px_decimals = excluded.px_decimals, qty_decimals = excluded.qty_decimals,"
                      " updated_ms = excluded.updated_ms",
    [ST_BOOK_EVENT] = "INSERT INTO book_events(session_id, time_ms, venue, symbol, kind, last_id,"
                      " detail) VALUES(?1,?2,?3,?4,?5,?6,?7)",
    [ST_SETTING] = "INSERT OR REPLACE INTO settings(key, value, updated_ms) VALUES(?1,?2,?3)",
    [ST_SESSION_BEGIN] = "INSERT INTO sessions(id, started_ms, source, version, args)"
                         " VALUES(?1,?2,?3,?4,?5)",
    [ST_SESSION_END] = "UPDATE sessions SET ended_ms = ?2 WHERE id = ?1",
    [ST_BARRIER_MARK] = "INSERT OR REPLACE INTO meta(key, value) VALUES('last_barrier_ms', ?1)",
};

struct store {
    char *path;
    store_opts o;
    uint32_t wake_n; /* data rows that wake the writer: min(batch, queue_cap) */
    int lock_fd;
    int event_fd;
    sqlite3 *wdb; /* write connection: the writer thread's once it runs */
    sqlite3 *rdb; /* read connection: main thread */
    sqlite3_stmt *st[ST_COUNT];
    sqlite3_stmt *load_st;
    sqlite3_stmt *setting_st; /* read connection: one setting by key */
    int schema_version;

    pthread_t thread;
    bool thread_started;
    atomic_bool stop;

    /* Shared between the threads, under mu. */
    pthread_mutex_t mu;
    pthread_cond_t work_cv; /* main -> writer: rows to write / stop */
    pthread_cond_t done_cv; /* writer -> store_flush */
    rowbuf front;
    uint32_t in_flight;
    uint64_t flush_done;
    completion *done;
    uint32_t done_n;
    store_stats st_shared;

    /* Main thread only. */
    uint64_t flush_req;
    completion *run;
    uint32_t barriers_out;
    bool processing;
    bool dropped_since_barrier;
    bool setting_queued; /* a setting was queued since the last store_get_setting flush */
    int64_t session_id;
    int64_t next_session_id;
    store_stats snap;

    /* Writer thread only. */
    rowbuf back;
    bool in_txn;
    uint32_t pending;       /* rows executed in the open transaction */
    int64_t txn_first_ms;   /* when the oldest of them was queued */
    bool failed_since_barrier;
    bool begin_failed;      /* BEGIN failed in this drain: fail its other rows without waiting */
};

/* ---------------------------------------------------------------- small helpers */

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Copies at most cap-1 bytes, never splitting a UTF-8 sequence. */
static void copy_text(char *dst, size_t cap, const char *src)
{
    size_t n = strnlen(src, cap);
    if (n >= cap) {
        n = cap - 1;
        while (n > 0 && ((unsigned char)src[n] & 0xC0) == 0x80)
            n--;
    }
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static char *dup_text(const char *src)
{
    char *d = xmalloc(STORE_TEXT_MAX);
    copy_text(d, STORE_TEXT_MAX, src ? src : "");
    return d;
}

static bool symbol_ok(const char *symbol)
{
    if (!symbol || !*symbol)
        return false;
    return strnlen(symbol, KSYM_MAX) < KSYM_MAX;
}

/* Frees the strings a row owns (session texts, setting key/value). */
static void row_free(store_row *r)
{
    if (r->kind == ROW_SESSION_BEGIN) {
        free(r->u.sess.source);
        free(r->u.sess.version);
        free(r->u.sess.args);
    } else if (r->kind == ROW_SETTING) {
        free(r->u.set.key); /* the value shares its block */
    }
}

static void notify_main(store *s)
{
    uint64_t one = 1;
    ssize_t w = write(s->event_fd, &one, sizeof one);
    (void)w; /* EAGAIN only if the counter is near 2^64: the fd is readable anyway */
}

/* ---------------------------------------------------------------- writer thread */

/* Counts a failed SQLite call and keeps its message. Writer thread. */
static void writer_error(store *s, int rc, const char *what)
{
    pthread_mutex_lock(&s->mu);
    s->st_shared.errors++;
    snprintf(s->st_shared.last_error, sizeof s->st_shared.last_error, "%s: %s (%s)", s->path,
             what, rc == SQLITE_OK ? "?" : sqlite3_errmsg(s->wdb));
    pthread_mutex_unlock(&s->mu);
    notify_main(s);
}

/* The open transaction is lost: roll back what is left of it and count its rows. */
static void writer_abort_txn(store *s, uint32_t extra_rows)
{
    if (!sqlite3_get_autocommit(s->wdb))
        sqlite3_exec(s->wdb, "ROLLBACK", NULL, NULL, NULL);
    pthread_mutex_lock(&s->mu);
    s->st_shared.rows_failed += s->pending + extra_rows;
    pthread_mutex_unlock(&s->mu);
    s->in_txn = false;
    s->pending = 0;
    s->failed_since_barrier = true;
}

static void writer_commit(store *s)
{
    if (!s->in_txn)
        return;
    int64_t t0 = mono_us();
    int rc = sqlite3_exec(s->wdb, "COMMIT", NULL, NULL, NULL);
    int64_t dt = mono_us() - t0;
    if (rc != SQLITE_OK) {
        writer_error(s, rc, "commit failed");
        writer_abort_txn(s, 0);
        return;
    }
    pthread_mutex_lock(&s->mu);
    s->st_shared.rows_written += s->pending;
    s->st_shared.commits++;
    s->st_shared.last_commit_us = dt;
    if (dt > s->st_shared.max_commit_us)
        s->st_shared.max_commit_us = dt;
    pthread_mutex_unlock(&s->mu);
    s->in_txn = false;
    s->pending = 0;
}

static void bind_text(sqlite3_stmt *st, int i, const char *text)
{
    sqlite3_bind_text(st, i, text, -1, SQLITE_STATIC);
}

/* Binds and steps the statement of one row; SQLITE_DONE on success. */
static int writer_exec(store *s, const store_row *r)
{
    sqlite3_stmt *st;
    const char *venue = venue_name((enum venue)r->venue);
    switch (r->kind) {
    case ROW_CANDLE:
        st = s->st[ST_CANDLE];
        bind_text(st, 1, venue);
        bind_text(st, 2, r->symbol);
        bind_text(st, 3, tf_name((enum tf)r->tf));
        sqlite3_bind_int64(st, 4, r->u.bar.open_ms);
        sqlite3_bind_int64(st, 5, r->u.bar.o);
        sqlite3_bind_int64(st, 6, r->u.bar.h);
        sqlite3_bind_int64(st, 7, r->u.bar.l);
        sqlite3_bind_int64(st, 8, r->u.bar.c);
        sqlite3_bind_int64(st, 9, r->u.bar.volume);
        sqlite3_bind_int64(st, 10, r->u.bar.buy_volume);
        sqlite3_bind_int64(st, 11, r->u.bar.quote_volume);
        sqlite3_bind_int64(st, 12, (int64_t)r->u.bar.trades);
        break;
    case ROW_INSTRUMENT:
        st = s->st[ST_INSTRUMENT];
        bind_text(st, 1, venue);
        bind_text(st, 2, r->symbol);
        sqlite3_bind_int(st, 3, r->u.inst.px_dec);
        sqlite3_bind_int(st, 4, r->u.inst.qty_dec);
        sqlite3_bind_int64(st, 5, r->u.inst.time_ms);
        break;
    case ROW_BOOK_EVENT:
        st = s->st[ST_BOOK_EVENT];
        if (r->u.ev.session_id > 0)
            sqlite3_bind_int64(st, 1, r->u.ev.session_id);
        else
            sqlite3_bind_null(st, 1);
        sqlite3_bind_int64(st, 2, r->u.ev.time_ms);
        bind_text(st, 3, venue);
        bind_text(st, 4, r->symbol);
        bind_text(st, 5, r->u.ev.kind);
        if (r->u.ev.last_id >= 0)
            sqlite3_bind_int64(st, 6, r->u.ev.last_id);
        else
            sqlite3_bind_null(st, 6);
        if (r->u.ev.has_detail)
            bind_text(st, 7, r->u.ev.detail);
        else
            sqlite3_bind_null(st, 7);
        break;
    case ROW_SETTING:
        st = s->st[ST_SETTING];
        bind_text(st, 1, r->u.set.key);
        bind_text(st, 2, r->u.set.value);
        sqlite3_bind_int64(st, 3, r->u.set.time_ms);
        break;
    case ROW_SESSION_BEGIN:
        st = s->st[ST_SESSION_BEGIN];
        sqlite3_bind_int64(st, 1, r->u.sess.id);
        sqlite3_bind_int64(st, 2, r->u.sess.time_ms);
        bind_text(st, 3, r->u.sess.source);
        bind_text(st, 4, r->u.sess.version);
        bind_text(st, 5, r->u.sess.args);
        break;
    case ROW_SESSION_END:
        st = s->st[ST_SESSION_END];
        sqlite3_bind_int64(st, 1, r->u.sess.id);
        sqlite3_bind_int64(st, 2, r->u.sess.time_ms);
        break;
    default:
        return SQLITE_MISUSE;
    }
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc;
}

static void writer_row(store *s, const store_row *r, int64_t queued_ms)
{
    if (!s->in_txn) {
        /* After a failed BEGIN (typically a lock held elsewhere for longer than busy_timeout)
         * the rest of this drain fails at once instead of waiting busy_timeout per row. */
        int rc = s->begin_failed ? SQLITE_BUSY
                                 : sqlite3_exec(s->wdb, "BEGIN IMMEDIATE", NULL, NULL, NULL);
        if (rc != SQLITE_OK) {
            if (!s->begin_failed)
                writer_error(s, rc, "begin failed");
            s->begin_failed = true;
            writer_abort_txn(s, 1);
            return;
        }
        s->in_txn = true;
        s->pending = 0;
        s->txn_first_ms = queued_ms;
    }
    int rc = writer_exec(s, r);
    if (rc != SQLITE_DONE) {
        const char *what = r->kind == ROW_CANDLE       ? "writing a candle failed"
                           : r->kind == ROW_INSTRUMENT ? "writing an instrument failed"
                           : r->kind == ROW_BOOK_EVENT ? "writing a book event failed"
                           : r->kind == ROW_SETTING    ? "writing a setting failed"
                                                       : "writing a session failed";
        writer_error(s, rc, what);
        int prim = rc & 0xff;
        bool row_only = prim == SQLITE_CONSTRAINT || prim == SQLITE_MISMATCH ||
                        prim == SQLITE_TOOBIG || prim == SQLITE_RANGE;
        if (row_only && !sqlite3_get_autocommit(s->wdb)) {
            /* the statement was undone; the transaction and its other rows stand */
            pthread_mutex_lock(&s->mu);
            s->st_shared.rows_failed++;
            pthread_mutex_unlock(&s->mu);
            s->failed_since_barrier = true;
        } else {
            writer_abort_txn(s, 1);
        }
        return;
    }
    s->pending++;
    if (s->pending >= s->o.batch)
        writer_commit(s);
}

/* Makes everything committed so far survive power loss: one tiny transaction with
 * synchronous=FULL fsyncs the WAL, which holds every earlier NORMAL commit too. */
static int writer_durable_mark(store *s)
{
    int rc = sqlite3_exec(s->wdb, "PRAGMA synchronous = FULL", NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(s->wdb, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_stmt *st = s->st[ST_BARRIER_MARK];
        sqlite3_bind_int64(st, 1, wall_ms());
        rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc == SQLITE_DONE)
            rc = sqlite3_exec(s->wdb, "COMMIT", NULL, NULL, NULL);
    }
    if (rc != SQLITE_OK) {
        writer_error(s, rc, "durable commit failed");
        if (!sqlite3_get_autocommit(s->wdb))
            sqlite3_exec(s->wdb, "ROLLBACK", NULL, NULL, NULL);
    }
    sqlite3_exec(s->wdb, "PRAGMA synchronous = NORMAL", NULL, NULL, NULL);
    return rc == SQLITE_OK ? K_OK : K_ERR;
}

static void writer_barrier(store *s, const store_row *r)
{
    writer_commit(s);
    int mark = writer_durable_mark(s);
    int rc = (mark == K_OK && !s->failed_since_barrier && !r->dropped_before) ? K_OK : K_ERR;
    s->failed_since_barrier = false;
    pthread_mutex_lock(&s->mu);
    s->done[s->done_n++] = (completion){r->u.barrier.cb, r->u.barrier.ud, rc};
    s->st_shared.barriers++;
    pthread_mutex_unlock(&s->mu);
    notify_main(s);
}

static void writer_flush(store *s, const store_row *r)
{
    writer_commit(s);
    pthread_mutex_lock(&s->mu);
    s->flush_done = r->u.flush_seq;
    pthread_cond_broadcast(&s->done_cv);
    pthread_mutex_unlock(&s->mu);
}

static void writer_drain(store *s)
{
    rowbuf *b = &s->back;
    s->begin_failed = false;
    for (uint32_t i = 0; i < b->n; i++) {
        store_row *r = &b->v[i];
        switch (r->kind) {
        case ROW_BARRIER:
            writer_barrier(s, r);
            break;
        case ROW_FLUSH:
            writer_flush(s, r);
            break;
        default:
            writer_row(s, r, b->first_ms);
            break;
        }
        row_free(r);
    }
    b->n = b->data_n = b->ctrl_n = 0;
}

static void cond_wait_until(pthread_cond_t *cv, pthread_mutex_t *mu, int64_t deadline_ms)
{
    struct timespec ts = {.tv_sec = deadline_ms / 1000, .tv_nsec = (deadline_ms % 1000) * 1000000};
    pthread_cond_timedwait(cv, mu, &ts);
}

static void *writer_main(void *arg)
{
    store *s = arg;
    int64_t flush_ms = s->o.flush_ms;

    pthread_mutex_lock(&s->mu);
    for (;;) {
        for (;;) {
            if (atomic_load(&s->stop))
                break;
            if (s->front.ctrl_n > 0 || s->front.data_n >= s->wake_n)
                break;
            int64_t deadline = INT64_MAX;
            if (s->in_txn)
                deadline = s->txn_first_ms + flush_ms;
            if (s->front.n > 0)
                deadline = K_MIN(deadline, s->front.first_ms + flush_ms);
            if (deadline != INT64_MAX && mono_ms() >= deadline)
                break;
            if (deadline == INT64_MAX)
                pthread_cond_wait(&s->work_cv, &s->mu);
            else
                cond_wait_until(&s->work_cv, &s->mu, deadline);
        }
        bool stopping = atomic_load(&s->stop);
        rowbuf tmp = s->front;
        s->front = s->back;
        s->back = tmp;
        s->in_flight = s->back.n;
        pthread_mutex_unlock(&s->mu);

        writer_drain(s);
        if (s->in_txn && (stopping || mono_ms() >= s->txn_first_ms + flush_ms))
            writer_commit(s);

        pthread_mutex_lock(&s->mu);
        s->in_flight = 0;
        if (stopping && s->front.n == 0)
            break;
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* ---------------------------------------------------------------- main-thread enqueue */

/* A free row at the end of the front buffer, or NULL (dropped). Called with mu held. */
static store_row *queue_reserve(store *s, bool data)
{
    rowbuf *f = &s->front;
    if (data && f->data_n >= s->o.queue_cap) {
        s->st_shared.dropped++;
        s->dropped_since_barrier = true;
        return NULL;
    }
    if (f->n == f->cap) {
        uint32_t ncap = f->cap ? f->cap * 2 : 64;
        f->v = xrealloc(f->v, (size_t)ncap * sizeof *f->v);
        f->cap = ncap;
    }
    store_row *r = &f->v[f->n++];
    memset(r, 0, offsetof(store_row, u));
    if (f->n == 1)
        f->first_ms = mono_ms();
    if (data) {
        f->data_n++;
        s->st_shared.rows_queued++;
        if (f->data_n > s->st_shared.queue_peak)
            s->st_shared.queue_peak = f->data_n;
    } else {
        f->ctrl_n++;
    }
    /* Wake the writer to arm its flush timer (first row), for a full batch (or a full queue),
     * or at once for a control row. Other rows just join the buffer. */
    if (f->n == 1 || f->data_n == s->wake_n || !data)
        pthread_cond_signal(&s->work_cv);
    return r;
}

static int reject(store *s)
{
    pthread_mutex_lock(&s->mu);
    s->st_shared.rejected++;
    pthread_mutex_unlock(&s->mu);
    return K_ERR;
}

int store_put_candle(store *s, enum venue v, const char *symbol, enum tf tf, const candle *bar)
{
    if ((unsigned)v >= VENUE_COUNT || (unsigned)tf >= TF_COUNT || !bar || !symbol_ok(symbol))
        return reject(s);
    pthread_mutex_lock(&s->mu);
    store_row *r = queue_reserve(s, true);
    if (r) {
        r->kind = ROW_CANDLE;
        r->venue = (uint8_t)v;
        r->tf = (uint8_t)tf;
        memcpy(r->symbol, symbol, strlen(symbol) + 1);
        r->u.bar = *bar;
    }
    pthread_mutex_unlock(&s->mu);
    return r ? K_OK : K_ERR;
}

int store_put_instrument(store *s, enum venue v, const char *symbol, int px_dec, int qty_dec,
                         int64_t time_ms)
{
    if ((unsigned)v >= VENUE_COUNT || !symbol_ok(symbol))
        return reject(s);
    pthread_mutex_lock(&s->mu);
    store_row *r = queue_reserve(s, true);
    if (r) {
        r->kind = ROW_INSTRUMENT;
        r->venue = (uint8_t)v;
        memcpy(r->symbol, symbol, strlen(symbol) + 1);
        r->u.inst.px_dec = px_dec;
        r->u.inst.qty_dec = qty_dec;
        r->u.inst.time_ms = time_ms;
    }
    pthread_mutex_unlock(&s->mu);
    return r ? K_OK : K_ERR;
}

int store_put_book_event(store *s, int64_t time_ms, enum venue v, const char *symbol,
                         const char *kind, int64_t last_id, const char *detail)
{
    if ((unsigned)v >= VENUE_COUNT || !symbol_ok(symbol) || !kind || !*kind ||
        strnlen(kind, STORE_KIND_MAX) >= STORE_KIND_MAX)
        return reject(s);
    pthread_mutex_lock(&s->mu);
    store_row *r = queue_reserve(s, true);
    if (r) {
        r->kind = ROW_BOOK_EVENT;
        r->venue = (uint8_t)v;
        memcpy(r->symbol, symbol, strlen(symbol) + 1);
        r->u.ev.time_ms = time_ms;
        r->u.ev.last_id = last_id;
        r->u.ev.session_id = s->session_id;
        memcpy(r->u.ev.kind, kind, strlen(kind) + 1);
        r->u.ev.has_detail = detail != NULL;
        copy_text(r->u.ev.detail, sizeof r->u.ev.detail, detail ? detail : "");
    }
    pthread_mutex_unlock(&s->mu);
    return r ? K_OK : K_ERR;
}

int store_put_setting(store *s, const char *key, const char *value, int64_t time_ms)
{
    size_t klen = key ? strnlen(key, STORE_SETTING_KEY_MAX) : 0;
    size_t vlen = value ? strnlen(value, STORE_TEXT_MAX) : STORE_TEXT_MAX;
    if (klen == 0 || klen >= STORE_SETTING_KEY_MAX || vlen >= STORE_TEXT_MAX)
        return reject(s);
    /* one exact-size copy, made outside the lock; the writer frees it */
    char *block = xmalloc(klen + 1 + vlen + 1);
    memcpy(block, key, klen + 1);
    memcpy(block + klen + 1, value, vlen + 1);
    pthread_mutex_lock(&s->mu);
    store_row *r = queue_reserve(s, true);
    if (r) {
        r->kind = ROW_SETTING;
        r->u.set.time_ms = time_ms;
        r->u.set.key = block;
        r->u.set.value = block + klen + 1;
    }
    pthread_mutex_unlock(&s->mu);
    if (!r) {
        free(block);
        return K_ERR;
    }
    s->setting_queued = true;
    return K_OK;
}

int64_t store_session_begin(store *s, const char *source, const char *version, const char *args)
{
    if (s->session_id > 0)
        store_session_end(s);
    int64_t id = s->next_session_id++;
    /* the copies are made outside the lock; the writer frees them */
    char *src = dup_text(source), *ver = dup_text(version), *arg = dup_text(args);
    pthread_mutex_lock(&s->mu);
    store_row *r = queue_reserve(s, false);
    r->kind = ROW_SESSION_BEGIN;
    s->st_shared.rows_queued++;
    r->u.sess.id = id;
    r->u.sess.time_ms = wall_ms();
    r->u.sess.source = src;
    r->u.sess.version = ver;
    r->u.sess.args = arg;
    s->session_id = id;
    pthread_mutex_unlock(&s->mu);
    return id;
}

void store_session_end(store *s)
{
    if (s->session_id <= 0)
        return;
    pthread_mutex_lock(&s->mu);
    store_row *r = queue_reserve(s, false);
    r->kind = ROW_SESSION_END;
    s->st_shared.rows_queued++;
    r->u.sess.id = s->session_id;
    r->u.sess.time_ms = wall_ms();
    s->session_id = 0;
    pthread_mutex_unlock(&s->mu);
}

int store_commit_then(store *s, void (*cb)(void *ud, int rc), void *ud)
{
    if (!cb || s->barriers_out >= STORE_BARRIERS_MAX)
        return K_ERR;
    s->barriers_out++;
    pthread_mutex_lock(&s->mu);
    store_row *r = queue_reserve(s, false);
    r->kind = ROW_BARRIER;
    r->dropped_before = s->dropped_since_barrier;
    r->u.barrier.cb = cb;
    r->u.barrier.ud = ud;
    s->dropped_since_barrier = false;
    pthread_mutex_unlock(&s->mu);
    return K_OK;
}

void store_flush(store *s)
{
    if (!s->thread_started)
        return;
    pthread_mutex_lock(&s->mu);
    uint64_t seq = ++s->flush_req;
    store_row *r = queue_reserve(s, false);
    r->kind = ROW_FLUSH;
    r->u.flush_seq = seq;
    while (s->flush_done < seq)
        pthread_cond_wait(&s->done_cv, &s->mu);
    pthread_mutex_unlock(&s->mu);
}

int store_fd(const store *s)
{
    return s->event_fd;
}

void store_process(store *s)
{
    uint64_t v;
    if (s->processing)
        return; /* called from inside a callback */
    while (read(s->event_fd, &v, sizeof v) == (ssize_t)sizeof v)
        ;
    pthread_mutex_lock(&s->mu);
    uint32_t n = s->done_n;
    memcpy(s->run, s->done, (size_t)n * sizeof *s->run);
    s->done_n = 0;
    pthread_mutex_unlock(&s->mu);
    s->processing = true;
    for (uint32_t i = 0; i < n; i++) {
        s->barriers_out--;
        s->run[i].cb(s->run[i].ud, s->run[i].rc);
    }
    s->processing = false;
}

const store_stats *store_get_stats(store *s)
{
    pthread_mutex_lock(&s->mu);
    s->snap = s->st_shared;
    s->snap.queue_depth = s->front.data_n;
    s->snap.in_flight = s->in_flight;
    pthread_mutex_unlock(&s->mu);
    s->snap.queue_cap = s->o.queue_cap;
    s->snap.schema_version = s->schema_version;
    if (s->snap.dropped)
        snprintf(s->snap.warning, sizeof s->snap.warning,
                 "store queue full (cap %" PRIu32 "): %" PRIu64 " rows dropped", s->o.queue_cap,
                 s->snap.dropped);
    return &s->snap;
}

const char *store_path(const store *s)
{
    return s->path;
}

int store_schema_version(void)
{
    return store_schema_latest();
}

/* ---------------------------------------------------------------- reads (main thread) */

static void main_error(store *s, const char *what)
{
    pthread_mutex_lock(&s->mu);
    s->st_shared.errors++;
    snprintf(s->st_shared.last_error, sizeof s->st_shared.last_error, "%s: %s (%s)", s->path,
             what, sqlite3_errmsg(s->rdb));
    pthread_mutex_unlock(&s->mu);
}

int store_load_candles(store *s, enum venue v, const char *symbol, enum tf tf, int64_t before_ms,
                       candle *out, uint32_t max)
{
    if ((unsigned)v >= VENUE_COUNT || (unsigned)tf >= TF_COUNT || !symbol_ok(symbol) ||
        (!out && max))
        return K_ERR;
    if (max == 0)
        return 0;
    sqlite3_stmt *st = s->load_st;
    bind_text(st, 1, venue_name(v));
    bind_text(st, 2, symbol);
    bind_text(st, 3, tf_name(tf));
    sqlite3_bind_int64(st, 4, before_ms);
    sqlite3_bind_int64(st, 5, (int64_t)max);
    uint32_t n = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && n < max) {
        bool ok = true;
        for (int c = 0; c < 9; c++)
            ok = ok && sqlite3_column_type(st, c) == SQLITE_INTEGER;
        int64_t trades = sqlite3_column_int64(st, 8);
        if (!ok || trades < 0 || trades > UINT32_MAX) {
            /* not what this store writes: skip it rather than return an inexact bar */
            pthread_mutex_lock(&s->mu);
            s->st_shared.errors++;
            snprintf(s->st_shared.last_error, sizeof s->st_shared.last_error,
                     "%s: candles row %s %s %s open_ms %" PRId64 " is not exact integers; skipped",
                     s->path, venue_name(v), symbol, tf_name(tf),
                     (int64_t)sqlite3_column_int64(st, 0));
            pthread_mutex_unlock(&s->mu);
            continue;
        }
        candle *b = &out[n++];
        b->open_ms = sqlite3_column_int64(st, 0);
        b->o = sqlite3_column_int64(st, 1);
        b->h = sqlite3_column_int64(st, 2);
        b->l = sqlite3_column_int64(st, 3);
        b->c = sqlite3_column_int64(st, 4);
        b->volume = sqlite3_column_int64(st, 5);
        b->buy_volume = sqlite3_column_int64(st, 6);
        b->quote_volume = sqlite3_column_int64(st, 7);
        b->trades = (uint32_t)trades;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        main_error(s, "loading candles failed");
        sqlite3_reset(st);
        return K_ERR;
    }
    sqlite3_reset(st);
    /* newest first from the query; the caller wants oldest first */
    for (uint32_t i = 0; i < n / 2; i++) {
        candle t = out[i];
        out[i] = out[n - 1 - i];
        out[n - 1 - i] = t;
    }
    return (int)n;
}

/* Read-your-writes without a second copy of the settings: a read that follows a put waits for
 * the writer once (store_flush), then reads the committed table. Settings are read at start-up
 * and when a form opens, not per frame, so that rare wait is cheaper than a pending map that
 * would have to track which queued values the writer has committed or lost. */
int store_get_setting(store *s, const char *key, char *out, size_t cap)
{
    if (out && cap)
        out[0] = '\0';
    size_t klen = key ? strnlen(key, STORE_SETTING_KEY_MAX) : 0;
    if (!out || !cap || klen == 0 || klen >= STORE_SETTING_KEY_MAX)
        return K_ERR;
    if (s->setting_queued) {
        store_flush(s);
        s->setting_queued = false;
    }
    sqlite3_stmt *st = s->setting_st;
    bind_text(st, 1, key);
    int rc = sqlite3_step(st), ret;
    if (rc == SQLITE_ROW) {
        const unsigned char *v = sqlite3_column_text(st, 0);
        size_t n = (size_t)sqlite3_column_bytes(st, 0);
        if (!v && sqlite3_errcode(s->rdb) == SQLITE_NOMEM) {
            main_error(s, "reading a setting failed");
            ret = K_ERR;
        } else if (n >= cap) {
            ret = K_ERR; /* the caller's buffer is too small */
        } else {
            if (n)
                memcpy(out, v, n);
            out[n] = '\0';
            ret = 1;
        }
    } else if (rc == SQLITE_DONE) {
        ret = 0;
    } else {
        main_error(s, "reading a setting failed");
        ret = K_ERR;
    }
    sqlite3_reset(st);
    return ret;
}

/* ---------------------------------------------------------------- open / close */

static int make_parent_dirs(const char *path, char *err, size_t errlen)
{
    char *dir = xstrdup(path);
    char *slash = strrchr(dir, '/');
    int ret = K_OK;
    if (!slash || slash == dir) {
        free(dir);
        return K_OK;
    }
    *slash = '\0';
    for (char *p = dir + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char c = *p;
        *p = '\0';
        if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
            snprintf(err, errlen, "%s: cannot create directory %s (%s)", path, dir,
                     strerror(errno));
            ret = K_ERR;
            break;
        }
        *p = c;
        if (!c)
            break;
    }
    if (ret == K_OK) {
        struct stat sb;
        if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
            snprintf(err, errlen, "%s: cannot create directory %s (%s)", path, dir,
                     stat(dir, &sb) != 0 ? strerror(errno) : strerror(ENOTDIR));
            ret = K_ERR;
        }
    }
    free(dir);
    return ret;
}

/* flock on PATH.lock: two Kestrels never write one database. The holder's pid is written into
 * the file so the refusal can name it. */
static int take_lock(const char *path, int *fd_out, char *err, size_t errlen)
{
    char lpath[4096];
    if ((size_t)snprintf(lpath, sizeof lpath, "%s.lock", path) >= sizeof lpath) {
        snprintf(err, errlen, "%s: path too long", path);
        return K_ERR;
    }
    int fd = open(lpath, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "%s: cannot create the lock file %s (%s)", path, lpath,
                 strerror(errno));
        return K_ERR;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        if (e == EWOULDBLOCK) {
            char pid[32] = "";
            ssize_t n = pread(fd, pid, sizeof pid - 1, 0);
            pid[n > 0 ? n : 0] = '\0';
            pid[strcspn(pid, "\n")] = '\0';
            snprintf(err, errlen, "%s: database is in use by another process (%s is locked%s%s)",
                     path, lpath, *pid ? " by pid " : "", pid);
        } else {
            snprintf(err, errlen, "%s: cannot lock %s (%s)", path, lpath, strerror(e));
        }
        close(fd);
        return K_ERR;
    }
    char pid[32];
    int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) == 0) {
        ssize_t w = pwrite(fd, pid, (size_t)n, 0);
        (void)w; /* the pid is informational */
    }
    *fd_out = fd;
    return K_OK;
}

static void store_free(store *s)
{
    for (int i = 0; i < ST_COUNT; i++)
        sqlite3_finalize(s->st[i]);
    sqlite3_finalize(s->load_st);
    sqlite3_finalize(s->setting_st);
    sqlite3_close(s->rdb); /* first, so the writer's close is the last and checkpoints */
    sqlite3_close(s->wdb);
    if (s->event_fd >= 0)
        close(s->event_fd);
    if (s->lock_fd >= 0)
        close(s->lock_fd);
    rowbuf *bufs[2] = {&s->front, &s->back};
    for (int k = 0; k < 2; k++) {
        for (uint32_t i = 0; i < bufs[k]->n; i++)
            row_free(&bufs[k]->v[i]);
        free(bufs[k]->v);
    }
    free(s->done);
    free(s->run);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->work_cv);
    pthread_cond_destroy(&s->done_cv);
    free(s->path);
    free(s);
}

static int open_fail(store *s, char *err, size_t errlen, const char *what, int rc, sqlite3 *db)
{
    if (what)
        snprintf(err, errlen, "%s: %s (%s)", s->path, what,
                 db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    store_free(s);
    return K_ERR;
}

int store_open(store **out, const char *path, const store_opts *opts, char *err, size_t errlen)
{
    *out = NULL;
    if (!path || !*path) {
        snprintf(err, errlen, "store: no database path given");
        return K_ERR;
    }
    if (!sqlite3_threadsafe()) {
        snprintf(err, errlen, "%s: this SQLite library is built without thread support", path);
        return K_ERR;
    }
    store *s = xcalloc(1, sizeof *s);
    s->path = xstrdup(path);
    s->lock_fd = s->event_fd = -1;
    if (opts)
        s->o = *opts;
    if (!s->o.batch)
        s->o.batch = DEF_BATCH;
    if (!s->o.flush_ms)
        s->o.flush_ms = DEF_FLUSH_MS;
    if (!s->o.queue_cap)
        s->o.queue_cap = DEF_QUEUE_CAP;
    if (!s->o.busy_timeout_ms)
        s->o.busy_timeout_ms = DEF_BUSY_MS;
    if (s->o.busy_timeout_ms > INT32_MAX)
        s->o.busy_timeout_ms = INT32_MAX;
    s->wake_n = K_MIN(s->o.batch, s->o.queue_cap);
    s->done = xcalloc(STORE_BARRIERS_MAX, sizeof *s->done);
    s->run = xcalloc(STORE_BARRIERS_MAX, sizeof *s->run);
    s->next_session_id = 1;
    atomic_init(&s->stop, false);
    pthread_mutex_init(&s->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->work_cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_cond_init(&s->done_cv, NULL);

    if (make_parent_dirs(path, err, errlen) != K_OK ||
        take_lock(path, &s->lock_fd, err, errlen) != K_OK)
        return open_fail(s, err, errlen, NULL, 0, NULL);
    /* A new database is created private (SQLite gives its -wal/-shm the same mode). No SQLite
     * connection of ours has the file open yet, so this open/close cannot drop its locks. */
    int cfd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (cfd >= 0)
        close(cfd);

    int rc = sqlite3_open_v2(path, &s->wdb, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    if (rc != SQLITE_OK) {
        store_schema_describe(s->wdb, rc, path, err, errlen);
        return open_fail(s, err, errlen, NULL, 0, NULL);
    }
    sqlite3_extended_result_codes(s->wdb, 1);
    sqlite3_busy_timeout(s->wdb, (int)s->o.busy_timeout_ms);
    /* A refused file must not be checkpointed on close either. */
    sqlite3_db_config(s->wdb, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
    if (store_schema_prepare(s->wdb, path, &s->schema_version, err, errlen) != K_OK)
        return open_fail(s, err, errlen, NULL, 0, NULL);
    sqlite3_db_config(s->wdb, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 0, NULL);

    for (int i = 0; i < ST_COUNT; i++) {
        rc = sqlite3_prepare_v3(s->wdb, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->st[i],
                                NULL);
        if (rc != SQLITE_OK)
            return open_fail(s, err, errlen, "cannot prepare statements", rc, s->wdb);
    }
    long long next = 1;
    sqlite3_stmt *q = NULL;
    rc = sqlite3_prepare_v2(s->wdb, "SELECT coalesce(max(id), 0) + 1 FROM sessions", -1, &q,
                            NULL);
    if (rc == SQLITE_OK && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        next = sqlite3_column_int64(q, 0);
        rc = SQLITE_OK;
    }
    sqlite3_finalize(q);
    if (rc != SQLITE_OK)
        return open_fail(s, err, errlen, "cannot read sessions", rc, s->wdb);
    s->next_session_id = next;

    rc = sqlite3_open_v2(path, &s->rdb, SQLITE_OPEN_READONLY, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_busy_timeout(s->rdb, (int)s->o.busy_timeout_ms);
        rc = sqlite3_prepare_v3(s->rdb,
                                "SELECT open_ms, o, h, l, c, volume, buy_volume, quote_volume,"
                                " trades FROM candles WHERE venue = ?1 AND symbol = ?2 AND"
                                " tf = ?3 AND open_ms < ?4 ORDER BY open_ms DESC LIMIT ?5",
                                -1, SQLITE_PREPARE_PERSISTENT, &s->load_st, NULL);
    }
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v3(s->rdb, "SELECT value FROM settings WHERE key = ?1", -1,
                                SQLITE_PREPARE_PERSISTENT, &s->setting_st, NULL);
    if (rc != SQLITE_OK)
        return open_fail(s, err, errlen, "cannot open the read connection", rc, s->rdb);

    s->event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (s->event_fd < 0) {
        snprintf(err, errlen, "%s: eventfd: %s", path, strerror(errno));
        return open_fail(s, err, errlen, NULL, 0, NULL);
    }

    /* The writer takes no signals: they belong to the main thread's self-pipe. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int prc = pthread_create(&s->thread, NULL, writer_main, s);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (prc != 0) {
        snprintf(err, errlen, "%s: cannot start the store thread (%s)", path, strerror(prc));
        return open_fail(s, err, errlen, NULL, 0, NULL);
    }
    pthread_setname_np(s->thread, "kestrel-store");
    s->thread_started = true;
    *out = s;
    return K_OK;
}

void store_close(store *s)
{
    if (!s)
        return;
    if (s->thread_started) {
        store_session_end(s);
        store_flush(s);
        pthread_mutex_lock(&s->mu);
        atomic_store(&s->stop, true);
        pthread_cond_signal(&s->work_cv);
        pthread_mutex_unlock(&s->mu);
        pthread_join(s->thread, NULL);
        s->thread_started = false;
        store_process(s); /* callbacks not yet delivered */
    }
    store_free(s);
}
