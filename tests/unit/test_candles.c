/* candles: resampling proven against Binance's own bars (octobot 1m -> 5m/15m/1h), bar building
 * from the real BTCUSDT/ETHUSDT trade streams (volumes, OHLC, exact quote volume, empty bars
 * carrying the close, the forming bar, the data clock), bounds, late trades, seeding. */
#include "check.h"

#include "capture_stream.h"
#include "kestrel/candles.h"

static kdec D(const char *s)
{
    kdec v = 0;
    if (decimal_parse(s, strlen(s), &v) != K_OK)
        fprintf(stderr, "bad decimal %s\n", s);
    return v;
}

/* ---------------------------------------------------------------------------------------- */

typedef struct bars {
    candle *v;
    size_t n, cap;
} bars;

static void bars_push(bars *b, const candle *c)
{
    if (b->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 256;
        b->v = realloc(b->v, b->cap * sizeof *b->v);
    }
    b->v[b->n++] = *c;
}

/* CSV open_time_ms,open,high,low,close,volume (header line skipped) */
static int load_csv(const char *rel, bars *out)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", check_shared_data(), rel);
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "cannot open %s\n", path);
        return -1;
    }
    char line[512];
    int lineno = 0, bad = 0;
    while (fgets(line, sizeof line, f)) {
        if (lineno++ == 0)
            continue;
        line[strcspn(line, "\r\n")] = '\0';
        char *fld[6];
        int nf = 0;
        for (char *p = line; nf < 6;) {
            fld[nf++] = p;
            char *comma = strchr(p, ',');
            if (!comma)
                break;
            *comma = '\0';
            p = comma + 1;
        }
        candle c;
        memset(&c, 0, sizeof c);
        if (nf != 6 || decimal_parse(fld[1], strlen(fld[1]), &c.o) != K_OK ||
            decimal_parse(fld[2], strlen(fld[2]), &c.h) != K_OK ||
            decimal_parse(fld[3], strlen(fld[3]), &c.l) != K_OK ||
            decimal_parse(fld[4], strlen(fld[4]), &c.c) != K_OK ||
            decimal_parse(fld[5], strlen(fld[5]), &c.volume) != K_OK) {
            bad++;
            continue;
        }
        c.open_ms = strtoll(fld[0], NULL, 10);
        bars_push(out, &c);
    }
    fclose(f);
    return bad ? -1 : 0;
}

static void collect_cb(void *ud, enum tf tf, const candle *bar)
{
    (void)tf;
    bars_push(ud, bar);
}

/* number of 1m bars whose open lies in [from, to) (src sorted by open) */
static size_t count_in(const bars *src, int64_t from, int64_t to)
{
    size_t n = 0;
    for (size_t i = 0; i < src->n; i++)
        n += src->v[i].open_ms >= from && src->v[i].open_ms < to;
    return n;
}

/* Aggregates octobot's 1m bars into `tf` with candles_on_bar and compares every fully covered
 * bar with Binance's own bar of that timeframe. Returns the number of bars compared. */
static size_t check_resample(const char *f1m, const char *fhi, enum tf tf)
{
    bars lo = {0}, hi = {0}, got = {0};
    CHECK_INT(load_csv(f1m, &lo), 0);
    CHECK_INT(load_csv(fhi, &hi), 0);
    CHECK(lo.n >= 500);
    CHECK(hi.n >= 500);
    candles *c = candles_new(tf, 1000);
    for (size_t i = 0; i < lo.n; i++)
        candles_on_bar(c, &lo.v[i], 60000, collect_cb, &got);
    CHECK_INT(candles_late(c), 0);
    int64_t ms = tf_ms(tf);
    size_t per = (size_t)(ms / 60000), expected = 0, compared = 0, mismatched = 0;
    for (size_t i = 0; i < hi.n; i++) {
        const candle *want = &hi.v[i];
        if (count_in(&lo, want->open_ms, want->open_ms + ms) != per)
            continue; /* not fully covered by the 1m file */
        expected++;
        const candle *have = NULL;
        for (size_t j = 0; j < got.n && !have; j++)
            if (got.v[j].open_ms == want->open_ms)
                have = &got.v[j];
        if (!have) {
            mismatched++;
            continue;
        }
        compared++;
        if (have->o != want->o || have->h != want->h || have->l != want->l ||
            have->c != want->c || have->volume != want->volume) {
            mismatched++;
            fprintf(stderr, "%s %s bar %lld differs\n", fhi, tf_name(tf),
                    (long long)want->open_ms);
        }
    }
    CHECK(expected > 0);
    CHECK_INT(compared, expected);
    CHECK_INT(mismatched, 0);
    /* the closed bars are contiguous and time ordered (a missing 1m bar is not a gap in 5m) */
    for (size_t j = 1; j < got.n; j++)
        CHECK_INT(got.v[j].open_ms - got.v[j - 1].open_ms, ms);
    fprintf(stderr, "%s -> %s: %zu fully covered bars identical\n", f1m, tf_name(tf), compared);
    candles_free(c);
    free(lo.v);
    free(hi.v);
    free(got.v);
    return compared;
}

static void test_resample_octobot(void)
{
    const char *btc1 = "klines/octobot/binance_BTCUSDT_1m_1524880320.csv";
    const char *eth1 = "klines/octobot/binance_ETHUSDT_1m_1531709520.csv";
    size_t n5 = check_resample(btc1, "klines/octobot/binance_BTCUSDT_5m_1524760500.csv", TF_5M);
    CHECK(n5 >= 90); /* ~8.3 h of 1m bars inside the 5m file's range */
    check_resample(btc1, "klines/octobot/binance_BTCUSDT_15m_1524460500.csv", TF_15M);
    check_resample(btc1, "klines/octobot/binance_BTCUSDT_1h_1523113200.csv", TF_1H);
    n5 = check_resample(eth1, "klines/octobot/binance_ETHUSDT_5m_1531589700.csv", TF_5M);
    CHECK(n5 >= 90);
    check_resample(eth1, "klines/octobot/binance_ETHUSDT_15m_1531289700.csv", TF_15M);
}

/* ---------------------------------------------------------------------------------------- */
/* bars from the real trade stream                                                           */

typedef struct tf_run {
    candles *c;
    bars closed;
} tf_run;

typedef struct agg_ctx {
    candles *up; /* 1s closed bars -> 1m */
    bars *closed_up;
    bars *closed_1s;
} agg_ctx;

static void agg_cb(void *ud, enum tf tf, const candle *bar)
{
    (void)tf;
    agg_ctx *a = ud;
    bars_push(a->closed_1s, bar);
    candles_on_bar(a->up, bar, 1000, collect_cb, a->closed_up);
}

typedef struct minute_acc { /* the test's own per-minute truth */
    int64_t open_ms;
    kdec o, h, l, c, vol, buy;
    __int128 quote;
    uint32_t n;
} minute_acc;

static void check_bar_sane(const candle *b, uint64_t *bad)
{
    if (b->l > b->h || b->o > b->h || b->o < b->l || b->c > b->h || b->c < b->l ||
        b->volume < 0 || b->buy_volume > b->volume || b->quote_volume < 0)
        (*bad)++;
}

static void test_trades_real(const char *sym, const char *f1, const char *f2,
                             uint32_t want_trades)
{
    cap_stream s;
    stream_init(&s, VENUE_BINANCE_SPOT, sym, f1, f2);
    enum tf tfs[] = {TF_1M, TF_5M, TF_15M, TF_1H, TF_4H, TF_1D};
    tf_run runs[K_ARRAY_LEN(tfs)];
    for (size_t i = 0; i < K_ARRAY_LEN(tfs); i++) {
        runs[i].c = candles_new(tfs[i], 2000);
        memset(&runs[i].closed, 0, sizeof runs[i].closed);
    }
    candles *s1 = candles_new(TF_1S, 4000);
    candles *up = candles_new(TF_1M, 2000);
    candles *small = candles_new(TF_1M, 5); /* ring bound */
    bars closed_1s = {0}, closed_up = {0};
    agg_ctx actx = {up, &closed_up, &closed_1s};

    minute_acc mins[64];
    memset(mins, 0, sizeof mins);
    int64_t t0 = -1;
    uint32_t ntrades = 0;
    kdec total_qty = 0, total_buy = 0, last_px = 0;
    int64_t last_t = 0;
    feed_event ev;
    while (stream_next(&s, &ev)) {
        if (ev.kind != FEED_TRADE)
            continue;
        int64_t t = ev.u.trade.time_ms;
        kdec px = ev.u.trade.px, q = ev.u.trade.qty;
        bool bm = ev.u.trade.buyer_maker;
        ntrades++;
        total_qty += q;
        if (!bm)
            total_buy += q;
        last_px = px;
        last_t = t;
        if (t0 < 0)
            t0 = t - t % 60000;
        minute_acc *m = &mins[(t - t0) / 60000];
        if (m->n == 0) {
            m->open_ms = t - t % 60000;
            m->o = m->h = m->l = px;
        }
        m->h = K_MAX(m->h, px);
        m->l = K_MIN(m->l, px);
        m->c = px;
        m->vol += q;
        if (!bm)
            m->buy += q;
        m->quote += (__int128)px * q;
        m->n++;

        for (size_t i = 0; i < K_ARRAY_LEN(tfs); i++)
            candles_on_trade(runs[i].c, t, px, q, bm, collect_cb, &runs[i].closed);
        candles_on_trade(s1, t, px, q, bm, agg_cb, &actx);
        candles_on_trade(small, t, px, q, bm, NULL, NULL);
    }
    CHECK_INT(s.errors, 0);
    stream_close(&s);
    CHECK_INT(ntrades, want_trades);

    /* every timeframe: closed + forming volume == traded volume, trades count, buy volume */
    for (size_t i = 0; i < K_ARRAY_LEN(tfs); i++) {
        candles *c = runs[i].c;
        kdec vol = 0, buy = 0;
        uint64_t n = 0, bad = 0;
        for (uint32_t j = 0; j < candles_count(c); j++) {
            const candle *b = candles_get(c, j);
            vol += b->volume;
            buy += b->buy_volume;
            n += b->trades;
            check_bar_sane(b, &bad);
            if (j > 0)
                CHECK_INT(b->open_ms - candles_get(c, j - 1)->open_ms, tf_ms(tfs[i]));
        }
        const candle *f = candles_forming(c);
        CHECK(f != NULL);
        vol += f->volume;
        buy += f->buy_volume;
        n += f->trades;
        check_bar_sane(f, &bad);
        CHECK_INT(vol, total_qty);
        CHECK_INT(buy, total_buy);
        CHECK_INT(n, ntrades);
        CHECK_INT(bad, 0);
        CHECK_INT(candles_late(c), 0);
        CHECK_INT(f->open_ms, last_t - last_t % tf_ms(tfs[i]));
        CHECK_INT(f->c, last_px);
        CHECK_INT(candles_count(c), runs[i].closed.n); /* callback saw every closed bar */
        CHECK_INT(candles_total_closed(c), runs[i].closed.n);
    }
    /* the capture spans the 2024-08-09 00:00 UTC day boundary: 1d, 4h and 1h closed once */
    CHECK_INT(runs[3].closed.n, 1);
    CHECK_INT(runs[4].closed.n, 1);
    CHECK_INT(runs[5].closed.n, 1);
    CHECK_INT(runs[5].closed.v[0].open_ms, 1723075200000LL); /* 2024-08-08 00:00 UTC */
    CHECK_INT(candles_forming(runs[5].c)->open_ms, 1723161600000LL);

    /* 1m bars against the test's own per-minute truth, including the exact quote volume */
    candles *m1 = runs[0].c;
    uint64_t minute_bad = 0;
    for (uint32_t j = 0; j <= candles_count(m1); j++) {
        const candle *b = j < candles_count(m1) ? candles_get(m1, j) : candles_forming(m1);
        const minute_acc *m = &mins[(b->open_ms - t0) / 60000];
        kdec q = (kdec)(m->quote / KDEC_SCALE);
        if (m->open_ms != b->open_ms || m->o != b->o || m->h != b->h || m->l != b->l ||
            m->c != b->c || m->vol != b->volume || m->buy != b->buy_volume ||
            m->n != b->trades || q != b->quote_volume)
            minute_bad++;
    }
    CHECK_INT(minute_bad, 0);
    CHECK(candles_count(m1) >= 10);

    /* 1s: contiguous, empty seconds carry the previous close with zero volume */
    uint64_t empty = 0, carry_bad = 0, bad = 0;
    kdec vol1s = 0;
    for (size_t j = 0; j < closed_1s.n; j++) {
        const candle *b = &closed_1s.v[j];
        check_bar_sane(b, &bad);
        vol1s += b->volume;
        if (j > 0)
            CHECK_INT(b->open_ms - closed_1s.v[j - 1].open_ms, 1000);
        if (b->trades == 0) {
            empty++;
            const candle *p = &closed_1s.v[j - 1];
            if (b->o != p->c || b->h != p->c || b->l != p->c || b->c != p->c ||
                b->volume != 0 || b->buy_volume != 0 || b->quote_volume != 0)
                carry_bad++;
        }
    }
    CHECK_INT(bad, 0);
    CHECK(empty > 0);
    CHECK_INT(carry_bad, 0);
    CHECK_INT(vol1s + candles_forming(s1)->volume, total_qty);
    fprintf(stderr, "%s: %u trades, %zu closed 1s bars, %llu without trades\n", sym, ntrades,
            closed_1s.n, (unsigned long long)empty);

    /* 1s bars aggregated into 1m == 1m bars built from the trades (quote: each 1s bar was
     * truncated once, so the aggregate may sit up to 60 units of 1e-8 below) */
    uint64_t agg_bad = 0;
    CHECK_INT(closed_up.n, candles_count(m1));
    for (size_t j = 0; j < closed_up.n && j < candles_count(m1); j++) {
        const candle *a = &closed_up.v[j], *b = candles_get(m1, (uint32_t)j);
        kdec dq = b->quote_volume - a->quote_volume;
        if (a->open_ms != b->open_ms || a->o != b->o || a->h != b->h || a->l != b->l ||
            a->c != b->c || a->volume != b->volume || a->buy_volume != b->buy_volume ||
            a->trades != b->trades || dq < 0 || dq > 60)
            agg_bad++;
    }
    CHECK_INT(agg_bad, 0);

    /* bounded ring: 5 newest closed 1m bars kept */
    CHECK_INT(candles_count(small), 5);
    CHECK_INT(candles_total_closed(small), candles_count(m1));
    CHECK_INT(candles_get(small, 4)->open_ms, candles_last(m1)->open_ms);
    CHECK_INT(candles_get(small, 0)->open_ms, candles_last(m1)->open_ms - 4 * 60000);
    CHECK(candles_get(small, 5) == NULL);

    /* a late trade is counted and changes nothing */
    candle before = *candles_forming(m1);
    CHECK_INT(candles_on_trade(m1, before.open_ms - 1, last_px, D("1"), false, NULL, NULL), 0);
    CHECK_INT(candles_late(m1), 1);
    CHECK(memcmp(&before, candles_forming(m1), sizeof before) == 0);

    /* the data clock: nothing closes before the end, the forming bar closes at its end */
    int64_t end = before.open_ms + 60000;
    CHECK_INT(candles_advance(m1, end - 1, NULL, NULL), 0);
    uint32_t cnt = candles_count(m1);
    CHECK_INT(candles_advance(m1, end, NULL, NULL), 1);
    CHECK_INT(candles_count(m1), cnt + 1);
    CHECK(memcmp(&before, candles_last(m1), sizeof before) == 0);
    const candle *f = candles_forming(m1);
    CHECK_INT(f->open_ms, end);
    CHECK_INT(f->trades, 0);
    CHECK_INT(f->volume, 0);
    CHECK_INT(f->o, before.c);
    CHECK_INT(f->c, before.c);
    /* ten minutes later: the empty forming bar and 9 fill bars close */
    CHECK_INT(candles_advance(m1, end + 10 * 60000 + 5, NULL, NULL), 10);
    CHECK_INT(candles_forming(m1)->open_ms, end + 10 * 60000);
    CHECK_INT(candles_last(m1)->c, before.c);
    CHECK_INT(candles_last(m1)->volume, 0);
    /* a trade in an empty carried bar opens it at the trade's price */
    kdec px2 = before.c + D("0.01");
    CHECK_INT(candles_on_trade(m1, end + 10 * 60000 + 100, px2, D("0.5"), true, NULL, NULL), 0);
    f = candles_forming(m1);
    CHECK_INT(f->o, px2);
    CHECK_INT(f->l, px2);
    CHECK_INT(f->trades, 1);
    CHECK_INT(f->buy_volume, 0); /* buyer was the maker: a sell print */

    /* a jump of a day on the 1s series closes at most cap+1 bars, and holds cap */
    uint64_t tot = candles_total_closed(s1);
    int64_t fopen = candles_forming(s1)->open_ms;
    int closed = candles_advance(s1, fopen + 86400000LL, NULL, NULL);
    CHECK(closed >= 1 && closed <= 4001);
    CHECK_INT(candles_count(s1), 4000);
    CHECK_INT(candles_total_closed(s1), tot + (uint64_t)closed);
    CHECK_INT(candles_forming(s1)->open_ms, fopen + 86400000LL);
    CHECK_INT(candles_last(s1)->open_ms, fopen + 86400000LL - 1000);
    for (uint32_t j = 1; j < candles_count(s1); j++)
        if (candles_get(s1, j)->open_ms <= candles_get(s1, j - 1)->open_ms)
            CHECK(!"1s ring out of order");

    for (size_t i = 0; i < K_ARRAY_LEN(tfs); i++) {
        candles_free(runs[i].c);
        free(runs[i].closed.v);
    }
    candles_free(s1);
    candles_free(up);
    candles_free(small);
    free(closed_1s.v);
    free(closed_up.v);
}

/* ---------------------------------------------------------------------------------------- */

static void test_tf_names(void)
{
    const char *names[] = {"1s", "1m", "5m", "15m", "1h", "4h", "1d"};
    const int64_t ms[] = {1000, 60000, 300000, 900000, 3600000, 14400000, 86400000};
    for (int i = 0; i < TF_COUNT; i++) {
        enum tf t;
        CHECK_STR(tf_name((enum tf)i), names[i]);
        CHECK_INT(tf_ms((enum tf)i), ms[i]);
        CHECK_INT(tf_parse(names[i], &t), K_OK);
        CHECK_INT(t, i);
    }
    enum tf t;
    CHECK_INT(tf_parse("1M", &t), K_ERR); /* month, not minute */
    CHECK_INT(tf_parse("3m", &t), K_ERR);
    CHECK_INT(tf_parse("", &t), K_ERR);
    CHECK_INT(tf_parse(NULL, &t), K_ERR);
    CHECK(candles_new(TF_COUNT, 10) == NULL);
    candles *c = candles_new(TF_4H, 10);
    CHECK_INT(candles_tf(c), TF_4H);
    CHECK(candles_forming(c) == NULL);
    CHECK(candles_last(c) == NULL);
    CHECK(candles_get(c, 0) == NULL);
    CHECK_INT(candles_advance(c, 1723161600000LL, NULL, NULL), 0); /* no data: nothing */
    candles_free(c);
}

/* The carry and late rules on a short hand-made series (math only). */
static void test_rules_handmade(void)
{
    candles *c = candles_new(TF_1S, 100);
    bars got = {0};
    CHECK_INT(candles_on_trade(c, 500, D("100"), D("1"), false, collect_cb, &got), 0);
    CHECK_INT(candles_on_trade(c, 900, D("99"), D("2"), true, collect_cb, &got), 0);
    CHECK_INT(candles_on_trade(c, 3200, D("101"), D("1"), false, collect_cb, &got), 3);
    CHECK_INT(got.n, 3);
    CHECK_INT(got.v[0].open_ms, 0);
    CHECK_INT(got.v[0].o, D("100"));
    CHECK_INT(got.v[0].l, D("99"));
    CHECK_INT(got.v[0].c, D("99"));
    CHECK_INT(got.v[0].volume, D("3"));
    CHECK_INT(got.v[0].buy_volume, D("1"));
    CHECK_INT(got.v[0].quote_volume, D("298"));
    CHECK_INT(got.v[0].trades, 2);
    for (int i = 1; i <= 2; i++) {
        CHECK_INT(got.v[i].open_ms, i * 1000);
        CHECK_INT(got.v[i].o, D("99"));
        CHECK_INT(got.v[i].h, D("99"));
        CHECK_INT(got.v[i].c, D("99"));
        CHECK_INT(got.v[i].volume, 0);
        CHECK_INT(got.v[i].trades, 0);
    }
    CHECK_INT(candles_forming(c)->open_ms, 3000);
    CHECK_INT(candles_forming(c)->o, D("101"));
    /* late, invalid */
    CHECK_INT(candles_on_trade(c, 2999, D("1"), D("1"), false, NULL, NULL), 0);
    CHECK_INT(candles_on_trade(c, -5, D("1"), D("1"), false, NULL, NULL), 0);
    CHECK_INT(candles_on_trade(c, 3500, 0, D("1"), false, NULL, NULL), 0);
    CHECK_INT(candles_on_trade(c, 3500, D("1"), -1, false, NULL, NULL), 0);
    CHECK_INT(candles_on_trade(c, INT64_MAX, D("1"), D("1"), false, NULL, NULL), 0);
    CHECK_INT(candles_late(c), 5);
    CHECK_INT(candles_forming(c)->trades, 1);
    /* the data clock cannot run past year 9999 or overflow */
    CHECK(candles_advance(c, INT64_MAX, NULL, NULL) == 101);
    CHECK_INT(candles_count(c), 100);
    /* exact quote volume: 3 trades of 0.1 at 0.00000003 = 9e-9 quote in total -> 0 (truncated)
     * per trade, but the exact sum is kept: 30 such trades = 9e-8 -> 9 units */
    candles *q = candles_new(TF_1M, 10);
    for (int i = 0; i < 30; i++)
        candles_on_trade(q, 1000 + i, 3, D("0.1"), false, NULL, NULL);
    CHECK_INT(candles_forming(q)->quote_volume, 9);
    /* saturation instead of overflow */
    candles_on_trade(q, 2000, KDEC_MAX, KDEC_MAX, false, NULL, NULL);
    candles_on_trade(q, 2001, KDEC_MAX, KDEC_MAX, false, NULL, NULL);
    CHECK_INT(candles_forming(q)->volume, KDEC_MAX);
    CHECK_INT(candles_forming(q)->quote_volume, KDEC_MAX);
    CHECK_INT(candles_forming(q)->h, KDEC_MAX);
    candles_free(q);
    /* a lower bar must fit inside one bar and be of a lower timeframe */
    candles *h = candles_new(TF_5M, 10);
    candle lb;
    memset(&lb, 0, sizeof lb);
    lb.open_ms = 240000 + 30000; /* a "1m" bar straddling two 5m bars */
    lb.o = lb.h = lb.l = lb.c = D("1");
    lb.volume = D("1");
    CHECK_INT(candles_on_bar(h, &lb, 60000, NULL, NULL), 0);
    CHECK_INT(candles_on_bar(h, &lb, 3600000, NULL, NULL), 0);
    CHECK_INT(candles_on_bar(h, &lb, 0, NULL, NULL), 0);
    CHECK_INT(candles_late(h), 3);
    CHECK(candles_forming(h) == NULL);
    candles_free(h);
    candles_free(c);
    free(got.v);
}

/* The partial-bar rules (mechanics, hand-made times): the first bar is partial unless its data
 * starts at its open; gap-filled and later bars are whole; a partial lower bar makes its higher
 * bar partial; live data after seeded history starts a partial bar too. */
static void test_partial_rules(void)
{
    bars got = {0};
    /* data from 00:06:00.250: the 1h bar 00:00 holds 54 minutes of its hour */
    candles *h = candles_new(TF_1H, 10);
    int64_t t0 = 360250;
    CHECK_INT(candles_on_trade(h, t0, D("100"), D("1"), false, collect_cb, &got), 0);
    CHECK(candles_forming(h) && (candles_forming(h)->flags & CANDLE_PARTIAL));
    /* three hours later: the partial bar closes, two gap-filled bars and the new one are whole */
    CHECK_INT(candles_on_trade(h, 3 * 3600000 + 5, D("101"), D("1"), false, collect_cb, &got), 3);
    CHECK_INT(got.n, 3);
    CHECK(got.n == 3 && (got.v[0].flags & CANDLE_PARTIAL) && got.v[0].open_ms == 0);
    CHECK(got.n == 3 && got.v[1].flags == 0 && got.v[2].flags == 0);
    CHECK(candles_forming(h) && candles_forming(h)->flags == 0);
    CHECK(candles_get(h, 0) && (candles_get(h, 0)->flags & CANDLE_PARTIAL));
    candles_free(h);

    /* data starting exactly at the open: whole */
    candles *w = candles_new(TF_1M, 10);
    CHECK_INT(candles_on_trade(w, 120000, D("100"), D("1"), false, NULL, NULL), 0);
    CHECK(candles_forming(w) && candles_forming(w)->flags == 0);
    candles_free(w);

    /* aggregation: a partial 1m bar makes the 5m bar partial; 1m bars from the 5m open: whole */
    candles *f5 = candles_new(TF_5M, 10);
    candle lb;
    memset(&lb, 0, sizeof lb);
    lb.open_ms = 60000; /* 00:01, inside the 00:00 5m bar */
    lb.o = lb.h = lb.l = lb.c = D("1");
    lb.volume = D("1");
    lb.trades = 1;
    candles_on_bar(f5, &lb, 60000, NULL, NULL);
    CHECK(candles_forming(f5) && (candles_forming(f5)->flags & CANDLE_PARTIAL));
    candles_free(f5);
    f5 = candles_new(TF_5M, 10);
    lb.open_ms = 300000;
    lb.flags = CANDLE_PARTIAL; /* the 1m bar itself began before its data */
    candles_on_bar(f5, &lb, 60000, NULL, NULL);
    CHECK(candles_forming(f5) && (candles_forming(f5)->flags & CANDLE_PARTIAL));
    candles_free(f5);
    f5 = candles_new(TF_5M, 10);
    lb.flags = 0;
    candles_on_bar(f5, &lb, 60000, NULL, NULL);
    CHECK(candles_forming(f5) && candles_forming(f5)->flags == 0);
    candles_free(f5);

    /* after seeded history (closed bars only), live data inside a later bar: partial */
    candles *s = candles_new(TF_1M, 10);
    candle hb;
    memset(&hb, 0, sizeof hb);
    hb.open_ms = 0;
    hb.o = hb.h = hb.l = hb.c = D("5");
    candles_load(s, &hb, 1);
    CHECK_INT(candles_on_trade(s, 60000 + 30000, D("5"), D("1"), false, NULL, NULL), 0);
    CHECK(candles_forming(s) && (candles_forming(s)->flags & CANDLE_PARTIAL));
    CHECK(candles_get(s, 0) && candles_get(s, 0)->flags == 0);
    candles_free(s);
    free(got.v);
}

/* Seeding history: held, not re-closed, late trades inside it are refused, no fill across
 * the gap between history and live data, cap respected, junk bars skipped. */
static void test_load(void)
{
    bars hist = {0};
    CHECK_INT(load_csv("klines/octobot/binance_BTCUSDT_1m_1524880320.csv", &hist), 0);
    CHECK(hist.n > 300);
    candles *c = candles_new(TF_1M, 200);
    candles_load(c, hist.v, 300);
    CHECK_INT(candles_count(c), 200);
    CHECK_INT(candles_get(c, 0)->open_ms, hist.v[100].open_ms); /* the newest 200 kept */
    CHECK_INT(candles_last(c)->open_ms, hist.v[299].open_ms);
    CHECK_INT(candles_total_closed(c), 0);
    /* junk: out of order, misaligned, a duplicate -> skipped */
    candle junk[3] = {hist.v[10], hist.v[299], hist.v[300]};
    junk[2].open_ms += 1;
    candles_load(c, junk, 3);
    CHECK_INT(candles_count(c), 200);
    /* junk values in a well-timed bar (a corrupt store row): skipped, the chart never sees them */
    candle bad[4] = {hist.v[300], hist.v[300], hist.v[300], hist.v[300]};
    bad[0].l = 0;
    bad[1].h = bad[1].l - 1;
    bad[2].c = bad[2].h + 1;
    bad[3].volume = -1;
    for (int k = 0; k < 4; k++) {
        candles_load(c, &bad[k], 1);
        CHECK_INT(candles_count(c), 200);
        CHECK_INT(candles_last(c)->open_ms, hist.v[299].open_ms);
    }
    /* a trade inside the history is late */
    CHECK_INT(candles_on_trade(c, hist.v[299].open_ms + 59999, D("9300"), D("1"), false, NULL,
                               NULL), 0);
    CHECK_INT(candles_late(c), 1);
    CHECK(candles_forming(c) == NULL);
    /* a trade an hour later opens a forming bar without inventing an hour of flat bars */
    int64_t t = hist.v[299].open_ms + 3600000 + 1234;
    CHECK_INT(candles_on_trade(c, t, D("9300"), D("1"), false, NULL, NULL), 0);
    CHECK_INT(candles_count(c), 200);
    CHECK_INT(candles_forming(c)->open_ms, t - t % 60000);
    /* history arriving later only fills in before the forming bar */
    candles_load(c, &hist.v[300], 3);
    CHECK_INT(candles_count(c), 200);
    CHECK_INT(candles_last(c)->open_ms, hist.v[302].open_ms);
    candles_free(c);
    free(hist.v);
}

int main(void)
{
    test_tf_names();
    test_rules_handmade();
    test_resample_octobot();
    test_trades_real("BTCUSDT", SPOT_BTC_08, SPOT_BTC_09, 9757 + 10147);
    test_trades_real("ETHUSDT", SPOT_ETH_08, SPOT_ETH_09, 6106 + 8409);
    test_load();
    test_partial_rules();
    cap_cache_free();
    CHECK_DONE();
}
