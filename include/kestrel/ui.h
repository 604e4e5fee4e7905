/* The terminal UI (ncursesw). Owns the terminal exclusively (like htop's CRT.c): init, colours,
 * layout, panes, overlays, keys. Draws only from the model, at most cfg.ui_fps times a second and
 * only when something changed; one doupdate() per frame. */
#ifndef KESTREL_UI_H
#define KESTREL_UI_H
#include "kestrel/app.h"

#include <stdio.h>

typedef struct ui ui;

/* Initialises the terminal (setlocale must already be done). NULL with a message in err when
 * the terminal cannot be used (not a tty, unknown TERM, no cursor addressing). */
ui *ui_open(app *a, char *err, size_t errlen);
void ui_close(ui *u); /* restores the terminal */
/* The abort path (out of memory): leaves curses and restores the terminal's modes, freeing
 * nothing else. */
void ui_emergency_restore(ui *u);
/* K_OK when theme `name` is "default" or found in ./themes or DATADIR/themes; else K_ERR and
 * "unknown theme 'NAME' (...)" in err: the caller exits 2 like for any bad value. */
int ui_theme_check(const char *name, char *err, size_t errlen);

void ui_on_input(ui *u);   /* stdin is readable: read and dispatch every pending key */
void ui_on_resize(ui *u);  /* SIGWINCH */
/* Before-sleep: draws if anything changed and the frame budget allows. Returns the ms until a
 * pending redraw is allowed, or -1 when nothing is pending. */
int ui_draw(ui *u);

/* For tests and benchmarks (additive): a UI on any terminal stream (e.g. /dev/null) of a given
 * TERM and size, resized without a SIGWINCH, fed keys without a keyboard, drawn regardless of the
 * frame cap (full = redraw every pane). */
ui *ui_open_term(app *a, FILE *out, FILE *in, const char *term, int rows, int cols, char *err,
                 size_t errlen);
void ui_resize_to(ui *u, int rows, int cols);
void ui_feed_key(ui *u, int key); /* a character or a curses KEY_* code */
/* An SGR mouse report as the terminal sends it (button 0 left, 64/65 wheel; 0-based cell). */
void ui_feed_mouse(ui *u, int button, int y, int x, bool press);
void ui_draw_now(ui *u, bool full);

#endif
