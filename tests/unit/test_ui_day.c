/* The watchlist's change basis and the Market screen's trading strip, drawn by the real UI into a
 * curses screen on /dev/null, on the app's own data path (ingest) fed a real kline file (Binance
 * USD-M BTCUSDT 1m, July 2023):
 *  - before 24 h of bars the change is `chg sess` (against the session's first price);
 *  - from 24 h on it is `chg 24h`, and the drawn percentage is the one against the open of the
 *    bar 24 h before (market_ref_24h), not against the session's first price;
 *  - a narrow watchlist says the basis in its title (or in a header row);
 *  - the trading strip under the list: "no positions", the day P&L and the latest signal of the
 *    app's runner (ui.strip in `ctl status` is the same model). */
#include "check.h"

#include "kestrel/app.h"
#include "kestrel/decimal.h"
#include "kestrel/ingest.h"
#include "kestrel/klines.h"
#include "kestrel/market.h"
#include "kestrel/trading.h"
#include "kestrel/ui.h"
#include "../../src/ui/ui_int.h"
#include "ui_screen.h"

#include <locale.h>

static app A;
static char screen[64 * 1024];

static bool shows(const char *s)
{
    return strstr(screen, s) != NULL;
}

static void draw(ui *u)
{
    ui_draw_now(u, true);
    ui_screen_grab(screen, sizeof(screen), NULL, NULL);
}

/* The change the watchlist draws for s against ref: "%+.2f%%". */
static void chg_text(const market_sym *s, kdec ref, char *buf, size_t cap)
{
    double c = (decimal_to_double(s->last_px) - decimal_to_double(ref)) / decimal_to_double(ref) *
               100.0;
    snprintf(buf, cap, "%+.2f%%", c);
}

int main(void)
{
    setlocale(LC_ALL, "C.UTF-8");
    char err[512], path[1024];
    config_defaults(&A.cfg);
    A.cfg.ui_fps = 30;
    A.speed = 1.0;
    A.chart_tf = TF_1M;
    A.source = APP_SOURCE_REPLAY;
    CHECK_INT(app_model_open(&A), K_OK);
    CHECK_INT(trading_open(&A, err, sizeof err), K_OK);
    snprintf(path, sizeof path, "%s/klines/long/%s", check_shared_data(),
             "binance-usdm_BTCUSDT_1m_2023-07-18_2023-08-17.csv.gz");
    klines *k = NULL;
    CHECK_INT(klines_open(&k, path, VENUE_BINANCE_USDM, "BTCUSDT", "", err, sizeof err), K_OK);
    if (!k || !A.market) {
        fprintf(stderr, "%s\n", err);
        CHECK_DONE();
    }
    FILE *out = fopen("/dev/null", "w");
    FILE *in = fopen("/dev/null", "r");
    ui *u = ui_open_term(&A, out, in, "xterm-256color", 40, 120, err, sizeof(err));
    CHECK(u != NULL);
    if (!u)
        CHECK_DONE();

    feed_event ev;
    int r, fed = 0;
    while (fed < 1000 && (r = klines_next(k, &ev)) != 0)
        if (r > 0 && ingest_event(A.ingest, &ev, NULL) == INGEST_OK)
            fed++;
    CHECK_INT(fed, 1000);
    market_sym *s = market_find(A.market, VENUE_BINANCE_USDM, "BTCUSDT");
    CHECK(s != NULL);
    if (!s)
        CHECK_DONE();
    kdec ref = 0;
    CHECK(!market_ref_24h(s, &ref));
    draw(u);
    /* 120 columns: a 26-column watchlist, two lines per symbol: the basis in the title */
    CHECK(shows("Watchlist chg sess"));
    CHECK(!shows("chg 24h"));
    char want[32];
    chg_text(s, s->ref_px, want, sizeof want);
    CHECK(shows(want));
    /* the strip: the runner saw bars, no order was made */
    CHECK(shows("\xe2\x94\x80 trading "));
    CHECK(shows("no positions  day 0.00"));
    ui_strip st;
    CHECK(ui_strip_model(&A, &st));
    CHECK_INT(st.positions, 0);
    if (st.has_signal) { /* the kline feed makes signals on bar closes */
        char sig[64];
        snprintf(sig, sizeof sig, "%s %s conf %.3f", st.action, st.symbol, st.confidence);
        CHECK(shows(sig));
    } else {
        CHECK(shows("no signal yet"));
    }

    while (fed < 1600 && (r = klines_next(k, &ev)) != 0)
        if (r > 0 && ingest_event(A.ingest, &ev, NULL) == INGEST_OK)
            fed++;
    CHECK_INT(fed, 1600);
    CHECK(market_ref_24h(s, &ref));
    CHECK(ref != s->ref_px);
    draw(u);
    CHECK(shows("Watchlist chg 24h"));
    CHECK(!shows("chg sess"));
    char sess[32];
    chg_text(s, ref, want, sizeof want);
    chg_text(s, s->ref_px, sess, sizeof sess);
    CHECK(shows(want));
    if (strcmp(want, sess) != 0)
        CHECK(!shows(sess));
    ui_close(u);

    /* wide (a 200-column screen: 40-column watchlist, one line per symbol): the header says it */
    u = ui_open_term(&A, out, in, "xterm-256color", 60, 200, err, sizeof(err));
    CHECK(u != NULL);
    if (u) {
        draw(u);
        CHECK(shows(" chg 24h"));
        CHECK(shows("Symbol"));
        CHECK(shows(want));
        ui_close(u);
    }
    /* 80x24: an 18-column watchlist; the title has no room, a header row names the basis */
    u = ui_open_term(&A, out, in, "xterm-256color", 24, 80, err, sizeof(err));
    CHECK(u != NULL);
    if (u) {
        draw(u);
        CHECK(shows("chg 24h     Last")); /* the change under the name, the price at the right */
        CHECK(shows("\xe2\x94\x80 trading "));
        ui_close(u);
    }

    fclose(out);
    fclose(in);
    klines_close(k);
    trading_close(&A);
    app_model_close(&A);
    CHECK_DONE();
}
