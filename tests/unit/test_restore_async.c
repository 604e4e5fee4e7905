/* The restore of a symbol's stored model state off the main thread (issue 11: "nothing on the
 * main thread waits for disk"; the state "resumes after a restart or kill -9 exactly where it
 * was"). A first run of the runner on the real BTCBUSD day (lean Binance 1m, 2022-12-13) writes
 * every signal and a model state checkpoint every 150 min of data through a REAL SQLite store
 * (sigstore), and stops without a last checkpoint (the rows after the newest one are what a
 * kill -9 leaves). Three restarts then run on the next LIVE bars:
 *   legacy: no restore callback: sigstore_on_engine reads the state and the rows after it at
 *           the first signal (the old blocking path, still the fallback);
 *   sync:   the runner's restore callback reads them at once at the first data (a replay);
 *   async:  it queues the read on the store's writer thread (sigstore_restore_read) and returns
 *           RUNNER_RESTORE_PENDING; the answer comes through the loop (store_fd ->
 *           store_process -> runner_restore_ready).
 * The writer is first stalled by a read that blocks until the test releases it: meanwhile the
 * loop ticks a 1 ms timer 100 times, live bars keep arriving and wait, the symbol says it is
 * restoring (runner_restoring, sigstore_restoring), no signal is made, nothing trades, and the
 * warm-up has not been asked. Released, the warm-up is asked after the answer (it sees the
 * state and is skipped), the waiting bars are fed, and every run ends in the same engine state
 * byte for byte, the same signals (digest), orders and replay counts. Waits are bounded polls;
 * alarm() turns a blocked loop into a failure. */
#include <pthread.h>
#include <unistd.h>

#include "check.h"
#include "kestrel/backtest.h"
#include "kestrel/ingest.h"
#include "kestrel/klines.h"
#include "kestrel/loop.h"
#include "kestrel/runner.h"
#include "kestrel/sigstore.h"
#include "kestrel/store.h"
#include "kestrel/xmalloc.h"

#define FIRST 760 /* bars of the first run (a signal every 15 min) */
#define LIVE 300  /* bars of each restart */

enum mode { M_WRITE = 0, M_LEGACY, M_SYNC, M_ASYNC };

typedef struct ctx {
    enum mode mode;
    store *st;
    sigstore *ss;
    runner *r;
    uint32_t restore_asked, restore_answered, warm_asked, warm_saw_state, warm_while_restoring;
    /* the stall of the writer thread */
    pthread_mutex_t mu;
    pthread_cond_t cond;
    int stalled, released;
} ctx;

static void on_engine(void *ud, const market_sym *ms, engine *e, int64_t now_ms)
{
    ctx *c = ud;
    sigstore_on_engine(c->ss, ms, e, now_ms);
}

static void on_event(void *ud, const runner_ev *ev)
{
    ctx *c = ud;
    if (c->mode == M_WRITE && ev->kind == RUNNER_EV_SIGNAL && ev->sym)
        sigstore_on_signal(c->ss, ev->sym, ev->signal, ev->time_ms);
}

static void restored(void *ud, const market_sym *ms)
{
    ctx *c = ud;
    c->restore_answered++;
    runner_restore_ready(c->r, ms);
}

static uint32_t restore_cb(void *ud, const market_sym *ms, int64_t first_ms)
{
    (void)first_ms;
    ctx *c = ud;
    c->restore_asked++;
    return sigstore_restore_read(c->ss, ms, c->mode == M_ASYNC, restored, c)
               ? RUNNER_RESTORE_PENDING
               : 0;
}

/* the warm-up is asked after the restore answered; with a stored state it has nothing to do */
static uint32_t warm_cb(void *ud, const market_sym *ms, int64_t before_ms, candle *out,
                        uint32_t max)
{
    (void)out, (void)max;
    ctx *c = ud;
    c->warm_asked++;
    c->warm_saw_state += sigstore_restore_has(c->ss, ms, before_ms);
    c->warm_while_restoring += sigstore_restoring(c->ss, ms);
    return 0;
}

static enum store_result stall_read(void *ud, struct sqlite3 *db, uint32_t *n)
{
    (void)db;
    ctx *c = ud;
    pthread_mutex_lock(&c->mu);
    c->stalled = 1;
    pthread_cond_broadcast(&c->cond);
    while (!c->released)
        pthread_cond_wait(&c->cond, &c->mu);
    pthread_mutex_unlock(&c->mu);
    *n = 0;
    return STORE_OK;
}

static void stall_done(void *ud, enum store_result rc, uint32_t n)
{
    (void)ud, (void)n;
    CHECK_INT(rc, STORE_OK);
}

static void on_store(loop *l, int fd, unsigned ev, void *ud)
{
    (void)l, (void)fd, (void)ev;
    store_process(ud);
}

static void on_tick(loop *l, uint64_t id, void *ud)
{
    (void)id;
    int *ticks = ud;
    if (++*ticks < 100)
        loop_timer_add(l, 1, on_tick, ticks);
}

typedef struct result {
    uint64_t digest, signals, orders, scored;
    model_blob blob;
    sigstore_info info;
    uint32_t ticks_while_stalled, signals_while_restoring, restoring_seen, ss_restoring_seen;
    uint32_t restore_asked, restore_answered, warm_asked, warm_saw_state, warm_while_restoring;
} result;

static void feed(ingest *ig, const candle *b)
{
    feed_event ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = FEED_KLINE;
    ev.venue = VENUE_BINANCE_USDM;
    snprintf(ev.symbol, sizeof ev.symbol, "BTCUSDT");
    ev.u.kline.open_ms = b->open_ms;
    ev.u.kline.close_ms = b->open_ms + 59999;
    snprintf(ev.u.kline.interval, sizeof ev.u.kline.interval, "1m");
    ev.u.kline.o = b->o;
    ev.u.kline.h = b->h;
    ev.u.kline.l = b->l;
    ev.u.kline.c = b->c;
    ev.u.kline.volume = b->volume;
    ev.u.kline.closed = true;
    ev.recv_ns = (b->open_ms + 60000) * 1000000;
    (void)ingest_event(ig, &ev, NULL);
}

static void run(const char *db, const candle *bars, uint32_t nb, enum mode mode, result *res)
{
    memset(res, 0, sizeof *res);
    char err[512];
    store *st = NULL;
    CHECK_INT(store_open(&st, db, NULL, err, sizeof err), STORE_OK);
    if (!st)
        return;
    loop *lp = loop_new();
    CHECK_INT(loop_watch(lp, store_fd(st), LOOP_READ, on_store, st), K_OK);
    market *m = market_new(NULL);
    kclock *clk = kclock_new_simulated();
    ingest *ig = ingest_new(m, clk, NULL);
    ctx c;
    memset(&c, 0, sizeof c);
    c.mode = mode;
    c.st = st;
    c.ss = sigstore_new(st, NULL, mode == M_WRITE ? 150 * 60000 : 0);
    pthread_mutex_init(&c.mu, NULL);
    pthread_cond_init(&c.cond, NULL);
    runner_config rc;
    backtest_config_default(&rc);
    rc.signal_interval_ms = 0; /* signals on bar closes only: the same points in every run */
    rc.auto_trade = true;
    rc.on_engine = on_engine;
    rc.on_engine_ud = &c;
    if (mode != M_LEGACY) {
        rc.restore = restore_cb;
        rc.restore_ud = &c;
    }
    rc.warmup = warm_cb;
    rc.warmup_ud = &c;
    runner *r = runner_new(m, clk, &rc);
    CHECK(r != NULL);
    c.r = r;
    runner_set_listener(r, on_event, &c);
    if (mode == M_ASYNC) { /* the writer is busy with something else first: the read waits */
        CHECK_INT(store_read_async(st, stall_read, stall_done, &c), STORE_OK);
        pthread_mutex_lock(&c.mu);
        for (int i = 0; i < 1000 && !c.stalled; i++) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += 10 * 1000 * 1000;
            if (ts.tv_nsec >= 1000000000) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000;
            }
            pthread_cond_timedwait(&c.cond, &c.mu, &ts);
        }
        CHECK(c.stalled);
        pthread_mutex_unlock(&c.mu);
    }
    for (uint32_t i = 0; i < nb; i++) {
        feed(ig, &bars[i]);
        if (mode == M_ASYNC && i == 20) { /* 21 live bars in, the read still stalled */
            CHECK_INT(c.restore_asked, 1);
            CHECK_INT(c.restore_answered, 0);
            res->restoring_seen = runner_restoring(r, 0);
            res->ss_restoring_seen = sigstore_restoring(c.ss, runner_symbol(r, 0));
            res->signals_while_restoring = (uint32_t)runner_get_stats(r)->signals;
            CHECK_INT(c.warm_asked, 0); /* the warm-up waits for the restore */
            int ticks = 0;
            loop_timer_add(lp, 1, on_tick, &ticks);
            for (int k = 0; k < 100000 && ticks < 100; k++)
                loop_once(lp, 5);
            res->ticks_while_stalled = (uint32_t)ticks;
            CHECK_INT(c.restore_answered, 0); /* still stalled: the loop ran anyway */
            CHECK(runner_restoring(r, 0));
            pthread_mutex_lock(&c.mu);
            c.released = 1;
            pthread_cond_broadcast(&c.cond);
            pthread_mutex_unlock(&c.mu);
            for (int k = 0; k < 20000 && runner_restoring(r, 0); k++)
                loop_once(lp, 5);
            CHECK(!runner_restoring(r, 0));
            CHECK_INT(c.restore_answered, 1);
        }
    }
    ingest_finish(ig);
    if (mode != M_WRITE)
        runner_finish(r, kclock_now_ms(clk));
    engine *e = runner_engine(r, 0);
    CHECK(e != NULL);
    if (e) {
        CHECK_INT(engine_save(e, &res->blob), K_MODEL_OK);
        /* the writer's parse of a saved state gives the loaded engine's replay point */
        uint64_t id0 = 0, id1 = 1;
        int64_t t0 = 0, t1 = 1;
        engine_replay_from(e, &id0, &t0);
        CHECK_INT(engine_replay_from_state(res->blob.data, res->blob.len, &id1, &t1),
                  K_MODEL_OK);
        CHECK_INT(id1, id0);
        CHECK_INT(t1, t0);
        CHECK(id0 > 0);
        CHECK_INT(engine_replay_from_state(res->blob.data, 64, &id1, &t1),
                  K_MODEL_BAD_STATE); /* a cut state is refused, not read past its end */
        res->scored = engine_scored(e);
        sigstore_get_info(c.ss, e, &res->info);
    }
    res->digest = runner_signal_digest(r);
    res->signals = runner_get_stats(r)->signals;
    res->orders = runner_get_stats(r)->orders;
    res->restore_asked = c.restore_asked;
    res->restore_answered = c.restore_answered;
    res->warm_asked = c.warm_asked;
    res->warm_saw_state = c.warm_saw_state;
    res->warm_while_restoring = c.warm_while_restoring;
    runner_free(r);
    sigstore_free(c.ss); /* M_WRITE: no sigstore_flush, no last checkpoint (as a kill -9) */
    ingest_free(ig);
    kclock_free(clk);
    market_free(m);
    loop_unwatch(lp, store_fd(st));
    store_close(st);
    loop_free(lp);
    pthread_mutex_destroy(&c.mu);
    pthread_cond_destroy(&c.cond);
}

int main(void)
{
    alarm(180);
    char path[512], db[] = "/tmp/kestrel-restore-XXXXXX";
    snprintf(path, sizeof path, "%s/klines/lean_binance_BTCBUSD_1m_2022-12-13.csv",
             check_shared_data());
    klines *k;
    char err[256];
    CHECK_INT(klines_open(&k, path, VENUE_BINANCE_USDM, "BTCUSDT", "", err, sizeof err), K_OK);
    candle *bars = xcalloc(FIRST + LIVE, sizeof *bars);
    uint32_t n = 0;
    feed_event ev;
    int r;
    while (n < FIRST + LIVE && (r = klines_next(k, &ev)) != 0)
        if (r > 0)
            bars[n++] = (candle){.open_ms = ev.u.kline.open_ms, .o = ev.u.kline.o,
                                 .h = ev.u.kline.h, .l = ev.u.kline.l, .c = ev.u.kline.c,
                                 .volume = ev.u.kline.volume};
    klines_close(k);
    CHECK_INT(n, FIRST + LIVE);
    int fd = mkstemp(db);
    CHECK(fd >= 0);
    close(fd);
    unlink(db);

    result w, lg, s, a;
    run(db, bars, FIRST, M_WRITE, &w);
    CHECK(w.signals > 40);
    CHECK(w.info.checkpoints >= 4);
    CHECK_INT(w.info.restored_version, 0); /* nothing stored before it */
    run(db, bars + FIRST, LIVE, M_LEGACY, &lg);
    run(db, bars + FIRST, LIVE, M_SYNC, &s);
    run(db, bars + FIRST, LIVE, M_ASYNC, &a);
    fprintf(stderr,
            "first run: %llu signals, %llu checkpoints; restarts: legacy %llu replayed "
            "(%llu learned), sync %llu, async %llu; %u ticks while the read stalled\n",
            (unsigned long long)w.signals, (unsigned long long)w.info.checkpoints,
            (unsigned long long)lg.info.replayed, (unsigned long long)lg.info.replay_learned,
            (unsigned long long)s.info.replayed, (unsigned long long)a.info.replayed,
            a.ticks_while_stalled);
    /* the state was restored and the rows after the newest checkpoint replayed */
    CHECK(lg.info.restored_version > 0);
    CHECK(lg.info.replayed > 0);
    CHECK(lg.info.replay_learned > 0);
    CHECK(lg.scored > w.scored / 2);
    const result *v[2] = {&s, &a};
    for (int i = 0; i < 2; i++) { /* byte-identical to the blocking path */
        CHECK_INT(v[i]->info.restored_version, lg.info.restored_version);
        CHECK_INT(v[i]->info.restored_time_ms, lg.info.restored_time_ms);
        CHECK_INT(v[i]->info.replayed, lg.info.replayed);
        CHECK_INT(v[i]->info.replay_learned, lg.info.replay_learned);
        CHECK_INT(v[i]->scored, lg.scored);
        CHECK_INT(v[i]->signals, lg.signals);
        CHECK(v[i]->digest == lg.digest);
        CHECK_INT(v[i]->orders, lg.orders);
        CHECK_INT(v[i]->blob.len, lg.blob.len);
        CHECK(v[i]->blob.len == lg.blob.len &&
              memcmp(v[i]->blob.data, lg.blob.data, lg.blob.len) == 0);
        CHECK_INT(v[i]->restore_asked, 1);
        CHECK_INT(v[i]->warm_asked, 1); /* the warm-up after the restore, skipped: a state */
        CHECK_INT(v[i]->warm_saw_state, 1);
        CHECK_INT(v[i]->warm_while_restoring, 0);
    }
    CHECK_INT(s.restore_answered, 0); /* read at once: no answer through the loop */
    /* the loop was not blocked; nothing was signalled or traded before the state */
    CHECK_INT(a.restoring_seen, 1);
    CHECK_INT(a.ss_restoring_seen, 1);
    CHECK_INT(a.signals_while_restoring, 0);
    CHECK_INT(a.ticks_while_stalled, 100);
    model_blob *blobs[4] = {&w.blob, &lg.blob, &s.blob, &a.blob};
    for (int i = 0; i < 4; i++)
        model_blob_free(blobs[i]);
    free(bars);
    unlink(db);
    char side[600];
    snprintf(side, sizeof side, "%s-wal", db);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", db);
    unlink(side);
    snprintf(side, sizeof side, "%s.lock", db);
    unlink(side);
    CHECK_DONE();
}
