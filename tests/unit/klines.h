/* Loads a real kline CSV of /work/shared/data/klines (open_time_ms,open,high,low,close,volume)
 * into candles, for the engine's tests and bench. Returns the bar count (0 on error). */
#ifndef KESTREL_TEST_KLINES_H
#define KESTREL_TEST_KLINES_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kestrel/candles.h"
#include "kestrel/decimal.h"

static inline uint32_t klines_load(const char *path, candle **out)
{
    FILE *fp = fopen(path, "r");
    if (!fp)
        return 0;
    char line[512];
    uint32_t n = 0, cap = 0;
    candle *v = NULL;
    while (fgets(line, sizeof line, fp)) {
        if (line[0] < '0' || line[0] > '9')
            continue;
        char *tok[6];
        int k = 0;
        for (char *s = strtok(line, ",\r\n"); s && k < 6; s = strtok(NULL, ",\r\n"))
            tok[k++] = s;
        if (k < 6)
            continue;
        candle c;
        memset(&c, 0, sizeof c);
        c.open_ms = strtoll(tok[0], NULL, 10);
        kdec *dst[5] = { &c.o, &c.h, &c.l, &c.c, &c.volume };
        int bad = 0;
        for (int j = 0; j < 5; j++)
            bad |= decimal_parse(tok[j + 1], strlen(tok[j + 1]), dst[j]) != K_OK;
        if (bad)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 1024;
            v = realloc(v, cap * sizeof *v);
        }
        v[n++] = c;
    }
    fclose(fp);
    *out = v;
    return n;
}
#endif
