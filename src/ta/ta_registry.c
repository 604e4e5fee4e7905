/* The indicator registry, spec parsing ("macd_12_26_9") and the life of one instance.
 *
 * An instance is ONE allocation: the header, the indicator's state struct, then the arrays the
 * state needs (rings, deques), carved by a two-pass arena (measure, then allocate and carve).
 * That keeps 700 series x a handful of indicators cache-friendly and cheap to reset, and lets
 * tests compare the whole state byte for byte around a peek. Warm-up masking is done here, from
 * each output's TA-Lib lookback, so every indicator reports NaN exactly where TA-Lib is empty. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kestrel/xmalloc.h"
#include "ta_impl.h"

static const ta_impl *const registry[] = {
    &ta_impl_sma,     &ta_impl_ema,      &ta_impl_wma,      &ta_impl_dema,
    &ta_impl_tema,    &ta_impl_kama,     &ta_impl_hma,      &ta_impl_rsi,
    &ta_impl_stochrsi, &ta_impl_macd,    &ta_impl_bb,       &ta_impl_atr,
    &ta_impl_natr,    &ta_impl_stoch,    &ta_impl_stochf,   &ta_impl_adx,
    &ta_impl_aroon,   &ta_impl_cci,      &ta_impl_mfi,      &ta_impl_obv,
    &ta_impl_vwap,    &ta_impl_roc,      &ta_impl_mom,      &ta_impl_willr,
    &ta_impl_sar,     &ta_impl_ichimoku, &ta_impl_keltner,  &ta_impl_donchian,
    &ta_impl_supertrend, &ta_impl_cmf,   &ta_impl_trix,     &ta_impl_ultosc,
    &ta_impl_stddev,  &ta_impl_zscore,   &ta_impl_linreg_slope, &ta_impl_rvol,
    &ta_impl_ad,      &ta_impl_adosc,
};

struct ta_ind {
    const ta_impl *impl;
    void *state;
    size_t state_bytes; /* state struct + arrays */
    uint64_t bars;
    double params[TA_MAX_PARAMS];
    uint32_t lookback[TA_MAX_OUTPUTS];
    int shift[TA_MAX_OUTPUTS];
    char spec[TA_SPEC_MAX];
    char names[TA_MAX_OUTPUTS][TA_SPEC_MAX];
};

#define ALIGN16(x) (((x) + 15) & ~(size_t)15)

uint32_t ta_info_count(void)
{
    return (uint32_t)K_ARRAY_LEN(registry);
}

const ta_info *ta_info_at(uint32_t i)
{
    return i < K_ARRAY_LEN(registry) ? &registry[i]->info : NULL;
}

const ta_info *ta_info_find(const char *name)
{
    for (size_t i = 0; name && i < K_ARRAY_LEN(registry); i++)
        if (strcmp(registry[i]->info.name, name) == 0)
            return &registry[i]->info;
    return NULL;
}

/* ---- spec parsing ---------------------------------------------------------------------- */

/* One parameter token: a plain decimal number. */
static int parse_number(const char *tok, double *out)
{
    if (!*tok || strlen(tok) > 24)
        return K_ERR;
    for (const char *c = tok; *c; c++)
        if (!isdigit((unsigned char)*c) && *c != '.')
            return K_ERR;
    char *end;
    errno = 0;
    double v = strtod(tok, &end);
    if (*end || errno || !isfinite(v))
        return K_ERR;
    *out = v;
    return K_OK;
}

static void format_params(const ta_info *info, const double *p, char *buf, size_t len)
{
    size_t o = 0;
    buf[0] = 0;
    for (uint32_t k = 0; k < info->nparams && o < len; k++) {
        int w = info->params[k].integer ? snprintf(buf + o, len - o, "_%.0f", p[k])
                                        : snprintf(buf + o, len - o, "_%.10g", p[k]);
        if (w < 0)
            break;
        o += (size_t)w;
    }
}

/* Splits "a_b_c" into tokens (in place in buf). */
static int ta_registry_tokenize(char *buf, char **tok, int max)
{
    int n = 0;
    char *s = buf;
    for (;;) {
        if (n == max)
            return -1;
        tok[n++] = s;
        char *u = strchr(s, '_');
        if (!u)
            return n;
        *u = 0;
        s = u + 1;
    }
}

/* Finds the longest name (instance name, or output prefix when `output` is non-NULL) that the
 * leading tokens spell, then reads the remaining tokens as parameters. */
static int parse_spec(const char *text, bool by_column, const ta_impl **impl_out, double *params,
                      uint32_t *output, char *err, size_t errlen)
{
    char buf[TA_SPEC_MAX], join[TA_SPEC_MAX];
    char *tok[16];
    size_t len = strlen(text);
    if (len == 0 || len >= sizeof(buf)) {
        snprintf(err, errlen, "bad indicator spec \"%.40s\"", text);
        return K_ERR;
    }
    for (size_t i = 0; i <= len; i++)
        buf[i] = (char)tolower((unsigned char)text[i]);
    int ntok = ta_registry_tokenize(buf, tok, (int)K_ARRAY_LEN(tok));
    if (ntok < 0) {
        snprintf(err, errlen, "bad indicator spec \"%s\"", text);
        return K_ERR;
    }
    for (int j = ntok; j >= 1; j--) {
        join[0] = 0;
        for (int t = 0; t < j; t++) {
            if (t)
                strcat(join, "_");
            strcat(join, tok[t]);
        }
        const ta_impl *impl = NULL;
        uint32_t out = 0;
        for (size_t r = 0; r < K_ARRAY_LEN(registry) && !impl; r++) {
            const ta_info *in = &registry[r]->info;
            if (!by_column) {
                if (strcmp(in->name, join) == 0)
                    impl = registry[r];
                continue;
            }
            for (uint32_t k = 0; k < in->noutputs; k++)
                if (strcmp(in->outputs[k].prefix, join) == 0) {
                    impl = registry[r];
                    out = k;
                    break;
                }
        }
        if (!impl)
            continue;
        const ta_info *in = &impl->info;
        int np = ntok - j;
        if (np > (int)in->nparams) {
            snprintf(err, errlen, "%s: too many parameters in \"%s\" (it takes %u)", in->name,
                     text, in->nparams);
            return K_ERR;
        }
        for (uint32_t k = 0; k < in->nparams; k++) {
            const ta_param_info *pi = &in->params[k];
            double v = pi->def;
            if ((int)k < np && parse_number(tok[j + (int)k], &v) != K_OK) {
                snprintf(err, errlen, "%s: parameter %s \"%s\" is not a number", in->name,
                         pi->name, tok[j + (int)k]);
                return K_ERR;
            }
            if (pi->integer && v != floor(v)) {
                snprintf(err, errlen, "%s: parameter %s must be a whole number", in->name,
                         pi->name);
                return K_ERR;
            }
            if (v < pi->min || v > pi->max) {
                snprintf(err, errlen, "%s: parameter %s = %g is outside [%g, %g]", in->name,
                         pi->name, v, pi->min, pi->max);
                return K_ERR;
            }
            params[k] = v;
        }
        if (impl->check && impl->check(params, err, errlen) != K_OK)
            return K_ERR;
        *impl_out = impl;
        if (output)
            *output = out;
        return K_OK;
    }
    snprintf(err, errlen, "unknown indicator \"%s\" (kestrel ta --list shows them)", text);
    return K_ERR;
}

int ta_column_parse(const char *column, char *spec, size_t speclen, uint32_t *output)
{
    char err[160];
    const ta_impl *impl;
    double p[TA_MAX_PARAMS] = { 0 };
    uint32_t k;
    if (!column || parse_spec(column, true, &impl, p, &k, err, sizeof(err)) != K_OK)
        return K_ERR;
    char ps[TA_SPEC_MAX];
    format_params(&impl->info, p, ps, sizeof(ps));
    if (spec)
        snprintf(spec, speclen, "%s%s", impl->info.name, ps);
    if (output)
        *output = k;
    return K_OK;
}

/* ---- instances --------------------------------------------------------------------------- */

static void ind_setup(ta_ind *ind)
{
    ta_arena a = { (char *)ind->state + ALIGN16(ind->impl->state_size), 0 };
    memset(ind->state, 0, ind->state_bytes);
    ind->impl->init(ind->state, ind->params, &a);
    ind->bars = 0;
}

ta_ind *ta_ind_new(const char *spec, char *err, size_t errlen)
{
    const ta_impl *impl;
    double p[TA_MAX_PARAMS] = { 0 };
    if (!spec || parse_spec(spec, false, &impl, p, NULL, err, errlen) != K_OK)
        return NULL;
    /* measuring pass: the state goes to scratch, arrays are only counted */
    union {
        max_align_t align;
        char bytes[TA_STATE_MAX];
    } scratch;
    if (impl->state_size > sizeof(scratch)) {
        snprintf(err, errlen, "%s: state too large", impl->info.name);
        return NULL;
    }
    memset(&scratch, 0, sizeof(scratch));
    ta_arena m = { NULL, 0 };
    impl->init(&scratch, p, &m);

    size_t head = ALIGN16(sizeof(ta_ind));
    size_t bytes = ALIGN16(impl->state_size) + m.used;
    ta_ind *ind = xcalloc(1, head + bytes);
    ind->impl = impl;
    ind->state = (char *)ind + head;
    ind->state_bytes = bytes;
    memcpy(ind->params, p, sizeof(p));
    ind_setup(ind);

    const ta_info *in = &impl->info;
    char ps[TA_SPEC_MAX];
    format_params(in, p, ps, sizeof(ps));
    snprintf(ind->spec, sizeof(ind->spec), "%s%s", in->name, ps);
    impl->lookback(p, ind->lookback);
    for (uint32_t k = 0; k < in->noutputs; k++) {
        snprintf(ind->names[k], sizeof(ind->names[k]), "%s%s", in->outputs[k].prefix, ps);
        ind->shift[k] = impl->shift ? impl->shift(p, k) : in->outputs[k].shift;
    }
    return ind;
}

void ta_ind_free(ta_ind *ind)
{
    free(ind);
}

void ta_ind_reset(ta_ind *ind)
{
    ind_setup(ind);
}

static void mask_warmup(const ta_ind *ind, uint64_t i, double *out)
{
    for (uint32_t k = 0; k < ind->impl->info.noutputs; k++)
        if (i < ind->lookback[k])
            out[k] = NAN;
}

void ta_ind_update(ta_ind *ind, const ta_bar *bar, double *out)
{
    ind->impl->step(ind->state, bar, ind->bars, out, true);
    mask_warmup(ind, ind->bars, out);
    ind->bars++;
}

void ta_ind_peek(const ta_ind *ind, const ta_bar *bar, double *out)
{
    ind->impl->step(ind->state, bar, ind->bars, out, false);
    mask_warmup(ind, ind->bars, out);
}

const ta_info *ta_ind_info(const ta_ind *ind)
{
    return &ind->impl->info;
}
const char *ta_ind_spec(const ta_ind *ind)
{
    return ind->spec;
}
uint32_t ta_ind_outputs(const ta_ind *ind)
{
    return ind->impl->info.noutputs;
}
const char *ta_ind_output_name(const ta_ind *ind, uint32_t k)
{
    return k < ind->impl->info.noutputs ? ind->names[k] : NULL;
}
double ta_ind_param(const ta_ind *ind, uint32_t k)
{
    return k < ind->impl->info.nparams ? ind->params[k] : NAN;
}
uint32_t ta_ind_lookback(const ta_ind *ind, uint32_t k)
{
    return k < ind->impl->info.noutputs ? ind->lookback[k] : 0;
}
int ta_ind_output_shift(const ta_ind *ind, uint32_t k)
{
    return k < ind->impl->info.noutputs ? ind->shift[k] : 0;
}
uint64_t ta_ind_bars(const ta_ind *ind)
{
    return ind->bars;
}
size_t ta_ind_memory(const ta_ind *ind)
{
    return ALIGN16(sizeof(ta_ind)) + ind->state_bytes;
}
const void *ta_ind_state(const ta_ind *ind, size_t *len)
{
    *len = ind->state_bytes;
    return ind->state;
}
