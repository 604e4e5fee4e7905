/* Display indicators: the chart's indicator list (the picker's choice) computed for every
 * (symbol, timeframe) series, as one subscriber of the market's notes. The engine keeps its own
 * indicator instances: a keystroke in the picker rebuilds these and nothing else.
 *
 * Memory is admitted against a budget, not a count: a list costs ta_chart_memory() of one series
 * x TF_COUNT per symbol (its real state and drawing history), and the charts of every symbol
 * together must fit in what the memory budget leaves once the process reserve and the market's
 * worst case (books, tapes, candles of max_symbols symbols) are set aside
 * (market_limits_memory().left, market.h). A list
 * that does not fit for the symbols held is refused with the numbers; a symbol that appears when
 * the budget is full gets no indicators (counted by chartta_skipped(): the app warns), so memory
 * stays bounded however many symbols arrive. */
#ifndef KESTREL_CHARTTA_H
#define KESTREL_CHARTTA_H
#include "kestrel/market.h"

struct ta_chart;

#define CHARTTA_HISTORY 300 /* indicator values kept per series for drawing (a wide chart) */

typedef struct chartta chartta;

/* The budget: what the memory budget leaves once the reserve and the market's own worst case
 * are set aside (market_limits_memory().left); budget_mb = 0 takes the market's
 * limits.memory_mb, another value replaces it. */
chartta *chartta_new(market *m, uint32_t budget_mb);
void chartta_free(chartta *c);

/* The market subscriber: attaches charts to new symbols and feeds closed bars. */
void chartta_on_note(void *ud, const market_note *n);

/* Checks a list without applying it: parses, and fits the budget. K_OK, or K_ERR with the reason
 * ("the list needs 56.1 MB per symbol: 5610 MB for 100 symbols; the budget leaves 32 MB"). */
int chartta_check(const chartta *c, const char *specs, char *err, size_t errlen);
/* Replaces the list (checked first) and rebuilds every series from its closed bars. */
int chartta_set(chartta *c, const char *specs, char *err, size_t errlen);
const char *chartta_specs(const chartta *c);
/* Rebuilds one symbol's charts from its closed bars (after history was loaded into them). */
void chartta_rebuild(chartta *c, market_sym *s);

/* The chart of a series, or NULL (no list, or not attached). */
const struct ta_chart *chartta_get(const chartta *c, uint32_t sym_index, enum tf tf);
size_t chartta_memory(const chartta *c);   /* bytes held by every chart now */
size_t chartta_per_symbol(const chartta *c); /* bytes one symbol's charts cost with this list */
uint32_t chartta_skipped(const chartta *c);  /* symbols left without charts: budget full */
size_t chartta_budget(const chartta *c);     /* bytes the charts may take */

#endif
