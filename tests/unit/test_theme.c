/* Theme files: the shipped themes load cleanly, themes/default.theme states the built-in default
 * exactly, colour and attribute parsing, errors name file:line, unknown roles are warnings. */
#include "check.h"

#include "kestrel/theme.h"

#include <unistd.h>

static int warnings;
static void count_warn(void *ud, const char *msg)
{
    (void)ud;
    fprintf(stderr, "warning: %s\n", msg);
    warnings++;
}

static bool style_eq(theme_style a, theme_style b)
{
    return a.fg == b.fg && a.bg == b.bg && a.attrs == b.attrs;
}

static int write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fputs(text, f);
    fclose(f);
    return 0;
}

int main(void)
{
    char err[512];
    int16_t c;
    uint32_t at;

    /* colours */
    CHECK(theme_color_parse("default", &c) == K_OK && c == THEME_COLOR_DEFAULT);
    CHECK(theme_color_parse("red", &c) == K_OK && c == 1);
    CHECK(theme_color_parse("bright-white", &c) == K_OK && c == 15);
    CHECK(theme_color_parse("255", &c) == K_OK && c == 255);
    CHECK(theme_color_parse("0", &c) == K_OK && c == 0);
    CHECK(theme_color_parse("256", &c) == K_ERR);
    CHECK(theme_color_parse("-2", &c) == K_ERR);
    CHECK(theme_color_parse("purple", &c) == K_ERR);
    CHECK(theme_color_parse("bright-12", &c) == K_ERR);
    CHECK(theme_color_parse("", &c) == K_ERR);
    CHECK(theme_color_parse("12x", &c) == K_ERR);

    /* attributes */
    CHECK(theme_attrs_parse("bold|underline", &at) == K_OK &&
          at == (THEME_A_BOLD | THEME_A_UNDERLINE));
    CHECK(theme_attrs_parse("reverse + dim", &at) == K_OK && at == (THEME_A_REVERSE | THEME_A_DIM));
    CHECK(theme_attrs_parse("normal", &at) == K_OK && at == 0);
    CHECK(theme_attrs_parse("", &at) == K_OK && at == 0);
    CHECK(theme_attrs_parse("blink", &at) == K_ERR);
    CHECK(theme_attrs_parse("boldx", &at) == K_ERR);

    /* roles */
    enum theme_role r;
    CHECK(theme_role_parse("border_focus", &r) == K_OK && r == ROLE_BORDER_FOCUS);
    CHECK(theme_role_parse("nope", &r) == K_ERR);
    for (int i = 0; i < ROLE_COUNT; i++) {
        CHECK(theme_role_parse(theme_role_name((enum theme_role)i), &r) == K_OK &&
              r == (enum theme_role)i);
    }

    /* the shipped default file is exactly the built-in default */
    theme builtin, t;
    theme_builtin(&builtin);
    warnings = 0;
    CHECK_INT(theme_load_file(&t, "themes/default.theme", count_warn, NULL, err, sizeof(err)),
              K_OK);
    CHECK_INT(warnings, 0);
    CHECK_STR(t.name, "default");
    int same = 0;
    for (int i = 0; i < ROLE_COUNT; i++) {
        if (style_eq(t.c256[i], builtin.c256[i]) && style_eq(t.c8[i], builtin.c8[i]) &&
            t.mono[i] == builtin.mono[i])
            same++;
        else
            fprintf(stderr, "role %s differs from the built-in default\n",
                    theme_role_name((enum theme_role)i));
    }
    CHECK_INT(same, ROLE_COUNT);

    /* every shipped theme loads without warnings and sets every role in its file */
    const char *names[] = {"default", "mono", "amber"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        char path[256];
        CHECK_INT(theme_find(names[i], NULL, path, sizeof(path)), K_OK);
        warnings = 0;
        int rc = theme_load_file(&t, path, count_warn, NULL, err, sizeof(err));
        if (rc != K_OK)
            fprintf(stderr, "%s\n", err);
        CHECK_INT(rc, K_OK);
        CHECK_INT(warnings, 0);
        CHECK_STR(t.name, names[i]);
    }
    /* mono: no colour even on colour terminals; up and down differ by attributes */
    CHECK_INT(theme_load_file(&t, "themes/mono.theme", NULL, NULL, err, sizeof(err)), K_OK);
    CHECK(t.c256[ROLE_UP].fg == THEME_COLOR_DEFAULT && t.c8[ROLE_DOWN].fg == THEME_COLOR_DEFAULT);
    CHECK(t.mono[ROLE_UP] != t.mono[ROLE_DOWN]);

    /* lookup: bad names are refused (no path tricks), unknown names not found */
    char path[256];
    CHECK_INT(theme_find("../themes/default", NULL, path, sizeof(path)), K_ERR);
    CHECK_INT(theme_find(".hidden", NULL, path, sizeof(path)), K_ERR);
    CHECK_INT(theme_find("", NULL, path, sizeof(path)), K_ERR);
    CHECK_INT(theme_find("no-such-theme", "/nonexistent", path, sizeof(path)), K_ERR);

    /* a partial theme overrides only what it names; unknown roles and keys are warnings */
    char tmp[] = "/tmp/kestrel-theme-XXXXXX";
    int fd = mkstemp(tmp);
    CHECK(fd >= 0);
    if (fd >= 0)
        close(fd);
    CHECK_INT(write_file(tmp, "name = \"partial\";\n"
                              "roles = {\n"
                              "  up = { c8 = { fg = \"bright-green\"; attr = \"bold\"; }; };\n"
                              "  sparkle = { mono = \"bold\"; };\n"
                              "  down = { c256 = { fg = 160; bg = 16; }; colour = 3; };\n"
                              "};\n"
                              "extra = 1;\n"),
              0);
    warnings = 0;
    CHECK_INT(theme_load_file(&t, tmp, count_warn, NULL, err, sizeof(err)), K_OK);
    CHECK_INT(warnings, 3);
    CHECK_STR(t.name, "partial");
    CHECK(t.c8[ROLE_UP].fg == 10 && t.c8[ROLE_UP].attrs == THEME_A_BOLD);
    CHECK(t.c256[ROLE_UP].fg == 10); /* c8 alone serves 256-colour terminals too */
    CHECK(t.c256[ROLE_DOWN].fg == 160 && t.c256[ROLE_DOWN].bg == 16);
    CHECK(style_eq(t.c8[ROLE_DOWN], builtin.c8[ROLE_DOWN]));
    CHECK(style_eq(t.c256[ROLE_TEXT], builtin.c256[ROLE_TEXT]));

    /* errors name file:line and leave the theme untouched */
    theme before = t;
    CHECK_INT(write_file(tmp, "roles = {\n  up = {\n    c8 = { fg = 99; };\n  };\n};\n"), 0);
    CHECK_INT(theme_load_file(&t, tmp, NULL, NULL, err, sizeof(err)), K_ERR);
    CHECK(strstr(err, ":3:") != NULL);
    CHECK(strstr(err, "out of range") != NULL);
    CHECK(memcmp(&before, &t, sizeof(t)) == 0);
    CHECK_INT(write_file(tmp, "roles = {\n  up = { mono = \"blinky\"; };\n};\n"), 0);
    CHECK_INT(theme_load_file(&t, tmp, NULL, NULL, err, sizeof(err)), K_ERR);
    CHECK(strstr(err, ":2:") != NULL && strstr(err, "blinky") != NULL);
    CHECK_INT(write_file(tmp, "roles = {\n  up = { c256 = { fg = \"mauve\"; }; };\n};\n"), 0);
    CHECK_INT(theme_load_file(&t, tmp, NULL, NULL, err, sizeof(err)), K_ERR);
    CHECK(strstr(err, "mauve") != NULL);
    CHECK_INT(write_file(tmp, "roles = {\n  up = { c256 = { fg = 1 }; };\n"), 0); /* syntax */
    CHECK_INT(theme_load_file(&t, tmp, NULL, NULL, err, sizeof(err)), K_ERR);
    CHECK(strstr(err, tmp) != NULL);
    CHECK_INT(write_file(tmp, "roles = 3;\n"), 0);
    CHECK_INT(theme_load_file(&t, tmp, NULL, NULL, err, sizeof(err)), K_ERR);
    unlink(tmp);
    CHECK_INT(theme_load_file(&t, "/nonexistent/x.theme", NULL, NULL, err, sizeof(err)), K_ERR);
    CHECK(strstr(err, "cannot read") != NULL);

    /* the focus border is told apart from every indicator line (256 and 8 colours, fg and
     * attributes); one "up" green everywhere (up, bid, ok, rising volume) */
    {
        theme tb;
        theme_builtin(&tb);
        int same256 = 0, same8 = 0;
        for (int k = ROLE_IND1; k <= ROLE_IND6; k++) {
            same256 += tb.c256[k].fg == tb.c256[ROLE_BORDER_FOCUS].fg;
            same8 += tb.c8[k].fg == tb.c8[ROLE_BORDER_FOCUS].fg &&
                     tb.c8[k].attrs == tb.c8[ROLE_BORDER_FOCUS].attrs;
        }
        CHECK_INT(same256, 0);
        CHECK_INT(same8, 0);
        CHECK_INT(tb.c256[ROLE_BID].fg, tb.c256[ROLE_UP].fg);
        CHECK_INT(tb.c256[ROLE_OK].fg, tb.c256[ROLE_UP].fg);
        CHECK_INT(tb.c256[ROLE_VOL_UP].fg, tb.c256[ROLE_UP].fg);
    }
    CHECK_DONE();
}
