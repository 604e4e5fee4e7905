/* The strategy runner (runner.h) and its use by `kestrel backtest`:
 * - intrabar stop / take-profit ordering in bar mode (hand-made bars: the mechanics only): both
 *   inside one bar -> the stop; only the target -> the target; a bar that opens through the
 *   stop -> out at the open;
 * - prequential order on the real kline day, in a walk-forward fold (learning only over the
 *   train bars, trading over the test bars): an instrumented model records when each feature row
 *   was predicted and refuses to believe a label for it before the horizon has passed;
 * - parity: a real replay capture through `kestrel backtest` (backtest_main) gives the same
 *   signals (digest), fills and P&L as the runner driven over the same capture through
 *   ingest_replay_all (the app's replay path without its pacing);
 * - write-ahead and close-all on a real kline day: with a commit gate no order reaches the
 *   broker before its commit is confirmed (nor when it failed), and a close-all in the middle of
 *   a burst of manual and automatic entries (some committed, some still waiting for their
 *   commit, one at the broker in flight) lets none of them in: every order ends canceled or
 *   closed again, the position is flat, the state HALTED. */
#include <fcntl.h>
#include <unistd.h>

#include "check.h"
#include <poll.h>
#include "kestrel/learner.h"
#include "kestrel/backtest.h"
#include "kestrel/decimal.h"
#include "kestrel/ingest.h"
#include "kestrel/klines.h"
#include "kestrel/replay.h"
#include "kestrel/runner.h"
#include "kestrel/xmalloc.h"
#include <cjson/cJSON.h>

#define PX(x) ((kdec)((x) * KDEC_SCALE))

static void test_kline(ingest *ig, int64_t open_ms, double o, double h, double l, double c)
{
    feed_event ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = FEED_KLINE;
    ev.venue = VENUE_BINANCE_USDM;
    snprintf(ev.symbol, sizeof ev.symbol, "TESTUSDT");
    ev.u.kline.open_ms = open_ms;
    ev.u.kline.close_ms = open_ms + 59999;
    snprintf(ev.u.kline.interval, sizeof ev.u.kline.interval, "1m");
    ev.u.kline.o = PX(o);
    ev.u.kline.h = PX(h);
    ev.u.kline.l = PX(l);
    ev.u.kline.c = PX(c);
    ev.u.kline.volume = PX(10);
    ev.u.kline.closed = true;
    ev.recv_ns = (open_ms + 60000) * 1000000;
    CHECK_INT(ingest_event(ig, &ev, NULL), INGEST_OK);
}

static void test_intrabar(void)
{
    market *m = market_new(NULL);
    kclock *clk = kclock_new_simulated();
    ingest *ig = ingest_new(m, clk, NULL);
    runner_config c;
    backtest_config_default(&c);
    c.strategy = RUNNER_ALWAYS_BUY;
    c.models = 0;
    c.signal_interval_ms = 0;
    c.slippage_bps = 0;
    c.risk.size_mode = RISK_SIZE_FIXED_QUOTE;
    runner *r = runner_new(m, clk, &c);
    CHECK(r != NULL);
    int64_t t0 = 1700000040000LL - 1700000040000LL % 60000;
    test_kline(ig, t0, 100, 100, 100, 100); /* always-buy: long 1 at 100 */
    const pf_position *p = portfolio_position(runner_portfolio(r), VENUE_BINANCE_USDM, "TESTUSDT");
    CHECK(p && p->qty == PX(1));
    CHECK_INT(runner_set_protection(r, VENUE_BINANCE_USDM, "TESTUSDT", PX(95), PX(105)), K_OK);
    /* both levels inside the bar: the stop (conservative) */
    test_kline(ig, t0 + 60000, 100, 106, 94, 100);
    portfolio *pf = runner_portfolio(r);
    CHECK_INT(portfolio_trade_count(pf), 1);
    CHECK_INT(portfolio_trade_at(pf, 0)->exit, PX(95));
    CHECK_INT(runner_get_stats(r)->stops, 1);
    /* re-bought at the close (100); only the target inside the next bar */
    CHECK_INT(runner_set_protection(r, VENUE_BINANCE_USDM, "TESTUSDT", PX(95), PX(105)), K_OK);
    test_kline(ig, t0 + 120000, 100, 106, 99, 101);
    CHECK_INT(portfolio_trade_count(pf), 2);
    CHECK_INT(portfolio_trade_at(pf, 1)->exit, PX(105));
    CHECK_INT(runner_get_stats(r)->tps, 1);
    /* re-bought at 101; the next bar opens through the stop: out at the open */
    CHECK_INT(runner_set_protection(r, VENUE_BINANCE_USDM, "TESTUSDT", PX(96), PX(110)), K_OK);
    test_kline(ig, t0 + 180000, 90, 91, 89, 90);
    CHECK_INT(portfolio_trade_count(pf), 3);
    CHECK_INT(portfolio_trade_at(pf, 2)->entry, PX(101));
    CHECK_INT(portfolio_trade_at(pf, 2)->exit, PX(90));
    /* P&L after fees: each round trip's net equals gross minus its fees */
    for (uint32_t i = 0; i < 3; i++) {
        const pf_trade *t = portfolio_trade_at(pf, i);
        kdec gross = (kdec)((__int128)(t->exit - t->entry) * t->qty / KDEC_SCALE);
        CHECK_INT(t->pnl, gross - t->fees);
        CHECK(t->fees > 0);
    }
    runner_free(r);
    ingest_free(ig);
    kclock_free(clk);
    market_free(m);
}

/* ---- the instrumented model ---- */
typedef struct spy_rec {
    uint64_t h;
    int64_t t;
} spy_rec;

typedef struct spy {
    model base;
    const kclock *clk;
    const int64_t *data_now;
    int64_t horizon;
    spy_rec *rec;
    uint32_t n, cap;
    uint64_t learned, early, unseen;
} spy;

static uint64_t spy_hash(const model_input *in)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    const unsigned char *b = (const unsigned char *)in->x;
    for (size_t i = 0; i < in->nfeat * sizeof(float); i++) {
        h ^= b[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

static int64_t spy_now(const spy *s)
{
    int64_t a = kclock_now_ms(s->clk);
    return *s->data_now > a ? *s->data_now : a;
}

static enum model_result spy_predict(model *m, const model_input *in, model_output *out)
{
    spy *s = (spy *)m;
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 1024;
        s->rec = xrealloc(s->rec, s->cap * sizeof *s->rec);
    }
    s->rec[s->n++] = (spy_rec){ spy_hash(in), spy_now(s) };
    out->p[0] = out->p[1] = out->p[2] = 1.0 / 3;
    out->confidence = -1;
    return K_MODEL_OK;
}

static enum model_result spy_learn(model *m, const model_input *in, int label, double w)
{
    (void)label;
    (void)w;
    spy *s = (spy *)m;
    uint64_t h = spy_hash(in);
    int64_t first = INT64_MAX;
    for (uint32_t i = 0; i < s->n; i++)
        if (s->rec[i].h == h && s->rec[i].t < first)
            first = s->rec[i].t;
    s->learned++;
    if (first == INT64_MAX)
        s->unseen++;
    else if (spy_now(s) < first + s->horizon)
        s->early++;
    return K_MODEL_OK;
}

static uint64_t spy_samples(const model *m)
{
    return ((const spy *)m)->learned;
}

static void spy_free(model *m)
{
    (void)m; /* owned by the test: read after the engine is gone */
}

static const model_ops spy_ops = {
    .kind = "spy", .predict = spy_predict, .learn = spy_learn, .samples = spy_samples,
    .free = spy_free,
};

static model *spy_factory(void *ud, const char *symbol)
{
    (void)symbol;
    return &((spy *)ud)->base;
}

typedef struct data_time {
    int64_t now;
} data_time;

static void data_time_note(void *ud, const market_note *n)
{
    data_time *d = ud;
    int64_t t = 0;
    if (n->kind == MARKET_BAR_CLOSED)
        t = n->bar->open_ms + tf_ms(n->tf);
    else if (n->kind == MARKET_TRADE)
        t = n->ev->u.trade.time_ms;
    if (t > d->now)
        d->now = t;
}

static const char *shared(char *buf, size_t cap, const char *rel)
{
    const char *d = getenv("KESTREL_SHARED_DATA");
    snprintf(buf, cap, "%s/%s", d ? d : "../shared/data", rel);
    return buf;
}

static void test_prequential_fold(void)
{
    char path[512];
    shared(path, sizeof path, "klines/lean_binance_BTCBUSD_1m_2022-12-13.csv");
    klines *k;
    char err[200];
    if (klines_open(&k, path, VENUE_BINANCE_USDM, "BTCUSDT", "", err, sizeof err) != K_OK) {
        fprintf(stderr, "%s\n", err);
        CHECK(0);
        return;
    }
    market *m = market_new(NULL);
    kclock *clk = kclock_new_simulated();
    ingest *ig = ingest_new(m, clk, NULL);
    data_time dt = { 0 };
    CHECK_INT(market_subscribe(m, data_time_note, &dt), K_OK);
    spy sp;
    memset(&sp, 0, sizeof sp);
    sp.base.ops = &spy_ops;
    snprintf(sp.base.name, sizeof sp.base.name, "spy");
    sp.base.nfeat = FEAT_COUNT;
    sp.clk = clk;
    sp.data_now = &dt.now;
    runner_config c;
    backtest_config_default(&c);
    c.model_extra = spy_factory;
    c.model_extra_ud = &sp;
    c.auto_trade = false;
    sp.horizon = c.engine.horizon_ms;
    runner *r = runner_new(m, clk, &c);
    CHECK(r != NULL);
    feed_event ev;
    uint32_t bars = 0, train = 600, test = 300;
    uint64_t learned_at_train_end = 0;
    while (klines_next(k, &ev) > 0 && bars < train + test) {
        if (bars == train) {
            runner_set_auto(r, true); /* the test window trades, and keeps learning */
            learned_at_train_end = sp.learned;
        }
        ev.recv_ns = (ev.u.kline.open_ms + 60000) * 1000000;
        (void)ingest_event(ig, &ev, NULL);
        bars++;
    }
    klines_close(k);
    ingest_finish(ig);
    runner_finish(r, kclock_now_ms(clk));
    /* predicted every signal: about one per 1m bar (the 30 s interval between two bars carries
     * no new data, so it makes no second signal on the same bar), plus some 15m bar closes */
    fprintf(stderr, "prequential fold: %u bars, %llu predictions\n", bars,
            (unsigned long long)sp.n);
    CHECK(sp.n >= 850 && sp.n <= bars + bars / 15);
    CHECK(learned_at_train_end > 0);
    CHECK(sp.learned > learned_at_train_end);
    CHECK_INT(sp.early, 0);         /* no label before its horizon */
    CHECK_INT(sp.unseen, 0);        /* nothing learned that was not predicted first */
    /* the newest horizon of signals is still pending: never learned */
    CHECK(sp.learned < sp.n);
    runner_free(r);
    market_unsubscribe(m, data_time_note, &dt);
    ingest_free(ig);
    kclock_free(clk);
    market_free(m);
    free(sp.rec);
}

static void test_parity(void)
{
    const char *cap = "data/replay/btcusdt_20240808.gz";
    char out[] = "/tmp/kestrel-test-runner.XXXXXX";
    int fd = mkstemp(out);
    CHECK(fd >= 0);
    close(fd);
    char *argv[] = { "backtest", "--data", (char *)cap, "--strategy", "rules",
                     "--set", "engine.threshold=0.2", "--set", "engine.signal_interval=5",
                     "--json", out, NULL };
    fflush(stdout);
    int saved = dup(1);
    int devnull = open("/dev/null", 1);
    dup2(devnull, 1);
    int rc = backtest_main(11, argv);
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    close(devnull);
    CHECK_INT(rc, 0);
    FILE *fp = fopen(out, "r");
    CHECK(fp != NULL);
    if (!fp)
        return;
    static char buf[1 << 22];
    size_t n = fread(buf, 1, sizeof buf - 1, fp);
    buf[n] = '\0';
    fclose(fp);
    unlink(out);
    cJSON *j = cJSON_Parse(buf);
    CHECK(j != NULL);

    /* the same capture, the app's path: replay lines -> ingest -> market -> the runner */
    market *m = market_new(NULL);
    kclock *clk = kclock_new_simulated();
    ingest *ig = ingest_new(m, clk, NULL);
    runner_config c;
    backtest_config_default(&c);
    c.strategy = RUNNER_RULES;
    c.engine.threshold = 0.2;
    c.signal_interval_ms = 5000;
    c.symbol[0] = '\0';
    snprintf(c.symbol, sizeof c.symbol, "BTCUSDT");
    runner *r = runner_new(m, clk, &c);
    replay *rp;
    char err[200];
    const char *specs[1] = { cap };
    CHECK_INT(replay_open(&rp, specs, 1, err, sizeof err), K_OK);
    CHECK(ingest_replay_all(ig, rp, 0) > 1000);
    ingest_finish(ig);
    runner_finish(r, kclock_now_ms(clk));
    char dg[24];
    snprintf(dg, sizeof dg, "%016llx", (unsigned long long)runner_signal_digest(r));
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(j, "signal_digest")), dg);
    const runner_stats *st = runner_get_stats(r);
    CHECK(st->signals > 10);
    CHECK(st->fills > 2);
    CHECK_INT((long long)cJSON_GetNumberValue(cJSON_GetObjectItem(j, "signals")), st->signals);
    CHECK_INT((long long)cJSON_GetNumberValue(cJSON_GetObjectItem(j, "fills")), st->fills);
    pf_summary s;
    portfolio_summary(runner_portfolio(r), &s);
    kdec net;
    const char *ns = cJSON_GetStringValue(cJSON_GetObjectItem(j, "net_pnl"));
    CHECK(ns && decimal_parse(ns, strlen(ns), &net) == K_OK);
    CHECK_INT(net, s.equity - c.start_cash);
    CHECK_INT(cJSON_GetArraySize(cJSON_GetObjectItem(j, "trades")),
              portfolio_trade_count(runner_portfolio(r)));
    replay_close(rp);
    runner_free(r);
    ingest_free(ig);
    kclock_free(clk);
    market_free(m);
    cJSON_Delete(j);
}

/* A person's orders through runner_place / runner_preview / runner_cancel (hand-made bars: the
 * mechanics only): what each type needs, triggers that would fire at once, protection on the
 * wrong side, the preview's fee and verdict without placing, a resting limit that does not block
 * a market order, cancel (PENDING_CANCEL, then CANCELED on the paper clock; again: refused). */
static void test_manual_orders(void)
{
    market *m = market_new(NULL);
    kclock *clk = kclock_new_simulated();
    ingest *ig = ingest_new(m, clk, NULL);
    runner_config c;
    backtest_config_default(&c);
    c.auto_trade = false;
    c.models = 0;
    c.signal_interval_ms = 0;
    c.slippage_bps = 0;
    c.paper.latency_ms = c.paper.report_latency_ms = 0;
    runner *r = runner_new(m, clk, &c);
    CHECK(r != NULL);
    int64_t t0 = 1700000040000LL - 1700000040000LL % 60000;
    test_kline(ig, t0, 100, 100, 100, 100);
    order_req q;
    memset(&q, 0, sizeof q);
    q.venue = VENUE_BINANCE_USDM;
    snprintf(q.symbol, sizeof q.symbol, "TESTUSDT");
    q.side = SIDE_BUY;
    q.qty = PX(1);
    runner_placed pl;
    char why[256];
    static const struct {
        enum order_type type;
        double price, stop, sl, tp;
        enum order_tif tif;
        bool post_only;
        const char *want;
    } bad[] = {
        {ORDER_LIMIT, 0, 0, 0, 0, TIF_GTC, false, "type=limit needs price=P"},
        {ORDER_MARKET, 99, 0, 0, 0, TIF_GTC, false, "type=market takes no price="},
        {ORDER_STOP_MARKET, 0, 0, 0, 0, TIF_GTC, false, "type=stop needs stop=P"},
        {ORDER_STOP_MARKET, 0, 99, 0, 0, TIF_GTC, false,
         "buy stop 99 <= last price 100: it would trigger immediately"},
        {ORDER_TAKE_PROFIT, 0, 101, 0, 0, TIF_GTC, false,
         "buy take-profit 101 >= last price 100: it would trigger immediately"},
        {ORDER_STOP_LIMIT, 0, 101, 0, 0, TIF_GTC, false, "type=stop_limit needs price=P"},
        {ORDER_MARKET, 0, 0, 0, 0, TIF_GTC, true, "post_only applies to limit orders only"},
        {ORDER_STOP_MARKET, 0, 101, 0, 0, TIF_FOK, false, "tif=fok applies to limit orders only"},
        {ORDER_LIMIT, 99, 0, 0, 0, TIF_IOC, true, "post_only cannot be combined with tif=ioc"},
        {ORDER_LIMIT, 99, 0, 99.5, 0, TIF_GTC, false, "sl 99.5 must be below the entry 99"},
        {ORDER_LIMIT, 99, 0, 0, 98, TIF_GTC, false, "tp 98 must be above the entry 99"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        q.type = bad[i].type;
        q.price = PX(bad[i].price);
        q.stop = PX(bad[i].stop);
        q.sl = PX(bad[i].sl);
        q.tp = PX(bad[i].tp);
        q.tif = bad[i].tif;
        q.post_only = bad[i].post_only;
        CHECK_INT(runner_place(r, &q, &pl, why, sizeof why), K_ERR);
        if (!strstr(why, bad[i].want))
            fprintf(stderr, "  case %zu: '%s' lacks '%s'\n", i, why, bad[i].want);
        CHECK(strstr(why, bad[i].want) != NULL);
    }
    CHECK_INT(runner_get_stats(r)->orders, 0);
    /* preview: the notional, the maker fee (USD-M 0.02%), the verdict; nothing placed */
    q.type = ORDER_LIMIT;
    q.tif = TIF_GTC;
    q.post_only = false;
    q.price = PX(99);
    q.stop = 0;
    q.sl = PX(95);
    q.tp = PX(110);
    kdec fee = 0;
    CHECK_INT(runner_preview(r, &q, &pl, &fee, why, sizeof why), K_OK);
    CHECK_INT(pl.notional, PX(99));
    CHECK_INT(fee, (kdec)(PX(99) * 2 / 10000));
    CHECK_INT(runner_get_stats(r)->orders, 0);
    CHECK_INT(order_mgr_count(runner_orders(r)), 0);
    q.qty = PX(1000); /* 99000 of 10000 equity: the exposure rule */
    CHECK_INT(runner_preview(r, &q, &pl, &fee, why, sizeof why), K_ERR);
    CHECK(strstr(why, "exposure") != NULL);
    q.qty = PX(1);
    /* a resting limit, then a market order on the same symbol: both go */
    CHECK_INT(runner_place(r, &q, &pl, why, sizeof why), K_OK);
    char lim[ORDER_ID_MAX];
    snprintf(lim, sizeof lim, "%s", pl.id);
    const order *o = order_mgr_find(runner_orders(r), lim);
    CHECK(o && o->status == ORDER_NEW && o->req.sl == PX(95) && o->req.tp == PX(110));
    q.type = ORDER_MARKET;
    q.price = q.sl = q.tp = 0;
    CHECK_INT(runner_place(r, &q, &pl, why, sizeof why), K_OK);
    const pf_position *p = portfolio_position(runner_portfolio(r), VENUE_BINANCE_USDM, "TESTUSDT");
    CHECK(p && p->qty == PX(1));
    /* cancel */
    CHECK_INT(runner_cancel(r, lim, why, sizeof why), K_OK);
    o = order_mgr_find(runner_orders(r), lim);
    CHECK(o && o->status == ORDER_CANCELED); /* latency 0: the answer is there at once */
    CHECK_INT(runner_cancel(r, lim, why, sizeof why), K_ERR);
    CHECK(strstr(why, "is already CANCELED") != NULL);
    CHECK_INT(runner_cancel(r, "nosuch", why, sizeof why), K_ERR);
    CHECK(strstr(why, "no order nosuch") != NULL);
    CHECK_INT(runner_cancel(r, pl.id, why, sizeof why), K_ERR); /* the market order: FILLED */
    CHECK(strstr(why, "is already FILLED") != NULL);
    runner_free(r);
    ingest_free(ig);
    kclock_free(clk);
    market_free(m);
}

/* The deep / tree models in the runner: a CNN and XGBoost join the ensemble; without a learner
 * their train() runs inline at the same data-clock points (two runs give the same signals bit
 * for bit); with the learner thread the trainings run there and runner_collect() swaps them in,
 * as the app does from its loop. */
static uint64_t deep_run(learner *lrn, runner_stats *st)
{
    char path[512];
    shared(path, sizeof path, "klines/lean_binance_BTCBUSD_1m_2022-12-13.csv");
    klines *k;
    char err[200];
    if (klines_open(&k, path, VENUE_BINANCE_USDM, "BTCUSDT", "", err, sizeof err) != K_OK) {
        CHECK(0);
        return 0;
    }
    market *m = market_new(NULL);
    kclock *clk = kclock_new_simulated();
    ingest *ig = ingest_new(m, clk, NULL);
    runner_config c;
    backtest_config_default(&c);
    c.models = RUNNER_M_WEIGHTS | RUNNER_M_CNN | RUNNER_M_XGB;
    c.train_every = 64;
    c.learner = lrn;
    runner *r = runner_new(m, clk, &c);
    CHECK(r != NULL);
    feed_event ev;
    uint32_t collected = 0;
    while (klines_next(k, &ev) > 0) {
        ev.recv_ns = (ev.u.kline.open_ms + 60000) * 1000000;
        (void)ingest_event(ig, &ev, NULL);
        if (lrn)
            collected += runner_collect(r); /* the app: on the learner's eventfd */
    }
    klines_close(k);
    if (lrn) { /* the last trainings: wait for them (bounded), as the loop would */
        for (int i = 0; i < 200; i++) {
            learner_stats ls;
            learner_stats_get(lrn, &ls);
            if (ls.used == 0)
                break;
            struct pollfd pfd = {.fd = learner_fd(lrn), .events = POLLIN};
            (void)poll(&pfd, 1, 50);
            collected += runner_collect(r);
        }
        CHECK(collected > 0);
    }
    ingest_finish(ig);
    runner_finish(r, kclock_now_ms(clk));
    *st = *runner_get_stats(r);
    uint64_t dg = runner_signal_digest(r);
    runner_free(r);
    ingest_free(ig);
    kclock_free(clk);
    market_free(m);
    return dg;
}

static void test_deep_models(void)
{
    runner_stats a, b, t;
    uint64_t da = deep_run(NULL, &a), db = deep_run(NULL, &b);
    fprintf(stderr, "deep models inline: %llu trainings, %llu signals\n",
            (unsigned long long)a.trains, (unsigned long long)a.signals);
    CHECK(a.trains > 5);
    CHECK(da == db && a.trains == b.trains); /* inline: deterministic */
    char err[128];
    learner *l = learner_new(4, err, sizeof err);
    CHECK(l != NULL);
    if (!l)
        return;
    (void)deep_run(l, &t);
    fprintf(stderr, "deep models on the learner thread: %llu trainings (%llu skipped busy)\n",
            (unsigned long long)t.trains, (unsigned long long)t.train_busy);
    /* the feed outruns the thread here (1440 bars in well under a second): each model trains
     * whenever its previous job is done, the others are skipped, never queued without bound */
    CHECK(t.trains >= 2 && t.train_busy > 0);
    learner_free(l);
}

/* the commit gate of the write-ahead test: intents wait here until the test confirms them */
typedef struct gate {
    char ids[64][ORDER_ID_MAX];
    int n;
    int fail; /* commit() refuses (the durable lane is full) */
} gate;

static int gate_commit(void *ud, const order *o)
{
    gate *g = ud;
    if (g->fail || g->n >= 64)
        return K_ERR;
    snprintf(g->ids[g->n++], ORDER_ID_MAX, "%s", o->client_id);
    return K_OK;
}

static bool at_broker(runner *r, const char *id)
{
    broker_order_info info;
    return broker_query(runner_broker(r), id, &info) == BROKER_OK;
}

static void test_write_ahead_close_all(void)
{
    char path[512];
    shared(path, sizeof path, "klines/lean_binance_BTCBUSD_1m_2022-12-13.csv");
    klines *k;
    char err[200];
    if (klines_open(&k, path, VENUE_BINANCE_USDM, "BTCUSDT", "", err, sizeof err) != K_OK) {
        CHECK(0);
        return;
    }
    market *m = market_new(NULL);
    kclock *clk = kclock_new_simulated();
    ingest *ig = ingest_new(m, clk, NULL);
    runner_config c;
    backtest_config_default(&c);
    c.strategy = RUNNER_ALWAYS_BUY; /* an automatic entry on every signal */
    c.models = 0;
    c.auto_trade = true;
    c.risk.size_mode = RISK_SIZE_FIXED_QUOTE;
    c.risk.max_exposure_pct = 100 * KDEC_SCALE;
    c.risk.max_asset_pct = 100 * KDEC_SCALE;
    c.paper.latency_ms = c.paper.report_latency_ms = 50; /* orders and answers travel */
    gate g = {.n = 0};
    c.commit = gate_commit;
    c.commit_ud = &g;
    runner *r = runner_new(m, clk, &c);
    CHECK(r != NULL);
    feed_event ev;
    int bars = 0;
    order_mgr *om = runner_orders(r);
    const pf_position *p = NULL;
    while (bars < 60 && klines_next(k, &ev) > 0) {
        ev.recv_ns = (ev.u.kline.open_ms + 60000) * 1000000;
        (void)ingest_event(ig, &ev, NULL);
        bars++;
        if (g.n > 0 && bars == 40) { /* the first automatic entry waits for its commit */
            CHECK_INT(order_mgr_count(om), 1);
            CHECK(!at_broker(r, g.ids[0]));
            CHECK_INT(runner_unreleased(r), 1);
            CHECK_INT(order_mgr_at(om, 0)->status, ORDER_PENDING_NEW);
            CHECK(portfolio_position(runner_portfolio(r), VENUE_BINANCE_USDM, "BTCUSDT") == NULL ||
                  portfolio_position(runner_portfolio(r), VENUE_BINANCE_USDM, "BTCUSDT")->qty == 0);
            CHECK_INT(runner_release(r, g.ids[0], true, NULL), K_OK); /* confirmed */
            CHECK(at_broker(r, g.ids[0]));
            CHECK_INT(runner_release(r, g.ids[0], true, NULL), K_ERR); /* once */
            g.n = 0;
        }
    }
    /* the confirmed entry filled on the next bars: a long position */
    p = portfolio_position(runner_portfolio(r), VENUE_BINANCE_USDM, "BTCUSDT");
    CHECK(p && p->qty > 0);
    /* a failed commit: the order is rejected and never reaches the broker */
    order_req q;
    memset(&q, 0, sizeof q);
    q.venue = VENUE_BINANCE_USDM;
    snprintf(q.symbol, sizeof q.symbol, "BTCUSDT");
    q.side = SIDE_BUY;
    q.type = ORDER_LIMIT;
    q.qty = KDEC_SCALE / 1000;
    kdec last = market_find(m, VENUE_BINANCE_USDM, "BTCUSDT")->last_px;
    CHECK(last > 0);
    q.price = last - last / 100;
    q.price -= q.price % KDEC_SCALE;
    runner_placed pl;
    char why[256];
    CHECK_INT(runner_place(r, &q, &pl, why, sizeof why), K_OK);
    CHECK_INT(runner_release(r, pl.id, false, "the write failed"), K_OK);
    const order *o = order_mgr_find(om, pl.id);
    CHECK(o && o->status == ORDER_REJECTED && strstr(o->reason, "not stored durably: the write "
                                                                 "failed"));
    CHECK(!at_broker(r, pl.id));
    g.n = 0;
    g.fail = 1; /* and one the lane refuses at once */
    CHECK_INT(runner_place(r, &q, &pl, why, sizeof why), K_ERR);
    CHECK(strstr(why, "not stored durably") != NULL);
    g.fail = 0;
    /* the burst: manual limit entries, half confirmed (at the broker), half still waiting; a
     * manual market entry confirmed but still in flight to the broker (latency) */
    char burst[16][ORDER_ID_MAX];
    int nb = 0;
    for (int i = 0; i < 8; i++) {
        q.price = last - last / 100 - i * KDEC_SCALE;
        CHECK_INT(runner_place(r, &q, &pl, why, sizeof why), K_OK);
        snprintf(burst[nb++], ORDER_ID_MAX, "%s", pl.id);
    }
    for (int i = 0; i < 4; i++)
        CHECK_INT(runner_release(r, burst[i], true, NULL), K_OK);
    q.type = ORDER_MARKET;
    q.price = 0;
    CHECK_INT(runner_place(r, &q, &pl, why, sizeof why), K_OK);
    snprintf(burst[nb++], ORDER_ID_MAX, "%s", pl.id);
    CHECK_INT(runner_release(r, pl.id, true, NULL), K_OK);
    CHECK(at_broker(r, pl.id)); /* there, but it has not arrived: latency */
    int orders_before = (int)order_mgr_count(om);
    g.n = 0;
    int n = runner_close_all(r);
    CHECK_INT(n, 0); /* the symbol's market entry is in flight: the close waits for it */
    CHECK_INT(risk_get_state(runner_risk(r)), RISK_HALTED);
    /* the close order(s) of close-all wait for their commit too: confirm them */
    for (int i = 0; i < g.n; i++)
        CHECK_INT(runner_release(r, g.ids[i], true, NULL), K_OK);
    g.n = 0;
    for (int i = 4; i < 8; i++) { /* waiting entries: canceled by the close-all */
        o = order_mgr_find(om, burst[i]);
        CHECK(o && o->status == ORDER_CANCELED && !at_broker(r, burst[i]));
        CHECK_INT(runner_release(r, burst[i], true, NULL), K_ERR); /* late commit: stays out */
    }
    /* more bars: automatic entries keep coming (always-buy) and a manual one is tried */
    q.type = ORDER_LIMIT;
    q.price = last - last / 100;
    CHECK_INT(runner_place(r, &q, &pl, why, sizeof why), K_ERR);
    CHECK(strstr(why, "HALTED") != NULL);
    uint64_t refused0 = runner_get_stats(r)->refused;
    while (bars < 90 && klines_next(k, &ev) > 0) {
        ev.recv_ns = (ev.u.kline.open_ms + 60000) * 1000000;
        (void)ingest_event(ig, &ev, NULL);
        bars++;
        for (int i = 0; i < g.n; i++) /* closes of what slipped in: confirmed each bar */
            CHECK_INT(runner_release(r, g.ids[i], true, NULL), K_OK);
        g.n = 0;
    }
    CHECK(runner_get_stats(r)->refused > refused0); /* the automatic entries were refused */
    o = order_mgr_find(om, burst[8]);
    CHECK(o && o->status == ORDER_FILLED); /* it was at the broker: it filled after the close-all */
    int recloses = 0;
    for (uint32_t i = (uint32_t)orders_before; i < order_mgr_count(om); i++)
        recloses += order_mgr_at(om, i)->req.reduce_only &&
                    order_mgr_at(om, i)->status == ORDER_FILLED;
    CHECK(recloses >= 1); /* and was closed again */
    for (uint32_t i = 0; i < order_mgr_count(om); i++) {
        o = order_mgr_at(om, i);
        CHECK(order_status_terminal(o->status));
        if ((int)i >= orders_before)
            CHECK(o->req.reduce_only); /* after the close-all: closes only */
        if (!o->req.reduce_only && o->status == ORDER_CANCELED)
            CHECK(o->filled == 0);
    }
    p = portfolio_position(runner_portfolio(r), VENUE_BINANCE_USDM, "BTCUSDT");
    CHECK(p && p->qty == 0);
    CHECK_INT(risk_get_state(runner_risk(r)), RISK_HALTED);
    klines_close(k);
    runner_free(r);
    ingest_free(ig);
    kclock_free(clk);
    market_free(m);
}

/* a starting holding (paper.balances BTC = 0.5) on a kline-fed symbol: the real kline day, no
 * trade print at all; the equity counts it at the mark from the first bar's close on */
static void test_kline_holding(void)
{
    char path[512];
    shared(path, sizeof path, "klines/lean_binance_BTCBUSD_1m_2022-12-13.csv");
    klines *k;
    char err[200];
    if (klines_open(&k, path, VENUE_BINANCE_SPOT, "BTCUSDT", "", err, sizeof err) != K_OK) {
        CHECK(0);
        return;
    }
    market *m = market_new(NULL);
    kclock *clk = kclock_new_simulated();
    ingest *ig = ingest_new(m, clk, NULL);
    runner_config c;
    backtest_config_default(&c);
    c.models = 0;
    c.auto_trade = false;
    CHECK_INT(paper_config_balance(&c.paper, "USDT", 10000 * KDEC_SCALE), K_OK);
    CHECK_INT(paper_config_balance(&c.paper, "BTC", KDEC_SCALE / 2), K_OK);
    runner *r = runner_new(m, clk, &c);
    CHECK(r != NULL);
    feed_event ev;
    pf_summary sm;
    portfolio_summary(runner_portfolio(r), &sm);
    CHECK_INT(sm.equity, 10000 * KDEC_SCALE); /* no price yet */
    int bars = 0;
    kdec first = 0, close = 0;
    while (bars < 60 && klines_next(k, &ev) > 0) {
        ev.recv_ns = (ev.u.kline.open_ms + 60000) * 1000000;
        (void)ingest_event(ig, &ev, NULL);
        close = ev.u.kline.c;
        if (!first) {
            first = close;
            portfolio_summary(runner_portfolio(r), &sm);
            CHECK_INT(sm.equity, 10000 * KDEC_SCALE + first / 2);
        }
        bars++;
    }
    CHECK_INT(bars, 60);
    CHECK(close != first);
    portfolio_summary(runner_portfolio(r), &sm);
    CHECK_INT(sm.equity, 10000 * KDEC_SCALE + close / 2); /* at the mark */
    CHECK_INT(sm.cash, 10000 * KDEC_SCALE);
    const pf_position *p = portfolio_position(runner_portfolio(r), VENUE_BINANCE_SPOT, "BTCUSDT");
    CHECK(p && p->qty == KDEC_SCALE / 2 && p->entry == first && p->mark == close);
    CHECK_INT(portfolio_trade_count(runner_portfolio(r)), 0);
    runner_free(r);
    ingest_free(ig);
    kclock_free(clk);
    market_free(m);
    klines_close(k);
}

int main(void)
{
    test_write_ahead_close_all();
    test_deep_models();
    test_manual_orders();
    test_intrabar();
    test_prequential_fold();
    test_parity();
    test_kline_holding();
    CHECK_DONE();
}
