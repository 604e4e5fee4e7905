/* Display indicators (see chartta.h): one ta_chart per (symbol, timeframe), fed closed bars by the
 * market's notes. Indexed by market_sym.index, grown as symbols appear (the market never removes
 * one). Rebuilding a series replays its closed bars (at most 2 x history of them: older ones no
 * longer show) into a fresh chart, which is what a new list or a history load needs.
 *
 * Partial bars (CANDLE_PARTIAL: the period began before the data did, e.g. six minutes of a
 * replay's first hour) are never fed: an indicator's warm-up counts whole bars only, and no value
 * is computed from a bar that does not hold its period. The chart shows such a bar dimmed, with no
 * indicator values at it. A bar revised after its close (MARKET_BAR_REVISED: the exchange's final
 * kline or a REST backfill replacing a trade-built bar) rebuilds that timeframe's chart from the
 * corrected series, so every value shown is the one the exchange's bars give. */
#include "kestrel/chartta.h"

#include "kestrel/ta.h"
#include "kestrel/xmalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct chartta {
    market *m;
    size_t budget;      /* bytes the indicators may take: what the market's reservation leaves */
    char specs[512];
    size_t per_symbol;  /* with the current list */
    ta_chart *(*charts)[TF_COUNT];
    uint32_t n;         /* symbols with a slot */
    uint32_t attached;  /* symbols whose charts are built */
    uint32_t skipped;   /* symbols left without charts: the budget was full */
};

chartta *chartta_new(market *m, uint32_t budget_mb)
{
    chartta *c = xcalloc(1, sizeof *c);
    c->m = m;
    market_limits lim = *market_get_limits(m);
    if (budget_mb)
        lim.memory_mb = budget_mb;
    c->budget = market_limits_memory(&lim).left;
    return c;
}

static void chartta_drop(chartta *c, uint32_t i)
{
    if (i < c->n && c->charts[i][0])
        c->attached--;
    for (int t = 0; t < TF_COUNT; t++) {
        ta_chart_free(c->charts[i][t]);
        c->charts[i][t] = NULL;
    }
}

void chartta_free(chartta *c)
{
    if (!c)
        return;
    for (uint32_t i = 0; i < c->n; i++)
        chartta_drop(c, i);
    free(c->charts);
    free(c);
}

static void chartta_grow(chartta *c, uint32_t index)
{
    if (index < c->n)
        return;
    uint32_t nn = c->n ? c->n : 8;
    while (nn <= index)
        nn *= 2;
    c->charts = xrealloc(c->charts, (size_t)nn * sizeof *c->charts);
    memset(&c->charts[c->n], 0, (size_t)(nn - c->n) * sizeof *c->charts);
    c->n = nn;
}

static void chartta_build(chartta *c, market_sym *s, enum tf t)
{
    chartta_grow(c, s->index);
    ta_chart_free(c->charts[s->index][t]);
    c->charts[s->index][t] = NULL;
    if (!c->specs[0])
        return;
    char err[160];
    ta_chart *ch = ta_chart_new(c->specs, CHARTTA_HISTORY, err, sizeof err);
    if (!ch)
        return; /* checked when the list was set: cannot happen */
    candles *cs = s->series[t];
    uint32_t n = candles_count(cs);
    uint32_t from = n > CHARTTA_HISTORY * 2 ? n - CHARTTA_HISTORY * 2 : 0;
    for (uint32_t i = from; i < n; i++) {
        const candle *cd = candles_get(cs, i);
        if (cd->flags & CANDLE_PARTIAL)
            continue;
        ta_bar b = ta_bar_from_candle(cd);
        ta_chart_on_bar(ch, &b);
    }
    c->charts[s->index][t] = ch;
}

void chartta_rebuild(chartta *c, market_sym *s)
{
    chartta_grow(c, s->index);
    bool had = c->charts[s->index][0] != NULL;
    chartta_drop(c, s->index);
    if (!c->specs[0])
        return;
    if (!had && (size_t)(c->attached + 1) * c->per_symbol > c->budget) {
        c->skipped++; /* over the budget: this symbol's chart shows no indicators */
        return;
    }
    for (int t = 0; t < TF_COUNT; t++)
        chartta_build(c, s, (enum tf)t);
    c->attached++;
}

void chartta_on_note(void *ud, const market_note *n)
{
    chartta *c = ud;
    switch (n->kind) {
    case MARKET_SYMBOL_ADDED:
        chartta_rebuild(c, n->sym);
        break;
    case MARKET_BAR_CLOSED:
        if (n->sym->index < c->n && c->charts[n->sym->index][n->tf] &&
            !(n->bar->flags & CANDLE_PARTIAL)) {
            ta_bar b = ta_bar_from_candle(n->bar);
            ta_chart_on_bar(c->charts[n->sym->index][n->tf], &b);
        }
        break;
    case MARKET_BAR_REVISED:
        /* the exchange's bar replaced a closed one (live klines, REST backfill): the values
         * computed at that close were made from the trade-built bar, so the chart is built
         * again from the corrected series (docs/LIVE.md "A bar revised after its close") */
        if (n->sym->index < c->n && c->charts[n->sym->index][n->tf])
            chartta_build(c, n->sym, n->tf);
        break;
    default:
        break;
    }
}

static size_t chartta_cost(const char *specs, char *err, size_t errlen)
{
    ta_chart *probe = ta_chart_new(specs, CHARTTA_HISTORY, err, errlen);
    if (!probe)
        return SIZE_MAX;
    size_t per = ta_chart_memory(probe) * TF_COUNT;
    ta_chart_free(probe);
    return per;
}

int chartta_check(const chartta *c, const char *specs, char *err, size_t errlen)
{
    if (strlen(specs) >= sizeof c->specs) {
        snprintf(err, errlen, "indicator list too long (max %zu bytes)", sizeof c->specs - 1);
        return K_ERR;
    }
    if (!specs[0])
        return K_OK;
    size_t per = chartta_cost(specs, err, errlen);
    if (per == SIZE_MAX)
        return K_ERR;
    uint32_t syms = market_count(c->m);
    if (syms < 1)
        syms = 1;
    if (per > c->budget / syms) {
        snprintf(err, errlen, "the list needs %.2f MB per symbol: %.1f MB for %u symbol%s; the "
                 "memory budget leaves %.1f MB for indicators (limits.memory_mb)",
                 (double)per / 1048576.0, (double)per * syms / 1048576.0, syms,
                 syms == 1 ? "" : "s", (double)c->budget / 1048576.0);
        return K_ERR;
    }
    return K_OK;
}

int chartta_set(chartta *c, const char *specs, char *err, size_t errlen)
{
    if (chartta_check(c, specs, err, errlen) != K_OK)
        return K_ERR;
    for (uint32_t i = 0; i < c->n; i++)
        chartta_drop(c, i);
    snprintf(c->specs, sizeof c->specs, "%s", specs);
    c->per_symbol = specs[0] ? chartta_cost(specs, err, errlen) : 0;
    c->skipped = 0;
    for (uint32_t i = 0; i < market_count(c->m); i++)
        chartta_rebuild(c, market_at(c->m, i));
    return K_OK;
}

const char *chartta_specs(const chartta *c)
{
    return c->specs;
}

const ta_chart *chartta_get(const chartta *c, uint32_t sym_index, enum tf tf)
{
    if (!c || sym_index >= c->n || (unsigned)tf >= TF_COUNT)
        return NULL;
    return c->charts[sym_index][tf];
}

size_t chartta_memory(const chartta *c)
{
    size_t total = 0;
    for (uint32_t i = 0; i < c->n; i++)
        for (int t = 0; t < TF_COUNT; t++)
            if (c->charts[i][t])
                total += ta_chart_memory(c->charts[i][t]);
    return total;
}

size_t chartta_per_symbol(const chartta *c)
{
    return c->per_symbol;
}

uint32_t chartta_skipped(const chartta *c)
{
    return c->skipped;
}

size_t chartta_budget(const chartta *c)
{
    return c->budget;
}
