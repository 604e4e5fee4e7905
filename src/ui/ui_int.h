/* Internal to src/ui: the ui struct shared by the screen code (ui.c), the drawing helpers
 * (draw.c) and the panes (pane_*.c). Nothing outside src/ui includes this. */
#ifndef KESTREL_UI_INT_H
#define KESTREL_UI_INT_H
#ifndef NCURSES_WIDECHAR
#define NCURSES_WIDECHAR 1
#endif
#include <curses.h>
#include <stdarg.h>
#include <stdio.h>

#include "kestrel/order.h"
#include "kestrel/theme.h"
#include "kestrel/ui.h"

enum pane_id {
    PANE_WATCH = 0, PANE_CHART, PANE_BOOK, PANE_TAPE,     /* 1 Market */
    PANE_TRADING,                                         /* 2 Trading: account, orders */
    PANE_EQUITY, PANE_HISTORY, PANE_RISK,                 /* 2 Trading (pane_trading.c) */
    PANE_AI,                                              /* 3 AI (placeholder) */
    PANE_CONN, PANE_STORE, PANE_COUNTERS, PANE_LOG,       /* 4 System */
    PANE_BACKTEST, PANE_BT_REPORT,                        /* 5 Backtests (pane_backtest.c) */
    PANE_COUNT
};
enum screen_id { SCR_MARKET = 0, SCR_TRADING, SCR_AI, SCR_SYSTEM, SCR_BACKTEST, SCR_COUNT };
typedef struct ui_rect {
    int y, x, h, w;
} ui_rect;

/* A list (htop's Panel): n items, a selection and the first row shown. The owner draws the rows
 * it is told to (ui_list_fit) and hands keys, clicks and the wheel to it. */
typedef struct ui_list {
    uint32_t n, sel, top;
    int rows;       /* rows shown in the last frame */
    bool scroll_only; /* no selection: keys move the view (top) itself (the tape) */
} ui_list;
enum overlay { OV_NONE = 0, OV_HELP, OV_QUIT, OV_PICKER, OV_TICKET, OV_SETTINGS, OV_SYMBOL };

/* The settings form (settings_form.c): the selected field, the text being typed, the answer. */
typedef struct ui_setform {
    int sel;
    bool editing;
    bool confirm_write; /* w: "write N values to FILE?" is asked */
    char edit[48];
    char msg[240];
    bool msg_err;
} ui_setform;

/* The watchlist prompts (watch_form.c): `a` types a symbol, `d` asks before removing one. */
typedef struct ui_symform {
    bool removing;   /* d: "remove SYMBOL?" */
    bool answered;   /* d was refused: the reason is shown, any key closes */
    char edit[48];   /* a: [venue:]SYMBOL being typed */
    char target[48]; /* d: the symbol asked about */
    char msg[240];
    bool msg_err;
} ui_symform;

/* The order ticket's fields (ticket.c): side, type, and the texts of qty, price, stop, SL, TP. */
typedef struct ui_ticket {
    int field;
    bool confirm; /* Enter pressed once: the review, Enter / y sends */
    enum side side;
    enum order_type type;
    char text[5][24];
} ui_ticket;

struct ta_chart;
typedef struct ui_tty ui_tty;
#define IND_MAX_OUT 64 /* indicator outputs drawn */
#define IND_MAX_OSC 6  /* oscillator sub-panes under the chart (as many as fit) */

/* One frame's view of the display indicators (pane_ind.c). */
typedef struct ind_ctx {
    const struct ta_chart *c; /* NULL: no indicators */
    uint32_t hlen, nout;
    int64_t last_t, tfms, peek_t;
    bool has_peek;
    double peek[IND_MAX_OUT];
} ind_ctx;

/* Glyphs: one Unicode and one ASCII form each; the UI picks one set at start. */
enum glyph {
    G_BODY,      /* candle body, full cell */
    G_BODY_TOP,  /* body in the upper half of the cell */
    G_BODY_BOT,  /* body in the lower half */
    G_HOLLOW,    /* rising body on a terminal without colour */
    G_WICK,      /* wick through the cell */
    G_WICK_TOP,  /* wick in the upper half only */
    G_WICK_BOT,  /* wick in the lower half only */
    G_V1, G_V2, G_V3, G_V4, G_V5, G_V6, G_V7, G_V8, /* volume bar eighths (G_V8 = full) */
    G_CURSOR,    /* chart cursor on the time axis */
    G_LASTPX,    /* last price marker on the price axis */
    G_HLINE,     /* spread separator */
    G_FOCUS,     /* focused symbol marker in the watchlist */
    G_TICK,      /* time axis tick */
    G_LINE_LO,   /* indicator line, low / middle / high third of the cell */
    G_LINE_MID,
    G_LINE_HI,
    G_DOT,       /* indicator dots (SAR) */
    G_DOTLINE,   /* reference level / separator */
    G_COUNT
};

typedef struct pane {
    WINDOW *w;
    int y, x, h, wd;
    bool shown;
    bool dirty;     /* must redraw regardless of the stamp */
    uint64_t stamp; /* signature of what it showed last */
} pane;

struct ui {
    app *a;
    SCREEN *scr;
    FILE *out, *in;
    bool own_term; /* ui_open on the process's terminal (restore on close) */
    ui_tty *tty;   /* the non-blocking output path (tty.c); NULL: curses writes to `out` */
    uint64_t frames_dropped; /* frames not drawn because the terminal had not taken the last */

    bool utf8;
    bool color;    /* colour pairs in use */
    int colors;    /* 0, 8, 256 */
    bool hollow_up; /* up and down share a colour: draw rising candle bodies hollow */
    attr_t role_attr[ROLE_COUNT];
    short role_pair[ROLE_COUNT];
    /* derived: a side's price colour over its depth bar (pair, attrs) */
    short pair_bid_on_depth, pair_ask_on_depth;
    attr_t attr_bid_on_depth, attr_ask_on_depth;
    theme th;
    cchar_t glyph[G_COUNT];

    int rows, cols;
    bool too_small;
    bool layout_valid;
    pane panes[PANE_COUNT];
    WINDOW *status, *keys, *ovw;

    enum screen_id screen;
    enum pane_id scr_focus[SCR_COUNT]; /* each screen keeps its focused pane */
    int hidden;                        /* panes of the screen that did not fit */
    enum pane_id hidden_ids[PANE_COUNT];
    enum pane_id cycle[PANE_COUNT];    /* z with panes hidden: the focused pane, then those */
    int ncycle, cycle_i;
    bool mouse;                        /* SGR mouse reports on */

    enum pane_id focus;
    bool zoom;
    enum overlay ov;

    /* watchlist */
    ui_list wl;
    int wl_y0, wl_per; /* first list row in the pane, rows per item (for clicks) */
    /* chart: follow the newest bar, or a cursor anchored by time */
    bool ch_follow;
    int64_t ch_cursor_ms, ch_right_ms;
    int ch_nb; /* bars visible in the last frame */
    /* tape scroll (trades from the newest); scrolled back, the rows stay put: the offset grows
     * with the trades that arrived since (tape_seen) */
    ui_list tape; /* top = trades from the newest */
    uint64_t tape_seen;
    /* Trading screen: the open orders list (C cancels the selected one) */
    ui_list tr_orders;
    ui_list tr_hist; /* the trade history (newest first) */
    ui_list tr_pos;  /* the open positions table (screen 2's account pane) */
    ui_ticket tk; /* the order ticket overlay (o) */
    ui_setform sf; /* the settings form (e) */
    ui_symform wf; /* add / remove a watchlist symbol (a / d) */
    /* Backtests screen: the stored runs, and the report's scroll (lines from the top) */
    ui_list bt_list, bt_rep;
    int bt_y0; /* first run row in the list pane (for clicks) */
    /* AI screen: the signals list (0 = the newest); off the newest, the selection stays on its
     * signal as new ones arrive (ai_newest: the newest id in the last frame, of ai_engine) */
    ui_list ai_list;
    uint64_t ai_newest;
    const void *ai_engine;
    int ai_y0; /* first list row in the pane (for clicks; two rows per signal) */

    /* indicator picker (pane_ind.c) */
    uint32_t pk_sel, pk_top, pk_n;
    bool pk_on[128];
    bool pk_editing;   /* t: the selected row's spec is being typed */
    bool pk_confirm;   /* x: "clear every indicator?" is asked */
    char pk_edit[64];  /* its text (TA_SPEC_MAX) */

    /* redraw control */
    uint64_t ui_changes; /* bumped by every key that changes what is shown */
    uint64_t sig;        /* global signature at the last frame */
    bool full;           /* everything must redraw */
    int64_t last_frame_ms;
    uint64_t frames;

    char buf[1024]; /* scratch for formatting (one frame at a time) */
};

/* tty.c: ncurses writes into a pipe; the pipe goes to the terminal without ever blocking */
ui_tty *ui_tty_open(int in_fd, int out_fd, char *err, size_t errlen);
FILE *ui_tty_file(ui_tty *t);           /* the FILE to give newterm() */
bool ui_tty_size(const ui_tty *t, int *rows, int *cols);
size_t ui_tty_pump(ui_tty *t);          /* writes what the terminal takes; returns bytes left */
bool ui_tty_take_lost(ui_tty *t);       /* output was discarded since the last call */
void ui_tty_close(ui_tty *t);           /* after endwin(): last bytes (bounded), modes restored */

/* layout.c: the screens and their layout trees */
const char *ui_screen_name(enum screen_id s);
enum pane_id ui_screen_first_focus(enum screen_id s);
int ui_screen_panes(enum screen_id s, enum pane_id *out); /* in tree order */
/* Fits screen s into h x w with `focus` kept: rects and shown per pane; returns how many of
 * the screen's panes were dropped. */
int ui_layout_solve(enum screen_id s, int h, int w, enum pane_id focus, ui_rect *rects,
                    bool *shown);
const char *ui_pane_name(enum pane_id p);

/* list.c: the list widget */
/* Keeps sel and top valid for n items in `rows` rows (sel visible). */
void ui_list_fit(ui_list *l, uint32_t n, int rows);
/* Up/Down/j/k, PgUp/PgDn, Home/End: true when the key was the list's. */
bool ui_list_key(ui_list *l, int key);
void ui_list_scroll(ui_list *l, int delta); /* the wheel: moves the selection by delta */
bool ui_list_click(ui_list *l, int row);    /* a click on shown row `row`: selects it */

#define UI_WATCH_MAX 4096 /* watchlist rows (market.max_symbols is at most 4096) */

/* the Market screen's trading strip at the foot of the watchlist (pane_strip.c) */
#define UI_STRIP_ROWS 3 /* a rule, positions and day P&L, the latest signal */
typedef struct ui_strip {
    uint32_t positions; /* open (non-zero, non-dust) */
    kdec day_pnl;       /* USDT, net of fees */
    bool has_signal;
    int64_t time_ms;
    const char *action; /* "BUY" "HOLD" "SELL" */
    double confidence;
    char symbol[KSYM_MAX + 8];
} ui_strip;
/* What the strip shows, from the runner (false: trading is not running, no strip). */
bool ui_strip_model(const app *a, ui_strip *out);
void ui_strip_draw(ui *u, WINDOW *w, int y, int iw); /* rows y .. y + UI_STRIP_ROWS - 1 */
uint64_t ui_strip_stamp(const app *a);               /* changes when what it shows does */

/* panes of the System screen and the placeholders (pane_system.c) */
void ui_system_draw(ui *u, pane *p, enum pane_id id);
/* screen 2's equity / P&L chart, trade history and risk panes (pane_trading.c) */
void ui_trading_draw(ui *u, pane *p, enum pane_id id);
/* screen 5: the stored runs and the selected report (pane_backtest.c); Enter on the list */
void ui_backtest_draw(ui *u, pane *p, enum pane_id id);
void ui_backtest_select(ui *u);
/* screen 3's AI pane, inside its box (pane_ai.c) */
void ui_ai_draw(ui *u, WINDOW *w, int ih, int iw);

/* ui.c */
attr_t ui_attr(const ui *u, enum theme_role r);
void ui_role(ui *u, WINDOW *w, enum theme_role r);
market_sym *ui_focus_sym(ui *u);
market_sym *ui_view_sym(ui *u); /* the focus, or its backup while failed over */
void ui_layout(ui *u); /* windows from size, screen, zoom and focus */
/* The screen's actions, for the command handlers (ui_cmd.c) and the mouse: */
void ui_set_focus_pane(ui *u, enum pane_id p); /* focus a pane (a hidden one is shown) */
void ui_focus_step(ui *u, int dir);            /* +1/-1: next/previous pane of the screen */
void ui_zoom_cycle(ui *u);                     /* zoom, or cycle the hidden panes; restore */
void ui_set_screen(ui *u, enum screen_id s);   /* each screen keeps its own focus */
void ui_set_mouse(ui *u, bool on);             /* SGR mouse reports on / off */

/* draw.c: text and glyph helpers. All clip to the window; none fail on tiny windows. */
int ui_put(ui *u, WINDOW *w, int y, int x, int maxw, enum theme_role r, const char *s);
int ui_putf(ui *u, WINDOW *w, int y, int x, int maxw, enum theme_role r, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));
/* Like ui_put but with extra curses attributes OR-ed in (e.g. A_DIM). */
int ui_put_attr(ui *u, WINDOW *w, int y, int x, int maxw, enum theme_role r, attr_t extra,
                const char *s);
void ui_glyph(ui *u, WINDOW *w, int y, int x, enum glyph g);
void ui_fill(ui *u, WINDOW *w, int y, int x, int n, enum theme_role r);
void ui_frame_box(ui *u, WINDOW *w, bool focused, const char *title, enum theme_role title_role);
int ui_text_cols(const char *s); /* display columns of a UTF-8 string (all our glyphs: 1) */
/* The name a symbol is shown by: USD-M contracts carry " UM", so BTCUSDT on spot and on USD-M can
 * be told apart wherever both are watched. Returns buf. */
const char *ui_sym_label(const market_sym *s, char *buf, size_t cap);

/* What a book's state is called on screen: synced / syncing / RESYNCING / empty (LIVE names the
 * live data source, not a book). */
const char *ui_book_word(enum book_state st);
/* The base and quote assets of a symbol name by its quote suffix (BTCUSDT: BTC, USDT); both ""
 * when no known quote ends it. For the units in column headers. */
void ui_sym_assets(const char *sym, char *base, size_t bcap, char *quote, size_t qcap);
/* A number drawn whole or not at all: s when it fits maxw columns, else the ellipsis (one
 * column; "~" in ASCII). Returns the columns written. */
int ui_put_whole(ui *u, WINDOW *w, int y, int x, int maxw, enum theme_role r, const char *s);
const char *ui_ellipsis(const ui *u); /* "…", or "~" without UTF-8 */

/* Number formatting for narrow columns. */
int ui_fmt_px(char *buf, size_t cap, kdec v, int decimals);
int ui_fmt_num(char *buf, size_t cap, double v, int decimals, int width);
/* An exact quantity in at most `width` columns: its digits with up to `decimals` places, fewer
 * places (rounded half away from zero, in integers) when they do not fit, then k/M/G/T. */
int ui_fmt_qty(char *buf, size_t cap, kdec v, int decimals, int width);
/* style: 0 HH:MM:SS, 1 HH:MM:SS.mmm, 2 HH:MM, 3 YYYY-MM-DD, 4 MM-DD, 5 YYYY-MM-DD HH:MM:SS */
int ui_fmt_time(char *buf, size_t cap, int64_t ms, int style);

/* panes */
void ui_status_draw(ui *u);
void ui_keys_draw(ui *u);
void ui_watch_draw(ui *u, pane *p);
void ui_chart_draw(ui *u, pane *p);
void ui_book_draw(ui *u, pane *p);
void ui_tape_draw(ui *u, pane *p);
void ui_help_draw(ui *u);
void ui_quit_draw(ui *u);

/* chart navigation (pane_chart.c) */
void ui_chart_key(ui *u, int key);

/* overlays (pane_status.c): a centred window of at most h x w (reused between frames), erased,
 * filled with the overlay colour and framed with title; NULL when the screen has no room.
 * ui_overlay_show() queues it for the frame's doupdate(). */
WINDOW *ui_overlay_open(ui *u, int h, int w, const char *title);
void ui_overlay_show(WINDOW *w);

/* indicators (pane_ind.c) */
void ui_ind_begin(const app *a, ind_ctx *ic, market_sym *s, enum tf tf);
/* Output k's value drawn at the bar opening at t (the forming bar's is peeked; displaced
 * outputs come from earlier/later bars), and m bars after the newest one; NaN when none. */
double ui_ind_value(const ind_ctx *ic, uint32_t k, int64_t t);
double ui_ind_value_ahead(const ind_ctx *ic, uint32_t k, int m);
int ui_ind_ahead(const ind_ctx *ic); /* bars after the newest that overlays reach (Ichimoku) */
void ui_ind_range(const ind_ctx *ic, const candle *const *vis, int n, int ahead, double *lo,
                  double *hi);
void ui_ind_draw_overlays(ui *u, WINDOW *w, const ind_ctx *ic, const candle *const *vis, int n,
                          int ahead, int bw, int top, int ch, double lo, double hi);
int ui_ind_legend(ui *u, WINDOW *w, const ind_ctx *ic, int y, int x, int maxw, int shown_osc);
int ui_ind_osc_list(const ind_ctx *ic, uint32_t *inst_out, int cap);
void ui_ind_draw_osc(ui *u, WINDOW *w, const ind_ctx *ic, uint32_t inst,
                     const candle *const *vis, int n, int bw, int y0, int rows, int ax, int iw);
/* the order ticket (ticket.c) */
void ui_ticket_open(ui *u);
void ui_ticket_key(ui *u, int ch);
void ui_ticket_draw(ui *u);

/* the settings form (settings_form.c) */
void ui_settings_open(ui *u);
void ui_settings_key(ui *u, int ch);
void ui_settings_draw(ui *u);
/* add / remove a watchlist symbol (watch_form.c) */
void ui_symform_open(ui *u, bool removing, const char *symbol);
void ui_symform_key(ui *u, int ch);
void ui_symform_draw(ui *u);

void ui_picker_open(ui *u);
void ui_picker_key(ui *u, int ch);
void ui_picker_draw(ui *u);

#endif
