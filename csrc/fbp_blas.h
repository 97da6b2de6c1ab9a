/* The BLAS matrix product behind fastbp's matrix loop (fbp_matrix_loop.template.h).
 *
 * C never links a BLAS itself: the Cython layer hands over the Fortran gemm
 * pair it gets from scipy.linalg.cython_blas (an optimised, threaded BLAS
 * that SciPy already ships) once, at import, through fbp_set_gemm. Until
 * then, or after fbp_set_gemm(NULL, NULL), every entry point runs its
 * per-sample loop.
 */
#ifndef FASTBP_BLAS_H_
#define FASTBP_BLAS_H_

#include <stddef.h>

/* Fortran BLAS ?gemm, column-major, every argument by pointer (the
 * signature of scipy.linalg.cython_blas's sgemm and dgemm):
 * C := alpha op(A) op(B) + beta C, op(X) = X or X^T as trans is 'N' or 'T'. */
typedef void (*fbp_sgemm_fn)(char *transa, char *transb, int *m, int *n, int *k,
                             float *alpha, float *a, int *lda, float *b, int *ldb,
                             float *beta, float *c, int *ldc);
typedef void (*fbp_dgemm_fn)(char *transa, char *transb, int *m, int *n, int *k,
                             double *alpha, double *a, int *lda, double *b, int *ldb,
                             double *beta, double *c, int *ldc);

/* Installs the gemm pair (both, or NULL for both to turn the matrix path
 * off). Not synchronised: call it while no other call of the core runs. */
void fbp_set_gemm(fbp_sgemm_fn sgemm, fbp_dgemm_fn dgemm);

/* 1 while a gemm pair is installed. */
int fbp_have_gemm(void);

/* The installed gemm with sizes by value: column-major C (m, n) :=
 * alpha op(A) op(B) + beta C, op(A) (m, k), op(B) (k, n), trans_a and
 * trans_b nonzero for the transposes. Every size and leading dimension must
 * fit in an int (fbp_rows_pay checks the network's). */
void fbp_gemm_f32(int trans_a, int trans_b, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k,
                  float alpha, const float *A, ptrdiff_t lda, const float *B,
                  ptrdiff_t ldb, float beta, float *C, ptrdiff_t ldc);
void fbp_gemm_f64(int trans_a, int trans_b, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k,
                  double alpha, const double *A, ptrdiff_t lda, const double *B,
                  ptrdiff_t ldb, double beta, double *C, ptrdiff_t ldc);

#endif /* FASTBP_BLAS_H_ */
