// fck_gemm_packed for CPUs with AVX2 and FMA but no AVX-512 (factorconv_kernels.h): the same
// panels (packed by fck_pack_panels) and the same transposed C.
//
// Micro-tile: 16 rows (two ymm vectors of a panel's rows) × up to 6 columns (broadcasts of B),
// 12 accumulators held in registers over a chunk of 128 rows of depth, run on both 16-row halves
// of each 32-row panel: chunk by chunk, panel by panel, each panel's chunk staying in L1 while
// the column blocks read B in place. Full 16-row tiles load and store C unmasked; a tile
// with fewer rows goes through a 16-float buffer per column (AVX2's masked stores are slow on
// some CPUs, and this runs once per tile, outside the depth loop).
#include "factorconv_kernels.h"
#include "kernels_common.h"

#include <string.h>

#if defined(__x86_64__)

#define FCK_ZERO(j) __m256 c0_##j = _mm256_setzero_ps(), c1_##j = _mm256_setzero_ps();
#define FCK_FMA(j) { const __m256 bj = _mm256_broadcast_ss(bk + (j)); \
    c0_##j = _mm256_fmadd_ps(a0, bj, c0_##j); c1_##j = _mm256_fmadd_ps(a1, bj, c1_##j); }
#define FCK_STORE(j) { float *cj = c + (j) * ldc; \
    if (height == 16) { \
        if (accumulate) { c0_##j = _mm256_add_ps(c0_##j, _mm256_loadu_ps(cj)); \
                          c1_##j = _mm256_add_ps(c1_##j, _mm256_loadu_ps(cj + 8)); } \
        _mm256_storeu_ps(cj, c0_##j); _mm256_storeu_ps(cj + 8, c1_##j); \
    } else { \
        float part[16]; \
        _mm256_storeu_ps(part, c0_##j); _mm256_storeu_ps(part + 8, c1_##j); \
        if (accumulate) { for (int r = 0; r < height; r++) cj[r] += part[r]; } \
        else memcpy(cj, part, (size_t)height * sizeof(float)); \
    } }

/// Micro-tiles of 16 rows × NC columns (NC = 1…6; named accumulators, FCK_EACH_NC): rows
/// [0, height) of the tile whose packed rows for depth k start at ap + k · stride (stride 32
/// in a full panel, 16 in a last half panel); C's rows past `height` are left alone.
#define FCK_MICRO_TILE(NC, EACH) \
    static FCK_AVX2 void micro_tile_##NC(const float *ap, ptrdiff_t stride, int depth, const float *b, ptrdiff_t ldb, \
                                         float *c, ptrdiff_t ldc, int height, int accumulate) { \
        EACH(FCK_ZERO) \
        for (int k = 0; k < depth; k++) { \
            const __m256 a0 = _mm256_loadu_ps(ap + stride * k), a1 = _mm256_loadu_ps(ap + stride * k + 8); \
            const float *bk = b + k * ldb; \
            EACH(FCK_FMA) \
        } \
        EACH(FCK_STORE) \
    }
FCK_MICRO_TILE(1, FCK_EACH_1)
FCK_MICRO_TILE(2, FCK_EACH_2)
FCK_MICRO_TILE(3, FCK_EACH_3)
FCK_MICRO_TILE(4, FCK_EACH_4)
FCK_MICRO_TILE(5, FCK_EACH_5)
FCK_MICRO_TILE(6, FCK_EACH_6)
#undef FCK_MICRO_TILE
#undef FCK_ZERO
#undef FCK_FMA
#undef FCK_STORE

/// Columns per micro-tile, and the depth of a chunk of a 32-row panel (16 KB) that stays in a
/// 32 KB L1 cache beside the rows of B it meets.
#define FCK_AVX2_TILE_COLUMNS 6
#define FCK_AVX2_L1_DEPTH 128

/// One 16-row tile of `count` ≤ 6 columns.
static FCK_AVX2 void tile(int count, const float *ap, ptrdiff_t stride, int depth, const float *b, ptrdiff_t ldb,
                          float *c, ptrdiff_t ldc, int height, int accumulate) {
    switch (count) {
    case 6: micro_tile_6(ap, stride, depth, b, ldb, c, ldc, height, accumulate); break;
    case 5: micro_tile_5(ap, stride, depth, b, ldb, c, ldc, height, accumulate); break;
    case 4: micro_tile_4(ap, stride, depth, b, ldb, c, ldc, height, accumulate); break;
    case 3: micro_tile_3(ap, stride, depth, b, ldb, c, ldc, height, accumulate); break;
    case 2: micro_tile_2(ap, stride, depth, b, ldb, c, ldc, height, accumulate); break;
    default: micro_tile_1(ap, stride, depth, b, ldb, c, ldc, height, accumulate); break;
    }
}

/// The tiles of panel rows [p0, rows) ∩ one panel, columns [j, j + count) of C, over depth
/// [k0, k0 + chunk) (B's rows given at `bj`, row stride ldbj): both 16-row halves of a
/// full-width panel, or the one tile of a last panel packed 16 wide (fck_packed_rows).
static inline FCK_AVX2 void panel_tiles(const float *packed, int rows, int depth, int p0, int k0, int chunk,
                                        const float *bj, ptrdiff_t ldbj, int count, float *cj, ptrdiff_t ldc,
                                        int accumulate) {
    const int height = rows - p0 < FCK_PANEL_ROWS ? rows - p0 : FCK_PANEL_ROWS;
    const ptrdiff_t width = height <= 16 ? 16 : 32;
    const float *ap = packed + (ptrdiff_t)p0 * depth + k0 * width;
    tile(count, ap, width, chunk, bj, ldbj, cj, ldc, height < 16 ? height : 16, accumulate);
    if (height > 16) tile(count, ap + 16, width, chunk, bj, ldbj, cj + 16, ldc, height - 16, accumulate);
}

FCK_AVX2 void fck_gemm_packed_avx2(const float *packed, int rows, int depth, const float *b, ptrdiff_t ldb,
                                   int columns, float *c, ptrdiff_t ldc, int accumulate) {
    // Depth in chunks of FCK_AVX2_L1_DEPTH (chunks after the first accumulate): a panel's chunk
    // stays in L1 while the column blocks stream B's rows of that chunk in place (from L2).
    for (int k0 = 0; k0 < depth; k0 += FCK_AVX2_L1_DEPTH) {
        const int chunk = depth - k0 < FCK_AVX2_L1_DEPTH ? depth - k0 : FCK_AVX2_L1_DEPTH;
        for (int p0 = 0; p0 < rows; p0 += FCK_PANEL_ROWS) {
            for (int j = 0; j < columns; j += FCK_AVX2_TILE_COLUMNS) {
                const int count = columns - j < FCK_AVX2_TILE_COLUMNS ? columns - j : FCK_AVX2_TILE_COLUMNS;
                panel_tiles(packed, rows, depth, p0, k0, chunk, b + (ptrdiff_t)k0 * ldb + j, ldb, count,
                            c + j * ldc + p0, ldc, accumulate || k0 > 0);
            }
        }
    }
}

#else
// Not reached: callers check fck_avx2_available(), which is 0 off x86-64.
void fck_gemm_packed_avx2(const float *packed, int rows, int depth, const float *b, ptrdiff_t ldb, int columns,
                          float *c, ptrdiff_t ldc, int accumulate) {
    (void)packed; (void)rows; (void)depth; (void)b; (void)ldb; (void)columns; (void)c; (void)ldc; (void)accumulate;
}
#endif
