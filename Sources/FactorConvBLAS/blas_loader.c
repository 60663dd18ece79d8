#define _GNU_SOURCE
#include "factorconv_blas.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "factorconv_fork_gate.h"

// CBLAS / LAPACKE constants (their values are fixed by the CBLAS and LAPACKE standards).
enum { ROW_MAJOR = 101, NO_TRANS = 111, TRANS = 112 };

typedef void (*gemm_s_fn)(int, int, int, int, int, int, float, const float *, int, const float *, int, float,
                          float *, int);
typedef void (*gemm_d_fn)(int, int, int, int, int, int, double, const double *, int, const double *, int,
                          double, double *, int);
typedef int (*syevd_s_fn)(int, char, char, int, float *, int, float *);
typedef int (*syevd_d_fn)(int, char, char, int, double *, int, double *);
typedef int (*gesdd_s_fn)(int, char, int, int, float *, int, float *, float *, int, float *, int);
typedef int (*gesdd_d_fn)(int, char, int, int, double *, int, double *, double *, int, double *, int);
typedef int (*posv_s_fn)(int, char, int, int, float *, int, float *, int);
typedef int (*posv_d_fn)(int, char, int, int, double *, int, double *, int);
typedef int (*gesv_s_fn)(int, int, int, float *, int, int *, float *, int);
typedef int (*gesv_d_fn)(int, int, int, double *, int, int *, double *, int);
typedef void (*trsm_d_fn)(int, int, int, int, int, int, int, double, const double *, int, double *, int);
typedef int (*potrf_d_fn)(int, char, int, double *, int);
typedef int (*syevr_d_fn)(int, char, char, char, int, double *, int, double, double, int, int, double, int *, double *,
                          double *, int, int *);
typedef void (*syrk_d_fn)(int, int, int, int, int, double, const double *, int, double, double *, int);
typedef int (*sytrd_work_d_fn)(int, char, int, double *, int, double *, double *, double *, double *, int);
typedef int (*stedc_work_d_fn)(int, char, int, double *, double *, double *, int, double *, int, int *, int);
typedef int (*ormtr_work_d_fn)(int, char, char, char, int, int, const double *, int, const double *, double *, int,
                               double *, int);
typedef void (*symv_d_fn)(int, int, int, double, const double *, int, const double *, int, double, double *, int);
typedef void (*gemv_d_fn)(int, int, int, int, double, const double *, int, const double *, int, double, double *, int);
typedef void (*set_threads_fn)(int);
typedef char *(*corename_fn)(void);

static struct {
    gemm_s_fn sgemm;
    gemm_d_fn dgemm;
    syevd_s_fn ssyevd;
    syevd_d_fn dsyevd;
    gesdd_s_fn sgesdd;
    gesdd_d_fn dgesdd;
    posv_s_fn sposv;
    posv_d_fn dposv;
    gesv_s_fn sgesv;
    gesv_d_fn dgesv;
    trsm_d_fn dtrsm;
    potrf_d_fn dpotrf;
    syevr_d_fn dsyevr;
    syrk_d_fn dsyrk;
    sytrd_work_d_fn dsytrd_work;
    stedc_work_d_fn dstedc_work;
    ormtr_work_d_fn dormtr_work;
    symv_d_fn dsymv;
    gemv_d_fn dgemv;
    corename_fn corename;
} api;

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static int load_status = -1;
static char load_error[512];

// The OpenBLAS kernel family for this CPU's features, used only when OPENBLAS_CORETYPE is unset.
static const char *kernel_for_cpu(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq"))
        return "SkylakeX";
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
#endif
    return NULL;
}

static void *open_first(const char *const *names) {
    for (; *names; names++) {
        void *h = dlopen(*names, RTLD_NOW | RTLD_GLOBAL);
        if (h) return h;
    }
    return NULL;
}

// The symbol prefix of the loaded libraries: "" for a plain OpenBLAS, "scipy_" for the
// scipy-openblas32 wheel's build (which renames every symbol so that it cannot clash with another
// OpenBLAS in the process).
static char prefix[16];

static void *symbol(void *handle, const char *name) {
    char full[96];
    snprintf(full, sizeof full, "%s%s", prefix, name);
    void *p = dlsym(handle, full);
    if (!p && load_error[0] == '\0')
        snprintf(load_error, sizeof load_error, "BLAS/LAPACK symbol %s not found", full);
    return p;
}

// The prefix of an OpenBLAS library's symbols ("scipy_" or ""), or NULL if it has no cblas_sgemm.
static const char *prefix_of(void *handle) {
    if (dlsym(handle, "scipy_cblas_sgemm")) return "scipy_";
    if (dlsym(handle, "cblas_sgemm")) return "";
    return NULL;
}

// Opens `path` as an OpenBLAS library whose LAPACKE is in the same file (an explicit
// $FACTORCONV_BLAS, or scipy-openblas32's); NULL with load_error set if it is not one.
static void *open_combined(const char *path, const char *what) {
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        snprintf(load_error, sizeof load_error, "cannot load %s %s: %s", what, path, dlerror());
        return NULL;
    }
    const char *p = prefix_of(h);
    char lapacke_probe[64];
    snprintf(lapacke_probe, sizeof lapacke_probe, "%sLAPACKE_dgesdd", p ? p : "");
    if (!p || !dlsym(h, lapacke_probe)) {
        snprintf(load_error, sizeof load_error, "%s %s has no CBLAS and LAPACKE functions (cblas_sgemm, LAPACKE_dgesdd)",
                 what, path);
        dlclose(h);
        return NULL;
    }
    snprintf(prefix, sizeof prefix, "%s", p);
    return h;
}

// scipy-openblas32's library where pip puts it beside this library's package: a wheel installs
// <site-packages>/factorconv/libfactorconv.so, and its dependency scipy-openblas32 installs
// <site-packages>/scipy_openblas32/lib/libscipy_openblas.so. Writes the path into `path` and
// returns 1 if that file exists.
static int beside_scipy_openblas(char *path, size_t size) {
    Dl_info info;
    if (!dladdr((void *)&beside_scipy_openblas, &info) || !info.dli_fname) return 0;
    const char *slash = strrchr(info.dli_fname, '/');
    if (!slash) return 0;
    int n = snprintf(path, size, "%.*s/../scipy_openblas32/lib/libscipy_openblas.so", (int)(slash - info.dli_fname),
                     info.dli_fname);
    return n > 0 && (size_t)n < size && access(path, R_OK) == 0;
}

// Finds OpenBLAS and LAPACKE, in this order:
//   1. $FACTORCONV_BLAS, when set: one library with both (plain or scipy_ names); nothing else
//      is tried, so a wrong path is an error, not a silent fallback;
//   2. scipy-openblas32 beside this library (the Python wheel, which declares it as a
//      dependency: OpenBLAS 0.3.34 with run-time kernel selection and LAPACKE built in);
//   3. the system's libopenblas.so.0 and liblapacke.so.3 (C and Swift users: Debian's
//      libopenblas0 and liblapacke). Debian's OpenBLAS 0.3.21 does not recognise recent CPUs
//      and falls back to SSE3 kernels, so OPENBLAS_CORETYPE is set from the CPU's features
//      first (only when the user has not set it).
// Returns 0 with *blas and *lapacke set, or -1 with load_error set.
static int open_libraries(void **blas, void **lapacke) {
    const char *explicit_path = getenv("FACTORCONV_BLAS");
    if (explicit_path && explicit_path[0]) {
        *blas = *lapacke = open_combined(explicit_path, "$FACTORCONV_BLAS");
        return *blas ? 0 : -1;
    }
    char beside[4096];
    if (beside_scipy_openblas(beside, sizeof beside)) {
        *blas = *lapacke = open_combined(beside, "scipy-openblas32's library");
        return *blas ? 0 : -1;
    }
    const char *kernel = kernel_for_cpu();
    if (kernel && getenv("OPENBLAS_CORETYPE") == NULL) setenv("OPENBLAS_CORETYPE", kernel, 0);
    static const char *const blas_names[] = {"libopenblas.so.0", "libopenblas.so", NULL};
    static const char *const lapacke_names[] = {"liblapacke.so.3", "liblapacke.so", NULL};
    *blas = open_first(blas_names);
    if (!*blas) {
        snprintf(load_error, sizeof load_error,
                 "cannot load OpenBLAS (libopenblas.so.0): %s; install it with apt-get install libopenblas0 liblapacke, "
                 "or pip install scipy-openblas32 and set FACTORCONV_BLAS to its lib/libscipy_openblas.so",
                 dlerror());
        return -1;
    }
    *lapacke = open_first(lapacke_names);
    if (!*lapacke) {
        snprintf(load_error, sizeof load_error,
                 "cannot load LAPACKE (liblapacke.so.3): %s; install it with apt-get install liblapacke", dlerror());
        return -1;
    }
    prefix[0] = '\0';
    return 0;
}

static void load(void) {
    // FactorConv calls OpenBLAS from its own workers, one thread each: without this, OpenBLAS
    // starts a pool of server threads at load that spin in sched_yield, taking CPU time from
    // our own workers.
    if (getenv("OPENBLAS_NUM_THREADS") == NULL) setenv("OPENBLAS_NUM_THREADS", "1", 0);
    void *blas = NULL, *lapacke = NULL;
    if (open_libraries(&blas, &lapacke) != 0) return;
    set_threads_fn set_threads = (set_threads_fn)symbol(blas, "openblas_set_num_threads");
    api.corename = (corename_fn)symbol(blas, "openblas_get_corename");
    api.sgemm = (gemm_s_fn)symbol(blas, "cblas_sgemm");
    api.dgemm = (gemm_d_fn)symbol(blas, "cblas_dgemm");
    api.dtrsm = (trsm_d_fn)symbol(blas, "cblas_dtrsm");
    api.dpotrf = (potrf_d_fn)symbol(lapacke, "LAPACKE_dpotrf");
    api.dsyevr = (syevr_d_fn)symbol(lapacke, "LAPACKE_dsyevr");
    api.dsyrk = (syrk_d_fn)symbol(blas, "cblas_dsyrk");
    api.dsymv = (symv_d_fn)symbol(blas, "cblas_dsymv");
    api.dgemv = (gemv_d_fn)symbol(blas, "cblas_dgemv");
    api.dsytrd_work = (sytrd_work_d_fn)symbol(lapacke, "LAPACKE_dsytrd_work");
    api.dstedc_work = (stedc_work_d_fn)symbol(lapacke, "LAPACKE_dstedc_work");
    api.dormtr_work = (ormtr_work_d_fn)symbol(lapacke, "LAPACKE_dormtr_work");
    api.ssyevd = (syevd_s_fn)symbol(lapacke, "LAPACKE_ssyevd");
    api.dsyevd = (syevd_d_fn)symbol(lapacke, "LAPACKE_dsyevd");
    api.sgesdd = (gesdd_s_fn)symbol(lapacke, "LAPACKE_sgesdd");
    api.dgesdd = (gesdd_d_fn)symbol(lapacke, "LAPACKE_dgesdd");
    api.sposv = (posv_s_fn)symbol(lapacke, "LAPACKE_sposv");
    api.dposv = (posv_d_fn)symbol(lapacke, "LAPACKE_dposv");
    api.sgesv = (gesv_s_fn)symbol(lapacke, "LAPACKE_sgesv");
    api.dgesv = (gesv_d_fn)symbol(lapacke, "LAPACKE_dgesv");
    if (load_error[0] != '\0') return;
    // FactorConv parallelizes itself; OpenBLAS runs single-threaded inside each worker.
    set_threads(1);
    load_status = 0;
}

int factorconv_blas_load(char *error, size_t error_size) {
    pthread_once(&load_once, load);
    if (load_status != 0 && error && error_size > 0) snprintf(error, error_size, "%s", load_error);
    return load_status;
}

const char *factorconv_blas_corename(void) {
    return (load_status == 0 && api.corename) ? api.corename() : "";
}

static int transpose(int t) { return t ? TRANS : NO_TRANS; }

// Every wrapper loads on first use, so a caller that skipped factorconv_blas_load() gets a
// no-op (GEMM) or an error code (LAPACK, -1000) instead of a call through a NULL pointer.
static int ready(void) {
    pthread_once(&load_once, load);
    return load_status == 0;
}
enum { NOT_LOADED = -1000 };

// Every call into OpenBLAS runs inside a fork-gate section (factorconv_fork_gate.h). OpenBLAS
// keeps process-wide locks of its own (its buffer allocator's), which a fork() during a call
// would copy into the child locked for good: the child's next BLAS call hung. The gate makes
// fork() wait for the calls in progress instead.
#define GATED(call) __extension__({ fcgate_enter(); __typeof__(call) gated_result_ = (call); fcgate_leave(); gated_result_; })
#define GATED_VOID(call) do { fcgate_enter(); call; fcgate_leave(); } while (0)

void factorconv_sgemm(int ta, int tb, int m, int n, int k, float alpha, const float *a, int lda, const float *b,
                      int ldb, float beta, float *c, int ldc) {
    if (ready()) GATED_VOID(api.sgemm(ROW_MAJOR, transpose(ta), transpose(tb), m, n, k, alpha, a, lda, b, ldb, beta, c, ldc));
}

void factorconv_dgemm(int ta, int tb, int m, int n, int k, double alpha, const double *a, int lda, const double *b,
                      int ldb, double beta, double *c, int ldc) {
    if (ready()) GATED_VOID(api.dgemm(ROW_MAJOR, transpose(ta), transpose(tb), m, n, k, alpha, a, lda, b, ldb, beta, c, ldc));
}

int factorconv_ssyevd(int n, float *a, float *w) { return ready() ? GATED(api.ssyevd(ROW_MAJOR, 'V', 'U', n, a, n, w)) : NOT_LOADED; }
int factorconv_dsyevd(int n, double *a, double *w) { return ready() ? GATED(api.dsyevd(ROW_MAJOR, 'V', 'U', n, a, n, w)) : NOT_LOADED; }

static int min_int(int a, int b) { return a < b ? a : b; }

int factorconv_sgesdd(int m, int n, float *a, float *s, float *u, float *vt) {
    return ready() ? GATED(api.sgesdd(ROW_MAJOR, 'S', m, n, a, n, s, u, min_int(m, n), vt, n)) : NOT_LOADED;
}
int factorconv_dgesdd(int m, int n, double *a, double *s, double *u, double *vt) {
    return ready() ? GATED(api.dgesdd(ROW_MAJOR, 'S', m, n, a, n, s, u, min_int(m, n), vt, n)) : NOT_LOADED;
}
int factorconv_sposv(int n, int nrhs, float *a, float *b) { return ready() ? GATED(api.sposv(ROW_MAJOR, 'U', n, nrhs, a, n, b, nrhs)) : NOT_LOADED; }
int factorconv_dposv(int n, int nrhs, double *a, double *b) { return ready() ? GATED(api.dposv(ROW_MAJOR, 'U', n, nrhs, a, n, b, nrhs)) : NOT_LOADED; }
int factorconv_sgesv(int n, int nrhs, float *a, float *b, int *pivots) {
    return ready() ? GATED(api.sgesv(ROW_MAJOR, n, nrhs, a, n, pivots, b, nrhs)) : NOT_LOADED;
}
int factorconv_dgesv(int n, int nrhs, double *a, double *b, int *pivots) {
    return ready() ? GATED(api.dgesv(ROW_MAJOR, n, nrhs, a, n, pivots, b, nrhs)) : NOT_LOADED;
}

void fcb_cblas_dtrsm(int order, int side, int uplo, int trans_a, int diag, int m, int n, double alpha,
                     const double *a, int lda, double *b, int ldb) {
    if (ready()) GATED_VOID(api.dtrsm(order, side, uplo, trans_a, diag, m, n, alpha, a, lda, b, ldb));
}
int fcb_LAPACKE_dpotrf(int layout, char uplo, int n, double *a, int lda) {
    return ready() ? GATED(api.dpotrf(layout, uplo, n, a, lda)) : NOT_LOADED;
}
int fcb_LAPACKE_dsyevd(int layout, char jobz, char uplo, int n, double *a, int lda, double *w) {
    return ready() ? GATED(api.dsyevd(layout, jobz, uplo, n, a, lda, w)) : NOT_LOADED;
}
int fcb_LAPACKE_dgesdd(int layout, char jobz, int m, int n, double *a, int lda, double *s, double *u, int ldu,
                       double *vt, int ldvt) {
    return ready() ? GATED(api.dgesdd(layout, jobz, m, n, a, lda, s, u, ldu, vt, ldvt)) : NOT_LOADED;
}
int fcb_LAPACKE_dgesv(int layout, int n, int nrhs, double *a, int lda, int *ipiv, double *b, int ldb) {
    return ready() ? GATED(api.dgesv(layout, n, nrhs, a, lda, ipiv, b, ldb)) : NOT_LOADED;
}
int fcb_LAPACKE_dsyevr(int layout, char jobz, char range, char uplo, int n, double *a, int lda, double vl, double vu,
                       int il, int iu, double abstol, int *m, double *w, double *z, int ldz, int *isuppz) {
    return ready() ? GATED(api.dsyevr(layout, jobz, range, uplo, n, a, lda, vl, vu, il, iu, abstol, m, w, z, ldz, isuppz)) : NOT_LOADED;
}
void fcb_cblas_dsyrk(int order, int uplo, int trans, int n, int k, double alpha, const double *a, int lda, double beta,
                     double *c, int ldc) {
    if (ready()) GATED_VOID(api.dsyrk(order, uplo, trans, n, k, alpha, a, lda, beta, c, ldc));
}
int fcb_LAPACKE_dsytrd_work(int layout, char uplo, int n, double *a, int lda, double *d, double *e, double *tau,
                            double *work, int lwork) {
    return ready() ? GATED(api.dsytrd_work(layout, uplo, n, a, lda, d, e, tau, work, lwork)) : NOT_LOADED;
}
int fcb_LAPACKE_dstedc_work(int layout, char compz, int n, double *d, double *e, double *z, int ldz, double *work,
                            int lwork, int *iwork, int liwork) {
    return ready() ? GATED(api.dstedc_work(layout, compz, n, d, e, z, ldz, work, lwork, iwork, liwork)) : NOT_LOADED;
}
int fcb_LAPACKE_dormtr_work(int layout, char side, char uplo, char trans, int m, int n, const double *a, int lda,
                            const double *tau, double *c, int ldc, double *work, int lwork) {
    return ready() ? GATED(api.dormtr_work(layout, side, uplo, trans, m, n, a, lda, tau, c, ldc, work, lwork)) : NOT_LOADED;
}
void fcb_cblas_dsymv(int order, int uplo, int n, double alpha, const double *a, int lda, const double *x, int incx,
                     double beta, double *y, int incy) {
    if (ready()) GATED_VOID(api.dsymv(order, uplo, n, alpha, a, lda, x, incx, beta, y, incy));
}
void fcb_cblas_dgemv(int order, int trans, int m, int n, double alpha, const double *a, int lda, const double *x,
                     int incx, double beta, double *y, int incy) {
    if (ready()) GATED_VOID(api.dgemv(order, trans, m, n, alpha, a, lda, x, incx, beta, y, incy));
}
