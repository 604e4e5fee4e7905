/* The strategy runner (runner.h): the one market subscriber that connects the market model to the
 * engine, the risk engine, the paper broker and the portfolio, per watched symbol, on the market
 * clock. It owns those parts (one paper broker, one portfolio, one risk engine, one engine per
 * symbol) so a backtest and the app's replay auto-trading run the same code. No I/O. */
#include "kestrel/runner.h"

#include "kestrel/decimal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kestrel/cnn.h"
#include "kestrel/learner.h"
#include "kestrel/logreg.h"
#include "kestrel/lstm.h"
#include "kestrel/transformer.h"
#include "kestrel/xgb.h"
#include "kestrel/mlp.h"
#include "kestrel/decimal.h"
#include "kestrel/ta.h"
#include "kestrel/xmalloc.h"

#define RUNNER_BIG_QTY (1000000LL * KDEC_SCALE) /* bar book depth no order exhausts */

typedef struct runner_sym {
    market_sym *ms;
    engine *e;
    book *bar_book;     /* bar mode quote (NULL until needed) */
    bool bar_mode;
    ta_ind *rsi;        /* RUNNER_RSI only */
    double rsi_last;
    kdec sl, tp;        /* protection of the open position */
    char pending[ORDER_ID_MAX]; /* an order in flight ("" = none) */
    int64_t last_sig_ms;
    int64_t snap_id;
    kdec last_close; /* bar mode: the last close of exec_tf */
    bool book_dirty; /* the book changed since the engine last saw it */
    bool told;       /* cfg.on_engine has been called for this symbol */
    bool warmed;     /* the warm-up ran (or had nothing to do) */
    uint64_t data_seq; /* market data taken for this symbol (trades, bars, top changes) */
    uint64_t trained_at[ENSEMBLE_MAX_MODELS]; /* samples() at each model's last train() */
    int64_t train_start_ms[ENSEMBLE_MAX_MODELS]; /* data time of the training in flight */
    runner_retrain last_rt[ENSEMBLE_MAX_MODELS]; /* the newest finished training per model */
    uint64_t sig_seq;  /* data_seq when its last signal was made */
    /* the warm-up: 1 = waiting for its bars (an asynchronous read), 2 = feeding them in chunks
     * (runner_warmup_step); meanwhile the symbol's live data (bars, trades, funding) waits in
     * warm_q, in order, bounded (runner_warm_hold), no signal is made and nothing trades */
    uint8_t warm_state;
    candle *warm_bars;
    uint32_t warm_n, warm_i;
    uint64_t warm_fed;
    int64_t warm_before, warm_last;
    candles *warm_agg[3];
    struct runner_warm_note *warm_q; /* grown on demand up to RUNNER_WARM_QUEUE */
    uint32_t warm_qn, warm_qcap;
    bool warm_top;                   /* the book changed meanwhile (one flag, not queued) */
    runner_warm_held held;           /* what waited, what was applied and dropped */
    /* the restore (runner_config.restore): 1 while its read is outstanding; the symbol is held
     * as during a warm-up (its live data waits in warm_q), the warm-up starts after it */
    uint8_t restoring;
    int64_t restore_first; /* the symbol's first data time (the warm-up's before_ms) */
    uint32_t revise_mask; /* timeframes with a bar revised after the engine took it */
} runner_sym;

/* One note of a warming symbol's live data, kept to be applied after its history. */
typedef struct runner_warm_note {
    enum market_note_kind kind; /* MARKET_BAR_CLOSED, MARKET_TRADE, MARKET_FUNDING */
    bool tick;                  /* a signal tick at u.due (replay: runner_warm_hold_tick) */
    enum tf tf;
    union {
        candle bar;
        feed_event ev;
        int64_t due;
    } u;
} runner_warm_note;

struct runner {
    market *m;
    kclock *clock;
    runner_config cfg;
    paper *pp;
    broker *br;
    order_mgr *om;
    portfolio *pf;
    risk *rk;
    runner_sym *syms;
    uint32_t nsyms, csyms;
    uint64_t timer;
    bool auto_on;
    runner_ev_fn fn;
    void *fn_ud;
    runner_stats st;
    int64_t now_ms;
    uint64_t digest;
    char last_why[256]; /* the last refusal's reason (for a person's order) */
    char last_id[ORDER_ID_MAX]; /* the last order created */
    const instruments *instr;   /* exchange filters (borrowed; NULL: none known) */
    bool deposited[PAPER_MAX_ASSETS]; /* starting holdings (cfg.paper.balances other than the
                                       * cash asset) already in the portfolio */
    bool closing_all; /* a close-all is in force (until the halt is resumed): an entry that
                       * was already at the broker and fills afterwards is closed again */
};

static const char *const runner_strategy_names[RUNNER_STRATEGY_COUNT] = {
    "engine", "rules", "rsi", "always_buy",
};

const char *runner_strategy_name(enum runner_strategy s)
{
    return (unsigned)s < RUNNER_STRATEGY_COUNT ? runner_strategy_names[s] : "?";
}

int runner_strategy_parse(const char *s, enum runner_strategy *out)
{
    for (int i = 0; i < RUNNER_STRATEGY_COUNT; i++)
        if (!strcmp(s, runner_strategy_names[i])) {
            *out = (enum runner_strategy)i;
            return K_OK;
        }
    return K_ERR;
}

void runner_config_default(runner_config *c)
{
    memset(c, 0, sizeof *c);
    engine_config_default(&c->engine);
    c->models = RUNNER_M_DEFAULT;
    c->signal_interval_ms = 30000;
    c->exec_tf = TF_1M;
    c->slippage_bps = 2;
    c->qty_step = 1000; /* 0.00001 */
    c->start_cash = 10000 * KDEC_SCALE;
    snprintf(c->cash_asset, sizeof c->cash_asset, "USDT");
    c->strategy = RUNNER_ENGINE;
    c->leverage = 1;
    risk_config_default(&c->risk);
    c->risk.size_mode = RISK_SIZE_CONFIDENCE;
    paper_config_default(&c->paper);
}

/* px moved by bps (1/100 bps resolution), worse for the taker: up for a buy */
static kdec runner_slip(const runner *r, kdec px, bool up)
{
    int64_t cbps = (int64_t)llround(r->cfg.slippage_bps * 100.0);
    __int128 f = up ? 1000000 + cbps : 1000000 - cbps;
    return (kdec)((__int128)px * f / 1000000);
}

static void runner_emit(runner *r, const runner_ev *ev)
{
    if (r->fn)
        r->fn(r->fn_ud, ev);
}

static runner_sym *runner_find(runner *r, const market_sym *ms)
{
    for (uint32_t i = 0; i < r->nsyms; i++)
        if (r->syms[i].ms == ms)
            return &r->syms[i];
    return NULL;
}

static runner_sym *runner_find_name(runner *r, enum venue v, const char *name)
{
    for (uint32_t i = 0; i < r->nsyms; i++)
        if (r->syms[i].ms->venue == v && !strcmp(r->syms[i].ms->name, name))
            return &r->syms[i];
    return NULL;
}

static engine *runner_engine_new(const runner *r, const char *symbol)
{
    engine_config ec = r->cfg.engine;
    snprintf(ec.symbol, sizeof ec.symbol, "%s", symbol);
    model *mods[ENSEMBLE_MAX_MODELS];
    uint32_t n = 0;
    if (r->cfg.models & RUNNER_M_WEIGHTS)
        mods[n++] = scorer_weights_new("weights", FEAT_COUNT, features_vote_idx);
    if (r->cfg.models & RUNNER_M_LOGREG)
        mods[n++] = logreg_new("logreg", FEAT_COUNT, NULL);
    if (r->cfg.models & RUNNER_M_MLP)
        mods[n++] = mlp_new("mlp", FEAT_COUNT, NULL);
    nn_config nc;
    nn_config_default(&nc);
    nc.window = ec.window_len;
    if (nc.bptt > nc.window)
        nc.bptt = nc.window;
    nc.replay_steps = nc.replay + 4 * nc.window; /* consecutive windows share all but one bar */
    if ((r->cfg.models & RUNNER_M_LSTM) && n < ENSEMBLE_MAX_MODELS)
        mods[n++] = lstm_new("lstm", FEAT_COUNT, &nc);
    if ((r->cfg.models & RUNNER_M_TRANSFORMER) && n < ENSEMBLE_MAX_MODELS)
        mods[n++] = transformer_new("transformer", FEAT_COUNT, &nc);
    if ((r->cfg.models & RUNNER_M_CNN) && n < ENSEMBLE_MAX_MODELS)
        mods[n++] = cnn_new("cnn", FEAT_COUNT, &nc);
    if ((r->cfg.models & RUNNER_M_XGB) && n < ENSEMBLE_MAX_MODELS) {
        xgb_config xc;
        xgb_config_default(&xc);
        mods[n++] = xgb_new("xgb", FEAT_COUNT, &xc);
    }
    for (uint32_t i = 0; i < n; i++) /* a constructor that refused its config */
        if (!mods[i]) {
            for (uint32_t j = 0; j < n; j++)
                if (mods[j])
                    mods[j]->ops->free(mods[j]);
            return NULL;
        }
    if (r->cfg.model_extra && n < ENSEMBLE_MAX_MODELS) {
        model *x = r->cfg.model_extra(r->cfg.model_extra_ud, symbol);
        if (x)
            mods[n++] = x;
    }
    return engine_new(&ec, mods, n);
}

int runner_models_parse(const char *s, uint32_t *out)
{
    static const struct {
        const char *name;
        uint32_t bit;
    } names[] = {{"weights", RUNNER_M_WEIGHTS}, {"logreg", RUNNER_M_LOGREG},
                 {"mlp", RUNNER_M_MLP},         {"lstm", RUNNER_M_LSTM},
                 {"transformer", RUNNER_M_TRANSFORMER}, {"cnn", RUNNER_M_CNN},
                 {"xgb", RUNNER_M_XGB}};
    if (!strcmp(s, "none")) {
        *out = 0;
        return K_OK;
    }
    uint32_t m = 0;
    const char *p = s;
    while (*p) {
        size_t len = strcspn(p, ", ");
        bool found = false;
        for (size_t i = 0; i < K_ARRAY_LEN(names) && len; i++)
            if (strlen(names[i].name) == len && !strncmp(p, names[i].name, len))
                m |= names[i].bit, found = true;
        if (len && !found)
            return K_ERR;
        p += len;
        while (*p == ',' || *p == ' ')
            p++;
    }
    if (!m)
        return K_ERR;
    *out = m;
    return K_OK;
}

/* A training of model i of s finished (swap rc): its record, kept and told to the listener. */
static void runner_retrained(runner *r, runner_sym *s, uint32_t i, enum model_result swap_rc,
                             double train_ms, bool offthread)
{
    model *m = engine_model(s->e, i);
    if (!m || i >= ENSEMBLE_MAX_MODELS)
        return;
    runner_retrain rt;
    memset(&rt, 0, sizeof rt);
    snprintf(rt.model, sizeof rt.model, "%s", m->name);
    snprintf(rt.kind, sizeof rt.kind, "%s", m->ops->kind);
    rt.seq = s->last_rt[i].seq + 1;
    rt.time_ms = s->train_start_ms[i];
    rt.offthread = offthread;
    rt.train_ms = train_ms;
    rt.samples = m->ops->samples ? m->ops->samples(m) : 0;
    model_retrain x; /* the model's own record (model.h): the same for every kind */
    if (swap_rc != K_MODEL_OK || model_retrains(m, &x, 1) != 1)
        return; /* nothing new recorded (no gate ran, nothing swapped) */
    rt.seq = x.seq;
    rt.time_ms = x.at_ms;
    snprintf(rt.trigger, sizeof rt.trigger, "%s", model_trigger_name(x.trigger));
    rt.n_train = x.n_train;
    rt.n_holdout = x.n_holdout;
    rt.cand_logloss = x.cand_logloss;
    rt.cand_acc = x.cand_acc;
    rt.live_logloss = x.live_logloss;
    rt.live_acc = x.live_acc;
    rt.base_logloss = x.base_logloss;
    rt.accepted = x.accepted != 0;
    if (!offthread && isfinite(x.train_ms))
        rt.train_ms = x.train_ms;
    if (!isfinite(rt.base_logloss)) /* no bar of its own: the logistic regression's rolling
                                     * out-of-sample log loss (NaN without one) */
        for (uint32_t j = 0; j < engine_models(s->e); j++)
            if (!strcmp(engine_model(s->e, j)->ops->kind, "logreg")) {
                metrics_summary ms;
                metrics_track_rolling(metrics_set_model_track(engine_metrics(s->e), j), &ms);
                rt.base_logloss = ms.n ? ms.log_loss : NAN;
                break;
            }
    s->last_rt[i] = rt;
    if (r->cfg.on_retrain)
        r->cfg.on_retrain(r->cfg.on_retrain_ud, s->ms, &rt);
}

bool runner_last_retrain(const runner *r, uint32_t si, uint32_t i, runner_retrain *out)
{
    if (si >= r->nsyms || i >= ENSEMBLE_MAX_MODELS || r->syms[si].last_rt[i].seq == 0)
        return false;
    *out = r->syms[si].last_rt[i];
    return true;
}

/* A network's training starts now (its retrain record's trigger and data time; XGBoost keeps
 * its own from xgb_should_retrain). */
static void runner_net_trigger(model *m, int64_t now)
{
    const char *k = m->ops->kind;
    if (!strcmp(k, "lstm") || !strcmp(k, "transformer") || !strcmp(k, "cnn"))
        nn_model_set_trigger(m, MODEL_TRIGGER_COUNT, now);
}

/* After labels reached the engine: starts the training of every off-thread model that is due
 * (see runner_config.train_every). Inline (no learner) it trains and swaps now, so a backtest
 * is the same for a seed; with a learner a model still training is skipped (train_busy). */
static void runner_train_due(runner *r, runner_sym *s, int64_t now)
{
    uint32_t n = engine_models(s->e);
    for (uint32_t i = 0; i < n && i < ENSEMBLE_MAX_MODELS; i++) {
        model *m = engine_model(s->e, i);
        if (!m || !(m->ops->flags & MODEL_F_OFFTHREAD) || !m->ops->train)
            continue;
        uint64_t have = m->ops->samples ? m->ops->samples(m) : 0;
        bool due;
        if (!strcmp(m->ops->kind, "xgboost"))
            due = xgb_should_retrain(m, now) != MODEL_TRIGGER_NONE;
        else
            due = have >= s->trained_at[i] + (r->cfg.train_every ? r->cfg.train_every : 256);
        if (!due)
            continue;
        if (r->cfg.learner) {
            uint64_t tag = (uint64_t)(s - r->syms) * ENSEMBLE_MAX_MODELS + i;
            enum learner_result lr = learner_submit(r->cfg.learner, m, tag);
            if (lr != K_LEARNER_OK) {
                r->st.train_busy++;
                if (!strcmp(m->ops->kind, "xgboost"))
                    xgb_retrain_cancel(m); /* asked again at the next tick, not pending forever */
                continue;
            }
            s->train_start_ms[i] = now; /* the job's: read when it comes back */
            runner_net_trigger(m, now);
        } else {
            s->train_start_ms[i] = now;
            runner_net_trigger(m, now);
            enum model_result tr = m->ops->train(m);
            enum model_result sw = m->ops->swap ? m->ops->swap(m) : K_MODEL_NOT_READY;
            if ((tr == K_MODEL_OK || tr == K_MODEL_BAD_STATE) && sw != K_MODEL_REFUSED)
                runner_retrained(r, s, i, sw, NAN, false);
        }
        s->trained_at[i] = have;
        r->st.trains++;
    }
}

uint32_t runner_collect(runner *r)
{
    if (!r->cfg.learner)
        return 0;
    learner_done d[16];
    uint32_t total = 0;
    size_t k;
    while ((k = learner_collect(r->cfg.learner, d, 16)) > 0) {
        for (size_t i = 0; i < k; i++) {
            if (!d[i].m || !d[i].m->ops->swap)
                continue;
            enum model_result sw = d[i].m->ops->swap(d[i].m);
            uint64_t si = d[i].tag / ENSEMBLE_MAX_MODELS, mi = d[i].tag % ENSEMBLE_MAX_MODELS;
            if (si < r->nsyms && engine_model(r->syms[si].e, (uint32_t)mi) == d[i].m &&
                (d[i].rc == K_MODEL_OK || d[i].rc == K_MODEL_BAD_STATE) &&
                sw != K_MODEL_REFUSED) /* REFUSED: stale, trained before a load() */
                runner_retrained(r, &r->syms[si], (uint32_t)mi, sw, (double)d[i].train_ns / 1e6,
                                 true);
        }
        total += (uint32_t)k;
    }
    return total;
}

/* the bar book quoted around px */
static void runner_quote(runner *r, runner_sym *s, kdec px)
{
    if (!s->bar_book) {
        s->bar_book = book_new(BOOK_RULES_BINANCE_SPOT, 4, 4);
        paper_attach_book(r->pp, s->ms->venue, s->ms->name, s->bar_book);
    }
    feed_level bid = { runner_slip(r, px, false), RUNNER_BIG_QTY };
    feed_level ask = { runner_slip(r, px, true), RUNNER_BIG_QTY };
    feed_event ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = FEED_DEPTH_SNAPSHOT;
    ev.venue = s->ms->venue;
    snprintf(ev.symbol, sizeof ev.symbol, "%s", s->ms->name);
    ev.u.depth.first_id = ev.u.depth.last_id = ++s->snap_id;
    ev.u.depth.bids = &bid;
    ev.u.depth.asks = &ask;
    ev.u.depth.nbids = ev.u.depth.nasks = 1;
    (void)book_on_snapshot(s->bar_book, &ev);
}

static void runner_train_due(runner *r, runner_sym *s, int64_t now);

static void runner_warm_closed(void *ud, enum tf tf, const candle *bar)
{
    (void)engine_on_bar(ud, tf, bar, false);
}

static void runner_on_bar(runner *r, runner_sym *s, enum tf tf, const candle *bar);
static void runner_on_trade(runner *r, runner_sym *s, const feed_event *ev);
static void runner_on_funding(runner *r, runner_sym *s, const feed_event *ev);
static void runner_tick(runner *r, runner_sym *s, int64_t due);

/* The warm-up's bars are here (n of them, oldest first): feeding starts. */
static void runner_warm_start(runner_sym *s, const candle *bars, uint32_t n)
{
    static const enum tf agg_tf[3] = {TF_5M, TF_15M, TF_1H};
    s->warm_bars = xmalloc((n ? n : 1) * sizeof *s->warm_bars);
    memcpy(s->warm_bars, bars, n * sizeof *bars);
    s->warm_n = n;
    s->warm_i = 0;
    s->warm_fed = 0;
    s->warm_last = INT64_MIN;
    for (int k = 0; k < 3; k++)
        s->warm_agg[k] = candles_new(agg_tf[k], 8);
    engine_warmup_begin(s->e);
    s->warm_state = 2;
}

/* Feeding is over: the counts, then the live bars that waited, in order. */
static void runner_warm_apply(runner *r, runner_sym *s);

static void runner_warm_finish(runner *r, runner_sym *s)
{
    engine_warmup_end(s->e, s->warm_fed);
    for (int k = 0; k < 3; k++) {
        candles_free(s->warm_agg[k]);
        s->warm_agg[k] = NULL;
    }
    free(s->warm_bars);
    s->warm_bars = NULL;
    s->warm_state = 0;
    runner_warm_apply(r, s);
}

/* The live data that waited while s warmed up or restored, in order (then the queue is gone). */
static void runner_warm_apply(runner *r, runner_sym *s)
{
    uint32_t qn = s->warm_qn;
    runner_warm_note *q = s->warm_q;
    s->warm_q = NULL;
    s->warm_qn = s->warm_qcap = 0;
    size_t si = (size_t)(s - r->syms);
    if (s->warm_top) { /* the book as it is now is taken at the next signal */
        s->warm_top = false;
        s->book_dirty = true;
        s->data_seq++;
    }
    for (uint32_t i = 0; i < qn; i++) { /* (syms never moves: no symbol is added meanwhile) */
        runner_sym *t = &r->syms[si];
        if (q[i].tick) {
            runner_tick(r, t, q[i].u.due);
            continue; /* (a tick is not data: not counted in applied) */
        }
        switch (q[i].kind) {
        case MARKET_BAR_CLOSED:
            runner_on_bar(r, t, q[i].tf, &q[i].u.bar);
            break;
        case MARKET_TRADE:
            runner_on_trade(r, t, &q[i].u.ev);
            break;
        default:
            runner_on_funding(r, t, &q[i].u.ev);
            break;
        }
        t->held.applied++;
    }
    free(q);
}

/* the next free slot of s's warm queue (grown), or NULL at the bound */
static runner_warm_note *runner_warm_slot(runner_sym *s)
{
    if (s->warm_qn == RUNNER_WARM_QUEUE)
        return NULL;
    if (s->warm_qn == s->warm_qcap) {
        s->warm_qcap = s->warm_qcap ? s->warm_qcap * 2 : 64;
        s->warm_q = xrealloc(s->warm_q, s->warm_qcap * sizeof *s->warm_q);
    }
    runner_warm_note *w = &s->warm_q[s->warm_qn++];
    memset(w, 0, sizeof *w);
    if (s->warm_qn > s->held.peak)
        s->held.peak = s->warm_qn;
    return w;
}

/* A replay's signal tick while s warms up waits behind the data that came before it, so the
 * symbol signals at the same data times as with a blocking read (not counted as held data). */
static void runner_warm_hold_tick(runner_sym *s, int64_t due)
{
    runner_warm_note *w = runner_warm_slot(s);
    if (!w) {
        s->held.dropped_other++;
        return;
    }
    w->tick = true;
    w->u.due = due;
}

/* A warming symbol's live note waits (in order) to be applied after the history: up to
 * RUNNER_WARM_QUEUE of them, the rest are counted as dropped (by kind); book changes are one
 * flag (the book itself is live: its state is read at the next signal). */
static void runner_warm_hold(runner_sym *s, const market_note *n)
{
    if (n->kind == MARKET_TOP_CHANGED) {
        s->warm_top = true;
        return;
    }
    bool bar = n->kind == MARKET_BAR_CLOSED && n->bar;
    if (!bar && !((n->kind == MARKET_TRADE || n->kind == MARKET_FUNDING) && n->ev))
        return;
    runner_warm_note *w = runner_warm_slot(s);
    if (!w) {
        if (bar)
            s->held.dropped_bars++;
        else if (n->kind == MARKET_TRADE)
            s->held.dropped_trades++;
        else
            s->held.dropped_other++;
        return;
    }
    w->kind = bar ? MARKET_BAR_CLOSED : n->kind;
    w->tf = n->tf;
    if (bar)
        w->u.bar = *n->bar;
    else
        w->u.ev = *n->ev;
    s->held.held++;
}

/* Up to max history bars through s's engine (1m and the 5m / 15m / 1h it aggregates), a signal
 * at every close (source "warmup", never traded), scoring and the trainings that fall due. */
static uint32_t runner_warm_feed(runner *r, runner_sym *s, uint32_t max)
{
    uint32_t done = 0;
    while (s->warm_i < s->warm_n && done < max) {
        const candle *b = &s->warm_bars[s->warm_i++];
        done++;
        int64_t end = b->open_ms + 60000;
        if (b->open_ms <= s->warm_last || end > s->warm_before)
            continue; /* out of order, or not older than the live data */
        s->warm_last = b->open_ms;
        if (engine_on_bar(s->e, TF_1M, b, false) != K_OK)
            continue;
        s->warm_fed++;
        for (int k = 0; k < 3; k++) {
            candles_on_bar(s->warm_agg[k], b, 60000, runner_warm_closed, s->e);
            candles_advance(s->warm_agg[k], end, runner_warm_closed, s->e);
        }
        engine_signal sig;
        if (engine_signal_make(s->e, end, &sig) != K_MODEL_OK)
            continue;
        engine_advance(s->e, end);
        runner_train_due(r, s, end);
    }
    if (s->warm_i >= s->warm_n)
        runner_warm_finish(r, s);
    return done;
}

/* The warm-up (runner_config.warmup): history bars through the engine before its first data;
 * all at once when the callback has them, else when runner_warmup_ready() brings them. */
static void runner_warmup(runner *r, runner_sym *s, int64_t before_ms)
{
    uint32_t max = r->cfg.warmup_max ? r->cfg.warmup_max : 1440;
    candle *bars = xmalloc(max * sizeof *bars);
    s->warm_before = before_ms;
    uint32_t n = r->cfg.warmup(r->cfg.warmup_ud, s->ms, before_ms, bars, max);
    if (n == RUNNER_WARMUP_PENDING) { /* an asynchronous read: the engine waits for it */
        free(bars);
        s->warm_state = 1;
        engine_warmup_begin(s->e);
        return;
    }
    if (n > max)
        n = max;
    runner_warm_start(s, bars, n);
    free(bars);
    runner_warm_feed(r, s, UINT32_MAX);
}

void runner_warmup_ready(runner *r, const market_sym *ms, const candle *bars, uint32_t n)
{
    runner_sym *s = runner_find(r, ms);
    if (!s || s->warm_state != 1)
        return;
    uint32_t max = r->cfg.warmup_max ? r->cfg.warmup_max : 1440;
    runner_warm_start(s, bars, K_MIN(n, max));
}

uint32_t runner_warmup_step(runner *r, uint32_t max_bars)
{
    uint32_t left = 0;
    for (uint32_t i = 0; i < r->nsyms; i++) {
        runner_sym *s = &r->syms[i];
        if (s->warm_state == 2 && (max_bars > 0 || s->warm_i >= s->warm_n))
            max_bars -= runner_warm_feed(r, s, max_bars); /* (nothing left: it finishes) */
        if (s->warm_state == 2) /* at least 1: a symbol not finished yet needs another turn */
            left += K_MAX(s->warm_n - s->warm_i, 1u);
    }
    return left;
}

void runner_warm_info(const runner *r, uint32_t si, runner_warm_held *out)
{
    memset(out, 0, sizeof *out);
    if (si < r->nsyms) {
        *out = r->syms[si].held;
        out->waiting = r->syms[si].warm_qn;
    }
}

bool runner_warmups_pending(const runner *r)
{
    for (uint32_t i = 0; i < r->nsyms; i++)
        if (r->syms[i].warm_state || r->syms[i].restoring)
            return true;
    return false;
}

bool runner_warming(const runner *r, uint32_t si, uint64_t *fed, uint32_t *total)
{
    if (si >= r->nsyms || !r->syms[si].warm_state)
        return false;
    const runner_sym *s = &r->syms[si];
    if (fed)
        *fed = s->warm_fed;
    if (total)
        *total = s->warm_state == 2 ? s->warm_n : 0;
    return true;
}

/* ---- the restore of a symbol's stored state (runner_config.restore) ---------------------- */

/* At the symbol's first data, before its warm-up: true when the restore's read is outstanding
 * (the symbol is held as during a warm-up: its live data waits in warm_q, runner_warm_hold; no
 * signal, no trade; the warm-up waits for runner_restore_ready()). */
static bool runner_restore_begin(runner *r, runner_sym *s, int64_t first_ms)
{
    s->restore_first = first_ms;
    if (!r->cfg.restore || r->cfg.restore(r->cfg.restore_ud, s->ms, first_ms) !=
                               RUNNER_RESTORE_PENDING)
        return false;
    s->restoring = 1;
    return true;
}

void runner_restore_ready(runner *r, const market_sym *ms)
{
    runner_sym *s = runner_find(r, ms);
    if (!s || !s->restoring)
        return;
    s->restoring = 0;
    if (r->cfg.warmup && s->restore_first > 0 && !s->told)
        runner_warmup(r, s, s->restore_first); /* the order of the blocking path: then this */
    if (s->warm_state)
        return; /* the warm-up applies the data that waited when it finishes */
    runner_warm_apply(r, s); /* no warm-up: the data that waited, in order */
}

bool runner_restoring(const runner *r, uint32_t si)
{
    return si < r->nsyms && r->syms[si].restoring;
}

static runner_sym *runner_add(runner *r, market_sym *ms, int64_t first_ms)
{
    if (r->cfg.symbol[0] && strcmp(r->cfg.symbol, ms->name))
        return NULL;
    runner_sym *s = runner_find(r, ms);
    if (s)
        return s;
    engine *e = runner_engine_new(r, ms->name);
    if (!e)
        return NULL;
    if (r->nsyms == r->csyms) {
        r->csyms = r->csyms ? r->csyms * 2 : 4;
        r->syms = xrealloc(r->syms, r->csyms * sizeof *r->syms);
    }
    s = &r->syms[r->nsyms++];
    memset(s, 0, sizeof *s);
    s->ms = ms;
    s->e = e;
    s->bar_mode = ms->bars_from_klines;
    s->rsi_last = NAN;
    s->last_sig_ms = INT64_MIN;
    const pf_position *pp = portfolio_position(r->pf, ms->venue, ms->name);
    if (pp && pp->qty != 0) { /* a restored position keeps its stop-loss / take-profit */
        s->sl = pp->sl;
        s->tp = pp->tp;
    }
    if (r->cfg.strategy == RUNNER_RSI)
        {
        char err[64];
        s->rsi = ta_ind_new("rsi_14", err, sizeof err);
    }
    if (!s->bar_mode)
        paper_attach_book(r->pp, ms->venue, ms->name, ms->book);
    (void)first_ms; /* the warm-up waits for the symbol's first trade or bar (its time) */
    return s;
}

static kdec runner_pos_qty(const runner *r, const runner_sym *s)
{
    const pf_position *p = portfolio_position(r->pf, s->ms->venue, s->ms->name);
    return p ? p->qty : 0;
}

/* An order that never reached the broker ends as `st` (REJECTED / CANCELED) with why; the
 * symbol's in-flight slot is freed. */
static void runner_unsend(runner *r, const char *id, enum order_status st, const char *why,
                          int64_t now)
{
    order *o = order_mgr_find(r->om, id);
    if (!o)
        return;
    runner_sym *s = runner_find_name(r, o->req.venue, o->req.symbol);
    r->st.broker_errors++;
    snprintf(r->last_why, sizeof r->last_why, "%s", why);
    char cid[ORDER_ID_MAX];
    snprintf(cid, sizeof cid, "%s", id);
    enum order_result rc = order_mgr_transition(r->om, cid, st, why, now);
    (void)rc; /* PENDING_NEW -> REJECTED / CANCELED is in the table */
    if (s && !strcmp(s->pending, cid))
        s->pending[0] = '\0';
    runner_ev ev = {.kind = RUNNER_EV_REFUSED, .time_ms = now, .sym = s ? s->ms : NULL,
                    .why = why};
    runner_emit(r, &ev);
}

/* the order goes to the broker now */
static int runner_send(runner *r, const char *client_id, int64_t now)
{
    const order *o = order_mgr_find(r->om, client_id);
    if (!o)
        return K_ERR;
    enum broker_result br = broker_place(r->br, o, now);
    if (br != BROKER_OK) {
        char why[160];
        snprintf(why, sizeof why, "the broker refused it: %s", broker_strerror(br));
        runner_unsend(r, client_id, ORDER_REJECTED, why, now);
        return K_ERR;
    }
    paper_on_time(r->pp, now);
    return K_OK;
}

/* created, waiting for its durable commit (the broker has never seen it) */
static bool runner_waiting(runner *r, const order *o)
{
    broker_order_info info;
    return o->status == ORDER_PENDING_NEW &&
           broker_query(r->br, o->client_id, &info) == BROKER_ERR_NOT_FOUND;
}

/* One order through risk and the order manager to the broker; K_OK when placed. px: the
 * expected fill price risk judges (the limit, the trigger or the touch); sl its stop. A market
 * order (or nothing resting) marks the symbol's slot in flight; resting orders do not. */
static int runner_submit(runner *r, runner_sym *s, const order_req *rq, kdec px, kdec sl,
                         const char *why, int64_t now)
{
    risk_update(r->rk, r->pf, now);
    bool reducing = rq->reduce_only;
    kdec qty = rq->qty;
    risk_order ro = {
        .venue = s->ms->venue, .symbol = s->ms->name, .asset = NULL, .side = rq->side,
        .qty = qty, .price = px, .stop = sl,
        .leverage = rq->leverage > 0 ? rq->leverage : r->cfg.leverage, .reducing = reducing,
    };
    risk_verdict v;
    runner_ev ev = { .kind = RUNNER_EV_REFUSED, .time_ms = now, .sym = s->ms, .side = rq->side,
                     .qty = qty };
    if (risk_check(r->rk, r->pf, &ro, now, &v) != RISK_OK) {
        r->st.refused++;
        ev.why = v.why;
        snprintf(r->last_why, sizeof r->last_why, "%s", v.why);
        runner_emit(r, &ev);
        return K_ERR;
    }
    if (!reducing && v.qty < qty)
        qty = v.qty - v.qty % (r->cfg.qty_step > 0 ? r->cfg.qty_step : 1);
    if (qty <= 0) {
        r->st.refused++;
        ev.why = "size floored to 0";
        snprintf(r->last_why, sizeof r->last_why, "%s", ev.why);
        runner_emit(r, &ev);
        return K_ERR;
    }
    order_req req = *rq;
    req.venue = s->ms->venue;
    snprintf(req.symbol, sizeof req.symbol, "%s", s->ms->name);
    req.qty = qty;
    if (req.leverage == 0)
        req.leverage = r->cfg.leverage;
    const order *o = NULL;
    if (order_mgr_create(r->om, &req, now, &o) != ORDER_OK) {
        r->st.broker_errors++;
        ev.why = "order manager full";
        snprintf(r->last_why, sizeof r->last_why, "%s", ev.why);
        runner_emit(r, &ev);
        return K_ERR;
    }
    bool in_flight = req.type == ORDER_MARKET;
    if (in_flight)
        snprintf(s->pending, sizeof s->pending, "%s", o->client_id);
    snprintf(r->last_id, sizeof r->last_id, "%s", o->client_id);
    r->st.orders++;
    ev.kind = RUNNER_EV_ORDER;
    ev.why = why;
    ev.qty = qty;
    runner_emit(r, &ev);
    if (r->cfg.commit) { /* write-ahead: the broker gets it from runner_release() */
        char id[ORDER_ID_MAX];
        snprintf(id, sizeof id, "%s", o->client_id);
        if (r->cfg.commit(r->cfg.commit_ud, o) != K_OK) {
            runner_unsend(r, id, ORDER_REJECTED,
                          "not stored durably: the durable lane refused the intent", now);
            return K_ERR;
        }
        return K_OK;
    }
    return runner_send(r, o->client_id, now);
}

/* one market order (the engine's, a close) */
static int runner_order(runner *r, runner_sym *s, enum side side, kdec qty, bool reducing,
                        kdec px, kdec sl, const char *why, int64_t now)
{
    order_req req;
    memset(&req, 0, sizeof req);
    req.side = side;
    req.type = ORDER_MARKET;
    req.tif = TIF_IOC;
    req.reduce_only = reducing;
    req.qty = qty;
    return runner_submit(r, s, &req, px, sl, why, now);
}

/* what a close can send: the whole position, or with known filters the part the venue takes
 * (a remainder under its minimum stays behind as dust: it never blocks the close) */
static kdec runner_closable(const runner *r, const runner_sym *s, kdec q, kdec px)
{
    const instrument *ins = r->instr ? instruments_find(r->instr, s->ms->venue, s->ms->name)
                                     : NULL;
    if (!ins || q == 0)
        return q;
    kdec dust;
    kdec c = instrument_close_qty(ins, q, px, &dust);
    return q > 0 ? c : -c;
}

static void runner_close(runner *r, runner_sym *s, kdec px, const char *why, int64_t now)
{
    kdec q = runner_pos_qty(r, s);
    if (q == 0 || s->pending[0])
        return;
    q = runner_closable(r, s, q, px);
    if (q == 0)
        return; /* only dust left */
    if (s->bar_mode)
        runner_quote(r, s, px);
    enum side side = q > 0 ? SIDE_SELL : SIDE_BUY;
    (void)runner_order(r, s, side, q > 0 ? q : -q, true, px, 0, why, now);
}

/* the action the strategy takes on signal sig; false = none */
static bool runner_decide(runner *r, runner_sym *s, engine_signal *sig)
{
    switch (r->cfg.strategy) {
    case RUNNER_ENGINE:
        break;
    case RUNNER_RULES:
        sig->action = MODEL_HOLD;
        if (fmax(sig->bull, sig->bear) >= sig->threshold)
            sig->action = sig->bull >= sig->bear ? MODEL_BUY : MODEL_SELL;
        sig->tradeable = sig->action != MODEL_HOLD;
        break;
    case RUNNER_RSI: {
        scorer_result fb;
        scorer_rsi_fallback(s->rsi_last, &fb);
        sig->action = fb.action;
        sig->tradeable = fb.action != MODEL_HOLD;
        break;
    }
    case RUNNER_ALWAYS_BUY:
        sig->action = MODEL_BUY;
        sig->tradeable = true;
        break;
    default:
        return false;
    }
    return sig->tradeable && sig->action != MODEL_HOLD;
}

static void runner_act(runner *r, runner_sym *s, engine_signal *sig, int64_t now)
{
    if (!r->auto_on || s->pending[0] || !runner_decide(r, s, sig))
        return;
    r->st.tradeable++;
    kdec q = runner_pos_qty(r, s);
    enum side side = sig->action == MODEL_BUY ? SIDE_BUY : SIDE_SELL;
    kdec px = s->bar_mode ? s->last_close : s->ms->last_px;
    if (s->bar_mode && s->bar_book) {
        kdec bid, bq, ask, aq;
        if (book_best(s->bar_book, &bid, &bq, &ask, &aq))
            px = side == SIDE_BUY ? ask : bid;
    }
    if (px <= 0)
        return;
    if (q != 0) {
        if ((q > 0) != (side == SIDE_BUY))
            /* reverse only later */
            runner_close(r, s, s->bar_mode ? s->last_close : s->ms->last_px, "close", now);
        return;
    }
    if (side == SIDE_SELL && s->ms->venue == VENUE_BINANCE_SPOT)
        return; /* no shorting on spot */
    char why[160];
    if (r->cfg.entry_gate && !r->cfg.entry_gate(r->cfg.entry_gate_ud, s->ms, why, sizeof why)) {
        r->st.refused++;
        runner_ev ev = { .kind = RUNNER_EV_REFUSED, .time_ms = now, .sym = s->ms, .why = why };
        runner_emit(r, &ev);
        return;
    }
    kdec sl = 0, tp = 0;
    if (r->cfg.strategy != RUNNER_ALWAYS_BUY) {
        double atr = isfinite(sig->atr) && sig->atr > 0 ? sig->atr : 0;
        risk_protect(&r->cfg.risk, side, px, (kdec)llround(atr * KDEC_SCALE), &sl, &tp);
    }
    risk_size_in in = { .price = px, .stop = sl, .confidence = sig->confidence };
    kdec qty = 0;
    risk_update(r->rk, r->pf, now);
    if (risk_size(r->rk, r->pf, &in, &qty, why, sizeof why) != RISK_OK) {
        r->st.refused++;
        runner_ev ev = { .kind = RUNNER_EV_REFUSED, .time_ms = now, .sym = s->ms, .why = why };
        runner_emit(r, &ev);
        return;
    }
    kdec step = r->cfg.qty_step > 0 ? r->cfg.qty_step : 1;
    qty -= qty % step;
    if (qty <= 0)
        return;
    if (runner_order(r, s, side, qty, false, px, sl, "open", now) == K_OK) {
        s->sl = sl;
        s->tp = tp;
    }
}

static void runner_hash(uint64_t *h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        *h ^= b[i];
        *h *= 0x100000001b3ULL;
    }
}

static void runner_signal(runner *r, runner_sym *s, int64_t now)
{
    if (now <= s->last_sig_ms)
        return;
    if (r->cfg.restore && (!s->warmed || s->restoring))
        return; /* its restore is not asked (no data yet) or not answered: no signal */
    if (!s->told && r->cfg.on_engine) { /* before the first signal: e.g. a stored state */
        s->told = true;
        r->cfg.on_engine(r->cfg.on_engine_ud, s->ms, s->e, now);
    }
    if (s->book_dirty && !s->bar_mode) { /* the book as it is now, not at its last top change */
        engine_on_book(s->e, s->ms->book, now);
        s->book_dirty = false;
    }
    engine_signal sig;
    if (engine_signal_make(s->e, now, &sig) != K_MODEL_OK)
        return;
    s->last_sig_ms = now;
    s->sig_seq = s->data_seq;
    r->st.signals++;
    int engine_action = sig.action;
    runner_act(r, s, &sig, now);
    runner_hash(&r->digest, &now, sizeof now);
    runner_hash(&r->digest, &engine_action, sizeof engine_action);
    runner_hash(&r->digest, &sig.action, sizeof sig.action);
    runner_hash(&r->digest, &sig.confidence, sizeof sig.confidence);
    runner_hash(&r->digest, sig.p, sizeof sig.p);
    runner_ev ev = { .kind = RUNNER_EV_SIGNAL, .time_ms = now, .sym = s->ms, .signal = &sig };
    runner_emit(r, &ev);
}

static void runner_arm(runner *r, int64_t now);

/* One symbol's part of a signal tick at due: scoring, due trainings, its signal. */
static void runner_tick(runner *r, runner_sym *s, int64_t due)
{
    engine_advance(s->e, due);
    runner_train_due(r, s, due);
    /* an interval with no new data for the symbol would repeat its last signal on the same
     * data and count twice in the metrics: skipped (a 1m kline feed gets one per bar) */
    if (s->data_seq == s->sig_seq && s->last_sig_ms > 0) {
        r->st.signals_unchanged++;
        return;
    }
    runner_signal(r, s, due);
}


static void runner_on_timer(kclock *c, uint64_t id, int64_t due, void *ud)
{
    (void)c;
    (void)id;
    runner *r = ud;
    r->timer = 0;
    r->now_ms = due;
    paper_on_time(r->pp, due);
    for (uint32_t i = 0; i < r->nsyms; i++) {
        runner_sym *s = &r->syms[i];
        if (s->warm_state || s->restoring) { /* warming up or restoring: no signal, no
                                              * scoring against live time; on a simulated
                                              * clock (replay) the tick waits with its data */
            if (r->clock && kclock_kind(r->clock) == KCLOCK_SIMULATED)
                runner_warm_hold_tick(s, due);
            continue;
        }
        runner_tick(r, s, due);
    }
    runner_arm(r, due);
}

static void runner_arm(runner *r, int64_t now)
{
    int64_t iv = r->cfg.signal_interval_ms;
    if (iv <= 0 || r->timer || !r->clock || now <= 0)
        return;
    int64_t due = (now / iv + 1) * iv;
    r->timer = kclock_timer_at(r->clock, due, runner_on_timer, r);
}

/* bar mode: stop / take-profit inside the bar (both: the stop), at the level or at the open when
 * the bar opened through it */
static void runner_bar_protect(runner *r, runner_sym *s, const candle *b, int64_t now)
{
    kdec q = runner_pos_qty(r, s);
    if (q == 0 || s->pending[0])
        return;
    bool lng = q > 0;
    bool sl_hit = s->sl > 0 && (lng ? b->l <= s->sl : b->h >= s->sl);
    bool tp_hit = s->tp > 0 && (lng ? b->h >= s->tp : b->l <= s->tp);
    if (sl_hit) {
        kdec px = (lng ? b->o <= s->sl : b->o >= s->sl) ? b->o : s->sl;
        r->st.stops++;
        runner_close(r, s, px, "stop", now);
    } else if (tp_hit) {
        kdec px = (lng ? b->o >= s->tp : b->o <= s->tp) ? b->o : s->tp;
        r->st.tps++;
        runner_close(r, s, px, "tp", now);
    }
}

/* Market timers due before data stamped t fire before the runner takes that data: the ingest
 * pipeline advances the clock after a frame is applied, so without this a 30 s signal timer
 * would see the bar that ended after it (look-ahead). */
static void runner_catch_up(runner *r, int64_t t)
{
    if (r->clock && kclock_kind(r->clock) == KCLOCK_SIMULATED && t > 0 &&
        kclock_next_due(r->clock) < t)
        (void)kclock_advance(r->clock, t - 1);
}

static void runner_deposit(runner *r, runner_sym *s, kdec px, int64_t t);

/* Bars revised after the engine took them (MARKET_BAR_REVISED: an exchange's final kline or a
 * REST page that differed): each such timeframe's features, and the RSI strategy's indicator on
 * the analysis timeframe, are built again from the market's corrected series up to the newest
 * bar the engine took, before the next bar goes in. Signals already made stand (docs/LIVE.md
 * "A bar revised after its close"). Coalesced: a backfill page revising a thousand bars costs
 * one rebuild. Skipped (counted) when the market holds fewer of those bars than the engine has
 * taken and its ring is not full: the rebuild would lose history the engine had. */
static void runner_revise(runner *r, runner_sym *s)
{
    uint32_t mask = s->revise_mask;
    s->revise_mask = 0;
    for (int t = 0; t < TF_COUNT; t++) {
        if (!(mask & (1u << t)))
            continue;
        enum tf tf = (enum tf)t;
        const candles *c = s->ms->series[tf];
        int64_t last = engine_last_bar(s->e, tf);
        uint32_t n = candles_count(c), k = 0;
        while (k < n && candles_get(c, k)->open_ms <= last)
            k++;
        uint32_t whole = 0;
        for (uint32_t i = 0; i < k; i++)
            whole += !(candles_get(c, i)->flags & CANDLE_PARTIAL);
        if (k == 0 || (whole < engine_bars(s->e, tf) && n < candles_cap(c))) {
            r->st.revisions_skipped++;
            continue;
        }
        candle *bars = xmalloc((size_t)k * sizeof *bars);
        for (uint32_t i = 0; i < k; i++)
            bars[i] = *candles_get(c, i);
        (void)engine_rebuild_bars(s->e, tf, bars, k, !s->ms->bars_from_klines);
        if (tf == r->cfg.engine.analysis_tf && s->rsi) {
            char err[128];
            ta_ind *fresh = ta_ind_new("rsi_14", err, sizeof err);
            if (fresh) {
                double out[TA_MAX_OUTPUTS] = {NAN};
                for (uint32_t i = 0; i < k; i++) {
                    if (bars[i].flags & CANDLE_PARTIAL)
                        continue;
                    ta_bar tb = ta_bar_from_candle(&bars[i]);
                    ta_ind_update(fresh, &tb, out);
                }
                ta_ind_free(s->rsi);
                s->rsi = fresh;
                s->rsi_last = out[0];
            }
        }
        free(bars);
        r->st.revisions++;
    }
}

static void runner_on_bar(runner *r, runner_sym *s, enum tf tf, const candle *b)
{
    if (s->revise_mask)
        runner_revise(r, s);
    int64_t end = b->open_ms + tf_ms(tf);
    /* bar mode with paper latency: an order sent at the last close reaches the book during this
     * bar (its delivery timer fires in the catch-up), so it fills at the bar's first price, its
     * open, not at the close it was sent on */
    if (s->bar_mode && tf == r->cfg.exec_tf && r->cfg.paper.latency_ms > 0 && s->bar_book)
        runner_quote(r, s, b->o);
    runner_catch_up(r, end);
    if (s->bar_mode && tf == r->cfg.exec_tf)
        s->data_seq++; /* new data: the feed's own bars (longer ones aggregate the same data) */
    r->now_ms = end;
    paper_on_time(r->pp, end);
    /* a partial bar (its period began before the data did) feeds no indicator or feature */
    bool whole = !(b->flags & CANDLE_PARTIAL);
    if (whole && (tf == TF_1M || tf == TF_5M || tf == TF_15M || tf == TF_1H))
        (void)engine_on_bar(s->e, tf, b, !s->ms->bars_from_klines);
    if (s->bar_mode && tf == r->cfg.exec_tf) {
        runner_bar_protect(r, s, b, end);
        runner_quote(r, s, b->c);
        s->last_close = b->c;
        runner_deposit(r, s, b->c, end); /* kline-fed: the first close is the first price */
        portfolio_mark(r->pf, s->ms->venue, s->ms->name, b->c);
        portfolio_sample(r->pf, end);
        if (r->cfg.strategy == RUNNER_ALWAYS_BUY)
            runner_signal(r, s, end);
    } else if (!s->bar_mode && tf == TF_1M) {
        portfolio_sample(r->pf, end);
    }
    engine_advance(s->e, end);
    runner_train_due(r, s, end);
    if (tf == r->cfg.engine.analysis_tf) {
        if (s->rsi && whole) {
            ta_bar tb = ta_bar_from_candle(b);
            double out[TA_MAX_OUTPUTS];
            ta_ind_update(s->rsi, &tb, out);
            s->rsi_last = out[0];
        }
        runner_signal(r, s, end);
    }
    runner_arm(r, end);
}

/* A starting holding of this spot symbol's base asset joins the portfolio at the first price
 * seen, a trade's or (kline-fed) a bar's close: from then on the equity counts it at the mark
 * (and selling it is not a short) */
static void runner_deposit(runner *r, runner_sym *s, kdec px, int64_t t)
{
    if (s->ms->venue == VENUE_BINANCE_USDM || px <= 0)
        return;
    const instrument *ins = r->instr ? instruments_find(r->instr, s->ms->venue, s->ms->name)
                                     : NULL;
    const char *name = s->ms->name;
    size_t n = strlen(name), ql = strlen(r->cfg.cash_asset);
    for (int i = 0; i < r->cfg.paper.nbalances && i < PAPER_MAX_ASSETS; i++) {
        const broker_balance *b = &r->cfg.paper.balances[i];
        if (r->deposited[i] || b->free <= 0 || !strcmp(b->asset, r->cfg.cash_asset))
            continue;
        bool base = ins ? !strcmp(ins->base, b->asset) && !strcmp(ins->quote, r->cfg.cash_asset)
                        : n == strlen(b->asset) + ql && !strncmp(name, b->asset, strlen(b->asset)) &&
                              !strcmp(name + strlen(b->asset), r->cfg.cash_asset);
        if (!base)
            continue;
        r->deposited[i] = true;
        if (portfolio_deposit(r->pf, s->ms->venue, s->ms->name, b->free, px, t) != PF_OK)
            r->st.broker_errors++;
    }
}

static void runner_on_trade(runner *r, runner_sym *s, const feed_event *ev)
{
    int64_t t = ev->u.trade.time_ms;
    runner_catch_up(r, t);
    s->data_seq++;
    if (t > r->now_ms)
        r->now_ms = t;
    s->bar_mode = false;
    paper_on_time(r->pp, r->now_ms);
    paper_on_trade(r->pp, ev, r->now_ms);
    engine_on_trade(s->e, t, ev->u.trade.px, ev->u.trade.qty, ev->u.trade.buyer_maker);
    runner_deposit(r, s, ev->u.trade.px, t);
    portfolio_mark(r->pf, s->ms->venue, s->ms->name, ev->u.trade.px);
    kdec q = runner_pos_qty(r, s);
    if (q != 0 && !s->pending[0]) {
        kdec px = ev->u.trade.px;
        bool lng = q > 0;
        if (s->sl > 0 && (lng ? px <= s->sl : px >= s->sl)) {
            r->st.stops++;
            runner_close(r, s, px, "stop", r->now_ms);
        } else if (s->tp > 0 && (lng ? px >= s->tp : px <= s->tp)) {
            r->st.tps++;
            runner_close(r, s, px, "tp", r->now_ms);
        }
    }
    runner_arm(r, r->now_ms);
}

/* A perpetual's funding time: the engine's funding features, and the paper broker's payment
 * on the position held at that time (at the mark price, else the last price). */
static void runner_on_funding(runner *r, runner_sym *s, const feed_event *ev)
{
    int64_t t = ev->u.funding.time_ms;
    runner_catch_up(r, t);
    if (t > r->now_ms)
        r->now_ms = t;
    kdec mark = ev->u.funding.mark;
    if (mark <= 0)
        mark = s->bar_mode ? s->last_close : s->ms->last_px;
    engine_on_funding(s->e, t, decimal_to_double(ev->u.funding.rate),
                      ev->u.funding.mark > 0 ? decimal_to_double(ev->u.funding.mark) : NAN,
                      ev->u.funding.index > 0 ? decimal_to_double(ev->u.funding.index) : NAN);
    if (mark > 0) {
        r->st.fundings++;
        paper_on_funding(r->pp, s->ms->venue, s->ms->name, ev->u.funding.rate, mark, r->now_ms);
    }
}

static void runner_on_note(void *ud, const market_note *n)
{
    runner *r = ud;
    runner_sym *s = runner_find(r, n->sym);
    if (!s && (n->kind == MARKET_SYMBOL_ADDED || n->kind == MARKET_TRADE ||
               n->kind == MARKET_BAR_CLOSED)) {
        int64_t first = n->kind == MARKET_TRADE && n->ev ? n->ev->u.trade.time_ms
                      : n->kind == MARKET_BAR_CLOSED && n->bar ? n->bar->open_ms
                      : r->clock ? kclock_now_ms(r->clock) : 0;
        s = runner_add(r, n->sym, first);
    }
    if (!s)
        return;
    if (!s->warmed && (n->kind == MARKET_TRADE || n->kind == MARKET_BAR_CLOSED)) {
        s->warmed = true; /* before the symbol's first data: history through its engine */
        int64_t first = n->kind == MARKET_TRADE && n->ev ? n->ev->u.trade.time_ms
                      : n->bar ? n->bar->open_ms : 0;
        if (runner_restore_begin(r, s, first))
            ; /* the stored state first: the warm-up follows its answer */
        else if (r->cfg.warmup && first > 0 && !s->told)
            runner_warmup(r, s, first);
    }
    if (n->kind == MARKET_BAR_REVISED && n->bar && (unsigned)n->tf < TF_COUNT) {
        if (n->bar->open_ms <= engine_last_bar(s->e, n->tf))
            s->revise_mask |= 1u << n->tf; /* taken before the next bar (runner_revise) */
        return;
    }
    if (s->warm_state || s->restoring) { /* warming up or restoring: its live data waits */
        runner_warm_hold(s, n);
        return;
    }
    switch (n->kind) {
    case MARKET_TRADE:
        runner_on_trade(r, s, n->ev);
        break;
    case MARKET_TOP_CHANGED:
        /* the book's features are an instantaneous snapshot: taken when a signal is made
         * (runner_signal), not on every top-of-book change (20 levels walked per change was the
         * replay's third-hottest function) */
        s->book_dirty = true;
        s->data_seq++;
        if (book_is_live(s->ms->book))
            paper_on_time(r->pp, r->now_ms);
        break;
    case MARKET_BAR_CLOSED:
        runner_on_bar(r, s, n->tf, n->bar);
        break;
    case MARKET_FUNDING:
        runner_on_funding(r, s, n->ev);
        break;
    default:
        break;
    }
}

static void runner_on_broker(void *ud, const broker_event *ev)
{
    runner *r = ud;
    if (broker_event_apply(r->om, ev) != ORDER_OK && ev->kind == BROKER_EV_FILL)
        r->st.broker_errors++;
    runner_sym *s = runner_find_name(r, ev->venue, ev->symbol);
    switch (ev->kind) {
    case BROKER_EV_FILL: {
        r->st.fills++;
        if (portfolio_on_fill(r->pf, ev->venue, ev->symbol, ev->side, &ev->fill) != PF_OK)
            r->st.broker_errors++;
        runner_ev re = { .kind = RUNNER_EV_FILL, .time_ms = ev->time_ms, .fill = ev,
                         .sym = s ? s->ms : NULL, .side = ev->side, .qty = ev->fill.qty };
        runner_emit(r, &re);
        if (s) {
            const pf_position *p = portfolio_position(r->pf, ev->venue, ev->symbol);
            const order *fo = order_mgr_find(r->om, ev->client_id);
            if (fo && !fo->req.reduce_only && (fo->req.sl > 0 || fo->req.tp > 0) && p &&
                p->qty != 0) { /* the protection a person's order carries */
                s->sl = fo->req.sl;
                s->tp = fo->req.tp;
            }
            if (p && p->qty == 0)
                s->sl = s->tp = 0;
            else if (p)
                portfolio_set_protection(r->pf, ev->venue, ev->symbol, s->sl, s->tp);
        }
        break;
    }
    case BROKER_EV_REJECTED:
    case BROKER_EV_EXPIRED:
        r->st.broker_errors++;
        break;
    case BROKER_EV_FUNDING:
        portfolio_on_funding(r->pf, ev->venue, ev->symbol, ev->amount, ev->time_ms);
        break;
    case BROKER_EV_LIQUIDATION:
        portfolio_on_liquidation(r->pf, ev->venue, ev->symbol, ev->amount, ev->time_ms);
        break;
    default:
        break;
    }
    if (s && s->pending[0] && !strcmp(s->pending, ev->client_id)) {
        const order *o = order_mgr_find(r->om, ev->client_id);
        if (!o || order_status_terminal(o->status))
            s->pending[0] = '\0';
    }
    if (r->closing_all && risk_get_state(r->rk) != RISK_HALTED)
        r->closing_all = false; /* a person resumed */
    if (r->closing_all && s && ev->kind == BROKER_EV_FILL && !s->pending[0]) {
        /* an entry that was at the broker before the close-all filled after it */
        const order *fo = order_mgr_find(r->om, ev->client_id);
        if (fo && !fo->req.reduce_only && runner_pos_qty(r, s) != 0)
            runner_close(r, s, s->bar_mode ? s->last_close : s->ms->last_px, "close-all",
                         ev->time_ms > r->now_ms ? ev->time_ms : r->now_ms);
    }
}

runner *runner_new(market *m, kclock *clock, const runner_config *cfg)
{
    if (!m || !cfg || cfg->start_cash <= 0 || cfg->qty_step < 0)
        return NULL;
    runner *r = xcalloc(1, sizeof *r);
    r->m = m;
    r->clock = clock;
    r->cfg = *cfg;
    r->auto_on = cfg->auto_trade;
    r->digest = 0xcbf29ce484222325ULL;
    paper_config pc = cfg->paper;
    (void)paper_config_balance(&pc, cfg->cash_asset, cfg->start_cash);
    r->pp = paper_new(&pc, NULL);
    r->br = paper_broker(r->pp);
    broker_set_listener(r->br, runner_on_broker, r);
    r->om = order_mgr_new(cfg->id_prefix[0] ? cfg->id_prefix : "bt",
                          cfg->id_epoch ? cfg->id_epoch : 1, 100000);
    r->pf = portfolio_new(cfg->start_cash, cfg->cash_asset, 100000);
    r->rk = risk_new(&cfg->risk);
    if (market_subscribe(m, runner_on_note, r) != K_OK) {
        runner_free(r);
        return NULL;
    }
    return r;
}

void runner_free(runner *r)
{
    if (!r)
        return;
    market_unsubscribe(r->m, runner_on_note, r);
    if (r->timer && r->clock)
        (void)kclock_timer_cancel(r->clock, r->timer);
    broker_free(r->br);
    for (uint32_t i = 0; i < r->nsyms; i++) {
        for (int k = 0; k < 3; k++)
            candles_free(r->syms[i].warm_agg[k]);
        free(r->syms[i].warm_bars);
        free(r->syms[i].warm_q);
        engine_free(r->syms[i].e);
        book_free(r->syms[i].bar_book);
        ta_ind_free(r->syms[i].rsi);
    }
    free(r->syms);
    order_mgr_free(r->om);
    portfolio_free(r->pf);
    risk_free(r->rk);
    free(r);
}

void runner_set_auto(runner *r, bool on)
{
    r->auto_on = on;
}

bool runner_auto(const runner *r)
{
    return r->auto_on;
}

void runner_set_listener(runner *r, runner_ev_fn fn, void *ud)
{
    r->fn = fn;
    r->fn_ud = ud;
}

void runner_finish(runner *r, int64_t now_ms)
{
    if (now_ms < r->now_ms)
        now_ms = r->now_ms;
    paper_on_time(r->pp, now_ms);
    for (uint32_t i = 0; i < r->nsyms; i++) {
        runner_sym *s = &r->syms[i];
        engine_advance(s->e, now_ms);
        if (s->pending[0])
            continue;
        runner_close(r, s, s->bar_mode ? s->last_close : s->ms->last_px, "end", now_ms);
    }
    /* in-flight orders (trade mode latency) reach the book and report */
    paper_on_time(r->pp, now_ms + r->cfg.paper.latency_ms + r->cfg.paper.report_latency_ms);
    portfolio_sample(r->pf, now_ms);
}

static int64_t runner_now(const runner *r);

static runner_sym *runner_sym_for(runner *r, enum venue v, const char *symbol)
{
    runner_sym *s = runner_find_name(r, v, symbol);
    if (!s) {
        market_sym *ms = market_find(r->m, v, symbol);
        s = ms ? runner_add(r, ms, runner_now(r)) : NULL;
    }
    return s;
}

static int64_t runner_now(const runner *r)
{
    int64_t now = r->clock ? kclock_now_ms(r->clock) : r->now_ms;
    return now < r->now_ms ? r->now_ms : now;
}

static const char *runner_txt(kdec v, char buf[40])
{
    decimal_format(v, decimal_places(v), buf, 40);
    return buf;
}

/* The request's shape, before precision and risk: what each type needs, triggers that would
 * fire at once, protection on the wrong side. "" when fine. */
static void runner_shape(const order_req *q, kdec last, char *why, size_t whylen)
{
    char t1[40], t2[40];
    bool buy = q->side == SIDE_BUY;
    bool needs_px = q->type == ORDER_LIMIT || q->type == ORDER_STOP_LIMIT;
    bool needs_stop = q->type == ORDER_STOP_MARKET || q->type == ORDER_STOP_LIMIT ||
                      q->type == ORDER_TAKE_PROFIT;
    why[0] = '\0';
    if (q->qty <= 0)
        snprintf(why, whylen, "quantity must be > 0");
    else if (needs_px && q->price <= 0)
        snprintf(why, whylen, "type=%s needs price=P", order_type_name(q->type));
    else if (!needs_px && q->price > 0)
        snprintf(why, whylen, "type=%s takes no price= (it executes at market)",
                 order_type_name(q->type));
    else if (needs_stop && q->stop <= 0)
        snprintf(why, whylen, "type=%s needs stop=P", order_type_name(q->type));
    else if (!needs_stop && q->stop > 0 && q->type != ORDER_TRAILING_STOP)
        snprintf(why, whylen, "type=%s takes no stop= (sl= protects the position)",
                 order_type_name(q->type));
    else if (q->type == ORDER_TRAILING_STOP && q->trail_pct <= 0)
        snprintf(why, whylen, "type=trailing needs trail=PCT");
    else if (q->post_only && q->type != ORDER_LIMIT)
        snprintf(why, whylen, "post_only applies to limit orders only");
    else if (q->tif != TIF_GTC && q->type != ORDER_LIMIT && q->type != ORDER_MARKET)
        snprintf(why, whylen, "tif=%s applies to limit orders only", order_tif_name(q->tif));
    else if (q->post_only && q->tif != TIF_GTC)
        snprintf(why, whylen, "post_only cannot be combined with tif=%s",
                 order_tif_name(q->tif));
    else if (last > 0 && needs_stop && q->type != ORDER_TAKE_PROFIT &&
             (buy ? q->stop <= last : q->stop >= last))
        snprintf(why, whylen, "%s stop %s %s last price %s: it would trigger immediately",
                 buy ? "buy" : "sell", runner_txt(q->stop, t1), buy ? "<=" : ">=",
                 runner_txt(last, t2));
    else if (last > 0 && q->type == ORDER_TAKE_PROFIT && (buy ? q->stop >= last : q->stop <= last))
        snprintf(why, whylen, "%s take-profit %s %s last price %s: it would trigger immediately",
                 buy ? "buy" : "sell", runner_txt(q->stop, t1), buy ? ">=" : "<=",
                 runner_txt(last, t2));
    if (why[0] || q->reduce_only)
        return;
    kdec entry = q->price > 0 ? q->price : q->stop > 0 ? q->stop : last;
    if (entry > 0 && q->sl > 0 && (buy ? q->sl >= entry : q->sl <= entry))
        snprintf(why, whylen, "sl %s must be %s the entry %s", runner_txt(q->sl, t1),
                 buy ? "below" : "above", runner_txt(entry, t2));
    else if (entry > 0 && q->tp > 0 && (buy ? q->tp <= entry : q->tp >= entry))
        snprintf(why, whylen, "tp %s must be %s the entry %s", runner_txt(q->tp, t1),
                 buy ? "above" : "below", runner_txt(entry, t2));
}

/* shape and precision: q rounded by the instrument's filters; NULL with why on a refusal */
static runner_sym *runner_prepare(runner *r, const order_req *in, order_req *q,
                                  runner_placed *out, kdec *px, char *why, size_t whylen)
{
    memset(out, 0, sizeof *out);
    why[0] = '\0';
    runner_sym *s = runner_sym_for(r, in->venue, in->symbol);
    if (!s) {
        snprintf(why, whylen, "%s is not a watched symbol", in->symbol);
        return NULL;
    }
    *q = *in;
    if (q->type == ORDER_MARKET)
        q->tif = TIF_IOC;
    kdec last = s->bar_mode ? s->last_close : s->ms->last_px;
    runner_shape(q, last, why, whylen);
    if (why[0])
        return NULL;
    /* a halt is the first thing an entry hears (after close-all the closes are in flight too) */
    if (!q->reduce_only && risk_get_state(r->rk) == RISK_HALTED) {
        snprintf(why, whylen, "HALTED: %s", risk_reason(r->rk));
        return NULL;
    }
    if (q->type == ORDER_MARKET && s->pending[0]) {
        snprintf(why, whylen, "an order for %s is still in flight (%s)", s->ms->name, s->pending);
        return NULL;
    }
    /* precision: the venue's filters, when the instrument is known */
    const instrument *ins = r->instr ? instruments_find(r->instr, s->ms->venue, s->ms->name)
                                     : NULL;
    if (ins) {
        bool mkt = q->type == ORDER_MARKET || q->type == ORDER_STOP_MARKET ||
                   q->type == ORDER_TAKE_PROFIT || q->type == ORDER_TRAILING_STOP;
        instrument_order io = {.side = q->side, .market = mkt, .qty = q->qty, .price = q->price,
                               .stop = q->stop, .ref_px = last};
        instrument_checked ck;
        if (instrument_check(ins, &io, &ck, why, whylen) != INSTR_OK)
            return NULL;
        q->qty = ck.qty;
        if (!mkt)
            q->price = ck.price;
        if (q->stop > 0)
            q->stop = ck.stop;
        out->notional = ck.notional;
    } else {
        kdec p = q->price > 0 ? q->price : q->stop > 0 ? q->stop : last;
        out->notional = (kdec)((__int128)q->qty * p / KDEC_SCALE);
    }
    *px = q->price > 0 ? q->price : q->stop > 0 ? q->stop : last;
    out->qty = q->qty;
    out->price = q->price;
    out->stop = q->stop;
    out->ms = s->ms;
    return s;
}

int runner_place(runner *r, const order_req *in, runner_placed *out, char *why, size_t whylen)
{
    order_req q;
    kdec px;
    runner_sym *s = runner_prepare(r, in, &q, out, &px, why, whylen);
    if (!s)
        return K_ERR;
    r->last_why[0] = '\0';
    r->last_id[0] = '\0';
    if (runner_submit(r, s, &q, px, q.sl, "manual", runner_now(r)) != K_OK) {
        snprintf(why, whylen, "%s", r->last_why[0] ? r->last_why : "refused by the risk engine");
        return K_ERR;
    }
    snprintf(out->id, sizeof out->id, "%s", r->last_id);
    const order *o = order_mgr_find(r->om, r->last_id);
    out->qty = o ? o->req.qty : q.qty;
    return K_OK;
}

int runner_preview(runner *r, const order_req *in, runner_placed *out, kdec *fee, char *why,
                   size_t whylen)
{
    order_req q;
    kdec px;
    *fee = 0;
    runner_sym *s = runner_prepare(r, in, &q, out, &px, why, whylen);
    if (!s)
        return K_ERR;
    int64_t now = runner_now(r);
    risk_update(r->rk, r->pf, now);
    risk_order ro = {.venue = s->ms->venue, .symbol = s->ms->name, .side = q.side, .qty = q.qty,
                     .price = px, .stop = q.sl,
                     .leverage = q.leverage > 0 ? q.leverage : r->cfg.leverage,
                     .reducing = q.reduce_only};
    risk_verdict v;
    bool maker = q.type == ORDER_LIMIT; /* a resting limit; a marketable one pays taker */
    *fee = paper_fee_for(r->pp, s->ms->venue, out->notional, maker);
    if (risk_check(r->rk, r->pf, &ro, now, &v) != RISK_OK) {
        snprintf(why, whylen, "%s", v.why);
        return K_ERR;
    }
    if (!q.reduce_only && v.qty < q.qty)
        out->qty = v.qty - v.qty % (r->cfg.qty_step > 0 ? r->cfg.qty_step : 1);
    snprintf(why, whylen, "%s", v.why[0] ? v.why : "passes every risk rule");
    return K_OK;
}

int runner_manual_order(runner *r, enum venue v, const char *symbol, enum side side, kdec qty,
                        bool reducing, char *id_out, size_t idlen, char *why, size_t whylen)
{
    order_req q;
    memset(&q, 0, sizeof q);
    q.venue = v;
    snprintf(q.symbol, sizeof q.symbol, "%s", symbol);
    q.side = side;
    q.type = ORDER_MARKET;
    q.tif = TIF_IOC;
    q.reduce_only = reducing;
    q.qty = qty;
    runner_placed pl;
    if (runner_place(r, &q, &pl, why, whylen) != K_OK)
        return K_ERR;
    snprintf(id_out, idlen, "%s", pl.id);
    return K_OK;
}

int runner_cancel(runner *r, const char *client_id, char *why, size_t whylen)
{
    order *o = order_mgr_find(r->om, client_id);
    if (!o) {
        snprintf(why, whylen, "no order %.40s", client_id);
        return K_ERR;
    }
    if (order_status_terminal(o->status)) {
        snprintf(why, whylen, "order %s is already %s", o->client_id,
                 order_status_name(o->status));
        return K_ERR;
    }
    if (o->status == ORDER_PENDING_CANCEL) {
        snprintf(why, whylen, "order %s: a cancel is already on its way", o->client_id);
        return K_ERR;
    }
    int64_t now = runner_now(r);
    char id[ORDER_ID_MAX];
    snprintf(id, sizeof id, "%s", o->client_id);
    if (runner_waiting(r, o)) { /* its intent is still being stored: it never leaves */
        runner_unsend(r, id, ORDER_CANCELED, "canceled before it reached the broker", now);
        r->st.broker_errors--;
        return K_OK;
    }
    enum order_status before = o->status;
    if (order_mgr_transition(r->om, id, ORDER_PENDING_CANCEL, NULL, now) != ORDER_OK) {
        snprintf(why, whylen, "order %s cannot be canceled while %s", id,
                 order_status_name(before));
        return K_ERR;
    }
    enum broker_result br = broker_cancel(r->br, id, now);
    if (br != BROKER_OK) {
        /* the broker has it in a final state already (its events are on their way) or never
         * had it: back to what it was */
        enum order_result back = order_mgr_transition(r->om, id, before, NULL, now);
        (void)back; /* PENDING_CANCEL -> NEW / PARTIALLY_FILLED is in the table */
        snprintf(why, whylen, "order %s: %s", id, broker_strerror(br));
        return K_ERR;
    }
    paper_on_time(r->pp, now);
    return K_OK;
}

int runner_cancel_all(runner *r)
{
    int n = 0;
    char why[160];
    for (uint32_t i = 0; i < order_mgr_count(r->om); i++) {
        order *o = order_mgr_at(r->om, i);
        if (!o || !order_status_open(o->status) || o->status == ORDER_PENDING_CANCEL ||
            o->req.type == ORDER_MARKET)
            continue;
        char id[ORDER_ID_MAX];
        snprintf(id, sizeof id, "%s", o->client_id);
        n += runner_cancel(r, id, why, sizeof why) == K_OK;
    }
    return n;
}

void runner_restore_portfolio(runner *r, portfolio *pf)
{
    if (!pf)
        return;
    portfolio_free(r->pf);
    r->pf = pf;
    portfolio_set_instruments(r->pf, r->instr);
    for (int i = 0; i < PAPER_MAX_ASSETS; i++) /* the stored portfolio holds them already */
        r->deposited[i] = true;
    for (uint32_t i = 0; i < r->nsyms; i++) { /* symbols already watched take their protection */
        runner_sym *s = &r->syms[i];
        const pf_position *p = portfolio_position(r->pf, s->ms->venue, s->ms->name);
        s->sl = p && p->qty ? p->sl : 0;
        s->tp = p && p->qty ? p->tp : 0;
    }
}

void runner_restore_balance(runner *r, const char *asset, kdec total)
{
    paper_restore_balance(r->pp, asset, total);
}

int runner_restore_order(runner *r, const order *o, bool triggered)
{
    if (order_mgr_restore(r->om, o) != ORDER_OK)
        return K_ERR;
    if (paper_restore_order(r->pp, o->client_id, &o->req, o->status, o->filled, o->filled_quote,
                            triggered, runner_now(r)) != BROKER_OK)
        return K_ERR;
    if (o->req.type == ORDER_TRAILING_STOP && paper_restore_trail(r->pp, o->client_id,
                                                                  o->trail_best) != K_OK)
        return K_ERR;
    return K_OK;
}

void runner_set_instruments(runner *r, const instruments *in)
{
    r->instr = in;
    portfolio_set_instruments(r->pf, in); /* dust */
}

int runner_release(runner *r, const char *client_id, bool stored, const char *why)
{
    order *o = order_mgr_find(r->om, client_id);
    if (!o || !runner_waiting(r, o))
        return K_ERR;
    int64_t now = runner_now(r);
    char id[ORDER_ID_MAX], msg[ORDER_REASON_MAX];
    snprintf(id, sizeof id, "%s", client_id);
    if (!stored) {
        snprintf(msg, sizeof msg, "not stored durably: %s", why ? why : "commit failed");
        runner_unsend(r, id, ORDER_REJECTED, msg, now);
        return K_OK;
    }
    if (!o->req.reduce_only && risk_get_state(r->rk) == RISK_HALTED) {
        runner_unsend(r, id, ORDER_CANCELED, "HALTED while its intent was being stored", now);
        r->st.broker_errors--;
        return K_OK;
    }
    (void)runner_send(r, id, now);
    return K_OK;
}

bool runner_order_unreleased(runner *r, const char *client_id)
{
    const order *o = order_mgr_find(r->om, client_id);
    return o && runner_waiting(r, o);
}

uint32_t runner_unreleased(const runner *r)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < order_mgr_count(r->om); i++) {
        order *o = order_mgr_at(r->om, i);
        n += o && runner_waiting((runner *)r, o);
    }
    return n;
}

int runner_amend(runner *r, const char *client_id, kdec *price, kdec *qty, char *why,
                 size_t whylen)
{
    order *o = order_mgr_find(r->om, client_id);
    char t1[40], t2[40];
    if (!o) {
        snprintf(why, whylen, "no order %.40s", client_id);
        return K_ERR;
    }
    if (o->req.type != ORDER_LIMIT) {
        snprintf(why, whylen, "order %s is a %s order: only a resting limit can be amended",
                 o->client_id, order_type_name(o->req.type));
        return K_ERR;
    }
    if (o->status != ORDER_NEW && o->status != ORDER_PARTIALLY_FILLED) {
        snprintf(why, whylen, "order %s is %s: only a resting order can be amended",
                 o->client_id, order_status_name(o->status));
        return K_ERR;
    }
    if (*price <= 0 && *qty <= 0) {
        snprintf(why, whylen, "amend needs price=P and / or qty=Q");
        return K_ERR;
    }
    runner_sym *s = runner_find_name(r, o->req.venue, o->req.symbol);
    kdec px = *price > 0 ? *price : o->req.price, q = *qty > 0 ? *qty : o->req.qty;
    const instrument *ins = r->instr && s ? instruments_find(r->instr, s->ms->venue, s->ms->name)
                                          : NULL;
    if (ins) {
        instrument_order io = {.side = o->req.side, .market = false, .qty = q, .price = px,
                               .ref_px = s->ms->last_px};
        instrument_checked ck;
        if (instrument_check(ins, &io, &ck, why, whylen) != INSTR_OK)
            return K_ERR;
        px = ck.price;
        q = ck.qty;
    }
    if (q <= o->filled) {
        snprintf(why, whylen, "qty %s <= filled %s of order %s", runner_txt(q, t1),
                 runner_txt(o->filled, t2), o->client_id);
        return K_ERR;
    }
    kdec bid, bq, ask, aq;
    bool buy = o->req.side == SIDE_BUY;
    if (s && !s->bar_mode && book_best(s->ms->book, &bid, &bq, &ask, &aq) &&
        (buy ? px >= ask : px <= bid)) {
        snprintf(why, whylen, "price %s would cross the book (%s %s): cancel it and place a new "
                 "order", runner_txt(px, t1), buy ? "ask" : "bid", runner_txt(buy ? ask : bid, t2));
        return K_ERR;
    }
    int64_t now = runner_now(r);
    if (!o->req.reduce_only && q > o->req.qty && s) { /* a larger entry passes risk again */
        risk_update(r->rk, r->pf, now);
        risk_order ro = {.venue = s->ms->venue, .symbol = s->ms->name, .side = o->req.side,
                         .qty = q - o->req.qty, .price = px, .stop = o->req.sl,
                         .leverage = o->req.leverage ? o->req.leverage : r->cfg.leverage};
        risk_verdict v;
        if (risk_check(r->rk, r->pf, &ro, now, &v) != RISK_OK) {
            snprintf(why, whylen, "%s", v.why);
            return K_ERR;
        }
    }
    char id[ORDER_ID_MAX];
    snprintf(id, sizeof id, "%s", o->client_id);
    enum broker_result br = broker_amend(r->br, id, px != o->req.price ? px : 0,
                                         q != o->req.qty ? q : 0, now);
    if (br != BROKER_OK) {
        snprintf(why, whylen, "order %s: %s", id, broker_strerror(br));
        return K_ERR;
    }
    if (order_mgr_amend(r->om, id, px, q, now) != ORDER_OK) { /* persisted by the listener */
        snprintf(why, whylen, "order %s: the order manager refused the amend", id);
        return K_ERR;
    }
    *price = px;
    *qty = q;
    return K_OK;
}

int runner_sweep(runner *r, enum venue v, const char *symbol, kdec *qty, char *why,
                 size_t whylen)
{
    runner_sym *s = runner_find_name(r, v, symbol);
    const pf_position *p = s ? portfolio_position(r->pf, v, symbol) : NULL;
    if (!p || p->qty == 0) {
        snprintf(why, whylen, "no position on %s", symbol);
        return K_ERR;
    }
    if (!p->dust) {
        char t1[40];
        snprintf(why, whylen, "%s %s is not dust: close it (sweep takes only a remainder below "
                 "the venue minimum)", runner_txt(p->qty < 0 ? -p->qty : p->qty, t1), symbol);
        return K_ERR;
    }
    if (!r->br->ops->can_sweep || v != VENUE_BINANCE_SPOT || p->qty < 0) {
        snprintf(why, whylen, "%s does not allow sweeping dust on %s (USD-M: close it "
                 "reduce-only)", r->br->ops->name, venue_name(v));
        return K_ERR;
    }
    if (s->pending[0]) {
        snprintf(why, whylen, "an order for %s is still in flight (%s)", symbol, s->pending);
        return K_ERR;
    }
    order_req q;
    memset(&q, 0, sizeof q);
    q.side = SIDE_SELL;
    q.type = ORDER_MARKET;
    q.tif = TIF_IOC;
    q.reduce_only = true;
    q.sweep = true;
    q.qty = p->qty;
    r->last_why[0] = '\0';
    if (runner_submit(r, s, &q, s->ms->last_px, 0, "sweep", runner_now(r)) != K_OK) {
        snprintf(why, whylen, "%s", r->last_why[0] ? r->last_why : "refused");
        return K_ERR;
    }
    *qty = q.qty;
    return K_OK;
}

int runner_close_symbol(runner *r, enum venue v, const char *symbol, char *why, size_t whylen)
{
    runner_sym *s = runner_find_name(r, v, symbol);
    kdec q = s ? runner_pos_qty(r, s) : 0;
    if (!s || q == 0) {
        snprintf(why, whylen, "no open position on %s", symbol);
        return K_ERR;
    }
    if (s->pending[0]) {
        snprintf(why, whylen, "an order for %s is still in flight (%s)", symbol, s->pending);
        return K_ERR;
    }
    kdec c = runner_closable(r, s, q, s->ms->last_px);
    if (c == 0) {
        char t1[40];
        snprintf(why, whylen, "only dust left on %s (%s, below the venue minimum): `sweep %s`",
                 symbol, runner_txt(q < 0 ? -q : q, t1), symbol);
        return K_ERR;
    }
    q = c;
    char id[ORDER_ID_MAX];
    return runner_manual_order(r, v, symbol, q > 0 ? SIDE_SELL : SIDE_BUY, q > 0 ? q : -q, true,
                               id, sizeof id, why, whylen);
}

int runner_close_all(runner *r)
{
    risk_halt(r->rk, "close-all"); /* first: no entry can slip in between the closes */
    r->closing_all = true;
    int64_t now = r->clock ? kclock_now_ms(r->clock) : r->now_ms;
    if (now < r->now_ms)
        now = r->now_ms;
    /* entries still waiting for their durable commit never leave */
    for (uint32_t i = 0; i < order_mgr_count(r->om); i++) {
        order *o = order_mgr_at(r->om, i);
        if (o && !o->req.reduce_only && runner_waiting(r, o)) {
            char id[ORDER_ID_MAX];
            snprintf(id, sizeof id, "%s", o->client_id);
            runner_unsend(r, id, ORDER_CANCELED, "close-all: canceled before it reached the "
                          "broker", now);
            r->st.broker_errors--;
        }
    }
    (void)runner_cancel_all(r);    /* then every resting order: none can open a position */
    int n = 0;
    for (uint32_t i = 0; i < r->nsyms; i++) {
        runner_sym *s = &r->syms[i];
        kdec q = runner_pos_qty(r, s);
        if (q == 0 || s->pending[0])
            continue;
        uint64_t before = r->st.orders;
        runner_close(r, s, s->bar_mode ? s->last_close : s->ms->last_px, "close-all", now);
        n += r->st.orders > before;
    }
    return n;
}

int runner_signal_now(runner *r, enum venue v, const char *symbol, engine_signal *out)
{
    runner_sym *s = runner_find_name(r, v, symbol);
    if (!s || s->warm_state || s->restoring)
        return K_ERR; /* unknown, still restoring or still warming up */
    int64_t now = r->clock ? kclock_now_ms(r->clock) : r->now_ms;
    if (now < r->now_ms)
        now = r->now_ms;
    runner_signal(r, s, now);
    const engine_signal *last = engine_last(s->e);
    if (!last)
        return K_ERR;
    *out = *last;
    return K_OK;
}

order_mgr *runner_orders(runner *r)
{
    return r->om;
}

portfolio *runner_portfolio(runner *r)
{
    return r->pf;
}

risk *runner_risk(runner *r)
{
    return r->rk;
}

paper *runner_paper(runner *r)
{
    return r->pp;
}

broker *runner_broker(runner *r)
{
    return r->br;
}

const runner_stats *runner_get_stats(const runner *r)
{
    return &r->st;
}

uint32_t runner_symbols(const runner *r)
{
    return r->nsyms;
}

engine *runner_engine(runner *r, uint32_t i)
{
    return i < r->nsyms ? r->syms[i].e : NULL;
}

const market_sym *runner_symbol(const runner *r, uint32_t i)
{
    return i < r->nsyms ? r->syms[i].ms : NULL;
}

int runner_set_protection(runner *r, enum venue v, const char *symbol, kdec sl, kdec tp)
{
    runner_sym *s = runner_find_name(r, v, symbol);
    if (!s || runner_pos_qty(r, s) == 0)
        return K_ERR;
    s->sl = sl;
    s->tp = tp;
    portfolio_set_protection(r->pf, v, symbol, sl, tp);
    return K_OK;
}

uint64_t runner_signal_digest(const runner *r)
{
    return r->digest;
}
