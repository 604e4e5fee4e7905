/* Chart indicators: drawn from the app's per-series indicator charts (app_chart_ta(), one
 * ta_chart per symbol and timeframe, fed by the app on every closed bar and persisted by it), on
 * the candles (overlays: moving averages, bands, SAR, SuperTrend, Ichimoku, VWAP) and in sub-panes
 * under the chart (oscillators: RSI, MACD, Stochastic, ADX, CCI, MFI, ... with their reference
 * levels). The forming bar is peeked (values as if it closed now). A bar's values are looked up
 * by its open time in the chart's history (series can have holes), displaced outputs by bar
 * count (Ichimoku), including the cloud after the newest bar. The picker (key i) edits the
 * app's list through app_set_indicators(), which validates, rebuilds and persists it: toggles
 * indicators, steps an enabled one's first parameter (+/-) or edits its spec as text (e). */
#include "ui_int.h"

#include "kestrel/decimal.h"
#include "kestrel/ta.h"

#include <ctype.h>
#include <math.h>
#include <string.h>
#include <strings.h>

/* ---- values by time --------------------------------------------------------------------- */

void ui_ind_begin(const app *a, ind_ctx *ic, market_sym *s, enum tf tf)
{
    memset(ic, 0, sizeof(*ic));
    const ta_chart *ch = app_chart_ta(a, s, tf);
    if (!s || (unsigned)tf >= TF_COUNT || !s->series[tf] || !ch || ta_chart_instances(ch) == 0)
        return;
    ic->c = ch;
    ic->hlen = ta_chart_history_len(ic->c);
    ic->last_t = ta_chart_last_time(ic->c);
    ic->tfms = tf_ms(tf);
    ic->nout = ta_chart_outputs(ic->c);
    if (ic->nout > IND_MAX_OUT)
        ic->nout = IND_MAX_OUT;
    const candle *f = candles_forming(s->series[tf]);
    if (f && f->open_ms > ic->last_t && !(f->flags & CANDLE_PARTIAL)) { /* see chartta.c */
        ta_bar b = ta_bar_from_candle(f);
        double tmp[TA_SET_MAX * TA_MAX_OUTPUTS];
        if (ta_chart_outputs(ic->c) <= K_ARRAY_LEN(tmp) && ta_chart_peek(ic->c, &b, tmp) == K_OK) {
            memcpy(ic->peek, tmp, ic->nout * sizeof(double));
            ic->peek_t = f->open_ms;
            ic->has_peek = true;
        }
    }
}

/* Row of the bar opening at t in the chart's history: 0 .. hlen-1 the closed bars kept, hlen the
 * forming bar (its values peeked), -1 none. Bars are found by time, not by counting timeframes
 * back from the newest: a series can have holes (the app was not running, a store reload), and
 * counting would then shift every value before a hole or drop it. */
static int64_t row_of(const ind_ctx *ic, int64_t t)
{
    if (ic->has_peek && t == ic->peek_t)
        return ic->hlen;
    if (ic->hlen == 0 || t > ic->last_t)
        return -1;
    if (ic->tfms > 0) { /* the usual case: no hole between t and the newest bar */
        int64_t d = (ic->last_t - t) / ic->tfms;
        if (d < ic->hlen) {
            uint32_t i = ic->hlen - 1 - (uint32_t)d;
            if (ta_chart_history_time(ic->c, i) == t)
                return i;
        }
    }
    uint32_t lo = 0, hi = ic->hlen; /* history times increase strictly */
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int64_t mt = ta_chart_history_time(ic->c, mid);
        if (mt == t)
            return mid;
        if (mt < t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

static double row_value(const ind_ctx *ic, uint32_t k, int64_t row)
{
    if (row == (int64_t)ic->hlen && ic->has_peek)
        return ic->peek[k];
    if (row < 0 || row >= (int64_t)ic->hlen)
        return NAN;
    return ta_chart_history(ic->c, k, (uint32_t)row);
}

/* The value drawn at the bar opening at t: displaced outputs (Ichimoku) come from the bar
 * `shift` bars earlier (senkou, +25) or later (chikou, -25) in the series. */
double ui_ind_value(const ind_ctx *ic, uint32_t k, int64_t t)
{
    if (!ic->c || k >= ic->nout)
        return NAN;
    int64_t r = row_of(ic, t);
    return r < 0 ? NAN : row_value(ic, k, r - ta_chart_output_shift(ic->c, k));
}

/* The value drawn m bars (m >= 1) after the newest bar: only outputs displaced forward have
 * one (the Ichimoku cloud ahead of price). */
double ui_ind_value_ahead(const ind_ctx *ic, uint32_t k, int m)
{
    if (!ic->c || k >= ic->nout || m < 1)
        return NAN;
    int shift = ta_chart_output_shift(ic->c, k);
    if (shift < m)
        return NAN;
    int64_t newest = ic->has_peek ? (int64_t)ic->hlen : (int64_t)ic->hlen - 1;
    return row_value(ic, k, newest + m - shift);
}

static bool inst_is_overlay(const ind_ctx *ic, uint32_t inst)
{
    const ta_info *in = ta_chart_instance_info(ic->c, inst);
    return in && in->kind == TA_OVERLAY;
}

static enum theme_role inst_role(uint32_t inst)
{
    return (enum theme_role)(ROLE_IND1 + inst % 6);
}

static bool is_drawn_overlay(const ind_ctx *ic, uint32_t k)
{
    uint32_t inst = ta_chart_output_instance(ic->c, k);
    return inst < ta_chart_instances(ic->c) && inst_is_overlay(ic, inst) &&
           ta_chart_output_kind(ic->c, k) == TA_OVERLAY;
}

/* Columns of bars after the newest one that drawn outputs reach (Ichimoku's cloud: 25). */
int ui_ind_ahead(const ind_ctx *ic)
{
    int ahead = 0;
    for (uint32_t k = 0; ic->c && k < ic->nout; k++)
        if (is_drawn_overlay(ic, k) && ta_chart_output_shift(ic->c, k) > ahead)
            ahead = ta_chart_output_shift(ic->c, k);
    return ahead;
}

static void widen(double v, double *lo, double *hi)
{
    if (!isfinite(v))
        return;
    if (v < *lo)
        *lo = v;
    if (v > *hi)
        *hi = v;
}

void ui_ind_range(const ind_ctx *ic, const candle *const *vis, int n, int ahead, double *lo,
                  double *hi)
{
    if (!ic->c)
        return;
    for (uint32_t k = 0; k < ic->nout; k++) {
        if (!is_drawn_overlay(ic, k))
            continue;
        for (int j = 0; j < n; j++)
            widen(ui_ind_value(ic, k, vis[j]->open_ms), lo, hi);
        for (int m = 1; m <= ahead; m++)
            widen(ui_ind_value_ahead(ic, k, m), lo, hi);
    }
}

/* A thin line at value v: three positions per cell (low, middle, high). */
static void line_cell(ui *u, WINDOW *w, int y0, int rows, double lo, double hi, int x, double v,
                      bool dots)
{
    if (!(hi > lo) || !isfinite(v) || v < lo || v > hi)
        return;
    double pos = (v - lo) / (hi - lo) * rows * 3.0; /* 0 .. rows*3 from the bottom */
    int p = (int)pos;
    if (p >= rows * 3)
        p = rows * 3 - 1;
    int row = p / 3, sub = p % 3;
    int y = y0 + rows - 1 - row;
    ui_glyph(u, w, y, x, dots ? G_DOT : sub == 0 ? G_LINE_LO : sub == 1 ? G_LINE_MID : G_LINE_HI);
}

/* Colour of overlay output k: one colour per indicator, in selection order; a band's three
 * lines share it (middle dimmed), SuperTrend takes its direction's up/down colour (per bar,
 * below), and an overlay of several distinct lines (Ichimoku: tenkan, kijun, the two senkou
 * lines, chikou) gives each line the next colour, or they could not be told apart. */
static enum theme_role overlay_role(const ind_ctx *ic, uint32_t k, bool *dim)
{
    uint32_t inst = ta_chart_output_instance(ic->c, k);
    const ta_output_info *oi = ta_chart_output_info(ic->c, k);
    const char *lb = oi && oi->label ? oi->label : "";
    bool band = strcmp(lb, "upper") == 0 || strcmp(lb, "middle") == 0 ||
                strcmp(lb, "lower") == 0;
    *dim = strcmp(lb, "middle") == 0;
    uint32_t first = k, lines = 0;
    while (first > 0 && ta_chart_output_instance(ic->c, first - 1) == inst)
        first--;
    for (uint32_t j = first; j < ic->nout && ta_chart_output_instance(ic->c, j) == inst; j++)
        lines += is_drawn_overlay(ic, j);
    if (band || lines < 2)
        return inst_role(inst);
    return (enum theme_role)(ROLE_IND1 + (inst + (k - first)) % 6);
}

void ui_ind_draw_overlays(ui *u, WINDOW *w, const ind_ctx *ic, const candle *const *vis, int n,
                          int ahead, int bw, int top, int ch, double lo, double hi)
{
    if (!ic->c)
        return;
    for (uint32_t k = 0; k < ic->nout; k++) {
        if (!is_drawn_overlay(ic, k))
            continue;
        uint32_t inst = ta_chart_output_instance(ic->c, k);
        const ta_output_info *oi = ta_chart_output_info(ic->c, k);
        const ta_info *in = ta_chart_instance_info(ic->c, inst);
        bool dots = oi && oi->style == TA_DOTS, dim;
        /* SuperTrend: its line takes the colour of its direction output (the next one) */
        bool st = in && strcmp(in->name, "supertrend") == 0 && k + 1 < ic->nout &&
                  ta_chart_output_instance(ic->c, k + 1) == inst;
        enum theme_role r = overlay_role(ic, k, &dim);
        for (int j = 0; j < n + ahead; j++) {
            double v = j < n ? ui_ind_value(ic, k, vis[j]->open_ms)
                             : ui_ind_value_ahead(ic, k, j - n + 1);
            if (!isfinite(v))
                continue;
            enum theme_role rr = r;
            if (st && j < n) {
                double d = ui_ind_value(ic, k + 1, vis[j]->open_ms);
                rr = d > 0 ? ROLE_UP : d < 0 ? ROLE_DOWN : r;
            }
            wattr_set(w, ui_attr(u, rr) | (dim ? A_DIM : 0), u->role_pair[rr], NULL);
            line_cell(u, w, top, ch, lo, hi, 1 + j * bw, v, dots);
        }
    }
}

/* Legend of overlay instances ("sma_20 ema_50") from x, then the oscillators that got no
 * sub-pane ("+osc cci_20 mfi_14"); returns columns used. */
int ui_ind_legend(ui *u, WINDOW *w, const ind_ctx *ic, int y, int x, int maxw, int shown_osc)
{
    if (!ic->c)
        return 0;
    int used = 0, osc = 0;
    bool more = false;
    uint32_t ni = ta_chart_instances(ic->c);
    for (uint32_t i = 0; i < ni; i++) {
        char b[TA_SPEC_MAX + 8];
        enum theme_role r = inst_role(i);
        if (!inst_is_overlay(ic, i)) {
            if (osc++ < shown_osc)
                continue;
            snprintf(b, sizeof(b), "%s%s", more ? " " : " +osc ", ta_chart_instance_spec(ic->c, i));
            more = true;
            r = ROLE_DIM;
        } else {
            snprintf(b, sizeof(b), " %s", ta_chart_instance_spec(ic->c, i));
        }
        /* a spec whole or not at all; what is left out is counted ("+2"), never silently lost:
         * room stays for that count unless this is the last spec */
        char tail[16];
        int rest = 0; /* legend entries from this one on */
        for (uint32_t j = i, o2 = (uint32_t)osc - (inst_is_overlay(ic, i) ? 0 : 1); j < ni; j++) {
            if (inst_is_overlay(ic, j))
                rest++;
            else if (o2++ >= (uint32_t)shown_osc)
                rest++;
        }
        snprintf(tail, sizeof tail, " +%d", rest);
        int reserve = rest > 1 ? ui_text_cols(tail) : 0;
        if (used + ui_text_cols(b) + reserve > maxw) {
            if (used + ui_text_cols(tail) <= maxw)
                used += ui_put(u, w, y, x + used, maxw - used, ROLE_DIM, tail);
            break;
        }
        used += ui_put(u, w, y, x + used, maxw - used, r, b);
    }
    return used;
}

/* Oscillator instances in selection order: fills at most cap, returns how many there are. */
int ui_ind_osc_list(const ind_ctx *ic, uint32_t *inst_out, int cap)
{
    if (!ic->c)
        return 0;
    int n = 0;
    for (uint32_t i = 0; i < ta_chart_instances(ic->c); i++)
        if (!inst_is_overlay(ic, i)) {
            if (n < cap)
                inst_out[n] = i;
            n++;
        }
    return n;
}

void ui_ind_draw_osc(ui *u, WINDOW *w, const ind_ctx *ic, uint32_t inst,
                     const candle *const *vis, int n, int bw, int y0, int rows, int ax, int iw)
{
    if (!ic->c || rows < 2)
        return;
    /* this instance's outputs */
    uint32_t outs[TA_MAX_OUTPUTS];
    uint32_t no = 0;
    for (uint32_t k = 0; k < ic->nout && no < TA_MAX_OUTPUTS; k++)
        if (ta_chart_output_instance(ic->c, k) == inst &&
            ta_chart_output_kind(ic->c, k) == TA_OSCILLATOR)
            outs[no++] = k;
    if (no == 0)
        return;
    /* scale: fixed when every output has one, else the visible values and the levels */
    double lo = INFINITY, hi = -INFINITY;
    bool fixed = true;
    for (uint32_t o = 0; o < no; o++) {
        const ta_output_info *oi = ta_chart_output_info(ic->c, outs[o]);
        if (!oi || !isfinite(oi->range_lo) || !isfinite(oi->range_hi)) {
            fixed = false;
            break;
        }
        lo = fmin(lo, oi->range_lo);
        hi = fmax(hi, oi->range_hi);
    }
    if (!fixed) {
        lo = INFINITY;
        hi = -INFINITY;
        for (uint32_t o = 0; o < no; o++) {
            const ta_output_info *oi = ta_chart_output_info(ic->c, outs[o]);
            for (int j = 0; j < n; j++) {
                double v = ui_ind_value(ic, outs[o], vis[j]->open_ms);
                if (isfinite(v)) {
                    lo = fmin(lo, v);
                    hi = fmax(hi, v);
                }
            }
            if (oi && oi->style == TA_HISTOGRAM) {
                lo = fmin(lo, 0);
                hi = fmax(hi, 0);
            }
            for (uint32_t l = 0; oi && l < oi->nlevels; l++) {
                lo = fmin(lo, oi->levels[l]);
                hi = fmax(hi, oi->levels[l]);
            }
        }
    }
    if (!isfinite(lo) || !isfinite(hi)) {
        lo = 0;
        hi = 1;
    }
    if (hi - lo < 1e-12) {
        hi += 0.5;
        lo -= 0.5;
    }
    /* separator and reference levels */
    ui_role(u, w, ROLE_LEVEL);
    for (int x = 1; x < ax; x++)
        ui_glyph(u, w, y0, x, G_DOTLINE);
    const ta_output_info *oi0 = ta_chart_output_info(ic->c, outs[0]);
    for (uint32_t l = 0; oi0 && l < oi0->nlevels; l++) {
        double lv = oi0->levels[l];
        if (lv <= lo || lv >= hi)
            continue;
        int row = (int)((lv - lo) / (hi - lo) * rows);
        if (row >= rows)
            row = rows - 1;
        int y = y0 + rows - 1 - row;
        ui_role(u, w, ROLE_LEVEL);
        for (int x = 1; x < ax; x++)
            ui_glyph(u, w, y, x, G_DOTLINE);
        if (y != y0 && y != y0 + rows - 1) { /* those rows carry the scale */
            char lb[24];
            ui_fmt_num(lb, sizeof(lb), lv, 0, iw - ax);
            ui_put(u, w, y, ax + 1, iw - ax, ROLE_LEVEL, lb);
        }
    }
    /* values */
    for (uint32_t o = 0; o < no; o++) {
        uint32_t k = outs[o];
        const ta_output_info *oi = ta_chart_output_info(ic->c, k);
        enum theme_role r = (enum theme_role)(ROLE_IND1 + (inst + o) % 6);
        bool hist = oi && oi->style == TA_HISTOGRAM;
        for (int j = 0; j < n; j++) {
            double v = ui_ind_value(ic, k, vis[j]->open_ms);
            if (!isfinite(v))
                continue;
            int x = 1 + j * bw;
            if (hist) {
                /* bars from the zero line (put on a cell boundary) in eighths of a cell: up with
                 * bottom-anchored blocks, down with top-anchored ones */
                double zero = lo > 0 ? lo : hi < 0 ? hi : 0;
                int zb = (int)((zero - lo) / (hi - lo) * rows + 0.5);
                zb = K_MIN(K_MAX(zb, 0), rows);
                int e = (int)(fabs(v - zero) / (hi - lo) * rows * 8 + 0.5);
                ui_role(u, w, v >= zero ? ROLE_VOL_UP : ROLE_VOL_DOWN);
                if (v >= zero) {
                    for (int row = zb; row < rows && e > 0; row++, e -= 8)
                        ui_glyph(u, w, y0 + rows - 1 - row, x,
                                 (enum glyph)(G_V1 + K_MIN(e, 8) - 1));
                } else {
                    for (int row = zb - 1; row >= 0 && e > 0; row--, e -= 8)
                        ui_glyph(u, w, y0 + rows - 1 - row, x,
                                 e >= 6 ? G_V8 : e >= 3 ? G_BODY_TOP : G_LINE_HI);
                }
            } else {
                ui_role(u, w, r);
                line_cell(u, w, y0, rows, lo, hi, x, v, oi && oi->style == TA_DOTS);
            }
        }
    }
    /* label with the newest values, and the scale */
    char lb[160];
    int lx = 1;
    const char *spec = ta_chart_instance_spec(ic->c, inst);
    if (ui_text_cols(spec) <= ax - lx)
        lx += ui_put(u, w, y0, lx, ax - lx, ROLE_DIM, spec);
    /* the newest values, each whole ("-11.79 -12.09 0.30"), or "…" for the rest */
    for (uint32_t o = 0; o < no && lx < ax; o++) {
        double v = n > 0 ? ui_ind_value(ic, outs[o], vis[n - 1]->open_ms) : NAN;
        char num[32];
        if (isfinite(v))
            ui_fmt_num(num, sizeof(num), v, fabs(v) >= 1000 ? 0 : 2, 12);
        else
            snprintf(num, sizeof(num), "-");
        snprintf(lb, sizeof(lb), " %s", num);
        int room = ax - lx - (o + 1 < no ? 2 : 0); /* keeps " …" possible for the rest */
        if (ui_text_cols(lb) > room) {
            if (ax - lx >= 2) {
                ui_put(u, w, y0, lx, 1, ROLE_DIM, " ");
                ui_put(u, w, y0, lx + 1, 1, ROLE_DIM, ui_ellipsis(u));
            }
            break;
        }
        lx += ui_put(u, w, y0, lx, ax - lx, (enum theme_role)(ROLE_IND1 + (inst + o) % 6), lb);
    }
    char sc[24];
    int sd = hi - lo >= 20 ? 0 : hi - lo >= 2 ? 1 : hi - lo >= 0.2 ? 2 : 4;
    ui_fmt_num(sc, sizeof(sc), hi, sd, iw - ax);
    ui_put(u, w, y0, ax + 1, iw - ax, ROLE_AXIS, sc);
    if (rows >= 3) {
        ui_fmt_num(sc, sizeof(sc), lo, sd, iw - ax);
        ui_put(u, w, y0 + rows - 1, ax + 1, iw - ax, ROLE_AXIS, sc);
    }
}

/* ---- the picker ------------------------------------------------------------------------- */

/* Registry entries in picker order: overlays first, then oscillators. */
static uint32_t picker_order(uint32_t *idx, uint32_t cap)
{
    uint32_t n = 0;
    for (int pass = 0; pass < 2; pass++)
        for (uint32_t i = 0; i < ta_info_count() && n < cap; i++) {
            const ta_info *in = ta_info_at(i);
            if ((in->kind == TA_OVERLAY) == (pass == 0))
                idx[n++] = i;
        }
    return n;
}

/* Is `tok` (len bytes) a spec of indicator `name`: "name" or "name_params"? Case-insensitive,
 * as spec parsing is: "RSI_7" set with `kestrel ctl indicators` must survive the picker. */
static bool tok_is(const char *tok, size_t len, const char *name)
{
    size_t nl = strlen(name);
    return len >= nl && strncasecmp(tok, name, nl) == 0 && (len == nl || tok[nl] == '_');
}

static bool spec_has(const char *specs, const char *name)
{
    const char *p = specs;
    while (*p) {
        while (*p == ',' || *p == ' ')
            p++;
        size_t len = strcspn(p, ", ");
        if (len && tok_is(p, len, name))
            return true;
        p += len;
    }
    return false;
}

/* Appends to out the specs of `name` already in `specs` (keeping hand-set parameters such as
 * "sma_50,sma_200"), or just the name (default parameters). */
static void add_specs(char *out, size_t cap, const char *specs, const char *name)
{
    size_t olen = strlen(out);
    bool found = false;
    const char *p = specs;
    while (*p) {
        while (*p == ',' || *p == ' ')
            p++;
        size_t len = strcspn(p, ", ");
        if (len && tok_is(p, len, name)) {
            found = true;
            int m = snprintf(out + olen, cap - olen, "%s%.*s", olen ? "," : "", (int)len, p);
            if (m < 0 || (size_t)m >= cap - olen)
                return;
            olen += (size_t)m;
        }
        p += len;
    }
    if (!found)
        snprintf(out + olen, cap - olen, "%s%s", olen ? "," : "", name);
}

/* Rows on = indicators in the app's list (which `kestrel ctl indicators` may change while the
 * picker is open): done before every key and frame. */
static void picker_sync(ui *u)
{
    uint32_t idx[128];
    u->pk_n = picker_order(idx, K_ARRAY_LEN(idx));
    for (uint32_t i = 0; i < u->pk_n; i++)
        u->pk_on[i] = spec_has(u->a->indicators, ta_info_at(idx[i])->name);
}

void ui_picker_open(ui *u)
{
    picker_sync(u);
    if (u->pk_sel >= u->pk_n)
        u->pk_sel = 0;
    u->pk_editing = false;
    u->ov = OV_PICKER;
}

static void picker_apply(ui *u)
{
    uint32_t idx[128];
    uint32_t n = picker_order(idx, K_ARRAY_LEN(idx));
    char specs[sizeof(u->a->indicators)];
    size_t o = 0;
    specs[0] = 0;
    /* the list's specs in their order (hand-set parameters and order kept), less the rows
     * turned off, then the rows turned on at default parameters */
    const char *p = u->a->indicators;
    while (*p) {
        while (*p == ',' || *p == ' ')
            p++;
        size_t len = strcspn(p, ", ");
        bool keep = len > 0;
        for (uint32_t i = 0; keep && i < n && i < u->pk_n; i++)
            if (tok_is(p, len, ta_info_at(idx[i])->name))
                keep = u->pk_on[i];
        if (keep) {
            int m = snprintf(specs + o, sizeof(specs) - o, "%s%.*s", o ? "," : "", (int)len, p);
            if (m > 0 && (size_t)m < sizeof(specs) - o)
                o += (size_t)m;
        }
        p += len;
    }
    for (uint32_t i = 0; i < n && i < u->pk_n; i++) {
        const char *name = ta_info_at(idx[i])->name;
        if (u->pk_on[i] && !spec_has(u->a->indicators, name)) {
            int m = snprintf(specs + o, sizeof(specs) - o, "%s%s", o ? "," : "", name);
            if (m > 0 && (size_t)m < sizeof(specs) - o)
                o += (size_t)m;
        }
    }
    if (strcmp(specs, u->a->indicators) == 0)
        return;
    char err[200];
    if (app_set_indicators(u->a, specs, err, sizeof(err)) != K_OK) {
        app_flash(u->a, "indicators: %s", err);
        ui_picker_open(u); /* show the list as it really is */
    }
}

/* The first spec of `name` in `specs`: its offset and length (found), or false. */
static bool first_spec(const char *specs, const char *name, size_t *off, size_t *len)
{
    const char *p = specs;
    while (*p) {
        while (*p == ',' || *p == ' ')
            p++;
        size_t l = strcspn(p, ", ");
        if (l && tok_is(p, l, name)) {
            *off = (size_t)(p - specs);
            *len = l;
            return true;
        }
        p += l;
    }
    return false;
}

/* Replaces the first spec of the selected row's indicator with `spec` (everything else in the
 * list unchanged) through app_set_indicators(); errors are flashed. */
static void picker_replace(ui *u, const char *name, const char *spec)
{
    size_t off, len;
    const char *cur = u->a->indicators;
    if (!first_spec(cur, name, &off, &len))
        return;
    char specs[sizeof(u->a->indicators) + TA_SPEC_MAX];
    snprintf(specs, sizeof(specs), "%.*s%s%s", (int)off, cur, spec, cur + off + len);
    if (strcmp(specs, cur) == 0)
        return;
    char err[200];
    if (app_set_indicators(u->a, specs, err, sizeof(err)) != K_OK)
        app_flash(u->a, "indicators: %s", err);
    ui_picker_open(u); /* rows as the list really is */
}

/* + / -: steps the first parameter of the selected enabled indicator (its first spec in the
 * list: "sma_50,sma_200" steps sma_50) by one for a whole number, else by a hundredth of a small
 * range or a tenth, within the range the registry declares. */
static void picker_step(ui *u, int dir)
{
    uint32_t idx[128];
    uint32_t n = picker_order(idx, K_ARRAY_LEN(idx));
    if (u->pk_sel >= n || u->pk_sel >= u->pk_n)
        return;
    const ta_info *in = ta_info_at(idx[u->pk_sel]);
    size_t off, len;
    if (!u->pk_on[u->pk_sel] || !first_spec(u->a->indicators, in->name, &off, &len)) {
        app_flash(u->a, "%s is off: space turns it on, then +/- change it", in->name);
        return;
    }
    if (in->nparams == 0) {
        app_flash(u->a, "%s has no parameters", in->name);
        return;
    }
    char tok[TA_SPEC_MAX], err[200];
    snprintf(tok, sizeof(tok), "%.*s", (int)K_MIN(len, sizeof(tok) - 1),
             u->a->indicators + off);
    ta_ind *ind = ta_ind_new(tok, err, sizeof(err));
    if (!ind) {
        app_flash(u->a, "indicators: %s", err);
        return;
    }
    double p[TA_MAX_PARAMS];
    for (uint32_t k = 0; k < in->nparams; k++)
        p[k] = ta_ind_param(ind, k);
    ta_ind_free(ind);
    const ta_param_info *pi = &in->params[0];
    double step = pi->integer ? 1 : pi->max - pi->min <= 1 ? 0.01 : 0.1;
    double v = p[0] + dir * step;
    if (!pi->integer)
        v = round(v / step) * step; /* 2.5 stays 2.5, not 2.4999999 */
    if (v < pi->min && p[0] > pi->min) /* a step past a limit lands on it */
        v = pi->min;
    if (v > pi->max && p[0] < pi->max)
        v = pi->max;
    if (v < pi->min || v > pi->max) {
        app_flash(u->a, "%s: %s is at its %s %g", in->name, pi->name,
                  dir < 0 ? "minimum" : "maximum", dir < 0 ? pi->min : pi->max);
        return;
    }
    p[0] = v;
    char spec[TA_SPEC_MAX];
    size_t o = (size_t)snprintf(spec, sizeof(spec), "%s", in->name);
    for (uint32_t k = 0; k < in->nparams && o < sizeof(spec); k++) {
        int w = in->params[k].integer ? snprintf(spec + o, sizeof(spec) - o, "_%.0f", p[k])
                              : snprintf(spec + o, sizeof(spec) - o, "_%.10g", p[k]);
        if (w < 0)
            return;
        o += (size_t)w;
    }
    picker_replace(u, in->name, spec);
}

/* t: a one-line edit of the selected enabled indicator's first spec ("bb_20_2.5"); Enter
 * applies it through app_set_indicators() (which validates it), Esc cancels. */
static void picker_edit_begin(ui *u)
{
    uint32_t idx[128];
    uint32_t n = picker_order(idx, K_ARRAY_LEN(idx));
    if (u->pk_sel >= n || u->pk_sel >= u->pk_n)
        return;
    const char *name = ta_info_at(idx[u->pk_sel])->name;
    size_t off, len;
    if (!u->pk_on[u->pk_sel] || !first_spec(u->a->indicators, name, &off, &len)) {
        app_flash(u->a, "%s is off: space turns it on, then t edits it", name);
        return;
    }
    snprintf(u->pk_edit, sizeof(u->pk_edit), "%.*s",
             (int)K_MIN(len, sizeof(u->pk_edit) - 1), u->a->indicators + off);
    u->pk_editing = true;
}

static void picker_edit_key(ui *u, int ch)
{
    size_t len = strlen(u->pk_edit);
    if (ch == 27) {
        u->pk_editing = false;
    } else if (ch == '\n' || ch == '\r' || ch == KEY_ENTER) {
        u->pk_editing = false;
        uint32_t idx[128];
        uint32_t n = picker_order(idx, K_ARRAY_LEN(idx));
        if (len == 0)
            app_flash(u->a, "indicators: empty spec (space turns an indicator off)");
        else if (u->pk_sel < n)
            picker_replace(u, ta_info_at(idx[u->pk_sel])->name, u->pk_edit);
    } else if (ch == KEY_BACKSPACE || ch == 127 || ch == 8) {
        if (len > 0)
            u->pk_edit[len - 1] = 0;
    } else if (ch > 0 && ch < 128 && (isalnum(ch) || ch == '_' || ch == '.') &&
               len + 1 < sizeof(u->pk_edit) && len + 1 < TA_SPEC_MAX) {
        u->pk_edit[len] = (char)ch;
        u->pk_edit[len + 1] = 0;
    }
}

void ui_picker_key(ui *u, int ch)
{
    picker_sync(u);
    if (u->pk_editing) {
        picker_edit_key(u, ch);
        return;
    }
    if (u->pk_confirm) { /* x asked "clear every indicator? y/n" */
        u->pk_confirm = false;
        if (ch == 'y' || ch == 'Y') {
            for (uint32_t i = 0; i < u->pk_n; i++)
                u->pk_on[i] = false;
            picker_apply(u);
        }
        return;
    }
    /* c and e mean close-position and settings on the main screen: the picker does not use
     * them (t types a spec, x clears after asking) */
    switch (ch) {
    case 't':
        picker_edit_begin(u);
        break;
    case '+': case '=': case KEY_RIGHT:
        picker_step(u, 1);
        break;
    case '-': case '_': case KEY_LEFT:
        picker_step(u, -1);
        break;
    case KEY_UP: case 'k':
        if (u->pk_sel > 0)
            u->pk_sel--;
        break;
    case KEY_DOWN: case 'j':
        if (u->pk_sel + 1 < u->pk_n)
            u->pk_sel++;
        break;
    case KEY_PPAGE: u->pk_sel = u->pk_sel > 10 ? u->pk_sel - 10 : 0; break;
    case KEY_NPAGE: u->pk_sel = K_MIN(u->pk_sel + 10, u->pk_n ? u->pk_n - 1 : 0); break;
    case KEY_HOME: u->pk_sel = 0; break;
    case KEY_END: u->pk_sel = u->pk_n ? u->pk_n - 1 : 0; break;
    case ' ': case '\n': case '\r': case KEY_ENTER:
        if (u->pk_sel < u->pk_n)
            u->pk_on[u->pk_sel] = !u->pk_on[u->pk_sel];
        picker_apply(u); /* applied at once: the chart behind shows it */
        break;
    case 'x': /* clear all: asks first */
        u->pk_confirm = true;
        break;
    case 27: case 'i': case 'q':
        picker_apply(u);
        u->ov = OV_NONE;
        u->full = true;
        break;
    default:
        break;
    }
}

void ui_picker_draw(ui *u)
{
    uint32_t idx[128];
    uint32_t n = picker_order(idx, K_ARRAY_LEN(idx));
    picker_sync(u);
    int want_h = (int)n + 6;
    WINDOW *w = ui_overlay_open(u, want_h, K_MIN(72, u->cols), "Indicators");
    if (!w)
        return;
    int h, wd;
    getmaxyx(w, h, wd);
    int rows = h - 4; /* title row, hint row, two borders */
    if (rows < 1)
        return;
    if (u->pk_sel < u->pk_top)
        u->pk_top = u->pk_sel;
    if (u->pk_sel >= u->pk_top + (uint32_t)rows)
        u->pk_top = u->pk_sel - (uint32_t)rows + 1;
    ui_put(u, w, 1, 2, wd - 4, ROLE_DIM,
           u->pk_editing ? "type the spec (bb_20_2.5), Enter apply, Esc cancel"
                         : u->pk_confirm ? "clear every indicator? y: yes, any other key: no"
                         : "space/Enter toggle, +/- parameter, t type spec, x clear, Esc/i close");
    for (int r = 0; r < rows; r++) {
        uint32_t i = u->pk_top + (uint32_t)r;
        if (i >= n)
            break;
        const ta_info *in = ta_info_at(idx[i]);
        int y = 2 + r;
        bool sel = i == u->pk_sel;
        if (sel)
            ui_fill(u, w, y, 1, wd - 2, ROLE_SELECTION);
        enum theme_role base = sel ? ROLE_SELECTION : ROLE_OVERLAY;
        /* an enabled row shows its specs as they are in the list ("rsi_7", "sma_50,sma_200") */
        char specs[sizeof(u->a->indicators)] = "";
        if (u->pk_on[i])
            add_specs(specs, sizeof(specs), u->a->indicators, in->name);
        else
            snprintf(specs, sizeof(specs), "%s", in->name);
        char line[sizeof(specs) + 160];
        if (sel && u->pk_editing)
            snprintf(line, sizeof(line), "[x] edit> %s_", u->pk_edit);
        else
            snprintf(line, sizeof(line), "[%c] %-16s %-4s %s", u->pk_on[i] ? 'x' : ' ', specs,
                     in->kind == TA_OVERLAY ? "ovl" : "osc", in->title);
        ui_put(u, w, y, 2, wd - 4, base, line);
    }
    if (n > (uint32_t)rows) {
        char more[32];
        snprintf(more, sizeof(more), " %u/%u ", u->pk_sel + 1, n);
        ui_put(u, w, h - 1, wd - 2 - (int)strlen(more), (int)strlen(more), ROLE_DIM, more);
    }
    ui_overlay_show(w);
}
