// fck_depthwise_plane and fck_depthwise_2d of factorconv_kernels.h: depthwise convolution over
// the last two modes in one pass. Along the rows, then along the width, with the row sums kept in
// registers: the column taps are lane shifts of three adjacent row-sum vectors (one two-source
// permute each) instead of loads of a stored intermediate, and their lane masks come from a table
// by phase. A separable kernel (CP's and separable Tucker's last two per-mode stages) needs one
// row sum per position; a full k_r × k_c kernel (CP's mobilenet path) one per column tap. The
// fused pass costs less than the two per-mode passes it replaces together: the intermediate
// plane is never written or read back.
#include "factorconv_kernels.h"
#include "kernels_common.h"
#include "depthwise_plane_call.h"

/// Taps each pass handles (their weights and shifts live in registers).
#define FCK_PLANE_MAX_TAPS 8
/// Farthest a column tap may reach: one vector to either side.
#define FCK_PLANE_MAX_SHIFT 16
/// Most vectors before the lanes' columns repeat (width / gcd(width, 16)): the lane masks of
/// every phase are tabulated (4 KB), so that the vector units, the bottleneck, do arithmetic only.
#define FCK_PLANE_MAX_PERIOD 256

#if defined(__x86_64__)

/// The row pass's geometry: flat line `size` = rows · width inputs, `count` = out_rows · width
/// outputs, tap t reading shift[t] = (t · dilation − pad) · width floats away.
typedef struct {
    const float *src;
    ptrdiff_t size, count, pad, dilation, shift[FCK_PLANE_MAX_TAPS];
} row_pass;

/// Row sums [q, q + 16) with the broadcast weights `weight` when every tap's read lies inside
/// the plane and the vector inside the output (row_interior): no masks.
static inline __attribute__((always_inline)) FCK_AVX512 __m512 row_interior_vector(const row_pass *r,
                                                                                     const __m512 *weight, int taps,
                                                                                     ptrdiff_t q) {
    __m512 acc = _mm512_setzero_ps();
    for (int t = 0; t < taps; t++) acc = _mm512_fmadd_ps(weight[t], _mm512_loadu_ps(r->src + q + r->shift[t]), acc);
    return acc;
}

/// True when row_interior_vector serves q.
static inline int row_interior(const row_pass *r, int taps, ptrdiff_t q) {
    return q + r->shift[0] >= 0 && q + 16 + r->shift[taps - 1] <= r->size && q + 16 <= r->count;
}

/// Row sums [q, q + 16) with weights `w` (broadcast in `weight`), masked lane by lane where
/// needed (zero beyond `count`).
static inline __attribute__((always_inline)) FCK_AVX512 __m512 row_vector(const row_pass *r, const float *w,
                                                                            const __m512 *weight, int taps,
                                                                            ptrdiff_t q) {
    if (q >= r->count) return _mm512_setzero_ps();
    if (row_interior(r, taps, q)) return row_interior_vector(r, weight, taps, q);
    return fck_line_edge_sum(r->src, q, r->size, r->count, w, taps, r->pad, r->dilation);
}

/// The row sums a plane needs: `sums` of them per position (1 for a separable kernel, one per
/// column tap for a full one), sum g with weights w[g] (broadcast in weight[g]).
typedef struct {
    float w[FCK_PLANE_MAX_TAPS][FCK_PLANE_MAX_TAPS];
    __m512 weight[FCK_PLANE_MAX_TAPS][FCK_PLANE_MAX_TAPS];
} row_weights;

/// The column pass's constants: per tap, its weight (1 for a full kernel, whose row sums carry
/// the weights) and the permute indices of its lane shift; for each phase of the lanes' columns
/// (they repeat every `period` vectors), the lanes each tap reaches.
typedef struct {
    __m512 weight[FCK_PLANE_MAX_TAPS];
    __m512i lane_source[FCK_PLANE_MAX_TAPS];
    const __mmask16 (*reaches)[FCK_PLANE_MAX_TAPS];
    int period;
    int accumulate;   // add to the output instead of overwriting it
} column_pass;

/// The running state: each row sum's vectors before, at and after the output vector, and the
/// phase of its columns.
typedef struct {
    __m512 previous[FCK_PLANE_MAX_TAPS], current[FCK_PLANE_MAX_TAPS], next[FCK_PLANE_MAX_TAPS];
    int phase;
} column_state;

/// Writes outputs [p, p + 16) ∩ [0, count) and moves the state one vector on. Column tap t
/// takes row sum `sums` == 1 ? 0 : t. `interior`: the whole vector is an output and row vector
/// p + 32 is row_interior.
static inline __attribute__((always_inline)) FCK_AVX512 void column_step(
    column_state *st, const column_pass *cp, int taps, const row_pass *r, const row_weights *rw, int row_taps,
    int sums, float *dst, ptrdiff_t p, int interior) {
    const __mmask16 *reaches = cp->reaches[st->phase];
    __m512 acc = _mm512_setzero_ps();
    for (int t = 0; t < taps; t++) {
        const int g = sums == 1 ? 0 : t;
        if (2 * t == taps - 1) {   // the centre tap reaches every lane
            acc = _mm512_fmadd_ps(cp->weight[t], st->current[g], acc);
        } else {
            const __m512 v = 2 * t < taps - 1
                                 ? _mm512_permutex2var_ps(st->previous[g], cp->lane_source[t], st->current[g])
                                 : _mm512_permutex2var_ps(st->current[g], cp->lane_source[t], st->next[g]);
            acc = _mm512_mask3_fmadd_ps(cp->weight[t], v, acc, reaches[t]);
        }
    }
    if (interior || p + 16 <= r->count) {
        if (cp->accumulate) acc = _mm512_add_ps(acc, _mm512_loadu_ps(dst + p));
        _mm512_storeu_ps(dst + p, acc);
    } else {
        const __mmask16 lanes = fck_first_vector((int)(r->count - p));
        if (cp->accumulate) acc = _mm512_add_ps(acc, _mm512_maskz_loadu_ps(lanes, dst + p));
        _mm512_mask_storeu_ps(dst + p, lanes, acc);
    }
    st->phase = st->phase + 1 == cp->period ? 0 : st->phase + 1;
    for (int g = 0; g < sums; g++) {
        st->previous[g] = st->current[g];
        st->current[g] = st->next[g];
        st->next[g] = interior ? row_interior_vector(r, rw->weight[g], row_taps, p + 32)
                               : row_vector(r, rw->w[g], rw->weight[g], row_taps, p + 32);
    }
}

/// What a call's planes share: their shape, both passes' geometry, and the column pass's lane
/// masks by phase.
typedef struct {
    int rows, width, out_rows, pad_rows, dil_rows, pad_cols, dil_cols, period, accumulate;
    const __mmask16 (*reaches)[FCK_PLANE_MAX_TAPS];
} plane_shape;

/// One plane. Separable (`kernel` NULL): row weights `w_rows`, column weights `w_cols`. Full:
/// `kernel` (taps_rows × taps_cols, row-major). The tap counts are constants where inlined into an
/// instance below, so that the tap loops unroll.
static inline __attribute__((always_inline)) FCK_AVX512 void plane_run(const float *src, float *dst,
                                                                       const plane_shape *shape, const float *w_rows,
                                                                       const float *w_cols, const float *kernel,
                                                                       int taps_rows, int taps_cols) {
    const ptrdiff_t width = shape->width;
    row_pass r = {src, shape->rows * width, shape->out_rows * width, shape->pad_rows * width, shape->dil_rows * width,
                  {0}};
    for (int t = 0; t < taps_rows; t++) r.shift[t] = t * r.dilation - r.pad;
    const int sums = kernel ? taps_cols : 1;
    row_weights rw;
    for (int g = 0; g < sums; g++) {
        for (int t = 0; t < taps_rows; t++) {
            rw.w[g][t] = kernel ? kernel[t * taps_cols + g] : w_rows[t];
            rw.weight[g][t] = _mm512_set1_ps(rw.w[g][t]);
        }
    }
    // Column tap t moves lanes by s = t · dil − pad. The pass is 'same' (2 · pad = (taps − 1) ·
    // dil), so s has the sign of 2t − (taps − 1), known where taps is: lane j takes lane j + s of
    // the row-sum vectors (previous, current) when s < 0, of (current, next) when s > 0.
    column_pass cp;   // assigned field by field: an initializer would zero-fill its 1 KB a plane
    cp.reaches = shape->reaches;
    cp.period = shape->period;
    cp.accumulate = shape->accumulate;
    for (int t = 0; t < taps_cols; t++) {
        const int s = t * shape->dil_cols - shape->pad_cols;
        cp.weight[t] = _mm512_set1_ps(kernel ? 1.0f : w_cols[t]);
        cp.lane_source[t] = _mm512_add_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
                                             _mm512_set1_epi32(s < 0 ? 16 + s : s));
    }
    column_state st;   // not zero-filled either: 1.5 KB per plane, written before it is read
    st.phase = 0;
    for (int g = 0; g < sums; g++) {
        st.previous[g] = _mm512_setzero_ps();
        st.current[g] = row_vector(&r, rw.w[g], rw.weight[g], taps_rows, 0);
        st.next[g] = row_vector(&r, rw.w[g], rw.weight[g], taps_rows, 16);
    }
    // Steps whose next row vector (p + 32) is interior run without the checks: p + 32 in
    // [−shift[0], min(size − shift[last], count) − 16], which also keeps p + 16 ≤ count.
    const ptrdiff_t reach_end = r.size - r.shift[taps_rows - 1];
    const ptrdiff_t first_interior = -r.shift[0] - 32, last_interior = (reach_end < r.count ? reach_end : r.count) - 48;
    for (ptrdiff_t p = 0; p < r.count;) {
        if (p >= first_interior && p <= last_interior) {
            // Three steps a pass: the state's three vectors come back to their registers (no moves).
            for (; p + 32 <= last_interior; p += 48) {
                column_step(&st, &cp, taps_cols, &r, &rw, taps_rows, sums, dst, p, 1);
                column_step(&st, &cp, taps_cols, &r, &rw, taps_rows, sums, dst, p + 16, 1);
                column_step(&st, &cp, taps_cols, &r, &rw, taps_rows, sums, dst, p + 32, 1);
            }
            for (; p <= last_interior; p += 16) column_step(&st, &cp, taps_cols, &r, &rw, taps_rows, sums, dst, p, 1);
        } else {
            column_step(&st, &cp, taps_cols, &r, &rw, taps_rows, sums, dst, p, 0);
            p += 16;
        }
    }
}

/// plane_run for equal tap counts in both passes, as functions of their own (as same_lines_N in
/// depthwise.c: instances inlined into one switch were merged back into a run-time count):
/// separable_N and full_N.
#define FCK_PLANE(TAPS) \
    static __attribute__((noinline)) FCK_AVX512 void separable_##TAPS(const float *src, float *dst, \
                                                                       const plane_shape *shape, const float *w_rows, \
                                                                       const float *w_cols) { \
        plane_run(src, dst, shape, w_rows, w_cols, 0, TAPS, TAPS); \
    } \
    static __attribute__((noinline)) FCK_AVX512 void full_##TAPS(const float *src, float *dst, const plane_shape *shape, \
                                                                  const float *kernel) { \
        plane_run(src, dst, shape, 0, 0, kernel, TAPS, TAPS); \
    }
FCK_PLANE(2)
FCK_PLANE(3)
FCK_PLANE(5)
FCK_PLANE(7)

/// Vectors before the lanes' columns repeat: vector v's lanes have columns (16v + j) mod width.
static int lane_period(int width) {
    for (int g = 16; g > 1; g /= 2)
        if (width % g == 0) return width / g;
    return width;
}

int fck_depthwise_plane_handles(int width, int taps_rows, int dil_rows, int taps_cols, int pad_cols, int dil_cols) {
    // 'Same' columns, every tap within one vector: 2 · pad = (taps − 1) · dil ≤ 32.
    return width >= 1 && taps_rows >= 1 && taps_rows <= FCK_PLANE_MAX_TAPS && taps_cols >= 1 &&
           taps_cols <= FCK_PLANE_MAX_TAPS && dil_rows >= 1 && dil_cols >= 1 && pad_cols <= FCK_PLANE_MAX_SHIFT &&
           2 * (ptrdiff_t)pad_cols == (ptrdiff_t)(taps_cols - 1) * dil_cols && lane_period(width) <= FCK_PLANE_MAX_PERIOD;
}


/// Runs `call` after building its lane-mask table; −1 without writing when the kernel does not
/// take it (fck_depthwise_plane_handles).
static FCK_AVX512 int run_planes(const plane_call *call) {
    const int width = call->width, taps_rows = call->taps_rows, taps_cols = call->taps_cols;
    if (!fck_depthwise_plane_handles(width, taps_rows, call->dil_rows, taps_cols, call->pad_cols, call->dil_cols))
        return -1;
    // Tap t (shift s) reaches lane j of phase v when 0 ≤ column + s < width.
    const int period = lane_period(width);
    __mmask16 reaches[FCK_PLANE_MAX_PERIOD][FCK_PLANE_MAX_TAPS] = {{0}};
    for (int v = 0, column = 0; v < period; v++) {
        for (int j = 0; j < 16; j++, column = column + 1 == width ? 0 : column + 1) {   // counted: no divisions
            for (int t = 0; t < taps_cols; t++) {
                const int s = t * call->dil_cols - call->pad_cols;
                if (column + s >= 0 && column + s < width) reaches[v][t] |= (__mmask16)(1u << j);
            }
        }
    }
    const plane_shape shape = {call->rows, width, call->out_rows, call->pad_rows, call->dil_rows, call->pad_cols,
                               call->dil_cols, period, call->accumulate,
                               (const __mmask16(*)[FCK_PLANE_MAX_TAPS])reaches};
    const ptrdiff_t in_plane = (ptrdiff_t)call->rows * width, out_plane = (ptrdiff_t)call->out_rows * width;
    const int square = taps_rows == taps_cols ? taps_rows : 0;
    for (ptrdiff_t c = 0; c < call->channels; c++) {
        for (ptrdiff_t o = 0; o < call->outer; o++) {
            const float *s = call->src + c * call->src_cs + o * in_plane;
            float *d = call->dst + c * call->dst_cs + o * out_plane;
            if (call->kernels) {
                const float *k = call->kernels + c * call->kernel_cs;
                if (square == 3) full_3(s, d, &shape, k);
                else if (square == 5) full_5(s, d, &shape, k);
                else if (square == 7) full_7(s, d, &shape, k);
                else if (square == 2) full_2(s, d, &shape, k);
                else plane_run(s, d, &shape, 0, 0, k, taps_rows, taps_cols);
            } else {
                const float *wr = call->w_rows + c * taps_rows, *wc = call->w_cols + c * taps_cols;
                if (square == 3) separable_3(s, d, &shape, wr, wc);
                else if (square == 5) separable_5(s, d, &shape, wr, wc);
                else if (square == 7) separable_7(s, d, &shape, wr, wc);
                else if (square == 2) separable_2(s, d, &shape, wr, wc);
                else plane_run(s, d, &shape, wr, wc, 0, taps_rows, taps_cols);
            }
        }
    }
    return 0;
}

FCK_AVX512 int fck_depthwise_plane(const float *src, float *dst, int channels, int outer, int rows, int width,
                                   int out_rows, const float *w_rows, int taps_rows, int pad_rows, int dil_rows,
                                   const float *w_cols, int taps_cols, int pad_cols, int dil_cols) {
    const plane_call call = {src, dst, (ptrdiff_t)outer * rows * width, (ptrdiff_t)outer * out_rows * width, 0,
                             channels, outer, rows, width, out_rows, w_rows, w_cols, 0,
                             taps_rows, pad_rows, dil_rows, taps_cols, pad_cols, dil_cols, 0};
    return run_planes(&call);
}

FCK_AVX512 int fck_depthwise_2d(const float *src, ptrdiff_t src_cs, float *dst, ptrdiff_t dst_cs, int channels,
                                int rows, int width, int out_rows, const float *kernels, ptrdiff_t kernel_cs,
                                int taps_rows, int pad_rows, int dil_rows, int taps_cols, int pad_cols, int dil_cols,
                                int accumulate) {
    const plane_call call = {src, dst, src_cs, dst_cs, kernel_cs, channels, 1, rows, width, out_rows, 0, 0, kernels,
                             taps_rows, pad_rows, dil_rows, taps_cols, pad_cols, dil_cols, accumulate};
    return run_planes(&call);
}

#else
// Not reached: callers check fck_avx512_available(), which is 0 off x86-64.
int fck_depthwise_plane_handles(int width, int taps_rows, int dil_rows, int taps_cols, int pad_cols, int dil_cols) {
    (void)width; (void)taps_rows; (void)dil_rows; (void)taps_cols; (void)pad_cols; (void)dil_cols;
    return 0;
}
int fck_depthwise_plane(const float *src, float *dst, int channels, int outer, int rows, int width, int out_rows,
                        const float *w_rows, int taps_rows, int pad_rows, int dil_rows, const float *w_cols,
                        int taps_cols, int pad_cols, int dil_cols) {
    (void)src; (void)dst; (void)channels; (void)outer; (void)rows; (void)width; (void)out_rows; (void)w_rows;
    (void)taps_rows; (void)pad_rows; (void)dil_rows; (void)w_cols; (void)taps_cols; (void)pad_cols; (void)dil_cols;
    return -1;
}
int fck_depthwise_2d(const float *src, ptrdiff_t src_cs, float *dst, ptrdiff_t dst_cs, int channels, int rows,
                     int width, int out_rows, const float *kernels, ptrdiff_t kernel_cs, int taps_rows, int pad_rows,
                     int dil_rows, int taps_cols, int pad_cols, int dil_cols, int accumulate) {
    (void)src; (void)src_cs; (void)dst; (void)dst_cs; (void)channels; (void)rows; (void)width; (void)out_rows;
    (void)kernels; (void)kernel_cs; (void)taps_rows; (void)pad_rows; (void)dil_rows; (void)taps_cols; (void)pad_cols;
    (void)dil_cols; (void)accumulate;
    return -1;
}
#endif
