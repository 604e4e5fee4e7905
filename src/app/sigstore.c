/* The signal engine's persistence (sigstore.h). It owns, per engine, how far its history rows
 * have been written (the newest signal id written, and the id up to which every row is final:
 * scored, or past its horizon without a score because it was dropped), the data-clock hour of
 * the last metrics document and the time of the last checkpoint. Rows go to the store's market
 * lane (store_put_signal: an upsert, so a scored row replaces its unscored one); checkpoints are
 * control rows (never dropped) and at most one per engine per state_interval of data time. The
 * restore (the newest model state and the signals stored after it) and the AI screen's reads of
 * older signals run on the store's writer thread (store_read_async), in a replay too (its pump
 * holds the next line until the answer is back). The export side reads the database read-only,
 * without the store's lock. */
#include "kestrel/sigstore.h"

#include "kestrel/xmalloc.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SIGSTORE_HOUR_MS 3600000LL
#define SIGSTORE_CACHE 32 /* stored reasons kept for the screen */
#define SIGSTORE_REPLAY_MAX 20000u /* rows read after a checkpoint (a week of 30 s signals) */
#define SIGSTORE_WHY_READS 8 /* reasons reads in flight at once (the rows on the screen) */

typedef struct sigstore_sym {
    const market_sym *ms;
    const engine *e;
    enum venue venue;
    char symbol[KSYM_MAX];
    uint64_t written_id; /* newest signal id written (unscored or scored) */
    uint64_t final_id;   /* every row with id <= this has been written in its final form */
    int64_t hour;        /* data-clock hour of the last metrics document (-1: none yet) */
    int64_t last_ckpt_ms;
    sigstore_info info;
    struct {
        uint64_t id;
        char text[160];
        sigstore_detail detail;
    } reasons[SIGSTORE_REASONS]; /* by id % SIGSTORE_REASONS */
} sigstore_sym;

struct sigstore {
    store *st;
    klog *log;
    int64_t state_interval_ms;
    sigstore_sym *syms;
    uint32_t n, cap;
    sigstore_info total;
    /* reasons of older signals read back from the table for the AI screen */
    struct sigstore_cached {
        const market_sym *ms;
        uint64_t id;
        int64_t time_ms;
        int state; /* 0 free, 1 being read (on the writer thread), 2 read */
        char text[512];
    } cache[SIGSTORE_CACHE];
    uint32_t cache_next;
    struct sigstore_why_read *why_busy[SIGSTORE_WHY_READS]; /* the reads in flight */
    /* the replay record of one older signal, read on the writer thread for the AI screen */
    struct sigstore_rec_read *rec_busy; /* the read in flight (its ss cleared when freed) */
    struct {
        const market_sym *ms;
        uint64_t id;
        int64_t time_ms;
        int state; /* 1 read, -1 none stored, 0 nothing yet */
        uint8_t *data;
        size_t len;
        char weights[ENSEMBLE_MAX_MODELS * 16 + 1];
    } rec;
    uint64_t seq;
    /* the restore reads (sigstore_restore_read), one per symbol, kept until its engine takes
     * it (sigstore_on_engine) */
    struct sigstore_restore **rst;
    uint32_t nrst, crst;
};

/* One stored signal after a checkpoint, as read for the restore. */
struct sigstore_rrow {
    store_signal g; /* (reasons / replay NULL) */
    void *rec;
    size_t len;
};

/* One restore read: the newest model state of a symbol and the signals stored after it. Owned
 * by the writer until its callback runs (async), then by the sigstore until applied. */
struct sigstore_restore {
    sigstore *ss; /* NULL: the sigstore was freed meanwhile (the callback frees it) */
    const market_sym *ms;
    enum venue venue;
    char symbol[KSYM_MAX];
    sigstore_restored_fn fn;
    void *ud;
    bool answered;
    enum store_result rc, rows_rc; /* the state's read, the rows' */
    void *blob;
    size_t len;
    int64_t t, ver;
    struct sigstore_rrow *rows;
    uint32_t nrows, crows;
};

/* One reasons read: owned by the writer until its callback runs. */
struct sigstore_why_read {
    sigstore *ss; /* NULL: the sigstore was freed meanwhile */
    const market_sym *ms;
    enum venue venue;
    char symbol[KSYM_MAX];
    uint64_t id;
    int64_t time_ms;
    char text[512];
};

/* One record read: owned by the writer until its callback runs. */
struct sigstore_rec_read {
    sigstore *ss; /* NULL: the sigstore was freed meanwhile */
    const market_sym *ms;
    enum venue venue;
    char symbol[KSYM_MAX];
    uint64_t id;
    int64_t time_ms;
    uint8_t *data;
    size_t len;
    char weights[ENSEMBLE_MAX_MODELS * 16 + 1]; /* "" when the row has none (before migration 12) */
};

static void sigstore_restore_free(struct sigstore_restore *j)
{
    if (!j)
        return;
    for (uint32_t i = 0; i < j->nrows; i++)
        free(j->rows[i].rec);
    free(j->rows);
    free(j->blob);
    free(j);
}

sigstore *sigstore_new(store *st, klog *log, int64_t state_interval_ms)
{
    sigstore *ss = xcalloc(1, sizeof *ss);
    ss->st = st;
    ss->log = log;
    ss->state_interval_ms = state_interval_ms;
    return ss;
}

void sigstore_free(sigstore *ss)
{
    if (!ss)
        return;
    if (ss->rec_busy)
        ss->rec_busy->ss = NULL; /* its callback frees it */
    for (uint32_t i = 0; i < SIGSTORE_WHY_READS; i++)
        if (ss->why_busy[i])
            ss->why_busy[i]->ss = NULL; /* its callback frees it */
    for (uint32_t i = 0; i < ss->nrst; i++) {
        if (ss->rst[i]->answered)
            sigstore_restore_free(ss->rst[i]);
        else
            ss->rst[i]->ss = NULL; /* its callback frees it */
    }
    free(ss->rst);
    free(ss->rec.data);
    free(ss->syms);
    free(ss);
}

static sigstore_sym *sigstore_find(sigstore *ss, const engine *e)
{
    for (uint32_t i = 0; i < ss->n; i++)
        if (ss->syms[i].e == e)
            return &ss->syms[i];
    return NULL;
}

static sigstore_sym *sigstore_add(sigstore *ss, const market_sym *ms, const engine *e)
{
    sigstore_sym *y = sigstore_find(ss, e);
    if (y)
        return y;
    if (ss->n == ss->cap) {
        ss->cap = ss->cap ? ss->cap * 2 : 4;
        ss->syms = xrealloc(ss->syms, ss->cap * sizeof *ss->syms);
    }
    y = &ss->syms[ss->n++];
    memset(y, 0, sizeof *y);
    y->ms = ms;
    y->e = e;
    y->venue = ms->venue;
    snprintf(y->symbol, sizeof y->symbol, "%s", ms->name);
    y->hour = -1;
    y->last_ckpt_ms = INT64_MIN;
    return y;
}

void sigstore_row(const metrics_signal_row *r, store_signal *g)
{
    memset(g, 0, sizeof *g);
    g->id = r->id;
    g->time_ms = r->time_ms;
    g->horizon_end_ms = r->horizon_end_ms;
    snprintf(g->action, sizeof g->action, "%s", metrics_class_name(r->action));
    memcpy(g->p, r->p, sizeof g->p);
    g->confidence = r->confidence;
    g->strength = r->strength;
    g->scored = r->scored;
    if (r->scored) {
        snprintf(g->outcome, sizeof g->outcome, "%s", metrics_class_name(r->outcome));
        snprintf(g->result, sizeof g->result, "%s", metrics_result_name(r->result));
        g->ret = r->ret;
        g->mfe = r->mfe;
        g->mae = r->mae;
    }
    snprintf(g->regime, sizeof g->regime, "%s", r->regime);
    snprintf(g->source, sizeof g->source, "%s", r->source);
    snprintf(g->first_hit, sizeof g->first_hit, "%s", r->first_hit);
    g->traded = r->traded;
}

static void sigstore_put(sigstore *ss, sigstore_sym *y, const metrics_signal_row *r, bool fresh)
{
    store_signal g;
    sigstore_row(r, &g);
    size_t k = r->id % SIGSTORE_REASONS;
    char wts[ENSEMBLE_MAX_MODELS * 16 + 1];
    if (fresh && y->reasons[k].id == r->id) {
        g.reasons = y->reasons[k].text; /* the first write of the row carries its reasons */
        const sigstore_detail *d = &y->reasons[k].detail; /* and every model's weight */
        size_t off = 0;
        wts[0] = '\0';
        for (uint32_t i = 0; i < d->nmodels && off < sizeof wts; i++) {
            int w = snprintf(wts + off, sizeof wts - off, "%s%.4f", i ? "," : "",
                             (double)d->models[i].weight);
            off += w > 0 ? (size_t)w : 0;
        }
        if (d->nmodels)
            g.weights = wts;
    }
    model_blob rec = { 0 };
    if (fresh && engine_record(y->e, r->id, &rec) == K_MODEL_OK) { /* and its replay record */
        g.replay = rec.data;
        g.replay_len = rec.len;
    }
    enum store_result sr = store_put_signal(ss->st, y->venue, y->symbol, &g);
    model_blob_free(&rec);
    if (sr != STORE_OK)
        return; /* a drop is counted and reported by the store's health */
    y->info.signals_written++;
    ss->total.signals_written++;
    if (r->scored) {
        y->info.scored_written++;
        ss->total.scored_written++;
    }
}

/* Rows newer than written_id (the new signal) and rows scored since final_id. A row is final
 * once scored, or (advanced: the engine has scored everything due by now_ms) unscored past its
 * horizon: dropped by the pending cap. Scoring is FIFO, so final rows are a prefix. */
static void sigstore_scan(sigstore *ss, sigstore_sym *y, int64_t now_ms, bool advanced)
{
    const engine *e = y->e;
    uint32_t n = engine_history_len(e);
    if (n == 0)
        return;
    uint64_t first = engine_history(e, 0)->id; /* history ids are consecutive */
    uint64_t from = y->final_id + 1 > first ? y->final_id + 1 : first;
    bool prefix = true;
    for (uint64_t id = from; id < first + n; id++) {
        const metrics_signal_row *r = engine_history(e, (uint32_t)(id - first));
        if (id > y->written_id || r->scored)
            sigstore_put(ss, y, r, id > y->written_id); /* an upsert: scoring updates it */
        if (id > y->written_id)
            y->written_id = id;
        bool final = r->scored || (advanced && r->horizon_end_ms <= now_ms);
        if (prefix && final)
            y->final_id = id;
        else
            prefix = false;
    }
}

static void sigstore_metrics(sigstore *ss, sigstore_sym *y, int64_t now_ms)
{
    cJSON *m = engine_metrics_json(y->e);
    char *txt = m ? cJSON_PrintUnformatted(m) : NULL;
    cJSON_Delete(m);
    if (!txt) {
        if (ss->log)
            log_error(ss->log, "metrics of %s not stored: out of memory", y->symbol);
        return;
    }
    if (store_put_metrics(ss->st, y->venue, y->symbol, now_ms, txt) == STORE_OK) {
        y->info.metrics_written++;
        ss->total.metrics_written++;
    }
    cJSON_free(txt);
}

static void sigstore_checkpoint(sigstore *ss, sigstore_sym *y, int64_t now_ms)
{
    model_blob b = {0};
    enum model_result r = engine_save(y->e, &b);
    if (r == K_MODEL_OK &&
        store_put_model_state(ss->st, y->venue, y->symbol, now_ms, b.data, b.len,
                              SIGSTORE_KEEP) == STORE_OK) {
        y->info.checkpoints++;
        ss->total.checkpoints++;
    } else if (ss->log) {
        log_error(ss->log, "model state of %s not checkpointed: %s", y->symbol,
                  r == K_MODEL_OK ? "refused by the store" : model_strerror(r));
    }
    model_blob_free(&b);
    y->last_ckpt_ms = now_ms;
}

struct sigstore_replay {
    engine *e;
    uint64_t seen, replayed, learned, refused;
};

/* One stored signal after the restored checkpoint (store_load_signals_after). */
static void sigstore_replay_one(void *ud, const store_signal *g, const void *rec, size_t len)
{
    struct sigstore_replay *rp = ud;
    rp->seen++;
    if (!rec) {
        rp->refused++;
        return;
    }
    metrics_signal_row r;
    memset(&r, 0, sizeof r);
    r.id = g->id;
    r.time_ms = g->time_ms;
    r.horizon_end_ms = g->horizon_end_ms;
    r.action = metrics_class_parse(g->action);
    memcpy(r.p, g->p, sizeof r.p);
    r.confidence = g->confidence;
    r.strength = g->strength;
    r.scored = g->scored;
    if (g->scored) {
        r.outcome = metrics_class_parse(g->outcome);
        r.result = !strcmp(g->result, "win") ? 1 : !strcmp(g->result, "loss") ? -1 : 0;
        r.ret = g->ret;
        r.mfe = g->mfe;
        r.mae = g->mae;
    }
    snprintf(r.regime, sizeof r.regime, "%s", g->regime);
    snprintf(r.source, sizeof r.source, "%s", g->source);
    snprintf(r.first_hit, sizeof r.first_hit, "%s", g->first_hit);
    r.traded = g->traded;
    if (engine_replay(rp->e, rec, len, &r) == K_MODEL_OK) {
        rp->replayed++;
        rp->learned += r.scored;
    } else {
        rp->refused++; /* another run's row with the same id, or the checkpoint has it */
    }
}

/* ---- the restore ---------------------------------------------------------------------- */

/* One stored row after the checkpoint, copied into the read (store_read_signals_after). */
static void sigstore_restore_row(void *ud, const store_signal *g, const void *rec, size_t len)
{
    struct sigstore_restore *j = ud;
    if (j->nrows == j->crows) {
        j->crows = j->crows ? j->crows * 2 : 16;
        j->rows = xrealloc(j->rows, j->crows * sizeof *j->rows);
    }
    struct sigstore_rrow *w = &j->rows[j->nrows++];
    w->g = *g;
    w->g.reasons = NULL;
    w->g.replay = NULL;
    w->rec = NULL;
    w->len = 0;
    if (rec && len) {
        w->rec = xmalloc(len);
        memcpy(w->rec, rec, len);
        w->len = len;
    }
}

/* The read itself, on db (the writer's connection: async) or st's read connection (db NULL):
 * the newest state, then the rows from its replay point on (engine_replay_from_state: the
 * same point engine_replay_from gives once it is loaded), every time after it. The rows'
 * upper bound in data time (the engine's first signal) is applied when the state is. */
static void sigstore_restore_fill(struct sigstore_restore *j, sqlite3 *db, store *st)
{
    j->rc = db ? store_read_model_state(db, j->venue, j->symbol, &j->blob, &j->len, &j->t,
                                        &j->ver)
               : store_load_model_state(st, j->venue, j->symbol, &j->blob, &j->len, &j->t,
                                        &j->ver);
    j->rows_rc = STORE_OK;
    uint64_t from;
    int64_t from_ms;
    if (j->rc != STORE_OK ||
        engine_replay_from_state(j->blob, j->len, &from, &from_ms) != K_MODEL_OK)
        return; /* nothing to replay into (engine_load refuses a state it cannot parse) */
    if (from_ms == INT64_MIN)
        from_ms = 0;
    j->rows_rc = db ? store_read_signals_after(db, j->venue, j->symbol, from, from_ms,
                                               INT64_MAX, SIGSTORE_REPLAY_MAX,
                                               sigstore_restore_row, j)
                    : store_load_signals_after(st, j->venue, j->symbol, from, from_ms,
                                               INT64_MAX, SIGSTORE_REPLAY_MAX,
                                               sigstore_restore_row, j);
}

/* writer thread */
static enum store_result sigstore_restore_read_fn(void *ud, sqlite3 *db, uint32_t *n)
{
    struct sigstore_restore *j = ud;
    sigstore_restore_fill(j, db, NULL);
    *n = j->nrows;
    return j->rc;
}

/* main thread (store_process): kept for the engine, then the runner is told */
static void sigstore_restore_done(void *ud, enum store_result rc, uint32_t n)
{
    (void)rc;
    (void)n;
    struct sigstore_restore *j = ud;
    j->answered = true;
    if (!j->ss) {
        sigstore_restore_free(j);
        return;
    }
    if (j->ss->log)
        log_info(j->ss->log, "model state of %s read on the store's writer thread: %s, %u "
                 "stored signals from its replay point", j->symbol,
                 j->rc == STORE_OK ? "found" : store_strerror(j->rc), j->nrows);
    if (j->fn)
        j->fn(j->ud, j->ms);
}

static struct sigstore_restore *sigstore_restore_find(const sigstore *ss, const market_sym *ms,
                                                      uint32_t *at)
{
    for (uint32_t i = 0; i < ss->nrst; i++)
        if (ss->rst[i]->ms == ms) {
            if (at)
                *at = i;
            return ss->rst[i];
        }
    return NULL;
}

bool sigstore_restore_read(sigstore *ss, const market_sym *ms, bool async,
                           sigstore_restored_fn fn, void *ud)
{
    struct sigstore_restore *j = sigstore_restore_find(ss, ms, NULL);
    if (j)
        return !j->answered; /* asked already */
    j = xcalloc(1, sizeof *j);
    j->ss = ss;
    j->ms = ms;
    j->venue = ms->venue;
    snprintf(j->symbol, sizeof j->symbol, "%s", ms->name);
    j->fn = fn;
    j->ud = ud;
    if (ss->nrst == ss->crst) {
        ss->crst = ss->crst ? ss->crst * 2 : 4;
        ss->rst = xrealloc(ss->rst, ss->crst * sizeof *ss->rst);
    }
    ss->rst[ss->nrst++] = j;
    if (async && store_read_async(ss->st, sigstore_restore_read_fn, sigstore_restore_done, j) ==
                     STORE_OK)
        return true;
    if (async && ss->log) /* never silently: the read is made here instead */
        log_warn(ss->log, "model state of %s: the store is busy; read at once", ms->name);
    sigstore_restore_fill(j, NULL, ss->st);
    j->answered = true;
    return false;
}

bool sigstore_restoring(const sigstore *ss, const market_sym *ms)
{
    const struct sigstore_restore *j = ss ? sigstore_restore_find(ss, ms, NULL) : NULL;
    return j && !j->answered;
}

bool sigstore_restore_has(const sigstore *ss, const market_sym *ms, int64_t t_ms)
{
    const struct sigstore_restore *j = ss ? sigstore_restore_find(ss, ms, NULL) : NULL;
    return j && j->answered && j->rc == STORE_OK && j->t <= t_ms;
}

/* After a restore: the signals the store committed after the checkpoint, re-applied in order
 * from the read (rows from the loaded state's replay point, not after now_ms, at most
 * SIGSTORE_REPLAY_MAX, as one bounded query would give them). */
static void sigstore_replay(sigstore *ss, sigstore_sym *y, const struct sigstore_restore *j,
                            engine *e, int64_t now_ms)
{
    uint64_t from;
    int64_t from_ms;
    engine_replay_from(e, &from, &from_ms);
    if (from_ms == INT64_MIN)
        from_ms = 0;
    struct sigstore_replay rp = { .e = e };
    if (j->rows_rc != STORE_OK && ss->log)
        log_error(ss->log, "signals of %s after its model state could not be read: %s",
                  j->symbol, store_strerror(j->rows_rc));
    uint32_t taken = 0;
    for (uint32_t i = 0; i < j->nrows && taken < SIGSTORE_REPLAY_MAX; i++) {
        const struct sigstore_rrow *w = &j->rows[i];
        if (w->g.id < from || w->g.time_ms < from_ms || w->g.time_ms > now_ms)
            continue;
        taken++;
        sigstore_replay_one(&rp, &w->g, w->rec, w->len);
    }
    y->info.replayed = rp.replayed;
    y->info.replay_learned = rp.learned;
    ss->total.replayed += rp.replayed;
    ss->total.replay_learned += rp.learned;
    if (ss->log && rp.seen)
        log_info(ss->log, "model state of %s: %" PRIu64 " signals stored after the checkpoint "
                 "replayed (%" PRIu64 " outcomes learned), %" PRIu64 " rows already in it or not of it",
                 j->symbol, rp.replayed, rp.learned, rp.refused);
}

void sigstore_on_engine(sigstore *ss, const market_sym *ms, engine *e, int64_t now_ms)
{
    sigstore_sym *y = sigstore_add(ss, ms, e);
    uint32_t at = 0;
    struct sigstore_restore *j = sigstore_restore_find(ss, ms, &at);
    if (j && !j->answered)
        return; /* (the runner holds the symbol until the answer: not reached) */
    if (!j) { /* no read asked at the first data (a caller without a runner restore) */
        (void)sigstore_restore_read(ss, ms, false, NULL, NULL);
        j = sigstore_restore_find(ss, ms, &at);
    }
    ss->rst[at] = ss->rst[--ss->nrst]; /* taken: applied once */
    enum store_result rc = j->rc;
    if (rc != STORE_OK) {
        if (rc != STORE_NOT_FOUND && ss->log)
            log_error(ss->log, "model state of %s could not be read: %s", ms->name,
                      store_strerror(rc));
    } else if (j->t > now_ms) {
        if (ss->log)
            log_info(ss->log, "model state of %s (version %" PRId64 ") is from a later data "
                     "time than this run's data; starting fresh", ms->name, j->ver);
    } else if (engine_load(e, j->blob, j->len) != K_MODEL_OK) {
        if (ss->log)
            log_warn(ss->log, "model state of %s (version %" PRId64 ", %zu bytes) does not fit "
                     "this build's engine; starting fresh", ms->name, j->ver, j->len);
    } else {
        y->info.restored_version = j->ver;
        y->info.restored_time_ms = j->t;
        if (!ss->total.restored_version) {
            ss->total.restored_version = j->ver;
            ss->total.restored_time_ms = j->t;
        }
        y->last_ckpt_ms = now_ms;
        sigstore_replay(ss, y, j, e, now_ms);
        /* the restored history rows (the pending signals, written before the checkpoint, and
         * the replayed ones) are in the table already: only the scoring of the unscored ones
         * is still to come (an upsert of the row) */
        uint32_t hn = engine_history_len(e);
        if (hn) {
            y->written_id = engine_history(e, hn - 1)->id;
            y->final_id = engine_history(e, 0)->id - 1;
            for (uint32_t i = 0; i < hn && engine_history(e, i)->scored; i++)
                y->final_id = engine_history(e, i)->id;
        }
        if (ss->log)
            log_info(ss->log, "model state of %s restored: version %" PRId64 ", %zu bytes, "
                     "%" PRIu64 " outcomes learned", ms->name, j->ver, j->len, engine_scored(e));
    }
    sigstore_restore_free(j);
}

static void sigstore_keep_detail(sigstore_detail *d, const engine_signal *sig)
{
    memset(d, 0, sizeof *d);
    d->nmodels = sig->nmodels < ENSEMBLE_MAX_MODELS ? sig->nmodels : ENSEMBLE_MAX_MODELS;
    for (uint32_t i = 0; i < d->nmodels; i++) {
        d->models[i].ready = sig->models[i].ready;
        for (int c = 0; c < 3; c++)
            d->models[i].p[c] = (float)sig->models[i].p[c];
        d->models[i].weight = (float)sig->models[i].weight;
    }
    d->calibrated = sig->calibrated;
    d->tradeable = sig->tradeable;
    d->conf_lo = (float)sig->conf_lo;
    d->conf_hi = (float)sig->conf_hi;
    d->price = (float)sig->price;
    d->tp = (float)sig->tp;
    d->sl = (float)sig->sl;
    d->threshold = (float)sig->threshold;
    d->missing = sig->missing;
    snprintf(d->gate, sizeof d->gate, "%s", sig->gate);
    size_t off = 0;
    for (uint32_t i = 0; i < sig->nfeatures_top && i < 3 && off < sizeof d->features; i++) {
        int w = snprintf(d->features + off, sizeof d->features - off, "%s%s %+.3f",
                         i ? ", " : "", sig->features_top[i].name ? sig->features_top[i].name
                                                                  : "?",
                         sig->features_top[i].contribution);
        off += w > 0 ? (size_t)w : 0;
    }
}

const sigstore_detail *sigstore_detail_of(const sigstore *ss, const market_sym *ms, uint64_t id)
{
    for (uint32_t i = 0; i < ss->n; i++)
        if (ss->syms[i].ms == ms) {
            const sigstore_sym *y = &ss->syms[i];
            size_t k = id % SIGSTORE_REASONS;
            return y->reasons[k].id == id ? &y->reasons[k].detail : NULL;
        }
    return NULL;
}

void sigstore_on_signal(sigstore *ss, const market_sym *ms, const engine_signal *sig,
                        int64_t now_ms)
{
    sigstore_sym *y = NULL;
    for (uint32_t i = 0; i < ss->n && !y; i++)
        if (ss->syms[i].ms == ms)
            y = &ss->syms[i];
    if (!y)
        return;
    if (sig) {
        size_t k = sig->id % SIGSTORE_REASONS, off = 0;
        y->reasons[k].id = sig->id;
        y->reasons[k].text[0] = '\0';
        if (sig->nreasons == 0)
            snprintf(y->reasons[k].text, sizeof y->reasons[k].text, "no indicator voted");
        for (uint32_t i = 0; i < sig->nreasons && off < sizeof y->reasons[k].text; i++) {
            int w = snprintf(y->reasons[k].text + off, sizeof y->reasons[k].text - off, "%s%s",
                             i ? "; " : "", sig->reasons[i].text);
            off += w > 0 ? (size_t)w : 0;
        }
        sigstore_keep_detail(&y->reasons[k].detail, sig);
    }
    sigstore_scan(ss, y, now_ms, true);
    int64_t hour = now_ms / SIGSTORE_HOUR_MS;
    if (y->hour < 0)
        y->hour = hour; /* the first hour boundary crossed is the first document */
    else if (hour > y->hour) {
        y->hour = hour;
        sigstore_metrics(ss, y, now_ms);
    }
    if (ss->state_interval_ms > 0 &&
        (y->last_ckpt_ms == INT64_MIN || now_ms - y->last_ckpt_ms >= ss->state_interval_ms))
        sigstore_checkpoint(ss, y, now_ms);
}

void sigstore_flush(sigstore *ss, int64_t now_ms)
{
    for (uint32_t i = 0; i < ss->n; i++) {
        sigstore_sym *y = &ss->syms[i];
        if (engine_history_len(y->e) == 0)
            continue;
        sigstore_scan(ss, y, now_ms, false);
        sigstore_metrics(ss, y, now_ms);
        sigstore_checkpoint(ss, y, now_ms);
    }
}

/* writer thread: SELECT cols of one signal row by the table's unique key, prepared and bound,
 * or NULL */
static sqlite3_stmt *sigstore_row_stmt(sqlite3 *db, const char *cols, enum venue v,
                                       const char *symbol, uint64_t id, int64_t time_ms)
{
    char sql[160];
    snprintf(sql, sizeof sql, "SELECT %s FROM signals WHERE venue = ?1 AND symbol = ?2 AND"
                              " sig_id = ?3 AND time_ms = ?4", cols);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        sqlite3_finalize(st);
        return NULL;
    }
    sqlite3_bind_text(st, 1, venue_name(v), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, symbol, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, (int64_t)id);
    sqlite3_bind_int64(st, 4, time_ms);
    return st;
}

/* writer thread: the row's reasons by the table's unique key */
static enum store_result sigstore_why_read_fn(void *ud, sqlite3 *db, uint32_t *n)
{
    struct sigstore_why_read *j = ud;
    *n = 0;
    j->text[0] = '\0';
    sqlite3_stmt *st = sigstore_row_stmt(db, "reasons", j->venue, j->symbol, j->id, j->time_ms);
    if (!st)
        return STORE_E_READ;
    enum store_result r = STORE_NOT_FOUND;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
        snprintf(j->text, sizeof j->text, "%s", (const char *)sqlite3_column_text(st, 0));
        *n = 1;
        r = STORE_OK;
    } else if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        r = STORE_E_READ;
    }
    sqlite3_finalize(st);
    return r;
}

/* main thread (store_process): into its cache slot, unless the slot was reused meanwhile */
static void sigstore_why_read_done(void *ud, enum store_result rc, uint32_t n)
{
    struct sigstore_why_read *j = ud;
    sigstore *ss = j->ss;
    if (ss) {
        for (uint32_t i = 0; i < SIGSTORE_WHY_READS; i++)
            if (ss->why_busy[i] == j)
                ss->why_busy[i] = NULL;
        for (uint32_t i = 0; i < SIGSTORE_CACHE; i++) {
            struct sigstore_cached *c = &ss->cache[i];
            if (c->state == 1 && c->ms == j->ms && c->id == j->id && c->time_ms == j->time_ms) {
                snprintf(c->text, sizeof c->text, "%s", j->text);
                c->state = 2;
                if (rc == STORE_OK && n)
                    ss->total.reasons_read++;
                ss->seq++;
            }
        }
    }
    free(j);
}

const char *sigstore_reasons(sigstore *ss, const market_sym *ms, uint64_t id, int64_t time_ms)
{
    for (uint32_t i = 0; i < ss->n; i++)
        if (ss->syms[i].ms == ms) {
            const sigstore_sym *y = &ss->syms[i];
            size_t k = id % SIGSTORE_REASONS;
            if (y->reasons[k].id == id)
                return y->reasons[k].text; /* written moments ago: maybe not committed yet */
            break;
        }
    /* any stored signal: one point read by the table's unique key on the store's writer
     * thread, then cached (the rows on the screen are read once each, not every frame) */
    for (uint32_t i = 0; i < SIGSTORE_CACHE; i++)
        if (ss->cache[i].state && ss->cache[i].id == id && ss->cache[i].time_ms == time_ms &&
            ss->cache[i].ms == ms)
            return ss->cache[i].text; /* "" while it is being read */
    uint32_t slot = SIGSTORE_WHY_READS;
    for (uint32_t i = 0; i < SIGSTORE_WHY_READS && slot == SIGSTORE_WHY_READS; i++)
        if (!ss->why_busy[i])
            slot = i;
    if (slot == SIGSTORE_WHY_READS)
        return ""; /* enough reads in flight: asked again on a later frame */
    struct sigstore_cached *c = NULL;
    for (uint32_t k = 0; k < SIGSTORE_CACHE && !c; k++) { /* the next slot not being read */
        struct sigstore_cached *t = &ss->cache[ss->cache_next++ % SIGSTORE_CACHE];
        if (t->state != 1)
            c = t;
    }
    if (!c)
        return "";
    struct sigstore_why_read *j = xcalloc(1, sizeof *j);
    j->ss = ss;
    j->ms = ms;
    j->venue = ms->venue;
    snprintf(j->symbol, sizeof j->symbol, "%s", ms->name);
    j->id = id;
    j->time_ms = time_ms;
    if (store_read_async(ss->st, sigstore_why_read_fn, sigstore_why_read_done, j) != STORE_OK) {
        free(j);
        return ""; /* the store is busy: a later frame asks again */
    }
    ss->why_busy[slot] = j;
    c->ms = ms;
    c->id = id;
    c->time_ms = time_ms;
    c->state = 1;
    c->text[0] = '\0';
    return c->text;
}

/* writer thread: the row's replay record by the table's unique key */
static enum store_result sigstore_rec_read_fn(void *ud, sqlite3 *db, uint32_t *n)
{
    struct sigstore_rec_read *j = ud;
    *n = 0;
    sqlite3_stmt *st =
        sigstore_row_stmt(db, "replay, weights", j->venue, j->symbol, j->id, j->time_ms);
    if (!st)
        return STORE_E_READ;
    enum store_result r = STORE_NOT_FOUND;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        int len = sqlite3_column_bytes(st, 0);
        const void *b = sqlite3_column_blob(st, 0);
        if (len > 0 && b) {
            j->data = xmalloc((size_t)len);
            memcpy(j->data, b, (size_t)len);
            j->len = (size_t)len;
            *n = 1;
            r = STORE_OK;
        }
        const unsigned char *wt = sqlite3_column_text(st, 1);
        snprintf(j->weights, sizeof j->weights, "%s", wt ? (const char *)wt : "");
    } else if (rc != SQLITE_DONE) {
        r = STORE_E_READ;
    }
    sqlite3_finalize(st);
    return r;
}

/* main thread (store_process) */
static void sigstore_rec_read_done(void *ud, enum store_result rc, uint32_t n)
{
    struct sigstore_rec_read *j = ud;
    sigstore *ss = j->ss;
    if (ss) {
        ss->rec_busy = NULL;
        free(ss->rec.data);
        ss->rec.ms = j->ms;
        ss->rec.id = j->id;
        ss->rec.time_ms = j->time_ms;
        ss->rec.state = rc == STORE_OK && n ? 1 : -1;
        ss->rec.data = j->data;
        ss->rec.len = j->len;
        snprintf(ss->rec.weights, sizeof ss->rec.weights, "%s", j->weights);
        j->data = NULL;
        ss->seq++;
    }
    free(j->data);
    free(j);
}

int sigstore_record(sigstore *ss, const market_sym *ms, uint64_t id, int64_t time_ms,
                    const uint8_t **rec, size_t *len)
{
    *rec = NULL;
    *len = 0;
    if (ss->rec.state && ss->rec.ms == ms && ss->rec.id == id && ss->rec.time_ms == time_ms) {
        if (ss->rec.state < 0)
            return -1;
        *rec = ss->rec.data;
        *len = ss->rec.len;
        return 1;
    }
    if (ss->rec_busy) /* one at a time: the next call asks for this one */
        return 0;
    struct sigstore_rec_read *j = xcalloc(1, sizeof *j);
    j->ss = ss;
    j->ms = ms;
    j->venue = ms->venue;
    snprintf(j->symbol, sizeof j->symbol, "%s", ms->name);
    j->id = id;
    j->time_ms = time_ms;
    if (store_read_async(ss->st, sigstore_rec_read_fn, sigstore_rec_read_done, j) != STORE_OK) {
        free(j);
        return -1;
    }
    ss->rec_busy = j;
    return 0;
}

uint32_t sigstore_record_weights(const sigstore *ss, const market_sym *ms, uint64_t id,
                                 int64_t time_ms, double *w, uint32_t max)
{
    if (!ss || ss->rec.state <= 0 || ss->rec.ms != ms || ss->rec.id != id ||
        ss->rec.time_ms != time_ms || !ss->rec.weights[0])
        return 0;
    uint32_t n = 0;
    const char *p = ss->rec.weights;
    while (n < max && *p) {
        char *end = NULL;
        double v = strtod(p, &end);
        if (end == p)
            return 0; /* not a list of numbers: none */
        w[n++] = v;
        p = *end == ',' ? end + 1 : end;
        if (*end != ',' && *end)
            return 0;
    }
    return n;
}

uint64_t sigstore_seq(const sigstore *ss)
{
    return ss ? ss->seq : 0;
}

void sigstore_on_retrain(sigstore *ss, const market_sym *ms, const runner_retrain *rt)
{
    store_retrain g;
    memset(&g, 0, sizeof g);
    snprintf(g.model, sizeof g.model, "%s", rt->model);
    snprintf(g.kind, sizeof g.kind, "%s", rt->kind);
    snprintf(g.trigger, sizeof g.trigger, "%s", rt->trigger);
    g.seq = rt->seq;
    g.time_ms = rt->time_ms;
    g.n_train = rt->n_train;
    g.n_holdout = rt->n_holdout;
    g.cand_logloss = rt->cand_logloss;
    g.cand_acc = rt->cand_acc;
    g.live_logloss = rt->live_logloss;
    g.live_acc = rt->live_acc;
    g.base_logloss = rt->base_logloss;
    g.accepted = rt->accepted;
    g.offthread = rt->offthread;
    g.train_ms = rt->train_ms;
    if (store_put_retrain(ss->st, ms->venue, ms->name, &g) == STORE_OK)
        ss->total.retrains_written++;
    if (ss->log)
        log_info(ss->log, "%s %s retrain %" PRIu64 " (%s, %s thread): %u train / %u held out, "
                 "candidate log loss %.4f, live %.4f, baseline %.4f: %s", ms->name, rt->model,
                 rt->seq, rt->trigger, rt->offthread ? "learner" : "main", rt->n_train,
                 rt->n_holdout, rt->cand_logloss, rt->live_logloss, rt->base_logloss,
                 rt->accepted ? "accepted" : "refused");
}

void sigstore_get_info(const sigstore *ss, const engine *e, sigstore_info *out)
{
    memset(out, 0, sizeof *out);
    if (!e) {
        *out = ss->total;
        return;
    }
    for (uint32_t i = 0; i < ss->n; i++)
        if (ss->syms[i].e == e)
            *out = ss->syms[i].info;
}

/* ---- export ------------------------------------------------------------------------- */

static int sigstore_result_parse(const char *s)
{
    return !s ? 0 : !strcmp(s, "win") ? 1 : !strcmp(s, "loss") ? -1 : 0;
}

static const char *sigstore_text(sqlite3_stmt *st, int col)
{
    const char *t = (const char *)sqlite3_column_text(st, col);
    return t ? t : "";
}

static int sigstore_export_signals(sqlite3 *db, bool csv, FILE *out)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db,
                           "SELECT id, symbol, time_ms, horizon_end_ms, action, p_sell, p_hold,"
                           " p_buy, confidence, strength, scored, outcome, result, ret, mfe, mae,"
                           " regime, source, first_hit, traded FROM signals ORDER BY id",
                           -1, &st, NULL) != SQLITE_OK) {
        fprintf(stderr, "kestrel export: no signals table (%s)\n", sqlite3_errmsg(db));
        return 1;
    }
    metrics_signal_row *v = NULL;
    size_t n = 0, cap = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == cap) {
            cap = cap ? cap * 2 : 256;
            v = xrealloc(v, cap * sizeof *v);
        }
        metrics_signal_row *r = &v[n++];
        memset(r, 0, sizeof *r);
        r->id = (uint64_t)sqlite3_column_int64(st, 0);
        snprintf(r->symbol, sizeof r->symbol, "%s", sigstore_text(st, 1));
        r->time_ms = sqlite3_column_int64(st, 2);
        r->horizon_end_ms = sqlite3_column_int64(st, 3);
        r->action = metrics_class_parse(sigstore_text(st, 4));
        for (int k = 0; k < 3; k++)
            r->p[k] = sqlite3_column_double(st, 5 + k);
        r->confidence = sqlite3_column_double(st, 8);
        r->strength = sqlite3_column_double(st, 9);
        r->scored = sqlite3_column_int(st, 10) != 0;
        if (r->scored) {
            r->outcome = metrics_class_parse(sigstore_text(st, 11));
            r->result = sigstore_result_parse(sigstore_text(st, 12));
            r->ret = sqlite3_column_double(st, 13);
            r->mfe = sqlite3_column_double(st, 14);
            r->mae = sqlite3_column_double(st, 15);
        }
        snprintf(r->regime, sizeof r->regime, "%s", sigstore_text(st, 16));
        snprintf(r->source, sizeof r->source, "%s", sigstore_text(st, 17));
        snprintf(r->first_hit, sizeof r->first_hit, "%s", sigstore_text(st, 18));
        r->traded = sqlite3_column_int(st, 19) != 0;
    }
    sqlite3_finalize(st);
    int res = rc == SQLITE_DONE ? 0 : 1;
    if (res)
        fprintf(stderr, "kestrel export: reading signals failed (%s)\n", sqlite3_errmsg(db));
    else if ((csv ? metrics_export_csv(out, v, n) : metrics_export_json(out, v, n)) != K_OK)
        res = 1;
    free(v);
    return res;
}

static void sigstore_csv_num(FILE *out, const cJSON *o, const char *k)
{
    const cJSON *v = o ? cJSON_GetObjectItemCaseSensitive(o, k) : NULL;
    if (cJSON_IsNumber(v))
        fprintf(out, "%.17g", v->valuedouble);
}

/* one CSV line per predictor and window of one document */
static void sigstore_metrics_line(FILE *out, const char *t, const char *sym, const char *pred,
                                  const char *win, const cJSON *s, const cJSON *doc)
{
    fprintf(out, "%s,%s,%s,%s,", t, sym, pred, win);
    sigstore_csv_num(out, s, "n");
    fputc(',', out);
    sigstore_csv_num(out, s, "accuracy");
    fputc(',', out);
    sigstore_csv_num(out, s, "brier");
    fputc(',', out);
    sigstore_csv_num(out, s, "log_loss");
    fputc(',', out);
    sigstore_csv_num(out, s, "ece");
    fputc(',', out);
    sigstore_csv_num(out, doc, "health");
    fputc('\n', out);
}

static void sigstore_metrics_group(FILE *out, const char *t, const char *sym, const cJSON *grp,
                                   const char *prefix, const cJSON *doc)
{
    const cJSON *it;
    cJSON_ArrayForEach(it, grp)
    {
        char pred[80];
        snprintf(pred, sizeof pred, "%s%s", prefix, it->string ? it->string : "?");
        const cJSON *all = cJSON_GetObjectItemCaseSensitive(it, "all_time");
        const cJSON *rol = cJSON_GetObjectItemCaseSensitive(it, "rolling");
        sigstore_metrics_line(out, t, sym, pred, "all_time", all ? all : it, doc);
        if (rol)
            sigstore_metrics_line(out, t, sym, pred, "rolling", rol, doc);
    }
}

static void sigstore_iso(int64_t ms, char *buf, size_t cap)
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    if (ms < 0 || !gmtime_r(&s, &tm)) {
        snprintf(buf, cap, "%lld", (long long)ms);
        return;
    }
    snprintf(buf, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
}

static int sigstore_export_metrics(sqlite3 *db, bool csv, FILE *out)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT time_ms, symbol, doc FROM metrics ORDER BY id", -1, &st,
                           NULL) != SQLITE_OK) {
        fprintf(stderr, "kestrel export: no metrics table (%s)\n", sqlite3_errmsg(db));
        return 1;
    }
    if (csv)
        fputs("time,symbol,predictor,window,n,accuracy,brier,log_loss,ece,health\n", out);
    else
        fputs("[", out);
    int rc, n = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        char t[80];
        sigstore_iso(sqlite3_column_int64(st, 0), t, sizeof t);
        const char *sym = sigstore_text(st, 1), *txt = sigstore_text(st, 2);
        if (!csv) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "time", t);
            cJSON_AddStringToObject(o, "symbol", sym);
            char *head = cJSON_PrintUnformatted(o);
            cJSON_Delete(o);
            /* the stored document verbatim (its numbers as printed: exact) */
            size_t hl = head ? strlen(head) : 0;
            if (hl >= 2)
                fprintf(out, "%s%.*s,\"metrics\":%s}\n", n ? "," : "", (int)(hl - 1), head, txt);
            cJSON_free(head);
            n++;
            continue;
        }
        cJSON *doc = cJSON_Parse(txt);
        if (!doc)
            continue;
        const cJSON *ens = cJSON_GetObjectItemCaseSensitive(doc, "ensemble");
        sigstore_metrics_line(out, t, sym, "ensemble", "all_time",
                              cJSON_GetObjectItemCaseSensitive(ens, "all_time"), doc);
        sigstore_metrics_line(out, t, sym, "ensemble", "rolling",
                              cJSON_GetObjectItemCaseSensitive(ens, "rolling"), doc);
        sigstore_metrics_group(out, t, sym, cJSON_GetObjectItemCaseSensitive(doc, "models"),
                               "model:", doc);
        sigstore_metrics_group(out, t, sym, cJSON_GetObjectItemCaseSensitive(doc, "baselines"),
                               "baseline:", doc);
        cJSON_Delete(doc);
        n++;
    }
    if (!csv)
        fputs("]\n", out);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        fprintf(stderr, "kestrel export: reading metrics failed (%s)\n", sqlite3_errmsg(db));
        return 1;
    }
    return ferror(out) ? 1 : 0;
}

static void sigstore_csv_col(FILE *out, sqlite3_stmt *st, int col)
{
    if (sqlite3_column_type(st, col) == SQLITE_NULL)
        return;
    if (sqlite3_column_type(st, col) == SQLITE_FLOAT)
        fprintf(out, "%.17g", sqlite3_column_double(st, col));
    else
        fputs(sigstore_text(st, col), out);
}

/* `kestrel export retrains`: one row per stored retrain, oldest first. */
static int sigstore_export_retrains(sqlite3 *db, bool csv, FILE *out)
{
    static const char *const cols[] = {
        "id", "time", "venue", "symbol", "model", "kind", "seq", "trigger", "n_train",
        "n_holdout", "cand_logloss", "cand_acc", "live_logloss", "live_acc", "base_logloss",
        "accepted", "train_ms", "thread",
    };
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db,
                           "SELECT id, time_ms, venue, symbol, model, kind, seq, trigger, n_train,"
                           " n_holdout, cand_logloss, cand_acc, live_logloss, live_acc,"
                           " base_logloss, accepted, train_ms, thread FROM retrains ORDER BY id",
                           -1, &st, NULL) != SQLITE_OK) {
        fprintf(stderr, "kestrel export: no retrains table (%s)\n", sqlite3_errmsg(db));
        return 1;
    }
    size_t nc = sizeof cols / sizeof cols[0];
    if (csv)
        for (size_t c = 0; c < nc; c++)
            fprintf(out, "%s%s", cols[c], c + 1 < nc ? "," : "\n");
    else
        fputs("[", out);
    int rc, n = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        char t[80];
        sigstore_iso(sqlite3_column_int64(st, 1), t, sizeof t);
        if (csv) {
            for (size_t c = 0; c < nc; c++) {
                if (c == 1)
                    fputs(t, out);
                else
                    sigstore_csv_col(out, st, (int)c);
                fputc(c + 1 < nc ? ',' : '\n', out);
            }
            continue;
        }
        cJSON *o = cJSON_CreateObject();
        for (size_t c = 0; c < nc; c++) {
            int ty = sqlite3_column_type(st, (int)c);
            if (c == 1)
                cJSON_AddStringToObject(o, cols[c], t);
            else if (c == 15)
                cJSON_AddBoolToObject(o, cols[c], sqlite3_column_int(st, (int)c) != 0);
            else if (ty == SQLITE_NULL)
                cJSON_AddNullToObject(o, cols[c]);
            else if (ty == SQLITE_TEXT)
                cJSON_AddStringToObject(o, cols[c], sigstore_text(st, (int)c));
            else
                cJSON_AddNumberToObject(o, cols[c], sqlite3_column_double(st, (int)c));
        }
        char *txt = cJSON_PrintUnformatted(o);
        cJSON_Delete(o);
        fprintf(out, "%s%s\n", n ? "," : "", txt ? txt : "{}");
        cJSON_free(txt);
        n++;
    }
    if (!csv)
        fputs("]\n", out);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        fprintf(stderr, "kestrel export: reading retrains failed (%s)\n", sqlite3_errmsg(db));
        return 1;
    }
    return ferror(out) ? 1 : 0;
}

int sigstore_export(sqlite3 *db, const char *what, bool csv, FILE *out)
{
    if (!strcmp(what, "retrains"))
        return sigstore_export_retrains(db, csv, out);
    if (!strcmp(what, "signals"))
        return sigstore_export_signals(db, csv, out);
    if (!strcmp(what, "metrics"))
        return sigstore_export_metrics(db, csv, out);
    fprintf(stderr, "kestrel export: unknown kind '%s'\n", what);
    return 2;
}
