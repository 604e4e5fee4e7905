/* The status bar (top line), the key-hint / flash line (bottom line), the two overlays (help,
 * quit confirmation) and the overlay window every overlay (the picker too) is drawn in. The
 * status bar is built left to right in priority order: data source and broker first (always
 * visible), then the focused symbol, the data clock, throughput and the malformed count, and the
 * per-symbol book states in whatever room is left (compacted to counts plus the names of books
 * that are not live when the full list does not fit). Data loss comes right after the source, in
 * the error role (red; bold reverse without colour): the store's banner while its writes fail or
 * once rows were lost (read from store_health() on every frame, so it shows in the frame after
 * the store reports it), then the bad replay input's banner; live feed health (FAILOVER,
 * STALLED, DOWN, REST PAUSED with the seconds left, RESYNC: live.h live_banner) follows the
 * broker badge. */
#include "ui_int.h"

#include "kestrel/keys.h"
#include "kestrel/live.h"
#include "kestrel/loop.h"
#include "kestrel/replay.h"
#include "kestrel/store.h"
#include "kestrel/watchlist.h"

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

/* The store's banner: "" while it writes and nothing was lost. */
static void store_banner(const app *a, char *out, size_t cap)
{
    out[0] = '\0';
    if (!a->store)
        return;
    store_health_info h = store_health(a->store);
    if (h.state == STORE_STATE_FAILING)
        snprintf(out, cap, " STORE FAILING: %u rows held, %llu lost%s%.120s ", h.rows_held,
                 (unsigned long long)h.rows_lost, h.last_error[0] ? ": " : "", h.last_error);
    else if (h.state == STORE_STATE_DEGRADED)
        snprintf(out, cap, " STORE: %llu rows lost ", (unsigned long long)h.rows_lost);
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

/* Live feed health, right after the data-loss banners (live.h live_banner): each failover,
 * stalled or down connection, REST pause (with the seconds left) and resyncing book, in the
 * error role (stalled, down, paused) or the warning role. False when the line is full. */
static bool status_health(ui *u, int *x)
{
    live_banner_item it[12];
    size_t n = live_banner(u->a->live, it, K_ARRAY_LEN(it));
    for (size_t i = 0; i < n; i++) {
        char b[112];
        if (it[i].symbol && it[i].symbol[0] && u->a->market &&
            !watchlist_shown(u->a, market_find(u->a->market, it[i].venue, it[i].symbol)))
            continue; /* a book removed from the watchlist: not the user's any more */
        snprintf(b, sizeof b, " %s ", it[i].text);
        enum theme_role r = it[i].error ? ROLE_ERROR : ROLE_STATUS_WARN;
        if (!seg(u, x, r, b)) {
            ui_put(u, u->status, 0, *x, u->cols - *x, r, b);
            return false;
        }
        (*x)++;
    }
    return true;
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
    store_banner(a, b, sizeof(b));
    if (b[0]) { /* the store loses or holds rows: before anything else */
        if (!seg(u, &x, ROLE_ERROR, b)) {
            ui_put(u, u->status, 0, x, u->cols - x, ROLE_ERROR, b);
            return;
        }
        x++;
    }
    if (a->banner[0]) { /* bad replay input: named before anything else (app_check_data) */
        snprintf(b, sizeof(b), " %.250s ", a->banner);
        if (!seg(u, &x, ROLE_ERROR, b)) {
            ui_put(u, u->status, 0, x, u->cols - x, ROLE_ERROR, b);
            return;
        }
        x++;
    }
    snprintf(b, sizeof(b), " %s ", app_broker_name(a));
    if (!seg(u, &x, ROLE_PAPER, b))
        return;
    x++;
    if (a->live && !status_health(u, &x)) /* after the broker: that badge is always shown */
        return;

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
    if (a->live) { /* connections delivering: "conns 4/4 open" (stalled ones are not open) */
        size_t nc = live_conn_count(a->live), open = 0;
        for (size_t i = 0; i < nc; i++) {
            live_conn_info ci;
            open += live_conn_get(a->live, i, &ci) == K_OK && strcmp(ci.state, "open") == 0;
        }
        snprintf(b, sizeof(b), "conns %zu/%zu open", open, nc);
        if (!seg(u, &x, open == nc ? ROLE_STATUS : ROLE_STATUS_WARN, b))
            return;
        x += 2;
    }

    /* book states: full list if it fits, else counts plus the names of books not live */
    if (!a->market)
        return;
    /* the symbols the watchlist shows: one removed (`d`, `ctl symbols remove`) stays in the
     * market (its data may still flow) but has no book state here */
    uint32_t nm = market_count(a->market), n = 0;
    int need = 0;
    uint32_t live = 0;
    for (uint32_t i = 0; i < nm; i++) {
        market_sym *m = market_at(a->market, i);
        if (!watchlist_shown(a, m))
            continue;
        n++;
        enum book_state st = m->book ? book_state(m->book) : BOOK_EMPTY;
        if (st == BOOK_LIVE)
            live++;
        char lbl[KSYM_MAX + 8];
        need += ui_text_cols(ui_sym_label(m, lbl, sizeof lbl)) + 1 +
                (int)strlen(ui_book_word(st)) + 2;
    }
    if (x + need <= u->cols) {
        for (uint32_t i = 0; i < nm; i++) {
            market_sym *m = market_at(a->market, i);
            if (!watchlist_shown(a, m))
                continue;
            enum book_state st = m->book ? book_state(m->book) : BOOK_EMPTY;
            const char *word = ui_book_word(st);
            char lbl[KSYM_MAX + 8];
            snprintf(b, sizeof(b), "%s ", ui_sym_label(m, lbl, sizeof lbl));
            seg(u, &x, ROLE_STATUS, b);
            seg(u, &x, st == BOOK_LIVE ? ROLE_STATUS : ROLE_STATUS_WARN, word);
            x += 2;
        }
        return;
    }
    snprintf(b, sizeof(b), "books %u/%u synced", live, n);
    if (!seg(u, &x, live == n ? ROLE_STATUS : ROLE_STATUS_WARN, b))
        return;
    x += 2;
    for (uint32_t i = 0; i < nm; i++) {
        market_sym *m = market_at(a->market, i);
        enum book_state st = m->book ? book_state(m->book) : BOOK_EMPTY;
        if (st == BOOK_LIVE || !watchlist_shown(a, m))
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
    case PANE_TRADING: return "[trading] arrows select an order, C cancels it";
    case PANE_EQUITY: return "[equity]";
    case PANE_HISTORY: return "[history] arrows j k scroll";
    case PANE_RISK: return "[risk]";
    case PANE_AI: return "[ai] arrows j k select a signal, g a new one";
    case PANE_BACKTEST: return "[backtests] arrows j k move, Enter open the report";
    case PANE_BT_REPORT: return "[report] arrows j k scroll";
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

/* What the short tags on screen mean. */
static const struct {
    const char *tag, *what;
} help_legend[] = {
    {"sp  bps", "spread: best ask - best bid; in basis points of the mid"},
    {"imb20", "book imbalance (bid-ask)/(bid+ask) over the top 20 levels"},
    {"chg sess", "change since the session's first price (chg 24h: against 24 h ago)"},
    {"+3 newer", "trades newer than the scrolled-back view (it stays put)"},
    {"* \xe2\x97\x80", "the bar is still forming / the last price on the axis"},
    {"p", "partial bar, dimmed: its period began before the data (no indicator values)"},
    {"+2  \xe2\x80\xa6", "indicators or panes with no room / a number with no room"},
};

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
static int ui_status_wrap(ui *u, WINDOW *w, int y, int x, int width, int ymax,
                          enum theme_role r, const char *text)
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

/* The help overlay, generated from the key bindings (keys.c) and the command table (cmd.c):
 * one row per action (its keys, what it does, and the command name for `kestrel ctl` when the
 * overlay is wide enough), the overlays' own keys, then the reserved keys as one paragraph. */
void ui_help_draw(ui *u)
{
    key_help_row rows[64];
    size_t nr = K_MIN(keys_help_rows(rows, K_ARRAY_LEN(rows)), K_ARRAY_LEN(rows));
    char later[1024] = "", later_keys[256] = ""; /* the reserved keys: in full, keys only */
    int n = 0, nl = (int)K_ARRAY_LEN(help_legend);
    for (size_t i = 0; i < nr; i++) {
        if (!rows[i].reserved) {
            n++;
            continue;
        }
        size_t len = strlen(later), lk = strlen(later_keys);
        int m = snprintf(later + len, sizeof later - len, "%s%s %s", len ? ", " : "",
                         rows[i].keys, rows[i].what);
        if (m < 0 || (size_t)m >= sizeof later - len) /* full: the paragraph ends here */
            later[len] = 0;
        m = snprintf(later_keys + lk, sizeof later_keys - lk, "%s%s", lk ? "  " : "",
                     rows[i].keys);
        if (m < 0 || (size_t)m >= sizeof later_keys - lk)
            later_keys[lk] = 0;
    }
    n += (int)keys_local_count();
    int wd0 = K_MIN(104, u->cols);
    int later_lines = (int)strlen(later) / K_MAX(10, wd0 - 12) + 2;
    WINDOW *w = ui_overlay_open(u, n + later_lines + nl + 7, wd0, "Keys");
    if (!w)
        return;
    int h, wd;
    getmaxyx(w, h, wd);
    bool names = wd >= 100; /* room for the command names column */
    int tx = names ? 42 : 21;
    int y = 1;
    for (size_t i = 0; i < nr && y < h - 1; i++) {
        if (rows[i].reserved)
            continue;
        ui_put(u, w, y, 3, 17, ROLE_KEY, rows[i].keys);
        if (names)
            ui_put(u, w, y, 21, 20, ROLE_DIM, rows[i].names);
        ui_put(u, w, y++, tx, wd - tx - 2, ROLE_OVERLAY, rows[i].what);
    }
    for (size_t i = 0; i < keys_local_count() && y < h - 1; i++, y++) {
        ui_put(u, w, y, 3, 17, ROLE_KEY, keys_local_at(i)->label);
        ui_put(u, w, y, tx, wd - tx - 2, ROLE_OVERLAY, keys_local_at(i)->what);
    }
    /* the reserved keys: the full paragraph when it fits above the footer, else keys only */
    int avail = h - 2 - y, width = wd - 6;
    char short_para[sizeof later_keys + 32];
    snprintf(short_para, sizeof short_para, "Not yet available: %s", later_keys);
    int full_lines = (int)strlen(later) / K_MAX(10, width - 10) + 1;
    int short_lines = (int)strlen(short_para) / K_MAX(10, width - 10) + 1;
    if (avail >= 2 + full_lines) {
        y++;
        ui_put(u, w, y++, 3, wd - 5, ROLE_DIM, "Reserved, not yet available:");
        y = ui_status_wrap(u, w, y, 3, width, h - 2, ROLE_DIM, later);
    } else if (avail >= short_lines) {
        y += avail > short_lines; /* a blank line first when there is room for one */
        y = ui_status_wrap(u, w, y, 3, width, h - 2, ROLE_DIM, short_para);
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
        ui_put(u, w, h - 2, 3, wd - 5, ROLE_DIM,
               "Esc closes; every action is also `kestrel ctl NAME` (ctl help)");
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
