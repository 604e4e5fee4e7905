/* The settings form (`e`): the risk and trading values of settings.h in one overlay -- label,
 * value, where it came from (default / file / stored) and the range the config file takes.
 * A change goes through the same `set KEY VALUE` command line `kestrel ctl set` runs (the
 * trading modules' validators; applied at once, kept in the store); a refusal is shown under the
 * fields and the value stays as it was. `w` writes every value that differs from the config
 * file back into it (cfgwrite: comments and every other line kept) after a y / n question.
 * Also the `settings [open|write]` command, so ctl lists and writes without the screen. */
#include "ui_int.h"

#include "kestrel/cfgwrite.h"
#include "kestrel/cmd.h"
#include "kestrel/config.h"
#include "kestrel/settings.h"

#include <cjson/cJSON.h>
#include <string.h>

void ui_settings_open(ui *u)
{
    ui_setform *f = &u->sf;
    int sel = f->sel;
    memset(f, 0, sizeof *f);
    f->sel = sel < (int)settings_field_count() ? sel : 0;
    u->ov = OV_SETTINGS;
    u->full = true;
}

static void settings_form_close(ui *u)
{
    u->ov = OV_NONE;
    u->full = true;
}

/* Runs `set KEY VALUE`; the answer goes under the fields. */
static bool settings_form_set(ui *u, const char *key, const char *value)
{
    ui_setform *f = &u->sf;
    char line[160], err[CMD_ERR_MAX];
    snprintf(line, sizeof line, "set %s %s", key, value);
    if (cmd_run_line(u->a, u, CMD_FROM_INTERNAL, line, err, sizeof err) != CMD_OK) {
        snprintf(f->msg, sizeof f->msg, "%.230s", err[0] ? err : "refused");
        f->msg_err = true;
        return false;
    }
    char v[64] = "";
    (void)settings_value(u->a, key, v, sizeof v);
    snprintf(f->msg, sizeof f->msg, "%s = %s: applied, kept for the next start", key, v);
    f->msg_err = false;
    return true;
}

/* The next / previous word of an enumerated field after the current value. */
static void settings_form_cycle(ui *u, const settings_field *fd, int dir)
{
    char cur[64] = "", words[128], *list[8];
    int n = 0, k = 0;
    (void)settings_value(u->a, fd->key, cur, sizeof cur);
    snprintf(words, sizeof words, "%s", fd->choices);
    for (char *save = NULL, *t = strtok_r(words, " ", &save); t && n < 8;
         t = strtok_r(NULL, " ", &save))
        list[n++] = t;
    if (n == 0)
        return;
    while (k < n && strcmp(list[k], cur))
        k++;
    k = k == n ? 0 : (k + (dir < 0 ? n - 1 : 1)) % n;
    settings_form_set(u, fd->key, list[k]);
}

static void settings_form_write(ui *u)
{
    ui_setform *f = &u->sf;
    char err[CMD_ERR_MAX];
    f->confirm_write = false;
    if (cmd_run_line(u->a, u, CMD_FROM_INTERNAL, "settings write", err, sizeof err) != CMD_OK) {
        snprintf(f->msg, sizeof f->msg, "%.230s", err);
        f->msg_err = true;
        return;
    }
    snprintf(f->msg, sizeof f->msg, "written to %.160s (comments and other lines kept)",
             u->a->cfg.source);
    f->msg_err = false;
}

void ui_settings_key(ui *u, int ch)
{
    ui_setform *f = &u->sf;
    int n = (int)settings_field_count();
    const settings_field *fd = settings_field_at((size_t)f->sel);
    if (!fd)
        return;
    if (f->confirm_write) {
        if (ch == 'y' || ch == 'Y')
            settings_form_write(u);
        else if (ch == 'n' || ch == 'N' || ch == 27)
            f->confirm_write = false;
        return;
    }
    size_t len = strlen(f->edit);
    if (f->editing) {
        if (ch == 27) {
            f->editing = false;
            f->msg[0] = '\0';
        } else if (ch == '\n' || ch == '\r' || ch == KEY_ENTER) {
            if (f->edit[0] && settings_form_set(u, fd->key, f->edit))
                f->editing = false;
        } else if (ch == KEY_BACKSPACE || ch == 127 || ch == 8) {
            if (len)
                f->edit[len - 1] = '\0';
        } else if (len + 1 < sizeof f->edit && ((ch >= '0' && ch <= '9') || ch == '.')) {
            f->edit[len] = (char)ch;
            f->edit[len + 1] = '\0';
        }
        return;
    }
    switch (ch) {
    case 27:
    case 'q':
    case 'e':
        settings_form_close(u);
        return;
    case KEY_UP:
    case 'k':
        f->sel = (f->sel + n - 1) % n;
        return;
    case KEY_DOWN:
    case 'j':
    case '\t':
        f->sel = (f->sel + 1) % n;
        return;
    case 'w': {
        int p = settings_pending(u->a);
        char why[sizeof f->msg];
        if (cfgwrite_target(u->a->cfg.source, why, sizeof why) != CFGW_OK) {
            snprintf(f->msg, sizeof f->msg, "%s", why);
            f->msg_err = true;
        } else if (p == 0) {
            snprintf(f->msg, sizeof f->msg, "nothing to write: %.180s already says so",
                     u->a->cfg.source);
            f->msg_err = false;
        } else {
            f->confirm_write = true;
        }
        return;
    }
    default:
        break;
    }
    if (fd->choices) {
        if (ch == KEY_LEFT)
            settings_form_cycle(u, fd, -1);
        else if (ch == KEY_RIGHT || ch == ' ' || ch == '\n' || ch == '\r' || ch == KEY_ENTER)
            settings_form_cycle(u, fd, 1);
        return;
    }
    if (ch == '\n' || ch == '\r' || ch == KEY_ENTER) {
        f->editing = true;
        (void)settings_value(u->a, fd->key, f->edit, sizeof f->edit);
        f->msg[0] = '\0';
    } else if ((ch >= '0' && ch <= '9') || ch == '.') { /* typing starts a fresh value */
        f->editing = true;
        f->edit[0] = (char)ch;
        f->edit[1] = '\0';
        f->msg[0] = '\0';
    }
}

void ui_settings_draw(ui *u)
{
    int n = (int)settings_field_count();
    WINDOW *w = ui_overlay_open(u, n + 8, 86, "Settings");
    if (!w)
        return;
    ui_setform *f = &u->sf;
    int wh = getmaxy(w), iw = getmaxx(w) - 4;
    if (!u->a->runner) {
        ui_put(u, w, 2, 2, iw, ROLE_OVERLAY, "trading is not running");
        ui_overlay_show(w);
        return;
    }
    char line[256];
    ui_putf(u, w, 1, 2, iw, ROLE_HEADER, "%-26s %-12s %-8s %s", "setting", "value", "from",
            "range");
    int rows = wh - 7; /* fields shown; the form scrolls with the selection when short */
    int top = f->sel >= rows ? f->sel - rows + 1 : 0;
    for (int i = top; i < n && i - top < rows; i++) {
        const settings_field *fd = settings_field_at((size_t)i);
        char v[64] = "";
        (void)settings_value(u->a, fd->key, v, sizeof v);
        const char *rng = fd->choices ? fd->choices : config_trade_expect(fd->key);
        bool sel = i == f->sel;
        if (sel && f->editing)
            snprintf(v, sizeof v, "%s_", f->edit);
        snprintf(line, sizeof line, "%-26s %-12s %-8s %s", fd->label, v,
                 settings_source(u->a, fd->key), rng ? rng : "");
        /* the value is whole or the row shows no value (a 12-column field holds every one) */
        ui_put(u, w, 2 + i - top, 2, iw, sel ? ROLE_SELECTION : ROLE_OVERLAY, line);
    }
    int y = wh - 5;
    const settings_field *fd = settings_field_at((size_t)f->sel);
    if (fd)
        ui_putf(u, w, y, 2, iw, ROLE_DIM, "%s", fd->key);
    if (f->msg[0])
        ui_put(u, w, y + 1, 2, iw, f->msg_err ? ROLE_ERROR : ROLE_OK, f->msg);
    int pending = settings_pending(u->a);
    const char *hint;
    char hb[200];
    if (f->confirm_write) {
        snprintf(hb, sizeof hb, "write %d changed value(s) to %.150s? y / n", pending,
                 u->a->cfg.source);
        hint = hb;
    } else if (f->editing) {
        hint = "type the value  Enter apply  Backspace  Esc cancel";
    } else {
        snprintf(hb, sizeof hb, "Up/Down field  Enter edit  Left/Right choose  w write to the "
                                "config file (%d differ)  Esc close", pending);
        hint = hb;
    }
    ui_put(u, w, wh - 2, 2, iw, f->confirm_write ? ROLE_KEY : ROLE_DIM, hint);
    ui_overlay_show(w);
}

/* ---- `settings [open|write]` ---- */

static cmd_result settings_exec(cmd_ctx *c)
{
    app *a = c->a;
    if (!a->runner)
        return cmd_fail(c, "trading is not running");
    const char *sub = c->argc > 1 ? c->argv[1] : "";
    if (!strcmp(sub, "open")) {
        if (!c->ui)
            return cmd_fail(c, "the settings form needs the screen (kestrel ctl settings lists "
                               "them, kestrel ctl set KEY VALUE changes one)");
        set_term(c->ui->scr);
        c->ui->ui_changes++;
        ui_settings_open(c->ui);
        cmd_json_bool(c, c->out, "form", true);
        return CMD_OK;
    }
    if (!strcmp(sub, "write")) {
        char err[CMD_ERR_MAX - 32] = "";
        int n = 0;
        cJSON *names = cmd_json_arr(c, c->out, "written");
        if (settings_write(a, &n, names, err, sizeof err) != K_OK)
            return cmd_fail(c, "settings write: %s", err);
        cmd_json_str(c, c->out, "config_file", a->cfg.source);
        cmd_json_num(c, c->out, "changed", n);
        a->changes++;
        return CMD_OK;
    }
    if (sub[0])
        return cmd_fail(c, "usage: settings [open|write]");
    if (a->cfg.source[0])
        cmd_json_str(c, c->out, "config_file", a->cfg.source);
    else
        cmd_json_null(c, c->out, "config_file");
    cmd_json_num(c, c->out, "pending", settings_pending(a));
    cJSON *arr = cmd_json_arr(c, c->out, "settings");
    for (size_t i = 0; i < settings_field_count() && arr && !c->oom; i++) {
        const settings_field *f = settings_field_at(i);
        cJSON *o = cJSON_CreateObject();
        if (!cmd_json_push(c, arr, o))
            break;
        char v[64] = "";
        (void)settings_value(a, f->key, v, sizeof v);
        cmd_json_str(c, o, "key", f->key);
        cmd_json_str(c, o, "label", f->label);
        cmd_json_str(c, o, "value", v);
        cmd_json_str(c, o, "source", settings_source(a, f->key));
        const char *rng = config_trade_expect(f->key);
        cmd_json_str(c, o, "range", f->choices ? f->choices : rng ? rng : "");
    }
    return CMD_OK;
}

const cmd_entry cmd_settings_entry = {
    .name = "settings", .args = "[open|write]",
    .help = "risk / trading settings: list them (value, source, range), open the form, write "
            "them back to the config file",
    .max_args = 1, .exec = settings_exec};
