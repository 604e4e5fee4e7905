/* The one ingest pipeline: every source (replay file, live websocket, REST snapshot, kline CSV of
 * a backtest) hands frames here, and nothing else feeds the market model.
 *
 *   frame (venue, bytes, recv_ns) -> the venue's decoder (table) -> per-venue data clock
 *   -> market_apply (book, tape, candles; notes to the market's subscribers)
 *   -> bars close on the venue's data clock minus a grace -> the market clock (kclock) advances,
 *      firing every market timer that is due.
 *
 * Data clock: per venue, the newest exchange time seen (E, or a trade's T when later). An exchange
 * time more than max_skew_ms from the frame's receive time is not believed (counted bad_time and
 * dropped): a forged or broken time would drag the clock ahead and make every later trade late.
 * Messages without an exchange time (spot bookTicker, REST snapshots) move a clock that an exchange
 * time has started when their receive time is close to it. While live, ingest_wall_tick() moves a
 * silent venue's clock on from the wall clock, so its bars still close.
 *
 * Grace: a bar closes once the data clock has passed its end by grace_ms (1s bars; default
 * 250 ms) or by 4 x grace_ms (every longer timeframe), so a trade whose T lags the other streams
 * lands in its own bar. A trade older than that is counted late (candles_late) and reported in
 * the stats: the volume of every timeframe plus its late volume equals the traded volume.
 *
 * The simulated market clock (replay, backtest) is advanced to the newest venue clock after every
 * frame; a wall clock (live) runs on its own. Pure main-thread code: no I/O, no allocation per
 * frame (one level scratch, sized at creation). */
#ifndef KESTREL_INGEST_H
#define KESTREL_INGEST_H
#include "kestrel/clock.h"
#include "kestrel/market.h"

struct replay;
struct replay_line;

typedef struct ingest_frame {
    enum venue venue;
    const char *bytes; /* one message, need not be NUL-terminated */
    size_t len;
    int64_t recv_ns;    /* local receive time (replay: recorded) */
    const char *symbol; /* for messages that carry none (REST snapshots), or NULL */
} ingest_frame;

enum ingest_result {
    INGEST_OK = 0,    /* applied to the market model */
    INGEST_IGNORED,   /* benign message with nothing to apply (ack, ping, 24h ticker, ...) */
    INGEST_MALFORMED, /* the decoder refused it */
    INGEST_BAD_TIME,  /* its exchange time is too far from its receive time */
    INGEST_REFUSED,   /* the model refused it (table full, bad values, no symbol, no decoder) */
};
const char *ingest_strerror(enum ingest_result r);

typedef struct ingest_opts {
    int64_t grace_ms;    /* 1s bars; longer timeframes get 4x. Default 250; 0 = none */
    int64_t max_skew_ms; /* default 5 minutes */
    uint32_t max_levels; /* decoder scratch (bids + asks of one message), default 10000 */
} ingest_opts;

typedef struct ingest_venue_stats {
    uint64_t frames, applied, ignored, malformed, bad_time, refused;
    int64_t clock_ms; /* the venue's data clock, 0 = not started */
    int64_t last_recv_ns;
} ingest_venue_stats;

typedef struct ingest_stats {
    uint64_t frames, applied, ignored, malformed, bad_time, refused;
    ingest_venue_stats venue[VENUE_COUNT];
} ingest_stats;

typedef struct ingest ingest;

/* clock may be NULL (no market timers: unit tests, `kestrel ta`). */
ingest *ingest_new(market *m, kclock *clock, const ingest_opts *opts);
void ingest_free(ingest *p);

/* One frame through the whole pipeline. why (may be NULL) gets a short static reason for
 * anything but INGEST_OK / INGEST_IGNORED. */
enum ingest_result ingest_frame_apply(ingest *p, const ingest_frame *f, const char **why);
/* An already decoded event (kline CSV rows, tests): the same clock, apply and advance steps.
 * ev->venue and ev->recv_ns must be set. */
enum ingest_result ingest_event(ingest *p, const feed_event *ev, const char **why);

/* The replay as a frame source: one line from replay_next() as a frame (venue and the symbol
 * for snapshots from its file); the replay learns a file's symbol from the decoded data. */
enum ingest_result ingest_replay_line(ingest *p, struct replay *r, const struct replay_line *ln,
                                      const char **why);
/* Feeds up to max lines (0 = all) of r; returns how many were read. For tests and benches
 * that want the app's exact path without its pacing. */
uint64_t ingest_replay_all(ingest *p, struct replay *r, uint64_t max);

/* Live: every venue whose data clock has not moved for a second follows the wall clock (minus
 * the venue's measured lag), so bars close on a silent feed. */
void ingest_wall_tick(ingest *p, int64_t wall_ms);
/* End of data: closes every bar whose end the data clock has passed, without the grace (nothing
 * more can arrive). */
void ingest_finish(ingest *p);

int64_t ingest_clock_ms(const ingest *p); /* newest venue clock */
int64_t ingest_venue_clock_ms(const ingest *p, enum venue v);
/* The time the frame being applied stands for (what a symbol it creates loads history before). */
int64_t ingest_current_ms(const ingest *p);
int64_t ingest_grace_ms(const ingest *p, enum tf tf);
/* Shifts every decoded frame's exchange times (E, trade T, kline open/close) by offset_ms: a
 * --loop pass replays the files with their receive times moved on, and their exchange times
 * move by the same amount so the data clock, bars and timers keep going forward. 0 = none. */
void ingest_set_time_offset(ingest *p, int64_t offset_ms);
/* The symbol of the last decoded frame's event ("" when it carried none). */
const char *ingest_last_symbol(const ingest *p);
const ingest_stats *ingest_get_stats(const ingest *p);
/* frames dropped as malformed + bad_time + refused */
uint64_t ingest_dropped(const ingest *p);

#endif
