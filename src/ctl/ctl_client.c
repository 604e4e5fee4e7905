/* `kestrel ctl`: sends one request line to a running Kestrel's control socket and prints the
 * one-line JSON response. A short-lived process, so it simply blocks (with poll() and one overall
 * deadline covering connect, send and receive) instead of using the event loop. The exit status
 * tells scripts what happened: 0 success, 1 an {"error":...} response or no answer, 2 misuse.
 * It trusts a reply only from a server of its own user: the default directory must be private
 * and ours, the socket file ours, and the peer's SO_PEERCRED uid ours (checked after connect,
 * so a file swapped in between is caught too). */
#include "kestrel/ctl.h"

#include "kestrel/config.h"
#include "kestrel/xmalloc.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define CTL_CLIENT_MAX_RESPONSE (64u << 20)
#define CTL_CLIENT_DEFAULT_TIMEOUT 5.0

static void ctl_client_usage(FILE *f)
{
    fputs("usage: kestrel ctl [--socket PATH] [--config FILE] [--timeout SEC] CMD [ARGS...]\n"
          "\n"
          "Sends one command to a running Kestrel over its control socket and prints the\n"
          "JSON response on one line. `kestrel ctl help` lists the commands.\n"
          "\n"
          "options:\n"
          "  --socket PATH   control socket (default: the config's control.socket, else\n"
          "                  $XDG_RUNTIME_DIR/kestrel/kestrel.sock, else\n"
          "                  /tmp/kestrel-$UID/kestrel.sock)\n"
          "  --config FILE   configuration to read control.socket from (default: the\n"
          "                  search order of kestrel itself)\n"
          "  --timeout SEC   give up after SEC seconds connecting or waiting (default 5)\n"
          "  -h, --help      show this help\n"
          "\n"
          "Only a server of your own user is trusted (socket owner and peer credentials).\n"
          "exit status: 0 response without \"error\", 1 error response, no answer or an\n"
          "untrusted server, 2 usage error. Protocol and commands: docs/CONTROL.md\n",
          f);
}

static int ctl_client_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int ctl_client_usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("kestrel ctl: ", stderr); /* one line, like every usage error of kestrel */
    vfprintf(stderr, fmt, ap);
    fputs(" (see kestrel ctl --help)\n", stderr);
    va_end(ap);
    return 2;
}

/* Milliseconds left before the deadline (>= 0). */
static int ctl_client_left(int64_t deadline)
{
    int64_t left = deadline - loop_mono_ms();
    return left < 0 ? 0 : left > 1000000000 ? 1000000000 : (int)left;
}

/* Waits for events on fd until the deadline: 1 ready, 0 timed out, -1 error. */
static int ctl_client_wait(int fd, short events, int64_t deadline)
{
    for (;;) {
        struct pollfd p = {.fd = fd, .events = events};
        int n = poll(&p, 1, ctl_client_left(deadline));
        if (n < 0 && errno == EINTR)
            continue;
        return n < 0 ? -1 : n > 0 ? 1 : 0;
    }
}

/* Checks the socket file (and, for the default path, its private directory) before connecting.
 * K_OK, or K_ERR after printing why. A missing file is left to connect() to report. */
static int ctl_client_trust_path(const char *path, bool dflt)
{
    if (dflt) {
        char dir[4096], err[4200];
        const char *slash = strrchr(path, '/');
        size_t n = slash ? (size_t)(slash - path) : 0;
        if (n > 0 && n < sizeof dir) {
            memcpy(dir, path, n);
            dir[n] = 0;
            struct stat dst;
            if (lstat(dir, &dst) == 0 && ctl_private_dir(dir, false, err, sizeof err) != CTL_OK) {
                fprintf(stderr, "kestrel ctl: %s\n", err);
                return K_ERR;
            }
        }
    }
    struct stat st;
    if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode) && st.st_uid != geteuid()) {
        fprintf(stderr,
                "kestrel ctl: %s: the socket belongs to uid %u, not to you (uid %u): not "
                "trusting it (someone may be impersonating Kestrel)\n",
                path, (unsigned)st.st_uid, (unsigned)geteuid());
        return K_ERR;
    }
    return K_OK;
}

static int ctl_client_connect(const char *path, int64_t deadline, double timeout)
{
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof sa.sun_path) {
        fprintf(stderr, "kestrel ctl: cannot connect to %s: path too long (at most %zu bytes)\n",
                path, sizeof sa.sun_path - 1);
        return -1;
    }
    memcpy(sa.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        fprintf(stderr, "kestrel ctl: socket: %s\n", strerror(errno));
        return -1;
    }
    for (;;) {
        if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0) {
            struct ucred cr;
            socklen_t crl = sizeof cr;
            if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &crl) != 0 || crl != sizeof cr) {
                fprintf(stderr, "kestrel ctl: %s: cannot read the server's credentials: %s\n", path,
                        strerror(errno));
                close(fd);
                return -1;
            }
            if (cr.uid != geteuid()) {
                fprintf(stderr,
                        "kestrel ctl: %s: the server runs as uid %u, not as you (uid %u): "
                        "not trusting it (someone may be impersonating Kestrel)\n",
                        path, (unsigned)cr.uid, (unsigned)geteuid());
                close(fd);
                return -1;
            }
            return fd;
        }
        int e = errno;
        if (e == EINTR)
            continue;
        if (e == EAGAIN && ctl_client_left(deadline) > 0) {
            poll(NULL, 0, K_MIN(10, ctl_client_left(deadline))); /* backlog full: retry */
            continue;
        }
        if (e == EAGAIN)
            fprintf(stderr, "kestrel ctl: timed out after %g s connecting to %s\n", timeout, path);
        else
            fprintf(stderr,
                    "kestrel ctl: cannot connect to %s: %s (is Kestrel running? use --socket)\n",
                    path, strerror(e));
        close(fd);
        return -1;
    }
}

/* Sends the request and reads one response line into *resp (NUL-terminated, no newline).
 * K_OK, or K_ERR after printing why. */
static int ctl_client_exchange(int fd, const char *path, const char *req, size_t reqlen,
                               int64_t deadline, double timeout, char **resp, size_t *resplen)
{
    size_t off = 0;
    while (off < reqlen) {
        ssize_t n = send(fd, req + off, reqlen - off, MSG_NOSIGNAL);
        if (n > 0) {
            off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            int w = ctl_client_wait(fd, POLLOUT, deadline);
            if (w > 0)
                continue;
            if (w == 0)
                fprintf(stderr, "kestrel ctl: timed out after %g s sending to %s\n", timeout, path);
            else
                fprintf(stderr, "kestrel ctl: %s: %s\n", path, strerror(errno));
            return K_ERR;
        }
        fprintf(stderr, "kestrel ctl: cannot send to %s: %s\n", path, strerror(errno));
        return K_ERR;
    }

    size_t cap = 4096, len = 0;
    char *buf = xmalloc(cap);
    for (;;) {
        if (len + 1 >= cap) {
            if (cap >= CTL_CLIENT_MAX_RESPONSE) {
                fprintf(stderr, "kestrel ctl: response from %s too long (over %u bytes)\n", path,
                        CTL_CLIENT_MAX_RESPONSE);
                free(buf);
                return K_ERR;
            }
            cap *= 2;
            buf = xrealloc(buf, cap);
        }
        ssize_t n = recv(fd, buf + len, cap - 1 - len, 0);
        if (n > 0) {
            char *nl = memchr(buf + len, '\n', (size_t)n);
            len += (size_t)n;
            if (nl) {
                len = (size_t)(nl - buf);
                buf[len] = 0;
                *resp = buf;
                *resplen = len;
                return K_OK;
            }
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            int w = ctl_client_wait(fd, POLLIN, deadline);
            if (w > 0)
                continue;
            if (w == 0)
                fprintf(stderr, "kestrel ctl: timed out after %g s waiting for %s\n", timeout,
                        path);
            else
                fprintf(stderr, "kestrel ctl: %s: %s\n", path, strerror(errno));
            free(buf);
            return K_ERR;
        }
        if (n == 0)
            fprintf(stderr, "kestrel ctl: %s closed the connection without a response\n", path);
        else
            fprintf(stderr, "kestrel ctl: cannot read from %s: %s\n", path, strerror(errno));
        free(buf);
        return K_ERR;
    }
}

int ctl_client_main(int argc, char **argv)
{
    const char *sock = NULL, *cfgpath = NULL;
    double timeout = CTL_CLIENT_DEFAULT_TIMEOUT;
    int i = 1;
    for (; i < argc; i++) {
        const char *a = argv[i];
        const char *val = NULL;
        if (strcmp(a, "--") == 0) {
            i++;
            break;
        }
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            ctl_client_usage(stdout);
            return 0;
        }
        if (a[0] != '-' || a[1] == 0)
            break; /* the command: everything after it is its arguments */
        const char *names[] = {"--socket", "--config", "--timeout"};
        int which = -1;
        for (int k = 0; k < 3; k++) {
            size_t nl = strlen(names[k]);
            if (strncmp(a, names[k], nl) == 0 && (a[nl] == 0 || a[nl] == '=')) {
                which = k;
                val = a[nl] == '=' ? a + nl + 1 : NULL;
            }
        }
        if (which < 0)
            return ctl_client_usage_error("unknown option '%s'", a);
        if (!val) {
            if (i + 1 >= argc)
                return ctl_client_usage_error("option '%s' needs a value", a);
            val = argv[++i];
        }
        if (which == 0) {
            sock = val;
        } else if (which == 1) {
            cfgpath = val;
        } else {
            char *end;
            errno = 0;
            timeout = strtod(val, &end);
            if (errno || end == val || *end || !isfinite(timeout) || timeout <= 0 ||
                timeout > 86400)
                return ctl_client_usage_error(
                    "--timeout needs a number of seconds > 0 and <= 86400, not '%s'", val);
        }
        if (val && !*val && which != 2)
            return ctl_client_usage_error("option '%s' needs a non-empty value", a);
    }
    if (i >= argc)
        return ctl_client_usage_error("missing command");
    const char *cmd = argv[i++];
    if (!*cmd)
        return ctl_client_usage_error("empty command");
    if (argc - i > CTL_MAX_ARGS) {
        fprintf(stderr, "kestrel ctl: too many arguments (at most %d)\n", CTL_MAX_ARGS);
        return 2;
    }

    char pathbuf[4096];
    bool dflt = false;
    if (!sock) { /* the config's control.socket, as the server reads it */
        kconfig *cfg = xmalloc(sizeof *cfg);
        char cerr[1024];
        config_defaults(cfg);
        if (config_load(cfg, cfgpath, NULL, NULL, cerr, sizeof cerr) != K_OK) {
            fprintf(stderr, "kestrel ctl: %s\n", cerr);
            free(cfg);
            return 2;
        }
        if (cfg->socket_path[0])
            sock = strcpy(pathbuf, cfg->socket_path); /* both CONFIG_PATH_MAX bounded */
        free(cfg);
    }
    if (!sock) {
        dflt = true;
        sock = ctl_default_path(pathbuf, sizeof pathbuf);
        if (!sock) {
            fprintf(stderr, "kestrel ctl: cannot work out the control socket path; use --socket\n");
            return 1;
        }
    }
    if (ctl_client_trust_path(sock, dflt) != K_OK)
        return 1;

    cJSON *req = cJSON_CreateObject();
    if (!req || !cJSON_AddStringToObject(req, "cmd", cmd)) {
        cJSON_Delete(req);
        fputs("kestrel ctl: out of memory\n", stderr);
        return 1;
    }
    if (i < argc) {
        cJSON *arr = cJSON_AddArrayToObject(req, "args");
        for (; arr && i < argc; i++) {
            cJSON *s = cJSON_CreateString(argv[i]);
            if (!s || !cJSON_AddItemToArray(arr, s)) {
                cJSON_Delete(s);
                arr = NULL;
            }
        }
        if (!arr) {
            cJSON_Delete(req);
            fputs("kestrel ctl: out of memory\n", stderr);
            return 1;
        }
    }
    char *txt = cJSON_PrintUnformatted(req);
    cJSON_Delete(req);
    if (!txt) {
        fputs("kestrel ctl: out of memory\n", stderr);
        return 1;
    }
    size_t tlen = strlen(txt);
    if (tlen > CTL_MAX_LINE) {
        cJSON_free(txt);
        fprintf(stderr, "kestrel ctl: request too long (at most %d bytes)\n", CTL_MAX_LINE);
        return 2;
    }
    char *line = xmalloc(tlen + 2);
    memcpy(line, txt, tlen);
    line[tlen] = '\n';
    line[tlen + 1] = 0;
    cJSON_free(txt);

    int64_t deadline = loop_mono_ms() + (int64_t)(timeout * 1000.0 + 0.5);
    int fd = ctl_client_connect(sock, deadline, timeout);
    if (fd < 0) {
        free(line);
        return 1;
    }
    char *resp = NULL;
    size_t rlen = 0;
    int rc = ctl_client_exchange(fd, sock, line, tlen + 1, deadline, timeout, &resp, &rlen);
    close(fd);
    free(line);
    if (rc != K_OK)
        return 1;

    int status = 0;
    cJSON *r = cJSON_ParseWithLength(resp, rlen);
    if (!cJSON_IsObject(r)) {
        fprintf(stderr, "kestrel ctl: %s sent a response that is not a JSON object\n", sock);
        status = 1;
    } else if (cJSON_GetObjectItemCaseSensitive(r, "error")) {
        status = 1;
    }
    cJSON_Delete(r);
    fwrite(resp, 1, rlen, stdout);
    fputc('\n', stdout);
    free(resp);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "kestrel ctl: cannot write the response: %s\n", strerror(errno));
        return 1;
    }
    return status;
}
