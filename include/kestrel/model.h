/* The engine's model interface: every learner (rule-derived, logistic, MLP, and the deep and tree
 * models of the models issue) sits behind this one vtable, so the engine, ensemble, calibration
 * and metrics never know which model they talk to.
 *
 * Contract:
 * - Classes are SELL / HOLD / BUY (indices 0..2). predict() writes a probability per class that
 *   sums to 1, and optionally the probability that the model's argmax is right (a confidence
 *   head; < 0 when the model has none).
 * - Prequential: the engine calls predict() for a sample when the signal is made, and learn()
 *   with the realised label only after the horizon has passed on the data clock. A model never
 *   sees a label any other way.
 * - Inputs are float features, already online-normalised by the engine; missing[i] != 0 marks a
 *   feature the data cannot supply (the value is then 0 and must not be trusted). Sequence models
 *   read `window` (len rows of nfeat, oldest first, the last row is `x`).
 * - Deterministic for a seed: any randomness (init, dropout, shuffles) comes from the model's
 *   own PRNG seeded at creation, and that PRNG's state is part of the saved state.
 * - save() writes a self-describing, versioned blob (magic + version + sizes first); load()
 *   refuses a blob of another version or shape with K_MODEL_BAD_STATE and leaves the model as
 *   it was. After save+load the next predictions are bit-identical.
 * - learn() must be cheap on the main thread (online models: one SGD/AdaGrad step). Models whose
 *   training is heavy (LSTM/Transformer/CNN batches, XGBoost retrains) queue the sample and train
 *   on the learner thread: they set MODEL_F_OFFTHREAD and implement train() / swap().
 */
#ifndef KESTREL_MODEL_H
#define KESTREL_MODEL_H
#include "kestrel/common.h"

enum model_class { MODEL_SELL = 0, MODEL_HOLD = 1, MODEL_BUY = 2, MODEL_CLASSES = 3 };

enum model_result {
    K_MODEL_OK = 0,
    K_MODEL_NOT_READY,  /* too few samples to predict: the engine falls back */
    K_MODEL_BAD_INPUT,  /* wrong feature count, NaN, window too short */
    K_MODEL_BAD_STATE,  /* a saved blob of another version / shape / corrupt */
    K_MODEL_REFUSED,    /* e.g. a label offered before its horizon (prequential guard) */
    K_MODEL_NOMEM,
};
const char *model_strerror(enum model_result r);

typedef struct model_input {
    const float *x;          /* nfeat values: the newest row */
    const uint8_t *missing;  /* nfeat flags, or NULL when nothing is missing */
    const float *window;     /* len * nfeat, oldest first (x is the last row), or NULL */
    uint32_t window_len;
    uint32_t nfeat;
} model_input;

typedef struct model_output {
    double p[MODEL_CLASSES]; /* SELL, HOLD, BUY; sum 1 */
    double confidence;       /* P(argmax is right) from a confidence head, < 0 when none */
} model_output;

/* A byte buffer models serialise into (grown by the callee with xrealloc). */
typedef struct model_blob {
    uint8_t *data;
    size_t len, cap;
} model_blob;

/* Why a training of an off-thread model ran (its retrain record's trigger). */
enum model_trigger {
    MODEL_TRIGGER_NONE = 0,
    MODEL_TRIGGER_FIRST,    /* no live model yet, enough outcomes (XGBoost) */
    MODEL_TRIGGER_COUNT,    /* N new labelled samples (the networks' train_every, XGBoost's) */
    MODEL_TRIGGER_TIMER,    /* retrain_ms elapsed (XGBoost) */
    MODEL_TRIGGER_DEGRADED, /* rolling accuracy below validation accuracy - degrade (XGBoost) */
    MODEL_TRIGGER_MANUAL,   /* train() without a trigger */
};
/* "none" "first" "count" "timer" "degraded" "manual" */
const char *model_trigger_name(enum model_trigger t);

/* The result of one training of an off-thread model with its walk-forward gate, filled by the
 * model (XGBoost, the LSTM, Transformer and CNN alike) and kept, the last MODEL_RETRAIN_HISTORY,
 * for the runner to report, the app to store and the backtest to list. The candidate trains on
 * the older n_train samples only; log losses and accuracies are on the n_holdout newest ones,
 * which neither the candidate nor the live model trained on. Its layout is XGBoost's stored
 * retrain history (state version 1): do not reorder. */
typedef struct model_retrain {
    uint64_t seq;     /* per model: 1, 2, ... */
    int64_t at_ms;    /* the data clock when the training was started */
    enum model_trigger trigger;
    uint32_t n_train, n_holdout;
    double cand_logloss, cand_acc; /* the candidate on the held-out slice */
    double live_logloss, live_acc; /* the live model on it; NaN when there was none */
    double base_logloss;           /* XGBoost: the training part's class prior on the slice;
                                    * the networks: NaN (the runner's record puts the logistic
                                    * regression's rolling out-of-sample log loss there) */
    int accepted;     /* the candidate beat the live model there and went live */
    double train_ms;  /* wall time of the fit, NaN when not measured */
} model_retrain;
#define MODEL_RETRAIN_HISTORY 16

#define MODEL_F_SEQUENCE 1u  /* reads model_input.window */
#define MODEL_F_OFFTHREAD 2u /* heavy training runs on the learner thread via train()/swap() */

typedef struct model model;

typedef struct model_ops {
    const char *kind; /* "logreg", "mlp", "weights", "lstm", "transformer", "cnn", "xgboost" */
    unsigned flags;
    enum model_result (*predict)(model *m, const model_input *in, model_output *out);
    /* One labelled sample (label = model_class), weight >= 0. Online models update at once;
     * MODEL_F_OFFTHREAD models only record it for the next train(). */
    enum model_result (*learn)(model *m, const model_input *in, int label, double weight);
    /* Learner thread only (MODEL_F_OFFTHREAD): trains a candidate from the recorded samples.
     * Must not touch what predict() reads; swap() (main thread) makes the candidate live. */
    enum model_result (*train)(model *m);
    enum model_result (*swap)(model *m);
    enum model_result (*save)(const model *m, model_blob *out);
    enum model_result (*load)(model *m, const uint8_t *data, size_t len);
    uint64_t (*samples)(const model *m); /* labelled samples learned so far */
    void (*free)(model *m);
    /* MODEL_F_OFFTHREAD (optional): the retrain records, newest first, at most max (<=
     * MODEL_RETRAIN_HISTORY); returns how many. Main thread (what swap() took). */
    uint32_t (*retrains)(const model *m, model_retrain *out, uint32_t max);
} model_ops;

/* Every model struct begins with this header. */
struct model {
    const model_ops *ops;
    char name[32]; /* instance name shown on screen and in metrics ("logreg", "lstm32") */
    uint32_t nfeat;
};

static inline enum model_result model_predict(model *m, const model_input *in, model_output *o)
{
    return m->ops->predict(m, in, o);
}
static inline enum model_result model_learn(model *m, const model_input *in, int label, double w)
{
    return m->ops->learn(m, in, label, w);
}

/* m's retrain records, newest first (0 for a model without them). */
static inline uint32_t model_retrains(const model *m, model_retrain *out, uint32_t max)
{
    return m->ops->retrains ? m->ops->retrains(m, out, max) : 0;
}

void model_blob_put(model_blob *b, const void *data, size_t len);
void model_blob_free(model_blob *b);
/* Reads n bytes at *off of a blob being loaded: K_MODEL_OK and *off advanced, or
 * K_MODEL_BAD_STATE (nothing read) when fewer than n bytes remain. */
K_MUST_USE enum model_result model_blob_get(const uint8_t *data, size_t len, size_t *off,
                                            void *out, size_t n);

/* The models' deterministic PRNG (splitmix64): the state is one uint64_t the model owns and
 * saves. next() returns 64 random bits, uniform() a double in [0, 1). */
/* K_MODEL_OK when in has m's feature count and every value is finite or marked missing, else
 * K_MODEL_BAD_INPUT (the online models' check before predict and learn). */
K_MUST_USE enum model_result model_input_check(const model *m, const model_input *in);
uint64_t model_rng_next(uint64_t *state);
double model_rng_uniform(uint64_t *state);

#endif
