/* The installed BLAS gemm pair, and calls of it with sizes by value
 * (fbp_blas.h). */
#include "fbp_blas.h"

/* Written once at import (by _core.pyx), before any call of the core reads
 * them, and after that only by tests and benchmarks that compare the two
 * paths: the matrix path's only state outside its arguments. */
static fbp_sgemm_fn installed_sgemm;
static fbp_dgemm_fn installed_dgemm;

void fbp_set_gemm(fbp_sgemm_fn sgemm, fbp_dgemm_fn dgemm)
{
    const int both = sgemm != NULL && dgemm != NULL;
    installed_sgemm = both ? sgemm : NULL;
    installed_dgemm = both ? dgemm : NULL;
}

int fbp_have_gemm(void) { return installed_sgemm != NULL; }

/* BLAS takes non-const pointers but only reads A and B. */
#define FBP_GEMM_BODY(T, gemm)                                                 \
    char ta = trans_a ? 'T' : 'N', tb = trans_b ? 'T' : 'N';                   \
    int m_ = (int)m, n_ = (int)n, k_ = (int)k;                                 \
    int lda_ = (int)lda, ldb_ = (int)ldb, ldc_ = (int)ldc;                     \
    gemm(&ta, &tb, &m_, &n_, &k_, &alpha, (T *)A, &lda_, (T *)B, &ldb_, &beta, \
         C, &ldc_);

void fbp_gemm_f32(int trans_a, int trans_b, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k,
                  float alpha, const float *A, ptrdiff_t lda, const float *B,
                  ptrdiff_t ldb, float beta, float *C, ptrdiff_t ldc)
{
    FBP_GEMM_BODY(float, installed_sgemm)
}

void fbp_gemm_f64(int trans_a, int trans_b, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k,
                  double alpha, const double *A, ptrdiff_t lda, const double *B,
                  ptrdiff_t ldb, double beta, double *C, ptrdiff_t ldc)
{
    FBP_GEMM_BODY(double, installed_dgemm)
}
