/* XGBoost behind model.h, with walk-forward retraining and a held-out gate (see xgb.h).
 *
 * Ownership: the main thread owns the live booster (predict, learn's rolling accuracy) and the
 * trigger state; the learner thread owns the candidate while train() runs, under cand_mu. The
 * live model's serialised bytes (live_buf) are what the learner scores the incumbent with: it
 * loads a private booster from them, so no booster is ever used by two threads. The main thread
 * only ever trylocks cand_mu (swap, load), so it never waits for a retrain. */
#include "kestrel/xgb.h"

#include "kestrel/deeplib.h"
#include "kestrel/nn.h"
#include "kestrel/xmalloc.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct xgb_model {
    model base;
    deeplib_xgb lib; /* libxgboost, opened by xgb_new (deeplib.h) */
    xgb_config cfg;
    nn_replay replay; /* rows of nfeat floats (NaN = missing) */
    /* main thread */
    BoosterHandle live;
    uint8_t *live_buf; /* also read by train() under cand_mu */
    size_t live_len;
    double val_acc;
    uint8_t *acc_ring;
    uint32_t acc_n, acc_head, acc_hits;
    uint64_t learned, since;
    int64_t last_ms;
    int have_last, pending;
    model_retrain hist[XGB_HISTORY];
    uint32_t nhist;
    uint64_t seq;
    float *xrow, *prow;
    /* a load() that met a running retrain: the restored booster bytes wait here for swap(),
     * which drops the stale result (K_MODEL_REFUSED) and installs them */
    uint8_t *restore_buf;
    size_t restore_len;
    int restore_pending;
    uint64_t stale_dropped;
    /* handed over by submit (learner mutex orders it) */
    _Atomic int req_trigger;
    _Atomic int64_t req_ms;
    /* learner */
    pthread_mutex_t cand_mu;
    _Atomic int cand_ready;
    BoosterHandle cand;
    uint8_t *cand_buf;
    size_t cand_len;
    model_retrain cand_res;
    float *sx, *sw, *sy, *sp;
    uint8_t *sl;
} xgb_model;

void xgb_config_default(xgb_config *c)
{
    memset(c, 0, sizeof(*c));
    c->window = 2000;
    c->min_samples = 200;
    c->holdout = 0.25;
    c->rounds = 60;
    c->max_depth = 4;
    c->max_bin = 64;
    c->eta = 0.15;
    c->min_gain = 0;
    c->retrain_every = 500;
    c->retrain_ms = 24LL * 3600 * 1000;
    c->degrade = 0.05;
    c->acc_window = 200;
    c->seed = 1;
}

/* probabilities for n rows into out (n * 3); 0 or -1 */
static int xgb_predict_rows(const deeplib_xgb *X, BoosterHandle h, const float *x, uint32_t n,
                            uint32_t nfeat, float *out)
{
    DMatrixHandle dm;
    if (X->dmatrix_create_from_mat_omp(x, n, nfeat, NAN, &dm, 1) != 0)
        return -1;
    bst_ulong len = 0;
    const float *res = NULL;
    int rc = X->booster_predict(h, dm, 0, 0, 0, &len, &res);
    if (rc == 0 && len == (bst_ulong)n * 3)
        memcpy(out, res, (size_t)n * 3 * sizeof(float));
    else
        rc = -1;
    X->dmatrix_free(dm);
    return rc;
}

static BoosterHandle xgb_fit(const xgb_model *xm, const float *x, const float *y, const float *w,
                             uint32_t n)
{
    DMatrixHandle dm;
    BoosterHandle h = NULL;
    uint32_t nf = xm->base.nfeat;
    if (xm->lib.dmatrix_create_from_mat_omp(x, n, nf, NAN, &dm, 1) != 0)
        return NULL;
    char num[32];
    int ok = xm->lib.dmatrix_set_float_info(dm, "label", y, n) == 0 &&
             xm->lib.dmatrix_set_float_info(dm, "weight", w, n) == 0 &&
             xm->lib.booster_create(&dm, 1, &h) == 0;
    if (ok) {
        ok = xm->lib.booster_set_param(h, "objective", "multi:softprob") == 0 &&
             xm->lib.booster_set_param(h, "num_class", "3") == 0 &&
             xm->lib.booster_set_param(h, "nthread", "1") == 0 &&
             xm->lib.booster_set_param(h, "tree_method", "hist") == 0 &&
             xm->lib.booster_set_param(h, "verbosity", "0") == 0;
        snprintf(num, sizeof(num), "%llu", (unsigned long long)(xm->cfg.seed & 0x7fffffff));
        ok = ok && xm->lib.booster_set_param(h, "seed", num) == 0;
        snprintf(num, sizeof(num), "%u", xm->cfg.max_depth);
        ok = ok && xm->lib.booster_set_param(h, "max_depth", num) == 0;
        snprintf(num, sizeof(num), "%u", xm->cfg.max_bin);
        ok = ok && xm->lib.booster_set_param(h, "max_bin", num) == 0;
        snprintf(num, sizeof(num), "%.17g", xm->cfg.eta);
        ok = ok && xm->lib.booster_set_param(h, "eta", num) == 0;
        for (uint32_t i = 0; ok && i < xm->cfg.rounds; i++)
            ok = xm->lib.booster_update_one_iter(h, (int)i, dm) == 0;
    }
    xm->lib.dmatrix_free(dm);
    if (!ok && h) {
        xm->lib.booster_free(h);
        h = NULL;
    }
    return h;
}

/* log loss and accuracy of probabilities p (n * 3) against labels */
static void xgb_score(const float *p, const uint8_t *y, const float *w, uint32_t n, double *ll,
                      double *acc)
{
    double l = 0, a = 0, ws = 0;
    for (uint32_t i = 0; i < n; i++) {
        const float *q = p + (size_t)i * 3;
        int arg = q[1] > q[0] ? 1 : 0;
        arg = q[2] > q[arg] ? 2 : arg;
        l += -w[i] * log(fmax((double)q[y[i]], 1e-15));
        a += w[i] * (arg == y[i]);
        ws += w[i];
    }
    *ll = ws > 0 ? l / ws : NAN;
    *acc = ws > 0 ? a / ws : NAN;
}

static int xgb_serialise(const deeplib_xgb *X, BoosterHandle h, uint8_t **buf, size_t *len)
{
    bst_ulong n = 0;
    const char *p = NULL;
    if (X->booster_save_model_to_buffer(h, "{\"format\": \"ubj\"}", &n, &p) != 0)
        return -1;
    *buf = xmalloc(n);
    memcpy(*buf, p, n);
    *len = n;
    return 0;
}

static BoosterHandle xgb_from_bytes(const deeplib_xgb *X, const uint8_t *buf, size_t len)
{
    BoosterHandle h;
    if (X->booster_create(NULL, 0, &h) != 0)
        return NULL;
    if (X->booster_load_model_from_buffer(h, buf, len) != 0 ||
        X->booster_set_param(h, "nthread", "1")) {
        X->booster_free(h);
        return NULL;
    }
    return h;
}

static double xgb_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static enum model_result xgb_train(model *m)
{
    xgb_model *xm = (xgb_model *)m;
    uint32_t nf = m->nfeat;
    pthread_mutex_lock(&xm->cand_mu);
    if (atomic_load(&xm->cand_ready)) { /* the last result was not swapped in yet */
        pthread_mutex_unlock(&xm->cand_mu);
        return K_MODEL_NOT_READY;
    }
    uint32_t n = nn_replay_snapshot(&xm->replay, xm->cfg.window, xm->sx, xm->sl, xm->sw, NULL);
    if (n < xm->cfg.min_samples || n < 20) {
        pthread_mutex_unlock(&xm->cand_mu);
        return K_MODEL_NOT_READY;
    }
    model_retrain *r = &xm->cand_res;
    memset(r, 0, sizeof(*r));
    int trig = atomic_exchange(&xm->req_trigger, MODEL_TRIGGER_NONE);
    r->trigger = trig ? (enum model_trigger)trig : MODEL_TRIGGER_MANUAL;
    r->at_ms = atomic_load(&xm->req_ms);
    r->n_holdout = (uint32_t)floor(n * xm->cfg.holdout);
    r->n_train = n - r->n_holdout;
    r->live_logloss = r->live_acc = NAN;
    enum model_result rc = K_MODEL_OK;
    for (uint32_t i = 0; i < n; i++)
        xm->sy[i] = (float)xm->sl[i];
    double t0 = xgb_now_ms();
    BoosterHandle c = xgb_fit(xm, xm->sx, xm->sy, xm->sw, r->n_train);
    r->train_ms = xgb_now_ms() - t0;
    const float *hx = xm->sx + (size_t)r->n_train * nf;
    const uint8_t *hl = xm->sl + r->n_train;
    const float *hw = xm->sw + r->n_train;
    if (!c || xgb_predict_rows(&xm->lib, c, hx, r->n_holdout, nf, xm->sp) != 0) {
        r->cand_logloss = r->cand_acc = NAN;
        rc = K_MODEL_BAD_STATE;
    } else {
        xgb_score(xm->sp, hl, hw, r->n_holdout, &r->cand_logloss, &r->cand_acc);
        double cnt[3] = {1, 1, 1}, tot = 3;
        for (uint32_t i = 0; i < r->n_train; i++) {
            cnt[xm->sl[i]] += xm->sw[i];
            tot += xm->sw[i];
        }
        for (uint32_t i = 0; i < r->n_holdout; i++)
            for (int k = 0; k < 3; k++)
                xm->sp[i * 3 + k] = (float)(cnt[k] / tot);
        double base_acc;
        xgb_score(xm->sp, hl, hw, r->n_holdout, &r->base_logloss, &base_acc);
        double bar = r->base_logloss;
        if (xm->live_buf) {
            BoosterHandle lv = xgb_from_bytes(&xm->lib, xm->live_buf, xm->live_len);
            if (lv && xgb_predict_rows(&xm->lib, lv, hx, r->n_holdout, nf, xm->sp) == 0) {
                xgb_score(xm->sp, hl, hw, r->n_holdout, &r->live_logloss, &r->live_acc);
                bar = r->live_logloss;
            }
            if (lv)
                xm->lib.booster_free(lv);
        }
        r->accepted = r->cand_logloss < bar - xm->cfg.min_gain;
        if (r->accepted && xgb_serialise(&xm->lib, c, &xm->cand_buf, &xm->cand_len) != 0) {
            r->accepted = 0;
            rc = K_MODEL_BAD_STATE;
        }
    }
    if (r->accepted) {
        xm->cand = c;
    } else if (c) {
        xm->lib.booster_free(c);
    }
    atomic_store(&xm->cand_ready, 1);
    pthread_mutex_unlock(&xm->cand_mu);
    return rc;
}

static void xgb_acc_reset(xgb_model *xm)
{
    xm->acc_n = xm->acc_head = xm->acc_hits = 0;
}

/* Forgets an uncollected candidate (under cand_mu). */
static void xgb_drop_cand(xgb_model *xm)
{
    if (xm->cand)
        xm->lib.booster_free(xm->cand);
    free(xm->cand_buf);
    xm->cand = NULL;
    xm->cand_buf = NULL;
    xm->cand_len = 0;
    atomic_store(&xm->cand_ready, 0);
}

static enum model_result xgb_swap(model *m)
{
    xgb_model *xm = (xgb_model *)m;
    if (pthread_mutex_trylock(&xm->cand_mu) != 0)
        return K_MODEL_NOT_READY;
    if (xm->restore_pending) { /* trained before a load() replaced the live model: dropped */
        xgb_drop_cand(xm);
        free(xm->live_buf);
        xm->live_buf = xm->restore_buf;
        xm->live_len = xm->restore_len;
        xm->restore_buf = NULL;
        xm->restore_len = 0;
        xm->restore_pending = 0;
        xm->stale_dropped++;
        pthread_mutex_unlock(&xm->cand_mu);
        return K_MODEL_REFUSED;
    }
    if (!atomic_load(&xm->cand_ready)) {
        pthread_mutex_unlock(&xm->cand_mu);
        return K_MODEL_NOT_READY;
    }
    model_retrain *r = &xm->cand_res;
    r->seq = ++xm->seq;
    memmove(xm->hist + 1, xm->hist, (XGB_HISTORY - 1) * sizeof(xm->hist[0]));
    xm->hist[0] = *r;
    if (xm->nhist < XGB_HISTORY)
        xm->nhist++;
    if (r->accepted && xm->cand) {
        if (xm->live)
            xm->lib.booster_free(xm->live);
        free(xm->live_buf);
        xm->live = xm->cand;
        xm->live_buf = xm->cand_buf;
        xm->live_len = xm->cand_len;
        xm->val_acc = r->cand_acc;
    }
    xm->cand = NULL;
    xm->cand_buf = NULL;
    xm->cand_len = 0;
    xm->since = 0;
    xm->last_ms = r->at_ms;
    xm->have_last = 1;
    xm->pending = 0;
    xgb_acc_reset(xm);
    atomic_store(&xm->cand_ready, 0);
    pthread_mutex_unlock(&xm->cand_mu);
    return K_MODEL_OK;
}

void xgb_retrain_cancel(model *m)
{
    ((xgb_model *)m)->pending = 0;
}

enum model_trigger xgb_should_retrain(model *m, int64_t now_ms)
{
    xgb_model *xm = (xgb_model *)m;
    const xgb_config *c = &xm->cfg;
    enum model_trigger t = MODEL_TRIGGER_NONE;
    if (xm->pending)
        return t;
    if (!xm->live) {
        if (xm->learned >= c->min_samples &&
            (xm->nhist == 0 || xm->since >= K_MAX(c->retrain_every, c->min_samples)))
            t = MODEL_TRIGGER_FIRST;
    } else if (c->retrain_every && xm->since >= c->retrain_every) {
        t = MODEL_TRIGGER_COUNT;
    } else if (c->retrain_ms > 0 && xm->have_last && now_ms - xm->last_ms >= c->retrain_ms) {
        t = MODEL_TRIGGER_TIMER;
    } else if (c->degrade > 0 && xm->acc_n >= c->acc_window &&
               (double)xm->acc_hits / xm->acc_n < xm->val_acc - c->degrade) {
        t = MODEL_TRIGGER_DEGRADED;
    }
    if (t != MODEL_TRIGGER_NONE) {
        xm->pending = 1;
        atomic_store(&xm->req_trigger, (int)t);
        atomic_store(&xm->req_ms, now_ms);
    }
    return t;
}

bool xgb_training(model *m)
{
    xgb_model *xm = (xgb_model *)m;
    if (pthread_mutex_trylock(&xm->cand_mu) != 0)
        return true;
    pthread_mutex_unlock(&xm->cand_mu);
    return false;
}

uint64_t xgb_stale_dropped(const model *m)
{
    return ((const xgb_model *)m)->stale_dropped;
}

uint32_t xgb_history(const model *m, model_retrain *out, uint32_t max)
{
    const xgb_model *xm = (const xgb_model *)m;
    uint32_t n = K_MIN(max, xm->nhist);
    memcpy(out, xm->hist, n * sizeof(*out));
    return n;
}

void xgb_accuracy(const model *m, double *rolling, double *validated)
{
    const xgb_model *xm = (const xgb_model *)m;
    *rolling = xm->acc_n ? (double)xm->acc_hits / xm->acc_n : NAN;
    *validated = xm->live ? xm->val_acc : NAN;
}

/* the input row with missing features as NaN; -1 when it does not fit */
static int xgb_row(xgb_model *xm, const model_input *in)
{
    if (!in || !in->x || in->nfeat != xm->base.nfeat)
        return -1;
    for (uint32_t i = 0; i < in->nfeat; i++) {
        if (in->missing && in->missing[i]) {
            xm->xrow[i] = NAN;
        } else {
            if (!isfinite(in->x[i]))
                return -1;
            xm->xrow[i] = in->x[i];
        }
    }
    return 0;
}

static enum model_result xgb_predict(model *m, const model_input *in, model_output *out)
{
    xgb_model *xm = (xgb_model *)m;
    if (xgb_row(xm, in) != 0)
        return K_MODEL_BAD_INPUT;
    if (!xm->live)
        return K_MODEL_NOT_READY;
    if (xgb_predict_rows(&xm->lib, xm->live, xm->xrow, 1, m->nfeat, xm->prow) != 0)
        return K_MODEL_BAD_STATE;
    double s = (double)xm->prow[0] + xm->prow[1] + xm->prow[2];
    for (int k = 0; k < 3; k++)
        out->p[k] = s > 0 ? xm->prow[k] / s : 1.0 / 3;
    out->confidence = -1;
    return K_MODEL_OK;
}

static enum model_result xgb_learn(model *m, const model_input *in, int label, double weight)
{
    xgb_model *xm = (xgb_model *)m;
    if (xgb_row(xm, in) != 0 || label < 0 || label >= MODEL_CLASSES || !(weight >= 0) ||
        !isfinite(weight))
        return K_MODEL_BAD_INPUT;
    if (xm->live && xgb_predict_rows(&xm->lib, xm->live, xm->xrow, 1, m->nfeat, xm->prow) == 0) {
        int arg = xm->prow[1] > xm->prow[0] ? 1 : 0;
        arg = xm->prow[2] > xm->prow[arg] ? 2 : arg;
        uint32_t cap = xm->cfg.acc_window;
        if (xm->acc_n == cap)
            xm->acc_hits -= xm->acc_ring[xm->acc_head];
        else
            xm->acc_n++;
        xm->acc_ring[xm->acc_head] = arg == label;
        xm->acc_hits += arg == label;
        xm->acc_head = (xm->acc_head + 1) % cap;
    }
    nn_replay_push(&xm->replay, xm->xrow, label, (float)weight);
    xm->learned++;
    xm->since++;
    return K_MODEL_OK;
}

static uint64_t xgb_samples(const model *m)
{
    return ((const xgb_model *)m)->learned;
}

static void xgb_free(model *m)
{
    if (!m)
        return;
    xgb_model *xm = (xgb_model *)m;
    if (xm->live)
        xm->lib.booster_free(xm->live);
    if (xm->cand)
        xm->lib.booster_free(xm->cand);
    free(xm->live_buf);
    free(xm->cand_buf);
    free(xm->restore_buf);
    nn_replay_destroy(&xm->replay);
    pthread_mutex_destroy(&xm->cand_mu);
    free(xm->acc_ring);
    free(xm->xrow);
    free(xm->prow);
    free(xm->sx);
    free(xm->sw);
    free(xm->sy);
    free(xm->sp);
    free(xm->sl);
    deeplib_xgb_close(&xm->lib);
    free(xm);
}

/* ---- state: "KSXG" u32 version, the header below, the live booster (UBJ), FNV-1a ---- */
#define XGB_MAGIC "KSXG"
#define XGB_VERSION 1u
/* the retrain history is stored as it is in memory: model_retrain keeps version 1's layout */
_Static_assert(sizeof(model_retrain) == 88 && offsetof(model_retrain, n_train) == 20 &&
                   offsetof(model_retrain, cand_logloss) == 32 &&
                   offsetof(model_retrain, accepted) == 72 &&
                   offsetof(model_retrain, train_ms) == 80,
               "XGBoost's stored retrain history (state version 1)");

typedef struct xgb_hdr {
    char magic[4];
    uint32_t version, nfeat, nhist;
    uint64_t learned, since, seq, live_len;
    int64_t last_ms;
    int32_t have_last, pad;
    double val_acc;
    model_retrain hist[XGB_HISTORY];
} xgb_hdr;

static uint64_t xgb_fnv(const uint8_t *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

static enum model_result xgb_save(const model *m, model_blob *out)
{
    const xgb_model *xm = (const xgb_model *)m;
    xgb_hdr h;
    memset(&h, 0, sizeof(h));
    memcpy(h.magic, XGB_MAGIC, 4);
    h.version = XGB_VERSION;
    h.nfeat = m->nfeat;
    h.nhist = xm->nhist;
    h.learned = xm->learned;
    h.since = xm->since;
    h.seq = xm->seq;
    const uint8_t *bytes = xm->restore_pending ? xm->restore_buf : xm->live_buf;
    size_t blen = xm->restore_pending ? xm->restore_len : xm->live_len;
    h.live_len = bytes ? blen : 0;
    h.last_ms = xm->last_ms;
    h.have_last = xm->have_last;
    h.val_acc = xm->val_acc;
    memcpy(h.hist, xm->hist, sizeof(h.hist));
    size_t start = out->len;
    model_blob_put(out, &h, sizeof(h));
    if (h.live_len)
        model_blob_put(out, bytes, h.live_len);
    uint64_t sum = xgb_fnv(out->data + start, out->len - start);
    model_blob_put(out, &sum, sizeof(sum));
    return K_MODEL_OK;
}

static enum model_result xgb_load(model *m, const uint8_t *data, size_t len)
{
    xgb_model *xm = (xgb_model *)m;
    xgb_hdr h;
    if (!data || len < sizeof(h) + sizeof(uint64_t))
        return K_MODEL_BAD_STATE;
    memcpy(&h, data, sizeof(h));
    uint64_t sum;
    memcpy(&sum, data + len - sizeof(sum), sizeof(sum));
    if (memcmp(h.magic, XGB_MAGIC, 4) != 0 || h.version != XGB_VERSION || h.nfeat != m->nfeat ||
        h.nhist > XGB_HISTORY || h.live_len != len - sizeof(h) - sizeof(sum) ||
        xgb_fnv(data, len - sizeof(sum)) != sum)
        return K_MODEL_BAD_STATE;
    BoosterHandle lv = NULL;
    if (h.live_len && !(lv = xgb_from_bytes(&xm->lib, data + sizeof(h), h.live_len)))
        return K_MODEL_BAD_STATE;
    bool busy = pthread_mutex_trylock(&xm->cand_mu) != 0; /* a retrain is running */
    if (xm->live)
        xm->lib.booster_free(xm->live);
    xm->live = lv; /* predict() only: main thread */
    uint8_t *bytes = NULL;
    if (lv) {
        bytes = xmalloc(h.live_len);
        memcpy(bytes, data + sizeof(h), h.live_len);
    }
    if (busy) { /* train() reads live_buf: swap() installs these bytes after it */
        free(xm->restore_buf);
        xm->restore_buf = bytes;
        xm->restore_len = lv ? h.live_len : 0;
        xm->restore_pending = 1;
    } else {
        xgb_drop_cand(xm); /* trained before the restore: stale */
        free(xm->live_buf);
        xm->live_buf = bytes;
        xm->live_len = lv ? h.live_len : 0;
        free(xm->restore_buf);
        xm->restore_buf = NULL;
        xm->restore_pending = 0;
    }
    xm->learned = h.learned;
    xm->since = h.since;
    xm->seq = h.seq;
    xm->last_ms = h.last_ms;
    xm->have_last = h.have_last;
    xm->val_acc = h.val_acc;
    xm->nhist = h.nhist;
    memcpy(xm->hist, h.hist, sizeof(h.hist));
    xm->pending = 0;
    xgb_acc_reset(xm);
    if (!busy)
        pthread_mutex_unlock(&xm->cand_mu);
    return K_MODEL_OK;
}

static const model_ops xgb_ops = {
    .kind = "xgboost",
    .flags = MODEL_F_OFFTHREAD,
    .predict = xgb_predict,
    .learn = xgb_learn,
    .train = xgb_train,
    .swap = xgb_swap,
    .save = xgb_save,
    .load = xgb_load,
    .samples = xgb_samples,
    .free = xgb_free,
    .retrains = xgb_history,
};

model *xgb_new(const char *name, uint32_t nfeat, const xgb_config *cfg)
{
    if (!cfg || nfeat == 0 || nfeat > 4096 || cfg->window < 20 || cfg->window > 1000000 ||
        !(cfg->holdout > 0 && cfg->holdout < 0.9) || cfg->rounds == 0 || cfg->rounds > 10000 ||
        cfg->max_bin < 2 || cfg->max_bin > 1024 ||
        cfg->max_depth == 0 || cfg->max_depth > 16 || !(cfg->eta > 0) || cfg->acc_window == 0)
        return NULL;
    xgb_model *xm = xcalloc(1, sizeof(*xm));
    if (deeplib_xgb_open(&xm->lib) != K_DEEPLIB_OK) { /* XGBoost is loaded here, not at start */
        free(xm);
        return NULL;
    }
    xm->lib.set_global_config("{\"verbosity\": 0}");
    xm->base.ops = &xgb_ops;
    snprintf(xm->base.name, sizeof(xm->base.name), "%s", name);
    xm->base.nfeat = nfeat;
    xm->cfg = *cfg;
    uint32_t W = cfg->window;
    nn_replay_init(&xm->replay, W, nfeat);
    pthread_mutex_init(&xm->cand_mu, NULL);
    atomic_init(&xm->cand_ready, 0);
    atomic_init(&xm->req_trigger, 0);
    atomic_init(&xm->req_ms, 0);
    xm->acc_ring = xcalloc(cfg->acc_window, 1);
    xm->xrow = xcalloc(nfeat, sizeof(float));
    xm->prow = xcalloc(3, sizeof(float));
    xm->sx = xcalloc((size_t)W * nfeat, sizeof(float));
    xm->sw = xcalloc(W, sizeof(float));
    xm->sy = xcalloc(W, sizeof(float));
    xm->sp = xcalloc((size_t)W * 3, sizeof(float));
    xm->sl = xcalloc(W, 1);
    return &xm->base;
}
