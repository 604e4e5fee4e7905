/* `kestrel check`: a step-by-step connectivity self-test against the configured venues, each
 * step printed with pass/fail and why: the live configuration (watch list, URLs), per venue a
 * REST ping and the server time (clock offset), then the live module itself on a private loop:
 * per connection the websocket open and its first message, per book a REST snapshot plus
 * buffered diffs until it is live. Every wait is bounded. Exit 0 when every step passed, 1 when
 * one failed, 2 for a bad command line or configuration. */
#include "kestrel/live.h"

#include "kestrel/http.h"
#include "kestrel/ingest.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct live_cli_req {
    bool done;
    http_response r;
    char body[512];
} live_cli_req;

static void live_cli_on_http(void *ud, const http_response *r)
{
    live_cli_req *q = ud;
    q->done = true;
    q->r = *r;
    snprintf(q->body, sizeof q->body, "%s", r->body ? r->body : "");
    q->r.body = q->body;
}

static void live_cli_step(int *fails, bool ok, const char *what, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void live_cli_step(int *fails, bool ok, const char *what, const char *fmt, ...)
{
    char why[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    printf("%-4s %-44s %s\n", ok ? "ok" : "FAIL", what, why);
    fflush(stdout);
    *fails += !ok;
}

/* GET url and wait for it (bounded by the client's own timeout). */
static bool live_cli_get(loop *l, http_client *h, enum venue v, const char *url, live_cli_req *q)
{
    memset(q, 0, sizeof *q);
    enum http_result r = http_get(h, v, url, 1, live_cli_on_http, q, NULL);
    if (r != HTTP_OK) {
        q->r.result = r;
        return false;
    }
    for (int i = 0; i < 1500 && !q->done; i++) /* 15 s, the request times out at 10 */
        loop_once(l, 10);
    return q->done && q->r.result == HTTP_OK && q->r.status == 200;
}

static const char *live_cli_base(const kconfig *cfg, enum venue v)
{
    static const char *const def[VENUE_COUNT] = {"https://api.binance.com",
                                                 "https://fapi.binance.com", "https://www.okx.com"};
    static const char *const test[VENUE_COUNT] = {"https://testnet.binance.vision",
                                                  "https://testnet.binancefuture.com",
                                                  "https://www.okx.com"};
    const kconfig_venue *vc = &cfg->venues[v];
    if (vc->rest_url[0])
        return vc->rest_url;
    return vc->network[0] && strcmp(vc->network, "mainnet") != 0 ? test[v] : def[v];
}

static int64_t live_cli_server_ms(enum venue v, const char *body)
{
    cJSON *j = cJSON_Parse(body);
    int64_t t = 0;
    if (j && v == VENUE_OKX) {
        cJSON *d = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "data"), 0);
        cJSON *ts = d ? cJSON_GetObjectItem(d, "ts") : NULL;
        if (cJSON_IsString(ts))
            t = strtoll(ts->valuestring, NULL, 10);
    } else if (j) {
        cJSON *st = cJSON_GetObjectItem(j, "serverTime");
        if (cJSON_IsNumber(st))
            t = (int64_t)st->valuedouble;
    }
    cJSON_Delete(j);
    return t;
}

/* Every connection has had a message. */
static bool live_cli_all_heard(klive *lv)
{
    for (size_t i = 0; i < live_conn_count(lv); i++) {
        live_conn_info ci;
        if (live_conn_get(lv, i, &ci) != K_OK || ci.msgs == 0)
            return false;
    }
    return true;
}

int live_check_main(kconfig *cfg)
{
    char err[1024];
    int fails = 0;
    enum live_result lr = live_check(cfg, err, sizeof err);
    live_cli_step(&fails, lr == LIVE_OK, "configuration (watch list, venue URLs)", "%s",
                  lr == LIVE_OK ? "" : err);
    if (lr != LIVE_OK)
        return 2;
    bool used[VENUE_COUNT] = {false};
    for (int i = 0; i < cfg->watch_count; i++) {
        enum venue v;
        char sym[KSYM_MAX], one[CONFIG_WATCH_MAX];
        snprintf(one, sizeof one, "%s", cfg->watch[i]);
        char *at = strchr(one, '@'); /* primary@backup (failover): both venues are used */
        if (at)
            *at = '\0';
        if (live_parse_watch(one, &v, sym, sizeof sym, err, sizeof err) == K_OK)
            used[v] = true;
        if (at && live_parse_watch(at + 1, &v, sym, sizeof sym, err, sizeof err) == K_OK)
            used[v] = true;
    }
    loop *l = loop_new();
    const char *ca = NULL;
    for (int v = 0; v < VENUE_COUNT && !ca; v++)
        if (used[v] && cfg->venues[v].ca_file[0])
            ca = cfg->venues[v].ca_file;
    http_opts ho = {.ca_file = ca, .timeout_ms = 10000};
    http_client *h = http_new(l, &ho);
    static const char *const ping[VENUE_COUNT] = {"/api/v3/ping", "/fapi/v1/ping",
                                                  "/api/v5/public/time"};
    static const char *const tpath[VENUE_COUNT] = {"/api/v3/time", "/fapi/v1/time",
                                                   "/api/v5/public/time"};
    for (int v = 0; v < VENUE_COUNT; v++) {
        if (!used[v])
            continue;
        char url[CONFIG_URL_MAX + 64], what[96];
        live_cli_req q;
        snprintf(url, sizeof url, "%s%s", live_cli_base(cfg, (enum venue)v), ping[v]);
        snprintf(what, sizeof what, "%s REST ping (DNS, TLS, HTTP)", venue_name((enum venue)v));
        bool ok = live_cli_get(l, h, (enum venue)v, url, &q);
        if (ok)
            live_cli_step(&fails, true, what, "%s in %lld ms", url, (long long)q.r.elapsed_ms);
        else
            live_cli_step(&fails, false, what, "%s: %s %s (HTTP %ld)", url, http_strerror(q.r.result),
                          q.r.error, q.r.status);
        snprintf(url, sizeof url, "%s%s", live_cli_base(cfg, (enum venue)v), tpath[v]);
        snprintf(what, sizeof what, "%s server time (clock offset)", venue_name((enum venue)v));
        int64_t before = loop_wall_ms();
        ok = live_cli_get(l, h, (enum venue)v, url, &q);
        int64_t after = loop_wall_ms();
        int64_t st = ok ? live_cli_server_ms((enum venue)v, q.body) : 0;
        if (!ok || st <= 0) {
            live_cli_step(&fails, false, what, "%s: %s", url, ok ? "no server time in the answer"
                                                         : http_strerror(q.r.result));
        } else {
            int64_t off = st - (before + after) / 2;
            live_cli_step(&fails, off < 500 && off > -500, what, "offset %+lld ms (round trip %lld ms)%s",
                          (long long)off, (long long)(after - before),
                          off < 500 && off > -500 ? "" : ": above 500 ms, fix the clock (NTP)");
        }
    }
    http_free(h);

    /* the live module itself: websockets, first messages, book sync */
    market *m = market_new(&cfg->limits);
    ingest_opts io = {.grace_ms = cfg->limits.bar_grace_ms};
    ingest *ing = ingest_new(m, NULL, &io);
    live_opts lo = {.loop = l, .ingest = ing, .market = m, .cfg = cfg};
    klive *lv = NULL;
    lr = live_open(&lv, &lo, err, sizeof err);
    live_cli_step(&fails, lr == LIVE_OK, "net thread and connections", "%s", lr == LIVE_OK ? "" : err);
    if (lr == LIVE_OK) {
        int64_t end = loop_mono_ms() + 20000;
        while (loop_mono_ms() < end && !(live_all_books_live(lv) && live_cli_all_heard(lv)))
            loop_once(l, 20);
        for (size_t i = 0; i < live_conn_count(lv); i++) {
            live_conn_info ci;
            if (live_conn_get(lv, i, &ci) != K_OK)
                continue;
            char what[96];
            snprintf(what, sizeof what, "%s %s websocket: first message",
                     venue_name(ci.venue), ci.channel);
            live_cli_step(&fails, ci.msgs > 0, what, "%s: %s, %llu messages%s%s", ci.url, ci.state,
                          (unsigned long long)ci.msgs, ci.last_error[0] ? ", " : "",
                          ci.last_error);
        }
        for (size_t i = 0; i < live_book_count(lv); i++) {
            live_book_info bi;
            if (live_book_get(lv, i, &bi) != K_OK)
                continue;
            char what[96];
            snprintf(what, sizeof what, "%s %s book sync (REST + diffs)", venue_name(bi.venue),
                     bi.symbol);
            live_cli_step(&fails, strcmp(bi.state, "live") == 0, what, "%s, %llu snapshot(s)",
                          bi.state, (unsigned long long)bi.snapshots);
        }
    }
    live_close(lv);
    ingest_free(ing);
    market_free(m);
    loop_free(l);
    printf("%s: %d step(s) failed\n", fails ? "FAIL" : "ok", fails);
    return fails ? 1 : 0;
}
