/* decimal: strict exact parsing, never-lossy formatting, decimal_places, and a round trip of
 * every price and quantity string of a real Binance capture. */
#include "check.h"

#include "capture_cjson.h"
#include "kestrel/decimal.h"

static int parse(const char *s, kdec *out)
{
    return decimal_parse(s, strlen(s), out);
}

static void check_ok(const char *s, kdec want)
{
    kdec v = 12345;
    int rc = parse(s, &v);
    if (rc != K_OK)
        fprintf(stderr, "parse(\"%s\") failed\n", s);
    CHECK_INT(rc, K_OK);
    CHECK_INT(v, want);
}

static void check_rejects(const char *s)
{
    kdec v = 777;
    int rc = parse(s, &v);
    if (rc != K_ERR)
        fprintf(stderr, "parse(\"%s\") accepted\n", s);
    CHECK_INT(rc, K_ERR);
    CHECK_INT(v, 777); /* output untouched on failure */
}

static void check_fmt(kdec v, int decimals, const char *want)
{
    char buf[64];
    size_t n = decimal_format(v, decimals, buf, sizeof buf);
    CHECK_STR(buf, want);
    CHECK_INT(n, strlen(want));
}

static void test_parse(void)
{
    check_ok("61602.01000000", 6160201000000LL);
    check_ok("61602.01", 6160201000000LL);
    check_ok("0.00000000", 0);
    check_ok("0", 0);
    check_ok("-0", 0);
    check_ok("-1.5", -150000000LL);
    check_ok("0.00000001", 1);
    check_ok("-0.00000001", -1);
    check_ok("1.000000000000", KDEC_SCALE);  /* extra fractional zeros are exact */
    check_ok("1.123456780", 112345678LL);    /* 9th digit zero: fine */
    check_ok("007", 7 * KDEC_SCALE);         /* leading zeros: harmless */
    check_ok("2677.6", 267760000000LL);
    check_ok("9098.0", 909800000000LL);       /* octobot CSV style */
    check_ok("92233720368.54775807", KDEC_MAX);
    check_ok("-92233720368.54775807", -KDEC_MAX);
    check_ok("92233720368", 92233720368LL * KDEC_SCALE);

    /* length is honoured: the bytes after len are not read */
    kdec v = 0;
    CHECK_INT(decimal_parse("12345", 3, &v), K_OK);
    CHECK_INT(v, 123 * KDEC_SCALE);
    CHECK_INT(decimal_parse("1.5xyz", 3, &v), K_OK);
    CHECK_INT(v, 150000000LL);
    CHECK_INT(decimal_parse("1\0" "5", 3, &v), K_ERR); /* embedded NUL */
    CHECK_INT(decimal_parse(NULL, 0, &v), K_ERR);
    CHECK_INT(decimal_parse("1", 0, &v), K_ERR);

    /* rejects */
    const char *bad[] = {
        "", "-", "+1", " 1", "1 ", "\t1", "1\n", ".5", "-.5", "5.", "-5.", "1..5", "1.2.3",
        "--1", "-+1", "1,5", "1e5", "1E5", "1e400", "1.5e-3", "1e-8", "NaN", "nan", "Inf",
        "inf", "-inf", "Infinity", "0x10", "abc", "1a", "١", "1.123456789", "0.000000001",
        "1.000000001", "92233720368.54775808", "-92233720368.54775808", "92233720369",
        "100000000000", "99999999999999999999999", "184467440737.09551616",
        "18446744073709551616", "0.1234567891",
    };
    for (size_t i = 0; i < K_ARRAY_LEN(bad); i++)
        check_rejects(bad[i]);
}

static void test_format(void)
{
    check_fmt(6160201000000LL, 2, "61602.01");
    check_fmt(6160201000000LL, 8, "61602.01000000");
    check_fmt(267760000000LL, 2, "2677.60");
    check_fmt(267760000000LL, 0, "2677.6"); /* never lossy: the .6 is kept */
    check_fmt(267761000000LL, 1, "2677.61");
    check_fmt(112345678LL, 8, "1.12345678");
    check_fmt(112345678LL, 2, "1.12345678");
    check_fmt(-150000000LL, 1, "-1.5");
    check_fmt(-150000000LL, 3, "-1.500");
    check_fmt(-50000000LL, 0, "-0.5");
    check_fmt(0, 0, "0");
    check_fmt(0, 2, "0.00");
    check_fmt(-1, 0, "-0.00000001");
    check_fmt(1, 8, "0.00000001");
    check_fmt(5 * KDEC_SCALE, 0, "5");
    check_fmt(5 * KDEC_SCALE, -3, "5");      /* clamped to 0 */
    check_fmt(5 * KDEC_SCALE, 12, "5.00000000"); /* clamped to 8 */
    check_fmt(KDEC_MAX, 0, "92233720368.54775807");
    check_fmt(-KDEC_MAX, 0, "-92233720368.54775807");
    check_fmt(INT64_MIN, 0, "-92233720368.54775808");

    /* capacity: exact fit works, one byte less returns 0 */
    char buf[16];
    CHECK_INT(decimal_format(6160201000000LL, 2, buf, 9), 8); /* "61602.01" + NUL */
    CHECK_STR(buf, "61602.01");
    CHECK_INT(decimal_format(6160201000000LL, 2, buf, 8), 0);
    CHECK_INT(decimal_format(1, 0, buf, 0), 0);
    CHECK_INT(decimal_format(1, 0, NULL, 10), 0);
}

static void test_places(void)
{
    CHECK_INT(decimal_places(6160201000000LL), 2);
    CHECK_INT(decimal_places(267760000000LL), 1);
    CHECK_INT(decimal_places(267761000000LL), 2);
    CHECK_INT(decimal_places(5 * KDEC_SCALE), 0);
    CHECK_INT(decimal_places(0), 0);
    CHECK_INT(decimal_places(1), 8);
    CHECK_INT(decimal_places(-150000000LL), 1);
    CHECK_INT(decimal_places(KDEC_MAX), 8);
    CHECK_INT(decimal_places(INT64_MIN), 8);

    CHECK(decimal_to_double(6160201000000LL) == 61602.01);
    CHECK(decimal_to_double(-150000000LL) == -1.5);
    CHECK_NEAR(decimal_to_double(KDEC_MAX), 92233720368.54775807, 1e-15);
}

/* format -> parse is the identity over the whole range (a deterministic spread of values) */
static void test_round_trip_range(void)
{
    uint64_t x = 0x9E3779B97F4A7C15ull;
    int bad = 0;
    for (int i = 0; i < 200000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        kdec v = (kdec)(x >> (i % 40)); /* magnitudes from tiny to the full range */
        if (i & 1)
            v = -v;
        if (v == INT64_MIN)
            continue;
        char buf[40];
        kdec back = 0;
        size_t n = decimal_format(v, i % 9, buf, sizeof buf);
        if (n == 0 || decimal_parse(buf, n, &back) != K_OK || back != v)
            bad++;
    }
    CHECK_INT(bad, 0);
}

/* Every "p"/"q" of the real spot BTCUSDT trade stream, and every bookTicker field, parses and
 * formats back with 8 decimals to the identical string (Binance spot sends 8 decimals). */
static void test_round_trip_real(void)
{
    cap_reader r;
    if (cap_open(&r, "binance/streams/spot/btcusdt_20240808.gz", VENUE_BINANCE_SPOT,
                 "BTCUSDT") != 0) {
        CHECK(!"capture missing");
        return;
    }
    feed_event ev;
    int rc;
    uint64_t strings = 0, mismatches = 0;
    while ((rc = cap_next(&r, &ev)) != 0) {
        if (rc < 0)
            continue;
        const char *keys_trade[] = {"p", "q"};
        const char *keys_tick[] = {"b", "B", "a", "A"};
        const char **keys = NULL;
        size_t nk = 0;
        if (ev.kind == FEED_TRADE) {
            keys = keys_trade;
            nk = 2;
        } else if (ev.kind == FEED_BOOK_TICKER) {
            keys = keys_tick;
            nk = 4;
        }
        for (size_t k = 0; k < nk; k++) {
            const char *s = cap_data_str(&r, keys[k]);
            kdec v;
            char buf[40];
            if (!s || parse(s, &v) != K_OK || decimal_format(v, 8, buf, sizeof buf) == 0 ||
                strcmp(buf, s) != 0)
                mismatches++;
            strings++;
        }
    }
    CHECK_INT(r.errors, 0);
    CHECK_INT(mismatches, 0);
    CHECK_INT(strings, 9757 * 2 + 28040 * 4); /* MANIFEST: 9757 trades, 28040 bookTickers */
    cap_close(&r);
}

/* The rules written out digit by digit, with no fast path: the reference for the parser's
 * eight-digit word path. */
static int ref_parse(const char *s, size_t len, kdec *out)
{
    size_t i = 0;
    bool neg = len && s[0] == '-';
    i = neg;
    __int128 ip = 0;
    size_t st = i;
    while (i < len && s[i] >= '0' && s[i] <= '9') {
        ip = ip * 10 + (s[i++] - '0');
        if (ip > KDEC_MAX / KDEC_SCALE)
            return K_ERR;
    }
    if (i == st)
        return K_ERR;
    __int128 fp = 0;
    int nd = 0;
    if (i < len && s[i] == '.') {
        st = ++i;
        while (i < len && s[i] >= '0' && s[i] <= '9') {
            if (nd < 8) {
                fp = fp * 10 + (s[i] - '0');
                nd++;
            } else if (s[i] != '0') {
                return K_ERR;
            }
            i++;
        }
        if (i == st)
            return K_ERR;
    }
    if (i != len)
        return K_ERR;
    while (nd < 8)
        fp *= 10, nd++;
    __int128 mag = ip * KDEC_SCALE + fp;
    if (mag > KDEC_MAX)
        return K_ERR;
    *out = neg ? -(kdec)mag : (kdec)mag;
    return K_OK;
}

/* 400k strings shaped like exchange decimals, some mangled (a byte anywhere replaced by one of
 * the bytes next to '0'..'9' in ASCII, or by a high byte): the parser and the reference agree on
 * every one, value and verdict. Synthetic strings: this is a parser unit test, not market data. */
static void test_parse_differential(void)
{
    uint64_t x = 0x9E3779B97F4A7C15ULL;
    static const char odd[] = {'/', ':', '.', '-', '+', 'e', ' ', (char)0xB0, (char)0xFA, 0};
    int agree = 0, total = 0, ok = 0;
    for (int n = 0; n < 400000; n++) {
        char buf[48];
        size_t len = 0;
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        if (x & 1)
            buf[len++] = '-';
        int ni = 1 + (int)((x >> 8) % 12), nf = (int)((x >> 16) % 14);
        for (int k = 0; k < ni; k++)
            buf[len++] = (char)('0' + ((x >> (k % 50)) + (uint64_t)k * 7) % 10);
        if (nf || (x & 2)) {
            buf[len++] = '.';
            for (int k = 0; k < nf; k++) {
                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                /* trailing zeros often, as the exchanges send them */
                buf[len++] = (k >= 8 && (x & 3)) ? '0' : (char)('0' + x % 10);
            }
        }
        if ((x >> 40) % 5 == 0 && len) {
            size_t at = (size_t)((x >> 44) % len);
            buf[at] = odd[(x >> 52) % 10];
        }
        buf[len] = 0;
        kdec a = 7, b = 7;
        int ra = decimal_parse(buf, len, &a), rb = ref_parse(buf, len, &b);
        total++;
        ok += ra == K_OK;
        agree += ra == rb && (ra != K_OK || a == b);
        if (ra != rb || (ra == K_OK && a != b))
            fprintf(stderr, "decimal differs on \"%s\": %d %lld vs %d %lld\n", buf, ra,
                    (long long)a, rb, (long long)b);
    }
    CHECK_INT(agree, total);
    CHECK(ok > 100000 && ok < total); /* both verdicts well represented */
}

int main(void)
{
    test_parse_differential();
    test_parse();
    test_format();
    test_places();
    test_round_trip_range();
    test_round_trip_real();
    CHECK_DONE();
}
