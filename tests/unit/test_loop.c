/* Event loop: timer order (equal deadlines in insertion order), cancel, timers added from
 * callbacks, fd watchers on pipes, watcher changes during dispatch, before-sleep timeouts, signals
 * through the signalfd, and the timer heap against a sorted reference under 10k random ops. */
#include "check.h"
#include "kestrel/loop.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/time.h>
#include <unistd.h>

/* Runs iterations until *flag becomes true or about 5 s pass (a hang guard, not a timing test). */
static void run_until(loop *l, const bool *flag)
{
    int64_t end = loop_mono_ms() + 5000;
    while (!*flag && loop_mono_ms() < end)
        loop_once(l, 50);
}

/* ---- timer order ---- */

typedef struct order_rec {
    int log[64];
    int n;
    bool done;
    int expect;
} order_rec;

typedef struct order_tag {
    order_rec *r;
    int tag;
} order_tag;

static void order_fn(loop *l, uint64_t id, void *ud)
{
    (void)l;
    (void)id;
    order_tag *t = ud;
    if (t->r->n < 64)
        t->r->log[t->r->n++] = t->tag;
    if (t->r->n == t->r->expect)
        t->r->done = true;
}

static void test_timer_order(void)
{
    loop *l = loop_new();
    order_rec r = {.expect = 9};
    order_tag tags[9];
    for (int i = 0; i < 9; i++)
        tags[i] = (order_tag){&r, i};
    /* expected order: 0-delay first, then the three 10s in insertion order, then 20s, then 30 */
    loop_timer_add(l, 30, order_fn, &tags[8]);
    loop_timer_add(l, 10, order_fn, &tags[1]);
    loop_timer_add(l, 20, order_fn, &tags[4]);
    loop_timer_add(l, 10, order_fn, &tags[2]);
    loop_timer_add(l, 0, order_fn, &tags[0]);
    loop_timer_add(l, 20, order_fn, &tags[5]);
    loop_timer_add(l, 10, order_fn, &tags[3]);
    loop_timer_add(l, 20, order_fn, &tags[6]);
    loop_timer_add(l, 20, order_fn, &tags[7]);
    CHECK_INT(loop_timer_count(l), 9);
    run_until(l, &r.done);
    CHECK_INT(r.n, 9);
    for (int i = 0; i < 9; i++)
        CHECK_INT(r.log[i], i);
    CHECK_INT(loop_timer_count(l), 0);

    /* many equal deadlines: a long run of delay-0 timers fires strictly in insertion order */
    order_rec r2 = {.expect = 50};
    order_tag t2[50];
    for (int i = 0; i < 50; i++) {
        t2[i] = (order_tag){&r2, i};
        loop_timer_add(l, 0, order_fn, &t2[i]);
    }
    run_until(l, &r2.done);
    CHECK_INT(r2.n, 50);
    int inorder = 1;
    for (int i = 0; i < r2.n; i++)
        inorder &= r2.log[i] == i;
    CHECK(inorder);

    /* a timer fires no earlier than its delay */
    int64_t t0 = loop_mono_ns();
    order_rec r3 = {.expect = 1};
    order_tag t3 = {&r3, 0};
    loop_timer_add(l, 25, order_fn, &t3);
    run_until(l, &r3.done);
    CHECK(r3.done);
    CHECK(loop_mono_ns() - t0 >= 24 * 1000000LL);
    loop_free(l);
}

/* ---- cancel ---- */

typedef struct cancel_ctx {
    uint64_t victim;
    int fired_victim;
    int fired_other;
    bool done;
} cancel_ctx;

static void victim_fn(loop *l, uint64_t id, void *ud)
{
    (void)l;
    (void)id;
    ((cancel_ctx *)ud)->fired_victim++;
}

static void canceller_fn(loop *l, uint64_t id, void *ud)
{
    cancel_ctx *c = ud;
    c->fired_other++;
    loop_timer_cancel(l, c->victim); /* same deadline, due in this very phase */
    loop_timer_cancel(l, id);        /* itself: already fired, a no-op */
}

static void done_fn(loop *l, uint64_t id, void *ud)
{
    (void)l;
    (void)id;
    ((cancel_ctx *)ud)->done = true;
}

static void test_timer_cancel(void)
{
    loop *l = loop_new();
    cancel_ctx c = {0};
    uint64_t a = loop_timer_add(l, 5, victim_fn, &c);
    uint64_t b = loop_timer_add(l, 5, victim_fn, &c);
    uint64_t d = loop_timer_add(l, 5, victim_fn, &c);
    CHECK(a > 0 && b > 0 && d > 0 && a != b && b != d);
    CHECK(loop_timer_due(l, b) >= loop_mono_ms());
    loop_timer_cancel(l, b);
    CHECK_INT(loop_timer_due(l, b), -1);
    loop_timer_cancel(l, b); /* twice: no-op */
    loop_timer_cancel(l, 0); /* garbage ids: no-ops */
    loop_timer_cancel(l, 0xdeadbeefcafeULL);
    loop_timer_cancel(l, UINT64_MAX);
    CHECK_INT(loop_timer_count(l), 2);
    loop_timer_add(l, 20, done_fn, &c);
    run_until(l, &c.done);
    CHECK_INT(c.fired_victim, 2);

    /* a stale id does not cancel the slot's next tenant */
    c = (cancel_ctx){0};
    uint64_t old = loop_timer_add(l, 0, victim_fn, &c);
    loop_timer_cancel(l, old);
    uint64_t fresh = loop_timer_add(l, 0, victim_fn, &c);
    CHECK(fresh != old);
    loop_timer_cancel(l, old);
    CHECK(loop_timer_due(l, fresh) >= 0);
    loop_timer_add(l, 1, done_fn, &c);
    run_until(l, &c.done);
    CHECK_INT(c.fired_victim, 1);

    /* cancel from another timer's callback, both due in the same phase */
    c = (cancel_ctx){0};
    loop_timer_add(l, 3, canceller_fn, &c);
    c.victim = loop_timer_add(l, 3, victim_fn, &c);
    loop_timer_add(l, 10, done_fn, &c);
    run_until(l, &c.done);
    CHECK_INT(c.fired_other, 1);
    CHECK_INT(c.fired_victim, 0);

    /* bounded memory: add/cancel churn reuses slots (white box: the low 32 bits of an id are the
     * slot number + 1), and cancelled timers do not linger in the heap */
    uint64_t maxslot = 0;
    for (int i = 0; i < 200000; i++) {
        uint64_t id = loop_timer_add(l, 1000, victim_fn, &c);
        if ((id & 0xffffffffu) > maxslot)
            maxslot = id & 0xffffffffu;
        loop_timer_cancel(l, id);
    }
    CHECK(maxslot <= 16);
    CHECK_INT(loop_timer_count(l), 0);
    loop_free(l);
}

/* ---- timers added from callbacks ---- */

typedef struct rearm_ctx {
    int runs;
    int iter_of_run[8];
    int iter;
    int max_runs;
    int fd_reads;
    bool done;
} rearm_ctx;

static void rearm_fn(loop *l, uint64_t id, void *ud)
{
    (void)id;
    rearm_ctx *c = ud;
    if (c->runs < 8)
        c->iter_of_run[c->runs] = c->iter;
    c->runs++;
    if (c->max_runs == 0 || c->runs < c->max_runs)
        loop_timer_add(l, 0, rearm_fn, c);
}

static void pipe_read_count(loop *l, int fd, unsigned events, void *ud)
{
    (void)l;
    rearm_ctx *c = ud;
    char buf[64];
    if (events & LOOP_READ) {
        while (read(fd, buf, sizeof buf) > 0) {
        }
        c->fd_reads++;
    }
}

static void test_timer_in_callback(void)
{
    loop *l = loop_new();
    rearm_ctx c = {.max_runs = 4};
    loop_timer_add(l, 0, rearm_fn, &c);
    for (c.iter = 0; c.iter < 6; c.iter++)
        loop_once(l, 0);
    /* a delay-0 timer added inside a timer callback runs in the next iteration, not this one */
    CHECK_INT(c.runs, 4);
    for (int i = 0; i < 4; i++)
        CHECK_INT(c.iter_of_run[i], i);

    /* a timer that re-arms itself forever does not starve the fds */
    rearm_ctx f = {.max_runs = 0};
    int p[2];
    CHECK(pipe2(p, O_NONBLOCK | O_CLOEXEC) == 0);
    CHECK(loop_watch(l, p[0], LOOP_READ, pipe_read_count, &f) == K_OK);
    loop_timer_add(l, 0, rearm_fn, &f);
    for (f.iter = 0; f.iter < 3; f.iter++)
        loop_once(l, 0);
    CHECK(write(p[1], "x", 1) == 1);
    int before = f.runs;
    for (f.iter = 0; f.iter < 3 && f.fd_reads == 0; f.iter++)
        loop_once(l, 0);
    CHECK_INT(f.fd_reads, 1);
    CHECK(f.runs - before <= 3);
    loop_unwatch(l, p[0]);
    close(p[0]);
    close(p[1]);
    loop_free(l); /* frees the still pending re-armed timer */
}

/* ---- fd watchers ---- */

typedef struct pipe_ctx {
    int calls;
    unsigned last_events;
    int last_fd;
    char got[64];
    size_t ngot;
} pipe_ctx;

static void pipe_fn(loop *l, int fd, unsigned events, void *ud)
{
    (void)l;
    pipe_ctx *c = ud;
    c->calls++;
    c->last_events = events;
    c->last_fd = fd;
    if (events & LOOP_READ) {
        ssize_t n = read(fd, c->got + c->ngot, sizeof c->got - 1 - c->ngot);
        if (n > 0)
            c->ngot += (size_t)n;
        c->got[c->ngot] = 0;
    }
}

static void test_fd_pipe(void)
{
    loop *l = loop_new();
    int p[2];
    CHECK(pipe2(p, O_NONBLOCK | O_CLOEXEC) == 0);
    pipe_ctx rc = {0}, wc = {0};
    CHECK(loop_watch(l, p[0], LOOP_READ, pipe_fn, &rc) == K_OK);
    CHECK(loop_once(l, 0) == K_OK);
    CHECK_INT(rc.calls, 0); /* nothing to read */
    CHECK(write(p[1], "hello", 5) == 5);
    CHECK(loop_once(l, 1000) == K_OK);
    CHECK_INT(rc.calls, 1);
    CHECK_INT(rc.last_events, LOOP_READ);
    CHECK_INT(rc.last_fd, p[0]);
    CHECK_STR(rc.got, "hello");

    /* write readiness on the write end; then switch it off by changing the events */
    CHECK(loop_watch(l, p[1], LOOP_WRITE, pipe_fn, &wc) == K_OK);
    CHECK(loop_once(l, 1000) == K_OK);
    CHECK_INT(wc.calls, 1);
    CHECK_INT(wc.last_events, LOOP_WRITE);
    CHECK(loop_watch(l, p[1], 0, pipe_fn, &wc) == K_OK); /* events 0 removes */
    CHECK(loop_once(l, 0) == K_OK);
    CHECK_INT(wc.calls, 1);

    /* unwatch: data waits, no callback */
    loop_unwatch(l, p[0]);
    loop_unwatch(l, p[0]); /* twice: harmless */
    loop_unwatch(l, 9999); /* never watched */
    CHECK(write(p[1], "x", 1) == 1);
    CHECK(loop_once(l, 0) == K_OK);
    CHECK_INT(rc.calls, 1);

    /* hang-up: the writer closes; the reader sees LOOP_READ and reads EOF */
    CHECK(loop_watch(l, p[0], LOOP_READ, pipe_fn, &rc) == K_OK);
    close(p[1]);
    CHECK(loop_once(l, 1000) == K_OK);
    CHECK_INT(rc.calls, 2);
    CHECK(rc.last_events & LOOP_READ);
    CHECK_STR(rc.got, "hellox");

    /* bad arguments */
    CHECK(loop_watch(l, -1, LOOP_READ, pipe_fn, &rc) == K_ERR);
    CHECK(loop_watch(l, p[0], LOOP_READ, NULL, &rc) == K_ERR);

    /* an fd closed without unwatching (POLLNVAL) is dropped instead of spinning the loop */
    close(p[0]);
    int calls = rc.calls;
    for (int i = 0; i < 5; i++)
        CHECK(loop_once(l, 0) == K_OK);
    CHECK(rc.calls - calls <= 1);
    loop_free(l);
}

/* ---- watcher changes during dispatch ---- */

typedef struct rm_ctx {
    int a[2], b[2];
    int calls_a, calls_b, calls_new;
    int newp[2];
    bool reuse;
} rm_ctx;

static void new_fn(loop *l, int fd, unsigned events, void *ud)
{
    (void)l;
    (void)fd;
    (void)events;
    ((rm_ctx *)ud)->calls_new++;
}

/* Whichever of the two readable pipes is dispatched first removes the other (and itself). With
 * reuse set it also closes the other pipe and opens a new one, which gets the same fd numbers,
 * and watches it: the stale event of the closed fd must not reach the new watcher. */
static void rm_fn(loop *l, int fd, unsigned events, void *ud)
{
    (void)events;
    rm_ctx *c = ud;
    bool is_a = fd == c->a[0];
    if (is_a)
        c->calls_a++;
    else
        c->calls_b++;
    int *other = is_a ? c->b : c->a;
    loop_unwatch(l, other[0]);
    loop_unwatch(l, fd);
    if (c->reuse) {
        int ofd = other[0];
        close(other[0]);
        close(other[1]);
        other[0] = other[1] = -1;
        if (pipe2(c->newp, O_NONBLOCK | O_CLOEXEC) == 0 && c->newp[0] == ofd &&
            write(c->newp[1], "n", 1) == 1)
            loop_watch(l, c->newp[0], LOOP_READ, new_fn, c);
    }
}

static void test_remove_during_dispatch(void)
{
    for (int reuse = 0; reuse <= 1; reuse++) {
        loop *l = loop_new();
        rm_ctx c = {.reuse = reuse, .newp = {-1, -1}};
        CHECK(pipe2(c.a, O_NONBLOCK | O_CLOEXEC) == 0);
        CHECK(pipe2(c.b, O_NONBLOCK | O_CLOEXEC) == 0);
        CHECK(write(c.a[1], "a", 1) == 1);
        CHECK(write(c.b[1], "b", 1) == 1);
        CHECK(loop_watch(l, c.a[0], LOOP_READ, rm_fn, &c) == K_OK);
        CHECK(loop_watch(l, c.b[0], LOOP_READ, rm_fn, &c) == K_OK);
        CHECK(loop_once(l, 1000) == K_OK);
        CHECK_INT(c.calls_a + c.calls_b, 1);
        CHECK_INT(c.calls_new, 0); /* the new watcher did not get the closed fd's event */
        if (reuse)
            CHECK(c.newp[0] >= 0);
        CHECK(loop_once(l, 0) == K_OK);
        CHECK_INT(c.calls_a + c.calls_b, 1);
        if (reuse)
            CHECK_INT(c.calls_new, 1); /* its own readiness, in the next iteration */
        int fds[] = {c.a[0], c.a[1], c.b[0], c.b[1], c.newp[0], c.newp[1]};
        for (size_t i = 0; i < K_ARRAY_LEN(fds); i++)
            if (fds[i] >= 0) {
                loop_unwatch(l, fds[i]);
                close(fds[i]);
            }
        loop_free(l);
    }
}

/* Many pipes; each callback removes a pseudo-random other watcher and re-adds another: every
 * dispatch must go to a currently registered watcher, and nothing may crash. */
typedef struct churn_ctx {
    int r[40], w[40];
    bool watched[40];
    int bad;
    int calls;
    uint32_t rng;
} churn_ctx;

static uint32_t xs32(uint32_t *s)
{
    uint32_t x = *s;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *s = x;
}

static void churn_fn(loop *l, int fd, unsigned events, void *ud)
{
    (void)events;
    churn_ctx *c = ud;
    c->calls++;
    int me = -1;
    for (int i = 0; i < 40; i++)
        if (c->r[i] == fd)
            me = i;
    if (me < 0 || !c->watched[me])
        c->bad++;
    int victim = (int)(xs32(&c->rng) % 40);
    loop_unwatch(l, c->r[victim]);
    c->watched[victim] = false;
    int back = (int)(xs32(&c->rng) % 40);
    loop_watch(l, c->r[back], LOOP_READ, churn_fn, c);
    c->watched[back] = true;
}

static void test_watcher_churn(void)
{
    loop *l = loop_new();
    churn_ctx c = {.rng = 12345};
    for (int i = 0; i < 40; i++) {
        int p[2];
        CHECK(pipe2(p, O_NONBLOCK | O_CLOEXEC) == 0);
        c.r[i] = p[0];
        c.w[i] = p[1];
        CHECK(write(p[1], "z", 1) == 1); /* stays readable: callbacks never read */
        loop_watch(l, p[0], LOOP_READ, churn_fn, &c);
        c.watched[i] = true;
    }
    for (int it = 0; it < 200; it++)
        loop_once(l, 0);
    CHECK(c.calls > 200);
    CHECK_INT(c.bad, 0);
    for (int i = 0; i < 40; i++) {
        loop_unwatch(l, c.r[i]);
        close(c.r[i]);
        close(c.w[i]);
    }
    loop_free(l);
}

/* ---- before-sleep ---- */

typedef struct bs_ctx {
    int calls;
    int wish;
} bs_ctx;

static int bs_fn(loop *l, void *ud)
{
    (void)l;
    bs_ctx *c = ud;
    c->calls++;
    return c->wish;
}

static void stop_fn(loop *l, uint64_t id, void *ud)
{
    (void)id;
    (void)ud;
    loop_stop(l);
}

static void test_before_sleep(void)
{
    loop *l = loop_new();
    bs_ctx c = {.wish = 20};
    loop_set_before_sleep(l, bs_fn, &c);
    /* no fds, no timers, no limit from the caller: the hook's 20 ms bounds the sleep */
    int64_t t0 = loop_mono_ns();
    CHECK(loop_once(l, -1) == K_OK);
    int64_t dt = loop_mono_ns() - t0;
    CHECK_INT(c.calls, 1);
    CHECK(dt >= 19 * 1000000LL);
    CHECK(dt < 4000 * 1000000LL); /* hang guard only */

    /* a wish of 0 does not sleep even with a caller limit of "forever" */
    c.wish = 0;
    CHECK(loop_once(l, -1) == K_OK);
    CHECK_INT(c.calls, 2);

    /* once per iteration: loop_run until a timer stops it */
    c.wish = -1;
    c.calls = 0;
    loop_timer_add(l, 30, stop_fn, NULL);
    CHECK(loop_run(l) == K_OK);
    CHECK(c.calls >= 1);
    int calls = c.calls;
    /* loop_stop before loop_run: returns after no iteration */
    loop_stop(l);
    CHECK(loop_run(l) == K_OK);
    CHECK_INT(c.calls, calls);
    loop_set_before_sleep(l, NULL, NULL);
    loop_free(l);
}

/* ---- signals ---- */

typedef struct sig_ctx {
    int usr1, usr2, other;
} sig_ctx;

static void sig_fn(loop *l, int signo, void *ud)
{
    (void)l;
    sig_ctx *c = ud;
    if (signo == SIGUSR1)
        c->usr1++;
    else if (signo == SIGUSR2)
        c->usr2++;
    else
        c->other++;
}

static void test_signals(void)
{
    loop *l = loop_new();
    sig_ctx c = {0};
    int sigs[] = {SIGUSR1, SIGUSR2};
    CHECK(loop_signals(l, sigs, 2, sig_fn, &c) == K_OK);
    struct sigaction sa;
    CHECK(sigaction(SIGPIPE, NULL, &sa) == 0);
    CHECK(sa.sa_handler == SIG_IGN);
    sigset_t cur;
    CHECK(pthread_sigmask(SIG_BLOCK, NULL, &cur) == 0);
    CHECK(sigismember(&cur, SIGUSR1) == 1);

    CHECK(raise(SIGUSR1) == 0); /* blocked: pending until the signalfd is read */
    for (int i = 0; i < 20 && c.usr1 == 0; i++)
        loop_once(l, 100);
    CHECK_INT(c.usr1, 1);
    CHECK(kill(getpid(), SIGUSR2) == 0);
    for (int i = 0; i < 20 && c.usr2 == 0; i++)
        loop_once(l, 100);
    CHECK_INT(c.usr2, 1);
    CHECK_INT(c.usr1, 1);
    CHECK_INT(c.other, 0);

    /* writing to a pipe with no reader gives EPIPE, not death by SIGPIPE */
    int p[2];
    CHECK(pipe(p) == 0);
    close(p[0]);
    errno = 0;
    CHECK(write(p[1], "x", 1) == -1 && errno == EPIPE);
    close(p[1]);
    loop_free(l);
}

/* ---- EINTR ---- */

static void alarm_handler(int signo) { (void)signo; }

static void test_eintr(void)
{
    /* a signal with a handler interrupts poll(): that is a normal wake-up, not an error */
    loop *l = loop_new();
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = alarm_handler; /* no SA_RESTART (poll() is never restarted anyway) */
    sigemptyset(&sa.sa_mask);
    CHECK(sigaction(SIGALRM, &sa, &old) == 0);
    struct itimerval it = {.it_value = {.tv_sec = 0, .tv_usec = 20000}};
    CHECK(setitimer(ITIMER_REAL, &it, NULL) == 0);
    int64_t t0 = loop_mono_ms();
    CHECK(loop_once(l, 3000) == K_OK);
    CHECK(loop_mono_ms() - t0 < 2500); /* woken by the signal, not the timeout */
    CHECK(sigaction(SIGALRM, &old, NULL) == 0);
    loop_free(l);
}

/* ---- the heap against a sorted reference ---- */

typedef struct ref_timer {
    uint64_t id;
    int64_t due;
    uint64_t order; /* insertion order */
    bool cancelled, fired;
} ref_timer;

#define HEAP_N 10000

typedef struct heap_ctx {
    ref_timer *t;
    int n;
    int *sorted; /* indices into t by (due, order) */
    int cursor;  /* next expected in sorted */
    int fired, errors, pending;
    uint32_t rng;
} heap_ctx;

typedef struct ref_key {
    int64_t due;
    uint64_t order;
    int idx;
} ref_key;

static int ref_cmp(const void *x, const void *y)
{
    const ref_key *a = x, *b = y;
    if (a->due != b->due)
        return a->due < b->due ? -1 : 1;
    return a->order < b->order ? -1 : a->order > b->order;
}

typedef struct heap_tag {
    heap_ctx *c;
    int idx;
} heap_tag;

static void heap_fn(loop *l, uint64_t id, void *ud)
{
    heap_tag *tg = ud;
    heap_ctx *c = tg->c;
    while (c->cursor < c->n && c->t[c->sorted[c->cursor]].cancelled)
        c->cursor++;
    if (c->cursor >= c->n || c->sorted[c->cursor] != tg->idx || c->t[tg->idx].id != id ||
        c->t[tg->idx].fired)
        c->errors++;
    if (loop_mono_ms() < c->t[tg->idx].due)
        c->errors++; /* fired early */
    c->t[tg->idx].fired = true;
    c->cursor++;
    c->fired++;
    c->pending--;
    /* every 7th firing cancels a random pending timer */
    if (c->fired % 7 == 0) {
        int v = (int)(xs32(&c->rng) % (uint32_t)c->n);
        if (!c->t[v].cancelled && !c->t[v].fired) {
            loop_timer_cancel(l, c->t[v].id);
            c->t[v].cancelled = true;
            c->pending--;
        }
    }
}

static void test_heap_reference(void)
{
    loop *l = loop_new();
    heap_ctx c = {.rng = 2463534242u};
    c.t = calloc(HEAP_N, sizeof *c.t);
    c.sorted = calloc(HEAP_N, sizeof *c.sorted);
    heap_tag *tags = calloc(HEAP_N, sizeof *tags);
    int ops = 0, adds = 0;
    while (adds < HEAP_N) {
        ops++;
        uint32_t r = xs32(&c.rng);
        if (r % 10 < 7 || adds == 0) {
            int i = adds++;
            tags[i] = (heap_tag){&c, i};
            int64_t delay = (int64_t)(xs32(&c.rng) % 60);
            c.t[i].id = loop_timer_add(l, delay, heap_fn, &tags[i]);
            c.t[i].due = loop_timer_due(l, c.t[i].id);
            c.t[i].order = (uint64_t)i;
            c.pending++;
        } else {
            int v = (int)(xs32(&c.rng) % (uint32_t)adds);
            if (!c.t[v].cancelled) {
                loop_timer_cancel(l, c.t[v].id);
                c.t[v].cancelled = true;
                c.pending--;
            }
            if (loop_timer_due(l, c.t[v].id) != -1)
                c.errors++;
        }
    }
    c.n = adds;
    CHECK_INT(loop_timer_count(l), c.pending);
    ref_key *keys = calloc((size_t)c.n, sizeof *keys);
    for (int i = 0; i < c.n; i++)
        keys[i] = (ref_key){c.t[i].due, c.t[i].order, i};
    qsort(keys, (size_t)c.n, sizeof *keys, ref_cmp);
    for (int i = 0; i < c.n; i++)
        c.sorted[i] = keys[i].idx;
    free(keys);
    int64_t end = loop_mono_ms() + 10000;
    while (c.pending > 0 && loop_mono_ms() < end)
        loop_once(l, 100);
    CHECK_INT(c.pending, 0);
    CHECK_INT(c.errors, 0);
    int stray = 0;
    for (int i = 0; i < c.n; i++)
        stray += c.t[i].fired == c.t[i].cancelled; /* exactly one of the two */
    CHECK_INT(stray, 0);
    CHECK_INT(loop_timer_count(l), 0);
    CHECK(ops > HEAP_N);
    free(c.t);
    free(c.sorted);
    free(tags);
    loop_free(l);
}

static void test_clocks(void)
{
    int64_t a = loop_mono_ns(), b = loop_mono_ns();
    CHECK(b >= a);
    CHECK(loop_mono_ms() >= a / 1000000LL);
    /* wall clock: after 2024-01-01 and before 2100 */
    CHECK(loop_wall_ms() > 1704067200000LL);
    CHECK(loop_wall_ms() < 4102444800000LL);
}

int main(void)
{
    test_clocks();
    test_timer_order();
    test_timer_cancel();
    test_timer_in_callback();
    test_fd_pipe();
    test_remove_during_dispatch();
    test_watcher_churn();
    test_before_sleep();
    test_signals();
    test_eintr();
    test_heap_reference();
    CHECK_DONE();
}
