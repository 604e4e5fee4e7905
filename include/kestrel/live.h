/* Live market data on the app's loop: one net thread (ws.h) and one REST client (http.h) for the
 * watch list, each venue's streams opened and kept healthy, every frame handed to the one ingest
 * pipeline (ingest_frame_apply), and the documented book sync around it: a diff buffered by a
 * book that is not live -> REST snapshot (Binance spot limit=5000, USD-M limit=1000, OKX sz=400)
 * -> through the same pipeline; a snapshot too old -> fetched again; a gap -> fetched again
 * (counted); a (re)connect -> the connection's books invalidated and synced again; a rotation
 * notice (ws.h lifetime) -> a successor opened, promoted once its diffs overlap what the books
 * already hold (make-before-break, no gap). docs/LIVE.md. */
#ifndef KESTREL_LIVE_H
#define KESTREL_LIVE_H
#include "kestrel/config.h"
#include "kestrel/log.h"
#include "kestrel/loop.h"

struct ingest;
struct instruments;
struct store;

enum live_result {
    LIVE_OK = 0,
    LIVE_ERR_WATCH,    /* empty watch list, or an entry that is not venue:SYMBOL */
    LIVE_ERR_URL,      /* a venues.* URL that cannot be used */
    LIVE_ERR_INSECURE, /* plain ws:// or http:// to a host that is not loopback */
    LIVE_ERR_INIT,     /* net thread, REST client or loop watcher could not be set up */
    LIVE_ERR_RECORD,   /* a recording cannot start (already recording, file not created) */
};
const char *live_strerror(enum live_result r);

/* A feed health event (live_opts.on_event): the app turns them into alerts (alerts.h) and
 * flashes. Stall alerts are rate limited per connection (health.alert_interval_s). */
enum live_event_kind {
    LIVE_EV_STALL = 1, /* a connection's data stopped for longer than its stall threshold */
    LIVE_EV_RECOVERED, /* the replacement connection delivers data again */
    LIVE_EV_FAILOVER,  /* a symbol's panes switched to its backup venue */
    LIVE_EV_FAILBACK,  /* ... and back to the primary */
};
typedef struct live_event {
    enum live_event_kind kind;
    const char *symbol;  /* the primary's symbol (FAILOVER/FAILBACK), "" for a connection */
    double value;        /* STALL: silence in s; RECOVERED: s from the last data to the new */
    const char *text;    /* one line: "feed stalled: binance-spot books silent 5.0 s ..." */
    uint64_t suppressed; /* STALL/RECOVERED: stall alerts of this connection left out since */
} live_event;

typedef struct live_opts {
    loop *loop;
    struct ingest *ingest;
    market *market;
    klog *log;              /* may be NULL */
    const kconfig *cfg;     /* watch, venues.*; read at live_open (venues.* again by
                             * live_symbol_add: it must outlive the live data) */
    int64_t lifetime_ms;    /* 0: each venue's default (Binance 23 h); tests shorten it */
    void (*on_event)(void *ud, const live_event *ev); /* may be NULL */
    void *on_event_ud;
    bool no_backfill;       /* no kline history over REST (start-up and after disconnects) */
    struct instruments *instr; /* the trading core's filters: exchangeInfo / OKX instruments
                                * of the watched symbols go in (NULL: not fetched) */
    struct store *store;    /* the instrument cache (NULL: none) */
    int64_t stall_ms;       /* 0: each venue's default (ws.h); benches shorten it */
    uint32_t queue_bytes;   /* the net thread's inbound ring; 0: 16 MB */
    bool warm_standby;      /* as health.warm_standby = true (tests, benches) */
} live_opts;

typedef struct live klive;

/* Parses one watch entry "venue:SYMBOL" (symbol 1..KSYM_MAX-1 of [A-Za-z0-9-], stored upper
 * case). K_OK, or K_ERR with a message. */
int live_parse_watch(const char *spec, enum venue *v, char *sym, size_t cap, char *err,
                     size_t errlen);

/* The same checks as live_open (watch list, networks, every URL) without opening anything: the
 * app refuses a bad configuration before it creates its socket or database. */
K_MUST_USE enum live_result live_check(const kconfig *cfg, char *err, size_t errlen);
/* Opens every connection of the watch list (they connect in the net thread). Every URL is
 * checked first: a refused one (LIVE_ERR_INSECURE, LIVE_ERR_URL) opens nothing and err says
 * which key and why. */
K_MUST_USE enum live_result live_open(klive **out, const live_opts *o, char *err, size_t errlen);
/* A symbol added to / removed from the running watch list (`symbols add|remove`): the add
 * opens the symbol's own connection(s) with the same streams, REST snapshot and book sync as
 * the watch list's (no other book resyncs); the remove closes them. Only a symbol on
 * connections of its own can be removed (one added at run time); LIVE_ERR_WATCH + err
 * otherwise, or for a duplicate, a full table, or too many connections. */
K_MUST_USE enum live_result live_symbol_add(klive *lv, enum venue v, const char *name, char *err,
                                            size_t errlen);
enum live_result live_symbol_remove(klive *lv, enum venue v, const char *name);
/* Closes every connection, cancels REST in flight, frees. NULL is fine. */
void live_close(klive *lv);

/* Health of one connection (live_conn_count of them, in watch order). */
typedef struct live_conn_info {
    enum venue venue;
    const char *channel;    /* "books" (depth, book ticker, OKX books+trades) or "trades" */
    const char *url;
    const char *label;      /* "binance-spot books", "binance-usdm public" / "market", ... */
    const char *state;      /* ws_state_name (idle connecting open backoff closed), or
                               "stalled": open but silent past stall_after_ms, reconnecting */
    int64_t last_msg_age_ms; /* -1: no message yet */
    uint64_t msgs;
    uint32_t msgs_per_s;
    uint64_t reconnects;    /* opens after the first (rotations not counted) */
    uint64_t stalls;        /* data stalls (ours) + transport stalls (ws.c, no frame at all) */
    uint64_t data_stalls;   /* silent past stall_after_ms: detected here, reconnected */
    int64_t cadence_ms;     /* the documented push interval of its fastest stream */
    int64_t stall_after_ms; /* the current threshold (failover_stall_ms) */
    int64_t last_replace_ms; /* the last stall: last data -> first data on the replacement (-1) */
    int64_t max_replace_ms;  /* the longest such (-1: none) */
    uint64_t rotations, failures, oversize, queue_drops;
    uint64_t rx_pauses;        /* times its connection stopped reading (inbound ring 3/4 full) */
    uint64_t resyncs;       /* books synced again after a gap or a reconnect */
    uint64_t gaps;          /* sequence gaps seen on its books */
    uint64_t snapshots;     /* REST snapshots accepted */
    uint64_t snapshots_old; /* REST snapshots refused as too old (fetched again) */
    double latency_ms;      /* receive time - exchange time, moving average (-1: unknown) */
    uint32_t books, books_live;
    const char *last_error;
    uint64_t audits;           /* book audits done on its books (top 20 vs a fresh snapshot) */
    uint64_t audit_mismatches; /* ... that found the book different (then resynced) */
    uint64_t sub_acks, sub_errors; /* subscribe answers (acknowledged / refused): OKX's, and
                                    * Binance's to the SUBSCRIBE messages below */
    uint32_t streams;          /* Binance: streams of the connection (at most 1000) ... */
    uint32_t streams_subscribed; /* ... of which past the URL's room, sent as SUBSCRIBE */
    uint64_t sub_msgs;         /* SUBSCRIBE messages sent (<= 4/s per connection) */
    const char *sub_error;     /* the last refusal, "" none */
    const char *standby_state; /* health.warm_standby: "synced" "open" "backoff" ...; NULL off */
    uint64_t standby_switches; /* swaps to the standby (it led by more than the cadence) */
    uint32_t standby_lead;     /* frames the standby delivered that the active has not (yet) */
    bool clock_known;          /* the venue's server time has been read */
    int64_t clock_offset_ms;   /* venue server time - local wall clock (NTP-style midpoint) */
} live_conn_info;

size_t live_conn_count(const klive *lv);
/* K_OK, or K_ERR when i is out of range. The strings stay valid until the next call. */
int live_conn_get(klive *lv, size_t i, live_conn_info *out);

/* One watched book (live_book_count of them). */
typedef struct live_book_info {
    enum venue venue;
    const char *symbol;
    const char *state; /* book_state_name */
    uint64_t gaps, resyncs, snapshots;
    bool fetching;     /* a REST snapshot is in flight */
    uint64_t audits, audit_mismatches, audit_failures; /* failures: no answer / never in step */
    bool auditing;     /* an audit is in progress */
} live_book_info;
size_t live_book_count(const klive *lv);
/* K_ERR when i is out of range or its symbol was removed at run time (skip it). */
int live_book_get(klive *lv, size_t i, live_book_info *out);

/* `kestrel check`: the step-by-step connectivity self-test (src/live/live_cli.c) over cfg's
 * watch list and venues: prints each step with ok/FAIL and why; 0 all passed, 1 a step failed,
 * 2 a bad configuration. */
int live_check_main(kconfig *cfg);

/* The REST base of venue v (venues.<v>.rest_url, or the documented one of its network), checked
 * like live_open checks it (plain http:// only to loopback). K_OK, or K_ERR with a message. */
int live_rest_base(const kconfig *cfg, enum venue v, char *out, size_t cap, char *err,
                   size_t errlen);

/* Kline history over REST (klfetch.h): at start every watched symbol's 1m..1d series is
 * filled to its ring's cap, and after a trades connection reopens its symbols' bars are fetched
 * again from the bar it closed in. Counters for `ctl connections` ("klines"). */
typedef struct live_backfill_info {
    uint64_t start_jobs, gap_jobs; /* (symbol, timeframe) fetches queued */
    uint64_t jobs_done, jobs_failed, dropped; /* dropped: the job queue was full */
    uint32_t pending, running;
    uint64_t bars;                 /* closed bars received */
    uint64_t bars_inserted;        /* bars the series did not hold (history, holes) */
    uint64_t bars_replaced;        /* held bars that differed and took the exchange's values */
    char last_error[256];
} live_backfill_info;
void live_backfill_get(const klive *lv, live_backfill_info *out);

/* Instruments of the watched symbols: the store's cache at start (a restart without network
 * still knows every filter), then exchangeInfo (spot ?symbols=[..], USD-M whole) and OKX
 * /api/v5/public/instruments per instId; each document parsed into opts.instr, the market's
 * decimals fixed from it, and cached (store_put_instrument_doc). Binance's REQUEST_WEIGHT
 * minute limit goes to the REST weight tracker. */
typedef struct live_instruments_info {
    uint64_t cached;   /* symbols known from the cache at start */
    uint64_t fetched;  /* symbols fetched from the venues */
    uint64_t requests, failed; /* failed: gave up after 6 attempts (the cache stays in use) */
    uint32_t pending;
    int64_t weight_limit[VENUE_COUNT]; /* from exchangeInfo (0: the default) */
    char last_error[256];
} live_instruments_info;
void live_instruments_get(const klive *lv, live_instruments_info *out);
/* Recording the session (record.h, docs/LIVE.md "Recording"): every frame the pipeline takes
 * and every REST snapshot it applies, plus one fresh snapshot per book, into path (gzip, the
 * replay capture format with source tags). Writing runs in a writer thread behind a bounded
 * queue. live_record_stop flushes and closes (false when nothing was recording). */
typedef struct live_record_info {
    bool active;
    char path[512];   /* the recording (or the last one, when not active; "" none) */
    uint64_t lines, bytes, dropped, snapshots, written;
    uint32_t books_pending; /* books whose own snapshot line is not written yet */
    int64_t started_ms;
    bool write_error;
    char error[160];
} live_record_info;
K_MUST_USE enum live_result live_record_start(klive *lv, const char *path, char *err,
                                              size_t errlen);
bool live_record_stop(klive *lv, live_record_info *out);
void live_record_get(klive *lv, live_record_info *out);

/* The live pipeline's wall-clock tick (ingest_wall_tick: a silent venue's bars still close),
 * written to the recording as a "wall" line so that its replay closes the same bars. NULL lv:
 * nothing. */
void live_wall_tick(klive *lv, int64_t wall_ms);

/* The venue's clock offset (server time - local wall clock) from its last reading: K_OK, or
 * K_ERR when not read yet. */
int live_clock_offset(const klive *lv, enum venue v, int64_t *offset_ms);

/* `kestrel record`: the live module on a private loop with the recording on from the first
 * frame (live_cli.c), until SIGINT / SIGTERM or seconds (0: no limit); prints a summary. 0 ok,
 * 1 the recording failed or lost lines, 2 a bad configuration or an output it cannot create. */
int live_record_main(kconfig *cfg, const char *out, double seconds);

/* Frame-to-book latency over every frame since open (or the last reset): the net thread's
 * receive time to the pipeline having applied it. 1 us resolution below 2 ms, then powers of
 * two. */
typedef struct live_latency {
    uint64_t frames;
    double p50_us, p99_us, max_us;
} live_latency;
void live_latency_get(const klive *lv, live_latency *out);
void live_latency_reset(klive *lv);

/* True when every watched book is live. */
bool live_all_books_live(klive *lv);

/* ---- health and failover (docs/LIVE.md "Health and failover") ---- */

/* One watch entry with a backup ("okx:BTC-USDT@binance-spot:BTCUSDT"). */
typedef struct live_failover_info {
    enum venue venue, backup_venue;
    const char *symbol, *backup_symbol;
    const char *active;   /* "primary" or "backup" */
    bool primary_ok, backup_ok; /* connection open and not stalled, book live */
    int64_t unhealthy_ms; /* how long the primary has been unhealthy (0: healthy) */
    int64_t switched_age_ms; /* since the last switch (-1: never) */
    uint64_t failovers, failbacks;
} live_failover_info;
size_t live_failover_count(const klive *lv);
int live_failover_get(klive *lv, size_t i, live_failover_info *out);

/* What the panes show for ms: its backup's symbol while ms is a primary on its backup, else
 * ms itself (NULL -> NULL). */
market_sym *live_view_sym(klive *lv, market_sym *ms);

/* The entry gate of auto-trading: false (and why) for a backup that is only a data source and
 * for a primary whose panes are on its backup (no new entry on another venue's prices; exits
 * go on). True for every other symbol and without live data (lv NULL). */
bool live_entry_allowed(klive *lv, enum venue v, const char *symbol, char *why, size_t cap);

/* The status bar's health banner, in this order: "FAILOVER okx:BTC-USDT -> binance-spot:BTCUSDT",
 * "STALLED binance-usdm market", "DOWN okx books", "RESYNC okx:BTC-USDT-SWAP",
 * "REST PAUSED binance-spot 7s". Returns how many (at most max). */
typedef struct live_banner_item {
    bool error;     /* error role (stalled, down, REST paused); else the warning role */
    char text[96];
    enum venue venue;   /* RESYNC: the book's venue and symbol (else VENUE_COUNT, "") */
    const char *symbol;
} live_banner_item;
size_t live_banner(klive *lv, live_banner_item *out, size_t max);

/* REST state of a venue for status / ctl: paused ms left (0: not paused), 429 and 418 seen. */
typedef struct live_rest_info {
    int64_t paused_ms;
    uint64_t status_429, status_418, requests;
} live_rest_info;
void live_rest_get(klive *lv, enum venue v, live_rest_info *out);
bool live_venue_used(const klive *lv, enum venue v);

#endif
