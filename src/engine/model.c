/* The shared helpers behind model.h: result names and the growable byte buffer every model
 * serialises into. The engine and the models issue's deep/tree models both rely on these, so they
 * stay tiny and stable; the vtable itself is in the header. */
#include "kestrel/model.h"

#include <stdlib.h>
#include <string.h>

#include "kestrel/xmalloc.h"

const char *model_trigger_name(enum model_trigger t)
{
    switch (t) {
    case MODEL_TRIGGER_NONE: return "none";
    case MODEL_TRIGGER_FIRST: return "first";
    case MODEL_TRIGGER_COUNT: return "count";
    case MODEL_TRIGGER_TIMER: return "timer";
    case MODEL_TRIGGER_DEGRADED: return "degraded";
    case MODEL_TRIGGER_MANUAL: return "manual";
    }
    return "?";
}

const char *model_strerror(enum model_result r)
{
    switch (r) {
    case K_MODEL_OK: return "ok";
    case K_MODEL_NOT_READY: return "model not ready (too few samples)";
    case K_MODEL_BAD_INPUT: return "bad model input (feature count, NaN or window)";
    case K_MODEL_BAD_STATE: return "bad model state (version, shape or corrupt blob)";
    case K_MODEL_REFUSED: return "refused (label offered before its horizon)";
    case K_MODEL_NOMEM: return "out of memory";
    }
    return "unknown model result";
}

void model_blob_put(model_blob *b, const void *data, size_t len)
{
    if (len == 0)
        return;
    if (b->len + len > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + len)
            cap *= 2;
        b->data = xrealloc(b->data, cap);
        b->cap = cap;
    }
    memcpy(b->data + b->len, data, len);
    b->len += len;
}

void model_blob_free(model_blob *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

enum model_result model_blob_get(const uint8_t *data, size_t len, size_t *off, void *out,
                                 size_t n)
{
    if (*off > len || len - *off < n)
        return K_MODEL_BAD_STATE;
    memcpy(out, data + *off, n);
    *off += n;
    return K_MODEL_OK;
}

uint64_t model_rng_next(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

double model_rng_uniform(uint64_t *state)
{
    return (double)(model_rng_next(state) >> 11) * (1.0 / 9007199254740992.0);
}

/* The exponent bits tested without a branch per input, so the loops vectorise (this ran twice
 * per signal, on 100 features, in each of logreg and the MLP). */
enum model_result model_input_check(const model *m, const model_input *in)
{
    if (!in || !in->x || in->nfeat != m->nfeat)
        return K_MODEL_BAD_INPUT;
    uint32_t bad = 0, n = in->nfeat;
    const float *x = in->x;
    if (in->missing) {
        for (uint32_t j = 0; j < n; j++) {
            uint32_t b;
            memcpy(&b, &x[j], sizeof b);
            bad |= (uint32_t)((b & 0x7f800000u) == 0x7f800000u) & (uint32_t)(in->missing[j] == 0);
        }
    } else {
        for (uint32_t j = 0; j < n; j++) {
            uint32_t b;
            memcpy(&b, &x[j], sizeof b);
            bad |= (uint32_t)((b & 0x7f800000u) == 0x7f800000u);
        }
    }
    return bad == 0 ? K_MODEL_OK : K_MODEL_BAD_INPUT;
}
