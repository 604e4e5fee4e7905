/* The main event loop: one poll() per iteration over the fd watchers, a binary min-heap of
 * one-shot timers, signals through a signalfd, and a before-sleep hook (after redis ae.c).
 *
 * Shape and why:
 * - Watchers live in a table indexed by fd (O(1) lookup) and the fds being watched are also kept
 *   densely in the pollfd array handed to poll() (O(1) add/remove by swapping with the last).
 *   After poll() the ready entries are copied into a separate "fired" array and dispatched from
 *   there, so callbacks may add, change or remove any watcher (the fd being dispatched included)
 *   without disturbing the iteration. Each registration carries a serial number: an event is only
 *   delivered if the fd is still watched by the same registration (an fd closed and reused inside
 *   a callback does not receive the old fd's events), and only for the events still wanted.
 * - Timers sit in slots (a slab with a free list) and the heap holds slot numbers ordered by
 *   (due ms, sequence), so equal deadlines fire in insertion order. A slot knows its heap index,
 *   so cancel removes the entry at once: memory is bounded by the timers alive, never by the
 *   timers ever cancelled. Ids are (generation << 32 | slot + 1): a stale id never cancels the
 *   slot's next tenant.
 * - The timer phase only runs timers created before it started (sequence below the mark taken at
 *   its start), so a timer that re-arms itself with delay 0 runs once per iteration and cannot
 *   starve the fds.
 * - Signals are blocked with pthread_sigmask and read from a signalfd watched like any fd: no
 *   handler, no global self-pipe. The mask must be set before other threads start so they
 *   inherit it (otherwise the kernel may deliver the signal to a thread that has it unblocked).
 * - loop_stop() ends loop_run() after the current iteration has finished (all its fd events and
 *   due timers are still dispatched); a stop requested before loop_run() makes it return at once.
 *   loop_once() ignores the flag.
 * - All state is in the loop struct; the only process-wide effects are the signal mask and
 *   SIGPIPE's disposition (SIG_IGN), both set by loop_signals(). */
#include "kestrel/loop.h"

#include "kestrel/xmalloc.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#define LOOP_FD_LIMIT (1 << 24) /* sanity cap on the fd table's size */
#define LOOP_SIGINFO_BATCH 8

typedef struct loop_watcher {
    loop_fd_fn fn;
    void *ud;
    unsigned events; /* 0 = not watched */
    int pidx;        /* index in pfds, -1 when not watched */
    uint64_t serial; /* registration number (changes on each new registration) */
} loop_watcher;

typedef struct loop_fired {
    int fd;
    short revents;
    uint64_t serial;
} loop_fired;

typedef struct loop_timer {
    int64_t due_ms;
    uint64_t seq;
    loop_timer_fn fn;
    void *ud;
    uint32_t gen;
    int32_t hidx; /* index in heap, -1 when the slot is free */
    uint32_t next_free;
} loop_timer;

#define LOOP_NO_SLOT UINT32_MAX

struct loop {
    /* fd watchers */
    loop_watcher *w; /* indexed by fd */
    int wcap;
    struct pollfd *pfds;
    loop_fired *fired;
    int npfds, pcap;
    uint64_t next_serial;

    /* timers */
    loop_timer *slots;
    uint32_t nslots, slot_cap, free_head;
    uint32_t *heap; /* slot numbers */
    uint32_t nheap;
    uint64_t next_seq;

    /* signals */
    int sigfd;
    sigset_t sigmask;
    loop_signal_fn sig_fn;
    void *sig_ud;

    loop_before_sleep_fn bs_fn;
    void *bs_ud;

    bool stop;
};

/* ---- clocks ---- */

static int64_t loop_clock_ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int64_t loop_mono_ns(void) { return loop_clock_ns(CLOCK_MONOTONIC); }
int64_t loop_mono_ms(void) { return loop_clock_ns(CLOCK_MONOTONIC) / 1000000LL; }
int64_t loop_wall_ms(void) { return loop_clock_ns(CLOCK_REALTIME) / 1000000LL; }

/* ---- life ---- */

loop *loop_new(void)
{
    loop *l = xcalloc(1, sizeof *l);
    l->free_head = LOOP_NO_SLOT;
    l->next_serial = 1;
    l->next_seq = 1;
    l->sigfd = -1;
    sigemptyset(&l->sigmask);
    return l;
}

void loop_free(loop *l)
{
    if (!l)
        return;
    if (l->sigfd >= 0)
        close(l->sigfd); /* the signals stay blocked: unblocking would deliver pending ones */
    free(l->w);
    free(l->pfds);
    free(l->fired);
    free(l->slots);
    free(l->heap);
    free(l);
}

/* ---- fd watchers ---- */

static short loop_poll_events(unsigned events)
{
    short e = 0;
    if (events & LOOP_READ)
        e |= POLLIN;
    if (events & LOOP_WRITE)
        e |= POLLOUT;
    return e;
}

int loop_watch(loop *l, int fd, unsigned events, loop_fd_fn fn, void *ud)
{
    events &= LOOP_READ | LOOP_WRITE;
    if (fd < 0 || fd >= LOOP_FD_LIMIT)
        return K_ERR;
    if (!events) {
        loop_unwatch(l, fd);
        return K_OK;
    }
    if (!fn)
        return K_ERR;
    if (fd >= l->wcap) {
        int ncap = l->wcap ? l->wcap : 64;
        while (ncap <= fd)
            ncap *= 2;
        l->w = xrealloc(l->w, (size_t)ncap * sizeof *l->w);
        for (int i = l->wcap; i < ncap; i++)
            l->w[i] = (loop_watcher){.pidx = -1};
        l->wcap = ncap;
    }
    loop_watcher *w = &l->w[fd];
    if (!w->events) {
        if (l->npfds == l->pcap) {
            int ncap = l->pcap ? l->pcap * 2 : 16;
            l->pfds = xrealloc(l->pfds, (size_t)ncap * sizeof *l->pfds);
            l->fired = xrealloc(l->fired, (size_t)ncap * sizeof *l->fired);
            l->pcap = ncap;
        }
        w->pidx = l->npfds++;
        w->serial = l->next_serial++;
        l->pfds[w->pidx] = (struct pollfd){.fd = fd};
    }
    w->events = events;
    w->fn = fn;
    w->ud = ud;
    l->pfds[w->pidx].events = loop_poll_events(events);
    return K_OK;
}

void loop_unwatch(loop *l, int fd)
{
    if (fd < 0 || fd >= l->wcap || !l->w[fd].events)
        return;
    loop_watcher *w = &l->w[fd];
    int last = --l->npfds;
    if (w->pidx != last) {
        l->pfds[w->pidx] = l->pfds[last];
        l->w[l->pfds[w->pidx].fd].pidx = w->pidx;
    }
    *w = (loop_watcher){.pidx = -1};
}

/* ---- timers: a binary min-heap of slot numbers keyed by (due_ms, seq) ---- */

static bool loop_timer_less(const loop *l, uint32_t a, uint32_t b)
{
    const loop_timer *ta = &l->slots[a], *tb = &l->slots[b];
    return ta->due_ms < tb->due_ms || (ta->due_ms == tb->due_ms && ta->seq < tb->seq);
}

static void loop_heap_set(loop *l, uint32_t i, uint32_t slot)
{
    l->heap[i] = slot;
    l->slots[slot].hidx = (int32_t)i;
}

static void loop_heap_up(loop *l, uint32_t i)
{
    uint32_t slot = l->heap[i];
    while (i > 0) {
        uint32_t parent = (i - 1) / 2;
        if (!loop_timer_less(l, slot, l->heap[parent]))
            break;
        loop_heap_set(l, i, l->heap[parent]);
        i = parent;
    }
    loop_heap_set(l, i, slot);
}

static void loop_heap_down(loop *l, uint32_t i)
{
    uint32_t slot = l->heap[i];
    for (;;) {
        uint32_t c = 2 * i + 1;
        if (c >= l->nheap)
            break;
        if (c + 1 < l->nheap && loop_timer_less(l, l->heap[c + 1], l->heap[c]))
            c++;
        if (!loop_timer_less(l, l->heap[c], slot))
            break;
        loop_heap_set(l, i, l->heap[c]);
        i = c;
    }
    loop_heap_set(l, i, slot);
}

/* Removes the heap entry at i and frees its slot. */
static void loop_timer_remove(loop *l, uint32_t i)
{
    uint32_t slot = l->heap[i];
    uint32_t last = --l->nheap;
    if (i != last) {
        loop_heap_set(l, i, l->heap[last]);
        if (i > 0 && loop_timer_less(l, l->heap[i], l->heap[(i - 1) / 2]))
            loop_heap_up(l, i);
        else
            loop_heap_down(l, i);
    }
    loop_timer *t = &l->slots[slot];
    t->hidx = -1;
    t->fn = NULL;
    t->ud = NULL;
    t->gen++;
    t->next_free = l->free_head;
    l->free_head = slot;
}

uint64_t loop_timer_add(loop *l, int64_t delay_ms, loop_timer_fn fn, void *ud)
{
    if (delay_ms < 0)
        delay_ms = 0;
    if (delay_ms > INT64_MAX / 4)
        delay_ms = INT64_MAX / 4;
    uint32_t slot;
    if (l->free_head != LOOP_NO_SLOT) {
        slot = l->free_head;
        l->free_head = l->slots[slot].next_free;
    } else {
        if (l->nslots == l->slot_cap) {
            uint32_t ncap = l->slot_cap ? l->slot_cap * 2 : 16;
            l->slots = xrealloc(l->slots, (size_t)ncap * sizeof *l->slots);
            l->heap = xrealloc(l->heap, (size_t)ncap * sizeof *l->heap);
            l->slot_cap = ncap;
        }
        slot = l->nslots++;
        l->slots[slot] = (loop_timer){.gen = 1, .hidx = -1};
    }
    loop_timer *t = &l->slots[slot];
    t->due_ms = loop_mono_ms() + delay_ms;
    t->seq = l->next_seq++;
    t->fn = fn;
    t->ud = ud;
    l->heap[l->nheap] = slot;
    t->hidx = (int32_t)l->nheap++;
    loop_heap_up(l, (uint32_t)t->hidx);
    return ((uint64_t)t->gen << 32) | ((uint64_t)slot + 1);
}

/* The pending timer named by id, or NULL (unknown, fired, cancelled, or slot reused). */
static loop_timer *loop_timer_find(const loop *l, uint64_t id)
{
    uint64_t s = id & 0xffffffffu;
    if (s == 0 || s > l->nslots)
        return NULL;
    loop_timer *t = &l->slots[s - 1];
    if (t->hidx < 0 || t->gen != (uint32_t)(id >> 32))
        return NULL;
    return t;
}

void loop_timer_cancel(loop *l, uint64_t id)
{
    loop_timer *t = loop_timer_find(l, id);
    if (t)
        loop_timer_remove(l, (uint32_t)t->hidx);
}

int64_t loop_timer_due(const loop *l, uint64_t id)
{
    const loop_timer *t = loop_timer_find(l, id);
    return t ? t->due_ms : -1;
}

size_t loop_timer_count(const loop *l) { return l->nheap; }

/* Runs the timers due now that existed when the phase began. */
static void loop_run_timers(loop *l)
{
    int64_t now = loop_mono_ms();
    uint64_t mark = l->next_seq;
    while (l->nheap > 0) {
        uint32_t slot = l->heap[0];
        loop_timer *t = &l->slots[slot];
        if (t->due_ms > now || t->seq >= mark)
            break;
        loop_timer_fn fn = t->fn;
        void *ud = t->ud;
        uint64_t id = ((uint64_t)t->gen << 32) | ((uint64_t)slot + 1);
        loop_timer_remove(l, 0); /* before the call: cancelling its own id is then a no-op */
        if (fn)
            fn(l, id, ud);
    }
}

/* ---- signals ---- */

static void loop_signal_read(loop *l, int fd, unsigned events, void *ud)
{
    (void)events;
    (void)ud;
    struct signalfd_siginfo si[LOOP_SIGINFO_BATCH];
    for (;;) {
        ssize_t n = read(fd, si, sizeof si);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < (ssize_t)sizeof si[0])
            return; /* EAGAIN: drained */
        for (size_t i = 0; i < (size_t)n / sizeof si[0]; i++)
            if (l->sig_fn)
                l->sig_fn(l, (int)si[i].ssi_signo, l->sig_ud);
        if ((size_t)n < sizeof si)
            return;
    }
}

int loop_signals(loop *l, const int *signos, int n, loop_signal_fn fn, void *ud)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_IGN;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGPIPE, &sa, NULL) != 0)
        return K_ERR;

    sigset_t add;
    sigemptyset(&add);
    for (int i = 0; i < n; i++)
        if (sigaddset(&add, signos[i]) != 0)
            return K_ERR;
    if (pthread_sigmask(SIG_BLOCK, &add, NULL) != 0)
        return K_ERR;
    for (int i = 0; i < n; i++)
        sigaddset(&l->sigmask, signos[i]);

    int fd = signalfd(l->sigfd, &l->sigmask, SFD_NONBLOCK | SFD_CLOEXEC);
    if (fd < 0)
        return K_ERR;
    l->sigfd = fd;
    l->sig_fn = fn;
    l->sig_ud = ud;
    if (loop_watch(l, fd, LOOP_READ, loop_signal_read, NULL) != K_OK)
        return K_ERR;
    return K_OK;
}

/* ---- iteration ---- */

void loop_set_before_sleep(loop *l, loop_before_sleep_fn fn, void *ud)
{
    l->bs_fn = fn;
    l->bs_ud = ud;
}

/* min of two timeouts where negative means "no limit" */
static int loop_min_timeout(int a, int b)
{
    if (a < 0)
        return b;
    if (b < 0)
        return a;
    return a < b ? a : b;
}

int loop_once(loop *l, int timeout_ms)
{
    int timeout = timeout_ms < 0 ? -1 : timeout_ms;
    if (l->bs_fn)
        timeout = loop_min_timeout(timeout, l->bs_fn(l, l->bs_ud));
    if (l->nheap > 0) {
        int64_t wait = l->slots[l->heap[0]].due_ms - loop_mono_ms();
        if (wait < 0)
            wait = 0;
        if (wait > INT_MAX)
            wait = INT_MAX;
        timeout = loop_min_timeout(timeout, (int)wait);
    }

    int n = poll(l->pfds, (nfds_t)l->npfds, timeout);
    if (n < 0) {
        if (errno != EINTR)
            return K_ERR;
        n = 0;
    }

    /* Snapshot the ready fds, then dispatch: callbacks may change the watcher set freely. */
    int nf = 0;
    for (int i = 0; i < l->npfds && nf < n; i++) {
        struct pollfd *p = &l->pfds[i];
        if (!p->revents)
            continue;
        l->fired[nf++] = (loop_fired){p->fd, p->revents, l->w[p->fd].serial};
        p->revents = 0;
    }
    for (int i = 0; i < nf; i++) {
        loop_fired f = l->fired[i];
        if (f.fd >= l->wcap)
            continue;
        loop_watcher *w = &l->w[f.fd];
        if (!w->events || w->serial != f.serial)
            continue; /* removed (or replaced) by an earlier callback */
        unsigned ev = 0;
        if (f.revents & (POLLIN | POLLPRI))
            ev |= LOOP_READ;
        if (f.revents & POLLOUT)
            ev |= LOOP_WRITE;
        if (f.revents & (POLLERR | POLLHUP | POLLNVAL))
            ev |= LOOP_READ | LOOP_WRITE; /* let the owner's read/write see the error */
        ev &= w->events;
        if (ev)
            w->fn(l, f.fd, ev, w->ud);
        /* An fd closed without loop_unwatch() would make poll() report POLLNVAL forever and spin
         * the loop; drop such a watcher if its callback left it in place. */
        if ((f.revents & POLLNVAL) && f.fd < l->wcap && l->w[f.fd].events &&
            l->w[f.fd].serial == f.serial)
            loop_unwatch(l, f.fd);
    }

    loop_run_timers(l);
    return K_OK;
}

int loop_run(loop *l)
{
    while (!l->stop)
        if (loop_once(l, -1) != K_OK)
            return K_ERR;
    l->stop = false; /* consumed: a later loop_run() runs again */
    return K_OK;
}

void loop_stop(loop *l) { l->stop = true; }
