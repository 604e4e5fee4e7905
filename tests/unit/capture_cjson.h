/* Test-local reader of the real Binance captures (../shared/data/binance/streams/ gzip files):
 * `<recv_ns> <json>` lines -> feed_event, decoded with cJSON. It exists so the market model
 * can be proven on real data independently of the project's fast decoder (written in
 * parallel); it is deliberately simple and slow. Handles the combined-stream envelope
 * {"stream","data"} carrying depthUpdate / trade / bookTicker, and the raw REST snapshot line
 * {"lastUpdateId",...}, which carries no symbol (the reader fills the file's symbol when
 * fill_snapshot_symbol is set, as a live client fills the symbol it requested).
 * Events and their level arrays are valid until the next cap_next() call. */
#ifndef KESTREL_TEST_CAPTURE_CJSON_H
#define KESTREL_TEST_CAPTURE_CJSON_H

#include "kestrel/decimal.h"
#include "kestrel/feed.h"

#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define CAP_LINE_MAX (1u << 20)

typedef struct cap_reader {
    gzFile gz;
    char *line;
    enum venue venue;
    char symbol[KSYM_MAX];
    bool fill_snapshot_symbol;
    cJSON *doc;
    feed_level *bids, *asks;
    uint32_t bids_cap, asks_cap;
    uint64_t lines, errors;
} cap_reader;

/* path relative to the shared data dir */
static inline int cap_open(cap_reader *r, const char *rel, enum venue v, const char *symbol)
{
    memset(r, 0, sizeof *r);
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", check_shared_data(), rel);
    r->gz = gzopen(path, "rb");
    if (!r->gz) {
        fprintf(stderr, "cannot open %s\n", path);
        return -1;
    }
    gzbuffer(r->gz, 1 << 17);
    r->line = malloc(CAP_LINE_MAX);
    r->venue = v;
    snprintf(r->symbol, sizeof r->symbol, "%s", symbol);
    r->fill_snapshot_symbol = true;
    return 0;
}

static inline void cap_close(cap_reader *r)
{
    if (r->gz)
        gzclose(r->gz);
    cJSON_Delete(r->doc);
    free(r->line);
    free(r->bids);
    free(r->asks);
    memset(r, 0, sizeof *r);
}

static inline int cap_dec(const cJSON *it, kdec *out)
{
    if (!cJSON_IsString(it))
        return -1;
    return decimal_parse(it->valuestring, strlen(it->valuestring), out) == K_OK ? 0 : -1;
}

static inline int64_t cap_int(const cJSON *obj, const char *key)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsNumber(it) ? (int64_t)it->valuedouble : 0; /* ids < 2^53: exact */
}

static inline int cap_levels(const cJSON *arr, feed_level **dst, uint32_t *cap, uint32_t *n)
{
    *n = 0;
    if (!cJSON_IsArray(arr))
        return -1;
    uint32_t cnt = (uint32_t)cJSON_GetArraySize(arr);
    if (cnt > *cap) {
        *dst = realloc(*dst, cnt * sizeof **dst);
        *cap = cnt;
    }
    const cJSON *lv;
    cJSON_ArrayForEach(lv, arr)
    {
        if (!cJSON_IsArray(lv) || cJSON_GetArraySize(lv) < 2)
            return -1;
        if (cap_dec(cJSON_GetArrayItem(lv, 0), &(*dst)[*n].px) ||
            cap_dec(cJSON_GetArrayItem(lv, 1), &(*dst)[*n].qty))
            return -1;
        (*n)++;
    }
    return 0;
}

/* 1 = event, 0 = end of file, -1 = unreadable line (counted in errors, reading may go on) */
static inline int cap_next(cap_reader *r, feed_event *ev)
{
    cJSON_Delete(r->doc);
    r->doc = NULL;
    if (!gzgets(r->gz, r->line, (int)CAP_LINE_MAX))
        return 0;
    r->lines++;
    size_t len = strlen(r->line);
    if (len == 0 || r->line[len - 1] != '\n') {
        int c = gzgetc(r->gz);
        if (c != -1) { /* line longer than the buffer */
            r->errors++;
            return -1;
        }
    }
    memset(ev, 0, sizeof *ev);
    ev->venue = r->venue;
    char *sp = strchr(r->line, ' ');
    if (!sp) {
        r->errors++;
        return -1;
    }
    ev->recv_ns = strtoll(r->line, NULL, 10);
    r->doc = cJSON_ParseWithLength(sp + 1, len - (size_t)(sp + 1 - r->line));
    if (!r->doc) {
        r->errors++;
        return -1;
    }
    const cJSON *luid = cJSON_GetObjectItemCaseSensitive(r->doc, "lastUpdateId");
    if (luid) {
        ev->kind = FEED_DEPTH_SNAPSHOT;
        if (r->fill_snapshot_symbol)
            snprintf(ev->symbol, sizeof ev->symbol, "%s", r->symbol);
        ev->u.depth.first_id = ev->u.depth.last_id = (int64_t)luid->valuedouble;
        ev->event_ms = cap_int(r->doc, "E");
        if (cap_levels(cJSON_GetObjectItemCaseSensitive(r->doc, "bids"), &r->bids, &r->bids_cap,
                       &ev->u.depth.nbids) ||
            cap_levels(cJSON_GetObjectItemCaseSensitive(r->doc, "asks"), &r->asks, &r->asks_cap,
                       &ev->u.depth.nasks)) {
            r->errors++;
            return -1;
        }
        ev->u.depth.bids = r->bids;
        ev->u.depth.asks = r->asks;
        return 1;
    }
    const cJSON *stream = cJSON_GetObjectItemCaseSensitive(r->doc, "stream");
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(r->doc, "data");
    if (!cJSON_IsString(stream) || !cJSON_IsObject(d)) {
        r->errors++;
        return -1;
    }
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(d, "s");
    if (cJSON_IsString(s))
        snprintf(ev->symbol, sizeof ev->symbol, "%s", s->valuestring);
    ev->event_ms = cap_int(d, "E");
    const char *sn = stream->valuestring;
    if (strstr(sn, "@depth")) {
        ev->kind = FEED_DEPTH_DIFF;
        ev->u.depth.first_id = cap_int(d, "U");
        ev->u.depth.last_id = cap_int(d, "u");
        const cJSON *pu = cJSON_GetObjectItemCaseSensitive(d, "pu");
        if (cJSON_IsNumber(pu)) {
            ev->u.depth.prev_id = (int64_t)pu->valuedouble;
            ev->u.depth.has_prev = true;
        }
        if (cap_levels(cJSON_GetObjectItemCaseSensitive(d, "b"), &r->bids, &r->bids_cap,
                       &ev->u.depth.nbids) ||
            cap_levels(cJSON_GetObjectItemCaseSensitive(d, "a"), &r->asks, &r->asks_cap,
                       &ev->u.depth.nasks)) {
            r->errors++;
            return -1;
        }
        ev->u.depth.bids = r->bids;
        ev->u.depth.asks = r->asks;
        return 1;
    }
    if (strstr(sn, "@trade")) {
        ev->kind = FEED_TRADE;
        ev->u.trade.id = cap_int(d, "t");
        ev->u.trade.time_ms = cap_int(d, "T");
        if (!ev->u.trade.time_ms)
            ev->u.trade.time_ms = ev->event_ms;
        ev->u.trade.buyer_maker = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(d, "m"));
        if (cap_dec(cJSON_GetObjectItemCaseSensitive(d, "p"), &ev->u.trade.px) ||
            cap_dec(cJSON_GetObjectItemCaseSensitive(d, "q"), &ev->u.trade.qty)) {
            r->errors++;
            return -1;
        }
        return 1;
    }
    if (strstr(sn, "@bookTicker")) {
        ev->kind = FEED_BOOK_TICKER;
        ev->u.ticker.update_id = cap_int(d, "u");
        if (cap_dec(cJSON_GetObjectItemCaseSensitive(d, "b"), &ev->u.ticker.bid_px) ||
            cap_dec(cJSON_GetObjectItemCaseSensitive(d, "B"), &ev->u.ticker.bid_qty) ||
            cap_dec(cJSON_GetObjectItemCaseSensitive(d, "a"), &ev->u.ticker.ask_px) ||
            cap_dec(cJSON_GetObjectItemCaseSensitive(d, "A"), &ev->u.ticker.ask_qty)) {
            r->errors++;
            return -1;
        }
        return 1;
    }
    ev->kind = FEED_NONE;
    return 1;
}

/* The string value of one field of the current line's "data" object (NULL if absent). */
static inline const char *cap_data_str(const cap_reader *r, const char *key)
{
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(r->doc, "data");
    const cJSON *it = d ? cJSON_GetObjectItemCaseSensitive(d, key) : NULL;
    return cJSON_IsString(it) ? it->valuestring : NULL;
}

#endif
