// The position-vectorized GEMM of factorconv_kernels.h for channel mixing (1×1 convolutions).
//
// Micro-tile: up to 12 rows (output channels, each weight broadcast) × 32 columns (positions,
// two zmm vectors of X), 24 accumulators over the whole depth; blocks of at most 16 columns (a
// line's or a row's last few, the narrow first block) use 16-column tiles at half the cost.
// Unlike BLAS, X is read in place (copied only when its rows alias in L1) and Y is never
// zero-filled first: each output is written once, with its bias.
#include "factorconv_kernels.h"
#include "kernels_common.h"

#include <stdint.h>

#if defined(__x86_64__)

#define FCK_INIT(r) __m512 a0_##r = _mm512_set1_ps(bias ? bias[r] : 0.0f), a1_##r = a0_##r;
#define FCK_FMA(r) { const __m512 wr = _mm512_set1_ps(w[(r) * ldw + k]); \
    a0_##r = _mm512_fmadd_ps(wr, x0, a0_##r); a1_##r = _mm512_fmadd_ps(wr, x1, a1_##r); }
#define FCK_STORE(r) _mm512_mask_storeu_ps(y + (r) * ldy, lo, a0_##r); _mm512_mask_storeu_ps(y + (r) * ldy + 16, hi, a1_##r);
/// Rows [0, NR) × 32 columns (masks `lo`/`hi` select the columns that exist).
#define FCK_MIX_TILE(NR, EACH) \
    static FCK_AVX512 void mix_tile_##NR(const float *w, ptrdiff_t ldw, int depth, const float *x, ptrdiff_t ldx, \
                                         float *y, ptrdiff_t ldy, const float *bias, __mmask16 lo, __mmask16 hi) { \
        EACH(FCK_INIT) \
        const int aliased = (ldx & 1023) == 0; \
        for (int k = 0; k < depth; k++) { \
            const __m512 x0 = _mm512_maskz_loadu_ps(lo, x + k * ldx), x1 = _mm512_maskz_loadu_ps(hi, x + k * ldx + 16); \
            /* X's rows are far apart (an image plane each): too many streams for the hardware \
               prefetcher, so ask for the columns 4 blocks ahead; \
               into L2 only when the rows are a multiple of 4 KB apart, where they share their L1 \
               sets and the prefetched lines would evict the block being read. */ \
            if (aliased) { \
                _mm_prefetch((const char *)(x + k * ldx + 128), _MM_HINT_T1); \
                _mm_prefetch((const char *)(x + k * ldx + 144), _MM_HINT_T1); \
            } else { \
                _mm_prefetch((const char *)(x + k * ldx + 128), _MM_HINT_T0); \
                _mm_prefetch((const char *)(x + k * ldx + 144), _MM_HINT_T0); \
            } \
            EACH(FCK_FMA) \
        } \
        EACH(FCK_STORE) \
    }

#define FCK_INIT16(r) __m512 a0_##r = _mm512_set1_ps(bias ? bias[r] : 0.0f);
#define FCK_FMA16(r) a0_##r = _mm512_fmadd_ps(_mm512_set1_ps(w[(r) * ldw + k]), x0, a0_##r);
#define FCK_STORE16(r) _mm512_mask_storeu_ps(y + (r) * ldy, lo, a0_##r);
/// Rows [0, NR) × 16 columns (`hi` is empty).
#define FCK_MIX_TILE16(NR, EACH) \
    static FCK_AVX512 void mix_tile16_##NR(const float *w, ptrdiff_t ldw, int depth, const float *x, ptrdiff_t ldx, \
                                           float *y, ptrdiff_t ldy, const float *bias, __mmask16 lo, __mmask16 hi) { \
        (void)hi; \
        EACH(FCK_INIT16) \
        for (int k = 0; k < depth; k++) { \
            const __m512 x0 = _mm512_maskz_loadu_ps(lo, x + k * ldx); \
            EACH(FCK_FMA16) \
        } \
        EACH(FCK_STORE16) \
    }

/// Both tile widths for NR rows.
#define FCK_MIX_TILES(NR, EACH) FCK_MIX_TILE(NR, EACH) FCK_MIX_TILE16(NR, EACH)
FCK_MIX_TILES(1, FCK_EACH_1)
FCK_MIX_TILES(2, FCK_EACH_2)
FCK_MIX_TILES(3, FCK_EACH_3)
FCK_MIX_TILES(4, FCK_EACH_4)
FCK_MIX_TILES(5, FCK_EACH_5)
FCK_MIX_TILES(6, FCK_EACH_6)
FCK_MIX_TILES(7, FCK_EACH_7)
FCK_MIX_TILES(8, FCK_EACH_8)
FCK_MIX_TILES(9, FCK_EACH_9)
FCK_MIX_TILES(10, FCK_EACH_10)
FCK_MIX_TILES(11, FCK_EACH_11)
FCK_MIX_TILES(12, FCK_EACH_12)

typedef void (*mix_tile_fn)(const float *, ptrdiff_t, int, const float *, ptrdiff_t, float *, ptrdiff_t, const float *,
                            __mmask16, __mmask16);
/// The tiles by height (index 1–12), 32 and 16 columns wide.
static const mix_tile_fn wide_tiles[13] = {0, mix_tile_1, mix_tile_2, mix_tile_3, mix_tile_4, mix_tile_5, mix_tile_6,
                                           mix_tile_7, mix_tile_8, mix_tile_9, mix_tile_10, mix_tile_11, mix_tile_12};
static const mix_tile_fn narrow_tiles[13] = {0, mix_tile16_1, mix_tile16_2, mix_tile16_3, mix_tile16_4, mix_tile16_5,
                                             mix_tile16_6, mix_tile16_7, mix_tile16_8, mix_tile16_9, mix_tile16_10,
                                             mix_tile16_11, mix_tile16_12};

/// True when the block (`depth` rows of the columns `lo`/`hi` select) holds a NaN or infinity: on
/// the bit patterns, an all-ones exponent plus one carries into the sign bit (as FiniteCheck).
static FCK_AVX512 int block_has_nonfinite(const float *x, ptrdiff_t ldx, int depth, __mmask16 lo, __mmask16 hi) {
    const __m512i exponent = _mm512_set1_epi32(0x7F800000), one = _mm512_set1_epi32(0x00800000);
    __m512i flags = _mm512_setzero_si512();
    for (int k = 0; k < depth; k++) {
        const __m512i x0 = _mm512_maskz_loadu_epi32(lo, x + k * ldx), x1 = _mm512_maskz_loadu_epi32(hi, x + k * ldx + 16);
        flags = _mm512_or_si512(flags, _mm512_add_epi32(_mm512_and_si512(x0, exponent), one));
        flags = _mm512_or_si512(flags, _mm512_add_epi32(_mm512_and_si512(x1, exponent), one));
    }
    return _mm512_test_epi32_mask(flags, _mm512_set1_epi32((int)0x80000000u)) != 0;
}

FCK_AVX512 void fck_mix_channels(const float *w, ptrdiff_t ldw, int rows, int depth, const float *x, ptrdiff_t ldx,
                                 int columns, float *y, ptrdiff_t ldy, const float *bias, float *scratch,
                                 int *nonfinite) {
    // A first, narrower block when Y's first row does not start on a cache line, so that the
    // 32-column stores after it are aligned (split stores cost twice; numpy's buffers are only
    // 16-byte aligned).
    const int head = (int)(((64 - ((uintptr_t)y & 63)) & 63) / sizeof(float));
    for (int j = 0, width; j < columns; j += width) {
        width = columns - j < 32 ? columns - j : 32;
        if (j == 0 && head > 0 && head < width) width = head;
        const __mmask16 lo = fck_first_vector(width), hi = fck_second_vector(width);
        // Rows of X a multiple of 4 KB apart share their L1 sets and evict each other between
        // the tiles' passes: with many tiles (more than 64 rows), read such a block once into
        // contiguous scratch. With few, the copy costs more than the passes lose.
        const float *xb = x + j;
        ptrdiff_t ldb = ldx;
        if (scratch && rows > 64 && (ldx & 1023) == 0) {
            for (int k = 0; k < depth; k++) {
                _mm512_storeu_ps(scratch + 32 * k, _mm512_maskz_loadu_ps(lo, x + k * ldx + j));
                _mm512_storeu_ps(scratch + 32 * k + 16, _mm512_maskz_loadu_ps(hi, x + k * ldx + j + 16));
            }
            xb = scratch;
            ldb = 32;
        }
        // As few tiles as 12-row tiles allow (each reads the whole block of X), of balanced
        // heights: 64 rows as 11 + 11 + 11 + 11 + 10 + 10, not 12 × 5 + 4, whose short tile has
        // too few accumulators to hide the multiply-add latency; and with Y's rows 4 KB apart,
        // 12-row tiles fill all 12 ways of their L1 sets with Y, evicting the block of X.
        const mix_tile_fn *tiles_of_height = width > 16 ? wide_tiles : narrow_tiles;
        const int tiles = (rows + 11) / 12;
        for (int t = 0, r = 0; t < tiles; t++) {
            const int n = (rows - r) / (tiles - t);
            tiles_of_height[n](w + r * ldw, ldw, depth, xb, ldb, y + r * ldy + j, ldy, bias ? bias + r : 0, lo, hi);
            r += n;
        }
        // A NaN or infinity anywhere in a column of X makes that column of every row of Y
        // non-finite (0 · ∞ is NaN), so Y's first row, just written, stands for the whole block;
        // X itself is checked only when that row is not finite (finite values may also have
        // overflowed): a separate pass over X, or a check of every block of X as it is read,
        // would cost far more than this check of one row.
        if (nonfinite && block_has_nonfinite(y + j, ldy, 1, lo, hi) && block_has_nonfinite(x + j, ldx, depth, lo, hi))
            *nonfinite = 1;
    }
}

#else
// Not reached: callers check fck_avx512_available(), which is 0 off x86-64.
void fck_mix_channels(const float *w, ptrdiff_t ldw, int rows, int depth, const float *x, ptrdiff_t ldx, int columns,
                      float *y, ptrdiff_t ldy, const float *bias, float *scratch, int *nonfinite) {
    (void)w; (void)ldw; (void)rows; (void)depth; (void)x; (void)ldx; (void)columns; (void)y; (void)ldy; (void)bias;
    (void)scratch; (void)nonfinite;
}
#endif
