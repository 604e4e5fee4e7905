/* Backtest statistics (pure functions, no state): return/risk ratios, block-bootstrap confidence
 * intervals, the Deflated Sharpe Ratio (Bailey & Lopez de Prado 2014) and the Probability of
 * Backtest Overfitting by combinatorially symmetric cross-validation (Bailey, Borwein,
 * Lopez de Prado & Zhu 2017). Ratios are per period (annualise by sqrt(periods per year)). */
#ifndef KESTREL_BT_STATS_H
#define KESTREL_BT_STATS_H
#include "kestrel/common.h"

enum bt_stats_result {
    BT_STATS_OK = 0,
    BT_STATS_TOO_FEW,   /* not enough observations for the statistic */
    BT_STATS_BAD_INPUT, /* NaN/inf input, or a parameter out of range */
};
const char *bt_stats_strerror(enum bt_stats_result r);

/* Descriptive: NaN when n is too small (mean n < 1, the others n < 2). stddev uses n - 1. */
double bt_mean(const double *x, size_t n);
double bt_stddev(const double *x, size_t n);
double bt_skewness(const double *x, size_t n); /* population moments */
double bt_kurtosis(const double *x, size_t n); /* not excess: 3 for a normal */
/* mean / stddev; 0 when the stddev is 0 and the mean is 0, +-INFINITY when only the stddev is. */
double bt_sharpe(const double *r, size_t n);
/* (mean - target) / sqrt(mean(min(0, r - target)^2)); INFINITY when nothing is below target. */
double bt_sortino(const double *r, size_t n, double target);
/* Largest fall from a running peak, as a fraction of the peak (equity > 0); 0 when n < 2. */
double bt_max_drawdown(const double *equity, size_t n);
/* The same on the equity curve prod(1 + r) starting at 1. */
double bt_max_drawdown_returns(const double *r, size_t n);

/* ---- block bootstrap ---- */
enum bt_stat { BT_STAT_MEAN = 0, BT_STAT_SHARPE, BT_STAT_ACCURACY /* mean of 0/1 hits */ };
enum bt_boot { BT_BOOT_STATIONARY = 0, BT_BOOT_MOVING };

typedef struct bt_boot_cfg {
    enum bt_boot kind;
    double block;       /* mean block length (stationary) or block length (moving); 0 = n^(1/3) */
    uint32_t resamples; /* 0 = 2000 */
    double level;       /* 0 = 0.95 */
    uint64_t seed;
} bt_boot_cfg;

typedef struct bt_ci {
    double estimate, lo, hi; /* the statistic on the data, and the percentile interval */
} bt_ci;

/* Percentile interval of stat(x) by resampling blocks of consecutive observations (wrapping).
 * Deterministic for cfg->seed. */
K_MUST_USE enum bt_stats_result bt_bootstrap_ci(const double *x, size_t n, enum bt_stat stat,
                                                const bt_boot_cfg *cfg, bt_ci *out);
/* Interval of stat(x) - stat(y) for paired series (same resampled indices for both): an edge
 * over a baseline is in evidence when lo > 0. */
K_MUST_USE enum bt_stats_result bt_bootstrap_diff_ci(const double *x, const double *y, size_t n,
                                                     enum bt_stat stat, const bt_boot_cfg *cfg,
                                                     bt_ci *out);

/* Several intervals over series of the same length n with one configuration, in one pass: every
 * job's result (rc, *out) equals its own bt_bootstrap_ci / bt_bootstrap_diff_ci call bit for bit
 * (the resampled blocks depend only on cfg and n), but the blocks are drawn once for the batch
 * and a series shared by jobs (x of the mean and of the Sharpe ratio) is summed once. Returns
 * BT_STATS_BAD_INPUT for a bad cfg, else BT_STATS_OK with each job's own rc. */
typedef struct bt_boot_job {
    const double *x, *y; /* y: the paired baseline (stat(x) - stat(y)), or NULL */
    enum bt_stat stat;
    bt_ci *out;
    enum bt_stats_result rc; /* set by the call */
} bt_boot_job;
K_MUST_USE enum bt_stats_result bt_bootstrap_many(bt_boot_job *jobs, size_t njobs, size_t n,
                                                  const bt_boot_cfg *cfg);

/* The report's verdict from a paired-difference interval (bt_bootstrap_diff_ci of strategy minus
 * baseline): "edge over <baseline>: +<estimate> (95% CI <lo> .. <hi>)" when the whole interval is
 * above 0, else "no evidence of an edge over <baseline>". Returns 1 (edge) or 0, and writes at
 * most len bytes. */
int bt_edge_verdict(const bt_ci *diff, double level, const char *baseline, char *buf, size_t len);

/* ---- normal distribution ---- */
double bt_norm_cdf(double x);
double bt_norm_ppf(double p); /* inverse; NaN outside (0, 1) */

/* ---- Deflated Sharpe Ratio ---- */
/* Expected maximum Sharpe of `trials` independent unskilled trials whose Sharpe ratios have
 * variance var_sr: sqrt(V) * ((1 - g) Z^-1(1 - 1/N) + g Z^-1(1 - 1/(N e))), g the
 * Euler-Mascheroni constant. */
double bt_expected_max_sharpe(double var_sr, uint32_t trials);
/* Probabilistic Sharpe Ratio: P(true SR > sr_bench) given the observed per-period sr over t
 * observations with skewness and (non-excess) kurtosis. */
double bt_psr(double sr, double sr_bench, size_t t, double skew, double kurt);

typedef struct bt_dsr {
    double sr;  /* the selected strategy's per-period Sharpe */
    double sr0; /* expected maximum Sharpe under no skill (the deflated benchmark) */
    double dsr; /* PSR(sr0): probability the selected strategy's true Sharpe is above sr0 */
} bt_dsr;
K_MUST_USE enum bt_stats_result bt_deflated_sharpe(double sr, double var_sr, uint32_t trials,
                                                   size_t t, double skew, double kurt,
                                                   bt_dsr *out);
/* The same from the selected strategy's returns (sr, skewness, kurtosis, t measured on r). */
K_MUST_USE enum bt_stats_result bt_deflated_sharpe_returns(const double *r, size_t n,
                                                           double var_sr, uint32_t trials,
                                                           bt_dsr *out);

/* ---- Probability of Backtest Overfitting (CSCV) ---- */
typedef struct bt_pbo {
    double pbo;          /* share of splits where the in-sample best ranks below the OOS median */
    double logit_median; /* median of lambda = logit(relative OOS rank of the IS best) */
    double degradation;  /* mean OOS minus IS performance of the IS best */
    uint64_t splits;     /* C(S, S/2) */
} bt_pbo;
/* m: t rows (periods) by n columns (configurations), row-major returns. Rows split into s
 * equal blocks (s even, 2..24; the first t % s rows are dropped); every half of the blocks is
 * in-sample once, its complement out-of-sample; performance = Sharpe. Ties in the OOS rank
 * count half; lambda == 0 counts half toward the PBO. */
K_MUST_USE enum bt_stats_result bt_pbo_cscv(const double *m, size_t t, size_t n, uint32_t s,
                                            bt_pbo *out);

#endif
