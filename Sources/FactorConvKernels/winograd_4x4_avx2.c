// Winograd F(4×4, 3×3) transforms with AVX2 and FMA (factorconv_kernels.h): rows split into 4
// column phases, the input transform Bᵀ d B of 6×6 tiles (8 tiles per vector), and the output
// transform Aᵀ m A of products stored channel-major (8 tiles per vector) or tile-major (8
// channels per vector). AVX-512 CPUs run these too. Matrices (Lavin & Gray, points 0, ±1, ±2, ∞):
//   Bᵀ = [[4, 0, −5, 0, 1, 0], [0, −4, −4, 1, 1, 0], [0, 4, −4, −1, 1, 0],
//         [0, −2, −1, 2, 1, 0], [0, 2, −1, −2, 1, 0], [0, 4, 0, −5, 0, 1]]
//   Aᵀ = [[1, 1, 1, 1, 1, 0], [0, 1, −1, 2, −2, 0], [0, 1, 1, 4, 4, 0], [0, 1, −1, 8, −8, 1]]
#include "factorconv_kernels.h"
#include "kernels_common.h"

#include <string.h>

#if defined(__x86_64__)

/// Bᵀ x of 6 vectors in place.
static inline FCK_AVX2 __attribute__((always_inline)) void input6(__m256 x[6]) {
    const __m256 four = _mm256_set1_ps(4), five = _mm256_set1_ps(5), two = _mm256_set1_ps(2);
    const __m256 a = _mm256_fnmadd_ps(four, x[2], x[4]);          // x4 − 4 x2
    const __m256 b = _mm256_fnmadd_ps(four, x[1], x[3]);          // x3 − 4 x1
    const __m256 c = _mm256_sub_ps(x[4], x[2]);                   // x4 − x2
    const __m256 d = _mm256_mul_ps(two, _mm256_sub_ps(x[3], x[1])); // 2 (x3 − x1)
    const __m256 t0 = _mm256_fmadd_ps(four, x[0], _mm256_fnmadd_ps(five, x[2], x[4]));
    const __m256 t5 = _mm256_fmadd_ps(four, x[1], _mm256_fnmadd_ps(five, x[3], x[5]));
    x[0] = t0;
    x[1] = _mm256_add_ps(a, b);
    x[2] = _mm256_sub_ps(a, b);
    x[3] = _mm256_add_ps(c, d);
    x[4] = _mm256_sub_ps(c, d);
    x[5] = t5;
}

/// Aᵀ m of 6 vectors into 4.
static inline FCK_AVX2 __attribute__((always_inline)) void output6(const __m256 m[6], __m256 y[4]) {
    const __m256 p12 = _mm256_add_ps(m[1], m[2]), n12 = _mm256_sub_ps(m[1], m[2]);
    const __m256 p34 = _mm256_add_ps(m[3], m[4]), n34 = _mm256_sub_ps(m[3], m[4]);
    y[0] = _mm256_add_ps(_mm256_add_ps(m[0], p12), p34);
    y[1] = _mm256_fmadd_ps(_mm256_set1_ps(2), n34, n12);
    y[2] = _mm256_fmadd_ps(_mm256_set1_ps(4), p34, p12);
    y[3] = _mm256_add_ps(_mm256_fmadd_ps(_mm256_set1_ps(8), n34, n12), m[5]);
}

/// Transposes the 4×4 blocks of each 128-bit half: afterwards r[i] holds, in its low half,
/// element i of the low halves of r[0..3] (and likewise for the high half).
static inline FCK_AVX2 __attribute__((always_inline)) void transpose4x2(__m256 r[4]) {
    const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
    const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
    r[0] = _mm256_shuffle_ps(t0, t2, 0x44);
    r[1] = _mm256_shuffle_ps(t0, t2, 0xEE);
    r[2] = _mm256_shuffle_ps(t1, t3, 0x44);
    r[3] = _mm256_shuffle_ps(t1, t3, 0xEE);
}

/// Stores the first `lanes` ≤ 4 lanes of v at dst.
static inline FCK_AVX2 __attribute__((always_inline)) void store_first4(float *dst, __m128 v, int lanes) {
    if (lanes == 4) { _mm_storeu_ps(dst, v); return; }
    if (lanes >= 2) {
        _mm_storel_pi((__m64 *)dst, v);
        v = _mm_movehl_ps(v, v);
        dst += 2;
        lanes -= 2;
    }
    if (lanes) _mm_store_ss(dst, v);
}

/// Stores the first `lanes` ≤ 8 lanes of v at dst (AVX2's masked store is slow on some CPUs,
/// and a memcpy call costs more than these few stores).
static inline FCK_AVX2 __attribute__((always_inline)) void store_first(float *dst, __m256 v, int lanes) {
    if (lanes == 8) { _mm256_storeu_ps(dst, v); return; }
    __m128 part = _mm256_castps256_ps128(v);
    if (lanes >= 4) {
        _mm_storeu_ps(dst, part);
        part = _mm256_extractf128_ps(v, 1);
        dst += 4;
        lanes -= 4;
    }
    store_first4(dst, part, lanes);
}

FCK_AVX2 void fck_deinterleave4_avx2(const float *x, int width, int pad, int count, float *out, ptrdiff_t stride) {
    if (!x) {
        for (int r = 0; r < 4; r++) memset(out + r * stride, 0, (size_t)count * sizeof(float));
        return;
    }
    int k = 0;
    // The left edge one group at a time (columns before the row's start are padding).
    for (; k < count && 4 * k - pad < 0; k++) {
        for (int r = 0; r < 4; r++) {
            const int i = 4 * k + r - pad;
            out[r * stride + k] = i >= 0 && i < width ? x[i] : 0;
        }
    }
    // 8 groups of 4 columns per step: a 4×4 transpose in each 128-bit half gives phases over
    // groups (0, 2, 4, 6 | 1, 3, 5, 7), then in order. Past the row's end, masked loads read
    // nothing (zero lanes); nothing is stored past `count`.
    const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    for (; k < count; k += 8) {
        const ptrdiff_t first = 4 * (ptrdiff_t)k - pad, valid = width - first;  // first ≥ 0 here
        const float *s = x + first;
        __m256 r[4];
        if (valid >= 32) {
            for (int j = 0; j < 4; j++) r[j] = _mm256_loadu_ps(s + 8 * j);
        } else {
            for (int j = 0; j < 4; j++) r[j] = _mm256_maskload_ps(s + 8 * j, fck_avx2_lanes(0, valid - 8 * j));
        }
        transpose4x2(r);
        const int lanes = count - k < 8 ? count - k : 8;
        for (int p = 0; p < 4; p++) store_first(out + p * stride + k, _mm256_permutevar8x32_ps(r[p], order), lanes);
    }
}

FCK_AVX2 void fck_winograd_input_4x4_avx2(const float *phases, ptrdiff_t phase_stride, ptrdiff_t row_stride,
                                          int tiles, float *v, ptrdiff_t xi_stride) {
    for (int k = 0; k < tiles; k += 8) {
        // The last vector's lanes past `tiles` are read (the phases are padded for it, see
        // factorconv_kernels.h: a masked load is slow on some CPUs) but not written.
        const int lanes = tiles - k < 8 ? tiles - k : 8;
        __m256 t[6][6];  // t[a][j]: row a of the tiles after Bᵀ along the columns
        for (int a = 0; a < 6; a++) {
            const float *p = phases + a * row_stride + k;
            // Columns 4k + c: phase c at k for c < 4, phases 0 and 1 at k + 1 for c = 4, 5.
            t[a][0] = _mm256_loadu_ps(p);
            t[a][1] = _mm256_loadu_ps(p + phase_stride);
            t[a][2] = _mm256_loadu_ps(p + 2 * phase_stride);
            t[a][3] = _mm256_loadu_ps(p + 3 * phase_stride);
            t[a][4] = _mm256_loadu_ps(p + 1);
            t[a][5] = _mm256_loadu_ps(p + phase_stride + 1);
            input6(t[a]);
        }
        for (int j = 0; j < 6; j++) {
            __m256 col[6] = {t[0][j], t[1][j], t[2][j], t[3][j], t[4][j], t[5][j]};
            input6(col);
            for (int i = 0; i < 6; i++) {
                store_first(v + (6 * i + j) * xi_stride + k, col[i], lanes);
            }
        }
    }
}

FCK_AVX2 void fck_winograd_output_4x4_tiles_avx2(const float *m, ptrdiff_t xi_stride, int tiles, float bias,
                                                 int width, int rows, float *out) {
    const __m256 b = _mm256_set1_ps(bias);
    for (int k = 0; k < tiles; k += 8) {
        const int lanes = tiles - k < 8 ? tiles - k : 8;
        const __m256i mask = fck_avx2_lanes(0, lanes);
        // s[r][j]: output row r of column j of the tiles after Aᵀ along the first axis.
        __m256 s[4][6];
        for (int j = 0; j < 6; j++) {
            __m256 col[6], y[4];
            for (int i = 0; i < 6; i++) {
                const float *p = m + (6 * i + j) * xi_stride + k;
                col[i] = lanes == 8 ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, mask);
            }
            output6(col, y);
            for (int r = 0; r < 4; r++) s[r][j] = y[r];
        }
        const int columns = width - 4 * k < 4 * lanes ? width - 4 * k : 4 * lanes;
        for (int r = 0; r < rows && r < 4; r++) {
            __m256 y[4];
            output6(s[r], y);
            for (int c = 0; c < 4; c++) y[c] = _mm256_add_ps(y[c], b);
            // Tile t's 4 columns are lane t of y[0..3]: transpose, then the halves in order.
            transpose4x2(y);
            float *row = out + (ptrdiff_t)r * width + 4 * k;
            const __m256 q0 = _mm256_permute2f128_ps(y[0], y[1], 0x20), q1 = _mm256_permute2f128_ps(y[2], y[3], 0x20);
            const __m256 q2 = _mm256_permute2f128_ps(y[0], y[1], 0x31), q3 = _mm256_permute2f128_ps(y[2], y[3], 0x31);
            const __m256 q[4] = {q0, q1, q2, q3};
            for (int c = 0; c < columns; c += 8) store_first(row + c, q[c / 8], columns - c < 8 ? columns - c : 8);
        }
    }
}

FCK_AVX2 void fck_winograd_output_4x4_avx2(const float *m, ptrdiff_t xi_stride, ptrdiff_t tile_stride, int tiles,
                                           int tile_rows, int channels, const float *bias, float *out,
                                           ptrdiff_t plane_stride, int width, int rows) {
    // Channel groups innermost: one tile's 36 positions are read a whole cache line at a time,
    // and the output lines of its rows stay in L1 for the next tile.
    for (int tr = 0; tr < tile_rows; tr++) {
        const int out_rows = rows - 4 * tr < 4 ? rows - 4 * tr : 4;
        for (int t = 0; t < tiles; t++) {
            const int columns = width - 4 * t < 4 ? width - 4 * t : 4;
            for (int c0 = 0; c0 < channels; c0 += 8) {
                const int lanes = channels - c0 < 8 ? channels - c0 : 8;
                const __m256i mask = fck_avx2_lanes(0, lanes);
                const __m256 b = bias ? (lanes == 8 ? _mm256_loadu_ps(bias + c0) : _mm256_maskload_ps(bias + c0, mask))
                                      : _mm256_setzero_ps();
                const float *p = m + ((ptrdiff_t)tr * tiles + t) * tile_stride + c0;
                __m256 s[4][6];
                for (int j = 0; j < 6; j++) {
                    __m256 col[6], y[4];
                    for (int i = 0; i < 6; i++) {
                        const float *q = p + (6 * i + j) * xi_stride;
                        col[i] = lanes == 8 ? _mm256_loadu_ps(q) : _mm256_maskload_ps(q, mask);
                    }
                    output6(col, y);
                    for (int r = 0; r < 4; r++) s[r][j] = y[r];
                }
                float *base = out + (ptrdiff_t)c0 * plane_stride + (ptrdiff_t)4 * tr * width + 4 * t;
                for (int r = 0; r < out_rows; r++) {
                    __m256 y[4];
                    output6(s[r], y);
                    for (int c = 0; c < 4; c++) y[c] = _mm256_add_ps(y[c], b);
                    // Channel l's 4 columns are lane l of y[0..3]: after the transpose, channel
                    // l < 4 is the low half of y[l], channel l + 4 its high half.
                    transpose4x2(y);
                    float *row = base + (ptrdiff_t)r * width;
                    for (int l = 0; l < lanes; l++) {
                        const __m128 q = l < 4 ? _mm256_castps256_ps128(y[l]) : _mm256_extractf128_ps(y[l - 4], 1);
                        store_first4(row + (ptrdiff_t)l * plane_stride, q, columns);
                    }
                }
            }
        }
    }
}

#else
// Not reached: callers check fck_avx2_available(), which is 0 off x86-64.
void fck_deinterleave4_avx2(const float *x, int width, int pad, int count, float *out, ptrdiff_t stride) {
    (void)x; (void)width; (void)pad; (void)count; (void)out; (void)stride;
}
void fck_winograd_input_4x4_avx2(const float *phases, ptrdiff_t phase_stride, ptrdiff_t row_stride, int tiles,
                                 float *v, ptrdiff_t xi_stride) {
    (void)phases; (void)phase_stride; (void)row_stride; (void)tiles; (void)v; (void)xi_stride;
}
void fck_winograd_output_4x4_tiles_avx2(const float *m, ptrdiff_t xi_stride, int tiles, float bias, int width,
                                        int rows, float *out) {
    (void)m; (void)xi_stride; (void)tiles; (void)bias; (void)width; (void)rows; (void)out;
}
void fck_winograd_output_4x4_avx2(const float *m, ptrdiff_t xi_stride, ptrdiff_t tile_stride, int tiles,
                                  int tile_rows, int channels, const float *bias, float *out, ptrdiff_t plane_stride,
                                  int width, int rows) {
    (void)m; (void)xi_stride; (void)tile_stride; (void)tiles; (void)tile_rows; (void)channels; (void)bias; (void)out;
    (void)plane_stride; (void)width; (void)rows;
}
#endif
