/* Technical indicators: small incremental state machines that reproduce TA-Lib's conventions.
 *
 * Three layers, each usable alone:
 *   ta_info  - the registry: every indicator with its parameters, outputs, drawing kind, levels.
 *   ta_ind   - one instance parsed from a spec string ("rsi_14", "macd_12_26_9", "bb_20_2"):
 *              update(closed bar) -> outputs, peek(forming bar) -> outputs without changing state.
 *   ta_set   - many instances updated together, outputs concatenated in one array.
 *   ta_chart - a ta_set plus a bounded ring of past output values per output, for drawing; one
 *              per (symbol, timeframe) series (market_sym.ta[tf]).
 *
 * Every update is O(1) per bar (CCI and the linear-regression slope are O(period): TA-Lib's own
 * loops, kept for bit-compatibility), allocates nothing, and outputs NaN during warm-up. Values
 * are doubles; bars come in as doubles (the app converts kdec candles). docs/INDICATORS.md lists
 * every indicator, its conventions and warm-up. */
#ifndef KESTREL_TA_H
#define KESTREL_TA_H
#include "kestrel/common.h"

typedef struct ta_bar {
    int64_t t; /* open time, UTC ms */
    double o, h, l, c, v;
} ta_bar;

struct candle; /* candles.h */
/* A closed or forming candle as an indicator bar: kdec / 1e8, which gives the same double as
 * parsing the decimal string (both are the correctly rounded value). Volume is base volume. */
ta_bar ta_bar_from_candle(const struct candle *c);

#define TA_MAX_PARAMS 4
#define TA_MAX_OUTPUTS 5
#define TA_MAX_LEVELS 4
#define TA_PERIOD_MAX 5000  /* largest integer period accepted in a spec */
#define TA_SPEC_MAX 64      /* canonical spec / column name length incl. NUL */
#define TA_SET_MAX 128      /* instances in one ta_set */
#define TA_HISTORY_MAX 1000000 /* bars of history a chart may keep */

/* Where an output is drawn: on the price chart, or in a sub-pane of its own scale. */
enum ta_kind { TA_OVERLAY = 0, TA_OSCILLATOR };
/* How an output is best drawn. */
enum ta_style { TA_LINE = 0, TA_HISTOGRAM, TA_DOTS };

typedef struct ta_param_info {
    const char *name; /* "period", "fast", "mult", ... */
    double def, min, max;
    bool integer;
} ta_param_info;

typedef struct ta_output_info {
    const char *prefix; /* column name prefix: "macd_signal" -> column "macd_signal_12_26_9" */
    const char *label;  /* short human label: "signal" */
    enum ta_kind kind;
    enum ta_style style;
    int shift; /* bars to displace when drawing at default parameters (Ichimoku: senkou +25,
                * chikou -25), else 0; ta_ind_output_shift() gives it for an instance */
    double range_lo, range_hi; /* fixed scale (0..100 for RSI), NaN when the scale is automatic */
    uint32_t nlevels;
    double levels[TA_MAX_LEVELS]; /* reference lines: 30/70 RSI, 0 MACD, -100/100 CCI, ... */
} ta_output_info;

typedef struct ta_info {
    const char *name;  /* spec name: "macd" */
    const char *title; /* "Moving average convergence/divergence" */
    const char *talib; /* the TA-Lib function it reproduces ("MACD"); NULL when TA-Lib has none */
    enum ta_kind kind; /* kind of the primary output */
    uint32_t nparams;
    ta_param_info params[TA_MAX_PARAMS];
    uint32_t noutputs;
    ta_output_info outputs[TA_MAX_OUTPUTS];
} ta_info;

/* The registry, in a stable order. */
uint32_t ta_info_count(void);
const ta_info *ta_info_at(uint32_t i);
const ta_info *ta_info_find(const char *name); /* by spec name, NULL when unknown */

/* ---- one indicator instance ------------------------------------------------------------- */
typedef struct ta_ind ta_ind;

/* Parses "name[_param...]" (missing trailing parameters take their defaults; "rsi" == "rsi_14")
 * and builds the instance. NULL with a message in err on a bad spec. */
ta_ind *ta_ind_new(const char *spec, char *err, size_t errlen);
void ta_ind_free(ta_ind *ind);
void ta_ind_reset(ta_ind *ind); /* back to the state of a fresh instance */

/* A closed bar: advances the state and writes ta_ind_outputs() values (NaN = warming up).
 * The caller validates bars (finite, h >= l, v >= 0); ta_set/ta_chart do. */
void ta_ind_update(ta_ind *ind, const ta_bar *bar, double *out);
/* The forming bar: the values update() would give if this bar closed now; state unchanged. */
void ta_ind_peek(const ta_ind *ind, const ta_bar *bar, double *out);

const ta_info *ta_ind_info(const ta_ind *ind);
const char *ta_ind_spec(const ta_ind *ind);                  /* canonical: "macd_12_26_9" */
uint32_t ta_ind_outputs(const ta_ind *ind);
const char *ta_ind_output_name(const ta_ind *ind, uint32_t k); /* "macd_signal_12_26_9" */
double ta_ind_param(const ta_ind *ind, uint32_t k);
/* Bars before output k has its first value (TA-Lib's "lookback"): the first value comes with
 * bar number lookback+1. */
uint32_t ta_ind_lookback(const ta_ind *ind, uint32_t k);
/* Bars output k is displaced by when drawn (Ichimoku senkou +25, chikou -25 at defaults). */
int ta_ind_output_shift(const ta_ind *ind, uint32_t k);
uint64_t ta_ind_bars(const ta_ind *ind); /* closed bars seen */
size_t ta_ind_memory(const ta_ind *ind); /* bytes held */

/* Resolves one output column name ("bb_upper_20_2", "stoch_k_14_3_3", "sma_20") into the spec
 * of its instance and the output index: K_OK / K_ERR. */
int ta_column_parse(const char *column, char *spec, size_t speclen, uint32_t *output);

/* ---- a set of instances ----------------------------------------------------------------- */
typedef struct ta_set ta_set;

/* specs: comma- or space-separated instance specs ("sma_20,rsi_14 macd"). Duplicates allowed. */
ta_set *ta_set_new(const char *specs, char *err, size_t errlen);
void ta_set_free(ta_set *s);
/* Adds one instance; K_ERR (with message) on a bad spec or when TA_SET_MAX is reached. */
int ta_set_add(ta_set *s, const char *spec, char *err, size_t errlen);
void ta_set_reset(ta_set *s);
/* Updates every instance; out gets ta_set_outputs() values in instance order. K_ERR (state
 * unchanged, out all NaN) for an unusable bar: non-finite field, h < l, negative volume. */
int ta_set_update(ta_set *s, const ta_bar *bar, double *out);
int ta_set_peek(const ta_set *s, const ta_bar *bar, double *out);
uint32_t ta_set_count(const ta_set *s); /* instances */
ta_ind *ta_set_at(const ta_set *s, uint32_t i);
uint32_t ta_set_outputs(const ta_set *s); /* total outputs */
const char *ta_set_output_name(const ta_set *s, uint32_t k);
uint32_t ta_set_output_instance(const ta_set *s, uint32_t k); /* instance owning output k */
const ta_output_info *ta_set_output_info(const ta_set *s, uint32_t k);
size_t ta_set_memory(const ta_set *s);

/* ---- a chart: a set attached to one series, with history for drawing ---------------------- */
typedef struct ta_chart ta_chart;

/* specs as for ta_set_new; history_cap = closed bars of output history kept (0 = none). */
ta_chart *ta_chart_new(const char *specs, uint32_t history_cap, char *err, size_t errlen);
void ta_chart_free(ta_chart *c);
void ta_chart_reset(ta_chart *c);
/* A closed bar. K_ERR (ignored, state unchanged) for an unusable bar or one whose time is not
 * after the previous bar's. */
int ta_chart_on_bar(ta_chart *c, const ta_bar *bar);
/* Values for the forming bar (out has ta_chart_outputs() slots); state unchanged. */
int ta_chart_peek(const ta_chart *c, const ta_bar *forming, double *out);

const ta_set *ta_chart_set(const ta_chart *c);
uint32_t ta_chart_instances(const ta_chart *c);
const char *ta_chart_instance_spec(const ta_chart *c, uint32_t i);
const ta_info *ta_chart_instance_info(const ta_chart *c, uint32_t i);
uint32_t ta_chart_outputs(const ta_chart *c);
const char *ta_chart_output_name(const ta_chart *c, uint32_t k);
uint32_t ta_chart_output_instance(const ta_chart *c, uint32_t k);
const ta_output_info *ta_chart_output_info(const ta_chart *c, uint32_t k); /* kind, levels... */
enum ta_kind ta_chart_output_kind(const ta_chart *c, uint32_t k);
int ta_chart_output_shift(const ta_chart *c, uint32_t k); /* see ta_ind_output_shift */
/* Reference levels of output k; *n gets their count (may be 0). */
const double *ta_chart_output_levels(const ta_chart *c, uint32_t k, uint32_t *n);
/* Latest closed-bar values (NaN while warming up), ta_chart_outputs() of them. */
const double *ta_chart_last(const ta_chart *c);
uint64_t ta_chart_bars(const ta_chart *c);          /* closed bars fed since creation/reset */
int64_t ta_chart_last_time(const ta_chart *c);      /* open time of the newest bar, or INT64_MIN */
/* History: i = 0 is the OLDEST kept bar, ta_chart_history_len()-1 the newest. Values are stored
 * as float (drawing precision; exact doubles are in ta_chart_last); NaN = no value. */
uint32_t ta_chart_history_cap(const ta_chart *c);
uint32_t ta_chart_history_len(const ta_chart *c);
double ta_chart_history(const ta_chart *c, uint32_t k, uint32_t i);
int64_t ta_chart_history_time(const ta_chart *c, uint32_t i);
size_t ta_chart_memory(const ta_chart *c);

#endif
