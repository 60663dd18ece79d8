// The Winograd output transforms for CPUs with AVX2 and FMA but no AVX-512 (factorconv_kernels.h),
// with the contracts of their AVX-512 twins. fck_winograd_output_2x2_avx2 and
// fck_winograd_output_line_avx2 (tile-major products of fck_gemm_packed_avx2): vectors run over
// 8 channels; a block of 8 tiles × 8 channels is then transposed in registers to channel ×
// tile, and each channel's even and odd outputs interleaved into 16 consecutive floats of its
// output row. fck_winograd_output_2x2_tiles_avx2 (channel-major products of BLAS): vectors run
// over 8 tiles of one channel.
#include "factorconv_kernels.h"
#include "kernels_common.h"

#include <string.h>

#if defined(__x86_64__)

/// Transposes the 8 × 8 block r[i] (lane l) to r[l] (lane i).
static inline FCK_AVX2 __attribute__((always_inline)) void transpose8(__m256 r[8]) {
    const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
    const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
    const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
    const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
    const __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
    const __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
    const __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
    const __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    r[0] = _mm256_permute2f128_ps(u0, u4, 0x20); r[1] = _mm256_permute2f128_ps(u1, u5, 0x20);
    r[2] = _mm256_permute2f128_ps(u2, u6, 0x20); r[3] = _mm256_permute2f128_ps(u3, u7, 0x20);
    r[4] = _mm256_permute2f128_ps(u0, u4, 0x31); r[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
    r[6] = _mm256_permute2f128_ps(u2, u6, 0x31); r[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
}

/// Stores even and odd outputs of 8 lanes interleaved, as `columns` ≤ 16 consecutive floats.
static inline FCK_AVX2 __attribute__((always_inline)) void
store_interleaved(__m256 even, __m256 odd, int columns, float *out) {
    // (e0 o0 e1 o1 | e4 o4 e5 o5) and (e2 o2 e3 o3 | e6 o6 e7 o7), then in order.
    const __m256 lo = _mm256_unpacklo_ps(even, odd), hi = _mm256_unpackhi_ps(even, odd);
    const __m256 first = _mm256_permute2f128_ps(lo, hi, 0x20), second = _mm256_permute2f128_ps(lo, hi, 0x31);
    if (columns == 16) {
        _mm256_storeu_ps(out, first);
        _mm256_storeu_ps(out + 8, second);
    } else {
        float part[16];
        _mm256_storeu_ps(part, first);
        _mm256_storeu_ps(part + 8, second);
        memcpy(out, part, (size_t)columns * sizeof(float));
    }
}

/// Writes one output row of a block of 8 tiles × `lanes` ≤ 8 channels from the tiles' even and
/// odd outputs (`even[t]`, `odd[t]`: vectors over channels; tiles past the row's end hold
/// anything): `columns` ≤ 16 consecutive outputs per channel, at out + l · plane_stride for
/// channel l.
static inline FCK_AVX2 __attribute__((always_inline)) void
store_row(__m256 even[8], __m256 odd[8], int lanes, int columns, float *out, ptrdiff_t plane_stride) {
    transpose8(even);
    transpose8(odd);
    for (int l = 0; l < lanes; l++, out += plane_stride) store_interleaved(even[l], odd[l], columns, out);
}

/// Position ξ of 8 channels (`mask`: the lanes that exist; the rest read as zero).
static inline FCK_AVX2 __attribute__((always_inline)) __m256 load_lanes(const float *p, int lanes, __m256i mask) {
    return lanes == 8 ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, mask);
}

FCK_AVX2 void fck_winograd_output_2x2_avx2(const float *m, ptrdiff_t xi_stride, ptrdiff_t tile_stride, int tiles,
                                           int tile_rows, int channels, const float *bias, float *out,
                                           ptrdiff_t plane_stride, int width, int rows) {
    // Channel groups outermost, as in fck_winograd_output_2x2: the stores run down 8 planes.
    for (int c0 = 0; c0 < channels; c0 += 8) {
        const int lanes = channels - c0 < 8 ? channels - c0 : 8;
        const __m256i mask = fck_avx2_lanes(0, lanes);
        const __m256 b = bias ? load_lanes(bias + c0, lanes, mask) : _mm256_setzero_ps();
        for (int tr = 0; tr < tile_rows; tr++) {
            const float *mr = m + (ptrdiff_t)tr * tiles * tile_stride + c0;
            float *row = out + (ptrdiff_t)c0 * plane_stride + (ptrdiff_t)2 * tr * width;
            for (int t0 = 0; t0 < tiles; t0 += 8) {
                const int count = tiles - t0 < 8 ? tiles - t0 : 8;
                // y[2r + j][t]: output (r, j) of tile t0 + t, a vector over channels.
                __m256 y[4][8];
                for (int t = 0; t < 8; t++) {
                    if (t >= count) { y[0][t] = y[1][t] = y[2][t] = y[3][t] = b; continue; }
                    const float *p = mr + (ptrdiff_t)(t0 + t) * tile_stride;
#define FCK_M(xi) load_lanes(p + (xi) * xi_stride, lanes, mask)
                    // Aᵀ = [[1, 1, 1, 0], [0, 1, −1, −1]]: along the first axis s_j (row 0), d_j (row 1).
                    __m256 s[4], d[4];
                    for (int j = 0; j < 4; j++) {
                        const __m256 m1 = FCK_M(4 + j), m2 = FCK_M(8 + j);
                        s[j] = _mm256_add_ps(_mm256_add_ps(FCK_M(j), m1), m2);
                        d[j] = _mm256_sub_ps(_mm256_sub_ps(m1, m2), FCK_M(12 + j));
                    }
#undef FCK_M
                    y[0][t] = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(s[0], s[1]), s[2]), b);
                    y[1][t] = _mm256_add_ps(_mm256_sub_ps(_mm256_sub_ps(s[1], s[2]), s[3]), b);
                    y[2][t] = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(d[0], d[1]), d[2]), b);
                    y[3][t] = _mm256_add_ps(_mm256_sub_ps(_mm256_sub_ps(d[1], d[2]), d[3]), b);
                }
                const int columns = width - 2 * t0 < 2 * count ? width - 2 * t0 : 2 * count;
                store_row(y[0], y[1], lanes, columns, row + 2 * t0, plane_stride);
                if (2 * tr + 1 < rows) store_row(y[2], y[3], lanes, columns, row + width + 2 * t0, plane_stride);
            }
        }
    }
}

FCK_AVX2 void fck_winograd_output_line_avx2(int taps, const float *m, ptrdiff_t xi_stride, ptrdiff_t tile_stride,
                                            int tiles, int channels, const float *bias, float *out,
                                            ptrdiff_t plane_stride, int width) {
    for (int c0 = 0; c0 < channels; c0 += 8) {
        const int lanes = channels - c0 < 8 ? channels - c0 : 8;
        const __m256i mask = fck_avx2_lanes(0, lanes);
        const __m256 b = bias ? load_lanes(bias + c0, lanes, mask) : _mm256_setzero_ps();
        for (int t0 = 0; t0 < tiles; t0 += 8) {
            const int count = tiles - t0 < 8 ? tiles - t0 : 8;
            __m256 y[2][8];
            for (int t = 0; t < 8; t++) {
                if (t >= count) { y[0][t] = y[1][t] = b; continue; }
                const float *mt = m + (ptrdiff_t)(t0 + t) * tile_stride + c0;
#define FCK_M(xi) load_lanes(mt + (xi) * xi_stride, lanes, mask)
                // F(2, 3): (m0 + m1 + m2, m1 − m2 + m3); F(2, 5): (m0 + … + m4, m1 − m2 + 2 (m3 − m4) + m5).
                const __m256 m1 = FCK_M(1), m2 = FCK_M(2), m3 = FCK_M(3);
                __m256 e = _mm256_add_ps(_mm256_add_ps(FCK_M(0), m1), m2), o = _mm256_sub_ps(m1, m2);
                if (taps == 3) {
                    o = _mm256_add_ps(o, m3);
                } else {
                    const __m256 m4 = FCK_M(4);
                    e = _mm256_add_ps(e, _mm256_add_ps(m3, m4));
                    o = _mm256_add_ps(_mm256_fmadd_ps(_mm256_set1_ps(2), _mm256_sub_ps(m3, m4), o), FCK_M(5));
                }
#undef FCK_M
                y[0][t] = _mm256_add_ps(e, b);
                y[1][t] = _mm256_add_ps(o, b);
            }
            const int columns = width - 2 * t0 < 2 * count ? width - 2 * t0 : 2 * count;
            store_row(y[0], y[1], lanes, columns, out + (ptrdiff_t)c0 * plane_stride + 2 * t0, plane_stride);
        }
    }
}

FCK_AVX2 void fck_winograd_output_2x2_tiles_avx2(const float *m, ptrdiff_t xi_stride, int tiles, float bias,
                                                 int width, float *row0, float *row1) {
    const __m256 b = _mm256_set1_ps(bias);
    for (int k = 0; k < tiles; k += 8) {
        // 8 tiles per vector (the last ones masked: lanes past `tiles` read as zero).
        const int lanes = tiles - k < 8 ? tiles - k : 8;
        const __m256i mask = fck_avx2_lanes(0, lanes);
        const float *p = m + k;
#define FCK_M(xi) load_lanes(p + (xi) * xi_stride, lanes, mask)
        __m256 s[4], d[4];
        for (int j = 0; j < 4; j++) {
            const __m256 m1 = FCK_M(4 + j), m2 = FCK_M(8 + j);
            s[j] = _mm256_add_ps(_mm256_add_ps(FCK_M(j), m1), m2);
            d[j] = _mm256_sub_ps(_mm256_sub_ps(m1, m2), FCK_M(12 + j));
        }
#undef FCK_M
        // Even and odd output columns of the 8 tiles, interleaved into 16 consecutive ones.
        const int columns = width - 2 * k < 16 ? width - 2 * k : 16;
        __m256 e = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(s[0], s[1]), s[2]), b);
        __m256 o = _mm256_add_ps(_mm256_sub_ps(_mm256_sub_ps(s[1], s[2]), s[3]), b);
        store_interleaved(e, o, columns, row0 + 2 * k);
        if (row1) {
            e = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(d[0], d[1]), d[2]), b);
            o = _mm256_add_ps(_mm256_sub_ps(_mm256_sub_ps(d[1], d[2]), d[3]), b);
            store_interleaved(e, o, columns, row1 + 2 * k);
        }
    }
}

#else
// Not reached: callers check fck_avx2_available(), which is 0 off x86-64.
void fck_winograd_output_2x2_tiles_avx2(const float *m, ptrdiff_t xi_stride, int tiles, float bias, int width,
                                        float *row0, float *row1) {
    (void)m; (void)xi_stride; (void)tiles; (void)bias; (void)width; (void)row0; (void)row1;
}
void fck_winograd_output_2x2_avx2(const float *m, ptrdiff_t xi_stride, ptrdiff_t tile_stride, int tiles,
                                  int tile_rows, int channels, const float *bias, float *out, ptrdiff_t plane_stride,
                                  int width, int rows) {
    (void)m; (void)xi_stride; (void)tile_stride; (void)tiles; (void)tile_rows; (void)channels; (void)bias; (void)out;
    (void)plane_stride; (void)width; (void)rows;
}
void fck_winograd_output_line_avx2(int taps, const float *m, ptrdiff_t xi_stride, ptrdiff_t tile_stride, int tiles,
                                   int channels, const float *bias, float *out, ptrdiff_t plane_stride, int width) {
    (void)taps; (void)m; (void)xi_stride; (void)tile_stride; (void)tiles; (void)channels; (void)bias; (void)out;
    (void)plane_stride; (void)width;
}
#endif
