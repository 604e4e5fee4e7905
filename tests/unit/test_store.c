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
           a->quote_volume == b->quote_volume && a->trades == b->trades;
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
    CHECK_INT(store_schema_version(), 4);
    CHECK_INT(store_get_stats(s)->schema_version, 4);
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
    CHECK_INT(store_get_stats(s)->schema_version, 4);
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

    CHECK_INT(sql_int(path, "PRAGMA user_version"), 4);
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

    /* a database already at version 4 opens as version 4 and is not migrated again */
    s = open_ok(path, NULL);
    if (!s)
        return;
    CHECK_INT(store_schema_version(), 4);
    CHECK_INT(store_get_stats(s)->schema_version, 4);
    CHECK_INT(store_get_setting(s, "ui.indicator", val, sizeof val), STORE_OK);
    CHECK_STR(val, "rsi:14");
    store_close(s);
    CHECK_INT(sql_int(path, "PRAGMA user_version"), 4);
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
    CHECK_INT(sql_int(path, "PRAGMA user_version"), 4);
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
    expect_refused(path, NULL, "schema version 999 is newer than this Kestrel (4)",
                   "upgrade Kestrel or use another --db");
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
    CHECK_INT(sql_int(path, "PRAGMA user_version"), 4);
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
    CHECK_INT(store_get_setting(s, "ui.indicat", val, sizeof val), STORE_NOT_FOUND); /* exact keys only */

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
    if (!getenv("KESTREL_KEEP_TMP")) /* set it to look at the files afterwards */
        nftw(tmpdir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    CHECK_DONE();
}
