/* The watchlist edited at run time (`a` / `d`, `kestrel ctl symbols add|remove SYMBOL`): a
 * symbol is added only when the instruments know it (in replay: the capture's symbols and the
 * bundled real exchange info; a clear error otherwise), live it is subscribed at once
 * (live_symbol_add); a removed symbol leaves the watchlist (live: unsubscribed when it was added
 * at run time; replay: its data still flows, unseen). Both lists are kept in the store's
 * settings ("watchlist") and applied again at the next start, over the config's watch list. */
#ifndef KESTREL_WATCHLIST_H
#define KESTREL_WATCHLIST_H
#include "kestrel/common.h"

#include <stddef.h>

struct app;
struct market_sym;
struct cJSON;

/* After the store opens (before the live connections do): the stored additions and removals;
 * live, they change the watch list live_open subscribes. */
void watchlist_start(struct app *a);
/* After the market model was rebuilt (a seek's re-run): the added symbols again. */
void watchlist_apply(struct app *a);
void watchlist_free(struct app *a);

/* "[venue:]SYMBOL" (case-insensitive; without a venue: the one whose instruments know it,
 * binance-spot first). K_OK with the symbol now watched (*out), or K_ERR + a message naming the
 * symbol and what is known. */
int watchlist_add(struct app *a, const char *spec, struct market_sym **out, char *err,
                  size_t errlen);
int watchlist_remove(struct app *a, const char *spec, char *err, size_t errlen);

/* Is the market symbol on the watchlist (not removed)? */
bool watchlist_shown(const struct app *a, const struct market_sym *s);
/* The market indexes of the shown symbols, in market order; returns how many (<= cap). */
uint32_t watchlist_rows(const struct app *a, uint32_t *idx, uint32_t cap);
/* `symbols`: every watched symbol and the removed ones (JSON, caller frees). */
struct cJSON *watchlist_json(const struct app *a);

#endif
