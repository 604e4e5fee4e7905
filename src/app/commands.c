/* Control-socket commands and the status document. Every command reads or acts on the app the
 * same way a key in the UI does (through the app_* functions), so the socket, the UI and
 * --exit-at-end can never disagree. Prices and quantities are exact decimal strings formatted
 * from the integers, with the symbol's decimals. */
#include "kestrel/app.h"
#include "kestrel/ingest.h"
#include "kestrel/decimal.h"
#include "kestrel/replay.h"
#include "kestrel/store.h"
#include "kestrel/ta.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CMD_BOOK_MAX_DEPTH 5000
#define CMD_CANDLES_MAX 5000

static void cmd_add_dec(cJSON *o, const char *key, kdec v, int decimals)
{
    char buf[48];
    decimal_format(v, decimals, buf, sizeof buf);
    cJSON_AddStringToObject(o, key, buf);
}

static cJSON *cmd_dec(kdec v, int decimals)
{
    char buf[48];
    decimal_format(v, decimals, buf, sizeof buf);
    return cJSON_CreateString(buf);
}

static void cmd_iso_time(int64_t ms, char *buf, size_t cap)
{
    if (ms <= 0) {
        snprintf(buf, cap, "%s", "");
        return;
    }
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    if (!gmtime_r(&s, &tm)) { /* beyond struct tm's year: tm would be left unset */
        snprintf(buf, cap, "%s", "");
        return;
    }
    size_t n = strftime(buf, cap, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, cap - n, ".%03dZ", (int)(ms % 1000));
}

/* "BTCUSDT" (first venue that has it) or "binance-usdm:BTCUSDT". Case-insensitive name. */
static market_sym *cmd_find_symbol(app *a, const char *arg)
{
    char name[KSYM_MAX];
    const char *colon = strchr(arg, ':');
    const char *sym = colon ? colon + 1 : arg;
    size_t n = strlen(sym);
    if (n == 0 || n >= sizeof name)
        return NULL;
    for (size_t i = 0; i <= n; i++)
        name[i] = (char)((sym[i] >= 'a' && sym[i] <= 'z') ? sym[i] - 32 : sym[i]);
    if (colon) {
        char vname[32];
        size_t vn = (size_t)(colon - arg);
        if (vn >= sizeof vname)
            return NULL;
        memcpy(vname, arg, vn);
        vname[vn] = '\0';
        enum venue v;
        if (venue_parse(vname, &v) != K_OK)
            return NULL;
        return market_find(a->market, v, name);
    }
    for (uint32_t i = 0; i < market_count(a->market); i++) {
        market_sym *s = market_at(a->market, i);
        if (strcmp(s->name, name) == 0)
            return s;
    }
    return NULL;
}

static int cmd_parse_uint(const char *s, long max, long *out)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < 1 || v > max)
        return K_ERR;
    *out = v;
    return K_OK;
}

static cJSON *cmd_symbol_json(market_sym *s)
{
    cJSON *o = cJSON_CreateObject();
    const book_stats *bs = book_get_stats(s->book);
    cJSON_AddStringToObject(o, "symbol", s->name);
    cJSON_AddStringToObject(o, "venue", venue_name(s->venue));
    kdec bid, bq, ask, aq;
    if (book_is_live(s->book) && book_best(s->book, &bid, &bq, &ask, &aq)) {
        cmd_add_dec(o, "best_bid", bid, s->px_decimals);
        cmd_add_dec(o, "best_ask", ask, s->px_decimals);
    } else {
        cJSON_AddNullToObject(o, "best_bid");
        cJSON_AddNullToObject(o, "best_ask");
    }
    if (s->last_px)
        cmd_add_dec(o, "last_price", s->last_px, s->px_decimals);
    else
        cJSON_AddNullToObject(o, "last_price");
    cJSON_AddStringToObject(o, "book_state", book_state_name(book_state(s->book)));
    uint32_t nb = book_depth(s->book, BOOK_BID), na = book_depth(s->book, BOOK_ASK);
    cJSON_AddNumberToObject(o, "book_levels", (double)(nb + na));
    cJSON_AddNumberToObject(o, "bid_levels", nb);
    cJSON_AddNumberToObject(o, "ask_levels", na);
    cJSON_AddNumberToObject(o, "last_update_id", (double)book_last_id(s->book));
    cJSON_AddNumberToObject(o, "diffs", (double)s->diffs);
    cJSON_AddNumberToObject(o, "diffs_applied", (double)bs->diffs_applied);
    cJSON_AddNumberToObject(o, "gaps", (double)bs->gaps);
    cJSON_AddNumberToObject(o, "resyncs", (double)bs->resyncs);
    cJSON_AddNumberToObject(o, "crossed", (double)bs->crossed);
    cJSON_AddNumberToObject(o, "trades", (double)s->trades);
    cJSON_AddNumberToObject(o, "book_tickers", (double)s->tickers);
    cJSON *c = cJSON_AddObjectToObject(o, "candles");
    for (int t = 0; t < TF_COUNT; t++)
        cJSON_AddNumberToObject(c, tf_name((enum tf)t),
                                (double)candles_total_closed(s->series[t]));
    /* closed bars held per timeframe: the live ones plus what the history reader merged */
    cJSON *held = cJSON_AddObjectToObject(o, "bars_held");
    for (int t = 0; held && t < TF_COUNT; t++)
        cJSON_AddNumberToObject(held, tf_name((enum tf)t),
                                (double)candles_count(s->series[t]));
    return o;
}

cJSON *app_status_json(app *a)
{
    cJSON *o = cJSON_CreateObject();
    char t[40];
    cJSON_AddStringToObject(o, "version", a->version ? a->version : "");
    cJSON_AddStringToObject(o, "source", a->replay ? "replay" : "none");
    cJSON_AddStringToObject(o, "broker", "paper");
    if (a->replay) {
        cJSON *files = cJSON_AddArrayToObject(o, "files");
        for (int i = 0; i < replay_file_count(a->replay); i++) /* the paths actually opened */
            cJSON_AddItemToArray(files, cJSON_CreateString(replay_file(a->replay, i)->path));
        cJSON_AddNumberToObject(o, "speed", a->speed);
        cJSON_AddBoolToObject(o, "paused", a->paused);
        cJSON_AddBoolToObject(o, "finished", a->finished);
    }
    cmd_iso_time(a->data_ms, t, sizeof t);
    cJSON_AddStringToObject(o, "data_time", t);
    cJSON_AddNumberToObject(o, "data_time_ms", (double)a->data_ms);
    cJSON_AddNumberToObject(o, "messages", (double)a->messages);
    cJSON_AddNumberToObject(o, "malformed", (double)a->malformed);
    cJSON_AddNumberToObject(o, "messages_per_s", round(a->msgs_per_s));
    if (a->ingest && a->market) { /* the pipeline: what it dropped and which trades were late */
        const ingest_stats *is = ingest_get_stats(a->ingest);
        cJSON *ig = cJSON_AddObjectToObject(o, "ingest");
        if (ig) {
            cJSON_AddNumberToObject(ig, "frames", (double)is->frames);
            cJSON_AddNumberToObject(ig, "applied", (double)is->applied);
            cJSON_AddNumberToObject(ig, "ignored", (double)is->ignored);
            cJSON_AddNumberToObject(ig, "malformed", (double)is->malformed);
            cJSON_AddNumberToObject(ig, "bad_time", (double)is->bad_time);
            cJSON_AddNumberToObject(ig, "refused", (double)is->refused);
            cJSON_AddNumberToObject(ig, "bar_grace_ms", (double)ingest_grace_ms(a->ingest, TF_1S));
        }
        cJSON *late = cJSON_AddObjectToObject(o, "late_trades");
        for (int k = 0; late && k < TF_COUNT; k++)
            cJSON_AddNumberToObject(late, tf_name((enum tf)k),
                                    (double)market_late_trades(a->market, (enum tf)k));
    }
    if (a->replay) {
        const replay_stats *rs_ = replay_get_stats(a->replay);
        replay_stats rs = *rs_;
        cJSON_AddNumberToObject(o, "lines", (double)rs.lines);
        cJSON_AddNumberToObject(o, "read_errors", rs.read_errors);
    }
    if (a->store) {
        const store_stats *ss = store_get_stats(a->store);
        cJSON *st = cJSON_AddObjectToObject(o, "store");
        cJSON_AddStringToObject(st, "path", a->cfg.db_path);
        cJSON_AddNumberToObject(st, "rows_written", (double)ss->rows_written);
        cJSON_AddNumberToObject(st, "rows_dropped", (double)ss->dropped);
        cJSON_AddNumberToObject(st, "rows_failed", (double)ss->rows_failed);
        cJSON_AddNumberToObject(st, "errors", (double)ss->errors);
        cJSON_AddNumberToObject(st, "queue_depth", ss->queue_depth);
        store_health_info h = store_health(a->store);
        cJSON_AddStringToObject(st, "state", store_state_name(h.state));
        cJSON_AddNumberToObject(st, "rows_lost", (double)h.rows_lost);
        cJSON_AddNumberToObject(st, "rows_held", h.rows_held);
        if (ss->last_error[0])
            cJSON_AddStringToObject(st, "last_error", ss->last_error);
    }
    cJSON *syms = cJSON_AddArrayToObject(o, "symbols");
    for (uint32_t i = 0; i < market_count(a->market); i++)
        cJSON_AddItemToArray(syms, cmd_symbol_json(market_at(a->market, i)));
    return o;
}

static cJSON *cmd_book(app *a, int argc, const char *const *argv, char *err, size_t errlen)
{
    if (argc < 2 || argc > 3) {
        snprintf(err, errlen, "usage: book SYMBOL [DEPTH]");
        return NULL;
    }
    market_sym *s = cmd_find_symbol(a, argv[1]);
    if (!s) {
        snprintf(err, errlen, "unknown symbol '%s'", argv[1]);
        return NULL;
    }
    long depth = 10;
    if (argc == 3 && cmd_parse_uint(argv[2], CMD_BOOK_MAX_DEPTH, &depth) != K_OK) {
        snprintf(err, errlen, "depth '%s' is not valid (expected 1..%d)", argv[2],
                 CMD_BOOK_MAX_DEPTH);
        return NULL;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "symbol", s->name);
    cJSON_AddStringToObject(o, "venue", venue_name(s->venue));
    cJSON_AddStringToObject(o, "book_state", book_state_name(book_state(s->book)));
    bool live = book_is_live(s->book);
    cJSON_AddBoolToObject(o, "valid", live);
    cJSON_AddNumberToObject(o, "last_update_id", (double)book_last_id(s->book));
    for (int side = 0; side < 2; side++) {
        cJSON *arr = cJSON_AddArrayToObject(o, side == BOOK_BID ? "bids" : "asks");
        uint32_t n = live ? book_depth(s->book, (enum book_side)side) : 0;
        for (uint32_t i = 0; i < n && i < (uint32_t)depth; i++) {
            kdec px, qty;
            book_level(s->book, (enum book_side)side, i, &px, &qty);
            cJSON *lv = cJSON_CreateArray();
            cJSON_AddItemToArray(lv, cmd_dec(px, s->px_decimals));
            cJSON_AddItemToArray(lv, cmd_dec(qty, s->qty_decimals));
            cJSON_AddItemToArray(arr, lv);
        }
    }
    return o;
}

static cJSON *cmd_candle(const candle *c, int pd, int qd, bool forming)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "open_ms", (double)c->open_ms);
    cJSON_AddItemToObject(o, "o", cmd_dec(c->o, pd));
    cJSON_AddItemToObject(o, "h", cmd_dec(c->h, pd));
    cJSON_AddItemToObject(o, "l", cmd_dec(c->l, pd));
    cJSON_AddItemToObject(o, "c", cmd_dec(c->c, pd));
    cJSON_AddItemToObject(o, "volume", cmd_dec(c->volume, qd));
    cJSON_AddNumberToObject(o, "trades", c->trades);
    cJSON_AddBoolToObject(o, "forming", forming);
    return o;
}

static cJSON *cmd_candles(app *a, int argc, const char *const *argv, char *err, size_t errlen)
{
    if (argc < 3 || argc > 4) {
        snprintf(err, errlen, "usage: candles SYMBOL TF [N]");
        return NULL;
    }
    market_sym *s = cmd_find_symbol(a, argv[1]);
    if (!s) {
        snprintf(err, errlen, "unknown symbol '%s'", argv[1]);
        return NULL;
    }
    enum tf tf;
    if (tf_parse(argv[2], &tf) != K_OK) {
        snprintf(err, errlen, "timeframe '%s' is not valid (expected 1s 1m 5m 15m 1h 4h 1d)",
                 argv[2]);
        return NULL;
    }
    long want = 100;
    if (argc == 4 && cmd_parse_uint(argv[3], CMD_CANDLES_MAX, &want) != K_OK) {
        snprintf(err, errlen, "N '%s' is not valid (expected 1..%d)", argv[3], CMD_CANDLES_MAX);
        return NULL;
    }
    candles *c = s->series[tf];
    uint32_t n = candles_count(c);
    uint32_t from = n > (uint32_t)want ? n - (uint32_t)want : 0;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "symbol", s->name);
    cJSON_AddStringToObject(o, "venue", venue_name(s->venue));
    cJSON_AddStringToObject(o, "tf", tf_name(tf));
    cJSON_AddNumberToObject(o, "closed_total", (double)candles_total_closed(c));
    cJSON *arr = cJSON_AddArrayToObject(o, "candles");
    for (uint32_t i = from; i < n; i++)
        cJSON_AddItemToArray(arr, cmd_candle(candles_get(c, i), s->px_decimals,
                                             s->qty_decimals, false));
    const struct ta_chart *ch = app_chart_ta(a, s, tf);
    if (ch) { /* indicator values at the newest closed bar (null while warming up) */
        cJSON *ta = cJSON_AddObjectToObject(o, "indicators");
        const double *v = ta_chart_last(ch);
        for (uint32_t k = 0; k < ta_chart_outputs(ch); k++) {
            if (v && isfinite(v[k]))
                cJSON_AddNumberToObject(ta, ta_chart_output_name(ch, k), v[k]);
            else
                cJSON_AddNullToObject(ta, ta_chart_output_name(ch, k));
        }
    }
    const candle *f = candles_forming(c);
    if (f)
        cJSON_AddItemToObject(o, "forming",
                              cmd_candle(f, s->px_decimals, s->qty_decimals, true));
    else
        cJSON_AddNullToObject(o, "forming");
    return o;
}

static cJSON *cmd_ok(app *a)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddBoolToObject(o, "ok", 1);
    cJSON_AddBoolToObject(o, "paused", a->paused);
    cJSON_AddNumberToObject(o, "speed", a->speed);
    cJSON_AddBoolToObject(o, "finished", a->finished);
    return o;
}

cJSON *app_ctl_handler(void *ud, int argc, const char *const *argv, char *err, size_t errlen)
{
    app *a = ud;
    if (argc < 1) {
        snprintf(err, errlen, "missing command");
        return NULL;
    }
    const char *cmd = argv[0];
    if (strcmp(cmd, "status") == 0) {
        if (argc != 1) {
            snprintf(err, errlen, "usage: status");
            return NULL;
        }
        return app_status_json(a);
    }
    if (strcmp(cmd, "book") == 0)
        return cmd_book(a, argc, argv, err, errlen);
    if (strcmp(cmd, "candles") == 0)
        return cmd_candles(a, argc, argv, err, errlen);
    if (strcmp(cmd, "pause") == 0 || strcmp(cmd, "resume") == 0) {
        if (argc != 1) {
            snprintf(err, errlen, "usage: %s", cmd);
            return NULL;
        }
        if (!a->replay) {
            snprintf(err, errlen, "%s: no replay is running", cmd);
            return NULL;
        }
        app_set_paused(a, strcmp(cmd, "pause") == 0);
        return cmd_ok(a);
    }
    if (strcmp(cmd, "speed") == 0) {
        char *end = NULL;
        double v = argc == 2 ? strtod(argv[1], &end) : -1;
        if (argc != 2 || end == argv[1] || *end || !isfinite(v) || v < 0 || v > 1000 ||
            (v > 0 && v < 0.01)) {
            snprintf(err, errlen, "usage: speed X (0 = max, or 0.01..1000)");
            return NULL;
        }
        if (!a->replay) {
            snprintf(err, errlen, "speed: no replay is running");
            return NULL;
        }
        app_set_speed(a, v);
        return cmd_ok(a);
    }
    if (strcmp(cmd, "indicators") == 0) {
        if (argc > 2) {
            snprintf(err, errlen, "usage: indicators [LIST]  (e.g. sma_20,rsi_14; \"\" = none)");
            return NULL;
        }
        if (argc == 2 && app_set_indicators(a, argv[1], err, errlen) != K_OK)
            return NULL;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "indicators", a->indicators);
        return o;
    }
    if (strcmp(cmd, "quit") == 0) {
        app_request_quit(a);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddBoolToObject(o, "ok", 1);
        cJSON_AddStringToObject(o, "quitting", "bye");
        return o;
    }
    if (strcmp(cmd, "help") == 0) {
        cJSON *o = cJSON_CreateObject();
        cJSON *arr = cJSON_AddArrayToObject(o, "commands");
        static const char *const help[] = {"status", "book SYMBOL [DEPTH]",
                                           "candles SYMBOL TF [N]", "indicators [LIST]",
                                           "pause", "resume",
                                           "speed X", "quit", "help"};
        for (size_t i = 0; i < K_ARRAY_LEN(help); i++)
            cJSON_AddItemToArray(arr, cJSON_CreateString(help[i]));
        return o;
    }
    snprintf(err, errlen, "unknown command '%.64s' (try: help)", cmd);
    return NULL;
}
