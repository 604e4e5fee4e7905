/* Kline history over REST (klfetch.h): one fetch walks its range forward a page-sized window at a
 * time, one request in flight, on the loop. It owns the venue's URL building and response
 * parsing for klines and the retry rules around http.c's rate discipline, so the live backfill
 * and `kestrel download` share one pager. The wall clock decides what has closed: a bar whose
 * close time is still ahead is never handed out. */
#include "kestrel/klfetch.h"

#include "kestrel/decimal.h"
#include "kestrel/okx.h"
#include "kestrel/xmalloc.h"

#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KLFETCH_URL_MAX 1024
#define KLFETCH_RETRIES 6
#define KLFETCH_OKX_RECENT 1440 /* bars /market/candles serves; older ones: history-candles */

struct klfetch {
    klfetch_opts o;
    char base[512], symbol[KSYM_MAX];
    int64_t tfms;
    int64_t next; /* the next window's first open time */
    uint32_t page;
    bool inflight, dead, in_cb;
    uint64_t timer;
    int attempt;
    candle *bars;
    klfetch_progress pr;
};

const char *klfetch_strerror(enum klfetch_result r)
{
    switch (r) {
    case KLFETCH_OK: return "ok";
    case KLFETCH_ERR_ARG: return "bad argument";
    case KLFETCH_ERR_HTTP: return "REST request failed";
    case KLFETCH_ERR_PARSE: return "unexpected kline response";
    case KLFETCH_ERR_CANCELLED: return "cancelled";
    }
    return "unknown";
}

const char *klfetch_interval(enum venue v, enum tf tf)
{
    static const char *const bin[TF_COUNT] = {"1s", "1m", "5m", "15m", "1h", "4h", "1d"};
    static const char *const okx[TF_COUNT] = {"1s", "1m", "5m", "15m", "1H", "4H", "1Dutc"};
    if ((unsigned)tf >= TF_COUNT)
        return NULL;
    if (v == VENUE_BINANCE_SPOT)
        return bin[tf];
    if (v == VENUE_BINANCE_USDM)
        return tf == TF_1S ? NULL : bin[tf];
    if (v == VENUE_OKX)
        return okx[tf];
    return NULL;
}

static int klfetch_dec(const cJSON *j, kdec *out)
{
    return cJSON_IsString(j) && decimal_parse(j->valuestring, strlen(j->valuestring), out) ==
                                    K_OK && *out >= 0
               ? K_OK
               : K_ERR;
}

static int klfetch_int(const cJSON *j, int64_t *out)
{
    if (!cJSON_IsNumber(j) || j->valuedouble < 0 || j->valuedouble > 9.0e15 ||
        j->valuedouble != (double)(int64_t)j->valuedouble)
        return K_ERR;
    *out = (int64_t)j->valuedouble;
    return K_OK;
}

static int klfetch_parse_binance(enum tf tf, const char *json, size_t len, int64_t closed_before,
                                 candle *out, uint32_t cap, uint32_t *n, const char **why)
{
    cJSON *root = cJSON_ParseWithLength(json, len);
    int rc = K_ERR;
    *why = "invalid json";
    if (!root)
        return K_ERR;
    if (!cJSON_IsArray(root)) {
        *why = cJSON_IsObject(root) && cJSON_GetObjectItemCaseSensitive(root, "code")
                   ? "exchange error"
                   : "not an array";
        goto out;
    }
    int64_t ms = tf_ms(tf), prev = -1;
    const cJSON *row;
    cJSON_ArrayForEach(row, root)
    {
        candle b;
        memset(&b, 0, sizeof b);
        int64_t close_ms, trades = 0;
        if (!cJSON_IsArray(row) || cJSON_GetArraySize(row) < 9) {
            *why = "bad row";
            goto out;
        }
        if (klfetch_int(cJSON_GetArrayItem(row, 0), &b.open_ms) != K_OK ||
            klfetch_int(cJSON_GetArrayItem(row, 6), &close_ms) != K_OK ||
            klfetch_int(cJSON_GetArrayItem(row, 8), &trades) != K_OK) {
            *why = "bad time";
            goto out;
        }
        if (klfetch_dec(cJSON_GetArrayItem(row, 1), &b.o) != K_OK ||
            klfetch_dec(cJSON_GetArrayItem(row, 2), &b.h) != K_OK ||
            klfetch_dec(cJSON_GetArrayItem(row, 3), &b.l) != K_OK ||
            klfetch_dec(cJSON_GetArrayItem(row, 4), &b.c) != K_OK ||
            klfetch_dec(cJSON_GetArrayItem(row, 5), &b.volume) != K_OK ||
            klfetch_dec(cJSON_GetArrayItem(row, 7), &b.quote_volume) != K_OK) {
            *why = "bad price";
            goto out;
        }
        const cJSON *tb = cJSON_GetArrayItem(row, 9);
        if (tb && klfetch_dec(tb, &b.buy_volume) != K_OK) {
            *why = "bad price";
            goto out;
        }
        if (b.open_ms % ms != 0 || b.open_ms <= prev) {
            *why = "bad open time";
            goto out;
        }
        prev = b.open_ms;
        b.trades = trades > UINT32_MAX ? UINT32_MAX : (uint32_t)trades;
        if (close_ms >= closed_before)
            continue; /* still forming */
        if (*n >= cap) {
            *why = "too many rows";
            goto out;
        }
        out[(*n)++] = b;
    }
    rc = K_OK;
    *why = NULL;
out:
    cJSON_Delete(root);
    return rc;
}

static int klfetch_parse_okx(enum tf tf, const char *json, size_t len, int64_t closed_before,
                             candle *out, uint32_t cap, uint32_t *n, const char **why)
{
    /* okx_decode_candles checks every field; it wants an instId: any valid one does */
    uint32_t cap_evs = cap < 400 ? 400 : cap;
    feed_event *evs = xmalloc((size_t)cap_evs * sizeof *evs);
    uint32_t nev = 0;
    int rc = okx_decode_candles(json, len, "X", klfetch_interval(VENUE_OKX, tf), evs, cap_evs,
                                &nev, why);
    if (rc == K_OK) {
        int64_t ms = tf_ms(tf);
        for (uint32_t i = nev; i-- > 0;) { /* newest first -> oldest first */
            const feed_event *e = &evs[i];
            if (!e->u.kline.closed || e->u.kline.open_ms + ms > closed_before)
                continue;
            if (e->u.kline.open_ms % ms != 0 || (*n && e->u.kline.open_ms <= out[*n - 1].open_ms)) {
                *why = "bad open time";
                rc = K_ERR;
                break;
            }
            if (*n >= cap) {
                *why = "too many rows";
                rc = K_ERR;
                break;
            }
            candle b = {.open_ms = e->u.kline.open_ms, .o = e->u.kline.o, .h = e->u.kline.h,
                        .l = e->u.kline.l, .c = e->u.kline.c, .volume = e->u.kline.volume,
                        .quote_volume = e->u.kline.quote_volume};
            out[(*n)++] = b;
        }
    }
    free(evs);
    if (rc != K_OK)
        *n = 0;
    return rc;
}

int klfetch_parse(enum venue v, enum tf tf, const char *json, size_t len, int64_t closed_before_ms,
                  candle *out, uint32_t cap, uint32_t *n, const char **why)
{
    const char *w = NULL;
    *n = 0;
    int rc;
    if (!klfetch_interval(v, tf) || !json) {
        w = "bad venue or timeframe";
        rc = K_ERR;
    } else if (v == VENUE_OKX) {
        rc = klfetch_parse_okx(tf, json, len, closed_before_ms, out, cap, n, &w);
    } else {
        rc = klfetch_parse_binance(tf, json, len, closed_before_ms, out, cap, n, &w);
        if (rc != K_OK)
            *n = 0;
    }
    if (why)
        *why = w;
    return rc;
}

/* ---- the pager ------------------------------------------------------------------------------ */

static void klfetch_step(klfetch *f);

static void klfetch_finish(klfetch *f, enum klfetch_result r, const char *err)
{
    f->dead = true;
    if (f->o.on_done)
        f->o.on_done(f->o.ud, r, err); /* may free f */
}

static void klfetch_timer_cb(loop *l, uint64_t id, void *ud)
{
    (void)l;
    (void)id;
    klfetch *f = ud;
    f->timer = 0;
    klfetch_step(f);
}

static void klfetch_later(klfetch *f, int64_t ms)
{
    if (f->timer)
        loop_timer_cancel(f->o.loop, f->timer);
    f->timer = loop_timer_add(f->o.loop, ms < 1 ? 1 : ms, klfetch_timer_cb, f);
}

static int64_t klfetch_backoff(klfetch *f)
{
    int64_t d = 250LL << (f->attempt < 5 ? f->attempt : 5);
    if (d > 8000)
        d = 8000;
    return d / 2 + rand() % (d / 2 + 1);
}

static void klfetch_on_resp(void *ud, const http_response *r)
{
    klfetch *f = ud;
    f->inflight = false;
    if (f->dead) { /* freed while in flight */
        free(f->bars);
        free(f);
        return;
    }
    char err[256];
    if (r->result == HTTP_ERR_CANCELLED) {
        klfetch_finish(f, KLFETCH_ERR_CANCELLED, "cancelled");
        return;
    }
    bool retry = r->result != HTTP_OK || r->status >= 500 || r->status == 429 || r->status == 418;
    if (retry) {
        if (r->status == 429 || r->status == 418) { /* http.c paused the venue: wait it out */
            f->pr.waits++;
            http_venue_state vs;
            http_venue_state_get(f->o.http, f->o.venue, &vs);
            int64_t wait = vs.paused_until_ms - loop_mono_ms();
            klfetch_later(f, wait > 0 ? wait + 10 : 1000);
            return;
        }
        if (++f->attempt > KLFETCH_RETRIES) {
            snprintf(err, sizeof err, "%s %s klines: %s (HTTP %ld) after %d retries",
                     venue_name(f->o.venue), f->symbol,
                     r->result != HTTP_OK ? http_strerror(r->result) : "server error", r->status,
                     KLFETCH_RETRIES);
            klfetch_finish(f, KLFETCH_ERR_HTTP, err);
            return;
        }
        f->pr.retries++;
        klfetch_later(f, klfetch_backoff(f));
        return;
    }
    if (r->status != 200) {
        snprintf(err, sizeof err, "%s %s klines: HTTP %ld: %.160s", venue_name(f->o.venue),
                 f->symbol, r->status, r->body ? r->body : "");
        klfetch_finish(f, KLFETCH_ERR_HTTP, err);
        return;
    }
    f->attempt = 0;
    uint32_t n = 0;
    const char *why = NULL;
    int64_t closed_before = loop_wall_ms() - 1000; /* a second of clock skew: never a forming bar */
    if (klfetch_parse(f->o.venue, f->o.tf, r->body, r->len, closed_before, f->bars,
                      KLFETCH_PAGE_MAX, &n, &why) != K_OK) {
        snprintf(err, sizeof err, "%s %s klines: %s", venue_name(f->o.venue), f->symbol,
                 why ? why : "unparsable");
        klfetch_finish(f, KLFETCH_ERR_PARSE, err);
        return;
    }
    /* only the window asked for (a server may send more) */
    int64_t wend = f->next + (int64_t)f->page * f->tfms;
    if (wend > f->o.to_ms)
        wend = f->o.to_ms;
    uint32_t k = 0;
    for (uint32_t i = 0; i < n; i++)
        if (f->bars[i].open_ms >= f->next && f->bars[i].open_ms < wend)
            f->bars[k++] = f->bars[i];
    f->next = wend;
    f->pr.next_ms = f->next;
    f->pr.bars += k;
    if (k && f->o.on_page) {
        f->in_cb = true;
        f->o.on_page(f->o.ud, f->bars, k);
        f->in_cb = false;
        if (f->dead) { /* freed from the page callback */
            free(f->bars);
            free(f);
            return;
        }
    }
    /* a window ending after now holds the forming bar: the range is done up to now */
    if (f->next >= f->o.to_ms || f->next > closed_before) {
        klfetch_finish(f, KLFETCH_OK, NULL);
        return;
    }
    klfetch_step(f);
}

static void klfetch_step(klfetch *f)
{
    if (f->dead || f->inflight)
        return;
    char url[KLFETCH_URL_MAX];
    const char *iv = klfetch_interval(f->o.venue, f->o.tf);
    int64_t wend = f->next + (int64_t)f->page * f->tfms;
    if (wend > f->o.to_ms)
        wend = f->o.to_ms;
    int weight = 1;
    uint32_t lim = (uint32_t)((wend - f->next) / f->tfms);
    if (lim == 0)
        lim = 1;
    if (f->o.venue == VENUE_OKX) {
        /* after = older than, before = newer than: exactly the window */
        bool recent = f->next >= loop_wall_ms() - (int64_t)KLFETCH_OKX_RECENT * f->tfms;
        snprintf(url, sizeof url, "%s/api/v5/market/%s?instId=%s&bar=%s&after=%lld&before=%lld"
                 "&limit=%u", f->base, recent ? "candles" : "history-candles", f->symbol, iv,
                 (long long)wend, (long long)(f->next - 1), lim);
    } else {
        bool spot = f->o.venue == VENUE_BINANCE_SPOT;
        snprintf(url, sizeof url, "%s%s?symbol=%s&interval=%s&startTime=%lld&endTime=%lld"
                 "&limit=%u", f->base, spot ? "/api/v3/klines" : "/fapi/v1/klines", f->symbol, iv,
                 (long long)f->next, (long long)(wend - 1), lim);
        weight = spot ? 2 : lim < 100 ? 1 : lim < 500 ? 2 : 5;
    }
    enum http_result r = http_get(f->o.http, f->o.venue, url, weight, klfetch_on_resp, f, NULL);
    if (r == HTTP_OK) {
        f->inflight = true;
        f->pr.requests++;
        return;
    }
    if (r == HTTP_ERR_PAUSED || r == HTTP_ERR_THROTTLED || r == HTTP_ERR_BUSY) {
        f->pr.waits++;
        int64_t wait = 100;
        if (r == HTTP_ERR_PAUSED) {
            http_venue_state vs;
            http_venue_state_get(f->o.http, f->o.venue, &vs);
            wait = vs.paused_until_ms - loop_mono_ms() + 10;
        } else if (r == HTTP_ERR_THROTTLED) {
            wait = f->o.venue == VENUE_OKX ? 200 : 60000 - loop_wall_ms() % 60000 + 50;
        }
        klfetch_later(f, wait);
        return;
    }
    char err[256];
    snprintf(err, sizeof err, "%s %s klines: %s", venue_name(f->o.venue), f->symbol,
             http_strerror(r));
    klfetch_finish(f, KLFETCH_ERR_ARG, err);
}

static void klfetch_first_cb(loop *l, uint64_t id, void *ud)
{
    klfetch_timer_cb(l, id, ud);
}

klfetch *klfetch_start(const klfetch_opts *o, char *err, size_t errlen)
{
    if (!o || !o->loop || !o->http || !o->rest_base || !o->symbol ||
        !klfetch_interval(o->venue, o->tf)) {
        snprintf(err, errlen, "klines: %s has no %s bars", o ? venue_name(o->venue) : "?",
                 o ? tf_name(o->tf) : "?");
        return NULL;
    }
    size_t sl = strlen(o->symbol);
    if (sl == 0 || sl >= KSYM_MAX || strlen(o->rest_base) >= 512) {
        snprintf(err, errlen, "klines: bad symbol or REST URL");
        return NULL;
    }
    for (size_t i = 0; i < sl; i++) {
        char c = o->symbol[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-')) {
            snprintf(err, errlen, "klines: bad symbol '%s'", o->symbol);
            return NULL;
        }
    }
    int64_t ms = tf_ms(o->tf);
    int64_t from = o->from_ms < 0 ? 0 : o->from_ms - o->from_ms % ms;
    if (o->to_ms <= from) {
        snprintf(err, errlen, "klines: empty range");
        return NULL;
    }
    klfetch *f = xcalloc(1, sizeof *f);
    f->o = *o;
    memcpy(f->symbol, o->symbol, sl + 1);
    snprintf(f->base, sizeof f->base, "%s", o->rest_base);
    size_t bl = strlen(f->base);
    while (bl > 0 && f->base[bl - 1] == '/')
        f->base[--bl] = '\0';
    f->o.rest_base = f->base;
    f->o.symbol = f->symbol;
    f->tfms = ms;
    f->next = from;
    uint32_t max = o->venue == VENUE_OKX ? 100 : KLFETCH_PAGE_MAX;
    if (o->venue == VENUE_OKX && from >= loop_wall_ms() - (int64_t)KLFETCH_OKX_RECENT * ms)
        max = 300;
    f->page = o->page && o->page < max ? o->page : max;
    f->bars = xmalloc(KLFETCH_PAGE_MAX * sizeof *f->bars);
    f->pr.from_ms = from;
    f->pr.to_ms = o->to_ms;
    f->pr.next_ms = from;
    f->timer = loop_timer_add(o->loop, 0, klfetch_first_cb, f);
    return f;
}

void klfetch_free(klfetch *f)
{
    if (!f)
        return;
    if (f->timer)
        loop_timer_cancel(f->o.loop, f->timer);
    f->timer = 0;
    f->o.on_done = NULL;
    f->o.on_page = NULL;
    if (f->inflight || f->in_cb) { /* the response (or the page callback's return) frees it */
        f->dead = true;
        return;
    }
    free(f->bars);
    free(f);
}

void klfetch_get_progress(const klfetch *f, klfetch_progress *out)
{
    *out = f->pr;
}
