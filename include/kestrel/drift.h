/* Drift detection on the ensemble's per-signal loss: the Page-Hinkley test for an increase of the
 * mean. m_t = sum_i (x_i - mean_i - delta), M_t = min m; drift when t >= min_n and
 * m_t - M_t > lambda; the detector then restarts. Plain struct, no allocation. */
#ifndef KESTREL_DRIFT_H
#define KESTREL_DRIFT_H
#include "kestrel/common.h"

typedef struct drift {
    double delta, lambda; /* tolerance (0.05) and threshold (20), in loss units */
    uint32_t min_n;       /* samples before a detection may fire (30) */
    uint64_t n;           /* samples since the last restart */
    double mean, cum, min_cum;
    uint64_t detections, total;
    uint64_t last_detection_at; /* total sample count at the last detection (0 = none) */
} drift;

void drift_init(drift *d, double delta, double lambda, uint32_t min_n);
void drift_init_default(drift *d);
/* One loss value; true when drift was detected on it (the detector restarted). Non-finite
 * values are ignored. */
bool drift_add(drift *d, double x);
/* m_t - M_t: how close the detector is to firing (0 after a restart). */
double drift_stat(const drift *d);

/* ---- ADWIN (Bifet & Gavalda 2007, ADWIN2 with an exponential histogram) -------------------
 * An adaptive window over the stream kept as buckets of 2^r samples (at most ADWIN_M per size),
 * each with its sum and variance. Every `clock` samples, every cut of the window into an older
 * part W0 (n0, mean u0) and a newer W1 (n1, u1), both longer than min_len, is tested:
 *   dd = ln(2 ln(n) / delta), v = variance / n, m = 1/(n0 - min_len + 1) + 1/(n1 - min_len + 1)
 *   change when |u0 - u1| > sqrt(2 m v dd) + 2/3 dd m
 * and the oldest bucket is dropped until no cut says so (the window shrinks to the part after
 * the change). Memory is O(ADWIN_M log n) and fixed: a plain struct, no allocation, saved with
 * the engine by copying it. */
/* Which detector the engine runs on its loss (engine.drift). */
enum drift_method { DRIFT_PAGE_HINKLEY = 0, DRIFT_ADWIN };
const char *drift_method_name(enum drift_method m);          /* "page_hinkley" "adwin" */
int drift_method_parse(const char *s, enum drift_method *out); /* K_OK / K_ERR */

#define ADWIN_M 5
#define ADWIN_ROWS 40
typedef struct adwin_row {
    uint32_t cnt;                 /* buckets in this row, index 0 = oldest */
    double sum[ADWIN_M + 1], var[ADWIN_M + 1];
} adwin_row;
typedef struct adwin {
    double delta;      /* confidence (0.002) */
    uint32_t clock;    /* test every this many samples (32) */
    uint32_t min_len;  /* samples each side of a cut (5) */
    uint32_t nrows;
    uint64_t width;    /* samples in the window */
    double total, variance; /* sum and n * variance of the window */
    uint64_t t, detections;
    double last_old_mean, last_new_mean; /* the means either side of the last change */
    adwin_row rows[ADWIN_ROWS];
} adwin;

void adwin_init(adwin *a, double delta, uint32_t clock, uint32_t min_len);
void adwin_init_default(adwin *a); /* delta 0.002, clock 32, min_len 5 */
/* One value; true when a change was detected (the window was cut). Non-finite values ignored. */
bool adwin_add(adwin *a, double x);
double adwin_mean(const adwin *a); /* NaN when empty */

#endif
