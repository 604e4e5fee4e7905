/* The shared helpers behind model.h: result names and the growable byte buffer every model
 * serialises into. The engine and the models issue's deep/tree models both rely on these, so they
 * stay tiny and stable; the vtable itself is in the header. */
#include "kestrel/model.h"

#include <stdlib.h>
#include <string.h>

#include "kestrel/xmalloc.h"

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
