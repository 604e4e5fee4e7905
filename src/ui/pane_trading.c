/* The Trading screen's chart and panels (screen 2, beside the account / orders pane):
 *   Equity   the paper account's equity curve (one sample a minute of data) with the drawdown
 *            from the running peak shaded, and the P&L of each UTC day as bars around zero;
 *   History  the round trips, newest first, under their statistics (win rate, profit factor,
 *            expectancy, average win / loss, Sharpe of daily returns), each with its sample
 *            size, "not enough data" when there is none;
 *   Risk     the risk state and every limit with its use (risk_json, what `ctl risk` says),
 *            historical VaR / ES 95% 1 day of the open portfolio, the exposure by asset and the
 *            correlation matrix of the watched symbols (riskview.h), each with its sample size.
 * Numbers are drawn whole or not at all: a field that does not fit is left out with its label. */
#include "ui_int.h"

#include "kestrel/decimal.h"
#include "kestrel/portfolio.h"
#include "kestrel/risk.h"
#include "kestrel/riskview.h"
#include "kestrel/runner.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* "label ... value" on row y when both fit whole; nothing otherwise. */
static bool tr_row(ui *u, WINDOW *w, int y, int iw, enum theme_role vr, const char *label,
                   const char *value)
{
    int ll = ui_text_cols(label), vl = ui_text_cols(value);
    if (y < 1 || ll + 1 + vl > iw)
        return false;
    ui_put(u, w, y, 1, ll, ROLE_DIM, label);
    ui_put(u, w, y, 1 + iw - vl, vl, vr, value);
    return true;
}

/* Fields left to right on row y, each whole; the first that does not fit ends the row. */
static int tr_field(ui *u, WINDOW *w, int y, int x, int xmax, enum theme_role r, const char *s)
{
    int n = ui_text_cols(s);
    if (x < 0 || x + n > xmax)
        return -1;
    ui_put(u, w, y, x, n, r, s);
    return x + n + 2;
}

static void tr_dec(kdec v, int d, char *out, size_t cap)
{
    if (!decimal_format(v, d, out, cap))
        snprintf(out, cap, "?");
}

/* v rounded half away from zero to d decimals, formatted with exactly d: a derived figure
 * (percent, VaR) shown at the precision it means. */
static void tr_round(kdec v, int d, char *out, size_t cap)
{
    int64_t step = 1;
    for (int i = d; i < 8; i++)
        step *= 10;
    __int128 q = ((__int128)(v < 0 ? -v : v) + step / 2) / step * step;
    tr_dec((kdec)(v < 0 ? -q : q), d, out, cap);
}

static void tr_signed(kdec v, int d, char *out, size_t cap)
{
    char b[48];
    tr_dec(v, d, b, sizeof b);
    snprintf(out, cap, "%s%s", v > 0 ? "+" : "", b);
}

/* ---- Equity ---- */

static void tr_equity(ui *u, WINDOW *w, int ih, int iw)
{
    portfolio *pf = runner_portfolio(u->a->runner);
    pf_summary sm;
    portfolio_summary(pf, &sm);
    char a[48], b[48], c[48], d[48], line[64];
    tr_dec(sm.equity, 2, a, sizeof a);
    tr_dec(sm.peak_equity, 2, b, sizeof b);
    tr_round(sm.drawdown_pct, 2, c, sizeof c);
    tr_signed(sm.day_pnl, 2, d, sizeof d);
    int x = 1;
    snprintf(line, sizeof line, "equity %s", a);
    x = tr_field(u, w, 1, x, iw + 1, ROLE_TEXT, line);
    snprintf(line, sizeof line, "peak %s", b);
    x = tr_field(u, w, 1, x, iw + 1, ROLE_TEXT, line);
    snprintf(line, sizeof line, "drawdown %s%%", c);
    x = tr_field(u, w, 1, x, iw + 1, sm.drawdown_pct > 0 ? ROLE_DOWN : ROLE_TEXT, line);
    snprintf(line, sizeof line, "day %s", d);
    (void)tr_field(u, w, 1, x, iw + 1, sm.day_pnl < 0 ? ROLE_DOWN : ROLE_UP, line);

    uint32_t np = portfolio_point_count(pf), nd = portfolio_day_count(pf);
    int bars_h = ih >= 12 && nd > 0 ? 4 : 0; /* daily P&L: three rows of bars and a label */
    int top = 2, bottom = ih - bars_h - (bars_h ? 1 : 0); /* the curve's rows */
    int ch = bottom - top + 1;
    if (np < 2) {
        snprintf(line, sizeof line, "equity curve: not enough data (%u sample%s)", np,
                 np == 1 ? "" : "s");
        if (ch >= 1 && ui_text_cols(line) <= iw)
            ui_put(u, w, top + (ch - 1) / 2, 1, iw, ROLE_DIM, line);
        else if (ch >= 1)
            ui_put(u, w, top + (ch - 1) / 2, 1, iw, ROLE_DIM, "not enough data");
    } else if (ch >= 2) {
        /* the axis on the right holds the scale's ends, whole */
        /* the samples, then the equity now as the newest point */
        uint32_t npt = np + 1;
#define TR_EQ(i) ((i) < np ? portfolio_point_at(pf, (i))->equity : sm.equity)
        int axis = 0, cols = iw;
        kdec lo = KDEC_MAX, hi = 0, peak = 0;
        char hs[48] = "", ls[48] = "";
        for (int pass = 0; pass < 2; pass++) { /* the scale's width decides the columns */
            cols = iw - axis;
            uint32_t f0 = npt > (uint32_t)cols ? npt - (uint32_t)cols : 0;
            lo = KDEC_MAX, hi = 0, peak = 0;
            for (uint32_t i = 0; i < npt; i++) { /* the running peak starts at the first */
                kdec e = TR_EQ(i);
                peak = K_MAX(peak, e);
                if (i >= f0) {
                    lo = K_MIN(lo, e);
                    hi = K_MAX(hi, peak);
                }
            }
            if (hi - lo < KDEC_SCALE / 100)
                hi = lo + KDEC_SCALE / 100; /* a flat curve: one cent of scale */
            tr_round(hi, 2, hs, sizeof hs);
            tr_round(lo, 2, ls, sizeof ls);
            axis = (int)K_MAX(strlen(hs), strlen(ls)) + 1;
            if (iw - axis < 8)
                axis = 0; /* no room for the scale: the curve alone */
        }
        uint32_t first = npt > (uint32_t)cols ? npt - (uint32_t)cols : 0;
        double span = decimal_to_double(hi) - decimal_to_double(lo);
        peak = 0;
        for (uint32_t i = 0; i < first; i++)
            peak = K_MAX(peak, TR_EQ(i));
        const char *shade = u->utf8 ? "\xe2\x96\x91" : ":";
        const char *dot = u->utf8 ? "\xe2\x80\xa2" : "*";
        for (uint32_t i = first; i < npt; i++) {
            kdec e = TR_EQ(i);
            peak = K_MAX(peak, e);
            int col = 1 + (int)(i - first);
            int re = top + (int)lround((decimal_to_double(hi) - decimal_to_double(e)) / span *
                                       (double)(ch - 1));
            int rp = top + (int)lround((decimal_to_double(hi) - decimal_to_double(peak)) / span *
                                       (double)(ch - 1));
            for (int y = rp; y < re; y++) /* the drawdown: from the peak down to the curve */
                ui_put(u, w, y, col, 1, ROLE_DOWN, shade);
            ui_put(u, w, re, col, 1, e < peak ? ROLE_DOWN : ROLE_UP, dot);
        }
#undef TR_EQ
        if (axis) {
            ui_put(u, w, top, 1 + iw - axis + 1, axis - 1, ROLE_AXIS, hs);
            ui_put(u, w, bottom, 1 + iw - axis + 1, axis - 1, ROLE_AXIS, ls);
        }
    }
    if (!bars_h)
        return;
    /* daily P&L: one bar per UTC day (3 columns each), up from the zero line or down */
    int y0 = ih - bars_h + 1; /* label row, then 3 rows: +, zero line, - */
    int per = 3, ndays = K_MIN((int)nd, iw / per);
    /* the newest day moves with the marks: its P&L now (the summary's), the others' as
     * recorded */
    int64_t today = u->a->data_ms / 86400000LL;
#define TR_DAY_PNL(dy) ((dy)->day == today && (dy) == portfolio_day_at(pf, nd - 1)             \
                            ? sm.day_pnl                                                      \
                            : (dy)->end_equity - (dy)->start_equity)
    kdec maxabs = 1;
    for (int k = 0; k < ndays; k++) {
        const pf_day *dy = portfolio_day_at(pf, nd - (uint32_t)ndays + (uint32_t)k);
        kdec p = TR_DAY_PNL(dy);
        maxabs = K_MAX(maxabs, p < 0 ? -p : p);
    }
    snprintf(line, sizeof line, "daily P&L (%u day%s)", nd, nd == 1 ? "" : "s");
    ui_put(u, w, y0, 1, iw, ROLE_HEADER, line);
    /* the newest day's value after the title, whole */
    const pf_day *last = portfolio_day_at(pf, nd - 1);
    char lv[64], ds[16];
    kdec lp = TR_DAY_PNL(last);
    tr_signed(lp, 2, b, sizeof b);
    ui_fmt_time(ds, sizeof ds, last->day * 86400000LL, 4);
    snprintf(lv, sizeof lv, "%s %s", ds, b);
    int tl = ui_text_cols(line) + 2;
    if (tl + ui_text_cols(lv) <= iw)
        ui_put(u, w, y0, 1 + iw - ui_text_cols(lv), ui_text_cols(lv),
               lp < 0 ? ROLE_DOWN : ROLE_UP, lv);
    static const char *const up8[] = {"\xe2\x96\x81", "\xe2\x96\x82", "\xe2\x96\x83",
                                      "\xe2\x96\x84", "\xe2\x96\x85", "\xe2\x96\x86",
                                      "\xe2\x96\x87", "\xe2\x96\x88"};
    const char *zero = u->utf8 ? "\xe2\x94\x80" : "-";
    for (int zx = 1; zx <= iw; zx++)
        ui_put(u, w, y0 + 2, zx, 1, ROLE_AXIS, zero);
    for (int k = 0; k < ndays; k++) {
        const pf_day *dy = portfolio_day_at(pf, nd - (uint32_t)ndays + (uint32_t)k);
        kdec p = TR_DAY_PNL(dy);
        if (p == 0)
            continue;
        /* the size in eighths of a row: any gain or loss shows, the largest fills its row */
        kdec ap = p < 0 ? -p : p;
        int e8 = (int)K_MAX(1, K_MIN(8, (int64_t)((__int128)ap * 8 / maxabs)));
        const char *g = p > 0 ? (u->utf8 ? up8[e8 - 1] : e8 >= 4 ? "#" : "+")
                              : (u->utf8 ? (e8 >= 4 ? up8[7] : "\xe2\x96\x80")
                                         : e8 >= 4 ? "#" : "-");
        int bx = 1 + k * per;
        for (int j = 0; j < per - 1; j++)
            ui_put(u, w, p > 0 ? y0 + 1 : y0 + 3, bx + j, 1, p > 0 ? ROLE_UP : ROLE_DOWN, g);
    }
#undef TR_DAY_PNL
}

/* ---- History ---- */

/* One statistic: its value and sample size, or "not enough data" with what it needs. */
static int tr_stat(ui *u, WINDOW *w, int y, int iw, const char *label, bool ok,
                   const char *value, const char *n, enum theme_role r)
{
    char v[96];
    if (ok)
        snprintf(v, sizeof v, "%s  n %s", value, n);
    else
        snprintf(v, sizeof v, "not enough data (n %s)", n);
    if (!tr_row(u, w, y, iw, ok ? r : ROLE_DIM, label, v) && ok) {
        snprintf(v, sizeof v, "%s", value); /* the sample size goes first, the value stays */
        (void)tr_row(u, w, y, iw, r, label, v);
    }
    return y + 1;
}

static void tr_history(ui *u, WINDOW *w, int ih, int iw)
{
    portfolio *pf = runner_portfolio(u->a->runner);
    pf_stats st;
    portfolio_stats(pf, &st);
    char v[64], n[32], a[48], b[48];
    int y = 1;
    snprintf(n, sizeof n, "%u", st.trades);
    snprintf(v, sizeof v, "%u (%u won, %u lost)", st.trades, st.wins, st.losses);
    tr_row(u, w, y++, iw, ROLE_TEXT, "round trips", v);
    snprintf(v, sizeof v, "%.1f%%", st.win_rate * 100.0);
    y = tr_stat(u, w, y, iw, "win rate", st.trades > 0, v, n, ROLE_TEXT);
    snprintf(v, sizeof v, "%.2f", st.profit_factor);
    char pn[48];
    snprintf(pn, sizeof pn, "%u, %u losing", st.trades, st.losses);
    y = tr_stat(u, w, y, iw, "profit factor", st.losses > 0 && st.wins > 0, v,
                st.losses > 0 ? n : pn, ROLE_TEXT);
    tr_signed(st.expectancy, 2, v, sizeof v);
    y = tr_stat(u, w, y, iw, "expectancy USDT", st.trades > 0, v, n,
                st.expectancy < 0 ? ROLE_DOWN : ROLE_TEXT);
    tr_signed(st.avg_win, 2, a, sizeof a);
    tr_signed(st.avg_loss, 2, b, sizeof b);
    char nw[16], nl[16];
    snprintf(nw, sizeof nw, "%u", st.wins);
    snprintf(nl, sizeof nl, "%u", st.losses);
    y = tr_stat(u, w, y, iw, "avg win USDT", st.wins > 0, a, nw, ROLE_UP);
    y = tr_stat(u, w, y, iw, "avg loss USDT", st.losses > 0, b, nl, ROLE_DOWN);
    snprintf(v, sizeof v, "%.2f", st.sharpe);
    snprintf(n, sizeof n, "%u day%s", st.days, st.days == 1 ? "" : "s");
    y = tr_stat(u, w, y, iw, "Sharpe (daily, x sqrt 365)", st.days >= 2, v, n, ROLE_TEXT);
    if (y + 1 > ih)
        return;
    uint32_t nt = portfolio_trade_count(pf);
    if (nt == 0) {
        ui_put(u, w, y, 1, iw, ROLE_DIM, "no round trips yet");
        return;
    }
    /* newest first; the selection scrolls the list when the pane has the focus. Columns in
     * the order they are kept: a column that does not fit is left out whole, header too */
    enum { TH_TIME, TH_SYM, TH_SIDE, TH_QTY, TH_PNL, TH_ENTRY, TH_EXIT, TH_N };
    static const char *const hdr[TH_N] = {"closed", "symbol", "side", "qty", "P&L net",
                                          "entry", "exit"};
    int rows = ih - y; /* under the header */
    if (rows < 1)
        return;
    ui_list_fit(&u->tr_hist, nt, rows);
    char cell[64][TH_N][40];
    int width[TH_N];
    for (int c = 0; c < TH_N; c++)
        width[c] = (int)strlen(hdr[c]);
    int shown = 0;
    for (int r = 0; r < rows && r < 64; r++, shown++) {
        uint32_t k = u->tr_hist.top + (uint32_t)r;
        if (k >= nt)
            break;
        const pf_trade *t = portfolio_trade_at(pf, nt - 1 - k);
        char d[16], hm[16];
        ui_fmt_time(d, sizeof d, t->closed_ms, 4);
        ui_fmt_time(hm, sizeof hm, t->closed_ms, 2);
        snprintf(cell[r][TH_TIME], 40, "%s %s", d, hm);
        snprintf(cell[r][TH_SYM], 40, "%s", t->symbol);
        snprintf(cell[r][TH_SIDE], 40, "%s", t->side == SIDE_BUY ? "long" : "short");
        tr_dec(t->qty, decimal_places(t->qty), cell[r][TH_QTY], 40);
        tr_signed(t->pnl, decimal_places(t->pnl), cell[r][TH_PNL], 40);
        tr_dec(t->entry, decimal_places(t->entry), cell[r][TH_ENTRY], 40);
        tr_dec(t->exit, decimal_places(t->exit), cell[r][TH_EXIT], 40);
        for (int c = 0; c < TH_N; c++)
            width[c] = K_MAX(width[c], (int)strlen(cell[r][c]));
    }
    int ncols = 0, used = 0;
    while (ncols < TH_N && used + width[ncols] <= iw) {
        used += width[ncols] + 1;
        ncols++;
    }
    int x = 1;
    for (int c = 0; c < ncols; c++) {
        bool num = c >= TH_QTY;
        ui_putf(u, w, y, x, width[c], ROLE_HEADER, num ? "%*s" : "%-*s", width[c], hdr[c]);
        x += width[c] + 1;
    }
    y++;
    for (int r = 0; r < shown; r++) {
        uint32_t k = u->tr_hist.top + (uint32_t)r;
        const pf_trade *t = portfolio_trade_at(pf, nt - 1 - k);
        bool sel = u->focus == PANE_HISTORY && k == u->tr_hist.sel;
        x = 1;
        for (int c = 0; c < ncols; c++) {
            bool num = c >= TH_QTY;
            enum theme_role role = sel ? ROLE_SELECTION
                                   : c == TH_PNL ? (t->pnl < 0 ? ROLE_DOWN : ROLE_UP)
                                   : c == TH_TIME ? ROLE_DIM
                                                  : ROLE_TEXT;
            ui_putf(u, w, y + r, x, width[c], role, num ? "%*s" : "%-*s", width[c],
                    cell[r][c]);
            x += width[c] + 1;
        }
    }
}

/* ---- Risk ---- */

static const char *tr_js(const cJSON *o, const char *path1, const char *path2)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, path1);
    if (path2)
        x = cJSON_GetObjectItemCaseSensitive(x, path2);
    return cJSON_IsString(x) ? x->valuestring : NULL;
}

static double tr_jn(const cJSON *o, const char *path1, const char *path2)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, path1);
    if (path2)
        x = cJSON_GetObjectItemCaseSensitive(x, path2);
    return cJSON_IsNumber(x) ? x->valuedouble : 0;
}

/* A decimal string of risk_json rounded to 2 places for the screen ("?" when absent). */
static const char *tr_j2(const cJSON *o, const char *k1, const char *k2, char *out, size_t cap)
{
    const char *t = tr_js(o, k1, k2);
    kdec v;
    if (!t || decimal_parse(t, strlen(t), &v) != K_OK)
        snprintf(out, cap, "?");
    else
        tr_round(v, 2, out, cap);
    return out;
}

static void tr_risk(ui *u, WINDOW *w, int ih, int iw)
{
    char r1[48], r2[48], r3[48];
    runner *r = u->a->runner;
    cJSON *j = risk_json(runner_risk(r), runner_portfolio(r));
    if (!j)
        return;
    char v[160];
    int y = 1;
    const char *state = tr_js(j, "state", NULL), *reason = tr_js(j, "reason", NULL);
    snprintf(v, sizeof v, "%s%s%s", state ? state : "?", reason && reason[0] ? ": " : "",
             reason ? reason : "");
    if (!tr_row(u, w, y, iw, state && strcmp(state, "ACTIVE") ? ROLE_WARNING : ROLE_OK, "state",
                v))
        tr_row(u, w, y, iw, ROLE_WARNING, "state", state ? state : "?");
    y++;
    snprintf(v, sizeof v, "%.0f / %.0f", tr_jn(j, "positions", "used"),
             tr_jn(j, "positions", "max"));
    tr_row(u, w, y++, iw, ROLE_TEXT, "positions", v);
    snprintf(v, sizeof v, "%s = %s%% (max %s%%)", tr_j2(j, "exposure", "used", r1, sizeof r1),
             tr_j2(j, "exposure", "pct", r2, sizeof r2), tr_js(j, "exposure", "max_pct"));
    tr_row(u, w, y++, iw, ROLE_TEXT, "exposure", v);
    snprintf(v, sizeof v, "%s = %s%% (max %s%%)", tr_j2(j, "open_risk", "used", r1, sizeof r1),
             tr_j2(j, "open_risk", "pct", r2, sizeof r2), tr_js(j, "open_risk", "max_pct"));
    tr_row(u, w, y++, iw, ROLE_TEXT, "open risk", v);
    snprintf(v, sizeof v, "%s (stop at -%s%%)", tr_j2(j, "day_pnl", NULL, r1, sizeof r1),
             tr_js(j, "daily_loss_pct", NULL));
    tr_row(u, w, y++, iw, ROLE_TEXT, "day P&L", v);
    snprintf(v, sizeof v, "%s%% (half size %s%%, halt %s%%)",
             tr_j2(j, "drawdown", NULL, r3, sizeof r3), tr_js(j, "drawdown_reduce_pct", NULL),
             tr_js(j, "drawdown_halt_pct", NULL));
    tr_row(u, w, y++, iw, ROLE_TEXT, "drawdown", v);
    cJSON_Delete(j);

    const riskview *rv = riskview_current(u->a);
    if (!rv || y > ih)
        return;
    char a[48], b[48];
    if (rv->var_ok) {
        tr_round(rv->var, 2, a, sizeof a);
        tr_round(rv->es, 2, b, sizeof b);
        snprintf(v, sizeof v, "%s  ES %s  n %u days", a, b, rv->var_days);
        if (!tr_row(u, w, y, iw, ROLE_TEXT, "VaR 95% 1d", v)) {
            snprintf(v, sizeof v, "%s  ES %s", a, b);
            tr_row(u, w, y, iw, ROLE_TEXT, "VaR 95%", v);
        }
    } else {
        snprintf(v, sizeof v, "%s", rv->var_status);
        if (!tr_row(u, w, y, iw, ROLE_DIM, "VaR / ES", v))
            tr_row(u, w, y, iw, ROLE_DIM, "VaR / ES",
                   rv->positions ? "not enough data" : "no positions");
    }
    y++;
    for (int i = 0; i < rv->nassets && y <= ih; i++) {
        char lab[48];
        tr_round(rv->assets[i].exposure, 2, a, sizeof a);
        tr_round(rv->assets[i].pct, 2, b, sizeof b);
        snprintf(lab, sizeof lab, "exposure %s", rv->assets[i].asset);
        snprintf(v, sizeof v, "%s  %s%%", a, b);
        if (tr_row(u, w, y, iw, ROLE_TEXT, lab, v))
            y++;
    }
    if (y + 1 > ih || rv->nsym == 0)
        return;
    /* the correlation matrix: numbered columns, one row per symbol */
    int lw = 0;
    for (uint32_t i = 0; i < rv->nsym; i++)
        lw = K_MAX(lw, (int)strlen(rv->label[i]) + 3);
    int cw = 6; /* "-0.62 " */
    int ncol = (iw - lw) / cw;
    uint32_t shown = (uint32_t)K_MIN((int)rv->nsym, ncol);
    uint32_t nmin = UINT32_MAX;
    for (uint32_t i = 0; i < rv->nsym; i++)
        for (uint32_t k = 0; k < rv->nsym; k++)
            nmin = K_MIN(nmin, rv->corr_days[i * rv->nsym + k]);
    if (shown == 0) {
        tr_row(u, w, y++, iw, ROLE_DIM, "correlations", "no room");
        return;
    }
    snprintf(v, sizeof v, "correlation %dd (n >= %u days)", RISKVIEW_CORR_DAYS, nmin);
    if (nmin < RISKVIEW_MIN_CORR_DAYS)
        snprintf(v, sizeof v, "correlation %dd: - = not enough data (< %d days)",
                 RISKVIEW_CORR_DAYS, RISKVIEW_MIN_CORR_DAYS);
    ui_put(u, w, y++, 1, iw, ROLE_HEADER, v);
    if (y > ih)
        return;
    for (uint32_t k = 0; k < shown; k++)
        ui_putf(u, w, y, 1 + lw + (int)k * cw, cw, ROLE_DIM, "%5u", k + 1);
    y++;
    for (uint32_t i = 0; i < rv->nsym && y <= ih; i++, y++) {
        ui_putf(u, w, y, 1, lw, ROLE_TEXT, "%u %s", i + 1, rv->label[i]);
        for (uint32_t k = 0; k < shown; k++) {
            uint32_t n = rv->corr_days[i * rv->nsym + k];
            double c = rv->corr[i * rv->nsym + k];
            char cell[16];
            if (n < RISKVIEW_MIN_CORR_DAYS)
                snprintf(cell, sizeof cell, "%5s", "-");
            else
                snprintf(cell, sizeof cell, "%5.2f", c);
            ui_put(u, w, y, 1 + lw + (int)k * cw, cw,
                   n < RISKVIEW_MIN_CORR_DAYS ? ROLE_DIM
                   : fabs(c) > 0.7 && i != k  ? ROLE_WARNING
                                              : ROLE_TEXT, cell);
        }
    }
}

void ui_trading_draw(ui *u, pane *p, enum pane_id id)
{
    WINDOW *w = p->w;
    const char *title = id == PANE_EQUITY ? "Equity / daily P&L USDT"
                        : id == PANE_HISTORY ? "Trade history"
                                             : "Risk";
    ui_frame_box(u, w, u->focus == id, title, ROLE_TITLE);
    int ih = p->h - 2, iw = p->wd - 2;
    if (ih < 1 || iw < 4)
        return;
    if (!u->a->runner) {
        ui_put(u, w, 1, 1, iw, ROLE_DIM, "trading is not running");
        return;
    }
    if (id == PANE_EQUITY)
        tr_equity(u, w, ih, iw);
    else if (id == PANE_HISTORY)
        tr_history(u, w, ih, iw);
    else
        tr_risk(u, w, ih, iw);
}
