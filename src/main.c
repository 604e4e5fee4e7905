/* Entry point: the command line, the one app instance, start and stop order.
 *
 *   kestrel [options]          the workstation (UI, or --headless)
 *   kestrel ctl ...            control-socket client
 *   kestrel ta ...             indicators over a kline CSV
 *
 * Start order: config (validated, immutable) -> CLI overrides -> log -> app_start (store, market,
 * replay, control socket, UI) -> loop. Stop order is the reverse, with the store flushed before
 * the terminal is restored. Usage errors print one line on stderr and exit 2. SIGINT, SIGTERM,
 * SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 all end the run the same orderly way (app_start's signal
 * list); an out-of-memory abort restores the terminal through xmalloc's fail hook. */
#include "kestrel/app.h"
#include "kestrel/cmd.h"
#include "kestrel/ctl.h"
#include "kestrel/deeplib.h"
#include "kestrel/backtest.h"
#include "kestrel/download.h"
#include "kestrel/trading.h"
#include "kestrel/json.h"
#include "kestrel/live.h"
#include "kestrel/ta_cli.h"
#include "kestrel/ui.h"
#include "kestrel/xmalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <locale.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static app the_app; /* the only mutable global: everything else lives inside it */

static void main_usage(FILE *f)
{
    fputs("usage: kestrel [options]\n"
          "       kestrel ctl [--socket PATH] [--config FILE] CMD [ARGS...]\n"
          "       kestrel ta --data FILE.csv [--indicators LIST] [--format csv|json] | --list\n"
          "       kestrel backtest --data FILE[,FILE...] [options]   (kestrel backtest --help)\n"
          "       kestrel check [--config FILE] [--watch VENUE:SYMBOL[,...]]  (live connectivity)\n"
          "       kestrel record --out FILE.gz [--config FILE] [--seconds N] [VENUE:SYMBOL...]\n"
          "\n"
          "options:\n"
          "  --config FILE        configuration file (default: search, see kestrel(1))\n"
          "  --db FILE            SQLite database (default $XDG_DATA_HOME/kestrel/kestrel.db)\n"
          "  --replay FILE[,FILE...]  replay recorded captures (default: the bundled data)\n"
          "  --speed X            replay speed: 1 = recorded pace, 0 = as fast as possible\n"
          "  --headless           no terminal UI (log to --log FILE or stderr)\n"
          "  --exit-at-end        exit when the replay ends and print the status JSON\n"
          "  --loop               replay the files forever, the data clock going on\n"
          "  --live               live market data from the venues (config source = \"live\")\n"
          "  --watch V:SYM[,...]  live watch list, e.g. binance-spot:BTCUSDT,okx:BTC-USDT-SWAP\n"
          "  --record FILE.gz     live: record the session from its start (replay: --replay)\n"
          "  --theme NAME         colour theme from themes/ (default, mono, amber)\n"
          "  --log FILE           log file\n"
          "  --socket PATH        control socket path\n"
          "  --help, --version\n",
          f);
}

static void main_warn(void *ud, const char *msg)
{
    fprintf(stderr, "kestrel: warning: %s\n", msg);
    /* the UI covers stderr at once: repeat the (last) warning in its flash line */
    app_flash(ud, "config warning: %s", msg);
}

/* --db DIR/FILE with a DIR that does not exist: said, not created silently. */
static int main_check_db_dir(const char *path)
{
    char dir[CONFIG_PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash)
        return K_OK; /* the working directory */
    if (slash == dir)
        slash[1] = '\0';
    else
        *slash = '\0';
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "kestrel: --db %s: the directory %s does not exist (create it first)\n",
                path, dir);
        return K_ERR;
    }
    return K_OK;
}

static int main_copy(char *dst, size_t cap, const char *src, const char *opt)
{
    if (strlen(src) >= cap) {
        fprintf(stderr, "kestrel: %s: path too long (max %zu bytes)\n", opt, cap - 1);
        return K_ERR;
    }
    strcpy(dst, src);
    return K_OK;
}

static int main_parse_speed(const char *s, double *out)
{
    char err[128];
    if (cmd_parse_speed(s, out, err, sizeof err) != K_OK) { /* the one validator (ctl speed) */
        fprintf(stderr, "kestrel: --%s\n", err);
        return K_ERR;
    }
    return K_OK;
}

static int main_split_replay(kconfig *cfg, const char *list)
{
    cfg->replay_count = 0;
    const char *p = list;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        if (n == 0) {
            fprintf(stderr, "kestrel: --replay: empty file name in '%s'\n", list);
            return K_ERR;
        }
        if (cfg->replay_count >= CONFIG_MAX_REPLAY) {
            fprintf(stderr, "kestrel: --replay: at most %d files\n", CONFIG_MAX_REPLAY);
            return K_ERR;
        }
        if (n >= CONFIG_PATH_MAX) {
            fprintf(stderr, "kestrel: --replay: path too long\n");
            return K_ERR;
        }
        memcpy(cfg->replay_files[cfg->replay_count], p, n);
        cfg->replay_files[cfg->replay_count][n] = '\0';
        cfg->replay_count++;
        p += n;
        if (*p == ',')
            p++;
    }
    if (cfg->replay_count == 0) {
        fprintf(stderr, "kestrel: --replay needs at least one file\n");
        return K_ERR;
    }
    return K_OK;
}

/* --watch venue:SYMBOL[,...]: replaces the config's watch list (each entry checked here). */
static int main_split_watch(kconfig *cfg, const char *list)
{
    cfg->watch_count = 0;
    for (const char *p = list; *p;) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        char one[CONFIG_WATCH_MAX], sym[KSYM_MAX], err[200];
        enum venue v;
        if (n == 0 || n >= sizeof one) {
            fprintf(stderr, "kestrel: --watch: bad entry in '%s' (expected venue:SYMBOL)\n", list);
            return K_ERR;
        }
        memcpy(one, p, n);
        one[n] = '\0';
        char *at = strchr(one, '@'); /* venue:SYMBOL@venue:SYMBOL: a backup for failover */
        if (at)
            *at = '\0';
        if (live_parse_watch(one, &v, sym, sizeof sym, err, sizeof err) != K_OK ||
            (at && live_parse_watch(at + 1, &v, sym, sizeof sym, err, sizeof err) != K_OK)) {
            fprintf(stderr, "kestrel: --watch: %s\n", err);
            return K_ERR;
        }
        if (at)
            *at = '@';
        if (cfg->watch_count >= CONFIG_MAX_WATCH) {
            fprintf(stderr, "kestrel: --watch: at most %d entries\n", CONFIG_MAX_WATCH);
            return K_ERR;
        }
        memcpy(cfg->watch[cfg->watch_count++], one, n + 1);
        p += n;
        if (*p == ',')
            p++;
    }
    if (cfg->watch_count == 0) {
        fprintf(stderr, "kestrel: --watch needs at least one venue:SYMBOL\n");
        return K_ERR;
    }
    return K_OK;
}

/* kestrel check [--config FILE] [--watch V:SYM[,...]]: the connectivity self-test. */
static int main_check(int argc, char **argv)
{
    const char *config_path = NULL, *watch = NULL;
    for (int i = 1; i < argc; i++) {
        if ((strcmp(argv[i], "--config") == 0 || strcmp(argv[i], "--watch") == 0) &&
            i + 1 < argc) {
            *(argv[i][2] == 'c' ? &config_path : &watch) = argv[i + 1];
            i++;
        } else {
            fprintf(stderr, "kestrel check: unexpected argument '%s' (usage: kestrel check "
                            "[--config FILE] [--watch VENUE:SYMBOL[,...]])\n", argv[i]);
            return 2;
        }
    }
    kconfig *cfg = xmalloc(sizeof *cfg);
    char err[1024];
    int rc = 2;
    if (config_load(cfg, config_path, NULL, NULL, err, sizeof err) != K_OK)
        fprintf(stderr, "kestrel check: %s\n", err);
    else if (!watch || main_split_watch(cfg, watch) == K_OK)
        rc = live_check_main(cfg);
    free(cfg);
    return rc;
}

/* kestrel record --out FILE.gz [--config FILE] [--seconds N] [VENUE:SYMBOL...]: records the
 * watch list (the arguments, else the config's) into a replayable capture until SIGINT /
 * SIGTERM or N seconds. */
static int main_record(int argc, char **argv)
{
    const char *config_path = NULL, *out = NULL;
    double seconds = 0;
    kconfig *cfg = xmalloc(sizeof *cfg);
    char err[1024], list[CONFIG_MAX_WATCH * CONFIG_WATCH_MAX + 1] = "";
    int rc = 2;
    for (int i = 1; i < argc; i++) {
        if ((strcmp(argv[i], "--config") == 0 || strcmp(argv[i], "--out") == 0 ||
             strcmp(argv[i], "--seconds") == 0) && i + 1 < argc) {
            if (argv[i][2] == 'c') {
                config_path = argv[++i];
            } else if (argv[i][2] == 'o') {
                out = argv[++i];
            } else {
                char *end;
                seconds = strtod(argv[++i], &end);
                if (*end || !(seconds > 0 && seconds <= 31.0 * 86400)) {
                    fprintf(stderr, "kestrel record: --seconds '%s' is not a number of seconds "
                                    "(0 < N <= 2678400)\n", argv[i]);
                    goto out;
                }
            }
        } else if (argv[i][0] != '-' && strlen(list) + strlen(argv[i]) + 2 < sizeof list) {
            if (list[0])
                strcat(list, ",");
            strcat(list, argv[i]);
        } else {
            fprintf(stderr, "kestrel record: unexpected argument '%s' (usage: kestrel record "
                            "--out FILE.gz [--config FILE] [--seconds N] [VENUE:SYMBOL...])\n",
                    argv[i]);
            goto out;
        }
    }
    if (!out || !out[0]) {
        fprintf(stderr, "kestrel record: --out FILE.gz is required\n");
        goto out;
    }
    if (config_load(cfg, config_path, NULL, NULL, err, sizeof err) != K_OK)
        fprintf(stderr, "kestrel record: %s\n", err);
    else if (!list[0] || main_split_watch(cfg, list) == K_OK)
        rc = live_record_main(cfg, out, seconds);
out:
    free(cfg);
    return rc;
}

/* xmalloc's fail hook: an out-of-memory abort gives the shell its terminal back first (endwin,
 * then the tty layer writes what is left and restores the saved modes: icanon, echo). */
static void main_oom_restore(void *ud)
{
    app *a = ud;
    if (a->ui)
        ui_emergency_restore(a->ui);
}

/* A closed stdin/stdout/stderr would be reused by the next open() (the database lock, the
 * socket, a replay file) and then written to as if it were the terminal: park /dev/null there. */
static void main_guard_std_fds(void)
{
    for (int fd = 0; fd <= 2; fd++) {
        if (fcntl(fd, F_GETFD) != -1 || errno != EBADF)
            continue;
        int n = open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);
        if (n >= 0 && n != fd) { /* cannot happen: the lowest free descriptor is fd */
            dup2(n, fd);
            close(n);
        }
    }
}

int main(int argc, char **argv)
{
    main_guard_std_fds();
    /* A file size limit (ulimit -f) makes writes fail with EFBIG instead of killing us: the store
     * reports and retries them, the log goes on. */
    signal(SIGXFSZ, SIG_IGN);
    json_init(); /* cJSON allocates through xmalloc: no unchecked NULL from it anywhere */
    deeplib_env_init(); /* setenv before any thread exists (deeplib.h) */
    if (argc > 1 && strcmp(argv[1], "ctl") == 0)
        return ctl_client_main(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "ta") == 0)
        return ta_cli_main(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "backtest") == 0)
        return backtest_main(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "export") == 0)
        return trading_export_main(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "download") == 0)
        return download_main(argc - 1, argv + 1);

    if (argc > 1 && strcmp(argv[1], "check") == 0)
        return main_check(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "record") == 0)
        return main_record(argc - 1, argv + 1);

    enum { OPT_CONFIG = 256, OPT_DB, OPT_REPLAY, OPT_SPEED, OPT_HEADLESS, OPT_EXIT_AT_END, OPT_LOOP,
           OPT_THEME, OPT_LOG, OPT_SOCKET, OPT_HELP, OPT_VERSION, OPT_LIVE, OPT_WATCH,
           OPT_RECORD };
    static const struct option opts[] = {
        {"config", required_argument, 0, OPT_CONFIG},
        {"db", required_argument, 0, OPT_DB},
        {"replay", required_argument, 0, OPT_REPLAY},
        {"speed", required_argument, 0, OPT_SPEED},
        {"headless", no_argument, 0, OPT_HEADLESS},
        {"exit-at-end", no_argument, 0, OPT_EXIT_AT_END},
        {"loop", no_argument, 0, OPT_LOOP},
        {"theme", required_argument, 0, OPT_THEME},
        {"log", required_argument, 0, OPT_LOG},
        {"socket", required_argument, 0, OPT_SOCKET},
        {"help", no_argument, 0, OPT_HELP},
        {"version", no_argument, 0, OPT_VERSION},
        {"live", no_argument, 0, OPT_LIVE},
        {"record", required_argument, 0, OPT_RECORD},
        {"watch", required_argument, 0, OPT_WATCH},
        {0, 0, 0, 0},
    };
    const char *config_path = NULL, *db = NULL, *replay = NULL, *speed = NULL, *theme = NULL,
               *logf = NULL, *sock = NULL, *watch = NULL, *record = NULL;
    bool headless = false, exit_at_end = false, loop_files = false, go_live = false;

    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        switch (c) {
        case OPT_CONFIG: config_path = optarg; break;
        case OPT_DB: db = optarg; break;
        case OPT_REPLAY: replay = optarg; break;
        case OPT_SPEED: speed = optarg; break;
        case OPT_HEADLESS: headless = true; break;
        case OPT_EXIT_AT_END: exit_at_end = true; break;
        case OPT_LOOP: loop_files = true; break;
        case OPT_THEME: theme = optarg; break;
        case OPT_LOG: logf = optarg; break;
        case OPT_SOCKET: sock = optarg; break;
        case OPT_LIVE: go_live = true; break;
        case OPT_WATCH: watch = optarg; break;
        case OPT_RECORD: record = optarg; break;
        case OPT_HELP: main_usage(stdout); return 0;
        case OPT_VERSION: printf("kestrel %s\n", KESTREL_VERSION); return 0;
        case ':':
            fprintf(stderr, "kestrel: option '%s' needs a value (see kestrel --help)\n",
                    argv[optind - 1]);
            return 2;
        default:
            fprintf(stderr, "kestrel: unknown option '%s' (see kestrel --help)\n",
                    argv[optind - 1]);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "kestrel: unexpected argument '%s' (see kestrel --help)\n", argv[optind]);
        return 2;
    }

    setlocale(LC_ALL, "");

    app *a = &the_app;
    char err[1024];
    if (config_load(&a->cfg, config_path, main_warn, a, err, sizeof err) != K_OK) {
        fprintf(stderr, "kestrel: %s\n", err);
        return 2;
    }
    if (db && main_copy(a->cfg.db_path, sizeof a->cfg.db_path, db, "--db") != K_OK)
        return 2;
    if (db && main_check_db_dir(db) != K_OK) /* the default data directory is still created */
        return 2;
    if (replay && main_split_replay(&a->cfg, replay) != K_OK)
        return 2;
    if (speed && main_parse_speed(speed, &a->cfg.replay_speed) != K_OK)
        return 2;
    if (theme && main_copy(a->cfg.theme, sizeof a->cfg.theme, theme, "--theme") != K_OK)
        return 2;
    if (!headless && ui_theme_check(a->cfg.theme, err, sizeof err) != K_OK) {
        fprintf(stderr, "kestrel: %s\n", err); /* an unknown theme is a bad value */
        return 2;
    }
    if (logf && main_copy(a->cfg.log_file, sizeof a->cfg.log_file, logf, "--log") != K_OK)
        return 2;
    if (sock && main_copy(a->cfg.socket_path, sizeof a->cfg.socket_path, sock, "--socket") != K_OK)
        return 2;
    if (loop_files)
        a->cfg.replay_loop = true;
    if (go_live && replay) {
        fprintf(stderr, "kestrel: --live and --replay exclude each other\n");
        return 2;
    }
    if (go_live)
        a->cfg.source_live = true;
    else if (replay)
        a->cfg.source_live = false;
    if (watch && main_split_watch(&a->cfg, watch) != K_OK)
        return 2;
    if (record && !a->cfg.source_live) {
        fprintf(stderr, "kestrel: --record needs live data (--live); a replay is a recording\n");
        return 2;
    }
    if (record && main_copy(a->cfg.record_out, sizeof a->cfg.record_out, record, "--record") !=
                      K_OK)
        return 2;
    if (exit_at_end && a->cfg.source_live) {
        fprintf(stderr, "kestrel: --exit-at-end needs a replay (live data has no end)\n");
        return 2;
    }
    if (exit_at_end && a->cfg.replay_count == 0) {
        fprintf(stderr, "kestrel: --exit-at-end needs a replay (--replay FILE)\n");
        return 2;
    }
    if (!headless && (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO))) {
        /* before anything is opened or created: no database, no socket, terminal untouched */
        fprintf(stderr, "kestrel: the terminal UI needs a terminal on stdin and stdout "
                        "(use --headless to run without one)\n");
        return 1;
    }
    a->headless = headless;
    a->exit_at_end = exit_at_end;
    a->version = KESTREL_VERSION;

    xmalloc_set_fail_hook(main_oom_restore, a); /* before app_start opens the UI or threads */
    char args[1024] = "";
    for (int i = 1; i < argc; i++) {
        size_t used = strlen(args);
        snprintf(args + used, sizeof args - used, "%s%s", i > 1 ? " " : "", argv[i]);
    }
    if (app_start(a, args, err, sizeof err) != K_OK) {
        int status = a->exit_status ? a->exit_status : 1;
        app_stop(a);
        fprintf(stderr, "kestrel: %s\n", err);
        return status;
    }
    int rc = app_run(a);
    app_stop(a);
    return rc ? rc : a->exit_status; /* 4: --exit-at-end and the store lost rows (at close) */
}
