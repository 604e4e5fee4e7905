/* Schema versions and migrations of the Kestrel database, and the checks made before a single
 * byte of an existing file is written.
 *
 * The schema version lives in PRAGMA user_version and the file is marked as ours by PRAGMA
 * application_id. `migrations[]` is the whole history: entry i turns version i into version i+1,
 * and each step runs in its own transaction together with the user_version bump, so a failed
 * step leaves the database at the previous version. Adding a table later is one new entry at the
 * end of the list; entries that shipped are never edited.
 *
 * Order of opening (see docs/STORE.md): read application_id / user_version / the table count
 * (reads only; a corrupt or foreign file fails here and is left as it was), refuse newer
 * versions, then switch to WAL, then migrate. */
#include "schema.h"

#include "kestrel/common.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char *const migrations[] = {
    /* 1: the initial layout. Prices and quantities are kdec raw int64 (exact). */
    "CREATE TABLE sessions("
    "  id INTEGER PRIMARY KEY,"
    "  started_ms INTEGER NOT NULL,"
    "  ended_ms INTEGER,"
    "  source TEXT NOT NULL,"
    "  version TEXT NOT NULL,"
    "  args TEXT NOT NULL);"
    "CREATE TABLE instruments("
    "  venue TEXT NOT NULL,"
    "  symbol TEXT NOT NULL,"
    "  px_decimals INTEGER NOT NULL,"
    "  qty_decimals INTEGER NOT NULL,"
    "  first_seen_ms INTEGER NOT NULL,"
    "  updated_ms INTEGER NOT NULL,"
    "  PRIMARY KEY(venue, symbol)) WITHOUT ROWID;"
    "CREATE TABLE candles("
    "  venue TEXT NOT NULL,"
    "  symbol TEXT NOT NULL,"
    "  tf TEXT NOT NULL,"
    "  open_ms INTEGER NOT NULL,"
    "  o INTEGER NOT NULL, h INTEGER NOT NULL, l INTEGER NOT NULL, c INTEGER NOT NULL,"
    "  volume INTEGER NOT NULL, buy_volume INTEGER NOT NULL, quote_volume INTEGER NOT NULL,"
    "  trades INTEGER NOT NULL,"
    "  PRIMARY KEY(venue, symbol, tf, open_ms)) WITHOUT ROWID;"
    "CREATE TABLE book_events("
    "  id INTEGER PRIMARY KEY,"
    "  session_id INTEGER,"
    "  time_ms INTEGER NOT NULL,"
    "  venue TEXT NOT NULL,"
    "  symbol TEXT NOT NULL,"
    "  kind TEXT NOT NULL,"
    "  last_id INTEGER,"
    "  detail TEXT);",

    /* 2: a key/value table for the store's own bookkeeping (the durable barrier writes
     * 'last_barrier_ms' here) and a time index on book_events for retention and the event view. */
    "CREATE TABLE meta("
    "  key TEXT PRIMARY KEY,"
    "  value) WITHOUT ROWID;"
    "CREATE INDEX book_events_time ON book_events(time_ms);",

    /* 3: user settings (UI choices now; the settings form and watchlist later), one text value
     * per key, written by store_put_setting. */
    "CREATE TABLE settings("
    "  key TEXT PRIMARY KEY,"
    "  value TEXT NOT NULL,"
    "  updated_ms INTEGER NOT NULL) WITHOUT ROWID;",

    /* 4: the durable lane (store_durable_put): one record per (kind, key) -- order intents,
     * fills, positions -- with the request id as seq (increasing across restarts) and the
     * payload as JSON text or a blob. */
    "CREATE TABLE journal("
    "  kind TEXT NOT NULL,"
    "  key TEXT NOT NULL,"
    "  seq INTEGER NOT NULL,"
    "  time_ms INTEGER NOT NULL,"
    "  payload NOT NULL,"
    "  PRIMARY KEY(kind, key)) WITHOUT ROWID;"
    "CREATE INDEX journal_seq ON journal(seq);",

    /* 5: a bar whose period began before the data did (CANDLE_PARTIAL: the first 1h bar of a
     * replay that starts at 23:54 holds six minutes) is stored as such, so a later history load
     * keeps it out of the indicators too. Rows written before are whole (0). */
    "ALTER TABLE candles ADD COLUMN partial INTEGER NOT NULL DEFAULT 0;",

    /* 6: the signal engine (docs/ENGINE.md "Storage"): every signal and, once its horizon has
     * passed, its scoring (one row per signal, upserted on (venue, symbol, sig_id, time_ms)); the
     * metrics document each data-clock hour; model state checkpoints (the engine_save blob),
     * one version per row, the newest few kept per symbol. */
    "CREATE TABLE signals("
    "  id INTEGER PRIMARY KEY,"
    "  venue TEXT NOT NULL,"
    "  symbol TEXT NOT NULL,"
    "  sig_id INTEGER NOT NULL,"
    "  time_ms INTEGER NOT NULL,"
    "  horizon_end_ms INTEGER NOT NULL,"
    "  action TEXT NOT NULL,"
    "  p_sell REAL NOT NULL, p_hold REAL NOT NULL, p_buy REAL NOT NULL,"
    "  confidence REAL NOT NULL,"
    "  strength REAL NOT NULL,"
    "  scored INTEGER NOT NULL,"
    "  outcome TEXT, result TEXT, ret REAL, mfe REAL, mae REAL,"
    "  regime TEXT NOT NULL, source TEXT NOT NULL, first_hit TEXT NOT NULL,"
    "  traded INTEGER NOT NULL,"
    "  session_id INTEGER,"
    "  UNIQUE(venue, symbol, sig_id, time_ms));"
    "CREATE INDEX signals_time ON signals(time_ms);"
    "CREATE TABLE metrics("
    "  id INTEGER PRIMARY KEY,"
    "  venue TEXT NOT NULL,"
    "  symbol TEXT NOT NULL,"
    "  time_ms INTEGER NOT NULL,"
    "  doc TEXT NOT NULL);"
    "CREATE TABLE model_state("
    "  id INTEGER PRIMARY KEY,"
    "  venue TEXT NOT NULL,"
    "  symbol TEXT NOT NULL,"
    "  time_ms INTEGER NOT NULL,"
    "  saved_ms INTEGER NOT NULL,"
    "  bytes INTEGER NOT NULL,"
    "  state BLOB NOT NULL);"
    "CREATE INDEX model_state_sym ON model_state(venue, symbol, id);",

    /* 7 (engine11: reasons from the database, retrains stored): each signal's top reasons as
     * text ("; "-separated), so the AI screen shows them for any stored signal; every retrain of
     * an off-thread model (XGBoost walk-forward, the deep networks' trainings): trigger, sizes,
     * validation result, accepted or not. */
    "ALTER TABLE signals ADD COLUMN reasons TEXT;"
    "CREATE TABLE retrains("
    "  id INTEGER PRIMARY KEY,"
    "  venue TEXT NOT NULL,"
    "  symbol TEXT NOT NULL,"
    "  model TEXT NOT NULL,"
    "  kind TEXT NOT NULL,"
    "  seq INTEGER NOT NULL,"
    "  time_ms INTEGER NOT NULL,"
    "  trigger TEXT NOT NULL,"
    "  n_train INTEGER NOT NULL,"
    "  n_holdout INTEGER NOT NULL,"
    "  cand_logloss REAL, cand_acc REAL, live_logloss REAL, live_acc REAL, base_logloss REAL,"
    "  accepted INTEGER NOT NULL,"
    "  train_ms REAL,"
    "  thread TEXT NOT NULL,"
    "  session_id INTEGER);"
    "CREATE INDEX retrains_time ON retrains(time_ms);",
    /* 8: risk metrics of the Trading screen (issue #10, ui10): the open portfolio's historical
     * VaR / ES (95%, 1 day), the exposure by asset and the correlation matrix of the watched
     * symbols, one row per data-clock hour (store_put_risk_metrics). var / es are exact decimal
     * strings (NULL when there was not enough data), doc the whole `ctl risk` "metrics". */
    "CREATE TABLE risk_metrics("
    "  time_ms INTEGER PRIMARY KEY,"
    "  days INTEGER NOT NULL,"
    "  var TEXT,"
    "  es TEXT,"
    "  doc TEXT NOT NULL);",
    /* 9 (backtest results, issue 13): one row per `kestrel backtest` run, sweep, sweep
     * configuration or merged shard report (btstore.h, docs/BACKTEST.md "Stored results"):
     * what ran (args, data files with their SHA-256, seed, config), the summary columns (kdec
     * raw INTEGERs for money), the verdicts, the JSON report as written by --json and the
     * plots' data (equity curve, monthly returns, reliability bins, trade P&Ls). */
    "CREATE TABLE backtests("
    "  id INTEGER PRIMARY KEY,"
    "  time_ms INTEGER NOT NULL,"
    "  kind TEXT NOT NULL,"
    "  parent_id INTEGER,"
    "  args TEXT NOT NULL,"
    "  data_files TEXT NOT NULL,"
    "  seed INTEGER NOT NULL,"
    "  config TEXT NOT NULL,"
    "  symbol TEXT, venue TEXT, strategy TEXT,"
    "  from_ms INTEGER, to_ms INTEGER,"
    "  bars INTEGER,"
    "  net_pnl INTEGER, return REAL, sharpe REAL, max_drawdown REAL,"
    "  trades INTEGER, fees INTEGER,"
    "  verdict TEXT,"
    "  report TEXT NOT NULL,"
    "  plots TEXT);"
    "CREATE INDEX backtests_time ON backtests(time_ms);",
    /* 10: live data (issue 9): the venue's own instrument document per symbol (a Binance
     * exchangeInfo symbols[] entry, an OKX instruments item), so a restart without network
     * still knows every filter (store_put_instrument_doc, store_load_instrument_docs) */
    "CREATE TABLE instrument_filters("
    "  venue TEXT NOT NULL,"
    "  symbol TEXT NOT NULL,"
    "  doc TEXT NOT NULL,"
    "  fetched_ms INTEGER NOT NULL,"
    "  PRIMARY KEY(venue, symbol)) WITHOUT ROWID;",
    /* 11 (eng11: the engine replays the signals stored after its checkpoint): each signal's
     * replay record (engine_record: its feature row, raw features, every model's and the
     * baselines' probabilities), so a restart after kill -9 brings the metrics and the models
     * up to every signal the store committed (docs/ENGINE.md "Restore"). */
    "ALTER TABLE signals ADD COLUMN replay BLOB;",
    /* 12 (eng11: an older signal's breakdown with its ensemble weights): every model's
     * ensemble weight when the signal was made, "w0,w1,..." in engine_model() order (NULL in
     * rows written before: the AI screen shows "w -" for them). */
    "ALTER TABLE signals ADD COLUMN weights TEXT;",
};

int store_schema_latest(void)
{
    return (int)K_ARRAY_LEN(migrations);
}

enum store_result store_schema_describe(sqlite3 *db, int rc, const char *path, char *err,
                                        size_t errlen)
{
    const char *msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    int prim = rc & 0xff;
    bool io = prim == SQLITE_IOERR || prim == SQLITE_FULL || prim == SQLITE_CANTOPEN ||
              prim == SQLITE_READONLY;
    int e = db && io ? sqlite3_system_errno(db) : 0;
    if (e == ENOSPC || e == EFBIG || e == EDQUOT)
        rc = SQLITE_FULL; /* reported as "disk I/O error" by SQLite: say what it is */
    else if (e == EROFS && (rc & 0xff) == SQLITE_IOERR)
        rc = SQLITE_READONLY;
    char full[200];
    if (e) {
        snprintf(full, sizeof full, "%s: %s", msg, strerror(e));
        msg = full;
    }
    switch (rc & 0xff) {
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT:
    case SQLITE_FORMAT:
        snprintf(err, errlen, "%s: not a Kestrel database or corrupt (%s); it was left untouched",
                 path, msg);
        return STORE_E_REFUSED;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        snprintf(err, errlen, "%s: database is in use by another process (%s)", path, msg);
        return STORE_E_IN_USE;
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_CANTOPEN: {
        char dir[4096];
        snprintf(dir, sizeof dir, "%s", path);
        char *slash = strrchr(dir, '/');
        if (slash)
            slash[slash == dir ? 1 : 0] = '\0';
        else
            snprintf(dir, sizeof dir, ".");
        if (access(dir, W_OK) != 0) {
            snprintf(err, errlen,
                     "%s: the directory %s is not writable (%s); Kestrel needs to create the "
                     "database's -wal and -shm files there",
                     path, dir, msg);
            return STORE_E_READONLY;
        }
        if ((rc & 0xff) == SQLITE_CANTOPEN) {
            snprintf(err, errlen, "%s: cannot open the database (%s)", path, msg);
            return STORE_E_OPEN;
        }
        snprintf(err, errlen,
                 "%s: the database is read-only (%s); Kestrel must write its database: fix its "
                 "permissions or use another --db",
                 path, msg);
        return STORE_E_READONLY;
    }
    case SQLITE_FULL:
        snprintf(err, errlen,
                 "%s: the disk is full or a file size limit was reached (%s); free some space "
                 "or use another --db",
                 path, msg);
        return STORE_E_DISK_FULL;
    case SQLITE_IOERR:
        snprintf(err, errlen, "%s: cannot write the database (%s)", path, msg);
        return STORE_E_OPEN;
    default:
        snprintf(err, errlen, "%s: cannot open the database (%s)", path, msg);
        return STORE_E_OPEN;
    }
}

/* One integer from a one-row query. SQLITE_OK or the failing rc. */
static int store_schema_query_int(sqlite3 *db, const char *sql, long long *out)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK)
        return rc;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *out = sqlite3_column_int64(st, 0);
        rc = SQLITE_OK;
    } else if (rc == SQLITE_DONE) {
        rc = SQLITE_ERROR;
    }
    sqlite3_finalize(st);
    return rc;
}

/* Applies migrations[from] and bumps user_version in one transaction. On failure the
 * transaction is rolled back and the reason (captured before the rollback) is in why. */
static int store_schema_migrate_step(sqlite3 *db, int from, char *why, size_t whylen,
                                     int *sys_errno)
{
    char sql[96];
    int rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db, migrations[from], NULL, NULL, NULL);
    if (rc == SQLITE_OK && from == 0) {
        snprintf(sql, sizeof sql, "PRAGMA application_id = %d", STORE_APP_ID);
        rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    }
    if (rc == SQLITE_OK) {
        snprintf(sql, sizeof sql, "PRAGMA user_version = %d", from + 1);
        rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    }
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        *sys_errno = sqlite3_system_errno(db);
        if (*sys_errno)
            snprintf(why, whylen, "%s: %s", sqlite3_errmsg(db), strerror(*sys_errno));
        else
            snprintf(why, whylen, "%s", sqlite3_errmsg(db));
        if (!sqlite3_get_autocommit(db))
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    }
    return rc;
}

enum store_result store_schema_prepare(sqlite3 *db, const char *path, int *version, char *err,
                                       size_t errlen)
{
    long long app_id = 0, uv = 0, tables = 0;
    int latest = store_schema_latest();
    int rc;

    *version = 0;
    /* Reads only. Any of these fails on a file that is not SQLite, or is corrupt, or is
     * exclusively locked by another process. */
    rc = store_schema_query_int(db, "SELECT count(*) FROM sqlite_master", &tables);
    if (rc == SQLITE_OK)
        rc = store_schema_query_int(db, "PRAGMA application_id", &app_id);
    if (rc == SQLITE_OK)
        rc = store_schema_query_int(db, "PRAGMA user_version", &uv);
    if (rc != SQLITE_OK)
        return store_schema_describe(db, rc, path, err, errlen);
    if (app_id != STORE_APP_ID && (app_id != 0 || tables > 0)) {
        snprintf(err, errlen,
                 "%s: not a Kestrel database or corrupt (application_id 0x%08llx, %lld table(s), "
                 "user_version %lld); it was left untouched",
                 path, (unsigned long long)(uint32_t)app_id, tables, uv);
        return STORE_E_REFUSED;
    }
    if (uv > latest) {
        snprintf(err, errlen,
                 "%s: schema version %lld is newer than this Kestrel (%d); upgrade Kestrel or "
                 "use another --db",
                 path, uv, latest);
        return STORE_E_REFUSED;
    }
    if (uv < 0) {
        snprintf(err, errlen,
                 "%s: not a Kestrel database or corrupt (schema version %lld); it was left "
                 "untouched",
                 path, uv);
        return STORE_E_REFUSED;
    }

    /* From here on the file is ours to write. */
    sqlite3_stmt *st = NULL;
    rc = sqlite3_prepare_v2(db, "PRAGMA journal_mode = WAL", -1, &st, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            const char *mode = (const char *)sqlite3_column_text(st, 0);
            rc = mode && strcmp(mode, "wal") == 0 ? SQLITE_OK : SQLITE_ERROR;
            if (rc != SQLITE_OK) {
                snprintf(err, errlen, "%s: cannot switch the database to WAL mode (mode is %s)",
                         path, mode ? mode : "unknown");
                sqlite3_finalize(st);
                return STORE_E_OPEN;
            }
        }
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_OK)
        return store_schema_describe(db, rc, path, err, errlen);
    rc = sqlite3_exec(db,
                      "PRAGMA synchronous = NORMAL;"
                      "PRAGMA journal_size_limit = 67108864;",
                      NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        return store_schema_describe(db, rc, path, err, errlen);

    for (int v = (int)uv; v < latest; v++) {
        char why[160];
        int e = 0;
        rc = store_schema_migrate_step(db, v, why, sizeof why, &e);
        if (rc != SQLITE_OK && (e == ENOSPC || e == EFBIG || e == EDQUOT)) {
            snprintf(err, errlen,
                     "%s: the disk is full or a file size limit was reached (%s during the "
                     "migration to schema %d); free some space or use another --db",
                     path, why, v + 1);
            *version = v;
            return STORE_E_DISK_FULL;
        }
        if (rc != SQLITE_OK) {
            if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED)
                snprintf(err, errlen,
                         "%s: database is in use by another process (%s during the migration "
                         "to schema %d); it was left at schema %d",
                         path, why, v + 1, v);
            else if ((rc & 0xff) == SQLITE_FULL || (rc & 0xff) == SQLITE_READONLY ||
                     (rc & 0xff) == SQLITE_CANTOPEN)
                store_schema_describe(db, rc, path, err, errlen);
            else
                snprintf(err, errlen,
                         "%s: migrating the schema from version %d to %d failed (%s); it was "
                         "left at schema %d",
                         path, v, v + 1, why, v);
            *version = v;
            switch (rc & 0xff) {
            case SQLITE_BUSY:
            case SQLITE_LOCKED:
                return STORE_E_IN_USE;
            case SQLITE_FULL:
                return STORE_E_DISK_FULL;
            case SQLITE_READONLY:
            case SQLITE_CANTOPEN:
                return STORE_E_READONLY;
            default:
                return STORE_E_OPEN;
            }
        }
    }
    *version = latest;
    return STORE_OK;
}
