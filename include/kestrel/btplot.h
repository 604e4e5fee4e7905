/* The backtest report's terminal plots (ASCII), drawn from the report's own JSON data: the
 * equity curve with its drawdown, the ensemble's reliability diagram, the return of each UTC
 * month and the distribution of the trades' P&L. One mechanism for both places that show them:
 * `kestrel backtest`'s text report (fixed sizes, printed) and the Backtests screen (sizes from
 * the pane, drawn line by line). Each plot hands its lines, top to bottom, to fn: indent is the
 * text report's left margin for the line (2 for a title, 4 or 2 for a row), text has no margin.
 * Every number in a line is printed whole; a caller that cannot fit a line leaves it out. */
#ifndef KESTREL_BTPLOT_H
#define KESTREL_BTPLOT_H
#include "kestrel/common.h"

struct cJSON;
typedef void (*btplot_fn)(void *ud, int indent, const char *text);

/* curve: [{"t", "equity", "peak"}] (equity_curve). label_w: width of the value labels on the
 * first and last rows (0: as narrow as they are); cols x rows of plot (cols <= 240). */
void btplot_equity(const struct cJSON *curve, int label_w, int cols, int rows, btplot_fn fn,
                   void *ud);
/* bins: [{"lo", "hi", "n", "confidence", "hit_rate"}] (metrics.ensemble.reliability); bar_w
 * columns of bar (<= 100). Bins without signals are left out. */
void btplot_reliability(const struct cJSON *bins, int bar_w, btplot_fn fn, void *ud);
/* months: [{"month", "return"}] (monthly_returns). */
void btplot_monthly(const struct cJSON *months, int bar_w, btplot_fn fn, void *ud);
/* pnls: the trades' P&L after fees, as the trades array ({"pnl": "kdec"}) or as an array of
 * the kdec strings; 10 equal-width buckets. */
void btplot_trades(const struct cJSON *pnls, int bar_w, btplot_fn fn, void *ud);

#endif
