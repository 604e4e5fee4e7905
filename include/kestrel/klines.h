/* Kline CSV as a frame source: `open_time_ms,open,high,low,close,volume` per line (the format of
 * shared/data/klines; plain or gzip; an optional header line), each row a closed FEED_KLINE event
 * for the ingest pipeline (ingest_event), so a backtest feeds the same market model, bar notes and
 * subscribers as a replay or a live feed.
 *
 * Prices and volumes are parsed exactly (decimal_parse: no exponents, no doubles). The interval
 * is given, or inferred from the smallest spacing of the first rows; it must be one of the
 * candles timeframes (1s 1m 5m 15m 1h 4h 1d). Rows must be strictly increasing and aligned to the
 * interval; a row that is not is refused with its line number (klines_error). Bounded: lines
 * longer than KLINES_LINE_MAX are refused. */
#ifndef KESTREL_KLINES_H
#define KESTREL_KLINES_H
#include "kestrel/candles.h"
#include "kestrel/feed.h"

#define KLINES_LINE_MAX 1024

typedef struct klines klines;

/* interval "" = infer. K_OK, or K_ERR with the reason in err ("cannot open F: ..."). */
int klines_open(klines **out, const char *path, enum venue v, const char *symbol,
                const char *interval, char *err, size_t errlen);
/* 1 = *ev filled (FEED_KLINE, closed, recv_ns 0), 0 = end of file, -1 = a bad row (the reason
 * and line number in klines_error(); the reader can go on after it). */
int klines_next(klines *k, feed_event *ev);
const char *klines_error(const klines *k);
enum tf klines_tf(const klines *k);
uint64_t klines_rows(const klines *k); /* rows delivered */
uint64_t klines_bad(const klines *k);  /* rows refused */
void klines_close(klines *k);

#endif
