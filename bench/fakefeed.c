/* fakefeed: the live_loopback bench's market-data source, a loopback Binance (spot and USD-M)
 * websocket + REST server in C, because the Python fake (tests/fake/) sends ~25-60k msgs/s and
 * the bench must be able to show 500k. It owns nothing of Kestrel and links nothing of it.
 *
 * Data: the real captures of ../shared/data/binance/streams (spot BTCUSDT / ETHUSDT 08+09, USD-M
 * BTCUSDT / ETHUSDT), loaded once, every `stream` line kept byte for byte as the frame payload
 * (pre-framed: only the websocket header is written per send). Many symbol names: alias k of a
 * tape is the same lines under the name <first 5 letters><k, 2 digits> (BTCUS07, ETHUS42; alias
 * 0 is the real name): the symbol's byte offsets in each line are recorded at load and patched
 * while copying into the send buffer (same length, so nothing is re-encoded). No market data is
 * made up: every frame is a recorded one.
 *
 * Book sync: the REST depth answer is the capture's own snapshot line, so a client syncs exactly
 * as the recording client did. A subscription carrying depth streams the capture up to that
 * line (the diffs a client buffers), then waits until that alias's snapshot has been served over
 * REST, then streams the rest. Plain ws:// and http:// on 127.0.0.1 only; RFC 6455 server framing
 * by hand (text frames, unmasked, no extensions); client frames are read, and a SUBSCRIBE
 * (streams past the URL's room) adds its streams and is answered {"result":null,"id":N}.
 *
 * Flow: --rate 0 writes as fast as the sockets take it (1 MB send buffer per connection, refilled
 * round-robin over its subscriptions); --rate R spreads R msgs/s over the connections (a sustained
 * load below saturation, for latency). (Stalls are the Python fake's: bench_live_loopback uses it
 * for those.) Bounded: exits after --lifetime seconds or when --parent is gone.
 *
 * Usage: fakefeed --data DIR --port-file F [--aliases N] [--rate R] [--max-lines N]
 *                 [--lifetime S] [--parent PID] */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#define FAKEFEED_MAX_CONNS 256
#define FAKEFEED_MAX_SUBS 128
#define FAKEFEED_MAX_ALIASES 100
#define FAKEFEED_OUT_CAP (1u << 20)
#define FAKEFEED_IN_CAP 16384
#define FAKEFEED_NSYMOFF 4
enum { FAKEFEED_DEPTH = 1, FAKEFEED_TRADE = 2, FAKEFEED_BOOKT = 4 };

typedef struct fakefeed_frame {
    uint32_t off, len; /* in the tape's buffer */
    uint8_t kind, nsym;
    uint32_t sym[FAKEFEED_NSYMOFF]; /* offsets of the symbol in the line; bit 31: upper case */
} fakefeed_frame;

typedef struct fakefeed_tape {
    bool usdm;
    char upper[8], lower[8]; /* "BTCUSDT", "btcusdt" */
    char *buf;
    size_t len, cap;
    fakefeed_frame *fr;
    uint32_t n, cap_fr, snap_at; /* snap_at: the first frame after the snapshot line */
    char *snap;
    size_t snap_len;
    bool served[FAKEFEED_MAX_ALIASES];
} fakefeed_tape;

typedef struct fakefeed_sub {
    int tape, alias;
    unsigned kinds;
    uint32_t pos;
} fakefeed_sub;

typedef struct fakefeed_conn {
    int fd;
    bool ws, close_after;
    char path[64];
    char in[FAKEFEED_IN_CAP];
    size_t inlen;
    unsigned char *out;
    size_t outlen, outoff;
    fakefeed_sub subs[FAKEFEED_MAX_SUBS];
    int nsubs, rr;
    uint64_t sent;
} fakefeed_conn;

typedef struct fakefeed {
    fakefeed_tape tapes[4];
    int ntapes, aliases;
    long rate, max_lines;
    fakefeed_conn conns[FAKEFEED_MAX_CONNS];
    uint64_t total_sent;
} fakefeed;

static double fakefeed_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void fakefeed_append(fakefeed_tape *t, const char *s, size_t n)
{
    if (t->len + n > t->cap) {
        while (t->len + n > t->cap)
            t->cap = t->cap ? t->cap * 2 : 1u << 24;
        t->buf = realloc(t->buf, t->cap);
        if (!t->buf)
            exit(3);
    }
    memcpy(t->buf + t->len, s, n);
    t->len += n;
}

/* One capture file into tape t (the frames after its other files' ones). */
static int fakefeed_load_file(fakefeed *f, fakefeed_tape *t, const char *path)
{
    gzFile g = gzopen(path, "rb");
    if (!g)
        return -1;
    static char line[1 << 20];
    while (gzgets(g, line, sizeof line)) {
        if (f->max_lines > 0 && t->n >= (uint32_t)f->max_lines)
            break;
        char *js = strchr(line, ' ');
        if (!js)
            continue;
        js++;
        size_t n = strlen(js);
        while (n && (js[n - 1] == '\n' || js[n - 1] == '\r'))
            js[--n] = '\0';
        if (!t->snap && strstr(js, "\"lastUpdateId\"") && !strstr(js, "\"stream\"")) {
            t->snap = strdup(js);
            t->snap_len = n;
            t->snap_at = t->n;
            continue;
        }
        if (strncmp(js, "{\"stream\":\"", 11) != 0)
            continue;
        const char *at = strchr(js + 11, '@');
        if (!at)
            continue;
        unsigned kind = strncmp(at + 1, "depth", 5) == 0        ? FAKEFEED_DEPTH
                        : strncmp(at + 1, "trade", 5) == 0      ? FAKEFEED_TRADE
                        : strncmp(at + 1, "bookTicker", 10) == 0 ? FAKEFEED_BOOKT
                                                                : 0;
        if (!kind)
            continue;
        if (t->n == t->cap_fr) {
            t->cap_fr = t->cap_fr ? t->cap_fr * 2 : 65536;
            t->fr = realloc(t->fr, t->cap_fr * sizeof *t->fr);
            if (!t->fr)
                exit(3);
        }
        fakefeed_frame *fr = &t->fr[t->n++];
        memset(fr, 0, sizeof *fr);
        fr->off = (uint32_t)t->len;
        fr->len = (uint32_t)n;
        fr->kind = (uint8_t)kind;
        for (const char *p = js;
             (p = strcasestr(p, t->lower)) != NULL && fr->nsym < FAKEFEED_NSYMOFF; p += 7) {
            bool up = memcmp(p, t->upper, 7) == 0;
            if (!up && memcmp(p, t->lower, 7) != 0)
                continue;
            fr->sym[fr->nsym++] = (uint32_t)(p - js) | (up ? 0x80000000u : 0);
        }
        fakefeed_append(t, js, n);
    }
    gzclose(g);
    return 0;
}

static int fakefeed_load(fakefeed *f, const char *data)
{
    static const struct {
        bool usdm;
        const char *sym, *f1, *f2;
    } spec[4] = {
        {false, "BTCUSDT", "spot/btcusdt_20240808.gz", "spot/btcusdt_20240809.gz"},
        {false, "ETHUSDT", "spot/ethusdt_20240808.gz", "spot/ethusdt_20240809.gz"},
        {true, "BTCUSDT", "usdm/btcusdt_20240808.gz", NULL},
        {true, "ETHUSDT", "usdm/ethusdt_20240808.gz", NULL},
    };
    for (int i = 0; i < 4; i++) {
        fakefeed_tape *t = &f->tapes[f->ntapes++];
        t->usdm = spec[i].usdm;
        memcpy(t->upper, spec[i].sym, 8);
        for (int k = 0; k < 8; k++)
            t->lower[k] = (char)(t->upper[k] >= 'A' && t->upper[k] <= 'Z' ? t->upper[k] + 32
                                                                           : t->upper[k]);
        const char *files[2] = {spec[i].f1, spec[i].f2};
        for (int k = 0; k < 2 && files[k]; k++) {
            char path[1024];
            snprintf(path, sizeof path, "%s/binance/streams/%s", data, files[k]);
            if (fakefeed_load_file(f, t, path) != 0) {
                fprintf(stderr, "fakefeed: cannot read %s\n", path);
                return -1;
            }
        }
        if (!t->snap) {
            fprintf(stderr, "fakefeed: no snapshot line in %s\n", spec[i].f1);
            return -1;
        }
    }
    return 0;
}

/* The alias's name in upper case (alias 0: the capture's own). */
static void fakefeed_alias_name(const fakefeed_tape *t, int alias, char out[8])
{
    memcpy(out, t->upper, 8);
    if (alias > 0) {
        out[5] = (char)('0' + alias / 10);
        out[6] = (char)('0' + alias % 10);
    }
}

/* "btcus07" (any case) on a spot or USD-M path: its tape and alias; -1 when none. */
static int fakefeed_lookup(const fakefeed *f, bool usdm, const char *sym, size_t n, int *alias)
{
    if (n != 7)
        return -1;
    for (int i = 0; i < f->ntapes; i++) {
        const fakefeed_tape *t = &f->tapes[i];
        if (t->usdm != usdm || strncasecmp(sym, t->upper, 5) != 0)
            continue;
        if (strncasecmp(sym + 5, t->upper + 5, 2) == 0) {
            *alias = 0;
            return i;
        }
        if (sym[5] >= '0' && sym[5] <= '9' && sym[6] >= '0' && sym[6] <= '9') {
            int a = (sym[5] - '0') * 10 + (sym[6] - '0');
            if (a >= 1 && a < f->aliases) {
                *alias = a;
                return i;
            }
        }
    }
    return -1;
}

static void fakefeed_close(fakefeed_conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    free(c->out);
    memset(c, 0, sizeof *c);
    c->fd = -1;
}

static void fakefeed_queue(fakefeed_conn *c, const char *s, size_t n)
{
    if (c->outlen + n > FAKEFEED_OUT_CAP)
        return;
    memcpy(c->out + c->outlen, s, n);
    c->outlen += n;
}

static void fakefeed_http_reply(fakefeed_conn *c, int status, const char *body, size_t n)
{
    char h[256];
    int k = snprintf(h, sizeof h, "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n\r\n", status,
                     status == 200 ? "OK" : "Not Found", n);
    fakefeed_queue(c, h, (size_t)k);
    fakefeed_queue(c, body, n);
    c->close_after = true;
}

/* The streams of a combined-stream path (?streams=a@depth@100ms/b@trade) as subscriptions. */
static void fakefeed_subscribe(fakefeed *f, fakefeed_conn *c, bool usdm, const char *q)
{
    const char *p = strstr(q, "streams=");
    if (!p)
        return;
    p += 8;
    while (*p && *p != ' ') {
        const char *e = p;
        while (*e && *e != '/' && *e != ' ')
            e++;
        const char *at = memchr(p, '@', (size_t)(e - p));
        int alias = 0, ti = at ? fakefeed_lookup(f, usdm, p, (size_t)(at - p), &alias) : -1;
        if (ti >= 0) {
            unsigned kind = strncmp(at + 1, "depth", 5) == 0        ? FAKEFEED_DEPTH
                            : strncmp(at + 1, "trade", 5) == 0      ? FAKEFEED_TRADE
                            : strncmp(at + 1, "bookTicker", 10) == 0 ? FAKEFEED_BOOKT
                                                                    : 0;
            int k;
            for (k = 0; k < c->nsubs; k++)
                if (c->subs[k].tape == ti && c->subs[k].alias == alias)
                    break;
            if (k == c->nsubs && c->nsubs < FAKEFEED_MAX_SUBS)
                c->subs[c->nsubs++] = (fakefeed_sub){.tape = ti, .alias = alias};
            if (k < c->nsubs)
                c->subs[k].kinds |= kind;
        }
        p = *e == '/' ? e + 1 : e;
    }
}

/* A whole request head in c->in: a websocket upgrade or a REST call. */
static void fakefeed_request(fakefeed *f, fakefeed_conn *c)
{
    char path[4096] = "";
    if (sscanf(c->in, "GET %4095s", path) != 1) {
        fakefeed_http_reply(c, 404, "{}", 2);
        return;
    }
    const char *key = strcasestr(c->in, "\r\nSec-WebSocket-Key:");
    if (key) {
        key += 20;
        while (*key == ' ')
            key++;
        char k[128];
        size_t n = strcspn(key, "\r\n");
        if (n > 64)
            n = 64;
        memcpy(k, key, n);
        strcpy(k + n, "258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
        unsigned char sha[EVP_MAX_MD_SIZE];
        unsigned shalen = 0;
        EVP_Digest(k, strlen(k), sha, &shalen, EVP_sha1(), NULL);
        char acc[64];
        EVP_EncodeBlock((unsigned char *)acc, sha, (int)shalen);
        char h[256];
        int hl = snprintf(h, sizeof h, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                          "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n", acc);
        fakefeed_queue(c, h, (size_t)hl);
        c->ws = true;
        c->inlen = 0; /* from here c->in gathers client frames */
        bool usdm = strncmp(path, "/public/", 8) == 0 || strncmp(path, "/market/", 8) == 0;
        fakefeed_subscribe(f, c, usdm, path);
        snprintf(c->path, sizeof c->path, "%.*s", (int)strcspn(path, "?"), path);
        return;
    }
    bool spot = strncmp(path, "/api/v3/depth?", 14) == 0;
    bool usdm = strncmp(path, "/fapi/v1/depth?", 15) == 0;
    const char *s = strstr(path, "symbol=");
    if ((spot || usdm) && s) {
        s += 7;
        int alias = 0, ti = fakefeed_lookup(f, usdm, s, strcspn(s, "&"), &alias);
        if (ti >= 0) {
            fakefeed_tape *t = &f->tapes[ti];
            t->served[alias] = true;
            fakefeed_http_reply(c, 200, t->snap, t->snap_len);
            return;
        }
        fakefeed_http_reply(c, 400, "{\"code\":-1121,\"msg\":\"Invalid symbol.\"}", 39);
        return;
    }
    fakefeed_http_reply(c, 404, "{\"code\":-1,\"msg\":\"not found\"}", 29);
}

/* Copies frames into the send buffer: at most max, round-robin over the subscriptions. */
static uint64_t fakefeed_fill(fakefeed *f, fakefeed_conn *c, uint64_t max)
{
    uint64_t n = 0;
    int idle = 0;
    while (n < max && c->nsubs > 0 && idle < c->nsubs) {
        fakefeed_sub *s = &c->subs[c->rr];
        c->rr = (c->rr + 1) % c->nsubs;
        fakefeed_tape *t = &f->tapes[s->tape];
        while (s->pos < t->n && !(t->fr[s->pos].kind & s->kinds))
            s->pos++;
        if (s->pos >= t->n || ((s->kinds & FAKEFEED_DEPTH) && s->pos >= t->snap_at &&
                               !t->served[s->alias])) {
            idle++;
            continue;
        }
        const fakefeed_frame *fr = &t->fr[s->pos];
        if (c->outlen + fr->len + 10 > FAKEFEED_OUT_CAP)
            break;
        unsigned char *o = c->out + c->outlen;
        size_t h = 2;
        o[0] = 0x81; /* FIN, text */
        if (fr->len < 126) {
            o[1] = (unsigned char)fr->len;
        } else if (fr->len < 65536) {
            o[1] = 126;
            o[2] = (unsigned char)(fr->len >> 8);
            o[3] = (unsigned char)fr->len;
            h = 4;
        } else {
            o[1] = 127;
            for (int i = 0; i < 8; i++)
                o[2 + i] = (unsigned char)((uint64_t)fr->len >> (56 - 8 * i));
            h = 10;
        }
        memcpy(o + h, t->buf + fr->off, fr->len);
        if (s->alias > 0) {
            char up[8];
            fakefeed_alias_name(t, s->alias, up);
            for (int k = 0; k < fr->nsym; k++) { /* the two digits: no case */
                unsigned char *p = o + h + (fr->sym[k] & 0x7fffffffu);
                p[5] = (unsigned char)up[5];
                p[6] = (unsigned char)up[6];
            }
        }
        c->outlen += h + fr->len;
        s->pos++;
        c->sent++;
        n++;
        idle = 0;
    }
    return n;
}

static bool fakefeed_has_more(const fakefeed *f, const fakefeed_conn *c)
{
    for (int i = 0; i < c->nsubs; i++) {
        const fakefeed_sub *s = &c->subs[i];
        const fakefeed_tape *t = &f->tapes[s->tape];
        if (s->pos < t->n && !((s->kinds & FAKEFEED_DEPTH) && s->pos >= t->snap_at &&
                               !t->served[s->alias]))
            return true;
    }
    return false;
}

/* A server text frame (unmasked) with payload s. */
static void fakefeed_queue_text(fakefeed_conn *c, const char *s, size_t n)
{
    unsigned char h[4] = {0x81, 0, 0, 0};
    size_t hl = 2;
    if (n < 126) {
        h[1] = (unsigned char)n;
    } else {
        h[1] = 126;
        h[2] = (unsigned char)(n >> 8);
        h[3] = (unsigned char)n;
        hl = 4;
    }
    fakefeed_queue(c, (const char *)h, hl);
    fakefeed_queue(c, s, n);
}

/* A client's {"method":"SUBSCRIBE","params":["a@depth@100ms",...],"id":N}: the streams join
 * the connection's subscriptions (as if they were in the URL) and the answer is Binance's
 * {"result":null,"id":N}. Anything else a client sends (pong, close) is ignored. */
static void fakefeed_client_text(fakefeed *f, fakefeed_conn *c, char *msg, size_t n)
{
    msg[n] = '\0';
    if (!strstr(msg, "\"SUBSCRIBE\""))
        return;
    const char *pa = strstr(msg, "\"params\"");
    const char *lb = pa ? strchr(pa, '[') : NULL;
    const char *rb = lb ? strchr(lb, ']') : NULL;
    if (!lb || !rb)
        return;
    static char q[FAKEFEED_IN_CAP + 16];
    size_t k = 0;
    k += (size_t)snprintf(q, sizeof q, "streams=");
    for (const char *p = lb + 1; p < rb && k + 2 < sizeof q; p++) {
        if (*p == '"' || *p == ' ')
            continue;
        q[k++] = *p == ',' ? '/' : *p;
    }
    q[k] = '\0';
    bool usdm = strncmp(c->path, "/public", 7) == 0 || strncmp(c->path, "/market", 7) == 0;
    fakefeed_subscribe(f, c, usdm, q);
    long long id = 0;
    const char *pid = strstr(msg, "\"id\"");
    if (pid && (pid = strchr(pid, ':')))
        id = strtoll(pid + 1, NULL, 10);
    char ans[64];
    int al = snprintf(ans, sizeof ans, "{\"result\":null,\"id\":%lld}", id);
    fakefeed_queue_text(c, ans, (size_t)al);
}

/* Client frames (masked, RFC 6455) gathered in c->in and handled whole. False: too big. */
static bool fakefeed_client_frames(fakefeed *f, fakefeed_conn *c, const char *b, size_t n)
{
    if (c->inlen + n > sizeof c->in - 1)
        return false;
    memcpy(c->in + c->inlen, b, n);
    c->inlen += n;
    for (;;) {
        unsigned char *u = (unsigned char *)c->in;
        if (c->inlen < 2)
            return true;
        size_t len = u[1] & 0x7f, h = 2;
        if (len == 126) {
            if (c->inlen < 4)
                return true;
            len = (size_t)u[2] << 8 | u[3];
            h = 4;
        } else if (len == 127) {
            return false; /* nothing a client sends here is that long */
        }
        bool masked = u[1] & 0x80;
        if (masked)
            h += 4;
        if (c->inlen < h + len)
            return true;
        if (h + len > sizeof c->in - 1)
            return false;
        unsigned char *pl = u + h;
        if (masked)
            for (size_t i = 0; i < len; i++)
                pl[i] ^= u[h - 4 + (i & 3)];
        if ((u[0] & 0x0f) == 1) {
            static char msg[FAKEFEED_IN_CAP];
            memcpy(msg, pl, len);
            fakefeed_client_text(f, c, msg, len);
        }
        memmove(c->in, c->in + h + len, c->inlen - h - len);
        c->inlen -= h + len;
    }
}

/* Reads what the peer sent: a request head (HTTP) or client frames (discarded). False: gone. */
static bool fakefeed_read(fakefeed *f, fakefeed_conn *c)
{
    char tmp[FAKEFEED_IN_CAP];
    for (;;) {
        ssize_t r = read(c->fd, tmp, sizeof tmp);
        if (r == 0)
            return false;
        if (r < 0)
            return errno == EAGAIN || errno == EINTR;
        if (c->close_after)
            continue;
        if (c->ws) {
            if (!fakefeed_client_frames(f, c, tmp, (size_t)r))
                return false;
            continue;
        }
        size_t take = (size_t)r < sizeof c->in - 1 - c->inlen ? (size_t)r
                                                              : sizeof c->in - 1 - c->inlen;
        memcpy(c->in + c->inlen, tmp, take);
        c->inlen += take;
        c->in[c->inlen] = '\0';
        if (strstr(c->in, "\r\n\r\n"))
            fakefeed_request(f, c);
        else if (c->inlen >= sizeof c->in - 1)
            return false;
    }
}

/* Writes the send buffer. False: the peer is gone. */
static bool fakefeed_write(fakefeed_conn *c)
{
    while (c->outoff < c->outlen) {
        ssize_t w = write(c->fd, c->out + c->outoff, c->outlen - c->outoff);
        if (w < 0)
            return errno == EAGAIN || errno == EINTR;
        c->outoff += (size_t)w;
    }
    c->outoff = c->outlen = 0;
    return true;
}

int main(int argc, char **argv)
{
    static fakefeed f;
    const char *data = "../shared/data", *portfile = NULL;
    double lifetime = 300;
    long parent = 0;
    f.aliases = 1;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--data"))
            data = argv[i + 1];
        else if (!strcmp(argv[i], "--port-file"))
            portfile = argv[i + 1];
        else if (!strcmp(argv[i], "--aliases"))
            f.aliases = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--rate"))
            f.rate = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--max-lines"))
            f.max_lines = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--lifetime"))
            lifetime = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--parent"))
            parent = atol(argv[i + 1]);
        else {
            fprintf(stderr, "fakefeed: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (f.aliases < 1 || f.aliases > FAKEFEED_MAX_ALIASES)
        f.aliases = 1;
    signal(SIGPIPE, SIG_IGN);
    if (fakefeed_load(&f, data) != 0)
        return 1;
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof sa;
    if (ls < 0 || bind(ls, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(ls, 128) != 0 ||
        getsockname(ls, (struct sockaddr *)&sa, &sl) != 0) {
        perror("fakefeed: listen");
        return 1;
    }
    if (portfile) {
        char tmp[1100];
        snprintf(tmp, sizeof tmp, "%s.tmp", portfile);
        FILE *pf = fopen(tmp, "w");
        if (!pf)
            return 1;
        fprintf(pf, "%d\n", ntohs(sa.sin_port));
        fclose(pf);
        rename(tmp, portfile);
    }
    for (int i = 0; i < FAKEFEED_MAX_CONNS; i++)
        f.conns[i].fd = -1;
    double t0 = fakefeed_now(), end = t0 + lifetime, last_parent = t0;
    double rate_t0 = 0;
    uint64_t rate_sent0 = 0;
    struct pollfd pfd[FAKEFEED_MAX_CONNS + 1];
    int map[FAKEFEED_MAX_CONNS + 1];
    for (;;) {
        double now = fakefeed_now();
        if (now > end)
            break;
        if (parent > 0 && now - last_parent > 0.2) {
            last_parent = now;
            if (kill((pid_t)parent, 0) != 0)
                break;
        }
        /* refill: flat out, or the rate's share since the first frame */
        uint64_t budget = UINT64_MAX;
        if (f.rate > 0) {
            if (!rate_t0) {
                rate_t0 = now;
                rate_sent0 = f.total_sent;
            }
            double allowed = (now - rate_t0) * (double)f.rate;
            uint64_t done = f.total_sent - rate_sent0;
            budget = allowed > (double)done ? (uint64_t)(allowed - (double)done) : 0;
            if (budget > (uint64_t)f.rate / 100 + 1) /* at most 10 ms of burst */
                budget = (uint64_t)f.rate / 100 + 1;
        }
        int np = 0, active = 0;
        for (int i = 0; i < FAKEFEED_MAX_CONNS; i++)
            active += f.conns[i].fd >= 0 && f.conns[i].ws;
        bool want_timer = false;
        for (int i = 0; i < FAKEFEED_MAX_CONNS; i++) {
            fakefeed_conn *c = &f.conns[i];
            if (c->fd < 0)
                continue;
            if (c->ws && c->outoff == 0 && c->outlen < FAKEFEED_OUT_CAP / 2 && budget > 0) {
                uint64_t share = f.rate > 0 ? budget / (uint64_t)(active ? active : 1) + 1
                                            : UINT64_MAX;
                f.total_sent += fakefeed_fill(&f, c, share);
            }
            if (c->ws && f.rate > 0 && fakefeed_has_more(&f, c))
                want_timer = true;
            pfd[np].fd = c->fd;
            pfd[np].events = POLLIN | (c->outlen > c->outoff ? POLLOUT : 0);
            pfd[np].revents = 0;
            map[np++] = i;
        }
        pfd[np].fd = ls;
        pfd[np].events = POLLIN;
        pfd[np].revents = 0;
        map[np++] = -1;
        /* a connection with frames left but an empty buffer (gated) polls again soon */
        bool gated = false;
        for (int i = 0; i < np - 1 && !gated; i++) {
            fakefeed_conn *c = &f.conns[map[i]];
            gated = c->ws && c->outlen == 0 && c->nsubs > 0;
        }
        int r = poll(pfd, (nfds_t)np, want_timer || gated ? 1 : 200);
        if (r < 0 && errno != EINTR)
            break;
        for (int i = 0; i < np; i++) {
            if (map[i] < 0) {
                if (pfd[i].revents & POLLIN) {
                    for (;;) {
                        int fd = accept4(ls, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                        if (fd < 0)
                            break;
                        int k;
                        for (k = 0; k < FAKEFEED_MAX_CONNS && f.conns[k].fd >= 0; k++)
                            ;
                        if (k == FAKEFEED_MAX_CONNS) {
                            close(fd);
                            continue;
                        }
                        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                        f.conns[k].fd = fd;
                        f.conns[k].out = malloc(FAKEFEED_OUT_CAP);
                        if (!f.conns[k].out)
                            exit(3);
                    }
                }
                continue;
            }
            fakefeed_conn *c = &f.conns[map[i]];
            bool ok = true;
            if (pfd[i].revents & (POLLIN | POLLHUP | POLLERR))
                ok = fakefeed_read(&f, c);
            if (ok && (c->outlen > c->outoff))
                ok = fakefeed_write(c);
            if (!ok || (c->close_after && c->outlen == 0))
                fakefeed_close(c);
        }
    }
    return 0;
}
