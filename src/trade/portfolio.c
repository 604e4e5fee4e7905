/* Portfolio accounting: positions with an exact cost basis, realised / unrealised P&L net of
 * fees and funding, the equity curve and per-UTC-day P&L, round-trip history and statistics,
 * and a JSON form that restores the state identically.
 *
 * Exactness: a position's cost is the sum of its fills' notionals, each truncated to 1e-8 as the
 * wallet pays it (px * qty / 1e8), so a round trip's realised P&L equals the change of the
 * broker's cash balance to the last unit; a partial close removes cost pro rata (cost * closed /
 * qty, truncated) and the final close removes the rest. equity = start + realised (net) +
 * sum(upnl). The statistics use doubles: they are ratios, never money that leaves the
 * program. */
#include "kestrel/portfolio.h"

#include "kestrel/decimal.h"
#include "kestrel/xmalloc.h"

#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PF_MAX_POSITIONS 4096
#define PF_MAX_HISTORY 100000
#define PF_DAY_MS 86400000LL

typedef struct pf_pos_int {
    pf_position pub;
    __int128 cost;           /* signed, 1e-8: the sum of each fill's truncated notional */
    /* the open round trip */
    kdec trip_max;           /* largest |qty| */
    __int128 trip_entry_val; /* sum px * qty of increases, 1e-16 */
    kdec trip_entry_qty;
    __int128 trip_exit_val;
    kdec trip_exit_qty;
    kdec trip_gross;
    enum side trip_side;
} pf_pos_int;

struct portfolio {
    char cash_asset[INSTR_ASSET_MAX];
    kdec start_cash;
    kdec realised, fees, funding; /* realised is net of fees and funding */
    kdec peak;
    const instruments *instr;
    pf_pos_int *pos;
    uint32_t npos, cpos;
    pf_trade *trades;
    uint32_t ntrades, ctrades;
    pf_day *days;
    uint32_t ndays, cdays;
    pf_point *pts; /* ring */
    uint32_t npts, pts_head, max_pts;
};

const char *portfolio_strerror(enum portfolio_result r)
{
    switch (r) {
    case PF_OK: return "ok";
    case PF_ERR_INVALID: return "invalid fill";
    case PF_ERR_FULL: return "too many positions";
    case PF_ERR_PARSE: return "malformed portfolio state";
    }
    return "?";
}

portfolio *portfolio_new(kdec start_cash, const char *cash_asset, uint32_t max_points)
{
    portfolio *pf = xcalloc(1, sizeof *pf);
    snprintf(pf->cash_asset, sizeof pf->cash_asset, "%s", cash_asset ? cash_asset : "USDT");
    pf->start_cash = start_cash;
    pf->peak = start_cash;
    pf->max_pts = max_points ? max_points : 10000;
    pf->pts = xcalloc(pf->max_pts, sizeof *pf->pts);
    return pf;
}

void portfolio_free(portfolio *pf)
{
    if (!pf)
        return;
    free(pf->pos);
    free(pf->trades);
    free(pf->days);
    free(pf->pts);
    free(pf);
}

void portfolio_set_instruments(portfolio *pf, const instruments *in)
{
    pf->instr = in;
}

static kdec pf_abs(kdec v)
{
    return v < 0 ? -v : v;
}

static pf_pos_int *pf_find(const portfolio *pf, enum venue v, const char *sym)
{
    for (uint32_t i = 0; i < pf->npos; i++)
        if (pf->pos[i].pub.venue == v && !strcmp(pf->pos[i].pub.symbol, sym))
            return &pf->pos[i];
    return NULL;
}

static pf_pos_int *pf_get(portfolio *pf, enum venue v, const char *sym)
{
    pf_pos_int *p = pf_find(pf, v, sym);
    if (p)
        return p;
    if (pf->npos >= PF_MAX_POSITIONS)
        return NULL;
    if (pf->npos == pf->cpos) {
        pf->cpos = pf->cpos ? pf->cpos * 2 : 16;
        pf->pos = xrealloc(pf->pos, pf->cpos * sizeof *pf->pos);
    }
    p = &pf->pos[pf->npos++];
    memset(p, 0, sizeof *p);
    p->pub.venue = v;
    snprintf(p->pub.symbol, sizeof p->pub.symbol, "%s", sym);
    return p;
}

/* derived fields: entry, upnl, dust */
static void pf_refresh(const portfolio *pf, pf_pos_int *p)
{
    pf_position *q = &p->pub;
    if (q->qty == 0) {
        q->entry = 0;
        q->upnl = 0;
        q->dust = false;
        return;
    }
    q->entry = (kdec)(p->cost * KDEC_SCALE / q->qty);
    kdec mark = q->mark > 0 ? q->mark : q->entry;
    q->upnl = (kdec)((__int128)q->qty * mark / KDEC_SCALE - p->cost);
    const instrument *in = pf->instr ? instruments_find(pf->instr, q->venue, q->symbol) : NULL;
    q->dust = in && instrument_is_dust(in, q->qty, mark);
}

static void pf_history_push(void **arr, uint32_t *n, uint32_t *cap, size_t sz, const void *item)
{
    if (*n >= PF_MAX_HISTORY) { /* drop the oldest */
        memmove(*arr, (char *)*arr + sz, (*n - 1) * sz);
        (*n)--;
    }
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 64;
        *arr = xrealloc(*arr, *cap * sz);
    }
    memcpy((char *)*arr + *n * sz, item, sz);
    (*n)++;
}

static void pf_close_trip(portfolio *pf, pf_pos_int *p, int64_t t)
{
    pf_trade tr = {.venue = p->pub.venue, .side = p->trip_side, .qty = p->trip_max,
                   .opened_ms = p->pub.opened_ms, .closed_ms = t, .fees = p->pub.fees,
                   .funding = p->pub.funding};
    snprintf(tr.symbol, sizeof tr.symbol, "%s", p->pub.symbol);
    tr.entry = p->trip_entry_qty ? (kdec)(p->trip_entry_val / p->trip_entry_qty) : 0;
    tr.exit = p->trip_exit_qty ? (kdec)(p->trip_exit_val / p->trip_exit_qty) : 0;
    tr.pnl = p->trip_gross - p->pub.fees - p->pub.funding;
    pf_history_push((void **)&pf->trades, &pf->ntrades, &pf->ctrades, sizeof tr, &tr);
    p->pub.realised_pnl = 0;
    p->pub.fees = 0;
    p->pub.funding = 0;
    p->pub.sl = p->pub.tp = 0;
    p->trip_max = 0;
    p->trip_entry_val = p->trip_exit_val = 0;
    p->trip_entry_qty = p->trip_exit_qty = 0;
    p->trip_gross = 0;
}

static void pf_open_trip(pf_pos_int *p, enum side side, int64_t t)
{
    p->trip_side = side;
    p->pub.opened_ms = t;
}

enum portfolio_result portfolio_on_fill(portfolio *pf, enum venue v, const char *symbol,
                                        enum side side, const order_fill *f)
{
    if (f->qty <= 0 || f->px <= 0 || f->fee < 0)
        return PF_ERR_INVALID;
    pf_pos_int *p = pf_get(pf, v, symbol);
    if (!p)
        return PF_ERR_FULL;
    pf_position *q = &p->pub;
    kdec sq = side == SIDE_BUY ? f->qty : -f->qty;
    kdec remaining = f->qty;
    /* fee split between the closing and the opening part of a flip */
    kdec fee_close = 0;
    if (q->qty != 0 && (q->qty > 0) != (sq > 0)) {
        kdec aq = pf_abs(q->qty);
        kdec closing = K_MIN(aq, f->qty);
        fee_close = closing == f->qty ? f->fee : (kdec)((__int128)f->fee * closing / f->qty);
        __int128 removed = p->cost * closing / aq;
        __int128 value = (__int128)f->px * closing / KDEC_SCALE * (q->qty > 0 ? 1 : -1);
        kdec gross = (kdec)(value - removed);
        p->cost -= removed;
        q->qty += q->qty > 0 ? -closing : closing;
        p->trip_exit_val += (__int128)f->px * closing;
        p->trip_exit_qty += closing;
        p->trip_gross += gross;
        q->fees += fee_close;
        q->realised_pnl += gross - fee_close;
        pf->realised += gross - fee_close;
        pf->fees += fee_close;
        remaining -= closing;
        if (q->qty == 0) {
            p->cost = 0;
            pf_close_trip(pf, p, f->time_ms);
        }
    }
    if (remaining > 0) {
        kdec fee_open = f->fee - fee_close;
        if (q->qty == 0)
            pf_open_trip(p, side, f->time_ms);
        q->qty += side == SIDE_BUY ? remaining : -remaining;
        p->cost += (__int128)f->px * remaining / KDEC_SCALE * (side == SIDE_BUY ? 1 : -1);
        p->trip_entry_val += (__int128)f->px * remaining;
        p->trip_entry_qty += remaining;
        if (pf_abs(q->qty) > p->trip_max)
            p->trip_max = pf_abs(q->qty);
        q->fees += fee_open;
        q->realised_pnl -= fee_open;
        pf->realised -= fee_open;
        pf->fees += fee_open;
    }
    if (q->mark == 0)
        q->mark = f->px;
    pf_refresh(pf, p);
    return PF_OK;
}

enum portfolio_result portfolio_deposit(portfolio *pf, enum venue v, const char *symbol,
                                        kdec qty, kdec px, int64_t time_ms)
{
    order_fill f = {.trade_id = 0, .time_ms = time_ms, .px = px, .qty = qty, .fee = 0};
    enum portfolio_result r = portfolio_on_fill(pf, v, symbol, SIDE_BUY, &f);
    if (r != PF_OK)
        return r;
    kdec cost = (kdec)((__int128)px * qty / KDEC_SCALE);
    pf->start_cash += cost;
    pf->peak += cost;
    return PF_OK;
}

void portfolio_on_funding(portfolio *pf, enum venue v, const char *symbol, kdec amount,
                          int64_t time_ms)
{
    (void)time_ms;
    pf_pos_int *p = pf_get(pf, v, symbol);
    pf->realised += amount;
    pf->funding -= amount;
    if (p) {
        p->pub.funding -= amount;
        p->pub.realised_pnl += amount;
    }
}

void portfolio_on_liquidation(portfolio *pf, enum venue v, const char *symbol, kdec amount,
                              int64_t time_ms)
{
    pf_pos_int *p = pf_find(pf, v, symbol);
    if (!p || p->pub.qty == 0)
        return;
    /* the wallet change replaces the P&L the close would have had */
    kdec aq = pf_abs(p->pub.qty);
    p->trip_exit_val += (__int128)(p->pub.mark > 0 ? p->pub.mark : p->pub.entry) * aq;
    p->trip_exit_qty += aq;
    p->trip_gross += amount;
    p->pub.realised_pnl += amount;
    pf->realised += amount;
    p->pub.qty = 0;
    p->cost = 0;
    pf_close_trip(pf, p, time_ms);
    pf_refresh(pf, p);
}

void portfolio_mark(portfolio *pf, enum venue v, const char *symbol, kdec mark)
{
    pf_pos_int *p = pf_find(pf, v, symbol);
    if (!p || mark <= 0)
        return;
    p->pub.mark = mark;
    pf_refresh(pf, p);
}

void portfolio_set_protection(portfolio *pf, enum venue v, const char *symbol, kdec sl, kdec tp)
{
    pf_pos_int *p = pf_find(pf, v, symbol);
    if (p) {
        p->pub.sl = sl;
        p->pub.tp = tp;
    }
}

static bool pf_spot(enum venue v)
{
    return v != VENUE_BINANCE_USDM;
}

static kdec pf_equity(const portfolio *pf, kdec *upnl_out, kdec *cash_out, kdec *expo,
                      uint32_t *open)
{
    kdec upnl = 0, spot_cost = 0, ex = 0;
    uint32_t n = 0;
    for (uint32_t i = 0; i < pf->npos; i++) {
        const pf_pos_int *p = &pf->pos[i];
        if (p->pub.qty == 0)
            continue;
        upnl += p->pub.upnl;
        if (pf_spot(p->pub.venue))
            spot_cost += (kdec)p->cost;
        kdec mark = p->pub.mark > 0 ? p->pub.mark : p->pub.entry;
        ex += pf_abs((kdec)((__int128)p->pub.qty * mark / KDEC_SCALE));
        n += !p->pub.dust;
    }
    if (upnl_out)
        *upnl_out = upnl;
    if (cash_out)
        *cash_out = pf->start_cash + pf->realised - spot_cost;
    if (expo)
        *expo = ex;
    if (open)
        *open = n;
    return pf->start_cash + pf->realised + upnl;
}

void portfolio_sample(portfolio *pf, int64_t now_ms)
{
    kdec eq = pf_equity(pf, NULL, NULL, NULL, NULL);
    if (eq > pf->peak)
        pf->peak = eq;
    int64_t day = now_ms >= 0 ? now_ms / PF_DAY_MS : (now_ms - PF_DAY_MS + 1) / PF_DAY_MS;
    if (pf->ndays == 0 || pf->days[pf->ndays - 1].day != day) {
        pf_day d = {.day = day,
                    .start_equity = pf->ndays ? pf->days[pf->ndays - 1].end_equity
                                              : pf->start_cash,
                    .end_equity = eq};
        pf_history_push((void **)&pf->days, &pf->ndays, &pf->cdays, sizeof d, &d);
    } else {
        pf->days[pf->ndays - 1].end_equity = eq;
    }
    uint32_t slot = (pf->pts_head + pf->npts) % pf->max_pts;
    if (pf->npts == pf->max_pts) {
        slot = pf->pts_head;
        pf->pts_head = (pf->pts_head + 1) % pf->max_pts;
    } else {
        pf->npts++;
    }
    pf->pts[slot] = (pf_point){now_ms, eq};
}

void portfolio_summary(const portfolio *pf, pf_summary *out)
{
    memset(out, 0, sizeof *out);
    out->equity = pf_equity(pf, &out->unrealised_pnl, &out->cash, &out->exposure,
                            &out->open_positions);
    out->realised_pnl = pf->realised;
    out->fees = pf->fees;
    out->funding = pf->funding;
    out->peak_equity = K_MAX(pf->peak, out->equity);
    out->day_start_equity = pf->ndays ? pf->days[pf->ndays - 1].start_equity : pf->start_cash;
    out->day_pnl = out->equity - out->day_start_equity;
    if (out->peak_equity > 0)
        out->drawdown_pct = (kdec)((__int128)(out->peak_equity - out->equity) * 100 *
                                   KDEC_SCALE / out->peak_equity);
}

uint32_t portfolio_daily_returns(const portfolio *pf, double *out, uint32_t cap)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < pf->ndays && n < cap; i++)
        if (pf->days[i].start_equity > 0)
            out[n++] = (double)(pf->days[i].end_equity - pf->days[i].start_equity) /
                       (double)pf->days[i].start_equity;
    return n;
}

void portfolio_stats(const portfolio *pf, pf_stats *out)
{
    memset(out, 0, sizeof *out);
    __int128 win_sum = 0, loss_sum = 0, all = 0;
    for (uint32_t i = 0; i < pf->ntrades; i++) {
        kdec p = pf->trades[i].pnl;
        all += p;
        if (p > 0) {
            out->wins++;
            win_sum += p;
        } else if (p < 0) {
            out->losses++;
            loss_sum += p;
        }
    }
    out->trades = pf->ntrades;
    if (out->trades) {
        out->win_rate = (double)out->wins / out->trades;
        out->expectancy = (kdec)(all / out->trades);
    }
    if (out->wins)
        out->avg_win = (kdec)(win_sum / out->wins);
    if (out->losses)
        out->avg_loss = (kdec)(loss_sum / out->losses);
    if (loss_sum < 0)
        out->profit_factor = (double)win_sum / (double)-loss_sum;
    if (out->avg_loss < 0 && out->avg_win > 0)
        out->payoff = (double)out->avg_win / (double)-out->avg_loss;
    uint32_t n = pf->ndays;
    double *r = n ? xmalloc(n * sizeof *r) : NULL;
    n = portfolio_daily_returns(pf, r, n);
    out->days = n;
    if (n >= 2) {
        double mean = 0, var = 0;
        for (uint32_t i = 0; i < n; i++)
            mean += r[i];
        mean /= n;
        for (uint32_t i = 0; i < n; i++)
            var += (r[i] - mean) * (r[i] - mean);
        var /= n - 1;
        out->sharpe = var > 0 ? mean / sqrt(var) * sqrt(365.0) : 0;
    }
    free(r);
}

uint32_t portfolio_position_count(const portfolio *pf)
{
    return pf->npos;
}

const pf_position *portfolio_position_at(const portfolio *pf, uint32_t i)
{
    return i < pf->npos ? &pf->pos[i].pub : NULL;
}

const pf_position *portfolio_position(const portfolio *pf, enum venue v, const char *symbol)
{
    pf_pos_int *p = pf_find(pf, v, symbol);
    return p ? &p->pub : NULL;
}

static kdec pf_notional_at_mark(const pf_position *q)
{
    kdec mark = q->mark > 0 ? q->mark : q->entry;
    return pf_abs((kdec)((__int128)q->qty * mark / KDEC_SCALE));
}

kdec portfolio_exposure_symbol(const portfolio *pf, enum venue v, const char *symbol)
{
    pf_pos_int *p = pf_find(pf, v, symbol);
    return p ? pf_notional_at_mark(&p->pub) : 0;
}

kdec portfolio_exposure_asset(const portfolio *pf, const char *asset)
{
    kdec sum = 0;
    for (uint32_t i = 0; i < pf->npos; i++) {
        const pf_position *q = &pf->pos[i].pub;
        if (q->qty == 0)
            continue;
        const instrument *in =
            pf->instr ? instruments_find(pf->instr, q->venue, q->symbol) : NULL;
        bool match = in ? !strcmp(in->base, asset)
                        : !strncmp(q->symbol, asset, strlen(asset));
        if (match)
            sum += pf_notional_at_mark(q);
    }
    return sum;
}

uint32_t portfolio_trade_count(const portfolio *pf)
{
    return pf->ntrades;
}

const pf_trade *portfolio_trade_at(const portfolio *pf, uint32_t i)
{
    return i < pf->ntrades ? &pf->trades[i] : NULL;
}

uint32_t portfolio_day_count(const portfolio *pf)
{
    return pf->ndays;
}

const pf_day *portfolio_day_at(const portfolio *pf, uint32_t i)
{
    return i < pf->ndays ? &pf->days[i] : NULL;
}

uint32_t portfolio_point_count(const portfolio *pf)
{
    return pf->npts;
}

const pf_point *portfolio_point_at(const portfolio *pf, uint32_t i)
{
    return i < pf->npts ? &pf->pts[(pf->pts_head + i) % pf->max_pts] : NULL;
}

/* ---- JSON ---- */

static void pf_put_kdec(cJSON *o, const char *k, kdec v)
{
    char b[40];
    decimal_format(v, decimal_places(v), b, sizeof b);
    cJSON_AddStringToObject(o, k, b);
}

static void pf_put_i64(cJSON *o, const char *k, int64_t v)
{
    char b[32];
    snprintf(b, sizeof b, "%lld", (long long)v);
    cJSON_AddStringToObject(o, k, b);
}

static void pf_put_i128(cJSON *o, const char *k, __int128 v)
{
    char b[48], *e = b + sizeof b - 1;
    *e = '\0';
    bool neg = v < 0;
    unsigned __int128 u = neg ? (unsigned __int128)(-v) : (unsigned __int128)v;
    do {
        *--e = (char)('0' + (int)(u % 10));
        u /= 10;
    } while (u);
    if (neg)
        *--e = '-';
    cJSON_AddStringToObject(o, k, e);
}

static const char *pf_s(const cJSON *o, const char *k, bool *ok)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!cJSON_IsString(it) || !it->valuestring) {
        *ok = false;
        return "0";
    }
    return it->valuestring;
}

static kdec pf_get_kdec(const cJSON *o, const char *k, bool *ok)
{
    const char *s = pf_s(o, k, ok);
    kdec v = 0;
    if (decimal_parse(s, strlen(s), &v) != K_OK)
        *ok = false;
    return v;
}

static int64_t pf_get_i64(const cJSON *o, const char *k, bool *ok)
{
    const char *s = pf_s(o, k, ok);
    char *end;
    long long v = strtoll(s, &end, 10);
    if (*end || end == s)
        *ok = false;
    return v;
}

static __int128 pf_get_i128(const cJSON *o, const char *k, bool *ok)
{
    const char *s = pf_s(o, k, ok);
    bool neg = *s == '-';
    s += neg;
    __int128 v = 0;
    if (!*s)
        *ok = false;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > ((__int128)1 << 120)) {
            *ok = false;
            break;
        }
        v = v * 10 + (*s - '0');
    }
    return neg ? -v : v;
}

char *portfolio_to_json(const portfolio *pf)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "cash_asset", pf->cash_asset);
    pf_put_kdec(root, "start_cash", pf->start_cash);
    pf_put_kdec(root, "realised", pf->realised);
    pf_put_kdec(root, "fees", pf->fees);
    pf_put_kdec(root, "funding", pf->funding);
    pf_put_kdec(root, "peak", pf->peak);
    pf_put_i64(root, "max_points", pf->max_pts);
    cJSON *arr = cJSON_AddArrayToObject(root, "positions");
    for (uint32_t i = 0; i < pf->npos; i++) {
        const pf_pos_int *p = &pf->pos[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "venue", venue_name(p->pub.venue));
        cJSON_AddStringToObject(o, "symbol", p->pub.symbol);
        pf_put_kdec(o, "qty", p->pub.qty);
        pf_put_i128(o, "cost", p->cost);
        pf_put_kdec(o, "mark", p->pub.mark);
        pf_put_kdec(o, "realised_pnl", p->pub.realised_pnl);
        pf_put_kdec(o, "fees", p->pub.fees);
        pf_put_kdec(o, "funding", p->pub.funding);
        pf_put_kdec(o, "sl", p->pub.sl);
        pf_put_kdec(o, "tp", p->pub.tp);
        pf_put_i64(o, "opened", p->pub.opened_ms);
        pf_put_kdec(o, "trip_max", p->trip_max);
        pf_put_i128(o, "trip_entry_val", p->trip_entry_val);
        pf_put_kdec(o, "trip_entry_qty", p->trip_entry_qty);
        pf_put_i128(o, "trip_exit_val", p->trip_exit_val);
        pf_put_kdec(o, "trip_exit_qty", p->trip_exit_qty);
        pf_put_kdec(o, "trip_gross", p->trip_gross);
        cJSON_AddStringToObject(o, "trip_side", side_name(p->trip_side));
        cJSON_AddItemToArray(arr, o);
    }
    arr = cJSON_AddArrayToObject(root, "trades");
    for (uint32_t i = 0; i < pf->ntrades; i++) {
        const pf_trade *t = &pf->trades[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "venue", venue_name(t->venue));
        cJSON_AddStringToObject(o, "symbol", t->symbol);
        cJSON_AddStringToObject(o, "side", side_name(t->side));
        pf_put_kdec(o, "qty", t->qty);
        pf_put_kdec(o, "entry", t->entry);
        pf_put_kdec(o, "exit", t->exit);
        pf_put_i64(o, "opened", t->opened_ms);
        pf_put_i64(o, "closed", t->closed_ms);
        pf_put_kdec(o, "pnl", t->pnl);
        pf_put_kdec(o, "fees", t->fees);
        pf_put_kdec(o, "funding", t->funding);
        cJSON_AddItemToArray(arr, o);
    }
    arr = cJSON_AddArrayToObject(root, "days");
    for (uint32_t i = 0; i < pf->ndays; i++) {
        cJSON *o = cJSON_CreateObject();
        pf_put_i64(o, "day", pf->days[i].day);
        pf_put_kdec(o, "start", pf->days[i].start_equity);
        pf_put_kdec(o, "end", pf->days[i].end_equity);
        cJSON_AddItemToArray(arr, o);
    }
    arr = cJSON_AddArrayToObject(root, "equity");
    for (uint32_t i = 0; i < pf->npts; i++) {
        const pf_point *pt = portfolio_point_at(pf, i);
        cJSON *o = cJSON_CreateObject();
        pf_put_i64(o, "t", pt->time_ms);
        pf_put_kdec(o, "equity", pt->equity);
        cJSON_AddItemToArray(arr, o);
    }
    char *s = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    /* cJSON allocates with malloc unless hooks are set; hand back a copy the caller frees */
    char *out = xstrdup(s);
    cJSON_free(s);
    return out;
}

static int pf_venue(const cJSON *o, enum venue *v)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, "venue");
    return cJSON_IsString(it) && it->valuestring ? venue_parse(it->valuestring, v) : K_ERR;
}

static int pf_symbol(const cJSON *o, char *out)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, "symbol");
    if (!cJSON_IsString(it) || !it->valuestring || strlen(it->valuestring) >= KSYM_MAX ||
        !it->valuestring[0])
        return K_ERR;
    memcpy(out, it->valuestring, strlen(it->valuestring) + 1);
    return K_OK;
}

static enum side pf_side(const cJSON *o, const char *k, bool *ok)
{
    const char *s = pf_s(o, k, ok);
    if (!strcmp(s, "buy"))
        return SIDE_BUY;
    if (!strcmp(s, "sell"))
        return SIDE_SELL;
    *ok = false;
    return SIDE_BUY;
}

portfolio *portfolio_from_json(const char *json, enum portfolio_result *err)
{
    *err = PF_ERR_PARSE;
    cJSON *root = cJSON_Parse(json);
    if (!root)
        return NULL;
    bool ok = true;
    const char *asset = pf_s(root, "cash_asset", &ok);
    int64_t maxp = pf_get_i64(root, "max_points", &ok);
    if (!ok || maxp <= 0 || maxp > 10000000) {
        cJSON_Delete(root);
        return NULL;
    }
    portfolio *pf = portfolio_new(pf_get_kdec(root, "start_cash", &ok), asset, (uint32_t)maxp);
    pf->realised = pf_get_kdec(root, "realised", &ok);
    pf->fees = pf_get_kdec(root, "fees", &ok);
    pf->funding = pf_get_kdec(root, "funding", &ok);
    pf->peak = pf_get_kdec(root, "peak", &ok);
    const cJSON *o;
    cJSON_ArrayForEach(o, cJSON_GetObjectItemCaseSensitive(root, "positions")) {
        enum venue v;
        char sym[KSYM_MAX];
        if (pf_venue(o, &v) || pf_symbol(o, sym)) {
            ok = false;
            break;
        }
        pf_pos_int *p = pf_get(pf, v, sym);
        if (!p) {
            ok = false;
            break;
        }
        p->pub.qty = pf_get_kdec(o, "qty", &ok);
        p->cost = pf_get_i128(o, "cost", &ok);
        p->pub.mark = pf_get_kdec(o, "mark", &ok);
        p->pub.realised_pnl = pf_get_kdec(o, "realised_pnl", &ok);
        p->pub.fees = pf_get_kdec(o, "fees", &ok);
        p->pub.funding = pf_get_kdec(o, "funding", &ok);
        p->pub.sl = pf_get_kdec(o, "sl", &ok);
        p->pub.tp = pf_get_kdec(o, "tp", &ok);
        p->pub.opened_ms = pf_get_i64(o, "opened", &ok);
        p->trip_max = pf_get_kdec(o, "trip_max", &ok);
        p->trip_entry_val = pf_get_i128(o, "trip_entry_val", &ok);
        p->trip_entry_qty = pf_get_kdec(o, "trip_entry_qty", &ok);
        p->trip_exit_val = pf_get_i128(o, "trip_exit_val", &ok);
        p->trip_exit_qty = pf_get_kdec(o, "trip_exit_qty", &ok);
        p->trip_gross = pf_get_kdec(o, "trip_gross", &ok);
        p->trip_side = pf_side(o, "trip_side", &ok);
        pf_refresh(pf, p);
    }
    cJSON_ArrayForEach(o, cJSON_GetObjectItemCaseSensitive(root, "trades")) {
        pf_trade t = {0};
        if (pf_venue(o, &t.venue) || pf_symbol(o, t.symbol)) {
            ok = false;
            break;
        }
        t.side = pf_side(o, "side", &ok);
        t.qty = pf_get_kdec(o, "qty", &ok);
        t.entry = pf_get_kdec(o, "entry", &ok);
        t.exit = pf_get_kdec(o, "exit", &ok);
        t.opened_ms = pf_get_i64(o, "opened", &ok);
        t.closed_ms = pf_get_i64(o, "closed", &ok);
        t.pnl = pf_get_kdec(o, "pnl", &ok);
        t.fees = pf_get_kdec(o, "fees", &ok);
        t.funding = pf_get_kdec(o, "funding", &ok);
        pf_history_push((void **)&pf->trades, &pf->ntrades, &pf->ctrades, sizeof t, &t);
    }
    cJSON_ArrayForEach(o, cJSON_GetObjectItemCaseSensitive(root, "days")) {
        pf_day d = {.day = pf_get_i64(o, "day", &ok), .start_equity = pf_get_kdec(o, "start", &ok),
                    .end_equity = pf_get_kdec(o, "end", &ok)};
        pf_history_push((void **)&pf->days, &pf->ndays, &pf->cdays, sizeof d, &d);
    }
    cJSON_ArrayForEach(o, cJSON_GetObjectItemCaseSensitive(root, "equity")) {
        if (pf->npts == pf->max_pts) {
            ok = false;
            break;
        }
        pf->pts[pf->npts++] = (pf_point){pf_get_i64(o, "t", &ok), pf_get_kdec(o, "equity", &ok)};
    }
    cJSON_Delete(root);
    if (!ok) {
        portfolio_free(pf);
        return NULL;
    }
    *err = PF_OK;
    return pf;
}

/* ---- control-socket JSON ---- */

static void pf_put_dec(cJSON *o, const char *k, kdec v, int decimals)
{
    char b[40];
    decimal_format(v, decimals >= 0 ? decimals : decimal_places(v), b, sizeof b);
    cJSON_AddStringToObject(o, k, b);
}

cJSON *portfolio_position_json(const pf_position *p, const instrument *in)
{
    int pd = in ? in->px_decimals : -1, qd = in ? in->qty_decimals : -1;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "venue", venue_name(p->venue));
    cJSON_AddStringToObject(o, "symbol", p->symbol);
    cJSON_AddStringToObject(o, "side", p->qty > 0 ? "long" : p->qty < 0 ? "short" : "flat");
    pf_put_dec(o, "qty", pf_abs(p->qty), qd);
    pf_put_dec(o, "entry", p->entry, pd);
    pf_put_dec(o, "mark", p->mark, pd);
    pf_put_dec(o, "upnl", p->upnl, -1);
    pf_put_dec(o, "realised_pnl", p->realised_pnl, -1);
    pf_put_dec(o, "sl", p->sl, pd);
    pf_put_dec(o, "tp", p->tp, pd);
    cJSON_AddNumberToObject(o, "opened", (double)p->opened_ms);
    cJSON_AddBoolToObject(o, "dust", p->dust);
    return o;
}

cJSON *portfolio_summary_json(const pf_summary *s)
{
    cJSON *o = cJSON_CreateObject();
    pf_put_dec(o, "equity", s->equity, -1);
    pf_put_dec(o, "cash", s->cash, -1);
    pf_put_dec(o, "realised_pnl", s->realised_pnl, -1);
    pf_put_dec(o, "unrealised_pnl", s->unrealised_pnl, -1);
    pf_put_dec(o, "fees", s->fees, -1);
    pf_put_dec(o, "funding", s->funding, -1);
    pf_put_dec(o, "day_pnl", s->day_pnl, -1);
    pf_put_dec(o, "peak_equity", s->peak_equity, -1);
    pf_put_dec(o, "drawdown", s->drawdown_pct, -1);
    cJSON_AddNumberToObject(o, "open_positions", s->open_positions);
    pf_put_dec(o, "exposure", s->exposure, -1);
    return o;
}

cJSON *portfolio_stats_json(const pf_stats *s)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "trades", s->trades);
    cJSON_AddNumberToObject(o, "wins", s->wins);
    cJSON_AddNumberToObject(o, "losses", s->losses);
    cJSON_AddNumberToObject(o, "win_rate", s->win_rate);
    cJSON_AddNumberToObject(o, "profit_factor", s->profit_factor);
    pf_put_dec(o, "expectancy", s->expectancy, -1);
    pf_put_dec(o, "avg_win", s->avg_win, -1);
    pf_put_dec(o, "avg_loss", s->avg_loss, -1);
    cJSON_AddNumberToObject(o, "payoff", s->payoff);
    cJSON_AddNumberToObject(o, "days", s->days);
    cJSON_AddNumberToObject(o, "sharpe", s->sharpe);
    return o;
}
