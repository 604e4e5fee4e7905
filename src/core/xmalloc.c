/* Allocation wrappers: out-of-memory is not a recoverable condition for a trading process that
 * must not run half-initialised, so every allocation either succeeds or aborts loudly here.
 * Before it aborts, the fail hook (the UI's terminal restore) runs once: the one mutable global
 * of the project, since an allocation failure has no other way to reach the app. */
#include "kestrel/xmalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct {
    void (*fn)(void *ud);
    void *ud;
} xmalloc_hook; /* the documented exception to "no mutable globals" */

void xmalloc_set_fail_hook(void (*fn)(void *ud), void *ud)
{
    xmalloc_hook.ud = ud;
    xmalloc_hook.fn = fn;
}

static void xmalloc_die(size_t n)
{
    /* taken before it runs: a hook that fails to allocate does not come back here */
    void (*fn)(void *) = __atomic_exchange_n(&xmalloc_hook.fn, NULL, __ATOMIC_ACQ_REL);
    if (fn)
        fn(xmalloc_hook.ud);
    fprintf(stderr, "kestrel: out of memory allocating %zu bytes\n", n);
    abort();
}

void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        xmalloc_die(n);
    return p;
}

void *xcalloc(size_t count, size_t size)
{
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p)
        xmalloc_die(count * size);
    return p;
}

void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        xmalloc_die(n);
    return q;
}

char *xstrdup(const char *s)
{
    return xstrndup(s, strlen(s));
}

char *xstrndup(const char *s, size_t n)
{
    char *p = xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}
