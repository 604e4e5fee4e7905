/* Alerts (alerts.h): a ring of the newest ALERTS_HISTORY alerts, the bell flag the UI takes,
 * and the alerts.command child processes. The only system calls on the main thread are
 * pipe2 / one write of < PIPE_BUF bytes into the new, empty pipe (non-blocking write end;
 * written before the child exists, so it cannot raise SIGPIPE) / posix_spawn / close /
 * waitpid(WNOHANG): none of them waits for the child. A child that never reads its stdin gets
 * EOF-less silence and is still reaped once it exits. */
#include "kestrel/alerts.h"

#include "kestrel/xmalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

struct alerts {
    alerts_config cfg;
    klog *log;
    alert ring[ALERTS_HISTORY];
    uint32_t head, n;
    uint64_t seq;
    bool bell_pending;
    alerts_stats st;
    int64_t last_cmd_mono_ms;
    uint64_t suppressed_since; /* alerts not sent to the command since the last one */
    pid_t running[ALERTS_RUNNING];
};

static int64_t alerts_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t alerts_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

alerts *alerts_new(const alerts_config *cfg, klog *log)
{
    alerts *al = xcalloc(1, sizeof *al);
    if (cfg)
        al->cfg = *cfg;
    al->cfg.command[sizeof al->cfg.command - 1] = '\0';
    al->log = log;
    al->last_cmd_mono_ms = INT64_MIN;
    return al;
}

void alerts_reap(alerts *al)
{
    for (int i = 0; i < ALERTS_RUNNING; i++) {
        if (al->running[i] <= 0)
            continue;
        int status = 0;
        pid_t r = waitpid(al->running[i], &status, WNOHANG);
        if (r == al->running[i] || (r < 0 && errno == ECHILD)) {
            if (r == al->running[i] && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
                al->st.commands_failed++;
                if (al->log)
                    log_warn(al->log, "alerts.command exited with status %d",
                             WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
            }
            al->running[i] = 0;
        }
    }
}

void alerts_free(alerts *al)
{
    if (!al)
        return;
    alerts_reap(al); /* children still running are left to finish on their own */
    free(al);
}

static void alerts_iso(int64_t ms, char *b, size_t cap)
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    if (ms < 0 || !gmtime_r(&s, &tm)) {
        snprintf(b, cap, "%lld", (long long)ms);
        return;
    }
    snprintf(b, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
}

cJSON *alerts_alert_json(const alert *a)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    char t[80];
    alerts_iso(a->time_ms, t, sizeof t);
    cJSON_AddNumberToObject(o, "seq", (double)a->seq);
    cJSON_AddStringToObject(o, "time", t);
    cJSON_AddNumberToObject(o, "time_ms", (double)a->time_ms);
    cJSON_AddStringToObject(o, "kind", a->kind);
    cJSON_AddStringToObject(o, "symbol", a->symbol);
    if (isnan(a->value) || isinf(a->value))
        cJSON_AddNullToObject(o, "value");
    else
        cJSON_AddNumberToObject(o, "value", a->value);
    cJSON_AddStringToObject(o, "text", a->text);
    return o;
}

/* Spawns the command with the alert's JSON on stdin. */
static void alerts_run(alerts *al, const alert *a)
{
    int slot = -1;
    for (int i = 0; i < ALERTS_RUNNING && slot < 0; i++)
        if (al->running[i] <= 0)
            slot = i;
    if (slot < 0) {
        al->st.commands_busy++;
        al->suppressed_since++;
        return;
    }
    cJSON *o = alerts_alert_json(a);
    if (o)
        cJSON_AddNumberToObject(o, "suppressed", (double)al->suppressed_since);
    char *txt = o ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    if (!txt) {
        al->st.commands_failed++;
        return;
    }
    char line[PIPE_BUF];
    int len = snprintf(line, sizeof line, "%s\n", txt);
    cJSON_free(txt);
    if (len < 0 || len >= (int)sizeof line) { /* cannot happen: texts are bounded */
        al->st.commands_failed++;
        return;
    }
    int p[2];
    /* the write end non-blocking (ours); the read end blocking (the child's stdin) */
    if (pipe2(p, O_CLOEXEC) != 0) {
        al->st.commands_failed++;
        return;
    }
    /* written before the child exists: an empty pipe takes PIPE_BUF bytes at once, and no
     * reader can have gone away yet (no SIGPIPE, whatever the child does) */
    ssize_t w = -1;
    if (fcntl(p[1], F_SETFL, O_NONBLOCK) == 0)
        w = write(p[1], line, (size_t)len);
    close(p[1]);
    if (w != len) {
        close(p[0]);
        al->st.commands_failed++;
        return;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, p[0], STDIN_FILENO); /* dup2 clears O_CLOEXEC */
    posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
    posix_spawnattr_t at;
    posix_spawnattr_init(&at);
    sigset_t none; /* the child starts with default dispositions and nothing blocked */
    sigemptyset(&none);
    posix_spawnattr_setsigmask(&at, &none);
    sigset_t all;
    sigfillset(&all);
    posix_spawnattr_setsigdefault(&at, &all);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    char *argv[] = {"/bin/sh", "-c", al->cfg.command, NULL};
    pid_t pid = 0;
    int rc = posix_spawn(&pid, "/bin/sh", &fa, &at, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    close(p[0]);
    if (rc != 0) {
        al->st.commands_failed++;
        if (al->log)
            log_warn(al->log, "alerts.command could not be started: %s", strerror(rc));
        return;
    }
    al->running[slot] = pid;
    al->st.commands_run++;
    al->suppressed_since = 0;
}

void alerts_raise(alerts *al, const char *kind, const char *symbol, int64_t time_ms, double value,
                  const char *text)
{
    alerts_reap(al);
    alert *a;
    if (al->n == ALERTS_HISTORY) {
        a = &al->ring[al->head];
        al->head = (al->head + 1) % ALERTS_HISTORY;
    } else {
        a = &al->ring[(al->head + al->n++) % ALERTS_HISTORY];
    }
    memset(a, 0, sizeof *a);
    a->seq = ++al->seq;
    a->time_ms = time_ms;
    a->wall_ms = alerts_wall_ms();
    snprintf(a->kind, sizeof a->kind, "%s", kind ? kind : "?");
    snprintf(a->symbol, sizeof a->symbol, "%s", symbol ? symbol : "");
    a->value = value;
    snprintf(a->text, sizeof a->text, "%s", text ? text : "");
    al->st.raised++;
    if (al->cfg.bell)
        al->bell_pending = true;
    if (al->log)
        log_warn(al->log, "alert %s%s%s: %s", a->kind, a->symbol[0] ? " " : "", a->symbol,
                 a->text);
    if (!al->cfg.command[0])
        return;
    int64_t now = alerts_mono_ms();
    int64_t gap = (int64_t)(al->cfg.rate_limit_s * 1000.0 + 0.5);
    if (al->last_cmd_mono_ms != INT64_MIN && now - al->last_cmd_mono_ms < gap) {
        al->st.commands_suppressed++;
        al->suppressed_since++;
        return;
    }
    al->last_cmd_mono_ms = now;
    alerts_run(al, a);
}

uint32_t alerts_count(const alerts *al)
{
    return al->n;
}

const alert *alerts_at(const alerts *al, uint32_t i)
{
    return i < al->n ? &al->ring[(al->head + i) % ALERTS_HISTORY] : NULL;
}

const alerts_stats *alerts_get_stats(const alerts *al)
{
    return &al->st;
}

bool alerts_take_bell(alerts *al)
{
    bool b = al->bell_pending;
    al->bell_pending = false;
    return b;
}

cJSON *alerts_json(const alerts *al)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *arr = o ? cJSON_AddArrayToObject(o, "alerts") : NULL;
    if (!arr) {
        cJSON_Delete(o);
        return NULL;
    }
    for (uint32_t i = 0; i < al->n; i++) {
        cJSON *x = alerts_alert_json(alerts_at(al, i));
        if (!x) {
            cJSON_Delete(o);
            return NULL;
        }
        cJSON_AddItemToArray(arr, x);
    }
    cJSON_AddNumberToObject(o, "raised", (double)al->st.raised);
    cJSON_AddNumberToObject(o, "commands_run", (double)al->st.commands_run);
    cJSON_AddNumberToObject(o, "commands_suppressed", (double)al->st.commands_suppressed);
    cJSON_AddNumberToObject(o, "commands_failed", (double)al->st.commands_failed);
    cJSON_AddNumberToObject(o, "commands_busy", (double)al->st.commands_busy);
    cJSON_AddBoolToObject(o, "bell", al->cfg.bell);
    cJSON_AddStringToObject(o, "command", al->cfg.command);
    return o;
}
