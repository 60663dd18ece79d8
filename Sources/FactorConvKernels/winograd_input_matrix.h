// F(2×2, 3×3)'s input transform matrix, which both input transforms (winograd_input.c, AVX-512;
// winograd_input_avx2.c, AVX2) apply. Private to this target.
#ifndef FACTORCONV_WINOGRAD_INPUT_MATRIX_H
#define FACTORCONV_WINOGRAD_INPUT_MATRIX_H

/// F(2×2, 3×3)'s input transform Bᵀ = [[1, 0, −1, 0], [0, 1, 1, 0], [0, −1, 1, 0], [0, 1, 0, −1]]
/// (winograd_input.c, winograd_input_avx2.c): row i of Bᵀ d is
/// d[fck_bt_a_row[i]] + fck_bt_sign[i] · d[fck_bt_b_row[i]].
static const int fck_bt_a_row[4] = {0, 1, 2, 1}, fck_bt_b_row[4] = {2, 2, 1, 3};
static const float fck_bt_sign[4] = {-1, 1, -1, -1};

#endif
