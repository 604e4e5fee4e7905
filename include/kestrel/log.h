/* Logging to a file or stderr with levels; never to the terminal while the UI owns it.
 * A klog is owned by the app struct; modules that log receive it. */
#ifndef KESTREL_LOG_H
#define KESTREL_LOG_H
#include "kestrel/config.h"

typedef struct klog klog;

/* Longest message kept per line (bytes after escaping); longer ones are cut at a UTF-8 boundary
 * and marked " [truncated, N bytes]". */
#define LOG_LINE_MAX 4096

/* path set: appended to (created 0600); else to_stderr: standard error;
 * path NULL or "" and to_stderr false: logging disabled (messages still counted).
 * Lines: "2024-08-08T23:54:13.123Z WARN  message" (UTC); control characters in messages are
 * escaped so one call is always one line. Safe to call from several threads; lg may be NULL. */
klog *log_open(const char *path, bool to_stderr, enum log_level level, char *err, size_t errlen);
void log_close(klog *lg);
void log_write(klog *lg, enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Messages logged at `level` since log_open, whether or not the level filter (or a disabled
 * log) let them through. */
uint64_t log_count(const klog *lg, enum log_level level);
/* Lines that could not be written (write error, disk full, closed pipe). */
uint64_t log_dropped(const klog *lg);

/* The tail kept in memory (for the System screen; nothing is read back from the file): the last
 * LOG_TAIL_LINES lines that passed the level filter, written or not (a disabled log keeps them
 * too), each as written ("2024-08-08T23:54:13.123Z WARN  message", escaped, no newline) and cut
 * to LOG_TAIL_COLS - 1 bytes at a UTF-8 boundary. */
#define LOG_TAIL_LINES 64
#define LOG_TAIL_COLS 240
/* Copies the newest min(max, kept) lines into out, oldest first, and returns how many; *seq
 * (may be NULL) gets log_tail_seq() of that copy. Takes a lock held only for memcpy's. */
uint32_t log_tail(klog *lg, char (*out)[LOG_TAIL_COLS], uint32_t max, uint64_t *seq);
/* Lines kept in the tail since log_open (changes whenever the tail does). */
uint64_t log_tail_seq(const klog *lg);

#define log_error(lg, ...) log_write((lg), LOG_ERROR, __VA_ARGS__)
#define log_warn(lg, ...) log_write((lg), LOG_WARN, __VA_ARGS__)
#define log_info(lg, ...) log_write((lg), LOG_INFO, __VA_ARGS__)
#define log_debug(lg, ...) log_write((lg), LOG_DEBUG, __VA_ARGS__)

#endif
