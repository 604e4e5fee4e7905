/* sigstore: the engine's state through a REAL SQLite store survives kill -9 exactly. A child
 * process runs the lifecycle on a real kline day (lean Binance BTCBUSD 1m, 2022-12-13), writing
 * every signal and its scoring and a model state checkpoint through the store's writer; after
 * the checkpoint it runs on for EXTRA more signals (stored, not checkpointed), tells the parent
 * once they are committed, and is killed with SIGKILL. The parent opens the database again,
 * rebuilds an engine from the bars so far (indicator warm-up, no signals), restores it with
 * sigstore_on_engine (the checkpoint, then the EXTRA signals replayed from their rows) and
 * checks that its metrics and counts equal an engine that never stopped and that the next 300
 * signals are bit-identical to that engine's. Also: the signals
 * table holds one row per signal with the scored fields of the engine's history, and a state
 * newer than the data is not restored. */
#include "check.h"
#include "kestrel/engine.h"
#include "kestrel/logreg.h"
#include "kestrel/mlp.h"
#include "kestrel/sigstore.h"
#include "klines.h"

#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

static candle *bars;
static uint32_t nbars;

typedef struct run {
    engine *e;
    candles *agg[3];
} run;

static const enum tf agg_tf[3] = {TF_5M, TF_15M, TF_1H};

static void on_closed(void *ud, enum tf tf, const candle *bar)
{
    (void)engine_on_bar(ud, tf, bar, false);
}

static engine *make_engine(void)
{
    engine_config c;
    engine_config_default(&c);
    c.analysis_tf = TF_5M;
    c.horizon_ms = 15 * 60000;
    c.calib_min = 100;
    c.drift_method = DRIFT_ADWIN; /* its state goes through the store too */
    snprintf(c.symbol, sizeof c.symbol, "BTCBUSD");
    model *m[3];
    m[0] = scorer_weights_new("weights", FEAT_COUNT, features_vote_idx);
    m[1] = logreg_new("logreg", FEAT_COUNT, NULL);
    m[2] = mlp_new("mlp", FEAT_COUNT, NULL);
    return engine_new(&c, m, 3);
}

static void run_init(run *r)
{
    r->e = make_engine();
    for (int k = 0; k < 3; k++)
        r->agg[k] = candles_new(agg_tf[k], 64);
}

static void run_free(run *r)
{
    for (int k = 0; k < 3; k++)
        candles_free(r->agg[k]);
    engine_free(r->e);
}

static int64_t run_bar(run *r, uint32_t i)
{
    (void)engine_on_bar(r->e, TF_1M, &bars[i], false);
    int64_t now = bars[i].open_ms + 60000;
    for (int k = 0; k < 3; k++) {
        candles_on_bar(r->agg[k], &bars[i], 60000, on_closed, r->e);
        candles_advance(r->agg[k], now, on_closed, r->e);
    }
    return now;
}

static market_sym the_sym(void)
{
    market_sym ms;
    memset(&ms, 0, sizeof ms);
    ms.venue = VENUE_BINANCE_SPOT;
    snprintf(ms.name, sizeof ms.name, "BTCBUSD");
    return ms;
}

#define CUT 700u
#define EXTRA 60u /* signals after the checkpoint: only their rows are stored */
#define AFTER 300u

/* The child: the lifecycle with storage; the checkpoint at CUT, EXTRA more signals, and once
 * they are committed one byte to the parent, then waits to be killed. Never returns. */
static void child_main(const char *path, int wfd)
{
    store *st = NULL;
    char err[512];
    if (store_open(&st, path, NULL, err, sizeof err) != STORE_OK)
        _exit(3);
    market_sym ms = the_sym();
    sigstore *ss = sigstore_new(st, NULL, 0);
    run a;
    run_init(&a);
    for (uint32_t i = 0;; i = (i + 1) % nbars) {
        int64_t now = run_bar(&a, i);
        engine_signal s;
        if (i == 0)
            sigstore_on_engine(ss, &ms, a.e, now); /* nothing stored yet: fresh */
        if (engine_signal_make(a.e, now, &s) == K_MODEL_OK)
            sigstore_on_signal(ss, &ms, &s, now);
        if (i + 1 == CUT) {
            sigstore_flush(ss, now); /* rows and the checkpoint */
            store_flush(st);         /* committed */
        }
        if (i + 1 == CUT + EXTRA) {
            store_flush(st); /* the rows made since the checkpoint committed */
            char one = 'k';
            if (write(wfd, &one, 1) != 1)
                _exit(4);
            for (;;)
                pause(); /* killed here */
        }
    }
}

static int sql_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    int v = -1;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return v;
}

static void test_kill9(void)
{
    char dir[] = "/tmp/kestrel-test-sigstore.XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[600];
    snprintf(path, sizeof path, "%s/s.db", dir);
    int p[2];
    CHECK_INT(pipe(p), 0);
    pid_t pid = fork();
    if (pid == 0) {
        close(p[0]);
        child_main(path, p[1]);
    }
    close(p[1]);
    char b = 0;
    CHECK_INT(read(p[0], &b, 1), 1); /* blocks until the checkpoint is committed */
    CHECK_INT(kill(pid, SIGKILL), 0);
    int status = 0;
    CHECK_INT(waitpid(pid, &status, 0), pid);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    close(p[0]);

    /* the reference: an engine that never stopped */
    run a;
    run_init(&a);
    engine_signal s, s2;
    int64_t now = 0, cut_ms = 0;
    uint64_t cut_scored = 0;
    for (uint32_t i = 0; i < CUT + EXTRA; i++) {
        now = run_bar(&a, i);
        CHECK_INT(engine_signal_make(a.e, now, &s), K_MODEL_OK);
        if (i + 1 == CUT) {
            cut_ms = now;
            cut_scored = engine_scored(a.e);
        }
    }
    int64_t kill_ms = now;

    /* the database after kill -9 opens; the table holds the child's signals as of the flush */
    store *st = NULL;
    char err[512];
    CHECK_INT(store_open(&st, path, NULL, err, sizeof err), STORE_OK);
    if (!st)
        return;
    sqlite3 *db = NULL;
    CHECK_INT(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    CHECK_INT(sql_int(db, "select count(*) from signals"), (int)(CUT + EXTRA));
    CHECK_INT(sql_int(db, "select count(*) from signals where replay is null"), 0);
    /* every row carries every model's ensemble weight (migration 12), the last one's equal to
     * the engine's at that signal (3 models: "w0,w1,w2") */
    CHECK_INT(sql_int(db, "select count(*) from signals where weights is null"), 0);
    CHECK_INT(sql_int(db, "select count(*) from signals where length(weights) -"
                          " length(replace(weights, ',', '')) <> 2"), 0);
    CHECK(sql_int(db, "select count(*) from model_state") >= 1);
    /* the rows up to the checkpoint equal the reference engine's history, scored fields too */
    uint32_t hn = engine_history_len(a.e), checked = 0, same_rows = 1;
    sqlite3_stmt *q = NULL;
    CHECK_INT(sqlite3_prepare_v2(db, "select action, confidence, scored, outcome, ret from"
                                     " signals where sig_id = ?1 and time_ms = ?2",
                                 -1, &q, NULL),
              SQLITE_OK);
    for (uint32_t i = 0; i < hn; i++) {
        const metrics_signal_row *r = engine_history(a.e, i);
        sqlite3_bind_int64(q, 1, (int64_t)r->id);
        sqlite3_bind_int64(q, 2, r->time_ms);
        if (sqlite3_step(q) != SQLITE_ROW) {
            same_rows = 0;
        } else {
            const char *act = (const char *)sqlite3_column_text(q, 0);
            const char *out = (const char *)sqlite3_column_text(q, 3);
            same_rows &= act && !strcmp(act, metrics_class_name(r->action));
            same_rows &= sqlite3_column_double(q, 1) == r->confidence;
            same_rows &= sqlite3_column_int(q, 2) == (int)r->scored;
            if (r->scored)
                same_rows &= out && !strcmp(out, metrics_class_name(r->outcome)) &&
                             sqlite3_column_double(q, 4) == r->ret;
            checked++;
        }
        sqlite3_reset(q);
    }
    sqlite3_finalize(q);
    CHECK_INT(checked, hn);
    CHECK(same_rows);
    CHECK(sql_int(db, "select count(*) from signals where scored = 1") ==
          (int)engine_scored(a.e));
    sqlite3_close(db);

    /* a state newer than the data is not restored */
    market_sym ms = the_sym();
    sigstore *ss = sigstore_new(st, NULL, 0);
    run c;
    run_init(&c);
    sigstore_on_engine(ss, &ms, c.e, bars[0].open_ms + 60000);
    sigstore_info ci;
    sigstore_get_info(ss, c.e, &ci);
    CHECK_INT(ci.restored_version, 0);
    CHECK_INT(engine_scored(c.e), 0);
    run_free(&c);
    sigstore_free(ss);

    /* restart: indicators from the history bars, then the stored state and the rows after it */
    ss = sigstore_new(st, NULL, 0);
    run r;
    run_init(&r);
    for (uint32_t i = 0; i < CUT + EXTRA; i++)
        run_bar(&r, i);
    sigstore_on_engine(ss, &ms, r.e, kill_ms);
    sigstore_info info;
    sigstore_get_info(ss, r.e, &info);
    CHECK(info.restored_version > 0);
    CHECK_INT(info.restored_time_ms, cut_ms);
    /* the EXTRA new ones, and the checkpoint's pending ones scored since */
    CHECK(info.replayed >= EXTRA && info.replayed <= EXTRA + engine_pending(a.e) + 64);
    CHECK(info.replay_learned > 0);
    CHECK_INT(info.replay_learned, engine_scored(a.e) - cut_scored);
    CHECK_INT(engine_scored(r.e), engine_scored(a.e));
    CHECK_INT(engine_pending(r.e), engine_pending(a.e));
    /* every metric (ensemble, models, baselines; all-time and rolling) as if never stopped */
    cJSON *ja = engine_metrics_json(a.e), *jr = engine_metrics_json(r.e);
    char *ta = ja ? cJSON_PrintUnformatted(ja) : NULL, *tr = jr ? cJSON_PrintUnformatted(jr) : NULL;
    CHECK(ta && tr && !strcmp(ta, tr));
    cJSON_free(ta);
    cJSON_free(tr);
    cJSON_Delete(ja);
    cJSON_Delete(jr);
    double wa[ENSEMBLE_MAX_MODELS], wr[ENSEMBLE_MAX_MODELS];
    engine_weights(a.e, wa);
    engine_weights(r.e, wr);
    CHECK(!memcmp(wa, wr, sizeof(double) * engine_models(a.e)));
    CHECK(engine_threshold(a.e) == engine_threshold(r.e));
    CHECK_INT(calib_n(engine_calib(r.e)), calib_n(engine_calib(a.e)));
    uint32_t same = 1, made = 0;
    for (uint32_t i = CUT + EXTRA; i < CUT + EXTRA + AFTER && i < nbars; i++) {
        now = run_bar(&a, i);
        run_bar(&r, i);
        CHECK_INT(engine_signal_make(a.e, now, &s), K_MODEL_OK);
        CHECK_INT(engine_signal_make(r.e, now, &s2), K_MODEL_OK);
        same &= memcmp(s.p, s2.p, sizeof s.p) == 0 && s.confidence == s2.confidence &&
                s.action == s2.action && s.id == s2.id && s.strength == s2.strength;
        made++;
    }
    CHECK_INT(made, AFTER);
    CHECK(same); /* the same predictions next */
    CHECK_INT(engine_scored(r.e), engine_scored(a.e));
    ja = engine_metrics_json(a.e);
    jr = engine_metrics_json(r.e);
    ta = ja ? cJSON_PrintUnformatted(ja) : NULL;
    tr = jr ? cJSON_PrintUnformatted(jr) : NULL;
    CHECK(ta && tr && !strcmp(ta, tr)); /* the replayed pending ones learned the same labels */
    cJSON_free(ta);
    cJSON_free(tr);
    cJSON_Delete(ja);
    cJSON_Delete(jr);
    CHECK_INT(engine_drift_events(r.e), engine_drift_events(a.e));
    /* the signals pending at the kill kept their price path (each stored signal's record
     * carries the pending ones' high / low / first hit): their MFE, MAE and first hit once
     * scored equal the uninterrupted engine's */
    uint32_t hrows = 0, same_path = 1;
    for (uint32_t i = 0; i < engine_history_len(a.e); i++) {
        const metrics_signal_row *x = engine_history(a.e, i);
        for (uint32_t k = 0; k < engine_history_len(r.e); k++) {
            const metrics_signal_row *y = engine_history(r.e, k);
            if (y->id != x->id || !x->scored || !y->scored || x->time_ms > kill_ms ||
                x->horizon_end_ms <= kill_ms)
                continue;
            hrows++;
            same_path &= x->mfe == y->mfe && x->mae == y->mae &&
                         !strcmp(x->first_hit, y->first_hit);
        }
    }
    CHECK(hrows > 0);
    CHECK(same_path);
    printf("restored version %lld at %lld: %u signals after it bit-identical, %llu scored, "
           "%llu ADWIN drift events\n",
           (long long)info.restored_version, (long long)cut_ms, made,
           (unsigned long long)engine_scored(r.e), (unsigned long long)engine_drift_events(r.e));
    run_free(&r);
    run_free(&a);
    sigstore_free(ss);
    store_close(st);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK_INT(system(cmd), 0);
}

/* store_put_model_state keeps the newest `keep` versions; load returns the newest. */
static void test_versions(void)
{
    char dir[] = "/tmp/kestrel-test-sigstore.XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[600];
    snprintf(path, sizeof path, "%s/v.db", dir);
    store *st = NULL;
    char err[512];
    CHECK_INT(store_open(&st, path, NULL, err, sizeof err), STORE_OK);
    if (!st)
        return;
    for (int v = 1; v <= 5; v++) {
        char blob[32];
        snprintf(blob, sizeof blob, "state-%d", v);
        CHECK_INT(store_put_model_state(st, VENUE_BINANCE_SPOT, "BTCUSDT", 1000 * v, blob,
                                        strlen(blob) + 1, 3),
                  STORE_OK);
    }
    CHECK_INT(store_put_model_state(st, VENUE_BINANCE_SPOT, "BTCUSDT", 0, NULL, 0, 3),
              STORE_E_INVALID);
    store_flush(st);
    void *b = NULL;
    size_t len = 0;
    int64_t t = 0, ver = 0;
    CHECK_INT(store_load_model_state(st, VENUE_BINANCE_SPOT, "BTCUSDT", &b, &len, &t, &ver),
              STORE_OK);
    CHECK(b && !strcmp(b, "state-5"));
    CHECK_INT(t, 5000);
    CHECK_INT(ver, 5);
    free(b);
    CHECK_INT(store_load_model_state(st, VENUE_BINANCE_SPOT, "ETHUSDT", &b, &len, &t, &ver),
              STORE_NOT_FOUND);
    CHECK(b == NULL);
    sqlite3 *db = NULL;
    CHECK_INT(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    CHECK_INT(sql_int(db, "select count(*) from model_state"), 3);
    CHECK_INT(sql_int(db, "select min(id) from model_state"), 3);
    sqlite3_close(db);
    store_close(st);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK_INT(system(cmd), 0);
}

/* engine_record / engine_replay refuse what is not the next step of the engine they are given */
static void test_replay_refusals(void)
{
    run a, c;
    run_init(&a);
    run_init(&c);
    engine_signal s;
    model_blob rec1 = { 0 }, rec3 = { 0 }, tmp = { 0 };
    metrics_signal_row row1, row3;
    for (uint32_t i = 0; i < 3; i++) {
        int64_t now = run_bar(&a, i);
        run_bar(&c, i);
        CHECK_INT(engine_signal_make(a.e, now, &s), K_MODEL_OK);
        if (i == 0) {
            CHECK_INT(engine_record(a.e, s.id, &rec1), K_MODEL_OK);
            row1 = *engine_history(a.e, 0);
        }
    }
    CHECK_INT(engine_record(a.e, s.id, &rec3), K_MODEL_OK);
    row3 = *engine_history(a.e, 2);
    CHECK_INT(engine_record(a.e, s.id - 1, &tmp), K_MODEL_BAD_INPUT); /* only the newest */
    CHECK_INT(tmp.len, 0);
    /* c has made no signal: #3 is not its next one, a cut record is not a record */
    CHECK_INT(engine_replay(c.e, rec3.data, rec3.len, &row3), K_MODEL_BAD_INPUT);
    CHECK_INT(engine_replay(c.e, rec1.data, rec1.len - 1, &row1), K_MODEL_BAD_STATE);
    metrics_signal_row other = row1;
    other.time_ms += 1; /* another signal's row */
    CHECK_INT(engine_replay(c.e, rec1.data, rec1.len, &other), K_MODEL_BAD_INPUT);
    CHECK_INT(engine_history_len(c.e), 0);
    /* #1 is: it is re-made (history, pending) and a second replay of it is refused */
    CHECK_INT(engine_replay(c.e, rec1.data, rec1.len, &row1), K_MODEL_OK);
    CHECK_INT(engine_history_len(c.e), 1);
    CHECK_INT(engine_pending(c.e), 1);
    CHECK(engine_history(c.e, 0)->id == 1 && engine_history(c.e, 0)->confidence == row1.confidence);
    CHECK_INT(engine_replay(c.e, rec1.data, rec1.len, &row1), K_MODEL_BAD_INPUT);
    /* a scored row of a pending signal: its stored label is learned (prequential: the record
     * says when its horizon ends; the label is the stored one) */
    row1.scored = true;
    row1.outcome = MODEL_HOLD;
    row1.ret = 0.0001;
    CHECK_INT(engine_replay(c.e, rec1.data, rec1.len, &row1), K_MODEL_OK);
    CHECK_INT(engine_scored(c.e), 1);
    CHECK_INT(engine_pending(c.e), 0);
    CHECK(engine_history(c.e, 0)->scored && engine_history(c.e, 0)->ret == 0.0001);
    model_blob_free(&rec1);
    model_blob_free(&rec3);
    run_free(&a);
    run_free(&c);
}

int main(void)
{
    char path[512];
    snprintf(path, sizeof path, "%s/klines/lean_binance_BTCBUSD_1m_2022-12-13.csv",
             check_shared_data());
    nbars = klines_load(path, &bars);
    CHECK_INT(nbars, 1440);
    if (nbars < 1440)
        CHECK_DONE();
    test_versions();
    test_replay_refusals();
    test_kill9();
    free(bars);
    CHECK_DONE();
}
