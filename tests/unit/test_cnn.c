/* 1-D CNN: gradient check on every tensor, learning and confidence calibration on the synthetic
 * sequence problem, save/load, determinism (tests/unit/nn_check.h). */
#include "kestrel/cnn.h"
#include "nn_check.h"

int main(void)
{
    nn_config small, cfg;
    nn_config_default(&small);
    small.window = 11; /* odd T1: the last conv row is not pooled and must get no gradient */
    small.hidden = 4;
    nn_config_default(&cfg);
    cfg.window = 16;
    cfg.hidden = 16;
    nnc_battery(cnn_new, "cnn", &small, &cfg, 0.9, 0.1, 5e-4f);
    nn_config bad = cfg;
    bad.window = 7;
    CHECK(cnn_new("x", 4, &bad) == NULL);
    CHECK(cnn_new("x", 0, &cfg) == NULL);
    CHECK_DONE();
}
