/* Control socket: a real server on a real loop, real client sockets in this process (the loop is
 * pumped while they wait) and the real `kestrel ctl` client in forked children. Covers valid
 * requests, every malformed class, line caps, the 0600 mode, stale/live/foreign socket files,
 * the private directory, peer credentials (a child as another uid when run as root), the client
 * cap with idle eviction, the idle timeout, deferred replies, a slow reader, binary garbage, the
 * client's exit statuses, ctl_strerror, and the shared speed validator. */
#include "check.h"
#include "kestrel/app.h"
#include "kestrel/cmd.h"
#include "kestrel/watchlist.h"
#include "kestrel/keys.h"
#include "kestrel/config.h"
#include "kestrel/ctl.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define BIG_RESPONSE (256 * 1024)

typedef struct env {
    loop *l;
    ctl_server *s;
    char dir[64];
    char path[128];
    int calls;
    int last_argc;
    char last_argv[1 + CTL_MAX_ARGS][256];
    struct pending *pend; /* CTL_MAX_CLIENTS deferred requests */
    int replies, cancels;
    bool no_cancel_hook;
    ctl_result last_reply;
} env;

static void defer_cancel(void *ud, uint64_t token);

/* A deferred request of the test handler: answered by a loop timer, or cancelled. */
typedef struct pending {
    env *e;
    uint64_t token, timer;
    bool used;
} pending;

static void defer_fire(loop *l, uint64_t id, void *ud);

/* The test's command handler. */
static enum ctl_answer handler(void *ud, ctl_req *rq)
{
    env *e = ud;
    int argc = rq->argc;
    const char *const *argv = rq->argv;
    e->calls++;
    e->last_argc = argc;
    for (int i = 0; i < argc && i <= CTL_MAX_ARGS; i++)
        snprintf(e->last_argv[i], sizeof e->last_argv[i], "%s", argv[i]);
    if (strcmp(argv[0], "echo") == 0) {
        cJSON *o = cJSON_CreateObject();
        cJSON *a = cJSON_AddArrayToObject(o, "argv");
        for (int i = 0; i < argc; i++)
            cJSON_AddItemToArray(a, cJSON_CreateString(argv[i]));
        rq->out = o;
        return CTL_ANSWER_OK;
    }
    if (strcmp(argv[0], "big") == 0) {
        char *blob = malloc(BIG_RESPONSE + 1);
        memset(blob, 'x', BIG_RESPONSE);
        blob[BIG_RESPONSE] = 0;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "blob", blob);
        free(blob);
        rq->out = o;
        return CTL_ANSWER_OK;
    }
    if (strcmp(argv[0], "defer") == 0) { /* defer MS: answered by a timer after MS ms */
        pending *p = NULL;
        for (int i = 0; i < CTL_MAX_CLIENTS && !p; i++)
            if (!e->pend[i].used)
                p = &e->pend[i];
        if (!p) {
            snprintf(rq->err, sizeof rq->err, "no room");
            return CTL_ANSWER_ERROR;
        }
        p->used = true;
        p->e = e;
        p->token = rq->token;
        p->timer = loop_timer_add(e->l, argc > 1 ? atoi(argv[1]) : 0, defer_fire, p);
        rq->cancel = e->no_cancel_hook ? NULL : defer_cancel;
        rq->cancel_ud = p;
        return CTL_ANSWER_WAIT;
    }
    if (strcmp(argv[0], "fail") == 0) {
        snprintf(rq->err, sizeof rq->err, "it failed");
        return CTL_ANSWER_ERROR;
    }
    if (strcmp(argv[0], "silent-fail") == 0)
        return CTL_ANSWER_ERROR;
    if (strcmp(argv[0], "oom") == 0) /* OK without a response object: "out of memory" */
        return CTL_ANSWER_OK;
    if (strcmp(argv[0], "multiline") == 0) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "text", "line one\nline two\r\n\t\"quoted\"");
        rq->out = o;
        return CTL_ANSWER_OK;
    }
    snprintf(rq->err, sizeof rq->err, "unknown command: %s", argv[0]);
    return CTL_ANSWER_ERROR;
}

static void defer_fire(loop *l, uint64_t id, void *ud)
{
    (void)l;
    (void)id;
    pending *p = ud;
    p->used = false;
    env *e = p->e;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "deferred", "done");
    e->last_reply = ctl_reply_send(e->s, p->token, o);
    e->replies++;
}

static void defer_cancel(void *ud, uint64_t token)
{
    pending *p = ud;
    CHECK(token == p->token);
    loop_timer_cancel(p->e->l, p->timer);
    p->used = false;
    p->e->cancels++;
}

static ctl_result srv_open(ctl_server **s, loop *l, const char *path, int idle_ms, env *e,
                           char *err, size_t errlen)
{
    ctl_opts o = {.path = path, .idle_timeout_ms = idle_ms};
    return ctl_server_open(s, l, &o, handler, e, err, errlen);
}

/* ---- a test client: a non-blocking socket; the loop is pumped while it waits ---- */

typedef struct tcl {
    int fd;
    char *buf;
    size_t n, cap;
    bool eof;
} tcl;

static void sun_set(struct sockaddr_un *sa, const char *p)
{
    size_t n = strlen(p);
    if (n >= sizeof sa->sun_path)
        n = sizeof sa->sun_path - 1;
    memcpy(sa->sun_path, p, n);
    sa->sun_path[n] = 0;
}

static void pump(env *e) { loop_once(e->l, 5); }

static bool tcl_connect(tcl *c, const char *path)
{
    memset(c, 0, sizeof *c);
    c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    sun_set(&sa, path);
    c->cap = 1 << 20;
    c->buf = malloc(c->cap);
    return c->fd >= 0 && connect(c->fd, (struct sockaddr *)&sa, sizeof sa) == 0;
}

static void tcl_close(tcl *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    free(c->buf);
    c->buf = NULL;
}

/* Sends everything (pumping the loop when the socket is full). false if the peer is gone. */
static bool tcl_send(env *e, tcl *c, const void *data, size_t len)
{
    const char *p = data;
    int64_t end = loop_mono_ms() + 5000;
    while (len > 0 && loop_mono_ms() < end) {
        ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL);
        if (n > 0) {
            p += n;
            len -= (size_t)n;
        } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            pump(e);
        } else {
            return false;
        }
    }
    return len == 0;
}

static bool tcl_sends(env *e, tcl *c, const char *str) { return tcl_send(e, c, str, strlen(str)); }

/* Reads what is there without blocking (drops what does not fit in the buffer). */
static void tcl_poll(tcl *c)
{
    for (;;) {
        if (c->n == c->cap)
            c->n = 0; /* overflow: only the slow-reader test gets here and it counts bytes */
        ssize_t n = recv(c->fd, c->buf + c->n, c->cap - c->n, 0);
        if (n > 0) {
            c->n += (size_t)n;
            continue;
        }
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
            c->eof = true; /* EOF or ECONNRESET */
        return;
    }
}

/* Waits for one response line; copies it (without the newline) into out. Length or -1. */
static long tcl_line(env *e, tcl *c, char *out, size_t outcap)
{
    int64_t end = loop_mono_ms() + 5000;
    for (;;) {
        tcl_poll(c);
        char *nl = memchr(c->buf, '\n', c->n);
        if (nl) {
            size_t len = (size_t)(nl - c->buf);
            size_t k = len < outcap - 1 ? len : outcap - 1;
            memcpy(out, c->buf, k);
            out[k] = 0;
            memmove(c->buf, nl + 1, c->n - len - 1);
            c->n -= len + 1;
            return (long)len;
        }
        if (c->eof || loop_mono_ms() > end) {
            out[0] = 0;
            return -1;
        }
        pump(e);
    }
}

/* Waits until the server has closed the connection (after any pending lines). */
static bool tcl_wait_closed(env *e, tcl *c)
{
    int64_t end = loop_mono_ms() + 5000;
    while (!c->eof && loop_mono_ms() < end) {
        tcl_poll(c);
        if (!c->eof)
            pump(e);
    }
    return c->eof;
}

/* One request line (newline added) -> one response line. */
static long rt(env *e, const char *req, char *out, size_t outcap)
{
    tcl c;
    long n = -1;
    if (tcl_connect(&c, e->path)) {
        tcl_send(e, &c, req, strlen(req));
        tcl_send(e, &c, "\n", 1);
        n = tcl_line(e, &c, out, outcap);
    }
    tcl_close(&c);
    return n;
}

/* The "error" string of a response line, or NULL if it has none (or is not an object). */
static bool resp_error_is(const char *line, const char *want_substr)
{
    cJSON *r = cJSON_Parse(line);
    const cJSON *er = cJSON_GetObjectItemCaseSensitive(r, "error");
    bool ok = cJSON_IsObject(r) && cJSON_IsString(er) &&
              (!want_substr || strstr(er->valuestring, want_substr));
    if (!ok)
        fprintf(stderr, "  response %s does not carry error ~ \"%s\"\n", line,
                want_substr ? want_substr : "");
    cJSON_Delete(r);
    return ok;
}

static bool resp_is_object(const char *line)
{
    cJSON *r = cJSON_Parse(line);
    bool ok = cJSON_IsObject(r);
    cJSON_Delete(r);
    return ok;
}

static void env_open(env *e)
{
    memset(e, 0, sizeof *e);
    snprintf(e->dir, sizeof e->dir, "/tmp/kestrel-ctl-XXXXXX");
    CHECK(mkdtemp(e->dir) != NULL);
    snprintf(e->path, sizeof e->path, "%s/kestrel.sock", e->dir);
    e->l = loop_new();
    char err[256] = "";
    e->pend = calloc(CTL_MAX_CLIENTS, sizeof *e->pend);
    mode_t old = umask(0); /* the server must not rely on the caller's umask */
    ctl_result rc = srv_open(&e->s, e->l, e->path, 0, e, err, sizeof err);
    umask(old);
    CHECK(rc == CTL_OK);
    if (rc != K_OK)
        fprintf(stderr, "ctl_server_open: %s\n", err);
}

static void env_close(env *e)
{
    ctl_server_close(e->s);
    loop_free(e->l);
    rmdir(e->dir);
    free(e->pend);
}

/* ---- tests ---- */

static void test_valid_requests(env *e)
{
    char out[8192];
    CHECK(rt(e, "{\"cmd\":\"echo\",\"args\":[\"BTCUSDT\",\"10\"]}", out, sizeof out) > 0);
    CHECK_STR(out, "{\"argv\":[\"echo\",\"BTCUSDT\",\"10\"]}");
    CHECK_INT(e->last_argc, 3);
    CHECK_STR(e->last_argv[0], "echo");
    CHECK_STR(e->last_argv[1], "BTCUSDT");
    CHECK_STR(e->last_argv[2], "10");

    /* args optional / empty; unknown keys ignored; whitespace around the object */
    CHECK(rt(e, "{\"cmd\":\"echo\"}", out, sizeof out) > 0);
    CHECK_STR(out, "{\"argv\":[\"echo\"]}");
    CHECK_INT(e->last_argc, 1);
    CHECK(rt(e, "  {\"args\":[],\"id\":7,\"cmd\":\"echo\"}  \t", out, sizeof out) > 0);
    CHECK_STR(out, "{\"argv\":[\"echo\"]}");
    /* exactly 16 args */
    CHECK(rt(e,
             "{\"cmd\":\"echo\",\"args\":[\"1\",\"2\",\"3\",\"4\",\"5\",\"6\",\"7\",\"8\",\"9\","
             "\"10\",\"11\",\"12\",\"13\",\"14\",\"15\",\"16\"]}",
             out, sizeof out) > 0);
    CHECK_INT(e->last_argc, 17);
    CHECK_STR(e->last_argv[16], "16");
    /* escapes in, escapes out: the response stays one line */
    CHECK(rt(e, "{\"cmd\":\"echo\",\"args\":[\"a\\nb\",\"q\\\"\",\"\\u00fc\"]}", out, sizeof out) >
          0);
    CHECK_STR(e->last_argv[1], "a\nb");
    CHECK_STR(e->last_argv[2], "q\"");
    CHECK_STR(e->last_argv[3], "\xc3\xbc");
    CHECK(resp_is_object(out));
    CHECK(rt(e, "{\"cmd\":\"multiline\"}", out, sizeof out) > 0);
    CHECK(strchr(out, '\n') == NULL);
    CHECK(resp_is_object(out));

    /* handler failures */
    CHECK(rt(e, "{\"cmd\":\"fail\"}", out, sizeof out) > 0);
    CHECK_STR(out, "{\"error\":\"it failed\"}");
    CHECK(rt(e, "{\"cmd\":\"silent-fail\"}", out, sizeof out) > 0);
    CHECK_STR(out, "{\"error\":\"command failed\"}");
    CHECK(rt(e, "{\"cmd\":\"nosuch\",\"args\":[\"x\"]}", out, sizeof out) > 0);
    CHECK_STR(out, "{\"error\":\"unknown command: nosuch\"}");

    /* pipelined in one write, CRLF endings, answered in order on one connection */
    tcl c;
    CHECK(tcl_connect(&c, e->path));
    const char *three = "{\"cmd\":\"echo\",\"args\":[\"1\"]}\n{\"cmd\":\"echo\",\"args\":[\"2\"]}"
                        "\r\n{\"cmd\":\"echo\",\"args\":[\"3\"]}\n";
    CHECK(tcl_send(e, &c, three, strlen(three)));
    for (int i = 1; i <= 3; i++) {
        char want[64];
        snprintf(want, sizeof want, "{\"argv\":[\"echo\",\"%d\"]}", i);
        CHECK(tcl_line(e, &c, out, sizeof out) > 0);
        CHECK_STR(out, want);
    }
    /* a request dribbled one byte at a time */
    const char *req = "{\"cmd\":\"echo\",\"args\":[\"slow\"]}\n";
    for (size_t i = 0; req[i]; i++) {
        CHECK(tcl_send(e, &c, req + i, 1));
        pump(e);
    }
    CHECK(tcl_line(e, &c, out, sizeof out) > 0);
    CHECK_STR(out, "{\"argv\":[\"echo\",\"slow\"]}");
    tcl_close(&c);

    /* the last request without a newline, then the client shuts down its sending side */
    CHECK(tcl_connect(&c, e->path));
    const char *last = "{\"cmd\":\"echo\",\"args\":[\"eof\"]}";
    CHECK(tcl_send(e, &c, last, strlen(last)));
    shutdown(c.fd, SHUT_WR);
    CHECK(tcl_line(e, &c, out, sizeof out) > 0);
    CHECK_STR(out, "{\"argv\":[\"echo\",\"eof\"]}");
    CHECK(tcl_wait_closed(e, &c));
    tcl_close(&c);

    /* a client that goes away before reading its response */
    CHECK(tcl_connect(&c, e->path));
    CHECK(tcl_send(e, &c, "{\"cmd\":\"big\"}\n", 14));
    tcl_close(&c);
    for (int i = 0; i < 20; i++)
        pump(e);
    CHECK_INT(ctl_server_client_count(e->s), 0);
}

static void test_malformed(env *e)
{
    static const struct {
        const char *req;
        const char *err;
    } cases[] = {
        {"", "empty request"},
        {"   ", "empty request"},
        {"{", "invalid JSON"},
        {"not json", "invalid JSON"},
        {"{\"cmd\":\"echo\"} trailing", "invalid JSON"},
        {"{\"cmd\":\"echo\"}{\"cmd\":\"echo\"}", "invalid JSON"},
        {"{\"cmd\":\"echo\",}", "invalid JSON"},
        {"[\"echo\"]", "JSON object"},
        {"\"echo\"", "JSON object"},
        {"42", "JSON object"},
        {"null", "JSON object"},
        {"true", "JSON object"},
        {"{}", "missing \"cmd\""},
        {"{\"args\":[\"a\"]}", "missing \"cmd\""},
        {"{\"CMD\":\"echo\"}", "missing \"cmd\""},
        {"{\"cmd\":42}", "\"cmd\" must be a string"},
        {"{\"cmd\":null}", "\"cmd\" must be a string"},
        {"{\"cmd\":[\"echo\"]}", "\"cmd\" must be a string"},
        {"{\"cmd\":{\"x\":1}}", "\"cmd\" must be a string"},
        {"{\"cmd\":true}", "\"cmd\" must be a string"},
        {"{\"cmd\":\"\"}", "must not be empty"},
        {"{\"cmd\":\"echo\",\"args\":\"a b\"}", "\"args\" must be an array of strings"},
        {"{\"cmd\":\"echo\",\"args\":{\"a\":\"b\"}}", "\"args\" must be an array of strings"},
        {"{\"cmd\":\"echo\",\"args\":null}", "\"args\" must be an array of strings"},
        {"{\"cmd\":\"echo\",\"args\":[1]}", "\"args\" must be an array of strings"},
        {"{\"cmd\":\"echo\",\"args\":[\"a\",null]}", "\"args\" must be an array of strings"},
        {"{\"cmd\":\"echo\",\"args\":[[\"a\"]]}", "\"args\" must be an array of strings"},
        {"{\"cmd\":\"echo\",\"args\":[\"1\",\"2\",\"3\",\"4\",\"5\",\"6\",\"7\",\"8\",\"9\","
         "\"10\",\"11\",\"12\",\"13\",\"14\",\"15\",\"16\",\"17\"]}",
         "too many args"},
        {"{\"cmd\":1e999999}", "\"cmd\" must be a string"},
        {"{\"cmd\":\"nosuch\"}", "unknown command"},
    };
    char out[4096];
    int before = e->calls;
    int handled_expected = 0;
    for (size_t i = 0; i < K_ARRAY_LEN(cases); i++) {
        long n = rt(e, cases[i].req, out, sizeof out);
        CHECK(n > 0);
        bool ok = resp_error_is(out, cases[i].err);
        CHECK(ok);
        if (!ok)
            fprintf(stderr, "  request: %s\n", cases[i].req);
        if (strstr(cases[i].err, "unknown command"))
            handled_expected++;
    }
    /* only well-formed requests reach the handler */
    CHECK_INT(e->calls - before, handled_expected);

    /* a NUL byte inside the line */
    tcl c;
    CHECK(tcl_connect(&c, e->path));
    const char nul[] = "{\"cmd\":\"echo\"}\0junk\n";
    CHECK(tcl_send(e, &c, nul, sizeof nul - 1));
    CHECK(tcl_line(e, &c, out, sizeof out) > 0);
    CHECK(resp_error_is(out, "NUL"));
    /* the connection survives malformed requests */
    CHECK(tcl_send(e, &c, "{\"cmd\":\"echo\"}\n", 15));
    CHECK(tcl_line(e, &c, out, sizeof out) > 0);
    CHECK_STR(out, "{\"argv\":[\"echo\"]}");
    tcl_close(&c);

    /* deep nesting (past cJSON's limit) and invalid UTF-8: answered, no crash */
    size_t depth = 20000;
    char *deep = malloc(depth * 2 + 2);
    memset(deep, '[', depth);
    memset(deep + depth, ']', depth);
    deep[2 * depth] = 0;
    CHECK(rt(e, deep, out, sizeof out) > 0);
    CHECK(resp_error_is(out, NULL));
    free(deep);
    CHECK(rt(e, "{\"cmd\":\"echo\",\"args\":[\"\xff\xfe\xc3\"]}", out, sizeof out) > 0);
    CHECK(strncmp(out, "{\"argv\":", 8) == 0);
    CHECK(rt(e, "{\"cmd\":\"echo\",\"args\":[\"\\ud800\"]}", out, sizeof out) > 0);
    CHECK(rt(e, "{\"cmd\":\"echo\",\"args\":[\"a\\u0000b\"]}", out, sizeof out) > 0);
    CHECK(resp_is_object(out));
}

/* Builds a valid echo request line of exactly len bytes (newline not included). */
static char *request_of_len(size_t len)
{
    const char *head = "{\"cmd\":\"echo\",\"args\":[\"";
    const char *tail = "\"]}";
    char *r = malloc(len + 2);
    size_t hl = strlen(head), tl = strlen(tail);
    memcpy(r, head, hl);
    memset(r + hl, 'p', len - hl - tl);
    memcpy(r + len - tl, tail, tl);
    r[len] = '\n';
    r[len + 1] = 0;
    return r;
}

static void test_line_caps(env *e)
{
    char out[256];
    /* exactly at the cap: accepted */
    char *req = request_of_len(CTL_MAX_LINE);
    tcl c;
    CHECK(tcl_connect(&c, e->path));
    CHECK(tcl_send(e, &c, req, CTL_MAX_LINE + 1));
    long n = tcl_line(e, &c, out, sizeof out);
    CHECK(n > CTL_MAX_LINE - 100);
    CHECK(strncmp(out, "{\"argv\":[\"echo\",\"ppp", 19) == 0);
    CHECK_INT(strlen(e->last_argv[1]), sizeof e->last_argv[1] - 1);
    /* the same client can go on */
    CHECK(tcl_send(e, &c, "{\"cmd\":\"echo\"}\n", 15));
    CHECK(tcl_line(e, &c, out, sizeof out) > 0);
    CHECK_STR(out, "{\"argv\":[\"echo\"]}");
    tcl_close(&c);
    free(req);

    /* one byte over (even though the line would be valid JSON): an error, then closed */
    req = request_of_len(CTL_MAX_LINE + 1);
    int calls = e->calls;
    CHECK(tcl_connect(&c, e->path));
    tcl_send(e, &c, req, CTL_MAX_LINE + 2); /* may be cut short when the server closes */
    CHECK(tcl_line(e, &c, out, sizeof out) > 0);
    CHECK(resp_error_is(out, "too long"));
    CHECK(tcl_wait_closed(e, &c));
    CHECK_INT(e->calls, calls);
    tcl_close(&c);
    free(req);

    /* a megabyte with no newline at all */
    char *junk = malloc(1 << 20);
    memset(junk, 'a', 1 << 20);
    CHECK(tcl_connect(&c, e->path));
    tcl_send(e, &c, junk, 1 << 20);
    CHECK(tcl_line(e, &c, out, sizeof out) > 0);
    CHECK(resp_error_is(out, "too long"));
    CHECK(tcl_wait_closed(e, &c));
    tcl_close(&c);
    free(junk);
    for (int i = 0; i < 10; i++)
        pump(e);
    CHECK_INT(ctl_server_client_count(e->s), 0);
}

static void test_mode(env *e)
{
    struct stat st;
    CHECK(stat(e->path, &st) == 0);
    CHECK(S_ISSOCK(st.st_mode));
    CHECK_INT(st.st_mode & 07777, 0600);
    CHECK_STR(ctl_server_path(e->s), e->path);
}

static void test_too_many_clients(env *e)
{
    /* Every client has half a request in flight, so none is idle and none can be evicted: the
     * ones past the cap are refused. */
    enum { N = 40 };
    tcl c[N];
    for (int i = 0; i < N; i++) {
        CHECK(tcl_connect(&c[i], e->path));
        CHECK(tcl_send(e, &c[i], "{\"cmd\":", 7));
    }
    for (int i = 0; i < 10; i++)
        pump(e);
    CHECK_INT(ctl_server_client_count(e->s), CTL_MAX_CLIENTS);
    int served = 0, refused = 0;
    char out[256];
    for (int i = 0; i < N; i++) {
        tcl_send(e, &c[i], "\"echo\"}\n", 8); /* refused ones may be closed already */
        if (tcl_line(e, &c[i], out, sizeof out) <= 0)
            continue;
        if (strcmp(out, "{\"argv\":[\"echo\"]}") == 0) {
            served++;
        } else if (resp_error_is(out, "too many")) {
            refused++;
            CHECK(tcl_wait_closed(e, &c[i]));
        }
    }
    CHECK_INT(served, CTL_MAX_CLIENTS);
    CHECK_INT(refused, N - CTL_MAX_CLIENTS);
    /* when one leaves, a newcomer gets its place */
    for (int i = 0; i < N; i++)
        if (c[i].eof) {
            tcl_close(&c[i]);
        }
    int closed_one = -1;
    for (int i = 0; i < N && closed_one < 0; i++)
        if (c[i].fd >= 0) {
            tcl_close(&c[i]);
            closed_one = i;
        }
    for (int i = 0; i < 10; i++)
        pump(e);
    CHECK_INT(ctl_server_client_count(e->s), CTL_MAX_CLIENTS - 1);
    CHECK(rt(e, "{\"cmd\":\"echo\"}", out, sizeof out) > 0);
    CHECK_STR(out, "{\"argv\":[\"echo\"]}");
    for (int i = 0; i < N; i++)
        if (c[i].fd >= 0)
            tcl_close(&c[i]);
    for (int i = 0; i < 10; i++)
        pump(e);
    CHECK_INT(ctl_server_client_count(e->s), 0);
}

/* A number from the control section of the status document. */
static double status_num(ctl_server *s, const char *key)
{
    cJSON *doc = cJSON_CreateObject();
    CHECK(ctl_server_status(s, doc));
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(doc, "control"), key);
    double r = cJSON_IsNumber(v) ? v->valuedouble : -1;
    cJSON_Delete(doc);
    return r;
}

/* 32 idle clients hold every slot: a newcomer evicts the one idle the longest (once it has been
 * idle CTL_EVICT_GRACE_MS), so `ctl status` still gets in. */
static void test_idle_eviction(env *e)
{
    enum { N = CTL_MAX_CLIENTS };
    tcl c[N];
    int64_t end0 = loop_mono_ms() + 5000; /* the previous tests' clients are gone */
    while (ctl_server_client_count(e->s) > 0 && loop_mono_ms() < end0)
        pump(e);
    CHECK_INT(ctl_server_client_count(e->s), 0);
    for (int i = 0; i < N; i++)
        CHECK(tcl_connect(&c[i], e->path));
    int64_t end = loop_mono_ms() + 5000;
    while (ctl_server_client_count(e->s) < N && loop_mono_ms() < end)
        pump(e);
    CHECK_INT(ctl_server_client_count(e->s), N);
    double ev0 = status_num(e->s, "evicted");
    /* bounded poll: refused ("too many") until the idle ones pass the grace, then answered */
    char out[256] = "";
    bool answered = false;
    int64_t t0 = loop_mono_ms();
    end = t0 + 10000;
    while (!answered && loop_mono_ms() < end) {
        if (rt(e, "{\"cmd\":\"echo\",\"args\":[\"in\"]}", out, sizeof out) > 0)
            answered = strcmp(out, "{\"argv\":[\"echo\",\"in\"]}") == 0;
        if (!answered)
            for (int i = 0; i < 10; i++)
                pump(e);
    }
    CHECK(answered);
    CHECK(loop_mono_ms() - t0 >= CTL_EVICT_GRACE_MS - 50); /* the grace held */
    CHECK_INT(status_num(e->s, "evicted") - ev0, 1);
    /* exactly one idle client was closed; the others are still served */
    int gone = 0;
    for (int i = 0; i < N; i++) {
        tcl_poll(&c[i]);
        gone += c[i].eof;
    }
    CHECK_INT(gone, 1);
    for (int i = 0; i < N; i++) {
        if (c[i].eof)
            continue;
        CHECK(tcl_send(e, &c[i], "{\"cmd\":\"echo\"}\n", 15));
        CHECK(tcl_line(e, &c[i], out, sizeof out) > 0);
        CHECK_STR(out, "{\"argv\":[\"echo\"]}");
        break;
    }
    for (int i = 0; i < N; i++)
        tcl_close(&c[i]);
    end = loop_mono_ms() + 5000;
    while (ctl_server_client_count(e->s) > 0 && loop_mono_ms() < end)
        pump(e);
    CHECK_INT(ctl_server_client_count(e->s), 0);
}

/* control.idle_timeout: an idle client is closed; one waiting for a deferred reply is not. A
 * deferred request nobody answers within the wait timeout is cancelled and answered. */
static void test_idle_timeout(void)
{
    env e;
    memset(&e, 0, sizeof e);
    snprintf(e.dir, sizeof e.dir, "/tmp/kestrel-ctli-XXXXXX");
    CHECK(mkdtemp(e.dir) != NULL);
    snprintf(e.path, sizeof e.path, "%s/k.sock", e.dir);
    e.l = loop_new();
    e.pend = calloc(CTL_MAX_CLIENTS, sizeof *e.pend);
    char err[256];
    ctl_opts o = {.path = e.path, .idle_timeout_ms = 150, .wait_timeout_ms = 400};
    CHECK(ctl_server_open(&e.s, e.l, &o, handler, &e, err, sizeof err) == CTL_OK);
    CHECK_INT(status_num(e.s, "idle_timeout_ms"), 150);
    tcl idle, busy, hung;
    CHECK(tcl_connect(&idle, e.path));
    CHECK(tcl_connect(&busy, e.path));
    CHECK(tcl_connect(&hung, e.path));
    CHECK(tcl_sends(&e, &busy, "{\"cmd\":\"defer\",\"args\":[\"250\"]}\n"));
    CHECK(tcl_sends(&e, &hung, "{\"cmd\":\"defer\",\"args\":[\"100000\"]}\n"));
    int64_t t0 = loop_mono_ms(), end = t0 + 5000;
    while (!idle.eof && loop_mono_ms() < end) {
        tcl_poll(&idle);
        pump(&e);
    }
    CHECK(idle.eof);
    CHECK(loop_mono_ms() - t0 >= 140);
    CHECK_INT(status_num(e.s, "idle_closed"), 1);
    char out[256];
    CHECK(tcl_line(&e, &busy, out, sizeof out) > 0); /* the deferred reply, after 250 ms */
    CHECK_STR(out, "{\"deferred\":\"done\"}");
    CHECK(loop_mono_ms() - t0 >= 240);
    /* the one nobody answers: cancelled (the hook ran) and told so, after the wait timeout */
    CHECK(tcl_line(&e, &hung, out, sizeof out) > 0);
    CHECK(resp_error_is(out, "no reply within 1 s"));
    CHECK(loop_mono_ms() - t0 >= 390);
    CHECK_INT(e.cancels, 1);
    CHECK_INT(status_num(e.s, "wait_timeouts"), 1);
    CHECK_INT(ctl_server_waiting_count(e.s), 0);
    /* and after their replies they are idle like any other */
    end = loop_mono_ms() + 5000;
    while ((!busy.eof || !hung.eof) && loop_mono_ms() < end) {
        tcl_poll(&busy);
        tcl_poll(&hung);
        pump(&e);
    }
    CHECK(busy.eof && hung.eof);
    tcl_close(&idle);
    tcl_close(&busy);
    tcl_close(&hung);
    env_close(&e);
}

/* Deferred replies: the waiting client gets its answer later, in request order; others are
 * served meanwhile; a client that leaves first cancels the handler's work. */
static void test_deferred(env *e)
{
    char out[256];
    tcl a;
    CHECK(tcl_connect(&a, e->path));
    const char *two = "{\"cmd\":\"defer\",\"args\":[\"300\"]}\n"
                      "{\"cmd\":\"echo\",\"args\":[\"after\"]}\n";
    CHECK(tcl_send(e, &a, two, strlen(two)));
    int64_t end = loop_mono_ms() + 5000;
    while (ctl_server_waiting_count(e->s) == 0 && loop_mono_ms() < end)
        pump(e);
    CHECK_INT(ctl_server_waiting_count(e->s), 1);
    int replies = e->replies;
    /* another client is served while A waits */
    CHECK(rt(e, "{\"cmd\":\"echo\",\"args\":[\"other\"]}", out, sizeof out) > 0);
    CHECK_STR(out, "{\"argv\":[\"echo\",\"other\"]}");
    CHECK_INT(e->replies, replies); /* ...before A's reply */
    tcl_poll(&a);
    CHECK_INT(a.n, 0);
    CHECK_INT(ctl_server_waiting_count(e->s), 1);
    /* then A's reply, then the request that waited behind it */
    CHECK(tcl_line(e, &a, out, sizeof out) > 0);
    CHECK_STR(out, "{\"deferred\":\"done\"}");
    CHECK_INT(e->last_reply, CTL_OK);
    CHECK(tcl_line(e, &a, out, sizeof out) > 0);
    CHECK_STR(out, "{\"argv\":[\"echo\",\"after\"]}");
    CHECK_INT(ctl_server_waiting_count(e->s), 0);
    /* the last request deferred, then the client shuts down its side: the reply still comes */
    CHECK(tcl_sends(e, &a, "{\"cmd\":\"defer\",\"args\":[\"20\"]}"));
    shutdown(a.fd, SHUT_WR);
    CHECK(tcl_line(e, &a, out, sizeof out) > 0);
    CHECK_STR(out, "{\"deferred\":\"done\"}");
    CHECK(tcl_wait_closed(e, &a));
    tcl_close(&a);

    /* the client leaves while waiting: the cancel hook runs, the reply never goes out */
    int cancels = e->cancels;
    replies = e->replies;
    CHECK(tcl_connect(&a, e->path));
    CHECK(tcl_sends(e, &a, "{\"cmd\":\"defer\",\"args\":[\"100000\"]}\n"));
    end = loop_mono_ms() + 5000;
    while (ctl_server_waiting_count(e->s) == 0 && loop_mono_ms() < end)
        pump(e);
    CHECK_INT(ctl_server_waiting_count(e->s), 1);
    tcl_close(&a);
    end = loop_mono_ms() + 5000;
    while (ctl_server_waiting_count(e->s) > 0 && loop_mono_ms() < end)
        pump(e);
    CHECK_INT(ctl_server_waiting_count(e->s), 0);
    CHECK_INT(e->cancels - cancels, 1);
    CHECK_INT(e->replies, replies);
    /* ... and without a cancel hook the late reply is told the client is gone */
    e->no_cancel_hook = true;
    CHECK(tcl_connect(&a, e->path));
    CHECK(tcl_sends(e, &a, "{\"cmd\":\"defer\",\"args\":[\"50\"]}\n"));
    end = loop_mono_ms() + 5000;
    while (ctl_server_waiting_count(e->s) == 0 && loop_mono_ms() < end)
        pump(e);
    tcl_close(&a);
    end = loop_mono_ms() + 5000;
    while (e->replies == replies && loop_mono_ms() < end)
        pump(e);
    CHECK_INT(e->replies - replies, 1);
    CHECK_INT(e->last_reply, CTL_ERR_GONE);
    e->no_cancel_hook = false;
    /* unknown tokens */
    CHECK_INT(ctl_reply_send(e->s, 0, cJSON_CreateObject()), CTL_ERR_GONE);
    CHECK_INT(ctl_reply_send(e->s, UINT64_MAX, cJSON_CreateObject()), CTL_ERR_GONE);
    CHECK_INT(ctl_reply_error(e->s, 12345678, "x"), CTL_ERR_GONE);
    /* OK without a response object: answered as out of memory, not silence */
    CHECK(rt(e, "{\"cmd\":\"oom\"}", out, sizeof out) > 0);
    CHECK(resp_error_is(out, "out of memory"));
}

static void test_slow_reader(env *e)
{
    /* Asks for 10 responses of 256 KiB and reads none: 2.5 MiB stay queued (under CTL_MAX_OUT),
     * the client stays connected, and the loop keeps serving others meanwhile. 10 more pass the
     * cap: the server drops it. */
    tcl slow;
    CHECK(tcl_connect(&slow, e->path));
    char reqs[10 * 14 + 1];
    for (int i = 0; i < 10; i++)
        memcpy(reqs + i * 14, "{\"cmd\":\"big\"}\n", 14);
    int calls = e->calls;
    CHECK(tcl_send(e, &slow, reqs, 10 * 14));
    int64_t end = loop_mono_ms() + 5000;
    while (e->calls - calls < 10 && loop_mono_ms() < end)
        pump(e);
    CHECK_INT(e->calls - calls, 10);
    for (int i = 0; i < 10; i++)
        pump(e);
    CHECK_INT(ctl_server_client_count(e->s), 1);
    char out[256];
    CHECK(rt(e, "{\"cmd\":\"echo\"}", out, sizeof out) > 0);
    CHECK_STR(out, "{\"argv\":[\"echo\"]}");
    for (int i = 0; i < 10; i++)
        pump(e);
    CHECK_INT(ctl_server_client_count(e->s), 1); /* still there, its output still queued */

    CHECK(tcl_send(e, &slow, reqs, 10 * 14));
    end = loop_mono_ms() + 5000;
    while (ctl_server_client_count(e->s) > 0 && loop_mono_ms() < end)
        pump(e);
    CHECK_INT(ctl_server_client_count(e->s), 0);
    CHECK(e->calls - calls < 20); /* dropped before it got through all of them */
    /* what the slow client can still read is less than all it asked for, then the end */
    size_t total = 0;
    end = loop_mono_ms() + 5000;
    while (!slow.eof && loop_mono_ms() < end) {
        slow.n = 0;
        tcl_poll(&slow);
        total += slow.n;
    }
    CHECK(slow.eof);
    CHECK(total > 0);
    CHECK(total < 20u * (BIG_RESPONSE + 12));
    tcl_close(&slow);
    CHECK(rt(e, "{\"cmd\":\"echo\"}", out, sizeof out) > 0);
    CHECK_STR(out, "{\"argv\":[\"echo\"]}");
}

static uint32_t xs32(uint32_t *s)
{
    uint32_t x = *s;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *s = x;
}

static void test_garbage(env *e)
{
    uint32_t rng = 0x9e3779b9u;
    char *buf = malloc(200000);
    char out[4096];
    int lines_ok = 1;
    for (int round = 0; round < 12; round++) {
        size_t len = 1000 + xs32(&rng) % 199000;
        int nl_every = round % 3 == 0 ? 0 : (int)(20 + xs32(&rng) % 300); /* 0: no newlines */
        for (size_t i = 0; i < len; i++) {
            uint32_t r = xs32(&rng);
            if (round % 4 == 1) /* JSON-ish alphabet: gets further into the parser */
                buf[i] = "{}[]\":,0123456789eE.-+ntrufals\\\"cmdargs"[r % 39];
            else
                buf[i] = (char)(r & 0xff);
            if (nl_every && r % (uint32_t)nl_every == 0)
                buf[i] = '\n';
        }
        tcl c;
        CHECK(tcl_connect(&c, e->path));
        tcl_send(e, &c, buf, len);
        shutdown(c.fd, SHUT_WR);
        /* every response is one JSON object line */
        long n;
        while ((n = tcl_line(e, &c, out, sizeof out)) >= 0)
            if (n < (long)sizeof out - 1 && !resp_is_object(out))
                lines_ok = 0;
        CHECK(tcl_wait_closed(e, &c));
        tcl_close(&c);
    }
    CHECK(lines_ok);
    free(buf);
    for (int i = 0; i < 10; i++)
        pump(e);
    CHECK_INT(ctl_server_client_count(e->s), 0);
    CHECK(rt(e, "{\"cmd\":\"echo\"}", out, sizeof out) > 0);
    CHECK_STR(out, "{\"argv\":[\"echo\"]}");
}

static void test_socket_files(void)
{
    char dir[] = "/tmp/kestrel-ctlf-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[128], err[512];
    snprintf(path, sizeof path, "%s/k.sock", dir);
    loop *l = loop_new();
    env e = {.l = l};
    snprintf(e.path, sizeof e.path, "%s", path);

    /* stale: a socket file nobody listens on is replaced */
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    sun_set(&sa, path);
    CHECK(bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0);
    close(fd);
    CHECK(access(path, F_OK) == 0);
    ctl_server *s1 = NULL;
    CHECK(srv_open(&s1, l, path, 0, &e, err, sizeof err) == CTL_OK);
    e.s = s1;
    char out[256];
    CHECK(rt(&e, "{\"cmd\":\"echo\"}", out, sizeof out) > 0);
    CHECK_STR(out, "{\"argv\":[\"echo\"]}");

    /* live: a second server on the same path is refused and the first is untouched */
    ctl_server *s2 = NULL;
    err[0] = 0;
    CHECK(srv_open(&s2, l, path, 0, &e, err, sizeof err) == CTL_ERR_IN_USE);
    CHECK(s2 == NULL);
    char want[256];
    snprintf(want, sizeof want,
             "%s: another Kestrel is running (control socket in use; "
             "give this one its own --socket)",
             path);
    CHECK_STR(err, want);
    CHECK(rt(&e, "{\"cmd\":\"echo\"}", out, sizeof out) > 0);
    CHECK_STR(out, "{\"argv\":[\"echo\"]}");

    /* a socket of another user at the path (root can make one): refused as foreign, untouched */
    if (geteuid() == 0) {
        char fpath[160];
        snprintf(fpath, sizeof fpath, "%s/foreign.sock", dir);
        int ffd = socket(AF_UNIX, SOCK_STREAM, 0);
        struct sockaddr_un fsa = {.sun_family = AF_UNIX};
        sun_set(&fsa, fpath);
        CHECK(bind(ffd, (struct sockaddr *)&fsa, sizeof fsa) == 0);
        CHECK(chown(fpath, 65534, 65534) == 0);
        err[0] = 0;
        CHECK(srv_open(&s2, l, fpath, 0, &e, err, sizeof err) == CTL_ERR_FOREIGN);
        CHECK(strstr(err, "belongs to uid 65534") != NULL);
        CHECK(access(fpath, F_OK) == 0);
        close(ffd);
        unlink(fpath);
    }

    /* close unlinks the path */
    ctl_server_close(s1);
    CHECK(access(path, F_OK) != 0 && errno == ENOENT);

    /* ... but not a file someone else put there meanwhile */
    CHECK(srv_open(&s1, l, path, 0, &e, err, sizeof err) == CTL_OK);
    unlink(path);
    int rf = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
    CHECK(rf >= 0);
    close(rf);
    ctl_server_close(s1);
    CHECK(access(path, F_OK) == 0);

    /* a regular file is never removed */
    err[0] = 0;
    CHECK(srv_open(&s2, l, path, 0, &e, err, sizeof err) == CTL_ERR_NOT_SOCKET);
    CHECK(strstr(err, "not a socket") != NULL);
    CHECK(access(path, F_OK) == 0);
    unlink(path);

    /* path too long for sun_path */
    char longp[300];
    memset(longp, 'a', sizeof longp - 1);
    longp[0] = '/';
    longp[sizeof longp - 1] = 0;
    err[0] = 0;
    CHECK(srv_open(&s2, l, longp, 0, &e, err, sizeof err) == CTL_ERR_PATH);
    CHECK(strstr(err, "too long") != NULL);
    /* 107 bytes fits, 108 does not */
    char p107[128];
    snprintf(p107, sizeof p107, "%s/", dir);
    size_t dl = strlen(p107);
    memset(p107 + dl, 's', 107 - dl);
    p107[107] = 0;
    CHECK(srv_open(&s2, l, p107, 0, &e, err, sizeof err) == CTL_OK);
    ctl_server_close(s2);
    p107[107] = 's';
    p107[108] = 0;
    CHECK(srv_open(&s2, l, p107, 0, &e, err, sizeof err) == CTL_ERR_PATH);

    /* missing directory, empty path, no handler */
    char nodir[160];
    snprintf(nodir, sizeof nodir, "%s/nodir/k.sock", dir);
    err[0] = 0;
    CHECK(srv_open(&s2, l, nodir, 0, &e, err, sizeof err) == CTL_ERR_SYS);
    CHECK(strstr(err, nodir) != NULL);
    ctl_opts nop = {.path = path};
    CHECK(ctl_server_open(&s2, l, &nop, NULL, &e, err, sizeof err) == CTL_ERR_ARG);
    CHECK(ctl_server_open(&s2, l, NULL, handler, &e, err, sizeof err) == CTL_ERR_ARG);
    ctl_server_close(NULL);
    loop_free(l);
    CHECK(rmdir(dir) == 0);
}

static void test_default_path(void)
{
    char *saved = getenv("XDG_RUNTIME_DIR") ? strdup(getenv("XDG_RUNTIME_DIR")) : NULL;
    char buf[256], want[64];
    setenv("XDG_RUNTIME_DIR", "/run/user/1000", 1);
    CHECK_STR(ctl_default_path(buf, sizeof buf), "/run/user/1000/kestrel/kestrel.sock");
    unsetenv("XDG_RUNTIME_DIR");
    snprintf(want, sizeof want, "/tmp/kestrel-%u/kestrel.sock", (unsigned)geteuid());
    CHECK_STR(ctl_default_path(buf, sizeof buf), want);
    setenv("XDG_RUNTIME_DIR", "", 1); /* empty counts as unset */
    CHECK_STR(ctl_default_path(buf, sizeof buf), want);
    setenv("XDG_RUNTIME_DIR", "relative", 1); /* not absolute: ignored, as in the XDG spec */
    CHECK_STR(ctl_default_path(buf, sizeof buf), want);
    CHECK(ctl_default_path(buf, 10) == NULL);
    CHECK_STR(buf, "");
    if (saved)
        setenv("XDG_RUNTIME_DIR", saved, 1);
    else
        unsetenv("XDG_RUNTIME_DIR");
    free(saved);
}

/* The private directory: created 0700 under $XDG_RUNTIME_DIR, then used; a symlink, a
 * directory with group/other access, or one of another user is refused (server and client). */
static void test_private_dir(void)
{
    char *saved = getenv("XDG_RUNTIME_DIR") ? strdup(getenv("XDG_RUNTIME_DIR")) : NULL;
    char xdg[] = "/tmp/kestrel-xdg-XXXXXX";
    CHECK(mkdtemp(xdg) != NULL);
    setenv("XDG_RUNTIME_DIR", xdg, 1);
    char dir[96], sock[120], err[512];
    snprintf(dir, sizeof dir, "%s/kestrel", xdg);
    snprintf(sock, sizeof sock, "%s/kestrel.sock", dir);
    loop *l = loop_new();
    env e = {.l = l};
    snprintf(e.path, sizeof e.path, "%s", sock);
    ctl_server *s = NULL;
    mode_t old = umask(0);
    CHECK(srv_open(&s, l, NULL, 0, &e, err, sizeof err) == CTL_OK); /* the default path */
    umask(old);
    e.s = s;
    struct stat st;
    CHECK(lstat(dir, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 0777) == 0700);
    CHECK_STR(ctl_server_path(s), sock);
    char out[256];
    CHECK(rt(&e, "{\"cmd\":\"echo\"}", out, sizeof out) > 0);
    CHECK_STR(out, "{\"argv\":[\"echo\"]}");
    ctl_server_close(s);
    CHECK(ctl_private_dir(dir, false, err, sizeof err) == CTL_OK);

    /* group/other permissions */
    CHECK(chmod(dir, 0755) == 0);
    err[0] = 0;
    CHECK(srv_open(&s, l, "", 0, &e, err, sizeof err) == CTL_ERR_UNSAFE);
    CHECK(strstr(err, "not 0700") != NULL);
    CHECK(rmdir(dir) == 0);
    /* a symlink to a directory of ours */
    char real[160];
    snprintf(real, sizeof real, "%s/real", xdg);
    CHECK(mkdir(real, 0700) == 0);
    CHECK(symlink(real, dir) == 0);
    err[0] = 0;
    CHECK(srv_open(&s, l, "", 0, &e, err, sizeof err) == CTL_ERR_UNSAFE);
    CHECK(strstr(err, "symbolic link") != NULL);
    CHECK(unlink(dir) == 0);
    CHECK(rmdir(real) == 0);
    /* a directory of another user (root can make one) */
    if (geteuid() == 0) {
        CHECK(mkdir(dir, 0700) == 0);
        CHECK(chown(dir, 65534, 65534) == 0);
        err[0] = 0;
        CHECK(srv_open(&s, l, "", 0, &e, err, sizeof err) == CTL_ERR_FOREIGN);
        CHECK(strstr(err, "belongs to uid 65534") != NULL);
        CHECK(ctl_private_dir(dir, false, err, sizeof err) == CTL_ERR_FOREIGN);
        CHECK(rmdir(dir) == 0);
    }
    loop_free(l);
    CHECK(rmdir(xdg) == 0);
    if (saved)
        setenv("XDG_RUNTIME_DIR", saved, 1);
    else
        unsetenv("XDG_RUNTIME_DIR");
    free(saved);
}

/* ---- the `kestrel ctl` client, run in a forked child while this process serves ---- */

typedef struct run_result {
    int status;
    char out[8192];
    char err[8192];
} run_result;

static void read_all(int fd, char *buf, size_t cap)
{
    size_t n = 0;
    ssize_t r;
    while (n + 1 < cap && (r = read(fd, buf + n, cap - 1 - n)) > 0)
        n += (size_t)r;
    buf[n] = 0;
}

/* Runs ctl_client_main(argv) in a child; env_unset (may be NULL) is removed from its
 * environment first. The parent pumps e's loop (if any) until the child exits. */
static void run_client(env *e, const char *env_unset, const char *const *argv, run_result *r)
{
    int po[2], pe[2];
    memset(r, 0, sizeof *r);
    if (pipe(po) != 0 || pipe(pe) != 0) {
        r->status = -1;
        return;
    }
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(po[1], 1);
        dup2(pe[1], 2);
        close(po[0]);
        close(pe[0]);
        if (env_unset)
            unsetenv(env_unset);
        int argc = 0;
        while (argv[argc])
            argc++;
        int rc = ctl_client_main(argc, (char **)argv);
        fflush(stdout);
        fflush(stderr);
        _exit(rc);
    }
    close(po[1]);
    close(pe[1]);
    int st = 0;
    int64_t end = loop_mono_ms() + 10000;
    for (;;) {
        pid_t w = waitpid(pid, &st, WNOHANG);
        if (w == pid)
            break;
        if (loop_mono_ms() > end) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            break;
        }
        if (e)
            loop_once(e->l, 5);
        else
            poll(NULL, 0, 5);
    }
    read_all(po[0], r->out, sizeof r->out);
    read_all(pe[0], r->err, sizeof r->err);
    close(po[0]);
    close(pe[0]);
    r->status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_client(env *e)
{
    run_result r;
    {
        const char *argv[] = {"ctl", "--socket", e->path, "echo", "BTCUSDT", "10", NULL};
        run_client(e, NULL, argv, &r);
        CHECK_INT(r.status, 0);
        CHECK_STR(r.out, "{\"argv\":[\"echo\",\"BTCUSDT\",\"10\"]}\n");
    }
    {
        /* awkward arguments survive the round trip; options after CMD are its arguments */
        const char *argv[] = {"ctl", "--socket=", NULL};
        run_client(e, NULL, argv, &r);
        CHECK_INT(r.status, 2);
        const char *argv2[] = {"ctl",   "--timeout", "2",        "--socket", e->path,
                               "echo", "a\"b",      "x\ny",     "\xc3\xbc", "--socket",
                               "-1",   "",          NULL};
        run_client(e, NULL, argv2, &r);
        CHECK_INT(r.status, 0);
        CHECK_STR(r.out, "{\"argv\":[\"echo\",\"a\\\"b\",\"x\\ny\",\"\xc3\xbc\",\"--socket\","
                         "\"-1\",\"\"]}\n");
        CHECK_INT(e->last_argc, 7);
        CHECK_STR(e->last_argv[2], "x\ny");
    }
    {
        const char *argv[] = {"ctl", "--socket", e->path, "fail", NULL};
        run_client(e, NULL, argv, &r);
        CHECK_INT(r.status, 1);
        CHECK_STR(r.out, "{\"error\":\"it failed\"}\n");
        const char *argv2[] = {"ctl", "--socket", e->path, "nosuch", NULL};
        run_client(e, NULL, argv2, &r);
        CHECK_INT(r.status, 1);
        CHECK_STR(r.out, "{\"error\":\"unknown command: nosuch\"}\n");
    }
    {
        /* a big response arrives whole */
        const char *argv[] = {"ctl", "--socket", e->path, "multiline", NULL};
        run_client(e, NULL, argv, &r);
        CHECK_INT(r.status, 0);
        CHECK(resp_is_object(r.out));
    }
    {
        /* nothing listening */
        char nopath[160];
        snprintf(nopath, sizeof nopath, "%s/none.sock", e->dir);
        const char *argv[] = {"ctl", "--socket", nopath, "status", NULL};
        run_client(NULL, NULL, argv, &r);
        CHECK_INT(r.status, 1);
        CHECK_STR(r.out, "");
        char want[256];
        snprintf(want, sizeof want, "kestrel ctl: cannot connect to %s: ", nopath);
        CHECK(strncmp(r.err, want, strlen(want)) == 0);
        CHECK(strstr(r.err, "(is Kestrel running? use --socket)") != NULL);
    }
    {
        /* usage errors and help */
        const char *a1[] = {"ctl", NULL};
        run_client(NULL, NULL, a1, &r);
        CHECK_INT(r.status, 2);
        CHECK(strstr(r.err, "missing command") != NULL);
        const char *a2[] = {"ctl", "--frobnicate", "x", NULL};
        run_client(NULL, NULL, a2, &r);
        CHECK_INT(r.status, 2);
        const char *a3[] = {"ctl", "--timeout", "soon", "x", NULL};
        run_client(NULL, NULL, a3, &r);
        CHECK_INT(r.status, 2);
        const char *a4[] = {"ctl", "--socket", NULL};
        run_client(NULL, NULL, a4, &r);
        CHECK_INT(r.status, 2);
        const char *a5[] = {"ctl", "--socket", e->path, "x", "1", "2", "3", "4", "5", "6",
                            "7",   "8",        "9",     "10", "11", "12", "13", "14", "15",
                            "16",  "17",       NULL};
        run_client(e, NULL, a5, &r);
        CHECK_INT(r.status, 2);
        const char *a6[] = {"ctl", "--help", NULL};
        run_client(NULL, NULL, a6, &r);
        CHECK_INT(r.status, 0);
        CHECK(strncmp(r.out, "usage: kestrel ctl", 18) == 0);
    }
    {
        /* a config file's control.socket is where the client looks without --socket */
        char cfgp[160];
        snprintf(cfgp, sizeof cfgp, "%s/k.cfg", e->dir);
        FILE *f = fopen(cfgp, "w");
        CHECK(f != NULL);
        if (f) {
            fprintf(f, "control: { socket = \"%s\"; };\n", e->path);
            fclose(f);
        }
        const char *argv[] = {"ctl", "--config", cfgp, "echo", "via-config", NULL};
        run_client(e, NULL, argv, &r);
        CHECK_INT(r.status, 0);
        CHECK_STR(r.out, "{\"argv\":[\"echo\",\"via-config\"]}\n");
        unlink(cfgp);
        /* --db is no longer an option (the socket does not live beside the database) */
        const char *a2[] = {"ctl", "--db", "x.db", "status", NULL};
        run_client(NULL, NULL, a2, &r);
        CHECK_INT(r.status, 2);
    }
    if (geteuid() == 0) {
        /* a socket file of another user: the client refuses before it connects */
        char fpath[160];
        snprintf(fpath, sizeof fpath, "%s/foreign.sock", e->dir);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        sun_set(&sa, fpath);
        CHECK(bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0);
        CHECK(listen(fd, 4) == 0);
        CHECK(chown(fpath, 65534, 65534) == 0);
        const char *argv[] = {"ctl", "--socket", fpath, "status", NULL};
        run_client(NULL, NULL, argv, &r);
        CHECK_INT(r.status, 1);
        CHECK_STR(r.out, "");
        CHECK(strstr(r.err, "belongs to uid 65534") != NULL);
        CHECK(strstr(r.err, "not trusting it") != NULL);
        close(fd);
        unlink(fpath);
    }
    {
        /* a listener that never answers: the timeout ends the wait */
        char mute[160];
        snprintf(mute, sizeof mute, "%s/mute.sock", e->dir);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        sun_set(&sa, mute);
        CHECK(bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0);
        CHECK(listen(fd, 4) == 0);
        const char *argv[] = {"ctl", "--socket", mute, "--timeout", "0.3", "status", NULL};
        run_client(NULL, NULL, argv, &r);
        CHECK_INT(r.status, 1);
        CHECK(strstr(r.err, "timed out") != NULL);
        close(fd);
        unlink(mute);
    }
}


/* Runs fn(arg) in a child as uid/gid 65534 (nobody); the parent pumps e's loop until it exits.
 * Returns the child's exit status (-1 if it could not run). */
static int run_as_nobody(env *e, int (*fn)(const char *), const char *arg)
{
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        if (setgroups(0, NULL) != 0 || setgid(65534) != 0 || setuid(65534) != 0)
            _exit(99);
        _exit(fn(arg));
    }
    int st = 0;
    int64_t end = loop_mono_ms() + 10000;
    for (;;) {
        pid_t w = waitpid(pid, &st, WNOHANG);
        if (w == pid)
            break;
        if (loop_mono_ms() > end) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            return -1;
        }
        if (e)
            loop_once(e->l, 5);
        else
            poll(NULL, 0, 5);
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* As nobody: connect, ask, exit 0 if the server refused us by name, 1 if it answered, 2 else. */
static int nobody_asks(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    sun_set(&sa, path);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0)
        return 3;
    ssize_t w = write(fd, "{\"cmd\":\"echo\"}\n", 15);
    (void)w;
    char buf[512];
    size_t n = 0;
    ssize_t r;
    while (n + 1 < sizeof buf && (r = read(fd, buf + n, sizeof buf - 1 - n)) > 0)
        n += (size_t)r;
    buf[n] = 0;
    close(fd);
    if (strstr(buf, "permission denied"))
        return 0;
    return strstr(buf, "argv") ? 1 : 2;
}

/* Server side of SO_PEERCRED: a client of another uid is refused (the socket is opened up to
 * 0666 for the test, so only the credential check stands in the way). Needs root. */
static void test_peer_uid(env *e)
{
    if (geteuid() != 0) {
        fprintf(stderr, "  (not root: the other-uid peer tests are skipped)\n");
        return;
    }
    CHECK(chmod(e->dir, 0711) == 0);
    CHECK(chmod(e->path, 0666) == 0);
    double before = status_num(e->s, "refused_peers");
    CHECK_INT(run_as_nobody(e, nobody_asks, e->path), 0);
    CHECK_INT(status_num(e->s, "refused_peers") - before, 1);
    CHECK(chmod(e->path, 0600) == 0);
    CHECK(chmod(e->dir, 0700) == 0);
    char out[256];
    CHECK(rt(e, "{\"cmd\":\"echo\"}", out, sizeof out) > 0); /* we are still served */
    CHECK_STR(out, "{\"argv\":[\"echo\"]}");
}

/* Client side of SO_PEERCRED: the socket file is ours (bound as root) but the process that
 * listens on it runs as nobody and answers forged JSON. The client must not print it. */
static void test_client_peer_uid(env *e)
{
    if (geteuid() != 0)
        return;
    char path[160];
    snprintf(path, sizeof path, "%s/spoof.sock", e->dir);
    int ready[2];
    CHECK(pipe(ready) == 0);
    fflush(stdout);
    fflush(stderr);
    pid_t spoof = fork();
    if (spoof == 0) {
        close(ready[0]);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        sun_set(&sa, path);
        if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0)
            _exit(2);
        if (setgroups(0, NULL) != 0 || setgid(65534) != 0 || setuid(65534) != 0)
            _exit(3);
        if (listen(fd, 4) != 0) /* the listener's credentials are taken here: nobody */
            _exit(4);
        ssize_t w = write(ready[1], "r", 1);
        (void)w;
        for (int i = 0; i < 4; i++) {
            int c = accept(fd, NULL, NULL);
            if (c < 0)
                _exit(5);
            w = write(c, "{\"forged\":true}\n", 16);
            close(c);
        }
        _exit(0);
    }
    close(ready[1]);
    char b;
    CHECK(read(ready[0], &b, 1) == 1);
    close(ready[0]);
    struct stat st;
    CHECK(lstat(path, &st) == 0 && st.st_uid == 0); /* the file passes the owner check */
    run_result r;
    const char *argv[] = {"ctl", "--socket", path, "status", NULL};
    run_client(NULL, NULL, argv, &r);
    CHECK_INT(r.status, 1);
    CHECK_STR(r.out, "");
    CHECK(strstr(r.err, "the server runs as uid 65534") != NULL);
    kill(spoof, SIGKILL);
    waitpid(spoof, NULL, 0);
    unlink(path);
}

static void test_strerror(void)
{
    const char *seen[CTL_ERR_OVERFLOW + 1];
    for (int r = CTL_OK; r <= CTL_ERR_OVERFLOW; r++) {
        seen[r] = ctl_strerror((ctl_result)r);
        CHECK(seen[r] && seen[r][0]);
        for (int k = 0; k < r; k++)
            CHECK(strcmp(seen[k], seen[r]) != 0);
    }
    CHECK(strstr(ctl_strerror((ctl_result)999), "unknown") != NULL);
    CHECK_STR(cmd_strerror(CMD_OK), "ok");
    CHECK(strcmp(cmd_strerror(CMD_ERROR), cmd_strerror(CMD_WAIT)) != 0);
}

/* The one speed validator (the command line's --speed and `ctl speed` both use it). */
/* The seek target: ISO UTC, epoch ms, relative seconds; everything else refused. */
static void test_seek_parser(void)
{
    int64_t v = 0;
    char err[200];
    const int64_t now = 1723161382611; /* 2024-08-08T23:56:22.611Z */
    CHECK_INT(cmd_parse_seek("2024-08-08T23:55:00Z", now, &v, err, sizeof err), K_OK);
    CHECK(v == 1723161300000);
    CHECK_INT(cmd_parse_seek("2024-08-08T23:55:00.250Z", now, &v, err, sizeof err), K_OK);
    CHECK(v == 1723161300250);
    CHECK_INT(cmd_parse_seek("2024-08-08T23:55", now, &v, err, sizeof err), K_OK);
    CHECK(v == 1723161300000);
    CHECK_INT(cmd_parse_seek("2024-08-09T00:00:00", now, &v, err, sizeof err), K_OK);
    CHECK(v == 1723161600000);
    CHECK_INT(cmd_parse_seek("2000-03-01T00:00:00Z", now, &v, err, sizeof err), K_OK);
    CHECK(v == 951868800000); /* after a leap day */
    CHECK_INT(cmd_parse_seek("1723161300000", now, &v, err, sizeof err), K_OK);
    CHECK(v == 1723161300000);
    CHECK_INT(cmd_parse_seek("+60", now, &v, err, sizeof err), K_OK);
    CHECK(v == now + 60000);
    CHECK_INT(cmd_parse_seek("-60", now, &v, err, sizeof err), K_OK);
    CHECK(v == now - 60000);
    CHECK_INT(cmd_parse_seek("+1.5", now, &v, err, sizeof err), K_OK);
    CHECK(v == now + 1500);
    const char *bad[] = {"", "60", "yesterday", "+", "-x", "+1.", "+1.2345", "++1",
                         "2024-13-01T00:00:00Z", "2024-08-08T24:00:00Z", "2024-08-08T23:55:00ZZ",
                         "2024-08-08 23:55:00 UTC", "1e12", "99999999999999999999", "1999-12-31T23:59:59Z"};
    for (size_t i = 0; i < K_ARRAY_LEN(bad); i++) {
        err[0] = '\0';
        CHECK_INT(cmd_parse_seek(bad[i], now, &v, err, sizeof err), K_ERR);
        CHECK(strstr(err, "ISO UTC") != NULL);
    }
}

static void test_speed_validator(void)
{
    static const struct {
        const char *in;
        double want;
    } good[] = {{"0", 0},     {"1", 1},       {"2.5", 2.5},   {"0.01", 0.01}, {"1000", 1000},
                {"1e1", 10},  {"8", 8},       {"0.5", 0.5},   {"1000.0", 1000}, {".5", 0.5},
                {"5.", 5},    {"0.0", 0},     {"1E2", 100},   {"2e+1", 20},   {"25e-1", 2.5}};
    static const char *const bad[] = {
        "1e-400", "-0", "-1", "+1", "0x1p3", "0X10", "0x0", "nan", "NaN", "inf", "Infinity",
        " 1",     "1 ", "",   "1e999", "0.001", "1000.01", "1.2.3", ".", "e5", "1e", "1,5",
        "1e+",    "0.009", "5e-3", "1\n", "\t0"};
    char err[128];
    for (size_t i = 0; i < K_ARRAY_LEN(good); i++) {
        double v = -1;
        int rc = cmd_parse_speed(good[i].in, &v, err, sizeof err);
        CHECK_INT(rc, K_OK);
        if (rc != K_OK || v != good[i].want)
            fprintf(stderr, "  speed '%s' -> %d %g\n", good[i].in, rc, v);
        CHECK(v == good[i].want);
    }
    for (size_t i = 0; i < K_ARRAY_LEN(bad); i++) {
        double v = 42;
        err[0] = 0;
        int rc = cmd_parse_speed(bad[i], &v, err, sizeof err);
        CHECK_INT(rc, K_ERR);
        if (rc != K_ERR)
            fprintf(stderr, "  speed '%s' accepted as %g\n", bad[i], v);
        CHECK(v == 42);
        CHECK(strstr(err, "expected 0 or 0.01..1000") != NULL);
    }
    CHECK_INT(cmd_parse_speed(NULL, &(double){0}, err, sizeof err), K_ERR);
    long n = 0;
    CHECK(cmd_parse_count("10", 100, &n) == K_OK && n == 10);
    CHECK_INT(cmd_parse_count("0", 100, &n), K_ERR);
    CHECK_INT(cmd_parse_count("101", 100, &n), K_ERR);
    CHECK_INT(cmd_parse_count("-1", 100, &n), K_ERR);
    CHECK_INT(cmd_parse_count("1x", 100, &n), K_ERR);
    CHECK_INT(cmd_parse_count("99999999999999999999", 100, &n), K_ERR);
}

/* Runs one command line on app a from the control socket's side (token 0: no deferring) and
 * returns the response or error as one JSON line in out. */
static cmd_result run_cmd(app *a, const char *line, char *out, size_t cap)
{
    char buf[256];
    const char *argv[1 + CMD_MAX_ARGS];
    int argc = 0;
    snprintf(buf, sizeof buf, "%s", line);
    char *save = NULL;
    for (char *t = strtok_r(buf, " ", &save); t; t = strtok_r(NULL, " ", &save))
        argv[argc++] = t;
    cmd_ctx c = {.a = a, .origin = CMD_FROM_INTERNAL, .argc = argc, .argv = argv};
    cmd_result r = cmd_run(&c);
    char *txt = c.out ? cJSON_PrintUnformatted(c.out) : NULL;
    snprintf(out, cap, "%s", r == CMD_OK ? (txt ? txt : "") : c.err);
    cJSON_free(txt);
    cJSON_Delete(c.out);
    return r;
}

/* The command table and the key table: every key runs a known command with a valid arity, the
 * trading keys are reserved commands (never picker actions), and cmd_run's answers. The app is
 * a bare one (no loop, no store, no UI) with one synthetic symbol whose update id is past 2^53,
 * to show the status document prints ids exactly, as strings. */
static void test_command_table(void)
{
    for (size_t i = 0; i < cmd_count(); i++) {
        const cmd_entry *e = cmd_at(i);
        CHECK(e && e->name && e->args && e->help && e->help[0] && e->exec);
        CHECK(e->min_args <= e->max_args && e->max_args <= CMD_MAX_ARGS);
        CHECK(cmd_find(e->name) == e); /* names are unique */
    }
    CHECK(cmd_at(cmd_count()) == NULL);
    CHECK(cmd_find("nosuch") == NULL);
    for (size_t i = 0; i < keys_count(); i++) {
        const key_binding *b = keys_at(i);
        char w[64];
        snprintf(w, sizeof w, "%s", b->command);
        int words = 1;
        for (char *p = w; *p; p++)
            if (*p == ' ') {
                if (words == 1)
                    *p = 0;
                words++;
            }
        const cmd_entry *e = cmd_find(w);
        CHECK(e != NULL);
        if (!e) {
            fprintf(stderr, "  key %s -> unknown command '%s'\n", b->label, b->command);
            continue;
        }
        CHECK(words - 1 >= e->min_args && words - 1 <= e->max_args);
        CHECK(keys_lookup(b->key) == b || keys_lookup(b->key)->key == b->key);
    }
    static const struct {
        int key;
        const char *cmd;
        bool reserved;
    } trading[] = {{'o', "ticket", false},        {'c', "close", false},
                   {'C', "cancel-order", false},  {'X', "close-all", false},
                   {'e', "settings", false},      {'a', "watch-add", false},
                   {'d', "watch-remove", false},  {'S', "start", false},
                   {'P', "pause-trading", false}, {'g', "signal", false},
                   {'n', "connections", false},   {'B', "backtests", false}};
    for (size_t i = 0; i < K_ARRAY_LEN(trading); i++) {
        const key_binding *b = keys_lookup(trading[i].key);
        size_t cl = strlen(trading[i].cmd); /* the command, with its arguments ("settings open") */
        CHECK(b && strncmp(b->command, trading[i].cmd, cl) == 0 &&
              (b->command[cl] == 0 || b->command[cl] == ' '));
        const cmd_entry *e = cmd_find(trading[i].cmd);
        CHECK(e && ((e->flags & CMD_F_RESERVED) != 0) == trading[i].reserved);
    }
    CHECK_STR(keys_lookup('i')->command, "picker");
    CHECK_STR(keys_lookup('?')->command, "help");
    char kb[96];
    CHECK_STR(keys_for_command("select", kb, sizeof kb), "Enter"); /* three codes, one label */
    CHECK_STR(keys_for_command("pane-next", kb, sizeof kb), "Tab");
    CHECK_STR(keys_for_command("status", kb, sizeof kb), "");
    key_help_row rows[64];
    size_t nr = keys_help_rows(rows, K_ARRAY_LEN(rows));
    CHECK(nr > 10 && nr < K_ARRAY_LEN(rows));
    bool have_tab = false;
    for (size_t i = 0; i < nr && i < K_ARRAY_LEN(rows); i++)
        have_tab |= strcmp(rows[i].keys, "Tab Shift-Tab") == 0;
    CHECK(have_tab);

    app a;
    memset(&a, 0, sizeof a);
    config_defaults(&a.cfg);
    a.market = market_new(&a.cfg.limits);
    a.version = "test";
    feed_level bids[] = {{6160201000000LL, 100000000LL}}, asks[] = {{6160202000000LL, 50000000LL}};
    feed_event ev = {.kind = FEED_DEPTH_SNAPSHOT, .venue = VENUE_BINANCE_SPOT,
                     .symbol = "BTCUSDT"};
    ev.u.depth.first_id = ev.u.depth.last_id = 9007199254740993LL; /* 2^53 + 1 */
    ev.u.depth.bids = bids;
    ev.u.depth.asks = asks;
    ev.u.depth.nbids = ev.u.depth.nasks = 1;
    CHECK_INT(market_apply(a.market, &ev), K_OK);
    char out[16384];
    CHECK_INT(run_cmd(&a, "status", out, sizeof out), CMD_OK);
    cJSON *st = cJSON_Parse(out);
    CHECK(cJSON_IsObject(st));
    CHECK_INT(cJSON_GetObjectItemCaseSensitive(st, "schema")->valuedouble, CMD_STATUS_SCHEMA);
    CHECK(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(st, "ui")));
    const cJSON *sym = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(st, "symbols"), 0);
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(sym, "last_update_id");
    CHECK(cJSON_IsString(id) && strcmp(id->valuestring, "9007199254740993") == 0);
    cJSON_Delete(st);
    CHECK(strstr(out, "\"last_update_id\":\"9007199254740993\"") != NULL);
    CHECK_INT(run_cmd(&a, "book BTCUSDT 1", out, sizeof out), CMD_OK);
    CHECK(strstr(out, "\"last_update_id\":\"9007199254740993\"") != NULL);

    CHECK_INT(run_cmd(&a, "frobnicate x", out, sizeof out), CMD_ERROR);
    CHECK_STR(out, "unknown command 'frobnicate' (try: help)");
    CHECK_INT(run_cmd(&a, "zoom", out, sizeof out), CMD_ERROR);
    CHECK_STR(out, "zoom: needs the terminal UI (this Kestrel runs headless)");
    CHECK_INT(run_cmd(&a, "ticket", out, sizeof out), CMD_ERROR);
    CHECK_STR(out, "ticket: needs the terminal UI (this Kestrel runs headless)");
    CHECK_INT(run_cmd(&a, "settings", out, sizeof out), CMD_ERROR); /* no runner here */
    CHECK_STR(out, "trading is not running");
    CHECK_INT(run_cmd(&a, "backtests frob", out, sizeof out), CMD_ERROR);
    CHECK_STR(out, "usage: backtests [show|reload|list|open ID]");
    CHECK_INT(run_cmd(&a, "symbols add NOPEUSDT", out, sizeof out), CMD_ERROR);
    CHECK(strstr(out, "NOPEUSDT is not a known") != NULL);
    CHECK_INT(run_cmd(&a, "symbols frob X", out, sizeof out), CMD_ERROR);
    CHECK_STR(out, "usage: symbols [add|remove SYMBOL]");
    CHECK_INT(run_cmd(&a, "cancel k1", out, sizeof out), CMD_ERROR); /* no runner here */
    CHECK_STR(out, "trading is not running");
    CHECK_INT(run_cmd(&a, "order", out, sizeof out), CMD_ERROR); /* needs its arguments */
    CHECK(strncmp(out, "usage: order SYMBOL", 19) == 0);
    CHECK_INT(run_cmd(&a, "positions", out, sizeof out), CMD_ERROR); /* no runner here */
    CHECK_STR(out, "trading is not running");
    CHECK_INT(run_cmd(&a, "book", out, sizeof out), CMD_ERROR);
    CHECK_STR(out, "usage: book SYMBOL [DEPTH]");
    CHECK_INT(run_cmd(&a, "speed 1e-400", out, sizeof out), CMD_ERROR);
    CHECK_STR(out, "speed '1e-400' is not valid (expected 0 or 0.01..1000)");
    CHECK_INT(run_cmd(&a, "speed 2", out, sizeof out), CMD_ERROR); /* valid, but no replay */
    CHECK_STR(out, "speed: no replay is running");
    CHECK_INT(run_cmd(&a, "ping", out, sizeof out), CMD_OK); /* nobody to defer to: at once */
    CHECK_STR(out, "{\"pong\":true,\"delay_ms\":0}");
    CHECK_INT(run_cmd(&a, "timeframe 5m", out, sizeof out), CMD_OK);
    CHECK_INT(a.chart_tf, TF_5M);
    CHECK_INT(run_cmd(&a, "timeframe next", out, sizeof out), CMD_OK);
    CHECK_STR(out, "{\"timeframe\":\"15m\"}");
    CHECK_INT(run_cmd(&a, "focus binance-spot:btcusdt", out, sizeof out), CMD_OK);
    CHECK_INT(run_cmd(&a, "focus binance-usdm:BTCUSDT", out, sizeof out), CMD_ERROR);
    CHECK_INT(run_cmd(&a, "help", out, sizeof out), CMD_OK);
    cJSON *h = cJSON_Parse(out);
    CHECK_INT(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(h, "commands")), cmd_count());
    cJSON_Delete(h);
    CHECK_INT(run_cmd(&a, "quit", out, sizeof out), CMD_OK);
    CHECK(a.quitting);
    char err[128];
    CHECK_INT(cmd_run_line(&a, NULL, CMD_FROM_KEY, "backtests frob", err, sizeof err), CMD_ERROR);
    CHECK(strstr(err, "usage: backtests") != NULL);
    CHECK_INT(cmd_run_line(&a, NULL, CMD_FROM_KEY, "seek -60", err, sizeof err), CMD_ERROR);
    CHECK(strstr(err, "replay") != NULL);
    CHECK_INT(cmd_run_line(&a, NULL, CMD_FROM_KEY, "", err, sizeof err), CMD_ERROR);
    CHECK_STR(err, "missing command");
    watchlist_free(&a); /* `symbols add` above made the app's watchlist */
    market_free(a.market);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN); /* the tests write to sockets the server closes */
    test_strerror();
    test_speed_validator();
    test_seek_parser();
    test_command_table();
    test_default_path();
    test_private_dir();
    test_socket_files();
    test_idle_timeout();
    env e;
    env_open(&e);
    if (e.s) {
        test_mode(&e);
        test_valid_requests(&e);
        test_malformed(&e);
        test_line_caps(&e);
        test_too_many_clients(&e);
        test_deferred(&e);
        test_idle_eviction(&e);
        test_peer_uid(&e);
        test_slow_reader(&e);
        test_garbage(&e);
        test_client(&e);
        test_client_peer_uid(&e);
        /* clients that hung up are reaped on the loop's next turns: give a loaded machine time */
        for (int i = 0; i < 400 && ctl_server_client_count(e.s) != 0; i++)
            pump(&e);
        CHECK_INT(ctl_server_client_count(e.s), 0);
    }
    char path[128];
    snprintf(path, sizeof path, "%s", e.path);
    env_close(&e);
    CHECK(access(path, F_OK) != 0);
    CHECK_DONE();
}
