/* Drawing helpers shared by the panes: clipped text, glyphs, boxes and number/time formatting
 * for narrow columns. Everything clips to the window and to a column budget, so a pane can be
 * drawn into any size (down to 1x1) without a curses error or a wrapped line. The formatting is
 * snprintf into fixed buffers: no allocation while drawing. */
#include "ui_int.h"

#include "kestrel/decimal.h"

#include <inttypes.h>
#include <math.h>
#include <string.h>
#include <time.h>

int ui_text_cols(const char *s)
{
    int n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if ((*p & 0xC0) != 0x80)
            n++;
    return n;
}

const char *ui_book_word(enum book_state st)
{
    switch (st) {
    case BOOK_LIVE: return "synced";
    case BOOK_SYNCING: return "syncing";
    case BOOK_RESYNCING: return "RESYNCING";
    default: return "empty";
    }
}

void ui_sym_assets(const char *sym, char *base, size_t bcap, char *quote, size_t qcap)
{
    static const char *const quotes[] = {"FDUSD", "USDT", "USDC", "BUSD", "TUSD", "USD", "BTC",
                                         "ETH",   "BNB",  "EUR",  "TRY",  "BRL", "JPY"};
    size_t n = strlen(sym);
    snprintf(base, bcap, "%s", "");
    snprintf(quote, qcap, "%s", "");
    for (size_t i = 0; i < K_ARRAY_LEN(quotes); i++) {
        size_t q = strlen(quotes[i]);
        if (n > q && strcmp(sym + n - q, quotes[i]) == 0) {
            snprintf(base, bcap, "%.*s", (int)(n - q), sym);
            snprintf(quote, qcap, "%s", quotes[i]);
            return;
        }
    }
}

const char *ui_sym_label(const market_sym *s, char *buf, size_t cap)
{
    if (!s)
        snprintf(buf, cap, "%s", "");
    else if (s->venue == VENUE_BINANCE_USDM)
        snprintf(buf, cap, "%s UM", s->name);
    else
        snprintf(buf, cap, "%s", s->name);
    return buf;
}

/* Bytes of s that fit in maxw columns. */
static int fit_bytes(const char *s, int maxw)
{
    int cols = 0, i = 0;
    const unsigned char *p = (const unsigned char *)s;
    while (p[i]) {
        if ((p[i] & 0xC0) != 0x80) {
            if (cols == maxw)
                break;
            cols++;
        }
        i++;
    }
    return i;
}

int ui_put_attr(ui *u, WINDOW *w, int y, int x, int maxw, enum theme_role r, attr_t extra,
                const char *s)
{
    int h, wd;
    getmaxyx(w, h, wd);
    if (y < 0 || y >= h || x < 0 || x >= wd)
        return 0;
    if (maxw < 0 || maxw > wd - x)
        maxw = wd - x;
    if (maxw <= 0)
        return 0;
    int nb = fit_bytes(s, maxw);
    wattr_set(w, ui_attr(u, r) | extra, u->role_pair[r], NULL);
    mvwaddnstr(w, y, x, s, nb);
    /* count columns written */
    int cols = 0;
    for (int i = 0; i < nb; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            cols++;
    return cols;
}

int ui_put(ui *u, WINDOW *w, int y, int x, int maxw, enum theme_role r, const char *s)
{
    return ui_put_attr(u, w, y, x, maxw, r, 0, s);
}

int ui_put_whole(ui *u, WINDOW *w, int y, int x, int maxw, enum theme_role r, const char *s)
{
    int wd = getmaxx(w);
    if (maxw < 0 || maxw > wd - x)
        maxw = wd - x;
    if (maxw <= 0)
        return 0;
    if (ui_text_cols(s) <= maxw)
        return ui_put(u, w, y, x, maxw, r, s);
    return ui_put(u, w, y, x, 1, r, ui_ellipsis(u));
}

const char *ui_ellipsis(const ui *u)
{
    return u->utf8 ? "\xe2\x80\xa6" : "~";
}

int ui_putf(ui *u, WINDOW *w, int y, int x, int maxw, enum theme_role r, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    return ui_put(u, w, y, x, maxw, r, tmp);
}

void ui_glyph(ui *u, WINDOW *w, int y, int x, enum glyph g)
{
    (void)u;
    int h, wd;
    getmaxyx(w, h, wd);
    if (y < 0 || y >= h || x < 0 || x >= wd)
        return;
    /* The bottom-right cell of a window can be written (curses returns ERR because the cursor
     * cannot advance, but the cell is set); ignore the result. */
    mvwadd_wch(w, y, x, &u->glyph[g]);
}

void ui_fill(ui *u, WINDOW *w, int y, int x, int n, enum theme_role r)
{
    int h, wd;
    getmaxyx(w, h, wd);
    if (y < 0 || y >= h || x < 0 || x >= wd)
        return;
    if (n > wd - x)
        n = wd - x;
    if (n <= 0)
        return;
    wattr_set(w, ui_attr(u, r), u->role_pair[r], NULL);
    static const char spaces[] = "                                                                "
                                 "                                                                ";
    while (n > 0) {
        int k = n < (int)sizeof(spaces) - 1 ? n : (int)sizeof(spaces) - 1;
        mvwaddnstr(w, y, x, spaces, k);
        x += k;
        n -= k;
    }
}

void ui_frame_box(ui *u, WINDOW *w, bool focused, const char *title, enum theme_role title_role)
{
    int h, wd;
    getmaxyx(w, h, wd);
    enum theme_role br = focused ? ROLE_BORDER_FOCUS : ROLE_BORDER;
    wattr_set(w, ui_attr(u, br), u->role_pair[br], NULL);
    if (h >= 2 && wd >= 2) {
        if (u->utf8)
            wborder_set(w, WACS_VLINE, WACS_VLINE, WACS_HLINE, WACS_HLINE, WACS_ULCORNER,
                        WACS_URCORNER, WACS_LLCORNER, WACS_LRCORNER);
        else
            wborder(w, '|', '|', '-', '-', '+', '+', '+', '+');
    }
    if (title && *title && wd > 4) {
        int x = ui_put(u, w, 0, 1, wd - 2, br, " ");
        x += ui_put(u, w, 0, 1 + x, wd - 2 - x, focused ? ROLE_BORDER_FOCUS : title_role, title);
        ui_put(u, w, 0, 1 + x, wd - 2 - x, br, " ");
    }
}

int ui_fmt_px(char *buf, size_t cap, kdec v, int decimals)
{
    if (decimals < 0)
        decimals = 0;
    if (decimals > KDEC_DIGITS)
        decimals = KDEC_DIGITS;
    size_t n = decimal_format(v, decimals, buf, cap);
    if (n == 0 && cap > 0) {
        snprintf(buf, cap, "?");
        n = strlen(buf);
    }
    return (int)n;
}

int ui_fmt_num(char *buf, size_t cap, double v, int decimals, int width)
{
    if (!isfinite(v)) {
        snprintf(buf, cap, "-");
        return (int)strlen(buf);
    }
    if (width < 1)
        width = 1;
    for (int d = decimals; d >= 0; d--) {
        int n = snprintf(buf, cap, "%.*f", d, v);
        if (n > 0 && n <= width)
            return n;
    }
    static const char suf[] = "kMGT";
    double a = v;
    for (int i = 0; i < 4; i++) {
        a /= 1000.0;
        for (int d = 2; d >= 0; d--) {
            int n = snprintf(buf, cap, "%.*f%c", d, a, suf[i]);
            if (n > 0 && n <= width)
                return n;
        }
    }
    snprintf(buf, cap, "%s", "\xe2\x80\xa6"); /* no form fits: not drawn */
    return 1;
}

int ui_fmt_qty(char *buf, size_t cap, kdec v, int decimals, int width)
{
    if (width < 1)
        width = 1;
    if (decimals > KDEC_DIGITS)
        decimals = KDEC_DIGITS;
    if (decimals < 0)
        decimals = 0;
    uint64_t mag = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    for (int d = decimals; d >= 0; d--) {
        uint64_t unit = 1;
        for (int k = d; k < KDEC_DIGITS; k++)
            unit *= 10;
        uint64_t r = mag / unit; /* v in units of 10^-d, rounded half away from zero */
        if ((mag % unit) * 2 >= unit)
            r++;
        uint64_t pd = 1;
        for (int k = 0; k < d; k++)
            pd *= 10;
        int n = d > 0 ? snprintf(buf, cap, "%s%" PRIu64 ".%0*" PRIu64, v < 0 ? "-" : "", r / pd,
                                 d, r % pd)
                      : snprintf(buf, cap, "%s%" PRIu64, v < 0 ? "-" : "", r);
        if (n > 0 && n <= width)
            return n;
    }
    return ui_fmt_num(buf, cap, decimal_to_double(v), 0, width); /* k/M/G/T: display only */
}

int ui_fmt_time(char *buf, size_t cap, int64_t ms, int style)
{
    time_t t = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    int msec = (int)(ms - (int64_t)t * 1000);
    struct tm tm;
    if (!gmtime_r(&t, &tm)) {
        snprintf(buf, cap, "--:--:--");
        return (int)strlen(buf);
    }
    int n;
    switch (style) {
    case 1:
        n = snprintf(buf, cap, "%02d:%02d:%02d.%03d", tm.tm_hour, tm.tm_min, tm.tm_sec, msec);
        break;
    case 2:
        n = snprintf(buf, cap, "%02d:%02d", tm.tm_hour, tm.tm_min);
        break;
    case 3:
        n = snprintf(buf, cap, "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
        break;
    case 4:
        n = snprintf(buf, cap, "%02d-%02d", tm.tm_mon + 1, tm.tm_mday);
        break;
    case 5:
        n = snprintf(buf, cap, "%04d-%02d-%02d %02d:%02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
        break;
    default:
        n = snprintf(buf, cap, "%02d:%02d:%02d", tm.tm_hour, tm.tm_min, tm.tm_sec);
        break;
    }
    return n < 0 ? 0 : n;
}
