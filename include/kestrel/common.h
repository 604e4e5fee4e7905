/* Shared basics: result codes, the exact decimal type, venues and symbol sizes.
 * Every module includes this; it holds no state. */
#ifndef KESTREL_COMMON_H
#define KESTREL_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define K_OK 0
#define K_ERR (-1)

/* Money and quantities: signed fixed point with 8 decimals (Binance's own resolution).
 * 1 unit = 1e-8. Range +-92,233,720,368.54775807. Products (notional) go through __int128. */
typedef int64_t kdec;
#define KDEC_SCALE 100000000LL
#define KDEC_DIGITS 8
#define KDEC_MAX INT64_MAX

#define KSYM_MAX 24 /* symbol name incl. NUL, e.g. "BTCUSDT", "BTC-USDT-SWAP" */

enum venue {
    VENUE_BINANCE_SPOT = 0,
    VENUE_BINANCE_USDM,
    VENUE_OKX,
    VENUE_COUNT
};

/* "binance-spot", "binance-usdm", "okx" */
const char *venue_name(enum venue v);
/* K_OK and *out set, or K_ERR for an unknown name. */
int venue_parse(const char *name, enum venue *out);

/* Typed results: each area has its own enum (store_result, ctl_result, broker_result, ...) whose
 * 0 is success, with a *_strerror(); functions returning one carry K_MUST_USE. */
#define K_MUST_USE __attribute__((warn_unused_result))

#define K_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define K_MIN(a, b) ((a) < (b) ? (a) : (b))
#define K_MAX(a, b) ((a) > (b) ? (a) : (b))

#endif
