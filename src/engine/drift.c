/* Page-Hinkley drift detector on a loss stream (see drift.h). Owns nothing but its struct. */
#include "kestrel/drift.h"

#include <math.h>

void drift_init(drift *d, double delta, double lambda, uint32_t min_n)
{
    *d = (drift){ .delta = delta, .lambda = lambda, .min_n = min_n };
}

void drift_init_default(drift *d)
{
    drift_init(d, 0.05, 20.0, 30);
}

static void drift_restart(drift *d)
{
    d->n = 0;
    d->mean = d->cum = d->min_cum = 0;
}

bool drift_add(drift *d, double x)
{
    if (!isfinite(x))
        return false;
    d->n++;
    d->total++;
    d->mean += (x - d->mean) / (double)d->n;
    d->cum += x - d->mean - d->delta;
    if (d->cum < d->min_cum)
        d->min_cum = d->cum;
    if (d->n >= d->min_n && d->cum - d->min_cum > d->lambda) {
        d->detections++;
        d->last_detection_at = d->total;
        drift_restart(d);
        return true;
    }
    return false;
}

double drift_stat(const drift *d)
{
    return d->cum - d->min_cum;
}
