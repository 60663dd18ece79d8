// The input side of Winograd F(2×2, 3×3) and F(2, r) (factorconv_kernels.h): rows split into
// even and odd columns, and Bᵀ d B (or Bᵀ d) of 16 tiles per vector.
#include "factorconv_kernels.h"
#include "kernels_common.h"
#include "winograd_input_matrix.h"

#if defined(__x86_64__)

void fck_prefetch(const void *start, size_t bytes) {
    const char *p = (const char *)start;
    for (size_t offset = 0; offset < bytes; offset += 64) _mm_prefetch(p + offset, _MM_HINT_T0);
}

FCK_AVX512 void fck_deinterleave(const float *x, int width, int pad, int count, float *even, float *odd) {
    if (!x) {
        for (int k = 0; k < count; k++) even[k] = odd[k] = 0;
        return;
    }
    const __m512i pick_even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    const __m512i pick_odd = _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
    int k = 0;
    // Left edge (columns before the row's start are padding).
    for (; k < count && 2 * k - pad < 0; k++) {
        const int i = 2 * k - pad;
        even[k] = 0;
        odd[k] = i + 1 >= 0 && i + 1 < width ? x[i + 1] : 0;
    }
    // 16 pairs per step; masked loads stop at the row's end (masked-out lanes read nothing).
    for (; k < count; k += 16) {
        const int i = 2 * k - pad, valid = width - i < 0 ? 0 : width - i;
        const __mmask16 lo = fck_first_vector(valid), hi = fck_second_vector(valid), out = fck_first_vector(count - k);
        const __m512 a = _mm512_maskz_loadu_ps(lo, x + i), b = _mm512_maskz_loadu_ps(hi, x + i + 16);
        _mm512_mask_storeu_ps(even + k, out, _mm512_permutex2var_ps(a, pick_even, b));
        _mm512_mask_storeu_ps(odd + k, out, _mm512_permutex2var_ps(a, pick_odd, b));
    }
}

FCK_AVX512 void fck_winograd_input_2x2(const float *even, const float *odd, ptrdiff_t row_stride, int tiles,
                                       float *v, ptrdiff_t xi_stride) {
    // Along the first axis, row i of Bᵀ d is d_a + sign · d_b (winograd_input_matrix.h); along
    // the second, tile k's columns are e_k, o_k, e_{k+1}, o_{k+1}.
    for (int i = 0; i < 4; i++) {
        const float *ea = even + fck_bt_a_row[i] * row_stride, *eb = even + fck_bt_b_row[i] * row_stride;
        const float *oa = odd + fck_bt_a_row[i] * row_stride, *ob = odd + fck_bt_b_row[i] * row_stride;
        const __m512 s = _mm512_set1_ps(fck_bt_sign[i]);
        float *v0 = v + 4 * i * xi_stride, *v1 = v0 + xi_stride, *v2 = v1 + xi_stride, *v3 = v2 + xi_stride;
        for (int k = 0; k < tiles; k += 16) {
            const __mmask16 m = fck_first_vector(tiles - k);
#define FCK_L(p, off) _mm512_maskz_loadu_ps(m, (p) + k + (off))
            const __m512 re0 = _mm512_fmadd_ps(s, FCK_L(eb, 0), FCK_L(ea, 0));
            const __m512 re1 = _mm512_fmadd_ps(s, FCK_L(eb, 1), FCK_L(ea, 1));
            const __m512 ro0 = _mm512_fmadd_ps(s, FCK_L(ob, 0), FCK_L(oa, 0));
            const __m512 ro1 = _mm512_fmadd_ps(s, FCK_L(ob, 1), FCK_L(oa, 1));
#undef FCK_L
            _mm512_mask_storeu_ps(v0 + k, m, _mm512_sub_ps(re0, re1));
            _mm512_mask_storeu_ps(v1 + k, m, _mm512_add_ps(ro0, re1));
            _mm512_mask_storeu_ps(v2 + k, m, _mm512_sub_ps(re1, ro0));
            _mm512_mask_storeu_ps(v3 + k, m, _mm512_sub_ps(ro0, ro1));
        }
    }
}

FCK_AVX512 void fck_winograd_input_line(int taps, const float *even, const float *odd, int tiles, float *v,
                                        ptrdiff_t xi_stride) {
    float *v0 = v, *v1 = v0 + xi_stride, *v2 = v1 + xi_stride, *v3 = v2 + xi_stride;
    const __m512 half = _mm512_set1_ps(0.5f);
    for (int k = 0; k < tiles; k += 16) {
        const __mmask16 m = fck_first_vector(tiles - k);
#define FCK_L(p, off) _mm512_maskz_loadu_ps(m, (p) + k + (off))
        const __m512 d0 = FCK_L(even, 0), d1 = FCK_L(odd, 0), d2 = FCK_L(even, 1), d3 = FCK_L(odd, 1);
        if (taps == 3) {
            // (d0 − d2, (d1 + d2)/2, (d2 − d1)/2, d3 − d1).
            _mm512_mask_storeu_ps(v0 + k, m, _mm512_sub_ps(d0, d2));
            _mm512_mask_storeu_ps(v1 + k, m, _mm512_mul_ps(half, _mm512_add_ps(d1, d2)));
            _mm512_mask_storeu_ps(v2 + k, m, _mm512_mul_ps(half, _mm512_sub_ps(d2, d1)));
            _mm512_mask_storeu_ps(v3 + k, m, _mm512_sub_ps(d3, d1));
            continue;
        }
        // F(2, 5): (d0 − 5/4 d2 + 1/4 d4, t + s, s − t, w + u, u − w, 4 d1 − 5 d3 + d5) with
        // s = 2/3 d2 − 1/6 d4, t = 2/3 d1 − 1/6 d3, u = (d4 − d2)/24, w = (d3 − d1)/12.
        const __m512 d4 = FCK_L(even, 2), d5 = FCK_L(odd, 2);
#undef FCK_L
        const __m512 c23 = _mm512_set1_ps(2.0f / 3.0f), c16 = _mm512_set1_ps(1.0f / 6.0f);
        const __m512 s = _mm512_sub_ps(_mm512_mul_ps(c23, d2), _mm512_mul_ps(c16, d4));
        const __m512 t = _mm512_sub_ps(_mm512_mul_ps(c23, d1), _mm512_mul_ps(c16, d3));
        const __m512 u = _mm512_mul_ps(_mm512_set1_ps(1.0f / 24.0f), _mm512_sub_ps(d4, d2));
        const __m512 w = _mm512_mul_ps(_mm512_set1_ps(1.0f / 12.0f), _mm512_sub_ps(d3, d1));
        float *v4 = v3 + xi_stride, *v5 = v4 + xi_stride;
        _mm512_mask_storeu_ps(v0 + k, m, _mm512_add_ps(_mm512_sub_ps(d0, _mm512_mul_ps(_mm512_set1_ps(1.25f), d2)),
                                                       _mm512_mul_ps(_mm512_set1_ps(0.25f), d4)));
        _mm512_mask_storeu_ps(v1 + k, m, _mm512_add_ps(t, s));
        _mm512_mask_storeu_ps(v2 + k, m, _mm512_sub_ps(s, t));
        _mm512_mask_storeu_ps(v3 + k, m, _mm512_add_ps(w, u));
        _mm512_mask_storeu_ps(v4 + k, m, _mm512_sub_ps(u, w));
        _mm512_mask_storeu_ps(v5 + k, m, _mm512_add_ps(_mm512_sub_ps(_mm512_mul_ps(_mm512_set1_ps(4), d1),
                                                                     _mm512_mul_ps(_mm512_set1_ps(5), d3)), d5));
    }
}

#else
void fck_prefetch(const void *start, size_t bytes) { (void)start; (void)bytes; }
// Not reached: callers check fck_avx512_available(), which is 0 off x86-64.
void fck_deinterleave(const float *x, int width, int pad, int count, float *even, float *odd) {
    (void)x; (void)width; (void)pad; (void)count; (void)even; (void)odd;
}
void fck_winograd_input_2x2(const float *even, const float *odd, ptrdiff_t row_stride, int tiles, float *v,
                            ptrdiff_t xi_stride) {
    (void)even; (void)odd; (void)row_stride; (void)tiles; (void)v; (void)xi_stride;
}
void fck_winograd_input_line(int taps, const float *even, const float *odd, int tiles, float *v, ptrdiff_t xi_stride) {
    (void)taps; (void)even; (void)odd; (void)tiles; (void)v; (void)xi_stride;
}
#endif
