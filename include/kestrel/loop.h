/* The main event loop (after redis ae.c / tmux proc_loop): poll() over fd watchers, a min-heap of
 * one-shot timers, signals delivered through a signalfd (a self-pipe with no global), and a
 * before-sleep hook where deferred work (drawing) happens once per iteration. */
#ifndef KESTREL_LOOP_H
#define KESTREL_LOOP_H
#include "kestrel/common.h"

#define LOOP_READ 1u
#define LOOP_WRITE 2u

typedef struct loop loop;
typedef void (*loop_fd_fn)(loop *l, int fd, unsigned events, void *ud);
typedef void (*loop_timer_fn)(loop *l, uint64_t id, void *ud);
typedef void (*loop_signal_fn)(loop *l, int signo, void *ud);
/* Returns the longest the loop may sleep next, in ms (-1 = no limit). */
typedef int (*loop_before_sleep_fn)(loop *l, void *ud);

loop *loop_new(void);
void loop_free(loop *l);

/* Adds or changes the watcher for fd (events = LOOP_READ|LOOP_WRITE; 0 removes). */
int loop_watch(loop *l, int fd, unsigned events, loop_fd_fn fn, void *ud);
void loop_unwatch(loop *l, int fd);

/* One-shot timer after delay_ms (0 = next iteration). Returns an id > 0. */
uint64_t loop_timer_add(loop *l, int64_t delay_ms, loop_timer_fn fn, void *ud);
void loop_timer_cancel(loop *l, uint64_t id);
/* Due time of a pending timer on the loop_mono_ms() clock, or -1 if id is not pending. */
int64_t loop_timer_due(const loop *l, uint64_t id);
/* Number of pending timers. */
size_t loop_timer_count(const loop *l);

/* Blocks the given signals in the calling thread (call before any thread starts, so threads
 * inherit the mask) and delivers them through a signalfd watched by the loop. SIGPIPE is
 * ignored. */
int loop_signals(loop *l, const int *signos, int n, loop_signal_fn fn, void *ud);

void loop_set_before_sleep(loop *l, loop_before_sleep_fn fn, void *ud);

/* Runs until loop_stop(). K_OK, or K_ERR on a poll() failure other than EINTR. */
int loop_run(loop *l);
/* Runs one iteration, sleeping at most timeout_ms (for tests). */
int loop_once(loop *l, int timeout_ms);
void loop_stop(loop *l);

/* Monotonic clock in ms / ns, read fresh. */
int64_t loop_mono_ms(void);
int64_t loop_mono_ns(void);
/* Wall clock (UTC) in ms. */
int64_t loop_wall_ms(void);

#endif
