/* History loads off the message path: a reader thread with its own read-only SQLite connection
 * answers "closed bars of (venue, symbol) before T, every timeframe" and reports back through an
 * eventfd the main loop polls (the pattern of the store's writer). A new symbol therefore never
 * stalls the frame that created it on disk: its bars arrive a moment later and are merged in
 * front of whatever the live data has built meanwhile (candles_load_older).
 *
 * Bounded: at most HISTORY_QUEUE requests in flight (history_request refuses more: the caller
 * counts it), each answer at most max bars per timeframe. Main-thread API except the worker. */
#ifndef KESTREL_HISTORY_H
#define KESTREL_HISTORY_H
#include "kestrel/candles.h"

#define HISTORY_QUEUE 256

typedef struct history history;

typedef struct history_answer {
    uint64_t id;
    enum venue venue;
    char symbol[KSYM_MAX];
    const candle *bars[TF_COUNT]; /* oldest first; valid during the callback */
    uint32_t n[TF_COUNT];
    uint32_t skipped; /* rows that were not exact integers (a foreign or corrupt store) */
    bool failed;      /* the query failed: error[] says why */
    char error[160];
} history_answer;

typedef void (*history_fn)(void *ud, const history_answer *a);

/* Opens the reader on an existing database (the store has created and migrated it). */
int history_open(history **out, const char *db_path, uint32_t max_bars, char *err,
                 size_t errlen);
void history_close(history *h); /* joins the thread; pending answers are dropped */

/* Queues a load of the bars of every timeframe that opened before before_ms[tf]. Returns an id
 * > 0, or 0 when the queue is full (nothing queued). */
uint64_t history_request(history *h, enum venue v, const char *symbol,
                         const int64_t before_ms[TF_COUNT]);
int history_fd(const history *h);
/* Runs fn for every answer ready (main thread, from the fd's watcher). */
void history_process(history *h, history_fn fn, void *ud);
/* Waits until every queued request is answered (tests, --exit-at-end). */
void history_drain(history *h, history_fn fn, void *ud);
uint64_t history_pending(const history *h);

#endif
