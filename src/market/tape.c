/* Trade tape: a fixed ring of the most recent trades of one symbol.
 *
 * Allocated once at its cap (cap * 32 bytes; 512 trades = 16 KB) and never again: a push is a
 * copy and an index increment, the oldest trade is overwritten. Readers index from the newest,
 * which is what a time-and-sales pane draws first. */
#include "kestrel/tape.h"

#include "kestrel/xmalloc.h"

#include <stdlib.h>

struct tape {
    tape_trade *ring;
    uint32_t cap;
    uint32_t head;  /* next slot to write */
    uint32_t count; /* <= cap */
};

tape *tape_new(uint32_t cap)
{
    if (cap == 0)
        cap = 1;
    tape *t = xcalloc(1, sizeof *t);
    t->ring = xcalloc(cap, sizeof *t->ring);
    t->cap = cap;
    return t;
}

void tape_free(tape *t)
{
    if (!t)
        return;
    free(t->ring);
    free(t);
}

void tape_push(tape *t, const tape_trade *tr)
{
    t->ring[t->head] = *tr;
    t->head = t->head + 1 == t->cap ? 0 : t->head + 1;
    if (t->count < t->cap)
        t->count++;
}

size_t tape_memory_max(uint32_t cap)
{
    return sizeof(struct tape) + (size_t)(cap ? cap : 1) * sizeof(tape_trade);
}

uint32_t tape_count(const tape *t)
{
    return t->count;
}

const tape_trade *tape_get(const tape *t, uint32_t i)
{
    if (i >= t->count)
        return NULL;
    /* newest is at head-1 */
    uint32_t idx = t->head >= i + 1 ? t->head - i - 1 : t->cap - (i + 1 - t->head);
    return &t->ring[idx];
}
