/* Per-call cost of a forward on a tiny layer through the C ABI: fconv_conv_forward_shaped and
 * fconv_conv_output_shape in a loop, for a layer built with the given factorization and
 * implementation, on a 1x4x8x8 input with fconv_set_num_threads(THREADS) (default: the library's).
 * Prints "<name> <median nanoseconds per call>" lines for bench_call_overhead.py and bench_ort.py.
 * Usage: call_overhead FACTORIZATION IMPLEMENTATION CALLS [THREADS] */
#define _POSIX_C_SOURCE 199309L
#include <factorconv.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

static int compare(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The median of n values (sorts them): robust to the bursts of a shared machine. */
static double median(double *values, long n) {
    qsort(values, n, sizeof(double), compare);
    return values[n / 2];
}

static void check(fconv_status status, const char *what) {
    if (status != FCONV_OK) {
        fprintf(stderr, "%s: %s\n", what, fconv_last_error_message());
        exit(1);
    }
}

int main(int argc, char **argv) {
    if (argc != 4 && argc != 5) {
        fprintf(stderr, "usage: call_overhead FACTORIZATION IMPLEMENTATION CALLS [THREADS]\n");
        return 2;
    }
    long calls = atol(argv[3]);
    if (calls < 1) { fprintf(stderr, "CALLS must be at least 1\n"); return 2; }
    if (argc == 5) check(fconv_set_num_threads(atoi(argv[4])), "threads");
    fconv_options *options = NULL;
    check(fconv_options_create(&options), "options");
    check(fconv_options_set_string(options, "factorization", argv[1]), "factorization");
    check(fconv_options_set_string(options, "implementation", argv[2]), "implementation");
    check(fconv_options_set_int(options, "padding", 1), "padding");
    const int64_t kernel[2] = {3, 3};
    fconv_conv *conv = NULL;
    check(fconv_conv_create(4, 4, kernel, 2, options, &conv), "create");
    fconv_options_free(options);
    const int64_t shape[4] = {1, 4, 8, 8};
    int64_t out_shape[4];
    float *x = calloc(4 * 8 * 8, sizeof(float)), *y = calloc(4 * 8 * 8, sizeof(float));
    for (int i = 0; i < 4 * 8 * 8; i++) x[i] = (float)(i % 7) - 3;
    check(fconv_conv_forward_shaped(conv, x, shape, 4, NULL, 0, y, shape, 4), "warm-up");

    double *times = malloc(calls * sizeof(double));
    for (long i = 0; i < calls; i++) {
        double start = now();
        check(fconv_conv_forward_shaped(conv, x, shape, 4, NULL, 0, y, shape, 4), "forward");
        times[i] = now() - start;
    }
    printf("forward_shaped %.0f\n", 1e9 * median(times, calls));
    for (long i = 0; i < calls; i++) {
        double start = now();
        check(fconv_conv_output_shape(conv, shape, 4, NULL, 0, out_shape, 4), "output_shape");
        times[i] = now() - start;
    }
    printf("output_shape %.0f\n", 1e9 * median(times, calls));
    free(times);
    free(x);
    free(y);
    fconv_conv_free(conv);
    return 0;
}
