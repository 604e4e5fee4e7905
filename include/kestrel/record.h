/* Recording a live session in the replay capture format (replay.h), written by a writer thread:
 * the main thread only copies each line into a bounded byte queue (nothing it does waits for the
 * disk or for zlib), the writer thread gzips the queue into the file. A full queue drops the
 * line and counts it (`dropped`): the recording then has a hole, which its replay shows as a
 * book gap, and `kestrel ctl record` says so.
 *
 * One line per frame, the capture format with a source tag (replay.h):
 *   "<recv_ns> <venue> <json>"            a websocket frame (the message names its symbol)
 *   "<recv_ns> <venue>:<SYMBOL> <json>"   a snapshot: a REST body the sync applied, or a
 *                                         book's exact state once it is live after the start
 *                                         (live.c), in the venue's REST format
 *   "<recv_ns> wall {"wall_ms":N}"        the live pipeline's wall-clock tick (bars of a
 *                                         silent venue close): the replay ticks the same
 * so one file holds every venue and symbol of the session. Newlines and carriage returns inside a
 * message (not valid inside JSON strings) are written as spaces. docs/LIVE.md "Recording". */
#ifndef KESTREL_RECORD_H
#define KESTREL_RECORD_H
#include "kestrel/common.h"

enum record_result {
    RECORD_OK = 0,
    RECORD_ERR_OPEN,   /* the file cannot be created */
    RECORD_ERR_THREAD, /* the writer thread cannot start */
};
const char *record_strerror(enum record_result r);

#define RECORD_QUEUE_DEFAULT (16u << 20) /* bytes queued for the writer thread */

typedef struct record_stats {
    uint64_t lines;    /* queued */
    uint64_t bytes;    /* queued (uncompressed) */
    uint64_t dropped;  /* lines refused because the queue was full */
    uint64_t written;  /* bytes handed to zlib by the writer */
    uint64_t snapshots; /* REST snapshot lines */
    int64_t started_ms; /* wall clock */
    bool write_error;  /* the writer failed (disk full ...): nothing more is written */
    char error[160];
} record_stats;

typedef struct krec krec;

/* Creates (truncates) path with mode 0600 and starts the writer thread. queue_bytes 0: the
 * default. */
K_MUST_USE enum record_result record_open(krec **out, const char *path, size_t queue_bytes,
                                          char *err, size_t errlen);
/* Queues one line (venue tag, symbol tag when symbol is non-NULL and non-empty). Never blocks
 * on I/O: false when the queue is full (counted in dropped). */
bool record_line(krec *r, int64_t recv_ns, enum venue v, const char *symbol, const char *json,
                 size_t len);
/* Queues a "wall" line ("<ns> wall <json>"): the live pipeline's wall-clock tick. */
bool record_tick_line(krec *r, int64_t recv_ns, const char *json, size_t len);
/* Flushes what is queued, closes the gzip stream (a complete file) and joins the thread. The
 * final counters go to *st when st is non-NULL. NULL is fine. */
void record_close(krec *r, record_stats *st);
void record_get_stats(krec *r, record_stats *out);
const char *record_path(const krec *r);

#endif
