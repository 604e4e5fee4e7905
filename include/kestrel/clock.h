/* Market time: one clock interface, two implementations.
 *
 * - simulated (replay, backtest): time is what the data says. It moves only when the ingest
 *   pipeline advances it (kclock_advance), never backwards, and fires every due timer in time
 *   order, each seeing kclock_now_ms() equal to its own due time. A replay at --speed 0, 1 or 8
 *   therefore runs exactly the same timers at the same market times.
 * - wall (live): now is the UTC wall clock; timers are loop timers, so they fire while the feed
 *   is silent.
 *
 * Every timer that belongs to the market runs on this clock: bar closes, the engine's signal
 * interval, outcome horizons, risk day boundaries, the paper broker's latency. Only the UI,
 * network keepalives and I/O use the loop's own (monotonic) timers.
 *
 * Timers are one-shot, keyed by an id > 0, at an absolute time in UTC ms on the clock. The heap
 * is bounded by the caller's use (a handful per symbol); cancel is O(log n). */
#ifndef KESTREL_CLOCK_H
#define KESTREL_CLOCK_H
#include "kestrel/common.h"

struct loop;

enum kclock_kind { KCLOCK_SIMULATED = 0, KCLOCK_WALL };

typedef struct kclock kclock;
typedef void (*kclock_fn)(kclock *c, uint64_t id, int64_t due_ms, void *ud);

/* A simulated clock starts at 0 ("no data yet"). A wall clock needs the loop its timers run
 * on. */
kclock *kclock_new_simulated(void);
kclock *kclock_new_wall(struct loop *l);
void kclock_free(kclock *c);
enum kclock_kind kclock_kind(const kclock *c);

/* UTC ms. Simulated: the newest advanced time (0 before any data). */
int64_t kclock_now_ms(const kclock *c);

/* Simulated: moves time forward to now_ms (earlier values are ignored) and fires every timer
 * due at or before it, in (due, id) order; timers added by a callback for a time <= now_ms fire
 * in the same call. Wall: fires due timers early if the loop has not yet (harmless); returns the
 * number fired. */
int kclock_advance(kclock *c, int64_t now_ms);

/* One-shot timer at due_ms (UTC ms on this clock). A due time already passed fires at the next
 * advance (simulated) or the next loop iteration (wall). Returns an id > 0. */
uint64_t kclock_timer_at(kclock *c, int64_t due_ms, kclock_fn fn, void *ud);
/* Same, relative to now. */
uint64_t kclock_timer_after(kclock *c, int64_t delay_ms, kclock_fn fn, void *ud);
/* K_OK when the timer was pending, K_ERR when it had fired or never existed. */
int kclock_timer_cancel(kclock *c, uint64_t id);
size_t kclock_timer_count(const kclock *c);
/* Earliest pending due time, or INT64_MAX when none. */
int64_t kclock_next_due(const kclock *c);

#endif
