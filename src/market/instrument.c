/* Instruments: the exchange's filters for each symbol and the precision handler.
 *
 * Filters come from a real exchangeInfo document, read with cJSON and turned into kdec through
 * decimal_parse (strings only; a JSON number is accepted only when it is an integer, because a
 * double never carries a price here). Rounding is integer arithmetic relative to the filter's
 * minimum, exactly as Binance states its rules ((qty - minQty) % stepSize == 0, (price -
 * minPrice) % tickSize == 0); notional products go through __int128. Rejections carry the rule
 * and the numbers, formatted with the instrument's decimals. The table is an array searched
 * linearly by (venue, symbol): fine for the watched symbols of a replay; a full exchangeInfo
 * (~2000 symbols) costs a few microseconds per lookup and would want a hash. */
#include "kestrel/instrument.h"

#include "kestrel/decimal.h"
#include "kestrel/xmalloc.h"

#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define INSTRUMENT_FILE_MAX (64u << 20)

const char *side_name(enum side s)
{
    return s == SIDE_BUY ? "buy" : "sell";
}

const char *instrument_strerror(enum instrument_result r)
{
    switch (r) {
    case INSTR_OK: return "ok";
    case INSTR_ERR_PARSE: return "malformed exchange info";
    case INSTR_ERR_NOT_TRADING: return "symbol not trading";
    case INSTR_ERR_QTY_ZERO: return "quantity is zero after rounding";
    case INSTR_ERR_QTY_MIN: return "quantity below minQty";
    case INSTR_ERR_QTY_MAX: return "quantity above maxQty";
    case INSTR_ERR_PRICE_ZERO: return "price missing";
    case INSTR_ERR_PRICE_MIN: return "price below minPrice";
    case INSTR_ERR_PRICE_MAX: return "price above maxPrice";
    case INSTR_ERR_NOTIONAL_MIN: return "notional below minNotional";
    case INSTR_ERR_NOTIONAL_MAX: return "notional above maxNotional";
    case INSTR_ERR_PERCENT_PRICE: return "price outside percent price band";
    case INSTR_ERR_UNKNOWN: return "unknown symbol";
    }
    return "?";
}

/* ---- rounding ---- */

static kdec instrument_floor_to(kdec v, kdec base, kdec step)
{
    if (step <= 0)
        return v;
    kdec r = (v - base) % step;
    if (r < 0)
        r += step;
    return v - r;
}

static kdec instrument_ceil_to(kdec v, kdec base, kdec step)
{
    kdec f = instrument_floor_to(v, base, step);
    if (f == v || step <= 0)
        return v;
    return f > KDEC_MAX - step ? f : f + step;
}

kdec instrument_floor_qty(const instrument *in, kdec qty, bool market)
{
    if (qty <= 0)
        return 0;
    kdec step = in->step, base = in->min_qty;
    if (market && in->has_market_lot && in->market_step > 0) {
        step = in->market_step;
        base = in->market_min_qty;
    }
    if (step <= 0)
        return qty;
    if (qty < base)
        base = 0; /* below the minimum: floored on the plain grid, rejected by the check */
    return instrument_floor_to(qty, base, step);
}

kdec instrument_align_price(const instrument *in, kdec px, enum side side, bool passive)
{
    if (px <= 0 || in->tick <= 0)
        return px;
    bool down = (side == SIDE_BUY) == passive;
    kdec base = in->min_price > 0 && px >= in->min_price ? in->min_price : 0;
    return down ? instrument_floor_to(px, base, in->tick) : instrument_ceil_to(px, base, in->tick);
}

kdec instrument_notional(kdec qty, kdec px)
{
    if (qty <= 0 || px <= 0)
        return 0;
    __int128 n = (__int128)qty * px / KDEC_SCALE;
    return n > KDEC_MAX ? KDEC_MAX : (kdec)n;
}

size_t instrument_format_price(const instrument *in, kdec px, char *buf, size_t cap)
{
    return decimal_format(px, in->px_decimals, buf, cap);
}

size_t instrument_format_qty(const instrument *in, kdec qty, char *buf, size_t cap)
{
    return decimal_format(qty, in->qty_decimals, buf, cap);
}

/* "0.001" from 100000: the shortest exact text (for messages about limits) */
static const char *instrument_txt(kdec v, char *buf, size_t cap)
{
    decimal_format(v, decimal_places(v), buf, cap);
    return buf;
}

/* band [ref * down, ref * up], exact via __int128; returns true when px lies inside */
static bool instrument_band(kdec px, kdec ref, kdec up, kdec down, kdec *lo, kdec *hi)
{
    __int128 h = (__int128)ref * up / KDEC_SCALE;
    __int128 l = ((__int128)ref * down + KDEC_SCALE - 1) / KDEC_SCALE;
    *hi = up > 0 ? (h > KDEC_MAX ? KDEC_MAX : (kdec)h) : KDEC_MAX;
    *lo = down > 0 ? (kdec)l : 0;
    return px <= *hi && px >= *lo;
}

enum instrument_result instrument_check(const instrument *in, const instrument_order *ord,
                                        instrument_checked *out, char *why, size_t whylen)
{
    char a[40], b[40];
    memset(out, 0, sizeof *out);
    if (why && whylen)
        why[0] = '\0';
    if (!in->trading) {
        snprintf(why, whylen, "%s is not trading", in->symbol);
        return INSTR_ERR_NOT_TRADING;
    }
    bool market = ord->market;
    kdec q = instrument_floor_qty(in, ord->qty, market);
    out->qty = q;
    kdec minq = in->min_qty, maxq = in->max_qty;
    const char *lot = "LOT_SIZE";
    if (market && in->has_market_lot) {
        lot = "MARKET_LOT_SIZE";
        if (in->market_min_qty > 0)
            minq = in->market_min_qty;
        if (in->market_max_qty > 0)
            maxq = in->market_max_qty;
    }
    if (q <= 0) {
        snprintf(why, whylen, "qty %s floors to 0 at stepSize %s for %s",
                 instrument_txt(ord->qty, a, sizeof a),
                 instrument_txt(market && in->has_market_lot && in->market_step > 0
                                    ? in->market_step : in->step, b, sizeof b),
                 in->symbol);
        return INSTR_ERR_QTY_ZERO;
    }
    if (minq > 0 && q < minq) {
        snprintf(why, whylen, "qty %s < %s %s for %s", instrument_txt(q, a, sizeof a),
                 market && in->has_market_lot && in->market_min_qty > 0 ? "market minQty"
                                                                        : "minQty",
                 instrument_txt(minq, b, sizeof b), in->symbol);
        return INSTR_ERR_QTY_MIN;
    }
    if (maxq > 0 && q > maxq) {
        snprintf(why, whylen, "qty %s > %s maxQty %s for %s", instrument_txt(q, a, sizeof a),
                 lot, instrument_txt(maxq, b, sizeof b), in->symbol);
        return INSTR_ERR_QTY_MAX;
    }
    kdec px = 0;
    if (!market) {
        px = instrument_align_price(in, ord->price, ord->side, true);
        if (px <= 0) {
            snprintf(why, whylen, "limit price missing for %s", in->symbol);
            return INSTR_ERR_PRICE_ZERO;
        }
        if (in->min_price > 0 && px < in->min_price) {
            snprintf(why, whylen, "price %s < minPrice %s for %s", instrument_txt(px, a, sizeof a),
                     instrument_txt(in->min_price, b, sizeof b), in->symbol);
            return INSTR_ERR_PRICE_MIN;
        }
        if (in->max_price > 0 && px > in->max_price) {
            snprintf(why, whylen, "price %s > maxPrice %s for %s", instrument_txt(px, a, sizeof a),
                     instrument_txt(in->max_price, b, sizeof b), in->symbol);
            return INSTR_ERR_PRICE_MAX;
        }
        out->price = px;
    }
    if (ord->stop > 0) {
        /* a trigger is not passive or aggressive: nearest tick, ties down */
        kdec lo = instrument_align_price(in, ord->stop, SIDE_BUY, true);
        kdec hi = instrument_align_price(in, ord->stop, SIDE_SELL, true);
        out->stop = (ord->stop - lo <= hi - ord->stop) ? lo : hi;
        if (in->min_price > 0 && out->stop < in->min_price) {
            snprintf(why, whylen, "stop %s < minPrice %s for %s",
                     instrument_txt(out->stop, a, sizeof a),
                     instrument_txt(in->min_price, b, sizeof b), in->symbol);
            return INSTR_ERR_PRICE_MIN;
        }
        if (in->max_price > 0 && out->stop > in->max_price) {
            snprintf(why, whylen, "stop %s > maxPrice %s for %s",
                     instrument_txt(out->stop, a, sizeof a),
                     instrument_txt(in->max_price, b, sizeof b), in->symbol);
            return INSTR_ERR_PRICE_MAX;
        }
    }
    /* percent price: the limit price against the reference */
    kdec up = ord->side == SIDE_BUY ? in->bid_mult_up : in->ask_mult_up;
    kdec down = ord->side == SIDE_BUY ? in->bid_mult_down : in->ask_mult_down;
    if (!market && ord->ref_px > 0 && (up > 0 || down > 0)) {
        kdec lo, hi;
        if (!instrument_band(px, ord->ref_px, up, down, &lo, &hi)) {
            char c[40], d[40];
            snprintf(why, whylen, "price %s outside PERCENT_PRICE [%s, %s] of avg %s for %s",
                     instrument_txt(px, a, sizeof a), instrument_txt(lo, b, sizeof b),
                     instrument_txt(hi, c, sizeof c), instrument_txt(ord->ref_px, d, sizeof d),
                     in->symbol);
            return INSTR_ERR_PERCENT_PRICE;
        }
    }
    kdec npx = market ? ord->ref_px : px;
    out->notional = instrument_notional(q, npx);
    if (npx > 0 && in->min_notional > 0 && (!market || in->min_notional_market) &&
        out->notional < in->min_notional) {
        snprintf(why, whylen, "notional %s < minNotional %s for %s",
                 instrument_txt(out->notional, a, sizeof a),
                 instrument_txt(in->min_notional, b, sizeof b), in->symbol);
        return INSTR_ERR_NOTIONAL_MIN;
    }
    if (npx > 0 && in->max_notional > 0 && (!market || in->max_notional_market) &&
        out->notional > in->max_notional) {
        snprintf(why, whylen, "notional %s > maxNotional %s for %s",
                 instrument_txt(out->notional, a, sizeof a),
                 instrument_txt(in->max_notional, b, sizeof b), in->symbol);
        return INSTR_ERR_NOTIONAL_MAX;
    }
    instrument_format_qty(in, q, out->qty_text, sizeof out->qty_text);
    if (out->price)
        instrument_format_price(in, out->price, out->price_text, sizeof out->price_text);
    if (out->stop)
        instrument_format_price(in, out->stop, out->stop_text, sizeof out->stop_text);
    return INSTR_OK;
}

bool instrument_is_dust(const instrument *in, kdec qty, kdec ref_px)
{
    if (qty < 0)
        qty = -qty;
    if (qty == 0)
        return false;
    kdec q = instrument_floor_qty(in, qty, true);
    if (q <= 0)
        return true;
    kdec minq = in->has_market_lot && in->market_min_qty > 0 ? in->market_min_qty : in->min_qty;
    if (minq > 0 && q < minq)
        return true;
    if (in->min_notional > 0 && in->min_notional_market && ref_px > 0 &&
        instrument_notional(q, ref_px) < in->min_notional)
        return true;
    return false;
}

kdec instrument_close_qty(const instrument *in, kdec qty, kdec ref_px, kdec *dust)
{
    if (qty < 0)
        qty = -qty;
    kdec q = instrument_floor_qty(in, qty, true);
    if (q <= 0 || instrument_is_dust(in, q, ref_px))
        q = 0;
    if (dust)
        *dust = qty - q;
    return q;
}

/* ---- parsing ---- */

/* A decimal field: a string, or an integral JSON number. absent_ok: missing -> 0. */
static int instrument_field(const cJSON *obj, const char *name, kdec *out, bool absent_ok)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, name);
    *out = 0;
    if (!it)
        return absent_ok ? K_OK : K_ERR;
    if (cJSON_IsString(it) && it->valuestring)
        return decimal_parse(it->valuestring, strlen(it->valuestring), out);
    if (cJSON_IsNumber(it)) {
        double d = it->valuedouble;
        if (d != (double)(int64_t)d || d < 0 || d > 9.2e10)
            return K_ERR;
        *out = (kdec)(int64_t)d * KDEC_SCALE;
        return K_OK;
    }
    return K_ERR;
}

static bool instrument_flag(const cJSON *obj, const char *name, bool dflt)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, name);
    return it && cJSON_IsBool(it) ? cJSON_IsTrue(it) : dflt;
}

static int instrument_str(const cJSON *obj, const char *name, char *out, size_t cap)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (!it || !cJSON_IsString(it) || !it->valuestring || strlen(it->valuestring) >= cap ||
        !it->valuestring[0])
        return K_ERR;
    memcpy(out, it->valuestring, strlen(it->valuestring) + 1);
    return K_OK;
}

enum instrument_result instrument_parse(const void *cjson_symbol, enum venue v, instrument *out,
                                        char *err, size_t errlen)
{
    const cJSON *s = cjson_symbol;
    memset(out, 0, sizeof *out);
    out->venue = v;
    if (!cJSON_IsObject(s) || instrument_str(s, "symbol", out->symbol, sizeof out->symbol) ||
        instrument_str(s, "baseAsset", out->base, sizeof out->base) ||
        instrument_str(s, "quoteAsset", out->quote, sizeof out->quote)) {
        snprintf(err, errlen, "symbol entry without symbol/baseAsset/quoteAsset");
        return INSTR_ERR_PARSE;
    }
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(s, "status");
    out->trading = cJSON_IsString(st) && st->valuestring && !strcmp(st->valuestring, "TRADING");
    out->futures = cJSON_GetObjectItemCaseSensitive(s, "contractType") != NULL;
    const cJSON *filters = cJSON_GetObjectItemCaseSensitive(s, "filters");
    if (!cJSON_IsArray(filters)) {
        snprintf(err, errlen, "%s: no filters array", out->symbol);
        return INSTR_ERR_PARSE;
    }
    const cJSON *f;
    cJSON_ArrayForEach(f, filters) {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(f, "filterType");
        if (!cJSON_IsString(t) || !t->valuestring)
            continue;
        const char *ty = t->valuestring;
        int bad = 0;
        if (!strcmp(ty, "PRICE_FILTER")) {
            bad |= instrument_field(f, "tickSize", &out->tick, false);
            bad |= instrument_field(f, "minPrice", &out->min_price, true);
            bad |= instrument_field(f, "maxPrice", &out->max_price, true);
        } else if (!strcmp(ty, "LOT_SIZE")) {
            bad |= instrument_field(f, "stepSize", &out->step, false);
            bad |= instrument_field(f, "minQty", &out->min_qty, true);
            bad |= instrument_field(f, "maxQty", &out->max_qty, true);
        } else if (!strcmp(ty, "MARKET_LOT_SIZE")) {
            bad |= instrument_field(f, "stepSize", &out->market_step, true);
            bad |= instrument_field(f, "minQty", &out->market_min_qty, true);
            bad |= instrument_field(f, "maxQty", &out->market_max_qty, true);
            out->has_market_lot =
                out->market_step > 0 || out->market_min_qty > 0 || out->market_max_qty > 0;
        } else if (!strcmp(ty, "MIN_NOTIONAL")) {
            if (cJSON_GetObjectItemCaseSensitive(f, "minNotional"))
                bad |= instrument_field(f, "minNotional", &out->min_notional, false);
            else
                bad |= instrument_field(f, "notional", &out->min_notional, false);
            /* USD-M applies it to every order; spot says so in applyToMarket */
            out->min_notional_market = instrument_flag(f, "applyToMarket", true);
        } else if (!strcmp(ty, "NOTIONAL")) {
            bad |= instrument_field(f, "minNotional", &out->min_notional, true);
            bad |= instrument_field(f, "maxNotional", &out->max_notional, true);
            out->min_notional_market = instrument_flag(f, "applyMinToMarket", true);
            out->max_notional_market = instrument_flag(f, "applyMaxToMarket", false);
        } else if (!strcmp(ty, "PERCENT_PRICE")) {
            bad |= instrument_field(f, "multiplierUp", &out->bid_mult_up, false);
            bad |= instrument_field(f, "multiplierDown", &out->bid_mult_down, false);
            out->ask_mult_up = out->bid_mult_up;
            out->ask_mult_down = out->bid_mult_down;
        } else if (!strcmp(ty, "PERCENT_PRICE_BY_SIDE")) {
            bad |= instrument_field(f, "bidMultiplierUp", &out->bid_mult_up, false);
            bad |= instrument_field(f, "bidMultiplierDown", &out->bid_mult_down, false);
            bad |= instrument_field(f, "askMultiplierUp", &out->ask_mult_up, false);
            bad |= instrument_field(f, "askMultiplierDown", &out->ask_mult_down, false);
        }
        if (bad) {
            snprintf(err, errlen, "%s: malformed %s filter", out->symbol, ty);
            return INSTR_ERR_PARSE;
        }
    }
    if (out->tick < 0 || out->step < 0 || out->min_qty < 0 || out->market_step < 0) {
        snprintf(err, errlen, "%s: negative filter value", out->symbol);
        return INSTR_ERR_PARSE;
    }
    out->px_decimals = out->tick > 0 ? decimal_places(out->tick) : KDEC_DIGITS;
    out->qty_decimals = out->step > 0 ? decimal_places(out->step) : KDEC_DIGITS;
    return INSTR_OK;
}

enum instrument_result instrument_parse_okx(const void *cjson_item, instrument *out, char *err,
                                            size_t errlen)
{
    const cJSON *s = cjson_item;
    memset(out, 0, sizeof *out);
    out->venue = VENUE_OKX;
    char type[16] = "";
    if (!cJSON_IsObject(s) || instrument_str(s, "instId", out->symbol, sizeof out->symbol) ||
        instrument_str(s, "instType", type, sizeof type)) {
        snprintf(err, errlen, "instrument without instId/instType");
        return INSTR_ERR_PARSE;
    }
    bool spot = !strcmp(type, "SPOT") || !strcmp(type, "MARGIN");
    out->futures = !strcmp(type, "SWAP") || !strcmp(type, "FUTURES");
    if (!spot && !out->futures) {
        snprintf(err, errlen, "%s: instType %s is not traded here", out->symbol, type);
        return INSTR_ERR_PARSE;
    }
    /* SPOT: baseCcy/quoteCcy; SWAP/FUTURES: the contract's currency and its settlement */
    if (instrument_str(s, spot ? "baseCcy" : "ctValCcy", out->base, sizeof out->base) ||
        instrument_str(s, spot ? "quoteCcy" : "settleCcy", out->quote, sizeof out->quote)) {
        const char *d1 = strchr(out->symbol, '-'); /* BTC-USDT-SWAP */
        size_t b = d1 ? (size_t)(d1 - out->symbol) : 0;
        const char *d2 = d1 ? strchr(d1 + 1, '-') : NULL;
        size_t q = d1 ? (d2 ? (size_t)(d2 - d1 - 1) : strlen(d1 + 1)) : 0;
        if (!b || b >= sizeof out->base || !q || q >= sizeof out->quote) {
            snprintf(err, errlen, "%s: no base/quote currency", out->symbol);
            return INSTR_ERR_PARSE;
        }
        memcpy(out->base, out->symbol, b);
        out->base[b] = '\0';
        memcpy(out->quote, d1 + 1, q);
        out->quote[q] = '\0';
    }
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(s, "state");
    out->trading = cJSON_IsString(st) && st->valuestring && !strcmp(st->valuestring, "live");
    kdec lmt = 0, mkt = 0;
    int bad = instrument_field(s, "tickSz", &out->tick, false);
    bad |= instrument_field(s, "lotSz", &out->step, false);
    bad |= instrument_field(s, "minSz", &out->min_qty, false);
    /* "" (absent limits) reads as none */
    const cJSON *ml = cJSON_GetObjectItemCaseSensitive(s, "maxLmtSz");
    const cJSON *mm = cJSON_GetObjectItemCaseSensitive(s, "maxMktSz");
    if (ml && !(cJSON_IsString(ml) && !ml->valuestring[0]))
        bad |= instrument_field(s, "maxLmtSz", &lmt, false);
    if (mm && !(cJSON_IsString(mm) && !mm->valuestring[0]))
        bad |= instrument_field(s, "maxMktSz", &mkt, false);
    if (bad || out->tick < 0 || out->step < 0 || out->min_qty < 0 || lmt < 0 || mkt < 0) {
        snprintf(err, errlen, "%s: malformed tickSz/lotSz/minSz/maxLmtSz/maxMktSz", out->symbol);
        return INSTR_ERR_PARSE;
    }
    out->max_qty = lmt;
    if (mkt > 0) { /* market orders: the same lot, their own maximum */
        out->has_market_lot = true;
        out->market_step = out->step;
        out->market_min_qty = out->min_qty;
        out->market_max_qty = mkt;
    }
    out->px_decimals = out->tick > 0 ? decimal_places(out->tick) : KDEC_DIGITS;
    out->qty_decimals = out->step > 0 ? decimal_places(out->step) : KDEC_DIGITS;
    return INSTR_OK;
}

/* ---- tables ---- */

struct instruments {
    instrument *v;
    size_t n, cap;
};

instruments *instruments_new(void)
{
    return xcalloc(1, sizeof(instruments));
}

void instruments_free(instruments *t)
{
    if (!t)
        return;
    free(t->v);
    free(t);
}

static instrument *instruments_slot(instruments *t, enum venue v, const char *symbol)
{
    for (size_t i = 0; i < t->n; i++)
        if (t->v[i].venue == v && !strcmp(t->v[i].symbol, symbol))
            return &t->v[i];
    return NULL;
}

const instrument *instruments_find(const instruments *t, enum venue v, const char *symbol)
{
    return instruments_slot((instruments *)t, v, symbol);
}

size_t instruments_count(const instruments *t)
{
    return t->n;
}

const instrument *instruments_at(const instruments *t, size_t i)
{
    return i < t->n ? &t->v[i] : NULL;
}

enum instrument_result instruments_load_json(instruments *t, enum venue v, const char *json,
                                             size_t len, size_t *skipped, char *err,
                                             size_t errlen)
{
    if (skipped)
        *skipped = 0;
    cJSON *doc = cJSON_ParseWithLength(json, len);
    if (!doc) {
        snprintf(err, errlen, "exchange info is not JSON");
        return INSTR_ERR_PARSE;
    }
    const cJSON *syms = cJSON_GetObjectItemCaseSensitive(doc, "symbols");
    if (!cJSON_IsArray(syms)) {
        cJSON_Delete(doc);
        snprintf(err, errlen, "exchange info has no symbols array");
        return INSTR_ERR_PARSE;
    }
    const cJSON *s;
    cJSON_ArrayForEach(s, syms) {
        instrument in;
        char e[160];
        if (instrument_parse(s, v, &in, e, sizeof e) != INSTR_OK) {
            if (skipped)
                (*skipped)++;
            continue;
        }
        instruments_put(t, &in);
    }
    cJSON_Delete(doc);
    return INSTR_OK;
}

void instruments_put(instruments *t, const instrument *in)
{
    instrument *slot = instruments_slot(t, in->venue, in->symbol);
    if (!slot) {
        if (t->n == t->cap) {
            t->cap = t->cap ? t->cap * 2 : 256;
            t->v = xrealloc(t->v, t->cap * sizeof *t->v);
        }
        slot = &t->v[t->n++];
    }
    *slot = *in;
}

enum instrument_result instruments_load_doc(instruments *t, enum venue v, const char *json,
                                            size_t len, instrument *out, char *err,
                                            size_t errlen)
{
    cJSON *doc = cJSON_ParseWithLength(json, len);
    if (!doc) {
        snprintf(err, errlen, "instrument document is not JSON");
        return INSTR_ERR_PARSE;
    }
    instrument in;
    enum instrument_result r = v == VENUE_OKX ? instrument_parse_okx(doc, &in, err, errlen)
                                              : instrument_parse(doc, v, &in, err, errlen);
    cJSON_Delete(doc);
    if (r != INSTR_OK)
        return r;
    instruments_put(t, &in);
    if (out)
        *out = in;
    return INSTR_OK;
}

enum instrument_result instruments_load_file(instruments *t, enum venue v, const char *path,
                                             size_t *skipped, char *err, size_t errlen)
{
    gzFile gz = gzopen(path, "rb");
    if (!gz) {
        snprintf(err, errlen, "cannot open %s", path);
        return INSTR_ERR_PARSE;
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = xmalloc(cap);
    for (;;) {
        if (n == cap) {
            if (cap >= INSTRUMENT_FILE_MAX) {
                gzclose(gz);
                free(buf);
                snprintf(err, errlen, "%s: larger than %u bytes", path, INSTRUMENT_FILE_MAX);
                return INSTR_ERR_PARSE;
            }
            cap *= 2;
            buf = xrealloc(buf, cap);
        }
        int got = gzread(gz, buf + n, (unsigned)(cap - n));
        if (got < 0) {
            gzclose(gz);
            free(buf);
            snprintf(err, errlen, "%s: read error", path);
            return INSTR_ERR_PARSE;
        }
        if (got == 0)
            break;
        n += (size_t)got;
    }
    gzclose(gz);
    enum instrument_result r = instruments_load_json(t, v, buf, n, skipped, err, errlen);
    free(buf);
    return r;
}
