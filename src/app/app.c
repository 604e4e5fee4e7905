/* The app: wires the loop, the replay source, the ingest pipeline, the market model and its
 * subscribers, the store, the control socket and the UI together, and paces the replay.
 *
 * Data path (all on the main thread): replay line -> ingest (decoder table, per-venue data clock,
 * market_apply, bar closes with grace, the simulated market clock) -> market notes to the
 * subscribers in order: the store (candles, instruments, book events, history loads), then the
 * display indicators (chartta). Live frames from the net thread take the same ingest call: only
 * the source changes.
 *
 * Pacing: a line is due at anchor_mono + (recv_ns - anchor_data) / speed. The pump processes every
 * due line, but never more than a slice (a few thousand lines or ~8 ms) per loop iteration, so the
 * UI, the control socket and signals stay responsive even at --speed 0. Pause and speed changes
 * re-anchor at the next pending line, so the data clock never jumps.
 *
 * Replay controls (same pump): a seek or a step runs unpaced (and while paused) until the data
 * clock reaches the target / one more bar of the focused chart closes; a seek backwards or a
 * restart first reopens the files and resets the model (app_model_reset), so the state is the
 * uninterrupted run's. --loop reopens the files at their end and shifts the next pass's times by
 * the span + 1 ms (app_loop_pass). Each file of the first pass is checked for bad input once it
 * has ended (app_check_data: WARN, banner, data_problem, exit 3). */
#include "kestrel/app.h"
#include "kestrel/alerts.h"
#include "kestrel/btview.h"
#include "kestrel/chartta.h"
#include "kestrel/clock.h"
#include "kestrel/ctl.h"
#include "kestrel/instrument.h"
#include "kestrel/runner.h"
#include "kestrel/settings.h"
#include "kestrel/trading.h"
#include "kestrel/ingest.h"
#include "kestrel/live.h"
#include "kestrel/replay.h"
#include "kestrel/riskview.h"
#include "kestrel/store.h"
#include "kestrel/ta.h"
#include "kestrel/ui.h"
#include "kestrel/watchlist.h"
#include "kestrel/xmalloc.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define APP_SLICE_LINES 4096
#define APP_SLICE_NS (8 * 1000000LL)
#define APP_HISTORY_MAX 2000  /* bars per timeframe loaded for a new symbol */
#define APP_HISTORY_QUEUE 64  /* symbols waiting for their history load */
#define APP_MAX_INDICATORS 16 /* instances in the list (memory is admitted by chartta's budget) */
#define APP_SETTING_INDICATORS "ui.indicators"
/* Recorded silence longer than this (a recorder restart, files of different days, a garbage
 * timestamp) is skipped rather than waited out: pacing re-anchors at the line after it. */
#define APP_MAX_GAP_NS (5 * 60 * 1000000000LL)

struct app_private {
    bool pending;         /* `line` holds the next line, not processed yet */
    replay_line line;
    int64_t anchor_mono_ns;
    int64_t anchor_data_ns;
    bool anchored;        /* false until the first line after start/pause/speed change */
    bool have_prev;       /* prev_recv_ns holds the receive time of the last processed line */
    int64_t prev_recv_ns;
    uint64_t pump_timer;  /* 0 = none armed */
    int64_t stats_mono_ms;
    uint64_t stats_messages;
    int64_t last_advance_s;
    bool stopped;
    bool status_pending; /* --exit-at-end: print the status once the store has flushed */
    uint32_t ta_skipped_warned; /* symbols without indicators (budget full) already warned of */
    /* history loads (app_load_history): a FIFO of symbol indices, one symbol in flight */
    uint32_t history_q[APP_HISTORY_QUEUE];
    int64_t history_before[APP_HISTORY_QUEUE]; /* by symbol index % queue: its first event's time */
    uint32_t history_head, history_n;
    bool history_busy;
    int history_tfs_left;
    uint64_t history_bars;
    instruments *instr;  /* exchange filters: the bundled exchange info (replay) */
    bool warned_full; /* the max_symbols WARN has been logged */
    /* replay controls: seek, step, loop, and the bad-input check */
    int64_t seek_target_ms;    /* seeking: full speed until the data clock reaches this */
    uint32_t step_sym;         /* stepping: this symbol's chart timeframe ... */
    enum tf step_tf;
    uint64_t step_closed;      /* ... had this many closed bars when the step began */
    int64_t loop_offset_ns;    /* added to every time of the current pass (whole ms) */
    int64_t pass_first_ns, pass_last_ns; /* receive times of the pass as recorded, 0 = none */
    int64_t span_first_ns, span_last_ns; /* of a completed pass (span_known) */
    bool span_known;
    int64_t stored_upto_ms;    /* a re-run stores no book events at or before this data time */
    uint64_t model_gen;        /* bumped by each model reset: older history answers are dropped */
    uint64_t file_applied[REPLAY_MAX_FILES]; /* market messages recognised, per file */
    bool data_checked;         /* every file of the first pass has been checked for bad input */
    bool file_checked[REPLAY_MAX_FILES];
    int data_bad;              /* bad files found */
    char banner1[256], problem1[600]; /* the first one's text */
};

static void app_pump(app *a);
static bool app_pump_runs(const app *a);
static void app_on_replay(loop *l, int fd, unsigned events, void *ud);
static void app_resolve_replay(app *a, char (*out)[CONFIG_PATH_MAX], const char **specs);
static void app_pump_timer_cb(loop *l, uint64_t id, void *ud);

/* ---- small helpers ------------------------------------------------------------------------ */

void app_flash(app *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(a->flash, sizeof a->flash, fmt, ap);
    va_end(ap);
    a->flash_until_ms = loop_mono_ms() + 4000;
    a->changes++;
    if (a->log)
        log_info(a->log, "%s", a->flash);
}

const char *app_source_name(const app *a)
{
    switch (a->source) {
    case APP_SOURCE_LIVE: return "LIVE";
    case APP_SOURCE_BACKTEST: return "BACKTEST";
    default: return "REPLAY";
    }
}

const char *app_broker_name(const app *a)
{
    (void)a;
    return "PAPER";
}

/* The next line to process is due now; later ones follow at their recorded spacing / speed. */
static void app_reanchor(app *a)
{
    struct app_private *p = a->priv;
    p->anchored = p->pending;
    p->anchor_mono_ns = loop_mono_ns();
    p->anchor_data_ns = p->pending ? p->line.recv_ns : 0;
}

static void app_schedule_pump(app *a, int64_t delay_ms)
{
    struct app_private *p = a->priv;
    if (p->pump_timer)
        loop_timer_cancel(a->loop, p->pump_timer);
    p->pump_timer = 0;
    if (!app_pump_runs(a))
        return;
    /* pump_timer is cleared by the callback before it runs the pump */
    p->pump_timer = loop_timer_add(a->loop, delay_ms < 0 ? 0 : delay_ms, app_pump_timer_cb, a);
}

static void app_pump_timer_cb(loop *l, uint64_t id, void *ud)
{
    (void)l;
    (void)id;
    app *a = ud;
    a->priv->pump_timer = 0;
    app_pump(a);
}

void app_set_paused(app *a, bool paused)
{
    if (!a->replay) {
        app_flash(a, "pause: only a replay can be paused");
        return;
    }
    if (a->finished) {
        app_flash(a, "the replay has finished");
        return;
    }
    if (a->paused == paused)
        return;
    a->paused = paused;
    a->changes++;
    if (!paused) {
        app_reanchor(a);
        app_schedule_pump(a, 0);
    } else {
        app_schedule_pump(a, 0); /* cancels */
    }
    app_flash(a, paused ? "replay paused" : "replay resumed");
}

void app_set_speed(app *a, double speed)
{
    if (!a->replay) {
        app_flash(a, "speed: only a replay has a speed");
        return;
    }
    if (speed < 0)
        speed = 0;
    if (speed > 1000)
        speed = 1000;
    if (speed > 0 && speed < 0.01)
        speed = 0.01;
    a->speed = speed;
    a->changes++;
    app_reanchor(a);
    app_schedule_pump(a, 0);
    if (speed == 0)
        app_flash(a, "replay speed: max");
    else
        app_flash(a, "replay speed: x%g", speed);
}

void app_speed_step(app *a, int dir)
{
    static const double steps[] = {0.25, 0.5, 1, 2, 4, 8, 16, 32, 64, 0};
    int n = (int)K_ARRAY_LEN(steps), cur = -1;
    for (int i = 0; i < n; i++)
        if (steps[i] == a->speed)
            cur = i;
    if (cur < 0) { /* an odd speed from the command line: snap to the nearest step */
        cur = a->speed == 0 ? n - 1 : 0;
        for (int i = 0; i < n - 1; i++)
            if (steps[i] <= a->speed)
                cur = i;
    }
    int next = cur + (dir > 0 ? 1 : -1);
    if (next < 0)
        next = 0;
    if (next >= n)
        next = n - 1;
    app_set_speed(a, steps[next]);
}

void app_request_quit(app *a)
{
    if (a->quitting)
        return;
    a->quitting = true;
    a->changes++;
    if (a->loop)
        loop_stop(a->loop);
}

void app_set_focus(app *a, uint32_t sym_index)
{
    if (sym_index < market_count(a->market) && sym_index != a->focus) {
        a->focus = sym_index;
        a->changes++;
    }
}

void app_set_timeframe(app *a, enum tf tf)
{
    if ((unsigned)tf < TF_COUNT && tf != a->chart_tf) {
        a->chart_tf = tf;
        a->changes++;
    }
}

/* ---- market notes -> store, log, indicators --------------------------------------------- */

/* History for new symbols, off the message path: the store's writer thread runs the query and
 * answers through its eventfd (store_load_candles_async -> app_on_history_bars). One symbol
 * loads at a time (each answer holds up to APP_HISTORY_MAX bars per timeframe); the others wait
 * in a FIFO of symbol indices, so a start with 100 symbols stays within a few MB. Answers are
 * merged in front of what the live data built meanwhile (candles_load_older), then the symbol's
 * display indicators are rebuilt from the whole series. */
typedef struct app_hload {
    app *a;
    uint64_t gen; /* the model it was asked for (a seek resets the model) */
    uint32_t sym;
    enum tf tf;
    candle bars[APP_HISTORY_MAX];
} app_hload;

static void app_history_next(app *a);

static void app_on_history_bars(void *ud, enum store_result rc, uint32_t n)
{
    app_hload *h = ud;
    app *a = h->a;
    if (!a->priv || !a->market || h->gen != a->priv->model_gen) {
        /* the store closes after the model, or a seek reset it: nothing to merge into */
        free(h);
        return;
    }
    market_sym *s = market_at(a->market, h->sym);
    if (rc != STORE_OK)
        log_error(a->log, "%s history (%s) not loaded: %s", s ? s->name : "?", tf_name(h->tf),
                  store_strerror(rc));
    else if (s && n)
        a->priv->history_bars += candles_load_older(s->series[h->tf], h->bars, n);
    free(h);
    if (--a->priv->history_tfs_left > 0)
        return;
    /* every timeframe of this symbol answered */
    if (s && a->priv->history_bars) {
        chartta_rebuild(a->chartta, s);
        s->dirty++;
        log_info(a->log, "%s %s: %llu stored bars loaded", venue_name(s->venue), s->name,
                 (unsigned long long)a->priv->history_bars);
    }
    a->priv->history_busy = false;
    app_history_next(a);
}

/* Starts the next queued symbol's load: its seven timeframes. */
static void app_history_next(app *a)
{
    struct app_private *p = a->priv;
    while (!p->history_busy && p->history_head < p->history_n && a->store) {
        uint32_t idx = p->history_q[p->history_head % APP_HISTORY_QUEUE];
        int64_t now = p->history_before[p->history_head % APP_HISTORY_QUEUE];
        p->history_head++;
        market_sym *s = market_at(a->market, idx);
        if (!s)
            continue;
        p->history_busy = true;
        p->history_tfs_left = TF_COUNT;
        p->history_bars = 0;
        for (int t = 0; t < TF_COUNT; t++) {
            app_hload *h = xmalloc(sizeof *h);
            h->a = a;
            h->gen = p->model_gen;
            h->sym = idx;
            h->tf = (enum tf)t;
            int64_t before = now - (now % tf_ms((enum tf)t)); /* the bar the new data forms */
            uint32_t max = K_MIN(candles_cap(s->series[t]), APP_HISTORY_MAX); /* the ring's */
            enum store_result rc = store_load_candles_async(a->store, s->venue, s->name,
                                                            (enum tf)t, before, h->bars, max,
                                                            app_on_history_bars, h);
            if (rc != STORE_OK) { /* the callback will not run: account for it here */
                log_warn(a->log, "%s history (%s) not queued: %s", s->name, tf_name((enum tf)t),
                         store_strerror(rc));
                free(h);
                if (--p->history_tfs_left == 0)
                    p->history_busy = false;
            }
        }
    }
}

static void app_load_history(app *a, market_sym *s)
{
    struct app_private *p = a->priv;
    if (!a->store)
        return;
    if (p->history_n - p->history_head >= APP_HISTORY_QUEUE) {
        log_warn(a->log, "%s %s: history not loaded (%d symbols already waiting)",
                 venue_name(s->venue), s->name, APP_HISTORY_QUEUE);
        return;
    }
    p->history_before[p->history_n % APP_HISTORY_QUEUE] = ingest_current_ms(a->ingest);
    p->history_q[p->history_n % APP_HISTORY_QUEUE] = s->index;
    p->history_n++;
    app_history_next(a);
}

/* --exit-at-end: every queued history load answered and merged before the status is built. */
static void app_history_drain(app *a)
{
    for (int guard = 0; guard < 100000 && a->store &&
                        (a->priv->history_busy || a->priv->history_head < a->priv->history_n);
         guard++) {
        store_flush(a->store);
        store_process(a->store);
        app_history_next(a);
    }
}

/* A list every series can carry: parses, not too many instances, within the memory budget. */
static int app_check_indicators(app *a, const char *specs, char *err, size_t errlen)
{
    if (!specs[0])
        return K_OK;
    ta_chart *probe = ta_chart_new(specs, 1, err, errlen);
    if (!probe)
        return K_ERR;
    uint32_t n = ta_chart_instances(probe);
    ta_chart_free(probe);
    if (n > APP_MAX_INDICATORS) {
        snprintf(err, errlen, "%u indicators is too many (at most %d)", n, APP_MAX_INDICATORS);
        return K_ERR;
    }
    return chartta_check(a->chartta, specs, err, errlen);
}

const ta_chart *app_chart_ta(const app *a, const market_sym *s, enum tf tf)
{
    return s ? chartta_get(a->chartta, s->index, tf) : NULL;
}

int app_set_indicators(app *a, const char *specs, char *err, size_t errlen)
{
    if (strlen(specs) >= sizeof a->indicators) {
        snprintf(err, errlen, "indicator list too long (max %zu bytes)",
                 sizeof a->indicators - 1);
        return K_ERR;
    }
    if (app_check_indicators(a, specs, err, errlen) != K_OK) /* before touching anything */
        return K_ERR;
    if (chartta_set(a->chartta, specs, err, errlen) != K_OK)
        return K_ERR;
    snprintf(a->indicators, sizeof a->indicators, "%s", specs);
    if (a->store)
        store_put_setting(a->store, APP_SETTING_INDICATORS, a->indicators, a->data_ms);
    a->changes++;
    return K_OK;
}

/* The first subscriber: what the store keeps of the market, and history for new symbols (loaded
 * before the display indicators hear of the symbol, so they are built from it). */
static void app_on_market(void *ud, const market_note *n)
{
    app *a = ud;
    market_sym *s = n->sym;
    /* a seek's re-run passes data already stored: candles and instruments are upserts, book
     * events are rows, so they are stored only past what the store has */
    bool fresh = a->data_ms > a->priv->stored_upto_ms;
    switch (n->kind) {
    case MARKET_SYMBOL_ADDED:
        if (a->store)
            store_put_instrument(a->store, s->venue, s->name, s->px_decimals, s->qty_decimals,
                                 ingest_current_ms(a->ingest));
        app_load_history(a, s);
        log_info(a->log, "symbol %s %s added (%d price / %d quantity decimals)",
                 venue_name(s->venue), s->name, s->px_decimals, s->qty_decimals);
        break;
    case MARKET_DECIMALS: /* the store's instrument row follows what the data taught */
        if (a->store)
            store_put_instrument(a->store, s->venue, s->name, s->px_decimals, s->qty_decimals,
                                 ingest_current_ms(a->ingest));
        break;
    case MARKET_BAR_CLOSED:
    case MARKET_BAR_REVISED: /* the exchange's bar (live klines, REST backfill): an upsert */
        if (a->store)
            store_put_candle(a->store, s->venue, s->name, n->tf, n->bar);
        break;
    case MARKET_TRADE:
    case MARKET_TOP_CHANGED:
    case MARKET_FUNDING: /* the runner pays it; the fills journal keeps the payment */
        break;
    case MARKET_BOOK_GAP:
        log_warn(a->log, "%s %s: sequence gap at update id %lld, book RESYNCING",
                 venue_name(s->venue), s->name, (long long)book_last_id(s->book));
        if (a->store && fresh)
            store_put_book_event(a->store, a->data_ms, s->venue, s->name, "gap",
                                 book_last_id(s->book), "sequence gap");
        break;
    case MARKET_BOOK_SYNCED:
        log_info(a->log, "%s %s: book %s at update id %lld", venue_name(s->venue), s->name,
                 n->resync ? "resynced" : "synced", (long long)book_last_id(s->book));
        if (a->store && fresh)
            store_put_book_event(a->store, a->data_ms, s->venue, s->name,
                                 n->resync ? "resynced" : "synced", book_last_id(s->book), "");
        break;
    case MARKET_BOOK_CROSSED:
        log_warn(a->log, "%s %s: book crossed at update id %lld", venue_name(s->venue), s->name,
                 (long long)book_last_id(s->book));
        if (a->store && fresh)
            store_put_book_event(a->store, a->data_ms, s->venue, s->name, "crossed",
                                 book_last_id(s->book), "best bid >= best ask");
        break;
    }
}

/* ---- replay pump ------------------------------------------------------------------------- */

static void app_print_status(app *a)
{
    cJSON *st = app_status_json(a);
    char *txt = st ? cJSON_PrintUnformatted(st) : NULL;
    if (txt)
        printf("%s\n", txt);
    else
        log_error(a->log, "the status document could not be built (out of memory)");
    fflush(stdout);
    cJSON_free(txt);
    cJSON_Delete(st);
}

static const char *app_base_name(const char *path)
{
    const char *b = strrchr(path, '/');
    return b ? b + 1 : path;
}

/* What is wrong with file i of the first pass, or false when its data is fine. */
static bool app_file_problem(app *a, int i, char *why, size_t cap)
{
    const replay_file_info *fi = replay_file(a->replay, i);
    if (!fi)
        return false;
    if (fi->read_error)
        snprintf(why, cap, "truncated or unreadable (%s)", fi->error[0] ? fi->error : "read error");
    else if (fi->bytes == 0)
        snprintf(why, cap, "empty file");
    else if (fi->lines == 0)
        snprintf(why, cap, "no recognisable message (%llu line(s), none in a capture format)",
                 (unsigned long long)fi->malformed);
    else if (fi->decode_errors >= fi->lines)
        snprintf(why, cap, "every line is malformed (%llu line(s))",
                 (unsigned long long)fi->lines);
    else if (i < REPLAY_MAX_FILES && a->priv->file_applied[i] == 0)
        snprintf(why, cap, "no recognisable message (%llu line(s), no market data)",
                 (unsigned long long)fi->lines);
    else
        return false;
    return true;
}

/* During the first pass: each file that has ended (all its lines processed) is checked once; a
 * bad one gets a WARN, the banner and data_problem name the first ("+N more"), and
 * --exit-at-end will exit 3. final: the pass is over, every file has ended. */
static void app_check_data(app *a, bool final)
{
    struct app_private *p = a->priv;
    if (p->data_checked || !a->replay)
        return;
    int n = replay_file_count(a->replay), open_files = 0;
    bool changed = false;
    for (int i = 0; i < n && i < REPLAY_MAX_FILES; i++) {
        const replay_file_info *fi = replay_file(a->replay, i);
        if (p->file_checked[i])
            continue;
        if (!final && (!fi->done || (p->pending && p->line.file == i))) {
            open_files++;
            continue;
        }
        p->file_checked[i] = true;
        char why[200];
        if (!app_file_problem(a, i, why, sizeof why))
            continue;
        log_warn(a->log, "replay %s: %s", fi->path, why);
        if (p->data_bad++ == 0) {
            snprintf(p->banner1, sizeof p->banner1, "%s: %s", app_base_name(fi->path), why);
            snprintf(p->problem1, sizeof p->problem1, "%s: %s", fi->path, why);
        }
        changed = true;
    }
    if (final || open_files == 0)
        p->data_checked = true;
    if (!changed)
        return;
    if (p->data_bad > 1) {
        snprintf(a->banner, sizeof a->banner, "%.200s (+%d more)", p->banner1, p->data_bad - 1);
        snprintf(a->data_problem, sizeof a->data_problem, "%.560s (+%d more)", p->problem1,
                 p->data_bad - 1);
    } else {
        snprintf(a->banner, sizeof a->banner, "%s", p->banner1);
        snprintf(a->data_problem, sizeof a->data_problem, "%s", p->problem1);
    }
    a->changes++;
    if (a->exit_at_end)
        a->exit_status = 3; /* documented in kestrel(1), EXIT STATUS: data problems */
}

static void app_finish(app *a)
{
    a->finished = true;
    a->seeking = a->stepping = false;
    a->changes++;
    ingest_finish(a->ingest); /* nothing more can arrive: bars that ended close without grace */
    a->data_ms = ingest_clock_ms(a->ingest);
    const replay_stats *rsp = replay_get_stats(a->replay);
    replay_stats rs = *rsp;
    log_info(a->log, "replay finished: %llu messages, %llu malformed (%llu lines read)",
             (unsigned long long)a->messages, (unsigned long long)a->malformed,
             (unsigned long long)(rs.lines + a->lines_before));
    if (a->ui)
        app_flash(a, "replay finished: the screen keeps the final state (q quits)");
    if (a->exit_at_end) {
        /* printed by app_stop once the UI is closed and every queued row is committed, so the
         * status's store counters are final */
        a->priv->status_pending = true;
        app_request_quit(a);
    }
}

static void app_process_line(app *a, replay *rp, const replay_line *line)
{
    const char *why = NULL;
    /* a later --loop pass: the line's receive time is already shifted (app_pump); the pipeline
     * moves its exchange times by the same whole milliseconds */
    ingest_set_time_offset(a->ingest, a->priv->loop_offset_ns / 1000000);
    enum ingest_result r = ingest_replay_line(a->ingest, rp, line, &why);
    /* a refusal (a full symbol table) is a recognised message too: a limit, not bad data */
    if ((r == INGEST_OK || r == INGEST_REFUSED) && line->file >= 0 &&
        line->file < REPLAY_MAX_FILES)
        a->priv->file_applied[line->file]++;
    if (r == INGEST_OK)
        a->messages++;
    else if (r != INGEST_IGNORED)
        log_debug(a->log, "message dropped: %s (%s)", ingest_strerror(r), why ? why : "?");
    if (r == INGEST_REFUSED && !a->priv->warned_full && market_refused(a->market) > 0) {
        a->priv->warned_full = true; /* once per run */
        log_warn(a->log, "symbol %s ignored: market.max_symbols (%u) reached; its messages "
                 "count as malformed", ingest_last_symbol(a->ingest), a->cfg.limits.max_symbols);
    }
    a->data_ms = ingest_clock_ms(a->ingest);
}

/* Malformed = what the pipeline dropped (decoder, time, model) + what the reader refused (bad
 * timestamps, oversized lines, truncated files), over every pass. */
static void app_sync_counters(app *a)
{
    const replay_stats *rsp = replay_get_stats(a->replay);
    replay_stats rs = *rsp;
    uint64_t m = ingest_dropped(a->ingest) + rs.malformed + (uint64_t)rs.read_errors +
                 a->malformed_before;
    if (m != a->malformed) {
        a->malformed = m;
        a->changes++;
    }
    if (!a->priv->loop_offset_ns) /* a file that ended early is named at once */
        app_check_data(a, false);
}

/* (Re)opens the configured files, non-blocking, watched by the loop; the pump starts with the
 * first line. K_ERR with a message (a->replay is then NULL). */
static int app_replay_open(app *a, char *err, size_t errlen)
{
    struct app_private *p = a->priv;
    if (a->replay) {
        loop_unwatch(a->loop, replay_fd(a->replay));
        replay_close(a->replay);
        a->replay = NULL;
    }
    p->pending = p->have_prev = p->anchored = false;
    p->pass_first_ns = p->pass_last_ns = 0;
    char resolved[CONFIG_MAX_REPLAY][CONFIG_PATH_MAX];
    const char *specs[CONFIG_MAX_REPLAY];
    app_resolve_replay(a, resolved, specs);
    if (replay_open(&a->replay, specs, a->cfg.replay_count, err, errlen) != K_OK)
        return K_ERR;
    replay_set_nonblock(a->replay, true); /* the loop never waits for a reader */
    if (loop_watch(a->loop, replay_fd(a->replay), LOOP_READ, app_on_replay, a) != K_OK) {
        snprintf(err, errlen, "cannot watch the replay's fd");
        return K_ERR;
    }
    return K_OK;
}

/* --loop: the files start again, every time of the new pass shifted by the pass's span (last
 * minus first receive time, rounded up to whole ms) + 1 ms, so it follows the last line. */
static bool app_loop_pass(app *a)
{
    struct app_private *p = a->priv;
    if (!a->cfg.replay_loop || a->quitting || !p->pass_last_ns)
        return false; /* a pass without a single line would loop for ever doing nothing */
    const replay_stats *rs = replay_get_stats(a->replay);
    a->lines_before += rs->lines;
    a->malformed_before += rs->malformed + (uint64_t)rs->read_errors;
    int64_t first = p->pass_first_ns, last = p->pass_last_ns;
    int64_t span_ms = (last - first + 999999) / 1000000;
    p->span_first_ns = first;
    p->span_last_ns = last;
    p->span_known = true;
    char err[300];
    if (app_replay_open(a, err, sizeof err) != K_OK) {
        log_error(a->log, "replay loop: %s", err);
        app_flash(a, "replay loop: %s", err);
        return false;
    }
    p->loop_offset_ns += (span_ms + 1) * 1000000;
    a->loops++;
    a->changes++;
    log_info(a->log, "replay loop %llu: the files start again, times shifted by %lld ms",
             (unsigned long long)a->loops, (long long)(p->loop_offset_ns / 1000000));
    return true;
}

/* The model back to its empty start (seek backwards, restart): the store, socket and UI stay;
 * priv stays (app_model_close would free it), its per-run state is cleared. */
static int app_model_reset(app *a)
{
    struct app_private *p = a->priv;
    if (p->stored_upto_ms < a->data_ms)
        p->stored_upto_ms = a->data_ms;
    bool had_trading = a->runner != NULL, auto_on = had_trading && runner_auto(a->runner);
    trading_abandon(a); /* the earlier run's open orders and account leave the journal */
    trading_close(a); /* the runner rides on the market and clock that go now */
    a->priv = NULL;
    app_model_close(a);
    a->priv = p;
    p->model_gen++;
    p->history_head = p->history_n = 0;
    p->history_busy = false;
    p->history_tfs_left = 0;
    p->ta_skipped_warned = 0;
    p->loop_offset_ns = 0;
    a->messages = a->malformed = a->lines_before = a->malformed_before = a->loops = 0;
    a->data_ms = 0;
    a->finished = a->seeking = a->stepping = false;
    a->changes++;
    if (app_model_open(a) != K_OK) {
        log_error(a->log, "seek: the market model could not be rebuilt");
        return K_ERR;
    }
    watchlist_apply(a); /* the symbols added at run time again */
    char terr[160];
    if (had_trading) { /* a fresh paper account: the re-run trades again from the start */
        if (trading_open(a, terr, sizeof terr) != K_OK) {
            log_error(a->log, "seek: %s", terr);
            return K_ERR;
        }
        runner_set_auto(a->runner, auto_on);
        if (riskview_attach(a) != K_OK)
            log_warn(a->log, "seek: the risk metrics are not stored hourly in this re-run");
    }
    return K_OK;
}

static int app_rerun(app *a, char *err, size_t errlen)
{
    if (app_model_reset(a) != K_OK) {
        snprintf(err, errlen, "the market model could not be rebuilt");
        return K_ERR;
    }
    if (app_replay_open(a, err, errlen) != K_OK) {
        a->finished = true;
        log_error(a->log, "replay: %s", err);
        return K_ERR;
    }
    return K_OK;
}

static bool app_pump_runs(const app *a)
{
    return a->replay && !a->finished && !a->quitting && (!a->paused || a->seeking || a->stepping);
}

int app_seek(app *a, int64_t target_ms, char *err, size_t errlen)
{
    struct app_private *p = a->priv;
    if (!a->replay) {
        snprintf(err, errlen, "only a replay can seek");
        return K_ERR;
    }
    bool back = p->have_prev && target_ms <= a->data_ms;
    if (a->finished && !back) {
        snprintf(err, errlen, "the replay has ended before that time");
        return K_ERR;
    }
    if (back && app_rerun(a, err, errlen) != K_OK)
        return K_ERR;
    p->seek_target_ms = target_ms;
    a->seeking = true;
    a->stepping = false;
    a->changes++;
    log_info(a->log, "seek to %lld ms (%s)", (long long)target_ms,
             back ? "re-run from the start" : "forward");
    app_schedule_pump(a, 0);
    return K_OK;
}

int app_restart(app *a, char *err, size_t errlen)
{
    if (!a->replay && a->cfg.replay_count == 0) {
        snprintf(err, errlen, "only a replay can restart");
        return K_ERR;
    }
    if (app_rerun(a, err, errlen) != K_OK)
        return K_ERR;
    log_info(a->log, "replay restarted from the start");
    app_flash(a, "replay restarted");
    app_reanchor(a);
    app_schedule_pump(a, 0);
    return K_OK;
}

int app_step(app *a, char *err, size_t errlen)
{
    struct app_private *p = a->priv;
    if (!a->replay || a->finished) {
        snprintf(err, errlen, a->replay ? "the replay has finished" : "only a replay can step");
        return K_ERR;
    }
    if (!a->paused) {
        snprintf(err, errlen, "step works while paused (space pauses)");
        return K_ERR;
    }
    uint32_t n = market_count(a->market);
    market_sym *s = n ? market_at(a->market, a->focus < n ? a->focus : 0) : NULL;
    p->step_sym = s ? s->index : 0;
    p->step_tf = a->chart_tf;
    p->step_closed = s ? candles_total_closed(s->series[p->step_tf]) : 0;
    a->stepping = true;
    a->changes++;
    app_schedule_pump(a, 0);
    return K_OK;
}

/* Stepping: has one more bar of the step's series closed? */
static bool app_step_done(app *a)
{
    struct app_private *p = a->priv;
    market_sym *s = market_at(a->market, p->step_sym);
    return s && candles_total_closed(s->series[p->step_tf]) > p->step_closed;
}

app_progress app_replay_progress(const app *a)
{
    app_progress g = {.progress = 0, .position_ms = a->data_ms, .eta_s = -1};
    const struct app_private *p = a->priv;
    if (!a->replay || !p)
        return g;
    int64_t off = p->loop_offset_ns;
    int64_t first = p->span_known ? p->span_first_ns : p->pass_first_ns;
    if (!first) { /* no line yet (or none at all) */
        g.progress = a->finished ? 1.0 : 0.0;
        return g;
    }
    g.span_start_ms = (first + off) / 1000000;
    double bytes = replay_progress(a->replay);
    if (p->span_known) {
        g.span_end_ms = (p->span_last_ns + off) / 1000000;
        g.span_exact = true;
    } else if (a->finished) {
        g.span_end_ms = (p->pass_last_ns + off) / 1000000;
        g.span_exact = true;
    } else if (bytes > 0.001) { /* the compressed bytes read say how far into the files */
        double done = (double)(p->pass_last_ns - p->pass_first_ns) / 1e6;
        g.span_end_ms = g.span_start_ms + (int64_t)(done / (bytes > 1 ? 1 : bytes));
    } else
        g.span_end_ms = g.span_start_ms;
    int64_t pos = p->have_prev ? p->prev_recv_ns / 1000000 : g.span_start_ms;
    int64_t len = g.span_end_ms - g.span_start_ms;
    g.progress = a->finished ? 1.0 : len > 0 ? (double)(pos - g.span_start_ms) / (double)len : 0;
    if (g.progress < 0)
        g.progress = 0;
    if (g.progress > 1)
        g.progress = 1;
    if (a->finished)
        g.eta_s = 0;
    else if (a->speed > 0 && len > 0)
        g.eta_s = (double)(g.span_end_ms - pos > 0 ? g.span_end_ms - pos : 0) / 1000.0 / a->speed;
    return g;
}

static void app_pump(app *a)
{
    struct app_private *p = a->priv;
    if (!app_pump_runs(a))
        return;
    int64_t start = loop_mono_ns();
    int n = 0;
    for (;;) {
        if (a->runner && runner_warmups_pending(a->runner)) {
            /* a symbol's engine warms up (its history is read on the store's writer thread and
             * fed a chunk per loop turn): the next line waits for it (polled each ms, the loop
             * runs on), so the history always meets the data at the same line, a seek's re-run
             * and a straight run alike; the pacing starts again from here */
            p->anchored = false;
            app_sync_counters(a);
            app_schedule_pump(a, 1);
            return;
        }
        if (!p->pending) {
            int r = replay_next(a->replay, &p->line);
            if (r == REPLAY_AGAIN) { /* the reader is behind: replay_fd() calls back */
                app_sync_counters(a);
                return;
            }
            if (r <= 0) {
                app_sync_counters(a);
                if (!p->loop_offset_ns)
                    app_check_data(a, true); /* the first pass is what the files hold */
                if (app_loop_pass(a))
                    continue;
                app_finish(a);
                return;
            }
            if (!p->pass_first_ns)
                p->pass_first_ns = p->line.recv_ns;
            p->pass_last_ns = p->line.recv_ns;
            p->line.recv_ns += p->loop_offset_ns;
            p->pending = true;
        }
        if (a->seeking && a->data_ms >= p->seek_target_ms) { /* there */
            a->seeking = false;
            a->changes++;
            p->anchored = false;
            app_flash(a, "seek: at the target");
            if (a->paused && !a->stepping) {
                app_sync_counters(a);
                return;
            }
        }
        bool fast = a->seeking || a->stepping;
        int64_t now = loop_mono_ns();
        /* receive times are never negative (digits only): their difference cannot overflow */
        int64_t step = p->line.recv_ns - p->prev_recv_ns;
        bool jump = p->have_prev && (step > APP_MAX_GAP_NS || step < -APP_MAX_GAP_NS);
        if (!p->anchored || jump || fast) {
            p->anchored = !fast;
            p->anchor_mono_ns = now;
            p->anchor_data_ns = p->line.recv_ns;
        }
        if (a->speed > 0 && !fast) {
            double offset = (double)(p->line.recv_ns - p->anchor_data_ns) / a->speed;
            int64_t due = p->anchor_mono_ns + (int64_t)offset;
            if (due > now) {
                int64_t ms = (due - now + 999999) / 1000000;
                app_schedule_pump(a, ms > 1000 ? 1000 : ms);
                app_sync_counters(a);
                return;
            }
        }
        app_process_line(a, a->replay, &p->line);
        p->prev_recv_ns = p->line.recv_ns;
        p->have_prev = true;
        p->pending = false;
        if (a->stepping && app_step_done(a)) {
            a->stepping = false;
            a->changes++;
            p->anchored = false;
            if (a->paused) {
                app_sync_counters(a);
                return;
            }
        }
        if (++n >= APP_SLICE_LINES || now - start >= APP_SLICE_NS) {
            app_sync_counters(a);
            app_schedule_pump(a, 0);
            return;
        }
    }
}

/* ---- loop callbacks ------------------------------------------------------------------------ */

static void app_on_signal(loop *l, int signo, void *ud)
{
    (void)l;
    app *a = ud;
    if (signo == SIGWINCH) {
        if (a->ui)
            ui_on_resize(a->ui);
        return;
    }
    log_info(a->log, "signal %d: shutting down", signo);
    app_request_quit(a);
}

static void app_on_stdin(loop *l, int fd, unsigned events, void *ud)
{
    (void)events;
    app *a = ud;
    if (a->ui)
        ui_on_input(a->ui);
    /* The terminal is gone (its tmux server killed, the pty closed): poll() would report the
     * hang-up forever and the loop would spin on it. Shut down as on SIGHUP: flush, end the
     * session, exit 0. */
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, 0) == 1 && (p.revents & (POLLHUP | POLLERR | POLLNVAL))) {
        loop_unwatch(l, fd);
        log_info(a->log, "the terminal hung up: shutting down");
        app_request_quit(a);
    }
}

static void app_on_store(loop *l, int fd, unsigned events, void *ud)
{
    (void)l;
    (void)fd;
    (void)events;
    app *a = ud;
    store_process(a->store);
}

/* The store's health changed (writes failing, rows lost, recovered): an ERROR line at once;
 * the status document and the UI read store_health() for the banner. */
static void app_on_store_health(void *ud, const store_health_info *h, bool error,
                                const char *msg)
{
    app *a = ud;
    (void)h;
    if (error) {
        log_error(a->log, "%s", msg);
        if (a->ui)
            app_flash(a, "%s", msg);
    } else
        log_info(a->log, "%s", msg);
    a->changes++;
}

static void app_on_replay(loop *l, int fd, unsigned events, void *ud)
{
    (void)l;
    (void)fd;
    (void)events;
    app *a = ud;
    replay_fd_drain(a->replay);
    app_pump(a);
}

static void app_stats_timer(loop *l, uint64_t id, void *ud)
{
    (void)id;
    app *a = ud;
    struct app_private *p = a->priv;
    int64_t now = loop_mono_ms();
    int64_t dt = now - p->stats_mono_ms;
    if (a->live) { /* live frames go straight to the pipeline: its counters are the app's */
        const ingest_stats *is = ingest_get_stats(a->ingest);
        a->messages = is->applied;
        a->malformed = ingest_dropped(a->ingest);
        a->data_ms = ingest_clock_ms(a->ingest);
        a->changes++;
    }
    if (dt > 0) {
        double rate = (double)(a->messages - p->stats_messages) * 1000.0 / (double)dt;
        if (rate != a->msgs_per_s) {
            a->msgs_per_s = rate;
            a->changes++;
        }
    }
    p->stats_mono_ms = now;
    p->stats_messages = a->messages;
    riskview_tick(a); /* VaR / ES, exposure, correlations; a row per data hour */
    if (a->source == APP_SOURCE_LIVE) /* a silent feed's bars still close (and a recording */
        live_wall_tick(a->live, loop_wall_ms()); /* holds the tick: its replay does the same) */
    uint32_t skipped = chartta_skipped(a->chartta);
    if (skipped > p->ta_skipped_warned) {
        p->ta_skipped_warned = skipped;
        log_warn(a->log, "indicators: %u symbol(s) shown without indicators: the list takes "
                 "%zu KB per symbol and the memory budget (%zu MB for indicators) is full",
                 skipped, chartta_per_symbol(a->chartta) / 1024,
                 chartta_budget(a->chartta) / 1048576);
        app_flash(a, "indicators: %u symbol(s) without indicators (memory budget full)", skipped);
    }
    if (a->flash[0] && now >= a->flash_until_ms) {
        a->flash[0] = '\0';
        a->changes++;
    }
    loop_timer_add(l, 1000, app_stats_timer, a);
}

static int app_before_sleep(loop *l, void *ud)
{
    (void)l;
    app *a = ud;
    if (a->ui)
        return ui_draw(a->ui);
    return -1;
}

/* ---- start / run / stop ---------------------------------------------------------------------- */

static bool app_file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Relative replay paths that do not exist from the working directory are looked up in the
 * installed data directory (make install puts the bundled captures there). */
static void app_resolve_replay(app *a, char (*out)[CONFIG_PATH_MAX], const char **specs)
{
    char datadir[CONFIG_PATH_MAX];
    config_datadir(datadir, sizeof datadir);
    for (int i = 0; i < a->cfg.replay_count; i++) {
        const char *f = a->cfg.replay_files[i];
        const char *path = replay_spec_path(f); /* the venue prefix, if any, is kept as given */
        size_t prefix = (size_t)(path - f);
        snprintf(out[i], CONFIG_PATH_MAX, "%s", f);
        if (path[0] != '/' && !app_file_exists(path)) {
            const char *base = strrchr(path, '/');
            base = base ? base + 1 : path;
            char alt[CONFIG_PATH_MAX];
            int n = snprintf(alt, sizeof alt, "%.*s%s/replay/%s", (int)prefix, f,
                             datadir, base);
            if (n > 0 && (size_t)n < sizeof alt && app_file_exists(alt + prefix))
                memcpy(out[i], alt, (size_t)n + 1);
        }
        specs[i] = out[i];
    }
}

/* The market's lookup: decimals of a new symbol from its instrument (tick and step size). */
static bool app_instrument_decimals(void *ud, enum venue v, const char *symbol, int *px,
                                    int *qty)
{
    app *a = ud;
    const instrument *in = a->priv && a->priv->instr ? instruments_find(a->priv->instr, v, symbol)
                                                     : NULL;
    if (!in)
        return false;
    *px = in->px_decimals;
    *qty = in->qty_decimals;
    return true;
}

/* The bundled real exchange info (data/instruments, or the installed copy): replay knows every
 * shipped symbol's filters from the start instead of guessing them from the data. */
static void app_load_instruments(app *a)
{
    static const struct {
        enum venue v;
        const char *file;
    } files[] = {
        {VENUE_BINANCE_SPOT, "binance-spot-exchangeinfo-2021-10-12.json"},
        {VENUE_BINANCE_USDM, "binance-usdm-exchangeinfo-2022-02-19.json"},
    };
    char datadir[CONFIG_PATH_MAX];
    config_datadir(datadir, sizeof datadir);
    a->priv->instr = instruments_new();
    for (size_t i = 0; i < K_ARRAY_LEN(files); i++) {
        char path[CONFIG_PATH_MAX + 96], err[200];
        snprintf(path, sizeof path, "data/instruments/%s", files[i].file);
        if (!app_file_exists(path))
            snprintf(path, sizeof path, "%s/instruments/%s", datadir, files[i].file);
        if (!app_file_exists(path))
            continue;
        if (instruments_load_file(a->priv->instr, files[i].v, path, NULL, err, sizeof err) !=
                INSTR_OK &&
            a->log)
            log_warn(a->log, "instruments %s: %s", path, err);
    }
}

const instruments *app_instruments(const app *a)
{
    return a->priv ? a->priv->instr : NULL;
}

int app_model_open(app *a)
{
    if (!a->priv)
        a->priv = xcalloc(1, sizeof *a->priv);
    if (a->market)
        return K_OK;
    a->market = market_new(&a->cfg.limits);
    if (!a->priv->instr) /* a seek's model reset keeps them */
        app_load_instruments(a);
    market_set_lookup(a->market, app_instrument_decimals, a);
    a->chartta = chartta_new(a->market, 0);
    /* replay and backtest: market time is what the data says; live: the wall clock */
    a->clock = a->source == APP_SOURCE_LIVE && a->loop ? kclock_new_wall(a->loop)
                                                       : kclock_new_simulated();
    ingest_opts io = {.grace_ms = a->cfg.limits.bar_grace_ms};
    a->ingest = ingest_new(a->market, a->clock, &io);
    /* subscribers, in order: the store (and history loads) first, then display indicators */
    if (market_subscribe(a->market, app_on_market, a) != K_OK ||
        market_subscribe(a->market, chartta_on_note, a->chartta) != K_OK)
        return K_ERR;
    if (a->indicators[0]) {
        char ierr[160];
        if (chartta_set(a->chartta, a->indicators, ierr, sizeof ierr) != K_OK) {
            if (a->log) /* never fatal: the model runs without indicators */
                log_warn(a->log, "indicator list '%s' ignored: %s", a->indicators, ierr);
            a->indicators[0] = '\0';
        }
    }
    return K_OK;
}

void app_model_close(app *a)
{
    if (a->priv) {
        instruments_free(a->priv->instr);
        free(a->priv);
        a->priv = NULL;
    }
    ingest_free(a->ingest);
    a->ingest = NULL;
    chartta_free(a->chartta);
    a->chartta = NULL;
    market_free(a->market);
    a->market = NULL;
    kclock_free(a->clock);
    a->clock = NULL;
}

uint64_t app_feed_replay(app *a, replay *r, uint64_t max)
{
    replay_line ln;
    uint64_t n = 0;
    while ((max == 0 || n < max) && replay_next(r, &ln) > 0) {
        n++;
        app_process_line(a, r, &ln);
    }
    const replay_stats *rs = replay_get_stats(r);
    a->malformed = ingest_dropped(a->ingest) + rs->malformed + (uint64_t)rs->read_errors;
    return n;
}

/* A live feed health event (live.h): stalled / recovered feeds and failovers are alerts (the
 * alert list, the bell, alerts.command; live.c rate-limits the stall alerts per connection),
 * failovers also a flash; the status bar's banner follows on the next frame. */
static void app_on_live_event(void *ud, const live_event *ev)
{
    app *a = ud;
    static const char *const kinds[] = {"", "feed_stall", "feed_recovered", "failover",
                                        "failback"};
    const char *kind = (size_t)ev->kind < K_ARRAY_LEN(kinds) ? kinds[ev->kind] : "feed";
    char text[200];
    if (ev->suppressed > 0)
        snprintf(text, sizeof text, "%.120s (+%llu stalls not alerted)", ev->text,
                 (unsigned long long)ev->suppressed);
    else
        snprintf(text, sizeof text, "%s", ev->text);
    struct alerts *al = trading_alerts(a);
    if (al)
        alerts_raise(al, kind, ev->symbol, a->data_ms, ev->value, text);
    if (ev->kind == LIVE_EV_FAILOVER || ev->kind == LIVE_EV_FAILBACK || ev->kind == LIVE_EV_STALL)
        app_flash(a, "%s", text);
    a->changes++;
}

int app_start(app *a, const char *args, char *err, size_t errlen)
{
    a->priv = xcalloc(1, sizeof *a->priv);
    /* app_model_open (below) finds priv allocated */
    a->speed = a->cfg.replay_speed;
    a->chart_tf = a->cfg.ui_timeframe;
    a->source = a->cfg.source_live ? APP_SOURCE_LIVE : APP_SOURCE_REPLAY;

    bool log_stderr = a->headless && !a->cfg.log_file[0];
    char lerr[256];
    a->log = log_open(a->cfg.log_file, log_stderr, a->cfg.log_level, lerr, sizeof lerr);
    if (!a->log) {
        snprintf(err, errlen, "log: %s", lerr);
        return K_ERR;
    }

    a->loop = loop_new();
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH};
    if (loop_signals(a->loop, sigs, (int)K_ARRAY_LEN(sigs), app_on_signal, a) != K_OK) {
        snprintf(err, errlen, "cannot set up signal handling: %s", strerror(errno));
        return K_ERR;
    }

    if (app_model_open(a) != K_OK) {
        snprintf(err, errlen, "cannot subscribe to the market model");
        return K_ERR;
    }

    if (a->source == APP_SOURCE_LIVE && live_check(&a->cfg, err, errlen) != LIVE_OK) {
        a->exit_status = 2; /* a bad watch list or venues.* URL is a usage error */
        return K_ERR;
    }
    /* the control socket first: a start refused because another Kestrel holds it must not have
     * created (or touched) the database */
    ctl_opts co = {.path = a->cfg.socket_path,
                   .idle_timeout_ms = (int)(a->cfg.ctl_idle_timeout_s * 1000.0 + 0.5)};
    if (ctl_server_open(&a->ctl, a->loop, &co, app_ctl_handler, a, err, errlen) != CTL_OK)
        return K_ERR;
    log_info(a->log, "control socket %s", ctl_server_path(a->ctl));

    store_opts so = {.batch = a->cfg.store_batch, .flush_ms = a->cfg.store_flush_ms,
                     .on_health = app_on_store_health, .on_health_ud = a};
    if (store_open(&a->store, a->cfg.db_path, &so, err, errlen) != K_OK)
        return K_ERR;
    a->session_id = store_session_begin(a->store, a->source == APP_SOURCE_LIVE ? "live" : "replay",
                                        a->version, args);
    settings_start(a); /* the stored trading settings over the file's, before the runner */
    watchlist_start(a); /* symbols added / removed at run time, before live subscribes */
    a->btview = btview_new(a->store); /* read when screen 5 is shown (btview.h) */
    if (trading_open(a, err, errlen) != K_OK) /* after the store: its session is the id epoch */
        return K_ERR;
    if (trading_restore(a, err, errlen) != K_OK) /* positions, P&L, open orders as stored */
        return K_ERR;
    if (riskview_attach(a) != K_OK) { /* the hourly risk metrics rows */
        snprintf(err, errlen, "cannot subscribe the risk metrics to the market model");
        return K_ERR;
    }
    char ierr[160];
    if (store_get_setting(a->store, APP_SETTING_INDICATORS, a->indicators,
                          sizeof a->indicators) != STORE_OK)
        snprintf(a->indicators, sizeof a->indicators, "%s", APP_DEFAULT_INDICATORS);
    else if (app_check_indicators(a, a->indicators, ierr, sizeof ierr) != K_OK) {
        app_flash(a, "stored indicator list ignored (%s); using the default", ierr);
        log_warn(a->log, "stored indicator list '%s' ignored: %s", a->indicators, ierr);
        snprintf(a->indicators, sizeof a->indicators, "%s", APP_DEFAULT_INDICATORS);
    }
    if (chartta_set(a->chartta, a->indicators, ierr, sizeof ierr) != K_OK) {
        log_warn(a->log, "indicator list '%s': %s", a->indicators, ierr);
        a->indicators[0] = '\0';
    }
    if (loop_watch(a->loop, store_fd(a->store), LOOP_READ, app_on_store, a) != K_OK) {
        snprintf(err, errlen, "cannot watch the store's completion fd");
        return K_ERR;
    }

    if (a->source == APP_SOURCE_LIVE) {
        live_opts lo = {.loop = a->loop, .ingest = a->ingest, .market = a->market, .log = a->log,
                        .cfg = &a->cfg, .on_event = app_on_live_event, .on_event_ud = a,
                        .instr = a->priv->instr, .store = a->store};
        enum live_result lr = live_open(&a->live, &lo, err, errlen);
        if (lr != LIVE_OK) {
            if (lr != LIVE_ERR_INIT)
                a->exit_status = 2; /* a bad watch list or venues.* URL is a usage error */
            return K_ERR;
        }
        if (a->cfg.record_out[0] &&
            live_record_start(a->live, a->cfg.record_out, err, errlen) != LIVE_OK) {
            a->exit_status = 2; /* --record FILE that cannot be created */
            return K_ERR;
        }
    } else if (a->cfg.replay_count > 0) {
        if (app_replay_open(a, err, errlen) != K_OK) {
            if (!a->replay)
                a->exit_status = 2; /* a bad --replay value is a usage error */
            return K_ERR;
        }
    }

    if (!a->headless) {
        a->ui = ui_open(a, err, errlen);
        if (!a->ui)
            return K_ERR;
        if (loop_watch(a->loop, STDIN_FILENO, LOOP_READ, app_on_stdin, a) != K_OK) {
            snprintf(err, errlen, "cannot watch the terminal's input");
            return K_ERR;
        }
    }
    loop_set_before_sleep(a->loop, app_before_sleep, a);
    a->priv->stats_mono_ms = loop_mono_ms();
    loop_timer_add(a->loop, 1000, app_stats_timer, a);
    log_info(a->log, "kestrel %s started: %s, %d replay file(s), speed %g, db %s", a->version,
             app_source_name(a), a->cfg.replay_count, a->speed, a->cfg.db_path);
    if (a->replay) {
        app_reanchor(a);
        app_schedule_pump(a, 0);
    } else if (a->live) {
        app_flash(a, "live: connecting to %zu stream(s)", live_conn_count(a->live));
    } else {
        app_flash(a, "no data source: replay.files is empty and no --replay was given");
    }
    return K_OK;
}

int app_run(app *a)
{
    if (loop_run(a->loop) != K_OK) {
        log_error(a->log, "event loop failed: %s", strerror(errno));
        a->exit_status = 1;
    }
    return a->exit_status;
}

void app_stop(app *a)
{
    if (!a->priv || a->priv->stopped)
        return;
    a->priv->stopped = true;
    if (a->ui) {
        ui_close(a->ui);
        a->ui = NULL;
    }
    if (a->priv->status_pending) /* every history load merged */
        app_history_drain(a);
    if (a->priv->status_pending && a->store)
        store_flush(a->store); /* every queued row committed: the store counters are final */
    if (a->priv->status_pending) { /* the terminal is back: the status goes to the shell */
        a->priv->status_pending = false;
        app_print_status(a);
    }
    if (a->ctl) {
        ctl_server_close(a->ctl);
        a->ctl = NULL;
    }
    if (a->store) {
        trading_engine_flush(a); /* the engine's last rows and model state, before the store closes */
        store_session_end(a->store);
        store_health_info fin;
        store_close_final(a->store, &fin);
        a->store = NULL;
        btview_free(a->btview); /* after the close: the store has run every callback */
        a->btview = NULL;
        if (fin.rows_lost > 0 && a->log)
            log_error(a->log, "store: %llu rows were lost in this run (%llu dropped, %llu failed)",
                      (unsigned long long)fin.rows_lost, (unsigned long long)fin.rows_dropped,
                      (unsigned long long)fin.rows_failed);
        if (fin.rows_lost > 0 && a->exit_at_end && a->exit_status == 0)
            a->exit_status = 4; /* documented in kestrel(1), EXIT STATUS */
    }
    if (a->replay) {
        replay_close(a->replay);
        a->replay = NULL;
    }
    live_close(a->live); /* the net thread joined, REST cancelled: before the loop goes */
    a->live = NULL;
    trading_close(a);   /* unsubscribes and cancels its clock timer: before the model goes */
    settings_free(a);
    watchlist_free(a);
    riskview_free(a);
    app_model_close(a); /* frees priv too; before the loop its wall clock's timer is on */
    if (a->loop) {
        loop_free(a->loop);
        a->loop = NULL;
    }
    if (a->log) {
        log_info(a->log, "stopped");
        log_close(a->log);
        a->log = NULL;
    }
}
