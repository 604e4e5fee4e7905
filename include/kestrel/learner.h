/* The learner thread: runs train() of MODEL_F_OFFTHREAD models (deep-network batches, XGBoost
 * retrains) off the main thread. The main thread submits a model (never blocking: a bounded set
 * of job slots; a full set drops the submission and counts it), polls learner_fd() in its loop,
 * and on readability calls learner_collect() and then the model's swap() (main thread) to make
 * a trained candidate live. One job per model at a time (a second submission is BUSY). */
#ifndef KESTREL_LEARNER_H
#define KESTREL_LEARNER_H
#include "kestrel/model.h"

enum learner_result {
    K_LEARNER_OK = 0,
    K_LEARNER_FULL,      /* every job slot is taken: dropped (counted) */
    K_LEARNER_BUSY,      /* this model is already queued, training, or waiting to be collected */
    K_LEARNER_BAD_INPUT, /* NULL, or a model without MODEL_F_OFFTHREAD / train() */
    K_LEARNER_SYS,       /* thread or eventfd creation failed */
};
const char *learner_strerror(enum learner_result r);

typedef struct learner learner;

typedef struct learner_done {
    model *m;
    uint64_t tag;            /* the caller's, from learner_submit() */
    enum model_result rc;    /* train()'s result */
    uint64_t train_ns;       /* wall time train() took */
} learner_done;

typedef struct learner_stats {
    uint64_t submitted, dropped, busy, done;
    uint32_t slots, used; /* job slots, and how many are taken (queued + running + uncollected) */
} learner_stats;

/* Starts the thread with `slots` job slots (1..256). NULL and err set on failure. */
learner *learner_new(uint32_t slots, char *err, size_t errlen);
/* Stops the thread after the job it is running (if any) and frees; uncollected results go. */
void learner_free(learner *l);
/* Readable when results are waiting (an eventfd). */
int learner_fd(const learner *l);
K_MUST_USE enum learner_result learner_submit(learner *l, model *m, uint64_t tag);
/* Finished jobs, oldest first, at most max; frees their slots. Never blocks. */
size_t learner_collect(learner *l, learner_done *out, size_t max);
void learner_stats_get(learner *l, learner_stats *s);

#endif
