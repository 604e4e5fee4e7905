/* Allocation wrappers that abort with a message on out-of-memory: callers never check for NULL. */
#ifndef KESTREL_XMALLOC_H
#define KESTREL_XMALLOC_H
#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

/* Runs fn(ud) once when an allocation fails, before the message and abort(): the terminal UI's
 * emergency restore (endwin), so an out-of-memory abort does not leave the shell without echo
 * and in the alternate screen. NULL clears it. The hook is the project's one documented mutable
 * global (see docs/ARCHITECTURE.md): an allocation failure has no context to reach the app
 * through. Set it from the main thread before other threads start. */
void xmalloc_set_fail_hook(void (*fn)(void *ud), void *ud);

#endif
