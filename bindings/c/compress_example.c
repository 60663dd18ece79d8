/*
 * compress_example.c — compress a dense convolution with CP, Tucker and TT (tltorch
 * FactorizedConv.from_conv) through the C ABI, run it, and check it against a naive conv.
 *
 * Builds a 16 -> 24 channel 3x3 kernel whose spectrum decays (a sum of rank-one terms with
 * weights 0.7^r, plus a little noise), decomposes it with fconv_conv_from_conv at rank 0.5 for
 * each factorization (options handle: factorization, rank, padding, implementation, a progress
 * callback), runs the compressed layer on an input, and prints the rank, the parameter count,
 * the kernel error and the output error against the original dense conv. As a correctness
 * check, the layer's output must equal a naive conv with its own reconstructed kernel.
 * Exits 1 on any failure.
 *
 * Build: cc -std=c99 -Iinclude bindings/c/compress_example.c -Lbuild-dir -lfactorconv -lm
 */
#include <string.h>

#include "example_util.h"

enum { C_IN = 16, C_OUT = 24, K = 3, TERMS = 12 };

typedef struct {
    int64_t iterations;
    int64_t max_iterations;
    double last_error;
} progress_state;

/* Called by the decomposition after every iteration; returning nonzero continues. */
static int32_t on_progress(int64_t iteration, int64_t max_iterations, double relative_error, void *user_data) {
    progress_state *state = (progress_state *)user_data;
    state->iterations = iteration;
    state->max_iterations = max_iterations;
    state->last_error = relative_error;
    return 1;
}

static void make_kernel(float *w) {
    uint32_t seed = 7u;
    size_t o, i, k, r, n = (size_t)C_OUT * C_IN * K * K;
    memset(w, 0, n * sizeof(float));
    for (r = 0; r < TERMS; ++r) {
        float a[C_OUT], b[C_IN], c[K * K];
        float weight = powf(0.7f, (float)r);
        for (o = 0; o < C_OUT; ++o) a[o] = ex_uniform(&seed);
        for (i = 0; i < C_IN; ++i) b[i] = ex_uniform(&seed);
        for (k = 0; k < K * K; ++k) c[k] = ex_uniform(&seed);
        for (o = 0; o < C_OUT; ++o)
            for (i = 0; i < C_IN; ++i)
                for (k = 0; k < K * K; ++k) w[(o * C_IN + i) * K * K + k] += weight * a[o] * b[i] * c[k];
    }
    for (k = 0; k < n; ++k) w[k] += 0.01f * ex_uniform(&seed);
}

static void print_ints(const fconv_conv *conv, fconv_info key, char *out, size_t capacity) {
    int64_t values[16];
    size_t count = 0, i, used = 0;
    CHECK(fconv_conv_get_ints(conv, key, values, 16, &count));
    out[0] = '\0';
    if (count == 1) { snprintf(out, capacity, "%lld", (long long)values[0]); return; }
    used += (size_t)snprintf(out, capacity, "(");
    for (i = 0; i < count && used < capacity; ++i)
        used += (size_t)snprintf(out + used, capacity - used, i ? ", %lld" : "%lld", (long long)values[i]);
    if (used < capacity) snprintf(out + used, capacity - used, ")");
}

int main(void) {
    static const char *const factorizations[] = {"cp", "tucker", "tt"};
    const int64_t w_shape[4] = {C_OUT, C_IN, K, K};
    const int64_t x_shape[4] = {2, C_IN, 12, 12};
    const int64_t stride[2] = {1, 1}, padding[2] = {1, 1}, dilation[2] = {1, 1};
    const size_t w_count = ex_count(w_shape, 4), x_count = ex_count(x_shape, 4);
    float *w = ex_floats(w_count), *x = ex_floats(x_count), *kernel = ex_floats(w_count);
    float bias[C_OUT];
    int64_t y_shape[4], naive_shape[4];
    double *y_dense, *y_own;
    size_t y_count, f, i;
    uint32_t seed = 11u;
    int failures = 0;

    make_kernel(w);
    for (i = 0; i < x_count; ++i) x[i] = ex_uniform(&seed);
    for (i = 0; i < C_OUT; ++i) bias[i] = 0.1f * ex_uniform(&seed);

    /* The original dense conv, by the definition. */
    y_count = (size_t)x_shape[0] * C_OUT * 12 * 12;
    y_dense = (double *)malloc(y_count * sizeof(double));
    y_own = (double *)malloc(y_count * sizeof(double));
    REQUIRE(y_dense && y_own, "out of memory");
    ex_naive_conv(x, x_shape, 4, w, w_shape, bias, stride, padding, dilation, naive_shape, y_dense);

    printf("libfactorconv %s: compress a %dx%dx%dx%d conv (%zu parameters) at rank 0.5\n",
           fconv_version_string(), C_OUT, C_IN, K, K, w_count + C_OUT);
    printf("%-7s %-22s %10s %12s %12s %10s %s\n", "fact.", "rank", "params", "kernel err",
           "output err", "self-check", "iterations");
    for (f = 0; f < 3; ++f) {
        fconv_options *options = NULL;
        fconv_conv *conv = NULL;
        progress_state progress = {0, 0, 0.0};
        char rank_text[128];
        int64_t n_params = 0;
        size_t count = 0;
        float *y;
        double kernel_error, output_error, self_error;

        CHECK(fconv_options_create(&options));
        CHECK(fconv_options_set_string(options, "factorization", factorizations[f]));
        CHECK(fconv_options_set_float(options, "rank", 0.5));
        CHECK(fconv_options_set_int(options, "padding", 1));
        CHECK(fconv_options_set_string(options, "implementation", "factorized"));
        CHECK(fconv_options_set_int(options, "seed", 1));
        CHECK(fconv_options_set_progress(options, on_progress, &progress));
        CHECK(fconv_conv_from_conv(w, w_shape, 4, bias, options, &conv));
        fconv_options_free(options); /* the layer copied what it needs */

        CHECK(fconv_conv_output_shape(conv, x_shape, 4, NULL, 0, y_shape, 4));
        REQUIRE(ex_count(y_shape, 4) == y_count, "unexpected output size");
        y = ex_floats(y_count);
        CHECK(fconv_conv_forward(conv, x, x_shape, 4, NULL, 0, y, y_count));
        CHECK(fconv_conv_reconstruct_kernel(conv, NULL, 0, kernel, w_count));
        CHECK(fconv_conv_get_ints(conv, FCONV_INFO_PARAMETER_COUNT, &n_params, 1, &count));
        print_ints(conv, FCONV_INFO_RANK, rank_text, sizeof rank_text);

        ex_naive_conv(x, x_shape, 4, kernel, w_shape, bias, stride, padding, dilation, naive_shape, y_own);
        kernel_error = ex_frobenius_error(kernel, w, w_count);
        output_error = ex_rel_error_d(y, y_dense, y_count);
        self_error = ex_rel_error_d(y, y_own, y_count);
        printf("%-7s %-22s %10lld %12.3e %12.3e %10.1e %lld\n", factorizations[f], rank_text,
               (long long)n_params, kernel_error, output_error, self_error,
               (long long)progress.iterations);
        if (self_error > 1e-5 || kernel_error > 0.9) {
            fprintf(stderr, "%s: self-check %.3g or kernel error %.3g too large\n",
                    factorizations[f], self_error, kernel_error);
            failures++;
        }
        free(y);
        fconv_conv_free(conv);
    }
    free(w);
    free(x);
    free(kernel);
    free(y_dense);
    free(y_own);
    if (failures) return 1;
    printf("compress_example: OK\n");
    return 0;
}
