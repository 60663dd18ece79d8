/*
 * test_layer_errors.c — the bad-input table of the layer API from C.
 *
 * Every call below is wrong in one way (NULL handles and pointers, freed and foreign handles,
 * ndim mismatches, zero / negative / 2^62 sizes, out-of-range layer indices, rank 0, unknown
 * enum values and option keys, mismatched parameter names and shapes, output buffers too
 * small, NaN / Inf data). Each must return the documented status with a message naming the
 * argument, set constructor outputs to NULL, and leave the layers unchanged: a forward and the
 * parameters are compared bit for bit before and after the table. Nothing may crash.
 * Exits 1 if any row fails. Run under valgrind / LeakSanitizer in `make test-c`.
 */
#include <string.h>

#include "../../bindings/c/example_util.h"   /* CHECK and the examples' helpers */

static int failures = 0, rows = 0;

/* Checks that `call` returns `expected` and that the last error message contains `word`. */
#define EXPECT(call, expected, word)                                                       \
    do {                                                                                   \
        fconv_status got_ = (call);                                                        \
        const char *message_ = fconv_last_error_message();                                 \
        rows++;                                                                            \
        if (got_ != (expected) || strstr(message_, (word)) == NULL) {                      \
            fprintf(stderr, "FAIL %s:%d: %s\n  returned %s, expected %s; message \"%s\" "  \
                    "should name \"%s\"\n", __FILE__, __LINE__, #call,                     \
                    fconv_status_string(got_), fconv_status_string(expected), message_,    \
                    (word));                                                               \
            failures++;                                                                    \
        }                                                                                  \
    } while (0)

/* Checks a condition that is not a status (e.g. *out set to NULL). */
#define EXPECT_TRUE(condition)                                                             \
    do {                                                                                   \
        rows++;                                                                            \
        if (!(condition)) {                                                                \
            fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #condition);           \
            failures++;                                                                    \
        }                                                                                  \
    } while (0)

enum { C_IN = 4, C_OUT = 6, HW = 8, N_LAYERS = 3 };

static int32_t cancel_at_two(int64_t iteration, int64_t max_iterations, double relative_error, void *user_data) {
    (void)max_iterations;
    (void)relative_error;
    (void)user_data;
    return iteration < 2;
}

/* Everything observable about a layer: a forward per layer and every parameter. */
typedef struct {
    float y[N_LAYERS][2 * C_OUT * HW * HW];
    float params[4096];
    size_t n_params;
    char repr[1024];
} snapshot;

static void take(const fconv_conv *conv, size_t n_layers, const float *x, snapshot *s) {
    const int64_t x_shape[4] = {2, C_IN, HW, HW};
    size_t i, count = 0, used = 0, length = 0;
    memset(s, 0, sizeof *s);
    for (i = 0; i < n_layers; ++i) {
        int64_t layer[1];
        layer[0] = (int64_t)i;
        CHECK(fconv_conv_forward(conv, x, x_shape, 4, layer, n_layers > 1 ? 1 : 0, s->y[i],
                                 2 * C_OUT * HW * HW));
    }
    CHECK(fconv_conv_parameter_count(conv, &count));
    for (i = 0; i < count; ++i) {
        char name[64];
        int64_t shape[8];
        size_t ndim = 0;
        CHECK(fconv_conv_parameter_name(conv, i, name, sizeof name, NULL));
        CHECK(fconv_conv_parameter_shape(conv, name, shape, 8, &ndim));
        REQUIRE(used + ex_count(shape, ndim) <= 4096, "snapshot buffer");
        CHECK(fconv_conv_get_parameter(conv, name, s->params + used, 4096 - used));
        used += ex_count(shape, ndim);
    }
    s->n_params = used;
    CHECK(fconv_conv_repr(conv, s->repr, sizeof s->repr, &length));
}

static fconv_conv *create(const char *factorization, int64_t n_layers, int bias) {
    const int64_t kernel_size[2] = {3, 3};
    fconv_options *options = NULL;
    fconv_conv *conv = NULL;
    CHECK(fconv_options_create(&options));
    CHECK(fconv_options_set_string(options, "factorization", factorization));
    CHECK(fconv_options_set_int(options, "padding", 1));
    CHECK(fconv_options_set_int(options, "n_layers", n_layers));
    CHECK(fconv_options_set_int(options, "bias", bias));
    CHECK(fconv_options_set_int(options, "seed", 4));
    CHECK(fconv_conv_create(C_IN, C_OUT, kernel_size, 2, options, &conv));
    fconv_options_free(options);
    return conv;
}

int main(void) {
    static float x[2 * C_IN * HW * HW], x_bad[2 * C_IN * HW * HW], y[2 * C_OUT * HW * HW];
    static snapshot before_single, after_single, before_grid, after_grid;
    const int64_t x_shape[4] = {2, C_IN, HW, HW};
    const int64_t kernel_size[2] = {3, 3};
    const int64_t big = (int64_t)1 << 62;
    const int64_t layer0[1] = {0}, layer1[1] = {1}, layer3[1] = {3}, layer_neg[1] = {-1};
    const int64_t layer2d[2] = {0, 0};
    const int64_t ones[3] = {1, 1, 1}, zeros2[2] = {0, 0};
    const size_t y_capacity = sizeof y / sizeof *y;
    uint32_t seed = 1u;
    size_t i, count = 0, length = 0, ndim = 0;
    int64_t values[16], out_shape[4];
    fconv_implementation chosen = FCONV_IMPL_AUTO;
    fconv_conv *single, *grid, *sub = NULL, *freed = NULL, *out = NULL;
    fconv_options *options = NULL;
    char text[8];
    float bias[C_OUT + 1];
    int foreign = 0;
    fconv_conv *sentinel = (fconv_conv *)&foreign;

    for (i = 0; i < sizeof x / sizeof *x; ++i) x[i] = ex_uniform(&seed);
    for (i = 0; i <= C_OUT; ++i) bias[i] = 0.25f;

    single = create("cp", 1, 1);
    grid = create("tucker", N_LAYERS, 1);
    CHECK(fconv_conv_get_conv(grid, layer1, 1, &sub));
    take(single, 1, x, &before_single);
    take(grid, N_LAYERS, x, &before_grid);

    /* --- NULL handles ------------------------------------------------------------------- */
    EXPECT(fconv_conv_forward(NULL, x, x_shape, 4, NULL, 0, y, y_capacity), FCONV_ERR_INVALID_ARGUMENT, "conv");
    EXPECT(fconv_conv_output_shape(NULL, x_shape, 4, NULL, 0, out_shape, 4), FCONV_ERR_INVALID_ARGUMENT, "conv");
    EXPECT(fconv_conv_set(NULL, NULL, 0, NULL, NULL, NULL, 0, NULL, 0), FCONV_ERR_INVALID_ARGUMENT, "conv");
    EXPECT(fconv_conv_get_conv(NULL, layer0, 1, &out), FCONV_ERR_INVALID_ARGUMENT, "conv");
    EXPECT(fconv_conv_transduct(NULL, 3, 0, 1, 1, 1), FCONV_ERR_INVALID_ARGUMENT, "conv");
    EXPECT(fconv_conv_get_ints(NULL, FCONV_INFO_ORDER, values, 16, &count), FCONV_ERR_INVALID_ARGUMENT, "conv");
    EXPECT(fconv_conv_parameter_count(NULL, &count), FCONV_ERR_INVALID_ARGUMENT, "conv");
    EXPECT(fconv_conv_repr(NULL, text, sizeof text, &length), FCONV_ERR_INVALID_ARGUMENT, "conv");
    EXPECT(fconv_conv_reset_parameters(NULL, 0.02, 0), FCONV_ERR_INVALID_ARGUMENT, "conv");
    EXPECT(fconv_conv_set_implementation(NULL, FCONV_IMPL_AUTO), FCONV_ERR_INVALID_ARGUMENT, "conv");
    EXPECT(fconv_conv_save(NULL, "/tmp/x.safetensors"), FCONV_ERR_INVALID_ARGUMENT, "conv");
    EXPECT(fconv_options_set_int(NULL, "seed", 1), FCONV_ERR_INVALID_ARGUMENT, "options");
    fconv_conv_free(NULL);      /* no-ops */
    fconv_options_free(NULL);

    /* --- NULL pointers ------------------------------------------------------------------ */
    EXPECT(fconv_conv_forward(single, NULL, x_shape, 4, NULL, 0, y, y_capacity), FCONV_ERR_INVALID_ARGUMENT, "input");
    EXPECT(fconv_conv_forward(single, x, x_shape, 4, NULL, 0, NULL, y_capacity), FCONV_ERR_INVALID_ARGUMENT, "output");
    EXPECT(fconv_conv_forward(single, x, NULL, 4, NULL, 0, y, y_capacity), FCONV_ERR_INVALID_ARGUMENT, "input_shape");
    EXPECT(fconv_conv_forward(grid, x, x_shape, 4, NULL, 1, y, y_capacity), FCONV_ERR_INVALID_ARGUMENT, "layer");
    EXPECT(fconv_conv_create(C_IN, C_OUT, kernel_size, 2, NULL, NULL), FCONV_ERR_INVALID_ARGUMENT, "out");
    EXPECT(fconv_conv_create(C_IN, C_OUT, NULL, 2, NULL, &out), FCONV_ERR_INVALID_ARGUMENT, "kernel_size");
    EXPECT(fconv_conv_from_conv(NULL, x_shape, 4, NULL, NULL, &out), FCONV_ERR_INVALID_ARGUMENT, "weight");
    EXPECT(fconv_conv_parameter_count(single, NULL), FCONV_ERR_INVALID_ARGUMENT, "count");
    EXPECT(fconv_conv_get_parameter(single, NULL, y, y_capacity), FCONV_ERR_INVALID_ARGUMENT, "name");
    EXPECT(fconv_conv_get_parameter(single, "bias", NULL, C_OUT), FCONV_ERR_INVALID_ARGUMENT, "values");
    EXPECT(fconv_conv_set_parameters(single, 1, NULL, NULL, NULL, NULL, 0), FCONV_ERR_INVALID_ARGUMENT, "names");
    EXPECT(fconv_conv_chosen_implementation(single, x_shape, 4, NULL, 0, NULL), FCONV_ERR_INVALID_ARGUMENT, "implementation");
    EXPECT(fconv_conv_repr(single, NULL, 4096, &length), FCONV_ERR_INVALID_ARGUMENT, "buffer");
    EXPECT(fconv_conv_load(NULL, &out), FCONV_ERR_INVALID_ARGUMENT, "path");
    CHECK(fconv_options_create(&options));
    EXPECT(fconv_options_set_int(options, NULL, 1), FCONV_ERR_INVALID_ARGUMENT, "key");
    EXPECT(fconv_options_set_string(options, "factorization", NULL), FCONV_ERR_INVALID_ARGUMENT, "value");
    EXPECT(fconv_options_set_ints(options, "stride", NULL, 2), FCONV_ERR_INVALID_ARGUMENT, "values");
    EXPECT(fconv_options_create(NULL), FCONV_ERR_INVALID_ARGUMENT, "out");

    /* --- freed, foreign and wrong-type handles ------------------------------------------ */
    freed = create("cp", 1, 0);
    fconv_conv_free(freed);
    EXPECT(fconv_conv_forward(freed, x, x_shape, 4, NULL, 0, y, y_capacity), FCONV_ERR_INVALID_ARGUMENT, "not a live handle");
    EXPECT(fconv_conv_get_ints(freed, FCONV_INFO_ORDER, values, 16, &count), FCONV_ERR_INVALID_ARGUMENT, "not a live handle");
    fconv_conv_free(freed);     /* a double free is ignored */
    EXPECT(fconv_conv_forward(sentinel, x, x_shape, 4, NULL, 0, y, y_capacity), FCONV_ERR_INVALID_ARGUMENT, "not a live handle");
    EXPECT(fconv_conv_get_ints((fconv_conv *)(void *)options, FCONV_INFO_ORDER, values, 16, &count),
           FCONV_ERR_INVALID_ARGUMENT, "another type");
    EXPECT(fconv_options_set_int((fconv_options *)(void *)single, "seed", 1), FCONV_ERR_INVALID_ARGUMENT, "another type");

    /* --- ndim mismatch and bad sizes ---------------------------------------------------- */
    {
        const int64_t s3[3] = {2, C_IN, HW}, s5[5] = {2, C_IN, HW, HW, 1};
        /* A batch of 0 is valid (an empty output); no other size may be 0. */
        const int64_t zero_channels[4] = {2, 0, HW, HW}, negative[4] = {2, C_IN, -3, HW};
        const int64_t huge[4] = {2, C_IN, big, HW}, channels[4] = {2, C_IN + 1, HW, HW};
        const int64_t huge_batch[4] = {big, C_IN, HW, HW};
        EXPECT(fconv_conv_forward(single, x, s3, 3, NULL, 0, y, y_capacity), FCONV_ERR_SHAPE_MISMATCH, "input shape");
        EXPECT(fconv_conv_forward(single, x, s5, 5, NULL, 0, y, y_capacity), FCONV_ERR_SHAPE_MISMATCH, "input shape");
        EXPECT(fconv_conv_forward(single, x, x_shape, 0, NULL, 0, y, y_capacity), FCONV_ERR_SHAPE_MISMATCH, "input_shape");
        EXPECT(fconv_conv_forward(single, x, x_shape, 1000, NULL, 0, y, y_capacity), FCONV_ERR_SHAPE_MISMATCH, "input_shape");
        EXPECT(fconv_conv_forward(single, x, zero_channels, 4, NULL, 0, y, y_capacity), FCONV_ERR_INVALID_ARGUMENT, "input shape");
        EXPECT(fconv_conv_forward(single, x, negative, 4, NULL, 0, y, y_capacity), FCONV_ERR_INVALID_ARGUMENT, "input shape");
        EXPECT(fconv_conv_forward(single, x, huge, 4, NULL, 0, y, y_capacity), FCONV_ERR_INVALID_ARGUMENT, "input shape");
        EXPECT(fconv_conv_forward(single, x, huge_batch, 4, NULL, 0, y, y_capacity), FCONV_ERR_INVALID_ARGUMENT, "input shape");
        EXPECT(fconv_conv_forward(single, x, channels, 4, NULL, 0, y, y_capacity), FCONV_ERR_SHAPE_MISMATCH, "channels");
        EXPECT(fconv_conv_output_shape(single, s3, 3, NULL, 0, out_shape, 4), FCONV_ERR_SHAPE_MISMATCH, "input shape");
    }
    {
        const int64_t k0[2] = {0, 3}, kneg[2] = {-1, 3}, khuge[2] = {big, 3};
        out = sentinel;
        EXPECT(fconv_conv_create(C_IN, C_OUT, k0, 2, NULL, &out), FCONV_ERR_INVALID_ARGUMENT, "kernel_size");
        EXPECT_TRUE(out == NULL);
        EXPECT(fconv_conv_create(C_IN, C_OUT, kneg, 2, NULL, &out), FCONV_ERR_INVALID_ARGUMENT, "kernel_size");
        EXPECT(fconv_conv_create(C_IN, C_OUT, khuge, 2, NULL, &out), FCONV_ERR_INVALID_ARGUMENT, "kernel_size");
        EXPECT(fconv_conv_create(C_IN, C_OUT, kernel_size, 0, NULL, &out), FCONV_ERR_SHAPE_MISMATCH, "kernel_size");
        EXPECT(fconv_conv_create(0, C_OUT, kernel_size, 2, NULL, &out), FCONV_ERR_INVALID_ARGUMENT, "in_channels");
        EXPECT(fconv_conv_create(C_IN, -5, kernel_size, 2, NULL, &out), FCONV_ERR_INVALID_ARGUMENT, "out_channels");
        EXPECT(fconv_conv_create(big, C_OUT, kernel_size, 2, NULL, &out), FCONV_ERR_INVALID_ARGUMENT, "in_channels");
    }
    {
        const int64_t w2d[2] = {C_OUT, C_IN}, whuge[4] = {C_OUT, big, 3, 3}, wzero[4] = {C_OUT, 0, 3, 3};
        const int64_t wshape[4] = {C_OUT, C_IN, 3, 3};
        float w[C_OUT * C_IN * 9];
        for (i = 0; i < sizeof w / sizeof *w; ++i) w[i] = ex_uniform(&seed);
        out = sentinel;
        EXPECT(fconv_conv_from_conv(w, w2d, 2, NULL, NULL, &out), FCONV_ERR_SHAPE_MISMATCH, "weight_ndim");
        EXPECT_TRUE(out == NULL);
        EXPECT(fconv_conv_from_conv(w, whuge, 4, NULL, NULL, &out), FCONV_ERR_INVALID_ARGUMENT, "weight_shape");
        EXPECT(fconv_conv_from_conv(w, wzero, 4, NULL, NULL, &out), FCONV_ERR_INVALID_ARGUMENT, "weight_shape");
        /* NaN in the kernel, and a progress callback that cancels */
        w[5] = (float)NAN;
        EXPECT(fconv_conv_from_conv(w, wshape, 4, NULL, NULL, &out), FCONV_ERR_NUMERICAL, "NaN");
        w[5] = 0.5f;
        {
            fconv_options *cancel = NULL;
            CHECK(fconv_options_create(&cancel));
            CHECK(fconv_options_set_int(cancel, "rank", 5));
            CHECK(fconv_options_set_progress(cancel, cancel_at_two, NULL));
            out = sentinel;
            EXPECT(fconv_conv_from_conv(w, wshape, 4, NULL, cancel, &out), FCONV_ERR_CANCELLED, "cancelled");
            EXPECT_TRUE(out == NULL);
            fconv_options_free(cancel);
        }
    }

    /* --- layer indices ------------------------------------------------------------------ */
    EXPECT(fconv_conv_forward(grid, x, x_shape, 4, layer3, 1, y, y_capacity), FCONV_ERR_INDEX_OUT_OF_RANGE, "layer index");
    EXPECT(fconv_conv_forward(grid, x, x_shape, 4, layer_neg, 1, y, y_capacity), FCONV_ERR_INDEX_OUT_OF_RANGE, "layer index");
    EXPECT(fconv_conv_forward(grid, x, x_shape, 4, layer2d, 2, y, y_capacity), FCONV_ERR_INDEX_OUT_OF_RANGE, "layer index");
    EXPECT(fconv_conv_forward(grid, x, x_shape, 4, NULL, 0, y, y_capacity), FCONV_ERR_INDEX_OUT_OF_RANGE, "layer index");
    EXPECT(fconv_conv_forward(grid, x, x_shape, 4, layer0, 1000, y, y_capacity), FCONV_ERR_INDEX_OUT_OF_RANGE, "layer_ndim");
    EXPECT(fconv_conv_forward(single, x, x_shape, 4, layer1, 1, y, y_capacity), FCONV_ERR_INDEX_OUT_OF_RANGE, "n_layers=1");
    EXPECT(fconv_conv_forward(sub, x, x_shape, 4, layer0, 1, y, y_capacity), FCONV_ERR_INVALID_ARGUMENT, "sub-convolution");
    EXPECT(fconv_conv_set(grid, layer3, 1, NULL, NULL, NULL, 2, NULL, 0), FCONV_ERR_INDEX_OUT_OF_RANGE, "layer index");
    EXPECT(fconv_conv_reconstruct_kernel(grid, layer3, 1, y, y_capacity), FCONV_ERR_INDEX_OUT_OF_RANGE, "layer index");
    EXPECT(fconv_conv_kernel_shape(grid, layer3, 1, values, 16, &ndim), FCONV_ERR_INDEX_OUT_OF_RANGE, "layer index");
    out = sentinel;
    EXPECT(fconv_conv_get_conv(grid, layer3, 1, &out), FCONV_ERR_INDEX_OUT_OF_RANGE, "layer index");
    EXPECT_TRUE(out == NULL);
    EXPECT(fconv_conv_get_conv(single, layer0, 1, &out), FCONV_ERR_INVALID_ARGUMENT, "single convolution");
    EXPECT(fconv_conv_get_conv(sub, NULL, 0, &out), FCONV_ERR_INVALID_ARGUMENT, "sub-convolution");
    EXPECT(fconv_conv_parameter_name(single, 99, text, sizeof text, &length), FCONV_ERR_INDEX_OUT_OF_RANGE, "index");

    /* --- rank, enum values and option keys ---------------------------------------------- */
    {
        fconv_options *o = NULL;
        const int64_t tt_rank[5] = {2, 3, 3, 3, 2};
        CHECK(fconv_options_create(&o));
        CHECK(fconv_options_set_int(o, "rank", 0));
        EXPECT(fconv_conv_create(C_IN, C_OUT, kernel_size, 2, o, &out), FCONV_ERR_INVALID_ARGUMENT, "rank");
        CHECK(fconv_options_set_float(o, "rank", 1e-9));
        EXPECT(fconv_conv_create(C_IN, C_OUT, kernel_size, 2, o, &out), FCONV_ERR_INVALID_ARGUMENT, "resolves to 0");
        CHECK(fconv_options_set_float(o, "rank", -0.5));
        EXPECT(fconv_conv_create(C_IN, C_OUT, kernel_size, 2, o, &out), FCONV_ERR_INVALID_ARGUMENT, "rank");
        CHECK(fconv_options_set_string(o, "factorization", "tt"));
        CHECK(fconv_options_set_ints(o, "rank", tt_rank, 5));
        EXPECT(fconv_conv_create(C_IN, C_OUT, kernel_size, 2, o, &out), FCONV_ERR_INVALID_ARGUMENT, "TT rank");
        CHECK(fconv_options_set_string(o, "rank", "same"));
        CHECK(fconv_options_set_string(o, "factorization", "svd"));
        EXPECT(fconv_conv_create(C_IN, C_OUT, kernel_size, 2, o, &out), FCONV_ERR_INVALID_ARGUMENT, "factorization");
        CHECK(fconv_options_set_string(o, "factorization", "Tucker"));
        CHECK(fconv_options_set_string(o, "implementation", "fast"));
        EXPECT(fconv_conv_create(C_IN, C_OUT, kernel_size, 2, o, &out), FCONV_ERR_INVALID_ARGUMENT, "implementation");
        CHECK(fconv_options_set_string(o, "implementation", "mobilenet"));
        EXPECT(fconv_conv_create(C_IN, C_OUT, kernel_size, 2, o, &out), FCONV_ERR_UNSUPPORTED, "mobilenet");
        CHECK(fconv_options_set_string(o, "implementation", "factorized"));
        CHECK(fconv_options_set_int(o, "stride", 0));
        EXPECT(fconv_conv_create(C_IN, C_OUT, kernel_size, 2, o, &out), FCONV_ERR_INVALID_ARGUMENT, "stride");
        CHECK(fconv_options_set_ints(o, "stride", ones, 3));
        EXPECT(fconv_conv_create(C_IN, C_OUT, kernel_size, 2, o, &out), FCONV_ERR_INVALID_ARGUMENT, "stride");
        CHECK(fconv_options_set_int(o, "stride", 1));
        CHECK(fconv_options_set_int(o, "n_layers", 0));
        EXPECT(fconv_conv_create(C_IN, C_OUT, kernel_size, 2, o, &out), FCONV_ERR_INVALID_ARGUMENT, "n_layers");
        CHECK(fconv_options_set_int(o, "n_layers", 1));
        CHECK(fconv_options_set_int(o, "bias", 2));
        EXPECT(fconv_conv_create(C_IN, C_OUT, kernel_size, 2, o, &out), FCONV_ERR_INVALID_ARGUMENT, "bias");
        CHECK(fconv_options_set_int(o, "bias", 0));
        CHECK(fconv_options_set_int(o, "seed", -1));
        EXPECT(fconv_conv_create(C_IN, C_OUT, kernel_size, 2, o, &out), FCONV_ERR_INVALID_ARGUMENT, "seed");
        EXPECT(fconv_options_set_int(o, "strides", 2), FCONV_ERR_INVALID_ARGUMENT, "unknown option key");
        EXPECT(fconv_options_set_string(o, "stride", "1"), FCONV_ERR_INVALID_ARGUMENT, "stride");
        EXPECT(fconv_options_set_float(o, "n_layers", 2.0), FCONV_ERR_INVALID_ARGUMENT, "n_layers");
        EXPECT(fconv_options_set_float(o, "rank", NAN), FCONV_ERR_INVALID_ARGUMENT, "finite");
        EXPECT(fconv_options_set_float(o, "tol", INFINITY), FCONV_ERR_INVALID_ARGUMENT, "finite");
        EXPECT(fconv_options_set_ints(o, "stride", ones, 0), FCONV_ERR_INVALID_ARGUMENT, "count");
        fconv_options_free(o);
    }
    EXPECT(fconv_conv_set_implementation(single, 7), FCONV_ERR_INVALID_ARGUMENT, "implementation");
    EXPECT(fconv_conv_set_implementation(single, -1), FCONV_ERR_INVALID_ARGUMENT, "implementation");
    EXPECT(fconv_conv_set_implementation(grid, FCONV_IMPL_MOBILENET), FCONV_ERR_UNSUPPORTED, "mobilenet");
    EXPECT(fconv_conv_get_ints(single, 99, values, 16, &count), FCONV_ERR_INVALID_ARGUMENT, "key");
    EXPECT(fconv_conv_get_ints(single, -1, values, 16, &count), FCONV_ERR_INVALID_ARGUMENT, "key");

    /* --- parameters: names, shapes, values ---------------------------------------------- */
    {
        const char *unknown[1] = {"weight.foo"}, *bias_name[1] = {"bias"};
        const char *twice[2] = {"bias", "bias"};
        const float *bias_values[2];
        const int64_t bias_shape[1] = {C_OUT}, short_shape[1] = {C_OUT - 1}, zero_shape[1] = {0};
        const int64_t *shapes[2];
        const size_t ndims[2] = {1, 1};
        float nan_bias[C_OUT];
        bias_values[0] = bias_values[1] = bias;
        shapes[0] = shapes[1] = bias_shape;
        EXPECT(fconv_conv_set_parameters(single, 1, unknown, bias_values, shapes, ndims, 0), FCONV_ERR_FORMAT, "weight.foo");
        EXPECT(fconv_conv_set_parameters(single, 1, bias_name, bias_values, shapes, ndims, 1), FCONV_ERR_FORMAT, "missing");
        EXPECT(fconv_conv_set_parameters(single, 2, twice, bias_values, shapes, ndims, 0), FCONV_ERR_FORMAT, "twice");
        shapes[0] = short_shape;
        EXPECT(fconv_conv_set_parameters(single, 1, bias_name, bias_values, shapes, ndims, 0), FCONV_ERR_SHAPE_MISMATCH, "bias");
        shapes[0] = zero_shape;
        EXPECT(fconv_conv_set_parameters(single, 1, bias_name, bias_values, shapes, ndims, 0), FCONV_ERR_SHAPE_MISMATCH, "bias");
        shapes[0] = bias_shape;
        for (i = 0; i < C_OUT; ++i) nan_bias[i] = i == 3 ? (float)INFINITY : 0.0f;
        bias_values[0] = nan_bias;
        EXPECT(fconv_conv_set_parameters(single, 1, bias_name, bias_values, shapes, ndims, 0), FCONV_ERR_NUMERICAL, "bias");
        EXPECT(fconv_conv_get_parameter(single, "weight.core", y, y_capacity), FCONV_ERR_FORMAT, "weight.core");
        EXPECT(fconv_conv_get_parameter(single, "bias", y, C_OUT - 1), FCONV_ERR_BUFFER_TOO_SMALL, "capacity");
        ndim = 0;
        EXPECT(fconv_conv_parameter_shape(grid, "weight.core", values, 2, &ndim), FCONV_ERR_BUFFER_TOO_SMALL, "capacity");
        EXPECT_TRUE(ndim == 5);
        length = 0;
        EXPECT(fconv_conv_parameter_name(single, 0, text, 2, &length), FCONV_ERR_BUFFER_TOO_SMALL, "capacity");
        EXPECT_TRUE(length > 0);
    }

    /* --- output buffers too small ------------------------------------------------------- */
    EXPECT(fconv_conv_forward(single, x, x_shape, 4, NULL, 0, y, y_capacity - 1), FCONV_ERR_BUFFER_TOO_SMALL, "output");
    EXPECT(fconv_conv_forward(single, x, x_shape, 4, NULL, 0, y, 0), FCONV_ERR_BUFFER_TOO_SMALL, "output");
    EXPECT(fconv_conv_output_shape(single, x_shape, 4, NULL, 0, out_shape, 3), FCONV_ERR_BUFFER_TOO_SMALL, "out_shape");
    EXPECT(fconv_conv_reconstruct_kernel(single, NULL, 0, y, 10), FCONV_ERR_BUFFER_TOO_SMALL, "kernel");
    length = 0;
    EXPECT(fconv_conv_repr(single, text, sizeof text, &length), FCONV_ERR_BUFFER_TOO_SMALL, "buffer");
    EXPECT_TRUE(length == strlen(before_single.repr));
    count = 0;
    EXPECT(fconv_conv_get_ints(grid, FCONV_INFO_STRIDE, values, 2, &count), FCONV_ERR_BUFFER_TOO_SMALL, "values");
    EXPECT_TRUE(count == 2 * N_LAYERS);

    /* --- NaN / Inf input ---------------------------------------------------------------- */
    memcpy(x_bad, x, sizeof x);
    x_bad[17] = (float)NAN;
    EXPECT(fconv_conv_forward(single, x_bad, x_shape, 4, NULL, 0, y, y_capacity), FCONV_ERR_NUMERICAL, "NaN");
    x_bad[17] = (float)-INFINITY;
    EXPECT(fconv_conv_forward(grid, x_bad, x_shape, 4, layer1, 1, y, y_capacity), FCONV_ERR_NUMERICAL, "infinite");
    EXPECT(fconv_conv_reset_parameters(single, NAN, 1), FCONV_ERR_INVALID_ARGUMENT, "std");
    EXPECT(fconv_conv_reset_parameters(single, -1.0, 1), FCONV_ERR_INVALID_ARGUMENT, "std");

    /* --- set / transduct ---------------------------------------------------------------- */
    EXPECT(fconv_conv_set(grid, layer1, 1, ones, NULL, NULL, 3, NULL, 0), FCONV_ERR_SHAPE_MISMATCH, "n_spatial");
    EXPECT(fconv_conv_set(grid, layer1, 1, zeros2, NULL, NULL, 2, NULL, 0), FCONV_ERR_INVALID_ARGUMENT, "stride");
    EXPECT(fconv_conv_set(grid, layer1, 1, NULL, NULL, NULL, 2, bias, C_OUT + 1), FCONV_ERR_SHAPE_MISMATCH, "bias_count");
    EXPECT(fconv_conv_transduct(single, 3, 5, 1, 1, 1), FCONV_ERR_INVALID_ARGUMENT, "mode");
    EXPECT(fconv_conv_transduct(single, 0, 0, 1, 1, 1), FCONV_ERR_INVALID_ARGUMENT, "kernel_size");
    EXPECT(fconv_conv_transduct(single, 3, 0, -1, 1, 1), FCONV_ERR_INVALID_ARGUMENT, "padding");
    EXPECT(fconv_conv_transduct(sub, 3, 0, 1, 1, 1), FCONV_ERR_INVALID_ARGUMENT, "sub-convolution");
    EXPECT(fconv_conv_chosen_implementation(single, x_shape, 3, NULL, 0, &chosen), FCONV_ERR_SHAPE_MISMATCH, "input shape");

    /* --- files -------------------------------------------------------------------------- */
    out = sentinel;
    EXPECT(fconv_conv_load("/nonexistent-dir/layer.safetensors", &out), FCONV_ERR_IO, "layer.safetensors");
    EXPECT_TRUE(out == NULL);
    EXPECT(fconv_conv_save(single, "/nonexistent-dir/layer.safetensors"), FCONV_ERR_IO, "layer.safetensors");

    /* --- nothing changed ---------------------------------------------------------------- */
    take(single, 1, x, &after_single);
    take(grid, N_LAYERS, x, &after_grid);
    EXPECT_TRUE(memcmp(&before_single, &after_single, sizeof before_single) == 0);
    EXPECT_TRUE(memcmp(&before_grid, &after_grid, sizeof before_grid) == 0);

    fconv_options_free(options);
    fconv_conv_free(grid);
    fconv_conv_free(sub);
    fconv_conv_free(single);
    printf("test_layer_errors: %d rows, %d failures\n", rows, failures);
    fflush(stdout);
    return failures ? 1 : 0;
}
