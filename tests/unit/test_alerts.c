/* alerts: the history ring (order, cap), the bell flag, and alerts.command through real /bin/sh
 * children: the alert arrives as one JSON line on the command's stdin, the rate limit suppresses
 * (and counts) alerts inside its window and the next command says how many, at most
 * ALERTS_RUNNING commands run at once (raise returns while they run: children that never read
 * their stdin, or sleep, do not hold the caller), a failing command is counted once reaped.
 * Waits are bounded polls, never sleeps as synchronisation. */
#include "check.h"
#include "kestrel/alerts.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static char dir[] = "/tmp/kestrel-test-alerts.XXXXXX";

static void nap(void)
{
    struct timespec ts = {0, 10 * 1000 * 1000};
    nanosleep(&ts, NULL);
}

/* polls (10 ms steps, at most 10 s) until the file has n complete lines */
static int wait_lines(const char *path, int n)
{
    for (int i = 0; i < 1000; i++) {
        FILE *f = fopen(path, "r");
        int lines = 0, c;
        if (f) {
            while ((c = fgetc(f)) != EOF)
                lines += c == '\n';
            fclose(f);
        }
        if (lines >= n)
            return lines;
        nap();
    }
    return -1;
}

static int wait_reaped(alerts *al, uint64_t want_failed, bool check_failed)
{
    for (int i = 0; i < 1000; i++) {
        alerts_reap(al);
        if (!check_failed || alerts_get_stats(al)->commands_failed >= want_failed)
            return 1;
        nap();
    }
    return 0;
}

static void test_history(void)
{
    alerts_config c = {.bell = true, .rate_limit_s = 10};
    alerts *al = alerts_new(&c, NULL);
    CHECK(!alerts_take_bell(al));
    alerts_raise(al, "drift", "BTCUSDT", 1000, 21.5, "drift on the ensemble's log loss");
    alerts_raise(al, "paused", "BTCUSDT", 2000, NAN, "accuracy 0.300 over 50");
    CHECK(alerts_take_bell(al));
    CHECK(!alerts_take_bell(al)); /* once per batch */
    CHECK_INT(alerts_count(al), 2);
    CHECK_STR(alerts_at(al, 0)->kind, "drift");
    CHECK_INT(alerts_at(al, 1)->seq, 2);
    CHECK(alerts_at(al, 2) == NULL);
    for (int i = 0; i < ALERTS_HISTORY + 5; i++)
        alerts_raise(al, "fill", "ETHUSDT", 3000 + i, NAN, "bought");
    CHECK_INT(alerts_count(al), ALERTS_HISTORY);
    CHECK_INT(alerts_at(al, 0)->seq, 2 + 5 + 1); /* the oldest were dropped */
    CHECK_INT(alerts_get_stats(al)->raised, ALERTS_HISTORY + 7);
    CHECK_INT(alerts_get_stats(al)->commands_run, 0); /* no command configured */
    cJSON *j = alerts_json(al);
    CHECK(j && cJSON_GetArraySize(cJSON_GetObjectItem(j, "alerts")) == ALERTS_HISTORY);
    cJSON_Delete(j);
    alerts_free(al);
    c.bell = false;
    al = alerts_new(&c, NULL);
    alerts_raise(al, "drift", "", 1, NAN, "x");
    CHECK(!alerts_take_bell(al));
    alerts_free(al);
}

static void test_command(void)
{
    char out[600], cmd[800];
    snprintf(out, sizeof out, "%s/got.jsonl", dir);
    snprintf(cmd, sizeof cmd, "cat >> '%s'", out);
    alerts_config c = {.bell = false, .rate_limit_s = 3600};
    snprintf(c.command, sizeof c.command, "%s", cmd);
    alerts *al = alerts_new(&c, NULL);
    alerts_raise(al, "paused", "BTCUSDT", 1723161600000, NAN,
                 "accuracy 0.300 over 50: 95% lower bound 0.191 < 0.40");
    CHECK_INT(wait_lines(out, 1), 1);
    for (int i = 0; i < 4; i++) /* inside the rate limit window */
        alerts_raise(al, "health_low", "BTCUSDT", 1723161600000 + i, 38.5, "health below 40");
    CHECK_INT(alerts_get_stats(al)->commands_run, 1);
    CHECK_INT(alerts_get_stats(al)->commands_suppressed, 4);
    CHECK(wait_reaped(al, 0, false));
    FILE *f = fopen(out, "r");
    char line[4096] = "";
    CHECK(f && fgets(line, sizeof line, f));
    if (f)
        fclose(f);
    cJSON *j = cJSON_Parse(line);
    CHECK(j != NULL);
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(j, "kind")), "paused");
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(j, "symbol")), "BTCUSDT");
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(j, "time")), "2024-08-09T00:00:00.000Z");
    CHECK(cJSON_IsNull(cJSON_GetObjectItem(j, "value")));
    CHECK_INT((int)cJSON_GetNumberValue(cJSON_GetObjectItem(j, "suppressed")), 0);
    const char *txt = cJSON_GetStringValue(cJSON_GetObjectItem(j, "text"));
    CHECK(txt && strstr(txt, "lower bound") != NULL);
    cJSON_Delete(j);
    alerts_free(al);

    /* rate limit 0: every alert runs; the next one after suppressions says how many */
    c.rate_limit_s = 0;
    al = alerts_new(&c, NULL);
    alerts_raise(al, "drift", "ETHUSDT", 5, 20.25, "drift");
    CHECK_INT(wait_lines(out, 2), 2);
    CHECK_INT(alerts_get_stats(al)->commands_run, 1);
    alerts_free(al);
}

static void test_busy_and_failing(void)
{
    /* children that sleep and never read stdin: raise returns, at most ALERTS_RUNNING run */
    alerts_config c = {.rate_limit_s = 0};
    snprintf(c.command, sizeof c.command, "sleep 1");
    alerts *al = alerts_new(&c, NULL);
    for (int i = 0; i < ALERTS_RUNNING + 2; i++)
        alerts_raise(al, "fill", "BTCUSDT", i, NAN, "bought 0.01 @ 61000");
    CHECK_INT(alerts_get_stats(al)->commands_run, ALERTS_RUNNING);
    CHECK_INT(alerts_get_stats(al)->commands_busy, 2);
    CHECK_INT(alerts_count(al), ALERTS_RUNNING + 2); /* the history has them all */
    alerts_free(al);

    snprintf(c.command, sizeof c.command, "exit 3");
    al = alerts_new(&c, NULL);
    alerts_raise(al, "risk", "", 1, NAN, "risk state HALTED (was ACTIVE)");
    CHECK_INT(alerts_get_stats(al)->commands_run, 1);
    CHECK(wait_reaped(al, 1, true));
    CHECK_INT(alerts_get_stats(al)->commands_failed, 1);
    alerts_free(al);
}

int main(void)
{
    CHECK(mkdtemp(dir) != NULL);
    test_history();
    test_command();
    test_busy_and_failing();
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK_INT(system(cmd), 0);
    CHECK_DONE();
}
