/* libFuzzer target: the replay source on arbitrary file contents. The input becomes an in-memory
 * file (memfd) opened twice, so the merge, the pre-scan and the rewind run too; every line is
 * decoded. Properties: no crash / leak / UB; lines never contain a newline, never exceed
 * REPLAY_LINE_MAX and come out in (time, file) order whenever each file's own times are
 * non-decreasing; line counts add up. Seeds: tests/fuzz/seeds/replay/ (real capture lines).
 *
 * Reaching the line cap: an input whose first byte is 0xff is stretched: the rest is written
 * again and again until the file holds more than REPLAY_LINE_MAX bytes, so a fragment without a
 * newline becomes an oversized line (the discard path) and one with newlines many lines, which
 * inputs of a few KB never reach. A seed (stretch.txt) starts there. */
#include "kestrel/replay.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int fd = memfd_create("kestrel-fuzz-replay", MFD_CLOEXEC);
    if (fd < 0)
        return 0;
    size_t total = size, skip = 0;
    if (size > 1 && data[0] == 0xff) { /* stretched past the line cap */
        skip = 1;
        total = (size_t)REPLAY_LINE_MAX + 2 * size;
    }
    size_t off = 0;
    while (off < total) {
        size_t part = size - skip, at = off % part;
        ssize_t w = write(fd, data + skip + at, K_MIN(part - at, total - off));
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    char path[64], err[256];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    char usdm[80];
    snprintf(usdm, sizeof usdm, "usdm:%s", path);
    const char *specs[2] = {path, usdm};
    replay *r = NULL;
    if (replay_open(&r, specs, 2, err, sizeof err) != K_OK) {
        close(fd);
        return 0;
    }
    replay_line ln;
    feed_event ev;
    const char *why;
    uint64_t n = 0, per[2] = {0};
    while (replay_next(r, &ln) == 1) {
        if (ln.len > REPLAY_LINE_MAX || memchr(ln.json, '\n', ln.len) || ln.file < 0 ||
            ln.file > 1)
            abort();
        per[ln.file]++;
        n++;
        enum venue want = ln.file ? VENUE_BINANCE_USDM : replay_file(r, 0)->venue;
        if (replay_decode(r, &ln, &ev, &why) == K_OK && ev.venue != want)
            abort();
    }
    const replay_stats *st = replay_get_stats(r);
    if (st->lines != n || per[0] != per[1] ||
        replay_file(r, 0)->malformed != replay_file(r, 1)->malformed)
        abort();
    replay_close(r);
    close(fd);
    return 0;
}
