/* drift: Page-Hinkley and ADWIN stay quiet on a stationary loss stream and fire soon after a
 * known change point in its mean (synthetic mechanics test); Page-Hinkley restarts after a
 * detection, ADWIN's window shrinks to the part after the change and its mean follows it; its
 * memory stays bounded (the bucket rows grow with log n); NaN ignored. */
#include "check.h"
#include "kestrel/drift.h"
#include "kestrel/model.h"

/* A log-loss-like value: mean m, spread ~0.4 (uniform). */
static double loss(uint64_t *rng, double m)
{
    return m + 0.7 * (model_rng_uniform(rng) - 0.5) * 2;
}

static void test_adwin(void)
{
    for (uint64_t seed = 1; seed <= 20; seed++) {
        adwin a;
        adwin_init_default(&a);
        uint64_t rng = seed + 100;
        int early = 0, at = -1;
        for (int i = 0; i < 3000; i++) {
            double m = i < 2000 ? 0.9 : 1.4; /* change point at 2000 */
            if (adwin_add(&a, loss(&rng, m))) {
                if (i < 2000)
                    early++;
                else if (at < 0)
                    at = i;
            }
        }
        CHECK_INT(early, 0);
        CHECK(at >= 2000 && at < 2150);
        /* the window now holds (mostly) the new regime */
        CHECK(a.width < 1100);
        CHECK(fabs(adwin_mean(&a) - 1.4) < 0.05);
        CHECK(a.last_new_mean > a.last_old_mean);
        if (seed == 1)
            printf("adwin: change at 2000, detected at %d, window %llu, mean %.3f\n", at,
                   (unsigned long long)a.width, adwin_mean(&a));
    }
    /* a long stationary stream: no detection, the window keeps everything, rows ~ log2(n) */
    adwin a;
    adwin_init_default(&a);
    uint64_t rng = 7;
    uint64_t fired = 0;
    for (int i = 0; i < 200000; i++)
        fired += adwin_add(&a, loss(&rng, 0.9));
    CHECK(fired <= 1); /* delta 0.002: a false alarm is possible, not likely */
    CHECK(a.nrows <= 18);
    CHECK(fabs(adwin_mean(&a) - 0.9) < 0.01);
    CHECK(!adwin_add(&a, NAN));
    CHECK(isnan(adwin_mean(&(adwin){0})));
}

int main(void)
{
    for (uint64_t seed = 1; seed <= 20; seed++) {
        drift d;
        drift_init_default(&d);
        uint64_t rng = seed;
        int early = 0, at = -1;
        for (int i = 0; i < 3000; i++) {
            double m = i < 2000 ? 0.9 : 1.4; /* change point at 2000 */
            if (drift_add(&d, loss(&rng, m))) {
                if (i < 2000)
                    early++;
                else if (at < 0)
                    at = i;
            }
        }
        CHECK_INT(early, 0);
        CHECK(at >= 2000 && at < 2100);
        if (seed == 1)
            printf("change at 2000, detected at %d (detections %llu)\n", at,
                   (unsigned long long)d.detections);
    }
    drift d;
    drift_init(&d, 0.05, 5, 10);
    CHECK(!drift_add(&d, NAN));
    CHECK_INT(d.total, 0);
    int fired = -1;
    for (int i = 0; i < 100 && fired < 0; i++)
        if (drift_add(&d, i < 20 ? 0.5 : 2.0))
            fired = i;
    CHECK(fired > 20 && fired < 30);
    CHECK_NEAR(drift_stat(&d), 0, 0);
    CHECK_INT(d.n, 0);
    CHECK_INT(d.last_detection_at, (uint64_t)fired + 1);
    test_adwin();
    CHECK_DONE();
}
