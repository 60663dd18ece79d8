// fck_mode_conv for CPUs with AVX2 and FMA but no AVX-512 (factorconv_kernels.h): the same
// result, vectorized over positions with two 8-float vectors (16 outputs) per pass and a group of
// up to 6 output channels per pass, so that each loaded input vector and each broadcast weight
// feed two to six multiply-adds and at least 8 independent sums hide the multiply-add latency
// (16 vector registers: 12 sums, 2 inputs, 1 weight).
//
// At stride 1 a block of `size` rows of `inner` floats is one flat line of size · inner inputs
// whose taps shift by whole rows (pad and dilation scaled by `inner`): a row outside [0, size)
// is exactly a flat index outside the line, so only the vectors near the line's two ends need
// masks. Short lines of the innermost mode that keep their length (a 'same' conv) run all
// together as one flat run masked per lane to each output's own line. A strided mode (inner > 1)
// goes row by row, `inner` columns per row.
#include "factorconv_kernels.h"
#include "kernels_common.h"

#if defined(__x86_64__)

/// What the pass kernels read for one pair of output vectors. Tap t (t0 ≤ t < t1; the taps
/// outside read nothing but zeros) of input channel c reads src + c · in_cs + offset[t] (vector 0)
/// and 8 floats further (vector 1); in the masked kernels under mask0[t] and mask1[t], the
/// outputs stored whole where stored0 (stored1) is FCK_WHOLE, under out0 (out1) where it is
/// FCK_PART, not at all where it is 0. Weight (o, c, t) is w[(o · cin + c) · taps + t].
typedef struct {
    const float *src;
    ptrdiff_t in_cs;
    int cin, taps, t0, t1;
    const ptrdiff_t *offset;
    const __m256i *mask0, *mask1;
    __m256i out0, out1;
    int stored0, stored1;
    const float *w, *bias;
    ptrdiff_t out_cs;
} mode_pass;

/// How much of an output vector a masked pass stores. A masked store only where it must: on
/// some CPUs (AMD's) it is many times slower than a whole one, and most masked passes (a line's
/// first, whose inputs start in the padding) store whole vectors.
enum { FCK_PART = 1, FCK_WHOLE = 2 };

/// The input vectors of tap t at channel pointer p: whole (FULL) or masked.
#define FCK_LOAD0_FULL(p, t) _mm256_loadu_ps(p)
#define FCK_LOAD1_FULL(p, t) _mm256_loadu_ps((p) + 8)
#define FCK_LOAD0_MASKED(p, t) _mm256_maskload_ps(p, a->mask0[t])
#define FCK_LOAD1_MASKED(p, t) _mm256_maskload_ps((p) + 8, a->mask1[t])
#define FCK_STORE0_FULL(p, v) _mm256_storeu_ps(p, v)
#define FCK_STORE1_FULL(p, v) _mm256_storeu_ps((p) + 8, v)
#define FCK_STORE0_MASKED(p, v) { if (a->stored0 == FCK_WHOLE) _mm256_storeu_ps(p, v); \
    else if (a->stored0 == FCK_PART) _mm256_maskstore_ps(p, a->out0, v); }
#define FCK_STORE1_MASKED(p, v) { if (a->stored1 == FCK_WHOLE) _mm256_storeu_ps((p) + 8, v); \
    else if (a->stored1 == FCK_PART) _mm256_maskstore_ps((p) + 8, a->out1, v); }

/// Output channel o0 + q: sums x##q (vector 0) and y##q (vector 1), started at its bias.
#define FCK_GROUP_INIT(q) __m256 x##q = _mm256_set1_ps(a->bias ? a->bias[o0 + (q)] : 0.0f), y##q = x##q;
#define FCK_GROUP_FMA(q) { const __m256 wq = _mm256_broadcast_ss(wt + (q) * wq_stride); \
    x##q = _mm256_fmadd_ps(wq, v0, x##q); y##q = _mm256_fmadd_ps(wq, v1, y##q); }

/// NO (4–6) output channels of one pair of vectors, one sum per channel and vector.
#define FCK_GROUP(NO, EACH, KIND) \
    static FCK_AVX2 void group_##NO##_##KIND(const mode_pass *a, int o0, float *dst) { \
        const ptrdiff_t wq_stride = (ptrdiff_t)a->cin * a->taps; \
        EACH(FCK_GROUP_INIT) \
        for (int c = 0; c < a->cin; c++) { \
            const float *channel = a->src + c * a->in_cs; \
            for (int t = a->t0; t < a->t1; t++) { \
                const float *p = channel + a->offset[t]; \
                const __m256 v0 = FCK_LOAD0_##KIND(p, t), v1 = FCK_LOAD1_##KIND(p, t); \
                const float *wt = a->w + ((ptrdiff_t)o0 * a->cin + c) * a->taps + t; \
                EACH(FCK_GROUP_FMA) \
            } \
        } \
        EACH(FCK_GROUP_STORE_##KIND) \
    }
#define FCK_GROUP_STORE_FULL(q) FCK_STORE0_FULL(dst + (q) * a->out_cs, x##q); FCK_STORE1_FULL(dst + (q) * a->out_cs, y##q);
#define FCK_GROUP_STORE_MASKED(q) FCK_STORE0_MASKED(dst + (q) * a->out_cs, x##q); \
    FCK_STORE1_MASKED(dst + (q) * a->out_cs, y##q);

/// With fewer than 4 output channels one sum per channel and vector would be a chain of
/// dependent multiply-adds bound by their latency: two partial sums per channel and vector
/// instead, over the even (x, y) and odd (u, z) input channels, added at the store.
#define FCK_SPLIT_INIT(q) __m256 x##q = _mm256_set1_ps(a->bias ? a->bias[o0 + (q)] : 0.0f), y##q = x##q, \
    u##q = _mm256_setzero_ps(), z##q = u##q;
#define FCK_SPLIT_FMA(q) { const __m256 wq = _mm256_broadcast_ss(wt + (q) * wq_stride), \
    wr = _mm256_broadcast_ss(wt + (q) * wq_stride + a->taps); \
    x##q = _mm256_fmadd_ps(wq, v0, x##q); y##q = _mm256_fmadd_ps(wq, v1, y##q); \
    u##q = _mm256_fmadd_ps(wr, r0, u##q); z##q = _mm256_fmadd_ps(wr, r1, z##q); }
#define FCK_SPLIT_STORE(q, KIND) FCK_STORE0_##KIND(dst + (q) * a->out_cs, _mm256_add_ps(x##q, u##q)); \
    FCK_STORE1_##KIND(dst + (q) * a->out_cs, _mm256_add_ps(y##q, z##q));
#define FCK_SPLIT_STORE_FULL(q) FCK_SPLIT_STORE(q, FULL)
#define FCK_SPLIT_STORE_MASKED(q) FCK_SPLIT_STORE(q, MASKED)

/// NO (2–3) output channels of one pair of vectors with the split sums above; an odd last input
/// channel goes to the even sums.
#define FCK_SPLIT_GROUP(NO, EACH, KIND) \
    static FCK_AVX2 void group_##NO##_##KIND(const mode_pass *a, int o0, float *dst) { \
        const ptrdiff_t wq_stride = (ptrdiff_t)a->cin * a->taps; \
        EACH(FCK_SPLIT_INIT) \
        int c = 0; \
        for (; c + 2 <= a->cin; c += 2) { \
            const float *channel = a->src + c * a->in_cs; \
            for (int t = a->t0; t < a->t1; t++) { \
                const float *p = channel + a->offset[t], *p1 = p + a->in_cs; \
                const __m256 v0 = FCK_LOAD0_##KIND(p, t), v1 = FCK_LOAD1_##KIND(p, t), \
                             r0 = FCK_LOAD0_##KIND(p1, t), r1 = FCK_LOAD1_##KIND(p1, t); \
                const float *wt = a->w + ((ptrdiff_t)o0 * a->cin + c) * a->taps + t; \
                EACH(FCK_SPLIT_FMA) \
            } \
        } \
        for (; c < a->cin; c++) { \
            const float *channel = a->src + c * a->in_cs; \
            for (int t = a->t0; t < a->t1; t++) { \
                const float *p = channel + a->offset[t]; \
                const __m256 v0 = FCK_LOAD0_##KIND(p, t), v1 = FCK_LOAD1_##KIND(p, t); \
                const float *wt = a->w + ((ptrdiff_t)o0 * a->cin + c) * a->taps + t; \
                EACH(FCK_GROUP_FMA) \
            } \
        } \
        EACH(FCK_SPLIT_STORE_##KIND) \
    }

/// One output channel: four partial sums per vector (x0–x3, y0–y3), over the input channels c mod 4.
#define FCK_SINGLE_FMA(s, KIND) { const float *p = channel + (s) * a->in_cs + a->offset[t]; \
    const __m256 wq = _mm256_broadcast_ss(wt + (s) * a->taps); \
    x##s = _mm256_fmadd_ps(wq, FCK_LOAD0_##KIND(p, t), x##s); y##s = _mm256_fmadd_ps(wq, FCK_LOAD1_##KIND(p, t), y##s); }
#define FCK_SINGLE_FMA_FULL(s) FCK_SINGLE_FMA(s, FULL)
#define FCK_SINGLE_FMA_MASKED(s) FCK_SINGLE_FMA(s, MASKED)
#define FCK_SINGLE(KIND) \
    static FCK_AVX2 void group_1_##KIND(const mode_pass *a, int o0, float *dst) { \
        const float *w = a->w + (ptrdiff_t)o0 * a->cin * a->taps; \
        __m256 x0 = _mm256_set1_ps(a->bias ? a->bias[o0] : 0.0f), y0 = x0; \
        __m256 x1 = _mm256_setzero_ps(), x2 = x1, x3 = x1, y1 = x1, y2 = x1, y3 = x1; \
        int c = 0; \
        for (; c + 4 <= a->cin; c += 4) { \
            const float *channel = a->src + c * a->in_cs; \
            for (int t = a->t0; t < a->t1; t++) { \
                const float *wt = w + (ptrdiff_t)c * a->taps + t; \
                FCK_SINGLE_FMA_##KIND(0) FCK_SINGLE_FMA_##KIND(1) FCK_SINGLE_FMA_##KIND(2) FCK_SINGLE_FMA_##KIND(3) \
            } \
        } \
        for (; c < a->cin; c++) { \
            const float *channel = a->src + c * a->in_cs; \
            for (int t = a->t0; t < a->t1; t++) { \
                const float *wt = w + (ptrdiff_t)c * a->taps + t; \
                FCK_SINGLE_FMA_##KIND(0) \
            } \
        } \
        FCK_STORE0_##KIND(dst, _mm256_add_ps(_mm256_add_ps(x0, x1), _mm256_add_ps(x2, x3))); \
        FCK_STORE1_##KIND(dst, _mm256_add_ps(_mm256_add_ps(y0, y1), _mm256_add_ps(y2, y3))); \
    }

#define FCK_ALL_GROUPS(KIND) \
    FCK_SINGLE(KIND) \
    FCK_SPLIT_GROUP(2, FCK_EACH_2, KIND) \
    FCK_SPLIT_GROUP(3, FCK_EACH_3, KIND) \
    FCK_GROUP(4, FCK_EACH_4, KIND) \
    FCK_GROUP(5, FCK_EACH_5, KIND) \
    FCK_GROUP(6, FCK_EACH_6, KIND)
FCK_ALL_GROUPS(FULL)
FCK_ALL_GROUPS(MASKED)

typedef void (*group_fn)(const mode_pass *, int, float *);
/// The group kernels by number of output channels (index 1–6): every lane whole, or masked.
static const group_fn full_groups[7] = {0, group_1_FULL, group_2_FULL, group_3_FULL, group_4_FULL, group_5_FULL,
                                        group_6_FULL};
static const group_fn masked_groups[7] = {0, group_1_MASKED, group_2_MASKED, group_3_MASKED, group_4_MASKED,
                                          group_5_MASKED, group_6_MASKED};

/// All `cout` output channels of one pair of vectors (outputs at dst + o · out_cs): as few groups
/// as 6 channels allow, of balanced sizes (22 as 6 + 6 + 5 + 5).
static FCK_AVX2 void pass(const mode_pass *a, int masked, int cout, float *dst) {
    const group_fn *kernels = masked ? masked_groups : full_groups;
    const int groups = (cout + 5) / 6;
    for (int g = 0, o = 0; g < groups; g++) {
        const int n = (cout - o) / (groups - g);
        kernels[n](a, o, dst + (ptrdiff_t)o * a->out_cs);
        o += n;
    }
}

/// How much of the output vector of outputs [o, o + 8) is stored when there are n outputs.
static inline int stored(ptrdiff_t o, ptrdiff_t n) { return o + 8 <= n ? FCK_WHOLE : o < n ? FCK_PART : 0; }

/// A flat line at stride 1: output o (< out_size) sums tap t's input o − pad + t · dilation over
/// the inputs inside [0, size). Pairs of vectors whose every tap lies inside, with 16 outputs,
/// run unmasked; the rest masked, each tap over its lanes inside.
static FCK_AVX2 void line(mode_pass *a, int cout, float *dst, ptrdiff_t size, ptrdiff_t out_size, ptrdiff_t pad,
                          ptrdiff_t dilation) {
    ptrdiff_t offset[FCK_MODE_CONV_MAX_TAPS];
    __m256i mask0[FCK_MODE_CONV_MAX_TAPS], mask1[FCK_MODE_CONV_MAX_TAPS];
    a->offset = offset;
    a->mask0 = mask0;
    a->mask1 = mask1;
    const ptrdiff_t reach = (ptrdiff_t)(a->taps - 1) * dilation;    // from the first tap's input to the last's
    for (ptrdiff_t o = 0; o < out_size; o += 16) {
        const ptrdiff_t first = o - pad;                              // tap 0's input of output o
        for (int t = 0; t < a->taps; t++) offset[t] = first + (ptrdiff_t)t * dilation;
        if (first >= 0 && first + reach + 16 <= size && o + 16 <= out_size) {
            a->t0 = 0;
            a->t1 = a->taps;
            pass(a, 0, cout, dst + o);
            continue;
        }
        // Taps whose 16 inputs reach into [0, size): a contiguous run, the inputs rising with t.
        int t0 = 0, t1 = a->taps;
        while (t0 < t1 && offset[t0] + 16 <= 0) t0++;
        while (t1 > t0 && offset[t1 - 1] >= size) t1--;
        a->out0 = fck_avx2_lanes_inside(o, out_size);
        a->out1 = fck_avx2_lanes_inside(o + 8, out_size);
        a->stored0 = stored(o, out_size);
        a->stored1 = stored(o + 8, out_size);
        for (int t = t0; t < t1; t++) {
            mask0[t] = _mm256_and_si256(fck_avx2_lanes_inside(offset[t], size), a->out0);
            mask1[t] = _mm256_and_si256(fck_avx2_lanes_inside(offset[t] + 8, size), a->out1);
        }
        a->t0 = t0;
        a->t1 = t1;
        pass(a, 1, cout, dst + o);
    }
}

/// A strided mode of rows of `inner` > 1 floats: output row r sums tap t's input row
/// r · stride − pad + t · dilation over the rows inside [0, size), 16 columns per pass, the last
/// pass of a row masked when `inner` is not a multiple of 16.
static FCK_AVX2 void rows(mode_pass *a, int cout, float *dst, int size, ptrdiff_t inner, int out_size, int stride,
                          int pad, int dilation) {
    ptrdiff_t offset[FCK_MODE_CONV_MAX_TAPS];
    __m256i mask0[FCK_MODE_CONV_MAX_TAPS], mask1[FCK_MODE_CONV_MAX_TAPS];
    a->offset = offset;
    a->mask0 = mask0;
    a->mask1 = mask1;
    for (int r = 0; r < out_size; r++) {
        const ptrdiff_t base = (ptrdiff_t)r * stride - pad;
        int t0 = 0, t1 = a->taps;
        while (t0 < t1 && base + (ptrdiff_t)t0 * dilation < 0) t0++;
        while (t1 > t0 && base + (ptrdiff_t)(t1 - 1) * dilation >= size) t1--;
        a->t0 = t0;
        a->t1 = t1;
        for (ptrdiff_t j = 0; j < inner; j += 16) {
            for (int t = t0; t < t1; t++) offset[t] = (base + (ptrdiff_t)t * dilation) * inner + j;
            float *d = dst + (ptrdiff_t)r * inner + j;
            if (j + 16 <= inner) {
                pass(a, 0, cout, d);
                continue;
            }
            a->out0 = fck_avx2_lanes(0, inner - j);
            a->out1 = fck_avx2_lanes(0, inner - j - 8);
            a->stored0 = stored(j, inner);
            a->stored1 = stored(j + 8, inner);
            for (int t = t0; t < t1; t++) {
                mask0[t] = a->out0;
                mask1[t] = a->out1;
            }
            pass(a, 1, cout, d);
        }
    }
}

/// Lines of the innermost mode shorter than this, whose outputs keep their length, run as one
/// flat run (short_lines): on a short line the masked passes at both ends, one of them partly
/// empty, are most of the work.
#define FCK_SHORT_LINE 128

/// All `outer` lines of `size` inputs of the innermost mode at stride 1 with out_size = size, as
/// one flat run of outer · size outputs: output p reads tap t's input p − pad + t · dilation,
/// masked per lane to the inputs of its own line (column p mod size). Every pass is masked and
/// stores whole vectors, but none straddles a line's end half empty.
static FCK_AVX2 void short_lines(mode_pass *a, int cout, float *dst, int outer, int size, int pad, int dilation) {
    ptrdiff_t offset[FCK_MODE_CONV_MAX_TAPS];
    __m256i mask0[FCK_MODE_CONV_MAX_TAPS], mask1[FCK_MODE_CONV_MAX_TAPS];
    a->offset = offset;
    a->mask0 = mask0;
    a->mask1 = mask1;
    a->t0 = 0;
    a->t1 = a->taps;
    const ptrdiff_t total = (ptrdiff_t)outer * size;
    int column[16];                                   // the column in its line of each output of a pass
    for (int j = 0; j < 16; j++) column[j] = j % size;
    for (ptrdiff_t p = 0; p < total; p += 16) {
        const __m256i col0 = _mm256_loadu_si256((const __m256i *)column),
                      col1 = _mm256_loadu_si256((const __m256i *)(column + 8));
        a->out0 = fck_avx2_lanes_inside(p, total);
        a->out1 = fck_avx2_lanes_inside(p + 8, total);
        a->stored0 = stored(p, total);
        a->stored1 = stored(p + 8, total);
        for (int t = 0; t < a->taps; t++) {
            // Tap t of column x reads column x + shift of the same line: inside when
            // −shift ≤ x < size − shift.
            const int shift = t * dilation - pad;
            const __m256i low = _mm256_set1_epi32(-shift - 1), high = _mm256_set1_epi32(size - shift);
            offset[t] = p + shift;
            mask0[t] = _mm256_and_si256(_mm256_and_si256(_mm256_cmpgt_epi32(col0, low), _mm256_cmpgt_epi32(high, col0)),
                                        a->out0);
            mask1[t] = _mm256_and_si256(_mm256_and_si256(_mm256_cmpgt_epi32(col1, low), _mm256_cmpgt_epi32(high, col1)),
                                        a->out1);
        }
        pass(a, 1, cout, dst + p);
        for (int j = 0; j < 16; j++) {
            column[j] += 16;
            while (column[j] >= size) column[j] -= size;
        }
    }
}

FCK_AVX2 int fck_mode_conv_avx2(const float *in, int cin, ptrdiff_t in_cs, float *out, int cout, ptrdiff_t out_cs,
                                int outer, int size, int inner, int out_size, const float *w, int taps, int stride,
                                int pad, int dilation, const float *bias) {
    if (taps > FCK_MODE_CONV_MAX_TAPS || (inner == 1 && stride != 1)) return -1;
    mode_pass a = {.in_cs = in_cs, .cin = cin, .taps = taps, .w = w, .bias = bias, .out_cs = out_cs};
    if (inner == 1 && out_size == size && size < FCK_SHORT_LINE && outer > 1) {
        a.src = in;
        short_lines(&a, cout, out, outer, size, pad, dilation);
        return 0;
    }
    const ptrdiff_t in_block = (ptrdiff_t)size * inner, out_block = (ptrdiff_t)out_size * inner;
    for (int b = 0; b < outer; b++) {
        a.src = in + b * in_block;
        float *dst = out + b * out_block;
        if (stride == 1)
            line(&a, cout, dst, in_block, out_block, (ptrdiff_t)pad * inner, (ptrdiff_t)dilation * inner);
        else
            rows(&a, cout, dst, size, inner, out_size, stride, pad, dilation);
    }
    return 0;
}

#else
// Not reached: callers check fck_avx2_available(), which is 0 off x86-64.
int fck_mode_conv_avx2(const float *in, int cin, ptrdiff_t in_cs, float *out, int cout, ptrdiff_t out_cs, int outer,
                       int size, int inner, int out_size, const float *w, int taps, int stride, int pad, int dilation,
                       const float *bias) {
    (void)in; (void)cin; (void)in_cs; (void)out; (void)cout; (void)out_cs; (void)outer; (void)size; (void)inner;
    (void)out_size; (void)w; (void)taps; (void)stride; (void)pad; (void)dilation; (void)bias;
    return -1;
}
#endif
