// The channel-vectorized output transforms of Winograd F(2×2, 3×3) and F(2, r)
// (factorconv_kernels.h), for products stored tile-major by fck_gemm_packed.
#include "factorconv_kernels.h"
#include "kernels_common.h"

#if defined(__x86_64__)

/// Aᵀ m A + b for 16 lanes (tiles or channels) at once: position ξ of every lane is the vector
/// at p + ξ · xi_stride (lanes outside `mask` read as zero). y[2r + j] is output (r, j).
static inline FCK_AVX512 __attribute__((always_inline)) void
tile_transform(const float *p, ptrdiff_t xi_stride, __mmask16 mask, __m512 b, __m512 y[4]) {
#define FCK_M(xi) _mm512_maskz_loadu_ps(mask, p + (xi) * xi_stride)
    // Aᵀ = [[1, 1, 1, 0], [0, 1, −1, −1]]: along the first axis s_j (row 0), d_j (row 1).
    __m512 s[4], d[4];
    for (int j = 0; j < 4; j++) {
        const __m512 m1 = FCK_M(4 + j), m2 = FCK_M(8 + j);
        s[j] = _mm512_add_ps(_mm512_add_ps(FCK_M(j), m1), m2);
        d[j] = _mm512_sub_ps(_mm512_sub_ps(m1, m2), FCK_M(12 + j));
    }
#undef FCK_M
    y[0] = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(s[0], s[1]), s[2]), b);
    y[1] = _mm512_add_ps(_mm512_sub_ps(_mm512_sub_ps(s[1], s[2]), s[3]), b);
    y[2] = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(d[0], d[1]), d[2]), b);
    y[3] = _mm512_add_ps(_mm512_sub_ps(_mm512_sub_ps(d[1], d[2]), d[3]), b);
}

/// Stores even and odd outputs of 16 lanes interleaved, as `columns` ≤ 32 consecutive floats.
static inline FCK_AVX512 __attribute__((always_inline)) void
store_interleaved(__m512 even, __m512 odd, int columns, float *out) {
    const __m512i low = _mm512_set_epi32(23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
    const __m512i high = _mm512_set_epi32(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8);
    _mm512_mask_storeu_ps(out, fck_first_vector(columns), _mm512_permutex2var_ps(even, low, odd));
    _mm512_mask_storeu_ps(out + 16, fck_second_vector(columns), _mm512_permutex2var_ps(even, high, odd));
}

/// The 2×2 outputs of 16 tiles (fewer at the row's end: `count`) for 16 channels (`mask`):
/// y[2r + j][t], one vector over channels per tile, into `y`.
static inline FCK_AVX512 __attribute__((always_inline)) void
tile_outputs(const float *m, ptrdiff_t xi_stride, ptrdiff_t tile_stride, int count, __mmask16 mask, __m512 b,
             float y[4][16][16]) {
    for (int t = 0; t < count; t++) {
        __m512 out[4];
        tile_transform(m + t * tile_stride, xi_stride, mask, b, out);
        for (int i = 0; i < 4; i++) _mm512_storeu_ps(y[i][t], out[i]);
    }
}

/// Writes one output row of a block of `count` ≤ 16 tiles × `lanes` ≤ 16 channels from the
/// tiles' even and odd outputs (`even[t]`, `odd[t]`: vectors over channels): `columns` ≤ 32
/// consecutive outputs per channel, at out + l · plane_stride for channel l. Gathering lane l of
/// the 16 tile vectors transposes the block to channel × tile; interleaving even and odd then
/// gives the channel's 32 consecutive outputs.
static inline FCK_AVX512 __attribute__((always_inline)) void
store_row(const float even[16][16], const float odd[16][16], int lanes, int columns, float *out,
          ptrdiff_t plane_stride) {
    const __m512i lane0 = _mm512_set_epi32(240, 224, 208, 192, 176, 160, 144, 128, 112, 96, 80, 64, 48, 32, 16, 0);
    for (int l = 0; l < lanes; l++, out += plane_stride) {
        const __m512i index = _mm512_add_epi32(lane0, _mm512_set1_epi32(l));
        store_interleaved(_mm512_i32gather_ps(index, &even[0][0], 4), _mm512_i32gather_ps(index, &odd[0][0], 4),
                          columns, out);
    }
}

FCK_AVX512 void fck_winograd_output_2x2(const float *m, ptrdiff_t xi_stride, ptrdiff_t tile_stride, int tiles,
                                        int tile_rows, int channels, const float *bias, float *out,
                                        ptrdiff_t plane_stride, int width, int rows) {
    float y[4][16][16];
    // Channel groups outermost, so that the stores run down 16 planes at a time (a stream per
    // plane that the hardware prefetcher can follow; all 64 planes at once it could not).
    for (int c0 = 0; c0 < channels; c0 += 16) {
        const int lanes = channels - c0 < 16 ? channels - c0 : 16;
        const __mmask16 mask = fck_first_vector(channels - c0);
        const __m512 b = bias ? _mm512_maskz_loadu_ps(mask, bias + c0) : _mm512_setzero_ps();
        for (int tr = 0; tr < tile_rows; tr++) {
            const float *mr = m + (ptrdiff_t)tr * tiles * tile_stride + c0;
            float *row = out + (ptrdiff_t)c0 * plane_stride + (ptrdiff_t)2 * tr * width;
            for (int t0 = 0; t0 < tiles; t0 += 16) {
                const int count = tiles - t0 < 16 ? tiles - t0 : 16;
                tile_outputs(mr + t0 * tile_stride, xi_stride, tile_stride, count, mask, b, y);
                const int columns = width - 2 * t0 < 2 * count ? width - 2 * t0 : 2 * count;
                store_row(y[0], y[1], lanes, columns, row + 2 * t0, plane_stride);
                if (2 * tr + 1 < rows) store_row(y[2], y[3], lanes, columns, row + width + 2 * t0, plane_stride);
            }
        }
    }
}

FCK_AVX512 void fck_winograd_output_2x2_tiles(const float *m, ptrdiff_t xi_stride, int tiles, float bias, int width,
                                              float *row0, float *row1) {
    const __m512 b = _mm512_set1_ps(bias);
    for (int k = 0; k < tiles; k += 16) {
        __m512 y[4];
        tile_transform(m + k, xi_stride, fck_first_vector(tiles - k), b, y);
        // Even and odd output columns of the 16 tiles, interleaved into 32 consecutive ones.
        store_interleaved(y[0], y[1], width - 2 * k, row0 + 2 * k);
        if (row1) store_interleaved(y[2], y[3], width - 2 * k, row1 + 2 * k);
    }
}

FCK_AVX512 void fck_winograd_output_line(int taps, const float *m, ptrdiff_t xi_stride, ptrdiff_t tile_stride,
                                         int tiles, int channels, const float *bias, float *out,
                                         ptrdiff_t plane_stride, int width) {
    float y[2][16][16];
    for (int c0 = 0; c0 < channels; c0 += 16) {
        const int lanes = channels - c0 < 16 ? channels - c0 : 16;
        const __mmask16 mask = fck_first_vector(channels - c0);
        const __m512 b = bias ? _mm512_maskz_loadu_ps(mask, bias + c0) : _mm512_setzero_ps();
        for (int t0 = 0; t0 < tiles; t0 += 16) {
            const int count = tiles - t0 < 16 ? tiles - t0 : 16;
            for (int t = 0; t < count; t++) {
                const float *mt = m + (t0 + t) * tile_stride + c0;
#define FCK_M(xi) _mm512_maskz_loadu_ps(mask, mt + (xi) * xi_stride)
                // F(2, 3): (m0 + m1 + m2, m1 − m2 + m3); F(2, 5): (m0 + … + m4, m1 − m2 + 2 (m3 − m4) + m5).
                const __m512 m1 = FCK_M(1), m2 = FCK_M(2), m3 = FCK_M(3);
                __m512 e = _mm512_add_ps(_mm512_add_ps(FCK_M(0), m1), m2), o = _mm512_sub_ps(m1, m2);
                if (taps == 3) {
                    o = _mm512_add_ps(o, m3);
                } else {
                    const __m512 m4 = FCK_M(4);
                    e = _mm512_add_ps(e, _mm512_add_ps(m3, m4));
                    o = _mm512_add_ps(_mm512_fmadd_ps(_mm512_set1_ps(2), _mm512_sub_ps(m3, m4), o), FCK_M(5));
                }
#undef FCK_M
                _mm512_storeu_ps(y[0][t], _mm512_add_ps(e, b));
                _mm512_storeu_ps(y[1][t], _mm512_add_ps(o, b));
            }
            const int columns = width - 2 * t0 < 2 * count ? width - 2 * t0 : 2 * count;
            store_row(y[0], y[1], lanes, columns, out + (ptrdiff_t)c0 * plane_stride + 2 * t0, plane_stride);
        }
    }
}

#else
// Not reached: callers check fck_avx512_available(), which is 0 off x86-64.
void fck_winograd_output_2x2(const float *m, ptrdiff_t xi_stride, ptrdiff_t tile_stride, int tiles, int tile_rows,
                             int channels, const float *bias, float *out, ptrdiff_t plane_stride, int width, int rows) {
    (void)m; (void)xi_stride; (void)tile_stride; (void)tiles; (void)tile_rows; (void)channels; (void)bias; (void)out;
    (void)plane_stride; (void)width; (void)rows;
}
void fck_winograd_output_2x2_tiles(const float *m, ptrdiff_t xi_stride, int tiles, float bias, int width, float *row0,
                                   float *row1) {
    (void)m; (void)xi_stride; (void)tiles; (void)bias; (void)width; (void)row0; (void)row1;
}
void fck_winograd_output_line(int taps, const float *m, ptrdiff_t xi_stride, ptrdiff_t tile_stride, int tiles,
                              int channels, const float *bias, float *out, ptrdiff_t plane_stride, int width) {
    (void)taps; (void)m; (void)xi_stride; (void)tile_stride; (void)tiles; (void)channels; (void)bias; (void)out;
    (void)plane_stride; (void)width;
}
#endif
