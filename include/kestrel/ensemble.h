/* Combining the models and deciding how far to trust the result:
 * - ensemble: weights each model by its recent out-of-sample log loss, w_i ∝ exp(-eta * L_i),
 *   L_i = mean log loss of its last `window` scored predictions (ln 3, the uniform guess, until
 *   it has min_scored); models not ready for a sample are left out and the rest renormalised.
 *   Baseline rule (issue 12): a model marked `gated` (the deep and tree models) gets no weight
 *   until it has min_scored scored predictions and its rolling log loss is below the baseline
 *   model's (the logistic regression) over the same window.
 * - adaptive threshold: rolling accuracy of traded signals > 0.6 lowers the entry threshold by
 *   `step`, < 0.45 raises it (after min_n traded signals).
 * - guard (self-pause): paused when, over the rolling window with >= min_n scored signals, the
 *   Wilson 95% lower bound of the ensemble's accuracy is < 0.40 or its accuracy does not beat
 *   always-HOLD.
 * - regime: trending / ranging / volatile from ADX and the volatility percentile, and the gate
 *   each regime puts on trading (momentum, mean-reversion, multi-timeframe consensus). */
#ifndef KESTREL_ENSEMBLE_H
#define KESTREL_ENSEMBLE_H
#include "kestrel/model.h"
#include "kestrel/scorer.h"

#define ENSEMBLE_MAX_MODELS 16

typedef struct ensemble_config {
    uint32_t window;     /* scored predictions per model in its loss (100) */
    uint32_t min_scored; /* before its own loss counts (10) */
    double eta;          /* weight temperature (5) */
} ensemble_config;

void ensemble_config_default(ensemble_config *c);

typedef struct ensemble ensemble;
ensemble *ensemble_new(uint32_t nmodels, const ensemble_config *cfg);
void ensemble_free(ensemble *e);
uint32_t ensemble_models(const ensemble *e);
/* The baseline rule: model `baseline` (-1 = none) is the bar; gated[i] marks the models that
 * must beat it (nmodels flags, copied). */
void ensemble_set_baseline(ensemble *e, int baseline, const bool *gated);
/* True when model i gets no weight because it has not beaten the baseline out of sample over
 * its window; *loss and *base (either may be NULL) get both rolling losses (NaN when none). */
bool ensemble_held(const ensemble *e, uint32_t i, double *loss, double *base);
/* Weights over all models (sum 1), before the readiness mask. */
void ensemble_weights(const ensemble *e, double *w);
/* Mixes the ready models' outputs; used[i] gets the weight actually applied (0 when not
 * ready). Returns false (p uniform) when no model is ready. */
bool ensemble_combine(const ensemble *e, const model_output *outs, const bool *ready, double *p,
                      double *used);
/* Model i's prediction for a sample whose label is now known. */
void ensemble_score(ensemble *e, uint32_t i, const double *p, int outcome);
double ensemble_loss(const ensemble *e, uint32_t i); /* rolling mean, NaN when none */
uint32_t ensemble_scored(const ensemble *e, uint32_t i);
/* True once model i's own loss sets its weight (min_scored scored predictions), else it has the
 * prior weight. */
bool ensemble_own_loss(const ensemble *e, uint32_t i);
/* Drift: forget the losses (every model back to the prior weight). */
void ensemble_reset(ensemble *e);
void ensemble_save(const ensemble *e, model_blob *out);
K_MUST_USE enum model_result ensemble_load(ensemble *e, const uint8_t *data, size_t len);

/* ---- adaptive threshold --------------------------------------------------------------- */
#define ENSEMBLE_RING 256
typedef struct ensemble_threshold {
    double base, step;  /* 0.65, 0.05 */
    uint32_t window, min_n; /* 50, 20 */
    uint8_t hit[ENSEMBLE_RING];
    uint32_t n, head;
} ensemble_threshold;

void ensemble_threshold_init(ensemble_threshold *t, double base);
void ensemble_threshold_add(ensemble_threshold *t, bool win);
double ensemble_threshold_get(const ensemble_threshold *t);
double ensemble_threshold_accuracy(const ensemble_threshold *t, uint32_t *n);

/* ---- self-pause guard ----------------------------------------------------------------- */
typedef struct ensemble_guard {
    uint32_t window, min_n; /* 200, 50 */
    double floor;           /* 0.40 */
    uint8_t right[ENSEMBLE_RING], hold[ENSEMBLE_RING]; /* ensemble right; outcome was HOLD */
    uint32_t n, head;
} ensemble_guard;

void ensemble_guard_init(ensemble_guard *g);
void ensemble_guard_add(ensemble_guard *g, bool right, bool outcome_hold);
/* true = trading must pause; why gets a human reason ("" when not paused). */
bool ensemble_guard_paused(const ensemble_guard *g, char *why, size_t whylen);
/* Wilson score interval lower bound for k successes in n at z = 1.96. */
double ensemble_wilson_lower(double k, double n);

/* ---- regime ------------------------------------------------------------------------- */
enum regime { REGIME_UNKNOWN = 0, REGIME_TRENDING, REGIME_RANGING, REGIME_VOLATILE };
const char *ensemble_regime_name(enum regime r); /* "unknown" "trending" "ranging" "volatile" */
/* volatile when vol_pct >= 0.9; else trending when ADX >= 25; else ranging; unknown when ADX
 * is not available. */
enum regime ensemble_regime(const scorer_input *in);
/* May a BUY/SELL action be traded in this regime? trending: the MA-alignment or momentum vote
 * agrees (momentum logic); ranging: the RSI-extreme or Bollinger-touch vote agrees (mean
 * reversion); volatile: >= 2 of the 1m/5m/1h trends agree (consensus); unknown: yes. */
bool ensemble_regime_allows(enum regime r, int action, const scorer_result *sr,
                            const scorer_input *in, char *why, size_t whylen);

#endif
