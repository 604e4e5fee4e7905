/* The hot path does not allocate per message: the four bundled captures (real Binance spot data)
 * go through the app's own data path (app_feed_replay: the ingest pipeline, the market model and
 * its subscribers, the display indicators included), and every malloc/calloc/realloc made
 * meanwhile is counted.
 *
 * Counting: this test program defines malloc, calloc, realloc and free itself (glibc lets the
 * main program replace them) and forwards to glibc's __libc_* entry points, so every call from
 * the library is seen without LD_PRELOAD or a special link. Under a sanitizer the allocator
 * belongs to it: the count is skipped there (the same path still runs, leak-checked by ASan).
 *
 * What is allowed: structures that grow to their working size (book sides, candle rings, the
 * reader's buffers) allocate a few times while they warm up. So the first part of the replay is a
 * warm-up; over the rest (well over 100,000 messages) the whole pipeline may allocate only a
 * handful of times (ring doublings of the slow timeframes), never once per message. */
#include "check.h"

#include "kestrel/app.h"
#include "kestrel/ingest.h"
#include "kestrel/market.h"
#include "kestrel/replay.h"

#include <stddef.h>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define HOT_COUNTING 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || \
    __has_feature(memory_sanitizer)
#define HOT_COUNTING 0
#endif
#endif
#ifndef HOT_COUNTING
#define HOT_COUNTING 1
#endif

static unsigned long long hot_allocs; /* test-only counter: the allocator below has no context */

#if HOT_COUNTING
extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t m);
extern void *__libc_realloc(void *p, size_t n);
extern void __libc_free(void *p);

void *malloc(size_t n)
{
    __atomic_add_fetch(&hot_allocs, 1, __ATOMIC_RELAXED);
    return __libc_malloc(n);
}

void *calloc(size_t n, size_t m)
{
    __atomic_add_fetch(&hot_allocs, 1, __ATOMIC_RELAXED);
    return __libc_calloc(n, m);
}

void *realloc(void *p, size_t n)
{
    __atomic_add_fetch(&hot_allocs, 1, __ATOMIC_RELAXED);
    return __libc_realloc(p, n);
}

void free(void *p)
{
    __libc_free(p);
}
#endif

#define WARMUP_LINES 20000

int main(void)
{
    static const char *const specs[] = {
        "data/replay/btcusdt_20240808.gz",
        "data/replay/btcusdt_20240809.gz",
        "data/replay/ethusdt_20240808.gz",
        "data/replay/ethusdt_20240809.gz",
    };
    char err[256];
    replay *r = NULL;
    CHECK_INT(replay_open(&r, specs, 4, err, sizeof err), K_OK);
    if (!r) {
        fprintf(stderr, "%s\n", err);
        CHECK_DONE();
    }
    static app A;
    config_defaults(&A.cfg);
    snprintf(A.indicators, sizeof A.indicators, "%s", APP_DEFAULT_INDICATORS);
    CHECK_INT(app_model_open(&A), K_OK);
    market *m = A.market;

    uint64_t lines = app_feed_replay(&A, r, WARMUP_LINES);
    unsigned long long warm = __atomic_load_n(&hot_allocs, __ATOMIC_RELAXED);
    lines += app_feed_replay(&A, r, 0);
    unsigned long long during = __atomic_load_n(&hot_allocs, __ATOMIC_RELAXED) - warm;
    uint64_t measured = lines - WARMUP_LINES;
    uint64_t bad = A.malformed, applied = A.messages;

    CHECK_INT(lines, 179318); /* every line of the four captures */
    CHECK_INT(bad, 0);
    CHECK(applied > 170000);
    CHECK(measured > 150000);
    market_sym *btc = market_find(m, VENUE_BINANCE_SPOT, "BTCUSDT");
    CHECK(btc && book_is_live(btc->book));
#if HOT_COUNTING
    printf("hot path: %llu allocations over %llu messages after a %d-line warm-up\n", during,
           (unsigned long long)measured, WARMUP_LINES);
    CHECK(warm > 0);                         /* the counter sees the library's allocations */
    CHECK(during <= 64);                     /* growth to working size only */
    CHECK(during * 1000 < (unsigned long long)measured); /* far below one per message */
#else
    (void)during;
    printf("hot path: allocation count skipped under a sanitizer\n");
#endif
    app_model_close(&A);
    replay_close(r);
    CHECK_DONE();
}
