/* The screen's commands (entries of the command table, include/kestrel/cmd.h): help, quit,
 * pane focus, moving in the focused pane, select, zoom, the indicator picker, closing overlays
 * and repainting, plus the "ui" section of the status document. Keys reach them through the
 * binding table (keys.c); `kestrel ctl` reaches the same handlers, so the screen can be driven
 * from a script. Handlers that need the screen carry CMD_F_UI (refused headless); help and quit
 * also work headless. Every handler that changes what is shown bumps ui_changes. */
#include "ui_int.h"

#include "kestrel/cmd.h"
#include "kestrel/keys.h"

#include <cjson/cJSON.h>
#include <string.h>

static const char *const ui_cmd_pane_names[PANE_COUNT] = {"watch", "chart", "book", "tape"};

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

static void ui_cmd_pane_json(cmd_ctx *c, ui *u)
{
    cmd_json_str(c, c->out, "pane", ui_cmd_pane_names[u->focus]);
    cmd_json_bool(c, c->out, "zoom", u->zoom);
}

static cmd_result ui_cmd_pane(cmd_ctx *c)
{
    ui *u = ui_cmd_ui(c);
    int d = strcmp(c->argv[0], "pane-next") == 0 ? 1 : PANE_COUNT - 1;
    ui_set_focus_pane(u, (enum pane_id)((u->focus + d) % PANE_COUNT));
    ui_cmd_pane_json(c, u);
    return CMD_OK;
}

const cmd_entry cmd_pane_next_entry = {.name = "pane-next",
                                       .args = "",
                                       .help = "focus the next pane",
                                       .flags = CMD_F_UI,
                                       .exec = ui_cmd_pane};
const cmd_entry cmd_pane_prev_entry = {.name = "pane-prev",
                                       .args = "",
                                       .help = "focus the previous pane",
                                       .flags = CMD_F_UI,
                                       .exec = ui_cmd_pane};

static cmd_result ui_cmd_zoom(cmd_ctx *c)
{
    ui *u = ui_cmd_ui(c);
    u->zoom = !u->zoom;
    ui_layout(u);
    ui_cmd_pane_json(c, u);
    return CMD_OK;
}

const cmd_entry cmd_zoom_entry = {.name = "zoom",
                                  .args = "",
                                  .help = "zoom the focused pane (again: restore)",
                                  .flags = CMD_F_UI,
                                  .exec = ui_cmd_zoom};

static void ui_cmd_watch_move(ui *u, int64_t delta)
{
    uint32_t n = u->a->market ? market_count(u->a->market) : 0;
    if (n == 0)
        return;
    int64_t s = (int64_t)u->wl_sel + delta;
    if (s < 0)
        s = 0;
    if (s >= (int64_t)n)
        s = n - 1;
    u->wl_sel = (uint32_t)s;
}

static void ui_cmd_tape_move(ui *u, int64_t delta, bool to_end)
{
    market_sym *s = ui_focus_sym(u);
    uint32_t n = s && s->tape ? tape_count(s->tape) : 0;
    int64_t off = to_end ? (int64_t)n : (int64_t)u->tape_off + delta;
    if (off >= (int64_t)n)
        off = n ? n - 1 : 0;
    if (off < 0)
        off = 0;
    u->tape_off = (uint32_t)off;
}

static const struct {
    const char *dir;
    int key;       /* the chart's own key for it (pane_chart.c) */
    int64_t delta; /* lists */
} ui_cmd_moves[] = {
    {"up", KEY_UP, -1},           {"down", KEY_DOWN, +1},      {"left", KEY_LEFT, 0},
    {"right", KEY_RIGHT, 0},      {"page-up", KEY_PPAGE, -10}, {"page-down", KEY_NPAGE, +10},
    {"home", KEY_HOME, -1000000}, {"end", KEY_END, +1000000},
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
    int64_t d = ui_cmd_moves[k].delta;
    switch (u->focus) {
    case PANE_WATCH:
        ui_cmd_watch_move(u, d);
        break;
    case PANE_CHART:
        ui_chart_key(u, ui_cmd_moves[k].key);
        break;
    case PANE_TAPE:
        if (ui_cmd_moves[k].key == KEY_HOME)
            u->tape_off = 0;
        else
            ui_cmd_tape_move(u, d, ui_cmd_moves[k].key == KEY_END);
        break;
    default: /* the ladder has no moves of its own */
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
    if (u->focus == PANE_WATCH && a->market && u->wl_sel < market_count(a->market)) {
        app_set_focus(a, u->wl_sel);
        u->ch_follow = true;
        u->tape_off = 0;
    }
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

void cmd_status_ui(cmd_ctx *c, cJSON *doc)
{
    ui *u = c->ui;
    if (!u) {
        cmd_json_null(c, doc, "ui");
        return;
    }
    static const char *const ov[] = {"none", "help", "quit", "picker"};
    cJSON *o = cmd_json_obj(c, doc, "ui");
    cmd_json_str(c, o, "pane", ui_cmd_pane_names[u->focus]);
    cmd_json_bool(c, o, "zoom", u->zoom);
    cmd_json_str(c, o, "overlay", (unsigned)u->ov < K_ARRAY_LEN(ov) ? ov[u->ov] : "?");
    cmd_json_num(c, o, "rows", u->rows);
    cmd_json_num(c, o, "cols", u->cols);
    cmd_json_num(c, o, "frames", (double)u->frames);
}
