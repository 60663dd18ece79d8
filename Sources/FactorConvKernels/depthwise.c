// The depthwise 1-D convolution along one mode of factorconv_kernels.h (the per-mode stages of
// CP's separable path): every output is accumulated in registers over the taps and written once.
#include "factorconv_kernels.h"
#include "kernels_common.h"

#if defined(__x86_64__)

/// Valid taps of output o: t in [first, last) keeps o·stride − pad + t·dilation inside [0, size).
static inline void valid_taps(int o, int size, int taps, int stride, int pad, int dilation, int *first, int *last) {
    const int base = o * stride - pad;
    int lo = 0, hi = taps;
    while (lo < hi && base + lo * dilation < 0) lo++;
    while (hi > lo && base + (hi - 1) * dilation >= size) hi--;
    *first = lo;
    *last = hi;
}

/// Output o of an innermost-mode line, one at a time (the ends of a line, and strided lines).
static inline float line_output(const float *src, int o, int size, const float *w, int taps, int stride, int pad,
                                int dilation) {
    int first, last;
    valid_taps(o, size, taps, stride, pad, dilation, &first, &last);
    float acc = 0;
    for (int t = first; t < last; t++) acc += w[t] * src[o * stride - pad + t * dilation];
    return acc;
}

/// Mode with `inner` > 1 contiguous floats per row: output row o is a weighted sum of whole input
/// rows, 16 columns per vector.
static FCK_AVX512 void rows_mode(const float *src, float *dst, int size, int inner, int out_size, const float *w,
                                 int taps, int stride, int pad, int dilation) {
    for (int o = 0; o < out_size; o++) {
        int first, last;
        valid_taps(o, size, taps, stride, pad, dilation, &first, &last);
        float *out = dst + (ptrdiff_t)o * inner;
        const float *row0 = src + (ptrdiff_t)(o * stride - pad) * inner;
        for (int j = 0; j < inner; j += 16) {
            const __mmask16 mask = fck_first_vector(inner - j);
            __m512 acc = _mm512_setzero_ps();
            for (int t = first; t < last; t++)
                acc = _mm512_fmadd_ps(_mm512_set1_ps(w[t]), _mm512_maskz_loadu_ps(mask, row0 + (ptrdiff_t)t * dilation * inner + j), acc);
            _mm512_mask_storeu_ps(out + j, mask, acc);
        }
    }
}

/// Innermost mode, stride 1: outputs whose taps are all inside the line are 16 per vector
/// (unaligned loads at each tap's shift); the few at the ends, scalar.
static FCK_AVX512 void line_mode(const float *src, float *dst, int size, int out_size, const float *w, int taps,
                                 int pad, int dilation) {
    // Interior outputs: o − pad ≥ 0 and o − pad + (taps − 1)·dilation < size.
    int lo = pad < out_size ? pad : out_size;
    int hi = size - (taps - 1) * dilation + pad;
    if (hi > out_size) hi = out_size;
    if (hi < lo) hi = lo;
    for (int o = 0; o < lo; o++) dst[o] = line_output(src, o, size, w, taps, 1, pad, dilation);
    for (int o = lo; o < hi; o += 16) {
        const __mmask16 mask = fck_first_vector(hi - o);
        __m512 acc = _mm512_setzero_ps();
        for (int t = 0; t < taps; t++)
            acc = _mm512_fmadd_ps(_mm512_set1_ps(w[t]), _mm512_maskz_loadu_ps(mask, src + o - pad + t * dilation), acc);
        _mm512_mask_storeu_ps(dst + o, mask, acc);
    }
    for (int o = hi; o < out_size; o++) dst[o] = line_output(src, o, size, w, taps, 1, pad, dilation);
}

FCK_AVX512 void fck_depthwise_mode(const float *src, float *dst, int outer, int size, int inner, int out_size,
                                   const float *w, int taps, int stride, int pad, int dilation) {
    const ptrdiff_t in_block = (ptrdiff_t)size * inner, out_block = (ptrdiff_t)out_size * inner;
    for (int b = 0; b < outer; b++) {
        const float *s = src + b * in_block;
        float *d = dst + b * out_block;
        if (inner > 1) {
            rows_mode(s, d, size, inner, out_size, w, taps, stride, pad, dilation);
        } else if (stride == 1) {
            line_mode(s, d, size, out_size, w, taps, pad, dilation);
        } else {
            for (int o = 0; o < out_size; o++) d[o] = line_output(s, o, size, w, taps, stride, pad, dilation);
        }
    }
}

#else
// Not reached: callers check fck_avx512_available(), which is 0 off x86-64.
void fck_depthwise_mode(const float *src, float *dst, int outer, int size, int inner, int out_size, const float *w,
                        int taps, int stride, int pad, int dilation) {
    (void)src; (void)dst; (void)outer; (void)size; (void)inner; (void)out_size; (void)w; (void)taps; (void)stride;
    (void)pad; (void)dilation;
}
#endif
