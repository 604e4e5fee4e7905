/* Gradient-boosted trees through XGBoost's C API (multi:softprob over SELL/HOLD/BUY on the
 * newest feature row; missing features are passed as missing values, which trees handle).
 *
 * Walk-forward retraining: learn() keeps a rolling window of scored outcomes (and the live
 * model's rolling accuracy on them). xgb_should_retrain() (main thread, caller's clock) says when
 * a retrain is due: the first time enough outcomes exist, every `retrain_every` new outcomes,
 * every `retrain_ms` of the caller's clock, or when the live model's rolling accuracy fell
 * `degrade` below the accuracy it was validated with. train() (learner thread) fits a candidate
 * on the older part of the window and scores it and the live model on the later held-out slice;
 * swap() (main thread) records the result and makes the candidate live only if it beat the live
 * model (or, for the first model, the class-prior baseline) on that slice. Deterministic for a
 * seed (nthread = 1). */
#ifndef KESTREL_XGB_H
#define KESTREL_XGB_H
#include "kestrel/model.h"

typedef struct xgb_config {
    uint32_t window;        /* outcomes kept and retrained on, default 2000 */
    uint32_t min_samples;   /* outcomes before the first retrain, default 200 */
    double holdout;         /* later share of the window the gate scores on, default 0.25 */
    uint32_t rounds;        /* boosting rounds, default 60 */
    uint32_t max_depth;     /* default 4 */
    uint32_t max_bin;       /* histogram bins per feature, default 64 (XGBoost's 256 doubles the
                             * training's peak memory: bench models_engine) */
    double eta;             /* default 0.15 */
    double min_gain;        /* held-out log-loss improvement a candidate needs, default 0 */
    uint32_t retrain_every; /* new outcomes between retrains, default 500 (0 = off) */
    int64_t retrain_ms;     /* caller's clock between retrains, default 24 h (0 = off) */
    double degrade;         /* accuracy drop that triggers a retrain, default 0.05 (0 = off) */
    uint32_t acc_window;    /* outcomes in the live model's rolling accuracy, default 200 */
    uint64_t seed;          /* default 1 */
} xgb_config;
void xgb_config_default(xgb_config *c);

/* A retrain's trigger is a model_trigger (model.h: first, count, timer, degraded, manual) and
 * its record a model_retrain, kept by the model (the last XGB_HISTORY) for the engine to store
 * and the AI screen to show; log losses and accuracies are on the held-out slice, base_logloss
 * is the training part's class prior there. */
#define XGB_HISTORY MODEL_RETRAIN_HISTORY

/* NULL when cfg is out of range (nfeat 0, window < 20, holdout outside (0, 0.9), rounds 0). */
model *xgb_new(const char *name, uint32_t nfeat, const xgb_config *cfg);
/* Main thread: the trigger that makes a retrain due now (and remembers it for the next train()),
 * or NONE (also while a retrain is outstanding: between this and swap()). */
enum model_trigger xgb_should_retrain(model *m, int64_t now_ms);
/* The retrain xgb_should_retrain() asked for was not started (the learner's queue was full):
 * not pending any more, so it is asked again at the next check. */
void xgb_retrain_cancel(model *m);
/* Retrain results, newest first; returns how many (<= max, <= XGB_HISTORY). */
uint32_t xgb_history(const model *m, model_retrain *out, uint32_t max); /* = ops->retrains */
/* The live model's rolling accuracy on the last outcomes (NaN before any), and its validation
 * accuracy (NaN without a live model). */
void xgb_accuracy(const model *m, double *rolling, double *validated);
/* True while train() is running on the learner thread (a trylock: never waits). */
bool xgb_training(model *m);
/* Retrain results dropped because a load() replaced the live model while they ran. */
uint64_t xgb_stale_dropped(const model *m);

#endif
