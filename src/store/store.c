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
 * Two lanes. Market rows go through the front/back buffers above. Durable records (order
 * intents, fills, positions) go through a second, small queue that the writer serves before the
 * market buffer and between every STORE_LANE_CHECK market rows, in their own fsynced
 * transaction, so a durable request waits for at most one market commit, never for the backlog,
 * and no market row (dropped or failed) is part of its outcome.
 *
 * Bounds: at most queue_cap data rows wait in the front buffer (further puts are dropped and
 * counted); the writer holds at most one more buffer, and after a write error at most queue_cap
 * rows for retry (the oldest are evicted and counted lost), so memory stays below 3 * cap rows.
 * Control rows (sessions, barriers, flushes) bypass the cap; barriers and durable requests are
 * bounded by STORE_BARRIERS_MAX / STORE_DURABLE_MAX outstanding.
 *
 * Errors never stop the writer and are never silent: a failed write is counted, its message kept
 * in the stats and the health, the main thread is told (on_health), and the rows of the failed
 * transaction are held (newest kept) and retried every retry_ms until writing works again. */
#include "kestrel/store.h"

#include "kestrel/xmalloc.h"
#include "schema.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <math.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#define DEF_BATCH 512
#define DEF_FLUSH_MS 250
#define DEF_QUEUE_CAP 65536
#define DEF_BUSY_MS 1000
#define DEF_RETRY_MS 1000
#define STORE_LANE_CHECK 64          /* market rows between looks at the durable queue */
#define STORE_PENDING_SETTINGS 64    /* settings answered from memory until committed */
#define STORE_HEALTH_REPEAT_MS 10000 /* while rows keep being lost, one report per this */
#define STORE_MIN_FREE (256 * 1024)  /* bytes free on the database's disk at start */
#define STORE_DONE_MAX (STORE_BARRIERS_MAX + STORE_DURABLE_MAX)

enum row_kind {
    ROW_NONE, /* a held row already counted lost during a retry */
    ROW_CANDLE,
    ROW_INSTRUMENT,
    ROW_BOOK_EVENT,
    ROW_SETTING,
    ROW_SESSION_BEGIN,
    ROW_SESSION_END,
    ROW_BARRIER,
    ROW_FLUSH,
    ROW_LOAD, /* store_load_candles_async: a read on the writer, answered in order */
    ROW_SIGNAL,
    ROW_METRICS,
    ROW_MODEL_STATE,
    ROW_RETRAIN,
    ROW_RISK, /* store_put_risk_metrics: u.met */
    ROW_READ, /* store_read_async: a caller's read on the writer's connection */
    ROW_INSTRUMENT_DOC, /* u.met: the venue's instrument document */
};

typedef struct store_row {
    uint8_t kind;
    uint8_t venue;
    uint8_t tf;
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
            uint64_t seq;      /* the main thread's pending-settings sequence */
            char *key, *value; /* one owned block (key first); freed by the writer */
        } set;
        struct {
            store_barrier_cb cb;
            void *ud;
        } barrier;
        struct {
            store_read_fn fn;
            store_load_cb cb;
            void *ud;
        } rd;
        struct {
            store_load_cb cb;
            void *ud;
            candle *out;
            uint32_t max;
            int64_t before_ms;
        } load;
        uint64_t flush_seq;
        struct {
            int64_t session_id;
            store_signal v; /* v.reasons owned (NULL: none) */
        } sig;
        struct {
            int64_t session_id;
            store_retrain v;
        } rt;
        struct {
            int64_t time_ms;
            char *doc; /* owned; freed by the writer */
        } met;
        struct {
            int64_t time_ms, saved_ms;
            void *blob; /* owned; freed by the writer */
            size_t len;
            uint32_t keep;
        } ms;
    } u;
} store_row;

typedef struct rowbuf {
    store_row *v;
    uint32_t n, cap;
    uint32_t data_n;  /* rows subject to the cap */
    uint32_t ctrl_n;  /* session/barrier/flush rows: wake the writer at once */
    int64_t first_ms; /* monotonic time the first row was queued */
} rowbuf;

typedef struct durable_req {
    uint64_t id;
    int64_t time_ms;
    int64_t queued_us;
    store_durable_cb cb;
    void *ud;
    void *payload; /* owned copy; NULL deletes */
    size_t len;
    bool blob;
    char kind[STORE_REC_KIND_MAX];
    char key[STORE_REC_KEY_MAX];
} durable_req;

typedef struct completion {
    store_barrier_cb bcb; /* one of the three */
    store_durable_cb dcb;
    store_load_cb lcb;
    void *ud;
    uint64_t id; /* durable: the request id; load: the count */
    enum store_result rc;
} completion;

typedef struct pending_setting {
    char *key, *value; /* owned */
    uint64_t seq;
} pending_setting;

enum {
    ST_CANDLE,
    ST_INSTRUMENT,
    ST_BOOK_EVENT,
    ST_SETTING,
    ST_SESSION_BEGIN,
    ST_SESSION_END,
    ST_BARRIER_MARK,
    ST_JOURNAL_PUT,
    ST_JOURNAL_DEL,
    ST_LOAD,
    ST_SIGNAL,
    ST_METRICS,
    ST_MODEL_STATE,
    ST_MODEL_PRUNE,
    ST_RETRAIN,
    ST_RISK,
    ST_INSTRUMENT_DOC,
    ST_COUNT
};

static const char *const stmt_sql[ST_COUNT] = {
    [ST_CANDLE] = "INSERT OR REPLACE INTO candles(venue, symbol, tf, open_ms, o, h, l, c, volume,"
                  " buy_volume, quote_volume, trades, partial)"
                  " VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13)",
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
    [ST_JOURNAL_PUT] = "INSERT OR REPLACE INTO journal(kind, key, seq, time_ms, payload)"
                       " VALUES(?1,?2,?3,?4,?5)",
    [ST_JOURNAL_DEL] = "DELETE FROM journal WHERE kind = ?1 AND key = ?2",
    [ST_LOAD] = "SELECT open_ms, o, h, l, c, volume, buy_volume, quote_volume, trades, partial"
                " FROM candles"
                " WHERE venue = ?1 AND symbol = ?2 AND tf = ?3 AND open_ms < ?4"
                " ORDER BY open_ms DESC LIMIT ?5",
    [ST_SIGNAL] = "INSERT INTO signals(venue, symbol, sig_id, time_ms, horizon_end_ms, action,"
                  " p_sell, p_hold, p_buy, confidence, strength, scored, outcome, result, ret,"
                  " mfe, mae, regime, source, first_hit, traded, session_id, reasons, replay,"
                  " weights)"
                  " VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19,"
                  "?20,?21,?22,?23,?24,?25)"
                  " ON CONFLICT(venue, symbol, sig_id, time_ms) DO UPDATE SET"
                  " horizon_end_ms = excluded.horizon_end_ms, action = excluded.action,"
                  " p_sell = excluded.p_sell, p_hold = excluded.p_hold, p_buy = excluded.p_buy,"
                  " confidence = excluded.confidence, strength = excluded.strength,"
                  " scored = excluded.scored, outcome = excluded.outcome,"
                  " result = excluded.result, ret = excluded.ret, mfe = excluded.mfe,"
                  " mae = excluded.mae, regime = excluded.regime, source = excluded.source,"
                  " first_hit = excluded.first_hit, traded = excluded.traded,"
                  " reasons = coalesce(excluded.reasons, reasons),"
                  " replay = coalesce(excluded.replay, replay),"
                  " weights = coalesce(excluded.weights, weights)",
    [ST_METRICS] = "INSERT INTO metrics(venue, symbol, time_ms, doc) VALUES(?1,?2,?3,?4)",
    [ST_INSTRUMENT_DOC] = "INSERT OR REPLACE INTO instrument_filters(venue, symbol, doc,"
                          " fetched_ms) VALUES(?1,?2,?3,?4)",
    [ST_MODEL_STATE] = "INSERT INTO model_state(venue, symbol, time_ms, saved_ms, bytes, state)"
                       " VALUES(?1,?2,?3,?4,?5,?6)",
    [ST_MODEL_PRUNE] = "DELETE FROM model_state WHERE venue = ?1 AND symbol = ?2 AND id <="
                       " (SELECT id FROM model_state WHERE venue = ?1 AND symbol = ?2"
                       " ORDER BY id DESC LIMIT 1 OFFSET ?3)",
    [ST_RETRAIN] = "INSERT INTO retrains(venue, symbol, model, kind, seq, time_ms, trigger,"
                   " n_train, n_holdout, cand_logloss, cand_acc, live_logloss, live_acc,"
                   " base_logloss, accepted, train_ms, session_id, thread)"
                   " VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18)",
    [ST_RISK] = "INSERT OR REPLACE INTO risk_metrics(time_ms, days, var, es, doc)"
                " VALUES(?1, coalesce(json_extract(?2, '$.var.days'), 0),"
                " json_extract(?2, '$.var.var'), json_extract(?2, '$.var.es'), ?2)",
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
    atomic_bool durable_waiting; /* main -> writer: requests in dq (read without the lock) */

    /* Shared between the threads, under mu. */
    pthread_mutex_t mu;
    pthread_cond_t work_cv; /* main -> writer: rows to write / stop */
    pthread_cond_t done_cv; /* writer -> store_flush */
    rowbuf front;
    durable_req *dq; /* durable requests waiting (front); at most STORE_DURABLE_MAX */
    uint32_t dq_n;
    uint32_t in_flight;
    uint64_t flush_done;
    completion *done;
    uint32_t done_n;
    store_stats st_shared;
    bool failing;             /* the writer holds rows for retry */
    int64_t failing_since_ms; /* wall time */
    uint64_t write_errors;
    uint64_t set_done; /* every setting with seq <= this was committed or lost */

    /* Main thread only. */
    uint64_t flush_req;
    completion *run;
    uint32_t barriers_out;
    uint32_t durable_out;
    uint64_t next_durable_id;
    bool processing;
    bool drop_notified; /* a drop since the last store_process already woke the main loop */
    int64_t session_id;
    int64_t next_session_id;
    store_stats snap;
    pending_setting pend[STORE_PENDING_SETTINGS];
    uint32_t pend_n;
    bool pend_overflow; /* more distinct keys pending than pend[] holds: the next get flushes */
    uint64_t set_seq;
    /* what on_health was last told */
    bool rep_failing;
    uint64_t rep_lost;
    int64_t rep_ms;

    /* Writer thread only. */
    rowbuf back;
    durable_req *dq_back;
    rowbuf txn; /* rows executed in the open transaction (owned until commit) */
    bool in_txn;
    uint32_t pending;     /* rows executed in the open transaction */
    int64_t txn_first_ms; /* when the oldest of them was queued */
    uint64_t txn_set_seq; /* highest setting seq in the open transaction */
    bool lost_since_barrier;
    store_row *held; /* rows kept for retry: a ring of hn rows from hhead */
    uint32_t hhead, hn, hcap;
    int64_t next_retry_ms; /* monotonic */
    bool w_failing;        /* the writer's own copy of `failing` */
};

/* ---------------------------------------------------------------- small helpers */

const char *store_strerror(enum store_result r)
{
    switch (r) {
    case STORE_OK:
        return "ok";
    case STORE_NOT_FOUND:
        return "not found";
    case STORE_E_INVALID:
        return "invalid argument";
    case STORE_E_FULL:
        return "queue full: row dropped";
    case STORE_E_BUSY:
        return "too many requests outstanding";
    case STORE_E_TOO_SMALL:
        return "buffer too small for the value";
    case STORE_E_READ:
        return "database read failed";
    case STORE_E_WRITE:
        return "database write failed";
    case STORE_E_RETRYING:
        return "database writes are failing: rows held for retry";
    case STORE_E_ROWS_LOST:
        return "rows were lost to write errors";
    case STORE_E_CLOSED:
        return "the store closed before the request was written";
    case STORE_E_OPEN:
        return "cannot open the database";
    case STORE_E_IN_USE:
        return "database in use by another process";
    case STORE_E_REFUSED:
        return "not a usable Kestrel database";
    case STORE_E_UNSAFE:
        return "unsafe database or lock file (symlink, type or owner)";
    case STORE_E_READONLY:
        return "database or its directory is read-only";
    case STORE_E_DISK_FULL:
        return "disk full";
    }
    return "unknown store result";
}

const char *store_state_name(enum store_state st)
{
    switch (st) {
    case STORE_STATE_OK:
        return "ok";
    case STORE_STATE_FAILING:
        return "failing";
    case STORE_STATE_DEGRADED:
        return "degraded";
    }
    return "?";
}

static int64_t store_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t store_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t store_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Copies at most cap-1 bytes, never splitting a UTF-8 sequence. */
static void store_copy_text(char *dst, size_t cap, const char *src)
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

static char *store_dup_text(const char *src)
{
    char *d = xmalloc(STORE_TEXT_MAX);
    store_copy_text(d, STORE_TEXT_MAX, src ? src : "");
    return d;
}

static bool store_symbol_ok(const char *symbol)
{
    if (!symbol || !*symbol)
        return false;
    return strnlen(symbol, KSYM_MAX) < KSYM_MAX;
}

/* Frees the strings a row owns (session texts, setting key/value). */
static void store_row_free(store_row *r)
{
    if (r->kind == ROW_SESSION_BEGIN) {
        free(r->u.sess.source);
        free(r->u.sess.version);
        free(r->u.sess.args);
    } else if (r->kind == ROW_SETTING) {
        free(r->u.set.key); /* the value shares its block */
    } else if (r->kind == ROW_METRICS || r->kind == ROW_RISK || r->kind == ROW_INSTRUMENT_DOC) {
        free(r->u.met.doc);
    } else if (r->kind == ROW_SIGNAL) {
        free((char *)r->u.sig.v.reasons);
        free((void *)r->u.sig.v.replay);
        free((char *)r->u.sig.v.weights);
    } else if (r->kind == ROW_MODEL_STATE) {
        free(r->u.ms.blob);
    }
    r->kind = ROW_NONE;
}

static void store_notify_main(store *s)
{
    uint64_t one = 1;
    ssize_t w = write(s->event_fd, &one, sizeof one);
    (void)w; /* EAGAIN only if the counter is near 2^64: the fd is readable anyway */
}

static void store_bind_text(sqlite3_stmt *st, int i, const char *text)
{
    sqlite3_bind_text(st, i, text, -1, SQLITE_STATIC);
}

/* ---------------------------------------------------------------- writer thread */

/* Binds and steps the statement of one row; SQLITE_DONE on success. */
static int store_writer_exec(store *s, const store_row *r)
{
    sqlite3_stmt *st;
    const char *venue = venue_name((enum venue)r->venue);
    switch (r->kind) {
    case ROW_CANDLE:
        st = s->st[ST_CANDLE];
        store_bind_text(st, 1, venue);
        store_bind_text(st, 2, r->symbol);
        store_bind_text(st, 3, tf_name((enum tf)r->tf));
        sqlite3_bind_int64(st, 4, r->u.bar.open_ms);
        sqlite3_bind_int64(st, 5, r->u.bar.o);
        sqlite3_bind_int64(st, 6, r->u.bar.h);
        sqlite3_bind_int64(st, 7, r->u.bar.l);
        sqlite3_bind_int64(st, 8, r->u.bar.c);
        sqlite3_bind_int64(st, 9, r->u.bar.volume);
        sqlite3_bind_int64(st, 10, r->u.bar.buy_volume);
        sqlite3_bind_int64(st, 11, r->u.bar.quote_volume);
        sqlite3_bind_int64(st, 12, (int64_t)r->u.bar.trades);
        sqlite3_bind_int(st, 13, (r->u.bar.flags & CANDLE_PARTIAL) ? 1 : 0);
        break;
    case ROW_INSTRUMENT:
        st = s->st[ST_INSTRUMENT];
        store_bind_text(st, 1, venue);
        store_bind_text(st, 2, r->symbol);
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
        store_bind_text(st, 3, venue);
        store_bind_text(st, 4, r->symbol);
        store_bind_text(st, 5, r->u.ev.kind);
        if (r->u.ev.last_id >= 0)
            sqlite3_bind_int64(st, 6, r->u.ev.last_id);
        else
            sqlite3_bind_null(st, 6);
        if (r->u.ev.has_detail)
            store_bind_text(st, 7, r->u.ev.detail);
        else
            sqlite3_bind_null(st, 7);
        break;
    case ROW_SETTING:
        st = s->st[ST_SETTING];
        store_bind_text(st, 1, r->u.set.key);
        store_bind_text(st, 2, r->u.set.value);
        sqlite3_bind_int64(st, 3, r->u.set.time_ms);
        break;
    case ROW_SESSION_BEGIN:
        st = s->st[ST_SESSION_BEGIN];
        sqlite3_bind_int64(st, 1, r->u.sess.id);
        sqlite3_bind_int64(st, 2, r->u.sess.time_ms);
        store_bind_text(st, 3, r->u.sess.source);
        store_bind_text(st, 4, r->u.sess.version);
        store_bind_text(st, 5, r->u.sess.args);
        break;
    case ROW_SESSION_END:
        st = s->st[ST_SESSION_END];
        sqlite3_bind_int64(st, 1, r->u.sess.id);
        sqlite3_bind_int64(st, 2, r->u.sess.time_ms);
        break;
    case ROW_SIGNAL: {
        const store_signal *g = &r->u.sig.v;
        st = s->st[ST_SIGNAL];
        store_bind_text(st, 1, venue);
        store_bind_text(st, 2, r->symbol);
        sqlite3_bind_int64(st, 3, (int64_t)g->id);
        sqlite3_bind_int64(st, 4, g->time_ms);
        sqlite3_bind_int64(st, 5, g->horizon_end_ms);
        store_bind_text(st, 6, g->action);
        for (int k = 0; k < 3; k++)
            sqlite3_bind_double(st, 7 + k, g->p[k]);
        sqlite3_bind_double(st, 10, g->confidence);
        sqlite3_bind_double(st, 11, g->strength);
        sqlite3_bind_int(st, 12, g->scored);
        if (g->scored) {
            store_bind_text(st, 13, g->outcome);
            store_bind_text(st, 14, g->result);
            sqlite3_bind_double(st, 15, g->ret);
            sqlite3_bind_double(st, 16, g->mfe);
            sqlite3_bind_double(st, 17, g->mae);
        } else {
            for (int k = 13; k <= 17; k++)
                sqlite3_bind_null(st, k);
        }
        store_bind_text(st, 18, g->regime);
        store_bind_text(st, 19, g->source);
        store_bind_text(st, 20, g->first_hit);
        sqlite3_bind_int(st, 21, g->traded);
        if (r->u.sig.session_id > 0)
            sqlite3_bind_int64(st, 22, r->u.sig.session_id);
        else
            sqlite3_bind_null(st, 22);
        if (g->reasons)
            store_bind_text(st, 23, g->reasons);
        else
            sqlite3_bind_null(st, 23);
        if (g->replay)
            sqlite3_bind_blob(st, 24, g->replay, (int)g->replay_len, SQLITE_STATIC);
        else
            sqlite3_bind_null(st, 24);
        if (g->weights)
            store_bind_text(st, 25, g->weights);
        else
            sqlite3_bind_null(st, 25);
        break;
    }
    case ROW_RETRAIN: {
        const store_retrain *t = &r->u.rt.v;
        st = s->st[ST_RETRAIN];
        store_bind_text(st, 1, venue);
        store_bind_text(st, 2, r->symbol);
        store_bind_text(st, 3, t->model);
        store_bind_text(st, 4, t->kind);
        sqlite3_bind_int64(st, 5, (int64_t)t->seq);
        sqlite3_bind_int64(st, 6, t->time_ms);
        store_bind_text(st, 7, t->trigger);
        sqlite3_bind_int64(st, 8, t->n_train);
        sqlite3_bind_int64(st, 9, t->n_holdout);
        const double d[5] = {t->cand_logloss, t->cand_acc, t->live_logloss, t->live_acc,
                             t->base_logloss};
        for (int k = 0; k < 5; k++)
            if (isfinite(d[k]))
                sqlite3_bind_double(st, 10 + k, d[k]);
            else
                sqlite3_bind_null(st, 10 + k);
        sqlite3_bind_int(st, 15, t->accepted);
        if (isfinite(t->train_ms))
            sqlite3_bind_double(st, 16, t->train_ms);
        else
            sqlite3_bind_null(st, 16);
        if (r->u.rt.session_id > 0)
            sqlite3_bind_int64(st, 17, r->u.rt.session_id);
        else
            sqlite3_bind_null(st, 17);
        store_bind_text(st, 18, t->offthread ? "learner" : "inline");
        break;
    }
    case ROW_METRICS:
        st = s->st[ST_METRICS];
        store_bind_text(st, 1, venue);
        store_bind_text(st, 2, r->symbol);
        sqlite3_bind_int64(st, 3, r->u.met.time_ms);
        store_bind_text(st, 4, r->u.met.doc);
        break;
    case ROW_RISK:
        st = s->st[ST_RISK];
        sqlite3_bind_int64(st, 1, r->u.met.time_ms);
        store_bind_text(st, 2, r->u.met.doc);
        break;
    case ROW_INSTRUMENT_DOC:
        st = s->st[ST_INSTRUMENT_DOC];
        store_bind_text(st, 1, venue);
        store_bind_text(st, 2, r->symbol);
        store_bind_text(st, 3, r->u.met.doc);
        sqlite3_bind_int64(st, 4, r->u.met.time_ms);
        break;
    case ROW_MODEL_STATE: {
        st = s->st[ST_MODEL_STATE];
        store_bind_text(st, 1, venue);
        store_bind_text(st, 2, r->symbol);
        sqlite3_bind_int64(st, 3, r->u.ms.time_ms);
        sqlite3_bind_int64(st, 4, r->u.ms.saved_ms);
        sqlite3_bind_int64(st, 5, (int64_t)r->u.ms.len);
        sqlite3_bind_blob64(st, 6, r->u.ms.blob, r->u.ms.len, SQLITE_STATIC);
        int rc = sqlite3_step(st);
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        if (rc != SQLITE_DONE)
            return rc;
        st = s->st[ST_MODEL_PRUNE]; /* the newest `keep` versions stay */
        store_bind_text(st, 1, venue);
        store_bind_text(st, 2, r->symbol);
        sqlite3_bind_int64(st, 3, r->u.ms.keep);
        break;
    }
    default:
        return SQLITE_MISUSE;
    }
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc;
}

/* Counts a failed SQLite call and keeps its message. Writer thread. */
static void store_writer_error(store *s, int rc, const char *what)
{
    int prim = rc & 0xff; /* the OS error behind "disk I/O error", e.g. ENOSPC, EFBIG */
    int e = prim == SQLITE_IOERR || prim == SQLITE_FULL || prim == SQLITE_CANTOPEN ||
                    prim == SQLITE_READONLY
                ? sqlite3_system_errno(s->wdb)
                : 0;
    pthread_mutex_lock(&s->mu);
    s->st_shared.errors++;
    s->write_errors++;
    snprintf(s->st_shared.last_error, sizeof s->st_shared.last_error, "%s: %s (%s%s%s)", s->path,
             what, rc == SQLITE_OK ? "?" : sqlite3_errmsg(s->wdb), e ? ": " : "",
             e ? strerror(e) : "");
    pthread_mutex_unlock(&s->mu);
    store_notify_main(s);
}

/* Rows are lost for good: counted, and the next barrier says so. */
static void store_writer_lost(store *s, uint64_t n)
{
    if (!n)
        return;
    pthread_mutex_lock(&s->mu);
    s->st_shared.rows_failed += n;
    pthread_mutex_unlock(&s->mu);
    s->lost_since_barrier = true;
    store_notify_main(s);
}

static void store_writer_settings_done(store *s, uint64_t seq)
{
    if (!seq)
        return;
    pthread_mutex_lock(&s->mu);
    if (seq > s->set_done)
        s->set_done = seq;
    pthread_mutex_unlock(&s->mu);
}

static uint32_t store_held_count(const store *s)
{
    return s->hn;
}

/* The i-th oldest held row. */
static store_row *store_held_at(store *s, uint32_t i)
{
    return &s->held[(s->hhead + i) % s->hcap];
}

/* Frees the k oldest held rows. */
static void store_held_pop(store *s, uint32_t k)
{
    for (uint32_t i = 0; i < k; i++)
        store_row_free(store_held_at(s, i));
    s->hhead = s->hn == k ? 0 : (s->hhead + k) % s->hcap;
    s->hn -= k;
}

static void store_writer_publish_held(store *s)
{
    pthread_mutex_lock(&s->mu);
    s->st_shared.rows_held = store_held_count(s);
    pthread_mutex_unlock(&s->mu);
}

/* Keeps a row for retry (takes it over). Full: the oldest held row is evicted and lost, so the
 * newest rows survive a long outage. */
static void store_held_push(store *s, store_row *r)
{
    if (store_held_count(s) >= s->o.queue_cap) {
        store_row *old = store_held_at(s, 0);
        if (old->kind == ROW_SETTING)
            store_writer_settings_done(s, old->u.set.seq); /* everything before it is done too */
        bool counted = old->kind == ROW_NONE;
        store_held_pop(s, 1);
        if (!counted)
            store_writer_lost(s, 1);
    }
    if (s->hn == s->hcap) { /* grow (up to queue_cap), the oldest first again */
        uint32_t ncap = s->hcap ? s->hcap * 2 : 256;
        if (ncap > s->o.queue_cap)
            ncap = s->o.queue_cap;
        store_row *nv = xmalloc((size_t)ncap * sizeof *nv);
        for (uint32_t i = 0; i < s->hn; i++)
            nv[i] = *store_held_at(s, i);
        free(s->held);
        s->held = nv;
        s->hcap = ncap;
        s->hhead = 0;
    }
    s->held[(s->hhead + s->hn) % s->hcap] = *r;
    s->hn++;
}

static void store_txn_push(store *s, const store_row *r)
{
    rowbuf *t = &s->txn;
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 64;
        t->v = xrealloc(t->v, (size_t)t->cap * sizeof *t->v);
    }
    t->v[t->n++] = *r;
    if (r->kind == ROW_SETTING && r->u.set.seq > s->txn_set_seq)
        s->txn_set_seq = r->u.set.seq;
}

static void store_txn_clear(store *s)
{
    for (uint32_t i = 0; i < s->txn.n; i++)
        store_row_free(&s->txn.v[i]);
    s->txn.n = 0;
    s->in_txn = false;
    s->pending = 0;
    s->txn_set_seq = 0;
}

/* A write failed at the transaction level: roll back, keep its rows (and r, if any) for retry,
 * and retry every retry_ms from now on. */
static void store_writer_enter_failing(store *s, store_row *r)
{
    if (!sqlite3_get_autocommit(s->wdb))
        sqlite3_exec(s->wdb, "ROLLBACK", NULL, NULL, NULL);
    for (uint32_t i = 0; i < s->txn.n; i++)
        store_held_push(s, &s->txn.v[i]);
    s->txn.n = 0;
    s->in_txn = false;
    s->pending = 0;
    s->txn_set_seq = 0;
    if (r)
        store_held_push(s, r);
    s->next_retry_ms = store_mono_ms() + s->o.retry_ms;
    if (!s->w_failing) {
        s->w_failing = true;
        pthread_mutex_lock(&s->mu);
        s->failing = true;
        s->failing_since_ms = store_wall_ms();
        pthread_mutex_unlock(&s->mu);
    }
    store_writer_publish_held(s);
    store_notify_main(s);
}

static void store_writer_commit(store *s)
{
    if (!s->in_txn)
        return;
    int64_t t0 = store_mono_us();
    int rc = sqlite3_exec(s->wdb, "COMMIT", NULL, NULL, NULL);
    int64_t dt = store_mono_us() - t0;
    if (rc != SQLITE_OK) {
        store_writer_error(s, rc, "commit failed");
        store_writer_enter_failing(s, NULL);
        return;
    }
    pthread_mutex_lock(&s->mu);
    s->st_shared.rows_written += s->pending;
    s->st_shared.commits++;
    s->st_shared.last_commit_us = dt;
    if (dt > s->st_shared.max_commit_us)
        s->st_shared.max_commit_us = dt;
    if (s->txn_set_seq > s->set_done)
        s->set_done = s->txn_set_seq;
    pthread_mutex_unlock(&s->mu);
    store_txn_clear(s);
}

static bool store_writer_row_only(int rc)
{
    int prim = rc & 0xff;
    return prim == SQLITE_CONSTRAINT || prim == SQLITE_MISMATCH || prim == SQLITE_TOOBIG ||
           prim == SQLITE_RANGE;
}

static const char *store_writer_what(const store_row *r)
{
    return r->kind == ROW_CANDLE       ? "writing a candle failed"
           : r->kind == ROW_INSTRUMENT ? "writing an instrument failed"
           : r->kind == ROW_BOOK_EVENT ? "writing a book event failed"
           : r->kind == ROW_SETTING    ? "writing a setting failed"
           : r->kind == ROW_SIGNAL     ? "writing a signal failed"
           : r->kind == ROW_METRICS    ? "writing metrics failed"
           : r->kind == ROW_RISK       ? "writing risk metrics failed"
           : r->kind == ROW_INSTRUMENT_DOC ? "writing an instrument document failed"
           : r->kind == ROW_MODEL_STATE ? "writing model state failed"
           : r->kind == ROW_RETRAIN    ? "writing a retrain failed"
                                       : "writing a session failed";
}

/* A model state checkpoint: large (hundreds of KiB) and superseded by the next one, so it gets
 * a transaction of its own after the open one is committed, and a failure (a full disk, a file
 * size limit) rolls back only it: counted lost, never held for retry, never taking the market
 * rows of a batch down with it. While writes are failing it is dropped (counted) at once. */
static void store_writer_checkpoint(store *s, store_row *r)
{
    store_writer_commit(s);
    if (s->w_failing) { /* writes are failing: this checkpoint is lost, the next one retries */
        store_row_free(r);
        store_writer_lost(s, 1);
        return;
    }
    int rc = sqlite3_exec(s->wdb, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (rc == SQLITE_OK) {
        rc = store_writer_exec(s, r);
        rc = rc == SQLITE_DONE ? sqlite3_exec(s->wdb, "COMMIT", NULL, NULL, NULL) : rc;
    }
    if (rc != SQLITE_OK) {
        store_writer_error(s, rc, store_writer_what(r));
        if (!sqlite3_get_autocommit(s->wdb))
            sqlite3_exec(s->wdb, "ROLLBACK", NULL, NULL, NULL);
        store_writer_lost(s, 1);
    } else {
        pthread_mutex_lock(&s->mu);
        s->st_shared.rows_written++;
        s->st_shared.commits++;
        pthread_mutex_unlock(&s->mu);
    }
    store_row_free(r);
}

/* One market row; takes it over (it ends committed, held for retry, or counted lost). */
static void store_writer_row(store *s, store_row *r, int64_t queued_ms)
{
    if (r->kind == ROW_MODEL_STATE) {
        store_writer_checkpoint(s, r);
        return;
    }
    if (s->w_failing) {
        store_held_push(s, r); /* in order behind the older held rows */
        return;
    }
    if (!s->in_txn) {
        int rc = sqlite3_exec(s->wdb, "BEGIN IMMEDIATE", NULL, NULL, NULL);
        if (rc != SQLITE_OK) {
            store_writer_error(s, rc, "begin failed");
            store_writer_enter_failing(s, r);
            return;
        }
        s->in_txn = true;
        s->pending = 0;
        s->txn_first_ms = queued_ms;
    }
    int rc = store_writer_exec(s, r);
    if (rc != SQLITE_DONE) {
        store_writer_error(s, rc, store_writer_what(r));
        if (store_writer_row_only(rc) && !sqlite3_get_autocommit(s->wdb)) {
            /* the statement was undone; the transaction and its other rows stand */
            store_row_free(r);
            store_writer_lost(s, 1);
        } else {
            store_writer_enter_failing(s, r);
        }
        return;
    }
    store_txn_push(s, r);
    s->pending++;
    if (s->pending >= s->o.batch)
        store_writer_commit(s);
}

/* Retries the held rows, oldest first, a batch per transaction. force: do not wait for
 * next_retry_ms (flush, close). Leaves failing mode when nothing is held any more. */
static void store_writer_serve_durable(store *s);
static void store_writer_retry(store *s, bool force)
{
    if (!s->w_failing || (!force && store_mono_ms() < s->next_retry_ms))
        return;
    while (store_held_count(s) > 0) {
        uint32_t k = K_MIN(store_held_count(s), s->o.batch);
        int rc = sqlite3_exec(s->wdb, "BEGIN IMMEDIATE", NULL, NULL, NULL);
        uint32_t ok = 0;
        uint64_t set_seq = 0;
        for (uint32_t i = 0; rc == SQLITE_OK && i < k; i++) {
            store_row *r = store_held_at(s, i);
            if (r->kind == ROW_NONE)
                continue;
            int src = store_writer_exec(s, r);
            if (src == SQLITE_DONE) {
                ok++;
                if (r->kind == ROW_SETTING && r->u.set.seq > set_seq)
                    set_seq = r->u.set.seq;
            } else if (store_writer_row_only(src) && !sqlite3_get_autocommit(s->wdb)) {
                store_writer_error(s, src, store_writer_what(r));
                store_row_free(r); /* ROW_NONE from now on: not counted twice */
                store_writer_lost(s, 1);
            } else {
                rc = src;
            }
        }
        int64_t t0 = store_mono_us();
        if (rc == SQLITE_OK)
            rc = sqlite3_exec(s->wdb, "COMMIT", NULL, NULL, NULL);
        if (rc != SQLITE_OK) {
            store_writer_error(s, rc, "retrying held rows failed");
            if (!sqlite3_get_autocommit(s->wdb))
                sqlite3_exec(s->wdb, "ROLLBACK", NULL, NULL, NULL);
            s->next_retry_ms = store_mono_ms() + s->o.retry_ms;
            store_writer_publish_held(s);
            return;
        }
        int64_t dt = store_mono_us() - t0;
        store_held_pop(s, k);
        pthread_mutex_lock(&s->mu);
        s->st_shared.rows_written += ok;
        s->st_shared.commits++;
        s->st_shared.last_commit_us = dt;
        if (dt > s->st_shared.max_commit_us)
            s->st_shared.max_commit_us = dt;
        if (set_seq > s->set_done)
            s->set_done = set_seq;
        s->st_shared.rows_held = store_held_count(s);
        pthread_mutex_unlock(&s->mu);
        if (atomic_load(&s->durable_waiting))
            store_writer_serve_durable(s);
    }
    s->w_failing = false;
    pthread_mutex_lock(&s->mu);
    s->failing = false;
    s->failing_since_ms = 0;
    s->st_shared.rows_held = 0;
    pthread_mutex_unlock(&s->mu);
    store_notify_main(s);
}

/* Makes everything committed so far survive power loss: one tiny transaction with
 * synchronous=FULL fsyncs the WAL, which holds every earlier NORMAL commit too. */
static int store_writer_durable_mark(store *s)
{
    int rc = sqlite3_exec(s->wdb, "PRAGMA synchronous = FULL", NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(s->wdb, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_stmt *st = s->st[ST_BARRIER_MARK];
        sqlite3_bind_int64(st, 1, store_wall_ms());
        rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc == SQLITE_DONE)
            rc = sqlite3_exec(s->wdb, "COMMIT", NULL, NULL, NULL);
    }
    if (rc != SQLITE_OK) {
        store_writer_error(s, rc, "durable commit failed");
        if (!sqlite3_get_autocommit(s->wdb))
            sqlite3_exec(s->wdb, "ROLLBACK", NULL, NULL, NULL);
    }
    sqlite3_exec(s->wdb, "PRAGMA synchronous = NORMAL", NULL, NULL, NULL);
    return rc == SQLITE_OK ? K_OK : K_ERR;
}

static void store_writer_barrier(store *s, const store_row *r)
{
    store_writer_commit(s);
    store_writer_retry(s, true); /* rows held before it: one more try, now */
    enum store_result rc;
    if (s->w_failing)
        rc = STORE_E_RETRYING;
    else if (store_writer_durable_mark(s) != K_OK)
        rc = STORE_E_WRITE;
    else
        rc = s->lost_since_barrier ? STORE_E_ROWS_LOST : STORE_OK;
    if (rc != STORE_E_RETRYING) /* losses are told by the first barrier that completes */
        s->lost_since_barrier = false;
    pthread_mutex_lock(&s->mu);
    s->done[s->done_n++] = (completion){.bcb = r->u.barrier.cb, .ud = r->u.barrier.ud, .rc = rc};
    s->st_shared.barriers++;
    pthread_mutex_unlock(&s->mu);
    store_notify_main(s);
}

static void store_writer_flush(store *s, const store_row *r)
{
    store_writer_commit(s);
    store_writer_retry(s, true);
    pthread_mutex_lock(&s->mu);
    s->flush_done = r->u.flush_seq;
    pthread_cond_broadcast(&s->done_cv);
    pthread_mutex_unlock(&s->mu);
}

/* The durable lane: every waiting request in one transaction of its own under
 * synchronous=FULL (the WAL is fsynced at its COMMIT), acknowledged in order. The market
 * transaction, if one is open, is committed first (one connection has one transaction). */
static void store_writer_serve_durable(store *s)
{
    pthread_mutex_lock(&s->mu);
    uint32_t n = s->dq_n;
    durable_req *tmp = s->dq;
    s->dq = s->dq_back;
    s->dq_back = tmp;
    s->dq_n = 0;
    atomic_store(&s->durable_waiting, false);
    pthread_mutex_unlock(&s->mu);
    if (n == 0)
        return;
    if (s->in_txn)
        store_writer_commit(s);
    enum store_result res[STORE_DURABLE_MAX];
    int rc = sqlite3_exec(s->wdb, "PRAGMA synchronous = FULL", NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(s->wdb, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    for (uint32_t i = 0; i < n; i++) {
        durable_req *q = &s->dq_back[i];
        res[i] = STORE_OK;
        if (rc != SQLITE_OK)
            continue;
        sqlite3_stmt *st = s->st[q->payload ? ST_JOURNAL_PUT : ST_JOURNAL_DEL];
        store_bind_text(st, 1, q->kind);
        store_bind_text(st, 2, q->key);
        if (q->payload) {
            sqlite3_bind_int64(st, 3, (int64_t)q->id);
            sqlite3_bind_int64(st, 4, q->time_ms);
            if (q->blob)
                sqlite3_bind_blob(st, 5, q->payload, (int)q->len, SQLITE_STATIC);
            else
                sqlite3_bind_text(st, 5, q->payload, (int)q->len, SQLITE_STATIC);
        }
        int src = sqlite3_step(st);
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        if (src != SQLITE_DONE) {
            store_writer_error(s, src, "writing a durable record failed");
            if (store_writer_row_only(src) && !sqlite3_get_autocommit(s->wdb))
                res[i] = STORE_E_INVALID;
            else
                rc = src;
        }
    }
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(s->wdb, "COMMIT", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        store_writer_error(s, rc, "durable commit failed");
        if (!sqlite3_get_autocommit(s->wdb))
            sqlite3_exec(s->wdb, "ROLLBACK", NULL, NULL, NULL);
        for (uint32_t i = 0; i < n; i++)
            res[i] = STORE_E_WRITE;
    }
    sqlite3_exec(s->wdb, "PRAGMA synchronous = NORMAL", NULL, NULL, NULL);
    int64_t now = store_mono_us();
    pthread_mutex_lock(&s->mu);
    s->st_shared.durable_commits++;
    for (uint32_t i = 0; i < n; i++) {
        durable_req *q = &s->dq_back[i];
        s->done[s->done_n++] = (completion){.dcb = q->cb, .ud = q->ud, .id = q->id, .rc = res[i]};
        if (res[i] == STORE_OK)
            s->st_shared.durable_written++;
        else
            s->st_shared.durable_failed++;
        if (now - q->queued_us > s->st_shared.durable_max_us)
            s->st_shared.durable_max_us = now - q->queued_us;
    }
    pthread_mutex_unlock(&s->mu);
    for (uint32_t i = 0; i < n; i++) {
        free(s->dq_back[i].payload);
        s->dq_back[i].payload = NULL;
    }
    store_notify_main(s);
}

/* Runs a prepared candle query (either connection) into out[], oldest first. Rows that are not
 * exact integers are skipped and counted. SQLITE_DONE on success. */
static int store_load_rows(store *s, sqlite3_stmt *st, enum venue v, const char *symbol, enum tf tf,
                           int64_t before_ms, candle *out, uint32_t max, uint32_t *nout)
{
    store_bind_text(st, 1, venue_name(v));
    store_bind_text(st, 2, symbol);
    store_bind_text(st, 3, tf_name(tf));
    sqlite3_bind_int64(st, 4, before_ms);
    sqlite3_bind_int64(st, 5, (int64_t)max);
    uint32_t n = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && n < max) {
        bool ok = true;
        for (int c = 0; c < 10; c++)
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
        b->flags = sqlite3_column_int64(st, 9) != 0 ? CANDLE_PARTIAL : 0;
    }
    sqlite3_reset(st);
    if (rc == SQLITE_ROW)
        rc = SQLITE_DONE; /* max reached */
    /* newest first from the query; the caller wants oldest first */
    for (uint32_t i = 0; i < n / 2; i++) {
        candle t = out[i];
        out[i] = out[n - 1 - i];
        out[n - 1 - i] = t;
    }
    *nout = rc == SQLITE_DONE ? n : 0;
    return rc;
}

/* A history load on the writer's connection: it sees every row accepted before it (committed,
 * or executed in the open transaction), without the main thread touching the disk. */
static void store_writer_load(store *s, const store_row *r)
{
    uint32_t n = 0;
    int rc = store_load_rows(s, s->st[ST_LOAD], (enum venue)r->venue, r->symbol, (enum tf)r->tf,
                             r->u.load.before_ms, r->u.load.out, r->u.load.max, &n);
    if (rc != SQLITE_DONE)
        store_writer_error(s, rc, "loading candles failed");
    pthread_mutex_lock(&s->mu);
    s->done[s->done_n++] = (completion){.lcb = r->u.load.cb,
                                        .ud = r->u.load.ud,
                                        .id = n,
                                        .rc = rc == SQLITE_DONE ? STORE_OK : STORE_E_READ};
    pthread_mutex_unlock(&s->mu);
    store_notify_main(s);
}

/* A caller's read (store_read_async) on the writer's connection, answered like a load. */
static void store_writer_read(store *s, const store_row *r)
{
    uint32_t n = 0;
    enum store_result rc = r->u.rd.fn(r->u.rd.ud, s->wdb, &n); /* a failure is the caller's */
    pthread_mutex_lock(&s->mu);
    s->done[s->done_n++] = (completion){.lcb = r->u.rd.cb, .ud = r->u.rd.ud, .id = n, .rc = rc};
    pthread_mutex_unlock(&s->mu);
    store_notify_main(s);
}

static void store_writer_drain(store *s)
{
    rowbuf *b = &s->back;
    for (uint32_t i = 0; i < b->n; i++) {
        store_row *r = &b->v[i];
        if (i % STORE_LANE_CHECK == 0 && atomic_load(&s->durable_waiting))
            store_writer_serve_durable(s); /* never behind the market backlog */
        switch (r->kind) {
        case ROW_BARRIER:
            store_writer_barrier(s, r);
            break;
        case ROW_FLUSH:
            store_writer_flush(s, r);
            break;
        case ROW_LOAD:
            store_writer_load(s, r);
            break;
        case ROW_READ:
            store_writer_read(s, r);
            break;
        default:
            store_writer_row(s, r, b->first_ms); /* takes the row over */
            continue;
        }
        store_row_free(r);
    }
    b->n = b->data_n = b->ctrl_n = 0;
}

static void store_cond_wait_until(pthread_cond_t *cv, pthread_mutex_t *mu, int64_t deadline_ms)
{
    struct timespec ts = {.tv_sec = deadline_ms / 1000, .tv_nsec = (deadline_ms % 1000) * 1000000};
    pthread_cond_timedwait(cv, mu, &ts);
}

static void *store_writer_main(void *arg)
{
    store *s = arg;
    int64_t flush_ms = s->o.flush_ms;

    pthread_mutex_lock(&s->mu);
    for (;;) {
        for (;;) {
            if (atomic_load(&s->stop))
                break;
            if (s->front.ctrl_n > 0 || s->front.data_n >= s->wake_n || s->dq_n > 0)
                break;
            int64_t deadline = INT64_MAX;
            if (s->in_txn)
                deadline = s->txn_first_ms + flush_ms;
            if (s->front.n > 0)
                deadline = K_MIN(deadline, s->front.first_ms + flush_ms);
            if (s->w_failing)
                deadline = K_MIN(deadline, s->next_retry_ms);
            if (deadline != INT64_MAX && store_mono_ms() >= deadline)
                break;
            if (deadline == INT64_MAX)
                pthread_cond_wait(&s->work_cv, &s->mu);
            else
                store_cond_wait_until(&s->work_cv, &s->mu, deadline);
        }
        bool stopping = atomic_load(&s->stop);
        rowbuf tmp = s->front;
        s->front = s->back;
        s->back = tmp;
        s->in_flight = s->back.n;
        pthread_mutex_unlock(&s->mu);

        store_writer_serve_durable(s);
        store_writer_drain(s);
        store_writer_serve_durable(s);
        if (s->in_txn && (stopping || store_mono_ms() >= s->txn_first_ms + flush_ms))
            store_writer_commit(s);
        store_writer_retry(s, stopping);

        pthread_mutex_lock(&s->mu);
        s->in_flight = 0;
        if (stopping && s->front.n == 0 && s->dq_n == 0)
            break;
    }
    pthread_mutex_unlock(&s->mu);
    /* what could not be written by now is lost: say how much */
    uint32_t left = 0;
    for (uint32_t i = 0; i < s->hn; i++)
        left += store_held_at(s, i)->kind != ROW_NONE;
    store_held_pop(s, s->hn);
    store_writer_lost(s, left);
    store_writer_publish_held(s);
    return NULL;
}

/* ---------------------------------------------------------------- main-thread enqueue */

/* A free row at the end of the front buffer, or NULL (dropped). Called with mu held. */
static store_row *store_queue_reserve(store *s, bool data)
{
    rowbuf *f = &s->front;
    if (data && f->data_n >= s->o.queue_cap) {
        s->st_shared.dropped++;
        if (!s->drop_notified) { /* the health report runs from store_process */
            s->drop_notified = true;
            store_notify_main(s);
        }
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
        f->first_ms = store_mono_ms();
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

static enum store_result store_reject(store *s)
{
    pthread_mutex_lock(&s->mu);
    s->st_shared.rejected++;
    pthread_mutex_unlock(&s->mu);
    return STORE_E_INVALID;
}

/* The reserve/copy/enqueue of every data row: store_put_begin locks the queue and reserves a
 * row of KIND for (v, symbol) (symbol NULL: a row of no symbol), NULL when the queue is full;
 * the caller fills the row's payload (still under the lock) and store_put_end unlocks and gives
 * the result. */
static store_row *store_put_begin(store *s, enum row_kind kind, enum venue v, const char *symbol)
{
    pthread_mutex_lock(&s->mu);
    store_row *r = store_queue_reserve(s, true);
    if (r) {
        r->kind = (uint8_t)kind;
        r->venue = (uint8_t)v;
        if (symbol)
            memcpy(r->symbol, symbol, strlen(symbol) + 1);
    }
    return r;
}

static enum store_result store_put_end(store *s, const store_row *r)
{
    pthread_mutex_unlock(&s->mu);
    return r ? STORE_OK : STORE_E_FULL;
}

/* A row whose payload is a document (u.met): the copy is made outside the lock and the writer
 * frees it; a full queue frees it here. */
static enum store_result store_put_doc_row(store *s, enum row_kind kind, enum venue v,
                                           const char *symbol, int64_t time_ms, const char *doc)
{
    char *copy = xstrdup(doc);
    store_row *r = store_put_begin(s, kind, v, symbol);
    if (r) {
        r->u.met.time_ms = time_ms;
        r->u.met.doc = copy;
    }
    enum store_result res = store_put_end(s, r);
    if (res != STORE_OK)
        free(copy);
    return res;
}

enum store_result store_put_candle(store *s, enum venue v, const char *symbol, enum tf tf,
                                   const candle *bar)
{
    if ((unsigned)v >= VENUE_COUNT || (unsigned)tf >= TF_COUNT || !bar || !store_symbol_ok(symbol))
        return store_reject(s);
    store_row *r = store_put_begin(s, ROW_CANDLE, v, symbol);
    if (r) {
        r->tf = (uint8_t)tf;
        r->u.bar = *bar;
    }
    return store_put_end(s, r);
}

enum store_result store_put_instrument(store *s, enum venue v, const char *symbol, int px_dec,
                                       int qty_dec, int64_t time_ms)
{
    if ((unsigned)v >= VENUE_COUNT || !store_symbol_ok(symbol))
        return store_reject(s);
    store_row *r = store_put_begin(s, ROW_INSTRUMENT, v, symbol);
    if (r) {
        r->u.inst.px_dec = px_dec;
        r->u.inst.qty_dec = qty_dec;
        r->u.inst.time_ms = time_ms;
    }
    return store_put_end(s, r);
}

enum store_result store_put_book_event(store *s, int64_t time_ms, enum venue v, const char *symbol,
                                       const char *kind, int64_t last_id, const char *detail)
{
    if ((unsigned)v >= VENUE_COUNT || !store_symbol_ok(symbol) || !kind || !*kind ||
        strnlen(kind, STORE_KIND_MAX) >= STORE_KIND_MAX)
        return store_reject(s);
    store_row *r = store_put_begin(s, ROW_BOOK_EVENT, v, symbol);
    if (r) {
        r->u.ev.time_ms = time_ms;
        r->u.ev.last_id = last_id;
        r->u.ev.session_id = s->session_id;
        memcpy(r->u.ev.kind, kind, strlen(kind) + 1);
        r->u.ev.has_detail = detail != NULL;
        store_copy_text(r->u.ev.detail, sizeof r->u.ev.detail, detail ? detail : "");
    }
    return store_put_end(s, r);
}

/* Remembers an accepted setting until the writer reports it committed (or lost). */
static void store_pending_set(store *s, const char *key, const char *value, uint64_t seq)
{
    for (uint32_t i = 0; i < s->pend_n; i++) {
        if (strcmp(s->pend[i].key, key) == 0) {
            free(s->pend[i].value);
            s->pend[i].value = xstrdup(value);
            s->pend[i].seq = seq;
            return;
        }
    }
    if (s->pend_n == STORE_PENDING_SETTINGS) {
        s->pend_overflow = true; /* rare: the next get waits for the writer once */
        return;
    }
    s->pend[s->pend_n++] = (pending_setting){xstrdup(key), xstrdup(value), seq};
}

static void store_pending_prune(store *s)
{
    pthread_mutex_lock(&s->mu);
    uint64_t done = s->set_done;
    pthread_mutex_unlock(&s->mu);
    uint32_t k = 0;
    for (uint32_t i = 0; i < s->pend_n; i++) {
        if (s->pend[i].seq <= done) {
            free(s->pend[i].key);
            free(s->pend[i].value);
        } else {
            s->pend[k++] = s->pend[i];
        }
    }
    s->pend_n = k;
}

enum store_result store_put_setting(store *s, const char *key, const char *value, int64_t time_ms)
{
    size_t klen = key ? strnlen(key, STORE_SETTING_KEY_MAX) : 0;
    size_t vlen = value ? strnlen(value, STORE_TEXT_MAX) : STORE_TEXT_MAX;
    if (klen == 0 || klen >= STORE_SETTING_KEY_MAX || vlen >= STORE_TEXT_MAX)
        return store_reject(s);
    /* one exact-size copy, made outside the lock; the writer frees it */
    char *block = xmalloc(klen + 1 + vlen + 1);
    memcpy(block, key, klen + 1);
    memcpy(block + klen + 1, value, vlen + 1);
    uint64_t seq = s->set_seq + 1;
    store_row *r = store_put_begin(s, ROW_SETTING, (enum venue)0, NULL);
    if (r) {
        r->u.set.time_ms = time_ms;
        r->u.set.seq = seq;
        r->u.set.key = block;
        r->u.set.value = block + klen + 1;
    }
    if (store_put_end(s, r) != STORE_OK) {
        free(block);
        return STORE_E_FULL;
    }
    s->set_seq = seq;
    store_pending_set(s, key, value, seq);
    return STORE_OK;
}

enum store_result store_put_signal(store *s, enum venue v, const char *symbol,
                                   const store_signal *sig)
{
    if ((unsigned)v >= VENUE_COUNT || !sig || !store_symbol_ok(symbol))
        return store_reject(s);
    char *why = NULL, *wts = NULL; /* outside the lock; the writer frees them */
    if (sig->reasons) /* (xstrndup copies n bytes: the length first) */
        why = xstrndup(sig->reasons, strnlen(sig->reasons, 511));
    if (sig->weights)
        wts = xstrndup(sig->weights, strnlen(sig->weights, 511));
    void *rec = NULL;
    if (sig->replay && sig->replay_len && sig->replay_len <= STORE_REPLAY_MAX) {
        rec = xmalloc(sig->replay_len);
        memcpy(rec, sig->replay, sig->replay_len);
    }
    store_row *r = store_put_begin(s, ROW_SIGNAL, v, symbol);
    if (r) {
        r->u.sig.session_id = s->session_id;
        r->u.sig.v = *sig;
        r->u.sig.v.reasons = why;
        r->u.sig.v.replay = rec;
        r->u.sig.v.replay_len = rec ? sig->replay_len : 0;
        r->u.sig.v.weights = wts;
        store_signal *g = &r->u.sig.v; /* the texts NUL-terminated whatever the caller gave */
        g->action[sizeof g->action - 1] = g->outcome[sizeof g->outcome - 1] = '\0';
        g->result[sizeof g->result - 1] = g->regime[sizeof g->regime - 1] = '\0';
        g->source[sizeof g->source - 1] = g->first_hit[sizeof g->first_hit - 1] = '\0';
    }
    enum store_result res = store_put_end(s, r);
    if (res != STORE_OK) {
        free(why);
        free(rec);
        free(wts);
    }
    return res;
}

static void store_main_error(store *s, const char *what);

enum store_result store_read_signals_after(sqlite3 *db, enum venue v, const char *symbol,
                                           uint64_t from_id, int64_t from_ms, int64_t to_ms,
                                           uint32_t max, store_signal_fn fn, void *ud)
{
    if (!db || (unsigned)v >= VENUE_COUNT || !store_symbol_ok(symbol) || !fn)
        return STORE_E_INVALID;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db,
                           "SELECT sig_id, time_ms, horizon_end_ms, action, p_sell, p_hold, p_buy,"
                           " confidence, strength, scored, outcome, result, ret, mfe, mae,"
                           " regime, source, first_hit, traded, replay FROM signals"
                           " WHERE venue = ?1 AND symbol = ?2 AND sig_id >= ?3 AND time_ms >= ?4"
                           " AND time_ms <= ?5 ORDER BY sig_id, time_ms LIMIT ?6",
                           -1, &st, NULL) != SQLITE_OK) {
        sqlite3_finalize(st);
        return STORE_E_READ;
    }
    store_bind_text(st, 1, venue_name(v));
    store_bind_text(st, 2, symbol);
    sqlite3_bind_int64(st, 3, from_id > INT64_MAX ? INT64_MAX : (int64_t)from_id);
    sqlite3_bind_int64(st, 4, from_ms);
    sqlite3_bind_int64(st, 5, to_ms);
    sqlite3_bind_int64(st, 6, max);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        store_signal g;
        memset(&g, 0, sizeof g);
        g.id = (uint64_t)sqlite3_column_int64(st, 0);
        g.time_ms = sqlite3_column_int64(st, 1);
        g.horizon_end_ms = sqlite3_column_int64(st, 2);
        static const struct {
            int col;
            size_t off, cap;
        } texts[] = {
            { 3, offsetof(store_signal, action), sizeof g.action },
            { 10, offsetof(store_signal, outcome), sizeof g.outcome },
            { 11, offsetof(store_signal, result), sizeof g.result },
            { 15, offsetof(store_signal, regime), sizeof g.regime },
            { 16, offsetof(store_signal, source), sizeof g.source },
            { 17, offsetof(store_signal, first_hit), sizeof g.first_hit },
        };
        for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
            const unsigned char *t = sqlite3_column_text(st, texts[i].col);
            snprintf((char *)&g + texts[i].off, texts[i].cap, "%s", t ? (const char *)t : "");
        }
        for (int k = 0; k < 3; k++)
            g.p[k] = sqlite3_column_double(st, 4 + k);
        g.confidence = sqlite3_column_double(st, 7);
        g.strength = sqlite3_column_double(st, 8);
        g.scored = sqlite3_column_int(st, 9) != 0;
        g.ret = sqlite3_column_double(st, 12);
        g.mfe = sqlite3_column_double(st, 13);
        g.mae = sqlite3_column_double(st, 14);
        g.traded = sqlite3_column_int(st, 18) != 0;
        int n = sqlite3_column_bytes(st, 19);
        const void *rec = sqlite3_column_blob(st, 19);
        fn(ud, &g, n > 0 ? rec : NULL, n > 0 ? (size_t)n : 0);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? STORE_OK : STORE_E_READ;
}

enum store_result store_load_signals_after(store *s, enum venue v, const char *symbol,
                                           uint64_t from_id, int64_t from_ms, int64_t to_ms,
                                           uint32_t max, store_signal_fn fn, void *ud)
{
    enum store_result rc = store_read_signals_after(s->rdb, v, symbol, from_id, from_ms, to_ms,
                                                    max, fn, ud);
    if (rc == STORE_E_READ)
        store_main_error(s, "loading stored signals failed");
    return rc;
}

enum store_result store_put_retrain(store *s, enum venue v, const char *symbol,
                                    const store_retrain *rt)
{
    if ((unsigned)v >= VENUE_COUNT || !rt || !store_symbol_ok(symbol))
        return store_reject(s);
    store_row *r = store_put_begin(s, ROW_RETRAIN, v, symbol);
    if (r) {
        r->u.rt.session_id = s->session_id;
        r->u.rt.v = *rt;
        store_retrain *t = &r->u.rt.v;
        t->model[sizeof t->model - 1] = t->kind[sizeof t->kind - 1] = '\0';
        t->trigger[sizeof t->trigger - 1] = '\0';
    }
    return store_put_end(s, r);
}

enum store_result store_put_metrics(store *s, enum venue v, const char *symbol, int64_t time_ms,
                                    const char *doc)
{
    if ((unsigned)v >= VENUE_COUNT || !doc || !store_symbol_ok(symbol))
        return store_reject(s);
    return store_put_doc_row(s, ROW_METRICS, v, symbol, time_ms, doc);
}

enum store_result store_put_risk_metrics(store *s, int64_t time_ms, const char *doc)
{
    if (!doc)
        return store_reject(s);
    return store_put_doc_row(s, ROW_RISK, (enum venue)0, NULL, time_ms, doc);
}

static void store_main_error(store *s, const char *what);

enum store_result store_put_instrument_doc(store *s, enum venue v, const char *symbol,
                                           const char *doc, int64_t time_ms)
{
    if ((unsigned)v >= VENUE_COUNT || !doc || !doc[0] || strlen(doc) > STORE_DOC_MAX ||
        !store_symbol_ok(symbol))
        return store_reject(s);
    return store_put_doc_row(s, ROW_INSTRUMENT_DOC, v, symbol, time_ms, doc);
}

enum store_result store_load_instrument_docs(store *s, store_doc_fn fn, void *ud)
{
    if (!fn)
        return STORE_E_INVALID;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->rdb, "SELECT venue, symbol, doc, fetched_ms FROM"
                           " instrument_filters ORDER BY venue, symbol", -1, &st, NULL) !=
        SQLITE_OK) {
        store_main_error(s, "loading instrument documents failed");
        return STORE_E_READ;
    }
    enum store_result out = STORE_OK;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        enum venue v;
        const char *vn = (const char *)sqlite3_column_text(st, 0);
        const char *sym = (const char *)sqlite3_column_text(st, 1);
        const char *doc = (const char *)sqlite3_column_text(st, 2);
        if (!vn || !sym || !doc || venue_parse(vn, &v) != K_OK)
            continue;
        if (!fn(ud, v, sym, doc, sqlite3_column_int64(st, 3)))
            break;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        store_main_error(s, "loading instrument documents failed");
        out = STORE_E_READ;
    }
    sqlite3_finalize(st);
    return out;
}

enum store_result store_put_model_state(store *s, enum venue v, const char *symbol,
                                        int64_t time_ms, const void *blob, size_t len,
                                        uint32_t keep)
{
    if ((unsigned)v >= VENUE_COUNT || !blob || len == 0 || len > STORE_STATE_MAX ||
        !store_symbol_ok(symbol))
        return store_reject(s);
    void *copy = xmalloc(len); /* outside the lock; the writer frees it */
    memcpy(copy, blob, len);
    pthread_mutex_lock(&s->mu);
    store_row *r = store_queue_reserve(s, false); /* a control row: never dropped by the cap */
    r->kind = ROW_MODEL_STATE;
    s->st_shared.rows_queued++;
    r->venue = (uint8_t)v;
    memcpy(r->symbol, symbol, strlen(symbol) + 1);
    r->u.ms.time_ms = time_ms;
    r->u.ms.saved_ms = store_wall_ms();
    r->u.ms.blob = copy;
    r->u.ms.len = len;
    r->u.ms.keep = keep ? keep : 1;
    pthread_mutex_unlock(&s->mu);
    return STORE_OK;
}

static void store_main_error(store *s, const char *what);

enum store_result store_read_model_state(sqlite3 *db, enum venue v, const char *symbol,
                                         void **blob, size_t *len, int64_t *time_ms,
                                         int64_t *version)
{
    *blob = NULL;
    *len = 0;
    if (!db || (unsigned)v >= VENUE_COUNT || !store_symbol_ok(symbol))
        return STORE_E_INVALID;
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db,
                                "SELECT id, time_ms, state FROM model_state WHERE venue = ?1 AND"
                                " symbol = ?2 ORDER BY id DESC LIMIT 1",
                                -1, &st, NULL);
    if (rc != SQLITE_OK) {
        sqlite3_finalize(st);
        return STORE_E_READ;
    }
    store_bind_text(st, 1, venue_name(v));
    store_bind_text(st, 2, symbol);
    enum store_result out = STORE_NOT_FOUND;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        int n = sqlite3_column_bytes(st, 2);
        const void *p = sqlite3_column_blob(st, 2);
        if (n > 0 && p) {
            *blob = xmalloc((size_t)n);
            memcpy(*blob, p, (size_t)n);
            *len = (size_t)n;
            if (version)
                *version = sqlite3_column_int64(st, 0);
            if (time_ms)
                *time_ms = sqlite3_column_int64(st, 1);
            out = STORE_OK;
        }
    } else if (rc != SQLITE_DONE) {
        out = STORE_E_READ;
    }
    sqlite3_finalize(st);
    return out;
}

enum store_result store_load_model_state(store *s, enum venue v, const char *symbol, void **blob,
                                         size_t *len, int64_t *time_ms, int64_t *version)
{
    enum store_result rc = store_read_model_state(s->rdb, v, symbol, blob, len, time_ms,
                                                  version);
    if (rc == STORE_E_READ)
        store_main_error(s, "loading model state failed");
    return rc;
}

int64_t store_session_begin(store *s, const char *source, const char *version, const char *args)
{
    if (s->session_id > 0)
        store_session_end(s);
    int64_t id = s->next_session_id++;
    /* the copies are made outside the lock; the writer frees them */
    char *src = store_dup_text(source), *ver = store_dup_text(version), *arg = store_dup_text(args);
    pthread_mutex_lock(&s->mu);
    store_row *r = store_queue_reserve(s, false);
    r->kind = ROW_SESSION_BEGIN;
    s->st_shared.rows_queued++;
    r->u.sess.id = id;
    r->u.sess.time_ms = store_wall_ms();
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
    store_row *r = store_queue_reserve(s, false);
    r->kind = ROW_SESSION_END;
    s->st_shared.rows_queued++;
    r->u.sess.id = s->session_id;
    r->u.sess.time_ms = store_wall_ms();
    s->session_id = 0;
    pthread_mutex_unlock(&s->mu);
}

enum store_result store_commit_then(store *s, store_barrier_cb cb, void *ud)
{
    if (!cb)
        return STORE_E_INVALID;
    if (s->barriers_out >= STORE_BARRIERS_MAX)
        return STORE_E_BUSY;
    s->barriers_out++;
    pthread_mutex_lock(&s->mu);
    store_row *r = store_queue_reserve(s, false);
    r->kind = ROW_BARRIER;
    r->u.barrier.cb = cb;
    r->u.barrier.ud = ud;
    pthread_mutex_unlock(&s->mu);
    return STORE_OK;
}

enum store_result store_durable_put(store *s, const store_record *rec, store_durable_cb cb,
                                    void *ud, uint64_t *id)
{
    if (id)
        *id = 0;
    size_t kl = rec && rec->kind ? strnlen(rec->kind, STORE_REC_KIND_MAX) : 0;
    size_t keyl = rec && rec->key ? strnlen(rec->key, STORE_REC_KEY_MAX) : 0;
    if (!cb || kl == 0 || kl >= STORE_REC_KIND_MAX || keyl == 0 || keyl >= STORE_REC_KEY_MAX ||
        (rec->payload && rec->len > STORE_PAYLOAD_MAX) || (!rec->payload && rec->len))
        return store_reject(s);
    if (s->durable_out >= STORE_DURABLE_MAX || !s->thread_started)
        return STORE_E_BUSY;
    void *copy = NULL;
    if (rec->payload) {
        copy = xmalloc(rec->len ? rec->len : 1);
        memcpy(copy, rec->payload, rec->len);
    }
    uint64_t rid = s->next_durable_id++;
    s->durable_out++;
    pthread_mutex_lock(&s->mu);
    durable_req *q = &s->dq[s->dq_n++];
    q->id = rid;
    q->time_ms = rec->time_ms;
    q->queued_us = store_mono_us();
    q->cb = cb;
    q->ud = ud;
    q->payload = copy;
    q->len = rec->len;
    q->blob = rec->blob;
    memcpy(q->kind, rec->kind, kl + 1);
    memcpy(q->key, rec->key, keyl + 1);
    atomic_store(&s->durable_waiting, true);
    pthread_cond_signal(&s->work_cv);
    pthread_mutex_unlock(&s->mu);
    if (id)
        *id = rid;
    return STORE_OK;
}

void store_flush(store *s)
{
    if (!s->thread_started)
        return;
    pthread_mutex_lock(&s->mu);
    uint64_t seq = ++s->flush_req;
    store_row *r = store_queue_reserve(s, false);
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

store_health_info store_health(store *s)
{
    store_health_info h;
    memset(&h, 0, sizeof h);
    pthread_mutex_lock(&s->mu);
    h.rows_dropped = s->st_shared.dropped;
    h.rows_failed = s->st_shared.rows_failed;
    h.rows_held = s->st_shared.rows_held;
    h.write_errors = s->write_errors;
    h.failing_since_ms = s->failing ? s->failing_since_ms : 0;
    memcpy(h.last_error, s->st_shared.last_error, sizeof h.last_error);
    bool failing = s->failing;
    pthread_mutex_unlock(&s->mu);
    h.rows_lost = h.rows_dropped + h.rows_failed;
    h.state = failing ? STORE_STATE_FAILING : h.rows_lost ? STORE_STATE_DEGRADED : STORE_STATE_OK;
    return h;
}

/* Tells on_health what changed since it was last told: failing began or ended, rows lost
 * (at once the first time, then at most every STORE_HEALTH_REPEAT_MS unless `force`). */
static void store_report_health(store *s, bool force)
{
    if (!s->o.on_health)
        return;
    store_health_info h = store_health(s);
    bool failing = h.state == STORE_STATE_FAILING;
    int64_t now = store_mono_ms();
    char msg[STORE_ERR_MAX + 200];
    bool error = true;
    if (failing && !s->rep_failing) {
        snprintf(msg, sizeof msg,
                 "store: database writes are failing (%s); %" PRIu32
                 " rows held for retry, %" PRIu64 " lost so far",
                 h.last_error[0] ? h.last_error : "?", h.rows_held, h.rows_lost);
    } else if (!failing && s->rep_failing) {
        error = h.rows_lost > 0;
        snprintf(msg, sizeof msg, "store: database writes work again; %" PRIu64 " rows lost",
                 h.rows_lost);
    } else if (h.rows_lost > s->rep_lost &&
               (force || s->rep_lost == 0 || now - s->rep_ms >= STORE_HEALTH_REPEAT_MS)) {
        snprintf(msg, sizeof msg,
                 "store: %" PRIu64 " rows lost (%" PRIu64 " dropped: queue full (cap %" PRIu32
                 "), %" PRIu64 " failed to be written)%s%s",
                 h.rows_lost, h.rows_dropped, s->o.queue_cap, h.rows_failed,
                 h.last_error[0] ? "; last error: " : "", h.last_error);
    } else {
        return;
    }
    s->rep_failing = failing;
    s->rep_lost = h.rows_lost;
    s->rep_ms = now;
    s->o.on_health(s->o.on_health_ud, &h, error, msg);
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
    s->drop_notified = false;
    pthread_mutex_unlock(&s->mu);
    s->processing = true;
    for (uint32_t i = 0; i < n; i++) {
        completion *c = &s->run[i];
        if (c->bcb) {
            s->barriers_out--;
            c->bcb(c->ud, c->rc);
        } else if (c->lcb) {
            s->barriers_out--;
            c->lcb(c->ud, c->rc, (uint32_t)c->id);
        } else {
            s->durable_out--;
            c->dcb(c->ud, c->id, c->rc);
        }
    }
    store_report_health(s, false);
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

static void store_main_error(store *s, const char *what)
{
    pthread_mutex_lock(&s->mu);
    s->st_shared.errors++;
    snprintf(s->st_shared.last_error, sizeof s->st_shared.last_error, "%s: %s (%s)", s->path, what,
             sqlite3_errmsg(s->rdb));
    pthread_mutex_unlock(&s->mu);
}

enum store_result store_load_candles(store *s, enum venue v, const char *symbol, enum tf tf,
                                     int64_t before_ms, candle *out, uint32_t max, uint32_t *nout)
{
    if (nout)
        *nout = 0;
    if ((unsigned)v >= VENUE_COUNT || (unsigned)tf >= TF_COUNT || !store_symbol_ok(symbol) ||
        (!out && max) || !nout)
        return STORE_E_INVALID;
    if (max == 0)
        return STORE_OK;
    if (store_load_rows(s, s->load_st, v, symbol, tf, before_ms, out, max, nout) != SQLITE_DONE) {
        store_main_error(s, "loading candles failed");
        return STORE_E_READ;
    }
    return STORE_OK;
}

enum store_result store_load_candles_async(store *s, enum venue v, const char *symbol, enum tf tf,
                                           int64_t before_ms, candle *out, uint32_t max,
                                           store_load_cb cb, void *ud)
{
    if ((unsigned)v >= VENUE_COUNT || (unsigned)tf >= TF_COUNT || !store_symbol_ok(symbol) || !cb ||
        (!out && max))
        return STORE_E_INVALID;
    if (s->barriers_out >= STORE_BARRIERS_MAX || !s->thread_started)
        return STORE_E_BUSY;
    s->barriers_out++;
    pthread_mutex_lock(&s->mu);
    store_row *r = store_queue_reserve(s, false);
    r->kind = ROW_LOAD;
    r->venue = (uint8_t)v;
    r->tf = (uint8_t)tf;
    memcpy(r->symbol, symbol, strlen(symbol) + 1);
    r->u.load.cb = cb;
    r->u.load.ud = ud;
    r->u.load.out = out;
    r->u.load.max = max;
    r->u.load.before_ms = before_ms;
    pthread_mutex_unlock(&s->mu);
    return STORE_OK;
}

enum store_result store_read_async(store *s, store_read_fn fn, store_load_cb cb, void *ud)
{
    if (!fn || !cb)
        return STORE_E_INVALID;
    if (s->barriers_out >= STORE_BARRIERS_MAX || !s->thread_started)
        return STORE_E_BUSY;
    s->barriers_out++;
    pthread_mutex_lock(&s->mu);
    store_row *r = store_queue_reserve(s, false);
    r->kind = ROW_READ;
    r->u.rd.fn = fn;
    r->u.rd.cb = cb;
    r->u.rd.ud = ud;
    pthread_mutex_unlock(&s->mu);
    return STORE_OK;
}

/* Read-your-writes without waiting: a setting accepted but not yet committed is answered from
 * pend[] (the main thread's copy, dropped once the writer reports its seq done); everything
 * else from the committed table. Only when more than STORE_PENDING_SETTINGS distinct keys are
 * pending at once (never in practice) does a get wait for the writer, once. */
enum store_result store_get_setting(store *s, const char *key, char *out, size_t cap)
{
    if (out && cap)
        out[0] = '\0';
    size_t klen = key ? strnlen(key, STORE_SETTING_KEY_MAX) : 0;
    if (!out || !cap || klen == 0 || klen >= STORE_SETTING_KEY_MAX)
        return STORE_E_INVALID;
    if (s->pend_overflow) {
        store_flush(s);
        s->pend_overflow = false;
    }
    store_pending_prune(s);
    for (uint32_t i = 0; i < s->pend_n; i++) {
        if (strcmp(s->pend[i].key, key) != 0)
            continue;
        size_t n = strlen(s->pend[i].value);
        if (n >= cap)
            return STORE_E_TOO_SMALL;
        memcpy(out, s->pend[i].value, n + 1);
        return STORE_OK;
    }
    sqlite3_stmt *st = s->setting_st;
    store_bind_text(st, 1, key);
    int rc = sqlite3_step(st);
    enum store_result ret;
    if (rc == SQLITE_ROW) {
        const unsigned char *v = sqlite3_column_text(st, 0);
        size_t n = (size_t)sqlite3_column_bytes(st, 0);
        if (!v && sqlite3_errcode(s->rdb) == SQLITE_NOMEM) {
            store_main_error(s, "reading a setting failed");
            ret = STORE_E_READ;
        } else if (n >= cap) {
            ret = STORE_E_TOO_SMALL;
        } else {
            if (n)
                memcpy(out, v, n);
            out[n] = '\0';
            ret = STORE_OK;
        }
    } else if (rc == SQLITE_DONE) {
        ret = STORE_NOT_FOUND;
    } else {
        store_main_error(s, "reading a setting failed");
        ret = STORE_E_READ;
    }
    sqlite3_reset(st);
    return ret;
}

enum store_result store_durable_load(store *s, const char *kind, store_record_fn fn, void *ud)
{
    if (!fn || (kind && (!*kind || strnlen(kind, STORE_REC_KIND_MAX) >= STORE_REC_KIND_MAX)))
        return STORE_E_INVALID;
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->rdb,
                                "SELECT kind, key, seq, time_ms, payload FROM journal"
                                " WHERE ?1 IS NULL OR kind = ?1 ORDER BY seq",
                                -1, &st, NULL);
    if (rc != SQLITE_OK) {
        store_main_error(s, "reading the journal failed");
        return STORE_E_READ;
    }
    if (kind)
        store_bind_text(st, 1, kind);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        store_record rec = {
            .kind = (const char *)sqlite3_column_text(st, 0),
            .key = (const char *)sqlite3_column_text(st, 1),
            .time_ms = sqlite3_column_int64(st, 3),
            .blob = sqlite3_column_type(st, 4) == SQLITE_BLOB,
        };
        rec.payload = rec.blob ? sqlite3_column_blob(st, 4) : sqlite3_column_text(st, 4);
        rec.len = (size_t)sqlite3_column_bytes(st, 4);
        if (!rec.payload)
            rec.payload = "";
        if (!rec.kind || !rec.key)
            continue;
        if (!fn(ud, &rec, (uint64_t)sqlite3_column_int64(st, 2))) {
            rc = SQLITE_DONE;
            break;
        }
    }
    enum store_result ret = STORE_OK;
    if (rc != SQLITE_DONE) {
        store_main_error(s, "reading the journal failed");
        ret = STORE_E_READ;
    }
    sqlite3_finalize(st);
    return ret;
}

/* ---------------------------------------------------------------- open / close */

static enum store_result store_make_parent_dirs(const char *path, char *err, size_t errlen)
{
    char *dir = xstrdup(path);
    char *slash = strrchr(dir, '/');
    enum store_result ret = STORE_OK;
    if (!slash || slash == dir) {
        free(dir);
        return STORE_OK;
    }
    *slash = '\0';
    for (char *p = dir + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char c = *p;
        *p = '\0';
        if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
            int e = errno;
            snprintf(err, errlen, "%s: cannot create directory %s (%s)", path, dir, strerror(e));
            ret = e == EACCES || e == EROFS || e == EPERM ? STORE_E_READONLY : STORE_E_OPEN;
            break;
        }
        *p = c;
        if (!c)
            break;
    }
    if (ret == STORE_OK) {
        struct stat sb;
        if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
            snprintf(err, errlen, "%s: cannot create directory %s (%s)", path, dir,
                     stat(dir, &sb) != 0 ? strerror(errno) : strerror(ENOTDIR));
            ret = STORE_E_OPEN;
        }
    }
    free(dir);
    return ret;
}

/* A file we are about to trust must be a regular file of ours (fd from an O_NOFOLLOW open). */
static enum store_result store_check_owned(int fd, const char *what, const char *file, char *err,
                                           size_t errlen)
{
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        snprintf(err, errlen, "%s: cannot stat %s (%s)", file, what, strerror(errno));
        return STORE_E_OPEN;
    }
    if (!S_ISREG(sb.st_mode)) {
        snprintf(err, errlen, "%s: %s is not a regular file; refused", file, what);
        return STORE_E_UNSAFE;
    }
    if (sb.st_uid != geteuid()) {
        snprintf(err, errlen, "%s: %s is owned by uid %ld, not by this user (uid %ld); refused",
                 file, what, (long)sb.st_uid, (long)geteuid());
        return STORE_E_UNSAFE;
    }
    return STORE_OK;
}

static enum store_result store_symlink_refusal(const char *file, const char *what, char *err,
                                               size_t errlen)
{
    snprintf(err, errlen,
             "%s: %s is a symbolic link; refused (it is never followed: remove it if it is not "
             "yours)",
             file, what);
    return STORE_E_UNSAFE;
}

/* flock on PATH.lock: two Kestrels never write one database. The holder's pid is written into
 * the file so the refusal can name it. Created with O_EXCL; an existing one is opened with
 * O_NOFOLLOW and must be a regular file of ours, so a planted symlink is never written through. */
static enum store_result store_take_lock(const char *path, int *fd_out, char *err, size_t errlen)
{
    char lpath[4096];
    if ((size_t)snprintf(lpath, sizeof lpath, "%s.lock", path) >= sizeof lpath) {
        snprintf(err, errlen, "%s: path too long", path);
        return STORE_E_INVALID;
    }
    int fd = open(lpath, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0 && errno == EEXIST)
        fd = open(lpath, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        if (e == ELOOP)
            return store_symlink_refusal(lpath, "the lock file", err, errlen);
        snprintf(err, errlen, "%s: cannot create the lock file %s (%s)", path, lpath, strerror(e));
        return e == EACCES || e == EROFS || e == EPERM ? STORE_E_READONLY : STORE_E_OPEN;
    }
    enum store_result r = store_check_owned(fd, "the lock file", lpath, err, errlen);
    if (r != STORE_OK) {
        close(fd);
        return r;
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
            r = STORE_E_IN_USE;
        } else {
            snprintf(err, errlen, "%s: cannot lock %s (%s)", path, lpath, strerror(e));
            r = STORE_E_OPEN;
        }
        close(fd);
        return r;
    }
    char pid[32];
    int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) == 0) {
        ssize_t w = pwrite(fd, pid, (size_t)n, 0);
        (void)w; /* the pid is informational */
    }
    *fd_out = fd;
    return STORE_OK;
}

/* The database file: created with O_EXCL (mode 0600), or opened without following a symlink
 * and checked to be a regular file of ours; its -wal/-shm, if present, likewise. */
static enum store_result store_check_db_files(const char *path, bool side_existed[2], char *err,
                                              size_t errlen)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0 && errno == EEXIST)
        fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        if (e == ELOOP)
            return store_symlink_refusal(path, "the database", err, errlen);
        snprintf(err, errlen, "%s: cannot open the database (%s)", path, strerror(e));
        return e == EACCES || e == EROFS || e == EPERM ? STORE_E_READONLY : STORE_E_OPEN;
    }
    /* No SQLite connection of ours has the file open yet, so this close cannot drop its locks. */
    enum store_result r = store_check_owned(fd, "the database", path, err, errlen);
    close(fd);
    if (r != STORE_OK)
        return r;
    static const char *const sfx[2] = {"-wal", "-shm"};
    for (int i = 0; i < 2; i++) {
        char side[4096];
        snprintf(side, sizeof side, "%s%s", path, sfx[i]);
        struct stat sb;
        side_existed[i] = lstat(side, &sb) == 0;
        if (!side_existed[i])
            continue;
        if (S_ISLNK(sb.st_mode))
            return store_symlink_refusal(side, "the database's sidecar file", err, errlen);
        if (!S_ISREG(sb.st_mode) || sb.st_uid != geteuid()) {
            snprintf(err, errlen, "%s: not a regular file owned by this user; refused", side);
            return STORE_E_UNSAFE;
        }
    }
    return STORE_OK;
}

/* A full disk at start is refused (the write probe below catches file size limits and
 * read-only files; this catches a disk whose last free blocks a tiny write could still use). */
static enum store_result store_check_free_space(const char *path, char *err, size_t errlen)
{
    char *dir = xstrdup(path);
    char *slash = strrchr(dir, '/');
    if (slash)
        slash[slash == dir ? 1 : 0] = '\0';
    struct statvfs vs;
    enum store_result r = STORE_OK;
    if (statvfs(slash ? dir : ".", &vs) == 0 && vs.f_blocks > 0) {
        unsigned long long avail = (unsigned long long)vs.f_bavail * vs.f_frsize;
        if (avail < STORE_MIN_FREE) {
            snprintf(err, errlen,
                     "%s: the disk is full (%llu KiB free in %s; Kestrel needs at least %d KiB "
                     "to write its database)",
                     path, avail / 1024, slash ? dir : ".", STORE_MIN_FREE / 1024);
            r = STORE_E_DISK_FULL;
        }
    }
    free(dir);
    return r;
}

/* One small write before the writer starts: proves the file, its directory (for -wal/-shm) and
 * the disk take writes. */
static enum store_result store_write_probe(store *s, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_exec(s->wdb, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(
            s->wdb, "INSERT OR REPLACE INTO meta(key, value) VALUES('last_open_ms', ?1)", -1, &st,
            NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, store_wall_ms());
        rc = sqlite3_step(st);
        if (rc == SQLITE_DONE)
            rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(s->wdb, "COMMIT", NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        return STORE_OK;
    enum store_result r = store_schema_describe(s->wdb, rc, s->path, err, errlen);
    if (!sqlite3_get_autocommit(s->wdb))
        sqlite3_exec(s->wdb, "ROLLBACK", NULL, NULL, NULL);
    return r;
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
    rowbuf *bufs[3] = {&s->front, &s->back, &s->txn};
    for (int k = 0; k < 3; k++) {
        for (uint32_t i = 0; i < bufs[k]->n; i++)
            store_row_free(&bufs[k]->v[i]);
        free(bufs[k]->v);
    }
    if (s->hn)
        store_held_pop(s, s->hn);
    free(s->held);
    for (uint32_t i = 0; i < s->dq_n; i++)
        free(s->dq[i].payload);
    free(s->dq);
    free(s->dq_back);
    for (uint32_t i = 0; i < s->pend_n; i++) {
        free(s->pend[i].key);
        free(s->pend[i].value);
    }
    free(s->done);
    free(s->run);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->work_cv);
    pthread_cond_destroy(&s->done_cv);
    free(s->path);
    free(s);
}

/* A refused database must not keep sidecar files its refusal created: the connections are
 * closed (no checkpoint: nothing is written) and a -wal/-shm that did not exist before our open
 * is removed. We hold PATH.lock, so no other Kestrel can be using them. */
static void store_remove_new_sidecars(store *s, const bool side_existed[2])
{
    static const char *const sfx[2] = {"-wal", "-shm"};
    for (int k = 0; k < ST_COUNT; k++) {
        sqlite3_finalize(s->st[k]);
        s->st[k] = NULL;
    }
    sqlite3_finalize(s->load_st);
    sqlite3_finalize(s->setting_st);
    s->load_st = s->setting_st = NULL;
    sqlite3_close(s->rdb);
    sqlite3_close(s->wdb);
    s->rdb = s->wdb = NULL;
    for (int i = 0; i < 2; i++) {
        if (side_existed[i])
            continue;
        char side[4096];
        snprintf(side, sizeof side, "%s%s", s->path, sfx[i]);
        struct stat sb;
        if (lstat(side, &sb) == 0 && S_ISREG(sb.st_mode) && (i == 1 || sb.st_size == 0))
            unlink(side);
    }
}

static enum store_result store_open_fail(store *s, enum store_result r, char *err, size_t errlen,
                                         const char *what, int rc, sqlite3 *db)
{
    if (what)
        snprintf(err, errlen, "%s: %s (%s)", s->path, what,
                 db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    store_free(s);
    return r;
}

static int64_t store_query_next(sqlite3 *db, const char *sql, int *rc_out)
{
    sqlite3_stmt *q = NULL;
    int64_t next = 1;
    int rc = sqlite3_prepare_v2(db, sql, -1, &q, NULL);
    if (rc == SQLITE_OK && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        next = sqlite3_column_int64(q, 0);
        rc = SQLITE_OK;
    }
    sqlite3_finalize(q);
    *rc_out = rc;
    return next;
}

enum store_result store_open(store **out, const char *path, const store_opts *opts, char *err,
                             size_t errlen)
{
    *out = NULL;
    if (!path || !*path) {
        snprintf(err, errlen, "store: no database path given");
        return STORE_E_INVALID;
    }
    if (!sqlite3_threadsafe()) {
        snprintf(err, errlen, "%s: this SQLite library is built without thread support", path);
        return STORE_E_OPEN;
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
    if (!s->o.retry_ms)
        s->o.retry_ms = DEF_RETRY_MS;
    s->wake_n = K_MIN(s->o.batch, s->o.queue_cap);
    s->done = xcalloc(STORE_DONE_MAX, sizeof *s->done);
    s->run = xcalloc(STORE_DONE_MAX, sizeof *s->run);
    s->dq = xcalloc(STORE_DURABLE_MAX, sizeof *s->dq);
    s->dq_back = xcalloc(STORE_DURABLE_MAX, sizeof *s->dq_back);
    s->next_session_id = 1;
    atomic_init(&s->stop, false);
    atomic_init(&s->durable_waiting, false);
    pthread_mutex_init(&s->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->work_cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_cond_init(&s->done_cv, NULL);

    enum store_result r = store_make_parent_dirs(path, err, errlen);
    if (r == STORE_OK)
        r = store_take_lock(path, &s->lock_fd, err, errlen);
    bool side_existed[2] = {true, true};
    if (r == STORE_OK)
        r = store_check_db_files(path, side_existed, err, errlen);
    if (r == STORE_OK)
        r = store_check_free_space(path, err, errlen);
    if (r != STORE_OK)
        return store_open_fail(s, r, err, errlen, NULL, 0, NULL);

    int rc = sqlite3_open_v2(
        path, &s->wdb, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOFOLLOW, NULL);
    if (rc != SQLITE_OK) {
        r = store_schema_describe(s->wdb, rc, path, err, errlen);
        store_remove_new_sidecars(s, side_existed);
        return store_open_fail(s, r, err, errlen, NULL, 0, NULL);
    }
    if (sqlite3_db_readonly(s->wdb, "main") == 1) {
        snprintf(err, errlen,
                 "%s: the database is read-only (no write permission); Kestrel must write its "
                 "database: fix its permissions or use another --db",
                 path);
        store_remove_new_sidecars(s, side_existed);
        return store_open_fail(s, STORE_E_READONLY, err, errlen, NULL, 0, NULL);
    }
    sqlite3_extended_result_codes(s->wdb, 1);
    sqlite3_busy_timeout(s->wdb, (int)s->o.busy_timeout_ms);
    /* A refused file must not be checkpointed on close either. */
    sqlite3_db_config(s->wdb, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
    r = store_schema_prepare(s->wdb, path, &s->schema_version, err, errlen);
    if (r == STORE_OK)
        r = store_write_probe(s, err, errlen);
    if (r != STORE_OK) {
        store_remove_new_sidecars(s, side_existed);
        return store_open_fail(s, r, err, errlen, NULL, 0, NULL);
    }
    sqlite3_db_config(s->wdb, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 0, NULL);

    for (int i = 0; i < ST_COUNT; i++) {
        rc =
            sqlite3_prepare_v3(s->wdb, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->st[i], NULL);
        if (rc != SQLITE_OK)
            return store_open_fail(s, STORE_E_OPEN, err, errlen, "cannot prepare statements", rc,
                                   s->wdb);
    }
    s->next_session_id =
        store_query_next(s->wdb, "SELECT coalesce(max(id), 0) + 1 FROM sessions", &rc);
    if (rc == SQLITE_OK)
        s->next_durable_id = (uint64_t)store_query_next(
            s->wdb, "SELECT coalesce(max(seq), 0) + 1 FROM journal", &rc);
    if (rc != SQLITE_OK)
        return store_open_fail(s, STORE_E_OPEN, err, errlen, "cannot read sessions", rc, s->wdb);

    rc = sqlite3_open_v2(path, &s->rdb, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOFOLLOW, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_busy_timeout(s->rdb, (int)s->o.busy_timeout_ms);
        rc = sqlite3_prepare_v3(s->rdb,
                                "SELECT open_ms, o, h, l, c, volume, buy_volume, quote_volume,"
                                " trades, partial FROM candles WHERE venue = ?1 AND symbol = ?2 AND"
                                " tf = ?3 AND open_ms < ?4 ORDER BY open_ms DESC LIMIT ?5",
                                -1, SQLITE_PREPARE_PERSISTENT, &s->load_st, NULL);
    }
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v3(s->rdb, "SELECT value FROM settings WHERE key = ?1", -1,
                                SQLITE_PREPARE_PERSISTENT, &s->setting_st, NULL);
    if (rc != SQLITE_OK)
        return store_open_fail(s, STORE_E_OPEN, err, errlen, "cannot open the read connection", rc,
                               s->rdb);

    s->event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (s->event_fd < 0) {
        snprintf(err, errlen, "%s: eventfd: %s", path, strerror(errno));
        return store_open_fail(s, STORE_E_OPEN, err, errlen, NULL, 0, NULL);
    }

    /* The writer takes no signals: they belong to the main thread's self-pipe (a SIGXFSZ from a
     * file size limit stays pending on the writer; its write fails with EFBIG and is retried). */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int prc = pthread_create(&s->thread, NULL, store_writer_main, s);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (prc != 0) {
        snprintf(err, errlen, "%s: cannot start the store thread (%s)", path, strerror(prc));
        return store_open_fail(s, STORE_E_OPEN, err, errlen, NULL, 0, NULL);
    }
    pthread_setname_np(s->thread, "kestrel-store");
    s->thread_started = true;
    *out = s;
    return STORE_OK;
}

void store_close_final(store *s, store_health_info *final)
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
        store_report_health(s, true);
    }
    if (final)
        *final = store_health(s);
    store_free(s);
}

void store_close(store *s)
{
    store_close_final(s, NULL);
}
