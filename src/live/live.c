/* Live market data for the app: owns the net thread (ws.c) and the REST client (http.c) on the
 * app's loop, opens each venue's streams for the watch list, and feeds every frame into the one
 * ingest pipeline. It owns no book: the market model's books are fed by the pipeline, and this
 * module only drives their sync (docs/LIVE.md "Book sync"):
 *
 *   WS_ITEM_OPEN    the connection's books invalidated (resync), OKX subscribe messages sent
 *   WS_ITEM_CLOSED  the connection's books invalidated: never drawn or used while not synced
 *   WS_ITEM_FRAME   ingest_frame_apply; then each of the connection's books that is not live
 *                   and holds buffered diffs gets a REST snapshot (one in flight per book)
 *   snapshot        through the same pipeline (the symbol set: REST carries none); still not
 *                   live (too old for the buffered diffs) -> fetched again after 100 ms
 *   gap             seen in the book's counters: counted, the book buffers, fetched again
 *   WS_ITEM_ROTATE  a successor with the same URL; its diffs are only compared (decoded here,
 *                   not applied) until each of its books has seen one the live book already
 *                   holds: from then on the two overlap, the successor feeds the pipeline and
 *                   the old connection closes (make-before-break: nothing missed, nothing
 *                   unsynced shown). A successor that has not overlapped after 30 s is
 *                   promoted anyway (its books resync).
 *
 * Everything runs on the main thread; nothing here waits for the network. */
#include "kestrel/live.h"

#include "kestrel/binance.h"
#include "kestrel/failover.h"
#include "kestrel/book.h"
#include "kestrel/decimal.h"
#include "kestrel/http.h"
#include "kestrel/ingest.h"
#include "kestrel/instrument.h"
#include "kestrel/klfetch.h"
#include "kestrel/okx.h"
#include "kestrel/store.h"
#include "kestrel/record.h"
#include "kestrel/ws.h"
#include "kestrel/xmalloc.h"

#include <cJSON.h>
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LIVE_MAX_CONNS 32
#define LIVE_LV_CAP 20000
#define LIVE_NEV 64
#define LIVE_REST_MAX 768
#define LIVE_ROTATE_MAX_MS 30000
#define LIVE_STREAMS_PER_CONN 1000 /* Binance: 1024 streams per connection (exchanges.md) */
#define LIVE_STREAM_NAME_MAX 64    /* "btcusdt@depth@100ms" */
#define LIVE_KLINE_TFS (TF_COUNT - TF_1M) /* kline streams per symbol: 1m 5m 15m 1h 4h 1d */
#define LIVE_SUB_BATCH 100         /* streams per SUBSCRIBE message */
#define LIVE_SUB_GAP_MS 250        /* <= 4 client messages/s: spot allows 5, USD-M 10 */
#define LIVE_IREQ_MAX (CONFIG_MAX_WATCH + VENUE_COUNT) /* instruments requests */
#define LIVE_AUDIT_LEVELS 20
#define LIVE_AUDIT_TIMEOUT_MS 30000
#define LIVE_AUDIT_DEFAULT_MS (600 * 1000)
#define LIVE_CLOCK_DEFAULT_MS (60 * 1000)
#define LIVE_TICK_MS 1000
enum { LIVE_AUDIT_IDLE = 0, LIVE_AUDIT_FETCHING, LIVE_AUDIT_COMPARING };
#define LIVE_LAT_LINEAR 2048 /* 1 us buckets below 2.048 ms ... */
#define LIVE_LAT_LOG 32      /* ... then one per power of two */
#define LIVE_QUEUE_BYTES (16u << 20) /* the net thread's inbound ring (ws.h default: 64 MB) */

typedef struct live_sym {
    enum venue venue;
    char name[KSYM_MAX];
    char rest_url[LIVE_REST_MAX];
    int conn; /* the connection carrying its depth */
    bool fetching;
    uint64_t retry_timer;
    uint64_t gaps, resyncs, snapshots, snapshots_old;
    uint64_t seen_gaps;
    bool was_live, ever_live;
    bool overlap; /* rotation: the successor has sent a diff the live book holds */
    bool backup_only; /* named only as a backup ("...@venue:SYMBOL"): data, never traded */
    int pair;         /* its failover pair when it is a primary, else -1 */
    struct live *lv;
    market_sym *ms; /* its market symbol once the pipeline made it (live_sym_ms; never freed
                     * before the market) */
    /* recording (live_rec_*): one snapshot line per book after the recording starts */
    bool rec_want;
    /* audit (live_audit_*): a second book synced from a fresh REST snapshot + the diffs since,
     * compared level by level (top LIVE_AUDIT_LEVELS) with the live book once both hold the
     * same update id */
    char audit_url[LIVE_REST_MAX];
    book *audit;
    int audit_state;    /* LIVE_AUDIT_IDLE / _FETCHING / _COMPARING */
    int64_t audit_next_ms, audit_started_ms;
    uint64_t audits, audit_mismatches, audit_failures;
} live_sym;

typedef struct live_conn {
    enum venue venue;
    bool books; /* carries depth diffs */
    bool trades; /* carries the trades bars are built from (a reconnect backfills their gap) */
    const char *channel; /* live_conn_info.channel */
    int64_t closed_wall_ms; /* when the active connection last closed (0: never) */
    char url[WS_URL_MAX];
    ws_opts o;
    uint32_t id;   /* the active connection */
    uint32_t next; /* its successor during a rotation, else 0 */
    int64_t rotate_started_ms;
    uint64_t opens, rotations, resyncs_base;
    double latency_ms;
    bool has_latency;
    int syms[CONFIG_MAX_WATCH];
    int nsyms;
    ws_stats st; /* the last ws_get_stats (live_conn_get) */
    /* health (live_health_tick): data frames, not pongs or acks, on the loop's monotonic clock */
    char label[48];          /* "binance-spot books", "binance-usdm market", ... */
    int64_t cadence_ms;      /* documented push interval of its fastest stream */
    int64_t ceiling_ms;      /* the longest silence a healthy stream may have */
    int64_t last_data_ms;    /* the last frame the pipeline applied (0: none yet) */
    int64_t last_recv_ms;    /* its receive time (wall), for the gap average */
    double gap_ms;           /* moving average of the gaps between data frames */
    int64_t open_ms;         /* the active connection's last WS_ITEM_OPEN */
    bool stalled;            /* silent past the threshold: reconnecting, not yet data again */
    bool alerted;            /* this stall episode raised an alert (so will its recovery) */
    int64_t stall_data_ms;   /* the last data before the stall */
    int64_t last_alert_ms;   /* the last stall alert (rate limit) */
    int64_t last_replace_ms, max_replace_ms; /* -1: none yet */
    uint64_t data_stalls, suppressed;
    uint64_t sub_acks, sub_errors; /* OKX {"event":"subscribe"} / {"event":"error"} answers,
                                    * Binance {"result":null,"id":N} / {"code":..,"msg":..} */
    char sub_error[160];
    /* Binance streams past the URL's room (WS_URL_MAX): SUBSCRIBE messages after each open,
     * LIVE_SUB_BATCH streams each, one per LIVE_SUB_GAP_MS (live_sub_pump) */
    int nstreams;            /* in the URL and in extra */
    char (*extra)[LIVE_STREAM_NAME_MAX];
    int nextra, extra_cap;
    uint32_t sub_conn;       /* the connection being subscribed (0: none) */
    int sub_pos;             /* extra[] streams sent to it so far */
    uint64_t sub_timer, sub_msgs, sub_next_id;
    struct live *lv;
    /* warm standby (health.warm_standby, live_twin_* below): a second connection of the same
     * URL, its frames matched against the applied ones; 0 / NULL when off */
    uint32_t standby;
    struct live_twin *tw;
} live_conn;

/* A kline backfill job (live_backfill_*): one symbol and timeframe over [from, to). */
typedef struct live_bf_job {
    int sym;
    enum tf tf;
    int64_t from, to;
    bool gap; /* after a disconnect (else start-up history) */
} live_bf_job;

#define LIVE_BF_MAX (CONFIG_MAX_WATCH * TF_COUNT * 2)
#define LIVE_BF_CONCURRENT 4

typedef struct live_bf_run {
    struct live *lv;
    live_bf_job job;
    klfetch *f;
} live_bf_run;

/* One instruments request: a venue's exchangeInfo (Binance) or one OKX instId. */
typedef struct live_instr_req {
    struct live *lv;
    enum venue venue;
    int sym; /* OKX: the symbol asked for; Binance: -1 (every watched one of the venue) */
    char url[WS_URL_MAX];
    int attempt;
    uint64_t timer;
    bool inflight, done;
} live_instr_req;

struct live {
    loop *l;
    ingest *ing;
    market *m;
    klog *log;
    const kconfig *cfg; /* venues.* for live_symbol_add */
    ws_net *net;
    http_client *http;
    live_sym syms[CONFIG_MAX_WATCH];
    int nsyms;
    live_conn conns[LIVE_MAX_CONNS];
    int nconns;
    int64_t lifetime_ms; /* live_opts.lifetime_ms (tests), 0 = the config's / venue's */
    bool warm_standby;   /* health.warm_standby */
    int64_t stall_ms;    /* live_opts.stall_ms (benches), 0 = the venue's */
    int conn_floor; /* live_conn_for reuses no connection below it (symbols added at run time) */
    feed_level *lv;
    feed_event evs[LIVE_NEV];
    /* health and failover */
    failover *fo;
    int pair_p[FAILOVER_MAX], pair_b[FAILOVER_MAX]; /* syms indices of each pair */
    int npairs;
    uint64_t health_timer;
    double stall_factor;
    int64_t alert_interval_ms;
    void (*on_event)(void *ud, const live_event *ev);
    void *on_event_ud;
    char rest_base[VENUE_COUNT][CONFIG_URL_MAX];
    /* kline backfill: a FIFO of jobs, LIVE_BF_CONCURRENT running */
    live_bf_job bf_q[LIVE_BF_MAX];
    uint32_t bf_head, bf_n;
    live_bf_run bf_run[LIVE_BF_CONCURRENT];
    live_backfill_info bf;
    bool backfill;
    /* instruments: exchangeInfo / OKX instruments at start, cached in the store */
    instruments *instr;
    store *store;
    live_instr_req ireq[LIVE_IREQ_MAX];
    int nireq;
    live_instruments_info ii;
    /* my additions (record, audit, clock): live_rec_*, live_audit_*, live_clock_* below */
    uint64_t lat_hist[LIVE_LAT_LINEAR + LIVE_LAT_LOG]; /* frame-to-book, see live_latency_get */
    uint64_t lat_n, lat_max_us;
    krec *rec;
    char *rec_buf; /* a book written as a snapshot line */
    size_t rec_cap;
    char rec_last_path[512];
    record_stats rec_last;
    bool rec_had;
    uint64_t tick_timer;
    uint32_t book_levels, book_buffered;
    int64_t audit_every_ms[VENUE_COUNT], clock_every_ms[VENUE_COUNT];
    struct live_clock {
        struct live *lv;
        enum venue v;
        bool used, busy, known;
        char url[LIVE_REST_MAX];
        int64_t next_ms, offset_ms, rtt_ms;
        uint64_t samples;
    } clk[VENUE_COUNT];
};

/* record, audit, clock (the end of this file) */
static void live_rec_maybe(live_sym *s);
static void live_rec_snapshot(klive *lv, live_sym *s, const char *body, size_t len,
                              int64_t recv_ns);
static void live_audit_frame(klive *lv, live_conn *c, const ws_item *it);
static void live_sub_note(live_conn *c, const ws_item *it);
static void live_latency_note(klive *lv, int64_t recv_ns);
static void live_audit_drop(live_sym *s);
static void live_extras_open(klive *lv, const kconfig *cfg);
static void live_twin_applied(live_conn *c, const ws_item *it);
static void live_twin_item(klive *lv, live_conn *c, const ws_item *it);
static void live_twin_check(klive *lv, live_conn *c, int64_t now_ns);
static bool live_twin_ready(const live_conn *c);
static bool live_twin_dup(live_conn *c, const ws_item *it);
static void live_twin_swap(klive *lv, live_conn *c);
static void live_twin_free(live_conn *c);
static struct live_twin *live_twin_new(void);
static void live_twin_info(klive *lv, live_conn *c, live_conn_info *out);
static void live_extras_close(klive *lv);

const char *live_strerror(enum live_result r)
{
    switch (r) {
    case LIVE_OK: return "ok";
    case LIVE_ERR_WATCH: return "bad watch list";
    case LIVE_ERR_URL: return "bad URL";
    case LIVE_ERR_INSECURE: return "plain ws:// or http:// to a non-loopback host";
    case LIVE_ERR_INIT: return "cannot start the net thread or the REST client";
    case LIVE_ERR_RECORD: return "cannot record";
    }
    return "unknown";
}

int live_parse_watch(const char *spec, enum venue *v, char *sym, size_t cap, char *err,
                     size_t errlen)
{
    const char *colon = strchr(spec, ':');
    char vn[32];
    if (!colon || (size_t)(colon - spec) >= sizeof vn) {
        snprintf(err, errlen, "watch entry '%s' is not venue:SYMBOL (e.g. binance-spot:BTCUSDT)",
                 spec);
        return K_ERR;
    }
    memcpy(vn, spec, (size_t)(colon - spec));
    vn[colon - spec] = '\0';
    if (venue_parse(vn, v) != K_OK) {
        snprintf(err, errlen, "watch entry '%s': unknown venue '%s' (binance-spot, binance-usdm, "
                 "okx)", spec, vn);
        return K_ERR;
    }
    const char *s = colon + 1;
    size_t n = strlen(s);
    if (n == 0 || n >= KSYM_MAX || n >= cap) {
        snprintf(err, errlen, "watch entry '%s': the symbol must be 1..%d characters", spec,
                 KSYM_MAX - 1);
        return K_ERR;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!isalnum(c) && c != '-') {
            snprintf(err, errlen, "watch entry '%s': the symbol may hold letters, digits and "
                     "'-' only", spec);
            return K_ERR;
        }
        sym[i] = (char)toupper(c);
    }
    sym[n] = '\0';
    return K_OK;
}

/* ---- URLs ---------------------------------------------------------------------------------- */

static enum live_result live_check_url(const char *key, const char *url, bool websocket,
                                       char *err, size_t errlen);

typedef struct live_bases {
    const char *rest, *ws, *ws_public, *ws_market;
} live_bases;

/* The documented bases of each venue and network (docs/CONFIG.md). */
static int live_default_bases(enum venue v, const char *network, live_bases *b, char *err,
                              size_t errlen)
{
    bool main = !network[0] || strcmp(network, "mainnet") == 0;
    switch (v) {
    case VENUE_BINANCE_SPOT:
        if (main)
            *b = (live_bases){"https://api.binance.com", "wss://stream.binance.com:9443", NULL,
                              NULL};
        else if (strcmp(network, "testnet") == 0)
            *b = (live_bases){"https://testnet.binance.vision", "wss://stream.testnet.binance.vision",
                              NULL, NULL};
        else
            break;
        return K_OK;
    case VENUE_BINANCE_USDM:
        if (main)
            *b = (live_bases){"https://fapi.binance.com", "wss://fstream.binance.com",
                              "wss://fstream.binance.com", "wss://fstream.binance.com"};
        else if (strcmp(network, "testnet") == 0)
            *b = (live_bases){"https://testnet.binancefuture.com",
                              "wss://fstream.binancefuture.com", "wss://fstream.binancefuture.com",
                              "wss://fstream.binancefuture.com"};
        else
            break;
        return K_OK;
    case VENUE_OKX:
        if (main)
            *b = (live_bases){"https://www.okx.com", "wss://ws.okx.com:8443", NULL, NULL};
        else if (strcmp(network, "demo") == 0)
            *b = (live_bases){"https://www.okx.com", "wss://wspap.okx.com:8443", NULL, NULL};
        else
            break;
        return K_OK;
    default:
        break;
    }
    snprintf(err, errlen, "venues.%s.network = \"%s\" is not valid (expected %s)", venue_name(v),
             network, v == VENUE_OKX ? "mainnet or demo" : "mainnet or testnet");
    return K_ERR;
}

/* A base without a trailing '/': the venue's documented paths are appended to it. */
static void live_base(char *out, size_t cap, const char *cfg, const char *def)
{
    snprintf(out, cap, "%s", cfg && cfg[0] ? cfg : def);
    size_t n = strlen(out);
    while (n > 0 && out[n - 1] == '/')
        out[--n] = '\0';
}

int live_rest_base(const kconfig *cfg, enum venue v, char *out, size_t cap, char *err,
                   size_t errlen)
{
    live_bases d;
    if ((unsigned)v >= VENUE_COUNT ||
        live_default_bases(v, cfg->venues[v].network, &d, err, errlen) != K_OK)
        return K_ERR;
    live_base(out, cap, cfg->venues[v].rest_url, d.rest);
    char key[96];
    snprintf(key, sizeof key, "venues.%s.rest_url", venue_name(v));
    return live_check_url(key, out, false, err, errlen) == LIVE_OK ? K_OK : K_ERR;
}

/* Checks a URL with the net layer's own parser (scheme, loopback-only plain text). */
static enum live_result live_check_url(const char *key, const char *url, bool websocket,
                                       char *err, size_t errlen)
{
    ws_url u;
    char why[300];
    enum ws_result r = ws_url_parse(url, &u, why, sizeof why);
    if (r == WS_OK && u.websocket != websocket) {
        snprintf(err, errlen, "%s = \"%s\": expected a %s URL", key, url,
                 websocket ? "ws:// or wss://" : "http:// or https://");
        return LIVE_ERR_URL;
    }
    if (r == WS_ERR_INSECURE) {
        snprintf(err, errlen, "%s = \"%s\": %s (TLS verification is never disabled: use %s, or a "
                 "loopback address for tests)", key, url, why, websocket ? "wss://" : "https://");
        return LIVE_ERR_INSECURE;
    }
    if (r != WS_OK) {
        snprintf(err, errlen, "%s = \"%s\": %s", key, url, why);
        return LIVE_ERR_URL;
    }
    return LIVE_OK;
}

/* ---- snapshots ------------------------------------------------------------------------------ */

static void live_fetch(live_sym *s);
static void live_health_on_data(klive *lv, live_conn *c, int64_t recv_ms);

static void live_retry_cb(loop *l, uint64_t id, void *ud)
{
    (void)l;
    (void)id;
    live_sym *s = ud;
    s->retry_timer = 0;
    market_sym *ms = market_find(s->lv->m, s->venue, s->name);
    if (!ms || !book_is_live(ms->book))
        live_fetch(s);
}

static void live_retry(live_sym *s, int64_t ms)
{
    if (s->retry_timer)
        loop_timer_cancel(s->lv->l, s->retry_timer);
    s->retry_timer = loop_timer_add(s->lv->l, ms, live_retry_cb, s);
}

static int64_t live_pause_left(klive *lv, enum venue v)
{
    http_venue_state vs;
    http_venue_state_get(lv->http, v, &vs);
    int64_t wait = vs.paused_until_ms - loop_mono_ms();
    return wait > 0 ? wait + 10 : 10;
}

/* The market symbol of s (looked up once: live_check_book runs for every book of a connection
 * on each of its frames). */
static market_sym *live_sym_ms(live_sym *s)
{
    if (!s->ms && s->name[0])
        s->ms = market_find(s->lv->m, s->venue, s->name);
    return s->ms;
}

/* Looks at a book after the pipeline touched it: gaps counted, resyncs counted, a snapshot
 * fetched when it buffers diffs and is not live. */
static void live_check_book(live_sym *s)
{
    klive *lv = s->lv;
    market_sym *ms = live_sym_ms(s);
    if (!ms)
        return;
    const book_stats *bs = book_get_stats(ms->book);
    if (bs->gaps > s->seen_gaps) {
        s->gaps += bs->gaps - s->seen_gaps;
        s->seen_gaps = bs->gaps;
        if (lv->log)
            log_warn(lv->log, "live %s %s: sequence gap, resyncing from a REST snapshot",
                     venue_name(s->venue), s->name);
    }
    if (book_is_live(ms->book)) {
        if (!s->was_live) {
            if (s->ever_live)
                s->resyncs++;
            s->was_live = s->ever_live = true;
        }
        live_rec_maybe(s);
        return;
    }
    s->was_live = false;
    if (book_buffered(ms->book) > 0 && !s->fetching && !s->retry_timer)
        live_fetch(s);
}

static void live_on_snapshot(void *ud, const http_response *r)
{
    live_sym *s = ud;
    klive *lv = s->lv;
    s->fetching = false;
    if (r->result != HTTP_OK) {
        if (r->result != HTTP_ERR_CANCELLED) {
            if (lv->log)
                log_warn(lv->log, "live %s %s: snapshot: %s %s", venue_name(s->venue), s->name,
                         http_strerror(r->result), r->error);
            live_retry(s, 500);
        }
        return;
    }
    if (r->status == 429 || r->status == 418) {
        live_retry(s, live_pause_left(lv, s->venue));
        return;
    }
    if (r->status != 200) {
        if (lv->log)
            log_warn(lv->log, "live %s %s: snapshot: HTTP %ld", venue_name(s->venue), s->name,
                     r->status);
        live_retry(s, 500);
        return;
    }
    market_sym *ms = market_find(lv->m, s->venue, s->name);
    if (ms && book_is_live(ms->book))
        return; /* synced meanwhile (an OKX pushed snapshot) */
    ingest_frame f = {.venue = s->venue, .bytes = r->body, .len = r->len,
                      .recv_ns = loop_wall_ms() * 1000000, .symbol = s->name};
    const char *why = NULL;
    live_rec_snapshot(lv, s, r->body, r->len, f.recv_ns);
    enum ingest_result ir = ingest_frame_apply(lv->ing, &f, &why);
    ms = market_find(lv->m, s->venue, s->name);
    if (ir != INGEST_OK || !ms) {
        if (lv->log)
            log_warn(lv->log, "live %s %s: snapshot refused: %s (%s)", venue_name(s->venue),
                     s->name, ingest_strerror(ir), why ? why : "?");
        live_retry(s, 500);
        return;
    }
    if (lv->log)
        log_debug(lv->log, "live %s %s: snapshot applied: %s (buffered %u)", venue_name(s->venue),
                  s->name, book_is_live(ms->book) ? "live" : "not live",
                  (unsigned)book_buffered(ms->book));
    if (book_is_live(ms->book)) {
        s->snapshots++;
        live_check_book(s);
    } else {
        s->snapshots_old++; /* older than the buffered diffs: another one */
        live_retry(s, 100);
    }
}

static void live_fetch(live_sym *s)
{
    klive *lv = s->lv;
    if (s->fetching)
        return;
    int weight = s->venue == VENUE_BINANCE_SPOT ? 250 : s->venue == VENUE_BINANCE_USDM ? 20 : 1;
    enum http_result r = http_get(lv->http, s->venue, s->rest_url, weight, live_on_snapshot, s,
                                  NULL);
    if (lv->log)
        log_debug(lv->log, "live %s %s: snapshot requested (%s)", venue_name(s->venue), s->name,
                  http_strerror(r));
    if (r == HTTP_OK) {
        s->fetching = true;
        return;
    }
    live_retry(s, r == HTTP_ERR_PAUSED ? live_pause_left(lv, s->venue) : 250);
}

/* ---- connections ---------------------------------------------------------------------------- */

static void live_invalidate(klive *lv, live_conn *c)
{
    if (!c->books)
        return;
    for (int i = 0; i < c->nsyms; i++) {
        live_sym *s = &lv->syms[c->syms[i]];
        market_sym *ms = market_find(lv->m, s->venue, s->name);
        if (ms)
            book_invalidate(ms->book);
        s->was_live = false;
        live_audit_drop(s);
    }
}

static void live_sub_start(klive *lv, live_conn *c, uint32_t id);

static void live_subscribe(klive *lv, live_conn *c, uint32_t id)
{
    if (c->venue != VENUE_OKX) { /* Binance: the streams in the URL, the rest SUBSCRIBEd */
        live_sub_start(lv, c, id);
        return;
    }
    /* /ws/v5/public: books, trades, top of book, 24 h tickers; /ws/v5/business: candle<bar>
     * of every kept timeframe but 1s. One request per instId with all its channels: OKX allows
     * 480 subscribe requests an hour per connection, ws_send queues at most 256 messages. */
    static const char *const book_chans[] = {"books", "trades", "bbo-tbt", "tickers"};
    char bars[LIVE_KLINE_TFS][24];
    const char *chv[LIVE_KLINE_TFS];
    for (int k = 0; k < LIVE_KLINE_TFS; k++) {
        snprintf(bars[k], sizeof bars[k], "candle%s",
                 klfetch_interval(VENUE_OKX, (enum tf)(TF_1M + k)));
        chv[k] = bars[k];
    }
    const char *const *chans = c->books ? book_chans : chv;
    size_t nch = c->books ? K_ARRAY_LEN(book_chans) : (size_t)LIVE_KLINE_TFS;
    for (int i = 0; i < c->nsyms; i++) {
        char msg[768];
        const char *inst = lv->syms[c->syms[i]].name;
        size_t n = okx_subscribe_msgv(msg, sizeof msg, true, chans, nch, inst);
        if ((n == 0 || ws_send(lv->net, id, msg, n) != WS_OK) && lv->log)
            log_warn(lv->log, "live okx: cannot subscribe the %s of %s",
                     c->books ? "books, trades and tickers" : "candles", inst);
    }
}

/* ---- instruments (docs/LIVE.md "Instruments") ---------------------------------------------- */

static bool live_watched(const klive *lv, enum venue v, const char *sym)
{
    for (int i = 0; i < lv->nsyms; i++)
        if (lv->syms[i].venue == v && strcmp(lv->syms[i].name, sym) == 0)
            return true;
    return false;
}

/* One symbol's document into the trading core's table (and the market's decimals). */
static bool live_instr_doc(klive *lv, enum venue v, const char *sym, const char *doc)
{
    instrument in;
    char err[200];
    if (!lv->instr || instruments_load_doc(lv->instr, v, doc, strlen(doc), &in, err,
                                           sizeof err) != INSTR_OK) {
        if (lv->log)
            log_warn(lv->log, "live %s %s: instrument: %s", venue_name(v), sym, lv->instr ? err
                     : "no table");
        return false;
    }
    market_sym *ms = market_find(lv->m, v, sym);
    if (ms)
        market_set_decimals(lv->m, ms, in.px_decimals, in.qty_decimals);
    return true;
}

static bool live_instr_cached(void *ud, enum venue v, const char *symbol, const char *doc,
                              int64_t fetched_ms)
{
    (void)fetched_ms;
    klive *lv = ud;
    if (live_watched(lv, v, symbol) && live_instr_doc(lv, v, symbol, doc))
        lv->ii.cached++;
    return true;
}

static void live_instr_send(live_instr_req *q);

static void live_instr_timer(loop *l, uint64_t id, void *ud)
{
    (void)l;
    (void)id;
    live_instr_req *q = ud;
    q->timer = 0;
    live_instr_send(q);
}

static void live_instr_retry(live_instr_req *q, int64_t ms, const char *why)
{
    klive *lv = q->lv;
    snprintf(lv->ii.last_error, sizeof lv->ii.last_error, "%s: %s", venue_name(q->venue), why);
    if (++q->attempt > 6) {
        q->done = true;
        lv->ii.failed++;
        if (lv->log)
            log_warn(lv->log, "live %s: instruments not fetched (%s): the cache (%llu) is used",
                     venue_name(q->venue), why, (unsigned long long)lv->ii.cached);
        return;
    }
    q->timer = loop_timer_add(lv->l, ms, live_instr_timer, q);
}

static void live_instr_resp(void *ud, const http_response *r)
{
    live_instr_req *q = ud;
    klive *lv = q->lv;
    q->inflight = false;
    if (r->result == HTTP_ERR_CANCELLED)
        return;
    if (r->result != HTTP_OK || r->status != 200) {
        char why[200];
        snprintf(why, sizeof why, "%s (HTTP %ld)", r->result != HTTP_OK ?
                 http_strerror(r->result) : "refused", r->status);
        live_instr_retry(q, r->status == 429 || r->status == 418 ? live_pause_left(lv, q->venue)
                         : 1000LL << (q->attempt < 4 ? q->attempt : 4), why);
        return;
    }
    cJSON *doc = cJSON_ParseWithLength(r->body, r->len);
    const cJSON *list = doc ? cJSON_GetObjectItemCaseSensitive(doc, q->venue == VENUE_OKX ?
                                                               "data" : "symbols")
                            : NULL;
    if (!cJSON_IsArray(list)) {
        cJSON_Delete(doc);
        live_instr_retry(q, 2000, "not an instruments document");
        return;
    }
    if (q->venue != VENUE_OKX) { /* the venue's REQUEST_WEIGHT limit for the tracker */
        const cJSON *rl, *rls = cJSON_GetObjectItemCaseSensitive(doc, "rateLimits");
        cJSON_ArrayForEach(rl, rls) {
            const cJSON *t = cJSON_GetObjectItemCaseSensitive(rl, "rateLimitType");
            const cJSON *iv = cJSON_GetObjectItemCaseSensitive(rl, "interval");
            const cJSON *n = cJSON_GetObjectItemCaseSensitive(rl, "intervalNum");
            const cJSON *lim = cJSON_GetObjectItemCaseSensitive(rl, "limit");
            if (cJSON_IsString(t) && !strcmp(t->valuestring, "REQUEST_WEIGHT") &&
                cJSON_IsString(iv) && !strcmp(iv->valuestring, "MINUTE") &&
                cJSON_IsNumber(n) && n->valuedouble == 1 && cJSON_IsNumber(lim) &&
                lim->valuedouble >= 100 && lim->valuedouble <= 1e6) {
                http_set_weight_limit(lv->http, q->venue, (int64_t)lim->valuedouble);
                lv->ii.weight_limit[q->venue] = (int64_t)lim->valuedouble;
            }
        }
    }
    const cJSON *it;
    cJSON_ArrayForEach(it, list) {
        const cJSON *sy = cJSON_GetObjectItemCaseSensitive(it, q->venue == VENUE_OKX ? "instId"
                                                                                     : "symbol");
        if (!cJSON_IsString(sy) || !live_watched(lv, q->venue, sy->valuestring))
            continue;
        char *one = cJSON_PrintUnformatted(it);
        if (one && live_instr_doc(lv, q->venue, sy->valuestring, one)) {
            lv->ii.fetched++;
            if (lv->store)
                (void)store_put_instrument_doc(lv->store, q->venue, sy->valuestring, one,
                                               loop_wall_ms());
        }
        cJSON_free(one);
    }
    cJSON_Delete(doc);
    q->done = true;
}

static void live_instr_send(live_instr_req *q)
{
    klive *lv = q->lv;
    enum http_result r = http_get(lv->http, q->venue, q->url,
                                  q->venue == VENUE_BINANCE_SPOT ? 20 : 1, live_instr_resp, q,
                                  NULL);
    if (r == HTTP_OK) {
        q->inflight = true;
        lv->ii.requests++;
        return;
    }
    q->timer = loop_timer_add(lv->l, r == HTTP_ERR_PAUSED ? live_pause_left(lv, q->venue) : 500,
                              live_instr_timer, q);
}

/* The cache first (a start without network still knows every filter), then the venues. */
static void live_instruments_start(klive *lv)
{
    if (lv->store &&
        store_load_instrument_docs(lv->store, live_instr_cached, lv) != STORE_OK && lv->log)
        log_warn(lv->log, "live: the instrument cache could not be read");
    for (int v = 0; v < VENUE_COUNT; v++) {
        char list[WS_URL_MAX - CONFIG_URL_MAX - 64] = "", base[CONFIG_URL_MAX];
        size_t n = 0;
        snprintf(base, sizeof base, "%s", lv->rest_base[v]); /* not inside lv: -Wrestrict */
        for (int i = 0; i < lv->nsyms && lv->nireq < LIVE_IREQ_MAX; i++) {
            live_sym *s = &lv->syms[i];
            if ((int)s->venue != v)
                continue;
            if (v == VENUE_OKX) { /* one request per instId: instType from its shape */
                live_instr_req *q = &lv->ireq[lv->nireq++];
                memset(q, 0, sizeof *q);
                size_t len = strlen(s->name);
                const char *d1 = strchr(s->name, '-');
                const char *type = len > 5 && !strcmp(s->name + len - 5, "-SWAP") ? "SWAP"
                                   : d1 && strchr(d1 + 1, '-')                    ? "FUTURES"
                                                                                  : "SPOT";
                char inst[KSYM_MAX];
                memcpy(inst, s->name, sizeof inst);
                snprintf(q->url, sizeof q->url, "%s/api/v5/public/instruments?instType=%s"
                         "&instId=%s", base, type, inst);
                q->lv = lv;
                q->venue = VENUE_OKX;
                q->sym = i;
                continue;
            }
            int k = snprintf(list + n, sizeof list - n, "%s%%22%s%%22", n ? "," : "", s->name);
            if (k > 0 && (size_t)k < sizeof list - n)
                n += (size_t)k;
        }
        if (v == VENUE_OKX || n == 0 || lv->nireq >= LIVE_IREQ_MAX)
            continue;
        live_instr_req *q = &lv->ireq[lv->nireq++];
        memset(q, 0, sizeof *q);
        q->lv = lv;
        q->venue = (enum venue)v;
        q->sym = -1;
        if (v == VENUE_BINANCE_SPOT) /* the watched symbols only: the full document is large */
            snprintf(q->url, sizeof q->url, "%s/api/v3/exchangeInfo?symbols=%%5B%s%%5D", base,
                     list);
        else /* /fapi/v1/exchangeInfo takes no symbol filter */
            snprintf(q->url, sizeof q->url, "%s/fapi/v1/exchangeInfo", base);
    }
    for (int k = 0; k < lv->nireq; k++)
        live_instr_send(&lv->ireq[k]);
}

void live_instruments_get(const klive *lv, live_instruments_info *out)
{
    memset(out, 0, sizeof *out);
    if (!lv)
        return;
    *out = lv->ii;
    for (int k = 0; k < lv->nireq; k++)
        out->pending += !lv->ireq[k].done;
}

/* ---- kline backfill (docs/LIVE.md "Kline history") ------------------------------------------ */

static void live_bf_next(klive *lv);

static void live_bf_page(void *ud, const candle *bars, uint32_t n)
{
    live_bf_run *r = ud;
    klive *lv = r->lv;
    live_sym *s = &lv->syms[r->job.sym];
    market_sym *ms = market_find(lv->m, s->venue, s->name);
    if (!ms)
        ms = market_add(lv->m, s->venue, s->name); /* history before the first trade */
    if (!ms)
        return;
    uint64_t before = ms->kline_diffs;
    lv->bf.bars_inserted += market_merge_bars(lv->m, ms, r->job.tf, bars, n);
    lv->bf.bars_replaced += ms->kline_diffs - before;
    lv->bf.bars += n;
}

static void live_bf_done(void *ud, enum klfetch_result res, const char *err)
{
    live_bf_run *r = ud;
    klive *lv = r->lv;
    if (res == KLFETCH_OK) {
        lv->bf.jobs_done++;
    } else {
        lv->bf.jobs_failed++;
        snprintf(lv->bf.last_error, sizeof lv->bf.last_error, "%s", err ? err : "?");
        if (lv->log)
            log_warn(lv->log, "live backfill %s %s: %s", lv->syms[r->job.sym].name,
                     tf_name(r->job.tf), err ? err : klfetch_strerror(res));
    }
    klfetch_free(r->f);
    r->f = NULL;
    live_bf_next(lv);
}

static void live_bf_next(klive *lv)
{
    for (int k = 0; k < LIVE_BF_CONCURRENT && lv->bf_head < lv->bf_n; k++) {
        live_bf_run *r = &lv->bf_run[k];
        if (r->f)
            continue;
        r->lv = lv;
        r->job = lv->bf_q[lv->bf_head++ % LIVE_BF_MAX];
        live_sym *s = &lv->syms[r->job.sym];
        klfetch_opts o = {.loop = lv->l, .http = lv->http, .venue = s->venue,
                          .rest_base = lv->rest_base[s->venue], .symbol = s->name,
                          .tf = r->job.tf, .from_ms = r->job.from, .to_ms = r->job.to,
                          .on_page = live_bf_page, .on_done = live_bf_done, .ud = r};
        char err[256];
        r->f = klfetch_start(&o, err, sizeof err);
        if (!r->f) {
            lv->bf.jobs_failed++;
            snprintf(lv->bf.last_error, sizeof lv->bf.last_error, "%s", err);
        }
    }
    lv->bf.pending = lv->bf_n - lv->bf_head;
    lv->bf.running = 0;
    for (int k = 0; k < LIVE_BF_CONCURRENT; k++)
        lv->bf.running += lv->bf_run[k].f != NULL;
}

/* Queues the history of every timeframe but 1s for symbol i: from the start-up's full series
 * (each ring's cap: every indicator's warm-up and the chart's width) or, after a disconnect,
 * from the bar the connection closed in (a gap in history is filled over REST). */
static void live_bf_queue(klive *lv, int i, int64_t since_ms, bool gap)
{
    int64_t now = loop_wall_ms();
    const market_limits *lim = market_get_limits(lv->m);
    for (int t = TF_1M; t < TF_COUNT; t++) {
        if (lv->bf_n - lv->bf_head >= LIVE_BF_MAX) {
            lv->bf.dropped++;
            continue;
        }
        int64_t ms = tf_ms((enum tf)t);
        uint32_t cap = t == TF_1M ? K_MAX(lim->candles_max, MARKET_DAY_1M_BARS)
                                  : lim->candles_max;
        int64_t from = gap ? since_ms - since_ms % ms - ms : now - (int64_t)cap * ms;
        if (from < now - (int64_t)cap * ms)
            from = now - (int64_t)cap * ms; /* never more than the ring holds */
        live_bf_job j = {.sym = i, .tf = (enum tf)t, .from = from, .to = now, .gap = gap};
        lv->bf_q[lv->bf_n++ % LIVE_BF_MAX] = j;
        if (gap)
            lv->bf.gap_jobs++;
        else
            lv->bf.start_jobs++;
    }
    live_bf_next(lv);
}

/* A connection that carries trades opened again after a close: its symbols' bars have a hole
 * (or fill bars carrying the last close) for the time it was away: backfilled. */
static void live_on_reopen(klive *lv, live_conn *c)
{
    if (!c->trades || c->closed_wall_ms == 0 || !lv->backfill)
        return;
    for (int i = 0; i < c->nsyms; i++)
        live_bf_queue(lv, c->syms[i], c->closed_wall_ms, true);
    c->closed_wall_ms = 0;
}

void live_backfill_get(const klive *lv, live_backfill_info *out)
{
    memset(out, 0, sizeof *out);
    if (lv)
        *out = lv->bf;
}

static void live_promote(klive *lv, live_conn *c)
{
    if (ws_close(lv->net, c->id) != WS_OK && lv->log)
        log_warn(lv->log, "live %s: closing the rotated connection failed", venue_name(c->venue));
    c->id = c->next;
    c->next = 0;
    c->rotations++;
    c->open_ms = loop_mono_ms(); /* its data flows: the silence is counted from here */
    if (lv->log)
        log_info(lv->log, "live %s: rotated to a fresh connection (make-before-break)",
                 venue_name(c->venue));
}

/* A successor's frame during a rotation: its diffs compared with the live books. */
static void live_successor_frame(klive *lv, live_conn *c, const ws_item *it)
{
    uint32_t n = 0;
    const char *why = NULL;
    int rc;
    if (c->venue == VENUE_OKX) {
        rc = okx_decode(it->data, it->len, lv->evs, LIVE_NEV, &n, lv->lv, LIVE_LV_CAP, NULL, &why);
    } else {
        rc = binance_decode(it->data, it->len, &lv->evs[0], lv->lv, LIVE_LV_CAP, &why);
        n = rc == K_OK;
    }
    if (rc == K_OK) {
        for (uint32_t i = 0; i < n; i++) {
            const feed_event *ev = &lv->evs[i];
            if (ev->kind != FEED_DEPTH_DIFF)
                continue;
            for (int j = 0; j < c->nsyms; j++) {
                live_sym *s = &lv->syms[c->syms[j]];
                if (strcmp(s->name, ev->symbol) != 0)
                    continue;
                market_sym *ms = market_find(lv->m, s->venue, s->name);
                if (!ms || !book_is_live(ms->book) ||
                    ev->u.depth.last_id <= book_last_id(ms->book))
                    s->overlap = true;
            }
        }
    }
    bool all = true;
    for (int j = 0; j < c->nsyms && c->books; j++)
        all = all && lv->syms[c->syms[j]].overlap;
    if (all || loop_mono_ms() - c->rotate_started_ms > LIVE_ROTATE_MAX_MS)
        live_promote(lv, c);
}

static bool live_is_shutdown(const live_conn *c, const ws_item *it)
{
    if (it->len > 300)
        return false;
    if (c->venue == VENUE_OKX)
        return memmem(it->data, it->len, "\"notice\"", 8) != NULL &&
               memmem(it->data, it->len, "64008", 5) != NULL;
    return memmem(it->data, it->len, "\"serverShutdown\"", 16) != NULL;
}

static void live_frame(klive *lv, live_conn *c, const ws_item *it)
{
    ingest_frame f = {.venue = c->venue, .bytes = it->data, .len = it->len,
                      .recv_ns = it->recv_ns};
    const char *why = NULL;
    if (lv->rec) /* the recording sees exactly what the pipeline sees, in the same order */
        (void)record_line(lv->rec, it->recv_ns, c->venue, NULL, it->data, it->len);
    live_sub_note(c, it);
    enum ingest_result r = ingest_frame_apply(lv->ing, &f, &why);
    live_latency_note(lv, it->recv_ns);
    if (r == INGEST_OK) {
        live_health_on_data(lv, c, it->recv_ns / 1000000);
        int64_t clock = ingest_venue_clock_ms(lv->ing, c->venue);
        if (clock > 0) {
            double lat = (double)(it->recv_ns / 1000000 - clock);
            c->latency_ms = c->has_latency ? c->latency_ms * 0.95 + lat * 0.05 : lat;
            c->has_latency = true;
        }
    } else if (r == INGEST_IGNORED && live_is_shutdown(c, it)) {
        if (lv->log)
            log_info(lv->log, "live %s: the server announced a shutdown: reconnecting now",
                     venue_name(c->venue));
        if (ws_reconnect(lv->net, c->id) != WS_OK && lv->log)
            log_warn(lv->log, "live %s: reconnect refused", venue_name(c->venue));
    } else if (r != INGEST_IGNORED && lv->log) {
        log_debug(lv->log, "live %s: frame dropped: %s (%s)", venue_name(c->venue),
                  ingest_strerror(r), why ? why : "?");
    }
    if (c->books)
        for (int i = 0; i < c->nsyms; i++)
            live_check_book(&lv->syms[c->syms[i]]);
    if (c->books)
        live_audit_frame(lv, c, it);
    if (c->tw)
        live_twin_applied(c, it);
}

static void live_on_item(void *ud, const ws_item *it)
{
    klive *lv = ud;
    live_conn *c = NULL;
    for (int i = 0; i < lv->nconns && !c; i++)
        if (lv->conns[i].id == it->conn || (lv->conns[i].next && lv->conns[i].next == it->conn) ||
            (lv->conns[i].standby && lv->conns[i].standby == it->conn))
            c = &lv->conns[i];
    if (!c)
        return; /* a connection we closed: its last items */
    if (c->standby && it->conn == c->standby) {
        live_twin_item(lv, c, it);
        return;
    }
    bool active = it->conn == c->id;
    switch (it->kind) {
    case WS_ITEM_ROTATE:
        if (active && !c->next) {
            char err[256];
            if (ws_open(lv->net, c->url, &c->o, &c->next, err, sizeof err) != WS_OK) {
                c->next = 0;
                if (lv->log)
                    log_warn(lv->log, "live %s: rotation: %s", venue_name(c->venue), err);
            } else {
                c->rotate_started_ms = loop_mono_ms();
                for (int i = 0; i < c->nsyms; i++)
                    lv->syms[c->syms[i]].overlap = false;
            }
        }
        return;
    case WS_ITEM_OPEN:
        if (active) {
            c->opens++;
            c->open_ms = loop_mono_ms();
            if (lv->log)
                log_info(lv->log, "live %s: connected %s", venue_name(c->venue), c->url);
            live_invalidate(lv, c);
            live_on_reopen(lv, c);
        }
        live_subscribe(lv, c, it->conn);
        return;
    case WS_ITEM_CLOSED:
        if (active && c->tw && live_twin_ready(c)) {
            live_twin_swap(lv, c); /* the warm standby takes over: the books stay live */
            return;
        }
        if (active) {
            if (lv->log)
                log_warn(lv->log, "live %s: disconnected (reconnecting)", venue_name(c->venue));
            live_invalidate(lv, c);
            if (c->sub_conn == it->conn)
                c->sub_conn = 0; /* the reopen subscribes again */
            if (!c->closed_wall_ms) /* the first close since it was last open */
                c->closed_wall_ms = loop_wall_ms();
        }
        return;
    case WS_ITEM_FRAME:
        if (active && c->tw && live_twin_dup(c, it))
            return; /* a swap's new active catching up: applied from the old one already */
        if (active)
            live_frame(lv, c, it);
        else
            live_successor_frame(lv, c, it);
        return;
    }
}

static void live_on_net(loop *l, int fd, unsigned events, void *ud)
{
    (void)l;
    (void)fd;
    (void)events;
    klive *lv = ud;
    ws_drain(lv->net, 4096, live_on_item, lv);
}

/* ---- health: data stalls, failover, the banner ---------------------------------------------- */

#define LIVE_HEALTH_TICK_MS 100

static void live_emit(klive *lv, enum live_event_kind k, const char *sym, double value,
                      uint64_t suppressed, const char *text)
{
    if (lv->on_event) {
        live_event ev = {.kind = k, .symbol = sym ? sym : "", .value = value, .text = text,
                         .suppressed = suppressed};
        lv->on_event(lv->on_event_ud, &ev);
    }
}

/* The first data frame after a stall: the replacement works. */
static void live_health_on_data(klive *lv, live_conn *c, int64_t recv_ms)
{
    int64_t now = loop_mono_ms();
    /* the gap across a stall or a reconnect is not the stream's cadence */
    if (c->last_recv_ms > 0 && recv_ms >= c->last_recv_ms && !c->stalled &&
        c->last_data_ms >= c->open_ms) {
        double gap = (double)(recv_ms - c->last_recv_ms);
        c->gap_ms = c->gap_ms > 0 ? c->gap_ms * 0.98 + gap * 0.02 : gap;
    }
    c->last_recv_ms = recv_ms;
    c->last_data_ms = now;
    if (!c->stalled)
        return;
    c->stalled = false;
    c->last_replace_ms = now - c->stall_data_ms;
    if (c->last_replace_ms > c->max_replace_ms)
        c->max_replace_ms = c->last_replace_ms;
    if (lv->log)
        log_info(lv->log, "live %s: data again %lld ms after the last message before the stall",
                 c->label, (long long)c->last_replace_ms);
    if (c->alerted) {
        char t[160];
        snprintf(t, sizeof t, "feed recovered: %s delivers data again (%.1f s after it went "
                 "silent)", c->label, (double)c->last_replace_ms / 1000.0);
        live_emit(lv, LIVE_EV_RECOVERED, "", (double)c->last_replace_ms / 1000.0, c->suppressed,
                  t);
        c->alerted = false;
    }
}

static int64_t live_conn_stall_ms(const klive *lv, const live_conn *c)
{
    return failover_stall_ms(lv->stall_factor, c->cadence_ms, c->gap_ms, c->ceiling_ms);
}

/* A connection is silent past its threshold while open: a stall -> reconnect (counted). */
static void live_health_conn(klive *lv, live_conn *c, int64_t now)
{
    if (c->tw)
        live_twin_check(lv, c, loop_wall_ms() * 1000000);
    if (ws_get_stats(lv->net, c->id, &c->st) != WS_OK)
        return;
    if (c->st.state != WS_OPEN || c->next)
        return; /* connecting / backing off (DOWN), or rotating (the successor is checked) */
    int64_t since = c->last_data_ms > c->open_ms ? c->last_data_ms : c->open_ms;
    if (since <= 0)
        return;
    int64_t silent = now - since, limit = live_conn_stall_ms(lv, c);
    if (silent <= limit)
        return;
    if (!c->stalled)
        c->stall_data_ms = since;
    c->stalled = true;
    c->data_stalls++;
    c->open_ms = now; /* the reconnect's own silence is counted from its open */
    if (lv->log)
        log_warn(lv->log, "live %s: stalled: no data for %lld ms (threshold %lld ms): "
                 "reconnecting", c->label, (long long)silent, (long long)limit);
    if (ws_reconnect(lv->net, c->id) != WS_OK && lv->log)
        log_warn(lv->log, "live %s: reconnect refused", c->label);
    if (c->last_alert_ms && now - c->last_alert_ms < lv->alert_interval_ms) {
        c->suppressed++;
        return;
    }
    char t[160];
    snprintf(t, sizeof t, "feed stalled: %s silent %.1f s (threshold %.1f s), reconnecting",
             c->label, (double)silent / 1000.0, (double)limit / 1000.0);
    live_emit(lv, LIVE_EV_STALL, "", (double)silent / 1000.0, c->suppressed, t);
    c->suppressed = 0;
    c->last_alert_ms = now;
    c->alerted = true;
}

/* Healthy: every connection that feeds the symbol (its book's, and the trades / klines /
 * candles ones: USD-M /market, OKX /ws/v5/business) open and delivering, and the book live. A
 * stall of any stream the panes use counts (docs/LIVE.md "Health and failover"). */
static bool live_sym_ok(klive *lv, const live_sym *s)
{
    int si = (int)(s - lv->syms);
    int64_t now = loop_mono_ms();
    for (int i = 0; i < lv->nconns; i++) {
        const live_conn *c = &lv->conns[i];
        bool feeds = false;
        for (int k = 0; k < c->nsyms && !feeds; k++)
            feeds = c->syms[k] == si;
        /* silent past its threshold across reconnects too: a transport stall (ws.c) that
         * reconnects before the data threshold must not make a dead stream look healthy */
        bool silent = c->last_data_ms > 0 && now - c->last_data_ms > live_conn_stall_ms(lv, c);
        if (feeds && (c->stalled || c->st.state != WS_OPEN || silent))
            return false;
    }
    market_sym *ms = market_find(lv->m, s->venue, s->name);
    return ms && book_is_live(ms->book);
}

static void live_health_tick(loop *l, uint64_t id, void *ud)
{
    (void)id;
    klive *lv = ud;
    lv->health_timer = loop_timer_add(l, LIVE_HEALTH_TICK_MS, live_health_tick, lv);
    int64_t now = loop_mono_ms();
    for (int i = 0; i < lv->nconns; i++)
        live_health_conn(lv, &lv->conns[i], now);
    for (int i = 0; i < lv->npairs; i++) {
        live_sym *p = &lv->syms[lv->pair_p[i]], *b = &lv->syms[lv->pair_b[i]];
        enum failover_event ev = failover_update(lv->fo, (uint32_t)i, now, live_sym_ok(lv, p),
                                                 live_sym_ok(lv, b));
        if (ev == FAILOVER_EV_NONE)
            continue;
        char t[160];
        if (ev == FAILOVER_EV_TO_BACKUP)
            snprintf(t, sizeof t, "failover: %s:%s unhealthy for %.1f s, showing %s:%s",
                     venue_name(p->venue), p->name,
                     (double)(now - failover_get(lv->fo, (uint32_t)i)->bad_since_ms) / 1000.0,
                     venue_name(b->venue), b->name);
        else
            snprintf(t, sizeof t, "failback: %s:%s healthy again, showing it instead of %s:%s",
                     venue_name(p->venue), p->name, venue_name(b->venue), b->name);
        if (lv->log)
            log_warn(lv->log, "live %s", t);
        live_emit(lv, ev == FAILOVER_EV_TO_BACKUP ? LIVE_EV_FAILOVER : LIVE_EV_FAILBACK, p->name,
                  NAN, 0, t);
    }
}

/* Cadences, ceilings and labels of the connections, the failover pairs, the health timer. */
/* A connection's expected cadence, stall ceiling and label (at start and when added later). */
static void live_conn_health_init(live_conn *c)
{
    /* depth@100ms and OKX books push every 100 ms while the book moves; a trade stream
     * has no schedule: 1 s is a busy symbol's. Ceilings: Binance's own 10 s transport
     * stall for book streams; OKX's idle book heartbeat (~60 s) x 1.5; trades 60 s. */
    c->cadence_ms = c->books ? 100 : 1000;
    c->ceiling_ms = !c->books ? 60000 : c->venue == VENUE_OKX ? 90000 : 10000;
    c->last_replace_ms = c->max_replace_ms = -1;
    snprintf(c->label, sizeof c->label, "%s %s", venue_name(c->venue),
             c->channel && !strcmp(c->channel, "candles") ? "candles"
             : c->venue == VENUE_BINANCE_USDM ? (c->books ? "public" : "market")
                                              : (c->books ? "books" : "trades"));
}

static void live_health_setup(klive *lv, const kconfig *cfg)
{
    lv->stall_factor = cfg->health_stall_factor > 0 ? cfg->health_stall_factor : 50;
    lv->alert_interval_ms = (int64_t)(cfg->health_alert_interval_s * 1000.0);
    failover_opts fo = {
        .after_ms = (int64_t)((cfg->health_failover_after_s > 0 ? cfg->health_failover_after_s
                                                                : 5) * 1000.0),
        .back_after_ms = (int64_t)((cfg->health_failback_after_s > 0
                                        ? cfg->health_failback_after_s : 15) * 1000.0)};
    lv->fo = failover_new(&fo);
    for (int i = 0; i < lv->npairs; i++)
        (void)failover_add(lv->fo);
    for (int i = 0; i < lv->nconns; i++)
        live_conn_health_init(&lv->conns[i]);
    lv->health_timer = loop_timer_add(lv->l, LIVE_HEALTH_TICK_MS, live_health_tick, lv);
}

size_t live_failover_count(const klive *lv)
{
    return lv ? (size_t)lv->npairs : 0;
}

int live_failover_get(klive *lv, size_t i, live_failover_info *out)
{
    const failover_pair *fp = lv ? failover_get(lv->fo, (uint32_t)i) : NULL;
    if (!fp || i >= (size_t)lv->npairs)
        return K_ERR;
    const live_sym *p = &lv->syms[lv->pair_p[i]], *b = &lv->syms[lv->pair_b[i]];
    int64_t now = loop_mono_ms();
    *out = (live_failover_info){
        .venue = p->venue, .backup_venue = b->venue, .symbol = p->name, .backup_symbol = b->name,
        .active = fp->on_backup ? "backup" : "primary", .primary_ok = fp->primary_ok,
        .backup_ok = fp->backup_ok, .unhealthy_ms = fp->bad_since_ms ? now - fp->bad_since_ms : 0,
        .switched_age_ms = fp->switched_ms ? now - fp->switched_ms : -1,
        .failovers = fp->failovers, .failbacks = fp->failbacks};
    return K_OK;
}

market_sym *live_view_sym(klive *lv, market_sym *ms)
{
    if (!lv || !ms || lv->npairs == 0)
        return ms;
    for (int i = 0; i < lv->npairs; i++) {
        const live_sym *p = &lv->syms[lv->pair_p[i]];
        if (p->venue != ms->venue || strcmp(p->name, ms->name) != 0)
            continue;
        const failover_pair *fp = failover_get(lv->fo, (uint32_t)i);
        if (!fp || !fp->on_backup)
            return ms;
        const live_sym *b = &lv->syms[lv->pair_b[i]];
        market_sym *bs = market_find(lv->m, b->venue, b->name);
        return bs ? bs : ms;
    }
    return ms;
}

bool live_entry_allowed(klive *lv, enum venue v, const char *symbol, char *why, size_t cap)
{
    if (!lv)
        return true;
    for (int i = 0; i < lv->nsyms; i++) {
        const live_sym *s = &lv->syms[i];
        if (s->venue != v || strcmp(s->name, symbol) != 0)
            continue;
        if (s->backup_only) {
            snprintf(why, cap, "%s:%s is a backup feed (data only, never traded)", venue_name(v),
                     symbol);
            return false;
        }
        const failover_pair *fp = s->pair >= 0 ? failover_get(lv->fo, (uint32_t)s->pair) : NULL;
        if (fp && fp->on_backup) {
            const live_sym *b = &lv->syms[lv->pair_b[s->pair]];
            snprintf(why, cap, "failover: %s:%s is shown from %s:%s; no new entry on another "
                     "venue's prices", venue_name(v), symbol, venue_name(b->venue), b->name);
            return false;
        }
        return true;
    }
    return true;
}

bool live_venue_used(const klive *lv, enum venue v)
{
    for (int i = 0; lv && i < lv->nsyms; i++)
        if (lv->syms[i].venue == v)
            return true;
    return false;
}

void live_rest_get(klive *lv, enum venue v, live_rest_info *out)
{
    memset(out, 0, sizeof *out);
    if (!lv || !lv->http)
        return;
    http_venue_state vs;
    http_venue_state_get(lv->http, v, &vs);
    int64_t left = vs.paused_until_ms - loop_mono_ms();
    out->paused_ms = vs.paused_until_ms > 0 && left > 0 ? left : 0;
    out->status_429 = vs.status_429;
    out->status_418 = vs.status_418;
    out->requests = vs.requests;
}

static void live_banner_add(live_banner_item *out, size_t max, size_t *n, bool error,
                            const char *fmt, const char *a, const char *b, const char *c,
                            const char *d)
{
    if (*n >= max)
        return;
    if (strncmp(fmt, "RESYNC", 6) != 0) {
        out[*n].venue = VENUE_COUNT;
        out[*n].symbol = "";
    }
    out[*n].error = error;
    snprintf(out[*n].text, sizeof out[*n].text, fmt, a, b, c, d);
    (*n)++;
}

size_t live_banner(klive *lv, live_banner_item *out, size_t max)
{
    size_t n = 0;
    if (!lv)
        return 0;
    for (int i = 0; i < lv->npairs; i++) {
        const failover_pair *fp = failover_get(lv->fo, (uint32_t)i);
        const live_sym *p = &lv->syms[lv->pair_p[i]], *b = &lv->syms[lv->pair_b[i]];
        if (fp && fp->on_backup)
            live_banner_add(out, max, &n, false, "FAILOVER %s:%s -> %s:%s", venue_name(p->venue),
                            p->name, venue_name(b->venue), b->name);
    }
    for (int i = 0; i < lv->nconns; i++) {
        live_conn *c = &lv->conns[i];
        if (c->stalled)
            live_banner_add(out, max, &n, true, "STALLED %s%s%s%s", c->label, "", "", "");
        else if (c->st.state != WS_OPEN && (c->opens > 0 || c->st.failures > 0))
            live_banner_add(out, max, &n, true, "DOWN %s%s%s%s", c->label, "", "", "");
    }
    for (int v = 0; v < VENUE_COUNT; v++) {
        if (!live_venue_used(lv, (enum venue)v))
            continue;
        live_rest_info ri;
        live_rest_get(lv, (enum venue)v, &ri);
        if (ri.paused_ms > 0) {
            char left[24];
            snprintf(left, sizeof left, "%llds", (long long)((ri.paused_ms + 999) / 1000));
            live_banner_add(out, max, &n, true, "REST PAUSED %s %s%s%s",
                            venue_name((enum venue)v), left, "", "");
        }
    }
    for (int i = 0; i < lv->nsyms; i++) {
        const live_sym *s = &lv->syms[i];
        if (!s->ever_live || s->was_live)
            continue;
        market_sym *ms = market_find(lv->m, s->venue, s->name);
        if (ms && !book_is_live(ms->book) && n < max) {
            out[n].venue = s->venue;
            out[n].symbol = s->name;
            live_banner_add(out, max, &n, false, "RESYNC %s:%s%s%s", venue_name(s->venue),
                            s->name, "", "");
        }
    }
    return n;
}

/* ---- open / close --------------------------------------------------------------------------- */

/* A connection of venue v with room for one more symbol of `streams` streams: Binance
 * LIVE_STREAMS_PER_CONN streams (those past the URL's room go in SUBSCRIBE messages); OKX
 * (subscribe messages of its own) LIVE_STREAMS_PER_CONN / 4 symbols. */
static live_conn *live_conn_for(klive *lv, enum venue v, bool books, int streams)
{
    for (int i = lv->conn_floor; i < lv->nconns; i++) {
        live_conn *c = &lv->conns[i];
        if (c->venue == v && c->books == books && c->nsyms < CONFIG_MAX_WATCH &&
            (v == VENUE_OKX ? c->nsyms < LIVE_STREAMS_PER_CONN / 4
                            : c->nstreams + streams <= LIVE_STREAMS_PER_CONN))
            return c;
    }
    if (lv->nconns >= LIVE_MAX_CONNS)
        return NULL;
    live_conn *c = &lv->conns[lv->nconns++];
    free(c->extra); /* a slot given back by a failed live_symbol_add */
    memset(c, 0, sizeof *c);
    c->venue = v;
    c->books = books;
    c->lv = lv;
    return c;
}

/* Adds stream s to c: in its URL ('/' between streams) while the URL has room (WS_URL_MAX, and
 * the parsed path's room beside the host), else to the SUBSCRIBE list sent after each open.
 * K_ERR when the name is too long. */
static int live_url_add(live_conn *c, const char *s)
{
    size_t n = strlen(c->url), len = strlen(s);
    if (len >= LIVE_STREAM_NAME_MAX)
        return K_ERR;
    c->nstreams++;
    bool first = c->url[n - 1] == '=';
    if (n + len + 2 + 96 < sizeof(((ws_url *)0)->path) && n + len + 2 < sizeof c->url) {
        snprintf(c->url + n, sizeof c->url - n, "%s%s", first ? "" : "/", s);
        return K_OK;
    }
    if (c->nextra == c->extra_cap) {
        c->extra_cap = c->extra_cap ? c->extra_cap * 2 : 64;
        c->extra = xrealloc(c->extra, (size_t)c->extra_cap * sizeof *c->extra);
    }
    memcpy(c->extra[c->nextra++], s, len + 1);
    return K_OK;
}

/* One SUBSCRIBE message of the next LIVE_SUB_BATCH streams to c->sub_conn, then the next one
 * LIVE_SUB_GAP_MS later (the client-message rate limit: exchanges.md 4.1 / 4.3). */
static void live_sub_pump(live_conn *c);

static void live_sub_timer(loop *l, uint64_t id, void *ud)
{
    (void)l;
    (void)id;
    live_conn *c = ud;
    c->sub_timer = 0;
    live_sub_pump(c);
}

static void live_sub_pump(live_conn *c)
{
    klive *lv = c->lv;
    if (!c->sub_conn || c->sub_pos >= c->nextra)
        return;
    char msg[LIVE_SUB_BATCH * (LIVE_STREAM_NAME_MAX + 3) + 96];
    size_t n = (size_t)snprintf(msg, sizeof msg, "{\"method\":\"SUBSCRIBE\",\"params\":[");
    int k = 0;
    for (; k < LIVE_SUB_BATCH && c->sub_pos + k < c->nextra; k++)
        n += (size_t)snprintf(msg + n, sizeof msg - n, "%s\"%s\"", k ? "," : "",
                              c->extra[c->sub_pos + k]);
    n += (size_t)snprintf(msg + n, sizeof msg - n, "],\"id\":%llu}",
                          (unsigned long long)++c->sub_next_id);
    enum ws_result r = ws_send(lv->net, c->sub_conn, msg, n);
    if (r == WS_OK) {
        c->sub_pos += k;
        c->sub_msgs++;
    } else if (r != WS_ERR_QUEUE_FULL) { /* closed: the next open subscribes again */
        c->sub_conn = 0;
        return;
    }
    if (c->sub_pos < c->nextra)
        c->sub_timer = loop_timer_add(lv->l, LIVE_SUB_GAP_MS, live_sub_timer, c);
}

/* A Binance connection (re)opened: its streams past the URL subscribed again from the first. */
static void live_sub_start(klive *lv, live_conn *c, uint32_t id)
{
    if (c->nextra == 0)
        return;
    if (c->sub_timer)
        loop_timer_cancel(lv->l, c->sub_timer);
    c->sub_timer = 0;
    c->sub_conn = id;
    c->sub_pos = 0;
    live_sub_pump(c);
}

/* The exchange klines of every timeframe the market keeps but 1s (1m 5m 15m 1h 4h 1d:
 * docs/LIVE.md "Klines of every timeframe"): <s>@kline_<tf> on c. */
static int live_url_klines(live_conn *c, enum venue v, const char *lower)
{
    char st[96];
    for (int tf = TF_1M; tf < TF_COUNT; tf++) {
        snprintf(st, sizeof st, "%s@kline_%s", lower, klfetch_interval(v, (enum tf)tf));
        if (live_url_add(c, st) != K_OK)
            return K_ERR;
    }
    return K_OK;
}

/* Adds one watched symbol ("venue:SYMBOL") to its connections; its index (an existing one for
 * a duplicate), or -1 with *res and err. */
static int live_add_sym(klive *lv, const char *spec, char (*rest)[CONFIG_URL_MAX],
                        char (*ws)[CONFIG_URL_MAX], char (*wpub)[CONFIG_URL_MAX],
                        char (*wmkt)[CONFIG_URL_MAX], bool *used, enum live_result *res,
                        char *err, size_t errlen)
{
    if (lv->nsyms >= CONFIG_MAX_WATCH) {
        snprintf(err, errlen, "live: at most %d watched symbols (backups included)",
                 CONFIG_MAX_WATCH);
        *res = LIVE_ERR_WATCH;
        return -1;
    }
    live_sym *s = &lv->syms[lv->nsyms];
    memset(s, 0, sizeof *s);
    s->lv = lv;
    if (live_parse_watch(spec, &s->venue, s->name, sizeof s->name, err, errlen) != K_OK) {
        *res = LIVE_ERR_WATCH;
        return -1;
    }
    for (int j = 0; j < lv->nsyms; j++)
        if (lv->syms[j].venue == s->venue && strcmp(lv->syms[j].name, s->name) == 0)
            return j;
    s->pair = -1;
    enum venue v = s->venue;
    used[v] = true;
    if (!lv->clk[v].used) { /* the venue's server time, for its clock offset */
        static const char *const tpath[VENUE_COUNT] = {"/api/v3/time", "/fapi/v1/time",
                                                       "/api/v5/public/time"};
        lv->clk[v].used = true;
        snprintf(lv->clk[v].url, sizeof lv->clk[v].url, "%s%s", rest[v], tpath[v]);
    }
    char name[KSYM_MAX];
    memcpy(name, s->name, sizeof name);
    int rn;
    if (v == VENUE_BINANCE_SPOT)
        rn = snprintf(s->rest_url, sizeof s->rest_url,
                      "%s/api/v3/depth?symbol=%s&limit=5000", rest[v], name);
    else if (v == VENUE_BINANCE_USDM)
        rn = snprintf(s->rest_url, sizeof s->rest_url,
                      "%s/fapi/v1/depth?symbol=%s&limit=1000", rest[v], name);
    else
        rn = snprintf(s->rest_url, sizeof s->rest_url,
                      "%s/api/v5/market/books?instId=%s&sz=400", rest[v], name);
    if (rn >= 0 && (size_t)rn < sizeof s->rest_url) /* the audit: top 100 (spot weight 5) */
        rn = snprintf(s->audit_url, sizeof s->audit_url,
                      v == VENUE_BINANCE_SPOT   ? "%s/api/v3/depth?symbol=%s&limit=100"
                      : v == VENUE_BINANCE_USDM ? "%s/fapi/v1/depth?symbol=%s&limit=100"
                                                : "%s/api/v5/market/books?instId=%s&sz=100",
                      rest[v], name);
    if (rn < 0 || (size_t)rn >= sizeof s->rest_url) {
        snprintf(err, errlen, "live: the REST URL of %s is too long", venue_name(v));
        *res = LIVE_ERR_URL;
        return -1;
    }
    char lower[KSYM_MAX], st[96];
    for (size_t k = 0; k <= strlen(s->name); k++)
        lower[k] = (char)tolower((unsigned char)s->name[k]);
    live_conn *bc = live_conn_for(lv, v, true, v == VENUE_BINANCE_SPOT ? 4 + LIVE_KLINE_TFS : 2);
    if (!bc) {
        snprintf(err, errlen, "live: too many connections (at most %d)", LIVE_MAX_CONNS);
        *res = LIVE_ERR_WATCH;
        return -1;
    }
    int ok = K_OK;
    if (v == VENUE_BINANCE_SPOT) {
        if (!bc->url[0])
            snprintf(bc->url, sizeof bc->url, "%s/stream?streams=", ws[v]);
        static const char *const kinds[] = {"depth@100ms", "trade", "bookTicker", "ticker"};
        for (size_t k = 0; k < K_ARRAY_LEN(kinds) && ok == K_OK; k++) {
            snprintf(st, sizeof st, "%s@%s", lower, kinds[k]);
            ok = live_url_add(bc, st);
        }
        ok = ok == K_OK ? live_url_klines(bc, v, lower) : ok;
    } else if (v == VENUE_BINANCE_USDM) {
        /* after the 2026-04-23 split: book data on /public, the rest on /market */
        if (!bc->url[0])
            snprintf(bc->url, sizeof bc->url, "%s/public/stream?streams=", wpub[v]);
        snprintf(st, sizeof st, "%s@depth@100ms", lower);
        ok = live_url_add(bc, st);
        snprintf(st, sizeof st, "%s@bookTicker", lower);
        ok = ok == K_OK ? live_url_add(bc, st) : ok;
        live_conn *mc = live_conn_for(lv, v, false, 3 + LIVE_KLINE_TFS);
        if (!mc) {
            snprintf(err, errlen, "live: too many connections (at most %d)", LIVE_MAX_CONNS);
            *res = LIVE_ERR_WATCH;
            return -1;
        }
        if (!mc->url[0])
            snprintf(mc->url, sizeof mc->url, "%s/market/stream?streams=", wmkt[v]);
        /* trades, klines, the 24 h ticker and the mark price live on /market */
        static const char *const mkinds[] = {"trade", "ticker", "markPrice@1s"};
        for (size_t k = 0; k < K_ARRAY_LEN(mkinds) && ok == K_OK; k++) {
            snprintf(st, sizeof st, "%s@%s", lower, mkinds[k]);
            ok = live_url_add(mc, st);
        }
        ok = ok == K_OK ? live_url_klines(mc, v, lower) : ok;
        mc->trades = true;
        mc->channel = "market";
        mc->syms[mc->nsyms++] = lv->nsyms;
    } else {
        if (!bc->url[0])
            snprintf(bc->url, sizeof bc->url, "%s/ws/v5/public", ws[v]);
        live_conn *kc = live_conn_for(lv, v, false, 1); /* candles: business endpoint */
        if (!kc) {
            snprintf(err, errlen, "live: too many connections (at most %d)", LIVE_MAX_CONNS);
            *res = LIVE_ERR_WATCH;
            return -1;
        }
        if (!kc->url[0])
            snprintf(kc->url, sizeof kc->url, "%s/ws/v5/business", ws[v]);
        kc->channel = "candles";
        kc->syms[kc->nsyms++] = lv->nsyms;
    }
    if (v != VENUE_BINANCE_USDM)
        bc->trades = true;
    bc->channel = "books";
    snprintf(lv->rest_base[v], sizeof lv->rest_base[v], "%s", rest[v]);
    if (ok != K_OK) {
        snprintf(err, errlen, "live: the stream URL of %s is too long", venue_name(v));
        *res = LIVE_ERR_WATCH;
        return -1;
    }
    s->conn = (int)(bc - lv->conns);
    bc->syms[bc->nsyms++] = lv->nsyms;
    return lv->nsyms++;
}

/* Every venue's REST and websocket bases: the config's overrides over the network's defaults. */
static int live_bases_all(const kconfig *cfg, char (*rest)[CONFIG_URL_MAX],
                          char (*ws)[CONFIG_URL_MAX], char (*wpub)[CONFIG_URL_MAX],
                          char (*wmkt)[CONFIG_URL_MAX], char *err, size_t errlen)
{
    for (int v = 0; v < VENUE_COUNT; v++) {
        const kconfig_venue *vc = &cfg->venues[v];
        live_bases d;
        if (live_default_bases((enum venue)v, vc->network, &d, err, errlen) != K_OK)
            return K_ERR;
        live_base(rest[v], CONFIG_URL_MAX, vc->rest_url, d.rest);
        live_base(ws[v], CONFIG_URL_MAX, vc->ws_url, d.ws);
        /* USD-M: ws_url (when given) is the base of both, the specific keys win */
        live_base(wpub[v], CONFIG_URL_MAX, vc->ws_public_url, vc->ws_url[0] ? ws[v] :
                  d.ws_public ? d.ws_public : ws[v]);
        live_base(wmkt[v], CONFIG_URL_MAX, vc->ws_market_url, vc->ws_url[0] ? ws[v] :
                  d.ws_market ? d.ws_market : ws[v]);
    }
    return K_OK;
}

/* The URLs venue v uses, each checked (TLS unless loopback), named by its config key. */
static enum live_result live_check_venue_urls(enum venue v, char (*rest)[CONFIG_URL_MAX],
                                              char (*ws)[CONFIG_URL_MAX],
                                              char (*wpub)[CONFIG_URL_MAX],
                                              char (*wmkt)[CONFIG_URL_MAX], char *err,
                                              size_t errlen)
{
    char key[96];
    enum live_result r;
    snprintf(key, sizeof key, "venues.%s.rest_url", venue_name(v));
    if ((r = live_check_url(key, rest[v], false, err, errlen)) != LIVE_OK)
        return r;
    if (v == VENUE_BINANCE_USDM) {
        snprintf(key, sizeof key, "venues.%s.ws_public_url", venue_name(v));
        if ((r = live_check_url(key, wpub[v], true, err, errlen)) != LIVE_OK)
            return r;
        snprintf(key, sizeof key, "venues.%s.ws_market_url", venue_name(v));
        return live_check_url(key, wmkt[v], true, err, errlen);
    }
    snprintf(key, sizeof key, "venues.%s.ws_url", venue_name(v));
    return live_check_url(key, ws[v], true, err, errlen);
}

static enum live_result live_build(klive *lv, const kconfig *cfg, char *err, size_t errlen)
{
    char rest[VENUE_COUNT][CONFIG_URL_MAX], ws[VENUE_COUNT][CONFIG_URL_MAX],
        wpub[VENUE_COUNT][CONFIG_URL_MAX], wmkt[VENUE_COUNT][CONFIG_URL_MAX];
    if (live_bases_all(cfg, rest, ws, wpub, wmkt, err, errlen) != K_OK)
        return LIVE_ERR_URL;
    if (cfg->watch_count == 0) {
        snprintf(err, errlen, "live: the watch list is empty (config watch = [\"venue:SYMBOL\", "
                 "...] or --watch venue:SYMBOL[,...])");
        return LIVE_ERR_WATCH;
    }
    bool used[VENUE_COUNT] = {false};
    for (int i = 0; i < cfg->watch_count; i++) {
        /* "venue:SYMBOL" or "venue:SYMBOL@venue:SYMBOL": a backup venue for failover */
        char spec[CONFIG_WATCH_MAX];
        snprintf(spec, sizeof spec, "%s", cfg->watch[i]);
        char *at = strchr(spec, '@');
        if (at)
            *at = '\0';
        enum live_result res = LIVE_OK;
        int p = live_add_sym(lv, spec, rest, ws, wpub, wmkt, used, &res, err, errlen);
        if (p < 0)
            return res;
        lv->syms[p].backup_only = false;
        if (!at)
            continue;
        int nb = lv->nsyms;
        int b = live_add_sym(lv, at + 1, rest, ws, wpub, wmkt, used, &res, err, errlen);
        if (b < 0)
            return res;
        if (b == p) {
            snprintf(err, errlen, "watch entry '%s': the backup must be another venue or symbol",
                     cfg->watch[i]);
            return LIVE_ERR_WATCH;
        }
        if (b == nb)
            lv->syms[b].backup_only = true; /* new here: a data source, not traded */
        if (lv->syms[p].pair >= 0 || lv->npairs >= FAILOVER_MAX) {
            snprintf(err, errlen, "watch entry '%s': %s already has a backup",
                     cfg->watch[i], spec);
            return LIVE_ERR_WATCH;
        }
        lv->syms[p].pair = lv->npairs;
        lv->pair_p[lv->npairs] = p;
        lv->pair_b[lv->npairs] = b;
        lv->npairs++;
    }
    /* every URL checked before anything connects */
    for (int v = 0; v < VENUE_COUNT; v++) {
        enum live_result r;
        if (used[v] && (r = live_check_venue_urls((enum venue)v, rest, ws, wpub, wmkt, err,
                                                  errlen)) != LIVE_OK)
            return r;
    }
    return LIVE_OK;
}

enum live_result live_check(const kconfig *cfg, char *err, size_t errlen)
{
    klive *lv = xcalloc(1, sizeof *lv);
    enum live_result r = live_build(lv, cfg, err, errlen);
    for (int i = 0; i < LIVE_MAX_CONNS; i++)
        free(lv->conns[i].extra);
    free(lv);
    return r;
}

/* Opens connection c: the venue's transport defaults, the configured lifetime (tests: a few
 * seconds), and a quiet trade stream judged by live_health rather than the transport. */
static int live_conn_start(klive *lv, live_conn *c, char *err, size_t errlen)
{
    ws_opts_default(&c->o, c->venue);
    if (lv->cfg)
        snprintf(c->o.ca_file, sizeof c->o.ca_file, "%s", lv->cfg->venues[c->venue].ca_file);
    double life = lv->cfg ? lv->cfg->venues[c->venue].lifetime_s : 0;
    if (life > 0) {
        c->o.lifetime_ms = (int64_t)(life * 1000.0);
        if (c->o.rotate_grace_ms <= 0)
            c->o.rotate_grace_ms = LIVE_ROTATE_MAX_MS * 2;
    }
    if (lv->lifetime_ms > 0)
        c->o.lifetime_ms = lv->lifetime_ms;
    if (!c->books && c->o.stall_ms > 0 && c->o.stall_ms < c->ceiling_ms)
        c->o.stall_ms = c->ceiling_ms;
    if (lv->stall_ms > 0) /* live_opts.stall_ms: benches */
        c->o.stall_ms = lv->stall_ms;
    if (ws_open(lv->net, c->url, &c->o, &c->id, err, errlen) != WS_OK)
        return K_ERR;
    if (lv->log)
        log_info(lv->log, "live %s: opening %s", venue_name(c->venue), c->url);
    if (lv->warm_standby && c->books) {
        if (ws_open(lv->net, c->url, &c->o, &c->standby, err, errlen) != WS_OK) {
            c->standby = 0;
            return K_ERR;
        }
        c->tw = live_twin_new();
    }
    return K_OK;
}

enum live_result live_open(klive **out, const live_opts *o, char *err, size_t errlen)
{
    *out = NULL;
    klive *lv = xcalloc(1, sizeof *lv);
    lv->l = o->loop;
    lv->ing = o->ingest;
    lv->m = o->market;
    lv->log = o->log;
    lv->cfg = o->cfg;
    lv->backfill = !o->no_backfill;
    enum live_result r = live_build(lv, o->cfg, err, errlen);
    if (r != LIVE_OK) {
        for (int i = 0; i < LIVE_MAX_CONNS; i++)
            free(lv->conns[i].extra);
        free(lv);
        return r;
    }
    lv->on_event = o->on_event;
    lv->on_event_ud = o->on_event_ud;
    live_health_setup(lv, o->cfg);
    /* CA bundles per venue: each connection and each venue's REST trusts its venue's
     * ca_file (the system's when ""); the net thread gives each distinct one its own TLS
     * context */
    lv->lv = xmalloc(LIVE_LV_CAP * sizeof *lv->lv);
    ws_net_opts no = {.ca_file = NULL,
                      .queue_bytes = o->queue_bytes ? o->queue_bytes : LIVE_QUEUE_BYTES};
    enum ws_result wr;
    lv->net = ws_net_new(&no, &wr);
    http_opts ho = {.ca_file = NULL};
    lv->http = lv->net ? http_new(lv->l, &ho) : NULL;
    for (int v = 0; v < VENUE_COUNT && lv->http; v++)
        http_set_venue_ca(lv->http, (enum venue)v, o->cfg->venues[v].ca_file);
    if (!lv->net || !lv->http ||
        loop_watch(lv->l, ws_net_fd(lv->net), LOOP_READ, live_on_net, lv) != K_OK) {
        snprintf(err, errlen, "live: %s", lv->net ? "cannot start the REST client"
                                                  : ws_strerror(wr));
        live_close(lv);
        return LIVE_ERR_INIT;
    }
    lv->lifetime_ms = o->lifetime_ms;
    lv->stall_ms = o->stall_ms;
    lv->warm_standby = o->cfg->health_warm_standby || o->warm_standby;
    for (int i = 0; i < lv->nconns; i++)
        if (live_conn_start(lv, &lv->conns[i], err, errlen) != K_OK) {
            live_close(lv);
            return LIVE_ERR_URL;
        }
    /* exchange klines reconcile with the trade-built bars; history over REST at start */
    market_set_reconcile(lv->m, true);
    lv->instr = o->instr;
    lv->store = o->store;
    live_instruments_start(lv);
    for (int i = 0; i < lv->nsyms && lv->backfill; i++)
        live_bf_queue(lv, i, 0, false);
    live_extras_open(lv, o->cfg); /* recording, book audit, clock offset */
    *out = lv;
    return LIVE_OK;
}

void live_close(klive *lv)
{
    if (!lv)
        return;
    if (lv->net) {
        loop_unwatch(lv->l, ws_net_fd(lv->net));
        ws_net_free(lv->net);
    }
    for (int k = 0; k < LIVE_BF_CONCURRENT; k++) { /* before http_free: no callback after */
        klfetch_free(lv->bf_run[k].f);
        lv->bf_run[k].f = NULL;
    }
    lv->bf_head = lv->bf_n; /* a cancelled one must not start the next */
    for (int k = 0; k < lv->nireq; k++)
        if (lv->ireq[k].timer)
            loop_timer_cancel(lv->l, lv->ireq[k].timer);
    http_free(lv->http); /* first: its cancelled callbacks may arm retry timers */
    if (lv->health_timer)
        loop_timer_cancel(lv->l, lv->health_timer);
    failover_free(lv->fo);
    for (int i = 0; i < lv->nsyms; i++)
        if (lv->syms[i].retry_timer)
            loop_timer_cancel(lv->l, lv->syms[i].retry_timer);
    live_extras_close(lv);
    for (int i = 0; i < LIVE_MAX_CONNS; i++) {
        if (lv->conns[i].sub_timer)
            loop_timer_cancel(lv->l, lv->conns[i].sub_timer);
        free(lv->conns[i].extra);
    }
    for (int i = 0; i < lv->nconns; i++)
        live_twin_free(&lv->conns[i]);
    free(lv->lv);
    free(lv);
}

/* ---- health ---------------------------------------------------------------------------------- */

size_t live_conn_count(const klive *lv)
{
    return lv ? (size_t)lv->nconns : 0;
}

int live_conn_get(klive *lv, size_t i, live_conn_info *out)
{
    if (!lv || i >= (size_t)lv->nconns)
        return K_ERR;
    live_conn *c = &lv->conns[i];
    memset(out, 0, sizeof *out);
    if (ws_get_stats(lv->net, c->id, &c->st) != WS_OK)
        memset(&c->st, 0, sizeof c->st);
    out->venue = c->venue;
    out->channel = c->channel ? c->channel : c->books ? "books" : "trades";
    out->url = c->url;
    out->label = c->label;
    out->state = c->stalled ? "stalled" : ws_state_name(c->st.state);
    out->last_msg_age_ms = c->st.last_msg_ms ? loop_mono_ms() - c->st.last_msg_ms : -1;
    out->msgs = c->st.msgs;
    out->msgs_per_s = c->st.msgs_per_s;
    out->reconnects = c->opens > 0 ? c->opens - 1 : 0;
    out->stalls = c->st.stalls + c->data_stalls;
    out->data_stalls = c->data_stalls;
    out->cadence_ms = c->cadence_ms;
    out->stall_after_ms = live_conn_stall_ms(lv, c);
    out->last_replace_ms = c->last_replace_ms;
    out->max_replace_ms = c->max_replace_ms;
    out->rotations = c->rotations;
    out->failures = c->st.failures;
    out->oversize = c->st.oversize;
    out->queue_drops = c->st.queue_drops;
    out->rx_pauses = c->st.rx_pauses;
    out->latency_ms = c->has_latency ? c->latency_ms : -1;
    out->last_error = c->st.last_error;
    out->sub_acks = c->sub_acks;
    out->streams = (uint32_t)c->nstreams;
    out->streams_subscribed = (uint32_t)c->nextra;
    out->sub_msgs = c->sub_msgs;
    out->sub_errors = c->sub_errors;
    out->sub_error = c->sub_error;
    live_twin_info(lv, c, out);
    out->clock_known = lv->clk[c->venue].known;
    out->clock_offset_ms = lv->clk[c->venue].offset_ms;
    for (int k = 0; k < c->nsyms && c->books; k++) {
        live_sym *s = &lv->syms[c->syms[k]];
        out->books++;
        out->gaps += s->gaps;
        out->resyncs += s->resyncs;
        out->snapshots += s->snapshots;
        out->snapshots_old += s->snapshots_old;
        out->audits += s->audits;
        out->audit_mismatches += s->audit_mismatches;
        market_sym *ms = market_find(lv->m, s->venue, s->name);
        out->books_live += ms && book_is_live(ms->book);
    }
    return K_OK;
}

size_t live_book_count(const klive *lv)
{
    return lv ? (size_t)lv->nsyms : 0;
}

int live_book_get(klive *lv, size_t i, live_book_info *out)
{
    if (!lv || i >= (size_t)lv->nsyms)
        return K_ERR;
    live_sym *s = &lv->syms[i];
    if (!s->name[0])
        return K_ERR; /* removed at run time (live_symbol_remove): no book any more */
    market_sym *ms = market_find(lv->m, s->venue, s->name);
    out->venue = s->venue;
    out->symbol = s->name;
    out->state = book_state_name(ms ? book_state(ms->book) : BOOK_EMPTY);
    out->gaps = s->gaps;
    out->resyncs = s->resyncs;
    out->snapshots = s->snapshots;
    out->fetching = s->fetching;
    out->audits = s->audits;
    out->audit_mismatches = s->audit_mismatches;
    out->audit_failures = s->audit_failures;
    out->auditing = s->audit_state != LIVE_AUDIT_IDLE;
    return K_OK;
}

bool live_all_books_live(klive *lv)
{
    if (!lv)
        return false;
    for (int i = 0; i < lv->nsyms; i++) {
        market_sym *ms = market_find(lv->m, lv->syms[i].venue, lv->syms[i].name);
        if (!ms || !book_is_live(ms->book))
            return false;
    }
    return true;
}

/* ---- symbols added / removed at run time (the watchlist's `a` / `d`) ----------------------- */

enum live_result live_symbol_add(klive *lv, enum venue v, const char *name, char *err,
                                 size_t errlen)
{
    if (!lv || !lv->cfg || (unsigned)v >= VENUE_COUNT || !name || !name[0] ||
        strlen(name) >= KSYM_MAX) {
        snprintf(err, errlen, "live: cannot add that symbol");
        return LIVE_ERR_WATCH;
    }
    for (int i = 0; i < lv->nsyms; i++)
        if (lv->syms[i].venue == v && !strcmp(lv->syms[i].name, name)) {
            snprintf(err, errlen, "%s:%s is already subscribed", venue_name(v), name);
            return LIVE_ERR_WATCH;
        }
    char rest[VENUE_COUNT][CONFIG_URL_MAX], ws[VENUE_COUNT][CONFIG_URL_MAX],
        wpub[VENUE_COUNT][CONFIG_URL_MAX], wmkt[VENUE_COUNT][CONFIG_URL_MAX];
    if (live_bases_all(lv->cfg, rest, ws, wpub, wmkt, err, errlen) != K_OK)
        return LIVE_ERR_URL;
    enum live_result r = live_check_venue_urls(v, rest, ws, wpub, wmkt, err, errlen);
    if (r != LIVE_OK)
        return r;
    /* the same recipe as the watch list's, on connections of its own: no running connection
     * changes its subscription, so no other book resyncs */
    int nconns0 = lv->nconns, nsyms0 = lv->nsyms;
    bool used[VENUE_COUNT] = {false};
    char spec[KSYM_MAX + 24];
    snprintf(spec, sizeof spec, "%s:%s", venue_name(v), name);
    lv->conn_floor = nconns0;
    int si = live_add_sym(lv, spec, rest, ws, wpub, wmkt, used, &r, err, errlen);
    lv->conn_floor = 0;
    if (si < 0) {
        lv->nconns = nconns0;
        lv->nsyms = nsyms0;
        return r;
    }
    for (int i = nconns0; i < lv->nconns; i++) {
        live_conn *c = &lv->conns[i];
        live_conn_health_init(c);
        if (live_conn_start(lv, c, err, errlen) != K_OK) {
            for (int k = nconns0; k < i; k++)
                if (ws_close(lv->net, lv->conns[k].id) != WS_OK && lv->log)
                    log_warn(lv->log, "live: closing %s failed", lv->conns[k].url);
            lv->nconns = nconns0;
            lv->nsyms = nsyms0;
            return LIVE_ERR_URL;
        }
    }
    if (lv->backfill)
        live_bf_queue(lv, si, 0, false);
    lv->syms[si].audit_next_ms = loop_mono_ms() + lv->audit_every_ms[v];
    lv->syms[si].rec_want = lv->rec != NULL; /* a recording running: its snapshot line too */
    if (lv->log)
        log_info(lv->log, "live: %s:%s added at run time", venue_name(v), name);
    return LIVE_OK;
}

enum live_result live_symbol_remove(klive *lv, enum venue v, const char *name)
{
    int si = -1;
    for (int i = 0; lv && i < lv->nsyms && si < 0; i++)
        if (lv->syms[i].venue == v && !strcmp(lv->syms[i].name, name))
            si = i;
    if (si < 0)
        return LIVE_ERR_WATCH;
    int found = 0, alone = 0;
    for (int i = 0; i < lv->nconns; i++) {
        live_conn *c = &lv->conns[i];
        for (int k = 0; k < c->nsyms; k++)
            if (c->syms[k] == si) {
                found++;
                alone += c->nsyms == 1;
            }
    }
    if (found == 0 || alone != found)
        return LIVE_ERR_WATCH; /* on a shared connection of the watch list */
    for (int i = 0; i < lv->nconns; i++) {
        live_conn *c = &lv->conns[i];
        if (c->nsyms != 1 || c->syms[0] != si)
            continue;
        if ((c->next && ws_close(lv->net, c->next) != WS_OK) ||
            (c->standby && ws_close(lv->net, c->standby) != WS_OK) ||
            ws_close(lv->net, c->id) != WS_OK) {
            if (lv->log)
                log_warn(lv->log, "live: closing %s failed", c->url);
        }
        c->id = c->next = c->standby = 0; /* its last items are dropped (no id is 0) */
        c->nsyms = 0;
        c->sub_conn = 0;
        if (c->sub_timer)
            loop_timer_cancel(lv->l, c->sub_timer);
        c->sub_timer = 0;
    }
    live_sym *s = &lv->syms[si];
    if (s->retry_timer) {
        loop_timer_cancel(lv->l, s->retry_timer);
        s->retry_timer = 0;
    }
    if (lv->log)
        log_info(lv->log, "live: %s:%s removed (its connections closed)", venue_name(v), name);
    s->name[0] = '\0'; /* matches no market symbol: a later add subscribes it afresh */
    s->ms = NULL;
    return LIVE_OK;
}

/* ---- recording (record.h) -------------------------------------------------------------------
 * Every frame of an active connection is queued to the recorder before the pipeline applies it,
 * every REST snapshot the sync applies likewise (tagged with its symbol). A recording that
 * starts mid-session also needs, per book, a snapshot its recorded diffs continue: once a book
 * is live after the start, its exact state (every level it holds and its update id) is written
 * as a snapshot line in the venue's REST format. Its replay then syncs as a live client does:
 * the diffs recorded before that line are buffered and dropped as older than it (they are in
 * it), the next ones apply. No REST request is spent on it. */

static void live_rec_snapshot(klive *lv, live_sym *s, const char *body, size_t len,
                              int64_t recv_ns)
{
    if (lv->rec && body && len)
        (void)record_line(lv->rec, recv_ns, s->venue, s->name, body, len);
}

/* Appends one side of b as JSON levels ([["p","q"],...], OKX [["p","q","0","1"],...]). */
static size_t live_rec_side(char *out, size_t cap, size_t n, const book *b, enum book_side side,
                            bool okx)
{
    n += (size_t)snprintf(out + n, cap - n, "[");
    uint32_t depth = book_depth(b, side);
    for (uint32_t i = 0; i < depth && n + 96 < cap; i++) {
        kdec px, qty;
        if (book_level(b, side, i, &px, &qty) != K_OK)
            break;
        char ps[40], qs[40];
        decimal_format(px, decimal_places(px), ps, sizeof ps);
        decimal_format(qty, decimal_places(qty), qs, sizeof qs);
        n += (size_t)snprintf(out + n, cap - n, "%s[\"%s\",\"%s\"%s]", i ? "," : "", ps, qs,
                              okx ? ",\"0\",\"1\"" : "");
    }
    n += (size_t)snprintf(out + n, cap - n, "]");
    return n;
}

static void live_rec_maybe(live_sym *s)
{
    klive *lv = s->lv;
    if (!lv->rec || !s->rec_want)
        return;
    market_sym *ms = market_find(lv->m, s->venue, s->name);
    if (!ms || !book_is_live(ms->book))
        return;
    size_t cap = 64 + (size_t)(book_depth(ms->book, BOOK_BID) + book_depth(ms->book, BOOK_ASK)) *
                          100;
    if (cap > lv->rec_cap) {
        free(lv->rec_buf);
        lv->rec_cap = cap;
        lv->rec_buf = xmalloc(cap);
    }
    char *o = lv->rec_buf;
    bool okx = s->venue == VENUE_OKX;
    long long id = (long long)book_last_id(ms->book);
    /* stamped with the venue's data clock (E, OKX ts): replayed, the line must not move the
     * clock, which the live pipeline never saw it do */
    long long clk = (long long)ingest_venue_clock_ms(lv->ing, s->venue);
    size_t n;
    if (okx)
        n = (size_t)snprintf(o, cap, "{\"code\":\"0\",\"msg\":\"\",\"data\":[{\"asks\":");
    else if (clk > 0)
        n = (size_t)snprintf(o, cap, "{\"lastUpdateId\":%lld,\"E\":%lld,\"bids\":", id, clk);
    else
        n = (size_t)snprintf(o, cap, "{\"lastUpdateId\":%lld,\"bids\":", id);
    n = live_rec_side(o, cap, n, ms->book, okx ? BOOK_ASK : BOOK_BID, okx);
    n += (size_t)snprintf(o + n, cap - n, okx ? ",\"bids\":" : ",\"asks\":");
    n = live_rec_side(o, cap, n, ms->book, okx ? BOOK_BID : BOOK_ASK, okx);
    if (okx)
        n += (size_t)snprintf(o + n, cap - n, ",\"ts\":\"%lld\",\"seqId\":%lld}]}", clk, id);
    else
        n += (size_t)snprintf(o + n, cap - n, "}");
    if (n < cap) {
        live_rec_snapshot(lv, s, o, n, loop_wall_ms() * 1000000);
        s->rec_want = false;
    }
}

enum live_result live_record_start(klive *lv, const char *path, char *err, size_t errlen)
{
    if (lv->rec) {
        snprintf(err, errlen, "already recording to %s", record_path(lv->rec));
        return LIVE_ERR_RECORD;
    }
    if (record_open(&lv->rec, path, 0, err, errlen) != RECORD_OK)
        return LIVE_ERR_RECORD;
    for (int i = 0; i < lv->nsyms; i++) {
        lv->syms[i].rec_want = true;
        live_rec_maybe(&lv->syms[i]);
    }
    if (lv->log)
        log_info(lv->log, "live: recording to %s", path);
    return LIVE_OK;
}

bool live_record_stop(klive *lv, live_record_info *out)
{
    if (!lv || !lv->rec)
        return false;
    snprintf(lv->rec_last_path, sizeof lv->rec_last_path, "%s", record_path(lv->rec));
    record_close(lv->rec, &lv->rec_last);
    lv->rec = NULL;
    lv->rec_had = true;
    for (int i = 0; i < lv->nsyms; i++)
        lv->syms[i].rec_want = false;
    if (lv->log)
        log_info(lv->log, "live: recording %s closed: %llu lines, %llu dropped",
                 lv->rec_last_path, (unsigned long long)lv->rec_last.lines,
                 (unsigned long long)lv->rec_last.dropped);
    if (out)
        live_record_get(lv, out);
    return true;
}

void live_record_get(klive *lv, live_record_info *out)
{
    memset(out, 0, sizeof *out);
    if (!lv)
        return;
    record_stats st;
    if (lv->rec) {
        record_get_stats(lv->rec, &st);
        out->active = true;
        snprintf(out->path, sizeof out->path, "%s", record_path(lv->rec));
    } else if (lv->rec_had) {
        st = lv->rec_last;
        snprintf(out->path, sizeof out->path, "%s", lv->rec_last_path);
    } else {
        return;
    }
    out->lines = st.lines;
    out->bytes = st.bytes;
    out->dropped = st.dropped;
    out->snapshots = st.snapshots;
    out->written = st.written;
    out->started_ms = st.started_ms;
    out->write_error = st.write_error;
    snprintf(out->error, sizeof out->error, "%s", st.error);
    for (int i = 0; i < lv->nsyms && out->active; i++)
        out->books_pending += lv->syms[i].rec_want;
}

/* ---- book audit --------------------------------------------------------------------------
 * Every audit_interval (venues.<venue>.audit_interval, default 600 s; the books of a venue
 * staggered 2 s apart) a live book gets a fresh REST snapshot of its top 100 (Binance weight 5:
 * far inside the limit). The snapshot syncs a private book of the same rules, exactly like the
 * live one (the diffs that arrive meanwhile are buffered and replayed); once both books hold
 * the same update id their top LIVE_AUDIT_LEVELS levels per side must be equal. A difference
 * is counted (audit_mismatches), logged, and the live book resyncs from a full snapshot. No
 * answer, a refused snapshot or no common id within 30 s counts as audit_failures. */

static enum book_rules live_rules(enum venue v)
{
    return v == VENUE_OKX ? BOOK_RULES_OKX
           : v == VENUE_BINANCE_USDM ? BOOK_RULES_BINANCE_USDM
                                     : BOOK_RULES_BINANCE_SPOT;
}

static void live_audit_drop(live_sym *s)
{
    if (s->audit_state == LIVE_AUDIT_COMPARING)
        s->audit_state = LIVE_AUDIT_IDLE; /* a fetch in flight finds it dropped */
    if (s->audit)
        book_invalidate(s->audit);
}

static void live_audit_fail(live_sym *s, const char *why)
{
    klive *lv = s->lv;
    s->audit_failures++;
    s->audit_state = LIVE_AUDIT_IDLE;
    if (s->audit)
        book_invalidate(s->audit);
    if (lv->log)
        log_info(lv->log, "live %s %s: book audit not done: %s", venue_name(s->venue), s->name,
                 why);
}

/* Both books at the same id: compare. True when the audit is over. */
static bool live_audit_compare(live_sym *s)
{
    klive *lv = s->lv;
    market_sym *ms = market_find(lv->m, s->venue, s->name);
    if (!ms || !book_is_live(ms->book) || !book_is_live(s->audit) ||
        book_last_id(ms->book) != book_last_id(s->audit))
        return false;
    bool same = true;
    for (int side = 0; side < 2 && same; side++) {
        uint32_t na = book_depth(ms->book, (enum book_side)side);
        uint32_t nb = book_depth(s->audit, (enum book_side)side);
        uint32_t n = K_MIN(na, (uint32_t)LIVE_AUDIT_LEVELS);
        same = K_MIN(nb, (uint32_t)LIVE_AUDIT_LEVELS) == n;
        for (uint32_t i = 0; i < n && same; i++) {
            kdec p1, q1, p2, q2;
            same = book_level(ms->book, (enum book_side)side, i, &p1, &q1) == K_OK &&
                   book_level(s->audit, (enum book_side)side, i, &p2, &q2) == K_OK &&
                   p1 == p2 && q1 == q2;
        }
    }
    s->audits++;
    s->audit_state = LIVE_AUDIT_IDLE;
    book_invalidate(s->audit);
    if (!same) {
        s->audit_mismatches++;
        if (lv->log)
            log_warn(lv->log, "live %s %s: book audit: the top %d levels differ from a fresh "
                     "REST snapshot at update id %lld: resyncing", venue_name(s->venue), s->name,
                     LIVE_AUDIT_LEVELS, (long long)book_last_id(ms->book));
        book_invalidate(ms->book); /* the next diff buffers, live_check_book fetches */
        s->was_live = false;
    }
    return true;
}

static void live_on_audit_snapshot(void *ud, const http_response *r)
{
    live_sym *s = ud;
    klive *lv = s->lv;
    if (r->result == HTTP_ERR_CANCELLED || s->audit_state != LIVE_AUDIT_FETCHING)
        return;
    if (r->result != HTTP_OK || r->status != 200) {
        live_audit_fail(s, r->result != HTTP_OK ? http_strerror(r->result) : "HTTP error");
        return;
    }
    uint32_t n = 0;
    const char *why = NULL;
    int rc;
    if (s->venue == VENUE_OKX) {
        rc = okx_decode(r->body, r->len, lv->evs, LIVE_NEV, &n, lv->lv, LIVE_LV_CAP, NULL, &why);
    } else {
        rc = binance_decode(r->body, r->len, &lv->evs[0], lv->lv, LIVE_LV_CAP, &why);
        n = rc == K_OK;
    }
    enum book_result br = BOOK_REJECTED;
    for (uint32_t i = 0; rc == K_OK && i < n; i++)
        if (lv->evs[i].kind == FEED_DEPTH_SNAPSHOT) {
            memcpy(lv->evs[i].symbol, s->name, KSYM_MAX);
            br = book_on_snapshot(s->audit, &lv->evs[i]);
        }
    if (br != BOOK_SYNCED) {
        live_audit_fail(s, br == BOOK_SNAPSHOT_OLD ? "snapshot older than the buffered diffs"
                                                   : "snapshot refused");
        return;
    }
    s->audit_state = LIVE_AUDIT_COMPARING;
    (void)live_audit_compare(s);
}

static void live_audit_start(live_sym *s)
{
    klive *lv = s->lv;
    market_sym *ms = market_find(lv->m, s->venue, s->name);
    if (!ms || !book_is_live(ms->book) || s->audit_state != LIVE_AUDIT_IDLE)
        return;
    if (!s->audit)
        s->audit = book_new(live_rules(s->venue), lv->book_levels, lv->book_buffered);
    book_invalidate(s->audit);
    int weight = s->venue == VENUE_OKX ? 1 : 5;
    if (http_get(lv->http, s->venue, s->audit_url, weight, live_on_audit_snapshot, s, NULL) !=
        HTTP_OK)
        return; /* paused or throttled: the next tick tries again */
    s->audit_state = LIVE_AUDIT_FETCHING;
    s->audit_started_ms = loop_mono_ms();
    s->audit_next_ms = loop_mono_ms() + lv->audit_every_ms[s->venue];
}

/* A frame the live books just took: its depth events go to the audit books in progress. */
static void live_audit_frame(klive *lv, live_conn *c, const ws_item *it)
{
    bool any = false;
    for (int j = 0; j < c->nsyms && !any; j++)
        any = lv->syms[c->syms[j]].audit_state != LIVE_AUDIT_IDLE;
    if (!any)
        return;
    uint32_t n = 0;
    const char *why = NULL;
    int rc;
    if (c->venue == VENUE_OKX) {
        rc = okx_decode(it->data, it->len, lv->evs, LIVE_NEV, &n, lv->lv, LIVE_LV_CAP, NULL, &why);
    } else {
        rc = binance_decode(it->data, it->len, &lv->evs[0], lv->lv, LIVE_LV_CAP, &why);
        n = rc == K_OK;
    }
    for (uint32_t i = 0; rc == K_OK && i < n; i++) {
        const feed_event *ev = &lv->evs[i];
        if (ev->kind != FEED_DEPTH_DIFF && ev->kind != FEED_DEPTH_SNAPSHOT)
            continue;
        for (int j = 0; j < c->nsyms; j++) {
            live_sym *s = &lv->syms[c->syms[j]];
            if (s->audit_state == LIVE_AUDIT_IDLE || strcmp(s->name, ev->symbol) != 0)
                continue;
            enum book_result br = ev->kind == FEED_DEPTH_DIFF ? book_on_diff(s->audit, ev)
                                                              : book_on_snapshot(s->audit, ev);
            if (br == BOOK_GAP)
                live_audit_fail(s, "sequence gap while auditing");
            else if (s->audit_state == LIVE_AUDIT_COMPARING)
                (void)live_audit_compare(s);
        }
    }
}

/* ---- clock offset ----------------------------------------------------------------------------
 * Each venue's server time (GET /api/v3/time, /fapi/v1/time, /api/v5/public/time) every
 * clock_interval (default 60 s): offset = server time - the midpoint of the request's local
 * send and receive times. Shown when above 500 ms. */

static void live_on_clock(void *ud, const http_response *r)
{
    struct live_clock *k = ud;
    k->busy = false;
    if (r->result != HTTP_OK || r->status != 200 || !r->body)
        return;
    int64_t after = loop_wall_ms(), before = after - r->elapsed_ms, t = 0;
    const char *p = strstr(r->body, k->v == VENUE_OKX ? "\"ts\"" : "\"serverTime\"");
    if (p && (p = strchr(p, ':')) != NULL) {
        p++;
        while (*p == ' ' || *p == '"')
            p++;
        t = strtoll(p, NULL, 10);
    }
    if (t <= 0)
        return;
    int64_t off = t - (before + after) / 2;
    if (k->lv->log && (!k->known || (llabs(off) > 500) != (llabs(k->offset_ms) > 500)))
        log_info(k->lv->log, "live %s: clock offset %+lld ms (round trip %lld ms)%s",
                 venue_name(k->v), (long long)off, (long long)r->elapsed_ms,
                 llabs(off) > 500 ? ": above 500 ms, check the system clock (NTP)" : "");
    k->offset_ms = off;
    k->rtt_ms = r->elapsed_ms;
    k->known = true;
    k->samples++;
}

static void live_tick_cb(loop *l, uint64_t id, void *ud)
{
    (void)id;
    klive *lv = ud;
    int64_t now = loop_mono_ms();
    for (int v = 0; v < VENUE_COUNT; v++) {
        struct live_clock *k = &lv->clk[v];
        if (!k->used || k->busy || now < k->next_ms)
            continue;
        if (http_get(lv->http, (enum venue)v, k->url, 1, live_on_clock, k, NULL) == HTTP_OK) {
            k->busy = true;
            k->next_ms = now + lv->clock_every_ms[v];
        }
    }
    for (int i = 0; i < lv->nsyms; i++) {
        live_sym *s = &lv->syms[i];
        if (s->audit_state != LIVE_AUDIT_IDLE && now - s->audit_started_ms > LIVE_AUDIT_TIMEOUT_MS)
            live_audit_fail(s, "the books found no common update id within 30 s");
        else if (s->audit_state == LIVE_AUDIT_IDLE && now >= s->audit_next_ms)
            live_audit_start(s);
    }
    lv->tick_timer = loop_timer_add(l, LIVE_TICK_MS, live_tick_cb, lv);
}

static void live_extras_open(klive *lv, const kconfig *cfg)
{
    lv->book_levels = cfg->limits.book_levels ? cfg->limits.book_levels : 1000;
    lv->book_buffered = cfg->limits.book_buffered ? cfg->limits.book_buffered : 256;
    int64_t now = loop_mono_ms();
    int nth[VENUE_COUNT] = {0};
    for (int v = 0; v < VENUE_COUNT; v++) {
        double a = cfg->venues[v].audit_interval_s, k = cfg->venues[v].clock_interval_s;
        lv->audit_every_ms[v] = a > 0 ? (int64_t)(a * 1000.0) : LIVE_AUDIT_DEFAULT_MS;
        lv->clock_every_ms[v] = k > 0 ? (int64_t)(k * 1000.0) : LIVE_CLOCK_DEFAULT_MS;
        lv->clk[v].lv = lv;
        lv->clk[v].v = (enum venue)v;
        lv->clk[v].next_ms = now; /* the first reading at once */
    }
    for (int i = 0; i < lv->nsyms; i++) {
        live_sym *s = &lv->syms[i];
        s->audit_next_ms = now + lv->audit_every_ms[s->venue] + 2000LL * nth[s->venue]++;
    }
    lv->tick_timer = loop_timer_add(lv->l, 0, live_tick_cb, lv);
}

static void live_extras_close(klive *lv)
{
    live_record_stop(lv, NULL);
    if (lv->tick_timer)
        loop_timer_cancel(lv->l, lv->tick_timer);
    free(lv->rec_buf);
    for (int i = 0; i < lv->nsyms; i++)
        book_free(lv->syms[i].audit);
}

int live_clock_offset(const klive *lv, enum venue v, int64_t *offset_ms)
{
    if (!lv || (unsigned)v >= VENUE_COUNT || !lv->clk[v].known)
        return K_ERR;
    *offset_ms = lv->clk[v].offset_ms;
    return K_OK;
}

/* OKX subscribe answers, for `kestrel check` (Binance subscribes in the URL: no answer). */
static void live_sub_note(live_conn *c, const ws_item *it)
{
    if (it->len > 600)
        return;
    if (c->venue != VENUE_OKX) { /* {"result":null,"id":7}; {"code":2,"msg":"...","id":7} */
        if (it->len < 8 || memmem(it->data, it->len, "\"stream\"", 8) ||
            !memmem(it->data, it->len, "\"id\"", 4))
            return;
        if (memmem(it->data, it->len, "\"result\"", 8)) {
            c->sub_acks++;
        } else if (memmem(it->data, it->len, "\"code\"", 6)) {
            c->sub_errors++;
            snprintf(c->sub_error, sizeof c->sub_error, "%.*s", (int)K_MIN(it->len, 150),
                     it->data);
        }
        return;
    }
    const char *e = memmem(it->data, it->len, "\"event\"", 7);
    if (!e)
        return;
    const char *end = it->data + it->len;
    e += 7;
    while (e < end && (*e == ' ' || *e == ':'))
        e++;
    if (end - e >= 11 && memcmp(e, "\"subscribe\"", 11) == 0) {
        c->sub_acks++;
    } else if (end - e >= 7 && memcmp(e, "\"error\"", 7) == 0) {
        c->sub_errors++;
        snprintf(c->sub_error, sizeof c->sub_error, "%.*s", (int)K_MIN(it->len, 150), it->data);
    }
}

/* ---- frame-to-book latency -------------------------------------------------------------------
 * From the net thread's receive time of a frame (the last byte in) to the moment the pipeline
 * has applied it: queueing in the ring, the eventfd wake-up, decode, book. */
static void live_latency_note(klive *lv, int64_t recv_ns)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t d = ((int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec - recv_ns) / 1000;
    uint64_t us = d > 0 ? (uint64_t)d : 0;
    size_t b;
    if (us < LIVE_LAT_LINEAR) {
        b = (size_t)us;
    } else {
        int lg = 63 - __builtin_clzll(us) - 11; /* 2048 us -> 0 */
        b = LIVE_LAT_LINEAR + (size_t)K_MIN(lg, LIVE_LAT_LOG - 1);
    }
    lv->lat_hist[b]++;
    lv->lat_n++;
    if (us > lv->lat_max_us)
        lv->lat_max_us = us;
}

static double live_latency_q(const klive *lv, double q)
{
    uint64_t want = (uint64_t)(q * (double)lv->lat_n), seen = 0;
    for (size_t b = 0; b < LIVE_LAT_LINEAR + LIVE_LAT_LOG; b++) {
        seen += lv->lat_hist[b];
        if (seen > want)
            return b < LIVE_LAT_LINEAR ? (double)b
                                       : (double)(2048ull << (b - LIVE_LAT_LINEAR)) * 1.5;
    }
    return (double)lv->lat_max_us;
}

void live_latency_get(const klive *lv, live_latency *out)
{
    memset(out, 0, sizeof *out);
    if (!lv || lv->lat_n == 0)
        return;
    out->frames = lv->lat_n;
    out->p50_us = live_latency_q(lv, 0.50);
    out->p99_us = live_latency_q(lv, 0.99);
    out->max_us = (double)lv->lat_max_us;
}

void live_latency_reset(klive *lv)
{
    memset(lv->lat_hist, 0, sizeof lv->lat_hist);
    lv->lat_n = lv->lat_max_us = 0;
}

void live_wall_tick(klive *lv, int64_t wall_ms)
{
    if (!lv)
        return;
    if (lv->rec) {
        char j[48];
        int n = snprintf(j, sizeof j, "{\"wall_ms\":%lld}", (long long)wall_ms);
        (void)record_tick_line(lv->rec, wall_ms * 1000000, j, (size_t)n);
    }
    ingest_wall_tick(lv->ing, wall_ms);
}

/* ---- warm standby (health.warm_standby, docs/LIVE.md "Warm standby") ---------------------------
 * Each connection that carries books has a twin: a second connection to the same URL, subscribed
 * to the same streams and kept open. Its frames are not applied; each is hashed and matched
 * against the frames the pipeline applied recently (a ring of LIVE_TWIN_SEEN hashes): a frame
 * already applied is dropped, one not yet applied is kept in order (the lead, at most
 * LIVE_TWIN_LEAD frames). A frame applied from the active connection removes its copy from the
 * lead. So the lead holds exactly what the twin delivered and the active has not: when its
 * oldest frame is older than the connection's cadence (100 ms for books) while the active
 * delivered nothing newer, the active is behind or silent, and the two swap at once: the lead is
 * applied in order (every diff the book lacks, nothing twice) and the twin's frames feed the
 * pipeline from then on, the book live throughout (no reconnect, no REST snapshot). The old
 * active stays open as the new twin; a twin silent for the stall threshold while the active
 * delivers is reconnected. A lead that overflows, or a frame larger than LIVE_TWIN_FRAME_MAX,
 * makes the twin "unsynced" until it matches again (no swap meanwhile: the normal stall path
 * applies). Exactly-once relies on both connections delivering the same bytes in the same order
 * within the LIVE_TWIN_SEEN window, which holds for one venue's streams. */

#define LIVE_TWIN_SEEN 1024
#define LIVE_TWIN_LEAD 2048
#define LIVE_TWIN_FRAME_MAX (256u << 10)

typedef struct live_twin {
    uint64_t seen[LIVE_TWIN_SEEN]; /* hashes of the frames applied last (ring) */
    uint32_t seen_head, seen_n;
    struct {
        uint64_t h;
        int64_t recv_ns;
        uint32_t len, cap;
        char *data; /* reused: grows to the longest frame the slot held */
        bool done;  /* applied from the active meanwhile */
    } lead[LIVE_TWIN_LEAD];
    uint32_t lead_head, lead_n;
    int64_t last_applied_ns; /* receive time of the last frame applied */
    bool synced;             /* the twin has delivered a frame the pipeline applied */
    uint32_t dedupe; /* active frames still checked against seen after a swap */
    uint64_t swaps, matched, lost, dups;
    int64_t last_swap_ms;
} live_twin;

static uint64_t live_twin_hash(const char *p, size_t n)
{
    uint64_t h = 0x9E3779B97F4A7C15ull ^ n;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        h = (h ^ w) * 0xFF51AFD7ED558CCDull;
        h ^= h >> 29;
    }
    for (; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * 0x100000001B3ull;
    return h ^ (h >> 32);
}

static bool live_twin_seen(const live_twin *t, uint64_t h)
{
    for (uint32_t k = 0; k < t->seen_n; k++)
        if (t->seen[(t->seen_head + LIVE_TWIN_SEEN - 1 - k) % LIVE_TWIN_SEEN] == h)
            return true;
    return false;
}

static void live_twin_lead_pop(live_twin *t)
{
    while (t->lead_n > 0 && t->lead[t->lead_head].done) {
        t->lead_head = (t->lead_head + 1) % LIVE_TWIN_LEAD;
        t->lead_n--;
    }
}

static void live_twin_reset(live_twin *t)
{
    for (uint32_t k = 0; k < t->lead_n; k++)
        t->lead[(t->lead_head + k) % LIVE_TWIN_LEAD].done = true;
    live_twin_lead_pop(t);
    t->synced = false;
}

/* A frame the pipeline applied (from the active, or the lead at a swap). */
static void live_twin_applied(live_conn *c, const ws_item *it)
{
    live_twin *t = c->tw;
    uint64_t h = live_twin_hash(it->data, it->len);
    t->seen[t->seen_head] = h;
    t->seen_head = (t->seen_head + 1) % LIVE_TWIN_SEEN;
    if (t->seen_n < LIVE_TWIN_SEEN)
        t->seen_n++;
    t->last_applied_ns = it->recv_ns;
    for (uint32_t k = 0; k < t->lead_n; k++) {
        uint32_t j = (t->lead_head + k) % LIVE_TWIN_LEAD;
        if (!t->lead[j].done && t->lead[j].h == h) {
            t->lead[j].done = true;
            t->synced = true;
            t->matched++;
            break;
        }
    }
    live_twin_lead_pop(t);
}

/* After a swap: an active frame already applied (the new active was behind the old one). */
static bool live_twin_dup(live_conn *c, const ws_item *it)
{
    live_twin *t = c->tw;
    if (t->dedupe == 0)
        return false;
    t->dedupe--;
    if (!live_twin_seen(t, live_twin_hash(it->data, it->len)))
        return false;
    t->dups++;
    return true;
}

/* The twin can take over: open, matched, and no lead lost since. */
static bool live_twin_ready(const live_conn *c)
{
    return c->tw->synced && !c->next && c->standby;
}

/* The twin becomes the active: its lead applied in order, the old active the new twin. */
static void live_twin_swap(klive *lv, live_conn *c)
{
    live_twin *t = c->tw;
    uint32_t old = c->id;
    c->id = c->standby;
    c->standby = old;
    t->swaps++;
    t->last_swap_ms = loop_mono_ms();
    int64_t silent_since = c->last_data_ms > c->open_ms ? c->last_data_ms : c->open_ms;
    while (t->lead_n > 0) {
        uint32_t j = t->lead_head;
        if (!t->lead[j].done) {
            t->lead[j].done = true;
            ws_item it = {.kind = WS_ITEM_FRAME, .conn = c->id, .venue = c->venue,
                          .recv_ns = t->lead[j].recv_ns, .data = t->lead[j].data,
                          .len = t->lead[j].len};
            live_frame(lv, c, &it);
        }
        live_twin_lead_pop(t);
    }
    t->synced = false; /* the old active must prove itself again */
    t->dedupe = LIVE_TWIN_SEEN;
    /* the new active delivers: counted as a replaced stall, as the reconnect path does */
    c->stalled = false;
    c->last_replace_ms = silent_since > 0 ? loop_mono_ms() - silent_since : 0;
    if (c->last_replace_ms > c->max_replace_ms)
        c->max_replace_ms = c->last_replace_ms;
    if (lv->log)
        log_info(lv->log, "live %s: the warm standby leads by more than %lld ms: switched to it "
                 "(%lld ms after the last data of the old connection)", c->label,
                 (long long)c->cadence_ms, (long long)c->last_replace_ms);
}

/* Swaps when the lead's oldest frame is older than the cadence (now_ns: wall clock). */
static void live_twin_check(klive *lv, live_conn *c, int64_t now_ns)
{
    live_twin *t = c->tw;
    if (!c->standby)
        return; /* its symbol removed */
    live_twin_lead_pop(t);
    if (live_twin_ready(c) && t->lead_n > 0 &&
        now_ns - t->lead[t->lead_head].recv_ns > c->cadence_ms * 1000000 &&
        t->last_applied_ns < t->lead[t->lead_head].recv_ns) {
        live_twin_swap(lv, c);
        return;
    }
    ws_stats st;
    int64_t limit = live_conn_stall_ms(lv, c), now = loop_mono_ms();
    if (ws_get_stats(lv->net, c->standby, &st) == WS_OK && st.state == WS_OPEN &&
        st.last_msg_ms > 0 && now - st.last_msg_ms > limit && c->last_data_ms > 0 &&
        now - c->last_data_ms < limit && (!t->last_swap_ms || now - t->last_swap_ms > limit)) {
        if (lv->log)
            log_warn(lv->log, "live %s: the warm standby is silent: reconnecting it", c->label);
        live_twin_reset(t);
        if (ws_reconnect(lv->net, c->standby) != WS_OK && lv->log)
            log_warn(lv->log, "live %s: standby reconnect refused", c->label);
    }
}

/* An item of the twin connection. */
static void live_twin_item(klive *lv, live_conn *c, const ws_item *it)
{
    live_twin *t = c->tw;
    switch (it->kind) {
    case WS_ITEM_OPEN:
        live_twin_reset(t);
        live_subscribe(lv, c, it->conn);
        return;
    case WS_ITEM_CLOSED:
        live_twin_reset(t);
        return;
    case WS_ITEM_ROTATE: /* nobody reads it yet: a fresh one at once */
        live_twin_reset(t);
        if (ws_reconnect(lv->net, it->conn) != WS_OK && lv->log)
            log_warn(lv->log, "live %s: standby rotation refused", c->label);
        return;
    case WS_ITEM_FRAME:
        break;
    }
    uint64_t h = live_twin_hash(it->data, it->len);
    if (live_twin_seen(t, h)) {
        t->synced = true;
        t->matched++;
        return;
    }
    if (it->len > LIVE_TWIN_FRAME_MAX || t->lead_n >= LIVE_TWIN_LEAD) {
        t->lost++;
        live_twin_reset(t); /* no exact continuation any more: no swap until it matches */
        return;
    }
    uint32_t j = (t->lead_head + t->lead_n) % LIVE_TWIN_LEAD;
    if (t->lead[j].cap < it->len) {
        t->lead[j].data = xrealloc(t->lead[j].data, it->len);
        t->lead[j].cap = (uint32_t)it->len;
    }
    memcpy(t->lead[j].data, it->data, it->len);
    t->lead[j].len = (uint32_t)it->len;
    t->lead[j].h = h;
    t->lead[j].recv_ns = it->recv_ns;
    t->lead[j].done = false;
    t->lead_n++;
    live_twin_check(lv, c, it->recv_ns);
}

static live_twin *live_twin_new(void)
{
    return xcalloc(1, sizeof(live_twin));
}

static void live_twin_free(live_conn *c)
{
    if (!c->tw)
        return;
    for (uint32_t k = 0; k < LIVE_TWIN_LEAD; k++)
        free(c->tw->lead[k].data);
    free(c->tw);
    c->tw = NULL;
}

static void live_twin_info(klive *lv, live_conn *c, live_conn_info *out)
{
    if (!c->tw)
        return;
    ws_stats st;
    out->standby_state = ws_get_stats(lv->net, c->standby, &st) != WS_OK ? "none"
                         : st.state != WS_OPEN                           ? ws_state_name(st.state)
                         : c->tw->synced                                 ? "synced"
                                                                         : "open";
    out->standby_switches = c->tw->swaps;
    out->standby_lead = c->tw->lead_n;
}
