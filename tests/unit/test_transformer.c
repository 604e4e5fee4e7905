/* Transformer encoder: gradient check on every tensor (2 layers, 2 and 4 heads), learning and
 * confidence calibration on the synthetic sequence problem, save/load, determinism
 * (tests/unit/nn_check.h). */
#include "kestrel/transformer.h"
#include "nn_check.h"

int main(void)
{
    nn_config small, cfg;
    nn_config_default(&small);
    small.window = 5;
    small.hidden = 8;
    small.heads = 4;
    small.layers = 2;
    nn_config_default(&cfg);
    cfg.window = 16;
    cfg.hidden = 16;
    cfg.heads = 4;
    nnc_battery(transformer_new, "transformer", &small, &cfg, 0.9, 0.1, 5e-4f);
    small.heads = 2;
    small.layers = 1;
    CHECK(nnc_gradcheck(transformer_new, &small, 3, 11, 5e-4f) < 1e-2);
    nn_config bad = cfg;
    bad.hidden = 18; /* not a multiple of 4 heads */
    CHECK(transformer_new("x", 4, &bad) == NULL);
    bad = cfg;
    bad.layers = 3;
    CHECK(transformer_new("x", 4, &bad) == NULL);
    CHECK_DONE();
}
