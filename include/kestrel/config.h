/* Configuration: one validated, immutable struct built at start from a libconfig file (search
 * order: --config, $KESTREL_CONFIG, $XDG_CONFIG_HOME/kestrel/kestrel.cfg, ./config/kestrel.cfg,
 * /etc/kestrel/kestrel.cfg, else built-in defaults). Errors name file:line and what was
 * expected. */
#ifndef KESTREL_CONFIG_H
#define KESTREL_CONFIG_H
#include "kestrel/candles.h"
#include "kestrel/market.h"
#include <limits.h>

#define CONFIG_MAX_REPLAY 16
#define CONFIG_PATH_MAX 512
#define CONFIG_TRADE_MAX 64      /* trading settings kept (paper.balances.*, fees.*, risk.*) */
#define CONFIG_TRADE_KEY_MAX 64
#define CONFIG_TRADE_VAL_MAX 48

/* One validated trading setting, as text (the trading modules parse it again when they apply
 * it: exact decimals, one validator). */
typedef struct config_kv {
    char key[CONFIG_TRADE_KEY_MAX];   /* "risk.max_positions", "paper.balances.USDT" */
    char value[CONFIG_TRADE_VAL_MAX]; /* "7", "10000" */
} config_kv;

#define CONFIG_MAX_WATCH 128 /* watched symbols, backups included (issue 9: 100 symbols) */
#define CONFIG_WATCH_MAX 96 /* "venue:SYMBOL[@venue:SYMBOL]" incl. NUL */
#define CONFIG_URL_MAX 256

/* venues.<venue> { network; rest_url; ws_url; ws_public_url; ws_market_url; ca_file; }
 * URLs are bases (scheme, host, port): Kestrel appends the venue's documented paths. "" = the
 * network's default (docs/CONFIG.md). */
typedef struct kconfig_venue {
    char network[16];                 /* "mainnet" (default), "testnet"; OKX "demo" */
    char rest_url[CONFIG_URL_MAX];
    char ws_url[CONFIG_URL_MAX];
    char ws_public_url[CONFIG_URL_MAX]; /* Binance USD-M /public (depth, bookTicker) */
    char ws_market_url[CONFIG_URL_MAX]; /* Binance USD-M /market (trades, klines, ...) */
    char ca_file[CONFIG_PATH_MAX];      /* "" = the system's CA bundle */
    double lifetime_s; /* rotate (make-before-break) after this long open; 0 = the venue's
                          default (Binance 23 h before its 24 h cut; OKX none) */
    double audit_interval_s; /* book audit against a fresh REST snapshot; 0 = 600 s */
    double clock_interval_s; /* server time (clock offset) refresh; 0 = 60 s */
} kconfig_venue;

enum log_level { LOG_ERROR = 0, LOG_WARN, LOG_INFO, LOG_DEBUG };

typedef struct kconfig {
    char source[CONFIG_PATH_MAX]; /* file the values came from, "" = built-in defaults */

    /* source = "replay" | "live"; watch = ["venue:SYMBOL", ...]; venues { ... } */
    bool source_live;
    char watch[CONFIG_MAX_WATCH][CONFIG_WATCH_MAX];
    int watch_count;
    kconfig_venue venues[VENUE_COUNT];

    /* replay { files = [...]; speed = 1.0; } */
    char replay_files[CONFIG_MAX_REPLAY][CONFIG_PATH_MAX];
    int replay_count;
    double replay_speed; /* 0 = as fast as possible, else 0.01 .. 1000 */
    bool replay_loop;    /* replay.loop: restart the files at their end, the clock going on */
    char record_out[CONFIG_PATH_MAX]; /* --record FILE.gz (live): record from the start; not a
                                         config key */

    /* ui { theme; timeframe; fps; ascii; mouse; } */
    char theme[64];         /* name under themes/ (default "default") */
    enum tf ui_timeframe;   /* chart timeframe at start (default 1s) */
    int ui_fps;             /* max redraws per second, 1..60 (default 30) */
    bool ui_ascii;          /* force ASCII borders/glyphs */
    bool ui_mouse;          /* SGR mouse: click focus/select, wheel scroll (default true) */

    /* store { path; batch; flush_ms; } */
    char db_path[CONFIG_PATH_MAX]; /* default: config_default_db_path() */
    int store_batch;    /* rows per transaction, 1..100000 (default 500) */
    int store_flush_ms; /* max delay before a commit, 1..60000 (default 200) */

    /* market { max_symbols; book_levels; book_buffered; tape_size; candles_max; bar_grace_ms; }
     * and limits { memory_mb; } (the budget they are admitted against: market.h) */
    market_limits limits;

    /* log { file; level; } */
    char log_file[CONFIG_PATH_MAX]; /* "" = stderr in headless mode, no log in UI mode */
    enum log_level log_level;

    /* control { socket; idle_timeout; } */
    char socket_path[CONFIG_PATH_MAX]; /* "" = default ($XDG_RUNTIME_DIR/kestrel/kestrel.sock,
                                          else /tmp/kestrel-$UID/kestrel.sock) */
    double ctl_idle_timeout_s;         /* idle control clients are closed, 0.1..86400 (60) */

    /* engine { auto_trade; signal_interval; } paper { latency_ms; } */
    bool engine_auto_trade;           /* auto-trading on at start (false) */
    double engine_signal_interval_s;  /* a signal per symbol every this many s, 1..3600 (30) */
    double engine_horizon_s;          /* a signal is scored this long after it, 10..86400 (900) */
    double engine_state_interval_s;   /* model state checkpoint every this much data time,
                                       * 10..86400 (60) */
    int engine_drift;                 /* enum drift_method: page_hinkley (0) or adwin */
    double engine_train_every;        /* the deep networks train after this many new labelled
                                       * samples, 1..1000000 (256) */
    char engine_warmup[1024];         /* history the models learn from before trading: "store"
                                       * (the stored 1m candles, default), "off", or a klines
                                       * CSV file (open_time_ms,open,high,low,close,volume) */
    double engine_warmup_bars;        /* at most this many 1m bars, 1..20000 (1440) */
    int paper_latency_ms;             /* paper orders reach the book / report after: 0..10000
                                       * (50) */
    /* alerts { bell; command; rate_limit; } */
    bool alerts_bell;                 /* ring the terminal bell on an alert (true) */
    char alerts_command[1024];        /* run with the alert as JSON on stdin ("" = none) */
    double alerts_rate_limit_s;       /* seconds between two runs of the command, 0..86400 (10) */
    /* health { stall_factor; failover_after_s; failback_after_s; alert_interval_s; } (live) */
    double health_stall_factor;     /* a stream silent this many times its cadence stalls (50) */
    double health_failover_after_s; /* primary unhealthy this long -> panes on the backup (5) */
    double health_failback_after_s; /* primary healthy this long -> back to it (15) */
    double health_alert_interval_s; /* at most one stall alert per connection per this (60) */
    bool health_warm_standby;       /* a second, synced connection per book stream (false) */
    uint32_t engine_models;           /* engine.models: RUNNER_M_* bits (weights,logreg,mlp) */

    /* paper { balances { ASSET = "amount"; }; slippage_cap_pct; } fees { <venue> { maker;
     * taker; } } risk { size_mode; size_quote; risk_pct; max_positions; ... }: only the keys
     * the file sets, in file order, validated at load; absent keys keep the trading modules'
     * defaults (docs/CONFIG.md) */
    config_kv trade[CONFIG_TRADE_MAX];
    int trade_count;
} kconfig;

/* Fills cfg with built-in defaults. */
void config_defaults(kconfig *cfg);

/* Finds and loads the configuration (explicit may be NULL). On error writes
 * "file:line: what is wrong (expected ...)" to err and returns K_ERR (exit status 2).
 * Unknown keys are warnings: each "file:line: unknown key 'x' ignored" is passed to warn_fn
 * (which may be NULL). Keys absent from the file keep their defaults; on error *cfg is left
 * unchanged. Relative paths are kept as written (relative to the working directory); a leading
 * "~/" becomes $HOME. An explicit or $KESTREL_CONFIG file that is missing is an error; the
 * implicit locations are skipped when absent. docs/CONFIG.md has every key. */
int config_load(kconfig *cfg, const char *explicit_path, void (*warn_fn)(void *ud, const char *msg),
                void *ud, char *err, size_t errlen);

/* Loads exactly one file (no search). Same error contract. */
int config_load_file(kconfig *cfg, const char *path, void (*warn_fn)(void *ud, const char *msg),
                     void *ud, char *err, size_t errlen);

const char *log_level_name(enum log_level l);

/* The range a trading key (risk.*, fees.*, paper.slippage_cap_pct) takes, as the config file's
 * error says it ("percent, 0..5"); NULL for any other key. For the settings form. */
const char *config_trade_expect(const char *key);

/* Every key the loader reads, by its dotted path ("risk.max_positions"), i < config_key_count();
 * NULL past the end. For the docs check (tests/unit/test_docs.c). */
size_t config_key_count(void);
const char *config_key_at(size_t i);

/* The default database path: $XDG_DATA_HOME/kestrel/kestrel.db (an absolute XDG_DATA_HOME only),
 * else $HOME/.local/share/kestrel/kestrel.db, else ./kestrel.db (no $HOME, or the path does not
 * fit in cap). With cap = CONFIG_PATH_MAX it is exactly what config_defaults() puts in db_path,
 * so every caller (the control client included) finds the same database. cap must be > 0. */
void config_default_db_path(char *out, size_t cap);

/* The installed data directory (themes/, replay/): PREFIX/share/kestrel found next to the running
 * executable (PREFIX/bin/kestrel), so an install under any PREFIX, a DESTDIR staging tree or a
 * moved tree all work; else the compiled-in KESTREL_DATADIR. Always writes a NUL-terminated path
 * (possibly truncated) to out. */
void config_datadir(char *out, size_t cap);

#endif
