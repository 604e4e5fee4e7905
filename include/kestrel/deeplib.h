/* The dense-algebra and tree libraries of the deep / tree models (Debian's OpenBLAS, XGBoost),
 * loaded only by a model that needs them: kestrel does not link them, so a process whose models
 * are the online ones (weights, logreg, MLP) never maps them, starts their threads or runs their
 * static initialisers (about 10 MB of RSS). Each table is the model's own (opened by its
 * constructor, forgotten by its free); the loader maps one copy of a library for all of them. */
#ifndef KESTREL_DEEPLIB_H
#define KESTREL_DEEPLIB_H

#include <cblas.h>
#include <xgboost/c_api.h>

#include "kestrel/common.h"

enum deeplib_result {
    K_DEEPLIB_OK = 0,
    K_DEEPLIB_NOT_FOUND,      /* dlopen failed (the package is not installed) */
    K_DEEPLIB_MISSING_SYMBOL, /* the library lacks a function we call */
};
const char *deeplib_strerror(enum deeplib_result r);

/* The CBLAS calls of nn.c, lstm.c, transformer.c, cnn.c (libopenblas.so.0). */
typedef struct deeplib_blas {
    void *handle;
    __typeof__(&cblas_sgemm) sgemm;
    __typeof__(&cblas_snrm2) snrm2;
    __typeof__(&cblas_sscal) sscal;
} deeplib_blas;

/* The XGBoost C API calls of xgb.c (libxgboost.so.0). */
typedef struct deeplib_xgb {
    void *handle;
    __typeof__(&XGBSetGlobalConfig) set_global_config;
    __typeof__(&XGBoosterCreate) booster_create;
    __typeof__(&XGBoosterFree) booster_free;
    __typeof__(&XGBoosterLoadModelFromBuffer) booster_load_model_from_buffer;
    __typeof__(&XGBoosterPredict) booster_predict;
    __typeof__(&XGBoosterSaveModelToBuffer) booster_save_model_to_buffer;
    __typeof__(&XGBoosterSetParam) booster_set_param;
    __typeof__(&XGBoosterUpdateOneIter) booster_update_one_iter;
    __typeof__(&XGDMatrixCreateFromMat_omp) dmatrix_create_from_mat_omp;
    __typeof__(&XGDMatrixFree) dmatrix_free;
    __typeof__(&XGDMatrixSetFloatInfo) dmatrix_set_float_info;
} deeplib_xgb;

/* Sets OPENBLAS_CORETYPE from the CPU's features unless the user set it (deeplib.c says why).
 * It calls setenv: call it before the process starts any thread (kestrel's main() does). */
void deeplib_env_init(void);

/* Fill the table (the library is loaded on the first open in the process); on failure the table
 * is zeroed. close() forgets the table; a loaded library stays loaded (deeplib.c says why). */
K_MUST_USE enum deeplib_result deeplib_blas_open(deeplib_blas *b);
void deeplib_blas_close(deeplib_blas *b);
K_MUST_USE enum deeplib_result deeplib_xgb_open(deeplib_xgb *x);
void deeplib_xgb_close(deeplib_xgb *x);

#endif
