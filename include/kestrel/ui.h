/* The terminal UI (ncursesw). Owns the terminal exclusively (like htop's CRT.c): init, colours,
 * layout, panes, overlays, keys. Draws only from the model, at most cfg.ui_fps times a second and
 * only when something changed; one doupdate() per frame. */
#ifndef KESTREL_UI_H
#define KESTREL_UI_H
#include "kestrel/app.h"

typedef struct ui ui;

/* Initialises the terminal (setlocale must already be done). K_ERR with a message when the
 * terminal cannot be used (not a tty, unknown TERM). */
ui *ui_open(app *a, char *err, size_t errlen);
void ui_close(ui *u); /* restores the terminal */

void ui_on_input(ui *u);   /* stdin is readable: read and dispatch every pending key */
void ui_on_resize(ui *u);  /* SIGWINCH */
/* Before-sleep: draws if anything changed and the frame budget allows. Returns the ms until a
 * pending redraw is allowed, or -1 when nothing is pending. */
int ui_draw(ui *u);

#endif
