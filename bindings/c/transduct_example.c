/*
 * transduct_example.c — turn a trained 2-D factorized conv into a 3-D (video) conv with
 * fconv_conv_transduct (tltorch transduct): a new spatial dimension of size 3 is inserted before
 * height (mode 0) with padding 1. For CP the old kernel sits at the centre tap, so every output
 * frame equals the 2-D conv of the same input frame; for TT the kernel is replicated along time.
 * Both are checked: CP frame by frame against the 2-D layer run before the transduction, TT
 * against a naive 3-D conv with its reconstructed kernel. Exits 1 on any failure.
 *
 * Build: cc -std=c99 -Iinclude bindings/c/transduct_example.c -Lbuild-dir -lfactorconv -lm
 */
#include <string.h>

#include "example_util.h"

enum { C_IN = 4, C_OUT = 5, T = 4, H = 7, W = 6 };

static fconv_conv *make_layer(const char *factorization) {
    const int64_t kernel_size[2] = {3, 3};
    fconv_options *options = NULL;
    fconv_conv *conv = NULL;
    CHECK(fconv_options_create(&options));
    CHECK(fconv_options_set_string(options, "factorization", factorization));
    CHECK(fconv_options_set_int(options, "padding", 1));
    CHECK(fconv_options_set_int(options, "bias", 1));
    CHECK(fconv_options_set_int(options, "seed", 9));
    CHECK(fconv_conv_create(C_IN, C_OUT, kernel_size, 2, options, &conv));
    fconv_options_free(options);
    {   /* a non-zero bias, written through the parameter interface */
        const char *names[1] = {"bias"};
        float bias[C_OUT];
        const float *values[1];
        const int64_t shape[1] = {C_OUT};
        const int64_t *shapes[1];
        const size_t ndims[1] = {1};
        size_t i;
        for (i = 0; i < C_OUT; ++i) bias[i] = 0.1f * (float)i;
        values[0] = bias;
        shapes[0] = shape;
        CHECK(fconv_conv_set_parameters(conv, 1, names, values, shapes, ndims, 0));
    }
    return conv;
}

static void print_repr(const char *title, const fconv_conv *conv) {
    char text[512];
    size_t length = 0;
    CHECK(fconv_conv_repr(conv, text, sizeof text, &length));
    printf("%s: FactorizedConv(%s)\n", title, text);
}

int main(void) {
    const int64_t video_shape[5] = {1, C_IN, T, H, W}, frame_shape[4] = {1, C_IN, H, W};
    const int64_t one[3] = {1, 1, 1}, pad[3] = {1, 1, 1}, dilation[3] = {1, 1, 1};
    static float video[C_IN * T * H * W], frame[C_IN * H * W];
    static float frames_out[T][C_OUT * H * W], y3d[C_OUT * T * H * W];
    float kernel3d[C_OUT * C_IN * 27];
    int64_t y_shape[5], k_shape[5], naive_shape[5];
    double expected[C_OUT * T * H * W], error, worst = 0.0;
    size_t c, t, i, count = 0;
    uint32_t seed = 3u;
    fconv_conv *cp, *tt;

    for (i = 0; i < sizeof video / sizeof *video; ++i) video[i] = ex_uniform(&seed);

    /* CP: run the 2-D layer frame by frame, transduct, run the 3-D layer on the whole video. */
    cp = make_layer("cp");
    print_repr("CP before", cp);
    for (t = 0; t < T; ++t) {
        for (c = 0; c < C_IN; ++c) memcpy(frame + c * H * W, video + (c * T + t) * H * W, sizeof(float) * H * W);
        CHECK(fconv_conv_forward(cp, frame, frame_shape, 4, NULL, 0, frames_out[t], C_OUT * H * W));
    }
    CHECK(fconv_conv_transduct(cp, 3, 0, 1, 1, 1));
    print_repr("CP after ", cp);
    CHECK(fconv_conv_output_shape(cp, video_shape, 5, NULL, 0, y_shape, 5));
    REQUIRE(y_shape[2] == T && y_shape[3] == H && y_shape[4] == W, "frame-preserving output");
    CHECK(fconv_conv_forward(cp, video, video_shape, 5, NULL, 0, y3d, sizeof y3d / sizeof *y3d));
    for (c = 0; c < C_OUT; ++c)
        for (t = 0; t < T; ++t)
            for (i = 0; i < H * W; ++i)
                expected[(c * T + t) * H * W + i] = frames_out[t][c * H * W + i];
    error = ex_rel_error_d(y3d, expected, sizeof y3d / sizeof *y3d);
    printf("CP: 3-D output vs the 2-D layer frame by frame: max rel. error %.2e\n", error);
    if (error > worst) worst = error;
    fconv_conv_free(cp);

    /* TT: the kernel is replicated along time; compare with a naive 3-D conv of its kernel. */
    tt = make_layer("tt");
    CHECK(fconv_conv_transduct(tt, 3, 0, 1, 1, 1));
    print_repr("TT after ", tt);
    CHECK(fconv_conv_kernel_shape(tt, NULL, 0, k_shape, 5, &count));
    CHECK(fconv_conv_reconstruct_kernel(tt, NULL, 0, kernel3d, sizeof kernel3d / sizeof *kernel3d));
    CHECK(fconv_conv_forward(tt, video, video_shape, 5, NULL, 0, y3d, sizeof y3d / sizeof *y3d));
    {
        float bias[C_OUT];
        CHECK(fconv_conv_get_parameter(tt, "bias", bias, C_OUT));
        ex_naive_conv(video, video_shape, 5, kernel3d, k_shape, bias, one, pad, dilation, naive_shape, expected);
    }
    /* replication: the time slices of the kernel are equal */
    for (i = 0; i < C_OUT * C_IN; ++i) {
        REQUIRE(memcmp(kernel3d + i * 27, kernel3d + i * 27 + 9, 9 * sizeof(float)) == 0 &&
                memcmp(kernel3d + i * 27, kernel3d + i * 27 + 18, 9 * sizeof(float)) == 0,
                "TT transduction replicates the kernel along the new dimension");
    }
    error = ex_rel_error_d(y3d, expected, sizeof y3d / sizeof *y3d);
    printf("TT: 3-D output vs naive conv of the replicated kernel: max rel. error %.2e\n", error);
    if (error > worst) worst = error;
    fconv_conv_free(tt);

    if (worst > 1e-5) {
        fprintf(stderr, "transduct_example: error %.3g above 1e-5\n", worst);
        return 1;
    }
    printf("transduct_example: OK\n");
    return 0;
}
