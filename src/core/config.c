/* Configuration: finds one libconfig file, validates every value against a table of known keys
 * and turns it into the immutable struct kconfig the rest of the app reads.
 *
 * Shape: one table (config_keys[]) describes every key once: its dotted path, type, range and
 * where it lands in struct kconfig. The loader walks the parsed file in file order; a known key
 * is checked and stored, an unknown key becomes a warning (with a did-you-mean), the first bad
 * value stops the load with "file:line: what is wrong (expected ...)". Values are loaded into a
 * scratch copy that starts from the built-in defaults, so a failed load leaves the caller's struct
 * untouched.
 *
 * Path rule: relative paths inside a config file are kept exactly as written, i.e. they are
 * relative to the current working directory, the same as paths on the command line; only a
 * leading "~/" is expanded to $HOME. (Resolving against the file's own directory would make
 * `kestrel --config config/kestrel.cfg` and the implicit ./config/kestrel.cfg disagree.)
 *
 * libconfig 1.5 quirk handled here: integers that overflow 32 bits are parsed with atoi() and
 * silently wrap (4294967326 becomes 30), so integer values are re-read from the file text.
 *
 * Bounded before libconfig sees anything (its parsing is quadratic in the number of settings):
 * the file and every file it @includes (recursively) are opened O_NONBLOCK, must be regular
 * files, together at most CONFIG_FILE_MAX bytes and CONFIG_MAX_SETTINGS settings; only the first
 * CONFIG_MAX_UNKNOWN (8) unknown keys get a warning and a did-you-mean, the rest one summary line.
 * An @include target is checked, then opened again by libconfig (a file swapped in between is
 * the user's own doing: the config is theirs). */
#include "kestrel/config.h"
#include "kestrel/runner.h"

#include "kestrel/drift.h"
#include "kestrel/paper.h"
#include "kestrel/risk.h"
#include "kestrel/xmalloc.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libconfig.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#ifndef KESTREL_DATADIR /* the Makefile defines it from PREFIX */
#define KESTREL_DATADIR "/usr/local/share/kestrel"
#endif

#define CONFIG_FILE_MAX (256 * 1024) /* bytes of a config file and its @includes, together */
#define CONFIG_MAX_SETTINGS 1024     /* settings in them: libconfig 1.5 adds each in O(n) */
#define CONFIG_INCLUDE_DEPTH 10      /* libconfig's own limit */
#define CONFIG_MAX_UNKNOWN 8         /* unknown keys warned about (with a did-you-mean) */
#define CONFIG_SHOW_MAX 60           /* longest value quoted back in a message */

/* ---- the key table ----------------------------------------------------------------------- */

enum ktype {
    KT_INT,      /* int or uint32_t field, range min..max */
    KT_NUMBER,   /* double field; int accepted; range min..max, optionally 0 as well */
    KT_BOOL,     /* bool field */
    KT_NAME,     /* char[] field: a bare name (letters, digits, '-', '_') */
    KT_ENUM,     /* a word from a fixed set, stored by parse() */
    KT_PATH,     /* char[] field: a path, "~/" expanded */
    KT_PATHLIST, /* replay.files */
    KT_TRADE,    /* a trading key (paper.*, fees.*, risk.*): checked by the trading module's own
                  * validator, kept as text in cfg->trade (applied by the app's trading) */
    KT_URL,      /* char[] field: a URL ("" = the default); its use is checked by live_open */
    KT_WATCH,    /* watch: a list of "venue:SYMBOL" */
};

typedef struct keydef {
    const char *path; /* dotted, e.g. "ui.fps" */
    enum ktype type;
    size_t off;   /* offsetof(kconfig, field) */
    size_t size;  /* KT_NAME/KT_PATH: buffer size; KT_INT: sizeof the field (4) */
    double min, max;
    bool zero_ok;       /* KT_NUMBER: 0 is valid besides min..max */
    bool empty_default; /* KT_PATH: "" means "use the built-in default" */
    bool socket;        /* KT_PATH: must also fit a Unix socket address */
    int (*parse)(kconfig *cfg, const char *v); /* KT_ENUM: K_OK and stored, or K_ERR */
    const char *expect;                        /* the "(expected ...)" text */
} keydef;

static const char *const config_level_names[] = {"error", "warn", "info", "debug"};

static int config_parse_timeframe(kconfig *cfg, const char *v)
{
    return tf_parse(v, &cfg->ui_timeframe);
}

static int config_parse_drift(kconfig *cfg, const char *v)
{
    enum drift_method m;
    if (drift_method_parse(v, &m) != K_OK)
        return K_ERR;
    cfg->engine_drift = (int)m;
    return K_OK;
}

/* engine.models: "weights,logreg,mlp,lstm,transformer,cnn,xgb" (any subset) or "none" */
static int config_parse_models(kconfig *cfg, const char *v)
{
    return runner_models_parse(v, &cfg->engine_models);
}

static int config_parse_level(kconfig *cfg, const char *v)
{
    for (size_t i = 0; i < K_ARRAY_LEN(config_level_names); i++) {
        if (strcmp(config_level_names[i], v) == 0) {
            cfg->log_level = (enum log_level)i;
            return K_OK;
        }
    }
    return K_ERR;
}

static int config_parse_source(kconfig *cfg, const char *v)
{
    if (strcmp(v, "replay") != 0 && strcmp(v, "live") != 0)
        return K_ERR;
    cfg->source_live = strcmp(v, "live") == 0;
    return K_OK;
}

static int config_parse_network(kconfig *cfg, enum venue ven, const char *v)
{
    bool ok = strcmp(v, "mainnet") == 0 ||
              strcmp(v, ven == VENUE_OKX ? "demo" : "testnet") == 0;
    if (!ok)
        return K_ERR;
    snprintf(cfg->venues[ven].network, sizeof cfg->venues[ven].network, "%s", v);
    return K_OK;
}
static int config_parse_net_spot(kconfig *cfg, const char *v)
{
    return config_parse_network(cfg, VENUE_BINANCE_SPOT, v);
}
static int config_parse_net_usdm(kconfig *cfg, const char *v)
{
    return config_parse_network(cfg, VENUE_BINANCE_USDM, v);
}
static int config_parse_net_okx(kconfig *cfg, const char *v)
{
    return config_parse_network(cfg, VENUE_OKX, v);
}

#define OFF(f) offsetof(kconfig, f)
#define LIM(f) (offsetof(kconfig, limits) + offsetof(market_limits, f))
#define SZ(f) sizeof(((kconfig *)0)->f)

#define VKEY(vn, vi, f, t, ex)                                                                     \
    {.path = "venues." vn "." #f, .type = t, .off = OFF(venues[vi].f),                             \
     .size = SZ(venues[vi].f), .expect = ex}
#define VENUE_KEYS(vn, vi, netparse, netexp)                                                       \
    {.path = "venues." vn ".network", .type = KT_ENUM, .parse = netparse, .expect = netexp},       \
        VKEY(vn, vi, rest_url, KT_URL, "a base URL: https://host[:port]"),                         \
        VKEY(vn, vi, ws_url, KT_URL, "a base URL: wss://host[:port]"),                             \
        VKEY(vn, vi, ca_file, KT_PATH, "a CA bundle file, or \"\""),                             \
    {.path = "venues." vn ".lifetime", .type = KT_NUMBER, .off = OFF(venues[vi].lifetime_s),      \
     .min = 2, .max = 86400, .zero_ok = true, .expect = "0 (the venue's default) or 2..86400 s"}, \
    {.path = "venues." vn ".audit_interval", .type = KT_NUMBER,                                   \
     .off = OFF(venues[vi].audit_interval_s), .min = 1, .max = 86400, .zero_ok = true,            \
     .expect = "0 (600 s) or 1..86400 s"},                                                         \
    {.path = "venues." vn ".clock_interval", .type = KT_NUMBER,                                   \
     .off = OFF(venues[vi].clock_interval_s), .min = 1, .max = 86400, .zero_ok = true,            \
     .expect = "0 (60 s) or 1..86400 s"}

static const keydef config_keys[] = {
    {.path = "source", .type = KT_ENUM, .parse = config_parse_source,
     .expect = "\"replay\" or \"live\""},
    {.path = "watch", .type = KT_WATCH, .expect = "a list of \"venue:SYMBOL\""},
    VENUE_KEYS("binance-spot", VENUE_BINANCE_SPOT, config_parse_net_spot, "mainnet or testnet"),
    VENUE_KEYS("binance-usdm", VENUE_BINANCE_USDM, config_parse_net_usdm, "mainnet or testnet"),
    VKEY("binance-usdm", VENUE_BINANCE_USDM, ws_public_url, KT_URL,
         "a base URL: wss://host[:port]"),
    VKEY("binance-usdm", VENUE_BINANCE_USDM, ws_market_url, KT_URL,
         "a base URL: wss://host[:port]"),
    VENUE_KEYS("okx", VENUE_OKX, config_parse_net_okx, "mainnet or demo"),
    {.path = "replay.files", .type = KT_PATHLIST, .expect = "a list of file names"},
    {.path = "replay.speed", .type = KT_NUMBER, .off = OFF(replay_speed), .min = 0.01,
     .max = 1000, .zero_ok = true, .expect = "0 or 0.01..1000"},
    {.path = "replay.loop", .type = KT_BOOL, .off = OFF(replay_loop), .expect = "true or false"},

    {.path = "ui.theme", .type = KT_NAME, .off = OFF(theme), .size = SZ(theme),
     .expect = "a theme name: letters, digits, '-' and '_'"},
    {.path = "ui.timeframe", .type = KT_ENUM, .parse = config_parse_timeframe,
     .expect = "one of 1s 1m 5m 15m 1h 4h 1d"},
    {.path = "ui.fps", .type = KT_INT, .off = OFF(ui_fps), .size = SZ(ui_fps), .min = 1,
     .max = 60, .expect = "1..60"},
    {.path = "ui.ascii", .type = KT_BOOL, .off = OFF(ui_ascii), .expect = "true or false"},
    {.path = "ui.mouse", .type = KT_BOOL, .off = OFF(ui_mouse), .expect = "true or false"},

    {.path = "store.path", .type = KT_PATH, .off = OFF(db_path), .size = SZ(db_path),
     .empty_default = true, .expect = "a file path"},
    {.path = "store.batch", .type = KT_INT, .off = OFF(store_batch), .size = SZ(store_batch),
     .min = 1, .max = 100000, .expect = "1..100000"},
    {.path = "store.flush_ms", .type = KT_INT, .off = OFF(store_flush_ms),
     .size = SZ(store_flush_ms), .min = 1, .max = 60000, .expect = "1..60000"},

    {.path = "market.max_symbols", .type = KT_INT, .off = LIM(max_symbols),
     .size = SZ(limits.max_symbols), .min = 1, .max = 4096, .expect = "1..4096"},
    {.path = "market.book_levels", .type = KT_INT, .off = LIM(book_levels),
     .size = SZ(limits.book_levels), .min = 20, .max = 100000, .expect = "20..100000"},
    {.path = "market.book_buffered", .type = KT_INT, .off = LIM(book_buffered),
     .size = SZ(limits.book_buffered), .min = 64, .max = 1000000, .expect = "64..1000000"},
    {.path = "market.tape_size", .type = KT_INT, .off = LIM(tape_size),
     .size = SZ(limits.tape_size), .min = 16, .max = 100000, .expect = "16..100000"},
    {.path = "market.candles_max", .type = KT_INT, .off = LIM(candles_max),
     .size = SZ(limits.candles_max), .min = 100, .max = 100000, .expect = "100..100000"},
    {.path = "market.bar_grace_ms", .type = KT_INT, .off = LIM(bar_grace_ms),
     .size = SZ(limits.bar_grace_ms), .min = 0, .max = 10000, .expect = "0..10000"},
    {.path = "limits.memory_mb", .type = KT_INT, .off = LIM(memory_mb),
     .size = SZ(limits.memory_mb), .min = 16, .max = 1048576, .expect = "16..1048576 (MB)"},

    {.path = "log.file", .type = KT_PATH, .off = OFF(log_file), .size = SZ(log_file),
     .expect = "a file path, or \"\""},
    {.path = "log.level", .type = KT_ENUM, .parse = config_parse_level,
     .expect = "one of error warn info debug"},

    {.path = "control.socket", .type = KT_PATH, .off = OFF(socket_path),
     .size = SZ(socket_path), .socket = true, .expect = "a socket path, or \"\""},
    {.path = "engine.auto_trade", .type = KT_BOOL, .off = OFF(engine_auto_trade),
     .expect = "true or false"},
    {.path = "engine.signal_interval", .type = KT_NUMBER, .off = OFF(engine_signal_interval_s),
     .min = 1, .max = 3600, .expect = "1..3600 (seconds)"},
    {.path = "engine.horizon", .type = KT_NUMBER, .off = OFF(engine_horizon_s),
     .min = 10, .max = 86400, .expect = "10..86400 (seconds)"},
    {.path = "engine.drift", .type = KT_ENUM, .parse = config_parse_drift,
     .expect = "page_hinkley or adwin"},
    {.path = "engine.state_interval", .type = KT_NUMBER, .off = OFF(engine_state_interval_s),
     .min = 10, .max = 86400, .expect = "10..86400 (seconds)"},
    {.path = "engine.train_every", .type = KT_NUMBER, .off = OFF(engine_train_every),
     .min = 1, .max = 1000000, .expect = "1..1000000 (labelled samples)"},
    {.path = "engine.warmup", .type = KT_PATH, .off = OFF(engine_warmup),
     .size = SZ(engine_warmup), .expect = "\"store\", \"off\" or a klines CSV file"},
    {.path = "engine.warmup_bars", .type = KT_NUMBER, .off = OFF(engine_warmup_bars),
     .min = 1, .max = 20000, .expect = "1..20000 (1m bars)"},
    {.path = "alerts.bell", .type = KT_BOOL, .off = OFF(alerts_bell), .expect = "true or false"},
    {.path = "alerts.command", .type = KT_PATH, .off = OFF(alerts_command),
     .size = SZ(alerts_command), .expect = "a shell command, or \"\""},
    {.path = "alerts.rate_limit", .type = KT_NUMBER, .off = OFF(alerts_rate_limit_s), .min = 0,
     .max = 86400, .expect = "0..86400 (seconds)"},
    /* live feed health and failover (docs/LIVE.md "Health and failover") */
    {.path = "health.stall_factor", .type = KT_NUMBER, .off = OFF(health_stall_factor), .min = 2,
     .max = 1000, .expect = "2..1000 (times the stream's expected cadence)"},
    {.path = "health.failover_after_s", .type = KT_NUMBER, .off = OFF(health_failover_after_s),
     .min = 0.5, .max = 3600, .expect = "0.5..3600 (seconds)"},
    {.path = "health.failback_after_s", .type = KT_NUMBER, .off = OFF(health_failback_after_s),
     .min = 0.5, .max = 3600, .expect = "0.5..3600 (seconds)"},
    {.path = "health.alert_interval_s", .type = KT_NUMBER, .off = OFF(health_alert_interval_s),
     .min = 0, .max = 86400, .expect = "0..86400 (seconds)"},
    {.path = "health.warm_standby", .type = KT_BOOL, .off = OFF(health_warm_standby),
     .expect = "true or false"},
    {.path = "engine.models", .type = KT_ENUM, .parse = config_parse_models,
     .expect = "model names from weights logreg mlp lstm transformer cnn xgb, comma-separated, "
               "or \"none\""},
    {.path = "paper.latency_ms", .type = KT_INT, .off = OFF(paper_latency_ms),
     .size = SZ(paper_latency_ms), .min = 0, .max = 10000, .expect = "0..10000"},
    {.path = "control.idle_timeout", .type = KT_NUMBER, .off = OFF(ctl_idle_timeout_s),
     .min = 0.1, .max = 86400, .expect = "seconds, 0.1..86400"},

    /* trading (issue #10): the names are a contract users' scripts rely on; ranges are the
     * trading modules' own (paper_config_set, risk_config_set) */
    {.path = "paper.slippage_cap_pct", .type = KT_TRADE, .expect = "percent, 0.01..100"},
    {.path = "fees.binance-spot.maker", .type = KT_TRADE, .expect = "percent, 0..5"},
    {.path = "fees.binance-spot.taker", .type = KT_TRADE, .expect = "percent, 0..5"},
    {.path = "fees.binance-usdm.maker", .type = KT_TRADE, .expect = "percent, 0..5"},
    {.path = "fees.binance-usdm.taker", .type = KT_TRADE, .expect = "percent, 0..5"},
    {.path = "fees.okx.maker", .type = KT_TRADE, .expect = "percent, 0..5"},
    {.path = "fees.okx.taker", .type = KT_TRADE, .expect = "percent, 0..5"},
    {.path = "risk.size_mode", .type = KT_TRADE,
     .expect = "one of fixed_quote risk_pct kelly confidence"},
    {.path = "risk.size_quote", .type = KT_TRADE, .expect = "quote amount, 1..10000000"},
    {.path = "risk.risk_pct", .type = KT_TRADE, .expect = "percent, 0.01..10"},
    {.path = "risk.max_positions", .type = KT_TRADE, .expect = "an integer 1..100"},
    {.path = "risk.max_asset_pct", .type = KT_TRADE, .expect = "percent, 1..100"},
    {.path = "risk.max_exposure_pct", .type = KT_TRADE, .expect = "percent, 1..1000"},
    {.path = "risk.max_open_risk_pct", .type = KT_TRADE, .expect = "percent, 0.1..100"},
    {.path = "risk.daily_loss_pct", .type = KT_TRADE, .expect = "percent, 0.1..100"},
    {.path = "risk.max_leverage", .type = KT_TRADE, .expect = "an integer 1..10"},
    {.path = "risk.kelly_fraction_pct", .type = KT_TRADE, .expect = "percent, 1..100"},
    {.path = "risk.kelly_min_trades", .type = KT_TRADE, .expect = "an integer 5..100000"},
    {.path = "risk.drawdown_reduce_pct", .type = KT_TRADE, .expect = "percent, 0.1..100"},
    {.path = "risk.drawdown_halt_pct", .type = KT_TRADE, .expect = "percent, 0.1..100"},
    {.path = "risk.corr_limit", .type = KT_TRADE, .expect = "0..1"},
    {.path = "risk.sl_mode", .type = KT_TRADE, .expect = "one of atr pct"},
    {.path = "risk.atr_mult", .type = KT_TRADE, .expect = "0.1..20"},
    {.path = "risk.reward_risk", .type = KT_TRADE, .expect = "0.1..20"},
    {.path = "risk.tp_pct", .type = KT_TRADE, .expect = "percent, 0.01..100"},
    {.path = "risk.sl_pct", .type = KT_TRADE, .expect = "percent, 0.01..100"},
};

static const char *const config_groups[] = {"replay",  "ui",     "store", "market", "log",
                                             "control", "engine", "paper", "fees",   "risk",
                                             "limits", "venues", "alerts", "health"};

/* Words people reach for that edit distance cannot map: leaf name -> key. */
static const struct {
    const char *word, *key;
} config_synonyms[] = {
    {"colour", "ui.theme"},        {"color", "ui.theme"},        {"colours", "ui.theme"},
    {"colors", "ui.theme"},        {"colorscheme", "ui.theme"},  {"scheme", "ui.theme"},
    {"framerate", "ui.fps"},       {"frame_rate", "ui.fps"},     {"refresh", "ui.fps"},
    {"tf", "ui.timeframe"},        {"interval", "ui.timeframe"}, {"database", "store.path"},
    {"db", "store.path"},          {"db_path", "store.path"},    {"logfile", "log.file"},
    {"verbosity", "log.level"},    {"loglevel", "log.level"},    {"log_level", "log.level"},
    {"sock", "control.socket"},    {"file", "replay.files"},     {"depth", "market.book_levels"},
};

/* ---- small helpers ----------------------------------------------------------------------- */

typedef struct loadctx {
    kconfig *cfg;      /* scratch copy being filled */
    const char *path;  /* the file as named */
    const char *text;  /* its contents (NUL-terminated) */
    void (*warn_fn)(void *ud, const char *msg);
    void *ud;
    char *err;
    size_t errlen;
    int *unknown; /* unknown keys met so far */
} loadctx;

static const char *config_source_of(const loadctx *c, const config_setting_t *s)
{
    const char *f = config_setting_source_file(s);
    return f ? f : c->path;
}

/* "file:line: " + message, into c->err; always returns K_ERR. */
static int config_fail(const loadctx *c, const config_setting_t *s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int config_fail(const loadctx *c, const config_setting_t *s, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(c->err, c->errlen, "%s:%u: %s", config_source_of(c, s), config_setting_source_line(s),
             msg);
    return K_ERR;
}

/* A string value quoted back to the user: control characters shown as '?', long ones cut. */
static void config_show(char *out, size_t outlen, const char *s)
{
    size_t n = 0, len = strlen(s);
    for (size_t i = 0; i < len && n + 4 < outlen; i++) {
        if (i == CONFIG_SHOW_MAX) {
            memcpy(out + n, "...", 3);
            n += 3;
            break;
        }
        unsigned char ch = (unsigned char)s[i];
        out[n++] = (ch < 0x20 || ch == 0x7f) ? '?' : (char)ch;
    }
    out[n] = '\0';
}

static bool config_copy_str(char *dst, size_t dstsize, const char *src)
{
    size_t n = strlen(src);
    if (n >= dstsize)
        return false;
    memcpy(dst, src, n + 1);
    return true;
}

/* XDG base directories must be absolute; a relative value is ignored (XDG spec). */
static const char *config_xdg_dir(const char *var)
{
    const char *v = getenv(var);
    return v && v[0] == '/' ? v : NULL;
}

static const char *config_home_dir(void)
{
    const char *h = getenv("HOME");
    return h && *h ? h : NULL;
}

static const keydef *config_key_find(const char *path)
{
    for (size_t i = 0; i < K_ARRAY_LEN(config_keys); i++)
        if (strcmp(config_keys[i].path, path) == 0)
            return &config_keys[i];
    return NULL;
}

const char *config_trade_expect(const char *key)
{
    const keydef *k = key ? config_key_find(key) : NULL;
    return k && k->type == KT_TRADE ? k->expect : NULL;
}

size_t config_key_count(void)
{
    return K_ARRAY_LEN(config_keys);
}

const char *config_key_at(size_t i)
{
    return i < K_ARRAY_LEN(config_keys) ? config_keys[i].path : NULL;
}

static bool config_is_group(const char *name)
{
    for (size_t i = 0; i < K_ARRAY_LEN(config_groups); i++)
        if (strcmp(config_groups[i], name) == 0)
            return true;
    return false;
}

/* ---- did you mean ------------------------------------------------------------------------ */

#define DYM_MAX 48

/* Case-insensitive optimal string alignment distance (a transposition costs 1), or any value
 * above max once it is certain to exceed max: the length difference is a lower bound, and a row
 * whose every cell is above max ends the computation. Three rolling rows (a cell reads rows
 * i - 1 and i - 2 only, inside the band) and the strings lowered once: ~600 bytes of stack
 * instead of a 10 KB matrix, which mattered under the sanitizers (fuzz_config). Not
 * coverage-instrumented when built for fuzzing: a fuzz input's unknown keys run it hundreds of
 * times, and its comparisons were a third of fuzz_config's time while steering the fuzzer to
 * nothing (the sanitizers still check it). */
#if defined(__clang__)
#define CONFIG_NO_COVERAGE __attribute__((no_sanitize("coverage")))
#else
#define CONFIG_NO_COVERAGE
#endif
CONFIG_NO_COVERAGE static int config_edit_distance(const char *a, const char *b, int max)
{
    size_t la = K_MIN(strlen(a), (size_t)DYM_MAX), lb = K_MIN(strlen(b), (size_t)DYM_MAX);
    if ((la > lb ? la - lb : lb - la) > (size_t)max)
        return max + 1;
    unsigned char al[DYM_MAX], bl[DYM_MAX];
    for (size_t i = 0; i < la; i++)
        al[i] = (unsigned char)tolower((unsigned char)a[i]);
    for (size_t j = 0; j < lb; j++)
        bl[j] = (unsigned char)tolower((unsigned char)b[j]);
    /* only the band |i - j| <= max can hold a value <= max; cells just outside it read as
     * max + 1. Row i lives in d[i % 3]. */
    int d[3][DYM_MAX + 2];
    const int big = max + 1;
    size_t w = (size_t)max;
    for (size_t j = 0; j <= lb && j <= w + 1; j++)
        d[0][j] = j <= w ? (int)j : big;
    int prev_min = 0; /* row 0 */
    for (size_t i = 1; i <= la; i++) {
        int *cur = d[i % 3], *up = d[(i - 1) % 3], *up2 = d[(i + 1) % 3]; /* rows i, i-1, i-2 */
        size_t lo = i > w ? i - w : 1, hi = K_MIN(lb, i + w);
        cur[0] = i <= w ? (int)i : big;
        if (lo > 1)
            cur[lo - 1] = big;
        if (hi + 1 <= lb)
            cur[hi + 1] = big;
        int row_min = big;
        for (size_t j = lo; j <= hi; j++) {
            int ca = al[i - 1], cb = bl[j - 1];
            int cost = ca != cb;
            int v = K_MIN(up[j] + 1, cur[j - 1] + 1);
            v = K_MIN(v, up[j - 1] + cost);
            if (i > 1 && j > 1 && ca == bl[j - 2] && al[i - 2] == cb)
                v = K_MIN(v, up2[j - 2] + 1);
            cur[j] = K_MIN(v, big);
            row_min = K_MIN(row_min, cur[j]);
        }
        row_min = K_MIN(row_min, cur[0]);
        if (row_min > max && prev_min > max) /* two rows past max: so are all that follow */
            return big;
        prev_min = row_min;
    }
    return d[la % 3][lb];
}

static const char *config_leaf(const char *path)
{
    const char *dot = strrchr(path, '.');
    return dot ? dot + 1 : path;
}

/* Whether key (dotted) lives in the group that path (dotted, or top-level) names. A top-level
 * path belongs to every group: "fps" may well mean ui.fps. */
static bool config_same_group(const char *path, const char *key)
{
    const char *dot = strchr(path, '.');
    if (!dot)
        return true;
    size_t g = (size_t)(dot - path);
    return strncmp(path, key, g) == 0 && key[g] == '.';
}

/* Whether two dotted paths have the same parent ("venues.okx.x" and "venues.okx.y"). */
static bool config_same_parent(const char *a, const char *b)
{
    const char *da = strrchr(a, '.'), *db = strrchr(b, '.');
    if (!da || !db)
        return !da && !db;
    return da - a == db - b && strncmp(a, b, (size_t)(da - a)) == 0;
}

/* The known key (or group) the unknown dotted path most likely meant, or NULL. Candidates in
 * another group than the one the path was written in cost 2 extra edits, so "log.files"
 * suggests log.file rather than replay.files. */
static const char *config_suggest(const char *path)
{
    const char *lf = config_leaf(path);
    for (size_t i = 0; i < K_ARRAY_LEN(config_synonyms); i++)
        if (strcasecmp(config_synonyms[i].word, lf) == 0 &&
            config_same_group(path, config_synonyms[i].key))
            return config_synonyms[i].key;

    size_t lflen = strlen(lf);
    int limit = lflen <= 3 ? 1 : lflen <= 6 ? 2 : 3;
    const char *best = NULL;
    int best_d = limit + 1;
    for (size_t i = 0; i < K_ARRAY_LEN(config_keys); i++) {
        int by_leaf = config_edit_distance(lf, config_leaf(config_keys[i].path), best_d);
        if (!config_same_group(path, config_keys[i].path))
            by_leaf += 2;
        else if (!config_same_parent(path, config_keys[i].path))
            by_leaf += 1; /* venues.okx.ws_ulr: venues.okx.ws_url, not another venue's */
        int d = K_MIN(config_edit_distance(path, config_keys[i].path, best_d), by_leaf);
        if (d < best_d) {
            best_d = d;
            best = config_keys[i].path;
        }
    }
    if (!strchr(path, '.')) {
        for (size_t i = 0; i < K_ARRAY_LEN(config_groups); i++) {
            int d = config_edit_distance(path, config_groups[i], best_d);
            if (d < best_d) {
                best_d = d;
                best = config_groups[i];
            }
        }
    }
    return best;
}

static void config_warn_unknown(const loadctx *c, const config_setting_t *s, const char *path)
{
    if (!c->warn_fn || ++*c->unknown > CONFIG_MAX_UNKNOWN)
        return; /* the rest are summed up once the walk is over */
    char shown[CONFIG_SHOW_MAX + 8], msg[CONFIG_PATH_MAX + 256];
    config_show(shown, sizeof shown, path);
    const char *dym = config_suggest(path);
    if (dym)
        snprintf(msg, sizeof msg, "%s:%u: unknown key '%s' ignored (did you mean '%s'?)",
                 config_source_of(c, s), config_setting_source_line(s), shown, dym);
    else
        snprintf(msg, sizeof msg, "%s:%u: unknown key '%s' ignored", config_source_of(c, s),
                 config_setting_source_line(s), shown);
    c->warn_fn(c->ud, msg);
}

/* ---- integers as written ----------------------------------------------------------------- */

static char *config_read_text(const char *path, size_t *len_out, char *err, size_t errlen);

static bool config_ident_char(char ch)
{
    return isalnum((unsigned char)ch) || ch == '_' || ch == '-' || ch == '*';
}

/* What libconfig 1.5 itself makes of an integer token: atoi() for decimal (strtol saturating,
 * then truncated to int), strtoul(16) for hex, both wrapped to int. */
static int libconfig_int_of(const char *tok)
{
    if (tok[0] == '0' && (tok[1] == 'x' || tok[1] == 'X'))
        return (int)strtoul(tok, NULL, 16);
    return (int)strtol(tok, NULL, 10);
}

/* The true value of an integer token: false when it does not fit int64 at all. */
static bool config_literal_value(const char *tok, long long *out)
{
    char *endp;
    errno = 0;
    if (tok[0] == '0' && (tok[1] == 'x' || tok[1] == 'X')) {
        unsigned long long u = strtoull(tok + 2, &endp, 16);
        if (errno || *endp || u > (unsigned long long)LLONG_MAX)
            return false;
        *out = (long long)u;
        return true;
    }
    long long v = strtoll(tok, &endp, 10);
    if (errno || *endp)
        return false;
    *out = v;
    return true;
}

/* Finds, on `line` of `text`, the literal written for the integer setting `name` whose parsed
 * (possibly wrapped) value is `libval`, copies it to tok and returns true. A match that would not
 * have produced libval (the name inside a string or comment) is skipped. Best effort: unusual
 * layouts (a comment between name and value) are not found and the caller trusts libval. */
static bool config_find_int_literal(const char *text, unsigned line, const char *name, int libval,
                                    char *tok, size_t toklen)
{
    const char *p = text;
    for (unsigned l = 1; l < line && p; l++) {
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    if (!p || !*p)
        return false;
    size_t nlen = strlen(name);
    const char *end = strchr(p, '\n');
    end = end ? end : p + strlen(p);
    for (const char *q = p; q + nlen <= end; q++) {
        if (strncmp(q, name, nlen) != 0 || (q > text && config_ident_char(q[-1])) ||
            config_ident_char(q[nlen]))
            continue;
        const char *v = q + nlen;
        v += strspn(v, " \t\r\n");
        if (*v != '=' && *v != ':')
            continue;
        v++;
        v += strspn(v, " \t\r\n");
        size_t n = strspn(v, "+-0123456789abcdefABCDEFxX");
        if (n == 0 || n >= toklen)
            continue;
        memcpy(tok, v, n);
        tok[n] = '\0';
        if (libconfig_int_of(tok) == libval)
            return true;
    }
    return false;
}

/* ---- value checks ------------------------------------------------------------------------ */

/* "~/x" -> "$HOME/x"; other values copied. K_ERR (with message) when it does not fit. */
static int config_expand_path(const loadctx *c, const config_setting_t *s, const keydef *k,
                              const char *val, char *dst, size_t dstsize)
{
    char buf[CONFIG_PATH_MAX * 2];
    if (strncmp(val, "~/", 2) == 0) {
        const char *home = config_home_dir();
        if (!home)
            return config_fail(c, s, "%s: cannot expand '~/' because $HOME is not set", k->path);
        if ((size_t)snprintf(buf, sizeof buf, "%s/%s", home, val + 2) >= sizeof buf)
            return config_fail(c, s,
                               "%s is too long after expanding '~/' (at most %zu characters)",
                               k->path, dstsize - 1);
        val = buf;
    }
    size_t n = strlen(val);
    if (k->socket) {
        size_t smax = sizeof(((struct sockaddr_un *)0)->sun_path) - 1;
        if (n > smax)
            return config_fail(
                c, s, "%s is too long (%zu characters, at most %zu for a Unix socket path)",
                k->path, n, smax);
    }
    if (!config_copy_str(dst, dstsize, val))
        return config_fail(c, s, "%s is too long (%zu characters, at most %zu)", k->path, n,
                           dstsize - 1);
    return K_OK;
}

static int config_check_int(const loadctx *c, const config_setting_t *s, const keydef *k)
{
    int t = config_setting_type(s);
    if (t != CONFIG_TYPE_INT && t != CONFIG_TYPE_INT64)
        return config_fail(c, s, "%s must be an integer (expected %s)", k->path, k->expect);
    long long v = config_setting_get_int64(s);
    char tok[64];
    bool have_tok = false;
    if (t == CONFIG_TYPE_INT) {
        /* libconfig 1.5 wraps 32-bit overflow silently: trust the text when we find it. */
        const char *file = config_setting_source_file(s);
        char *other = NULL;
        const char *text = c->text;
        if (file && strcmp(file, c->path) != 0) {
            size_t len;
            other = config_read_text(file, &len, NULL, 0);
            text = other;
        }
        if (text && config_find_int_literal(text, config_setting_source_line(s),
                                            config_setting_name(s), (int)v, tok, sizeof tok)) {
            have_tok = true;
            long long lit;
            if (!config_literal_value(tok, &lit))
                lit = LLONG_MAX; /* beyond int64: out of range whatever the limits */
            v = lit;
        }
        free(other);
    }
    if ((double)v < k->min || (double)v > k->max) {
        if (have_tok)
            return config_fail(c, s, "%s = %s is out of range (expected an integer %s)", k->path,
                               tok, k->expect);
        return config_fail(c, s, "%s = %lld is out of range (expected an integer %s)", k->path, v,
                           k->expect);
    }
    /* Fields are int or uint32_t; every range is within 0..INT32_MAX, where both types have
     * the same representation, so one 4-byte store serves both. */
    _Static_assert(sizeof(int) == 4 && sizeof(uint32_t) == 4, "4-byte integer fields");
    int32_t i32 = (int32_t)v;
    memcpy((char *)c->cfg + k->off, &i32, sizeof i32);
    return K_OK;
}

/* The number as written ("1e-400"), for what libconfig's double cannot tell: the token after
 * "name =" or "name :" on the setting's line of the main file; "" if not found (an @include). */
static void config_number_text(const loadctx *c, const config_setting_t *s, char *out, size_t cap)
{
    out[0] = 0;
    const char *name = config_setting_name(s);
    unsigned line = config_setting_source_line(s);
    if (!name || !c->text || line == 0 || strcmp(config_source_of(c, s), c->path) != 0)
        return;
    const char *p = c->text;
    for (unsigned l = 1; l < line && (p = strchr(p, '\n')) != NULL; l++)
        p++;
    if (!p)
        return;
    const char *end = strchr(p, '\n');
    size_t nl = strlen(name);
    for (const char *q = p; (q = strstr(q, name)) != NULL && (!end || q < end); q += nl) {
        const char *v = q + nl;
        while (*v == ' ' || *v == '\t')
            v++;
        if (*v != '=' && *v != ':')
            continue;
        v++;
        while (*v == ' ' || *v == '\t')
            v++;
        size_t n = strspn(v, "0123456789abcdefABCDEFxXpP.+-");
        snprintf(out, cap, "%.*s", (int)K_MIN(n, cap - 1), v);
        return;
    }
}

/* A non-zero mantissa written, but 0 stored: the value underflowed ("1e-400"). */
static bool config_number_underflowed(const char *txt)
{
    for (const char *p = txt; *p && *p != 'e' && *p != 'E'; p++)
        if (*p >= '1' && *p <= '9')
            return true;
    return false;
}

static int config_check_number(const loadctx *c, const config_setting_t *s, const keydef *k)
{
    int t = config_setting_type(s);
    double v;
    if (t == CONFIG_TYPE_FLOAT)
        v = config_setting_get_float(s);
    else if (t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64)
        v = (double)config_setting_get_int64(s);
    else
        return config_fail(c, s, "%s must be a number (expected %s)", k->path, k->expect);
    /* the same values --speed and `ctl speed` refuse: -0, hexadecimal, an underflow to 0 */
    char txt[64];
    config_number_text(c, s, txt, sizeof txt);
    if (v == 0 && (signbit(v) || txt[0] == '-'))
        return config_fail(c, s, "%s = -0 is not valid (expected %s)", k->path, k->expect);
    if (t != CONFIG_TYPE_FLOAT && config_setting_get_format(s) == CONFIG_FORMAT_HEX)
        return config_fail(c, s, "%s = %s is not valid: hexadecimal (expected %s)", k->path,
                           txt, k->expect);
    if (v == 0 && config_number_underflowed(txt))
        return config_fail(c, s, "%s = %s is not valid: it underflows to 0 (expected %s)",
                           k->path, txt, k->expect);
    bool ok = isfinite(v) && ((k->zero_ok && v == 0) || (v >= k->min && v <= k->max));
    if (!ok)
        return config_fail(c, s, "%s = %g is out of range (expected %s)", k->path, v, k->expect);
    memcpy((char *)c->cfg + k->off, &v, sizeof v);
    return K_OK;
}

static int config_check_string_type(const loadctx *c, const config_setting_t *s, const keydef *k)
{
    if (config_setting_type(s) != CONFIG_TYPE_STRING)
        return config_fail(c, s, "%s must be a string (expected %s)", k->path, k->expect);
    return K_OK;
}

/* ---- trading keys ------------------------------------------------------------------------
 * paper.balances { ASSET = "amount"; }, paper.slippage_cap_pct, fees.<venue>.maker|taker and
 * risk.*: the value (a string, or a number as written) goes through the trading module's own
 * validator on a scratch config, so the file is refused with the same range the running app
 * applies (`ctl set`); valid ones are kept as text in file order in cfg->trade. */

static int config_check_trade(const loadctx *c, const config_setting_t *s, const char *path,
                              const char *expect)
{
    char val[CONFIG_TRADE_VAL_MAX], shown[CONFIG_SHOW_MAX + 8];
    int t = config_setting_type(s);
    if (t == CONFIG_TYPE_STRING) {
        const char *v = config_setting_get_string(s);
        if (strlen(v) >= sizeof val) {
            config_show(shown, sizeof shown, v);
            return config_fail(c, s, "%s = \"%s\" is too long (expected %s)", path, shown,
                               expect);
        }
        snprintf(val, sizeof val, "%s", v);
    } else if (t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64) {
        snprintf(val, sizeof val, "%lld", (long long)config_setting_get_int64(s));
    } else if (t == CONFIG_TYPE_FLOAT) {
        config_number_text(c, s, val, sizeof val); /* exactly as written: money is decimal */
        if (!val[0])
            snprintf(val, sizeof val, "%.10g", config_setting_get_float(s));
    } else {
        return config_fail(c, s, "%s must be a number or a string (expected %s)", path, expect);
    }
    char err[256] = "";
    int bad;
    if (!strncmp(path, "risk.", 5)) {
        risk_config rc;
        risk_config_default(&rc);
        bad = risk_config_set(&rc, path, val, err, sizeof err) != RISK_OK;
    } else {
        paper_config pc;
        paper_config_default(&pc);
        bad = paper_config_set(&pc, path, val, err, sizeof err) != K_OK;
    }
    if (bad)
        return config_fail(c, s, "%s (expected %s)", err, expect);
    kconfig *cfg = c->cfg;
    int i = 0;
    while (i < cfg->trade_count && strcmp(cfg->trade[i].key, path))
        i++;
    if (i == cfg->trade_count) {
        if (cfg->trade_count >= CONFIG_TRADE_MAX)
            return config_fail(c, s, "too many trading settings (at most %d)", CONFIG_TRADE_MAX);
        cfg->trade_count++;
    }
    snprintf(cfg->trade[i].key, sizeof cfg->trade[i].key, "%s", path);
    snprintf(cfg->trade[i].value, sizeof cfg->trade[i].value, "%s", val);
    return K_OK;
}

/* paper.balances { USDT = "10000"; BTC = "0.5"; }: every name is an asset */
static int config_walk_balances(const loadctx *c, const config_setting_t *grp)
{
    int n = config_setting_length(grp);
    for (int i = 0; i < n; i++) {
        const config_setting_t *s = config_setting_get_elem(grp, (unsigned)i);
        const char *name = config_setting_name(s);
        char path[CONFIG_PATH_MAX];
        if (!name)
            continue;
        if (strlen(name) >= INSTR_ASSET_MAX || strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                                          "0123456789") != strlen(name))
            return config_fail(c, s, "paper.balances.%.40s: an asset is upper-case letters and "
                               "digits, at most %d (expected ASSET = \"amount\")", name,
                               INSTR_ASSET_MAX - 1);
        snprintf(path, sizeof path, "paper.balances.%s", name);
        if (config_check_trade(c, s, path, "an amount >= 0, e.g. USDT = \"10000\"") != K_OK)
            return K_ERR;
    }
    return K_OK;
}

/* "venue:SYMBOL": a known venue, a symbol of 1..KSYM_MAX-1 letters, digits and '-'. */
static int config_check_watch_one(const char *v, size_t len, char *why, size_t cap)
{
    const char *colon = memchr(v, ':', len);
    char vn[32];
    enum venue ven;
    if (!colon || (size_t)(colon - v) >= sizeof vn) {
        snprintf(why, cap, "no venue");
        return K_ERR;
    }
    memcpy(vn, v, (size_t)(colon - v));
    vn[colon - v] = '\0';
    if (venue_parse(vn, &ven) != K_OK) {
        snprintf(why, cap, "unknown venue '%.31s' (binance-spot, binance-usdm, okx)", vn);
        return K_ERR;
    }
    size_t n = len - (size_t)(colon + 1 - v);
    size_t ok = 0;
    while (ok < n && strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-",
                            colon[1 + ok]) && colon[1 + ok])
        ok++;
    if (n == 0 || n >= KSYM_MAX || ok != n) {
        snprintf(why, cap, "bad symbol (1..%d letters, digits and '-')", KSYM_MAX - 1);
        return K_ERR;
    }
    return K_OK;
}

/* "venue:SYMBOL" or "venue:SYMBOL@venue:SYMBOL" (a backup venue for failover, docs/LIVE.md). */
static int config_check_watch(const char *v, char *why, size_t cap)
{
    const char *at = strchr(v, '@');
    if (!at)
        return config_check_watch_one(v, strlen(v), why, cap);
    if (strchr(at + 1, '@')) {
        snprintf(why, cap, "at most one backup ('@')");
        return K_ERR;
    }
    if (config_check_watch_one(v, (size_t)(at - v), why, cap) != K_OK)
        return K_ERR;
    char w[100];
    if (config_check_watch_one(at + 1, strlen(at + 1), w, sizeof w) != K_OK) {
        snprintf(why, cap, "backup: %s", w);
        return K_ERR;
    }
    return K_OK;
}

/* fees { binance-spot { maker; taker; } ... } and paper { balances { } }: groups below the top */
static bool config_is_subgroup(const char *path)
{
    if (!strcmp(path, "paper.balances"))
        return true;
    size_t n = strlen(path);
    for (size_t i = 0; i < K_ARRAY_LEN(config_keys); i++)
        if (config_keys[i].type == KT_TRADE && !strncmp(config_keys[i].path, path, n) &&
            config_keys[i].path[n] == '.')
            return true;
    return false;
}

static int config_check_value(const loadctx *c, const config_setting_t *s, const keydef *k)
{
    char shown[CONFIG_SHOW_MAX + 8];
    switch (k->type) {
    case KT_INT:
        return config_check_int(c, s, k);
    case KT_NUMBER:
        return config_check_number(c, s, k);
    case KT_BOOL:
        if (config_setting_type(s) != CONFIG_TYPE_BOOL)
            return config_fail(c, s, "%s must be true or false", k->path);
    {
        bool b = config_setting_get_bool(s) != 0;
        memcpy((char *)c->cfg + k->off, &b, sizeof b);
        return K_OK;
    }
    case KT_NAME: {
        if (config_check_string_type(c, s, k) != K_OK)
            return K_ERR;
        const char *v = config_setting_get_string(s);
        size_t n = strlen(v);
        if (n >= k->size)
            return config_fail(c, s, "%s is too long (%zu characters, at most %zu)", k->path, n,
                               k->size - 1);
        if (n == 0 || strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                "0123456789-_") != n) {
            config_show(shown, sizeof shown, v);
            return config_fail(c, s, "%s = \"%s\" is not valid (expected %s)", k->path, shown,
                               k->expect);
        }
        memcpy((char *)c->cfg + k->off, v, n + 1);
        return K_OK;
    }
    case KT_ENUM: {
        if (config_check_string_type(c, s, k) != K_OK)
            return K_ERR;
        const char *v = config_setting_get_string(s);
        if (k->parse(c->cfg, v) == K_OK)
            return K_OK;
        config_show(shown, sizeof shown, v);
        return config_fail(c, s, "%s = \"%s\" is not valid (expected %s)", k->path, shown,
                           k->expect);
    }
    case KT_PATH: {
        if (config_check_string_type(c, s, k) != K_OK)
            return K_ERR;
        const char *v = config_setting_get_string(s);
        if (!*v && k->empty_default)
            return K_OK; /* the default computed by config_defaults stays */
        return config_expand_path(c, s, k, v, (char *)c->cfg + k->off, k->size);
    }
    case KT_TRADE:
        return config_check_trade(c, s, k->path, k->expect);
    case KT_URL: {
        if (config_check_string_type(c, s, k) != K_OK)
            return K_ERR;
        const char *v = config_setting_get_string(s);
        size_t n = strlen(v);
        if (n >= k->size)
            return config_fail(c, s, "%s is too long (%zu characters, at most %zu)", k->path, n,
                               k->size - 1);
        if (n > 0 && !strstr(v, "://")) {
            config_show(shown, sizeof shown, v);
            return config_fail(c, s, "%s = \"%s\" is not valid (expected %s)", k->path, shown,
                               k->expect);
        }
        memcpy((char *)c->cfg + k->off, v, n + 1);
        return K_OK;
    }
    case KT_WATCH: {
        if (!config_setting_is_array(s) && !config_setting_is_list(s))
            return config_fail(c, s, "%s must be a list (expected [\"venue:SYMBOL\", ...])",
                               k->path);
        int n = config_setting_length(s);
        if (n > CONFIG_MAX_WATCH)
            return config_fail(c, s, "%s has %d entries (at most %d)", k->path, n,
                               CONFIG_MAX_WATCH);
        for (int i = 0; i < n; i++) {
            const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
            const char *v = config_setting_type(e) == CONFIG_TYPE_STRING
                                ? config_setting_get_string(e) : NULL;
            char why[160];
            if (!v || config_check_watch(v, why, sizeof why) != K_OK)
                return config_fail(c, e, "%s[%d]: %s (expected \"venue:SYMBOL\", e.g. "
                                   "\"binance-spot:BTCUSDT\")", k->path, i,
                                   v ? why : "not a string");
            snprintf(c->cfg->watch[i], CONFIG_WATCH_MAX, "%s", v);
        }
        c->cfg->watch_count = n;
        return K_OK;
    }
    case KT_PATHLIST: {
        if (!config_setting_is_array(s) && !config_setting_is_list(s))
            return config_fail(c, s, "%s must be a list of file names (expected [\"FILE\", ...])",
                               k->path);
        int n = config_setting_length(s);
        if (n > CONFIG_MAX_REPLAY)
            return config_fail(c, s, "%s has %d entries (at most %d)", k->path, n,
                               CONFIG_MAX_REPLAY);
        for (int i = 0; i < n; i++) {
            const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
            if (config_setting_type(e) != CONFIG_TYPE_STRING)
                return config_fail(c, e, "%s[%d] must be a string (expected a file name)",
                                   k->path, i);
            const char *v = config_setting_get_string(e);
            if (!*v)
                return config_fail(c, e, "%s[%d] is empty (expected a file name)", k->path, i);
            char name[64];
            snprintf(name, sizeof name, "%s[%d]", k->path, i);
            keydef elem = *k;
            elem.path = name;
            char *dst = c->cfg->replay_files[i];
            if (config_expand_path(c, e, &elem, v, dst, CONFIG_PATH_MAX) != K_OK)
                return K_ERR;
        }
        for (int i = n; i < CONFIG_MAX_REPLAY; i++)
            c->cfg->replay_files[i][0] = '\0';
        c->cfg->replay_count = n;
        return K_OK;
    }
    }
    return K_ERR;
}

/* ---- walking the file -------------------------------------------------------------------- */

static int config_walk(const loadctx *c, const config_setting_t *grp, const char *prefix)
{
    int n = config_setting_length(grp);
    for (int i = 0; i < n; i++) {
        const config_setting_t *s = config_setting_get_elem(grp, (unsigned)i);
        const char *name = config_setting_name(s);
        char path[CONFIG_PATH_MAX];
        if (!name)
            continue;
        snprintf(path, sizeof path, "%s%s%s", prefix ? prefix : "", prefix ? "." : "", name);
        if (!prefix && config_is_group(name)) {
            if (!config_setting_is_group(s))
                return config_fail(c, s, "%s must be a group (expected %s { ... })", name, name);
            if (config_walk(c, s, name) != K_OK)
                return K_ERR;
            continue;
        }
        if (prefix && config_is_subgroup(path)) {
            if (!config_setting_is_group(s))
                return config_fail(c, s, "%s must be a group (expected %s { ... })", path, path);
            if (strcmp(path, "paper.balances") == 0 ? config_walk_balances(c, s) != K_OK
                                                    : config_walk(c, s, path) != K_OK)
                return K_ERR;
            continue;
        }
        enum venue ven;
        if (prefix && strcmp(prefix, "venues") == 0 && venue_parse(name, &ven) == K_OK) {
            if (!config_setting_is_group(s))
                return config_fail(c, s, "%s must be a group (expected %s { ... })", path,
                                   path);
            if (config_walk(c, s, path) != K_OK)
                return K_ERR;
            continue;
        }
        const keydef *k = config_key_find(path);
        if (!k) {
            config_warn_unknown(c, s, path);
            continue;
        }
        if (config_check_value(c, s, k) != K_OK)
            return K_ERR;
    }
    return K_OK;
}

/* Whole file into memory (bounded, no NUL bytes). NULL with a message on failure. */
static char *config_read_text(const char *path, size_t *len_out, char *err, size_t errlen)
{
    /* O_NONBLOCK: a FIFO (or a device) must not stall the start in open() */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        snprintf(err, errlen, "%s: cannot read config file: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s: not a regular file", path);
        close(fd);
        return NULL;
    }
    FILE *fp = fdopen(fd, "r");
    if (!fp) {
        snprintf(err, errlen, "%s: cannot read config file: %s", path, strerror(errno));
        close(fd);
        return NULL;
    }
    if (st.st_size > CONFIG_FILE_MAX) {
        snprintf(err, errlen, "%s: config file too large (%lld bytes, at most %d)", path,
                 (long long)st.st_size, CONFIG_FILE_MAX);
        fclose(fp);
        return NULL;
    }
    size_t cap = (size_t)st.st_size; /* a file that grows meanwhile is read up to this size */
    char *buf = xmalloc(cap + 1);
    size_t n = fread(buf, 1, cap, fp);
    bool bad = ferror(fp) != 0;
    int saved = errno;
    fclose(fp);
    if (bad) {
        snprintf(err, errlen, "%s: cannot read config file: %s", path, strerror(saved));
        free(buf);
        return NULL;
    }
    if (memchr(buf, '\0', n)) {
        snprintf(err, errlen, "%s: contains a NUL byte (not a text file)", path);
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    *len_out = n;
    return buf;
}

/* Settings in a libconfig text: its '=' and ':' outside comments and strings (each setting has
 * exactly one). */
static size_t config_count_settings(const char *t)
{
    size_t n = 0;
    while (*t) {
        if (*t == '#' || (t[0] == '/' && t[1] == '/')) {
            t += strcspn(t, "\n");
        } else if (t[0] == '/' && t[1] == '*') {
            const char *e = strstr(t + 2, "*/");
            t = e ? e + 2 : t + strlen(t);
        } else if (*t == '"') {
            for (t++; *t && *t != '"'; t++)
                if (*t == '\\' && t[1])
                    t++;
            if (*t)
                t++;
        } else {
            n += *t == '=' || *t == ':';
            t++;
        }
    }
    return n;
}

/* The file's @include lines (libconfig: at the start of a line, `@include "FILE"`): each
 * target read under read_text's checks, counted into *bytes / *settings, recursively. */
static int config_check_includes(const char *path, const char *text, int depth, size_t *bytes,
                                 size_t *settings, char *err, size_t errlen)
{
    unsigned line = 1;
    for (const char *p = text; *p; line++) {
        const char *eol = strchr(p, '\n');
        const char *q = p + strspn(p, " \t");
        p = eol ? eol + 1 : p + strlen(p);
        if (strncmp(q, "@include", 8) != 0)
            continue;
        q += 8;
        q += strspn(q, " \t");
        if (*q != '"')
            continue; /* libconfig's syntax error */
        char inc[CONFIG_PATH_MAX];
        size_t n = 0;
        for (q++; *q && *q != '"' && *q != '\n'; q++) {
            if (*q == '\\' && q[1] && q[1] != '\n')
                q++;
            if (n + 1 >= sizeof inc) {
                snprintf(err, errlen, "%s:%u: @include file name too long", path, line);
                return K_ERR;
            }
            inc[n++] = *q;
        }
        inc[n] = '\0';
        if (depth >= CONFIG_INCLUDE_DEPTH) {
            snprintf(err, errlen, "%s:%u: @include nested too deeply (at most %d levels)", path,
                     line, CONFIG_INCLUDE_DEPTH);
            return K_ERR;
        }
        struct stat st;
        if (stat(inc, &st) != 0)
            continue; /* libconfig says "cannot open include file" with the line */
        char ierr[CONFIG_PATH_MAX + 128];
        size_t len;
        char *itext = config_read_text(inc, &len, ierr, sizeof ierr);
        if (!itext) {
            snprintf(err, errlen, "%s:%u: @include %s", path, line, ierr);
            return K_ERR;
        }
        *bytes += len;
        *settings += config_count_settings(itext);
        int rc = K_OK;
        if (*bytes > CONFIG_FILE_MAX) {
            snprintf(err, errlen, "%s:%u: @include %s: config files too large together (more "
                     "than %d bytes)", path, line, inc, CONFIG_FILE_MAX);
            rc = K_ERR;
        } else {
            rc = config_check_includes(inc, itext, depth + 1, bytes, settings, err, errlen);
        }
        free(itext);
        if (rc != K_OK)
            return rc;
    }
    return K_OK;
}

int config_load_file(kconfig *cfg, const char *path, void (*warn_fn)(void *ud, const char *msg),
                     void *ud, char *err, size_t errlen)
{
    if (!path || !*path) {
        snprintf(err, errlen, "config file name is empty");
        return K_ERR;
    }
    if (strlen(path) >= CONFIG_PATH_MAX) {
        snprintf(err, errlen, "config file name too long (at most %d characters)",
                 CONFIG_PATH_MAX - 1);
        return K_ERR;
    }
    size_t len;
    char *text = config_read_text(path, &len, err, errlen);
    if (!text)
        return K_ERR;
    size_t bytes = len, settings = config_count_settings(text);
    if (config_check_includes(path, text, 0, &bytes, &settings, err, errlen) != K_OK) {
        free(text);
        return K_ERR;
    }
    if (settings > CONFIG_MAX_SETTINGS) {
        snprintf(err, errlen, "%s: too many settings (%zu, at most %d; a real config has a few "
                 "dozen)", path, settings, CONFIG_MAX_SETTINGS);
        free(text);
        return K_ERR;
    }

    kconfig *tmp = xmalloc(sizeof *tmp);
    config_defaults(tmp);
    config_copy_str(tmp->source, sizeof tmp->source, path);

    config_t lc;
    config_init(&lc);
    int rc = K_OK;
    if (!config_read_string(&lc, text)) {
        const char *file = config_error_file(&lc) ? config_error_file(&lc) : path;
        const char *what = config_error_text(&lc) ? config_error_text(&lc) : "unknown error";
        int line = config_error_line(&lc);
        if (strcmp(what, "syntax error") == 0)
            snprintf(err, errlen, "%s:%d: syntax error", file, line);
        else if (strncmp(what, "cannot open include", 19) == 0)
            snprintf(err, errlen, "%s:%d: %s", file, line, what);
        else
            snprintf(err, errlen, "%s:%d: syntax error: %s", file, line, what);
        rc = K_ERR;
    } else {
        int unknown = 0;
        loadctx c = {.cfg = tmp, .path = path, .text = text, .warn_fn = warn_fn, .ud = ud,
                     .err = err, .errlen = errlen, .unknown = &unknown};
        rc = config_walk(&c, config_root_setting(&lc), NULL);
        char merr[512];
        if (rc == K_OK && market_limits_check(&tmp->limits, merr, sizeof merr) != K_OK) {
            snprintf(err, errlen, "%s: %s", path, merr); /* the market over the memory budget */
            rc = K_ERR;
        }
        if (warn_fn && unknown > CONFIG_MAX_UNKNOWN) {
            char msg[CONFIG_PATH_MAX + 96];
            snprintf(msg, sizeof msg, "%s: %d more unknown keys ignored", path,
                     unknown - CONFIG_MAX_UNKNOWN);
            warn_fn(ud, msg);
        }
    }
    config_destroy(&lc);
    free(text);
    if (rc == K_OK)
        *cfg = *tmp;
    free(tmp);
    return rc;
}

/* ---- search ------------------------------------------------------------------------------ */

/* Loads a file the user named; missing is an error that says who named it. */
static int config_load_named(kconfig *cfg, const char *path, const char *by,
                             void (*warn_fn)(void *ud, const char *msg), void *ud, char *err,
                             size_t errlen)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        snprintf(err, errlen, "%s: cannot read config file named by %s: %s", path, by,
                 strerror(errno));
        return K_ERR;
    }
    return config_load_file(cfg, path, warn_fn, ud, err, errlen);
}

int config_load(kconfig *cfg, const char *explicit_path, void (*warn_fn)(void *ud, const char *msg),
                void *ud, char *err, size_t errlen)
{
    if (explicit_path && *explicit_path)
        return config_load_named(cfg, explicit_path, "--config", warn_fn, ud, err, errlen);
    const char *env = getenv("KESTREL_CONFIG");
    if (env && *env)
        return config_load_named(cfg, env, "$KESTREL_CONFIG", warn_fn, ud, err, errlen);

    char user[CONFIG_PATH_MAX * 2] = "";
    const char *xdg = config_xdg_dir("XDG_CONFIG_HOME");
    const char *home = config_home_dir();
    if (xdg)
        snprintf(user, sizeof user, "%s/kestrel/kestrel.cfg", xdg);
    else if (home)
        snprintf(user, sizeof user, "%s/.config/kestrel/kestrel.cfg", home);
    const char *implicit[] = {user, "./config/kestrel.cfg", "/etc/kestrel/kestrel.cfg"};

    for (size_t i = 0; i < K_ARRAY_LEN(implicit); i++) {
        const char *p = implicit[i];
        struct stat st;
        if (!*p || strlen(p) >= CONFIG_PATH_MAX)
            continue;
        if (stat(p, &st) != 0) {
            if (errno == ENOENT || errno == ENOTDIR)
                continue; /* absent: try the next place */
            snprintf(err, errlen, "%s: cannot read config file: %s", p, strerror(errno));
            return K_ERR;
        }
        return config_load_file(cfg, p, warn_fn, ud, err, errlen);
    }
    config_defaults(cfg);
    return K_OK;
}

/* ---- defaults ---------------------------------------------------------------------------- */

void config_defaults(kconfig *cfg)
{
    static const char *const replay[] = {
        "data/replay/btcusdt_20240808.gz",
        "data/replay/btcusdt_20240809.gz",
        "data/replay/ethusdt_20240808.gz",
        "data/replay/ethusdt_20240809.gz",
    };
    memset(cfg, 0, sizeof *cfg);
    for (size_t i = 0; i < K_ARRAY_LEN(replay); i++)
        config_copy_str(cfg->replay_files[i], CONFIG_PATH_MAX, replay[i]);
    cfg->replay_count = (int)K_ARRAY_LEN(replay);
    cfg->replay_speed = 1.0;

    config_copy_str(cfg->theme, sizeof cfg->theme, "default");
    cfg->ui_timeframe = TF_1S;
    cfg->ui_fps = 30;
    cfg->ui_ascii = false;
    cfg->ui_mouse = true;

    config_default_db_path(cfg->db_path, sizeof cfg->db_path);
    cfg->store_batch = 500;
    cfg->store_flush_ms = 200;

    cfg->limits.max_symbols = 100; /* the defaults fit 100 symbols in limits.memory_mb = 64 */
    cfg->limits.book_levels = 1000;
    cfg->limits.book_buffered = 256;
    cfg->limits.tape_size = 512;
    cfg->limits.candles_max = 300;
    cfg->limits.bar_grace_ms = 250;
    cfg->limits.memory_mb = MARKET_DEF_MEMORY_MB;

    cfg->log_level = LOG_INFO;
    cfg->ctl_idle_timeout_s = 60;
    cfg->engine_auto_trade = false;
    cfg->engine_signal_interval_s = 30;
    cfg->engine_horizon_s = 900;
    cfg->engine_state_interval_s = 60;
    cfg->engine_train_every = 256;
    snprintf(cfg->engine_warmup, sizeof cfg->engine_warmup, "store");
    cfg->engine_warmup_bars = 1440;
    cfg->alerts_bell = true;
    cfg->alerts_rate_limit_s = 10;
    cfg->health_stall_factor = 50;
    cfg->health_failover_after_s = 5;
    cfg->health_failback_after_s = 15;
    cfg->health_alert_interval_s = 60;
    cfg->engine_models = RUNNER_M_DEFAULT;
    cfg->paper_latency_ms = 50;
}

void config_default_db_path(char *out, size_t cap)
{
    const char *data = config_xdg_dir("XDG_DATA_HOME");
    const char *home = config_home_dir();
    int n = -1;
    if (data)
        n = snprintf(out, cap, "%s/kestrel/kestrel.db", data);
    else if (home)
        n = snprintf(out, cap, "%s/.local/share/kestrel/kestrel.db", home);
    if (n < 0 || (size_t)n >= cap)
        snprintf(out, cap, "%s", "./kestrel.db");
}

void config_datadir(char *out, size_t cap)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash && slash - exe >= 4 && strncmp(slash - 4, "/bin", 4) == 0) {
            slash[-4] = '\0'; /* PREFIX/bin/kestrel -> PREFIX */
            struct stat st;
            int m = snprintf(out, cap, "%s/share/kestrel", exe);
            if (m > 0 && (size_t)m < cap && stat(out, &st) == 0 && S_ISDIR(st.st_mode))
                return;
        }
    }
    if (cap > 0)
        snprintf(out, cap, "%s", KESTREL_DATADIR);
}

const char *log_level_name(enum log_level l)
{
    return (unsigned)l < K_ARRAY_LEN(config_level_names) ? config_level_names[l] : "unknown";
}
