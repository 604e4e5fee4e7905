/* The order ticket (`o`): an overlay that builds one order for the focused symbol (side, type,
 * quantity or quote amount, price, stop, SL, TP) and shows, while it is edited, what would leave:
 * the values rounded by the instrument's filters, the notional, the fee estimate and the risk
 * engine's verdict (runner_preview). Enter reviews, Enter / y again sends it as the same
 * `order ...` command line `kestrel ctl order` runs, so a ticket order and a ctl order take one
 * path. Nothing here places or checks an order itself. */
#include "ui_int.h"

#include "kestrel/cmd.h"
#include "kestrel/decimal.h"
#include "kestrel/runner.h"

#include <string.h>

enum { TK_SIDE = 0, TK_TYPE, TK_QTY, TK_PRICE, TK_STOP, TK_SL, TK_TP, TK_FIELDS };

static const char *const ticket_labels[TK_FIELDS] = {
    "side", "type", "qty ($ = quote)", "price", "stop", "SL", "TP",
};
/* the ctl names, in the order Left / Right cycle them */
static const enum order_type ticket_types[] = {ORDER_MARKET, ORDER_LIMIT, ORDER_STOP_MARKET,
                                               ORDER_STOP_LIMIT, ORDER_TAKE_PROFIT};

void ui_ticket_open(ui *u)
{
    ui_ticket *t = &u->tk;
    memset(t, 0, sizeof *t);
    t->side = SIDE_BUY;
    t->type = ORDER_MARKET;
    t->field = TK_QTY;
    u->ov = OV_TICKET;
    u->full = true;
}

/* the text of a field ("" for the enumerated ones) */
static char *ticket_text(ui_ticket *t, int f)
{
    return f >= TK_QTY && f < TK_FIELDS ? t->text[f - TK_QTY] : NULL;
}

static kdec ticket_num(const char *s)
{
    kdec v = 0;
    if (!s || !*s || decimal_parse(s, strlen(s), &v) != K_OK)
        return 0;
    return v;
}

/* The request the fields describe; false when the quantity is not a number yet. */
static bool ticket_req(ui *u, const market_sym *s, order_req *q)
{
    ui_ticket *t = &u->tk;
    memset(q, 0, sizeof *q);
    q->venue = s->venue;
    snprintf(q->symbol, sizeof q->symbol, "%s", s->name);
    q->side = t->side;
    q->type = t->type;
    q->tif = TIF_GTC;
    const char *qs = t->text[TK_QTY - TK_QTY];
    bool quote = qs[0] == '$';
    q->price = ticket_num(t->text[TK_PRICE - TK_QTY]);
    q->stop = ticket_num(t->text[TK_STOP - TK_QTY]);
    q->sl = ticket_num(t->text[TK_SL - TK_QTY]);
    q->tp = ticket_num(t->text[TK_TP - TK_QTY]);
    kdec amount = ticket_num(quote ? qs + 1 : qs);
    if (amount <= 0)
        return false;
    q->qty = amount;
    if (quote) {
        kdec px = q->price > 0 ? q->price : q->stop > 0 ? q->stop : s->last_px;
        if (px <= 0)
            return false;
        q->qty = (kdec)((__int128)amount * KDEC_SCALE / px);
    }
    return true;
}

/* `order SYMBOL side QTY type=... [price=] [stop=] [sl=] [tp=]`: what ctl would be sent */
static void ticket_line(const ui_ticket *t, const market_sym *s, char *out, size_t cap)
{
    const char *qs = t->text[0];
    int n = snprintf(out, cap, "order %s %s %s%s type=%s", s->name, side_name(t->side),
                     qs[0] == '$' ? "quote=" : "", qs[0] == '$' ? qs + 1 : qs,
                     order_type_name(t->type));
    static const char *const keys[] = {"price", "stop", "sl", "tp"};
    for (int i = 0; i < 4 && n > 0 && (size_t)n < cap; i++)
        if (t->text[1 + i][0])
            n += snprintf(out + n, cap - (size_t)n, " %s=%s", keys[i], t->text[1 + i]);
}

static void ticket_send(ui *u)
{
    market_sym *s = ui_focus_sym(u);
    ui_ticket *t = &u->tk;
    u->ov = OV_NONE;
    u->full = true;
    if (!s)
        return;
    char line[256], err[CMD_ERR_MAX];
    ticket_line(t, s, line, sizeof line);
    if (cmd_run_line(u->a, u, CMD_FROM_KEY, line, err, sizeof err) != CMD_OK)
        app_flash(u->a, "ticket: %s", err[0] ? err : "refused");
}

void ui_ticket_key(ui *u, int ch)
{
    ui_ticket *t = &u->tk;
    if (t->confirm) { /* the review: send, or back to the fields */
        if (ch == '\n' || ch == '\r' || ch == KEY_ENTER || ch == 'y' || ch == 'Y')
            ticket_send(u);
        else if (ch == 27 || ch == 'n' || ch == 'N')
            t->confirm = false;
        return;
    }
    char *txt = ticket_text(t, t->field);
    size_t len = txt ? strlen(txt) : 0;
    switch (ch) {
    case 27:
        u->ov = OV_NONE;
        u->full = true;
        return;
    case KEY_UP:
        t->field = (t->field + TK_FIELDS - 1) % TK_FIELDS;
        return;
    case KEY_DOWN:
    case '\t':
        t->field = (t->field + 1) % TK_FIELDS;
        return;
    case '\n':
    case '\r':
    case KEY_ENTER: {
        market_sym *s = ui_focus_sym(u);
        order_req q;
        runner_placed pl;
        kdec fee;
        char why[256];
        if (s && u->a->runner && ticket_req(u, s, &q) &&
            runner_preview(u->a->runner, &q, &pl, &fee, why, sizeof why) == K_OK)
            t->confirm = true; /* the verdict is shown; refused tickets stay in the fields */
        return;
    }
    default:
        break;
    }
    if (t->field == TK_SIDE && (ch == ' ' || ch == KEY_LEFT || ch == KEY_RIGHT)) {
        t->side = t->side == SIDE_BUY ? SIDE_SELL : SIDE_BUY;
    } else if (t->field == TK_TYPE && (ch == ' ' || ch == KEY_LEFT || ch == KEY_RIGHT)) {
        int n = (int)K_ARRAY_LEN(ticket_types), k = 0;
        while (k < n && ticket_types[k] != t->type)
            k++;
        k = (k + (ch == KEY_LEFT ? n - 1 : 1)) % n;
        t->type = ticket_types[k];
    } else if (txt && (ch == KEY_BACKSPACE || ch == 127 || ch == 8)) {
        if (len)
            txt[len - 1] = '\0';
    } else if (txt && len + 1 < sizeof t->text[0] &&
               ((ch >= '0' && ch <= '9') || (ch == '.' && !strchr(txt, '.')) ||
                (ch == '$' && len == 0 && t->field == TK_QTY))) {
        txt[len] = (char)ch;
        txt[len + 1] = '\0';
    } else if (ch == 'b' || ch == 's') { /* anywhere: the side */
        t->side = ch == 'b' ? SIDE_BUY : SIDE_SELL;
    }
}

static void ticket_dec(kdec v, int d, char *out, size_t cap)
{
    if (!decimal_format(v, d >= 0 ? d : decimal_places(v), out, cap))
        snprintf(out, cap, "?");
}

void ui_ticket_draw(ui *u)
{
    WINDOW *w = ui_overlay_open(u, 17, 72, "Order ticket");
    if (!w)
        return;
    ui_ticket *t = &u->tk;
    int wd = getmaxx(w), iw = wd - 4;
    market_sym *s = ui_focus_sym(u);
    if (!s || !u->a->runner) {
        ui_put(u, w, 2, 2, iw, ROLE_OVERLAY, s ? "trading is not running" : "no symbol yet");
        ui_overlay_show(w);
        return;
    }
    char line[320], px[40];
    ticket_dec(s->last_px, s->px_decimals, px, sizeof px);
    snprintf(line, sizeof line, "%s (%s)  last %s", s->name, venue_name(s->venue),
             s->last_px > 0 ? px : "-");
    ui_put(u, w, 1, 2, iw, ROLE_OVERLAY, line);
    for (int f = 0; f < TK_FIELDS; f++) {
        const char *v = f == TK_SIDE   ? side_name(t->side)
                        : f == TK_TYPE ? order_type_name(t->type)
                                       : t->text[f - TK_QTY];
        snprintf(line, sizeof line, "%-16s %s%s", ticket_labels[f], v,
                 f == t->field && f >= TK_QTY && !t->confirm ? "_" : "");
        bool sel = f == t->field && !t->confirm;
        ui_put(u, w, 3 + f, 2, iw, sel ? ROLE_SELECTION : ROLE_OVERLAY, line);
    }
    order_req q;
    runner_placed pl;
    kdec fee = 0;
    char why[256] = "";
    int y = 3 + TK_FIELDS + 1;
    if (!ticket_req(u, s, &q)) {
        ui_put(u, w, y, 2, iw, ROLE_DIM, "type a quantity (or $ and a quote amount)");
    } else {
        bool ok = runner_preview(u->a->runner, &q, &pl, &fee, why, sizeof why) == K_OK;
        if (ok || pl.qty > 0) {
            char qt[40], pr[40], no[40], fe[40];
            ticket_dec(pl.qty, s->qty_decimals, qt, sizeof qt);
            ticket_dec(pl.price > 0 ? pl.price : pl.stop, s->px_decimals, pr, sizeof pr);
            ticket_dec(pl.notional, 2, no, sizeof no);
            ticket_dec(fee, -1, fe, sizeof fe);
            snprintf(line, sizeof line, "%s %s @ %s  notional %s  fee %s %s", side_name(q.side),
                     qt, pl.price > 0 || pl.stop > 0 ? pr : "market", no, fe,
                     q.type == ORDER_LIMIT ? "maker" : "taker");
            ui_put(u, w, y, 2, iw, ROLE_OVERLAY, line);
        }
        snprintf(line, sizeof line, "risk: %s", why);
        ui_put(u, w, y + 1, 2, iw, ok ? ROLE_OK : ROLE_ERROR, line);
    }
    const char *hint = t->confirm ? "Enter / y: send this order    n / Esc: back to the fields"
                                  : "Up/Down field  Left/Right/space change  b/s side  "
                                    "Enter review  Esc close";
    ui_put(u, w, getmaxy(w) - 2, 2, iw, t->confirm ? ROLE_KEY : ROLE_DIM, hint);
    ui_overlay_show(w);
}

static cmd_result ticket_exec(cmd_ctx *c)
{
    if (!c->ui)
        return cmd_fail(c, "the order ticket needs the screen (kestrel ctl order places orders)");
    if (!c->a->runner)
        return cmd_fail(c, "trading is not running");
    ui *u = c->ui;
    set_term(u->scr);
    u->ui_changes++;
    ui_ticket_open(u);
    cmd_json_bool(c, c->out, "ticket", true);
    return CMD_OK;
}

const cmd_entry cmd_ticket_entry = {.name = "ticket", .args = "",
                                    .help = "order ticket: the rounded values, notional, fee "
                                            "and risk verdict before the final confirm",
                                    .flags = CMD_F_UI, .exec = ticket_exec};
