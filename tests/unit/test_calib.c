/* calib: PAV on a hand example; isotonic and Platt map a known miscalibrated score to the
 * observed frequencies (synthetic mechanics test); not calibrated below min_n; the Venn-Abers
 * interval brackets the map and narrows with data; keep_recent; save/load. */
#include "check.h"
#include "kestrel/calib.h"

static void test_pav(void)
{
    double y[] = { 1, 3, 2, 4, 3.5, 5 }, fit[6];
    calib_pav(y, NULL, 6, fit);
    double want[] = { 1, 2.5, 2.5, 3.75, 3.75, 5 };
    for (int i = 0; i < 6; i++)
        CHECK_NEAR(fit[i], want[i], 1e-12);
    double w[] = { 1, 3, 1 }, y2[] = { 0, 1, 0 }, f2[3];
    calib_pav(y2, w, 3, f2);
    CHECK_NEAR(f2[0], 0, 1e-12);
    CHECK_NEAR(f2[1], 0.75, 1e-12);
    CHECK_NEAR(f2[2], 0.75, 1e-12);
}

/* A score s that is right with probability s^2 (overconfident): calibrated output ~ s^2. */
static void test_isotonic(void)
{
    calib *c = calib_new(CALIB_ISOTONIC, 20000, 100);
    uint64_t rng = 99;
    bool used;
    CHECK_NEAR(calib_map(c, 0.7, &used), 0.7, 0);
    CHECK(!used);
    double p0, p1;
    calib_interval(c, 0.7, &p0, &p1);
    CHECK(p0 == 0 && p1 == 1);
    for (int i = 0; i < 20000; i++) {
        double s = 0.3 + 0.7 * model_rng_uniform(&rng);
        calib_add(c, s, model_rng_uniform(&rng) < s * s);
        if (i == 98)
            CHECK(!(calib_map(c, 0.5, &used), used));
    }
    CHECK_INT(calib_n(c), 20000);
    double worst = 0;
    for (double s = 0.4; s <= 0.95; s += 0.05) {
        double m = calib_map(c, s, &used);
        CHECK(used);
        worst = fmax(worst, fabs(m - s * s));
    }
    printf("isotonic worst |map(s) - s^2| = %.4f\n", worst);
    CHECK(worst < 0.04);
    /* monotone */
    int mono = 1;
    for (double s = 0.3; s < 1.0; s += 0.01)
        mono &= calib_map(c, s + 0.01, NULL) >= calib_map(c, s, NULL);
    CHECK(mono);
    calib_interval(c, 0.8, &p0, &p1);
    printf("venn-abers at 0.8: [%.4f, %.4f] map %.4f\n", p0, p1, calib_map(c, 0.8, NULL));
    CHECK(p0 <= calib_map(c, 0.8, NULL) + 1e-12 && p1 >= calib_map(c, 0.8, NULL) - 1e-12);
    CHECK(p1 - p0 < 0.05);
    /* a small set: a wide interval */
    calib *small = calib_new(CALIB_ISOTONIC, 500, 10);
    for (int i = 0; i < 12; i++)
        calib_add(small, 0.3 + 0.05 * i, i % 2);
    calib_interval(small, 0.55, &p0, &p1);
    CHECK(p1 - p0 > 0.1);
    /* save / load reproduces the map */
    model_blob b = { 0 };
    calib_save(c, &b);
    calib *d = calib_new(CALIB_ISOTONIC, 20000, 100);
    CHECK_INT(calib_load(d, b.data, b.len), K_MODEL_OK);
    int same = 1;
    for (double s = 0.3; s < 1.0; s += 0.013)
        same &= calib_map(c, s, NULL) == calib_map(d, s, NULL);
    CHECK(same);
    CHECK_INT(calib_load(small, b.data, b.len), K_MODEL_BAD_STATE);
    model_blob_free(&b);
    calib_keep_recent(c, 50);
    CHECK_INT(calib_n(c), 50);
    CHECK(!(calib_map(c, 0.5, &used), used));
    calib_free(c);
    calib_free(d);
    calib_free(small);
}

/* Right with probability sigmoid(6s - 4): Platt recovers a = -6, b = 4. */
static void test_platt(void)
{
    calib *c = calib_new(CALIB_PLATT, 20000, 100);
    uint64_t rng = 5;
    for (int i = 0; i < 20000; i++) {
        double s = model_rng_uniform(&rng);
        calib_add(c, s, model_rng_uniform(&rng) < 1 / (1 + exp(-(6 * s - 4))));
    }
    double a, b;
    calib_platt_params(c, &a, &b);
    printf("platt a %.3f b %.3f\n", a, b);
    CHECK(fabs(a + 6) < 0.5 && fabs(b - 4) < 0.3);
    CHECK_NEAR(calib_map(c, 0.5, NULL), 1 / (1 + exp(-(3.0 - 4))), 0.05);
    CHECK_STR(calib_method_name(calib_get_method(c)), "platt");
    calib_free(c);
}

/* The one-sweep fit inside calib against calib_pav (pool adjacent violators over the tie-pooled
 * points) on a sliding window with many ties: at every live score the map is the reference fit
 * of that score's point, bit for bit. */
static int calib_ref_cmp(const void *a, const void *b)
{
    const double *x = a, *y = b;
    return x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0;
}

static void test_isotonic_exact(void)
{
    enum { W = 200 };
    calib *c = calib_new(CALIB_ISOTONIC, W, 1);
    double ring[W][2], srt[W][2], y[W], w[W], fit[W], gs[W];
    uint64_t rng = 3;
    int same = 1, checked = 0, kept = -1;
    for (int t = 0; t < 1200; t++) {
        double s = round(model_rng_uniform(&rng) * 60) / 60; /* ties */
        bool hit = model_rng_uniform(&rng) < 0.2 + 0.6 * s;
        calib_add(c, s, hit);
        ring[t % W][0] = s;
        ring[t % W][1] = hit;
        if (t == 900) { /* as after a drift: the newest 50 stay (ring order kept below) */
            calib_keep_recent(c, 50);
            double tmp[50][2];
            for (int i = 0; i < 50; i++)
                memcpy(tmp[i], ring[(t - 49 + i) % W], sizeof tmp[i]);
            memset(ring, 0, sizeof ring);
            for (int i = 0; i < 50; i++)
                memcpy(ring[(t - 49 + i) % W], tmp[i], sizeof tmp[i]);
            kept = 50;
        }
        if (t % 7 && t < 600) /* fits after several pairs, then after every one */
            continue;
        int n = kept >= 0 ? (kept + (t - 900) < W ? kept + (t - 900) : W) : (t + 1 < W ? t + 1 : W);
        int m = 0;
        if (kept >= 0) { /* the live pairs: the newest n */
            for (int i = 0; i < n; i++)
                memcpy(srt[i], ring[(t - i + W * 4) % W], sizeof srt[i]);
        } else {
            memcpy(srt, ring, sizeof srt);
        }
        qsort(srt, (size_t)n, sizeof srt[0], calib_ref_cmp);
        for (int i = 0; i < n;) {
            int j = i;
            double sum = 0;
            while (j < n && srt[j][0] == srt[i][0])
                sum += srt[j++][1];
            y[m] = sum / (j - i);
            w[m] = j - i;
            gs[m++] = srt[i][0];
            i = j;
        }
        calib_pav(y, w, (size_t)m, fit);
        for (int i = 0; i < m; i++, checked++)
            same &= calib_map(c, gs[i], NULL) == fit[i];
    }
    CHECK(checked > 5000);
    CHECK(same);
    calib_free(c);
}

int main(void)
{
    test_isotonic_exact();
    test_pav();
    test_isotonic();
    test_platt();
    CHECK_DONE();
}
