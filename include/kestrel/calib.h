/* Confidence calibration fitted on recent scored signals: pairs (raw score = the ensemble's
 * probability of the action it chose, correct = the action was right). Isotonic regression by
 * pool-adjacent-violators (default) or Platt scaling; a Venn-Abers style interval [p0, p1]
 * (isotonic refits with the test score added as a miss and as a hit); below min_n pairs the
 * calibrator says it is not calibrated and map() returns the raw score (the screen shows
 * "need min_n for calibration"). The window is a ring of the last `window` pairs. */
#ifndef KESTREL_CALIB_H
#define KESTREL_CALIB_H
#include "kestrel/model.h"

enum calib_method { CALIB_ISOTONIC = 0, CALIB_PLATT };
const char *calib_method_name(enum calib_method m); /* "isotonic" "platt" */

typedef struct calib calib;

/* window: pairs kept (500); min_n: pairs before the map is used (100). */
calib *calib_new(enum calib_method method, uint32_t window, uint32_t min_n);
void calib_free(calib *c);
/* One scored pair; the refit (O(window log window)) happens lazily on the next map.
 * Non-finite scores are ignored. */
void calib_add(calib *c, double score, bool correct);
/* Calibrated probability; *calibrated (may be NULL) says whether the map was used. */
double calib_map(calib *c, double score, bool *calibrated);
/* Venn-Abers interval for score (p0 <= p1 when the data are consistent); [0, 1] below min_n. */
void calib_interval(calib *c, double score, double *p0, double *p1);
uint32_t calib_n(const calib *c);
uint32_t calib_min_n(const calib *c);
enum calib_method calib_get_method(const calib *c);
/* After drift: forget all but the newest `keep` pairs and refit. */
void calib_keep_recent(calib *c, uint32_t keep);
/* Platt parameters (p = 1 / (1 + exp(a*s + b))), for tests and the screen. */
void calib_platt_params(calib *c, double *a, double *b);

void calib_save(const calib *c, model_blob *out);
K_MUST_USE enum model_result calib_load(calib *c, const uint8_t *data, size_t len);

/* Isotonic regression (non-decreasing) of y on sorted x with weights w by PAV: writes the fitted
 * value per input point into fit[n]. Pure, exposed for tests. */
void calib_pav(const double *y, const double *w, size_t n, double *fit);

#endif
