/* libFuzzer target: okx_decode on arbitrary bytes must never crash, read out of bounds or hit
 * undefined behaviour, and must keep its contract: K_OK <=> *why == NULL; K_ERR leaves no
 * events; every event is VENUE_OKX with a NUL-terminated symbol of [A-Z0-9-] (empty only for a
 * REST snapshot); depth levels lie inside the caller's scratch with prices > 0 and sizes >= 0.
 * Each input is decoded with roomy scratch, one-entry scratch and none. Then every decoded book
 * event goes through an OKX book (book rules must hold on any input: never crossed-and-live
 * without a reason to be, never a level outside the book's cap). Seeds: tests/fuzz/seeds/okx/
 * (every real OKX message line in ../shared/data/messages/okx, plus "pong"). */
#include "kestrel/book.h"
#include "kestrel/okx.h"

#include <stdlib.h>
#include <string.h>

#define CAP 4096
#define NEV 32

static void check(const uint8_t *data, size_t size, feed_level *lv, uint32_t cap, book *b)
{
    feed_event evs[NEV];
    uint32_t n = 12345;
    okx_info info;
    const char *why = (const char *)1;
    int rc = okx_decode((const char *)data, size, evs, lv ? NEV : 0, &n, lv, cap, &info, &why);
    if (rc == K_OK) {
        if (why != NULL)
            abort();
    } else {
        if (rc != K_ERR || why == NULL || n != 0)
            abort();
        return;
    }
    if (n > NEV || memchr(info.channel, '\0', sizeof info.channel) == NULL ||
        memchr(info.msg, '\0', sizeof info.msg) == NULL)
        abort();
    for (uint32_t i = 0; i < n; i++) {
        const feed_event *ev = &evs[i];
        if (ev->venue != VENUE_OKX || memchr(ev->symbol, '\0', sizeof ev->symbol) == NULL)
            abort();
        for (const char *p = ev->symbol; *p; p++)
            if (!((*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-'))
                abort();
        switch (ev->kind) {
        case FEED_DEPTH_DIFF:
        case FEED_DEPTH_SNAPSHOT:
            if ((uint64_t)ev->u.depth.nbids + ev->u.depth.nasks > cap)
                abort();
            if (ev->u.depth.nbids &&
                (ev->u.depth.bids < lv || ev->u.depth.bids + ev->u.depth.nbids > lv + cap))
                abort();
            if (ev->u.depth.nasks &&
                (ev->u.depth.asks < lv || ev->u.depth.asks + ev->u.depth.nasks > lv + cap))
                abort();
            for (uint32_t j = 0; j < ev->u.depth.nbids; j++)
                if (ev->u.depth.bids[j].px <= 0 || ev->u.depth.bids[j].qty < 0)
                    abort();
            for (uint32_t j = 0; j < ev->u.depth.nasks; j++)
                if (ev->u.depth.asks[j].px <= 0 || ev->u.depth.asks[j].qty < 0)
                    abort();
            if (ev->kind == FEED_DEPTH_DIFF && !ev->symbol[0])
                abort();
            if (b) {
                if (ev->kind == FEED_DEPTH_DIFF)
                    (void)book_on_diff(b, ev);
                else
                    (void)book_on_snapshot(b, ev);
                if (book_depth(b, BOOK_BID) > 64 || book_depth(b, BOOK_ASK) > 64)
                    abort();
                if (!book_is_live(b) && (book_depth(b, BOOK_BID) || book_depth(b, BOOK_ASK)))
                    abort();
            }
            break;
        case FEED_TRADE:
            if (!ev->symbol[0] || ev->u.trade.px < 0 || ev->u.trade.qty < 0)
                abort();
            break;
        case FEED_BOOK_TICKER:
            if (!ev->symbol[0] || ev->u.ticker.bid_px < 0 || ev->u.ticker.ask_qty < 0)
                abort();
            break;
        case FEED_KLINE:
            if (!ev->symbol[0] || ev->u.kline.l > ev->u.kline.h ||
                memchr(ev->u.kline.interval, '\0', sizeof ev->u.kline.interval) == NULL)
                abort();
            break;
        case FEED_TICKER24:
            if (!ev->symbol[0] || ev->u.day.open < 0 || ev->u.day.low < 0)
                abort();
            break;
        default:
            abort();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static feed_level lv[CAP];
    book *b = book_new(BOOK_RULES_OKX, 64, 16);
    check(data, size, lv, CAP, b);
    check(data, size, lv, 1, NULL);
    check(data, size, NULL, 0, NULL);
    book_free(b);
    return 0;
}
