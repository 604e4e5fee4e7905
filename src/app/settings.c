/* The run-time trading settings (see settings.h): what the `e` form shows and edits, where each
 * value came from, its persistence in the store's settings table ("settings.<key>" =
 * {"value": V, "file": F-or-null}: F is the config file's value it overrode, so an edited file
 * wins at the next start) and the write-back into the config file through cfgwrite. Every value
 * is validated and applied by `set` (trading.c: risk_config_set / paper_set, the same code the
 * config loader checks the file with); this module only keeps what `set` applied. */
#include "kestrel/settings.h"

#include "kestrel/app.h"
#include "kestrel/cfgwrite.h"
#include "kestrel/paper.h"
#include "kestrel/risk.h"
#include "kestrel/runner.h"
#include "kestrel/store.h"
#include "kestrel/xmalloc.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SETTINGS_PREFIX "settings."

static const settings_field settings_fields[] = {
    {"risk.tp_pct", "take-profit %", NULL},
    {"risk.sl_pct", "stop-loss %", NULL},
    {"risk.sl_mode", "stop placement", "atr pct"},
    {"risk.max_positions", "max positions", NULL},
    {"risk.size_mode", "sizing mode", "fixed_quote risk_pct kelly confidence"},
    {"risk.size_quote", "position size (quote)", NULL},
    {"risk.risk_pct", "risk % per trade", NULL},
    {"risk.max_leverage", "max leverage", NULL},
    {"risk.daily_loss_pct", "daily loss %", NULL},
    {"fees.binance-spot.maker", "fee binance-spot maker %", NULL},
    {"fees.binance-spot.taker", "fee binance-spot taker %", NULL},
    {"fees.binance-usdm.maker", "fee binance-usdm maker %", NULL},
    {"fees.binance-usdm.taker", "fee binance-usdm taker %", NULL},
    {"fees.okx.maker", "fee okx maker %", NULL},
    {"fees.okx.taker", "fee okx taker %", NULL},
};

static const char *const settings_paper_keys[] = {
    "paper.slippage_cap_pct", "fees.binance-spot.maker", "fees.binance-spot.taker",
    "fees.binance-usdm.maker", "fees.binance-usdm.taker", "fees.okx.maker", "fees.okx.taker",
};

#define SETTINGS_MAX 64

struct settings {
    config_kv file[CONFIG_TRADE_MAX]; /* the config file's trading values at start */
    int nfile;
    char stored[SETTINGS_MAX][CONFIG_TRADE_KEY_MAX]; /* keys whose value came from the store */
    int nstored;
    char vals[SETTINGS_MAX][64]; /* settings_write's scratch */
};

size_t settings_field_count(void)
{
    return K_ARRAY_LEN(settings_fields);
}

const settings_field *settings_field_at(size_t i)
{
    return i < K_ARRAY_LEN(settings_fields) ? &settings_fields[i] : NULL;
}

bool settings_persists(const char *key)
{
    if (!key)
        return false;
    for (size_t i = 0; risk_config_key(i); i++)
        if (!strcmp(risk_config_key(i), key))
            return true;
    for (size_t i = 0; i < K_ARRAY_LEN(settings_paper_keys); i++)
        if (!strcmp(settings_paper_keys[i], key))
            return true;
    return false;
}

/* The i-th persisted key (risk.* then the paper / fee keys), NULL past the last. */
static const char *settings_key_at(size_t i)
{
    size_t nr = 0;
    while (risk_config_key(nr))
        nr++;
    if (i < nr)
        return risk_config_key(i);
    return i - nr < K_ARRAY_LEN(settings_paper_keys) ? settings_paper_keys[i - nr] : NULL;
}

static const char *settings_file_value(const struct settings *s, const char *key)
{
    for (int i = 0; s && i < s->nfile; i++)
        if (!strcmp(s->file[i].key, key))
            return s->file[i].value;
    return NULL;
}

/* The built-in default of a key as text: the trading runner's (its sizing default is
 * confidence), which is what runs when neither the file nor the store says otherwise. */
static int settings_default(const char *key, char *buf, size_t cap)
{
    runner_config rc;
    runner_config_default(&rc);
    if (!strncmp(key, "risk.", 5))
        return risk_config_get(&rc.risk, key, buf, cap);
    return paper_config_get(&rc.paper, key, buf, cap);
}

/* Checks a value with the module's validator on a scratch config. */
static bool settings_valid(const char *key, const char *value, char *why, size_t cap)
{
    if (!strncmp(key, "risk.", 5)) {
        risk_config rc;
        risk_config_default(&rc);
        return risk_config_set(&rc, key, value, why, cap) == RISK_OK;
    }
    paper_config pc;
    paper_config_default(&pc);
    return paper_config_set(&pc, key, value, why, cap) == K_OK;
}

/* The value as the module writes it back ("0.70" -> "0.7"): what a comparison must use. */
static void settings_canon(const char *key, const char *value, char *out, size_t cap)
{
    char why[256];
    runner_config rc;
    runner_config_default(&rc);
    bool ok = !strncmp(key, "risk.", 5)
                  ? risk_config_set(&rc.risk, key, value, why, sizeof why) == RISK_OK &&
                        risk_config_get(&rc.risk, key, out, cap) == K_OK
                  : paper_config_set(&rc.paper, key, value, why, sizeof why) == K_OK &&
                        paper_config_get(&rc.paper, key, out, cap) == K_OK;
    if (!ok)
        snprintf(out, cap, "%s", value);
}

/* Sets key = value in the session's trading config (what trading_open applies). */
static void settings_cfg_put(app *a, const char *key, const char *value)
{
    kconfig *cfg = &a->cfg;
    int i = 0;
    while (i < cfg->trade_count && strcmp(cfg->trade[i].key, key))
        i++;
    if (i == cfg->trade_count) {
        if (cfg->trade_count >= CONFIG_TRADE_MAX)
            return;
        cfg->trade_count++;
    }
    snprintf(cfg->trade[i].key, sizeof cfg->trade[i].key, "%s", key);
    snprintf(cfg->trade[i].value, sizeof cfg->trade[i].value, "%s", value);
}

static void settings_mark(struct settings *s, const char *key, bool stored)
{
    int i = 0;
    while (i < s->nstored && strcmp(s->stored[i], key))
        i++;
    if (stored && i == s->nstored && s->nstored < SETTINGS_MAX)
        snprintf(s->stored[s->nstored++], CONFIG_TRADE_KEY_MAX, "%s", key);
    else if (!stored && i < s->nstored)
        memmove(s->stored[i], s->stored[i + 1],
                (size_t)(s->nstored-- - i - 1) * sizeof s->stored[0]);
}

static void settings_put(app *a, const char *key, const char *json)
{
    char sk[STORE_SETTING_KEY_MAX];
    if (!a->store || snprintf(sk, sizeof sk, SETTINGS_PREFIX "%s", key) >= (int)sizeof sk)
        return;
    if (store_put_setting(a->store, sk, json, a->data_ms) != STORE_OK && a->log)
        log_warn(a->log, "settings: %s could not be queued for the store", key);
}

void settings_start(app *a)
{
    if (!a->settings)
        a->settings = xcalloc(1, sizeof *a->settings);
    struct settings *s = a->settings;
    s->nfile = 0;
    for (int i = 0; i < a->cfg.trade_count && s->nfile < CONFIG_TRADE_MAX; i++)
        s->file[s->nfile++] = a->cfg.trade[i];
    if (!a->store)
        return;
    for (size_t i = 0; settings_key_at(i); i++) {
        const char *key = settings_key_at(i);
        char sk[STORE_SETTING_KEY_MAX], text[512], why[256] = "";
        snprintf(sk, sizeof sk, SETTINGS_PREFIX "%s", key);
        if (store_get_setting(a->store, sk, text, sizeof text) != STORE_OK || !text[0])
            continue;
        cJSON *j = cJSON_Parse(text);
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, "value");
        const cJSON *f = cJSON_GetObjectItemCaseSensitive(j, "file");
        const char *fv = settings_file_value(s, key);
        if (!cJSON_IsString(v) || !(cJSON_IsString(f) || cJSON_IsNull(f))) {
            if (a->log)
                log_warn(a->log, "settings: the stored %s is not readable: ignored", key);
        } else if (cJSON_IsString(f) != (fv != NULL) || (fv && strcmp(fv, f->valuestring))) {
            /* the file was edited after the value was set: the file wins */
            if (a->log)
                log_info(a->log, "settings: %s: the config file says %s now (it said %s when %s "
                         "was set): the file's value is used", key, fv ? fv : "nothing",
                         cJSON_IsString(f) ? f->valuestring : "nothing", v->valuestring);
            settings_put(a, key, "");
        } else if (!settings_valid(key, v->valuestring, why, sizeof why)) {
            if (a->log)
                log_warn(a->log, "settings: the stored %s ignored: %s", key, why);
            settings_put(a, key, "");
        } else {
            settings_cfg_put(a, key, v->valuestring);
            settings_mark(s, key, true);
            if (a->log)
                log_info(a->log, "settings: %s = %s (stored; the config file says %s)", key,
                         v->valuestring, fv ? fv : "nothing");
        }
        cJSON_Delete(j);
    }
}

void settings_on_set(app *a, const char *key, const char *value)
{
    struct settings *s = a->settings;
    if (!s || !settings_persists(key))
        return;
    settings_cfg_put(a, key, value);
    const char *fv = settings_file_value(s, key);
    char def[64] = "", fc[64] = "";
    if (fv)
        settings_canon(key, fv, fc, sizeof fc);
    bool back = fv ? !strcmp(fc, value)
                   : settings_default(key, def, sizeof def) == K_OK && !strcmp(def, value);
    if (back) { /* the file's (or the default) value again: nothing to keep */
        settings_mark(s, key, false);
        settings_put(a, key, "");
        return;
    }
    cJSON *j = cJSON_CreateObject();
    if (!j || !cJSON_AddStringToObject(j, "value", value) ||
        !(fv ? cJSON_AddStringToObject(j, "file", fv) : cJSON_AddNullToObject(j, "file"))) {
        cJSON_Delete(j);
        return;
    }
    char *txt = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    if (txt)
        settings_put(a, key, txt);
    free(txt);
    settings_mark(s, key, true);
}

const char *settings_source(const app *a, const char *key)
{
    const struct settings *s = a->settings;
    for (int i = 0; s && i < s->nstored; i++)
        if (!strcmp(s->stored[i], key))
            return "stored";
    return settings_file_value(s, key) ? "file" : "default";
}

int settings_value(const app *a, const char *key, char *buf, size_t cap)
{
    runner *r = a->runner;
    if (!r || !key)
        return K_ERR;
    if (!strncmp(key, "risk.", 5))
        return risk_config_get(risk_get_config(runner_risk(r)), key, buf, cap);
    return paper_config_get(paper_get_config(runner_paper(r)), key, buf, cap);
}

/* Does the value in effect differ from what the file (or, without the key, the default) says? */
static bool settings_differs(const app *a, const char *key, char *val, size_t cap)
{
    if (settings_value(a, key, val, cap) != K_OK)
        return false;
    const char *fv = settings_file_value(a->settings, key);
    char def[64];
    if (fv) {
        settings_canon(key, fv, def, sizeof def);
        return strcmp(def, val) != 0;
    }
    return settings_default(key, def, sizeof def) == K_OK && strcmp(def, val) != 0;
}

int settings_pending(const app *a)
{
    int n = 0;
    char v[64];
    for (size_t i = 0; settings_key_at(i); i++)
        n += settings_differs(a, settings_key_at(i), v, sizeof v);
    return n;
}

int settings_write(app *a, int *written, cJSON *names, char *err, size_t errlen)
{
    *written = 0;
    struct settings *s = a->settings;
    if (!s || !a->runner) {
        snprintf(err, errlen, "trading is not running");
        return K_ERR;
    }
    if (cfgwrite_target(a->cfg.source, err, errlen) != CFGW_OK)
        return K_ERR; /* only the file Kestrel loaded, and never the shipped default */
    char (*vals)[64] = s->vals;
    cfgwrite_kv kv[SETTINGS_MAX];
    int n = 0;
    for (size_t i = 0; settings_key_at(i) && n < SETTINGS_MAX; i++) {
        const char *key = settings_key_at(i);
        if (!settings_differs(a, key, vals[n], sizeof vals[n]))
            continue;
        kv[n] = (cfgwrite_kv){.key = key, .value = vals[n],
                              .string = !strcmp(key, "risk.size_mode") ||
                                        !strcmp(key, "risk.sl_mode")};
        n++;
    }
    if (n == 0)
        return K_OK;
    int changed = 0;
    enum cfgwrite_result r = cfgwrite_file(a->cfg.source, kv, n, &changed, err, errlen);
    if (r != CFGW_OK)
        return K_ERR;
    for (int i = 0; i < n; i++) { /* the file says so now: nothing left to keep in the store */
        int k = 0;
        while (k < s->nfile && strcmp(s->file[k].key, kv[i].key))
            k++;
        if (k == s->nfile && s->nfile < CONFIG_TRADE_MAX)
            s->nfile++;
        if (k < s->nfile) {
            snprintf(s->file[k].key, sizeof s->file[k].key, "%s", kv[i].key);
            snprintf(s->file[k].value, sizeof s->file[k].value, "%s", kv[i].value);
        }
        settings_mark(s, kv[i].key, false);
        settings_put(a, kv[i].key, "");
        if (names)
            cJSON_AddItemToArray(names, cJSON_CreateString(kv[i].key));
        if (a->log)
            log_info(a->log, "settings: %s = %s written to %s", kv[i].key, kv[i].value,
                     a->cfg.source);
    }
    *written = n;
    return K_OK;
}

void settings_free(app *a)
{
    free(a->settings);
    a->settings = NULL;
}
