/* The signal engine's persistence in the app: every signal and its scoring written to the
 * store's `signals` table through the market lane, the metrics document stored every hour of
 * data time, model state checkpoints (engine_save blobs, versioned in `model_state`) every
 * engine.state_interval of data time and at exit, restored when a symbol's engine is made;
 * and the `kestrel export signals|metrics` readers. Main thread; nothing here waits for the
 * disk (the restore and the older signals' reasons and records are read on the store's writer
 * thread; a replay holds its next line until the restore's answer is back). */
#ifndef KESTREL_SIGSTORE_H
#define KESTREL_SIGSTORE_H
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <sqlite3.h>

#include "kestrel/engine.h"
#include "kestrel/log.h"
#include "kestrel/market.h"
#include "kestrel/runner.h"
#include "kestrel/store.h"

#define SIGSTORE_KEEP 3 /* model state versions kept per symbol */

typedef struct sigstore sigstore;

/* state_interval_ms: data time between checkpoints (0 = only at exit). log may be NULL. */
sigstore *sigstore_new(store *st, klog *log, int64_t state_interval_ms);
void sigstore_free(sigstore *ss);

/* The restore read of ms (the runner's restore, at the symbol's first data): its newest stored
 * model state and the signals stored after it (from the state's replay point on), read on the
 * store's writer thread when async (fn(ud, ms) runs in store_process when it answered: the app
 * tells runner_restore_ready), else at once on the read connection (without a store's writer,
 * or when the store is busy, logged). True while the read is outstanding. The
 * answer is kept until ms's engine takes it (sigstore_on_engine). */
typedef void (*sigstore_restored_fn)(void *ud, const market_sym *ms);
bool sigstore_restore_read(sigstore *ss, const market_sym *ms, bool async,
                           sigstore_restored_fn fn, void *ud);
bool sigstore_restoring(const sigstore *ss, const market_sym *ms); /* its read outstanding */
/* The answered read holds a state whose data time is not after t_ms (the warm-up is skipped:
 * the restored models have learned already). */
bool sigstore_restore_has(const sigstore *ss, const market_sym *ms, int64_t t_ms);
/* A symbol's engine was just made (runner on_engine, before its first signal at now_ms): applies
 * the restore read (made here, at once, when none was asked): its newest stored state when that
 * state's data time is not after now_ms (a replay that starts over from earlier data starts
 * fresh, and says so in the log), then the signals stored after that state, up to now_ms
 * (engine_replay: a kill -9 after the checkpoint loses none of the committed ones). No disk. */
void sigstore_on_engine(sigstore *ss, const market_sym *ms, engine *e, int64_t now_ms);
/* After a signal of ms's engine at now_ms (sig: its full reasoning, may be NULL): the new row,
 * rows scored since, the hourly metrics, the checkpoint when due. */
void sigstore_on_signal(sigstore *ss, const market_sym *ms, const engine_signal *sig,
                        int64_t now_ms);

/* The top reasons of signal id (made at time_ms) of ms's engine: the newest SIGSTORE_REASONS
 * per symbol from memory (they may not be committed yet), any other stored signal from the
 * signals table's reasons column (one point read by its unique key on the store's writer
 * thread, store_read_async, at most 8 in flight, cached; "" while it is read, the answer bumps
 * sigstore_seq; "" when the row has none). */
#define SIGSTORE_REASONS 64
const char *sigstore_reasons(sigstore *ss, const market_sym *ms, uint64_t id, int64_t time_ms);
/* The full reasoning of one of the newest SIGSTORE_REASONS signals per symbol, kept from its
 * engine_signal (the AI screen's selected signal): every model's probabilities and ensemble
 * weight (in engine_model() order), the calibrated interval, the gate, stops, and the features
 * that moved it. NULL for an older signal (its row and reasons are all that is kept). */
typedef struct sigstore_detail {
    uint32_t nmodels;
    struct {
        float p[3]; /* p_sell, p_hold, p_buy */
        float weight;
        bool ready;
    } models[ENSEMBLE_MAX_MODELS];
    bool calibrated, tradeable;
    float conf_lo, conf_hi, price, tp, sl, threshold;
    uint32_t missing;  /* features missing in the sample */
    char gate[112];    /* why not tradeable ("" when tradeable) */
    char features[96]; /* "name +0.123, ..." (the first logistic model's explanation) */
} sigstore_detail;
const sigstore_detail *sigstore_detail_of(const sigstore *ss, const market_sym *ms, uint64_t id);
/* The stored replay record of signal id (made at time_ms) of ms, for the breakdown of an older
 * signal: read on the store's writer thread (store_read_async), one at a time, the last one
 * kept. 1: *rec / *len hold it (valid until the next call); 0: being read (ask again: the
 * answer bumps sigstore_seq); -1: none stored (or the store is busy: the next call retries). */
int sigstore_record(sigstore *ss, const market_sym *ms, uint64_t id, int64_t time_ms,
                    const uint8_t **rec, size_t *len);
/* The ensemble weights stored with that record's row (signals.weights, migration 12), after
 * sigstore_record() answered 1 for it: their count (up to max, in engine_model() order), 0 when
 * the row has none (written before the column existed). */
uint32_t sigstore_record_weights(const sigstore *ss, const market_sym *ms, uint64_t id,
                                 int64_t time_ms, double *w, uint32_t max);
uint64_t sigstore_seq(const sigstore *ss); /* changes when a record or reasons read answered */

/* A training of an off-thread model finished (runner on_retrain): a row of the retrains
 * table, and a log line. */
void sigstore_on_retrain(sigstore *ss, const market_sym *ms, const runner_retrain *rt);

/* Everything now (exit, seek): scored rows, metrics, a checkpoint of every engine. */
void sigstore_flush(sigstore *ss, int64_t now_ms);

typedef struct sigstore_info {
    int64_t restored_version; /* model_state id restored (0: none) */
    int64_t restored_time_ms;
    uint64_t checkpoints, signals_written, scored_written, metrics_written, retrains_written;
    uint64_t reasons_read; /* reasons read back from the table (older signals on screen) */
    uint64_t replayed;       /* stored signals after the restored checkpoint re-applied */
    uint64_t replay_learned; /* of those, scored ones whose label the engine learned */
} sigstore_info;
/* Per symbol (NULL e: the totals; restored_* of the first engine that restored). */
void sigstore_get_info(const sigstore *ss, const engine *e, sigstore_info *out);

/* A store_signal from an engine history row. */
void sigstore_row(const metrics_signal_row *r, store_signal *out);

/* `kestrel export signals|metrics` on an open read-only database: 0, or 1 with a message on
 * stderr. signals: the engine export's columns (metrics_export_csv), `id` the row id of the
 * table (unique across symbols and sessions). metrics: one row per stored document and
 * predictor / window (CSV: time,symbol,predictor,window,n,accuracy,brier,log_loss,ece,health),
 * JSON: [{"time", "symbol", "metrics": <the ctl metrics document>}]. */
int sigstore_export(sqlite3 *db, const char *what, bool csv, FILE *out);

#endif
