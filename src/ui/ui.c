/* The terminal UI core: owns the terminal (like htop's CRT.c): init and restore, theme -> colour
 * pairs, glyph set, layout, key dispatch, overlays and the frame scheduler.
 *
 * Drawing is deferred (tmux style): input and data only change state; ui_draw(), called from the
 * loop's before-sleep hook, compares a cheap signature of everything shown (the app's counters,
 * every symbol's dirty counter, the UI's own state) with the one of the last frame and draws at
 * most cfg.ui_fps frames a second. Each pane keeps its own signature and is erased and redrawn
 * only when it changed; every window goes out with wnoutrefresh and the frame ends with exactly
 * one doupdate(), so tmux sees no flicker and an idle screen costs nothing. */
#include "ui_int.h"

#include "kestrel/btview.h"
#include "kestrel/cmd.h"
#include "kestrel/keys.h"
#include "kestrel/live.h"
#include "kestrel/loop.h"
#include "kestrel/alerts.h"
#include "kestrel/runner.h"
#include "kestrel/sigstore.h"
#include "kestrel/trading.h"
#include "kestrel/xmalloc.h"

#include <langinfo.h>
#include <term.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#define UI_TINY_COLS 20  /* below: only the too-small message */
#define UI_TINY_ROWS 6
#define UI_ALONE_COLS 60 /* below: the focused pane alone (every screen works from 60x20) */
#define UI_ALONE_ROWS 20
#define UI_RETRY_MS 50 /* how soon output the terminal did not take is offered again */

static const struct {
    wchar_t uni;
    char ascii;
} glyph_forms[G_COUNT] = {
    [G_BODY] = {0x2588, '#'},     [G_BODY_TOP] = {0x2580, '#'}, [G_BODY_BOT] = {0x2584, '#'},
    [G_HOLLOW] = {0x2591, '+'},   [G_WICK] = {0x2502, '|'},     [G_WICK_TOP] = {0x2575, '|'},
    [G_WICK_BOT] = {0x2577, '|'}, [G_V1] = {0x2581, '.'},       [G_V2] = {0x2582, '.'},
    [G_V3] = {0x2583, '.'},       [G_V4] = {0x2584, ':'},       [G_V5] = {0x2585, ':'},
    [G_V6] = {0x2586, ':'},       [G_V7] = {0x2587, ':'},       [G_V8] = {0x2588, '|'},
    [G_CURSOR] = {0x25B2, '^'},   [G_LASTPX] = {0x25C0, '<'},   [G_HLINE] = {0x2500, '-'},
    [G_FOCUS] = {0x25B8, '>'},    [G_TICK] = {0x2575, '\''},   [G_LINE_LO] = {0x2581, '_'},
    [G_LINE_MID] = {0x2500, '-'}, [G_LINE_HI] = {0x2594, '`'},  [G_DOT] = {0x2022, '*'},
    [G_DOTLINE] = {0x2508, '.'},
};

attr_t ui_attr(const ui *u, enum theme_role r)
{
    return u->role_attr[r];
}

void ui_role(ui *u, WINDOW *w, enum theme_role r)
{
    wattr_set(w, u->role_attr[r], u->role_pair[r], NULL);
}

market_sym *ui_focus_sym(ui *u)
{
    market *m = u->a->market;
    if (!m)
        return NULL;
    uint32_t n = market_count(m);
    if (n == 0)
        return NULL;
    return market_at(m, u->a->focus < n ? u->a->focus : 0);
}

/* What the market panes (chart, book, trades) show: the focused symbol, or its backup venue's
 * while its feed is failed over (live.h). */
market_sym *ui_view_sym(ui *u)
{
    return live_view_sym(u->a->live, ui_focus_sym(u));
}

static attr_t attrs_from_theme(uint32_t bits)
{
    attr_t a = A_NORMAL;
    if (bits & THEME_A_BOLD)
        a |= A_BOLD;
    if (bits & THEME_A_DIM)
        a |= A_DIM;
    if (bits & THEME_A_REVERSE)
        a |= A_REVERSE;
    if (bits & THEME_A_UNDERLINE)
        a |= A_UNDERLINE;
    if (bits & THEME_A_STANDOUT)
        a |= A_STANDOUT;
#ifdef A_ITALIC
    if (bits & THEME_A_ITALIC)
        a |= A_ITALIC;
#endif
    return a;
}

static void theme_warn(void *ud, const char *msg)
{
    app *a = ud;
    log_warn(a->log, "theme: %s", msg);
}

/* Loads the configured theme (or the built-in one) and turns it into colour pairs and attributes
 * for this terminal: 256 colours, 8 colours or monochrome attributes. */
static void ui_apply_theme(ui *u)
{
    app *a = u->a;
    const char *name = a->cfg.theme[0] ? a->cfg.theme : "default";
    char path[CONFIG_PATH_MAX + 100], err[CONFIG_PATH_MAX + 200], datadir[CONFIG_PATH_MAX];
    config_datadir(datadir, sizeof datadir);
    theme_builtin(&u->th);
    if (theme_find(name, datadir, path, sizeof(path)) == K_OK) {
        if (theme_load_file(&u->th, path, theme_warn, a, err, sizeof(err)) != K_OK) {
            log_warn(a->log, "theme: %s", err);
            app_flash(a, "theme '%s' unusable (%s): using the built-in theme", name, err);
        }
    } else if (strcmp(name, "default") != 0) {
        app_flash(a, "theme '%s' not found in ./themes or %s/themes: using the built-in theme",
                  name, datadir);
    }

    u->color = false;
    u->colors = 0;
    if (has_colors() && start_color() == OK && COLORS >= 8 && COLOR_PAIRS > ROLE_COUNT) {
        u->color = true;
        u->colors = COLORS >= 256 ? 256 : 8;
    }
    bool defaults = u->color && use_default_colors() == OK;
    int up_fg = 0, up_bg = 0, down_fg = 0, down_bg = 0;
    for (int r = 0; r < ROLE_COUNT; r++) {
        if (!u->color) {
            u->role_attr[r] = attrs_from_theme(u->th.mono[r]);
            u->role_pair[r] = 0;
            continue;
        }
        theme_style st = u->colors == 256 ? u->th.c256[r] : u->th.c8[r];
        uint32_t bits = st.attrs;
        int fg = st.fg, bg = st.bg;
        if (u->colors < 16) { /* bright colours on an 8-colour terminal: base colour + bold */
            if (fg >= 8 && fg < 16) {
                fg -= 8;
                bits |= THEME_A_BOLD;
            }
            if (bg >= 8 && bg < 16)
                bg -= 8;
            if (fg >= 8)
                fg = THEME_COLOR_DEFAULT;
            if (bg >= 8)
                bg = THEME_COLOR_DEFAULT;
        }
        if (!defaults) {
            if (fg < 0)
                fg = COLOR_WHITE;
            if (bg < 0)
                bg = COLOR_BLACK;
        }
        if (r == ROLE_UP)
            up_fg = fg, up_bg = bg;
        if (r == ROLE_DOWN)
            down_fg = fg, down_bg = bg;
        init_pair((short)(r + 1), (short)fg, (short)bg);
        u->role_pair[r] = (short)(r + 1);
        u->role_attr[r] = attrs_from_theme(bits);
    }
    u->hollow_up = !u->color || (up_fg == down_fg && up_bg == down_bg);
    /* A price inside its depth bar keeps its side colour: fg of bid/ask over bg of the bar. */
    u->pair_bid_on_depth = u->role_pair[ROLE_BID_DEPTH];
    u->pair_ask_on_depth = u->role_pair[ROLE_ASK_DEPTH];
    u->attr_bid_on_depth = u->role_attr[ROLE_BID_DEPTH];
    u->attr_ask_on_depth = u->role_attr[ROLE_ASK_DEPTH];
    if (u->color && COLOR_PAIRS > ROLE_COUNT + 2) {
        short f, b, f2, b2;
        /* only when the side's colour stands out from the bar (8 colours: red on red) */
        if (pair_content(u->role_pair[ROLE_BID], &f, &b) == OK &&
            pair_content(u->role_pair[ROLE_BID_DEPTH], &f2, &b2) == OK && f != b2 &&
            init_pair(ROLE_COUNT + 1, f, b2) == OK) {
            u->pair_bid_on_depth = ROLE_COUNT + 1;
            u->attr_bid_on_depth = u->role_attr[ROLE_BID] | u->role_attr[ROLE_BID_DEPTH];
        }
        if (pair_content(u->role_pair[ROLE_ASK], &f, &b) == OK &&
            pair_content(u->role_pair[ROLE_ASK_DEPTH], &f2, &b2) == OK && f != b2 &&
            init_pair(ROLE_COUNT + 2, f, b2) == OK) {
            u->pair_ask_on_depth = ROLE_COUNT + 2;
            u->attr_ask_on_depth = u->role_attr[ROLE_ASK] | u->role_attr[ROLE_ASK_DEPTH];
        }
    }
}

static void ui_glyphs(ui *u)
{
    const char *cs = nl_langinfo(CODESET);
    u->utf8 = !u->a->cfg.ui_ascii && cs &&
              (strcmp(cs, "UTF-8") == 0 || strcmp(cs, "utf-8") == 0 || strcmp(cs, "utf8") == 0);
    for (int g = 0; g < G_COUNT; g++) {
        wchar_t wc[2] = {u->utf8 ? glyph_forms[g].uni : (wchar_t)glyph_forms[g].ascii, 0};
        setcchar(&u->glyph[g], wc, A_NORMAL, 0, NULL);
    }
}

static void ui_free_windows(ui *u)
{
    for (int i = 0; i < PANE_COUNT; i++) {
        if (u->panes[i].w)
            delwin(u->panes[i].w);
        u->panes[i].w = NULL;
        u->panes[i].shown = false;
    }
    if (u->status)
        delwin(u->status);
    if (u->keys)
        delwin(u->keys);
    if (u->ovw)
        delwin(u->ovw);
    u->status = u->keys = u->ovw = NULL;
}

static WINDOW *mkwin(int h, int w, int y, int x)
{
    if (h < 1 || w < 1 || y < 0 || x < 0 || y + h > LINES || x + w > COLS)
        return NULL;
    return newwin(h, w, y, x);
}

static void place(pane *p, int y, int x, int h, int w)
{
    p->y = y;
    p->x = x;
    p->h = h;
    p->wd = w;
    p->w = mkwin(h, w, y, x);
    p->shown = p->w != NULL;
    p->dirty = true;
}

/* Recomputes every window from the terminal size, the screen, the zoom state and the focus:
 * the screen's layout tree fitted by ui_layout_solve (dropped panes are counted and named in
 * the status line); below UI_ALONE_COLS x UI_ALONE_ROWS, or zoomed, the focused pane alone;
 * below UI_TINY_COLS x UI_TINY_ROWS only the too-small message. */
void ui_layout(ui *u)
{
    ui_free_windows(u);
    u->rows = LINES;
    u->cols = COLS;
    u->too_small = u->cols < UI_TINY_COLS || u->rows < UI_TINY_ROWS;
    u->full = true;
    u->layout_valid = true;
    u->hidden = 0;
    if (u->too_small)
        return;
    u->status = mkwin(1, u->cols, 0, 0);
    u->keys = mkwin(1, u->cols, u->rows - 1, 0);
    int mid_y = 1, mid_h = u->rows - 2;
    enum pane_id all[PANE_COUNT];
    int n = ui_screen_panes(u->screen, all);
    bool in_screen = false;
    for (int i = 0; i < n; i++)
        in_screen |= all[i] == u->focus;
    if (!in_screen)
        u->focus = ui_screen_first_focus(u->screen);
    if (u->zoom || u->cols < UI_ALONE_COLS || u->rows < UI_ALONE_ROWS) {
        place(&u->panes[u->focus], mid_y, 0, mid_h, u->cols);
        if (!u->zoom) /* not asked for: say what is missing */
            for (int i = 0; i < n; i++)
                if (all[i] != u->focus)
                    u->hidden_ids[u->hidden++] = all[i];
        return;
    }
    ui_rect r[PANE_COUNT];
    bool shown[PANE_COUNT];
    ui_layout_solve(u->screen, mid_h, u->cols, u->focus, r, shown);
    for (int i = 0; i < n; i++) {
        enum pane_id id = all[i];
        if (shown[id])
            place(&u->panes[id], mid_y + r[id].y, r[id].x, r[id].h, r[id].w);
        else
            u->hidden_ids[u->hidden++] = id;
    }
}

static void mouse_enable(ui *u, bool on)
{
    /* button presses and the wheel (1000), reported as SGR sequences (1006): any size, and the
     * same bytes on every terminal, so ui_on_input reads them itself */
    /* where terminfo knows the SGR form (xterm: kmous=\E[<) curses parses it: KEY_MOUSE */
    mousemask(on ? BUTTON1_PRESSED | BUTTON4_PRESSED | BUTTON5_PRESSED : 0, NULL);
    mouseinterval(0);
    fputs(on ? "\033[?1000h\033[?1006h" : "\033[?1006l\033[?1000l", u->out);
    fflush(u->out);
    if (u->tty)
        ui_tty_pump(u->tty);
    u->mouse = on;
}

static ui *ui_open_screen(app *a, FILE *out, FILE *in, const char *term, char *err,
                          size_t errlen)
{
    ui *u = xcalloc(1, sizeof(*u));
    u->a = a;
    u->out = out;
    u->in = in;
    u->scr = newterm(term, out, in);
    if (!u->scr) {
        snprintf(err, errlen, "cannot initialise the terminal (TERM=%s)",
                 term ? term : (getenv("TERM") ? getenv("TERM") : "unset"));
        free(u);
        return NULL;
    }
    set_term(u->scr);
    /* a terminal that cannot move the cursor (TERM=dumb) would show one garbled line forever */
    const char *cup = tigetstr("cup");
    if (!cup || cup == (const char *)-1) {
        snprintf(err, errlen, "the terminal (TERM=%s) cannot position the cursor "
                              "(use --headless, or a real TERM such as xterm)",
                 term ? term : (getenv("TERM") ? getenv("TERM") : "unset"));
        endwin();
        delscreen(u->scr);
        free(u);
        return NULL;
    }
    cbreak();
    noecho();
    nonl();
    intrflush(stdscr, FALSE);
    keypad(stdscr, TRUE);
    nodelay(stdscr, TRUE);
    set_escdelay(25);
    curs_set(0);
    leaveok(stdscr, TRUE);
    /* curses writing straight to a terminal (the fallback, and tests on a pty): no flow control
     * either, so Ctrl-S cannot stop the output and with it the loop */
    struct termios tm;
    if (isatty(fileno(in)) && tcgetattr(fileno(in), &tm) == 0) {
        tm.c_iflag &= ~(tcflag_t)(IXON | IXOFF | IXANY);
        if (tcsetattr(fileno(in), TCSANOW, &tm) == 0)
            def_prog_mode();
    }
    ui_glyphs(u);
    ui_apply_theme(u);
    if (a->cfg.ui_mouse)
        mouse_enable(u, true);
    for (int i = 0; i < SCR_COUNT; i++)
        u->scr_focus[i] = ui_screen_first_focus((enum screen_id)i);
    u->screen = SCR_MARKET;
    u->focus = PANE_CHART;
    u->ch_follow = true;
    u->tape.scroll_only = true;
    u->bt_rep.scroll_only = true; /* the report scrolls; the run list has a selection */
    u->wl.sel = 0; /* the focus at start is the first symbol shown */
    u->last_frame_ms = -1000000;
    ui_layout(u);
    return u;
}

int ui_theme_check(const char *name, char *err, size_t errlen)
{
    char path[CONFIG_PATH_MAX + 100], datadir[CONFIG_PATH_MAX];
    if (!name[0] || strcmp(name, "default") == 0)
        return K_OK;
    config_datadir(datadir, sizeof datadir);
    if (theme_find(name, datadir, path, sizeof path) == K_OK)
        return K_OK;
    snprintf(err, errlen, "unknown theme '%s' (not in ./themes or %s/themes)", name, datadir);
    return K_ERR;
}

void ui_emergency_restore(ui *u)
{
    if (!u)
        return;
    set_term(u->scr);
    if (!isendwin())
        endwin();
    if (u->tty) {
        ui_tty_close(u->tty); /* the last bytes (bounded), then the saved modes */
        u->tty = NULL;
    }
}

ui *ui_open(app *a, char *err, size_t errlen)
{
    if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
        snprintf(err, errlen, "the terminal UI needs a terminal on stdin and stdout "
                              "(use --headless to run without one)");
        return NULL;
    }
    char terr[160];
    ui_tty *t = ui_tty_open(STDIN_FILENO, STDOUT_FILENO, terr, sizeof terr);
    if (!t)
        log_warn(a->log, "ui: %s; writing to the terminal directly (a terminal that stops "
                         "reading can then stall the loop)", terr);
    ui *u = ui_open_screen(a, t ? ui_tty_file(t) : stdout, stdin, NULL, err, errlen);
    if (!u) {
        ui_tty_close(t);
        return NULL;
    }
    u->own_term = true;
    u->tty = t;
    int rows, cols;
    if (t && ui_tty_size(t, &rows, &cols)) { /* curses cannot ask its pipe */
        resizeterm(rows, cols);
        ui_layout(u);
    }
    if (t)
        ui_tty_pump(t);
    return u;
}

ui *ui_open_term(app *a, FILE *out, FILE *in, const char *term, int rows, int cols, char *err,
                 size_t errlen)
{
    ui *u = ui_open_screen(a, out, in, term, err, errlen);
    if (u && rows > 0 && cols > 0) {
        resizeterm(rows, cols);
        ui_layout(u);
    }
    return u;
}

void ui_close(ui *u)
{
    if (!u)
        return;
    set_term(u->scr);
    ui_free_windows(u);
    if (u->mouse)
        mouse_enable(u, false);
    curs_set(1);
    endwin();
    delscreen(u->scr);
    ui_tty_close(u->tty);
    free(u);
}

void ui_on_resize(ui *u)
{
    struct winsize ws;
    int rows, cols;
    set_term(u->scr);
    if (u->tty) {
        if (ui_tty_size(u->tty, &rows, &cols))
            resizeterm(rows, cols);
    } else if (ioctl(fileno(u->out), TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0 && ws.ws_col > 0) {
        resizeterm(ws.ws_row, ws.ws_col);
    }
    ui_layout(u);
    clearok(curscr, TRUE);
}

void ui_resize_to(ui *u, int rows, int cols)
{
    set_term(u->scr);
    if (rows > 0 && cols > 0)
        resizeterm(rows, cols);
    ui_layout(u);
}

void ui_set_focus_pane(ui *u, enum pane_id p)
{
    u->focus = p;
    u->scr_focus[u->screen] = p;
    ui_layout(u); /* a hidden pane that gets the focus is shown (the focus is never dropped) */
    for (int i = 0; i < PANE_COUNT; i++)
        u->panes[i].dirty = true;
}

/* Tab / Shift-Tab (pane-next / pane-prev): the next / previous pane of the screen, in layout
 * order. */
void ui_focus_step(ui *u, int dir)
{
    enum pane_id all[PANE_COUNT];
    int n = ui_screen_panes(u->screen, all), at = 0;
    for (int i = 0; i < n; i++)
        if (all[i] == u->focus)
            at = i;
    ui_set_focus_pane(u, all[(at + n + dir) % n]);
}

/* z (zoom): zoom the focused pane; again: the layout back. With panes hidden (no room for
 * them), z cycles instead: the focused pane zoomed, then each hidden pane in turn, then the
 * layout. */
void ui_zoom_cycle(ui *u)
{
    if (!u->zoom) {
        u->ncycle = 0;
        u->cycle_i = 0;
        if (u->hidden > 0) {
            u->cycle[u->ncycle++] = u->focus;
            for (int i = 0; i < u->hidden && u->ncycle < PANE_COUNT; i++)
                u->cycle[u->ncycle++] = u->hidden_ids[i];
        }
        u->zoom = true;
    } else if (u->cycle_i + 1 < u->ncycle) {
        u->focus = u->cycle[++u->cycle_i];
    } else {
        if (u->ncycle > 0)
            u->focus = u->cycle[0];
        u->zoom = false;
        u->ncycle = 0;
    }
    u->scr_focus[u->screen] = u->focus;
    ui_layout(u);
}

/* 1..5, F2..F6 (screen N): each screen keeps its own focused pane; zoom does not carry over. */
void ui_set_screen(ui *u, enum screen_id s)
{
    u->scr_focus[u->screen] = u->focus;
    u->screen = s;
    u->focus = u->scr_focus[s];
    if (s == SCR_BACKTEST) /* the runs stored since (another process may have added some) */
        btview_reload(u->a->btview);
    u->zoom = false;
    u->ncycle = 0;
    ui_layout(u);
}

void ui_set_mouse(ui *u, bool on)
{
    if (on != u->mouse)
        mouse_enable(u, on);
}

static void key_normal(ui *u, int ch);

/* The pane under screen cell (y, x), or -1. */
static int pane_at(ui *u, int y, int x)
{
    for (int i = 0; i < PANE_COUNT; i++) {
        pane *p = &u->panes[i];
        if (p->shown && y >= p->y && y < p->y + p->h && x >= p->x && x < p->x + p->wd)
            return i;
    }
    return -1;
}

/* One SGR mouse report: button code b (0 left, 64/65 wheel up/down, +4/8/16 modifiers, +32
 * motion), 0-based cell, press or release. */
static void mouse_event(ui *u, int b, int y, int x, bool press)
{
    u->ui_changes++;
    if (!press || u->ov != OV_NONE || u->too_small)
        return;
    int id = pane_at(u, y, x);
    if (id < 0)
        return;
    pane *p = &u->panes[id];
    int btn = b & ~(4 | 8 | 16);
    if (btn == 64 || btn == 65) { /* the wheel scrolls what is under it, focused or not */
        int d = btn == 64 ? -1 : +1;
        if (id == PANE_WATCH)
            ui_list_scroll(&u->wl, d);
        else if (id == PANE_TAPE)
            ui_list_scroll(&u->tape, 3 * d);
        else if (id == PANE_BACKTEST)
            ui_list_scroll(&u->bt_list, d);
        else if (id == PANE_BT_REPORT)
            ui_list_scroll(&u->bt_rep, 3 * d);
        else if (id == PANE_AI)
            ui_list_scroll(&u->ai_list, d);
        else if (id == PANE_CHART)
            for (int i = 0; i < 3; i++)
                ui_chart_key(u, d < 0 ? KEY_LEFT : KEY_RIGHT);
        return;
    }
    if (btn != 0)
        return;
    if ((enum pane_id)id != u->focus)
        ui_set_focus_pane(u, (enum pane_id)id);
    if (id == PANE_BACKTEST && u->bt_y0 > 0 && ui_list_click(&u->bt_list, y - p->y - u->bt_y0))
        ui_backtest_select(u); /* a click opens the run's report */
    if (id == PANE_AI && u->ai_y0 > 0 && y - p->y - u->ai_y0 >= 0)
        ui_list_click(&u->ai_list, (y - p->y - u->ai_y0) / 2); /* selects the signal */
    if (id == PANE_WATCH && u->wl_per > 0) {
        int row = y - p->y - u->wl_y0;
        if (row >= 0) {
            uint32_t before = u->wl.sel;
            if (ui_list_click(&u->wl, row / u->wl_per) && before == u->wl.sel)
                key_normal(u, '\n'); /* a click on the selected row: make it the focus */
        }
    }
}

/* Key dispatch: the key's command line (keys.c) runs through the command table like a
 * `kestrel ctl` request; a refusal ("not yet available", no replay, ...) becomes a flash. Keys
 * without a binding (Ctrl-S, Ctrl-Q: flow control is off) do nothing. */
static void key_normal(ui *u, int ch)
{
    const key_binding *b = keys_lookup(ch);
    if (!b)
        return;
    app *a = u->a;
    enum tf tf = a->chart_tf;
    char err[CMD_ERR_MAX];
    if (cmd_run_line(a, u, CMD_FROM_KEY, b->command, err, sizeof err) != CMD_OK) {
        if (err[0])
            app_flash(a, "%s: %s", b->label, err);
    } else if (!strcmp(b->command, "signal")) { /* g: its signal (the newest) is selected */
        u->ai_list.sel = u->ai_list.top = 0;
        u->ui_changes++;
    }
    if (a->chart_tf != tf) /* a new timeframe starts at its newest bar */
        u->ch_follow = true;
}

static void close_overlay(ui *u)
{
    u->ov = OV_NONE;
    u->full = true;
}

static void ui_key(ui *u, int ch)
{
    u->ui_changes++;
    if (ch == KEY_RESIZE) {
        /* curses has already resized (its own SIGWINCH handling, or the KEY_RESIZE that our
         * resizeterm() queued): only the windows follow. Calling resizeterm() here again would
         * queue another KEY_RESIZE, forever. */
        if (LINES != u->rows || COLS != u->cols)
            ui_layout(u);
        return;
    }
    if (u->ov == OV_QUIT) {
        if (ch == 'y' || ch == 'Y') {
            close_overlay(u);
            app_request_quit(u->a);
        } else if (ch == 'n' || ch == 'N' || ch == 27 || ch == 'q') {
            close_overlay(u);
        }
        return;
    }
    if (u->ov == OV_PICKER) {
        ui_picker_key(u, ch);
        return;
    }
    if (u->ov == OV_TICKET) {
        ui_ticket_key(u, ch);
        return;
    }
    if (u->ov == OV_SETTINGS) {
        ui_settings_key(u, ch);
        return;
    }
    if (u->ov == OV_SYMBOL) {
        ui_symform_key(u, ch);
        return;
    }
    if (u->ov == OV_HELP) {
        if (ch == 27 || ch == '?' || ch == 'q' || ch == '\n' || ch == '\r' || ch == KEY_F(1))
            close_overlay(u);
        return;
    }
    if (ch == KEY_MOUSE) { /* curses parsed the report (terminfo knows SGR): not a key */
        MEVENT ev;
        if (getmouse(&ev) == OK) {
            int b = ev.bstate & BUTTON4_PRESSED ? 64 : ev.bstate & BUTTON5_PRESSED ? 65
                    : ev.bstate & BUTTON1_PRESSED ? 0 : -1;
            if (b >= 0)
                mouse_event(u, b, ev.y, ev.x, true);
        }
        return;
    }
    key_normal(u, ch);
}

/* After an Esc: an SGR mouse report "[<b;x;yM" (or "m": release) is read and handled here;
 * anything else is handed on as the keys it was. Returns true when the Esc was consumed. */
static bool ui_read_escape(ui *u)
{
    int c1 = wgetch(stdscr);
    if (c1 == ERR)
        return false; /* a lone Esc */
    if (c1 != '[') {
        ui_key(u, 27);
        ui_key(u, c1);
        return true;
    }
    int c2 = wgetch(stdscr);
    if (c2 != '<') {
        ui_key(u, 27);
        ui_key(u, '[');
        if (c2 != ERR)
            ui_key(u, c2);
        return true;
    }
    int v[3] = {0, 0, 0}, k = 0, c;
    for (int n = 0; n < 16; n++) { /* bounded: "65;250;70M" is the longest we expect */
        c = wgetch(stdscr);
        if (c >= '0' && c <= '9' && k < 3) {
            v[k] = K_MIN(v[k] * 10 + (c - '0'), 100000);
        } else if (c == ';' && k < 2) {
            k++;
        } else {
            if ((c == 'M' || c == 'm') && k == 2)
                mouse_event(u, v[0], v[2] - 1, v[1] - 1, c == 'M');
            return true; /* a malformed report is dropped */
        }
    }
    return true;
}

void ui_on_input(ui *u)
{
    set_term(u->scr);
    /* wgetch(stdscr) refreshes stdscr when it is "touched" (it is after init and resizes), which
     * would paint the blank stdscr over the panes. Send it out now, under a full redraw. */
    if (is_wintouched(stdscr)) {
        wnoutrefresh(stdscr);
        u->full = true;
    }
    for (int i = 0; i < 256; i++) {
        int ch = wgetch(stdscr);
        if (ch == ERR)
            break;
        if (ch == 27 && ui_read_escape(u))
            continue;
        ui_key(u, ch);
    }
    if (u->tty)
        ui_tty_pump(u->tty);
}

/* FNV-1a style mixing of 64-bit words: cheap signatures of what a pane shows. */
static uint64_t mix(uint64_t h, uint64_t v)
{
    h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
    return h * 0x100000001b3ull;
}

/* The symbol count and every symbol's dirty counter: any change in the market model. */
static uint64_t mix_symbols(uint64_t h, app *a)
{
    if (!a->market)
        return h;
    uint32_t n = market_count(a->market);
    h = mix(h, n);
    for (uint32_t i = 0; i < n; i++)
        h = mix(h, market_at(a->market, i)->dirty);
    return h;
}

static bool flash_on(const app *a, int64_t now)
{
    return a->flash[0] && now < a->flash_until_ms;
}

static uint64_t global_sig(ui *u, int64_t now)
{
    app *a = u->a;
    uint64_t h = 1469598103934665603ull;
    h = mix(h, a->messages);
    h = mix(h, a->malformed);
    h = mix(h, a->changes);
    h = mix(h, a->focus);
    h = mix(h, (uint64_t)a->chart_tf);
    h = mix(h, (uint64_t)a->paused | (uint64_t)a->finished << 1 | (uint64_t)a->quitting << 2);
    h = mix(h, (uint64_t)(a->speed * 1000.0));
    h = mix(h, (uint64_t)(a->msgs_per_s * 10.0));
    h = mix(h, (uint64_t)(a->data_ms / 1000));
    h = mix(h, (uint64_t)flash_on(a, now));
    h = mix(h, u->ui_changes);
    if (u->screen == SCR_SYSTEM)
        h = mix(h, log_tail_seq(a->log));
    if (u->screen == SCR_MARKET)
        h = mix(h, ui_strip_stamp(a));
    if (a->live) /* the health banner (stalls, REST pause countdown) follows the wall clock */
        h = mix(h, (uint64_t)(now / 500));
    if (u->screen == SCR_BACKTEST)
        h = mix(h, btview_seq(a->btview));
    return mix_symbols(h, a);
}

static uint64_t pane_sig(ui *u, enum pane_id id)
{
    app *a = u->a;
    market_sym *s = ui_view_sym(u);
    uint64_t h = mix(0, (uint64_t)id);
    h = mix(h, u->focus == id);
    switch (id) {
    case PANE_WATCH:
        h = mix(h, u->wl.sel);
        h = mix(h, a->focus);
        h = mix_symbols(h, a);
        h = mix(h, ui_strip_stamp(a)); /* the trading strip under the list */
        break;
    case PANE_CHART:
        /* only what the chart shows: bars closing, the forming bar, the last price */
        if (s && (unsigned)a->chart_tf < TF_COUNT && s->series[a->chart_tf]) {
            candles *c = s->series[a->chart_tf];
            const candle *f = candles_forming(c);
            h = mix(h, candles_total_closed(c));
            h = mix(h, candles_count(c));
            if (f) {
                h = mix(h, (uint64_t)f->open_ms);
                h = mix(h, f->trades);
                h = mix(h, (uint64_t)f->h);
                h = mix(h, (uint64_t)f->l);
                h = mix(h, (uint64_t)f->c);
                h = mix(h, (uint64_t)f->volume);
            }
            h = mix(h, (uint64_t)s->last_px);
        }
        h = mix(h, a->focus);
        if (s && (unsigned)a->chart_tf < TF_COUNT && app_chart_ta(a, s, a->chart_tf))
            h = mix(h, (uint64_t)(uintptr_t)app_chart_ta(a, s, a->chart_tf)); /* new list */
        h = mix(h, a->changes);
        h = mix(h, (uint64_t)a->chart_tf);
        h = mix(h, u->ch_follow);
        h = mix(h, (uint64_t)u->ch_cursor_ms);
        break;
    case PANE_BOOK:
        h = mix(h, s ? s->dirty : 0);
        h = mix(h, a->focus);
        break;
    case PANE_TAPE:
        h = mix(h, s ? s->trades : 0);
        h = mix(h, a->focus);
        h = mix(h, u->tape.top);
        break;
    case PANE_TRADING: /* the account moves with fills and marks; the order list selection */
        h = mix(h, a->changes);
        h = mix(h, a->messages);
        h = mix(h, u->tr_orders.sel);
        break;
    case PANE_EQUITY:
    case PANE_HISTORY:
    case PANE_RISK: /* marks, fills and samples move with the data; the history's scroll */
        h = mix(h, a->changes);
        h = mix(h, a->messages);
        h = mix(h, u->tr_hist.sel);
        h = mix(h, u->tr_hist.top);
        h = mix(h, (uint64_t)(a->data_ms / 1000));
        break;
    case PANE_CONN:
    case PANE_STORE:
    case PANE_COUNTERS:
    case PANE_LOG: /* counters of everything: redrawn with the status bar's changes */
        h = mix(h, a->messages);
        h = mix(h, a->malformed);
        h = mix(h, a->changes);
        h = mix(h, (uint64_t)(a->msgs_per_s * 10.0));
        h = mix(h, u->frames / 30);
        h = mix(h, a->log ? log_count(a->log, LOG_WARN) + log_count(a->log, LOG_ERROR) : 0);
        h = mix(h, log_tail_seq(a->log)); /* a new line in the log's tail */
        break;
    case PANE_BACKTEST: /* the stored runs and the report: only what btview hands over */
    case PANE_BT_REPORT:
        h = mix(h, btview_seq(a->btview));
        h = mix(h, u->bt_list.sel);
        h = mix(h, u->bt_list.top);
        h = mix(h, u->bt_rep.top);
        break;
    case PANE_AI: /* a new signal (scores land with it), alerts, the focus, key changes */
        h = mix(h, a->runner ? runner_get_stats(a->runner)->signals : 0);
        h = mix(h, trading_alerts(a) ? alerts_get_stats(trading_alerts(a))->raised : 0);
        h = mix(h, a->changes);
        h = mix(h, a->focus);
        h = mix(h, u->ai_list.sel);
        h = mix(h, u->ai_list.top);
        h = mix(h, sigstore_seq(trading_sigstore(a))); /* an older signal's record was read */
        break;
    default:
        break;
    }
    return h;
}

/* Below UI_TINY_COLS x UI_TINY_ROWS: the longest message that fits the width, centred (the
 * quit question too when it is open). */
static void draw_too_small(ui *u)
{
    werase(stdscr);
    wattr_set(stdscr, A_NORMAL, 0, NULL);
    static const char *const msgs[] = {"terminal too small (20x6 needed)", "terminal too small",
                                       "too small", "small", "!"};
    int rows = LINES, cols = COLS;
    if (rows >= 1 && cols >= 1) {
        const char *msg = msgs[K_ARRAY_LEN(msgs) - 1];
        for (size_t i = 0; i < K_ARRAY_LEN(msgs); i++)
            if ((int)strlen(msgs[i]) <= cols) {
                msg = msgs[i];
                break;
            }
        int n = (int)strlen(msg);
        int y = (rows - 1) / 2;
        mvwaddnstr(stdscr, y, (cols - n) / 2, msg, n);
        if (rows >= 3 && cols >= 10) {
            char sz[32];
            int m = snprintf(sz, sizeof(sz), "now %dx%d", cols, rows);
            if (m <= cols)
                mvwaddnstr(stdscr, y + 1, (cols - m) / 2, sz, m);
        }
        if (u->ov == OV_QUIT && rows >= 2) {
            static const char q[] = "quit? y/n";
            int m = (int)sizeof(q) - 1;
            if (m <= cols)
                mvwaddnstr(stdscr, y == 0 ? 1 : y - 1, (cols - m) / 2, q, m);
        }
    }
    wnoutrefresh(stdscr);
}

/* Draws one frame now: dirty panes, status and key lines, the overlay, one doupdate(). Returns
 * false, drawing nothing, while the terminal has not taken the previous frame: the frame is
 * dropped (the next one shows the state of its time), and the loop is never blocked. */
static bool ui_frame(ui *u)
{
    set_term(u->scr);
    if (u->tty && ui_tty_pump(u->tty) > 0) {
        u->frames_dropped++;
        return false;
    }
    if (trading_alerts(u->a) && alerts_take_bell(trading_alerts(u->a)))
        beep(); /* alerts.bell: once per frame with new alerts */
    if (u->tty && ui_tty_take_lost(u->tty)) { /* output was thrown away: repaint it all */
        clearok(curscr, TRUE);
        u->full = true;
    }
    if (!u->layout_valid || LINES != u->rows || COLS != u->cols)
        ui_layout(u);
    u->frames++;
    if (u->too_small) {
        draw_too_small(u);
        doupdate();
        u->full = false;
        if (u->tty)
            ui_tty_pump(u->tty);
        return true;
    }
    if (u->full) {
        /* The area under a closed overlay or a new layout: everything redraws once. */
        if (is_wintouched(stdscr))
            wnoutrefresh(stdscr);
        for (int i = 0; i < PANE_COUNT; i++)
            u->panes[i].dirty = true;
    }
    for (int i = 0; i < PANE_COUNT; i++) {
        pane *p = &u->panes[i];
        if (!p->shown || !p->w)
            continue;
        uint64_t sig = pane_sig(u, (enum pane_id)i);
        if (!p->dirty && sig == p->stamp)
            continue;
        werase(p->w);
        switch (i) {
        case PANE_WATCH: ui_watch_draw(u, p); break;
        case PANE_CHART: ui_chart_draw(u, p); break;
        case PANE_BOOK: ui_book_draw(u, p); break;
        case PANE_TAPE: ui_tape_draw(u, p); break;
        case PANE_EQUITY:
        case PANE_HISTORY:
        case PANE_RISK: ui_trading_draw(u, p, (enum pane_id)i); break;
        case PANE_BACKTEST:
        case PANE_BT_REPORT: ui_backtest_draw(u, p, (enum pane_id)i); break;
        default: ui_system_draw(u, p, (enum pane_id)i); break;
        }
        p->stamp = sig;
        p->dirty = false;
        if (u->ov != OV_NONE)
            touchwin(p->w);
        wnoutrefresh(p->w);
    }
    if (u->status) {
        werase(u->status);
        ui_status_draw(u);
        wnoutrefresh(u->status);
    }
    if (u->keys) {
        werase(u->keys);
        ui_keys_draw(u);
        wnoutrefresh(u->keys);
    }
    if (u->ov == OV_HELP)
        ui_help_draw(u);
    else if (u->ov == OV_QUIT)
        ui_quit_draw(u);
    else if (u->ov == OV_PICKER)
        ui_picker_draw(u);
    else if (u->ov == OV_TICKET)
        ui_ticket_draw(u);
    else if (u->ov == OV_SETTINGS)
        ui_settings_draw(u);
    else if (u->ov == OV_SYMBOL)
        ui_symform_draw(u);
    doupdate();
    u->full = false;
    if (u->tty)
        ui_tty_pump(u->tty);
    return true;
}

int ui_draw(ui *u)
{
    int64_t now = loop_mono_ms();
    app *a = u->a;
    uint64_t sig = global_sig(u, now);
    int flash_ms = -1;
    if (flash_on(a, now))
        flash_ms = (int)K_MIN(a->flash_until_ms - now + 1, 60000);
    if (u->tty && ui_tty_pump(u->tty) > 0) /* a frame still going out: try again soon */
        return UI_RETRY_MS;
    bool pending = u->full || sig != u->sig || !u->layout_valid;
    if (!pending)
        return flash_ms;
    int fps = a->cfg.ui_fps > 0 ? a->cfg.ui_fps : 30;
    int64_t budget = 1000 / fps;
    int64_t since = now - u->last_frame_ms;
    if (since < budget)
        return (int)(budget - since);
    if (!ui_frame(u))
        return UI_RETRY_MS;
    u->sig = sig;
    u->last_frame_ms = now;
    return flash_ms;
}

void ui_draw_now(ui *u, bool full)
{
    int64_t now = loop_mono_ms();
    if (full)
        u->full = true;
    if (!ui_frame(u))
        return;
    u->sig = global_sig(u, now);
    u->last_frame_ms = now;
}

void ui_feed_key(ui *u, int key)
{
    set_term(u->scr);
    ui_key(u, key);
}

void ui_feed_mouse(ui *u, int button, int y, int x, bool press)
{
    set_term(u->scr);
    mouse_event(u, button, y, x, press);
}
