/* LSTM sequence model: 1 or 2 stacked LSTM layers over the last `window` bars of features
 * (hidden size cfg->hidden, default 32), the shared signal and confidence heads on the last hidden
 * state, truncated BPTT (cfg->bptt steps), dropout on the last hidden state, gradient clipping,
 * Adam/AdaGrad on a bounded replay buffer. Trains off the main thread (MODEL_F_OFFTHREAD). */
#ifndef KESTREL_LSTM_H
#define KESTREL_LSTM_H
#include "kestrel/nn.h"

/* NULL when cfg is out of range (nn_config_ok(), window < 2, hidden 0 or > 512, layers not 1-2,
 * nfeat 0). */
model *lstm_new(const char *name, uint32_t nfeat, const nn_config *cfg);

#endif
