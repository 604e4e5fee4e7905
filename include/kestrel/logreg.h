/* Multinomial logistic regression (SELL / HOLD / BUY) trained online with AdaGrad and L2, behind
 * model.h. One sample = one AdaGrad step on the softmax cross-entropy plus lambda/2 * the sum of
 * w^2 over the features present (non-zero) in the sample: the usual lazy L2 of sparse online
 * learning, so a missing feature (entering as 0) neither moves nor decays its weights. Bias not
 * penalised. Deterministic: weights start at zero. */
#ifndef KESTREL_LOGREG_H
#define KESTREL_LOGREG_H
#include "kestrel/model.h"

typedef struct logreg_config {
    double lr;            /* AdaGrad base step (0.1) */
    double l2;            /* L2 strength lambda (1e-4) */
    uint32_t min_samples; /* predict() says K_MODEL_NOT_READY below this (30) */
} logreg_config;

void logreg_config_default(logreg_config *c);
/* name: the instance name (<= 31 chars); cfg NULL = defaults. */
model *logreg_new(const char *name, uint32_t nfeat, const logreg_config *cfg);

/* For tests (numerical gradient checks): the per-sample objective (cross-entropy + L2) and its
 * gradient, (nfeat+1)*3 doubles laid out as class-major [k][j], j = nfeat is the bias. */
double logreg_loss(const model *m, const model_input *in, int label);
void logreg_grad(const model *m, const model_input *in, int label, double *grad);
/* The features that moved class cls for this input: contribution_j = (w[cls][j] - mean_k
 * w[k][j]) * x_j (its push on cls's logit against the others'), the `max` largest |contribution|
 * first, into idx/contrib; returns how many (missing and zero inputs are skipped). */
uint32_t logreg_explain(const model *m, const model_input *in, int cls, uint32_t *idx,
                        double *contrib, uint32_t max);
/* Weights in the same layout (read/write, for tests). */
double *logreg_weights(model *m);

#endif
