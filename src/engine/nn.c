/* The deep models' shared half: parameter layout and init, the signal/confidence heads and their
 * loss, the optimiser (Adam or AdaGrad) with global-norm clipping and dropout, the bounded replay
 * buffer, the PRNG, and the model.h functions every network uses. Each network (lstm.c,
 * transformer.c, cnn.c) owns only its trunk's forward and backward, so the part that touches
 * threads, state and the prequential contract exists once.
 *
 * Heads: z (the trunk output, D floats, dropped out at training time) feeds the signal head
 * (3 logits, softmax over SELL/HOLD/BUY) and, together with the signal's probabilities, the
 * confidence head (one logit, sigmoid = P(argmax is right); its target argmax == label is a
 * constant of the step).
 * Loss per sample: w * (cross-entropy(signal) + conf_weight * BCE(confidence, argmax == label)). */
#include "kestrel/nn.h"

#include "kestrel/xmalloc.h"

#include <cblas.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#include <immintrin.h>
#endif
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* BLAS threads: deeplib_blas_open (deeplib.c) makes OpenBLAS single-threaded as it loads it. */

/* ---------------------------------------------------------------- PRNG */

static uint64_t nn_splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void nn_rng_seed(nn_rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        r->s[i] = nn_splitmix(&seed);
}

static uint64_t nn_rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t nn_rng_next(nn_rng *r)
{
    uint64_t *s = r->s;
    uint64_t out = nn_rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = nn_rotl(s[3], 45);
    return out;
}

double nn_rng_uniform(nn_rng *r)
{
    return (double)(nn_rng_next(r) >> 11) * 0x1.0p-53;
}

double nn_rng_normal(nn_rng *r)
{
    double u = nn_rng_uniform(r), v = nn_rng_uniform(r);
    return sqrt(-2.0 * log(1.0 - u)) * cos(6.283185307179586 * v);
}

/* ---------------------------------------------------------------- activations
 * The SSE2 path performs the very operations of nn_expf in the same order (no FMA: C11 mode
 * does not contract), so both paths give the same bits and a model predicts the same anywhere. */

#if defined(__SSE2__)
static inline __m128 nn_exp4(__m128 x)
{
    x = _mm_max_ps(x, _mm_set1_ps(-86.0f));
    x = _mm_min_ps(x, _mm_set1_ps(88.0f));
    const __m128 magic = _mm_set1_ps(12582912.0f);
    __m128 n = _mm_sub_ps(_mm_add_ps(_mm_mul_ps(x, _mm_set1_ps(1.44269504f)), magic), magic);
    __m128 r = _mm_add_ps(_mm_sub_ps(x, _mm_mul_ps(n, _mm_set1_ps(0.693359375f))),
                          _mm_mul_ps(n, _mm_set1_ps(2.12194440e-4f)));
    __m128 p = _mm_add_ps(_mm_set1_ps(8.33333377e-3f), _mm_mul_ps(r, _mm_set1_ps(1.38888892e-3f)));
    p = _mm_add_ps(_mm_set1_ps(4.16666679e-2f), _mm_mul_ps(r, p));
    p = _mm_add_ps(_mm_set1_ps(1.66666672e-1f), _mm_mul_ps(r, p));
    p = _mm_add_ps(_mm_set1_ps(0.5f), _mm_mul_ps(r, p));
    p = _mm_add_ps(_mm_set1_ps(1.0f), _mm_mul_ps(r, p));
    p = _mm_add_ps(_mm_set1_ps(1.0f), _mm_mul_ps(r, p));
    __m128i e = _mm_slli_epi32(_mm_add_epi32(_mm_cvttps_epi32(n), _mm_set1_epi32(127)), 23);
    return _mm_mul_ps(p, _mm_castsi128_ps(e));
}
#endif

#if defined(__SSE2__) && defined(__x86_64__) && defined(__GNUC__)
#define NN_AVX2 1
/* nn_exp4's operations on 8 lanes (AVX2, no FMA): the same bits per lane. */
__attribute__((target("avx2"))) static inline __m256 nn_exp8(__m256 x)
{
    x = _mm256_max_ps(x, _mm256_set1_ps(-86.0f));
    x = _mm256_min_ps(x, _mm256_set1_ps(88.0f));
    const __m256 magic = _mm256_set1_ps(12582912.0f);
    __m256 n = _mm256_sub_ps(_mm256_add_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504f)), magic),
                             magic);
    __m256 r = _mm256_add_ps(_mm256_sub_ps(x, _mm256_mul_ps(n, _mm256_set1_ps(0.693359375f))),
                             _mm256_mul_ps(n, _mm256_set1_ps(2.12194440e-4f)));
    __m256 p = _mm256_add_ps(_mm256_set1_ps(8.33333377e-3f),
                             _mm256_mul_ps(r, _mm256_set1_ps(1.38888892e-3f)));
    p = _mm256_add_ps(_mm256_set1_ps(4.16666679e-2f), _mm256_mul_ps(r, p));
    p = _mm256_add_ps(_mm256_set1_ps(1.66666672e-1f), _mm256_mul_ps(r, p));
    p = _mm256_add_ps(_mm256_set1_ps(0.5f), _mm256_mul_ps(r, p));
    p = _mm256_add_ps(_mm256_set1_ps(1.0f), _mm256_mul_ps(r, p));
    p = _mm256_add_ps(_mm256_set1_ps(1.0f), _mm256_mul_ps(r, p));
    __m256i e = _mm256_slli_epi32(
        _mm256_add_epi32(_mm256_cvttps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

__attribute__((target("avx2"))) static uint32_t nn_sigmoid_avx2(float *x, uint32_t i,
                                                                  uint32_t n)
{
    const __m256 one = _mm256_set1_ps(1.0f), zero = _mm256_setzero_ps();
    for (; i + 8 <= n; i += 8) {
        __m256 e = nn_exp8(_mm256_sub_ps(zero, _mm256_loadu_ps(x + i)));
        _mm256_storeu_ps(x + i, _mm256_div_ps(one, _mm256_add_ps(one, e)));
    }
    return i;
}

__attribute__((target("avx2"))) static uint32_t nn_tanh_avx2(const float *x, float *y,
                                                               uint32_t i, uint32_t n)
{
    const __m256 one = _mm256_set1_ps(1.0f), two = _mm256_set1_ps(2.0f);
    const __m256 m2 = _mm256_set1_ps(-2.0f);
    for (; i + 8 <= n; i += 8) {
        __m256 e = nn_exp8(_mm256_mul_ps(m2, _mm256_loadu_ps(x + i)));
        _mm256_storeu_ps(y + i, _mm256_sub_ps(_mm256_div_ps(two, _mm256_add_ps(one, e)), one));
    }
    return i;
}

/* nn_exp4's operations on 16 lanes (AVX-512F, no FMA): the same bits per lane. */
__attribute__((target("avx512f"))) static inline __m512 nn_exp16(__m512 x)
{
    x = _mm512_max_ps(x, _mm512_set1_ps(-86.0f));
    x = _mm512_min_ps(x, _mm512_set1_ps(88.0f));
    const __m512 magic = _mm512_set1_ps(12582912.0f);
    __m512 n = _mm512_sub_ps(_mm512_add_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504f)), magic),
                             magic);
    __m512 r = _mm512_add_ps(_mm512_sub_ps(x, _mm512_mul_ps(n, _mm512_set1_ps(0.693359375f))),
                             _mm512_mul_ps(n, _mm512_set1_ps(2.12194440e-4f)));
    __m512 p = _mm512_add_ps(_mm512_set1_ps(8.33333377e-3f),
                             _mm512_mul_ps(r, _mm512_set1_ps(1.38888892e-3f)));
    p = _mm512_add_ps(_mm512_set1_ps(4.16666679e-2f), _mm512_mul_ps(r, p));
    p = _mm512_add_ps(_mm512_set1_ps(1.66666672e-1f), _mm512_mul_ps(r, p));
    p = _mm512_add_ps(_mm512_set1_ps(0.5f), _mm512_mul_ps(r, p));
    p = _mm512_add_ps(_mm512_set1_ps(1.0f), _mm512_mul_ps(r, p));
    p = _mm512_add_ps(_mm512_set1_ps(1.0f), _mm512_mul_ps(r, p));
    __m512i e = _mm512_slli_epi32(
        _mm512_add_epi32(_mm512_cvttps_epi32(n), _mm512_set1_epi32(127)), 23);
    return _mm512_mul_ps(p, _mm512_castsi512_ps(e));
}

__attribute__((target("avx512f"))) static uint32_t nn_sigmoid_avx512(float *x, uint32_t n)
{
    uint32_t i = 0;
    const __m512 one = _mm512_set1_ps(1.0f), zero = _mm512_setzero_ps();
    for (; i + 16 <= n; i += 16) {
        __m512 e = nn_exp16(_mm512_sub_ps(zero, _mm512_loadu_ps(x + i)));
        _mm512_storeu_ps(x + i, _mm512_div_ps(one, _mm512_add_ps(one, e)));
    }
    return i;
}

__attribute__((target("avx512f"))) static uint32_t nn_tanh_avx512(const float *x, float *y,
                                                                  uint32_t n)
{
    uint32_t i = 0;
    const __m512 one = _mm512_set1_ps(1.0f), two = _mm512_set1_ps(2.0f);
    const __m512 m2 = _mm512_set1_ps(-2.0f);
    for (; i + 16 <= n; i += 16) {
        __m512 e = nn_exp16(_mm512_mul_ps(m2, _mm512_loadu_ps(x + i)));
        _mm512_storeu_ps(y + i, _mm512_sub_ps(_mm512_div_ps(two, _mm512_add_ps(one, e)), one));
    }
    return i;
}
#endif

void nn_sigmoid_v(float *x, uint32_t n)
{
    uint32_t i = 0;
#ifdef NN_AVX2
    if (n >= 16 && __builtin_cpu_supports("avx512f"))
        i = nn_sigmoid_avx512(x, n);
    if (n - i >= 8 && __builtin_cpu_supports("avx2"))
        i = nn_sigmoid_avx2(x, i, n);
#endif
#if defined(__SSE2__)
    const __m128 one = _mm_set1_ps(1.0f), zero = _mm_setzero_ps();
    for (; i + 4 <= n; i += 4) {
        __m128 e = nn_exp4(_mm_sub_ps(zero, _mm_loadu_ps(x + i)));
        _mm_storeu_ps(x + i, _mm_div_ps(one, _mm_add_ps(one, e)));
    }
#endif
    for (; i < n; i++)
        x[i] = nn_sigmoidf(x[i]);
}

void nn_tanh_v(const float *x, float *y, uint32_t n)
{
    uint32_t i = 0;
#ifdef NN_AVX2
    if (n >= 16 && __builtin_cpu_supports("avx512f"))
        i = nn_tanh_avx512(x, y, n);
    if (n - i >= 8 && __builtin_cpu_supports("avx2"))
        i = nn_tanh_avx2(x, y, i, n);
#endif
#if defined(__SSE2__)
    const __m128 one = _mm_set1_ps(1.0f), two = _mm_set1_ps(2.0f), m2 = _mm_set1_ps(-2.0f);
    for (; i + 4 <= n; i += 4) {
        __m128 e = nn_exp4(_mm_mul_ps(m2, _mm_loadu_ps(x + i)));
        _mm_storeu_ps(y + i, _mm_sub_ps(_mm_div_ps(two, _mm_add_ps(one, e)), one));
    }
#endif
    for (; i < n; i++)
        y[i] = nn_tanhf(x[i]);
}

void nn_exp_v(float *x, uint32_t n)
{
    uint32_t i = 0;
#if defined(__SSE2__)
    for (; i + 4 <= n; i += 4)
        _mm_storeu_ps(x + i, nn_exp4(_mm_loadu_ps(x + i)));
#endif
    for (; i < n; i++)
        x[i] = nn_expf(x[i]);
}

/* ---------------------------------------------------------------- config, layout */

void nn_config_default(nn_config *c)
{
    memset(c, 0, sizeof(*c));
    c->window = 32;
    c->hidden = 32;
    c->layers = 1;
    c->heads = 4;
    c->bptt = 32;
    c->dropout = 0.1f;
    c->lr = 0.002f;
    c->clip = 1.0f;
    c->conf_weight = 0.5f;
    c->optim = NN_ADAM;
    c->batch = 16;
    c->steps = 8;
    c->replay = 1024;
    c->min_samples = 64;
    c->holdout = 0.25f;
    c->min_gain = 0.0f;
    c->seed = 1;
}

bool nn_config_ok(const nn_config *c)
{
    return c && c->dropout >= 0 && c->dropout <= 0.9f && c->lr > 0 && c->lr <= 1 &&
           c->clip >= 0 && isfinite(c->clip) && c->conf_weight >= 0 && c->conf_weight <= 10 &&
           (c->optim == NN_ADAM || c->optim == NN_ADAGRAD) && c->batch <= 4096 &&
           c->steps <= 4096 && c->replay >= 1 && c->replay <= 1000000 && c->holdout >= 0 &&
           c->holdout < 0.9f && c->min_gain >= 0 && isfinite(c->min_gain) &&
           c->replay_steps <= 100000000u;
}

uint32_t nn_arch_add(nn_arch *a, const char *name, uint32_t rows, uint32_t cols, enum nn_init init,
                     float value)
{
    if (a->ntensors >= NN_MAX_TENSORS)
        abort(); /* a programming error in a network's constructor */
    nn_tensor *t = &a->t[a->ntensors];
    memset(t, 0, sizeof(*t));
    snprintf(t->name, sizeof(t->name), "%s", name);
    t->off = a->nparams;
    t->rows = rows;
    t->cols = cols;
    t->init = init;
    t->value = value;
    a->nparams += rows * cols;
    return a->ntensors++;
}

/* ---------------------------------------------------------------- replay
 * Samples are `row / step` consecutive time steps of `step` floats. The steps live in a ring of
 * rcap steps; a sample records the number of its first step. A window that repeats the newest
 * sample's last steps shifted by one (the engine's windows: one feature row per signal) stores
 * only its new step, so a buffer of sequence windows costs about one row per sample instead of
 * `window`. Samples whose first step the ring has overwritten are dropped (oldest first). */

void nn_replay_init_steps(nn_replay *r, uint32_t cap, uint32_t row, uint32_t step, uint32_t rcap)
{
    memset(r, 0, sizeof(*r));
    r->cap = cap ? cap : 1;
    r->row = row;
    r->step = step && row % step == 0 ? step : row;
    uint32_t ts = row / r->step;
    r->rcap = rcap >= ts ? rcap : r->cap * ts;
    r->x = xmalloc((size_t)r->rcap * r->step * sizeof(float));
    r->start = xmalloc(r->cap * sizeof(uint64_t));
    r->w = xmalloc(r->cap * sizeof(float));
    r->y = xmalloc(r->cap);
    r->pcap = 64;
    r->px = xmalloc((size_t)r->pcap * row * sizeof(float));
    r->pw = xmalloc(r->pcap * sizeof(float));
    r->py = xmalloc(r->pcap);
    pthread_mutex_init(&r->mu, NULL);
}

void nn_replay_init(nn_replay *r, uint32_t cap, uint32_t row)
{
    nn_replay_init_steps(r, cap, row, row, cap);
}

void nn_replay_destroy(nn_replay *r)
{
    pthread_mutex_destroy(&r->mu);
    free(r->x);
    free(r->start);
    free(r->w);
    free(r->y);
    free(r->px);
    free(r->pw);
    free(r->py);
    memset(r, 0, sizeof(*r));
}

static float *nn_replay_step(const nn_replay *r, uint64_t k)
{
    return r->x + (size_t)(k % r->rcap) * r->step;
}

/* Sample j's steps into dst (row floats). Under mu. */
static void nn_replay_copy(const nn_replay *r, uint32_t j, float *dst)
{
    uint32_t ts = r->row / r->step;
    for (uint32_t t = 0; t < ts; t++)
        memcpy(dst + (size_t)t * r->step, nn_replay_step(r, r->start[j] + t),
               r->step * sizeof(float));
}

/* Appends one sample (row floats) under mu. */
static void nn_replay_add(nn_replay *r, const float *x, uint8_t y, float w)
{
    uint32_t ts = r->row / r->step, from = 0;
    uint64_t first = r->rseq;
    if (ts > 1 && r->count > 0) { /* the newest sample's window shifted by one step? */
        uint64_t ls = r->start[(r->head + r->count - 1) % r->cap];
        bool shifted = ls + ts == r->rseq;
        for (uint32_t t = 0; shifted && t + 1 < ts; t++)
            shifted = memcmp(x + (size_t)t * r->step, nn_replay_step(r, ls + 1 + t),
                             r->step * sizeof(float)) == 0;
        if (shifted) {
            from = ts - 1;
            first = ls + 1;
        }
    }
    for (uint32_t t = from; t < ts; t++)
        memcpy(nn_replay_step(r, r->rseq++), x + (size_t)t * r->step, r->step * sizeof(float));
    while (r->count && r->start[r->head] + r->rcap < r->rseq) { /* its first step is gone */
        r->head = (r->head + 1) % r->cap;
        r->count--;
    }
    if (r->count == r->cap) {
        r->head = (r->head + 1) % r->cap;
        r->count--;
    }
    uint32_t dst = (r->head + r->count) % r->cap;
    r->start[dst] = first;
    r->y[dst] = y;
    r->w[dst] = w;
    r->count++;
    r->seq++;
}

void nn_replay_push(nn_replay *r, const float *x, int y, float w)
{
    if (r->pcount == r->pcap) { /* the learner held the lock through 64 pushes: drop the oldest */
        r->phead = (r->phead + 1) % r->pcap;
        r->pcount--;
        r->dropped++;
    }
    uint32_t slot = (r->phead + r->pcount) % r->pcap;
    memcpy(r->px + (size_t)slot * r->row, x, r->row * sizeof(float));
    r->py[slot] = (uint8_t)y;
    r->pw[slot] = w;
    r->pcount++;
    if (pthread_mutex_trylock(&r->mu) != 0)
        return; /* flushed by a later push */
    while (r->pcount) {
        nn_replay_add(r, r->px + (size_t)r->phead * r->row, r->py[r->phead], r->pw[r->phead]);
        r->phead = (r->phead + 1) % r->pcap;
        r->pcount--;
    }
    pthread_mutex_unlock(&r->mu);
}

uint32_t nn_replay_sample(nn_replay *r, nn_rng *rng, uint32_t k, uint32_t min, float *x,
                          uint8_t *y, float *w)
{
    pthread_mutex_lock(&r->mu);
    if (r->count == 0 || r->count < min) {
        pthread_mutex_unlock(&r->mu);
        return 0;
    }
    for (uint32_t i = 0; i < k; i++) {
        uint32_t j = (r->head + (uint32_t)(nn_rng_next(rng) % r->count)) % r->cap;
        nn_replay_copy(r, j, x + (size_t)i * r->row);
        y[i] = r->y[j];
        w[i] = r->w[j];
    }
    pthread_mutex_unlock(&r->mu);
    return k;
}

uint32_t nn_replay_sample_before(nn_replay *r, nn_rng *rng, uint32_t k, uint64_t before,
                                 uint32_t hold, float *x, uint8_t *y, float *w)
{
    pthread_mutex_lock(&r->mu);
    uint64_t newer = r->seq > before ? r->seq - before : 0, skip = newer + hold;
    if (skip >= r->count) {
        pthread_mutex_unlock(&r->mu);
        return 0;
    }
    uint32_t n = r->count - (uint32_t)skip; /* the oldest n stored samples are eligible */
    for (uint32_t i = 0; i < k; i++) {
        uint32_t j = (r->head + (uint32_t)(nn_rng_next(rng) % n)) % r->cap;
        nn_replay_copy(r, j, x + (size_t)i * r->row);
        y[i] = r->y[j];
        w[i] = r->w[j];
    }
    pthread_mutex_unlock(&r->mu);
    return k;
}

uint32_t nn_replay_get(nn_replay *r, uint64_t from, uint32_t k, float *x, uint8_t *y, float *w)
{
    pthread_mutex_lock(&r->mu);
    uint64_t oldest = r->seq - r->count; /* the number of the sample at head */
    uint32_t n = 0;
    for (uint64_t s = from; s < from + k && s < r->seq; s++) {
        if (s < oldest)
            continue; /* overwritten since */
        uint32_t j = (r->head + (uint32_t)(s - oldest)) % r->cap;
        nn_replay_copy(r, j, x + (size_t)n * r->row);
        y[n] = r->y[j];
        w[n] = r->w[j];
        n++;
    }
    pthread_mutex_unlock(&r->mu);
    return n;
}

uint32_t nn_replay_snapshot(nn_replay *r, uint32_t max, float *x, uint8_t *y, float *w,
                            uint64_t *seq)
{
    pthread_mutex_lock(&r->mu);
    uint32_t n = K_MIN(r->count, max);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t j = (r->head + r->count - n + i) % r->cap;
        nn_replay_copy(r, j, x + (size_t)i * r->row);
        y[i] = r->y[j];
        w[i] = r->w[j];
    }
    if (seq)
        *seq = r->seq;
    pthread_mutex_unlock(&r->mu);
    return n;
}

/* ---------------------------------------------------------------- heads and loss */

enum { NN_HW = 0, NN_HB, NN_CW, NN_CB };

/* Heads on z (already dropped out). Fills probabilities and the confidence; returns the loss and,
 * when g != NULL, adds head gradients into g and writes dz. */
static double nn_model_heads(const nn_model *nm, const float *p, const float *z, int label,
                             float w, double prob[3], double *conf, float *g, float *dz)
{
    const nn_arch *a = nm->arch;
    uint32_t D = a->D, h = a->head;
    const float *hw = nn_cat(a, p, h + NN_HW), *hb = nn_cat(a, p, h + NN_HB);
    const float *cw = nn_cat(a, p, h + NN_CW), *cb = nn_cat(a, p, h + NN_CB);
    double s[3], mx = -INFINITY;
    for (int k = 0; k < 3; k++) {
        double v = hb[k];
        for (uint32_t i = 0; i < D; i++)
            v += (double)hw[k * D + i] * z[i];
        s[k] = v;
        mx = v > mx ? v : mx;
    }
    double sum = 0;
    for (int k = 0; k < 3; k++)
        sum += (prob[k] = exp(s[k] - mx));
    int arg = 0;
    for (int k = 0; k < 3; k++) {
        prob[k] /= sum;
        if (prob[k] > prob[arg])
            arg = k;
    }
    double q = cb[0];
    for (uint32_t i = 0; i < D; i++)
        q += (double)cw[i] * z[i];
    for (int k = 0; k < 3; k++)
        q += (double)cw[D + k] * prob[k];
    *conf = 1.0 / (1.0 + exp(-q));
    if (label < 0)
        return 0;
    double correct = arg == label ? 1.0 : 0.0, lam = nm->cfg.conf_weight;
    double softplus = q > 0 ? q + log1p(exp(-q)) : log1p(exp(q));
    double loss = w * (-(s[label] - mx - log(sum)) + lam * (softplus - correct * q));
    if (!g)
        return loss;
    float *ghw = nn_at(a, g, h + NN_HW), *ghb = nn_at(a, g, h + NN_HB);
    float *gcw = nn_at(a, g, h + NN_CW), *gcb = nn_at(a, g, h + NN_CB);
    double ds[3], dq = w * lam * (*conf - correct), dp = 0;
    for (int k = 0; k < 3; k++)
        dp += prob[k] * cw[D + k];
    for (int k = 0; k < 3; k++) /* cross-entropy, plus the confidence head through softmax */
        ds[k] = w * (prob[k] - (k == label ? 1.0 : 0.0)) + dq * prob[k] * (cw[D + k] - dp);
    for (uint32_t i = 0; i < D; i++) {
        double d = dq * cw[i];
        for (int k = 0; k < 3; k++) {
            ghw[k * D + i] += (float)(ds[k] * z[i]);
            d += ds[k] * hw[k * D + i];
        }
        gcw[i] += (float)(dq * z[i]);
        dz[i] = (float)d;
    }
    for (int k = 0; k < 3; k++) {
        ghb[k] += (float)ds[k];
        gcw[D + k] += (float)(dq * prob[k]);
    }
    gcb[0] += (float)dq;
    return loss;
}

/* One sample through trunk and heads; mask (D floats, or NULL) is the dropout. */
static double nn_model_sample(nn_model *nm, const float *p, const float *win, float *ws, float *z,
                              const float *mask, int label, float w, float *g)
{
    const nn_arch *a = nm->arch;
    double prob[3], conf;
    a->forward(a, p, win, ws, z);
    if (mask)
        for (uint32_t i = 0; i < a->D; i++)
            z[i] *= mask[i];
    double loss = nn_model_heads(nm, p, z, label, w, prob, &conf, g, nm->dz);
    if (g) {
        if (mask)
            for (uint32_t i = 0; i < a->D; i++)
                nm->dz[i] *= mask[i];
        a->backward(a, p, win, ws, nm->dz, g);
    }
    return loss;
}

double nn_model_loss_grad(nn_model *nm, const float *p, const float *win, int label, float *g)
{
    return nn_model_sample(nm, p, win, nm->ws_learn, nm->z_learn, NULL, label, 1.0f, g);
}

/* ---------------------------------------------------------------- model */

static void nn_model_init_params(nn_model *nm)
{
    const nn_arch *a = nm->arch;
    for (uint32_t i = 0; i < a->ntensors; i++) {
        const nn_tensor *t = &a->t[i];
        float *p = nm->cand + t->off;
        for (uint32_t j = 0; j < t->rows * t->cols; j++)
            p[j] = t->init == NN_INIT_FORGET ? (j % t->cols) / (t->cols / 4) == 1 ? t->value : 0.0f
                   : t->init == NN_INIT_CONST
                       ? t->value
                       : (float)((2.0 * nn_rng_uniform(&nm->rng) - 1.0) * t->value);
    }
    memcpy(nm->live, nm->cand, a->nparams * sizeof(float));
    memcpy(nm->ref, nm->cand, a->nparams * sizeof(float));
}

model *nn_model_new(const model_ops *ops, const char *name, uint32_t nfeat, const nn_config *cfg,
                    nn_arch *a)
{
    if (deeplib_blas_open(&a->blas) != K_DEEPLIB_OK) { /* OpenBLAS is loaded here, not at start */
        free(a);
        return NULL;
    }
    nn_model *nm = xcalloc(1, sizeof(*nm));
    nm->base.ops = ops;
    snprintf(nm->base.name, sizeof(nm->base.name), "%s", name);
    nm->base.nfeat = nfeat;
    nm->cfg = *cfg;
    nm->arch = a;
    uint32_t D = a->D;
    a->head = a->ntensors;
    float hs = 1.0f / sqrtf((float)D);
    nn_arch_add(a, "head_w", 3, D, NN_INIT_UNIFORM, hs);
    nn_arch_add(a, "head_b", 1, 3, NN_INIT_CONST, 0.0f);
    nn_arch_add(a, "conf_w", 1, D + 3, NN_INIT_UNIFORM, hs);
    nn_arch_add(a, "conf_b", 1, 1, NN_INIT_CONST, 0.0f);
    size_t np = a->nparams;
    nm->live = xcalloc(np, sizeof(float));
    nm->cand = xcalloc(np, sizeof(float));
    nm->ref = xcalloc(np, sizeof(float));
    nm->m1 = xcalloc(np, sizeof(float));
    nm->m2 = xcalloc(np, sizeof(float));
    nm->grad = xcalloc(np, sizeof(float));
    nm->ws_main = xcalloc(a->ws_floats + 1, sizeof(float));
    nm->ws_learn = xcalloc(a->ws_floats + 1, sizeof(float));
    nm->z_main = xcalloc(D, sizeof(float));
    nm->z_learn = xcalloc(D, sizeof(float));
    nm->dz = xcalloc(D, sizeof(float));
    nm->mask = xcalloc(D, sizeof(float));
    uint32_t row = a->T * a->F, B = cfg->batch ? cfg->batch : 1;
    nm->cfg.batch = B;
    nm->bx = xcalloc((size_t)B * row, sizeof(float));
    nm->bw = xcalloc(B, sizeof(float));
    nm->by = xcalloc(B, 1);
    nn_replay_init_steps(&nm->replay, cfg->replay, row, a->F,
                         cfg->replay_steps ? cfg->replay_steps : cfg->replay * a->T);
    pthread_mutex_init(&nm->cand_mu, NULL);
    atomic_init(&nm->cand_fresh, 0);
    nn_rng_seed(&nm->rng, cfg->seed);
    nn_model_init_params(nm);
    nm->rng_live = nm->rng;
    nm->loss_live = NAN;
    return &nm->base;
}

void nn_model_free(model *m)
{
    if (!m)
        return;
    nn_model *nm = (nn_model *)m;
    nn_replay_destroy(&nm->replay);
    pthread_mutex_destroy(&nm->cand_mu);
    free(nm->live);
    free(nm->cand);
    free(nm->ref);
    free(nm->m1);
    free(nm->m2);
    free(nm->grad);
    free(nm->ws_main);
    free(nm->ws_learn);
    free(nm->z_main);
    free(nm->z_learn);
    free(nm->dz);
    free(nm->mask);
    free(nm->bx);
    free(nm->bw);
    free(nm->by);
    deeplib_blas_close(&nm->arch->blas);
    free(nm->arch);
    free(nm);
}

/* The last T rows of the window, or NULL when the input does not fit this model. */
static const float *nn_model_window(const nn_model *nm, const model_input *in)
{
    const nn_arch *a = nm->arch;
    if (!in || in->nfeat != a->F || !in->window || in->window_len < a->T)
        return NULL;
    const float *w = in->window + (size_t)(in->window_len - a->T) * a->F;
    /* every value finite: the exponent bits tested without a branch per value, so the loop
     * vectorises (3,200 values twice per signal for the LSTM's default window) */
    uint32_t bad = 0;
    for (uint32_t i = 0; i < a->T * a->F; i++) {
        uint32_t b;
        memcpy(&b, &w[i], sizeof b);
        bad |= (uint32_t)((b & 0x7f800000u) == 0x7f800000u);
    }
    return bad ? NULL : w;
}

enum model_result nn_model_predict(model *m, const model_input *in, model_output *out)
{
    nn_model *nm = (nn_model *)m;
    const float *win = nn_model_window(nm, in);
    if (!win)
        return K_MODEL_BAD_INPUT;
    if (!nm->ready)
        return K_MODEL_NOT_READY;
    nm->arch->forward(nm->arch, nm->live, win, nm->ws_main, nm->z_main);
    nn_model_heads(nm, nm->live, nm->z_main, -1, 0, out->p, &out->confidence, NULL, NULL);
    return K_MODEL_OK;
}

enum model_result nn_model_learn(model *m, const model_input *in, int label, double weight)
{
    nn_model *nm = (nn_model *)m;
    const float *win = nn_model_window(nm, in);
    if (!win || label < 0 || label >= MODEL_CLASSES || !(weight >= 0) || !isfinite(weight))
        return K_MODEL_BAD_INPUT;
    nn_replay_push(&nm->replay, win, label, (float)weight);
    nm->learned++;
    return K_MODEL_OK;
}

static void nn_model_update(nn_model *nm)
{
    size_t n = nm->arch->nparams;
    float *g = nm->grad, *p = nm->cand;
    if (nm->cfg.clip > 0) {
        float norm = nm->arch->blas.snrm2((int)n, g, 1);
        if (norm > nm->cfg.clip)
            nm->arch->blas.sscal((int)n, nm->cfg.clip / norm, g, 1);
    }
    float lr = nm->cfg.lr;
    nm->adam_t++;
    if (nm->cfg.optim == NN_ADAGRAD) {
        for (size_t i = 0; i < n; i++) {
            nm->m2[i] += g[i] * g[i];
            p[i] -= lr * g[i] / (sqrtf(nm->m2[i]) + 1e-8f);
        }
        return;
    }
    const float b1 = 0.9f, b2 = 0.999f;
    float c1 = 1.0f - powf(b1, (float)nm->adam_t), c2 = 1.0f - powf(b2, (float)nm->adam_t);
    for (size_t i = 0; i < n; i++) {
        nm->m1[i] = b1 * nm->m1[i] + (1 - b1) * g[i];
        nm->m2[i] = b2 * nm->m2[i] + (1 - b2) * g[i] * g[i];
        p[i] -= lr * (nm->m1[i] / c1) / (sqrtf(nm->m2[i] / c2) + 1e-8f);
    }
}

/* The most samples the gate scores (the newest of the held-out share). */
#define NN_GATE_MAX 256u

/* Adds the signal log loss, hits and weight of parameters p over the k samples in bx/by/bw
 * (learner thread, no dropout). */
static void nn_model_score(nn_model *nm, const float *p, uint32_t k, double acc[3])
{
    const nn_arch *a = nm->arch;
    uint32_t row = a->T * a->F;
    for (uint32_t b = 0; b < k; b++) {
        double prob[3], conf;
        a->forward(a, p, nm->bx + (size_t)b * row, nm->ws_learn, nm->z_learn);
        nn_model_heads(nm, p, nm->z_learn, -1, 0, prob, &conf, NULL, NULL);
        int y = nm->by[b], arg = 0;
        for (int c = 1; c < 3; c++)
            if (prob[c] > prob[arg])
                arg = c;
        double w = nm->bw[b];
        acc[0] += w * -log(prob[y] > 1e-15 ? prob[y] : 1e-15);
        acc[1] += w * (arg == y);
        acc[2] += w;
    }
}

/* The gate: candidate and live weights (ref) on the held-out samples [seq0 - hold, seq0). */
static void nn_model_gate(nn_model *nm, uint64_t seq0, uint32_t hold, uint32_t c0)
{
    model_retrain *g = &nm->gate;
    memset(g, 0, sizeof(*g));
    g->base_logloss = g->train_ms = NAN;
    g->n_train = c0 - hold;
    double ca[3] = {0, 0, 0}, la[3] = {0, 0, 0};
    uint32_t B = nm->cfg.batch;
    for (uint64_t s = seq0 - hold; s < seq0; s += B) {
        uint32_t want = (uint32_t)K_MIN((uint64_t)B, seq0 - s);
        uint32_t k = nn_replay_get(&nm->replay, s, want, nm->bx, nm->by, nm->bw);
        nn_model_score(nm, nm->cand, k, ca);
        nn_model_score(nm, nm->ref, k, la);
        g->n_holdout += k;
    }
    g->cand_logloss = ca[2] > 0 ? ca[0] / ca[2] : NAN;
    g->cand_acc = ca[2] > 0 ? ca[1] / ca[2] : NAN;
    g->live_logloss = la[2] > 0 ? la[0] / la[2] : NAN;
    g->live_acc = la[2] > 0 ? la[1] / la[2] : NAN;
    if (hold == 0) /* holdout 0: no gate, every candidate goes live */
        g->accepted = 1;
    else
        g->accepted = ca[2] > 0 && g->cand_logloss < g->live_logloss - nm->cfg.min_gain;
}

enum model_result nn_model_train(model *m)
{
    nn_model *nm = (nn_model *)m;
    const nn_arch *a = nm->arch;
    uint32_t B = nm->cfg.batch, row = a->T * a->F;
    float rate = nm->cfg.dropout;
    pthread_mutex_lock(&nm->cand_mu);
    pthread_mutex_lock(&nm->replay.mu);
    uint64_t seq0 = nm->replay.seq;
    uint32_t c0 = nm->replay.count;
    pthread_mutex_unlock(&nm->replay.mu);
    if (c0 == 0 || c0 < nm->cfg.min_samples) {
        pthread_mutex_unlock(&nm->cand_mu);
        return K_MODEL_NOT_READY;
    }
    uint32_t hold = (uint32_t)((double)c0 * nm->cfg.holdout);
    hold = K_MIN(hold, NN_GATE_MAX);
    if (hold >= c0)
        hold = c0 - 1;
    enum model_result rc = K_MODEL_NOT_READY;
    for (uint32_t s = 0; s < (nm->cfg.steps ? nm->cfg.steps : 1); s++) {
        if (!nn_replay_sample_before(&nm->replay, &nm->rng, B, seq0, hold, nm->bx, nm->by,
                                     nm->bw))
            break;
        memset(nm->grad, 0, a->nparams * sizeof(float));
        double loss = 0;
        for (uint32_t b = 0; b < B; b++) {
            for (uint32_t i = 0; i < a->D; i++)
                nm->mask[i] = rate > 0 && nn_rng_uniform(&nm->rng) < rate ? 0.0f
                                                                           : 1.0f / (1.0f - rate);
            loss += nn_model_sample(nm, nm->cand, nm->bx + (size_t)b * row, nm->ws_learn,
                                    nm->z_learn, rate > 0 ? nm->mask : NULL, nm->by[b], nm->bw[b],
                                    nm->grad);
        }
        nm->arch->blas.sscal((int)a->nparams, 1.0f / (float)B, nm->grad, 1);
        nn_model_update(nm);
        nm->steps_done++;
        nm->last_loss = loss / B;
        rc = K_MODEL_OK;
    }
    if (rc == K_MODEL_OK) {
        nn_model_gate(nm, seq0, hold, c0);
        atomic_store(&nm->cand_fresh, 1);
    }
    pthread_mutex_unlock(&nm->cand_mu);
    return rc;
}

/* After a load that met a running training: the candidate restarts from the restored weights
 * (under cand_mu). */
static void nn_model_restart(nn_model *nm)
{
    size_t np = nm->arch->nparams;
    memcpy(nm->cand, nm->live, np * sizeof(float));
    memcpy(nm->ref, nm->live, np * sizeof(float));
    memset(nm->m1, 0, np * sizeof(float));
    memset(nm->m2, 0, np * sizeof(float));
    nm->adam_t = 0;
    nm->steps_done = nm->steps_live;
    nm->rng = nm->rng_live;
    atomic_store(&nm->cand_fresh, 0);
    nm->restore_pending = 0;
}

enum model_result nn_model_swap(model *m)
{
    nn_model *nm = (nn_model *)m;
    if (pthread_mutex_trylock(&nm->cand_mu) != 0)
        return K_MODEL_NOT_READY; /* training right now: try after its completion */
    enum model_result rc = K_MODEL_NOT_READY;
    if (nm->restore_pending) { /* trained from weights a load() has replaced: dropped */
        nn_model_restart(nm);
        nm->stale_dropped++;
        rc = K_MODEL_REFUSED;
    } else if (atomic_load(&nm->cand_fresh)) {
        nm->gate.seq = (nm->nhist ? nm->hist[0].seq : 0) + 1;
        nm->gate.trigger = nm->req_trigger ? nm->req_trigger : MODEL_TRIGGER_MANUAL;
        nm->gate.at_ms = nm->req_ms;
        memmove(nm->hist + 1, nm->hist, (MODEL_RETRAIN_HISTORY - 1) * sizeof(nm->hist[0]));
        nm->hist[0] = nm->gate;
        if (nm->nhist < MODEL_RETRAIN_HISTORY)
            nm->nhist++;
        if (nm->gate.accepted) {
            memcpy(nm->live, nm->cand, nm->arch->nparams * sizeof(float));
            memcpy(nm->ref, nm->cand, nm->arch->nparams * sizeof(float));
            nm->ready = 1;
            nm->rng_live = nm->rng;
            nm->steps_live = nm->steps_done;
            nm->loss_live = nm->last_loss;
        }
        atomic_store(&nm->cand_fresh, 0);
        rc = K_MODEL_OK;
    }
    pthread_mutex_unlock(&nm->cand_mu);
    return rc;
}

uint32_t nn_model_retrains(const model *m, model_retrain *out, uint32_t max)
{
    const nn_model *nm = (const nn_model *)m;
    uint32_t n = K_MIN(max, nm->nhist);
    memcpy(out, nm->hist, n * sizeof(*out));
    return n;
}

void nn_model_set_trigger(model *m, enum model_trigger t, int64_t now_ms)
{
    nn_model *nm = (nn_model *)m;
    nm->req_trigger = t;
    nm->req_ms = now_ms;
}

uint64_t nn_model_samples(const model *m)
{
    return ((const nn_model *)m)->learned;
}

uint32_t nn_model_replay_count(nn_model *nm)
{
    pthread_mutex_lock(&nm->replay.mu);
    uint32_t n = nm->replay.count;
    pthread_mutex_unlock(&nm->replay.mu);
    return n + nm->replay.pcount;
}

/* ---------------------------------------------------------------- state
 * Blob: "KSNN" u32 version, kind[16], u32 T F D nparams, u32 dim[8], u32 ready, u64 learned,
 * u64 steps, u64 rng[4], float live[nparams], u64 FNV-1a of everything before it. Steps and the
 * PRNG are those of the last swap (what the live weights came from), never the learner's
 * running values. The live
 * parameters are what predict() reads, so predictions after load are bit-identical. The replay
 * buffer and the optimiser moments are not saved: after load, training restarts from the live
 * weights with fresh moments, fed by the outcomes the engine stores. */
#define NN_MAGIC "KSNN"
#define NN_VERSION 1u

static uint64_t nn_fnv(const uint8_t *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

typedef struct nn_hdr {
    char magic[4];
    uint32_t version;
    char kind[16];
    uint32_t T, F, D, nparams, dim[8], ready;
    uint64_t learned, steps, rng[4];
} nn_hdr;

enum model_result nn_model_save(const model *m, model_blob *out)
{
    const nn_model *nm = (const nn_model *)m;
    const nn_arch *a = nm->arch;
    nn_hdr h;
    memset(&h, 0, sizeof(h));
    memcpy(h.magic, NN_MAGIC, 4);
    h.version = NN_VERSION;
    snprintf(h.kind, sizeof(h.kind), "%s", a->kind);
    h.T = a->T;
    h.F = a->F;
    h.D = a->D;
    h.nparams = a->nparams;
    memcpy(h.dim, a->dim, sizeof(h.dim));
    h.ready = (uint32_t)nm->ready;
    h.learned = nm->learned;
    h.steps = nm->steps_live;
    memcpy(h.rng, nm->rng_live.s, sizeof(h.rng));
    size_t start = out->len;
    model_blob_put(out, &h, sizeof(h));
    model_blob_put(out, nm->live, a->nparams * sizeof(float));
    uint64_t sum = nn_fnv(out->data + start, out->len - start);
    model_blob_put(out, &sum, sizeof(sum));
    return K_MODEL_OK;
}

enum model_result nn_model_load(model *m, const uint8_t *data, size_t len)
{
    nn_model *nm = (nn_model *)m;
    const nn_arch *a = nm->arch;
    nn_hdr h;
    size_t need = sizeof(h) + (size_t)a->nparams * sizeof(float) + sizeof(uint64_t);
    if (!data || len != need)
        return K_MODEL_BAD_STATE;
    memcpy(&h, data, sizeof(h));
    uint64_t sum;
    memcpy(&sum, data + len - sizeof(sum), sizeof(sum));
    if (memcmp(h.magic, NN_MAGIC, 4) != 0 || h.version != NN_VERSION ||
        strncmp(h.kind, a->kind, sizeof(h.kind)) != 0 || h.T != a->T || h.F != a->F ||
        h.D != a->D || h.nparams != a->nparams || memcmp(h.dim, a->dim, sizeof(h.dim)) != 0 ||
        nn_fnv(data, len - sizeof(sum)) != sum)
        return K_MODEL_BAD_STATE;
    bool busy = pthread_mutex_trylock(&nm->cand_mu) != 0; /* the learner is training it */
    memcpy(nm->live, data + sizeof(h), a->nparams * sizeof(float));
    nm->steps_live = h.steps;
    memcpy(nm->rng_live.s, h.rng, sizeof(h.rng));
    nm->ready = h.ready != 0;
    nm->learned = h.learned;
    if (busy) { /* predict() has the restored weights now; the candidate restarts at swap() */
        nm->restore_pending = 1;
        return K_MODEL_OK;
    }
    nn_model_restart(nm);
    pthread_mutex_unlock(&nm->cand_mu);
    return K_MODEL_OK;
}
