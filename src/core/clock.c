/* Market clocks (see clock.h): a min-heap of one-shot timers keyed by (due, id), shared by the
 * simulated and the wall implementation. The simulated clock's time is set by the data; the wall
 * clock reads the UTC clock and keeps one loop timer armed for its earliest due timer.
 *
 * Firing order is (due, id): two timers due at the same market time fire in the order they were
 * added, on every speed and every run, which is what makes a replay deterministic. A callback
 * may add or cancel timers; the heap is re-read after each one. Cancelled timers leave the heap
 * at once (found by a scan: the market arms a handful of timers per symbol), so a long run that
 * arms and cancels timers does not grow. */
#include "kestrel/clock.h"

#include "kestrel/loop.h"
#include "kestrel/xmalloc.h"

#include <stdlib.h>
#include <string.h>

typedef struct kclock_timer {
    int64_t due;
    uint64_t id;
    kclock_fn fn;
    void *ud;
} kclock_timer;

struct kclock {
    enum kclock_kind kind;
    int64_t now; /* simulated */
    kclock_timer *heap;
    size_t n, cap;
    uint64_t next_id;
    struct loop *loop;
    uint64_t loop_timer; /* wall: the armed loop timer, 0 = none */
    int64_t loop_due;    /* its due time on the clock */
    bool firing;
};

static bool kclock_before(const kclock_timer *a, const kclock_timer *b)
{
    return a->due < b->due || (a->due == b->due && a->id < b->id);
}

static void kclock_swap(kclock *c, size_t i, size_t j)
{
    kclock_timer t = c->heap[i];
    c->heap[i] = c->heap[j];
    c->heap[j] = t;
}

static void kclock_up(kclock *c, size_t i)
{
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!kclock_before(&c->heap[i], &c->heap[p]))
            break;
        kclock_swap(c, i, p);
        i = p;
    }
}

static void kclock_down(kclock *c, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < c->n && kclock_before(&c->heap[l], &c->heap[m]))
            m = l;
        if (r < c->n && kclock_before(&c->heap[r], &c->heap[m]))
            m = r;
        if (m == i)
            return;
        kclock_swap(c, i, m);
        i = m;
    }
}

static void kclock_remove_at(kclock *c, size_t i)
{
    c->n--;
    if (i == c->n)
        return;
    c->heap[i] = c->heap[c->n];
    kclock_up(c, i);
    kclock_down(c, i);
}

static kclock *kclock_alloc(enum kclock_kind kind)
{
    kclock *c = xcalloc(1, sizeof *c);
    c->kind = kind;
    c->next_id = 1;
    return c;
}

kclock *kclock_new_simulated(void)
{
    return kclock_alloc(KCLOCK_SIMULATED);
}

kclock *kclock_new_wall(struct loop *l)
{
    kclock *c = kclock_alloc(KCLOCK_WALL);
    c->loop = l;
    return c;
}

void kclock_free(kclock *c)
{
    if (!c)
        return;
    if (c->loop && c->loop_timer)
        loop_timer_cancel(c->loop, c->loop_timer);
    free(c->heap);
    free(c);
}

enum kclock_kind kclock_kind(const kclock *c)
{
    return c->kind;
}

int64_t kclock_now_ms(const kclock *c)
{
    return c->kind == KCLOCK_WALL ? loop_wall_ms() : c->now;
}

static void kclock_arm(kclock *c);

static void kclock_loop_cb(loop *l, uint64_t id, void *ud)
{
    (void)l;
    (void)id;
    kclock *c = ud;
    c->loop_timer = 0;
    kclock_advance(c, loop_wall_ms());
}

/* Wall: keeps one loop timer armed for the earliest due timer. */
static void kclock_arm(kclock *c)
{
    if (c->kind != KCLOCK_WALL || !c->loop || c->firing)
        return;
    int64_t due = c->n ? c->heap[0].due : INT64_MAX;
    if (c->loop_timer && due == c->loop_due)
        return;
    if (c->loop_timer) {
        loop_timer_cancel(c->loop, c->loop_timer);
        c->loop_timer = 0;
    }
    if (due == INT64_MAX)
        return;
    int64_t delay = due - loop_wall_ms();
    c->loop_timer = loop_timer_add(c->loop, delay < 0 ? 0 : delay, kclock_loop_cb, c);
    c->loop_due = due;
}

int kclock_advance(kclock *c, int64_t now_ms)
{
    bool sim = c->kind == KCLOCK_SIMULATED;
    int64_t limit = sim ? (now_ms > c->now ? now_ms : c->now) : now_ms;
    int fired = 0;
    bool was_firing = c->firing;
    c->firing = true;
    while (c->n > 0 && c->heap[0].due <= limit) {
        kclock_timer t = c->heap[0];
        kclock_remove_at(c, 0);
        if (sim && t.due > c->now)
            c->now = t.due; /* the callback sees the market time it was due at */
        t.fn(c, t.id, t.due, t.ud);
        fired++;
    }
    if (sim)
        c->now = limit;
    c->firing = was_firing;
    kclock_arm(c);
    return fired;
}

uint64_t kclock_timer_at(kclock *c, int64_t due_ms, kclock_fn fn, void *ud)
{
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 16;
        c->heap = xrealloc(c->heap, c->cap * sizeof *c->heap);
    }
    uint64_t id = c->next_id++;
    c->heap[c->n] = (kclock_timer){.due = due_ms, .id = id, .fn = fn, .ud = ud};
    kclock_up(c, c->n++);
    kclock_arm(c);
    return id;
}

uint64_t kclock_timer_after(kclock *c, int64_t delay_ms, kclock_fn fn, void *ud)
{
    int64_t now = kclock_now_ms(c);
    int64_t due = delay_ms > INT64_MAX - now ? INT64_MAX : now + (delay_ms < 0 ? 0 : delay_ms);
    return kclock_timer_at(c, due, fn, ud);
}

int kclock_timer_cancel(kclock *c, uint64_t id)
{
    for (size_t i = 0; i < c->n; i++) { /* a handful of timers per symbol: a scan is enough */
        if (c->heap[i].id == id) {
            kclock_remove_at(c, i);
            kclock_arm(c);
            return K_OK;
        }
    }
    return K_ERR;
}

size_t kclock_timer_count(const kclock *c)
{
    return c->n;
}

int64_t kclock_next_due(const kclock *c)
{
    return c->n ? c->heap[0].due : INT64_MAX;
}
