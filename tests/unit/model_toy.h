/* Synthetic toy problems for the engine's model-mechanics tests (the only place synthetic data
 * is allowed): three linearly separable classes along feature 0, plus noise features. */
#ifndef KESTREL_MODEL_TOY_H
#define KESTREL_MODEL_TOY_H
#include "kestrel/model.h"

/* Fills x[nfeat] and returns the label: x0 in [0.6,1] BUY, [-1,-0.6] SELL, [-0.2,0.2] HOLD. */
static inline int toy_sample(uint64_t *rng, float *x, uint32_t nfeat)
{
    int label = (int)(model_rng_next(rng) % 3);
    double u = model_rng_uniform(rng);
    x[0] = (float)(label == MODEL_BUY ? 0.6 + 0.4 * u : label == MODEL_SELL ? -0.6 - 0.4 * u
                                                                           : -0.2 + 0.4 * u);
    for (uint32_t j = 1; j < nfeat; j++)
        x[j] = (float)(2.0 * model_rng_uniform(rng) - 1.0);
    return label;
}

static inline int toy_argmax(const double *p)
{
    int k = 0;
    for (int i = 1; i < MODEL_CLASSES; i++)
        if (p[i] > p[k])
            k = i;
    return k;
}
#endif
