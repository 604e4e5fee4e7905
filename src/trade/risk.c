/* Risk engine: limits, sizing, state, protection levels and VaR.
 *
 * Thresholds are exact where money is concerned: every percent limit compares integers
 * (value * 100 * 1e8 against pct * base, in __int128), so "30% of equity" means exactly that and
 * the tests can put an order one unit either side of it. Conventions: a "max" limit allows
 * equality (exposure == 30% passes, one unit more fails); a trigger fires at its threshold
 * (daily loss == 3% stops entries, drawdown == 10% halves, == 20% halts); correlation halves
 * size strictly above |rho| = corr_limit, as the issue states. Position-reducing orders are never
 * blocked by any rule: they are how risk goes down. */
#include "kestrel/risk.h"

#include "kestrel/decimal.h"
#include "kestrel/xmalloc.h"

#include <cJSON.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RISK_DAY_MS 86400000LL

struct risk {
    risk_config cfg;
    enum risk_state state;
    bool halted;          /* sticky until risk_resume */
    int64_t reducing_day; /* UTC day of the daily-loss stop, -1 = none */
    char reason[200];
};

/* ---- config ---- */

void risk_config_default(risk_config *c)
{
    memset(c, 0, sizeof *c);
    c->size_mode = RISK_SIZE_FIXED_QUOTE;
    c->size_quote = 100 * KDEC_SCALE;
    c->risk_pct = 1 * KDEC_SCALE;
    c->kelly_fraction_pct = 25 * KDEC_SCALE;
    c->kelly_min_trades = 30;
    c->max_positions = 5;
    c->max_asset_pct = 30 * KDEC_SCALE;
    c->max_exposure_pct = 80 * KDEC_SCALE;
    c->max_open_risk_pct = 5 * KDEC_SCALE;
    c->daily_loss_pct = 3 * KDEC_SCALE;
    c->drawdown_reduce_pct = 10 * KDEC_SCALE;
    c->drawdown_halt_pct = 20 * KDEC_SCALE;
    c->max_leverage = 10;
    c->corr_limit = 0.7;
    c->sl_mode = RISK_SL_ATR;
    c->atr_mult = 3 * KDEC_SCALE / 2;
    c->reward_risk = 2 * KDEC_SCALE;
    c->tp_pct = 3 * KDEC_SCALE / 2;
    c->sl_pct = 8 * KDEC_SCALE / 10;
}

const char *risk_size_mode_name(enum risk_size_mode m)
{
    static const char *const n[] = {"fixed_quote", "risk_pct", "kelly", "confidence"};
    return (unsigned)m < 4 ? n[m] : "?";
}

enum risk_key_type { RK_KDEC, RK_INT, RK_DOUBLE, RK_SIZE_MODE, RK_SL_MODE };

typedef struct risk_key {
    const char *name;
    enum risk_key_type type;
    size_t off;
    const char *min, *max; /* inclusive range, as text */
} risk_key;

#define RK(n, t, f, lo, hi) {n, t, offsetof(risk_config, f), lo, hi}
static const risk_key risk_keys[] = {
    RK("risk.size_mode", RK_SIZE_MODE, size_mode, NULL, NULL),
    RK("risk.size_quote", RK_KDEC, size_quote, "1", "10000000"),
    RK("risk.risk_pct", RK_KDEC, risk_pct, "0.01", "10"),
    RK("risk.kelly_fraction_pct", RK_KDEC, kelly_fraction_pct, "1", "100"),
    RK("risk.kelly_min_trades", RK_INT, kelly_min_trades, "5", "100000"),
    RK("risk.max_positions", RK_INT, max_positions, "1", "100"),
    RK("risk.max_asset_pct", RK_KDEC, max_asset_pct, "1", "100"),
    RK("risk.max_exposure_pct", RK_KDEC, max_exposure_pct, "1", "1000"),
    RK("risk.max_open_risk_pct", RK_KDEC, max_open_risk_pct, "0.1", "100"),
    RK("risk.daily_loss_pct", RK_KDEC, daily_loss_pct, "0.1", "100"),
    RK("risk.drawdown_reduce_pct", RK_KDEC, drawdown_reduce_pct, "0.1", "100"),
    RK("risk.drawdown_halt_pct", RK_KDEC, drawdown_halt_pct, "0.1", "100"),
    RK("risk.max_leverage", RK_INT, max_leverage, "1", "10"),
    RK("risk.corr_limit", RK_DOUBLE, corr_limit, "0", "1"),
    RK("risk.sl_mode", RK_SL_MODE, sl_mode, NULL, NULL),
    RK("risk.atr_mult", RK_KDEC, atr_mult, "0.1", "20"),
    RK("risk.reward_risk", RK_KDEC, reward_risk, "0.1", "20"),
    RK("risk.tp_pct", RK_KDEC, tp_pct, "0.01", "100"),
    RK("risk.sl_pct", RK_KDEC, sl_pct, "0.01", "100"),
};

const char *risk_config_key(size_t i)
{
    return i < K_ARRAY_LEN(risk_keys) ? risk_keys[i].name : NULL;
}

static const risk_key *risk_key_find(const char *key)
{
    for (size_t i = 0; i < K_ARRAY_LEN(risk_keys); i++)
        if (!strcmp(risk_keys[i].name, key))
            return &risk_keys[i];
    return NULL;
}

enum risk_result risk_config_set(risk_config *c, const char *key, const char *value, char *err,
                                 size_t errlen)
{
    const risk_key *k = risk_key_find(key);
    if (!k) {
        snprintf(err, errlen, "unknown key %s", key);
        return RISK_ERR_CONFIG;
    }
    char *base = (char *)c + k->off;
    switch (k->type) {
    case RK_SIZE_MODE:
        for (int m = 0; m < 4; m++)
            if (!strcmp(value, risk_size_mode_name((enum risk_size_mode)m))) {
                *(enum risk_size_mode *)(void *)base = (enum risk_size_mode)m;
                return RISK_OK;
            }
        snprintf(err, errlen, "%s %s not one of fixed_quote, risk_pct, kelly, confidence", key,
                 value);
        return RISK_ERR_CONFIG;
    case RK_SL_MODE:
        if (!strcmp(value, "atr") || !strcmp(value, "pct")) {
            *(enum risk_sl_mode *)(void *)base = !strcmp(value, "atr") ? RISK_SL_ATR : RISK_SL_PCT;
            return RISK_OK;
        }
        snprintf(err, errlen, "%s %s not one of atr, pct", key, value);
        return RISK_ERR_CONFIG;
    default:
        break;
    }
    kdec v, lo, hi;
    if (decimal_parse(value, strlen(value), &v) != K_OK ||
        decimal_parse(k->min, strlen(k->min), &lo) != K_OK ||
        decimal_parse(k->max, strlen(k->max), &hi) != K_OK) {
        snprintf(err, errlen, "%s %s is not a number", key, value);
        return RISK_ERR_CONFIG;
    }
    if (v < lo || v > hi || (k->type == RK_INT && v % KDEC_SCALE)) {
        snprintf(err, errlen, "%s %s outside [%s, %s]%s", key, value, k->min, k->max,
                 k->type == RK_INT ? " (integer)" : "");
        return RISK_ERR_CONFIG;
    }
    if (k->type == RK_KDEC)
        *(kdec *)(void *)base = v;
    else if (k->type == RK_INT)
        *(int *)(void *)base = (int)(v / KDEC_SCALE);
    else
        *(double *)(void *)base = decimal_to_double(v);
    return RISK_OK;
}

int risk_config_get(const risk_config *c, const char *key, char *buf, size_t cap)
{
    const risk_key *k = risk_key_find(key);
    if (!k)
        return K_ERR;
    const char *base = (const char *)c + k->off;
    switch (k->type) {
    case RK_SIZE_MODE:
        snprintf(buf, cap, "%s",
                 risk_size_mode_name(*(const enum risk_size_mode *)(const void *)base));
        break;
    case RK_SL_MODE:
        snprintf(buf, cap, "%s",
                 *(const enum risk_sl_mode *)(const void *)base == RISK_SL_ATR ? "atr" : "pct");
        break;
    case RK_KDEC: {
        kdec v = *(const kdec *)(const void *)base;
        decimal_format(v, decimal_places(v), buf, cap);
        break;
    }
    case RK_INT:
        snprintf(buf, cap, "%d", *(const int *)(const void *)base);
        break;
    case RK_DOUBLE:
        snprintf(buf, cap, "%g", *(const double *)(const void *)base);
        break;
    }
    return K_OK;
}

const char *risk_strerror(enum risk_result r)
{
    switch (r) {
    case RISK_OK: return "ok";
    case RISK_ERR_HALTED: return "trading halted";
    case RISK_ERR_REDUCING: return "only position-reducing orders allowed";
    case RISK_ERR_DAILY_LOSS: return "daily loss limit reached";
    case RISK_ERR_MAX_POSITIONS: return "max positions reached";
    case RISK_ERR_ASSET_EXPOSURE: return "per-asset exposure limit";
    case RISK_ERR_TOTAL_EXPOSURE: return "total exposure limit";
    case RISK_ERR_OPEN_RISK: return "open risk limit";
    case RISK_ERR_LEVERAGE: return "leverage outside limits";
    case RISK_ERR_SIZE: return "nothing to trade";
    case RISK_ERR_CONFIG: return "invalid risk setting";
    }
    return "?";
}

const char *risk_state_name(enum risk_state s)
{
    return s == RISK_ACTIVE ? "ACTIVE" : s == RISK_REDUCING ? "REDUCING" : "HALTED";
}

/* ---- engine ---- */

risk *risk_new(const risk_config *c)
{
    risk *r = xcalloc(1, sizeof *r);
    if (c)
        r->cfg = *c;
    else
        risk_config_default(&r->cfg);
    r->reducing_day = -1;
    return r;
}

void risk_free(risk *r)
{
    free(r);
}

const risk_config *risk_get_config(const risk *r)
{
    return &r->cfg;
}

void risk_set_config(risk *r, const risk_config *c)
{
    r->cfg = *c;
}

static const char *risk_txt(kdec v, char buf[40])
{
    decimal_format(v, decimal_places(v), buf, 40);
    return buf;
}

/* v >= pct% of base, exactly */
static bool risk_at_least_pct(kdec v, kdec pct, kdec base)
{
    return (__int128)v * 100 * KDEC_SCALE >= (__int128)pct * base;
}

/* v > pct% of base */
static bool risk_above_pct(kdec v, kdec pct, kdec base)
{
    return (__int128)v * 100 * KDEC_SCALE > (__int128)pct * base;
}

static kdec risk_pct_of(kdec base, kdec pct)
{
    return (kdec)((__int128)base * pct / (100 * (__int128)KDEC_SCALE));
}

static int64_t risk_day(int64_t ms)
{
    return ms >= 0 ? ms / RISK_DAY_MS : (ms - RISK_DAY_MS + 1) / RISK_DAY_MS;
}

enum risk_state risk_update(risk *r, const portfolio *pf, int64_t now_ms)
{
    pf_summary s;
    portfolio_summary(pf, &s);
    char a[40], b[40];
    if (!r->halted && s.drawdown_pct >= r->cfg.drawdown_halt_pct) {
        r->halted = true;
        snprintf(r->reason, sizeof r->reason, "drawdown %s%% >= %s%%: halted until resumed",
                 risk_txt(s.drawdown_pct, a), risk_txt(r->cfg.drawdown_halt_pct, b));
    }
    int64_t today = risk_day(now_ms);
    if (r->reducing_day >= 0 && today > r->reducing_day)
        r->reducing_day = -1; /* a new UTC day */
    kdec loss = -s.day_pnl;
    if (r->reducing_day < 0 && loss > 0 && s.day_start_equity > 0 &&
        risk_at_least_pct(loss, r->cfg.daily_loss_pct, s.day_start_equity)) {
        r->reducing_day = today;
        if (!r->halted) {
            char c[40];
            snprintf(r->reason, sizeof r->reason,
                     "daily loss %s >= %s%% of %s: no new entries until the next UTC day",
                     risk_txt(loss, a), risk_txt(r->cfg.daily_loss_pct, b),
                     risk_txt(s.day_start_equity, c));
        }
    }
    r->state = r->halted ? RISK_HALTED : r->reducing_day >= 0 ? RISK_REDUCING : RISK_ACTIVE;
    if (r->state == RISK_ACTIVE)
        r->reason[0] = '\0';
    return r->state;
}

enum risk_state risk_get_state(const risk *r)
{
    return r->state;
}

void risk_halt(risk *r, const char *reason)
{
    r->halted = true;
    r->state = RISK_HALTED;
    snprintf(r->reason, sizeof r->reason, "%s", reason ? reason : "halted by the user");
}

void risk_resume(risk *r)
{
    r->halted = false;
    r->reducing_day = -1;
    r->state = RISK_ACTIVE;
    r->reason[0] = '\0';
}

const char *risk_reason(const risk *r)
{
    return r->reason;
}

/* size divisor from drawdown and correlation, with notes */
static int risk_divisor(const risk *r, const pf_summary *s, double corr, char *note, size_t cap)
{
    int div = 1;
    char a[40], b[40];
    note[0] = '\0';
    if (s->drawdown_pct >= r->cfg.drawdown_reduce_pct) {
        div *= 2;
        snprintf(note, cap, "half size: drawdown %s%% >= %s%%", risk_txt(s->drawdown_pct, a),
                 risk_txt(r->cfg.drawdown_reduce_pct, b));
    }
    if (fabs(corr) > r->cfg.corr_limit) {
        div *= 2;
        size_t n = strlen(note);
        snprintf(note + n, cap - n, "%shalf size: correlation %.2f > %.2f", n ? "; " : "",
                 fabs(corr), r->cfg.corr_limit);
    }
    return div;
}

/* risk of a position if its stop is hit: |qty| * |entry - sl|, or sl_pct of its notional */
static kdec risk_position_risk(const risk_config *c, kdec qty, kdec entry, kdec sl)
{
    kdec aq = qty < 0 ? -qty : qty;
    if (sl > 0) {
        kdec d = entry > sl ? entry - sl : sl - entry;
        return (kdec)((__int128)aq * d / KDEC_SCALE);
    }
    return risk_pct_of((kdec)((__int128)aq * entry / KDEC_SCALE), c->sl_pct);
}

kdec risk_open_risk(const risk *r, const portfolio *pf)
{
    kdec sum = 0;
    for (uint32_t i = 0; i < portfolio_position_count(pf); i++) {
        const pf_position *p = portfolio_position_at(pf, i);
        if (p->qty != 0 && !p->dust)
            sum += risk_position_risk(&r->cfg, p->qty, p->entry, p->sl);
    }
    return sum;
}

enum risk_result risk_check(risk *r, const portfolio *pf, const risk_order *o, int64_t now_ms,
                            risk_verdict *out)
{
    memset(out, 0, sizeof *out);
    out->size_divisor = 1;
    out->qty = o->qty;
    out->state = risk_update(r, pf, now_ms);
    char a[40], b[40], c[40];
    if (o->reducing) {
        snprintf(out->why, sizeof out->why, "reducing order: allowed in every state");
        return out->result = RISK_OK;
    }
    if (out->state == RISK_HALTED) {
        snprintf(out->why, sizeof out->why, "HALTED: %s", r->reason);
        return out->result = RISK_ERR_HALTED;
    }
    if (out->state == RISK_REDUCING) {
        snprintf(out->why, sizeof out->why, "REDUCING: %s", r->reason);
        return out->result = RISK_ERR_DAILY_LOSS;
    }
    int lev = o->leverage;
    if (lev < 1 || lev > r->cfg.max_leverage) {
        snprintf(out->why, sizeof out->why, "leverage %dx outside [1, %d]x", lev,
                 r->cfg.max_leverage);
        return out->result = RISK_ERR_LEVERAGE;
    }
    pf_summary s;
    portfolio_summary(pf, &s);
    const pf_position *mine = portfolio_position(pf, o->venue, o->symbol);
    bool has = mine && mine->qty != 0 && !mine->dust;
    if (!has && (int)s.open_positions >= r->cfg.max_positions) {
        snprintf(out->why, sizeof out->why, "max positions %d reached (%u open)",
                 r->cfg.max_positions, s.open_positions);
        return out->result = RISK_ERR_MAX_POSITIONS;
    }
    char note[120];
    out->size_divisor = risk_divisor(r, &s, o->max_corr, note, sizeof note);
    out->qty = o->qty / out->size_divisor;
    kdec notional = (kdec)((__int128)out->qty * o->price / KDEC_SCALE);
    if (out->qty <= 0 || notional <= 0) {
        snprintf(out->why, sizeof out->why, "quantity 0 after size reduction");
        return out->result = RISK_ERR_SIZE;
    }
    kdec eq = s.equity > 0 ? s.equity : 0;
    kdec asset_exp = portfolio_exposure_asset(pf, o->asset ? o->asset : o->symbol) + notional;
    if (risk_above_pct(asset_exp, r->cfg.max_asset_pct, eq)) {
        char d[40];
        snprintf(out->why, sizeof out->why, "%s exposure %s > %s%% of equity %s (max %s)",
                 o->asset ? o->asset : o->symbol, risk_txt(asset_exp, a),
                 risk_txt(r->cfg.max_asset_pct, b), risk_txt(eq, c),
                 risk_txt(risk_pct_of(eq, r->cfg.max_asset_pct), d));
        return out->result = RISK_ERR_ASSET_EXPOSURE;
    }
    kdec total = s.exposure + notional;
    if (risk_above_pct(total, r->cfg.max_exposure_pct, eq)) {
        char d[40];
        snprintf(out->why, sizeof out->why, "total exposure %s > %s%% of equity %s (max %s)",
                 risk_txt(total, a), risk_txt(r->cfg.max_exposure_pct, b), risk_txt(eq, c),
                 risk_txt(risk_pct_of(eq, r->cfg.max_exposure_pct), d));
        return out->result = RISK_ERR_TOTAL_EXPOSURE;
    }
    kdec open_risk = risk_open_risk(r, pf);
    open_risk += risk_position_risk(&r->cfg, out->qty, o->price, o->stop);
    if (risk_above_pct(open_risk, r->cfg.max_open_risk_pct, eq)) {
        char d[40];
        snprintf(out->why, sizeof out->why, "open risk %s > %s%% of equity %s (max %s)",
                 risk_txt(open_risk, a), risk_txt(r->cfg.max_open_risk_pct, b), risk_txt(eq, c),
                 risk_txt(risk_pct_of(eq, r->cfg.max_open_risk_pct), d));
        return out->result = RISK_ERR_OPEN_RISK;
    }
    snprintf(out->why, sizeof out->why, "%s", note[0] ? note : "ok");
    return out->result = RISK_OK;
}

enum risk_result risk_size(risk *r, const portfolio *pf, const risk_size_in *in, kdec *qty,
                           char *why, size_t whylen)
{
    *qty = 0;
    why[0] = '\0';
    if (in->price <= 0) {
        snprintf(why, whylen, "no price to size at");
        return RISK_ERR_SIZE;
    }
    pf_summary s;
    portfolio_summary(pf, &s);
    const risk_config *c = &r->cfg;
    __int128 quote = 0; /* 1e-8 units of the quote asset to commit */
    enum risk_size_mode mode = c->size_mode;
    char a[40];
    if (mode == RISK_SIZE_KELLY) {
        pf_stats st;
        portfolio_stats(pf, &st);
        if ((int)st.trades < c->kelly_min_trades || st.payoff <= 0) {
            snprintf(why, whylen, "kelly: %u trades < %d (or no payoff yet): fixed quote",
                     st.trades, c->kelly_min_trades);
            mode = RISK_SIZE_FIXED_QUOTE;
        } else {
            double f = st.win_rate - (1.0 - st.win_rate) / st.payoff;
            if (f <= 0) {
                snprintf(why, whylen, "kelly: no edge (win rate %.3f, payoff %.3f, n=%u)",
                         st.win_rate, st.payoff, st.trades);
                return RISK_ERR_SIZE;
            }
            double frac = f * decimal_to_double(c->kelly_fraction_pct) / 100.0;
            quote = (__int128)((double)s.equity * frac);
            snprintf(why, whylen, "kelly %.4f x %s%% (n=%u)", f,
                     risk_txt(c->kelly_fraction_pct, a), st.trades);
        }
    }
    if (mode == RISK_SIZE_FIXED_QUOTE) {
        quote = c->size_quote;
    } else if (mode == RISK_SIZE_CONFIDENCE) {
        double k = in->confidence < 0 ? 0 : in->confidence > 1 ? 1 : in->confidence;
        quote = (__int128)((double)c->size_quote * k);
    } else if (mode == RISK_SIZE_RISK_PCT) {
        kdec d = in->price > in->stop ? in->price - in->stop : in->stop - in->price;
        if (in->stop <= 0 || d == 0) {
            snprintf(why, whylen, "risk_pct sizing needs a stop distance");
            return RISK_ERR_SIZE;
        }
        /* qty = equity * risk% / distance */
        __int128 q = (__int128)risk_pct_of(s.equity, c->risk_pct) * KDEC_SCALE / d;
        char note[120];
        int div = risk_divisor(r, &s, in->max_corr, note, sizeof note);
        *qty = (kdec)(q / div);
        if (note[0])
            snprintf(why, whylen, "%s", note);
        return *qty > 0 ? RISK_OK : RISK_ERR_SIZE;
    }
    char note[120];
    int div = risk_divisor(r, &s, in->max_corr, note, sizeof note);
    *qty = (kdec)(quote * KDEC_SCALE / in->price / div);
    if (note[0]) {
        size_t n = strlen(why);
        snprintf(why + n, whylen - n, "%s%s", n ? "; " : "", note);
    }
    if (*qty <= 0) {
        snprintf(why, whylen, "size 0");
        return RISK_ERR_SIZE;
    }
    return RISK_OK;
}

void risk_protect(const risk_config *c, enum side side, kdec entry, kdec atr, kdec *sl, kdec *tp)
{
    kdec dsl, dtp;
    if (c->sl_mode == RISK_SL_ATR && atr > 0) {
        dsl = (kdec)((__int128)atr * c->atr_mult / KDEC_SCALE);
        dtp = (kdec)((__int128)dsl * c->reward_risk / KDEC_SCALE);
    } else {
        dsl = risk_pct_of(entry, c->sl_pct);
        dtp = risk_pct_of(entry, c->tp_pct);
    }
    if (side == SIDE_BUY) {
        *sl = entry - dsl;
        *tp = entry + dtp;
    } else {
        *sl = entry + dsl;
        *tp = entry - dtp;
    }
}

static int risk_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

uint32_t risk_var_es(const double *returns, uint32_t n, double conf, double *var, double *es)
{
    *var = *es = 0;
    if (n == 0)
        return 0;
    double *s = xmalloc(n * sizeof *s);
    memcpy(s, returns, n * sizeof *s);
    qsort(s, n, sizeof *s, risk_cmp_double);
    /* the worst (1 - conf) tail: k = floor(n * (1 - conf)) order statistic, 0-based */
    uint32_t k = (uint32_t)floor((double)n * (1.0 - conf) + 1e-9);
    if (k >= n)
        k = n - 1;
    double v = -s[k];
    double sum = 0;
    for (uint32_t i = 0; i <= k; i++)
        sum += s[i];
    double e = -sum / (k + 1);
    *var = v > 0 ? v : 0;
    *es = e > 0 ? e : 0;
    free(s);
    return n;
}

double risk_correlation(const double *x, const double *y, uint32_t n)
{
    if (n < 2)
        return 0;
    double mx = 0, my = 0;
    for (uint32_t i = 0; i < n; i++) {
        mx += x[i];
        my += y[i];
    }
    mx /= n;
    my /= n;
    double sxy = 0, sxx = 0, syy = 0;
    for (uint32_t i = 0; i < n; i++) {
        sxy += (x[i] - mx) * (y[i] - my);
        sxx += (x[i] - mx) * (x[i] - mx);
        syy += (y[i] - my) * (y[i] - my);
    }
    if (sxx <= 0 || syy <= 0)
        return 0;
    return sxy / sqrt(sxx * syy);
}

static void risk_put(cJSON *o, const char *k, kdec v)
{
    char b[40];
    cJSON_AddStringToObject(o, k, risk_txt(v, b));
}

/* used / base as a percent, exact to 1e-8 */
static kdec risk_pct(kdec used, kdec base)
{
    return base > 0 ? (kdec)((__int128)used * 100 * KDEC_SCALE / base) : 0;
}

cJSON *risk_json(const risk *r, const portfolio *pf)
{
    pf_summary s;
    portfolio_summary(pf, &s);
    const risk_config *c = &r->cfg;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "state", risk_state_name(r->state));
    cJSON_AddStringToObject(o, "reason", r->reason);
    cJSON_AddStringToObject(o, "size_mode", risk_size_mode_name(c->size_mode));
    cJSON *p = cJSON_AddObjectToObject(o, "positions");
    cJSON_AddNumberToObject(p, "used", s.open_positions);
    cJSON_AddNumberToObject(p, "max", c->max_positions);
    cJSON *e = cJSON_AddObjectToObject(o, "exposure");
    risk_put(e, "used", s.exposure);
    risk_put(e, "pct", risk_pct(s.exposure, s.equity));
    risk_put(e, "max_pct", c->max_exposure_pct);
    kdec orisk = risk_open_risk(r, pf);
    cJSON *k = cJSON_AddObjectToObject(o, "open_risk");
    risk_put(k, "used", orisk);
    risk_put(k, "pct", risk_pct(orisk, s.equity));
    risk_put(k, "max_pct", c->max_open_risk_pct);
    risk_put(o, "max_asset_pct", c->max_asset_pct);
    risk_put(o, "day_pnl", s.day_pnl);
    risk_put(o, "daily_loss_pct", c->daily_loss_pct);
    risk_put(o, "drawdown", s.drawdown_pct);
    risk_put(o, "drawdown_reduce_pct", c->drawdown_reduce_pct);
    risk_put(o, "drawdown_halt_pct", c->drawdown_halt_pct);
    cJSON_AddNumberToObject(o, "max_leverage", c->max_leverage);
    return o;
}

void risk_correlation_matrix(const double *const *series, uint32_t nsym, uint32_t n,
                             double *out)
{
    for (uint32_t i = 0; i < nsym; i++)
        for (uint32_t k = i; k < nsym; k++) {
            double c = risk_correlation(series[i], series[k], n);
            if (i == k && c > 0.999999999)
                c = 1; /* rounding of a series against itself */
            out[i * nsym + k] = out[k * nsym + i] = c;
        }
}

uint32_t risk_portfolio_var_es(const double *const *series, const kdec *exposure, uint32_t nsym,
                               uint32_t n, double conf, kdec *var, kdec *es)
{
    *var = *es = 0;
    if (n == 0 || nsym == 0)
        return 0;
    double *pnl = xcalloc(n, sizeof *pnl);
    for (uint32_t i = 0; i < nsym; i++) {
        double e = decimal_to_double(exposure[i]);
        for (uint32_t t = 0; t < n; t++)
            pnl[t] += e * series[i][t];
    }
    /* as returns of 1 quote unit: VaR / ES come out in quote units */
    double v, x;
    risk_var_es(pnl, n, conf, &v, &x);
    free(pnl);
    *var = (kdec)(v * KDEC_SCALE + 0.5);
    *es = (kdec)(x * KDEC_SCALE + 0.5);
    return n;
}
