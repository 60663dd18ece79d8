/*
 * factors_example.c — a layer made of given factors (tltorch FactorizedConv.from_factorization)
 * through the C ABI: fconv_conv_create at the factors' rank, then fconv_conv_set_parameters
 * with every parameter (strict). Here a CP kernel of rank 3 for a 5 -> 4 3x3 convolution with a
 * bias: the reconstructed kernel is checked against the CP sum computed here, and the forward
 * against a naive conv of that kernel. Exits 1 on any failure.
 *
 * Build: cc -std=c99 -Iinclude bindings/c/factors_example.c -Lbuild-dir -lfactorconv -lm
 */
#include <string.h>

#include "example_util.h"

enum { C_IN = 5, C_OUT = 4, K = 3, RANK = 3 };

int main(void) {
    const int64_t kernel_size[2] = {K, K};
    const int64_t x_shape[4] = {2, C_IN, 7, 6};
    const int64_t dims[4] = {C_OUT, C_IN, K, K};   /* CP factor i is (dims[i], RANK) */
    float weights[RANK], factors[4][C_OUT * C_IN * RANK], bias[C_OUT];
    float expected_kernel[C_OUT * C_IN * K * K], kernel[C_OUT * C_IN * K * K];
    float x[2 * C_IN * 7 * 6], *y;
    double *expected;
    const char *names[6] = {"weight.weights", "weight.factors.factor_0", "weight.factors.factor_1",
                            "weight.factors.factor_2", "weight.factors.factor_3", "bias"};
    const float *values[6];
    int64_t shapes[6][2];
    const int64_t *shape_ptrs[6];
    size_t ndims[6], i, f, y_count;
    int64_t y_shape[4], naive_shape[4], k_shape[4] = {C_OUT, C_IN, K, K};
    const int64_t stride[2] = {1, 1}, padding[2] = {1, 1}, dilation[2] = {1, 1};
    fconv_options *options = NULL;
    fconv_conv *conv = NULL;
    uint32_t seed = 11u;
    double kernel_error, output_error;

    /* The given factorization: weights (R,), factors (dim_i, R), and a bias. */
    for (i = 0; i < RANK; ++i) weights[i] = 1.0f + 0.5f * ex_uniform(&seed);
    for (f = 0; f < 4; ++f)
        for (i = 0; i < (size_t)dims[f] * RANK; ++i) factors[f][i] = ex_uniform(&seed);
    for (i = 0; i < C_OUT; ++i) bias[i] = 0.1f * ex_uniform(&seed);
    for (i = 0; i < sizeof x / sizeof *x; ++i) x[i] = ex_uniform(&seed);

    /* The kernel it stands for: sum_r w_r a_r(o) b_r(c) u_r(i) v_r(j). */
    {
        size_t o, c, ki, kj, r;
        for (o = 0; o < C_OUT; ++o)
            for (c = 0; c < C_IN; ++c)
                for (ki = 0; ki < K; ++ki)
                    for (kj = 0; kj < K; ++kj) {
                        double sum = 0.0;
                        for (r = 0; r < RANK; ++r)
                            sum += (double)weights[r] * factors[0][o * RANK + r] *
                                   factors[1][c * RANK + r] * factors[2][ki * RANK + r] *
                                   factors[3][kj * RANK + r];
                        expected_kernel[((o * C_IN + c) * K + ki) * K + kj] = (float)sum;
                    }
    }

    /* A layer of that shape and rank, then every parameter replaced by the given ones. */
    CHECK(fconv_options_create(&options));
    CHECK(fconv_options_set_string(options, "factorization", "cp"));
    CHECK(fconv_options_set_int(options, "rank", RANK));
    CHECK(fconv_options_set_int(options, "bias", 1));
    CHECK(fconv_options_set_ints(options, "padding", padding, 2));
    CHECK(fconv_conv_create(C_IN, C_OUT, kernel_size, 2, options, &conv));
    fconv_options_free(options);

    values[0] = weights;
    shapes[0][0] = RANK;
    ndims[0] = 1;
    for (f = 0; f < 4; ++f) {
        values[1 + f] = factors[f];
        shapes[1 + f][0] = dims[f];
        shapes[1 + f][1] = RANK;
        ndims[1 + f] = 2;
    }
    values[5] = bias;
    shapes[5][0] = C_OUT;
    ndims[5] = 1;
    for (i = 0; i < 6; ++i) shape_ptrs[i] = shapes[i];
    CHECK(fconv_conv_set_parameters(conv, 6, names, values, shape_ptrs, ndims, 1));

    CHECK(fconv_conv_reconstruct_kernel(conv, NULL, 0, kernel, sizeof kernel / sizeof *kernel));
    kernel_error = ex_frobenius_error(kernel, expected_kernel, sizeof kernel / sizeof *kernel);

    CHECK(fconv_conv_output_shape(conv, x_shape, 4, NULL, 0, y_shape, 4));
    y_count = ex_count(y_shape, 4);
    y = ex_floats(y_count);
    CHECK(fconv_conv_forward(conv, x, x_shape, 4, NULL, 0, y, y_count));
    expected = (double *)malloc(y_count * sizeof(double));
    REQUIRE(expected != NULL, "out of memory");
    ex_naive_conv(x, x_shape, 4, expected_kernel, k_shape, bias, stride, padding, dilation,
                  naive_shape, expected);
    REQUIRE(memcmp(naive_shape, y_shape, sizeof y_shape) == 0, "output shapes differ");
    output_error = ex_rel_error_d(y, expected, y_count);
    printf("CP layer from given factors: kernel error %.2e, output error vs naive conv %.2e\n",
           kernel_error, output_error);
    free(y);
    free(expected);
    fconv_conv_free(conv);

    if (kernel_error > 1e-6 || output_error > 1e-5) {
        fprintf(stderr, "factors_example: error above tolerance\n");
        return 1;
    }
    printf("factors_example: OK\n");
    return 0;
}
