/* instrument: filters parsed from the real 2021 Binance spot exchangeInfo (every symbol), the
 * precision handler applied to every symbol (flooring, passive alignment, formatting with the
 * instrument's decimals, min/max qty, min notional after rounding), the bundled exchangeInfo
 * subsets under data/instruments/, and messages that name the rule and the numbers. */
#include "check.h"

#include "kestrel/decimal.h"
#include "kestrel/instrument.h"

#include <cJSON.h>
#include <zlib.h>

static kdec D(const char *s)
{
    kdec v = 0;
    if (decimal_parse(s, strlen(s), &v) != K_OK)
        fprintf(stderr, "bad decimal %s\n", s);
    return v;
}

/* decimals of a filter string counted on the text: "0.01000000" -> 2, "1.00" -> 0 */
static int text_decimals(const char *s)
{
    const char *dot = strchr(s, '.');
    if (!dot)
        return 0;
    int n = (int)strlen(dot + 1);
    while (n > 0 && dot[n] == '0')
        n--;
    return n;
}

static int frac_digits(const char *s)
{
    const char *dot = strchr(s, '.');
    return dot ? (int)strlen(dot + 1) : 0;
}

static char *slurp_gz(const char *path, size_t *len)
{
    gzFile gz = gzopen(path, "rb");
    if (!gz)
        return NULL;
    size_t cap = 1 << 20, n = 0;
    char *buf = malloc(cap);
    int got;
    while ((got = gzread(gz, buf + n, (unsigned)(cap - n))) > 0) {
        n += (size_t)got;
        if (n == cap)
            buf = realloc(buf, cap *= 2);
    }
    gzclose(gz);
    *len = n;
    return buf;
}

static const char *filter_str(const cJSON *sym, const char *type, const char *field)
{
    const cJSON *f;
    cJSON_ArrayForEach(f, cJSON_GetObjectItem(sym, "filters")) {
        const cJSON *t = cJSON_GetObjectItem(f, "filterType");
        if (t && !strcmp(t->valuestring, type)) {
            const cJSON *v = cJSON_GetObjectItem(f, field);
            return v && cJSON_IsString(v) ? v->valuestring : NULL;
        }
    }
    return NULL;
}

static void test_every_symbol(void)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/binance/exchangeinfo/spot-exchangeinfo-2021-10-12.json.gz",
             check_shared_data());
    instruments *t = instruments_new();
    size_t skipped = 99;
    char err[200] = "";
    CHECK_INT(instruments_load_file(t, VENUE_BINANCE_SPOT, path, &skipped, err, sizeof err),
              INSTR_OK);
    CHECK_INT(skipped, 0);
    CHECK_INT(instruments_count(t), 1695);

    size_t len = 0;
    char *raw = slurp_gz(path, &len);
    cJSON *doc = cJSON_ParseWithLength(raw, len);
    CHECK(doc != NULL);
    size_t n = 0, trading = 0, bad_filters = 0, bad_floor = 0, bad_align = 0, bad_fmt = 0;
    size_t min_rejects = 0, notional_rejects = 0, checked_ok = 0, bad_msg = 0;
    const cJSON *sym;
    cJSON_ArrayForEach(sym, cJSON_GetObjectItem(doc, "symbols")) {
        const char *name = cJSON_GetObjectItem(sym, "symbol")->valuestring;
        const instrument *in = instruments_find(t, VENUE_BINANCE_SPOT, name);
        if (!in) {
            bad_filters++;
            continue;
        }
        n++;
        const char *tick = filter_str(sym, "PRICE_FILTER", "tickSize");
        const char *step = filter_str(sym, "LOT_SIZE", "stepSize");
        const char *minq = filter_str(sym, "LOT_SIZE", "minQty");
        const char *minn = filter_str(sym, "MIN_NOTIONAL", "minNotional");
        const char *status = cJSON_GetObjectItem(sym, "status")->valuestring;
        if (in->tick != D(tick) || in->step != D(step) || in->min_qty != D(minq) ||
            in->min_notional != D(minn) || in->px_decimals != text_decimals(tick) ||
            in->qty_decimals != text_decimals(step) ||
            in->trading != (strcmp(status, "TRADING") == 0))
            bad_filters++;
        if (!in->trading)
            continue;
        trading++;
        /* probes: awkward quantities around and above the minimum */
        kdec probes[] = {in->min_qty + in->step / 3 + 1, in->min_qty * 7 + 12345,
                         in->min_qty * 3 + in->step - 1, D("1.23456789"), in->min_qty};
        for (size_t k = 0; k < K_ARRAY_LEN(probes); k++) {
            kdec q = probes[k];
            kdec f = instrument_floor_qty(in, q, false);
            if (f > q || q - f >= in->step || (f - in->min_qty) % in->step != 0)
                bad_floor++;
        }
        /* prices: a price 1/3 tick off the grid, near the middle of the allowed range */
        kdec base = in->tick * 1000 + in->min_price;
        kdec px = base + in->tick / 3 + 1;
        kdec b = instrument_align_price(in, px, SIDE_BUY, true);
        kdec s = instrument_align_price(in, px, SIDE_SELL, true);
        bool on_grid = (px - in->min_price) % in->tick == 0; /* tick of 1e-8: always */
        if (b > px || px - b >= in->tick || s < px || s - px >= in->tick ||
            s - b != (on_grid ? 0 : in->tick) || (b - in->min_price) % in->tick != 0)
            bad_align++;
        /* an order at a price and quantity that clears min notional: formatted exactly */
        kdec qty = probes[1];
        kdec need = in->min_notional * 2;
        while (instrument_notional(instrument_floor_qty(in, qty, false), b) < need &&
               qty < in->max_qty / 4)
            qty *= 2;
        instrument_order o = {.side = SIDE_BUY, .qty = qty, .price = px};
        instrument_checked c;
        char why[160];
        enum instrument_result r = instrument_check(in, &o, &c, why, sizeof why);
        if (r == INSTR_OK) {
            checked_ok++;
            kdec back = 0;
            if (frac_digits(c.qty_text) != in->qty_decimals ||
                frac_digits(c.price_text) != in->px_decimals ||
                decimal_parse(c.qty_text, strlen(c.qty_text), &back) != K_OK ||
                back != c.qty || decimal_parse(c.price_text, strlen(c.price_text), &back) ||
                back != b || c.price != b)
                bad_fmt++;
        }
        /* one unit (1e-8) under the minimum is refused by LOT_SIZE, naming the rule */
        o.qty = in->min_qty - 1;
        r = instrument_check(in, &o, &c, why, sizeof why);
        if (r == (in->min_qty > in->step ? INSTR_ERR_QTY_MIN : INSTR_ERR_QTY_ZERO))
            min_rejects++;
        if (!strstr(why, in->min_qty > in->step ? "minQty" : "stepSize") || !strstr(why, name))
            bad_msg++;
        /* the minimum quantity at the minimum price is (for nearly all) under min notional */
        o.qty = in->min_qty;
        o.price = in->min_price > 0 ? in->min_price : in->tick;
        r = instrument_check(in, &o, &c, why, sizeof why);
        if (r == INSTR_ERR_NOTIONAL_MIN) {
            notional_rejects++;
            if (instrument_notional(c.qty, c.price) >= in->min_notional ||
                !strstr(why, "minNotional"))
                bad_msg++;
        }
    }
    CHECK_INT(n, 1695);
    CHECK_INT(trading, 1262);
    CHECK_INT(bad_filters, 0);
    CHECK_INT(bad_floor, 0);
    CHECK_INT(bad_align, 0);
    CHECK_INT(bad_fmt, 0);
    CHECK_INT(bad_msg, 0);
    CHECK(checked_ok > 1200);
    CHECK_INT(min_rejects, trading);
    CHECK(notional_rejects > 1000);
    fprintf(stderr, "every symbol: %zu parsed, %zu trading, %zu ok orders, %zu minQty rejects, "
                    "%zu notional rejects\n",
            n, trading, checked_ok, min_rejects, notional_rejects);
    cJSON_Delete(doc);
    free(raw);
    instruments_free(t);
}

static void test_btcusdt_rules(void)
{
    instruments *t = instruments_new();
    char err[200];
    size_t sk;
    CHECK_INT(instruments_load_file(t, VENUE_BINANCE_SPOT,
                                    "data/instruments/binance-spot-exchangeinfo-2021-10-12.json",
                                    &sk, err, sizeof err),
              INSTR_OK);
    CHECK_INT(instruments_count(t), 2);
    const instrument *in = instruments_find(t, VENUE_BINANCE_SPOT, "BTCUSDT");
    CHECK(in != NULL);
    if (!in) {
        instruments_free(t);
        return;
    }
    CHECK_INT(in->tick, D("0.01"));
    CHECK_INT(in->step, D("0.00001"));
    CHECK_INT(in->min_notional, D("10"));
    CHECK_INT(in->bid_mult_up, D("5"));
    CHECK_INT(in->bid_mult_down, D("0.2"));
    CHECK(in->has_market_lot);
    CHECK_INT(in->market_max_qty, D("100.05381873"));
    CHECK_INT(in->px_decimals, 2);
    CHECK_INT(in->qty_decimals, 5);
    CHECK_STR(in->base, "BTC");
    CHECK_STR(in->quote, "USDT");

    instrument_order o = {.side = SIDE_BUY, .qty = D("0.001239"), .price = D("61602.019"),
                          .ref_px = D("61602.01")};
    instrument_checked c;
    char why[160];
    /* the famous 2.05 -> 2.049999: exact integers never drift */
    CHECK_INT(instrument_check(in, &o, &c, why, sizeof why), INSTR_OK);
    CHECK_STR(c.qty_text, "0.00123");
    CHECK_STR(c.price_text, "61602.01");
    CHECK_INT(c.notional, D("75.7704723")); /* 0.00123 * 61602.01 exactly */
    o.side = SIDE_SELL;
    CHECK_INT(instrument_check(in, &o, &c, why, sizeof why), INSTR_OK);
    CHECK_STR(c.price_text, "61602.02"); /* a sell rounds up: never more aggressive */
    /* notional exactly at the minimum passes, one unit of qty under it is refused */
    o = (instrument_order){.side = SIDE_BUY, .qty = D("0.001"), .price = D("10000")};
    CHECK_INT(instrument_check(in, &o, &c, why, sizeof why), INSTR_OK);
    o.price = D("9999.99");
    CHECK_INT(instrument_check(in, &o, &c, why, sizeof why), INSTR_ERR_NOTIONAL_MIN);
    CHECK_STR(why, "notional 9.99999 < minNotional 10 for BTCUSDT");
    /* below the step */
    o.qty = D("0.000001");
    CHECK_INT(instrument_check(in, &o, &c, why, sizeof why), INSTR_ERR_QTY_ZERO);
    CHECK_STR(why, "qty 0.000001 floors to 0 at stepSize 0.00001 for BTCUSDT");
    /* max qty and the market lot */
    o = (instrument_order){.side = SIDE_BUY, .qty = D("9000.00001"), .price = D("100")};
    CHECK_INT(instrument_check(in, &o, &c, why, sizeof why), INSTR_ERR_QTY_MAX);
    o = (instrument_order){.side = SIDE_BUY, .market = true, .qty = D("100.1"),
                           .ref_px = D("61602.01")};
    CHECK_INT(instrument_check(in, &o, &c, why, sizeof why), INSTR_ERR_QTY_MAX);
    CHECK_STR(why, "qty 100.1 > MARKET_LOT_SIZE maxQty 100.05381873 for BTCUSDT");
    o.qty = D("0.0002");
    CHECK_INT(instrument_check(in, &o, &c, why, sizeof why), INSTR_OK);
    CHECK_STR(c.qty_text, "0.00020");
    o.qty = D("0.0001");
    CHECK_INT(instrument_check(in, &o, &c, why, sizeof why), INSTR_ERR_NOTIONAL_MIN);
    /* percent price: 5x / 0.2x of the average, the bounds themselves allowed */
    o = (instrument_order){.side = SIDE_BUY, .qty = D("0.001"), .price = D("20000"),
                           .ref_px = D("100000")};
    CHECK_INT(instrument_check(in, &o, &c, why, sizeof why), INSTR_OK);
    o.price = D("19999.99");
    CHECK_INT(instrument_check(in, &o, &c, why, sizeof why), INSTR_ERR_PERCENT_PRICE);
    CHECK(strstr(why, "PERCENT_PRICE") != NULL);
    /* stop aligned to the nearest tick */
    o = (instrument_order){.side = SIDE_SELL, .qty = D("0.001"), .price = D("60000"),
                           .stop = D("60100.006")};
    CHECK_INT(instrument_check(in, &o, &c, why, sizeof why), INSTR_OK);
    CHECK_STR(c.stop_text, "60100.01");
    /* dust: what a 0.1% fee in the base asset leaves after selling the stepped part */
    CHECK(instrument_is_dust(in, D("0.00000999"), D("61602.01")));
    CHECK(instrument_is_dust(in, D("0.00015"), D("61602.01"))); /* 9.24 USDT < 10 */
    CHECK(!instrument_is_dust(in, D("0.00017"), D("61602.01")));
    CHECK(!instrument_is_dust(in, 0, D("61602.01")));
    /* a close sells the stepped part and leaves the remainder as dust */
    kdec dust = -1;
    CHECK_INT(instrument_close_qty(in, D("0.00999"), D("61602.01"), &dust), D("0.00999"));
    CHECK_INT(dust, 0);
    CHECK_INT(instrument_close_qty(in, -D("0.0099999"), D("61602.01"), &dust), D("0.00999"));
    CHECK_INT(dust, D("0.0000099"));
    CHECK_INT(instrument_close_qty(in, D("0.00015"), D("61602.01"), &dust), 0);
    CHECK_INT(dust, D("0.00015"));
    instruments_free(t);
}

static void test_usdm_bundle(void)
{
    instruments *t = instruments_new();
    char err[200];
    size_t sk;
    CHECK_INT(instruments_load_file(t, VENUE_BINANCE_USDM,
                                    "data/instruments/binance-usdm-exchangeinfo-2022-02-19.json",
                                    &sk, err, sizeof err),
              INSTR_OK);
    const instrument *in = instruments_find(t, VENUE_BINANCE_USDM, "BTCUSDT");
    CHECK(in != NULL);
    if (in) {
        CHECK(in->futures);
        CHECK_INT(in->tick, D("0.10"));
        CHECK_INT(in->step, D("0.001"));
        CHECK_INT(in->min_notional, D("10"));
        CHECK_INT(in->bid_mult_up, D("1.1"));
        CHECK_INT(in->bid_mult_down, D("0.5454"));
        CHECK_INT(in->px_decimals, 1);
        instrument_order o = {.side = SIDE_BUY, .qty = D("0.0015"), .price = D("61602.19")};
        instrument_checked c;
        char why[160];
        CHECK_INT(instrument_check(in, &o, &c, why, sizeof why), INSTR_OK);
        CHECK_STR(c.price_text, "61602.1");
        CHECK_STR(c.qty_text, "0.001");
    }
    CHECK(instruments_find(t, VENUE_BINANCE_SPOT, "BTCUSDT") == NULL);
    /* a missing file and junk are refused with a message */
    CHECK_INT(instruments_load_file(t, VENUE_BINANCE_USDM, "data/instruments/nope.json", &sk, err,
                                    sizeof err),
              INSTR_ERR_PARSE);
    CHECK(strstr(err, "nope.json") != NULL);
    CHECK_INT(instruments_load_json(t, VENUE_BINANCE_USDM, "{\"symbols\":3}", 13, &sk, err,
                                    sizeof err),
              INSTR_ERR_PARSE);
    /* a double where a decimal string belongs is refused (the symbol is skipped) */
    const char *j = "{\"symbols\":[{\"symbol\":\"XUSDT\",\"status\":\"TRADING\","
                    "\"baseAsset\":\"X\","
                    "\"quoteAsset\":\"USDT\",\"filters\":[{\"filterType\":\"PRICE_FILTER\","
                    "\"tickSize\":0.01}]}]}";
    CHECK_INT(instruments_load_json(t, VENUE_BINANCE_USDM, j, strlen(j), &sk, err, sizeof err),
              INSTR_OK);
    CHECK_INT(sk, 1);
    CHECK(instruments_find(t, VENUE_BINANCE_USDM, "XUSDT") == NULL);
    instruments_free(t);
}

/* The mechanics on a hand-made filter set (the message of issue 10's example). */
static void test_message_example(void)
{
    instrument in = {.venue = VENUE_BINANCE_SPOT, .symbol = "BTCUSDT", .trading = true,
                     .tick = D("0.01"), .step = D("0.00001"), .min_qty = D("0.001"),
                     .qty_decimals = 5, .px_decimals = 2};
    instrument_order o = {.side = SIDE_BUY, .qty = D("0.00012"), .price = D("60000")};
    instrument_checked c;
    char why[160];
    CHECK_INT(instrument_check(&in, &o, &c, why, sizeof why), INSTR_ERR_QTY_MIN);
    CHECK_STR(why, "qty 0.00012 < minQty 0.001 for BTCUSDT");
    CHECK_STR(instrument_strerror(INSTR_ERR_QTY_MIN), "quantity below minQty");
    in.trading = false;
    CHECK_INT(instrument_check(&in, &o, &c, why, sizeof why), INSTR_ERR_NOT_TRADING);
}

/* The newer Binance spot filters (NOTIONAL, PERCENT_PRICE_BY_SIDE), in the documented format;
 * no recorded file in shared/data carries them, so the entry is hand-written (parser mechanics). */
static void test_newer_filters(void)
{
    const char *j =
        "{\"symbols\":[{\"symbol\":\"BTCUSDT\",\"status\":\"TRADING\",\"baseAsset\":\"BTC\","
        "\"quoteAsset\":\"USDT\",\"filters\":["
        "{\"filterType\":\"PRICE_FILTER\",\"minPrice\":\"0.01000000\","
        "\"maxPrice\":\"1000000.00000000\",\"tickSize\":\"0.01000000\"},"
        "{\"filterType\":\"LOT_SIZE\",\"minQty\":\"0.00001000\",\"maxQty\":\"9000.00000000\","
        "\"stepSize\":\"0.00001000\"},"
        "{\"filterType\":\"NOTIONAL\",\"minNotional\":\"5.00000000\",\"applyMinToMarket\":true,"
        "\"maxNotional\":\"9000000.00000000\",\"applyMaxToMarket\":false,\"avgPriceMins\":5},"
        "{\"filterType\":\"PERCENT_PRICE_BY_SIDE\",\"bidMultiplierUp\":\"5\","
        "\"bidMultiplierDown\":\"0.2\",\"askMultiplierUp\":\"5\",\"askMultiplierDown\":\"0.2\","
        "\"avgPriceMins\":5}]}]}";
    instruments *t = instruments_new();
    size_t sk;
    char err[200], why[160];
    CHECK_INT(instruments_load_json(t, VENUE_BINANCE_SPOT, j, strlen(j), &sk, err, sizeof err),
              INSTR_OK);
    CHECK_INT(sk, 0);
    const instrument *in = instruments_find(t, VENUE_BINANCE_SPOT, "BTCUSDT");
    CHECK(in != NULL);
    if (in) {
        CHECK_INT(in->min_notional, D("5"));
        CHECK_INT(in->max_notional, D("9000000"));
        CHECK(in->min_notional_market);
        CHECK(!in->max_notional_market);
        CHECK_INT(in->ask_mult_down, D("0.2"));
        instrument_order o = {.side = SIDE_SELL, .qty = D("0.0001"), .price = D("49999.99")};
        instrument_checked c;
        CHECK_INT(instrument_check(in, &o, &c, why, sizeof why), INSTR_ERR_NOTIONAL_MIN);
        o.price = D("50000");
        CHECK_INT(instrument_check(in, &o, &c, why, sizeof why), INSTR_OK);
        o.qty = D("200");
        CHECK_INT(instrument_check(in, &o, &c, why, sizeof why), INSTR_ERR_NOTIONAL_MAX);
        o.market = true; /* maxNotional does not apply to market orders */
        o.ref_px = D("50000");
        CHECK_INT(instrument_check(in, &o, &c, why, sizeof why), INSTR_OK);
        o = (instrument_order){.side = SIDE_SELL, .qty = D("0.001"), .price = D("250000.01"),
                               .ref_px = D("50000")};
        CHECK_INT(instrument_check(in, &o, &c, why, sizeof why), INSTR_ERR_PERCENT_PRICE);
        CHECK_STR(why, "price 250000.01 outside PERCENT_PRICE [10000, 250000] of avg 50000 for "
                       "BTCUSDT");
    }
    instruments_free(t);
}

int main(void)
{
    test_newer_filters();
    test_every_symbol();
    test_btcusdt_rules();
    test_usdm_bundle();
    test_message_example();
    CHECK_DONE();
}
