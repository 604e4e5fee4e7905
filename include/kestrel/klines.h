/* Kline CSV as a frame source: `open_time_ms,open,high,low,close,volume` per line (the format of
 * shared/data/klines; plain or gzip, "-" = stdin; an optional header line), each row a closed
 * FEED_KLINE event
 * for the ingest pipeline (ingest_event), so a backtest feeds the same market model, bar notes and
 * subscribers as a replay or a live feed.
 *
 * Prices and volumes are parsed exactly (decimal_parse: no exponents, no doubles). The interval
 * is given, or inferred from the smallest spacing of the first rows; it must be one of the
 * candles timeframes (1s 1m 5m 15m 1h 4h 1d). Rows must be strictly increasing and aligned to the
 * interval (a value with more than 8 decimals is rounded to 1e-8 and counted: klines_rounded),
 * and consistent (prices > 0, low <= open, close <= high, volume >= 0); a row that is
 * not is refused, in file order, with its reason (klines_error) and line number (klines_line).
 * Bounded: lines longer than KLINES_LINE_MAX are refused. A read error (a truncated gzip file)
 * ends the input and is kept in klines_io_error(). */
#ifndef KESTREL_KLINES_H
#define KESTREL_KLINES_H
#include "kestrel/candles.h"
#include "kestrel/feed.h"

#define KLINES_LINE_MAX 1024

typedef struct klines klines;

/* interval "" = infer. K_OK, or K_ERR with the reason in err ("cannot open F: ..."). */
int klines_open(klines **out, const char *path, enum venue v, const char *symbol,
                const char *interval, char *err, size_t errlen);
/* The same reader for a time series in the kline columns (the shared funding-rate files: the
 * rate in `open`, zeros elsewhere; mark-price files): exact decimals and increasing times, but
 * no price or alignment rules. Rows come as FEED_KLINE events to read, not to ingest. */
int klines_open_series(klines **out, const char *path, char *err, size_t errlen);
/* 1 = *ev filled (FEED_KLINE, closed, recv_ns 0), 0 = end of input, -1 = a bad row (the reason
 * in klines_error(), its line in klines_line(); the reader can go on after it). */
int klines_next(klines *k, feed_event *ev);
const char *klines_error(const klines *k);
uint64_t klines_line(const klines *k);       /* line of the row klines_next() returned last */
const char *klines_io_error(const klines *k); /* NULL, or why reading stopped early */
enum tf klines_tf(const klines *k);
uint64_t klines_rows(const klines *k); /* rows delivered */
uint64_t klines_bad(const klines *k);  /* rows refused */
/* rows delivered with a value of more than 8 decimals, rounded half away from zero to 1e-8
 * (recorded float noise: "218102.59507500002"); the reader's callers report the count */
uint64_t klines_rounded(const klines *k);
void klines_close(klines *k);

/* The newest `max` whole 1m bars of a klines file that end at or before before_ms, oldest first
 * in out[] (*n of them): a warm-up's history (the app reads it on the store's writer thread).
 * Bad rows are skipped. K_OK, or K_ERR with the reason in err (cannot open; not 1m klines: *n 0).
 * Thread-safe (its own reader; no shared state). */
int klines_load_before(const char *path, enum venue v, const char *symbol, int64_t before_ms,
                       candle *out, uint32_t max, uint32_t *n, char *err, size_t errlen);

#endif
