// The BLAS/LAPACK routines FactorConv uses, reached through OpenBLAS and LAPACKE loaded at run
// time (dlopen). Internal to libfactorconv: hidden from the release .so by its version script.
//
// Why not link them directly: OpenBLAS picks its kernels in a load-time constructor from the
// CPU model, and on CPUs it does not recognize (common in VMs) it falls back to SSE3 kernels,
// several times slower. Loading it ourselves lets us set OPENBLAS_CORETYPE from the CPU's features first
// (only when the user has not set it), so every front end (C, Swift, Python) gets fast kernels.
#ifndef FACTORCONV_BLAS_H
#define FACTORCONV_BLAS_H

#include <stddef.h>

/// Loads OpenBLAS and LAPACKE once (thread-safe). Returns 0 on success; otherwise writes a
/// message into `error` (capacity `error_size`) and returns -1. Later calls return the same result.
int factorconv_blas_load(char *error, size_t error_size);

/// OpenBLAS's name for the kernels in use (e.g. "SkylakeX"); "" if not loaded.
const char *factorconv_blas_corename(void);

/// Row-major C = alpha op(A) op(B) + beta C (cblas_sgemm / cblas_dgemm). trans_* are 0 or 1.
void factorconv_sgemm(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a, int lda,
                      const float *b, int ldb, float beta, float *c, int ldc);
void factorconv_dgemm(int trans_a, int trans_b, int m, int n, int k, double alpha, const double *a, int lda,
                      const double *b, int ldb, double beta, double *c, int ldc);

/// Row-major LAPACKE wrappers; they return LAPACK's info (0 = success).
/// syevd: eigenvalues ascending in w, eigenvectors in the columns of a (jobz 'V', uplo 'U').
int factorconv_ssyevd(int n, float *a, float *w);
int factorconv_dsyevd(int n, double *a, double *w);
/// gesdd with jobz 'S': u is m×min(m,n), vt is min(m,n)×n.
int factorconv_sgesdd(int m, int n, float *a, float *s, float *u, float *vt);
int factorconv_dgesdd(int m, int n, double *a, double *s, double *u, double *vt);
/// posv (uplo 'U') and gesv solve A X = B for n×n A and n×nrhs B (overwritten by X).
int factorconv_sposv(int n, int nrhs, float *a, float *b);
int factorconv_dposv(int n, int nrhs, double *a, double *b);
int factorconv_sgesv(int n, int nrhs, float *a, float *b, int *pivots);
int factorconv_dgesv(int n, int nrhs, double *a, double *b, int *pivots);

#endif

// Pass-throughs with the standard CBLAS / LAPACKE signatures, for code that needs a layout,
// side or triangle choice the wrappers above do not offer. Constants below are the standard ones.
#define FCB_ROW_MAJOR 101
#define FCB_COL_MAJOR 102
#define FCB_NO_TRANS 111
#define FCB_TRANS 112
#define FCB_UPPER 121
#define FCB_LOWER 122
#define FCB_NON_UNIT 131
#define FCB_UNIT 132
#define FCB_LEFT 141
#define FCB_RIGHT 142
void fcb_cblas_dtrsm(int order, int side, int uplo, int trans_a, int diag, int m, int n, double alpha,
                     const double *a, int lda, double *b, int ldb);
int fcb_LAPACKE_dpotrf(int layout, char uplo, int n, double *a, int lda);
int fcb_LAPACKE_dsyevd(int layout, char jobz, char uplo, int n, double *a, int lda, double *w);
/// Selected eigenpairs (range 'I': indices il..iu, 1-based, ascending) of a symmetric matrix.
int fcb_LAPACKE_dsyevr(int layout, char jobz, char range, char uplo, int n, double *a, int lda, double vl, double vu,
                       int il, int iu, double abstol, int *m, double *w, double *z, int ldz, int *isuppz);
/// C = alpha op(A) op(A)ᵀ + beta C on one triangle (half the flops of the GEMM).
void fcb_cblas_dsyrk(int order, int uplo, int trans, int n, int k, double alpha, const double *a, int lda, double beta,
                     double *c, int ldc);
/// y = alpha A x + beta y for symmetric A (one triangle read), and y = alpha op(A) x + beta y.
void fcb_cblas_dsymv(int order, int uplo, int n, double alpha, const double *a, int lda, const double *x, int incx,
                     double beta, double *y, int incy);
void fcb_cblas_dgemv(int order, int trans, int m, int n, double alpha, const double *a, int lda, const double *x,
                     int incx, double beta, double *y, int incy);
/// The three steps of dsyevd with caller-owned workspace, so that only k of the n eigenvectors are
/// back-transformed: tridiagonal reduction, its divide-and-conquer eigensystem, Q times selected columns.
int fcb_LAPACKE_dsytrd_work(int layout, char uplo, int n, double *a, int lda, double *d, double *e, double *tau,
                            double *work, int lwork);
int fcb_LAPACKE_dstedc_work(int layout, char compz, int n, double *d, double *e, double *z, int ldz, double *work,
                            int lwork, int *iwork, int liwork);
int fcb_LAPACKE_dormtr_work(int layout, char side, char uplo, char trans, int m, int n, const double *a, int lda,
                            const double *tau, double *c, int ldc, double *work, int lwork);
int fcb_LAPACKE_dgesdd(int layout, char jobz, int m, int n, double *a, int lda, double *s, double *u, int ldu,
                       double *vt, int ldvt);
int fcb_LAPACKE_dgesv(int layout, int n, int nrhs, double *a, int lda, int *ipiv, double *b, int ldb);
