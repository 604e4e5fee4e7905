/* xmalloc's out-of-memory path: the fail hook (the UI's terminal restore) runs once, before the
 * message and the abort, in a forked child that really fails an allocation (an impossible size:
 * glibc's malloc returns NULL). Under a sanitizer the allocator aborts on its own first: the
 * out-of-memory part is skipped there. json_init() routes cJSON through it: under an address
 * space limit, building a cJSON array until memory runs out aborts through the hook instead of
 * returning NULL. */
#include "check.h"

#include "kestrel/json.h"
#include "kestrel/xmalloc.h"

#include <cjson/cJSON.h>
#include <sys/resource.h>

#include <signal.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define XM_REAL_OOM 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define XM_REAL_OOM 0
#endif
#endif
#ifndef XM_REAL_OOM
#define XM_REAL_OOM 1
#endif

#if XM_REAL_OOM
static void xm_hook(void *ud)
{
    int *calls = ud;
    (*calls)++;
    fprintf(stderr, "hook %d\n", *calls);
    /* a failure inside the hook does not run the hook again */
    void *p = xmalloc(SIZE_MAX / 2);
    (void)p;
}
#endif

int main(void)
{
    void *p = xmalloc(0); /* 0 is a valid, freeable size */
    CHECK(p != NULL);
    free(p);
#if XM_REAL_OOM
    int fds[2];
    CHECK_INT(pipe(fds), 0);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 2);
        close(fds[0]);
        static int calls;
        xmalloc_set_fail_hook(xm_hook, &calls);
        void *q = xmalloc(SIZE_MAX / 2);
        (void)q;
        _exit(0); /* not reached */
    }
    close(fds[1]);
    char out[512] = "";
    size_t got = 0;
    ssize_t n;
    while (got < sizeof out - 1 && (n = read(fds[0], out + got, sizeof out - 1 - got)) > 0)
        got += (size_t)n;
    out[got] = '\0';
    close(fds[0]);
    int status = 0;
    CHECK_INT(waitpid(pid, &status, 0), pid);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
    const char *hook = strstr(out, "hook 1\n"), *msg = strstr(out, "out of memory allocating");
    CHECK(hook != NULL && msg != NULL && hook < msg); /* restore first, then the message */
    CHECK(strstr(out, "hook 2") == NULL);             /* once */
    printf("child said: %s", out);

    /* cleared: a NULL hook is simply not run */
    xmalloc_set_fail_hook(NULL, NULL);
    pid = fork();
    if (pid == 0) {
        void *q = xmalloc(SIZE_MAX / 2);
        (void)q;
        _exit(0);
    }
    CHECK_INT(waitpid(pid, &status, 0), pid);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);

    /* cJSON through json_init(): its allocations are xmalloc's */
    int cfd[2];
    CHECK_INT(pipe(cfd), 0);
    pid = fork();
    if (pid == 0) {
        dup2(cfd[1], 2);
        close(cfd[0]);
        static int calls;
        json_init();
        xmalloc_set_fail_hook(xm_hook, &calls);
        struct rlimit rl = {.rlim_cur = 256u << 20, .rlim_max = 256u << 20};
        setrlimit(RLIMIT_AS, &rl);
        cJSON *arr = cJSON_CreateArray();
        for (;;) {
            cJSON *num = cJSON_CreateNumber(1);
            if (!num)
                _exit(3); /* cJSON's own malloc: a NULL the caller must check */
            cJSON_AddItemToArray(arr, num);
        }
    }
    close(cfd[1]);
    got = 0;
    while (got < sizeof out - 1 && (n = read(cfd[0], out + got, sizeof out - 1 - got)) > 0)
        got += (size_t)n;
    out[got] = '\0';
    close(cfd[0]);
    CHECK_INT(waitpid(pid, &status, 0), pid);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
    CHECK(strstr(out, "hook 1") != NULL && strstr(out, "out of memory") != NULL);
#else
    printf("xmalloc: the out-of-memory path is skipped under a sanitizer\n");
#endif
    CHECK_DONE();
}
