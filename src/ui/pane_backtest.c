/* Screen 5, Backtests: the stored runs (the list widget, newest first, with their summary
 * columns) and the selected run's report (metrics with their sample sizes and 95 % intervals,
 * the baselines, the verdicts and the four plots of the text report, drawn by the same code:
 * btplot.h). Both panes draw only from the app's btview model (btview.h: rows read on the
 * store's writer thread); nothing here touches the disk. Every number is whole or not drawn:
 * a cell that does not fit its column shows the ellipsis, a report line that does not fit the
 * pane is replaced by it. Also the `backtests` command (key B). */
#include "ui_int.h"

#include "kestrel/btplot.h"
#include "kestrel/btview.h"
#include "kestrel/cmd.h"
#include "kestrel/decimal.h"
#include "kestrel/xmalloc.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BT_EMPTY "no backtests stored yet — run kestrel backtest --data FILE"
#define BT_EMPTY_ASCII "no backtests stored yet - run kestrel backtest --data FILE"
#define BT_LINES_MAX 400
#define BT_LINE_W 320

/* ---- the list ------------------------------------------------------------------------ */

typedef struct bt_col {
    const char *head;
    int w;    /* columns */
    int rank; /* kept while the pane is narrow: lower first */
    bool left;
} bt_col;

enum { C_ID, C_TIME, C_KIND, C_SYM, C_BARS, C_PNL, C_RET, C_SHARPE, C_DD, C_TRADES, C_FEES,
       C_VERDICT, C_COUNT };

static const bt_col bt_cols[C_COUNT] = {
    [C_ID] = {"#", 4, 0, false},          [C_TIME] = {"stored UTC", 11, 6, true},
    [C_KIND] = {"kind", 6, 5, true},      [C_SYM] = {"symbol", 9, 4, true},
    [C_BARS] = {"bars", 7, 7, false},     [C_PNL] = {"net_pnl", 14, 1, false},
    [C_RET] = {"return", 10, 2, false},   [C_SHARPE] = {"sharpe", 8, 8, false},
    [C_DD] = {"max dd", 8, 9, false},     [C_TRADES] = {"trades", 6, 10, false},
    [C_FEES] = {"fees", 12, 11, false},   [C_VERDICT] = {"verdict", 13, 3, true},
};

static const char *bt_kind_short(const char *k)
{
    return !strcmp(k, "walk_forward") ? "wf" : !strcmp(k, "sweep_config") ? "config" : k;
}

static void bt_kdec(kdec v, char *b, size_t cap)
{
    decimal_format(v, decimal_places(v), b, cap);
}

/* the cell's text ("" when the run has no such value: drawn as "-") */
static void bt_cell(const btstore_row *r, int c, char *b, size_t cap)
{
    b[0] = '\0';
    switch (c) {
    case C_ID: snprintf(b, cap, "%lld", (long long)r->id); break;
    case C_TIME: {
        char md[16], hm[16];
        ui_fmt_time(md, sizeof md, r->time_ms, 4);
        ui_fmt_time(hm, sizeof hm, r->time_ms, 2);
        snprintf(b, cap, "%s %s", md, hm);
        break;
    }
    case C_KIND: snprintf(b, cap, "%s", bt_kind_short(r->kind)); break;
    case C_SYM: snprintf(b, cap, "%s", r->symbol); break;
    case C_BARS: if (r->bars >= 0) snprintf(b, cap, "%lld", (long long)r->bars); break;
    case C_PNL: if (r->has_net_pnl) bt_kdec(r->net_pnl, b, cap); break;
    case C_RET: if (isfinite(r->ret)) snprintf(b, cap, "%+.4f%%", r->ret * 100); break;
    case C_SHARPE: if (isfinite(r->sharpe)) snprintf(b, cap, "%.3f", r->sharpe); break;
    case C_DD: if (isfinite(r->max_drawdown)) snprintf(b, cap, "%.3f%%", r->max_drawdown * 100);
        break;
    case C_TRADES: if (r->trades >= 0) snprintf(b, cap, "%lld", (long long)r->trades); break;
    case C_FEES: if (r->has_fees) bt_kdec(r->fees, b, cap); break;
    case C_VERDICT:
        if (!strcmp(r->kind, "sweep") || !strcmp(r->kind, "merge"))
            snprintf(b, cap, "DSR/PBO: open");
        else if (r->verdicts == 0)
            b[0] = '\0';
        else if (r->edges == 0)
            snprintf(b, cap, "no edge (0/%u)", r->verdicts);
        else
            snprintf(b, cap, "edge %u/%u", r->edges, r->verdicts);
        break;
    default: break;
    }
}

/* which columns of widths wd fit iw, in display order */
static int bt_fit_cols(int iw, const int *wd, int *out)
{
    bool on[C_COUNT] = {false};
    int used = 0;
    for (int rank = 0; rank < C_COUNT; rank++)
        for (int c = 0; c < C_COUNT; c++)
            if (bt_cols[c].rank == rank && used + wd[c] + (used ? 1 : 0) <= iw) {
                on[c] = true;
                used += wd[c] + (used ? 1 : 0);
            }
    int n = 0;
    for (int c = 0; c < C_COUNT; c++)
        if (on[c])
            out[n++] = c;
    return n;
}

static void bt_draw_list(ui *u, WINDOW *w, int ih, int iw)
{
    const btview *v = u->a->btview;
    uint32_t n = btview_count(v);
    int y = 1;
    if (!v) { /* no database in this session (tests, benches) */
        ui_put_whole(u, w, y, 1, iw, ROLE_REPLAY, "source BACKTEST");
        ui_put(u, w, y + 1, 1, iw, ROLE_DIM, "no database open: no stored backtests to list");
        return;
    }
    if (!btview_loaded(v)) {
        ui_put(u, w, y, 1, iw, ROLE_DIM, btview_error(v)[0] ? btview_error(v)
                                                            : "reading the stored backtests...");
        return;
    }
    char head[160];
    snprintf(head, sizeof head, "source BACKTEST  %u run%s stored, newest first%s", n,
             n == 1 ? "" : "s", n ? "  Enter: open the report" : "");
    if (ui_text_cols(head) > iw)
        snprintf(head, sizeof head, "source BACKTEST  %u stored", n);
    ui_put_whole(u, w, y++, 1, iw, ROLE_REPLAY, head);
    if (btview_error(v)[0] && y <= ih)
        ui_put(u, w, y++, 1, iw, ROLE_WARNING, btview_error(v));
    if (n == 0) {
        if (y <= ih)
            ui_put_whole(u, w, y + (ih - y) / 2, 1, iw, ROLE_TEXT,
                         u->utf8 ? BT_EMPTY : BT_EMPTY_ASCII);
        return;
    }
    int wd[C_COUNT], cols[C_COUNT];
    for (int c = 0; c < C_COUNT; c++)
        wd[c] = bt_cols[c].w;
    char idb[32]; /* the newest id is the widest: its digits and the open mark */
    wd[C_ID] = K_MAX(wd[C_ID], snprintf(idb, sizeof idb, "%lld*", (long long)btview_row(v, 0)->id));
    int nc = bt_fit_cols(iw, wd, cols);
    int verdict_w = 0;
    {
        int used = 0;
        for (int k = 0; k < nc; k++)
            used += wd[cols[k]] + (k ? 1 : 0);
        verdict_w = iw - used; /* the last column takes the rest */
    }
    if (y > ih)
        return;
    int x = 1;
    for (int k = 0; k < nc; k++) {
        const bt_col *c = &bt_cols[cols[k]];
        int cw = wd[cols[k]] + (cols[k] == C_VERDICT ? verdict_w : 0);
        char b[64];
        snprintf(b, sizeof b, c->left ? "%-*s" : "%*s", cw, c->head);
        ui_put(u, w, y, x, cw, ROLE_HEADER, b);
        x += cw + 1;
    }
    y++;
    int rows = ih - y + 1;
    u->bt_y0 = y; /* the first row, for clicks */
    ui_list_fit(&u->bt_list, n, rows);
    bool foc = u->focus == PANE_BACKTEST;
    for (int i = 0; i < rows; i++) {
        uint32_t idx = u->bt_list.top + (uint32_t)i;
        const btstore_row *r = btview_row(v, idx);
        if (!r)
            break;
        bool sel = idx == u->bt_list.sel;
        bool open = btview_want(v) == r->id;
        enum theme_role role = sel && foc ? ROLE_SELECTION : ROLE_TEXT;
        if (sel && foc)
            ui_fill(u, w, y + i, 1, iw, ROLE_SELECTION);
        x = 1;
        for (int k = 0; k < nc; k++) {
            const bt_col *c = &bt_cols[cols[k]];
            int cw = wd[cols[k]] + (cols[k] == C_VERDICT ? verdict_w : 0);
            char b[96], cell[112];
            bt_cell(r, cols[k], b, sizeof b);
            if (cols[k] == C_ID)
                snprintf(b + strlen(b), sizeof b - strlen(b), "%s", open ? "*" : " ");
            const char *t = b[0] ? b : "-";
            int tw = ui_text_cols(t);
            if (tw <= cw)
                snprintf(cell, sizeof cell, c->left ? "%-*s" : "%*s", cw, t);
            else
                snprintf(cell, sizeof cell, "%s", t); /* does not fit: the ellipsis */
            enum theme_role cr = role;
            if (role == ROLE_TEXT && cols[k] == C_PNL && r->has_net_pnl)
                cr = r->net_pnl < 0 ? ROLE_DOWN : r->net_pnl > 0 ? ROLE_UP : ROLE_TEXT;
            if (role == ROLE_TEXT && cols[k] == C_VERDICT)
                cr = r->edges ? ROLE_UP : ROLE_DIM;
            ui_put_whole(u, w, y + i, x, cw, cr, cell);
            x += cw + 1;
        }
    }
}

/* ---- the report ---------------------------------------------------------------------- */

typedef struct bt_lines {
    char (*text)[BT_LINE_W];
    enum theme_role *role;
    bool *equity; /* a row of the equity plot: '*' and ':' in their colours */
    int n;
    enum theme_role cur; /* role of the lines the plots add */
    bool in_equity;      /* the equity plot is adding its lines */
} bt_lines;

static void bt_add(bt_lines *L, enum theme_role r, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void bt_add(bt_lines *L, enum theme_role r, const char *fmt, ...)
{
    if (L->n >= BT_LINES_MAX)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(L->text[L->n], BT_LINE_W, fmt, ap);
    va_end(ap);
    L->equity[L->n] = false;
    L->role[L->n++] = r;
}

static void bt_plot_line(void *ud, int indent, const char *text)
{
    bt_lines *L = ud;
    bool row = strchr(text, '|') != NULL;
    bt_add(L, indent <= 2 && !row ? ROLE_HEADER : L->cur, "%*s%s", indent > 2 ? 2 : 0, "", text);
    if (L->in_equity && row && L->n > 0)
        L->equity[L->n - 1] = true;
}

static const cJSON *bt_j(const cJSON *o, const char *k)
{
    return cJSON_GetObjectItemCaseSensitive(o, k);
}

/* %.6g of a number, "-" for null / absent */
static const char *bt_g(const cJSON *v, char *b, size_t cap)
{
    if (cJSON_IsNumber(v))
        snprintf(b, cap, "%.6g", v->valuedouble);
    else if (cJSON_IsString(v))
        snprintf(b, cap, "%s", v->valuestring);
    else
        snprintf(b, cap, "-");
    return b;
}

static void bt_report_run(bt_lines *L, const cJSON *j, int iw)
{
    char a[48], b[48], c[48], d[48];
    bt_add(L, ROLE_TEXT, "net_pnl %s  fees %s  funding %s  (after fees, %s)",
           bt_g(bt_j(j, "net_pnl"), a, sizeof a), bt_g(bt_j(j, "fees"), b, sizeof b),
           bt_g(bt_j(j, "funding"), c, sizeof c), "USDT");
    bt_add(L, ROLE_TEXT, "equity %s -> %s   trades %s  signals %s",
           bt_g(bt_j(j, "start_equity"), a, sizeof a), bt_g(bt_j(j, "end_equity"), b, sizeof b),
           bt_g(bt_j(j, "trade_count"), c, sizeof c), bt_g(bt_j(j, "signals"), d, sizeof d));
    bt_add(L, ROLE_HEADER, "%-14s %12s  %-27s %s", "metric", "value", "95% CI (block bootstrap)",
           "n");
    const cJSON *ci = bt_j(j, "intervals");
    const cJSON *ens = bt_j(bt_j(j, "metrics"), "ensemble");
    char nbars[48], nsig[48], ntr[48];
    snprintf(nbars, sizeof nbars, "%s bars", bt_g(bt_j(j, "bars"), a, sizeof a));
    snprintf(nsig, sizeof nsig, "%s signals", bt_g(bt_j(ens, "n"), a, sizeof a));
    snprintf(ntr, sizeof ntr, "%s trades", bt_g(bt_j(j, "trade_count"), a, sizeof a));
    static const struct {
        const char *key, *ci;
        int n; /* 0 bars, 1 signals, 2 trades */
    } rows[] = {{"return", "return", 0},     {"sharpe", "sharpe", 0},
                {"accuracy", "accuracy", 1}, {"sortino", NULL, 0},
                {"max_drawdown", NULL, 0},   {"win_rate", NULL, 2},
                {"profit_factor", NULL, 2},  {"expectancy", NULL, 2},
                {"exposure", NULL, 0}};
    for (size_t i = 0; i < K_ARRAY_LEN(rows); i++) {
        const cJSON *v = !strcmp(rows[i].key, "accuracy") ? bt_j(ens, "accuracy")
                                                          : bt_j(j, rows[i].key);
        const cJSON *iv = rows[i].ci ? bt_j(ci, rows[i].ci) : NULL;
        char civ[64] = "";
        if (iv)
            snprintf(civ, sizeof civ, "[%s, %s]", bt_g(bt_j(iv, "lo"), a, sizeof a),
                     bt_g(bt_j(iv, "hi"), b, sizeof b));
        bt_add(L, ROLE_TEXT, "%-14s %12s  %-27s %s", rows[i].key, bt_g(v, c, sizeof c), civ,
               rows[i].n == 0 ? nbars : rows[i].n == 1 ? nsig : ntr);
    }
    bt_add(L, ROLE_HEADER, "%-14s %6s %8s %8s %8s %8s %8s %8s", "classification", "n",
           "accuracy", "f1", "brier", "log_loss", "ece", "weight");
    const cJSON *m;
    const cJSON *models = bt_j(bt_j(j, "metrics"), "models");
    for (int k = -1; k < cJSON_GetArraySize(models); k++) {
        m = k < 0 ? ens : cJSON_GetArrayItem(models, k);
        if (!m)
            continue;
        char f[6][24];
        static const char *const ks[] = {"accuracy", "f1", "brier", "log_loss", "ece", "weight"};
        for (int q = 0; q < 6; q++) {
            const cJSON *x = bt_j(m, ks[q]);
            if (cJSON_IsNumber(x))
                snprintf(f[q], sizeof f[q], "%.4f", x->valuedouble);
            else
                snprintf(f[q], sizeof f[q], "-");
        }
        bt_add(L, ROLE_TEXT, "%-14s %6s %8s %8s %8s %8s %8s %8s", k < 0 ? "ensemble" : m->string,
               bt_g(bt_j(m, "n"), a, sizeof a), f[0], f[1], f[2], f[3], f[4], f[5]);
    }
    bt_add(L, ROLE_HEADER, "%-14s %12s", "baseline", "return");
    const cJSON *bl;
    cJSON_ArrayForEach(bl, bt_j(j, "baselines"))
    {
        char extra[96] = "";
        if (bt_j(bl, "p2_5"))
            snprintf(extra, sizeof extra, "  95%% of %s seeds in [%s, %s]",
                     bt_g(bt_j(bl, "seeds"), a, sizeof a), bt_g(bt_j(bl, "p2_5"), b, sizeof b),
                     bt_g(bt_j(bl, "p97_5"), d, sizeof d));
        else if (bt_j(bl, "accuracy"))
            snprintf(extra, sizeof extra, "  accuracy %s", bt_g(bt_j(bl, "accuracy"), a, sizeof a));
        else if (bt_j(bl, "pnl"))
            snprintf(extra, sizeof extra, "  pnl %s", bt_g(bt_j(bl, "pnl"), a, sizeof a));
        bt_add(L, ROLE_TEXT, "%-14s %12s%s", bl->string, bt_g(bt_j(bl, "return"), c, sizeof c),
               extra);
    }
    bt_add(L, ROLE_HEADER, "verdicts");
    const cJSON *vd;
    cJSON_ArrayForEach(vd, bt_j(j, "verdicts"))
    {
        const char *t = cJSON_GetStringValue(vd);
        if (t)
            bt_add(L, strstr(t, ": edge over ") ? ROLE_UP : ROLE_WARNING, "  %s", t);
    }
    /* the plots: the text report's, sized to the pane */
    const cJSON *eq = bt_j(j, "equity_curve");
    if (!eq)
        return;
    L->cur = ROLE_TEXT;
    int cols = K_MIN(120, K_MAX(10, iw - 16));
    L->in_equity = true;
    btplot_equity(eq, 0, cols, 10, bt_plot_line, L);
    L->in_equity = false;
    if (ens)
        btplot_reliability(bt_j(ens, "reliability"), K_MIN(40, K_MAX(4, iw - 52)), bt_plot_line,
                           L);
    btplot_monthly(bt_j(j, "monthly_returns"), K_MIN(40, K_MAX(4, iw - 28)), bt_plot_line, L);
    btplot_trades(bt_j(j, "trades"), K_MIN(40, K_MAX(4, iw - 44)), bt_plot_line, L);
}

static void bt_report_sweep(bt_lines *L, const cJSON *j)
{
    char a[48], b[48], c[48], d[48];
    const cJSON *sw = bt_j(j, "sweep");
    bt_add(L, ROLE_TEXT, "configurations tried %s of a grid of %s",
           bt_g(bt_j(sw, "configurations"), a, sizeof a), bt_g(bt_j(sw, "grid"), b, sizeof b));
    bt_add(L, ROLE_TEXT, "winner #%s  Deflated Sharpe Ratio %s  PBO %s (CSCV, %s splits)",
           bt_g(bt_j(sw, "winner"), a, sizeof a), bt_g(bt_j(sw, "dsr"), b, sizeof b),
           bt_g(bt_j(sw, "pbo"), c, sizeof c), bt_g(bt_j(sw, "pbo_splits"), d, sizeof d));
    bt_add(L, ROLE_HEADER, "%-6s %12s %12s  %s", "#", "return", "sharpe", "params");
    const cJSON *e;
    int k = 0;
    cJSON_ArrayForEach(e, bt_j(sw, "ranking"))
    {
        if (k++ >= 100) {
            bt_add(L, ROLE_DIM, "... %d more", cJSON_GetArraySize(bt_j(sw, "ranking")) - 100);
            break;
        }
        bt_add(L, ROLE_TEXT, "%-6s %12s %12s  %s", bt_g(bt_j(e, "index"), a, sizeof a),
               bt_g(bt_j(e, "return"), b, sizeof b), bt_g(bt_j(e, "sharpe"), c, sizeof c),
               cJSON_GetStringValue(bt_j(e, "params")) ? bt_j(e, "params")->valuestring : "");
    }
}

static void bt_report_lines(bt_lines *L, const btstore_report *rp, int iw)
{
    const btstore_row *r = &rp->row;
    char t[64], f[64], to[64];
    ui_fmt_time(t, sizeof t, r->time_ms, 5);
    bt_add(L, ROLE_REPLAY, "#%lld %s  %s %s  %s  seed %llu  source BACKTEST", (long long)r->id,
           r->kind, r->symbol[0] ? r->symbol : "-", r->venue, r->strategy,
           (unsigned long long)r->seed);
    if (r->from_ms && r->to_ms) {
        ui_fmt_time(f, sizeof f, r->from_ms, 5);
        ui_fmt_time(to, sizeof to, r->to_ms, 5);
        bt_add(L, ROLE_TEXT, "stored %s UTC  bars %lld ending %s .. %s UTC", t,
               (long long)r->bars, f, to);
    } else {
        bt_add(L, ROLE_TEXT, "stored %s UTC", t);
    }
    cJSON *files = rp->data_files ? cJSON_Parse(rp->data_files) : NULL;
    const cJSON *fe;
    cJSON_ArrayForEach(fe, files)
    {
        const char *p = cJSON_GetStringValue(bt_j(fe, "path"));
        const char *h = cJSON_GetStringValue(bt_j(fe, "sha256"));
        const char *base = p ? strrchr(p, '/') : NULL;
        char by[48];
        bt_add(L, ROLE_DIM, "data %s  %s bytes", base ? base + 1 : p ? p : "?",
               bt_g(bt_j(fe, "bytes"), by, sizeof by));
        if (h)
            bt_add(L, ROLE_DIM, "  sha256 %s", h);
    }
    cJSON_Delete(files);
    /* the command line, wrapped at spaces (a word wider than the pane is not cut: it is the
     * ellipsis, as any line that does not fit) */
    for (const char *p = rp->args; p && *p;) {
        int take = 0, last_sp = -1, wmax = K_MAX(10, K_MIN(iw, BT_LINE_W - 1));
        while (p[take] && take < wmax) {
            if (p[take] == ' ')
                last_sp = take;
            take++;
        }
        if (p[take] && last_sp > 0)
            take = last_sp;
        else if (p[take]) /* one long word: up to its end */
            while (p[take] && p[take] != ' ' && take < BT_LINE_W - 1)
                take++;
        bt_add(L, ROLE_DIM, "%.*s", take, p);
        p += take;
        while (*p == ' ')
            p++;
    }
    const cJSON *j = rp->report;
    if (!j) {
        bt_add(L, ROLE_WARNING, "the stored report could not be read");
        return;
    }
    if (!strcmp(r->kind, "sweep_config")) {
        char a[48], b[48], c[48];
        bt_add(L, ROLE_TEXT, "configuration %s of sweep #%lld: %s",
               bt_g(bt_j(j, "index"), a, sizeof a), (long long)r->parent_id,
               cJSON_GetStringValue(bt_j(j, "params")) ? bt_j(j, "params")->valuestring : "");
        if (bt_j(j, "verdicts")) { /* its own run report: shown as a run's */
            bt_report_run(L, j, iw);
            return;
        }
        bt_add(L, ROLE_TEXT, "return %s  sharpe %s (per bar)", bt_g(bt_j(j, "return"), b, sizeof b),
               bt_g(bt_j(j, "sharpe"), c, sizeof c));
        bt_add(L, ROLE_DIM, "stored from a shard without its report: return and Sharpe only");
        return;
    }
    if (bt_j(j, "sweep")) {
        bt_report_sweep(L, j);
        return;
    }
    bt_report_run(L, j, iw);
}

static void bt_draw_report(ui *u, WINDOW *w, int ih, int iw)
{
    const btview *v = u->a->btview;
    const btstore_report *rp = btview_report(v);
    if (!rp || rp->row.id != btview_want(v)) {
        const char *msg = !btview_loaded(v) || btview_want(v)
                              ? "reading the report..."
                              : btview_count(v) ? "select a run (Enter) to see its report"
                                                : "no report: nothing is stored yet";
        ui_put(u, w, 1, 1, iw, ROLE_DIM, msg);
        if (!rp)
            return;
    }
    bt_lines L = {.text = xmalloc(sizeof *L.text * BT_LINES_MAX),
                  .role = xmalloc(sizeof *L.role * BT_LINES_MAX),
                  .equity = xmalloc(sizeof *L.equity * BT_LINES_MAX),
                  .cur = ROLE_TEXT};
    bt_report_lines(&L, rp, iw);
    const cJSON *ec = bt_j(rp->report, "equity_curve");
    double e0 = cJSON_GetNumberValue(bt_j(cJSON_GetArrayItem(ec, 0), "equity"));
    double e1 = cJSON_GetNumberValue(
        bt_j(cJSON_GetArrayItem(ec, cJSON_GetArraySize(ec) - 1), "equity"));
    enum theme_role eq_role = e1 < e0 ? ROLE_DOWN : ROLE_UP; /* the curve: where it ended */
    int y0 = rp->row.id != btview_want(v) ? 2 : 1;
    int rows = ih - y0 + 1;
    ui_list_fit(&u->bt_rep, (uint32_t)L.n, rows);
    if (L.n > rows && u->bt_rep.top > (uint32_t)(L.n - rows)) /* End: the last page */
        u->bt_rep.top = (uint32_t)(L.n - rows);
    else if (L.n <= rows)
        u->bt_rep.top = 0;
    for (int i = 0; y0 + i <= ih; i++) {
        int k = (int)u->bt_rep.top + i;
        if (k >= L.n)
            break;
        ui_put_whole(u, w, y0 + i, 1, iw, L.role[k], L.text[k]);
        if (!L.equity[k] || ui_text_cols(L.text[k]) > iw) /* not drawn whole: the ellipsis */
            continue;
        const char *bar = strchr(L.text[k], '|');
        for (int x = (int)(bar - L.text[k]) + 1; L.text[k][x]; x++)
            if (L.text[k][x] == '*' || L.text[k][x] == ':')
                ui_put(u, w, y0 + i, 1 + x, 1, L.text[k][x] == '*' ? eq_role : ROLE_DOWN,
                       L.text[k][x] == '*' ? "*" : ":");
    }
    free(L.text);
    free(L.role);
    free(L.equity);
}

void ui_backtest_draw(ui *u, pane *p, enum pane_id id)
{
    WINDOW *w = p->w;
    char title[64];
    const btstore_report *rp = btview_report(u->a->btview);
    if (id == PANE_BT_REPORT && rp)
        snprintf(title, sizeof title, "Report #%lld", (long long)rp->row.id);
    else
        snprintf(title, sizeof title, "%s", ui_pane_name(id));
    ui_frame_box(u, w, u->focus == id, title, ROLE_TITLE);
    int ih = p->h - 2, iw = p->wd - 2;
    if (ih < 1 || iw < 4)
        return;
    if (id == PANE_BACKTEST)
        bt_draw_list(u, w, ih, iw);
    else
        bt_draw_report(u, w, ih, iw);
}

void ui_backtest_select(ui *u)
{
    const btstore_row *r = btview_row(u->a->btview, u->bt_list.sel);
    if (r) {
        btview_open(u->a->btview, r->id);
        u->bt_rep.top = 0;
    }
}

/* ---- the command --------------------------------------------------------------------- */

static cmd_result ui_backtest_cmd(cmd_ctx *c)
{
    app *a = c->a;
    const char *sub = c->argc > 1 ? c->argv[1] : "show";
    if (!strcmp(sub, "show") || !strcmp(sub, "reload")) {
        btview_reload(a->btview);
        if (c->ui && !strcmp(sub, "show")) {
            ui *u = c->ui;
            set_term(u->scr);
            u->ui_changes++;
            ui_set_screen(u, SCR_BACKTEST);
        }
        cmd_json_bool(c, c->out, "reloading", true);
        return CMD_OK;
    }
    if (!strcmp(sub, "open")) {
        char *end = NULL;
        long long id = c->argc > 2 ? strtoll(c->argv[2], &end, 10) : 0;
        if (id <= 0 || !end || *end)
            return cmd_fail(c, "usage: backtests open ID (the # column)");
        btview_open(a->btview, id);
        if (c->ui)
            c->ui->bt_rep.top = 0;
        cmd_json_num(c, c->out, "opening", (double)id);
        return CMD_OK;
    }
    if (!strcmp(sub, "list")) {
        const btview *v = a->btview;
        cmd_json_bool(c, c->out, "loaded", btview_loaded(v));
        cmd_json_num(c, c->out, "open", (double)btview_want(v));
        const btstore_report *rp = btview_report(v);
        cmd_json_num(c, c->out, "shown", rp ? (double)rp->row.id : 0);
        cJSON *arr = cmd_json_arr(c, c->out, "runs");
        for (uint32_t i = 0; i < btview_count(v) && arr; i++) {
            const btstore_row *r = btview_row(v, i);
            cJSON *o = cJSON_CreateObject();
            if (!cmd_json_push(c, arr, o))
                break;
            cmd_json_num(c, o, "id", (double)r->id);
            cmd_json_str(c, o, "kind", r->kind);
            cmd_json_str(c, o, "symbol", r->symbol);
            cmd_json_num(c, o, "time_ms", (double)r->time_ms);
            if (r->bars >= 0)
                cmd_json_num(c, o, "bars", (double)r->bars);
            if (r->has_net_pnl)
                cmd_json_dec(c, o, "net_pnl", r->net_pnl, decimal_places(r->net_pnl));
            if (isfinite(r->ret))
                cmd_json_num(c, o, "return", r->ret);
            if (r->trades >= 0)
                cmd_json_num(c, o, "trades", (double)r->trades);
        }
        return CMD_OK;
    }
    return cmd_fail(c, "usage: backtests [show|reload|list|open ID]");
}

const cmd_entry cmd_backtests_entry = {.name = "backtests",
                                       .args = "[show|reload|list|open ID]",
                                       .help = "the backtests view (screen 5): stored runs "
                                               "read again; list them; open one's report",
                                       .max_args = 2,
                                       .exec = ui_backtest_cmd};
