/* The terminal UI on the real market model fed from the bundled real replay, drawn into a curses
 * screen whose output goes to /dev/null (newterm), read back from curscr. Checks the panes and
 * their content (final book of the capture), every size from 1x1 to 300x100 (no crash, "too
 * small" below 20x6, the focused pane alone below 60x20, lowest-priority panes dropped and
 * counted from 60x20; OHLC and watchlist prices whole at every size), ASCII-only output with
 * ui.ascii, keys (help, zoom and z cycling, focus, screens 1-5 and F-keys, timeframe, chart
 * scroll, watchlist select, quit confirmation), the mouse, the tape anchored while scrolled
 * back, theme fallback, the app's indicators on the chart and the picker (persisted by the app
 * in the store), and the frame cap. */
#include "check.h"

#include "kestrel/app.h"
#include "kestrel/cmd.h"
#include "kestrel/decimal.h"
#include "kestrel/market.h"
#include "kestrel/replay.h"
#include "kestrel/store.h"
#include "kestrel/ta.h"
#include "kestrel/ui.h"

#include "ui_screen.h"
#include "kestrel/ingest.h"

#include <cjson/cJSON.h>
#include <locale.h>
#include <unistd.h>
#include <wchar.h>

static char screen[64 * 1024];
static bool screen_altcharset;
static bool screen_high;

/* Reads curscr into `screen` as UTF-8 lines. */
static void grab(void)
{
    ui_screen_grab(screen, sizeof(screen), &screen_altcharset, &screen_high);
}

static bool shows(const char *s)
{
    return strstr(screen, s) != NULL;
}

static void draw(ui *u)
{
    ui_draw_now(u, true);
    grab();
}

static app A;

/* The app's own data path (app_feed_replay: the ingest pipeline and the subscribers). */
static int feed(replay *r, uint64_t max)
{
    return (int)app_feed_replay(&A, r, max);
}

/* The too-small message drawn at width w (the longest that fits). */
/* Runs one command line on the screen u as `kestrel ctl` would (the same table as the keys);
 * the response (or the error) as one JSON line in out. */
static cmd_result run_cmd(ui *u, const char *line, char *out, size_t cap)
{
    char buf[256];
    const char *argv[1 + CMD_MAX_ARGS];
    int argc = 0;
    snprintf(buf, sizeof buf, "%s", line);
    char *save = NULL;
    for (char *t = strtok_r(buf, " ", &save); t && argc < CMD_MAX_ARGS;
         t = strtok_r(NULL, " ", &save))
        argv[argc++] = t;
    cmd_ctx c = {.a = &A, .ui = u, .origin = CMD_FROM_INTERNAL, .argc = argc, .argv = argv};
    cmd_result r = cmd_run(&c);
    char *txt = c.out ? cJSON_PrintUnformatted(c.out) : NULL;
    snprintf(out, cap, "%s", r == CMD_OK ? (txt ? txt : "") : c.err);
    cJSON_free(txt);
    cJSON_Delete(c.out);
    return r;
}

static bool has(const char *out, const char *s)
{
    if (strstr(out, s))
        return true;
    fprintf(stderr, "  wanted %s in %s\n", s, out);
    return false;
}

static const char *small_msg(int w)
{
    static const char *const msgs[] = {"terminal too small (20x6 needed)", "terminal too small",
                                       "too small", "small", "!"};
    for (size_t i = 0; i < K_ARRAY_LEN(msgs); i++)
        if ((int)strlen(msgs[i]) <= w)
            return msgs[i];
    return "!";
}

/* What the screen must show at h x w (focus on the chart, Market screen): NULL when it does. */
static const char *expect_size(int h, int w)
{
    if (w < 20 || h < 6) {
        if (!shows(small_msg(w)))
            return "no fitting too-small message";
        if (shows("REPLAY"))
            return "panes drawn below 20x6";
        return NULL;
    }
    if (!shows("BTCUSDT 1s") || !shows("REPLAY"))
        return "the chart (focused) or the status bar is missing";
    if (w < 60 || h < 20) {
        if (shows("Watchlist") || shows("Book BTCUSDT"))
            return "below 60x20 the focused pane must be alone";
        if (w >= 50 && !shows("+3 hidden: z to cycle"))
            return "the hidden panes are not counted";
        return NULL;
    }
    if (w >= 76 && !(shows("Watchlist") && shows("Book BTCUSDT") && shows("Trades BTCUSDT")))
        return "from 76 columns every Market pane fits";
    if (w < 76 && (!shows("Book BTCUSDT") || !shows("hidden: z to cycle")))
        return "60..75 columns: chart and book, the rest counted as hidden";
    return NULL;
}

/* Numbers never lie: every "O/H/L/C value" on the chart's info line is the forming (newest) bar's
 * exact value, and every price after a watchlist symbol is its exact last price. Returns the
 * mismatches; counts the numbers read in *seen. */
static int scan_numbers(int *seen)
{
    int bad = 0;
    market_sym *s = market_count(A.market) ? market_at(A.market, A.focus) : NULL;
    if (!s)
        return 0;
    const candle *f = s->series[A.chart_tf] ? candles_forming(s->series[A.chart_tf]) : NULL;
    char want[4][40];
    if (f) {
        kdec v[4] = {f->o, f->h, f->l, f->c};
        for (int i = 0; i < 4; i++)
            decimal_format(v[i], s->px_decimals, want[i], sizeof want[i]);
    }
    for (char *line = screen; line && *line;) {
        char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        char row[2048];
        snprintf(row, sizeof row, "%.*s", (int)K_MIN(len, sizeof row - 1), line);
        const char *lab[4] = {"* O ", " H ", " L ", " C "};
        for (int i = 0; f && i < 4; i++) {
            char *p = strstr(row, lab[i]);
            if (!p || !strstr(row, "* O "))
                continue;
            p += strlen(lab[i]);
            char tok[64];
            int n = 0;
            while (p[n] && p[n] != ' ' && n < 63 && (unsigned char)p[n] < 0x80)
                n++;
            snprintf(tok, sizeof tok, "%.*s", n, p);
            (*seen)++;
            if (strcmp(tok, want[i]) != 0) {
                fprintf(stderr, "OHLC field %d shows '%s', the bar has %s\n", i, tok, want[i]);
                bad++;
            }
        }
        for (uint32_t k = 0; k < market_count(A.market); k++) {
            market_sym *m = market_at(A.market, k);
            char key[40], px[40];
            snprintf(key, sizeof key, "%s ", m->name);
            char *p = strstr(row, key);
            if (!p || m->last_px <= 0)
                continue;
            p += strlen(key);
            while (*p == ' ')
                p++;
            if (!(*p >= '0' && *p <= '9'))
                continue;
            char tok[64];
            int n = 0;
            while (p[n] && p[n] != ' ' && n < 63 && (unsigned char)p[n] < 0x80)
                n++;
            snprintf(tok, sizeof tok, "%.*s", n, p);
            if (!strchr(tok, '.'))
                continue; /* "1s" of a chart title */
            decimal_format(m->last_px, m->px_decimals, px, sizeof px);
            (*seen)++;
            if (strcmp(tok, px) != 0) {
                fprintf(stderr, "%s shows '%s', its last price is %s\n", m->name, tok, px);
                bad++;
            }
        }
        line = nl ? nl + 1 : NULL;
    }
    return bad;
}

int main(void)
{
    setlocale(LC_ALL, "C.UTF-8");
    char err[512];
    char dir[] = "/tmp/kestrel-ui-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);

    config_defaults(&A.cfg);
    snprintf(A.cfg.db_path, sizeof(A.cfg.db_path), "%s/k.db", dir);
    A.cfg.replay_count = 4;
    A.cfg.ui_fps = 30;
    A.speed = 1.0;
    A.chart_tf = TF_1S;
    A.source = APP_SOURCE_REPLAY;
    CHECK_INT(app_model_open(&A), K_OK);
    CHECK(A.market != NULL);

    const char *specs[] = {"data/replay/btcusdt_20240808.gz", "data/replay/ethusdt_20240808.gz",
                           "data/replay/btcusdt_20240809.gz", "data/replay/ethusdt_20240809.gz"};
    replay *r = NULL;
    CHECK_INT(replay_open(&r, specs, 4, err, sizeof(err)), K_OK);
    if (!r) {
        fprintf(stderr, "%s\n", err);
        CHECK_DONE();
    }

    /* the real store: the app persists the indicator choice there */
    char path[600];
    snprintf(path, sizeof(path), "%s/k.db", dir);
    CHECK_INT(store_open(&A.store, path, NULL, err, sizeof(err)), K_OK);

    FILE *out = fopen("/dev/null", "w");
    FILE *in = fopen("/dev/null", "r");
    ui *u = ui_open_term(&A, out, in, "xterm-256color", 40, 120, err, sizeof(err));
    CHECK(u != NULL);
    if (!u) {
        fprintf(stderr, "%s\n", err);
        CHECK_DONE();
    }

    /* empty market: no crash, panes drawn */
    draw(u);
    CHECK(shows("REPLAY"));
    CHECK(shows("PAPER"));

    /* first part of the replay: both symbols, books live; indicators attached by the app */
    feed(r, 40000);
    CHECK_INT(app_set_indicators(&A, "sma_20,rsi_14", err, sizeof(err)), K_OK);
    draw(u);
    CHECK(shows("Watchlist"));
    CHECK(shows("BTCUSDT"));
    CHECK(shows("ETHUSDT"));
    CHECK(shows("Book BTCUSDT"));
    CHECK(shows("Trades BTCUSDT"));
    CHECK(shows("BTCUSDT 1s"));
    CHECK(shows("spread"));
    CHECK(shows("UTC"));
    CHECK(shows("sma_20"));   /* overlay legend from the saved choice */
    CHECK(shows("rsi_14"));   /* oscillator sub-pane label */
    CHECK(shows("\xe2\x94\x8c")); /* UTF-8 box drawing (WACS) */

    /* every size: below 20x6 a too-small message that fits, below 60x20 the focused pane
     * alone (the others counted as hidden), from 60x20 the Market layout with the
     * lowest-priority panes dropped first; every drawn OHLC and watchlist price is whole */
    static const int sizes[][2] = {{1, 1},   {1, 80},  {2, 2},   {3, 10},  {5, 19},  {6, 20},
                                   {10, 40}, {19, 59}, {20, 60}, {23, 80}, {24, 79}, {24, 80},
                                   {25, 81}, {30, 100}, {40, 120}, {60, 200}, {24, 200},
                                   {60, 80}, {100, 300}, {5, 300}, {23, 160}, {48, 79},
                                   {70, 250}};
    int size_ok = 0, size_n = 0, nums_bad = 0, nums_seen = 0;
    for (size_t i = 0; i < K_ARRAY_LEN(sizes); i++) {
        ui_resize_to(u, sizes[i][0], sizes[i][1]);
        draw(u);
        size_n++;
        const char *why = expect_size(sizes[i][0], sizes[i][1]);
        if (!why)
            size_ok++;
        else
            fprintf(stderr, "size %dx%d: %s\n%s", sizes[i][1], sizes[i][0], why, screen);
        nums_bad += scan_numbers(&nums_seen);
    }
    CHECK_INT(size_ok, size_n);
    /* a sweep of odd sizes by the same rules */
    int sweep_n = 0, sweep_ok = 0;
    for (int h = 1; h <= 61; h += 3)
        for (int w = 1; w <= 211; w += 7) {
            ui_resize_to(u, h, w);
            draw(u);
            sweep_n++;
            const char *why = expect_size(h, w);
            if (!why)
                sweep_ok++;
            else
                fprintf(stderr, "sweep %dx%d: %s\n%s", w, h, why, screen);
            nums_bad += scan_numbers(&nums_seen);
        }
    CHECK_INT(sweep_ok, sweep_n);
    CHECK_INT(nums_bad, 0);
    CHECK(nums_seen > 100); /* the scan did read numbers */
    ui_resize_to(u, 40, 120);
    draw(u);
    CHECK(shows("Watchlist"));

    /* keys */
    ui_feed_key(u, '?');
    draw(u);
    CHECK(shows("this help"));
    CHECK(shows("Shift-Tab"));
    CHECK(shows("not yet"));
    ui_feed_key(u, 27);
    draw(u);
    CHECK(!shows("this help"));
    CHECK(shows("Watchlist"));

    CHECK(shows("[chart]"));
    ui_feed_key(u, '\t');
    draw(u);
    CHECK(shows("[book]"));
    ui_feed_key(u, KEY_BTAB);
    draw(u);
    CHECK(shows("[chart]"));

    ui_feed_key(u, 'z');
    draw(u);
    CHECK(!shows("Watchlist"));
    CHECK(shows("BTCUSDT 1s"));
    ui_feed_key(u, 'z');
    draw(u);
    CHECK(shows("Watchlist"));

    /* screens: number keys and F2..F6; each keeps its focus; placeholders say what comes */
    ui_feed_key(u, '4');
    draw(u);
    CHECK(shows("Counters") && shows("Store") && shows("Log") && shows("Connections"));
    CHECK(shows("rows written"));
    CHECK(shows("[counters]"));
    CHECK(!shows("Watchlist"));
    {
        char want[64];
        snprintf(want, sizeof want, "%llu", (unsigned long long)A.messages);
        CHECK(shows(want)); /* the messages counter, whole */
    }
    ui_feed_key(u, '\t');
    draw(u);
    CHECK(shows("[log]"));
    ui_feed_key(u, '2');
    draw(u);
    CHECK(shows("Trading is not running")); /* this test's app has no store, so no runner */
    ui_feed_key(u, KEY_F(4));
    draw(u);
    CHECK(shows("The signal engine is not running")); /* no runner: nothing invented */
    ui_feed_key(u, KEY_F(6));
    draw(u);
    CHECK(shows("source BACKTEST") && shows("Report")); /* no store here: nothing to list */
    CHECK(shows("no database open"));
    ui_feed_key(u, KEY_F(5));
    draw(u);
    CHECK(shows("[log]")); /* the System screen kept its focus */
    ui_feed_key(u, KEY_F(2));
    draw(u);
    CHECK(shows("Watchlist") && shows("[chart]"));
    ui_feed_key(u, KEY_F(1));
    draw(u);
    CHECK(shows("this help"));
    CHECK(shows("Legend:") && shows("imb20") && shows("chg sess"));
    ui_feed_key(u, KEY_F(1));
    draw(u);
    CHECK(!shows("this help"));

    /* no room: at 60x20 the lowest-priority panes go (tape, then watchlist) and are counted;
     * z cycles the focused pane, then each hidden one, then the layout; Tab onto a hidden
     * pane shows it (the focus is never dropped) */
    ui_resize_to(u, 20, 60);
    draw(u);
    CHECK(shows("+2 hidden: z to cycle"));
    CHECK(shows("Book BTCUSDT") && !shows("Trades BTCUSDT") && !shows("Watchlist"));
    ui_feed_key(u, 'z');
    draw(u);
    CHECK(shows("BTCUSDT 1s") && !shows("Book BTCUSDT"));
    ui_feed_key(u, 'z');
    draw(u);
    CHECK(shows("Watchlist") && !shows("BTCUSDT 1s"));
    ui_feed_key(u, 'z');
    draw(u);
    CHECK(shows("Trades BTCUSDT") && !shows("Watchlist"));
    ui_feed_key(u, 'z');
    draw(u);
    CHECK(shows("BTCUSDT 1s") && shows("Book BTCUSDT") && shows("[chart]"));
    ui_feed_key(u, '\t'); /* book */
    ui_feed_key(u, '\t'); /* tape: hidden until focused */
    draw(u);
    CHECK(shows("Trades BTCUSDT") && shows("[trades]"));
    ui_feed_key(u, KEY_BTAB);
    ui_feed_key(u, KEY_BTAB); /* the chart again */
    ui_resize_to(u, 40, 120);
    draw(u);
    CHECK(!shows("hidden"));

    /* mouse: a click focuses the pane under it; on the watchlist it selects the row, a second
     * click on the selected row makes it the focused symbol; the wheel scrolls the tape */
    {
        int wy = -1, wx = -1, ty = -1, tx = -1;
        for (int y = 0; y < 40 && (wy < 0 || ty < 0); y++) {
            const char *line = screen;
            for (int k = 0; k < y && line; k++) {
                line = strchr(line, '\n');
                line = line ? line + 1 : NULL;
            }
            if (!line)
                break;
            const char *e = strchr(line, '\n');
            size_t len = e ? (size_t)(e - line) : strlen(line);
            const char *p = strstr(line, "ETHUSDT");
            if (wy < 0 && p && (size_t)(p - line) < len && (size_t)(p - line) < 40) {
                wy = y;
                wx = 5;
            }
            p = strstr(line, "Trades BTCUSDT");
            if (ty < 0 && p && (size_t)(p - line) < len) {
                ty = y + 3;
                tx = 100;
            }
        }
        CHECK(wy > 0 && ty > 0);
        ui_feed_mouse(u, 0, wy, wx, true);
        draw(u);
        CHECK(shows("[watchlist]"));
        CHECK_INT(A.focus, 0);
        ui_feed_mouse(u, 0, wy, wx, true);
        draw(u);
        CHECK_INT(A.focus, 1);
        CHECK(shows("Book ETHUSDT"));
        ui_feed_mouse(u, 0, wy - 2, wx, true); /* BTCUSDT, two rows per item when narrow */
        ui_feed_mouse(u, 0, wy - 2, wx, true);
        draw(u);
        CHECK_INT(A.focus, 0);
        ui_feed_mouse(u, 65, ty, tx, true); /* wheel down on the tape: older trades */
        draw(u);
        CHECK(shows("+3 newer"));
        /* scrolled back, new trades do not move the rows: the offset grows with them */
        market_sym *bs = market_at(A.market, 0);
        uint64_t t0 = bs->trades;
        for (int k = 0; k < 100 && bs->trades - t0 < 20; k++) /* a few trades, fewer than the */
            feed(r, 20);                                       /* ring holds */
        draw(u);
        uint64_t grew = bs->trades - t0;
        char more[32];
        snprintf(more, sizeof more, "+%llu newer", (unsigned long long)(3 + grew));
        CHECK(grew > 0);
        if (!shows(more)) {
            const char *p = strstr(screen, "newer");
            fprintf(stderr, "wanted '%s', screen has '%.20s'\n", more, p ? p - 14 : "(none)");
        }
        CHECK(shows(more));
        ui_feed_mouse(u, 64, ty, tx, true); /* wheel up: newer */
        ui_feed_key(u, KEY_HOME);
        ui_feed_mouse(u, 0, ty, tx, true);
        ui_feed_key(u, KEY_HOME);
        draw(u);
        CHECK(!shows("newer"));
        ui_feed_key(u, 'M'); /* mouse off: says so */
        draw(u);
        CHECK(shows("mouse off"));
        ui_feed_key(u, 'M');
        ui_feed_mouse(u, 0, 20, 60, true); /* back to the chart */
        A.flash[0] = 0;
        draw(u);
        CHECK(shows("[chart]"));
    }

    /* the screen's commands as `kestrel ctl` sends them: the handlers the keys run (screens,
     * zoom / cycle, screen-aware focus, the list widgets, the mouse) and the ui status section */
    {
        char resp[16384];
        CHECK_INT(run_cmd(u, "screen 4", resp, sizeof resp), CMD_OK); /* it kept its focus */
        CHECK(has(resp, "\"pane\":\"log\",\"screen\":\"system\""));
        draw(u);
        CHECK(shows("[log]") && shows("Store") && !shows("Watchlist"));
        CHECK_INT(run_cmd(u, "pane-next", resp, sizeof resp), CMD_OK); /* wraps to its first */
        CHECK(has(resp, "\"pane\":\"connections\""));
        CHECK_INT(run_cmd(u, "pane-next", resp, sizeof resp), CMD_OK); /* within the screen */
        CHECK(has(resp, "\"pane\":\"store\""));
        CHECK_INT(run_cmd(u, "pane-prev", resp, sizeof resp), CMD_OK);
        CHECK_INT(run_cmd(u, "pane-prev", resp, sizeof resp), CMD_OK);
        CHECK(has(resp, "\"pane\":\"log\""));
        CHECK_INT(run_cmd(u, "screen Market", resp, sizeof resp), CMD_OK); /* by name */
        CHECK(has(resp, "\"pane\":\"chart\",\"screen\":\"market\",\"zoom\":false,"
                       "\"hidden\":[]"));
        draw(u);
        CHECK(shows("Watchlist") && shows("[chart]"));
        CHECK_INT(run_cmd(u, "screen 6", resp, sizeof resp), CMD_ERROR);
        CHECK(has(resp, "'6' is not a screen"));
        CHECK_INT(run_cmd(u, "screen", resp, sizeof resp), CMD_ERROR);
        /* 60x20: the tape and the watchlist do not fit; status names them; zoom cycles */
        ui_resize_to(u, 20, 60);
        draw(u);
        A.ui = u; /* the status document reads the app's screen */
        CHECK_INT(run_cmd(u, "status", resp, sizeof resp), CMD_OK);
        A.ui = NULL;
        CHECK(has(resp, "\"ui\":{\"pane\":\"chart\",\"screen\":\"market\","
                       "\"hidden\":[\"watch\",\"tape\"],\"zoom\":false"));
        CHECK_INT(run_cmd(u, "zoom", resp, sizeof resp), CMD_OK);
        CHECK(has(resp, "\"pane\":\"chart\",\"screen\":\"market\",\"zoom\":true"));
        CHECK_INT(run_cmd(u, "zoom", resp, sizeof resp), CMD_OK);
        CHECK(has(resp, "\"pane\":\"watch\""));
        CHECK_INT(run_cmd(u, "zoom", resp, sizeof resp), CMD_OK);
        CHECK(has(resp, "\"pane\":\"tape\""));
        draw(u);
        CHECK(shows("Trades BTCUSDT") && !shows("Book BTCUSDT"));
        CHECK_INT(run_cmd(u, "zoom", resp, sizeof resp), CMD_OK);
        CHECK(has(resp, "\"pane\":\"chart\",\"screen\":\"market\",\"zoom\":false"));
        CHECK_INT(run_cmd(u, "pane-prev", resp, sizeof resp), CMD_OK); /* hidden: shown */
        CHECK(has(resp, "\"pane\":\"watch\""));
        draw(u);
        CHECK(shows("Watchlist") && !shows("Book BTCUSDT")); /* the book made room */
        ui_resize_to(u, 40, 120);
        draw(u);
        /* the watchlist is a list widget: move, then select focuses the symbol */
        CHECK_INT(A.focus, 0);
        CHECK_INT(run_cmd(u, "move down", resp, sizeof resp), CMD_OK);
        CHECK_INT(run_cmd(u, "select", resp, sizeof resp), CMD_OK);
        CHECK_INT(A.focus, 1);
        CHECK_INT(run_cmd(u, "move end", resp, sizeof resp), CMD_OK); /* clamped to the list */
        CHECK_INT(run_cmd(u, "move home", resp, sizeof resp), CMD_OK);
        CHECK_INT(run_cmd(u, "select", resp, sizeof resp), CMD_OK);
        CHECK_INT(A.focus, 0);
        CHECK_INT(run_cmd(u, "move sideways", resp, sizeof resp), CMD_ERROR);
        CHECK_INT(run_cmd(u, "pane-next", resp, sizeof resp), CMD_OK);
        CHECK(has(resp, "\"pane\":\"chart\""));
        /* the mouse: on / off / toggle, in the status; a bad word is refused */
        CHECK_INT(run_cmd(u, "mouse off", resp, sizeof resp), CMD_OK);
        CHECK(has(resp, "\"mouse\":false"));
        A.ui = u;
        CHECK_INT(run_cmd(u, "status", resp, sizeof resp), CMD_OK);
        A.ui = NULL;
        CHECK(has(resp, "\"mouse\":false}"));
        CHECK_INT(run_cmd(u, "mouse", resp, sizeof resp), CMD_OK);
        CHECK(has(resp, "\"mouse\":true"));
        CHECK_INT(run_cmd(u, "mouse sometimes", resp, sizeof resp), CMD_ERROR);
        CHECK(has(resp, "usage: mouse [on|off|toggle]"));
        draw(u);
        CHECK(shows("[chart]"));
    }

    ui_feed_key(u, ']');
    draw(u);
    CHECK_INT(A.chart_tf, TF_1M);
    CHECK(shows("BTCUSDT 1m"));
    ui_feed_key(u, '[');
    draw(u);
    CHECK_INT(A.chart_tf, TF_1S);
    ui_feed_key(u, '[');
    CHECK_INT(A.chart_tf, TF_1S); /* no shorter one */

    ui_feed_key(u, KEY_LEFT);
    draw(u);
    CHECK(shows("[history]"));
    ui_feed_key(u, KEY_HOME);
    draw(u);
    CHECK(shows("[history]"));
    ui_feed_key(u, KEY_END);
    draw(u);
    CHECK(!shows("[history]"));

    ui_feed_key(u, KEY_BTAB); /* watchlist */
    ui_feed_key(u, KEY_DOWN);
    ui_feed_key(u, '\n');
    draw(u);
    CHECK_INT(A.focus, 1);
    CHECK(shows("Book ETHUSDT"));
    ui_feed_key(u, KEY_UP);
    ui_feed_key(u, '\r');
    CHECK_INT(A.focus, 0);

    ui_feed_key(u, 'q');
    draw(u);
    CHECK(shows("Quit Kestrel?"));
    ui_feed_key(u, 'n');
    draw(u);
    CHECK(!shows("Quit Kestrel?"));
    CHECK(!A.quitting);

    /* the whole capture: the final book is the known one */
    feed(r, UINT64_MAX);
    draw(u);
    CHECK(shows("61602.01"));
    CHECK(shows("61602.02"));
    market_sym *btc = market_find(A.market, VENUE_BINANCE_SPOT, "BTCUSDT");
    CHECK(btc && book_is_live(btc->book));

    /* frame cap: nothing changed -> nothing pending; a change -> wait for the frame budget */
    A.cfg.ui_fps = 1;
    ui_draw_now(u, false);
    CHECK_INT(ui_draw(u), -1);
    btc->dirty++;
    int wait = ui_draw(u);
    CHECK(wait > 0 && wait <= 1000);

    /* indicator picker: toggling writes the choice */
    ui_feed_key(u, 'i');
    draw(u);
    CHECK(shows("Indicators"));
    ui_feed_key(u, KEY_DOWN); /* second entry (ema) */
    ui_feed_key(u, ' ');
    ui_feed_key(u, 27);
    draw(u);
    CHECK(!shows("space/Enter toggle"));
    CHECK(strstr(A.indicators, "ema") != NULL);
    CHECK(strstr(A.indicators, "sma_20") != NULL); /* hand-set parameters kept */
    CHECK(shows("ema_20"));
    char text[1024] = "";
    CHECK_INT(store_get_setting(A.store, "ui.indicators", text, sizeof(text)), STORE_OK);
    CHECK_STR(text, A.indicators);

    /* picker parameters: +/- (Right/Left) step the selected enabled row's first parameter
     * within the registry's range; t edits its spec; the rest of the list stays as it is */
    CHECK_INT(app_set_indicators(&A, "sma_20,rsi_14,ema_9", err, sizeof(err)), K_OK);
    uint32_t rsi_row = 0, sar_row = 0, wma_row = 0, row = 0;
    for (int pass = 0; pass < 2; pass++) /* picker order: overlays, then oscillators */
        for (uint32_t i = 0; i < ta_info_count(); i++) {
            const ta_info *ti = ta_info_at(i);
            if ((ti->kind == TA_OVERLAY) != (pass == 0))
                continue;
            if (strcmp(ti->name, "rsi") == 0)
                rsi_row = row;
            if (strcmp(ti->name, "sar") == 0)
                sar_row = row;
            if (strcmp(ti->name, "wma") == 0)
                wma_row = row;
            row++;
        }
    ui_feed_key(u, 'i');
    ui_feed_key(u, KEY_HOME);
    for (uint32_t i = 0; i < rsi_row; i++)
        ui_feed_key(u, KEY_DOWN);
    draw(u);
    CHECK(shows("+/- parameter"));
    ui_feed_key(u, '+');
    CHECK_STR(A.indicators, "sma_20,rsi_15,ema_9");
    draw(u);
    CHECK(shows("rsi_15")); /* the row (and the chart's sub-pane) show the spec */
    ui_feed_key(u, '-');
    ui_feed_key(u, '-');
    CHECK_STR(A.indicators, "sma_20,rsi_13,ema_9");
    ui_feed_key(u, KEY_RIGHT);
    CHECK_STR(A.indicators, "sma_20,rsi_14,ema_9");
    ui_feed_key(u, KEY_LEFT);
    CHECK_STR(A.indicators, "sma_20,rsi_13,ema_9");
    CHECK_INT(store_get_setting(A.store, "ui.indicators", text, sizeof(text)), STORE_OK);
    CHECK_STR(text, "sma_20,rsi_13,ema_9"); /* persisted */
    /* the registry's minimum (RSI period 2) holds */
    CHECK_INT(app_set_indicators(&A, "sma_20,rsi_3,ema_9", err, sizeof(err)), K_OK);
    ui_feed_key(u, '-');
    CHECK_STR(A.indicators, "sma_20,rsi_2,ema_9");
    A.flash[0] = 0;
    ui_feed_key(u, '-');
    CHECK_STR(A.indicators, "sma_20,rsi_2,ema_9");
    CHECK(strstr(A.flash, "minimum") != NULL);
    /* e: edit the spec; Esc cancels, a bad spec is flashed and changes nothing */
    ui_feed_key(u, 't');
    draw(u);
    CHECK(shows("Enter apply, Esc cancel"));
    CHECK(shows("edit> rsi_2_"));
    ui_feed_key(u, KEY_BACKSPACE);
    ui_feed_key(u, '7');
    ui_feed_key(u, 27);
    CHECK_STR(A.indicators, "sma_20,rsi_2,ema_9");
    ui_feed_key(u, 't');
    ui_feed_key(u, KEY_BACKSPACE);
    ui_feed_key(u, '7');
    ui_feed_key(u, '\n');
    CHECK_STR(A.indicators, "sma_20,rsi_7,ema_9");
    ui_feed_key(u, 't');
    ui_feed_key(u, '.');
    ui_feed_key(u, '5');
    A.flash[0] = 0;
    ui_feed_key(u, '\n');
    CHECK_STR(A.indicators, "sma_20,rsi_7,ema_9");
    CHECK(strstr(A.flash, "whole number") != NULL);
    CHECK(A.flash[0] != 0);
    /* a float first parameter steps by a hundredth of its small range (SAR accel) */
    CHECK_INT(app_set_indicators(&A, "sma_20,rsi_7,sar", err, sizeof(err)), K_OK);
    ui_feed_key(u, KEY_HOME);
    for (uint32_t i = 0; i < sar_row; i++)
        ui_feed_key(u, KEY_DOWN);
    ui_feed_key(u, '+');
    CHECK_STR(A.indicators, "sma_20,rsi_7,sar_0.03_0.2");
    ui_feed_key(u, '-');
    ui_feed_key(u, '-');
    CHECK_STR(A.indicators, "sma_20,rsi_7,sar_0.01_0.2");
    /* a row that is off: nothing to step */
    ui_feed_key(u, KEY_HOME);
    for (uint32_t i = 0; i < wma_row; i++)
        ui_feed_key(u, KEY_DOWN);
    A.flash[0] = 0;
    ui_feed_key(u, '+');
    CHECK_STR(A.indicators, "sma_20,rsi_7,sar_0.01_0.2");
    CHECK(strstr(A.flash, "off") != NULL);
    /* too many indicators (the app's cap of 16): flashed, the list unchanged */
    CHECK_INT(app_set_indicators(&A, "sma_2,sma_3,sma_4,sma_5,sma_6,sma_7,sma_8,sma_9,sma_10,"
                                     "sma_11,sma_12,sma_13,sma_14,sma_15,sma_16,sma_17",
                                 err, sizeof(err)), K_OK);
    char before[sizeof(A.indicators)];
    snprintf(before, sizeof(before), "%s", A.indicators);
    ui_feed_key(u, 27);
    ui_feed_key(u, 'i'); /* reopened: rows as the list is */
    ui_feed_key(u, ' '); /* wma on: a 17th */
    CHECK_STR(A.indicators, before);
    CHECK(strstr(A.flash, "indicators") != NULL);
    ui_feed_key(u, KEY_HOME);
    ui_feed_key(u, '+'); /* sma_2 -> sma_3 */
    CHECK(strncmp(A.indicators, "sma_3,sma_3,sma_4,", 18) == 0);
    ui_feed_key(u, 27);
    draw(u);
    CHECK(!shows("+/- parameter"));

    ui_feed_key(u, 'q');
    ui_feed_key(u, 'y');
    CHECK(A.quitting);
    ui_close(u);

    /* ASCII: ui.ascii forces plain text (no byte >= 0x80, no line-drawing charset) */
    A.cfg.ui_ascii = true;
    A.quitting = false;
    u = ui_open_term(&A, out, in, "xterm-256color", 40, 120, err, sizeof(err));
    CHECK(u != NULL);
    if (u) {
        draw(u);
        CHECK(shows("Watchlist"));
        CHECK(shows("+-"));
        CHECK(!screen_high);
        CHECK(!screen_altcharset);
        ui_feed_key(u, '?');
        draw(u);
        CHECK(!screen_high);
        ui_resize_to(u, 5, 40);
        draw(u);
        CHECK(shows("terminal too small"));
        ui_close(u);
    }

    /* a theme that does not exist: built-in theme and a flash saying so; mono loads */
    A.cfg.ui_ascii = false;
    snprintf(A.cfg.theme, sizeof(A.cfg.theme), "no-such-theme");
    A.flash[0] = 0;
    u = ui_open_term(&A, out, in, "vt100", 24, 80, err, sizeof(err));
    CHECK(u != NULL);
    CHECK(strstr(A.flash, "no-such-theme") != NULL);
    if (u) {
        draw(u);
        CHECK(shows("Watchlist"));
        ui_close(u);
    }
    snprintf(A.cfg.theme, sizeof(A.cfg.theme), "mono");
    A.flash[0] = 0;
    u = ui_open_term(&A, out, in, "xterm-256color", 24, 80, err, sizeof(err));
    CHECK(u != NULL);
    CHECK_STR(A.flash, "");
    if (u) {
        draw(u);
        CHECK(shows("Watchlist"));
        ui_close(u);
    }

    /* the same name on spot and USD-M: the USD-M one is shown as "BTCUSDT UM" everywhere, and
     * the watchlist says so at 80 columns too (the tag moves under the name to keep the price) */
    {
        char um_path[600];
        snprintf(um_path, sizeof(um_path), "%s/binance/streams/usdm/btcusdt_20240808.gz",
                 check_shared_data());
        const char *um[] = {um_path};
        replay *r2 = NULL;
        CHECK_INT(replay_open(&r2, um, 1, err, sizeof(err)), K_OK);
        if (r2) {
            feed(r2, 20000);
            replay_close(r2);
        }
        market_sym *ums = market_find(A.market, VENUE_BINANCE_USDM, "BTCUSDT");
        CHECK(ums && ums->last_px > 0);
    }
    for (int sz = 0; sz < 2; sz++) {
        u = ui_open_term(&A, out, in, "xterm-256color", sz ? 24 : 40, sz ? 80 : 120, err,
                         sizeof(err));
        CHECK(u != NULL);
        if (!u)
            continue;
        draw(u);
        CHECK(shows(sz ? "% UM " : "BTCUSDT UM"));
        ui_feed_key(u, KEY_BTAB);
        ui_feed_key(u, KEY_END);
        ui_feed_key(u, '\n');
        draw(u);
        CHECK(shows("Book BTCUSDT UM"));
        CHECK(shows("BTCUSDT UM 1s"));
        ui_close(u);
    }

    /* a flat series near 2e8 with 8 decimals: the price axis used to loop forever (its label
     * step was below a double's resolution there). Hand-made trades: this checks the axis
     * arithmetic, not market behaviour. alarm() turns a hang into a failure. */
    alarm(60);
    {
        kdec fpx = 0, fq = 0;
        CHECK_INT(decimal_parse("200000000.12345678", 18, &fpx), K_OK);
        CHECK_INT(decimal_parse("0.00000001", 10, &fq), K_OK);
        int64_t t0 = A.data_ms + 1000;
        for (int i = 0; i < 40; i++) {
            feed_event te;
            memset(&te, 0, sizeof te);
            te.kind = FEED_TRADE;
            te.venue = VENUE_BINANCE_SPOT;
            snprintf(te.symbol, sizeof te.symbol, "FLATUSDT");
            te.event_ms = t0 + i * 1000;
            te.u.trade.id = i + 1;
            te.u.trade.px = fpx;
            te.u.trade.qty = fq;
            te.u.trade.time_ms = te.event_ms;
            te.recv_ns = te.event_ms * 1000000LL;
            CHECK_INT(ingest_event(A.ingest, &te, NULL), INGEST_OK);
        }
        market_sym *fs = market_find(A.market, VENUE_BINANCE_SPOT, "FLATUSDT");
        CHECK(fs != NULL);
        CHECK_INT(app_set_indicators(&A, "", err, sizeof(err)), K_OK);
        if (fs)
            app_set_focus(&A, fs->index);
        u = ui_open_term(&A, out, in, "xterm-256color", 40, 120, err, sizeof(err));
        CHECK(u != NULL);
        if (u) {
            draw(u);
            CHECK(shows("FLATUSDT 1s"));
            CHECK(shows("200000000.2")); /* a price label, with no invented digits */
            CHECK(!shows("00000002"));
            ui_close(u);
        }
    }
    alarm(0);

    fclose(out);
    fclose(in);
    replay_close(r);
    app_set_indicators(&A, "", err, sizeof(err)); /* frees the charts the app attached */
    app_model_close(&A);
    store_close(A.store);
    char cmd[700];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    CHECK_INT(system(cmd), 0);
    CHECK_DONE();
}
