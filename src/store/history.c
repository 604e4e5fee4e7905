/* The history reader (see history.h). One worker thread owns one read-only connection; requests
 * and answers pass through two mutex-guarded rings; the worker writes the eventfd once per answer
 * batch. An answer's bars live in one allocation per timeframe made by the worker and freed by
 * the main thread after the callback (a new symbol is rare: this is not a per-frame path). */
#include "kestrel/history.h"

#include "kestrel/xmalloc.h"

#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

typedef struct history_req {
    uint64_t id;
    enum venue venue;
    char symbol[KSYM_MAX];
    int64_t before[TF_COUNT];
} history_req;

typedef struct history_res {
    history_answer a;
    candle *own[TF_COUNT];
} history_res;

struct history {
    char path[4096];
    uint32_t max;
    int efd;
    pthread_t thread;
    bool started;
    pthread_mutex_t mu;
    pthread_cond_t cv;      /* worker: a request or stop */
    pthread_cond_t done_cv; /* drain: an answer */
    history_req req[HISTORY_QUEUE];
    uint32_t rq_head, rq_n;
    history_res *res[HISTORY_QUEUE];
    uint32_t rs_head, rs_n;
    uint64_t next_id, in_flight;
    bool stop;
    sqlite3 *db;
    sqlite3_stmt *st;
    char open_error[160];
};

static void history_load(history *h, const history_req *rq, history_res *r)
{
    memset(r, 0, sizeof *r);
    r->a.id = rq->id;
    r->a.venue = rq->venue;
    memcpy(r->a.symbol, rq->symbol, KSYM_MAX);
    if (!h->st) {
        r->a.failed = true;
        snprintf(r->a.error, sizeof r->a.error, "%s", h->open_error);
        return;
    }
    for (int t = 0; t < TF_COUNT; t++) {
        candle *out = xcalloc(h->max ? h->max : 1, sizeof *out);
        uint32_t n = 0;
        sqlite3_bind_text(h->st, 1, venue_name(rq->venue), -1, SQLITE_STATIC);
        sqlite3_bind_text(h->st, 2, rq->symbol, -1, SQLITE_STATIC);
        sqlite3_bind_text(h->st, 3, tf_name((enum tf)t), -1, SQLITE_STATIC);
        sqlite3_bind_int64(h->st, 4, rq->before[t]);
        sqlite3_bind_int64(h->st, 5, (int64_t)h->max);
        int rc;
        while ((rc = sqlite3_step(h->st)) == SQLITE_ROW && n < h->max) {
            bool ok = true;
            for (int c = 0; c < 9; c++)
                ok = ok && sqlite3_column_type(h->st, c) == SQLITE_INTEGER;
            int64_t trades = sqlite3_column_int64(h->st, 8);
            if (!ok || trades < 0 || trades > UINT32_MAX) {
                r->a.skipped++; /* not what the store writes: never an inexact bar */
                continue;
            }
            candle *b = &out[n++];
            b->open_ms = sqlite3_column_int64(h->st, 0);
            b->o = sqlite3_column_int64(h->st, 1);
            b->h = sqlite3_column_int64(h->st, 2);
            b->l = sqlite3_column_int64(h->st, 3);
            b->c = sqlite3_column_int64(h->st, 4);
            b->volume = sqlite3_column_int64(h->st, 5);
            b->buy_volume = sqlite3_column_int64(h->st, 6);
            b->quote_volume = sqlite3_column_int64(h->st, 7);
            b->trades = (uint32_t)trades;
        }
        if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
            r->a.failed = true;
            snprintf(r->a.error, sizeof r->a.error, "loading history: %s",
                     sqlite3_errmsg(h->db));
        }
        sqlite3_reset(h->st);
        for (uint32_t i = 0; i < n / 2; i++) { /* newest first from the query */
            candle x = out[i];
            out[i] = out[n - 1 - i];
            out[n - 1 - i] = x;
        }
        r->own[t] = out;
        r->a.bars[t] = out;
        r->a.n[t] = n;
    }
}

static void *history_main(void *arg)
{
    history *h = arg;
    int rc = sqlite3_open_v2(h->path, &h->db, SQLITE_OPEN_READONLY, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_busy_timeout(h->db, 2000);
        rc = sqlite3_prepare_v2(h->db,
                                "SELECT open_ms, o, h, l, c, volume, buy_volume, quote_volume,"
                                " trades FROM candles WHERE venue = ?1 AND symbol = ?2 AND"
                                " tf = ?3 AND open_ms < ?4 ORDER BY open_ms DESC LIMIT ?5",
                                -1, &h->st, NULL);
    }
    if (rc != SQLITE_OK)
        snprintf(h->open_error, sizeof h->open_error, "history: cannot read %.60s: %.60s", h->path,
                 h->db ? sqlite3_errmsg(h->db) : sqlite3_errstr(rc));
    pthread_mutex_lock(&h->mu);
    for (;;) {
        while (!h->stop && h->rq_n == 0)
            pthread_cond_wait(&h->cv, &h->mu);
        if (h->stop)
            break;
        history_req rq = h->req[h->rq_head];
        h->rq_head = (h->rq_head + 1) % HISTORY_QUEUE;
        h->rq_n--;
        pthread_mutex_unlock(&h->mu);
        history_res *r = xmalloc(sizeof *r);
        history_load(h, &rq, r);
        pthread_mutex_lock(&h->mu);
        /* the answer ring has a slot: in_flight (queued + loading + unanswered) <= QUEUE */
        h->res[(h->rs_head + h->rs_n) % HISTORY_QUEUE] = r;
        h->rs_n++;
        pthread_cond_broadcast(&h->done_cv);
        uint64_t one = 1;
        ssize_t w = write(h->efd, &one, sizeof one);
        (void)w; /* a full counter still wakes the loop */
    }
    pthread_mutex_unlock(&h->mu);
    sqlite3_finalize(h->st);
    sqlite3_close(h->db);
    return NULL;
}

int history_open(history **out, const char *db_path, uint32_t max_bars, char *err,
                 size_t errlen)
{
    *out = NULL;
    if (strlen(db_path) >= sizeof((history *)0)->path) {
        snprintf(err, errlen, "history: database path too long");
        return K_ERR;
    }
    history *h = xcalloc(1, sizeof *h);
    snprintf(h->path, sizeof h->path, "%s", db_path);
    h->max = max_bars;
    h->next_id = 1;
    h->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (h->efd < 0) {
        snprintf(err, errlen, "history: eventfd: %s", strerror(errno));
        free(h);
        return K_ERR;
    }
    pthread_mutex_init(&h->mu, NULL);
    pthread_cond_init(&h->cv, NULL);
    pthread_cond_init(&h->done_cv, NULL);
    if (pthread_create(&h->thread, NULL, history_main, h) != 0) {
        snprintf(err, errlen, "history: cannot start the reader thread");
        history_close(h);
        return K_ERR;
    }
    h->started = true;
    *out = h;
    return K_OK;
}

static void history_free_res(history_res *r)
{
    for (int t = 0; t < TF_COUNT; t++)
        free(r->own[t]);
    free(r);
}

void history_close(history *h)
{
    if (!h)
        return;
    if (h->started) {
        pthread_mutex_lock(&h->mu);
        h->stop = true;
        pthread_cond_signal(&h->cv);
        pthread_mutex_unlock(&h->mu);
        pthread_join(h->thread, NULL);
    }
    while (h->rs_n) {
        history_free_res(h->res[h->rs_head]);
        h->rs_head = (h->rs_head + 1) % HISTORY_QUEUE;
        h->rs_n--;
    }
    pthread_cond_destroy(&h->cv);
    pthread_cond_destroy(&h->done_cv);
    pthread_mutex_destroy(&h->mu);
    close(h->efd);
    free(h);
}

uint64_t history_request(history *h, enum venue v, const char *symbol,
                         const int64_t before_ms[TF_COUNT])
{
    if ((unsigned)v >= VENUE_COUNT || !symbol || strlen(symbol) >= KSYM_MAX)
        return 0;
    pthread_mutex_lock(&h->mu);
    if (h->in_flight >= HISTORY_QUEUE) {
        pthread_mutex_unlock(&h->mu);
        return 0;
    }
    history_req *rq = &h->req[(h->rq_head + h->rq_n) % HISTORY_QUEUE];
    rq->id = h->next_id++;
    rq->venue = v;
    memcpy(rq->symbol, symbol, strlen(symbol) + 1);
    memcpy(rq->before, before_ms, sizeof rq->before);
    h->rq_n++;
    h->in_flight++;
    uint64_t id = rq->id;
    pthread_cond_signal(&h->cv);
    pthread_mutex_unlock(&h->mu);
    return id;
}

int history_fd(const history *h)
{
    return h->efd;
}

void history_process(history *h, history_fn fn, void *ud)
{
    uint64_t v;
    while (read(h->efd, &v, sizeof v) > 0)
        ;
    for (;;) {
        pthread_mutex_lock(&h->mu);
        if (h->rs_n == 0) {
            pthread_mutex_unlock(&h->mu);
            return;
        }
        history_res *r = h->res[h->rs_head];
        h->rs_head = (h->rs_head + 1) % HISTORY_QUEUE;
        h->rs_n--;
        h->in_flight--;
        pthread_mutex_unlock(&h->mu);
        if (fn)
            fn(ud, &r->a);
        history_free_res(r);
    }
}

void history_drain(history *h, history_fn fn, void *ud)
{
    for (;;) {
        pthread_mutex_lock(&h->mu);
        while (h->in_flight > 0 && h->rs_n == 0)
            pthread_cond_wait(&h->done_cv, &h->mu);
        bool idle = h->in_flight == 0;
        pthread_mutex_unlock(&h->mu);
        if (idle)
            return;
        history_process(h, fn, ud);
    }
}

uint64_t history_pending(const history *h)
{
    history *m = (history *)h;
    pthread_mutex_lock(&m->mu);
    uint64_t n = m->in_flight;
    pthread_mutex_unlock(&m->mu);
    return n;
}
