/*
 * test_limits.c — the memory bound (fconv_set_memory_limit / FACTORCONV_MAX_BYTES) from C.
 *
 * With a 1 MiB bound, every request bigger than that — a layer, a layer grid, a rank, a dense
 * kernel given to from_conv / from_conv_list, parameters given to set_parameters, a
 * reconstructed kernel, a forward's input/output/workspace, a file to load — must fail with
 * FCONV_ERR_OUT_OF_MEMORY and a message, before allocating: the resident set (VmRSS) may not
 * grow by more than a few MiB across the refused call.
 *
 * The oversized kernels and parameters are 4 GiB PROT_NONE mappings: the library must refuse
 * them from their shape alone — reading a single byte of one is a segfault (that was a bug:
 * from_conv and set_parameters copied the caller's data before checking the bound).
 * Sizes beyond the 32-bit ints of the kernels and BLAS are refused the same way, as invalid
 * arguments, whatever the bound.
 *
 * Numerics and memory: a finite input whose output overflows float32 is FCONV_ERR_NUMERICAL
 * (unless fconv_set_output_check(0)); output_shape refuses an output beyond the bound; a batch
 * of 0 gives an empty output; a batch-1 forward that fits the bound at 1 thread fits at 64;
 * fconv_release_memory returns the workspace pool to the system (RSS drops; not measured under
 * valgrind or ASan, whose allocators keep freed memory). Exits 1 if any check fails.
 */
#define _DEFAULT_SOURCE
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "factorconv.h"
#include "proc_status.h"

static int failures = 0, checks = 0;

/* Checks that `call` returns FCONV_ERR_OUT_OF_MEMORY with a message and grows RSS < 8 MiB. */
#define EXPECT_OOM(call)                                                                     \
    do {                                                                                     \
        long before_ = proc_status_kib("VmRSS:");                                                    \
        fconv_status s_ = (call);                                                            \
        long grown_ = proc_status_kib("VmRSS:") - before_;                                           \
        const char *m_ = fconv_last_error_message();                                         \
        checks++;                                                                            \
        if (s_ != FCONV_ERR_OUT_OF_MEMORY || m_[0] == '\0' || grown_ > 8 * 1024) {           \
            fprintf(stderr, "FAIL %s:%d: %s\n  returned %s (\"%s\"), RSS grew %ld KiB\n",    \
                    __FILE__, __LINE__, #call, fconv_status_string(s_), m_, grown_);         \
            failures++;                                                                      \
        } else {                                                                             \
            printf("  ok  %-60.60s -> OOM, RSS +%ld KiB\n", #call, grown_);                  \
        }                                                                                    \
    } while (0)

#define EXPECT_OK(call)                                                                      \
    do {                                                                                     \
        fconv_status s_ = (call);                                                            \
        checks++;                                                                            \
        if (s_ != FCONV_OK) {                                                                \
            fprintf(stderr, "FAIL %s:%d: %s returned %s (\"%s\")\n", __FILE__, __LINE__,    \
                    #call, fconv_status_string(s_), fconv_last_error_message());             \
            failures++;                                                                      \
        }                                                                                    \
    } while (0)

#define EXPECT_TRUE(cond)                                                                    \
    do {                                                                                     \
        checks++;                                                                            \
        if (!(cond)) {                                                                       \
            fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);                  \
            failures++;                                                                      \
        }                                                                                    \
    } while (0)

/* Checks that `call` returns `status` with a message. */
#define EXPECT_STATUS(call, status)                                                          \
    do {                                                                                     \
        fconv_status s_ = (call);                                                            \
        const char *m_ = fconv_last_error_message();                                         \
        checks++;                                                                            \
        if (s_ != (status) || m_[0] == '\0') {                                               \
            fprintf(stderr, "FAIL %s:%d: %s\n  returned %s (\"%s\")\n", __FILE__, __LINE__,   \
                    #call, fconv_status_string(s_), m_);                                     \
            failures++;                                                                      \
        } else {                                                                             \
            printf("  ok  %-60.60s -> %s: %s\n", #call, fconv_status_string(s_), m_);        \
        }                                                                                    \
    } while (0)

enum { MIB = 1 << 20 };

/* The bytes a refusal's message says a call "needs" ("needs 61.53 MiB ..."), or -1. */
static double needed_bytes(const char *message) {
    const char *p = strstr(message, "needs ");
    double value;
    char unit[8];
    if (!p || sscanf(p + 6, "%lf %7s", &value, unit) != 2) return -1;
    if (strcmp(unit, "KiB") == 0) return value * 1024;
    if (strcmp(unit, "MiB") == 0) return value * 1024 * 1024;
    if (strcmp(unit, "GiB") == 0) return value * 1024 * 1024 * 1024;
    return value;
}

/* Whether freed memory may stay resident for reasons outside the library: valgrind's and ASan's
   allocators keep freed blocks (to catch uses after free). */
static int allocator_keeps_freed_memory(void) {
#if defined(__SANITIZE_ADDRESS__)
    return 1;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
    return 1;
#endif
#endif
    return getenv("LD_PRELOAD") != NULL && strstr(getenv("LD_PRELOAD"), "vgpreload") != NULL;
}

/* Numerics and memory (see the top of the file). */
static void numerics_and_memory(void) {
    const int64_t k3[2] = {3, 3}, k1[2] = {1, 1};
    fconv_options *o = NULL;
    fconv_conv *c = NULL;
    EXPECT_OK(fconv_set_memory_limit(0));

    /* Overflow: a 16 -> 16 3x3 kernel of ones (rank 1), an input of 1e38. */
    {
        enum { C = 16, H = 8, W = 9, N = C * H * W };
        const int64_t xs[4] = {2, C, H, W}, ws[4] = {C, C, 3, 3}, pad[2] = {1, 1};
        static float w[C * C * 9], x[2 * N], y[2 * N];
        size_t i;
        int nonfinite = 0;
        for (i = 0; i < C * C * 9; i++) w[i] = 1.0f;
        for (i = 0; i < 2 * N; i++) x[i] = 1e38f;
        /* A CP layer of rank 1 whose weight and factors are all ones reconstructs that kernel. */
        const char *names[5] = {"weight.weights", "weight.factors.factor_0", "weight.factors.factor_1",
                                "weight.factors.factor_2", "weight.factors.factor_3"};
        const int64_t s1[1] = {1}, sc[2] = {C, 1}, sk[2] = {3, 1};
        const int64_t *shapes[5] = {s1, sc, sc, sk, sk};
        const size_t ndims[5] = {1, 2, 2, 2, 2};
        const float *values[5] = {w, w, w, w, w};
        EXPECT_OK(fconv_options_create(&o));
        EXPECT_OK(fconv_options_set_int(o, "rank", 1));
        EXPECT_OK(fconv_options_set_int(o, "padding", 1));
        EXPECT_OK(fconv_conv_create(C, C, k3, 2, o, &c));
        fconv_options_free(o);
        EXPECT_OK(fconv_conv_set_parameters(c, 5, names, values, shapes, ndims, 1));
        EXPECT_TRUE(fconv_get_output_check() == 1);
        EXPECT_STATUS(fconv_conv_forward(c, x, xs, 4, NULL, 0, y, 2 * N), FCONV_ERR_NUMERICAL);
        EXPECT_TRUE(strstr(fconv_last_error_message(), "overflowed") != NULL);
        EXPECT_STATUS(fconv_dense_conv_forward(x, xs, 4, w, ws, 4, NULL, NULL, pad, NULL, 2, y, 2 * N), FCONV_ERR_NUMERICAL);
        EXPECT_TRUE(strstr(fconv_last_error_message(), "overflowed") != NULL);
        EXPECT_STATUS(fconv_set_output_check(-1), FCONV_ERR_INVALID_ARGUMENT);
        EXPECT_OK(fconv_set_output_check(0));
        EXPECT_TRUE(fconv_get_output_check() == 0);
        EXPECT_OK(fconv_conv_forward(c, x, xs, 4, NULL, 0, y, 2 * N));
        for (i = 0; i < 2 * N; i++) nonfinite += !isfinite(y[i]);
        EXPECT_TRUE(nonfinite == 2 * N);
        EXPECT_OK(fconv_dense_conv_forward(x, xs, 4, w, ws, 4, NULL, NULL, pad, NULL, 2, y, 2 * N));
        EXPECT_OK(fconv_set_output_check(1));
        /* Finite outputs near the top of the range pass. */
        for (i = 0; i < 2 * N; i++) x[i] = 1e36f;
        EXPECT_OK(fconv_conv_forward(c, x, xs, 4, NULL, 0, y, 2 * N));
        EXPECT_TRUE(isfinite(y[0]) && y[0] > 1e37f);
        x[5] = NAN;  /* still named as the input's fault */
        EXPECT_STATUS(fconv_conv_forward(c, x, xs, 4, NULL, 0, y, 2 * N), FCONV_ERR_NUMERICAL);
        EXPECT_TRUE(strstr(fconv_last_error_message(), "input") != NULL);
        EXPECT_STATUS(fconv_dense_conv_forward(x, xs, 4, w, ws, 4, NULL, NULL, pad, NULL, 2, y, 2 * N), FCONV_ERR_NUMERICAL);
        EXPECT_TRUE(strstr(fconv_last_error_message(), "input") != NULL);

        /* A batch of 0: an empty output, nothing read or written. */
        {
            const int64_t empty[4] = {0, C, H, W};
            int64_t shape[4] = {-1, -1, -1, -1};
            y[0] = 42.0f;
            EXPECT_OK(fconv_conv_output_shape(c, empty, 4, NULL, 0, shape, 4));
            EXPECT_TRUE(shape[0] == 0 && shape[1] == C && shape[2] == H && shape[3] == W);
            EXPECT_OK(fconv_conv_forward(c, x, empty, 4, NULL, 0, y, 0));
            EXPECT_OK(fconv_dense_conv_output_shape(empty, 4, ws, 4, NULL, pad, NULL, 2, shape, 4));
            EXPECT_TRUE(shape[0] == 0 && shape[1] == C);
            EXPECT_OK(fconv_dense_conv_forward(x, empty, 4, w, ws, 4, NULL, NULL, pad, NULL, 2, y, 0));
            EXPECT_TRUE(y[0] == 42.0f);
        }
        fconv_conv_free(c);
        c = NULL;
    }

    /* output_shape refuses an output beyond the bound (16 MiB under 1 MiB) before the caller
       allocates it. */
    {
        const int64_t xs[4] = {1, 1, 2048, 2048}, ws[4] = {1, 1, 1, 1};
        int64_t shape[4];
        EXPECT_OK(fconv_options_create(&o));
        EXPECT_OK(fconv_options_set_int(o, "rank", 1));
        EXPECT_OK(fconv_conv_create(1, 1, k1, 2, o, &c));
        fconv_options_free(o);
        EXPECT_OK(fconv_set_memory_limit(MIB));
        EXPECT_OOM(fconv_conv_output_shape(c, xs, 4, NULL, 0, shape, 4));
        EXPECT_OOM(fconv_dense_conv_output_shape(xs, 4, ws, 4, NULL, NULL, NULL, 2, shape, 4));
        EXPECT_OK(fconv_set_memory_limit(0));
        fconv_conv_free(c);
        c = NULL;
    }

    /* A batch-1 forward that fits at 1 thread fits at 64: the estimate counts the workers that
       run. The bound is set 1% above the 1-thread estimate, read from a refusal's message. */
    {
        const int64_t xs[4] = {1, 64, 64, 64};
        const size_t n = (size_t)64 * 64 * 64;
        float *x = (float *)malloc(n * sizeof(float)), *y = (float *)malloc(n * sizeof(float));
        double needs;
        size_t i;
        for (i = 0; i < n; i++) x[i] = (float)(i % 17) / 17.0f - 0.5f;
        EXPECT_OK(fconv_options_create(&o));
        EXPECT_OK(fconv_options_set_float(o, "rank", 0.1));
        EXPECT_OK(fconv_options_set_int(o, "padding", 1));
        EXPECT_OK(fconv_conv_create(64, 64, k3, 2, o, &c));
        fconv_options_free(o);
        EXPECT_OK(fconv_set_num_threads(1));
        EXPECT_OK(fconv_conv_forward(c, x, xs, 4, NULL, 0, y, n));
        EXPECT_OK(fconv_set_memory_limit(n * sizeof(float) + 1)); /* the output fits, the rest not */
        EXPECT_STATUS(fconv_conv_forward(c, x, xs, 4, NULL, 0, y, n), FCONV_ERR_OUT_OF_MEMORY);
        needs = needed_bytes(fconv_last_error_message());
        EXPECT_TRUE(needs > (double)(n * sizeof(float)));
        EXPECT_OK(fconv_set_memory_limit((uint64_t)(needs * 1.01) + 4096));
        EXPECT_OK(fconv_conv_forward(c, x, xs, 4, NULL, 0, y, n));
        EXPECT_OK(fconv_set_num_threads(64));
        EXPECT_OK(fconv_conv_forward(c, x, xs, 4, NULL, 0, y, n));
        EXPECT_OK(fconv_set_num_threads(0));
        EXPECT_OK(fconv_set_memory_limit(0));
        fconv_conv_free(c);
        c = NULL;
        free(x);
        free(y);
    }

    /* fconv_release_memory: a Tucker 'same' forward on 1 x 16 x 1024 x 1024 keeps its 64 MiB
       intermediates in the pool; releasing them lowers the resident set. (Where that cannot be
       measured, a small image: the calls still run under the checker.) */
    {
        const int64_t side = allocator_keeps_freed_memory() ? 64 : 1024, xs[4] = {1, 16, side, side};
        const size_t n = (size_t)(16 * side * side);
        float *x = (float *)malloc(n * sizeof(float)), *y = (float *)malloc(n * sizeof(float));
        long before, held, after;
        memset(x, 0, n * sizeof(float)); /* both resident before measuring */
        memset(y, 0, n * sizeof(float));
        EXPECT_OK(fconv_options_create(&o));
        EXPECT_OK(fconv_options_set_string(o, "factorization", "tucker"));
        EXPECT_OK(fconv_options_set_int(o, "padding", 1));
        EXPECT_OK(fconv_conv_create(16, 16, k3, 2, o, &c));
        fconv_options_free(o);
        /* A first forward: OpenBLAS keeps a packing buffer per thread that calls it, which is
           not the library's to release. */
        EXPECT_OK(fconv_conv_forward(c, x, xs, 4, NULL, 0, y, n));
        fconv_release_memory();
        before = proc_status_kib("VmRSS:");
        EXPECT_OK(fconv_conv_forward(c, x, xs, 4, NULL, 0, y, n));
        held = proc_status_kib("VmRSS:") - before;
        fconv_release_memory();
        after = proc_status_kib("VmRSS:") - before;
        if (allocator_keeps_freed_memory()) {
            printf("  (RSS after fconv_release_memory not checked: this allocator keeps freed memory)\n");
        } else {
            printf("  fconv_release_memory: RSS +%ld KiB held after the forward, +%ld KiB after release\n", held, after);
            EXPECT_TRUE(held > 64 * 1024);      /* KiB: the forward kept its workspace */
            EXPECT_TRUE(after < held / 4);
        }
        fconv_release_memory(); /* nothing left: a no-op */
        fconv_conv_free(c);
        c = NULL;
        free(x);
        free(y);
    }
}

/* A 4 GiB region that faults on any access (reserved, never committed). */
static void *untouchable(size_t bytes) {
    void *p = mmap(NULL, bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

int main(void) {
    const size_t huge = (size_t)4 << 30;
    float *never = (float *)untouchable(huge);
    fconv_options *o = NULL;
    fconv_conv *c = NULL, *small = NULL;
    const int64_t k3[2] = {3, 3}, k1[2] = {1, 1};
    char path[256];
    EXPECT_TRUE(never != NULL);
    if (!never) return 1;

    /* Warm the library up (thread pool, BLAS) so RSS deltas measure the calls themselves. */
    EXPECT_OK(fconv_conv_create(4, 4, k3, 2, NULL, &small));
    {
        int64_t xs[4] = {1, 4, 8, 8};
        float x[256] = {0}, y[256];
        EXPECT_OK(fconv_conv_forward(small, x, xs, 4, NULL, 0, y, 256));
    }

    EXPECT_OK(fconv_set_memory_limit(MIB));
    EXPECT_TRUE(fconv_get_memory_limit() == MIB);
    printf("memory bound %d bytes:\n", MIB);

    /* Layers: a dense 512x512x3x3 kernel (9 MiB), a rank beyond the bound, a huge grid. */
    EXPECT_OK(fconv_options_create(&o));
    EXPECT_OK(fconv_options_set_string(o, "factorization", "dense"));
    EXPECT_OK(fconv_options_set_string(o, "implementation", "reconstructed"));
    EXPECT_OOM(fconv_conv_create(512, 512, k3, 2, o, &c));
    EXPECT_TRUE(c == NULL);
    fconv_options_free(o);
    EXPECT_OK(fconv_options_create(&o));
    EXPECT_OK(fconv_options_set_int(o, "rank", 100000));
    EXPECT_OOM(fconv_conv_create(8, 8, k3, 2, o, &c));
    fconv_options_free(o);
    EXPECT_OK(fconv_options_create(&o));
    EXPECT_OK(fconv_options_set_int(o, "n_layers", 1 << 20));
    EXPECT_OOM(fconv_conv_create(8, 8, k3, 2, o, &c));
    fconv_options_free(o);

    /* Kernels given by the caller: refused from the shape, the data is never read. */
    {
        const int64_t ws[4] = {1024, 1024, 32, 32}; /* 2^30 floats = 4 GiB */
        const float *list[2] = {never, never};
        EXPECT_OOM(fconv_conv_from_conv(never, ws, 4, NULL, NULL, &c));
        EXPECT_TRUE(c == NULL);
        EXPECT_OOM(fconv_conv_from_conv_list(2, list, ws, 4, NULL, NULL, NULL, NULL, NULL, &c));
        EXPECT_TRUE(c == NULL);
    }
    {
        /* Two 600 KiB kernels: each fits, the two copies together do not. */
        const int64_t ws[4] = {150, 128, 2, 4};
        size_t n = 150 * 128 * 2 * 4, i;
        float *w = (float *)malloc(n * sizeof(float));
        const float *list[2];
        for (i = 0; i < n; ++i) w[i] = (float)(i % 13) / 13.0f;
        list[0] = w;
        list[1] = w;
        EXPECT_OOM(fconv_conv_from_conv_list(2, list, ws, 4, NULL, NULL, NULL, NULL, NULL, &c));
        free(w);
    }
    /* Parameters given by the caller: a bias of 2^30 values (the layer must stay unchanged). */
    {
        const char *names[1] = {"weight.weights"};
        const float *values[1] = {never};
        const int64_t shape[1] = {(int64_t)1 << 30};
        const int64_t *shapes[1] = {shape};
        const size_t ndims[1] = {1};
        EXPECT_OOM(fconv_conv_set_parameters(small, 1, names, values, shapes, ndims, 0));
    }

    /* Derived data: a CP layer with few parameters whose dense kernel (2.3 MiB) is too big. */
    EXPECT_OK(fconv_set_memory_limit(0));
    EXPECT_OK(fconv_options_create(&o));
    EXPECT_OK(fconv_options_set_int(o, "rank", 4));
    EXPECT_OK(fconv_conv_create(256, 256, k3, 2, o, &c));
    fconv_options_free(o);
    EXPECT_OK(fconv_set_memory_limit(MIB));
    {
        float *k = (float *)malloc((size_t)256 * 256 * 9 * sizeof(float));
        int64_t xs[4] = {1, 256, 4, 4};
        float *x = (float *)calloc(256 * 16, sizeof(float)), *y = (float *)malloc(256 * 16 * sizeof(float));
        EXPECT_OOM(fconv_conv_reconstruct_kernel(c, NULL, 0, k, (size_t)256 * 256 * 9));
        EXPECT_OK(fconv_conv_forward(c, x, xs, 4, NULL, 0, y, 256 * 16)); /* factorized: fits */
        EXPECT_OK(fconv_conv_set_implementation(c, FCONV_IMPL_RECONSTRUCTED));
        EXPECT_OOM(fconv_conv_forward(c, x, xs, 4, NULL, 0, y, 256 * 16));
        free(k);
        free(x);
        free(y);
    }

    /* Forward inputs / outputs beyond the bound (a 1x1 conv on a 2048x2048 image: 16 MiB each). */
    {
        int64_t xs[4] = {1, 1, 2048, 2048}, ws[4] = {1, 1, 1, 1};
        size_t n = (size_t)2048 * 2048;
        float *x = (float *)calloc(n, sizeof(float)), *y = (float *)malloc(n * sizeof(float)), w = 1.0f;
        fconv_conv *one = NULL;
        memset(y, 0, n * sizeof(float)); /* resident before measuring */
        EXPECT_OK(fconv_set_memory_limit(0));
        EXPECT_OK(fconv_options_create(&o));
        EXPECT_OK(fconv_options_set_int(o, "rank", 1));
        EXPECT_OK(fconv_conv_create(1, 1, k1, 2, o, &one));
        fconv_options_free(o);
        EXPECT_OK(fconv_set_memory_limit(MIB));
        EXPECT_OOM(fconv_conv_forward(one, x, xs, 4, NULL, 0, y, n));
        EXPECT_OOM(fconv_dense_conv_forward(x, xs, 4, &w, ws, 4, NULL, NULL, NULL, NULL, 2, y, n));
        fconv_conv_free(one);
        free(x);
        free(y);
    }

    /* 32-bit sizes: with the bound lifted, a 1-D input of 2^31 + 16 positions per channel is
     * refused as an invalid argument before anything is read or written (the kernels and BLAS
     * index a plane with 32-bit ints; converting it trapped). Input and output are PROT_NONE. */
    {
        const int64_t xs[3] = {1, 2, ((int64_t)1 << 31) + 16}, k3_1d[1] = {3}, ws[3] = {2, 2, 3};
        const size_t n = (size_t)2 * (((size_t)1 << 31) + 16);
        const char *factorizations[4] = {"cp", "tucker", "tt", "dense"};
        const int64_t pad = 1;
        int f;
        EXPECT_OK(fconv_set_memory_limit((uint64_t)1 << 62));
        for (f = 0; f < 4; f++) {
            fconv_conv *line = NULL;
            EXPECT_OK(fconv_options_create(&o));
            EXPECT_OK(fconv_options_set_string(o, "factorization", factorizations[f]));
            EXPECT_OK(fconv_options_set_string(o, "implementation", f == 3 ? "reconstructed" : "auto"));
            EXPECT_OK(fconv_options_set_int(o, "padding", 1));
            EXPECT_OK(fconv_conv_create(2, 2, k3_1d, 1, o, &line));
            fconv_options_free(o);
            EXPECT_STATUS(fconv_conv_forward(line, never, xs, 3, NULL, 0, never, n), FCONV_ERR_INVALID_ARGUMENT);
            if (f < 3) {
                EXPECT_OK(fconv_conv_set_implementation(line, FCONV_IMPL_RECONSTRUCTED));
                EXPECT_STATUS(fconv_conv_forward(line, never, xs, 3, NULL, 0, never, n), FCONV_ERR_INVALID_ARGUMENT);
            }
            fconv_conv_free(line);
        }
        EXPECT_STATUS(fconv_dense_conv_forward(never, xs, 3, never, ws, 3, NULL, NULL, &pad, NULL, 1, never, n),
                      FCONV_ERR_INVALID_ARGUMENT);
        EXPECT_OK(fconv_set_memory_limit(0));
    }

    /* Files: a 2.3 MiB layer saved under the default bound does not load under 1 MiB. */
    snprintf(path, sizeof path, "%s/fconv-limits-%ld.safetensors", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (long)getpid());
    fconv_conv_free(c);
    c = NULL;
    EXPECT_OK(fconv_set_memory_limit(0));
    EXPECT_OK(fconv_options_create(&o));
    EXPECT_OK(fconv_options_set_string(o, "factorization", "dense"));
    EXPECT_OK(fconv_options_set_string(o, "implementation", "reconstructed"));
    EXPECT_OK(fconv_conv_create(256, 256, k3, 2, o, &c));
    fconv_options_free(o);
    EXPECT_OK(fconv_conv_save(c, path));
    fconv_conv_free(c);
    c = NULL;
    EXPECT_OK(fconv_set_memory_limit(MIB));
    EXPECT_OOM(fconv_conv_load(path, &c));
    EXPECT_TRUE(c == NULL);
    remove(path);

    /* FACTORCONV_MAX_BYTES is the default bound when none is set. */
    EXPECT_OK(fconv_set_memory_limit(0));
    setenv("FACTORCONV_MAX_BYTES", "1048576", 1);
    EXPECT_TRUE(fconv_get_memory_limit() == MIB);
    EXPECT_OK(fconv_options_create(&o));
    EXPECT_OK(fconv_options_set_string(o, "factorization", "dense"));
    EXPECT_OK(fconv_options_set_string(o, "implementation", "reconstructed"));
    EXPECT_OOM(fconv_conv_create(512, 512, k3, 2, o, &c));
    fconv_options_free(o);
    unsetenv("FACTORCONV_MAX_BYTES");
    EXPECT_TRUE(fconv_get_memory_limit() > MIB);

    numerics_and_memory();

    fconv_conv_free(small);
    munmap(never, huge);
    printf("test_limits: %d checks, %d failures; peak RSS %ld KiB\n", checks, failures, proc_status_kib("VmHWM:"));
    return failures ? 1 : 0;
}
