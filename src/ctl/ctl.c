/* Control socket server: a UNIX stream socket on the main loop, one JSON request per line in,
 * one JSON response per line out (docs/CONTROL.md).
 *
 * Shape and why:
 * - Everything is non-blocking and driven by loop watchers, so no client can stall the loop:
 *   each client has an input buffer capped at one request line (CTL_MAX_LINE + newline) and an
 *   output buffer capped at CTL_MAX_OUT. A line over the cap gets an error response and the
 *   connection is closed once it is flushed; a client that sends requests but does not read the
 *   responses is dropped when its unsent output would pass the cap. At most CTL_MAX_CLIENTS are
 *   connected; one more is told so in one line and closed.
 * - The server checks only the envelope ({"cmd": string, "args": [string...]}) and answers
 *   malformed requests itself with {"error": ...}; meaning belongs to the handler, which gets a
 *   plain argv and returns a cJSON object (or NULL + message).
 * - Responses are printed unformatted, so a response is always exactly one line (cJSON escapes
 *   control characters inside strings).
 * - The socket file is created 0600 (umask 077 around bind, then chmod). A leftover socket from a
 *   crashed run is detected by a refused connect and replaced; a live one is never touched, and
 *   close unlinks the path only if it is still the socket this server bound (same dev/inode).
 * - If accept() runs out of fds the listener is paused for a moment (a timer) rather than
 *   letting level-triggered poll() spin on it. */
#include "kestrel/ctl.h"

#include "kestrel/config.h"
#include "kestrel/xmalloc.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define CTL_IN_START 1024
#define CTL_OUT_START 4096
#define CTL_OUT_KEEP (64 * 1024)
#define CTL_ACCEPT_BATCH 64
#define CTL_ACCEPT_PAUSE_MS 100
#define CTL_ERR_MAX 512
#define CTL_SEND_EARLY (64 * 1024)
/* A live socket at the path: seen by the probe, or by bind() losing a race with another start. */
#define CTL_IN_USE_FMT                                                                             \
    "%s: another Kestrel is running (control socket in use; give this one its own --socket)"

typedef struct ctl_client {
    ctl_server *srv;
    int fd;
    int slot;
    char *in;
    size_t nin, incap;
    char *out;
    size_t nout, outoff, outcap;
    bool closing; /* no more requests: close once the output is flushed */
    unsigned watched;
} ctl_client;

struct ctl_server {
    loop *l;
    int fd;
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    dev_t dev;
    ino_t ino;
    ctl_handler_fn fn;
    void *ud;
    ctl_client *clients[CTL_MAX_CLIENTS];
    int nclients;
    uint64_t resume_timer;
};

/* ---- default path ---- */

const char *ctl_default_path(char *buf, size_t cap, const char *db_path)
{
    if (!buf || !cap)
        return NULL;
    const char *rt = getenv("XDG_RUNTIME_DIR");
    int n;
    if (rt && rt[0] == '/') { /* only an absolute XDG directory counts (XDG spec) */
        n = snprintf(buf, cap, "%s/kestrel.sock", rt);
    } else {
        char dbbuf[CONFIG_PATH_MAX];
        if (!db_path || !*db_path) {
            config_default_db_path(dbbuf, sizeof dbbuf);
            db_path = dbbuf;
        }
        const char *slash = strrchr(db_path, '/');
        int dirlen = slash ? (int)(slash - db_path + 1) : 0;
        n = snprintf(buf, cap, "%.*skestrel.sock", dirlen, db_path);
    }
    if (n < 0 || (size_t)n >= cap) {
        buf[0] = 0;
        return NULL;
    }
    return buf;
}

/* ---- clients ---- */

static void ctl_client_io(loop *l, int fd, unsigned events, void *ud);

static void ctl_client_drop(ctl_client *c)
{
    ctl_server *s = c->srv;
    loop_unwatch(s->l, c->fd);
    close(c->fd);
    s->clients[c->slot] = NULL;
    s->nclients--;
    free(c->in);
    free(c->out);
    free(c);
}

/* Queues bytes for the client. false if that would pass the output cap (caller drops it). */
static bool ctl_client_queue(ctl_client *c, const char *p, size_t n)
{
    size_t pending = c->nout - c->outoff;
    if (n > CTL_MAX_OUT || pending > CTL_MAX_OUT - n)
        return false;
    if (c->outoff > 0 && c->nout + n > c->outcap) {
        memmove(c->out, c->out + c->outoff, pending);
        c->nout = pending;
        c->outoff = 0;
    }
    if (c->nout + n > c->outcap) {
        size_t cap = c->outcap ? c->outcap : CTL_OUT_START;
        while (cap < c->nout + n)
            cap *= 2;
        c->out = xrealloc(c->out, cap);
        c->outcap = cap;
    }
    memcpy(c->out + c->nout, p, n);
    c->nout += n;
    return true;
}

/* Queues one JSON value as a line. */
static bool ctl_client_queue_json(ctl_client *c, const cJSON *v)
{
    char *txt = cJSON_PrintUnformatted(v);
    if (!txt)
        return ctl_client_queue(c, "{\"error\":\"response could not be encoded\"}\n", 42);
    size_t n = strlen(txt);
    bool ok = ctl_client_queue(c, txt, n) && ctl_client_queue(c, "\n", 1);
    cJSON_free(txt);
    return ok;
}

static bool ctl_client_queue_error(ctl_client *c, const char *msg)
{
    cJSON *o = cJSON_CreateObject();
    if (!o || !cJSON_AddStringToObject(o, "error", msg)) {
        cJSON_Delete(o);
        return ctl_client_queue(c, "{\"error\":\"out of memory\"}\n", 26);
    }
    bool ok = ctl_client_queue_json(c, o);
    cJSON_Delete(o);
    return ok;
}

int ctl_parse_request(const char *line, size_t len, cJSON **root_out, int *argc_out,
                      const char **argv, const char **why)
{
    *root_out = NULL;
    *argc_out = 0;
    *why = NULL;
    if (memchr(line, 0, len)) {
        *why = "invalid JSON: NUL byte in request";
        return K_ERR;
    }
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(line, len, &end, 0);
    if (!root) {
        *why = "invalid JSON";
        return K_ERR;
    }
    while (end && end < line + len && (*end == ' ' || *end == '\t' || *end == '\r'))
        end++;
    if (!end || end != line + len) {
        *why = "invalid JSON: trailing characters after the request";
        cJSON_Delete(root);
        return K_ERR;
    }
    const char *bad = NULL;
    int argc = 0;
    const cJSON *cmd = NULL, *args = NULL;
    if (!cJSON_IsObject(root)) {
        bad = "request must be a JSON object";
    } else if (!(cmd = cJSON_GetObjectItemCaseSensitive(root, "cmd"))) {
        bad = "missing \"cmd\"";
    } else if (!cJSON_IsString(cmd) || !cmd->valuestring) {
        bad = "\"cmd\" must be a string";
    } else if (!cmd->valuestring[0]) {
        bad = "\"cmd\" must not be empty";
    } else {
        argv[argc++] = cmd->valuestring;
        args = cJSON_GetObjectItemCaseSensitive(root, "args");
        if (args && !cJSON_IsArray(args)) {
            bad = "\"args\" must be an array of strings";
        } else if (args) {
            const cJSON *a;
            cJSON_ArrayForEach(a, args)
            {
                if (argc > CTL_MAX_ARGS) {
                    bad = "too many args (at most 16)";
                    break;
                }
                if (!cJSON_IsString(a) || !a->valuestring) {
                    bad = "\"args\" must be an array of strings";
                    break;
                }
                argv[argc++] = a->valuestring;
            }
        }
    }
    *root_out = root;
    if (bad) {
        *why = bad;
        return K_ERR;
    }
    *argc_out = argc;
    return K_OK;
}

/* Checks the envelope and runs the handler; queues exactly one response line. */
static bool ctl_client_request(ctl_client *c, char *line, size_t len)
{
    if (len > 0 && line[len - 1] == '\r')
        len--;
    line[len] = 0;
    size_t i = 0;
    while (i < len && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r'))
        i++;
    if (i == len)
        return ctl_client_queue_error(c, "empty request (expected a JSON object)");
    if (memchr(line, 0, len))
        return ctl_client_queue_error(c, "invalid JSON: NUL byte in request");

    const char *argv[1 + CTL_MAX_ARGS];
    int argc = 0;
    const char *bad = NULL;
    cJSON *root = NULL;
    ctl_parse_request(line, len, &root, &argc, argv, &bad);
    bool ok;
    if (bad) {
        ok = ctl_client_queue_error(c, bad);
    } else {
        char err[CTL_ERR_MAX] = "";
        cJSON *res = c->srv->fn(c->srv->ud, argc, argv, err, sizeof err);
        if (res) {
            ok = ctl_client_queue_json(c, res);
            cJSON_Delete(res);
        } else {
            err[sizeof err - 1] = 0;
            ok = ctl_client_queue_error(c, err[0] ? err : "command failed");
        }
    }
    cJSON_Delete(root);
    return ok;
}

/* Sends what the socket takes now. false on a fatal error (the caller drops the client). */
static bool ctl_client_send(ctl_client *c)
{
    while (c->outoff < c->nout) {
        ssize_t n = send(c->fd, c->out + c->outoff, c->nout - c->outoff, MSG_NOSIGNAL);
        if (n > 0)
            c->outoff += (size_t)n;
        else if (n < 0 && errno == EINTR)
            continue;
        else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        else
            return false; /* EPIPE, ECONNRESET, ... */
    }
    if (c->outoff == c->nout) {
        c->outoff = c->nout = 0;
        if (c->outcap > CTL_OUT_KEEP) { /* a big response is gone: give its memory back */
            free(c->out);
            c->out = NULL;
            c->outcap = 0;
        }
    }
    return true;
}

/* Sends what it can and sets the watcher to match. false if the client is gone (dropped). */
static bool ctl_client_flush(ctl_client *c)
{
    if (!ctl_client_send(c) || (c->closing && c->nout == 0)) {
        ctl_client_drop(c);
        return false;
    }
    unsigned want = (c->closing ? 0 : LOOP_READ) | (c->nout > c->outoff ? LOOP_WRITE : 0);
    if (want != c->watched) {
        if (loop_watch(c->srv->l, c->fd, want, ctl_client_io, c) != K_OK) {
            ctl_client_drop(c);
            return false;
        }
        c->watched = want;
    }
    return true;
}

/* Reads once, answers every complete line. false if the client is gone (dropped). */
static bool ctl_client_read(ctl_client *c)
{
    if (c->nin == c->incap) {
        size_t cap = c->incap * 2;
        if (cap > CTL_MAX_LINE + 1)
            cap = CTL_MAX_LINE + 1;
        c->in = xrealloc(c->in, cap);
        c->incap = cap;
    }
    ssize_t n = read(c->fd, c->in + c->nin, c->incap - c->nin);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
            return true;
        ctl_client_drop(c);
        return false;
    }
    bool eof = n == 0;
    size_t scan = c->nin;
    c->nin += (size_t)n;

    size_t start = 0;
    char *nl;
    while ((nl = memchr(c->in + scan, '\n', c->nin - scan)) != NULL) {
        size_t end = (size_t)(nl - c->in);
        /* false: the output cap is exceeded (a client that does not read its responses) */
        bool ok = ctl_client_request(c, c->in + start, end - start);
        /* hand big output to the kernel as it comes, so a reading client stays under the cap */
        if (ok && c->nout - c->outoff >= CTL_SEND_EARLY)
            ok = ctl_client_send(c);
        if (!ok) {
            ctl_client_drop(c);
            return false;
        }
        start = scan = end + 1;
    }
    if (start > 0) {
        memmove(c->in, c->in + start, c->nin - start);
        c->nin -= start;
    }
    if (c->nin == 0 && c->incap > CTL_IN_START) { /* after a long line: back to small */
        c->in = xrealloc(c->in, CTL_IN_START);
        c->incap = CTL_IN_START;
    }
    if (eof) {
        /* The peer is done sending: a last line without its newline still counts. */
        if (c->nin > 0) {
            if (c->nin == c->incap) { /* the request writes a NUL after the line */
                c->in = xrealloc(c->in, c->incap + 1);
                c->incap++;
            }
            bool ok = c->nin > CTL_MAX_LINE
                          ? ctl_client_queue_error(c, "request line too long (max 65536 bytes)")
                          : ctl_client_request(c, c->in, c->nin);
            if (!ok) {
                ctl_client_drop(c);
                return false;
            }
        }
        c->nin = 0;
        c->closing = true;
    } else if (c->nin > CTL_MAX_LINE) {
        c->nin = 0;
        c->closing = true;
        if (!ctl_client_queue_error(c, "request line too long (max 65536 bytes)")) {
            ctl_client_drop(c);
            return false;
        }
    }
    return ctl_client_flush(c);
}

static void ctl_client_io(loop *l, int fd, unsigned events, void *ud)
{
    (void)l;
    (void)fd;
    ctl_client *c = ud;
    if ((events & LOOP_WRITE) && !ctl_client_flush(c))
        return;
    if ((events & LOOP_READ) && !c->closing)
        ctl_client_read(c);
}

/* ---- listener ---- */

static void ctl_accept(loop *l, int fd, unsigned events, void *ud);

static void ctl_resume(loop *l, uint64_t id, void *ud)
{
    (void)id;
    ctl_server *s = ud;
    s->resume_timer = 0;
    if (loop_watch(l, s->fd, LOOP_READ, ctl_accept, s) != K_OK)
        s->resume_timer = loop_timer_add(l, CTL_ACCEPT_PAUSE_MS, ctl_resume, s);
}

static void ctl_refuse(int cfd)
{
    static const char msg[] = "{\"error\":\"too many control clients (at most 32)\"}\n";
    ssize_t w = send(cfd, msg, sizeof msg - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
    (void)w;
    close(cfd);
}

static void ctl_accept(loop *l, int fd, unsigned events, void *ud)
{
    (void)events;
    ctl_server *s = ud;
    for (int i = 0; i < CTL_ACCEPT_BATCH; i++) {
        int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                loop_unwatch(l, fd);
                s->resume_timer = loop_timer_add(l, CTL_ACCEPT_PAUSE_MS, ctl_resume, s);
            }
            return; /* EAGAIN: all accepted */
        }
        if (s->nclients >= CTL_MAX_CLIENTS) {
            ctl_refuse(cfd);
            continue;
        }
        int slot = 0;
        while (s->clients[slot])
            slot++;
        ctl_client *c = xcalloc(1, sizeof *c);
        c->srv = s;
        c->fd = cfd;
        c->slot = slot;
        c->incap = CTL_IN_START;
        c->in = xmalloc(c->incap);
        c->watched = LOOP_READ;
        if (loop_watch(l, cfd, LOOP_READ, ctl_client_io, c) != K_OK) {
            close(cfd);
            free(c->in);
            free(c);
            continue;
        }
        s->clients[slot] = c;
        s->nclients++;
    }
}

/* Is something accepting connections at path? 1 yes, 0 no (stale: refused), -1 error. */
static int ctl_probe(const struct sockaddr_un *sa, int *err_out)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        *err_out = errno;
        return -1;
    }
    int rc = connect(fd, (const struct sockaddr *)sa, sizeof *sa);
    int e = errno;
    close(fd);
    if (rc == 0 || e == EAGAIN || e == EINPROGRESS)
        return 1; /* connected, or listening with a full backlog */
    if (e == ECONNREFUSED || e == ENOENT)
        return 0;
    *err_out = e;
    return -1;
}

int ctl_server_open(ctl_server **out, loop *l, const char *path, ctl_handler_fn fn, void *ud,
                    char *err, size_t errlen)
{
    *out = NULL;
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    if (!path || !*path) {
        snprintf(err, errlen, "control socket path is empty");
        return K_ERR;
    }
    if (!fn) {
        snprintf(err, errlen, "%s: no control handler", path);
        return K_ERR;
    }
    size_t plen = strlen(path);
    if (plen >= sizeof sa.sun_path) {
        snprintf(err, errlen,
                 "%s: control socket path too long (%zu bytes, at most %zu for a Unix socket)",
                 path, plen, sizeof sa.sun_path - 1);
        return K_ERR;
    }
    memcpy(sa.sun_path, path, plen + 1);

    struct stat st;
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            snprintf(err, errlen, "%s: exists and is not a socket (not removing it)", path);
            return K_ERR;
        }
        int e = 0;
        int live = ctl_probe(&sa, &e);
        if (live > 0) {
            snprintf(err, errlen, CTL_IN_USE_FMT, path);
            return K_ERR;
        }
        if (live < 0) {
            snprintf(err, errlen, "%s: cannot check the existing control socket: %s", path,
                     strerror(e));
            return K_ERR;
        }
        if (unlink(path) != 0 && errno != ENOENT) {
            snprintf(err, errlen, "%s: cannot remove the stale control socket: %s", path,
                     strerror(errno));
            return K_ERR;
        }
    } else if (errno != ENOENT) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return K_ERR;
    }

    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "%s: socket: %s", path, strerror(errno));
        return K_ERR;
    }
    mode_t old = umask(077);
    int rc = bind(fd, (struct sockaddr *)&sa, sizeof sa);
    int e = errno;
    umask(old);
    if (rc != 0) {
        if (e == EADDRINUSE)
            snprintf(err, errlen, CTL_IN_USE_FMT, path);
        else
            snprintf(err, errlen, "%s: cannot create the control socket: %s", path, strerror(e));
        close(fd);
        return K_ERR;
    }
    if (chmod(path, 0600) != 0 || listen(fd, SOMAXCONN) != 0 || lstat(path, &st) != 0) {
        snprintf(err, errlen, "%s: cannot set up the control socket: %s", path, strerror(errno));
        close(fd);
        unlink(path);
        return K_ERR;
    }

    ctl_server *s = xcalloc(1, sizeof *s);
    s->l = l;
    s->fd = fd;
    memcpy(s->path, path, plen + 1);
    s->dev = st.st_dev;
    s->ino = st.st_ino;
    s->fn = fn;
    s->ud = ud;
    if (loop_watch(l, fd, LOOP_READ, ctl_accept, s) != K_OK) {
        snprintf(err, errlen, "%s: cannot watch the control socket", path);
        close(fd);
        unlink(path);
        free(s);
        return K_ERR;
    }
    *out = s;
    return K_OK;
}

void ctl_server_close(ctl_server *s)
{
    if (!s)
        return;
    for (int i = 0; i < CTL_MAX_CLIENTS; i++)
        if (s->clients[i])
            ctl_client_drop(s->clients[i]);
    if (s->resume_timer)
        loop_timer_cancel(s->l, s->resume_timer);
    loop_unwatch(s->l, s->fd);
    close(s->fd);
    struct stat st;
    if (lstat(s->path, &st) == 0 && st.st_dev == s->dev && st.st_ino == s->ino)
        unlink(s->path);
    free(s);
}

int ctl_server_client_count(const ctl_server *s) { return s ? s->nclients : 0; }

const char *ctl_server_path(const ctl_server *s) { return s ? s->path : ""; }
