/* The learner thread (after redis bio.c): heavy training runs here so the main loop never waits
 * for it. State is a small array of job slots under one mutex; the thread holds the mutex only
 * to pick a job and to mark it done, never while train() runs, so learner_submit() and
 * learner_collect() on the main thread wait at most for those few instructions. Completions are
 * signalled through an eventfd the loop polls. A job keeps its slot until collected, so results
 * never need a second bounded queue and a model never has two jobs at once. */
#include "kestrel/learner.h"

#include "kestrel/xmalloc.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

enum learner_state { LEARNER_FREE = 0, LEARNER_QUEUED, LEARNER_RUNNING, LEARNER_DONE };

typedef struct learner_job {
    model *m;
    uint64_t tag, seq, ns;
    enum learner_state state;
    enum model_result rc;
} learner_job;

struct learner {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    int efd, stop;
    uint32_t nslots, used;
    uint64_t seq, submitted, dropped, busy, done;
    learner_job *jobs;
};

const char *learner_strerror(enum learner_result r)
{
    switch (r) {
    case K_LEARNER_OK: return "ok";
    case K_LEARNER_FULL: return "learner queue full (dropped)";
    case K_LEARNER_BUSY: return "model already has a learner job";
    case K_LEARNER_BAD_INPUT: return "not an off-thread model";
    case K_LEARNER_SYS: return "learner thread or eventfd failed";
    }
    return "unknown learner result";
}

static uint64_t learner_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The oldest queued job, or NULL. Under mu. */
static learner_job *learner_next(learner *l)
{
    learner_job *best = NULL;
    for (uint32_t i = 0; i < l->nslots; i++)
        if (l->jobs[i].state == LEARNER_QUEUED && (!best || l->jobs[i].seq < best->seq))
            best = &l->jobs[i];
    return best;
}

static void *learner_main(void *arg)
{
    learner *l = arg;
    pthread_mutex_lock(&l->mu);
    for (;;) {
        learner_job *j;
        while (!l->stop && !(j = learner_next(l)))
            pthread_cond_wait(&l->cond, &l->mu);
        if (l->stop)
            break;
        j->state = LEARNER_RUNNING;
        model *m = j->m;
        pthread_mutex_unlock(&l->mu);
        uint64_t t0 = learner_now_ns();
        enum model_result rc = m->ops->train(m);
        uint64_t ns = learner_now_ns() - t0;
        pthread_mutex_lock(&l->mu);
        j->rc = rc;
        j->ns = ns;
        j->state = LEARNER_DONE;
        l->done++;
        uint64_t one = 1;
        ssize_t w = write(l->efd, &one, sizeof(one)); /* EAGAIN: counter saturated, still set */
        (void)w;
    }
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

learner *learner_new(uint32_t slots, char *err, size_t errlen)
{
    if (slots == 0 || slots > 256) {
        snprintf(err, errlen, "learner: %u job slots (1..256)", slots);
        return NULL;
    }
    learner *l = xcalloc(1, sizeof(*l));
    l->nslots = slots;
    l->jobs = xcalloc(slots, sizeof(*l->jobs));
    l->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (l->efd < 0) {
        snprintf(err, errlen, "learner: eventfd: %s", strerror(errno));
        free(l->jobs);
        free(l);
        return NULL;
    }
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->cond, NULL);
    int rc = pthread_create(&l->thread, NULL, learner_main, l);
    if (rc != 0) {
        snprintf(err, errlen, "learner: pthread_create: %s", strerror(rc));
        pthread_mutex_destroy(&l->mu);
        pthread_cond_destroy(&l->cond);
        close(l->efd);
        free(l->jobs);
        free(l);
        return NULL;
    }
    return l;
}

void learner_free(learner *l)
{
    if (!l)
        return;
    pthread_mutex_lock(&l->mu);
    l->stop = 1;
    pthread_cond_broadcast(&l->cond);
    pthread_mutex_unlock(&l->mu);
    pthread_join(l->thread, NULL);
    pthread_mutex_destroy(&l->mu);
    pthread_cond_destroy(&l->cond);
    close(l->efd);
    free(l->jobs);
    free(l);
}

int learner_fd(const learner *l)
{
    return l->efd;
}

enum learner_result learner_submit(learner *l, model *m, uint64_t tag)
{
    if (!l || !m || !(m->ops->flags & MODEL_F_OFFTHREAD) || !m->ops->train)
        return K_LEARNER_BAD_INPUT;
    pthread_mutex_lock(&l->mu);
    learner_job *free_slot = NULL;
    enum learner_result rc = K_LEARNER_OK;
    for (uint32_t i = 0; i < l->nslots; i++) {
        if (l->jobs[i].state != LEARNER_FREE && l->jobs[i].m == m) {
            rc = K_LEARNER_BUSY;
            break;
        }
        if (l->jobs[i].state == LEARNER_FREE && !free_slot)
            free_slot = &l->jobs[i];
    }
    if (rc == K_LEARNER_OK && !free_slot)
        rc = K_LEARNER_FULL;
    if (rc == K_LEARNER_OK) {
        *free_slot = (learner_job){.m = m, .tag = tag, .seq = ++l->seq, .state = LEARNER_QUEUED};
        l->used++;
        l->submitted++;
        pthread_cond_signal(&l->cond);
    } else if (rc == K_LEARNER_FULL) {
        l->dropped++;
    } else {
        l->busy++;
    }
    pthread_mutex_unlock(&l->mu);
    return rc;
}

size_t learner_collect(learner *l, learner_done *out, size_t max)
{
    uint64_t v;
    ssize_t r = read(l->efd, &v, sizeof(v)); /* EAGAIN when nothing was signalled */
    (void)r;
    size_t n = 0;
    pthread_mutex_lock(&l->mu);
    while (n < max) {
        learner_job *best = NULL;
        for (uint32_t i = 0; i < l->nslots; i++)
            if (l->jobs[i].state == LEARNER_DONE && (!best || l->jobs[i].seq < best->seq))
                best = &l->jobs[i];
        if (!best)
            break;
        out[n++] = (learner_done){.m = best->m, .tag = best->tag, .rc = best->rc,
                                  .train_ns = best->ns};
        best->state = LEARNER_FREE;
        best->m = NULL;
        l->used--;
    }
    int more = 0;
    for (uint32_t i = 0; i < l->nslots; i++)
        more |= l->jobs[i].state == LEARNER_DONE;
    if (more) { /* max reached: keep the fd readable */
        uint64_t one = 1;
        ssize_t w = write(l->efd, &one, sizeof(one));
        (void)w;
    }
    pthread_mutex_unlock(&l->mu);
    return n;
}

void learner_stats_get(learner *l, learner_stats *s)
{
    pthread_mutex_lock(&l->mu);
    s->submitted = l->submitted;
    s->dropped = l->dropped;
    s->busy = l->busy;
    s->done = l->done;
    s->slots = l->nslots;
    s->used = l->used;
    pthread_mutex_unlock(&l->mu);
}
