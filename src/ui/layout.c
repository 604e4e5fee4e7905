/* The screens and their declarative layouts. Each screen is a tree of splits (left-right or
 * top-bottom) whose leaves are panes with a minimum size, an optional maximum, a weight for the
 * space beyond the minimums and a priority. ui_layout_solve() fits a tree into a rectangle: while
 * the panes still in it cannot have their minimums, the lowest-priority pane (never the focused
 * one) is dropped and named in the status line; the rest share the room by weight. Below the
 * size every screen is designed for (60x20) only the focused pane is shown, and below 20x6
 * nothing but a "too small" message: that part is in ui.c. */
#include "ui_int.h"

#include <string.h>

#define L_MAX_KIDS 4

typedef struct lnode {
    char kind;           /* 'h': children left to right, 'v': top to bottom, 'p': a pane */
    enum pane_id pane;   /* 'p' */
    int min_w, min_h;    /* 'p': smallest useful size, border included */
    int max_w, max_h;    /* 'p': 0 = no limit */
    int weight;          /* share of the room beyond the minimums (along the parent's axis) */
    int prio;            /* 'p': higher is kept longer */
    int nkids;
    const struct lnode *kids[L_MAX_KIDS];
} lnode;

#define PANE_NODE(name, id, mw, mh, xw, xh, wt, pr)                                              \
    static const lnode name = {.kind = 'p', .pane = (id), .min_w = (mw), .min_h = (mh),           \
                               .max_w = (xw), .max_h = (xh), .weight = (wt), .prio = (pr)}

/* 1 Market: watchlist | chart | book over tape. The chart goes last, the tape first. */
PANE_NODE(n_watch, PANE_WATCH, 20, 6, 40, 0, 20, 2);
PANE_NODE(n_chart, PANE_CHART, 30, 10, 0, 0, 52, 4);
PANE_NODE(n_book, PANE_BOOK, 26, 8, 52, 0, 55, 3);
PANE_NODE(n_tape, PANE_TAPE, 26, 5, 52, 0, 45, 1);
static const lnode n_right = {.kind = 'v', .weight = 28, .nkids = 2, .kids = {&n_book, &n_tape}};
static const lnode n_market = {
    .kind = 'h', .nkids = 3, .kids = {&n_watch, &n_chart, &n_right}};

/* 2 Trading: the account and orders over the trade history | the equity / P&L chart over the
 * risk panel. The account goes last, the history first. */
PANE_NODE(n_trading, PANE_TRADING, 28, 8, 0, 0, 55, 5);
PANE_NODE(n_history, PANE_HISTORY, 28, 6, 0, 0, 45, 2);
PANE_NODE(n_equity, PANE_EQUITY, 28, 8, 0, 0, 50, 4);
PANE_NODE(n_risk, PANE_RISK, 28, 6, 0, 0, 50, 3);
static const lnode n_tr_l = {
    .kind = 'v', .weight = 1, .nkids = 2, .kids = {&n_trading, &n_history}};
static const lnode n_tr_r = {.kind = 'v', .weight = 1, .nkids = 2, .kids = {&n_equity, &n_risk}};
static const lnode n_trading_scr = {.kind = 'h', .nkids = 2, .kids = {&n_tr_l, &n_tr_r}};

/* 3 AI: one pane. */
PANE_NODE(n_ai, PANE_AI, 20, 5, 0, 0, 1, 1);
/* 5 Backtests: the stored runs over the selected report (the report is kept longer). */
PANE_NODE(n_bt_list, PANE_BACKTEST, 20, 5, 0, 14, 30, 1);
PANE_NODE(n_bt_report, PANE_BT_REPORT, 20, 6, 0, 0, 70, 2);
static const lnode n_backtest = {.kind = 'v', .nkids = 2, .kids = {&n_bt_list, &n_bt_report}};

/* 4 System: connections and store on the left, counters and the log on the right. */
PANE_NODE(n_conn, PANE_CONN, 28, 5, 0, 0, 35, 1);
PANE_NODE(n_store, PANE_STORE, 28, 8, 0, 0, 65, 3);
PANE_NODE(n_counters, PANE_COUNTERS, 28, 8, 0, 0, 50, 4);
PANE_NODE(n_log, PANE_LOG, 28, 5, 0, 0, 50, 2);
static const lnode n_sys_l = {.kind = 'v', .weight = 1, .nkids = 2, .kids = {&n_conn, &n_store}};
static const lnode n_sys_r = {.kind = 'v', .weight = 1, .nkids = 2, .kids = {&n_counters, &n_log}};
static const lnode n_system = {.kind = 'h', .nkids = 2, .kids = {&n_sys_l, &n_sys_r}};

static const struct {
    const char *name;
    const lnode *root;
    enum pane_id first_focus;
} screens[SCR_COUNT] = {
    [SCR_MARKET] = {"Market", &n_market, PANE_CHART},
    [SCR_TRADING] = {"Trading", &n_trading_scr, PANE_TRADING},
    [SCR_AI] = {"AI", &n_ai, PANE_AI},
    [SCR_SYSTEM] = {"System", &n_system, PANE_COUNTERS},
    [SCR_BACKTEST] = {"Backtests", &n_backtest, PANE_BACKTEST},
};

const char *ui_screen_name(enum screen_id s)
{
    return (unsigned)s < SCR_COUNT ? screens[s].name : "";
}

enum pane_id ui_screen_first_focus(enum screen_id s)
{
    return screens[s].first_focus;
}

static void collect(const lnode *n, enum pane_id *out, int *k)
{
    if (n->kind == 'p') {
        out[(*k)++] = n->pane;
        return;
    }
    for (int i = 0; i < n->nkids; i++)
        collect(n->kids[i], out, k);
}

int ui_screen_panes(enum screen_id s, enum pane_id *out)
{
    int k = 0;
    collect(screens[s].root, out, &k);
    return k;
}

static bool has_kept(const lnode *n, const bool *keep)
{
    if (n->kind == 'p')
        return keep[n->pane];
    for (int i = 0; i < n->nkids; i++)
        if (has_kept(n->kids[i], keep))
            return true;
    return false;
}

/* Smallest size of the subtree with only the kept panes. */
static void min_size(const lnode *n, const bool *keep, int *w, int *h)
{
    *w = *h = 0;
    if (n->kind == 'p') {
        if (keep[n->pane]) {
            *w = n->min_w;
            *h = n->min_h;
        }
        return;
    }
    for (int i = 0; i < n->nkids; i++) {
        int cw, ch;
        if (!has_kept(n->kids[i], keep))
            continue;
        min_size(n->kids[i], keep, &cw, &ch);
        if (n->kind == 'h') {
            *w += cw;
            *h = K_MAX(*h, ch);
        } else {
            *h += ch;
            *w = K_MAX(*w, cw);
        }
    }
}

static int max_along(const lnode *n, char axis)
{
    if (n->kind != 'p')
        return 0;
    return axis == 'h' ? n->max_w : n->max_h;
}

/* Places the kept panes of the subtree in (y, x, h, w). */
static void place_tree(const lnode *n, const bool *keep, int y, int x, int h, int w,
                       ui_rect *rects)
{
    if (n->kind == 'p') {
        rects[n->pane] = (ui_rect){y, x, h, w};
        return;
    }
    const lnode *kids[L_MAX_KIDS];
    int mins[L_MAX_KIDS], size[L_MAX_KIDS], nk = 0;
    for (int i = 0; i < n->nkids; i++) {
        if (!has_kept(n->kids[i], keep))
            continue;
        int cw, ch;
        min_size(n->kids[i], keep, &cw, &ch);
        kids[nk] = n->kids[i];
        mins[nk] = n->kind == 'h' ? cw : ch;
        size[nk] = mins[nk];
        nk++;
    }
    if (nk == 0)
        return;
    int total = n->kind == 'h' ? w : h;
    int extra = total;
    for (int i = 0; i < nk; i++)
        extra -= mins[i];
    /* the room beyond the minimums by weight, up to each child's maximum; what a capped child
     * cannot take goes round again to the others */
    bool capped[L_MAX_KIDS] = {false};
    for (int round = 0; round < L_MAX_KIDS && extra > 0; round++) {
        int wsum = 0;
        for (int i = 0; i < nk; i++)
            if (!capped[i])
                wsum += K_MAX(1, kids[i]->weight);
        if (wsum == 0)
            break;
        int given = 0, left = extra;
        for (int i = 0; i < nk; i++) {
            if (capped[i])
                continue;
            int share = (int)((int64_t)left * K_MAX(1, kids[i]->weight) / wsum);
            int mx = max_along(kids[i], n->kind);
            if (mx > 0 && size[i] + share >= mx) {
                share = K_MAX(0, mx - size[i]);
                capped[i] = true;
            }
            size[i] += share;
            given += share;
        }
        extra -= given;
        if (given == 0)
            break;
    }
    if (extra > 0) { /* rounding: to the first child without a maximum (else the last) */
        int t = nk - 1;
        for (int i = 0; i < nk; i++)
            if (max_along(kids[i], n->kind) == 0) {
                t = i;
                break;
            }
        size[t] += extra;
    }
    int pos = 0;
    for (int i = 0; i < nk; i++) {
        if (n->kind == 'h')
            place_tree(kids[i], keep, y, x + pos, h, size[i], rects);
        else
            place_tree(kids[i], keep, y + pos, x, size[i], w, rects);
        pos += size[i];
    }
}

static int prio_of(const lnode *n, enum pane_id p)
{
    if (n->kind == 'p')
        return n->pane == p ? n->prio : -1;
    for (int i = 0; i < n->nkids; i++) {
        int r = prio_of(n->kids[i], p);
        if (r >= 0)
            return r;
    }
    return -1;
}

int ui_layout_solve(enum screen_id s, int h, int w, enum pane_id focus, ui_rect *rects,
                    bool *shown)
{
    const lnode *root = screens[s].root;
    enum pane_id all[PANE_COUNT];
    int n = ui_screen_panes(s, all);
    bool keep[PANE_COUNT] = {false};
    for (int i = 0; i < n; i++)
        keep[all[i]] = true;
    int hidden = 0;
    for (;;) {
        int mw, mh;
        min_size(root, keep, &mw, &mh);
        if (mw <= w && mh <= h)
            break;
        int victim = -1, vp = 1 << 30;
        for (int i = 0; i < n; i++) {
            if (!keep[all[i]] || all[i] == focus)
                continue;
            int p = prio_of(root, all[i]);
            if (p < vp) {
                vp = p;
                victim = all[i];
            }
        }
        if (victim < 0)
            break; /* the focused pane alone: it gets what there is */
        keep[victim] = false;
        hidden++;
    }
    for (int i = 0; i < PANE_COUNT; i++)
        shown[i] = false;
    for (int i = 0; i < n; i++)
        shown[all[i]] = keep[all[i]];
    place_tree(root, keep, 0, 0, h, w, rects);
    return hidden;
}

const char *ui_pane_name(enum pane_id p)
{
    static const char *const names[PANE_COUNT] = {
        [PANE_WATCH] = "Watchlist",     [PANE_CHART] = "Chart",       [PANE_BOOK] = "Book",
        [PANE_TAPE] = "Trades",         [PANE_TRADING] = "Trading",   [PANE_AI] = "AI",
        [PANE_CONN] = "Connections",    [PANE_STORE] = "Store",       [PANE_COUNTERS] = "Counters",
        [PANE_LOG] = "Log",             [PANE_BACKTEST] = "Backtests",
        [PANE_EQUITY] = "Equity",       [PANE_HISTORY] = "History",   [PANE_RISK] = "Risk",
        [PANE_BT_REPORT] = "Report",
    };
    return (unsigned)p < PANE_COUNT ? names[p] : "";
}
