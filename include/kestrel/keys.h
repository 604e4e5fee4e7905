/* Key bindings: every key of the main screen maps to a command line of the command table
 * (include/kestrel/cmd.h), following the key table of docs/UI.md, so a key and
 * `kestrel ctl NAME ARGS` do the same thing and the help overlay is generated from the two
 * tables. Keys inside an overlay (picker, quit prompt) are the overlay's own (keys_local). */
#ifndef KESTREL_KEYS_H
#define KESTREL_KEYS_H
#include "kestrel/common.h"

typedef struct key_binding {
    int key;             /* a character or a curses KEY_* code */
    const char *label;   /* as the help shows it: "Tab", "Shift-Tab", "?" */
    const char *command; /* the command line it runs: "pane-next", "speed faster" */
    const char *what;    /* help row; bindings with the same text share one row (NULL: the
                            command's own help line) */
} key_binding;

size_t keys_count(void);
const key_binding *keys_at(size_t i);
/* The binding of key, or NULL. */
const key_binding *keys_lookup(int key);
/* The keys of command name (first word of the command line) joined with " " into buf ("" when
 * unbound). Returns buf. */
const char *keys_for_command(const char *name, char *buf, size_t cap);

/* Keys that only mean something inside an overlay, for the help: {label, what}. */
typedef struct key_local {
    const char *label, *what;
} key_local;
size_t keys_local_count(void);
const key_local *keys_local_at(size_t i);

/* One row of the help overlay: the keys of one action and what it does; reserved rows are the
 * keys whose command is not yet available. Rows come in binding order. */
typedef struct key_help_row {
    char keys[48];
    char names[48];      /* the distinct command names of its keys: "pane-next pane-prev" */
    const char *command; /* the command line of the row's first key */
    const char *what;
    bool reserved;
} key_help_row;
/* Fills up to cap rows; returns how many there are (which may be more than cap). */
size_t keys_help_rows(key_help_row *rows, size_t cap);

#endif
