/* Watchlist pane: one entry per market symbol with last price, change since the reference price
 * and spread (from the book when it is live, else from the last bookTicker). Wide panes use one
 * line per symbol with columns; narrow ones two lines per symbol. The selection (arrows) is the
 * UI's; Enter makes it the app's focused symbol.
 *
 * The change says what it is measured against, one basis for the whole column: `chg 24h` when
 * every priced symbol has a 24 h reference (market_ref_24h: a whole bar that opened 24 h before
 * its newest data, live or from stored history), else `chg sess` (the session's first price),
 * in the header (wide) or the title (narrow).
 *
 * Under the list, when it keeps five rows: the trading strip (pane_strip.c). */
#include "ui_int.h"

#include "kestrel/decimal.h"
#include "kestrel/watchlist.h"

#include <string.h>

static bool sym_spread(const market_sym *s, kdec *spread)
{
    kdec bid, bq, ask, aq;
    if (s->book && book_is_live(s->book) && book_best(s->book, &bid, &bq, &ask, &aq)) {
        *spread = ask - bid;
        return true;
    }
    if (s->tick_bid > 0 && s->tick_ask > 0) {
        *spread = s->tick_ask - s->tick_bid;
        return true;
    }
    return false;
}

void ui_watch_draw(ui *u, pane *p)
{
    app *a = u->a;
    WINDOW *w = p->w;
    bool foc = u->focus == PANE_WATCH;
    int ih = p->h - 2, iw = p->wd - 2;
    uint32_t idx[UI_WATCH_MAX]; /* the shown symbols (a removed one is not): market indexes */
    uint32_t n = watchlist_rows(a, idx, UI_WATCH_MAX);
    /* the change's basis: 24 h only when every priced symbol has that reference */
    bool day = false;
    for (uint32_t i = 0; i < n; i++) {
        const market_sym *s = market_at(a->market, idx[i]);
        kdec ref;
        if (s->last_px <= 0)
            continue;
        if (!market_ref_24h(s, &ref)) {
            day = false;
            break;
        }
        day = true;
    }
    const char *basis = day ? "chg 24h" : "chg sess";
    bool wide = iw >= 36;
    /* narrow: no header, the title names the basis when it has room */
    bool titled = !wide && n && iw >= 2 + 18;
    const char *title = !titled ? "Watchlist" : day ? "Watchlist chg 24h" : "Watchlist chg sess";
    ui_frame_box(u, w, foc, title, ROLE_TITLE);
    if (ih < 1 || iw < 4)
        return;
    if (n == 0) {
        ui_put(u, w, 1, 1, iw, ROLE_DIM,
               a->market && market_count(a->market) ? "no symbols (a adds one)"
                                                    : "no symbols yet");
        return;
    }
    int per = wide ? 1 : 2;
    /* the trading strip at the foot when the list keeps at least five rows */
    bool strip = a->runner && ih - UI_STRIP_ROWS - (wide ? 1 : 0) >= 5;
    int list_h = ih - (strip ? UI_STRIP_ROWS : 0);
    /* narrow: a header row naming the change's basis when the title could not and every
     * symbol still fits under it */
    bool narrow_hdr = !wide && !titled && list_h - 1 >= (int)n * per;
    int hdr = wide || narrow_hdr ? 1 : 0;
    if (strip)
        ui_strip_draw(u, w, ih - UI_STRIP_ROWS + 1, iw);
    int rows = (list_h - hdr) / per;
    if (rows < 1)
        rows = 1;
    ui_list_fit(&u->wl, n, rows); /* keeps the selection visible */
    u->wl_y0 = 1 + hdr;
    u->wl_per = per;

    /* columns (wide): marker, symbol, last, chg%, spread */
    int sym_w = 10, last_w = 10, chg_w = 8;
    int spr_w = iw - 2 - sym_w - last_w - chg_w - 3;
    if (narrow_hdr) /* under each name its change, then the spread: "chg sess       Last" */
        ui_putf(u, w, 1, 3, iw - 2, ROLE_HEADER, "%-*s%s", K_MAX(iw - 2 - 4, 9), basis,
                iw - 2 >= 9 + 4 ? "Last" : "");
    if (wide) {
        int x = 1 + 2;
        ui_put(u, w, 1, x, sym_w, ROLE_HEADER, "Symbol");
        x += sym_w + 1;
        ui_putf(u, w, 1, x, last_w, ROLE_HEADER, "%*s", last_w, "Last");
        x += last_w + 1;
        ui_putf(u, w, 1, x, chg_w, ROLE_HEADER, "%*s", chg_w, basis);
        x += chg_w + 1;
        if (spr_w > 0) /* a header whole: "Spread", else "sp" (the help's legend) */
            ui_putf(u, w, 1, x, spr_w, ROLE_HEADER, "%*s", spr_w, spr_w >= 6 ? "Spread" : "sp");
    }
    for (int r = 0; r < rows; r++) {
        uint32_t i = u->wl.top + (uint32_t)r;
        if (i >= n)
            break;
        market_sym *s = market_at(a->market, idx[i]);
        int y = 1 + hdr + r * per;
        bool sel = i == u->wl.sel;
        enum theme_role base = sel && foc ? ROLE_SELECTION : ROLE_TEXT;
        char px[40], chg[24], spr[40], lbl[KSYM_MAX + 8];
        ui_sym_label(s, lbl, sizeof lbl);
        enum theme_role chg_role = ROLE_DIM;
        if (s->last_px > 0)
            ui_fmt_px(px, sizeof(px), s->last_px, s->px_decimals);
        else
            snprintf(px, sizeof(px), "-");
        kdec ref = s->ref_px;
        if (day)
            (void)market_ref_24h(s, &ref);
        if (s->last_px > 0 && ref > 0) {
            double c = (decimal_to_double(s->last_px) - decimal_to_double(ref)) /
                       decimal_to_double(ref) * 100.0;
            snprintf(chg, sizeof(chg), "%+.2f%%", c);
            chg_role = c > 0 ? ROLE_UP : c < 0 ? ROLE_DOWN : ROLE_DIM;
        } else {
            snprintf(chg, sizeof(chg), "-");
        }
        kdec sd;
        enum book_state bst = s->book ? book_state(s->book) : BOOK_EMPTY;
        enum theme_role spr_role = ROLE_DIM;
        if (bst == BOOK_SYNCING || bst == BOOK_RESYNCING) {
            /* with many symbols the status bar cannot name them all: say it here */
            /* the book's word where the column has room, else its short form */
            bool room = spr_w >= (int)strlen(ui_book_word(bst)) || !wide;
            snprintf(spr, sizeof(spr), "%s",
                     room ? ui_book_word(bst) : bst == BOOK_SYNCING ? "sync" : "RESYNC");
            spr_role = ROLE_WARNING;
        } else if (sym_spread(s, &sd)) {
            ui_fmt_px(spr, sizeof(spr), sd, s->px_decimals);
        } else {
            snprintf(spr, sizeof(spr), "-");
        }
        if (sel && foc) {
            for (int k = 0; k < per; k++)
                ui_fill(u, w, y + k, 1, iw, ROLE_SELECTION);
        }
        /* the change keeps its up/down colour on the highlighted row too */
        enum theme_role cr = chg_role;
        if (idx[i] == a->focus)
            ui_glyph(u, w, y, 1, G_FOCUS);
        if (wide) {
            int x = 3;
            ui_put(u, w, y, x, sym_w, base, lbl);
            x += sym_w + 1;
            /* each value whole in its column, or the ellipsis */
            char cell[48];
            snprintf(cell, sizeof cell, "%*s", last_w, px);
            ui_put_whole(u, w, y, x, last_w, base, cell);
            x += last_w + 1;
            snprintf(cell, sizeof cell, "%*s", chg_w, chg);
            ui_put_whole(u, w, y, x, chg_w, cr, cell);
            x += chg_w + 1;
            if (spr_w > 0) {
                snprintf(cell, sizeof cell, "%*s", spr_w, spr);
                ui_put_whole(u, w, y, x, spr_w, sel && foc ? ROLE_SELECTION : spr_role, cell);
            }
        } else {
            int avail = iw - 2;
            int pl = (int)strlen(px);
            /* the price wins over the " UM" tag, which then goes to the second line */
            bool tag_below = strcmp(lbl, s->name) != 0 && pl + (int)strlen(lbl) + 1 > avail;
            const char *shown = tag_below ? s->name : lbl;
            ui_put(u, w, y, 3, avail, base, shown);
            if (pl + (int)strlen(shown) + 1 <= avail)
                ui_put(u, w, y, 3 + avail - pl, pl, base, px);
            if (y + 1 <= ih) {
                char cs[32];
                snprintf(cs, sizeof cs, "%s", chg);
                ui_put_whole(u, w, y + 1, 3, avail, cr, cs);
                int cl = ui_text_cols(cs) <= avail ? (int)strlen(cs) : 1;
                char sb[48];
                snprintf(sb, sizeof(sb), "sp %s", spr);
                int sl = (int)strlen(sb);
                if (tag_below) { /* "+0.02% UM   0.01": the tag, then the bare spread */
                    if (cl + 1 + 2 + 1 + sl > avail) {
                        snprintf(sb, sizeof(sb), "%s", spr);
                        sl = (int)strlen(sb);
                    }
                    if (cl + 1 + 2 + 1 + sl <= avail) {
                        ui_put(u, w, y + 1, 3 + cl + 1, 2, base, "UM");
                        cl += 3;
                    }
                }
                if (sl + cl + 1 <= avail)
                    ui_put(u, w, y + 1, 3 + avail - sl, sl, sel && foc ? ROLE_SELECTION : spr_role,
                           sb);
            }
        }
    }
}
