/* The screen's commands (entries of the command table, include/kestrel/cmd.h): help, quit,
 * screens, pane focus over the screen's panes, moving in the focused pane (the list widgets,
 * the chart cursor), select, zoom and cycling hidden panes, the mouse, the indicator picker,
 * closing overlays and repainting, plus the "ui" section of the status document. Keys reach them
 * through the binding table (keys.c); `kestrel ctl` reaches the same handlers, so the screen can
 * be driven from a script. Handlers that need the screen carry CMD_F_UI (refused headless); help
 * and quit also work headless. Every handler that changes what is shown bumps ui_changes. */
#include "ui_int.h"

#include "kestrel/watchlist.h"

#include "kestrel/btview.h"
#include "kestrel/cmd.h"
#include "kestrel/keys.h"

#include <cjson/cJSON.h>
#include <string.h>
#include <strings.h>

/* Names in JSON and on the command line (lower case; the screen shows ui_pane_name's). */
static const char *const ui_cmd_pane_names[PANE_COUNT] = {
    [PANE_WATCH] = "watch",      [PANE_CHART] = "chart",    [PANE_BOOK] = "book",
    [PANE_TAPE] = "tape",        [PANE_TRADING] = "trading", [PANE_AI] = "ai",
    [PANE_CONN] = "connections", [PANE_STORE] = "store",    [PANE_COUNTERS] = "counters",
    [PANE_LOG] = "log",          [PANE_BACKTEST] = "backtests", [PANE_BT_REPORT] = "report",
    [PANE_EQUITY] = "equity",    [PANE_HISTORY] = "history", [PANE_RISK] = "risk",
};
static const char *const ui_cmd_screen_names[SCR_COUNT] = {
    [SCR_MARKET] = "market", [SCR_TRADING] = "trading", [SCR_AI] = "ai",
    [SCR_SYSTEM] = "system", [SCR_BACKTEST] = "backtests",
};

static const char *ui_cmd_pane_name(enum pane_id p)
{
    return (unsigned)p < PANE_COUNT ? ui_cmd_pane_names[p] : "?";
}

static ui *ui_cmd_ui(cmd_ctx *c)
{
    ui *u = c->ui;
    if (u) {
        set_term(u->scr);
        u->ui_changes++;
    }
    return u;
}

/* ---- help ---- */

static cmd_result ui_cmd_help(cmd_ctx *c)
{
    ui *u = c->ui;
    if (c->origin == CMD_FROM_KEY && u) {
        ui_cmd_ui(c);
        u->ov = OV_HELP;
        return CMD_OK;
    }
    cJSON *arr = cmd_json_arr(c, c->out, "commands");
    for (size_t i = 0; i < cmd_count() && !c->oom; i++) {
        const cmd_entry *e = cmd_at(i);
        cJSON *o = cJSON_CreateObject();
        if (!cmd_json_push(c, arr, o))
            break;
        char usage[160], keys[96];
        snprintf(usage, sizeof usage, "%s%s%s", e->name, e->args[0] ? " " : "", e->args);
        cmd_json_str(c, o, "name", e->name);
        cmd_json_str(c, o, "usage", usage);
        cmd_json_str(c, o, "help", e->help);
        cmd_json_str(c, o, "keys", keys_for_command(e->name, keys, sizeof keys));
        cmd_json_bool(c, o, "available", !(e->flags & CMD_F_RESERVED));
        cmd_json_bool(c, o, "needs_ui", (e->flags & CMD_F_UI) != 0);
    }
    return CMD_OK;
}

const cmd_entry cmd_help_entry = {.name = "help",
                                  .args = "",
                                  .help = "every command, its usage and its keys (key: the help "
                                          "overlay)",
                                  .exec = ui_cmd_help};

/* ---- quit ---- */

static cmd_result ui_cmd_quit(cmd_ctx *c)
{
    if (c->argc == 2 && strcmp(c->argv[1], "ask") != 0)
        return cmd_fail(c, "usage: quit [ask]");
    ui *u = c->ui;
    if (c->argc == 2 && u) { /* ask first (with nobody to ask, quit) */
        ui_cmd_ui(c);
        u->ov = OV_QUIT;
        cmd_json_bool(c, c->out, "asking", true);
        return CMD_OK;
    }
    app_request_quit(c->a);
    cmd_json_bool(c, c->out, "ok", true);
    cmd_json_str(c, c->out, "quitting", "bye");
    return CMD_OK;
}

const cmd_entry cmd_quit_entry = {.name = "quit",
                                  .args = "[ask]",
                                  .help = "quit Kestrel (ask: confirm on the screen first)",
                                  .max_args = 1,
                                  .exec = ui_cmd_quit};

/* ---- panes ---- */

/* The hidden panes' names: what the status line counts as "+N hidden". */
static void ui_cmd_hidden_json(cmd_ctx *c, cJSON *o, const ui *u)
{
    cJSON *arr = cmd_json_arr(c, o, "hidden");
    for (int i = 0; i < u->hidden && arr; i++)
        if (!cmd_json_push_str(c, arr, ui_cmd_pane_name(u->hidden_ids[i])))
            break;
}

static void ui_cmd_pane_json(cmd_ctx *c, ui *u)
{
    cmd_json_str(c, c->out, "pane", ui_cmd_pane_name(u->focus));
    cmd_json_str(c, c->out, "screen", ui_cmd_screen_names[u->screen]);
    cmd_json_bool(c, c->out, "zoom", u->zoom);
    ui_cmd_hidden_json(c, c->out, u);
}

static cmd_result ui_cmd_pane(cmd_ctx *c)
{
    ui *u = ui_cmd_ui(c);
    ui_focus_step(u, strcmp(c->argv[0], "pane-next") == 0 ? +1 : -1);
    ui_cmd_pane_json(c, u);
    return CMD_OK;
}

const cmd_entry cmd_pane_next_entry = {.name = "pane-next",
                                       .args = "",
                                       .help = "focus the next pane of the screen (a hidden one "
                                               "is shown)",
                                       .flags = CMD_F_UI,
                                       .exec = ui_cmd_pane};
const cmd_entry cmd_pane_prev_entry = {.name = "pane-prev",
                                       .args = "",
                                       .help = "focus the previous pane of the screen",
                                       .flags = CMD_F_UI,
                                       .exec = ui_cmd_pane};

static cmd_result ui_cmd_zoom(cmd_ctx *c)
{
    ui *u = ui_cmd_ui(c);
    ui_zoom_cycle(u);
    ui_cmd_pane_json(c, u);
    return CMD_OK;
}

const cmd_entry cmd_zoom_entry = {.name = "zoom",
                                  .args = "",
                                  .help = "zoom the focused pane (again: restore); panes hidden: "
                                          "cycle them",
                                  .flags = CMD_F_UI,
                                  .exec = ui_cmd_zoom};

/* ---- screens ---- */

static cmd_result ui_cmd_screen(cmd_ctx *c)
{
    const char *arg = c->argv[1];
    int s = -1;
    if (arg[0] >= '1' && arg[0] < '1' + SCR_COUNT && arg[1] == 0)
        s = arg[0] - '1';
    for (int i = 0; i < SCR_COUNT && s < 0; i++)
        if (strcasecmp(arg, ui_cmd_screen_names[i]) == 0)
            s = i;
    if (s < 0)
        return cmd_fail(c,
                        "screen: '%.40s' is not a screen (1 market, 2 trading, 3 ai, 4 system, "
                        "5 backtests)",
                        arg);
    ui *u = ui_cmd_ui(c);
    ui_set_screen(u, (enum screen_id)s);
    ui_cmd_pane_json(c, u);
    return CMD_OK;
}

const cmd_entry cmd_screen_entry = {.name = "screen",
                                    .args = "N|NAME",
                                    .help = "screens: 1 Market, 2 Trading, 3 AI, 4 System, "
                                            "5 Backtests",
                                    .min_args = 1,
                                    .max_args = 1,
                                    .flags = CMD_F_UI,
                                    .exec = ui_cmd_screen};

/* ---- the mouse ---- */

static cmd_result ui_cmd_mouse(cmd_ctx *c)
{
    ui *u = c->ui;
    const char *arg = c->argc > 1 ? c->argv[1] : "toggle";
    bool on;
    if (strcmp(arg, "on") == 0)
        on = true;
    else if (strcmp(arg, "off") == 0)
        on = false;
    else if (strcmp(arg, "toggle") == 0)
        on = !u->mouse;
    else
        return cmd_fail(c, "usage: mouse [on|off|toggle]");
    ui_cmd_ui(c);
    ui_set_mouse(u, on);
    if (c->origin == CMD_FROM_KEY)
        app_flash(c->a, "mouse %s", u->mouse ? "on (M: off, for the terminal's own selection)"
                                             : "off (M: on)");
    cmd_json_bool(c, c->out, "mouse", u->mouse);
    return CMD_OK;
}

const cmd_entry cmd_mouse_entry = {.name = "mouse",
                                   .args = "[on|off|toggle]",
                                   .help = "mouse on / off: click focuses and selects, the wheel "
                                           "scrolls",
                                   .max_args = 1,
                                   .flags = CMD_F_UI,
                                   .exec = ui_cmd_mouse};

/* ---- moving in the focused pane ---- */

static const struct {
    const char *dir;
    int key; /* the key the list widget (list.c) and the chart (pane_chart.c) know it by */
} ui_cmd_moves[] = {
    {"up", KEY_UP},         {"down", KEY_DOWN},       {"left", KEY_LEFT}, {"right", KEY_RIGHT},
    {"page-up", KEY_PPAGE}, {"page-down", KEY_NPAGE}, {"home", KEY_HOME}, {"end", KEY_END},
};

static cmd_result ui_cmd_move(cmd_ctx *c)
{
    size_t k = 0;
    while (k < K_ARRAY_LEN(ui_cmd_moves) && strcmp(ui_cmd_moves[k].dir, c->argv[1]) != 0)
        k++;
    if (k == K_ARRAY_LEN(ui_cmd_moves))
        return cmd_fail(c,
                        "move: '%.40s' is not a direction (up down left right page-up "
                        "page-down home end)",
                        c->argv[1]);
    ui *u = ui_cmd_ui(c);
    int key = ui_cmd_moves[k].key;
    switch (u->focus) {
    case PANE_WATCH:
        /* the symbol count now (a pane that was never drawn has not been told it) */
        u->wl.n = watchlist_rows(u->a, (uint32_t[UI_WATCH_MAX]){0}, UI_WATCH_MAX);
        ui_list_key(&u->wl, key);
        break;
    case PANE_CHART:
        ui_chart_key(u, key);
        break;
    case PANE_TAPE:
        ui_list_key(&u->tape, key);
        break;
    case PANE_TRADING: /* the open orders list (drawn with its count) */
        ui_list_key(&u->tr_orders, key);
        u->ui_changes++;
        break;
    case PANE_HISTORY: /* the round trips */
        ui_list_key(&u->tr_hist, key);
        u->ui_changes++;
        break;
    case PANE_BACKTEST: /* the stored runs (btview), the report's lines */
        u->bt_list.n = btview_count(u->a->btview);
        ui_list_key(&u->bt_list, key);
        break;
    case PANE_BT_REPORT:
        ui_list_key(&u->bt_rep, key);
        break;
    case PANE_AI: /* the signals list (drawn with its count): the selected one's reasoning */
        ui_list_key(&u->ai_list, key);
        u->ui_changes++;
        break;
    default: /* the ladder and the System panes have no moves of their own */
        break;
    }
    ui_cmd_pane_json(c, u);
    return CMD_OK;
}

const cmd_entry cmd_move_entry = {.name = "move",
                                  .args = "up|down|left|right|page-up|page-down|home|end",
                                  .help = "move in the focused pane (lists, chart cursor)",
                                  .min_args = 1,
                                  .max_args = 1,
                                  .flags = CMD_F_UI,
                                  .exec = ui_cmd_move};

static cmd_result ui_cmd_select(cmd_ctx *c)
{
    ui *u = ui_cmd_ui(c);
    app *a = c->a;
    uint32_t idx[UI_WATCH_MAX];
    uint32_t n = watchlist_rows(a, idx, UI_WATCH_MAX); /* the rows shown, in order */
    if (u->focus == PANE_WATCH && a->market && u->wl.sel < n) {
        app_set_focus(a, idx[u->wl.sel]);
        u->ch_follow = true;
        u->tape.top = 0;
    }
    if (u->focus == PANE_BACKTEST)
        ui_backtest_select(u); /* its report in the pane below */
    ui_cmd_pane_json(c, u);
    return CMD_OK;
}

const cmd_entry cmd_select_entry = {.name = "select",
                                    .args = "",
                                    .help = "select the row under the cursor (watchlist: focus "
                                            "its symbol)",
                                    .flags = CMD_F_UI,
                                    .exec = ui_cmd_select};

static cmd_result ui_cmd_picker(cmd_ctx *c)
{
    ui_picker_open(ui_cmd_ui(c));
    return CMD_OK;
}

const cmd_entry cmd_picker_entry = {.name = "picker",
                                    .args = "",
                                    .help = "indicator picker (chart overlays, oscillators)",
                                    .flags = CMD_F_UI,
                                    .exec = ui_cmd_picker};

static cmd_result ui_cmd_close_overlay(cmd_ctx *c)
{
    ui *u = ui_cmd_ui(c);
    bool open = u->ov != OV_NONE;
    if (open) {
        u->ov = OV_NONE;
        u->pk_editing = false;
        u->pk_confirm = false;
        u->full = true;
    }
    cmd_json_bool(c, c->out, "closed", open);
    return CMD_OK;
}

const cmd_entry cmd_close_overlay_entry = {.name = "close-overlay",
                                           .args = "",
                                           .help = "close an overlay",
                                           .flags = CMD_F_UI,
                                           .exec = ui_cmd_close_overlay};

static cmd_result ui_cmd_repaint(cmd_ctx *c)
{
    ui *u = ui_cmd_ui(c);
    clearok(curscr, TRUE);
    u->full = true;
    return CMD_OK;
}

const cmd_entry cmd_repaint_entry = {.name = "repaint",
                                     .args = "",
                                     .help = "repaint the whole screen",
                                     .flags = CMD_F_UI,
                                     .exec = ui_cmd_repaint};

/* ---- status ---- */

/* ui.strip: what the Market screen's trading strip shows (null without trading). */
static void ui_cmd_strip_json(cmd_ctx *c, cJSON *o)
{
    ui_strip st; /* what the Market screen's trading strip shows */
    if (!ui_strip_model(c->a, &st)) {
        cmd_json_null(c, o, "strip");
        return;
    }
    cJSON *so = cmd_json_obj(c, o, "strip");
    cmd_json_num(c, so, "positions", st.positions);
    cmd_json_dec(c, so, "day_pnl", st.day_pnl, 2);
    if (!st.has_signal) {
        cmd_json_null(c, so, "signal");
        return;
    }
    cJSON *sg = cmd_json_obj(c, so, "signal");
    cmd_json_str(c, sg, "symbol", st.symbol);
    cmd_json_str(c, sg, "action", st.action);
    cmd_json_num(c, sg, "confidence", st.confidence);
    cmd_json_num(c, sg, "time_ms", (double)st.time_ms);
}

void cmd_status_ui(cmd_ctx *c, cJSON *doc)
{
    ui *u = c->ui;
    if (!u) {
        cmd_json_null(c, doc, "ui");
        return;
    }
    static const char *const ov[] = {"none",   "help",     "quit",  "picker",
                                     "ticket", "settings", "symbol"};
    cJSON *o = cmd_json_obj(c, doc, "ui");
    cmd_json_str(c, o, "pane", ui_cmd_pane_name(u->focus));
    cmd_json_str(c, o, "screen", ui_cmd_screen_names[u->screen]);
    ui_cmd_hidden_json(c, o, u);
    cmd_json_bool(c, o, "zoom", u->zoom);
    cmd_json_str(c, o, "overlay", (unsigned)u->ov < K_ARRAY_LEN(ov) ? ov[u->ov] : "?");
    cmd_json_num(c, o, "rows", u->rows);
    cmd_json_num(c, o, "cols", u->cols);
    ui_cmd_strip_json(c, o);
    cmd_json_num(c, o, "frames", (double)u->frames);
    cmd_json_bool(c, o, "mouse", u->mouse);
}
