/* The one ingest pipeline (see ingest.h): decoder table -> per-venue data clock -> market model
 * -> bar closes with grace -> market clock.
 *
 * The decoder table maps a venue to its pure decoder (bytes -> feed_event); a venue without one
 * refuses its frames, counted. Sources differ only in how frames reach ingest_frame_apply():
 * the replay pump, the net thread's queue, a REST response, a kline CSV reader (ingest_event).
 *
 * Bar closes run once per second of data clock at most (market_advance_venue walks every symbol
 * of the venue), at the moment the clock minus the grace crosses a second: a 1s bar closes as
 * soon as its grace has passed, never earlier, and the walk costs nothing per message. */
#include "kestrel/ingest.h"

#include "kestrel/binance.h"
#include "kestrel/okx.h"
#include "kestrel/replay.h"
#include "kestrel/xmalloc.h"

#include <stdlib.h>
#include <string.h>

#define INGEST_DEF_GRACE_MS 250
#define INGEST_DEF_SKEW_MS (5 * 60 * 1000LL)
#define INGEST_DEF_LEVELS 10000u
#define INGEST_WALL_IDLE_MS 1000 /* a venue silent this long follows the wall clock (live) */

#define INGEST_MAX_EVENTS 64 /* events one message may carry (OKX pushes arrays) */

/* A venue decoder: one message -> up to cap_evs events (*nev), levels in the shared scratch. */
typedef int (*ingest_decode_fn)(const char *json, size_t len, feed_event *evs, uint32_t cap_evs,
                                uint32_t *nev, feed_level *levels, uint32_t cap_levels,
                                const char **why);

static int ingest_binance(const char *json, size_t len, feed_event *evs, uint32_t cap_evs,
                          uint32_t *nev, feed_level *levels, uint32_t cap_levels,
                          const char **why)
{
    (void)cap_evs;
    int rc = binance_decode(json, len, &evs[0], levels, cap_levels, why);
    *nev = rc == K_OK ? 1 : 0;
    return rc;
}

static int ingest_okx(const char *json, size_t len, feed_event *evs, uint32_t cap_evs,
                      uint32_t *nev, feed_level *levels, uint32_t cap_levels, const char **why)
{
    return okx_decode(json, len, evs, cap_evs, nev, levels, cap_levels, NULL, why);
}

/* The decoder table: one pure decoder per venue. */
static const ingest_decode_fn ingest_decoders[VENUE_COUNT] = {
    [VENUE_BINANCE_SPOT] = ingest_binance,
    [VENUE_BINANCE_USDM] = ingest_binance,
    [VENUE_OKX] = ingest_okx,
};

typedef struct ingest_vclock {
    int64_t data_ms;      /* newest believed exchange time */
    int64_t advanced_s;   /* (data_ms - grace) / 1000 at the last bar-close walk */
    int64_t lag_ms;       /* receive time - exchange time of the newest frame (live) */
    int64_t last_wall_ms; /* wall time of the last frame that moved the clock (live) */
} ingest_vclock;

struct ingest {
    market *m;
    kclock *clock;
    ingest_opts o;
    feed_level *levels;
    feed_event evs[INGEST_MAX_EVENTS];
    ingest_vclock vc[VENUE_COUNT];
    int64_t current_ms;
    char last_symbol[KSYM_MAX]; /* of the last decoded frame: sources learn from it */
    int64_t time_offset_ms;     /* added to every exchange time (a --loop pass) */
    ingest_stats st;
};

const char *ingest_strerror(enum ingest_result r)
{
    switch (r) {
    case INGEST_OK: return "applied";
    case INGEST_IGNORED: return "ignored";
    case INGEST_MALFORMED: return "malformed message";
    case INGEST_BAD_TIME: return "exchange time too far from the receive time";
    case INGEST_REFUSED: return "refused by the market model";
    }
    return "?";
}

ingest *ingest_new(market *m, kclock *clock, const ingest_opts *opts)
{
    ingest *p = xcalloc(1, sizeof *p);
    p->m = m;
    p->clock = clock;
    p->o.grace_ms = INGEST_DEF_GRACE_MS;
    p->o.max_skew_ms = INGEST_DEF_SKEW_MS;
    p->o.max_levels = INGEST_DEF_LEVELS;
    if (opts) {
        if (opts->grace_ms >= 0)
            p->o.grace_ms = opts->grace_ms;
        if (opts->max_skew_ms > 0)
            p->o.max_skew_ms = opts->max_skew_ms;
        if (opts->max_levels > 0)
            p->o.max_levels = opts->max_levels;
    }
    p->levels = xcalloc(p->o.max_levels, sizeof *p->levels);
    market_set_grace(m, p->o.grace_ms);
    return p;
}

void ingest_free(ingest *p)
{
    if (!p)
        return;
    free(p->levels);
    free(p);
}

static enum ingest_result ingest_count(ingest *p, enum venue v, enum ingest_result r)
{
    ingest_venue_stats *vs = &p->st.venue[(unsigned)v < VENUE_COUNT ? v : 0];
    p->st.frames++;
    vs->frames++;
    switch (r) {
    case INGEST_OK: p->st.applied++, vs->applied++; break;
    case INGEST_IGNORED: p->st.ignored++, vs->ignored++; break;
    case INGEST_MALFORMED: p->st.malformed++, vs->malformed++; break;
    case INGEST_BAD_TIME: p->st.bad_time++, vs->bad_time++; break;
    case INGEST_REFUSED: p->st.refused++, vs->refused++; break;
    }
    return r;
}

/* Bars of venue v close once its clock minus the grace has crossed a second. */
static void ingest_close_bars(ingest *p, enum venue v)
{
    ingest_vclock *c = &p->vc[v];
    int64_t sec = (c->data_ms - p->o.grace_ms) / 1000;
    if (sec != c->advanced_s) {
        c->advanced_s = sec;
        market_advance_venue(p->m, v, c->data_ms);
    }
}

static int64_t ingest_kline_ms(const feed_event *ev)
{
    enum tf tf;
    return tf_parse_kline(ev->u.kline.interval, &tf) == K_OK ? tf_ms(tf) : 0;
}

static void ingest_tick_clock(ingest *p)
{
    if (p->clock && kclock_kind(p->clock) == KCLOCK_SIMULATED)
        kclock_advance(p->clock, ingest_clock_ms(p));
}

/* Clock, apply and bar closes for one decoded event (not counted: the caller counts frames). */
static enum ingest_result ingest_apply(ingest *p, const feed_event *ev, const char **why)
{
    enum venue v = ev->venue;
    if ((unsigned)v >= VENUE_COUNT) {
        if (why)
            *why = "unknown venue";
        return INGEST_REFUSED;
    }
    if (ev->kind == FEED_NONE)
        return INGEST_IGNORED;
    ingest_vclock *c = &p->vc[v];
    int64_t recv_ms = ev->recv_ns / 1000000;
    int64_t t;
    if (ev->kind == FEED_KLINE) {
        /* a closed bar stands for its end; a kline source without receive times (CSV) is
         * believed as it is */
        t = ev->u.kline.closed ? ev->u.kline.open_ms + ingest_kline_ms(ev) : 0;
        if (ev->recv_ns > 0 && t > 0 && llabs(t - recv_ms) > p->o.max_skew_ms) {
            if (why)
                *why = "kline time too far from its receive time";
            return INGEST_BAD_TIME;
        }
    } else if (ev->event_ms > 0) {
        t = ev->event_ms;
        if (ev->kind == FEED_TRADE && ev->u.trade.time_ms > t)
            t = ev->u.trade.time_ms;
        if (llabs(ev->event_ms - recv_ms) > p->o.max_skew_ms ||
            (ev->kind == FEED_TRADE && llabs(ev->u.trade.time_ms - recv_ms) > p->o.max_skew_ms)) {
            if (why)
                *why = "exchange time too far from its receive time";
            return INGEST_BAD_TIME;
        }
    } else {
        /* no exchange time (spot bookTicker, REST snapshot): the receive time moves a clock
         * that an exchange time has started, unless it is far from it (a garbage timestamp
         * must neither start nor drag the clock) */
        t = c->data_ms != 0 && llabs(recv_ms - c->data_ms) <= p->o.max_skew_ms ? recv_ms : 0;
    }
    if (t > c->data_ms) {
        c->data_ms = t;
        if (ev->recv_ns > 0)
            c->lag_ms = recv_ms - t;
    }
    p->st.venue[v].clock_ms = c->data_ms;
    p->st.venue[v].last_recv_ns = ev->recv_ns;
    p->current_ms = t ? t : c->data_ms ? c->data_ms : recv_ms;
    if (market_apply(p->m, ev) != K_OK) {
        if (why)
            *why = "refused by the market model";
        return INGEST_REFUSED;
    }
    ingest_close_bars(p, v);
    ingest_tick_clock(p);
    return INGEST_OK;
}

enum ingest_result ingest_event(ingest *p, const feed_event *ev, const char **why)
{
    enum ingest_result r = ingest_apply(p, ev, why);
    return ingest_count(p, (unsigned)ev->venue < VENUE_COUNT ? ev->venue : VENUE_BINANCE_SPOT, r);
}

/* Which outcome a frame of several events reports: a refusal over an applied event over an
 * ignored one. */
static int ingest_rank(enum ingest_result r)
{
    return r == INGEST_IGNORED ? 0 : r == INGEST_OK ? 1 : 1 + (int)r;
}

enum ingest_result ingest_frame_apply(ingest *p, const ingest_frame *f, const char **why)
{
    if ((unsigned)f->venue >= VENUE_COUNT || !ingest_decoders[f->venue]) {
        if (why)
            *why = "no decoder for this venue";
        return ingest_count(p, (unsigned)f->venue < VENUE_COUNT ? f->venue : VENUE_BINANCE_SPOT,
                            INGEST_REFUSED);
    }
    const char *w = NULL;
    uint32_t nev = 0;
    if (ingest_decoders[f->venue](f->bytes, f->len, p->evs, INGEST_MAX_EVENTS, &nev, p->levels,
                                  p->o.max_levels, &w) != K_OK) {
        if (why)
            *why = w ? w : "malformed";
        return ingest_count(p, f->venue, INGEST_MALFORMED);
    }
    if (nev == 0) /* a benign message: ack, ping, pong, an event with nothing to apply */
        return ingest_count(p, f->venue, INGEST_IGNORED);
    /* every event of the message goes the same way; the frame counts once, by its worst */
    enum ingest_result worst = INGEST_IGNORED;
    for (uint32_t i = 0; i < nev; i++) {
        feed_event *ev = &p->evs[i];
        memcpy(p->last_symbol, ev->symbol, KSYM_MAX);
        ev->venue = f->venue; /* the source knows better than the message */
        ev->recv_ns = f->recv_ns;
        if (p->time_offset_ms) {
            if (ev->event_ms)
                ev->event_ms += p->time_offset_ms;
            if (ev->kind == FEED_TRADE && ev->u.trade.time_ms)
                ev->u.trade.time_ms += p->time_offset_ms;
            if (ev->kind == FEED_KLINE) {
                ev->u.kline.open_ms += p->time_offset_ms;
                ev->u.kline.close_ms += p->time_offset_ms;
            }
        }
        if (ev->kind == FEED_DEPTH_SNAPSHOT && !ev->symbol[0] && f->symbol && f->symbol[0] &&
            strlen(f->symbol) < KSYM_MAX)
            memcpy(ev->symbol, f->symbol, strlen(f->symbol) + 1);
        enum ingest_result r = ingest_apply(p, ev, why);
        if (ingest_rank(r) > ingest_rank(worst))
            worst = r;
    }
    return ingest_count(p, f->venue, worst);
}

enum ingest_result ingest_replay_line(ingest *p, replay *r, const replay_line *ln,
                                      const char **why)
{
    const replay_file_info *fi = replay_file(r, ln->file);
    if (!fi) {
        if (why)
            *why = "bad replay line";
        return ingest_count(p, VENUE_BINANCE_SPOT, INGEST_MALFORMED);
    }
    if (ln->venue == REPLAY_TAG_WALL) { /* the recorded session's wall-clock tick */
        const char *w = memmem(ln->json, ln->len, "\"wall_ms\":", 10);
        int64_t ms = w ? strtoll(w + 10, NULL, 10) : 0;
        if (ms > 0)
            ingest_wall_tick(p, ms);
        return ingest_count(p, fi->venue, INGEST_IGNORED);
    }
    bool tagged = ln->venue >= 0 && ln->venue < VENUE_COUNT; /* a `kestrel record` line */
    ingest_frame f = {.venue = tagged ? (enum venue)ln->venue : fi->venue, .bytes = ln->json,
                      .len = ln->len, .recv_ns = ln->recv_ns,
                      .symbol = ln->symbol[0] ? ln->symbol : fi->symbol};
    p->last_symbol[0] = '\0';
    enum ingest_result r2 = ingest_frame_apply(p, &f, why);
    if (r2 == INGEST_MALFORMED)
        replay_count_decode_error(r, ln->file);
    else if (!tagged && !fi->symbol[0] && p->last_symbol[0])
        replay_note_symbol(r, ln->file, p->last_symbol);
    return r2;
}

uint64_t ingest_replay_all(ingest *p, replay *r, uint64_t max)
{
    replay_line ln;
    uint64_t n = 0;
    while ((max == 0 || n < max) && replay_next(r, &ln) > 0) {
        n++;
        (void)ingest_replay_line(p, r, &ln, NULL);
    }
    return n;
}

void ingest_wall_tick(ingest *p, int64_t wall_ms)
{
    for (int v = 0; v < VENUE_COUNT; v++) {
        ingest_vclock *c = &p->vc[v];
        if (c->data_ms == 0)
            continue; /* never started: nothing to close */
        int64_t follow = wall_ms - (c->lag_ms > 0 ? c->lag_ms : 0);
        if (follow > c->data_ms + INGEST_WALL_IDLE_MS) {
            c->data_ms = follow;
            p->st.venue[v].clock_ms = follow;
            ingest_close_bars(p, (enum venue)v);
        }
    }
    ingest_tick_clock(p);
}

void ingest_finish(ingest *p)
{
    for (int v = 0; v < VENUE_COUNT; v++)
        if (p->vc[v].data_ms)
            market_advance_final(p->m, (enum venue)v, p->vc[v].data_ms);
    ingest_tick_clock(p);
}

int64_t ingest_clock_ms(const ingest *p)
{
    int64_t t = 0;
    for (int v = 0; v < VENUE_COUNT; v++)
        if (p->vc[v].data_ms > t)
            t = p->vc[v].data_ms;
    return t;
}

int64_t ingest_venue_clock_ms(const ingest *p, enum venue v)
{
    return (unsigned)v < VENUE_COUNT ? p->vc[v].data_ms : 0;
}

int64_t ingest_current_ms(const ingest *p)
{
    return p->current_ms;
}

int64_t ingest_grace_ms(const ingest *p, enum tf tf)
{
    return market_grace_ms(p->m, tf);
}

void ingest_set_time_offset(ingest *p, int64_t offset_ms)
{
    p->time_offset_ms = offset_ms;
}

const char *ingest_last_symbol(const ingest *p)
{
    return p->last_symbol;
}

const ingest_stats *ingest_get_stats(const ingest *p)
{
    return &p->st;
}

uint64_t ingest_dropped(const ingest *p)
{
    return p->st.malformed + p->st.bad_time + p->st.refused;
}
