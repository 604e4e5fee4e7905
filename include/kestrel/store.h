/* Persistent store: one SQLite database (WAL mode) owned by ONE background writer thread.
 *
 * The main thread never waits for a commit. It enqueues rows (store_put_*), which are copied
 * (strings included) into a bounded swap-buffer queue; the writer drains the queue, batches rows
 * into transactions with prepared statements, and reports back through an eventfd that the main
 * loop polls (store_fd). Completions of store_commit_then() and store_durable_put() run on the
 * main thread inside store_process(). Reads (store_load_candles at start-up, store_get_setting,
 * store_durable_load) use a separate read connection on the calling thread.
 *
 * Two lanes: market rows (candles, instruments, book events, settings, sessions) go through the
 * bounded queue and may be dropped when it is full; durable records (order intents, fills,
 * positions) go through their own small queue that the writer serves first, each batch in its
 * own fsynced transaction, acknowledged per request and in order. Nothing on the market lane
 * (a drop, a failed row, a long backlog) can fail or delay the durable lane beyond one batch.
 *
 * Threading: every function here is for the MAIN thread (the one that called store_open); none of
 * them may be called concurrently. The writer thread is internal.
 *
 * Results: functions whose outcomes a caller must tell apart return enum store_result and are
 * K_MUST_USE. The market-row puts return it too but are not K_MUST_USE: a drop is counted and
 * reported by the store itself (store_health, the on_health callback), so the hot path may
 * ignore it. See docs/STORE.md for the schema, versions and error behaviour. */
#ifndef KESTREL_STORE_H
#define KESTREL_STORE_H
#include "kestrel/candles.h"
#include "kestrel/common.h"

#define STORE_KIND_MAX 16    /* book event kind incl. NUL ("gap", "synced", "resynced", ...) */
#define STORE_DETAIL_MAX 128 /* book event detail incl. NUL; longer text is truncated */
#define STORE_TEXT_MAX 1024  /* session source/version/args incl. NUL; longer is truncated */
#define STORE_SETTING_KEY_MAX 65 /* setting key incl. NUL: keys are 1..64 bytes */
#define STORE_BARRIERS_MAX 1024 /* store_commit_then() calls outstanding at once */
#define STORE_DURABLE_MAX 1024  /* store_durable_put() requests outstanding at once */
#define STORE_REC_KIND_MAX 32   /* durable record kind incl. NUL ("intent", "fill", ...) */
#define STORE_REC_KEY_MAX 128   /* durable record key incl. NUL (e.g. a client order id) */
#define STORE_PAYLOAD_MAX 65536 /* durable record payload bytes */
#define STORE_ERR_MAX 256

enum store_result {
    STORE_OK = 0,
    STORE_NOT_FOUND,    /* get: no value for the key */
    STORE_E_INVALID,    /* an argument is invalid (NULL, empty, too long): counted as rejected */
    STORE_E_FULL,       /* the queue is full: the row was dropped (counted) */
    STORE_E_BUSY,       /* too many barriers / durable requests outstanding */
    STORE_E_TOO_SMALL,  /* get: the value does not fit in the caller's buffer */
    STORE_E_READ,       /* an SQLite read failed (message in stats.last_error) */
    STORE_E_WRITE,      /* the write (or its fsync) failed; nothing of it is durable */
    STORE_E_RETRYING,   /* barrier: rows before it are held for retry after a write error */
    STORE_E_ROWS_LOST,  /* barrier: rows accepted before it were lost to write errors */
    STORE_E_CLOSED,     /* the store closed before the request could be written */
    STORE_E_OPEN,       /* store_open: cannot open / create / write the database (see err) */
    STORE_E_IN_USE,     /* store_open: another process holds the database */
    STORE_E_REFUSED,    /* store_open: not a Kestrel database, corrupt, or newer schema */
    STORE_E_UNSAFE,     /* store_open: a symlink, not a regular file, or owned by another user */
    STORE_E_READONLY,   /* store_open: the database or its directory cannot be written */
    STORE_E_DISK_FULL,  /* store_open: no space (or a file size limit) for the database */
};
/* A short fixed English phrase, e.g. "queue full: row dropped". */
const char *store_strerror(enum store_result r);

typedef struct store store;

/* Health, for the status document, the log and the UI's banner. */
enum store_state {
    STORE_STATE_OK = 0,   /* writing, nothing lost */
    STORE_STATE_FAILING,  /* writes are failing now: rows are held for retry (bounded) */
    STORE_STATE_DEGRADED, /* writing again (or never failed), but rows were lost */
};
/* "ok", "failing", "degraded" */
const char *store_state_name(enum store_state st);

typedef struct store_health_info {
    enum store_state state;
    uint64_t rows_lost;    /* dropped (queue full) + failed (lost to write errors) */
    uint64_t rows_dropped; /* stats.dropped */
    uint64_t rows_failed;  /* stats.rows_failed */
    uint32_t rows_held;    /* rows kept for retry after a write error */
    uint64_t write_errors; /* failed write attempts (statements, commits, retries) */
    int64_t failing_since_ms; /* wall time the current failure began; 0 when not failing */
    char last_error[STORE_ERR_MAX]; /* "" when none yet */
} store_health_info;

/* Called on the main thread (inside store_process or store_close) when the health changes:
 * the first write error, rows lost (rate-limited to one call per 10 s while it goes on), and
 * recovery. `error` says whether this is an ERROR (failing, rows lost) or a notice (recovered
 * with nothing lost). msg is one line without a trailing newline. */
typedef void (*store_health_cb)(void *ud, const store_health_info *h, bool error,
                                const char *msg);

/* Zero in any field means "the default". */
typedef struct store_opts {
    uint32_t batch;           /* rows per transaction (default 512) */
    uint32_t flush_ms;        /* commit pending rows at most this long after the first (250) */
    uint32_t queue_cap;       /* data rows waiting for the writer; beyond: dropped (65536). Also
                               * the cap of the rows held for retry after a write error. */
    uint32_t busy_timeout_ms; /* wait for a lock held by another connection (1000) */
    uint32_t retry_ms;        /* after a write error, retry the held rows this often (1000) */
    store_health_cb on_health; /* may be NULL */
    void *on_health_ud;
} store_opts;

/* Row counters count data rows and session rows (begin and end are one row each). */
typedef struct store_stats {
    uint64_t rows_queued;   /* rows accepted by store_put_* and the session calls */
    uint64_t rows_written;  /* data rows committed */
    uint64_t rows_failed;   /* accepted rows lost to write errors (evicted from the retry
                             * queue, refused by a constraint, or still held at close) */
    uint64_t dropped;       /* rows refused because the queue was full */
    uint64_t rejected;      /* rows refused because an argument was invalid (NULL, too long) */
    uint64_t commits;       /* data transactions committed */
    uint64_t barriers;      /* store_commit_then() barriers completed (STORE_OK or not) */
    uint64_t durable_written; /* durable records committed (and fsynced) */
    uint64_t durable_failed;  /* durable requests completed with an error */
    uint64_t durable_commits; /* durable transactions */
    uint64_t errors;        /* failed SQLite calls (statements, commits, reads) */
    uint32_t queue_depth;   /* data rows waiting in the queue now */
    uint32_t in_flight;     /* rows taken by the writer and not yet written */
    uint32_t queue_peak;    /* highest queue_depth seen */
    uint32_t queue_cap;
    uint32_t rows_held;     /* rows held for retry after a write error */
    int64_t last_commit_us; /* duration of the last COMMIT */
    int64_t max_commit_us;
    int64_t durable_max_us; /* longest durable request: queued -> committed and fsynced */
    int schema_version;
    char last_error[STORE_ERR_MAX]; /* "" when none yet */
    char warning[STORE_ERR_MAX];    /* e.g. queue-full drops; "" when none */
} store_stats;

/* The schema version this build creates and migrates to. */
int store_schema_version(void);

/* Opens (creating parent directories with mode 0700 and the file if missing) and migrates the
 * database at `path`, then starts the writer thread. opts may be NULL. Takes an advisory lock on
 * PATH.lock (flock) so two Kestrels never write one database. The lock file and the database are
 * opened without following symlinks and must be regular files owned by this user. Before the
 * writer starts, one small write (meta.last_open_ms) proves the database can be written: a
 * read-only file, an unwritable directory or a full disk is refused here. On failure: an error
 * result, *out = NULL and a message in err, e.g.
 *   "PATH: not a Kestrel database or corrupt (...); it was left untouched"
 *   "PATH: schema version N is newer than this Kestrel (M); upgrade Kestrel or use another --db"
 *   "PATH: database is in use by another process (...)"
 *   "PATH: the database is read-only (...)"
 *   "PATH.lock: is a symbolic link; refused (...)"
 * A file that is refused is never written, truncated or migrated, and gets no -wal/-shm. */
K_MUST_USE enum store_result store_open(store **out, const char *path, const store_opts *opts,
                                        char *err, size_t errlen);
/* Ends the open session, flushes everything queued (one last retry of held rows; what still
 * fails is counted lost), stops and joins the writer, runs any callbacks not yet delivered
 * (durable requests never written get STORE_E_CLOSED; anything the callbacks queue is
 * discarded), closes the database. If final is not NULL it receives the health as of the end
 * (rows_lost over the whole run: what --exit-at-end's exit status 4 is decided on). NULL store
 * is a no-op. Not to be called from a store callback. */
void store_close_final(store *s, store_health_info *final);
void store_close(store *s); /* store_close_final(s, NULL) */
const char *store_path(const store *s);

/* Sessions: one row per run. begin returns the new session id (> 0) at once (ids are allocated
 * by the store; the row is written by the writer); book events carry the current session id.
 * Session rows are never dropped by the queue cap. ended_ms stays NULL if the process died. */
int64_t store_session_begin(store *s, const char *source, const char *version, const char *args);
void store_session_end(store *s);

/* Market rows. STORE_OK when queued; STORE_E_FULL when dropped (queue full: counted in
 * stats.dropped, stats.warning and the health) or STORE_E_INVALID (invalid arguments:
 * stats.rejected). Candles are INSERT OR REPLACE on (venue, symbol, tf, open_ms): writing the
 * same bar again is idempotent. Instruments are upserts that keep first_seen_ms. */
enum store_result store_put_candle(store *s, enum venue v, const char *symbol, enum tf tf,
                                   const candle *bar);
enum store_result store_put_instrument(store *s, enum venue v, const char *symbol, int px_dec,
                                       int qty_dec, int64_t time_ms);
/* kind: "gap", "synced", "resynced" or "crossed" (any short word is accepted); detail may be
 * NULL; last_id < 0 stores NULL. */
enum store_result store_put_book_event(store *s, int64_t time_ms, enum venue v,
                                       const char *symbol, const char *kind, int64_t last_id,
                                       const char *detail);

/* Settings: one text value per key (INSERT OR REPLACE; updated_ms = time_ms). Queued like the
 * market rows above and with the same results (STORE_E_INVALID: key NULL, empty or longer than
 * 64 bytes; value NULL or not shorter than STORE_TEXT_MAX bytes). Never truncated. */
enum store_result store_put_setting(store *s, const char *key, const char *value,
                                    int64_t time_ms);
/* Reads one setting: STORE_OK (the value, NUL-terminated, in out), STORE_NOT_FOUND,
 * STORE_E_INVALID, STORE_E_TOO_SMALL (a buffer of STORE_TEXT_MAX always fits) or STORE_E_READ;
 * out is "" unless STORE_OK (if cap > 0). Sees every store_put_setting() accepted before it
 * without waiting: values not yet committed are answered from the store's small in-memory list
 * of pending settings; others from the read connection. A setting whose write was lost reads as
 * its previous value. Does not wait for the writer (only if more than 64 distinct keys were
 * pending at once does the next get wait for one store_flush). */
K_MUST_USE enum store_result store_get_setting(store *s, const char *key, char *out, size_t cap);

/* ---- the signal engine's rows (docs/ENGINE.md "Storage") ----
 *
 * A signal and its scoring: one row per (venue, symbol, id, time_ms), inserted when the signal
 * is made and updated in place when it is scored (the same put with scored = true). Texts are
 * the engine's names ("BUY", "win", "trending", "ensemble", "tp"); outcome..mae are stored only
 * when scored. Queued on the market lane like a candle (same results, may be dropped when the
 * queue is full: counted in the health). */
#define STORE_STATE_MAX (64u << 20) /* model state blob bytes */
#define STORE_REPLAY_MAX 65536
typedef struct store_signal {
    uint64_t id; /* the engine's signal id (per symbol) */
    int64_t time_ms, horizon_end_ms;
    char action[8], outcome[8], result[8];
    double p[3]; /* p_sell, p_hold, p_buy */
    double confidence, strength, ret, mfe, mae;
    char regime[12], source[16], first_hit[8];
    bool scored, traded;
    const char *reasons; /* top reasons ("; "-separated, copied, <= 511 bytes), NULL: keep the
                          * stored ones (a scoring update) */
    const void *replay;  /* the engine's replay record (copied, <= STORE_REPLAY_MAX), NULL:
                          * keep the stored one */
    size_t replay_len;
    const char *weights; /* every model's ensemble weight, "w0,w1,..." (copied, <= 511 bytes),
                          * NULL: keep the stored ones */
} store_signal;
enum store_result store_put_signal(store *s, enum venue v, const char *symbol,
                                   const store_signal *sig);
/* Synchronous read (read connection; the start-up restore, with store_load_model_state): the
 * committed signals of the symbol with sig_id >= from_id and from_ms <= time_ms <= to_ms, in
 * (sig_id, time_ms) order, at most max of them, each handed to fn with its replay record (NULL,
 * 0 when it has none; valid during the call). STORE_OK (also when none), STORE_E_INVALID or
 * STORE_E_READ. */
typedef void (*store_signal_fn)(void *ud, const store_signal *sig, const void *rec,
                                size_t rec_len);
K_MUST_USE enum store_result store_load_signals_after(store *s, enum venue v, const char *symbol,
                                                      uint64_t from_id, int64_t from_ms,
                                                      int64_t to_ms, uint32_t max,
                                                      store_signal_fn fn, void *ud);
/* The same read on a connection of the caller's (the writer's, inside a store_read_async fn:
 * the asynchronous restore, sigstore.h). STORE_OK, STORE_E_INVALID or STORE_E_READ. */
struct sqlite3;
K_MUST_USE enum store_result store_read_signals_after(struct sqlite3 *db, enum venue v,
                                                      const char *symbol, uint64_t from_id,
                                                      int64_t from_ms, int64_t to_ms,
                                                      uint32_t max, store_signal_fn fn,
                                                      void *ud);
/* One retrain of an off-thread model (table retrains): queued on the market lane. */
typedef struct store_retrain {
    char model[32], kind[16], trigger[16];
    uint64_t seq;
    int64_t time_ms; /* data clock when it was started */
    uint32_t n_train, n_holdout;
    double cand_logloss, cand_acc, live_logloss, live_acc, base_logloss; /* NaN: NULL */
    bool accepted;
    bool offthread; /* thread: "learner" (the learner thread) or "inline" */
    double train_ms;
} store_retrain;
enum store_result store_put_retrain(store *s, enum venue v, const char *symbol,
                                    const store_retrain *rt);
/* The metrics document (`ctl metrics` JSON text) of one symbol at data time time_ms. */
enum store_result store_put_metrics(store *s, enum venue v, const char *symbol, int64_t time_ms,
                                    const char *doc);
/* The Trading screen's risk metrics at data time time_ms (one row per hour: a second put of
 * the same time replaces it): doc is the JSON of `ctl risk`'s "metrics" object; its
 * var.days / var.var / var.es also go into their own columns (table risk_metrics). */
enum store_result store_put_risk_metrics(store *s, int64_t time_ms, const char *doc);
/* The venue's own instrument document of one symbol (a Binance exchangeInfo symbols[] entry, an
 * OKX instruments item; JSON text <= STORE_DOC_MAX bytes) as fetched at fetched_ms: table
 * instrument_filters, one row per (venue, symbol), replaced by a newer one. Queued like a
 * candle (same results). A restart without network reads them back with
 * store_load_instrument_docs (docs/LIVE.md "Instruments"). */
#define STORE_DOC_MAX (64u << 10)
enum store_result store_put_instrument_doc(store *s, enum venue v, const char *symbol,
                                           const char *doc, int64_t time_ms);
/* Synchronous read (read connection, calling thread; start-up): fn for every committed row in
 * (venue, symbol) order; fn returns false to stop. STORE_OK or STORE_E_READ. */
typedef bool (*store_doc_fn)(void *ud, enum venue v, const char *symbol, const char *doc,
                             int64_t fetched_ms);
K_MUST_USE enum store_result store_load_instrument_docs(store *s, store_doc_fn fn, void *ud);
/* A model state checkpoint (the engine_save blob, <= STORE_STATE_MAX bytes) as a new version
 * (table model_state, id increasing); the writer then deletes all but the newest `keep` (>= 1)
 * versions of the symbol. A control row: never dropped by the queue cap (the caller bounds how
 * often it checkpoints). STORE_OK or STORE_E_INVALID. */
enum store_result store_put_model_state(store *s, enum venue v, const char *symbol,
                                        int64_t time_ms, const void *blob, size_t len,
                                        uint32_t keep);
/* Synchronous read (read connection; start-up restore): the newest committed version of the
 * symbol's model state in *blob (malloc'd, the caller frees), its length, data time and version
 * id. STORE_OK, STORE_NOT_FOUND, STORE_E_INVALID or STORE_E_READ. */
K_MUST_USE enum store_result store_load_model_state(store *s, enum venue v, const char *symbol,
                                                    void **blob, size_t *len, int64_t *time_ms,
                                                    int64_t *version);
/* The same read on a connection of the caller's (the writer's, inside a store_read_async fn). */
K_MUST_USE enum store_result store_read_model_state(struct sqlite3 *db, enum venue v,
                                                    const char *symbol, void **blob, size_t *len,
                                                    int64_t *time_ms, int64_t *version);

/* Synchronous read (read connection, calling thread): the newest `max` committed bars with
 * open_ms < before_ms, returned oldest first in out[], their count in *n. STORE_OK (also when
 * none: *n = 0), STORE_E_INVALID or STORE_E_READ (*n = 0). Rows still queued are not visible:
 * call store_flush() first if that matters. */
K_MUST_USE enum store_result store_load_candles(store *s, enum venue v, const char *symbol,
                                                enum tf tf, int64_t before_ms, candle *out,
                                                uint32_t max, uint32_t *n);

/* The same read on the writer thread, answered through the eventfd, so a history load for a
 * symbol that appears mid-run never touches the disk on the main thread: cb(ud, rc, n) runs in
 * store_process() with out[0..n) filled (oldest first); rc STORE_OK or STORE_E_READ. The writer
 * fills out[]: it must stay valid and untouched until cb runs. Queued behind the market rows
 * accepted before it, so it sees them (committed or not). STORE_E_INVALID (cb NULL, bad
 * arguments) or STORE_E_BUSY (STORE_BARRIERS_MAX barriers and loads outstanding): cb will not
 * run. */
typedef void (*store_load_cb)(void *ud, enum store_result rc, uint32_t n);
K_MUST_USE enum store_result store_load_candles_async(store *s, enum venue v, const char *symbol,
                                                      enum tf tf, int64_t before_ms, candle *out,
                                                      uint32_t max, store_load_cb cb, void *ud);

/* A caller's own read on the writer thread (the backtests screen's rows, btview.h): fn(ud, db,
 * &n) runs on the writer's connection, queued behind the rows accepted before it (so it sees
 * them), and must only read; then cb(ud, rc, n) runs in store_process() with fn's result and
 * count. ud belongs to the writer until cb runs. STORE_E_INVALID (fn or cb NULL) or
 * STORE_E_BUSY (STORE_BARRIERS_MAX barriers and loads outstanding): neither will run. */
struct sqlite3;
typedef enum store_result (*store_read_fn)(void *ud, struct sqlite3 *db, uint32_t *n);
K_MUST_USE enum store_result store_read_async(store *s, store_read_fn fn, store_load_cb cb,
                                              void *ud);

/* eventfd that becomes readable when completions (or new errors) are ready: poll it for POLLIN
 * and call store_process(), which drains it and runs the ready callbacks in order. */
int store_fd(const store *s);
void store_process(store *s);

/* Barrier on the market lane: cb(ud, rc) runs on the main thread (inside store_process or
 * store_close) after every market row accepted before this call is committed and fsynced.
 * rc is STORE_OK; STORE_E_ROWS_LOST if any of those rows was lost to a write error since the
 * previous barrier; STORE_E_RETRYING if rows are held for retry (writes are failing); or
 * STORE_E_WRITE if the durable commit failed. Rows refused by the queue cap were never accepted
 * (the put said so) and do not fail a barrier. The barrier itself is never dropped. Returns
 * STORE_E_INVALID (cb NULL) or STORE_E_BUSY (STORE_BARRIERS_MAX outstanding): cb will not run. */
typedef void (*store_barrier_cb)(void *ud, enum store_result rc);
K_MUST_USE enum store_result store_commit_then(store *s, store_barrier_cb cb, void *ud);

/* ---- the durable lane (order intents, fills, positions) ----
 *
 * One record per (kind, key) in table `journal` (docs/STORE.md): a put inserts or replaces it
 * (the newest state of an intent, a position; a fill under its own key), a put with
 * payload NULL deletes it. Each request is committed in the writer's next durable transaction
 * (synchronous=FULL: fsynced, survives power loss) ahead of any market rows still queued, then
 * acknowledged: cb(ud, id, rc) runs on the main thread inside store_process(), requests in the
 * order they were made. rc is STORE_OK (committed and fsynced), STORE_E_WRITE (the transaction
 * failed: not stored; the record is not retried — the caller decides, e.g. not to send the
 * order), STORE_E_INVALID (refused by the database) or STORE_E_CLOSED. */
typedef struct store_record {
    const char *kind;    /* 1..31 bytes, e.g. "intent", "fill", "position" */
    const char *key;     /* 1..127 bytes, e.g. a client order id */
    const void *payload; /* JSON text (or bytes with blob = true); NULL deletes the record */
    size_t len;          /* payload bytes, <= STORE_PAYLOAD_MAX */
    bool blob;           /* store the payload as a BLOB instead of TEXT */
    int64_t time_ms;     /* the caller's time of this state (exchange or clock time) */
} store_record;
typedef void (*store_durable_cb)(void *ud, uint64_t id, enum store_result rc);
/* Copies the record and queues it. STORE_OK and *id (> 0, increasing, unique across restarts:
 * it is the record's `seq` column) when queued; STORE_E_INVALID (bad kind/key/len, cb NULL) or
 * STORE_E_BUSY (STORE_DURABLE_MAX outstanding): cb will not run. The durable queue has no
 * market-row cap: a full market queue never refuses it. id may be NULL. */
K_MUST_USE enum store_result store_durable_put(store *s, const store_record *rec,
                                               store_durable_cb cb, void *ud, uint64_t *id);
/* Synchronous read (read connection, calling thread; start-up recovery): calls fn for each
 * committed record of `kind` (NULL: every kind) in seq order. rec->payload is valid only during
 * the call. fn returns false to stop early. STORE_OK, STORE_E_INVALID or STORE_E_READ. */
typedef bool (*store_record_fn)(void *ud, const store_record *rec, uint64_t seq);
K_MUST_USE enum store_result store_durable_load(store *s, const char *kind, store_record_fn fn,
                                                void *ud);

/* Blocks until everything queued so far is committed, has failed, or is held for retry (after
 * one retry attempt). For shutdown, --exit-at-end and tests. */
void store_flush(store *s);

/* A snapshot taken now; valid until the next call on this store. */
const store_stats *store_get_stats(store *s);
/* The health now: state, rows lost, rows held, last error. */
store_health_info store_health(store *s);

#endif
