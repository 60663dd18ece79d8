/*
 * test_dense_conv_errors.c — bad input to the dense-conv functions of include/factorconv.h.
 *
 * Every row of the table breaks one argument of an otherwise valid call and must get the status
 * the header documents and a non-empty message naming that argument, without crashing. Rows
 * marked BOTH run against fconv_dense_conv_output_shape and fconv_dense_conv_forward.
 * Prints the table; exits 1 if any row gets an unexpected status or message.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "factorconv.h"

enum { NDIM = 4, NSPATIAL = 2, OUT_COUNT = 2 * 4 * 6 * 6 };

/* Every argument of both functions; a row's setup function edits a copy of the valid call. */
struct call {
    const float *input;
    const int64_t *input_shape;
    size_t input_ndim;
    const float *weight;
    const int64_t *weight_shape;
    size_t weight_ndim;
    const float *bias;
    const int64_t *stride, *padding, *dilation;
    size_t n_spatial;
    float *output;
    size_t output_capacity;
    int64_t *out_shape;
    size_t out_shape_capacity;
};

static float input_data[2 * 3 * 8 * 8], weight_data[4 * 3 * 3 * 3], bias_data[4];
static float output_data[OUT_COUNT];
static int64_t out_shape_data[NDIM];
static const int64_t input_shape[NDIM] = {2, 3, 8, 8};  /* output: (2, 4, 6, 6) */
static const int64_t weight_shape[NDIM] = {4, 3, 3, 3};
static const int64_t two_to_62 = (int64_t)1 << 62;

static struct call valid_call(void) {
    struct call c;
    c.input = input_data; c.input_shape = input_shape; c.input_ndim = NDIM;
    c.weight = weight_data; c.weight_shape = weight_shape; c.weight_ndim = NDIM;
    c.bias = bias_data; c.stride = NULL; c.padding = NULL; c.dilation = NULL;
    c.n_spatial = NSPATIAL; c.output = output_data; c.output_capacity = OUT_COUNT;
    c.out_shape = out_shape_data; c.out_shape_capacity = NDIM;
    return c;
}

static void null_input(struct call *c) { c->input = NULL; }
static void null_weight(struct call *c) { c->weight = NULL; }
static void null_output(struct call *c) { c->output = NULL; }
static void null_input_shape(struct call *c) { c->input_shape = NULL; }
static void null_weight_shape(struct call *c) { c->weight_shape = NULL; }
static void null_out_shape(struct call *c) { c->out_shape = NULL; }
static void weight_ndim_3(struct call *c) { c->weight_ndim = 3; }
static void ndim_2(struct call *c) { c->input_ndim = 2; c->weight_ndim = 2; c->n_spatial = 0; }
static void ndim_huge(struct call *c) { c->input_ndim = SIZE_MAX; c->weight_ndim = SIZE_MAX; }
static void zero_channels(struct call *c) {   /* a batch of 0 is valid (an empty output) */
    static const int64_t s[NDIM] = {2, 0, 8, 8};
    c->input_shape = s;
}
static void zero_spatial(struct call *c) {
    static const int64_t s[NDIM] = {2, 3, 0, 8};
    c->input_shape = s;
}
static void negative_spatial(struct call *c) {
    static const int64_t s[NDIM] = {2, 3, -8, 8};
    c->input_shape = s;
}
static void zero_out_channels(struct call *c) {
    static const int64_t s[NDIM] = {0, 3, 3, 3};
    c->weight_shape = s;
}
static void negative_kernel(struct call *c) {
    static const int64_t s[NDIM] = {4, 3, 3, -3};
    c->weight_shape = s;
}
static void input_2_62(struct call *c) {
    static int64_t s[NDIM] = {0, 3, 8, 8};
    s[0] = two_to_62;  /* 2^62 * 192 elements overflows int64 */
    c->input_shape = s;
}
static void input_int64_max(struct call *c) {
    static int64_t s[NDIM] = {2, 3, 8, 0};
    s[3] = INT64_MAX;
    c->input_shape = s;
}
static void weight_2_62(struct call *c) {
    static int64_t s[NDIM] = {0, 3, 3, 3};
    s[0] = two_to_62;
    c->weight_shape = s;
}
static void output_overflow(struct call *c) {
    /* Input and weight counts fit in int64, but the output (2^40 * 2^24 * 36) does not. */
    static int64_t in[NDIM] = {0, 3, 8, 8}, w[NDIM] = {0, 3, 3, 3};
    in[0] = (int64_t)1 << 40;
    w[0] = (int64_t)1 << 24;
    c->input_shape = in;
    c->weight_shape = w;
}
static void channel_mismatch(struct call *c) {
    static const int64_t s[NDIM] = {4, 2, 3, 3};
    c->weight_shape = s;
}
static void kernel_too_large(struct call *c) {
    static const int64_t s[NDIM] = {4, 3, 9, 3};
    c->weight_shape = s;
}
static void dilated_kernel_too_large(struct call *c) {
    static const int64_t d[NSPATIAL] = {1, 4};  /* span 9 > 8 */
    c->dilation = d;
}
static void stride_zero(struct call *c) {
    static const int64_t s[NSPATIAL] = {1, 0};
    c->stride = s;
}
static void stride_negative(struct call *c) {
    static const int64_t s[NSPATIAL] = {-1, 1};
    c->stride = s;
}
static void padding_negative(struct call *c) {
    static const int64_t p[NSPATIAL] = {0, -1};
    c->padding = p;
}
static void dilation_zero(struct call *c) {
    static const int64_t d[NSPATIAL] = {0, 1};
    c->dilation = d;
}
static void n_spatial_3(struct call *c) { c->n_spatial = 3; }
static void n_spatial_1(struct call *c) { c->n_spatial = 1; }
static void output_capacity_short(struct call *c) { c->output_capacity = OUT_COUNT - 1; }
static void output_capacity_zero(struct call *c) { c->output_capacity = 0; }
static void out_shape_capacity_short(struct call *c) { c->out_shape_capacity = NDIM - 1; }

enum target { SHAPE = 1, FORWARD = 2, BOTH = 3 };

struct row {
    const char *name;
    void (*setup)(struct call *);
    enum target target;
    fconv_status expected;
    const char *names; /* words the message must contain one of, '|'-separated */
};

static const struct row rows[] = {
    {"NULL input", null_input, FORWARD, FCONV_ERR_INVALID_ARGUMENT, "input"},
    {"NULL weight", null_weight, FORWARD, FCONV_ERR_INVALID_ARGUMENT, "weight"},
    {"NULL output", null_output, FORWARD, FCONV_ERR_INVALID_ARGUMENT, "output"},
    {"NULL input_shape", null_input_shape, BOTH, FCONV_ERR_INVALID_ARGUMENT, "input_shape"},
    {"NULL weight_shape", null_weight_shape, BOTH, FCONV_ERR_INVALID_ARGUMENT, "weight_shape"},
    {"NULL out_shape", null_out_shape, SHAPE, FCONV_ERR_INVALID_ARGUMENT, "out_shape"},
    {"weight_ndim != input_ndim", weight_ndim_3, BOTH, FCONV_ERR_SHAPE_MISMATCH, "weight_ndim"},
    {"ndim 2 (< 3)", ndim_2, BOTH, FCONV_ERR_SHAPE_MISMATCH, "input_ndim"},
    {"ndim SIZE_MAX", ndim_huge, BOTH, FCONV_ERR_SHAPE_MISMATCH, "ndim"},
    {"zero input channels", zero_channels, BOTH, FCONV_ERR_INVALID_ARGUMENT, "input"},
    {"zero spatial size", zero_spatial, BOTH, FCONV_ERR_INVALID_ARGUMENT, "input"},
    {"negative spatial size", negative_spatial, BOTH, FCONV_ERR_INVALID_ARGUMENT, "input"},
    {"zero out_channels", zero_out_channels, BOTH, FCONV_ERR_INVALID_ARGUMENT, "weight"},
    {"negative kernel size", negative_kernel, BOTH, FCONV_ERR_INVALID_ARGUMENT, "weight"},
    {"input batch 2^62 (overflow)", input_2_62, BOTH, FCONV_ERR_INVALID_ARGUMENT, "input"},
    {"input size INT64_MAX", input_int64_max, BOTH, FCONV_ERR_INVALID_ARGUMENT, "input"},
    {"weight out 2^62 (overflow)", weight_2_62, BOTH, FCONV_ERR_INVALID_ARGUMENT, "weight"},
    {"output count overflows", output_overflow, BOTH, FCONV_ERR_INVALID_ARGUMENT, "output"},
    {"channel mismatch", channel_mismatch, BOTH, FCONV_ERR_SHAPE_MISMATCH, "channels"},
    {"kernel > padded input", kernel_too_large, BOTH, FCONV_ERR_SHAPE_MISMATCH, "kernel"},
    {"dilated kernel > input", dilated_kernel_too_large, BOTH, FCONV_ERR_SHAPE_MISMATCH, "kernel"},
    {"stride 0", stride_zero, BOTH, FCONV_ERR_INVALID_ARGUMENT, "stride"},
    {"stride -1", stride_negative, BOTH, FCONV_ERR_INVALID_ARGUMENT, "stride"},
    {"padding -1", padding_negative, BOTH, FCONV_ERR_INVALID_ARGUMENT, "padding"},
    {"dilation 0", dilation_zero, BOTH, FCONV_ERR_INVALID_ARGUMENT, "dilation"},
    {"n_spatial 3 (ndim 4)", n_spatial_3, BOTH, FCONV_ERR_SHAPE_MISMATCH, "n_spatial"},
    {"n_spatial 1 (ndim 4)", n_spatial_1, BOTH, FCONV_ERR_SHAPE_MISMATCH, "n_spatial"},
    {"output_capacity short by 1", output_capacity_short, FORWARD, FCONV_ERR_BUFFER_TOO_SMALL,
     "output_capacity"},
    {"output_capacity 0", output_capacity_zero, FORWARD, FCONV_ERR_BUFFER_TOO_SMALL,
     "output_capacity"},
    {"out_shape_capacity 3", out_shape_capacity_short, SHAPE, FCONV_ERR_BUFFER_TOO_SMALL,
     "out_shape_capacity"},
};

static fconv_status run(const struct call *c, enum target which) {
    if (which == SHAPE)
        return fconv_dense_conv_output_shape(c->input_shape, c->input_ndim, c->weight_shape,
                                             c->weight_ndim, c->stride, c->padding, c->dilation,
                                             c->n_spatial, c->out_shape, c->out_shape_capacity);
    return fconv_dense_conv_forward(c->input, c->input_shape, c->input_ndim, c->weight,
                                    c->weight_shape, c->weight_ndim, c->bias, c->stride,
                                    c->padding, c->dilation, c->n_spatial, c->output,
                                    c->output_capacity);
}

/* True if `message`, past a leading "fconv_...: " (which would match "output" by itself),
 * contains one of the '|'-separated words of `names`. */
static int names_argument(const char *message, const char *names) {
    const char *text = message, *word = names;
    if (strncmp(message, "fconv_", 6) == 0 && strstr(message, ": ")) text = strstr(message, ": ") + 2;
    while (*word) {
        char buffer[64];
        size_t n = strcspn(word, "|");
        if (n < sizeof buffer) {
            memcpy(buffer, word, n);
            buffer[n] = '\0';
            if (strstr(text, buffer)) return 1;
        }
        word += n + (word[n] == '|');
    }
    return 0;
}

int main(void) {
    size_t r;
    int t, failures = 0, checks = 0;
    struct call base = valid_call();

    /* The unmodified call must succeed, or every row below would pass for the wrong reason. */
    for (t = SHAPE; t <= FORWARD; ++t) {
        fconv_status s = run(&base, (enum target)t);
        if (s != FCONV_OK) {
            printf("valid call failed: %s: %s\n", fconv_status_string(s), fconv_last_error_message());
            return 1;
        }
    }
    if (out_shape_data[0] != 2 || out_shape_data[1] != 4 || out_shape_data[2] != 6 ||
        out_shape_data[3] != 6) {
        printf("valid call: unexpected output shape\n");
        return 1;
    }

    printf("%-7s %-28s %-28s %-28s %s\n", "fn", "case", "expected", "got", "message");
    for (r = 0; r < sizeof rows / sizeof rows[0]; ++r) {
        for (t = SHAPE; t <= FORWARD; ++t) {
            struct call c = valid_call();
            fconv_status got;
            const char *message;
            int ok;
            if (!(rows[r].target & t)) continue;
            rows[r].setup(&c);
            got = run(&c, (enum target)t);
            message = fconv_last_error_message();
            ok = got == rows[r].expected && message && message[0] &&
                 names_argument(message, rows[r].names);
            ++checks;
            failures += !ok;
            printf("%-7s %-28s %-28s %-28s %s%s\n", t == SHAPE ? "shape" : "forward", rows[r].name,
                   fconv_status_string(rows[r].expected), fconv_status_string(got),
                   ok ? "" : "UNEXPECTED -> ", message ? message : "(NULL)");
        }
    }
    printf("%d of %d checks as documented\n", checks - failures, checks);
    return failures ? 1 : 0;
}
