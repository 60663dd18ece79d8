/*
 * example_util.h — small helpers shared by the C examples of libfactorconv (header-only, C99):
 * a CHECK macro that prints the status name and the library's message, a deterministic random
 * generator, and a naive N-D convolution (the definition, in double) to compare results with.
 */
#ifndef FACTORCONV_EXAMPLE_UTIL_H
#define FACTORCONV_EXAMPLE_UTIL_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "factorconv.h"

/* Runs a FactorConv call; on failure prints the status name and the library's message. */
#define CHECK(call)                                                                        \
    do {                                                                                   \
        fconv_status check_status_ = (call);                                               \
        if (check_status_ != FCONV_OK) {                                                   \
            fprintf(stderr, "%s:%d: %s failed: %s: %s\n", __FILE__, __LINE__, #call,       \
                    fconv_status_string(check_status_), fconv_last_error_message());       \
            exit(1);                                                                       \
        }                                                                                  \
    } while (0)

/* Exits with a message when a condition that the example relies on does not hold. */
#define REQUIRE(condition, ...)                                                            \
    do {                                                                                   \
        if (!(condition)) {                                                                \
            fprintf(stderr, "%s:%d: requirement failed: ", __FILE__, __LINE__);            \
            fprintf(stderr, __VA_ARGS__);                                                  \
            fprintf(stderr, "\n");                                                         \
            exit(1);                                                                       \
        }                                                                                  \
    } while (0)

enum { EX_MAX_NDIM = 8 };

/* Deterministic values in [-1, 1) (a tiny LCG, so the examples need no seeding). */
static inline float ex_uniform(uint32_t *state) {
    *state = *state * 1664525u + 1013904223u;
    return (float)(*state >> 8) / 8388608.0f - 1.0f;
}

static inline size_t ex_count(const int64_t *shape, size_t ndim) {
    size_t n = 1, i;
    for (i = 0; i < ndim; ++i) n *= (size_t)shape[i];
    return n;
}

/* Allocates `count` floats or exits. */
static inline float *ex_floats(size_t count) {
    float *p = (float *)malloc((count ? count : 1) * sizeof(float));
    REQUIRE(p != NULL, "out of memory (%zu floats)", count);
    return p;
}

/*
 * The definition of an N-D convolution with PyTorch semantics (cross-correlation, symmetric
 * zero padding), in double: x (B, C_in, S...), w (C_out, C_in, K...), y (B, C_out, S'...).
 * `y_shape` receives the output shape (ndim entries); y must hold its element count.
 */
static inline void ex_naive_conv(const float *x, const int64_t *xs, size_t ndim, const float *w,
                                 const int64_t *ws, const float *bias, const int64_t *stride,
                                 const int64_t *pad, const int64_t *dil, int64_t *ys, double *y) {
    size_t n = ndim - 2, d, taps = 1, out_spatial = 1, in_spatial = 1;
    int64_t b, o, c;
    ys[0] = xs[0];
    ys[1] = ws[0];
    for (d = 0; d < n; ++d) {
        ys[2 + d] = (xs[2 + d] + 2 * pad[d] - dil[d] * (ws[2 + d] - 1) - 1) / stride[d] + 1;
        taps *= (size_t)ws[2 + d];
        out_spatial *= (size_t)ys[2 + d];
        in_spatial *= (size_t)xs[2 + d];
    }
    for (b = 0; b < ys[0]; ++b)
        for (o = 0; o < ys[1]; ++o) {
            size_t p;
            for (p = 0; p < out_spatial; ++p) {
                int64_t pos[EX_MAX_NDIM];
                size_t rest = p, t;
                double sum = bias ? bias[o] : 0.0;
                for (d = n; d-- > 0;) {
                    pos[d] = (int64_t)(rest % (size_t)ys[2 + d]);
                    rest /= (size_t)ys[2 + d];
                }
                for (c = 0; c < xs[1]; ++c)
                    for (t = 0; t < taps; ++t) {
                        size_t trest = t, src = 0;
                        int inside = 1;
                        int64_t tap[EX_MAX_NDIM];
                        for (d = n; d-- > 0;) {
                            tap[d] = (int64_t)(trest % (size_t)ws[2 + d]);
                            trest /= (size_t)ws[2 + d];
                        }
                        for (d = 0; d < n; ++d) {
                            int64_t i = pos[d] * stride[d] - pad[d] + tap[d] * dil[d];
                            if (i < 0 || i >= xs[2 + d]) { inside = 0; break; }
                            src = src * (size_t)xs[2 + d] + (size_t)i;
                        }
                        if (!inside) continue;
                        sum += (double)x[((size_t)b * (size_t)xs[1] + (size_t)c) * in_spatial + src] *
                               (double)w[((size_t)o * (size_t)ws[1] + (size_t)c) * taps + t];
                    }
                y[((size_t)b * (size_t)ys[1] + (size_t)o) * out_spatial + p] = sum;
            }
        }
}

/* max |a - b| / max |b| (the golden-set metric). */
static inline double ex_rel_error_d(const float *a, const double *b, size_t n) {
    double diff = 0.0, scale = 0.0;
    size_t i;
    for (i = 0; i < n; ++i) {
        double e = fabs((double)a[i] - b[i]);
        if (e > diff) diff = e;
        if (fabs(b[i]) > scale) scale = fabs(b[i]);
    }
    return diff / (scale > 0.0 ? scale : 1e-30);
}

/* ||a - b|| / ||b|| (Frobenius). */
static inline double ex_frobenius_error(const float *a, const float *b, size_t n) {
    double num = 0.0, den = 0.0;
    size_t i;
    for (i = 0; i < n; ++i) {
        double e = (double)a[i] - (double)b[i];
        num += e * e;
        den += (double)b[i] * (double)b[i];
    }
    return sqrt(num / (den > 0.0 ? den : 1e-300));
}

#endif /* FACTORCONV_EXAMPLE_UTIL_H */
