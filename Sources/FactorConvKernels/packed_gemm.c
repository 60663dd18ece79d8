// Panel packing and the register-blocked GEMM of factorconv_kernels.h.
//
// Micro-tile: 32 rows (two zmm vectors of A's packed panel; 16 for a last half panel) × up to
// 12 columns (broadcasts of B), 24 accumulators held in registers over the whole depth; C is
// written transposed, so each accumulator is one contiguous (masked) store.
#include "factorconv_kernels.h"
#include "kernels_common.h"

#include <string.h>

int fck_packed_rows(int rows) {
    const int full = rows / FCK_PANEL_ROWS * FCK_PANEL_ROWS, rest = rows - full;
    return full + (rest == 0 ? 0 : rest <= FCK_PANEL_ROWS / 2 ? FCK_PANEL_ROWS / 2 : FCK_PANEL_ROWS);
}

void fck_pack_panels(const float *a, ptrdiff_t lda, int rows, int depth, float *packed) {
    const int padded = fck_packed_rows(rows);
    for (int p0 = 0; p0 < padded; p0 += FCK_PANEL_ROWS) {
        // Every panel is 32 rows but a last one of 16.
        const int width = padded - p0 < FCK_PANEL_ROWS ? padded - p0 : FCK_PANEL_ROWS;
        const int height = rows - p0 < width ? rows - p0 : width;
        float *panel = packed + (ptrdiff_t)p0 * depth;
        for (int k = 0; k < depth; k++) {
            float *dst = panel + (ptrdiff_t)k * width;
            for (int r = 0; r < height; r++) dst[r] = a[(ptrdiff_t)(p0 + r) * lda + k];
            for (int r = height; r < width; r++) dst[r] = 0;
        }
    }
}

#if defined(__x86_64__)

/// Micro-tiles of 32 rows × NC columns (NC = 12, 8, 4, 2, 1; named accumulators, FCK_EACH_NC).
/// Rows [0, 32) of panel `ap`; masks `lo`/`hi` select the rows that exist.
#define FCK_ZERO(j) __m512 c0_##j = _mm512_setzero_ps(), c1_##j = _mm512_setzero_ps();
#define FCK_FMA(j) { const __m512 bj = _mm512_set1_ps(bk[j]); \
    c0_##j = _mm512_fmadd_ps(a0, bj, c0_##j); c1_##j = _mm512_fmadd_ps(a1, bj, c1_##j); }
#define FCK_STORE(j) { float *cj = c + (j) * ldc; \
    if (accumulate) { c0_##j = _mm512_add_ps(c0_##j, _mm512_maskz_loadu_ps(lo, cj)); \
                      c1_##j = _mm512_add_ps(c1_##j, _mm512_maskz_loadu_ps(hi, cj + 16)); } \
    _mm512_mask_storeu_ps(cj, lo, c0_##j); _mm512_mask_storeu_ps(cj + 16, hi, c1_##j); }
#define FCK_MICRO_TILE(NC, EACH) \
    static FCK_AVX512 void micro_tile_##NC(const float *ap, int depth, const float *b, ptrdiff_t ldb, float *c, \
                                           ptrdiff_t ldc, __mmask16 lo, __mmask16 hi, int accumulate) { \
        EACH(FCK_ZERO) \
        for (int k = 0; k < depth; k++) { \
            const __m512 a0 = _mm512_loadu_ps(ap + 32 * k), a1 = _mm512_loadu_ps(ap + 32 * k + 16); \
            const float *bk = b + k * ldb; \
            EACH(FCK_FMA) \
        } \
        EACH(FCK_STORE) \
    }
/// The same for a last panel of 16 rows (one vector; mask `lo`).
#define FCK_ZERO_HALF(j) __m512 c0_##j = _mm512_setzero_ps();
#define FCK_FMA_HALF(j) c0_##j = _mm512_fmadd_ps(a0, _mm512_set1_ps(bk[j]), c0_##j);
#define FCK_STORE_HALF(j) { float *cj = c + (j) * ldc; \
    if (accumulate) c0_##j = _mm512_add_ps(c0_##j, _mm512_maskz_loadu_ps(lo, cj)); \
    _mm512_mask_storeu_ps(cj, lo, c0_##j); }
#define FCK_HALF_TILE(NC, EACH) \
    static FCK_AVX512 void half_tile_##NC(const float *ap, int depth, const float *b, ptrdiff_t ldb, float *c, \
                                          ptrdiff_t ldc, __mmask16 lo, int accumulate) { \
        EACH(FCK_ZERO_HALF) \
        for (int k = 0; k < depth; k++) { \
            const __m512 a0 = _mm512_loadu_ps(ap + 16 * k); \
            const float *bk = b + k * ldb; \
            EACH(FCK_FMA_HALF) \
        } \
        EACH(FCK_STORE_HALF) \
    }
FCK_MICRO_TILE(1, FCK_EACH_1)
FCK_MICRO_TILE(2, FCK_EACH_2)
FCK_MICRO_TILE(4, FCK_EACH_4)
FCK_MICRO_TILE(8, FCK_EACH_8)
FCK_MICRO_TILE(12, FCK_EACH_12)
FCK_HALF_TILE(1, FCK_EACH_1)
FCK_HALF_TILE(2, FCK_EACH_2)
FCK_HALF_TILE(4, FCK_EACH_4)
FCK_HALF_TILE(8, FCK_EACH_8)
FCK_HALF_TILE(12, FCK_EACH_12)

FCK_AVX512 void fck_gemm_packed(const float *packed, int rows, int depth, const float *b, ptrdiff_t ldb,
                                int columns, float *c, ptrdiff_t ldc, int accumulate) {
    for (int p0 = 0; p0 < rows; p0 += FCK_PANEL_ROWS) {
        const int height = rows - p0 < FCK_PANEL_ROWS ? rows - p0 : FCK_PANEL_ROWS;
        const __mmask16 lo = fck_first_vector(height), hi = fck_second_vector(height);
        const float *ap = packed + (ptrdiff_t)p0 * depth;
        int j = 0;
        // 12-column tiles, then the rest as 8 + 4 + 2 + 1; a last panel of 16 rows (the packing
        // makes one when at most 16 rows remain) runs on one vector per column.
#define FCK_RUN(NC) for (; j + NC <= columns; j += NC) \
            micro_tile_##NC(ap, depth, b + j, ldb, c + j * ldc + p0, ldc, lo, hi, accumulate);
#define FCK_RUN_HALF(NC) for (; j + NC <= columns; j += NC) \
            half_tile_##NC(ap, depth, b + j, ldb, c + j * ldc + p0, ldc, lo, accumulate);
        if (height <= 16) {
            FCK_RUN_HALF(12) FCK_RUN_HALF(8) FCK_RUN_HALF(4) FCK_RUN_HALF(2) FCK_RUN_HALF(1)
        } else {
            FCK_RUN(12) FCK_RUN(8) FCK_RUN(4) FCK_RUN(2) FCK_RUN(1)
        }
#undef FCK_RUN
#undef FCK_RUN_HALF
    }
}

#else
// Not reached: callers check fck_avx512_available(), which is 0 off x86-64.
void fck_gemm_packed(const float *packed, int rows, int depth, const float *b, ptrdiff_t ldb, int columns,
                     float *c, ptrdiff_t ldc, int accumulate) {
    (void)packed; (void)rows; (void)depth; (void)b; (void)ldb; (void)columns; (void)c; (void)ldc; (void)accumulate;
}
#endif
