/* libFuzzer target: binance_decode on arbitrary bytes must never crash, read out of bounds or
 * hit undefined behaviour, and must keep its contract: K_OK <=> *why == NULL; K_ERR leaves an
 * empty FEED_NONE event; decoded depth levels lie inside the caller's scratch; strings in the
 * event are NUL-terminated. Each input is decoded with a roomy scratch, a one-level scratch and
 * no scratch at all. Seeds: tests/fuzz/seeds/binance/ (real capture lines). */
#include "kestrel/binance.h"

#include <stdlib.h>
#include <string.h>

#define CAP 4096

static void check(const uint8_t *data, size_t size, feed_level *lv, uint32_t cap)
{
    feed_event ev;
    const char *why = (const char *)1;
    int rc = binance_decode((const char *)data, size, &ev, lv, cap, &why);
    if (rc == K_OK) {
        if (why != NULL)
            abort();
    } else {
        if (rc != K_ERR || why == NULL || ev.kind != FEED_NONE || ev.symbol[0])
            abort();
        return;
    }
    if (memchr(ev.symbol, '\0', sizeof ev.symbol) == NULL)
        abort();
    switch (ev.kind) {
    case FEED_DEPTH_DIFF:
    case FEED_DEPTH_SNAPSHOT:
        if ((uint64_t)ev.u.depth.nbids + ev.u.depth.nasks > cap)
            abort();
        if (ev.u.depth.nbids &&
            (ev.u.depth.bids < lv || ev.u.depth.bids + ev.u.depth.nbids > lv + cap))
            abort();
        if (ev.u.depth.nasks &&
            (ev.u.depth.asks < lv || ev.u.depth.asks + ev.u.depth.nasks > lv + cap))
            abort();
        for (uint32_t i = 0; i < ev.u.depth.nbids; i++)
            if (ev.u.depth.bids[i].px < 0 || ev.u.depth.bids[i].qty < 0)
                abort();
        for (uint32_t i = 0; i < ev.u.depth.nasks; i++)
            if (ev.u.depth.asks[i].px < 0 || ev.u.depth.asks[i].qty < 0)
                abort();
        if (ev.kind == FEED_DEPTH_DIFF &&
            (!ev.symbol[0] || ev.u.depth.first_id > ev.u.depth.last_id))
            abort();
        break;
    case FEED_TRADE:
        if (!ev.symbol[0] || ev.u.trade.px < 0 || ev.u.trade.qty < 0)
            abort();
        break;
    case FEED_BOOK_TICKER:
        if (!ev.symbol[0] || ev.u.ticker.bid_px < 0 || ev.u.ticker.ask_qty < 0)
            abort();
        break;
    case FEED_KLINE:
        if (!ev.symbol[0] || memchr(ev.u.kline.interval, '\0', sizeof ev.u.kline.interval) == NULL)
            abort();
        break;
    case FEED_TICKER24:
        if (!ev.symbol[0] || ev.u.day.open < 0 || ev.u.day.volume < 0)
            abort();
        break;
    case FEED_MARK:
        if (!ev.symbol[0] || ev.u.mark.mark < 0 || ev.u.mark.index < 0 ||
            ev.venue != VENUE_BINANCE_USDM)
            abort();
        break;
    case FEED_NONE:
        break;
    default:
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static feed_level lv[CAP];
    check(data, size, lv, CAP);
    check(data, size, lv, 1);
    check(data, size, NULL, 0);
    return 0;
}
