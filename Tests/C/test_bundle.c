/*
 * test_bundle.c — model bundles (fconv_bundle_*): many named layers in one .safetensors file.
 * A round trip through a file and through memory gives the names in order and layers whose
 * outputs equal the originals' bit for bit; layers taken out are independent and outlive the
 * bundle; name pointers stay put until the bundle is freed; stale and wrong-type handles, bad
 * names and hostile bytes (truncations, duplicate names, shared or missing tensors, an unknown
 * version, NaN) are refused with the documented codes. Run under valgrind and AddressSanitizer
 * by `make test`.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "factorconv.h"
#include "check.h"
#include "layer_fixture.h"

#define N_LAYERS 3
/* Module paths; the third is UTF-8 ("net.ü3", in octal escapes). c1 and c2 have the same
 * length, so that one can be written over the other in a saved header without moving a byte. */
static const char *const names[N_LAYERS] = {"net.c1", "net.c2", "net.\303\2743"};
static const char *const factorizations[N_LAYERS] = {"cp", "tucker", "tt"};

/* A 4 -> 6 channel 3x3 layer; the CP one is a grid of 2 with its own geometry and bias on layer 1. */
static fconv_conv *make_layer(int which) {
    fconv_options *o = NULL;
    fconv_conv *c = NULL;
    int64_t kernel[2] = {3, 3}, layer = 1, stride[2] = {2, 1}, pad[2] = {1, 1};
    float bias[6] = {0.5f, -1, 2, 0, 1, 3};
    fconv_options_create(&o);
    fconv_options_set_string(o, "factorization", factorizations[which]);
    fconv_options_set_float(o, "rank", 0.5);
    fconv_options_set_int(o, "bias", which != 2);
    fconv_options_set_int(o, "n_layers", which == 0 ? 2 : 1);
    fconv_options_set_int(o, "seed", 11 + which);
    fconv_conv_create(4, 6, kernel, 2, o, &c);
    fconv_options_free(o);
    if (c && which == 0) fconv_conv_set(c, &layer, 1, stride, pad, NULL, 2, bias, 6);
    return c;
}

/* The bundle's bytes in a malloc'ed buffer (size in *size), checking the size-query convention. */
static unsigned char *bundle_bytes(size_t n, const char *const *n_names, fconv_conv *const *convs, size_t *size) {
    unsigned char *bytes;
    size_t again = 0;
    fconv_status s = fconv_bundle_save_to_buffer(n, n_names, (const fconv_conv *const *)convs, NULL, 0, size);
    CHECK(s == FCONV_ERR_BUFFER_TOO_SMALL && *size > 8, "size query: status %d, size %zu", s, *size);
    bytes = (unsigned char *)malloc(*size);
    s = fconv_bundle_save_to_buffer(n, n_names, (const fconv_conv *const *)convs, bytes, *size - 1, &again);
    CHECK(s == FCONV_ERR_BUFFER_TOO_SMALL && again == *size, "one byte short: status %d", s);
    s = fconv_bundle_save_to_buffer(n, n_names, (const fconv_conv *const *)convs, bytes, *size, &again);
    CHECK(s == FCONV_OK && again == *size, "save_to_buffer: status %d", s);
    return bytes;
}

/* Checks an opened bundle against the originals: count, names in order, outputs. */
static void check_bundle(const fconv_bundle *b, fconv_conv *const *convs, const char *how) {
    size_t count = 0, i;
    const char *name = NULL;
    fconv_conv *layer = NULL;
    CHECK(fconv_bundle_count(b, &count) == FCONV_OK && count == N_LAYERS, "%s: count %zu", how, count);
    for (i = 0; i < N_LAYERS; ++i) {
        CHECK(fconv_bundle_name(b, i, &name) == FCONV_OK && name && strcmp(name, names[i]) == 0, "%s: name %zu", how, i);
        CHECK(fconv_bundle_get_layer(b, names[i], &layer) == FCONV_OK && layer, "%s: get_layer %s", how, names[i]);
        CHECK(layer && fixture_same_outputs(convs[i], layer, i == 0), "%s: layer %s differs from the original", how, names[i]);
        fconv_conv_free(layer);
    }
}

static void round_trip(void) {
    fconv_conv *convs[N_LAYERS];
    fconv_bundle *from_file = NULL, *from_memory = NULL;
    fconv_conv *a = NULL, *b = NULL;
    const char *first = NULL, *again = NULL;
    unsigned char *bytes, *file_bytes;
    size_t size = 0, file_size, i;
    char path[512];
    FILE *fp;
    snprintf(path, sizeof path, "%s/fconv-test-bundle-%ld.safetensors", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp",
             (long)getpid());
    for (i = 0; i < N_LAYERS; ++i) CHECK((convs[i] = make_layer((int)i)) != NULL, "create %s", factorizations[i]);
    bytes = bundle_bytes(N_LAYERS, names, convs, &size);
    CHECK(fconv_bundle_save(path, N_LAYERS, names, (const fconv_conv *const *)convs) == FCONV_OK, "save");
    /* The file holds the buffer's bytes. */
    fp = fopen(path, "rb");
    fseek(fp, 0, SEEK_END);
    file_size = (size_t)ftell(fp);
    fseek(fp, 0, SEEK_SET);
    file_bytes = (unsigned char *)malloc(file_size);
    CHECK(fread(file_bytes, 1, file_size, fp) == file_size, "read the file");
    fclose(fp);
    CHECK(file_size == size && memcmp(file_bytes, bytes, size) == 0, "the file's bytes differ from the buffer's");
    free(file_bytes);

    CHECK(fconv_bundle_open(path, &from_file) == FCONV_OK && from_file, "open");
    CHECK(fconv_bundle_open_buffer(bytes, size, &from_memory) == FCONV_OK && from_memory, "open_buffer");
    memset(bytes, 0xAB, size);   /* the library must not keep pointing into the caller's buffer */
    free(bytes);
    remove(path);
    if (from_file) check_bundle(from_file, convs, "file");
    if (from_memory) check_bundle(from_memory, convs, "memory");

    /* Name pointers stay the same until the bundle is freed. */
    CHECK(fconv_bundle_name(from_memory, 1, &first) == FCONV_OK && fconv_bundle_name(from_memory, 1, &again) == FCONV_OK
          && first == again, "the same name pointer twice");
    /* Two layers taken under one name are independent, and outlive the bundle. */
    CHECK(fconv_bundle_get_layer(from_memory, names[1], &a) == FCONV_OK && fconv_bundle_get_layer(from_memory, names[1], &b) == FCONV_OK
          && a != b, "get_layer twice");
    fconv_bundle_free(from_memory);
    fconv_bundle_free(from_file);
    CHECK(fconv_conv_reset_parameters(a, 0.5, 77) == FCONV_OK, "change one copy");
    CHECK(!fixture_same_outputs(a, b, 0), "changing one layer taken from a bundle changed the other");
    CHECK(fixture_same_outputs(b, convs[1], 0), "a layer taken from a freed bundle");
    fconv_conv_free(a);
    fconv_conv_free(b);
    for (i = 0; i < N_LAYERS; ++i) fconv_conv_free(convs[i]);
}

/* Writes `replacement` over the first occurrence of `text` (same length) in bytes; 0 if absent. */
static int patch(unsigned char *bytes, size_t size, const char *text, const char *replacement) {
    size_t n = strlen(text), i;
    if (strlen(replacement) != n) return 0;
    for (i = 0; i + n <= size; ++i) {
        if (memcmp(bytes + i, text, n) == 0) {
            memcpy(bytes + i, replacement, n);
            return 1;
        }
    }
    return 0;
}

static void misuse(void) {
    fconv_conv *convs[N_LAYERS], *sub = NULL, *out = (fconv_conv *)&checks, *dead;
    fconv_bundle *b = NULL, *stale;
    const char *name = (const char *)&checks;
    const char *bad_names[N_LAYERS];
    size_t count = 7, size = 0, i;
    int64_t index = 1;
    unsigned char *bytes;
    for (i = 0; i < N_LAYERS; ++i) convs[i] = make_layer((int)i);
    bytes = bundle_bytes(N_LAYERS, names, convs, &size);
    CHECK(fconv_bundle_open_buffer(bytes, size, &b) == FCONV_OK, "open_buffer");

    /* Lookups. */
    CHECK(fconv_bundle_get_layer(b, "net.c9", &out) == FCONV_ERR_INVALID_ARGUMENT && out == NULL, "unknown name");
    CHECK(fconv_bundle_get_layer(b, NULL, &out) == FCONV_ERR_INVALID_ARGUMENT, "NULL name");
    CHECK(fconv_bundle_get_layer(b, names[0], NULL) == FCONV_ERR_INVALID_ARGUMENT, "NULL out");
    CHECK(fconv_bundle_name(b, N_LAYERS, &name) == FCONV_ERR_INDEX_OUT_OF_RANGE && name == NULL, "index past the end");
    CHECK(fconv_bundle_name(b, (size_t)-1, &name) == FCONV_ERR_INDEX_OUT_OF_RANGE, "index SIZE_MAX");
    CHECK(fconv_bundle_name(b, 0, NULL) == FCONV_ERR_INVALID_ARGUMENT, "NULL name out");
    CHECK(fconv_bundle_count(b, NULL) == FCONV_ERR_INVALID_ARGUMENT, "NULL count");
    CHECK(fconv_bundle_count(NULL, &count) == FCONV_ERR_INVALID_ARGUMENT, "NULL bundle");

    /* Handles of the wrong type, and stale handles, are refused; a wrong-type free is a no-op. */
    CHECK(fconv_bundle_count((const fconv_bundle *)convs[0], &count) == FCONV_ERR_INVALID_ARGUMENT, "a conv as a bundle");
    fconv_conv_free((fconv_conv *)b);
    fconv_bundle_free((fconv_bundle *)convs[0]);
    CHECK(fconv_bundle_count(b, &count) == FCONV_OK && count == N_LAYERS, "the bundle survives a conv free of it");
    CHECK(fconv_conv_parameter_count(convs[0], &count) == FCONV_OK, "the conv survives a bundle free of it");
    stale = b;
    fconv_bundle_free(b);
    CHECK(fconv_bundle_count(stale, &count) == FCONV_ERR_INVALID_ARGUMENT, "a freed bundle");
    CHECK(fconv_bundle_get_layer(stale, names[0], &out) == FCONV_ERR_INVALID_ARGUMENT && out == NULL, "get_layer on a freed bundle");
    fconv_bundle_free(stale);   /* a second free: no-op */

    /* Saving: bad names, bad handles, bad paths. */
    memcpy(bad_names, names, sizeof bad_names);
    bad_names[2] = names[0];
    CHECK(fconv_bundle_save_to_buffer(N_LAYERS, bad_names, (const fconv_conv *const *)convs, NULL, 0, &size) == FCONV_ERR_INVALID_ARGUMENT,
          "duplicate names");
    bad_names[2] = "";
    CHECK(fconv_bundle_save_to_buffer(N_LAYERS, bad_names, (const fconv_conv *const *)convs, NULL, 0, &size) == FCONV_ERR_INVALID_ARGUMENT,
          "empty name");
    bad_names[2] = "a\tb";
    CHECK(fconv_bundle_save_to_buffer(N_LAYERS, bad_names, (const fconv_conv *const *)convs, NULL, 0, &size) == FCONV_ERR_INVALID_ARGUMENT,
          "control character");
    bad_names[2] = "bad\xff";
    CHECK(fconv_bundle_save_to_buffer(N_LAYERS, bad_names, (const fconv_conv *const *)convs, NULL, 0, &size) == FCONV_ERR_INVALID_ARGUMENT,
          "invalid UTF-8");
    bad_names[2] = NULL;
    CHECK(fconv_bundle_save_to_buffer(N_LAYERS, bad_names, (const fconv_conv *const *)convs, NULL, 0, &size) == FCONV_ERR_INVALID_ARGUMENT,
          "NULL name");
    CHECK(fconv_bundle_save_to_buffer(N_LAYERS, NULL, (const fconv_conv *const *)convs, NULL, 0, &size) == FCONV_ERR_INVALID_ARGUMENT,
          "NULL names");
    CHECK(fconv_bundle_save_to_buffer((size_t)1 << 40, names, (const fconv_conv *const *)convs, NULL, 0, &size) == FCONV_ERR_INVALID_ARGUMENT,
          "absurd n");
    CHECK(fconv_bundle_save_to_buffer(N_LAYERS, names, (const fconv_conv *const *)convs, NULL, 0, NULL) == FCONV_ERR_INVALID_ARGUMENT,
          "NULL size");
    CHECK(fconv_conv_get_conv(convs[0], &index, 1, &sub) == FCONV_OK, "get_conv");
    {
        const fconv_conv *with_sub[2];
        with_sub[0] = sub;
        with_sub[1] = convs[1];
        CHECK(fconv_bundle_save_to_buffer(2, names, with_sub, NULL, 0, &size) == FCONV_ERR_INVALID_ARGUMENT, "a sub-convolution");
        dead = make_layer(2);
        fconv_conv_free(dead);
        with_sub[0] = dead;
        CHECK(fconv_bundle_save_to_buffer(2, names, with_sub, NULL, 0, &size) == FCONV_ERR_INVALID_ARGUMENT, "a freed conv");
    }
    fconv_conv_free(sub);
    CHECK(fconv_bundle_save("/", N_LAYERS, names, (const fconv_conv *const *)convs) == FCONV_ERR_IO, "save over a directory");
    CHECK(fconv_bundle_save(NULL, N_LAYERS, names, (const fconv_conv *const *)convs) == FCONV_ERR_INVALID_ARGUMENT, "NULL path");
    CHECK(fconv_bundle_open("/", &b) == FCONV_ERR_IO && b == NULL, "open a directory");
    CHECK(fconv_bundle_open("/nonexistent/fconv.safetensors", &b) == FCONV_ERR_IO && b == NULL, "open a missing file");
    CHECK(fconv_bundle_open(NULL, &b) == FCONV_ERR_INVALID_ARGUMENT, "NULL path to open");
    /* An empty bundle is allowed. */
    {
        unsigned char empty[256];
        size_t empty_size = 0;
        CHECK(fconv_bundle_save_to_buffer(0, NULL, NULL, empty, sizeof empty, &empty_size) == FCONV_OK, "empty bundle");
        CHECK(fconv_bundle_open_buffer(empty, empty_size, &b) == FCONV_OK && fconv_bundle_count(b, &count) == FCONV_OK && count == 0,
              "open the empty bundle");
        fconv_bundle_free(b);
    }
    free(bytes);
    for (i = 0; i < N_LAYERS; ++i) fconv_conv_free(convs[i]);
}

/* Opens hostile bytes: must fail with FCONV_ERR_FORMAT and leave *out NULL. */
static void expect_format(const unsigned char *bytes, size_t size, const char *what) {
    fconv_bundle *b = (fconv_bundle *)&checks;
    fconv_status s = fconv_bundle_open_buffer(bytes, size, &b);
    CHECK(s == FCONV_ERR_FORMAT && b == NULL, "%s: status %d", what, s);
    if (s == FCONV_OK) fconv_bundle_free(b);
}

static void hostile(void) {
    fconv_conv *convs[N_LAYERS], *layer = NULL;
    size_t size = 0, layer_size = 0, cut, i;
    unsigned char *bytes, *h, *layer_bytes;
    for (i = 0; i < N_LAYERS; ++i) convs[i] = make_layer((int)i);
    bytes = bundle_bytes(N_LAYERS, names, convs, &size);
    h = (unsigned char *)malloc(size);

    /* Every truncation. */
    for (cut = 0; cut < size; cut += size / 29 + 1) expect_format(bytes, cut, "truncated");
    expect_format(bytes, size - 1, "one byte short");

    /* A bundle is not a layer file, and a layer file is not a bundle. */
    CHECK(fconv_conv_load_from_buffer(bytes, size, &layer) == FCONV_ERR_FORMAT && layer == NULL, "a bundle loaded as one layer");
    fconv_conv_save_to_buffer(convs[0], NULL, 0, &layer_size);
    layer_bytes = (unsigned char *)malloc(layer_size);
    CHECK(fconv_conv_save_to_buffer(convs[0], layer_bytes, layer_size, &layer_size) == FCONV_OK, "layer bytes");
    expect_format(layer_bytes, layer_size, "a layer file opened as a bundle");
    free(layer_bytes);

    /* Edits of the table of contents that keep every byte in place (the JSON is a string inside
     * the header, so its quotes are escaped). */
    memcpy(h, bytes, size);
    CHECK(patch(h, size, "\\\"name\\\":\\\"net.c2\\\"", "\\\"name\\\":\\\"net.c1\\\""), "patch");
    expect_format(h, size, "duplicate names");
    memcpy(h, bytes, size);
    CHECK(patch(h, size, "\\\"net.c2.weight.factors.factor_1\\\"", "\\\"net.c2.weight.factors.factor_0\\\""), "patch");
    expect_format(h, size, "a tensor claimed twice");
    memcpy(h, bytes, size);
    CHECK(patch(h, size, "\\\"net.c2.weight.factors.factor_1\\\"", "\\\"net.c2.weight.factors.factor_9\\\""), "patch");
    expect_format(h, size, "a missing tensor");
    memcpy(h, bytes, size);
    CHECK(patch(h, size, "\\\"format_version\\\":1", "\\\"format_version\\\":7"), "patch");
    expect_format(h, size, "format version 7");
    memcpy(h, bytes, size);
    CHECK(patch(h, size, "factorconv_bundle", "factorconv_bundlf"), "patch");
    expect_format(h, size, "no table of contents");
    /* A NaN in the last parameter. */
    memcpy(h, bytes, size);
    h[size - 4] = 0x00; h[size - 3] = 0x00; h[size - 2] = 0xC0; h[size - 1] = 0x7F;
    expect_format(h, size, "NaN");

    /* Every single-byte corruption of the header: refused or opened, never a crash or a leak. */
    for (i = 8; i < 8 + 300 && i < size; i += 3) {
        fconv_bundle *b = NULL;
        fconv_status s;
        memcpy(h, bytes, size);
        h[i] ^= 0x5A;
        s = fconv_bundle_open_buffer(h, size, &b);
        CHECK(s == FCONV_OK || s == FCONV_ERR_FORMAT, "corrupt byte %zu: status %d", i, s);
        CHECK((s == FCONV_OK) == (b != NULL), "corrupt byte %zu: *out and status disagree", i);
        fconv_bundle_free(b);
    }
    free(h);
    free(bytes);
    for (i = 0; i < N_LAYERS; ++i) fconv_conv_free(convs[i]);
}

int main(void) {
    round_trip();
    misuse();
    hostile();
    return check_summary("test_bundle");
}
