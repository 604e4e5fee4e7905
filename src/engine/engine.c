/* The signal lifecycle core for one symbol (see engine.h). Owns the feature extractor, the models,
 * the ensemble, calibration, drift detector, guard, adaptive threshold and metrics, a FIFO of
 * pending signals (each with its feature row, every model's prediction and its price path) and a
 * ring of history rows for the screen and the export. Driven only by the caller's data clock. */
#include "kestrel/engine.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kestrel/logreg.h"
#include "kestrel/xmalloc.h"

#define ENGINE_MAGIC 0x4B454E47u /* "KENG" */
#define ENGINE_VERSION 3u /* 2: the ADWIN detector's state follows Page-Hinkley's; 3: the
                           * metrics accumulators and the history rows of pending signals */
#define ENGINE_ROWS 512 /* feature rows kept for sequence-model windows */
#define ENGINE_EVENTS 32
#define ENGINE_HEALTH_LOW 40.0

enum engine_hit { ENGINE_HIT_NONE = 0, ENGINE_HIT_TP, ENGINE_HIT_SL, ENGINE_HIT_BOTH };
static const char *const engine_hits[] = { "none", "tp", "sl", "both" };

/* snprintf(dst, n, "%s", src) without the format machinery (seven of these ran per signal, 5 %
 * of a backtest): the same bytes, truncated to n - 1 and terminated. */
static void engine_copy(char *dst, size_t n, const char *src)
{
    size_t l = strnlen(src, n - 1);
    memcpy(dst, src, l);
    dst[l] = 0;
}

typedef struct engine_pend {
    uint64_t id, seq; /* seq: feature row of the sample */
    int64_t time_ms, horizon_end_ms;
    int32_t action, rule_action, maj_action, first_hit;
    uint8_t tradeable, scored, pad[6];
    double p[MODEL_CLASSES], rule_p[MODEL_CLASSES], maj_p[MODEL_CLASSES];
    double confidence, raw_confidence, strength;
    double px0, hi, lo, tp, sl, band;
    uint8_t model_ready[ENSEMBLE_MAX_MODELS];
    double model_p[ENSEMBLE_MAX_MODELS][MODEL_CLASSES];
    double model_conf[ENSEMBLE_MAX_MODELS];
    float x[FEAT_COUNT];
    uint8_t missing[FEAT_COUNT];
} engine_pend;

/* What is saved verbatim besides the components' own blobs. */
typedef struct engine_counters {
    uint64_t next_id, scored, dropped, drift_events, row_seq;
    uint64_t outcomes[MODEL_CLASSES];
    int64_t last_signal_ms;
    uint8_t was_paused, was_healthy, in_warmup, pad[5]; /* edge detection of the alerts */
    uint64_t warm_bars, warm_signals, warm_scored, warm_discarded; /* engine_warmup_end */
} engine_counters;

struct engine {
    engine_config cfg;
    features *feat;
    uint32_t nmodels;
    model *models[ENSEMBLE_MAX_MODELS];
    ensemble *ens;
    calib *cal;
    drift drift;
    adwin adw;
    ensemble_guard guard;
    ensemble_threshold thr;
    metrics_set *metrics;
    engine_counters k;
    engine_pend *pend; /* ring */
    uint32_t pend_head, pend_n;
    metrics_signal_row *hist; /* ring */
    uint32_t hist_head, hist_n;
    engine_signal last;
    bool have_last;
    double last_px;
    int64_t last_px_ms;
    float (*rows)[FEAT_COUNT]; /* ENGINE_ROWS ring by row_seq */
    float *window;             /* window_len * FEAT_COUNT scratch */
    uint8_t last_missing[FEAT_COUNT];
    double last_raw[FEAT_COUNT];  /* the newest signal's raw features (its replay record) */
    int64_t last_prev_ms;         /* last_signal_ms before the newest signal (the record's link) */
    engine_event events[ENGINE_EVENTS];
    uint32_t ev_head, ev_n;
};

static void engine_raise(engine *e, enum engine_event_kind kind, int64_t t, double value,
                         const char *text)
{
    engine_event *ev;
    if (e->ev_n == ENGINE_EVENTS) {
        e->ev_head = (e->ev_head + 1) % ENGINE_EVENTS;
        e->ev_n--;
    }
    ev = &e->events[(e->ev_head + e->ev_n) % ENGINE_EVENTS];
    e->ev_n++;
    ev->kind = kind;
    ev->time_ms = t;
    ev->value = value;
    snprintf(ev->text, sizeof ev->text, "%s", text ? text : "");
}

const char *engine_event_name(enum engine_event_kind k)
{
    switch (k) {
    case ENGINE_EV_DRIFT: return "drift";
    case ENGINE_EV_PAUSED: return "paused";
    case ENGINE_EV_RESUMED: return "resumed";
    case ENGINE_EV_HEALTH_LOW: return "health_low";
    }
    return "?";
}

bool engine_poll_event(engine *e, engine_event *ev)
{
    if (e->ev_n == 0)
        return false;
    *ev = e->events[e->ev_head];
    e->ev_head = (e->ev_head + 1) % ENGINE_EVENTS;
    e->ev_n--;
    return true;
}

void engine_config_default(engine_config *c)
{
    memset(c, 0, sizeof *c);
    snprintf(c->symbol, sizeof c->symbol, "BTCUSDT");
    c->analysis_tf = TF_15M;
    c->horizon_ms = 15 * 60 * 1000;
    c->fee_bps = 10;
    c->spread_bps = 2;
    c->threshold = SCORER_THRESHOLD;
    c->atr_tp = 2;
    c->atr_sl = 1;
    c->pending_max = 1024;
    c->history_max = 4096;
    c->metrics_window = 500;
    c->window_len = 32;
    c->calib_method = CALIB_ISOTONIC;
    c->calib_window = 500;
    c->calib_min = 100;
    c->drift_method = DRIFT_PAGE_HINKLEY;
    c->conf_interval = true;
    features_config_default(&c->features);
    c->features.analysis_tf = c->analysis_tf;
}

engine *engine_new(const engine_config *cfg, model **models, uint32_t nmodels)
{
    if (nmodels > ENSEMBLE_MAX_MODELS)
        return NULL;
    for (uint32_t i = 0; i < nmodels; i++)
        if (!models[i] || models[i]->nfeat != FEAT_COUNT)
            return NULL;
    engine *e = xcalloc(1, sizeof *e);
    if (cfg)
        e->cfg = *cfg;
    else
        engine_config_default(&e->cfg);
    engine_config *c = &e->cfg;
    c->features.analysis_tf = c->analysis_tf;
    if (c->pending_max == 0)
        c->pending_max = 1;
    if (c->history_max == 0)
        c->history_max = 1;
    if (c->window_len == 0 || c->window_len > ENGINE_ROWS / 2)
        c->window_len = 32;
    e->feat = features_new(&c->features);
    e->nmodels = nmodels;
    const char *names[ENSEMBLE_MAX_MODELS];
    for (uint32_t i = 0; i < nmodels; i++) {
        e->models[i] = models[i];
        names[i] = models[i]->name;
    }
    e->ens = ensemble_new(nmodels, NULL);
    { /* issue 12: the deep and tree models earn weight only by beating the logistic regression */
        int base = -1;
        bool gated[ENSEMBLE_MAX_MODELS] = {false};
        for (uint32_t i = 0; i < nmodels && i < ENSEMBLE_MAX_MODELS; i++) {
            if (base < 0 && !strcmp(models[i]->ops->kind, "logreg"))
                base = (int)i;
            gated[i] = (models[i]->ops->flags & MODEL_F_OFFTHREAD) != 0;
        }
        ensemble_set_baseline(e->ens, base, gated);
    }
    e->cal = calib_new(c->calib_method, c->calib_window, c->calib_min);
    drift_init_default(&e->drift);
    adwin_init_default(&e->adw);
    ensemble_guard_init(&e->guard);
    ensemble_threshold_init(&e->thr, c->threshold);
    e->metrics = metrics_set_new(c->metrics_window, nmodels, names);
    e->pend = xcalloc(c->pending_max, sizeof *e->pend);
    e->hist = xcalloc(c->history_max, sizeof *e->hist);
    e->rows = xcalloc(ENGINE_ROWS, sizeof *e->rows);
    e->window = xcalloc((size_t)c->window_len * FEAT_COUNT, sizeof(float));
    e->k.next_id = 1;
    e->k.last_signal_ms = INT64_MIN;
    e->k.was_healthy = true;
    e->last_px = NAN;
    e->last_px_ms = INT64_MIN;
    return e;
}

void engine_free(engine *e)
{
    if (!e)
        return;
    for (uint32_t i = 0; i < e->nmodels; i++)
        e->models[i]->ops->free(e->models[i]);
    features_free(e->feat);
    ensemble_free(e->ens);
    calib_free(e->cal);
    metrics_set_free(e->metrics);
    free(e->pend);
    free(e->hist);
    free(e->rows);
    free(e->window);
    free(e);
}

/* ---- lookups ------------------------------------------------------------------------ */

static engine_pend *engine_pend_find(engine *e, uint64_t id)
{
    if (e->pend_n == 0)
        return NULL;
    uint64_t first = e->pend[e->pend_head].id;
    if (id < first || id - first >= e->pend_n)
        return NULL;
    engine_pend *p = &e->pend[(e->pend_head + (id - first)) % e->cfg.pending_max];
    return p->id == id ? p : NULL;
}

static metrics_signal_row *engine_row_find(engine *e, uint64_t id)
{
    if (e->hist_n == 0)
        return NULL;
    uint64_t newest = e->k.next_id - 1;
    if (id > newest || newest - id >= e->hist_n)
        return NULL;
    metrics_signal_row *r =
        &e->hist[(e->hist_head + e->hist_n - 1 - (newest - id)) % e->cfg.history_max];
    return r->id == id ? r : NULL;
}

/* Whether a model takes the window of feature rows (the others never see model_input.window). */
static bool engine_any_sequence(const engine *e)
{
    for (uint32_t i = 0; i < e->nmodels; i++)
        if (e->models[i]->ops->flags & MODEL_F_SEQUENCE)
            return true;
    return false;
}

static int engine_argmax(const double *p)
{
    int k = MODEL_HOLD; /* ties go to HOLD */
    for (int i = 0; i < MODEL_CLASSES; i++)
        if (p[i] > p[k])
            k = i;
    return k;
}

/* ---- scoring ------------------------------------------------------------------------ */

/* ret: the price's relative change over the horizon (the scorer's, or a stored one) */
static void engine_learn_one(engine *e, engine_pend *p, int label, int64_t now_ms, double ret)
{
    if (now_ms < p->horizon_end_ms)
        now_ms = p->horizon_end_ms; /* events carry the data time the label became due */
    int dir = p->action == MODEL_BUY ? 1 : p->action == MODEL_SELL ? -1 : 0;
    int result = dir == 0 ? 0 : label == MODEL_HOLD ? 0
                 : (label == MODEL_BUY) == (dir > 0) ? 1 : -1;
    double up = p->hi / p->px0 - 1, down = 1 - p->lo / p->px0;
    double mfe = dir < 0 ? down : up, mae = dir < 0 ? up : down;
    /* models: metrics and ensemble loss of what each predicted then, then the label */
    model_input in = { .x = p->x, .missing = p->missing, .nfeat = FEAT_COUNT };
    uint64_t first_row = e->k.row_seq > ENGINE_ROWS ? e->k.row_seq - ENGINE_ROWS : 0;
    uint32_t wl = e->cfg.window_len;
    bool have_window = p->seq + 1 >= wl && p->seq + 1 - wl >= first_row;
    if (have_window && engine_any_sequence(e)) { /* the rows are copied only for a model that
                                                  * reads them */
        for (uint32_t r = 0; r < wl; r++)
            memcpy(e->window + (size_t)r * FEAT_COUNT, e->rows[(p->seq + 1 - wl + r) % ENGINE_ROWS],
                   sizeof(float) * FEAT_COUNT);
        in.window = e->window;
        in.window_len = wl;
    }
    for (uint32_t i = 0; i < e->nmodels; i++) {
        if (p->model_ready[i]) {
            metrics_rec r = { { p->model_p[i][0], p->model_p[i][1], p->model_p[i][2] },
                              p->model_conf[i], engine_argmax(p->model_p[i]), label };
            metrics_set_model(e->metrics, i, &r);
            ensemble_score(e->ens, i, p->model_p[i], label);
        }
        model *m = e->models[i];
        model_input mi = in;
        if (!(m->ops->flags & MODEL_F_SEQUENCE)) {
            mi.window = NULL;
            mi.window_len = 0;
        }
        (void)model_learn(m, &mi, label, 1.0); /* a refusal (bad input) only skips this model */
    }
    metrics_rec er = { { p->p[0], p->p[1], p->p[2] }, p->confidence, p->action, label };
    metrics_set_ensemble(e->metrics, &er);
    metrics_rec rr = { { p->rule_p[0], p->rule_p[1], p->rule_p[2] }, p->rule_p[p->rule_action],
                       p->rule_action, label };
    metrics_set_baseline(e->metrics, METRICS_RULES, &rr);
    metrics_rec mr = { { p->maj_p[0], p->maj_p[1], p->maj_p[2] }, p->maj_p[p->maj_action],
                       p->maj_action, label };
    metrics_set_baseline(e->metrics, METRICS_MAJORITY, &mr);
    if (p->tradeable) {
        metrics_set_trade(e->metrics, dir * ret - p->band); /* band = 2 fees + spread */
        ensemble_threshold_add(&e->thr, result > 0);
    }
    calib_add(e->cal, p->raw_confidence, p->action == label);
    double po = p->p[label] > METRICS_LL_EPS ? p->p[label] : METRICS_LL_EPS;
    double ph = drift_stat(&e->drift);
    bool drifted;
    char dtext[112];
    if (e->cfg.drift_method == DRIFT_ADWIN) {
        drifted = adwin_add(&e->adw, -log(po));
        ph = e->adw.last_new_mean - e->adw.last_old_mean;
        if (drifted) /* the text only when an event carries it: formatting costs per label */
            snprintf(dtext, sizeof dtext, "ADWIN: mean log loss %.3f -> %.3f: weights reset, "
                     "calibration refit on the newest 50", e->adw.last_old_mean,
                     e->adw.last_new_mean);
    } else {
        drifted = drift_add(&e->drift, -log(po));
        if (drifted)
            snprintf(dtext, sizeof dtext, "drift on the ensemble's log loss: "
                     "weights reset, calibration refit on the newest 50");
    }
    if (drifted) {
        e->k.drift_events++;
        ensemble_reset(e->ens);
        calib_keep_recent(e->cal, 50);
        engine_raise(e, ENGINE_EV_DRIFT, now_ms, ph, dtext);
    }
    ensemble_guard_add(&e->guard, p->action == label, label == MODEL_HOLD);
    char why[96];
    bool paused = ensemble_guard_paused(&e->guard, NULL, 0); /* the reason only for an event */
    if (paused != e->k.was_paused) {
        if (paused)
            (void)ensemble_guard_paused(&e->guard, why, sizeof why);
        engine_raise(e, paused ? ENGINE_EV_PAUSED : ENGINE_EV_RESUMED, now_ms, NAN,
                     paused ? why : "self-pause rule no longer holds");
    }
    e->k.was_paused = paused;
    double health = metrics_set_health(e->metrics);
    if (!isnan(health)) {
        if (health < ENGINE_HEALTH_LOW && e->k.was_healthy)
            engine_raise(e, ENGINE_EV_HEALTH_LOW, now_ms, health, "health score below 40");
        e->k.was_healthy = health >= ENGINE_HEALTH_LOW;
    }
    e->k.outcomes[label]++;
    e->k.scored++;
    p->scored = 1;
    metrics_signal_row *row = engine_row_find(e, p->id);
    if (row) {
        row->scored = true;
        row->outcome = label;
        row->result = result;
        row->ret = ret;
        row->mfe = mfe;
        row->mae = mae;
        engine_copy(row->first_hit, sizeof row->first_hit, dir ? engine_hits[p->first_hit] : "-");
    }
    if (e->have_last && e->last.id == p->id) {
        e->last.scored = true;
        e->last.outcome = label;
        e->last.result = result;
        e->last.ret = ret;
        e->last.mfe = mfe;
        e->last.mae = mae;
        e->last.first_hit = dir ? engine_hits[p->first_hit] : "-";
    }
}

static void engine_pend_trim(engine *e)
{
    while (e->pend_n && e->pend[e->pend_head].scored) {
        e->pend_head = (e->pend_head + 1) % e->cfg.pending_max;
        e->pend_n--;
    }
}

/* The outcome class of a return against the dead band. */
static int engine_outcome(double ret, double band)
{
    return ret > band ? MODEL_BUY : ret < -band ? MODEL_SELL : MODEL_HOLD;
}

/* Scores every pending signal with horizon_end < before (strict) or <= at (inclusive). */
static uint32_t engine_score_due(engine *e, int64_t t, bool inclusive, int64_t now_ms)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < e->pend_n; i++) {
        engine_pend *p = &e->pend[(e->pend_head + i) % e->cfg.pending_max];
        bool due = inclusive ? p->horizon_end_ms <= t : p->horizon_end_ms < t;
        if (!due)
            break; /* FIFO with one horizon: later ones are not due either */
        if (p->scored)
            continue;
        double ret = isnan(e->last_px) ? 0 : e->last_px / p->px0 - 1;
        double rret = (isnan(e->last_px) || !(p->px0 > 0)) ? 0 : e->last_px / p->px0 - 1;
        engine_learn_one(e, p, engine_outcome(ret, p->band), now_ms, rret);
        n++;
    }
    engine_pend_trim(e);
    return n;
}

enum model_result engine_label(engine *e, uint64_t id, int label, int64_t now_ms)
{
    engine_pend *p = engine_pend_find(e, id);
    if (!p || p->scored || label < 0 || label >= MODEL_CLASSES)
        return K_MODEL_BAD_INPUT;
    if (now_ms < p->horizon_end_ms)
        return K_MODEL_REFUSED; /* prequential guard: the label is not due yet */
    double px1 = e->last_px;
    engine_learn_one(e, p, label, now_ms, (isnan(px1) || !(p->px0 > 0)) ? 0 : px1 / p->px0 - 1);
    engine_pend_trim(e);
    return K_MODEL_OK;
}

uint32_t engine_advance(engine *e, int64_t now_ms)
{
    return engine_score_due(e, now_ms, true, now_ms);
}

/* A price observation covering (t_start, t_end] with its extremes and last price. */
static void engine_price(engine *e, int64_t t_start, int64_t t_end, double hi, double lo,
                         double close)
{
    if (!(close > 0) || !isfinite(close))
        return;
    engine_score_due(e, t_end, false, t_end);
    for (uint32_t i = 0; i < e->pend_n; i++) {
        engine_pend *p = &e->pend[(e->pend_head + i) % e->cfg.pending_max];
        if (p->scored || t_end <= p->time_ms || t_end > p->horizon_end_ms)
            continue;
        double h = t_start >= p->time_ms ? hi : close, l = t_start >= p->time_ms ? lo : close;
        if (h > p->hi)
            p->hi = h;
        if (l < p->lo)
            p->lo = l;
        if (p->first_hit == ENGINE_HIT_NONE && p->action != MODEL_HOLD && isfinite(p->tp)) {
            bool buy = p->action == MODEL_BUY;
            bool tp = buy ? h >= p->tp : l <= p->tp, sl = buy ? l <= p->sl : h >= p->sl;
            p->first_hit = tp && sl ? ENGINE_HIT_BOTH : tp ? ENGINE_HIT_TP
                         : sl ? ENGINE_HIT_SL : ENGINE_HIT_NONE;
        }
    }
    if (t_end >= e->last_px_ms) {
        e->last_px = close;
        e->last_px_ms = t_end;
    }
}

/* ---- feed --------------------------------------------------------------------------- */

int engine_on_bar(engine *e, enum tf tf, const candle *c, bool has_taker)
{
    int r = features_on_bar(e->feat, tf, c, has_taker);
    if (r != K_OK)
        return r;
    int64_t ms = tf_ms(tf);
    engine_price(e, c->open_ms, c->open_ms + ms, (double)c->h / KDEC_SCALE,
                 (double)c->l / KDEC_SCALE, (double)c->c / KDEC_SCALE);
    return K_OK;
}

uint32_t engine_rebuild_bars(engine *e, enum tf tf, const candle *bars, uint32_t n,
                             bool has_taker)
{
    return features_rebuild(e->feat, tf, bars, n, has_taker);
}

uint64_t engine_bars(const engine *e, enum tf tf)
{
    return features_bars(e->feat, tf);
}

int64_t engine_last_bar(const engine *e, enum tf tf)
{
    return features_last_open(e->feat, tf);
}

void engine_peek_features(const engine *e, int64_t now_ms, double *raw)
{
    features_peek(e->feat, now_ms, raw);
}

void engine_on_trade(engine *e, int64_t time_ms, kdec px, kdec qty, bool buyer_maker)
{
    features_on_trade(e->feat, time_ms, px, qty, buyer_maker);
    double p = (double)px / KDEC_SCALE;
    if (qty > 0)
        engine_price(e, time_ms, time_ms, p, p, p);
}

void engine_on_book(engine *e, const book *b, int64_t now_ms)
{
    features_on_book(e->feat, b, now_ms);
}

void engine_on_depth(engine *e, const kdec *bid_px, const kdec *bid_qty, uint32_t nbid,
                     const kdec *ask_px, const kdec *ask_qty, uint32_t nask, int64_t now_ms)
{
    features_on_depth(e->feat, bid_px, bid_qty, nbid, ask_px, ask_qty, nask, now_ms);
}

void engine_on_funding(engine *e, int64_t time_ms, double rate, double mark, double index)
{
    features_on_funding(e->feat, time_ms, rate, mark, index);
}

/* ---- signals ------------------------------------------------------------------------ */

static int engine_reason_cmp(const void *a, const void *b)
{
    double x = fabs(((const scorer_reason *)a)->delta), y = fabs(((const scorer_reason *)b)->delta);
    return x < y ? 1 : x > y ? -1 : 0;
}

enum model_result engine_signal_make(engine *e, int64_t now_ms, engine_signal *s)
{
    if (isnan(e->last_px))
        return K_MODEL_NOT_READY;
    if (now_ms < e->k.last_signal_ms)
        return K_MODEL_BAD_INPUT;
    engine_advance(e, now_ms); /* labels due by now are learned before predicting */
    memset(s, 0, sizeof *s);
    engine_pend *p;
    if (e->pend_n == e->cfg.pending_max) { /* full: the oldest is dropped unscored */
        e->pend_head = (e->pend_head + 1) % e->cfg.pending_max;
        e->pend_n--;
        e->k.dropped++;
    }
    p = &e->pend[(e->pend_head + e->pend_n) % e->cfg.pending_max];
    memset(p, 0, sizeof *p);
    double *raw = e->last_raw;
    s->missing = features_extract(e->feat, now_ms, p->x, p->missing, raw);
    uint64_t seq = e->k.row_seq++;
    memcpy(e->rows[seq % ENGINE_ROWS], p->x, sizeof p->x);
    memcpy(e->last_missing, p->missing, sizeof p->missing);
    p->seq = seq;

    scorer_input si;
    scorer_result sr;
    features_scorer_input(e->feat, now_ms, &si);
    double thr = ensemble_threshold_get(&e->thr);
    scorer_score(&si, thr, &sr);

    /* models */
    model_input in = { .x = p->x, .missing = p->missing, .nfeat = FEAT_COUNT };
    uint32_t wl = e->cfg.window_len;
    if (seq + 1 >= wl && engine_any_sequence(e)) {
        for (uint32_t r = 0; r < wl; r++)
            memcpy(e->window + (size_t)r * FEAT_COUNT, e->rows[(seq + 1 - wl + r) % ENGINE_ROWS],
                   sizeof(float) * FEAT_COUNT);
        in.window = e->window;
        in.window_len = wl;
    }
    model_output outs[ENSEMBLE_MAX_MODELS];
    bool ready[ENSEMBLE_MAX_MODELS];
    for (uint32_t i = 0; i < e->nmodels; i++) {
        model *m = e->models[i];
        model_input mi = in;
        if (!(m->ops->flags & MODEL_F_SEQUENCE)) {
            mi.window = NULL;
            mi.window_len = 0;
        }
        ready[i] = model_predict(m, &mi, &outs[i]) == K_MODEL_OK;
        p->model_ready[i] = ready[i];
        if (ready[i]) {
            memcpy(p->model_p[i], outs[i].p, sizeof outs[i].p);
            p->model_conf[i] = outs[i].confidence >= 0 ? outs[i].confidence
                                                       : outs[i].p[engine_argmax(outs[i].p)];
        }
    }
    double used[ENSEMBLE_MAX_MODELS] = { 0 };
    bool any = ensemble_combine(e->ens, outs, ready, s->p, used);
    scorer_result fb;
    if (any) {
        s->source = "ensemble";
    } else {
        scorer_rsi_fallback(si.rsi, &fb);
        memcpy(s->p, fb.p, sizeof s->p);
        s->source = "rsi_fallback";
    }
    s->action = engine_argmax(s->p);
    s->raw_confidence = s->p[s->action];
    s->confidence = calib_map(e->cal, s->raw_confidence, &s->calibrated);
    s->conf_lo = 0;
    s->conf_hi = 1;
    if (e->cfg.conf_interval)
        calib_interval(e->cal, s->raw_confidence, &s->conf_lo, &s->conf_hi);
    s->calib_n = calib_n(e->cal);
    s->calib_need = calib_min_n(e->cal);
    s->bull = sr.bull;
    s->bear = sr.bear;
    s->strength = s->action == MODEL_BUY ? sr.bull : s->action == MODEL_SELL ? sr.bear
                                                   : fmax(sr.bull, sr.bear);
    s->threshold = thr;
    s->regime = ensemble_regime(&si);
    s->price = e->last_px;
    s->atr = si.atr;
    double spread = raw[FEAT_SPREAD_BPS];
    s->band = (2 * e->cfg.fee_bps + (isnan(spread) ? e->cfg.spread_bps : spread)) / 1e4;
    s->tp = s->sl = NAN;
    if (s->action != MODEL_HOLD && !isnan(s->atr)) {
        int dir = s->action == MODEL_BUY ? 1 : -1;
        s->tp = s->price + dir * e->cfg.atr_tp * s->atr;
        s->sl = s->price - dir * e->cfg.atr_sl * s->atr;
    }
    if (e->k.in_warmup)
        s->source = "warmup"; /* learned from, never traded */
    char why[112] = "";
    bool regime_ok = ensemble_regime_allows(s->regime, s->action, &sr, &si, why, sizeof why);
    char paused[96];
    bool is_paused = ensemble_guard_paused(&e->guard, NULL, 0); /* its reason when shown */
    if (s->action == MODEL_HOLD)
        engine_copy(s->gate, sizeof s->gate, "HOLD");
    else if (s->strength < thr)
        snprintf(s->gate, sizeof s->gate, "strength %.2f < threshold %.2f", s->strength, thr);
    else if (!regime_ok)
        engine_copy(s->gate, sizeof s->gate, why);
    else if (is_paused && ensemble_guard_paused(&e->guard, paused, sizeof paused))
        snprintf(s->gate, sizeof s->gate, "paused: %s", paused);
    else if (e->k.in_warmup)
        engine_copy(s->gate, sizeof s->gate, "warm-up on history");
    s->tradeable = s->gate[0] == 0;
    s->nmodels = e->nmodels;
    for (uint32_t i = 0; i < e->nmodels; i++) {
        engine_model_view *v = &s->models[i];
        engine_copy(v->name, sizeof v->name, e->models[i]->name);
        v->ready = ready[i];
        if (ready[i])
            memcpy(v->p, outs[i].p, sizeof v->p);
        v->weight = used[i];
    }
    for (uint32_t i = 0; i < e->nmodels; i++) {
        if (!ready[i] || strcmp(e->models[i]->ops->kind, "logreg") != 0)
            continue;
        uint32_t idx[3];
        double con[3];
        s->nfeatures_top = logreg_explain(e->models[i], &in, s->action, idx, con, 3);
        for (uint32_t k = 0; k < s->nfeatures_top; k++) {
            s->features_top[k].name = features_name(idx[k]);
            s->features_top[k].contribution = con[k];
        }
        break;
    }
    scorer_reason rs[SCORER_REASONS + 1];
    uint32_t nr = 0;
    if (!any)
        rs[nr++] = fb.reasons[0];
    qsort(sr.reasons, sr.nreasons, sizeof sr.reasons[0], engine_reason_cmp);
    for (uint32_t i = 0; i < sr.nreasons && nr < SCORER_REASONS + 1; i++)
        rs[nr++] = sr.reasons[i];
    s->nreasons = nr < ENGINE_TOP_REASONS ? nr : ENGINE_TOP_REASONS;
    memcpy(s->reasons, rs, s->nreasons * sizeof rs[0]);
    s->id = e->k.next_id++;
    s->time_ms = now_ms;
    s->horizon_end_ms = now_ms + e->cfg.horizon_ms;
    s->first_hit = s->action == MODEL_HOLD ? "-" : "none";
    e->last_prev_ms = e->k.last_signal_ms;
    e->k.last_signal_ms = now_ms;

    /* the pending record */
    p->id = s->id;
    p->time_ms = s->time_ms;
    p->horizon_end_ms = s->horizon_end_ms;
    p->action = s->action;
    memcpy(p->p, s->p, sizeof p->p);
    p->confidence = s->confidence;
    p->raw_confidence = s->raw_confidence;
    p->strength = s->strength;
    p->tradeable = s->tradeable;
    p->px0 = p->hi = p->lo = s->price;
    p->tp = s->tp;
    p->sl = s->sl;
    p->band = s->band;
    p->rule_action = sr.action;
    memcpy(p->rule_p, sr.p, sizeof p->rule_p);
    uint64_t tot = e->k.outcomes[0] + e->k.outcomes[1] + e->k.outcomes[2];
    for (int k = 0; k < MODEL_CLASSES; k++)
        p->maj_p[k] = (double)(e->k.outcomes[k] + 1) / (double)(tot + MODEL_CLASSES);
    p->maj_action = engine_argmax(p->maj_p);
    e->pend_n++;

    /* the history row */
    metrics_signal_row *row;
    if (e->hist_n == e->cfg.history_max) {
        row = &e->hist[e->hist_head];
        e->hist_head = (e->hist_head + 1) % e->cfg.history_max;
    } else {
        row = &e->hist[(e->hist_head + e->hist_n) % e->cfg.history_max];
        e->hist_n++;
    }
    memset(row, 0, sizeof *row);
    row->id = s->id;
    row->time_ms = s->time_ms;
    row->horizon_end_ms = s->horizon_end_ms;
    engine_copy(row->symbol, sizeof row->symbol, e->cfg.symbol);
    row->action = s->action;
    memcpy(row->p, s->p, sizeof row->p);
    row->confidence = s->confidence;
    row->strength = s->strength;
    engine_copy(row->regime, sizeof row->regime, ensemble_regime_name(s->regime));
    engine_copy(row->source, sizeof row->source, s->source);
    engine_copy(row->first_hit, sizeof row->first_hit, s->first_hit);
    row->traded = s->tradeable;
    e->last = *s;
    e->have_last = true;
    return K_MODEL_OK;
}

/* ---- warm-up on history ------------------------------------------------------------- */

void engine_warmup_begin(engine *e)
{
    e->k.in_warmup = 1;
    e->k.warm_signals = e->k.next_id - 1;
    e->k.warm_scored = e->k.scored;
}

void engine_warmup_end(engine *e, uint64_t bars)
{
    if (!e->k.in_warmup)
        return;
    e->k.in_warmup = 0;
    e->k.warm_bars += bars;
    e->k.warm_signals = e->k.next_id - 1 - e->k.warm_signals;
    e->k.warm_scored = e->k.scored - e->k.warm_scored;
    /* what the history left unscored would be scored against the first live price, hours or
     * days later: dropped (their rows stay unscored) */
    for (uint32_t i = 0; i < e->pend_n; i++) {
        engine_pend *p = &e->pend[(e->pend_head + i) % e->cfg.pending_max];
        if (!p->scored) {
            p->scored = 1;
            e->k.warm_discarded++;
        }
    }
    engine_pend_trim(e);
}

void engine_warmup_info(const engine *e, engine_warmup_stats *out)
{
    out->bars = e->k.warm_bars;
    out->signals = e->k.warm_signals;
    out->scored = e->k.warm_scored;
    out->discarded = e->k.warm_discarded;
}

/* ---- accessors ---------------------------------------------------------------------- */

uint32_t engine_pending(const engine *e)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < e->pend_n; i++)
        n += !e->pend[(e->pend_head + i) % e->cfg.pending_max].scored;
    return n;
}

uint64_t engine_scored(const engine *e)
{
    return e->k.scored;
}

uint64_t engine_pending_dropped(const engine *e)
{
    return e->k.dropped;
}

const engine_signal *engine_last(const engine *e)
{
    return e->have_last ? &e->last : NULL;
}

uint32_t engine_history_len(const engine *e)
{
    return e->hist_n;
}

const metrics_signal_row *engine_history(const engine *e, uint32_t i)
{
    return i < e->hist_n ? &e->hist[(e->hist_head + i) % e->cfg.history_max] : NULL;
}

static metrics_signal_row *engine_hist_copy(const engine *e)
{
    metrics_signal_row *v = xmalloc((e->hist_n ? e->hist_n : 1) * sizeof *v);
    for (uint32_t i = 0; i < e->hist_n; i++)
        v[i] = *engine_history(e, i);
    return v;
}

int engine_export_csv(const engine *e, FILE *fp)
{
    metrics_signal_row *v = engine_hist_copy(e);
    int r = metrics_export_csv(fp, v, e->hist_n);
    free(v);
    return r;
}

int engine_export_json(const engine *e, FILE *fp)
{
    metrics_signal_row *v = engine_hist_copy(e);
    int r = metrics_export_json(fp, v, e->hist_n);
    free(v);
    return r;
}

const metrics_set *engine_metrics(const engine *e)
{
    return e->metrics;
}

/* Why model i has the weight it has (docs/CONTROL.md `metrics`): held at zero by the
 * logistic-regression rule (a deep or tree model that has not beaten logreg out of sample over
 * its window, or has fewer than min_scored scored predictions), at the prior weight (too few
 * scored predictions of its own), or weighted by its rolling log loss. */
static void engine_weight_json(const engine *e, uint32_t i, cJSON *mo)
{
    double loss, base;
    bool held = ensemble_held(e->ens, i, &loss, &base);
    uint32_t n = ensemble_scored(e->ens, i);
    cJSON_AddBoolToObject(mo, "held_by_logreg_rule", held);
    const char *why = held                           ? "held_by_logreg_rule"
                      : !ensemble_own_loss(e->ens, i) ? "prior"
                                                      : "log_loss";
    cJSON_AddStringToObject(mo, "weight_reason", why);
    cJSON_AddNumberToObject(mo, "weight_scored", n);
    if (isfinite(loss))
        cJSON_AddNumberToObject(mo, "weight_log_loss", loss);
    else
        cJSON_AddNullToObject(mo, "weight_log_loss");
    if (held && isfinite(base))
        cJSON_AddNumberToObject(mo, "logreg_log_loss", base);
    else if (held)
        cJSON_AddNullToObject(mo, "logreg_log_loss");
}

cJSON *engine_metrics_json(const engine *e)
{
    cJSON *j = metrics_set_json(e->metrics);
    cJSON *mods = cJSON_GetObjectItemCaseSensitive(j, "models");
    for (uint32_t i = 0; i < e->nmodels; i++) { /* labelled samples each model has learned */
        cJSON *mo = cJSON_GetObjectItemCaseSensitive(mods, e->models[i]->name);
        const model *m = e->models[i];
        if (!mo)
            continue;
        cJSON_AddNumberToObject(mo, "samples", m->ops->samples ? (double)m->ops->samples(m) : 0);
        engine_weight_json(e, i, mo);
    }
    cJSON *w = cJSON_AddObjectToObject(j, "weights");
    double wt[ENSEMBLE_MAX_MODELS];
    ensemble_weights(e->ens, wt);
    for (uint32_t i = 0; i < e->nmodels; i++)
        cJSON_AddNumberToObject(w, e->models[i]->name, wt[i]);
    cJSON *c = cJSON_AddObjectToObject(j, "calibration");
    cJSON_AddStringToObject(c, "method", calib_method_name(calib_get_method(e->cal)));
    cJSON_AddNumberToObject(c, "n", calib_n(e->cal));
    cJSON_AddNumberToObject(c, "need", calib_min_n(e->cal));
    cJSON_AddNumberToObject(j, "drift_events", (double)e->k.drift_events);
    cJSON *wu = cJSON_AddObjectToObject(j, "warmup");
    cJSON_AddNumberToObject(wu, "bars", (double)e->k.warm_bars);
    cJSON_AddNumberToObject(wu, "signals", (double)e->k.warm_signals);
    cJSON_AddNumberToObject(wu, "scored", (double)e->k.warm_scored);
    cJSON_AddNumberToObject(wu, "discarded", (double)e->k.warm_discarded);
    cJSON_AddNumberToObject(j, "threshold", ensemble_threshold_get(&e->thr));
    char why[112];
    bool paused = ensemble_guard_paused(&e->guard, why, sizeof why);
    cJSON_AddBoolToObject(j, "paused", paused);
    cJSON_AddStringToObject(j, "pause_reason", why);
    return j;
}

uint32_t engine_models(const engine *e)
{
    return e->nmodels;
}

model *engine_model(engine *e, uint32_t i)
{
    return i < e->nmodels ? e->models[i] : NULL;
}

bool engine_model_held(const engine *e, uint32_t i, double *loss, double *base)
{
    return ensemble_held(e->ens, i, loss, base);
}

void engine_weights(const engine *e, double *w)
{
    ensemble_weights(e->ens, w);
}

bool engine_paused(const engine *e, char *why, size_t whylen)
{
    return ensemble_guard_paused(&e->guard, why, whylen);
}

double engine_threshold(const engine *e)
{
    return ensemble_threshold_get(&e->thr);
}

uint64_t engine_drift_events(const engine *e)
{
    return e->k.drift_events;
}

const calib *engine_calib(const engine *e)
{
    return e->cal;
}

const float *engine_last_features(const engine *e, const uint8_t **missing)
{
    if (e->k.row_seq == 0)
        return NULL;
    if (missing)
        *missing = e->last_missing;
    return e->rows[(e->k.row_seq - 1) % ENGINE_ROWS];
}

/* ---- persistence -------------------------------------------------------------------- */

struct engine_header {
    uint32_t magic, version, nmodels, nfeat, pending_max, pend_n;
    uint64_t pend_size;
};

static void engine_section(model_blob *out, const model_blob *part)
{
    uint64_t n = part->len;
    model_blob_put(out, &n, sizeof n);
    model_blob_put(out, part->data, part->len);
}

enum model_result engine_save(const engine *e, model_blob *out)
{
    struct engine_header h = { ENGINE_MAGIC, ENGINE_VERSION, e->nmodels, FEAT_COUNT,
                               e->cfg.pending_max, e->pend_n, sizeof(engine_pend) };
    model_blob_put(out, &h, sizeof h);
    model_blob part = { 0 };
    features_save(e->feat, &part);
    engine_section(out, &part);
    part.len = 0;
    calib_save(e->cal, &part);
    engine_section(out, &part);
    part.len = 0;
    ensemble_save(e->ens, &part);
    engine_section(out, &part);
    for (uint32_t i = 0; i < e->nmodels; i++) {
        part.len = 0;
        enum model_result r = e->models[i]->ops->save(e->models[i], &part);
        if (r != K_MODEL_OK) {
            model_blob_free(&part);
            return r;
        }
        model_blob_put(out, e->models[i]->name, sizeof e->models[i]->name);
        engine_section(out, &part);
    }
    model_blob_free(&part);
    model_blob_put(out, &e->drift, sizeof e->drift);
    model_blob_put(out, &e->adw, sizeof e->adw);
    model_blob_put(out, &e->guard, sizeof e->guard);
    model_blob_put(out, &e->thr, sizeof e->thr);
    model_blob_put(out, &e->k, sizeof e->k);
    model_blob_put(out, &e->last_px, sizeof e->last_px);
    model_blob_put(out, &e->last_px_ms, sizeof e->last_px_ms);
    for (uint32_t i = 0; i < e->pend_n; i++)
        model_blob_put(out, &e->pend[(e->pend_head + i) % e->cfg.pending_max], sizeof(engine_pend));
    model_blob_put(out, e->rows, sizeof(float) * FEAT_COUNT * ENGINE_ROWS);
    /* 3: metrics, then the history rows from the oldest pending signal on (so a restored
     * pending signal that is scored later updates its row: the app's store upserts it) */
    model_blob part2 = { 0 };
    metrics_set_save(e->metrics, &part2);
    engine_section(out, &part2);
    model_blob_free(&part2);
    uint32_t from = e->hist_n;
    if (e->pend_n) {
        uint64_t oldest = e->pend[e->pend_head].id;
        for (from = 0; from < e->hist_n && engine_history(e, from)->id < oldest; from++)
            ;
    }
    uint32_t nrows = e->hist_n - from;
    model_blob_put(out, &nrows, sizeof nrows);
    for (uint32_t i = from; i < e->hist_n; i++)
        model_blob_put(out, engine_history(e, i), sizeof(metrics_signal_row));
    return K_MODEL_OK;
}

static enum model_result engine_get_section(const uint8_t *data, size_t len, size_t *off,
                                            const uint8_t **sec, size_t *slen)
{
    uint64_t n;
    if (model_blob_get(data, len, off, &n, sizeof n) != K_MODEL_OK || n > len - *off)
        return K_MODEL_BAD_STATE;
    *sec = data + *off;
    *slen = (size_t)n;
    *off += (size_t)n;
    return K_MODEL_OK;
}

static enum model_result engine_load_raw(engine *e, const uint8_t *data, size_t len)
{
    struct engine_header h;
    size_t off = 0, slen;
    const uint8_t *sec;
    if (model_blob_get(data, len, &off, &h, sizeof h) != K_MODEL_OK || h.magic != ENGINE_MAGIC ||
        h.version != ENGINE_VERSION || h.nmodels != e->nmodels || h.nfeat != FEAT_COUNT ||
        h.pend_size != sizeof(engine_pend) || h.pend_n > e->cfg.pending_max)
        return K_MODEL_BAD_STATE;
    enum model_result r;
    if ((r = engine_get_section(data, len, &off, &sec, &slen)) != K_MODEL_OK ||
        (r = features_load(e->feat, sec, slen)) != K_MODEL_OK)
        return K_MODEL_BAD_STATE;
    if ((r = engine_get_section(data, len, &off, &sec, &slen)) != K_MODEL_OK ||
        (r = calib_load(e->cal, sec, slen)) != K_MODEL_OK)
        return K_MODEL_BAD_STATE;
    if ((r = engine_get_section(data, len, &off, &sec, &slen)) != K_MODEL_OK ||
        (r = ensemble_load(e->ens, sec, slen)) != K_MODEL_OK)
        return K_MODEL_BAD_STATE;
    for (uint32_t i = 0; i < e->nmodels; i++) {
        char name[32];
        if (model_blob_get(data, len, &off, name, sizeof name) != K_MODEL_OK ||
            strncmp(name, e->models[i]->name, sizeof name) != 0 ||
            engine_get_section(data, len, &off, &sec, &slen) != K_MODEL_OK ||
            e->models[i]->ops->load(e->models[i], sec, slen) != K_MODEL_OK)
            return K_MODEL_BAD_STATE;
    }
    size_t rest = sizeof e->drift + sizeof e->adw + sizeof e->guard + sizeof e->thr +
                  sizeof e->k + sizeof e->last_px + sizeof e->last_px_ms +
                  (size_t)h.pend_n * sizeof(engine_pend) + sizeof(float) * FEAT_COUNT * ENGINE_ROWS;
    if (len - off < rest)
        return K_MODEL_BAD_STATE;
    size_t moff = off + rest;
    uint32_t nrows;
    if (engine_get_section(data, len, &moff, &sec, &slen) != K_MODEL_OK ||
        model_blob_get(data, len, &moff, &nrows, sizeof nrows) != K_MODEL_OK ||
        nrows > e->cfg.history_max ||
        len - moff != (size_t)nrows * sizeof(metrics_signal_row) ||
        metrics_set_load(e->metrics, sec, slen) != K_MODEL_OK)
        return K_MODEL_BAD_STATE;
    e->hist_head = 0;
    e->hist_n = nrows;
    memcpy(e->hist, data + moff, (size_t)nrows * sizeof(metrics_signal_row));
    memcpy(&e->drift, data + off, sizeof e->drift);
    off += sizeof e->drift;
    memcpy(&e->adw, data + off, sizeof e->adw);
    off += sizeof e->adw;
    memcpy(&e->guard, data + off, sizeof e->guard);
    off += sizeof e->guard;
    memcpy(&e->thr, data + off, sizeof e->thr);
    off += sizeof e->thr;
    memcpy(&e->k, data + off, sizeof e->k);
    off += sizeof e->k;
    memcpy(&e->last_px, data + off, sizeof e->last_px);
    off += sizeof e->last_px;
    memcpy(&e->last_px_ms, data + off, sizeof e->last_px_ms);
    off += sizeof e->last_px_ms;
    e->pend_head = 0;
    e->pend_n = h.pend_n;
    memcpy(e->pend, data + off, (size_t)h.pend_n * sizeof(engine_pend));
    off += (size_t)h.pend_n * sizeof(engine_pend);
    memcpy(e->rows, data + off, sizeof(float) * FEAT_COUNT * ENGINE_ROWS);
    return K_MODEL_OK;
}

enum model_result engine_load(engine *e, const uint8_t *data, size_t len)
{
    model_blob backup = { 0 };
    enum model_result r = engine_save(e, &backup);
    if (r != K_MODEL_OK) {
        model_blob_free(&backup);
        return r;
    }
    r = engine_load_raw(e, data, len);
    if (r != K_MODEL_OK && engine_load_raw(e, backup.data, backup.len) != K_MODEL_OK)
        abort(); /* our own blob must load: a programming error otherwise */
    model_blob_free(&backup);
    return r;
}

/* ---- replay records ------------------------------------------------------------------ */

#define ENGINE_REC_MAGIC 0x4B524543u /* "KREC" */

/* A record: this header, the signal's pending record (feature row, every model's prediction,
 * the baselines' probabilities, the price path so far) and the raw feature values its
 * normalisers took. */
struct engine_rec_header {
    uint32_t magic, version, nmodels, nfeat;
    uint64_t pend_size;
    int64_t prev_signal_ms; /* the engine's last signal before this one: the chain link */
};

#define ENGINE_REC_PATHS 1024u /* pending paths per record (32 bytes each) */

/* One pending signal's price path in a record (after the raw features; records written before
 * have none). */
struct engine_rec_path {
    uint64_t id;
    double hi, lo;
    int32_t first_hit, pad;
};

enum model_result engine_record(const engine *e, uint64_t id, model_blob *out)
{
    if (!e->have_last || e->last.id != id)
        return K_MODEL_BAD_INPUT;
    const engine_pend *p = engine_pend_find((engine *)e, id);
    if (!p)
        return K_MODEL_BAD_INPUT;
    struct engine_rec_header h = { ENGINE_REC_MAGIC, ENGINE_VERSION, e->nmodels, FEAT_COUNT,
                                   sizeof(engine_pend), e->last_prev_ms };
    model_blob_put(out, &h, sizeof h);
    model_blob_put(out, p, sizeof *p);
    model_blob_put(out, e->last_raw, sizeof e->last_raw);
    /* the price path of every other signal still pending (a kill -9 after this record loses
     * only the prices after it): a count, then id, high, low, first hit of each */
    uint32_t n = 0, put = 0;
    for (uint32_t i = 0; i < e->pend_n; i++) {
        const engine_pend *o = &e->pend[(e->pend_head + i) % e->cfg.pending_max];
        n += !o->scored && o->id != id;
    }
    n = n < ENGINE_REC_PATHS ? n : ENGINE_REC_PATHS; /* the oldest ones (under STORE_REPLAY_MAX) */
    model_blob_put(out, &n, sizeof n);
    for (uint32_t i = 0; i < e->pend_n && put < n; i++) {
        const engine_pend *o = &e->pend[(e->pend_head + i) % e->cfg.pending_max];
        if (o->scored || o->id == id)
            continue;
        put++;
        struct engine_rec_path w = {o->id, o->hi, o->lo, o->first_hit, 0};
        model_blob_put(out, &w, sizeof w);
    }
    return K_MODEL_OK;
}

void engine_replay_from(const engine *e, uint64_t *id, int64_t *time_ms)
{
    *id = e->k.next_id;
    *time_ms = e->k.last_signal_ms;
    for (uint32_t i = 0; i < e->pend_n; i++) {
        const engine_pend *p = &e->pend[(e->pend_head + i) % e->cfg.pending_max];
        if (!p->scored) {
            *id = p->id;
            *time_ms = p->time_ms;
            return;
        }
    }
}

enum model_result engine_replay_from_state(const uint8_t *data, size_t len, uint64_t *id,
                                           int64_t *time_ms)
{
    struct engine_header h;
    size_t off = 0, slen;
    const uint8_t *sec;
    *id = 0;
    *time_ms = INT64_MIN;
    if (model_blob_get(data, len, &off, &h, sizeof h) != K_MODEL_OK || h.magic != ENGINE_MAGIC ||
        h.version != ENGINE_VERSION || h.nfeat != FEAT_COUNT ||
        h.pend_size != sizeof(engine_pend) || h.nmodels > ENSEMBLE_MAX_MODELS)
        return K_MODEL_BAD_STATE;
    for (uint32_t i = 0; i < 3 + h.nmodels; i++) { /* features, calib, ensemble, the models */
        char name[32];
        if ((i >= 3 && model_blob_get(data, len, &off, name, sizeof name) != K_MODEL_OK) ||
            engine_get_section(data, len, &off, &sec, &slen) != K_MODEL_OK)
            return K_MODEL_BAD_STATE;
    }
    off += sizeof(drift) + sizeof(adwin) + sizeof(ensemble_guard) + sizeof(ensemble_threshold);
    engine_counters k;
    if (off > len || model_blob_get(data, len, &off, &k, sizeof k) != K_MODEL_OK)
        return K_MODEL_BAD_STATE;
    off += sizeof(((engine *)0)->last_px) + sizeof(((engine *)0)->last_px_ms);
    *id = k.next_id;
    *time_ms = k.last_signal_ms;
    for (uint32_t i = 0; i < h.pend_n; i++) {
        engine_pend p;
        if (off > len || model_blob_get(data, len, &off, &p, sizeof p) != K_MODEL_OK)
            return K_MODEL_BAD_STATE;
        if (!p.scored) {
            *id = p.id;
            *time_ms = p.time_ms;
            break;
        }
    }
    return K_MODEL_OK;
}

/* the stored scoring over what learn_one derived from the (partial) price path */
static void engine_replay_row(engine *e, const metrics_signal_row *st)
{
    metrics_signal_row *row = engine_row_find(e, st->id);
    if (!row)
        return;
    row->mfe = st->mfe;
    row->mae = st->mae;
    row->result = st->result;
    snprintf(row->first_hit, sizeof row->first_hit, "%s", st->first_hit);
}

enum model_result engine_replay(engine *e, const uint8_t *rec, size_t len,
                                const metrics_signal_row *st)
{
    struct engine_rec_header h;
    size_t off = 0;
    engine_pend q;
    double raw[FEAT_COUNT];
    if (model_blob_get(rec, len, &off, &h, sizeof h) != K_MODEL_OK ||
        h.magic != ENGINE_REC_MAGIC || h.version != ENGINE_VERSION || h.nmodels != e->nmodels ||
        h.nfeat != FEAT_COUNT || h.pend_size != sizeof(engine_pend) ||
        model_blob_get(rec, len, &off, &q, sizeof q) != K_MODEL_OK ||
        model_blob_get(rec, len, &off, raw, sizeof raw) != K_MODEL_OK)
        return K_MODEL_BAD_STATE;
    uint32_t npath = 0; /* the other pending signals' paths (none in older records) */
    if (off < len && (model_blob_get(rec, len, &off, &npath, sizeof npath) != K_MODEL_OK ||
                      npath > ENGINE_REC_PATHS ||
                      len - off != (size_t)npath * sizeof(struct engine_rec_path)))
        return K_MODEL_BAD_STATE;
    size_t path_off = off;
    if (q.id != st->id || q.time_ms != st->time_ms ||
        (st->scored && (st->outcome < 0 || st->outcome >= MODEL_CLASSES)))
        return K_MODEL_BAD_INPUT;
    engine_pend *p = engine_pend_find(e, q.id);
    if (p) { /* pending in the loaded state: only its scoring is new */
        if (p->scored || p->time_ms != q.time_ms || !st->scored)
            return K_MODEL_BAD_INPUT;
    } else {
        /* made after the loaded state: the next signal of this engine's chain */
        if (q.id != e->k.next_id || h.prev_signal_ms != e->k.last_signal_ms ||
            q.seq != e->k.row_seq || q.time_ms < e->k.last_signal_ms)
            return K_MODEL_BAD_INPUT;
        features_observe(e->feat, raw);
        if (e->pend_n == e->cfg.pending_max) {
            e->pend_head = (e->pend_head + 1) % e->cfg.pending_max;
            e->pend_n--;
            e->k.dropped++;
        }
        p = &e->pend[(e->pend_head + e->pend_n) % e->cfg.pending_max];
        *p = q;
        p->scored = 0;
        e->pend_n++;
        memcpy(e->rows[q.seq % ENGINE_ROWS], q.x, sizeof q.x);
        memcpy(e->last_missing, q.missing, sizeof q.missing);
        e->k.row_seq = q.seq + 1;
        e->k.next_id = q.id + 1;
        e->last_prev_ms = e->k.last_signal_ms;
        e->k.last_signal_ms = q.time_ms;
        memcpy(e->last_raw, raw, sizeof raw);
        e->last_px = q.px0; /* the newest price known to the record */
        e->last_px_ms = q.time_ms;
        metrics_signal_row *row;
        if (e->hist_n == e->cfg.history_max) {
            row = &e->hist[e->hist_head];
            e->hist_head = (e->hist_head + 1) % e->cfg.history_max;
        } else {
            row = &e->hist[(e->hist_head + e->hist_n) % e->cfg.history_max];
            e->hist_n++;
        }
        *row = *st;
        snprintf(row->symbol, sizeof row->symbol, "%s", e->cfg.symbol);
        row->scored = false;
        row->outcome = row->result = 0;
        row->ret = row->mfe = row->mae = 0;
        snprintf(row->first_hit, sizeof row->first_hit, "%s",
                 q.action == MODEL_HOLD ? "-" : "none");
    }
    for (uint32_t i = 0; i < npath; i++) { /* the paths as they were when it was made */
        struct engine_rec_path w;
        memcpy(&w, rec + path_off + (size_t)i * sizeof w, sizeof w);
        engine_pend *o = engine_pend_find(e, w.id);
        if (!o || o->scored || o == p)
            continue;
        if (w.hi > o->hi)
            o->hi = w.hi;
        if (w.lo < o->lo)
            o->lo = w.lo;
        if (o->first_hit == ENGINE_HIT_NONE && w.first_hit >= ENGINE_HIT_NONE &&
            w.first_hit <= ENGINE_HIT_BOTH)
            o->first_hit = w.first_hit;
    }
    if (st->scored) {
        engine_learn_one(e, p, st->outcome, p->horizon_end_ms, st->ret);
        engine_replay_row(e, st);
        engine_pend_trim(e);
    }
    return K_MODEL_OK;
}

enum model_result engine_record_models(const uint8_t *rec, size_t len, uint32_t nmodels,
                                       bool *ready, double (*p)[MODEL_CLASSES])
{
    struct engine_rec_header h;
    size_t off = 0;
    engine_pend q;
    if (nmodels > ENSEMBLE_MAX_MODELS ||
        model_blob_get(rec, len, &off, &h, sizeof h) != K_MODEL_OK ||
        h.magic != ENGINE_REC_MAGIC || h.version != ENGINE_VERSION || h.nmodels != nmodels ||
        h.nfeat != FEAT_COUNT || h.pend_size != sizeof(engine_pend) ||
        model_blob_get(rec, len, &off, &q, sizeof q) != K_MODEL_OK)
        return K_MODEL_BAD_STATE;
    for (uint32_t i = 0; i < nmodels; i++) {
        ready[i] = q.model_ready[i] != 0;
        memcpy(p[i], q.model_p[i], sizeof p[i]);
    }
    return K_MODEL_OK;
}
