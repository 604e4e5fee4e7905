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

/* The shortest decimal that reads back as exactly x (%.15g, %.16g or %.17g): 9002.05, never
 * 9002.0499999999993, and still the computed double bit for bit (negative zero prints 0). */
static int ta_cli_fmt_num(char *buf, size_t cap, double x)
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
                fwrite(buf, 1, (size_t)ta_cli_fmt_num(buf, sizeof buf, x), out);
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
            fwrite(buf, 1, (size_t)ta_cli_fmt_num(buf, sizeof buf, x), out);
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
