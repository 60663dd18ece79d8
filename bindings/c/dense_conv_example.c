/*
 * dense_conv_example.c — the functional dense convolution of libfactorconv from C.
 *
 * Builds a small 2-D problem (batch 2, 3 -> 4 channels, 11x13 input, 3x3 kernel, stride (2,1),
 * padding (1,2), dilation (1,2), bias), asks the library for the output shape, allocates the
 * output, runs fconv_dense_conv_forward and compares it with the naive loops below.
 * Prints the shape, a checksum, the max error and the time; exits 1 on any failure.
 *
 * Build: cc -std=c99 -Iinclude bindings/c/dense_conv_example.c -Lbuild-dir -lfactorconv -lm
 */
#define _POSIX_C_SOURCE 199309L /* clock_gettime */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "example_util.h"

enum { NDIM = 4, NSPATIAL = 2 };

static int64_t product(const int64_t *shape, size_t ndim) {
    int64_t n = 1;
    size_t i;
    for (i = 0; i < ndim; ++i) n *= shape[i];
    return n;
}

/* The definition of a 2-D convolution (PyTorch semantics), in double, one tap at a time. */
static void naive_conv2d(const float *x, const int64_t *xs, const float *w, const int64_t *ws,
                         const float *bias, const int64_t *stride, const int64_t *pad,
                         const int64_t *dil, const int64_t *ys, double *y) {
    int64_t b, o, i, oh, ow, kh, kw;
    for (b = 0; b < ys[0]; ++b)
        for (o = 0; o < ys[1]; ++o)
            for (oh = 0; oh < ys[2]; ++oh)
                for (ow = 0; ow < ys[3]; ++ow) {
                    double sum = bias ? bias[o] : 0.0;
                    for (i = 0; i < xs[1]; ++i)
                        for (kh = 0; kh < ws[2]; ++kh)
                            for (kw = 0; kw < ws[3]; ++kw) {
                                int64_t ih = oh * stride[0] - pad[0] + kh * dil[0];
                                int64_t iw = ow * stride[1] - pad[1] + kw * dil[1];
                                if (ih < 0 || ih >= xs[2] || iw < 0 || iw >= xs[3]) continue;
                                sum += (double)x[((b * xs[1] + i) * xs[2] + ih) * xs[3] + iw] *
                                       w[((o * ws[1] + i) * ws[2] + kh) * ws[3] + kw];
                            }
                    y[((b * ys[1] + o) * ys[2] + oh) * ys[3] + ow] = sum;
                }
}

static double seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int main(void) {
    const int64_t x_shape[NDIM] = {2, 3, 11, 13};
    const int64_t w_shape[NDIM] = {4, 3, 3, 3};
    const int64_t stride[NSPATIAL] = {2, 1}, padding[NSPATIAL] = {1, 2}, dilation[NSPATIAL] = {1, 2};
    int64_t y_shape[NDIM];
    size_t x_count = (size_t)product(x_shape, NDIM), w_count = (size_t)product(w_shape, NDIM);
    size_t y_count, k;
    float *x = malloc(x_count * sizeof *x), *w = malloc(w_count * sizeof *w), *y;
    float bias[4];
    double *expected, checksum = 0.0, max_err = 0.0, max_ref = 0.0, t0, elapsed;
    uint32_t state = 42u;

    if (!x || !w) { fprintf(stderr, "out of memory\n"); return 1; }
    for (k = 0; k < x_count; ++k) x[k] = ex_uniform(&state);
    for (k = 0; k < w_count; ++k) w[k] = ex_uniform(&state);
    for (k = 0; k < 4; ++k) bias[k] = ex_uniform(&state);

    printf("libfactorconv %s (ABI %d, header ABI %d), %d threads\n", fconv_version_string(),
           (int)fconv_abi_version(), FCONV_ABI_VERSION, (int)fconv_get_num_threads());
    if (fconv_abi_version() != FCONV_ABI_VERSION) {
        fprintf(stderr, "ABI mismatch between the header and the loaded library\n");
        return 1;
    }

    /* Shape query, then a caller-allocated output of exactly that size. */
    CHECK(fconv_dense_conv_output_shape(x_shape, NDIM, w_shape, NDIM, stride, padding, dilation,
                                        NSPATIAL, y_shape, NDIM));
    y_count = (size_t)product(y_shape, NDIM);
    y = malloc(y_count * sizeof *y);
    expected = malloc(y_count * sizeof *expected);
    if (!y || !expected) { fprintf(stderr, "out of memory\n"); return 1; }

    t0 = seconds();
    CHECK(fconv_dense_conv_forward(x, x_shape, NDIM, w, w_shape, NDIM, bias, stride, padding,
                                   dilation, NSPATIAL, y, y_count));
    elapsed = seconds() - t0;

    naive_conv2d(x, x_shape, w, w_shape, bias, stride, padding, dilation, y_shape, expected);
    for (k = 0; k < y_count; ++k) {
        double err = fabs((double)y[k] - expected[k]);
        checksum += y[k];
        if (err > max_err) max_err = err;
        if (fabs(expected[k]) > max_ref) max_ref = fabs(expected[k]);
    }

    printf("input  (%lld, %lld, %lld, %lld)\n", (long long)x_shape[0], (long long)x_shape[1],
           (long long)x_shape[2], (long long)x_shape[3]);
    printf("weight (%lld, %lld, %lld, %lld)  stride (2, 1) padding (1, 2) dilation (1, 2)\n",
           (long long)w_shape[0], (long long)w_shape[1], (long long)w_shape[2], (long long)w_shape[3]);
    printf("output (%lld, %lld, %lld, %lld)\n", (long long)y_shape[0], (long long)y_shape[1],
           (long long)y_shape[2], (long long)y_shape[3]);
    printf("checksum %.6f  max error vs naive %.3g (relative %.3g)  time %.3f ms\n", checksum,
           max_err, max_err / max_ref, 1e3 * elapsed);

    free(x); free(w); free(y); free(expected);
    /* fp32 accumulation over 27 taps: relative error far below 1e-5 when correct. */
    if (!(max_err <= 1e-5 * max_ref)) {
        fprintf(stderr, "MISMATCH: relative error %.3g exceeds 1e-5\n", max_err / max_ref);
        return 1;
    }
    printf("OK\n");
    return 0;
}
