/* The signal lifecycle for one symbol, pure and data-clock driven (every function takes the data
 * clock's now_ms; nothing reads the wall clock, does I/O or blocks).
 *
 *   feed:    engine_on_bar / engine_on_trade / engine_on_book (features + the price path)
 *   signal:  engine_signal_make(now) every signal_interval, on analysis-bar close, and on `g`
 *   score:   engine_advance(now) scores every pending signal whose horizon has passed: outcome
 *            class with the dead band (2 * fee + spread), result of the action, return, MFE/MAE,
 *            ATR take-profit / stop first hit; then, and only then, the models learn the label,
 *            the ensemble weights, calibration, drift detector, guard, threshold and metrics
 *            update.
 *   guard:   engine_label() is the one way a label reaches the models; offered before the
 *            signal's horizon end it is refused (K_MODEL_REFUSED) and nothing changes.
 * The engine owns its models (freed with it). OFFTHREAD models (MODEL_F_OFFTHREAD) only record
 * samples in learn(); the caller's learner thread runs their train() and the main thread
 * swap() (engine_model() gives access). */
#ifndef KESTREL_ENGINE_H
#define KESTREL_ENGINE_H
#include <stdio.h>

#include "kestrel/calib.h"
#include "kestrel/drift.h"
#include "kestrel/ensemble.h"
#include "kestrel/features.h"
#include "kestrel/metrics.h"
#include "kestrel/model.h"
#include "kestrel/scorer.h"

typedef struct engine_config {
    char symbol[KSYM_MAX];
    enum tf analysis_tf;        /* TF_15M */
    int64_t horizon_ms;         /* 15 min */
    double fee_bps;             /* per side (10): the dead band is 2 * fee + spread */
    double spread_bps;          /* assumed spread when no live book (2) */
    double threshold;           /* entry threshold on rule strength (0.65), adapted */
    double atr_tp, atr_sl;      /* take-profit / stop distances in ATRs (2, 1) */
    uint32_t pending_max;       /* signals awaiting their horizon (1024) */
    uint32_t history_max;       /* signals kept for the screen and export (4096) */
    uint32_t metrics_window;    /* rolling window of the metrics (500) */
    uint32_t window_len;        /* rows handed to sequence models (32) */
    enum calib_method calib_method;
    uint32_t calib_window, calib_min; /* 500, 100 */
    enum drift_method drift_method;   /* DRIFT_PAGE_HINKLEY (engine.drift) */
    bool conf_interval;         /* the Venn-Abers interval on every signal (true; two isotonic
                                 * fits per signal: a backtest, which never shows it, is off) */
    features_config features;
} engine_config;

void engine_config_default(engine_config *c);

#define ENGINE_TOP_REASONS 5

typedef struct engine_model_view {
    char name[32];
    bool ready;            /* predicted this sample (not K_MODEL_NOT_READY / error) */
    double p[MODEL_CLASSES];
    double weight;         /* weight applied in this signal's mix */
} engine_model_view;

typedef struct engine_signal {
    uint64_t id;
    int64_t time_ms, horizon_end_ms;
    int action;                    /* model_class */
    double p[MODEL_CLASSES];
    double raw_confidence;         /* p[action] before calibration */
    double confidence;             /* calibrated P(action right); raw while !calibrated */
    double conf_lo, conf_hi;       /* Venn-Abers interval ([0, 1] while not calibrated) */
    bool calibrated;
    uint32_t calib_n, calib_need;  /* "Learning: calib_n outcomes, need calib_need" */
    double strength, bull, bear;   /* rule scorer */
    double price, atr, tp, sl, band; /* entry reference, stops, dead band (fraction) */
    enum regime regime;
    const char *source;            /* "ensemble" or "rsi_fallback" */
    bool tradeable;                /* over the threshold, allowed by regime, not paused */
    double threshold;              /* the adaptive threshold used */
    char gate[112];                /* why not tradeable ("" when tradeable) */
    uint32_t nmodels;
    engine_model_view models[ENSEMBLE_MAX_MODELS];
    uint32_t nreasons;
    scorer_reason reasons[ENGINE_TOP_REASONS]; /* largest |contribution| first */
    uint32_t nfeatures_top;        /* features that moved the action (first logreg model) */
    struct {
        const char *name;          /* features_name() */
        double contribution;       /* logreg_explain(): + toward the action, - against */
    } features_top[3];
    uint32_t missing;              /* features missing in this sample */
    /* filled when scored */
    bool scored;
    int outcome, result;           /* model_class; +1 win / -1 loss / 0 neutral */
    double ret, mfe, mae;
    const char *first_hit;         /* "tp" "sl" "both" "none" ("-" for HOLD) */
} engine_signal;

typedef struct engine engine;

/* models: nmodels (<= ENSEMBLE_MAX_MODELS) models with nfeat == FEAT_COUNT; the engine takes
 * ownership. NULL on a bad argument. */
engine *engine_new(const engine_config *cfg, model **models, uint32_t nmodels);
void engine_free(engine *e);

int engine_on_bar(engine *e, enum tf tf, const candle *c, bool has_taker);
/* A bar of tf revised after its close: tf's features built again from bars (the corrected
 * series, oldest first; features_rebuild). Signals already made stand: nothing pending, scored
 * or journalled changes. Returns the bars taken. */
uint32_t engine_rebuild_bars(engine *e, enum tf tf, const candle *bars, uint32_t n,
                             bool has_taker);
int64_t engine_last_bar(const engine *e, enum tf tf); /* newest bar tf took; INT64_MIN: none */
uint64_t engine_bars(const engine *e, enum tf tf);    /* bars tf took (features_bars) */
/* The raw feature values at now_ms (NaN = missing), normalisers untouched (features_peek). */
void engine_peek_features(const engine *e, int64_t now_ms, double *raw);
void engine_on_trade(engine *e, int64_t time_ms, kdec px, kdec qty, bool buyer_maker);
void engine_on_book(engine *e, const book *b, int64_t now_ms);
void engine_on_depth(engine *e, const kdec *bid_px, const kdec *bid_qty, uint32_t nbid,
                     const kdec *ask_px, const kdec *ask_qty, uint32_t nask, int64_t now_ms);
void engine_on_funding(engine *e, int64_t time_ms, double rate, double mark, double index);

/* A signal at now_ms (stored as pending). K_MODEL_NOT_READY before any price, K_MODEL_BAD_INPUT
 * for a time before the last signal's. */
K_MUST_USE enum model_result engine_signal_make(engine *e, int64_t now_ms, engine_signal *out);
/* Scores every pending signal whose horizon_end <= now_ms; returns how many. */
uint32_t engine_advance(engine *e, int64_t now_ms);
/* Offers the realised label of pending signal id at now_ms: K_MODEL_REFUSED before its horizon
 * end (nothing changes), K_MODEL_BAD_INPUT for an unknown / already scored id or label. */
K_MUST_USE enum model_result engine_label(engine *e, uint64_t id, int label, int64_t now_ms);

uint32_t engine_pending(const engine *e);
uint64_t engine_scored(const engine *e);
uint64_t engine_pending_dropped(const engine *e);
/* The newest signal (scored fields updated), NULL before any. */
const engine_signal *engine_last(const engine *e);
/* History rows (oldest first) for the screen and export: i < engine_history_len(). */
uint32_t engine_history_len(const engine *e);
const metrics_signal_row *engine_history(const engine *e, uint32_t i);
int engine_export_csv(const engine *e, FILE *fp);
int engine_export_json(const engine *e, FILE *fp);

const metrics_set *engine_metrics(const engine *e);
cJSON *engine_metrics_json(const engine *e); /* the `ctl metrics` document */
uint32_t engine_models(const engine *e);
model *engine_model(engine *e, uint32_t i);
void engine_weights(const engine *e, double *w); /* ensemble weights, engine_models() of them */
/* True when model i (a deep or tree model) gets no weight because it has not beaten the
 * logistic regression out of sample over its window; both rolling log losses into *loss /
 * *base (NULL: not wanted). */
bool engine_model_held(const engine *e, uint32_t i, double *loss, double *base);
bool engine_paused(const engine *e, char *why, size_t whylen); /* self-pause rule */
double engine_threshold(const engine *e);
uint64_t engine_drift_events(const engine *e);
const calib *engine_calib(const engine *e);
/* The feature row of the newest signal (FEAT_COUNT normalised values, and its missing mask when
 * missing != NULL), NULL before any signal. */
const float *engine_last_features(const engine *e, const uint8_t **missing);

/* Warm-up on history before trading: between begin and end every signal is made, stored,
 * scored and learned as usual but has source "warmup" and is never tradeable; end drops what is
 * still pending (it would be scored against the first live price) and keeps the counts. */
typedef struct engine_warmup_stats {
    uint64_t bars, signals, scored, discarded;
} engine_warmup_stats;
void engine_warmup_begin(engine *e);
void engine_warmup_end(engine *e, uint64_t bars);
void engine_warmup_info(const engine *e, engine_warmup_stats *out);

/* Alerts the engine raises, in order, for the app's alert list / bell / alerts.command. */
enum engine_event_kind {
    ENGINE_EV_DRIFT = 1,  /* drift detected on the ensemble's loss (value = PH statistic) */
    ENGINE_EV_PAUSED,     /* the self-pause rule tripped (text = why) */
    ENGINE_EV_RESUMED,    /* the rule no longer holds */
    ENGINE_EV_HEALTH_LOW, /* health fell below 40 (value = health) */
};
const char *engine_event_name(enum engine_event_kind k); /* "drift" "paused" "resumed" ... */
typedef struct engine_event {
    enum engine_event_kind kind;
    int64_t time_ms; /* data clock when raised */
    double value;
    char text[112];
} engine_event;
/* Pops the oldest pending event: true and *ev filled, false when none. At most 32 are kept (the
 * oldest are dropped beyond that). */
bool engine_poll_event(engine *e, engine_event *ev);

/* Everything learned (models, normalisers, calibration, ensemble losses, drift, guard,
 * threshold, pending signals, counters) as one versioned blob; load refuses another version or
 * shape (K_MODEL_BAD_STATE) and leaves the engine as it was. Indicator state is not in it:
 * rebuild it by replaying history bars before load (the candles come from the store). */
K_MUST_USE enum model_result engine_save(const engine *e, model_blob *out);
K_MUST_USE enum model_result engine_load(engine *e, const uint8_t *data, size_t len);

/* Replay after a restore (a kill -9 loses the state since the last checkpoint, not the signals
 * the store committed after it). engine_record: the replay record of the newest signal id
 * (right after engine_signal_make; K_MODEL_BAD_INPUT for another id): its pending record
 * (feature row, every model's and the baselines' probabilities), its raw features, a link
 * to the signal before it, and the price path (high, low, first hit) of every other signal
 * still pending (at most 1024); the app stores it with the signal's row. engine_replay_from: the
 * first signal whose stored row can add to the loaded state (the oldest unscored pending one,
 * else the next id) and its time. engine_replay: one stored signal at or after that point, in
 * id order (st: its stored row, scored or not): a pending signal learns its stored label; a
 * signal made after the state (only the next id whose link is the last signal: a row of
 * another run is refused) is re-made from its record (normalisers, feature rows, pending,
 * history) and learns its label when scored, with the stored return and excursions; the
 * pending signals' paths in the record are merged into theirs (a record without them, written
 * before, is read too). Nothing else is taken from the row. K_MODEL_BAD_STATE: not a record of this build's engine;
 * K_MODEL_BAD_INPUT: not the next step of this engine (nothing changes). */
K_MUST_USE enum model_result engine_record(const engine *e, uint64_t id, model_blob *out);
void engine_replay_from(const engine *e, uint64_t *id, int64_t *time_ms);
/* The same point read from a saved state (engine_save's blob) without an engine: a pure parse,
 * safe on any thread (the store's writer reads the rows after it in the same request as the
 * state). It equals engine_replay_from() after engine_load() of that blob. K_MODEL_BAD_STATE:
 * not a state of this build's engine. */
K_MUST_USE enum model_result engine_replay_from_state(const uint8_t *data, size_t len,
                                                      uint64_t *id, int64_t *time_ms);
K_MUST_USE enum model_result engine_replay(engine *e, const uint8_t *rec, size_t len,
                                           const metrics_signal_row *st);
/* Every model's prediction in a record (the AI screen's breakdown of an older signal): ready[i]
 * and p[i] for the nmodels models of an engine of this build, K_MODEL_BAD_STATE otherwise. */
K_MUST_USE enum model_result engine_record_models(const uint8_t *rec, size_t len,
                                                  uint32_t nmodels, bool *ready,
                                                  double (*p)[MODEL_CLASSES]);

#endif
