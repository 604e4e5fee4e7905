/* Transformer-encoder sequence model: a linear embedding of each bar's features plus sinusoidal
 * positions, 1-2 pre-LayerNorm encoder blocks (multi-head self-attention over the window, cfg->
 * heads heads, then a ReLU feed-forward of width 2 * d_model), a final LayerNorm of the newest
 * bar's vector, and the shared signal and confidence heads. d_model = cfg->hidden (divisible by
 * heads). Trains off the main thread (MODEL_F_OFFTHREAD). */
#ifndef KESTREL_TRANSFORMER_H
#define KESTREL_TRANSFORMER_H
#include "kestrel/nn.h"

/* NULL when cfg is out of range (nn_config_ok(), window < 2, hidden 0 / > 256 / not a multiple
 * of heads, heads 0 or > 16, layers not 1-2, nfeat 0). */
model *transformer_new(const char *name, uint32_t nfeat, const nn_config *cfg);

#endif
