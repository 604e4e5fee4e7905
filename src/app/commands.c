/* The app's commands (entries of the command table, include/kestrel/cmd.h) and the status
 * document's sections for the app, the replay, the store, the control socket and the market.
 * Every command reads or acts on the app the same way a key does (through the app_* functions),
 * so the socket, the UI and --exit-at-end can never disagree. Prices and quantities are exact
 * decimal strings formatted from the integers with the symbol's decimals; 64-bit ids are
 * strings; every JSON allocation is checked (cmd_json_*: a failure makes the reply an error).
 *
 * app_ctl_handler is the control socket's handler: a request becomes a cmd_ctx and goes through
 * cmd_run like a key does; CMD_WAIT becomes a deferred reply (ping shows how). */
#include "kestrel/app.h"
#include "kestrel/chartta.h"
#include "kestrel/cmd.h"
#include "kestrel/ctl.h"
#include "kestrel/ingest.h"
#include "kestrel/instrument.h"
#include "kestrel/live.h"
#include "kestrel/decimal.h"
#include "kestrel/replay.h"
#include "kestrel/store.h"
#include "kestrel/ta.h"
#include "kestrel/xmalloc.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CMD_BOOK_MAX_DEPTH 5000
#define CMD_CANDLES_MAX 5000
#define CMD_PING_MAX_MS 60000

static void cmd_iso_time(int64_t ms, char *buf, size_t cap)
{
    if (ms <= 0) {
        snprintf(buf, cap, "%s", "");
        return;
    }
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    if (!gmtime_r(&s, &tm)) { /* beyond struct tm's year: tm would be left unset */
        snprintf(buf, cap, "%s", "");
        return;
    }
    size_t n = strftime(buf, cap, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, cap - n, ".%03dZ", (int)(ms % 1000));
}

/* "BTCUSDT" (first venue that has it) or "binance-usdm:BTCUSDT". Case-insensitive name. */
static market_sym *cmd_find_symbol(app *a, const char *arg, uint32_t *index)
{
    char name[KSYM_MAX];
    const char *colon = strchr(arg, ':');
    const char *sym = colon ? colon + 1 : arg;
    size_t n = strlen(sym);
    if (n == 0 || n >= sizeof name || !a->market)
        return NULL;
    for (size_t i = 0; i <= n; i++)
        name[i] = (char)((sym[i] >= 'a' && sym[i] <= 'z') ? sym[i] - 32 : sym[i]);
    enum venue v = VENUE_COUNT;
    if (colon) {
        char vname[32];
        size_t vn = (size_t)(colon - arg);
        if (vn >= sizeof vname)
            return NULL;
        memcpy(vname, arg, vn);
        vname[vn] = '\0';
        if (venue_parse(vname, &v) != K_OK)
            return NULL;
    }
    for (uint32_t i = 0; i < market_count(a->market); i++) {
        market_sym *s = market_at(a->market, i);
        if (strcmp(s->name, name) == 0 && (v == VENUE_COUNT || s->venue == v)) {
            if (index)
                *index = i;
            return s;
        }
    }
    return NULL;
}

/* ---- status sections ---- */

void cmd_status_app(cmd_ctx *c, cJSON *doc)
{
    app *a = c->a;
    char t[40];
    cmd_json_str(c, doc, "version", a->version ? a->version : "");
    cmd_json_str(c, doc, "source", a->live ? "live" : a->replay ? "replay" : "none");
    cmd_json_str(c, doc, "broker", "paper");
    cmd_iso_time(a->data_ms, t, sizeof t);
    cmd_json_str(c, doc, "data_time", t);
    cmd_json_num(c, doc, "data_time_ms", (double)a->data_ms);
    cmd_json_num(c, doc, "messages", (double)a->messages);
    cmd_json_num(c, doc, "malformed", (double)a->malformed);
    cmd_json_num(c, doc, "messages_per_s", round(a->msgs_per_s));
    cmd_json_str(c, doc, "indicators", a->indicators);
}

void cmd_status_replay(cmd_ctx *c, cJSON *doc)
{
    app *a = c->a;
    if (!a->replay)
        return;
    cJSON *files = cmd_json_arr(c, doc, "files");
    for (int i = 0; i < replay_file_count(a->replay); i++) /* the paths actually opened */
        cmd_json_push_str(c, files, replay_file(a->replay, i)->path);
    cmd_json_num(c, doc, "speed", a->speed);
    cmd_json_bool(c, doc, "paused", a->paused);
    cmd_json_bool(c, doc, "finished", a->finished);
    replay_stats rs = *replay_get_stats(a->replay);
    cmd_json_num(c, doc, "lines", (double)(rs.lines + a->lines_before));
    cmd_json_num(c, doc, "read_errors", rs.read_errors);
    /* the progress line model (app_replay_progress) */
    app_progress g = app_replay_progress(a);
    char t[40];
    cmd_json_num(c, doc, "progress", round(g.progress * 10000.0) / 10000.0);
    cmd_iso_time(g.position_ms, t, sizeof t);
    cmd_json_str(c, doc, "position_time", t);
    cmd_iso_time(g.span_start_ms, t, sizeof t);
    cmd_json_str(c, doc, "span_start", t);
    cmd_iso_time(g.span_end_ms, t, sizeof t);
    cmd_json_str(c, doc, "span_end", t);
    cmd_json_bool(c, doc, "span_exact", g.span_exact);
    if (g.eta_s >= 0)
        cmd_json_num(c, doc, "eta_s", round(g.eta_s * 10.0) / 10.0);
    else
        cmd_json_null(c, doc, "eta_s");
    cmd_json_bool(c, doc, "seeking", a->seeking);
    cmd_json_bool(c, doc, "stepping", a->stepping);
    cmd_json_bool(c, doc, "loop", a->cfg.replay_loop);
    cmd_json_num(c, doc, "loops", (double)a->loops);
    if (a->data_problem[0])
        cmd_json_str(c, doc, "data_problem", a->data_problem);
    else
        cmd_json_null(c, doc, "data_problem");
}

void cmd_status_store(cmd_ctx *c, cJSON *doc)
{
    app *a = c->a;
    if (!a->store)
        return;
    const store_stats *ss = store_get_stats(a->store);
    cJSON *st = cmd_json_obj(c, doc, "store");
    cmd_json_str(c, st, "path", a->cfg.db_path);
    cmd_json_num(c, st, "rows_written", (double)ss->rows_written);
    cmd_json_num(c, st, "rows_dropped", (double)ss->dropped);
    cmd_json_num(c, st, "rows_failed", (double)ss->rows_failed);
    cmd_json_num(c, st, "errors", (double)ss->errors);
    cmd_json_num(c, st, "queue_depth", ss->queue_depth);
    store_health_info h = store_health(a->store);
    cmd_json_str(c, st, "state", store_state_name(h.state));
    cmd_json_num(c, st, "rows_lost", (double)h.rows_lost);
    cmd_json_num(c, st, "rows_held", h.rows_held);
    if (ss->last_error[0])
        cmd_json_str(c, st, "last_error", ss->last_error);
}

void cmd_status_control(cmd_ctx *c, cJSON *doc)
{
    if (c->a->ctl && !ctl_server_status(c->a->ctl, doc))
        c->oom = true;
}

/* Live data beyond trades and books (docs/LIVE.md): exchange klines against the trade-built
 * bars, the venue's 24 h ticker and a perpetual's mark price (null until received). */
static void cmd_symbol_live_json(cmd_ctx *c, cJSON *o, market_sym *s)
{
    cJSON *k = cmd_json_obj(c, o, "klines");
    cmd_json_num(c, k, "final", (double)s->klines_final);
    cmd_json_num(c, k, "diffs", (double)s->kline_diffs);
    cmd_json_num(c, k, "backfilled", (double)s->bars_backfilled);
    if (s->day_ms > 0) {
        cJSON *d = cmd_json_obj(c, o, "day");
        cmd_json_dec(c, d, "open", s->day_open, s->px_decimals);
        cmd_json_dec(c, d, "last", s->day_last, s->px_decimals);
        cmd_json_dec(c, d, "high", s->day_high, s->px_decimals);
        cmd_json_dec(c, d, "low", s->day_low, s->px_decimals);
        cmd_json_dec(c, d, "volume", s->day_volume, s->qty_decimals);
        cmd_json_dec(c, d, "quote_volume", s->day_quote_volume, 8);
        cmd_json_num(c, d, "time_ms", (double)s->day_ms);
    } else {
        cmd_json_null(c, o, "day");
    }
    if (s->mark_ms > 0) {
        cJSON *m = cmd_json_obj(c, o, "mark");
        cmd_json_dec(c, m, "mark", s->mark_px, 8);
        cmd_json_dec(c, m, "index", s->index_px, 8);
        cmd_json_dec(c, m, "funding_rate", s->funding_rate, 8);
        cmd_json_num(c, m, "next_funding_ms", (double)s->next_funding_ms);
        cmd_json_num(c, m, "fundings", (double)s->fundings);
        cmd_json_num(c, m, "time_ms", (double)s->mark_ms);
    } else {
        cmd_json_null(c, o, "mark");
    }
}

static void cmd_symbol_json(cmd_ctx *c, cJSON *o, market_sym *s)
{
    const book_stats *bs = book_get_stats(s->book);
    cmd_json_str(c, o, "symbol", s->name);
    cmd_json_str(c, o, "venue", venue_name(s->venue));
    cmd_json_num(c, o, "px_decimals", s->px_decimals);
    cmd_json_num(c, o, "qty_decimals", s->qty_decimals);
    kdec bid, bq, ask, aq;
    if (book_is_live(s->book) && book_best(s->book, &bid, &bq, &ask, &aq)) {
        cmd_json_dec(c, o, "best_bid", bid, s->px_decimals);
        cmd_json_dec(c, o, "best_bid_qty", bq, s->qty_decimals);
        cmd_json_dec(c, o, "best_ask", ask, s->px_decimals);
        cmd_json_dec(c, o, "best_ask_qty", aq, s->qty_decimals);
    } else {
        cmd_json_null(c, o, "best_bid");
        cmd_json_null(c, o, "best_bid_qty");
        cmd_json_null(c, o, "best_ask");
        cmd_json_null(c, o, "best_ask_qty");
    }
    if (s->last_px)
        cmd_json_dec(c, o, "last_price", s->last_px, s->px_decimals);
    else
        cmd_json_null(c, o, "last_price");
    kdec ref24 = 0;
    bool day = market_ref_24h(s, &ref24);
    cmd_json_str(c, o, "change_basis", day ? "24h" : "session"); /* what the watchlist's % is of */
    if (day || s->ref_px > 0)
        cmd_json_dec(c, o, "change_ref", day ? ref24 : s->ref_px, s->px_decimals);
    else
        cmd_json_null(c, o, "change_ref");
    cmd_json_str(c, o, "book_state", book_state_name(book_state(s->book)));
    uint32_t nb = book_depth(s->book, BOOK_BID), na = book_depth(s->book, BOOK_ASK);
    cmd_json_num(c, o, "book_levels", (double)(nb + na));
    cmd_json_num(c, o, "bid_levels", nb);
    cmd_json_num(c, o, "ask_levels", na);
    cmd_json_id(c, o, "last_update_id", (uint64_t)book_last_id(s->book));
    cmd_json_num(c, o, "diffs", (double)s->diffs);
    cmd_json_num(c, o, "diffs_applied", (double)bs->diffs_applied);
    cmd_json_num(c, o, "gaps", (double)bs->gaps);
    cmd_json_num(c, o, "resyncs", (double)bs->resyncs);
    cmd_json_num(c, o, "crossed", (double)bs->crossed);
    cmd_json_num(c, o, "trades", (double)s->trades);
    cmd_json_num(c, o, "book_tickers", (double)s->tickers);
    cJSON *cs = cmd_json_obj(c, o, "candles");
    for (int t = 0; t < TF_COUNT; t++)
        cmd_json_num(c, cs, tf_name((enum tf)t), (double)candles_total_closed(s->series[t]));
    /* closed bars held per timeframe: the live ones plus what the history reader merged */
    cJSON *held = cmd_json_obj(c, o, "bars_held");
    for (int t = 0; t < TF_COUNT; t++)
        cmd_json_num(c, held, tf_name((enum tf)t), (double)candles_count(s->series[t]));
    cmd_symbol_live_json(c, o, s);
}

/* The memory budget (market.h): what the limits reserve at worst, what is held now, and the
 * display indicators' share of the rest. */
static void cmd_status_memory(cmd_ctx *c, cJSON *doc)
{
    app *a = c->a;
    if (!a->market)
        return;
    market_memory mm = market_limits_memory(market_get_limits(a->market));
    cJSON *o = cmd_json_obj(c, doc, "memory");
    cmd_json_num(c, o, "budget_mb", (double)(mm.budget >> 20));
    cmd_json_num(c, o, "reserve_bytes", (double)mm.reserve);
    cmd_json_num(c, o, "max_symbols", mm.max_symbols);
    cmd_json_num(c, o, "symbol_max_bytes", (double)mm.per_symbol);
    cmd_json_num(c, o, "market_max_bytes", (double)mm.market);
    cmd_json_num(c, o, "market_bytes", (double)market_memory_now(a->market));
    if (a->chartta) {
        cmd_json_num(c, o, "indicators_budget_bytes", (double)chartta_budget(a->chartta));
        cmd_json_num(c, o, "indicators_symbol_bytes", (double)chartta_per_symbol(a->chartta));
        cmd_json_num(c, o, "indicators_bytes", (double)chartta_memory(a->chartta));
        cmd_json_num(c, o, "symbols_without_indicators", chartta_skipped(a->chartta));
    }
}

void cmd_status_market(cmd_ctx *c, cJSON *doc)
{
    app *a = c->a;
    cmd_status_memory(c, doc);
    cJSON *syms = cmd_json_arr(c, doc, "symbols");
    uint32_t n = a->market ? market_count(a->market) : 0;
    for (uint32_t i = 0; i < n && !c->oom; i++) {
        cJSON *o = cJSON_CreateObject();
        if (cmd_json_push(c, syms, o))
            cmd_symbol_json(c, o, market_at(a->market, i));
    }
}

/* The pipeline: what it dropped, its grace, and which trades were late per timeframe. */
void cmd_status_ingest(cmd_ctx *c, cJSON *doc)
{
    app *a = c->a;
    if (!a->ingest || !a->market)
        return;
    const ingest_stats *is = ingest_get_stats(a->ingest);
    cJSON *ig = cmd_json_obj(c, doc, "ingest");
    cmd_json_num(c, ig, "frames", (double)is->frames);
    cmd_json_num(c, ig, "applied", (double)is->applied);
    cmd_json_num(c, ig, "ignored", (double)is->ignored);
    cmd_json_num(c, ig, "malformed", (double)is->malformed);
    cmd_json_num(c, ig, "bad_time", (double)is->bad_time);
    cmd_json_num(c, ig, "refused", (double)is->refused);
    cmd_json_num(c, ig, "bar_grace_ms", (double)ingest_grace_ms(a->ingest, TF_1S));
    cJSON *late = cmd_json_obj(c, doc, "late_trades");
    for (int k = 0; k < TF_COUNT; k++)
        cmd_json_num(c, late, tf_name((enum tf)k),
                     (double)market_late_trades(a->market, (enum tf)k));
}

/* The recording of the live session (`record`, live.h): null fields when none ever ran. */
static void cmd_record_fill(cmd_ctx *c, cJSON *o)
{
    live_record_info ri;
    live_record_get(c->a->live, &ri);
    cmd_json_bool(c, o, "active", ri.active);
    if (ri.path[0])
        cmd_json_str(c, o, "path", ri.path);
    else
        cmd_json_null(c, o, "path");
    cmd_json_num(c, o, "lines", (double)ri.lines);
    cmd_json_num(c, o, "bytes", (double)ri.bytes);
    cmd_json_num(c, o, "dropped", (double)ri.dropped);
    cmd_json_num(c, o, "snapshots", (double)ri.snapshots);
    cmd_json_num(c, o, "books_pending", ri.books_pending);
    cmd_json_str(c, o, "error", ri.error);
}

/* The live connections (live.h): one entry per connection and one per watched book. The same
 * object is the status document's "connections" section and `kestrel ctl connections`. */
static void cmd_connections_fill(cmd_ctx *c, cJSON *o)
{
    app *a = c->a;
    cJSON *conns = cmd_json_arr(c, o, "connections");
    for (size_t i = 0; i < live_conn_count(a->live); i++) {
        live_conn_info ci;
        if (live_conn_get(a->live, i, &ci) != K_OK || !conns)
            break;
        cJSON *e = cJSON_CreateObject();
        if (!cmd_json_push(c, conns, e))
            break;
        cmd_json_str(c, e, "venue", venue_name(ci.venue));
        cmd_json_str(c, e, "channel", ci.channel);
        cmd_json_str(c, e, "url", ci.url);
        cmd_json_str(c, e, "label", ci.label);
        cmd_json_str(c, e, "state", ci.state);
        if (ci.last_msg_age_ms >= 0)
            cmd_json_num(c, e, "last_msg_age_ms", (double)ci.last_msg_age_ms);
        else
            cmd_json_null(c, e, "last_msg_age_ms");
        cmd_json_num(c, e, "msgs", (double)ci.msgs);
        cmd_json_num(c, e, "msgs_per_s", ci.msgs_per_s);
        cmd_json_num(c, e, "reconnects", (double)ci.reconnects);
        cmd_json_num(c, e, "resyncs", (double)ci.resyncs);
        cmd_json_num(c, e, "gaps", (double)ci.gaps);
        cmd_json_num(c, e, "stalls", (double)ci.stalls);
        cmd_json_num(c, e, "data_stalls", (double)ci.data_stalls);
        if (ci.standby_state) { /* health.warm_standby */
            cmd_json_str(c, e, "standby", ci.standby_state);
            cmd_json_num(c, e, "standby_switches", (double)ci.standby_switches);
            cmd_json_num(c, e, "standby_lead", (double)ci.standby_lead);
        }
        cmd_json_num(c, e, "cadence_ms", (double)ci.cadence_ms);
        cmd_json_num(c, e, "stall_after_ms", (double)ci.stall_after_ms);
        if (ci.last_replace_ms >= 0)
            cmd_json_num(c, e, "last_replace_ms", (double)ci.last_replace_ms);
        else
            cmd_json_null(c, e, "last_replace_ms");
        if (ci.max_replace_ms >= 0)
            cmd_json_num(c, e, "max_replace_ms", (double)ci.max_replace_ms);
        else
            cmd_json_null(c, e, "max_replace_ms");
        cmd_json_num(c, e, "rotations", (double)ci.rotations);
        cmd_json_num(c, e, "failures", (double)ci.failures);
        cmd_json_num(c, e, "oversize", (double)ci.oversize);
        cmd_json_num(c, e, "queue_drops", (double)ci.queue_drops);
        cmd_json_num(c, e, "snapshots", (double)ci.snapshots);
        cmd_json_num(c, e, "snapshots_old", (double)ci.snapshots_old);
        if (ci.latency_ms >= 0)
            cmd_json_num(c, e, "latency_ms", round(ci.latency_ms * 10.0) / 10.0);
        else
            cmd_json_null(c, e, "latency_ms");
        cmd_json_num(c, e, "books", ci.books);
        cmd_json_num(c, e, "books_live", ci.books_live);
        cmd_json_num(c, e, "streams", ci.streams);
        cmd_json_num(c, e, "streams_subscribed", ci.streams_subscribed);
        cmd_json_num(c, e, "sub_msgs", (double)ci.sub_msgs);
        cmd_json_num(c, e, "sub_acks", (double)ci.sub_acks);
        cmd_json_num(c, e, "sub_errors", (double)ci.sub_errors);
        cmd_json_str(c, e, "last_error", ci.last_error);
        cmd_json_num(c, e, "audits", (double)ci.audits);
        cmd_json_num(c, e, "audit_mismatches", (double)ci.audit_mismatches);
        if (ci.clock_known)
            cmd_json_num(c, e, "clock_offset_ms", (double)ci.clock_offset_ms);
        else
            cmd_json_null(c, e, "clock_offset_ms");
    }
    cJSON *books = cmd_json_arr(c, o, "books");
    for (size_t i = 0; i < live_book_count(a->live); i++) {
        live_book_info bi;
        if (!books)
            break;
        if (live_book_get(a->live, i, &bi) != K_OK)
            continue; /* removed at run time */
        cJSON *e = cJSON_CreateObject();
        if (!cmd_json_push(c, books, e))
            break;
        cmd_json_str(c, e, "venue", venue_name(bi.venue));
        cmd_json_str(c, e, "symbol", bi.symbol);
        cmd_json_str(c, e, "state", bi.state);
        cmd_json_num(c, e, "gaps", (double)bi.gaps);
        cmd_json_num(c, e, "resyncs", (double)bi.resyncs);
        cmd_json_num(c, e, "snapshots", (double)bi.snapshots);
        cmd_json_bool(c, e, "fetching", bi.fetching);
        market_sym *ms = a->market ? market_find(a->market, bi.venue, bi.symbol) : NULL;
        cmd_json_num(c, e, "klines_final", ms ? (double)ms->klines_final : 0);
        cJSON *kt = cmd_json_obj(c, e, "klines_final_tf"); /* per streamed timeframe */
        for (int t = TF_1M; t < TF_COUNT; t++)
            cmd_json_num(c, kt, tf_name((enum tf)t), ms ? (double)ms->klines_final_tf[t] : 0);
        cmd_json_num(c, e, "kline_diffs", ms ? (double)ms->kline_diffs : 0);
        cmd_json_num(c, e, "bars_backfilled", ms ? (double)ms->bars_backfilled : 0);
        /* the trading core's filters for it (exchange info, or the instrument cache) */
        const instrument *in = app_instruments(a) ? instruments_find(app_instruments(a),
                                                                     bi.venue, bi.symbol)
                                                  : NULL;
        if (in) {
            cJSON *f = cmd_json_obj(c, e, "instrument");
            cmd_json_dec(c, f, "tick", in->tick, 0);
            cmd_json_dec(c, f, "step", in->step, 0);
            cmd_json_dec(c, f, "min_qty", in->min_qty, 0);
            cmd_json_dec(c, f, "min_notional", in->min_notional, 0);
            cmd_json_bool(c, f, "trading", in->trading);
            cmd_json_bool(c, f, "futures", in->futures);
        } else {
            cmd_json_null(c, e, "instrument");
        }
        cmd_json_num(c, e, "audits", (double)bi.audits);
        cmd_json_num(c, e, "audit_mismatches", (double)bi.audit_mismatches);
        cmd_json_num(c, e, "audit_failures", (double)bi.audit_failures);
    }
    /* failover pairs ("primary@backup" watch entries): which one the panes show */
    cJSON *fo = cmd_json_arr(c, o, "failover");
    for (size_t i = 0; i < live_failover_count(a->live); i++) {
        live_failover_info fi;
        if (live_failover_get(a->live, i, &fi) != K_OK || !fo)
            break;
        cJSON *e = cJSON_CreateObject();
        if (!cmd_json_push(c, fo, e))
            break;
        char pv[64], bv[64];
        snprintf(pv, sizeof pv, "%s:%s", venue_name(fi.venue), fi.symbol);
        snprintf(bv, sizeof bv, "%s:%s", venue_name(fi.backup_venue), fi.backup_symbol);
        cmd_json_str(c, e, "primary", pv);
        cmd_json_str(c, e, "backup", bv);
        cmd_json_str(c, e, "active", fi.active);
        cmd_json_str(c, e, "shown", fi.active[0] == 'b' ? bv : pv);
        cmd_json_bool(c, e, "primary_ok", fi.primary_ok);
        cmd_json_bool(c, e, "backup_ok", fi.backup_ok);
        cmd_json_num(c, e, "unhealthy_ms", (double)fi.unhealthy_ms);
        if (fi.switched_age_ms >= 0)
            cmd_json_num(c, e, "switched_age_ms", (double)fi.switched_age_ms);
        else
            cmd_json_null(c, e, "switched_age_ms");
        cmd_json_num(c, e, "failovers", (double)fi.failovers);
        cmd_json_num(c, e, "failbacks", (double)fi.failbacks);
        char why[160]; /* auto-trading's entry gate on the primary (never on the backup) */
        bool ent = live_entry_allowed(a->live, fi.venue, fi.symbol, why, sizeof why);
        cmd_json_bool(c, e, "entries", ent);
    }
    /* REST per venue in use: a 429 / 418 pause and what is left of it */
    cJSON *rest = cmd_json_obj(c, o, "rest");
    for (int v = 0; v < VENUE_COUNT && rest; v++) {
        if (!live_venue_used(a->live, (enum venue)v))
            continue;
        live_rest_info ri;
        live_rest_get(a->live, (enum venue)v, &ri);
        cJSON *e = cmd_json_obj(c, rest, venue_name((enum venue)v));
        if (!e)
            break;
        cmd_json_bool(c, e, "paused", ri.paused_ms > 0);
        cmd_json_num(c, e, "paused_ms", (double)ri.paused_ms);
        cmd_json_num(c, e, "status_429", (double)ri.status_429);
        cmd_json_num(c, e, "status_418", (double)ri.status_418);
        cmd_json_num(c, e, "requests", (double)ri.requests);
    }
    /* the status bar's health banner, as drawn */
    cJSON *ban = cmd_json_arr(c, o, "banner");
    live_banner_item it[12];
    size_t nb = live_banner(a->live, it, K_ARRAY_LEN(it));
    for (size_t i = 0; i < nb && ban; i++)
        if (!cmd_json_push_str(c, ban, it[i].text))
            break;
    live_backfill_info bf;
    live_backfill_get(a->live, &bf);
    cJSON *k = cmd_json_obj(c, o, "klines");
    cmd_json_num(c, k, "start_jobs", (double)bf.start_jobs);
    cmd_json_num(c, k, "gap_jobs", (double)bf.gap_jobs);
    cmd_json_num(c, k, "jobs_done", (double)bf.jobs_done);
    cmd_json_num(c, k, "jobs_failed", (double)bf.jobs_failed);
    cmd_json_num(c, k, "pending", bf.pending + bf.running);
    cmd_json_num(c, k, "bars", (double)bf.bars);
    cmd_json_num(c, k, "bars_inserted", (double)bf.bars_inserted);
    cmd_json_num(c, k, "bars_replaced", (double)bf.bars_replaced);
    cmd_json_str(c, k, "last_error", bf.last_error);
    live_instruments_info ii;
    live_instruments_get(a->live, &ii);
    cJSON *in = cmd_json_obj(c, o, "instruments");
    cmd_json_num(c, in, "cached", (double)ii.cached);
    cmd_json_num(c, in, "fetched", (double)ii.fetched);
    cmd_json_num(c, in, "requests", (double)ii.requests);
    cmd_json_num(c, in, "failed", (double)ii.failed);
    cmd_json_num(c, in, "pending", ii.pending);
    cmd_json_str(c, in, "last_error", ii.last_error);
    cJSON *wl = cmd_json_obj(c, in, "weight_limit");
    for (int v = 0; v < VENUE_COUNT; v++)
        if (ii.weight_limit[v] > 0)
            cmd_json_num(c, wl, venue_name((enum venue)v), (double)ii.weight_limit[v]);
    cmd_record_fill(c, cmd_json_obj(c, o, "recording"));
}

void cmd_status_connections(cmd_ctx *c, cJSON *doc)
{
    if (!c->a->live)
        return;
    cmd_connections_fill(c, cmd_json_obj(c, doc, "connections"));
}

static cmd_result cmd_connections_exec(cmd_ctx *c)
{
    if (!c->a->live)
        return cmd_fail(c, "no live connections: the source is %s (start with --live)",
                        app_source_name(c->a));
    cmd_json_str(c, c->out, "source", app_source_name(c->a));
    cmd_connections_fill(c, c->out);
    if (c->origin == CMD_FROM_KEY) { /* the key (n): a summary; screen 4 has the rows */
        uint64_t rc = 0;
        size_t open = 0, n = live_conn_count(c->a->live);
        for (size_t i = 0; i < n; i++) {
            live_conn_info ci;
            if (live_conn_get(c->a->live, i, &ci) == K_OK) {
                rc += ci.reconnects;
                open += strcmp(ci.state, "open") == 0;
            }
        }
        app_flash(c->a, "live: %zu/%zu connections open, %llu reconnects (System screen: 4)",
                  open, n, (unsigned long long)rc);
    }
    return CMD_OK;
}

const cmd_entry cmd_connections_entry = {
    .name = "connections",
    .args = "",
    .help = "live connections: state, last message, msgs/s, reconnects, resyncs, latency",
    .exec = cmd_connections_exec};

/* record [start [FILE.gz] | stop | status | toggle]: the running live session into a capture
 * (docs/LIVE.md "Recording"). Without FILE: recording-<UTC time>.gz beside the database. */
static cmd_result cmd_record_exec(cmd_ctx *c)
{
    app *a = c->a;
    if (!a->live)
        return cmd_fail(c, "record: only a live session can be recorded (start with --live)");
    const char *what = c->argc >= 2 ? c->argv[1] : "status";
    live_record_info ri;
    live_record_get(a->live, &ri);
    if (strcmp(what, "toggle") == 0)
        what = ri.active ? "stop" : "start";
    if (strcmp(what, "start") == 0) {
        char path[CONFIG_PATH_MAX + 64], err[300];
        if (c->argc == 3) {
            snprintf(path, sizeof path, "%s", c->argv[2]);
        } else {
            char dir[CONFIG_PATH_MAX];
            snprintf(dir, sizeof dir, "%s", a->cfg.db_path);
            char *slash = strrchr(dir, '/');
            if (slash)
                *slash = '\0';
            else
                snprintf(dir, sizeof dir, ".");
            time_t now = time(NULL);
            struct tm tm;
            gmtime_r(&now, &tm);
            char stamp[32];
            strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
            snprintf(path, sizeof path, "%s/recording-%s.gz", dir, stamp);
        }
        if (live_record_start(a->live, path, err, sizeof err) != LIVE_OK)
            return cmd_fail(c, "record: %s", err);
        if (c->origin == CMD_FROM_KEY)
            app_flash(a, "recording to %s (R stops)", path);
    } else if (strcmp(what, "stop") == 0) {
        if (!live_record_stop(a->live, NULL))
            return cmd_fail(c, "record: nothing is being recorded");
        live_record_get(a->live, &ri);
        if (c->origin == CMD_FROM_KEY)
            app_flash(a, "recording %s closed: %llu lines%s", ri.path,
                      (unsigned long long)ri.lines, ri.dropped ? " (some dropped)" : "");
    } else if (strcmp(what, "status") != 0) {
        return cmd_fail(c, "record: '%.40s' is not start, stop, status or toggle", what);
    } else if (c->argc == 3) {
        return cmd_fail(c, "record status takes no file");
    }
    cmd_record_fill(c, c->out);
    return CMD_OK;
}

const cmd_entry cmd_record_entry = {
    .name = "record",
    .args = "[start [FILE.gz]|stop|status|toggle]",
    .help = "record the live session to a replayable capture (start, stop, status)",
    .min_args = 0,
    .max_args = 2,
    .exec = cmd_record_exec};

cJSON *app_status_json(app *a)
{
    return cmd_status_json(a);
}

/* ---- reading ---- */

static cmd_result cmd_status_exec(cmd_ctx *c)
{
    cJSON *doc = cmd_status_json(c->a);
    if (!doc) {
        c->oom = true;
        return CMD_OK;
    }
    cJSON_Delete(c->out);
    c->out = doc;
    return CMD_OK;
}

const cmd_entry cmd_status_entry = {.name = "status",
                                    .args = "",
                                    .help = "the status document (schema, counters, symbols)",
                                    .exec = cmd_status_exec};

static cmd_result cmd_book_exec(cmd_ctx *c)
{
    market_sym *s = cmd_find_symbol(c->a, c->argv[1], NULL);
    if (!s)
        return cmd_fail(c, "unknown symbol '%.40s'", c->argv[1]);
    long depth = 10;
    if (c->argc == 3 && cmd_parse_count(c->argv[2], CMD_BOOK_MAX_DEPTH, &depth) != K_OK)
        return cmd_fail(c, "depth '%.40s' is not valid (expected 1..%d)", c->argv[2],
                        CMD_BOOK_MAX_DEPTH);
    cJSON *o = c->out;
    cmd_json_str(c, o, "symbol", s->name);
    cmd_json_str(c, o, "venue", venue_name(s->venue));
    cmd_json_str(c, o, "book_state", book_state_name(book_state(s->book)));
    bool live = book_is_live(s->book);
    cmd_json_bool(c, o, "valid", live);
    cmd_json_id(c, o, "last_update_id", (uint64_t)book_last_id(s->book));
    for (int side = 0; side < 2; side++) {
        cJSON *arr = cmd_json_arr(c, o, side == BOOK_BID ? "bids" : "asks");
        uint32_t n = live ? book_depth(s->book, (enum book_side)side) : 0;
        for (uint32_t i = 0; i < n && i < (uint32_t)depth && !c->oom; i++) {
            kdec px, qty;
            book_level(s->book, (enum book_side)side, i, &px, &qty);
            cJSON *lv = cJSON_CreateArray();
            if (cmd_json_push(c, arr, lv)) {
                cmd_json_push_dec(c, lv, px, s->px_decimals);
                cmd_json_push_dec(c, lv, qty, s->qty_decimals);
            }
        }
    }
    return CMD_OK;
}

const cmd_entry cmd_book_entry = {.name = "book",
                                  .args = "SYMBOL [DEPTH]",
                                  .help = "order book levels (default depth 10, at most 5000)",
                                  .min_args = 1,
                                  .max_args = 2,
                                  .exec = cmd_book_exec};

static void cmd_candle(cmd_ctx *c, cJSON *o, const candle *k, int pd, int qd, bool forming)
{
    cmd_json_num(c, o, "open_ms", (double)k->open_ms);
    cmd_json_dec(c, o, "o", k->o, pd);
    cmd_json_dec(c, o, "h", k->h, pd);
    cmd_json_dec(c, o, "l", k->l, pd);
    cmd_json_dec(c, o, "c", k->c, pd);
    cmd_json_dec(c, o, "volume", k->volume, qd);
    cmd_json_num(c, o, "trades", k->trades);
    cmd_json_bool(c, o, "forming", forming);
    cmd_json_bool(c, o, "partial", (k->flags & CANDLE_PARTIAL) != 0);
}

static cmd_result cmd_candles_exec(cmd_ctx *c)
{
    market_sym *s = cmd_find_symbol(c->a, c->argv[1], NULL);
    if (!s)
        return cmd_fail(c, "unknown symbol '%.40s'", c->argv[1]);
    enum tf tf;
    if (tf_parse(c->argv[2], &tf) != K_OK)
        return cmd_fail(c, "timeframe '%.40s' is not valid (expected 1s 1m 5m 15m 1h 4h 1d)",
                        c->argv[2]);
    long want = 100;
    if (c->argc == 4 && cmd_parse_count(c->argv[3], CMD_CANDLES_MAX, &want) != K_OK)
        return cmd_fail(c, "N '%.40s' is not valid (expected 1..%d)", c->argv[3], CMD_CANDLES_MAX);
    candles *cs = s->series[tf];
    uint32_t n = candles_count(cs);
    uint32_t from = n > (uint32_t)want ? n - (uint32_t)want : 0;
    cJSON *o = c->out;
    cmd_json_str(c, o, "symbol", s->name);
    cmd_json_str(c, o, "venue", venue_name(s->venue));
    cmd_json_str(c, o, "tf", tf_name(tf));
    cmd_json_num(c, o, "closed_total", (double)candles_total_closed(cs));
    cJSON *arr = cmd_json_arr(c, o, "candles");
    for (uint32_t i = from; i < n && !c->oom; i++) {
        cJSON *k = cJSON_CreateObject();
        if (cmd_json_push(c, arr, k))
            cmd_candle(c, k, candles_get(cs, i), s->px_decimals, s->qty_decimals, false);
    }
    const struct ta_chart *ch = app_chart_ta(c->a, s, tf);
    if (ch) { /* indicator values at the newest closed bar (null while warming up) */
        cJSON *ta = cmd_json_obj(c, o, "indicators");
        const double *v = ta_chart_last(ch);
        for (uint32_t k = 0; k < ta_chart_outputs(ch); k++) {
            if (v && isfinite(v[k]))
                cmd_json_num(c, ta, ta_chart_output_name(ch, k), v[k]);
            else
                cmd_json_null(c, ta, ta_chart_output_name(ch, k));
        }
    }
    const candle *f = candles_forming(cs);
    if (f)
        cmd_candle(c, cmd_json_obj(c, o, "forming"), f, s->px_decimals, s->qty_decimals, true);
    else
        cmd_json_null(c, o, "forming");
    return CMD_OK;
}

const cmd_entry cmd_candles_entry = {
    .name = "candles",
    .args = "SYMBOL TF [N]",
    .help = "the last N closed bars (default 100), the forming bar, indicator values",
    .min_args = 2,
    .max_args = 3,
    .exec = cmd_candles_exec};

/* ---- acting ---- */

static void cmd_replay_state(cmd_ctx *c)
{
    app *a = c->a;
    cmd_json_bool(c, c->out, "ok", true);
    cmd_json_bool(c, c->out, "paused", a->paused);
    cmd_json_num(c, c->out, "speed", a->speed);
    cmd_json_bool(c, c->out, "finished", a->finished);
}

static cmd_result cmd_pause_exec(cmd_ctx *c)
{
    app *a = c->a;
    bool toggle = c->argc == 2;
    if (toggle && strcmp(c->argv[1], "toggle") != 0)
        return cmd_fail(c, "usage: pause [toggle]");
    if (!a->replay)
        return cmd_fail(c, "%s: no replay is running", c->argv[0]);
    bool want = strcmp(c->argv[0], "resume") == 0 ? false : toggle ? !a->paused : true;
    app_set_paused(a, want);
    cmd_replay_state(c);
    return CMD_OK;
}

const cmd_entry cmd_pause_entry = {.name = "pause",
                                   .args = "[toggle]",
                                   .help = "pause the replay (toggle: pause / resume)",
                                   .max_args = 1,
                                   .exec = cmd_pause_exec};
const cmd_entry cmd_resume_entry = {
    .name = "resume", .args = "", .help = "resume the replay", .exec = cmd_pause_exec};

static cmd_result cmd_speed_exec(cmd_ctx *c)
{
    app *a = c->a;
    const char *v = c->argv[1];
    bool step = strcmp(v, "faster") == 0 || strcmp(v, "slower") == 0;
    double x = 0;
    if (!step && cmd_parse_speed(v, &x, c->err, sizeof c->err) != K_OK)
        return CMD_ERROR;
    if (!a->replay)
        return cmd_fail(c, "speed: no replay is running");
    if (step)
        app_speed_step(a, v[0] == 'f' ? +1 : -1);
    else
        app_set_speed(a, x);
    cmd_replay_state(c);
    return CMD_OK;
}

const cmd_entry cmd_speed_entry = {
    .name = "speed",
    .args = "X|faster|slower",
    .help = "replay speed: 0 = as fast as possible, 0.01..1000, or one step",
    .min_args = 1,
    .max_args = 1,
    .exec = cmd_speed_exec};

static cmd_result cmd_timeframe_exec(cmd_ctx *c)
{
    app *a = c->a;
    if (c->argc == 2) {
        const char *v = c->argv[1];
        enum tf tf;
        if (strcmp(v, "next") == 0) {
            if (a->chart_tf + 1 < TF_COUNT)
                app_set_timeframe(a, (enum tf)(a->chart_tf + 1));
        } else if (strcmp(v, "prev") == 0) {
            if (a->chart_tf > 0)
                app_set_timeframe(a, (enum tf)(a->chart_tf - 1));
        } else if (tf_parse(v, &tf) == K_OK) {
            app_set_timeframe(a, tf);
        } else {
            return cmd_fail(c,
                            "timeframe '%.40s' is not valid (expected 1s 1m 5m 15m 1h 4h 1d, "
                            "next or prev)",
                            v);
        }
    }
    cmd_json_str(c, c->out, "timeframe", tf_name(a->chart_tf));
    return CMD_OK;
}

const cmd_entry cmd_timeframe_entry = {
    .name = "timeframe",
    .args = "[TF|next|prev]",
    .help = "chart timeframe shorter / longer: 1s 1m 5m 15m 1h 4h 1d",
    .max_args = 1,
    .exec = cmd_timeframe_exec};

static cmd_result cmd_indicators_exec(cmd_ctx *c)
{
    if (c->argc == 2 && app_set_indicators(c->a, c->argv[1], c->err, sizeof c->err) != K_OK)
        return CMD_ERROR;
    cmd_json_str(c, c->out, "indicators", c->a->indicators);
    return CMD_OK;
}

const cmd_entry cmd_indicators_entry = {
    .name = "indicators",
    .args = "[LIST]",
    .help = "the chart's indicator list (e.g. sma_20,rsi_14; \"\" = none)",
    .max_args = 1,
    .exec = cmd_indicators_exec};

static cmd_result cmd_focus_exec(cmd_ctx *c)
{
    app *a = c->a;
    if (c->argc == 2) {
        uint32_t idx = 0;
        if (!cmd_find_symbol(a, c->argv[1], &idx))
            return cmd_fail(c, "unknown symbol '%.40s'", c->argv[1]);
        app_set_focus(a, idx);
    }
    market_sym *s =
        a->market && a->focus < market_count(a->market) ? market_at(a->market, a->focus) : NULL;
    if (s) {
        cmd_json_str(c, c->out, "symbol", s->name);
        cmd_json_str(c, c->out, "venue", venue_name(s->venue));
        market_sym *v = live_view_sym(a->live, s); /* its backup's while failed over */
        char shown[64];
        snprintf(shown, sizeof shown, "%s:%s", venue_name(v->venue), v->name);
        cmd_json_str(c, c->out, "shown", shown);
    } else {
        cmd_json_null(c, c->out, "symbol");
    }
    return CMD_OK;
}

const cmd_entry cmd_focus_entry = {.name = "focus",
                                   .args = "[SYMBOL]",
                                   .help = "the focused symbol (BTCUSDT or binance-usdm:BTCUSDT)",
                                   .max_args = 1,
                                   .exec = cmd_focus_exec};

/* ping: a deferred reply on a loop timer, the pattern of a reply that waits for a broker */
typedef struct cmd_ping {
    app *a;
    uint64_t token, timer;
    long ms;
} cmd_ping;

static void cmd_ping_fire(loop *l, uint64_t id, void *ud)
{
    (void)l;
    (void)id;
    cmd_ping *p = ud;
    cJSON *o = cJSON_CreateObject();
    if (o && (!cJSON_AddBoolToObject(o, "pong", 1) ||
              !cJSON_AddNumberToObject(o, "delay_ms", (double)p->ms))) {
        cJSON_Delete(o);
        o = NULL; /* answered as "out of memory" */
    }
    if (cmd_reply_send(p->a, p->token, o) != K_OK)
        log_debug(p->a->log, "ping: the client left before the reply");
    free(p);
}

static void cmd_ping_cancel(void *ud, uint64_t token)
{
    (void)token;
    cmd_ping *p = ud;
    loop_timer_cancel(p->a->loop, p->timer);
    free(p);
}

static cmd_result cmd_ping_exec(cmd_ctx *c)
{
    long ms = 0;
    if (c->argc == 2 && strcmp(c->argv[1], "0") != 0 &&
        cmd_parse_count(c->argv[1], CMD_PING_MAX_MS, &ms) != K_OK)
        return cmd_fail(c, "ping: MS '%.40s' is not valid (expected 0..%d)", c->argv[1],
                        CMD_PING_MAX_MS);
    if (!c->token || !c->a->loop) { /* a key or an internal caller: answer now */
        cmd_json_bool(c, c->out, "pong", true);
        cmd_json_num(c, c->out, "delay_ms", 0);
        return CMD_OK;
    }
    cmd_ping *p = xcalloc(1, sizeof *p);
    p->a = c->a;
    p->token = c->token;
    p->ms = ms;
    p->timer = loop_timer_add(c->a->loop, ms, cmd_ping_fire, p);
    c->cancel = cmd_ping_cancel;
    c->cancel_ud = p;
    return CMD_WAIT;
}

const cmd_entry cmd_ping_entry = {
    .name = "ping",
    .args = "[MS]",
    .help = "answers {\"pong\":true} after MS ms (default: the next loop turn), as a deferred "
            "reply",
    .max_args = 1,
    .exec = cmd_ping_exec};

/* ---- the control socket's handler ---- */

enum ctl_answer app_ctl_handler(void *ud, ctl_req *rq)
{
    cmd_ctx c = {
        .a = ud, .origin = CMD_FROM_CTL, .argc = rq->argc, .argv = rq->argv, .token = rq->token};
    cmd_result r = cmd_run(&c);
    switch (r) {
    case CMD_OK:
        rq->out = c.out;
        return CTL_ANSWER_OK;
    case CMD_WAIT:
        rq->cancel = c.cancel;
        rq->cancel_ud = c.cancel_ud;
        return CTL_ANSWER_WAIT;
    case CMD_ERROR:
        break;
    }
    snprintf(rq->err, sizeof rq->err, "%s", c.err);
    return CTL_ANSWER_ERROR;
}

/* ---- replay controls: step, seek, restart ---- */

static cmd_result cmd_step_exec(cmd_ctx *c)
{
    char err[200];
    if (app_step(c->a, err, sizeof err) != K_OK)
        return cmd_fail(c, "step: %s", err);
    cmd_replay_state(c);
    return CMD_OK;
}

const cmd_entry cmd_step_entry = {.name = "step",
                                  .args = "",
                                  .help = "while paused: run until one more bar of the chart's "
                                          "timeframe closes (the focused symbol)",
                                  .exec = cmd_step_exec};

static cmd_result cmd_seek_exec(cmd_ctx *c)
{
    app *a = c->a;
    char err[200];
    int64_t target;
    if (!a->replay)
        return cmd_fail(c, "seek: only a replay can seek");
    if (cmd_parse_seek(c->argv[1], a->data_ms, &target, c->err, sizeof c->err) != K_OK)
        return CMD_ERROR;
    if (app_seek(a, target, err, sizeof err) != K_OK)
        return cmd_fail(c, "seek: %s", err);
    char t[40];
    cmd_iso_time(target, t, sizeof t);
    cmd_replay_state(c);
    cmd_json_str(c, c->out, "target", t);
    cmd_json_num(c, c->out, "target_ms", (double)target);
    return CMD_OK;
}

const cmd_entry cmd_seek_entry = {
    .name = "seek",
    .args = "TIME",
    .help = "seek the replay to TIME (ISO UTC, epoch ms, +N/-N seconds): re-runs from the start "
            "at full speed",
    .min_args = 1,
    .max_args = 1,
    .exec = cmd_seek_exec};

static cmd_result cmd_restart_exec(cmd_ctx *c)
{
    char err[200];
    if (app_restart(c->a, err, sizeof err) != K_OK)
        return cmd_fail(c, "restart: %s", err);
    cmd_replay_state(c);
    return CMD_OK;
}

const cmd_entry cmd_restart_entry = {.name = "restart",
                                     .args = "",
                                     .help = "replay the files again from the start",
                                     .exec = cmd_restart_exec};
