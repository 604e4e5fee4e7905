/* cJSON wired to the project's allocator: json_init() installs xmalloc / free through
 * cJSON_InitHooks, so every cJSON allocation (the status document, control replies, the client's
 * parse) either succeeds or aborts loudly with the terminal restored, like every other allocation;
 * no cJSON result needs a NULL check for memory. Call once at start, before any thread. */
#ifndef KESTREL_JSON_H
#define KESTREL_JSON_H

void json_init(void);

#endif
