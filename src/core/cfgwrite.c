/* Settings written back into the user's libconfig file in place (see cfgwrite.h). libconfig
 * itself can only write a whole file from its tree, which loses every comment and the layout, so
 * this module scans the text with a small scanner for the subset of the grammar a valid file
 * has (settings `name = value;` / `name: value,`, groups, arrays and lists skipped whole,
 * adjacent strings, `#`, `//` and C comments, @include lines) to find the byte range of each
 * value, replaces only that range, and has libconfig parse the result before anything is
 * written. Inserts go inside the innermost group that exists, in the file's own indentation. */
#include "kestrel/cfgwrite.h"

#include "kestrel/xmalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <libconfig.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CFGW_FILE_MAX (1u << 20) /* a config file is a few KiB; refuse anything odd */
#define CFGW_PATH_MAX 256

const char *cfgwrite_strerror(enum cfgwrite_result r)
{
    switch (r) {
    case CFGW_OK: return "ok";
    case CFGW_ERR_READ: return "cannot read the config file";
    case CFGW_ERR_PARSE: return "the config file does not parse";
    case CFGW_ERR_INCLUDE: return "the setting is in an included file";
    case CFGW_ERR_KEY: return "not a plain setting";
    case CFGW_ERR_WRITE: return "cannot write the config file";
    case CFGW_ERR_TARGET: return "not a config file to write settings to";
    }
    return "unknown cfgwrite result";
}

/* The shipped default, as the implicit search finds it (config.c) */
#define CFGW_SHIPPED "config/kestrel.cfg"

enum cfgwrite_result cfgwrite_target(const char *path, char *err, size_t errlen)
{
    if (!path || !path[0]) {
        snprintf(err, errlen, "Kestrel started without a config file (built-in defaults): "
                              "start it with --config FILE to write settings back");
        return CFGW_ERR_TARGET;
    }
    char real[PATH_MAX], shipped[PATH_MAX];
    if (realpath(path, real) && realpath(CFGW_SHIPPED, shipped) && !strcmp(real, shipped)) {
        snprintf(err, errlen, "%.200s is the repository's shipped default config: not written "
                              "(copy it, e.g. to ~/.config/kestrel/kestrel.cfg, and start with "
                              "--config FILE)", path);
        return CFGW_ERR_TARGET;
    }
    return CFGW_OK;
}

/* Where one setting is: its name and value byte ranges (groups: the braces). */
typedef struct cfgwrite_loc {
    bool found;
    char kind;            /* 's' string(s), 'v' scalar, 'g' group, 'a' array or list */
    size_t name_start;
    size_t vstart, vend;  /* [vstart, vend) */
    size_t open, close;   /* 'g': offsets of '{' and '}' */
} cfgwrite_loc;

typedef struct cfgwrite_scan {
    const char *t;
    size_t n, i;
    const char *want; /* the dotted path looked for */
    cfgwrite_loc *loc;
    char path[CFGW_PATH_MAX];
    bool bad;
    int depth;
} cfgwrite_scan;

static void cfgwrite_skip(cfgwrite_scan *s)
{
    while (s->i < s->n) {
        char c = s->t[s->i];
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v') {
            s->i++;
        } else if (c == '#' || c == '@' || (c == '/' && s->i + 1 < s->n && s->t[s->i + 1] == '/')) {
            while (s->i < s->n && s->t[s->i] != '\n') /* a comment, an @include line */
                s->i++;
        } else if (c == '/' && s->i + 1 < s->n && s->t[s->i + 1] == '*') {
            s->i += 2;
            while (s->i + 1 < s->n && !(s->t[s->i] == '*' && s->t[s->i + 1] == '/'))
                s->i++;
            s->i = s->i + 2 <= s->n ? s->i + 2 : s->n;
        } else {
            return;
        }
    }
}

static void cfgwrite_string(cfgwrite_scan *s)
{
    s->i++; /* the opening quote */
    while (s->i < s->n && s->t[s->i] != '"') {
        if (s->t[s->i] == '\\' && s->i + 1 < s->n)
            s->i++;
        s->i++;
    }
    if (s->i >= s->n)
        s->bad = true;
    else
        s->i++;
}

static void cfgwrite_list(cfgwrite_scan *s, char endc);

/* An array [...] or a list (...) skipped whole (nested, strings and comments respected). */
static void cfgwrite_skip_aggregate(cfgwrite_scan *s)
{
    int depth = 0;
    while (s->i < s->n && !s->bad) {
        char c = s->t[s->i];
        if (c == '"') {
            cfgwrite_string(s);
            continue;
        }
        if (c == '#' || (c == '/' && s->i + 1 < s->n &&
                         (s->t[s->i + 1] == '/' || s->t[s->i + 1] == '*'))) {
            cfgwrite_skip(s);
            continue;
        }
        s->i++;
        if (c == '[' || c == '(' || c == '{')
            depth++;
        else if ((c == ']' || c == ')' || c == '}') && --depth == 0)
            return;
    }
    s->bad = true;
}

static void cfgwrite_value(cfgwrite_scan *s, size_t name_start)
{
    cfgwrite_loc l = {.found = true, .name_start = name_start, .vstart = s->i};
    char c = s->i < s->n ? s->t[s->i] : 0;
    if (c == '{') {
        l.kind = 'g';
        l.open = s->i++;
        if (++s->depth > 32) {
            s->bad = true;
            return;
        }
        cfgwrite_list(s, '}');
        s->depth--;
        if (s->bad || s->i >= s->n)
            return;
        l.close = s->i++;
    } else if (c == '[' || c == '(') {
        l.kind = 'a';
        cfgwrite_skip_aggregate(s);
    } else if (c == '"') {
        l.kind = 's';
        for (;;) { /* "a" "b": adjacent strings are one value */
            cfgwrite_string(s);
            l.vend = s->i;
            if (s->bad)
                return;
            cfgwrite_skip(s);
            if (s->i >= s->n || s->t[s->i] != '"')
                break;
        }
    } else {
        l.kind = 'v';
        while (s->i < s->n && !strchr(";,}])\n\r\t #/", s->t[s->i]))
            s->i++;
        if (s->i == l.vstart)
            s->bad = true;
    }
    if (l.kind != 's')
        l.vend = s->i;
    if (!s->bad && !strcmp(s->path, s->want) && !s->loc->found)
        *s->loc = l;
}

static void cfgwrite_setting(cfgwrite_scan *s)
{
    size_t start = s->i;
    while (s->i < s->n && (strchr("-_*", s->t[s->i]) ||
                           (s->t[s->i] >= 'a' && s->t[s->i] <= 'z') ||
                           (s->t[s->i] >= 'A' && s->t[s->i] <= 'Z') ||
                           (s->t[s->i] >= '0' && s->t[s->i] <= '9')))
        s->i++;
    size_t len = s->i - start, plen = strlen(s->path);
    if (len == 0 || plen + len + 2 > sizeof s->path) {
        s->bad = true;
        return;
    }
    cfgwrite_skip(s);
    if (s->i >= s->n || (s->t[s->i] != '=' && s->t[s->i] != ':')) {
        s->bad = true;
        return;
    }
    s->i++;
    cfgwrite_skip(s);
    if (plen)
        s->path[plen] = '.';
    memcpy(s->path + plen + (plen ? 1 : 0), s->t + start, len);
    s->path[plen + (plen ? 1 : 0) + len] = '\0';
    cfgwrite_value(s, start);
    s->path[plen] = '\0';
    if (s->bad)
        return;
    cfgwrite_skip(s);
    if (s->i < s->n && (s->t[s->i] == ';' || s->t[s->i] == ','))
        s->i++;
}

static void cfgwrite_list(cfgwrite_scan *s, char endc)
{
    for (;;) {
        cfgwrite_skip(s);
        if (s->bad)
            return;
        if (s->i >= s->n) {
            if (endc)
                s->bad = true;
            return;
        }
        if (s->t[s->i] == endc)
            return;
        cfgwrite_setting(s);
        if (s->bad)
            return;
    }
}

/* Finds the setting at path in text; false when the text does not scan. */
static bool cfgwrite_find(const char *t, size_t n, const char *path, cfgwrite_loc *out)
{
    memset(out, 0, sizeof *out);
    cfgwrite_scan s = {.t = t, .n = n, .want = path, .loc = out};
    cfgwrite_list(&s, 0);
    return !s.bad;
}

/* The value as the file will read it: quoted (escaped) when a string, else as it is. */
static void cfgwrite_render(const char *v, bool quote, char *out, size_t cap)
{
    size_t k = 0;
    if (!quote) {
        snprintf(out, cap, "%s", v);
        return;
    }
    out[k++] = '"';
    for (const char *p = v; *p && k + 3 < cap; p++) {
        if (*p == '"' || *p == '\\')
            out[k++] = '\\';
        out[k++] = *p;
    }
    out[k++] = '"';
    out[k] = '\0';
}

/* A plain libconfig number or boolean (written bare); anything else is a string. */
static bool cfgwrite_is_scalar(const char *v)
{
    if (!strcmp(v, "true") || !strcmp(v, "false"))
        return true;
    char *end;
    errno = 0;
    (void)strtod(v, &end);
    return *v && *end == '\0' && errno == 0 && !strchr(v, 'x') && !strchr(v, 'X') &&
           strspn(v, "0123456789.+-eE") == strlen(v);
}

/* text[0..n) with [a, b) replaced by rep: a new buffer. */
static char *cfgwrite_splice(const char *t, size_t n, size_t a, size_t b, const char *rep,
                             size_t *outlen)
{
    size_t rl = strlen(rep), len = n - (b - a) + rl;
    char *o = xmalloc(len + 1);
    memcpy(o, t, a);
    memcpy(o + a, rep, rl);
    memcpy(o + a + rl, t + b, n - b);
    o[len] = '\0';
    *outlen = len;
    return o;
}

/* The leading whitespace of the line holding offset off. */
static void cfgwrite_indent(const char *t, size_t off, char *out, size_t cap)
{
    size_t ls = off;
    while (ls > 0 && t[ls - 1] != '\n')
        ls--;
    size_t k = 0;
    while (ls + k < off && (t[ls + k] == ' ' || t[ls + k] == '\t') && k + 1 < cap) {
        out[k] = t[ls + k];
        k++;
    }
    out[k] = '\0';
}

/* A setting the file does not have: inside the innermost group of its path that exists, else
 * a new group at the end of the file. */
static enum cfgwrite_result cfgwrite_insert(const char *t, size_t n, const char *key,
                                            const char *rendered, char **out, size_t *outlen,
                                            char *err, size_t errlen)
{
    const char *comp[16];
    size_t clen[16];
    int nc = 0;
    for (const char *p = key; *p && nc < 16;) {
        const char *dot = strchr(p, '.');
        size_t l = dot ? (size_t)(dot - p) : strlen(p);
        comp[nc] = p;
        clen[nc++] = l;
        p += l + (dot ? 1 : 0);
    }
    cfgwrite_loc g = {0};
    int have = 0; /* components that exist as groups */
    for (int k = nc - 1; k >= 1 && !have; k--) {
        char pre[CFGW_PATH_MAX];
        size_t pl = (size_t)(comp[k - 1] + clen[k - 1] - key);
        if (pl >= sizeof pre)
            continue;
        memcpy(pre, key, pl);
        pre[pl] = '\0';
        cfgwrite_loc l;
        if (!cfgwrite_find(t, n, pre, &l)) {
            snprintf(err, errlen, "the config file does not scan");
            return CFGW_ERR_PARSE;
        }
        if (l.found && l.kind != 'g') {
            snprintf(err, errlen, "%s is not a group in the config file", pre);
            return CFGW_ERR_KEY;
        }
        if (l.found) {
            g = l;
            have = k;
        }
    }
    /* the new text: "a = { b = { leaf = value; }; };" for the components that are missing */
    char body[1024] = "";
    size_t bl = 0;
    for (int k = have; k < nc; k++)
        bl += (size_t)snprintf(body + bl, sizeof body - bl, k + 1 < nc ? "%.*s = { " : "%.*s = ",
                               (int)clen[k], comp[k]);
    bl += (size_t)snprintf(body + bl, sizeof body - bl, "%s;", rendered);
    for (int k = have; k + 1 < nc && bl < sizeof body; k++)
        bl += (size_t)snprintf(body + bl, sizeof body - bl, " };");
    if (bl >= sizeof body) {
        snprintf(err, errlen, "%s: too long", key);
        return CFGW_ERR_KEY;
    }
    char ins[1200];
    size_t at;
    if (!have) { /* a new top-level group at the end, after a newline */
        at = n;
        snprintf(ins, sizeof ins, "%s%s\n", n && t[n - 1] != '\n' ? "\n" : "", body);
    } else {
        bool multi = memchr(t + g.open, '\n', g.close - g.open) != NULL;
        size_t ls = g.close;
        while (ls > g.open && (t[ls - 1] == ' ' || t[ls - 1] == '\t'))
            ls--;
        if (multi && t[ls - 1] == '\n') { /* a line of its own before the closing brace's */
            char ind[64] = "";
            /* the indentation of the group's first setting, else the group's plus four */
            cfgwrite_scan sc = {.t = t, .n = g.close, .i = g.open + 1};
            cfgwrite_skip(&sc);
            if (sc.i < g.close) {
                cfgwrite_indent(t, sc.i, ind, sizeof ind);
            } else {
                cfgwrite_indent(t, g.name_start, ind, sizeof ind - 4);
                strcat(ind, "    ");
            }
            at = ls;
            snprintf(ins, sizeof ins, "%s%s\n", ind, body);
        } else {
            at = g.close;
            /* "{ a = 1; }" -> "{ a = 1; b = 2; }", "{a = 1;}" -> "{a = 1; b = 2;}" */
            if (t[g.close - 1] == ' ')
                snprintf(ins, sizeof ins, "%s ", body);
            else
                snprintf(ins, sizeof ins, " %s", body);
        }
    }
    *out = cfgwrite_splice(t, n, at, at, ins, outlen);
    return CFGW_OK;
}

static bool cfgwrite_key_ok(const char *k)
{
    size_t n = strlen(k);
    if (n == 0 || n >= CFGW_PATH_MAX || k[0] == '.' || k[n - 1] == '.' || strstr(k, ".."))
        return false;
    return strspn(k, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.") == n;
}

enum cfgwrite_result cfgwrite_text(const char *text, size_t n, const cfgwrite_kv *kv, int nkv,
                                   char **out, size_t *outlen, int *changed, char *err,
                                   size_t errlen)
{
    *out = NULL;
    *outlen = 0;
    *changed = 0;
    char *cur = xmalloc(n + 1);
    memcpy(cur, text, n);
    cur[n] = '\0';
    size_t len = n;
    for (int i = 0; i < nkv; i++) {
        if (!cfgwrite_key_ok(kv[i].key) || !kv[i].value || strlen(kv[i].value) > 200 ||
            strpbrk(kv[i].value, "\n\r")) {
            snprintf(err, errlen, "%.80s: not a plain setting", kv[i].key);
            free(cur);
            return CFGW_ERR_KEY;
        }
        cfgwrite_loc l;
        if (!cfgwrite_find(cur, len, kv[i].key, &l)) {
            snprintf(err, errlen, "the config file does not scan (is it valid libconfig?)");
            free(cur);
            return CFGW_ERR_PARSE;
        }
        char rendered[512];
        char *next = NULL;
        size_t nlen = 0;
        if (l.found) {
            if (l.kind == 'g' || l.kind == 'a') {
                snprintf(err, errlen, "%s is a %s in the config file, not a value", kv[i].key,
                         l.kind == 'g' ? "group" : "list");
                free(cur);
                return CFGW_ERR_KEY;
            }
            bool quote = l.kind == 's' || !cfgwrite_is_scalar(kv[i].value);
            cfgwrite_render(kv[i].value, quote, rendered, sizeof rendered);
            if (l.vend - l.vstart == strlen(rendered) &&
                !memcmp(cur + l.vstart, rendered, l.vend - l.vstart))
                continue; /* already so */
            next = cfgwrite_splice(cur, len, l.vstart, l.vend, rendered, &nlen);
        } else {
            bool quote = kv[i].string || !cfgwrite_is_scalar(kv[i].value);
            cfgwrite_render(kv[i].value, quote, rendered, sizeof rendered);
            enum cfgwrite_result r =
                cfgwrite_insert(cur, len, kv[i].key, rendered, &next, &nlen, err, errlen);
            if (r != CFGW_OK) {
                free(cur);
                return r;
            }
        }
        free(cur);
        cur = next;
        len = nlen;
        (*changed)++;
    }
    /* libconfig must read the result (and find each value where it was put) */
    config_t lc;
    config_init(&lc);
    bool ok = config_read_string(&lc, cur) == CONFIG_TRUE;
    if (!ok)
        snprintf(err, errlen, "the edited file would not parse (line %d: %s)",
                 config_error_line(&lc), config_error_text(&lc) ? config_error_text(&lc) : "?");
    for (int i = 0; ok && i < nkv; i++) {
        if (!config_lookup(&lc, kv[i].key)) {
            snprintf(err, errlen, "%s is not found where it was written", kv[i].key);
            ok = false;
        }
    }
    config_destroy(&lc);
    if (!ok) {
        free(cur);
        return CFGW_ERR_PARSE;
    }
    *out = cur;
    *outlen = len;
    return CFGW_OK;
}

enum cfgwrite_result cfgwrite_file(const char *path, const cfgwrite_kv *kv, int nkv, int *changed,
                                   char *err, size_t errlen)
{
    *changed = 0;
    char real[PATH_MAX];
    if (!realpath(path, real)) { /* a symlinked config is edited where it lives */
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return CFGW_ERR_READ;
    }
    int fd = open(real, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > CFGW_FILE_MAX) {
        snprintf(err, errlen, "%s: %s", path,
                 fd < 0 ? strerror(errno) : "not a regular file of at most 1 MiB");
        if (fd >= 0)
            close(fd);
        return CFGW_ERR_READ;
    }
    size_t n = (size_t)st.st_size, got = 0;
    char *text = xmalloc(n + 1);
    while (got < n) {
        ssize_t r = read(fd, text + got, n - got);
        if (r <= 0) {
            if (r < 0 && errno == EINTR)
                continue;
            break;
        }
        got += (size_t)r;
    }
    close(fd);
    if (got != n) {
        snprintf(err, errlen, "%s: short read", path);
        free(text);
        return CFGW_ERR_READ;
    }
    text[n] = '\0';
    char *out;
    size_t outlen;
    enum cfgwrite_result r = cfgwrite_text(text, n, kv, nkv, &out, &outlen, changed, err, errlen);
    free(text);
    if (r != CFGW_OK)
        return r;
    if (*changed == 0) {
        free(out);
        return CFGW_OK;
    }
    char tmp[PATH_MAX + 16];
    snprintf(tmp, sizeof tmp, "%s.kestrel-tmp", real);
    int wfd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, st.st_mode & 07777);
    bool ok = wfd >= 0;
    size_t put = 0;
    while (ok && put < outlen) {
        ssize_t w = write(wfd, out + put, outlen - put);
        if (w < 0 && errno == EINTR)
            continue;
        ok = w > 0;
        if (ok)
            put += (size_t)w;
    }
    ok = ok && fchmod(wfd, st.st_mode & 07777) == 0 && fsync(wfd) == 0;
    int e = errno;
    if (wfd >= 0 && close(wfd) != 0)
        ok = false;
    if (ok && rename(tmp, real) != 0) {
        e = errno;
        ok = false;
    }
    free(out);
    if (!ok) {
        unlink(tmp);
        snprintf(err, errlen, "%s: %s", path, strerror(e));
        *changed = 0;
        return CFGW_ERR_WRITE;
    }
    return CFGW_OK;
}
