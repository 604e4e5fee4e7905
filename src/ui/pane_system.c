/* Screen 4 System (connections, store, counters, the log's counts and its tail from the logger's
 * memory), screen 2's first Trading pane (the paper account: auto-trading, risk state, equity
 * and P&L net of fees, open positions, counters), and the placeholders of screens 3 and 5,
 * which say what their issues will put there. Every pane is a box of labelled rows: a row is
 * drawn whole (label and value) or not at all, so a narrow pane never shows a cut number. */
#include "ui_int.h"

#include "kestrel/decimal.h"
#include "kestrel/live.h"
#include "kestrel/replay.h"
#include "kestrel/runner.h"
#include "kestrel/store.h"
#include "kestrel/xmalloc.h"
#include "kestrel/trading.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* One "label   value" row, the value right-aligned; nothing when both do not fit. */
static void sys_row(ui *u, WINDOW *w, int y, int iw, enum theme_role vr, const char *label,
                    const char *value)
{
    int ll = ui_text_cols(label), vl = ui_text_cols(value);
    if (y < 1 || ll + 1 + vl > iw)
        return;
    ui_put(u, w, y, 1, ll, ROLE_DIM, label);
    ui_put(u, w, y, 1 + iw - vl, vl, vr, value);
}

static void sys_rowu(ui *u, WINDOW *w, int y, int iw, bool warn, const char *label, uint64_t v)
{
    char b[32];
    snprintf(b, sizeof b, "%" PRIu64, v);
    sys_row(u, w, y, iw, warn && v ? ROLE_WARNING : ROLE_TEXT, label, b);
}

/* Wrapped dim text from row y; returns the next row. */
static int sys_text(ui *u, WINDOW *w, int y, int ymax, int iw, const char *text)
{
    const char *p = text;
    while (*p && y <= ymax) {
        int len = (int)strlen(p), n = len <= iw ? len : iw;
        if (n < len) {
            int cut = n;
            while (cut > 0 && p[cut] != ' ')
                cut--;
            if (cut > 0)
                n = cut;
        }
        char line[256];
        snprintf(line, sizeof line, "%.*s", K_MIN(n, 255), p);
        ui_put(u, w, y++, 1, iw, ROLE_DIM, line);
        p += n;
        while (*p == ' ')
            p++;
    }
    return y;
}

/* The live connections (live.h), one line each, then one per watched book: state, age of the
 * last message, msgs/s, reconnects, resyncs, latency. Its own function so the rest of this
 * pane can change without touching it. Returns the next free row. */
static int sys_live(ui *u, WINDOW *w, int y, int ih, int iw)
{
    klive *lv = u->a->live;
    for (size_t i = 0; i < live_conn_count(lv) && y <= ih; i++) {
        live_conn_info ci;
        if (live_conn_get(lv, i, &ci) != K_OK)
            break;
        char age[24], lat[24], line[256];
        if (ci.last_msg_age_ms < 0)
            snprintf(age, sizeof age, "-");
        else
            snprintf(age, sizeof age, "%.1fs", (double)ci.last_msg_age_ms / 1000.0);
        if (ci.latency_ms < 0)
            snprintf(lat, sizeof lat, "-");
        else
            snprintf(lat, sizeof lat, "%.0fms", ci.latency_ms);
        char clk[40] = "";
        bool skewed = ci.clock_known && llabs(ci.clock_offset_ms) > 500;
        if (skewed) /* shown above 500 ms only (issue 9) */
            snprintf(clk, sizeof clk, " clock %+lldms", (long long)ci.clock_offset_ms);
        snprintf(line, sizeof line,
                 "%-12s %-6s %-10s age %-6s %5u/s rc %llu rs %llu st %llu lat %s audit %llu/%llu%s",
                 venue_name(ci.venue), ci.channel, ci.state, age, ci.msgs_per_s,
                 (unsigned long long)ci.reconnects, (unsigned long long)ci.resyncs,
                 (unsigned long long)ci.stalls, lat, (unsigned long long)ci.audit_mismatches,
                 (unsigned long long)ci.audits, clk);
        ui_put(u, w, y++, 1, iw,
               strcmp(ci.state, "open") == 0 && !skewed ? ROLE_TEXT : ROLE_ERROR, line);
        if (ci.standby_state && y <= ih) { /* health.warm_standby: this connection's twin */
            bool synced = strcmp(ci.standby_state, "synced") == 0;
            snprintf(line, sizeof line, "  warm standby %-10s switches %llu lead %u%s",
                     ci.standby_state, (unsigned long long)ci.standby_switches,
                     ci.standby_lead, synced ? "" : " (no switch until synced)");
            ui_put(u, w, y++, 1, iw, synced ? ROLE_DIM : ROLE_WARNING, line);
        }
    }
    for (size_t i = 0; i < live_book_count(lv) && y <= ih; i++) {
        live_book_info bi;
        if (live_book_get(lv, i, &bi) != K_OK)
            continue; /* removed at run time */
        char line[256];
        snprintf(line, sizeof line, "  %-14s %-9s gaps %llu resyncs %llu audit mismatches "
                 "%llu/%llu%s", bi.symbol, bi.state, (unsigned long long)bi.gaps,
                 (unsigned long long)bi.resyncs, (unsigned long long)bi.audit_mismatches,
                 (unsigned long long)bi.audits, bi.fetching ? " (snapshot...)" : "");
        ui_put(u, w, y++, 1, iw, strcmp(bi.state, "live") == 0 ? ROLE_DIM : ROLE_ERROR, line);
    }
    return y;
}

/* One line per failover pair (live.h): which venue the panes show, and how often it switched. */
static int sys_failover(ui *u, WINDOW *w, int y, int ih, int iw)
{
    klive *lv = u->a->live;
    for (size_t i = 0; i < live_failover_count(lv) && y <= ih; i++) {
        live_failover_info fi;
        if (live_failover_get(lv, i, &fi) != K_OK)
            break;
        bool bk = fi.active[0] == 'b';
        char line[256];
        snprintf(line, sizeof line, "  %s %s:%s %s %s:%s  failovers %llu failbacks %llu",
                 bk ? "FAILOVER" : "primary", venue_name(fi.venue), fi.symbol, bk ? "->" : "|",
                 venue_name(fi.backup_venue), fi.backup_symbol,
                 (unsigned long long)fi.failovers, (unsigned long long)fi.failbacks);
        ui_put(u, w, y++, 1, iw, bk ? ROLE_WARNING : ROLE_DIM, line);
    }
    return y;
}

static void sys_conn(ui *u, WINDOW *w, int ih, int iw)
{
    app *a = u->a;
    int y = 1;
    const replay_stats *rs = a->replay ? replay_get_stats(a->replay) : NULL;
    sys_row(u, w, y++, iw, ROLE_TEXT, "source", app_source_name(a));
    if (rs) {
        sys_rowu(u, w, y++, iw, false, "replay files", (uint64_t)rs->files);
        sys_rowu(u, w, y++, iw, true, "read errors", (uint64_t)rs->read_errors);
    }
    if (a->live) {
        live_record_info ri;
        live_record_get(a->live, &ri);
        if (ri.active && y <= ih) { /* R: the recording, and what it lost */
            char b[600];
            snprintf(b, sizeof b, "%s: %llu lines%s", ri.path, (unsigned long long)ri.lines,
                     ri.dropped ? ", some dropped" : "");
            sys_row(u, w, y++, iw, ri.dropped || ri.write_error ? ROLE_ERROR : ROLE_OK,
                    "recording", b);
        }
        y = sys_live(u, w, y, ih, iw);
        sys_failover(u, w, y, ih, iw);
        return;
    }
    sys_text(u, w, y + (y <= ih ? 1 : 0), ih, iw,
             "Live venue connections (state, latency, reconnects) appear here with the live "
             "data source (kestrel --live).");
}

static void sys_store(ui *u, WINDOW *w, int ih, int iw)
{
    app *a = u->a;
    if (!a->store) {
        ui_put(u, w, 1, 1, iw, ROLE_DIM, "no store");
        return;
    }
    const store_stats *st = store_get_stats(a->store);
    int y = 1;
    sys_rowu(u, w, y++, iw, false, "rows queued", st->rows_queued);
    sys_rowu(u, w, y++, iw, false, "rows written", st->rows_written);
    sys_rowu(u, w, y++, iw, true, "rows dropped", st->dropped);
    sys_rowu(u, w, y++, iw, true, "rows failed", st->rows_failed);
    sys_rowu(u, w, y++, iw, false, "commits", st->commits);
    sys_rowu(u, w, y++, iw, true, "errors", st->errors);
    store_health_info h = store_health(a->store); /* as the status bar's banner */
    if (y <= ih)
        sys_row(u, w, y++, iw, h.state == STORE_STATE_OK ? ROLE_OK : ROLE_ERROR, "state",
                store_state_name(h.state));
    if (y <= ih)
        sys_rowu(u, w, y++, iw, true, "rows held", h.rows_held);
    if (y <= ih)
        sys_rowu(u, w, y++, iw, true, "rows lost", h.rows_lost);
    if (y <= ih) {
        char b[48];
        snprintf(b, sizeof b, "%u / %u", st->queue_depth, st->queue_cap);
        sys_row(u, w, y++, iw, ROLE_TEXT, "queue", b);
    }
    if (y <= ih) {
        char b[48];
        snprintf(b, sizeof b, "%" PRId64 " us", st->max_commit_us);
        sys_row(u, w, y++, iw, ROLE_TEXT, "slowest commit", b);
    }
}

static void sys_counters(ui *u, WINDOW *w, int ih, int iw)
{
    app *a = u->a;
    int y = 1;
    char b[48];
    sys_rowu(u, w, y++, iw, false, "messages", a->messages);
    sys_rowu(u, w, y++, iw, true, "malformed", a->malformed);
    ui_fmt_num(b, sizeof b, a->msgs_per_s, 0, 12);
    sys_row(u, w, y++, iw, ROLE_TEXT, "messages/s", b);
    sys_rowu(u, w, y++, iw, false, "frames drawn", u->frames);
    sys_rowu(u, w, y++, iw, true, "frames dropped (terminal slow)", u->frames_dropped);
    uint32_t n = a->market ? market_count(a->market) : 0;
    sys_rowu(u, w, y++, iw, false, "symbols", n);
    for (uint32_t i = 0; i < n && y + 1 <= ih; i++) {
        market_sym *s = market_at(a->market, i);
        char lbl[KSYM_MAX + 24], name[KSYM_MAX + 8];
        ui_sym_label(s, name, sizeof name);
        snprintf(lbl, sizeof lbl, "%s trades", name);
        sys_rowu(u, w, y++, iw, false, lbl, s->trades);
        if (s->book && y <= ih) {
            const book_stats *bs = book_get_stats(s->book);
            snprintf(lbl, sizeof lbl, "%s gaps / resyncs", name);
            snprintf(b, sizeof b, "%llu / %llu", (unsigned long long)bs->gaps,
                     (unsigned long long)bs->resyncs);
            sys_row(u, w, y++, iw, bs->gaps ? ROLE_WARNING : ROLE_TEXT, lbl, b);
        }
    }
}

/* One line of the log tail: "23:54:13 WARN  message" (the date and milliseconds left out). A
 * message wider than the pane is cut at a space and ends in the ellipsis, so no number is cut. */
static void sys_log_line(ui *u, WINDOW *w, int y, int iw, const char *line)
{
    /* "2024-08-08T23:54:13.123Z LEVEL message": the format log.c writes */
    size_t len = strlen(line);
    const char *rest = len > 25 ? line + 25 : "";
    char buf[LOG_TAIL_COLS + 16];
    snprintf(buf, sizeof buf, "%.8s %s", len > 19 ? line + 11 : "", rest);
    enum theme_role r = strncmp(rest, "ERROR", 5) == 0  ? ROLE_ERROR
                        : strncmp(rest, "WARN", 4) == 0 ? ROLE_WARNING
                                                        : ROLE_TEXT;
    if (ui_text_cols(buf) > iw) {
        int cut = iw - 1; /* room for the ellipsis: cut at the last space before it */
        /* byte offset of column `cut` (UTF-8: continuation bytes take no column) */
        int b = 0, cols = 0;
        while (buf[b] && cols < cut) {
            b++;
            while (((unsigned char)buf[b] & 0xC0) == 0x80)
                b++;
            cols++;
        }
        int sp = b;
        while (sp > 0 && buf[sp] != ' ')
            sp--;
        if (sp > 9) /* keep at least the time and something */
            b = sp;
        snprintf(buf + b, sizeof buf - (size_t)b, "%s", ui_ellipsis(u));
    }
    ui_put(u, w, y, 1, iw, r, buf);
}

/* Counts by level (when there is room), then the newest lines of Kestrel's own log from the
 * logger's tail in memory (log_tail: nothing is read from the file), newest at the bottom. */
static void sys_log(ui *u, WINDOW *w, int ih, int iw)
{
    app *a = u->a;
    int y = 1;
    bool counts = ih >= 9; /* five rows of counts and the file, and still a few lines of tail */
    if (a->log && counts) {
        sys_rowu(u, w, y++, iw, true, "errors", log_count(a->log, LOG_ERROR));
        sys_rowu(u, w, y++, iw, true, "warnings", log_count(a->log, LOG_WARN));
        sys_rowu(u, w, y++, iw, false, "info", log_count(a->log, LOG_INFO));
        sys_rowu(u, w, y++, iw, true, "lines not written", log_dropped(a->log));
    }
    if (counts || !a->log)
        sys_row(u, w, y++, iw, ROLE_TEXT, "file", a->cfg.log_file[0] ? a->cfg.log_file : "(none)");
    if (!a->log || y > ih)
        return;
    uint32_t want = (uint32_t)K_MIN(ih - y + 1, LOG_TAIL_LINES);
    char (*tail)[LOG_TAIL_COLS] = xmalloc((size_t)want * LOG_TAIL_COLS);
    uint32_t n = log_tail(a->log, tail, want, NULL);
    if (n == 0)
        ui_put(u, w, y, 1, iw, ROLE_DIM, "(nothing logged yet)");
    int y0 = ih - (int)n + 1; /* newest on the last row */
    for (uint32_t i = 0; i < n; i++)
        sys_log_line(u, w, y0 + (int)i, iw, tail[i]);
    free(tail);
}

static void sys_placeholder(ui *u, WINDOW *w, int ih, int iw, const char *text)
{
    int y = K_MAX(1, ih / 2 - 1);
    sys_text(u, w, y, ih, iw, text);
}

static void sys_rowd(ui *u, WINDOW *w, int y, int iw, const char *label, kdec v, int decimals)
{
    char b[48];
    if (decimal_format(v, decimals, b, sizeof b) == 0)
        return; /* cannot happen (48 bytes hold any kdec): nothing rather than a cut number */
    sys_row(u, w, y, iw, v < 0 ? ROLE_DOWN : ROLE_TEXT, label, b);
}

static void sys_orders(ui *u, WINDOW *w, int y, int ih, int iw);
static int sys_positions(ui *u, WINDOW *w, int y, int ymax, int iw);

/* row y when it is inside the pane (ih rows), else 0: sys_row draws nothing on row 0 */
static int sys_y(int y, int ih)
{
    return y <= ih ? y : 0;
}

/* The paper account, from the trading runner. */
static void sys_trading(ui *u, WINDOW *w, int ih, int iw)
{
    runner *r = u->a->runner;
    if (!r) {
        sys_placeholder(u, w, ih, iw, "Trading is not running.");
        return;
    }
    pf_summary sm;
    portfolio_summary(runner_portfolio(r), &sm);
    const runner_stats *st = runner_get_stats(r);
    int y = 1;
    sys_row(u, w, sys_y(y++, ih), iw, runner_auto(r) ? ROLE_UP : ROLE_TEXT,
            "auto-trading (S / P)", runner_auto(r) ? "on" : "off");
    enum risk_state rs = risk_get_state(runner_risk(r));
    sys_row(u, w, sys_y(y++, ih), iw, rs == RISK_ACTIVE ? ROLE_TEXT : ROLE_WARNING,
            "risk state", risk_state_name(rs));
    sys_rowd(u, w, sys_y(y++, ih), iw, "equity USDT", sm.equity, 2);
    sys_rowd(u, w, sys_y(y++, ih), iw, "cash USDT", sm.cash, 2);
    sys_rowd(u, w, sys_y(y++, ih), iw, "realised P&L (net of fees)", sm.realised_pnl, 2);
    sys_rowd(u, w, sys_y(y++, ih), iw, "unrealised P&L", sm.unrealised_pnl, 2);
    sys_rowd(u, w, sys_y(y++, ih), iw, "fees paid", sm.fees, 2);
    sys_rowd(u, w, sys_y(y++, ih), iw, "day P&L (UTC)", sm.day_pnl, 2);
    sys_rowd(u, w, sys_y(y++, ih), iw, "drawdown %", sm.drawdown_pct, 2);
    sys_rowu(u, w, sys_y(y++, ih), iw, false, "open positions", sm.open_positions);
    sys_rowu(u, w, sys_y(y++, ih), iw, false, "signals", st->signals);
    sys_rowu(u, w, sys_y(y++, ih), iw, false, "orders", st->orders);
    sys_rowu(u, w, sys_y(y++, ih), iw, false, "fills", st->fills);
    sys_rowu(u, w, sys_y(y++, ih), iw, true, "refused by risk", st->refused);
    if (y <= ih)
        y = sys_positions(u, w, y, ih - (ih - y) / 2, iw);
    sys_orders(u, w, y, ih, iw);
}

/* v rounded half away from zero to 2 decimals, formatted with exactly 2 */
static void sys_round2(kdec v, char *out, size_t cap)
{
    const int64_t step = KDEC_SCALE / 100;
    __int128 q = ((__int128)(v < 0 ? -v : v) + step / 2) / step * step;
    if (!decimal_format((kdec)(v < 0 ? -q : q), 2, out, cap))
        snprintf(out, cap, "?");
}

/* "45s", "12m05s", "3h07m", "2d04h": how long a position has been open (data clock) */
static void sys_age(int64_t ms, char *out, size_t cap)
{
    int64_t s = ms > 0 ? ms / 1000 : 0;
    if (s < 60)
        snprintf(out, cap, "%llds", (long long)s);
    else if (s < 3600)
        snprintf(out, cap, "%lldm%02llds", (long long)(s / 60), (long long)(s % 60));
    else if (s < 86400)
        snprintf(out, cap, "%lldh%02lldm", (long long)(s / 3600), (long long)(s % 3600 / 60));
    else
        snprintf(out, cap, "%lldd%02lldh", (long long)(s / 86400), (long long)(s % 86400 / 3600));
}

/* The open positions as a table from row y to ymax (the portfolio's model, nothing derived
 * elsewhere): symbol, side, qty, entry, mark, uPnL, uPnL %, SL, TP, age. Columns in that order
 * of importance: one that does not fit is left out whole, header too (never a cut number);
 * rows past ymax scroll with the list. Returns the next free row. */
static int sys_positions(ui *u, WINDOW *w, int y, int ymax, int iw)
{
    enum { SP_SYM, SP_SIDE, SP_QTY, SP_ENTRY, SP_MARK, SP_UPNL, SP_PCT, SP_SL, SP_TP, SP_AGE,
           SP_N };
    static const char *const hdr[SP_N] = {"symbol", "side", "qty", "entry", "mark", "uPnL",
                                          "uPnL %", "SL", "TP", "age"};
    enum { SP_ROWS = 32, SP_CELL = 40 };
    portfolio *pf = runner_portfolio(u->a->runner);
    uint32_t n = 0;
    for (uint32_t i = 0; i < portfolio_position_count(pf); i++)
        n += portfolio_position_at(pf, i)->qty != 0;
    if (n == 0 || y + 1 > ymax)
        return y;
    int rows = K_MIN(ymax - y, SP_ROWS); /* under the header */
    ui_list_fit(&u->tr_pos, n, rows);
    char cell[SP_ROWS][SP_N][SP_CELL];
    int width[SP_N];
    for (int c = 0; c < SP_N; c++)
        width[c] = (int)strlen(hdr[c]);
    int shown = 0;
    uint32_t k = 0;
    for (uint32_t i = 0; i < portfolio_position_count(pf) && shown < rows; i++) {
        const pf_position *ps = portfolio_position_at(pf, i);
        if (ps->qty == 0 || k++ < u->tr_pos.top)
            continue;
        char (*r)[SP_CELL] = cell[shown++];
        kdec aq = ps->qty < 0 ? -ps->qty : ps->qty, mark = ps->mark > 0 ? ps->mark : ps->entry;
        snprintf(r[SP_SYM], SP_CELL, "%s", ps->symbol);
        snprintf(r[SP_SIDE], SP_CELL, "%s", ps->dust ? "dust" : ps->qty > 0 ? "long" : "short");
        decimal_format(aq, decimal_places(aq), r[SP_QTY], SP_CELL);
        decimal_format(ps->entry, decimal_places(ps->entry), r[SP_ENTRY], SP_CELL);
        decimal_format(mark, decimal_places(mark), r[SP_MARK], SP_CELL);
        char t[32];
        sys_round2(ps->upnl, t, sizeof t);
        snprintf(r[SP_UPNL], SP_CELL, "%s%s", ps->upnl > 0 ? "+" : "", t);
        /* uPnL in percent of the entry notional */
        __int128 cost = (__int128)ps->entry * aq / KDEC_SCALE;
        if (cost > 0) {
            __int128 pct = (__int128)ps->upnl * 100 * KDEC_SCALE / cost;
            kdec pv = pct > KDEC_MAX ? KDEC_MAX : pct < -KDEC_MAX ? -KDEC_MAX : (kdec)pct;
            sys_round2(pv, t, sizeof t);
            snprintf(r[SP_PCT], SP_CELL, "%s%s%%", pv > 0 ? "+" : "", t);
        } else {
            snprintf(r[SP_PCT], SP_CELL, "-");
        }
        if (ps->sl > 0)
            decimal_format(ps->sl, decimal_places(ps->sl), r[SP_SL], SP_CELL);
        else
            snprintf(r[SP_SL], SP_CELL, "-");
        if (ps->tp > 0)
            decimal_format(ps->tp, decimal_places(ps->tp), r[SP_TP], SP_CELL);
        else
            snprintf(r[SP_TP], SP_CELL, "-");
        sys_age(u->a->data_ms - ps->opened_ms, r[SP_AGE], SP_CELL);
        for (int c = 0; c < SP_N; c++)
            width[c] = K_MAX(width[c], (int)strlen(r[c]));
    }
    int ncols = 0, used = 0;
    while (ncols < SP_N && used + width[ncols] <= iw) {
        used += width[ncols] + 1;
        ncols++;
    }
    int x = 1;
    for (int c = 0; c < ncols; c++) {
        bool num = c >= SP_QTY;
        ui_putf(u, w, y, x, width[c], ROLE_HEADER, num ? "%*s" : "%-*s", width[c], hdr[c]);
        x += width[c] + 1;
    }
    y++;
    for (int rr = 0; rr < shown; rr++, y++) {
        x = 1;
        bool down = cell[rr][SP_UPNL][0] == '-';
        for (int c = 0; c < ncols; c++) {
            bool num = c >= SP_QTY;
            enum theme_role role = c == SP_UPNL || c == SP_PCT ? (down ? ROLE_DOWN : ROLE_UP)
                                   : c == SP_AGE               ? ROLE_DIM
                                                               : ROLE_TEXT;
            ui_putf(u, w, y, x, width[c], role, num ? "%*s" : "%-*s", width[c], cell[rr][c]);
            x += width[c] + 1;
        }
    }
    return y;
}

/* The open orders, newest last, one row each; the selection (moved with the arrows when the
 * pane has the focus) is what `C` cancels. */
static void sys_orders(ui *u, WINDOW *w, int y, int ih, int iw)
{
    order_mgr *om = runner_orders(u->a->runner);
    uint32_t n = 0;
    for (uint32_t i = 0; i < order_mgr_count(om); i++)
        n += order_status_open(order_mgr_at(om, i)->status);
    if (y + 1 > ih)
        return;
    char hdr[64];
    snprintf(hdr, sizeof hdr, "open orders (%u)  C cancels the selected", n);
    ui_put(u, w, y++, 1, iw, ROLE_HEADER, hdr);
    int rows = ih - y + 1;
    ui_list_fit(&u->tr_orders, n, rows);
    if (n == 0) {
        trading_select_order(u->a, NULL);
        return;
    }
    bool foc = u->focus == PANE_TRADING;
    uint32_t k = 0;
    for (uint32_t i = 0; i < order_mgr_count(om); i++) {
        const order *o = order_mgr_at(om, i);
        if (!order_status_open(o->status))
            continue;
        uint32_t idx = k++;
        if (idx == u->tr_orders.sel)
            trading_select_order(u->a, o->client_id);
        if (idx < u->tr_orders.top || (int)(idx - u->tr_orders.top) >= rows)
            continue;
        char q[40], px[40] = "market", sp[48] = "", line[256];
        decimal_format(o->req.qty, decimal_places(o->req.qty), q, sizeof q);
        if (o->req.price > 0)
            decimal_format(o->req.price, decimal_places(o->req.price), px, sizeof px);
        if (o->req.stop > 0) {
            char t[40];
            decimal_format(o->req.stop, decimal_places(o->req.stop), t, sizeof t);
            snprintf(sp, sizeof sp, " stop %s", t);
        }
        snprintf(line, sizeof line, "%c %s %s %s %s %s @ %s%s %s",
                 idx == u->tr_orders.sel ? '>' : ' ', o->client_id, o->req.symbol,
                 side_name(o->req.side), order_type_name(o->req.type), q, px, sp,
                 order_status_name(o->status));
        bool sel = idx == u->tr_orders.sel;
        ui_put(u, w, y + (int)(idx - u->tr_orders.top), 1, iw,
               sel && foc ? ROLE_SELECTION : ROLE_TEXT, line);
    }
}

void ui_system_draw(ui *u, pane *p, enum pane_id id)
{
    WINDOW *w = p->w;
    ui_frame_box(u, w, u->focus == id, ui_pane_name(id), ROLE_TITLE);
    int ih = p->h - 2, iw = p->wd - 2;
    if (ih < 1 || iw < 4)
        return;
    switch (id) {
    case PANE_CONN: sys_conn(u, w, ih, iw); break;
    case PANE_STORE: sys_store(u, w, ih, iw); break;
    case PANE_COUNTERS: sys_counters(u, w, ih, iw); break;
    case PANE_LOG: sys_log(u, w, ih, iw); break;
    case PANE_TRADING: sys_trading(u, w, ih, iw); break;
    case PANE_AI: ui_ai_draw(u, w, ih, iw); break;
    default: break;
    }
}
