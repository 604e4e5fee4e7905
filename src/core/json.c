/* cJSON's allocator hooks: xmalloc and free (see include/kestrel/json.h). cJSON keeps the hooks
 * in its own library state; this module owns nothing else. */
#include "kestrel/json.h"

#include "kestrel/xmalloc.h"

#include <cjson/cJSON.h>
#include <stdlib.h>

void json_init(void)
{
    cJSON_Hooks hooks = {.malloc_fn = xmalloc, .free_fn = free};
    cJSON_InitHooks(&hooks);
}
