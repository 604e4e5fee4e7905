/* The risk and trading settings a person changes at run time (the `e` form, `kestrel ctl set`,
 * `kestrel ctl settings`): applied at once through the trading modules' own validators (the
 * same ranges as the config file), kept in the store's settings table and applied again at the
 * next start, and written back into the config file on request with its comments kept
 * (cfgwrite.h).
 *
 * Precedence at start: built-in default < config file < stored value. A stored value records
 * the file's value it overrode; when the file has been edited since (it now says something else
 * for that key), the file wins and the stored value is dropped (logged). docs/CONFIG.md. */
#ifndef KESTREL_SETTINGS_H
#define KESTREL_SETTINGS_H
#include "kestrel/common.h"

#include <stddef.h>

struct app;
struct cJSON;

/* One field of the form, in its order. */
typedef struct settings_field {
    const char *key;     /* "risk.tp_pct" */
    const char *label;   /* "take-profit %" */
    const char *choices; /* space-separated words for an enumerated value, NULL for text */
} settings_field;
size_t settings_field_count(void);
const settings_field *settings_field_at(size_t i);

/* A key whose run-time value is kept in the store (risk.*, fees.*, paper.slippage_cap_pct). */
bool settings_persists(const char *key);

/* At start, after the store opens and before the trading runner does: remembers the config
 * file's values and merges the stored ones into a->cfg.trade (so a seek's re-run keeps them). */
void settings_start(struct app *a);
/* After `set KEY VALUE` succeeded with the value now in effect: kept for the next start (and
 * the re-run of a seek). */
void settings_on_set(struct app *a, const char *key, const char *value);
/* "default", "file" or "stored": where the value in effect came from. */
const char *settings_source(const struct app *a, const char *key);
/* The value in effect (runner's) as text; K_ERR for an unknown key or without trading. */
int settings_value(const struct app *a, const char *key, char *buf, size_t cap);
/* How many of the form's values differ from the config file's (what `w` would write). */
int settings_pending(const struct app *a);
/* Writes every value that differs from the config file's into it (cfgwrite_file). K_OK with
 * *written keys (and their names in `names` when not NULL, a JSON array), or K_ERR + err. */
int settings_write(struct app *a, int *written, struct cJSON *names, char *err, size_t errlen);
void settings_free(struct app *a);

#endif
