/* Screen 3, AI: the signal engine of the focused symbol as it is, every number with its sample
 * size. Read-only over the runner's engine and the app's signal store (sigstore.h):
 *   header       symbol, regime, health, threshold, auto-trading, self-pause, calibration state
 *                ("Learning: N outcomes, need M for calibration" while the set is small)
 *   signals      newest first: time, symbol, action, strength, confidence, outcome / result
 *                when scored, top reasons
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

/* the signals list, newest first, from row y; returns the next row */
static int ai_signals(ui *u, WINDOW *w, const engine *e, const market_sym *ms, int y, int ymax,
                      int x, int cw)
{
    sigstore *ss = trading_sigstore(u->a);
    ui_put(u, w, y++, x, cw, ROLE_HEADER, "time     symbol   act  str  conf outcome");
    uint32_t n = engine_history_len(e);
    for (uint32_t k = 0; k < n && y <= ymax; k++) {
        const metrics_signal_row *r = engine_history(e, n - 1 - k);
        char t[16], line[160];
        ai_hms(r->time_ms, t, sizeof t);
        char out[24];
        if (r->scored)
            snprintf(out, sizeof out, "%s %s", metrics_class_name(r->outcome),
                     metrics_result_name(r->result));
        else
            snprintf(out, sizeof out, "pending");
        snprintf(line, sizeof line, "%s %-8.8s ", t, r->symbol);
        int c = ui_put(u, w, y, x, cw, ROLE_DIM, line);
        c += ui_put(u, w, y, x + c, cw - c, ai_action_role(r->action),
                    metrics_class_name(r->action));
        snprintf(line, sizeof line, "%*s%4.2f %4.2f %s", 5 - (int)strlen(metrics_class_name(
                                                               r->action)), "",
                 r->strength, r->confidence, out);
        c += ui_put(u, w, y, x + c, cw - c,
                    r->scored ? (r->result > 0 ? ROLE_UP : r->result < 0 ? ROLE_DOWN : ROLE_TEXT)
                              : ROLE_DIM,
                    line);
        y++;
        const char *why = ss ? sigstore_reasons(ss, ms, r->id, r->time_ms) : "";
        if (why[0] && y <= ymax) {
            snprintf(line, sizeof line, "  %s", why);
            ui_put(u, w, y++, x, cw, ROLE_DIM, line);
        }
    }
    if (n == 0 && y <= ymax)
        ui_put(u, w, y++, x, cw, ROLE_DIM, "no signals yet");
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
    if (si < runner_symbols(r) && runner_warming(r, si, &wfed, &wtot) && y <= ymax) {
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
    if (iw >= 110) { /* two columns */
        int lw = iw - 52 - 2;
        ai_signals(u, w, e, ms, top, ih, 1, lw);
        int x = 1 + lw + 2, rw = iw - lw - 2;
        y = ai_models(u, w, e, top, ih, x, rw) + 1;
        y = ai_retrains(u, w, e, y, ih, x, rw) + 1;
        y = ai_indicators(u, w, e, y, ih, x, rw) + 1;
        y = ai_reliability(u, w, e, y, ih, x, rw) + 1;
        ai_alerts(u, w, e, y, ih, x, rw);
    } else { /* stacked: a third for the newest signals, then the rest as it fits */
        y = ai_signals(u, w, e, ms, y, top + K_MAX((ih - top) / 3, 3), 1, iw) + 1;
        y = ai_models(u, w, e, y, ih, 1, iw) + 1;
        y = ai_retrains(u, w, e, y, ih, 1, iw) + 1;
        y = ai_reliability(u, w, e, y, ih, 1, iw) + 1;
        y = ai_indicators(u, w, e, y, ih, 1, iw) + 1;
        ai_alerts(u, w, e, y, ih, 1, iw);
    }
}
