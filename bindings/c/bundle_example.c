/*
 * bundle_example.c — a model bundle from C: save three named layers (a network's convs under
 * their module paths) in one .safetensors file with fconv_bundle_save, open it, list its layers,
 * take each one out by name and check its output against the original's; then show that a
 * single-layer file is refused as a bundle.
 *
 * With an argument (a bundle, e.g. written by Python's fc.save_layers) it lists that file's
 * layers instead:   bundle_example model.safetensors
 */
#include <stdio.h>
#include <string.h>

#include "example_util.h"

/* Lists a bundle's layers: name, factorization and parameter count. */
static void list(const fconv_bundle *bundle) {
    static const char *const kinds[] = {"cp", "tucker", "tt", "dense"};
    size_t count, i, n;
    CHECK(fconv_bundle_count(bundle, &count));
    printf("%zu layers:\n", count);
    for (i = 0; i < count; ++i) {
        const char *name;
        fconv_conv *layer = NULL;
        int64_t factorization, parameters;
        CHECK(fconv_bundle_name(bundle, i, &name));   /* owned by the bundle */
        CHECK(fconv_bundle_get_layer(bundle, name, &layer));
        CHECK(fconv_conv_get_ints(layer, FCONV_INFO_FACTORIZATION, &factorization, 1, &n));
        CHECK(fconv_conv_get_ints(layer, FCONV_INFO_PARAMETER_COUNT, &parameters, 1, &n));
        printf("  %-24s %-7s %lld parameters\n", name, factorization >= 0 && factorization < 4 ? kinds[factorization] : "?",
               (long long)parameters);
        fconv_conv_free(layer);
    }
}

/* Runs `conv` (a single convolution) on `x` into a new buffer; sets *count. */
static float *run(const fconv_conv *conv, const float *x, const int64_t *xs, size_t *count) {
    int64_t ys[4];
    CHECK(fconv_conv_output_shape(conv, xs, 4, NULL, 0, ys, 4));
    *count = ex_count(ys, 4);
    float *y = ex_floats(*count);
    CHECK(fconv_conv_forward(conv, x, xs, 4, NULL, 0, y, *count));
    return y;
}

int main(int argc, char **argv) {
    fconv_bundle *bundle = NULL;
    if (argc > 1) {
        CHECK(fconv_bundle_open(argv[1], &bundle));
        list(bundle);
        fconv_bundle_free(bundle);
        return 0;
    }
    const char *path = "/tmp/factorconv_bundle_example.safetensors";
    const char *names[3] = {"backbone.layer1.0.conv1", "backbone.layer1.0.conv2", "head.conv"};
    const char *kinds[3] = {"cp", "tucker", "tt"};
    fconv_conv *convs[3];
    int64_t kernel[2] = {3, 3};
    for (int i = 0; i < 3; ++i) {
        fconv_options *options = NULL;
        CHECK(fconv_options_create(&options));
        CHECK(fconv_options_set_string(options, "factorization", kinds[i]));
        CHECK(fconv_options_set_float(options, "rank", 0.5));
        CHECK(fconv_options_set_int(options, "padding", 1));
        CHECK(fconv_options_set_int(options, "bias", i != 2));
        CHECK(fconv_options_set_int(options, "seed", 10 + i));
        CHECK(fconv_conv_create(8, 8, kernel, 2, options, &convs[i]));
        fconv_options_free(options);
    }
    CHECK(fconv_bundle_save(path, 3, names, (const fconv_conv *const *)convs));
    CHECK(fconv_bundle_open(path, &bundle));
    list(bundle);

    /* Each layer, taken out by name, gives its original's output bit for bit. */
    int64_t xs[4] = {2, 8, 12, 12};
    size_t x_count = ex_count(xs, 4);
    float *x = ex_floats(x_count);
    uint32_t state = 3;
    for (size_t i = 0; i < x_count; ++i) x[i] = ex_uniform(&state);
    for (int i = 0; i < 3; ++i) {
        fconv_conv *layer = NULL;
        size_t na, nb;
        CHECK(fconv_bundle_get_layer(bundle, names[i], &layer));   /* a new layer: ours to free */
        float *ya = run(convs[i], x, xs, &na), *yb = run(layer, x, xs, &nb);
        REQUIRE(na == nb && memcmp(ya, yb, na * sizeof *ya) == 0, "layer %s differs from the original", names[i]);
        free(ya);
        free(yb);
        fconv_conv_free(layer);
    }
    printf("every layer of %s gives its original's output\n", path);

    /* An unknown name, and a single-layer file opened as a bundle. */
    fconv_conv *none = NULL;
    fconv_status st = fconv_bundle_get_layer(bundle, "backbone", &none);
    REQUIRE(st == FCONV_ERR_INVALID_ARGUMENT && none == NULL, "an unknown name gave %s", fconv_status_string(st));
    printf("unknown name: %s: %s\n", fconv_status_string(st), fconv_last_error_message());
    fconv_bundle_free(bundle);
    CHECK(fconv_conv_save(convs[0], path));
    bundle = NULL;
    st = fconv_bundle_open(path, &bundle);
    REQUIRE(st == FCONV_ERR_FORMAT && bundle == NULL, "a layer file opened as a bundle gave %s", fconv_status_string(st));
    printf("layer file: %s: %s\n", fconv_status_string(st), fconv_last_error_message());
    remove(path);
    free(x);
    for (int i = 0; i < 3; ++i) fconv_conv_free(convs[i]);
    return 0;
}
