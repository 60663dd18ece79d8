// The depthwise 1-D convolution along one mode of factorconv_kernels.h (the per-mode stages of
// CP's separable path): every output is accumulated in registers over the taps and written once.
#include "factorconv_kernels.h"
#include "kernels_common.h"

/// Taps whose weights line_interior keeps in registers (more are broadcast from memory).
#define FCK_LINE_UNROLLED_TAPS 8

#if defined(__x86_64__)

/// Valid taps of output o: t in [first, last) keeps o·stride − pad + t·dilation inside [0, size)
/// (in ptrdiff_t: with a huge padding or dilation, these overflow int).
static inline void valid_taps(int o, int size, int taps, int stride, int pad, int dilation, int *first, int *last) {
    const ptrdiff_t base = (ptrdiff_t)o * stride - pad;
    int lo = 0, hi = taps;
    while (lo < hi && base + (ptrdiff_t)lo * dilation < 0) lo++;
    while (hi > lo && base + (ptrdiff_t)(hi - 1) * dilation >= size) hi--;
    *first = lo;
    *last = hi;
}

/// Output o of a strided innermost-mode line, one at a time.
static inline float line_output(const float *src, int o, int size, const float *w, int taps, int stride, int pad,
                                int dilation) {
    int first, last;
    valid_taps(o, size, taps, stride, pad, dilation, &first, &last);
    float acc = 0;
    for (int t = first; t < last; t++) acc += w[t] * src[(ptrdiff_t)o * stride - pad + (ptrdiff_t)t * dilation];
    return acc;
}

/// Mode with `inner` > 1 contiguous floats per row, strided or with rows longer than 64 floats
/// (fck_depthwise_mode): output row o is a weighted sum of whole input rows. Columns go in blocks
/// of 4 vectors with their own accumulators (a row's vectors as independent chains, its masks
/// computed once per block), so the multiply-adds of one row overlap instead of waiting on each other.
static FCK_AVX512 void rows_mode(const float *src, float *dst, int size, int inner, int out_size, const float *w,
                                 int taps, int stride, int pad, int dilation) {
    for (ptrdiff_t j = 0; j < inner; j += 64) {         // ptrdiff_t: j + 64 may pass INT_MAX
        const int n = (int)(inner - j);
        const __mmask16 m0 = fck_first_vector(n), m1 = fck_first_vector(n - 16), m2 = fck_first_vector(n - 32),
                        m3 = fck_first_vector(n - 48);
        for (int o = 0; o < out_size; o++) {
            int first, last;
            valid_taps(o, size, taps, stride, pad, dilation, &first, &last);
            __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
            for (int t = first; t < last; t++) {
                const float *row = src + ((ptrdiff_t)o * stride - pad + (ptrdiff_t)t * dilation) * inner + j;
                const __m512 wt = _mm512_set1_ps(w[t]);
                a0 = _mm512_fmadd_ps(wt, _mm512_maskz_loadu_ps(m0, row), a0);
                a1 = _mm512_fmadd_ps(wt, _mm512_maskz_loadu_ps(m1, row + 16), a1);
                a2 = _mm512_fmadd_ps(wt, _mm512_maskz_loadu_ps(m2, row + 32), a2);
                a3 = _mm512_fmadd_ps(wt, _mm512_maskz_loadu_ps(m3, row + 48), a3);
            }
            float *out = dst + (ptrdiff_t)o * inner + j;
            _mm512_mask_storeu_ps(out, m0, a0);
            _mm512_mask_storeu_ps(out + 16, m1, a1);
            _mm512_mask_storeu_ps(out + 32, m2, a2);
            _mm512_mask_storeu_ps(out + 48, m3, a3);
        }
    }
}

/// One vector of line outputs [o, o + 16) ∩ [0, out_size) that reaches a line end.
static inline FCK_AVX512 void line_edge_vector(const float *src, float *dst, ptrdiff_t o, ptrdiff_t size,
                                               ptrdiff_t out_size, const float *w, int taps, ptrdiff_t pad,
                                               ptrdiff_t dilation) {
    _mm512_mask_storeu_ps(dst + o, fck_lanes_inside(o, out_size),
                          fck_line_edge_sum(src, o, size, out_size, w, taps, pad, dilation));
}

/// The vectors of outputs [o, end) (end − o a multiple of 16) whose every tap lies inside the
/// line: no masks, the weights in registers. Inlined with a constant `taps` (line_mode's switch),
/// so that the tap loop unrolls and the weights stay in registers.
static inline __attribute__((always_inline)) FCK_AVX512 void line_interior(const float *src, float *dst, ptrdiff_t o,
                                                                           ptrdiff_t end, const float *w, int taps,
                                                                           ptrdiff_t pad, ptrdiff_t dilation) {
    __m512 weight[FCK_LINE_UNROLLED_TAPS];
    for (int t = 0; t < taps && t < FCK_LINE_UNROLLED_TAPS; t++) weight[t] = _mm512_set1_ps(w[t]);
    for (; o < end; o += 16) {
        const float *s = src + o - pad;
        __m512 acc = _mm512_setzero_ps();
        for (int t = 0; t < taps; t++) {
            const __m512 wt = t < FCK_LINE_UNROLLED_TAPS ? weight[t] : _mm512_set1_ps(w[t]);
            acc = _mm512_fmadd_ps(wt, _mm512_loadu_ps(s + t * dilation), acc);
        }
        _mm512_storeu_ps(dst + o, acc);
    }
}

/// One line at stride 1 (an innermost mode, or a narrow outer mode's block flattened): 16
/// outputs per vector. Only the vectors that reach past either end of the line, or of the
/// output, are masked (line_edge_vector); the rest run unmasked (line_interior), which halves
/// the time of a masked loop on every vector on short lines. Positions are ptrdiff_t: with a huge
/// padding, t · dilation − pad overflows int.
static FCK_AVX512 void line_mode(const float *src, float *dst, ptrdiff_t size, ptrdiff_t out_size, const float *w,
                                 int taps, ptrdiff_t pad, ptrdiff_t dilation) {
    // Interior vectors start at o ≥ pad (first tap inside) and end by both ends: o + 16 ≤
    // out_size and o + (taps − 1) · dilation − pad + 16 ≤ size.
    const ptrdiff_t begin = (pad + 15) / 16 * 16;
    ptrdiff_t end = size - (ptrdiff_t)(taps - 1) * dilation + pad - 15;
    if (end > out_size - 15) end = out_size - 15;
    ptrdiff_t o = 0;
    for (; o < out_size && o < begin; o += 16) line_edge_vector(src, dst, o, size, out_size, w, taps, pad, dilation);
    if (end > o) {
        end = o + (end - o + 15) / 16 * 16;
        switch (taps) {
        case 1: line_interior(src, dst, o, end, w, 1, pad, dilation); break;
        case 2: line_interior(src, dst, o, end, w, 2, pad, dilation); break;
        case 3: line_interior(src, dst, o, end, w, 3, pad, dilation); break;
        case 4: line_interior(src, dst, o, end, w, 4, pad, dilation); break;
        case 5: line_interior(src, dst, o, end, w, 5, pad, dilation); break;
        case 7: line_interior(src, dst, o, end, w, 7, pad, dilation); break;
        default: line_interior(src, dst, o, end, w, taps, pad, dilation); break;
        }
        o = end;
    }
    for (; o < out_size; o += 16) line_edge_vector(src, dst, o, size, out_size, w, taps, pad, dilation);
}

/// One vector of same_lines_mode: outputs [p, p + 16) ∩ `out`, lane j of column column[j].
/// Tap t reaches lanes whose column lies in [low[t], low[t] + span[t]) — one unsigned compare of
/// column − low[t] — and reads src + p + shift[t]: masked when `edge` (the read may pass the
/// run's ends), else unmasked, the mask then selecting in the multiply-add.
static inline __attribute__((always_inline)) FCK_AVX512 void same_lines_vector(
    const float *src, float *dst, ptrdiff_t p, __m512i column, __mmask16 out, const __m512 *weight,
    const __m512i *low, const __m512i *span, const ptrdiff_t *shift, int taps, int edge) {
    __m512 acc = _mm512_setzero_ps();
    for (int t = 0; t < taps; t++) {
        // The centre tap (no shift) reaches every lane: no compare.
        const __mmask16 inside = shift[t] == 0 ? out
                                               : _mm512_mask_cmplt_epu32_mask(out, _mm512_sub_epi32(column, low[t]), span[t]);
        if (edge) acc = _mm512_fmadd_ps(weight[t], _mm512_maskz_loadu_ps(inside, src + p + shift[t]), acc);
        else acc = _mm512_mask3_fmadd_ps(weight[t], _mm512_loadu_ps(src + p + shift[t]), acc, inside);
    }
    _mm512_mask_storeu_ps(dst + p, out, acc);
}

/// same_lines_mode's loop over the run, inlined with a constant `taps` (its switch) so that the
/// per-tap loops unroll and their constants stay in registers. Away from the run's ends every
/// lane is an output and every load in bounds: those vectors run without the output mask.
static inline __attribute__((always_inline)) FCK_AVX512 void same_lines_run(const float *src, float *dst,
                                                                            ptrdiff_t count, int size, const float *w,
                                                                            int taps, int pad, int dilation) {
    __m512 weight[FCK_LINE_UNROLLED_TAPS];
    __m512i low[FCK_LINE_UNROLLED_TAPS], span[FCK_LINE_UNROLLED_TAPS];
    ptrdiff_t shift[FCK_LINE_UNROLLED_TAPS];
    for (int t = 0; t < taps; t++) {
        const ptrdiff_t s = (ptrdiff_t)t * dilation - pad, reach = s < 0 ? -s : s;
        weight[t] = _mm512_set1_ps(w[t]);
        // Columns c with 0 ≤ c + s < size: [low, low + span), empty for a tap beyond the line.
        low[t] = _mm512_set1_epi32(s < 0 && reach < size ? (int)reach : 0);
        span[t] = _mm512_set1_epi32(reach < size ? size - (int)reach : 0);
        shift[t] = s;
    }
    // Lane j's column is j mod size, counted up: 16 divisions cost as much as a 14 × 14 mode.
    int lane_columns[16], c = 0;
    for (int j = 0; j < 16; j++, c = c + 1 == size ? 0 : c + 1) lane_columns[j] = c;
    __m512i column = _mm512_loadu_si512(lane_columns);
    const __m512i step = _mm512_set1_epi32(c), width = _mm512_set1_epi32(size);   // c = 16 mod size
    const ptrdiff_t lowest = shift[0] < 0 ? shift[0] : 0, highest = shift[taps - 1] > 0 ? shift[taps - 1] : 0;
    for (ptrdiff_t p = 0; p < count; p += 16) {
        if (p + lowest < 0 || p + 16 + highest > count)
            same_lines_vector(src, dst, p, column, fck_first_vector((int)(count - p < 16 ? count - p : 16)), weight, low,
                              span, shift, taps, 1);
        else
            same_lines_vector(src, dst, p, column, 0xFFFF, weight, low, span, shift, taps, 0);
        column = _mm512_add_epi32(column, step);
        column = _mm512_mask_sub_epi32(column, _mm512_cmpge_epi32_mask(column, width), column, width);
    }
}

/// same_lines_run for a fixed number of taps, as a function of its own: called from one switch
/// with constants, the instances were merged back into one with a run-time count (not unrolled).
#define FCK_SAME_LINES(TAPS) \
    static __attribute__((noinline)) FCK_AVX512 void same_lines_##TAPS(const float *src, float *dst, ptrdiff_t count, \
                                                                        int size, const float *w, int pad, int dilation) { \
        same_lines_run(src, dst, count, size, w, TAPS, pad, dilation); \
    }
FCK_SAME_LINES(2)
FCK_SAME_LINES(3)
FCK_SAME_LINES(5)
FCK_SAME_LINES(7)

/// Innermost mode of `lines` lines of `size`, stride 1 and as long as their input (same
/// padding): all lines as one flat run, 16 outputs per vector across line ends, each lane masked
/// by its own column (`column` holds each lane's column, advanced by 16 mod size per vector).
/// Short lines gain most, since line by line they waste most lanes at their ends; one compare
/// per tap, the taps unrolled, and no divisions.
static FCK_AVX512 void same_lines_mode(const float *src, float *dst, int lines, int size, const float *w, int taps,
                                       int pad, int dilation) {
    const ptrdiff_t count = (ptrdiff_t)lines * size;
    switch (taps) {
    case 2: same_lines_2(src, dst, count, size, w, pad, dilation); break;
    case 3: same_lines_3(src, dst, count, size, w, pad, dilation); break;
    case 5: same_lines_5(src, dst, count, size, w, pad, dilation); break;
    case 7: same_lines_7(src, dst, count, size, w, pad, dilation); break;
    default:
        if (taps <= FCK_LINE_UNROLLED_TAPS) {
            same_lines_run(src, dst, count, size, w, taps, pad, dilation);
        } else {   // more taps than same_lines_run holds in registers: line by line
            for (int l = 0; l < lines; l++)
                line_mode(src + (ptrdiff_t)l * size, dst + (ptrdiff_t)l * size, size, size, w, taps, pad, dilation);
        }
        break;
    }
}

FCK_AVX512 void fck_depthwise_mode(const float *src, float *dst, int outer, int size, int inner, int out_size,
                                   const float *w, int taps, int stride, int pad, int dilation) {
    const ptrdiff_t in_block = (ptrdiff_t)size * inner, out_block = (ptrdiff_t)out_size * inner;
    if (inner == 1 && stride == 1 && out_size == size && outer > 1) {
        same_lines_mode(src, dst, outer, size, w, taps, pad, dilation);
        return;
    }
    // At stride 1, an output row's source rows are whole-row shifts of it, so a block of rows is
    // one flat line with pad and dilation scaled by `inner`. For rows of up to 64 floats that
    // beats rows_mode, which wastes lanes of its 64 columns; for longer rows rows_mode is faster.
    const int flat = inner > 1 && inner <= 64 && stride == 1;
    for (int b = 0; b < outer; b++) {
        const float *s = src + b * in_block;
        float *d = dst + b * out_block;
        if (flat) {
            line_mode(s, d, in_block, out_block, w, taps, (ptrdiff_t)pad * inner, (ptrdiff_t)dilation * inner);
        } else if (inner > 1) {
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
