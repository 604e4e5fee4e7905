/* Risk metrics from stored daily closes (see riskview.h). Reads the market's 1d series (closed,
 * whole bars: a partial first bar is no day), turns consecutive days into returns, aligns the
 * symbols on the days they share and hands the arithmetic to the risk module's checked
 * functions (risk_portfolio_var_es, risk_correlation). Everything runs on the main thread from
 * memory; the hourly row goes through the store's queue. */
#include "kestrel/riskview.h"

#include "kestrel/app.h"
#include "kestrel/decimal.h"
#include "kestrel/instrument.h"
#include "kestrel/portfolio.h"
#include "kestrel/risk.h"
#include "kestrel/runner.h"
#include "kestrel/store.h"
#include "kestrel/watchlist.h"
#include "kestrel/xmalloc.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RISKVIEW_DAY_MS 86400000LL

typedef struct riskview_series {
    uint32_t n;
    int64_t day[RISKVIEW_DAYS_MAX]; /* open time of the day whose return it is */
    double r[RISKVIEW_DAYS_MAX];
} riskview_series;

/* The newest daily returns of s (oldest first): close / previous close - 1 of consecutive whole
 * days. */
static void riskview_returns(const market_sym *s, riskview_series *out)
{
    out->n = 0;
    const candles *c = s ? s->series[TF_1D] : NULL;
    uint32_t n = c ? candles_count(c) : 0;
    uint32_t i0 = n > RISKVIEW_DAYS_MAX + 1 ? n - RISKVIEW_DAYS_MAX - 1 : 0;
    const candle *prev = NULL;
    for (uint32_t i = i0; i < n; i++) {
        const candle *b = candles_get(c, i);
        if (!b || (b->flags & CANDLE_PARTIAL) || b->c <= 0) {
            prev = NULL;
            continue;
        }
        if (prev && b->open_ms - prev->open_ms == RISKVIEW_DAY_MS &&
            out->n < RISKVIEW_DAYS_MAX) {
            out->day[out->n] = b->open_ms;
            out->r[out->n++] = decimal_to_double(b->c) / decimal_to_double(prev->c) - 1.0;
        }
        prev = b;
    }
}

/* The days both series have (ascending), the last `keep` of them, into x / y. */
static uint32_t riskview_align(const riskview_series *a, const riskview_series *b, uint32_t keep,
                               double *x, double *y)
{
    uint32_t i = 0, k = 0, n = 0;
    while (i < a->n && k < b->n) {
        if (a->day[i] < b->day[k]) {
            i++;
        } else if (a->day[i] > b->day[k]) {
            k++;
        } else {
            x[n] = a->r[i++];
            y[n++] = b->r[k++];
        }
    }
    if (n > keep) { /* the newest `keep` */
        memmove(x, x + (n - keep), keep * sizeof *x);
        memmove(y, y + (n - keep), keep * sizeof *y);
        n = keep;
    }
    return n;
}

static riskview *riskview_get(app *a)
{
    if (!a->riskview) {
        a->riskview = xcalloc(1, sizeof *a->riskview);
        a->riskview->stored_hour = -1;
    }
    return a->riskview;
}

/* The base asset of a position's symbol: the instrument's, else the symbol less its quote. */
static void riskview_base(const app *a, enum venue v, const char *sym, char *out, size_t cap)
{
    const instruments *in = app_instruments(a);
    const instrument *it = in ? instruments_find(in, v, sym) : NULL;
    if (it && it->base[0]) {
        snprintf(out, cap, "%s", it->base);
        return;
    }
    static const char *const quotes[] = {"USDT", "USDC", "BUSD", "FDUSD", "USD", "BTC", "ETH"};
    size_t n = strlen(sym);
    for (size_t i = 0; i < K_ARRAY_LEN(quotes); i++) {
        size_t q = strlen(quotes[i]);
        if (n > q && !strcmp(sym + n - q, quotes[i])) {
            snprintf(out, cap, "%.*s", (int)(n - q < 15 ? n - q : 15), sym);
            return;
        }
    }
    snprintf(out, cap, "%.15s", sym);
}

static void riskview_compute(app *a, riskview *v)
{
    runner *r = a->runner;
    portfolio *pf = runner_portfolio(r);
    pf_summary sm;
    portfolio_summary(pf, &sm);
    v->computed = true;
    v->time_ms = a->data_ms;
    v->positions = v->var_days = 0;
    v->var_ok = false;
    v->var = v->es = v->exposure = 0;
    v->nassets = 0;

    /* open positions: exposure by asset, and the symbols VaR needs */
    uint32_t np = portfolio_position_count(pf);
    riskview_series *ps = xcalloc(np ? np : 1, sizeof *ps);
    kdec *expo = xcalloc(np ? np : 1, sizeof *expo);
    const char *missing = NULL;
    uint32_t m = 0;
    for (uint32_t i = 0; i < np; i++) {
        const pf_position *p = portfolio_position_at(pf, i);
        if (p->qty == 0 || p->dust)
            continue;
        kdec e = portfolio_exposure_symbol(pf, p->venue, p->symbol);
        kdec se = p->qty < 0 ? -e : e;
        v->exposure += e;
        char base[24];
        riskview_base(a, p->venue, p->symbol, base, sizeof base);
        int k = 0;
        while (k < v->nassets && strcmp(v->assets[k].asset, base))
            k++;
        if (k == v->nassets && v->nassets < RISKVIEW_MAX_ASSETS) {
            memset(&v->assets[k], 0, sizeof v->assets[k]);
            snprintf(v->assets[k].asset, sizeof v->assets[k].asset, "%.15s", base);
            v->nassets++;
        }
        if (k < v->nassets)
            v->assets[k].exposure += se;
        market_sym *s = a->market ? market_find(a->market, p->venue, p->symbol) : NULL;
        riskview_returns(s, &ps[m]);
        if (ps[m].n == 0 && !missing)
            missing = p->symbol;
        expo[m++] = se;
    }
    for (int k = 0; k < v->nassets; k++) {
        kdec e = v->assets[k].exposure < 0 ? -v->assets[k].exposure : v->assets[k].exposure;
        v->assets[k].pct = sm.equity > 0 ? (kdec)((__int128)e * 100 * KDEC_SCALE / sm.equity)
                                         : 0;
    }
    v->positions = m;
    if (m == 0) {
        snprintf(v->var_status, sizeof v->var_status, "no open positions");
    } else {
        /* the days every position's symbol has a return */
        uint32_t *at = xcalloc(m, sizeof *at);
        double **series = xcalloc(m, sizeof *series);
        for (uint32_t i = 0; i < m; i++)
            series[i] = xcalloc(RISKVIEW_DAYS_MAX, sizeof **series);
        uint32_t n = 0;
        for (uint32_t t = 0; t < ps[0].n; t++) {
            int64_t d = ps[0].day[t];
            bool all = true;
            for (uint32_t i = 1; i < m && all; i++) {
                while (at[i] < ps[i].n && ps[i].day[at[i]] < d)
                    at[i]++;
                all = at[i] < ps[i].n && ps[i].day[at[i]] == d;
            }
            if (!all)
                continue;
            series[0][n] = ps[0].r[t];
            for (uint32_t i = 1; i < m; i++)
                series[i][n] = ps[i].r[at[i]];
            n++;
        }
        v->var_days = n;
        if (n >= RISKVIEW_MIN_VAR_DAYS) {
            (void)risk_portfolio_var_es((const double *const *)series, expo, m, n, 0.95, &v->var,
                                        &v->es);
            v->var_ok = true;
            snprintf(v->var_status, sizeof v->var_status, "ok");
        } else if (missing) {
            snprintf(v->var_status, sizeof v->var_status,
                     "not enough data: no stored daily closes of %s", missing);
        } else {
            snprintf(v->var_status, sizeof v->var_status,
                     "not enough data: %u common days of returns, need %d", n,
                     RISKVIEW_MIN_VAR_DAYS);
        }
        for (uint32_t i = 0; i < m; i++)
            free(series[i]);
        free(series);
        free(at);
    }
    free(ps);
    free(expo);

    /* the watched symbols' correlations */
    uint32_t idx[RISKVIEW_MAX_SYM];
    v->nsym = watchlist_rows(a, idx, RISKVIEW_MAX_SYM);
    riskview_series *ws = xcalloc(v->nsym ? v->nsym : 1, sizeof *ws);
    for (uint32_t i = 0; i < v->nsym; i++) {
        const market_sym *s = market_at(a->market, idx[i]);
        snprintf(v->sym[i], sizeof v->sym[i], "%s:%s", venue_name(s->venue), s->name);
        snprintf(v->label[i], sizeof v->label[i], "%s%s", s->name,
                 s->venue == VENUE_BINANCE_USDM ? " UM" : "");
        riskview_returns(s, &ws[i]);
        v->ret_days[i] = ws[i].n;
    }
    double x[RISKVIEW_DAYS_MAX], y[RISKVIEW_DAYS_MAX];
    for (uint32_t i = 0; i < v->nsym; i++)
        for (uint32_t k = i; k < v->nsym; k++) {
            uint32_t n = riskview_align(&ws[i], &ws[k], RISKVIEW_CORR_DAYS, x, y);
            double c = n >= RISKVIEW_MIN_CORR_DAYS ? risk_correlation(x, y, n) : 0;
            if (i == k && n >= RISKVIEW_MIN_CORR_DAYS)
                c = 1;
            v->corr[i * v->nsym + k] = v->corr[k * v->nsym + i] = c;
            v->corr_days[i * v->nsym + k] = v->corr_days[k * v->nsym + i] = n;
        }
    free(ws);
}

const riskview *riskview_current(app *a)
{
    if (!a->runner)
        return NULL;
    riskview *v = riskview_get(a);
    if (!v->computed)
        riskview_compute(a, v);
    return v;
}

void riskview_tick(app *a)
{
    if (!a->runner)
        return;
    riskview_compute(a, riskview_get(a));
}

/* An hour of data ended (a 1h bar closed, of any symbol): the metrics at that moment go to the
 * store, once per hour. Driven by the data, so a replay stores the same rows at any speed. */
static void riskview_on_note(void *ud, const market_note *n)
{
    app *a = ud;
    if (n->kind != MARKET_BAR_CLOSED || n->tf != TF_1H || !n->bar || !a->runner || !a->store)
        return;
    riskview *v = riskview_get(a);
    int64_t hour = n->bar->open_ms / 3600000 + 1; /* the hour that begins */
    if (hour <= v->stored_hour)
        return;
    riskview_compute(a, v);
    v->time_ms = hour * 3600000;
    cJSON *j = riskview_json(v);
    char *txt = j ? cJSON_PrintUnformatted(j) : NULL;
    cJSON_Delete(j);
    if (txt && store_put_risk_metrics(a->store, v->time_ms, txt) == STORE_OK) {
        v->stored_hour = hour;
        v->rows_stored++;
    }
    free(txt);
}

int riskview_attach(app *a)
{
    if (!a->market)
        return K_ERR;
    riskview *v = riskview_get(a);
    v->stored_hour = -1; /* a new market (start, a seek's re-run): its hours from the start */
    market_unsubscribe(a->market, riskview_on_note, a);
    return market_subscribe(a->market, riskview_on_note, a);
}

static void riskview_put_dec(cJSON *o, const char *k, kdec v, int d)
{
    char b[48];
    if (decimal_format(v, d < 8 ? d : decimal_places(v), b, sizeof b))
        cJSON_AddStringToObject(o, k, b);
}

cJSON *riskview_json(const riskview *v)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    cJSON_AddNumberToObject(o, "time_ms", (double)v->time_ms);
    cJSON *var = cJSON_AddObjectToObject(o, "var");
    if (var) {
        cJSON_AddNumberToObject(var, "confidence", 0.95);
        cJSON_AddNumberToObject(var, "horizon_days", 1);
        cJSON_AddNumberToObject(var, "positions", v->positions);
        cJSON_AddNumberToObject(var, "days", v->var_days);
        cJSON_AddNumberToObject(var, "min_days", RISKVIEW_MIN_VAR_DAYS);
        riskview_put_dec(var, "exposure", v->exposure, 8);
        if (v->var_ok) {
            riskview_put_dec(var, "var", v->var, 8);
            riskview_put_dec(var, "es", v->es, 8);
        } else {
            cJSON_AddNullToObject(var, "var");
            cJSON_AddNullToObject(var, "es");
        }
        cJSON_AddStringToObject(var, "status", v->var_status);
    }
    cJSON *ea = cJSON_AddArrayToObject(o, "exposure_by_asset");
    for (int i = 0; ea && i < v->nassets; i++) {
        cJSON *e = cJSON_CreateObject();
        if (!e)
            break;
        cJSON_AddItemToArray(ea, e);
        cJSON_AddStringToObject(e, "asset", v->assets[i].asset);
        riskview_put_dec(e, "exposure", v->assets[i].exposure, 8);
        riskview_put_dec(e, "pct", v->assets[i].pct, 2);
    }
    cJSON *c = cJSON_AddObjectToObject(o, "correlation");
    if (c) {
        cJSON_AddNumberToObject(c, "window_days", RISKVIEW_CORR_DAYS);
        cJSON_AddNumberToObject(c, "min_days", RISKVIEW_MIN_CORR_DAYS);
        cJSON *syms = cJSON_AddArrayToObject(c, "symbols");
        cJSON *rd = cJSON_AddArrayToObject(c, "return_days");
        cJSON *mx = cJSON_AddArrayToObject(c, "matrix");
        cJSON *dy = cJSON_AddArrayToObject(c, "days");
        for (uint32_t i = 0; syms && rd && mx && dy && i < v->nsym; i++) {
            cJSON_AddItemToArray(syms, cJSON_CreateString(v->sym[i]));
            cJSON_AddItemToArray(rd, cJSON_CreateNumber(v->ret_days[i]));
            cJSON *row = cJSON_CreateArray(), *drow = cJSON_CreateArray();
            for (uint32_t k = 0; row && drow && k < v->nsym; k++) {
                uint32_t n = v->corr_days[i * v->nsym + k];
                double r = round(v->corr[i * v->nsym + k] * 1e6) / 1e6;
                cJSON_AddItemToArray(row, n >= RISKVIEW_MIN_CORR_DAYS ? cJSON_CreateNumber(r)
                                                                      : cJSON_CreateNull());
                cJSON_AddItemToArray(drow, cJSON_CreateNumber(n));
            }
            cJSON_AddItemToArray(mx, row);
            cJSON_AddItemToArray(dy, drow);
        }
    }
    cJSON_AddNumberToObject(o, "rows_stored", (double)v->rows_stored);
    return o;
}

void riskview_free(app *a)
{
    if (a->market)
        market_unsubscribe(a->market, riskview_on_note, a);
    free(a->riskview);
    a->riskview = NULL;
}
