/* A program built against an installed FactorConv (Tests/Install/test_c_install.sh builds it
 * with pkg-config and with CMake): the header's version agrees with the library it loads, and a
 * full-rank Tucker layer made from a 4->6 3x3 kernel runs a forward whose shape and values are
 * checked against a plain loop convolution. Prints "consumer: ok" and exits 0, else exits 1. */
#include <factorconv.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#define STR_(x) #x
#define STR(x) STR_(x)

static int fail(const char *what, fconv_status status) {
    fprintf(stderr, "consumer: %s: %s: %s\n", what, fconv_status_string(status), fconv_last_error_message());
    return 1;
}

int main(void) {
    const char *expected = STR(FCONV_VERSION_MAJOR) "." STR(FCONV_VERSION_MINOR) "." STR(FCONV_VERSION_PATCH);
    if (strcmp(FCONV_VERSION_STRING, expected) != 0 || strcmp(fconv_version_string(), FCONV_VERSION_STRING) != 0 ||
        fconv_abi_version() != FCONV_ABI_VERSION) {
        fprintf(stderr, "consumer: header %s (%s, ABI %d) but library %s (ABI %d)\n", FCONV_VERSION_STRING, expected,
                FCONV_ABI_VERSION, fconv_version_string(), (int)fconv_abi_version());
        return 1;
    }
    enum { OUT = 6, IN = 4, K = 3, H = 5, W = 7 };
    float kernel[OUT * IN * K * K], x[IN * H * W], y[OUT * H * W];
    for (int i = 0; i < OUT * IN * K * K; i++) kernel[i] = (float)((i * 37) % 17) / 17.0f - 0.5f;
    for (int i = 0; i < IN * H * W; i++) x[i] = (float)((i * 11) % 13) / 13.0f;
    int64_t kshape[4] = {OUT, IN, K, K}, xshape[4] = {1, IN, H, W}, yshape[4], full_rank[4] = {OUT, IN, K, K};
    fconv_options *options = NULL;
    fconv_conv *conv = NULL;
    fconv_status s;
    if ((s = fconv_options_create(&options)) != FCONV_OK) return fail("options", s);
    fconv_options_set_string(options, "factorization", "tucker");
    fconv_options_set_ints(options, "rank", full_rank, 4);
    fconv_options_set_int(options, "padding", 1);
    if ((s = fconv_conv_from_conv(kernel, kshape, 4, NULL, options, &conv)) != FCONV_OK) return fail("from_conv", s);
    if ((s = fconv_conv_output_shape(conv, xshape, 4, NULL, 0, yshape, 4)) != FCONV_OK) return fail("output_shape", s);
    if (yshape[0] != 1 || yshape[1] != OUT || yshape[2] != H || yshape[3] != W) {
        fprintf(stderr, "consumer: output shape %lld %lld %lld %lld\n", (long long)yshape[0], (long long)yshape[1],
                (long long)yshape[2], (long long)yshape[3]);
        return 1;
    }
    if ((s = fconv_conv_forward(conv, x, xshape, 4, NULL, 0, y, OUT * H * W)) != FCONV_OK) return fail("forward", s);
    /* Full-rank Tucker reproduces the kernel up to rounding: compare with the dense convolution. */
    double diff = 0, norm = 0;
    for (int o = 0; o < OUT; o++)
        for (int i = 0; i < H; i++)
            for (int j = 0; j < W; j++) {
                double sum = 0;
                for (int c = 0; c < IN; c++)
                    for (int a = 0; a < K; a++)
                        for (int b = 0; b < K; b++) {
                            int r = i + a - 1, q = j + b - 1;
                            if (r >= 0 && r < H && q >= 0 && q < W)
                                sum += kernel[((o * IN + c) * K + a) * K + b] * x[(c * H + r) * W + q];
                        }
                double d = y[(o * H + i) * W + j] - sum;
                diff += d * d;
                norm += sum * sum;
            }
    fconv_conv_free(conv);
    fconv_options_free(options);
    if (!(sqrt(diff / norm) < 1e-4)) {
        fprintf(stderr, "consumer: relative error %g against the dense convolution\n", sqrt(diff / norm));
        return 1;
    }
    printf("consumer: ok (FactorConv %s)\n", fconv_version_string());
    return 0;
}
