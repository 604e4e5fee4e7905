/* Writing settings back into a libconfig file without touching anything else: only the value
 * text of each changed setting is replaced in place (its quoting kept), a setting the file does
 * not have is added inside its innermost existing group (or as a new group at the end), and every
 * other byte -- comments, blank lines, order, unrelated values -- stays as it was. The result is
 * parsed again with libconfig before it replaces the file (atomically, same mode). Used by the
 * settings form (`e`, `w` in it) and `kestrel ctl settings write`. */
#ifndef KESTREL_CFGWRITE_H
#define KESTREL_CFGWRITE_H
#include "kestrel/common.h"

#include <stddef.h>

enum cfgwrite_result {
    CFGW_OK = 0,
    CFGW_ERR_READ,    /* the file cannot be read */
    CFGW_ERR_PARSE,   /* the file (or the edited text) is not valid libconfig */
    CFGW_ERR_INCLUDE, /* the setting lives in an @include'd file: not written */
    CFGW_ERR_KEY,     /* a key that is not a dotted name, or a value that is not plain text */
    CFGW_ERR_WRITE,   /* writing the new file failed (the old one is untouched) */
    CFGW_ERR_TARGET,  /* no config file was loaded, or it is the shipped default: not written */
};
const char *cfgwrite_strerror(enum cfgwrite_result r);

typedef struct cfgwrite_kv {
    const char *key;   /* dotted path: "risk.max_positions", "fees.binance-spot.taker" */
    const char *value; /* the value as text: "7", "0.075", "fixed_quote" */
    bool string;       /* written quoted when the file does not say (a new setting) */
} cfgwrite_kv;

/* Edits text (n bytes) so each key reads its value; the result (malloc'd, NUL-terminated) in
 * *out and its length in *outlen. Pure: no file access. *changed counts the keys whose text
 * actually changed. CFGW_OK or an error with a message in err. */
K_MUST_USE enum cfgwrite_result cfgwrite_text(const char *text, size_t n, const cfgwrite_kv *kv,
                                              int nkv, char **out, size_t *outlen, int *changed,
                                              char *err, size_t errlen);

/* The same on a file: read, edit, re-parse, write to path.tmp with the file's mode, fsync,
 * rename over path. Nothing is written when no value changed (*changed = 0). */
K_MUST_USE enum cfgwrite_result cfgwrite_file(const char *path, const cfgwrite_kv *kv, int nkv,
                                              int *changed, char *err, size_t errlen);

/* Whether settings may be written back to path, the config file Kestrel loaded ("" = none, the
 * built-in defaults): never to the repository's shipped default, ./config/kestrel.cfg in the
 * working directory (found there implicitly or named, however: the same file by its real path),
 * which belongs to the checkout and not to the user. CFGW_OK, or CFGW_ERR_TARGET with a message
 * that names the file and says what to do instead. */
K_MUST_USE enum cfgwrite_result cfgwrite_target(const char *path, char *err, size_t errlen);

#endif
