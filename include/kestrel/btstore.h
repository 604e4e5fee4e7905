/* Backtest results in the Kestrel database (table `backtests`, docs/BACKTEST.md "Stored
 * results"): `kestrel backtest` saves each run, sweep, sweep configuration and merged shard
 * report at its end in one transaction (btstore_save); the app's Backtests screen reads them
 * on the store's writer thread (btstore_list, btstore_load through store_read_async, btview.h);
 * `kestrel export backtests` reads them read-only (btstore_export).
 *
 * The summary columns are taken from the report itself (bars, net_pnl, fees, return, sharpe,
 * max_drawdown, trade_count, verdicts), so a row always says what its JSON report says; money
 * is kdec raw INTEGERs as everywhere in the store. */
#ifndef KESTREL_BTSTORE_H
#define KESTREL_BTSTORE_H
#include <stdio.h>

#include "kestrel/common.h"
#include "kestrel/store.h"

struct cJSON;
struct sqlite3;

#define BTSTORE_LIST_MAX 1000          /* newest rows the screen lists */
#define BTSTORE_REPORT_MAX (16u << 20) /* bigger sweep reports are stored without per-bar returns */

/* One row of a save: kind "run", "walk_forward", "sweep", "sweep_config" or "merge"; parent
 * the index in the same save of the row it belongs to (a configuration's sweep), or -1. */
typedef struct btstore_entry {
    const char *kind;
    int parent;
    const struct cJSON *report;
} btstore_entry;

/* What ran: the command line, the data files (hashed here: size and SHA-256), the seed and the
 * configuration (JSON text). */
typedef struct btstore_meta {
    const char *args;
    const char *const *files;
    int nfiles;
    uint64_t seed;
    const char *config;
} btstore_meta;

/* Saves n rows in one transaction. The database is opened (created and migrated like the
 * app's: store_open) and closed again; while another Kestrel holds it (STORE_E_IN_USE: the app
 * is running on it), the rows go in through SQLite's own locking (WAL, a 5 s busy timeout).
 * STORE_OK and the first row's id in *first_id (the others follow it), or an error result with
 * a message in err. */
K_MUST_USE enum store_result btstore_save(const char *db_path, const btstore_meta *m,
                                          const btstore_entry *e, int n, int64_t *first_id,
                                          char *err, size_t errlen);

/* One row's summary (what the screen's list shows). */
typedef struct btstore_row {
    int64_t id, time_ms, parent_id; /* parent_id 0: none */
    char kind[16], symbol[KSYM_MAX], venue[24], strategy[24];
    int64_t from_ms, to_ms;         /* 0: unknown */
    int64_t bars, trades;           /* -1: not in this kind of report */
    kdec net_pnl, fees;
    bool has_net_pnl, has_fees;
    double ret, sharpe, max_drawdown; /* NAN: not in the report */
    uint64_t seed;
    uint32_t verdicts, edges;       /* verdicts, and those that found an edge */
} btstore_row;

/* Reads on a connection the caller owns (the store's writer, or a read-only one): the newest
 * max rows, newest first. STORE_OK (also when none) or STORE_E_READ. */
enum store_result btstore_list(struct sqlite3 *db, btstore_row *out, uint32_t max, uint32_t *n);

/* One row in full: texts and the parsed report and plots (NULL when absent). */
typedef struct btstore_report {
    btstore_row row;
    char *args, *data_files, *config, *verdict; /* owned */
    struct cJSON *report, *plots;               /* owned */
} btstore_report;
/* STORE_OK, STORE_NOT_FOUND or STORE_E_READ; out is zeroed first. */
enum store_result btstore_load(struct sqlite3 *db, int64_t id, btstore_report *out);
void btstore_report_free(btstore_report *r);

/* `kestrel export backtests [--id N]`: id 0 every row (summary columns), else that run's
 * trades. CSV or JSON on out. 0, 1 (read error, unknown id). */
int btstore_export(struct sqlite3 *db, int64_t id, bool csv, FILE *out);

#endif
