/* Allocation wrappers that abort with a message on out-of-memory: callers never check for NULL. */
#ifndef KESTREL_XMALLOC_H
#define KESTREL_XMALLOC_H
#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

#endif
