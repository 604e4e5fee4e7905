/* `kestrel backtest` (backtest.h): owns the command line, the data sources, the recorder of one
 * run (equity per bar, closes, exposure), the baselines, the bootstrap intervals and verdicts,
 * sweeps (forked workers, shards, merge) and the report. Everything that trades is the strategy
 * runner (runner.h) over the one ingest pipeline, so nothing here is a second implementation of
 * the engine, the broker or the accounting. The report never contains wall-clock content: the
 * same data, config and seed give the same bytes. */
#include "kestrel/backtest.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <libconfig.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kestrel/bt_stats.h"
#include "kestrel/btplot.h"
#include "kestrel/btstore.h"
#include "kestrel/config.h"
#include "kestrel/decimal.h"
#include "kestrel/ingest.h"
#include "kestrel/klines.h"
#include "kestrel/replay.h"
#include "kestrel/runner.h"
#include "kestrel/xgb.h"
#include "kestrel/xmalloc.h"

#define BT_MAX_FILES 16
#define BT_MAX_AXES 6
#define BT_MAX_VALS 16
#define BT_MAX_CONFIGS 512

typedef struct bt_axis {
    char key[64];
    char val[BT_MAX_VALS][32];
    int n;
} bt_axis;

typedef struct bt_opts {
    const char *data[BT_MAX_FILES];
    int ndata;
    char symbol[KSYM_MAX];
    char tf[8];
    enum venue venue;
    int64_t from_ms, to_ms;
    const char *json_out;
    uint32_t wf_train, wf_test;
    uint64_t seed;
    bt_axis axes[BT_MAX_AXES];
    int naxes;
    int shard_k, shard_n;
    uint32_t random_seeds;
    runner_config rc;
    /* --funding: the perpetual's funding times with their rate and mark (0 = unknown) */
    struct bt_fund {
        int64_t t;
        kdec rate, mark;
    } *fund;
    uint32_t nfund;
    /* where the results are stored (btstore.h): --db, else the --config file's store.path,
     * else the app's default database; --no-store: nowhere */
    char db[CONFIG_PATH_MAX];
    bool no_store;
    const char *config_file;
    const char *sets[32];
    int nsets;
} bt_opts;

typedef struct bt_trade {
    int64_t entry_time, exit_time;
    enum side side;
    kdec qty, entry, exit, pnl, fee;
} bt_trade;

/* what one run recorded */
typedef struct bt_run {
    uint32_t bars, cap;
    double *ret;      /* per-bar equity return (bar 0: 0) */
    double *close;
    int64_t *t;       /* bar end times */
    uint8_t *inpos;
    kdec start, equity, net_pnl, fees, funding; /* funding: paid (> 0) or received (< 0) */
    bt_trade *trades;
    uint32_t ntrades;
    pf_stats pst;
    double maxdd;
    /* signals scored in the recorded span */
    uint8_t *hit, *hit_major;
    uint32_t nhit;
    cJSON *metrics; /* metrics object (owned) */
    runner_stats rst;
    uint64_t signals;
    uint64_t digest;
    uint64_t bad_rows, rounded_rows; /* kline rows refused / rounded to 1e-8 by the reader */
    enum venue venue;
    char err[256];
} bt_run;

typedef struct bt_rec {
    bt_run *run;
    runner *rn;
    enum tf tf;
    const market_sym *sym;
    int64_t lo_ms, hi_ms; /* bars recorded: end in (lo, hi] */
    int64_t trade_lo_ms;  /* walk-forward: auto-trading on from here */
    kdec prev_eq;
} bt_rec;

/* ---- small helpers ------------------------------------------------------------------- */

static uint64_t bt_rand(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static const char *bt_kdec(kdec v, char *buf, size_t cap)
{
    decimal_format(v, 8, buf, cap);
    /* trim trailing zeros after the point, keep at least one decimal */
    char *dot = strchr(buf, '.');
    if (dot) {
        char *e = buf + strlen(buf) - 1;
        while (e > dot + 1 && *e == '0')
            *e-- = '\0';
    }
    return buf;
}

static void bt_add_kdec(cJSON *o, const char *k, kdec v)
{
    char b[48];
    cJSON_AddStringToObject(o, k, bt_kdec(v, b, sizeof b));
}

static void bt_add_num(cJSON *o, const char *k, double v)
{
    if (isfinite(v))
        cJSON_AddNumberToObject(o, k, v);
    else
        cJSON_AddNullToObject(o, k);
}

static int64_t bt_parse_time(const char *s)
{
    char *end;
    long long v = strtoll(s, &end, 10);
    if (*end == '\0' && end != s)
        return v;
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *p = strptime(s, "%Y-%m-%d", &tm);
    if (!p)
        return -1;
    if (*p == 'T' || *p == ' ') {
        const char *q = strptime(p + 1, "%H:%M", &tm);
        if (!q)
            return -1;
        p = q;
        if (*p == ':')
            p = strptime(p + 1, "%S", &tm);
        if (!p)
            return -1;
    }
    if (*p && strcmp(p, "Z"))
        return -1;
    return (int64_t)timegm(&tm) * 1000;
}

static int64_t bt_parse_dur(const char *s)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || v < 0)
        return -1;
    double mul = 1000;
    if (!strcmp(end, "ms"))
        mul = 1;
    else if (!strcmp(end, "m"))
        mul = 60000;
    else if (!strcmp(end, "h"))
        mul = 3600000;
    else if (*end && strcmp(end, "s"))
        return -1;
    return (int64_t)llround(v * mul);
}

/* one config key (the --config file, --set and --sweep): K_OK, or K_ERR with err */
static int bt_set(bt_opts *o, runner_config *c, const char *key, const char *val, char *err,
                  size_t errlen)
{
    err[0] = '\0';
    if (!strncmp(key, "risk.", 5))
        return risk_config_set(&c->risk, key, val, err, errlen) == RISK_OK ? K_OK : K_ERR;
    if (!strncmp(key, "paper.", 6) || !strncmp(key, "fees.", 5))
        return paper_config_set(&c->paper, key, val, err, errlen);
    char *end;
    if (!strcmp(key, "engine.signal_interval")) {
        int64_t d = bt_parse_dur(val);
        if (d < 0)
            goto bad;
        c->signal_interval_ms = d;
    } else if (!strcmp(key, "engine.horizon")) {
        int64_t d = bt_parse_dur(val);
        if (d <= 0)
            goto bad;
        c->engine.horizon_ms = d;
    } else if (!strcmp(key, "engine.drift")) {
        if (drift_method_parse(val, &c->engine.drift_method) != K_OK)
            goto bad;
    } else if (!strcmp(key, "engine.analysis_tf")) {
        enum tf tf;
        if (tf_parse(val, &tf) != K_OK)
            goto bad;
        c->engine.analysis_tf = tf;
        c->engine.features.analysis_tf = tf;
    } else if (!strcmp(key, "engine.threshold")) {
        double v = strtod(val, &end);
        if (*end || v <= 0 || v > 1)
            goto bad;
        c->engine.threshold = v;
    } else if (!strcmp(key, "engine.fee_bps")) {
        double v = strtod(val, &end);
        if (*end || v < 0 || v > 500)
            goto bad;
        c->engine.fee_bps = v;
    } else if (!strcmp(key, "engine.atr_tp") || !strcmp(key, "engine.atr_sl")) {
        double v = strtod(val, &end);
        if (*end || v <= 0 || v > 50)
            goto bad;
        *(!strcmp(key, "engine.atr_tp") ? &c->engine.atr_tp : &c->engine.atr_sl) = v;
    } else if (!strcmp(key, "engine.auto_trade")) {
        c->auto_trade = !strcmp(val, "true") || !strcmp(val, "1");
    } else if (!strcmp(key, "backtest.slippage_bps")) {
        double v = strtod(val, &end);
        if (*end || v < 0 || v > 1000)
            goto bad;
        c->slippage_bps = v;
    } else if (!strcmp(key, "backtest.strategy")) {
        if (runner_strategy_parse(val, &c->strategy) != K_OK)
            goto bad;
    } else if (!strcmp(key, "engine.train_every")) {
        double v = strtod(val, &end);
        if (end == val || *end || !(v >= 1 && v <= 1000000))
            goto bad;
        c->train_every = (uint32_t)(v + 0.5);
    } else if (!strcmp(key, "backtest.models") || !strcmp(key, "engine.models")) {
        uint32_t m;
        if (runner_models_parse(val, &m) != K_OK)
            goto bad;
        c->models = m;
    } else if (!strcmp(key, "backtest.start_cash")) {
        kdec v;
        if (decimal_parse(val, strlen(val), &v) != K_OK || v <= 0)
            goto bad;
        c->start_cash = v;
    } else if (!strcmp(key, "backtest.qty_step")) {
        kdec v;
        if (decimal_parse(val, strlen(val), &v) != K_OK || v <= 0)
            goto bad;
        c->qty_step = v;
    } else if (!strcmp(key, "backtest.random_seeds") && o) {
        long v = strtol(val, &end, 10);
        if (*end || v < 1 || v > 100000)
            goto bad;
        o->random_seeds = (uint32_t)v;
    } else {
        snprintf(err, errlen, "unknown key %s", key);
        return K_ERR;
    }
    return K_OK;
bad:
    snprintf(err, errlen, "bad value for %s: %s", key, val);
    return K_ERR;
}

/* `key = value` lines (# comments; quotes and a trailing ';' are stripped) */
/* One leaf of the configuration tree as bt_set's text: numbers as written (%.17g), booleans
 * true / false, strings as they are. */
static bool bt_setting_text(const config_setting_t *st, char *buf, size_t cap)
{
    switch (config_setting_type(st)) {
    case CONFIG_TYPE_INT:
    case CONFIG_TYPE_INT64:
        snprintf(buf, cap, "%lld", (long long)config_setting_get_int64(st));
        return true;
    case CONFIG_TYPE_FLOAT:
        snprintf(buf, cap, "%.17g", config_setting_get_float(st));
        return true;
    case CONFIG_TYPE_BOOL:
        snprintf(buf, cap, "%s", config_setting_get_bool(st) ? "true" : "false");
        return true;
    case CONFIG_TYPE_STRING:
        snprintf(buf, cap, "%s", config_setting_get_string(st));
        return true;
    default:
        return false;
    }
}

/* Applies every leaf under the groups a backtest uses (risk, paper, fees, engine, backtest) in
 * file order; the app's other groups (ui, store, replay, market, ...) are not a backtest's. */
static int bt_apply_group(bt_opts *o, const config_setting_t *g, const char *prefix,
                          const char *path, char *err, size_t errlen)
{
    int n = config_setting_length(g);
    for (int i = 0; i < n; i++) {
        const config_setting_t *st = config_setting_get_elem(g, (unsigned)i);
        const char *name = config_setting_name(st);
        if (!name)
            continue;
        char key[160], val[256], e2[200];
        snprintf(key, sizeof key, "%s%s%s", prefix, *prefix ? "." : "", name);
        if (config_setting_is_group(st)) {
            if (bt_apply_group(o, st, key, path, err, errlen) != K_OK)
                return K_ERR;
            continue;
        }
        if (!*prefix) {
            continue; /* a top-level scalar (source, watch ...): the app's */
        }
        if (!bt_setting_text(st, val, sizeof val))
            continue; /* lists and arrays: none of a backtest's keys */
        if (!strcmp(key, "engine.auto_trade"))
            continue; /* whether a live session starts trading: a backtest always trades */
        if (!strcmp(key, "engine.state_interval") || !strcmp(key, "engine.warmup") ||
            !strcmp(key, "engine.warmup_bars"))
            continue; /* the app's checkpoints and warm-up: a backtest's data is its history */
        if (bt_set(o, &o->rc, key, val, e2, sizeof e2) != K_OK) {
            snprintf(err, errlen, "%s:%u: %s", path, config_setting_source_line(st), e2);
            return K_ERR;
        }
    }
    return K_OK;
}

/* --config: the app's configuration file (libconfig, docs/CONFIG.md), checked by the app's own
 * loader first (syntax, size, types: file:line), so a backtest runs with the risk, fee, paper and
 * engine settings of the live configuration. Groups risk, paper, fees, engine and backtest
 * apply; a key in them that the backtest does not know is an error with its line. */
static int bt_load_config(bt_opts *o, const char *path, char *err, size_t errlen)
{
    kconfig *kc = xcalloc(1, sizeof *kc);
    config_defaults(kc);
    int rc = config_load_file(kc, path, NULL, NULL, err, errlen);
    if (rc == K_OK)
        snprintf(o->db, sizeof o->db, "%s", kc->db_path); /* the app's database */
    free(kc);
    if (rc != K_OK)
        return K_ERR;
    config_t cf;
    config_init(&cf);
    if (!config_read_file(&cf, path)) {
        snprintf(err, errlen, "%s:%d: %s", path, config_error_line(&cf), config_error_text(&cf));
        config_destroy(&cf);
        return K_ERR;
    }
    static const char *const groups[] = {"risk", "paper", "fees", "engine", "backtest"};
    rc = K_OK;
    for (size_t i = 0; i < K_ARRAY_LEN(groups) && rc == K_OK; i++) {
        const config_setting_t *g = config_lookup(&cf, groups[i]);
        if (g && config_setting_is_group(g))
            rc = bt_apply_group(o, g, groups[i], path, err, errlen);
    }
    config_destroy(&cf);
    return rc;
}

/* ---- one run ----------------------------------------------------------------------- */

static void bt_run_push(bt_run *r, double ret, double close, int64_t t, bool inpos)
{
    if (r->bars == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 4096;
        r->ret = xrealloc(r->ret, r->cap * sizeof *r->ret);
        r->close = xrealloc(r->close, r->cap * sizeof *r->close);
        r->t = xrealloc(r->t, r->cap * sizeof *r->t);
        r->inpos = xrealloc(r->inpos, r->cap);
    }
    r->ret[r->bars] = ret;
    r->close[r->bars] = close;
    r->t[r->bars] = t;
    r->inpos[r->bars] = inpos;
    r->bars++;
}

static void bt_run_free(bt_run *r)
{
    free(r->ret);
    free(r->close);
    free(r->t);
    free(r->inpos);
    free(r->trades);
    free(r->hit);
    free(r->hit_major);
    if (r->metrics)
        cJSON_Delete(r->metrics);
    memset(r, 0, sizeof *r);
}

static void bt_rec_note(void *ud, const market_note *n)
{
    bt_rec *rc = ud;
    if (n->kind != MARKET_BAR_CLOSED || n->tf != rc->tf)
        return;
    if (!rc->sym)
        rc->sym = n->sym;
    if (n->sym != rc->sym)
        return;
    int64_t end = n->bar->open_ms + tf_ms(n->tf);
    if (rc->trade_lo_ms && end >= rc->trade_lo_ms && !runner_auto(rc->rn))
        runner_set_auto(rc->rn, true);
    pf_summary s;
    portfolio_summary(runner_portfolio(rc->rn), &s);
    if (end <= rc->lo_ms || end > rc->hi_ms) {
        rc->prev_eq = s.equity;
        return;
    }
    double ret = rc->prev_eq > 0 ? (double)s.equity / (double)rc->prev_eq - 1.0 : 0.0;
    if (rc->run->bars == 0)
        ret = 0;
    rc->prev_eq = s.equity;
    const pf_position *p = portfolio_position(runner_portfolio(rc->rn), n->sym->venue,
                                              n->sym->name);
    bt_run_push(rc->run, ret, decimal_to_double(n->bar->c), end, p && p->qty != 0);
}

static bool bt_is_klines(const char *path)
{
    size_t n = strlen(path);
    return (n > 4 && !strcmp(path + n - 4, ".csv")) ||
           (n > 7 && !strcmp(path + n - 7, ".csv.gz"));
}

typedef struct bt_progress {
    bool on;
    uint64_t total, done;
    struct timespec t0;
    int last_pct;
} bt_progress;

static void bt_progress_tick(bt_progress *p)
{
    if (!p->on || p->total == 0)
        return;
    p->done++;
    int pct = (int)(p->done * 100 / p->total);
    if (pct == p->last_pct && p->done != p->total)
        return;
    p->last_pct = pct;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    double el = (double)(now.tv_sec - p->t0.tv_sec) + (now.tv_nsec - p->t0.tv_nsec) / 1e9;
    double eta = p->done ? el * (double)(p->total - p->done) / (double)p->done : 0;
    char bar[41];
    int fill = pct * 40 / 100;
    for (int i = 0; i < 40; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[40] = '\0';
    fprintf(stderr, "\r[%s] %3d%% ETA %5.1fs", bar, pct, eta);
    if (p->done == p->total)
        fputc('\n', stderr);
}

/* the bar ends on its line (a run that stopped short of the count, an error) */
static void bt_progress_end(bt_progress *p)
{
    if (p->on && p->total && p->done != p->total)
        fputc('\n', stderr);
}

/* feeds every data file; returns K_OK or K_ERR with run->err */
/* Loads a funding-rate file (the shared data's format: the rate in `open`) and the mark-price
 * file beside it (`...-funding_rate.csv` -> `...-mark.csv`, its `open` at each funding time; the
 * mark at a funding time is the open of the newest mark row not after it), through the one kline
 * reader in its series mode. */
static int bt_load_funding(bt_opts *o, const char *path, char *err, size_t errlen)
{
    klines *k;
    if (o->nfund) {
        snprintf(err, errlen, "one funding file (the symbol's)");
        return K_ERR;
    }
    if (klines_open_series(&k, path, err, errlen) != K_OK)
        return K_ERR;
    feed_event ev;
    int r;
    uint32_t cap = o->nfund;
    while ((r = klines_next(k, &ev)) != 0) {
        if (r < 0) {
            snprintf(err, errlen, "%s:%llu: %s", path, (unsigned long long)klines_line(k),
                     klines_error(k));
            klines_close(k);
            return K_ERR;
        }
        if (o->nfund == cap) {
            cap = cap ? cap * 2 : 256;
            o->fund = xrealloc(o->fund, cap * sizeof *o->fund);
        }
        o->fund[o->nfund++] = (struct bt_fund){ev.u.kline.open_ms, ev.u.kline.o, 0};
    }
    const char *io = klines_io_error(k);
    if (io) {
        snprintf(err, errlen, "reading %s: %s", path, io);
        klines_close(k);
        return K_ERR;
    }
    klines_close(k);
    const char *suffix = "-funding_rate.csv";
    size_t n = strlen(path), sl = strlen(suffix);
    if (n <= sl || strcmp(path + n - sl, suffix) != 0)
        return K_OK; /* no mark file to look for: the last price is used */
    char mpath[1024];
    snprintf(mpath, sizeof mpath, "%.*s-mark.csv", (int)(n - sl), path);
    if (access(mpath, R_OK) != 0)
        return K_OK;
    if (klines_open_series(&k, mpath, err, errlen) != K_OK)
        return K_ERR;
    uint32_t j = 0;
    kdec mark = 0;
    int64_t mt = -1;
    /* both files are in time order: one merge pass */
    while ((r = klines_next(k, &ev)) != 0) {
        if (r < 0)
            continue;
        while (j < o->nfund && o->fund[j].t < ev.u.kline.open_ms) {
            if (mt >= 0 && o->fund[j].mark == 0)
                o->fund[j].mark = mark;
            j++;
        }
        mark = ev.u.kline.o;
        mt = ev.u.kline.open_ms;
    }
    for (; j < o->nfund && mt >= 0; j++)
        if (o->fund[j].mark == 0 && o->fund[j].t - mt < 8 * 3600000LL)
            o->fund[j].mark = mark;
    klines_close(k);
    return K_OK;
}

/* Feeds the funding events due at or before t_ms (from *next on) into the pipeline: they enter
 * in time order with the bars, so a payment falls on the position held at its funding time. */
static void bt_feed_funding(const bt_opts *o, ingest *ig, int64_t t_ms, uint32_t *next)
{
    while (*next < o->nfund && o->fund[*next].t <= t_ms) {
        const struct bt_fund *f = &o->fund[(*next)++];
        if ((o->from_ms && f->t < o->from_ms) || (o->to_ms && f->t > o->to_ms))
            continue;
        feed_event ev;
        memset(&ev, 0, sizeof ev);
        ev.kind = FEED_FUNDING;
        ev.venue = o->venue;
        snprintf(ev.symbol, sizeof ev.symbol, "%s", o->symbol);
        ev.event_ms = f->t;
        ev.recv_ns = f->t * 1000000;
        ev.u.funding.time_ms = f->t;
        ev.u.funding.rate = f->rate;
        ev.u.funding.mark = f->mark;
        (void)ingest_event(ig, &ev, NULL);
    }
}

static int bt_feed(const bt_opts *o, ingest *ig, bt_run *run, bt_progress *pg)
{
    uint32_t fnext = 0;
    const char *caps[REPLAY_MAX_FILES];
    int ncaps = 0;
    for (int i = 0; i < o->ndata; i++) {
        if (!bt_is_klines(o->data[i])) {
            if (ncaps < REPLAY_MAX_FILES)
                caps[ncaps++] = o->data[i];
            continue;
        }
        klines *k;
        char err[200];
        if (klines_open(&k, o->data[i], o->venue, o->symbol, o->tf, err, sizeof err) != K_OK) {
            snprintf(run->err, sizeof run->err, "%s", err);
            return K_ERR;
        }
        feed_event ev;
        int rc;
        int64_t step = tf_ms(klines_tf(k));
        while ((rc = klines_next(k, &ev)) != 0) {
            if (rc < 0) {
                run->bad_rows++;
                continue;
            }
            int64_t end = ev.u.kline.open_ms + step;
            if ((o->from_ms && ev.u.kline.open_ms < o->from_ms) || (o->to_ms && end > o->to_ms))
                continue;
            bt_feed_funding(o, ig, end, &fnext); /* inside this bar: the position held in it */
            ev.recv_ns = end * 1000000;
            (void)ingest_event(ig, &ev, NULL);
            bt_progress_tick(pg);
        }
        run->rounded_rows += klines_rounded(k);
        if (klines_io_error(k)) { /* a truncated file is not a shorter history */
            snprintf(run->err, sizeof run->err, "reading %s: %s", o->data[i],
                     klines_io_error(k));
            klines_close(k);
            return K_ERR;
        }
        klines_close(k);
    }
    if (ncaps) {
        replay *rp;
        char err[200];
        if (replay_open(&rp, caps, ncaps, err, sizeof err) != K_OK) {
            snprintf(run->err, sizeof run->err, "%s", err);
            return K_ERR;
        }
        replay_line ln;
        while (replay_next(rp, &ln) == 1) {
            int64_t t = ln.recv_ns / 1000000;
            if ((o->from_ms && t < o->from_ms) || (o->to_ms && t >= o->to_ms))
                continue;
            bt_feed_funding(o, ig, t, &fnext);
            (void)ingest_replay_line(ig, rp, &ln, NULL);
            bt_progress_tick(pg);
        }
        replay_close(rp);
    }
    return K_OK;
}

static uint64_t bt_count_rows(const bt_opts *o)
{
    uint64_t n = 0;
    for (int i = 0; i < o->ndata; i++) {
        if (!bt_is_klines(o->data[i]))
            return 0; /* unknown for captures: no bar */
        klines *k;
        char err[200];
        if (klines_open(&k, o->data[i], o->venue, o->symbol, o->tf, err, sizeof err) != K_OK)
            continue;
        feed_event ev;
        int rc;
        int64_t step = tf_ms(klines_tf(k));
        while ((rc = klines_next(k, &ev)) != 0) /* the rows bt_feed feeds: --from / --to */
            n += rc > 0 && !(o->from_ms && ev.u.kline.open_ms < o->from_ms) &&
                 !(o->to_ms && ev.u.kline.open_ms + step > o->to_ms);
        klines_close(k);
    }
    return n;
}

/* exec timeframe of the data: the klines' interval, 1m for captures */
static enum tf bt_exec_tf(const bt_opts *o)
{
    for (int i = 0; i < o->ndata; i++) {
        if (!bt_is_klines(o->data[i]))
            continue;
        klines *k;
        char err[200];
        if (klines_open(&k, o->data[i], o->venue, o->symbol, o->tf, err, sizeof err) != K_OK)
            continue;
        feed_event ev;
        enum tf tf = TF_1M;
        if (klines_next(k, &ev) > 0)
            tf = klines_tf(k);
        klines_close(k);
        return tf;
    }
    return TF_1M;
}

static cJSON *bt_summary_json(const metrics_summary *s, double weight)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "n", (double)s->n);
    bt_add_num(o, "accuracy", s->accuracy);
    double f1 = 0;
    int k = 0;
    for (int c = 0; c < MODEL_CLASSES; c++)
        if (isfinite(s->f1[c])) {
            f1 += s->f1[c];
            k++;
        }
    bt_add_num(o, "f1", k ? f1 / k : NAN);
    bt_add_num(o, "brier", s->brier);
    bt_add_num(o, "log_loss", s->log_loss);
    bt_add_num(o, "ece", s->ece);
    bt_add_num(o, "weight", weight);
    return o;
}

/* The retrains of an off-thread model (XGBoost, LSTM, Transformer, CNN: each keeps its last
 * MODEL_RETRAIN_HISTORY records, model_retrain): when, why, the held-out comparison and whether
 * the candidate went live; retrains_total counts them all. */
static void bt_retrains_json(cJSON *o, const model *m)
{
    model_retrain h[MODEL_RETRAIN_HISTORY];
    uint32_t n = model_retrains(m, h, MODEL_RETRAIN_HISTORY);
    cJSON_AddNumberToObject(o, "retrains_total", n ? (double)h[0].seq : 0);
    cJSON *a = cJSON_AddArrayToObject(o, "retrains");
    for (uint32_t k = n; k-- > 0;) { /* oldest first */
        cJSON *x = cJSON_CreateObject();
        cJSON_AddNumberToObject(x, "seq", (double)h[k].seq);
        cJSON_AddNumberToObject(x, "at", (double)h[k].at_ms);
        cJSON_AddStringToObject(x, "trigger", model_trigger_name(h[k].trigger));
        cJSON_AddNumberToObject(x, "n_train", h[k].n_train);
        cJSON_AddNumberToObject(x, "n_holdout", h[k].n_holdout);
        bt_add_num(x, "candidate_log_loss", h[k].cand_logloss);
        bt_add_num(x, "candidate_accuracy", h[k].cand_acc);
        bt_add_num(x, "live_log_loss", h[k].live_logloss);
        bt_add_num(x, "live_accuracy", h[k].live_acc);
        bt_add_num(x, "baseline_log_loss", h[k].base_logloss);
        cJSON_AddBoolToObject(x, "accepted", h[k].accepted != 0);
        cJSON_AddItemToArray(a, x);
    }
}

/* The reliability diagram's data: per confidence bin (10 equal-width), the signals in it, their
 * mean confidence and the share that was right. */
static void bt_reliability_json(cJSON *o, const metrics_summary *s)
{
    cJSON *a = cJSON_AddArrayToObject(o, "reliability");
    for (int b = 0; b < METRICS_BINS; b++) {
        cJSON *x = cJSON_CreateObject();
        cJSON_AddNumberToObject(x, "lo", (double)b / METRICS_BINS);
        cJSON_AddNumberToObject(x, "hi", (double)(b + 1) / METRICS_BINS);
        cJSON_AddNumberToObject(x, "n", (double)s->bin_n[b]);
        bt_add_num(x, "confidence", s->bin_conf[b]);
        bt_add_num(x, "hit_rate", s->bin_hit[b]);
        cJSON_AddItemToArray(a, x);
    }
}

/* One run of the runner over the data with config c. lo/hi: bars recorded (end in (lo, hi]);
 * trade_lo: auto-trading from there (walk-forward), 0 = from the start per c->auto_trade. */
static int bt_run_once(const bt_opts *o, const runner_config *c, int64_t lo, int64_t hi,
                       int64_t trade_lo, bool progress, bt_run *run)
{
    memset(run, 0, sizeof *run);
    market *m = market_new(NULL);
    kclock *clk = kclock_new_simulated();
    ingest *ig = ingest_new(m, clk, NULL); /* the app's defaults: replay parity */
    runner_config rc = *c;
    rc.exec_tf = bt_exec_tf(o);
    if (rc.engine.horizon_ms < tf_ms(rc.exec_tf)) {
        /* scored on bar closes, a horizon inside one bar sees no price move: every outcome
         * would be HOLD, every model "100 % accurate" and nothing traded */
        snprintf(run->err, sizeof run->err,
                 "engine.horizon (%lld s) is shorter than one %s bar of the data: every signal "
                 "would be scored HOLD. Use --set engine.horizon=%lldm or longer (e.g. 4 bars) "
                 "and --set engine.analysis_tf=%s",
                 (long long)(rc.engine.horizon_ms / 1000), tf_name(rc.exec_tf),
                 (long long)(tf_ms(rc.exec_tf) / 60000), tf_name(rc.exec_tf));
        ingest_free(ig);
        kclock_free(clk);
        market_free(m);
        return K_ERR;
    }
    runner *rn = runner_new(m, clk, &rc);
    if (!rn) {
        snprintf(run->err, sizeof run->err, "bad runner config");
        ingest_free(ig);
        kclock_free(clk);
        market_free(m);
        return K_ERR;
    }
    if (trade_lo)
        runner_set_auto(rn, false);
    bt_rec rec = { .run = run, .rn = rn, .tf = rc.exec_tf, .lo_ms = lo, .hi_ms = hi,
                   .trade_lo_ms = trade_lo };
    (void)market_subscribe(m, bt_rec_note, &rec);
    bt_progress pg = { .on = progress, .last_pct = -1 };
    if (progress) {
        pg.total = bt_count_rows(o);
        clock_gettime(CLOCK_MONOTONIC, &pg.t0);
    }
    int ret = bt_feed(o, ig, run, &pg);
    bt_progress_end(&pg);
    ingest_finish(ig);
    runner_finish(rn, kclock_now_ms(clk));
    portfolio *pf = runner_portfolio(rn);
    pf_summary s;
    portfolio_summary(pf, &s);
    run->start = rc.start_cash;
    run->equity = s.equity;
    run->net_pnl = s.equity - rc.start_cash;
    run->funding = s.funding;
    portfolio_stats(pf, &run->pst);
    /* the final close-out's effect on the last bar's return */
    if (run->bars && rec.prev_eq > 0)
        run->ret[run->bars - 1] += (double)s.equity / (double)rec.prev_eq - 1.0;
    uint32_t nt = portfolio_trade_count(pf);
    run->trades = xcalloc(nt ? nt : 1, sizeof *run->trades);
    for (uint32_t i = 0; i < nt; i++) {
        const pf_trade *t = portfolio_trade_at(pf, i);
        if (trade_lo && t->opened_ms < trade_lo)
            continue;
        bt_trade *b = &run->trades[run->ntrades++];
        b->entry_time = t->opened_ms;
        b->exit_time = t->closed_ms;
        b->side = t->side;
        b->qty = t->qty;
        b->entry = t->entry;
        b->exit = t->exit;
        b->pnl = t->pnl;
        b->fee = t->fees;
        run->fees += t->fees;
    }
    double *eq = xcalloc(run->bars + 1, sizeof *eq);
    eq[0] = 1;
    for (uint32_t i = 0; i < run->bars; i++)
        eq[i + 1] = eq[i] * (1 + run->ret[i]);
    run->maxdd = bt_max_drawdown(eq, run->bars + 1);
    free(eq);
    run->rst = *runner_get_stats(rn);
    run->digest = runner_signal_digest(rn);
    run->venue = rec.sym ? rec.sym->venue : o->venue;
    /* classification: the signals of the recorded span, scored */
    cJSON *mj = cJSON_CreateObject();
    engine *e = runner_engine(rn, 0);
    if (e) {
        uint32_t hl = engine_history_len(e);
        run->hit = xcalloc(hl ? hl : 1, 1);
        run->hit_major = xcalloc(hl ? hl : 1, 1);
        uint64_t cnt[MODEL_CLASSES] = { 0 };
        metrics_acc acc;
        memset(&acc, 0, sizeof acc);
        for (uint32_t i = 0; i < hl; i++) {
            const metrics_signal_row *row = engine_history(e, i);
            if (!row->scored || row->time_ms <= lo || row->time_ms > hi)
                continue;
            int maj = MODEL_HOLD;
            for (int k = 0; k < MODEL_CLASSES; k++)
                if (cnt[k] > cnt[maj])
                    maj = k;
            run->hit_major[run->nhit] = maj == row->outcome;
            run->hit[run->nhit++] = row->action == row->outcome;
            cnt[row->outcome]++;
            metrics_rec mr = { .outcome = row->outcome, .predicted = row->action,
                               .confidence = row->confidence };
            memcpy(mr.p, row->p, sizeof mr.p);
            metrics_acc_add(&acc, &mr);
        }
        metrics_summary ms;
        metrics_acc_summary(&acc, &ms);
        cJSON *ens = bt_summary_json(&ms, 1.0);
        bt_reliability_json(ens, &ms);
        cJSON_AddItemToObject(mj, "ensemble", ens);
        cJSON *mods = cJSON_AddObjectToObject(mj, "models");
        const metrics_set *set = engine_metrics(e);
        double w[ENSEMBLE_MAX_MODELS] = { 0 };
        engine_weights(e, w);
        for (uint32_t i = 0; i < engine_models(e); i++) {
            metrics_summary mm;
            metrics_track_all(metrics_set_model_track(set, i), &mm);
            cJSON *mo = bt_summary_json(&mm, w[i]);
            model *md = engine_model(e, i);
            if (md->ops->flags & MODEL_F_OFFTHREAD)
                bt_retrains_json(mo, md);
            cJSON_AddItemToObject(mods, md->name, mo);
        }
        run->signals = engine_history_len(e);
    } else {
        cJSON_AddObjectToObject(mj, "models");
    }
    run->metrics = mj;
    market_unsubscribe(m, bt_rec_note, &rec);
    runner_free(rn);
    ingest_free(ig);
    kclock_free(clk);
    market_free(m);
    return ret;
}

/* ---- statistics -------------------------------------------------------------------- */

static double bt_return(const bt_run *r)
{
    return (double)r->net_pnl / (double)r->start;
}

static double bt_bars_per_year(const bt_run *r)
{
    if (r->bars < 2)
        return 1;
    double step = (double)(r->t[r->bars - 1] - r->t[0]) / (double)(r->bars - 1);
    return step > 0 ? 365.0 * 86400000.0 / step : 1;
}

/* buy-and-hold on the same bars and costs: size_quote at the first close's ask, out at the
 * last close's bid, taker fees both ways; per-bar returns of that equity */
typedef struct bt_bh {
    kdec qty, entry, exit, pnl, fees;
    double *ret;
} bt_bh;

static void bt_buy_hold(const bt_opts *o, const runner_config *c, const bt_run *r, bt_bh *out)
{
    memset(out, 0, sizeof *out);
    out->ret = xcalloc(r->bars ? r->bars : 1, sizeof *out->ret);
    if (r->bars < 2)
        return;
    paper_config pc = c->paper;
    paper *pp = paper_new(&pc, NULL);
    int64_t cbps = (int64_t)llround(c->slippage_bps * 100.0);
    kdec c0, cl;
    char b[64];
    snprintf(b, sizeof b, "%.8f", r->close[0]);
    (void)decimal_parse(b, strlen(b), &c0);
    snprintf(b, sizeof b, "%.8f", r->close[r->bars - 1]);
    (void)decimal_parse(b, strlen(b), &cl);
    out->entry = (kdec)((__int128)c0 * (1000000 + cbps) / 1000000);
    out->exit = (kdec)((__int128)cl * (1000000 - cbps) / 1000000);
    kdec q = (kdec)((__int128)c->risk.size_quote * KDEC_SCALE / out->entry);
    kdec step = c->qty_step > 0 ? c->qty_step : 1;
    q -= q % step;
    out->qty = q;
    kdec n_in = (kdec)((__int128)q * out->entry / KDEC_SCALE);
    kdec n_out = (kdec)((__int128)q * out->exit / KDEC_SCALE);
    kdec f_in = paper_fee_for(pp, o->venue, n_in, false);
    kdec f_out = paper_fee_for(pp, o->venue, n_out, false);
    out->fees = f_in + f_out;
    out->pnl = n_out - n_in - out->fees;
    double start = (double)c->start_cash, prev = start - (double)f_in;
    double qd = decimal_to_double(q), ed = decimal_to_double(out->entry);
    out->ret[0] = prev / start - 1;
    for (uint32_t i = 1; i < r->bars; i++) {
        double eq = start - (double)f_in + qd * (r->close[i] - ed) * KDEC_SCALE;
        if (i == r->bars - 1)
            eq = start + (double)out->pnl;
        out->ret[i] = prev > 0 ? eq / prev - 1 : 0;
        prev = eq;
    }
    paper_free(pp);
}

static int bt_bar_index(const bt_run *r, int64_t t)
{
    uint32_t lo = 0, hi = r->bars;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (r->t[mid] < t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return (int)(lo < r->bars ? lo : r->bars - 1);
}

/* random entries: the same number of trades, each with the same length (bars), notional and
 * costs, at random start bars and sides; returns over seeds, sorted */
static void bt_random(const bt_opts *o, const runner_config *c, const bt_run *r, double *rets,
                      uint32_t nseeds)
{
    paper_config pc = c->paper;
    paper *pp = paper_new(&pc, NULL);
    double fee_frac = (double)paper_fee_for(pp, o->venue, 100000 * KDEC_SCALE, false) /
                      (100000.0 * KDEC_SCALE);
    paper_free(pp);
    double slip = c->slippage_bps / 10000.0;
    for (uint32_t s = 0; s < nseeds; s++) {
        uint64_t st = o->seed * 1000003ULL + s + 1;
        double pnl = 0;
        for (uint32_t i = 0; i < r->ntrades && r->bars > 1; i++) {
            const bt_trade *t = &r->trades[i];
            int a = bt_bar_index(r, t->entry_time), b = bt_bar_index(r, t->exit_time);
            uint32_t len = (uint32_t)(b > a ? b - a : 1);
            if (len >= r->bars)
                len = r->bars - 1;
            uint32_t start = (uint32_t)(bt_rand(&st) % (r->bars - len));
            int dir = (bt_rand(&st) & 1) ? 1 : -1;
            double notional = decimal_to_double(t->qty) * decimal_to_double(t->entry);
            double in = r->close[start] * (1 + dir * slip);
            double out = r->close[start + len] * (1 - dir * slip);
            pnl += notional * (dir * (out / in - 1) - fee_frac * (1 + out / in));
        }
        rets[s] = pnl / decimal_to_double(r->start);
    }
    for (uint32_t i = 1; i < nseeds; i++) { /* insertion sort: deterministic, small n */
        double v = rets[i];
        uint32_t j = i;
        while (j > 0 && rets[j - 1] > v) {
            rets[j] = rets[j - 1];
            j--;
        }
        rets[j] = v;
    }
}

static cJSON *bt_ci_json(const bt_ci *ci, double scale)
{
    cJSON *o = cJSON_CreateObject();
    bt_add_num(o, "estimate", ci->estimate * scale);
    bt_add_num(o, "lo", ci->lo * scale);
    bt_add_num(o, "hi", ci->hi * scale);
    return o;
}

static void bt_verdict(cJSON *verdicts, const char *metric, const char *base, const bt_ci *d,
                       bool ok)
{
    char txt[160];
    if (!ok)
        snprintf(txt, sizeof txt, "%s: not enough data to compare with %s", metric, base);
    else if (d->lo > 0)
        snprintf(txt, sizeof txt, "%s: edge over %s (95%% interval of the difference above 0)",
                 metric, base);
    else
        snprintf(txt, sizeof txt, "%s: no evidence of an edge over %s", metric, base);
    cJSON_AddItemToArray(verdicts, cJSON_CreateString(txt));
}

/* ---- the report -------------------------------------------------------------------- */

/* The equity curve (the per-bar returns compounded from the start equity, at most 120 points:
 * the last bar of each of 120 equal slices, with the running peak for the drawdown) and the
 * return of each UTC calendar month. Display data for the plots; the exact P&L is net_pnl. */
static void bt_curve_json(cJSON *j, const bt_run *r)
{
    cJSON *eq = cJSON_AddArrayToObject(j, "equity_curve");
    cJSON *mo = cJSON_AddArrayToObject(j, "monthly_returns");
    double e = (double)r->start / KDEC_SCALE, peak = e, mstart = e;
    uint32_t npts = r->bars < 120 ? r->bars : 120;
    int cur_month = -1;
    char mname[32] = "";
    for (uint32_t i = 0; i < r->bars; i++) {
        time_t secs = (time_t)((r->t[i] - 1) / 1000); /* the bar's own month (its end - 1 ms) */
        struct tm tm;
        gmtime_r(&secs, &tm);
        int month = tm.tm_year * 12 + tm.tm_mon;
        if (month != cur_month) {
            if (cur_month >= 0) {
                cJSON *x = cJSON_CreateObject();
                cJSON_AddStringToObject(x, "month", mname);
                bt_add_num(x, "return", mstart > 0 ? e / mstart - 1 : NAN);
                cJSON_AddItemToArray(mo, x);
            }
            cur_month = month;
            mstart = e;
            snprintf(mname, sizeof mname, "%04d-%02d", tm.tm_year + 1900, tm.tm_mon + 1);
        }
        e *= 1 + r->ret[i];
        if (e > peak)
            peak = e;
        /* the last bar of slice k = floor((i + 1) * npts / bars) */
        if (npts && ((uint64_t)(i + 1) * npts / r->bars) != ((uint64_t)i * npts / r->bars)) {
            cJSON *x = cJSON_CreateObject();
            cJSON_AddNumberToObject(x, "t", (double)r->t[i]);
            bt_add_num(x, "equity", e);
            bt_add_num(x, "peak", peak);
            cJSON_AddItemToArray(eq, x);
        }
    }
    if (cur_month >= 0) {
        cJSON *x = cJSON_CreateObject();
        cJSON_AddStringToObject(x, "month", mname);
        bt_add_num(x, "return", mstart > 0 ? e / mstart - 1 : NAN);
        cJSON_AddItemToArray(mo, x);
    }
}

static cJSON *bt_report(const bt_opts *o, const runner_config *c, bt_run *r, const bt_run *rules,
                        const bt_run *rsi)
{
    cJSON *j = cJSON_CreateObject();
    char b[48];
    cJSON_AddNumberToObject(j, "seed", (double)o->seed);
    cJSON_AddStringToObject(j, "symbol", o->symbol);
    cJSON_AddStringToObject(j, "venue", venue_name(r->venue));
    cJSON_AddStringToObject(j, "strategy", runner_strategy_name(c->strategy));
    cJSON_AddNumberToObject(j, "bars", r->bars);
    cJSON_AddNumberToObject(j, "bad_rows", (double)r->bad_rows);
    cJSON_AddNumberToObject(j, "rounded_rows", (double)r->rounded_rows);
    if (r->bars) {
        cJSON_AddNumberToObject(j, "from", (double)r->t[0]);
        cJSON_AddNumberToObject(j, "to", (double)r->t[r->bars - 1]);
    }
    bt_add_kdec(j, "start_equity", r->start);
    bt_add_kdec(j, "end_equity", r->equity);
    bt_add_kdec(j, "net_pnl", r->net_pnl);
    bt_add_kdec(j, "funding", r->funding);
    cJSON_AddNumberToObject(j, "funding_events", (double)r->rst.fundings);
    cJSON_AddNumberToObject(j, "model_trains", (double)r->rst.trains);
    bt_add_kdec(j, "fees", r->fees);
    double ret = bt_return(r);
    bt_add_num(j, "return", ret);
    double ann = sqrt(bt_bars_per_year(r));
    double sh = bt_sharpe(r->ret, r->bars);
    bt_add_num(j, "sharpe", sh * ann);
    bt_add_num(j, "sortino", bt_sortino(r->ret, r->bars, 0) * ann);
    bt_add_num(j, "max_drawdown", r->maxdd);
    bt_add_num(j, "win_rate", r->pst.trades ? r->pst.win_rate : NAN);
    bt_add_num(j, "profit_factor", r->pst.profit_factor);
    bt_add_kdec(j, "expectancy", r->pst.expectancy);
    uint32_t inpos = 0;
    for (uint32_t i = 0; i < r->bars; i++)
        inpos += r->inpos[i];
    bt_add_num(j, "exposure", r->bars ? (double)inpos / r->bars : 0);
    cJSON_AddNumberToObject(j, "trade_count", r->ntrades);
    cJSON_AddNumberToObject(j, "signals", (double)r->rst.signals);
    cJSON_AddNumberToObject(j, "signals_unchanged", (double)r->rst.signals_unchanged);
    cJSON_AddNumberToObject(j, "orders", (double)r->rst.orders);
    cJSON_AddNumberToObject(j, "fills", (double)r->rst.fills);
    char dg[24];
    snprintf(dg, sizeof dg, "%016llx", (unsigned long long)r->digest);
    cJSON_AddStringToObject(j, "signal_digest", dg);
    cJSON_AddNumberToObject(j, "refused", (double)r->rst.refused);
    cJSON_AddNumberToObject(j, "stops", (double)r->rst.stops);
    cJSON_AddNumberToObject(j, "take_profits", (double)r->rst.tps);
    cJSON *tr = cJSON_AddArrayToObject(j, "trades");
    for (uint32_t i = 0; i < r->ntrades; i++) {
        const bt_trade *t = &r->trades[i];
        cJSON *x = cJSON_CreateObject();
        cJSON_AddNumberToObject(x, "entry_time", (double)t->entry_time);
        cJSON_AddNumberToObject(x, "exit_time", (double)t->exit_time);
        cJSON_AddStringToObject(x, "side", t->side == SIDE_BUY ? "long" : "short");
        bt_add_kdec(x, "qty", t->qty);
        bt_add_kdec(x, "entry", t->entry);
        bt_add_kdec(x, "exit", t->exit);
        bt_add_kdec(x, "pnl", t->pnl);
        bt_add_kdec(x, "fee", t->fee);
        cJSON_AddItemToArray(tr, x);
    }
    cJSON_AddItemToObject(j, "metrics", r->metrics);
    r->metrics = NULL;

    bt_boot_cfg bc = { .kind = BT_BOOT_STATIONARY, .resamples = 1000, .seed = o->seed };
    cJSON *ci = cJSON_AddObjectToObject(j, "intervals");
    bt_ci cr = { 0 }, cs = { 0 }, ca = { 0 };
    double *hits = xcalloc(r->nhit + 1, sizeof *hits), *maj = xcalloc(r->nhit + 1, sizeof *maj);
    for (uint32_t i = 0; i < r->nhit; i++) {
        hits[i] = r->hit[i];
        maj[i] = r->hit_major[i];
    }
    bt_bh bh;
    bt_buy_hold(o, c, r, &bh);
    const bt_run *others[2] = { rules, rsi };
    const char *names[2] = { "rules", "rsi" };
    /* every interval in two batches (per-bar series, per-signal hits): each the same numbers as
     * its own bt_bootstrap_*_ci call, the blocks drawn once per batch */
    bt_ci d_ret = { 0 }, d_sharpe = { 0 }, d_other[2] = { { 0 } }, d_acc = { 0 };
    bt_boot_job bars_jobs[6] = {
        { .x = r->ret, .stat = BT_STAT_MEAN, .out = &cr },
        { .x = r->ret, .stat = BT_STAT_SHARPE, .out = &cs },
        { .x = r->ret, .y = bh.ret, .stat = BT_STAT_MEAN, .out = &d_ret },
        { .x = r->ret, .y = bh.ret, .stat = BT_STAT_SHARPE, .out = &d_sharpe },
    };
    size_t nbj = 4, other_job[2] = { SIZE_MAX, SIZE_MAX };
    for (int k = 0; k < 2; k++)
        if (others[k] && others[k]->bars == r->bars) {
            other_job[k] = nbj;
            bars_jobs[nbj++] = (bt_boot_job){ .x = r->ret, .y = others[k]->ret,
                                              .stat = BT_STAT_MEAN, .out = &d_other[k] };
        }
    bt_boot_job hit_jobs[2] = {
        { .x = hits, .stat = BT_STAT_ACCURACY, .out = &ca },
        { .x = hits, .y = maj, .stat = BT_STAT_ACCURACY, .out = &d_acc },
    };
    bool batch_ok = bt_bootstrap_many(bars_jobs, nbj, r->bars, &bc) == BT_STATS_OK;
    batch_ok &= bt_bootstrap_many(hit_jobs, 2, r->nhit, &bc) == BT_STATS_OK;
    bool okr = batch_ok && bars_jobs[0].rc == BT_STATS_OK;
    bool oks = batch_ok && bars_jobs[1].rc == BT_STATS_OK;
    bool oka = batch_ok && hit_jobs[0].rc == BT_STATS_OK;
    if (okr)
        cJSON_AddItemToObject(ci, "return", bt_ci_json(&cr, r->bars)); /* mean x bars */
    if (oks)
        cJSON_AddItemToObject(ci, "sharpe", bt_ci_json(&cs, ann));
    if (oka)
        cJSON_AddItemToObject(ci, "accuracy", bt_ci_json(&ca, 1));

    cJSON *bl = cJSON_AddObjectToObject(j, "baselines");
    cJSON *verdicts = cJSON_AddArrayToObject(j, "verdicts");
    cJSON *x = cJSON_AddObjectToObject(bl, "buy_and_hold");
    bt_add_num(x, "return", (double)bh.pnl / (double)r->start);
    bt_add_kdec(x, "pnl", bh.pnl);
    bt_add_kdec(x, "fees", bh.fees);
    bt_add_kdec(x, "qty", bh.qty);
    bt_add_kdec(x, "entry", bh.entry);
    bt_add_kdec(x, "exit", bh.exit);
    bool ok = batch_ok && bars_jobs[2].rc == BT_STATS_OK;
    bt_verdict(verdicts, "return", "buy_and_hold", &d_ret, ok);
    ok = batch_ok && bars_jobs[3].rc == BT_STATS_OK;
    bt_verdict(verdicts, "sharpe", "buy_and_hold", &d_sharpe, ok);
    free(bh.ret);
    for (int k = 0; k < 2; k++) {
        if (!others[k])
            continue;
        x = cJSON_AddObjectToObject(bl, names[k]);
        bt_add_num(x, "return", bt_return(others[k]));
        bt_add_kdec(x, "pnl", others[k]->net_pnl);
        cJSON_AddNumberToObject(x, "trades", others[k]->ntrades);
        ok = batch_ok && other_job[k] != SIZE_MAX && bars_jobs[other_job[k]].rc == BT_STATS_OK;
        bt_verdict(verdicts, "return", names[k], &d_other[k], ok);
    }
    x = cJSON_AddObjectToObject(bl, "always_hold");
    bt_add_num(x, "return", 0);
    double ma = 0;
    for (uint32_t i = 0; i < r->nhit; i++)
        ma += maj[i];
    bt_add_num(x, "accuracy", r->nhit ? ma / r->nhit : NAN);
    ok = batch_ok && hit_jobs[1].rc == BT_STATS_OK;
    bt_verdict(verdicts, "accuracy", "always_hold", &d_acc, ok);
    free(hits);
    free(maj);
    uint32_t ns = o->random_seeds;
    double *rr = xcalloc(ns, sizeof *rr);
    bt_random(o, c, r, rr, ns);
    x = cJSON_AddObjectToObject(bl, "random");
    double mean = bt_mean(rr, ns);
    bt_add_num(x, "return", mean);
    bt_add_num(x, "p2_5", rr[(uint32_t)(0.025 * (ns - 1))]);
    bt_add_num(x, "p97_5", rr[(uint32_t)(0.975 * (ns - 1))]);
    cJSON_AddNumberToObject(x, "seeds", ns);
    char txt[160];
    if (r->ntrades == 0)
        snprintf(txt, sizeof txt, "return: no trades, nothing to compare with random");
    else if (ret > rr[(uint32_t)(0.975 * (ns - 1))])
        snprintf(txt, sizeof txt, "return: edge over random (above its 97.5th percentile)");
    else
        snprintf(txt, sizeof txt, "return: no evidence of an edge over random");
    cJSON_AddItemToArray(verdicts, cJSON_CreateString(txt));
    free(rr);
    bt_curve_json(j, r);
    (void)b;
    return j;
}

static void bt_print_metrics(FILE *fp, const char *name, const cJSON *m)
{
    const char *keys[] = { "accuracy", "f1", "brier", "log_loss", "ece", "weight" };
    fprintf(fp, "  %-14s n %.0f", name, cJSON_GetNumberValue(cJSON_GetObjectItem(m, "n")));
    for (size_t i = 0; i < K_ARRAY_LEN(keys); i++) {
        const cJSON *v = cJSON_GetObjectItem(m, keys[i]);
        if (cJSON_IsNumber(v))
            fprintf(fp, " %s %.4f", keys[i], v->valuedouble);
        else if (v)
            fprintf(fp, " %s -", keys[i]);
    }
    fputc('\n', fp);
}

/* ---- terminal plots (btplot.h: the same code draws them on the Backtests screen) ---- */

static void bt_plot_line(void *ud, int indent, const char *text)
{
    fprintf(ud, "%*s%s\n", indent, "", text);
}

static void bt_print_text(FILE *fp, const cJSON *j)
{
    const char *keys[] = { "bars", "net_pnl", "fees", "return", "sharpe", "sortino",
                           "max_drawdown", "win_rate", "profit_factor", "expectancy", "exposure",
                           "trade_count", "signals", NULL };
    fprintf(fp, "backtest %s %s (%s), seed %.0f\n",
            cJSON_GetStringValue(cJSON_GetObjectItem(j, "symbol")),
            cJSON_GetStringValue(cJSON_GetObjectItem(j, "venue")),
            cJSON_GetStringValue(cJSON_GetObjectItem(j, "strategy")),
            cJSON_GetNumberValue(cJSON_GetObjectItem(j, "seed")));
    for (int i = 0; keys[i]; i++) {
        const cJSON *v = cJSON_GetObjectItem(j, keys[i]);
        if (cJSON_IsString(v))
            fprintf(fp, "  %-14s %s\n", keys[i], v->valuestring);
        else if (cJSON_IsNumber(v))
            fprintf(fp, "  %-14s %.6g\n", keys[i], v->valuedouble);
        else
            fprintf(fp, "  %-14s -\n", keys[i]);
    }
    const cJSON *ci = cJSON_GetObjectItem(j, "intervals");
    const cJSON *it;
    cJSON_ArrayForEach(it, ci)
    {
        fprintf(fp, "  95%% CI %-8s %.6g [%.6g, %.6g]\n", it->string,
                cJSON_GetNumberValue(cJSON_GetObjectItem(it, "estimate")),
                cJSON_GetNumberValue(cJSON_GetObjectItem(it, "lo")),
                cJSON_GetNumberValue(cJSON_GetObjectItem(it, "hi")));
    }
    const cJSON *mt = cJSON_GetObjectItem(j, "metrics");
    const cJSON *m = cJSON_GetObjectItem(mt, "ensemble");
    if (m)
        bt_print_metrics(fp, "ensemble", m);
    cJSON_ArrayForEach(it, cJSON_GetObjectItem(mt, "models"))
        bt_print_metrics(fp, it->string, it);
    cJSON_ArrayForEach(it, cJSON_GetObjectItem(j, "baselines"))
        fprintf(fp, "  baseline %-12s return %.6g\n", it->string,
                cJSON_GetNumberValue(cJSON_GetObjectItem(it, "return")));
    cJSON_ArrayForEach(it, cJSON_GetObjectItem(j, "verdicts"))
        fprintf(fp, "  verdict: %s\n", it->valuestring);
    if (cJSON_GetObjectItem(j, "equity_curve")) {
        btplot_equity(cJSON_GetObjectItem(j, "equity_curve"), 14, 60, 10, bt_plot_line, fp);
        if (m)
            btplot_reliability(cJSON_GetObjectItem(m, "reliability"), 20, bt_plot_line, fp);
        btplot_monthly(cJSON_GetObjectItem(j, "monthly_returns"), 30, bt_plot_line, fp);
        btplot_trades(cJSON_GetObjectItem(j, "trades"), 40, bt_plot_line, fp);
    }
    const cJSON *sw = cJSON_GetObjectItem(j, "sweep");
    if (sw)
        fprintf(fp, "  sweep: %.0f configurations, winner #%.0f, DSR %.4f, PBO %.4f\n",
                cJSON_GetNumberValue(cJSON_GetObjectItem(sw, "configurations")),
                cJSON_GetNumberValue(cJSON_GetObjectItem(sw, "winner")),
                cJSON_GetNumberValue(cJSON_GetObjectItem(sw, "dsr")),
                cJSON_GetNumberValue(cJSON_GetObjectItem(sw, "pbo")));
}

static int bt_write_json(const char *path, const cJSON *j)
{
    char *s = cJSON_Print(j);
    FILE *fp = fopen(path, "w");
    if (!fp) {
        fprintf(stderr, "kestrel backtest: cannot write %s: %s\n", path, strerror(errno));
        free(s);
        return K_ERR;
    }
    fputs(s, fp);
    fputc('\n', fp);
    free(s);
    return fclose(fp) == 0 ? K_OK : K_ERR;
}

/* ---- sweeps ------------------------------------------------------------------------ */

typedef struct bt_cfg_result {
    int index;
    char params[256];
    double ret;     /* net return */
    double *rets;   /* per bar */
    uint32_t bars;
    char *report;   /* the configuration's own run report (JSON text), or NULL (an old shard) */
} bt_cfg_result;

/* A configuration's report as a run's (summary, trades, metrics, plots' data, verdicts against
 * buy-and-hold, always-HOLD and random entries; the rules / RSI baselines are the sweep's to
 * run, not each configuration's), with its grid index and params. Bounded: above
 * BT_CFG_REPORT_MAX the trades go (trades_omitted), then the equity curve; NULL when it still
 * does not fit. */
#define BT_CFG_REPORT_MAX (256u << 10)
static cJSON *bt_report(const bt_opts *o, const runner_config *c, bt_run *r, const bt_run *rules,
                        const bt_run *rsi);
static char *bt_cfg_report(const bt_opts *o, const runner_config *c, bt_run *r, int index,
                           const char *params)
{
    cJSON *j = bt_report(o, c, r, NULL, NULL);
    cJSON_AddNumberToObject(j, "index", index);
    cJSON_AddStringToObject(j, "params", params);
    char *t = cJSON_PrintUnformatted(j);
    static const char *const heavy[] = { "trades", "equity_curve" };
    for (size_t k = 0; k < K_ARRAY_LEN(heavy) && t && strlen(t) > BT_CFG_REPORT_MAX; k++) {
        cJSON_free(t);
        cJSON_DeleteItemFromObjectCaseSensitive(j, heavy[k]);
        char key[32];
        snprintf(key, sizeof key, "%s_omitted", heavy[k]);
        cJSON_AddTrueToObject(j, key);
        t = cJSON_PrintUnformatted(j);
    }
    cJSON_Delete(j);
    if (t && strlen(t) > BT_CFG_REPORT_MAX) {
        cJSON_free(t);
        t = NULL;
    }
    return t;
}

static int bt_grid_size(const bt_opts *o)
{
    int n = 1;
    for (int a = 0; a < o->naxes; a++)
        n *= o->axes[a].n;
    return n;
}

static int bt_grid_config(const bt_opts *o, int idx, runner_config *c, char *params, size_t cap,
                          char *err, size_t errlen)
{
    *c = o->rc;
    params[0] = '\0';
    size_t used = 0;
    for (int a = 0; a < o->naxes; a++) {
        int v = idx % o->axes[a].n;
        idx /= o->axes[a].n;
        if (bt_set(NULL, c, o->axes[a].key, o->axes[a].val[v], err, errlen) != K_OK)
            return K_ERR;
        used += (size_t)snprintf(params + used, used < cap ? cap - used : 0, "%s%s=%s",
                                 a ? " " : "", o->axes[a].key, o->axes[a].val[v]);
    }
    return K_OK;
}

/* runs the configurations idx % n == k - 1 (shard), two workers (fork) writing through pipes */
static int bt_sweep_run(const bt_opts *o, int k, int n, bt_cfg_result **out, int *nout)
{
    int total = bt_grid_size(o);
    int mine[BT_MAX_CONFIGS], nm = 0;
    for (int i = 0; i < total && nm < BT_MAX_CONFIGS; i++)
        if (i % n == k - 1)
            mine[nm++] = i;
    bt_cfg_result *res = xcalloc(nm ? (size_t)nm : 1, sizeof *res);
    enum { W = 2 };
    int fds[W][2];
    pid_t pids[W];
    for (int w = 0; w < W; w++) {
        if (pipe(fds[w]) != 0)
            return K_ERR;
        fflush(NULL);
        pids[w] = fork();
        if (pids[w] < 0)
            return K_ERR;
        if (pids[w] == 0) {
            close(fds[w][0]);
            FILE *fp = fdopen(fds[w][1], "w");
            for (int i = w; i < nm; i += W) {
                runner_config c;
                char params[256], err[200];
                int32_t status = 0;
                bt_run r;
                memset(&r, 0, sizeof r);
                if (bt_grid_config(o, mine[i], &c, params, sizeof params, err, sizeof err) ||
                    bt_run_once(o, &c, INT64_MIN, INT64_MAX, 0, false, &r))
                    status = 1;
                double ret = bt_return(&r);
                char *rep = status ? NULL : bt_cfg_report(o, &c, &r, mine[i], params);
                uint32_t rlen = rep ? (uint32_t)strlen(rep) : 0;
                fwrite(&status, sizeof status, 1, fp);
                fwrite(&ret, sizeof ret, 1, fp);
                fwrite(&r.bars, sizeof r.bars, 1, fp);
                fwrite(r.ret, sizeof *r.ret, r.bars, fp);
                fwrite(&rlen, sizeof rlen, 1, fp);
                fwrite(rep ? rep : "", 1, rlen, fp);
                cJSON_free(rep);
                bt_run_free(&r);
            }
            fclose(fp);
            _exit(0);
        }
        close(fds[w][1]);
    }
    int rc = K_OK;
    for (int w = 0; w < W; w++) {
        FILE *fp = fdopen(fds[w][0], "r");
        for (int i = w; i < nm; i += W) {
            bt_cfg_result *x = &res[i];
            int32_t status;
            runner_config c;
            char err[200];
            x->index = mine[i];
            (void)bt_grid_config(o, mine[i], &c, x->params, sizeof x->params, err, sizeof err);
            if (fread(&status, sizeof status, 1, fp) != 1 || status ||
                fread(&x->ret, sizeof x->ret, 1, fp) != 1 ||
                fread(&x->bars, sizeof x->bars, 1, fp) != 1) {
                rc = K_ERR;
                break;
            }
            x->rets = xcalloc(x->bars ? x->bars : 1, sizeof *x->rets);
            uint32_t rlen = 0;
            if (fread(x->rets, sizeof *x->rets, x->bars, fp) != x->bars ||
                fread(&rlen, sizeof rlen, 1, fp) != 1 || rlen > BT_CFG_REPORT_MAX) {
                rc = K_ERR;
                break;
            }
            if (rlen) {
                x->report = xmalloc((size_t)rlen + 1);
                if (fread(x->report, 1, rlen, fp) != rlen) {
                    rc = K_ERR;
                    break;
                }
                x->report[rlen] = '\0';
            }
        }
        fclose(fp);
        int st;
        waitpid(pids[w], &st, 0);
    }
    *out = res;
    *nout = nm;
    return rc;
}

/* the sweep's statistics from its configurations (a single run and a merge of shards both come
 * here, so they agree exactly) */
static cJSON *bt_sweep_summary(bt_cfg_result *res, int n, uint32_t total)
{
    cJSON *s = cJSON_CreateObject();
    cJSON_AddNumberToObject(s, "configurations", n);
    cJSON_AddNumberToObject(s, "grid", total);
    if (n == 0)
        return s;
    /* rank: net return, ties by index */
    int *ord = xcalloc((size_t)n, sizeof *ord);
    for (int i = 0; i < n; i++)
        ord[i] = i;
    for (int i = 1; i < n; i++) {
        int v = ord[i], j = i;
        while (j > 0 && (res[ord[j - 1]].ret < res[v].ret ||
                         (res[ord[j - 1]].ret == res[v].ret &&
                          res[ord[j - 1]].index > res[v].index))) {
            ord[j] = ord[j - 1];
            j--;
        }
        ord[j] = v;
    }
    cJSON *rk = cJSON_AddArrayToObject(s, "ranking");
    double *srs = xcalloc((size_t)n, sizeof *srs);
    for (int i = 0; i < n; i++) {
        bt_cfg_result *x = &res[ord[i]];
        cJSON *e = cJSON_CreateObject();
        cJSON_AddNumberToObject(e, "index", x->index);
        cJSON_AddStringToObject(e, "params", x->params);
        bt_add_num(e, "return", x->ret);
        double sr = bt_sharpe(x->rets, x->bars);
        bt_add_num(e, "sharpe", sr);
        srs[i] = isfinite(sr) ? sr : 0;
        cJSON_AddItemToArray(rk, e);
    }
    bt_cfg_result *win = &res[ord[0]];
    cJSON_AddNumberToObject(s, "winner", win->index);
    double var = n > 1 ? bt_stddev(srs, (size_t)n) : 0;
    var *= var;
    bt_dsr dsr;
    if (bt_deflated_sharpe_returns(win->rets, win->bars, var, (uint32_t)n, &dsr) == BT_STATS_OK)
        bt_add_num(s, "dsr", dsr.dsr);
    else
        cJSON_AddNullToObject(s, "dsr");
    /* PBO on the common bars, configurations by index */
    uint32_t t = UINT32_MAX;
    for (int i = 0; i < n; i++)
        t = K_MIN(t, res[i].bars);
    bt_pbo pbo;
    double *m = xcalloc((size_t)t * (size_t)n + 1, sizeof *m);
    for (uint32_t r = 0; r < t; r++)
        for (int i = 0; i < n; i++)
            m[(size_t)r * (size_t)n + (size_t)i] = res[i].rets[r];
    if (n >= 2 && bt_pbo_cscv(m, t, (size_t)n, 16, &pbo) == BT_STATS_OK) {
        bt_add_num(s, "pbo", pbo.pbo);
        bt_add_num(s, "pbo_logit_median", pbo.logit_median);
        cJSON_AddNumberToObject(s, "pbo_splits", (double)pbo.splits);
    } else {
        cJSON_AddNullToObject(s, "pbo");
    }
    free(m);
    free(srs);
    free(ord);
    return s;
}

static int bt_cfg_cmp(const void *a, const void *b)
{
    return ((const bt_cfg_result *)a)->index - ((const bt_cfg_result *)b)->index;
}

static cJSON *bt_sweep_results_json(const bt_cfg_result *res, int n)
{
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; i < n; i++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddNumberToObject(e, "index", res[i].index);
        cJSON_AddStringToObject(e, "params", res[i].params);
        /* %.17g raw: cJSON's own number printing may drop the last bits, and a merge must see
         * exactly the doubles the single run used */
        char nb[40];
        snprintf(nb, sizeof nb, "%.17g", isfinite(res[i].ret) ? res[i].ret : 0.0);
        cJSON_AddRawToObject(e, "return", nb);
        cJSON *r = cJSON_AddArrayToObject(e, "returns");
        for (uint32_t k = 0; k < res[i].bars; k++) {
            snprintf(nb, sizeof nb, "%.17g", isfinite(res[i].rets[k]) ? res[i].rets[k] : 0.0);
            cJSON_AddItemToArray(r, cJSON_CreateRaw(nb));
        }
        if (res[i].report) /* as the worker printed it: a merge carries the same bytes */
            cJSON_AddRawToObject(e, "report", res[i].report);
        cJSON_AddItemToArray(a, e);
    }
    return a;
}

static void bt_sweep_free(bt_cfg_result *res, int n)
{
    for (int i = 0; i < n; i++) {
        free(res[i].rets);
        free(res[i].report);
    }
    free(res);
}

static char *bt_slurp(const char *path)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return NULL;
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    char *b = xmalloc((size_t)n + 1);
    size_t got = fread(b, 1, (size_t)n, fp);
    b[got] = '\0';
    fclose(fp);
    return b;
}

/* kestrel backtest merge OUT.json IN.json... */
static int bt_store(const char *db, const char *kind, const cJSON *rep, const char *args,
                    const char *const *files, int nfiles, uint64_t seed, const char *config);
static char *bt_args_text(int argc, char **argv);
static bool bt_db_dir_ok(const char *path);

static int bt_merge(int argc_all, char **argv_all)
{
    /* --db PATH / --no-store anywhere; the rest: merge OUT.json IN.json... */
    char **argv = xcalloc((size_t)argc_all + 1, sizeof *argv);
    int argc = 0;
    const char *db_arg = NULL;
    bool no_store = false;
    for (int i = 0; i < argc_all; i++) {
        if (!strcmp(argv_all[i], "--db") && i + 1 < argc_all)
            db_arg = argv_all[++i];
        else if (!strcmp(argv_all[i], "--no-store"))
            no_store = true;
        else
            argv[argc++] = argv_all[i];
    }
    if (argc < 3) {
        fprintf(stderr, "usage: kestrel backtest merge OUT.json IN.json... [--db PATH | "
                        "--no-store]\n");
        free(argv);
        return 2;
    }
    bt_cfg_result *res = xcalloc(BT_MAX_CONFIGS, sizeof *res);
    int n = 0;
    uint32_t grid = 0;
    cJSON *seed = NULL;
    for (int i = 2; i < argc; i++) {
        char *s = bt_slurp(argv[i]);
        cJSON *j = s ? cJSON_Parse(s) : NULL;
        free(s);
        const cJSON *arr = cJSON_GetObjectItem(j, "sweep_results");
        if (!cJSON_IsArray(arr)) {
            fprintf(stderr, "kestrel backtest merge: %s has no sweep_results\n", argv[i]);
            cJSON_Delete(j);
            bt_sweep_free(res, n);
            free(argv);
            return 1;
        }
        grid = (uint32_t)cJSON_GetNumberValue(
            cJSON_GetObjectItem(cJSON_GetObjectItem(j, "sweep"), "grid"));
        if (!seed)
            seed = cJSON_Duplicate(cJSON_GetObjectItem(j, "seed"), 1);
        const cJSON *e;
        cJSON_ArrayForEach(e, arr)
        {
            if (n >= BT_MAX_CONFIGS)
                break;
            bt_cfg_result *x = &res[n++];
            x->index = (int)cJSON_GetNumberValue(cJSON_GetObjectItem(e, "index"));
            snprintf(x->params, sizeof x->params, "%s",
                     cJSON_GetStringValue(cJSON_GetObjectItem(e, "params")));
            x->ret = cJSON_GetNumberValue(cJSON_GetObjectItem(e, "return"));
            const cJSON *r = cJSON_GetObjectItem(e, "returns");
            x->bars = (uint32_t)cJSON_GetArraySize(r);
            x->rets = xcalloc(x->bars ? x->bars : 1, sizeof *x->rets);
            uint32_t k = 0;
            const cJSON *v;
            cJSON_ArrayForEach(v, r)
                x->rets[k++] = v->valuedouble;
            const cJSON *cr = cJSON_GetObjectItem(e, "report");
            if (cJSON_IsObject(cr)) {
                x->report = cJSON_PrintUnformatted(cr);
                if (x->report && strlen(x->report) > BT_CFG_REPORT_MAX) {
                    cJSON_free(x->report);
                    x->report = NULL;
                }
            }
        }
        cJSON_Delete(j);
    }
    qsort(res, (size_t)n, sizeof *res, bt_cfg_cmp);
    cJSON *out = cJSON_CreateObject();
    cJSON_AddItemToObject(out, "seed", seed ? seed : cJSON_CreateNull());
    cJSON_AddItemToObject(out, "sweep", bt_sweep_summary(res, n, grid));
    cJSON_AddItemToObject(out, "sweep_results", bt_sweep_results_json(res, n));
    int rc = bt_write_json(argv[1], out) == K_OK ? 0 : 1;
    if (!no_store) {
        char db[CONFIG_PATH_MAX];
        if (db_arg)
            snprintf(db, sizeof db, "%s", db_arg);
        else
            config_default_db_path(db, sizeof db);
        char *args = bt_args_text(argc_all, argv_all);
        if (db_arg && !bt_db_dir_ok(db_arg))
            rc = 2; /* the merged report is written; the directory is not made up */
        else if (bt_store(db, "merge", out, args, (const char *const *)argv + 2, argc - 2,
                          cJSON_IsNumber(seed) ? (uint64_t)seed->valuedouble : 0, "{}") != K_OK)
            rc = 1;
        free(args);
    }
    cJSON_Delete(out);
    bt_sweep_free(res, n);
    free(argv);
    return rc;
}

/* ---- walk-forward ------------------------------------------------------------------ */

/* Rolling windows of train + test bars, stepping by test: each fold is a fresh runner that
 * learns (prequentially, trading off) over its train bars and trades its test bars; only test
 * bars are recorded. The folds' test runs are concatenated into one run. */
static int bt_walk_forward(const bt_opts *o, bt_run *all)
{
    bt_run probe;
    runner_config c = o->rc;
    c.models = 0;
    c.auto_trade = false;
    if (bt_run_once(o, &c, INT64_MIN, INT64_MAX, 0, false, &probe) != K_OK || probe.bars < 2) {
        snprintf(all->err, sizeof all->err, "walk-forward: no bars");
        bt_run_free(&probe);
        return K_ERR;
    }
    memset(all, 0, sizeof *all);
    all->start = o->rc.start_cash;
    all->venue = probe.venue;
    cJSON *folds = cJSON_CreateArray();
    double eqf = 1;
    uint32_t nfold = 0;
    for (uint32_t s = 0; s + o->wf_train < probe.bars; s += o->wf_test) {
        uint32_t te = K_MIN(s + o->wf_train + o->wf_test, probe.bars);
        int64_t lo = probe.t[s + o->wf_train - 1]; /* test bars end after it */
        int64_t hi = probe.t[te - 1];
        bt_opts fo = *o;
        fo.from_ms = probe.t[s] - tf_ms(bt_exec_tf(o));
        fo.to_ms = hi;
        runner_config fc = o->rc;
        fc.auto_trade = true;
        bt_run r;
        if (bt_run_once(&fo, &fc, lo, hi, lo, false, &r) != K_OK) {
            snprintf(all->err, sizeof all->err, "%s", r.err);
            bt_run_free(&r);
            break;
        }
        for (uint32_t i = 0; i < r.bars; i++) {
            bt_run_push(all, r.ret[i], r.close[i], r.t[i], r.inpos[i]);
            eqf *= 1 + r.ret[i];
        }
        all->trades = xrealloc(all->trades, (all->ntrades + r.ntrades + 1) * sizeof *all->trades);
        memcpy(all->trades + all->ntrades, r.trades, r.ntrades * sizeof *r.trades);
        all->ntrades += r.ntrades;
        all->fees += r.fees;
        all->net_pnl += r.net_pnl;
        all->funding += r.funding;
        all->rst.fundings += r.rst.fundings;
        all->rst.trains += r.rst.trains;
        all->hit = xrealloc(all->hit, all->nhit + r.nhit + 1);
        all->hit_major = xrealloc(all->hit_major, all->nhit + r.nhit + 1);
        memcpy(all->hit + all->nhit, r.hit, r.nhit);
        memcpy(all->hit_major + all->nhit, r.hit_major, r.nhit);
        all->nhit += r.nhit;
        all->rst.signals += r.rst.signals;
        all->rst.signals_unchanged += r.rst.signals_unchanged;
        all->rst.orders += r.rst.orders;
        all->rst.refused += r.rst.refused;
        all->rst.stops += r.rst.stops;
        all->rst.tps += r.rst.tps;
        all->rst.fills += r.rst.fills;
        all->digest ^= r.digest + 0x9E3779B97F4A7C15ULL * nfold;
        cJSON *f = cJSON_CreateObject();
        cJSON_AddNumberToObject(f, "train_from", (double)probe.t[s]);
        cJSON_AddNumberToObject(f, "test_from", (double)(lo + 1));
        cJSON_AddNumberToObject(f, "test_to", (double)hi);
        cJSON_AddNumberToObject(f, "bars", r.bars);
        bt_add_kdec(f, "net_pnl", r.net_pnl);
        cJSON_AddItemToObject(f, "metrics", r.metrics);
        r.metrics = NULL;
        cJSON_AddItemToArray(folds, f);
        nfold++;
        bt_run_free(&r);
        if (te == probe.bars)
            break;
    }
    bt_run_free(&probe);
    all->equity = all->start + all->net_pnl;
    all->pst.trades = all->ntrades;
    uint32_t wins = 0;
    for (uint32_t i = 0; i < all->ntrades; i++)
        wins += all->trades[i].pnl > 0;
    all->pst.win_rate = all->ntrades ? (double)wins / all->ntrades : 0;
    kdec gw = 0, gl = 0, tot = 0;
    for (uint32_t i = 0; i < all->ntrades; i++) {
        kdec p = all->trades[i].pnl;
        tot += p;
        if (p > 0)
            gw += p;
        else
            gl -= p;
    }
    all->pst.profit_factor = gl > 0 ? (double)gw / (double)gl : 0;
    all->pst.expectancy = all->ntrades ? tot / (kdec)all->ntrades : 0;
    double *eq = xcalloc(all->bars + 1, sizeof *eq);
    eq[0] = 1;
    for (uint32_t i = 0; i < all->bars; i++)
        eq[i + 1] = eq[i] * (1 + all->ret[i]);
    all->maxdd = bt_max_drawdown(eq, all->bars + 1);
    free(eq);
    /* the ensemble over the test bars of every fold (hits only: a fold's engine is fresh); each
     * fold's own metrics object is under folds[] */
    all->metrics = cJSON_CreateObject();
    cJSON *ens = cJSON_AddObjectToObject(all->metrics, "ensemble");
    double acc = 0;
    for (uint32_t i = 0; i < all->nhit; i++)
        acc += all->hit[i];
    cJSON_AddNumberToObject(ens, "n", all->nhit);
    bt_add_num(ens, "accuracy", all->nhit ? acc / all->nhit : NAN);
    cJSON_AddObjectToObject(all->metrics, "models");
    cJSON_AddItemToObject(all->metrics, "folds", folds);
    (void)eqf;
    return nfold ? K_OK : K_ERR;
}

void backtest_config_default(runner_config *c)
{
    runner_config_default(c);
    c->auto_trade = true;
    c->paper.latency_ms = 0;
    c->paper.report_latency_ms = 0;
    c->engine.history_max = 1u << 18;
    c->engine.conf_interval = false; /* display only: the report never shows it */
}

/* ---- the command ------------------------------------------------------------------- */

/* ---- stored results (btstore.h) ----------------------------------------------------- */

/* what ran, as JSON: the options that are not the data files, the seed or the report */
static char *bt_config_json(const bt_opts *o)
{
    cJSON *c = cJSON_CreateObject();
    cJSON_AddStringToObject(c, "symbol", o->symbol);
    cJSON_AddStringToObject(c, "venue", venue_name(o->venue));
    cJSON_AddStringToObject(c, "timeframe", o->tf);
    cJSON_AddStringToObject(c, "strategy", runner_strategy_name(o->rc.strategy));
    cJSON_AddItemToObject(c, "from", o->from_ms ? cJSON_CreateNumber((double)o->from_ms)
                                                : cJSON_CreateNull());
    cJSON_AddItemToObject(c, "to", o->to_ms ? cJSON_CreateNumber((double)o->to_ms)
                                            : cJSON_CreateNull());
    cJSON_AddItemToObject(c, "config_file", o->config_file ? cJSON_CreateString(o->config_file)
                                                           : cJSON_CreateNull());
    cJSON *sets = cJSON_AddArrayToObject(c, "set");
    for (int i = 0; i < o->nsets; i++)
        cJSON_AddItemToArray(sets, cJSON_CreateString(o->sets[i]));
    if (o->wf_train) {
        cJSON_AddNumberToObject(c, "walk_forward_train", o->wf_train);
        cJSON_AddNumberToObject(c, "walk_forward_test", o->wf_test);
    }
    cJSON *sw = cJSON_AddArrayToObject(c, "sweep");
    for (int a = 0; a < o->naxes; a++) {
        cJSON *ax = cJSON_CreateObject();
        cJSON_AddStringToObject(ax, "key", o->axes[a].key);
        cJSON *v = cJSON_AddArrayToObject(ax, "values");
        for (int k = 0; k < o->axes[a].n; k++)
            cJSON_AddItemToArray(v, cJSON_CreateString(o->axes[a].val[k]));
        cJSON_AddItemToArray(sw, ax);
    }
    char sh[32];
    snprintf(sh, sizeof sh, "%d/%d", o->shard_k, o->shard_n);
    cJSON_AddStringToObject(c, "shard", sh);
    cJSON_AddNumberToObject(c, "random_seeds", o->random_seeds);
    char *txt = cJSON_PrintUnformatted(c);
    cJSON_Delete(c);
    return txt;
}

/* --db DIR/FILE with a DIR that does not exist is said, not created (as the app's --db); the
 * default database's directory is created */
static bool bt_db_dir_ok(const char *path)
{
    char dir[CONFIG_PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash)
        return true;
    slash[slash == dir ? 1 : 0] = '\0';
    struct stat st;
    if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
        return true;
    fprintf(stderr,
            "kestrel backtest: --db %s: the directory %s does not exist (create it first)\n",
            path, dir);
    return false;
}

static char *bt_args_text(int argc, char **argv)
{
    size_t cap = 32, used = 0;
    for (int i = 0; i < argc; i++)
        cap += strlen(argv[i]) + 1;
    char *s = xmalloc(cap);
    /* argv[0] is "backtest", or "merge" for kestrel backtest merge */
    used = (size_t)snprintf(s, cap, "kestrel%s",
                            argc && strcmp(argv[0], "merge") ? "" : " backtest");
    for (int i = 0; i < argc; i++)
        used += (size_t)snprintf(s + used, cap - used, " %s", argv[i]);
    return s;
}

/* One transaction after the report is out (the run never waits for the disk): the report, or a
 * sweep / merge report with one row per configuration of its ranking. On a terminal, the row's
 * id on stderr (never on stdout: the report's bytes do not depend on the database). K_OK, or
 * K_ERR with the reason on stderr. */
static int bt_store(const char *db, const char *kind, const cJSON *rep, const char *args,
                    const char *const *files, int nfiles, uint64_t seed, const char *config)
{
    const cJSON *rk = cJSON_GetObjectItem(cJSON_GetObjectItem(rep, "sweep"), "ranking");
    const cJSON *results = cJSON_GetObjectItem(rep, "sweep_results");
    int nk = cJSON_GetArraySize(rk);
    btstore_entry *e = xcalloc((size_t)nk + 1, sizeof *e);
    cJSON **own = xcalloc((size_t)nk + 1, sizeof *own);
    e[0] = (btstore_entry){.kind = kind, .parent = -1, .report = rep};
    for (int i = 0; i < nk; i++) { /* in ranking order: its own run report, else the ranking's */
        const cJSON *ri = cJSON_GetArrayItem(rk, i), *x;
        double idx = cJSON_GetNumberValue(cJSON_GetObjectItem(ri, "index"));
        cJSON_ArrayForEach(x, results)
        {
            const cJSON *t = cJSON_GetObjectItem(x, "report");
            if (cJSON_GetNumberValue(cJSON_GetObjectItem(x, "index")) != idx || !t)
                continue;
            own[i] = cJSON_IsRaw(t) ? cJSON_Parse(t->valuestring) : cJSON_Duplicate(t, 1);
            break;
        }
        e[i + 1] = (btstore_entry){.kind = "sweep_config", .parent = 0,
                                   .report = own[i] ? own[i] : ri};
    }
    btstore_meta m = {.args = args, .files = files, .nfiles = nfiles, .seed = seed,
                      .config = config};
    char err[512];
    int64_t id = 0;
    enum store_result r = btstore_save(db, &m, e, nk + 1, &id, err, sizeof err);
    for (int i = 0; i < nk; i++)
        cJSON_Delete(own[i]);
    free(own);
    free(e);
    if (r != STORE_OK) {
        fprintf(stderr, "kestrel backtest: the result was not stored: %s\n", err);
        return K_ERR;
    }
    if (isatty(2))
        fprintf(stderr, "stored as backtest #%lld in %s\n", (long long)id, db);
    return K_OK;
}

/* A kline file named VENUE_SYMBOL_... (the layout of ../shared/data/klines/long and of
 * `kestrel download --out`) names its venue and symbol: taken unless --venue / --symbol say
 * otherwise, so a spot file is charged spot fees and labelled with its own symbol. Files that
 * name different ones need the flags. */
static int bt_name_parts(const char *path, enum venue *v, char *sym, size_t symlen)
{
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    const char *u1 = strchr(b, '_');
    if (!u1 || u1 - b >= 32)
        return K_ERR;
    char vn[32];
    snprintf(vn, sizeof vn, "%.*s", (int)(u1 - b), b);
    const char *u2 = strchr(u1 + 1, '_');
    if (venue_parse(vn, v) != K_OK || !u2 || u2 == u1 + 1 || (size_t)(u2 - u1 - 1) >= symlen)
        return K_ERR;
    for (const char *c = u1 + 1; c < u2; c++)
        if (!((*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '-'))
            return K_ERR;
    snprintf(sym, symlen, "%.*s", (int)(u2 - u1 - 1), u1 + 1);
    return K_OK;
}

static int bt_infer_names(bt_opts *o, bool venue_set, bool symbol_set, char *err, size_t errlen)
{
    bool have = false;
    enum venue v0 = VENUE_BINANCE_USDM;
    char s0[sizeof o->symbol] = "";
    for (int i = 0; i < o->ndata; i++) {
        enum venue v;
        char s[sizeof o->symbol];
        if (bt_name_parts(o->data[i], &v, s, sizeof s) != K_OK)
            continue;
        if (!have) {
            v0 = v;
            snprintf(s0, sizeof s0, "%s", s);
            have = true;
        } else if ((v != v0 && !venue_set) || (strcmp(s, s0) && !symbol_set)) {
            snprintf(err, errlen, "the --data files name different markets (%s:%s and %s:%s): "
                     "give --venue and --symbol", venue_name(v0), s0, venue_name(v), s);
            return K_ERR;
        }
    }
    if (have && !venue_set)
        o->venue = v0;
    if (have && !symbol_set)
        snprintf(o->symbol, sizeof o->symbol, "%s", s0);
    return K_OK;
}

static void bt_usage(FILE *f)
{
    fputs("usage: kestrel backtest --data FILE[,FILE...] [--symbol S] [--timeframe TF]\n"
          "         [--from T] [--to T] [--config F] [--set KEY=VALUE] [--json OUT]\n"
          "         [--walk-forward TRAIN:TEST] [--seed N] [--sweep KEY=a,b,c ...]\n"
          "         [--shard K/N] [--venue V] [--strategy engine|rules|rsi|always_buy]\n"
          "         [--no-baselines] [--funding FILE] [--db PATH | --no-store]\n"
          "       kestrel backtest merge OUT.json IN.json... [--db PATH | --no-store]\n",
          f);
}

int backtest_main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "merge"))
        return bt_merge(argc - 1, argv + 1);
    bt_opts *o = xcalloc(1, sizeof *o);
    backtest_config_default(&o->rc);
    o->venue = VENUE_BINANCE_USDM;
    snprintf(o->symbol, sizeof o->symbol, "BTCUSDT");
    o->seed = 1;
    o->random_seeds = 200;
    o->shard_k = o->shard_n = 1;
    char *datalist = NULL;
    int rc = 2;
    char err[256];
    const char *sets[32];
    int nsets = 0;
    const char *config = NULL;
    bool strategy_set = false, no_baselines = false, venue_set = false, symbol_set = false;
    const char *db_arg = NULL;
    enum runner_strategy strat = RUNNER_ENGINE;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define BT_NEED()                                                                          \
    do {                                                                                   \
        if (!v) {                                                                          \
            fprintf(stderr, "kestrel backtest: %s needs a value\n", a);                   \
            goto out;                                                                      \
        }                                                                                  \
        i++;                                                                               \
    } while (0)
        if (!strcmp(a, "--help")) {
            bt_usage(stdout);
            rc = 0;
            goto out;
        } else if (!strcmp(a, "--data")) {
            BT_NEED();
            free(datalist);
            datalist = xstrdup(v);
        } else if (!strcmp(a, "--symbol")) {
            BT_NEED();
            snprintf(o->symbol, sizeof o->symbol, "%s", v);
            symbol_set = true;
        } else if (!strcmp(a, "--timeframe")) {
            BT_NEED();
            enum tf tf;
            if (tf_parse(v, &tf) != K_OK) {
                fprintf(stderr, "kestrel backtest: unknown timeframe %s\n", v);
                goto out;
            }
            snprintf(o->tf, sizeof o->tf, "%s", v);
        } else if (!strcmp(a, "--from") || !strcmp(a, "--to")) {
            BT_NEED();
            int64_t t = bt_parse_time(v);
            if (t < 0) {
                fprintf(stderr, "kestrel backtest: bad time %s (ms or YYYY-MM-DD[THH:MM])\n", v);
                goto out;
            }
            *(!strcmp(a, "--from") ? &o->from_ms : &o->to_ms) = t;
        } else if (!strcmp(a, "--config")) {
            BT_NEED();
            config = v;
        } else if (!strcmp(a, "--set")) {
            BT_NEED();
            if (nsets < 32)
                sets[nsets++] = v;
        } else if (!strcmp(a, "--json")) {
            BT_NEED();
            o->json_out = v;
        } else if (!strcmp(a, "--walk-forward")) {
            BT_NEED();
            unsigned tr, te;
            char tail;
            if (sscanf(v, "%u:%u%c", &tr, &te, &tail) != 2 || tr < 10 || te < 1) {
                fprintf(stderr, "kestrel backtest: --walk-forward TRAIN:TEST (bars)\n");
                goto out;
            }
            o->wf_train = tr;
            o->wf_test = te;
        } else if (!strcmp(a, "--seed")) {
            BT_NEED();
            char *end;
            o->seed = strtoull(v, &end, 10);
            if (*end) {
                fprintf(stderr, "kestrel backtest: bad seed %s\n", v);
                goto out;
            }
        } else if (!strcmp(a, "--sweep")) {
            BT_NEED();
            const char *eq = strchr(v, '=');
            if (!eq || o->naxes >= BT_MAX_AXES || (size_t)(eq - v) >= 64) {
                fprintf(stderr, "kestrel backtest: --sweep KEY=a,b,c\n");
                goto out;
            }
            bt_axis *ax = &o->axes[o->naxes++];
            snprintf(ax->key, sizeof ax->key, "%.*s", (int)(eq - v), v);
            char *vals = xstrdup(eq + 1), *save = NULL;
            for (char *t = strtok_r(vals, ",", &save); t && ax->n < BT_MAX_VALS;
                 t = strtok_r(NULL, ",", &save))
                snprintf(ax->val[ax->n++], sizeof ax->val[0], "%s", t);
            free(vals);
            if (ax->n == 0)
                goto out;
        } else if (!strcmp(a, "--shard")) {
            BT_NEED();
            if (sscanf(v, "%d/%d", &o->shard_k, &o->shard_n) != 2 || o->shard_n < 1 ||
                o->shard_k < 1 || o->shard_k > o->shard_n) {
                fprintf(stderr, "kestrel backtest: --shard K/N with 1 <= K <= N\n");
                goto out;
            }
        } else if (!strcmp(a, "--no-baselines")) {
            no_baselines = true;
        } else if (!strcmp(a, "--db")) {
            BT_NEED();
            if (!*v || strlen(v) >= sizeof o->db) {
                fprintf(stderr, "kestrel backtest: --db needs a path (< %zu bytes)\n",
                        sizeof o->db);
                goto out;
            }
            db_arg = v;
        } else if (!strcmp(a, "--no-store")) {
            o->no_store = true;
        } else if (!strcmp(a, "--funding")) {
            BT_NEED();
            if (bt_load_funding(o, v, err, sizeof err) != K_OK) {
                fprintf(stderr, "kestrel backtest: --funding: %s\n", err);
                goto out;
            }
        } else if (!strcmp(a, "--venue")) {
            BT_NEED();
            if (venue_parse(v, &o->venue) != K_OK) {
                fprintf(stderr, "kestrel backtest: unknown venue %s\n", v);
                goto out;
            }
            venue_set = true;
        } else if (!strcmp(a, "--strategy")) {
            BT_NEED();
            if (runner_strategy_parse(v, &strat) != K_OK) {
                fprintf(stderr, "kestrel backtest: unknown strategy %s\n", v);
                goto out;
            }
            strategy_set = true;
        } else {
            fprintf(stderr, "kestrel backtest: unknown option %s\n", a);
            bt_usage(stderr);
            goto out;
        }
    }
    if (!datalist) {
        bt_usage(stderr);
        goto out;
    }
    for (char *save = NULL, *t = strtok_r(datalist, ",", &save); t;
         t = strtok_r(NULL, ",", &save))
        if (o->ndata < BT_MAX_FILES)
            o->data[o->ndata++] = t;
    if (bt_infer_names(o, venue_set, symbol_set, err, sizeof err) != K_OK) {
        fprintf(stderr, "kestrel backtest: %s\n", err);
        goto out;
    }
    if (config && bt_load_config(o, config, err, sizeof err) != K_OK) {
        fprintf(stderr, "kestrel backtest: %s\n", err);
        goto out;
    }
    o->config_file = config;
    memcpy(o->sets, sets, sizeof sets);
    o->nsets = nsets;
    if (db_arg && !o->no_store && !bt_db_dir_ok(db_arg))
        goto out;
    if (db_arg)
        snprintf(o->db, sizeof o->db, "%s", db_arg);
    else if (!o->db[0])
        config_default_db_path(o->db, sizeof o->db);
    for (int i = 0; i < nsets; i++) {
        char key[64];
        const char *eq = strchr(sets[i], '=');
        if (!eq || (size_t)(eq - sets[i]) >= sizeof key) {
            fprintf(stderr, "kestrel backtest: --set KEY=VALUE\n");
            goto out;
        }
        snprintf(key, sizeof key, "%.*s", (int)(eq - sets[i]), sets[i]);
        if (bt_set(o, &o->rc, key, eq + 1, err, sizeof err) != K_OK) {
            fprintf(stderr, "kestrel backtest: %s\n", err);
            goto out;
        }
    }
    if (strategy_set)
        o->rc.strategy = strat;
    rc = 1;
    bool progress = isatty(2);
    cJSON *rep = NULL;
    if (o->naxes) {
        int total = bt_grid_size(o);
        if (total > BT_MAX_CONFIGS) {
            fprintf(stderr, "kestrel backtest: %d configurations (max %d)\n", total,
                    BT_MAX_CONFIGS);
            goto out;
        }
        for (int i = 0; i < total; i++) { /* validate every value before forking */
            runner_config c;
            char params[256];
            if (bt_grid_config(o, i, &c, params, sizeof params, err, sizeof err) != K_OK) {
                fprintf(stderr, "kestrel backtest: --sweep: %s\n", err);
                rc = 2;
                goto out;
            }
        }
        bt_cfg_result *res;
        int n;
        if (bt_sweep_run(o, o->shard_k, o->shard_n, &res, &n) != K_OK) {
            fprintf(stderr, "kestrel backtest: a sweep worker failed\n");
            goto out;
        }
        rep = cJSON_CreateObject();
        cJSON_AddNumberToObject(rep, "seed", (double)o->seed);
        cJSON_AddItemToObject(rep, "sweep", bt_sweep_summary(res, n, (uint32_t)total));
        cJSON_AddItemToObject(rep, "sweep_results", bt_sweep_results_json(res, n));
        bt_sweep_free(res, n);
        const cJSON *sw = cJSON_GetObjectItem(rep, "sweep");
        printf("sweep: %d configurations (shard %d/%d of %d)\n", n, o->shard_k, o->shard_n,
               total);
        const cJSON *e;
        cJSON_ArrayForEach(e, cJSON_GetObjectItem(sw, "ranking"))
            printf("  #%-4.0f return %-12.6g sharpe %-12.6g %s\n",
                   cJSON_GetNumberValue(cJSON_GetObjectItem(e, "index")),
                   cJSON_GetNumberValue(cJSON_GetObjectItem(e, "return")),
                   cJSON_GetNumberValue(cJSON_GetObjectItem(e, "sharpe")),
                   cJSON_GetStringValue(cJSON_GetObjectItem(e, "params")));
        printf("  winner #%.0f  DSR %.6g  PBO %.6g (CSCV, 16 blocks)\n",
               cJSON_GetNumberValue(cJSON_GetObjectItem(sw, "winner")),
               cJSON_GetNumberValue(cJSON_GetObjectItem(sw, "dsr")),
               cJSON_GetNumberValue(cJSON_GetObjectItem(sw, "pbo")));
    } else {
        bt_run run, rules, rsi;
        memset(&rules, 0, sizeof rules);
        memset(&rsi, 0, sizeof rsi);
        int r1;
        if (o->wf_train)
            r1 = bt_walk_forward(o, &run);
        else
            r1 = bt_run_once(o, &o->rc, INT64_MIN, INT64_MAX, 0, progress, &run);
        if (r1 != K_OK || run.bars == 0) {
            fprintf(stderr, "kestrel backtest: %s\n", run.err[0] ? run.err : "no bars in range");
            bt_run_free(&run);
            goto out;
        }
        bool base = !o->wf_train && !no_baselines;
        if (base) {
            runner_config c = o->rc;
            c.strategy = RUNNER_RULES;
            c.models = 0;
            (void)bt_run_once(o, &c, INT64_MIN, INT64_MAX, 0, false, &rules);
            c.strategy = RUNNER_RSI;
            (void)bt_run_once(o, &c, INT64_MIN, INT64_MAX, 0, false, &rsi);
        }
        rep = bt_report(o, &o->rc, &run, base ? &rules : NULL, base ? &rsi : NULL);
        if (o->wf_train) {
            cJSON_AddNumberToObject(rep, "walk_forward_train", o->wf_train);
            cJSON_AddNumberToObject(rep, "walk_forward_test", o->wf_test);
        }
        bt_print_text(stdout, rep);
        bt_run_free(&run);
        bt_run_free(&rules);
        bt_run_free(&rsi);
    }
    rc = 0;
    if (o->json_out && bt_write_json(o->json_out, rep) != K_OK)
        rc = 1;
    if (!o->no_store) {
        char *args = bt_args_text(argc, argv), *cfg = bt_config_json(o);
        const char *kind = o->naxes ? "sweep" : o->wf_train ? "walk_forward" : "run";
        if (bt_store(o->db, kind, rep, args, o->data, o->ndata, o->seed, cfg) != K_OK)
            rc = 1;
        free(args);
        cJSON_free(cfg);
    }
    cJSON_Delete(rep);
out:
    free(datalist);
    free(o->fund);
    free(o);
    return rc;
}
