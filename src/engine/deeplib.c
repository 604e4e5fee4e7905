/* Owns the run-time loading of OpenBLAS and XGBoost for the models that use them (deeplib.h):
 * dlopen with RTLD_NOW | RTLD_LOCAL, one dlsym per function into the caller's table (the loader
 * maps a library once however many tables are opened). A library once loaded stays for the
 * process's life: unloading OpenBLAS / XGBoost (their thread pools, OpenMP and C++ runtimes)
 * under threads that ran them is not safe, so close() only forgets the table. No state here:
 * the tables are the models'. */
#include "kestrel/deeplib.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

const char *deeplib_strerror(enum deeplib_result r)
{
    switch (r) {
    case K_DEEPLIB_OK: return "ok";
    case K_DEEPLIB_NOT_FOUND: return "library not found";
    case K_DEEPLIB_MISSING_SYMBOL: return "library lacks a function";
    }
    return "?";
}

/* dlsym into a function pointer (POSIX guarantees the conversion works) */
#define DEEPLIB_SYM(h, dst, name, ok)                                                            \
    do {                                                                                         \
        void *deeplib_p_ = dlsym((h), (name));                                                   \
        memcpy(&(dst), &deeplib_p_, sizeof(dst));                                                \
        (ok) = (ok) && deeplib_p_ != NULL;                                                       \
    } while (0)

/* OpenBLAS picks its kernels from the CPU model at load; a CPU newer than the library (Debian's
 * 0.3.21 on this machine's) falls back to the generic SSE3 kernels, 3-4x slower for the LSTM's
 * sgemm. Unless the user set OPENBLAS_CORETYPE, it is set here from the CPU's features before
 * the first dlopen (OpenBLAS reads it once, at load): AVX-512 F/BW/DQ/VL -> SkylakeX, AVX2 + FMA
 * -> Haswell, else nothing (OpenBLAS's own choice). The kernels decide the sums' order, so the
 * deep models' numbers are those of that core type: the same on the same CPU, as before.
 * setenv is not safe beside another thread's getenv, so kestrel's main() calls this before it
 * starts any thread (deeplib_env_init); the call in deeplib_blas_open then finds the variable
 * set and writes nothing (a CPU with neither feature set never writes it at all). */
void deeplib_env_init(void)
{
    if (getenv("OPENBLAS_CORETYPE"))
        return;
    const char *t = NULL;
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
        t = "SkylakeX";
    else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        t = "Haswell";
#endif
    if (t)
        (void)setenv("OPENBLAS_CORETYPE", t, 0);
}

enum deeplib_result deeplib_blas_open(deeplib_blas *b)
{
    memset(b, 0, sizeof *b);
    deeplib_env_init(); /* a no-op once main() has run it (a tool or test without main()'s) */
    void *h = dlopen("libopenblas.so.0", RTLD_NOW | RTLD_LOCAL);
    if (!h)
        return K_DEEPLIB_NOT_FOUND;
    bool ok = true;
    DEEPLIB_SYM(h, b->sgemm, "cblas_sgemm", ok);
    DEEPLIB_SYM(h, b->snrm2, "cblas_snrm2", ok);
    DEEPLIB_SYM(h, b->sscal, "cblas_sscal", ok);
    if (!ok) {
        dlclose(h);
        memset(b, 0, sizeof *b);
        return K_DEEPLIB_MISSING_SYMBOL;
    }
    /* Debian's OpenBLAS (the pthread build) starts a worker thread per extra core when it is
     * loaded. Kestrel wants one BLAS thread (deterministic sums, the cores stay with the loop,
     * store and learner), so BLAS goes single-threaded and its idle workers are stopped
     * (blas_thread_shutdown_ is OpenBLAS's own fork-time shutdown; calls with one thread run in
     * the caller and never start them again). Loaded after main() blocked the loop's signals, the
     * workers inherit that mask, so no process-directed signal lands in them meanwhile. */
    void (*set_threads)(int) = NULL;
    int (*shutdown)(void) = NULL;
    void *ps = dlsym(h, "openblas_set_num_threads"), *pd = dlsym(h, "blas_thread_shutdown_");
    memcpy(&set_threads, &ps, sizeof set_threads);
    memcpy(&shutdown, &pd, sizeof shutdown);
    if (set_threads)
        set_threads(1);
    if (shutdown)
        (void)shutdown();
    b->handle = h;
    return K_DEEPLIB_OK;
}

void deeplib_blas_close(deeplib_blas *b)
{
    if (b)
        memset(b, 0, sizeof *b);
}

enum deeplib_result deeplib_xgb_open(deeplib_xgb *x)
{
    memset(x, 0, sizeof *x);
    void *h = dlopen("libxgboost.so.0", RTLD_NOW | RTLD_LOCAL);
    if (!h)
        return K_DEEPLIB_NOT_FOUND;
    bool ok = true;
    DEEPLIB_SYM(h, x->set_global_config, "XGBSetGlobalConfig", ok);
    DEEPLIB_SYM(h, x->booster_create, "XGBoosterCreate", ok);
    DEEPLIB_SYM(h, x->booster_free, "XGBoosterFree", ok);
    DEEPLIB_SYM(h, x->booster_load_model_from_buffer, "XGBoosterLoadModelFromBuffer", ok);
    DEEPLIB_SYM(h, x->booster_predict, "XGBoosterPredict", ok);
    DEEPLIB_SYM(h, x->booster_save_model_to_buffer, "XGBoosterSaveModelToBuffer", ok);
    DEEPLIB_SYM(h, x->booster_set_param, "XGBoosterSetParam", ok);
    DEEPLIB_SYM(h, x->booster_update_one_iter, "XGBoosterUpdateOneIter", ok);
    DEEPLIB_SYM(h, x->dmatrix_create_from_mat_omp, "XGDMatrixCreateFromMat_omp", ok);
    DEEPLIB_SYM(h, x->dmatrix_free, "XGDMatrixFree", ok);
    DEEPLIB_SYM(h, x->dmatrix_set_float_info, "XGDMatrixSetFloatInfo", ok);
    if (!ok) {
        dlclose(h);
        memset(x, 0, sizeof *x);
        return K_DEEPLIB_MISSING_SYMBOL;
    }
    x->handle = h;
    return K_DEEPLIB_OK;
}

void deeplib_xgb_close(deeplib_xgb *x)
{
    if (x)
        memset(x, 0, sizeof *x);
}
