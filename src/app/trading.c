/* The app's trading (see trading.h). One runner on the app's market and clock: in replay the
 * simulated clock makes `kestrel --replay` with auto-trading on run exactly what `kestrel
 * backtest` runs on the same capture (the parity test compares their signal digests). Orders,
 * fills, the account, round trips and equity samples go to the store's durable lane, in order,
 * fsynced (the kinds are listed above trading_put); trading_restore reads them back at start so
 * positions, open orders and P&L survive a restart or kill -9; `kestrel export
 * fills|trades|equity` reads them without taking the database's lock. The config file's
 * paper.* / fees.* / risk.* keys are applied here, `get` / `set` change them at run time.
 *
 * The settings form and the watchlist's add / remove are settings.c and watchlist.c; `set` keeps
 * what it applied through settings_on_set. */
#include "kestrel/live.h"
#include "kestrel/trading.h"

#include "kestrel/btstore.h"
#include "kestrel/alerts.h"
#include "kestrel/klines.h"
#include "kestrel/learner.h"
#include "kestrel/loop.h"

#include "kestrel/app.h"
#include "kestrel/cmd.h"
#include "kestrel/decimal.h"
#include "kestrel/loop.h"
#include "kestrel/riskview.h"
#include "kestrel/runner.h"
#include "kestrel/settings.h"
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
#define TRADING_WAITS 64  /* `ctl order` replies waiting for the broker at once */
#define TRADING_INTENTS STORE_DURABLE_MAX /* order intents waiting for their durable commit */
#define TRADING_FUTURES 64 /* USD-M positions in the account record */

struct trading {
    broker_event fills[TRADING_FILLS]; /* ring, oldest first from head */
    int pxd[TRADING_FILLS], qtyd[TRADING_FILLS];
    uint32_t head, n;
    sigstore *ss; /* signals, metrics, model state in the store (NULL without a store) */
    alerts *al;   /* the alert history, bell and alerts.command */
    enum risk_state risk_seen; /* the risk state last reported */
    learner *lrn; /* the deep / tree models' training thread (NULL: none configured) */
    char selected[ORDER_ID_MAX]; /* the open order the Trading screen selects ("" none) */
    uint32_t trades_written;     /* round trips of the portfolio already in the journal */
    int64_t equity_written_ms;   /* newest equity point in the journal */
    bool restoring;              /* trading_restore is re-inserting orders: not re-written */
    bool abandoned;              /* trading_abandon: this run leaves the journal alone now */
    /* `ctl order` requests waiting for the broker's answer (deferred replies) */
    struct trading_wait {
        uint64_t token;
        char id[ORDER_ID_MAX];
        cJSON *reply; /* the reply built at placement; its "status" is the broker's answer */
        bool answered; /* the broker answered: sent on the next loop turn */
    } waits[TRADING_WAITS];
    uint32_t nwaits;
    uint64_t flush_timer; /* the loop timer that sends answered replies (0 = none) */
    uint64_t warm_timer;  /* feeds the warm-up's bars, a chunk per loop turn (0 = none) */
    /* write-ahead: intents queued on the durable lane, by store request id; the order goes to
     * the broker from trading_on_intent (runner_release) */
    struct trading_intent {
        uint64_t sid;
        char id[ORDER_ID_MAX];
    } intents[TRADING_INTENTS];
    uint32_t nintents;
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
    /* the daily-loss and drawdown rules on the portfolio as it is now: a loss raises its alert
     * at the next runner event, not only when the next order is tried */
    enum risk_state rs = risk_update(runner_risk(r), runner_portfolio(r), now_ms);
    if (rs != t->risk_seen) {
        /* the kind says what happened, the text carries the risk rule and its numbers */
        char txt[320];
        const char *why = risk_reason(runner_risk(r));
        snprintf(txt, sizeof txt, "risk state %s (was %s)%s%s", risk_state_name(rs),
                 risk_state_name(t->risk_seen), why[0] ? ": " : "", why);
        t->risk_seen = rs;
        alerts_raise(t->al, rs == RISK_REDUCING ? "daily_loss" : rs == RISK_HALTED ? "risk_halt"
                                                                                  : "risk",
                     "", now_ms, NAN, txt);
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

/* ---- the durable lane: orders, the account, round trips, equity ----
 * kind "order"   key <client id>  the order's newest state (order_json), on every transition
 *                                 and fill; the PENDING_NEW record is queued before the order
 *                                 reaches the broker (write-ahead)
 * kind "account" key "paper"      {portfolio: portfolio_to_json without trades and equity,
 *                                 balances: {asset: total as the delivered events tell it}}
 * kind "trade"   key <index>      one closed round trip (the portfolio's trade object)
 * kind "equity"  key <time ms>    one equity sample {t, equity}
 * The restore (trading_restore) rebuilds the portfolio from account + trade + equity records,
 * the paper balances from account, and the open orders from order records. */

static void trading_put(app *a, const char *kind, const char *key, cJSON *j, int64_t time_ms)
{
    char *txt = j ? cJSON_PrintUnformatted(j) : NULL;
    cJSON_Delete(j);
    if (!txt) {
        log_error(a->log, "%s %s could not be serialised (out of memory)", kind, key);
        return;
    }
    store_record rec = {.kind = kind, .key = key, .payload = txt, .len = strlen(txt),
                        .time_ms = time_ms};
    enum store_result rc = store_durable_put(a->store, &rec, trading_on_durable, a, NULL);
    if (rc != STORE_OK)
        log_error(a->log, "%s %s not stored: %s", kind, key, store_strerror(rc));
    cJSON_free(txt);
}

/* every order transition and fill: the order's newest state */
/* Sends the replies whose orders the broker answered, with the status they have now: the next
 * loop turn after the first answer, so the events of that instant are all in (ACCEPTED then a
 * post-only REJECTED, an IOC's EXPIRED, a market order's fills). A rejection is an error with the
 * broker's reason. */
static void trading_flush(loop *l, uint64_t id, void *ud)
{
    (void)l;
    (void)id;
    app *a = ud;
    trading *t = a->trading;
    t->flush_timer = 0;
    for (uint32_t i = 0; i < t->nwaits;) {
        struct trading_wait *w = &t->waits[i];
        if (!w->answered) {
            i++;
            continue;
        }
        const order *o = a->runner ? order_mgr_find(runner_orders(a->runner), w->id) : NULL;
        uint64_t token = w->token;
        cJSON *reply = w->reply;
        char oid[ORDER_ID_MAX];
        snprintf(oid, sizeof oid, "%s", w->id);
        t->waits[i] = t->waits[--t->nwaits];
        int rc;
        if (o && o->status == ORDER_REJECTED) {
            char msg[ORDER_REASON_MAX + 64];
            snprintf(msg, sizeof msg, "order %s rejected: %s", oid, o->reason);
            cJSON_Delete(reply);
            rc = cmd_reply_error(a, token, msg);
        } else {
            const char *st = o ? order_status_name(o->status) : "UNKNOWN";
            cJSON_ReplaceItemInObjectCaseSensitive(reply, "status", cJSON_CreateString(st));
            if (o && o->reason[0])
                cJSON_AddStringToObject(reply, "reason", o->reason);
            rc = cmd_reply_send(a, token, reply);
        }
        if (rc != K_OK && a->log)
            log_debug(a->log, "order %s: the client left before the broker answered", oid);
    }
}

static void trading_answer(app *a, const order *o)
{
    trading *t = a->trading;
    for (uint32_t i = 0; i < t->nwaits; i++)
        if (!strcmp(t->waits[i].id, o->client_id)) {
            t->waits[i].answered = true;
            if (!t->flush_timer && a->loop)
                t->flush_timer = loop_timer_add(a->loop, 0, trading_flush, a);
        }
}

static void trading_wait_cancel(void *ud, uint64_t token)
{
    app *a = ud;
    trading *t = a->trading;
    for (uint32_t i = 0; t && i < t->nwaits; i++)
        if (t->waits[i].token == token) {
            cJSON_Delete(t->waits[i].reply);
            t->waits[i] = t->waits[--t->nwaits];
            return;
        }
}

static void trading_on_order(void *ud, const order_note *n)
{
    app *a = ud;
    if (a->trading && a->trading->nwaits && n->kind == ORDER_NOTE_TRANSITION &&
        n->from == ORDER_PENDING_NEW && n->to != ORDER_PENDING_NEW)
        trading_answer(a, n->order);
    if (!a->store || !a->trading || a->trading->restoring)
        return;
    if (n->kind == ORDER_NOTE_TRANSITION && n->from == ORDER_PENDING_NEW &&
        n->to == ORDER_PENDING_NEW && n->order->nfills == 0)
        return; /* the creation: trading_commit writes it and waits for the commit */
    trading_put(a, "order", n->order->client_id, order_json(n->order), n->time_ms);
}

/* The durable commit of an intent completed: the order goes to the broker now, or never. */
static void trading_on_intent(void *ud, uint64_t sid, enum store_result rc)
{
    app *a = ud;
    trading *t = a->trading;
    if (!t || !a->runner)
        return;
    for (uint32_t i = 0; i < t->nintents; i++) {
        if (t->intents[i].sid != sid)
            continue;
        char id[ORDER_ID_MAX];
        snprintf(id, sizeof id, "%s", t->intents[i].id);
        t->intents[i] = t->intents[--t->nintents];
        if (rc != STORE_OK && a->log)
            log_error(a->log, "order %s: its intent was not stored durably (%s): it is not sent",
                      id, store_strerror(rc));
        (void)runner_release(a->runner, id, rc == STORE_OK, store_strerror(rc));
        a->changes++;
        const order *o = order_mgr_find(runner_orders(a->runner), id);
        if (o && (a->paused || a->finished || !a->loop)) /* the clock stands: answer now */
            trading_answer(a, o);
        return;
    }
}

/* runner_config.commit: the write-ahead record of a new order, on the durable lane; the order
 * waits in PENDING_NEW until trading_on_intent */
static int trading_commit(void *ud, const order *o)
{
    app *a = ud;
    trading *t = a->trading;
    if (!t || t->nintents >= TRADING_INTENTS)
        return K_ERR;
    cJSON *j = order_json(o);
    char *txt = j ? cJSON_PrintUnformatted(j) : NULL;
    cJSON_Delete(j);
    if (!txt)
        return K_ERR;
    store_record rec = {.kind = "order", .key = o->client_id, .payload = txt,
                        .len = strlen(txt), .time_ms = o->created_ms};
    uint64_t sid = 0;
    enum store_result rc = store_durable_put(a->store, &rec, trading_on_intent, a, &sid);
    cJSON_free(txt);
    if (rc != STORE_OK) {
        log_error(a->log, "order %s: its intent cannot be queued (%s): it is not sent",
                  o->client_id, store_strerror(rc));
        return K_ERR;
    }
    struct trading_intent *in = &t->intents[t->nintents++];
    in->sid = sid;
    snprintf(in->id, sizeof in->id, "%s", o->client_id);
    return K_OK;
}

/* the account (portfolio without its histories, balances), new round trips, new equity points */
static void trading_put_account(app *a, int64_t time_ms)
{
    trading *t = a->trading;
    portfolio *pf = runner_portfolio(a->runner);
    char key[32];
    uint32_t nt = portfolio_trade_count(pf);
    cJSON *trades = NULL;
    char *pj = portfolio_to_json(pf);
    cJSON *root = pj ? cJSON_Parse(pj) : NULL;
    free(pj);
    if (root) {
        trades = cJSON_DetachItemFromObjectCaseSensitive(root, "trades");
        cJSON_DeleteItemFromObjectCaseSensitive(root, "equity");
    }
    for (uint32_t i = t->trades_written; i < nt && trades; i++) {
        cJSON *tj = cJSON_GetArrayItem(trades, (int)i);
        if (!tj)
            break;
        snprintf(key, sizeof key, "%010u", i);
        trading_put(a, "trade", key, cJSON_Duplicate(tj, true), time_ms);
    }
    t->trades_written = nt;
    cJSON_Delete(trades);
    uint32_t np = portfolio_point_count(pf), first = np;
    while (first > 0 && portfolio_point_at(pf, first - 1)->time_ms > t->equity_written_ms)
        first--;
    for (uint32_t i = first; i < np; i++) {
        const pf_point *pt = portfolio_point_at(pf, i);
        cJSON *e = cJSON_CreateObject();
        char v[40];
        snprintf(key, sizeof key, "%013lld", (long long)pt->time_ms);
        decimal_format(pt->equity, decimal_places(pt->equity), v, sizeof v);
        cJSON_AddStringToObject(e, "t", key + strspn(key, "0"));
        cJSON_AddStringToObject(e, "equity", v);
        trading_put(a, "equity", key, e, pt->time_ms);
        t->equity_written_ms = pt->time_ms;
    }
    if (!root)
        return;
    paper *pp = runner_paper(a->runner);
    char assets[PAPER_MAX_ASSETS][INSTR_ASSET_MAX];
    size_t na = K_MIN(paper_assets(pp, assets, PAPER_MAX_ASSETS), (size_t)PAPER_MAX_ASSETS);
    cJSON *acc = cJSON_CreateObject(), *bal = cJSON_CreateObject();
    for (size_t i = 0; i < na; i++) {
        char v[40];
        kdec b = paper_balance_seen(pp, assets[i]);
        decimal_format(b, decimal_places(b), v, sizeof v);
        cJSON_AddStringToObject(bal, assets[i], v);
    }
    cJSON_AddItemToObject(acc, "portfolio", root);
    cJSON_AddItemToObject(acc, "balances", bal);
    paper_position_state fp[TRADING_FUTURES];
    size_t nf = K_MIN(paper_positions_seen(pp, fp, TRADING_FUTURES), (size_t)TRADING_FUTURES);
    cJSON *fut = cJSON_AddArrayToObject(acc, "futures");
    for (size_t i = 0; i < nf && fut; i++) {
        cJSON *f = cJSON_CreateObject();
        char v[40];
        cJSON_AddStringToObject(f, "venue", venue_name(fp[i].venue));
        cJSON_AddStringToObject(f, "symbol", fp[i].symbol);
        cJSON_AddStringToObject(f, "quote", fp[i].quote);
        decimal_format(fp[i].qty, 8, v, sizeof v);
        cJSON_AddStringToObject(f, "qty", v);
        decimal_format(fp[i].cost, 8, v, sizeof v);
        cJSON_AddStringToObject(f, "cost", v);
        decimal_format(fp[i].margin, 8, v, sizeof v);
        cJSON_AddStringToObject(f, "margin", v);
        cJSON_AddNumberToObject(f, "leverage", fp[i].leverage);
        cJSON_AddItemToArray(fut, f);
    }
    risk *rk = runner_risk(a->runner);
    if (risk_get_state(rk) == RISK_HALTED) /* a halt waits for a person, also after a restart */
        cJSON_AddStringToObject(acc, "halted", risk_reason(rk));
    trading_put(a, "account", "paper", acc, time_ms);
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
    if (a->store && a->trading && ev->kind != RUNNER_EV_FILL) {
        portfolio *pf = runner_portfolio(a->runner);
        uint32_t np = portfolio_point_count(pf);
        if (np && portfolio_point_at(pf, np - 1)->time_ms > a->trading->equity_written_ms)
            trading_put_account(a, ev->time_ms); /* a new equity sample (peak, day) */
    }
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
    trading_put_account(a, f->time_ms);
}

static void trading_on_retrain(void *ud, const market_sym *ms, const runner_retrain *rt)
{
    app *a = ud;
    if (a->trading && a->trading->ss)
        sigstore_on_retrain(a->trading->ss, ms, rt);
}

/* The warm-up's bars reach the engines a chunk per loop turn (64 bars: each is a signal with
 * every model, its scoring and learning), so feeding a day of history never holds the loop. */
static void trading_warm_tick(loop *l, uint64_t id, void *ud)
{
    (void)id;
    app *a = ud;
    if (!a->trading)
        return;
    a->trading->warm_timer = 0;
    if (a->runner && runner_warmup_step(a->runner, 64) > 0)
        a->trading->warm_timer = loop_timer_add(l, 0, trading_warm_tick, a);
}

/* A warm-up read on the writer thread (store_read_async / store_load_candles_async), and its
 * answer (main thread, store_process): the bars go to the runner, unless trading was restarted
 * meanwhile. One mechanism for both sources: stored candles, or a klines file read there. */
struct trading_warm_read {
    app *a;
    const market_sym *ms;
    uint32_t gen;
    candle *bars;
    /* a klines file: read by trading_warm_klines on the writer thread (copies: the writer never
     * reads the app) */
    char path[1024], symbol[KSYM_MAX], err[1200];
    enum venue venue;
    int64_t before_ms;
    uint32_t max;
};

static enum store_result trading_warm_klines(void *ud, struct sqlite3 *db, uint32_t *n)
{
    (void)db; /* a file, not the database: the writer thread is the app's one reader off the loop */
    struct trading_warm_read *w = ud;
    if (klines_load_before(w->path, w->venue, w->symbol, w->before_ms, w->bars, w->max, n, w->err,
                           sizeof w->err) != K_OK)
        *n = 0; /* logged by trading_warm_done: no warm-up */
    return STORE_OK;
}

static void trading_warm_done(void *ud, enum store_result rc, uint32_t n)
{
    struct trading_warm_read *w = ud;
    app *a = w->a;
    if (a->runner && a->trading && a->trading_reruns == w->gen) {
        if (w->err[0])
            log_warn(a->log, "engine.warmup: %s", w->err);
        if (rc != STORE_OK)
            log_warn(a->log, "%s: reading the warm-up history failed: no warm-up", w->ms->name);
        else if (n)
            log_info(a->log, "%s: the models warm up on %u history bars (%s)", w->ms->name, n,
                     w->path[0] ? w->path : "stored candles");
        runner_warmup_ready(a->runner, w->ms, w->bars, rc == STORE_OK ? n : 0);
        if (!a->trading->warm_timer && a->loop)
            a->trading->warm_timer = loop_timer_add(a->loop, 0, trading_warm_tick, a);
    }
    free(w->bars);
    free(w);
}

/* The restore read of a symbol's stored state answered (main thread, store_process): the runner
 * asks the warm-up now and feeds the bars that waited. */
static void trading_state_restored(void *ud, const market_sym *ms)
{
    app *a = ud;
    if (a->runner)
        runner_restore_ready(a->runner, ms);
}

/* The restore read (runner_config.restore), at the symbol's first data, on the store's writer
 * thread: live, and in a replay too, whose pump holds its next line until the answer is back
 * (runner_warmups_pending), so the state meets the data at the same line whatever the writer's
 * timing, a seek's re-run and a straight run alike (as for the warm-up). */
static uint32_t trading_state_restore(void *ud, const market_sym *ms, int64_t first_ms)
{
    (void)first_ms;
    app *a = ud;
    if (!a->trading || !a->trading->ss)
        return 0;
    return sigstore_restore_read(a->trading->ss, ms, true, trading_state_restored, a)
               ? RUNNER_RESTORE_PENDING
               : 0;
}

/* The warm-up history of a symbol's engine (runner_config.warmup): nothing when a stored model
 * state will be restored (it has learned already; restoring over a warm-up whose trainings are
 * running would race them), else the newest 1m bars that end before the symbol's first data:
 * stored candles (engine.warmup = "store") or a klines file (a path), both read on the store's
 * writer thread (RUNNER_WARMUP_PENDING: the bars come back through trading_warm_done; a replay
 * holds its next line until they are fed, runner_warmups_pending, so a seek and a straight run
 * agree). Without a store there is no writer thread: a klines file is then read here. Whether a
 * state will be restored is the restore read's answer (trading_state_restore, asked first). */
static uint32_t trading_warmup(void *ud, const market_sym *ms, int64_t before_ms, candle *out,
                               uint32_t max)
{
    app *a = ud;
    const char *src = a->cfg.engine_warmup;
    if (!strcmp(src, "off") || !src[0])
        return 0;
    bool stored = !strcmp(src, "store");
    if (a->trading && sigstore_restore_has(a->trading->ss, ms, before_ms))
        return 0; /* the restore read (asked first, trading_state_restore) holds a state */
    if (!a->store && stored) {
        return 0;
    } else if (!a->store) { /* no store, no writer thread: the file is read on the calling thread */
        char err[256];
        uint32_t n = 0;
        if (klines_load_before(src, ms->venue, ms->name, before_ms, out, max, &n, err,
                               sizeof err) != K_OK) {
            log_warn(a->log, "engine.warmup: %s", err);
            return 0;
        }
        if (n)
            log_info(a->log, "%s: the models warm up on %u history bars (%s)", ms->name, n, src);
        return n;
    }
    struct trading_warm_read *w = xcalloc(1, sizeof *w);
    w->a = a;
    w->ms = ms;
    w->gen = a->trading_reruns;
    w->bars = xmalloc((max ? max : 1) * sizeof *w->bars);
    w->max = max;
    w->venue = ms->venue;
    w->before_ms = before_ms;
    snprintf(w->symbol, sizeof w->symbol, "%s", ms->name);
    enum store_result rc;
    if (stored) /* bars that end by the first data: open_ms <= before_ms - 1 minute */
        rc = store_load_candles_async(a->store, ms->venue, ms->name, TF_1M, before_ms - 59999,
                                      w->bars, max, trading_warm_done, w);
    else {
        snprintf(w->path, sizeof w->path, "%s", src);
        rc = store_read_async(a->store, trading_warm_klines, trading_warm_done, w);
    }
    if (rc != STORE_OK) {
        log_warn(a->log, "%s: the store is busy: no warm-up", ms->name);
        free(w->bars);
        free(w);
        return 0;
    }
    return RUNNER_WARMUP_PENDING;
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

void trading_engine_flush(app *a)
{
    if (a->trading && a->trading->ss && a->store)
        sigstore_flush(a->trading->ss, a->data_ms);
}

/* Auto-trading's entry gate (runner.h): no new entry on a live symbol whose panes are failed
 * over to another venue's feed, none on a backup feed (data only); exits are never gated.
 * docs/LIVE.md "Failover and auto-trading". */
static bool trading_entry_gate(void *ud, const market_sym *ms, char *why, size_t cap)
{
    app *a = ud;
    return live_entry_allowed(a->live, ms->venue, ms->name, why, cap);
}

int trading_open(app *a, char *err, size_t errlen)
{
    if (a->runner)
        return K_OK;
    runner_config rc;
    runner_config_default(&rc);
    rc.auto_trade = a->cfg.engine_auto_trade;
    rc.entry_gate = trading_entry_gate;
    rc.entry_gate_ud = a;
    rc.signal_interval_ms = (int64_t)(a->cfg.engine_signal_interval_s * 1000.0 + 0.5);
    rc.paper.latency_ms = rc.paper.report_latency_ms = a->cfg.paper_latency_ms;
    rc.models = a->cfg.engine_models;
    rc.train_every = (uint32_t)(a->cfg.engine_train_every + 0.5);
    snprintf(rc.id_prefix, sizeof rc.id_prefix, "k");
    for (int i = 0; i < a->cfg.trade_count; i++) { /* paper.*, fees.*, risk.* as the file says */
        const config_kv *kv = &a->cfg.trade[i];
        char why[256] = "";
        bool ok;
        if (!strncmp(kv->key, "risk.", 5)) {
            ok = risk_config_set(&rc.risk, kv->key, kv->value, why, sizeof why) == RISK_OK;
        } else if (!strncmp(kv->key, "paper.balances.", 15) &&
                   !strcmp(kv->key + 15, rc.cash_asset)) {
            /* the cash asset's starting balance is the portfolio's starting cash */
            ok = decimal_parse(kv->value, strlen(kv->value), &rc.start_cash) == K_OK &&
                 rc.start_cash > 0;
            if (!ok)
                snprintf(why, sizeof why, "%s %s: the starting cash must be > 0", kv->key,
                         kv->value);
        } else {
            ok = paper_config_set(&rc.paper, kv->key, kv->value, why, sizeof why) == K_OK;
        }
        if (!ok) {
            snprintf(err, errlen, "%s", why);
            return K_ERR;
        }
    }
    /* session * 4096 + re-runs: above every earlier session's epoch (and every earlier re-run's
     * in this session) */
    rc.id_epoch = (a->session_id > 0 ? (uint64_t)a->session_id : 1) * 4096 +
                  K_MIN(a->trading_reruns, 4095u);
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
        rc.restore = trading_state_restore;
        rc.restore_ud = a;
        rc.on_retrain = trading_on_retrain;
        rc.on_retrain_ud = a;
    }
    if (strcmp(a->cfg.engine_warmup, "off") != 0) {
        rc.warmup = trading_warmup;
        rc.warmup_ud = a;
        rc.warmup_max = (uint32_t)(a->cfg.engine_warmup_bars + 0.5);
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
    if (a->store) { /* strict write-ahead: no order reaches the broker before its commit */
        rc.commit = trading_commit;
        rc.commit_ud = a;
    }
    a->runner = runner_new(a->market, a->clock, &rc);
    if (!a->runner) {
        snprintf(err, errlen, "cannot start the trading runner");
        return K_ERR;
    }
    runner_set_listener(a->runner, trading_on_event, a);
    order_mgr_set_listener(runner_orders(a->runner), trading_on_order, a);
    runner_set_instruments(a->runner, app_instruments(a));
    return K_OK;
}

/* ---- restore after a restart (or kill -9) ---- */

typedef struct trading_load {
    cJSON *account;   /* the newest "account" record */
    cJSON *trades;    /* array of the "trade" records, in order */
    cJSON *equity;    /* array of the "equity" records, in order */
    app *a;
    uint32_t orders, lost;
} trading_load;

static bool trading_load_rec(void *ud, const store_record *rec, uint64_t seq)
{
    (void)seq;
    trading_load *l = ud;
    cJSON *j = cJSON_ParseWithLength(rec->payload, rec->len);
    if (!j)
        return true;
    if (!strcmp(rec->kind, "account")) {
        cJSON_Delete(l->account);
        l->account = j;
    } else if (!strcmp(rec->kind, "trade")) {
        cJSON_AddItemToArray(l->trades, j);
    } else if (!strcmp(rec->kind, "equity")) {
        cJSON_AddItemToArray(l->equity, j);
    } else {
        cJSON_Delete(j);
    }
    return true;
}

/* one stored order: open resting ones rest again; an order whose outcome died with the process
 * (a market order in flight, a write-ahead intent never acknowledged, a cancel on its way) is
 * closed in the journal with the reason */
static bool trading_load_order(void *ud, const store_record *rec, uint64_t seq)
{
    (void)seq;
    trading_load *l = ud;
    app *a = l->a;
    cJSON *j = cJSON_ParseWithLength(rec->payload, rec->len);
    order o;
    if (!j || order_from_json(j, &o) != ORDER_OK) {
        cJSON_Delete(j);
        return true;
    }
    cJSON_Delete(j);
    if (!order_status_open(o.status)) {
        free(o.trade_ids);
        return true;
    }
    /* a triggered stop-limit rests as its limit (it must not trigger twice); a triggered
     * stop-market / take-profit / trailing stop executed at the trigger: its outcome died with
     * the process; an untriggered trailing stop resumes from its stored best price */
    bool rests = o.status == ORDER_NEW || o.status == ORDER_PARTIALLY_FILLED;
    rests = rests && o.req.type != ORDER_MARKET && !o.req.sweep &&
            (!o.triggered || o.req.type == ORDER_STOP_LIMIT);
    if (rests && runner_restore_order(a->runner, &o, o.triggered) == K_OK) {
        l->orders++;
    } else {
        enum order_status was = o.status;
        o.status = o.status == ORDER_PENDING_CANCEL ? ORDER_CANCELED : ORDER_EXPIRED;
        snprintf(o.reason, sizeof o.reason, "%s%s when Kestrel stopped: closed at the restart",
                 order_status_name(was), o.triggered ? " (triggered)" : "");
        if (a->store)
            trading_put(a, "order", o.client_id, order_json(&o), o.updated_ms);
        l->lost++;
    }
    free(o.trade_ids);
    return true;
}

/* one USD-M position of the account record back into the paper broker */
static int trading_restore_future(app *a, const cJSON *f)
{
    paper_position_state st;
    memset(&st, 0, sizeof st);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(f, "venue"),
                *sym = cJSON_GetObjectItemCaseSensitive(f, "symbol"),
                *q = cJSON_GetObjectItemCaseSensitive(f, "quote"),
                *lev = cJSON_GetObjectItemCaseSensitive(f, "leverage");
    const char *nums[3] = {"qty", "cost", "margin"};
    kdec *dst[3] = {&st.qty, &st.cost, &st.margin};
    if (!cJSON_IsString(v) || venue_parse(v->valuestring, &st.venue) != K_OK ||
        !cJSON_IsString(sym) || strlen(sym->valuestring) >= sizeof st.symbol ||
        !cJSON_IsString(q) || strlen(q->valuestring) >= sizeof st.quote || !cJSON_IsNumber(lev))
        return K_ERR;
    for (int i = 0; i < 3; i++) {
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(f, nums[i]);
        if (!cJSON_IsString(n) ||
            decimal_parse(n->valuestring, strlen(n->valuestring), dst[i]) != K_OK)
            return K_ERR;
    }
    snprintf(st.symbol, sizeof st.symbol, "%s", sym->valuestring);
    snprintf(st.quote, sizeof st.quote, "%s", q->valuestring);
    st.leverage = (int)lev->valuedouble;
    return paper_restore_position(runner_paper(a->runner), &st);
}

int trading_restore(app *a, char *err, size_t errlen)
{
    if (!a->runner || !a->store)
        return K_OK;
    trading_load l = {.trades = cJSON_CreateArray(), .equity = cJSON_CreateArray(), .a = a};
    enum store_result rc = store_durable_load(a->store, NULL, trading_load_rec, &l);
    int out = K_OK;
    if (rc != STORE_OK) {
        snprintf(err, errlen, "reading the trading journal: %s", store_strerror(rc));
        out = K_ERR;
    } else if (l.account) {
        cJSON *pj = cJSON_GetObjectItemCaseSensitive(l.account, "portfolio");
        const cJSON *mp = cJSON_GetObjectItemCaseSensitive(pj, "max_points");
        long long maxp = cJSON_IsString(mp) ? atoll(mp->valuestring) : 0;
        while (maxp > 0 && cJSON_GetArraySize(l.equity) > maxp) /* the newest max_points */
            cJSON_DeleteItemFromArray(l.equity, 0);
        uint32_t ntrades = (uint32_t)cJSON_GetArraySize(l.trades);
        int64_t last_t = 0;
        const cJSON *le = cJSON_GetArrayItem(l.equity, cJSON_GetArraySize(l.equity) - 1);
        const cJSON *lt = le ? cJSON_GetObjectItemCaseSensitive(le, "t") : NULL;
        if (cJSON_IsString(lt))
            last_t = atoll(lt->valuestring);
        cJSON_AddItemToObject(pj, "trades", l.trades);
        cJSON_AddItemToObject(pj, "equity", l.equity);
        l.trades = l.equity = NULL;
        char *txt = cJSON_PrintUnformatted(pj);
        enum portfolio_result pr = PF_ERR_PARSE;
        portfolio *pf = txt ? portfolio_from_json(txt, &pr) : NULL;
        cJSON_free(txt);
        if (!pf) {
            snprintf(err, errlen, "the stored portfolio does not parse (%s)",
                     portfolio_strerror(pr));
            out = K_ERR;
        } else {
            runner_restore_portfolio(a->runner, pf);
            a->trading->trades_written = ntrades;
            a->trading->equity_written_ms = last_t;
            const cJSON *h = cJSON_GetObjectItemCaseSensitive(l.account, "halted");
            if (cJSON_IsString(h))
                risk_halt(runner_risk(a->runner), h->valuestring);
            const cJSON *b;
            cJSON_ArrayForEach(b, cJSON_GetObjectItemCaseSensitive(l.account, "balances")) {
                kdec v;
                if (cJSON_IsString(b) &&
                    decimal_parse(b->valuestring, strlen(b->valuestring), &v) == K_OK)
                    runner_restore_balance(a->runner, b->string, v);
            }
            cJSON_ArrayForEach(b, cJSON_GetObjectItemCaseSensitive(l.account, "futures"))
                if (trading_restore_future(a, b) != K_OK && a->log)
                    log_error(a->log, "a stored USD-M position does not parse: not restored");
        }
    }
    cJSON_Delete(l.account);
    cJSON_Delete(l.trades);
    cJSON_Delete(l.equity);
    if (out != K_OK)
        return out;
    a->trading->restoring = true;
    rc = store_durable_load(a->store, "order", trading_load_order, &l);
    a->trading->restoring = false;
    if (rc != STORE_OK) {
        snprintf(err, errlen, "reading the stored orders: %s", store_strerror(rc));
        return K_ERR;
    }
    pf_summary sm;
    portfolio_summary(runner_portfolio(a->runner), &sm);
    if (a->log && (sm.open_positions || l.orders || l.lost || sm.realised_pnl || sm.fees))
        log_info(a->log, "trading restored: %u open position(s), %u open order(s) resting "
                 "again, %u closed as lost in the stop", sm.open_positions, l.orders, l.lost);
    a->changes++;
    return K_OK;
}

void trading_abandon(app *a)
{
    if (!a->runner || !a->trading)
        return;
    order_mgr *om = runner_orders(a->runner);
    for (uint32_t i = 0; a->store && i < order_mgr_count(om); i++) {
        const order *o = order_mgr_at(om, i);
        if (!order_status_open(o->status))
            continue;
        /* closed in the journal, so a later start does not rest it on the new run's account */
        order c = *o; /* shallow: order_json only reads the trade ids */
        c.status = ORDER_CANCELED;
        snprintf(c.reason, sizeof c.reason, "the replay re-ran from its start: a fresh paper "
                 "account");
        trading_put(a, "order", c.client_id, order_json(&c), a->data_ms);
    }
    if (a->store) { /* and the account: the re-run starts a fresh one */
        store_record rec = {.kind = "account", .key = "paper", .payload = NULL, .len = 0,
                            .time_ms = a->data_ms};
        if (store_durable_put(a->store, &rec, trading_on_durable, a, NULL) != STORE_OK)
            log_error(a->log, "the earlier run's account could not be removed from the journal");
    }
    a->trading_reruns++;
    a->trading->abandoned = true;
}

void trading_close(app *a)
{
    if (a->trading && a->trading->flush_timer && a->loop)
        loop_timer_cancel(a->loop, a->trading->flush_timer);
    if (a->trading && a->trading->warm_timer && a->loop)
        loop_timer_cancel(a->loop, a->trading->warm_timer);
    for (uint32_t i = 0; a->trading && i < a->trading->nwaits; i++) {
        struct trading_wait *w = &a->trading->waits[i];
        cJSON_Delete(w->reply);
        if (cmd_reply_error(a, w->token, "trading stopped before the broker answered") != K_OK &&
            a->log)
            log_debug(a->log, "order %s: the client had left", w->id);
    }
    if (a->runner && a->trading && a->store && !a->trading->abandoned)
        trading_put_account(a, 0); /* the last equity samples */
    if (a->trading && a->trading->lrn) { /* first: it may be training one of the runner's models */
        loop_unwatch(a->loop, learner_fd(a->trading->lrn));
        learner_free(a->trading->lrn);
        a->trading->lrn = NULL;
    }
    trading_engine_flush(a);
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
    if (c->a->store)
        trading_put_account(c->a, 0); /* the risk state as it is now survives a restart */
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
    if (sigstore_restoring(c->a->trading ? c->a->trading->ss : NULL, s))
        return cmd_fail(c, "%s: restoring the stored model state (read in the background): no "
                        "signal until it is back", s->name);
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

/* a positive decimal option value ("price=61000.5"), or a failure naming the option */
static cmd_result trading_opt_px(cmd_ctx *c, const char *arg, size_t skip, kdec *out)
{
    const char *v = arg + skip;
    if (decimal_parse(v, strlen(v), out) != K_OK || *out <= 0)
        return cmd_fail(c, "'%.40s': not a positive decimal", arg);
    return CMD_OK;
}

#define TRADING_ORDER_USAGE                                                                     \
    "order SYMBOL buy|sell QTY|quote=AMOUNT [type=market|limit|stop|stop_limit|tp] [price=P] "  \
    "[stop=P] [tif=gtc|ioc|fok] [post_only] [reduce_only] [sl=P] [tp=P] [leverage=N]"

/* order SYMBOL buy|sell QTY|quote=AMOUNT [options]: replies once the order is with the broker
 * (the paper broker takes it at once; its fills come later, see `orders` / `fills`). */
static cmd_result trading_order_exec(cmd_ctx *c)
{
    if (trading_need(c) != CMD_OK)
        return CMD_ERROR;
    if (c->argc < 4)
        return cmd_fail(c, "usage: " TRADING_ORDER_USAGE);
    market_sym *s = trading_symbol(c, c->argv[1]);
    if (!s)
        return CMD_ERROR;
    order_req q;
    memset(&q, 0, sizeof q);
    q.venue = s->venue;
    snprintf(q.symbol, sizeof q.symbol, "%s", s->name);
    q.type = ORDER_MARKET;
    q.tif = TIF_GTC;
    if (!strcmp(c->argv[2], "buy"))
        q.side = SIDE_BUY;
    else if (!strcmp(c->argv[2], "sell"))
        q.side = SIDE_SELL;
    else
        return cmd_fail(c, "side '%.20s' is not buy or sell", c->argv[2]);
    const char *qa = c->argv[3];
    bool quote = !strncmp(qa, "quote=", 6);
    kdec amount;
    if (quote)
        qa += 6;
    if (decimal_parse(qa, strlen(qa), &amount) != K_OK || amount <= 0)
        return cmd_fail(c, "quantity '%.40s' is not a positive decimal", c->argv[3]);
    bool tif_given = false;
    for (int i = 4; i < c->argc; i++) {
        const char *o = c->argv[i];
        cmd_result rc = CMD_OK;
        if (!strcmp(o, "reduce_only"))
            q.reduce_only = true;
        else if (!strcmp(o, "post_only"))
            q.post_only = true;
        else if (!strncmp(o, "type=", 5)) {
            if (order_type_parse(o + 5, &q.type) != K_OK)
                return cmd_fail(c, "type '%.20s' is not market, limit, stop, stop_limit, tp or "
                                   "trailing", o + 5);
        } else if (!strncmp(o, "tif=", 4)) {
            if (order_tif_parse(o + 4, &q.tif) != K_OK)
                return cmd_fail(c, "tif '%.20s' is not gtc, ioc or fok", o + 4);
            tif_given = true;
        } else if (!strncmp(o, "price=", 6))
            rc = trading_opt_px(c, o, 6, &q.price);
        else if (!strncmp(o, "stop=", 5))
            rc = trading_opt_px(c, o, 5, &q.stop);
        else if (!strncmp(o, "sl=", 3))
            rc = trading_opt_px(c, o, 3, &q.sl);
        else if (!strncmp(o, "tp=", 3))
            rc = trading_opt_px(c, o, 3, &q.tp);
        else if (!strncmp(o, "trail=", 6))
            rc = trading_opt_px(c, o, 6, &q.trail_pct);
        else if (!strncmp(o, "leverage=", 9)) {
            char *end;
            long lv = strtol(o + 9, &end, 10);
            if (!o[9] || *end || lv < 1 || lv > 125)
                return cmd_fail(c, "leverage '%.20s' is not an integer in [1, 125]", o + 9);
            if (s->venue != VENUE_BINANCE_USDM)
                return cmd_fail(c, "leverage= applies to USD-M symbols only");
            q.leverage = (int)lv;
        }
        else
            return cmd_fail(c, "unknown order option '%.40s' (%s)", o, TRADING_ORDER_USAGE);
        if (rc != CMD_OK)
            return rc;
    }
    if (tif_given && q.type == ORDER_MARKET && q.tif != TIF_IOC)
        return cmd_fail(c, "tif=%s applies to limit orders only", order_tif_name(q.tif));
    q.qty = amount;
    if (quote) { /* a quote amount at the limit / trigger / last price, floored to 1e-8 */
        kdec px = q.price > 0 ? q.price : q.stop > 0 ? q.stop : s->last_px;
        if (px <= 0)
            return cmd_fail(c, "%s has no price yet", s->name);
        q.qty = (kdec)((__int128)amount * KDEC_SCALE / px);
    }
    runner_placed pl;
    char why[256];
    if (runner_place(c->a->runner, &q, &pl, why, sizeof why) != K_OK)
        return cmd_fail(c, "%s", why);
    c->a->changes++;
    char t[40];
    cmd_json_str(c, c->out, "id", pl.id);
    cmd_json_str(c, c->out, "symbol", s->name);
    cmd_json_str(c, c->out, "side", side_name(q.side));
    cmd_json_str(c, c->out, "type", order_type_name(q.type));
    cmd_json_str(c, c->out, "tif", order_tif_name(q.type == ORDER_MARKET ? TIF_IOC : q.tif));
    decimal_format(pl.qty, s->qty_decimals, t, sizeof t);
    cmd_json_str(c, c->out, "qty", t);
    if (pl.price > 0) {
        decimal_format(pl.price, s->px_decimals, t, sizeof t);
        cmd_json_str(c, c->out, "price", t);
    }
    if (pl.stop > 0) {
        decimal_format(pl.stop, s->px_decimals, t, sizeof t);
        cmd_json_str(c, c->out, "stop", t);
    }
    decimal_format(pl.notional, decimal_places(pl.notional), t, sizeof t);
    cmd_json_str(c, c->out, "notional", t);
    const order *o = order_mgr_find(runner_orders(c->a->runner), pl.id);
    enum order_status st = o ? o->status : ORDER_PENDING_NEW;
    cmd_json_str(c, c->out, "status", order_status_name(st));
    if (o && o->reason[0])
        cmd_json_str(c, c->out, "reason", o->reason);
    if (c->origin == CMD_FROM_KEY)
        app_flash(c->a, "%s %s %s %s: %s", order_type_name(q.type), side_name(q.side), s->name,
                  t, pl.id);
    /* the reply waits for the broker's answer (after the durable commit and the paper latency
     * on the data clock), unless nobody can wait (a key) or too many wait; when the clock
     * stands (paused, ended) it waits for the durable commit only */
    trading *tr = c->a->trading;
    bool committing = runner_order_unreleased(c->a->runner, pl.id);
    if (st != ORDER_PENDING_NEW || !c->token || !c->a->loop || tr->nwaits >= TRADING_WAITS ||
        c->oom || ((c->a->paused || c->a->finished) && !committing))
        return CMD_OK;
    struct trading_wait *w = &tr->waits[tr->nwaits++];
    w->token = c->token;
    snprintf(w->id, sizeof w->id, "%s", pl.id);
    w->reply = c->out;
    c->out = NULL;
    c->cancel = trading_wait_cancel;
    c->cancel_ud = c->a;
    return CMD_WAIT;
}

const cmd_entry cmd_order_entry = {
    .name = "order", .args = "SYMBOL buy|sell QTY|quote=AMOUNT [type=market|limit|stop|"
                             "stop_limit|tp] [price=P] [stop=P] [tif=gtc|ioc|fok] [post_only] "
                             "[reduce_only] [sl=P] [tp=P] [leverage=N]",
    .help = "a paper order through precision, the risk engine and the broker", .min_args = 3,
    .max_args = 13, .exec = trading_order_exec};

/* cancel ID / cancel-order [ID]: without an id, the order selected on the Trading screen */
static cmd_result trading_cancel_exec(cmd_ctx *c)
{
    if (trading_need(c) != CMD_OK)
        return CMD_ERROR;
    trading *t = c->a->trading;
    const char *id = c->argc > 1 ? c->argv[1] : t->selected[0] ? t->selected : NULL;
    if (!id)
        return cmd_fail(c, "no order selected (Trading screen: move to an open order)");
    char idb[ORDER_ID_MAX], why[256];
    snprintf(idb, sizeof idb, "%s", id);
    if (runner_cancel(c->a->runner, idb, why, sizeof why) != K_OK)
        return cmd_fail(c, "%s", why);
    c->a->changes++;
    const order *o = order_mgr_find(runner_orders(c->a->runner), idb);
    cmd_json_str(c, c->out, "id", idb);
    cmd_json_str(c, c->out, "status", o ? order_status_name(o->status) : "?");
    if (c->origin == CMD_FROM_KEY)
        app_flash(c->a, "cancel %s sent", idb);
    return CMD_OK;
}

const cmd_entry cmd_cancel_entry = {.name = "cancel", .args = "ID",
                                    .help = "cancel an open order by its client id",
                                    .min_args = 1, .max_args = 1, .exec = trading_cancel_exec};
const cmd_entry cmd_cancel_order_entry = {.name = "cancel-order", .args = "[ID]",
                                          .help = "cancel the selected order",
                                          .max_args = 1, .exec = trading_cancel_exec};

/* amend ID [price=P] [qty=Q]: a resting limit's price and / or quantity, where the broker
 * allows it (rounded by the instrument's filters; a new price or a larger quantity loses the
 * queue place) */
static cmd_result trading_amend_exec(cmd_ctx *c)
{
    if (trading_need(c) != CMD_OK)
        return CMD_ERROR;
    kdec px = 0, q = 0;
    for (int i = 2; i < c->argc; i++) {
        const char *o = c->argv[i];
        cmd_result rc;
        if (!strncmp(o, "price=", 6))
            rc = trading_opt_px(c, o, 6, &px);
        else if (!strncmp(o, "qty=", 4))
            rc = trading_opt_px(c, o, 4, &q);
        else
            return cmd_fail(c, "unknown amend option '%.40s' (amend ID [price=P] [qty=Q])", o);
        if (rc != CMD_OK)
            return rc;
    }
    char id[ORDER_ID_MAX], why[256];
    snprintf(id, sizeof id, "%s", c->argv[1]);
    if (runner_amend(c->a->runner, id, &px, &q, why, sizeof why) != K_OK)
        return cmd_fail(c, "%s", why);
    c->a->changes++;
    const order *o = order_mgr_find(runner_orders(c->a->runner), id);
    const market_sym *s = o ? market_find(c->a->market, o->req.venue, o->req.symbol) : NULL;
    char t[40];
    cmd_json_str(c, c->out, "id", id);
    decimal_format(px, s ? s->px_decimals : decimal_places(px), t, sizeof t);
    cmd_json_str(c, c->out, "price", t);
    decimal_format(q, s ? s->qty_decimals : decimal_places(q), t, sizeof t);
    cmd_json_str(c, c->out, "qty", t);
    cmd_json_str(c, c->out, "status", o ? order_status_name(o->status) : "?");
    if (c->origin == CMD_FROM_KEY)
        app_flash(c->a, "amended %s", id);
    return CMD_OK;
}

const cmd_entry cmd_amend_entry = {.name = "amend", .args = "ID [price=P] [qty=Q]",
                                   .help = "change a resting limit's price / quantity (loses the "
                                           "queue place unless the quantity shrinks)",
                                   .min_args = 1, .max_args = 3, .exec = trading_amend_exec};

/* sweep [SYMBOL]: sells a dust remainder where the broker allows it */
static cmd_result trading_sweep_exec(cmd_ctx *c)
{
    if (trading_need(c) != CMD_OK)
        return CMD_ERROR;
    market_sym *s = trading_symbol(c, c->argc > 1 ? c->argv[1] : NULL);
    if (!s)
        return CMD_ERROR;
    char why[256], t[40];
    kdec q = 0;
    if (runner_sweep(c->a->runner, s->venue, s->name, &q, why, sizeof why) != K_OK)
        return cmd_fail(c, "%s", why);
    c->a->changes++;
    cmd_json_str(c, c->out, "symbol", s->name);
    decimal_format(q, decimal_places(q), t, sizeof t);
    cmd_json_str(c, c->out, "sweeping", t);
    return CMD_OK;
}

const cmd_entry cmd_sweep_entry = {.name = "sweep", .args = "[SYMBOL]",
                                   .help = "sell a dust remainder (below the venue minimum) where "
                                           "the broker allows it",
                                   .max_args = 1, .exec = trading_sweep_exec};

void trading_select_order(app *a, const char *client_id)
{
    if (a->trading)
        snprintf(a->trading->selected, sizeof a->trading->selected, "%s",
                 client_id ? client_id : "");
}

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
    if (c->a->store)
        trading_put_account(c->a, 0); /* HALTED survives a restart */
    cmd_json_num(c, c->out, "closing", n);
    cmd_json_str(c, c->out, "risk_state", "HALTED");
    app_flash(c->a, "close-all: %d position(s) closing; new entries halted until start", n);
    return CMD_OK;
}

const cmd_entry cmd_close_all_entry = {.name = "close-all", .args = "",
                                       .help = "close all: halt new entries, flatten at market",
                                       .exec = trading_close_all_exec};

/* ---- reading ---- */

/* a USD-M position's leverage, isolated margin, liquidation price and funding paid (the paper
 * broker's account as the delivered events tell it) */
static void trading_futures_fields(app *a, const pf_position *p, cJSON *pj)
{
    paper *pp = runner_paper(a->runner);
    paper_position_state fp[TRADING_FUTURES];
    size_t nf = K_MIN(paper_positions_seen(pp, fp, TRADING_FUTURES), (size_t)TRADING_FUTURES);
    char v[40];
    decimal_format(p->funding, decimal_places(p->funding), v, sizeof v);
    cJSON_AddStringToObject(pj, "funding", v);
    for (size_t i = 0; i < nf; i++) {
        if (fp[i].venue != p->venue || strcmp(fp[i].symbol, p->symbol))
            continue;
        cJSON_AddNumberToObject(pj, "leverage", fp[i].leverage);
        decimal_format(fp[i].margin, decimal_places(fp[i].margin), v, sizeof v);
        cJSON_AddStringToObject(pj, "margin", v);
        kdec liq = paper_position_liq_px(pp, &fp[i]);
        decimal_format(liq, decimal_places(liq), v, sizeof v);
        cJSON_AddStringToObject(pj, "liq_price", v);
    }
}

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
        cJSON *pj = portfolio_position_json(p, NULL);
        if (pj && p->venue == VENUE_BINANCE_USDM)
            trading_futures_fields(c->a, p, pj);
        cmd_json_push(c, arr, pj);
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
    const riskview *rv = riskview_current(c->a); /* VaR / ES, exposure, correlations */
    cJSON *m = rv ? riskview_json(rv) : NULL;
    if (m)
        cJSON_AddItemToObject(r, "metrics", m);
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
    for (uint32_t i = 0; i < order_mgr_count(om) && !c->oom; i++) {
        const order *o = order_mgr_at(om, i);
        cJSON *oj = order_json(o);
        broker_order_info info; /* has the broker ever seen it (write-ahead) */
        if (oj)
            cJSON_AddBoolToObject(oj, "at_broker", broker_query(runner_broker(c->a->runner),
                                                                o->client_id, &info) == BROKER_OK);
        cmd_json_push(c, arr, oj);
    }
    return CMD_OK;
}

const cmd_entry cmd_orders_entry = {.name = "orders", .args = "",
                                    .help = "orders of this session (ids as strings)",
                                    .exec = trading_orders_exec};
const cmd_entry cmd_fills_entry = {.name = "fills", .args = "",
                                   .help = "fills of this session: id, order_id, trade_id, time, "
                                           "symbol, side, price, qty, fee, fee_asset, liquidity",
                                   .exec = trading_orders_exec};

static void trading_put_dec(cJSON *o, const char *k, kdec v)
{
    char b[40];
    decimal_format(v, decimal_places(v), b, sizeof b);
    cJSON_AddStringToObject(o, k, b);
}

/* trades: the round trips (flat -> open -> flat), net of fees and funding, and the statistics
 * with their sample sizes; the same fields as `kestrel export trades` */
static cmd_result trading_trades_exec(cmd_ctx *c)
{
    if (trading_need(c) != CMD_OK)
        return CMD_ERROR;
    portfolio *pf = runner_portfolio(c->a->runner);
    cJSON *arr = cmd_json_arr(c, c->out, "trades");
    for (uint32_t i = 0; i < portfolio_trade_count(pf) && !c->oom; i++) {
        const pf_trade *t = portfolio_trade_at(pf, i);
        cJSON *o = cJSON_CreateObject();
        if (!o) {
            c->oom = true;
            break;
        }
        char b[32];
        snprintf(b, sizeof b, "%u", i);
        cJSON_AddStringToObject(o, "id", b);
        cJSON_AddStringToObject(o, "venue", venue_name(t->venue));
        cJSON_AddStringToObject(o, "symbol", t->symbol);
        cJSON_AddStringToObject(o, "side", side_name(t->side));
        trading_put_dec(o, "qty", t->qty);
        trading_put_dec(o, "entry", t->entry);
        trading_put_dec(o, "exit", t->exit);
        snprintf(b, sizeof b, "%lld", (long long)t->opened_ms);
        cJSON_AddStringToObject(o, "opened", b);
        snprintf(b, sizeof b, "%lld", (long long)t->closed_ms);
        cJSON_AddStringToObject(o, "closed", b);
        trading_put_dec(o, "pnl", t->pnl);
        trading_put_dec(o, "fees", t->fees);
        trading_put_dec(o, "funding", t->funding);
        cmd_json_push(c, arr, o);
    }
    pf_stats st;
    portfolio_stats(pf, &st);
    cJSON *js = portfolio_stats_json(&st);
    if (js)
        cJSON_AddItemToObject(c->out, "stats", js);
    return CMD_OK;
}

const cmd_entry cmd_trades_entry = {.name = "trades", .args = "",
                                    .help = "round trips net of fees, with win rate, profit "
                                            "factor, expectancy, Sharpe and sample sizes",
                                    .exec = trading_trades_exec};

/* ---- get / set: the risk and trading settings of the running session ---- */

static const char *const trading_paper_keys[] = {
    "paper.latency_ms",        "paper.slippage_cap_pct",  "fees.binance-spot.maker",
    "fees.binance-spot.taker", "fees.binance-usdm.maker", "fees.binance-usdm.taker",
    "fees.okx.maker",          "fees.okx.taker",
};

static int trading_get(runner *r, const char *key, char *buf, size_t cap)
{
    if (!strncmp(key, "risk.", 5))
        return risk_config_get(risk_get_config(runner_risk(r)), key, buf, cap);
    if (!strcmp(key, "engine.auto_trade")) {
        snprintf(buf, cap, "%s", runner_auto(r) ? "true" : "false");
        return K_OK;
    }
    return paper_config_get(paper_get_config(runner_paper(r)), key, buf, cap);
}

static cmd_result trading_get_exec(cmd_ctx *c)
{
    if (trading_need(c) != CMD_OK)
        return CMD_ERROR;
    runner *r = c->a->runner;
    char v[64];
    if (c->argc > 1) {
        if (trading_get(r, c->argv[1], v, sizeof v) != K_OK)
            return cmd_fail(c, "unknown key '%.60s' (risk.*, paper.*, fees.<venue>.maker|taker, "
                               "engine.auto_trade)", c->argv[1]);
        cmd_json_str(c, c->out, "key", c->argv[1]);
        cmd_json_str(c, c->out, "value", v);
        return CMD_OK;
    }
    cJSON *all = cmd_json_obj(c, c->out, "settings");
    for (size_t i = 0; risk_config_key(i) && !c->oom; i++)
        if (trading_get(r, risk_config_key(i), v, sizeof v) == K_OK)
            cmd_json_str(c, all, risk_config_key(i), v);
    for (size_t i = 0; i < K_ARRAY_LEN(trading_paper_keys) && !c->oom; i++)
        if (trading_get(r, trading_paper_keys[i], v, sizeof v) == K_OK)
            cmd_json_str(c, all, trading_paper_keys[i], v);
    const paper_config *pc = paper_get_config(runner_paper(r));
    for (int i = 0; i < pc->nbalances && !c->oom; i++) {
        char k[64];
        snprintf(k, sizeof k, "paper.balances.%s", pc->balances[i].asset);
        if (trading_get(r, k, v, sizeof v) == K_OK)
            cmd_json_str(c, all, k, v);
    }
    return CMD_OK;
}

const cmd_entry cmd_get_entry = {.name = "get", .args = "[KEY]",
                                 .help = "a risk / trading setting (all of them without KEY)",
                                 .max_args = 1, .exec = trading_get_exec};

static cmd_result trading_set_exec(cmd_ctx *c)
{
    if (trading_need(c) != CMD_OK)
        return CMD_ERROR;
    runner *r = c->a->runner;
    const char *key = c->argv[1], *val = c->argv[2];
    char why[256] = "", v[64];
    if (!strncmp(key, "risk.", 5)) {
        risk_config rc = *risk_get_config(runner_risk(r));
        if (risk_config_set(&rc, key, val, why, sizeof why) != RISK_OK)
            return cmd_fail(c, "%s", why);
        risk_set_config(runner_risk(r), &rc);
    } else if (!strcmp(key, "engine.auto_trade")) {
        if (strcmp(val, "true") && strcmp(val, "false"))
            return cmd_fail(c, "engine.auto_trade %.20s is not true or false", val);
        runner_set_auto(r, !strcmp(val, "true"));
    } else if (paper_config_get(paper_get_config(runner_paper(r)), key, v, sizeof v) == K_OK ||
               !strncmp(key, "paper.balances.", 15)) {
        if (paper_set(runner_paper(r), key, val, why, sizeof why) != K_OK)
            return cmd_fail(c, "%s", why);
    } else {
        return cmd_fail(c, "unknown key '%.60s' (risk.*, paper.*, fees.<venue>.maker|taker, "
                           "engine.auto_trade)", key);
    }
    c->a->changes++;
    if (trading_get(r, key, v, sizeof v) != K_OK)
        snprintf(v, sizeof v, "%s", val);
    settings_on_set(c->a, key, v); /* kept for the next start (settings.h) */
    cmd_json_str(c, c->out, "key", key);
    cmd_json_str(c, c->out, "value", v);
    if (c->origin == CMD_FROM_KEY)
        app_flash(c->a, "%s = %s", key, v);
    return CMD_OK;
}

const cmd_entry cmd_set_entry = {.name = "set", .args = "KEY VALUE",
                                 .help = "change a risk / trading setting now (kept: restored "
                                         "at the next start)",
                                 .min_args = 2, .max_args = 2, .exec = trading_set_exec};

/* ctl metrics' `warmup`: the runner's side of an asynchronous warm-up (docs/CONTROL.md): the
 * symbol's live notes held meanwhile and applied after the history, and those dropped past
 * RUNNER_WARM_QUEUE, by kind. */
static void trading_warm_json(const runner *r, uint32_t si, cJSON *m)
{
    cJSON *wu = cJSON_GetObjectItemCaseSensitive(m, "warmup");
    if (!wu)
        return;
    runner_warm_held h;
    runner_warm_info(r, si, &h);
    uint64_t fed = 0;
    uint32_t total = 0;
    cJSON_AddBoolToObject(wu, "warming", runner_warming(r, si, &fed, &total));
    cJSON_AddNumberToObject(wu, "live_held", (double)h.held);
    cJSON_AddNumberToObject(wu, "live_applied", (double)h.applied);
    cJSON_AddNumberToObject(wu, "live_waiting", h.waiting);
    cJSON_AddNumberToObject(wu, "live_held_max", h.peak);
    cJSON_AddNumberToObject(wu, "live_bound", RUNNER_WARM_QUEUE);
    cJSON *d = cJSON_AddObjectToObject(wu, "live_dropped");
    cJSON_AddNumberToObject(d, "bars", (double)h.dropped_bars);
    cJSON_AddNumberToObject(d, "trades", (double)h.dropped_trades);
    cJSON_AddNumberToObject(d, "funding", (double)h.dropped_other);
}

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
        trading_warm_json(r, i, m);
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
    cmd_json_num(c, t, "bars_revised", (double)st->revisions);
    cmd_json_num(c, t, "bars_revised_skipped", (double)st->revisions_skipped);
    cmd_json_num(c, t, "tradeable", (double)st->tradeable);
    cmd_json_num(c, t, "orders", (double)st->orders);
    cmd_json_num(c, t, "fills", (double)st->fills);
    cmd_json_num(c, t, "refused", (double)st->refused);
    cmd_json_num(c, t, "intents_waiting", runner_unreleased(r)); /* write-ahead commits pending */
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
        cmd_json_num(c, ms, "replayed", (double)si.replayed);
        cmd_json_num(c, ms, "replay_learned", (double)si.replay_learned);
        cmd_json_num(c, ms, "restored_time_ms", (double)si.restored_time_ms);
        cmd_json_num(c, ms, "checkpoints", (double)si.checkpoints);
        cmd_json_num(c, ms, "signals_written", (double)si.signals_written);
        cmd_json_num(c, ms, "scored_written", (double)si.scored_written);
        cmd_json_num(c, ms, "metrics_written", (double)si.metrics_written);
        cmd_json_num(c, ms, "retrains_written", (double)si.retrains_written);
        cmd_json_num(c, ms, "reasons_read", (double)si.reasons_read);
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

/* One export per journal kind: the name on the command line, the record kind, the order its
 * rows come in, the CSV columns (JSON: each record as stored, plus what `derive` adds). */
typedef struct trading_export {
    const char *name, *kind, *order_by;
    const char *const *cols;
    size_t ncols;
    void (*derive)(cJSON *row, const char *key, void *state);
} trading_export;

static const char *const trading_fill_cols[] = {"id",  "order_id", "trade_id", "time",
                                                "symbol", "side",  "price",    "qty",
                                                "fee", "fee_asset", "liquidity"};
static const char *const trading_trade_cols[] = {"id",   "venue",  "symbol", "side",
                                                 "qty",  "entry",  "exit",   "opened",
                                                 "closed", "pnl",  "fees",   "funding"};
static const char *const trading_equity_cols[] = {"time", "equity", "peak_equity", "drawdown"};

/* a round trip's id: its index in the history (the record key without its zero padding) */
static void trading_derive_trade(cJSON *row, const char *key, void *state)
{
    (void)state;
    const char *k = key + strspn(key, "0");
    cJSON_AddStringToObject(row, "id", *k ? k : "0");
}

/* equity: time, and the running peak and drawdown (percent) of the exported curve */
static void trading_derive_equity(cJSON *row, const char *key, void *state)
{
    (void)key;
    kdec *peak = state, eq = 0;
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(row, "t"),
                *e = cJSON_GetObjectItemCaseSensitive(row, "equity");
    if (!cJSON_IsString(t) || !cJSON_IsString(e) ||
        decimal_parse(e->valuestring, strlen(e->valuestring), &eq) != K_OK)
        return;
    cJSON_AddStringToObject(row, "time", t->valuestring);
    if (eq > *peak)
        *peak = eq;
    char b[40];
    decimal_format(*peak, decimal_places(*peak), b, sizeof b);
    cJSON_AddStringToObject(row, "peak_equity", b);
    kdec dd = *peak > 0 ? (kdec)((__int128)(*peak - eq) * 100 * KDEC_SCALE / *peak) : 0;
    decimal_format(dd, decimal_places(dd), b, sizeof b);
    cJSON_AddStringToObject(row, "drawdown", b);
    cJSON_DeleteItemFromObjectCaseSensitive(row, "t");
}

static const trading_export trading_exports[] = {
    {"fills", "fill", "seq", trading_fill_cols, K_ARRAY_LEN(trading_fill_cols), NULL},
    {"trades", "trade", "key", trading_trade_cols, K_ARRAY_LEN(trading_trade_cols),
     trading_derive_trade},
    {"equity", "equity", "key", trading_equity_cols, K_ARRAY_LEN(trading_equity_cols),
     trading_derive_equity},
    {"signals", NULL, NULL, NULL, 0, NULL}, /* not journal kinds: tables read by sigstore.c */
    {"metrics", NULL, NULL, NULL, 0, NULL},
    {"retrains", NULL, NULL, NULL, 0, NULL},
    {"backtests", NULL, NULL, NULL, 0, NULL}, /* btstore.c: runs, or one run's trades (--id) */
};

int trading_export_main(int argc, char **argv)
{
    const char *what = argc > 1 ? argv[1] : NULL, *fmt = "csv", *db = NULL;
    long long bt_id = 0;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--format") && i + 1 < argc)
            fmt = argv[++i];
        else if (!strcmp(argv[i], "--id") && i + 1 < argc && what && !strcmp(what, "backtests")) {
            char *end;
            bt_id = strtoll(argv[++i], &end, 10);
            if (*end || bt_id <= 0) {
                fprintf(stderr, "kestrel export: --id needs a backtest id (the # column)\n");
                return 2;
            }
        }
        else if (!strcmp(argv[i], "--db") && i + 1 < argc)
            db = argv[++i];
        else {
            fprintf(stderr, "kestrel export: unknown option '%s'\n", argv[i]);
            return 2;
        }
    }
    const trading_export *ex = NULL;
    for (size_t i = 0; what && i < K_ARRAY_LEN(trading_exports); i++)
        if (!strcmp(what, trading_exports[i].name))
            ex = &trading_exports[i];
    if (!ex || (strcmp(fmt, "csv") && strcmp(fmt, "json"))) {
        fprintf(stderr, "usage: kestrel export fills|trades|equity|signals|metrics|retrains|"
                        "backtests --format csv|json [--db FILE] [--id N (backtests: one run's "
                        "trades)]\n");
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
    if (!ex->kind) {
        int rc = !strcmp(what, "backtests")
                     ? btstore_export(h, bt_id, !strcmp(fmt, "csv"), stdout)
                     : sigstore_export(h, what, !strcmp(fmt, "csv"), stdout);
        sqlite3_close(h);
        return rc == 0 && fflush(stdout) == 0 ? 0 : rc ? rc : 1;
    }
    sqlite3_stmt *st = NULL;
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT key, payload FROM journal WHERE kind = ?1 ORDER BY %s",
             ex->order_by);
    if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) != SQLITE_OK ||
        sqlite3_bind_text(st, 1, ex->kind, -1, SQLITE_STATIC) != SQLITE_OK) {
        fprintf(stderr, "kestrel export: %s is not a Kestrel database with a journal (%s)\n",
                path, sqlite3_errmsg(h));
        sqlite3_finalize(st);
        sqlite3_close(h);
        return 1;
    }
    bool csv = !strcmp(fmt, "csv");
    if (csv)
        for (size_t i = 0; i < ex->ncols; i++)
            printf("%s%c", ex->cols[i], i + 1 < ex->ncols ? ',' : '\n');
    else
        fputs("[", stdout);
    int n = 0, rc;
    kdec state = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *key = (const char *)sqlite3_column_text(st, 0);
        const char *txt = (const char *)sqlite3_column_text(st, 1);
        cJSON *j = txt ? cJSON_Parse(txt) : NULL;
        if (!j)
            continue;
        if (ex->derive)
            ex->derive(j, key ? key : "", &state);
        if (csv) {
            for (size_t i = 0; i < ex->ncols; i++)
                trading_csv_field(stdout, j, ex->cols[i], i + 1 == ex->ncols);
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
