/*
 * test_regressions.c — reproducers of the bugs the C ABI fuzzer (fuzz_abi.c) found, as plain
 * checks. The fuzzer's own crash inputs are also kept in Tests/Fuzz/corpus/ and replayed by
 * `make test-fuzz-replay`.
 *
 * 1. from_conv / from_conv_list accepted a NaN/Inf bias (only the kernel was checked); the
 *    layer saved fine but fconv_conv_load refused the file ("parameter bias contains NaN or
 *    infinite values"): a layer that could not be read back. Now FCONV_ERR_NUMERICAL, like
 *    fconv_conv_set and fconv_conv_set_parameters.
 * 2. (memory bound before copying caller data: see Tests/Stress/test_limits.c)
 * Exits 1 if any check fails.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "factorconv.h"

static int failures = 0;

#define EXPECT_STATUS(call, expected)                                                      \
    do {                                                                                   \
        fconv_status s_ = (call);                                                          \
        if (s_ != (expected)) {                                                            \
            fprintf(stderr, "FAIL %s:%d: %s returned %s, expected %s (\"%s\")\n", __FILE__, \
                    __LINE__, #call, fconv_status_string(s_), fconv_status_string(expected), \
                    fconv_last_error_message());                                           \
            failures++;                                                                    \
        }                                                                                  \
    } while (0)

int main(void) {
    const int64_t ws[4] = {4, 2, 3, 3};
    float w[72], good[4] = {1, 2, 3, 4}, nan_bias[4] = {1, NAN, 2, 3}, inf_bias[4] = {INFINITY, 0, 0, 0};
    const float *weights[2] = {w, w}, *biases[2] = {good, nan_bias};
    fconv_conv *c = (fconv_conv *)(void *)w, *back = NULL;
    char path[256];
    int i;
    for (i = 0; i < 72; ++i) w[i] = (float)(i % 11) / 11.0f - 0.5f;

    EXPECT_STATUS(fconv_conv_from_conv(w, ws, 4, nan_bias, NULL, &c), FCONV_ERR_NUMERICAL);
    if (c != NULL) { fprintf(stderr, "FAIL: *out not NULL\n"); failures++; }
    EXPECT_STATUS(fconv_conv_from_conv(w, ws, 4, inf_bias, NULL, &c), FCONV_ERR_NUMERICAL);
    if (strstr(fconv_last_error_message(), "bias") == NULL) { fprintf(stderr, "FAIL: message does not name bias\n"); failures++; }
    EXPECT_STATUS(fconv_conv_from_conv_list(2, weights, ws, 4, biases, NULL, NULL, NULL, NULL, &c), FCONV_ERR_NUMERICAL);
    if (strstr(fconv_last_error_message(), "biases[1]") == NULL) { fprintf(stderr, "FAIL: message does not name biases[1]\n"); failures++; }

    /* Every layer from_conv accepts can be saved and loaded back. */
    snprintf(path, sizeof path, "/tmp/fconv-regressions-%ld.safetensors", (long)getpid());
    EXPECT_STATUS(fconv_conv_from_conv(w, ws, 4, good, NULL, &c), FCONV_OK);
    EXPECT_STATUS(fconv_conv_save(c, path), FCONV_OK);
    EXPECT_STATUS(fconv_conv_load(path, &back), FCONV_OK);
    remove(path);
    fconv_conv_free(back);
    fconv_conv_free(c);
    printf("test_regressions: %s\n", failures ? "FAILED" : "all passed");
    return failures ? 1 : 0;
}
