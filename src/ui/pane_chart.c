/* Chart pane: candlesticks of the app's chart timeframe for the focused symbol, one bar per
 * column, with half-cell vertical resolution (two price rows per cell: full/upper/lower blocks for
 * bodies, full/half lines for wicks), volume bars in eighths underneath, a price axis on the right
 * (the symbol's decimals, a marker at the last price) and a time axis at the bottom.
 *
 * Bars are addressed as one sequence: the closed bars held by the series (oldest first) followed
 * by the forming bar. By default the view follows the newest bar; scrolling anchors the cursor
 * and the view's right edge by bar open time, so new bars arriving do not move what the user is
 * looking at. Every visible bar is read once per frame for the range, once to draw. */
#include "ui_int.h"

#include "kestrel/decimal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define CHART_MAX_BARS 1024 /* bars drawn at once (one column each at least) */

typedef struct series_view {
    candles *c;
    uint32_t closed;
    const candle *forming;
    uint32_t total;
} series_view;

static void sv_init(series_view *v, market_sym *s, enum tf tf)
{
    memset(v, 0, sizeof(*v));
    if (!s || (unsigned)tf >= TF_COUNT || !s->series[tf])
        return;
    v->c = s->series[tf];
    v->closed = candles_count(v->c);
    v->forming = candles_forming(v->c);
    v->total = v->closed + (v->forming ? 1 : 0);
}

static const candle *sv_get(const series_view *v, uint32_t k)
{
    if (k < v->closed)
        return candles_get(v->c, k);
    if (k == v->closed)
        return v->forming;
    return NULL;
}

/* Index of the last bar with open_ms <= t (0 if none). */
static uint32_t sv_find(const series_view *v, int64_t t)
{
    if (v->total == 0)
        return 0;
    uint32_t lo = 0, hi = v->total - 1;
    const candle *b = sv_get(v, hi);
    if (b && b->open_ms <= t)
        return hi;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo + 1) / 2;
        b = sv_get(v, mid);
        if (b && b->open_ms <= t)
            lo = mid;
        else
            hi = mid - 1;
    }
    return lo;
}

static uint32_t cursor_index(ui *u, const series_view *v)
{
    if (v->total == 0)
        return 0;
    if (u->ch_follow)
        return v->total - 1;
    return sv_find(v, u->ch_cursor_ms);
}

static void set_cursor(ui *u, const series_view *v, int64_t k)
{
    if (v->total == 0)
        return;
    if (k >= (int64_t)v->total - 1) {
        u->ch_follow = true;
        return;
    }
    if (k < 0)
        k = 0;
    const candle *b = sv_get(v, (uint32_t)k);
    if (!b)
        return;
    u->ch_follow = false;
    u->ch_cursor_ms = b->open_ms;
}

void ui_chart_key(ui *u, int key)
{
    series_view v;
    sv_init(&v, ui_view_sym(u), u->a->chart_tf);
    if (v.total == 0)
        return;
    int64_t k = cursor_index(u, &v);
    int page = u->ch_nb > 2 ? u->ch_nb - 1 : 10;
    switch (key) {
    case KEY_LEFT: case 'h': set_cursor(u, &v, k - 1); break;
    case KEY_RIGHT: case 'l': set_cursor(u, &v, k + 1); break;
    case KEY_PPAGE: set_cursor(u, &v, k - page); break;
    case KEY_NPAGE: set_cursor(u, &v, k + page); break;
    case KEY_HOME:
        set_cursor(u, &v, 0);
        if (v.total == 1)
            u->ch_follow = true;
        break;
    case KEY_END: u->ch_follow = true; break;
    default: break;
    }
}

/* A "nice" step (1, 2, 2.5, 5 x 10^k) at least raw. */
static double nice_step(double raw)
{
    if (!(raw > 0))
        return 1;
    double p = pow(10, floor(log10(raw)));
    double m = raw / p;
    double s = m <= 1 ? 1 : m <= 2 ? 2 : m <= 2.5 ? 2.5 : m <= 5 ? 5 : 10;
    return s * p;
}

/* Time label intervals, in seconds. */
static const int64_t label_steps_s[] = {
    1,     2,     5,      10,     15,     30,     60,      120,     300,     600,
    900,   1800,  3600,   7200,   10800,  14400,  21600,   43200,   86400,   172800,
    604800, 1209600, 2592000, 7776000, 15552000, 31536000,
};

static void draw_bar(ui *u, WINDOW *w, int x, int top, int ch, double lo, double scale,
                     const candle *b, bool dim, bool cursor)
{
    double o = decimal_to_double(b->o), c = decimal_to_double(b->c);
    double h = decimal_to_double(b->h), l = decimal_to_double(b->l);
    int max_hr = ch * 2 - 1;
#define HR(p) ((int)K_MIN(max_hr, K_MAX(0, (int)floor(((p) - lo) * scale + 0.5))))
    int w1 = HR(h), w0 = HR(l);
    int b1 = HR(o > c ? o : c), b0 = HR(o > c ? c : o);
#undef HR
    bool up = c >= o;
    /* a bar without trades (it carries the previous close) is drawn dim and neutral */
    enum theme_role r = b->trades == 0 ? ROLE_DIM : up ? ROLE_UP : ROLE_DOWN;
    attr_t extra = 0;
    if (dim)
        extra |= A_DIM;
    if (cursor)
        extra |= A_BOLD;
    wattr_set(w, ui_attr(u, r) | extra, u->role_pair[r], NULL);
    /* no colour to tell them apart: rising bodies hollow */
    bool hollow = up && u->hollow_up && b->trades > 0;
    for (int row = w1 / 2; row >= w0 / 2; row--) {
        int lo_h = row * 2, hi_h = row * 2 + 1;
        bool lb = lo_h >= b0 && lo_h <= b1, ub = hi_h >= b0 && hi_h <= b1;
        bool lw = lo_h >= w0 && lo_h <= w1, uw = hi_h >= w0 && hi_h <= w1;
        enum glyph g;
        if (hollow && (lb || ub))
            g = G_HOLLOW;
        else if (lb && ub)
            g = G_BODY;
        else if (ub)
            g = G_BODY_TOP;
        else if (lb)
            g = G_BODY_BOT;
        else if (uw && lw)
            g = G_WICK;
        else if (uw)
            g = G_WICK_TOP;
        else if (lw)
            g = G_WICK_BOT;
        else
            continue;
        ui_glyph(u, w, top + (ch - 1 - row), x, g);
    }
}

void ui_chart_draw(ui *u, pane *p)
{
    app *a = u->a;
    WINDOW *w = p->w;
    bool foc = u->focus == PANE_CHART;
    market_sym *s = ui_view_sym(u);
    enum tf tf = a->chart_tf;
    series_view v;
    sv_init(&v, s, tf);
    char title[256], sym_lbl[KSYM_MAX + 8];
    snprintf(title, sizeof(title), "%s %s%s",
             s ? ui_sym_label(s, sym_lbl, sizeof sym_lbl) : "Chart", tf_name(tf),
             u->ch_follow ? "" : " [history]");
    ui_frame_box(u, w, foc, title, ROLE_TITLE);
    int ih = p->h - 2, iw = p->wd - 2;
    if (ih < 1 || iw < 4)
        return;
    if (!s || v.total == 0) {
        const char *msg = s ? "waiting for trades" : "no symbol";
        int len = (int)strlen(msg);
        ui_put(u, w, 1 + (ih - 1) / 2, 1 + (iw > len ? (iw - len) / 2 : 0), iw, ROLE_DIM, msg);
        return;
    }
    int dec = s->px_decimals;
    int title_end = 1 + 1 + ui_text_cols(title) + 1;

    /* vertical split: info line, candles, volume, time axis. Rows below are relative to `top`,
     * the first candle row. */
    int info_h = ih >= 6 ? 1 : 0;
    int top = 1 + info_h;
    int vol_h = ih >= 14 ? K_MAX(2, ih / 5) : ih >= 8 ? 1 : 0;
    int time_h = ih >= 4 ? 1 : 0;
    /* indicators: oscillator sub-panes between the volume and the time axis, as many as fit
     * with at least 6 candle rows and 2/5 of the pane left to the candles (panes shrink to 4
     * rows, 3 on small screens, first); the ones left out are named in the top border */
    ind_ctx ic;
    ui_ind_begin(u->a, &ic, s, tf);
    uint32_t osc[IND_MAX_OSC];
    int nosc = K_MIN(ui_ind_osc_list(&ic, osc, IND_MAX_OSC), IND_MAX_OSC);
    if (nosc > 0 && vol_h > 2) /* oscillators take the rows; volume gets less */
        vol_h = K_MAX(2, K_MIN(vol_h, ih / 8));
    int osc_h = ih >= 30 ? ih / 7 : ih >= 16 ? 3 : 0;
    int osc_room = ih - info_h - vol_h - time_h - K_MAX(6, ih * 2 / 5);
    int osc_min = ih >= 30 ? 4 : 3;
    while (osc_h > osc_min && nosc * osc_h > osc_room)
        osc_h--;
    nosc = osc_h > 0 && osc_room > 0 ? K_MIN(nosc, osc_room / osc_h) : 0;
    int ch = ih - info_h - vol_h - time_h - nosc * osc_h;
    if (ch < 2) {
        ui_put(u, w, 1, 1, iw, ROLE_DIM, "(too small)");
        return;
    }

    /* horizontal split: plot, price axis. Axis width from the widest label near the data. */
    char lbl[48];
    const candle *last = sv_get(&v, v.total - 1);
    int axis_w = ui_fmt_px(lbl, sizeof(lbl), last->h, dec) + 3;
    if (axis_w > iw / 2)
        axis_w = iw / 2;
    int plot_w = iw - axis_w - 1;
    if (plot_w < 2) {
        ui_put(u, w, 1, 1, iw, ROLE_DIM, "(too small)");
        return;
    }
    /* following the newest bar, overlays displaced forward (the Ichimoku cloud) get columns
     * after it, at most a third of the plot */
    int ahead = u->ch_follow ? ui_ind_ahead(&ic) : 0;
    /* few bars: two columns per bar (bar + gap) reads better than a crowd on the left */
    int bw = ((int64_t)v.total + ahead) * 2 <= plot_w ? 2 : 1;
    ahead = K_MIN(ahead, plot_w / bw / 3);
    int nb = plot_w / bw - ahead;
    if (nb > CHART_MAX_BARS)
        nb = CHART_MAX_BARS;
    u->ch_nb = nb;

    /* visible window */
    uint32_t cur = cursor_index(u, &v);
    int64_t right;
    if (u->ch_follow) {
        right = (int64_t)v.total - 1;
    } else {
        right = sv_find(&v, u->ch_right_ms);
        if (u->ch_right_ms == 0)
            right = cur;
        if ((int64_t)cur > right)
            right = cur;
        if ((int64_t)cur < right - nb + 1)
            right = (int64_t)cur + nb - 1;
        if (right > (int64_t)v.total - 1)
            right = (int64_t)v.total - 1;
    }
    if (right < K_MIN(nb, (int64_t)v.total) - 1)
        right = K_MIN(nb, (int64_t)v.total) - 1;
    int64_t left = right - nb + 1;
    if (left < 0)
        left = 0;
    const candle *rb = sv_get(&v, (uint32_t)right);
    u->ch_right_ms = rb ? rb->open_ms : 0;
    const candle *vis[CHART_MAX_BARS];
    int nvis = 0;
    for (int64_t k = left; k <= right && nvis < CHART_MAX_BARS; k++) {
        const candle *b = sv_get(&v, (uint32_t)k);
        if (!b)
            break;
        vis[nvis++] = b;
    }

    /* price and volume range */
    double lo = 1e300, hi = -1e300, vmax = 0;
    kdec vmax_k = 0; /* the largest volume in view, exact */
    for (int64_t k = left; k <= right; k++) {
        const candle *b = sv_get(&v, (uint32_t)k);
        if (!b)
            continue;
        double bh = decimal_to_double(b->h), bl = decimal_to_double(b->l);
        if (b->h <= 0)
            continue;
        if (bh > hi)
            hi = bh;
        if (bl < lo)
            lo = bl;
        double vv = decimal_to_double(b->volume);
        if (vv > vmax) {
            vmax = vv;
            vmax_k = b->volume;
        }
    }
    if (hi < lo) {
        lo = hi = decimal_to_double(last->c);
    }
    if (right < (int64_t)v.total - 1)
        ahead = 0; /* the cloud ahead belongs after the newest bar only */
    ui_ind_range(&ic, vis, nvis, ahead, &lo, &hi);
    double tick = pow(10, -dec);
    /* a flat series gets a small range around it; relative to the price too, since near 1e8
     * a few ticks are below a double's resolution and the range would collapse to nothing */
    double minspan = K_MAX(tick * 4, fabs(hi + lo) / 2 * 1e-9);
    if (hi - lo < minspan) {
        double mid = (hi + lo) / 2;
        lo = mid - minspan / 2;
        hi = mid + minspan / 2;
    }
    double pad = (hi - lo) * 0.04;
    lo -= pad;
    hi += pad;
    double scale = (ch * 2 - 1) / (hi - lo);

    /* grid labels on the price axis */
    int ax = 1 + plot_w + 1; /* first axis column (one blank column after the plot) */
    double step = nice_step((hi - lo) / K_MAX(1, ch / 3));
    if (step < tick)
        step = tick;
    int last_row = -10;
    /* an integer count of labels: "pv += step" can stop moving at large prices (step below the
     * double's resolution) and never reach hi */
    double k0 = ceil(lo / step), k1 = floor(hi / step);
    int nlab = k1 >= k0 && k1 - k0 <= ch + 1 ? (int)(k1 - k0) + 1 : 0;
    /* label decimals: the price's, but no more than a double holds exactly at this magnitude
     * (else 200000000.22500002), and at least what the step needs (0.025 -> 3) */
    int ld = 0;
    while (ld < dec && fabs(step * pow(10, ld) - round(step * pow(10, ld))) > 1e-6)
        ld++;
    int reliable = 15 - (int)floor(log10(K_MAX(1.0, fabs(hi)))) - 1;
    ld = K_MAX(ld, K_MIN(dec, reliable));
    for (int i = 0; i < nlab; i++) {
        double pv = (k0 + i) * step;
        if (pv == 0)
            pv = 0; /* not "-0.00" */
        int hr = (int)floor((pv - lo) * scale + 0.5);
        int row = hr / 2;
        int y = top + (ch - 1 - row);
        if (y < top || y >= top + ch || abs(y - last_row) < 2)
            continue;
        last_row = y;
        snprintf(lbl, sizeof(lbl), "%.*f", ld, pv);
        if (ui_text_cols(lbl) <= iw - ax) /* a grid label whole or none */
            ui_put(u, w, y, ax + 1, iw - ax, ROLE_AXIS, lbl);
    }

    /* indicator overlays under the candles */
    ui_ind_draw_overlays(u, w, &ic, vis, nvis, ahead, bw, top, ch, lo, hi);

    /* candles */
    for (int64_t k = left; k <= right; k++) {
        const candle *b = sv_get(&v, (uint32_t)k);
        if (!b)
            continue;
        int x = 1 + (int)(k - left) * bw;
        /* the forming bar and a partial one (its period began before the data) are dimmed */
        draw_bar(u, w, x, top, ch, lo, scale, b,
                 ((uint32_t)k == v.closed && v.forming) || (b->flags & CANDLE_PARTIAL),
                 !u->ch_follow && (uint32_t)k == cur);
    }

    /* last price marker */
    {
        kdec lp = s->last_px > 0 ? s->last_px : last->c;
        double lpd = decimal_to_double(lp);
        if (lpd >= lo && lpd <= hi) {
            int hr = (int)floor((lpd - lo) * scale + 0.5);
            int y = top + (ch - 1 - hr / 2);
            ui_role(u, w, ROLE_LAST_PRICE);
            ui_glyph(u, w, y, ax, G_LASTPX);
            ui_fmt_px(lbl, sizeof(lbl), lp, dec);
            char m[64];
            if (ui_text_cols(lbl) > iw - ax)
                snprintf(lbl, sizeof(lbl), "%s", ui_ellipsis(u));
            snprintf(m, sizeof(m), "%-*s", K_MIN(iw - ax, 60), lbl);
            ui_put(u, w, y, ax + 1, iw - ax, ROLE_LAST_PRICE, m);
        }
    }

    /* volume bars in eighths */
    if (vol_h > 0 && vmax > 0) {
        int vy0 = top + ch; /* first volume row */
        for (int64_t k = left; k <= right; k++) {
            const candle *b = sv_get(&v, (uint32_t)k);
            if (!b)
                continue;
            double vv = decimal_to_double(b->volume);
            int eighths = (int)(vv / vmax * vol_h * 8 + 0.5);
            if (eighths == 0 && vv > 0)
                eighths = 1;
            enum theme_role r = b->c >= b->o ? ROLE_VOL_UP : ROLE_VOL_DOWN;
            bool dim = ((uint32_t)k == v.closed && v.forming) || (b->flags & CANDLE_PARTIAL);
            attr_t extra = dim ? A_DIM : 0;
            wattr_set(w, ui_attr(u, r) | extra, u->role_pair[r], NULL);
            int x = 1 + (int)(k - left) * bw;
            for (int row = 0; row < vol_h && eighths > 0; row++) {
                int e = eighths >= 8 ? 8 : eighths;
                ui_glyph(u, w, vy0 + vol_h - 1 - row, x, (enum glyph)(G_V1 + e - 1));
                eighths -= e;
            }
        }
        char vl[24];
        /* the tallest bar's volume, whole with the step size's decimals, or nothing */
        int qd = s->qty_decimals > 0 ? s->qty_decimals : 4;
        if (ui_fmt_qty(vl, sizeof(vl), vmax_k, qd, 23) > iw - ax)
            vl[0] = 0;
        ui_put(u, w, vy0, ax + 1, iw - ax, ROLE_VOLUME, vl);
        if (vol_h >= 2)
            ui_put(u, w, vy0 + vol_h - 1, ax + 1, iw - ax, ROLE_DIM, "vol");
    }

    /* oscillator sub-panes */
    for (int i = 0; i < nosc; i++)
        ui_ind_draw_osc(u, w, &ic, osc[i], vis, nvis, bw, top + ch + vol_h + i * osc_h, osc_h, ax,
                        iw);

    /* time axis */
    if (time_h) {
        int ty = top + ch + vol_h + nosc * osc_h;
        int64_t tfs = tf_ms(tf) / 1000;
        int style = tf == TF_1S ? 0 : tf == TF_1D ? 3 : 2;
        int lw = style == 0 ? 8 : style == 3 ? 10 : 5;
        int64_t every = 0;
        for (size_t i = 0; i < K_ARRAY_LEN(label_steps_s); i++) {
            if (label_steps_s[i] % (tfs > 0 ? tfs : 1) != 0)
                continue;
            if (label_steps_s[i] / (tfs > 0 ? tfs : 1) * bw >= lw + 3) {
                every = label_steps_s[i];
                break;
            }
        }
        int next_free = 1, labels = 0;
        for (int64_t k = left; k <= right && every > 0; k++) {
            const candle *b = sv_get(&v, (uint32_t)k);
            if (!b)
                continue;
            int64_t secs = b->open_ms / 1000;
            if (secs % every != 0)
                continue;
            int x = 1 + (int)(k - left) * bw;
            if (x < next_free || x + lw > 1 + plot_w)
                continue;
            /* midnight on an intraday chart: show the date instead */
            int st = style;
            if (style != 3 && secs % 86400 == 0)
                st = 4;
            ui_fmt_time(lbl, sizeof(lbl), b->open_ms, st);
            ui_role(u, w, ROLE_AXIS);
            ui_glyph(u, w, ty, x, G_TICK);
            ui_put(u, w, ty, x + 1, lw, ROLE_AXIS, lbl);
            next_free = x + lw + 2;
            labels++;
        }
        if (labels == 0 && lw + 1 <= plot_w) { /* no round time in view: label the first bar */
            const candle *b = sv_get(&v, (uint32_t)left);
            if (b) {
                ui_fmt_time(lbl, sizeof(lbl), b->open_ms, style);
                ui_role(u, w, ROLE_AXIS);
                ui_glyph(u, w, ty, 1, G_TICK);
                ui_put(u, w, ty, 2, lw, ROLE_AXIS, lbl);
            }
        }
        if (!u->ch_follow && (int64_t)cur >= left && (int64_t)cur <= right) {
            ui_role(u, w, ROLE_CURSOR);
            ui_glyph(u, w, ty, 1 + (int)(cur - left) * bw, G_CURSOR);
        }
    }

    /* legend of the overlays, in the top border after the title */
    if (ic.c && title_end + 4 < p->wd - 1)
        ui_ind_legend(u, w, &ic, 0, title_end + 1, p->wd - 2 - title_end - 1, nosc);

    /* info line: OHLCV of the bar under the cursor (or the newest) */
    const candle *cb = sv_get(&v, cur);
    if (cb && info_h) {
        char o[32], h[32], l[32], c[32], vv[24], t[32];
        ui_fmt_px(o, sizeof(o), cb->o, dec);
        ui_fmt_px(h, sizeof(h), cb->h, dec);
        ui_fmt_px(l, sizeof(l), cb->l, dec);
        ui_fmt_px(c, sizeof(c), cb->c, dec);
        ui_fmt_qty(vv, sizeof(vv), cb->volume, s->qty_decimals > 0 ? s->qty_decimals : 4, 24);
        ui_fmt_time(t, sizeof(t), cb->open_ms, tf == TF_1D ? 3 : tf == TF_1S ? 0 : 2);
        bool forming = cur == v.closed && v.forming;
        bool partial = (cb->flags & CANDLE_PARTIAL) != 0;
        enum theme_role dir = cb->c > cb->o ? ROLE_UP : cb->c < cb->o ? ROLE_DOWN : ROLE_TEXT;
        /* each field whole with its label, or none from there on (and "…" says so): a cut
         * "C 61828" would read as another valid price */
        int x = 1;
        static const char *const lab[5] = {"O ", " H ", " L ", " C ", " V "};
        const char *val[5] = {o, h, l, c, vv};
        int tl = ui_text_cols(t) + 2;
        if (tl <= iw) {
            /* "*": still forming; "p": partial (its period began before the data did) */
            x += ui_put(u, w, 1, x, iw, forming || partial ? ROLE_DIM : ROLE_TEXT, t);
            x += ui_put(u, w, 1, x, iw - x + 1, ROLE_DIM,
                        forming ? (partial ? "*p" : "* ") : partial ? "p " : "  ");
        }
        for (int i = 0; i < 5; i++) {
            int need = ui_text_cols(lab[i]) + ui_text_cols(val[i]), room = iw - x + 1;
            if (need > room) {
                if (room >= 2) {
                    ui_put(u, w, 1, x, 1, ROLE_DIM, " ");
                    ui_put(u, w, 1, x + 1, 1, ROLE_DIM, ui_ellipsis(u));
                }
                break;
            }
            x += ui_put(u, w, 1, x, room, ROLE_DIM, lab[i]);
            x += ui_put(u, w, 1, x, iw - x + 1, i == 4 ? ROLE_VOLUME : dir, val[i]);
        }
    }
}
