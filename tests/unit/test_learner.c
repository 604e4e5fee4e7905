/* The learner thread: a training job that stalls (blocks until the test releases it) does not
 * stall the main loop: the loop keeps ticking its timers and submissions return at once (taken,
 * BUSY, or dropped and counted when the slots are full); results arrive through the eventfd in
 * submission order; a real LSTM trains on the thread and goes live through swap(). Hangs would
 * trip the alarm() watchdog, so the waits are bounded polls, never timing asserts. */
#include "check.h"
#include "kestrel/learner.h"
#include "kestrel/loop.h"
#include "kestrel/lstm.h"

#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

static int threads_now(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;
    while (d && (e = readdir(d)))
        n += e->d_name[0] != '.';
    if (d)
        closedir(d);
    return n;
}

/* A model whose train() blocks until released (the stalled job), or returns at once. */
typedef struct fake {
    model base;
    int stall;
    atomic_int entered, trained;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    int released;
} fake;

static enum model_result fake_train(model *m)
{
    fake *f = (fake *)m;
    atomic_store(&f->entered, 1);
    if (f->stall) {
        pthread_mutex_lock(&f->mu);
        while (!f->released)
            pthread_cond_wait(&f->cond, &f->mu);
        pthread_mutex_unlock(&f->mu);
    }
    atomic_fetch_add(&f->trained, 1);
    return K_MODEL_OK;
}

static const model_ops fake_ops = {.kind = "fake", .flags = MODEL_F_OFFTHREAD, .train = fake_train};
static const model_ops online_ops = {.kind = "online", .flags = 0};

static void fake_init(fake *f, int stall)
{
    memset(f, 0, sizeof(*f));
    f->base.ops = &fake_ops;
    f->stall = stall;
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->cond, NULL);
}

typedef struct ctx {
    learner *l;
    fake *quick;
    int ticks, full, ok, busy;
    learner_done done[16];
    size_t ndone;
} ctx;

static void on_learner(loop *lp, int fd, unsigned ev, void *ud)
{
    (void)lp, (void)fd, (void)ev;
    ctx *c = ud;
    c->ndone += learner_collect(c->l, c->done + c->ndone, 16 - c->ndone);
}

/* Every tick submits one more job: with the slots full it must come back FULL at once. */
static void on_tick(loop *lp, uint64_t id, void *ud)
{
    (void)id;
    ctx *c = ud;
    enum learner_result r = learner_submit(c->l, &c->quick->base, 99);
    c->full += r == K_LEARNER_FULL;
    c->ok += r == K_LEARNER_OK;
    c->busy += r == K_LEARNER_BUSY;
    if (++c->ticks < 100)
        loop_timer_add(lp, 1, on_tick, c);
}

int main(void)
{
    alarm(60); /* a blocked main thread fails the test instead of hanging the suite */
    /* OpenBLAS's load-time worker threads are gone before main (they would take signals the
     * loop's signalfd is meant to get); only the learner adds a thread */
    CHECK_INT(threads_now(), 1);
    char err[128];
    CHECK(learner_new(0, err, sizeof(err)) == NULL);
    learner *l = learner_new(4, err, sizeof(err));
    CHECK(l != NULL);
    CHECK_INT(threads_now(), 2);
    if (!l)
        CHECK_DONE();
    loop *lp = loop_new();
    ctx c;
    memset(&c, 0, sizeof(c));
    c.l = l;
    CHECK_INT(loop_watch(lp, learner_fd(l), LOOP_READ, on_learner, &c), K_OK);

    fake stall, q[5];
    fake_init(&stall, 1);
    for (int i = 0; i < 5; i++)
        fake_init(&q[i], 0);
    model online = {.ops = &online_ops};
    CHECK_INT(learner_submit(l, &online, 0), K_LEARNER_BAD_INPUT);
    CHECK_INT(learner_submit(l, NULL, 0), K_LEARNER_BAD_INPUT);

    CHECK_INT(learner_submit(l, &stall.base, 1), K_LEARNER_OK);
    for (int i = 0; i < 10000 && !atomic_load(&stall.entered); i++)
        loop_once(lp, 1);
    CHECK(atomic_load(&stall.entered));
    CHECK_INT(learner_submit(l, &stall.base, 1), K_LEARNER_BUSY);
    for (int i = 0; i < 3; i++)
        CHECK_INT(learner_submit(l, &q[i].base, (uint64_t)(10 + i)), K_LEARNER_OK);
    CHECK_INT(learner_submit(l, &q[3].base, 13), K_LEARNER_FULL);

    /* the loop runs 100 timer ticks while the learner is stuck in train() */
    c.quick = &q[4];
    loop_timer_add(lp, 1, on_tick, &c);
    for (int i = 0; i < 100000 && c.ticks < 100; i++)
        loop_once(lp, 5);
    CHECK_INT(c.ticks, 100);
    CHECK_INT(c.full, 100);
    CHECK_INT(c.ndone, 0);
    CHECK_INT(atomic_load(&stall.trained), 0);
    CHECK_INT(atomic_load(&q[0].entered), 0);
    learner_stats st;
    learner_stats_get(l, &st);
    CHECK_INT(st.dropped, 101);
    CHECK_INT(st.busy, 1);
    CHECK_INT(st.submitted, 4);
    CHECK_INT(st.used, 4);

    /* release: the four jobs finish, in submission order, through the eventfd */
    pthread_mutex_lock(&stall.mu);
    stall.released = 1;
    pthread_cond_signal(&stall.cond);
    pthread_mutex_unlock(&stall.mu);
    for (int i = 0; i < 10000 && c.ndone < 4; i++)
        loop_once(lp, 5);
    CHECK_INT(c.ndone, 4);
    CHECK(c.done[0].m == &stall.base && c.done[0].tag == 1);
    for (int i = 0; i < 3; i++) {
        CHECK(c.done[1 + i].m == &q[i].base);
        CHECK_INT(c.done[1 + i].tag, 10 + i);
        CHECK_INT(c.done[1 + i].rc, K_MODEL_OK);
        CHECK_INT(atomic_load(&q[i].trained), 1);
    }
    learner_stats_get(l, &st);
    CHECK_INT(st.used, 0);
    CHECK_INT(st.done, 4);
    CHECK_INT(learner_submit(l, &stall.base, 2), K_LEARNER_OK); /* its slot is free again */
    for (int i = 0; i < 10000 && c.ndone < 5; i++)
        loop_once(lp, 5);
    CHECK_INT(c.ndone, 5);

    /* a real model: samples learned on the main thread, trained on the learner, swapped live */
    nn_config cfg;
    nn_config_default(&cfg);
    cfg.window = 8;
    cfg.hidden = 8;
    cfg.min_samples = 16;
    model *m = lstm_new("lstm", 3, &cfg);
    float win[24];
    model_input in = {.x = win + 21, .window = win, .window_len = 8, .nfeat = 3};
    model_output o;
    for (int s = 0; s < 40; s++) {
        for (int i = 0; i < 24; i++)
            win[i] = (float)((s * 31 + i * 7) % 11) / 11.0f - 0.5f;
        CHECK_INT(m->ops->learn(m, &in, s % 3, 1.0), K_MODEL_OK);
    }
    CHECK_INT(m->ops->predict(m, &in, &o), K_MODEL_NOT_READY);
    CHECK_INT(learner_submit(l, m, 7), K_LEARNER_OK);
    for (int i = 0; i < 10000 && c.ndone < 6; i++)
        loop_once(lp, 5);
    CHECK_INT(c.ndone, 6);
    CHECK(c.done[5].m == m && c.done[5].rc == K_MODEL_OK);
    CHECK_INT(m->ops->swap(m), K_MODEL_OK);
    CHECK_INT(m->ops->predict(m, &in, &o), K_MODEL_OK);
    CHECK_NEAR(o.p[0] + o.p[1] + o.p[2], 1.0, 1e-9);
    CHECK(o.confidence > 0 && o.confidence < 1);
    CHECK_INT(m->ops->swap(m), K_MODEL_NOT_READY); /* nothing new trained */
    m->ops->free(m);

    loop_unwatch(lp, learner_fd(l));
    learner_free(l);
    loop_free(lp);
    CHECK_STR(learner_strerror(K_LEARNER_FULL), "learner queue full (dropped)");
    CHECK_DONE();
}
