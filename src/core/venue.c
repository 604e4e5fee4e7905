/* Venue names: the one table that maps enum venue to the names used in config, JSON and screens. */
#include "kestrel/common.h"

#include <string.h>

static const char *const venue_names[VENUE_COUNT] = {
    [VENUE_BINANCE_SPOT] = "binance-spot",
    [VENUE_BINANCE_USDM] = "binance-usdm",
    [VENUE_OKX] = "okx",
};

const char *venue_name(enum venue v)
{
    return (unsigned)v < VENUE_COUNT ? venue_names[v] : "unknown";
}

int venue_parse(const char *name, enum venue *out)
{
    for (int i = 0; i < VENUE_COUNT; i++) {
        if (strcmp(name, venue_names[i]) == 0) {
            *out = (enum venue)i;
            return K_OK;
        }
    }
    return K_ERR;
}
