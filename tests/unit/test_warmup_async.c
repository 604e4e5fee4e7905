/* The warm-up from stored candles off the main thread (issue 12: "Models warm up from stored or
 * downloaded history before trading"; the loop never waits for the disk). A real SQLite store
 * holds the first 720 1m bars of the real BTCBUSD day; the next 300 arrive live through ingest
 * into a runner whose symbol warms up on the stored ones:
 *   sync:  the warm-up callback reads the candles right away (the old, blocking way);
 *   async: it queues store_load_candles_async on the store's writer thread and returns
 *          RUNNER_WARMUP_PENDING; the loop delivers the bars (store_fd -> store_process ->
 *          runner_warmup_ready) and feeds them 64 per loop turn (runner_warmup_step).
 * The writer thread is first stalled by a read that blocks until the test releases it (the
 * test_learner pattern): meanwhile the loop keeps ticking a 1 ms timer 100 times, live bars keep
 * arriving and wait, the symbol says it is warming up (runner_warming), and no signal is made
 * and nothing trades. Released, the warm-up is fed in chunks (no loop turn feeds more than 64
 * bars) and the result equals the synchronous run's: the same warm-up counts, the same signals
 * (digest) and the same engine state byte for byte (the same samples, the same predictions).
 * The same with the history in a klines file (engine.warmup = a path): klines_load_before, the
 * app's reader, blocking and then on the writer thread through store_read_async (the same
 * request / reply, stalled the same way): byte-identical to the stored candles' run, since the
 * file's first 720 bars are the stored ones. Meanwhile the symbol's live bars are held and
 * applied after the history (runner_warm_info: held = applied, none dropped).
 * Then a real capture (btcusdt_20240808) while the read is stalled: its trades and bars are held
 * up to RUNNER_WARM_QUEUE, the rest dropped and counted by kind (every note accounted for), and
 * the held ones reach the engine once the history is in.
 * Last, the app's replay pump (the next line waits while a warm-up is pending) over two real
 * captures, one symbol warming up on the stored history: the blocking read's signals and engines.
 * Waits are bounded polls; alarm() turns a blocked loop into a failure. */
#include <pthread.h>
#include <unistd.h>

#include "check.h"
#include "kestrel/backtest.h"
#include "kestrel/ingest.h"
#include "kestrel/klines.h"
#include "kestrel/loop.h"
#include "kestrel/replay.h"
#include "kestrel/runner.h"
#include "kestrel/store.h"
#include "kestrel/xmalloc.h"

#define HIST 720
#define LIVE 300

typedef struct warm_ctx {
    store *st;
    runner *r;
    bool async, klines;
    const char *path; /* klines: the file */
    enum venue venue;
    char symbol[KSYM_MAX];
    int64_t before_ms;
    uint32_t max;
    candle *bufs[4]; /* the pump test's, freed at its end */
    uint32_t nbufs;
    candle *buf;
    const market_sym *ms;
    uint32_t requested, delivered;
    /* the stall of the writer thread */
    pthread_mutex_t mu;
    pthread_cond_t cond;
    int stalled, released;
} warm_ctx;

static void warm_done(void *ud, enum store_result rc, uint32_t n)
{
    warm_ctx *w = ud;
    CHECK_INT(rc, STORE_OK);
    w->delivered = n;
    runner_warmup_ready(w->r, w->ms, w->buf, rc == STORE_OK ? n : 0);
}

/* on the writer thread: the app's klines reader (trading_warm_klines does the same) */
static enum store_result klines_read(void *ud, struct sqlite3 *db, uint32_t *n)
{
    (void)db;
    warm_ctx *w = ud;
    char err[256];
    if (klines_load_before(w->path, w->venue, w->symbol, w->before_ms, w->buf, w->max, n, err,
                           sizeof err) != K_OK)
        return STORE_E_READ;
    return STORE_OK;
}

static uint32_t warm_cb(void *ud, const market_sym *ms, int64_t before_ms, candle *out,
                        uint32_t max)
{
    warm_ctx *w = ud;
    w->requested++;
    if (w->klines && !w->async) {
        uint32_t n = 0;
        char err[256];
        CHECK_INT(klines_load_before(w->path, ms->venue, ms->name, before_ms, out, max, &n, err,
                                     sizeof err),
                  K_OK);
        return n;
    }
    if (w->klines) {
        w->ms = ms;
        w->buf = xmalloc(max * sizeof *w->buf);
        w->venue = ms->venue;
        snprintf(w->symbol, sizeof w->symbol, "%s", ms->name);
        w->before_ms = before_ms;
        w->max = max;
        CHECK_INT(store_read_async(w->st, klines_read, warm_done, w), STORE_OK);
        return RUNNER_WARMUP_PENDING;
    }
    if (!w->async) {
        uint32_t n = 0;
        CHECK_INT(store_load_candles(w->st, ms->venue, ms->name, TF_1M, before_ms, out, max, &n),
                  STORE_OK);
        return n;
    }
    w->ms = ms;
    w->buf = xmalloc(max * sizeof *w->buf);
    CHECK_INT(store_load_candles_async(w->st, ms->venue, ms->name, TF_1M, before_ms, w->buf, max,
                                       warm_done, w),
              STORE_OK);
    return RUNNER_WARMUP_PENDING;
}

/* the pump test's warm-up: stored candles, blocking or on the writer (one buffer per symbol) */
typedef struct pump_req {
    warm_ctx *w;
    const market_sym *ms;
    candle *buf;
} pump_req;

static void pump_done(void *ud, enum store_result rc, uint32_t n)
{
    pump_req *q = ud;
    CHECK_INT(rc, STORE_OK);
    runner_warmup_ready(q->w->r, q->ms, q->buf, rc == STORE_OK ? n : 0);
    free(q);
}

static uint32_t pump_warm_cb(void *ud, const market_sym *ms, int64_t before_ms, candle *out,
                             uint32_t max)
{
    warm_ctx *w = ud;
    if (!w->async) {
        uint32_t n = 0;
        CHECK_INT(store_load_candles(w->st, ms->venue, ms->name, TF_1M, before_ms, out, max, &n),
                  STORE_OK);
        return n;
    }
    pump_req *q = xcalloc(1, sizeof *q);
    q->w = w;
    q->ms = ms;
    q->buf = xmalloc(max * sizeof *q->buf);
    if (w->nbufs < 4)
        w->bufs[w->nbufs++] = q->buf;
    CHECK_INT(store_load_candles_async(w->st, ms->venue, ms->name, TF_1M, before_ms, q->buf, max,
                                       pump_done, q),
              STORE_OK);
    return RUNNER_WARMUP_PENDING;
}

static enum store_result stall_read(void *ud, struct sqlite3 *db, uint32_t *n)
{
    (void)db;
    warm_ctx *w = ud;
    pthread_mutex_lock(&w->mu);
    w->stalled = 1;
    pthread_cond_broadcast(&w->cond);
    while (!w->released)
        pthread_cond_wait(&w->cond, &w->mu);
    pthread_mutex_unlock(&w->mu);
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

typedef struct ticker {
    int ticks;
    uint32_t turns, max_chunk, left;
    runner *r;
} ticker;

static void on_tick(loop *l, uint64_t id, void *ud)
{
    (void)id;
    ticker *t = ud;
    if (++t->ticks < 100)
        loop_timer_add(l, 1, on_tick, t);
}

typedef struct result {
    engine_warmup_stats ws;
    uint64_t digest, signals, orders;
    model_blob blob;
    uint32_t turns, max_chunk, signals_while_warming, ticks_while_stalled;
    bool warming_seen;
    runner_warm_held held;
} result;

static void run(const char *db, const candle *bars, bool async, const char *klines_path,
                result *res)
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
    warm_ctx w;
    memset(&w, 0, sizeof w);
    w.st = st;
    w.async = async;
    w.klines = klines_path != NULL;
    w.path = klines_path;
    pthread_mutex_init(&w.mu, NULL);
    pthread_cond_init(&w.cond, NULL);
    runner_config c;
    backtest_config_default(&c);
    c.signal_interval_ms = 0; /* signals on bar closes only: the same points in both runs */
    c.auto_trade = true;
    c.warmup = warm_cb;
    c.warmup_ud = &w;
    c.warmup_max = HIST;
    runner *r = runner_new(m, clk, &c);
    CHECK(r != NULL);
    w.r = r;
    if (async) { /* the writer is busy with something else first: the warm-up read waits */
        CHECK_INT(store_read_async(st, stall_read, stall_done, &w), STORE_OK);
        pthread_mutex_lock(&w.mu);
        for (int i = 0; i < 1000 && !w.stalled; i++) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += 10 * 1000 * 1000;
            if (ts.tv_nsec >= 1000000000) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000;
            }
            pthread_cond_timedwait(&w.cond, &w.mu, &ts);
        }
        CHECK(w.stalled);
        pthread_mutex_unlock(&w.mu);
    }
    for (uint32_t i = 0; i < LIVE; i++) {
        feed_event ev;
        memset(&ev, 0, sizeof ev);
        ev.kind = FEED_KLINE;
        ev.venue = VENUE_BINANCE_USDM;
        snprintf(ev.symbol, sizeof ev.symbol, "BTCUSDT");
        const candle *b = &bars[HIST + i];
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
        if (async && i == 20) { /* 21 live bars in, the read still stalled */
            CHECK_INT(w.requested, 1);
            CHECK_INT(w.delivered, 0);
            CHECK(runner_warming(r, 0, NULL, NULL));
            res->warming_seen = runner_warming(r, 0, NULL, NULL);
            res->signals_while_warming = (uint32_t)runner_get_stats(r)->signals;
            ticker t = {0};
            loop_timer_add(lp, 1, on_tick, &t);
            for (int k = 0; k < 100000 && t.ticks < 100; k++)
                loop_once(lp, 5);
            res->ticks_while_stalled = (uint32_t)t.ticks;
            CHECK_INT(w.delivered, 0); /* still stalled: the loop ran anyway */
            pthread_mutex_lock(&w.mu);
            w.released = 1;
            pthread_cond_broadcast(&w.cond);
            pthread_mutex_unlock(&w.mu);
            /* the bars come back through the loop, then a chunk per turn */
            for (int k = 0; k < 20000; k++) {
                loop_once(lp, 5);
                if (w.delivered == 0)
                    continue;
                uint64_t fed0 = 0, fed1 = 0;
                (void)runner_warming(r, 0, &fed0, NULL);
                (void)runner_warmup_step(r, 64);
                if (!runner_warming(r, 0, &fed1, NULL)) { /* the last chunk: the final count */
                    engine_warmup_stats fin;
                    engine_warmup_info(runner_engine(r, 0), &fin);
                    fed1 = fin.bars;
                }
                res->turns++;
                uint32_t chunk = (uint32_t)(fed1 - fed0);
                res->max_chunk = chunk > res->max_chunk ? chunk : res->max_chunk;
                if (!runner_warming(r, 0, NULL, NULL))
                    break;
            }
            CHECK(!runner_warming(r, 0, NULL, NULL));
        }
    }
    ingest_finish(ig);
    runner_finish(r, kclock_now_ms(clk));
    engine *e = runner_engine(r, 0);
    CHECK(e != NULL);
    if (e) {
        engine_warmup_info(e, &res->ws);
        CHECK_INT(engine_save(e, &res->blob), K_MODEL_OK);
    }
    runner_warm_info(r, 0, &res->held);
    res->digest = runner_signal_digest(r);
    res->signals = runner_get_stats(r)->signals;
    res->orders = runner_get_stats(r)->orders;
    runner_free(r);
    ingest_free(ig);
    kclock_free(clk);
    market_free(m);
    loop_unwatch(lp, store_fd(st));
    store_close(st);
    loop_free(lp);
    free(w.buf);
    pthread_mutex_destroy(&w.mu);
    pthread_cond_destroy(&w.cond);
}

/* counts the notes of the capture's symbol that a warming runner would hold */
typedef struct note_count {
    uint64_t trades, bars, funding;
} note_count;

static void count_note(void *ud, const market_note *n)
{
    note_count *c = ud;
    if (n->kind == MARKET_TRADE)
        c->trades++;
    else if (n->kind == MARKET_BAR_CLOSED)
        c->bars++;
    else if (n->kind == MARKET_FUNDING)
        c->funding++;
}

/* A real capture while the warm-up read is stalled: the trades and bars are held up to the
 * bound, the rest dropped and counted; released, the held ones reach the engine. */
static void test_capture_held(const char *db)
{
    char err[512];
    store *st = NULL;
    CHECK_INT(store_open(&st, db, NULL, err, sizeof err), STORE_OK);
    if (!st)
        return;
    static const char *const spec[] = {"data/replay/btcusdt_20240808.gz"};
    replay *rp = NULL;
    CHECK_INT(replay_open(&rp, spec, 1, err, sizeof err), K_OK);
    if (!rp) {
        store_close(st);
        return;
    }
    loop *lp = loop_new();
    CHECK_INT(loop_watch(lp, store_fd(st), LOOP_READ, on_store, st), K_OK);
    market *m = market_new(NULL);
    kclock *clk = kclock_new_simulated();
    ingest *ig = ingest_new(m, clk, NULL);
    note_count nc = {0};
    (void)market_subscribe(m, count_note, &nc);
    warm_ctx w;
    memset(&w, 0, sizeof w);
    w.st = st;
    w.async = true;
    pthread_mutex_init(&w.mu, NULL);
    pthread_cond_init(&w.cond, NULL);
    runner_config c;
    runner_config_default(&c);
    c.warmup = warm_cb;
    c.warmup_ud = &w;
    c.warmup_max = HIST;
    runner *r = runner_new(m, clk, &c);
    CHECK(r != NULL);
    w.r = r;
    CHECK_INT(store_read_async(st, stall_read, stall_done, &w), STORE_OK);
    for (int i = 0; i < 2000; i++) { /* the writer is stalled before any line */
        pthread_mutex_lock(&w.mu);
        int st_ = w.stalled;
        pthread_mutex_unlock(&w.mu);
        if (st_)
            break;
        loop_once(lp, 5);
    }
    replay_line ln;
    while (nc.trades < RUNNER_WARM_QUEUE + 2000 && replay_next(rp, &ln) > 0)
        (void)ingest_replay_line(ig, rp, &ln, NULL);
    CHECK_INT(runner_symbols(r), 1);
    CHECK(runner_warming(r, 0, NULL, NULL));
    runner_warm_held h;
    runner_warm_info(r, 0, &h);
    uint64_t dropped = h.dropped_bars + h.dropped_trades + h.dropped_other;
    CHECK_INT(h.held, RUNNER_WARM_QUEUE);
    CHECK_INT(h.waiting, RUNNER_WARM_QUEUE);
    CHECK(h.dropped_trades >= 2000);
    CHECK_INT(h.held + dropped, nc.trades + nc.bars + nc.funding); /* every note accounted for */
    CHECK_INT(runner_get_stats(r)->signals, 0);
    pthread_mutex_lock(&w.mu);
    w.released = 1;
    pthread_cond_broadcast(&w.cond);
    pthread_mutex_unlock(&w.mu);
    for (int k = 0; k < 20000 && runner_warming(r, 0, NULL, NULL); k++) {
        loop_once(lp, 5);
        if (w.delivered || w.requested)
            (void)runner_warmup_step(r, 64);
    }
    CHECK(!runner_warming(r, 0, NULL, NULL));
    runner_warm_info(r, 0, &h);
    CHECK_INT(h.applied, RUNNER_WARM_QUEUE);
    CHECK_INT(h.waiting, 0);
    /* the held trades reached the engine: its signals come from here on */
    while (replay_next(rp, &ln) > 0 && runner_get_stats(r)->signals < 3)
        (void)ingest_replay_line(ig, rp, &ln, NULL);
    CHECK(runner_get_stats(r)->signals >= 3);
    fprintf(stderr, "capture while stalled: %llu trades, %llu bars; held %llu (applied %llu), "
            "dropped %llu trades, %llu bars\n", (unsigned long long)nc.trades,
            (unsigned long long)nc.bars, (unsigned long long)h.held,
            (unsigned long long)h.applied, (unsigned long long)h.dropped_trades,
            (unsigned long long)h.dropped_bars);
    runner_free(r);
    ingest_free(ig);
    kclock_free(clk);
    market_free(m);
    replay_close(rp);
    loop_unwatch(lp, store_fd(st));
    store_close(st);
    loop_free(lp);
    free(w.buf);
    pthread_mutex_destroy(&w.mu);
    pthread_cond_destroy(&w.cond);
}

/* The app's replay pump (app_pump): a line, and while a warm-up is pending the next line waits
 * (the loop runs, the reply comes, a chunk per turn). Over two real captures (BTCUSDT warming up
 * on the stored history, ETHUSDT on none) with a signal a second, the result is the blocking
 * read's: the same signals (digest) and every engine byte for byte. */
static void pump_run(const char *db, bool async, uint64_t *digest, uint64_t *signals,
                     model_blob *blobs, uint32_t *nsyms)
{
    char err[512];
    store *st = NULL;
    CHECK_INT(store_open(&st, db, NULL, err, sizeof err), STORE_OK);
    static const char *const spec[] = {"data/replay/btcusdt_20240808.gz",
                                       "data/replay/ethusdt_20240808.gz"};
    replay *rp = NULL;
    CHECK_INT(replay_open(&rp, spec, 2, err, sizeof err), K_OK);
    if (!st || !rp)
        return;
    loop *lp = loop_new();
    CHECK_INT(loop_watch(lp, store_fd(st), LOOP_READ, on_store, st), K_OK);
    market *m = market_new(NULL);
    kclock *clk = kclock_new_simulated();
    ingest *ig = ingest_new(m, clk, NULL);
    warm_ctx w;
    memset(&w, 0, sizeof w);
    w.st = st;
    w.async = async;
    runner_config c;
    runner_config_default(&c);
    c.signal_interval_ms = 1000;
    c.auto_trade = true;
    c.warmup = pump_warm_cb;
    c.warmup_ud = &w;
    c.warmup_max = HIST;
    runner *r = runner_new(m, clk, &c);
    CHECK(r != NULL);
    w.r = r;
    replay_line ln;
    uint32_t waits = 0, stuck = 0;
    while (replay_next(rp, &ln) > 0) {
        (void)ingest_replay_line(ig, rp, &ln, NULL);
        if (runner_warmups_pending(r))
            waits++;
        for (int k = 0; k < 20000 && runner_warmups_pending(r); k++) {
            loop_once(lp, 5);
            (void)runner_warmup_step(r, 64);
        }
        stuck += runner_warmups_pending(r);
    }
    CHECK_INT(waits, async ? 2u : 0u); /* one per symbol */
    CHECK_INT(stuck, 0);
    uint64_t warm_bars = 0;
    for (uint32_t i = 0; i < runner_symbols(r); i++) {
        engine_warmup_stats ws;
        engine_warmup_info(runner_engine(r, i), &ws);
        warm_bars += ws.bars;
    }
    CHECK_INT(warm_bars, HIST); /* BTCUSDT on the stored history, ETHUSDT on none */
    ingest_finish(ig);
    runner_finish(r, kclock_now_ms(clk));
    *digest = runner_signal_digest(r);
    *signals = runner_get_stats(r)->signals;
    *nsyms = runner_symbols(r);
    for (uint32_t i = 0; i < *nsyms && i < 2; i++)
        CHECK_INT(engine_save(runner_engine(r, i), &blobs[i]), K_MODEL_OK);
    runner_free(r);
    ingest_free(ig);
    kclock_free(clk);
    market_free(m);
    replay_close(rp);
    loop_unwatch(lp, store_fd(st));
    store_close(st);
    loop_free(lp);
    for (uint32_t i = 0; i < w.nbufs; i++)
        free(w.bufs[i]);
}

static void test_pump_parity(const char *db)
{
    uint64_t d[2], n[2];
    uint32_t ns[2];
    model_blob b[2][2];
    memset(b, 0, sizeof b);
    pump_run(db, false, &d[0], &n[0], b[0], &ns[0]);
    pump_run(db, true, &d[1], &n[1], b[1], &ns[1]);
    fprintf(stderr, "replay pump over 2 captures: %llu signals blocking, %llu async, digests "
            "%016llx %016llx\n", (unsigned long long)n[0], (unsigned long long)n[1],
            (unsigned long long)d[0], (unsigned long long)d[1]);
    CHECK_INT(ns[0], 2);
    CHECK_INT(ns[1], 2);
    CHECK(n[0] > 100);
    CHECK_INT(n[1], n[0]);
    CHECK(d[0] == d[1]);
    for (int i = 0; i < 2; i++) {
        CHECK(b[0][i].len > 0 && b[0][i].len == b[1][i].len &&
              memcmp(b[0][i].data, b[1][i].data, b[0][i].len) == 0);
        model_blob_free(&b[0][i]);
        model_blob_free(&b[1][i]);
    }
}

int main(void)
{
    alarm(120);
    char path[512], db[] = "/tmp/kestrel-warmup-XXXXXX";
    snprintf(path, sizeof path, "%s/klines/lean_binance_BTCBUSD_1m_2022-12-13.csv",
             check_shared_data());
    klines *k;
    char err[256];
    CHECK_INT(klines_open(&k, path, VENUE_BINANCE_USDM, "BTCUSDT", "", err, sizeof err), K_OK);
    candle *bars = xcalloc(HIST + LIVE, sizeof *bars);
    uint32_t n = 0;
    feed_event ev;
    int r;
    while (n < HIST + LIVE && (r = klines_next(k, &ev)) != 0)
        if (r > 0)
            bars[n++] = (candle){.open_ms = ev.u.kline.open_ms, .o = ev.u.kline.o,
                                 .h = ev.u.kline.h, .l = ev.u.kline.l, .c = ev.u.kline.c,
                                 .volume = ev.u.kline.volume};
    klines_close(k);
    CHECK_INT(n, HIST + LIVE);
    int fd = mkstemp(db);
    CHECK(fd >= 0);
    close(fd);
    unlink(db);
    { /* the stored history */
        store *st = NULL;
        CHECK_INT(store_open(&st, db, NULL, err, sizeof err), STORE_OK);
        for (uint32_t i = 0; i < HIST && st; i++) {
            CHECK_INT(store_put_candle(st, VENUE_BINANCE_USDM, "BTCUSDT", TF_1M, &bars[i]),
                      STORE_OK);
            /* the pump test's BTCUSDT capture (spot) warms up on the same real history */
            CHECK_INT(store_put_candle(st, VENUE_BINANCE_SPOT, "BTCUSDT", TF_1M, &bars[i]),
                      STORE_OK);
        }
        store_close(st);
    }
    result s, a;
    run(db, bars, false, NULL, &s);
    run(db, bars, true, NULL, &a);
    result ks, ka;
    run(db, bars, false, path, &ks);
    run(db, bars, true, path, &ka);
    fprintf(stderr,
            "sync: %llu warm-up bars, %llu scored, %llu signals; async: %llu bars, %llu scored, "
            "%llu signals, %u ticks while the read stalled, fed in %u turns of <= %u bars\n",
            (unsigned long long)s.ws.bars, (unsigned long long)s.ws.scored,
            (unsigned long long)s.signals, (unsigned long long)a.ws.bars,
            (unsigned long long)a.ws.scored, (unsigned long long)a.signals,
            a.ticks_while_stalled, a.turns, a.max_chunk);
    CHECK_INT(s.ws.bars, HIST);
    CHECK(s.ws.scored > HIST / 2);
    /* the same result */
    CHECK_INT(a.ws.bars, s.ws.bars);
    CHECK_INT(a.ws.signals, s.ws.signals);
    CHECK_INT(a.ws.scored, s.ws.scored);
    CHECK_INT(a.ws.discarded, s.ws.discarded);
    CHECK_INT(a.signals, s.signals);
    CHECK(a.digest == s.digest);
    CHECK_INT(a.orders, s.orders);
    CHECK_INT(a.blob.len, s.blob.len);
    CHECK(a.blob.len == s.blob.len && memcmp(a.blob.data, s.blob.data, s.blob.len) == 0);
    /* the loop was not blocked, nothing was signalled or traded before the history */
    CHECK(a.warming_seen);
    CHECK_INT(a.signals_while_warming, 0);
    CHECK_INT(a.ticks_while_stalled, 100);
    CHECK(a.max_chunk <= 64 && a.max_chunk > 0);
    CHECK(a.turns >= HIST / 64);
    /* the live bars that came meanwhile were held and applied after the history */
    CHECK(a.held.held >= 21);
    CHECK_INT(a.held.applied, a.held.held);
    CHECK_INT(a.held.dropped_bars + a.held.dropped_trades + a.held.dropped_other, 0);
    CHECK_INT(a.held.waiting, 0);
    CHECK_INT(s.held.held, 0); /* the blocking read: nothing waited */
    /* the klines file, blocking and on the writer thread: the same result, byte for byte */
    const result *kr[2] = {&ks, &ka};
    for (int i = 0; i < 2; i++) {
        CHECK_INT(kr[i]->ws.bars, s.ws.bars);
        CHECK_INT(kr[i]->ws.scored, s.ws.scored);
        CHECK_INT(kr[i]->signals, s.signals);
        CHECK(kr[i]->digest == s.digest);
        CHECK_INT(kr[i]->orders, s.orders);
        CHECK(kr[i]->blob.len == s.blob.len &&
              memcmp(kr[i]->blob.data, s.blob.data, s.blob.len) == 0);
    }
    CHECK(ka.warming_seen);
    CHECK_INT(ka.signals_while_warming, 0);
    CHECK_INT(ka.ticks_while_stalled, 100);
    CHECK(ka.max_chunk <= 64 && ka.max_chunk > 0);
    CHECK_INT(ka.held.applied, ka.held.held);
    CHECK(ka.held.held >= 21);
    fprintf(stderr, "klines: blocking %llu bars, on the writer %llu bars (%u ticks while "
            "stalled), the same digest\n", (unsigned long long)ks.ws.bars,
            (unsigned long long)ka.ws.bars, ka.ticks_while_stalled);
    model_blob_free(&ks.blob);
    model_blob_free(&ka.blob);
    test_capture_held(db);
    test_pump_parity(db);
    model_blob_free(&s.blob);
    model_blob_free(&a.blob);
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
