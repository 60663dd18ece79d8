/*
 * layer_fixture.h — the forward fixture the layer round-trip tests share (test_buffers.c,
 * test_bundle.c): their layers take 4 channels to 6 with a 3x3 kernel, and are compared by
 * their outputs on one fixed input, bit for bit. Include after check.h.
 */
#ifndef FACTORCONV_TESTS_C_LAYER_FIXTURE_H
#define FACTORCONV_TESTS_C_LAYER_FIXTURE_H

#include <stdint.h>
#include <string.h>

#include "factorconv.h"

/* Floats of the fixed input (2 x 4 x 10 x 10) and of the output buffer (2 x 6 x 10 x 10, the
 * largest output: a strided layer's is smaller and leaves the tail alone). */
#define FIXTURE_INPUT_FLOATS (2 * 4 * 10 * 10)
#define FIXTURE_OUTPUT_FLOATS (2 * 6 * 10 * 10)

/* Runs layer `layer` of `c` (the layer argument omitted when layer < 0) on the fixed input into y
 * (FIXTURE_OUTPUT_FLOATS floats). */
static fconv_status fixture_forward(const fconv_conv *c, int64_t layer, float *y) {
    static float x[FIXTURE_INPUT_FLOATS];
    int64_t x_shape[4] = {2, 4, 10, 10};
    size_t i;
    for (i = 0; i < FIXTURE_INPUT_FLOATS; ++i) x[i] = (float)((i * 37) % 19) / 9.0f - 1.0f;
    return fconv_conv_forward(c, x, x_shape, 4, layer < 0 ? NULL : &layer, layer < 0 ? 0 : 1, y, FIXTURE_OUTPUT_FLOATS);
}

/* 1 when a and b both run and give the same output bit for bit: on layers 0 and 1 of a grid of 2
 * when `grid`, else on the plain layer. */
static int fixture_same_outputs(const fconv_conv *a, const fconv_conv *b, int grid) {
    static float ya[FIXTURE_OUTPUT_FLOATS], yb[FIXTURE_OUTPUT_FLOATS];
    int64_t layer;
    for (layer = grid ? 0 : -1; layer < (grid ? 2 : 0); ++layer) {
        memset(ya, 0, sizeof ya);
        memset(yb, 0, sizeof yb);
        if (fixture_forward(a, layer, ya) != FCONV_OK || fixture_forward(b, layer, yb) != FCONV_OK) return 0;
        if (memcmp(ya, yb, sizeof ya) != 0) return 0;
    }
    return 1;
}

#endif
