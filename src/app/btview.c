/* The Backtests screen's model (btview.h). Each read is a job: allocated on the main thread,
 * filled on the store's writer thread by btstore_list / btstore_load (its own buffers only),
 * and adopted on the main thread in the completion, which swaps the new rows or report in and
 * bumps the sequence the screen's signature includes. Requests made while a job of the same
 * kind runs are remembered and issued when it completes. */
#include "kestrel/btview.h"

#include "kestrel/xmalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct btview_job {
    btview *v;
    int64_t id; /* report jobs */
    btstore_row *rows;
    uint32_t n;
    btstore_report rep;
} btview_job;

struct btview {
    store *st;
    btstore_row *rows;
    uint32_t n;
    bool loaded;
    btstore_report rep;
    bool has_rep;
    int64_t want;
    bool list_busy, list_again;
    bool rep_busy;
    int64_t rep_next; /* a report asked for while one was loading (0: none) */
    uint64_t seq;
    char err[160];
};

btview *btview_new(store *s)
{
    btview *v = xcalloc(1, sizeof *v);
    v->st = s;
    return v;
}

void btview_free(btview *v)
{
    if (!v)
        return;
    free(v->rows);
    btstore_report_free(&v->rep);
    free(v);
}

static enum store_result btview_list_read(void *ud, struct sqlite3 *db, uint32_t *n)
{
    btview_job *j = ud;
    enum store_result rc = btstore_list(db, j->rows, BTSTORE_LIST_MAX, &j->n);
    *n = j->n;
    return rc;
}

static void btview_list_done(void *ud, enum store_result rc, uint32_t n)
{
    btview_job *j = ud;
    btview *v = j->v;
    (void)n;
    v->list_busy = false;
    if (rc == STORE_OK) {
        free(v->rows);
        v->rows = j->rows;
        v->n = j->n;
        j->rows = NULL;
        v->loaded = true;
        v->err[0] = '\0';
    } else {
        snprintf(v->err, sizeof v->err, "reading the stored backtests failed (%s)",
                 store_strerror(rc));
    }
    free(j->rows);
    free(j);
    v->seq++;
    if (v->list_again) {
        v->list_again = false;
        btview_reload(v);
    }
    if (rc == STORE_OK && v->want == 0 && v->n > 0)
        btview_open(v, v->rows[0].id);
}

void btview_reload(btview *v)
{
    if (!v || !v->st)
        return;
    if (v->list_busy) {
        v->list_again = true;
        return;
    }
    btview_job *j = xcalloc(1, sizeof *j);
    j->v = v;
    j->rows = xcalloc(BTSTORE_LIST_MAX, sizeof *j->rows);
    if (store_read_async(v->st, btview_list_read, btview_list_done, j) != STORE_OK) {
        snprintf(v->err, sizeof v->err, "the store is busy: the backtests were not read");
        free(j->rows);
        free(j);
        v->seq++;
        return;
    }
    v->list_busy = true;
    v->seq++;
}

static enum store_result btview_report_read(void *ud, struct sqlite3 *db, uint32_t *n)
{
    btview_job *j = ud;
    *n = 1;
    return btstore_load(db, j->id, &j->rep);
}

static void btview_report_done(void *ud, enum store_result rc, uint32_t n)
{
    btview_job *j = ud;
    btview *v = j->v;
    (void)n;
    v->rep_busy = false;
    if (rc == STORE_OK && j->id == v->want) {
        btstore_report_free(&v->rep);
        v->rep = j->rep;
        memset(&j->rep, 0, sizeof j->rep);
        v->has_rep = true;
        v->err[0] = '\0';
    } else if (rc != STORE_OK) {
        snprintf(v->err, sizeof v->err, "backtest #%lld: %s", (long long)j->id,
                 rc == STORE_NOT_FOUND ? "not stored (deleted?)" : store_strerror(rc));
    }
    btstore_report_free(&j->rep);
    free(j);
    v->seq++;
    if (v->rep_next) {
        int64_t id = v->rep_next;
        v->rep_next = 0;
        btview_open(v, id);
    }
}

void btview_open(btview *v, int64_t id)
{
    if (!v || !v->st || id <= 0)
        return;
    v->want = id;
    v->seq++;
    if (v->has_rep && v->rep.row.id == id && !v->rep_busy)
        return;
    if (v->rep_busy) {
        v->rep_next = id;
        return;
    }
    btview_job *j = xcalloc(1, sizeof *j);
    j->v = v;
    j->id = id;
    if (store_read_async(v->st, btview_report_read, btview_report_done, j) != STORE_OK) {
        snprintf(v->err, sizeof v->err, "the store is busy: the report was not read");
        free(j);
        return;
    }
    v->rep_busy = true;
}

uint64_t btview_seq(const btview *v)
{
    return v ? v->seq : 0;
}

bool btview_loaded(const btview *v)
{
    return v && v->loaded;
}

bool btview_busy(const btview *v)
{
    return v && (v->list_busy || v->rep_busy);
}

uint32_t btview_count(const btview *v)
{
    return v ? v->n : 0;
}

const btstore_row *btview_row(const btview *v, uint32_t i)
{
    return v && i < v->n ? &v->rows[i] : NULL;
}

const btstore_report *btview_report(const btview *v)
{
    return v && v->has_rep ? &v->rep : NULL;
}

int64_t btview_want(const btview *v)
{
    return v ? v->want : 0;
}

const char *btview_error(const btview *v)
{
    return v ? v->err : "";
}
