/* Replay source on the real captures: merge order (BTC + ETH, the 08 and 09 files back to back,
 * ties), line counts against MANIFEST.md, venue / symbol detection (prefix, path, data, the
 * ws-captures format), decode with the file's venue and snapshot symbol, and damage: a truncated
 * gzip, garbage lines, oversized lines, an unterminated last line, files that cannot be opened. */
#include "check.h"

#include "kestrel/replay.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

static char tmpdir[256];
static char shared[1024];

static const char *sd(const char *rel)
{
    static char buf[4][2200];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", shared, rel);
    return buf[k];
}

static const char *tmp(const char *name)
{
    static char buf[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
    return buf[k];
}

/* All lines of a (gzip or plain) file, the newline stripped; *n lines. Caller frees. */
static char **read_lines(const char *path, size_t *n)
{
    gzFile f = gzopen(path, "rb");
    size_t cap = 1024, cnt = 0, lcap = 1 << 20;
    char **v = malloc(cap * sizeof *v), *line = malloc(lcap);
    CHECK(f != NULL);
    while (f && gzgets(f, line, (int)lcap)) {
        size_t l = strlen(line);
        while (l && (line[l - 1] == '\n' || line[l - 1] == '\r'))
            line[--l] = '\0';
        if (cnt == cap)
            v = realloc(v, (cap *= 2) * sizeof *v);
        v[cnt++] = strdup(line);
    }
    if (f)
        gzclose(f);
    free(line);
    *n = cnt;
    return v;
}

static void free_lines(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static replay *open_specs(const char *const *specs, int n)
{
    replay *r = NULL;
    char err[512];
    int rc = replay_open(&r, specs, n, err, sizeof err);
    CHECK_INT(rc, K_OK);
    if (rc != K_OK)
        fprintf(stderr, "replay_open: %s\n", err);
    else /* the readers' pre-scans have answered: replay_file() tells venue and symbol */
        CHECK_INT(replay_wait_ready(r), K_OK);
    return r;
}

/* Drains r; checks global (recv_ns, file) order and per-file line order. */
static uint64_t drain_ordered(replay *r, uint64_t *per_file, int nfiles)
{
    replay_line ln;
    int64_t last_ns = INT64_MIN;
    int last_file = -1, order_bad = 0;
    uint64_t n = 0, last_lineno[8] = {0};
    while (replay_next(r, &ln) == 1) {
        if (ln.recv_ns < last_ns || (ln.recv_ns == last_ns && ln.file < last_file))
            order_bad++;
        if (ln.file < 0 || ln.file >= nfiles || ln.lineno <= last_lineno[ln.file])
            order_bad++;
        else
            last_lineno[ln.file] = ln.lineno;
        if (per_file && ln.file >= 0 && ln.file < nfiles)
            per_file[ln.file]++;
        last_ns = ln.recv_ns;
        last_file = ln.file;
        n++;
    }
    CHECK_INT(order_bad, 0);
    CHECK_INT(replay_next(r, &ln), 0); /* stays at the end */
    return n;
}

static void test_merge_btc_eth(void)
{
    const char *specs[] = {sd("binance/streams/spot/btcusdt_20240808.gz"),
                           sd("binance/streams/spot/ethusdt_20240808.gz")};
    replay *r = open_specs(specs, 2);
    if (!r)
        return;
    replay_line ln;
    uint64_t per[2] = {0}, n = 0;
    int switches = 0, prev = -1;
    int64_t last_ns = 0;
    int bad = 0;
    while (replay_next(r, &ln) == 1) {
        if (ln.recv_ns < last_ns)
            bad++;
        if (prev >= 0 && ln.file != prev)
            switches++;
        /* the line's content is the file's own line: check a prefix of the JSON */
        if (ln.len < 2 || ln.json[0] != '{')
            bad++;
        prev = ln.file;
        last_ns = ln.recv_ns;
        per[ln.file]++;
        n++;
    }
    CHECK_INT(bad, 0);
    CHECK_INT(per[0], 41249);
    CHECK_INT(per[1], 33618);
    CHECK_INT(n, 41249 + 33618);
    CHECK(switches > 10000); /* genuinely interleaved, not one file after the other */
    replay_stats st = *replay_get_stats(r);
    CHECK_INT(st.files, 2);
    CHECK_INT(st.lines, n);
    CHECK_INT(st.malformed, 0);
    CHECK_INT(st.read_errors, 0);
    CHECK_INT(st.first_ns, 1723161253937085768LL); /* BTC's first line comes first */
    CHECK(st.last_ns > st.first_ns);
    CHECK_INT(st.bytes, 11104853 + 9064035); /* zcat | wc -c */
    const replay_file_info *a = replay_file(r, 0), *b = replay_file(r, 1);
    CHECK(a && b && replay_file(r, 2) == NULL && replay_file(r, -1) == NULL);
    CHECK_INT(replay_file_count(r), 2);
    CHECK_STR(a->symbol, "BTCUSDT");
    CHECK_STR(b->symbol, "ETHUSDT");
    CHECK_INT(a->venue, VENUE_BINANCE_SPOT);
    CHECK_INT(a->venue_from, REPLAY_VENUE_DATA);
    CHECK(a->done && b->done);
    CHECK_INT(a->first_ns, 1723161253937085768LL);
    CHECK_INT(b->first_ns, 1723161254024619568LL);
    replay_close(r);
}

static void test_back_to_back(void)
{
    /* listed in reverse on purpose: the merge, not the order of the specs, decides */
    const char *specs[] = {sd("binance/streams/spot/btcusdt_20240809.gz"),
                           sd("binance/streams/spot/btcusdt_20240808.gz")};
    replay *r = open_specs(specs, 2);
    if (!r)
        return;
    replay_line ln;
    uint64_t n = 0, first09 = 0, last08 = 0;
    while (replay_next(r, &ln) == 1) {
        n++;
        if (ln.file == 0 && !first09)
            first09 = n;
        if (ln.file == 1)
            last08 = n;
    }
    CHECK_INT(n, 41249 + 58325);
    CHECK_INT(last08, 41249);
    CHECK_INT(first09, 41250);
    replay_close(r);

    /* four files at once: per-file counts and global order */
    const char *four[] = {sd("binance/streams/spot/btcusdt_20240808.gz"),
                          sd("binance/streams/spot/btcusdt_20240809.gz"),
                          sd("binance/streams/spot/ethusdt_20240808.gz"),
                          sd("binance/streams/spot/ethusdt_20240809.gz")};
    r = open_specs(four, 4);
    if (!r)
        return;
    uint64_t per[4] = {0};
    CHECK_INT(drain_ordered(r, per, 4), 41249 + 58325 + 33618 + 46126);
    CHECK_INT(per[0], 41249);
    CHECK_INT(per[1], 58325);
    CHECK_INT(per[2], 33618);
    CHECK_INT(per[3], 46126);
    replay_close(r);
}

/* Equal timestamps go to the file listed first, alternately, each file in its own order. */
static void test_ties(void)
{
    const char *specs[] = {sd("binance/streams/spot/ethusdt_20240808.gz"),
                           sd("binance/streams/spot/ethusdt_20240808.gz"),
                           sd("binance/streams/spot/ethusdt_20240808.gz")};
    replay *r = open_specs(specs, 3);
    if (!r)
        return;
    replay_line ln;
    uint64_t n = 0;
    int bad = 0;
    while (replay_next(r, &ln) == 1) {
        if (ln.file != (int)(n % 3) || ln.lineno != n / 3 + 1)
            bad++;
        n++;
    }
    CHECK_INT(bad, 0);
    CHECK_INT(n, 3 * 33618);
    replay_close(r);
}

static void test_counts_and_venues(void)
{
    static const struct {
        const char *spec;
        uint64_t lines;
        enum venue v;
        enum replay_venue_from from;
        const char *sym;
    } want[] = {
        {"binance/streams/spot/btcusdt_20240808.gz", 41249, VENUE_BINANCE_SPOT, REPLAY_VENUE_DATA,
         "BTCUSDT"},
        {"binance/streams/spot/ethusdt_20240809.gz", 46126, VENUE_BINANCE_SPOT, REPLAY_VENUE_DATA,
         "ETHUSDT"},
        {"binance/streams/usdm/btcusdt_20240808.gz", 93954, VENUE_BINANCE_USDM, REPLAY_VENUE_PATH,
         "BTCUSDT"},
        {"binance/streams/usdm/ethusdt_20240808.gz", 74655, VENUE_BINANCE_USDM, REPLAY_VENUE_PATH,
         "ETHUSDT"},
    };
    for (size_t i = 0; i < K_ARRAY_LEN(want); i++) {
        const char *spec = sd(want[i].spec);
        replay *r = open_specs(&spec, 1);
        if (!r)
            continue;
        const replay_file_info *fi = replay_file(r, 0);
        CHECK_INT(fi->venue, want[i].v);
        CHECK_INT(fi->venue_from, want[i].from);
        CHECK_STR(fi->symbol, want[i].sym);
        CHECK(strstr(fi->path, want[i].spec) != NULL);
        /* decode everything: no errors, the file's venue, snapshots get the symbol */
        replay_line ln;
        feed_event ev;
        const char *why;
        uint64_t n = 0, errors = 0, wrong = 0, snaps = 0, deep = 0;
        while (replay_next(r, &ln) == 1) {
            n++;
            if (replay_decode(r, &ln, &ev, &why) != K_OK) {
                errors++;
                continue;
            }
            if (ev.venue != want[i].v || strcmp(ev.symbol, want[i].sym) != 0 ||
                ev.recv_ns != ln.recv_ns)
                wrong++;
            snaps += ev.kind == FEED_DEPTH_SNAPSHOT;
            /* the REST snapshot's 1000 + 1000 levels: more than the decode scratch starts with
             * (1024), which grows once and decodes it whole */
            if (ev.kind == FEED_DEPTH_SNAPSHOT)
                deep += ev.u.depth.nbids == 1000 && ev.u.depth.nasks == 1000;
        }
        CHECK_INT(deep, snaps);
        CHECK_INT(n, want[i].lines);
        CHECK_INT(errors, 0);
        CHECK_INT(wrong, 0);
        CHECK_INT(snaps, strstr(want[i].spec, "0808") ? 1 : 0);
        CHECK_INT(fi->lines, want[i].lines);
        CHECK_INT(fi->malformed, 0);
        CHECK_INT(fi->decode_errors, 0);
        CHECK(!fi->read_error);
        CHECK(fi->done);
        replay_close(r);
    }

    /* explicit prefixes win over path and data */
    const char *specs[] = {"usdm:" /* joined below */, "spot:"};
    char a[2300], b[2300];
    snprintf(a, sizeof a, "usdm:%s", sd("binance/streams/spot/btcusdt_20240808.gz"));
    snprintf(b, sizeof b, "spot:%s", sd("binance/streams/usdm/btcusdt_20240808.gz"));
    specs[0] = a;
    specs[1] = b;
    replay *r = open_specs(specs, 2);
    if (r) {
        CHECK_INT(replay_file(r, 0)->venue, VENUE_BINANCE_USDM);
        CHECK_INT(replay_file(r, 0)->venue_from, REPLAY_VENUE_PREFIX);
        CHECK_INT(replay_file(r, 1)->venue, VENUE_BINANCE_SPOT);
        CHECK_INT(replay_file(r, 1)->venue_from, REPLAY_VENUE_PREFIX);
        CHECK_STR(replay_file(r, 1)->path, sd("binance/streams/usdm/btcusdt_20240808.gz"));
        replay_line ln;
        feed_event ev;
        const char *why;
        int bad = 0;
        while (replay_next(r, &ln) == 1)
            if (replay_decode(r, &ln, &ev, &why) != K_OK ||
                ev.venue != (ln.file == 0 ? VENUE_BINANCE_USDM : VENUE_BINANCE_SPOT))
                bad++;
        CHECK_INT(bad, 0);
        replay_close(r);
    }
}

/* Copies `len` bytes of src (or all when len is 0) to dst. */
static void copy_bytes(const char *src, const char *dst, size_t len)
{
    FILE *in = fopen(src, "rb"), *out = fopen(dst, "wb");
    CHECK(in && out);
    char buf[65536];
    size_t total = 0, n;
    while (in && out && (n = fread(buf, 1, sizeof buf, in)) > 0) {
        if (len && total + n > len)
            n = len - total;
        fwrite(buf, 1, n, out);
        total += n;
        if (len && total >= len)
            break;
    }
    if (in)
        fclose(in);
    if (out)
        fclose(out);
}

static void test_data_detection(void)
{
    /* a USD-M capture under a neutral name: found from the data ("pu" in the first diff) */
    copy_bytes(sd("binance/streams/usdm/ethusdt_20240808.gz"), tmp("capture_a.gz"), 0);
    /* the spot snapshot moved to line 1 (plain text): it still gets its symbol */
    size_t n;
    char **v = read_lines(sd("binance/streams/spot/ethusdt_20240808.gz"), &n);
    FILE *f = fopen(tmp("snapfirst.txt"), "w");
    size_t snap = 0;
    for (size_t i = 0; i < n; i++)
        if (strstr(v[i], "lastUpdateId"))
            snap = i;
    CHECK(snap > 0);
    fprintf(f, "%s\n", v[snap]);
    for (size_t i = 0; i < n; i++)
        if (i != snap)
            fprintf(f, "%s\n", v[i]);
    fclose(f);

    const char *specs[] = {tmp("capture_a.gz"), tmp("snapfirst.txt")};
    replay *r = open_specs(specs, 2);
    if (r) {
        CHECK_INT(replay_file(r, 0)->venue, VENUE_BINANCE_USDM);
        CHECK_INT(replay_file(r, 0)->venue_from, REPLAY_VENUE_DATA);
        CHECK_STR(replay_file(r, 0)->symbol, "ETHUSDT");
        CHECK_INT(replay_file(r, 1)->venue, VENUE_BINANCE_SPOT);
        CHECK_STR(replay_file(r, 1)->symbol, "ETHUSDT");
        replay_line ln;
        feed_event ev;
        const char *why;
        int first1 = 1, ok = 0;
        uint64_t cnt = 0;
        while (replay_next(r, &ln) == 1) {
            cnt++;
            if (ln.file == 1 && first1) {
                first1 = 0;
                /* the snapshot's recorded time is later than line 2's: the file keeps its own
                 * order, so it is delivered first for this file */
                ok = replay_decode(r, &ln, &ev, &why) == K_OK &&
                     ev.kind == FEED_DEPTH_SNAPSHOT && strcmp(ev.symbol, "ETHUSDT") == 0 &&
                     ev.venue == VENUE_BINANCE_SPOT && ln.lineno == 1;
            }
        }
        CHECK(ok);
        CHECK_INT(cnt, 74655 + 33618);
        replay_close(r);
    }
    free_lines(v, n);

    /* the ws-captures format "<secs.frac>: <json>", with its URL header line */
    const char *ws[] = {sd("binance/ws-captures/spot-combined-2021-10-12.txt"),
                        sd("binance/ws-captures/usdm-combined-2021-10-12.txt")};
    r = open_specs(ws, 2);
    if (r) {
        replay_line ln;
        feed_event ev;
        const char *why;
        uint64_t per[2] = {0};
        int errors = 0, first = 1;
        while (replay_next(r, &ln) == 1) {
            if (ln.file == 0 && first) {
                first = 0;
                CHECK_INT(ln.recv_ns, 1633998512063356900LL); /* 1633998512.0633569 */
                CHECK_INT(ln.lineno, 2);
            }
            per[ln.file]++;
            errors += replay_decode(r, &ln, &ev, &why) != K_OK;
        }
        CHECK_INT(errors, 0);
        CHECK_INT(per[0], 265); /* 267 lines - URL header - a blank last line */
        CHECK_INT(per[1], 1535);
        const replay_file_info *a = replay_file(r, 0), *b = replay_file(r, 1);
        CHECK_INT(a->malformed, 1); /* the header */
        CHECK_INT(b->malformed, 1);
        CHECK_INT(a->venue, VENUE_BINANCE_SPOT);
        CHECK_INT(a->venue_from, REPLAY_VENUE_DATA);
        CHECK_INT(b->venue, VENUE_BINANCE_USDM);
        CHECK_INT(b->venue_from, REPLAY_VENUE_PATH);
        CHECK_STR(a->symbol, "NKNUSDT");
        CHECK_STR(b->symbol, "SUSHIUSDT");
        /* the usdm capture is from July: all of it comes before the October spot one */
        CHECK_INT(b->first_ns, 1626992741062170000LL);
        replay_stats st = *replay_get_stats(r);
        CHECK_INT(st.first_ns, b->first_ns);
        CHECK_INT(st.malformed, 2);
        replay_close(r);
    }
}

static void test_truncated_gzip(void)
{
    const char *src = sd("binance/streams/spot/btcusdt_20240808.gz");
    struct stat sb;
    CHECK(stat(src, &sb) == 0);
    copy_bytes(src, tmp("cut.gz"), (size_t)sb.st_size / 2);
    size_t n;
    char **v = read_lines(src, &n);
    CHECK_INT(n, 41249);

    const char *specs[] = {tmp("cut.gz"), sd("binance/streams/spot/ethusdt_20240808.gz")};
    replay *r = open_specs(specs, 2);
    if (!r) {
        free_lines(v, n);
        return;
    }
    replay_line ln;
    uint64_t per[2] = {0};
    int same = 1;
    while (replay_next(r, &ln) == 1) {
        per[ln.file]++;
        if (ln.file == 0) { /* every delivered line is the real one, intact */
            const char *real = ln.lineno <= n ? strchr(v[ln.lineno - 1], ' ') + 1 : "";
            if (strlen(real) != ln.len || memcmp(real, ln.json, ln.len) != 0)
                same = 0;
        }
    }
    CHECK(same);
    const replay_file_info *a = replay_file(r, 0), *b = replay_file(r, 1);
    CHECK(per[0] > 10000 && per[0] < 41249);
    CHECK_INT(per[1], 33618);
    CHECK(a->read_error);
    CHECK(a->error[0] != '\0');
    CHECK(a->done);
    CHECK_INT(a->malformed, 1); /* the cut-off last line */
    CHECK(!b->read_error);
    CHECK_INT(b->malformed, 0);
    replay_stats st = *replay_get_stats(r);
    CHECK_INT(st.read_errors, 1);
    CHECK_INT(st.lines, per[0] + per[1]);
    printf("truncated gzip: %llu of 41249 lines, error \"%s\"\n", (unsigned long long)per[0],
           a->error);
    replay_close(r);
    free_lines(v, n);

    /* a file cut inside the gzip header: nothing to read, an error, no crash */
    copy_bytes(src, tmp("cut5.gz"), 5);
    const char *one = tmp("cut5.gz");
    r = open_specs(&one, 1);
    if (r) {
        CHECK_INT(replay_next(r, &ln), 0);
        CHECK(replay_file(r, 0)->read_error);
        replay_close(r);
    }
}

static void test_damaged_lines(void)
{
    size_t n;
    char **v = read_lines(sd("binance/streams/spot/btcusdt_20240809.gz"), &n);
    CHECK(n > 100);
    /* real lines with garbage between them, CRLF endings and blank lines */
    FILE *f = fopen(tmp("garbage.txt"), "w");
    static const char *const junk[] = {
        "garbage", "123", "abc def", "-5 {\"x\":1}", "99999999999999999999999 {}",
        "1723161600001658384", "1723161600001658384 ", "\x01\x02\xff\xfe", "1.5 {}", "1.x: {}",
        ".5: {}", "12:", "9223372036854775807.5: {}",
    };
    for (size_t i = 0; i < 20; i++) {
        fprintf(f, "%s%s", v[i], i % 2 ? "\r\n" : "\n");
        if (i < K_ARRAY_LEN(junk))
            fprintf(f, "%s\n", junk[i]);
        if (i == 5)
            fprintf(f, "\n\r\n");
    }
    fclose(f);
    /* an oversized line between two real ones, and an oversized unterminated last line */
    f = fopen(tmp("big.txt"), "w");
    fprintf(f, "%s\n1723161600001658385 {\"x\":\"", v[0]);
    for (size_t i = 0; i < REPLAY_LINE_MAX / 1000 + 10; i++)
        fprintf(f, "%01000d", 0);
    fprintf(f, "\"}\n%s\n1723161600001658386 ", v[1]);
    for (size_t i = 0; i < REPLAY_LINE_MAX / 1000 + 10; i++)
        fprintf(f, "%01000d", 0);
    fclose(f);
    /* a line of exactly REPLAY_LINE_MAX bytes is fine; real lines, the last one unterminated */
    f = fopen(tmp("edge.txt"), "w");
    fprintf(f, "%s\n", v[2]);
    int pre = fprintf(f, "1723161600001658387 {\"result\":\"");
    for (size_t i = (size_t)pre; i < REPLAY_LINE_MAX - 2; i++)
        fputc('z', f);
    fprintf(f, "\"}\n%s\n%s", v[3], v[4]);
    fclose(f);

    const char *specs[] = {tmp("garbage.txt"), tmp("big.txt"), tmp("edge.txt")};
    replay *r = open_specs(specs, 3);
    if (r) {
        replay_line ln;
        feed_event ev;
        const char *why;
        uint64_t per[3] = {0};
        int errors = 0, max_ok = 0;
        while (replay_next(r, &ln) == 1) {
            per[ln.file]++;
            if (ln.len == REPLAY_LINE_MAX - 20) {
                max_ok = replay_decode(r, &ln, &ev, &why) == K_OK && ev.kind == FEED_NONE;
                continue;
            }
            errors += replay_decode(r, &ln, &ev, &why) != K_OK;
            if (ln.len && ln.json[ln.len - 1] == '\r')
                errors++;
        }
        CHECK_INT(errors, 0);
        CHECK(max_ok);
        const replay_file_info *g = replay_file(r, 0), *b = replay_file(r, 1),
                               *e = replay_file(r, 2);
        CHECK_INT(per[0], 20);
        CHECK_INT(g->malformed, K_ARRAY_LEN(junk));
        CHECK_INT(g->oversized, 0);
        CHECK_INT(per[1], 2);
        CHECK_INT(b->malformed, 2);
        CHECK_INT(b->oversized, 2);
        CHECK_INT(per[2], 3);
        CHECK_INT(e->malformed, 1);
        CHECK_INT(e->oversized, 0);
        CHECK(!g->read_error && !b->read_error && !e->read_error);
        replay_stats st = *replay_get_stats(r);
        CHECK_INT(st.malformed, K_ARRAY_LEN(junk) + 3);
        CHECK_INT(st.oversized, 2);
        CHECK_INT(st.decode_errors, 0);
        replay_close(r);
    }
    free_lines(v, n);

    /* a line the decoder refuses is counted per file */
    f = fopen(tmp("bad_json.txt"), "w");
    fprintf(f, "1 {\"e\":\"nonsense\"}\n2 {\"u\":1\n");
    fclose(f);
    const char *one = tmp("bad_json.txt");
    r = open_specs(&one, 1);
    if (r) {
        replay_line ln;
        feed_event ev;
        const char *why = NULL;
        while (replay_next(r, &ln) == 1)
            CHECK_INT(replay_decode(r, &ln, &ev, &why), K_ERR);
        CHECK(why != NULL);
        CHECK_INT(replay_file(r, 0)->decode_errors, 2);
        CHECK_STR(replay_file(r, 0)->symbol, "");
        CHECK_INT(replay_file(r, 0)->venue_from, REPLAY_VENUE_DEFAULT);
        replay_close(r);
    }
}

static void test_open_errors(void)
{
    replay *r = (replay *)&r;
    char err[512];
    const char *specs[] = {sd("binance/streams/spot/btcusdt_20240808.gz"),
                           "/nonexistent/kestrel/none.gz"};
    CHECK_INT(replay_open(&r, specs, 2, err, sizeof err), K_ERR);
    CHECK(r == NULL);
    CHECK(strstr(err, "/nonexistent/kestrel/none.gz") != NULL);
    CHECK(strstr(err, "No such file") != NULL);
    printf("nonexistent: %s\n", err);

    const char *pre[] = {"usdm:/nonexistent/x.gz"};
    CHECK_INT(replay_open(&r, pre, 1, err, sizeof err), K_ERR);
    CHECK(strstr(err, "/nonexistent/x.gz") != NULL && strstr(err, "usdm:") == NULL);

    const char *dir[] = {tmpdir};
    CHECK_INT(replay_open(&r, dir, 1, err, sizeof err), K_ERR);
    CHECK(strstr(err, "directory") != NULL);

    const char *empty[] = {""};
    CHECK_INT(replay_open(&r, empty, 1, err, sizeof err), K_ERR);
    CHECK_INT(replay_open(&r, specs, 0, err, sizeof err), K_ERR);
    CHECK(err[0] != '\0');

    const char *many[REPLAY_MAX_FILES + 1];
    for (int i = 0; i <= REPLAY_MAX_FILES; i++)
        many[i] = specs[0];
    CHECK_INT(replay_open(&r, many, REPLAY_MAX_FILES + 1, err, sizeof err), K_ERR);
    CHECK(strstr(err, "too many") != NULL);
    /* exactly the cap is fine (the same small file many times) */
    const char *small = sd("binance/ws-captures/spot-combined-2021-10-12.txt");
    for (int i = 0; i < REPLAY_MAX_FILES; i++)
        many[i] = small;
    r = open_specs(many, REPLAY_MAX_FILES);
    if (r) {
        replay_line ln;
        uint64_t cnt = 0;
        while (replay_next(r, &ln) == 1)
            cnt++;
        CHECK_INT(cnt, 265 * REPLAY_MAX_FILES);
        replay_stats st = *replay_get_stats(r);
        CHECK_INT(st.lines, 265 * REPLAY_MAX_FILES);
        replay_close(r);
    }
    replay_close(NULL);

    /* an empty file is no error: it just has no lines */
    FILE *f = fopen(tmp("empty.txt"), "w");
    fclose(f);
    const char *e1 = tmp("empty.txt");
    r = open_specs(&e1, 1);
    if (r) {
        replay_line ln;
        CHECK_INT(replay_next(r, &ln), 0);
        CHECK(replay_file(r, 0)->done);
        replay_close(r);
    }
}

/* Opening never blocks: a FIFO without a writer and a device are refused at once; a gzip that
 * is mostly newlines is not pre-scanned whole (the look is bounded), and in non-blocking mode
 * replay_next() gives control back while it skips them, with replay_fd() readable. */
static void test_never_blocks(void)
{
    char err[512];
    replay *r = NULL;
    const char *fifo = tmp("nowriter.fifo");
    CHECK_INT(mkfifo(fifo, 0600), 0);
    CHECK_INT(replay_open(&r, &fifo, 1, err, sizeof err), K_ERR);
    CHECK(r == NULL);
    CHECK(strstr(err, "no writer") != NULL && strstr(err, "nowriter.fifo") != NULL);
    printf("fifo without writer: %s\n", err);
    const char *dev[] = {"/dev/null"};
    CHECK_INT(replay_open(&r, dev, 1, err, sizeof err), K_ERR);
    CHECK(strstr(err, "not a regular file or a pipe") != NULL);

    /* 16 MiB of newlines, then three real lines: 2x the pre-scan's byte bound */
    size_t n;
    char **v = read_lines(sd("binance/streams/spot/btcusdt_20240808.gz"), &n);
    gzFile g = gzopen(tmp("newlines.gz"), "wb1");
    CHECK(g != NULL && n > 3);
    static char nl[1 << 16];
    memset(nl, '\n', sizeof nl);
    for (unsigned i = 0; g && i < (16u << 20) / sizeof nl; i++)
        CHECK_INT(gzwrite(g, nl, sizeof nl), (int)sizeof nl);
    for (size_t i = 0; g && i < 3; i++)
        gzprintf(g, "%s\n", v[i]);
    if (g)
        gzclose(g);
    free_lines(v, n);
    const char *nlf = tmp("newlines.gz");
    CHECK_INT(replay_open(&r, &nlf, 1, err, sizeof err), K_OK);
    if (r) {
        CHECK(replay_progress(r) >= 0.0 && replay_progress(r) < 1.0);
        replay_set_nonblock(r, true);
        replay_line ln;
        uint64_t again = 0, lines = 0, fd_ready = 0;
        for (;;) {
            int rc = replay_next(r, &ln);
            if (rc == 0)
                break;
            if (rc == REPLAY_AGAIN) {
                again++;
                struct pollfd p = {.fd = replay_fd(r), .events = POLLIN};
                if (poll(&p, 1, 10000) == 1) /* bounded wait for the reader or the kick */
                    fd_ready++;
                replay_fd_drain(r);
                continue;
            }
            CHECK_INT(rc, 1);
            lines++;
        }
        CHECK_INT(lines, 3);
        CHECK(again >= (16u << 20) / REPLAY_SKIP_BUDGET); /* the loop got control back */
        CHECK_INT(fd_ready, again);
        /* the look at the head was bounded: it stopped in the newlines, learnt nothing */
        CHECK_INT(replay_file(r, 0)->venue_from, REPLAY_VENUE_DEFAULT);
        CHECK_STR(replay_file(r, 0)->symbol, "");
        CHECK(replay_file(r, 0)->done);
        CHECK(replay_progress(r) == 1.0);
        printf("16 MiB of newlines: %llu returns to the caller\n", (unsigned long long)again);
        replay_close(r);
    }

    /* progress: compressed position, from 0 up to 1 without going back */
    const char *cap = sd("binance/streams/spot/ethusdt_20240808.gz");
    r = open_specs(&cap, 1);
    if (r) {
        replay_line ln;
        double last = replay_progress(r), first = last;
        int back = 0;
        while (replay_next(r, &ln) == 1) {
            double p = replay_progress(r);
            back += p < last;
            last = p;
        }
        CHECK(first >= 0.0 && first < 0.5);
        CHECK_INT(back, 0);
        CHECK(last == 1.0);
        replay_close(r);
    }
}

/* A pipe cannot be pre-scanned or rewound: lines still flow, the symbol is learnt on the way. */
static void test_pipe(void)
{
    const char *fifo = tmp("capture.fifo");
    CHECK_INT(mkfifo(fifo, 0600), 0);
    pid_t pid = fork();
    if (pid == 0) { /* writer: the real spot ws-capture, byte for byte */
        FILE *in = fopen(sd("binance/ws-captures/spot-combined-2021-10-12.txt"), "rb");
        FILE *out = fopen(fifo, "wb");
        char buf[4096];
        size_t n;
        while (in && out && (n = fread(buf, 1, sizeof buf, in)) > 0)
            fwrite(buf, 1, n, out);
        int ok = in && out && fclose(out) == 0; /* _exit does not flush stdio */
        _exit(ok ? 0 : 1);
    }
    CHECK(pid > 0);
    /* a pipe is only accepted with a writer: meet the child's open() first (this blocks until
     * it has opened its end), then hand the FIFO to the replay */
    int hold = open(fifo, O_RDONLY);
    CHECK(hold >= 0);
    replay *r = NULL;
    char err[512];
    CHECK_INT(replay_open(&r, &fifo, 1, err, sizeof err), K_OK);
    if (hold >= 0)
        close(hold);
    if (r) {
        const replay_file_info *fi = replay_file(r, 0);
        CHECK_STR(fi->symbol, ""); /* nothing decoded yet */
        CHECK(replay_progress(r) < 0); /* a pipe's size is unknown */
        CHECK_INT(fi->venue_from, REPLAY_VENUE_DEFAULT);
        replay_line ln;
        feed_event ev;
        const char *why;
        uint64_t n = 0, errors = 0;
        while (replay_next(r, &ln) == 1) {
            n++;
            errors += replay_decode(r, &ln, &ev, &why) != K_OK;
        }
        CHECK_INT(n, 265);
        CHECK_INT(errors, 0);
        CHECK_INT(fi->malformed, 1);
        CHECK_STR(fi->symbol, "NKNUSDT");
        CHECK_INT(fi->venue, VENUE_BINANCE_SPOT);
        replay_close(r);
    }
    int status = -1;
    if (pid > 0)
        waitpid(pid, &status, 0);
    CHECK_INT(status, 0);
}

static void cleanup(void)
{
    static const char *const names[] = {"capture_a.gz", "snapfirst.txt", "cut.gz", "cut5.gz",
                                        "garbage.txt",  "big.txt",       "edge.txt",
                                        "bad_json.txt", "empty.txt",     "capture.fifo",
                                        "nowriter.fifo", "newlines.gz"};
    for (size_t i = 0; i < K_ARRAY_LEN(names); i++)
        unlink(tmp(names[i]));
    CHECK_INT(rmdir(tmpdir), 0);
}

int main(void)
{
    snprintf(shared, sizeof shared, "%s", check_shared_data());
    snprintf(tmpdir, sizeof tmpdir, "/tmp/kestrel-test-replay.XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    test_merge_btc_eth();
    test_back_to_back();
    test_ties();
    test_counts_and_venues();
    test_data_detection();
    test_truncated_gzip();
    test_damaged_lines();
    test_open_errors();
    test_pipe();
    test_never_blocks();
    cleanup();
    CHECK_DONE();
}
