/* Alerts: the app's list of things a person must know about now (the engine's drift,
 * self-pause, resume and low health events, risk halts / reduce-only, fills), with history, the
 * terminal bell (the UI rings it; alerts.bell) and an optional alerts.command run with the alert
 * as one JSON line on its stdin. The command is rate limited (one per alerts.rate_limit seconds
 * of wall time; alerts inside the window are counted and the next command's JSON says how many
 * were suppressed) and never blocks the loop: its stdin is a new pipe that already holds the JSON
 * (< PIPE_BUF: one write that cannot block) before /bin/sh -c is spawned (posix_spawn), stdout /
 * stderr go to /dev/null, children are reaped without waiting (WNOHANG) and at most
 * ALERTS_RUNNING run at once (more: skipped and counted). Main thread. */
#ifndef KESTREL_ALERTS_H
#define KESTREL_ALERTS_H
#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "kestrel/common.h"
#include "kestrel/log.h"

#define ALERTS_HISTORY 128
#define ALERTS_RUNNING 4
#define ALERTS_COMMAND_MAX 1024

typedef struct alerts_config {
    bool bell;                          /* alerts.bell (true) */
    char command[ALERTS_COMMAND_MAX];   /* alerts.command ("" = none), run by /bin/sh -c */
    double rate_limit_s;                /* alerts.rate_limit (10): seconds between commands */
} alerts_config;

typedef struct alert {
    uint64_t seq;         /* 1, 2, ... since start */
    int64_t time_ms;      /* data clock when raised */
    int64_t wall_ms;      /* wall clock when raised */
    char kind[16];        /* "drift" "paused" "resumed" "health_low" "risk" "fill" ... */
    char symbol[KSYM_MAX];
    double value;         /* NaN when none */
    char text[256];
} alert;

typedef struct alerts_stats {
    uint64_t raised, commands_run, commands_suppressed, commands_failed, commands_busy;
} alerts_stats;

typedef struct alerts alerts;

alerts *alerts_new(const alerts_config *cfg, klog *log); /* log may be NULL */
void alerts_free(alerts *al);

/* Raises one alert: kept in the history, logged (WARN), the bell armed, the command run when
 * the rate limit allows. symbol may be "" or NULL. */
void alerts_raise(alerts *al, const char *kind, const char *symbol, int64_t time_ms, double value,
                  const char *text);
/* Reaps finished commands (never waits). Cheap; call often. */
void alerts_reap(alerts *al);

uint32_t alerts_count(const alerts *al);                /* kept in the history */
const alert *alerts_at(const alerts *al, uint32_t i);   /* 0 = oldest kept */
const alerts_stats *alerts_get_stats(const alerts *al);
/* True once for each batch of alerts raised since the last call, when alerts.bell is on. */
bool alerts_take_bell(alerts *al);
/* One alert as the command's JSON: {"seq","time","kind","symbol","value","text"} (+ extra). */
cJSON *alerts_alert_json(const alert *a);
/* `ctl alerts`: {"alerts": [newest last], "raised", "commands_run", "commands_suppressed",
 * "commands_failed", "commands_busy", "bell", "command"} */
cJSON *alerts_json(const alerts *al);

#endif
