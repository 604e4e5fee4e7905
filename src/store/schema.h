/* Internal to src/store/: opening checks, schema versions and migrations (schema.c). */
#ifndef KESTREL_STORE_SCHEMA_H
#define KESTREL_STORE_SCHEMA_H
#include <sqlite3.h>
#include <stddef.h>

/* PRAGMA application_id of every Kestrel database: "KSTR". */
#define STORE_APP_ID 0x4B535452

/* Number of migrations = the schema version this build creates. */
int store_schema_latest(void);

/* On a freshly opened read-write connection to `path` (nothing written yet): checks that the
 * file is a Kestrel database of a version this build understands (or empty), and only then
 * switches it to WAL and applies the missing migrations, one transaction each. On K_ERR the
 * message is in err; a refused file has not been written. *version = the resulting version. */
int store_schema_prepare(sqlite3 *db, const char *path, int *version, char *err, size_t errlen);

/* Message for a failed SQLite call during open, classified for the user (corrupt / in use /
 * cannot open). */
void store_schema_describe(sqlite3 *db, int rc, const char *path, char *err, size_t errlen);

#endif
