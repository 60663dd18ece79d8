// fck_mix_channels for CPUs with AVX2 and FMA but no AVX-512 (factorconv_kernels.h): the same
// result and contract as channel_mix.c, with 8-float vectors and 16 registers.
//
// Micro-tile: up to 6 rows (output channels, each weight broadcast) × 16 columns (positions, two
// ymm vectors of X), 12 accumulators over the whole depth, which leaves registers for the two
// vectors of X and one broadcast weight; blocks of at most 8 columns use 8-column tiles. Full
// blocks load and store plainly; a block narrower than its tile (the head, the last block)
// masks its loads and stores (_mm256_maskload_ps / _mm256_maskstore_ps), so no byte outside X's
// and Y's columns is touched. Masked loads are slow on some CPUs (on Zen 1 a tile that masks its
// loads runs at about a third of a full one's speed), so such a block read by more than one
// tile is first copied, zero-padded to the tile's width, into scratch, and its tiles load the copy
// whole and mask only their stores. When a full block of X is copied into contiguous scratch (see
// fck_mix_channels_avx2), its first tile makes the copy as it reads X: the copy's loads, which
// wait on L2 or memory, then overlap that tile's multiply-adds instead of running as a pass of
// their own. When the caller asks for Y to be checked for NaN and infinities, each tile adds the
// outputs it stores into a running sum of the block (vaddps, which does not compete with the
// multiply-adds for their ports); only a block whose sum is not finite is then checked value by
// value (a sum of finite values may overflow), while it is still in L1.
#include "factorconv_kernels.h"
#include "kernels_common.h"

#include <stdint.h>

#if defined(__x86_64__)

/// Columns per block (the wide tile's width: one 64-byte cache line of floats).
#define BLOCK 16
/// Most rows per tile.
#define TILE_ROWS 6
/// How many blocks ahead of the one it multiplies a tile prefetches X's rows (a block is one
/// cache line). Odd, so that the prefetched line stays out of the L1 sets the block's own rows
/// fill: with X's row stride s lines and g = gcd(s, 64), the rows fill only the sets of one
/// residue class modulo g, and a distance that is a multiple of g lands in them. 4 does for
/// g = 2 and 4 (a 56×56 image's rows are 196 lines apart, g = 4: 4 lines on from row k is the
/// set of row k + 1); an odd distance only for g = 1, where the rows spread over all 64 sets.
/// For g = 64 (rows a multiple of 4 KB apart) the tiles prefetch into L2 only (below).
#define PREFETCH_BLOCKS 5

// Loads and stores of a full vector (the mask ignored) and of a masked one.
#define LOAD_FULL(p, m) _mm256_loadu_ps(p)
#define LOAD_MASKED(p, m) _mm256_maskload_ps((p), (m))
#define STORE_FULL(p, m, v) _mm256_storeu_ps((p), (v))
#define STORE_MASKED(p, m, v) _mm256_maskstore_ps((p), (m), (v))

/// The arguments every tile takes: W's first row of the tile (row stride ldw), X's block, Y's
/// block, the tile's bias (or NULL), the lane masks of the block's two vectors, and the scratch
/// the copying tiles write X's block into (BLOCK floats per row; unused by the others), and the
/// block's running sum of outputs (NULL: Y is not checked).
#define TILE_ARGS const float *w, ptrdiff_t ldw, int depth, const float *x, ptrdiff_t ldx, float *y, ptrdiff_t ldy, \
                  const float *bias, __m256i m0, __m256i m1, float *copy, __m256 *sum

// What a tile does with each row of X it loads: nothing, or store it to `copy` (both vectors of
// a wide tile; a narrow one's first, the only one its block has).
#define KEEP16_NO(k)
#define KEEP16_YES(k) _mm256_storeu_ps(copy + BLOCK * (k), x0); _mm256_storeu_ps(copy + BLOCK * (k) + 8, x1);
#define KEEP8_NO(k)
#define KEEP8_YES(k) _mm256_storeu_ps(copy + BLOCK * (k), x0);

#define INIT16(r) __m256 a0_##r = _mm256_set1_ps(bias ? bias[r] : 0.0f), a1_##r = a0_##r;
#define FMA16(r) { const __m256 wr = _mm256_broadcast_ss(w + (r) * ldw + k); \
    a0_##r = _mm256_fmadd_ps(wr, x0, a0_##r); a1_##r = _mm256_fmadd_ps(wr, x1, a1_##r); }
/// Rows [0, NR) × 16 columns, loading X with LOAD, storing Y with STORE, keeping X's rows with
/// KEEP16_##KEEP.
#define TILE16(NAME, NR, EACH, LOAD, STORE, KEEP) \
    static FCK_AVX2 void NAME(TILE_ARGS) { \
        (void)m0; (void)m1; (void)copy; /* unused by the full and the non-copying tiles */ \
        EACH(INIT16) \
        /* Rows of X a multiple of 4 KB apart share their L1 sets: prefetch into L2 only, as \
           channel_mix.c does (prefetched lines would evict the block being read). */ \
        const int aliased = (ldx & 1023) == 0; \
        for (int k = 0; k < depth; k++) { \
            const float *xk = x + k * ldx; \
            const __m256 x0 = LOAD(xk, m0), x1 = LOAD(xk + 8, m1); \
            KEEP16_##KEEP(k) \
            /* Many far-apart rows of X: ask for the columns PREFETCH_BLOCKS blocks ahead. */ \
            if (aliased) _mm_prefetch((const char *)(xk + PREFETCH_BLOCKS * BLOCK), _MM_HINT_T1); \
            else _mm_prefetch((const char *)(xk + PREFETCH_BLOCKS * BLOCK), _MM_HINT_T0); \
            EACH(FMA16) \
        } \
        EACH(STORE16_##STORE) \
        if (sum) { __m256 s = *sum; EACH(SUM16) *sum = s; } \
    }
#define STORE16_STORE_FULL(r) STORE_FULL(y + (r) * ldy, m0, a0_##r); STORE_FULL(y + (r) * ldy + 8, m1, a1_##r);
#define STORE16_STORE_MASKED(r) STORE_MASKED(y + (r) * ldy, m0, a0_##r); STORE_MASKED(y + (r) * ldy + 8, m1, a1_##r);
/// Lanes a mask leaves out hold the bias (X's masked loads are zeros): finite, so the sum may
/// take the whole vectors.
#define SUM16(r) s = _mm256_add_ps(s, _mm256_add_ps(a0_##r, a1_##r));

#define INIT8(r) __m256 a0_##r = _mm256_set1_ps(bias ? bias[r] : 0.0f);
#define FMA8(r) a0_##r = _mm256_fmadd_ps(_mm256_broadcast_ss(w + (r) * ldw + k), x0, a0_##r);
/// Rows [0, NR) × 8 columns (`m1` unused).
#define TILE8(NAME, NR, EACH, LOAD, STORE, KEEP) \
    static FCK_AVX2 void NAME(TILE_ARGS) { \
        (void)m0; (void)m1; (void)copy; /* m1 always unused, m0 by the full tiles, copy by most */ \
        EACH(INIT8) \
        for (int k = 0; k < depth; k++) { \
            const __m256 x0 = LOAD(x + k * ldx, m0); \
            KEEP8_##KEEP(k) \
            EACH(FMA8) \
        } \
        EACH(STORE8_##STORE) \
        if (sum) { __m256 s = *sum; EACH(SUM8) *sum = s; } \
    }
#define STORE8_STORE_FULL(r) STORE_FULL(y + (r) * ldy, m0, a0_##r);
#define STORE8_STORE_MASKED(r) STORE_MASKED(y + (r) * ldy, m0, a0_##r);
#define SUM8(r) s = _mm256_add_ps(s, a0_##r);

/// The eight tiles of height NR: 16 or 8 columns; full or masked; full and copying X's rows (a
/// narrow block is never copied so: it is padded instead); and reading a zero-padded copy of a
/// narrow block whole, masking only the stores.
#define TILES(NR, EACH) \
    TILE16(wide_full_##NR, NR, EACH, LOAD_FULL, STORE_FULL, NO) \
    TILE16(wide_masked_##NR, NR, EACH, LOAD_MASKED, STORE_MASKED, NO) \
    TILE8(narrow_full_##NR, NR, EACH, LOAD_FULL, STORE_FULL, NO) \
    TILE8(narrow_masked_##NR, NR, EACH, LOAD_MASKED, STORE_MASKED, NO) \
    TILE16(wide_full_copying_##NR, NR, EACH, LOAD_FULL, STORE_FULL, YES) \
    TILE8(narrow_full_copying_##NR, NR, EACH, LOAD_FULL, STORE_FULL, YES) \
    TILE16(wide_padded_##NR, NR, EACH, LOAD_FULL, STORE_MASKED, NO) \
    TILE8(narrow_padded_##NR, NR, EACH, LOAD_FULL, STORE_MASKED, NO)
TILES(1, FCK_EACH_1)
TILES(2, FCK_EACH_2)
TILES(3, FCK_EACH_3)
TILES(4, FCK_EACH_4)
TILES(5, FCK_EACH_5)
TILES(6, FCK_EACH_6)

typedef void (*tile_fn)(TILE_ARGS);
/// The tiles that read X in place, by kind (wide full, wide masked, narrow full, narrow masked)
/// and height (1–6).
static const tile_fn tiles_by_kind[4][TILE_ROWS + 1] = {
    {0, wide_full_1, wide_full_2, wide_full_3, wide_full_4, wide_full_5, wide_full_6},
    {0, wide_masked_1, wide_masked_2, wide_masked_3, wide_masked_4, wide_masked_5, wide_masked_6},
    {0, narrow_full_1, narrow_full_2, narrow_full_3, narrow_full_4, narrow_full_5, narrow_full_6},
    {0, narrow_masked_1, narrow_masked_2, narrow_masked_3, narrow_masked_4, narrow_masked_5, narrow_masked_6},
};
/// The first tiles of a full block copied into scratch, by width (0: 16 columns, 1: 8) and height.
static const tile_fn copying_tiles[2][TILE_ROWS + 1] = {
    {0, wide_full_copying_1, wide_full_copying_2, wide_full_copying_3, wide_full_copying_4, wide_full_copying_5,
     wide_full_copying_6},
    {0, narrow_full_copying_1, narrow_full_copying_2, narrow_full_copying_3, narrow_full_copying_4,
     narrow_full_copying_5, narrow_full_copying_6},
};
/// The tiles of a narrow block read from its zero-padded copy, by width (0: 16 columns, 1: 8) and
/// height (1–6).
static const tile_fn padded_tiles[2][TILE_ROWS + 1] = {
    {0, wide_padded_1, wide_padded_2, wide_padded_3, wide_padded_4, wide_padded_5, wide_padded_6},
    {0, narrow_padded_1, narrow_padded_2, narrow_padded_3, narrow_padded_4, narrow_padded_5, narrow_padded_6},
};

/// Copies `depth` rows of a narrow block of X (the lanes `m0`/`m1` select) into `copy`, BLOCK
/// floats per row, the lanes outside the block zero.
static FCK_AVX2 void copy_padded(const float *x, ptrdiff_t ldx, int depth, __m256i m0, __m256i m1, float *copy) {
    for (int k = 0; k < depth; k++) {
        _mm256_storeu_ps(copy + BLOCK * k, _mm256_maskload_ps(x + k * ldx, m0));
        _mm256_storeu_ps(copy + BLOCK * k + 8, _mm256_maskload_ps(x + k * ldx + 8, m1));
    }
}

/// True when the block (`depth` rows of the lanes `m0`/`m1` select) holds a NaN or infinity: on
/// the bit patterns, an all-ones exponent plus one carries into the sign bit (as FiniteCheck).
/// (Also used on blocks of Y, `depth` then counting its rows.)
static FCK_AVX2 int block_has_nonfinite(const float *x, ptrdiff_t ldx, int depth, __m256i m0, __m256i m1) {
    const __m256i exponent = _mm256_set1_epi32(0x7F800000), one = _mm256_set1_epi32(0x00800000);
    __m256i flags = _mm256_setzero_si256();
    for (int k = 0; k < depth; k++) {
        const __m256i x0 = _mm256_maskload_epi32((const int *)(x + k * ldx), m0);
        const __m256i x1 = _mm256_maskload_epi32((const int *)(x + k * ldx + 8), m1);
        flags = _mm256_or_si256(flags, _mm256_add_epi32(_mm256_and_si256(x0, exponent), one));
        flags = _mm256_or_si256(flags, _mm256_add_epi32(_mm256_and_si256(x1, exponent), one));
    }
    return _mm256_movemask_ps(_mm256_castsi256_ps(flags)) != 0;
}

FCK_AVX2 void fck_mix_channels_avx2(const float *w, ptrdiff_t ldw, int rows, int depth, const float *x, ptrdiff_t ldx,
                                    int columns, float *y, ptrdiff_t ldy, const float *bias, float *scratch,
                                    int *nonfinite, int *nonfinite_output) {
    // A first, narrower block when Y's first row does not start on a cache line, so that every
    // 16-column block after it stores one whole line (numpy's buffers are only 16-byte aligned).
    const int head = (int)(((64 - ((uintptr_t)y & 63)) & 63) / sizeof(float));
    for (int j = 0, width; j < columns; j += width) {
        width = columns - j < BLOCK ? columns - j : BLOCK;
        if (j == 0 && head > 0 && head < width) width = head;
        const __m256i m0 = fck_avx2_lanes(0, width), m1 = fck_avx2_lanes(0, width - 8);
        // As few tiles as 6-row tiles allow (each reads the whole block of X), of balanced
        // heights: 16 rows as 6 + 5 + 5, not 6 + 6 + 4, whose short tile has too few
        // accumulators to hide the multiply-add latency.
        const int narrow = width <= 8, masked = width != BLOCK && width != 8, kind = 2 * narrow + masked;
        const int tiles = (rows + TILE_ROWS - 1) / TILE_ROWS;
        // With five tiles or more (more than 24 rows), the tiles after the first read a full
        // block from contiguous scratch, which the first one fills, when their passes would lose it
        // from L1: when X's rows are a multiple of 4 KB apart (they share their L1 sets and evict
        // each other), and when the block is deep (128 rows or more, each over two cache lines
        // where X's rows are not aligned: half of L1 or more, which W's rows streaming through
        // evict). With fewer tiles, the copy costs more than the passes lose.
        // A narrow block read by two tiles or more is padded into scratch first (file comment).
        const int padded = masked && scratch && tiles > 1;
        if (padded) copy_padded(x + j, ldx, depth, m0, m1, scratch);
        const int copied = !masked && scratch && rows > 24 && ((ldx & 1023) == 0 || depth >= 128);
        __m256 sum = _mm256_setzero_ps();
        for (int t = 0, r = 0; t < tiles; t++) {
            const int n = (rows - r) / (tiles - t);
            const int from_copy = padded || (copied && t > 0);
            const tile_fn tile = padded ? padded_tiles[narrow][n]
                                 : copied && t == 0 ? copying_tiles[narrow][n] : tiles_by_kind[kind][n];
            tile(w + r * ldw, ldw, depth, from_copy ? scratch : x + j, from_copy ? BLOCK : ldx, y + r * ldy + j, ldy,
                 bias ? bias + r : 0, m0, m1, scratch, nonfinite_output ? &sum : 0);
            r += n;
        }
        if (nonfinite_output && _mm256_movemask_ps(_mm256_cmp_ps(_mm256_sub_ps(sum, sum), _mm256_setzero_ps(), _CMP_NEQ_UQ))
            && block_has_nonfinite(y + j, ldy, rows, m0, m1))
            *nonfinite_output = 1;
        // As in channel_mix.c: any NaN or infinity in a column of X makes that column of Y's
        // first row non-finite, so that row stands for the block, and X is checked only when it
        // is not finite (finite values may also have overflowed).
        if (nonfinite && block_has_nonfinite(y + j, ldy, 1, m0, m1) && block_has_nonfinite(x + j, ldx, depth, m0, m1))
            *nonfinite = 1;
    }
}

#else
// Not reached: callers check fck_avx2_available(), which is 0 off x86-64.
void fck_mix_channels_avx2(const float *w, ptrdiff_t ldw, int rows, int depth, const float *x, ptrdiff_t ldx,
                           int columns, float *y, ptrdiff_t ldy, const float *bias, float *scratch, int *nonfinite,
                           int *nonfinite_output) {
    (void)w; (void)ldw; (void)rows; (void)depth; (void)x; (void)ldx; (void)columns; (void)y; (void)ldy; (void)bias;
    (void)scratch; (void)nonfinite; (void)nonfinite_output;
}
#endif
