/* Instruments and their exchange filters (tick size, step size, min/max qty, min/max notional,
 * market lot size, percent price), parsed exactly from a venue's exchangeInfo JSON, and the
 * precision handler every order passes before it leaves: quantity floored to the step, price
 * aligned to the tick (passive side for limits), notional checked after rounding, text formatted
 * from the integers with exactly the instrument's decimals. Pure; an instrument table is plain
 * data owned by one thread. */
#ifndef KESTREL_INSTRUMENT_H
#define KESTREL_INSTRUMENT_H
#include "kestrel/common.h"

/* Order side, shared by instruments, orders, brokers, portfolio and risk. */
enum side { SIDE_BUY = 0, SIDE_SELL = 1 };
const char *side_name(enum side s); /* "buy" "sell" */

#define INSTR_ASSET_MAX 16

typedef struct instrument {
    enum venue venue;
    char symbol[KSYM_MAX];
    char base[INSTR_ASSET_MAX], quote[INSTR_ASSET_MAX];
    bool trading;        /* status TRADING */
    bool futures;        /* a USD-M contract (linear, margin in quote) */
    /* PRICE_FILTER: 0 = that part of the filter is disabled (Binance's own convention) */
    kdec tick, min_price, max_price;
    /* LOT_SIZE */
    kdec step, min_qty, max_qty;
    /* MARKET_LOT_SIZE (market orders); has_market_lot false when absent or all zero */
    bool has_market_lot;
    kdec market_step, market_min_qty, market_max_qty;
    /* MIN_NOTIONAL (spot: minNotional, USD-M: notional) or NOTIONAL (min and max) */
    kdec min_notional, max_notional; /* 0 = none */
    bool min_notional_market, max_notional_market; /* apply to market orders too */
    /* PERCENT_PRICE (both sides equal) or PERCENT_PRICE_BY_SIDE, as multipliers of the
     * reference (average) price; 0 = none */
    kdec bid_mult_up, bid_mult_down, ask_mult_up, ask_mult_down;
    int px_decimals;  /* from the tick size (8 when there is no tick) */
    int qty_decimals; /* from the step size */
} instrument;

enum instrument_result {
    INSTR_OK = 0,
    INSTR_ERR_PARSE,        /* malformed exchangeInfo / filter */
    INSTR_ERR_NOT_TRADING,  /* status is not TRADING */
    INSTR_ERR_QTY_ZERO,     /* quantity is 0 after flooring to the step */
    INSTR_ERR_QTY_MIN,
    INSTR_ERR_QTY_MAX,
    INSTR_ERR_PRICE_ZERO,   /* a limit / stop price is missing or 0 after rounding */
    INSTR_ERR_PRICE_MIN,
    INSTR_ERR_PRICE_MAX,
    INSTR_ERR_NOTIONAL_MIN,
    INSTR_ERR_NOTIONAL_MAX,
    INSTR_ERR_PERCENT_PRICE,
    INSTR_ERR_UNKNOWN,      /* symbol not in the table */
};
const char *instrument_strerror(enum instrument_result r);

/* What an order asks for (before rounding). */
typedef struct instrument_order {
    enum side side;
    bool market;   /* market (or stop-market / take-profit market): no limit price */
    kdec qty;      /* base quantity, > 0 */
    kdec price;    /* limit price (ignored for market orders) */
    kdec stop;     /* trigger price, 0 = none (aligned to the tick like a price, nearest side) */
    kdec ref_px;   /* reference price: the average / last trade price; market notional and
                    * PERCENT_PRICE use it; 0 = unknown (those checks are skipped) */
} instrument_order;

/* The order as it leaves: aligned integers and their text with the instrument's decimals. */
typedef struct instrument_checked {
    kdec qty, price, stop;
    kdec notional; /* qty * (price, or ref_px for market), saturated to KDEC_MAX */
    char qty_text[32], price_text[32], stop_text[32]; /* "" when not applicable */
} instrument_checked;

/* Quantity floored to the step (relative to minQty, as Binance's LOT_SIZE rule reads);
 * market = use MARKET_LOT_SIZE when present. Never rounds up. */
kdec instrument_floor_qty(const instrument *in, kdec qty, bool market);
/* Price aligned to the tick (relative to minPrice). passive: buy rounds down, sell rounds up
 * (the price never becomes more aggressive than asked); !passive: the other way. */
kdec instrument_align_price(const instrument *in, kdec px, enum side side, bool passive);
/* qty * px / 1e8 exactly, saturated to [0, KDEC_MAX]. */
kdec instrument_notional(kdec qty, kdec px);

/* Rounds and checks one order. INSTR_OK with *out filled, or the violated rule with a message
 * naming the rule and the numbers: "qty 0.00012 < minQty 0.001 for BTCUSDT". */
K_MUST_USE enum instrument_result instrument_check(const instrument *in,
                                                   const instrument_order *ord,
                                                   instrument_checked *out, char *why,
                                                   size_t whylen);

/* Formats a price / quantity with exactly the instrument's decimals (the value must already be
 * aligned; otherwise the extra digits are kept, never dropped). Returns the length. */
size_t instrument_format_price(const instrument *in, kdec px, char *buf, size_t cap);
size_t instrument_format_qty(const instrument *in, kdec qty, char *buf, size_t cap);

/* A position remainder that can never be sold as an order: below minQty (or the market lot's
 * minimum), or floored to 0, or below the min notional at ref_px. */
bool instrument_is_dust(const instrument *in, kdec qty, kdec ref_px);

/* What a close can sell of a position of |qty|: the market-lot floor of it, or 0 when that is
 * itself dust; *dust gets the remainder that stays behind (never blocks the close). */
kdec instrument_close_qty(const instrument *in, kdec qty, kdec ref_px, kdec *dust);

/* ---- instrument tables ---- */
typedef struct instruments instruments;

instruments *instruments_new(void);
void instruments_free(instruments *t); /* NULL is fine */

/* Loads a Binance exchangeInfo document (spot /api/v3 or USD-M /fapi/v1) into the table for
 * venue v (replacing symbols already present). Symbols whose filters do not parse are skipped
 * and counted in *skipped (may be NULL). INSTR_OK, or INSTR_ERR_PARSE with a message. */
K_MUST_USE enum instrument_result instruments_load_json(instruments *t, enum venue v,
                                                        const char *json, size_t len,
                                                        size_t *skipped, char *err,
                                                        size_t errlen);
/* Same from a file, gzip or plain (at most 64 MiB uncompressed). */
K_MUST_USE enum instrument_result instruments_load_file(instruments *t, enum venue v,
                                                        const char *path, size_t *skipped,
                                                        char *err, size_t errlen);

const instrument *instruments_find(const instruments *t, enum venue v, const char *symbol);
size_t instruments_count(const instruments *t);
const instrument *instruments_at(const instruments *t, size_t i);

/* Inserts or replaces (venue, symbol). */
void instruments_put(instruments *t, const instrument *in);
/* One symbol's own document (a Binance exchangeInfo symbols[] entry, spot or USD-M; an OKX
 * GET /api/v5/public/instruments data item for VENUE_OKX) into the table; *out (may be NULL)
 * gets it. The instrument cache's format (store_put_instrument_doc). */
K_MUST_USE enum instrument_result instruments_load_doc(instruments *t, enum venue v,
                                                       const char *json, size_t len,
                                                       instrument *out, char *err,
                                                       size_t errlen);
/* Parses one OKX instruments item (cJSON): instId, instType SPOT/MARGIN/SWAP/FUTURES, state
 * "live" = trading, tickSz -> tick, lotSz -> step, minSz -> min_qty, maxLmtSz -> max_qty,
 * maxMktSz -> the market lot (same step and minimum); SWAP/FUTURES sizes are contracts (ctVal
 * each) and futures = true. No notional or percent-price filters (OKX has none of them). */
K_MUST_USE enum instrument_result instrument_parse_okx(const void *cjson_item, instrument *out,
                                                       char *err, size_t errlen);
/* Parses one exchangeInfo "symbols" entry already decoded by cJSON (a const struct cJSON *). */
K_MUST_USE enum instrument_result instrument_parse(const void *cjson_symbol, enum venue v,
                                                   instrument *out, char *err, size_t errlen);

#endif
