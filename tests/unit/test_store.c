/* The SQLite store on real files in a temp directory: restart round trip, idempotent candles,
 * batch commit counts, the flush timer, commit_then ordering, migration from hand-built older
 * schemas (v1 and v2), settings (read-your-writes, bounds, restart), refusal of corrupt /
 * foreign / newer / locked / unwritable databases (files left byte-for-byte unchanged),
 * queue-cap drops, recovery from write errors, survival of kill -9, and the eventfd driven by
 * the real main loop.
 * Candles are real Binance 1h bars from ../shared/data/klines. */
#include "check.h"

#include "kestrel/loop.h"
#include "kestrel/store.h"

#include <ftw.h>
#include <poll.h>
#include <pthread.h>
#include <sqlite3.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAXBARS 200

static char tmpdir[256];
static candle bars[MAXBARS];
static int nbars;

/* ------------------------------------------------------------------ helpers */

/* Test-local exact decimal parser ("9246.01" -> 924601000000): digits[.digits], up to 8
 * fractional digits (decimal_parse lives in another module). */
static kdec parse_kdec(const char *p, const char *end)
{
    bool neg = false;
    int64_t ip = 0, fp = 0;
    int fd = 0;
    if (p < end && *p == '-') {
        neg = true;
        p++;
    }
    while (p < end && *p >= '0' && *p <= '9')
        ip = ip * 10 + (*p++ - '0');
    if (p < end && *p == '.') {
        p++;
        while (p < end && *p >= '0' && *p <= '9') {
            if (fd < 8) {
                fp = fp * 10 + (*p - '0');
                fd++;
            }
            p++;
        }
    }
    while (fd < 8) {
        fp *= 10;
        fd++;
    }
    int64_t v = ip * KDEC_SCALE + fp;
    return neg ? -v : v;
}

/* open_time_ms,open,high,low,close,volume */
static int load_csv(const char *path, candle *out, int max)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char line[256];
    int n = 0;
    while (n < max && fgets(line, sizeof line, f)) {
        if (line[0] < '0' || line[0] > '9')
            continue; /* header */
        const char *fld[6];
        const char *fend[6];
        const char *p = line;
        int k = 0;
        while (k < 6) {
            fld[k] = p;
            while (*p && *p != ',' && *p != '\n' && *p != '\r')
                p++;
            fend[k++] = p;
            if (*p != ',')
                break;
            p++;
        }
        if (k != 6)
            continue;
        candle *b = &out[n++];
        memset(b, 0, sizeof *b);
        b->open_ms = strtoll(fld[0], NULL, 10);
        b->o = parse_kdec(fld[1], fend[1]);
        b->h = parse_kdec(fld[2], fend[2]);
        b->l = parse_kdec(fld[3], fend[3]);
        b->c = parse_kdec(fld[4], fend[4]);
        b->volume = parse_kdec(fld[5], fend[5]);
    }
    fclose(f);
    return n;
}

static bool candle_eq(const candle *a, const candle *b)
{
    return a->open_ms == b->open_ms && a->o == b->o && a->h == b->h && a->l == b->l &&
           a->c == b->c && a->volume == b->volume && a->buy_volume == b->buy_volume &&
           a->quote_volume == b->quote_volume && a->trades == b->trades && a->flags == b->flags;
}

static void db_path(char *buf, size_t cap, const char *name)
{
    snprintf(buf, cap, "%s/%s", tmpdir, name);
}

static long long sql_int(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    long long v = -1;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
            sqlite3_step(st) == SQLITE_ROW)
            v = sqlite3_column_int64(st, 0);
        else
            fprintf(stderr, "sql_int(%s): %s\n", sql, sqlite3_errmsg(db));
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
    return v;
}

static int sql_exec(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK)
        fprintf(stderr, "sql_exec(%.60s...): %s\n", sql, msg ? msg : "?");
    sqlite3_free(msg);
    return rc;
}

static unsigned char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    unsigned char *buf = malloc(cap);
    size_t r;
    while ((r = fread(buf + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap)
            buf = realloc(buf, cap *= 2);
    }
    fclose(f);
    *len = n;
    return buf;
}

static int write_all(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t w = fwrite(data, 1, len, f);
    fclose(f);
    return w == len ? 0 : -1;
}

static bool same_bytes(const unsigned char *a, size_t alen, const char *path)
{
    size_t blen = 0;
    unsigned char *b = read_all(path, &blen);
    bool same = b && alen == blen && memcmp(a, b, alen) == 0;
    free(b);
    return same;
}

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static store *open_ok(const char *path, const store_opts *o)
{
    char err[512] = "";
    store *s = NULL;
    int rc = store_open(&s, path, o, err, sizeof err);
    CHECK_INT(rc, K_OK);
    if (rc != K_OK)
        fprintf(stderr, "store_open: %s\n", err);
    return s;
}

/* store_load_candles as a count: n, or -1 on an error result. */
static int load_n(store *s, enum venue v, const char *symbol, enum tf tf, int64_t before,
                  candle *out, uint32_t max)
{
    uint32_t n = 0;
    enum store_result r = store_load_candles(s, v, symbol, tf, before, out, max, &n);
    return r == STORE_OK ? (int)n : -1;
}

/* Runs the main-loop side until *counter reaches want (bounded: ~100 s worst case). */
static void pump(store *s, const int *counter, int want)
{
    for (int i = 0; i < 1000 && *counter < want; i++) {
        struct pollfd p = {.fd = store_fd(s), .events = POLLIN};
        if (poll(&p, 1, 100) > 0)
            store_process(s);
    }
}

/* ------------------------------------------------------------------ tests */

static void test_restart_roundtrip(void)
{
    char path[512];
    db_path(path, sizeof path, "sub/dir/roundtrip.db"); /* parents do not exist yet */
    store *s = open_ok(path, NULL);
    if (!s)
        return;
    CHECK(store_schema_version() >= 6); /* the latest: migrations are only ever appended */
    CHECK_INT(store_get_stats(s)->schema_version, store_schema_version());
    int64_t sid = store_session_begin(s, "replay", "0.1.0", "--replay x.gz");
    CHECK_INT(sid, 1);
    CHECK_INT(store_put_instrument(s, VENUE_BINANCE_SPOT, "BTCUSDT", 2, 6, 1525132800000), K_OK);
    for (int i = 0; i < nbars; i++)
        CHECK_INT(store_put_candle(s, VENUE_BINANCE_SPOT, "BTCUSDT", TF_1H, &bars[i]), K_OK);
    CHECK_INT(store_put_book_event(s, 1525132800123, VENUE_BINANCE_SPOT, "BTCUSDT", "gap",
                                   123456, "u 10 != 9 + 1"),
              K_OK);
    store_session_end(s);
    store_flush(s);
    const store_stats *st = store_get_stats(s);
    /* candles + instrument + book event + session begin + session end */
    CHECK_INT(st->rows_written, nbars + 4);
    CHECK_INT(st->rows_queued, nbars + 4);
    CHECK_INT(st->rows_failed, 0);
    CHECK_INT(st->errors, 0);
    CHECK_INT(st->dropped, 0);
    CHECK_INT(st->queue_depth, 0);
    CHECK_STR(st->last_error, "");
    store_close(s);

    struct stat sb;
    char dir[512];
    db_path(dir, sizeof dir, "sub/dir");
    CHECK(stat(dir, &sb) == 0 && (sb.st_mode & 0777) == 0700);

    /* "restart" */
    s = open_ok(path, NULL);
    if (!s)
        return;
    static candle got[MAXBARS];
    int n = load_n(s, VENUE_BINANCE_SPOT, "BTCUSDT", TF_1H, INT64_MAX, got, MAXBARS);
    CHECK_INT(n, nbars);
    int same = 0;
    for (int i = 0; i < n && i < nbars; i++)
        same += candle_eq(&got[i], &bars[i]);
    CHECK_INT(same, nbars);
    /* the newest 50, oldest first */
    n = load_n(s, VENUE_BINANCE_SPOT, "BTCUSDT", TF_1H, INT64_MAX, got, 50);
    CHECK_INT(n, 50);
    CHECK(n == 50 && candle_eq(&got[0], &bars[nbars - 50]) &&
          candle_eq(&got[49], &bars[nbars - 1]));
    /* strictly before bar 60 */
    n = load_n(s, VENUE_BINANCE_SPOT, "BTCUSDT", TF_1H, bars[60].open_ms, got, 10);
    CHECK_INT(n, 10);
    CHECK(n == 10 && candle_eq(&got[0], &bars[50]) && candle_eq(&got[9], &bars[59]));
    /* other venue, other timeframe, other symbol: nothing */
    CHECK_INT(load_n(s, VENUE_OKX, "BTCUSDT", TF_1H, INT64_MAX, got, 10), 0);
    CHECK_INT(load_n(s, VENUE_BINANCE_SPOT, "BTCUSDT", TF_4H, INT64_MAX, got, 10), 0);
    CHECK_INT(load_n(s, VENUE_BINANCE_SPOT, "ETHUSDT", TF_1H, INT64_MAX, got, 10), 0);
    CHECK_INT(load_n(s, VENUE_BINANCE_SPOT, "BTCUSDT", TF_1H, INT64_MAX, got, 0), 0);
    /* the next session gets the next id */
    CHECK_INT(store_session_begin(s, "replay", "0.1.0", ""), 2);
    store_close(s); /* ends session 2 */

    CHECK_INT(sql_int(path, "SELECT count(*) FROM sessions WHERE ended_ms >= started_ms"), 2);
    CHECK_INT(sql_int(path, "SELECT count(*) FROM sessions WHERE id = 1 AND source = 'replay'"
                            " AND version = '0.1.0' AND args = '--replay x.gz'"),
              1);
    CHECK_INT(sql_int(path, "SELECT px_decimals * 10 + qty_decimals FROM instruments"
                            " WHERE venue = 'binance-spot' AND symbol = 'BTCUSDT'"),
              26);
    CHECK_INT(sql_int(path, "SELECT count(*) FROM book_events WHERE session_id = 1 AND"
                            " kind = 'gap' AND last_id = 123456 AND detail = 'u 10 != 9 + 1'"
                            " AND venue = 'binance-spot' AND time_ms = 1525132800123"),
              1);
    /* the raw values are the exact kdec integers: 9246.01 at 1525132800000 */
    CHECK_INT(sql_int(path, "SELECT o FROM candles WHERE tf = '1h' AND open_ms = 1525132800000"),
              924601000000LL);
    CHECK_INT(sql_int(path, "SELECT count(*) FROM pragma_journal_mode WHERE journal_mode = 'wal'"),
              1);
}

static void test_idempotent(void)
{
    char path[512];
    db_path(path, sizeof path, "idem.db");
    store *s = open_ok(path, NULL);
    if (!s)
        return;
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < nbars; i++)
            store_put_candle(s, VENUE_BINANCE_USDM, "BTCUSDT", TF_1H, &bars[i]);
    store_flush(s);
    CHECK_INT(sql_int(path, "SELECT count(*) FROM candles"), nbars);
    store_close(s);

    /* a re-run after a restart is still idempotent; a changed bar replaces the old one */
    s = open_ok(path, NULL);
    if (!s)
        return;
    for (int i = 0; i < nbars; i++)
        store_put_candle(s, VENUE_BINANCE_USDM, "BTCUSDT", TF_1H, &bars[i]);
    candle last = bars[nbars - 1];
    last.c = bars[nbars - 1].h; /* as if the bar had been closed at a different price */
    last.trades = 7;
    store_put_candle(s, VENUE_BINANCE_USDM, "BTCUSDT", TF_1H, &last);
    store_put_instrument(s, VENUE_BINANCE_USDM, "BTCUSDT", 1, 3, 1000);
    store_put_instrument(s, VENUE_BINANCE_USDM, "BTCUSDT", 2, 3, 2000); /* upsert */
    store_flush(s);
    CHECK_INT(sql_int(path, "SELECT count(*) FROM candles"), nbars);
    candle got[1];
    CHECK_INT(load_n(s, VENUE_BINANCE_USDM, "BTCUSDT", TF_1H, INT64_MAX, got, 1), 1);
    CHECK(candle_eq(&got[0], &last));
    store_close(s);
    CHECK_INT(sql_int(path, "SELECT count(*) FROM instruments WHERE px_decimals = 2 AND"
                            " first_seen_ms = 1000 AND updated_ms = 2000"),
              1);
}

static void test_batch_commits(void)
{
    char path[512];
    db_path(path, sizeof path, "batch.db");
    store_opts o = {.batch = 10, .flush_ms = 600000};
    store *s = open_ok(path, &o);
    if (!s)
        return;
    for (int i = 0; i < 95; i++)
        store_put_candle(s, VENUE_BINANCE_SPOT, "BTCUSDT", TF_1H, &bars[i]);
    store_flush(s);
    const store_stats *st = store_get_stats(s);
    CHECK_INT(st->commits, 10); /* 9 full batches + the flush of the last 5 */
    CHECK_INT(st->rows_written, 95);
    CHECK_INT(st->rows_queued, 95);
    CHECK(st->queue_peak >= 1 && st->queue_peak <= 95);
    store_flush(s); /* nothing pending: no empty commit */
    CHECK_INT(store_get_stats(s)->commits, 10);
    store_close(s);
    CHECK_INT(sql_int(path, "SELECT count(*) FROM candles"), 95);
}

static void test_flush_timer(void)
{
    char path[512];
    db_path(path, sizeof path, "timer.db");
    store_opts o = {.batch = 1000, .flush_ms = 20};
    store *s = open_ok(path, &o);
    if (!s)
        return;
    for (int i = 0; i < 3; i++)
        store_put_candle(s, VENUE_BINANCE_SPOT, "BTCUSDT", TF_1H, &bars[i]);
    /* no flush: the timer commits them (bounded wait, not a timing assertion) */
    long long n = 0;
    for (int i = 0; i < 2000 && n != 3; i++) {
        usleep(5000);
        n = sql_int(path, "SELECT count(*) FROM candles");
    }
    CHECK_INT(n, 3);
    CHECK_INT(store_get_stats(s)->commits, 1);
    store_close(s);
}

struct barrier_probe {
    const char *path;
    int calls;
    int order[4];
    int rc[4];
    long long visible[4];
    bool main_thread[4];
    pthread_t main_id;
};

static void probe_cb(struct barrier_probe *p, int idx, int rc)
{
    int k = p->calls++;
    if (k >= 4)
        return;
    p->order[k] = idx;
    p->rc[k] = rc;
    p->visible[k] = sql_int(p->path, "SELECT count(*) FROM candles");
    p->main_thread[k] = pthread_equal(pthread_self(), p->main_id);
}
static void barrier_cb0(void *ud, enum store_result rc) { probe_cb(ud, 0, rc); }
static void barrier_cb1(void *ud, enum store_result rc) { probe_cb(ud, 1, rc); }
static void barrier_cb2(void *ud, enum store_result rc) { probe_cb(ud, 2, rc); }

static void test_commit_then(void)
{
    char path[512];
    db_path(path, sizeof path, "barrier.db");
    store_opts o = {.batch = 1000, .flush_ms = 600000}; /* only the barrier can commit */
    store *s = open_ok(path, &o);
    if (!s)
        return;
    struct barrier_probe p = {.path = path, .main_id = pthread_self()};
    for (int i = 0; i < 100; i++)
        store_put_candle(s, VENUE_BINANCE_SPOT, "BTCUSDT", TF_1H, &bars[i]);
    CHECK_INT(store_commit_then(s, barrier_cb0, &p), K_OK);
    for (int i = 100; i < nbars; i++)
        store_put_candle(s, VENUE_BINANCE_SPOT, "BTCUSDT", TF_1H, &bars[i]);
    CHECK_INT(store_commit_then(s, barrier_cb1, &p), K_OK);
    CHECK_INT(store_commit_then(s, barrier_cb2, &p), K_OK); /* nothing new: still K_OK */
    CHECK_INT(store_commit_then(s, NULL, &p), STORE_E_INVALID);
    CHECK_INT(p.calls, 0); /* callbacks only run from store_process */
    pump(s, &p.calls, 3);
    CHECK_INT(p.calls, 3);
    for (int k = 0; k < 3; k++) {
        CHECK_INT(p.order[k], k);
        CHECK_INT(p.rc[k], K_OK);
        CHECK(p.main_thread[k]);
    }
    /* each callback saw its rows from a separate connection */
    CHECK(p.visible[0] >= 100);
    CHECK_INT(p.visible[1], nbars);
    CHECK_INT(p.visible[2], nbars);
    const store_stats *st = store_get_stats(s);
    CHECK_INT(st->barriers, 3);
    CHECK_INT(st->commits, 2); /* the durable marks are not data commits */
    CHECK(sql_int(path, "SELECT value FROM meta WHERE key = 'last_barrier_ms'") > 1500000000000);

    /* a barrier queued just before close still gets its callback (from store_close) */
    store_put_candle(s, VENUE_BINANCE_SPOT, "BTCUSDT", TF_4H, &bars[0]);
    CHECK_INT(store_commit_then(s, barrier_cb0, &p), K_OK);
    store_close(s);
    CHECK_INT(p.calls, 4);
    CHECK_INT(p.rc[3], K_OK);
}

/* The layout of schema version 1, written by hand as an older Kestrel would have left it. */
static const char *const v1_sql =
    "CREATE TABLE sessions(id INTEGER PRIMARY KEY, started_ms INTEGER NOT NULL,"
    " ended_ms INTEGER, source TEXT NOT NULL, version TEXT NOT NULL, args TEXT NOT NULL);"
    "CREATE TABLE instruments(venue TEXT NOT NULL, symbol TEXT NOT NULL,"
    " px_decimals INTEGER NOT NULL, qty_decimals INTEGER NOT NULL,"
    " first_seen_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL,"
    " PRIMARY KEY(venue, symbol)) WITHOUT ROWID;"
    "CREATE TABLE candles(venue TEXT NOT NULL, symbol TEXT NOT NULL, tf TEXT NOT NULL,"
    " open_ms INTEGER NOT NULL, o INTEGER NOT NULL, h INTEGER NOT NULL, l INTEGER NOT NULL,"
    " c INTEGER NOT NULL, volume INTEGER NOT NULL, buy_volume INTEGER NOT NULL,"
    " quote_volume INTEGER NOT NULL, trades INTEGER NOT NULL,"
    " PRIMARY KEY(venue, symbol, tf, open_ms)) WITHOUT ROWID;"
    "CREATE TABLE book_events(id INTEGER PRIMARY KEY, session_id INTEGER,"
    " time_ms INTEGER NOT NULL, venue TEXT NOT NULL, symbol TEXT NOT NULL, kind TEXT NOT NULL,"
    " last_id INTEGER, detail TEXT);"
    "PRAGMA application_id = 1263752274;" /* 0x4B535452 "KSTR" */
    "PRAGMA user_version = 1;";

static int build_v1(const char *path, int ncandles)
{
    sqlite3 *db = NULL;
    int rc = sqlite3_open(path, &db);
    if (rc == SQLITE_OK)
        rc = sql_exec(db, v1_sql);
    if (rc == SQLITE_OK)
        rc = sql_exec(db, "BEGIN;"
                          "INSERT INTO sessions VALUES(7, 1700000000000, 1700000100000, 'replay',"
                          " '0.0.9', '');"
                          "INSERT INTO instruments VALUES('okx', 'BTC-USDT', 1, 8, 1, 2);"
                          "INSERT INTO book_events VALUES(NULL, 7, 1700000000500, 'okx',"
                          " 'BTC-USDT', 'resynced', 42, 'seqId jump');");
    sqlite3_stmt *st = NULL;
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(db,
                                "INSERT INTO candles VALUES('okx','BTC-USDT','1h',?,?,?,?,?,?,"
                                "?,?,?)",
                                -1, &st, NULL);
    for (int i = 0; rc == SQLITE_OK && i < ncandles; i++) {
        const candle *b = &bars[i];
        sqlite3_bind_int64(st, 1, b->open_ms);
        sqlite3_bind_int64(st, 2, b->o);
        sqlite3_bind_int64(st, 3, b->h);
        sqlite3_bind_int64(st, 4, b->l);
        sqlite3_bind_int64(st, 5, b->c);
        sqlite3_bind_int64(st, 6, b->volume);
        sqlite3_bind_int64(st, 7, b->buy_volume);
        sqlite3_bind_int64(st, 8, b->quote_volume);
        sqlite3_bind_int64(st, 9, b->trades);
        rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    if (rc == SQLITE_OK)
        rc = sql_exec(db, "COMMIT");
    sqlite3_close(db);
    return rc;
}

/* Schema version 2 as an older Kestrel would have left it: version 1 plus migration 2, by hand,
 * with a meta row written the way the barrier writes it. */
static int build_v2(const char *path, int ncandles)
{
    int rc = build_v1(path, ncandles);
    sqlite3 *db = NULL;
    if (rc == SQLITE_OK)
        rc = sqlite3_open(path, &db);
    if (rc == SQLITE_OK)
        rc = sql_exec(db, "BEGIN;"
                          "CREATE TABLE meta(key TEXT PRIMARY KEY, value) WITHOUT ROWID;"
                          "CREATE INDEX book_events_time ON book_events(time_ms);"
                          "INSERT INTO meta VALUES('last_barrier_ms', 1700000200000);"
                          "PRAGMA user_version = 2;"
                          "COMMIT;");
    sqlite3_close(db);
    return rc;
}

/* Opens an older database (built by hand at from_version), checks that every row survived the
 * migration to the current version and that new rows, settings included, go in next to them. */
static void check_migrated(const char *path, int from_version)
{
    CHECK_INT(sql_int(path, "PRAGMA user_version"), from_version);
    store *s = open_ok(path, NULL);
    if (!s)
        return;
    CHECK_INT(store_get_stats(s)->schema_version, store_schema_version());
    static candle got[MAXBARS];
    int n = load_n(s, VENUE_OKX, "BTC-USDT", TF_1H, INT64_MAX, got, MAXBARS);
    CHECK_INT(n, nbars);
    int same = 0;
    for (int i = 0; i < n && i < nbars; i++)
        same += candle_eq(&got[i], &bars[i]);
    CHECK_INT(same, nbars);
    char val[STORE_TEXT_MAX];
    CHECK_INT(store_get_setting(s, "ui.indicator", val, sizeof val), STORE_NOT_FOUND);
    /* new rows go into the migrated file next to the old ones */
    CHECK_INT(store_session_begin(s, "live", "0.1.0", ""), 8);
    store_put_book_event(s, 1700000001000, VENUE_OKX, "BTC-USDT", "synced", 43, NULL);
    CHECK_INT(store_put_setting(s, "ui.indicator", "rsi:14", 1700000002000), K_OK);
    CHECK_INT(store_get_setting(s, "ui.indicator", val, sizeof val), STORE_OK);
    CHECK_STR(val, "rsi:14");
    store_close(s);

    CHECK_INT(sql_int(path, "PRAGMA user_version"), store_schema_version());
    CHECK_INT(sql_int(path, "PRAGMA application_id"), 0x4B535452);
    CHECK_INT(sql_int(path, "SELECT count(*) FROM candles"), nbars);
    CHECK_INT(sql_int(path, "SELECT count(*) FROM instruments WHERE qty_decimals = 8"), 1);
    CHECK_INT(sql_int(path, "SELECT count(*) FROM sessions"), 2);
    CHECK_INT(sql_int(path, "SELECT count(*) FROM sessions WHERE id = 7 AND"
                            " ended_ms = 1700000100000 AND version = '0.0.9'"),
              1);
    CHECK_INT(sql_int(path, "SELECT count(*) FROM book_events"), 2);
    CHECK_INT(sql_int(path, "SELECT count(*) FROM book_events WHERE session_id = 7 AND"
                            " last_id = 42 AND detail = 'seqId jump'"),
              1);
    CHECK_INT(sql_int(path, "SELECT count(*) FROM book_events WHERE session_id = 8 AND"
                            " detail IS NULL AND kind = 'synced'"),
              1);
    CHECK_INT(sql_int(path, "SELECT count(*) FROM sqlite_master WHERE name = 'meta'"), 1);
    CHECK_INT(sql_int(path, "SELECT count(*) FROM sqlite_master WHERE name = 'book_events_time'"),
              1);
    CHECK_INT(sql_int(path, "SELECT count(*) FROM settings WHERE key = 'ui.indicator' AND"
                            " value = 'rsi:14' AND updated_ms = 1700000002000"),
              1);
    if (from_version >= 2) /* the hand-written meta row is still there */
        CHECK_INT(sql_int(path, "SELECT value FROM meta WHERE key = 'last_barrier_ms'"),
                  1700000200000LL);

    /* a database already at version 5 opens as version 5 and is not migrated again */
    s = open_ok(path, NULL);
    if (!s)
        return;
    CHECK(store_schema_version() >= 6); /* the latest: migrations are only ever appended */
    CHECK_INT(store_get_stats(s)->schema_version, store_schema_version());
    CHECK_INT(store_get_setting(s, "ui.indicator", val, sizeof val), STORE_OK);
    CHECK_STR(val, "rsi:14");
    store_close(s);
    CHECK_INT(sql_int(path, "PRAGMA user_version"), store_schema_version());
    CHECK_INT(sql_int(path, "SELECT count(*) FROM candles"), nbars);
    CHECK_INT(sql_int(path, "SELECT count(*) FROM settings"), 1);
}

static void test_migration(void)
{
    char path[512];
    db_path(path, sizeof path, "v1.db");
    CHECK_INT(build_v1(path, nbars), SQLITE_OK);
    check_migrated(path, 1);

    db_path(path, sizeof path, "v2.db");
    CHECK_INT(build_v2(path, nbars), SQLITE_OK);
    check_migrated(path, 2);

    /* version 0: an empty (0-byte) file is a new database */
    db_path(path, sizeof path, "empty.db");
    CHECK_INT(write_all(path, "", 0), 0);
    store *s = open_ok(path, NULL);
    store_close(s);
    CHECK_INT(sql_int(path, "PRAGMA user_version"), store_schema_version());
}

static void expect_refused(const char *path, const store_opts *o, const char *want1,
                           const char *want2)
{
    size_t len = 0;
    unsigned char *before = read_all(path, &len);
    CHECK(before != NULL);
    char err[512] = "";
    store *s = (store *)1;
    bool side[2];
    char sp[2][600];
    for (int i = 0; i < 2; i++) {
        snprintf(sp[i], sizeof sp[i], "%s%s", path, i ? "-shm" : "-wal");
        side[i] = access(sp[i], F_OK) == 0;
    }
    CHECK(store_open(&s, path, o, err, sizeof err) != STORE_OK);
    CHECK(s == NULL);
    CHECK(strstr(err, path) == err);
    /* a refusal leaves no sidecar files behind that were not there before */
    for (int i = 0; i < 2; i++)
        if (!side[i] && access(sp[i], F_OK) == 0) {
            fprintf(stderr, "leftover %s\n", sp[i]);
            CHECK(0);
        }
    fprintf(stderr, "refused as expected: %s\n", err);
    if (!strstr(err, want1) || (want2 && !strstr(err, want2))) {
        fprintf(stderr, "unexpected message: %s\n", err);
        CHECK(0);
    }
    CHECK(before && same_bytes(before, len, path));
    free(before);
}

static void test_refusals(void)
{
    char path[512], src[512];

    /* garbage: real bytes, but not a database (a gzip capture) */
    db_path(path, sizeof path, "garbage.db");
    snprintf(src, sizeof src, "%s/binance/streams/spot/btcusdt_20240808.gz", check_shared_data());
    size_t glen = 0;
    unsigned char *g = read_all(src, &glen);
    CHECK(g != NULL && glen > 8192);
    if (g) {
        CHECK_INT(write_all(path, g, 8192), 0);
        free(g);
        expect_refused(path, NULL, "not a Kestrel database or corrupt", "left untouched");
        expect_refused(path, NULL, "not a Kestrel database or corrupt", "left untouched");
    }

    /* a real Kestrel database whose first page (the schema) got overwritten */
    db_path(path, sizeof path, "corrupt.db");
    store *s = open_ok(path, NULL);
    if (s) {
        for (int i = 0; i < nbars; i++)
            store_put_candle(s, VENUE_BINANCE_SPOT, "BTCUSDT", TF_1H, &bars[i]);
        store_close(s);
        size_t len = 0;
        unsigned char *db = read_all(path, &len);
        CHECK(db && len >= 8192);
        if (db && len >= 8192) {
            memset(db + 100, 0xA5, 4096 - 100);
            CHECK_INT(write_all(path, db, len), 0);
            expect_refused(path, NULL, "not a Kestrel database or corrupt", "left untouched");
        }
        free(db);
    }

    /* some other program's SQLite database */
    db_path(path, sizeof path, "foreign.db");
    sqlite3 *raw = NULL;
    sqlite3_open(path, &raw);
    sql_exec(raw, "CREATE TABLE notes(t TEXT); INSERT INTO notes VALUES('mine');");
    sqlite3_close(raw);
    expect_refused(path, NULL, "not a Kestrel database or corrupt", "application_id");

    /* a newer Kestrel's database */
    db_path(path, sizeof path, "newer.db");
    raw = NULL;
    sqlite3_open(path, &raw);
    sql_exec(raw, "CREATE TABLE future(x); PRAGMA application_id = 1263752274;"
                  " PRAGMA user_version = 999;");
    sqlite3_close(raw);
    char newer[96];
    snprintf(newer, sizeof newer, "schema version 999 is newer than this Kestrel (%d)",
             store_schema_version());
    expect_refused(path, NULL, newer, "upgrade Kestrel or use another --db");
    CHECK_INT(sql_int(path, "PRAGMA user_version"), 999);
}

static void test_locked(void)
{
    char path[512], err[512];
    db_path(path, sizeof path, "locked.db");
    store *a = open_ok(path, NULL);
    if (!a)
        return;
    store *b = NULL;
    CHECK_INT(store_open(&b, path, NULL, err, sizeof err), STORE_E_IN_USE);
    CHECK(b == NULL);
    CHECK(strstr(err, "database is in use by another process") != NULL);
    char pid[32];
    snprintf(pid, sizeof pid, "pid %ld", (long)getpid());
    CHECK(strstr(err, pid) != NULL);
    store_close(a);
    b = open_ok(path, NULL);
    store_close(b);

    /* a database that needs a migration while another (non-Kestrel) process holds it */
    db_path(path, sizeof path, "locked-v1.db");
    CHECK_INT(build_v1(path, 10), SQLITE_OK);
    sqlite3 *raw = NULL;
    sqlite3_open(path, &raw);
    CHECK_INT(sql_exec(raw, "BEGIN EXCLUSIVE; INSERT INTO sessions VALUES(8, 1, 2, 'x', 'y',"
                            " 'z');"),
              SQLITE_OK);
    store_opts o = {.busy_timeout_ms = 50};
    expect_refused(path, &o, "database is in use by another process", NULL);
    sql_exec(raw, "ROLLBACK");
    sqlite3_close(raw);
    store *c = open_ok(path, &o);
    store_close(c);
    CHECK_INT(sql_int(path, "PRAGMA user_version"), store_schema_version());
    CHECK_INT(sql_int(path, "SELECT count(*) FROM candles"), 10);
}

struct rc_probe {
    int calls;
    int rc[4];
};
static void rc_cb(void *ud, enum store_result rc)
{
    struct rc_probe *p = ud;
    if (p->calls < 4)
        p->rc[p->calls] = rc;
    p->calls++;
}

/* Waits (bounded) until the writer has taken everything out of the queue. */
static void wait_queue_taken(store *s)
{
    for (int i = 0; i < 5000 && store_get_stats(s)->queue_depth > 0; i++)
        usleep(2000);
}

static void test_queue_cap(void)
{
    char path[512];
    db_path(path, sizeof path, "cap.db");
    /* the writer will be stuck waiting for a lock held below, so the queue cannot drain */
    store_opts o = {.batch = 1000, .flush_ms = 10, .queue_cap = 64, .busy_timeout_ms = 60000};
    store *s = open_ok(path, &o);
    if (!s)
        return;
    sqlite3 *raw = NULL;
    sqlite3_open(path, &raw);
    CHECK_INT(sql_exec(raw, "BEGIN IMMEDIATE"), SQLITE_OK);

    struct rc_probe p = {0};
    store_put_candle(s, VENUE_BINANCE_SPOT, "BTCUSDT", TF_1H, &bars[0]);
    CHECK_INT(store_commit_then(s, rc_cb, &p), STORE_OK);
    wait_queue_taken(s); /* the writer holds bar 0 and blocks on the lock */
    int accepted = 0;
    for (int i = 1; i <= 100; i++)
        accepted += store_put_candle(s, VENUE_BINANCE_SPOT, "BTCUSDT", TF_1H, &bars[i]) == K_OK;
    CHECK_INT(accepted, 64);
    /* a setting is refused and counted like any other row */
    CHECK_INT(store_put_setting(s, "ui.indicator", "rsi:14", 1), STORE_E_FULL);
    const store_stats *st = store_get_stats(s);
    CHECK_INT(st->dropped, 37);
    CHECK_INT(st->queue_depth, 64);
    CHECK_INT(st->queue_cap, 64);
    CHECK(strstr(st->warning, "37 rows dropped") != NULL);
    /* rows were dropped before this barrier, but they were never accepted (each put said
     * STORE_E_FULL): an unrelated dropped candle must not fail the write-ahead barrier */
    CHECK_INT(store_commit_then(s, rc_cb, &p), STORE_OK);

    sql_exec(raw, "ROLLBACK");
    sqlite3_close(raw);
    pump(s, &p.calls, 2);
    CHECK_INT(p.calls, 2);
    CHECK_INT(p.rc[0], STORE_OK);
    CHECK_INT(p.rc[1], STORE_OK);
    /* the queue drained; still STORE_OK */
    CHECK_INT(store_put_candle(s, VENUE_BINANCE_SPOT, "BTCUSDT", TF_1H, &bars[101]), K_OK);
    CHECK_INT(store_commit_then(s, rc_cb, &p), STORE_OK);
    pump(s, &p.calls, 3);
    CHECK_INT(p.calls, 3);
    CHECK_INT(p.rc[2], K_OK);
    st = store_get_stats(s);
    CHECK_INT(st->rows_written, 66);
    CHECK_INT(st->rows_queued, 66);
    CHECK_INT(st->dropped, 37);
    CHECK_INT(st->errors, 0);
    CHECK_INT(st->queue_peak, 64);
    store_close(s);
    CHECK_INT(sql_int(path, "SELECT count(*) FROM candles"), 66);
}

/* kill -9 after a barrier: committed rows survive, the lock dies with the process, and the
 * session is left without ended_ms (how an unclean exit shows). */
static void test_crash(void)
{
    char path[512];
    db_path(path, sizeof path, "crash.db");
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        char err[512];
        store *s = NULL;
        if (store_open(&s, path, NULL, err, sizeof err) != K_OK)
            _exit(3);
        store_session_begin(s, "replay", "0.1.0", "");
        for (int i = 0; i < 100; i++)
            store_put_candle(s, VENUE_BINANCE_SPOT, "BTCUSDT", TF_1H, &bars[i]);
        struct rc_probe p = {0};
        CHECK_INT(store_commit_then(s, rc_cb, &p), STORE_OK);
        pump(s, &p.calls, 1);
        if (p.calls != 1 || p.rc[0] != K_OK)
            _exit(4);
        for (int i = 100; i < nbars; i++)
            store_put_candle(s, VENUE_BINANCE_SPOT, "BTCUSDT", TF_1H, &bars[i]);
        store_flush(s); /* committed (synchronous=NORMAL): survives a process crash */
        raise(SIGKILL);
        _exit(5);
    }
    int status = 0;
    CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    store *s = open_ok(path, NULL);
    if (!s)
        return;
    static candle got[MAXBARS];
    int n = load_n(s, VENUE_BINANCE_SPOT, "BTCUSDT", TF_1H, INT64_MAX, got, MAXBARS);
    CHECK_INT(n, nbars);
    CHECK(n == nbars && candle_eq(&got[0], &bars[0]) && candle_eq(&got[n - 1], &bars[n - 1]));
    CHECK_INT(store_session_begin(s, "replay", "0.1.0", ""), 2);
    store_close(s);
    CHECK_INT(sql_int(path, "SELECT count(*) FROM sessions WHERE id = 1 AND ended_ms IS NULL"),
              1);
}

/* The store on the real main loop: its eventfd is one more watcher; the barrier's callback
 * (run by store_process from the watcher) stops the loop. */
struct loop_probe {
    loop *l;
    store *s;
    const char *path;
    int rc;
    long long visible;
};
static void on_store_fd(loop *l, int fd, unsigned events, void *ud)
{
    (void)l;
    (void)fd;
    (void)events;
    store_process(ud);
}
static void on_committed(void *ud, enum store_result rc)
{
    struct loop_probe *p = ud;
    p->rc = rc;
    p->visible = sql_int(p->path, "SELECT count(*) FROM candles");
    loop_stop(p->l);
}
static void on_safety_timer(loop *l, uint64_t id, void *ud)
{
    (void)id;
    (void)ud;
    loop_stop(l);
}

static void test_on_loop(void)
{
    char path[512];
    db_path(path, sizeof path, "loop.db");
    store *s = open_ok(path, NULL);
    loop *l = loop_new();
    if (!s || !l) {
        store_close(s);
        loop_free(l);
        return;
    }
    struct loop_probe p = {.l = l, .s = s, .path = path, .rc = 99};
    CHECK_INT(loop_watch(l, store_fd(s), LOOP_READ, on_store_fd, s), K_OK);
    loop_timer_add(l, 60000, on_safety_timer, NULL);
    for (int i = 0; i < nbars; i++)
        store_put_candle(s, VENUE_BINANCE_SPOT, "BTCUSDT", TF_1H, &bars[i]);
    CHECK_INT(store_commit_then(s, on_committed, &p), STORE_OK);
    CHECK_INT(loop_run(l), K_OK);
    CHECK_INT(p.rc, K_OK);
    CHECK_INT(p.visible, nbars);
    loop_unwatch(l, store_fd(s));
    loop_free(l);
    store_close(s);
}

static void test_write_error(void)
{
    char path[512];
    db_path(path, sizeof path, "busy.db");
    store_opts o = {.busy_timeout_ms = 30, .flush_ms = 600000};
    store *s = open_ok(path, &o);
    if (!s)
        return;
    sqlite3 *raw = NULL;
    sqlite3_open(path, &raw);
    CHECK_INT(sql_exec(raw, "BEGIN IMMEDIATE"), SQLITE_OK);

    struct rc_probe p = {0};
    for (int i = 0; i < 5; i++)
        store_put_candle(s, VENUE_BINANCE_SPOT, "BTCUSDT", TF_1H, &bars[i]);
    CHECK_INT(store_commit_then(s, rc_cb, &p), STORE_OK);
    pump(s, &p.calls, 1);
    CHECK_INT(p.calls, 1);
    CHECK_INT(p.rc[0], STORE_E_RETRYING); /* the rows are held, not lost */
    const store_stats *st = store_get_stats(s);
    CHECK(st->errors >= 1);
    CHECK_INT(st->rows_failed, 0);
    CHECK_INT(st->rows_held, 5);
    CHECK_INT(st->rows_written, 0);
    CHECK(strstr(st->last_error, "locked") != NULL);
    store_health_info h = store_health(s);
    CHECK_INT(h.state, STORE_STATE_FAILING);
    CHECK_STR(store_state_name(h.state), "failing");
    CHECK_INT(h.rows_held, 5);
    CHECK_INT(h.rows_lost, 0);
    CHECK(h.failing_since_ms > 1500000000000LL);

    /* the writer retries the held rows once the lock is gone, then goes on */
    sql_exec(raw, "ROLLBACK");
    sqlite3_close(raw);
    for (int i = 5; i < 10; i++)
        store_put_candle(s, VENUE_BINANCE_SPOT, "BTCUSDT", TF_1H, &bars[i]);
    CHECK_INT(store_commit_then(s, rc_cb, &p), STORE_OK);
    pump(s, &p.calls, 2);
    CHECK_INT(p.calls, 2);
    CHECK_INT(p.rc[1], STORE_OK);
    CHECK_INT(store_get_stats(s)->rows_written, 10);
    CHECK_INT(store_get_stats(s)->rows_held, 0);
    CHECK_INT(store_health(s).state, STORE_STATE_OK);
    store_close(s);
    CHECK_INT(sql_int(path, "SELECT count(*) FROM candles"), 10);
}

static void test_unwritable(void)
{
    char path[700], file[512], err[512];
    store *s = (store *)1;

    /* a parent "directory" that is a regular file */
    db_path(file, sizeof file, "plainfile");
    CHECK_INT(write_all(file, "x", 1), 0);
    snprintf(path, sizeof path, "%s/sub/k.db", file);
    CHECK_INT(store_open(&s, path, NULL, err, sizeof err), STORE_E_OPEN);
    CHECK(s == NULL);
    CHECK(strstr(err, "cannot create directory") != NULL);

    /* a path the kernel will never let us create */
    s = (store *)1;
    CHECK(store_open(&s, "/proc/kestrel-no-such/k.db", NULL, err, sizeof err) != STORE_OK);
    CHECK(s == NULL && strstr(err, "/proc/kestrel-no-such/k.db: cannot") == err);

    /* a read-only directory (root ignores permissions, so only when not root) */
    char ro[300];
    db_path(ro, sizeof ro, "ro");
    mkdir(ro, 0500);
    snprintf(path, sizeof path, "%s/k.db", ro);
    if (geteuid() != 0) {
        s = (store *)1;
        CHECK_INT(store_open(&s, path, NULL, err, sizeof err), STORE_E_READONLY);
        CHECK(s == NULL && strstr(err, "cannot create the lock file") != NULL);
        fprintf(stderr, "refused as expected: %s\n", err);
    }
    chmod(ro, 0700);

    /* an empty path */
    CHECK_INT(store_open(&s, "", NULL, err, sizeof err), STORE_E_INVALID);
}

static void test_rejects_and_bounds(void)
{
    char path[512];
    db_path(path, sizeof path, "bounds.db");
    store *s = open_ok(path, NULL);
    if (!s)
        return;
    CHECK_INT(store_put_candle(s, VENUE_COUNT, "BTCUSDT", TF_1H, &bars[0]), STORE_E_INVALID);
    CHECK_INT(store_put_candle(s, VENUE_OKX, "BTCUSDT", TF_COUNT, &bars[0]), STORE_E_INVALID);
    CHECK_INT(store_put_candle(s, VENUE_OKX, NULL, TF_1H, &bars[0]), STORE_E_INVALID);
    CHECK_INT(store_put_candle(s, VENUE_OKX, "", TF_1H, &bars[0]), STORE_E_INVALID);
    CHECK_INT(store_put_candle(s, VENUE_OKX, "BTCUSDT", TF_1H, NULL), STORE_E_INVALID);
    CHECK_INT(store_put_candle(s, VENUE_OKX, "A-SYMBOL-NAME-TOO-LONG-24", TF_1H, &bars[0]),
              STORE_E_INVALID);
    CHECK_INT(store_put_candle(s, VENUE_OKX, "A-SYMBOL-NAME-OF-23-CHR", TF_1H, &bars[0]), K_OK);
    CHECK_INT(store_put_book_event(s, 1, VENUE_OKX, "BTC-USDT", "much-too-long-kind", 1, NULL),
              STORE_E_INVALID);
    CHECK_INT(store_put_instrument(s, VENUE_COUNT, "X", 1, 1, 1), STORE_E_INVALID);
    CHECK_INT(store_get_stats(s)->rejected, 8);

    /* a long detail is cut at STORE_DETAIL_MAX - 1 bytes without splitting a UTF-8 character */
    char detail[300];
    size_t k = 0;
    while (k + 2 < sizeof detail - 1) {
        detail[k++] = (char)0xC3; /* "é" */
        detail[k++] = (char)0xA9;
    }
    detail[k] = '\0';
    CHECK_INT(store_put_book_event(s, 5, VENUE_OKX, "BTC-USDT", "crossed", -1, detail), K_OK);

    /* storage keeps every int64 bit: the kdec range ends, and a full uint32 trade count */
    candle ext = {.open_ms = 0,
                  .o = INT64_MAX,
                  .h = INT64_MAX,
                  .l = INT64_MIN,
                  .c = -1,
                  .volume = 1,
                  .buy_volume = INT64_MIN,
                  .quote_volume = INT64_MAX,
                  .trades = UINT32_MAX};
    CHECK_INT(store_put_candle(s, VENUE_OKX, "EXT", TF_1S, &ext), K_OK);
    store_flush(s);
    candle got[2];
    CHECK_INT(load_n(s, VENUE_OKX, "EXT", TF_1S, 1, got, 2), 1);
    CHECK(candle_eq(&got[0], &ext));
    CHECK_INT(load_n(s, VENUE_OKX, "EXT", TF_1S, 0, got, 2), 0); /* strictly before */
    CHECK_INT(load_n(s, VENUE_OKX, NULL, TF_1S, 1, got, 2), K_ERR);
    store_close(s);
    CHECK_INT(sql_int(path, "SELECT length(CAST(detail AS BLOB)) FROM book_events"),
              STORE_DETAIL_MAX - 2 /* 127 bytes would split the 64th "é" */);
    CHECK_INT(sql_int(path, "SELECT count(*) FROM book_events WHERE last_id IS NULL AND"
                            " session_id IS NULL"),
              1);
}

static void test_settings(void)
{
    char path[512], val[STORE_TEXT_MAX];
    db_path(path, sizeof path, "settings.db");
    /* nothing commits unless something asks for it: batch and timer are out of reach */
    store_opts o = {.batch = 1000, .flush_ms = 600000};
    store *s = open_ok(path, &o);
    if (!s)
        return;

    /* a missing key; a read with no setting put before it does not wait for the writer */
    CHECK_INT(store_put_candle(s, VENUE_BINANCE_SPOT, "BTCUSDT", TF_1H, &bars[0]), K_OK);
    strcpy(val, "junk");
    CHECK_INT(store_get_setting(s, "ui.indicator", val, sizeof val), STORE_NOT_FOUND);
    CHECK_STR(val, "");
    CHECK_INT(store_get_stats(s)->commits, 0);

    /* get right after put: the value is still queued (another connection sees nothing yet) */
    CHECK_INT(store_put_setting(s, "ui.indicator", "ema:21", 1000), K_OK);
    CHECK_INT(sql_int(path, "SELECT count(*) FROM settings"), 0);
    CHECK_INT(store_get_setting(s, "ui.indicator", val, sizeof val), STORE_OK);
    CHECK_STR(val, "ema:21");
    /* answered from the pending list: the get did not wait for (or cause) a commit */
    CHECK_INT(store_get_stats(s)->commits, 0);
    CHECK_INT(sql_int(path, "SELECT count(*) FROM settings"), 0);
    CHECK_INT(store_get_setting(s, "ui.indicator", val, sizeof val), STORE_OK);
    CHECK_INT(store_get_stats(s)->commits, 0);

    /* overwrite, also before any commit; several keys; UTF-8 and empty values */
    CHECK_INT(store_put_setting(s, "ui.indicator", "rsi:14", 2000), K_OK);
    CHECK_INT(store_put_setting(s, "ui.indicator", "macd:12,26,9", 3000), K_OK);
    CHECK_INT(store_put_setting(s, "ui.theme", "dunkel \xc3\xa9", 3000), K_OK);
    CHECK_INT(store_put_setting(s, "ui.empty", "", 3000), K_OK);
    CHECK_INT(store_get_setting(s, "ui.indicator", val, sizeof val), STORE_OK);
    CHECK_STR(val, "macd:12,26,9");
    CHECK_INT(store_get_setting(s, "ui.theme", val, sizeof val), STORE_OK);
    CHECK_STR(val, "dunkel \xc3\xa9");
    CHECK_INT(store_get_setting(s, "ui.empty", val, sizeof val), STORE_OK);
    CHECK_STR(val, "");
    CHECK_INT(store_get_setting(s, "ui.indicat", val, sizeof val),
              STORE_NOT_FOUND); /* exact keys only */

    /* bounds: keys of 1..64 bytes, values shorter than STORE_TEXT_MAX, never truncated */
    char key[80], big[STORE_TEXT_MAX + 8];
    memset(key, 'k', sizeof key);
    key[64] = '\0';
    memset(big, 'v', sizeof big);
    big[STORE_TEXT_MAX - 1] = '\0';
    CHECK_INT(store_put_setting(s, key, big, 4000), K_OK); /* 64-byte key, 1023-byte value */
    key[64] = 'k';
    key[65] = '\0';
    CHECK_INT(store_put_setting(s, key, "x", 4000), STORE_E_INVALID); /* 65-byte key */
    CHECK_INT(store_get_setting(s, key, val, sizeof val), STORE_E_INVALID);
    key[64] = '\0';
    big[STORE_TEXT_MAX - 1] = 'v';
    big[STORE_TEXT_MAX] = '\0';
    CHECK_INT(store_put_setting(s, "ui.big", big, 4000), STORE_E_INVALID); /* 1024-byte value */
    CHECK_INT(store_put_setting(s, "", "x", 4000), STORE_E_INVALID);
    CHECK_INT(store_put_setting(s, NULL, "x", 4000), STORE_E_INVALID);
    CHECK_INT(store_put_setting(s, "ui.null", NULL, 4000), STORE_E_INVALID);
    CHECK_INT(store_get_stats(s)->rejected, 5);
    CHECK_INT(store_get_setting(s, key, val, sizeof val), STORE_OK);
    CHECK_INT((long long)strlen(val), STORE_TEXT_MAX - 1);
    CHECK_INT(store_get_setting(s, "ui.big", val, sizeof val), STORE_NOT_FOUND);
    /* a buffer too small for the value: K_ERR, out left empty; exactly enough: found */
    char small[6] = "junk";
    CHECK_INT(store_get_setting(s, "ui.indicator", small, sizeof small), STORE_E_TOO_SMALL);
    CHECK_STR(small, "");
    char fit[13];
    CHECK_INT(store_get_setting(s, "ui.indicator", fit, sizeof fit), STORE_OK);
    CHECK_STR(fit, "macd:12,26,9");
    CHECK_INT(store_get_setting(s, "ui.indicator", NULL, 10), STORE_E_INVALID);
    CHECK_INT(store_get_setting(s, "ui.indicator", val, 0), STORE_E_INVALID);
    CHECK_INT(store_get_setting(s, NULL, val, sizeof val), STORE_E_INVALID);
    CHECK_INT(store_get_setting(s, "", val, sizeof val), STORE_E_INVALID);

    /* the last put of this session is only queued when the store closes */
    CHECK_INT(store_put_setting(s, "ui.indicator", "bb:20,2", 5000), K_OK);
    const store_stats *st = store_get_stats(s);
    CHECK_INT(st->rows_queued, 8); /* 1 candle + 7 settings */
    CHECK_INT(st->errors, 0);
    CHECK_INT(st->dropped, 0);
    store_close(s);
    CHECK_INT(sql_int(path, "SELECT count(*) FROM settings"), 4);
    CHECK_INT(sql_int(path, "SELECT updated_ms FROM settings WHERE key = 'ui.indicator'"), 5000);

    /* "restart": the values survive */
    s = open_ok(path, NULL);
    if (!s)
        return;
    CHECK_INT(store_get_setting(s, "ui.indicator", val, sizeof val), STORE_OK);
    CHECK_STR(val, "bb:20,2");
    CHECK_INT(store_get_setting(s, "ui.theme", val, sizeof val), STORE_OK);
    CHECK_STR(val, "dunkel \xc3\xa9");
    CHECK_INT(store_get_setting(s, key, val, sizeof val), STORE_OK);
    CHECK_INT((long long)strlen(val), STORE_TEXT_MAX - 1);
    st = store_get_stats(s);
    CHECK_INT(st->rows_written, 0);
    CHECK_INT(st->errors, 0);
    store_close(s);
}


/* ------------------------------------------------------------------ the durable lane */

struct ack_log {
    int n;
    uint64_t id[4096];
    enum store_result rc[4096];
    uint64_t market_behind[4096]; /* market rows still queued or in flight at the ack */
    store *s;
};
static void ack_cb(void *ud, uint64_t id, enum store_result rc)
{
    struct ack_log *a = ud;
    if (a->n < 4096) {
        a->id[a->n] = id;
        a->rc[a->n] = rc;
        const store_stats *st = store_get_stats(a->s);
        a->market_behind[a->n] = st->queue_depth + st->in_flight;
    }
    a->n++;
}

struct rec_seen {
    int n;
    char keys[64][32];
    uint64_t seq[64];
    char payload[64][128];
    bool blob[64];
};
static bool rec_collect(void *ud, const store_record *rec, uint64_t seq)
{
    struct rec_seen *r = ud;
    if (r->n < 64) {
        snprintf(r->keys[r->n], sizeof r->keys[0], "%s/%s", rec->kind, rec->key);
        r->seq[r->n] = seq;
        snprintf(r->payload[r->n], sizeof r->payload[0], "%.*s", (int)rec->len,
                 (const char *)rec->payload);
        r->blob[r->n] = rec->blob;
    }
    r->n++;
    return true;
}

/* A candle of bars[] moved to a new open time, so every flood row is a new row. */
static candle flood_bar(int i)
{
    candle b = bars[i % nbars];
    b.open_ms = 1600000000000LL + (int64_t)i * 60000;
    return b;
}

/* Intents committed and acknowledged in order while market rows flood the queue (and overflow
 * it): every ack is STORE_OK, in request order, arrives while market rows are still waiting
 * (the lane does not wait behind the backlog), and a barrier after the drops is STORE_OK. */
static void test_durable_flood(void)
{
    char path[512];
    db_path(path, sizeof path, "durable.db");
    store_opts o = {.queue_cap = 65536, .batch = 512};
    store *s = open_ok(path, &o);
    if (!s)
        return;
    static struct ack_log a;
    memset(&a, 0, sizeof a);
    a.s = s;
    enum { INTENTS = 40, PER = 4000 };
    uint64_t ids[INTENTS];
    int flood = 0, accepted = 0;
    for (int k = 0; k < INTENTS; k++) {
        for (int i = 0; i < PER; i++, flood++) /* 160,000 rows into a 65,536-row queue */
        {
            candle b = flood_bar(flood);
            accepted += store_put_candle(s, VENUE_BINANCE_USDM, "BTCUSDT", TF_1M, &b) == STORE_OK;
        }
        char key[32], json[96];
        snprintf(key, sizeof key, "cid-%03d", k);
        snprintf(json, sizeof json, "{\"symbol\":\"BTCUSDT\",\"side\":\"buy\",\"qty\":\"0.%03d\"}",
                 k + 1);
        store_record rec = {.kind = "intent", .key = key, .payload = json, .len = strlen(json),
                            .time_ms = 1700000000000LL + k};
        CHECK_INT(store_durable_put(s, &rec, ack_cb, &a, &ids[k]), STORE_OK);
        if (k > 0)
            CHECK(ids[k] == ids[k - 1] + 1);
    }
    (void)accepted;
    for (int i = 0; i < 1000 && a.n < INTENTS; i++) {
        struct pollfd p = {.fd = store_fd(s), .events = POLLIN};
        if (poll(&p, 1, 100) > 0)
            store_process(s);
    }
    CHECK_INT(a.n, INTENTS);
    int in_order = 0, ok = 0;
    for (int k = 0; k < INTENTS && k < a.n; k++) {
        in_order += a.id[k] == ids[k];
        ok += a.rc[k] == STORE_OK;
    }
    CHECK_INT(in_order, INTENTS);
    CHECK_INT(ok, INTENTS);
    CHECK(a.n > 0 && a.market_behind[0] > 0); /* the first ack did not wait for the backlog */
    const store_stats *st = store_get_stats(s);
    CHECK(st->dropped > 0); /* the flood overflowed the market queue... */
    CHECK_INT(st->durable_written, INTENTS); /* ...and no intent was refused or failed */
    CHECK_INT(st->durable_failed, 0);
    struct rc_probe p = {0};
    CHECK_INT(store_commit_then(s, rc_cb, &p), STORE_OK);
    pump(s, &p.calls, 1);
    CHECK_INT(p.rc[0], STORE_OK); /* dropped market rows do not fail the barrier */
    store_close(s);
    CHECK_INT(sql_int(path, "SELECT count(*) FROM journal WHERE kind = 'intent'"), INTENTS);
    CHECK_INT(sql_int(path,
                      "SELECT count(*) FROM journal WHERE key = 'cid-007' AND"
                      " payload = '{\"symbol\":\"BTCUSDT\",\"side\":\"buy\",\"qty\":\"0.008\"}'"
                      " AND time_ms = 1700000000007"),
              1);
}

/* The record API: upsert by (kind, key), delete, blobs, ids across restarts, bounds. */
static void test_durable_api(void)
{
    char path[512];
    db_path(path, sizeof path, "journal.db");
    store *s = open_ok(path, NULL);
    if (!s)
        return;
    static struct ack_log a;
    memset(&a, 0, sizeof a);
    a.s = s;
    uint64_t id = 99;
    store_record r1 = {.kind = "position", .key = "binance-usdm:BTCUSDT",
                       .payload = "{\"qty\":\"1\"}", .len = 11, .time_ms = 1};
    CHECK_INT(store_durable_put(s, &r1, ack_cb, &a, &id), STORE_OK);
    CHECK_INT(id, 1);
    r1.payload = "{\"qty\":\"2\"}"; /* a newer state of the same record */
    CHECK_INT(store_durable_put(s, &r1, ack_cb, &a, &id), STORE_OK);
    CHECK_INT(id, 2);
    unsigned char bin[5] = {0, 1, 2, 0, 255};
    store_record r2 = {.kind = "fill", .key = "T-1", .payload = bin, .len = 5, .blob = true};
    CHECK_INT(store_durable_put(s, &r2, ack_cb, &a, NULL), STORE_OK);
    store_record r3 = {.kind = "intent", .key = "gone", .payload = "{}", .len = 2};
    CHECK_INT(store_durable_put(s, &r3, ack_cb, &a, NULL), STORE_OK);
    r3.payload = NULL;
    r3.len = 0; /* delete */
    CHECK_INT(store_durable_put(s, &r3, ack_cb, &a, &id), STORE_OK);
    CHECK_INT(id, 5);
    /* bounds */
    store_record bad = r1;
    bad.kind = "";
    CHECK_INT(store_durable_put(s, &bad, ack_cb, &a, NULL), STORE_E_INVALID);
    bad.kind = "a-kind-name-of-thirty-two-bytes!";
    CHECK_INT(store_durable_put(s, &bad, ack_cb, &a, NULL), STORE_E_INVALID);
    bad = r1;
    bad.key = NULL;
    CHECK_INT(store_durable_put(s, &bad, ack_cb, &a, NULL), STORE_E_INVALID);
    bad = r1;
    bad.len = STORE_PAYLOAD_MAX + 1;
    CHECK_INT(store_durable_put(s, &bad, ack_cb, &a, NULL), STORE_E_INVALID);
    CHECK_INT(store_durable_put(s, &r1, NULL, NULL, NULL), STORE_E_INVALID);
    CHECK_INT(store_durable_put(s, NULL, ack_cb, &a, NULL), STORE_E_INVALID);
    for (int i = 0; i < 1000 && a.n < 5; i++) {
        struct pollfd p = {.fd = store_fd(s), .events = POLLIN};
        if (poll(&p, 1, 100) > 0)
            store_process(s);
    }
    CHECK_INT(a.n, 5);
    for (int k = 0; k < 5 && k < a.n; k++) {
        CHECK_INT(a.id[k], k + 1);
        CHECK_INT(a.rc[k], STORE_OK);
    }
    static struct rec_seen seen;
    memset(&seen, 0, sizeof seen);
    CHECK_INT(store_durable_load(s, NULL, rec_collect, &seen), STORE_OK);
    CHECK_INT(seen.n, 2); /* the deleted intent is gone; the position is one record */
    CHECK_STR(seen.keys[0], "position/binance-usdm:BTCUSDT");
    CHECK_INT(seen.seq[0], 2);
    CHECK_STR(seen.payload[0], "{\"qty\":\"2\"}");
    CHECK_STR(seen.keys[1], "fill/T-1");
    CHECK(seen.blob[1] && !seen.blob[0]);
    memset(&seen, 0, sizeof seen);
    CHECK_INT(store_durable_load(s, "fill", rec_collect, &seen), STORE_OK);
    CHECK_INT(seen.n, 1);
    CHECK_INT(store_durable_load(s, "", rec_collect, &seen), STORE_E_INVALID);
    CHECK_INT(store_durable_load(s, NULL, NULL, NULL), STORE_E_INVALID);
    /* at most STORE_DURABLE_MAX outstanding */
    int busy = 0, okn = 0;
    for (int i = 0; i < STORE_DURABLE_MAX + 3; i++) {
        char key[16];
        snprintf(key, sizeof key, "k%d", i);
        store_record r = {.kind = "intent", .key = key, .payload = "{}", .len = 2};
        enum store_result rc = store_durable_put(s, &r, ack_cb, &a, NULL);
        busy += rc == STORE_E_BUSY;
        okn += rc == STORE_OK;
    }
    CHECK_INT(okn, STORE_DURABLE_MAX);
    CHECK_INT(busy, 3);
    store_close(s); /* delivers the remaining acks */
    CHECK_INT(a.n, 5 + STORE_DURABLE_MAX);
    CHECK_INT(a.rc[5 + STORE_DURABLE_MAX - 1], STORE_OK);
    /* ids keep increasing across a restart */
    s = open_ok(path, NULL);
    if (!s)
        return;
    a.s = s;
    CHECK_INT(store_durable_put(s, &r2, ack_cb, &a, &id), STORE_OK);
    CHECK_INT(id, 5 + STORE_DURABLE_MAX + 1);
    store_close(s);
    CHECK_INT(sql_int(path, "SELECT max(seq) FROM journal"), 5 + STORE_DURABLE_MAX + 1);
    CHECK_STR(store_strerror(STORE_E_FULL), "queue full: row dropped");
    CHECK_STR(store_strerror(STORE_OK), "ok");
}

/* kill -9 during a flood: a child floods market rows and commits intents; the parent reads
 * the acks from a pipe and kills the child after 30 of them. Every acknowledged intent is in
 * the database afterwards, with its payload. */
static void child_ack(void *ud, uint64_t id, enum store_result rc)
{
    int fd = *(int *)ud;
    if (rc == STORE_OK) {
        ssize_t w = write(fd, &id, sizeof id);
        (void)w;
    }
}

static void test_durable_kill9(void)
{
    char path[512];
    db_path(path, sizeof path, "kill9.db");
    int pfd[2];
    CHECK_INT(pipe(pfd), 0);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        close(pfd[0]);
        char err[512];
        store *s = NULL;
        store_opts o = {.queue_cap = 50000};
        if (store_open(&s, path, &o, err, sizeof err) != STORE_OK)
            _exit(3);
        store_session_begin(s, "test", "0.1.0", "");
        for (int k = 0;; k++) { /* until killed */
            for (int i = 0; i < 500; i++) {
                candle b = flood_bar(k * 500 + i);
                (void)store_put_candle(s, VENUE_BINANCE_SPOT, "ETHUSDT", TF_1S, &b);
            }
            char key[32], json[64];
            snprintf(key, sizeof key, "cid-%d", k);
            snprintf(json, sizeof json, "{\"n\":%d}", k);
            store_record rec = {.kind = "intent", .key = key, .payload = json,
                                .len = strlen(json)};
            if (store_durable_put(s, &rec, child_ack, &pfd[1], NULL) != STORE_OK)
                usleep(1000);
            struct pollfd p = {.fd = store_fd(s), .events = POLLIN};
            if (poll(&p, 1, 0) > 0)
                store_process(s);
        }
    }
    close(pfd[1]);
    uint64_t acked[64];
    int n = 0;
    while (n < 30) {
        ssize_t r = read(pfd[0], &acked[n], sizeof acked[0]);
        if (r != (ssize_t)sizeof acked[0])
            break;
        n++;
    }
    CHECK_INT(n, 30);
    kill(pid, SIGKILL);
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    close(pfd[0]);
    store *s = open_ok(path, NULL);
    if (!s)
        return;
    static struct rec_seen seen;
    memset(&seen, 0, sizeof seen);
    CHECK_INT(store_durable_load(s, "intent", rec_collect, &seen), STORE_OK);
    CHECK(seen.n >= n);
    int found = 0;
    for (int k = 0; k < n; k++) {
        for (int j = 0; j < seen.n && j < 64; j++) {
            if (seen.seq[j] != acked[k])
                continue;
            char want[64];
            snprintf(want, sizeof want, "{\"n\":%d}", (int)acked[k] - 1); /* ids start at 1 */
            found += strcmp(seen.payload[j], want) == 0;
        }
    }
    CHECK_INT(found, n);
    store_close(s);
}

/* ------------------------------------------------------------------ no silent data loss */

struct health_log {
    int calls, errors;
    char last[512];
    enum store_state last_state;
};
static void health_cb(void *ud, const store_health_info *h, bool error, const char *msg)
{
    struct health_log *l = ud;
    l->calls++;
    l->errors += error;
    l->last_state = h->state;
    snprintf(l->last, sizeof l->last, "%s", msg);
}

static long long file_size(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 ? (long long)sb.st_size : 0;
}

/* A file size limit during a run (the full disk of the issue): the store says so at once
 * (on_health ERROR, state "failing"), keeps the newest rows up to its cap, counts the evicted
 * ones as lost, retries, and writes the held rows once writing works again. */
static void test_full_disk_run(void)
{
    char path[512], wal[600];
    db_path(path, sizeof path, "full.db");
    snprintf(wal, sizeof wal, "%s-wal", path);
    struct health_log hl = {0};
    store_opts o = {.queue_cap = 300, .batch = 100, .flush_ms = 5, .retry_ms = 20,
                    .on_health = health_cb, .on_health_ud = &hl};
    store *s = open_ok(path, &o);
    if (!s)
        return;
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit old;
    getrlimit(RLIMIT_FSIZE, &old);
    long long lim = K_MAX(file_size(path), file_size(wal)) + 4096;
    struct rlimit small = {.rlim_cur = (rlim_t)lim, .rlim_max = old.rlim_max};
    CHECK_INT(setrlimit(RLIMIT_FSIZE, &small), 0);
    enum { ROWS = 3000 };
    int queued = 0;
    for (int i = 0; i < ROWS; i++) {
        candle b = flood_bar(i);
        if (store_put_candle(s, VENUE_OKX, "BTC-USDT", TF_1M, &b) == STORE_OK)
            queued++;
        else
            i--; /* queue full: wait for the writer to take it (it never waits for disk) */
        if (queued % 100 == 0 || i < 0)
            wait_queue_taken(s);
    }
    wait_queue_taken(s);
    /* every row accounted for (held or lost): in_flight alone reached 0 between the writer's
     * batches under load, with the last 200 rows not yet taken (rows_held 100) */
    store_health_info h = store_health(s);
    for (int i = 0; i < 1000 && (store_get_stats(s)->in_flight > 0 ||
                                 h.rows_held + h.rows_lost < ROWS); i++) {
        usleep(5000);
        h = store_health(s);
    }
    CHECK_INT(h.state, STORE_STATE_FAILING);
    CHECK_INT(h.rows_held, 300);      /* the newest 300 */
    CHECK(h.rows_lost > 0);
    CHECK(strstr(h.last_error, "disk I/O error") != NULL || strstr(h.last_error, "full") != NULL);
    struct rc_probe p = {0};
    CHECK_INT(store_commit_then(s, rc_cb, &p), STORE_OK);
    pump(s, &p.calls, 1);
    CHECK_INT(p.rc[0], STORE_E_RETRYING);
    store_process(s);
    CHECK(hl.errors >= 1);
    CHECK(strstr(hl.last, "failing") != NULL || strstr(hl.last, "lost") != NULL);
    fprintf(stderr, "health report: %s\n", hl.last);

    /* space again: the held rows are written, the newest row among them */
    CHECK_INT(setrlimit(RLIMIT_FSIZE, &old), 0);
    for (int i = 0; i < 500 && store_health(s).state == STORE_STATE_FAILING; i++)
        usleep(10000);
    h = store_health(s);
    CHECK_INT(h.state, STORE_STATE_DEGRADED);
    CHECK_STR(store_state_name(h.state), "degraded");
    CHECK_INT(h.rows_held, 0);
    const store_stats *st = store_get_stats(s);
    CHECK_INT(st->rows_written + st->rows_failed, ROWS);
    CHECK_INT(h.rows_lost, st->rows_failed);
    store_process(s);
    CHECK_INT(hl.last_state, STORE_STATE_DEGRADED);
    CHECK(strstr(hl.last, "work again") != NULL);
    CHECK_INT(store_commit_then(s, rc_cb, &p), STORE_OK);
    pump(s, &p.calls, 2);
    CHECK_INT(p.rc[1], STORE_E_ROWS_LOST); /* rows were lost since the previous barrier */
    CHECK_INT(store_commit_then(s, rc_cb, &p), STORE_OK);
    pump(s, &p.calls, 3);
    CHECK_INT(p.rc[2], STORE_OK);
    uint64_t written = st->rows_written;
    store_health_info fin;
    store_close_final(s, &fin);
    CHECK_INT(fin.rows_lost, ROWS - written);
    candle last = flood_bar(ROWS - 1);
    char q[200];
    snprintf(q, sizeof q, "SELECT count(*) FROM candles WHERE open_ms = %lld",
             (long long)last.open_ms);
    CHECK_INT(sql_int(path, q), 1);
    CHECK_INT(sql_int(path, "SELECT count(*) FROM candles"), (long long)written);
    /* the held rows that survived are exactly the newest 300, in order */
    candle first_kept = flood_bar(ROWS - 300);
    snprintf(q, sizeof q, "SELECT count(*) FROM candles WHERE open_ms >= %lld",
             (long long)first_kept.open_ms);
    CHECK_INT(sql_int(path, q), 300);
}

/* Run fn in a child process (as `nobody` when we are root) and return its exit status. */
static int as_other_user(const char *dir, int (*fn)(const char *), const char *arg)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        if (geteuid() == 0) {
            if (setgid(65534) != 0 || setuid(65534) != 0)
                _exit(100);
        }
        (void)dir;
        _exit(fn(arg));
    }
    int status = 0;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
        return -1;
    return WEXITSTATUS(status);
}

static int open_expect(const char *path, enum store_result want, const char *msg)
{
    char err[512] = "";
    store *s = NULL;
    enum store_result r = store_open(&s, path, NULL, err, sizeof err);
    fprintf(stderr, "refused as expected? %s (%s)\n", err, store_strerror(r));
    if (s)
        store_close(s);
    return r == want && strstr(err, msg) ? 0 : 1;
}
static int open_readonly(const char *path)
{
    return open_expect(path, STORE_E_READONLY, "read-only");
}
static int open_unwritable_dir(const char *path)
{
    return open_expect(path, STORE_E_READONLY, "is not writable");
}

/* A read-only database and a database in an unwritable directory are refused at start with a
 * clear message, and left as they were (no -wal/-shm). */
static void test_readonly_start(void)
{
    char dir[] = "/tmp/kestrel-test-ro.XXXXXX";
    if (!mkdtemp(dir)) {
        CHECK(0);
        return;
    }
    char path[300], side[320];
    snprintf(path, sizeof path, "%s/ro.db", dir);
    store *s = open_ok(path, NULL);
    for (int i = 0; s && i < 10; i++)
        CHECK_INT(store_put_candle(s, VENUE_OKX, "BTC-USDT", TF_1H, &bars[i]), STORE_OK);
    store_close(s);
    size_t len = 0;
    unsigned char *before = read_all(path, &len);
    uid_t nobody = geteuid() == 0 ? 65534 : geteuid();
    char lock[320];
    snprintf(lock, sizeof lock, "%s.lock", path);
    CHECK_INT(chown(dir, nobody, nobody), 0);
    CHECK_INT(chown(path, nobody, nobody), 0);
    CHECK_INT(chown(lock, nobody, nobody), 0);
    chmod(path, 0444);
    CHECK_INT(as_other_user(dir, open_readonly, path), 0);
    CHECK(before && same_bytes(before, len, path));
    snprintf(side, sizeof side, "%s-wal", path);
    CHECK(access(side, F_OK) != 0);
    snprintf(side, sizeof side, "%s-shm", path);
    CHECK(access(side, F_OK) != 0);

    /* writable file, unwritable directory: no -wal can be created */
    chmod(path, 0644);
    chmod(dir, 0555);
    CHECK_INT(as_other_user(dir, open_unwritable_dir, path), 0);
    CHECK(before && same_bytes(before, len, path));
    chmod(dir, 0700);
    free(before);
    nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static int open_no_space(const char *path)
{
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit zero = {.rlim_cur = 0, .rlim_max = RLIM_INFINITY};
    getrlimit(RLIMIT_FSIZE, &zero);
    zero.rlim_cur = 0;
    if (setrlimit(RLIMIT_FSIZE, &zero) != 0)
        return 2;
    return open_expect(path, STORE_E_DISK_FULL, "disk is full or a file size limit");
}

/* No room at start (a file size limit of 0 here) is refused, never a silent empty run. */
static void test_full_disk_start(void)
{
    char path[512];
    db_path(path, sizeof path, "nospace.db");
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0)
        _exit(open_no_space(path));
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* The lock file and the database are never followed through a symlink, must be regular files
 * and owned by us. A planted DB.lock symlink is refused and its target left untouched. */
static void test_owned_files(void)
{
    char path[512], lock[600], target[512], err[512];
    db_path(path, sizeof path, "owned.db");
    db_path(target, sizeof target, "victim.txt");
    CHECK_INT(write_all(target, "precious\n", 9), 0);
    snprintf(lock, sizeof lock, "%s.lock", path);
    CHECK_INT(symlink(target, lock), 0);
    store *s = (store *)1;
    CHECK_INT(store_open(&s, path, NULL, err, sizeof err), STORE_E_UNSAFE);
    CHECK(s == NULL);
    CHECK(strstr(err, "symbolic link") != NULL);
    fprintf(stderr, "refused as expected: %s\n", err);
    CHECK(same_bytes((const unsigned char *)"precious\n", 9, target));
    CHECK(access(path, F_OK) != 0); /* nothing created */
    unlink(lock);

    /* a lock that is not a regular file */
    CHECK_INT(mkfifo(lock, 0600), 0);
    CHECK_INT(store_open(&s, path, NULL, err, sizeof err), STORE_E_UNSAFE);
    CHECK(strstr(err, "not a regular file") != NULL);
    unlink(lock);

    /* the database itself as a symlink to another Kestrel database */
    char real[512];
    db_path(real, sizeof real, "real.db");
    s = open_ok(real, NULL);
    store_close(s);
    size_t len = 0;
    unsigned char *before = read_all(real, &len);
    CHECK_INT(symlink(real, path), 0);
    CHECK_INT(store_open(&s, path, NULL, err, sizeof err), STORE_E_UNSAFE);
    CHECK(strstr(err, "symbolic link") != NULL);
    CHECK(before && same_bytes(before, len, real));
    free(before);
    unlink(path);
    unlink(lock);

    /* files owned by another user (only root can make them) */
    if (geteuid() == 0) {
        s = open_ok(path, NULL);
        store_close(s);
        CHECK_INT(chown(lock, 65534, 65534), 0);
        CHECK_INT(store_open(&s, path, NULL, err, sizeof err), STORE_E_UNSAFE);
        CHECK(strstr(err, "owned by uid 65534") != NULL);
        CHECK_INT(chown(lock, 0, 0), 0);
        CHECK_INT(chown(path, 65534, 65534), 0);
        CHECK_INT(store_open(&s, path, NULL, err, sizeof err), STORE_E_UNSAFE);
        CHECK(strstr(err, "owned by uid 65534") != NULL);
        CHECK_INT(chown(path, 0, 0), 0);
        s = open_ok(path, NULL);
        store_close(s);
    }
    /* a new lock file is created exclusively, mode 0600 */
    struct stat sb;
    CHECK(lstat(lock, &sb) == 0 && S_ISREG(sb.st_mode) && (sb.st_mode & 0777) == 0600);
}

/* A refused WAL-mode database (here: a newer Kestrel's) gets no leftover -wal/-shm. */
static void test_refused_wal_sidecars(void)
{
    char path[512], side[600];
    db_path(path, sizeof path, "newer-wal.db");
    store *s = open_ok(path, NULL);
    store_close(s);
    sqlite3 *raw = NULL;
    sqlite3_open(path, &raw);
    sql_exec(raw, "PRAGMA user_version = 77");
    sqlite3_close(raw);
    snprintf(side, sizeof side, "%s-wal", path);
    CHECK(access(side, F_OK) != 0);
    expect_refused(path, NULL, "schema version 77 is newer", NULL);
    CHECK(access(side, F_OK) != 0);
    snprintf(side, sizeof side, "%s-shm", path);
    CHECK(access(side, F_OK) != 0);
}

struct load_probe {
    int calls;
    enum store_result rc;
    uint32_t n;
    long long committed_at_cb; /* candles another connection saw when the answer came */
    const char *path;
};
static void load_cb(void *ud, enum store_result rc, uint32_t n)
{
    struct load_probe *p = ud;
    p->calls++;
    p->rc = rc;
    p->n = n;
    p->committed_at_cb = sql_int(p->path, "SELECT count(*) FROM candles");
}

/* History loads on the writer thread: the answer comes through the eventfd, sees rows still
 * queued (nothing was committed yet), and is exact. */
static void test_load_async(void)
{
    char path[512];
    db_path(path, sizeof path, "async.db");
    store_opts o = {.batch = 1000, .flush_ms = 600000}; /* nothing commits on its own */
    store *s = open_ok(path, &o);
    if (!s)
        return;
    for (int i = 0; i < nbars; i++)
        CHECK_INT(store_put_candle(s, VENUE_BINANCE_SPOT, "BTCUSDT", TF_1H, &bars[i]), STORE_OK);
    static candle got[MAXBARS];
    struct load_probe p = {.path = path};
    CHECK_INT(store_load_candles_async(s, VENUE_BINANCE_SPOT, "BTCUSDT", TF_1H, INT64_MAX, got,
                                       MAXBARS, load_cb, &p),
              STORE_OK);
    CHECK_INT(p.calls, 0);
    pump(s, &p.calls, 1);
    CHECK_INT(p.calls, 1);
    CHECK_INT(p.rc, STORE_OK);
    CHECK_INT(p.n, nbars);
    CHECK_INT(p.committed_at_cb, 0); /* it read the writer's open transaction */
    int same = 0;
    for (int i = 0; i < nbars && i < (int)p.n; i++)
        same += candle_eq(&got[i], &bars[i]);
    CHECK_INT(same, nbars);
    /* newest 10 before bar 60, oldest first */
    p.calls = 0;
    CHECK_INT(store_load_candles_async(s, VENUE_BINANCE_SPOT, "BTCUSDT", TF_1H, bars[60].open_ms,
                                       got, 10, load_cb, &p),
              STORE_OK);
    pump(s, &p.calls, 1);
    CHECK_INT(p.n, 10);
    CHECK(candle_eq(&got[0], &bars[50]) && candle_eq(&got[9], &bars[59]));
    CHECK_INT(store_load_candles_async(s, VENUE_BINANCE_SPOT, "BTCUSDT", TF_1H, 0, got, 1, NULL,
                                       NULL),
              STORE_E_INVALID);
    CHECK_INT(store_load_candles_async(s, VENUE_COUNT, "BTCUSDT", TF_1H, 0, got, 1, load_cb, &p),
              STORE_E_INVALID);
    store_close(s);
}

/* store_read_async: a caller's read runs on the writer thread, on its connection (it sees the
 * rows queued before it, committed or not), and its result and count come back through
 * store_process() in order with the loads. */
struct read_probe {
    int calls;
    enum store_result rc, want_rc;
    uint32_t n;
    long long counted;
    pthread_t main, ran_on;
};
static enum store_result read_fn(void *ud, struct sqlite3 *db, uint32_t *n)
{
    struct read_probe *p = ud;
    p->ran_on = pthread_self();
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT count(*) FROM candles", -1, &st, NULL) != SQLITE_OK)
        return STORE_E_READ;
    p->counted = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_finalize(st);
    *n = (uint32_t)p->counted;
    return p->want_rc;
}
static void read_cb(void *ud, enum store_result rc, uint32_t n)
{
    struct read_probe *p = ud;
    p->calls++;
    p->rc = rc;
    p->n = n;
}

static void test_read_async(void)
{
    char path[512];
    db_path(path, sizeof path, "read_async.db");
    store_opts o = {.batch = 1000, .flush_ms = 600000}; /* nothing commits on its own */
    store *s = open_ok(path, &o);
    if (!s)
        return;
    for (int i = 0; i < nbars; i++)
        CHECK_INT(store_put_candle(s, VENUE_BINANCE_SPOT, "BTCUSDT", TF_1H, &bars[i]), STORE_OK);
    struct read_probe p = {.main = pthread_self(), .want_rc = STORE_OK};
    CHECK_INT(store_read_async(s, read_fn, read_cb, &p), STORE_OK);
    pump(s, &p.calls, 1);
    CHECK_INT(p.calls, 1);
    CHECK_INT(p.rc, STORE_OK);
    CHECK_INT(p.counted, nbars); /* the queued, uncommitted rows */
    CHECK_INT(p.n, nbars);
    CHECK(!pthread_equal(p.ran_on, p.main)); /* the writer's thread, not the caller's */
    p.want_rc = STORE_NOT_FOUND; /* the function's result is the callback's */
    CHECK_INT(store_read_async(s, read_fn, read_cb, &p), STORE_OK);
    pump(s, &p.calls, 2);
    CHECK_INT(p.calls, 2);
    CHECK_INT(p.rc, STORE_NOT_FOUND);
    CHECK_INT(store_read_async(s, NULL, read_cb, &p), STORE_E_INVALID);
    CHECK_INT(store_read_async(s, read_fn, NULL, &p), STORE_E_INVALID);
    CHECK_INT(store_get_stats(s)->errors, 0); /* a caller's result is not a store error */
    store_close(s);
}

/* The partial-bar flag (CANDLE_PARTIAL, schema version 5) round-trips: written as candles.partial
 * = 1, read back as the flag by the main-thread and the writer-thread loads after a restart; a
 * whole bar written later for the same period (a run that saw all of it) clears it. */
static void test_partial_flag(void)
{
    char path[512];
    db_path(path, sizeof path, "partial.db");
    store *s = open_ok(path, NULL);
    if (!s)
        return;
    static candle in[MAXBARS];
    memcpy(in, bars, sizeof(candle) * (size_t)nbars);
    in[0].flags = CANDLE_PARTIAL; /* the first bar of a run that started inside its hour */
    for (int i = 0; i < nbars; i++)
        CHECK_INT(store_put_candle(s, VENUE_BINANCE_SPOT, "BTCUSDT", TF_1H, &in[i]), STORE_OK);
    store_close(s);
    CHECK_INT(sql_int(path, "SELECT count(*) FROM candles WHERE partial = 1"), 1);
    CHECK_INT(sql_int(path, "SELECT open_ms FROM candles WHERE partial = 1"), in[0].open_ms);
    CHECK_INT(sql_int(path, "SELECT count(*) FROM candles WHERE partial = 0"), nbars - 1);

    s = open_ok(path, NULL); /* restart */
    if (!s)
        return;
    static candle got[MAXBARS];
    int n = load_n(s, VENUE_BINANCE_SPOT, "BTCUSDT", TF_1H, INT64_MAX, got, MAXBARS);
    CHECK_INT(n, nbars);
    int same = 0;
    for (int i = 0; i < n && i < nbars; i++)
        same += candle_eq(&got[i], &in[i]);
    CHECK_INT(same, nbars);
    CHECK(n > 1 && (got[0].flags & CANDLE_PARTIAL) && !(got[1].flags & CANDLE_PARTIAL));
    memset(got, 0, sizeof got);
    struct load_probe p = {.path = path};
    CHECK_INT(store_load_candles_async(s, VENUE_BINANCE_SPOT, "BTCUSDT", TF_1H, in[1].open_ms, got,
                                       5, load_cb, &p),
              STORE_OK);
    pump(s, &p.calls, 1);
    CHECK_INT(p.n, 1);
    CHECK(p.n == 1 && candle_eq(&got[0], &in[0]) && got[0].flags == CANDLE_PARTIAL);
    /* the whole bar replaces the partial one */
    CHECK_INT(store_put_candle(s, VENUE_BINANCE_SPOT, "BTCUSDT", TF_1H, &bars[0]), STORE_OK);
    store_close(s);
    CHECK_INT(sql_int(path, "SELECT count(*) FROM candles WHERE partial = 1"), 0);
    CHECK_INT(sql_int(path, "SELECT count(*) FROM candles"), nbars);
}

int main(void)
{
    char csv[512];
    snprintf(csv, sizeof csv, "%s/klines/lean_binance_BTCUSDT_1h_2018-05-01_05.csv",
             check_shared_data());
    nbars = load_csv(csv, bars, MAXBARS);
    CHECK_INT(nbars, 120);
    CHECK_INT(bars[0].open_ms, 1525132800000LL);
    CHECK_INT(bars[0].o, 924601000000LL);    /* 9246.01 */
    CHECK_INT(bars[0].volume, 526379955100LL); /* 5263.799551 */
    if (nbars != 120)
        CHECK_DONE();

    snprintf(tmpdir, sizeof tmpdir, "/tmp/kestrel-test-store.XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    test_restart_roundtrip();
    test_idempotent();
    test_batch_commits();
    test_flush_timer();
    test_commit_then();
    test_migration();
    test_refusals();
    test_locked();
    test_queue_cap();
    test_crash();
    test_on_loop();
    test_write_error();
    test_unwritable();
    test_rejects_and_bounds();
    test_settings();
    test_durable_api();
    test_durable_flood();
    test_durable_kill9();
    test_full_disk_run();
    test_full_disk_start();
    test_readonly_start();
    test_owned_files();
    test_refused_wal_sidecars();
    test_load_async();
    test_read_async();
    test_partial_flag();
    if (!getenv("KESTREL_KEEP_TMP")) /* set it to look at the files afterwards */
        nftw(tmpdir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    CHECK_DONE();
}
