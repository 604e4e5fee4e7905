/* Screen 3, AI: the signal engine of the focused symbol as it is, every number with its sample
 * size. Read-only over the runner's engine and the app's signal store (sigstore.h):
 *   header       symbol, regime, health, threshold, auto-trading, self-pause, calibration state
 *                ("Learning: N outcomes, need M for calibration" while the set is small)
 *   signals      the list widget, newest first: time, symbol, action, strength, confidence,
 *                outcome / result when scored, top reasons; j / k / arrows select one (it
 *                stays selected as new signals arrive; `g`'s signal becomes the selection)
 *   selected     the selected signal's full reasoning: probabilities, calibrated confidence
 *                and interval, regime, source, traded or its gate, every model's probabilities
 *                and weight (the newest 64 per symbol), top reasons, features, and once scored
 *                outcome, result, return, MFE, MAE, first hit
 *   models       per model and the ensemble: n, accuracy, Brier, log loss, ECE (all-time) and
 *                the ensemble weight; the majority-class and rule-scorer baselines beside them
 *   indicators   the adaptive indicator weights as bars (with their sample counts)
 *   reliability  the ensemble's 10 confidence bins: mean predicted vs observed hit rate, counts
 *   alerts       the alert history (alerts.h: drift, self-pause, health, risk, fills) and the
 *                drift event count
 * Wide panes put signals on the left and the rest on the right; narrow ones stack them. A row
 * is drawn only when it fits; nothing invented: an empty metric shows "-". */
#include "ui_int.h"

#include "kestrel/alerts.h"
#include "kestrel/runner.h"
#include "kestrel/sigstore.h"
#include "kestrel/trading.h"

#include <math.h>
#include <string.h>
#include <time.h>

static engine *ai_engine(ui *u, const market_sym **ms_out)
{
    runner *r = u->a->runner;
    *ms_out = NULL;
    if (!r || runner_symbols(r) == 0)
        return NULL;
    market_sym *f = ui_focus_sym(u);
    for (uint32_t i = 0; i < runner_symbols(r); i++)
        if (runner_symbol(r, i) == f) {
            *ms_out = f;
            return runner_engine(r, i);
        }
    *ms_out = runner_symbol(r, 0);
    return runner_engine(r, 0);
}

static void ai_hms(int64_t ms, char *b, size_t cap)
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    if (ms <= 0 || !gmtime_r(&s, &tm))
        snprintf(b, cap, "--:--:--");
    else
        snprintf(b, cap, "%02d:%02d:%02d", tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static void ai_num(char *b, size_t cap, double v, const char *fmt)
{
    if (isnan(v))
        snprintf(b, cap, "-");
    else
        snprintf(b, cap, fmt, v);
}

static enum theme_role ai_action_role(int action)
{
    return action == MODEL_BUY ? ROLE_UP : action == MODEL_SELL ? ROLE_DOWN : ROLE_TEXT;
}

/* The selection of the signals list against this frame's history: off the newest it stays on
 * its signal as new ones arrive; another engine (symbol) starts again at the newest. */
static void ai_track(ui *u, const engine *e)
{
    uint32_t n = engine_history_len(e);
    uint64_t newest = n ? engine_history(e, n - 1)->id : 0;
    if (u->ai_engine != e) {
        u->ai_list.sel = u->ai_list.top = 0;
    } else if (newest > u->ai_newest && u->ai_list.sel > 0) {
        uint64_t d = newest - u->ai_newest;
        u->ai_list.sel = (uint32_t)K_MIN((uint64_t)u->ai_list.sel + d, (uint64_t)UINT32_MAX);
        u->ai_list.top = (uint32_t)K_MIN((uint64_t)u->ai_list.top + d, (uint64_t)UINT32_MAX);
    }
    u->ai_engine = e;
    u->ai_newest = newest;
}

/* the signals list (the list widget, newest first, two rows per signal: the signal and its top
 * reasons; `>` marks the selection) in rows y..ymax; returns the next row */
static int ai_signals(ui *u, WINDOW *w, const engine *e, const market_sym *ms, int y, int ymax,
                      int x, int cw)
{
    sigstore *ss = trading_sigstore(u->a);
    ui_put(u, w, y++, x, cw, ROLE_HEADER, " time     symbol   act  str  conf outcome");
    uint32_t n = engine_history_len(e);
    int items = (ymax - y + 1) / 2;
    ui_list_fit(&u->ai_list, n, items > 0 ? items : 1);
    u->ai_y0 = y;
    for (uint32_t k = u->ai_list.top; k < n && y + 1 <= ymax + 1 && y <= ymax; k++) {
        const metrics_signal_row *r = engine_history(e, n - 1 - k);
        bool sel = k == u->ai_list.sel;
        char t[16], line[160];
        ai_hms(r->time_ms, t, sizeof t);
        char out[24];
        if (r->scored)
            snprintf(out, sizeof out, "%s %s", metrics_class_name(r->outcome),
                     metrics_result_name(r->result));
        else
            snprintf(out, sizeof out, "pending");
        if (sel)
            ui_fill(u, w, y, x, cw, ROLE_SELECTION);
        snprintf(line, sizeof line, "%s%s %-8.8s ", sel ? ">" : " ", t, r->symbol);
        int c = ui_put(u, w, y, x, cw, sel ? ROLE_SELECTION : ROLE_DIM, line);
        c += ui_put(u, w, y, x + c, cw - c, sel ? ROLE_SELECTION : ai_action_role(r->action),
                    metrics_class_name(r->action));
        snprintf(line, sizeof line, "%*s%4.2f %4.2f %s", 5 - (int)strlen(metrics_class_name(
                                                               r->action)), "",
                 r->strength, r->confidence, out);
        c += ui_put(u, w, y, x + c, cw - c,
                    sel ? ROLE_SELECTION
                    : r->scored ? (r->result > 0 ? ROLE_UP : r->result < 0 ? ROLE_DOWN
                                                                           : ROLE_TEXT)
                                : ROLE_DIM,
                    line);
        y++;
        const char *why = ss ? sigstore_reasons(ss, ms, r->id, r->time_ms) : "";
        if (y <= ymax) {
            if (why[0]) {
                snprintf(line, sizeof line, "  %s", why);
                ui_put(u, w, y, x, cw, ROLE_DIM, line);
            }
            y++;
        }
    }
    if (n == 0 && y <= ymax)
        ui_put(u, w, y++, x, cw, ROLE_DIM, "no signals yet");
    return y;
}

/* text wrapped at word boundaries into rows y..ymax (the first row after `lead`) */
static int ai_wrap(ui *u, WINDOW *w, int y, int ymax, int x, int cw, enum theme_role role,
                   const char *lead, const char *text)
{
    char line[256];
    size_t ll = strlen(lead), pos = 0, len = strlen(text);
    bool first = true;
    while (y <= ymax && (pos < len || first)) {
        size_t room = (size_t)(cw > (int)ll + 8 ? cw : (int)ll + 8) - ll;
        size_t take = len - pos <= room ? len - pos : room;
        if (pos + take < len) { /* break at the last space that fits */
            size_t b = take;
            while (b > 0 && text[pos + b] != ' ')
                b--;
            if (b > 0)
                take = b;
        }
        snprintf(line, sizeof line, "%-*s%.*s", (int)ll, first ? lead : "", (int)take,
                 text + pos);
        ui_put(u, w, y++, x, cw, role, line);
        pos += take;
        while (pos < len && text[pos] == ' ')
            pos++;
        first = false;
    }
    return y;
}

/* The selected signal's full reasoning in rows y..ymax: what it said (action, probabilities,
 * confidence and its interval, strength, regime, source, traded or its gate), every model's
 * probabilities and weight (kept for the newest signals), the top reasons and the features
 * that moved it, and once scored its outcome, result, return, MFE, MAE and first hit. */
static int ai_detail(ui *u, WINDOW *w, const engine *e, const market_sym *ms, int y, int ymax,
                     int x, int cw)
{
    uint32_t n = engine_history_len(e);
    if (y > ymax || n == 0 || u->ai_list.sel >= n)
        return y;
    const metrics_signal_row *r = engine_history(e, n - 1 - u->ai_list.sel);
    sigstore *ss = trading_sigstore(u->a);
    const sigstore_detail *d = ss ? sigstore_detail_of(ss, ms, r->id) : NULL;
    char t[16], he[16], line[256];
    ai_hms(r->time_ms, t, sizeof t);
    ai_hms(r->horizon_end_ms, he, sizeof he);
    snprintf(line, sizeof line, "signal #%llu %s %s %s  conf %.3f%s  strength %.2f",
             (unsigned long long)r->id, t, r->symbol, metrics_class_name(r->action),
             r->confidence, d && !d->calibrated ? " (uncalibrated)" : "", r->strength);
    ui_put(u, w, y++, x, cw, ROLE_HEADER, line);
    if (y <= ymax) {
        int c = snprintf(line, sizeof line, "p buy %.3f hold %.3f sell %.3f", r->p[MODEL_BUY],
                         r->p[MODEL_HOLD], r->p[MODEL_SELL]);
        if (d && d->calibrated)
            snprintf(line + c, sizeof line - (size_t)c, "  interval %.3f-%.3f", d->conf_lo,
                     d->conf_hi);
        ui_put(u, w, y++, x, cw, ROLE_TEXT, line);
    }
    if (y <= ymax) {
        snprintf(line, sizeof line, "regime %s  source %s  %s%s", r->regime, r->source,
                 r->traded ? "traded" : "not traded",
                 d && !r->traded && d->gate[0] ? ": " : "");
        if (d && !r->traded && d->gate[0])
            snprintf(line + strlen(line), sizeof line - strlen(line), "%s", d->gate);
        ui_put(u, w, y++, x, cw, ROLE_TEXT, line);
    }
    if (y <= ymax) {
        if (!r->scored) {
            snprintf(line, sizeof line, "pending: scored at %s (horizon end)", he);
            ui_put(u, w, y++, x, cw, ROLE_DIM, line);
        } else {
            snprintf(line, sizeof line, "outcome %s %s  return %+.3f%%  MFE %.3f%%  MAE %.3f%%  "
                     "first hit %s", metrics_class_name(r->outcome),
                     metrics_result_name(r->result), r->ret * 100, r->mfe * 100, r->mae * 100,
                     r->first_hit);
            ui_put(u, w, y++, x, cw,
                   r->result > 0 ? ROLE_UP : r->result < 0 ? ROLE_DOWN : ROLE_TEXT, line);
        }
    }
    if (d) {
        for (uint32_t i = 0; i < d->nmodels && i < engine_models(e) && y <= ymax; i++) {
            const char *name = engine_model((engine *)e, i)->name;
            if (d->models[i].ready)
                snprintf(line, sizeof line, "  %.24s: buy %.3f hold %.3f sell %.3f  w %.2f",
                         name, d->models[i].p[MODEL_BUY], d->models[i].p[MODEL_HOLD],
                         d->models[i].p[MODEL_SELL], d->models[i].weight);
            else
                snprintf(line, sizeof line, "  %.24s: not ready", name);
            ui_put(u, w, y++, x, cw, d->models[i].ready ? ROLE_TEXT : ROLE_DIM, line);
        }
    } else if (y <= ymax) { /* an older signal: the models' part of its stored record */
        const uint8_t *rec = NULL;
        size_t rl = 0;
        int got = ss ? sigstore_record(ss, ms, r->id, r->time_ms, &rec, &rl) : -1;
        bool ready[ENSEMBLE_MAX_MODELS];
        double mp[ENSEMBLE_MAX_MODELS][MODEL_CLASSES];
        uint32_t nm = engine_models(e);
        if (got > 0 && engine_record_models(rec, rl, nm, ready, mp) == K_MODEL_OK) {
            double wt[ENSEMBLE_MAX_MODELS];
            uint32_t nw = sigstore_record_weights(ss, ms, r->id, r->time_ms, wt,
                                                  ENSEMBLE_MAX_MODELS);
            for (uint32_t i = 0; i < nm && y <= ymax; i++) {
                const char *name = engine_model((engine *)e, i)->name;
                char wtxt[16] = "-"; /* a row written before the weights were stored */
                if (nw == nm)
                    snprintf(wtxt, sizeof wtxt, "%.2f", wt[i]);
                if (ready[i])
                    snprintf(line, sizeof line, "  %.24s: buy %.3f hold %.3f sell %.3f  w %s",
                             name, mp[i][MODEL_BUY], mp[i][MODEL_HOLD], mp[i][MODEL_SELL],
                             wtxt);
                else
                    snprintf(line, sizeof line, "  %.24s: not ready", name);
                ui_put(u, w, y++, x, cw, ready[i] ? ROLE_TEXT : ROLE_DIM, line);
            }
        } else {
            ui_put(u, w, y++, x, cw, ROLE_DIM,
                   got == 0 ? "  reading the model breakdown from the signals table"
                            : "  no model breakdown stored for this signal");
        }
    }
    const char *why = ss ? sigstore_reasons(ss, ms, r->id, r->time_ms) : "";
    y = ai_wrap(u, w, y, ymax, x, cw, ROLE_TEXT, "reasons: ", why[0] ? why : "-");
    if (d && d->features[0])
        y = ai_wrap(u, w, y, ymax, x, cw, ROLE_DIM, "features: ", d->features);
    return y;
}

static void ai_metric_row(ui *u, WINDOW *w, int y, int x, int cw, const char *name,
                          const metrics_summary *s, double weight, bool has_weight)
{
    char acc[12], br[12], ll[12], ece[12], wt[12], line[128];
    ai_num(acc, sizeof acc, s->accuracy, "%.3f");
    ai_num(br, sizeof br, s->brier, "%.3f");
    ai_num(ll, sizeof ll, s->log_loss, "%.3f");
    ai_num(ece, sizeof ece, s->ece, "%.3f");
    if (has_weight)
        ai_num(wt, sizeof wt, weight, "%.2f");
    else
        snprintf(wt, sizeof wt, " ");
    snprintf(line, sizeof line, "%-10.10s %5llu %5s %5s %5s %5s %4s", name,
             (unsigned long long)s->n, acc, br, ll, ece, wt);
    ui_put(u, w, y, x, cw, ROLE_TEXT, line);
}

static int ai_models(ui *u, WINDOW *w, const engine *e, int y, int ymax, int x, int cw)
{
    if (y > ymax)
        return y;
    ui_put(u, w, y++, x, cw, ROLE_HEADER, "model          n   acc brier  logl   ece  wt");
    const metrics_set *m = engine_metrics(e);
    metrics_summary s;
    double wts[ENSEMBLE_MAX_MODELS] = {0};
    engine_weights(e, wts);
    if (y <= ymax) {
        metrics_track_all(metrics_set_ensemble_track(m), &s);
        ai_metric_row(u, w, y++, x, cw, "ensemble", &s, NAN, false);
    }
    for (uint32_t i = 0; i < engine_models(e) && y <= ymax; i++) {
        metrics_track_all(metrics_set_model_track(m, i), &s);
        ai_metric_row(u, w, y++, x, cw, engine_model((engine *)e, i)->name, &s, wts[i], true);
    }
    static const char *const bn[METRICS_NBASELINES] = {"majority", "rules"};
    for (int b = 0; b < METRICS_NBASELINES && y <= ymax; b++) {
        metrics_track_all(metrics_set_baseline_track(m, (enum metrics_baseline)b), &s);
        char name[24];
        snprintf(name, sizeof name, "~%s", bn[b]);
        ai_metric_row(u, w, y++, x, cw, name, &s, NAN, false);
    }
    for (uint32_t i = 0; i < engine_models(e) && y <= ymax; i++) { /* the baseline rule */
        double ll, bl;
        if (!engine_model_held(e, i, &ll, &bl))
            continue;
        char line[128], a[12], b[12];
        ai_num(a, sizeof a, ll, "%.3f");
        ai_num(b, sizeof b, bl, "%.3f");
        snprintf(line, sizeof line, "%s: no weight, not beating logreg out of sample (%s vs %s)",
                 engine_model((engine *)e, i)->name, a, b);
        ui_put(u, w, y++, x, cw, ROLE_WARNING, line);
    }
    return y;
}

/* every model's learned samples, and the last retrain of each off-thread model (trigger, sizes,
 * validation result, accepted or not, the thread it ran on), wrapped to the column's width */
static int ai_retrains(ui *u, WINDOW *w, const engine *e, int y, int ymax, int x, int cw)
{
    runner *r = u->a->runner;
    if (!r || y > ymax)
        return y;
    uint32_t si = 0;
    while (si < runner_symbols(r) && runner_engine(r, si) != e)
        si++;
    char line[256], tok[64];
    engine_warmup_stats ws;
    engine_warmup_info(e, &ws);
    uint64_t wfed = 0;
    uint32_t wtot = 0;
    if (si < runner_symbols(r) && runner_restoring(r, si) && y <= ymax) {
        ui_put(u, w, y++, x, cw, ROLE_WARNING,
               "restoring the stored model state (reading it): no signal, not trading");
    } else if (si < runner_symbols(r) && runner_warming(r, si, &wfed, &wtot) && y <= ymax) {
        if (wtot)
            snprintf(line, sizeof line, "warming up (%llu/%u history bars): not trading",
                     (unsigned long long)wfed, wtot);
        else
            snprintf(line, sizeof line, "warming up (reading the history): not trading");
        ui_put(u, w, y++, x, cw, ROLE_WARNING, line);
    } else if (ws.bars && y <= ymax) {
        snprintf(line, sizeof line, "warm-up: %llu history bars, %llu scored",
                 (unsigned long long)ws.bars, (unsigned long long)ws.scored);
        ui_put(u, w, y++, x, cw, ROLE_DIM, line);
    }
    runner_warm_held wh;
    runner_warm_info(r, si, &wh);
    uint64_t wdrop = wh.dropped_bars + wh.dropped_trades + wh.dropped_other;
    if ((wh.held || wdrop) && y <= ymax) { /* the live data that waited for the history */
        snprintf(line, sizeof line, "held live data: %llu (%llu applied, %u waiting)",
                 (unsigned long long)wh.held, (unsigned long long)wh.applied, wh.waiting);
        ui_put(u, w, y++, x, cw, ROLE_DIM, line);
        if (y <= ymax) {
            snprintf(line, sizeof line, "dropped past %u: %llu (%llu bars, %llu trades)",
                     RUNNER_WARM_QUEUE, (unsigned long long)wdrop,
                     (unsigned long long)wh.dropped_bars, (unsigned long long)wh.dropped_trades);
            ui_put(u, w, y++, x, cw, wdrop ? ROLE_WARNING : ROLE_DIM, line);
        }
    }
    int off = snprintf(line, sizeof line, "samples:");
    for (uint32_t i = 0; i < engine_models(e); i++) {
        model *m = engine_model((engine *)e, i);
        int n = snprintf(tok, sizeof tok, " %s %llu", m->name,
                         (unsigned long long)(m->ops->samples ? m->ops->samples(m) : 0));
        if (off + n > cw && off > 0) { /* the next line continues the list */
            if (y <= ymax)
                ui_put(u, w, y++, x, cw, ROLE_HEADER, line);
            off = snprintf(line, sizeof line, "        ");
        }
        off += snprintf(line + off, sizeof line - (size_t)off, "%s", tok);
    }
    if (y <= ymax)
        ui_put(u, w, y++, x, cw, ROLE_HEADER, line);
    for (uint32_t i = 0; i < engine_models(e) && y <= ymax; i++) {
        model *m = engine_model((engine *)e, i);
        if (!(m->ops->flags & MODEL_F_OFFTHREAD))
            continue;
        runner_retrain rt;
        if (si >= runner_symbols(r) || !runner_last_retrain(r, si, i, &rt)) {
            snprintf(line, sizeof line, "%s: no retrain yet", m->name);
            ui_put(u, w, y++, x, cw, ROLE_DIM, line);
            continue;
        }
        char cl[12], ll[12], bl[12], t[16];
        ai_num(cl, sizeof cl, rt.cand_logloss, "%.3f");
        ai_num(ll, sizeof ll, rt.live_logloss, "%.3f");
        ai_num(bl, sizeof bl, rt.base_logloss, "%.3f");
        ai_hms(rt.time_ms, t, sizeof t);
        snprintf(line, sizeof line, "%s #%llu %s %s %u/%u %s (%s)", m->name,
                 (unsigned long long)rt.seq, t, rt.trigger, rt.n_train, rt.n_holdout,
                 rt.accepted ? "accepted" : "refused", rt.offthread ? "learner" : "inline");
        ui_put(u, w, y++, x, cw, rt.accepted ? ROLE_TEXT : ROLE_WARNING, line);
        if (y <= ymax) {
            snprintf(line, sizeof line, "  logl cand %s live %s base %s", cl, ll, bl);
            ui_put(u, w, y++, x, cw, ROLE_DIM, line);
        }
    }
    return y;
}

/* a bar of v / vmax over n cells */
static void ai_bar(ui *u, WINDOW *w, int y, int x, int n, double v, double vmax,
                   enum theme_role r)
{
    int k = vmax > 0 && v > 0 ? (int)lround(v / vmax * n) : 0;
    if (k > n)
        k = n;
    char b[128];
    int i = 0;
    for (; i < k && i < (int)sizeof b - 1; i++)
        b[i] = '#';
    for (; i < n && i < (int)sizeof b - 1; i++)
        b[i] = '.';
    b[i] = '\0';
    ui_put(u, w, y, x, n, r, b);
}

static int ai_indicators(ui *u, WINDOW *w, const engine *e, int y, int ymax, int x, int cw)
{
    const model *wm = NULL;
    for (uint32_t i = 0; i < engine_models(e) && !wm; i++)
        if (!strcmp(engine_model((engine *)e, i)->name, "weights"))
            wm = engine_model((engine *)e, i);
    if (!wm || y > ymax)
        return y;
    ui_put(u, w, y++, x, cw, ROLE_HEADER, "indicator weights (base, learned, samples)");
    double wt[SCORER_NVOTES];
    uint64_t n[SCORER_NVOTES];
    scorer_weights_get(wm, wt, n);
    for (int v = 0; v < SCORER_NVOTES && y <= ymax; v++) {
        char lab[64];
        snprintf(lab, sizeof lab, "%-9.9s %4.2f %4.2f %5llu ", scorer_vote_name(v),
                 scorer_base_weight[v], wt[v], (unsigned long long)n[v]);
        int c = ui_put(u, w, y, x, cw, ROLE_TEXT, lab);
        if (cw - c >= 4)
            ai_bar(u, w, y, x + c, K_MIN(cw - c, 20), wt[v], 0.6, ROLE_IND1);
        y++;
    }
    return y;
}

static int ai_reliability(ui *u, WINDOW *w, const engine *e, int y, int ymax, int x, int cw)
{
    if (y > ymax)
        return y;
    ui_put(u, w, y++, x, cw, ROLE_HEADER, "reliability  pred   obs     n  #obs |pred");
    metrics_summary s;
    metrics_track_all(metrics_set_ensemble_track(engine_metrics(e)), &s);
    for (int b = 0; b < METRICS_BINS && y <= ymax; b++) {
        char pr[12], ob[12], lab[64];
        ai_num(pr, sizeof pr, s.bin_n[b] ? s.bin_conf[b] : NAN, "%.2f");
        ai_num(ob, sizeof ob, s.bin_n[b] ? s.bin_hit[b] : NAN, "%.2f");
        snprintf(lab, sizeof lab, "%.1f-%.1f  %5s %5s %5llu ", b / 10.0, (b + 1) / 10.0, pr, ob,
                 (unsigned long long)s.bin_n[b]);
        int c = ui_put(u, w, y, x, cw, s.bin_n[b] ? ROLE_TEXT : ROLE_DIM, lab);
        int bw = K_MIN(cw - c, 20);
        if (bw >= 5 && s.bin_n[b]) {
            ai_bar(u, w, y, x + c, bw, s.bin_hit[b], 1.0, ROLE_IND2);
            int pc = (int)lround(s.bin_conf[b] * bw);
            if (pc >= bw)
                pc = bw - 1;
            ui_put(u, w, y, x + c + pc, 1, ROLE_WARNING, "|");
        }
        y++;
    }
    return y;
}

static int ai_alerts(ui *u, WINDOW *w, const engine *e, int y, int ymax, int x, int cw)
{
    if (y > ymax)
        return y;
    alerts *al = trading_alerts(u->a);
    char line[400];
    snprintf(line, sizeof line, "alerts (%llu raised, %llu drift events)",
             al ? (unsigned long long)alerts_get_stats(al)->raised : 0ULL,
             (unsigned long long)engine_drift_events(e));
    ui_put(u, w, y++, x, cw, ROLE_HEADER, line);
    uint32_t n = al ? alerts_count(al) : 0;
    if (n == 0 && y <= ymax)
        ui_put(u, w, y++, x, cw, ROLE_DIM, "none");
    for (uint32_t k = 0; k < n && y <= ymax; k++) {
        const alert *a = alerts_at(al, n - 1 - k);
        char t[16];
        ai_hms(a->time_ms, t, sizeof t);
        snprintf(line, sizeof line, "%s %s%s%s: %s", t, a->symbol, a->symbol[0] ? " " : "",
                 a->kind, a->text);
        ui_put(u, w, y++, x, cw,
               !strcmp(a->kind, "resumed") || !strcmp(a->kind, "fill") ? ROLE_TEXT
                                                                        : ROLE_WARNING,
               line);
    }
    return y;
}

void ui_ai_draw(ui *u, WINDOW *w, int ih, int iw)
{
    const market_sym *ms;
    engine *e = ai_engine(u, &ms);
    if (!e) {
        ui_put(u, w, 1, 1, iw, ROLE_DIM,
               u->a->runner ? "No signals yet: the engine starts with the first data."
                            : "The signal engine is not running.");
        return;
    }
    const engine_signal *last = engine_last(e);
    char line[256], why[96] = "";
    bool paused = engine_paused(e, why, sizeof why);
    double health = metrics_set_health(engine_metrics(e));
    char hs[16];
    ai_num(hs, sizeof hs, health, "%.0f");
    snprintf(line, sizeof line, "%s  regime %s  health %s  threshold %.2f  auto %s%s%s",
             ms ? ms->name : "?", last ? ensemble_regime_name(last->regime) : "unknown", hs,
             engine_threshold(e), runner_auto(u->a->runner) ? "on" : "off",
             paused ? "  PAUSED: " : "", paused ? why : "");
    int y = 1;
    ui_put(u, w, y++, 1, iw, paused ? ROLE_WARNING : ROLE_TEXT, line);
    if (y <= ih) {
        const calib *cb = engine_calib(e);
        uint32_t cn = cb ? calib_n(cb) : 0, need = last ? last->calib_need : 0;
        if (last && !last->calibrated)
            snprintf(line, sizeof line, "Learning: %u outcomes, need %u for calibration "
                     "(uncalibrated); %llu scored, %u pending",
                     cn, need, (unsigned long long)engine_scored(e), engine_pending(e));
        else
            snprintf(line, sizeof line, "calibrated (%s) on %u outcomes; %llu scored, %u pending",
                     cb ? calib_method_name(calib_get_method(cb)) : "-", cn,
                     (unsigned long long)engine_scored(e), engine_pending(e));
        ui_put(u, w, y++, 1, iw, last && !last->calibrated ? ROLE_WARNING : ROLE_DIM, line);
    }
    y++;
    int top = y;
    ai_track(u, e);
    if (iw >= 110) { /* two columns: the list over the selected signal's reasoning */
        int lw = iw - 52 - 2;
        int dh = K_MIN(K_MAX(ih - top - 8, 0), 8 + (int)engine_models(e));
        int ly = ai_signals(u, w, e, ms, top, ih - dh - 1, 1, lw);
        ai_detail(u, w, e, ms, K_MAX(ly, ih - dh) , ih, 1, lw);
        int x = 1 + lw + 2, rw = iw - lw - 2;
        y = ai_models(u, w, e, top, ih, x, rw) + 1;
        y = ai_retrains(u, w, e, y, ih, x, rw) + 1;
        y = ai_indicators(u, w, e, y, ih, x, rw) + 1;
        y = ai_reliability(u, w, e, y, ih, x, rw) + 1;
        ai_alerts(u, w, e, y, ih, x, rw);
    } else { /* stacked: a third for the newest signals, the selected one's reasoning, then
              * the rest as it fits */
        y = ai_signals(u, w, e, ms, y, top + K_MAX((ih - top) / 3, 3), 1, iw);
        y = ai_detail(u, w, e, ms, y, y + 6, 1, iw) + 1;
        y = ai_models(u, w, e, y, ih, 1, iw) + 1;
        y = ai_retrains(u, w, e, y, ih, 1, iw) + 1;
        y = ai_reliability(u, w, e, y, ih, 1, iw) + 1;
        y = ai_indicators(u, w, e, y, ih, 1, iw) + 1;
        ai_alerts(u, w, e, y, ih, 1, iw);
    }
}
