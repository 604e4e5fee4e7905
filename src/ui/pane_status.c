/* The status bar (top line), the key-hint / flash line (bottom line), the two overlays (help,
 * quit confirmation) and the overlay window every overlay (the picker too) is drawn in. The
 * status bar is built left to right in priority order: data source and broker first (always
 * visible), then the focused symbol, the data clock, throughput and the malformed count, and the
 * per-symbol book states in whatever room is left (compacted to counts plus the names of books
 * that are not live when the full list does not fit). */
#include "ui_int.h"

#include "kestrel/loop.h"
#include "kestrel/replay.h"

#include <string.h>

static void fmt_speed(char *buf, size_t cap, double speed)
{
    if (speed <= 0)
        snprintf(buf, cap, "max");
    else if (speed >= 10)
        snprintf(buf, cap, "x%.0f", speed);
    else if (speed == (double)(int)speed)
        snprintf(buf, cap, "x%.1f", speed);
    else
        snprintf(buf, cap, "x%g", speed);
}

/* Writes a segment at *x if it fits entirely in the line; returns false (and writes nothing)
 * otherwise. */
static bool seg(ui *u, int *x, enum theme_role r, const char *text)
{
    int n = ui_text_cols(text);
    if (*x + n > u->cols)
        return false;
    ui_put(u, u->status, 0, *x, n, r, text);
    *x += n;
    return true;
}

/* What is replayed: the first file's name, then how many more ("btcusdt_20240808.gz +3"). */
static void replay_label(const app *a, char *out, size_t cap)
{
    const replay_file_info *fi = a->replay ? replay_file(a->replay, 0) : NULL;
    const char *p = fi && fi->path ? fi->path : a->cfg.replay_count > 0 ? a->cfg.replay_files[0]
                                                                        : "";
    const char *base = strrchr(p, '/');
    base = base ? base + 1 : p;
    int n = a->replay ? replay_file_count(a->replay) : a->cfg.replay_count;
    if (n > 1)
        snprintf(out, cap, "%.32s +%d", base, n - 1);
    else
        snprintf(out, cap, "%.32s", base);
}

void ui_status_draw(ui *u)
{
    app *a = u->a;
    char b[256], sp[32];
    int x = 0;
    bool compact = u->cols < 110; /* shorter forms so the book states still fit at 80 columns */
    ui_fill(u, u->status, 0, 0, u->cols, ROLE_STATUS);

    /* source */
    /* the speed in a fixed width ("x0.25", "x1.0 ", "max  ") so nothing after it moves when
     * it changes; PAUSED is added, it hides nothing */
    char spd[16];
    fmt_speed(spd, sizeof(spd), a->speed);
    snprintf(sp, sizeof(sp), "%-5s", spd);
    enum theme_role src_role = a->source == APP_SOURCE_LIVE ? ROLE_LIVE : ROLE_REPLAY;
    const char *pz = a->paused ? "PAUSED " : "";
    if (a->source == APP_SOURCE_LIVE)
        snprintf(b, sizeof(b), " %s ", app_source_name(a));
    else if (!a->replay && a->cfg.replay_count == 0)
        snprintf(b, sizeof(b), " NO DATA "); /* replay.files = [] and no --replay */
    else if (a->finished)
        snprintf(b, sizeof(b), " %s ENDED ", app_source_name(a));
    else if (compact)
        snprintf(b, sizeof(b), " %s %s%s ", app_source_name(a), pz, sp);
    else {
        char files[64];
        replay_label(a, files, sizeof(files));
        snprintf(b, sizeof(b), " %s %s %s%s ", app_source_name(a), files, pz, sp);
    }
    if (!seg(u, &x, src_role, b)) {
        ui_put(u, u->status, 0, 0, u->cols, src_role, b); /* truncated: still the first thing */
        return;
    }
    x++;
    snprintf(b, sizeof(b), " %s ", app_broker_name(a));
    if (!seg(u, &x, ROLE_PAPER, b))
        return;
    x++;

    /* panes of this screen that did not fit (or are behind a zoom) */
    if (u->hidden > 0) {
        snprintf(b, sizeof(b), "+%d hidden: z to cycle", u->hidden);
        if (!seg(u, &x, ROLE_STATUS_WARN, b))
            return;
        x += 2;
    }

    /* focused symbol */
    market_sym *s = ui_focus_sym(u);
    if (s) {
        ui_sym_label(s, b, sizeof(b));
        if (!seg(u, &x, ROLE_STATUS_KEY, b))
            return;
        x += 2;
    }

    /* data clock */
    if (a->data_ms > 0) {
        char t[40], d[16];
        if (compact) {
            ui_fmt_time(d, sizeof(d), a->data_ms, 4);
            ui_fmt_time(t, sizeof(t), a->data_ms, 0);
            snprintf(b, sizeof(b), "%s %sZ", d, t);
        } else {
            ui_fmt_time(t, sizeof(t), a->data_ms, 5);
            snprintf(b, sizeof(b), "%s UTC", t);
        }
    } else {
        snprintf(b, sizeof(b), "--:--:-- UTC");
    }
    if (!seg(u, &x, ROLE_STATUS_KEY, b))
        return;
    x += 2;

    /* throughput and malformed */
    char num[32];
    ui_fmt_num(num, sizeof(num), a->msgs_per_s, 0, 7);
    snprintf(b, sizeof(b), compact ? "%s/s" : "%s msg/s", num);
    if (!seg(u, &x, ROLE_STATUS, b))
        return;
    x += 2;
    snprintf(b, sizeof(b), compact ? "%llu bad" : "%llu malformed",
             (unsigned long long)a->malformed);
    if (!seg(u, &x, a->malformed ? ROLE_STATUS_WARN : ROLE_STATUS, b))
        return;
    x += 2;

    /* book states: full list if it fits, else counts plus the names of books not live */
    if (!a->market)
        return;
    uint32_t n = market_count(a->market);
    int need = 0;
    uint32_t live = 0;
    for (uint32_t i = 0; i < n; i++) {
        market_sym *m = market_at(a->market, i);
        enum book_state st = m->book ? book_state(m->book) : BOOK_EMPTY;
        if (st == BOOK_LIVE)
            live++;
        char lbl[KSYM_MAX + 8];
        need += ui_text_cols(ui_sym_label(m, lbl, sizeof lbl)) + 1 +
                (int)strlen(ui_book_word(st)) + 2;
    }
    if (x + need <= u->cols) {
        for (uint32_t i = 0; i < n; i++) {
            market_sym *m = market_at(a->market, i);
            enum book_state st = m->book ? book_state(m->book) : BOOK_EMPTY;
            const char *nm = ui_book_word(st);
            char lbl[KSYM_MAX + 8];
            snprintf(b, sizeof(b), "%s ", ui_sym_label(m, lbl, sizeof lbl));
            seg(u, &x, ROLE_STATUS, b);
            seg(u, &x, st == BOOK_LIVE ? ROLE_STATUS : ROLE_STATUS_WARN, nm);
            x += 2;
        }
        return;
    }
    snprintf(b, sizeof(b), "books %u/%u synced", live, n);
    if (!seg(u, &x, live == n ? ROLE_STATUS : ROLE_STATUS_WARN, b))
        return;
    x += 2;
    for (uint32_t i = 0; i < n; i++) {
        market_sym *m = market_at(a->market, i);
        enum book_state st = m->book ? book_state(m->book) : BOOK_EMPTY;
        if (st == BOOK_LIVE)
            continue;
        char lbl[KSYM_MAX + 8];
        snprintf(b, sizeof(b), "%s %s", ui_sym_label(m, lbl, sizeof lbl), ui_book_word(st));
        if (!seg(u, &x, ROLE_STATUS_WARN, b))
            return;
        x += 2;
    }
}

static const char *pane_hint(ui *u)
{
    switch (u->focus) {
    case PANE_WATCH: return "[watchlist] arrows j k move, Enter select";
    case PANE_CHART: return "[chart] arrows h l scroll, Home End";
    case PANE_BOOK: return "[book]";
    case PANE_TAPE: return "[trades] arrows j k scroll";
    case PANE_CONN: return "[connections]";
    case PANE_STORE: return "[store]";
    case PANE_COUNTERS: return "[counters]";
    case PANE_LOG: return "[log]";
    case PANE_TRADING: return "[trading]";
    case PANE_AI: return "[ai]";
    case PANE_BACKTEST: return "[backtests]";
    default: return "";
    }
}

void ui_keys_draw(ui *u)
{
    app *a = u->a;
    WINDOW *w = u->keys;
    ui_fill(u, w, 0, 0, u->cols, ROLE_TEXT);
    int64_t now = loop_mono_ms();
    if (a->flash[0] && now < a->flash_until_ms) {
        ui_put(u, w, 0, 1, u->cols - 1, ROLE_FLASH, a->flash);
        return;
    }
    static const struct {
        const char *key, *what;
    } hints[] = {
        {"?", "help"}, {"q", "quit"}, {"Tab", "pane"}, {"[ ]", "timeframe"},
        {"z", "zoom"}, {"space", "pause"}, {"< >", "speed"},
    };
    /* the focused pane's own keys at the right come first, then the screens (all five when
     * there is room, else the current one), then the general hints in what is left */
    const char *ph = pane_hint(u);
    int n = ui_text_cols(ph);
    int end = u->cols - n - 2 > 20 ? u->cols - n - 2 : u->cols;
    int x = 1;
    int tabs = 0;
    for (int i = 0; i < SCR_COUNT; i++)
        tabs += 1 + ui_text_cols(ui_screen_name((enum screen_id)i)) + 1;
    if (x + tabs + 1 <= end - 30) {
        for (int i = 0; i < SCR_COUNT; i++) {
            char d[16];
            snprintf(d, sizeof d, "%d", i + 1);
            x += ui_put(u, w, 0, x, -1, ROLE_KEY, d);
            x += ui_put(u, w, 0, x, -1, i == (int)u->screen ? ROLE_SELECTION : ROLE_DIM,
                        ui_screen_name((enum screen_id)i));
            x += 1;
        }
        x += 1;
    } else if (x + 12 <= end) {
        char d[32];
        snprintf(d, sizeof d, "%d", (int)u->screen + 1);
        x += ui_put(u, w, 0, x, -1, ROLE_KEY, d);
        x += ui_put(u, w, 0, x, -1, ROLE_SELECTION, ui_screen_name(u->screen));
        x += 2;
    }
    for (size_t i = 0; i < K_ARRAY_LEN(hints); i++) {
        int need = ui_text_cols(hints[i].key) + 1 + ui_text_cols(hints[i].what) + 2;
        if (x + need > end)
            break;
        x += ui_put(u, w, 0, x, -1, ROLE_KEY, hints[i].key);
        x += 1;
        x += ui_put(u, w, 0, x, -1, ROLE_DIM, hints[i].what);
        x += 2;
    }
    if (u->cols - n - 1 > x)
        ui_put(u, w, 0, u->cols - n - 1, n, ROLE_DIM, ph);
}

/* Every key, in the order of the architecture's key table. */
static const struct {
    const char *key, *what;
} help_keys[] = {
    {"?", "this help (Esc closes it)"},
    {"q", "quit (asks: y quits, n or Esc stays)"},
    {"1-5  F2-F6", "screens: 1 Market 2 Trading 3 AI 4 System 5 Backtests"},
    {"F1  F10", "this help / quit (asks)"},
    {"Tab  Shift-Tab", "focus the next / previous pane (a hidden one is shown)"},
    {"Up Down  j k", "move in lists (watchlist, trades)"},
    {"Left Right  h l", "chart: scroll back / forward in time"},
    {"Home End", "chart: oldest / newest bar; lists: top / bottom"},
    {"PgUp PgDn", "page in lists and the chart"},
    {"Enter", "select the symbol under the cursor (watchlist)"},
    {"[  ]", "chart timeframe shorter / longer: 1s 1m 5m 15m 1h 4h 1d"},
    {"z", "zoom the focused pane (again: restore); panes hidden: cycle them"},
    {"space", "pause / resume the replay"},
    {"<  >", "replay speed slower / faster"},
    {"i", "indicator picker (chart overlays, oscillators)"},
    {"+ -  t  x", "in the picker: step the first parameter / type the spec / clear (asks)"},
    {"Esc", "close an overlay"},
    {"Ctrl-L", "repaint the whole screen"},
    {"M", "mouse on / off: click focuses and selects, the wheel scrolls"},
};

/* What the short tags on screen mean. */
static const struct {
    const char *tag, *what;
} help_legend[] = {
    {"sp  bps", "spread: best ask - best bid; in basis points of the mid"},
    {"imb20", "book imbalance (bid-ask)/(bid+ask) over the top 20 levels"},
    {"chg sess", "change since the session's first price (chg 24h: against 24 h ago)"},
    {"+3 newer", "trades newer than the scrolled-back view (it stays put)"},
    {"* \xe2\x97\x80", "the bar is still forming / the last price on the axis"},
    {"+2  \xe2\x80\xa6", "indicators or panes with no room / a number with no room"},
};

/* Keys reserved for later issues: listed, marked "not yet", bound to nothing but a flash. */
static const char help_later[] =
    "o order ticket, c / C close position / cancel order, X close all, e settings, "
    "a / d add / remove symbol, S / P start / pause auto-trading, g generate a signal, "
    "n connections view, B backtests view";

WINDOW *ui_overlay_open(ui *u, int h, int w, const char *title)
{
    if (h > u->rows)
        h = u->rows;
    if (w > u->cols)
        w = u->cols;
    if (h < 1 || w < 1)
        return NULL;
    int y = (u->rows - h) / 2, x = (u->cols - w) / 2;
    if (u->ovw) {
        int oh, ow, oy, ox;
        getmaxyx(u->ovw, oh, ow);
        getbegyx(u->ovw, oy, ox);
        if (oh != h || ow != w || oy != y || ox != x) {
            delwin(u->ovw);
            u->ovw = NULL;
        }
    }
    if (!u->ovw)
        u->ovw = newwin(h, w, y, x);
    if (!u->ovw)
        return NULL;
    werase(u->ovw);
    for (int row = 0; row < h; row++)
        ui_fill(u, u->ovw, row, 0, w, ROLE_OVERLAY);
    ui_frame_box(u, u->ovw, true, title, ROLE_TITLE);
    return u->ovw;
}

void ui_overlay_show(WINDOW *w)
{
    touchwin(w);
    wnoutrefresh(w);
}

/* Writes text word-wrapped into [x, x+width) from row y; returns the next free row. */
static int wrap(ui *u, WINDOW *w, int y, int x, int width, int ymax, enum theme_role r,
                const char *text)
{
    const char *p = text;
    while (*p && y < ymax) {
        int len = (int)strlen(p);
        int n = len <= width ? len : width;
        if (n < len) {
            int cut = n;
            while (cut > 0 && p[cut] != ' ')
                cut--;
            if (cut > 0)
                n = cut;
        }
        char line[256];
        snprintf(line, sizeof(line), "%.*s", n, p);
        ui_put(u, w, y++, x, width, r, line);
        p += n;
        while (*p == ' ')
            p++;
    }
    return y;
}

void ui_help_draw(ui *u)
{
    int n = (int)K_ARRAY_LEN(help_keys), nl = (int)K_ARRAY_LEN(help_legend);
    int wd0 = K_MIN(84, u->cols);
    int later_lines = (int)sizeof(help_later) / K_MAX(10, wd0 - 6) + 2;
    WINDOW *w = ui_overlay_open(u, n + later_lines + nl + 7, wd0, "Keys");
    if (!w)
        return;
    int h, wd;
    getmaxyx(w, h, wd);
    int y = 1;
    for (int i = 0; i < n && y < h - 1; i++, y++) {
        ui_put(u, w, y, 3, 18, ROLE_KEY, help_keys[i].key);
        ui_put(u, w, y, 21, wd - 23, ROLE_OVERLAY, help_keys[i].what);
    }
    if (y + 1 < h - 1) {
        y++;
        ui_put(u, w, y++, 3, wd - 5, ROLE_DIM, "Reserved, not yet available:");
        y = wrap(u, w, y, 3, wd - 6, h - 2, ROLE_DIM, help_later);
    }
    if (y + 1 < h - 2) {
        y++;
        ui_put(u, w, y++, 3, wd - 5, ROLE_DIM, "Legend:");
        for (int i = 0; i < nl && y < h - 2; i++, y++) {
            const char *tag = help_legend[i].tag;
            char ascii[32];
            if (!u->utf8) { /* the glyphs' ASCII forms */
                snprintf(ascii, sizeof ascii, "%s", i == 4 ? "* <" : i == 5 ? "+2  ~" : tag);
                tag = ascii;
            }
            ui_put(u, w, y, 3, 18, ROLE_KEY, tag);
            ui_put(u, w, y, 21, wd - 23, ROLE_OVERLAY, help_legend[i].what);
        }
    }
    if (y < h - 1)
        ui_put(u, w, h - 2, 3, wd - 5, ROLE_DIM, "Esc or ? closes this help");
    ui_overlay_show(w);
}

void ui_quit_draw(ui *u)
{
    WINDOW *w = ui_overlay_open(u, 5, 36, "Quit");
    if (!w)
        return;
    int wd = getmaxx(w);
    ui_put(u, w, 2, 3, wd - 4, ROLE_OVERLAY, "Quit Kestrel?");
    ui_put(u, w, 2, 18, wd - 19, ROLE_KEY, "y");
    ui_put(u, w, 2, 20, wd - 21, ROLE_OVERLAY, "yes");
    ui_put(u, w, 2, 25, wd - 26, ROLE_KEY, "n");
    ui_put(u, w, 2, 27, wd - 28, ROLE_OVERLAY, "no");
    ui_overlay_show(w);
}
