/* libFuzzer target: binance_decode against the cJSON reference decoder (tests/unit/binance_ref.h).
 * Properties: (1) if cJSON rejects the bytes as invalid JSON, binance_decode produces no event
 * (K_ERR or FEED_NONE): the fast scanner is never laxer than a real JSON parser; (2) when both
 * accept, every field of the two events agrees; (3) see below.
 * Seeds: tests/fuzz/seeds/binance_diff/ (a link to the binance seeds). */
#include "binance_ref.h"

#include <stdlib.h>

#define CAP 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static feed_level la[CAP], lb[CAP];
    feed_event a, b;
    const char *wa, *wb;
    int parsed;
    int ra = binance_decode((const char *)data, size, &a, la, CAP, &wa);
    int rb = ref_decode((const char *)data, size, &b, lb, CAP, &wb, &parsed);
    if (ra == K_OK && a.kind != FEED_NONE && !parsed) {
        fprintf(stderr, "binance_decode accepted what cJSON rejects (kind %d)\n", a.kind);
        abort();
    }
    /* (3) we accept, the reference refuses a valid JSON document: only allowed where the reference
     * is the weaker one, i.e. an integer beyond 2^53 (at least 16 digits), which a double cannot
     * hold exactly */
    if (ra == K_OK && rb == K_ERR && parsed) {
        size_t run = 0, longest = 0;
        for (size_t i = 0; i < size; i++) {
            run = data[i] >= '0' && data[i] <= '9' ? run + 1 : 0;
            longest = run > longest ? run : longest;
        }
        if (longest < 16) {
            fprintf(stderr, "binance_decode accepted what the reference refuses (%s)\n", wb);
            abort();
        }
    }
    if (ra == K_OK && rb == K_OK) {
        const char *field = ref_compare(&a, &b);
        if (field) {
            fprintf(stderr, "decoders disagree on %s\n", field);
            abort();
        }
    }
    return 0;
}
