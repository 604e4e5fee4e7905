/* The command table: every action Kestrel can take on request — from a key, from the control
 * socket (`kestrel ctl NAME ARGS...`) or listed by the help overlay — is one cmd_entry (name,
 * argument usage, help line, arity, handler), in the way tmux's cmd-*.c entries are. Keys map to
 * command lines (include/kestrel/keys.h), so a key and `kestrel ctl` can never disagree.
 *
 * Adding a command: write `const cmd_entry cmd_foo_entry = {...}` next to the code it drives
 * (its handler takes a cmd_ctx), declare it below, and add it to cmd_table[] in src/app/cmd.c.
 * Handlers answer CMD_OK (fill c->out), CMD_ERROR (c->err) or CMD_WAIT (reply later through
 * cmd_reply_send(a, c->token, json) — e.g. when the broker has answered). Only the control
 * socket can wait (c->token != 0); from a key, answer CMD_OK at once and report the outcome
 * later on the screen (app_flash). A key's CMD_ERROR message is flashed as "KEY: message".
 *
 * Also here: the one validator per value shared by the command line and the commands
 * (cmd_parse_speed, cmd_parse_count), and checked JSON builders (a sticky c->oom). */
#ifndef KESTREL_CMD_H
#define KESTREL_CMD_H
#include "kestrel/common.h"

#include <stdio.h>

struct app;
struct ui;
struct cJSON;

#define CMD_ERR_MAX 512
#define CMD_MAX_ARGS 16
#define CMD_STATUS_SCHEMA 2 /* "schema" of the status document; bump on an incompatible change */

/* Outcome of a command (0 = success). */
typedef enum cmd_result {
    CMD_OK = 0, /* done; c->out is the response */
    CMD_ERROR,  /* refused or failed; c->err says why */
    CMD_WAIT,   /* the reply comes later (control socket only): cmd_reply_send(c->token) */
} cmd_result;
const char *cmd_strerror(cmd_result r);

enum cmd_origin { CMD_FROM_KEY = 0, CMD_FROM_CTL, CMD_FROM_INTERNAL };

/* Flags of an entry. */
#define CMD_F_UI 1u       /* needs the terminal UI (refused headless) */
#define CMD_F_RESERVED 2u /* bound and listed, but not yet available (a later issue) */

typedef struct cmd_ctx {
    struct app *a;
    struct ui *ui; /* the screen, if any (cmd_run takes a->ui when NULL) */
    enum cmd_origin origin;
    int argc; /* argv[0] is the command name as typed */
    const char *const *argv;
    struct cJSON *out; /* the response object, created before the handler runs */
    bool oom;          /* sticky: a JSON allocation failed (the response becomes an error) */
    uint64_t token;    /* CMD_FROM_CTL: names the request for cmd_reply_send (else 0) */
    /* CMD_WAIT from the control socket: called if the client leaves before the reply */
    void (*cancel)(void *cancel_ud, uint64_t token);
    void *cancel_ud;
    char err[CMD_ERR_MAX];
} cmd_ctx;

typedef struct cmd_entry {
    const char *name;       /* "status", "speed", "pane-next" */
    const char *args;       /* usage of the arguments: "SYMBOL [DEPTH]", "" for none */
    const char *help;       /* one line: what it does */
    int min_args, max_args; /* arguments after the name */
    unsigned flags;         /* CMD_F_* */
    cmd_result (*exec)(cmd_ctx *c);
} cmd_entry;

/* The entries (defined next to the code they drive). */
extern const cmd_entry cmd_status_entry, cmd_book_entry, cmd_candles_entry, cmd_indicators_entry,
    cmd_pause_entry, cmd_resume_entry, cmd_speed_entry, cmd_timeframe_entry, cmd_focus_entry,
    cmd_ping_entry, cmd_quit_entry, cmd_help_entry, cmd_step_entry, cmd_seek_entry,
    cmd_restart_entry;
extern const cmd_entry cmd_screen_entry, cmd_pane_next_entry, cmd_pane_prev_entry, cmd_zoom_entry,
    cmd_move_entry, cmd_select_entry, cmd_mouse_entry, cmd_picker_entry, cmd_repaint_entry,
    cmd_close_overlay_entry; /* src/ui/ui_cmd.c */
extern const cmd_entry cmd_order_entry, cmd_close_position_entry,
    cmd_cancel_order_entry, cmd_close_all_entry, cmd_settings_entry, cmd_watch_add_entry,
    cmd_watch_remove_entry, cmd_auto_start_entry, cmd_auto_pause_entry, cmd_signal_entry,
    cmd_backtests_entry,
    cmd_ticket_entry; /* order, close, cancel-order, close-all, start, pause-trading, signal:
                       * trading.c; ticket: src/ui/ticket.c; the others reserved */
extern const cmd_entry cmd_connections_entry; /* src/app/commands.c (live.h) */
extern const cmd_entry cmd_record_entry;      /* src/app/commands.c (live.h) */
extern const cmd_entry cmd_cancel_entry, cmd_trades_entry, cmd_get_entry, cmd_set_entry,
    cmd_positions_entry, cmd_orders_entry, cmd_fills_entry, cmd_portfolio_entry,
    cmd_risk_entry, cmd_metrics_entry; /* src/app/trading.c (with order, close, close-all, start,
                                        * pause-trading and signal above) */
extern const cmd_entry cmd_alerts_entry; /* src/app/trading.c: the alert history */
extern const cmd_entry cmd_amend_entry, cmd_sweep_entry; /* src/app/trading.c */
extern const cmd_entry cmd_symbols_entry; /* src/app/watchlist.c (watch-add / watch-remove and
                                           * settings: src/ui/watch_form.c, settings_form.c) */

/* The table, in help order. */
size_t cmd_count(void);
const cmd_entry *cmd_at(size_t i);
/* Exact name; NULL when unknown. */
const cmd_entry *cmd_find(const char *name);

/* Runs argv[0] with its arguments: looks it up, checks arity and flags, runs the handler.
 * c must have a, origin, argc, argv (and token for the control socket) set; c->out is created
 * here (and deleted again on CMD_ERROR/CMD_WAIT). Unknown command: CMD_ERROR with
 * "unknown command 'x' (try: help)". An allocation failure while building the response turns
 * it into CMD_ERROR "out of memory". */
K_MUST_USE cmd_result cmd_run(cmd_ctx *c);
/* Splits line on spaces (no quoting: key bindings only) and runs it from origin on the screen
 * u (may be NULL); the response is discarded, an error message is copied to err. */
K_MUST_USE cmd_result cmd_run_line(struct app *a, struct ui *u, enum cmd_origin origin,
                                   const char *line, char *err, size_t errlen);

/* A deferred reply for a request that answered CMD_WAIT (json taken in every case). K_OK, or
 * K_ERR when the client has left. Token 0 (a key) is a no-op. */
K_MUST_USE int cmd_reply_send(struct app *a, uint64_t token, struct cJSON *json);
K_MUST_USE int cmd_reply_error(struct app *a, uint64_t token, const char *msg);

/* printf into c->err; returns CMD_ERROR. */
cmd_result cmd_fail(cmd_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- validators: one per value, for the command line and the commands alike ---- */

/* Replay speed: "0" (as fast as possible) or a plain decimal 0.01..1000 ("1", "2.5", "1e1").
 * Refused: empty, signs (so "-0"), hex floats, "inf"/"nan", values that underflow ("1e-400") or
 * round to nothing, trailing characters, whitespace. K_OK with *out, or K_ERR with a message
 * ("speed '%s' is not valid (expected 0 or 0.01..1000)") in err. */
K_MUST_USE int cmd_parse_speed(const char *s, double *out, char *err, size_t errlen);
/* A seek target: ISO UTC ("2024-08-08T23:58:00Z", seconds and ".mmm" optional, "Z" optional),
 * milliseconds since the epoch (digits), or +N / -N seconds relative to now_ms (N digits with an
 * optional fraction). K_OK with *out (UTC ms, 2000..2200), or K_ERR with a message in err. */
K_MUST_USE int cmd_parse_seek(const char *s, int64_t now_ms, int64_t *out, char *err,
                              size_t errlen);
/* A count 1..max in plain decimal digits (no sign, no spaces). K_OK or K_ERR. */
K_MUST_USE int cmd_parse_count(const char *s, long max, long *out);

/* ---- checked JSON builders: on failure they set c->oom and return false/NULL ---- */

bool cmd_json_str(cmd_ctx *c, struct cJSON *o, const char *key, const char *v);
bool cmd_json_num(cmd_ctx *c, struct cJSON *o, const char *key, double v);
bool cmd_json_bool(cmd_ctx *c, struct cJSON *o, const char *key, bool v);
bool cmd_json_null(cmd_ctx *c, struct cJSON *o, const char *key);
/* 64-bit ids go out as strings ("6493000123"), never as doubles. */
bool cmd_json_id(cmd_ctx *c, struct cJSON *o, const char *key, uint64_t v);
/* Prices and quantities: the exact decimal string with the given decimals. */
bool cmd_json_dec(cmd_ctx *c, struct cJSON *o, const char *key, kdec v, int decimals);
struct cJSON *cmd_json_obj(cmd_ctx *c, struct cJSON *o, const char *key);
struct cJSON *cmd_json_arr(cmd_ctx *c, struct cJSON *o, const char *key);
/* Appends to an array: a string / a decimal string / an item (taken; NULL counts as oom). */
bool cmd_json_push_str(cmd_ctx *c, struct cJSON *arr, const char *v);
bool cmd_json_push_dec(cmd_ctx *c, struct cJSON *arr, kdec v, int decimals);
bool cmd_json_push(cmd_ctx *c, struct cJSON *arr, struct cJSON *item);

/* ---- the status document: one section per module, in this order ---- */

typedef struct cmd_status_section {
    const char *name; /* "app", "replay", "store", "market", "control", "ui" */
    /* adds its keys to doc (top-level keys, or one object under its own key) */
    void (*fill)(cmd_ctx *c, struct cJSON *doc);
} cmd_status_section;
/* Each module's section (src/app/commands.c and src/ui/ui_cmd.c; a module that gains state adds
 * its section to cmd_status_sections in src/app/cmd.c). */
void cmd_status_app(cmd_ctx *c, struct cJSON *doc);
void cmd_status_replay(cmd_ctx *c, struct cJSON *doc);
void cmd_status_store(cmd_ctx *c, struct cJSON *doc);
void cmd_status_market(cmd_ctx *c, struct cJSON *doc);
void cmd_status_ingest(cmd_ctx *c, struct cJSON *doc);
void cmd_status_control(cmd_ctx *c, struct cJSON *doc);
void cmd_status_connections(cmd_ctx *c, struct cJSON *doc); /* live only (live.h) */
void cmd_status_ui(cmd_ctx *c, struct cJSON *doc);
/* Builds the whole document ({"schema": CMD_STATUS_SCHEMA, ...every section}); NULL on an
 * allocation failure. */
struct cJSON *cmd_status_json(struct app *a);

#endif
