/* Colour themes: the role table, the built-in default and the libconfig theme file reader.
 * A theme never fails half-way into the UI: a file is read into a copy of the built-in default, so
 * a theme that names only a few roles still gives every role a readable style, and a broken file
 * leaves the caller's theme untouched. Pure data: no curses, testable without a terminal. */
#include "kestrel/theme.h"
#include "kestrel/xmalloc.h"

#include <libconfig.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <strings.h>
#include <unistd.h>

static const char *const role_names[ROLE_COUNT] = {
    [ROLE_TEXT] = "text",           [ROLE_DIM] = "dim",
    [ROLE_TITLE] = "title",         [ROLE_BORDER] = "border",
    [ROLE_BORDER_FOCUS] = "border_focus",
    [ROLE_HEADER] = "header",       [ROLE_UP] = "up",
    [ROLE_DOWN] = "down",           [ROLE_BID] = "bid",
    [ROLE_ASK] = "ask",             [ROLE_BID_DEPTH] = "bid_depth",
    [ROLE_ASK_DEPTH] = "ask_depth", [ROLE_VOLUME] = "volume",
    [ROLE_VOL_UP] = "volume_up",    [ROLE_VOL_DOWN] = "volume_down",
    [ROLE_AXIS] = "axis",           [ROLE_LAST_PRICE] = "last_price",
    [ROLE_CURSOR] = "cursor",       [ROLE_SELECTION] = "selection",
    [ROLE_WARNING] = "warning",     [ROLE_ERROR] = "error",
    [ROLE_OK] = "ok",               [ROLE_STATUS] = "status",
    [ROLE_STATUS_KEY] = "status_key", [ROLE_STATUS_WARN] = "status_warn",
    [ROLE_REPLAY] = "replay",       [ROLE_LIVE] = "live",
    [ROLE_PAPER] = "paper",         [ROLE_KEY] = "key",
    [ROLE_FLASH] = "flash",         [ROLE_OVERLAY] = "overlay",
    [ROLE_IND1] = "indicator1",     [ROLE_IND2] = "indicator2",
    [ROLE_IND3] = "indicator3",     [ROLE_IND4] = "indicator4",
    [ROLE_IND5] = "indicator5",     [ROLE_IND6] = "indicator6",
    [ROLE_LEVEL] = "level",
};

const char *theme_role_name(enum theme_role r)
{
    return (unsigned)r < ROLE_COUNT ? role_names[r] : "unknown";
}

int theme_role_parse(const char *name, enum theme_role *out)
{
    for (int i = 0; i < ROLE_COUNT; i++) {
        if (strcmp(name, role_names[i]) == 0) {
            *out = (enum theme_role)i;
            return K_OK;
        }
    }
    return K_ERR;
}

#define D THEME_COLOR_DEFAULT
#define B THEME_A_BOLD
#define M THEME_A_DIM
#define R THEME_A_REVERSE
#define U THEME_A_UNDERLINE

/* The built-in default; themes/default.theme says the same in the file format. */
static const theme_style builtin_256[ROLE_COUNT] = {
    [ROLE_TEXT] = {252, D, 0},         [ROLE_DIM] = {244, D, 0},
    [ROLE_TITLE] = {75, D, B},         [ROLE_BORDER] = {240, D, 0},
    [ROLE_BORDER_FOCUS] = {255, D, B}, [ROLE_HEADER] = {245, D, 0},
    [ROLE_UP] = {41, D, 0},            [ROLE_DOWN] = {203, D, 0},
    [ROLE_BID] = {41, D, 0},           [ROLE_ASK] = {203, D, 0},
    [ROLE_BID_DEPTH] = {252, 22, 0},   [ROLE_ASK_DEPTH] = {252, 52, 0},
    [ROLE_VOLUME] = {67, D, 0},        [ROLE_VOL_UP] = {41, D, 0},
    [ROLE_VOL_DOWN] = {131, D, 0},     [ROLE_AXIS] = {244, D, 0},
    [ROLE_LAST_PRICE] = {16, 220, B},  [ROLE_CURSOR] = {16, 75, 0},
    [ROLE_SELECTION] = {255, 238, B},  [ROLE_WARNING] = {214, D, B},
    [ROLE_ERROR] = {196, D, B},        [ROLE_OK] = {41, D, 0},
    [ROLE_STATUS] = {252, 236, 0},     [ROLE_STATUS_KEY] = {230, 236, B},
    [ROLE_STATUS_WARN] = {214, 236, B},
    [ROLE_REPLAY] = {16, 75, B},       [ROLE_LIVE] = {16, 41, B},
    [ROLE_PAPER] = {16, 179, B},       [ROLE_KEY] = {214, D, B},
    [ROLE_FLASH] = {230, D, B},        [ROLE_OVERLAY] = {252, 235, 0},
    [ROLE_IND1] = {39, D, 0},          [ROLE_IND2] = {214, D, 0},
    [ROLE_IND3] = {171, D, 0},         [ROLE_IND4] = {51, D, 0},
    [ROLE_IND5] = {227, D, 0},         [ROLE_IND6] = {141, D, 0},
    [ROLE_LEVEL] = {240, D, 0},
};

enum { K_BLACK = 0, K_RED, K_GREEN, K_YELLOW, K_BLUE, K_MAGENTA, K_CYAN, K_WHITE };

static const theme_style builtin_8[ROLE_COUNT] = {
    [ROLE_TEXT] = {D, D, 0},                   [ROLE_DIM] = {D, D, M},
    [ROLE_TITLE] = {K_CYAN, D, B},             [ROLE_BORDER] = {D, D, 0},
    [ROLE_BORDER_FOCUS] = {K_WHITE, D, B},     [ROLE_HEADER] = {D, D, U},
    [ROLE_UP] = {K_GREEN, D, 0},               [ROLE_DOWN] = {K_RED, D, 0},
    [ROLE_BID] = {K_GREEN, D, 0},              [ROLE_ASK] = {K_RED, D, 0},
    [ROLE_BID_DEPTH] = {K_BLACK, K_GREEN, 0},  [ROLE_ASK_DEPTH] = {K_WHITE, K_RED, 0},
    [ROLE_VOLUME] = {K_BLUE, D, 0},            [ROLE_VOL_UP] = {K_GREEN, D, 0},
    [ROLE_VOL_DOWN] = {K_RED, D, 0},           [ROLE_AXIS] = {D, D, 0},
    [ROLE_LAST_PRICE] = {K_BLACK, K_YELLOW, 0}, [ROLE_CURSOR] = {K_BLACK, K_CYAN, 0},
    [ROLE_SELECTION] = {D, D, R},              [ROLE_WARNING] = {K_YELLOW, D, B},
    [ROLE_ERROR] = {K_RED, D, B},              [ROLE_OK] = {K_GREEN, D, 0},
    [ROLE_STATUS] = {K_WHITE, K_BLUE, 0},      [ROLE_STATUS_KEY] = {K_YELLOW, K_BLUE, B},
    [ROLE_STATUS_WARN] = {K_YELLOW, K_RED, B},
    [ROLE_REPLAY] = {K_BLACK, K_CYAN, 0},      [ROLE_LIVE] = {K_BLACK, K_GREEN, 0},
    [ROLE_PAPER] = {K_BLACK, K_YELLOW, 0},     [ROLE_KEY] = {K_YELLOW, D, B},
    [ROLE_FLASH] = {K_YELLOW, D, B},           [ROLE_OVERLAY] = {D, D, 0},
    [ROLE_IND1] = {K_CYAN, D, 0},              [ROLE_IND2] = {K_YELLOW, D, 0},
    [ROLE_IND3] = {K_MAGENTA, D, 0},           [ROLE_IND4] = {K_BLUE, D, B},
    [ROLE_IND5] = {K_CYAN, D, B},              [ROLE_IND6] = {K_MAGENTA, D, B},
    [ROLE_LEVEL] = {D, D, M},
};

static const uint32_t builtin_mono[ROLE_COUNT] = {
    [ROLE_TEXT] = 0,       [ROLE_DIM] = M,          [ROLE_TITLE] = B,
    [ROLE_BORDER] = 0,     [ROLE_BORDER_FOCUS] = B, [ROLE_HEADER] = U,
    [ROLE_UP] = B,         [ROLE_DOWN] = 0,         [ROLE_BID] = B,
    [ROLE_ASK] = 0,        [ROLE_BID_DEPTH] = R,    [ROLE_ASK_DEPTH] = R,
    [ROLE_VOLUME] = 0,     [ROLE_VOL_UP] = 0,       [ROLE_VOL_DOWN] = 0,
    [ROLE_AXIS] = 0,       [ROLE_LAST_PRICE] = R,   [ROLE_CURSOR] = R,
    [ROLE_SELECTION] = R,  [ROLE_WARNING] = B,      [ROLE_ERROR] = B | R,
    [ROLE_OK] = 0,         [ROLE_STATUS] = R,       [ROLE_STATUS_KEY] = R | B,
    [ROLE_STATUS_WARN] = B,
    [ROLE_REPLAY] = R | B, [ROLE_LIVE] = R | B,     [ROLE_PAPER] = R | B,
    [ROLE_KEY] = B,        [ROLE_FLASH] = B,        [ROLE_OVERLAY] = 0,
    [ROLE_IND1] = 0,       [ROLE_IND2] = B,         [ROLE_IND3] = U,
    [ROLE_IND4] = B | U,   [ROLE_IND5] = 0,         [ROLE_IND6] = B,
    [ROLE_LEVEL] = M,
};

#undef D
#undef B
#undef M
#undef R
#undef U

void theme_builtin(theme *t)
{
    memset(t, 0, sizeof(*t));
    snprintf(t->name, sizeof(t->name), "default");
    memcpy(t->c256, builtin_256, sizeof(builtin_256));
    memcpy(t->c8, builtin_8, sizeof(builtin_8));
    memcpy(t->mono, builtin_mono, sizeof(builtin_mono));
}

static const char *const color_names[8] = {"black", "red",  "green", "yellow",
                                           "blue",  "magenta", "cyan", "white"};

int theme_color_parse(const char *s, int16_t *out)
{
    if (!s || !*s)
        return K_ERR;
    if (strcasecmp(s, "default") == 0 || strcasecmp(s, "none") == 0) {
        *out = THEME_COLOR_DEFAULT;
        return K_OK;
    }
    int base = 0;
    const char *n = s;
    if (strncasecmp(s, "bright-", 7) == 0) {
        base = 8;
        n = s + 7;
    }
    for (int i = 0; i < 8; i++) {
        if (strcasecmp(n, color_names[i]) == 0) {
            *out = (int16_t)(base + i);
            return K_OK;
        }
    }
    if (base)
        return K_ERR;
    char *end = NULL;
    long v = strtol(s, &end, 10);
    if (end == s || *end || v < 0 || v > 255)
        return K_ERR;
    *out = (int16_t)v;
    return K_OK;
}

int theme_attrs_parse(const char *s, uint32_t *out)
{
    static const struct {
        const char *name;
        uint32_t bit;
    } names[] = {
        {"bold", THEME_A_BOLD},         {"dim", THEME_A_DIM},
        {"reverse", THEME_A_REVERSE},   {"underline", THEME_A_UNDERLINE},
        {"standout", THEME_A_STANDOUT}, {"italic", THEME_A_ITALIC},
        {"normal", 0},                  {"none", 0},
    };
    uint32_t bits = 0;
    const char *p = s ? s : "";
    while (*p) {
        while (*p == '|' || *p == '+' || *p == ',' || *p == ' ')
            p++;
        if (!*p)
            break;
        size_t len = strcspn(p, "|+, ");
        bool found = false;
        for (size_t i = 0; i < K_ARRAY_LEN(names); i++) {
            if (strlen(names[i].name) == len && strncasecmp(p, names[i].name, len) == 0) {
                bits |= names[i].bit;
                found = true;
                break;
            }
        }
        if (!found)
            return K_ERR;
        p += len;
    }
    *out = bits;
    return K_OK;
}

typedef struct load_ctx {
    const char *path;
    void (*warn_fn)(void *ud, const char *msg);
    void *ud;
    char *err;
    size_t errlen;
} load_ctx;

static int fail(load_ctx *c, const config_setting_t *s, const char *what)
{
    snprintf(c->err, c->errlen, "%s:%d: %s", c->path, s ? config_setting_source_line(s) : 0,
             what);
    return K_ERR;
}

static void warn(load_ctx *c, const config_setting_t *s, const char *what)
{
    if (!c->warn_fn)
        return;
    char msg[640];
    snprintf(msg, sizeof(msg), "%s:%d: %s", c->path, config_setting_source_line(s), what);
    c->warn_fn(c->ud, msg);
}

/* A colour setting: a string name or an integer. */
static int read_color(load_ctx *c, const config_setting_t *s, int max, int16_t *out)
{
    char msg[200];
    int16_t v;
    if (config_setting_type(s) == CONFIG_TYPE_INT) {
        int iv = config_setting_get_int(s);
        if (iv < -1 || iv > max) {
            snprintf(msg, sizeof(msg), "colour %d out of range (expected -1 .. %d)", iv, max);
            return fail(c, s, msg);
        }
        *out = (int16_t)iv;
        return K_OK;
    }
    if (config_setting_type(s) != CONFIG_TYPE_STRING)
        return fail(c, s, "colour must be a name or a number");
    const char *str = config_setting_get_string(s);
    if (theme_color_parse(str, &v) != K_OK || v > max) {
        snprintf(msg, sizeof(msg),
                 "bad colour '%s' (expected default, black..white, bright-black..bright-white "
                 "or 0..%d)", str, max);
        return fail(c, s, msg);
    }
    *out = v;
    return K_OK;
}

static int read_attrs(load_ctx *c, const config_setting_t *s, uint32_t *out)
{
    if (config_setting_type(s) != CONFIG_TYPE_STRING)
        return fail(c, s, "attributes must be a string such as \"bold|underline\"");
    const char *str = config_setting_get_string(s);
    if (theme_attrs_parse(str, out) != K_OK) {
        char msg[200];
        snprintf(msg, sizeof(msg),
                 "bad attributes '%s' (expected bold, dim, reverse, underline, standout, italic "
                 "or normal)", str);
        return fail(c, s, msg);
    }
    return K_OK;
}

/* c256 = { fg = ...; bg = ...; attr = "..."; } */
static int read_style(load_ctx *c, const config_setting_t *g, int max, theme_style *st)
{
    if (!config_setting_is_group(g))
        return fail(c, g, "expected a group { fg = ...; bg = ...; attr = \"...\"; }");
    for (int i = 0; i < config_setting_length(g); i++) {
        const config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
        const char *k = config_setting_name(s);
        int rc = K_OK;
        if (strcmp(k, "fg") == 0)
            rc = read_color(c, s, max, &st->fg);
        else if (strcmp(k, "bg") == 0)
            rc = read_color(c, s, max, &st->bg);
        else if (strcmp(k, "attr") == 0)
            rc = read_attrs(c, s, &st->attrs);
        else {
            char msg[160];
            snprintf(msg, sizeof(msg), "unknown key '%s' ignored (expected fg, bg, attr)", k);
            warn(c, s, msg);
        }
        if (rc != K_OK)
            return rc;
    }
    return K_OK;
}

static int read_role(load_ctx *c, theme *t, enum theme_role r, const config_setting_t *g)
{
    if (!config_setting_is_group(g))
        return fail(c, g, "a role must be a group { c256 = {...}; c8 = {...}; mono = \"...\"; }");
    const config_setting_t *s256 = config_setting_get_member(g, "c256");
    const config_setting_t *s8 = config_setting_get_member(g, "c8");
    /* An entry given only for 8 colours also serves 256-colour terminals. */
    if (s8) {
        theme_style st = {THEME_COLOR_DEFAULT, THEME_COLOR_DEFAULT, 0};
        if (read_style(c, s8, 15, &st) != K_OK)
            return K_ERR;
        t->c8[r] = st;
        if (!s256)
            t->c256[r] = st;
    }
    if (s256) {
        theme_style st = {THEME_COLOR_DEFAULT, THEME_COLOR_DEFAULT, 0};
        if (read_style(c, s256, 255, &st) != K_OK)
            return K_ERR;
        t->c256[r] = st;
    }
    for (int i = 0; i < config_setting_length(g); i++) {
        const config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
        const char *k = config_setting_name(s);
        if (strcmp(k, "mono") == 0) {
            if (read_attrs(c, s, &t->mono[r]) != K_OK)
                return K_ERR;
        } else if (strcmp(k, "c256") != 0 && strcmp(k, "c8") != 0) {
            char msg[160];
            snprintf(msg, sizeof(msg), "unknown key '%s' ignored (expected c256, c8, mono)", k);
            warn(c, s, msg);
        }
    }
    return K_OK;
}

#define THEME_FILE_MAX (256 * 1024)

int theme_load_file(theme *out, const char *path, void (*warn_fn)(void *ud, const char *msg),
                    void *ud, char *err, size_t errlen)
{
    load_ctx c = {path, warn_fn, ud, err, errlen};
    struct stat st;
    if (stat(path, &st) == 0 && (!S_ISREG(st.st_mode) || st.st_size > THEME_FILE_MAX)) {
        snprintf(err, errlen, "%s: not a theme file (a regular file of at most %d KiB)", path,
                 THEME_FILE_MAX / 1024);
        return K_ERR;
    }
    config_t cfg;
    config_init(&cfg);
    if (config_read_file(&cfg, path) != CONFIG_TRUE) {
        if (config_error_type(&cfg) == CONFIG_ERR_FILE_IO)
            snprintf(err, errlen, "%s: cannot read the theme file", path);
        else
            snprintf(err, errlen, "%s:%d: %s", path, config_error_line(&cfg),
                     config_error_text(&cfg));
        config_destroy(&cfg);
        return K_ERR;
    }
    theme *t = xmalloc(sizeof(*t));
    theme_builtin(t);
    snprintf(t->path, sizeof(t->path), "%s", path);
    int rc = K_OK;
    const config_setting_t *root = config_root_setting(&cfg);
    for (int i = 0; rc == K_OK && i < config_setting_length(root); i++) {
        const config_setting_t *s = config_setting_get_elem(root, (unsigned)i);
        const char *k = config_setting_name(s);
        if (strcmp(k, "name") == 0) {
            const char *n = config_setting_get_string(s);
            if (!n)
                rc = fail(&c, s, "name must be a string");
            else
                snprintf(t->name, sizeof(t->name), "%s", n);
        } else if (strcmp(k, "roles") == 0) {
            if (!config_setting_is_group(s)) {
                rc = fail(&c, s, "roles must be a group");
                break;
            }
            for (int j = 0; rc == K_OK && j < config_setting_length(s); j++) {
                const config_setting_t *rs = config_setting_get_elem(s, (unsigned)j);
                enum theme_role r;
                if (theme_role_parse(config_setting_name(rs), &r) != K_OK) {
                    char msg[160];
                    snprintf(msg, sizeof(msg), "unknown role '%s' ignored",
                             config_setting_name(rs));
                    warn(&c, rs, msg);
                    continue;
                }
                rc = read_role(&c, t, r, rs);
            }
        } else if (strcmp(k, "description") != 0) {
            char msg[160];
            snprintf(msg, sizeof(msg), "unknown key '%s' ignored (expected name, description, "
                     "roles)", k);
            warn(&c, s, msg);
        }
    }
    if (rc == K_OK)
        *out = *t;
    free(t);
    config_destroy(&cfg);
    return rc;
}

static bool name_ok(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > 60 || name[0] == '.')
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = name[i];
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.';
        if (!ok)
            return false;
    }
    return true;
}

int theme_find(const char *name, const char *datadir, char *path, size_t cap)
{
    if (!name || !name_ok(name))
        return K_ERR;
    const char *dirs[2] = {".", datadir};
    for (int i = 0; i < 2; i++) {
        if (!dirs[i] || !*dirs[i])
            continue;
        int n = snprintf(path, cap, "%s/themes/%s.theme", dirs[i], name);
        if (n < 0 || (size_t)n >= cap)
            continue;
        if (access(path, R_OK) == 0)
            return K_OK;
    }
    return K_ERR;
}
