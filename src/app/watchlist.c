/* The run-time watchlist (see watchlist.h): two small lists of "venue:SYMBOL" -- added and
 * removed -- over what the data source brings (the replay's capture, the config's watch list),
 * checked against the instruments the app knows, kept in the store's settings under
 * "watchlist" as {"added": [...], "removed": [...]} and applied again at start (live: before
 * the connections open, so a removed symbol is not subscribed and an added one is). The market
 * model never forgets a symbol (its tables are sized at start); a removed one is only not shown
 * and, live, unsubscribed when it was added at run time. */
#include "kestrel/watchlist.h"

#include "kestrel/app.h"
#include "kestrel/cmd.h"
#include "kestrel/instrument.h"
#include "kestrel/live.h"
#include "kestrel/store.h"
#include "kestrel/xmalloc.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WATCHLIST_KEY "watchlist"
#define WATCHLIST_MAX CONFIG_MAX_WATCH

struct watchlist {
    char added[WATCHLIST_MAX][CONFIG_WATCH_MAX];
    int nadded;
    char removed[WATCHLIST_MAX][CONFIG_WATCH_MAX];
    int nremoved;
    bool applied; /* the added symbols are in the market (replay) */
};

static struct watchlist *watchlist_get(app *a)
{
    if (!a->watchlist)
        a->watchlist = xcalloc(1, sizeof *a->watchlist);
    return a->watchlist;
}

static int watchlist_find(char (*list)[CONFIG_WATCH_MAX], int n, const char *spec)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(list[i], spec))
            return i;
    return -1;
}

static void watchlist_drop(char (*list)[CONFIG_WATCH_MAX], int *n, const char *spec)
{
    int i = watchlist_find(list, *n, spec);
    if (i < 0)
        return;
    memmove(list[i], list[i + 1], (size_t)(*n - i - 1) * CONFIG_WATCH_MAX);
    (*n)--;
}

static void watchlist_push(char (*list)[CONFIG_WATCH_MAX], int *n, const char *spec)
{
    if (watchlist_find(list, *n, spec) < 0 && *n < WATCHLIST_MAX)
        snprintf(list[(*n)++], CONFIG_WATCH_MAX, "%s", spec);
}

static void watchlist_save(app *a)
{
    struct watchlist *w = watchlist_get(a);
    if (!a->store)
        return;
    cJSON *j = cJSON_CreateObject();
    cJSON *ad = j ? cJSON_AddArrayToObject(j, "added") : NULL;
    cJSON *rm = j ? cJSON_AddArrayToObject(j, "removed") : NULL;
    for (int i = 0; ad && i < w->nadded; i++)
        cJSON_AddItemToArray(ad, cJSON_CreateString(w->added[i]));
    for (int i = 0; rm && i < w->nremoved; i++)
        cJSON_AddItemToArray(rm, cJSON_CreateString(w->removed[i]));
    char *txt = ad && rm ? cJSON_PrintUnformatted(j) : NULL;
    cJSON_Delete(j);
    if (!txt || store_put_setting(a->store, WATCHLIST_KEY, txt, a->data_ms) != STORE_OK) {
        if (a->log)
            log_warn(a->log, "watchlist: could not be queued for the store");
    }
    free(txt);
}

/* "venue:SYMBOL" of a venue and a name. */
static void watchlist_spec(enum venue v, const char *name, char *out, size_t cap)
{
    snprintf(out, cap, "%s:%s", venue_name(v), name);
}

/* Does the config's watch list (live) carry it? */
static bool watchlist_in_config(const app *a, const char *spec)
{
    for (int i = 0; i < a->cfg.watch_count; i++)
        if (!strcasecmp(a->cfg.watch[i], spec))
            return true;
    return false;
}

void watchlist_start(app *a)
{
    struct watchlist *w = watchlist_get(a);
    char text[STORE_TEXT_MAX];
    if (!a->store || store_get_setting(a->store, WATCHLIST_KEY, text, sizeof text) != STORE_OK)
        return;
    cJSON *j = cJSON_Parse(text);
    const cJSON *ad = cJSON_GetObjectItemCaseSensitive(j, "added");
    const cJSON *rm = cJSON_GetObjectItemCaseSensitive(j, "removed");
    const cJSON *it;
    cJSON_ArrayForEach(it, ad)
        if (cJSON_IsString(it) && strlen(it->valuestring) < CONFIG_WATCH_MAX)
            watchlist_push(w->added, &w->nadded, it->valuestring);
    cJSON_ArrayForEach(it, rm)
        if (cJSON_IsString(it) && strlen(it->valuestring) < CONFIG_WATCH_MAX)
            watchlist_push(w->removed, &w->nremoved, it->valuestring);
    cJSON_Delete(j);
    if (a->source == APP_SOURCE_LIVE) { /* the watch list live_open subscribes */
        kconfig *c = &a->cfg;
        int left = c->watch_count;
        for (int i = 0; i < c->watch_count; i++)
            left -= watchlist_find(w->removed, w->nremoved, c->watch[i]) >= 0;
        for (int i = 0; i < w->nadded; i++)
            left += !watchlist_in_config(a, w->added[i]);
        if (left <= 0) { /* nothing would be watched: the config's list, as it says */
            if (a->log)
                log_warn(a->log, "watchlist: every watched symbol was removed at run time; "
                         "the config's watch list is used");
            w->nremoved = 0;
        }
        for (int i = 0; i < c->watch_count;) {
            if (watchlist_find(w->removed, w->nremoved, c->watch[i]) >= 0) {
                memmove(c->watch[i], c->watch[i + 1],
                        (size_t)(c->watch_count - i - 1) * CONFIG_WATCH_MAX);
                c->watch_count--;
            } else {
                i++;
            }
        }
        for (int i = 0; i < w->nadded && c->watch_count < CONFIG_MAX_WATCH; i++)
            if (!watchlist_in_config(a, w->added[i]))
                snprintf(c->watch[c->watch_count++], CONFIG_WATCH_MAX, "%s", w->added[i]);
    }
    watchlist_apply(a);
    if (a->log && (w->nadded || w->nremoved))
        log_info(a->log, "watchlist: %d symbol(s) added and %d removed at run time (stored)",
                 w->nadded, w->nremoved);
}

/* The added symbols into the market (replay: they have no data of their own). */
static void watchlist_add_all(app *a)
{
    struct watchlist *w = watchlist_get(a);
    for (int i = 0; i < w->nadded; i++) {
        enum venue v;
        char sym[KSYM_MAX], err[160];
        if (live_parse_watch(w->added[i], &v, sym, sizeof sym, err, sizeof err) == K_OK)
            (void)market_add(a->market, v, sym);
    }
}

/* A symbol the data brings: after the first one the added symbols go into the market (so the
 * focus, the first symbol, is one with data), and a shown symbol takes the focus from a
 * removed one (the data of a removed symbol may well arrive first). */
static void watchlist_on_note(void *ud, const market_note *n)
{
    app *a = ud;
    struct watchlist *w = watchlist_get(a);
    if (n->kind != MARKET_SYMBOL_ADDED)
        return;
    if (!w->applied && a->source != APP_SOURCE_LIVE) {
        w->applied = true;
        watchlist_add_all(a);
    }
    uint32_t nm = market_count(a->market);
    if (a->focus < nm && !watchlist_shown(a, market_at(a->market, a->focus)) &&
        watchlist_shown(a, n->sym))
        app_set_focus(a, n->sym->index);
}

void watchlist_apply(app *a)
{
    struct watchlist *w = watchlist_get(a);
    if (!a->market || (w->nadded == 0 && w->nremoved == 0))
        return;
    w->applied = a->source == APP_SOURCE_LIVE; /* live: the symbols come with their streams */
    if (!w->applied && market_count(a->market) > 0) {
        w->applied = true;
        watchlist_add_all(a);
    }
    if (market_subscribe(a->market, watchlist_on_note, a) != K_OK && !w->applied) {
        w->applied = true;
        watchlist_add_all(a);
    }
}

void watchlist_free(app *a)
{
    if (a->market)
        market_unsubscribe(a->market, watchlist_on_note, a);
    free(a->watchlist);
    a->watchlist = NULL;
}

bool watchlist_shown(const app *a, const market_sym *s)
{
    const struct watchlist *w = a->watchlist;
    if (!w || !s || w->nremoved == 0)
        return s != NULL;
    char spec[CONFIG_WATCH_MAX];
    watchlist_spec(s->venue, s->name, spec, sizeof spec);
    for (int i = 0; i < w->nremoved; i++)
        if (!strcmp(w->removed[i], spec))
            return false;
    return true;
}

uint32_t watchlist_rows(const app *a, uint32_t *idx, uint32_t cap)
{
    uint32_t n = 0, m = a->market ? market_count(a->market) : 0;
    for (uint32_t i = 0; i < m && n < cap; i++)
        if (watchlist_shown(a, market_at(a->market, i)))
            idx[n++] = i;
    return n;
}

/* Parses "[venue:]SYMBOL" into its parts (upper case); *given says whether a venue was named. */
static int watchlist_parse(const char *spec, enum venue *v, bool *given, char *sym, size_t cap,
                           char *err, size_t errlen)
{
    const char *colon = strchr(spec, ':');
    *given = colon != NULL;
    char full[CONFIG_WATCH_MAX + 16];
    if (colon) {
        snprintf(full, sizeof full, "%s", spec);
    } else {
        snprintf(full, sizeof full, "binance-spot:%s", spec);
    }
    for (char *p = full; *p && *p != ':'; p++)
        *p = (char)tolower((unsigned char)*p);
    return live_parse_watch(full, v, sym, cap, err, errlen);
}

/* The instruments' verdict on (v, sym). */
static bool watchlist_known(const app *a, enum venue v, const char *sym)
{
    const instruments *in = app_instruments(a);
    return (a->market && market_find(a->market, v, sym)) ||
           (in && instruments_find(in, v, sym) != NULL);
}

int watchlist_add(app *a, const char *spec, market_sym **out, char *err, size_t errlen)
{
    struct watchlist *w = watchlist_get(a);
    enum venue v;
    bool given;
    char sym[KSYM_MAX];
    if (out)
        *out = NULL;
    if (watchlist_parse(spec, &v, &given, sym, sizeof sym, err, errlen) != K_OK)
        return K_ERR;
    bool live = a->source == APP_SOURCE_LIVE;
    if (!given) { /* the venue whose instruments know it: binance-spot, then USD-M, then OKX */
        static const enum venue order[] = {VENUE_BINANCE_SPOT, VENUE_BINANCE_USDM, VENUE_OKX};
        for (size_t i = 0; i < K_ARRAY_LEN(order); i++)
            if (watchlist_known(a, order[i], sym)) {
                v = order[i];
                break;
            }
    }
    bool known = watchlist_known(a, v, sym);
    /* live OKX has no instrument file bundled: its instId form is checked by the venue */
    if (!known && !(live && v == VENUE_OKX && strchr(sym, '-'))) {
        /* name what is known, so the person sees what can be added */
        char list[200] = "";
        size_t ll = 0;
        const instruments *in = app_instruments(a);
        for (size_t i = 0; in && i < instruments_count(in) && ll + 40 < sizeof list; i++) {
            const instrument *it = instruments_at(in, i);
            if (given && it->venue != v)
                continue;
            ll += (size_t)snprintf(list + ll, sizeof list - ll, "%s%s:%s", ll ? " " : "",
                                   venue_name(it->venue), it->symbol);
        }
        snprintf(err, errlen, "%s is not a known %s instrument (%s: %s)", sym,
                 given ? venue_name(v) : "binance-spot / binance-usdm",
                 live ? "the bundled exchange info lists"
                      : "in replay the capture's symbols and the bundled exchange info's",
                 ll ? list : "none");
        return K_ERR;
    }
    char full[CONFIG_WATCH_MAX];
    watchlist_spec(v, sym, full, sizeof full);
    market_sym *s = a->market ? market_find(a->market, v, sym) : NULL;
    bool hidden = watchlist_find(w->removed, w->nremoved, full) >= 0;
    if (s && !hidden) {
        snprintf(err, errlen, "%s is already on the watchlist", full);
        return K_ERR;
    }
    if (!s && a->market && market_count(a->market) >= market_get_limits(a->market)->max_symbols) {
        snprintf(err, errlen, "the watchlist is full (market.max_symbols = %u)",
                 market_get_limits(a->market)->max_symbols);
        return K_ERR;
    }
    if (live && !watchlist_in_config(a, full)) { /* (again) subscribed on its own connection */
        if (!a->live) {
            snprintf(err, errlen, "live data is not running");
            return K_ERR;
        }
        if (live_symbol_add(a->live, v, sym, err, errlen) != LIVE_OK)
            return K_ERR;
    } else if (!live && !s && a->market) {
        s = market_add(a->market, v, sym);
        if (!s) {
            snprintf(err, errlen, "%s cannot be added (the market's table is full)", full);
            return K_ERR;
        }
    }
    watchlist_drop(w->removed, &w->nremoved, full);
    /* kept as added: live every symbol the config does not watch (it must be subscribed at the
     * next start), in replay one the capture did not bring */
    if (!watchlist_in_config(a, full) && (live || !(s && s->announced)))
        watchlist_push(w->added, &w->nadded, full);
    watchlist_save(a);
    a->changes++;
    if (out)
        *out = s;
    if (a->log)
        log_info(a->log, "watchlist: %s added%s", full, live && !s ? " (subscribing)" : "");
    return K_OK;
}

int watchlist_remove(app *a, const char *spec, char *err, size_t errlen)
{
    struct watchlist *w = watchlist_get(a);
    enum venue v;
    bool given;
    char sym[KSYM_MAX];
    if (watchlist_parse(spec, &v, &given, sym, sizeof sym, err, errlen) != K_OK)
        return K_ERR;
    market_sym *s = NULL;
    for (uint32_t i = 0; a->market && i < market_count(a->market) && !s; i++) {
        market_sym *m = market_at(a->market, i);
        if (!strcmp(m->name, sym) && (!given || m->venue == v) && watchlist_shown(a, m))
            s = m;
    }
    char full[CONFIG_WATCH_MAX];
    watchlist_spec(given || !s ? v : s->venue, sym, full, sizeof full);
    bool pending = watchlist_find(w->added, w->nadded, full) >= 0; /* live, no data yet */
    if (!s && !pending) {
        snprintf(err, errlen, "%s is not on the watchlist", given ? full : sym);
        return K_ERR;
    }
    if (a->source == APP_SOURCE_LIVE && a->live && watchlist_find(w->added, w->nadded, full) >= 0)
        (void)live_symbol_remove(a->live, s ? s->venue : v, sym); /* added at run time */
    bool was_added = watchlist_find(w->added, w->nadded, full) >= 0;
    watchlist_drop(w->added, &w->nadded, full);
    /* a symbol the source brings (capture, config) or whose data arrived stays in the market:
     * it is hidden */
    if (!was_added || s)
        watchlist_push(w->removed, &w->nremoved, full);
    watchlist_save(a);
    if (s && a->focus == s->index) { /* the focus goes to the first symbol still shown */
        uint32_t idx[1];
        if (watchlist_rows(a, idx, 1) == 1)
            app_set_focus(a, idx[0]);
    }
    a->changes++;
    if (a->log)
        log_info(a->log, "watchlist: %s removed", full);
    return K_OK;
}

cJSON *watchlist_json(const app *a)
{
    const struct watchlist *w = a->watchlist;
    cJSON *j = cJSON_CreateObject();
    cJSON *arr = j ? cJSON_AddArrayToObject(j, "symbols") : NULL;
    cJSON *rm = j ? cJSON_AddArrayToObject(j, "removed") : NULL;
    if (!arr || !rm) {
        cJSON_Delete(j);
        return NULL;
    }
    for (uint32_t i = 0; a->market && i < market_count(a->market); i++) {
        const market_sym *s = market_at(a->market, i);
        if (!watchlist_shown(a, s))
            continue;
        char spec[CONFIG_WATCH_MAX];
        watchlist_spec(s->venue, s->name, spec, sizeof spec);
        cJSON *o = cJSON_CreateObject();
        if (!o)
            break;
        cJSON_AddItemToArray(arr, o);
        cJSON_AddStringToObject(o, "symbol", s->name);
        cJSON_AddStringToObject(o, "venue", venue_name(s->venue));
        bool added = w && watchlist_find((char (*)[CONFIG_WATCH_MAX])w->added, w->nadded,
                                         spec) >= 0;
        cJSON_AddStringToObject(o, "source", added ? "added"
                                             : a->source == APP_SOURCE_LIVE ? "config"
                                                                            : "capture");
        cJSON_AddBoolToObject(o, "data", s->announced);
        cJSON_AddBoolToObject(o, "focused", a->focus == s->index);
    }
    for (int i = 0; w && i < w->nadded; i++) { /* live: subscribed, no data yet */
        enum venue v;
        char sym[KSYM_MAX], err[160];
        if (live_parse_watch(w->added[i], &v, sym, sizeof sym, err, sizeof err) != K_OK ||
            (a->market && market_find(a->market, v, sym)))
            continue;
        cJSON *o = cJSON_CreateObject();
        if (!o)
            break;
        cJSON_AddItemToArray(arr, o);
        cJSON_AddStringToObject(o, "symbol", sym);
        cJSON_AddStringToObject(o, "venue", venue_name(v));
        cJSON_AddStringToObject(o, "source", "added");
        cJSON_AddBoolToObject(o, "data", false);
        cJSON_AddBoolToObject(o, "focused", false);
    }
    for (int i = 0; w && i < w->nremoved; i++)
        cJSON_AddItemToArray(rm, cJSON_CreateString(w->removed[i]));
    return j;
}

/* ---- `symbols`, `symbols add SYMBOL`, `symbols remove SYMBOL` ---- */

static cmd_result watchlist_exec(cmd_ctx *c)
{
    app *a = c->a;
    char err[CMD_ERR_MAX - 64] = "";
    if (c->argc == 1) {
        cJSON *j = watchlist_json(a);
        if (!j)
            return cmd_fail(c, "out of memory");
        cJSON_Delete(c->out);
        c->out = j;
        return CMD_OK;
    }
    const char *op = c->argv[1];
    bool add = !strcmp(op, "add");
    if ((!add && strcmp(op, "remove")) || c->argc != 3)
        return cmd_fail(c, "usage: symbols [add|remove SYMBOL]");
    market_sym *s = NULL;
    int rc = add ? watchlist_add(a, c->argv[2], &s, err, sizeof err)
                 : watchlist_remove(a, c->argv[2], err, sizeof err);
    if (rc != K_OK)
        return cmd_fail(c, "symbols %s: %s", op, err);
    cmd_json_str(c, c->out, add ? "added" : "removed", c->argv[2]);
    cJSON *j = watchlist_json(a);
    if (!j)
        return cmd_fail(c, "out of memory");
    cJSON_AddItemToObject(c->out, "watchlist", j);
    if (c->origin == CMD_FROM_KEY)
        app_flash(a, "%s %s", c->argv[2], add ? "added" : "removed");
    return CMD_OK;
}

const cmd_entry cmd_symbols_entry = {
    .name = "symbols", .args = "[add|remove SYMBOL]",
    .help = "the watchlist; add ([venue:]SYMBOL, checked against the instruments) or remove "
            "a symbol (kept for the next start)",
    .max_args = 2, .exec = watchlist_exec};
