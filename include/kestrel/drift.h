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

#endif
