/* Colour themes: a table of ROLES (up, down, bid, ask, border, ...) each mapped to a style for
 * 256-colour terminals, a style for 8-colour terminals and attributes alone for monochrome ones
 * (after htop's colour schemes). Loaded from themes/<name>.theme (libconfig syntax, see
 * docs/UI.md). Pure data and parsing: no curses here, so it is testable without a terminal. */
#ifndef KESTREL_THEME_H
#define KESTREL_THEME_H
#include "kestrel/common.h"

enum theme_role {
    ROLE_TEXT = 0,     /* ordinary text */
    ROLE_DIM,          /* secondary text, labels */
    ROLE_TITLE,        /* pane titles */
    ROLE_BORDER,       /* pane borders */
    ROLE_BORDER_FOCUS, /* border and title of the focused pane */
    ROLE_HEADER,       /* column headers */
    ROLE_UP,           /* rising price, buy aggressor, positive change */
    ROLE_DOWN,         /* falling price, sell aggressor, negative change */
    ROLE_BID,          /* bid side prices */
    ROLE_ASK,          /* ask side prices */
    ROLE_BID_DEPTH,    /* cumulative depth bar behind bid rows */
    ROLE_ASK_DEPTH,    /* cumulative depth bar behind ask rows */
    ROLE_VOLUME,       /* volume axis / neutral volume */
    ROLE_VOL_UP,       /* volume bar of a rising candle */
    ROLE_VOL_DOWN,     /* volume bar of a falling candle */
    ROLE_AXIS,         /* chart axes and grid labels */
    ROLE_LAST_PRICE,   /* last price marker on the price axis */
    ROLE_CURSOR,       /* chart cursor marker */
    ROLE_SELECTION,    /* selected row in a list */
    ROLE_WARNING,      /* e.g. RESYNCING, flash warnings */
    ROLE_ERROR,        /* errors, invalid data */
    ROLE_OK,           /* e.g. a live book */
    ROLE_STATUS,       /* status bar base (fg/bg) */
    ROLE_STATUS_KEY,   /* status bar emphasis (symbol, clock) */
    ROLE_STATUS_WARN,  /* status bar warning (a resyncing book, malformed messages) */
    ROLE_REPLAY,       /* REPLAY / BACKTEST badge */
    ROLE_LIVE,         /* LIVE badge */
    ROLE_PAPER,        /* PAPER broker badge */
    ROLE_KEY,          /* key names in the hint line and help */
    ROLE_FLASH,        /* flash message */
    ROLE_OVERLAY,      /* help / confirm overlay body */
    ROLE_IND1,         /* indicator lines, in the order indicators are listed */
    ROLE_IND2,
    ROLE_IND3,
    ROLE_IND4,
    ROLE_IND5,
    ROLE_IND6,
    ROLE_LEVEL,        /* reference levels of oscillators (30/70, 0, ...) */
    ROLE_COUNT
};

/* Attribute bits (mapped to curses attributes by the UI). */
#define THEME_A_BOLD 0x01u
#define THEME_A_DIM 0x02u
#define THEME_A_REVERSE 0x04u
#define THEME_A_UNDERLINE 0x08u
#define THEME_A_STANDOUT 0x10u
#define THEME_A_ITALIC 0x20u

#define THEME_COLOR_DEFAULT (-1) /* the terminal's own foreground/background */

typedef struct theme_style {
    int16_t fg, bg;  /* THEME_COLOR_DEFAULT or 0..255; 8-colour styles 0..15, where 8..15
                      * (bright) are drawn as 0..7, a bright foreground in bold */
    uint32_t attrs;  /* THEME_A_* */
} theme_style;

typedef struct theme {
    char name[64];
    char path[512];              /* file it came from, "" = built in */
    theme_style c256[ROLE_COUNT];
    theme_style c8[ROLE_COUNT];
    uint32_t mono[ROLE_COUNT];   /* THEME_A_* for terminals without colour */
} theme;

const char *theme_role_name(enum theme_role r); /* "text", "border_focus", ... */
int theme_role_parse(const char *name, enum theme_role *out);

/* The built-in default theme (the same as themes/default.theme). */
void theme_builtin(theme *t);

/* Loads a theme file over the built-in default: roles the file leaves out keep their default.
 * Unknown roles and keys are warnings passed to warn_fn (may be NULL). K_ERR with
 * "file:line: what is wrong" on a syntax error or a bad colour / attribute. */
int theme_load_file(theme *t, const char *path, void (*warn_fn)(void *ud, const char *msg),
                    void *ud, char *err, size_t errlen);

/* Finds <name>.theme in ./themes, then datadir/themes. Names are [A-Za-z0-9._-], no leading dot.
 * K_OK with the path, or K_ERR (bad name or not found). */
int theme_find(const char *name, const char *datadir, char *path, size_t cap);

/* Parses a colour: "default", "black".."white", "bright-black".."bright-white", or 0..255. */
int theme_color_parse(const char *s, int16_t *out);
/* Parses attributes: "bold", "dim", "reverse", "underline", "standout", "italic", "normal",
 * combined with '|', '+', ',' or spaces. */
int theme_attrs_parse(const char *s, uint32_t *out);

#endif
