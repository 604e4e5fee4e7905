/* The docs list what the code has: every config key the loader reads (config_keys[] in
 * src/core/config.c) is in the shipped config/kestrel.cfg (set or commented out, with its
 * default) and in man/kestrel.1; every command of the command table (cmd.h) is in the table of
 * docs/CONTROL.md and in the man page's CONTROL SOCKET section; every key binding (keys.h) is in
 * the key table of docs/UI.md. The help overlay and `kestrel ctl help` are generated from the
 * same tables, so they cannot drift; the files can, and this test says which entry is missing.
 * Runs from the repository root (tests/run.sh). */
#include "check.h"

#include "kestrel/cmd.h"
#include "kestrel/config.h"
#include "kestrel/keys.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DOCS_MAX_NAMES 2048
#define DOCS_NAME_MAX 96

typedef struct docs_set {
    char v[DOCS_MAX_NAMES][DOCS_NAME_MAX];
    int n;
} docs_set;

static char *docs_slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)len + 1);
    size_t n = b ? fread(b, 1, (size_t)len, f) : 0;
    if (b)
        b[n] = '\0';
    fclose(f);
    return b;
}

static void docs_add(docs_set *s, const char *name, size_t len)
{
    if (s->n < DOCS_MAX_NAMES && len > 0 && len < DOCS_NAME_MAX) {
        memcpy(s->v[s->n], name, len);
        s->v[s->n++][len] = '\0';
    }
}

static bool docs_has(const docs_set *s, const char *name)
{
    for (int i = 0; i < s->n; i++)
        if (!strcmp(s->v[i], name))
            return true;
    return false;
}

/* ---- config/kestrel.cfg: the dotted path of every setting, commented out or not ---------- */

static bool docs_ident_char(char c)
{
    return isalnum((unsigned char)c) || c == '_' || c == '-';
}

/* A comment line that is a setting commented out ("# risk: {", "#   speed = 1.0;", "# };")
 * rather than prose ("# stall_factor: a connection ..."): its text after the marker. */
static const char *docs_commented_code(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p == '{' || *p == '}' || *p == '"')
        return p;
    const char *q = p;
    while (docs_ident_char(*q))
        q++;
    if (q == p)
        return NULL;
    while (*q == ' ')
        q++;
    if (*q != '=' && *q != ':')
        return NULL;
    q++;
    while (*q == ' ')
        q++;
    if (*q == '\0' || *q == '{' || *q == '[' || *q == '(' || *q == '"' || *q == '-' ||
        isdigit((unsigned char)*q) || !strncmp(q, "true", 4) || !strncmp(q, "false", 5))
        return p;
    return NULL;
}

/* The text of the file as libconfig would read it with every commented-out setting put back:
 * code lines without their trailing comments, prose comments dropped. */
static char *docs_cfg_code(const char *text)
{
    size_t n = strlen(text);
    char *out = malloc(n + 2), *o = out;
    const char *line = text;
    while (*line) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        char buf[1024];
        snprintf(buf, sizeof buf, "%.*s", (int)len, line);
        const char *p = buf;
        while (*p == ' ' || *p == '\t')
            p++;
        const char *code = p;
        if (*p == '#' || (p[0] == '/' && p[1] == '/'))
            code = docs_commented_code(p + (*p == '#' ? 1 : 2));
        if (code) {
            bool in_str = false;
            for (const char *c = code; *c; c++) { /* up to a trailing comment */
                if (*c == '"' && (c == code || c[-1] != '\\'))
                    in_str = !in_str;
                if (!in_str && (*c == '#' || (c[0] == '/' && c[1] == '/')))
                    break;
                *o++ = *c;
            }
        }
        *o++ = '\n';
        line = end ? end + 1 : line + len;
    }
    *o = '\0';
    return out;
}

static void docs_cfg_paths(const char *code, docs_set *out)
{
    char stack[8][DOCS_NAME_MAX];
    int depth = 0, skip = 0; /* inside a list or array: its elements are values */
    char pending[DOCS_NAME_MAX] = "";
    for (const char *p = code; *p;) {
        if (*p == '"') { /* a string value */
            p++;
            while (*p && *p != '"')
                p += p[0] == '\\' && p[1] ? 2 : 1;
            if (*p)
                p++;
            continue;
        }
        if (*p == '[' || *p == '(') {
            skip++;
            p++;
            continue;
        }
        if (*p == ']' || *p == ')') {
            skip -= skip > 0;
            p++;
            continue;
        }
        if (skip) {
            p++;
            continue;
        }
        if (*p == '{') {
            if (depth < 8)
                snprintf(stack[depth], DOCS_NAME_MAX, "%s", pending);
            depth++;
            pending[0] = '\0';
            p++;
            continue;
        }
        if (*p == '}') {
            depth -= depth > 0;
            p++;
            continue;
        }
        if (isalpha((unsigned char)*p) || *p == '_') {
            const char *q = p;
            while (docs_ident_char(*q) || *q == '.')
                q++;
            const char *r = q;
            while (*r == ' ' || *r == '\t' || *r == '\n')
                r++;
            if (*r == '=' || *r == ':') {
                snprintf(pending, sizeof pending, "%.*s", (int)(q - p), p);
                r++;
                while (*r == ' ' || *r == '\t' || *r == '\n')
                    r++;
                if (*r != '{') { /* a setting: its full path */
                    char path[DOCS_NAME_MAX * 2] = "";
                    for (int i = 0; i < depth && i < 8; i++) {
                        strncat(path, stack[i], sizeof path - strlen(path) - 2);
                        strcat(path, ".");
                    }
                    strncat(path, pending, sizeof path - strlen(path) - 1);
                    docs_add(out, path, strlen(path));
                }
                p = r;
                continue;
            }
            p = q;
            continue;
        }
        p++;
    }
}

/* ---- man/kestrel.1 ------------------------------------------------------------------------ */

/* The page's text with roff's escaped hyphens ("\-") as plain ones and without font changes
 * ("\fI", "\fB", "\fP", "\fR"). */
static char *docs_man_text(void)
{
    char *t = docs_slurp("man/kestrel.1");
    if (!t)
        return NULL;
    char *o = t;
    for (const char *p = t; *p; p++) {
        if (p[0] == '\\' && p[1] == '-')
            continue;
        if (p[0] == '\\' && p[1] == 'f' && p[2]) {
            p += 2;
            continue;
        }
        *o++ = *p;
    }
    *o = '\0';
    return t;
}

/* A config key as the man page names it: venues.okx.ca_file may be given once for every venue
 * as venues.\fIvenue\fP.ca_file (likewise fees.\fIvenue\fP.maker). */
static bool docs_man_has_key(const char *man, const char *key)
{
    if (strstr(man, key))
        return true;
    if (strncmp(key, "venues.", 7) && strncmp(key, "fees.", 5))
        return false;
    const char *dot1 = strchr(key, '.'), *dot2 = strchr(dot1 + 1, '.');
    if (!dot2)
        return false;
    char generic[DOCS_NAME_MAX * 2];
    snprintf(generic, sizeof generic, "%.*svenue%s", (int)(dot1 + 1 - key), key, dot2);
    return strstr(man, generic) != NULL;
}

/* The names the CONTROL SOCKET section sets in bold at the start of a line (".B name",
 * ".BR name ...", ".B \"name args\""). */
static void docs_man_commands(const char *man, docs_set *out)
{
    const char *sec = strstr(man, "\n.SH CONTROL SOCKET");
    const char *end = sec ? strstr(sec + 1, "\n.SH ") : NULL;
    for (const char *p = sec; p && p < end; p = strchr(p + 1, '\n')) {
        const char *l = p + 1;
        if (strncmp(l, ".B", 2) || !(l[2] == ' ' || (l[2] && l[3] == ' ')))
            continue;
        l = strchr(l, ' ');
        while (*l == ' ' || *l == '"')
            l++;
        const char *q = l;
        while (*q && *q != ' ' && *q != '"' && *q != '\n' && *q != '\\')
            q++;
        docs_add(out, l, (size_t)(q - l));
    }
}

/* ---- markdown tables ---------------------------------------------------------------------- */

/* The first word of every span in backticks in the first cell of every table row
 * ("| `book SYMBOL` |", "| `orders`, `fills` |"). */
static void docs_md_first_words(const char *md, docs_set *out)
{
    for (const char *p = md; p; p = strchr(p, '\n')) {
        if (*p == '\n')
            p++;
        if (strncmp(p, "| `", 3))
            continue;
        const char *end = strstr(p + 2, " | "), *eol = strchr(p, '\n');
        if (!end || (eol && end > eol))
            end = eol ? eol : p + strlen(p);
        for (const char *w = strchr(p, '`'); w && w < end; w = strchr(w + 1, '`')) {
            const char *q = ++w;
            while (q < end && *q != ' ' && *q != '`')
                q++;
            docs_add(out, w, (size_t)(q - w));
            w = strchr(q, '`'); /* the span's closing backtick */
            if (!w)
                break;
        }
    }
}

/* The keys of the first cells of the key tables (after a "| key | action |" header): words
 * split at spaces and commas, backticks dropped ("`1`..`5`, F2..F6" gives 1..5 and F2..F6). */
static void docs_md_keys(const char *md, docs_set *out)
{
    bool in = false;
    for (const char *p = md; p && *p; p = strchr(p, '\n')) {
        if (*p == '\n')
            p++;
        if (!strncmp(p, "| key | action |", 16)) {
            in = true;
            continue;
        }
        if (*p != '|') {
            in = false;
            continue;
        }
        if (!in || !strncmp(p, "|---", 4))
            continue;
        const char *end = strstr(p + 1, " |");
        char cell[256] = "", *c = cell;
        for (const char *s = p + 1; end && s < end && c < cell + sizeof cell - 1; s++)
            if (*s != '`')
                *c++ = *s;
        *c = '\0';
        for (char *tok = strtok(cell, " ,"); tok; tok = strtok(NULL, " ,"))
            docs_add(out, tok, strlen(tok));
    }
}

/* A binding's label as the key table writes it: a range "1-5" / "F2-F6" as 1..5 / F2..F6. */
static void docs_key_label(const char *label, char *out, size_t cap)
{
    const char *dash = strchr(label, '-');
    bool range = dash && dash != label && isdigit((unsigned char)dash[-1]) && dash[1] &&
                 (isdigit((unsigned char)dash[1]) || dash[1] == 'F');
    if (range)
        snprintf(out, cap, "%.*s..%s", (int)(dash - label), label, dash + 1);
    else
        snprintf(out, cap, "%s", label);
}

/* ---- the checks --------------------------------------------------------------------------- */

static void test_config_keys(void)
{
    char *cfg = docs_slurp("config/kestrel.cfg"), *man = docs_man_text();
    CHECK(cfg != NULL && man != NULL);
    if (!cfg || !man) {
        free(cfg);
        free(man);
        return;
    }
    char *code = docs_cfg_code(cfg);
    static docs_set paths;
    docs_cfg_paths(code, &paths);
    CHECK(config_key_count() > 50);
    int cfg_missing = 0, man_missing = 0;
    for (size_t i = 0; config_key_at(i); i++) {
        const char *k = config_key_at(i);
        if (!docs_has(&paths, k)) {
            printf("   config/kestrel.cfg lacks %s\n", k);
            cfg_missing++;
        }
        if (!docs_man_has_key(man, k)) {
            printf("   man/kestrel.1 lacks %s\n", k);
            man_missing++;
        }
    }
    CHECK_INT(cfg_missing, 0);
    CHECK_INT(man_missing, 0);
    /* the scanner itself: it finds a set key, a commented-out one and a nested venue key */
    CHECK(docs_has(&paths, "replay.speed") && docs_has(&paths, "replay.loop"));
    CHECK(!docs_has(&paths, "stall_factor") && !docs_has(&paths, "health.no_such_key"));
    free(code);
    free(cfg);
    free(man);
}

static void test_commands(void)
{
    char *md = docs_slurp("docs/CONTROL.md"), *man = docs_man_text();
    CHECK(md != NULL && man != NULL);
    if (!md || !man) {
        free(md);
        free(man);
        return;
    }
    static docs_set table, bold;
    docs_md_first_words(md, &table);
    docs_man_commands(man, &bold);
    CHECK(cmd_count() > 20);
    int md_missing = 0, man_missing = 0;
    for (size_t i = 0; i < cmd_count(); i++) {
        const char *name = cmd_at(i)->name;
        if (!docs_has(&table, name)) {
            printf("   docs/CONTROL.md's command table lacks %s\n", name);
            md_missing++;
        }
        if (!docs_has(&bold, name)) {
            printf("   man/kestrel.1's CONTROL SOCKET lacks %s\n", name);
            man_missing++;
        }
    }
    CHECK_INT(md_missing, 0);
    CHECK_INT(man_missing, 0);
    free(md);
    free(man);
}

static void test_keys(void)
{
    char *md = docs_slurp("docs/UI.md");
    CHECK(md != NULL);
    if (!md)
        return;
    static docs_set table;
    docs_md_keys(md, &table);
    CHECK(keys_count() > 20);
    int missing = 0;
    for (size_t i = 0; i < keys_count(); i++) {
        char label[64];
        docs_key_label(keys_at(i)->label, label, sizeof label);
        if (!docs_has(&table, label)) {
            printf("   docs/UI.md's key table lacks %s (%s)\n", label, keys_at(i)->command);
            missing++;
        }
    }
    CHECK_INT(missing, 0);
    free(md);
}

int main(void)
{
    test_config_keys();
    test_commands();
    test_keys();
    CHECK_DONE();
}
