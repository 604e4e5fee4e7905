/* Untrusted input through the indicator front doors: random spec strings (accepted ones must
 * round-trip through their canonical spec), and the `kestrel ta` pipeline fed real rows mixed
 * with mangled ones (every line is either used or reported; the good rows give the same values
 * as a clean run). Deterministic pseudo-random input; run under ASan+UBSan by the suite. */
#include <unistd.h>

#include "check.h"
#include "kestrel/ta.h"
#include "kestrel/ta_cli.h"
#include "ta_test_util.h"

static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 11);
}

static void random_specs(void)
{
    static const char *pieces[] = { "sma", "ema", "macd", "bb", "rsi", "stoch", "k", "d",
                                    "signal", "upper", "linreg", "slope", "ichimoku", "sar",
                                    "_", "_", "_", "14", "0", "2.5", "5000", "5001", ".",
                                    "-1", "1e3", "x", "", "99999999999999999999", "0.02" };
    int accepted = 0, rejected = 0, bad_roundtrip = 0;
    for (int n = 0; n < 20000; n++) {
        char spec[96] = "";
        int parts = 1 + (int)(rnd() % 6);
        for (int p = 0; p < parts; p++)
            strncat(spec, pieces[rnd() % K_ARRAY_LEN(pieces)], sizeof(spec) - strlen(spec) - 1);
        char err[160] = "";
        ta_ind *ind = ta_ind_new(spec, err, sizeof(err));
        if (!ind) {
            rejected++;
            CHECK(err[0] != 0);
            continue;
        }
        accepted++;
        ta_ind *again = ta_ind_new(ta_ind_spec(ind), err, sizeof(err));
        if (!again || strcmp(ta_ind_spec(again), ta_ind_spec(ind)) != 0)
            bad_roundtrip++;
        for (uint32_t k = 0; again && k < ta_ind_outputs(ind); k++) {
            char s2[TA_SPEC_MAX];
            uint32_t o;
            if (ta_column_parse(ta_ind_output_name(ind, k), s2, sizeof(s2), &o) != K_OK ||
                strcmp(s2, ta_ind_spec(ind)) != 0 || o != k)
                bad_roundtrip++;
        }
        ta_ind_free(again);
        ta_ind_free(ind);
        uint32_t o;
        char s3[TA_SPEC_MAX];
        ta_column_parse(spec, s3, sizeof(s3), &o); /* must not crash either way */
    }
    CHECK(accepted > 100);
    CHECK(rejected > 100);
    CHECK_INT(bad_roundtrip, 0);
    printf("random specs: %d accepted (round-trip ok), %d rejected\n", accepted, rejected);
}

static void mangle(char *line, size_t cap)
{
    size_t len = strlen(line);
    switch (rnd() % 6) {
    case 0: /* flip a byte */
        if (len)
            line[rnd() % len] = (char)(rnd() % 256 ? rnd() % 256 : 'x');
        break;
    case 1: /* cut */
        line[rnd() % (len + 1)] = 0;
        break;
    case 2: /* extra field */
        strncat(line, ",1", cap - len - 1);
        break;
    case 3: /* swap high and low digits region */
        if (len > 20)
            line[15] = '9', line[25 < len ? 25 : len - 1] = '0';
        break;
    case 4: /* NaN / inf */
        snprintf(line, cap, "1670889600000,nan,inf,1,1,1");
        break;
    default: /* a huge line */
        memset(line, '5', cap - 1);
        line[cap - 1] = 0;
        break;
    }
}

static void random_csv(void)
{
    char p[512];
    tt_path(p, sizeof(p), "klines/lean_binance_BTCBUSD_1m_2022-12-13.csv");
    gzFile in = gzopen(p, "rb");
    CHECK(in != NULL);
    if (!in)
        return;
    char tmpl[] = "/tmp/kestrel-ta-robust.XXXXXX";
    int fd = mkstemp(tmpl);
    FILE *f = fdopen(fd, "w");
    char line[6000];
    int mangled = 0;
    while (gzgets(in, line, 512)) {
        line[strcspn(line, "\r\n")] = 0;
        fprintf(f, "%s\n", line);
        char *comma = strchr(line, ',');
        if (comma && line[0] >= '0' && line[0] <= '9' && rnd() % 10 == 0) {
            /* a mangled copy right after its original keeps the original's time: whatever the
             * mangling does to the rest, the row is refused (bad field, or not after the
             * previous bar), so the good rows are exactly the clean file's */
            char rest[6000];
            snprintf(rest, sizeof(rest), "%s", comma);
            mangle(rest, sizeof(rest) - 32);
            rest[strcspn(rest, "\n")] = 0;
            *comma = 0;
            fprintf(f, "%s%s\n", line, rest);
            mangled++;
        }
    }
    gzclose(in);
    fclose(f);
    FILE *out = tmpfile(), *errf = tmpfile();
    ta_cli_stats st;
    char err[256];
    int rc = ta_cli_run(tmpl, "rsi_14,bb_20_2,ichimoku,sar", TA_CLI_CSV, out, errf, &st, err,
                        sizeof(err));
    CHECK(rc == K_OK);
    CHECK(mangled > 50);
    CHECK_INT(st.bars, 1440);   /* every original row */
    CHECK_INT(st.bad, mangled); /* every mangled copy refused */
    CHECK_INT(st.lines, 1 + 1440 + (uint64_t)mangled); /* header + rows + copies */
    /* the good rows give exactly what a clean run gives */
    FILE *clean = tmpfile();
    ta_cli_stats cs;
    CHECK(ta_cli_run(p, "rsi_14,bb_20_2,ichimoku,sar", TA_CLI_CSV, clean, errf, &cs, err,
                     sizeof(err)) == K_OK);
    CHECK_INT(st.bars, cs.bars);
    long a = ftell(out), b = ftell(clean);
    CHECK(a == b && a > 0);
    rewind(out);
    rewind(clean);
    int ca, cb, diff = 0;
    do {
        ca = fgetc(out);
        cb = fgetc(clean);
        diff |= ca != cb;
    } while (ca != EOF && cb != EOF);
    CHECK(!diff);
    fclose(clean);
    printf("random csv: %llu lines, %llu bars, %llu bad (%d mangled copies)\n",
           (unsigned long long)st.lines, (unsigned long long)st.bars,
           (unsigned long long)st.bad, mangled);
    fclose(out);
    fclose(errf);
    unlink(tmpl);
}

int main(void)
{
    random_specs();
    random_csv();
    CHECK_DONE();
}
