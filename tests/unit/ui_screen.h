/* Test helper: reads what curses has on the (virtual) screen, curscr, back as UTF-8 text lines,
 * so UI tests can assert on what a user would see. Shared by test_ui.c and test_ui_ind.c. */
#ifndef KESTREL_TEST_UI_SCREEN_H
#define KESTREL_TEST_UI_SCREEN_H
#define NCURSES_WIDECHAR 1
#include <curses.h>
#include <stdbool.h>
#include <string.h>
#include <wchar.h>

/* Fills buf (NUL-terminated, one '\n' per row). altcharset / high (may be NULL) report whether
 * any cell used the alternate character set or a code point >= 0x80. */
static inline void ui_screen_grab(char *buf, size_t cap, bool *altcharset, bool *high)
{
    size_t o = 0;
    if (altcharset)
        *altcharset = false;
    if (high)
        *high = false;
    for (int y = 0; y < LINES; y++) {
        for (int x = 0; x < COLS; x++) {
            cchar_t cc;
            wchar_t wc[CCHARW_MAX + 1] = {0};
            attr_t at;
            short pair;
            if (mvwin_wch(curscr, y, x, &cc) != OK)
                continue;
            getcchar(&cc, wc, &at, &pair, NULL);
            if (altcharset && (at & A_ALTCHARSET))
                *altcharset = true;
            if (high && wc[0] >= 0x80)
                *high = true;
            char mb[8];
            mbstate_t st = {0};
            size_t n = wcrtomb(mb, wc[0] ? wc[0] : L' ', &st);
            if (n == (size_t)-1) {
                mb[0] = '?';
                n = 1;
            }
            if (o + n + 2 < cap) {
                memcpy(buf + o, mb, n);
                o += n;
            }
        }
        if (o + 2 < cap)
            buf[o++] = '\n';
    }
    buf[o] = 0;
}

#endif
