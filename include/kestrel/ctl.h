/* The control socket: a UNIX stream socket speaking one JSON request per line and one JSON
 * response per line (docs/CONTROL.md), served from the main loop, and the `kestrel ctl` client.
 * The server validates the request's shape and who is calling (same uid only); what a command
 * means is the handler's business (src/app/cmd.c's command table). A handler can answer now or
 * later (CTL_ANSWER_WAIT + ctl_reply_send), e.g. when a broker has answered. */
#ifndef KESTREL_CTL_H
#define KESTREL_CTL_H
#include "kestrel/loop.h"

#include <sys/types.h>

#define CTL_MAX_LINE 65536         /* request line cap in bytes, newline excluded */
#define CTL_MAX_ARGS 16            /* "args" entries per request */
#define CTL_MAX_CLIENTS 32         /* connections at once (the idlest is evicted for a newcomer) */
#define CTL_MAX_OUT (4u << 20)     /* unsent response bytes per client before it is dropped */
#define CTL_ERR_MAX 512            /* error message of one response */
#define CTL_IDLE_DEFAULT_MS 60000  /* control.idle_timeout default (60 s) */
#define CTL_EVICT_GRACE_MS 1000    /* a full server evicts a client idle at least this long */
#define CTL_WAIT_DEFAULT_MS 300000 /* a deferred request unanswered this long gets an error */
#define CTL_SOCK_NAME "kestrel.sock"

/* Results of the control socket's functions (0 = success). */
typedef enum ctl_result {
    CTL_OK = 0,
    CTL_ERR_PATH,       /* socket path empty, too long, or not computable */
    CTL_ERR_IN_USE,     /* another Kestrel (of this user) listens on the path */
    CTL_ERR_NOT_SOCKET, /* the path exists and is not a socket: never removed */
    CTL_ERR_FOREIGN,    /* the socket or its private directory belongs to another user */
    CTL_ERR_UNSAFE,     /* the private directory is a symlink, not a directory, or not 0700 */
    CTL_ERR_SYS,        /* a system call failed (the message names it) */
    CTL_ERR_ARG,        /* a bad argument (no handler, NULL json, ...) */
    CTL_ERR_GONE,       /* deferred reply: the client left (or the token is unknown) */
    CTL_ERR_OVERFLOW,   /* deferred reply: the client's output cap was passed (it is dropped) */
} ctl_result;
const char *ctl_strerror(ctl_result r);

typedef struct ctl_server ctl_server;
struct cJSON;

/* What a handler says about one request. */
enum ctl_answer {
    CTL_ANSWER_OK = 0, /* rq->out is the response (the server takes it; NULL = out of memory) */
    CTL_ANSWER_ERROR,  /* rq->err is the message: {"error": err} ("command failed" if empty) */
    CTL_ANSWER_WAIT,   /* the reply comes later through ctl_reply_send(rq->token, ...) */
};

/* Called when a deferred request is abandoned (its client left, or the server closes) before
 * ctl_reply_send: the handler frees what it kept for the reply (timers, state). */
typedef void (*ctl_cancel_fn)(void *cancel_ud, uint64_t token);

/* One well-formed request, on the loop thread. argv[0] is "cmd", argv[1..argc-1] the "args"
 * (argc >= 1; the strings live until the handler returns). */
typedef struct ctl_req {
    int argc;
    const char *const *argv;
    uint64_t token; /* names this request for ctl_reply_send (never 0, never reused) */
    uid_t peer_uid; /* SO_PEERCRED of the client (always the server's uid) */
    pid_t peer_pid;
    struct cJSON *out; /* CTL_ANSWER_OK: the response object */
    char err[CTL_ERR_MAX];
    ctl_cancel_fn cancel; /* CTL_ANSWER_WAIT: optional, see ctl_cancel_fn */
    void *cancel_ud;
} ctl_req;

/* The handler must not close the server. While a client's request waits, its later requests
 * wait behind it (responses stay in request order); other clients are served as usual. */
typedef enum ctl_answer (*ctl_handler_fn)(void *ud, ctl_req *rq);

typedef struct ctl_opts {
    const char *path;    /* NULL or "": the default (ctl_default_path), in a private directory
                            that is created 0700 if missing and checked to be ours */
    int idle_timeout_ms; /* a client with nothing in flight this long is closed; 0 = default */
    int wait_timeout_ms; /* a deferred request unanswered this long is cancelled and answered
                            {"error":"no reply within N s"}; 0 = CTL_WAIT_DEFAULT_MS */
} ctl_opts;

/* Creates the socket (mode 0600) and watches it on l. An existing socket file that nothing
 * listens on (stale, ours) is replaced; a live one is CTL_ERR_IN_USE ("PATH: another Kestrel is
 * running (control socket in use; give this one its own --socket)"); a socket or private
 * directory of another user is CTL_ERR_FOREIGN; a file that is not a socket CTL_ERR_NOT_SOCKET;
 * a path too long for sun_path CTL_ERR_PATH. For an explicit path the parent directory must
 * exist. Note: it briefly sets the process umask to 077 around bind(). err gets the message. */
K_MUST_USE ctl_result ctl_server_open(ctl_server **out, loop *l, const ctl_opts *o,
                                      ctl_handler_fn fn, void *ud, char *err, size_t errlen);
/* Disconnects every client (cancelling deferred requests), stops watching, and unlinks the
 * socket path if it is still the socket this server created. NULL is a no-op. */
void ctl_server_close(ctl_server *s);
/* Number of connected clients. */
int ctl_server_client_count(const ctl_server *s);
/* Number of requests waiting for a deferred reply. */
int ctl_server_waiting_count(const ctl_server *s);
/* The socket path the server listens on. */
const char *ctl_server_path(const ctl_server *s);
/* The control section of the status document: {"path","clients","waiting","idle_timeout_ms",
 * "idle_closed","evicted","refused_full","refused_peers","wait_timeouts"}. false if an
 * allocation failed. */
bool ctl_server_status(const ctl_server *s, struct cJSON *into);

/* Answers a deferred request with json (taken in every case: sent, or deleted). CTL_ERR_GONE
 * when the client has left (or the token is unknown); CTL_ERR_OVERFLOW when the client does not
 * read its responses (it is dropped). json NULL answers {"error":"out of memory"}. */
K_MUST_USE ctl_result ctl_reply_send(ctl_server *s, uint64_t token, struct cJSON *json);
/* Answers a deferred request with {"error": msg}. */
K_MUST_USE ctl_result ctl_reply_error(ctl_server *s, uint64_t token, const char *msg);

/* The default socket path: $XDG_RUNTIME_DIR/kestrel/kestrel.sock when that variable is an
 * absolute path, else /tmp/kestrel-$UID/kestrel.sock ($TMPDIR is not used: it may be shared
 * differently between the server and the client). Returns buf, or NULL (buf = "") if it does
 * not fit in cap. */
const char *ctl_default_path(char *buf, size_t cap);
/* Creates (0700) or checks the directory dir: it must be a real directory (not a symlink),
 * owned by this uid, with no group/other permissions. */
K_MUST_USE ctl_result ctl_private_dir(const char *dir, bool create, char *err, size_t errlen);

/* `kestrel ctl [--socket PATH] [--config FILE] [--timeout SEC] CMD [ARGS...]`, argv[0] = "ctl".
 * Without --socket the path is the config's control.socket, else the default. Before trusting a
 * reply it checks the socket file belongs to this uid and the server (SO_PEERCRED) runs as this
 * uid. Prints the one-line JSON response to stdout. Exit status: 0 if the response has no
 * "error" key, 1 if it has one or on a connection/timeout/trust failure, 2 for usage errors. */
int ctl_client_main(int argc, char **argv);

/* Parses one request line (without the newline): a JSON object {"cmd":"x","args":["a",...]}.
 * K_OK: argv[0] = cmd, argv[1..] = args (argv has room for 1 + CTL_MAX_ARGS), pointing into
 * *root, which the caller frees with cJSON_Delete. K_ERR: *why says what is wrong; *root may
 * be non-NULL and must still be freed. Pure: no I/O (fuzzed by tests/fuzz/fuzz_ctl.c). */
int ctl_parse_request(const char *line, size_t len, struct cJSON **root, int *argc,
                      const char **argv, const char **why);

#endif
