/* A small multilayer perceptron (one or two tanh hidden layers, softmax over SELL / HOLD / BUY)
 * trained online, one AdaGrad step per labelled sample, with L2. Xavier-uniform initialisation
 * from the model's own seeded PRNG, so two instances with the same seed are identical. */
#ifndef KESTREL_MLP_H
#define KESTREL_MLP_H
#include "kestrel/model.h"

typedef struct mlp_config {
    uint32_t hidden1;     /* units in the first hidden layer (16) */
    uint32_t hidden2;     /* units in the second, 0 = one hidden layer (0) */
    double lr;            /* AdaGrad base step (0.05) */
    double l2;            /* L2 on weights, not biases (1e-4) */
    uint64_t seed;        /* PRNG seed for the initialisation (1) */
    uint32_t min_samples; /* K_MODEL_NOT_READY below this (50) */
} mlp_config;

void mlp_config_default(mlp_config *c);
model *mlp_new(const char *name, uint32_t nfeat, const mlp_config *cfg);

/* For tests: the per-sample objective (cross-entropy + L2/2 * sum of w^2 over the weights whose
 * input is non-zero in this sample: missing features, which enter as 0, are neither moved nor
 * decayed), its gradient over every parameter, and the parameter vector (mlp_nparams() doubles,
 * read/write). */
double mlp_loss(const model *m, const model_input *in, int label);
void mlp_grad(const model *m, const model_input *in, int label, double *grad);
double *mlp_params(model *m);
size_t mlp_nparams(const model *m);

#endif
