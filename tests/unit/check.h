/* Minimal test runner for Kestrel's C unit tests. Each test binary ends with CHECK_DONE(), which
 * prints "N passed, N failed" (the line tests/run.sh and CI read) and returns the exit status. */
#ifndef KESTREL_CHECK_H
#define KESTREL_CHECK_H
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check_passed_, check_failed_;

#define CHECK(cond)                                                                             \
    do {                                                                                        \
        if (cond) {                                                                             \
            check_passed_++;                                                                    \
        } else {                                                                                \
            check_failed_++;                                                                    \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);           \
        }                                                                                       \
    } while (0)

#define CHECK_INT(a, b)                                                                         \
    do {                                                                                        \
        long long a_ = (long long)(a), b_ = (long long)(b);                                     \
        if (a_ == b_) {                                                                         \
            check_passed_++;                                                                    \
        } else {                                                                                \
            check_failed_++;                                                                    \
            fprintf(stderr, "%s:%d: %s == %lld, expected %s == %lld\n", __FILE__, __LINE__, #a, \
                    a_, #b, b_);                                                                \
        }                                                                                       \
    } while (0)

#define CHECK_STR(a, b)                                                                         \
    do {                                                                                        \
        const char *a_ = (a), *b_ = (b);                                                        \
        if (a_ && b_ && strcmp(a_, b_) == 0) {                                                  \
            check_passed_++;                                                                    \
        } else {                                                                                \
            check_failed_++;                                                                    \
            fprintf(stderr, "%s:%d: %s == \"%s\", expected \"%s\"\n", __FILE__, __LINE__, #a,   \
                    a_ ? a_ : "(null)", b_ ? b_ : "(null)");                                    \
        }                                                                                       \
    } while (0)

/* |a-b| <= rel * max(|a|,|b|) or |a-b| <= abs_tol */
#define CHECK_NEAR(a, b, rel)                                                                   \
    do {                                                                                        \
        double a_ = (a), b_ = (b);                                                              \
        double m_ = fabs(a_) > fabs(b_) ? fabs(a_) : fabs(b_);                                  \
        if (fabs(a_ - b_) <= (rel)*m_ || fabs(a_ - b_) <= 1e-12) {                              \
            check_passed_++;                                                                    \
        } else {                                                                                \
            check_failed_++;                                                                    \
            fprintf(stderr, "%s:%d: %s == %.17g, expected %.17g (rel %g)\n", __FILE__,          \
                    __LINE__, #a, a_, b_, (double)(rel));                                       \
        }                                                                                       \
    } while (0)

#define CHECK_DONE()                                                                            \
    do {                                                                                        \
        printf("%d passed, %d failed\n", check_passed_, check_failed_);                         \
        return check_failed_ ? 1 : 0;                                                           \
    } while (0)

/* Path of the shared real data (../shared/data from the repo root), overridable by
 * $KESTREL_SHARED_DATA. */
static inline const char *check_shared_data(void)
{
    const char *e = getenv("KESTREL_SHARED_DATA");
    return e && *e ? e : "../shared/data";
}

#endif
