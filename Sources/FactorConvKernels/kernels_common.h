// What the kernel files share: the AVX-512 and AVX2 target attributes, lane masks, and the list macros
// that write out a micro-tile's named accumulators. Private to this target.
#ifndef FACTORCONV_KERNELS_COMMON_H
#define FACTORCONV_KERNELS_COMMON_H

/// FCK_EACH_N(X) expands to X(0) X(1) … X(N − 1). Micro-tiles are written out with one named
/// accumulator per X(i): with arrays and loops instead, clang rewrote the loop nest and left the
/// accumulators in memory.
#define FCK_EACH_1(X) X(0)
#define FCK_EACH_2(X) FCK_EACH_1(X) X(1)
#define FCK_EACH_3(X) FCK_EACH_2(X) X(2)
#define FCK_EACH_4(X) FCK_EACH_3(X) X(3)
#define FCK_EACH_5(X) FCK_EACH_4(X) X(4)
#define FCK_EACH_6(X) FCK_EACH_5(X) X(5)
#define FCK_EACH_7(X) FCK_EACH_6(X) X(6)
#define FCK_EACH_8(X) FCK_EACH_7(X) X(7)
#define FCK_EACH_9(X) FCK_EACH_8(X) X(8)
#define FCK_EACH_10(X) FCK_EACH_9(X) X(9)
#define FCK_EACH_11(X) FCK_EACH_10(X) X(10)
#define FCK_EACH_12(X) FCK_EACH_11(X) X(11)

#if defined(__x86_64__)
#include <immintrin.h>

/// Compiles one function for AVX-512 F/VL (and FMA); callers check fck_avx512_available() first.
#define FCK_AVX512 __attribute__((target("avx512f,avx512vl,fma")))

/// The mask of lanes [lo, hi) ∩ [0, 16).
static inline __mmask16 fck_lanes(int lo, int hi) {
    if (lo < 0) lo = 0;
    if (hi > 16) hi = 16;
    return hi <= lo ? 0 : (__mmask16)(((1u << (hi - lo)) - 1) << lo);
}

/// Lanes j of a vector whose index first + j lies in [0, size) (ptrdiff_t: a padded index may
/// not fit an int).
static inline __mmask16 fck_lanes_inside(ptrdiff_t first, ptrdiff_t size) {
    if (first >= size || first + 16 <= 0) return 0;
    return fck_lanes(first < 0 ? (int)-first : 0, size - first > 16 ? 16 : (int)(size - first));
}

/// The lanes of the first vector, and of the second, that a run of n floats covers.
static inline __mmask16 fck_first_vector(int n) { return fck_lanes(0, n); }
static inline __mmask16 fck_second_vector(int n) { return fck_lanes(0, n - 16); }

/// Outputs [o, o + 16) ∩ [0, out_size) of a stride-1 depthwise line of `size` inputs, for a
/// vector that reaches past either end: each tap's lanes that fall in the zero padding are
/// masked off and never read; lanes past out_size are zero.
static inline FCK_AVX512 __m512 fck_line_edge_sum(
    const float *src, ptrdiff_t o, ptrdiff_t size, ptrdiff_t out_size, const float *w, int taps, ptrdiff_t pad,
    ptrdiff_t dilation) {
    const __mmask16 out = fck_lanes_inside(o, out_size);
    __m512 acc = _mm512_setzero_ps();
    for (int t = 0; t < taps; t++) {
        const ptrdiff_t first = o + t * dilation - pad;     // the input index of lane 0
        const __mmask16 inside = out & fck_lanes_inside(first, size);
        if (inside) acc = _mm512_fmadd_ps(_mm512_set1_ps(w[t]), _mm512_maskz_loadu_ps(inside, src + first), acc);
    }
    return acc;
}

// ---- FCK_AVX2: the AVX2 + FMA kernels (for CPUs without AVX-512) ----

/// Compiles one function for AVX2 and FMA; callers check fck_avx2_available() first.
#define FCK_AVX2 __attribute__((target("avx2,fma")))

/// Lanes [lo, hi) ∩ [0, 8) of an 8-float vector, as a _mm256_maskload_ps / _mm256_maskstore_ps
/// mask (all bits set in the lanes inside, zero elsewhere).
static inline FCK_AVX2 __m256i fck_avx2_lanes(ptrdiff_t lo, ptrdiff_t hi) {
    lo = lo < 0 ? 0 : lo > 8 ? 8 : lo;
    hi = hi < 0 ? 0 : hi > 8 ? 8 : hi;
    const __m256i index = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_andnot_si256(_mm256_cmpgt_epi32(_mm256_set1_epi32((int)lo), index),
                               _mm256_cmpgt_epi32(_mm256_set1_epi32((int)hi), index));
}

/// The lanes j of an 8-float vector whose index first + j lies in [0, size).
static inline FCK_AVX2 __m256i fck_avx2_lanes_inside(ptrdiff_t first, ptrdiff_t size) {
    return fck_avx2_lanes(-first, size - first);
}
#endif

#endif
