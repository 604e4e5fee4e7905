/* The model interface's shared helpers: result strings and the growable byte buffer models
 * serialise into. (The engine branch owns the same functions in src/engine/model.c; this file is
 * the models branch's copy until that lands, and the duplicate goes at merge.) */
#include "kestrel/model.h"

#include "kestrel/xmalloc.h"

#include <stdlib.h>
#include <string.h>

const char *model_strerror(enum model_result r)
{
    switch (r) {
    case K_MODEL_OK: return "ok";
    case K_MODEL_NOT_READY: return "model not ready (too few samples, or busy)";
    case K_MODEL_BAD_INPUT: return "bad model input";
    case K_MODEL_BAD_STATE: return "saved model state of another version or shape, or corrupt";
    case K_MODEL_REFUSED: return "refused";
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
