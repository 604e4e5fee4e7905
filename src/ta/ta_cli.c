/* `kestrel ta`: reads open_time_ms,open,high,low,close,volume bars (plain or gzip, through
 * zlib, optional header line) and prints every requested indicator output per bar.
 *
 * Input is untrusted: lines are capped, every field must parse completely, bars must be
 * consistent (low <= open, close <= high, volume >= 0) and strictly later than the previous
 * good bar. A bad row is reported with its line number and skipped; the indicators never see
 * it. Output numbers use %.17g, which round-trips doubles exactly, so a comparison with TA-Lib
 * is a comparison of the computed values, not of formatting. */
#include "kestrel/ta_cli.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "kestrel/common.h"
#include "kestrel/ta.h"
#include "kestrel/xmalloc.h"

#define LINE_MAX_LEN 4096
#define MAX_COLUMNS 512

typedef struct cli_cols {
    ta_set *set;
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

/* One item of --indicators: a column name (that output) or, failing that, an indicator spec
 * (all its outputs). "macd_12_26_9" is the MACD line's column; "bb_20_2" names no column, so
 * it is the Bollinger instance with its five outputs. */
static int add_item(cli_cols *c, const char *item, char *err, size_t errlen)
{
    char spec[TA_SPEC_MAX];
    uint32_t out;
    if (ta_column_parse(item, spec, sizeof(spec), &out) == K_OK) {
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

/* ---- input ------------------------------------------------------------------------------- */

static int parse_i64(const char *s, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (end == s || *end || errno)
        return K_ERR;
    *out = v;
    return K_OK;
}

static int parse_f64(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || errno || !isfinite(v))
        return K_ERR;
    *out = v;
    return K_OK;
}

/* Splits a line into exactly 6 fields; returns the count found (or 7 for "more"). */
static int split_fields(char *line, char **f)
{
    int n = 0;
    char *s = line;
    for (;;) {
        if (n == 6)
            return 7;
        f[n++] = s;
        char *comma = strchr(s, ',');
        if (!comma)
            return n;
        *comma = 0;
        s = comma + 1;
    }
}

/* NULL when the row is a good bar, else why not. */
static const char *parse_bar(char *line, ta_bar *b)
{
    char *f[6];
    int n = split_fields(line, f);
    if (n != 6)
        return "expected 6 fields: open_time_ms,open,high,low,close,volume";
    if (parse_i64(f[0], &b->t) != K_OK)
        return "open_time_ms is not an integer";
    if (parse_f64(f[1], &b->o) != K_OK || parse_f64(f[2], &b->h) != K_OK ||
        parse_f64(f[3], &b->l) != K_OK || parse_f64(f[4], &b->c) != K_OK ||
        parse_f64(f[5], &b->v) != K_OK)
        return "non-numeric price or volume";
    if (b->h < b->l)
        return "high < low";
    if (b->o < b->l || b->o > b->h || b->c < b->l || b->c > b->h)
        return "open or close outside [low, high]";
    if (b->v < 0)
        return "negative volume";
    return NULL;
}

/* ---- output ------------------------------------------------------------------------------ */

static void print_header(const cli_cols *c, enum ta_cli_format fmt, FILE *out)
{
    if (fmt != TA_CLI_CSV)
        return;
    fputs("open_time_ms", out);
    for (uint32_t i = 0; i < c->n; i++) {
        fputc(',', out);
        fputs(ta_set_output_name(c->set, c->col[i]), out);
    }
    fputc('\n', out);
}

static void print_row(const cli_cols *c, enum ta_cli_format fmt, int64_t t, const double *v,
                      FILE *out)
{
    char buf[64];
    if (fmt == TA_CLI_CSV) {
        fprintf(out, "%lld", (long long)t);
        for (uint32_t i = 0; i < c->n; i++) {
            double x = v[c->col[i]];
            fputc(',', out);
            if (isfinite(x)) {
                int w = snprintf(buf, sizeof(buf), "%.17g", x);
                fwrite(buf, 1, (size_t)w, out);
            }
        }
        fputc('\n', out);
        return;
    }
    fprintf(out, "{\"open_time_ms\":%lld", (long long)t);
    for (uint32_t i = 0; i < c->n; i++) {
        double x = v[c->col[i]];
        fprintf(out, ",\"%s\":", ta_set_output_name(c->set, c->col[i]));
        if (isfinite(x)) {
            int w = snprintf(buf, sizeof(buf), "%.17g", x);
            fwrite(buf, 1, (size_t)w, out);
        } else {
            fputs("null", out);
        }
    }
    fputs("}\n", out);
}

int ta_cli_run(const char *path, const char *indicators, enum ta_cli_format fmt, FILE *out,
               FILE *errf, ta_cli_stats *st, char *err, size_t errlen)
{
    cli_cols *c = xcalloc(1, sizeof(*c));
    ta_cli_stats stats = { 0, 0, 0 };
    int rc = K_ERR;
    double *vals = NULL;
    char *line = NULL;
    gzFile gz = NULL;
    c->set = ta_set_new("", err, errlen);
    if (build_columns(c, indicators ? indicators : TA_CLI_DEFAULT, err, errlen) != K_OK)
        goto done;
    gz = strcmp(path, "-") == 0 ? gzdopen(0, "rb") : gzopen(path, "rb");
    if (!gz) {
        snprintf(err, errlen, "cannot open %s: %s", path, errno ? strerror(errno) : "zlib");
        goto done;
    }
    gzbuffer(gz, 1 << 17);
    vals = xmalloc((ta_set_outputs(c->set) + 1) * sizeof(double));
    line = xmalloc(LINE_MAX_LEN + 2);
    int64_t last_t = 0;
    bool have_last = false;
    for (;;) {
        if (!gzgets(gz, line, LINE_MAX_LEN + 2))
            break;
        stats.lines++;
        size_t len = strlen(line);
        bool complete = len && line[len - 1] == '\n';
        if (!complete && len == LINE_MAX_LEN + 1) { /* over-long: drop the rest of it */
            int ch;
            while ((ch = gzgetc(gz)) != -1 && ch != '\n')
                ;
            fprintf(errf, "kestrel ta: %s:%llu: bad row (line longer than %d bytes), skipped\n",
                    path, (unsigned long long)stats.lines, LINE_MAX_LEN);
            stats.bad++;
            continue;
        }
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = 0;
        if (!len)
            continue; /* blank line */
        if (stats.lines == 1 && !(line[0] >= '0' && line[0] <= '9') && line[0] != '-')
            continue; /* header */
        ta_bar b;
        const char *why = parse_bar(line, &b);
        if (!why && have_last && b.t <= last_t)
            why = "open_time_ms not after the previous bar";
        if (why) {
            fprintf(errf, "kestrel ta: %s:%llu: bad row (%s), skipped\n", path,
                    (unsigned long long)stats.lines, why);
            stats.bad++;
            continue;
        }
        if (!have_last) /* the header only once there is a bar: nothing on stdout otherwise */
            print_header(c, fmt, out);
        last_t = b.t;
        have_last = true;
        ta_set_update(c->set, &b, vals);
        print_row(c, fmt, b.t, vals, out);
        stats.bars++;
    }
    int zerr = 0;
    const char *zmsg = gzerror(gz, &zerr);
    if (zerr != Z_OK) { /* a truncated gzip file ends with Z_BUF_ERROR */
        snprintf(err, errlen, "reading %s", zmsg); /* zlib names the file */
        goto done;
    }
    if (fflush(out) != 0 || ferror(out)) {
        snprintf(err, errlen, "writing output: %s", strerror(errno));
        goto done;
    }
    rc = K_OK;
done:
    if (gz)
        gzclose(gz);
    free(line);
    free(vals);
    ta_set_free(c->set);
    free(c);
    if (st)
        *st = stats;
    return rc;
}

/* ---- --list ------------------------------------------------------------------------------ */

static void print_list(FILE *out)
{
    fprintf(out, "%-13s %-44s %-11s %s\n", "NAME", "PARAMETERS (defaults)", "KIND",
            "COLUMNS AT DEFAULTS   [levels]   description");
    for (uint32_t i = 0; i < ta_info_count(); i++) {
        const ta_info *in = ta_info_at(i);
        char params[128] = "-", cols[512] = "";
        size_t o = 0;
        for (uint32_t k = 0; k < in->nparams && o < sizeof(params); k++)
            o += (size_t)snprintf(params + o, sizeof(params) - o, "%s%s=%g", k ? " " : "",
                                  in->params[k].name, in->params[k].def);
        char e[160];
        ta_ind *ind = ta_ind_new(in->name, e, sizeof(e));
        o = 0;
        for (uint32_t k = 0; ind && k < ta_ind_outputs(ind) && o < sizeof(cols); k++) {
            const ta_output_info *oi = &in->outputs[k];
            o += (size_t)snprintf(cols + o, sizeof(cols) - o, "%s%s", k ? " " : "",
                                  ta_ind_output_name(ind, k));
            if (oi->nlevels && o < sizeof(cols)) {
                o += (size_t)snprintf(cols + o, sizeof(cols) - o, " [");
                for (uint32_t l = 0; l < oi->nlevels && o < sizeof(cols); l++)
                    o += (size_t)snprintf(cols + o, sizeof(cols) - o, "%s%g", l ? " " : "",
                                          oi->levels[l]);
                if (o < sizeof(cols))
                    o += (size_t)snprintf(cols + o, sizeof(cols) - o, "]");
            }
        }
        ta_ind_free(ind);
        fprintf(out, "%-13s %-44s %-11s %s   %s%s%s\n", in->name, params,
                in->kind == TA_OVERLAY ? "overlay" : "oscillator", cols, in->title,
                in->talib ? "; TA-Lib " : "", in->talib ? in->talib : "");
    }
}

static void ta_cli_usage(FILE *f)
{
    fputs("usage: kestrel ta --data FILE.csv[.gz] [--indicators LIST] [--format csv|json]\n"
          "       kestrel ta --list\n"
          "FILE: open_time_ms,open,high,low,close,volume per line (gzip or plain, header\n"
          "optional, - for stdin). LIST: comma-separated column names (macd_signal_12_26_9:\n"
          "that output) or indicator specs that name no column (bb_20_2, stoch_14_3_3: all\n"
          "their outputs); --list shows them. Default:\n  " TA_CLI_DEFAULT
          "\nOutput: one row per bar, open_time_ms then one column per output, empty (json: null)\n"
          "during warm-up. --format json prints one JSON object per line.\n"
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
    if (ta_cli_run(data, ind, fmt, stdout, stderr, &st, err, sizeof(err)) != K_OK) {
        fflush(stdout);
        fprintf(stderr, "kestrel ta: %s\n", err);
        return 2;
    }
    if (st.bars == 0 && st.bad == 0) { /* an empty file, or a header alone */
        fprintf(stderr, "kestrel ta: %s: no bars (empty input)\n", data);
        return 2;
    }
    if (st.bad)
        fprintf(stderr, "kestrel ta: %llu bad row(s) skipped, %llu bars used\n",
                (unsigned long long)st.bad, (unsigned long long)st.bars);
    return st.bad ? 1 : 0;
}
