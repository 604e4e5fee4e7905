/* The app: wires the loop, the replay source, the market model, the store, the control socket and
 * the UI together, and paces the replay.
 *
 * Data path (all on the main thread): replay line -> replay_decode (pure) -> market_apply ->
 * market notes (bar closed, book gap, ...) -> store queue. The same path will take live frames
 * from the net thread's queue: only the source changes.
 *
 * Pacing: a line is due at anchor_mono + (recv_ns - anchor_data) / speed. The pump processes every
 * due line, but never more than a slice (a few thousand lines or ~8 ms) per loop iteration, so the
 * UI, the control socket and signals stay responsive even at --speed 0. Pause and speed changes
 * re-anchor at the next pending line, so the data clock never jumps. */
#include "kestrel/app.h"
#include "kestrel/ctl.h"
#include "kestrel/replay.h"
#include "kestrel/store.h"
#include "kestrel/ta.h"
#include "kestrel/ui.h"
#include "kestrel/xmalloc.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define APP_SLICE_LINES 4096
#define APP_SLICE_NS (8 * 1000000LL)
#define APP_HISTORY_MAX 2000
#define APP_MAX_INDICATORS 16 /* instances in the list: memory ~ symbols x 7 x this x history */
#define APP_TA_HISTORY 600 /* indicator values kept per series for drawing */
#define APP_SETTING_INDICATORS "ui.indicators"
/* An exchange time (E, trade T) this far from the message's receive time is not believed: the
 * message is malformed. Real captures differ by about a second; a forged or broken time would
 * otherwise drag the data clock ahead, fill empty bars up to it and turn every later trade late. */
#define APP_MAX_SKEW_MS (5 * 60 * 1000LL)
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
    candle *history; /* scratch for loading history from the store */
    bool status_pending; /* --exit-at-end with the UI: print the status once the UI is closed */
    int64_t line_ms;           /* time of the message being applied (see app_process_line) */
    uint64_t malformed_decode; /* decoder/model refusals (the replay reader counts its own) */
    bool warned_full;          /* the max_symbols WARN has been logged */
};

static void app_pump(app *a);
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
    if (a->paused || a->finished || a->quitting || !a->replay)
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

static void app_load_history(app *a, market_sym *s)
{
    if (!a->store)
        return;
    for (int t = 0; t < TF_COUNT; t++) {
        int64_t span = tf_ms((enum tf)t);
        int64_t now = a->priv->line_ms;
        int64_t before = now - (now % span); /* the bar the new data will form */
        uint32_t max = a->cfg.limits.candles_max;
        if (max > APP_HISTORY_MAX)
            max = APP_HISTORY_MAX;
        int n = store_load_candles(a->store, s->venue, s->name, (enum tf)t, before,
                                   a->priv->history, max);
        if (n > 0) {
            candles_load(s->series[t], a->priv->history, (uint32_t)n);
            if (s->ta[t])
                for (int i = 0; i < n; i++) {
                    ta_bar b = ta_bar_from_candle(&a->priv->history[i]);
                    ta_chart_on_bar(s->ta[t], &b);
                }
        }
    }
}

/* (Re)builds the indicator charts of one series from its closed bars. */
static void app_attach_ta(app *a, market_sym *s, enum tf t)
{
    ta_chart_free(s->ta[t]);
    s->ta[t] = NULL;
    if (!a->indicators[0])
        return;
    char err[160];
    s->ta[t] = ta_chart_new(a->indicators, APP_TA_HISTORY, err, sizeof err);
    if (!s->ta[t]) {
        log_warn(a->log, "indicators '%s': %s", a->indicators, err);
        return;
    }
    candles *c = s->series[t];
    uint32_t n = candles_count(c);
    uint32_t from = n > APP_TA_HISTORY * 2 ? n - APP_TA_HISTORY * 2 : 0;
    for (uint32_t i = from; i < n; i++) {
        ta_bar b = ta_bar_from_candle(candles_get(c, i));
        ta_chart_on_bar(s->ta[t], &b);
    }
}

/* A list every series can carry: parses, and not too many instances. */
static int app_check_indicators(const char *specs, char *err, size_t errlen)
{
    if (!specs[0])
        return K_OK;
    ta_chart *probe = ta_chart_new(specs, 1, err, errlen);
    if (!probe)
        return K_ERR;
    uint32_t n = ta_chart_instances(probe);
    ta_chart_free(probe);
    if (n > APP_MAX_INDICATORS) { /* every series carries them: keep memory bounded */
        snprintf(err, errlen, "%u indicators is too many (at most %d)", n, APP_MAX_INDICATORS);
        return K_ERR;
    }
    return K_OK;
}

int app_set_indicators(app *a, const char *specs, char *err, size_t errlen)
{
    if (strlen(specs) >= sizeof a->indicators) {
        snprintf(err, errlen, "indicator list too long (max %zu bytes)",
                 sizeof a->indicators - 1);
        return K_ERR;
    }
    if (app_check_indicators(specs, err, errlen) != K_OK) /* before touching anything */
        return K_ERR;
    snprintf(a->indicators, sizeof a->indicators, "%s", specs);
    for (uint32_t i = 0; i < market_count(a->market); i++)
        for (int t = 0; t < TF_COUNT; t++)
            app_attach_ta(a, market_at(a->market, i), (enum tf)t);
    if (a->store)
        store_put_setting(a->store, APP_SETTING_INDICATORS, a->indicators, a->data_ms);
    a->changes++;
    return K_OK;
}

static void app_on_market(void *ud, const market_note *n)
{
    app *a = ud;
    market_sym *s = n->sym;
    switch (n->kind) {
    case MARKET_SYMBOL_ADDED:
        if (a->store)
            store_put_instrument(a->store, s->venue, s->name, s->px_decimals, s->qty_decimals,
                                 a->data_ms);
        for (int t = 0; t < TF_COUNT; t++)
            app_attach_ta(a, s, (enum tf)t);
        app_load_history(a, s);
        log_info(a->log, "symbol %s %s added", venue_name(s->venue), s->name);
        break;
    case MARKET_BAR_CLOSED:
        if (a->store)
            store_put_candle(a->store, s->venue, s->name, n->tf, n->bar);
        if (s->ta[n->tf]) {
            ta_bar b = ta_bar_from_candle(n->bar);
            ta_chart_on_bar(s->ta[n->tf], &b);
        }
        break;
    case MARKET_BOOK_GAP:
        log_warn(a->log, "%s %s: sequence gap at update id %lld, book RESYNCING",
                 venue_name(s->venue), s->name, (long long)book_last_id(s->book));
        if (a->store)
            store_put_book_event(a->store, a->data_ms, s->venue, s->name, "gap",
                                 book_last_id(s->book), "sequence gap");
        break;
    case MARKET_BOOK_SYNCED:
        log_info(a->log, "%s %s: book %s at update id %lld", venue_name(s->venue), s->name,
                 n->resync ? "resynced" : "synced", (long long)book_last_id(s->book));
        if (a->store)
            store_put_book_event(a->store, a->data_ms, s->venue, s->name,
                                 n->resync ? "resynced" : "synced", book_last_id(s->book), "");
        break;
    case MARKET_BOOK_CROSSED:
        log_warn(a->log, "%s %s: book crossed at update id %lld", venue_name(s->venue), s->name,
                 (long long)book_last_id(s->book));
        if (a->store)
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

static void app_finish(app *a)
{
    a->finished = true;
    a->changes++;
    const replay_stats *rsp = replay_get_stats(a->replay);
    replay_stats rs = *rsp;
    log_info(a->log, "replay finished: %llu messages, %llu malformed (%llu lines read)",
             (unsigned long long)a->messages, (unsigned long long)a->malformed,
             (unsigned long long)rs.lines);
    if (a->ui)
        app_flash(a, "replay finished: the screen keeps the final state (q quits)");
    /* record what was learned about the symbols (display precision) */
    for (uint32_t i = 0; a->store && i < market_count(a->market); i++) {
        market_sym *s = market_at(a->market, i);
        store_put_instrument(a->store, s->venue, s->name, s->px_decimals, s->qty_decimals,
                             a->data_ms);
    }
    if (a->exit_at_end) {
        if (a->ui)
            a->priv->status_pending = true; /* stdout is the UI's screen until app_stop */
        else
            app_print_status(a);
        app_request_quit(a);
    }
}

static void app_process_line(app *a, const replay_line *line)
{
    feed_event ev;
    const char *why = NULL;
    if (replay_decode(a->replay, line, &ev, &why) != K_OK) {
        a->priv->malformed_decode++;
        log_debug(a->log, "malformed message dropped (%s)", why ? why : "?");
        return;
    }
    if (ev.kind == FEED_NONE)
        return;
    int64_t recv_ms = line->recv_ns / 1000000;
    int64_t t;
    if (ev.event_ms > 0) {
        t = ev.event_ms;
        if (ev.kind == FEED_TRADE && ev.u.trade.time_ms > t)
            t = ev.u.trade.time_ms;
        if (llabs(ev.event_ms - recv_ms) > APP_MAX_SKEW_MS ||
            (ev.kind == FEED_TRADE && llabs(ev.u.trade.time_ms - recv_ms) > APP_MAX_SKEW_MS)) {
            a->priv->malformed_decode++;
            log_debug(a->log, "malformed message dropped (exchange time %lld is %lld s from "
                      "its receive time)", (long long)t, (long long)((t - recv_ms) / 1000));
            return;
        }
    } else {
        /* no exchange time (spot bookTicker, REST snapshot): the receive time moves a clock
         * that an exchange time has started, unless it is far from it (a garbage timestamp
         * must neither start nor drag the clock) */
        t = a->data_ms != 0 && llabs(recv_ms - a->data_ms) <= APP_MAX_SKEW_MS ? recv_ms : 0;
    }
    if (t > a->data_ms)
        a->data_ms = t;
    /* the time this message stands for: what a symbol it creates loads its history before */
    a->priv->line_ms = t ? t : a->data_ms ? a->data_ms : recv_ms;
    if (market_apply(a->market, &ev) != K_OK) {
        a->priv->malformed_decode++;
        if (!a->priv->warned_full && market_refused(a->market) > 0) { /* once per run */
            a->priv->warned_full = true;
            log_warn(a->log, "symbol %s ignored: market.max_symbols (%u) reached; its messages "
                     "count as malformed", ev.symbol, a->cfg.limits.max_symbols);
        }
        return;
    }
    a->messages++;
    int64_t sec = a->data_ms / 1000;
    if (sec != a->priv->last_advance_s) {
        a->priv->last_advance_s = sec;
        market_advance(a->market, a->data_ms);
    }
}

/* Malformed = what the decoder and the model refused + what the reader refused (bad timestamps,
 * oversized lines, truncated files). */
static void app_sync_counters(app *a)
{
    const replay_stats *rsp = replay_get_stats(a->replay);
    replay_stats rs = *rsp;
    uint64_t m = a->priv->malformed_decode + rs.malformed + (uint64_t)rs.read_errors;
    if (m != a->malformed) {
        a->malformed = m;
        a->changes++;
    }
}

static void app_pump(app *a)
{
    struct app_private *p = a->priv;
    if (a->paused || a->finished || a->quitting || !a->replay)
        return;
    int64_t start = loop_mono_ns();
    int n = 0;
    for (;;) {
        if (!p->pending) {
            int r = replay_next(a->replay, &p->line);
            if (r == REPLAY_AGAIN) { /* the reader is behind: replay_fd() calls back */
                app_sync_counters(a);
                return;
            }
            if (r <= 0) {
                app_sync_counters(a);
                app_finish(a);
                return;
            }
            p->pending = true;
        }
        int64_t now = loop_mono_ns();
        /* receive times are never negative (digits only): their difference cannot overflow */
        int64_t step = p->line.recv_ns - p->prev_recv_ns;
        bool jump = p->have_prev && (step > APP_MAX_GAP_NS || step < -APP_MAX_GAP_NS);
        if (!p->anchored || jump) {
            p->anchored = true;
            p->anchor_mono_ns = now;
            p->anchor_data_ns = p->line.recv_ns;
        }
        if (a->speed > 0) {
            double offset = (double)(p->line.recv_ns - p->anchor_data_ns) / a->speed;
            int64_t due = p->anchor_mono_ns + (int64_t)offset;
            if (due > now) {
                int64_t ms = (due - now + 999999) / 1000000;
                app_schedule_pump(a, ms > 1000 ? 1000 : ms);
                app_sync_counters(a);
                return;
            }
        }
        app_process_line(a, &p->line);
        p->prev_recv_ns = p->line.recv_ns;
        p->have_prev = true;
        p->pending = false;
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
    (void)l;
    (void)fd;
    (void)events;
    app *a = ud;
    if (a->ui)
        ui_on_input(a->ui);
}

static void app_on_store(loop *l, int fd, unsigned events, void *ud)
{
    (void)l;
    (void)fd;
    (void)events;
    app *a = ud;
    store_process(a->store);
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
    if (dt > 0) {
        double rate = (double)(a->messages - p->stats_messages) * 1000.0 / (double)dt;
        if (rate != a->msgs_per_s) {
            a->msgs_per_s = rate;
            a->changes++;
        }
    }
    p->stats_mono_ms = now;
    p->stats_messages = a->messages;
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

int app_start(app *a, const char *args, char *err, size_t errlen)
{
    a->priv = xcalloc(1, sizeof *a->priv);
    a->priv->history = xcalloc(APP_HISTORY_MAX, sizeof(candle));
    a->speed = a->cfg.replay_speed;
    a->chart_tf = a->cfg.ui_timeframe;
    a->source = APP_SOURCE_REPLAY;

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

    store_opts so = {.batch = a->cfg.store_batch, .flush_ms = a->cfg.store_flush_ms};
    if (store_open(&a->store, a->cfg.db_path, &so, err, errlen) != K_OK)
        return K_ERR;
    store_session_begin(a->store, "replay", a->version, args);
    char ierr[160];
    if (store_get_setting(a->store, APP_SETTING_INDICATORS, a->indicators,
                          sizeof a->indicators) != 1)
        snprintf(a->indicators, sizeof a->indicators, "%s", APP_DEFAULT_INDICATORS);
    else if (app_check_indicators(a->indicators, ierr, sizeof ierr) != K_OK) {
        app_flash(a, "stored indicator list ignored (%s); using the default", ierr);
        snprintf(a->indicators, sizeof a->indicators, "%s", APP_DEFAULT_INDICATORS);
    }
    if (loop_watch(a->loop, store_fd(a->store), LOOP_READ, app_on_store, a) != K_OK) {
        snprintf(err, errlen, "cannot watch the store's completion fd");
        return K_ERR;
    }

    a->market = market_new(&a->cfg.limits);
    market_set_listener(a->market, app_on_market, a);

    if (a->cfg.replay_count > 0) {
        char resolved[CONFIG_MAX_REPLAY][CONFIG_PATH_MAX];
        const char *specs[CONFIG_MAX_REPLAY];
        app_resolve_replay(a, resolved, specs);
        if (replay_open(&a->replay, specs, a->cfg.replay_count, err, errlen) != K_OK) {
            a->exit_status = 2; /* a bad --replay value is a usage error */
            return K_ERR;
        }
        replay_set_nonblock(a->replay, true); /* the loop never waits for a reader */
        if (loop_watch(a->loop, replay_fd(a->replay), LOOP_READ, app_on_replay, a) != K_OK) {
            snprintf(err, errlen, "cannot watch the replay's fd");
            return K_ERR;
        }
    }

    char sock[CONFIG_PATH_MAX];
    const char *sock_path = a->cfg.socket_path[0]
                                ? a->cfg.socket_path
                                : ctl_default_path(sock, sizeof sock, a->cfg.db_path);
    if (!sock_path) {
        snprintf(err, errlen, "the default control socket path next to %s is too long "
                              "(give one with --socket)",
                 a->cfg.db_path);
        return K_ERR;
    }
    if (ctl_server_open(&a->ctl, a->loop, sock_path, app_ctl_handler, a, err, errlen) != K_OK)
        return K_ERR;
    log_info(a->log, "control socket %s", sock_path);

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
    if (a->priv->status_pending) { /* the terminal is back: the status goes to the shell */
        a->priv->status_pending = false;
        app_print_status(a);
    }
    if (a->ctl) {
        ctl_server_close(a->ctl);
        a->ctl = NULL;
    }
    if (a->store) {
        store_session_end(a->store);
        store_close(a->store);
        a->store = NULL;
    }
    if (a->replay) {
        replay_close(a->replay);
        a->replay = NULL;
    }
    if (a->market) {
        for (uint32_t i = 0; i < market_count(a->market); i++) {
            market_sym *s = market_at(a->market, i);
            for (int t = 0; t < TF_COUNT; t++) {
                ta_chart_free(s->ta[t]);
                s->ta[t] = NULL;
            }
        }
        market_free(a->market);
        a->market = NULL;
    }
    if (a->loop) {
        loop_free(a->loop);
        a->loop = NULL;
    }
    if (a->log) {
        log_info(a->log, "stopped");
        log_close(a->log);
        a->log = NULL;
    }
    free(a->priv->history);
    free(a->priv);
    a->priv = NULL;
}
