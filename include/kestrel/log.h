/* Logging to a file or stderr with levels; never to the terminal while the UI owns it.
 * A klog is owned by the app struct; modules that log receive it. */
#ifndef KESTREL_LOG_H
#define KESTREL_LOG_H
#include "kestrel/config.h"

typedef struct klog klog;

/* path NULL or "" and to_stderr false: logging disabled (messages still counted). */
klog *log_open(const char *path, bool to_stderr, enum log_level level, char *err, size_t errlen);
void log_close(klog *lg);
void log_write(klog *lg, enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
uint64_t log_count(const klog *lg, enum log_level level);

#define log_error(lg, ...) log_write((lg), LOG_ERROR, __VA_ARGS__)
#define log_warn(lg, ...) log_write((lg), LOG_WARN, __VA_ARGS__)
#define log_info(lg, ...) log_write((lg), LOG_INFO, __VA_ARGS__)
#define log_debug(lg, ...) log_write((lg), LOG_DEBUG, __VA_ARGS__)

#endif
