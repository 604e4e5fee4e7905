/* 1-D CNN sequence model: two convolutions along time over the feature channels (kernel 3,
 * cfg->hidden channels each, ReLU), max-pooling by 2 between them, global average pooling, and
 * the shared signal and confidence heads: local patterns of a few bars, as traders read candles.
 * Trains off the main thread (MODEL_F_OFFTHREAD). */
#ifndef KESTREL_CNN_H
#define KESTREL_CNN_H
#include "kestrel/nn.h"

/* NULL when cfg is out of range (nn_config_ok(), window < 8, hidden 0 or > 512, nfeat 0). */
model *cnn_new(const char *name, uint32_t nfeat, const nn_config *cfg);

#endif
