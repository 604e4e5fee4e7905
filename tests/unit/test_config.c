/* Configuration: defaults, the shipped config/kestrel.cfg, every error class with its exact
 * file:line, unknown-key warnings, the search order, and the path rule. */
#include "check.h"
#include "kestrel/config.h"

#include <libconfig.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct warns {
    int n;
    char msg[20][600];
} warns;

static void collect(void *ud, const char *msg)
{
    warns *w = ud;
    if (w->n < 20)
        snprintf(w->msg[w->n], sizeof w->msg[0], "%s", msg);
    w->n++;
}

static char tmpdir[256];
static char path_buf[512];

/* Writes content to tmpdir/name and returns the path (valid until the next call). */
static const char *put(const char *name, const char *content)
{
    snprintf(path_buf, sizeof path_buf, "%s/%s", tmpdir, name);
    FILE *f = fopen(path_buf, "w");
    if (!f) {
        perror(path_buf);
        exit(2);
    }
    fputs(content, f);
    fclose(f);
    return path_buf;
}

/* Loads content as tmpdir/t.cfg; returns rc, fills err and w. */
static int load_text(kconfig *cfg, const char *content, warns *w, char *err, size_t errlen)
{
    const char *p = put("t.cfg", content);
    memset(w, 0, sizeof *w);
    err[0] = '\0';
    return config_load_file(cfg, p, collect, w, err, errlen);
}

/* Expects content to fail with exactly "tmpdir/t.cfg:" + want. */
static void expect_err(const char *content, const char *want)
{
    kconfig cfg;
    warns w;
    char err[1024], full[1024];
    int rc = load_text(&cfg, content, &w, err, sizeof err);
    snprintf(full, sizeof full, "%s/t.cfg:%s", tmpdir, want);
    CHECK_INT(rc, K_ERR);
    CHECK_STR(err, full);
}

static void expect_ok(const char *content, kconfig *cfg)
{
    warns w;
    char err[1024];
    int rc = load_text(cfg, content, &w, err, sizeof err);
    CHECK_INT(rc, K_OK);
    CHECK_INT(w.n, 0);
    if (rc != K_OK)
        fprintf(stderr, "  unexpected error: %s\n", err);
}

static void check_equal_defaults(const kconfig *a, const kconfig *b)
{
    CHECK_INT(a->replay_count, b->replay_count);
    for (int i = 0; i < CONFIG_MAX_REPLAY; i++)
        CHECK_STR(a->replay_files[i], b->replay_files[i]);
    CHECK(a->replay_speed == b->replay_speed);
    CHECK_STR(a->theme, b->theme);
    CHECK_INT(a->ui_timeframe, b->ui_timeframe);
    CHECK_INT(a->ui_fps, b->ui_fps);
    CHECK_INT(a->ui_ascii, b->ui_ascii);
    CHECK_STR(a->db_path, b->db_path);
    CHECK_INT(a->store_batch, b->store_batch);
    CHECK_INT(a->store_flush_ms, b->store_flush_ms);
    CHECK_INT(a->limits.max_symbols, b->limits.max_symbols);
    CHECK_INT(a->limits.book_levels, b->limits.book_levels);
    CHECK_INT(a->limits.book_buffered, b->limits.book_buffered);
    CHECK_INT(a->limits.tape_size, b->limits.tape_size);
    CHECK_INT(a->limits.candles_max, b->limits.candles_max);
    CHECK_STR(a->log_file, b->log_file);
    CHECK_INT(a->log_level, b->log_level);
    CHECK_STR(a->socket_path, b->socket_path);
}

static void test_defaults(void)
{
    kconfig c;
    setenv("HOME", "/home/tester", 1);
    unsetenv("XDG_DATA_HOME");
    config_defaults(&c);
    CHECK_STR(c.source, "");
    CHECK_INT(c.replay_count, 4);
    CHECK_STR(c.replay_files[0], "data/replay/btcusdt_20240808.gz");
    CHECK_STR(c.replay_files[1], "data/replay/btcusdt_20240809.gz");
    CHECK_STR(c.replay_files[2], "data/replay/ethusdt_20240808.gz");
    CHECK_STR(c.replay_files[3], "data/replay/ethusdt_20240809.gz");
    CHECK_STR(c.replay_files[4], "");
    CHECK(c.replay_speed == 1.0);
    CHECK_STR(c.theme, "default");
    CHECK_INT(c.ui_timeframe, TF_1S);
    CHECK_INT(c.ui_fps, 30);
    CHECK_INT(c.ui_ascii, false);
    CHECK_STR(c.db_path, "/home/tester/.local/share/kestrel/kestrel.db");
    CHECK_INT(c.store_batch, 500);
    CHECK_INT(c.store_flush_ms, 200);
    CHECK_INT(c.limits.max_symbols, 100);
    CHECK_INT(c.limits.book_levels, 1000);
    CHECK_INT(c.limits.book_buffered, 256);
    CHECK_INT(c.limits.tape_size, 512);
    CHECK_INT(c.limits.candles_max, 300);
    CHECK_INT(c.limits.memory_mb, 64);
    CHECK_STR(c.log_file, "");
    CHECK_INT(c.log_level, LOG_INFO);
    CHECK_STR(c.socket_path, "");

    setenv("XDG_DATA_HOME", "/xdg/data", 1);
    config_defaults(&c);
    CHECK_STR(c.db_path, "/xdg/data/kestrel/kestrel.db");
    setenv("XDG_DATA_HOME", "relative/data", 1); /* relative XDG paths are ignored */
    config_defaults(&c);
    CHECK_STR(c.db_path, "/home/tester/.local/share/kestrel/kestrel.db");
    unsetenv("XDG_DATA_HOME");
    unsetenv("HOME");
    config_defaults(&c);
    CHECK_STR(c.db_path, "./kestrel.db");
    setenv("HOME", "/home/tester", 1);

    CHECK_STR(log_level_name(LOG_ERROR), "error");
    CHECK_STR(log_level_name(LOG_WARN), "warn");
    CHECK_STR(log_level_name(LOG_INFO), "info");
    CHECK_STR(log_level_name(LOG_DEBUG), "debug");
    CHECK_STR(log_level_name((enum log_level)7), "unknown");
}

/* The shipped example: loads with zero warnings, equals the defaults, and names every key. */
static void test_shipped(void)
{
    kconfig c, d;
    warns w = {0};
    char err[1024] = "";
    setenv("HOME", "/home/tester", 1);
    unsetenv("XDG_DATA_HOME");
    int rc = config_load_file(&c, "config/kestrel.cfg", collect, &w, err, sizeof err);
    CHECK_INT(rc, K_OK);
    CHECK_STR(err, "");
    CHECK_INT(w.n, 0);
    for (int i = 0; i < w.n && i < 16; i++)
        fprintf(stderr, "  warning: %s\n", w.msg[i]);
    CHECK_STR(c.source, "config/kestrel.cfg");
    config_defaults(&d);
    check_equal_defaults(&c, &d);

    /* every key is present in the file */
    static const char *const all[] = {
        "replay.files",       "replay.speed",       "ui.theme",
        "ui.timeframe",       "ui.fps",             "ui.ascii",
        "store.path",         "store.batch",        "store.flush_ms",
        "market.max_symbols", "market.book_levels", "market.book_buffered",
        "market.tape_size",   "market.candles_max", "log.file",
        "log.level",          "control.socket",     "limits.memory_mb",
    };
    config_t lc;
    config_init(&lc);
    CHECK(config_read_file(&lc, "config/kestrel.cfg") == CONFIG_TRUE);
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        bool found = config_lookup(&lc, all[i]) != NULL;
        CHECK(found);
        if (!found)
            fprintf(stderr, "  shipped config lacks %s\n", all[i]);
    }
    config_destroy(&lc);
}

static void test_values(void)
{
    kconfig c;
    expect_ok("replay = { files = (\"a.gz\", \"~/b.gz\"); speed = 0; };\n"
              "ui = { theme = \"solarized-dark_2\"; timeframe = \"15m\"; fps = 60;\n"
              "       ascii = true; };\n"
              "store = { path = \"/var/lib/k.db\"; batch = 100000; flush_ms = 1; };\n"
              "market = { max_symbols = 4096; book_levels = 20; book_buffered = 64;\n"
              "           tape_size = 16; candles_max = 100000; };\n"
              "limits = { memory_mb = 1048576; };\n"
              "log = { file = \"k.log\"; level = \"debug\"; };\n"
              "control = { socket = \"/run/k.sock\"; };\n",
              &c);
    CHECK_INT(c.replay_count, 2);
    CHECK_STR(c.replay_files[0], "a.gz");
    CHECK_STR(c.replay_files[1], "/home/tester/b.gz");
    CHECK_STR(c.replay_files[2], "");
    CHECK(c.replay_speed == 0);
    CHECK_STR(c.theme, "solarized-dark_2");
    CHECK_INT(c.ui_timeframe, TF_15M);
    CHECK_INT(c.ui_fps, 60);
    CHECK_INT(c.ui_ascii, true);
    CHECK_STR(c.db_path, "/var/lib/k.db");
    CHECK_INT(c.store_batch, 100000);
    CHECK_INT(c.store_flush_ms, 1);
    CHECK_INT(c.limits.max_symbols, 4096);
    CHECK_INT(c.limits.book_levels, 20);
    CHECK_INT(c.limits.book_buffered, 64);
    CHECK_INT(c.limits.tape_size, 16);
    CHECK_INT(c.limits.candles_max, 100000);
    CHECK_INT(c.limits.memory_mb, 1048576);
    CHECK_STR(c.log_file, "k.log");
    CHECK_INT(c.log_level, LOG_DEBUG);
    CHECK_STR(c.socket_path, "/run/k.sock");

    /* int where a float is expected; int64 literal; hex; every timeframe and level */
    expect_ok("replay = { speed = 2; };\nui = { fps = 0x10; };\nstore = { batch = 7L; };\n", &c);
    CHECK(c.replay_speed == 2.0);
    CHECK_INT(c.ui_fps, 16);
    CHECK_INT(c.store_batch, 7);
    static const char *const tfs[] = {"1s", "1m", "5m", "15m", "1h", "4h", "1d"};
    for (int i = 0; i < 7; i++) {
        char text[128];
        snprintf(text, sizeof text, "ui = { timeframe = \"%s\"; };\n", tfs[i]);
        expect_ok(text, &c);
        CHECK_INT(c.ui_timeframe, i);
    }
    static const char *const lvls[] = {"error", "warn", "info", "debug"};
    for (int i = 0; i < 4; i++) {
        char text[128];
        snprintf(text, sizeof text, "log = { level = \"%s\"; };\n", lvls[i]);
        expect_ok(text, &c);
        CHECK_INT(c.log_level, i);
    }
    /* an empty list is allowed; absent keys keep their defaults; an empty file is fine */
    expect_ok("replay = { files = []; };\n", &c);
    CHECK_INT(c.replay_count, 0);
    CHECK(c.replay_speed == 1.0);
    expect_ok("", &c);
    CHECK_INT(c.replay_count, 4);
    CHECK_INT(c.ui_fps, 30);
    /* store.path "" = the default location */
    setenv("XDG_DATA_HOME", "/xdg/data", 1);
    expect_ok("store = { path = \"\"; };\n", &c);
    CHECK_STR(c.db_path, "/xdg/data/kestrel/kestrel.db");
    unsetenv("XDG_DATA_HOME");
}

static void test_errors(void)
{
    /* syntax */
    expect_err("ui = { fps = = 30; };\n", "1: syntax error");
    expect_err("ui = {\n  fps = 30;\n  ascii = ;\n};\n", "3: syntax error");
    expect_err("a = 1;\n\na = 2;\n", "3: syntax error: duplicate setting name");
    /* out of range */
    expect_err("ui = {\n  fps = 500;\n};\n",
               "2: ui.fps = 500 is out of range (expected an integer 1..60)");
    expect_err("ui = { fps = 0; };\n", "1: ui.fps = 0 is out of range (expected an integer 1..60)");
    expect_err("ui = { fps = -3; };\n",
               "1: ui.fps = -3 is out of range (expected an integer 1..60)");
    expect_err("market = { book_levels = 19; };\n",
               "1: market.book_levels = 19 is out of range (expected an integer 20..100000)");
    expect_err("market = { book_levels = 100001; };\n",
               "1: market.book_levels = 100001 is out of range (expected an integer 20..100000)");
    expect_err("market = { max_symbols = 5000; };\n",
               "1: market.max_symbols = 5000 is out of range (expected an integer 1..4096)");
    expect_err("market = { book_buffered = 10; };\n",
               "1: market.book_buffered = 10 is out of range (expected an integer 64..1000000)");
    expect_err("market = { tape_size = 8; };\n",
               "1: market.tape_size = 8 is out of range (expected an integer 16..100000)");
    expect_err("market = { candles_max = 99; };\n",
               "1: market.candles_max = 99 is out of range (expected an integer 100..100000)");
    expect_err("store = { batch = 0; };\n",
               "1: store.batch = 0 is out of range (expected an integer 1..100000)");
    expect_err("store = { flush_ms = 60001; };\n",
               "1: store.flush_ms = 60001 is out of range (expected an integer 1..60000)");
    /* libconfig 1.5 wraps these to 30 / 0: we must not */
    expect_err("ui = { fps = 4294967326; };\n",
               "1: ui.fps = 4294967326 is out of range (expected an integer 1..60)");
    expect_err("ui = { fps = 0x10000001E; };\n",
               "1: ui.fps = 0x10000001E is out of range (expected an integer 1..60)");
    expect_err("ui = { fps = 99999999999999999999999; };\n",
               "1: ui.fps = 99999999999999999999999 is out of range (expected an integer 1..60)");
    expect_err("ui = { fps = 5000000000L; };\n",
               "1: ui.fps = 5000000000 is out of range (expected an integer 1..60)");
    /* the name inside a string on the same line is not mistaken for the setting */
    expect_err("log = { file = \"fps = 3\"; }; ui = { fps = 500; };\n",
               "1: ui.fps = 500 is out of range (expected an integer 1..60)");
    expect_err("log = { file = \"fps = 3\"; }; ui = { fps = 4294967326; };\n",
               "1: ui.fps = 4294967326 is out of range (expected an integer 1..60)");
    {
        kconfig c;
        expect_ok("log = { file = \"fps=59\"; }; ui = { fps = 3; };  # fps = 4294967326\n", &c);
        CHECK_INT(c.ui_fps, 3);
        expect_ok("ui = { fps =\n  7; };\n", &c); /* value on the next line */
        CHECK_INT(c.ui_fps, 7);
        expect_ok("ui = { fps = /* odd */ 8; };\n", &c); /* not found: libconfig's value */
        CHECK_INT(c.ui_fps, 8);
    }
    expect_err("replay = { speed = 2000; };\n",
               "1: replay.speed = 2000 is out of range (expected 0 or 0.01..1000)");
    expect_err("replay = { speed = 0.001; };\n",
               "1: replay.speed = 0.001 is out of range (expected 0 or 0.01..1000)");
    expect_err("replay = { speed = -1.0; };\n",
               "1: replay.speed = -1 is out of range (expected 0 or 0.01..1000)");
    expect_err("replay = { speed = 1e999; };\n",
               "1: replay.speed = inf is out of range (expected 0 or 0.01..1000)");
    /* wrong types */
    expect_err("replay = {\n speed = \"fast\";\n};\n",
               "2: replay.speed must be a number (expected 0 or 0.01..1000)");
    expect_err("ui = { fps = 30.5; };\n", "1: ui.fps must be an integer (expected 1..60)");
    expect_err("ui = { fps = \"30\"; };\n", "1: ui.fps must be an integer (expected 1..60)");
    expect_err("ui = { ascii = 1; };\n", "1: ui.ascii must be true or false");
    expect_err("ui = { theme = 3; };\n",
               "1: ui.theme must be a string (expected a theme name: letters, digits, '-' and "
               "'_')");
    expect_err("ui = { timeframe = 1; };\n",
               "1: ui.timeframe must be a string (expected one of 1s 1m 5m 15m 1h 4h 1d)");
    expect_err("store = { path = 1; };\n", "1: store.path must be a string (expected a file path)");
    expect_err("ui = 5;\n", "1: ui must be a group (expected ui { ... })");
    expect_err("market = [1, 2];\n", "1: market must be a group (expected market { ... })");
    expect_err("replay = { files = \"a.gz\"; };\n",
               "1: replay.files must be a list of file names (expected [\"FILE\", ...])");
    expect_err("replay = { files = (\"a.gz\",\n 7); };\n",
               "2: replay.files[1] must be a string (expected a file name)");
    expect_err("replay = { files = [\"a.gz\",\n\n \"\"]; };\n",
               "3: replay.files[1] is empty (expected a file name)");
    expect_err("replay = { files = [\"1\",\"2\",\"3\",\"4\",\"5\",\"6\",\"7\",\"8\",\"9\",\"10\",\n"
               "\"11\",\"12\",\"13\",\"14\",\"15\",\"16\",\"17\"]; };\n",
               "1: replay.files has 17 entries (at most 16)");
    /* bad enums and names */
    expect_err("ui = {\n\n  timeframe = \"2m\";\n};\n",
               "3: ui.timeframe = \"2m\" is not valid (expected one of 1s 1m 5m 15m 1h 4h 1d)");
    expect_err("log = { level = \"verbose\"; };\n",
               "1: log.level = \"verbose\" is not valid (expected one of error warn info debug)");
    expect_err("log = { level = \"INFO\"; };\n",
               "1: log.level = \"INFO\" is not valid (expected one of error warn info debug)");
    expect_err("ui = { theme = \"../../etc/x\"; };\n",
               "1: ui.theme = \"../../etc/x\" is not valid (expected a theme name: letters, "
               "digits, '-' and '_')");
    expect_err("ui = { theme = \"\"; };\n",
               "1: ui.theme = \"\" is not valid (expected a theme name: letters, digits, '-' and "
               "'_')");
    expect_err("ui = { theme = \"a\\nb\"; };\n",
               "1: ui.theme = \"a?b\" is not valid (expected a theme name: letters, digits, '-' "
               "and '_')");
    /* the first error in file order is the one reported */
    expect_err("ui = { fps = 0; };\nstore = { batch = 0; };\n",
               "1: ui.fps = 0 is out of range (expected an integer 1..60)");
}

static void test_too_long(void)
{
    char text[2048], long_name[700];
    memset(long_name, 'x', sizeof long_name);
    long_name[511] = '\0'; /* 511 characters fits a 512-byte field */
    snprintf(text, sizeof text, "store = { path = \"%s\"; };\n", long_name);
    kconfig c;
    expect_ok(text, &c);
    CHECK_INT(strlen(c.db_path), 511);

    long_name[512] = '\0';
    long_name[511] = 'x';
    snprintf(text, sizeof text, "store = { path = \"%s\"; };\n", long_name);
    expect_err(text, "1: store.path is too long (512 characters, at most 511)");
    snprintf(text, sizeof text, "log = {\n file = \"%s\"; };\n", long_name);
    expect_err(text, "2: log.file is too long (512 characters, at most 511)");
    snprintf(text, sizeof text, "replay = { files = [\"a\",\n \"%s\"]; };\n", long_name);
    expect_err(text, "2: replay.files[1] is too long (512 characters, at most 511)");

    memset(long_name, 't', 64);
    long_name[64] = '\0';
    snprintf(text, sizeof text, "ui = { theme = \"%s\"; };\n", long_name);
    expect_err(text, "1: ui.theme is too long (64 characters, at most 63)");
    long_name[63] = '\0';
    snprintf(text, sizeof text, "ui = { theme = \"%s\"; };\n", long_name);
    expect_ok(text, &c);

    memset(long_name, 's', 108);
    long_name[0] = '/';
    long_name[108] = '\0';
    snprintf(text, sizeof text, "control = { socket = \"%s\"; };\n", long_name);
    expect_err(text,
               "1: control.socket is too long (108 characters, at most 107 for a Unix socket "
               "path)");
    long_name[107] = '\0';
    snprintf(text, sizeof text, "control = { socket = \"%s\"; };\n", long_name);
    expect_ok(text, &c);
    CHECK_INT(strlen(c.socket_path), 107);

    /* "~/" expansion counts toward the limit */
    char home[600];
    memset(home, 'h', 500);
    home[0] = '/';
    home[500] = '\0';
    setenv("HOME", home, 1);
    expect_err("store = { path = \"~/aaaaaaaaaaaaaaaaaaaa\"; };\n",
               "1: store.path is too long (521 characters, at most 511)");
    setenv("HOME", "/home/tester", 1);
}

static void test_unknown_keys(void)
{
    kconfig c;
    warns w;
    char err[1024], want[1024];
    int rc = load_text(&c,
                       "ui = {\n"
                       "  colour = \"dark\";\n"
                       "  fsp = 20;\n"
                       "  fps = 20;\n"
                       "  extra = { a = 1; b = 2; };\n"
                       "};\n"
                       "fps = 10;\n"
                       "stroe = { batch = 1; };\n"
                       "zzzzzz = 1;\n"
                       "market = { book_level = 30; };\n"
                       "ui = 3;\n",
                       &w, err, sizeof err);
    /* a later error still fails the load; the warnings before it were delivered */
    CHECK_INT(rc, K_ERR);
    rc = load_text(&c,
                   "ui = {\n"
                   "  colour = \"dark\";\n"
                   "  fsp = 20;\n"
                   "  fps = 20;\n"
                   "  extra = { a = 1; b = 2; };\n"
                   "};\n"
                   "fps = 10;\n"
                   "stroe = { batch = 1; };\n"
                   "zzzzzz = 1;\n"
                   "market = { book_level = 30; };\n"
                   "Log = { level = \"debug\"; };\n",
                   &w, err, sizeof err);
    CHECK_INT(rc, K_OK);
    CHECK_INT(c.ui_fps, 20);
    CHECK_INT(c.limits.book_levels, 1000);
    CHECK_INT(c.log_level, LOG_INFO);
    CHECK_INT(w.n, 8);
    static const char *const want_tail[] = {
        "2: unknown key 'ui.colour' ignored (did you mean 'ui.theme'?)",
        "3: unknown key 'ui.fsp' ignored (did you mean 'ui.fps'?)",
        "5: unknown key 'ui.extra' ignored",
        "7: unknown key 'fps' ignored (did you mean 'ui.fps'?)",
        "8: unknown key 'stroe' ignored (did you mean 'store'?)",
        "9: unknown key 'zzzzzz' ignored",
        "10: unknown key 'market.book_level' ignored (did you mean 'market.book_levels'?)",
        "11: unknown key 'Log' ignored (did you mean 'log'?)",
    };
    for (int i = 0; i < 8 && i < w.n; i++) {
        snprintf(want, sizeof want, "%s/t.cfg:%s", tmpdir, want_tail[i]);
        CHECK_STR(w.msg[i], want);
    }
    /* group-aware suggestions */
    rc = load_text(&c,
                   "log = { files = \"x\"; };\n"
                   "replay = { file = [\"a\"]; };\n"
                   "store = { file = \"k.db\"; colour = 1; };\n"
                   "control = { sockets = \"s\"; };\n"
                   "market = { book_levles = 100; maxsymbols = 10; };\n"
                   "file = 1;\n",
                   &w, err, sizeof err);
    CHECK_INT(rc, K_OK);
    CHECK_INT(w.n, 8);
    static const char *const want_tail2[] = {
        "1: unknown key 'log.files' ignored (did you mean 'log.file'?)",
        "2: unknown key 'replay.file' ignored (did you mean 'replay.files'?)",
        "3: unknown key 'store.file' ignored (did you mean 'log.file'?)",
        "3: unknown key 'store.colour' ignored",
        "4: unknown key 'control.sockets' ignored (did you mean 'control.socket'?)",
        "5: unknown key 'market.book_levles' ignored (did you mean 'market.book_levels'?)",
        "5: unknown key 'market.maxsymbols' ignored (did you mean 'market.max_symbols'?)",
        "6: unknown key 'file' ignored (did you mean 'replay.files'?)",
    };
    for (int i = 0; i < 8 && i < w.n; i++) {
        snprintf(want, sizeof want, "%s/t.cfg:%s", tmpdir, want_tail2[i]);
        CHECK_STR(w.msg[i], want);
    }

    /* a NULL warn_fn is allowed */
    const char *p = put("t.cfg", "bogus = 1;\n");
    CHECK_INT(config_load_file(&c, p, NULL, NULL, err, sizeof err), K_OK);
}

static void test_files(void)
{
    kconfig c;
    warns w = {0};
    char err[1024], want[1024];

    /* a missing file, a directory, a NUL byte, a failed load leaves cfg untouched */
    snprintf(want, sizeof want, "%s/nope.cfg: cannot read config file: No such file or directory",
             tmpdir);
    char missing[512];
    snprintf(missing, sizeof missing, "%s/nope.cfg", tmpdir);
    memset(&c, 0x5a, sizeof c);
    CHECK_INT(config_load_file(&c, missing, collect, &w, err, sizeof err), K_ERR);
    CHECK_STR(err, want);
    CHECK_INT(c.ui_fps, 0x5a5a5a5a);
    CHECK_INT(config_load_file(&c, tmpdir, collect, &w, err, sizeof err), K_ERR);
    snprintf(want, sizeof want, "%s: not a regular file", tmpdir);
    CHECK_STR(err, want);
    {
        snprintf(path_buf, sizeof path_buf, "%s/nul.cfg", tmpdir);
        FILE *f = fopen(path_buf, "w");
        fwrite("a = 1;\n\0b = 2;\n", 1, 15, f);
        fclose(f);
        CHECK_INT(config_load_file(&c, path_buf, collect, &w, err, sizeof err), K_ERR);
        snprintf(want, sizeof want, "%s: contains a NUL byte (not a text file)", path_buf);
        CHECK_STR(err, want);
    }
    expect_err("ui = { fps = 500; };\n",
               "1: ui.fps = 500 is out of range (expected an integer 1..60)");
    memset(&c, 0x5a, sizeof c);
    CHECK_INT(load_text(&c, "ui = { fps = 5; };\nlog = { level = 1; };\n", &w, err, sizeof err),
              K_ERR);
    CHECK_INT(c.ui_fps, 0x5a5a5a5a);

    /* an over-large file */
    {
        snprintf(path_buf, sizeof path_buf, "%s/big.cfg", tmpdir);
        FILE *f = fopen(path_buf, "w");
        for (int i = 0; i < 70000; i++)
            fputs("# padding line\n", f);
        fclose(f);
        CHECK_INT(config_load_file(&c, path_buf, collect, &w, err, sizeof err), K_ERR);
        snprintf(want, sizeof want,
                 "%s: config file too large (1050000 bytes, at most 262144)", path_buf);
        CHECK_STR(err, want);
    }

    /* @include: errors name the included file and its own line */
    put("inc.cfg", "ui = {\n  fps = 99;\n};\n");
    char text[1024];
    snprintf(text, sizeof text, "# main\n@include \"%s/inc.cfg\"\n", tmpdir);
    CHECK_INT(load_text(&c, text, &w, err, sizeof err), K_ERR);
    snprintf(want, sizeof want, "%s/inc.cfg:2: ui.fps = 99 is out of range (expected an integer "
             "1..60)", tmpdir);
    CHECK_STR(err, want);
    put("inc.cfg", "ui = {\n  fps = 4294967326;\n};\n");
    CHECK_INT(load_text(&c, text, &w, err, sizeof err), K_ERR);
    snprintf(want, sizeof want, "%s/inc.cfg:2: ui.fps = 4294967326 is out of range (expected an "
             "integer 1..60)", tmpdir);
    CHECK_STR(err, want);
    snprintf(text, sizeof text, "\n@include \"%s/absent.cfg\"\n", tmpdir);
    CHECK_INT(load_text(&c, text, &w, err, sizeof err), K_ERR);
    snprintf(want, sizeof want, "%s/t.cfg:2: cannot open include file", tmpdir);
    CHECK_STR(err, want);
}

/* Relative paths stay relative (to the working directory), "~/" expands, HOME unset is an
 * error only for a "~/" path. */
static void test_paths(void)
{
    kconfig c;
    expect_ok("replay = { files = [\"data/replay/x.gz\", \"./y.gz\", \"../z.gz\", \"/abs/w.gz\","
              " \"~/r.gz\", \"~user/q.gz\"]; };\n"
              "store = { path = \"~/k.db\"; };\nlog = { file = \"logs/k.log\"; };\n"
              "control = { socket = \"k.sock\"; };\n",
              &c);
    CHECK_INT(c.replay_count, 6);
    CHECK_STR(c.replay_files[0], "data/replay/x.gz");
    CHECK_STR(c.replay_files[1], "./y.gz");
    CHECK_STR(c.replay_files[2], "../z.gz");
    CHECK_STR(c.replay_files[3], "/abs/w.gz");
    CHECK_STR(c.replay_files[4], "/home/tester/r.gz");
    CHECK_STR(c.replay_files[5], "~user/q.gz");
    CHECK_STR(c.db_path, "/home/tester/k.db");
    CHECK_STR(c.log_file, "logs/k.log");
    CHECK_STR(c.socket_path, "k.sock");

    /* @include "FILE" follows the same rule: relative to the working directory */
    {
        char cwd[PATH_MAX], sub[600], inc[700];
        CHECK(getcwd(cwd, sizeof cwd) != NULL);
        snprintf(sub, sizeof sub, "%s/sub", tmpdir);
        mkdir(sub, 0700);
        put("inc-cwd.cfg", "ui = { fps = 11; };\n");
        snprintf(inc, sizeof inc, "%s/main.cfg", sub);
        FILE *f = fopen(inc, "w");
        fputs("@include \"inc-cwd.cfg\"\n", f);
        fclose(f);
        CHECK_INT(chdir(tmpdir), 0);
        warns w = {0};
        char err[1024] = "";
        CHECK_INT(config_load_file(&c, inc, collect, &w, err, sizeof err), K_OK);
        CHECK_INT(c.ui_fps, 11);
        CHECK_INT(chdir(cwd), 0);
    }

    unsetenv("HOME");
    expect_err("\nstore = { path = \"~/k.db\"; };\n",
               "2: store.path: cannot expand '~/' because $HOME is not set");
    expect_ok("store = { path = \"k.db\"; };\n", &c);
    CHECK_STR(c.db_path, "k.db");
    setenv("HOME", "/home/tester", 1);
}

static int write_cfg(const char *path, int fps)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fprintf(f, "ui = { fps = %d; };\n", fps);
    return fclose(f);
}

static void test_search_order(void)
{
    char cwd[PATH_MAX], xdg[600], xdgfile[700], envfile[600], home[600], homefile[700];
    char err[1024], want[1024];
    kconfig c;
    warns w = {0};
    bool etc_exists = access("/etc/kestrel/kestrel.cfg", F_OK) == 0;
    CHECK(getcwd(cwd, sizeof cwd) != NULL);

    snprintf(xdg, sizeof xdg, "%s/xdg", tmpdir);
    snprintf(xdgfile, sizeof xdgfile, "%s/kestrel", xdg);
    mkdir(xdg, 0700);
    mkdir(xdgfile, 0700);
    snprintf(xdgfile, sizeof xdgfile, "%s/kestrel/kestrel.cfg", xdg);
    snprintf(home, sizeof home, "%s/home", tmpdir);
    mkdir(home, 0700);
    snprintf(homefile, sizeof homefile, "%s/.config", home);
    mkdir(homefile, 0700);
    snprintf(homefile, sizeof homefile, "%s/.config/kestrel", home);
    mkdir(homefile, 0700);
    snprintf(homefile, sizeof homefile, "%s/.config/kestrel/kestrel.cfg", home);
    snprintf(envfile, sizeof envfile, "%s/env.cfg", tmpdir);
    char work[600], workcfg[700];
    snprintf(work, sizeof work, "%s/work", tmpdir);
    mkdir(work, 0700);
    snprintf(workcfg, sizeof workcfg, "%s/config", work);
    mkdir(workcfg, 0700);
    snprintf(workcfg, sizeof workcfg, "%s/config/kestrel.cfg", work);
    char explicit[600];
    snprintf(explicit, sizeof explicit, "%s/explicit.cfg", tmpdir);

    CHECK_INT(write_cfg(explicit, 1), 0);
    CHECK_INT(write_cfg(envfile, 2), 0);
    CHECK_INT(write_cfg(xdgfile, 3), 0);
    CHECK_INT(write_cfg(homefile, 4), 0);
    CHECK_INT(write_cfg(workcfg, 5), 0);
    CHECK_INT(chdir(work), 0);
    setenv("HOME", home, 1);
    setenv("XDG_CONFIG_HOME", xdg, 1);
    setenv("KESTREL_CONFIG", envfile, 1);

    CHECK_INT(config_load(&c, explicit, collect, &w, err, sizeof err), K_OK);
    CHECK_INT(c.ui_fps, 1);
    CHECK_STR(c.source, explicit);
    CHECK_INT(config_load(&c, NULL, collect, &w, err, sizeof err), K_OK);
    CHECK_INT(c.ui_fps, 2);
    CHECK_STR(c.source, envfile);
    CHECK_INT(config_load(&c, "", collect, &w, err, sizeof err), K_OK); /* "" = not given */
    CHECK_INT(c.ui_fps, 2);
    setenv("KESTREL_CONFIG", "", 1); /* empty = unset */
    CHECK_INT(config_load(&c, NULL, collect, &w, err, sizeof err), K_OK);
    CHECK_INT(c.ui_fps, 3);
    CHECK_STR(c.source, xdgfile);
    unsetenv("KESTREL_CONFIG");
    CHECK_INT(config_load(&c, NULL, collect, &w, err, sizeof err), K_OK);
    CHECK_INT(c.ui_fps, 3);
    unsetenv("XDG_CONFIG_HOME");
    CHECK_INT(config_load(&c, NULL, collect, &w, err, sizeof err), K_OK);
    CHECK_INT(c.ui_fps, 4);
    CHECK_STR(c.source, homefile);
    /* XDG_CONFIG_HOME set but without a kestrel.cfg: ~/.config is NOT consulted (XDG rule) */
    setenv("XDG_CONFIG_HOME", tmpdir, 1);
    CHECK_INT(config_load(&c, NULL, collect, &w, err, sizeof err), K_OK);
    CHECK_INT(c.ui_fps, 5);
    CHECK_STR(c.source, "./config/kestrel.cfg");
    unsetenv("XDG_CONFIG_HOME");
    unlink(homefile);
    CHECK_INT(config_load(&c, NULL, collect, &w, err, sizeof err), K_OK);
    CHECK_INT(c.ui_fps, 5);
    CHECK_STR(c.source, "./config/kestrel.cfg");
    unlink(workcfg);
    unsetenv("HOME"); /* no HOME: the user location is skipped, not an error */
    if (!etc_exists) {
        memset(&c, 0x5a, sizeof c);
        CHECK_INT(config_load(&c, NULL, collect, &w, err, sizeof err), K_OK);
        CHECK_STR(c.source, "");
        CHECK_INT(c.ui_fps, 30);
        CHECK_STR(c.db_path, "./kestrel.db");
    }
    setenv("HOME", "/home/tester", 1);

    /* explicitly named files that do not exist are errors */
    unlink(explicit);
    CHECK_INT(config_load(&c, explicit, collect, &w, err, sizeof err), K_ERR);
    snprintf(want, sizeof want,
             "%s: cannot read config file named by --config: No such file or directory",
             explicit);
    CHECK_STR(err, want);
    unlink(envfile);
    setenv("KESTREL_CONFIG", envfile, 1);
    CHECK_INT(config_load(&c, NULL, collect, &w, err, sizeof err), K_ERR);
    snprintf(want, sizeof want,
             "%s: cannot read config file named by $KESTREL_CONFIG: No such file or directory",
             envfile);
    CHECK_STR(err, want);
    unsetenv("KESTREL_CONFIG");

    /* a found file with an error is an error (no fall-through to the next location) */
    setenv("XDG_CONFIG_HOME", xdg, 1);
    CHECK_INT(write_cfg(xdgfile, 61), 0);
    CHECK_INT(write_cfg(workcfg, 5), 0);
    CHECK_INT(config_load(&c, NULL, collect, &w, err, sizeof err), K_ERR);
    snprintf(want, sizeof want, "%s:1: ui.fps = 61 is out of range (expected an integer 1..60)",
             xdgfile);
    CHECK_STR(err, want);
    unsetenv("XDG_CONFIG_HOME");

    CHECK_INT(chdir(cwd), 0);
}

/* Bounded before libconfig parses anything: 100,000 keys are refused by size, 5000 small ones
 * by count (libconfig 1.5 is quadratic: 20,000 keys take seconds); an @include of a FIFO is
 * refused at once (not blocked in open), @includes count into the same caps; only the first 8
 * unknown keys get a did-you-mean, then one summary line. */
static void test_bounds(void)
{
    kconfig c;
    warns w;
    char err[1024], want[1200];
    size_t cap = 100000 * 12 + 64, o = 0;
    char *text = malloc(cap);
    o += (size_t)snprintf(text + o, cap - o, "ui = {\n");
    for (int i = 0; i < 100000; i++)
        o += (size_t)snprintf(text + o, cap - o, "k%d = 1;\n", i);
    snprintf(text + o, cap - o, "};\n");
    CHECK_INT(load_text(&c, text, &w, err, sizeof err), K_ERR);
    CHECK(strstr(err, "config file too large") != NULL);
    printf("100k keys: %s\n", err);
    text[0] = '\0';
    o = 0;
    o += (size_t)snprintf(text + o, cap - o, "ui = {\n");
    for (int i = 0; i < 5000; i++)
        o += (size_t)snprintf(text + o, cap - o, "k%d=1;\n", i);
    snprintf(text + o, cap - o, "};\n");
    CHECK_INT(load_text(&c, text, &w, err, sizeof err), K_ERR);
    snprintf(want, sizeof want, "%s/t.cfg: too many settings (5001, at most 1024; a real config "
             "has a few dozen)", tmpdir);
    CHECK_STR(err, want);
    CHECK_INT(w.n, 0);

    /* '=' and ':' in comments and strings are not settings */
    o = 0;
    o += (size_t)snprintf(text + o, cap - o, "# a=b c:d\n/* = : = */\nlog = { file = \"");
    for (int i = 0; i < 3000; i++)
        o += (size_t)snprintf(text + o, cap - o, "=:");
    snprintf(text + o, cap - o, "\"; };\n// x=1\n");
    CHECK_INT(load_text(&c, text, &w, err, sizeof err), K_ERR); /* the path is too long... */
    CHECK(strstr(err, "too many settings") == NULL);             /* ...but not "too many" */

    /* 1000 unknown keys: 8 warnings, then one line for the rest */
    o = 0;
    o += (size_t)snprintf(text + o, cap - o, "ui = {\n");
    for (int i = 0; i < 1000; i++)
        o += (size_t)snprintf(text + o, cap - o, "fpx%d = 1;\n", i);
    snprintf(text + o, cap - o, "};\n");
    CHECK_INT(load_text(&c, text, &w, err, sizeof err), K_OK);
    CHECK_INT(w.n, 9);
    CHECK(strstr(w.msg[0], "unknown key 'ui.fpx0' ignored") != NULL);
    snprintf(want, sizeof want, "%s/t.cfg: 992 more unknown keys ignored", tmpdir);
    CHECK_STR(w.msg[8], want);
    free(text);

    /* @include of a FIFO: refused, named, without blocking */
    char fifo[600];
    snprintf(fifo, sizeof fifo, "%s/inc.fifo", tmpdir);
    CHECK_INT(mkfifo(fifo, 0600), 0);
    char inc[1200];
    snprintf(inc, sizeof inc, "# main\n@include \"%s\"\n", fifo);
    CHECK_INT(load_text(&c, inc, &w, err, sizeof err), K_ERR);
    snprintf(want, sizeof want, "%s/t.cfg:2: @include %s: not a regular file", tmpdir, fifo);
    CHECK_STR(err, want);
    /* the main file itself as a FIFO: refused the same way */
    CHECK_INT(config_load_file(&c, fifo, collect, &w, err, sizeof err), K_ERR);
    snprintf(want, sizeof want, "%s: not a regular file", fifo);
    CHECK_STR(err, want);
    unlink(fifo);

    /* @includes count into the caps: two 200 KiB files are too large together */
    char *pad = malloc(200 * 1024 + 1);
    memset(pad, '#', 200 * 1024);
    pad[200 * 1024] = '\0';
    pad[200 * 1024 - 1] = '\n';
    put("pad.cfg", pad);
    free(pad);
    snprintf(inc, sizeof inc, "@include \"%s/pad.cfg\"\n@include \"%s/pad.cfg\"\n", tmpdir,
             tmpdir);
    CHECK_INT(load_text(&c, inc, &w, err, sizeof err), K_ERR);
    CHECK(strstr(err, "t.cfg:2: @include") != NULL && strstr(err, "too large together") != NULL);
    /* an include that includes itself: stopped at the nesting limit */
    snprintf(inc, sizeof inc, "@include \"%s/self.cfg\"\n", tmpdir);
    put("self.cfg", inc);
    CHECK_INT(load_text(&c, inc, &w, err, sizeof err), K_ERR);
    CHECK(strstr(err, "nested too deeply") != NULL);
    /* a good include still works */
    put("good.cfg", "ui = { fps = 20; };\n");
    snprintf(inc, sizeof inc, "@include \"%s/good.cfg\"\n", tmpdir);
    CHECK_INT(load_text(&c, inc, &w, err, sizeof err), K_OK);
    CHECK_INT(c.ui_fps, 20);
}

/* trading keys: kept as validated text in file order; bad values stop the load with file:line
 * and the trading module's own range; typos get a did-you-mean */
static void test_trading_keys(void)
{
    kconfig c;
    expect_ok("paper: {\n"
              "  balances: { USDT = \"5000\"; BTC = \"0.5\"; };\n"
              "  slippage_cap_pct = 0.25;\n"
              "};\n"
              "fees: { binance-spot: { maker = 0.075; taker = \"0.075\"; };\n"
              "        okx: { taker = 0; }; };\n"
              "risk: { size_mode = \"risk_pct\"; max_positions = 4; daily_loss_pct = 2.5; };\n",
              &c);
    CHECK_INT(c.trade_count, 9);
    static const char *const want[][2] = {
        {"paper.balances.USDT", "5000"}, {"paper.balances.BTC", "0.5"},
        {"paper.slippage_cap_pct", "0.25"}, {"fees.binance-spot.maker", "0.075"},
        {"fees.binance-spot.taker", "0.075"}, {"fees.okx.taker", "0"},
        {"risk.size_mode", "risk_pct"}, {"risk.max_positions", "4"},
        {"risk.daily_loss_pct", "2.5"},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        int k = 0;
        while (k < c.trade_count && strcmp(c.trade[k].key, want[i][0]))
            k++;
        CHECK(k < c.trade_count);
        if (k < c.trade_count)
            CHECK_STR(c.trade[k].value, want[i][1]);
    }
    kconfig d;
    config_defaults(&d);
    CHECK_INT(d.trade_count, 0);
    expect_err("risk: { max_positions = 0; };\n",
               "1: risk.max_positions 0 outside [1, 100] (integer) (expected an integer 1..100)");
    expect_err("risk: { size_mode = \"yolo\"; };\n",
               "1: risk.size_mode yolo not one of fixed_quote, risk_pct, kelly, confidence "
               "(expected one of fixed_quote risk_pct kelly confidence)");
    expect_err("risk: { max_leverage = 11; };\n",
               "1: risk.max_leverage 11 outside [1, 10] (integer) (expected an integer 1..10)");
    expect_err("fees: { binance-spot: { taker = 9; }; };\n",
               "1: fees.binance-spot.taker 9 outside [0, 5] (expected percent, 0..5)");
    expect_err("paper: { slippage_cap_pct = 0; };\n",
               "1: paper.slippage_cap_pct 0 outside [0.01, 100] (expected percent, 0.01..100)");
    expect_err("paper: {\n  balances: { USDT = \"-1\"; };\n};\n",
               "2: paper.balances.USDT -1 outside [0, 90000000000] (expected an amount >= 0, "
               "e.g. USDT = \"10000\")");
    expect_err("paper: { balances = 3; };\n",
               "1: paper.balances must be a group (expected paper.balances { ... })");
    expect_err("risk: { max_positions = true; };\n",
               "1: risk.max_positions must be a number or a string (expected an integer "
               "1..100)");
    warns w;
    char err[1024];
    CHECK_INT(load_text(&c, "risk: { max_position = 4; };\nfees: { binance-spot: { takr = 1; "
                            "}; };\n", &w, err, sizeof err), K_OK);
    CHECK_INT(w.n, 2);
    char exp[1024];
    snprintf(exp, sizeof exp, "%s/t.cfg:1: unknown key 'risk.max_position' ignored (did you mean "
             "'risk.max_positions'?)", tmpdir);
    CHECK_STR(w.msg[0], exp);
    snprintf(exp, sizeof exp, "%s/t.cfg:2: unknown key 'fees.binance-spot.takr' ignored (did you "
             "mean 'fees.binance-spot.taker'?)", tmpdir);
    CHECK_STR(w.msg[1], exp);
}

/* The market's limits are admitted against limits.memory_mb: the old defaults (256 symbols, 5000
 * levels, 4096 buffered diffs, 2000 bars) are refused with the numbers; the same limits with a
 * budget that holds them load; the new defaults fit 100 symbols in 64 MB with room left. */
static void test_memory_budget(void)
{
    static const char *old = "market = { max_symbols = 256; book_levels = 5000; "
                             "book_buffered = 4096; candles_max = 2000; };\n";
    kconfig c;
    warns w;
    char err[1024];
    CHECK_INT(load_text(&c, old, &w, err, sizeof err), K_ERR);
    market_limits big = {.max_symbols = 256, .book_levels = 5000, .book_buffered = 4096,
                         .tape_size = 512, .candles_max = 2000, .memory_mb = 64};
    market_memory mm = market_limits_memory(&big);
    char want[160];
    snprintf(want, sizeof want, "= %.2f MB; with 10 MB for the process that is over "
             "limits.memory_mb = 64", (double)mm.market / 1048576.0);
    CHECK(strstr(err, want) != NULL);
    CHECK(strstr(err, "t.cfg: the market needs 256 symbols x ") != NULL);
    CHECK(strstr(err, "for 5000 levels and 4096 buffered diffs") != NULL);
    CHECK(strstr(err, "for 2000 bars x 7 timeframes") != NULL);
    printf("refused: %s\n", err);
    CHECK(mm.market > (size_t)500 << 20); /* ~595 MB: books 1.35 MB, candles 986 KB each */

    char fits[256];
    snprintf(fits, sizeof fits, "%slimits = { memory_mb = %zu; };\n", old,
             (mm.market + mm.reserve) / 1048576 + 1);
    expect_ok(fits, &c);
    CHECK_INT(c.limits.max_symbols, 256);
    expect_err("limits = { memory_mb = 15; };\n",
               "1: limits.memory_mb = 15 is out of range (expected an integer 16..1048576 (MB))");

    /* the defaults: 100 symbols, well inside 64 MB, with room for the default indicators */
    kconfig d;
    config_defaults(&d);
    mm = market_limits_memory(&d.limits);
    CHECK_INT(market_limits_check(&d.limits, err, sizeof err), K_OK);
    CHECK_INT(mm.max_symbols, 100);
    CHECK(mm.reserve + mm.market < (size_t)64 << 20);
    CHECK(mm.left > (size_t)12 << 20);
    printf("defaults: %u symbols x %zu bytes = %.1f MB + %zu MB reserve; %.1f MB left\n",
           mm.max_symbols, mm.per_symbol, (double)mm.market / 1048576.0, mm.reserve >> 20,
           (double)mm.left / 1048576.0);
}

/* source, watch and venues.* (live data; the names are a contract: docs/CONFIG.md). */
static void test_live_keys(void)
{
    kconfig c;
    expect_ok("source = \"live\";\n"
              "watch = [\"binance-spot:BTCUSDT\", \"okx:BTC-USDT-SWAP\"];\n"
              "venues = {\n"
              "  binance-spot = { network = \"testnet\"; rest_url = \"https://h:1\"; };\n"
              "  binance-usdm = { ws_public_url = \"wss://p\"; ws_market_url = \"wss://m\";\n"
              "                   ca_file = \"~/ca.pem\"; };\n"
              "  okx = { network = \"demo\"; ws_url = \"wss://o:8443\"; };\n"
              "};\n",
              &c);
    CHECK(c.source_live);
    CHECK_INT(c.watch_count, 2);
    CHECK_STR(c.watch[1], "okx:BTC-USDT-SWAP");
    CHECK_STR(c.venues[VENUE_BINANCE_SPOT].network, "testnet");
    CHECK_STR(c.venues[VENUE_BINANCE_SPOT].rest_url, "https://h:1");
    CHECK_STR(c.venues[VENUE_BINANCE_USDM].ws_public_url, "wss://p");
    CHECK_STR(c.venues[VENUE_BINANCE_USDM].ws_market_url, "wss://m");
    CHECK_STR(c.venues[VENUE_BINANCE_USDM].ca_file, "/home/tester/ca.pem");
    CHECK_STR(c.venues[VENUE_OKX].network, "demo");
    CHECK_STR(c.venues[VENUE_OKX].ws_url, "wss://o:8443");
    expect_ok("source = \"replay\";\n", &c);
    CHECK(!c.source_live);
    CHECK_INT(c.watch_count, 0);

    expect_err("source = \"lve\";\n",
               "1: source = \"lve\" is not valid (expected \"replay\" or \"live\")");
    expect_err("\nwatch = [\"binance-spot:BTCUSDT\", \"kraken:XBT\"];\n",
               "2: watch[1]: unknown venue 'kraken' (binance-spot, binance-usdm, okx) "
               "(expected \"venue:SYMBOL\", e.g. \"binance-spot:BTCUSDT\")");
    expect_err("watch = \"binance-spot:BTCUSDT\";\n",
               "1: watch must be a list (expected [\"venue:SYMBOL\", ...])");
    /* a backup venue for failover (docs/LIVE.md), and the health keys */
    expect_ok("watch = [\"okx:BTC-USDT@binance-spot:BTCUSDT\", \"binance-usdm:ETHUSDT\"];\n"
              "health = { stall_factor = 20; failover_after_s = 2.5; failback_after_s = 30;"
              " alert_interval_s = 0; warm_standby = true; };\n", &c);
    CHECK_INT(c.watch_count, 2);
    CHECK(c.health_warm_standby);
    CHECK_STR(c.watch[0], "okx:BTC-USDT@binance-spot:BTCUSDT");
    CHECK_NEAR(c.health_stall_factor, 20, 0);
    CHECK_NEAR(c.health_failover_after_s, 2.5, 0);
    CHECK_NEAR(c.health_failback_after_s, 30, 0);
    CHECK_NEAR(c.health_alert_interval_s, 0, 0);
    expect_ok("source = \"replay\";\n", &c);
    CHECK_NEAR(c.health_stall_factor, 50, 0);
    CHECK_NEAR(c.health_failover_after_s, 5, 0);
    CHECK_NEAR(c.health_failback_after_s, 15, 0);
    CHECK_NEAR(c.health_alert_interval_s, 60, 0);
    CHECK(!c.health_warm_standby); /* off by default */
    expect_err("health = { warm_standby = 1; };\n",
               "1: health.warm_standby must be true or false");
    {   /* the watch list holds CONFIG_MAX_WATCH (128: 100 symbols and their backups) */
        static char big[CONFIG_MAX_WATCH * 32 + 64];
        size_t n = (size_t)snprintf(big, sizeof big, "watch = [");
        for (int i = 0; i < CONFIG_MAX_WATCH + 1; i++)
            n += (size_t)snprintf(big + n, sizeof big - n, "%s\"binance-usdm:S%d\"", i ? "," : "",
                                  i);
        snprintf(big + n, sizeof big - n, "];\n");
        expect_err(big, "1: watch has 129 entries (at most 128)");
        char *cut = strstr(big, ",\"binance-usdm:S128\"");
        CHECK(cut != NULL);
        if (cut)
            strcpy(cut, "];\n");
        expect_ok(big, &c);
        CHECK_INT(c.watch_count, CONFIG_MAX_WATCH);
    }
    expect_err("watch = [\"okx:BTC-USDT@kraken:XBT\"];\n",
               "1: watch[0]: backup: unknown venue 'kraken' (binance-spot, binance-usdm, okx) "
               "(expected \"venue:SYMBOL\", e.g. \"binance-spot:BTCUSDT\")");
    expect_err("watch = [\"okx:BTC-USDT@okx:A@okx:B\"];\n",
               "1: watch[0]: at most one backup ('@') (expected \"venue:SYMBOL\", e.g. "
               "\"binance-spot:BTCUSDT\")");
    expect_err("watch = [\"okx:@binance-spot:BTCUSDT\"];\n",
               "1: watch[0]: bad symbol (1..23 letters, digits and '-') (expected "
               "\"venue:SYMBOL\", e.g. \"binance-spot:BTCUSDT\")");
    expect_err("health = { stall_factor = 1; };\n",
               "1: health.stall_factor = 1 is out of range (expected 2..1000 (times the "
               "stream's expected cadence))");
    expect_err("health = { failover_after_s = 0; };\n",
               "1: health.failover_after_s = 0 is out of range (expected 0.5..3600 (seconds))");
    expect_err("venues = { okx = { network = \"testnet\"; }; };\n",
               "1: venues.okx.network = \"testnet\" is not valid (expected mainnet or demo)");
    expect_err("venues = { binance-spot = { ws_url = \"stream.binance.com\"; }; };\n",
               "1: venues.binance-spot.ws_url = \"stream.binance.com\" is not valid (expected a "
               "base URL: wss://host[:port])");

    warns w;
    char err[1024];
    CHECK_INT(load_text(&c, "venues = { okx = { ws_ulr = \"x\"; rest = \"y\"; }; };\n", &w, err,
                        sizeof err),
              K_OK);
    CHECK_INT(w.n, 2);
    char want[600];
    snprintf(want, sizeof want, "%s/t.cfg:1: unknown key 'venues.okx.ws_ulr' ignored (did you "
             "mean 'venues.okx.ws_url'?)", tmpdir);
    CHECK_STR(w.msg[0], want);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/kestrel-test-config.XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 2;
    }
    unsetenv("KESTREL_CONFIG");
    unsetenv("XDG_CONFIG_HOME");
    unsetenv("XDG_DATA_HOME");
    setenv("HOME", "/home/tester", 1);

    test_defaults();
    test_shipped();
    test_values();
    test_errors();
    test_too_long();
    test_unknown_keys();
    test_files();
    test_paths();
    test_search_order();
    test_bounds();
    test_trading_keys();
    test_memory_budget();
    test_live_keys();

    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmpdir);
    CHECK_DONE();
}
