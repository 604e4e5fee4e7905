/* The application struct: the one owner of all mutable state (config, loop, market model, store,
 * replay, UI, control socket). main.c holds the only instance. UI panes and control commands read
 * it and act on it only through the app_* functions below. */
#ifndef KESTREL_APP_H
#define KESTREL_APP_H
#include "kestrel/config.h"
#include "kestrel/ctl.h"
#include "kestrel/log.h"
#include "kestrel/loop.h"
#include "kestrel/market.h"

struct store;
struct replay;
struct ingest;
struct kclock;
struct chartta;
struct ta_chart;
struct ui;
struct ctl_server;
struct cJSON;

enum app_source { APP_SOURCE_REPLAY = 0, APP_SOURCE_LIVE, APP_SOURCE_BACKTEST };

typedef struct app {
    kconfig cfg;
    klog *log;
    loop *loop;
    market *market;
    struct ingest *ingest;   /* the one pipeline every source feeds */
    struct kclock *clock;    /* market time: simulated (replay) or wall (live) */
    struct chartta *chartta; /* the chart's indicators, one market subscriber */
    struct runner *runner;   /* trading: engine, risk, paper broker, portfolio (trading.h) */
    struct trading *trading; /* the app's side of it: recent fills */
    struct settings *settings;   /* run-time trading settings and their sources (settings.h) */
    struct watchlist *watchlist; /* symbols added / removed at run time (watchlist.h) */
    struct riskview *riskview;   /* VaR / ES, exposure, correlations (riskview.h) */
    int64_t session_id;      /* the store's session row (client order id epoch) */
    uint32_t trading_reruns; /* trading restarted inside this session (seek back, restart): part
                              * of the id epoch, so a re-run never reuses an id */
    struct store *store;
    struct btview *btview;   /* the Backtests screen's stored runs (btview.h) */
    struct replay *replay;
    struct live *live;       /* live market data (source LIVE), else NULL (live.h) */
    struct ui *ui;           /* NULL when headless */
    struct ctl_server *ctl;

    enum app_source source;
    bool headless;
    bool exit_at_end;
    const char *version;

    /* replay pacing */
    double speed;      /* 0 = as fast as possible */
    bool paused;
    bool finished;     /* the replay data has ended; the screen keeps the final state */
    int64_t data_ms;   /* data clock (newest venue clock of the pipeline), UTC ms */
    /* replay controls (app_replay_progress, app_seek, app_step, app_restart) */
    bool seeking;      /* running at full speed to a seek target */
    bool stepping;     /* `step`: feeding lines until one more bar of the focused chart closes */
    uint64_t loops;    /* passes completed by --loop / replay.loop */

    /* bad replay input: "FILE: problem" (the first one, "+N more"), "" when the data is fine;
     * the status bar draws banner, the status document says data_problem */
    char banner[256];
    char data_problem[640]; /* the same with the full path(s), "" when fine */
    uint64_t lines_before, malformed_before; /* replay lines / reader refusals of earlier passes */

    /* counters */
    uint64_t messages;   /* messages decoded and applied */
    uint64_t malformed;  /* messages dropped as malformed (decoder, replay reader, model) */
    double msgs_per_s;   /* over the last second of wall time */

    /* UI selection (shared so ctl and UI agree) */
    uint32_t focus;      /* index of the focused symbol in the market */
    enum tf chart_tf;

    char flash[160];     /* transient message for the status line */
    int64_t flash_until_ms;

    /* indicators computed for every (symbol, timeframe): a ta spec list ("sma_20,rsi_14"),
     * persisted in the store's settings; the chart draws from app_chart_ta() */
    char indicators[512];

    uint64_t changes;    /* bumped on any app-level state change (pause, speed, ...) */
    bool quitting;
    int exit_status;

    struct app_private *priv; /* replay pacing, timers, counters: private to src/app */
} app;

/* Start-up after the config is final: log, store, market, replay, control socket, UI.
 * args is the command line, recorded in the session row. K_ERR with a message in err. */
int app_start(app *a, const char *args, char *err, size_t errlen);
/* The model half of the app, without loop, store, socket or UI (app_start calls it; tests and
 * benches use it to run the app's exact data path): market, display indicators, market clock,
 * ingest pipeline and the subscribers in their order. K_ERR if a subscription fails. */
int app_model_open(app *a);
void app_model_close(app *a);
/* Feeds up to max lines (0 = all) of r through the app's own path (the ingest pipeline and the
 * subscribers), updating messages, malformed and data_ms as the pump does. Returns lines read. */
uint64_t app_feed_replay(app *a, struct replay *r, uint64_t max);
/* Runs the loop until quit; returns the process exit status. */
int app_run(app *a);
/* Reverse order: UI restored, control socket removed, store flushed and closed. Idempotent. */
void app_stop(app *a);

/* Replay controls (no-ops with a flash message when not replaying). */
void app_set_paused(app *a, bool paused);
void app_set_speed(app *a, double speed); /* clamps to 0 or 0.01..1000 */
void app_speed_step(app *a, int dir);     /* dir > 0 faster, < 0 slower: 0.25 .. 64 x, then max */
void app_request_quit(app *a);
void app_set_focus(app *a, uint32_t sym_index);
void app_set_timeframe(app *a, enum tf tf);
/* Replaces the indicator list (validated first; K_ERR + message when a spec is bad): rebuilds
 * every chart from its closed bars and persists the choice. "" turns indicators off. */
int app_set_indicators(app *a, const char *specs, char *err, size_t errlen);
/* The chart indicators of a series (NULL when none). */
const struct ta_chart *app_chart_ta(const app *a, const market_sym *s, enum tf tf);
/* The exchange filters the app knows (the bundled exchange info); NULL before the model opens. */
const struct instruments *app_instruments(const app *a);
#define APP_DEFAULT_INDICATORS "sma_20,ema_50,bb_20_2,rsi_14,macd_12_26_9"
void app_flash(app *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The progress line model. progress 0..1; position_ms = the data clock; span_start_ms /
 * span_end_ms = the first / last receive time of the files (end estimated from the compressed
 * bytes read until a pass has completed; with --loop, of the current pass, shifted); eta_s =
 * wall seconds left at the current speed (-1 = unknown: at max speed, or nothing read yet). */
typedef struct app_progress {
    double progress;
    int64_t position_ms, span_start_ms, span_end_ms;
    double eta_s;
    bool span_exact; /* span_end_ms is known, not estimated */
} app_progress;
app_progress app_replay_progress(const app *a);
/* Seek to target_ms on the data clock (UTC ms): the pipeline runs at full speed until the data
 * clock reaches it (it stops after the first line that takes it there). Backwards re-runs the
 * pipeline from the start at full speed (replay reopened, model reset), forwards runs on at full
 * speed; either way the state at the target is what an uninterrupted run has there. K_ERR
 * with a message when not replaying. */
int app_seek(app *a, int64_t target_ms, char *err, size_t errlen);
/* Restart the replay from its first line (same speed and pause state). */
int app_restart(app *a, char *err, size_t errlen);
/* While paused: feed lines until one more bar of the focused symbol's chart timeframe closes. */
int app_step(app *a, char *err, size_t errlen);

/* Source label for screens: "REPLAY" / "LIVE" / "BACKTEST"; broker label: "PAPER". */
const char *app_source_name(const app *a);
const char *app_broker_name(const app *a);

/* The control socket's handler (src/app/commands.c): every request runs through the command
 * table (include/kestrel/cmd.h) like a key does; CMD_WAIT becomes a deferred reply. */
enum ctl_answer app_ctl_handler(void *ud, ctl_req *rq);

/* The status document (ctl `status`, printed by --exit-at-end), assembled by cmd_status_json
 * from each module's section. Caller frees with cJSON_Delete; NULL when out of memory. */
struct cJSON *app_status_json(app *a);

#endif
