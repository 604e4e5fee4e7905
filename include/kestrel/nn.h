/* Shared machinery of the deep sequence models (LSTM, Transformer, 1-D CNN): a flat parameter
 * vector described by named tensors, the signal and confidence heads, the loss, Adam/AdaGrad,
 * gradient clipping, dropout, a PRNG, a bounded replay buffer of scored samples, and the
 * model.h vtable functions (predict/learn/train/swap/save/load) that every network shares.
 *
 * A network only supplies a "trunk": forward(window -> z) and backward(dz -> parameter
 * gradients). Dense algebra goes through OpenBLAS (cblas_sgemm / cblas_sgemv, one thread).
 *
 * Threads: predict/learn/swap/save/load run on the main thread and never block (they use
 * trylock); train() runs on the learner thread and works on a private candidate copy of the
 * parameters that swap() makes live. */
#ifndef KESTREL_NN_H
#define KESTREL_NN_H
#include "kestrel/deeplib.h"
#include "kestrel/model.h"

#include <pthread.h>
#include <stdatomic.h>

/* ---- PRNG: xoshiro256** seeded by splitmix64 (deterministic, state saved with the model) ---- */
typedef struct nn_rng {
    uint64_t s[4];
} nn_rng;
void nn_rng_seed(nn_rng *r, uint64_t seed);
uint64_t nn_rng_next(nn_rng *r);
double nn_rng_uniform(nn_rng *r); /* [0, 1) */
double nn_rng_normal(nn_rng *r);  /* N(0, 1) */

/* exp(x) for the networks' activations: Cody-Waite range reduction and a degree-6 polynomial,
 * within 2 ulp of expf over [-86, 88] (clamped outside), branch-free so the compiler vectorises
 * loops over it, and pure arithmetic, so the same on every run (glibc's tanhf costs ~30 ns). */
static inline float nn_expf(float x)
{
    x = x < -86.0f ? -86.0f : x; /* results stay normal: no slow denormals */
    x = x > 88.0f ? 88.0f : x;
    float n = (x * 1.44269504f + 12582912.0f) - 12582912.0f; /* round(x / ln 2) */
    float r = x - n * 0.693359375f + n * 2.12194440e-4f;
    float p = 1.0f + r * (1.0f + r * (0.5f + r * (1.66666672e-1f + r * (4.16666679e-2f +
                                                      r * (8.33333377e-3f + r * 1.38888892e-3f)))));
    union {
        uint32_t u;
        float f;
    } sc = {.u = (uint32_t)((int32_t)n + 127) << 23};
    return p * sc.f;
}
static inline float nn_sigmoidf(float x)
{
    return 1.0f / (1.0f + nn_expf(-x));
}
static inline float nn_tanhf(float x)
{
    return 2.0f / (1.0f + nn_expf(-2.0f * x)) - 1.0f;
}

/* In place over arrays (SSE2 four at a time where available, bit-identical to the scalar forms
 * above): x = sigmoid(x), y = tanh(x), x = exp(x). */
void nn_sigmoid_v(float *x, uint32_t n);
void nn_tanh_v(const float *x, float *y, uint32_t n);
void nn_exp_v(float *x, uint32_t n);

/* ---- hyper-parameters ---- */
enum nn_optim { NN_ADAM = 0, NN_ADAGRAD = 1 };

typedef struct nn_config {
    uint32_t window;      /* bars per sample (T), default 32 */
    uint32_t hidden;      /* LSTM hidden size / Transformer d_model / CNN channels, default 32 */
    uint32_t layers;      /* 1 or 2 (LSTM, Transformer), default 1 */
    uint32_t heads;       /* Transformer attention heads, default 4 */
    uint32_t bptt;        /* LSTM: steps back-propagated through time (<= window), default 32 */
    float dropout;        /* on the trunk output at training time, default 0.1 */
    float lr;             /* learning rate, default 0.002 */
    float clip;           /* global gradient L2 norm clip, default 1.0 (0 = off) */
    float conf_weight;    /* weight of the confidence head's loss, default 0.5 */
    enum nn_optim optim;  /* default NN_ADAM */
    uint32_t batch;       /* samples per step, default 16 */
    uint32_t steps;       /* steps per train() call, default 8 */
    uint32_t replay;      /* replay buffer capacity (samples), default 1024 */
    uint32_t replay_steps; /* bars the replay's step ring holds (0 = replay * window: every
                            * sample whole; the runner: replay + 4 * window, since the engine's
                            * consecutive windows overlap in all but one bar) */
    uint32_t min_samples; /* samples before train() runs, default 64 */
    float holdout;        /* walk-forward gate: share of the newest samples held out, 0.25 */
    float min_gain;       /* the candidate's held-out log loss must beat the live one by this */
    uint64_t seed;        /* init, dropout and replay sampling, default 1 */
} nn_config;
void nn_config_default(nn_config *c);
/* The shared fields in range: dropout in [0, 0.9], lr in (0, 1], clip >= 0, conf_weight in
 * [0, 10], optim known, batch and steps <= 4096, replay 1..1,000,000. */
bool nn_config_ok(const nn_config *c);

/* ---- parameter layout ---- */
#define NN_MAX_TENSORS 48
/* NN_INIT_FORGET: zeros except the second quarter of the columns (an LSTM's forget gate bias) */
enum nn_init { NN_INIT_UNIFORM = 0, NN_INIT_CONST = 1, NN_INIT_FORGET = 2 };

typedef struct nn_tensor {
    char name[16];
    uint32_t off, rows, cols;
    enum nn_init init;
    float value; /* uniform(-value, value), or the constant */
} nn_tensor;

typedef struct nn_arch nn_arch;
/* Trunk forward: window (T rows of F, oldest first) -> z (D floats). Writes whatever backward
 * needs into ws (ws_floats floats, one workspace per thread). */
typedef void (*nn_forward_fn)(const nn_arch *a, const float *p, const float *win, float *ws,
                              float *z);
/* Trunk backward after forward on the same ws: adds dL/dparams into g given dz = dL/dz. */
typedef void (*nn_backward_fn)(const nn_arch *a, const float *p, const float *win, float *ws,
                               const float *dz, float *g);

struct nn_arch {
    const char *kind;
    uint32_t T, F, D;
    uint32_t ntensors, nparams;
    nn_tensor t[NN_MAX_TENSORS];
    size_t ws_floats;
    nn_forward_fn forward;
    nn_backward_fn backward;
    uint32_t dim[8]; /* the network's own sizes (documented in its .c) */
    uint32_t head;   /* index of the first head tensor (added by nn_model_new) */
    deeplib_blas blas; /* OpenBLAS, opened by nn_model_new (deeplib.h) */
};

/* Appends a tensor; returns its index. */
uint32_t nn_arch_add(nn_arch *a, const char *name, uint32_t rows, uint32_t cols, enum nn_init init,
                     float value);
static inline float *nn_at(const nn_arch *a, float *p, uint32_t i)
{
    return p + a->t[i].off;
}
static inline const float *nn_cat(const nn_arch *a, const float *p, uint32_t i)
{
    return p + a->t[i].off;
}

/* ---- bounded replay buffer ----
 * The main thread pushes (never blocking: samples go to a small pending ring it owns, flushed
 * into the shared ring whenever the lock is free); the learner samples or snapshots under the
 * lock. Oldest samples are overwritten when full; a full pending ring drops (counted). */
typedef struct nn_replay {
    uint32_t cap, row;    /* samples, floats per sample */
    uint32_t step, rcap;  /* floats per time step (row: samples never share steps), ring size */
    float *x;             /* rcap steps (nn.c "replay": overlapping windows share their steps) */
    uint64_t *start;      /* per sample: the number of its first step */
    float *w;
    uint8_t *y;
    uint32_t head, count; /* under mu */
    uint64_t seq;         /* samples ever flushed (under mu) */
    uint64_t rseq;        /* steps ever stored (under mu) */
    pthread_mutex_t mu;
    uint32_t pcap, phead, pcount; /* main thread only */
    float *px, *pw;
    uint8_t *py;
    uint64_t dropped;
} nn_replay;
/* cap samples of row floats, each stored whole (no step sharing). */
void nn_replay_init(nn_replay *r, uint32_t cap, uint32_t row);
/* cap samples of row / step time steps in a ring of rcap steps (a sample repeating the newest
 * one's window shifted by one step stores one step; rcap >= cap * row / step never drops a
 * sample early). */
void nn_replay_init_steps(nn_replay *r, uint32_t cap, uint32_t row, uint32_t step, uint32_t rcap);
void nn_replay_destroy(nn_replay *r);
void nn_replay_push(nn_replay *r, const float *x, int y, float w); /* main thread */
/* Learner: k samples drawn uniformly with replacement; returns k, or 0 when fewer than `min`
 * samples are stored. */
uint32_t nn_replay_sample(nn_replay *r, nn_rng *rng, uint32_t k, uint32_t min, float *x,
                          uint8_t *y, float *w);
/* Learner, walk-forward: k samples drawn uniformly from those stored before sample number
 * `before` (a seq value), leaving out the `hold` newest of them (the held-out slice); returns
 * k, or 0 when none is left. */
uint32_t nn_replay_sample_before(nn_replay *r, nn_rng *rng, uint32_t k, uint64_t before,
                                 uint32_t hold, float *x, uint8_t *y, float *w);
/* Learner: up to k samples by number, from seq `from` on (those still stored); returns how
 * many were copied. */
uint32_t nn_replay_get(nn_replay *r, uint64_t from, uint32_t k, float *x, uint8_t *y, float *w);
/* Learner: the newest min(count, max) samples, oldest first; returns how many. `seq` gets the
 * number of samples ever stored (so a caller can tell new ones from seen ones). */
uint32_t nn_replay_snapshot(nn_replay *r, uint32_t max, float *x, uint8_t *y, float *w,
                            uint64_t *seq);

/* ---- the walk-forward gate ----
 * Each train() holds out the newest `holdout` share of the replay buffer (as it stood when the
 * training began), trains the candidate only on the older samples, then scores the candidate and
 * the live weights on the held-out slice (signal log loss and accuracy, no dropout). swap()
 * makes the candidate live only when its log loss beats the live one by `min_gain`; refused, the
 * live weights stay and the candidate keeps training from where it is. The held-out slice is
 * always newer than anything either set of weights was trained on. */
/* Its result is a model_retrain (model.h): seq numbered by swap(), trigger COUNT, at_ms the
 * data time nn_model_set_trigger() gave for it, n_train = the samples the candidate could draw
 * from, n_holdout = those held out, base_logloss NaN, train_ms NaN (the learner times it). */

/* ---- the generic model ---- */
typedef struct nn_model {
    model base;
    nn_config cfg;
    nn_arch *arch; /* owned */
    float *live;   /* read by predict (main thread) */
    float *cand;   /* trained by train() (learner), under cand_mu */
    float *m1, *m2, *grad;
    float *ws_main, *ws_learn, *z_main, *z_learn, *dz, *mask;
    float *bx, *bw; /* a batch copied out of the replay */
    uint8_t *by;
    uint64_t adam_t, steps_done;
    nn_rng rng; /* learner side: dropout and replay sampling */
    nn_replay replay;
    pthread_mutex_t cand_mu;
    atomic_int cand_fresh; /* candidate trained since the last swap */
    int ready;             /* live weights were trained at least once (main thread) */
    uint64_t learned;      /* samples offered to learn() (main thread) */
    double last_loss;      /* mean loss of the last train() step (learner) */
    /* copied under cand_mu by swap() (main thread): what save() writes and the screen shows,
     * so the main thread never reads what the learner is writing */
    nn_rng rng_live;
    uint64_t steps_live;
    double loss_live;
    /* the gate: `ref` is the learner's copy of the live weights and `gate` the last train()'s
     * result (both under cand_mu); hist[] what swap() took, newest first (main thread) */
    float *ref;
    model_retrain gate;                      /* under cand_mu */
    model_retrain hist[MODEL_RETRAIN_HISTORY]; /* newest first: what swap() took (main) */
    uint32_t nhist;
    int64_t req_ms;                          /* main: nn_model_set_trigger's data time */
    enum model_trigger req_trigger;
    /* load() while train() runs (main thread only): live weights and counters are restored at
     * once, the candidate when the running job comes back; its result is stale and swap()
     * drops it (K_MODEL_REFUSED) instead of applying it to the restored weights */
    int restore_pending;
    uint64_t stale_dropped;
} nn_model;

/* Builds the model around a network's arch (ownership of arch passes to the model): appends the
 * head tensors, allocates, initialises from cfg->seed. The ops table is the network's own (kind,
 * flags = MODEL_F_SEQUENCE | MODEL_F_OFFTHREAD, and the nn_model_* functions below). */
model *nn_model_new(const model_ops *ops, const char *name, uint32_t nfeat, const nn_config *cfg,
                    nn_arch *arch);

K_MUST_USE enum model_result nn_model_predict(model *m, const model_input *in, model_output *out);
K_MUST_USE enum model_result nn_model_learn(model *m, const model_input *in, int label,
                                           double weight);
K_MUST_USE enum model_result nn_model_train(model *m);
K_MUST_USE enum model_result nn_model_swap(model *m);
K_MUST_USE enum model_result nn_model_save(const model *m, model_blob *out);
K_MUST_USE enum model_result nn_model_load(model *m, const uint8_t *data, size_t len);
uint64_t nn_model_samples(const model *m);
void nn_model_free(model *m);

/* The loss of one sample (window of T*F floats) under parameters p, without dropout, and, when
 * g is not NULL, its gradient added into g (nparams floats). For gradient checks and benches. */
double nn_model_loss_grad(nn_model *nm, const float *p, const float *win, int label, float *g);
/* The gate results swap() took, newest first (the ops' retrains). */
uint32_t nn_model_retrains(const model *m, model_retrain *out, uint32_t max);
/* Main thread, before a train() is started: its trigger and data time, for its record. */
void nn_model_set_trigger(model *m, enum model_trigger t, int64_t now_ms);
/* Samples currently held by the replay buffer (approximate while the learner runs). */
uint32_t nn_model_replay_count(nn_model *nm);

#endif
