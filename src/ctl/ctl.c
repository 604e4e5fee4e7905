/* Control socket server: a UNIX stream socket on the main loop, one JSON request per line in,
 * one JSON response per line out (docs/CONTROL.md).
 *
 * Shape and why:
 * - Everything is non-blocking and driven by loop watchers, so no client can stall the loop:
 *   each client has an input buffer capped at one request line (CTL_MAX_LINE + newline) and an
 *   output buffer capped at CTL_MAX_OUT. A line over the cap gets an error response and the
 *   connection is closed once it is flushed; a client that sends requests but does not read the
 *   responses is dropped when its unsent output would pass the cap.
 * - Who may talk to it: the socket lives in a private directory (0700, ours) unless the user
 *   names a path; the socket file is 0600 (umask 077 around bind, then chmod); every accepted
 *   peer is checked with SO_PEERCRED and one of another uid is told so and closed. A socket file
 *   of another user at the path is reported as such, never as "another Kestrel".
 * - Staying reachable: a client with nothing in flight (no partial request, no unsent output, no
 *   deferred reply) for control.idle_timeout is closed by a sweep timer; when all
 *   CTL_MAX_CLIENTS slots are taken, a newcomer evicts the client idle the longest (at least
 *   CTL_EVICT_GRACE_MS), and only when every client is busy is it refused.
 * - Deferred replies: a handler may answer CTL_ANSWER_WAIT; the client's request is then named
 *   by a token (never reused) and later lines from that client wait, so responses keep request
 *   order. ctl_reply_send() answers; a client that leaves first has the handler's cancel hook
 *   called, so the handler frees what it kept. A request nobody answers within the wait
 *   timeout is cancelled the same way and answered with an error, so no slot waits forever.
 * - The server checks only the envelope ({"cmd": string, "args": [string...]}) and answers
 *   malformed requests itself with {"error": ...}; meaning belongs to the handler.
 * - Responses are printed unformatted, so a response is always exactly one line (cJSON escapes
 *   control characters inside strings).
 * - A leftover socket from a crashed run is detected by a refused connect and replaced; a live
 *   one is never touched, and close unlinks the path only if it is still the socket this server
 *   bound (same dev/inode).
 * - If accept() runs out of fds the listener is paused for a moment (a timer) rather than
 *   letting level-triggered poll() spin on it. */
#include "kestrel/ctl.h"

#include "kestrel/xmalloc.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
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
#define CTL_SEND_EARLY (64 * 1024)
#define CTL_SWEEP_MAX_MS 1000
#define CTL_SWEEP_MIN_MS 10
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
    bool eof;     /* the peer is done sending (lines still buffered may follow) */
    unsigned watched;
    int64_t active_ms; /* last request, response or byte in */
    uid_t uid;
    pid_t pid;
    uint64_t wait_token; /* != 0: a deferred request of this client is waiting */
    int64_t wait_ms;     /* since when */
    ctl_cancel_fn cancel;
    void *cancel_ud;
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
    int nwaiting;
    uint64_t resume_timer, sweep_timer;
    uint64_t next_token;
    int idle_ms, wait_max_ms;
    uint64_t idle_closed, evicted, refused_peers, refused_full, wait_timeouts;
};

const char *ctl_strerror(ctl_result r)
{
    switch (r) {
    case CTL_OK:
        return "ok";
    case CTL_ERR_PATH:
        return "bad control socket path";
    case CTL_ERR_IN_USE:
        return "control socket in use by another Kestrel";
    case CTL_ERR_NOT_SOCKET:
        return "path exists and is not a socket";
    case CTL_ERR_FOREIGN:
        return "control socket or directory belongs to another user";
    case CTL_ERR_UNSAFE:
        return "control socket directory is not private";
    case CTL_ERR_SYS:
        return "system call failed";
    case CTL_ERR_ARG:
        return "bad argument";
    case CTL_ERR_GONE:
        return "the client has left";
    case CTL_ERR_OVERFLOW:
        return "the client does not read its responses";
    }
    return "unknown control socket result";
}

/* ---- default path and the private directory ---- */

const char *ctl_default_path(char *buf, size_t cap)
{
    if (!buf || !cap)
        return NULL;
    const char *rt = getenv("XDG_RUNTIME_DIR");
    int n;
    if (rt && rt[0] == '/') /* only an absolute XDG directory counts (XDG spec) */
        n = snprintf(buf, cap, "%s/kestrel/" CTL_SOCK_NAME, rt);
    else
        n = snprintf(buf, cap, "/tmp/kestrel-%u/" CTL_SOCK_NAME, (unsigned)geteuid());
    if (n < 0 || (size_t)n >= cap) {
        buf[0] = 0;
        return NULL;
    }
    return buf;
}

ctl_result ctl_private_dir(const char *dir, bool create, char *err, size_t errlen)
{
    struct stat st;
    if (lstat(dir, &st) != 0) {
        if (errno != ENOENT || !create) {
            snprintf(err, errlen, "%s: %s", dir, strerror(errno));
            return CTL_ERR_SYS;
        }
        if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
            snprintf(err, errlen, "%s: cannot create the control socket directory: %s", dir,
                     strerror(errno));
            return CTL_ERR_SYS;
        }
        if (lstat(dir, &st) != 0) {
            snprintf(err, errlen, "%s: %s", dir, strerror(errno));
            return CTL_ERR_SYS;
        }
    }
    if (S_ISLNK(st.st_mode) || !S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "%s: the control socket directory is %s (refusing to use it)", dir,
                 S_ISLNK(st.st_mode) ? "a symbolic link" : "not a directory");
        return CTL_ERR_UNSAFE;
    }
    if (st.st_uid != geteuid()) {
        snprintf(err, errlen,
                 "%s: the control socket directory belongs to uid %u, not to you (uid %u): "
                 "refusing to use it (someone may be impersonating Kestrel)",
                 dir, (unsigned)st.st_uid, (unsigned)geteuid());
        return CTL_ERR_FOREIGN;
    }
    if (st.st_mode & 077) {
        snprintf(err, errlen,
                 "%s: the control socket directory has mode %03o, not 0700 (refusing to use it)",
                 dir, (unsigned)(st.st_mode & 0777));
        return CTL_ERR_UNSAFE;
    }
    return CTL_OK;
}

/* Creates the parent of the default socket path: $XDG_RUNTIME_DIR/kestrel or /tmp/kestrel-UID. */
static ctl_result ctl_default_dir(const char *sock, char *err, size_t errlen)
{
    char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
    const char *slash = strrchr(sock, '/');
    size_t n = slash ? (size_t)(slash - sock) : 0;
    if (n == 0 || n >= sizeof dir) {
        snprintf(err, errlen, "%s: no directory in the control socket path", sock);
        return CTL_ERR_PATH;
    }
    memcpy(dir, sock, n);
    dir[n] = 0;
    return ctl_private_dir(dir, true, err, errlen);
}

/* ---- clients ---- */

static void ctl_client_io(loop *l, int fd, unsigned events, void *ud);
static bool ctl_client_process(ctl_client *c);

static void ctl_client_drop(ctl_client *c)
{
    ctl_server *s = c->srv;
    if (c->wait_token) {
        s->nwaiting--;
        ctl_cancel_fn fn = c->cancel;
        uint64_t tok = c->wait_token;
        c->wait_token = 0;
        c->cancel = NULL;
        if (fn)
            fn(c->cancel_ud, tok);
    }
    if (c->watched)
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
    char *txt = v ? cJSON_PrintUnformatted(v) : NULL;
    if (!txt)
        return ctl_client_queue(c, "{\"error\":\"out of memory\"}\n", 26);
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

/* Checks the envelope and runs the handler; queues exactly one response line, or none when the
 * handler defers (c->wait_token set). false if the output cap was passed. */
static bool ctl_client_request(ctl_client *c, char *line, size_t len)
{
    c->active_ms = loop_mono_ms();
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
        ctl_server *s = c->srv;
        ctl_req *rq = xcalloc(1, sizeof *rq); /* 600 bytes: kept off the loop's stack */
        rq->argc = argc;
        rq->argv = argv;
        rq->token = ++s->next_token;
        rq->peer_uid = c->uid;
        rq->peer_pid = c->pid;
        enum ctl_answer ans = s->fn(s->ud, rq);
        if (ans == CTL_ANSWER_WAIT) {
            c->wait_token = rq->token;
            c->wait_ms = loop_mono_ms();
            c->cancel = rq->cancel;
            c->cancel_ud = rq->cancel_ud;
            s->nwaiting++;
            cJSON_Delete(rq->out);
            ok = true;
        } else if (ans == CTL_ANSWER_OK) {
            ok = ctl_client_queue_json(c, rq->out); /* NULL: "out of memory" */
            cJSON_Delete(rq->out);
        } else {
            rq->err[sizeof rq->err - 1] = 0;
            cJSON_Delete(rq->out);
            ok = ctl_client_queue_error(c, rq->err[0] ? rq->err : "command failed");
        }
        free(rq);
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
    /* read while there is room; a waiting client may fill its buffer, then it is left alone */
    bool can_read = !c->closing && !c->eof && !(c->wait_token && c->nin >= CTL_MAX_LINE + 1);
    unsigned want = (can_read ? LOOP_READ : 0) | (c->nout > c->outoff ? LOOP_WRITE : 0);
    if (want != c->watched) {
        if (want && loop_watch(c->srv->l, c->fd, want, ctl_client_io, c) != K_OK) {
            ctl_client_drop(c);
            return false;
        }
        if (!want)
            loop_unwatch(c->srv->l, c->fd);
        c->watched = want;
    }
    return true;
}

/* Answers every complete buffered line (stopping at a deferred one), then the last line of a
 * finished peer. false if the client is gone (dropped). */
static bool ctl_client_process(ctl_client *c)
{
    size_t start = 0;
    char *nl;
    while (!c->wait_token && (nl = memchr(c->in + start, '\n', c->nin - start)) != NULL) {
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
        start = end + 1;
    }
    if (start > 0) {
        memmove(c->in, c->in + start, c->nin - start);
        c->nin -= start;
    }
    if (c->nin == 0 && c->incap > CTL_IN_START) { /* after a long line: back to small */
        c->in = xrealloc(c->in, CTL_IN_START);
        c->incap = CTL_IN_START;
    }
    if (c->eof && !c->wait_token && !c->closing) {
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
            c->nin = 0;
        }
        if (!c->wait_token)
            c->closing = true;
    } else if (!c->wait_token && c->nin > CTL_MAX_LINE) {
        c->nin = 0;
        c->closing = true;
        if (!ctl_client_queue_error(c, "request line too long (max 65536 bytes)")) {
            ctl_client_drop(c);
            return false;
        }
    }
    return ctl_client_flush(c);
}

/* Reads once, answers every complete line. false if the client is gone (dropped). */
static bool ctl_client_read(ctl_client *c)
{
    if (c->nin == c->incap) {
        size_t cap = c->incap * 2;
        if (cap > CTL_MAX_LINE + 1)
            cap = CTL_MAX_LINE + 1;
        if (cap > c->incap) {
            c->in = xrealloc(c->in, cap);
            c->incap = cap;
        }
    }
    if (c->nin < c->incap) {
        ssize_t n = read(c->fd, c->in + c->nin, c->incap - c->nin);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                return true;
            ctl_client_drop(c);
            return false;
        }
        if (n == 0) {
            c->eof = true;
            /* A peer that closed (not just shut down its sending side) cannot take a deferred
             * reply: drop it now, so the handler's cancel hook runs at once. */
            struct pollfd p = {.fd = c->fd, .events = POLLOUT};
            if (c->wait_token && poll(&p, 1, 0) == 1 && (p.revents & (POLLHUP | POLLERR))) {
                ctl_client_drop(c);
                return false;
            }
        }
        c->nin += (size_t)n;
        c->active_ms = loop_mono_ms();
    }
    return ctl_client_process(c);
}

static void ctl_client_io(loop *l, int fd, unsigned events, void *ud)
{
    (void)l;
    (void)fd;
    ctl_client *c = ud;
    if ((events & LOOP_WRITE) && !ctl_client_flush(c))
        return;
    if ((events & LOOP_READ) && !c->closing && !c->eof)
        ctl_client_read(c);
}

static ctl_client *ctl_client_of_token(ctl_server *s, uint64_t token)
{
    if (!s || !token)
        return NULL;
    for (int i = 0; i < CTL_MAX_CLIENTS; i++)
        if (s->clients[i] && s->clients[i]->wait_token == token)
            return s->clients[i];
    return NULL;
}

ctl_result ctl_reply_send(ctl_server *s, uint64_t token, cJSON *json)
{
    ctl_client *c = ctl_client_of_token(s, token);
    if (!c) {
        cJSON_Delete(json);
        return CTL_ERR_GONE;
    }
    c->wait_token = 0;
    c->cancel = NULL;
    c->cancel_ud = NULL;
    s->nwaiting--;
    c->active_ms = loop_mono_ms();
    bool ok = ctl_client_queue_json(c, json);
    cJSON_Delete(json);
    if (!ok) {
        ctl_client_drop(c);
        return CTL_ERR_OVERFLOW;
    }
    ctl_client_process(c); /* the lines that waited behind it; may drop the client */
    return CTL_OK;
}

ctl_result ctl_reply_error(ctl_server *s, uint64_t token, const char *msg)
{
    cJSON *o = cJSON_CreateObject();
    if (o && !cJSON_AddStringToObject(o, "error", msg && *msg ? msg : "command failed")) {
        cJSON_Delete(o);
        o = NULL;
    }
    return ctl_reply_send(s, token, o);
}

/* ---- idle clients ---- */

/* Nothing in flight: no partial request, no unsent output, no deferred reply. */
static bool ctl_client_idle(const ctl_client *c)
{
    return !c->wait_token && c->nin == 0 && c->nout == c->outoff && !c->closing;
}

static void ctl_sweep(loop *l, uint64_t id, void *ud);

static int ctl_sweep_interval(const ctl_server *s)
{
    int iv = K_MIN(s->idle_ms, s->wait_max_ms) / 4;
    return iv < CTL_SWEEP_MIN_MS ? CTL_SWEEP_MIN_MS : iv > CTL_SWEEP_MAX_MS ? CTL_SWEEP_MAX_MS : iv;
}

static void ctl_sweep(loop *l, uint64_t id, void *ud)
{
    (void)id;
    ctl_server *s = ud;
    int64_t now = loop_mono_ms();
    for (int i = 0; i < CTL_MAX_CLIENTS; i++) {
        ctl_client *c = s->clients[i];
        if (c && ctl_client_idle(c) && now - c->active_ms >= s->idle_ms) {
            s->idle_closed++;
            ctl_client_drop(c);
        } else if (c && c->wait_token && now - c->wait_ms >= s->wait_max_ms) {
            /* the handler never answered: cancel its work, tell the client, go on */
            uint64_t tok = c->wait_token;
            ctl_cancel_fn fn = c->cancel;
            void *cud = c->cancel_ud;
            c->cancel = NULL;
            s->wait_timeouts++;
            char msg[64];
            snprintf(msg, sizeof msg, "no reply within %d s", (s->wait_max_ms + 999) / 1000);
            if (fn)
                fn(cud, tok);
            ctl_result r = ctl_reply_error(s, tok, msg); /* may drop the client */
            (void)r;
        }
    }
    s->sweep_timer = loop_timer_add(l, ctl_sweep_interval(s), ctl_sweep, s);
}

/* The client idle the longest, if it has been idle at least the grace; else NULL. */
static ctl_client *ctl_idlest(ctl_server *s)
{
    int64_t now = loop_mono_ms();
    ctl_client *best = NULL;
    for (int i = 0; i < CTL_MAX_CLIENTS; i++) {
        ctl_client *c = s->clients[i];
        if (c && ctl_client_idle(c) && now - c->active_ms >= CTL_EVICT_GRACE_MS &&
            (!best || c->active_ms < best->active_ms))
            best = c;
    }
    return best;
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

static void ctl_refuse(int cfd, const char *msg)
{
    char line[CTL_ERR_MAX + 32];
    int n = snprintf(line, sizeof line, "{\"error\":\"%s\"}\n", msg);
    if (n > 0 && (size_t)n < sizeof line) {
        ssize_t w = send(cfd, line, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
        (void)w;
    }
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
        struct ucred cr;
        socklen_t crl = sizeof cr;
        if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &cr, &crl) != 0 || crl != sizeof cr ||
            cr.uid != geteuid()) {
            s->refused_peers++;
            ctl_refuse(cfd, "permission denied: this Kestrel answers only its own user");
            continue;
        }
        if (s->nclients >= CTL_MAX_CLIENTS) {
            ctl_client *victim = ctl_idlest(s);
            if (!victim) {
                s->refused_full++;
                ctl_refuse(cfd, "too many control clients (at most 32)");
                continue;
            }
            s->evicted++;
            ctl_client_drop(victim);
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
        c->active_ms = loop_mono_ms();
        c->uid = cr.uid;
        c->pid = cr.pid;
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

ctl_result ctl_server_open(ctl_server **out, loop *l, const ctl_opts *o, ctl_handler_fn fn,
                           void *ud, char *err, size_t errlen)
{
    *out = NULL;
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    if (!fn || !o) {
        snprintf(err, errlen, "control socket: no handler");
        return CTL_ERR_ARG;
    }
    char defbuf[sizeof sa.sun_path];
    const char *path = o->path;
    bool dflt = !path || !*path;
    if (dflt) {
        path = ctl_default_path(defbuf, sizeof defbuf);
        if (!path) {
            snprintf(err, errlen,
                     "the default control socket path is too long "
                     "(set XDG_RUNTIME_DIR shorter, or give --socket)");
            return CTL_ERR_PATH;
        }
        ctl_result r = ctl_default_dir(path, err, errlen);
        if (r != CTL_OK)
            return r;
    }
    size_t plen = strlen(path);
    if (plen >= sizeof sa.sun_path) {
        snprintf(err, errlen,
                 "%s: control socket path too long (%zu bytes, at most %zu for a Unix socket)",
                 path, plen, sizeof sa.sun_path - 1);
        return CTL_ERR_PATH;
    }
    memcpy(sa.sun_path, path, plen + 1);

    struct stat st;
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            snprintf(err, errlen, "%s: exists and is not a socket (not removing it)", path);
            return CTL_ERR_NOT_SOCKET;
        }
        if (st.st_uid != geteuid()) {
            snprintf(err, errlen,
                     "%s: the control socket belongs to uid %u, not to you (uid %u): "
                     "refusing to use it (someone may be impersonating Kestrel; give --socket)",
                     path, (unsigned)st.st_uid, (unsigned)geteuid());
            return CTL_ERR_FOREIGN;
        }
        int e = 0;
        int live = ctl_probe(&sa, &e);
        if (live > 0) {
            snprintf(err, errlen, CTL_IN_USE_FMT, path);
            return CTL_ERR_IN_USE;
        }
        if (live < 0) {
            snprintf(err, errlen, "%s: cannot check the existing control socket: %s", path,
                     strerror(e));
            return CTL_ERR_SYS;
        }
        if (unlink(path) != 0 && errno != ENOENT) {
            snprintf(err, errlen, "%s: cannot remove the stale control socket: %s", path,
                     strerror(errno));
            return CTL_ERR_SYS;
        }
    } else if (errno != ENOENT) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return CTL_ERR_SYS;
    }

    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "%s: socket: %s", path, strerror(errno));
        return CTL_ERR_SYS;
    }
    mode_t old = umask(077);
    int rc = bind(fd, (struct sockaddr *)&sa, sizeof sa);
    int e = errno;
    umask(old);
    if (rc != 0) {
        ctl_result r = CTL_ERR_SYS;
        if (e == EADDRINUSE) {
            snprintf(err, errlen, CTL_IN_USE_FMT, path);
            r = CTL_ERR_IN_USE;
        } else {
            snprintf(err, errlen, "%s: cannot create the control socket: %s", path, strerror(e));
        }
        close(fd);
        return r;
    }
    if (chmod(path, 0600) != 0 || listen(fd, SOMAXCONN) != 0 || lstat(path, &st) != 0) {
        snprintf(err, errlen, "%s: cannot set up the control socket: %s", path, strerror(errno));
        close(fd);
        unlink(path);
        return CTL_ERR_SYS;
    }

    ctl_server *s = xcalloc(1, sizeof *s);
    s->l = l;
    s->fd = fd;
    memcpy(s->path, path, plen + 1);
    s->dev = st.st_dev;
    s->ino = st.st_ino;
    s->fn = fn;
    s->ud = ud;
    s->idle_ms = o->idle_timeout_ms > 0 ? o->idle_timeout_ms : CTL_IDLE_DEFAULT_MS;
    s->wait_max_ms = o->wait_timeout_ms > 0 ? o->wait_timeout_ms : CTL_WAIT_DEFAULT_MS;
    if (loop_watch(l, fd, LOOP_READ, ctl_accept, s) != K_OK) {
        snprintf(err, errlen, "%s: cannot watch the control socket", path);
        close(fd);
        unlink(path);
        free(s);
        return CTL_ERR_SYS;
    }
    s->sweep_timer = loop_timer_add(l, ctl_sweep_interval(s), ctl_sweep, s);
    *out = s;
    return CTL_OK;
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
    if (s->sweep_timer)
        loop_timer_cancel(s->l, s->sweep_timer);
    loop_unwatch(s->l, s->fd);
    close(s->fd);
    struct stat st;
    if (lstat(s->path, &st) == 0 && st.st_dev == s->dev && st.st_ino == s->ino)
        unlink(s->path);
    free(s);
}

int ctl_server_client_count(const ctl_server *s)
{
    return s ? s->nclients : 0;
}

int ctl_server_waiting_count(const ctl_server *s)
{
    return s ? s->nwaiting : 0;
}

const char *ctl_server_path(const ctl_server *s)
{
    return s ? s->path : "";
}

bool ctl_server_status(const ctl_server *s, cJSON *into)
{
    if (!s || !into)
        return s == NULL;
    cJSON *o = cJSON_AddObjectToObject(into, "control");
    return o && cJSON_AddStringToObject(o, "path", s->path) &&
           cJSON_AddNumberToObject(o, "clients", s->nclients) &&
           cJSON_AddNumberToObject(o, "waiting", s->nwaiting) &&
           cJSON_AddNumberToObject(o, "idle_timeout_ms", s->idle_ms) &&
           cJSON_AddNumberToObject(o, "idle_closed", (double)s->idle_closed) &&
           cJSON_AddNumberToObject(o, "evicted", (double)s->evicted) &&
           cJSON_AddNumberToObject(o, "refused_full", (double)s->refused_full) &&
           cJSON_AddNumberToObject(o, "refused_peers", (double)s->refused_peers) &&
           cJSON_AddNumberToObject(o, "wait_timeouts", (double)s->wait_timeouts);
}
