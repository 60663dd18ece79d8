/*
 * test_buffers.c — layers saved to and loaded from memory (fconv_conv_save_to_buffer,
 * fconv_conv_load_from_buffer): the bytes are the file's, a round trip gives the same outputs,
 * the caller's buffer may be freed at once, and truncated or hostile bytes are refused with
 * FCONV_ERR_FORMAT (run under valgrind and AddressSanitizer by `make test`).
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

static fconv_conv *make_layer(const char *factorization) {
    fconv_options *o = NULL;
    fconv_conv *c = NULL;
    int64_t kernel[2] = {3, 3}, layer = 1, stride[2] = {2, 1}, pad[2] = {1, 1};
    float bias[6] = {0.5f, -1, 2, 0, 1, 3};
    fconv_options_create(&o);
    fconv_options_set_string(o, "factorization", factorization);
    fconv_options_set_string(o, "implementation", "auto");
    fconv_options_set_float(o, "rank", 0.5);
    fconv_options_set_int(o, "bias", 1);
    fconv_options_set_int(o, "n_layers", 2);
    fconv_options_set_int(o, "seed", 5);
    fconv_conv_create(4, 6, kernel, 2, o, &c);
    fconv_options_free(o);
    if (c) fconv_conv_set(c, &layer, 1, stride, pad, NULL, 2, bias, 6);
    return c;
}

/* The layer's bytes in a malloc'ed buffer (size in *size), or NULL. */
static unsigned char *layer_bytes(const fconv_conv *c, size_t *size) {
    unsigned char *bytes;
    size_t again = 0;
    fconv_status s = fconv_conv_save_to_buffer(c, NULL, 0, size);
    CHECK(s == FCONV_ERR_BUFFER_TOO_SMALL && *size > 8, "size query: status %d, size %zu", s, *size);
    bytes = (unsigned char *)malloc(*size);
    s = fconv_conv_save_to_buffer(c, bytes, *size - 1, &again);
    CHECK(s == FCONV_ERR_BUFFER_TOO_SMALL && again == *size, "one byte short: status %d", s);
    s = fconv_conv_save_to_buffer(c, bytes, *size, &again);
    CHECK(s == FCONV_OK && again == *size, "save_to_buffer: status %d", s);
    return bytes;
}

static void round_trip(const char *factorization) {
    fconv_conv *c = make_layer(factorization), *back = NULL;
    size_t size = 0, size_back = 0, file_size;
    unsigned char *bytes, *again, *file_bytes;
    char path[512];
    FILE *fp;
    snprintf(path, sizeof path, "%s/fconv-test-buffers-%ld.safetensors", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp",
             (long)getpid());
    CHECK(c != NULL, "create %s", factorization);
    if (!c) return;
    bytes = layer_bytes(c, &size);
    CHECK(fconv_conv_load_from_buffer(bytes, size, &back) == FCONV_OK && back != NULL, "load_from_buffer %s", factorization);
    memset(bytes, 0xAB, size);   /* the library must not keep pointing into the caller's buffer */
    free(bytes);
    CHECK(fixture_same_outputs(c, back, 1), "%s: the loaded layer's output differs", factorization);
    /* The bytes are the file's. */
    again = layer_bytes(back, &size_back);
    CHECK(fconv_conv_save(c, path) == FCONV_OK, "save");
    fp = fopen(path, "rb");
    fseek(fp, 0, SEEK_END);
    file_size = (size_t)ftell(fp);
    fseek(fp, 0, SEEK_SET);
    file_bytes = (unsigned char *)malloc(file_size);
    CHECK(fread(file_bytes, 1, file_size, fp) == file_size, "read the file");
    fclose(fp);
    remove(path);
    CHECK(file_size == size_back && memcmp(file_bytes, again, file_size) == 0, "%s: buffer bytes differ from the file", factorization);
    free(file_bytes);
    free(again);
    fconv_conv_free(back);
    fconv_conv_free(c);
}

static void refusals(void) {
    fconv_conv *c = make_layer("tucker"), *out = (fconv_conv *)&checks;
    size_t size = 0, cut, i;
    unsigned char *bytes = layer_bytes(c, &size), *hostile;
    fconv_status s;
    /* Every truncation is a format error, and *out is NULL. */
    for (cut = 0; cut < size; cut += size / 23 + 1) {
        out = (fconv_conv *)&checks;
        s = fconv_conv_load_from_buffer(bytes, cut, &out);
        CHECK(s == FCONV_ERR_FORMAT && out == NULL, "truncated at %zu of %zu: status %d", cut, size, s);
    }
    CHECK(fconv_conv_load_from_buffer(NULL, 16, &out) == FCONV_ERR_INVALID_ARGUMENT && out == NULL, "NULL data");
    CHECK(fconv_conv_load_from_buffer(bytes, size, NULL) == FCONV_ERR_INVALID_ARGUMENT, "NULL out");
    CHECK(fconv_conv_save_to_buffer(c, bytes, size, NULL) == FCONV_ERR_INVALID_ARGUMENT, "NULL size");
    CHECK(fconv_conv_save_to_buffer(NULL, bytes, size, &size) == FCONV_ERR_INVALID_ARGUMENT, "NULL conv");
    /* A header length beyond the buffer, and one of 2^63. */
    hostile = (unsigned char *)malloc(size);
    memcpy(hostile, bytes, size);
    hostile[0] = 0xFF; hostile[1] = 0xFF;
    CHECK(fconv_conv_load_from_buffer(hostile, size, &out) == FCONV_ERR_FORMAT, "header length beyond the buffer");
    memset(hostile, 0, 8);
    hostile[7] = 0x80;
    CHECK(fconv_conv_load_from_buffer(hostile, size, &out) == FCONV_ERR_FORMAT, "header length 2^63");
    /* Every single-byte corruption of the header: refused or loaded, never a crash or a leak. */
    for (i = 8; i < 8 + 200 && i < size; ++i) {
        memcpy(hostile, bytes, size);
        hostile[i] ^= 0x5A;
        out = NULL;
        s = fconv_conv_load_from_buffer(hostile, size, &out);
        CHECK(s == FCONV_OK || s == FCONV_ERR_FORMAT, "corrupt byte %zu: status %d", i, s);
        CHECK((s == FCONV_OK) == (out != NULL), "corrupt byte %zu: *out and status disagree", i);
        fconv_conv_free(out);
    }
    free(hostile);
    free(bytes);
    fconv_conv_free(c);
}

int main(void) {
    round_trip("cp");
    round_trip("tucker");
    round_trip("tt");
    round_trip("dense");
    refusals();
    return check_summary("test_buffers");
}
