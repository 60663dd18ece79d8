/*
 * layers_example.c — a grid of convolutions sharing one factorization (tltorch n_layers), through
 * the C ABI: fconv_conv_create with n_layers = 3, per-layer geometry and bias with fconv_conv_set,
 * a sub-convolution with fconv_conv_get_conv, and the named parameters (the state_dict) read
 * and written. Each layer's output is checked against a naive conv with its reconstructed
 * kernel. Exits 1 on any failure.
 *
 * Build: cc -std=c99 -Iinclude bindings/c/layers_example.c -Lbuild-dir -lfactorconv -lm
 */
#include <string.h>

#include "example_util.h"

enum { C_IN = 6, C_OUT = 8, N_LAYERS = 3 };

/* Runs layer `layer` (or the sub-convolution when layer is negative) and compares it with the
 * naive conv of that layer's kernel and geometry. Returns the relative error. */
static double check_layer(const fconv_conv *conv, int64_t layer, const float *x, const int64_t *x_shape) {
    int64_t index[1];
    size_t layer_ndim = 0, count = 0, y_count;
    int64_t stride[2 * N_LAYERS], padding[2 * N_LAYERS], dilation[2 * N_LAYERS], has_bias[N_LAYERS];
    int64_t y_shape[4], naive_shape[4], k_shape[4], row = 0;
    float kernel[C_OUT * C_IN * 9], bias_all[N_LAYERS * C_OUT], *y;
    double *expected, error;

    if (layer >= 0) { index[0] = layer; layer_ndim = 1; row = layer; }
    CHECK(fconv_conv_output_shape(conv, x_shape, 4, index, layer_ndim, y_shape, 4));
    y_count = ex_count(y_shape, 4);
    y = ex_floats(y_count);
    CHECK(fconv_conv_forward(conv, x, x_shape, 4, index, layer_ndim, y, y_count));

    CHECK(fconv_conv_kernel_shape(conv, index, layer_ndim, k_shape, 4, &count));
    REQUIRE(count == 4, "a layer's kernel has 4 dimensions");
    CHECK(fconv_conv_reconstruct_kernel(conv, index, layer_ndim, kernel, sizeof kernel / sizeof *kernel));
    /* A sub-convolution reports only its own layer's geometry (one row). */
    CHECK(fconv_conv_get_ints(conv, FCONV_INFO_STRIDE, stride, 2 * N_LAYERS, &count));
    if (count == 2) row = 0;
    CHECK(fconv_conv_get_ints(conv, FCONV_INFO_PADDING, padding, 2 * N_LAYERS, &count));
    CHECK(fconv_conv_get_ints(conv, FCONV_INFO_DILATION, dilation, 2 * N_LAYERS, &count));
    CHECK(fconv_conv_get_ints(conv, FCONV_INFO_HAS_BIAS, has_bias, N_LAYERS, &count));
    CHECK(fconv_conv_get_parameter(conv, "bias", bias_all, N_LAYERS * C_OUT));

    expected = (double *)malloc(y_count * sizeof(double));
    REQUIRE(expected != NULL, "out of memory");
    ex_naive_conv(x, x_shape, 4, kernel, k_shape,
                  has_bias[row] ? bias_all + (layer >= 0 ? layer : 2) * C_OUT : NULL,
                  stride + 2 * row, padding + 2 * row, dilation + 2 * row, naive_shape, expected);
    REQUIRE(memcmp(naive_shape, y_shape, sizeof y_shape) == 0, "output shapes differ");
    error = ex_rel_error_d(y, expected, y_count);
    free(y);
    free(expected);
    return error;
}

int main(void) {
    const int64_t kernel_size[2] = {3, 3};
    const int64_t x_shape[4] = {2, C_IN, 10, 9};
    const int64_t n_layers = N_LAYERS, has_bias[N_LAYERS] = {0, 1, 1};
    const int64_t layer1[1] = {1}, layer2[1] = {2};
    const int64_t stride1[2] = {2, 1}, padding1[2] = {1, 0};
    const int64_t padding2[2] = {2, 2}, dilation2[2] = {2, 2};
    fconv_options *options = NULL;
    fconv_conv *conv = NULL, *sub = NULL;
    float x[2 * C_IN * 10 * 9], bias1[C_OUT], bias_all[N_LAYERS * C_OUT];
    char name[64], repr[1024];
    size_t n_params = 0, i, length = 0;
    uint32_t seed = 5u;
    double error, worst = 0.0;

    for (i = 0; i < sizeof x / sizeof *x; ++i) x[i] = ex_uniform(&seed);
    for (i = 0; i < C_OUT; ++i) bias1[i] = 0.5f * ex_uniform(&seed);

    /* A Tucker grid of three 6 -> 8 3x3 convolutions with a bias parameter; layer 0 skips it. */
    CHECK(fconv_options_create(&options));
    CHECK(fconv_options_set_string(options, "factorization", "tucker"));
    CHECK(fconv_options_set_float(options, "rank", 0.5));
    CHECK(fconv_options_set_int(options, "n_layers", n_layers));
    CHECK(fconv_options_set_int(options, "bias", 1));
    CHECK(fconv_options_set_ints(options, "has_bias", has_bias, N_LAYERS));
    CHECK(fconv_options_set_int(options, "padding", 1));
    CHECK(fconv_options_set_int(options, "seed", 3));
    CHECK(fconv_conv_create(C_IN, C_OUT, kernel_size, 2, options, &conv));
    fconv_options_free(options);

    /* Per-layer geometry (NULL arrays reset to 1 / 0 / 1, as tltorch's set) and a bias. */
    CHECK(fconv_conv_set(conv, layer1, 1, stride1, padding1, NULL, 2, bias1, C_OUT));
    CHECK(fconv_conv_set(conv, layer2, 1, NULL, padding2, dilation2, 2, NULL, 0));

    /* The named parameters: tltorch's state_dict. */
    CHECK(fconv_conv_parameter_count(conv, &n_params));
    printf("parameters of the grid (%zu):\n", n_params);
    for (i = 0; i < n_params; ++i) {
        int64_t shape[8];
        size_t ndim = 0, d;
        CHECK(fconv_conv_parameter_name(conv, i, name, sizeof name, &length));
        CHECK(fconv_conv_parameter_shape(conv, name, shape, 8, &ndim));
        printf("  %-26s (", name);
        for (d = 0; d < ndim; ++d) printf(d ? ", %lld" : "%lld", (long long)shape[d]);
        printf(")\n");
    }

    /* Write the biases of every layer at once (strict = 0: the other parameters stay). */
    {
        const char *names[1] = {"bias"};
        const float *values[1];
        const int64_t bias_shape[2] = {N_LAYERS, C_OUT};
        const int64_t *shapes[1];
        const size_t ndims[1] = {2};
        CHECK(fconv_conv_get_parameter(conv, "bias", bias_all, N_LAYERS * C_OUT));
        for (i = 0; i < C_OUT; ++i) bias_all[2 * C_OUT + i] = (float)i / C_OUT;
        values[0] = bias_all;
        shapes[0] = bias_shape;
        CHECK(fconv_conv_set_parameters(conv, 1, names, values, shapes, ndims, 0));
    }

    for (i = 0; i < N_LAYERS; ++i) {
        error = check_layer(conv, (int64_t)i, x, x_shape);
        printf("layer %zu: max rel. error vs naive conv %.2e\n", i, error);
        if (error > worst) worst = error;
    }

    /* A sub-convolution of layer 2 shares the parameters and keeps the grid alive. */
    CHECK(fconv_conv_get_conv(conv, layer2, 1, &sub));
    CHECK(fconv_conv_repr(sub, repr, sizeof repr, &length));
    printf("%s\n", repr);
    CHECK(fconv_conv_repr(conv, repr, sizeof repr, &length));
    printf("FactorizedConv(%s)\n", repr);
    fconv_conv_free(conv); /* the parent first: the sub-convolution still works */
    error = check_layer(sub, -1, x, x_shape);
    printf("sub-convolution of layer 2 after freeing the grid: error %.2e\n", error);
    if (error > worst) worst = error;
    fconv_conv_free(sub);

    if (worst > 1e-5) {
        fprintf(stderr, "layers_example: error %.3g above 1e-5\n", worst);
        return 1;
    }
    printf("layers_example: OK\n");
    return 0;
}
