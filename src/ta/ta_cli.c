/* `kestrel ta`: indicator outputs per bar of an open_time_ms,open,high,low,close,volume file.
 *
 * It is not a second pipeline: the rows come from the one kline reader (src/venue/klines.c:
 * bounded lines, exact decimals, consistency, order and interval checks, line numbers), enter
 * the ingest pipeline as FEED_KLINE events, become bars of the market model, and the indicators
 * take the model's closed bar of each row through a market subscriber, exactly as the chart and
 * the engine do. A refused row is reported with its line number and skipped; the indicators
 * never see it. Numbers are printed as the shortest decimal that reads back as the computed
 * double, so a comparison with TA-Lib compares values, not formatting. */
#include "kestrel/ta_cli.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kestrel/common.h"
#include "kestrel/ingest.h"
#include "kestrel/klines.h"
#include "kestrel/market.h"
#include "kestrel/ta.h"
#include "kestrel/xmalloc.h"

#define MAX_COLUMNS 512

typedef struct cli_cols {
    ta_set *set;
    bool iso; /* a "time" column (ISO 8601 UTC) after open_time_ms */
    uint32_t n;
    uint32_t col[MAX_COLUMNS]; /* set output index of each printed column */
} cli_cols;

/* Finds (or adds) the instance with canonical spec `spec`; returns its index or -1. */
static int instance_for(cli_cols *c, const char *spec, char *err, size_t errlen)
{
    for (uint32_t i = 0; i < ta_set_count(c->set); i++)
        if (strcmp(ta_ind_spec(ta_set_at(c->set, i)), spec) == 0)
            return (int)i;
    if (ta_set_add(c->set, spec, err, errlen) != K_OK)
        return -1;
    return (int)ta_set_count(c->set) - 1;
}

static uint32_t first_output(const ta_set *s, uint32_t inst)
{
    for (uint32_t k = 0; k < ta_set_outputs(s); k++)
        if (ta_set_output_instance(s, k) == inst)
            return k;
    return 0;
}

static int add_column(cli_cols *c, uint32_t k, char *err, size_t errlen)
{
    if (c->n >= MAX_COLUMNS) {
        snprintf(err, errlen, "too many columns (at most %d)", MAX_COLUMNS);
        return K_ERR;
    }
    c->col[c->n++] = k;
    return K_OK;
}

/* One item of --indicators: a bare indicator name (all its outputs at the defaults: "macd"), a
 * column name (that output) or, failing both, an indicator spec (all its outputs).
 * "macd_12_26_9" is the MACD line's column; "bb_20_2" names no column, so it is the Bollinger
 * instance with its five outputs. */
static int add_item(cli_cols *c, const char *item, char *err, size_t errlen)
{
    char spec[TA_SPEC_MAX];
    uint32_t out;
    if (!ta_info_find(item) && ta_column_parse(item, spec, sizeof(spec), &out) == K_OK) {
        int inst = instance_for(c, spec, err, errlen);
        if (inst < 0)
            return K_ERR;
        return add_column(c, first_output(c->set, (uint32_t)inst) + out, err, errlen);
    }
    ta_ind *probe = ta_ind_new(item, err, errlen);
    if (!probe)
        return K_ERR;
    snprintf(spec, sizeof(spec), "%s", ta_ind_spec(probe));
    uint32_t no = ta_ind_outputs(probe);
    ta_ind_free(probe);
    int inst = instance_for(c, spec, err, errlen);
    if (inst < 0)
        return K_ERR;
    uint32_t f = first_output(c->set, (uint32_t)inst);
    for (uint32_t k = 0; k < no; k++)
        if (add_column(c, f + k, err, errlen) != K_OK)
            return K_ERR;
    return K_OK;
}

static int build_columns(cli_cols *c, const char *list, char *err, size_t errlen)
{
    const char *p = list;
    while (*p) {
        size_t len = strcspn(p, ", \t\n");
        if (len) {
            char item[TA_SPEC_MAX];
            if (len >= sizeof(item)) {
                snprintf(err, errlen, "indicator \"%.40s...\" is too long", p);
                return K_ERR;
            }
            memcpy(item, p, len);
            item[len] = 0;
            if (add_item(c, item, err, errlen) != K_OK)
                return K_ERR;
        }
        p += len;
        if (*p)
            p++;
    }
    if (!c->n) {
        snprintf(err, errlen, "no indicators given");
        return K_ERR;
    }
    return K_OK;
}

/* ---- output ------------------------------------------------------------------------------ */

/* The reference formatter: %.15g, else %.16g, else %.17g, the first that reads back as exactly x
 * (9002.05, never 9002.0499999999993; negative zero prints 0). ta_cli_format_double prints the
 * same bytes faster. */
int ta_cli_format_double_ref(char *buf, size_t cap, double x)
{
    int w = 0;
    if (x == 0)
        x = 0; /* -0 prints as 0 */
    for (int prec = 15; prec <= 17; prec++) {
        w = snprintf(buf, cap, "%.*g", prec, x);
        if (strtod(buf, NULL) == x)
            break;
    }
    return w;
}

#if defined(__x86_64__) && LDBL_MANT_DIG == 64
/* 10^k, exact in the 80-bit format's 64-bit mantissa up to k = 27 (5^27 < 2^63) */
static const long double ta_cli_p10[28] = {
    1e0L,  1e1L,  1e2L,  1e3L,  1e4L,  1e5L,  1e6L,  1e7L,  1e8L,  1e9L,
    1e10L, 1e11L, 1e12L, 1e13L, 1e14L, 1e15L, 1e16L, 1e17L, 1e18L, 1e19L,
    1e20L, 1e21L, 1e22L, 1e23L, 1e24L, 1e25L, 1e26L, 1e27L,
};

/* The P significant digits of |x| (correctly rounded, as printf's) as an integer d with the
 * decimal exponent e of its first digit, from one 80-bit multiply or divide by an exact power of
 * ten: the result (< 10^17 once the exponent is right) is within 2^-64 relative, 0.006, of the
 * exact product, so the rounding is certain unless the fraction lies within 0.02 of 1/2 (then 0:
 * the caller falls back, as it does for a scale beyond 10^27). */
static int ta_cli_digits(double ax, int P, int e0, uint64_t *d, int *e)
{
    const long double *p10 = ta_cli_p10;
    long double lo = p10[P - 1], hi = p10[P];
    for (int tries = 0; tries < 4; tries++) {
        int sc = P - 1 - e0;
        if (sc > 27 || sc < -27)
            return 0;
        long double y = sc >= 0 ? (long double)ax * p10[sc] : (long double)ax / p10[-sc];
        long double fl = floorl(y), fr = y - fl;
        if (fabsl(fr - 0.5L) < 0.02L)
            return 0; /* too near a tie (or a range edge, both at .5) to be sure */
        if (y >= hi) { /* P + 1 digits before the point: the exponent is higher */
            e0++;
            continue;
        }
        if (y < lo) { /* fewer than P: lower (an error of 0.006 at lo or hi changes nothing:
                       * both neighbours round to 10^(P-1) at the upper exponent) */
            e0--;
            continue;
        }
        uint64_t v = (uint64_t)fl + (fr > 0.5L);
        if ((long double)v >= hi) { /* rounded up to 10^P: 1 and zeros, one place up */
            v /= 10;
            e0++;
        }
        *d = v;
        *e = e0;
        return 1;
    }
    return 0;
}

/* Whether the decimal d * 10^(e - P + 1) reads back (strtod, round to nearest) as exactly ax:
 * 1 yes, 0 no, -1 unsure. One correctly rounded 80-bit operation on exact operands, then to
 * double: the double rounding can differ from a direct one only when the 80-bit result lies
 * exactly halfway between two doubles, which is refused as unsure. */
static int ta_cli_reads_back(uint64_t d, int P, int e, double ax)
{
    int sc = P - 1 - e;
    if (sc > 27 || sc < -27)
        return -1;
    long double r = sc >= 0 ? (long double)d / ta_cli_p10[sc] : (long double)d * ta_cli_p10[-sc];
    uint64_t mant;
    memcpy(&mant, &r, sizeof mant); /* x86 80-bit: the low 8 bytes are the explicit mantissa */
    if ((mant & 0x7ff) == 0x400)
        return -1;
    double back = (double)r;
    if (!isnormal(back) && back != 0)
        return -1; /* subnormal: a second rounding point of its own */
    return back == ax;
}
#endif

/* printf's %.Pg of the P digits d (first digit's exponent e), trailing zeros removed. */
static int ta_cli_put_g(char *buf, bool neg, uint64_t d, int P, int e)
{
    char dig[20];
    for (int i = P - 1; i >= 0; i--) {
        dig[i] = (char)('0' + d % 10);
        d /= 10;
    }
    int nd = P;
    while (nd > 1 && dig[nd - 1] == '0')
        nd--;
    char *o = buf;
    if (neg)
        *o++ = '-';
    if (e >= -4 && e < P) {
        if (e >= 0) {
            for (int i = 0; i <= e; i++)
                *o++ = i < nd ? dig[i] : '0';
            if (nd > e + 1) {
                *o++ = '.';
                for (int i = e + 1; i < nd; i++)
                    *o++ = dig[i];
            }
        } else {
            *o++ = '0';
            *o++ = '.';
            for (int i = 0; i < -e - 1; i++)
                *o++ = '0';
            for (int i = 0; i < nd; i++)
                *o++ = dig[i];
        }
    } else {
        *o++ = dig[0];
        if (nd > 1) {
            *o++ = '.';
            for (int i = 1; i < nd; i++)
                *o++ = dig[i];
        }
        *o++ = 'e';
        *o++ = e < 0 ? '-' : '+';
        int ae = e < 0 ? -e : e;
        if (ae >= 100)
            *o++ = (char)('0' + ae / 100);
        *o++ = (char)('0' + ae / 10 % 10);
        *o++ = (char)('0' + ae % 10);
    }
    *o = 0;
    return (int)(o - buf);
}

/* ta_cli_format_double_ref's bytes without printf's multi-precision conversion and strtod: the
 * digits and the read-back test above, printf / strtod only where those are unsure (values
 * within 2 % of a rounding tie, beyond 10^+-27 in scale, or subnormal). test_ta_fmt compares
 * the two on millions of doubles; cap must be >= 32. */
int ta_cli_format_double(char *buf, size_t cap, double x)
{
#if defined(__x86_64__) && LDBL_MANT_DIG == 64
    if (cap >= 32 && isnormal(x)) {
        double ax = fabs(x);
        int e0 = (int)floor(log10(ax));
        for (int P = 15; P <= 17; P++) {
            uint64_t d;
            int e;
            if (!ta_cli_digits(ax, P, e0, &d, &e))
                break;
            int rb = P == 17 ? 1 : ta_cli_reads_back(d, P, e, ax);
            if (rb < 0)
                break;
            if (rb)
                return ta_cli_put_g(buf, x < 0, d, P, e);
        }
    }
#endif
    return ta_cli_format_double_ref(buf, cap, x);
}

/* 2022-12-13T00:00:00Z (milliseconds when they are not zero) */
static void ta_cli_fmt_time(char *buf, size_t cap, int64_t ms)
{
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    size_t n = strftime(buf, cap, "%Y-%m-%dT%H:%M:%S", &tm);
    if (ms % 1000)
        snprintf(buf + n, cap - n, ".%03dZ", (int)(ms % 1000));
    else
        snprintf(buf + n, cap - n, "Z");
}

static void print_header(const cli_cols *c, enum ta_cli_format fmt, FILE *out)
{
    if (fmt != TA_CLI_CSV)
        return;
    fputs(c->iso ? "open_time_ms,time" : "open_time_ms", out);
    for (uint32_t i = 0; i < c->n; i++) {
        fputc(',', out);
        fputs(ta_set_output_name(c->set, c->col[i]), out);
    }
    fputc('\n', out);
}

static void print_row(const cli_cols *c, enum ta_cli_format fmt, int64_t t, const double *v,
                      FILE *out)
{
    char buf[64], tbuf[40];
    if (c->iso)
        ta_cli_fmt_time(tbuf, sizeof tbuf, t);
    if (fmt == TA_CLI_CSV) {
        fprintf(out, "%lld", (long long)t);
        if (c->iso)
            fprintf(out, ",%s", tbuf);
        for (uint32_t i = 0; i < c->n; i++) {
            double x = v[c->col[i]];
            fputc(',', out);
            if (isfinite(x))
                fwrite(buf, 1, (size_t)ta_cli_format_double(buf, sizeof buf, x), out);
        }
        fputc('\n', out);
        return;
    }
    fprintf(out, "{\"open_time_ms\":%lld", (long long)t);
    if (c->iso)
        fprintf(out, ",\"time\":\"%s\"", tbuf);
    for (uint32_t i = 0; i < c->n; i++) {
        double x = v[c->col[i]];
        fprintf(out, ",\"%s\":", ta_set_output_name(c->set, c->col[i]));
        if (isfinite(x))
            fwrite(buf, 1, (size_t)ta_cli_format_double(buf, sizeof buf, x), out);
        else
            fputs("null", out);
    }
    fputs("}\n", out);
}

/* The market model's closed bars of the file's interval, as the indicators see them: only the
 * bar of the row just fed (the bars the model fills in for missing periods are not rows of the
 * file, and TA-Lib, like every user of `kestrel ta`, computes over the file's rows). */
typedef struct ta_cli_feed {
    enum tf tf;
    int64_t want_open;
    bool got;
    candle bar;
} ta_cli_feed;

static void ta_cli_on_note(void *ud, const market_note *n)
{
    ta_cli_feed *f = ud;
    if (n->kind == MARKET_BAR_CLOSED && n->tf == f->tf && n->bar &&
        n->bar->open_ms == f->want_open) {
        f->bar = *n->bar;
        f->got = true;
    }
}

int ta_cli_run(const char *path, const char *indicators, enum ta_cli_format fmt, FILE *out,
               FILE *errf, ta_cli_stats *st, char *err, size_t errlen)
{
    return ta_cli_run_opts(path, indicators, fmt, NULL, out, errf, st, err, errlen);
}

int ta_cli_run_opts(const char *path, const char *indicators, enum ta_cli_format fmt,
                    const ta_cli_opts *opt, FILE *out, FILE *errf, ta_cli_stats *st, char *err,
                    size_t errlen)
{
    static const ta_cli_opts defaults = {NULL, false};
    if (!opt)
        opt = &defaults;
    cli_cols *c = xcalloc(1, sizeof(*c));
    ta_cli_stats stats = {0, 0, 0, 0};
    int rc = K_ERR;
    double *vals = NULL;
    klines *k = NULL;
    market *m = NULL;
    ingest *ig = NULL;
    c->set = ta_set_new("", err, errlen);
    c->iso = opt->iso_time;
    if (build_columns(c, indicators ? indicators : TA_CLI_DEFAULT, err, errlen) != K_OK)
        goto done;
    if (klines_open(&k, path, VENUE_BINANCE_SPOT, "KESTRELTA", opt->interval, err, errlen) !=
        K_OK)
        goto done;
    /* the one pipeline: klines -> ingest -> market model -> closed bars -> indicators; one
     * symbol, so the model is sized small */
    market_limits lim = {.max_symbols = 1, .book_levels = 16, .book_buffered = 16,
                         .tape_size = 16, .candles_max = 16};
    m = market_new(&lim);
    ig = ingest_new(m, NULL, NULL);
    ta_cli_feed feed = {.tf = klines_tf(k)};
    if (market_subscribe(m, ta_cli_on_note, &feed) != K_OK) {
        snprintf(err, errlen, "market subscriber table full");
        goto done;
    }
    vals = xmalloc((ta_set_outputs(c->set) + 1) * sizeof(double));
    int64_t step = tf_ms(feed.tf);
    feed_event ev;
    int r;
    while ((r = klines_next(k, &ev)) != 0) {
        const char *why = NULL;
        if (r > 0) {
            ev.recv_ns = (ev.u.kline.open_ms + step) * 1000000;
            feed.want_open = ev.u.kline.open_ms;
            feed.got = false;
            enum ingest_result ir = ingest_event(ig, &ev, &why);
            if (ir == INGEST_OK && !feed.got)
                why = "the market model took no bar from it";
            else if (ir != INGEST_OK && !why)
                why = ingest_strerror(ir);
        } else {
            why = klines_error(k);
        }
        if (why) {
            fprintf(errf, "kestrel ta: %s:%llu: bad row (%s), skipped\n", path,
                    (unsigned long long)klines_line(k), why);
            stats.bad++;
            continue;
        }
        if (!stats.bars) /* the header only once there is a bar: nothing on stdout otherwise */
            print_header(c, fmt, out);
        ta_bar b = ta_bar_from_candle(&feed.bar);
        ta_set_update(c->set, &b, vals);
        print_row(c, fmt, b.t, vals, out);
        stats.bars++;
    }
    stats.lines = klines_line(k);
    stats.rounded = klines_rounded(k);
    if (klines_io_error(k)) {
        snprintf(err, errlen, "reading %s: %s", path, klines_io_error(k));
        goto done;
    }
    if (fflush(out) != 0 || ferror(out)) {
        snprintf(err, errlen, "writing output: %s", strerror(errno));
        goto done;
    }
    rc = K_OK;
done:
    klines_close(k);
    ingest_free(ig);
    market_free(m);
    free(vals);
    ta_set_free(c->set);
    free(c);
    if (st)
        *st = stats;
    return rc;
}

/* ---- --list ------------------------------------------------------------------------------ */

/* One --list row's cells. */
typedef struct ta_cli_listrow {
    char params[128], spec[TA_SPEC_MAX], cols[512];
    bool spec_is_column; /* several outputs, and the spec is also the first one's column name */
} ta_cli_listrow;

static void ta_cli_list_row(const ta_info *in, ta_cli_listrow *r)
{
    size_t o = 0;
    snprintf(r->params, sizeof r->params, "-");
    for (uint32_t k = 0; k < in->nparams && o < sizeof r->params; k++)
        o += (size_t)snprintf(r->params + o, sizeof r->params - o, "%s%s=%g", k ? " " : "",
                              in->params[k].name, in->params[k].def);
    char e[160];
    ta_ind *ind = ta_ind_new(in->name, e, sizeof e);
    snprintf(r->spec, sizeof r->spec, "%s", ind ? ta_ind_spec(ind) : in->name);
    r->cols[0] = 0;
    r->spec_is_column = false;
    o = 0;
    for (uint32_t k = 0; ind && k < ta_ind_outputs(ind) && o < sizeof r->cols; k++) {
        const ta_output_info *oi = &in->outputs[k];
        const char *name = ta_ind_output_name(ind, k);
        if (strcmp(name, r->spec) == 0 && ta_ind_outputs(ind) > 1)
            r->spec_is_column = true;
        o += (size_t)snprintf(r->cols + o, sizeof r->cols - o, "%s%s", k ? " " : "", name);
        if (oi->nlevels && o < sizeof r->cols) {
            o += (size_t)snprintf(r->cols + o, sizeof r->cols - o, " [");
            for (uint32_t l = 0; l < oi->nlevels && o < sizeof r->cols; l++)
                o += (size_t)snprintf(r->cols + o, sizeof r->cols - o, "%s%g", l ? " " : "",
                                      oi->levels[l]);
            if (o < sizeof r->cols)
                o += (size_t)snprintf(r->cols + o, sizeof r->cols - o, "]");
        }
    }
    ta_ind_free(ind);
}

/* An aligned table: every column as wide as its widest cell. SPEC is what the chart's picker
 * takes (all outputs drawn); COLUMNS are what --indicators and the CSV header name (one output
 * each). A spec that is also a column name (macd_12_26_9 = the MACD line) is starred: in
 * --indicators it means that one column, so the bare name (macd) asks for every output. */
static void print_list(FILE *out)
{
    uint32_t n = ta_info_count();
    ta_cli_listrow *rows = xcalloc(n ? n : 1, sizeof *rows);
    int wn = 4, wp = 21, wk = 4, ws = 4;
    for (uint32_t i = 0; i < n; i++) {
        const ta_info *in = ta_info_at(i);
        ta_cli_list_row(in, &rows[i]);
        int l = (int)strlen(in->name);
        wn = l > wn ? l : wn;
        l = (int)strlen(rows[i].params);
        wp = l > wp ? l : wp;
        l = in->kind == TA_OVERLAY ? 7 : 10;
        wk = l > wk ? l : wk;
        l = (int)strlen(rows[i].spec) + (rows[i].spec_is_column ? 1 : 0);
        ws = l > ws ? l : ws;
    }
    fprintf(out, "%-*s  %-*s  %-*s  %-*s  %s\n", wn, "NAME", wp, "PARAMETERS (defaults)", wk,
            "KIND", ws, "SPEC", "COLUMNS (one output each) [levels]  description");
    for (uint32_t i = 0; i < n; i++) {
        const ta_info *in = ta_info_at(i);
        char spec[TA_SPEC_MAX + 2];
        snprintf(spec, sizeof spec, "%s%s", rows[i].spec, rows[i].spec_is_column ? "*" : "");
        fprintf(out, "%-*s  %-*s  %-*s  %-*s  %s   %s%s%s\n", wn, in->name, wp, rows[i].params,
                wk, in->kind == TA_OVERLAY ? "overlay" : "oscillator", ws, spec, rows[i].cols,
                in->title, in->talib ? "; TA-Lib " : "", in->talib ? in->talib : "");
    }
    fputs("\nSPEC: what the chart's indicator picker takes (all outputs drawn). COLUMNS: what\n"
          "--indicators and the CSV header name, one output each. In --indicators an item that\n"
          "is a column name gives that column; any other spec gives all its outputs.\n"
          "A bare NAME gives all its outputs at the defaults (macd: the three MACD columns).\n"
          "* the spec is also its first column's name: --indicators macd_12_26_9 gives the MACD\n"
          "line alone, while the chart draws all three lines for it; use macd, or list the\n"
          "columns, to get every output.\n",
          out);
    free(rows);
}

static void ta_cli_usage(FILE *f)
{
    fputs("usage: kestrel ta --data FILE.csv[.gz] [--indicators LIST] [--format csv|json]\n"
          "                  [--interval TF] [--iso-time]\n"
          "       kestrel ta --list\n"
          "FILE: open_time_ms,open,high,low,close,volume per line (gzip or plain, header\n"
          "optional, - for stdin), one bar per row at one interval (1s 1m 5m 15m 1h 4h 1d;\n"
          "--interval, else inferred from the first rows), rows aligned to it.\n"
          "LIST, comma-separated: bare names (macd: all its outputs at the defaults), column\n"
          "names (macd_signal_12_26_9: that output) or specs that name no column (bb_20_2,\n"
          "stoch_14_3_3: all their outputs); --list shows which is which. Default:\n  "
          TA_CLI_DEFAULT
          "\nOutput: one row per bar, open_time_ms (then time, ISO 8601 UTC, with --iso-time)\n"
          "and one column per output, the shortest decimal that reads back exactly; empty\n"
          "(json: null) during warm-up. --format json prints one JSON object per line.\n"
          "Exit: 0 ok, 1 some rows were bad (reported on stderr, skipped), 2 usage or I/O error\n"
          "or no bars at all.\n",
          f);
}

/* "--opt value" or "--opt=value" */
static const char *opt_value(int argc, char **argv, int *i, const char *name)
{
    size_t n = strlen(name);
    if (strncmp(argv[*i], name, n) != 0)
        return NULL;
    if (argv[*i][n] == '=')
        return argv[*i] + n + 1;
    if (argv[*i][n] == 0 && *i + 1 < argc)
        return argv[++*i];
    return NULL;
}

int ta_cli_main(int argc, char **argv)
{
    const char *data = NULL, *ind = NULL, *format = "csv";
    bool list = false;
    ta_cli_opts opts = {NULL, false};
    for (int i = 1; i < argc; i++) {
        const char *v;
        if (strcmp(argv[i], "--list") == 0) {
            list = true;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            ta_cli_usage(stdout);
            return 0;
        } else if ((v = opt_value(argc, argv, &i, "--data"))) {
            data = v;
        } else if ((v = opt_value(argc, argv, &i, "--indicators"))) {
            ind = v;
        } else if ((v = opt_value(argc, argv, &i, "--format"))) {
            format = v;
        } else if ((v = opt_value(argc, argv, &i, "--interval"))) {
            enum tf tf;
            if (tf_parse(v, &tf) != K_OK) {
                fprintf(stderr, "kestrel ta: --interval must be one of 1s 1m 5m 15m 1h 4h 1d, "
                        "not \"%s\"\n", v);
                return 2;
            }
            opts.interval = v;
        } else if (strcmp(argv[i], "--iso-time") == 0) {
            opts.iso_time = true;
        } else {
            fprintf(stderr, "kestrel ta: unknown or incomplete option \"%s\" (kestrel ta --help)\n",
                    argv[i]);
            return 2;
        }
    }
    enum ta_cli_format fmt;
    if (strcmp(format, "csv") == 0) {
        fmt = TA_CLI_CSV;
    } else if (strcmp(format, "json") == 0) {
        fmt = TA_CLI_JSON;
    } else {
        fprintf(stderr, "kestrel ta: --format must be csv or json, not \"%s\"\n", format);
        return 2;
    }
    if (list) {
        print_list(stdout);
        return 0;
    }
    if (!data) {
        fprintf(stderr, "kestrel ta: --data FILE is required (kestrel ta --help)\n");
        return 2;
    }
    char err[256];
    ta_cli_stats st;
    if (ta_cli_run_opts(data, ind, fmt, &opts, stdout, stderr, &st, err, sizeof(err)) != K_OK) {
        fflush(stdout);
        fprintf(stderr, "kestrel ta: %s\n", err);
        return 2;
    }
    if (st.bars == 0 && st.bad == 0) { /* an empty file, or a header alone */
        fprintf(stderr, "kestrel ta: %s: no bars (empty input)\n", data);
        return 2;
    }
    if (st.rounded)
        fprintf(stderr, "kestrel ta: %llu row(s) had values with more than 8 decimals, rounded to "
                "1e-8\n", (unsigned long long)st.rounded);
    if (st.bad)
        fprintf(stderr, "kestrel ta: %llu bad row(s) skipped, %llu bars used\n",
                (unsigned long long)st.bad, (unsigned long long)st.bars);
    return st.bad ? 1 : 0;
}
