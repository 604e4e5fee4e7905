/* Bounded trade tape: a ring of the most recent trades of one symbol. */
#ifndef KESTREL_TAPE_H
#define KESTREL_TAPE_H
#include "kestrel/common.h"

typedef struct tape_trade {
    int64_t time_ms;
    kdec px, qty;
    bool buyer_maker; /* true: the seller was the aggressor (a "sell" print) */
} tape_trade;

typedef struct tape tape;

tape *tape_new(uint32_t cap);
void tape_free(tape *t);
void tape_push(tape *t, const tape_trade *tr);
uint32_t tape_count(const tape *t); /* <= cap */
/* i = 0 is the newest trade; NULL when i >= count */
const tape_trade *tape_get(const tape *t, uint32_t i);
/* Bytes a tape of this cap holds (the ring is allocated whole at tape_new): the memory budget's
 * figure (market_limits_check), from the real struct sizes. */
size_t tape_memory_max(uint32_t cap);

#endif
