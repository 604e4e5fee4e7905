/* The command table (include/kestrel/cmd.h): the list of every command, the dispatcher that keys
 * (src/ui/keys.c), the control socket (src/app/commands.c) and internal callers share, the one
 * validator per value, checked JSON builders and the status document's section list. An entry
 * flagged CMD_F_RESERVED (none today) answers "not yet available": a later issue's key is bound
 * that way first, so no key collides.
 *
 * Why one dispatcher: arity, "needs the UI", "not yet available" and out-of-memory are decided
 * here once, so a key, `kestrel ctl` and the help overlay always agree on what a command is.
 * The table is a static list of entries defined next to the code they drive (tmux's
 * cmd_table[]); nothing is registered at run time, so there is no mutable global. */
#include "kestrel/cmd.h"
#include "kestrel/trading.h"

#include "kestrel/app.h"
#include "kestrel/ctl.h"
#include "kestrel/decimal.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static const cmd_entry *const cmd_table[] = {
    /* reading */
    &cmd_status_entry,
    &cmd_book_entry,
    &cmd_candles_entry,
    &cmd_help_entry,
    /* the replay and the chart */
    &cmd_pause_entry,
    &cmd_resume_entry,
    &cmd_speed_entry,
    &cmd_timeframe_entry,
    &cmd_indicators_entry,
    &cmd_focus_entry,
    &cmd_ping_entry,
    &cmd_quit_entry,
    /* the screen (src/ui/ui_cmd.c) */
    &cmd_screen_entry,
    &cmd_pane_next_entry,
    &cmd_pane_prev_entry,
    &cmd_move_entry,
    &cmd_select_entry,
    &cmd_zoom_entry,
    &cmd_mouse_entry,
    &cmd_picker_entry,
    &cmd_close_overlay_entry,
    &cmd_repaint_entry,
    /* the replay (src/app/commands.c) */
    &cmd_step_entry,
    &cmd_seek_entry,
    &cmd_restart_entry,
    /* trading (src/app/trading.c) */
    &cmd_auto_start_entry,
    &cmd_auto_pause_entry,
    &cmd_signal_entry,
    &cmd_order_entry,
    &cmd_close_position_entry,
    &cmd_close_all_entry,
    &cmd_cancel_entry,
    &cmd_amend_entry,
    &cmd_sweep_entry,
    &cmd_positions_entry,
    &cmd_orders_entry,
    &cmd_fills_entry,
    &cmd_trades_entry,
    &cmd_get_entry,
    &cmd_set_entry,
    &cmd_portfolio_entry,
    &cmd_risk_entry,
    &cmd_metrics_entry,
    &cmd_alerts_entry,
    &cmd_ticket_entry,
    &cmd_cancel_order_entry,
    &cmd_settings_entry,
    &cmd_symbols_entry,
    &cmd_watch_add_entry,
    &cmd_watch_remove_entry,
    &cmd_connections_entry,
    &cmd_record_entry,
    &cmd_backtests_entry,
};

size_t cmd_count(void)
{
    return K_ARRAY_LEN(cmd_table);
}

const cmd_entry *cmd_at(size_t i)
{
    return i < K_ARRAY_LEN(cmd_table) ? cmd_table[i] : NULL;
}

const cmd_entry *cmd_find(const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; i < K_ARRAY_LEN(cmd_table); i++)
        if (strcmp(cmd_table[i]->name, name) == 0)
            return cmd_table[i];
    return NULL;
}

const char *cmd_strerror(cmd_result r)
{
    switch (r) {
    case CMD_OK:
        return "ok";
    case CMD_ERROR:
        return "command failed";
    case CMD_WAIT:
        return "reply deferred";
    }
    return "unknown command result";
}

cmd_result cmd_fail(cmd_ctx *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err, sizeof c->err, fmt, ap);
    va_end(ap);
    return CMD_ERROR;
}

cmd_result cmd_run(cmd_ctx *c)
{
    c->out = NULL;
    c->oom = false;
    c->err[0] = 0;
    c->cancel = NULL;
    c->cancel_ud = NULL;
    if (c->argc < 1 || !c->argv || !c->argv[0] || !c->argv[0][0])
        return cmd_fail(c, "missing command");
    const cmd_entry *e = cmd_find(c->argv[0]);
    if (!e)
        return cmd_fail(c, "unknown command '%.64s' (try: help)", c->argv[0]);
    int n = c->argc - 1;
    if (n < e->min_args || n > e->max_args)
        return cmd_fail(c, "usage: %s%s%s", e->name, e->args[0] ? " " : "", e->args);
    if (e->flags & CMD_F_RESERVED)
        return cmd_fail(c, "%s: not yet available (%s)", e->help, e->name);
    if (!c->ui)
        c->ui = c->a->ui;
    if ((e->flags & CMD_F_UI) && !c->ui)
        return cmd_fail(c, "%s: needs the terminal UI (this Kestrel runs headless)", e->name);
    c->out = cJSON_CreateObject();
    if (!c->out)
        return cmd_fail(c, "out of memory");
    cmd_result r = e->exec(c);
    if (r == CMD_WAIT && !c->token) /* nobody to reply to later: a handler bug */
        r = cmd_fail(c, "%s: cannot defer a reply here", e->name);
    if (r == CMD_OK && c->oom)
        r = cmd_fail(c, "out of memory");
    if (r != CMD_OK) {
        cJSON_Delete(c->out);
        c->out = NULL;
        if (r == CMD_ERROR && !c->err[0])
            cmd_fail(c, "%s failed", e->name);
    }
    return r;
}

cmd_result cmd_run_line(app *a, struct ui *u, enum cmd_origin origin, const char *line, char *err,
                        size_t errlen)
{
    char buf[256];
    const char *argv[1 + CMD_MAX_ARGS];
    int argc = 0;
    snprintf(buf, sizeof buf, "%s", line ? line : "");
    char *save = NULL;
    for (char *t = strtok_r(buf, " ", &save); t && argc < 1 + CMD_MAX_ARGS;
         t = strtok_r(NULL, " ", &save))
        argv[argc++] = t;
    cmd_ctx c = {.a = a, .ui = u, .origin = origin, .argc = argc, .argv = argv};
    cmd_result r = cmd_run(&c);
    cJSON_Delete(c.out);
    if (err && errlen)
        snprintf(err, errlen, "%s", r == CMD_OK ? "" : c.err);
    return r;
}

int cmd_reply_send(app *a, uint64_t token, cJSON *json)
{
    if (!token || !a || !a->ctl) {
        cJSON_Delete(json);
        return token ? K_ERR : K_OK;
    }
    return ctl_reply_send(a->ctl, token, json) == CTL_OK ? K_OK : K_ERR;
}

int cmd_reply_error(app *a, uint64_t token, const char *msg)
{
    if (!token || !a || !a->ctl)
        return token ? K_ERR : K_OK;
    return ctl_reply_error(a->ctl, token, msg) == CTL_OK ? K_OK : K_ERR;
}

/* ---- validators ---- */

int cmd_parse_speed(const char *s, double *out, char *err, size_t errlen)
{
    /* plain decimal only: digits with at most one '.', then an optional e[+-]digits */
    bool ok = s != NULL, digit = false, nonzero = false, dot = false;
    const char *p = s;
    for (; ok && *p; p++) {
        if (*p >= '0' && *p <= '9') {
            digit = true;
            nonzero |= *p != '0';
        } else if (*p == '.' && !dot) {
            dot = true;
        } else {
            break;
        }
    }
    ok = ok && digit;
    if (ok && (*p == 'e' || *p == 'E')) {
        p++;
        if (*p == '+' || *p == '-')
            p++;
        ok = *p >= '0' && *p <= '9';
        while (*p >= '0' && *p <= '9')
            p++;
    }
    double v = 0;
    if (ok && *p == 0) {
        char *end = NULL;
        errno = 0;
        v = strtod(s, &end);
        /* ERANGE or a non-zero mantissa that became 0: underflow ("1e-400") is refused */
        ok = errno == 0 && end == p && isfinite(v) && !(nonzero && v == 0) &&
             (v == 0 || (v >= 0.01 && v <= 1000));
    } else {
        ok = false;
    }
    if (!ok) {
        if (err && errlen)
            snprintf(err, errlen, "speed '%.40s' is not valid (expected 0 or 0.01..1000)",
                     s ? s : "");
        return K_ERR;
    }
    *out = v;
    return K_OK;
}

int cmd_parse_count(const char *s, long max, long *out)
{
    if (!s || !*s || strlen(s) > 18)
        return K_ERR;
    long v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return K_ERR;
        v = v * 10 + (*p - '0');
    }
    if (v < 1 || v > max)
        return K_ERR;
    *out = v;
    return K_OK;
}

/* Digits of s[0..n) into *v (at most 18); false when any is not a digit. */
static bool cmd_digits(const char *s, size_t n, int64_t *v)
{
    if (n == 0 || n > 18)
        return false;
    int64_t x = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        x = x * 10 + (s[i] - '0');
    }
    *v = x;
    return true;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil). */
static int64_t cmd_days_from_civil(int64_t y, int64_t m, int64_t d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

int cmd_parse_seek(const char *s, int64_t now_ms, int64_t *out, char *err, size_t errlen)
{
    const int64_t lo = 946684800000LL, hi = 7258118400000LL; /* 2000-01-01 .. 2200-01-01 */
    size_t n = s ? strlen(s) : 0;
    int64_t v = 0;
    if (n > 0 && n < 40 && (s[0] == '+' || s[0] == '-')) { /* relative seconds */
        const char *dot = strchr(s, '.');
        size_t ni = dot ? (size_t)(dot - s) - 1 : n - 1;
        int64_t whole, frac = 0;
        bool ok = cmd_digits(s + 1, ni, &whole) && whole <= 100LL * 366 * 86400;
        if (ok && dot) {
            size_t nf = strlen(dot + 1);
            ok = nf >= 1 && nf <= 3 && cmd_digits(dot + 1, nf, &frac);
            for (size_t i = nf; ok && i < 3; i++)
                frac *= 10;
        }
        if (ok) {
            int64_t d = whole * 1000 + frac;
            v = now_ms + (s[0] == '-' ? -d : d);
            if (v < lo)
                v = lo;
            *out = v;
            return K_OK;
        }
    } else if (n > 0 && cmd_digits(s, n, &v)) { /* epoch ms */
        if (v >= lo && v < hi) {
            *out = v;
            return K_OK;
        }
    } else if (n >= 16 && n < 40 && s[4] == '-' && s[7] == '-' && (s[10] == 'T' || s[10] == ' ') &&
               s[13] == ':') {
        int64_t y, mo, d, h, mi, sec = 0, ms = 0;
        size_t i = 16;
        bool ok = cmd_digits(s, 4, &y) && cmd_digits(s + 5, 2, &mo) && cmd_digits(s + 8, 2, &d) &&
                  cmd_digits(s + 11, 2, &h) && cmd_digits(s + 14, 2, &mi);
        if (ok && i < n && s[i] == ':') {
            ok = i + 3 <= n && cmd_digits(s + i + 1, 2, &sec);
            i += 3;
            if (ok && i < n && s[i] == '.') {
                size_t j = i + 1;
                while (j < n && s[j] >= '0' && s[j] <= '9')
                    j++;
                ok = j - i - 1 >= 1 && j - i - 1 <= 3 && cmd_digits(s + i + 1, j - i - 1, &ms);
                for (size_t k = j - i - 1; ok && k < 3; k++)
                    ms *= 10;
                i = j;
            }
        }
        if (ok && i < n && s[i] == 'Z')
            i++;
        ok = ok && i == n && mo >= 1 && mo <= 12 && d >= 1 && d <= 31 && h <= 23 && mi <= 59 &&
             sec <= 60;
        if (ok) {
            v = ((cmd_days_from_civil(y, mo, d) * 24 + h) * 60 + mi) * 60000 + sec * 1000 + ms;
            if (v >= lo && v < hi) {
                *out = v;
                return K_OK;
            }
        }
    }
    if (err)
        snprintf(err, errlen, "seek '%.40s' is not valid (expected an ISO UTC time "
                 "2024-08-08T23:58:00Z, epoch ms, or +N / -N seconds)", s ? s : "");
    return K_ERR;
}

/* ---- checked JSON builders ---- */

static bool cmd_json_check(cmd_ctx *c, const void *p)
{
    if (!p)
        c->oom = true;
    return p != NULL;
}

bool cmd_json_str(cmd_ctx *c, cJSON *o, const char *key, const char *v)
{
    return o && cmd_json_check(c, cJSON_AddStringToObject(o, key, v ? v : ""));
}

bool cmd_json_num(cmd_ctx *c, cJSON *o, const char *key, double v)
{
    return o && cmd_json_check(c, cJSON_AddNumberToObject(o, key, v));
}

bool cmd_json_bool(cmd_ctx *c, cJSON *o, const char *key, bool v)
{
    return o && cmd_json_check(c, cJSON_AddBoolToObject(o, key, v));
}

bool cmd_json_null(cmd_ctx *c, cJSON *o, const char *key)
{
    return o && cmd_json_check(c, cJSON_AddNullToObject(o, key));
}

bool cmd_json_id(cmd_ctx *c, cJSON *o, const char *key, uint64_t v)
{
    char buf[24];
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)v);
    return cmd_json_str(c, o, key, buf);
}

bool cmd_json_dec(cmd_ctx *c, cJSON *o, const char *key, kdec v, int decimals)
{
    char buf[48];
    decimal_format(v, decimals, buf, sizeof buf);
    return cmd_json_str(c, o, key, buf);
}

cJSON *cmd_json_obj(cmd_ctx *c, cJSON *o, const char *key)
{
    cJSON *r = o ? cJSON_AddObjectToObject(o, key) : NULL;
    cmd_json_check(c, r);
    return r;
}

cJSON *cmd_json_arr(cmd_ctx *c, cJSON *o, const char *key)
{
    cJSON *r = o ? cJSON_AddArrayToObject(o, key) : NULL;
    cmd_json_check(c, r);
    return r;
}

bool cmd_json_push(cmd_ctx *c, cJSON *arr, cJSON *item)
{
    if (!arr || !item || !cJSON_AddItemToArray(arr, item)) {
        cJSON_Delete(item);
        c->oom = true;
        return false;
    }
    return true;
}

bool cmd_json_push_str(cmd_ctx *c, cJSON *arr, const char *v)
{
    return cmd_json_push(c, arr, cJSON_CreateString(v ? v : ""));
}

bool cmd_json_push_dec(cmd_ctx *c, cJSON *arr, kdec v, int decimals)
{
    char buf[48];
    decimal_format(v, decimals, buf, sizeof buf);
    return cmd_json_push_str(c, arr, buf);
}

/* ---- the status document ---- */

static const cmd_status_section cmd_status_sections[] = {
    {"app", cmd_status_app},         {"replay", cmd_status_replay},
    {"store", cmd_status_store},     {"control", cmd_status_control},
    {"ui", cmd_status_ui},           {"ingest", cmd_status_ingest},
    {"trading", cmd_status_trading}, {"market", cmd_status_market},
    {"connections", cmd_status_connections},
};

cJSON *cmd_status_json(app *a)
{
    cmd_ctx c = {.a = a, .ui = a->ui, .origin = CMD_FROM_INTERNAL};
    cJSON *doc = cJSON_CreateObject();
    if (!doc)
        return NULL;
    cmd_json_num(&c, doc, "schema", CMD_STATUS_SCHEMA);
    for (size_t i = 0; i < K_ARRAY_LEN(cmd_status_sections) && !c.oom; i++)
        cmd_status_sections[i].fill(&c, doc);
    if (c.oom) {
        cJSON_Delete(doc);
        return NULL;
    }
    return doc;
}
