/* Reference Binance decoder built on cJSON, for differential testing of binance_decode (the unit
 * test runs it over every real capture line; tests/fuzz/fuzz_binance_diff.c over fuzzed input).
 * It implements the rules documented in binance.h as plainly as possible, on a DOM, sharing
 * nothing with the fast scanner except decimal_parse. It is deliberately not stricter than the
 * contract: where binance_decode refuses more (escapes, trailing bytes, duplicate keys, integers
 * written as 1.0), the comparison only counts inputs both accept. Header-only, test use only. */
#ifndef KESTREL_BINANCE_REF_H
#define KESTREL_BINANCE_REF_H
#include "kestrel/binance.h"
#include "kestrel/decimal.h"

#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static const cJSON *ref_get(const cJSON *o, const char *k)
{
    return cJSON_GetObjectItemCaseSensitive(o, k);
}

/* An integer field: a JSON number with an integral value, exact as a double (|v| <= 2^53). */
static int ref_int(const cJSON *j, int64_t *out, int allow_neg)
{
    if (!cJSON_IsNumber(j))
        return 0;
    double v = j->valuedouble;
    if (!(v == floor(v)) || fabs(v) > 9007199254740992.0 || (!allow_neg && v < 0))
        return 0;
    *out = (int64_t)v;
    return 1;
}

static const char *ref_dec(const cJSON *j, kdec *out, const char *bad, const char *neg)
{
    if (!cJSON_IsString(j) || decimal_parse(j->valuestring, strlen(j->valuestring), out) != K_OK)
        return bad;
    return *out < 0 ? neg : NULL;
}

static int ref_bool(const cJSON *j, bool *out)
{
    if (!cJSON_IsBool(j))
        return 0;
    *out = cJSON_IsTrue(j);
    return 1;
}

static const char *ref_symbol(const cJSON *o, char out[KSYM_MAX])
{
    const cJSON *s = ref_get(o, "s");
    if (!cJSON_IsString(s))
        return "bad symbol";
    size_t n = strlen(s->valuestring);
    if (n == 0 || n > KSYM_MAX - 1)
        return "bad symbol";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s->valuestring[i];
        if (c <= 0x20 || c == 0x7f || c == '"' || c == '\\')
            return "bad symbol";
        out[i] = (char)(c >= 'a' && c <= 'z' ? c - 32 : c);
    }
    out[n] = '\0';
    return NULL;
}

static const char *ref_levels(const cJSON *arr, feed_level *lv, uint32_t cap, uint32_t *used,
                              const feed_level **first, uint32_t *count)
{
    if (!cJSON_IsArray(arr))
        return "bad levels";
    *first = lv ? lv + *used : NULL;
    *count = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, arr)
    {
        kdec px, qty;
        const char *r;
        if (!cJSON_IsArray(e) || cJSON_GetArraySize(e) < 2)
            return "bad level";
        if ((r = ref_dec(cJSON_GetArrayItem(e, 0), &px, "bad price", "negative price")) ||
            (r = ref_dec(cJSON_GetArrayItem(e, 1), &qty, "bad qty", "negative qty")))
            return r;
        if (!lv || *used >= cap)
            return "too many levels";
        lv[*used].px = px;
        lv[*used].qty = qty;
        (*used)++;
        (*count)++;
    }
    return NULL;
}

static const char *ref_classify(const cJSON *root, feed_event *ev, feed_level *lv, uint32_t cap)
{
    const cJSON *pl = root, *e, *E, *T;
    const char *r;
    uint32_t used = 0;
    if (!cJSON_IsObject(root))
        return "not an object";
    const cJSON *stream = ref_get(root, "stream"), *data = ref_get(root, "data");
    if (stream || data) {
        if (!cJSON_IsString(stream) || !cJSON_IsObject(data))
            return "bad envelope";
        const char *s = stream->valuestring;
        for (const char *a = strchr(s, '@'); a; a = strchr(a + 1, '@'))
            if (strncmp(a + 1, "depth", 5) == 0 && a[6] >= '0' && a[6] <= '9')
                return "partial depth unsupported";
        pl = data;
    } else if (ref_get(root, "result")) {
        return NULL;
    } else if (ref_get(root, "error") || (ref_get(root, "code") && ref_get(root, "msg"))) {
        return "exchange error";
    }
    E = ref_get(pl, "E");
    if (E && !ref_int(E, &ev->event_ms, 0))
        return "bad time";
    e = ref_get(pl, "e");
    if (e) {
        if (!cJSON_IsString(e))
            return "bad event type";
        const char *et = e->valuestring;
        if (strcmp(et, "depthUpdate") == 0) {
            const cJSON *pu = ref_get(pl, "pu");
            if ((r = ref_symbol(pl, ev->symbol)))
                return r;
            if (!ref_int(ref_get(pl, "U"), &ev->u.depth.first_id, 0) ||
                !ref_int(ref_get(pl, "u"), &ev->u.depth.last_id, 0) ||
                ev->u.depth.first_id > ev->u.depth.last_id)
                return "bad update id";
            if (pu) {
                if (!ref_int(pu, &ev->u.depth.prev_id, 1))
                    return "bad update id";
                ev->u.depth.has_prev = true;
                ev->venue = VENUE_BINANCE_USDM;
            }
            if ((r = ref_levels(ref_get(pl, "b"), lv, cap, &used, &ev->u.depth.bids,
                                &ev->u.depth.nbids)) ||
                (r = ref_levels(ref_get(pl, "a"), lv, cap, &used, &ev->u.depth.asks,
                                &ev->u.depth.nasks)))
                return r;
            ev->kind = FEED_DEPTH_DIFF;
            return NULL;
        }
        if (strcmp(et, "trade") == 0 || strcmp(et, "aggTrade") == 0) {
            int agg = et[0] == 'a';
            if ((r = ref_symbol(pl, ev->symbol)))
                return r;
            if (!ref_int(ref_get(pl, agg ? "a" : "t"), &ev->u.trade.id, 0))
                return "bad trade id";
            if ((r = ref_dec(ref_get(pl, "p"), &ev->u.trade.px, "bad price", "negative price")) ||
                (r = ref_dec(ref_get(pl, "q"), &ev->u.trade.qty, "bad qty", "negative qty")))
                return r;
            if (!ref_bool(ref_get(pl, "m"), &ev->u.trade.buyer_maker))
                return "bad flag";
            T = ref_get(pl, "T");
            ev->u.trade.time_ms = ev->event_ms;
            if (T && !ref_int(T, &ev->u.trade.time_ms, 0))
                return "bad time";
            if (!agg && ref_get(pl, "X"))
                ev->venue = VENUE_BINANCE_USDM;
            ev->kind = FEED_TRADE;
            return NULL;
        }
        if (strcmp(et, "bookTicker") == 0)
            ev->venue = VENUE_BINANCE_USDM;
        else if (strcmp(et, "kline") == 0) {
            const cJSON *k = ref_get(pl, "k"), *iv;
            if ((r = ref_symbol(pl, ev->symbol)))
                return r;
            if (!cJSON_IsObject(k))
                return "bad kline";
            if (!ref_int(ref_get(k, "t"), &ev->u.kline.open_ms, 0) ||
                !ref_int(ref_get(k, "T"), &ev->u.kline.close_ms, 0))
                return "bad time";
            iv = ref_get(k, "i");
            if (!cJSON_IsString(iv) || strlen(iv->valuestring) == 0 ||
                strlen(iv->valuestring) >= sizeof ev->u.kline.interval)
                return "bad interval";
            for (const char *c = iv->valuestring; *c; c++)
                if (!((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'z') ||
                      (*c >= 'A' && *c <= 'Z')))
                    return "bad interval";
            strcpy(ev->u.kline.interval, iv->valuestring);
            if ((r = ref_dec(ref_get(k, "o"), &ev->u.kline.o, "bad price", "negative price")) ||
                (r = ref_dec(ref_get(k, "h"), &ev->u.kline.h, "bad price", "negative price")) ||
                (r = ref_dec(ref_get(k, "l"), &ev->u.kline.l, "bad price", "negative price")) ||
                (r = ref_dec(ref_get(k, "c"), &ev->u.kline.c, "bad price", "negative price")) ||
                (r = ref_dec(ref_get(k, "v"), &ev->u.kline.volume, "bad qty", "negative qty")) ||
                (r = ref_dec(ref_get(k, "q"), &ev->u.kline.quote_volume, "bad qty",
                             "negative qty")))
                return r;
            if (!ref_int(ref_get(k, "n"), &ev->u.kline.trades, 0))
                return "bad count";
            if (!ref_bool(ref_get(k, "x"), &ev->u.kline.closed))
                return "bad flag";
            ev->kind = FEED_KLINE;
            return NULL;
        } else if (strcmp(et, "24hrTicker") == 0) {
            if ((r = ref_symbol(pl, ev->symbol)))
                return r;
            if ((r = ref_dec(ref_get(pl, "o"), &ev->u.day.open, "bad price", "negative price")) ||
                (r = ref_dec(ref_get(pl, "c"), &ev->u.day.last, "bad price", "negative price")) ||
                (r = ref_dec(ref_get(pl, "h"), &ev->u.day.high, "bad price", "negative price")) ||
                (r = ref_dec(ref_get(pl, "l"), &ev->u.day.low, "bad price", "negative price")) ||
                (r = ref_dec(ref_get(pl, "v"), &ev->u.day.volume, "bad qty", "negative qty")) ||
                (r = ref_dec(ref_get(pl, "q"), &ev->u.day.quote_volume, "bad qty",
                             "negative qty")))
                return r;
            ev->kind = FEED_TICKER24;
            return NULL;
        } else if (strcmp(et, "markPriceUpdate") == 0) {
            const cJSON *ix = ref_get(pl, "i"), *rt = ref_get(pl, "r");
            if ((r = ref_symbol(pl, ev->symbol)))
                return r;
            if ((r = ref_dec(ref_get(pl, "p"), &ev->u.mark.mark, "bad price", "negative price")))
                return r;
            if (ix && (r = ref_dec(ix, &ev->u.mark.index, "bad price", "negative price")))
                return r;
            if (rt && !(cJSON_IsString(rt) && rt->valuestring[0] == '\0')) {
                if (!cJSON_IsString(rt) || strchr(rt->valuestring, '\\') ||
                    decimal_parse(rt->valuestring, strlen(rt->valuestring),
                                  &ev->u.mark.rate) != K_OK)
                    return "bad rate";
            }
            if (!ref_int(ref_get(pl, "T"), &ev->u.mark.next_funding_ms, 0))
                return "bad time";
            ev->kind = FEED_MARK;
            ev->venue = VENUE_BINANCE_USDM;
            return NULL;
        } else {
            static const char *const none[] = {"24hrMiniTicker", "serverShutdown", "avgPrice",
                                               "1hTicker", "4hTicker", "1dTicker"};
            for (size_t i = 0; i < sizeof none / sizeof none[0]; i++)
                if (strcmp(et, none[i]) == 0) {
                    ev->event_ms = 0;
                    return NULL;
                }
            return "unknown stream";
        }
    } else if (ref_get(pl, "lastUpdateId")) {
        if (!ref_int(ref_get(pl, "lastUpdateId"), &ev->u.depth.last_id, 0))
            return "bad update id";
        ev->u.depth.first_id = ev->u.depth.last_id;
        if ((r = ref_levels(ref_get(pl, "bids"), lv, cap, &used, &ev->u.depth.bids,
                            &ev->u.depth.nbids)) ||
            (r = ref_levels(ref_get(pl, "asks"), lv, cap, &used, &ev->u.depth.asks,
                            &ev->u.depth.nasks)))
            return r;
        if (E || ref_get(pl, "T"))
            ev->venue = VENUE_BINANCE_USDM;
        ev->kind = FEED_DEPTH_SNAPSHOT;
        return NULL;
    } else if (!ref_get(pl, "u")) {
        return "unknown message";
    }
    /* bookTicker: spot (no "e") or USD-M ("e" = "bookTicker", venue set above) */
    if ((r = ref_symbol(pl, ev->symbol)))
        return r;
    if (!ref_int(ref_get(pl, "u"), &ev->u.ticker.update_id, 0))
        return "bad update id";
    if ((r = ref_dec(ref_get(pl, "b"), &ev->u.ticker.bid_px, "bad price", "negative price")) ||
        (r = ref_dec(ref_get(pl, "B"), &ev->u.ticker.bid_qty, "bad qty", "negative qty")) ||
        (r = ref_dec(ref_get(pl, "a"), &ev->u.ticker.ask_px, "bad price", "negative price")) ||
        (r = ref_dec(ref_get(pl, "A"), &ev->u.ticker.ask_qty, "bad qty", "negative qty")))
        return r;
    ev->kind = FEED_BOOK_TICKER;
    return NULL;
}

/* Same contract as binance_decode. *parsed tells whether cJSON accepted the bytes as JSON. */
static int ref_decode(const char *json, size_t len, feed_event *ev, feed_level *lv, uint32_t cap,
                      const char **why, int *parsed)
{
    const char *r;
    memset(ev, 0, sizeof *ev);
    ev->venue = VENUE_BINANCE_SPOT;
    cJSON *root = len ? cJSON_ParseWithLength(json, len) : NULL;
    *parsed = root != NULL;
    r = root ? ref_classify(root, ev, lv, cap) : "invalid json";
    cJSON_Delete(root);
    if (r) {
        memset(ev, 0, sizeof *ev);
        ev->venue = VENUE_BINANCE_SPOT;
    }
    if (why)
        *why = r;
    return r ? K_ERR : K_OK;
}

/* Field-by-field comparison of two decoded events. Returns NULL when equal, else the name of
 * the first field that differs. */
static const char *ref_compare(const feed_event *a, const feed_event *b)
{
    if (a->kind != b->kind)
        return "kind";
    if (a->venue != b->venue)
        return "venue";
    if (strcmp(a->symbol, b->symbol) != 0)
        return "symbol";
    if (a->event_ms != b->event_ms)
        return "event_ms";
    if (a->recv_ns != b->recv_ns)
        return "recv_ns";
    switch (a->kind) {
    case FEED_NONE:
        return NULL;
    case FEED_FUNDING:
        return memcmp(&a->u.funding, &b->u.funding, sizeof a->u.funding) ? "funding" : NULL;
    case FEED_TICKER24:
        return memcmp(&a->u.day, &b->u.day, sizeof a->u.day) ? "day" : NULL;
    case FEED_MARK:
        return memcmp(&a->u.mark, &b->u.mark, sizeof a->u.mark) ? "mark" : NULL;
    case FEED_TRADE:
        if (a->u.trade.id != b->u.trade.id)
            return "trade.id";
        if (a->u.trade.px != b->u.trade.px)
            return "trade.px";
        if (a->u.trade.qty != b->u.trade.qty)
            return "trade.qty";
        if (a->u.trade.time_ms != b->u.trade.time_ms)
            return "trade.time_ms";
        if (a->u.trade.buyer_maker != b->u.trade.buyer_maker)
            return "trade.buyer_maker";
        return NULL;
    case FEED_BOOK_TICKER:
        if (a->u.ticker.update_id != b->u.ticker.update_id)
            return "ticker.update_id";
        if (a->u.ticker.bid_px != b->u.ticker.bid_px || a->u.ticker.bid_qty != b->u.ticker.bid_qty)
            return "ticker.bid";
        if (a->u.ticker.ask_px != b->u.ticker.ask_px || a->u.ticker.ask_qty != b->u.ticker.ask_qty)
            return "ticker.ask";
        return NULL;
    case FEED_DEPTH_DIFF:
    case FEED_DEPTH_SNAPSHOT:
        if (a->u.depth.first_id != b->u.depth.first_id)
            return "depth.first_id";
        if (a->u.depth.last_id != b->u.depth.last_id)
            return "depth.last_id";
        if (a->u.depth.has_prev != b->u.depth.has_prev)
            return "depth.has_prev";
        if (a->u.depth.has_prev && a->u.depth.prev_id != b->u.depth.prev_id)
            return "depth.prev_id";
        if (a->u.depth.nbids != b->u.depth.nbids)
            return "depth.nbids";
        if (a->u.depth.nasks != b->u.depth.nasks)
            return "depth.nasks";
        for (uint32_t i = 0; i < a->u.depth.nbids; i++)
            if (a->u.depth.bids[i].px != b->u.depth.bids[i].px ||
                a->u.depth.bids[i].qty != b->u.depth.bids[i].qty)
                return "depth.bids";
        for (uint32_t i = 0; i < a->u.depth.nasks; i++)
            if (a->u.depth.asks[i].px != b->u.depth.asks[i].px ||
                a->u.depth.asks[i].qty != b->u.depth.asks[i].qty)
                return "depth.asks";
        return NULL;
    case FEED_KLINE:
        if (a->u.kline.open_ms != b->u.kline.open_ms || a->u.kline.close_ms != b->u.kline.close_ms)
            return "kline.times";
        if (strcmp(a->u.kline.interval, b->u.kline.interval) != 0)
            return "kline.interval";
        if (a->u.kline.o != b->u.kline.o || a->u.kline.h != b->u.kline.h ||
            a->u.kline.l != b->u.kline.l || a->u.kline.c != b->u.kline.c)
            return "kline.ohlc";
        if (a->u.kline.volume != b->u.kline.volume ||
            a->u.kline.quote_volume != b->u.kline.quote_volume)
            return "kline.volume";
        if (a->u.kline.trades != b->u.kline.trades)
            return "kline.trades";
        if (a->u.kline.closed != b->u.kline.closed)
            return "kline.closed";
        return NULL;
    }
    return "kind?";
}

#endif
