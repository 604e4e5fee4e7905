/* `kestrel download`: exchange klines over REST (klfetch.h, the live backfill's pager) into the
 * SQLite candles table and, with --out, a CSV in the format of ../shared/data/klines
 * (`open_time_ms,open,high,low,close,volume`), resumable after an interruption. docs/LIVE.md. */
#ifndef KESTREL_DOWNLOAD_H
#define KESTREL_DOWNLOAD_H
#include "kestrel/common.h"

/* argv[0] is "download". Exit status: 0 done, 1 a failure (network, HTTP, database, file),
 * 2 a bad command line or configuration. */
int download_main(int argc, char **argv);

/* Parses a UTC date "YYYY-MM-DD", "YYYY-MM-DDTHH:MM[:SS]" (or a space for T) or an integer of
 * milliseconds since 1970. K_OK / K_ERR. */
int download_parse_date(const char *s, int64_t *ms);

#endif
