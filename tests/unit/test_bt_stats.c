/* Backtest statistics: ratios and drawdowns on hand-worked examples, the Deflated Sharpe Ratio on
 * the numerical example of Bailey & Lopez de Prado (2014), PBO by CSCV on matrices whose answer
 * is known analytically, and the block bootstrap on real BTC perpetual 1m returns. */
#include "check.h"
#include "kestrel/bt_stats.h"
#include "kestrel/xmalloc.h"

#include <zlib.h>

static double *load_returns(size_t *n)
{
    char path[1024], line[256];
    snprintf(path, sizeof(path), "%s/klines/btc-perp_1m_2021-12-31_2022-02-01.csv.gz",
             check_shared_data());
    gzFile gz = gzopen(path, "rb");
    if (!gz)
        return NULL;
    size_t cap = 65536;
    double *r = xmalloc(cap * sizeof(double)), prev = 0;
    *n = 0;
    while (gzgets(gz, line, sizeof(line))) {
        long long t;
        double o, h, l, c, v;
        if (sscanf(line, "%lld,%lf,%lf,%lf,%lf,%lf", &t, &o, &h, &l, &c, &v) != 6)
            continue;
        if (prev > 0 && *n < cap)
            r[(*n)++] = log(c / prev);
        prev = c;
    }
    gzclose(gz);
    return r;
}

static void test_ratios(void)
{
    const double r[] = {0.01, 0.02, -0.01, 0.03};
    CHECK_NEAR(bt_mean(r, 4), 0.0125, 1e-12);
    CHECK_NEAR(bt_stddev(r, 4), sqrt(8.75e-4 / 3), 1e-12);
    CHECK_NEAR(bt_sharpe(r, 4), 0.0125 / sqrt(8.75e-4 / 3), 1e-12);
    CHECK_NEAR(bt_sortino(r, 4, 0.0), 2.5, 1e-12); /* downside dev sqrt(1e-4 / 4) = 0.005 */
    const double flat[] = {0.01, 0.01, 0.01};
    CHECK(bt_sharpe(flat, 3) == INFINITY);
    CHECK(bt_sortino(flat, 3, 0) == INFINITY);
    CHECK(isnan(bt_sharpe(r, 1)));
    const double eq[] = {100, 120, 90, 110, 80, 130};
    CHECK_NEAR(bt_max_drawdown(eq, 6), 40.0 / 120.0, 1e-12);
    const double rr[] = {0.1, -0.5, 1.0, -0.1};
    CHECK_NEAR(bt_max_drawdown_returns(rr, 4), 0.5, 1e-12);
    const double up[] = {1, 2, 3};
    CHECK(bt_max_drawdown(up, 3) == 0);
    const double sk[] = {0, 0, 0, 3}; /* mean .75, m2 1.6875, m3 2.53125 */
    CHECK_NEAR(bt_skewness(sk, 4), 2.53125 / pow(1.6875, 1.5), 1e-12);
    CHECK_NEAR(bt_kurtosis(sk, 4), (3 * pow(0.75, 4) + pow(2.25, 4)) / 4 / (1.6875 * 1.6875),
               1e-12);
}

static void test_normal(void)
{
    CHECK_NEAR(bt_norm_cdf(0), 0.5, 1e-15);
    CHECK_NEAR(bt_norm_cdf(1.959963984540054), 0.975, 1e-12);
    CHECK_NEAR(bt_norm_ppf(0.975), 1.959963984540054, 1e-12);
    CHECK_NEAR(bt_norm_ppf(0.99), 2.3263478740408408, 1e-12);
    CHECK_NEAR(bt_norm_ppf(1e-10), -6.361340902404056, 1e-10);
    CHECK(isnan(bt_norm_ppf(0)) && isnan(bt_norm_ppf(1)));
    for (double p = 0.001; p < 1; p += 0.0371)
        CHECK_NEAR(bt_norm_cdf(bt_norm_ppf(p)), p, 1e-12);
}

static void test_dsr(void)
{
    /* Bailey & Lopez de Prado (2014), numerical example: N = 100 trials whose annualised Sharpe
     * ratios have variance 1/2, the selected one has annualised SR 2.5 over 5 years of daily
     * returns (T = 1250, 250 a year), skewness -3, kurtosis 10. Paper: SR0 = 0.1132 (daily),
     * DSR = 0.9004. */
    bt_dsr d;
    CHECK_INT(bt_deflated_sharpe(2.5 / sqrt(250.0), 0.5 / 250.0, 100, 1250, -3, 10, &d),
              BT_STATS_OK);
    CHECK(fabs(d.sr0 - 0.1132) < 5e-5);
    CHECK(fabs(d.dsr - 0.9004) < 5e-5);
    /* more trials deflate more */
    bt_dsr d2;
    CHECK_INT(bt_deflated_sharpe(2.5 / sqrt(250.0), 0.5 / 250.0, 1000, 1250, -3, 10, &d2),
              BT_STATS_OK);
    CHECK(d2.sr0 > d.sr0 && d2.dsr < d.dsr);
    /* PSR with normal moments: Z(SR sqrt(T-1) / sqrt(1 + SR^2 / 2)) */
    CHECK_NEAR(bt_psr(0.1, 0, 101, 0, 3), bt_norm_cdf(1.0 / sqrt(1.005)), 1e-12);
    CHECK_INT(bt_deflated_sharpe(NAN, 0.1, 10, 100, 0, 3, &d), BT_STATS_BAD_INPUT);
    CHECK_INT(bt_deflated_sharpe(0.1, 0.1, 10, 1, 0, 3, &d), BT_STATS_TOO_FEW);
    /* from returns: the moments are measured on the series */
    const double r[] = {0.01, 0.02, -0.01, 0.03, 0.0, 0.015};
    CHECK_INT(bt_deflated_sharpe_returns(r, 6, 0.01, 20, &d), BT_STATS_OK);
    CHECK_NEAR(d.sr, bt_sharpe(r, 6), 1e-12);
    CHECK_NEAR(d.dsr, bt_psr(d.sr, bt_expected_max_sharpe(0.01, 20), 6, bt_skewness(r, 6),
                             bt_kurtosis(r, 6)), 1e-12);
}

static void test_pbo(const double *ret, size_t nret)
{
    const size_t rows = 20, S = 16, T = rows * S;
    /* one dominant configuration: a shifted copy of the same noise ranks first everywhere */
    double *m = xmalloc(T * 5 * sizeof(double));
    for (size_t r = 0; r < T; r++)
        for (size_t j = 0; j < 5; j++)
            m[r * 5 + j] = ret[r] + (j == 0 ? 0.5 : -0.1 * (double)j) * 1e-3;
    bt_pbo p;
    CHECK_INT(bt_pbo_cscv(m, T, 5, 16, &p), BT_STATS_OK);
    CHECK_INT(p.splits, 12870);
    CHECK(p.pbo == 0.0);
    CHECK_NEAR(p.logit_median, log(5.0), 1e-12); /* rank 5 of 5: w = 5/6 */
    /* mirror pair whose total is zero: the in-sample best is always the out-of-sample worst */
    double *mm = xmalloc(T * 2 * sizeof(double));
    for (size_t b = 0; b < S; b++) {
        double v = b < S - 1 ? ldexp(1e-4, (int)b) : -(ldexp(1.0, (int)S - 1) - 1) * 1e-4;
        for (size_t r = 0; r < rows; r++) {
            double a = v + (r % 2 ? 0.5 : -0.5);
            mm[(b * rows + r) * 2] = a;
            mm[(b * rows + r) * 2 + 1] = -a;
        }
    }
    CHECK_INT(bt_pbo_cscv(mm, T, 2, 16, &p), BT_STATS_OK);
    CHECK(p.pbo == 1.0);
    CHECK_NEAR(p.logit_median, -log(2.0), 1e-12);
    CHECK(p.degradation < 0);
    /* identical configurations: the pick is a coin flip, PBO exactly one half */
    double *mi = xmalloc(T * 4 * sizeof(double));
    for (size_t r = 0; r < T; r++)
        for (size_t j = 0; j < 4; j++)
            mi[r * 4 + j] = ret[r];
    CHECK_INT(bt_pbo_cscv(mi, T, 4, 16, &p), BT_STATS_OK);
    CHECK(p.pbo == 0.5);
    CHECK(p.logit_median == 0.0);
    /* bad shapes */
    CHECK_INT(bt_pbo_cscv(mi, T, 4, 15, &p), BT_STATS_BAD_INPUT);
    CHECK_INT(bt_pbo_cscv(mi, T, 1, 16, &p), BT_STATS_BAD_INPUT);
    CHECK_INT(bt_pbo_cscv(mi, 20, 4, 16, &p), BT_STATS_TOO_FEW);
    mi[7] = NAN;
    CHECK_INT(bt_pbo_cscv(mi, T, 4, 16, &p), BT_STATS_BAD_INPUT);
    (void)nret;
    free(m);
    free(mm);
    free(mi);
}

static void test_bootstrap(const double *r, size_t n)
{
    bt_boot_cfg c = {.kind = BT_BOOT_MOVING, .block = 1, .resamples = 600, .seed = 7};
    bt_ci ci, ci2;
    CHECK_INT(bt_bootstrap_ci(r, n, BT_STAT_MEAN, &c, &ci), BT_STATS_OK);
    CHECK_NEAR(ci.estimate, bt_mean(r, n), 1e-12);
    CHECK(ci.lo < ci.estimate && ci.estimate < ci.hi);
    /* block 1 is the iid bootstrap: width close to 2 * 1.96 * sd / sqrt(n) */
    double iid = 2 * 1.959964 * bt_stddev(r, n) / sqrt((double)n), w1 = ci.hi - ci.lo;
    fprintf(stderr, "mean CI width %.3g vs iid %.3g\n", w1, iid);
    CHECK(fabs(w1 / iid - 1) < 0.15);
    /* same seed, same interval; another seed, another */
    CHECK_INT(bt_bootstrap_ci(r, n, BT_STAT_MEAN, &c, &ci2), BT_STATS_OK);
    CHECK(ci.lo == ci2.lo && ci.hi == ci2.hi);
    c.seed = 8;
    CHECK_INT(bt_bootstrap_ci(r, n, BT_STAT_MEAN, &c, &ci2), BT_STATS_OK);
    CHECK(ci.lo != ci2.lo);
    /* volatility clusters: |r| is autocorrelated, so blocks widen its interval */
    double *a = xmalloc(n * sizeof(double));
    for (size_t i = 0; i < n; i++)
        a[i] = fabs(r[i]);
    bt_ci ib, sb, mb;
    CHECK_INT(bt_bootstrap_ci(a, n, BT_STAT_MEAN, &c, &ib), BT_STATS_OK);
    bt_boot_cfg st = {.kind = BT_BOOT_STATIONARY, .block = 200, .resamples = 600, .seed = 7};
    CHECK_INT(bt_bootstrap_ci(a, n, BT_STAT_MEAN, &st, &sb), BT_STATS_OK);
    bt_boot_cfg mv = {.kind = BT_BOOT_MOVING, .block = 200, .resamples = 600, .seed = 7};
    CHECK_INT(bt_bootstrap_ci(a, n, BT_STAT_MEAN, &mv, &mb), BT_STATS_OK);
    fprintf(stderr, "|r| CI width iid %.3g stationary %.3g moving %.3g\n", ib.hi - ib.lo,
            sb.hi - sb.lo, mb.hi - mb.lo);
    CHECK(sb.hi - sb.lo > 1.5 * (ib.hi - ib.lo));
    CHECK(mb.hi - mb.lo > 1.5 * (ib.hi - ib.lo));
    /* Sharpe and accuracy */
    CHECK_INT(bt_bootstrap_ci(r, n, BT_STAT_SHARPE, &st, &ci), BT_STATS_OK);
    CHECK_NEAR(ci.estimate, bt_sharpe(r, n), 1e-9);
    CHECK(ci.lo < ci.estimate && ci.estimate < ci.hi);
    for (size_t i = 0; i < n; i++)
        a[i] = r[i] > 0;
    CHECK_INT(bt_bootstrap_ci(a, n, BT_STAT_ACCURACY, &st, &ci), BT_STATS_OK);
    CHECK(ci.lo > 0 && ci.hi < 1 && ci.lo < ci.estimate && ci.estimate < ci.hi);
    /* paired difference: against itself exactly 0; against itself minus a constant, an edge */
    CHECK_INT(bt_bootstrap_diff_ci(r, r, n, BT_STAT_MEAN, &st, &ci), BT_STATS_OK);
    CHECK(ci.estimate == 0 && ci.lo == 0 && ci.hi == 0);
    for (size_t i = 0; i < n; i++)
        a[i] = r[i] - 1e-4;
    CHECK_INT(bt_bootstrap_diff_ci(r, a, n, BT_STAT_MEAN, &st, &ci), BT_STATS_OK);
    CHECK_NEAR(ci.estimate, 1e-4, 1e-9);
    CHECK(ci.lo > 0);
    char v[128];
    CHECK_INT(bt_edge_verdict(&ci, 0.95, "buy-and-hold", v, sizeof(v)), 1);
    CHECK(strncmp(v, "edge over buy-and-hold: +0.0001 (95% CI ", 40) == 0);
    /* the mean itself carries no evidence of an edge over zero on these returns */
    CHECK_INT(bt_bootstrap_ci(r, n, BT_STAT_MEAN, &st, &ci), BT_STATS_OK);
    CHECK(ci.lo < 0 && ci.hi > 0);
    CHECK_INT(bt_edge_verdict(&ci, 0.95, "always-HOLD", v, sizeof(v)), 0);
    CHECK_STR(v, "no evidence of an edge over always-HOLD");
    /* bad input */
    a[3] = NAN;
    CHECK_INT(bt_bootstrap_ci(a, n, BT_STAT_MEAN, &st, &ci), BT_STATS_BAD_INPUT);
    CHECK_INT(bt_bootstrap_ci(r, 1, BT_STAT_MEAN, &st, &ci), BT_STATS_TOO_FEW);
    bt_boot_cfg badlvl = st;
    badlvl.level = 1.5;
    CHECK_INT(bt_bootstrap_ci(r, n, BT_STAT_MEAN, &badlvl, &ci), BT_STATS_BAD_INPUT);
    free(a);
}

/* A batch gives every job exactly its single call's interval (the report's intervals come from
 * two batches), shares a series between jobs, and keeps a bad job's rc to itself. */
static void test_bootstrap_batch(const double *r, size_t n)
{
    double *y = malloc(n * sizeof *y), *bad = malloc(n * sizeof *bad);
    for (size_t i = 0; i < n; i++) {
        y[i] = r[(i * 7 + 3) % n] * 0.5; /* another real series, not a shift of r */
        bad[i] = r[i];
    }
    bad[n / 2] = NAN;
    bt_boot_cfg st = { .kind = BT_BOOT_STATIONARY, .resamples = 300, .seed = 11 };
    bt_ci one[6], many[6];
    memset(many, 0xff, sizeof many);
    bt_boot_job jobs[6] = {
        { .x = r, .stat = BT_STAT_MEAN, .out = &many[0] },
        { .x = r, .stat = BT_STAT_SHARPE, .out = &many[1] },
        { .x = r, .y = y, .stat = BT_STAT_MEAN, .out = &many[2] },
        { .x = r, .y = y, .stat = BT_STAT_SHARPE, .out = &many[3] },
        { .x = bad, .stat = BT_STAT_MEAN, .out = &many[4] },
        { .x = y, .y = r, .stat = BT_STAT_ACCURACY, .out = &many[5] },
    };
    CHECK_INT(bt_bootstrap_many(jobs, 6, n, &st), BT_STATS_OK);
    CHECK_INT(bt_bootstrap_ci(r, n, BT_STAT_MEAN, &st, &one[0]), BT_STATS_OK);
    CHECK_INT(bt_bootstrap_ci(r, n, BT_STAT_SHARPE, &st, &one[1]), BT_STATS_OK);
    CHECK_INT(bt_bootstrap_diff_ci(r, y, n, BT_STAT_MEAN, &st, &one[2]), BT_STATS_OK);
    CHECK_INT(bt_bootstrap_diff_ci(r, y, n, BT_STAT_SHARPE, &st, &one[3]), BT_STATS_OK);
    CHECK_INT(bt_bootstrap_ci(bad, n, BT_STAT_MEAN, &st, &one[4]), BT_STATS_BAD_INPUT);
    CHECK_INT(bt_bootstrap_diff_ci(y, r, n, BT_STAT_ACCURACY, &st, &one[5]), BT_STATS_OK);
    for (int j = 0; j < 6; j++) {
        CHECK_INT(jobs[j].rc, j == 4 ? BT_STATS_BAD_INPUT : BT_STATS_OK);
        if (j != 4)
            CHECK(memcmp(&one[j], &many[j], sizeof one[j]) == 0);
    }
    CHECK(many[0].lo < many[0].hi && many[3].lo < many[3].hi);
    bt_boot_cfg badcfg = st;
    badcfg.level = 2;
    CHECK_INT(bt_bootstrap_many(jobs, 2, n, &badcfg), BT_STATS_BAD_INPUT);
    CHECK_INT(jobs[0].rc, BT_STATS_BAD_INPUT);
    CHECK_INT(bt_bootstrap_many(jobs, 2, 1, &st), BT_STATS_OK);
    CHECK_INT(jobs[1].rc, BT_STATS_TOO_FEW);
    free(y);
    free(bad);
}

int main(void)
{
    size_t n = 0;
    double *r = load_returns(&n);
    CHECK(r != NULL && n > 40000);
    test_ratios();
    test_normal();
    test_dsr();
    if (r && n > 40000) {
        test_pbo(r, n);
        test_bootstrap(r, 12000);
        test_bootstrap_batch(r, 5000);
    }
    free(r);
    CHECK_STR(bt_stats_strerror(BT_STATS_TOO_FEW), "too few observations");
    CHECK_DONE();
}
