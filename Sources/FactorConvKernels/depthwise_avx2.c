// fck_depthwise_mode for CPUs with AVX2 and FMA but no AVX-512 (factorconv_kernels.h): the same
// result, 8 outputs per vector. Lines are handled as in depthwise.c: at stride 1 a block of rows
// is one flat line whose taps shift by whole rows, and only the vectors whose taps reach past
// the line's ends are computed one output at a time.
#include "factorconv_kernels.h"
#include "kernels_common.h"

#include <stddef.h>

#if defined(__x86_64__)
#include <immintrin.h>

int fck_avx2_available(void) {
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

/// Output o of a line (any stride): the sum over the taps whose input lies in [0, size), fused
/// multiply-adds in tap order as in the vectors (and in fck_depthwise_plane_avx2), so that every
/// output rounds the same whichever way it is computed.
static inline float line_output(const float *src, ptrdiff_t o, ptrdiff_t size, const float *w, int taps,
                                ptrdiff_t stride, ptrdiff_t pad, ptrdiff_t dilation) {
    float acc = 0;
    const ptrdiff_t base = o * stride - pad;
    for (int t = 0; t < taps; t++) {
        const ptrdiff_t i = base + (ptrdiff_t)t * dilation;
        if (i >= 0 && i < size) acc = __builtin_fmaf(w[t], src[i], acc);
    }
    return acc;
}

/// A line at stride 1: out[o] = Σ_t w[t] · src[o − pad + t · dilation] over the taps inside
/// [0, size), for o < out_size. Vectors of 8 outputs all of whose taps lie inside run unmasked;
/// the rest, near the ends, one output at a time.
static FCK_AVX2 void line_mode(const float *src, float *dst, ptrdiff_t size, ptrdiff_t out_size, const float *w,
                               int taps, ptrdiff_t pad, ptrdiff_t dilation) {
    // Interior outputs: o ≥ pad (first tap inside) and o + (taps − 1) · dilation − pad < size.
    ptrdiff_t begin = pad < out_size ? pad : out_size;
    if (begin < 0) begin = 0;
    ptrdiff_t end = size - (ptrdiff_t)(taps - 1) * dilation + pad;
    if (end > out_size) end = out_size;
    ptrdiff_t o = 0;
    for (; o < begin; o++) dst[o] = line_output(src, o, size, w, taps, 1, pad, dilation);
    if (taps <= 8) {
        __m256 weight[8];
        for (int t = 0; t < taps; t++) weight[t] = _mm256_set1_ps(w[t]);
        for (; o + 16 <= end; o += 16) {
            const float *s = src + o - pad;
            __m256 a0 = _mm256_setzero_ps(), a1 = a0;
            for (int t = 0; t < taps; t++) {
                a0 = _mm256_fmadd_ps(weight[t], _mm256_loadu_ps(s + t * dilation), a0);
                a1 = _mm256_fmadd_ps(weight[t], _mm256_loadu_ps(s + t * dilation + 8), a1);
            }
            _mm256_storeu_ps(dst + o, a0);
            _mm256_storeu_ps(dst + o + 8, a1);
        }
        for (; o + 8 <= end; o += 8) {
            const float *s = src + o - pad;
            __m256 a0 = _mm256_setzero_ps();
            for (int t = 0; t < taps; t++) a0 = _mm256_fmadd_ps(weight[t], _mm256_loadu_ps(s + t * dilation), a0);
            _mm256_storeu_ps(dst + o, a0);
        }
    } else {
        for (; o + 8 <= end; o += 8) {
            const float *s = src + o - pad;
            __m256 a0 = _mm256_setzero_ps();
            for (int t = 0; t < taps; t++)
                a0 = _mm256_fmadd_ps(_mm256_set1_ps(w[t]), _mm256_loadu_ps(s + t * dilation), a0);
            _mm256_storeu_ps(dst + o, a0);
        }
    }
    for (; o < out_size; o++) dst[o] = line_output(src, o, size, w, taps, 1, pad, dilation);
}

/// A mode of rows of `inner` > 1 floats at any stride: output row o is Σ_t w[t] · input row
/// (o · stride − pad + t · dilation) over the rows that exist, 8 columns per vector.
static FCK_AVX2 void rows_mode(const float *src, float *dst, int size, ptrdiff_t inner, int out_size, const float *w,
                               int taps, int stride, int pad, int dilation) {
    for (int o = 0; o < out_size; o++) {
        float *out = dst + (ptrdiff_t)o * inner;
        const ptrdiff_t base = (ptrdiff_t)o * stride - pad;
        int first = 0, last = taps;
        while (first < last && base + (ptrdiff_t)first * dilation < 0) first++;
        while (last > first && base + (ptrdiff_t)(last - 1) * dilation >= size) last--;
        ptrdiff_t j = 0;
        for (; j + 8 <= inner; j += 8) {
            __m256 acc = _mm256_setzero_ps();
            for (int t = first; t < last; t++)
                acc = _mm256_fmadd_ps(_mm256_set1_ps(w[t]),
                                      _mm256_loadu_ps(src + (base + (ptrdiff_t)t * dilation) * inner + j), acc);
            _mm256_storeu_ps(out + j, acc);
        }
        for (; j < inner; j++) {
            float acc = 0;
            for (int t = first; t < last; t++) acc += w[t] * src[(base + (ptrdiff_t)t * dilation) * inner + j];
            out[j] = acc;
        }
    }
}

FCK_AVX2 void fck_depthwise_mode_avx2(const float *src, float *dst, int outer, int size, int inner, int out_size,
                                      const float *w, int taps, int stride, int pad, int dilation) {
    const ptrdiff_t in_block = (ptrdiff_t)size * inner, out_block = (ptrdiff_t)out_size * inner;
    for (int b = 0; b < outer; b++) {
        const float *s = src + b * in_block;
        float *d = dst + b * out_block;
        if (stride == 1) {
            // Rows shift by whole rows: the block is one flat line, its pad and dilation scaled by
            // `inner` (for inner = 1, the line itself).
            line_mode(s, d, in_block, out_block, w, taps, (ptrdiff_t)pad * inner, (ptrdiff_t)dilation * inner);
        } else if (inner > 1) {
            rows_mode(s, d, size, inner, out_size, w, taps, stride, pad, dilation);
        } else {
            for (int o = 0; o < out_size; o++) d[o] = line_output(s, o, size, w, taps, stride, pad, dilation);
        }
    }
}

#else
int fck_avx2_available(void) { return 0; }

// Not reached: callers check fck_avx2_available(), which is 0 off x86-64.
void fck_depthwise_mode_avx2(const float *src, float *dst, int outer, int size, int inner, int out_size,
                             const float *w, int taps, int stride, int pad, int dilation) {
    (void)src; (void)dst; (void)outer; (void)size; (void)inner; (void)out_size; (void)w; (void)taps; (void)stride;
    (void)pad; (void)dilation;
}
#endif
