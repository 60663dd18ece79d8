// The dense convolution along one mode of factorconv_kernels.h (the per-mode stages of the
// tensor-train path, R_n → R_{n+1} channels): direct, vectorized over positions, a group of
// output channels per pass so that each loaded input vector feeds several accumulators.
#include "factorconv_kernels.h"
#include "kernels_common.h"

#if defined(__x86_64__)

/// Accumulator q holds output channel o0 + q of one vector of outputs: started at its bias,
/// multiply-added per input channel and tap, stored once.
#define FCK_ACC_INIT(q) __m512 acc##q = _mm512_set1_ps(bias ? bias[o0 + (q)] : 0.0f);
#define FCK_ACC_FMA(q) acc##q = _mm512_fmadd_ps(_mm512_set1_ps(wt[(q) * wq_stride]), xv, acc##q);
#define FCK_ACC_STORE(q) _mm512_mask_storeu_ps(dst + (ptrdiff_t)(q) * out_cs, out_mask, acc##q);

/// Input channel c's taps multiply-added into the accumulators acc##q (FCK_ACC_FMA).
#define FCK_CHANNEL(EACH) { \
        const float *channel = src + c * in_cs; \
        for (int t = 0; t < taps; t++) { \
            if (!mask[t]) continue; \
            const __m512 xv = _mm512_maskz_loadu_ps(mask[t], channel + offset[t]); \
            const float *wt = w + ((ptrdiff_t)o0 * cin + c) * taps + t; \
            EACH(FCK_ACC_FMA) \
        } \
    }

/// One vector of outputs for NO output channels: inputs of channel c, tap t start at
/// src + c · in_cs + offset[t] (masked by mask[t], a tap absent when its mask is 0).
#define FCK_MODE_VECTOR_PARAMETERS const float *src, int cin, ptrdiff_t in_cs, const ptrdiff_t *offset, \
    const __mmask16 *mask, int taps, const float *w, int o0, const float *bias, float *dst, ptrdiff_t out_cs, \
    __mmask16 out_mask
#define FCK_MODE_VECTOR(NO, EACH) \
    static FCK_AVX512 void mode_vector_##NO(FCK_MODE_VECTOR_PARAMETERS) { \
        const ptrdiff_t wq_stride = (ptrdiff_t)cin * taps; \
        EACH(FCK_ACC_INIT) \
        for (int c = 0; c < cin; c++) FCK_CHANNEL(EACH) \
        EACH(FCK_ACC_STORE) \
    }
FCK_MODE_VECTOR(8, FCK_EACH_8)

/// Four partial sums per output channel (input channels c mod 4), added at the store: with fewer
/// than 8 output channels, one sum each would be a chain of dependent multiply-adds, bound by
/// their latency rather than throughput (a folded TT stage 64 → 2 with 3 taps: two chains of 192
/// per vector).
#define FCK_SPLIT_INIT(q) __m512 acc##q = _mm512_set1_ps(bias ? bias[o0 + (q)] : 0.0f), \
    accb##q = _mm512_setzero_ps(), accc##q = accb##q, accd##q = accb##q;
#define FCK_SPLIT_FMA(q) { const float *wq = wt + (q) * wq_stride; \
    acc##q = _mm512_fmadd_ps(_mm512_set1_ps(wq[0]), x0, acc##q); \
    accb##q = _mm512_fmadd_ps(_mm512_set1_ps(wq[taps]), x1, accb##q); \
    accc##q = _mm512_fmadd_ps(_mm512_set1_ps(wq[2 * taps]), x2, accc##q); \
    accd##q = _mm512_fmadd_ps(_mm512_set1_ps(wq[3 * taps]), x3, accd##q); }
#define FCK_SPLIT_STORE(q) _mm512_mask_storeu_ps(dst + (ptrdiff_t)(q) * out_cs, out_mask, \
    _mm512_add_ps(_mm512_add_ps(acc##q, accb##q), _mm512_add_ps(accc##q, accd##q)));

/// mode_vector_NO with the partial sums above; the last cin mod 4 channels go to the first sum.
#define FCK_MODE_VECTOR_SPLIT(NO, EACH) \
    static FCK_AVX512 void mode_vector_split_##NO(FCK_MODE_VECTOR_PARAMETERS) { \
        const ptrdiff_t wq_stride = (ptrdiff_t)cin * taps; \
        EACH(FCK_SPLIT_INIT) \
        int c = 0; \
        for (; c + 4 <= cin; c += 4) { \
            const float *channel = src + c * in_cs; \
            for (int t = 0; t < taps; t++) { \
                if (!mask[t]) continue; \
                const __m512 x0 = _mm512_maskz_loadu_ps(mask[t], channel + offset[t]), \
                             x1 = _mm512_maskz_loadu_ps(mask[t], channel + in_cs + offset[t]), \
                             x2 = _mm512_maskz_loadu_ps(mask[t], channel + 2 * in_cs + offset[t]), \
                             x3 = _mm512_maskz_loadu_ps(mask[t], channel + 3 * in_cs + offset[t]); \
                const float *wt = w + ((ptrdiff_t)o0 * cin + c) * taps + t; \
                EACH(FCK_SPLIT_FMA) \
            } \
        } \
        for (; c < cin; c++) FCK_CHANNEL(EACH) \
        EACH(FCK_SPLIT_STORE) \
    }
FCK_MODE_VECTOR_SPLIT(1, FCK_EACH_1)
FCK_MODE_VECTOR_SPLIT(2, FCK_EACH_2)
FCK_MODE_VECTOR_SPLIT(4, FCK_EACH_4)

/// All output channels of one vector of outputs, 8 at a time, then 4, 2, 1 with split sums.
static FCK_AVX512 void mode_vector(const float *src, int cin, ptrdiff_t in_cs, const ptrdiff_t *offset,
                                   const __mmask16 *mask, int taps, const float *w, int cout, const float *bias,
                                   float *dst, ptrdiff_t out_cs, __mmask16 out_mask) {
    int o = 0;
#define FCK_RUN(NO) for (; o + NO <= cout; o += NO) \
        mode_vector_##NO(src, cin, in_cs, offset, mask, taps, w, o, bias, dst + o * out_cs, out_cs, out_mask);
#define FCK_RUN_SPLIT(NO) for (; o + NO <= cout; o += NO) \
        mode_vector_split_##NO(src, cin, in_cs, offset, mask, taps, w, o, bias, dst + o * out_cs, out_cs, out_mask);
    FCK_RUN(8) FCK_RUN_SPLIT(4) FCK_RUN_SPLIT(2) FCK_RUN_SPLIT(1)
#undef FCK_RUN
#undef FCK_RUN_SPLIT
}

/// Two adjacent vectors of outputs (the second 16 positions after the first) for NO output
/// channels: each weight broadcast feeds two multiply-adds, so that loads no longer outnumber
/// them (one vector of 8 channels: 9 loads per 8; two of 12: 14 per 24). Tap t of input channel
/// c reads src + c · in_cs + offset[t] (+ 16) under mask0[t] (mask1[t]); the outputs are stored
/// under out0 and out1.
#define FCK_PAIR_INIT(q) __m512 acc##q = _mm512_set1_ps(bias ? bias[o0 + (q)] : 0.0f), accb##q = acc##q;
#define FCK_PAIR_FMA(q) { const __m512 wq = _mm512_set1_ps(wt[(q) * wq_stride]); \
    acc##q = _mm512_fmadd_ps(wq, x0, acc##q); accb##q = _mm512_fmadd_ps(wq, x1, accb##q); }
#define FCK_PAIR_STORE(q) _mm512_mask_storeu_ps(dst + (ptrdiff_t)(q) * out_cs, out0, acc##q); \
    _mm512_mask_storeu_ps(dst + (ptrdiff_t)(q) * out_cs + 16, out1, accb##q);
#define FCK_MODE_PAIR(NO, EACH) \
    static FCK_AVX512 void mode_pair_##NO(const float *src, int cin, ptrdiff_t in_cs, const ptrdiff_t *offset, \
                                          const __mmask16 *mask0, const __mmask16 *mask1, int taps, const float *w, \
                                          int o0, const float *bias, float *dst, ptrdiff_t out_cs, __mmask16 out0, \
                                          __mmask16 out1) { \
        const ptrdiff_t wq_stride = (ptrdiff_t)cin * taps; \
        EACH(FCK_PAIR_INIT) \
        for (int c = 0; c < cin; c++) { \
            const float *channel = src + c * in_cs; \
            for (int t = 0; t < taps; t++) { \
                if (!(mask0[t] | mask1[t])) continue; \
                const __m512 x0 = _mm512_maskz_loadu_ps(mask0[t], channel + offset[t]), \
                             x1 = _mm512_maskz_loadu_ps(mask1[t], channel + offset[t] + 16); \
                const float *wt = w + ((ptrdiff_t)o0 * cin + c) * taps + t; \
                EACH(FCK_PAIR_FMA) \
            } \
        } \
        EACH(FCK_PAIR_STORE) \
    }
FCK_MODE_PAIR(4, FCK_EACH_4)
FCK_MODE_PAIR(5, FCK_EACH_5)
FCK_MODE_PAIR(6, FCK_EACH_6)
FCK_MODE_PAIR(7, FCK_EACH_7)
FCK_MODE_PAIR(8, FCK_EACH_8)
FCK_MODE_PAIR(9, FCK_EACH_9)
FCK_MODE_PAIR(10, FCK_EACH_10)
FCK_MODE_PAIR(11, FCK_EACH_11)
FCK_MODE_PAIR(12, FCK_EACH_12)

typedef void (*mode_pair_fn)(const float *, int, ptrdiff_t, const ptrdiff_t *, const __mmask16 *, const __mmask16 *,
                             int, const float *, int, const float *, float *, ptrdiff_t, __mmask16, __mmask16);
/// The pair kernels by number of output channels (index 4–12).
static const mode_pair_fn pair_kernels[13] = {0, 0, 0, 0, mode_pair_4, mode_pair_5, mode_pair_6, mode_pair_7,
                                              mode_pair_8, mode_pair_9, mode_pair_10, mode_pair_11, mode_pair_12};

/// All output channels of two adjacent vectors of outputs: as few groups as 12 channels allow,
/// of balanced sizes (23 as 12 + 11, 15 as 8 + 7: each group has at least 8 accumulators to hide
/// the multiply-add latency). Fewer than 4 channels go vector by vector (mode_vector).
static FCK_AVX512 void mode_pair(const float *src, int cin, ptrdiff_t in_cs, const ptrdiff_t *offset,
                                 const __mmask16 *mask0, const __mmask16 *mask1, int taps, const float *w, int cout,
                                 const float *bias, float *dst, ptrdiff_t out_cs, __mmask16 out0, __mmask16 out1) {
    if (cout < 4) {
        ptrdiff_t offset1[FCK_MODE_CONV_MAX_TAPS];
        for (int t = 0; t < taps; t++) offset1[t] = offset[t] + 16;
        mode_vector(src, cin, in_cs, offset, mask0, taps, w, cout, bias, dst, out_cs, out0);
        mode_vector(src, cin, in_cs, offset1, mask1, taps, w, cout, bias, dst + 16, out_cs, out1);
        return;
    }
    const int groups = (cout + 11) / 12;
    for (int g = 0, o = 0; g < groups; g++) {
        const int n = (cout - o) / (groups - g);
        pair_kernels[n](src, cin, in_cs, offset, mask0, mask1, taps, w, o, bias, dst + (ptrdiff_t)o * out_cs, out_cs,
                        out0, out1);
        o += n;
    }
}

FCK_AVX512 int fck_mode_conv(const float *in, int cin, ptrdiff_t in_cs, float *out, int cout, ptrdiff_t out_cs,
                             int outer, int size, int inner, int out_size, const float *w, int taps, int stride,
                             int pad, int dilation, const float *bias) {
    if (taps > FCK_MODE_CONV_MAX_TAPS || (inner == 1 && stride != 1)) return -1;
    ptrdiff_t offset[FCK_MODE_CONV_MAX_TAPS];
    __mmask16 mask[FCK_MODE_CONV_MAX_TAPS], mask1[FCK_MODE_CONV_MAX_TAPS];
    for (int b = 0; b < outer; b++) {
        const float *src = in + (ptrdiff_t)b * size * inner;
        float *dst = out + (ptrdiff_t)b * out_size * inner;
        if (inner > 1) {
            // Output row r is a weighted sum of whole input rows, 16 columns per vector, two
            // vectors at a time while the row has them.
            for (int r = 0; r < out_size; r++) {
                for (ptrdiff_t j = 0; j < inner; j += 32) {     // ptrdiff_t: j + 32 may pass INT_MAX
                    const __mmask16 columns = fck_lanes_inside(j, inner), columns1 = fck_lanes_inside(j + 16, inner);
                    for (int t = 0; t < taps; t++) {
                        const ptrdiff_t row = (ptrdiff_t)r * stride - pad + (ptrdiff_t)t * dilation;
                        const int inside = row >= 0 && row < size;
                        offset[t] = row * inner + j;
                        mask[t] = inside ? columns : 0;
                        mask1[t] = inside ? columns1 : 0;
                    }
                    float *d = dst + (ptrdiff_t)r * inner + j;
                    if (columns1)
                        mode_pair(src, cin, in_cs, offset, mask, mask1, taps, w, cout, bias, d, out_cs, columns,
                                  columns1);
                    else
                        mode_vector(src, cin, in_cs, offset, mask, taps, w, cout, bias, d, out_cs, columns);
                }
            }
        } else {
            // The innermost mode, stride 1: 16 consecutive outputs per vector, two vectors at a
            // time; lanes whose input falls in the padding are masked off.
            for (ptrdiff_t o = 0; o < out_size; o += 32) {
                const __mmask16 outputs = fck_lanes_inside(o, out_size), outputs1 = fck_lanes_inside(o + 16, out_size);
                for (int t = 0; t < taps; t++) {
                    const ptrdiff_t first = o - pad + (ptrdiff_t)t * dilation;
                    offset[t] = first;
                    mask[t] = fck_lanes_inside(first, size) & outputs;
                    mask1[t] = fck_lanes_inside(first + 16, size) & outputs1;
                }
                if (outputs1)
                    mode_pair(src, cin, in_cs, offset, mask, mask1, taps, w, cout, bias, dst + o, out_cs, outputs,
                              outputs1);
                else
                    mode_vector(src, cin, in_cs, offset, mask, taps, w, cout, bias, dst + o, out_cs, outputs);
            }
        }
    }
    return 0;
}

#else
// Not reached: callers check fck_avx512_available(), which is 0 off x86-64.
int fck_mode_conv(const float *in, int cin, ptrdiff_t in_cs, float *out, int cout, ptrdiff_t out_cs, int outer,
                  int size, int inner, int out_size, const float *w, int taps, int stride, int pad, int dilation,
                  const float *bias) {
    (void)in; (void)cin; (void)in_cs; (void)out; (void)cout; (void)out_cs; (void)outer; (void)size; (void)inner;
    (void)out_size; (void)w; (void)taps; (void)stride; (void)pad; (void)dilation; (void)bias;
    return -1;
}
#endif
