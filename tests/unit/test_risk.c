/* risk: every rule fires exactly at its threshold (one unit on either side): max positions,
 * per-asset and total exposure, open risk, daily loss -> REDUCING until the next UTC day,
 * drawdown -> half size / HALTED until resumed, leverage, correlation -> half size; reducing
 * orders pass every state; sizing modes (fixed quote, percent risk, Kelly with its minimum
 * sample, confidence); ATR / percent protection; VaR / ES and the BTC/ETH correlation of real
 * daily closes against values computed independently (Python's statistics module); config
 * keys with their ranges. Portfolios here are built from hand-made fills: the rules' mechanics. */
#include "check.h"

#include "kestrel/decimal.h"
#include "kestrel/risk.h"

#include <cJSON.h>

static kdec D(const char *s)
{
    kdec v = 0;
    if (decimal_parse(s, strlen(s), &v) != K_OK)
        fprintf(stderr, "bad decimal %s\n", s);
    return v;
}

#define SPOT VENUE_BINANCE_SPOT
#define T0 (19943LL * 86400000LL) /* 2024-08-08 00:00 UTC */

static void buy(portfolio *pf, const char *sym, const char *px, const char *qty)
{
    static int64_t id; /* test-only counter */
    order_fill f = {.trade_id = ++id, .time_ms = T0, .px = D(px), .qty = D(qty)};
    CHECK_INT(portfolio_on_fill(pf, SPOT, sym, SIDE_BUY, &f), PF_OK);
}

static void sell(portfolio *pf, const char *sym, const char *px, const char *qty)
{
    static int64_t id = 1000000;
    order_fill f = {.trade_id = ++id, .time_ms = T0, .px = D(px), .qty = D(qty)};
    CHECK_INT(portfolio_on_fill(pf, SPOT, sym, SIDE_SELL, &f), PF_OK);
}

static risk_order entry(const char *sym, const char *asset, const char *px, kdec qty)
{
    risk_order o = {.venue = SPOT, .symbol = sym, .asset = asset, .side = SIDE_BUY, .qty = qty,
                    .price = D(px), .leverage = 1};
    return o;
}

/* a config with every limit but the one under test wide open */
static risk_config open_cfg(void)
{
    risk_config c;
    risk_config_default(&c);
    c.max_positions = 100;
    c.max_asset_pct = 100 * KDEC_SCALE;
    c.max_exposure_pct = 1000 * KDEC_SCALE;
    c.max_open_risk_pct = 100 * KDEC_SCALE;
    return c;
}

static void test_max_positions(void)
{
    risk_config c = open_cfg();
    c.max_positions = 5;
    risk *r = risk_new(&c);
    portfolio *pf = portfolio_new(D("10000"), "USDT", 0);
    const char *syms[] = {"AUSDT", "BUSDT", "CUSDT", "DUSDT", "EUSDT"};
    risk_verdict v;
    for (int i = 0; i < 4; i++)
        buy(pf, syms[i], "10", "1");
    risk_order o = entry("EUSDT", "E", "10", D("1"));
    CHECK_INT(risk_check(r, pf, &o, T0, &v), RISK_OK); /* 4 open: the 5th is allowed */
    buy(pf, syms[4], "10", "1");
    o = entry("FUSDT", "F", "10", D("1"));
    CHECK_INT(risk_check(r, pf, &o, T0, &v), RISK_ERR_MAX_POSITIONS);
    CHECK_STR(v.why, "max positions 5 reached (5 open)");
    o = entry("AUSDT", "A", "10", D("1")); /* adding to an open position is not a new one */
    CHECK_INT(risk_check(r, pf, &o, T0, &v), RISK_OK);
    sell(pf, "AUSDT", "10", "1"); /* closed: a slot frees up */
    o = entry("FUSDT", "F", "10", D("1"));
    CHECK_INT(risk_check(r, pf, &o, T0, &v), RISK_OK);
    portfolio_free(pf);
    risk_free(r);
}

static void test_exposure(void)
{
    risk_config c = open_cfg();
    c.max_asset_pct = 30 * KDEC_SCALE;
    risk *r = risk_new(&c);
    portfolio *pf = portfolio_new(D("10000"), "USDT", 0);
    risk_verdict v;
    /* exactly 30% of 10000 = 3000 passes, one unit of quantity more does not */
    risk_order o = entry("BTCUSDT", "BTC", "60000", D("0.05"));
    CHECK_INT(risk_check(r, pf, &o, T0, &v), RISK_OK);
    o.qty += 1;
    CHECK_INT(risk_check(r, pf, &o, T0, &v), RISK_ERR_ASSET_EXPOSURE);
    CHECK_STR(v.why, "BTC exposure 3000.0006 > 30% of equity 10000 (max 3000)");
    /* with 1200 already held */
    buy(pf, "BTCUSDT", "60000", "0.02");
    o.qty = D("0.03");
    CHECK_INT(risk_check(r, pf, &o, T0, &v), RISK_OK);
    o.qty += 1;
    CHECK_INT(risk_check(r, pf, &o, T0, &v), RISK_ERR_ASSET_EXPOSURE);
    portfolio_free(pf);
    risk_free(r);

    c = open_cfg();
    c.max_exposure_pct = 80 * KDEC_SCALE;
    r = risk_new(&c);
    pf = portfolio_new(D("10000"), "USDT", 0);
    buy(pf, "AUSDT", "100", "40"); /* 4000 */
    buy(pf, "BUSDT", "100", "30"); /* 3000 */
    o = entry("CUSDT", "C", "100", D("10")); /* 7000 + 1000 = 80% exactly */
    CHECK_INT(risk_check(r, pf, &o, T0, &v), RISK_OK);
    o.qty += 1;
    CHECK_INT(risk_check(r, pf, &o, T0, &v), RISK_ERR_TOTAL_EXPOSURE);
    CHECK_STR(v.why, "total exposure 8000.000001 > 80% of equity 10000 (max 8000)");
    portfolio_free(pf);
    risk_free(r);
}

static void test_open_risk(void)
{
    risk_config c = open_cfg();
    c.max_open_risk_pct = 5 * KDEC_SCALE;
    risk *r = risk_new(&c);
    portfolio *pf = portfolio_new(D("10000"), "USDT", 0);
    risk_verdict v;
    risk_order o = entry("BTCUSDT", "BTC", "60000", D("0.1"));
    o.stop = D("55000"); /* 0.1 * 5000 = 500 = 5% */
    CHECK_INT(risk_open_risk(r, pf), 0);
    CHECK_INT(risk_check(r, pf, &o, T0, &v), RISK_OK);
    o.stop = D("54999.99");
    CHECK_INT(risk_check(r, pf, &o, T0, &v), RISK_ERR_OPEN_RISK);
    CHECK_STR(v.why, "open risk 500.001 > 5% of equity 10000 (max 500)");
    /* an open position with its stop counts: 100 at risk leaves 400 */
    buy(pf, "ETHUSDT", "2000", "1");
    portfolio_set_protection(pf, SPOT, "ETHUSDT", D("1900"), D("2200"));
    CHECK_INT(risk_open_risk(r, pf), D("100"));
    cJSON *j = risk_json(r, pf);
    char *js = cJSON_PrintUnformatted(j);
    CHECK(strstr(js, "\"open_risk\":{\"used\":\"100\",\"pct\":\"1\",\"max_pct\":\"5\"}") != NULL);
    CHECK(strstr(js, "\"positions\":{\"used\":1,\"max\":100}") != NULL);
    CHECK(strstr(js, "\"state\":\"ACTIVE\"") != NULL);
    cJSON_free(js);
    cJSON_Delete(j);
    o.stop = D("56000"); /* 400 */
    CHECK_INT(risk_check(r, pf, &o, T0, &v), RISK_OK);
    o.stop = D("55999.99");
    CHECK_INT(risk_check(r, pf, &o, T0, &v), RISK_ERR_OPEN_RISK);
    /* without a stop, sl_pct (0.8%) of the notional counts: 0.8% * 6000 = 48 */
    o.stop = 0;
    CHECK_INT(risk_check(r, pf, &o, T0, &v), RISK_OK);
    portfolio_free(pf);
    risk_free(r);
}

static void test_daily_loss(void)
{
    risk_config c = open_cfg();
    risk *r = risk_new(&c);
    portfolio *pf = portfolio_new(D("10000"), "USDT", 0);
    risk_verdict v;
    buy(pf, "AUSDT", "100", "10");
    portfolio_sample(pf, T0 + 1000);
    /* 10 * (70.00000001 - 100) = -299.9999999: a loss just under 3% */
    portfolio_mark(pf, SPOT, "AUSDT", D("70") + 1);
    risk_order o = entry("BUSDT", "B", "10", D("1"));
    CHECK_INT(risk_check(r, pf, &o, T0 + 2000, &v), RISK_OK);
    CHECK_INT(v.state, RISK_ACTIVE);
    portfolio_mark(pf, SPOT, "AUSDT", D("70")); /* -300 = 3% exactly */
    CHECK_INT(risk_check(r, pf, &o, T0 + 3000, &v), RISK_ERR_DAILY_LOSS);
    CHECK_INT(v.state, RISK_REDUCING);
    CHECK_STR(v.why, "REDUCING: daily loss 300 >= 3% of 10000: no new entries until the next "
                     "UTC day");
    /* a recovery the same day does not lift it */
    portfolio_mark(pf, SPOT, "AUSDT", D("99"));
    CHECK_INT(risk_check(r, pf, &o, T0 + 4000, &v), RISK_ERR_DAILY_LOSS);
    /* reducing orders pass */
    risk_order red = entry("AUSDT", "A", "99", D("10"));
    red.side = SIDE_SELL;
    red.reducing = true;
    CHECK_INT(risk_check(r, pf, &red, T0 + 4000, &v), RISK_OK);
    /* the next UTC day: entries again */
    portfolio_sample(pf, T0 + 86400000LL);
    CHECK_INT(risk_check(r, pf, &o, T0 + 86400000LL, &v), RISK_OK);
    CHECK_INT(v.state, RISK_ACTIVE);
    portfolio_free(pf);
    risk_free(r);
}

static void test_drawdown(void)
{
    risk_config c = open_cfg();
    risk *r = risk_new(&c);
    portfolio *pf = portfolio_new(D("10000"), "USDT", 0);
    risk_verdict v;
    int64_t d1 = T0 + 86400000LL;
    buy(pf, "AUSDT", "100", "40");
    portfolio_mark(pf, SPOT, "AUSDT", D("75") + 1); /* equity 9000.0000004: just under 10% */
    portfolio_sample(pf, T0 + 1);
    portfolio_sample(pf, d1); /* a new day starts at this equity: no daily-loss stop */
    risk_order o = entry("BUSDT", "B", "10", D("1"));
    CHECK_INT(risk_check(r, pf, &o, d1, &v), RISK_OK);
    CHECK_INT(v.size_divisor, 1);
    CHECK_INT(v.qty, D("1"));
    portfolio_mark(pf, SPOT, "AUSDT", D("75")); /* 9000: 10% exactly */
    portfolio_sample(pf, d1 + 1);
    /* (the day started at 9000.0000004: a loss of 4e-7 is far from 3%) */
    CHECK_INT(risk_check(r, pf, &o, d1 + 1, &v), RISK_OK);
    CHECK_INT(v.size_divisor, 2);
    CHECK_INT(v.qty, D("0.5"));
    CHECK_STR(v.why, "half size: drawdown 10% >= 10%");
    /* correlation above 0.7 halves again; exactly 0.7 does not */
    o.max_corr = 0.7;
    CHECK_INT(risk_check(r, pf, &o, d1 + 1, &v), RISK_OK);
    CHECK_INT(v.size_divisor, 2);
    o.max_corr = -0.7000001;
    CHECK_INT(risk_check(r, pf, &o, d1 + 1, &v), RISK_OK);
    CHECK_INT(v.size_divisor, 4);
    CHECK_INT(v.qty, D("0.25"));
    /* 20%: HALTED, sticky until a person resumes */
    int64_t d2 = d1 + 86400000LL;
    portfolio_mark(pf, SPOT, "AUSDT", D("50") + 1); /* 8000.0000004 */
    portfolio_sample(pf, d1 + 2);
    portfolio_sample(pf, d2);
    o.max_corr = 0;
    CHECK_INT(risk_check(r, pf, &o, d2, &v), RISK_OK);
    portfolio_mark(pf, SPOT, "AUSDT", D("50")); /* 8000: 20% */
    portfolio_sample(pf, d2 + 1);
    CHECK_INT(risk_check(r, pf, &o, d2 + 1, &v), RISK_ERR_HALTED);
    CHECK_INT(risk_get_state(r), RISK_HALTED);
    CHECK_STR(v.why, "HALTED: drawdown 20% >= 20%: halted until resumed");
    portfolio_mark(pf, SPOT, "AUSDT", D("100"));
    CHECK_INT(risk_check(r, pf, &o, d2 + 2, &v), RISK_ERR_HALTED);
    risk_order red = entry("AUSDT", "A", "100", D("40"));
    red.side = SIDE_SELL;
    red.reducing = true;
    CHECK_INT(risk_check(r, pf, &red, d2 + 2, &v), RISK_OK);
    risk_resume(r);
    CHECK_INT(risk_check(r, pf, &o, d2 + 3, &v), RISK_OK);
    CHECK_INT(v.state, RISK_ACTIVE);
    /* a person's halt (close-all) */
    risk_halt(r, "close-all: halted until resumed");
    CHECK_INT(risk_check(r, pf, &o, d2 + 4, &v), RISK_ERR_HALTED);
    CHECK_STR(risk_reason(r), "close-all: halted until resumed");
    CHECK_STR(risk_state_name(risk_get_state(r)), "HALTED");
    portfolio_free(pf);
    risk_free(r);
}

static void test_leverage(void)
{
    risk_config c = open_cfg();
    risk *r = risk_new(&c);
    portfolio *pf = portfolio_new(D("10000"), "USDT", 0);
    risk_verdict v;
    risk_order o = entry("BTCUSDT", "BTC", "60000", D("0.01"));
    int levs[] = {0, 1, 10, 11};
    enum risk_result want[] = {RISK_ERR_LEVERAGE, RISK_OK, RISK_OK, RISK_ERR_LEVERAGE};
    for (int i = 0; i < 4; i++) {
        o.leverage = levs[i];
        CHECK_INT(risk_check(r, pf, &o, T0, &v), want[i]);
    }
    CHECK_STR(v.why, "leverage 11x outside [1, 10]x");
    portfolio_free(pf);
    risk_free(r);
}

static void test_sizing(void)
{
    risk_config c;
    risk_config_default(&c);
    risk *r = risk_new(&c);
    portfolio *pf = portfolio_new(D("10000"), "USDT", 0);
    char why[200];
    kdec q;
    risk_size_in in = {.price = D("61602.01")};
    CHECK_INT(risk_size(r, pf, &in, &q, why, sizeof why), RISK_OK);
    CHECK_INT(q, (kdec)((__int128)D("100") * KDEC_SCALE / D("61602.01"))); /* 0.00162332 */
    CHECK_INT(q, D("0.00162332"));
    c.size_mode = RISK_SIZE_RISK_PCT;
    risk_set_config(r, &c);
    in.stop = D("61102.01"); /* 500 away: 1% of 10000 = 100 -> 0.2 */
    CHECK_INT(risk_size(r, pf, &in, &q, why, sizeof why), RISK_OK);
    CHECK_INT(q, D("0.2"));
    in.stop = 0;
    CHECK_INT(risk_size(r, pf, &in, &q, why, sizeof why), RISK_ERR_SIZE);
    c.size_mode = RISK_SIZE_CONFIDENCE;
    risk_set_config(r, &c);
    in.confidence = 0.5;
    in.price = D("100");
    CHECK_INT(risk_size(r, pf, &in, &q, why, sizeof why), RISK_OK);
    CHECK_INT(q, D("0.5"));
    in.max_corr = 0.8;
    CHECK_INT(risk_size(r, pf, &in, &q, why, sizeof why), RISK_OK);
    CHECK_INT(q, D("0.25"));
    in.max_corr = 0;
    /* Kelly: below the minimum sample it falls back to the fixed quote, and says so */
    c.size_mode = RISK_SIZE_KELLY;
    risk_set_config(r, &c);
    for (int i = 0; i < 29; i++) {
        buy(pf, "AUSDT", "100", "1");
        sell(pf, "AUSDT", i < 17 ? "115" : "90", "1"); /* 17 wins of 15, 12 losses of 10 */
    }
    CHECK_INT(risk_size(r, pf, &in, &q, why, sizeof why), RISK_OK);
    CHECK_INT(q, D("1")); /* 100 USDT at 100 */
    CHECK_STR(why, "kelly: 29 trades < 30 (or no payoff yet): fixed quote");
    buy(pf, "AUSDT", "100", "1");
    sell(pf, "AUSDT", "115", "1"); /* 18 wins, 12 losses: W 0.6, R 1.5 */
    pf_stats st;
    portfolio_stats(pf, &st);
    CHECK_INT(st.trades, 30);
    CHECK_NEAR(st.payoff, 1.5, 1e-12);
    CHECK_INT(risk_size(r, pf, &in, &q, why, sizeof why), RISK_OK);
    double f = 0.6 - 0.4 / 1.5; /* 1/3 */
    double quote = 10150e8 * f * 0.25;
    CHECK_NEAR((double)q, (double)(kdec)((__int128)quote * KDEC_SCALE / D("100")), 1e-12);
    CHECK_NEAR(q / 1e8, 10150 * f * 0.25 / 100, 1e-9); /* 8.4583 */
    portfolio_free(pf);
    risk_free(r);
}

static void test_protect(void)
{
    risk_config c;
    risk_config_default(&c);
    kdec sl, tp;
    risk_protect(&c, SIDE_BUY, D("60000"), D("100"), &sl, &tp);
    CHECK_INT(sl, D("59850"));
    CHECK_INT(tp, D("60300"));
    risk_protect(&c, SIDE_SELL, D("60000"), D("100"), &sl, &tp);
    CHECK_INT(sl, D("60150"));
    CHECK_INT(tp, D("59700"));
    risk_protect(&c, SIDE_BUY, D("60000"), 0, &sl, &tp); /* no ATR: fixed percent */
    CHECK_INT(sl, D("59520"));
    CHECK_INT(tp, D("60900"));
    c.sl_mode = RISK_SL_PCT;
    risk_protect(&c, SIDE_SELL, D("60000"), D("100"), &sl, &tp);
    CHECK_INT(sl, D("60480"));
    CHECK_INT(tp, D("59100"));
}

static int read_closes(const char *rel, double *out, int cap)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", check_shared_data(), rel);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    char line[256];
    int n = 0;
    if (!fgets(line, sizeof line, f)) {
        fclose(f);
        return 0;
    }
    while (n < cap && fgets(line, sizeof line, f)) {
        char *p = line;
        for (int i = 0; i < 4 && p; i++) {
            p = strchr(p, ',');
            if (p)
                p++;
        }
        if (p)
            out[n++] = strtod(p, NULL);
    }
    fclose(f);
    return n;
}

static void test_var_corr(void)
{
    double r[20];
    for (int i = 0; i < 20; i++)
        r[i] = (i - 10) / 100.0; /* -0.10 .. 0.09 */
    double var, es;
    CHECK_INT(risk_var_es(r, 20, 0.95, &var, &es), 20);
    CHECK_NEAR(var, 0.09, 1e-12);          /* k = 1: the 2nd worst */
    CHECK_NEAR(es, (0.10 + 0.09) / 2, 1e-12);
    CHECK_INT(risk_var_es(r, 0, 0.95, &var, &es), 0);

    /* real daily closes: BTC and ETH (Binance, 2017-08-17 .. 2018-04-28, 255 common days) */
    static double b[600], e[600], rb[600], re[600];
    int nb = read_closes("klines/octobot/binance_BTCUSDT_1d_1502928000.csv", b, 600);
    int ne = read_closes("klines/octobot/binance_ETHUSDT_1d_1502928000.csv", e, 600);
    int n = K_MIN(nb, ne);
    CHECK_INT(n, 255);
    for (int i = 1; i < n; i++) {
        rb[i - 1] = b[i] / b[i - 1] - 1;
        re[i - 1] = e[i] / e[i - 1] - 1;
    }
    /* reference values from Python 3.11 statistics.correlation and a sorted list */
    double rho = risk_correlation(rb, re, (uint32_t)(n - 1));
    CHECK_NEAR(rho, 0.6245736967744367, 1e-9);
    CHECK_INT(risk_var_es(rb, (uint32_t)(n - 1), 0.95, &var, &es), 254);
    CHECK_NEAR(var, 0.09007999288952095, 1e-9);
    CHECK_NEAR(es, 0.12567957280543574, 1e-9);
    /* the matrix, and the VaR of a portfolio long 1000 USDT of BTC and short 500 of ETH:
     * references from Python over the same closes */
    const double *series[2] = {rb, re};
    double mat[4];
    risk_correlation_matrix(series, 2, (uint32_t)(n - 1), mat);
    CHECK_NEAR(mat[0], 1.0, 1e-12);
    CHECK_NEAR(mat[1], 0.6245736967744367, 1e-9);
    CHECK_NEAR(mat[2], mat[1], 1e-15);
    kdec expo[2] = {D("1000"), -D("500")};
    kdec pv, pe;
    CHECK_INT(risk_portfolio_var_es(series, expo, 2, (uint32_t)(n - 1), 0.95, &pv, &pe), 254);
    CHECK_NEAR(pv / 1e8, 70.9748811378379, 1e-9);
    CHECK_NEAR(pe / 1e8, 93.50897738812911, 1e-9);
    /* at 0.62 the correlation rule does not halve */
    risk *rk = risk_new(NULL);
    portfolio *pf = portfolio_new(D("10000"), "USDT", 0);
    risk_order o = entry("ETHUSDT", "ETH", "2000", D("0.01"));
    o.max_corr = rho;
    risk_verdict v;
    CHECK_INT(risk_check(rk, pf, &o, T0, &v), RISK_OK);
    CHECK_INT(v.size_divisor, 1);
    CHECK(risk_correlation(rb, rb, 10) > 0.999999);
    double flat[3] = {1, 1, 1};
    CHECK(risk_correlation(flat, rb, 3) == 0);
    portfolio_free(pf);
    risk_free(rk);
}

static void test_config(void)
{
    risk_config c;
    risk_config_default(&c);
    char err[200], buf[64];
    CHECK_INT(risk_config_set(&c, "risk.max_positions", "0", err, sizeof err), RISK_ERR_CONFIG);
    CHECK_STR(err, "risk.max_positions 0 outside [1, 100] (integer)");
    CHECK_INT(c.max_positions, 5);
    CHECK_INT(risk_config_set(&c, "risk.max_positions", "7", err, sizeof err), RISK_OK);
    CHECK_INT(c.max_positions, 7);
    CHECK_INT(risk_config_set(&c, "risk.max_positions", "7.5", err, sizeof err),
              RISK_ERR_CONFIG);
    CHECK_INT(risk_config_set(&c, "risk.max_leverage", "11", err, sizeof err), RISK_ERR_CONFIG);
    CHECK_INT(risk_config_set(&c, "risk.daily_loss_pct", "2.5", err, sizeof err), RISK_OK);
    CHECK_INT(c.daily_loss_pct, D("2.5"));
    CHECK_INT(risk_config_set(&c, "risk.size_mode", "kelly", err, sizeof err), RISK_OK);
    CHECK_INT(c.size_mode, RISK_SIZE_KELLY);
    CHECK_INT(risk_config_set(&c, "risk.size_mode", "martingale", err, sizeof err),
              RISK_ERR_CONFIG);
    CHECK_INT(risk_config_set(&c, "risk.nope", "1", err, sizeof err), RISK_ERR_CONFIG);
    CHECK_INT(risk_config_set(&c, "risk.size_quote", "1e3", err, sizeof err), RISK_ERR_CONFIG);
    CHECK_INT(risk_config_get(&c, "risk.daily_loss_pct", buf, sizeof buf), K_OK);
    CHECK_STR(buf, "2.5");
    CHECK_INT(risk_config_get(&c, "risk.size_mode", buf, sizeof buf), K_OK);
    CHECK_STR(buf, "kelly");
    CHECK_INT(risk_config_get(&c, "risk.corr_limit", buf, sizeof buf), K_OK);
    CHECK_STR(buf, "0.7");
    /* every key reads back what it was set to */
    int keys = 0, bad = 0;
    for (size_t i = 0; risk_config_key(i); i++) {
        keys++;
        risk_config d;
        risk_config_default(&d);
        if (risk_config_get(&d, risk_config_key(i), buf, sizeof buf) != K_OK ||
            risk_config_set(&d, risk_config_key(i), buf, err, sizeof err) != RISK_OK)
            bad++;
    }
    CHECK_INT(bad, 0);
    CHECK_INT(keys, 19);
    const char *issue_keys[] = {"risk.size_mode", "risk.size_quote", "risk.risk_pct",
                                "risk.max_positions", "risk.max_asset_pct",
                                "risk.max_exposure_pct", "risk.max_open_risk_pct",
                                "risk.daily_loss_pct", "risk.max_leverage"};
    for (size_t i = 0; i < K_ARRAY_LEN(issue_keys); i++)
        CHECK_INT(risk_config_get(&c, issue_keys[i], buf, sizeof buf), K_OK);
}

int main(void)
{
    test_max_positions();
    test_exposure();
    test_open_risk();
    test_daily_loss();
    test_drawdown();
    test_leverage();
    test_sizing();
    test_protect();
    test_var_corr();
    test_config();
    CHECK_DONE();
}
