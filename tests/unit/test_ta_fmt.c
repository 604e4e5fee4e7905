/* ta_cli_format_double (kestrel ta's number printer without printf's conversion) gives exactly
 * the bytes of its definition, ta_cli_format_double_ref (%.15g / %.16g / %.17g through snprintf
 * and strtod), on doubles of every kind: random bit patterns over the exponents indicators
 * produce, short decimals, integers, values next to powers of ten and to rounding ties, and
 * ratios of real prices from the shared kline file. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "check.h"
#include "kestrel/ta_cli.h"

static uint64_t fmt_rng(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

typedef struct fmt_count {
    long n, bad;
} fmt_count;

static void fmt_one(fmt_count *k, double x)
{
    char a[64], b[64];
    if (!isfinite(x))
        return;
    int la = ta_cli_format_double(a, sizeof a, x), lb = ta_cli_format_double_ref(b, sizeof b, x);
    k->n++;
    if (la != lb || strcmp(a, b) != 0) {
        if (k->bad++ < 10)
            printf("mismatch for %a: fast \"%s\" ref \"%s\"\n", x, a, b);
    }
}

int main(void)
{
    fmt_count k = { 0, 0 };
    uint64_t s = 2026;
    for (int i = 0; i < 600000; i++) { /* random mantissas, exponents 2^-100 .. 2^100 */
        uint64_t r = fmt_rng(&s);
        double m = (double)(r >> 11) * 0x1.0p-53;
        int e = (int)(fmt_rng(&s) % 201) - 100;
        fmt_one(&k, ldexp(0.5 + m / 2, e) * ((r & 1) ? -1 : 1));
    }
    for (int i = 0; i < 200000; i++) { /* short decimals and integers: the %.15g cases */
        uint64_t r = fmt_rng(&s);
        int digits = 1 + (int)(r % 15), scale = (int)(fmt_rng(&s) % 30) - 12;
        uint64_t mant = fmt_rng(&s) % (uint64_t)pow(10, digits);
        fmt_one(&k, (double)mant * pow(10, scale));
        fmt_one(&k, (double)mant / pow(10, (double)(fmt_rng(&s) % 18)));
    }
    for (int ex = -30; ex <= 30; ex++) { /* around powers of ten and their 9...9 neighbours */
        double p = pow(10, ex);
        double v = p;
        for (int j = 0; j < 40; j++) {
            fmt_one(&k, v);
            fmt_one(&k, -v);
            v = nextafter(v, 0);
        }
        v = p;
        for (int j = 0; j < 40; j++) {
            fmt_one(&k, v);
            v = nextafter(v, INFINITY);
        }
        for (int d = 15; d <= 17; d++) /* ties at 15, 16, 17 digits */
            for (int j = 1; j < 200; j++) {
                double t = (1 + j * 0.5 * pow(10, 1 - d)) * p;
                fmt_one(&k, t);
                fmt_one(&k, nextafter(t, 0));
                fmt_one(&k, nextafter(t, INFINITY));
            }
    }
    double specials[] = { 0.0, -0.0, 1e-310, -4.9e-324, 2.2250738585072014e-308,
                          1.7976931348623157e308, 0.1 + 0.2, 9002.05, 1.0 / 3, 2.0 / 3, 100,
                          1e15, 1e16, 1e17, 123456789012345678.0, 0.0001, 0.00001,
                          0.000123456789012345678 };
    for (size_t i = 0; i < sizeof specials / sizeof specials[0]; i++)
        fmt_one(&k, specials[i]);
    /* ratios and differences of real closes, as indicators make them */
    const char *dir = getenv("KESTREL_SHARED_DATA");
    char path[512];
    snprintf(path, sizeof path, "%s/klines/btc-perp_1m_2021-12-31_2022-02-01.csv.gz",
             dir ? dir : "../shared/data");
    gzFile g = gzopen(path, "rb");
    CHECK(g != NULL);
    long rows = 0;
    if (g) {
        char line[256];
        double prev = NAN;
        while (gzgets(g, line, sizeof line) && rows < 45000) {
            double o, h, l, c;
            long long t;
            if (sscanf(line, "%lld,%lf,%lf,%lf,%lf", &t, &o, &h, &l, &c) != 5)
                continue;
            rows++;
            fmt_one(&k, c);
            fmt_one(&k, (h + l + c) / 3);
            if (!isnan(prev)) {
                fmt_one(&k, c / prev - 1);
                fmt_one(&k, log(c / prev));
                fmt_one(&k, 100 * (c - prev) / prev);
            }
            prev = c;
        }
        gzclose(g);
    }
    printf("%ld doubles compared, %ld real rows, %ld mismatches\n", k.n, rows, k.bad);
    CHECK(rows > 40000);
    CHECK(k.n > 1000000);
    CHECK(k.bad == 0);
    char buf[64];
    CHECK_INT(ta_cli_format_double(buf, sizeof buf, -0.0), 1);
    CHECK_STR(buf, "0");
    CHECK_INT(ta_cli_format_double(buf, sizeof buf, 9002.05), 7);
    CHECK_STR(buf, "9002.05");
    CHECK_DONE();
}
