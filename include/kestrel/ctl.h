/* The control socket: a UNIX stream socket speaking one JSON request per line and one JSON
 * response per line (docs/CONTROL.md), served from the main loop, and the `kestrel ctl` client.
 * The server validates the request's shape; what a command means is the handler's business. */
#ifndef KESTREL_CTL_H
#define KESTREL_CTL_H
#include "kestrel/loop.h"

#define CTL_MAX_LINE 65536          /* request line cap in bytes, newline excluded */
#define CTL_MAX_ARGS 16             /* "args" entries per request */
#define CTL_MAX_CLIENTS 32          /* connections at once; more get an error and are closed */
#define CTL_MAX_OUT (4u << 20)      /* unsent response bytes per client before it is dropped */

typedef struct ctl_server ctl_server;
struct cJSON;

/* Called on the loop thread for each well-formed request: argv[0] is "cmd", argv[1..argc-1] the
 * "args" strings (argc >= 1; the strings live until the handler returns). Returns a JSON object
 * that becomes the response (the server takes ownership and deletes it), or NULL with a message
 * in err (e.g. "unknown command: foo"), which becomes {"error": err}. The handler must not close
 * the server. */
typedef struct cJSON *(*ctl_handler_fn)(void *ud, int argc, const char *const *argv, char *err,
                                        size_t errlen);

/* Creates the socket at path (mode 0600) and watches it on l. An existing socket file that
 * nothing listens on (stale) is replaced; a live one is an error ("PATH: another Kestrel is
 * running (control socket in use; give this one its own --socket)"), as is an existing file
 * that is not a socket or a path too long for sun_path. The parent directory must exist. Note: it
 * briefly sets the process umask to 077 around bind(). K_OK with *out set, or K_ERR with err
 * filled. */
int ctl_server_open(ctl_server **out, loop *l, const char *path, ctl_handler_fn fn, void *ud,
                    char *err, size_t errlen);
/* Disconnects every client, stops watching, and unlinks the socket path if it is still the
 * socket this server created. NULL is a no-op. */
void ctl_server_close(ctl_server *s);
/* Number of connected clients. */
int ctl_server_client_count(const ctl_server *s);
/* The socket path the server listens on. */
const char *ctl_server_path(const ctl_server *s);

/* The default socket path: $XDG_RUNTIME_DIR/kestrel.sock when that variable is an absolute path,
 * else kestrel.sock in the directory of db_path (db_path NULL or "": config_default_db_path(),
 * the database a Kestrel started without --db uses). Returns buf, or NULL (buf = "") if it does
 * not fit in cap. */
const char *ctl_default_path(char *buf, size_t cap, const char *db_path);

/* `kestrel ctl [--socket PATH] [--db FILE] [--timeout SEC] CMD [ARGS...]`, argv[0] = "ctl".
 * Prints the one-line JSON response to stdout. Exit status: 0 if the response has no "error"
 * key, 1 if it has one or on a connection/timeout failure, 2 for usage errors. */
int ctl_client_main(int argc, char **argv);

/* Parses one request line (without the newline): a JSON object {"cmd":"x","args":["a",...]}.
 * K_OK: argv[0] = cmd, argv[1..] = args (argv has room for 1 + CTL_MAX_ARGS), pointing into
 * *root, which the caller frees with cJSON_Delete. K_ERR: *why says what is wrong; *root may
 * be non-NULL and must still be freed. Pure: no I/O (fuzzed by tests/fuzz/fuzz_ctl.c). */
int ctl_parse_request(const char *line, size_t len, struct cJSON **root, int *argc,
                      const char **argv, const char **why);

#endif
