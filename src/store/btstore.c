/* Backtest results in the Kestrel database (btstore.h). Owns the SQL of table `backtests`:
 * the save at the end of `kestrel backtest` (one transaction, after the run: the backtest itself
 * never waits for the disk), the reads the Backtests screen makes on the store's writer thread,
 * and the export. The summary columns are read out of the report JSON here, so a stored row and
 * its report cannot disagree. Data files are identified by size and SHA-256 (OpenSSL EVP). */
#include "kestrel/btstore.h"

#include "kestrel/decimal.h"
#include "kestrel/xmalloc.h"

#include <cjson/cJSON.h>
#include <fcntl.h>
#include <math.h>
#include <openssl/evp.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BTSTORE_BUSY_MS 5000

static const char btstore_cols[] =
    "id, time_ms, kind, parent_id, symbol, venue, strategy, from_ms, to_ms, bars, net_pnl,"
    " return, sharpe, max_drawdown, trades, fees, seed, verdict";

/* ---- saving -------------------------------------------------------------------------- */

/* The file's size and SHA-256 (hex); false when it cannot be read. */
static bool btstore_hash_file(const char *path, char *hex, size_t cap, int64_t *bytes)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    bool ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1;
    unsigned char buf[65536];
    ssize_t r = 0;
    *bytes = 0;
    while (ok && (r = read(fd, buf, sizeof buf)) > 0) {
        ok = EVP_DigestUpdate(ctx, buf, (size_t)r) == 1;
        *bytes += r;
    }
    if (r < 0)
        ok = false;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    ok = ok && EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 && cap > 2 * mdlen;
    for (unsigned int i = 0; ok && i < mdlen; i++)
        snprintf(hex + 2 * i, cap - 2 * i, "%02x", md[i]);
    EVP_MD_CTX_free(ctx);
    close(fd);
    return ok;
}

/* [{"path", "bytes", "sha256"}] (a capture may carry a "spot:"/"usdm:" prefix: hashed without) */
static char *btstore_files_json(const btstore_meta *m)
{
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; i < m->nfiles; i++) {
        const char *p = m->files[i], *colon = strchr(p, ':');
        const char *fs = colon && colon - p <= 5 && !strchr(p, '/') ? colon + 1 : p;
        char hex[2 * EVP_MAX_MD_SIZE + 1] = "";
        int64_t bytes = 0;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "path", p);
        if (btstore_hash_file(fs, hex, sizeof hex, &bytes)) {
            cJSON_AddNumberToObject(o, "bytes", (double)bytes);
            cJSON_AddStringToObject(o, "sha256", hex);
        } else {
            cJSON_AddNullToObject(o, "bytes");
            cJSON_AddNullToObject(o, "sha256");
        }
        cJSON_AddItemToArray(a, o);
    }
    char *s = cJSON_PrintUnformatted(a);
    cJSON_Delete(a);
    return s;
}

static const cJSON *btstore_get(const cJSON *o, const char *k)
{
    return cJSON_GetObjectItemCaseSensitive(o, k);
}

static void btstore_bind_num(sqlite3_stmt *st, int i, const cJSON *v)
{
    if (cJSON_IsNumber(v) && isfinite(v->valuedouble))
        sqlite3_bind_double(st, i, v->valuedouble);
    else
        sqlite3_bind_null(st, i);
}

static void btstore_bind_int(sqlite3_stmt *st, int i, const cJSON *v)
{
    if (cJSON_IsNumber(v))
        sqlite3_bind_int64(st, i, (sqlite3_int64)v->valuedouble);
    else
        sqlite3_bind_null(st, i);
}

static void btstore_bind_kdec(sqlite3_stmt *st, int i, const cJSON *v)
{
    kdec k;
    if (cJSON_IsString(v) && decimal_parse(v->valuestring, strlen(v->valuestring), &k) == K_OK)
        sqlite3_bind_int64(st, i, k);
    else
        sqlite3_bind_null(st, i);
}

static void btstore_bind_text(sqlite3_stmt *st, int i, const char *s)
{
    if (s)
        sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, i);
}

/* the verdicts joined with "; " (a run), or the sweep's one-line summary */
static char *btstore_verdict_text(const char *kind, const cJSON *r)
{
    const cJSON *sw = btstore_get(r, "sweep");
    if (sw) {
        char b[320];
        const cJSON *rk = cJSON_GetArrayItem(btstore_get(sw, "ranking"), 0);
        const char *params = cJSON_GetStringValue(btstore_get(rk, "params"));
        const cJSON *dsr = btstore_get(sw, "dsr"), *pbo = btstore_get(sw, "pbo");
        char ds[32] = "-", pb[32] = "-";
        if (cJSON_IsNumber(dsr))
            snprintf(ds, sizeof ds, "%.4f", dsr->valuedouble);
        if (cJSON_IsNumber(pbo))
            snprintf(pb, sizeof pb, "%.4f", pbo->valuedouble);
        snprintf(b, sizeof b, "%.0f configurations tried, winner #%.0f (%s), DSR %s, PBO %s",
                 cJSON_GetNumberValue(btstore_get(sw, "configurations")),
                 cJSON_GetNumberValue(btstore_get(sw, "winner")), params ? params : "?", ds, pb);
        return xstrdup(b);
    }
    if (!strcmp(kind, "sweep_config") && !btstore_get(r, "verdicts"))
        return NULL; /* a ranking entry only (from a shard's JSON that has no reports) */
    size_t cap = 1, used = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, btstore_get(r, "verdicts")) if (cJSON_IsString(v)) cap +=
        strlen(v->valuestring) + 2;
    char *s = xmalloc(cap);
    s[0] = '\0';
    cJSON_ArrayForEach(v, btstore_get(r, "verdicts"))
    {
        if (!cJSON_IsString(v))
            continue;
        used += (size_t)snprintf(s + used, cap - used, "%s%s", used ? "; " : "", v->valuestring);
    }
    return s;
}

/* the plots' data: equity curve, monthly returns, reliability bins, trade P&Ls */
static char *btstore_plots_json(const cJSON *r)
{
    const cJSON *eq = btstore_get(r, "equity_curve");
    if (!eq)
        return NULL;
    cJSON *p = cJSON_CreateObject();
    cJSON_AddItemToObject(p, "equity_curve", cJSON_Duplicate(eq, 1));
    const cJSON *mo = btstore_get(r, "monthly_returns");
    cJSON_AddItemToObject(p, "monthly_returns", mo ? cJSON_Duplicate(mo, 1) : cJSON_CreateArray());
    const cJSON *rel = btstore_get(btstore_get(btstore_get(r, "metrics"), "ensemble"),
                                   "reliability");
    cJSON_AddItemToObject(p, "reliability", rel ? cJSON_Duplicate(rel, 1) : cJSON_CreateArray());
    cJSON *tp = cJSON_AddArrayToObject(p, "trade_pnls");
    const cJSON *t;
    cJSON_ArrayForEach(t, btstore_get(r, "trades"))
    {
        const char *pnl = cJSON_GetStringValue(btstore_get(t, "pnl"));
        cJSON_AddItemToArray(tp, cJSON_CreateString(pnl ? pnl : "0"));
    }
    char *s = cJSON_PrintUnformatted(p);
    cJSON_Delete(p);
    return s;
}

/* the report as --json writes it, except that a sweep's configurations' own reports are in
 * their sweep_config rows (not again in the sweep's); a sweep too big for a row goes without
 * its per-bar returns */
static char *btstore_report_text(const cJSON *r)
{
    bool own = false;
    const cJSON *e;
    cJSON_ArrayForEach(e, btstore_get(r, "sweep_results")) own |= btstore_get(e, "report") != NULL;
    cJSON *c = own ? cJSON_Duplicate(r, 1) : NULL;
    cJSON_ArrayForEach(e, btstore_get(c, "sweep_results"))
        cJSON_DeleteItemFromObjectCaseSensitive((cJSON *)e, "report");
    char *s = cJSON_Print(c ? c : r);
    if (s && strlen(s) <= BTSTORE_REPORT_MAX) {
        cJSON_Delete(c);
        return s;
    }
    cJSON_free(s);
    if (!c)
        c = cJSON_Duplicate(r, 1);
    cJSON_ArrayForEach(e, btstore_get(c, "sweep_results"))
        cJSON_DeleteItemFromObjectCaseSensitive((cJSON *)e, "returns");
    cJSON_AddTrueToObject(c, "returns_omitted");
    s = cJSON_Print(c);
    cJSON_Delete(c);
    return s;
}

/* the report's text field, else the configuration's (a sweep's report has no symbol) */
static const char *btstore_field(const cJSON *r, const cJSON *cfg, const char *k)
{
    const char *v = cJSON_GetStringValue(btstore_get(r, k));
    return v ? v : cJSON_GetStringValue(btstore_get(cfg, k));
}

/* a sweep's winner's own run report (sweep_results[].report, parsed; NULL without one) */
static cJSON *btstore_winner_report(const cJSON *r, const cJSON *win)
{
    const cJSON *e;
    double idx = cJSON_GetNumberValue(btstore_get(win, "index"));
    cJSON_ArrayForEach(e, btstore_get(r, "sweep_results"))
    {
        const cJSON *t = btstore_get(e, "report");
        if (!t || cJSON_GetNumberValue(btstore_get(e, "index")) != idx)
            continue;
        return cJSON_IsRaw(t) ? cJSON_Parse(t->valuestring) : cJSON_Duplicate(t, 1);
    }
    return NULL;
}

static int btstore_insert(sqlite3_stmt *st, const btstore_meta *m, const cJSON *cfg,
                          const char *files, const btstore_entry *e, int64_t parent_id,
                          int64_t now_ms)
{
    /* the columns come from the report as stored, read back: cJSON prints a double with 15
     * digits when they read back within its tolerance, so the in-memory value may differ from
     * the text's in the last bits; the row must say exactly what its report says */
    char *report = btstore_report_text(e->report);
    cJSON *back = report ? cJSON_Parse(report) : NULL;
    const cJSON *r = back ? back : e->report;
    const cJSON *sw = btstore_get(r, "sweep");
    const cJSON *win = sw ? cJSON_GetArrayItem(btstore_get(sw, "ranking"), 0) : NULL;
    /* a sweep's return and Sharpe: its winner's; the Sharpe annualised as every run's when the
     * winner's own report is there (the ranking's is per bar) */
    cJSON *wrep = win ? btstore_winner_report(e->report, win) : NULL;
    const cJSON *src = win ? win : r;
    const cJSON *sharpe = btstore_get(wrep ? wrep : src, "sharpe");
    char *verdict = btstore_verdict_text(e->kind, r);
    char *plots = btstore_plots_json(r);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    sqlite3_bind_int64(st, 1, now_ms);
    btstore_bind_text(st, 2, e->kind);
    if (parent_id > 0)
        sqlite3_bind_int64(st, 3, parent_id);
    btstore_bind_text(st, 4, m->args ? m->args : "");
    btstore_bind_text(st, 5, files ? files : "[]");
    sqlite3_bind_int64(st, 6, (sqlite3_int64)m->seed);
    btstore_bind_text(st, 7, m->config ? m->config : "{}");
    btstore_bind_text(st, 8, btstore_field(r, cfg, "symbol"));
    btstore_bind_text(st, 9, btstore_field(r, cfg, "venue"));
    btstore_bind_text(st, 10, btstore_field(r, cfg, "strategy"));
    btstore_bind_int(st, 11, btstore_get(r, "from"));
    btstore_bind_int(st, 12, btstore_get(r, "to"));
    btstore_bind_int(st, 13, btstore_get(r, "bars"));
    btstore_bind_kdec(st, 14, btstore_get(r, "net_pnl"));
    btstore_bind_num(st, 15, btstore_get(src, "return"));
    btstore_bind_num(st, 16, sharpe);
    btstore_bind_num(st, 17, btstore_get(r, "max_drawdown"));
    btstore_bind_int(st, 18, btstore_get(r, "trade_count"));
    btstore_bind_kdec(st, 19, btstore_get(r, "fees"));
    btstore_bind_text(st, 20, verdict);
    btstore_bind_text(st, 21, report ? report : "null");
    btstore_bind_text(st, 22, plots);
    int rc = sqlite3_step(st);
    free(verdict);
    cJSON_free(plots);
    cJSON_free(report);
    cJSON_Delete(back);
    cJSON_Delete(wrep);
    return rc;
}

enum store_result btstore_save(const char *db_path, const btstore_meta *m, const btstore_entry *e,
                               int n, int64_t *first_id, char *err, size_t errlen)
{
    if (first_id)
        *first_id = 0;
    if (!db_path || !m || (!e && n) || n < 0) {
        snprintf(err, errlen, "btstore_save: invalid arguments");
        return STORE_E_INVALID;
    }
    /* created and migrated exactly as the app does it, with its safety checks */
    store *s = NULL;
    store_opts so = {.busy_timeout_ms = BTSTORE_BUSY_MS};
    enum store_result r = store_open(&s, db_path, &so, err, errlen);
    if (r == STORE_OK)
        store_close(s);
    else if (r != STORE_E_IN_USE) /* in use: a running Kestrel has it (migrated) */
        return r;
    err[0] = '\0';
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW, NULL) !=
        SQLITE_OK) {
        snprintf(err, errlen, "%s: cannot open (%s)", db_path, db ? sqlite3_errmsg(db) : "?");
        sqlite3_close(db);
        return STORE_E_OPEN;
    }
    sqlite3_busy_timeout(db, BTSTORE_BUSY_MS);
    char *files = btstore_files_json(m);
    cJSON *cfg = m->config ? cJSON_Parse(m->config) : NULL;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t now_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    sqlite3_stmt *st = NULL;
    int64_t *ids = xcalloc((size_t)n + 1, sizeof *ids);
    int rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(db,
                                "INSERT INTO backtests(time_ms, kind, parent_id, args, data_files,"
                                " seed, config, symbol, venue, strategy, from_ms, to_ms, bars,"
                                " net_pnl, return, sharpe, max_drawdown, trades, fees, verdict,"
                                " report, plots) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,"
                                "?13,?14,?15,?16,?17,?18,?19,?20,?21,?22)",
                                -1, &st, NULL);
    for (int i = 0; rc == SQLITE_OK && i < n; i++) {
        int64_t parent = e[i].parent >= 0 && e[i].parent < i ? ids[e[i].parent] : 0;
        rc = btstore_insert(st, m, cfg, files, &e[i], parent, now_ms);
        if (rc == SQLITE_DONE) {
            ids[i] = sqlite3_last_insert_rowid(db);
            rc = SQLITE_OK;
        }
    }
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "%s: storing the backtest failed (%s)", db_path,
                 sqlite3_errmsg(db));
        sqlite3_finalize(st);
        st = NULL;
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        r = (rc & 0xff) == SQLITE_BUSY ? STORE_E_IN_USE : STORE_E_WRITE;
    } else {
        r = STORE_OK;
        if (first_id && n)
            *first_id = ids[0];
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    cJSON_free(files);
    cJSON_Delete(cfg);
    free(ids);
    return r;
}

/* ---- reading ------------------------------------------------------------------------- */

static void btstore_copy(char *dst, size_t cap, sqlite3_stmt *st, int col)
{
    const char *t = (const char *)sqlite3_column_text(st, col);
    snprintf(dst, cap, "%s", t ? t : "");
}

static double btstore_col_num(sqlite3_stmt *st, int col)
{
    return sqlite3_column_type(st, col) == SQLITE_NULL ? NAN : sqlite3_column_double(st, col);
}

static int64_t btstore_col_int(sqlite3_stmt *st, int col, int64_t none)
{
    return sqlite3_column_type(st, col) == SQLITE_NULL ? none : sqlite3_column_int64(st, col);
}

/* columns in the order of btstore_cols */
static void btstore_row_read(sqlite3_stmt *st, btstore_row *r)
{
    memset(r, 0, sizeof *r);
    r->id = sqlite3_column_int64(st, 0);
    r->time_ms = sqlite3_column_int64(st, 1);
    btstore_copy(r->kind, sizeof r->kind, st, 2);
    r->parent_id = btstore_col_int(st, 3, 0);
    btstore_copy(r->symbol, sizeof r->symbol, st, 4);
    btstore_copy(r->venue, sizeof r->venue, st, 5);
    btstore_copy(r->strategy, sizeof r->strategy, st, 6);
    r->from_ms = btstore_col_int(st, 7, 0);
    r->to_ms = btstore_col_int(st, 8, 0);
    r->bars = btstore_col_int(st, 9, -1);
    r->has_net_pnl = sqlite3_column_type(st, 10) == SQLITE_INTEGER;
    r->net_pnl = r->has_net_pnl ? sqlite3_column_int64(st, 10) : 0;
    r->ret = btstore_col_num(st, 11);
    r->sharpe = btstore_col_num(st, 12);
    r->max_drawdown = btstore_col_num(st, 13);
    r->trades = btstore_col_int(st, 14, -1);
    r->has_fees = sqlite3_column_type(st, 15) == SQLITE_INTEGER;
    r->fees = r->has_fees ? sqlite3_column_int64(st, 15) : 0;
    r->seed = (uint64_t)sqlite3_column_int64(st, 16);
    const char *v = (const char *)sqlite3_column_text(st, 17);
    if (v && strcmp(r->kind, "sweep") && strcmp(r->kind, "merge")) {
        for (const char *p = v; *p; r->verdicts++) {
            const char *end = strstr(p, "; ");
            size_t len = end ? (size_t)(end - p) : strlen(p);
            const char *hit = strstr(p, ": edge over ");
            if (hit && hit < p + len)
                r->edges++;
            p += len + (end ? 2 : 0);
        }
    }
}

enum store_result btstore_list(sqlite3 *db, btstore_row *out, uint32_t max, uint32_t *n)
{
    *n = 0;
    char sql[1024];
    snprintf(sql, sizeof sql, "SELECT %s FROM backtests ORDER BY id DESC LIMIT ?1", btstore_cols);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return STORE_E_READ;
    sqlite3_bind_int64(st, 1, max);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && *n < max)
        btstore_row_read(st, &out[(*n)++]);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? STORE_OK : STORE_E_READ;
}

static char *btstore_dup_col(sqlite3_stmt *st, int col)
{
    const char *t = (const char *)sqlite3_column_text(st, col);
    return t ? xstrdup(t) : NULL;
}

enum store_result btstore_load(sqlite3 *db, int64_t id, btstore_report *out)
{
    memset(out, 0, sizeof *out);
    char sql[1024];
    snprintf(sql, sizeof sql,
             "SELECT %s, args, data_files, config, report, plots FROM backtests WHERE id = ?1",
             btstore_cols);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return STORE_E_READ;
    sqlite3_bind_int64(st, 1, id);
    int rc = sqlite3_step(st);
    enum store_result res = rc == SQLITE_ROW ? STORE_OK : rc == SQLITE_DONE ? STORE_NOT_FOUND
                                                                            : STORE_E_READ;
    if (rc == SQLITE_ROW) {
        btstore_row_read(st, &out->row);
        out->verdict = btstore_dup_col(st, 17);
        out->args = btstore_dup_col(st, 18);
        out->data_files = btstore_dup_col(st, 19);
        out->config = btstore_dup_col(st, 20);
        /* bounded: a report bigger than any the backtest writes (someone else's row) is not
         * parsed; the screen says it could not be read */
        const char *rep = (const char *)sqlite3_column_text(st, 21);
        const char *pl = (const char *)sqlite3_column_text(st, 22);
        bool small = sqlite3_column_bytes(st, 21) <= 4 * (int)BTSTORE_REPORT_MAX &&
                     sqlite3_column_bytes(st, 22) <= 4 * (int)BTSTORE_REPORT_MAX;
        out->report = rep && small ? cJSON_Parse(rep) : NULL;
        out->plots = pl && small ? cJSON_Parse(pl) : NULL;
    }
    sqlite3_finalize(st);
    return res;
}

void btstore_report_free(btstore_report *r)
{
    if (!r)
        return;
    free(r->args);
    free(r->data_files);
    free(r->config);
    free(r->verdict);
    cJSON_Delete(r->report);
    cJSON_Delete(r->plots);
    memset(r, 0, sizeof *r);
}

/* ---- export -------------------------------------------------------------------------- */

static void btstore_csv_text(FILE *out, const char *s)
{
    fputc('"', out);
    for (; s && *s; s++) {
        if (*s == '"')
            fputc('"', out);
        fputc(*s, out);
    }
    fputc('"', out);
}

static void btstore_iso(int64_t ms, char *buf, size_t cap)
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

static void btstore_kdec_text(kdec v, char *b, size_t cap)
{
    decimal_format(v, decimal_places(v), b, cap);
}

static int btstore_export_rows(sqlite3 *db, bool csv, FILE *out)
{
    char sql[1024];
    snprintf(sql, sizeof sql, "SELECT %s, args, data_files, config FROM backtests ORDER BY id",
             btstore_cols);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        fprintf(stderr, "kestrel export: no backtests table (%s)\n", sqlite3_errmsg(db));
        return 1;
    }
    if (csv)
        fputs("id,time,kind,parent_id,symbol,venue,strategy,seed,from,to,bars,net_pnl,return,"
              "sharpe,max_drawdown,trades,fees,verdict,args,data_files\n",
              out);
    else
        fputs("[", out);
    int rc, n = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        btstore_row r;
        btstore_row_read(st, &r);
        char t[80], pnl[48] = "", fees[48] = "";
        btstore_iso(r.time_ms, t, sizeof t);
        if (r.has_net_pnl)
            btstore_kdec_text(r.net_pnl, pnl, sizeof pnl);
        if (r.has_fees)
            btstore_kdec_text(r.fees, fees, sizeof fees);
        const char *verdict = (const char *)sqlite3_column_text(st, 17);
        const char *args = (const char *)sqlite3_column_text(st, 18);
        const char *files = (const char *)sqlite3_column_text(st, 19);
        const char *config = (const char *)sqlite3_column_text(st, 20);
        if (csv) {
            fprintf(out, "%lld,%s,%s,", (long long)r.id, t, r.kind);
            if (r.parent_id)
                fprintf(out, "%lld", (long long)r.parent_id);
            fprintf(out, ",%s,%s,%s,%llu,", r.symbol, r.venue, r.strategy,
                    (unsigned long long)r.seed);
            if (r.from_ms)
                fprintf(out, "%lld", (long long)r.from_ms);
            fputc(',', out);
            if (r.to_ms)
                fprintf(out, "%lld", (long long)r.to_ms);
            fputc(',', out);
            if (r.bars >= 0)
                fprintf(out, "%lld", (long long)r.bars);
            fprintf(out, ",%s,", pnl);
            double nums[3] = {r.ret, r.sharpe, r.max_drawdown};
            for (int k = 0; k < 3; k++) {
                if (isfinite(nums[k]))
                    fprintf(out, "%.17g", nums[k]);
                fputc(',', out);
            }
            if (r.trades >= 0)
                fprintf(out, "%lld", (long long)r.trades);
            fprintf(out, ",%s,", fees);
            btstore_csv_text(out, verdict);
            fputc(',', out);
            btstore_csv_text(out, args);
            fputc(',', out);
            btstore_csv_text(out, files);
            fputc('\n', out);
        } else {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddNumberToObject(o, "id", (double)r.id);
            cJSON_AddStringToObject(o, "time", t);
            cJSON_AddStringToObject(o, "kind", r.kind);
            if (r.parent_id)
                cJSON_AddNumberToObject(o, "parent_id", (double)r.parent_id);
            else
                cJSON_AddNullToObject(o, "parent_id");
            cJSON_AddStringToObject(o, "symbol", r.symbol);
            cJSON_AddStringToObject(o, "venue", r.venue);
            cJSON_AddStringToObject(o, "strategy", r.strategy);
            cJSON_AddNumberToObject(o, "seed", (double)r.seed);
            cJSON_AddItemToObject(o, "from", r.from_ms ? cJSON_CreateNumber((double)r.from_ms)
                                                       : cJSON_CreateNull());
            cJSON_AddItemToObject(o, "to", r.to_ms ? cJSON_CreateNumber((double)r.to_ms)
                                                   : cJSON_CreateNull());
            cJSON_AddItemToObject(o, "bars", r.bars >= 0 ? cJSON_CreateNumber((double)r.bars)
                                                         : cJSON_CreateNull());
            cJSON_AddItemToObject(o, "net_pnl",
                                  r.has_net_pnl ? cJSON_CreateString(pnl) : cJSON_CreateNull());
            double nums[3] = {r.ret, r.sharpe, r.max_drawdown};
            const char *names[3] = {"return", "sharpe", "max_drawdown"};
            for (int k = 0; k < 3; k++) {
                if (isfinite(nums[k])) {
                    char nb[40];
                    snprintf(nb, sizeof nb, "%.17g", nums[k]);
                    cJSON_AddRawToObject(o, names[k], nb);
                } else {
                    cJSON_AddNullToObject(o, names[k]);
                }
            }
            cJSON_AddItemToObject(o, "trades", r.trades >= 0
                                                   ? cJSON_CreateNumber((double)r.trades)
                                                   : cJSON_CreateNull());
            cJSON_AddItemToObject(o, "fees",
                                  r.has_fees ? cJSON_CreateString(fees) : cJSON_CreateNull());
            cJSON_AddItemToObject(o, "verdict",
                                  verdict ? cJSON_CreateString(verdict) : cJSON_CreateNull());
            cJSON_AddStringToObject(o, "args", args ? args : "");
            cJSON *fj = files ? cJSON_Parse(files) : NULL;
            cJSON_AddItemToObject(o, "data_files", fj ? fj : cJSON_CreateArray());
            cJSON *cj = config ? cJSON_Parse(config) : NULL;
            cJSON_AddItemToObject(o, "config", cj ? cj : cJSON_CreateObject());
            char *txt = cJSON_PrintUnformatted(o);
            fprintf(out, "%s%s\n", n ? "," : "", txt ? txt : "null");
            cJSON_free(txt);
            cJSON_Delete(o);
        }
        n++;
    }
    if (!csv)
        fputs("]\n", out);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        fprintf(stderr, "kestrel export: reading backtests failed (%s)\n", sqlite3_errmsg(db));
        return 1;
    }
    return ferror(out) ? 1 : 0;
}

static int btstore_export_trades(sqlite3 *db, int64_t id, bool csv, FILE *out)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT report FROM backtests WHERE id = ?1", -1, &st, NULL) !=
        SQLITE_OK) {
        fprintf(stderr, "kestrel export: no backtests table (%s)\n", sqlite3_errmsg(db));
        return 1;
    }
    sqlite3_bind_int64(st, 1, id);
    int rc = sqlite3_step(st);
    const char *txt = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL;
    cJSON *j = txt ? cJSON_Parse(txt) : NULL;
    sqlite3_finalize(st);
    if (!j) {
        fprintf(stderr, "kestrel export: no stored backtest with id %lld\n", (long long)id);
        return 1;
    }
    const cJSON *trades = btstore_get(j, "trades");
    if (!csv) {
        char *s = trades ? cJSON_PrintUnformatted(trades) : NULL;
        fprintf(out, "%s\n", s ? s : "[]");
        cJSON_free(s);
        cJSON_Delete(j);
        return ferror(out) ? 1 : 0;
    }
    static const char *const cols[] = {"entry_time", "exit_time", "side", "qty",
                                       "entry",      "exit",      "pnl",  "fee"};
    for (size_t k = 0; k < K_ARRAY_LEN(cols); k++)
        fprintf(out, "%s%c", cols[k], k + 1 < K_ARRAY_LEN(cols) ? ',' : '\n');
    const cJSON *t;
    cJSON_ArrayForEach(t, trades)
    {
        for (size_t k = 0; k < K_ARRAY_LEN(cols); k++) {
            const cJSON *v = btstore_get(t, cols[k]);
            if (cJSON_IsString(v))
                fputs(v->valuestring, out);
            else if (cJSON_IsNumber(v))
                fprintf(out, "%.0f", v->valuedouble);
            fputc(k + 1 < K_ARRAY_LEN(cols) ? ',' : '\n', out);
        }
    }
    cJSON_Delete(j);
    return ferror(out) ? 1 : 0;
}

int btstore_export(sqlite3 *db, int64_t id, bool csv, FILE *out)
{
    return id > 0 ? btstore_export_trades(db, id, csv, out) : btstore_export_rows(db, csv, out);
}
