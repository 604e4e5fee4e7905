/* Market clocks: the simulated clock fires timers in (due, id) order with the market time at
 * their due time, whatever the advance steps; cancel; timers added by a callback; the wall clock
 * fires through the loop. */
#include "check.h"

#include "kestrel/clock.h"
#include "kestrel/loop.h"

typedef struct rec {
    int64_t due[4096], now[4096];
    uint64_t id[4096];
    int n;
    kclock *c;
    int rearm; /* a chain: every fire arms the next one `rearm` ms later, up to 100 */
} rec;

static void on_fire(kclock *c, uint64_t id, int64_t due, void *ud)
{
    rec *r = ud;
    if (r->n < 4096) {
        r->due[r->n] = due;
        r->now[r->n] = kclock_now_ms(c);
        r->id[r->n] = id;
        r->n++;
    }
    if (r->rearm && r->n < 100)
        kclock_timer_at(c, due + r->rearm, on_fire, r);
}

static void test_order(void)
{
    kclock *c = kclock_new_simulated();
    static rec r;
    memset(&r, 0, sizeof r);
    CHECK_INT(kclock_now_ms(c), 0);
    uint64_t a = kclock_timer_at(c, 100, on_fire, &r);
    uint64_t b = kclock_timer_at(c, 50, on_fire, &r);
    uint64_t b2 = kclock_timer_at(c, 50, on_fire, &r);
    uint64_t d = kclock_timer_at(c, 200, on_fire, &r);
    CHECK(a && b && b2 && d && a != b && b != b2);
    CHECK_INT(kclock_timer_count(c), 4);
    CHECK_INT(kclock_next_due(c), 50);
    CHECK_INT(kclock_advance(c, 49), 0);
    CHECK_INT(kclock_now_ms(c), 49);
    CHECK_INT(kclock_advance(c, 120), 3);
    CHECK_INT(r.n, 3);
    CHECK_INT(r.id[0], b); /* same due: the order they were added in */
    CHECK_INT(r.id[1], b2);
    CHECK_INT(r.id[2], a);
    CHECK_INT(r.now[0], 50); /* each callback sees its own due time as now */
    CHECK_INT(r.now[2], 100);
    CHECK_INT(kclock_now_ms(c), 120);
    CHECK_INT(kclock_advance(c, 80), 0); /* never backwards */
    CHECK_INT(kclock_now_ms(c), 120);
    CHECK_INT(kclock_timer_cancel(c, d), K_OK);
    CHECK_INT(kclock_timer_cancel(c, d), K_ERR);
    CHECK_INT(kclock_timer_cancel(c, a), K_ERR); /* fired */
    CHECK_INT(kclock_advance(c, 1000), 0);
    CHECK_INT(kclock_next_due(c), INT64_MAX);
    /* a past due time fires at the next advance, with now unchanged */
    kclock_timer_at(c, 10, on_fire, &r);
    CHECK_INT(kclock_advance(c, 1000), 1);
    CHECK_INT(r.now[3], 1000);
    kclock_free(c);
}

/* The same timer chain over the same data gives the same fires whatever the advance steps
 * (what makes --speed 0, 1 and 8 agree). */
static void test_steps(void)
{
    static rec r1, r2;
    memset(&r1, 0, sizeof r1);
    memset(&r2, 0, sizeof r2);
    r1.rearm = r2.rearm = 30000;
    kclock *c1 = kclock_new_simulated(), *c2 = kclock_new_simulated();
    kclock_timer_at(c1, 1723161260000LL, on_fire, &r1);
    kclock_timer_at(c2, 1723161260000LL, on_fire, &r2);
    int64_t t0 = 1723161253000LL;
    for (int64_t t = t0; t < t0 + 3600000; t += 7) /* small steps */
        kclock_advance(c1, t);
    for (int64_t t = t0; t < t0 + 3600000; t += 45013) /* steps longer than the interval */
        kclock_advance(c2, t);
    kclock_advance(c1, t0 + 3600000);
    kclock_advance(c2, t0 + 3600000);
    CHECK_INT(r1.n, 100);
    CHECK_INT(r2.n, r1.n);
    int same = 0;
    for (int i = 0; i < r1.n; i++)
        same += r1.due[i] == r2.due[i] && r1.now[i] == r2.now[i] && r1.now[i] == r1.due[i];
    CHECK_INT(same, r1.n);
    CHECK_INT(r1.due[99], 1723161260000LL + 99 * 30000LL);
    kclock_free(c1);
    kclock_free(c2);
}

/* Many timers in scrambled order fire sorted. */
static void test_many(void)
{
    kclock *c = kclock_new_simulated();
    static rec r;
    memset(&r, 0, sizeof r);
    uint32_t x = 12345;
    for (int i = 0; i < 3000; i++) {
        x = x * 1103515245u + 12345u;
        kclock_timer_at(c, (int64_t)(x % 100000), on_fire, &r);
    }
    CHECK_INT(kclock_advance(c, 100000), 3000);
    int sorted = 1;
    for (int i = 1; i < r.n; i++)
        if (r.due[i] < r.due[i - 1] || (r.due[i] == r.due[i - 1] && r.id[i] < r.id[i - 1]))
            sorted = 0;
    CHECK(sorted);
    CHECK_INT(kclock_timer_count(c), 0);
    kclock_free(c);
}

/* The wall clock's timers fire from the loop while nothing advances it by hand. */
static void test_wall(void)
{
    loop *l = loop_new();
    kclock *c = kclock_new_wall(l);
    static rec r;
    memset(&r, 0, sizeof r);
    int64_t now = kclock_now_ms(c);
    CHECK(now > 1700000000000LL && now - loop_wall_ms() <= 1);
    kclock_timer_after(c, 20, on_fire, &r);
    uint64_t gone = kclock_timer_after(c, 10, on_fire, &r);
    CHECK_INT(kclock_timer_cancel(c, gone), K_OK);
    for (int i = 0; i < 200 && r.n == 0; i++) /* bounded: at most ~2 s */
        loop_once(l, 10);
    CHECK_INT(r.n, 1);
    CHECK(r.due[0] >= now + 20 && loop_wall_ms() >= r.due[0]);
    CHECK_INT(kclock_timer_count(c), 0);
    kclock_free(c);
    loop_free(l);
}

int main(void)
{
    test_order();
    test_steps();
    test_many();
    test_wall();
    CHECK_DONE();
}
