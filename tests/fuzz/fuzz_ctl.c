/* libFuzzer target for the control socket: any bytes as one request line go through the pure
 * request parser (ctl_parse_request) and, when it accepts, through the real command handler
 * (app_ctl_handler: the command table) of an app whose market holds the first lines of the
 * bundled real replay. Invariants: no crash, no leak, and exactly one of {a response object, an
 * error message}; no deferred reply without a loop to answer it. */
#include "kestrel/app.h"
#include "kestrel/ctl.h"
#include "kestrel/replay.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static app *fuzz_app(void)
{
    static app a;
    static bool ready;
    if (ready)
        return &a;
    ready = true;
    config_defaults(&a.cfg);
    snprintf(a.indicators, sizeof a.indicators, "%s", "sma_5,rsi_7");
    if (app_model_open(&a) != K_OK)
        abort();
    const char *specs[] = {"data/replay/btcusdt_20240808.gz", "data/replay/ethusdt_20240808.gz"};
    char err[256];
    replay *r = NULL;
    if (replay_open(&r, specs, 2, err, sizeof err) == K_OK) {
        app_feed_replay(&a, r, 20000); /* the app's own data path */
        replay_close(r);
    }
    return &a;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    app *a = fuzz_app();
    if (size > 1 << 16)
        return 0;
    const char *argv[1 + CTL_MAX_ARGS];
    int argc = 0;
    const char *why = NULL;
    cJSON *root = NULL;
    if (ctl_parse_request((const char *)data, size, &root, &argc, argv, &why) == K_OK) {
        if (argc < 1 || !argv[0])
            abort();
        ctl_req rq = {.argc = argc, .argv = argv, .token = 1};
        enum ctl_answer ans = app_ctl_handler(a, &rq);
        if (ans == CTL_ANSWER_WAIT)
            abort(); /* ping answers at once without a loop; nothing else defers yet */
        if (ans == CTL_ANSWER_ERROR && (!rq.err[0] || rq.out))
            abort(); /* a refusal must say why, and carry no response */
        if (ans == CTL_ANSWER_OK && !rq.out)
            abort();
        char *txt = rq.out ? cJSON_PrintUnformatted(rq.out) : NULL;
        free(txt);
        cJSON_Delete(rq.out);
    } else if (!why) {
        abort();
    }
    cJSON_Delete(root);
    return 0;
}
