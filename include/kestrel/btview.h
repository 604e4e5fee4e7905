/* The Backtests screen's model (screen 5): the stored runs (btstore.h) and the report of the
 * one selected, read on the store's writer thread (store_read_async) and handed over in
 * store_process(), so the main thread never waits for the disk and the panes draw only from
 * what is here. One list read and one report read in flight at most; a request made while one
 * is running is made again when it completes (the newest request wins). Owned by the app,
 * freed after the store is closed (the store delivers every callback before it closes). */
#ifndef KESTREL_BTVIEW_H
#define KESTREL_BTVIEW_H
#include "kestrel/btstore.h"

typedef struct btview btview;

btview *btview_new(store *s); /* s may be NULL: nothing is ever loaded */
void btview_free(btview *v);
/* Reads the newest BTSTORE_LIST_MAX rows again; the first list read also opens the newest
 * row's report when none was asked for. */
void btview_reload(btview *v);
void btview_open(btview *v, int64_t id); /* reads that row's report */

uint64_t btview_seq(const btview *v); /* changes whenever what the screen shows does */
bool btview_loaded(const btview *v);  /* the list was read at least once */
bool btview_busy(const btview *v);    /* a read is in flight */
uint32_t btview_count(const btview *v);
const btstore_row *btview_row(const btview *v, uint32_t i); /* newest first; NULL past the end */
/* The report shown: NULL before one is loaded. want: the id asked for last (0: none). */
const btstore_report *btview_report(const btview *v);
int64_t btview_want(const btview *v);
const char *btview_error(const btview *v); /* "" when the last reads worked */

#endif
