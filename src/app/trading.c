/* The app's trading (see trading.h). One runner on the app's market and clock: in replay the
 * simulated clock makes `kestrel --replay` with auto-trading on run exactly what `kestrel
 * backtest` runs on the same capture (the parity test compares their signal digests). Fills go
 * to the store's durable lane (kind "fill", key "<client id>/<trade id>"), in order, fsynced;
 * `kestrel export fills` reads them back without taking the database's lock.
 *
 * What is not here yet (see the issue notes): the order ticket and the Trading screen, resting
 * order types from the command line, restoring positions after a restart, signals and metrics
 * in the store. */
#include "kestrel/trading.h"

#include "kestrel/alerts.h"
#include "kestrel/learner.h"
#include "kestrel/loop.h"

#include "kestrel/app.h"
#include "kestrel/cmd.h"
#include "kestrel/decimal.h"
#include "kestrel/runner.h"
#include "kestrel/sigstore.h"
#include "kestrel/store.h"
#include "kestrel/xmalloc.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TRADING_FILLS 512 /* recent fills kept for `kestrel ctl fills` (all are in the store) */

struct trading {
    broker_event fills[TRADING_FILLS]; /* ring, oldest first from head */
    int pxd[TRADING_FILLS], qtyd[TRADING_FILLS];
    uint32_t head, n;
    sigstore *ss; /* signals, metrics, model state in the store (NULL without a store) */
    alerts *al;   /* the alert history, bell and alerts.command */
    enum risk_state risk_seen; /* the risk state last reported */
    learner *lrn; /* the deep / tree models' training thread (NULL: none configured) */
};

/* The engine events of ms's engine, and a change of the risk state, as alerts. */
static void trading_alerts_poll(app *a, const market_sym *ms, int64_t now_ms)
{
    trading *t = a->trading;
    runner *r = a->runner;
    if (!t || !t->al || !r)
        return;
    for (uint32_t i = 0; ms && i < runner_symbols(r); i++) {
        if (runner_symbol(r, i) != ms)
            continue;
        engine_event ev;
        while (engine_poll_event(runner_engine(r, i), &ev))
            alerts_raise(t->al, engine_event_name(ev.kind), ms->name, ev.time_ms, ev.value,
                         ev.text);
    }
    enum risk_state rs = risk_get_state(runner_risk(r));
    if (rs != t->risk_seen) {
        char txt[96];
        snprintf(txt, sizeof txt, "risk state %s (was %s)", risk_state_name(rs),
                 risk_state_name(t->risk_seen));
        t->risk_seen = rs;
        alerts_raise(t->al, "risk", "", now_ms, NAN, txt);
    }
    alerts_reap(t->al);
}

/* Trainings finished on the learner thread: their candidates go live on the main thread. */
static void trading_on_learner(loop *l, int fd, unsigned events, void *ud)
{
    (void)l;
    (void)fd;
    (void)events;
    app *a = ud;
    if (a->runner)
        (void)runner_collect(a->runner);
}

static void trading_on_durable(void *ud, uint64_t id, enum store_result rc)
{
    app *a = ud;
    (void)id;
    if (rc != STORE_OK && a->log)
        log_error(a->log, "a fill was not stored durably: %s", store_strerror(rc));
}

/* Every fill, as the contract's fields, to the durable lane. */
static void trading_on_event(void *ud, const runner_ev *ev)
{
    app *a = ud;
    if (ev->kind == RUNNER_EV_REFUSED && a->log)
        log_info(a->log, "order refused for %s: %s", ev->sym ? ev->sym->name : "?",
                 ev->why ? ev->why : "?");
    if (ev->kind == RUNNER_EV_SIGNAL && a->trading->ss && ev->sym)
        sigstore_on_signal(a->trading->ss, ev->sym, ev->signal, ev->time_ms);
    trading_alerts_poll(a, ev->sym, ev->time_ms);
    if (ev->kind != RUNNER_EV_FILL || !ev->fill)
        return;
    {
        char txt[160], px[40] = "", q[40] = "";
        const market_sym *fs = ev->sym;
        decimal_format(ev->fill->fill.px, fs ? fs->px_decimals : 8, px, sizeof px);
        decimal_format(ev->fill->fill.qty, fs ? fs->qty_decimals : 8, q, sizeof q);
        snprintf(txt, sizeof txt, "%s %s @ %s (%s)", ev->fill->side == SIDE_BUY ? "bought" : "sold",
                 q, px, ev->fill->client_id);
        alerts_raise(a->trading->al, "fill", fs ? fs->name : ev->fill->symbol, ev->time_ms, NAN,
                     txt);
    }
    const broker_event *f = ev->fill;
    a->changes++;
    trading *t = a->trading;
    uint32_t slot = (t->head + t->n) % TRADING_FILLS;
    if (t->n == TRADING_FILLS)
        t->head = (t->head + 1) % TRADING_FILLS;
    else
        t->n++;
    t->fills[slot] = *f;
    t->pxd[slot] = ev->sym ? ev->sym->px_decimals : -1;
    t->qtyd[slot] = ev->sym ? ev->sym->qty_decimals : -1;
    if (!a->store)
        return;
    char key[STORE_REC_KEY_MAX];
    snprintf(key, sizeof key, "%s/%lld", f->client_id, (long long)f->fill.trade_id);
    const market_sym *s = ev->sym;
    cJSON *j = order_fill_json(key, f->client_id, f->symbol, f->side, &f->fill,
                               s ? s->px_decimals : -1, s ? s->qty_decimals : -1);
    if (j)
        cJSON_AddStringToObject(j, "venue", venue_name(f->venue));
    char *txt = j ? cJSON_PrintUnformatted(j) : NULL;
    cJSON_Delete(j);
    if (!txt) {
        log_error(a->log, "a fill could not be serialised (out of memory)");
        return;
    }
    store_record rec = {.kind = "fill", .key = key, .payload = txt, .len = strlen(txt),
                        .time_ms = f->time_ms};
    enum store_result rc = store_durable_put(a->store, &rec, trading_on_durable, a, NULL);
    if (rc != STORE_OK)
        log_error(a->log, "fill %s not stored: %s", key, store_strerror(rc));
    cJSON_free(txt);
}

static void trading_on_engine(void *ud, const market_sym *ms, engine *e, int64_t now_ms)
{
    app *a = ud;
    if (a->trading && a->trading->ss)
        sigstore_on_engine(a->trading->ss, ms, e, now_ms);
}

sigstore *trading_sigstore(app *a)
{
    return a->trading ? a->trading->ss : NULL;
}

alerts *trading_alerts(app *a)
{
    return a->trading ? a->trading->al : NULL;
}

void trading_flush(app *a)
{
    if (a->trading && a->trading->ss && a->store)
        sigstore_flush(a->trading->ss, a->data_ms);
}

int trading_open(app *a, char *err, size_t errlen)
{
    if (a->runner)
        return K_OK;
    runner_config rc;
    runner_config_default(&rc);
    rc.auto_trade = a->cfg.engine_auto_trade;
    rc.signal_interval_ms = (int64_t)(a->cfg.engine_signal_interval_s * 1000.0 + 0.5);
    rc.paper.latency_ms = rc.paper.report_latency_ms = a->cfg.paper_latency_ms;
    rc.models = a->cfg.engine_models;
    snprintf(rc.id_prefix, sizeof rc.id_prefix, "k");
    rc.id_epoch = a->session_id > 0 ? (uint64_t)a->session_id : 1;
    rc.engine.horizon_ms = (int64_t)(a->cfg.engine_horizon_s * 1000.0 + 0.5);
    rc.engine.drift_method = (enum drift_method)a->cfg.engine_drift;
    a->trading = xcalloc(1, sizeof *a->trading);
    alerts_config ac = {.bell = a->cfg.alerts_bell, .rate_limit_s = a->cfg.alerts_rate_limit_s};
    snprintf(ac.command, sizeof ac.command, "%s", a->cfg.alerts_command);
    a->trading->al = alerts_new(&ac, a->log);
    if (a->store) {
        a->trading->ss = sigstore_new(a->store, a->log,
                                      (int64_t)(a->cfg.engine_state_interval_s * 1000.0 + 0.5));
        rc.on_engine = trading_on_engine;
        rc.on_engine_ud = a;
    }
    if (rc.models & (RUNNER_M_LSTM | RUNNER_M_TRANSFORMER | RUNNER_M_CNN | RUNNER_M_XGB)) {
        /* heavy training never on the main thread */
        a->trading->lrn = learner_new(8, err, errlen);
        if (!a->trading->lrn || loop_watch(a->loop, learner_fd(a->trading->lrn), LOOP_READ,
                                           trading_on_learner, a) != K_OK) {
            if (a->trading->lrn)
                snprintf(err, errlen, "cannot watch the learner thread");
            learner_free(a->trading->lrn);
            a->trading->lrn = NULL;
            return K_ERR;
        }
        rc.learner = a->trading->lrn;
    }
    a->runner = runner_new(a->market, a->clock, &rc);
    if (!a->runner) {
        snprintf(err, errlen, "cannot start the trading runner");
        return K_ERR;
    }
    runner_set_listener(a->runner, trading_on_event, a);
    return K_OK;
}

void trading_close(app *a)
{
    if (a->trading && a->trading->lrn) { /* first: it may be training one of the runner's models */
        loop_unwatch(a->loop, learner_fd(a->trading->lrn));
        learner_free(a->trading->lrn);
        a->trading->lrn = NULL;
    }
    trading_flush(a);
    runner_free(a->runner);
    a->runner = NULL;
    if (a->trading) {
        sigstore_free(a->trading->ss);
        alerts_free(a->trading->al);
    }
    free(a->trading);
    a->trading = NULL;
}

/* ---- the symbol a command names (or the focused one) ---- */

static market_sym *trading_symbol(cmd_ctx *c, const char *arg)
{
    app *a = c->a;
    if (!arg) {
        market_sym *s = market_at(a->market, a->focus);
        if (!s)
            cmd_fail(c, "no symbol yet");
        return s;
    }
    const char *colon = strchr(arg, ':');
    for (uint32_t i = 0; i < market_count(a->market); i++) {
        market_sym *s = market_at(a->market, i);
        if (colon) {
            if ((size_t)(colon - arg) == strlen(venue_name(s->venue)) &&
                !strncmp(arg, venue_name(s->venue), (size_t)(colon - arg)) &&
                !strcasecmp(colon + 1, s->name))
                return s;
        } else if (!strcasecmp(arg, s->name)) {
            return s;
        }
    }
    cmd_fail(c, "unknown symbol '%.40s'", arg);
    return NULL;
}

static cmd_result trading_need(cmd_ctx *c)
{
    return c->a->runner ? CMD_OK : cmd_fail(c, "trading is not running");
}

/* ---- auto-trading ---- */

static cmd_result trading_start_exec(cmd_ctx *c)
{
    if (trading_need(c) != CMD_OK)
        return CMD_ERROR;
    bool on = strcmp(c->argv[0], "start") == 0;
    runner_set_auto(c->a->runner, on);
    if (on)
        risk_resume(runner_risk(c->a->runner)); /* a person resumes a halt */
    app_flash(c->a, "auto-trading %s", on ? "started" : "paused");
    cmd_json_bool(c, c->out, "auto_trading", on);
    return CMD_OK;
}

const cmd_entry cmd_auto_start_entry = {.name = "start", .args = "",
                                        .help = "start auto-trading (resumes a halted risk state)",
                                        .exec = trading_start_exec};
const cmd_entry cmd_auto_pause_entry = {.name = "pause-trading", .args = "",
                                        .help = "pause auto-trading (open positions stay)",
                                        .exec = trading_start_exec};

static const char *const trading_actions[3] = {"SELL", "HOLD", "BUY"};

static cmd_result trading_signal_exec(cmd_ctx *c)
{
    if (trading_need(c) != CMD_OK)
        return CMD_ERROR;
    market_sym *s = trading_symbol(c, c->argc > 1 ? c->argv[1] : NULL);
    if (!s)
        return CMD_ERROR;
    engine_signal sig;
    if (runner_signal_now(c->a->runner, s->venue, s->name, &sig) != K_OK)
        return cmd_fail(c, "%s: not enough data for a signal yet", s->name);
    const char *act = (unsigned)sig.action < 3 ? trading_actions[sig.action] : "?";
    cmd_json_str(c, c->out, "symbol", s->name);
    cmd_json_str(c, c->out, "action", act);
    cmd_json_num(c, c->out, "confidence", sig.confidence);
    cmd_json_bool(c, c->out, "calibrated", sig.calibrated);
    cmd_json_num(c, c->out, "strength", sig.strength);
    cmd_json_num(c, c->out, "p_buy", sig.p[2]);
    cmd_json_num(c, c->out, "p_hold", sig.p[1]);
    cmd_json_num(c, c->out, "p_sell", sig.p[0]);
    cmd_json_str(c, c->out, "source", sig.source ? sig.source : "");
    cmd_json_bool(c, c->out, "tradeable", sig.tradeable);
    cmd_json_str(c, c->out, "gate", sig.gate);
    cJSON *rs = cmd_json_arr(c, c->out, "reasons");
    for (uint32_t i = 0; i < sig.nreasons && !c->oom; i++)
        cmd_json_push_str(c, rs, sig.reasons[i].text);
    if (c->origin == CMD_FROM_KEY)
        app_flash(c->a, "%s %s  conf %.2f%s  strength %.2f  %s", s->name, act, sig.confidence,
                  sig.calibrated ? "" : " (uncalibrated)", sig.strength,
                  sig.tradeable ? "tradeable" : sig.gate);
    return CMD_OK;
}

const cmd_entry cmd_signal_entry = {.name = "signal", .args = "[SYMBOL]",
                                    .help = "generate a signal now for the focused symbol",
                                    .max_args = 1, .exec = trading_signal_exec};

/* ---- orders ---- */

/* order SYMBOL buy|sell QTY|quote=AMOUNT [type=market] [reduce_only] */
static cmd_result trading_order_exec(cmd_ctx *c)
{
    if (trading_need(c) != CMD_OK)
        return CMD_ERROR;
    if (c->argc < 4)
        return cmd_fail(c, "usage: order SYMBOL buy|sell QTY|quote=AMOUNT [type=market] "
                           "[reduce_only]");
    market_sym *s = trading_symbol(c, c->argv[1]);
    if (!s)
        return CMD_ERROR;
    enum side side;
    if (!strcmp(c->argv[2], "buy"))
        side = SIDE_BUY;
    else if (!strcmp(c->argv[2], "sell"))
        side = SIDE_SELL;
    else
        return cmd_fail(c, "side '%.20s' is not buy or sell", c->argv[2]);
    const char *q = c->argv[3];
    bool quote = !strncmp(q, "quote=", 6);
    kdec amount;
    if (quote)
        q += 6;
    if (decimal_parse(q, strlen(q), &amount) != K_OK || amount <= 0)
        return cmd_fail(c, "quantity '%.40s' is not a positive decimal", c->argv[3]);
    bool reducing = false;
    for (int i = 4; i < c->argc; i++) {
        if (!strcmp(c->argv[i], "reduce_only"))
            reducing = true;
        else if (!strcmp(c->argv[i], "type=market"))
            ;
        else if (!strncmp(c->argv[i], "type=", 5) || !strncmp(c->argv[i], "price=", 6) ||
                 !strncmp(c->argv[i], "stop=", 5) || !strncmp(c->argv[i], "tif=", 4) ||
                 !strcmp(c->argv[i], "post_only") || !strncmp(c->argv[i], "sl=", 3) ||
                 !strncmp(c->argv[i], "tp=", 3))
            return cmd_fail(c, "'%.40s': only market orders can be placed from here so far",
                            c->argv[i]);
        else
            return cmd_fail(c, "unknown order option '%.40s'", c->argv[i]);
    }
    kdec qty = amount;
    if (quote) { /* a quote amount at the last price, floored to 1e-8 */
        if (s->last_px <= 0)
            return cmd_fail(c, "%s has no price yet", s->name);
        qty = (kdec)((__int128)amount * KDEC_SCALE / s->last_px);
    }
    char id[64], why[256];
    if (runner_manual_order(c->a->runner, s->venue, s->name, side, qty, reducing, id, sizeof id,
                            why, sizeof why) != K_OK)
        return cmd_fail(c, "%s", why);
    cmd_json_str(c, c->out, "id", id);
    cmd_json_str(c, c->out, "symbol", s->name);
    cmd_json_str(c, c->out, "side", side == SIDE_BUY ? "buy" : "sell");
    char qt[40];
    decimal_format(qty, s->qty_decimals, qt, sizeof qt);
    cmd_json_str(c, c->out, "qty", qt);
    cmd_json_str(c, c->out, "status", "sent");
    return CMD_OK;
}

const cmd_entry cmd_order_entry = {
    .name = "order", .args = "SYMBOL buy|sell QTY|quote=AMOUNT [type=market] [reduce_only]",
    .help = "a paper market order through the risk engine", .min_args = 3, .max_args = 8,
    .exec = trading_order_exec};

static cmd_result trading_close_exec(cmd_ctx *c)
{
    if (trading_need(c) != CMD_OK)
        return CMD_ERROR;
    market_sym *s = trading_symbol(c, c->argc > 1 ? c->argv[1] : NULL);
    if (!s)
        return CMD_ERROR;
    char why[256];
    if (runner_close_symbol(c->a->runner, s->venue, s->name, why, sizeof why) != K_OK)
        return cmd_fail(c, "%s", why);
    cmd_json_str(c, c->out, "symbol", s->name);
    cmd_json_bool(c, c->out, "closing", true);
    return CMD_OK;
}

const cmd_entry cmd_close_position_entry = {.name = "close", .args = "[SYMBOL]",
                                            .help = "close the position at market (reduce-only)",
                                            .max_args = 1, .exec = trading_close_exec};

static cmd_result trading_close_all_exec(cmd_ctx *c)
{
    if (trading_need(c) != CMD_OK)
        return CMD_ERROR;
    int n = runner_close_all(c->a->runner);
    cmd_json_num(c, c->out, "closing", n);
    cmd_json_str(c, c->out, "risk_state", "HALTED");
    app_flash(c->a, "close-all: %d position(s) closing; new entries halted until start", n);
    return CMD_OK;
}

const cmd_entry cmd_close_all_entry = {.name = "close-all", .args = "",
                                       .help = "close all: halt new entries, flatten at market",
                                       .exec = trading_close_all_exec};

/* ---- reading ---- */

static cmd_result trading_positions_exec(cmd_ctx *c)
{
    if (trading_need(c) != CMD_OK)
        return CMD_ERROR;
    portfolio *pf = runner_portfolio(c->a->runner);
    cJSON *arr = cmd_json_arr(c, c->out, "positions");
    for (uint32_t i = 0; i < portfolio_position_count(pf) && !c->oom; i++) {
        const pf_position *p = portfolio_position_at(pf, i);
        if (p->qty == 0)
            continue;
        cmd_json_push(c, arr, portfolio_position_json(p, NULL));
    }
    return CMD_OK;
}

const cmd_entry cmd_positions_entry = {.name = "positions", .args = "",
                                       .help = "open positions (prices and quantities as strings)",
                                       .exec = trading_positions_exec};

static cmd_result trading_portfolio_exec(cmd_ctx *c)
{
    if (trading_need(c) != CMD_OK)
        return CMD_ERROR;
    portfolio *pf = runner_portfolio(c->a->runner);
    pf_summary sm;
    portfolio_summary(pf, &sm);
    cJSON *s = portfolio_summary_json(&sm);
    if (!s)
        return cmd_fail(c, "out of memory");
    cJSON_Delete(c->out);
    c->out = s;
    pf_stats st;
    portfolio_stats(pf, &st);
    cJSON *js = portfolio_stats_json(&st);
    if (js)
        cJSON_AddItemToObject(c->out, "stats", js);
    return CMD_OK;
}

const cmd_entry cmd_portfolio_entry = {.name = "portfolio", .args = "",
                                       .help = "equity, cash, P&L net of fees, drawdown, stats",
                                       .exec = trading_portfolio_exec};

static cmd_result trading_risk_exec(cmd_ctx *c)
{
    if (trading_need(c) != CMD_OK)
        return CMD_ERROR;
    cJSON *r = risk_json(runner_risk(c->a->runner), runner_portfolio(c->a->runner));
    if (!r)
        return cmd_fail(c, "out of memory");
    cJSON_Delete(c->out);
    c->out = r;
    return CMD_OK;
}

const cmd_entry cmd_risk_entry = {.name = "risk", .args = "",
                                  .help = "risk state, limits used, VaR / ES, exposure",
                                  .exec = trading_risk_exec};

static cmd_result trading_orders_exec(cmd_ctx *c)
{
    if (trading_need(c) != CMD_OK)
        return CMD_ERROR;
    if (!strcmp(c->argv[0], "fills")) {
        trading *t = c->a->trading;
        cJSON *arr = cmd_json_arr(c, c->out, "fills");
        for (uint32_t i = 0; i < t->n && !c->oom; i++) {
            uint32_t k = (t->head + i) % TRADING_FILLS;
            const broker_event *f = &t->fills[k];
            char id[96];
            snprintf(id, sizeof id, "%s/%lld", f->client_id, (long long)f->fill.trade_id);
            cmd_json_push(c, arr, order_fill_json(id, f->client_id, f->symbol, f->side, &f->fill,
                                                  t->pxd[k], t->qtyd[k]));
        }
        return CMD_OK;
    }
    order_mgr *om = runner_orders(c->a->runner);
    cJSON *arr = cmd_json_arr(c, c->out, "orders");
    for (uint32_t i = 0; i < order_mgr_count(om) && !c->oom; i++)
        cmd_json_push(c, arr, order_json(order_mgr_at(om, i)));
    return CMD_OK;
}

const cmd_entry cmd_orders_entry = {.name = "orders", .args = "",
                                    .help = "orders of this session (ids as strings)",
                                    .exec = trading_orders_exec};
const cmd_entry cmd_fills_entry = {.name = "fills", .args = "",
                                   .help = "fills of this session: id, order_id, trade_id, time, "
                                           "symbol, side, price, qty, fee, fee_asset, liquidity",
                                   .exec = trading_orders_exec};

static cmd_result trading_metrics_exec(cmd_ctx *c)
{
    if (trading_need(c) != CMD_OK)
        return CMD_ERROR;
    runner *r = c->a->runner;
    const market_sym *want = c->argc > 1 ? trading_symbol(c, c->argv[1]) : NULL;
    if (c->argc > 1 && !want)
        return CMD_ERROR;
    for (uint32_t i = 0; i < runner_symbols(r); i++) {
        const market_sym *s = runner_symbol(r, i);
        if (want ? s != want : i != 0 && !want && c->argc == 1 && s->index != c->a->focus)
            continue;
        cJSON *m = engine_metrics_json(runner_engine(r, i));
        if (!m)
            return cmd_fail(c, "out of memory");
        cJSON_AddStringToObject(m, "symbol", s->name);
        cJSON_Delete(c->out);
        c->out = m;
        return CMD_OK;
    }
    return cmd_fail(c, "no signals yet");
}

const cmd_entry cmd_metrics_entry = {.name = "metrics", .args = "[SYMBOL]",
                                     .help = "the engine's out-of-sample metrics, with sample "
                                             "sizes and baselines",
                                     .max_args = 1, .exec = trading_metrics_exec};

static cmd_result trading_alerts_exec(cmd_ctx *c)
{
    if (trading_need(c) != CMD_OK || !c->a->trading->al)
        return CMD_ERROR;
    cJSON *j = alerts_json(c->a->trading->al);
    if (!j)
        return cmd_fail(c, "out of memory");
    cJSON_Delete(c->out);
    c->out = j;
    return CMD_OK;
}

const cmd_entry cmd_alerts_entry = {.name = "alerts", .args = "",
                                    .help = "the alert history (drift, self-pause, health, risk, "
                                            "fills) and the alerts.command counters",
                                    .exec = trading_alerts_exec};

void cmd_status_trading(cmd_ctx *c, cJSON *doc)
{
    runner *r = c->a->runner;
    if (!r)
        return;
    cJSON *t = cmd_json_obj(c, doc, "trading");
    const runner_stats *st = runner_get_stats(r);
    cmd_json_str(c, t, "broker", "paper");
    cmd_json_bool(c, t, "auto_trading", runner_auto(r));
    cmd_json_str(c, t, "risk_state", risk_state_name(risk_get_state(runner_risk(r))));
    cmd_json_num(c, t, "symbols", runner_symbols(r));
    cmd_json_num(c, t, "signals", (double)st->signals);
    cmd_json_num(c, t, "signals_unchanged", (double)st->signals_unchanged);
    cmd_json_num(c, t, "model_trains", (double)st->trains);
    cmd_json_num(c, t, "model_trains_busy", (double)st->train_busy);
    cmd_json_num(c, t, "tradeable", (double)st->tradeable);
    cmd_json_num(c, t, "orders", (double)st->orders);
    cmd_json_num(c, t, "fills", (double)st->fills);
    cmd_json_num(c, t, "refused", (double)st->refused);
    char dg[24];
    snprintf(dg, sizeof dg, "%016llx", (unsigned long long)runner_signal_digest(r));
    cmd_json_str(c, t, "signal_digest", dg);
    pf_summary sm;
    portfolio_summary(runner_portfolio(r), &sm);
    cJSON *p = portfolio_summary_json(&sm);
    if (p)
        cJSON_AddItemToObject(t, "portfolio", p);
    else
        c->oom = true;
    if (c->a->trading && c->a->trading->ss) {
        sigstore_info si;
        sigstore_get_info(c->a->trading->ss, NULL, &si);
        cJSON *ms = cmd_json_obj(c, t, "model_state");
        cmd_json_num(c, ms, "restored_version", (double)si.restored_version);
        cmd_json_num(c, ms, "restored_time_ms", (double)si.restored_time_ms);
        cmd_json_num(c, ms, "checkpoints", (double)si.checkpoints);
        cmd_json_num(c, ms, "signals_written", (double)si.signals_written);
        cmd_json_num(c, ms, "scored_written", (double)si.scored_written);
        cmd_json_num(c, ms, "metrics_written", (double)si.metrics_written);
    }
}

/* ---- kestrel export ---- */

static void trading_csv_field(FILE *f, const cJSON *j, const char *k, bool last)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, k);
    if (cJSON_IsString(v))
        fputs(v->valuestring, f);
    else if (cJSON_IsNumber(v))
        fprintf(f, "%.17g", v->valuedouble);
    else if (cJSON_IsBool(v))
        fputs(cJSON_IsTrue(v) ? "true" : "false", f);
    fputc(last ? '\n' : ',', f);
}

int trading_export_main(int argc, char **argv)
{
    const char *what = argc > 1 ? argv[1] : NULL, *fmt = "csv", *db = NULL;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--format") && i + 1 < argc)
            fmt = argv[++i];
        else if (!strcmp(argv[i], "--db") && i + 1 < argc)
            db = argv[++i];
        else {
            fprintf(stderr, "kestrel export: unknown option '%s'\n", argv[i]);
            return 2;
        }
    }
    /* the kinds: fills here, signals / metrics in sigstore.c */
    static const char *const kinds[] = {"fills", "signals", "metrics"};
    bool known = false;
    for (size_t i = 0; what && i < K_ARRAY_LEN(kinds); i++)
        known |= !strcmp(what, kinds[i]);
    if (!known || (strcmp(fmt, "csv") && strcmp(fmt, "json"))) {
        fprintf(stderr, "usage: kestrel export fills|signals|metrics --format csv|json "
                        "[--db FILE]\n");
        return 2;
    }
    char path[CONFIG_PATH_MAX];
    if (db)
        snprintf(path, sizeof path, "%s", db);
    else
        config_default_db_path(path, sizeof path);
    sqlite3 *h = NULL;
    if (sqlite3_open_v2(path, &h, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        fprintf(stderr, "kestrel export: cannot open %s: %s\n", path,
                h ? sqlite3_errmsg(h) : "out of memory");
        sqlite3_close(h);
        return 1;
    }
    sqlite3_busy_timeout(h, 2000);
    if (strcmp(what, "fills")) {
        int rc = sigstore_export(h, what, !strcmp(fmt, "csv"), stdout);
        sqlite3_close(h);
        return rc == 0 && fflush(stdout) == 0 ? 0 : rc ? rc : 1;
    }
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(h, "SELECT payload FROM journal WHERE kind = 'fill' ORDER BY seq", -1,
                           &st, NULL) != SQLITE_OK) {
        fprintf(stderr, "kestrel export: %s is not a Kestrel database with a journal (%s)\n",
                path, sqlite3_errmsg(h));
        sqlite3_close(h);
        return 1;
    }
    static const char *const cols[] = {"id",  "order_id", "trade_id", "time",      "symbol", "side",
                                       "price", "qty",    "fee",      "fee_asset", "liquidity"};
    bool csv = !strcmp(fmt, "csv");
    if (csv)
        for (size_t i = 0; i < K_ARRAY_LEN(cols); i++)
            printf("%s%c", cols[i], i + 1 < K_ARRAY_LEN(cols) ? ',' : '\n');
    else
        fputs("[", stdout);
    int n = 0, rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *txt = (const char *)sqlite3_column_text(st, 0);
        cJSON *j = txt ? cJSON_Parse(txt) : NULL;
        if (!j)
            continue;
        if (csv) {
            for (size_t i = 0; i < K_ARRAY_LEN(cols); i++)
                trading_csv_field(stdout, j, cols[i], i + 1 == K_ARRAY_LEN(cols));
        } else {
            char *out = cJSON_PrintUnformatted(j);
            printf("%s%s", n ? "," : "", out ? out : "null");
            cJSON_free(out);
        }
        cJSON_Delete(j);
        n++;
    }
    if (!csv)
        puts("]");
    sqlite3_finalize(st);
    sqlite3_close(h);
    if (rc != SQLITE_DONE) {
        fprintf(stderr, "kestrel export: reading %s failed\n", path);
        return 1;
    }
    return fflush(stdout) == 0 ? 0 : 1;
}
