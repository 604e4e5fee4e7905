/* Paper broker: simulated execution over real books and trades.
 *
 * Owns the simulated venue: its orders (in flight, resting, triggered), its balances and its
 * futures positions. Orders reach the book latency_ms after placement; outcomes reach the
 * listener report_latency_ms after they happen (a queue ordered by due time). The model is
 * deliberately conservative and documented in docs/TRADING.md:
 *  - market orders take liquidity level by level from the current book, up to the slippage cap;
 *    what is left when depth or the cap runs out expires. The real book is not modified (our
 *    fills do not remove liquidity for the next order).
 *  - a resting limit keeps the book quantity at its price on arrival as the queue ahead; only
 *    trades at its price on its side (sell aggressors for bids) consume that queue, and only the
 *    excess fills the order; a trade through the price fills the rest. Cancellations in the
 *    book never shorten the queue.
 *  - stops trigger on trade prints, then execute like a market (or limit) order on arrival.
 * All money is kdec; products use __int128; fees round up (against the trader). */
#include "kestrel/paper.h"

#include "kestrel/decimal.h"
#include "kestrel/xmalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct paper_order {
    char id[ORDER_ID_MAX];
    order_req req;
    enum order_status status;
    int64_t arrive_ms;
    bool arrived;
    bool triggered;   /* stop / tp / trailing: became market or limit */
    bool resting;     /* limit in the book */
    bool restored;    /* re-created after a restart: accepted long ago, no new ACCEPTED */
    bool queue_unknown; /* rested while the book was not live: the queue is measured on the
                         * first trade once it is */
    kdec filled, filled_quote;
    kdec queue_ahead;
    kdec trail_best;
    int64_t cancel_at; /* > 0: a cancel arrives then */
    char base[INSTR_ASSET_MAX], quote[INSTR_ASSET_MAX];
    kdec step;
} paper_order;

typedef struct paper_pos {
    enum venue venue;
    char symbol[KSYM_MAX];
    kdec qty;        /* signed */
    __int128 cost;   /* sum of the fills' truncated notionals (1e-8), signed like qty */
    kdec margin;
    int leverage;
    char quote[INSTR_ASSET_MAX]; /* margin asset */
} paper_pos;

typedef struct paper_book {
    enum venue venue;
    char symbol[KSYM_MAX];
    const book *b;
    kdec last_px;
    kdec mark;
} paper_book;

/* What a futures event (fill, funding, liquidation) changed in the account: kept with the event
 * until it is delivered, so the account "as the delivered events tell it" (what the app
 * persists) is the current one minus what is still travelling. */
typedef struct paper_delta {
    kdec dqty, dcost, dmargin; /* the position on (venue, symbol) of the event */
    kdec dquote;               /* the margin asset's total */
    char asset[INSTR_ASSET_MAX]; /* "" = no delta */
} paper_delta;

typedef struct paper_due {
    int64_t due;
    uint64_t seq;
    broker_event ev;
    paper_delta d;
} paper_due;

typedef struct paper_asset {
    char asset[INSTR_ASSET_MAX];
    kdec total;
} paper_asset;

struct paper {
    broker base; /* first member: broker_* dispatch casts back */
    paper_config cfg;
    const instruments *instr;
    paper_order *ord;
    uint32_t nord, cord;
    paper_pos *pos;
    uint32_t npos, cpos;
    paper_book *books;
    uint32_t nbooks, cbooks;
    paper_due *due;
    uint32_t ndue, cdue;
    uint64_t due_seq;
    paper_asset assets[PAPER_MAX_ASSETS];
    int nassets;
    int64_t trade_seq;
    int64_t now;
    uint32_t pending; /* arrivals and cancels still travelling */
    bool delivering;
    paper_delta pend; /* attached to the next queued event (then cleared) */
};

/* ---- config ---- */

void paper_config_default(paper_config *c)
{
    memset(c, 0, sizeof *c);
    c->latency_ms = 50;
    c->report_latency_ms = 50;
    c->slippage_cap_pct = 1 * KDEC_SCALE;
    c->fees[VENUE_BINANCE_SPOT] = (paper_fee){KDEC_SCALE / 10, KDEC_SCALE / 10};
    c->fees[VENUE_BINANCE_USDM] = (paper_fee){KDEC_SCALE / 50, KDEC_SCALE / 20};
    c->fees[VENUE_OKX] = (paper_fee){KDEC_SCALE * 8 / 100, KDEC_SCALE / 10};
    c->default_leverage = 1;
    c->maint_margin_pct = KDEC_SCALE * 4 / 10;
    c->max_orders = 10000;
    (void)paper_config_balance(c, "USDT", 10000 * KDEC_SCALE);
}

int paper_config_balance(paper_config *c, const char *asset, kdec amount)
{
    if (amount < 0 || strlen(asset) >= INSTR_ASSET_MAX || !asset[0])
        return K_ERR;
    for (int i = 0; i < c->nbalances; i++)
        if (!strcmp(c->balances[i].asset, asset)) {
            c->balances[i].free = amount;
            return K_OK;
        }
    if (c->nbalances >= PAPER_MAX_ASSETS)
        return K_ERR;
    broker_balance *b = &c->balances[c->nbalances++];
    memset(b, 0, sizeof *b);
    snprintf(b->asset, sizeof b->asset, "%s", asset);
    b->free = amount;
    return K_OK;
}

static int paper_config_range(const char *key, const char *value, const char *lo,
                              const char *hi, kdec *out, char *err, size_t errlen)
{
    kdec l = 0, h = 0;
    if (decimal_parse(value, strlen(value), out) != K_OK) {
        snprintf(err, errlen, "%s %s is not a number", key, value);
        return K_ERR;
    }
    (void)decimal_parse(lo, strlen(lo), &l);
    (void)decimal_parse(hi, strlen(hi), &h);
    if (*out < l || *out > h) {
        snprintf(err, errlen, "%s %s outside [%s, %s]", key, value, lo, hi);
        return K_ERR;
    }
    return K_OK;
}

int paper_config_set(paper_config *c, const char *key, const char *value, char *err,
                     size_t errlen)
{
    kdec v;
    if (!strcmp(key, "paper.latency_ms")) {
        if (paper_config_range(key, value, "0", "60000", &v, err, errlen) ||
            v % KDEC_SCALE) {
            if (v % KDEC_SCALE)
                snprintf(err, errlen, "%s %s is not an integer", key, value);
            return K_ERR;
        }
        c->latency_ms = c->report_latency_ms = v / KDEC_SCALE;
        return K_OK;
    }
    if (!strcmp(key, "paper.slippage_cap_pct")) {
        if (paper_config_range(key, value, "0.01", "100", &v, err, errlen))
            return K_ERR;
        c->slippage_cap_pct = v;
        return K_OK;
    }
    if (!strncmp(key, "paper.balances.", 15)) {
        if (paper_config_range(key, value, "0", "90000000000", &v, err, errlen))
            return K_ERR;
        if (paper_config_balance(c, key + 15, v) != K_OK) {
            snprintf(err, errlen, "%s: bad asset name or too many assets", key);
            return K_ERR;
        }
        return K_OK;
    }
    if (!strncmp(key, "fees.", 5)) {
        const char *vn = key + 5, *dot = strrchr(vn, '.');
        char name[32];
        enum venue ven;
        if (dot && (size_t)(dot - vn) < sizeof name) {
            memcpy(name, vn, (size_t)(dot - vn));
            name[dot - vn] = '\0';
            bool maker = !strcmp(dot + 1, "maker"), taker = !strcmp(dot + 1, "taker");
            if (venue_parse(name, &ven) == K_OK && (maker || taker)) {
                if (paper_config_range(key, value, "0", "5", &v, err, errlen))
                    return K_ERR;
                if (maker)
                    c->fees[ven].maker_pct = v;
                else
                    c->fees[ven].taker_pct = v;
                return K_OK;
            }
        }
    }
    snprintf(err, errlen, "unknown key %s", key);
    return K_ERR;
}

int paper_config_get(const paper_config *c, const char *key, char *buf, size_t cap)
{
    kdec v;
    if (!strcmp(key, "paper.latency_ms")) {
        snprintf(buf, cap, "%lld", (long long)c->latency_ms);
        return K_OK;
    }
    if (!strcmp(key, "paper.slippage_cap_pct")) {
        v = c->slippage_cap_pct;
    } else if (!strncmp(key, "paper.balances.", 15)) {
        int i = 0;
        while (i < c->nbalances && strcmp(c->balances[i].asset, key + 15))
            i++;
        if (i == c->nbalances)
            return K_ERR;
        v = c->balances[i].free;
    } else if (!strncmp(key, "fees.", 5)) {
        const char *vn = key + 5, *dot = strrchr(vn, '.');
        char name[32];
        enum venue ven;
        if (!dot || (size_t)(dot - vn) >= sizeof name)
            return K_ERR;
        memcpy(name, vn, (size_t)(dot - vn));
        name[dot - vn] = '\0';
        if (venue_parse(name, &ven) != K_OK)
            return K_ERR;
        if (!strcmp(dot + 1, "maker"))
            v = c->fees[ven].maker_pct;
        else if (!strcmp(dot + 1, "taker"))
            v = c->fees[ven].taker_pct;
        else
            return K_ERR;
    } else {
        return K_ERR;
    }
    decimal_format(v, decimal_places(v), buf, cap);
    return K_OK;
}

const paper_config *paper_get_config(const paper *p)
{
    return &p->cfg;
}

int paper_set(paper *p, const char *key, const char *value, char *err, size_t errlen)
{
    if (!strncmp(key, "paper.balances", 14)) {
        snprintf(err, errlen, "%s is a starting balance: it applies at the next start", key);
        return K_ERR;
    }
    return paper_config_set(&p->cfg, key, value, err, errlen);
}

/* ---- small helpers ---- */

/* exact shortest text of a kdec, for reasons */
static const char *paper_txt(kdec v, char buf[40])
{
    decimal_format(v, decimal_places(v), buf, 40);
    return buf;
}

static kdec paper_mul(kdec a, kdec b)
{
    __int128 r = (__int128)a * b / KDEC_SCALE;
    return r > KDEC_MAX ? KDEC_MAX : r < -KDEC_MAX ? -KDEC_MAX : (kdec)r;
}

/* a * pct / 100, rounded up */
static kdec paper_pct_up(kdec a, kdec pct)
{
    if (a <= 0 || pct <= 0)
        return 0;
    __int128 d = (__int128)KDEC_SCALE * 100;
    __int128 r = ((__int128)a * pct + d - 1) / d;
    return r > KDEC_MAX ? KDEC_MAX : (kdec)r;
}

kdec paper_fee_for(const paper *p, enum venue v, kdec notional, bool maker)
{
    const paper_fee *f = &p->cfg.fees[(unsigned)v < VENUE_COUNT ? v : 0];
    return paper_pct_up(notional, maker ? f->maker_pct : f->taker_pct);
}

static bool paper_futures(enum venue v)
{
    return v == VENUE_BINANCE_USDM;
}

static paper_asset *paper_asset_get(paper *p, const char *asset, bool create)
{
    for (int i = 0; i < p->nassets; i++)
        if (!strcmp(p->assets[i].asset, asset))
            return &p->assets[i];
    if (!create || p->nassets >= PAPER_MAX_ASSETS)
        return NULL;
    paper_asset *a = &p->assets[p->nassets++];
    memset(a, 0, sizeof *a);
    snprintf(a->asset, sizeof a->asset, "%s", asset);
    return a;
}

static kdec paper_total(const paper *p, const char *asset)
{
    paper_asset *a = paper_asset_get((paper *)p, asset, false);
    return a ? a->total : 0;
}

static void paper_credit(paper *p, const char *asset, kdec amount)
{
    paper_asset *a = paper_asset_get(p, asset, true);
    if (a)
        a->total += amount;
}

static paper_pos *paper_pos_get(paper *p, enum venue v, const char *sym, bool create)
{
    for (uint32_t i = 0; i < p->npos; i++)
        if (p->pos[i].venue == v && !strcmp(p->pos[i].symbol, sym))
            return &p->pos[i];
    if (!create)
        return NULL;
    if (p->npos == p->cpos) {
        p->cpos = p->cpos ? p->cpos * 2 : 8;
        p->pos = xrealloc(p->pos, p->cpos * sizeof *p->pos);
    }
    paper_pos *ps = &p->pos[p->npos++];
    memset(ps, 0, sizeof *ps);
    ps->venue = v;
    snprintf(ps->symbol, sizeof ps->symbol, "%s", sym);
    return ps;
}

static kdec paper_entry(const paper_pos *ps)
{
    if (ps->qty == 0)
        return 0;
    return (kdec)(ps->cost * KDEC_SCALE / ps->qty);
}

/* liquidation price of an isolated position: margin + upnl == mmr * qty * L */
static kdec paper_liq_px(const paper *p, const paper_pos *ps)
{
    if (ps->qty == 0)
        return 0;
    __int128 q = ps->qty > 0 ? ps->qty : -ps->qty;
    __int128 cost = (ps->cost > 0 ? ps->cost : -ps->cost) * KDEC_SCALE; /* 1e-16 */
    __int128 m = (__int128)ps->margin * KDEC_SCALE;      /* 1e-16 */
    __int128 mmr = ps->qty > 0 ? (__int128)100 * KDEC_SCALE - p->cfg.maint_margin_pct
                               : (__int128)100 * KDEC_SCALE + p->cfg.maint_margin_pct;
    /* long: L = (cost - M) / (q (1 - mmr)); short: L = (cost + M) / (q (1 + mmr)) */
    __int128 num = (ps->qty > 0 ? cost - m : cost + m) * 100;
    if (num <= 0)
        return 0;
    __int128 l = num / (q * mmr / KDEC_SCALE);
    return l > KDEC_MAX ? KDEC_MAX : (kdec)l;
}

static paper_book *paper_book_get(paper *p, enum venue v, const char *sym, bool create)
{
    for (uint32_t i = 0; i < p->nbooks; i++)
        if (p->books[i].venue == v && !strcmp(p->books[i].symbol, sym))
            return &p->books[i];
    if (!create)
        return NULL;
    if (p->nbooks == p->cbooks) {
        p->cbooks = p->cbooks ? p->cbooks * 2 : 8;
        p->books = xrealloc(p->books, p->cbooks * sizeof *p->books);
    }
    paper_book *pb = &p->books[p->nbooks++];
    memset(pb, 0, sizeof *pb);
    pb->venue = v;
    snprintf(pb->symbol, sizeof pb->symbol, "%s", sym);
    return pb;
}

static void paper_split_assets(const paper *p, const order_req *r, paper_order *o)
{
    const instrument *in = p->instr ? instruments_find(p->instr, r->venue, r->symbol) : NULL;
    if (in) {
        snprintf(o->base, sizeof o->base, "%s", in->base);
        snprintf(o->quote, sizeof o->quote, "%s", in->quote);
        o->step = in->step;
        return;
    }
    static const char *const quotes[] = {"USDT", "USDC", "FDUSD", "BUSD", "BTC", "ETH", "BNB",
                                         "EUR"};
    char sym[KSYM_MAX];
    snprintf(sym, sizeof sym, "%s", r->symbol);
    char *dash = strchr(sym, '-'); /* OKX "BTC-USDT" */
    if (dash) {
        *dash = '\0';
        snprintf(o->base, sizeof o->base, "%.15s", sym);
        char *q = dash + 1, *d2 = strchr(q, '-');
        if (d2)
            *d2 = '\0';
        snprintf(o->quote, sizeof o->quote, "%.15s", q);
        return;
    }
    size_t n = strlen(sym);
    for (size_t i = 0; i < K_ARRAY_LEN(quotes); i++) {
        size_t ql = strlen(quotes[i]);
        if (n > ql && !strcmp(sym + n - ql, quotes[i])) {
            snprintf(o->quote, sizeof o->quote, "%s", quotes[i]);
            sym[n - ql] = '\0';
            snprintf(o->base, sizeof o->base, "%.15s", sym);
            return;
        }
    }
    snprintf(o->base, sizeof o->base, "%.15s", sym);
    snprintf(o->quote, sizeof o->quote, "USDT");
}

/* ---- events ---- */

static void paper_queue(paper *p, const broker_event *ev, int64_t at)
{
    if (p->ndue == p->cdue) {
        p->cdue = p->cdue ? p->cdue * 2 : 64;
        p->due = xrealloc(p->due, p->cdue * sizeof *p->due);
    }
    int64_t due = at + p->cfg.report_latency_ms;
    uint32_t i = p->ndue;
    while (i > 0 && p->due[i - 1].due > due)
        i--;
    memmove(&p->due[i + 1], &p->due[i], (p->ndue - i) * sizeof *p->due);
    p->due[i] = (paper_due){.due = due, .seq = p->due_seq++, .ev = *ev, .d = p->pend};
    p->due[i].ev.time_ms = due;
    p->ndue++;
    memset(&p->pend, 0, sizeof p->pend);
}

static void paper_event(paper *p, paper_order *o, enum broker_event_kind k, const char *reason,
                        int64_t at)
{
    broker_event ev = {.kind = k, .venue = o->req.venue, .side = o->req.side,
                       .qty = o->req.qty, .price = o->req.price};
    snprintf(ev.client_id, sizeof ev.client_id, "%s", o->id);
    snprintf(ev.symbol, sizeof ev.symbol, "%s", o->req.symbol);
    if (reason)
        snprintf(ev.reason, sizeof ev.reason, "%s", reason);
    paper_queue(p, &ev, at);
}

/* a trailing stop's best moved: the listener hears it like any transition (it persists it) */
static void paper_trail_to(paper *p, paper_order *o, kdec best, int64_t at)
{
    if (best <= 0 || best == o->trail_best)
        return;
    o->trail_best = best;
    broker_event ev = {.kind = BROKER_EV_TRAILED, .venue = o->req.venue, .side = o->req.side,
                       .qty = o->req.qty, .price = best};
    snprintf(ev.client_id, sizeof ev.client_id, "%s", o->id);
    snprintf(ev.symbol, sizeof ev.symbol, "%s", o->req.symbol);
    paper_queue(p, &ev, at);
}

static void paper_deliver(paper *p, int64_t now)
{
    if (p->delivering)
        return;
    p->delivering = true;
    /* one at a time, taken off the queue before it is sent: a listener may place or cancel
     * (which queues more), and what is still queued is exactly what has not been seen
     * (paper_balance_seen) */
    while (p->ndue > 0 && p->due[0].due <= now) {
        broker_event ev = p->due[0].ev;
        memmove(p->due, p->due + 1, (p->ndue - 1) * sizeof *p->due);
        p->ndue--;
        broker_emit(&p->base, &ev);
    }
    p->delivering = false;
}

/* ---- balances and locks ---- */

/* what a resting order holds: spot buy = notional + taker fee in quote, spot sell = base qty;
 * futures = notional / leverage + taker fee in quote (only when it opens) */
static kdec paper_lock_of(const paper *p, const paper_order *o, const char **asset)
{
    kdec rem = o->req.qty - o->filled;
    *asset = o->quote;
    if (!o->resting || rem <= 0)
        return 0;
    kdec n = paper_mul(rem, o->req.price);
    if (paper_futures(o->req.venue)) {
        if (o->req.reduce_only)
            return 0;
        int lev = o->req.leverage > 0 ? o->req.leverage : p->cfg.default_leverage;
        return n / (lev > 0 ? lev : 1) + paper_fee_for(p, o->req.venue, n, false);
    }
    if (o->req.side == SIDE_SELL) {
        *asset = o->base;
        return rem;
    }
    return n + paper_fee_for(p, o->req.venue, n, false);
}

static kdec paper_locked(const paper *p, const char *asset)
{
    kdec l = 0;
    for (uint32_t i = 0; i < p->nord; i++) {
        const char *a;
        kdec v = paper_lock_of(p, &p->ord[i], &a);
        if (v && !strcmp(a, asset))
            l += v;
    }
    for (uint32_t i = 0; i < p->npos; i++)
        if (p->pos[i].qty != 0 && !strcmp(asset, p->pos[i].quote))
            l += p->pos[i].margin;
    return l;
}

kdec paper_balance(const paper *p, const char *asset, kdec *locked)
{
    kdec l = paper_locked(p, asset);
    if (locked)
        *locked = l;
    return paper_total(p, asset);
}

static kdec paper_avail(const paper *p, const char *asset)
{
    return paper_total(p, asset) - paper_locked(p, asset);
}

/* ---- fills ---- */

/* books a fill of o: balances / position, the order's counters, the FILL event */
static void paper_book_fill(paper *p, paper_order *o, kdec px, kdec qty, bool maker, int64_t at)
{
    kdec notional = paper_mul(px, qty);
    kdec fee = paper_fee_for(p, o->req.venue, notional, maker);
    if (o->req.sweep) /* the dust conversion's fee, rounded up */
        fee = (kdec)(((__int128)notional * PAPER_DUST_FEE_PCT + 99) / 100);
    paper_delta d = {0};
    if (paper_futures(o->req.venue)) {
        paper_pos *ps = paper_pos_get(p, o->req.venue, o->req.symbol, true);
        snprintf(ps->quote, sizeof ps->quote, "%s", o->quote);
        kdec q0 = ps->qty, m0 = ps->margin, t0 = paper_total(p, o->quote);
        __int128 c0 = ps->cost;
        kdec signed_q = o->req.side == SIDE_BUY ? qty : -qty;
        kdec closing = 0;
        if (ps->qty != 0 && (ps->qty > 0) != (signed_q > 0)) {
            kdec aq = ps->qty > 0 ? ps->qty : -ps->qty;
            closing = K_MIN(aq, qty);
        }
        if (closing > 0) {
            kdec aq = ps->qty > 0 ? ps->qty : -ps->qty;
            __int128 cost_closed = ps->cost * closing / aq; /* signed */
            __int128 value = (__int128)px * closing / KDEC_SCALE * (ps->qty > 0 ? 1 : -1);
            __int128 pnl = value - cost_closed;
            kdec m_rel = (kdec)((__int128)ps->margin * closing / aq);
            ps->cost -= cost_closed;
            ps->qty += ps->qty > 0 ? -closing : closing;
            ps->margin -= m_rel;
            paper_credit(p, o->quote, (kdec)pnl);
            if (ps->qty == 0) {
                ps->cost = 0;
                ps->margin = 0;
            }
        }
        kdec opening = qty - closing;
        if (opening > 0) {
            if (ps->qty == 0)
                ps->leverage = o->req.leverage > 0 ? o->req.leverage : p->cfg.default_leverage;
            int lev = ps->leverage > 0 ? ps->leverage : 1;
            ps->qty += o->req.side == SIDE_BUY ? opening : -opening;
            ps->cost += (__int128)px * opening / KDEC_SCALE * (o->req.side == SIDE_BUY ? 1 : -1);
            ps->margin += (paper_mul(px, opening) + lev - 1) / lev;
        }
        paper_credit(p, o->quote, -fee);
        d = (paper_delta){.dqty = ps->qty - q0, .dcost = (kdec)(ps->cost - c0),
                          .dmargin = ps->margin - m0, .dquote = paper_total(p, o->quote) - t0};
        snprintf(d.asset, sizeof d.asset, "%s", o->quote);
    } else if (o->req.side == SIDE_BUY) {
        paper_credit(p, o->quote, -notional - fee);
        paper_credit(p, o->base, qty);
    } else {
        paper_credit(p, o->base, -qty);
        paper_credit(p, o->quote, notional - fee);
    }
    o->filled += qty;
    o->filled_quote += notional;
    if (o->filled == o->req.qty) {
        o->status = ORDER_FILLED;
        o->resting = false;
    } else {
        o->status = ORDER_PARTIALLY_FILLED;
    }
    broker_event ev = {.kind = BROKER_EV_FILL, .venue = o->req.venue, .side = o->req.side};
    snprintf(ev.client_id, sizeof ev.client_id, "%s", o->id);
    snprintf(ev.symbol, sizeof ev.symbol, "%s", o->req.symbol);
    ev.fill = (order_fill){.trade_id = p->cfg.trade_id_base + ++p->trade_seq, .time_ms = at,
                           .px = px, .qty = qty, .fee = fee, .maker = maker};
    snprintf(ev.fill.fee_asset, sizeof ev.fill.fee_asset, "%s", o->quote);
    p->pend = d;
    paper_queue(p, &ev, at);
}

/* the most of qty (floored to the step) a spot buy can pay for at px, given free quote */
static kdec paper_affordable(const paper *p, const paper_order *o, kdec px, kdec qty,
                             kdec free_quote, bool maker)
{
    kdec n = paper_mul(px, qty);
    if (n + paper_fee_for(p, o->req.venue, n, maker) <= free_quote)
        return qty;
    const paper_fee *f = &p->cfg.fees[o->req.venue];
    kdec pct = maker ? f->maker_pct : f->taker_pct;
    /* q <= free / (px * (1 + pct/100)) */
    __int128 den = (__int128)px * ((__int128)100 * KDEC_SCALE + pct) / ((__int128)100 * KDEC_SCALE);
    if (den <= 0 || free_quote <= 0)
        return 0;
    kdec q = (kdec)((__int128)free_quote * KDEC_SCALE / den);
    if (o->step > 0)
        q -= q % o->step;
    while (q > 0) { /* fee rounding: step down until it fits */
        kdec nn = paper_mul(px, q);
        if (nn + paper_fee_for(p, o->req.venue, nn, maker) <= free_quote)
            break;
        q -= o->step > 0 ? o->step : 1;
    }
    return q < 0 ? 0 : K_MIN(q, qty);
}

/* margin a futures fill that opens `opening` at px needs, plus its fee */
static kdec paper_margin_need(const paper *p, const paper_order *o, kdec px, kdec opening,
                              bool maker)
{
    int lev = o->req.leverage > 0 ? o->req.leverage : p->cfg.default_leverage;
    if (lev <= 0)
        lev = 1;
    kdec n = paper_mul(px, opening);
    return (n + lev - 1) / lev + paper_fee_for(p, o->req.venue, n, maker);
}

/* quantity of o that would open (increase) a futures position */
static kdec paper_opening_qty(paper *p, const paper_order *o, kdec qty)
{
    paper_pos *ps = paper_pos_get(p, o->req.venue, o->req.symbol, false);
    if (!ps || ps->qty == 0 || (ps->qty > 0) == (o->req.side == SIDE_BUY))
        return qty;
    kdec aq = ps->qty > 0 ? ps->qty : -ps->qty;
    return qty > aq ? qty - aq : 0;
}

/* Takes liquidity from the book for o, up to limit (0 = the slippage cap). Returns why it
 * stopped ("" when the quantity is complete). */
static void paper_take(paper *p, paper_order *o, const book *b, kdec limit, int64_t at,
                       char *why, size_t whylen)
{
    why[0] = '\0';
    enum book_side bs = o->req.side == SIDE_BUY ? BOOK_ASK : BOOK_BID;
    uint32_t depth = book_is_live(b) ? book_depth(b, bs) : 0;
    kdec best = 0, bq = 0;
    if (depth == 0 || book_level(b, bs, 0, &best, &bq) != K_OK) {
        snprintf(why, whylen, "no liquidity: book of %s not live or empty", o->req.symbol);
        return;
    }
    kdec cap = p->cfg.slippage_cap_pct;
    kdec capx = o->req.side == SIDE_BUY ? best + paper_pct_up(best, cap)
                                        : best - paper_pct_up(best, cap);
    bool buy = o->req.side == SIDE_BUY;
    for (uint32_t i = 0; i < depth && o->filled < o->req.qty; i++) {
        kdec px, lq;
        if (book_level(b, bs, i, &px, &lq) != K_OK)
            break;
        if (limit > 0 && (buy ? px > limit : px < limit)) {
            snprintf(why, whylen, "limit price reached");
            return;
        }
        if (buy ? px > capx : px < capx) {
            char t1[40], t2[40];
            snprintf(why, whylen, "slippage cap %s%% reached at %s", paper_txt(cap, t1),
                     paper_txt(px, t2));
            return;
        }
        kdec take = K_MIN(lq, o->req.qty - o->filled);
        if (paper_futures(o->req.venue)) {
            kdec opening = paper_opening_qty(p, o, take);
            if (opening > 0 && !o->req.reduce_only) {
                kdec need = paper_margin_need(p, o, px, opening, false);
                if (need > paper_avail(p, o->quote)) {
                    char t1[40], t2[40];
                    snprintf(why, whylen, "insufficient margin: need %s %s, free %s",
                             paper_txt(need, t1), o->quote,
                             paper_txt(paper_avail(p, o->quote), t2));
                    return;
                }
            }
        } else if (buy) {
            kdec can = paper_affordable(p, o, px, take, paper_avail(p, o->quote), false);
            if (can < take) {
                if (can > 0)
                    paper_book_fill(p, o, px, can, false, at);
                snprintf(why, whylen, "insufficient %s balance", o->quote);
                return;
            }
        } else if (take > paper_avail(p, o->base)) {
            snprintf(why, whylen, "insufficient %s balance", o->base);
            return;
        }
        paper_book_fill(p, o, px, take, false, at);
    }
    if (o->filled < o->req.qty && !why[0])
        snprintf(why, whylen, "book depth exhausted");
}

/* total quantity available up to limit (FOK check) */
static kdec paper_available(const book *b, enum side side, kdec limit)
{
    enum book_side bs = side == SIDE_BUY ? BOOK_ASK : BOOK_BID;
    uint32_t depth = book_is_live(b) ? book_depth(b, bs) : 0;
    kdec sum = 0;
    for (uint32_t i = 0; i < depth; i++) {
        kdec px, q;
        if (book_level(b, bs, i, &px, &q) != K_OK)
            break;
        if (side == SIDE_BUY ? px > limit : px < limit)
            break;
        sum += q;
    }
    return sum;
}

static kdec paper_qty_at(const book *b, enum book_side bs, kdec px)
{
    uint32_t depth = book_is_live(b) ? book_depth(b, bs) : 0;
    for (uint32_t i = 0; i < depth; i++) {
        kdec lp, q;
        if (book_level(b, bs, i, &lp, &q) != K_OK)
            break;
        if (lp == px)
            return q;
        if (bs == BOOK_BID ? lp < px : lp > px)
            break;
    }
    return 0;
}

static void paper_finish(paper *p, paper_order *o, enum order_status st, const char *why,
                         int64_t at)
{
    o->status = st;
    o->resting = false;
    paper_event(p, o, st == ORDER_EXPIRED ? BROKER_EV_EXPIRED
                      : st == ORDER_REJECTED ? BROKER_EV_REJECTED : BROKER_EV_CANCELED,
                why, at);
}

static void paper_execute_market(paper *p, paper_order *o, const paper_book *pb, int64_t at)
{
    char why[ORDER_REASON_MAX];
    if (!pb || !pb->b) {
        paper_finish(p, o, ORDER_EXPIRED, "no book attached", at);
        return;
    }
    paper_take(p, o, pb->b, 0, at, why, sizeof why);
    if (o->filled < o->req.qty) {
        char msg[2 * ORDER_REASON_MAX], t1[40], t2[40];
        snprintf(msg, sizeof msg, "%s: filled %s of %s", why, paper_txt(o->filled, t1),
                 paper_txt(o->req.qty, t2));
        paper_finish(p, o, ORDER_EXPIRED, msg, at);
    }
}

/* a limit reaching the book (placement or a triggered stop-limit) */
static void paper_execute_limit(paper *p, paper_order *o, const paper_book *pb, int64_t at)
{
    const book *b = pb ? pb->b : NULL;
    bool buy = o->req.side == SIDE_BUY;
    kdec bid = 0, ask = 0, bq, aq;
    bool have = b && book_best(b, &bid, &bq, &ask, &aq);
    bool marketable = have && (buy ? o->req.price >= ask : o->req.price <= bid);
    if (marketable && o->req.post_only) {
        paper_finish(p, o, ORDER_REJECTED, "post-only order would take liquidity", at);
        return;
    }
    if (marketable && o->req.tif == TIF_FOK &&
        paper_available(b, o->req.side, o->req.price) < o->req.qty - o->filled) {
        paper_finish(p, o, ORDER_EXPIRED, "FOK: not enough quantity within the limit", at);
        return;
    }
    if (marketable) {
        char why[ORDER_REASON_MAX];
        paper_take(p, o, b, o->req.price, at, why, sizeof why);
        if (o->filled == o->req.qty)
            return;
        if (strstr(why, "insufficient")) {
            paper_finish(p, o, ORDER_EXPIRED, why, at);
            return;
        }
    }
    if (o->req.tif != TIF_GTC) {
        paper_finish(p, o, ORDER_EXPIRED, o->req.tif == TIF_FOK && o->filled == 0
                                              ? "FOK: not marketable at its limit"
                                              : "IOC remainder expired", at);
        return;
    }
    /* rest: the lock must fit the free balance */
    o->resting = true;
    const char *asset;
    kdec need = paper_lock_of(p, o, &asset);
    o->resting = false;
    kdec free_now = paper_avail(p, asset);
    if (need > free_now) {
        char msg[ORDER_REASON_MAX], t1[40], t2[40];
        snprintf(msg, sizeof msg, "insufficient %s balance: need %s, free %s", asset,
                 paper_txt(need, t1), paper_txt(free_now, t2));
        if (o->filled > 0)
            paper_finish(p, o, ORDER_EXPIRED, msg, at);
        else
            paper_finish(p, o, ORDER_REJECTED, msg, at);
        return;
    }
    o->resting = true;
    o->queue_ahead = b ? paper_qty_at(b, buy ? BOOK_BID : BOOK_ASK, o->req.price) : 0;
    o->queue_unknown = !b || !book_is_live(b);
}

static bool paper_is_trigger(enum order_type t)
{
    return t == ORDER_STOP_MARKET || t == ORDER_STOP_LIMIT || t == ORDER_TAKE_PROFIT ||
           t == ORDER_TRAILING_STOP;
}

/* an order reaching the venue */
static void paper_arrive(paper *p, paper_order *o, int64_t at)
{
    o->arrived = true;
    paper_book *pb = paper_book_get(p, o->req.venue, o->req.symbol, false);
    if (o->restored) { /* checked and accepted before the restart: it only rests again */
        if (o->req.type == ORDER_LIMIT || (o->req.type == ORDER_STOP_LIMIT && o->triggered))
            paper_execute_limit(p, o, pb, at);
        return;
    }
    char msg[ORDER_REASON_MAX];
    bool fut = paper_futures(o->req.venue);
    /* spot: no shorting, reduce-only only sells; futures: reduce-only must reduce */
    if (!fut && o->req.side == SIDE_SELL && o->req.qty > paper_avail(p, o->base) &&
        !paper_is_trigger(o->req.type)) {
        char t1[40], t2[40];
        snprintf(msg, sizeof msg, "no shorting on spot: sell %s %s > free %s %s",
                 paper_txt(o->req.qty, t1), o->base, paper_txt(paper_avail(p, o->base), t2),
                 o->base);
        paper_finish(p, o, ORDER_REJECTED, msg, at);
        return;
    }
    if (o->req.reduce_only) {
        kdec can;
        if (fut) {
            paper_pos *ps = paper_pos_get(p, o->req.venue, o->req.symbol, false);
            bool reduces = ps && ps->qty != 0 && (ps->qty > 0) != (o->req.side == SIDE_BUY);
            can = reduces ? (ps->qty > 0 ? ps->qty : -ps->qty) : 0;
        } else {
            can = o->req.side == SIDE_SELL ? paper_total(p, o->base) : 0;
        }
        if (can <= 0) {
            paper_finish(p, o, ORDER_REJECTED, "reduce-only order would not reduce a position",
                         at);
            return;
        }
        if (o->req.qty > can)
            o->req.qty = can; /* reduce-only never flips: clipped to the position */
    }
    if (o->req.sweep) { /* dust: all of it at the best bid, filters do not apply */
        kdec bid = 0, bq, ask, aq;
        kdec q = K_MIN(o->req.qty, paper_avail(p, o->base));
        if (!pb || !pb->b || !book_is_live(pb->b) || !book_best(pb->b, &bid, &bq, &ask, &aq) ||
            bid <= 0) {
            paper_finish(p, o, ORDER_REJECTED, "dust sweep: no bid to sell at", at);
            return;
        }
        if (q <= 0) {
            paper_finish(p, o, ORDER_REJECTED, "dust sweep: nothing left to sweep", at);
            return;
        }
        o->req.qty = q;
        o->status = ORDER_NEW;
        paper_event(p, o, BROKER_EV_ACCEPTED, NULL, at);
        paper_book_fill(p, o, bid, q, false, at);
        return;
    }
    if (fut && o->req.leverage > 125) {
        paper_finish(p, o, ORDER_REJECTED, "leverage above 125x", at);
        return;
    }
    o->status = ORDER_NEW;
    if (o->req.type == ORDER_LIMIT) {
        /* a limit the venue refuses on arrival (post-only that would take, a lock the balance
         * cannot hold) is REJECTED, never NEW: ACCEPTED is queued only when it is not, ahead
         * of the fills and expiry of this same instant */
        uint64_t seq0 = p->due_seq;
        paper_execute_limit(p, o, pb, at);
        if (o->status != ORDER_REJECTED) {
            broker_event ev = {.kind = BROKER_EV_ACCEPTED, .venue = o->req.venue,
                               .side = o->req.side, .qty = o->req.qty};
            snprintf(ev.client_id, sizeof ev.client_id, "%s", o->id);
            snprintf(ev.symbol, sizeof ev.symbol, "%s", o->req.symbol);
            paper_queue(p, &ev, at);
            /* this arrival's events share one due time and lie together; ACCEPTED (queued
             * last) moves in front of the first of them */
            uint32_t first = 0, acc_i = 0;
            while (first < p->ndue && p->due[first].seq < seq0)
                first++;
            for (uint32_t i = first; i < p->ndue; i++)
                if (p->due[i].seq == p->due_seq - 1)
                    acc_i = i;
            if (first < acc_i) {
                paper_due acc = p->due[acc_i];
                memmove(&p->due[first + 1], &p->due[first], (acc_i - first) * sizeof *p->due);
                p->due[first] = acc;
            }
        }
        return;
    }
    paper_event(p, o, BROKER_EV_ACCEPTED, NULL, at);
    if (pb && pb->last_px > 0 && o->req.type == ORDER_TRAILING_STOP)
        paper_trail_to(p, o, pb->last_px, at);
    if (o->req.type == ORDER_MARKET)
        paper_execute_market(p, o, pb, at);
    /* the others wait for their trigger */
}

static void paper_cancel_arrive(paper *p, paper_order *o, int64_t at)
{
    o->cancel_at = 0;
    if (order_status_terminal(o->status))
        return; /* filled / expired before the cancel got there: its events say so */
    paper_finish(p, o, ORDER_CANCELED, NULL, at);
}

static void paper_advance(paper *p, int64_t now)
{
    if (now > p->now)
        p->now = now;
    while (p->pending > 0) {
        /* earliest pending arrival or cancel */
        paper_order *next = NULL;
        int64_t t = 0;
        bool is_cancel = false;
        for (uint32_t i = 0; i < p->nord; i++) {
            paper_order *o = &p->ord[i];
            if (!o->arrived && o->arrive_ms <= now && (!next || o->arrive_ms < t)) {
                next = o;
                t = o->arrive_ms;
                is_cancel = false;
            }
            if (o->arrived && o->cancel_at > 0 && o->cancel_at <= now &&
                (!next || o->cancel_at < t)) {
                next = o;
                t = o->cancel_at;
                is_cancel = true;
            }
        }
        if (!next)
            break;
        p->pending--;
        if (is_cancel)
            paper_cancel_arrive(p, next, t);
        else
            paper_arrive(p, next, t);
    }
}

/* drops terminal orders whose events were delivered, oldest first, when over the bound */
static void paper_gc(paper *p)
{
    if (p->nord < p->cfg.max_orders)
        return;
    uint32_t w = 0;
    for (uint32_t i = 0; i < p->nord; i++)
        if (!order_status_terminal(p->ord[i].status) || p->ndue)
            p->ord[w++] = p->ord[i];
    p->nord = w;
}

/* ---- vtable ---- */

static paper_order *paper_find(paper *p, const char *id)
{
    for (uint32_t i = p->nord; i-- > 0;)
        if (!strcmp(p->ord[i].id, id))
            return &p->ord[i];
    return NULL;
}

static enum broker_result paper_place(broker *b, const char *id, const order_req *req,
                                      int64_t now)
{
    paper *p = (paper *)b;
    paper_advance(p, now);
    if (!id[0] || strlen(id) >= ORDER_ID_MAX || req->qty <= 0)
        return BROKER_ERR_INVALID;
    if (req->sweep && (paper_futures(req->venue) || req->side != SIDE_SELL ||
                       req->type != ORDER_MARKET))
        return BROKER_ERR_NOT_SUPPORTED; /* USD-M closes any remainder reduce-only */
    if (paper_find(p, id))
        return BROKER_ERR_DUPLICATE_ID;
    paper_gc(p);
    if (p->nord >= p->cfg.max_orders)
        return BROKER_ERR_FULL;
    if (p->nord == p->cord) {
        p->cord = p->cord ? p->cord * 2 : 64;
        p->ord = xrealloc(p->ord, p->cord * sizeof *p->ord);
    }
    paper_order *o = &p->ord[p->nord++];
    memset(o, 0, sizeof *o);
    snprintf(o->id, sizeof o->id, "%s", id);
    o->req = *req;
    o->status = ORDER_PENDING_NEW;
    o->arrive_ms = now + p->cfg.latency_ms;
    p->pending++;
    paper_split_assets(p, req, o);
    paper_advance(p, now);
    paper_deliver(p, now);
    return BROKER_OK;
}

static enum broker_result paper_cancel(broker *b, const char *id, int64_t now)
{
    paper *p = (paper *)b;
    paper_advance(p, now);
    paper_order *o = paper_find(p, id);
    if (!o)
        return BROKER_ERR_NOT_FOUND;
    if (order_status_terminal(o->status))
        return BROKER_ERR_STATE;
    /* the cancel travels like an order; one sent while the order is in flight arrives after it */
    if (o->cancel_at == 0)
        p->pending++;
    o->cancel_at = K_MAX(now + p->cfg.latency_ms, o->arrive_ms);
    paper_advance(p, now);
    paper_deliver(p, now);
    return BROKER_OK;
}

/* Amends a resting limit in place (at once, like a cancel-replace that keeps the client id). The
 * queue model: a new price, or a larger quantity, goes to the back of the queue (the book's
 * quantity at the price now); a smaller quantity keeps its place. The lock must fit the free
 * balance. The caller refuses amends that would cross the book. */
static enum broker_result paper_amend(broker *b, const char *id, kdec price, kdec qty,
                                      int64_t now)
{
    paper *p = (paper *)b;
    paper_advance(p, now);
    paper_order *o = paper_find(p, id);
    if (!o)
        return BROKER_ERR_NOT_FOUND;
    if (order_status_terminal(o->status) || !o->arrived || !o->resting || o->cancel_at > 0)
        return BROKER_ERR_STATE;
    if (price < 0 || qty < 0 || (qty > 0 && qty <= o->filled))
        return BROKER_ERR_INVALID;
    order_req was = o->req;
    const char *asset;
    kdec before = paper_lock_of(p, o, &asset);
    if (price > 0)
        o->req.price = price;
    if (qty > 0)
        o->req.qty = qty;
    kdec after = paper_lock_of(p, o, &asset);
    if (after - before > paper_avail(p, asset)) {
        o->req = was;
        return BROKER_ERR_BALANCE;
    }
    if (o->req.price != was.price || o->req.qty > was.qty) {
        paper_book *pb = paper_book_get(p, o->req.venue, o->req.symbol, false);
        o->queue_ahead = pb && pb->b ? paper_qty_at(pb->b, o->req.side == SIDE_BUY ? BOOK_BID
                                                                                  : BOOK_ASK,
                                                    o->req.price)
                                     : 0;
        o->queue_unknown = !pb || !pb->b || !book_is_live(pb->b);
    }
    paper_event(p, o, BROKER_EV_AMENDED, NULL, now);
    paper_deliver(p, now);
    return BROKER_OK;
}

static void paper_info(const paper_order *o, broker_order_info *out)
{
    memset(out, 0, sizeof *out);
    snprintf(out->client_id, sizeof out->client_id, "%s", o->id);
    out->req = o->req;
    out->status = o->status;
    out->filled = o->filled;
    out->avg_px = o->filled ? (kdec)((__int128)o->filled_quote * KDEC_SCALE / o->filled) : 0;
    out->triggered = o->triggered;
}

static enum broker_result paper_query(broker *b, const char *id, broker_order_info *out)
{
    paper_order *o = paper_find((paper *)b, id);
    if (!o)
        return BROKER_ERR_NOT_FOUND;
    paper_info(o, out);
    return BROKER_OK;
}

static size_t paper_open_orders(broker *b, broker_order_info *out, size_t cap)
{
    paper *p = (paper *)b;
    size_t n = 0;
    for (uint32_t i = 0; i < p->nord; i++)
        if (!order_status_terminal(p->ord[i].status)) {
            if (n < cap)
                paper_info(&p->ord[i], &out[n]);
            n++;
        }
    return n;
}

static size_t paper_balances(broker *b, broker_balance *out, size_t cap)
{
    paper *p = (paper *)b;
    for (int i = 0; i < p->nassets && (size_t)i < cap; i++) {
        kdec l = paper_locked(p, p->assets[i].asset);
        snprintf(out[i].asset, sizeof out[i].asset, "%s", p->assets[i].asset);
        out[i].locked = l;
        out[i].free = p->assets[i].total - l;
    }
    return (size_t)p->nassets;
}

static size_t paper_positions(broker *b, broker_position *out, size_t cap)
{
    paper *p = (paper *)b;
    size_t n = 0;
    for (uint32_t i = 0; i < p->npos; i++) {
        const paper_pos *ps = &p->pos[i];
        if (ps->qty == 0)
            continue;
        if (n < cap) {
            broker_position *o = &out[n];
            memset(o, 0, sizeof *o);
            o->venue = ps->venue;
            snprintf(o->symbol, sizeof o->symbol, "%s", ps->symbol);
            o->qty = ps->qty;
            o->entry = paper_entry(ps);
            o->margin = ps->margin;
            o->liq_px = paper_liq_px(p, ps);
            o->leverage = ps->leverage;
        }
        n++;
    }
    return n;
}

static void paper_destroy(broker *b)
{
    paper_free((paper *)b);
}

static const broker_ops paper_ops = {
    .name = "paper",
    .can_amend = true,
    .can_sweep = true,
    .place = paper_place,
    .cancel = paper_cancel,
    .amend = paper_amend,
    .query = paper_query,
    .open_orders = paper_open_orders,
    .balances = paper_balances,
    .positions = paper_positions,
    .destroy = paper_destroy,
};

/* ---- public ---- */

paper *paper_new(const paper_config *c, const instruments *instr)
{
    paper *p = xcalloc(1, sizeof *p);
    p->base.ops = &paper_ops;
    if (c)
        p->cfg = *c;
    else
        paper_config_default(&p->cfg);
    if (p->cfg.max_orders == 0)
        p->cfg.max_orders = 10000;
    p->instr = instr;
    for (int i = 0; i < p->cfg.nbalances; i++)
        paper_credit(p, p->cfg.balances[i].asset, p->cfg.balances[i].free);
    return p;
}

void paper_free(paper *p)
{
    if (!p)
        return;
    free(p->ord);
    free(p->pos);
    free(p->books);
    free(p->due);
    free(p);
}

broker *paper_broker(paper *p)
{
    return &p->base;
}

void paper_attach_book(paper *p, enum venue v, const char *symbol, const book *b)
{
    paper_book_get(p, v, symbol, true)->b = b;
}

void paper_on_time(paper *p, int64_t now_ms)
{
    paper_advance(p, now_ms);
    paper_deliver(p, now_ms);
}

kdec paper_balance_seen(const paper *p, const char *asset)
{
    kdec t = paper_total(p, asset);
    for (uint32_t i = 0; i < p->ndue; i++) { /* undo the spot fills still on their way */
        const broker_event *ev = &p->due[i].ev;
        if (ev->kind != BROKER_EV_FILL || paper_futures(ev->venue))
            continue;
        const paper_order *o = paper_find((paper *)p, ev->client_id);
        if (!o)
            continue;
        kdec n = paper_mul(ev->fill.px, ev->fill.qty);
        bool buy = ev->side == SIDE_BUY;
        if (!strcmp(asset, o->quote))
            t += buy ? n + ev->fill.fee : -(n - ev->fill.fee);
        else if (!strcmp(asset, o->base))
            t += buy ? -ev->fill.qty : ev->fill.qty;
    }
    for (uint32_t i = 0; i < p->ndue; i++) /* and the futures events still on their way */
        if (p->due[i].d.asset[0] && !strcmp(p->due[i].d.asset, asset))
            t -= p->due[i].d.dquote;
    return t;
}

size_t paper_assets(const paper *p, char (*out)[INSTR_ASSET_MAX], size_t cap)
{
    for (int i = 0; i < p->nassets && (size_t)i < cap; i++)
        snprintf(out[i], INSTR_ASSET_MAX, "%s", p->assets[i].asset);
    return (size_t)p->nassets;
}

void paper_restore_balance(paper *p, const char *asset, kdec total)
{
    paper_asset *a = paper_asset_get(p, asset, true);
    if (a)
        a->total = total;
}

enum broker_result paper_restore_order(paper *p, const char *client_id, const order_req *req,
                                       enum order_status status, kdec filled,
                                       kdec filled_quote, bool triggered, int64_t now_ms)
{
    if (!client_id[0] || strlen(client_id) >= ORDER_ID_MAX || req->qty <= 0 || filled < 0 ||
        filled >= req->qty || (status != ORDER_NEW && status != ORDER_PARTIALLY_FILLED))
        return BROKER_ERR_INVALID;
    if (paper_find(p, client_id))
        return BROKER_ERR_DUPLICATE_ID;
    if (p->nord >= p->cfg.max_orders)
        return BROKER_ERR_FULL;
    if (p->nord == p->cord) {
        p->cord = p->cord ? p->cord * 2 : 64;
        p->ord = xrealloc(p->ord, p->cord * sizeof *p->ord);
    }
    paper_order *o = &p->ord[p->nord++];
    memset(o, 0, sizeof *o);
    snprintf(o->id, sizeof o->id, "%s", client_id);
    o->req = *req;
    o->status = status;
    o->filled = filled;
    o->filled_quote = filled_quote;
    o->triggered = triggered;
    o->restored = true;
    o->arrive_ms = now_ms + p->cfg.latency_ms;
    p->pending++;
    paper_split_assets(p, req, o);
    return BROKER_OK;
}

int paper_restore_trail(paper *p, const char *client_id, kdec best)
{
    paper_order *o = paper_find(p, client_id);
    if (!o || o->req.type != ORDER_TRAILING_STOP || best < 0)
        return K_ERR;
    o->trail_best = best; /* as stored: no event, the listener has it */
    return K_OK;
}

size_t paper_positions_seen(const paper *p, paper_position_state *out, size_t cap)
{
    size_t n = 0;
    for (uint32_t i = 0; i < p->npos; i++) {
        const paper_pos *ps = &p->pos[i];
        paper_position_state st = {.venue = ps->venue, .qty = ps->qty, .cost = (kdec)ps->cost,
                                   .margin = ps->margin, .leverage = ps->leverage};
        snprintf(st.symbol, sizeof st.symbol, "%s", ps->symbol);
        snprintf(st.quote, sizeof st.quote, "%s", ps->quote);
        for (uint32_t k = 0; k < p->ndue; k++) {
            const paper_due *d = &p->due[k];
            if (!d->d.asset[0] || d->ev.venue != ps->venue || strcmp(d->ev.symbol, ps->symbol))
                continue;
            st.qty -= d->d.dqty;
            st.cost -= d->d.dcost;
            st.margin -= d->d.dmargin;
        }
        if (st.qty == 0)
            continue;
        if (n < cap)
            out[n] = st;
        n++;
    }
    return n;
}

kdec paper_position_liq_px(const paper *p, const paper_position_state *st)
{
    paper_pos ps = {.venue = st->venue, .qty = st->qty, .cost = st->cost, .margin = st->margin,
                    .leverage = st->leverage};
    return paper_liq_px(p, &ps);
}

int paper_restore_position(paper *p, const paper_position_state *st)
{
    if (!paper_futures(st->venue) || !st->symbol[0] || !st->quote[0] || st->qty == 0 ||
        st->margin < 0 || st->leverage < 1 || st->leverage > 125 ||
        (st->qty > 0) != (st->cost > 0))
        return K_ERR;
    paper_pos *ps = paper_pos_get(p, st->venue, st->symbol, true);
    ps->qty = st->qty;
    ps->cost = st->cost;
    ps->margin = st->margin;
    ps->leverage = st->leverage;
    snprintf(ps->quote, sizeof ps->quote, "%s", st->quote);
    return K_OK;
}

kdec paper_queue_ahead(const paper *p, const char *client_id)
{
    const paper_order *o = paper_find((paper *)p, client_id);
    return o && o->resting ? o->queue_ahead : -1;
}

uint32_t paper_in_flight(const paper *p)
{
    uint32_t n = p->ndue;
    for (uint32_t i = 0; i < p->nord; i++)
        n += !p->ord[i].arrived || p->ord[i].cancel_at > 0;
    return n;
}

/* stop / tp / trailing: does this trade trigger o? (a trailing stop's best follows the
 * print first) */
static bool paper_triggers(paper *p, paper_order *o, kdec px, int64_t now)
{
    bool buy = o->req.side == SIDE_BUY;
    switch (o->req.type) {
    case ORDER_STOP_MARKET:
    case ORDER_STOP_LIMIT:
        return buy ? px >= o->req.stop : px <= o->req.stop;
    case ORDER_TAKE_PROFIT:
        return buy ? px <= o->req.stop : px >= o->req.stop;
    case ORDER_TRAILING_STOP: {
        if (o->trail_best == 0 || (buy ? px < o->trail_best : px > o->trail_best))
            paper_trail_to(p, o, px, now);
        kdec s = order_trail_stop(&o->req, o->trail_best);
        return buy ? px >= s : px <= s;
    }
    default:
        return false;
    }
}

static void paper_liquidate(paper *p, paper_pos *ps, kdec px, int64_t now)
{
    kdec liq = paper_liq_px(p, ps);
    if (liq <= 0 || (ps->qty > 0 ? px > liq : px < liq))
        return;
    /* isolated: the whole position margin is lost */
    broker_event ev = {.kind = BROKER_EV_LIQUIDATION, .venue = ps->venue,
                       .side = ps->qty > 0 ? SIDE_SELL : SIDE_BUY, .price = liq,
                       .amount = -ps->margin};
    snprintf(ev.symbol, sizeof ev.symbol, "%s", ps->symbol);
    ev.fill.qty = ps->qty > 0 ? ps->qty : -ps->qty;
    ev.fill.px = liq;
    char t1[40], t2[40];
    snprintf(ev.reason, sizeof ev.reason, "liquidated at %s (price %s)", paper_txt(liq, t1),
             paper_txt(px, t2));
    paper_credit(p, ps->quote, -ps->margin);
    p->pend = (paper_delta){.dqty = -ps->qty, .dcost = (kdec)-ps->cost, .dmargin = -ps->margin,
                            .dquote = -ps->margin};
    snprintf(p->pend.asset, sizeof p->pend.asset, "%s", ps->quote);
    ps->qty = 0;
    ps->cost = 0;
    ps->margin = 0;
    paper_queue(p, &ev, now);
}

void paper_on_trade(paper *p, const feed_event *tr, int64_t now_ms)
{
    paper_advance(p, now_ms);
    if (tr->kind != FEED_TRADE) {
        paper_deliver(p, now_ms);
        return;
    }
    kdec px = tr->u.trade.px, tq = tr->u.trade.qty;
    paper_book *pb = paper_book_get(p, tr->venue, tr->symbol, true);
    pb->last_px = px;
    for (uint32_t i = 0; i < p->nord; i++) {
        paper_order *o = &p->ord[i];
        if (!o->arrived || order_status_terminal(o->status) || o->req.venue != tr->venue ||
            strcmp(o->req.symbol, tr->symbol))
            continue;
        if (paper_is_trigger(o->req.type) && !o->triggered) {
            if (!paper_triggers(p, o, px, now_ms))
                continue;
            o->triggered = true;
            paper_event(p, o, BROKER_EV_TRIGGERED, NULL, now_ms);
            if (o->req.type == ORDER_STOP_LIMIT) {
                paper_execute_limit(p, o, pb, now_ms);
            } else if (!o->req.reduce_only && o->req.side == SIDE_SELL &&
                       !paper_futures(o->req.venue) && o->req.qty > paper_avail(p, o->base)) {
                paper_finish(p, o, ORDER_EXPIRED, "no shorting on spot at trigger", now_ms);
            } else {
                paper_execute_market(p, o, pb, now_ms);
            }
            continue;
        }
        if (!o->resting)
            continue;
        bool buy = o->req.side == SIDE_BUY;
        if (o->queue_unknown && pb->b && book_is_live(pb->b)) {
            /* the book as it is now (before this print is applied to it): conservative */
            o->queue_ahead = paper_qty_at(pb->b, buy ? BOOK_BID : BOOK_ASK, o->req.price);
            o->queue_unknown = false;
        }
        kdec rem = o->req.qty - o->filled;
        kdec fill = 0;
        if (buy ? px < o->req.price : px > o->req.price) {
            fill = rem; /* traded through: everything at our price is gone */
        } else if (px == o->req.price && (buy == tr->u.trade.buyer_maker)) {
            if (tq > o->queue_ahead) {
                fill = K_MIN(rem, tq - o->queue_ahead);
                o->queue_ahead = 0;
            } else {
                o->queue_ahead -= tq;
            }
        }
        if (fill > 0)
            paper_book_fill(p, o, o->req.price, fill, true, now_ms);
    }
    /* liquidations on trades when no mark price is known */
    for (uint32_t i = 0; i < p->npos; i++)
        if (p->pos[i].qty != 0 && p->pos[i].venue == tr->venue &&
            !strcmp(p->pos[i].symbol, tr->symbol) && pb->mark == 0)
            paper_liquidate(p, &p->pos[i], px, now_ms);
    paper_deliver(p, now_ms);
}

void paper_on_mark(paper *p, enum venue v, const char *symbol, kdec mark, int64_t now_ms)
{
    paper_advance(p, now_ms);
    paper_book_get(p, v, symbol, true)->mark = mark;
    paper_pos *ps = paper_pos_get(p, v, symbol, false);
    if (ps && ps->qty != 0)
        paper_liquidate(p, ps, mark, now_ms);
    paper_deliver(p, now_ms);
}

void paper_on_funding(paper *p, enum venue v, const char *symbol, kdec rate, kdec mark,
                      int64_t now_ms)
{
    paper_advance(p, now_ms);
    paper_pos *ps = paper_pos_get(p, v, symbol, false);
    if (ps && ps->qty != 0 && paper_futures(v)) {
        /* payment = qty * mark * rate; > 0 paid by longs. Rounded against the trader. */
        __int128 raw = (__int128)ps->qty * mark / KDEC_SCALE * rate; /* 1e-16 */
        kdec pay = (kdec)(raw >= 0 ? (raw + KDEC_SCALE - 1) / KDEC_SCALE : raw / KDEC_SCALE);
        paper_credit(p, ps->quote, -pay);
        p->pend = (paper_delta){.dquote = -pay};
        snprintf(p->pend.asset, sizeof p->pend.asset, "%s", ps->quote);
        broker_event ev = {.kind = BROKER_EV_FUNDING, .venue = v, .price = mark, .amount = -pay};
        snprintf(ev.symbol, sizeof ev.symbol, "%s", symbol);
        ev.side = ps->qty > 0 ? SIDE_BUY : SIDE_SELL;
        char t1[40];
        snprintf(ev.reason, sizeof ev.reason, "funding rate %s", paper_txt(rate, t1));
        paper_queue(p, &ev, now_ms);
    }
    paper_deliver(p, now_ms);
}
