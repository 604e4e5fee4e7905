/* Persistent store: one SQLite database (WAL mode) owned by ONE background writer thread.
 *
 * The main thread never waits for a commit. It enqueues rows (store_put_*), which are copied
 * (strings included) into a bounded swap-buffer queue; the writer drains the queue, batches rows
 * into transactions with prepared statements, and reports back through an eventfd that the main
 * loop polls (store_fd). Completions of store_commit_then() run on the main thread inside
 * store_process(). Reads (store_load_candles at start-up, store_get_setting) use a separate read
 * connection on the calling thread.
 *
 * Threading: every function here is for the MAIN thread (the one that called store_open); none of
 * them may be called concurrently. The writer thread is internal.
 *
 * Durability: ordinary rows are committed with synchronous=NORMAL (WAL): they survive a crash or
 * kill -9 of the process once committed, but the last commits may be lost on power loss or an OS
 * crash. store_commit_then() is the write-ahead path: its callback reports K_OK only after every
 * row accepted before it is committed AND the WAL is fsynced (power-loss durable).
 * See docs/STORE.md for the schema, versions and error behaviour. */
#ifndef KESTREL_STORE_H
#define KESTREL_STORE_H
#include "kestrel/candles.h"
#include "kestrel/common.h"

#define STORE_KIND_MAX 16    /* book event kind incl. NUL ("gap", "synced", "resynced", ...) */
#define STORE_DETAIL_MAX 128 /* book event detail incl. NUL; longer text is truncated */
#define STORE_TEXT_MAX 1024  /* session source/version/args incl. NUL; longer is truncated */
#define STORE_SETTING_KEY_MAX 65 /* setting key incl. NUL: keys are 1..64 bytes */
#define STORE_BARRIERS_MAX 1024 /* store_commit_then() calls outstanding at once */
#define STORE_ERR_MAX 256

typedef struct store store;

/* Zero in any field means "the default". */
typedef struct store_opts {
    uint32_t batch;           /* rows per transaction (default 512) */
    uint32_t flush_ms;        /* commit pending rows at most this long after the first (250) */
    uint32_t queue_cap;       /* data rows waiting for the writer; beyond: dropped (65536) */
    uint32_t busy_timeout_ms; /* wait for a lock held by another connection (1000) */
} store_opts;

/* Row counters count data rows and session rows (begin and end are one row each). */
typedef struct store_stats {
    uint64_t rows_queued;   /* rows accepted by store_put_* and the session calls */
    uint64_t rows_written;  /* data rows committed */
    uint64_t rows_failed;   /* accepted rows lost to a write error (their transaction failed) */
    uint64_t dropped;       /* rows refused because the queue was full */
    uint64_t rejected;      /* rows refused because an argument was invalid (NULL, too long) */
    uint64_t commits;       /* data transactions committed */
    uint64_t barriers;      /* store_commit_then() barriers completed (K_OK or not) */
    uint64_t errors;        /* failed SQLite calls (statements, commits, reads) */
    uint32_t queue_depth;   /* data rows waiting in the queue now */
    uint32_t in_flight;     /* rows taken by the writer and not yet written */
    uint32_t queue_peak;    /* highest queue_depth seen */
    uint32_t queue_cap;
    int64_t last_commit_us; /* duration of the last COMMIT */
    int64_t max_commit_us;
    int schema_version;
    char last_error[STORE_ERR_MAX]; /* "" when none yet */
    char warning[STORE_ERR_MAX];    /* e.g. queue-full drops; "" when none */
} store_stats;

/* The schema version this build creates and migrates to. */
int store_schema_version(void);

/* Opens (creating parent directories with mode 0700 and the file if missing) and migrates the
 * database at `path`, then starts the writer thread. opts may be NULL. Takes an advisory lock on
 * PATH.lock (flock) so two Kestrels never write one database. On failure: K_ERR, *out = NULL and
 * a message in err, e.g.
 *   "PATH: not a Kestrel database or corrupt (...); it was left untouched"
 *   "PATH: schema version N is newer than this Kestrel (M); upgrade Kestrel or use another --db"
 *   "PATH: database is in use by another process (...)"
 * A file that is refused is never written, truncated or migrated. */
int store_open(store **out, const char *path, const store_opts *opts, char *err, size_t errlen);
/* Ends the open session, flushes everything queued, stops and joins the writer, runs any
 * store_commit_then() callbacks not yet delivered (anything those queue is discarded), closes
 * the database. NULL is a no-op. Not to be called from a store callback. */
void store_close(store *s);
const char *store_path(const store *s);

/* Sessions: one row per run. begin returns the new session id (> 0) at once (ids are allocated
 * by the store; the row is written by the writer); book events carry the current session id.
 * Session rows are never dropped by the queue cap. ended_ms stays NULL if the process died. */
int64_t store_session_begin(store *s, const char *source, const char *version, const char *args);
void store_session_end(store *s);

/* Data rows. K_OK when queued; K_ERR when dropped (queue full: counted in stats.dropped and
 * stats.warning) or rejected (invalid arguments: stats.rejected). Candles are INSERT OR REPLACE
 * on (venue, symbol, tf, open_ms): writing the same bar again is idempotent. Instruments are
 * upserts that keep first_seen_ms. */
int store_put_candle(store *s, enum venue v, const char *symbol, enum tf tf, const candle *bar);
int store_put_instrument(store *s, enum venue v, const char *symbol, int px_dec, int qty_dec,
                         int64_t time_ms);
/* kind: "gap", "synced", "resynced" or "crossed" (any short word is accepted); detail may be
 * NULL; last_id < 0 stores NULL. */
int store_put_book_event(store *s, int64_t time_ms, enum venue v, const char *symbol,
                         const char *kind, int64_t last_id, const char *detail);

/* Settings: one text value per key (INSERT OR REPLACE; updated_ms = time_ms). Queued like the
 * data rows above and with the same results: K_OK when queued, K_ERR when dropped (queue full:
 * stats.dropped) or rejected (stats.rejected: key NULL, empty or longer than 64 bytes; value NULL
 * or not shorter than STORE_TEXT_MAX bytes). Never truncated. */
int store_put_setting(store *s, const char *key, const char *value, int64_t time_ms);
/* Synchronous read (read connection, calling thread). Returns 1 when found (the value,
 * NUL-terminated, in out), 0 when the key has no value, K_ERR on invalid arguments, on an SQLite
 * error, or when the value does not fit in cap bytes (a buffer of STORE_TEXT_MAX always fits). On
 * 0 and K_ERR out is "" (if cap > 0). Sees every store_put_setting() accepted before it: if a
 * setting was put since the last such read, it first waits for the writer to commit everything
 * queued (store_flush), so that one read may block; reads with no setting put in between do
 * not. A setting whose write failed (stats.rows_failed) reads as its previous value. */
int store_get_setting(store *s, const char *key, char *out, size_t cap);

/* Synchronous read (read connection, calling thread): the newest `max` committed bars with
 * open_ms < before_ms, returned oldest first in out[]. Returns the count (0..max) or K_ERR.
 * Rows still queued are not visible: call store_flush() first if that matters. */
int store_load_candles(store *s, enum venue v, const char *symbol, enum tf tf, int64_t before_ms,
                       candle *out, uint32_t max);

/* eventfd that becomes readable when completions (or new errors) are ready: poll it for POLLIN
 * and call store_process(), which drains it and runs the ready callbacks in order. */
int store_fd(const store *s);
void store_process(store *s);

/* Barrier: cb(ud, rc) runs on the main thread (inside store_process or store_close) after every
 * row accepted before this call is committed and fsynced. rc is K_OK, or K_ERR if any of those
 * rows failed to be written or if a row was dropped (queue full) since the previous barrier.
 * The barrier itself is never dropped by the queue cap. Returns K_ERR (cb will not run) only if
 * STORE_BARRIERS_MAX barriers are already outstanding or cb is NULL. */
int store_commit_then(store *s, void (*cb)(void *ud, int rc), void *ud);

/* Blocks until everything queued so far is committed (or has failed). For shutdown and tests. */
void store_flush(store *s);

/* A snapshot taken now; valid until the next call on this store. */
const store_stats *store_get_stats(store *s);

#endif
