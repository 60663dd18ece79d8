/*
 * file_example.c — layer files from C: save a layer grid with fconv_conv_save, load it back
 * with fconv_conv_load, and check that parameters, geometry and outputs are identical; then
 * show the errors for a missing and a corrupted file.
 *
 * With an argument (a layer file, e.g. written by `factorconv compress`) it loads that file
 * instead and runs it on a deterministic input:   file_example layer.safetensors
 */
#include <stdio.h>
#include <string.h>

#include "example_util.h"

/* Runs layer `index` of `conv` on `x` (shape xs) into a new buffer; sets *count. */
static float *run(const fconv_conv *conv, const float *x, const int64_t *xs, size_t ndim,
                  const int64_t *index, size_t index_ndim, size_t *count) {
    int64_t ys[EX_MAX_NDIM];
    CHECK(fconv_conv_output_shape(conv, xs, ndim, index, index_ndim, ys, EX_MAX_NDIM));
    *count = ex_count(ys, ndim);
    float *y = ex_floats(*count);
    CHECK(fconv_conv_forward(conv, x, xs, ndim, index, index_ndim, y, *count));
    return y;
}

static void run_file(const char *path) {
    fconv_conv *conv = NULL;
    CHECK(fconv_conv_load(path, &conv));
    char repr[1024];
    CHECK(fconv_conv_repr(conv, repr, sizeof repr, NULL));
    int64_t in_c, order, layers[8];
    size_t n, n_layers;
    CHECK(fconv_conv_get_ints(conv, FCONV_INFO_IN_CHANNELS, &in_c, 1, &n));
    CHECK(fconv_conv_get_ints(conv, FCONV_INFO_ORDER, &order, 1, &n));
    CHECK(fconv_conv_get_ints(conv, FCONV_INFO_N_LAYERS, layers, 8, &n_layers));
    int64_t xs[EX_MAX_NDIM] = {1, in_c}, index[8] = {0};
    for (int64_t d = 0; d < order; ++d) xs[2 + d] = 16;
    size_t x_count = ex_count(xs, (size_t)order + 2), y_count;
    float *x = ex_floats(x_count);
    uint32_t state = 7;
    for (size_t i = 0; i < x_count; ++i) x[i] = ex_uniform(&state);
    float *y = run(conv, x, xs, (size_t)order + 2, index, n_layers, &y_count);
    printf("%s\n%s: ran layer 0 on a (1, %lld, 16...) input: %zu outputs, y[0] = %g\n", repr, path,
           (long long)in_c, y_count, (double)y[0]);
    free(x);
    free(y);
    fconv_conv_free(conv);
}

int main(int argc, char **argv) {
    if (argc > 1) {
        run_file(argv[1]);
        return 0;
    }
    const char *path = "/tmp/factorconv_file_example.safetensors";
    int64_t kernel[2] = {3, 3};
    fconv_options *options = NULL;
    CHECK(fconv_options_create(&options));
    CHECK(fconv_options_set_string(options, "factorization", "tucker"));
    CHECK(fconv_options_set_float(options, "rank", 0.5));
    CHECK(fconv_options_set_int(options, "bias", 1));
    CHECK(fconv_options_set_int(options, "n_layers", 2));
    CHECK(fconv_options_set_int(options, "seed", 5));
    fconv_conv *conv = NULL;
    CHECK(fconv_conv_create(4, 6, kernel, 2, options, &conv));
    fconv_options_free(options);
    int64_t layer1 = 1, stride[2] = {2, 1}, padding[2] = {1, 1};
    float bias[6] = {0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f};
    CHECK(fconv_conv_set(conv, &layer1, 1, stride, padding, NULL, 2, bias, 6));

    CHECK(fconv_conv_save(conv, path));
    fconv_conv *loaded = NULL;
    CHECK(fconv_conv_load(path, &loaded));

    /* identical parameters */
    size_t count, other;
    CHECK(fconv_conv_parameter_count(conv, &count));
    CHECK(fconv_conv_parameter_count(loaded, &other));
    REQUIRE(count == other, "parameter counts differ: %zu vs %zu", count, other);
    for (size_t i = 0; i < count; ++i) {
        char name[64];
        int64_t shape[8];
        size_t ndim;
        CHECK(fconv_conv_parameter_name(conv, i, name, sizeof name, NULL));
        CHECK(fconv_conv_parameter_shape(conv, name, shape, 8, &ndim));
        size_t n = ex_count(shape, ndim);
        float *a = ex_floats(n), *b = ex_floats(n);
        CHECK(fconv_conv_get_parameter(conv, name, a, n));
        CHECK(fconv_conv_get_parameter(loaded, name, b, n));
        REQUIRE(memcmp(a, b, n * sizeof *a) == 0, "parameter %s differs after load", name);
        free(a);
        free(b);
    }
    /* identical geometry and outputs for both layers */
    int64_t s1[8], s2[8];
    size_t n1, n2;
    CHECK(fconv_conv_get_ints(conv, FCONV_INFO_STRIDE, s1, 8, &n1));
    CHECK(fconv_conv_get_ints(loaded, FCONV_INFO_STRIDE, s2, 8, &n2));
    REQUIRE(n1 == n2 && memcmp(s1, s2, n1 * sizeof *s1) == 0, "strides differ after load");
    int64_t xs[4] = {2, 4, 9, 8};
    size_t x_count = ex_count(xs, 4);
    float *x = ex_floats(x_count);
    uint32_t state = 1;
    for (size_t i = 0; i < x_count; ++i) x[i] = ex_uniform(&state);
    for (int64_t l = 0; l < 2; ++l) {
        size_t ya_count, yb_count;
        float *ya = run(conv, x, xs, 4, &l, 1, &ya_count), *yb = run(loaded, x, xs, 4, &l, 1, &yb_count);
        REQUIRE(ya_count == yb_count && memcmp(ya, yb, ya_count * sizeof *ya) == 0, "layer %lld output differs", (long long)l);
        free(ya);
        free(yb);
    }
    printf("saved and loaded %s: %zu parameters and both layers' outputs identical\n", path, count);
    free(x);
    fconv_conv_free(loaded);
    fconv_conv_free(conv);

    /* errors: a missing file, a corrupted one */
    fconv_conv *none = NULL;
    fconv_status st = fconv_conv_load("/nonexistent/layer.safetensors", &none);
    REQUIRE(st == FCONV_ERR_IO && none == NULL, "a missing file gave %s", fconv_status_string(st));
    printf("missing file: %s: %s\n", fconv_status_string(st), fconv_last_error_message());
    FILE *f = fopen(path, "r+b");
    REQUIRE(f != NULL, "cannot reopen %s", path);
    fputc(0xFF, f);   /* the header length becomes huge */
    fputc(0xFF, f);
    fputc(0xFF, f);
    fclose(f);
    st = fconv_conv_load(path, &none);
    REQUIRE(st == FCONV_ERR_FORMAT && none == NULL, "a corrupted file gave %s", fconv_status_string(st));
    printf("corrupted file: %s: %s\n", fconv_status_string(st), fconv_last_error_message());
    remove(path);
    return 0;
}
