/* The Market screen's trading strip: two lines at the foot of the watchlist column with the open
 * positions and the day's P&L (net of fees) of the paper account, and the engine's latest signal
 * (action, symbol, calibrated confidence, time) over every symbol the runner trades. It reads the
 * model only (the runner's portfolio and each engine's last signal): nothing here changes state.
 * Each line is the longest of its forms that fits the width, so a number is whole with its label
 * or not drawn. ui_strip_model() is also the `ui.strip` section of `kestrel ctl status`, so a test
 * can read the screen against it. */
#include "ui_int.h"

#include "kestrel/decimal.h"
#include "kestrel/engine.h"
#include "kestrel/portfolio.h"
#include "kestrel/runner.h"

#include <string.h>

static const char *const strip_actions[3] = {"SELL", "HOLD", "BUY"};

bool ui_strip_model(const app *a, ui_strip *out)
{
    memset(out, 0, sizeof *out);
    runner *r = a->runner;
    if (!r)
        return false;
    pf_summary sm;
    portfolio_summary(runner_portfolio(r), &sm);
    out->positions = sm.open_positions;
    out->day_pnl = sm.day_pnl;
    for (uint32_t i = 0; i < runner_symbols(r); i++) {
        const engine_signal *sg = engine_last(runner_engine(r, i));
        const market_sym *ms = runner_symbol(r, i);
        if (!sg || !ms || (out->has_signal && sg->time_ms <= out->time_ms))
            continue;
        out->has_signal = true;
        out->time_ms = sg->time_ms;
        out->action = (unsigned)sg->action < 3 ? strip_actions[sg->action] : "?";
        out->confidence = sg->confidence;
        ui_sym_label(ms, out->symbol, sizeof out->symbol);
    }
    return true;
}

/* The first of n candidate texts that fits iw columns, or NULL. */
static const char *strip_pick(char (*cand)[96], int n, int iw)
{
    for (int i = 0; i < n; i++)
        if (cand[i][0] && ui_text_cols(cand[i]) <= iw)
            return cand[i];
    return NULL;
}

void ui_strip_draw(ui *u, WINDOW *w, int y, int iw)
{
    ui_strip st;
    if (!ui_strip_model(u->a, &st))
        return;
    /* a rule with the strip's name */
    ui_role(u, w, ROLE_DIM);
    for (int x = 1; x <= iw; x++)
        ui_glyph(u, w, y, x, G_HLINE);
    if (iw >= 12)
        ui_put(u, w, y, 3, iw - 2, ROLE_DIM, " trading ");

    char cand[5][96], pnl[48];
    char pos[32], pos_s[16];
    if (st.positions == 0) {
        snprintf(pos, sizeof pos, "no positions");
        snprintf(pos_s, sizeof pos_s, "flat");
    } else {
        snprintf(pos, sizeof pos, "%u position%s", st.positions, st.positions == 1 ? "" : "s");
        snprintf(pos_s, sizeof pos_s, "%u pos", st.positions);
    }
    if (decimal_format(st.day_pnl, 2, pnl, sizeof pnl) == 0)
        snprintf(pnl, sizeof pnl, "?");
    snprintf(cand[0], sizeof cand[0], "%s  day P&L %s USDT", pos, pnl);
    snprintf(cand[1], sizeof cand[1], "%s  day %s", pos, pnl);
    snprintf(cand[2], sizeof cand[2], "%s  day %s", pos_s, pnl);
    snprintf(cand[3], sizeof cand[3], "%s", pos);
    snprintf(cand[4], sizeof cand[4], "%s", pos_s);
    const char *l1 = strip_pick(cand, 5, iw);
    enum theme_role r1 = st.day_pnl > 0 ? ROLE_UP : st.day_pnl < 0 ? ROLE_DOWN : ROLE_TEXT;
    ui_put(u, w, y + 1, 1, iw, r1, l1 ? l1 : ui_ellipsis(u));

    enum theme_role r2 = ROLE_DIM;
    if (!st.has_signal) {
        snprintf(cand[0], sizeof cand[0], "no signal yet");
        snprintf(cand[1], sizeof cand[1], "no signal");
        cand[2][0] = cand[3][0] = cand[4][0] = '\0';
    } else {
        char t[16];
        ui_fmt_time(t, sizeof t, st.time_ms, 0);
        snprintf(cand[0], sizeof cand[0], "signal %s %s conf %.3f at %s", st.action, st.symbol,
                 st.confidence, t);
        snprintf(cand[1], sizeof cand[1], "signal %s %s conf %.3f", st.action, st.symbol,
                 st.confidence);
        snprintf(cand[2], sizeof cand[2], "%s %s conf %.3f", st.action, st.symbol,
                 st.confidence);
        snprintf(cand[3], sizeof cand[3], "%s %s", st.action, st.symbol);
        snprintf(cand[4], sizeof cand[4], "%s", st.action);
        r2 = strcmp(st.action, "BUY") == 0 ? ROLE_UP : strcmp(st.action, "SELL") == 0 ? ROLE_DOWN
                                                                                       : ROLE_TEXT;
    }
    const char *l2 = strip_pick(cand, 5, iw);
    ui_put(u, w, y + 2, 1, iw, r2, l2 ? l2 : ui_ellipsis(u));
}

uint64_t ui_strip_stamp(const app *a)
{
    ui_strip st;
    if (!ui_strip_model(a, &st))
        return 0;
    uint64_t h = st.positions;
    h = h * 1099511628211ull ^ (uint64_t)st.day_pnl;
    h = h * 1099511628211ull ^ (uint64_t)st.time_ms;
    h = h * 1099511628211ull ^ (uint64_t)(st.confidence * 1e6);
    return h * 1099511628211ull ^ (uint64_t)st.has_signal;
}
