/* Out-of-sample metrics of the signal engine, each with its sample size: accumulators for one
 * predictor (the ensemble, every model, the majority-class and rule-scorer baselines), all-time
 * and over a rolling window; traded-signal win rate and profit factor; the health score; the
 * `ctl metrics` JSON document; and the signals export (CSV / JSON) from which every number can
 * be recomputed. Definitions (docs/ENGINE.md "Metrics"):
 *   accuracy  = mean(predicted == outcome)
 *   brier     = mean(sum_k (p_k - [k == outcome])^2)          (0..2, three classes)
 *   log_loss  = mean(-ln max(p_outcome, 1e-15))
 *   ece       = sum_b n_b/N |hit_b - conf_b|, 10 equal-width bins of confidence ([0,.1) .. [.9,1])
 *   precision/recall/F1 per class from the confusion matrix; deciles = the same 10 bins.
 * Sums run in record order, so recomputing from an export in its row order gives identical
 * doubles. */
#ifndef KESTREL_METRICS_H
#define KESTREL_METRICS_H
#include <stdio.h>

#include <cjson/cJSON.h>

#include "kestrel/model.h"

#define METRICS_BINS 10
#define METRICS_LL_EPS 1e-15

const char *metrics_class_name(int k); /* "SELL" "HOLD" "BUY" */
int metrics_class_parse(const char *s); /* -1 when unknown */

typedef struct metrics_rec {
    double p[MODEL_CLASSES];
    double confidence; /* probability that `predicted` is right */
    int predicted, outcome;
} metrics_rec;

typedef struct metrics_acc {
    uint64_t n;
    uint64_t confusion[MODEL_CLASSES][MODEL_CLASSES]; /* [predicted][outcome] */
    double brier_sum, ll_sum;
    uint64_t bin_n[METRICS_BINS], bin_hit[METRICS_BINS];
    double bin_conf[METRICS_BINS];
} metrics_acc;

typedef struct metrics_summary {
    uint64_t n;
    double accuracy, brier, log_loss, ece; /* NaN when n == 0 */
    double precision[MODEL_CLASSES], recall[MODEL_CLASSES], f1[MODEL_CLASSES];
    uint64_t support[MODEL_CLASSES]; /* outcomes of each class */
    uint64_t bin_n[METRICS_BINS];
    double bin_conf[METRICS_BINS], bin_hit[METRICS_BINS]; /* means per bin, NaN when empty */
} metrics_summary;

int metrics_bin(double confidence);
void metrics_acc_add(metrics_acc *a, const metrics_rec *r);
void metrics_acc_summary(const metrics_acc *a, metrics_summary *s);
cJSON *metrics_summary_json(const metrics_summary *s);

/* One predictor: all-time accumulator plus a ring of the last `window` records. */
typedef struct metrics_track metrics_track;
metrics_track *metrics_track_new(uint32_t window);
void metrics_track_free(metrics_track *t);
void metrics_track_add(metrics_track *t, const metrics_rec *r);
void metrics_track_all(const metrics_track *t, metrics_summary *s);
void metrics_track_rolling(const metrics_track *t, metrics_summary *s);

/* ---- the engine's board ----------------------------------------------------------------- */
enum metrics_baseline { METRICS_MAJORITY = 0, METRICS_RULES, METRICS_NBASELINES };

typedef struct metrics_set metrics_set;
metrics_set *metrics_set_new(uint32_t window, uint32_t nmodels, const char *const *names);
void metrics_set_free(metrics_set *m);
void metrics_set_ensemble(metrics_set *m, const metrics_rec *r);
void metrics_set_model(metrics_set *m, uint32_t i, const metrics_rec *r);
void metrics_set_baseline(metrics_set *m, enum metrics_baseline b, const metrics_rec *r);
/* A traded signal's net return (fees and spread deducted). */
void metrics_set_trade(metrics_set *m, double net_return);
const metrics_track *metrics_set_ensemble_track(const metrics_set *m);
const metrics_track *metrics_set_model_track(const metrics_set *m, uint32_t i);
const metrics_track *metrics_set_baseline_track(const metrics_set *m, enum metrics_baseline b);

/* Every accumulator (all-time, the rolling windows' records, traded tallies) as a versioned
 * blob, so the counts continue after a restart; load refuses another version / shape
 * (K_MODEL_BAD_STATE) and leaves m as it was. */
#define ENSEMBLE_MAX_MODELS_METRICS 16
void metrics_set_save(const metrics_set *m, model_blob *out);
K_MUST_USE enum model_result metrics_set_load(metrics_set *m, const uint8_t *data, size_t len);

/* Health score 0..100 over the rolling window, NaN with fewer than 30 scored signals:
 *   40 * clip(0.5 + 2 * (acc_ens - acc_majority), 0, 1)
 * + 30 * clip(1 - ece_ens / 0.2, 0, 1)
 * + 30 * clip(0.5 + (log_loss_majority - log_loss_ens), 0, 1) */
double metrics_set_health(const metrics_set *m);

/* The `ctl metrics` document: {"ensemble": {"all_time": S, "rolling": S}, "models": {"<name>":
 * {"all_time": S, "rolling": S}}, "baselines": {"majority": {...}, "rules": {...}}, "traded":
 * {"n", "win_rate", "profit_factor"}, "health": H}, S = {"n", "accuracy", "brier", "log_loss",
 * "ece", "per_class": {...}, "deciles": [...]}. NaN becomes null. Doubles are raw %.17g items
 * (exact once printed; read the printed document, not valuedouble of the tree). */
cJSON *metrics_set_json(const metrics_set *m);

/* ---- the signals export ------------------------------------------------------------------ */
typedef struct metrics_signal_row {
    uint64_t id;
    int64_t time_ms, horizon_end_ms;
    char symbol[KSYM_MAX];
    int action;                  /* model_class */
    double p[MODEL_CLASSES];     /* p_sell, p_hold, p_buy */
    double confidence, strength;
    bool scored;
    int outcome;                 /* model_class, valid when scored */
    int result;                  /* +1 win, -1 loss, 0 neutral (scored only) */
    double ret;                  /* relative price change over the horizon (scored only) */
    double mfe, mae;             /* excursions in the action's direction (scored only) */
    char regime[12], source[16], first_hit[8];
    bool traded;
} metrics_signal_row;

const char *metrics_result_name(int result); /* "win" "loss" "neutral" */
/* Columns: id,time,symbol,horizon_end,action,p_buy,p_hold,p_sell,confidence,strength,outcome,
 * result,return,scored, then regime,source,mfe,mae,first_hit,traded. Times are ISO-8601 UTC
 * with milliseconds; doubles %.17g (exact round trip); unscored rows leave outcome..return
 * empty (JSON: null). Returns K_OK / K_ERR (write error). */
int metrics_export_csv(FILE *fp, const metrics_signal_row *rows, size_t n);
int metrics_export_json(FILE *fp, const metrics_signal_row *rows, size_t n);

#endif
