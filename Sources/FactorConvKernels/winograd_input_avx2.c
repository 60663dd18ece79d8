// fck_deinterleave, fck_winograd_input_2x2 and fck_winograd_input_line for CPUs with AVX2 and
// FMA but no AVX-512 (factorconv_kernels.h): the same contracts, 8 tiles (or pairs) per vector.
// Vectors run while every lane's inputs exist; the last few tiles of a row run one at a time
// (AVX2 has no cheap masked store).
#include "factorconv_kernels.h"
#include "kernels_common.h"
#include "winograd_input_matrix.h"

#if defined(__x86_64__)

FCK_AVX2 void fck_deinterleave_avx2(const float *x, int width, int pad, int count, float *even, float *odd) {
    if (!x) {
        for (int k = 0; k < count; k++) even[k] = odd[k] = 0;
        return;
    }
    int k = 0;
    // Left edge (columns before the row's start are padding).
    for (; k < count && 2 * k - pad < 0; k++) {
        const int i = 2 * k - pad;
        even[k] = 0;
        odd[k] = i + 1 >= 0 && i + 1 < width ? x[i + 1] : 0;
    }
    // 8 pairs per step while their 16 columns lie inside the row: shuffle_ps picks the even
    // (odd) lanes of each 128-bit half of the two vectors, permute4x64 puts the halves in order.
    for (; k + 8 <= count && 2 * k - pad + 16 <= width; k += 8) {
        const float *s = x + 2 * k - pad;
        const __m256 a = _mm256_loadu_ps(s), b = _mm256_loadu_ps(s + 8);
        const __m256 e = _mm256_shuffle_ps(a, b, 0x88), o = _mm256_shuffle_ps(a, b, 0xDD);
        _mm256_storeu_ps(even + k, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(e), 0xD8)));
        _mm256_storeu_ps(odd + k, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(o), 0xD8)));
    }
    // Right edge: columns past the row's end are padding (here 2k − pad ≥ 0).
    for (; k < count; k++) {
        const int i = 2 * k - pad;
        even[k] = i < width ? x[i] : 0;
        odd[k] = i + 1 < width ? x[i + 1] : 0;
    }
}

FCK_AVX2 void fck_winograd_input_2x2_avx2(const float *even, const float *odd, ptrdiff_t row_stride, int tiles,
                                          float *v, ptrdiff_t xi_stride) {
    // As fck_winograd_input_2x2: row i of Bᵀ d is d_a + sign · d_b; tile k's columns are e_k,
    // o_k, e_{k+1}, o_{k+1}.
    for (int i = 0; i < 4; i++) {
        const float *ea = even + fck_bt_a_row[i] * row_stride, *eb = even + fck_bt_b_row[i] * row_stride;
        const float *oa = odd + fck_bt_a_row[i] * row_stride, *ob = odd + fck_bt_b_row[i] * row_stride;
        const __m256 s = _mm256_set1_ps(fck_bt_sign[i]);
        float *v0 = v + 4 * i * xi_stride, *v1 = v0 + xi_stride, *v2 = v1 + xi_stride, *v3 = v2 + xi_stride;
        int k = 0;
        for (; k + 8 <= tiles; k += 8) {
#define FCK_L(p, off) _mm256_loadu_ps((p) + k + (off))
            const __m256 re0 = _mm256_fmadd_ps(s, FCK_L(eb, 0), FCK_L(ea, 0));
            const __m256 re1 = _mm256_fmadd_ps(s, FCK_L(eb, 1), FCK_L(ea, 1));
            const __m256 ro0 = _mm256_fmadd_ps(s, FCK_L(ob, 0), FCK_L(oa, 0));
            const __m256 ro1 = _mm256_fmadd_ps(s, FCK_L(ob, 1), FCK_L(oa, 1));
#undef FCK_L
            _mm256_storeu_ps(v0 + k, _mm256_sub_ps(re0, re1));
            _mm256_storeu_ps(v1 + k, _mm256_add_ps(ro0, re1));
            _mm256_storeu_ps(v2 + k, _mm256_sub_ps(re1, ro0));
            _mm256_storeu_ps(v3 + k, _mm256_sub_ps(ro0, ro1));
        }
        const float sg = fck_bt_sign[i];
        for (; k < tiles; k++) {
            const float re0 = ea[k] + sg * eb[k], re1 = ea[k + 1] + sg * eb[k + 1];
            const float ro0 = oa[k] + sg * ob[k], ro1 = oa[k + 1] + sg * ob[k + 1];
            v0[k] = re0 - re1; v1[k] = ro0 + re1; v2[k] = re1 - ro0; v3[k] = ro0 - ro1;
        }
    }
}

FCK_AVX2 void fck_winograd_input_line_avx2(int taps, const float *even, const float *odd, int tiles, float *v,
                                           ptrdiff_t xi_stride) {
    float *v0 = v, *v1 = v0 + xi_stride, *v2 = v1 + xi_stride, *v3 = v2 + xi_stride;
    float *v4 = v3 + xi_stride, *v5 = v4 + xi_stride;  // F(2, 5) only
    const __m256 half = _mm256_set1_ps(0.5f);
    const __m256 c23 = _mm256_set1_ps(2.0f / 3.0f), c16 = _mm256_set1_ps(1.0f / 6.0f);
    const __m256 c124 = _mm256_set1_ps(1.0f / 24.0f), c112 = _mm256_set1_ps(1.0f / 12.0f);
    int k = 0;
    for (; k + 8 <= tiles; k += 8) {
#define FCK_L(p, off) _mm256_loadu_ps((p) + k + (off))
        const __m256 d0 = FCK_L(even, 0), d1 = FCK_L(odd, 0), d2 = FCK_L(even, 1), d3 = FCK_L(odd, 1);
        if (taps == 3) {
            // (d0 − d2, (d1 + d2)/2, (d2 − d1)/2, d3 − d1).
            _mm256_storeu_ps(v0 + k, _mm256_sub_ps(d0, d2));
            _mm256_storeu_ps(v1 + k, _mm256_mul_ps(half, _mm256_add_ps(d1, d2)));
            _mm256_storeu_ps(v2 + k, _mm256_mul_ps(half, _mm256_sub_ps(d2, d1)));
            _mm256_storeu_ps(v3 + k, _mm256_sub_ps(d3, d1));
            continue;
        }
        // F(2, 5), as in fck_winograd_input_line.
        const __m256 d4 = FCK_L(even, 2), d5 = FCK_L(odd, 2);
#undef FCK_L
        const __m256 s = _mm256_sub_ps(_mm256_mul_ps(c23, d2), _mm256_mul_ps(c16, d4));
        const __m256 t = _mm256_sub_ps(_mm256_mul_ps(c23, d1), _mm256_mul_ps(c16, d3));
        const __m256 u = _mm256_mul_ps(c124, _mm256_sub_ps(d4, d2));
        const __m256 w = _mm256_mul_ps(c112, _mm256_sub_ps(d3, d1));
        _mm256_storeu_ps(v0 + k, _mm256_add_ps(_mm256_sub_ps(d0, _mm256_mul_ps(_mm256_set1_ps(1.25f), d2)),
                                               _mm256_mul_ps(_mm256_set1_ps(0.25f), d4)));
        _mm256_storeu_ps(v1 + k, _mm256_add_ps(t, s));
        _mm256_storeu_ps(v2 + k, _mm256_sub_ps(s, t));
        _mm256_storeu_ps(v3 + k, _mm256_add_ps(w, u));
        _mm256_storeu_ps(v4 + k, _mm256_sub_ps(u, w));
        _mm256_storeu_ps(v5 + k, _mm256_add_ps(_mm256_sub_ps(_mm256_mul_ps(_mm256_set1_ps(4), d1),
                                                             _mm256_mul_ps(_mm256_set1_ps(5), d3)), d5));
    }
    for (; k < tiles; k++) {
        const float d0 = even[k], d1 = odd[k], d2 = even[k + 1], d3 = odd[k + 1];
        if (taps == 3) {
            v0[k] = d0 - d2; v1[k] = 0.5f * (d1 + d2); v2[k] = 0.5f * (d2 - d1); v3[k] = d3 - d1;
            continue;
        }
        const float d4 = even[k + 2], d5 = odd[k + 2];
        const float s = 2.0f / 3.0f * d2 - 1.0f / 6.0f * d4, t = 2.0f / 3.0f * d1 - 1.0f / 6.0f * d3;
        const float u = 1.0f / 24.0f * (d4 - d2), w = 1.0f / 12.0f * (d3 - d1);
        v0[k] = d0 - 1.25f * d2 + 0.25f * d4;
        v1[k] = t + s; v2[k] = s - t;
        v3[k] = w + u; v4[k] = u - w;
        v5[k] = 4 * d1 - 5 * d3 + d5;
    }
}

#else
// Not reached: callers check fck_avx2_available(), which is 0 off x86-64.
void fck_deinterleave_avx2(const float *x, int width, int pad, int count, float *even, float *odd) {
    (void)x; (void)width; (void)pad; (void)count; (void)even; (void)odd;
}
void fck_winograd_input_2x2_avx2(const float *even, const float *odd, ptrdiff_t row_stride, int tiles, float *v,
                                 ptrdiff_t xi_stride) {
    (void)even; (void)odd; (void)row_stride; (void)tiles; (void)v; (void)xi_stride;
}
void fck_winograd_input_line_avx2(int taps, const float *even, const float *odd, int tiles, float *v,
                                  ptrdiff_t xi_stride) {
    (void)taps; (void)even; (void)odd; (void)tiles; (void)v; (void)xi_stride;
}
#endif
