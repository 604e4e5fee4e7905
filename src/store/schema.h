/* Internal to src/store/: opening checks, schema versions and migrations (schema.c). */
#ifndef KESTREL_STORE_SCHEMA_H
#define KESTREL_STORE_SCHEMA_H
#include "kestrel/store.h"

#include <sqlite3.h>
#include <stddef.h>

/* PRAGMA application_id of every Kestrel database: "KSTR". */
#define STORE_APP_ID 0x4B535452

/* Number of migrations = the schema version this build creates. */
int store_schema_latest(void);

/* On a freshly opened read-write connection to `path` (nothing written yet): checks that the
 * file is a Kestrel database of a version this build understands (or empty), and only then
 * switches it to WAL and applies the missing migrations, one transaction each. On an error the
 * message is in err; a refused file has not been written. *version = the resulting version. */
enum store_result store_schema_prepare(sqlite3 *db, const char *path, int *version, char *err,
                                       size_t errlen);

/* Message for a failed SQLite call during open, classified for the user (corrupt / in use /
 * read-only / disk full / cannot open), and the matching result. */
enum store_result store_schema_describe(sqlite3 *db, int rc, const char *path, char *err,
                                        size_t errlen);

#endif
