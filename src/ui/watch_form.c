/* Adding and removing watchlist symbols from the keyboard: `a` opens a one-line prompt for
 * "[venue:]SYMBOL" (Enter adds it: the same `symbols add` command line ctl runs, so the same
 * instrument check; a refusal stays in the prompt with its reason), `d` asks "remove SYMBOL?"
 * about the watchlist's selected row (y removes: `symbols remove`). The commands `watch-add
 * [SYMBOL]` and `watch-remove [SYMBOL]` are what the keys run; with a symbol they act at once
 * (no screen needed). */
#include "ui_int.h"

#include "kestrel/cmd.h"
#include "kestrel/watchlist.h"

#include <ctype.h>
#include <string.h>

void ui_symform_open(ui *u, bool removing, const char *symbol)
{
    ui_symform *f = &u->wf;
    memset(f, 0, sizeof *f);
    f->removing = removing;
    if (symbol)
        snprintf(f->target, sizeof f->target, "%s", symbol);
    u->ov = OV_SYMBOL;
    u->full = true;
}

static void symform_close(ui *u)
{
    u->ov = OV_NONE;
    u->full = true;
}

static void symform_run(ui *u, const char *op, const char *sym)
{
    ui_symform *f = &u->wf;
    char line[128], err[CMD_ERR_MAX];
    snprintf(line, sizeof line, "symbols %s %s", op, sym);
    if (cmd_run_line(u->a, u, CMD_FROM_INTERNAL, line, err, sizeof err) != CMD_OK) {
        snprintf(f->msg, sizeof f->msg, "%.230s", err[0] ? err : "refused");
        f->msg_err = true;
        f->answered = f->removing; /* a refused remove: the reason stays, any key closes */
        return;
    }
    app_flash(u->a, "%s %s", sym, !strcmp(op, "add") ? "added to the watchlist"
                                                      : "removed from the watchlist");
    symform_close(u);
}

void ui_symform_key(ui *u, int ch)
{
    ui_symform *f = &u->wf;
    if (f->answered) {
        symform_close(u);
        return;
    }
    if (f->removing) {
        if (ch == 'y' || ch == 'Y')
            symform_run(u, "remove", f->target);
        else if (ch == 'n' || ch == 'N' || ch == 27 || ch == 'q')
            symform_close(u);
        return;
    }
    size_t len = strlen(f->edit);
    if (ch == 27) {
        symform_close(u);
    } else if (ch == '\n' || ch == '\r' || ch == KEY_ENTER) {
        if (f->edit[0])
            symform_run(u, "add", f->edit);
    } else if (ch == KEY_BACKSPACE || ch == 127 || ch == 8) {
        if (len)
            f->edit[len - 1] = '\0';
        f->msg[0] = '\0';
    } else if (len + 1 < sizeof f->edit && ch > 0 && ch < 128 &&
               (isalnum(ch) || ch == '-' || ch == ':')) {
        f->edit[len] = (char)(ch == ':' || ch == '-' ? ch : toupper(ch));
        f->edit[len + 1] = '\0';
        f->msg[0] = '\0';
    }
}

void ui_symform_draw(ui *u)
{
    ui_symform *f = &u->wf;
    WINDOW *w = ui_overlay_open(u, 8, 72, f->removing ? "Remove symbol" : "Add symbol");
    if (!w)
        return;
    int iw = getmaxx(w) - 4, wh = getmaxy(w);
    if (f->answered) {
        ui_put(u, w, 2, 2, iw, ROLE_ERROR, f->msg);
        ui_put(u, w, wh - 2, 2, iw, ROLE_DIM, "any key closes");
    } else if (f->removing) {
        ui_putf(u, w, 2, 2, iw, ROLE_OVERLAY, "remove %s from the watchlist?", f->target);
        ui_put(u, w, wh - 2, 2, iw, ROLE_KEY, "y remove    n / Esc keep");
    } else {
        ui_putf(u, w, 2, 2, iw, ROLE_OVERLAY, "symbol: %s_", f->edit);
        ui_put(u, w, 3, 2, iw, ROLE_DIM, "[venue:]SYMBOL, e.g. SOLUSDT or binance-usdm:ETHUSDT");
        if (f->msg[0])
            ui_put(u, w, 4, 2, iw, f->msg_err ? ROLE_ERROR : ROLE_OK, f->msg);
        ui_put(u, w, wh - 2, 2, iw, ROLE_DIM, "Enter add    Backspace    Esc close");
    }
    ui_overlay_show(w);
}

/* The watchlist's selected symbol ("venue:SYMBOL"), or "" when none. */
static void symform_selected(ui *u, char *out, size_t cap)
{
    uint32_t idx[256];
    uint32_t n = watchlist_rows(u->a, idx, 256);
    out[0] = '\0';
    if (n == 0)
        return;
    uint32_t r = u->wl.sel < n ? u->wl.sel : n - 1;
    const market_sym *s = market_at(u->a->market, idx[r]);
    snprintf(out, cap, "%s:%s", venue_name(s->venue), s->name);
}

static cmd_result watch_form_exec(cmd_ctx *c)
{
    bool add = !strcmp(c->argv[0], "watch-add");
    if (c->argc > 1) { /* a symbol given: no prompt */
        char err[CMD_ERR_MAX];
        char line[128];
        snprintf(line, sizeof line, "symbols %s %s", add ? "add" : "remove", c->argv[1]);
        if (cmd_run_line(c->a, c->ui, c->origin, line, err, sizeof err) != CMD_OK)
            return cmd_fail(c, "%s", err);
        cmd_json_str(c, c->out, add ? "added" : "removed", c->argv[1]);
        return CMD_OK;
    }
    if (!c->ui)
        return cmd_fail(c, "%s without a symbol needs the screen (kestrel ctl symbols %s "
                           "SYMBOL)", c->argv[0], add ? "add" : "remove");
    ui *u = c->ui;
    set_term(u->scr);
    u->ui_changes++;
    if (add) {
        ui_symform_open(u, false, NULL);
    } else {
        char sel[48];
        symform_selected(u, sel, sizeof sel);
        if (!sel[0])
            return cmd_fail(c, "the watchlist is empty");
        ui_symform_open(u, true, sel);
    }
    cmd_json_bool(c, c->out, "prompt", true);
    return CMD_OK;
}

const cmd_entry cmd_watch_add_entry = {.name = "watch-add", .args = "[SYMBOL]",
                                       .help = "add a watchlist symbol (a prompt without one)",
                                       .max_args = 1, .exec = watch_form_exec};
const cmd_entry cmd_watch_remove_entry = {
    .name = "watch-remove", .args = "[SYMBOL]",
    .help = "remove a watchlist symbol (the selected one, after asking, without one)",
    .max_args = 1, .exec = watch_form_exec};
