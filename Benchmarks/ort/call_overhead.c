/*
 * call_overhead.c — the per-call cost of fconv_conv_forward on a tiny layer, from C.
 *
 * A CP layer of 4 -> 4 channels, 3x3 kernel, padding 1, on a 1x4x4x4 input: its arithmetic is a
 * few hundred multiply-adds, so the time of one call is almost all fixed cost (argument checks,
 * handle lookup, planning cache, workspace). Prints one line, "c_call_us <median microseconds>",
 * read by Benchmarks/bench_ort.py. Usage: call_overhead [threads]   (default 1).
 *
 * Build: cc -std=c99 -O2 -Iinclude Benchmarks/ort/call_overhead.c -Lbuild-dir -lfactorconv
 */
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "factorconv.h"

enum { ROUNDS = 7, CALLS = 2000 };

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int compare(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int check(fconv_status s, const char *what) {
    if (s != FCONV_OK) {
        fprintf(stderr, "%s: %s (%s)\n", what, fconv_status_string(s), fconv_last_error_message());
        return 1;
    }
    return 0;
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 1;
    int64_t kernel[2] = {3, 3}, x_shape[4] = {1, 4, 4, 4};
    float x[64], y[64];
    double rounds[ROUNDS];
    fconv_options *options = NULL;
    fconv_conv *conv = NULL;
    int i, r;

    for (i = 0; i < 64; i++) x[i] = (float)((i * 37) % 11) / 11.0f - 0.5f;
    if (check(fconv_set_num_threads(threads), "set_num_threads")
        || check(fconv_options_create(&options), "options_create")
        || check(fconv_options_set_string(options, "factorization", "cp"), "factorization")
        || check(fconv_options_set_float(options, "rank", 0.5), "rank")
        || check(fconv_options_set_int(options, "padding", 1), "padding")
        || check(fconv_conv_create(4, 4, kernel, 2, options, &conv), "conv_create"))
        return 1;
    for (i = 0; i < 100; i++)                /* warm-up: plans, workspace, caches */
        if (check(fconv_conv_forward(conv, x, x_shape, 4, NULL, 0, y, 64), "forward")) return 1;
    for (r = 0; r < ROUNDS; r++) {
        double t0 = now();
        for (i = 0; i < CALLS; i++) fconv_conv_forward(conv, x, x_shape, 4, NULL, 0, y, 64);
        rounds[r] = (now() - t0) / CALLS;
    }
    qsort(rounds, ROUNDS, sizeof *rounds, compare);
    printf("c_call_us %.3f\n", rounds[ROUNDS / 2] * 1e6);
    fconv_conv_free(conv);
    fconv_options_free(options);
    return 0;
}
