/* The feed health policy (failover.h) and auto-trading's entry gate (runner.h entry_gate), on
 * hand-made timestamps and bars (the mechanics only; tests/integration/live_health.sh runs the
 * real thing against the fake exchange):
 * - stall threshold: factor x the documented cadence, the observed cadence when slower, the
 *   ceiling, never below 2 cadences;
 * - failover after after_ms unhealthy (not before; not when the backup is unhealthy too), back
 *   after back_after_ms healthy (hysteresis: a primary that flaps stays on the backup), at once
 *   when the backup fails while the primary is healthy; counters;
 * - the gate: a refused entry is a REFUSED event with the reason and no order; exits (a stop)
 *   are never gated; entries resume when the gate opens. */
#include "check.h"
#include "kestrel/backtest.h"
#include "kestrel/failover.h"
#include "kestrel/ingest.h"
#include "kestrel/runner.h"

#define PX(x) ((kdec)((x) * KDEC_SCALE))

static void test_stall_ms(void)
{
    CHECK_INT(failover_stall_ms(50, 100, 0, 10000), 5000);     /* depth@100ms: 5 s */
    CHECK_INT(failover_stall_ms(50, 100, 20, 10000), 5000);    /* faster than documented */
    CHECK_INT(failover_stall_ms(50, 100, 150, 10000), 7500);   /* observed slower: its cadence */
    CHECK_INT(failover_stall_ms(50, 100, 5000, 10000), 10000); /* capped at the ceiling */
    CHECK_INT(failover_stall_ms(50, 100, 5000, 0), 250000);    /* no ceiling */
    CHECK_INT(failover_stall_ms(1, 100, 0, 10000), 200);       /* never below 2 cadences */
    CHECK_INT(failover_stall_ms(20, 1000, 0, 60000), 20000);   /* a trade stream, factor 20 */
    CHECK_INT(failover_stall_ms(50, 0, 0, 0), 50);             /* a zero cadence counts as 1 ms */
}

static void test_pairs(void)
{
    failover_opts o = {.after_ms = 5000, .back_after_ms = 15000};
    failover *f = failover_new(&o);
    CHECK_INT(failover_add(f), 0);
    CHECK_INT(failover_add(f), 1);
    CHECK_INT(failover_count(f), 2);
    CHECK(failover_get(f, 2) == NULL);
    CHECK_INT(failover_update(f, 9, 0, false, true), FAILOVER_EV_NONE); /* out of range */
    /* healthy: nothing happens */
    int64_t t = 1000;
    CHECK_INT(failover_update(f, 0, t, true, true), FAILOVER_EV_NONE);
    CHECK(!failover_get(f, 0)->on_backup);
    /* unhealthy for 4.9 s: not yet; at 5 s: the backup */
    CHECK_INT(failover_update(f, 0, t += 100, false, true), FAILOVER_EV_NONE);
    int64_t bad = t;
    CHECK_INT(failover_get(f, 0)->bad_since_ms, bad);
    CHECK_INT(failover_update(f, 0, bad + 4900, false, true), FAILOVER_EV_NONE);
    CHECK_INT(failover_update(f, 0, bad + 5000, false, true), FAILOVER_EV_TO_BACKUP);
    t = bad + 5000;
    CHECK(failover_get(f, 0)->on_backup);
    CHECK_INT(failover_get(f, 0)->failovers, 1);
    CHECK_INT(failover_get(f, 0)->switched_ms, t);
    CHECK(!failover_get(f, 1)->on_backup); /* pairs are independent */
    /* the primary flaps: healthy 10 s, unhealthy once, healthy 14.9 s: still on the backup */
    CHECK_INT(failover_update(f, 0, t += 100, true, true), FAILOVER_EV_NONE);
    CHECK_INT(failover_update(f, 0, t += 10000, true, true), FAILOVER_EV_NONE);
    CHECK_INT(failover_update(f, 0, t += 100, false, true), FAILOVER_EV_NONE);
    CHECK_INT(failover_get(f, 0)->good_since_ms, 0);
    CHECK_INT(failover_update(f, 0, t += 100, true, true), FAILOVER_EV_NONE);
    int64_t good = t;
    CHECK_INT(failover_update(f, 0, good + 14900, true, true), FAILOVER_EV_NONE);
    CHECK(failover_get(f, 0)->on_backup);
    /* healthy for 15 s: back */
    CHECK_INT(failover_update(f, 0, good + 15000, true, true), FAILOVER_EV_TO_PRIMARY);
    CHECK(!failover_get(f, 0)->on_backup);
    CHECK_INT(failover_get(f, 0)->failbacks, 1);
    t = good + 15000;
    /* both unhealthy: stays on the primary however long */
    CHECK_INT(failover_update(f, 0, t += 100, false, false), FAILOVER_EV_NONE);
    CHECK_INT(failover_update(f, 0, t += 60000, false, false), FAILOVER_EV_NONE);
    CHECK(!failover_get(f, 0)->on_backup);
    /* the backup recovers while the primary is still down (over 5 s already): switch now */
    CHECK_INT(failover_update(f, 0, t += 100, false, true), FAILOVER_EV_TO_BACKUP);
    /* on the backup both fail: stay */
    CHECK_INT(failover_update(f, 0, t += 100, false, false), FAILOVER_EV_NONE);
    CHECK(failover_get(f, 0)->on_backup);
    CHECK(!failover_get(f, 0)->backup_ok && !failover_get(f, 0)->primary_ok);
    /* the backup fails while the primary is healthy: back at once, no hysteresis */
    CHECK_INT(failover_update(f, 0, t += 100, true, false), FAILOVER_EV_TO_PRIMARY);
    CHECK_INT(failover_get(f, 0)->failovers, 2);
    CHECK_INT(failover_get(f, 0)->failbacks, 2);
    failover_free(f);
    failover_free(NULL);
    /* capacity */
    f = failover_new(&o);
    for (int i = 0; i < FAILOVER_MAX; i++)
        CHECK_INT(failover_add(f), i);
    CHECK_INT(failover_add(f), -1);
    failover_free(f);
}

/* ---- the entry gate ---- */

typedef struct gate {
    bool open;
    int asked;
    int refused_events;
    char last_why[160];
} gate;

static bool gate_fn(void *ud, const market_sym *ms, char *why, size_t cap)
{
    gate *g = ud;
    g->asked++;
    if (!g->open)
        snprintf(why, cap, "failover: %s is shown from another venue", ms->name);
    return g->open;
}

static void gate_listen(void *ud, const runner_ev *ev)
{
    gate *g = ud;
    if (ev->kind == RUNNER_EV_REFUSED) {
        g->refused_events++;
        snprintf(g->last_why, sizeof g->last_why, "%s", ev->why ? ev->why : "");
    }
}

static void bar(ingest *ig, int64_t open_ms, double o, double h, double l, double c)
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

static void test_gate(void)
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
    gate g = {.open = false};
    c.entry_gate = gate_fn;
    c.entry_gate_ud = &g;
    runner *r = runner_new(m, clk, &c);
    CHECK(r != NULL);
    runner_set_listener(r, gate_listen, &g);
    portfolio *pf = runner_portfolio(r);
    int64_t t0 = 1700000040000LL - 1700000040000LL % 60000;
    /* gate closed: the always-buy entry is refused, with the reason, no position */
    bar(ig, t0, 100, 100, 100, 100);
    CHECK_INT(g.asked, 1);
    CHECK_INT(g.refused_events, 1);
    CHECK_STR(g.last_why, "failover: TESTUSDT is shown from another venue");
    CHECK_INT(runner_get_stats(r)->refused, 1);
    CHECK_INT(runner_get_stats(r)->orders, 0);
    CHECK(portfolio_position(pf, VENUE_BINANCE_USDM, "TESTUSDT") == NULL ||
          portfolio_position(pf, VENUE_BINANCE_USDM, "TESTUSDT")->qty == 0);
    /* gate open: the next signal enters */
    g.open = true;
    bar(ig, t0 + 60000, 100, 100, 100, 100);
    const pf_position *p = portfolio_position(pf, VENUE_BINANCE_USDM, "TESTUSDT");
    CHECK(p && p->qty == PX(1));
    /* closed again while long: the stop still fires (exits are never gated) */
    g.open = false;
    int asked = g.asked;
    CHECK_INT(runner_set_protection(r, VENUE_BINANCE_USDM, "TESTUSDT", PX(95), PX(200)), K_OK);
    bar(ig, t0 + 120000, 100, 101, 94, 96);
    CHECK_INT(portfolio_trade_count(pf), 1);
    CHECK_INT(portfolio_trade_at(pf, 0)->exit, PX(95));
    CHECK_INT(runner_get_stats(r)->stops, 1);
    CHECK(g.asked > asked); /* the re-entry after the stop was asked, and refused */
    p = portfolio_position(pf, VENUE_BINANCE_USDM, "TESTUSDT");
    CHECK(!p || p->qty == 0);
    runner_free(r);
    ingest_free(ig);
    kclock_free(clk);
    market_free(m);
}

int main(void)
{
    test_stall_ms();
    test_pairs();
    test_gate();
    CHECK_DONE();
}
