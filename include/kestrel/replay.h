/* Replay source: recorded capture files -> one time-ordered stream of lines -> feed events.
 *
 * Files are gzip or plain text (zlib reads both), one message per line, either
 *   "<recv_time_ns> <json>"              (hftbacktest captures, `kestrel record`), or
 *   "<recv_secs>[.<frac>]: <json>"       (cryptofeed ws-captures; fraction to 1 ns),
 * the JSON optionally preceded by a source tag "<venue>[:<SYMBOL>] " (record.h: `kestrel record`
 * files hold several venues and symbols; a tagged line is decoded as its venue's, a REST
 * snapshot line gets the tag's symbol).
 * Several files are merged by receive time (k-way merge; ties go to the file listed first, and
 * each file's own line order is always kept), so BTC + ETH files interleave and the 08 and 09
 * files of one symbol simply follow each other. Pacing is the caller's job: lines come out as
 * fast as they are asked for.
 *
 * A spec is "PATH", "spot:PATH" or "usdm:PATH" ("binance-spot:" / "binance-usdm:" also work).
 * A file's venue: the prefix, else its path (contains "usdm" or "futures", any case -> USD-M),
 * else the data (the first message that proves USD-M, e.g. a depth diff with "pu", or a depth
 * diff without it -> spot), else spot. Its symbol: the first message that carries one; REST
 * snapshot lines (which carry none) get it. Both are found by a bounded pre-scan (at most
 * REPLAY_PRESCAN_LINES lines and REPLAY_PRESCAN_BYTES decompressed bytes, then the file is
 * rewound) that the file's reader thread runs before it streams, so even a snapshot on line 1
 * gets its symbol; replay_file() tells the answer once the first line has been delivered (or
 * replay_wait_ready() returned). A pipe cannot be rewound and is not pre-scanned: its venue comes
 * from the prefix or path (else spot) and its symbol is learnt by replay_decode as lines pass.
 *
 * Never blocking at start: replay_open() opens every file O_NONBLOCK, accepts only regular files
 * and pipes that have a writer (a FIFO nobody has opened for writing is refused at once), starts
 * one reader thread per file (it reads and inflates into REPLAY_RING chunks of REPLAY_CHUNK
 * bytes, beside the decoding; a regular file of at most 64 KiB is read by the caller instead, one
 * bounded chunk at a time) and returns. replay_next() blocks until a line is ready, unless
 * replay_set_nonblock() was set: then it returns REPLAY_AGAIN instead of waiting for a reader (or
 * after skipping REPLAY_SKIP_BUDGET blank or malformed lines in one call), and replay_fd() turns
 * readable when calling again is worth it (drain it with replay_fd_drain()).
 *
 * Bounded: at most REPLAY_MAX_FILES files; lines longer than REPLAY_LINE_MAX bytes are counted
 * malformed and skipped to the next newline without being buffered whole; a read error or
 * truncated gzip ends that file there (counted, the others go on); the last line of a file without
 * its newline is counted malformed and dropped (it is what a cut-off capture leaves). Blank lines
 * are skipped silently; lines with a bad timestamp (e.g. the ws-captures' URL header) are
 * malformed. Memory: per file one line buffer (grows to at most REPLAY_LINE_MAX + 1), REPLAY_RING x
 * REPLAY_CHUNK bytes of chunks and the reader's 64 KiB input, plus one level scratch (16 KiB,
 * grown once to REPLAY_MAX_LEVELS by the first message with more levels); nothing is
 * allocated per line. The reader threads block every signal (the owner's loop takes them). The
 * API is not thread-safe: one owner. */
#ifndef KESTREL_REPLAY_H
#define KESTREL_REPLAY_H
#include "kestrel/feed.h"

#define REPLAY_MAX_FILES 64
#define REPLAY_LINE_MAX (4u << 20)   /* bytes, excluding the newline */
#define REPLAY_MAX_LEVELS 10000      /* bids + asks of one message (Binance REST: 5000 a side) */
#define REPLAY_PRESCAN_LINES 10000
#define REPLAY_PRESCAN_BYTES (8u << 20) /* decompressed bytes the pre-scan looks at, at most */
#define REPLAY_RING 4                   /* chunks in flight per file, reader -> merge */
#define REPLAY_CHUNK (128u << 10)       /* bytes per chunk */
#define REPLAY_TAG_WALL (-3)            /* replay_line.venue of a recorded "wall" tick line */
#define REPLAY_AGAIN (-2)               /* replay_next() in non-blocking mode: nothing ready yet */
#define REPLAY_SKIP_BUDGET 65536        /* blank / malformed lines one non-blocking call skips */

typedef struct replay replay;

typedef struct replay_line {
    int64_t recv_ns;  /* recorded receive time, ns since the epoch; never negative */
    const char *json; /* the message, NOT NUL-terminated; valid until the next replay_next() or
                       * replay_close() */
    size_t len;
    int file;         /* index of the spec the line came from */
    uint64_t lineno;  /* 1-based line number in that file */
    int venue;        /* the line's source tag (`kestrel record`): its venue, -1 = the file's,
                       * REPLAY_TAG_WALL = a wall-clock tick {"wall_ms":N} (ingest_wall_tick) */
    char symbol[KSYM_MAX]; /* ... and its symbol, "" = the file's (snapshot lines) */
} replay_line;

enum replay_venue_from {
    REPLAY_VENUE_PREFIX = 0, /* "spot:" / "usdm:" */
    REPLAY_VENUE_PATH,       /* "usdm" / "futures" in the path */
    REPLAY_VENUE_DATA,       /* proven by a message in the pre-scan */
    REPLAY_VENUE_DEFAULT,    /* nothing proved anything: spot */
};

typedef struct replay_file_info {
    const char *path; /* as given, without the venue prefix */
    enum venue venue;
    enum replay_venue_from venue_from;
    char symbol[KSYM_MAX];   /* "" until a message carried one */
    uint64_t lines;          /* lines delivered */
    uint64_t malformed;      /* bad timestamp + oversized + unterminated last line */
    uint64_t oversized;      /* of which longer than REPLAY_LINE_MAX */
    uint64_t decode_errors;  /* replay_decode() refusals */
    uint64_t bytes;          /* uncompressed bytes read */
    int64_t first_ns, last_ns; /* receive times of the first / last delivered line, 0 = none */
    bool read_error;         /* I/O error or truncated gzip: the file ended early */
    char error[160];         /* its message, "" if none */
    bool done;               /* every line of the file has been delivered */
} replay_file_info;

typedef struct replay_stats {
    int files;
    int read_errors; /* files that ended on a read error / truncated gzip */
    uint64_t lines, malformed, oversized, decode_errors, bytes;
    int64_t first_ns, last_ns; /* over all delivered lines, 0 = none yet */
} replay_stats;

/* Opens n specs (1..REPLAY_MAX_FILES) without blocking and starts their readers. K_OK and *out
 * set, or K_ERR with a message in err naming the spec that failed ("cannot open PATH: No such
 * file or directory", "cannot read PATH: a pipe with no writer"). */
int replay_open(replay **out, const char *const *specs, int n, char *err, size_t errlen);

/* Non-blocking mode (off after open): see REPLAY_AGAIN above. */
void replay_set_nonblock(replay *r, bool on);
/* An eventfd: readable when a replay_next() that returned REPLAY_AGAIN is worth calling again. */
int replay_fd(const replay *r);
void replay_fd_drain(replay *r);
/* Blocks until every file's first line (or its end) is known, so replay_file() tells each
 * file's venue and symbol. K_OK. */
int replay_wait_ready(replay *r);

/* Compressed bytes consumed / total compressed bytes over all files, in [0, 1] (1.0 when every
 * file is empty); -1.0 when a file is a pipe (its size is unknown). Cheap: no system call. */
double replay_progress(const replay *r);

/* The file part of a spec: what follows its venue prefix, or the spec itself. */
const char *replay_spec_path(const char *spec);

/* Next line in receive-time order: 1 = *line filled, 0 = all files are exhausted, REPLAY_AGAIN
 * (non-blocking mode only) = not ready yet. */
int replay_next(replay *r, replay_line *line);

/* Decodes a line just returned by replay_next() (binance_decode into the replay's own level
 * scratch), then sets ev->venue to the file's venue, ev->recv_ns to the line's time and fills
 * the symbol of snapshots from the file's symbol. The level pointers in ev stay valid until the
 * next replay_decode(). K_ERR (counted in decode_errors) with *why from the decoder and an empty
 * FEED_NONE event (recv_ns still set). Only Binance files exist today; an OKX venue would pick
 * its decoder here. */
int replay_decode(replay *r, const replay_line *line, feed_event *ev, const char **why);

/* For the ingest pipeline, which decodes the lines: a file that had no symbol yet learns the one
 * its data carries (snapshot lines of that file then get it), and decoder refusals are counted
 * against the file. */
void replay_note_symbol(replay *r, int file, const char *symbol);
void replay_count_decode_error(replay *r, int file);

/* Totals over all files, brought up to date by this call; the struct belongs to r (valid until
 * the next replay_get_stats() or replay_close()). */
const replay_stats *replay_get_stats(replay *r);
int replay_file_count(const replay *r);
/* Per-file information, i in [0, replay_file_count()); NULL when out of range. */
const replay_file_info *replay_file(const replay *r, int i);

void replay_close(replay *r); /* NULL is fine */

#endif
