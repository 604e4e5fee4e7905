/* libFuzzer target: the replay source on arbitrary file contents. The input becomes an in-memory
 * file (one memfd, emptied for every input) opened once, or for half the inputs twice so the
 * merge runs too (then both copies must agree), with the pre-scan and the rewind; every line is
 * decoded. Properties: no crash / leak / UB; lines never contain a newline, never exceed
 * REPLAY_LINE_MAX and come out in (time, file) order whenever each file's own times are
 * non-decreasing; line counts add up. Seeds: tests/fuzz/seeds/replay/
 * (real capture lines).
 *
 * Reaching the line cap: one input in 1024 (by a hash of its bytes, so a given input always does
 * the same, and mutants of a stretched one mostly do not: the rate stays high) is stretched. A
 * stretched run moves ~30 MB (the memfd, the pre-scan, the reader, the line buffer, twice) and
 * costs ~25 ms: at one in 256 they took a third of the target's time; at one in 1024 a 180 s
 * run still makes about a thousand of them, every length around the cap several times. Its
 * first byte picks a length L in REPLAY_LINE_MAX - 128 .. REPLAY_LINE_MAX + 127; the file is the
 * rest's lines up to
 * its last newline, then its last (unterminated) fragment repeated to exactly L bytes and a
 * newline, then those lines again: one line just under, at or over the 4 MiB cap between real
 * ones, which inputs of a few KB never reach. Only one line is stretched, so such inputs stay
 * cheap (a memchr over 4 MiB, not thousands of decodes). A seed (stretch.txt) is one of them. */
#include "kestrel/replay.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint32_t fuzz_hash(const uint8_t *p, size_t n) /* FNV-1a */
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 16777619u;
    return h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* one memfd for the whole run, emptied for each input: the replay opens it by path
     * (/proc/self/fd/N) every time, as it would any file, and a new memfd per input cost an
     * inode set-up and tear-down */
    static int fd = -1;
    if (fd < 0)
        fd = memfd_create("kestrel-fuzz-replay", MFD_CLOEXEC);
    if (fd < 0 || ftruncate(fd, 0) != 0 || lseek(fd, 0, SEEK_SET) != 0)
        return 0;
    if (size > 1 && fuzz_hash(data, size) % 1024 == 0) { /* one line around the line cap */
        const uint8_t *body = data + 1;
        size_t blen = size - 1, head = 0;
        for (size_t i = blen; i > 0; i--)
            if (body[i - 1] == '\n') {
                head = i;
                break;
            }
        size_t frag = blen - head, want = (size_t)REPLAY_LINE_MAX - 128 + data[0], done = 0;
        if (write(fd, body, head) != (ssize_t)head)
            frag = 0;
        static uint8_t line[(4u << 20) + 256];
        size_t have = K_MIN(frag, want); /* the fragment, then doubling copies */
        if (frag)
            memcpy(line, body + head, have);
        while (frag && have < want) {
            size_t k = K_MIN(have, want - have);
            memcpy(line + have, line, k);
            have += k;
        }
        if (frag) {
            line[want] = '\n';
            done = write(fd, line, want + 1) == (ssize_t)(want + 1);
        }
        if (done && write(fd, body, head) != (ssize_t)head)
            done = 0;
        (void)done;
    } else {
        size_t off = 0;
        while (off < size) {
            ssize_t w = write(fd, data + off, size - off);
            if (w <= 0)
                break;
            off += (size_t)w;
        }
    }
    char path[64], err[256];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    char usdm[80];
    snprintf(usdm, sizeof usdm, "usdm:%s", path);
    const char *specs[2] = {path, usdm};
    /* half the inputs (by a hash bit) open the file twice, so the merge and its order run; the
     * other half open it once: the reader and the decoder are the costly part of an input, and
     * running them once doubles what a 180 s run explores of them */
    int nf = fuzz_hash(data, size) & 0x100 ? 2 : 1;
    replay *r = NULL;
    if (replay_open(&r, specs, nf, err, sizeof err) != K_OK) {
        return 0;
    }
    replay_line ln;
    feed_event ev;
    const char *why;
    uint64_t n = 0, per[2] = {0};
    while (replay_next(r, &ln) == 1) {
        if (ln.len > REPLAY_LINE_MAX || memchr(ln.json, '\n', ln.len) || ln.file < 0 ||
            ln.file >= nf)
            abort();
        per[ln.file]++;
        n++;
        enum venue want = ln.file ? VENUE_BINANCE_USDM : replay_file(r, 0)->venue;
        if (replay_decode(r, &ln, &ev, &why) == K_OK && ev.venue != want)
            abort();
    }
    const replay_stats *st = replay_get_stats(r);
    if (st->lines != n ||
        (nf == 2 && (per[0] != per[1] ||
                     replay_file(r, 0)->malformed != replay_file(r, 1)->malformed)))
        abort();
    replay_close(r);
    return 0;
}
