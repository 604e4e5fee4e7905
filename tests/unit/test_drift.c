/* drift: Page-Hinkley stays quiet on a stationary loss stream and fires soon after a known change
 * point in its mean (synthetic mechanics test); restart after a detection; NaN ignored. */
#include "check.h"
#include "kestrel/drift.h"
#include "kestrel/model.h"

/* A log-loss-like value: mean m, spread ~0.4 (uniform). */
static double loss(uint64_t *rng, double m)
{
    return m + 0.7 * (model_rng_uniform(rng) - 0.5) * 2;
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
    CHECK_DONE();
}
