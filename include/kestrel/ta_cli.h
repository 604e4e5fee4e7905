/* `kestrel ta`: indicators over an OHLCV CSV file (plain or gzip), one output row per bar.
 *   kestrel ta --data FILE.csv[.gz] [--indicators LIST] [--format csv|json] [--interval TF]
 *              [--iso-time]
 *   kestrel ta --list
 * Exit status: 0 every row was used, 1 some rows were bad (reported on stderr with their line
 * number and skipped), 2 usage or I/O error, or an input without a single row (empty file or a
 * header alone). */
#ifndef KESTREL_TA_CLI_H
#define KESTREL_TA_CLI_H
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* argv[0] is "ta". */
int ta_cli_main(int argc, char **argv);

/* A finite double as `kestrel ta` prints it: %.15g, else %.16g, else %.17g, the first that reads
 * back as exactly x (-0 prints 0). _ref is that definition through snprintf / strtod; the other
 * gives the same bytes without them (cap >= 32). Both return the length written. */
int ta_cli_format_double(char *buf, size_t cap, double x);
int ta_cli_format_double_ref(char *buf, size_t cap, double x);

enum ta_cli_format { TA_CLI_CSV = 0, TA_CLI_JSON };

typedef struct ta_cli_stats {
    uint64_t lines; /* physical lines read */
    uint64_t bars;  /* bars used */
    uint64_t bad;   /* rows reported and skipped */
    uint64_t rounded; /* rows used with a value of more than 8 decimals, rounded to 1e-8 */
} ta_cli_stats;

/* The default column set (the TA-Lib reference columns). */
#define TA_CLI_DEFAULT                                                                     \
    "sma_20,ema_20,rsi_14,macd_12_26_9,macd_signal_12_26_9,macd_hist_12_26_9,"            \
    "bb_upper_20_2,bb_middle_20_2,bb_lower_20_2,atr_14,stoch_k_14_3_3,stoch_d_14_3_3,"    \
    "stochf_k_14_3,stochf_d_14_3,adx_14,cci_20,obv,mfi_14,willr_14"

/* The whole pipeline on one file ("-" = stdin). indicators NULL = TA_CLI_DEFAULT. Each item
 * is a column name (that output: "macd_12_26_9" is the MACD line) or else an indicator spec
 * (all its outputs: "bb_20_2", "stoch_14_3_3"). Rows go to out (the CSV header with the first
 * bar, so an input without bars prints nothing), bad-row notes to errf. K_OK
 * when the file was read (bad rows only counted in st), K_ERR with a message otherwise
 * (unknown indicator, unreadable or truncated file, write error). */
int ta_cli_run(const char *path, const char *indicators, enum ta_cli_format fmt, FILE *out,
               FILE *errf, ta_cli_stats *st, char *err, size_t errlen);

typedef struct ta_cli_opts {
    const char *interval; /* NULL or "" = inferred from the first rows (1s 1m 5m 15m 1h 4h 1d) */
    bool iso_time;        /* a "time" column (2022-12-13T00:00:00Z) after open_time_ms */
} ta_cli_opts;
/* ta_cli_run with options (opt NULL = the defaults). */
int ta_cli_run_opts(const char *path, const char *indicators, enum ta_cli_format fmt,
                    const ta_cli_opts *opt, FILE *out, FILE *errf, ta_cli_stats *st, char *err,
                    size_t errlen);

#endif
