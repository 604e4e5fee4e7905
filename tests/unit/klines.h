/* Loads a real kline CSV of shared/data/klines (open_time_ms,open,high,low,close,volume) into
 * candles through the project's kline reader (kestrel/klines.h), for the engine's tests and
 * bench. Returns the bar count (0 on error). */
#ifndef KESTREL_TEST_KLINES_H
#define KESTREL_TEST_KLINES_H
#include <stdlib.h>
#include <string.h>

#include "kestrel/candles.h"
#include "kestrel/klines.h"

static inline uint32_t klines_load(const char *path, candle **out)
{
    char err[256];
    klines *k = NULL;
    *out = NULL;
    if (klines_open(&k, path, VENUE_BINANCE_SPOT, "BTCUSDT", "", err, sizeof err) != K_OK)
        return 0;
    uint32_t n = 0, cap = 0;
    candle *v = NULL;
    feed_event ev;
    int r;
    while ((r = klines_next(k, &ev)) != 0) {
        if (r < 0)
            continue; /* a bad row: skipped (klines counts it) */
        if (n == cap) {
            cap = cap ? cap * 2 : 1024;
            v = realloc(v, cap * sizeof *v);
        }
        candle c = {.open_ms = ev.u.kline.open_ms, .o = ev.u.kline.o, .h = ev.u.kline.h,
                    .l = ev.u.kline.l, .c = ev.u.kline.c, .volume = ev.u.kline.volume};
        v[n++] = c;
    }
    klines_close(k);
    *out = v;
    return n;
}
#endif
