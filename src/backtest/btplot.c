/* The backtest report's four ASCII plots (btplot.h), from the report's JSON only, so the text
 * report and the Backtests screen draw the same plots of the same data with the same code. Each
 * line is formatted whole into a local buffer and handed to the caller's function; nothing
 * here knows about files or curses. */
#include "kestrel/btplot.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BTPLOT_MAX_W 240

static double btplot_num(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItem(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

/* a trade's P&L: the string itself, or the object's "pnl" string */
static double btplot_pnl(const cJSON *t)
{
    const char *s = cJSON_IsString(t) ? t->valuestring
                                      : cJSON_GetStringValue(cJSON_GetObjectItem(t, "pnl"));
    return s ? strtod(s, NULL) : NAN;
}

void btplot_equity(const cJSON *curve, int label_w, int cols, int rows, btplot_fn fn, void *ud)
{
    char line[BTPLOT_MAX_W + 64];
    int n = cJSON_GetArraySize(curve);
    snprintf(line, sizeof line, "equity curve (%d points; ':' = drawdown from the peak)", n);
    fn(ud, 2, line);
    if (n < 2) {
        fn(ud, 4, "not enough bars");
        return;
    }
    int W = cols < 1 ? 1 : cols > BTPLOT_MAX_W ? BTPLOT_MAX_W : cols;
    int H = rows < 2 ? 2 : rows;
    int nc = n < W ? n : W;
    double eq[BTPLOT_MAX_W], pk[BTPLOT_MAX_W], lo = INFINITY, hi = -INFINITY;
    for (int c = 0; c < nc; c++) {
        const cJSON *x = cJSON_GetArrayItem(curve, (int)((int64_t)(c + 1) * n / nc) - 1);
        eq[c] = btplot_num(x, "equity");
        pk[c] = btplot_num(x, "peak");
        lo = fmin(lo, eq[c]);
        hi = fmax(hi, pk[c]);
    }
    if (!(hi > lo))
        hi = lo + 1e-9;
    double step = (hi - lo) / H;
    char hib[40], lob[40];
    snprintf(hib, sizeof hib, "%.2f", hi);
    snprintf(lob, sizeof lob, "%.2f", lo);
    int lw = label_w > 0 ? label_w : (int)K_MAX(strlen(hib), strlen(lob));
    for (int row = 0; row < H; row++) {
        double top = hi - row * step, bot = top - step;
        char plot[BTPLOT_MAX_W + 1];
        for (int c = 0; c < nc; c++) {
            bool here = eq[c] <= top && (eq[c] > bot || (row == H - 1 && eq[c] >= bot));
            plot[c] = here ? '*' : (bot >= eq[c] && top <= pk[c] + step / 2 && pk[c] > eq[c] &&
                                    top > eq[c] && bot < pk[c])
                                       ? ':'
                                       : ' ';
        }
        plot[nc] = 0;
        snprintf(line, sizeof line, "%*s |%s", lw,
                 row == 0 ? hib : row == H - 1 ? lob : "", plot);
        fn(ud, 2, line);
    }
}

void btplot_reliability(const cJSON *bins, int bar_w, btplot_fn fn, void *ud)
{
    fn(ud, 2, "reliability (ensemble; '#' observed hit rate, '|' where a calibrated bin would "
              "reach)");
    int bw = bar_w < 2 ? 2 : bar_w > 100 ? 100 : bar_w;
    const cJSON *b;
    int shown = 0;
    cJSON_ArrayForEach(b, bins)
    {
        double n = btplot_num(b, "n");
        if (!(n > 0))
            continue;
        double conf = btplot_num(b, "confidence"), hit = btplot_num(b, "hit_rate");
        char bar[101], line[200];
        int h = (int)lround(hit * bw), cpos = (int)lround(conf * bw);
        for (int i = 0; i < bw; i++)
            bar[i] = i < h ? '#' : ' ';
        if (cpos >= 1 && cpos <= bw)
            bar[cpos - 1] = '|';
        bar[bw] = 0;
        snprintf(line, sizeof line, "%.1f-%.1f  n %7.0f  conf %.3f  hit %.3f  [%s]",
                 btplot_num(b, "lo"), btplot_num(b, "hi"), n, conf, hit, bar);
        fn(ud, 4, line);
        shown++;
    }
    if (!shown)
        fn(ud, 4, "no scored signals");
}

void btplot_monthly(const cJSON *months, int bar_w, btplot_fn fn, void *ud)
{
    fn(ud, 2, "returns per month (UTC)");
    int bw = bar_w < 1 ? 1 : bar_w > 100 ? 100 : bar_w;
    double mx = 0;
    const cJSON *m;
    cJSON_ArrayForEach(m, months) mx = fmax(mx, fabs(btplot_num(m, "return")));
    cJSON_ArrayForEach(m, months)
    {
        double r = btplot_num(m, "return");
        int len = mx > 0 && isfinite(r) ? (int)lround(fabs(r) / mx * bw) : 0;
        char bar[101], line[200];
        memset(bar, r < 0 ? '-' : '+', (size_t)len);
        bar[len] = 0;
        const char *name = cJSON_GetStringValue(cJSON_GetObjectItem(m, "month"));
        snprintf(line, sizeof line, "%s  %+10.4f%%  %s", name ? name : "?", r * 100, bar);
        fn(ud, 4, line);
    }
}

void btplot_trades(const cJSON *pnls, int bar_w, btplot_fn fn, void *ud)
{
    char line[240];
    int n = cJSON_GetArraySize(pnls);
    snprintf(line, sizeof line, "trade P&L distribution (%d trades, after fees)", n);
    fn(ud, 2, line);
    if (n == 0) {
        fn(ud, 4, "no trades");
        return;
    }
    int bw = bar_w < 1 ? 1 : bar_w > 100 ? 100 : bar_w;
    double lo = INFINITY, hi = -INFINITY;
    const cJSON *t;
    cJSON_ArrayForEach(t, pnls)
    {
        double v = btplot_pnl(t);
        lo = fmin(lo, v);
        hi = fmax(hi, v);
    }
    enum { NB = 10 };
    int cnt[NB] = {0}, mx = 0;
    double w = hi > lo ? (hi - lo) / NB : 1;
    cJSON_ArrayForEach(t, pnls)
    {
        double v = btplot_pnl(t);
        int k = hi > lo ? (int)((v - lo) / w) : 0;
        cnt[k >= NB ? NB - 1 : k < 0 ? 0 : k]++;
    }
    for (int k = 0; k < NB; k++)
        mx = cnt[k] > mx ? cnt[k] : mx;
    for (int k = 0; k < NB && (hi > lo || k == 0); k++) {
        char bar[101];
        int len = mx ? (int)lround(cnt[k] * (double)bw / mx) : 0;
        memset(bar, '#', (size_t)len);
        bar[len] = 0;
        snprintf(line, sizeof line, "[%12.6g, %12.6g%c  %5d  %s", lo + k * w,
                 hi > lo ? lo + (k + 1) * w : hi, k == NB - 1 || !(hi > lo) ? ']' : ')', cnt[k],
                 bar);
        fn(ud, 4, line);
    }
}
