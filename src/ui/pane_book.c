/* Order book ladder and trade tape panes.
 * Ladder: asks above (best ask next to the spread line), bids below, as many levels as the pane
 * has rows; price / qty / cumulative columns with a cumulative depth bar behind each row (length
 * proportional to cumulative qty over the deepest shown side); spread (absolute and bps) in the
 * middle and the top-20 imbalance (bid-ask)/(bid+ask) at the bottom. A book that is not live shows
 * its state and no levels: stale levels are never drawn as if valid.
 * Tape: newest first, time / price / qty coloured by aggressor (buyer_maker = a sell). */
#include "ui_int.h"

#include "kestrel/decimal.h"

#include <string.h>

#define BOOK_MAX_ROWS 256

/* One ladder row: text laid out in the pane's inner width, then painted in two parts so the
 * depth bar (a background colour) covers the right-hand `bar` columns. */
static void ladder_row(ui *u, WINDOW *w, int y, int iw, const char *px, const char *qty,
                       const char *cum, int pxw, int qw, int cw, enum theme_role side,
                       enum theme_role depth, int bar)
{
    char line[512];
    if (iw > (int)sizeof(line) - 1)
        iw = (int)sizeof(line) - 1;
    if ((int)strlen(px) > pxw) /* a price that does not fit its column is not drawn */
        px = ui_ellipsis(u);
    memset(line, ' ', (size_t)iw);
    line[iw] = 0;
    int n = snprintf(line, (size_t)iw + 1, "%-*s %*s %*s", pxw, px, qw, qty, cw, cum);
    if (n >= 0 && n < iw)
        line[n] = ' ';
    line[iw] = 0;
    if (bar > iw)
        bar = iw;
    int split = iw - bar;
    /* price part in the side colour, rest in text colour; the bar overrides the background */
    int price_end = pxw < iw ? pxw : iw;
    bool bid = side == ROLE_BID;
    for (int x = 0; x < iw;) {
        int end;
        enum theme_role r;
        bool on_bar = false;
        if (x < price_end) { /* the price keeps its side colour, also over the bar */
            r = side;
            end = x < split ? K_MIN(price_end, split) : price_end;
            on_bar = x >= split;
        } else if (x >= split) {
            r = depth;
            end = iw;
        } else {
            r = ROLE_TEXT;
            end = split;
        }
        char save = line[end];
        line[end] = 0;
        if (on_bar) {
            wattr_set(w, bid ? u->attr_bid_on_depth : u->attr_ask_on_depth,
                      bid ? u->pair_bid_on_depth : u->pair_ask_on_depth, NULL);
            mvwaddnstr(w, y, 1 + x, line + x, end - x);
        } else {
            ui_put(u, w, y, 1 + x, end - x, r, line + x);
        }
        line[end] = save;
        x = end;
    }
}

static double cum_double(__int128 v)
{
    return (double)v / (double)KDEC_SCALE;
}

/* A running total: exact while it fits a kdec (every real book), else approximately (k/M/G). */
static void fmt_cum(char *buf, size_t cap, __int128 v, int decimals, int width)
{
    if (v <= KDEC_MAX)
        ui_fmt_qty(buf, cap, (kdec)v, decimals, width);
    else
        ui_fmt_num(buf, cap, cum_double(v), 0, width);
}

void ui_book_draw(ui *u, pane *p)
{
    WINDOW *w = p->w;
    bool foc = u->focus == PANE_BOOK;
    market_sym *s = ui_view_sym(u);
    char title[96], lbl[KSYM_MAX + 8];
    enum book_state st = s && s->book ? book_state(s->book) : BOOK_EMPTY;
    snprintf(title, sizeof(title), s ? "Book %s" : "Book", ui_sym_label(s, lbl, sizeof lbl));
    ui_frame_box(u, w, foc, title, ROLE_TITLE);
    int ih = p->h - 2, iw = p->wd - 2;
    if (ih < 1 || iw < 8 || !s)
        return;
    /* state next to the title */
    {
        int tx = 1 + 1 + ui_text_cols(title) + 2;
        char sn[32];
        bool crossed = book_is_crossed(s->book);
        bool ended = u->a->finished;
        snprintf(sn, sizeof(sn), " %s%s ", crossed ? "CROSSED" : ui_book_word(st),
                 ended ? ", REPLAY ENDED" : "");
        if (tx + (int)strlen(sn) >= p->wd - 1) /* short form */
            snprintf(sn, sizeof(sn), " %s ", crossed ? "CROSSED" : ended ? "ENDED"
                                                                          : ui_book_word(st));
        if (tx + (int)strlen(sn) < p->wd - 1)
            ui_put(u, w, 0, tx, -1, crossed ? ROLE_ERROR : st == BOOK_LIVE ? ROLE_OK : ROLE_WARNING,
                   sn);
    }
    if (st != BOOK_LIVE) {
        const char *resync = u->utf8 ? "RESYNCING \xe2\x80\x94 not valid" : "RESYNCING - not valid";
        const char *msg = u->a->finished ? "REPLAY ENDED before the book synced"
                          : st == BOOK_RESYNCING ? resync
                          : st == BOOK_SYNCING   ? "SYNCING - waiting for snapshot"
                                                 : "no book data yet";
        int len = ui_text_cols(msg);
        int x = 1 + (iw > len ? (iw - len) / 2 : 0);
        ui_put(u, w, 1 + (ih - 1) / 2, x, iw, ROLE_WARNING, msg);
        if (ih >= 4) {
            const book_stats *bs = book_get_stats(s->book);
            ui_putf(u, w, 1 + (ih - 1) / 2 + 2, 2, iw - 1, ROLE_DIM,
                    "gaps %llu  resyncs %llu  snapshots %llu",
                    (unsigned long long)bs->gaps, (unsigned long long)bs->resyncs,
                    (unsigned long long)bs->snapshots);
        }
        return;
    }
    if (ih < 4) {
        ui_put(u, w, 1, 1, iw, ROLE_DIM, "(too small)");
        return;
    }
    int levels_rows = ih - 3; /* header, spread line, imbalance line */
    int na = levels_rows / 2, nbid = levels_rows - na;
    if (na > BOOK_MAX_ROWS)
        na = BOOK_MAX_ROWS;
    if (nbid > BOOK_MAX_ROWS)
        nbid = BOOK_MAX_ROWS;
    uint32_t da = book_depth(s->book, BOOK_ASK), db = book_depth(s->book, BOOK_BID);
    if ((uint32_t)na > da)
        na = (int)da;
    if ((uint32_t)nbid > db)
        nbid = (int)db;
    kdec apx[BOOK_MAX_ROWS], aq[BOOK_MAX_ROWS], bpx[BOOK_MAX_ROWS], bq[BOOK_MAX_ROWS];
    __int128 acum[BOOK_MAX_ROWS], bcum[BOOK_MAX_ROWS]; /* exact running totals */
    __int128 c = 0;
    for (int i = 0; i < na; i++) {
        if (book_level(s->book, BOOK_ASK, (uint32_t)i, &apx[i], &aq[i]) != K_OK) {
            na = i;
            break;
        }
        c += aq[i];
        acum[i] = c;
    }
    c = 0;
    for (int i = 0; i < nbid; i++) {
        if (book_level(s->book, BOOK_BID, (uint32_t)i, &bpx[i], &bq[i]) != K_OK) {
            nbid = i;
            break;
        }
        c += bq[i];
        bcum[i] = c;
    }
    double maxcum = 0;
    if (na > 0)
        maxcum = cum_double(acum[na - 1]);
    if (nbid > 0 && cum_double(bcum[nbid - 1]) > maxcum)
        maxcum = cum_double(bcum[nbid - 1]);

    /* column widths: price from the widest price shown, qty and cum share the rest */
    char px[40], q[32], cu[32];
    int pxw = 5;
    if (na > 0)
        pxw = K_MAX(pxw, ui_fmt_px(px, sizeof(px), apx[na - 1], s->px_decimals));
    if (nbid > 0)
        pxw = K_MAX(pxw, ui_fmt_px(px, sizeof(px), bpx[0], s->px_decimals));
    if (pxw > iw - 6)
        pxw = iw - 6;
    int rest = iw - pxw - 2;
    int qw = rest / 2, cw = rest - qw;
    int qd = s->qty_decimals > 0 ? s->qty_decimals : 4;

    /* header */
    /* headers name their units where they fit: "Price USDT", "Qty BTC", "Total BTC" */
    char hdr[256], base[KSYM_MAX], quote[KSYM_MAX], hp[32], hq[32], ht[32];
    ui_sym_assets(s->name, base, sizeof base, quote, sizeof quote);
    snprintf(hp, sizeof hp, "Price %s", quote);
    snprintf(hq, sizeof hq, "Qty %s", base);
    snprintf(ht, sizeof ht, "Total %s", base);
    snprintf(hdr, sizeof(hdr), "%-*s %*s %*s", pxw,
             quote[0] && (int)strlen(hp) <= pxw ? hp : "Price", qw,
             base[0] && (int)strlen(hq) <= qw ? hq : "Qty", cw,
             base[0] && (int)strlen(ht) <= cw ? ht : "Total");
    ui_put(u, w, 1, 1, iw, ROLE_HEADER, hdr);

    int top = 2; /* first ask row */
    int ask_rows = levels_rows / 2;
    for (int i = 0; i < na; i++) {
        int y = top + (ask_rows - 1 - i);
        ui_fmt_px(px, sizeof(px), apx[i], s->px_decimals);
        ui_fmt_qty(q, sizeof(q), aq[i], qd, qw);
        fmt_cum(cu, sizeof(cu), acum[i], qd, cw);
        int bar = maxcum > 0 ? (int)(cum_double(acum[i]) / maxcum * iw + 0.5) : 0;
        ladder_row(u, w, y, iw, px, q, cu, pxw, qw, cw, ROLE_ASK, ROLE_ASK_DEPTH, bar);
    }
    int sy = top + ask_rows;
    /* spread line */
    {
        kdec bid, bidq, ask, askq;
        char line[128];
        if (book_best(s->book, &bid, &bidq, &ask, &askq)) {
            char sp[40];
            ui_fmt_px(sp, sizeof(sp), ask - bid, s->px_decimals);
            double mid = (decimal_to_double(bid) + decimal_to_double(ask)) / 2.0;
            double bps = mid > 0 ? decimal_to_double(ask - bid) / mid * 1e4 : 0;
            snprintf(line, sizeof(line), " spread %s  %.*f bps ", sp,
                     bps < 0.1 && bps > -0.1 ? 4 : 2, bps);
        } else {
            snprintf(line, sizeof(line), " spread - ");
        }
        for (int x = 1; x <= iw; x++) {
            ui_role(u, w, ROLE_DIM);
            ui_glyph(u, w, sy, x, G_HLINE);
        }
        int len = ui_text_cols(line);
        if (len > iw && book_best(s->book, &bid, &bidq, &ask, &askq)) { /* the bps go first */
            char sp[40];
            ui_fmt_px(sp, sizeof(sp), ask - bid, s->px_decimals);
            snprintf(line, sizeof(line), " spread %s ", sp);
            len = ui_text_cols(line);
        }
        if (len <= iw)
            ui_put(u, w, sy, 1 + (iw > len ? (iw - len) / 2 : 0), iw,
                   book_is_crossed(s->book) ? ROLE_ERROR : ROLE_TEXT, line);
    }
    for (int i = 0; i < nbid; i++) {
        int y = sy + 1 + i;
        ui_fmt_px(px, sizeof(px), bpx[i], s->px_decimals);
        ui_fmt_qty(q, sizeof(q), bq[i], qd, qw);
        fmt_cum(cu, sizeof(cu), bcum[i], qd, cw);
        int bar = maxcum > 0 ? (int)(cum_double(bcum[i]) / maxcum * iw + 0.5) : 0;
        ladder_row(u, w, y, iw, px, q, cu, pxw, qw, cw, ROLE_BID, ROLE_BID_DEPTH, bar);
    }
    /* imbalance over the top 20 levels */
    {
        double bv = decimal_to_double(book_depth_qty(s->book, BOOK_BID, 20));
        double av = decimal_to_double(book_depth_qty(s->book, BOOK_ASK, 20));
        double imb = bv + av > 0 ? (bv - av) / (bv + av) : 0;
        int y = ih; /* last inner row */
        int x = 1;
        x += ui_put(u, w, y, x, iw, ROLE_DIM, "imb20 ");
        char ib[32];
        snprintf(ib, sizeof(ib), "%+.2f", imb);
        x += ui_put(u, w, y, x, iw - x + 1, imb > 0 ? ROLE_UP : imb < 0 ? ROLE_DOWN : ROLE_TEXT,
                    ib);
        /* a centred bar: left of centre = ask heavy, right = bid heavy */
        int bw = iw - x - 1;
        if (bw >= 6) {
            int bx = x + 1, mid = bx + bw / 2;
            int len = (int)(imb * (bw / 2) + (imb >= 0 ? 0.5 : -0.5));
            ui_put(u, w, y, mid, 1, ROLE_DIM, "|");
            if (len > 0)
                ui_fill(u, w, y, mid + 1, len, ROLE_BID_DEPTH);
            else if (len < 0)
                ui_fill(u, w, y, mid + len, -len, ROLE_ASK_DEPTH);
        }
    }
}

void ui_tape_draw(ui *u, pane *p)
{
    WINDOW *w = p->w;
    bool foc = u->focus == PANE_TAPE;
    market_sym *s = ui_view_sym(u);
    char title[64], lbl[KSYM_MAX + 8];
    snprintf(title, sizeof(title), s ? "Trades %s" : "Trades", ui_sym_label(s, lbl, sizeof lbl));
    ui_frame_box(u, w, foc, title, ROLE_TITLE);
    int ih = p->h - 2, iw = p->wd - 2;
    if (ih < 1 || iw < 8 || !s || !s->tape)
        return;
    uint32_t n = tape_count(s->tape);
    if (n == 0) {
        ui_put(u, w, 1, 1, iw, ROLE_DIM, "no trades yet");
        return;
    }
    /* scrolled back, the rows stay where they are: the view moves down by the trades that
     * arrived since the last frame */
    if (u->tape.top > 0 && s->trades > u->tape_seen)
        u->tape.top += (uint32_t)K_MIN(s->trades - u->tape_seen, (uint64_t)n);
    u->tape_seen = s->trades;
    ui_list_fit(&u->tape, n, ih - 1);
    bool ms = iw >= 34;
    int tw = ms ? 12 : 8;
    int rest = iw - tw - 2;
    int pw = rest / 2 + 1, qw = rest - pw;
    int qd = s->qty_decimals > 0 ? s->qty_decimals : 4;
    char hdr[128], base[KSYM_MAX], quote[KSYM_MAX], hq[32], hp[32];
    ui_sym_assets(s->name, base, sizeof base, quote, sizeof quote);
    snprintf(hq, sizeof hq, "Qty %s", base);
    snprintf(hp, sizeof hp, "Price %s", quote);
    snprintf(hdr, sizeof(hdr), "%-*s %*s %*s", tw, "Time UTC", pw,
             quote[0] && (int)strlen(hp) <= pw ? hp : "Price", qw,
             base[0] && (int)strlen(hq) <= qw ? hq : "Qty");
    ui_put(u, w, 1, 1, iw, ROLE_HEADER, hdr);
    if (u->tape.top > 0) {
        char more[32];
        snprintf(more, sizeof(more), " +%u newer ", u->tape.top);
        int ml = (int)strlen(more);
        if (p->wd - ml - 2 > ui_text_cols(title) + 4)
            ui_put(u, w, 0, p->wd - ml - 2, ml, ROLE_WARNING, more);
    }
    for (int r = 0; r < ih - 1; r++) {
        const tape_trade *t = tape_get(s->tape, u->tape.top + (uint32_t)r);
        if (!t)
            break;
        char tm[24], px[40], q[32], line[256];
        ui_fmt_time(tm, sizeof(tm), t->time_ms, ms ? 1 : 0);
        if (ui_fmt_px(px, sizeof(px), t->px, s->px_decimals) > pw)
            snprintf(px, sizeof px, "%s", ui_ellipsis(u));
        ui_fmt_qty(q, sizeof(q), t->qty, qd, qw);
        enum theme_role side = t->buyer_maker ? ROLE_DOWN : ROLE_UP;
        snprintf(line, sizeof(line), "%-*s", tw, tm);
        int x = 1;
        ui_put(u, w, 2 + r, x, tw, ROLE_DIM, line);
        x += tw + 1;
        snprintf(line, sizeof(line), "%*s %*s", pw, px, qw, q);
        ui_put(u, w, 2 + r, x, iw - x + 1, side, line);
    }
}
