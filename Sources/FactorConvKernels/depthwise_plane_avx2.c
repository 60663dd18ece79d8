// fck_depthwise_plane_avx2 and fck_depthwise_2d_avx2 of factorconv_kernels.h: the one-pass
// depthwise convolution over the last two modes for CPUs with AVX2 and FMA but no AVX-512, the
// same contracts as fck_depthwise_plane and fck_depthwise_2d (depthwise_plane.c).
//
// A plane is handled as one flat line of rows · width floats, 8 per vector whatever the width,
// so that a narrow plane (7 or 14 columns) packs several rows into each vector instead of
// leaving ragged tails. Its output rows go in blocks of whole rows: first along the rows (tap t
// is a shift by whole rows, masked only in the vectors that reach past the plane's ends) into a
// small buffer that stays in L1, then along the columns, each tap an unaligned load from that
// buffer at its column shift whose lanes that would cross into a neighbouring row are zeroed by
// a mask. The masks repeat with the lanes' columns, every width / gcd(width, 8) vectors, and are
// tabulated once per call by phase. A separable kernel needs one row sum per position, a full
// k_r × k_c kernel one per column tap (carrying that column's weights).
#include "factorconv_kernels.h"
#include "kernels_common.h"
#include "depthwise_plane_call.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/// Taps each pass handles (their weights live in registers).
#define PLANE_MAX_TAPS 8
/// Farthest a column tap may reach (the buffer's guard covers it).
#define PLANE_MAX_SHIFT 16
/// Most vectors before the lanes' columns repeat (width / gcd(width, 8)): the masks of every
/// phase are tabulated, 32 bytes per phase and tap.
#define PLANE_MAX_PERIOD 64
/// Row sums a block aims at in all (a multiple of the lanes' period span is taken).
#define PLANE_BLOCK 1024
/// Floats around each row sum's block in the buffer: a column tap reads up to PLANE_MAX_SHIFT
/// before the block, and the last vector up to 7 past it plus the shift after.
#define PLANE_GUARD 24

#if defined(__x86_64__)

int fck_depthwise_plane_avx2_handles(int width, int taps_rows, int dil_rows, int taps_cols, int pad_cols,
                                     int dil_cols) {
    if (width < 1) return 0;
    int g = 8;
    while (width % g) g /= 2;
    // 'Same' columns: 2 · pad = (taps − 1) · dil ≤ 32.
    return taps_rows >= 1 && taps_rows <= PLANE_MAX_TAPS && taps_cols >= 1 && taps_cols <= PLANE_MAX_TAPS &&
           dil_rows >= 1 && dil_cols >= 1 && pad_cols <= PLANE_MAX_SHIFT &&
           2 * (ptrdiff_t)pad_cols == (ptrdiff_t)(taps_cols - 1) * dil_cols && width / g <= PLANE_MAX_PERIOD;
}

/// What a call's planes share.
typedef struct {
    ptrdiff_t size, count;                  // a plane's inputs (rows · width) and outputs (out_rows · width)
    ptrdiff_t row_shift[PLANE_MAX_TAPS];    // row tap t reads (t · dil_rows − pad_rows) · width floats away
    ptrdiff_t column_shift[PLANE_MAX_TAPS]; // column tap t reads t · dil_cols − pad_cols floats away
    ptrdiff_t block;                        // outputs per block: whole rows, a whole number of periods
    ptrdiff_t stride;                       // floats from one row sum's block to the next in `buffer`
    int period, accumulate;
    const int32_t (*reaches)[PLANE_MAX_TAPS][8];   // per phase and column tap: −1 in the lanes it reaches
    float *buffer;                          // the row sums, sum g's block at buffer + g · stride
} plane_shape;

/// Broadcast weights of one channel: row sum g's row taps, and each column tap's weight (1 for
/// a full kernel, whose row sums carry the weights).
typedef struct {
    __m256 rows[PLANE_MAX_TAPS][PLANE_MAX_TAPS];
    __m256 columns[PLANE_MAX_TAPS];
} plane_weights;

/// Row sums of outputs [q, q + 8) of a plane of `size` inputs into acc[0..sums): every tap's
/// vector inside the plane (`interior`), or each tap's lanes inside it loaded and the rest zero
/// (a tap outside adds nothing: fma(w, 0, acc) = acc).
static inline __attribute__((always_inline)) FCK_AVX2 void row_vector(
    const float *src, ptrdiff_t size, const ptrdiff_t *shift, const __m256 (*weight)[PLANE_MAX_TAPS], int taps,
    int sums, ptrdiff_t q, int interior, __m256 *acc) {
    for (int g = 0; g < sums; g++) acc[g] = _mm256_setzero_ps();
    for (int t = 0; t < taps; t++) {
        const ptrdiff_t first = q + shift[t];
        __m256 v;
        if (interior) {
            v = _mm256_loadu_ps(src + first);
        } else {
            if (first >= size || first + 8 <= 0) continue;
            v = _mm256_maskload_ps(src + first, fck_avx2_lanes_inside(first, size));
        }
        for (int g = 0; g < sums; g++) acc[g] = _mm256_fmadd_ps(weight[g][t], v, acc[g]);
    }
}

/// One plane: `src` (rows · width) into `dst` (out_rows · width). The tap counts are constants
/// where inlined into an instance below, so that the tap loops unroll. The shape and weights are
/// copied into locals first: the vector stores may alias anything, and would otherwise make the
/// compiler reload them after every store.
static inline __attribute__((always_inline)) FCK_AVX2 void plane_run(const float *src, float *dst,
                                                                     const plane_shape *sh, const plane_weights *pw,
                                                                     int taps_rows, int taps_cols, int sums) {
    const ptrdiff_t size = sh->size, count = sh->count, block = sh->block, stride = sh->stride;
    const int period = sh->period, accumulate = sh->accumulate;
    const int32_t (*const reaches)[PLANE_MAX_TAPS][8] = sh->reaches;
    float *const buffer = sh->buffer;
    ptrdiff_t row_shift[PLANE_MAX_TAPS], column_shift[PLANE_MAX_TAPS];
    __m256 row_weight[PLANE_MAX_TAPS][PLANE_MAX_TAPS], column_weight[PLANE_MAX_TAPS];
    for (int t = 0; t < taps_rows; t++) row_shift[t] = sh->row_shift[t];
    for (int t = 0; t < taps_cols; t++) column_shift[t] = sh->column_shift[t], column_weight[t] = pw->columns[t];
    for (int g = 0; g < sums; g++)
        for (int t = 0; t < taps_rows; t++) row_weight[g][t] = pw->rows[g][t];
    // Row vectors q with every tap inside the plane: q + row_shift[0] ≥ 0, q + 8 + row_shift[last] ≤ size.
    const ptrdiff_t interior_lo = -row_shift[0], interior_hi = size - row_shift[taps_rows - 1] - 8;
    for (ptrdiff_t b0 = 0; b0 < count; b0 += block) {
        const ptrdiff_t n = count - b0 < block ? count - b0 : block;
        // Along the rows: row sums of outputs [b0, b0 + n), whole vectors (the last one's extra
        // lanes land in the block's room or guard and are never used unmasked).
        for (ptrdiff_t q = 0; q < n; q += 8) {
            __m256 acc[PLANE_MAX_TAPS];
            const ptrdiff_t at = b0 + q;
            if (at >= interior_lo && at <= interior_hi)
                row_vector(src, size, row_shift, (const __m256(*)[PLANE_MAX_TAPS])row_weight, taps_rows, sums, at, 1, acc);
            else
                row_vector(src, size, row_shift, (const __m256(*)[PLANE_MAX_TAPS])row_weight, taps_rows, sums, at, 0, acc);
            for (int g = 0; g < sums; g++) _mm256_storeu_ps(buffer + g * stride + q, acc[g]);
        }
        // Along the columns. The block starts a period (b0 is a multiple of 8 · period), so phase 0.
        int phase = 0;
        float *out = dst + b0;
        for (ptrdiff_t p = 0; p < n; p += 8) {
            const int32_t (*reach)[8] = reaches[phase];
            phase = phase + 1 == period ? 0 : phase + 1;
            __m256 acc = _mm256_setzero_ps();
            for (int t = 0; t < taps_cols; t++) {
                __m256 v = _mm256_loadu_ps(buffer + (sums == 1 ? 0 : t) * stride + p + column_shift[t]);
                // 'Same' columns: the centre tap (shift 0) reaches every lane.
                if (2 * t != taps_cols - 1)
                    v = _mm256_and_ps(v, _mm256_castsi256_ps(_mm256_load_si256((const __m256i *)reach[t])));
                acc = sums == 1 ? _mm256_fmadd_ps(column_weight[t], v, acc) : _mm256_add_ps(acc, v);
            }
            if (p + 8 <= n) {
                if (accumulate) acc = _mm256_add_ps(acc, _mm256_loadu_ps(out + p));
                _mm256_storeu_ps(out + p, acc);
            } else {
                const __m256i lanes = fck_avx2_lanes(0, n - p);
                if (accumulate) acc = _mm256_add_ps(acc, _mm256_maskload_ps(out + p, lanes));
                _mm256_maskstore_ps(out + p, lanes, acc);
            }
        }
    }
}

/// plane_run for equal tap counts in both passes, as functions of their own: separable_N and full_N.
#define PLANE_INSTANCE(TAPS) \
    static __attribute__((noinline)) FCK_AVX2 void separable_##TAPS(const float *src, float *dst, \
                                                                     const plane_shape *sh, const plane_weights *pw) { \
        plane_run(src, dst, sh, pw, TAPS, TAPS, 1); \
    } \
    static __attribute__((noinline)) FCK_AVX2 void full_##TAPS(const float *src, float *dst, const plane_shape *sh, \
                                                                const plane_weights *pw) { \
        plane_run(src, dst, sh, pw, TAPS, TAPS, TAPS); \
    }
PLANE_INSTANCE(2)
PLANE_INSTANCE(3)
PLANE_INSTANCE(5)
PLANE_INSTANCE(7)

/// Any other tap counts, counted at run time.
static __attribute__((noinline)) FCK_AVX2 void plane_any(const float *src, float *dst, const plane_shape *sh,
                                                         const plane_weights *pw, int taps_rows, int taps_cols,
                                                         int sums) {
    plane_run(src, dst, sh, pw, taps_rows, taps_cols, sums);
}


/// Output plane `o` of the conv along the outer mode (stride 1) into `out` (`size` floats): the
/// sum over the taps t whose plane o − pad + t · dil lies in [0, planes) of w[t] times that
/// plane, multiply-adds in tap order starting from zero (as fck_depthwise_mode_avx2 and its
/// scalar edges, so that the combined plane rounds exactly as that stage's output); zero when
/// every tap falls in the padding.
static FCK_AVX2 void combine_planes(const float *src, ptrdiff_t size, int planes, int o, const float *w, int taps,
                                    int pad, int dil, float *out) {
    int added = 0;
    for (int t = 0; t < taps; t++) {
        const int p = o - pad + t * dil;
        if (p < 0 || p >= planes) continue;
        const float *plane = src + (ptrdiff_t)p * size;
        const __m256 weight = _mm256_set1_ps(w[t]);
        ptrdiff_t i = 0;
        for (; i + 8 <= size; i += 8) {
            const __m256 acc = added ? _mm256_loadu_ps(out + i) : _mm256_setzero_ps();
            _mm256_storeu_ps(out + i, _mm256_fmadd_ps(weight, _mm256_loadu_ps(plane + i), acc));
        }
        for (; i < size; i++) out[i] = __builtin_fmaf(w[t], plane[i], added ? out[i] : 0.0f);
        added = 1;
    }
    if (!added) memset(out, 0, (size_t)size * sizeof(float));
}

/// Runs `call` after building its mask table and zeroing its buffer; −1 without writing when
/// the kernel does not take it (fck_depthwise_plane_avx2_handles).
static FCK_AVX2 int run_planes(const plane_call *call) {
    const int width = call->width, taps_rows = call->taps_rows, taps_cols = call->taps_cols;
    if (!fck_depthwise_plane_avx2_handles(width, taps_rows, call->dil_rows, taps_cols, call->pad_cols, call->dil_cols))
        return -1;
    if (call->channels <= 0 || call->outer <= 0 || call->out_rows <= 0) return 0;
    int g = 8;
    while (width % g) g /= 2;
    const int period = width / g;
    const int sums = call->kernels ? taps_cols : 1;
    plane_shape sh;
    sh.size = (ptrdiff_t)call->rows * width;
    sh.count = (ptrdiff_t)call->out_rows * width;
    for (int t = 0; t < taps_rows; t++)
        sh.row_shift[t] = ((ptrdiff_t)t * call->dil_rows - call->pad_rows) * width;
    for (int t = 0; t < taps_cols; t++) sh.column_shift[t] = (ptrdiff_t)t * call->dil_cols - call->pad_cols;
    // A block is a whole number of periods (8 · period floats: whole rows, whole vectors).
    const ptrdiff_t span = 8 * (ptrdiff_t)period, spans = PLANE_BLOCK / (sums * span);
    sh.block = (spans > 0 ? spans : 1) * span;
    sh.stride = sh.block + PLANE_GUARD;
    sh.period = period;
    sh.accumulate = call->accumulate;
    // Tap t (shift s) reaches lane j of phase v when 0 ≤ column + s < width.
    __attribute__((aligned(32))) int32_t reaches[PLANE_MAX_PERIOD][PLANE_MAX_TAPS][8];
    for (int v = 0, column = 0; v < period; v++) {
        for (int j = 0; j < 8; j++, column = column + 1 == width ? 0 : column + 1) {   // counted: no divisions
            for (int t = 0; t < taps_cols; t++) {
                const ptrdiff_t to = column + sh.column_shift[t];
                reaches[v][t][j] = to >= 0 && to < width ? -1 : 0;
            }
        }
    }
    sh.reaches = (const int32_t(*)[PLANE_MAX_TAPS][8])reaches;
    // sums · block ≤ max(PLANE_BLOCK, PLANE_MAX_TAPS · 8 · PLANE_MAX_PERIOD) floats, plus guards.
    __attribute__((aligned(32))) float buffer[PLANE_GUARD + PLANE_MAX_TAPS * (8 * PLANE_MAX_PERIOD + PLANE_GUARD)];
    const ptrdiff_t used = PLANE_GUARD + sums * sh.stride;
    memset(buffer, 0, (size_t)used * sizeof(float));   // the guards are read (and masked off)
    sh.buffer = buffer + PLANE_GUARD;

    const ptrdiff_t in_plane = sh.size, out_plane = sh.count;
    const int square = taps_rows == taps_cols ? taps_rows : 0;
    // Output planes per channel: the input's, or the outer-mode conv's (see plane_call).
    const int planes_out = call->w_outer ? call->outer_out : call->outer;
    plane_weights pw;
    for (ptrdiff_t c = 0; c < call->channels; c++) {
        if (call->kernels) {
            const float *k = call->kernels + c * call->kernel_cs;
            for (int u = 0; u < taps_cols; u++) {
                for (int t = 0; t < taps_rows; t++) pw.rows[u][t] = _mm256_set1_ps(k[t * taps_cols + u]);
                pw.columns[u] = _mm256_set1_ps(1.0f);
            }
        } else {
            const float *wr = call->w_rows + c * taps_rows, *wc = call->w_cols + c * taps_cols;
            for (int t = 0; t < taps_rows; t++) pw.rows[0][t] = _mm256_set1_ps(wr[t]);
            for (int t = 0; t < taps_cols; t++) pw.columns[t] = _mm256_set1_ps(wc[t]);
        }
        for (ptrdiff_t o = 0; o < planes_out; o++) {
            const float *s;
            if (call->w_outer) {
                combine_planes(call->src + c * call->src_cs, in_plane, call->outer, (int)o,
                               call->w_outer + c * call->taps_outer, call->taps_outer, call->pad_outer,
                               call->dil_outer, call->combined);
                s = call->combined;
            } else {
                s = call->src + c * call->src_cs + o * in_plane;
            }
            float *d = call->dst + c * call->dst_cs + o * out_plane;
            if (call->kernels) {
                if (square == 3) full_3(s, d, &sh, &pw);
                else if (square == 5) full_5(s, d, &sh, &pw);
                else if (square == 7) full_7(s, d, &sh, &pw);
                else if (square == 2) full_2(s, d, &sh, &pw);
                else plane_any(s, d, &sh, &pw, taps_rows, taps_cols, sums);
            } else {
                if (square == 3) separable_3(s, d, &sh, &pw);
                else if (square == 5) separable_5(s, d, &sh, &pw);
                else if (square == 7) separable_7(s, d, &sh, &pw);
                else if (square == 2) separable_2(s, d, &sh, &pw);
                else plane_any(s, d, &sh, &pw, taps_rows, taps_cols, sums);
            }
        }
    }
    return 0;
}

FCK_AVX2 int fck_depthwise_plane_avx2(const float *src, float *dst, int channels, int outer, int rows, int width,
                                      int out_rows, const float *w_rows, int taps_rows, int pad_rows, int dil_rows,
                                      const float *w_cols, int taps_cols, int pad_cols, int dil_cols) {
    const plane_call call = {src, dst, (ptrdiff_t)outer * rows * width, (ptrdiff_t)outer * out_rows * width, 0,
                             channels, outer, rows, width, out_rows, w_rows, w_cols, 0,
                             taps_rows, pad_rows, dil_rows, taps_cols, pad_cols, dil_cols, 0};
    return run_planes(&call);
}

FCK_AVX2 int fck_depthwise_volume_avx2(const float *src, ptrdiff_t src_cs, float *dst, ptrdiff_t dst_cs, int channels,
                                       int depth, int out_depth, int rows, int width, int out_rows,
                                       const float *w_depth, int taps_depth, int pad_depth, int dil_depth,
                                       const float *w_rows, int taps_rows, int pad_rows, int dil_rows,
                                       const float *w_cols, int taps_cols, int pad_cols, int dil_cols, float *plane) {
    if (taps_depth < 1 || dil_depth < 1 || pad_depth < 0 || depth < 1) return -1;
    const plane_call call = {src, dst, src_cs, dst_cs, 0,
                             channels, depth, rows, width, out_rows, w_rows, w_cols, 0,
                             taps_rows, pad_rows, dil_rows, taps_cols, pad_cols, dil_cols, 0,
                             w_depth, taps_depth, pad_depth, dil_depth, out_depth, plane};
    return run_planes(&call);
}

FCK_AVX2 int fck_depthwise_2d_avx2(const float *src, ptrdiff_t src_cs, float *dst, ptrdiff_t dst_cs, int channels,
                                   int rows, int width, int out_rows, const float *kernels, ptrdiff_t kernel_cs,
                                   int taps_rows, int pad_rows, int dil_rows, int taps_cols, int pad_cols,
                                   int dil_cols, int accumulate) {
    const plane_call call = {src, dst, src_cs, dst_cs, kernel_cs, channels, 1, rows, width, out_rows, 0, 0, kernels,
                             taps_rows, pad_rows, dil_rows, taps_cols, pad_cols, dil_cols, accumulate};
    return run_planes(&call);
}

#else
// Not reached: callers check fck_avx2_available(), which is 0 off x86-64.
int fck_depthwise_plane_avx2_handles(int width, int taps_rows, int dil_rows, int taps_cols, int pad_cols,
                                     int dil_cols) {
    (void)width; (void)taps_rows; (void)dil_rows; (void)taps_cols; (void)pad_cols; (void)dil_cols;
    return 0;
}
int fck_depthwise_plane_avx2(const float *src, float *dst, int channels, int outer, int rows, int width,
                             int out_rows, const float *w_rows, int taps_rows, int pad_rows, int dil_rows,
                             const float *w_cols, int taps_cols, int pad_cols, int dil_cols) {
    (void)src; (void)dst; (void)channels; (void)outer; (void)rows; (void)width; (void)out_rows; (void)w_rows;
    (void)taps_rows; (void)pad_rows; (void)dil_rows; (void)w_cols; (void)taps_cols; (void)pad_cols; (void)dil_cols;
    return -1;
}
int fck_depthwise_volume_avx2(const float *src, ptrdiff_t src_cs, float *dst, ptrdiff_t dst_cs, int channels,
                              int depth, int out_depth, int rows, int width, int out_rows, const float *w_depth,
                              int taps_depth, int pad_depth, int dil_depth, const float *w_rows, int taps_rows,
                              int pad_rows, int dil_rows, const float *w_cols, int taps_cols, int pad_cols,
                              int dil_cols, float *plane) {
    (void)src; (void)src_cs; (void)dst; (void)dst_cs; (void)channels; (void)depth; (void)out_depth; (void)rows;
    (void)width; (void)out_rows;
    (void)w_depth; (void)taps_depth; (void)pad_depth; (void)dil_depth; (void)w_rows; (void)taps_rows; (void)pad_rows;
    (void)dil_rows; (void)w_cols; (void)taps_cols; (void)pad_cols; (void)dil_cols; (void)plane;
    return -1;
}
int fck_depthwise_2d_avx2(const float *src, ptrdiff_t src_cs, float *dst, ptrdiff_t dst_cs, int channels, int rows,
                          int width, int out_rows, const float *kernels, ptrdiff_t kernel_cs, int taps_rows,
                          int pad_rows, int dil_rows, int taps_cols, int pad_cols, int dil_cols, int accumulate) {
    (void)src; (void)src_cs; (void)dst; (void)dst_cs; (void)channels; (void)rows; (void)width; (void)out_rows;
    (void)kernels; (void)kernel_cs; (void)taps_rows; (void)pad_rows; (void)dil_rows; (void)taps_cols;
    (void)pad_cols; (void)dil_cols; (void)accumulate;
    return -1;
}
#endif
