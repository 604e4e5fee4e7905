/* OKX v5 public market-data decoder: bytes of one message -> feed_events (see okx.h).
 *
 * Shape: a byte pre-scan (size cap, UTF-8, no raw control characters) and then cJSON over the
 * exact length, with a check that nothing but whitespace follows the value. cJSON allocates a
 * node per value; OKX's rates (books every 100 ms, trades per taker order) make that affordable,
 * unlike Binance spot's diff storm, which has its own single-pass scanner (binance.c). The
 * decoder keeps no state: sequence rules live in book.c (BOOK_RULES_OKX). Every field read is
 * type-checked; prices and sizes go through decimal_parse (exact), never through a double. */
#include "kestrel/okx.h"

#include "kestrel/decimal.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

typedef unsigned char uch;

/* Valid UTF-8 (no overlongs, surrogates or > U+10FFFF) and no control bytes but \t \n \r. */
static bool okx_bytes_ok(const uch *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uch c = p[i];
        if (c < 0x80) {
            if (c < 0x20 && c != '\t' && c != '\n' && c != '\r')
                return false;
            if (c == 0x7f)
                return false;
            i++;
            continue;
        }
        size_t k;
        uint32_t cp;
        if (c >= 0xC2 && c <= 0xDF) {
            k = 1;
            cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            k = 2;
            cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            k = 3;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (n - i <= k)
            return false;
        for (size_t j = 1; j <= k; j++) {
            if ((p[i + j] & 0xC0) != 0x80)
                return false;
            cp = cp << 6 | (p[i + j] & 0x3F);
        }
        if ((k == 2 && cp < 0x800) || (k == 3 && cp < 0x10000) || cp > 0x10FFFF ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += k + 1;
    }
    return true;
}

bool okx_inst_valid(const char *s, size_t len)
{
    if (!s || len == 0 || len >= KSYM_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-'))
            return false;
    }
    return true;
}

static bool okx_channel_valid(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > 31)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-'))
            return false;
    }
    return true;
}

int64_t okx_bar_ms(const char *bar)
{
    if (!bar || !bar[0])
        return 0;
    char *end = NULL;
    long n = 0;
    const char *p = bar;
    while (*p >= '0' && *p <= '9' && n < 1000)
        n = n * 10 + (*p++ - '0');
    end = (char *)p;
    if (n <= 0 || end == bar || !*end)
        return 0;
    char unit = *end++;
    if (*end && strcmp(end, "utc") != 0)
        return 0;
    int64_t mul;
    switch (unit) {
    case 's': mul = 1000; break;
    case 'm': mul = 60000; break;
    case 'H': mul = 3600000; break;
    case 'D': mul = 86400000; break;
    case 'W': mul = 7 * 86400000LL; break;
    default: return 0; /* 'M' months and anything else */
    }
    if (*end && unit != 'H' && unit != 'D' && unit != 'W')
        return 0;
    return n * mul;
}

size_t okx_subscribe_msg(char *out, size_t cap, bool subscribe, const char *channel,
                         const char *inst)
{
    return okx_subscribe_msgv(out, cap, subscribe, &channel, 1, inst);
}

size_t okx_subscribe_msgv(char *out, size_t cap, bool subscribe, const char *const *channels,
                          size_t nch, const char *inst)
{
    if (!out || cap == 0 || !channels || nch == 0 || !inst ||
        !okx_inst_valid(inst, strlen(inst)))
        return 0;
    for (size_t i = 0; i < nch; i++)
        if (!okx_channel_valid(channels[i]))
            return 0;
    int n = snprintf(out, cap, "{\"op\":\"%s\",\"args\":[",
                     subscribe ? "subscribe" : "unsubscribe");
    for (size_t i = 0; i < nch && n >= 0 && (size_t)n < cap; i++) {
        int k = snprintf(out + n, cap - (size_t)n, "%s{\"channel\":\"%s\",\"instId\":\"%s\"}",
                         i ? "," : "", channels[i], inst);
        n = k < 0 ? -1 : n + k;
    }
    if (n >= 0 && (size_t)n < cap) {
        int k = snprintf(out + n, cap - (size_t)n, "]}");
        n = k < 0 ? -1 : n + k;
    }
    if (n < 0 || (size_t)n >= cap) {
        out[0] = '\0';
        return 0;
    }
    return (size_t)n;
}

/* ---------------------------------------------------------------------------------------- */

typedef struct okx_dec {
    feed_event *evs;
    uint32_t cap_evs, nev;
    feed_level *lv;
    uint32_t cap_lv, used_lv;
    const char *why;
} okx_dec;

static int okx_fail(okx_dec *d, const char *why)
{
    if (!d->why)
        d->why = why;
    return K_ERR;
}

static void okx_copy(char *dst, size_t cap, const char *src)
{
    size_t n = src ? strlen(src) : 0;
    if (n >= cap)
        n = cap - 1;
    if (n)
        memcpy(dst, src, n);
    dst[n] = '\0';
}

/* A string field holding an exact decimal >= 0. */
static int okx_dec_field(const cJSON *v, kdec *out)
{
    if (!cJSON_IsString(v) || !v->valuestring)
        return K_ERR;
    const char *s = v->valuestring;
    size_t n = strlen(s);
    if (n == 0 || decimal_parse(s, n, out) != K_OK || *out < 0)
        return K_ERR;
    return K_OK;
}

/* An integer: a string of digits (optionally '-' when allow_neg) or a JSON integer. */
static int okx_int_field(const cJSON *v, bool allow_neg, int64_t *out)
{
    if (cJSON_IsNumber(v)) {
        double x = v->valuedouble;
        if (x != x || x < -9007199254740992.0 || x > 9007199254740992.0 || (double)(int64_t)x != x)
            return K_ERR;
        if (x < 0 && !allow_neg)
            return K_ERR;
        *out = (int64_t)x;
        return K_OK;
    }
    if (!cJSON_IsString(v) || !v->valuestring)
        return K_ERR;
    const char *s = v->valuestring;
    bool neg = false;
    if (*s == '-' && allow_neg) {
        neg = true;
        s++;
    }
    if (!*s || strlen(s) > 19)
        return K_ERR;
    uint64_t acc = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return K_ERR;
        unsigned dgt = (unsigned)(*s - '0');
        if (acc > ((uint64_t)INT64_MAX - dgt) / 10)
            return K_ERR;
        acc = acc * 10 + dgt;
    }
    *out = neg ? -(int64_t)acc : (int64_t)acc;
    return K_OK;
}

static feed_event *okx_new_ev(okx_dec *d, enum feed_kind kind, const char *inst)
{
    if (d->nev >= d->cap_evs) {
        okx_fail(d, "too many events");
        return NULL;
    }
    feed_event *e = &d->evs[d->nev++];
    memset(e, 0, sizeof *e);
    e->kind = kind;
    e->venue = VENUE_OKX;
    okx_copy(e->symbol, sizeof e->symbol, inst);
    return e;
}

/* [[px, sz, ...], ...] into the scratch. */
static int okx_levels(okx_dec *d, const cJSON *arr, const feed_level **out, uint32_t *n)
{
    if (!cJSON_IsArray(arr))
        return okx_fail(d, "bad levels");
    uint32_t start = d->used_lv;
    const cJSON *lvl;
    cJSON_ArrayForEach(lvl, arr)
    {
        if (!cJSON_IsArray(lvl) || cJSON_GetArraySize(lvl) < 2)
            return okx_fail(d, "bad levels");
        kdec px, qty;
        if (okx_dec_field(cJSON_GetArrayItem(lvl, 0), &px) != K_OK || px <= 0)
            return okx_fail(d, "bad price");
        if (okx_dec_field(cJSON_GetArrayItem(lvl, 1), &qty) != K_OK)
            return okx_fail(d, "bad size");
        if (d->used_lv >= d->cap_lv)
            return okx_fail(d, "too many levels");
        d->lv[d->used_lv].px = px;
        d->lv[d->used_lv].qty = qty;
        d->used_lv++;
    }
    *out = d->used_lv > start ? d->lv + start : NULL;
    *n = d->used_lv - start;
    return K_OK;
}

/* A data item's instId, when present, must be valid and agree with arg.instId. */
static int okx_item_inst(okx_dec *d, const cJSON *item, const char *arg_inst, const char **inst)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(item, "instId");
    *inst = arg_inst;
    if (!v)
        return arg_inst[0] ? K_OK : okx_fail(d, "missing instId");
    if (!cJSON_IsString(v) || !okx_inst_valid(v->valuestring, strlen(v->valuestring)))
        return okx_fail(d, "bad instId");
    if (arg_inst[0] && strcmp(v->valuestring, arg_inst) != 0)
        return okx_fail(d, "instId mismatch");
    *inst = v->valuestring;
    return K_OK;
}

static int okx_ts(okx_dec *d, const cJSON *item, int64_t *ts)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(item, "ts");
    *ts = 0;
    if (!v)
        return K_OK;
    if (okx_int_field(v, false, ts) != K_OK)
        return okx_fail(d, "bad ts");
    return K_OK;
}

/* One books item: snapshot or update (push), or a REST snapshot (rest = true). */
static int okx_book_item(okx_dec *d, const cJSON *item, const char *inst, bool snapshot, bool rest)
{
    if (!cJSON_IsObject(item))
        return okx_fail(d, "bad data");
    feed_event *e = okx_new_ev(d, snapshot ? FEED_DEPTH_SNAPSHOT : FEED_DEPTH_DIFF, inst);
    if (!e)
        return K_ERR;
    if (okx_ts(d, item, &e->event_ms) != K_OK)
        return K_ERR;
    if (okx_levels(d, cJSON_GetObjectItemCaseSensitive(item, "bids"), &e->u.depth.bids,
                   &e->u.depth.nbids) != K_OK ||
        okx_levels(d, cJSON_GetObjectItemCaseSensitive(item, "asks"), &e->u.depth.asks,
                   &e->u.depth.nasks) != K_OK)
        return K_ERR;
    const cJSON *seq = cJSON_GetObjectItemCaseSensitive(item, "seqId");
    const cJSON *prev = cJSON_GetObjectItemCaseSensitive(item, "prevSeqId");
    int64_t s = rest ? -1 : 0, p = -1;
    if (seq && okx_int_field(seq, false, &s) != K_OK)
        return okx_fail(d, "bad seqId");
    if (prev && okx_int_field(prev, true, &p) != K_OK)
        return okx_fail(d, "bad prevSeqId");
    e->u.depth.first_id = e->u.depth.last_id = s;
    e->u.depth.prev_id = p;
    e->u.depth.has_prev = rest ? seq != NULL : (seq != NULL && prev != NULL);
    return K_OK;
}

/* The tickers channel's 24 h statistics (open24h, last, high24h, low24h, vol24h, volCcy24h) as
 * a FEED_TICKER24 after the book ticker; items without them (older captures) give none. SPOT:
 * vol24h is base, volCcy24h quote; SWAP / FUTURES: vol24h is contracts, volCcy24h base (no
 * quote volume then). */
static int okx_day_item(okx_dec *d, const cJSON *item, const char *inst, int64_t ts)
{
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(item, "open24h");
    if (!o)
        return K_OK;
    kdec open, last, hi, lo, vol, vccy;
    if (okx_dec_field(o, &open) != K_OK ||
        okx_dec_field(cJSON_GetObjectItemCaseSensitive(item, "last"), &last) != K_OK ||
        okx_dec_field(cJSON_GetObjectItemCaseSensitive(item, "high24h"), &hi) != K_OK ||
        okx_dec_field(cJSON_GetObjectItemCaseSensitive(item, "low24h"), &lo) != K_OK)
        return okx_fail(d, "bad price");
    if (okx_dec_field(cJSON_GetObjectItemCaseSensitive(item, "vol24h"), &vol) != K_OK ||
        okx_dec_field(cJSON_GetObjectItemCaseSensitive(item, "volCcy24h"), &vccy) != K_OK)
        return okx_fail(d, "bad size");
    size_t n = strlen(inst);
    bool deriv = (n > 5 && strcmp(inst + n - 5, "-SWAP") == 0) || strchr(inst, '-') !=
                 strrchr(inst, '-');
    feed_event *e = okx_new_ev(d, FEED_TICKER24, inst);
    if (!e)
        return K_ERR;
    e->event_ms = ts;
    e->u.day.open = open;
    e->u.day.last = last;
    e->u.day.high = hi;
    e->u.day.low = lo;
    e->u.day.volume = deriv ? vccy : vol;
    e->u.day.quote_volume = deriv ? 0 : vccy;
    return K_OK;
}

static int okx_ticker_item(okx_dec *d, const cJSON *item, const char *inst, bool from_levels)
{
    if (!cJSON_IsObject(item))
        return okx_fail(d, "bad data");
    int64_t ts;
    if (okx_ts(d, item, &ts) != K_OK)
        return K_ERR;
    kdec bp = 0, bq = 0, ap = 0, aq = 0;
    if (from_levels) {
        const feed_level *b, *a;
        uint32_t nb, na;
        uint32_t mark = d->used_lv;
        if (okx_levels(d, cJSON_GetObjectItemCaseSensitive(item, "bids"), &b, &nb) != K_OK ||
            okx_levels(d, cJSON_GetObjectItemCaseSensitive(item, "asks"), &a, &na) != K_OK)
            return K_ERR;
        if (nb == 0 || na == 0) {
            d->used_lv = mark;
            return K_OK; /* one side empty: no best bid/ask to report */
        }
        bp = b[0].px;
        bq = b[0].qty;
        ap = a[0].px;
        aq = a[0].qty;
        d->used_lv = mark; /* only the top was needed */
    } else {
        const cJSON *vb = cJSON_GetObjectItemCaseSensitive(item, "bidPx");
        const cJSON *va = cJSON_GetObjectItemCaseSensitive(item, "askPx");
        /* options without a quote send "" */
        if (cJSON_IsString(vb) && vb->valuestring[0] == '\0')
            return K_OK;
        if (cJSON_IsString(va) && va->valuestring[0] == '\0')
            return K_OK;
        if (okx_dec_field(vb, &bp) != K_OK || okx_dec_field(va, &ap) != K_OK)
            return okx_fail(d, "bad price");
        if (okx_dec_field(cJSON_GetObjectItemCaseSensitive(item, "bidSz"), &bq) != K_OK ||
            okx_dec_field(cJSON_GetObjectItemCaseSensitive(item, "askSz"), &aq) != K_OK)
            return okx_fail(d, "bad size");
    }
    feed_event *e = okx_new_ev(d, FEED_BOOK_TICKER, inst);
    if (!e)
        return K_ERR;
    e->event_ms = ts;
    e->u.ticker.update_id = ts;
    e->u.ticker.bid_px = bp;
    e->u.ticker.bid_qty = bq;
    e->u.ticker.ask_px = ap;
    e->u.ticker.ask_qty = aq;
    if (!from_levels)
        return okx_day_item(d, item, inst, ts);
    return K_OK;
}

static int okx_trade_item(okx_dec *d, const cJSON *item, const char *inst)
{
    if (!cJSON_IsObject(item))
        return okx_fail(d, "bad data");
    feed_event *e = okx_new_ev(d, FEED_TRADE, inst);
    if (!e)
        return K_ERR;
    if (okx_ts(d, item, &e->event_ms) != K_OK)
        return K_ERR;
    if (okx_int_field(cJSON_GetObjectItemCaseSensitive(item, "tradeId"), false,
                      &e->u.trade.id) != K_OK)
        return okx_fail(d, "bad tradeId");
    if (okx_dec_field(cJSON_GetObjectItemCaseSensitive(item, "px"), &e->u.trade.px) != K_OK)
        return okx_fail(d, "bad price");
    if (okx_dec_field(cJSON_GetObjectItemCaseSensitive(item, "sz"), &e->u.trade.qty) != K_OK)
        return okx_fail(d, "bad size");
    const cJSON *side = cJSON_GetObjectItemCaseSensitive(item, "side");
    if (!cJSON_IsString(side))
        return okx_fail(d, "bad side");
    if (strcmp(side->valuestring, "buy") == 0)
        e->u.trade.buyer_maker = false; /* the taker bought: the maker was the seller */
    else if (strcmp(side->valuestring, "sell") == 0)
        e->u.trade.buyer_maker = true;
    else
        return okx_fail(d, "bad side");
    e->u.trade.time_ms = e->event_ms;
    return K_OK;
}

static int okx_candle_item(okx_dec *d, const cJSON *row, const char *inst, const char *bar)
{
    int n = cJSON_IsArray(row) ? cJSON_GetArraySize(row) : 0;
    if (n < 6)
        return okx_fail(d, "bad candle");
    feed_event *e = okx_new_ev(d, FEED_KLINE, inst);
    if (!e)
        return K_ERR;
    if (okx_int_field(cJSON_GetArrayItem(row, 0), false, &e->u.kline.open_ms) != K_OK)
        return okx_fail(d, "bad ts");
    kdec *f[5] = {&e->u.kline.o, &e->u.kline.h, &e->u.kline.l, &e->u.kline.c,
                  &e->u.kline.volume};
    for (int i = 0; i < 5; i++)
        if (okx_dec_field(cJSON_GetArrayItem(row, i + 1), f[i]) != K_OK)
            return okx_fail(d, i < 4 ? "bad price" : "bad size");
    if (n > 7 && okx_dec_field(cJSON_GetArrayItem(row, 7), &e->u.kline.quote_volume) != K_OK)
        return okx_fail(d, "bad size");
    if (n > 8) {
        const cJSON *c = cJSON_GetArrayItem(row, 8);
        if (!cJSON_IsString(c) || (strcmp(c->valuestring, "0") && strcmp(c->valuestring, "1")))
            return okx_fail(d, "bad confirm");
        e->u.kline.closed = c->valuestring[0] == '1';
    }
    if (e->u.kline.l > e->u.kline.h)
        return okx_fail(d, "bad candle");
    int64_t dur = okx_bar_ms(bar);
    e->u.kline.close_ms = dur ? e->u.kline.open_ms + dur - 1 : 0;
    okx_copy(e->u.kline.interval, sizeof e->u.kline.interval, bar);
    e->event_ms = e->u.kline.open_ms;
    return K_OK;
}

static bool okx_channel_silent(const char *ch)
{
    static const char *const silent[] = {
        "funding-rate", "mark-price", "index-tickers", "open-interest", "price-limit",
        "estimated-price", "opt-summary", "liquidation-orders",
    };
    for (size_t i = 0; i < K_ARRAY_LEN(silent); i++)
        if (strcmp(ch, silent[i]) == 0)
            return true;
    return false;
}

static int okx_push(okx_dec *d, const cJSON *root, const cJSON *arg, okx_info *info)
{
    const cJSON *ch = cJSON_GetObjectItemCaseSensitive(arg, "channel");
    const cJSON *iv = cJSON_GetObjectItemCaseSensitive(arg, "instId");
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(root, "data");
    if (!cJSON_IsString(ch) || !okx_channel_valid(ch->valuestring))
        return okx_fail(d, "bad channel");
    const char *channel = ch->valuestring;
    okx_copy(info->channel, sizeof info->channel, channel);
    const char *inst = "";
    if (iv) {
        if (!cJSON_IsString(iv) || !okx_inst_valid(iv->valuestring, strlen(iv->valuestring)))
            return okx_fail(d, "bad instId");
        inst = iv->valuestring;
        okx_copy(info->inst_id, sizeof info->inst_id, inst);
    }
    if (!cJSON_IsArray(data))
        return okx_fail(d, "bad data");
    if (okx_channel_silent(channel))
        return K_OK;

    bool books = strcmp(channel, "books") == 0 || strcmp(channel, "books-l2-tbt") == 0 ||
                 strcmp(channel, "books50-l2-tbt") == 0;
    bool top = strcmp(channel, "books5") == 0 || strcmp(channel, "bbo-tbt") == 0;
    bool trades = strcmp(channel, "trades") == 0 || strcmp(channel, "trades-all") == 0;
    bool tickers = strcmp(channel, "tickers") == 0;
    bool candle = strncmp(channel, "candle", 6) == 0 && channel[6] && strlen(channel + 6) < 8;
    if (candle && okx_bar_ms(channel + 6) == 0 && strcmp(channel + 6, "1M") &&
        strcmp(channel + 6, "3M") && strcmp(channel + 6, "1Mutc") && strcmp(channel + 6, "3Mutc"))
        candle = false;
    if (!books && !top && !trades && !tickers && !candle)
        return okx_fail(d, "unknown channel");

    bool snapshot = false;
    if (books) {
        const cJSON *ac = cJSON_GetObjectItemCaseSensitive(root, "action");
        if (!cJSON_IsString(ac))
            return okx_fail(d, "bad action");
        if (strcmp(ac->valuestring, "snapshot") == 0)
            snapshot = true;
        else if (strcmp(ac->valuestring, "update") != 0)
            return okx_fail(d, "bad action");
        okx_copy(info->action, sizeof info->action, ac->valuestring);
    }
    const cJSON *item;
    cJSON_ArrayForEach(item, data)
    {
        const char *ii = inst;
        if (!candle && cJSON_IsObject(item) && okx_item_inst(d, item, inst, &ii) != K_OK)
            return K_ERR;
        if (candle && !inst[0])
            return okx_fail(d, "missing instId");
        if (!candle && !cJSON_IsObject(item))
            return okx_fail(d, "bad data");
        int rc = books    ? okx_book_item(d, item, ii, snapshot, false)
                 : top    ? okx_ticker_item(d, item, ii, true)
                 : tickers ? okx_ticker_item(d, item, ii, false)
                 : trades ? okx_trade_item(d, item, ii)
                          : okx_candle_item(d, item, inst, channel + 6);
        if (rc != K_OK)
            return K_ERR;
    }
    return K_OK;
}

static int okx_event(okx_dec *d, const cJSON *root, const cJSON *ev, okx_info *info)
{
    if (!cJSON_IsString(ev))
        return okx_fail(d, "bad event");
    const cJSON *code = cJSON_GetObjectItemCaseSensitive(root, "code");
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(root, "msg");
    const cJSON *arg = cJSON_GetObjectItemCaseSensitive(root, "arg");
    if (cJSON_IsString(code))
        okx_copy(info->code, sizeof info->code, code->valuestring);
    if (cJSON_IsString(msg))
        okx_copy(info->msg, sizeof info->msg, msg->valuestring);
    if (cJSON_IsObject(arg)) {
        const cJSON *ch = cJSON_GetObjectItemCaseSensitive(arg, "channel");
        const cJSON *iv = cJSON_GetObjectItemCaseSensitive(arg, "instId");
        if (cJSON_IsString(ch) && okx_channel_valid(ch->valuestring))
            okx_copy(info->channel, sizeof info->channel, ch->valuestring);
        if (cJSON_IsString(iv) && okx_inst_valid(iv->valuestring, strlen(iv->valuestring)))
            okx_copy(info->inst_id, sizeof info->inst_id, iv->valuestring);
    }
    const char *e = ev->valuestring;
    if (strcmp(e, "error") == 0) {
        info->kind = OKX_MSG_ERROR;
        return okx_fail(d, "exchange error");
    }
    info->kind = strcmp(e, "subscribe") == 0     ? OKX_MSG_SUBSCRIBED
                 : strcmp(e, "unsubscribe") == 0 ? OKX_MSG_UNSUBSCRIBED
                 : strcmp(e, "notice") == 0      ? OKX_MSG_NOTICE
                                                 : OKX_MSG_EVENT;
    return K_OK;
}

static int okx_rest(okx_dec *d, const cJSON *root, const cJSON *code, okx_info *info)
{
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(root, "msg");
    if (!cJSON_IsString(code))
        return okx_fail(d, "bad code");
    okx_copy(info->code, sizeof info->code, code->valuestring);
    if (cJSON_IsString(msg))
        okx_copy(info->msg, sizeof info->msg, msg->valuestring);
    if (strcmp(code->valuestring, "0") != 0) {
        info->kind = OKX_MSG_ERROR;
        return okx_fail(d, "exchange error");
    }
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(root, "data");
    if (!cJSON_IsArray(data))
        return okx_fail(d, "bad data");
    const cJSON *item;
    cJSON_ArrayForEach(item, data)
    {
        if (!cJSON_IsObject(item))
            continue; /* other REST endpoints: rows that are not books */
        if (cJSON_GetObjectItemCaseSensitive(item, "asks") &&
            cJSON_GetObjectItemCaseSensitive(item, "bids")) {
            if (okx_book_item(d, item, "", true, true) != K_OK)
                return K_ERR;
        }
    }
    return K_OK;
}

/* One JSON value over exactly len bytes, nothing but whitespace after it. */
static cJSON *okx_parse(okx_dec *d, const char *json, size_t len)
{
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(json, len, &end, false);
    if (!root || !end) {
        cJSON_Delete(root);
        okx_fail(d, "invalid json");
        return NULL;
    }
    for (const char *p = end; p < json + len; p++) {
        if (*p != ' ' && *p != '\n' && *p != '\r' && *p != '\t') {
            cJSON_Delete(root);
            okx_fail(d, "invalid json");
            return NULL;
        }
    }
    return root;
}

int okx_decode(const char *json, size_t len, feed_event *evs, uint32_t cap_evs, uint32_t *nev,
               feed_level *levels, uint32_t cap_levels, okx_info *info, const char **why)
{
    okx_info scratch_info;
    okx_dec d = {.evs = evs, .cap_evs = evs ? cap_evs : 0, .lv = levels,
                 .cap_lv = levels ? cap_levels : 0};
    if (!info)
        info = &scratch_info;
    memset(info, 0, sizeof *info);
    if (nev)
        *nev = 0;
    cJSON *root = NULL;
    int rc = K_ERR;
    if (!json && len) {
        okx_fail(&d, "invalid json");
        goto out;
    }
    if (len > OKX_MAX_MSG) {
        okx_fail(&d, "too large");
        goto out;
    }
    if (!okx_bytes_ok((const uch *)json, len)) {
        okx_fail(&d, "invalid utf-8");
        goto out;
    }
    /* the text keepalive reply, with optional surrounding whitespace */
    {
        size_t a = 0, b = len;
        while (a < b && (json[a] == ' ' || json[a] == '\n' || json[a] == '\r' || json[a] == '\t'))
            a++;
        while (b > a && (json[b - 1] == ' ' || json[b - 1] == '\n' || json[b - 1] == '\r' ||
                         json[b - 1] == '\t'))
            b--;
        if (b - a == 4 && memcmp(json + a, "pong", 4) == 0) {
            info->kind = OKX_MSG_PONG;
            rc = K_OK;
            goto out;
        }
        if (a == b) {
            okx_fail(&d, "invalid json");
            goto out;
        }
    }
    root = okx_parse(&d, json, len);
    if (!root)
        goto out;
    if (!cJSON_IsObject(root)) {
        okx_fail(&d, "not an object");
        goto out;
    }
    const cJSON *ev = cJSON_GetObjectItemCaseSensitive(root, "event");
    const cJSON *arg = cJSON_GetObjectItemCaseSensitive(root, "arg");
    const cJSON *code = cJSON_GetObjectItemCaseSensitive(root, "code");
    if (ev)
        rc = okx_event(&d, root, ev, info);
    else if (cJSON_IsObject(arg))
        rc = okx_push(&d, root, arg, info);
    else if (code)
        rc = okx_rest(&d, root, code, info);
    else
        rc = okx_fail(&d, "unknown message");
out:
    cJSON_Delete(root);
    if (rc != K_OK) {
        if (!d.why)
            d.why = "invalid json";
        d.nev = 0;
        if (info->kind != OKX_MSG_ERROR)
            info->kind = OKX_MSG_DATA;
    }
    if (nev)
        *nev = d.nev;
    if (why)
        *why = rc == K_OK ? NULL : d.why;
    return rc;
}

int okx_decode_candles(const char *json, size_t len, const char *inst, const char *bar,
                       feed_event *evs, uint32_t cap_evs, uint32_t *nev, const char **why)
{
    okx_dec d = {.evs = evs, .cap_evs = evs ? cap_evs : 0};
    cJSON *root = NULL;
    int rc = K_ERR;
    if (nev)
        *nev = 0;
    if (!inst || !okx_inst_valid(inst, strlen(inst))) {
        okx_fail(&d, "bad instId");
        goto out;
    }
    if (!bar || strlen(bar) >= sizeof evs[0].u.kline.interval ||
        (okx_bar_ms(bar) == 0 && strcmp(bar, "1M") && strcmp(bar, "3M") &&
         strcmp(bar, "1Mutc") && strcmp(bar, "3Mutc"))) {
        okx_fail(&d, "bad bar");
        goto out;
    }
    if ((!json && len) || len > OKX_MAX_MSG || !okx_bytes_ok((const uch *)json, len)) {
        okx_fail(&d, len > OKX_MAX_MSG ? "too large" : "invalid utf-8");
        goto out;
    }
    root = okx_parse(&d, json, len);
    if (!root)
        goto out;
    const cJSON *code = cJSON_GetObjectItemCaseSensitive(root, "code");
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(root, "data");
    if (!cJSON_IsObject(root) || !cJSON_IsString(code)) {
        okx_fail(&d, "not a REST response");
        goto out;
    }
    if (strcmp(code->valuestring, "0") != 0) {
        okx_fail(&d, "exchange error");
        goto out;
    }
    if (!cJSON_IsArray(data)) {
        okx_fail(&d, "bad data");
        goto out;
    }
    const cJSON *row;
    rc = K_OK;
    cJSON_ArrayForEach(row, data)
    {
        if (okx_candle_item(&d, row, inst, bar) != K_OK) {
            rc = K_ERR;
            break;
        }
    }
out:
    cJSON_Delete(root);
    if (rc != K_OK) {
        if (!d.why)
            d.why = "invalid json";
        d.nev = 0;
    }
    if (nev)
        *nev = d.nev;
    if (why)
        *why = rc == K_OK ? NULL : d.why;
    return rc;
}
