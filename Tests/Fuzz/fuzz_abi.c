/*
 * fuzz_abi.c — a coverage-guided fuzz harness of the whole C ABI (include/factorconv.h).
 *
 * The fuzzer's bytes are decoded into a sequence of up to MAX_OPS operations on a small table
 * of handles: create layers from fuzzer-chosen configurations (channels, orders, kernel sizes,
 * ranks, factorizations, implementations, n_layers grids, geometry — valid and invalid),
 * compress small dense kernels (from_conv / from_conv_list with a tiny n_iter_max), take
 * sub-convolutions, free handles in any order (parents before children, double frees, stale
 * pointers, handles of the wrong type), and call every other entry point with fuzzer-chosen
 * arguments: NULLs, wrong ndims, out-of-range indices, too-small capacities, NaN/Inf data,
 * random parameter names and shapes, save/load round trips and garbage files.
 *
 * Every buffer the harness hands to the library is allocated with exactly the capacity it
 * passes, so a write past it is a heap-buffer-overflow that AddressSanitizer reports.
 *
 * Invariants checked after every call (a violation aborts, so the fuzzer keeps the input):
 *   - the status is one of the values the header documents for that function
 *     (INVALID_ARGUMENT is allowed everywhere, OUT_OF_MEMORY wherever the call may allocate);
 *     FCONV_ERR_INTERNAL is always a bug;
 *   - after a failure fconv_last_error_message() is non-empty and constructors left *out NULL;
 *   - a failing mutating call (set, set_parameters, transduct, set_implementation,
 *     reset_parameters) left the layer unchanged (fingerprint of repr, integer info and every
 *     parameter, bit for bit);
 *   - output_shape and forward agree: when output_shape accepts an input shape, forward into a
 *     buffer of exactly that many elements succeeds (unless the input holds NaN/Inf), and two
 *     forwards of the same input give identical bits;
 *   - a saved and re-loaded layer has the same parameters, info and repr as the original, and
 *     so has each layer of a model bundle of the table's layers (fconv_bundle_*).
 *
 * Builds:
 *   libFuzzer:  clang -fsanitize=fuzzer,address fuzz_abi.c -lfactorconv   (make fuzz)
 *   replay:     cc -DFUZZ_REPLAY_MAIN fuzz_abi.c -lfactorconv; ./a.out FILE_OR_DIR...
 *               runs each input once (used under valgrind by `make test-fuzz-replay`).
 */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "factorconv.h"

enum { MAX_OPS = 48, N_SLOTS = 8, MAX_ORDER = 6, MAX_LAYER_NDIM = 16, MAX_ELEMS = 1 << 18 };

/* ---------------------------------------------------------------------------------------- */
/* Byte reader: the fuzzer's input, zeros once exhausted                                    */
/* ---------------------------------------------------------------------------------------- */

typedef struct {
    const uint8_t *data;
    size_t size, pos;
} reader;

static uint8_t u8(reader *r) { return r->pos < r->size ? r->data[r->pos++] : 0; }
static int remaining(const reader *r) { return r->pos < r->size; }
static uint32_t u32(reader *r) {
    uint32_t v = u8(r);
    v |= (uint32_t)u8(r) << 8;
    v |= (uint32_t)u8(r) << 16;
    v |= (uint32_t)u8(r) << 24;
    return v;
}
/* An integer in lo..hi (inclusive). */
static int64_t range(reader *r, int64_t lo, int64_t hi) { return lo + (int64_t)(u8(r) % (uint64_t)(hi - lo + 1)); }
/* True with probability about n/256. */
static int chance(reader *r, int n) { return u8(r) < n; }

/* An "interesting" int64: mostly small, sometimes an edge value. */
static int64_t fuzz_int(reader *r, int64_t lo, int64_t hi) {
    static const int64_t edges[] = {0, -1, 1, 2, 3, 7, 64, 1000, 1 << 20, INT32_MAX, INT64_MAX, INT64_MIN,
                                    ((int64_t)1) << 40, ((int64_t)1) << 62, -(((int64_t)1) << 40)};
    if (chance(r, 20)) return edges[u8(r) % (sizeof edges / sizeof edges[0])];
    return range(r, lo, hi);
}

static float fuzz_float(reader *r) {
    uint8_t k = u8(r);
    if (k < 4) return NAN;
    if (k < 6) return INFINITY;
    if (k < 8) return -INFINITY;
    if (k < 10) return 3.0e38f;
    if (k < 12) return 1e-40f; /* denormal */
    return ((float)(int8_t)u8(r)) / 32.0f;
}

/* ---------------------------------------------------------------------------------------- */
/* Invariant checks                                                                         */
/* ---------------------------------------------------------------------------------------- */

#define S(x) (1u << (x))
#define ALLOC S(FCONV_ERR_OUT_OF_MEMORY)

static void violation(const char *what, const char *fn, fconv_status s) {
    fprintf(stderr, "\nINVARIANT VIOLATION in %s: %s (status %d %s, message \"%s\")\n", fn, what, (int)s,
            fconv_status_string(s), fconv_last_error_message());
    fflush(stderr);
    abort();
}

/* Checks a status against the documented set (INVALID_ARGUMENT is always allowed). */
static fconv_status check(const char *fn, fconv_status s, uint32_t allowed) {
    /* OUT_OF_MEMORY is allowed everywhere: the header's global memory-bound rule lets any call
       that allocates refuse (the fuzzer lowers the bound to 1 byte at times). */
    allowed |= S(FCONV_OK) | S(FCONV_ERR_INVALID_ARGUMENT) | ALLOC;
    if (s < 0 || s > 31 || !(allowed & (1u << s))) violation("undocumented status", fn, s);
    if (s != FCONV_OK) {
        const char *m = fconv_last_error_message();
        if (m == NULL || m[0] == '\0') violation("empty fconv_last_error_message after a failure", fn, s);
    }
    return s;
}

/* Constructors: *out must be NULL on failure and non-NULL on success. */
static fconv_status check_ctor(const char *fn, fconv_status s, uint32_t allowed, const void *out) {
    check(fn, s, allowed);
    if (s != FCONV_OK && out != NULL) violation("*out not NULL after a failure", fn, s);
    if (s == FCONV_OK && out == NULL) violation("*out NULL after success", fn, s);
    return s;
}

/* A pointer that is never NULL when the constructor's out must be cleared. */
#define SENTINEL ((void *)(uintptr_t)0x5EED)

/* ---------------------------------------------------------------------------------------- */
/* Handle table                                                                             */
/* ---------------------------------------------------------------------------------------- */

typedef struct {
    fconv_conv *conv; /* current pointer (live or stale) */
    int live;
    int sub;
} slot;

static slot slots[N_SLOTS];
static char temp_dir[256];
static int progress_calls;

static int is_live_pointer(const void *p) {
    int i;
    for (i = 0; i < N_SLOTS; ++i)
        if (slots[i].live && (const void *)slots[i].conv == p) return 1;
    return 0;
}

/* A free slot index (frees the oldest-looking live one if the table is full). */
static int take_slot(reader *r) {
    int i, k = (int)range(r, 0, N_SLOTS - 1);
    for (i = 0; i < N_SLOTS; ++i) {
        int j = (k + i) % N_SLOTS;
        if (!slots[j].live) return j;
    }
    fconv_conv_free(slots[k].conv);
    slots[k].live = 0;
    return k;
}

static void put(int i, fconv_conv *c, int sub) {
    slots[i].conv = c;
    slots[i].live = 1;
    slots[i].sub = sub;
}

/* A conv argument: usually a live handle; sometimes NULL, a stale handle, a foreign pointer. */
static fconv_conv *pick_conv(reader *r, int *is_live) {
    static uint64_t foreign[8];
    uint8_t k = u8(r);
    int i = (int)(u8(r) % N_SLOTS), j;
    *is_live = 0;
    if (k < 6) return NULL;
    if (k < 9) return (fconv_conv *)(void *)foreign;
    for (j = 0; j < N_SLOTS; ++j) {
        int s = (i + j) % N_SLOTS;
        if (slots[s].live) {
            *is_live = 1;
            return slots[s].conv;
        }
        if (k < 16 && slots[s].conv != NULL && !is_live_pointer(slots[s].conv)) return slots[s].conv; /* stale */
    }
    return NULL;
}

/* ---------------------------------------------------------------------------------------- */
/* Layer facts and fingerprints                                                             */
/* ---------------------------------------------------------------------------------------- */

typedef struct {
    int64_t in_c, out_c, order, n_layers[MAX_ORDER], grid_ndim, is_sub;
} facts;

static int get_facts(const fconv_conv *c, facts *f) {
    int64_t v[16];
    size_t n = 0;
    memset(f, 0, sizeof *f);
    if (fconv_conv_get_ints(c, FCONV_INFO_IN_CHANNELS, v, 16, &n) != FCONV_OK) return -1;
    f->in_c = v[0];
    if (fconv_conv_get_ints(c, FCONV_INFO_OUT_CHANNELS, v, 16, &n) != FCONV_OK) return -1;
    f->out_c = v[0];
    if (fconv_conv_get_ints(c, FCONV_INFO_ORDER, v, 16, &n) != FCONV_OK) return -1;
    f->order = v[0];
    if (fconv_conv_get_ints(c, FCONV_INFO_N_LAYERS, v, 16, &n) != FCONV_OK) return -1;
    f->grid_ndim = (int64_t)n;
    memcpy(f->n_layers, v, sizeof(int64_t) * (n < MAX_ORDER ? n : MAX_ORDER));
    if (fconv_conv_get_ints(c, FCONV_INFO_LAYER, v, 16, &n) != FCONV_OK) return -1;
    f->is_sub = n > 0;
    return 0;
}

static uint64_t fnv(uint64_t h, const void *p, size_t n) {
    const uint8_t *b = (const uint8_t *)p;
    size_t i;
    for (i = 0; i < n; ++i) h = (h ^ b[i]) * 1099511628211ull;
    return h;
}

/* A hash of everything observable about a layer: info, repr and every parameter's bits. */
static uint64_t fingerprint(const fconv_conv *c, int with_repr) {
    uint64_t h = 1469598103934665603ull;
    size_t i, n, count = 0;
    int32_t key;
    char name[256];
    for (key = 0; key <= 15; ++key) {
        int64_t *v;
        n = 0;
        fconv_conv_get_ints(c, key, NULL, 0, &n);
        v = (int64_t *)malloc((n ? n : 1) * sizeof(int64_t));
        if (fconv_conv_get_ints(c, key, v, n, &n) != FCONV_OK) violation("get_ints failed on a live handle", "fingerprint", key);
        h = fnv(h, &key, sizeof key);
        h = fnv(h, v, n * sizeof(int64_t));
        free(v);
    }
    if (with_repr) {
        size_t len = 0;
        char *text;
        fconv_conv_repr(c, NULL, 0, &len);
        text = (char *)malloc(len + 1);
        if (fconv_conv_repr(c, text, len + 1, &len) != FCONV_OK) violation("repr with the reported length failed", "fingerprint", 0);
        if (strlen(text) != len) violation("repr length disagrees with the text", "fingerprint", 0);
        h = fnv(h, text, len);
        free(text);
    }
    if (fconv_conv_parameter_count(c, &count) != FCONV_OK) violation("parameter_count failed", "fingerprint", 0);
    for (i = 0; i < count; ++i) {
        int64_t shape[64];
        size_t ndim = 0, len = 0, elems = 1, d;
        float *values;
        if (fconv_conv_parameter_name(c, i, name, sizeof name, &len) != FCONV_OK) violation("parameter_name failed", "fingerprint", 0);
        if (fconv_conv_parameter_shape(c, name, shape, 64, &ndim) != FCONV_OK) violation("parameter_shape failed", "fingerprint", 0);
        for (d = 0; d < ndim; ++d) elems *= (size_t)shape[d];
        values = (float *)malloc(elems * sizeof(float) + 1);
        if (fconv_conv_get_parameter(c, name, values, elems) != FCONV_OK) violation("get_parameter failed", "fingerprint", 0);
        h = fnv(h, name, len);
        h = fnv(h, shape, ndim * sizeof(int64_t));
        h = fnv(h, values, elems * sizeof(float));
        free(values);
    }
    return h;
}

/* ---------------------------------------------------------------------------------------- */
/* Options                                                                                  */
/* ---------------------------------------------------------------------------------------- */

static const char *const keys[] = {
    "factorization", "implementation", "rank", "fixed_rank_modes", "stride", "padding", "dilation", "bias",
    "has_bias", "n_layers", "seed", "decompose", "n_iter_max", "tol", "l2_reg", "init", "cp_regularization",
    "", "Rank", "unknown_key"};
static const char *const strings[] = {
    "cp", "tucker", "tt", "dense", "CP", "TuCkEr", "factorized", "reconstructed", "mobilenet", "auto",
    "same", "spatial", "svd", "random", "proximal", "ridge", "", "tensor-train", "\xff\xfe", "same "};

static int32_t progress_common(int64_t iteration, void *user_data) {
    int64_t stop_at = *(const int64_t *)user_data;
    progress_calls++;
    /* Re-entrant calls that must be harmless from inside a callback. */
    (void)fconv_get_num_threads();
    (void)fconv_status_string((fconv_status)iteration);
    return iteration < stop_at;
}

/* The callback's signature gained max_iterations (iteration, max_iterations, error, user_data);
   the harness builds against either header and passes the matching function. */
static int32_t progress_3(int64_t iteration, double relative_error, void *user_data) {
    (void)relative_error;
    return progress_common(iteration, user_data);
}
static int32_t progress_4(int64_t iteration, int64_t max_iterations, double relative_error, void *user_data) {
    (void)relative_error;
    if (max_iterations < 0) violation("negative max_iterations", "progress callback", (fconv_status)max_iterations);
    return progress_common(iteration, user_data);
}
#define PROGRESS_HAS_MAX __builtin_types_compatible_p(fconv_progress_fn, int32_t (*)(int64_t, int64_t, double, void *))
#define progress_fn (PROGRESS_HAS_MAX ? (fconv_progress_fn)(void (*)(void))progress_4 : (fconv_progress_fn)(void (*)(void))progress_3)

static int64_t progress_stop;

/* Sets a few fuzzer-chosen options (each setter's status is checked). */
static void fuzz_options(reader *r, fconv_options *o, int n) {
    int i;
    for (i = 0; i < n; ++i) {
        const char *key = keys[u8(r) % (sizeof keys / sizeof keys[0])];
        uint8_t kind = u8(r) % 6;
        if (kind == 0) {
            check("fconv_options_set_int", fconv_options_set_int(o, key, fuzz_int(r, -1, 6)), 0);
        } else if (kind == 1) {
            int64_t v[8];
            size_t count = (size_t)range(r, 0, 8), j;
            for (j = 0; j < 8; ++j) v[j] = fuzz_int(r, -1, 5);
            check("fconv_options_set_ints", fconv_options_set_ints(o, key, chance(r, 8) ? NULL : v, count), 0);
        } else if (kind == 2) {
            static const double fl[] = {0.5, 0.1, 1.0, 1.5, 0.0, -1.0, 1e-9, 1e9, 3.0, 1e300, NAN, INFINITY, 0.01, 2.0, 0.25, 1e-4};
            check("fconv_options_set_float", fconv_options_set_float(o, key, fl[u8(r) % 16]), 0);
        } else if (kind == 3) {
            check("fconv_options_set_string",
                  fconv_options_set_string(o, key, chance(r, 8) ? NULL : strings[u8(r) % (sizeof strings / sizeof strings[0])]), 0);
        } else if (kind == 4) {
            check("fconv_options_set_string", fconv_options_set_string(o, chance(r, 20) ? NULL : "factorization",
                                                                        strings[u8(r) % 4]), 0);
        } else {
            progress_stop = range(r, 0, 4);
            check("fconv_options_set_progress",
                  fconv_options_set_progress(o, chance(r, 64) ? NULL : progress_fn, &progress_stop), 0);
        }
    }
}

/* An options handle, NULL, or (rarely) something that is not an options handle. */
static const fconv_options *options_arg(reader *r, fconv_options *o) {
    uint8_t k = u8(r);
    int live;
    if (k < 20) return NULL;
    if (k < 24) return (const fconv_options *)(const void *)pick_conv(r, &live); /* wrong handle type */
    return o;
}

/* ---------------------------------------------------------------------------------------- */
/* Operations                                                                               */
/* ---------------------------------------------------------------------------------------- */

static void op_create(reader *r) {
    fconv_options *o = NULL;
    fconv_conv *c = (fconv_conv *)SENTINEL;
    int64_t kernel[MAX_ORDER];
    size_t order = (size_t)(chance(r, 10) ? range(r, 0, MAX_ORDER) : range(r, 1, 4)), i;
    int64_t in_c = chance(r, 10) ? fuzz_int(r, -1, 8) : range(r, 1, 8);
    int64_t out_c = chance(r, 10) ? fuzz_int(r, -1, 8) : range(r, 1, 8);
    fconv_status s;
    for (i = 0; i < MAX_ORDER; ++i) kernel[i] = chance(r, 8) ? fuzz_int(r, -1, 5) : range(r, 1, 4);
    { fconv_status so_ = fconv_options_create(&o); check_ctor("fconv_options_create", so_, 0, o); }
    {
        static const char *const fz[] = {"cp", "tucker", "tt", "dense"};
        check("fconv_options_set_string", fconv_options_set_string(o, "factorization", fz[u8(r) % 4]), 0);
    }
    fuzz_options(r, o, (int)range(r, 0, 5));
    s = fconv_conv_create(in_c, out_c, chance(r, 6) ? NULL : kernel, order, options_arg(r, o), &c);
    /* SHAPE_MISMATCH: an order (kernel_size ndim) outside 1...32 — the shim's rule for every
       ndim argument (Tests/C/test_layer_errors.c expects it); the header's create comment
       does not list it. */
    check_ctor("fconv_conv_create", s, S(FCONV_ERR_UNSUPPORTED) | S(FCONV_ERR_SHAPE_MISMATCH) | ALLOC, c);
    fconv_options_free(o);
    if (s == FCONV_OK) put(take_slot(r), c, 0);
}

/* UNSUPPORTED (e.g. mobilenet with TT) is not in the header's from_conv list but is the same
   rule as create's "an implementation the factorization lacks". */
#define FROM_CONV_CODES \
    (S(FCONV_ERR_SHAPE_MISMATCH) | S(FCONV_ERR_NUMERICAL) | S(FCONV_ERR_CANCELLED) | S(FCONV_ERR_UNSUPPORTED) | ALLOC)

static void op_from_conv(reader *r, int list) {
    fconv_options *o = NULL;
    fconv_conv *c = (fconv_conv *)SENTINEL;
    int64_t shape[2 + MAX_ORDER], strides[64], pads[64], dils[64];
    size_t order = (size_t)range(r, 1, 3), ndim = order + 2, count = 1, i, n_convs = (size_t)range(r, 1, 3);
    float *w[3] = {NULL, NULL, NULL}, *b[3] = {NULL, NULL, NULL};
    fconv_status s;
    int lie = 0;
    for (i = 0; i < 2 + MAX_ORDER; ++i) shape[i] = 1; /* a too-large weight_ndim sees 1s: same count */
    shape[0] = range(r, 1, 5);
    shape[1] = range(r, 1, 5);
    for (i = 0; i < order; ++i) shape[2 + i] = range(r, 1, 3);
    for (i = 0; i < ndim; ++i) count *= (size_t)shape[i];
    if (chance(r, 10)) { /* invalid, overflowing or too-large shapes */
        int valid = 1;
        double claimed = 1;
        shape[u8(r) % ndim] = fuzz_int(r, -1, 3);
        for (i = 0; i < ndim; ++i) {
            if (shape[i] < 1 || shape[i] > ((int64_t)1 << 40)) valid = 0;
            claimed *= (double)shape[i];
        }
        /* A shape the library must refuse before reading the data (invalid sizes, or more bytes
           than the memory bound) is passed with our small buffer; any other shape gets a buffer
           of its claimed size, or the call is skipped if that is too big for the harness. */
        if (valid && claimed * 4.0 <= (double)fconv_get_memory_limit()) {
            if (claimed > (double)(1 << 22)) return;
            count = (size_t)claimed;
        } else {
            lie = 1;
        }
    }
    for (i = 0; i < n_convs; ++i) {
        size_t j;
        int nan = chance(r, 10);
        w[i] = (float *)malloc(count * sizeof(float));
        size_t nb = shape[0] >= 1 && shape[0] <= (1 << 22) ? (size_t)shape[0] : 1;
        b[i] = (float *)malloc(nb * sizeof(float));
        for (j = 0; j < count; ++j) w[i][j] = (float)(int8_t)u8(r) / 64.0f + (float)((j * 7919u) % 13) / 13.0f;
        if (nan) w[i][u8(r) % count] = fuzz_float(r);
        for (j = 0; j < nb; ++j) b[i][j] = j < 8 ? fuzz_float(r) : 0.0f;
    }
    for (i = 0; i < 64; ++i) {
        strides[i] = range(r, 1, 2);
        pads[i] = range(r, 0, 2);
        dils[i] = range(r, 1, 2);
    }
    if (chance(r, 10)) strides[u8(r) % 12] = fuzz_int(r, -1, 3);
    { fconv_status so_ = fconv_options_create(&o); check_ctor("fconv_options_create", so_, 0, o); }
    {
        static const char *const fz[] = {"cp", "tucker", "tt", "dense"};
        check("fconv_options_set_string", fconv_options_set_string(o, "factorization", fz[u8(r) % 4]), 0);
    }
    fuzz_options(r, o, (int)range(r, 0, 4));
    /* Keep decompositions fast: a handful of sweeps, set last so it wins. */
    check("fconv_options_set_int", fconv_options_set_int(o, "n_iter_max", range(r, 0, 4)), 0);
    progress_calls = 0;
    if (!list) {
        s = fconv_conv_from_conv(chance(r, 6) ? NULL : w[0], chance(r, 4) ? NULL : shape,
                                 chance(r, 8) ? (size_t)range(r, 0, 7) : ndim, chance(r, 128) ? b[0] : NULL,
                                 options_arg(r, o), &c);
        check_ctor("fconv_conv_from_conv", s,
                   FROM_CONV_CODES, c);
    } else {
        const float *const *wp = (const float *const *)w;
        const float *bp[3] = {chance(r, 128) ? b[0] : NULL, chance(r, 128) ? b[1] : NULL, chance(r, 128) ? b[2] : NULL};
        size_t nc = chance(r, 8) ? (size_t)fuzz_int(r, 0, 3) : n_convs;
        if (nc > n_convs) nc = n_convs; /* never let the library read past our arrays */
        if (nc == 0 && chance(r, 128)) nc = 0;
        s = fconv_conv_from_conv_list(nc, chance(r, 6) ? NULL : wp, shape, ndim, chance(r, 100) ? bp : NULL,
                                      chance(r, 128) ? strides : NULL, chance(r, 128) ? pads : NULL,
                                      chance(r, 128) ? dils : NULL, options_arg(r, o), &c);
        check_ctor("fconv_conv_from_conv_list", s,
                   FROM_CONV_CODES, c);
    }
    if (lie && s == FCONV_OK) violation("a kernel shape beyond the memory bound was accepted", list ? "fconv_conv_from_conv_list" : "fconv_conv_from_conv", s);
    fconv_options_free(o);
    for (i = 0; i < 3; ++i) {
        free(w[i]);
        free(b[i]);
    }
    if (s == FCONV_OK) put(take_slot(r), c, 0);
}

/* A layer index argument: usually valid for the grid, sometimes not. */
static size_t layer_arg(reader *r, const facts *f, int64_t *layer) {
    size_t n, i;
    if (f->is_sub) {
        layer[0] = 0;
        return chance(r, 12) ? 1 : 0;
    }
    n = (size_t)f->grid_ndim;
    if (chance(r, 24)) n = (size_t)range(r, 0, 3);
    if (chance(r, 4)) n = (size_t)fuzz_int(r, 0, 9);
    if (n > MAX_LAYER_NDIM) n = (size_t)INT64_MAX; /* only as a count the library must refuse */
    for (i = 0; i < MAX_LAYER_NDIM; ++i) {
        int64_t hi = (i < (size_t)f->grid_ndim && f->n_layers[i] > 0) ? f->n_layers[i] - 1 : 0;
        layer[i] = chance(r, 12) ? fuzz_int(r, -1, hi + 1) : range(r, 0, hi);
    }
    return n;
}

static void op_get_conv(reader *r) {
    int live, null_out = chance(r, 3);
    fconv_conv *p = pick_conv(r, &live), *c = (fconv_conv *)SENTINEL;
    facts f;
    int64_t layer[MAX_LAYER_NDIM] = {0};
    size_t n = 1;
    fconv_status s;
    if (live && get_facts(p, &f) == 0) n = layer_arg(r, &f, layer);
    s = fconv_conv_get_conv(p, chance(r, 6) ? NULL : layer, n, null_out ? NULL : &c);
    if (null_out) {
        check("fconv_conv_get_conv", s, S(FCONV_ERR_INDEX_OUT_OF_RANGE));
        if (s == FCONV_OK) violation("get_conv accepted a NULL out", "fconv_conv_get_conv", s);
        return;
    }
    check_ctor("fconv_conv_get_conv", s, S(FCONV_ERR_INDEX_OUT_OF_RANGE), c);
    if (!live && s == FCONV_OK) violation("get_conv accepted a dead handle", "fconv_conv_get_conv", s);
    if (s == FCONV_OK) put(take_slot(r), c, 1);
}

static void op_free(reader *r) {
    int i = (int)(u8(r) % N_SLOTS);
    if (slots[i].live) {
        fconv_conv_free(slots[i].conv);
        slots[i].live = 0; /* the stale pointer stays for double-free / use-after-free calls */
    } else if (slots[i].conv != NULL && !is_live_pointer(slots[i].conv)) {
        fconv_conv_free(slots[i].conv); /* double free: must be a safe no-op */
    } else {
        fconv_conv_free(NULL);
    }
}

/* Fills an input shape for a layer: usually right, sometimes wrong in one way. */
static size_t input_shape_arg(reader *r, const facts *f, int64_t *shape) {
    size_t ndim = (size_t)f->order + 2, i;
    if (ndim > 2 + MAX_ORDER) ndim = 2 + MAX_ORDER;
    shape[0] = range(r, 1, 2);
    shape[1] = chance(r, 12) ? range(r, 1, 8) : f->in_c;
    for (i = 2; i < 2 + MAX_ORDER; ++i) shape[i] = range(r, 1, 7);
    if (chance(r, 10)) ndim = (size_t)range(r, 0, 2 + MAX_ORDER);
    if (chance(r, 8)) shape[u8(r) % (2 + MAX_ORDER)] = fuzz_int(r, -1, 9);
    return ndim;
}

static size_t elems(const int64_t *shape, size_t ndim) {
    size_t n = 1, i;
    for (i = 0; i < ndim; ++i) {
        if (shape[i] <= 0 || shape[i] > MAX_ELEMS) return (size_t)-1;
        n *= (size_t)shape[i];
        if (n > MAX_ELEMS) return (size_t)-1;
    }
    return n;
}

static void op_forward(reader *r) {
    int live;
    fconv_conv *c = pick_conv(r, &live);
    facts f;
    int64_t shape[2 + MAX_ORDER], out_shape[2 + MAX_ORDER + 4], layer[MAX_LAYER_NDIM] = {0};
    size_t ndim, n_layer = 0, in_n, out_n, cap, i;
    int has_nan = 0, overflowed = 0;
    float *x, *y, *y2;
    fconv_status s_shape, s;
    const uint32_t shape_codes = S(FCONV_ERR_SHAPE_MISMATCH) | S(FCONV_ERR_INDEX_OUT_OF_RANGE) | S(FCONV_ERR_BUFFER_TOO_SMALL);
    if (!live || get_facts(c, &f) != 0) {
        int64_t sh[4] = {1, 1, 4, 4};
        float xx[16] = {0}, yy[64];
        check("fconv_conv_forward", fconv_conv_forward(c, xx, sh, 4, NULL, 0, yy, 64), shape_codes);
        return;
    }
    ndim = input_shape_arg(r, &f, shape);
    n_layer = layer_arg(r, &f, layer);
    s_shape = check("fconv_conv_output_shape",
                    fconv_conv_output_shape(c, shape, ndim, layer, n_layer, out_shape, ndim < 2 + MAX_ORDER ? ndim : 2 + MAX_ORDER),
                    shape_codes | ALLOC);
    in_n = ndim >= 1 && ndim <= 2 + MAX_ORDER ? elems(shape, ndim) : (size_t)-1;
    if (in_n == (size_t)-1) return; /* the harness cannot allocate that input */
    out_n = s_shape == FCONV_OK ? elems(out_shape, ndim) : 64;
    if (out_n == (size_t)-1) return;
    cap = out_n;
    if (chance(r, 16) && cap > 0) cap = (size_t)range(r, 0, (int64_t)(cap - 1 < 255 ? cap - 1 : 255));
    x = (float *)malloc(in_n * sizeof(float));
    y = (float *)malloc((cap ? cap : 1) * sizeof(float));
    for (i = 0; i < in_n; ++i) x[i] = (float)((int)((i * 2654435761u) >> 7) % 17 - 8) / 8.0f;
    if (chance(r, 16)) {
        float v = fuzz_float(r);
        x[u8(r) % in_n] = v;
        has_nan = !isfinite(v);
    }
    s = check("fconv_conv_forward", fconv_conv_forward(c, x, shape, ndim, layer, n_layer, y, cap),
              shape_codes | S(FCONV_ERR_NUMERICAL) | ALLOC);
    if (s == FCONV_ERR_NUMERICAL && !has_nan && cap >= out_n) {
        /* A finite input (3e38 is one of the fuzzed values) may overflow: then the same call
           with the output check off succeeds and its output holds inf/NaN. */
        fconv_set_output_check(0);
        if (fconv_conv_forward(c, x, shape, ndim, layer, n_layer, y, cap) == FCONV_OK)
            for (i = 0; i < out_n; ++i) overflowed |= !isfinite(y[i]);
        fconv_set_output_check(1);
        if (!overflowed) violation("forward refused a finite input whose output is finite", "fconv_conv_forward", s);
    }
    if (s_shape == FCONV_OK && cap >= out_n && !has_nan && !overflowed && s != FCONV_OK && s != FCONV_ERR_OUT_OF_MEMORY)
        violation("output_shape accepted the input but forward refused it", "fconv_conv_forward", s);
    if (s_shape != FCONV_OK && s == FCONV_OK) violation("forward accepted an input output_shape refused", "fconv_conv_forward", s);
    if (s == FCONV_OK && cap < out_n) violation("forward accepted a too small output", "fconv_conv_forward", s);
    if (s == FCONV_OK && has_nan) violation("forward accepted a NaN/Inf input", "fconv_conv_forward", s);
    if (s == FCONV_OK && chance(r, 64)) { /* determinism: same input, same bits */
        y2 = (float *)malloc(cap * sizeof(float));
        check("fconv_conv_forward", fconv_conv_forward(c, x, shape, ndim, layer, n_layer, y2, cap), 0);
        if (memcmp(y, y2, out_n * sizeof(float)) != 0) violation("two forwards of one input differ", "fconv_conv_forward", s);
        free(y2);
    }
    if (s == FCONV_OK && chance(r, 32)) { /* the exact-shape forward: same bits; a wrong shape writes nothing */
        y2 = (float *)malloc((out_n + 1) * sizeof(float));
        check("fconv_conv_forward_shaped", fconv_conv_forward_shaped(c, x, shape, ndim, layer, n_layer, y2, out_shape, ndim), 0);
        if (memcmp(y, y2, out_n * sizeof(float)) != 0) violation("forward_shaped differs from forward", "fconv_conv_forward_shaped", s);
        out_shape[ndim - 1] += 1;
        check("fconv_conv_forward_shaped", fconv_conv_forward_shaped(c, x, shape, ndim, layer, n_layer, y2, out_shape, ndim),
              S(FCONV_ERR_SHAPE_MISMATCH) | ALLOC);
        out_shape[ndim - 1] -= 1;
        free(y2);
    }
    if (s == FCONV_OK) { /* chosen_implementation must accept what forward accepted */
        fconv_implementation impl = -1;
        check("fconv_conv_chosen_implementation",
              fconv_conv_chosen_implementation(c, shape, ndim, layer, n_layer, &impl), 0);
        if (impl < 0 || impl > 3) violation("chosen implementation out of range", "fconv_conv_chosen_implementation", impl);
    }
    free(x);
    free(y);
}

static void op_output_shape_raw(reader *r) {
    int live;
    fconv_conv *c = pick_conv(r, &live);
    int64_t shape[10], out[10], layer[10];
    size_t i, ndim = (size_t)range(r, 0, 10), cap = (size_t)range(r, 0, 10);
    fconv_implementation impl;
    for (i = 0; i < 10; ++i) {
        shape[i] = fuzz_int(r, 0, 6);
        layer[i] = fuzz_int(r, -1, 3);
    }
    check("fconv_conv_output_shape",
          fconv_conv_output_shape(c, chance(r, 8) ? NULL : shape, ndim, chance(r, 8) ? NULL : layer, (size_t)range(r, 0, 10),
                                  chance(r, 8) ? NULL : out, cap),
          S(FCONV_ERR_SHAPE_MISMATCH) | S(FCONV_ERR_INDEX_OUT_OF_RANGE) | S(FCONV_ERR_BUFFER_TOO_SMALL) | ALLOC);
    check("fconv_conv_chosen_implementation",
          fconv_conv_chosen_implementation(c, shape, ndim, layer, (size_t)range(r, 0, 3), chance(r, 8) ? NULL : &impl),
          S(FCONV_ERR_SHAPE_MISMATCH) | S(FCONV_ERR_INDEX_OUT_OF_RANGE) | S(FCONV_ERR_UNSUPPORTED) | ALLOC);
}

/* Runs a mutating call and checks that a failure left the layer unchanged. */
#define MUTATE(fn, call, allowed)                                                           \
    do {                                                                                   \
        uint64_t before_ = live ? fingerprint(c, 1) : 0;                                   \
        fconv_status s_ = check(fn, (call), (allowed));                                    \
        if (s_ != FCONV_OK && live && fingerprint(c, 1) != before_)                        \
            violation("a failing call changed the layer", fn, s_);                         \
        if (s_ == FCONV_OK && !live) violation("a dead handle was accepted", fn, s_);      \
    } while (0)

static void op_set(reader *r) {
    int live;
    fconv_conv *c = pick_conv(r, &live);
    facts f;
    int64_t layer[MAX_LAYER_NDIM] = {0}, st[MAX_ORDER], pd[MAX_ORDER], dl[MAX_ORDER];
    float bias[16];
    size_t n_layer = 0, n_spatial = 1, i, bias_count;
    if (live && get_facts(c, &f) == 0) {
        n_layer = layer_arg(r, &f, layer);
        n_spatial = (size_t)f.order;
        bias_count = (size_t)f.out_c;
    } else {
        bias_count = 1;
    }
    for (i = 0; i < MAX_ORDER; ++i) {
        st[i] = chance(r, 10) ? fuzz_int(r, -1, 3) : range(r, 1, 3);
        pd[i] = chance(r, 10) ? fuzz_int(r, -1, 3) : range(r, 0, 2);
        dl[i] = chance(r, 10) ? fuzz_int(r, -1, 3) : range(r, 1, 2);
    }
    for (i = 0; i < 16; ++i) bias[i] = chance(r, 4) ? fuzz_float(r) : (float)(int8_t)u8(r) / 16.0f;
    if (chance(r, 16)) n_spatial = (size_t)range(r, 0, MAX_ORDER);
    if (n_spatial > MAX_ORDER) n_spatial = MAX_ORDER; /* arrays hold MAX_ORDER entries */
    if (chance(r, 16)) bias_count = (size_t)range(r, 0, 16);
    if (bias_count > 16) bias_count = 16;
    MUTATE("fconv_conv_set",
           fconv_conv_set(c, layer, n_layer, chance(r, 64) ? NULL : st, chance(r, 64) ? NULL : pd, chance(r, 64) ? NULL : dl,
                          n_spatial, chance(r, 100) ? bias : NULL, bias_count),
           S(FCONV_ERR_INDEX_OUT_OF_RANGE) | S(FCONV_ERR_SHAPE_MISMATCH) | S(FCONV_ERR_NUMERICAL));
}

static void op_transduct(reader *r) {
    int live;
    fconv_conv *c = pick_conv(r, &live);
    int64_t k = chance(r, 12) ? fuzz_int(r, -1, 4) : range(r, 1, 3);
    int64_t mode = chance(r, 12) ? fuzz_int(r, -1, 6) : range(r, 0, 3);
    int64_t pad = chance(r, 12) ? fuzz_int(r, -1, 3) : range(r, 0, 1);
    int64_t st = chance(r, 12) ? fuzz_int(r, -1, 3) : 1;
    int64_t dl = chance(r, 12) ? fuzz_int(r, -1, 3) : 1;
    MUTATE("fconv_conv_transduct", fconv_conv_transduct(c, k, mode, pad, st, dl), ALLOC);
}

static void op_set_implementation(reader *r) {
    int live;
    fconv_conv *c = pick_conv(r, &live);
    fconv_implementation impl = chance(r, 20) ? (fconv_implementation)fuzz_int(r, -2, 8) : (fconv_implementation)range(r, 0, 3);
    MUTATE("fconv_conv_set_implementation", fconv_conv_set_implementation(c, impl), S(FCONV_ERR_UNSUPPORTED));
}

static void op_parameters_read(reader *r) {
    int live;
    fconv_conv *c = pick_conv(r, &live);
    size_t count = 0, i, len = 0, cap;
    char *name;
    fconv_status s;
    s = check("fconv_conv_parameter_count", fconv_conv_parameter_count(c, chance(r, 8) ? NULL : &count), 0);
    if (s != FCONV_OK) count = 0;
    i = chance(r, 16) ? (size_t)fuzz_int(r, 0, 8) : (count ? (size_t)(u8(r) % count) : 0);
    cap = chance(r, 32) ? (size_t)range(r, 0, 24) : 64;
    name = (char *)malloc(cap ? cap : 1);
    s = check("fconv_conv_parameter_name", fconv_conv_parameter_name(c, i, chance(r, 4) ? NULL : name, cap, chance(r, 32) ? NULL : &len),
              S(FCONV_ERR_INDEX_OUT_OF_RANGE) | S(FCONV_ERR_BUFFER_TOO_SMALL));
    if (s == FCONV_OK && strlen(name) != len && len != 0) violation("parameter_name length mismatch", "fconv_conv_parameter_name", s);
    if (s == FCONV_OK) {
        int64_t *shape;
        size_t ndim = 0, scap = (size_t)range(r, 0, 8), n = 1, d, vcap;
        float *values;
        shape = (int64_t *)malloc((scap ? scap : 1) * sizeof(int64_t));
        s = check("fconv_conv_parameter_shape", fconv_conv_parameter_shape(c, name, shape, scap, &ndim),
                  S(FCONV_ERR_FORMAT) | S(FCONV_ERR_BUFFER_TOO_SMALL));
        if (s == FCONV_OK) {
            for (d = 0; d < ndim; ++d) n *= (size_t)shape[d];
            vcap = chance(r, 32) ? (size_t)range(r, 0, (int64_t)(n < 200 ? n : 200)) : n;
            values = (float *)malloc((vcap ? vcap : 1) * sizeof(float));
            s = check("fconv_conv_get_parameter", fconv_conv_get_parameter(c, name, values, vcap),
                      S(FCONV_ERR_FORMAT) | S(FCONV_ERR_BUFFER_TOO_SMALL));
            if (s == FCONV_OK && vcap < n) violation("get_parameter accepted a too small buffer", "fconv_conv_get_parameter", s);
            free(values);
        }
        free(shape);
    }
    {
        /* Unknown / odd names. */
        static const char *const bad[] = {"weight", "weight.factors.factor_9", "weight.factors.factor_-1", "bias ", "",
                                          "weight.core", "weight.weights", "weight.tensor", "bias", "weight.factors.factor_0"};
        int64_t shape[8];
        size_t ndim;
        float v[4];
        check("fconv_conv_parameter_shape", fconv_conv_parameter_shape(c, bad[u8(r) % 10], shape, 8, &ndim),
              S(FCONV_ERR_FORMAT) | S(FCONV_ERR_BUFFER_TOO_SMALL));
        check("fconv_conv_get_parameter", fconv_conv_get_parameter(c, chance(r, 10) ? NULL : bad[u8(r) % 10], v, 4),
              S(FCONV_ERR_FORMAT) | S(FCONV_ERR_BUFFER_TOO_SMALL));
    }
    free(name);
}

static void op_set_parameters(reader *r) {
    int live;
    fconv_conv *c = pick_conv(r, &live);
    enum { MAXP = 6 };
    char names[MAXP][64];
    const char *name_ptrs[MAXP];
    float *values[MAXP];
    const float *value_ptrs[MAXP];
    int64_t shapes[MAXP][8];
    const int64_t *shape_ptrs[MAXP];
    size_t ndims[MAXP], count = 0, real = 0, i, j;
    if (live) check("fconv_conv_parameter_count", fconv_conv_parameter_count(c, &real), 0);
    count = chance(r, 32) ? (size_t)range(r, 0, MAXP) : (real < MAXP ? real : MAXP);
    for (i = 0; i < MAXP; ++i) {
        size_t n = 1, nd = 0;
        names[i][0] = '\0';
        ndims[i] = 1;
        for (j = 0; j < 8; ++j) shapes[i][j] = 1;
        if (live && i < real && !chance(r, 24)) {
            fconv_conv_parameter_name(c, i, names[i], sizeof names[i], NULL);
            if (fconv_conv_parameter_shape(c, names[i], shapes[i], 8, &nd) == FCONV_OK) ndims[i] = nd;
            else for (j = 0; j < 8; ++j) shapes[i][j] = 1; /* > 8 dims: keep ndims 1 (never past the row) */
        } else {
            static const char *const nm[] = {"bias", "weight.weights", "weight.core", "weight.factors.factor_0",
                                             "weight.factors.factor_1", "weight.factors.factor_2", "weight.tensor", "x"};
            snprintf(names[i], sizeof names[i], "%s", nm[u8(r) % 8]);
            ndims[i] = (size_t)range(r, 1, 4);
            for (j = 0; j < ndims[i]; ++j) shapes[i][j] = range(r, 1, 6);
        }
        if (chance(r, 16)) { /* perturb the shape: rank changes, mismatches, zeros, huge */
            j = u8(r) % 8;
            shapes[i][j] = chance(r, 32) ? fuzz_int(r, -1, 8) : shapes[i][j] + range(r, -1, 2);
            if (j >= ndims[i]) ndims[i] = j + 1;
        }
        if (chance(r, 8)) ndims[i] = (size_t)range(r, 0, 8);
        n = elems(shapes[i], ndims[i]);
        if (n == (size_t)-1) { /* keep the claimed size within our allocation: skip the entry */
            ndims[i] = 1;
            shapes[i][0] = 1;
            n = 1;
        }
        values[i] = (float *)malloc((n ? n : 1) * sizeof(float));
        for (j = 0; j < n; ++j) values[i][j] = (float)(int8_t)u8(r) / 64.0f;
        if (chance(r, 8)) values[i][u8(r) % (n ? n : 1)] = fuzz_float(r);
        name_ptrs[i] = chance(r, 2) ? NULL : names[i];
        value_ptrs[i] = chance(r, 2) ? NULL : values[i];
        shape_ptrs[i] = chance(r, 2) ? NULL : shapes[i];
    }
    if (chance(r, 8)) { /* a duplicate name */
        strcpy(names[1], names[0]);
    }
    MUTATE("fconv_conv_set_parameters",
           fconv_conv_set_parameters(c, chance(r, 4) ? (size_t)fuzz_int(r, 0, 7) % (MAXP + 1) : count,
                                     chance(r, 4) ? NULL : name_ptrs, chance(r, 4) ? NULL : value_ptrs,
                                     chance(r, 4) ? NULL : shape_ptrs, chance(r, 4) ? NULL : ndims, (int32_t)(u8(r) % 3) - 1),
           S(FCONV_ERR_FORMAT) | S(FCONV_ERR_SHAPE_MISMATCH) | S(FCONV_ERR_NUMERICAL) | ALLOC);
    for (i = 0; i < MAXP; ++i) free(values[i]);
}

static void op_kernel(reader *r) {
    int live;
    fconv_conv *c = pick_conv(r, &live);
    facts f;
    int64_t layer[MAX_LAYER_NDIM] = {0}, shape[16];
    size_t n_layer = 0, ndim = 0, scap = chance(r, 16) ? (size_t)range(r, 0, 8) : 16, n;
    fconv_status s;
    if (live && get_facts(c, &f) == 0) n_layer = chance(r, 100) ? 0 : layer_arg(r, &f, layer);
    int null_ndim = chance(r, 8);
    s = check("fconv_conv_kernel_shape", fconv_conv_kernel_shape(c, layer, n_layer, chance(r, 8) ? NULL : shape, scap, null_ndim ? NULL : &ndim),
              S(FCONV_ERR_INDEX_OUT_OF_RANGE) | S(FCONV_ERR_BUFFER_TOO_SMALL));
    if (s == FCONV_OK && null_ndim) return;
    if (s == FCONV_OK && (n = elems(shape, ndim)) != (size_t)-1) {
        size_t cap = chance(r, 16) ? (size_t)range(r, 0, (int64_t)(n < 200 ? n : 200)) : n;
        float *k = (float *)malloc((cap ? cap : 1) * sizeof(float));
        s = check("fconv_conv_reconstruct_kernel", fconv_conv_reconstruct_kernel(c, layer, n_layer, k, cap),
                  S(FCONV_ERR_INDEX_OUT_OF_RANGE) | S(FCONV_ERR_BUFFER_TOO_SMALL) | ALLOC);
        if (s == FCONV_OK && cap < n) violation("reconstruct_kernel accepted a too small buffer", "fconv_conv_reconstruct_kernel", s);
        if (s != FCONV_OK && cap >= n && s != FCONV_ERR_OUT_OF_MEMORY)
            violation("kernel_shape accepted the index but reconstruct_kernel refused it", "fconv_conv_reconstruct_kernel", s);
        free(k);
    } else if (s != FCONV_OK) {
        float k[8];
        check("fconv_conv_reconstruct_kernel", fconv_conv_reconstruct_kernel(c, layer, n_layer, k, 8),
              S(FCONV_ERR_INDEX_OUT_OF_RANGE) | S(FCONV_ERR_BUFFER_TOO_SMALL) | ALLOC);
    }
}

static void op_reset(reader *r) {
    int live;
    fconv_conv *c = pick_conv(r, &live);
    static const double stds[] = {0.02, 0.0, 1.0, -1.0, NAN, INFINITY, 1e30, 1e-30};
    MUTATE("fconv_conv_reset_parameters", fconv_conv_reset_parameters(c, stds[u8(r) % 8], (uint64_t)u32(r)), 0);
}

static void op_info(reader *r) {
    int live;
    fconv_conv *c = pick_conv(r, &live);
    fconv_info key = chance(r, 16) ? (fconv_info)fuzz_int(r, -2, 20) : (fconv_info)range(r, 0, 15);
    size_t cap = chance(r, 32) ? (size_t)range(r, 0, 4) : (size_t)range(r, 0, 64), count = 0, len = 0;
    int64_t *v = (int64_t *)malloc((cap ? cap : 1) * sizeof(int64_t));
    char *text;
    fconv_status s = check("fconv_conv_get_ints", fconv_conv_get_ints(c, key, chance(r, 8) ? NULL : v, cap, chance(r, 8) ? NULL : &count),
                           S(FCONV_ERR_BUFFER_TOO_SMALL));
    if (s == FCONV_OK && count > cap) violation("get_ints reported more values than the capacity", "fconv_conv_get_ints", s);
    free(v);
    cap = chance(r, 64) ? (size_t)range(r, 0, 40) : 4096;
    text = (char *)malloc(cap ? cap : 1);
    s = check("fconv_conv_repr", fconv_conv_repr(c, chance(r, 8) ? NULL : text, cap, chance(r, 8) ? NULL : &len),
              S(FCONV_ERR_BUFFER_TOO_SMALL));
    if (s == FCONV_OK && strlen(text) >= cap) violation("repr not NUL-terminated within capacity", "fconv_conv_repr", s);
    free(text);
}

static void op_save_load(reader *r) {
    int live;
    fconv_conv *c = pick_conv(r, &live), *back = (fconv_conv *)SENTINEL;
    char path[320];
    fconv_status s;
    facts f;
    snprintf(path, sizeof path, "%s/layer-%d.safetensors", temp_dir, (int)(u8(r) % 2));
    s = check("fconv_conv_save", fconv_conv_save(c, chance(r, 8) ? NULL : (chance(r, 8) ? "/nonexistent-dir/x.safetensors" : path)),
              S(FCONV_ERR_IO) | ALLOC);
    if (s != FCONV_OK) return;
    s = fconv_conv_load(path, &back);
    check_ctor("fconv_conv_load", s, S(FCONV_ERR_IO) | S(FCONV_ERR_FORMAT) | ALLOC, back);
    if (s == FCONV_ERR_OUT_OF_MEMORY) return; /* the fuzzer lowered the memory bound below the layer */
    /* Layers never exceed order 16 (the most a file stores): transduct refuses it since the
       input Tests/Fuzz/corpus/known-order17-save-load found the mismatch. */
    if (s != FCONV_OK) violation("a saved layer does not load", "fconv_conv_load", s);
    if (get_facts(c, &f) == 0 && !f.is_sub && fingerprint(back, 1) != fingerprint(c, 1))
        violation("a saved and loaded layer differs from the original", "fconv_conv_load", s);
    put(take_slot(r), back, 0);
    if (chance(r, 64)) { /* the same file through memory: the bytes load back; any cut is refused */
        size_t size = 0, cut;
        unsigned char *bytes;
        fconv_conv *copy = (fconv_conv *)SENTINEL;
        s = check("fconv_conv_save_to_buffer", fconv_conv_save_to_buffer(c, NULL, 0, &size), S(FCONV_ERR_BUFFER_TOO_SMALL) | ALLOC);
        if (s != FCONV_ERR_BUFFER_TOO_SMALL || size == 0) return;
        bytes = (unsigned char *)malloc(size);
        s = check("fconv_conv_save_to_buffer", fconv_conv_save_to_buffer(c, bytes, size, &size), ALLOC);
        if (s == FCONV_OK) {
            s = fconv_conv_load_from_buffer(bytes, size, &copy);
            check_ctor("fconv_conv_load_from_buffer", s, ALLOC, copy);
            if (s == FCONV_OK) {
                if (fingerprint(copy, 1) != fingerprint(back, 1))
                    violation("a layer loaded from memory differs from the file's", "fconv_conv_load_from_buffer", s);
                put(take_slot(r), copy, 0);
            }
            cut = (size_t)range(r, 0, 255) * size / 256;
            copy = (fconv_conv *)SENTINEL;
            s = fconv_conv_load_from_buffer(bytes, cut, &copy);
            check_ctor("fconv_conv_load_from_buffer", s, S(FCONV_ERR_FORMAT) | S(FCONV_ERR_INVALID_ARGUMENT) | ALLOC, copy);
            if (s == FCONV_OK) violation("a truncated layer file loaded from memory", "fconv_conv_load_from_buffer", s);
        }
        free(bytes);
    }
}

static void op_load_garbage(reader *r) {
    char path[320];
    fconv_conv *c = (fconv_conv *)SENTINEL;
    size_t n = (size_t)range(r, 0, 200);
    FILE *fp;
    fconv_status s;
    snprintf(path, sizeof path, "%s/garbage.safetensors", temp_dir);
    fp = fopen(path, "wb");
    if (!fp) return;
    if (chance(r, 128)) { /* a plausible header-length prefix */
        uint64_t len = (uint64_t)range(r, 0, 200);
        fwrite(&len, 8, 1, fp);
        fputs("{\"__metadata__\":{\"format\":\"factorconv\"},\"bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", fp);
    }
    {
        unsigned char garbage[200];
        size_t k;
        for (k = 0; k < n && remaining(r); ++k) garbage[k] = u8(r);
        fwrite(garbage, 1, k, fp);
        if (chance(r, 32)) { /* the same bytes from memory */
            s = fconv_conv_load_from_buffer(garbage, k, &c);
            check_ctor("fconv_conv_load_from_buffer", s, S(FCONV_ERR_FORMAT) | S(FCONV_ERR_INVALID_ARGUMENT) | ALLOC, c);
            if (s == FCONV_OK) put(take_slot(r), c, 0);
            c = (fconv_conv *)SENTINEL;
            { /* and as a model bundle (consuming no input) */
                fconv_bundle *b = (fconv_bundle *)SENTINEL;
                fconv_status sb = fconv_bundle_open_buffer(garbage, k, &b);
                check_ctor("fconv_bundle_open_buffer", sb, S(FCONV_ERR_FORMAT) | S(FCONV_ERR_INVALID_ARGUMENT), b);
                if (sb == FCONV_OK && s == FCONV_OK) violation("bytes opened both as a layer and as a bundle", "fconv_bundle_open_buffer", sb);
                if (sb == FCONV_OK) fconv_bundle_free(b);
            }
        }
    }
    fclose(fp);
    if (chance(r, 8)) {
        s = check("fconv_conv_load", fconv_conv_load(path, NULL), S(FCONV_ERR_IO) | S(FCONV_ERR_FORMAT) | ALLOC);
        if (s == FCONV_OK) violation("load accepted a NULL out", "fconv_conv_load", s);
        return;
    }
    s = fconv_conv_load(chance(r, 8) ? NULL : path, &c);
    check_ctor("fconv_conv_load", s, S(FCONV_ERR_IO) | S(FCONV_ERR_FORMAT) | ALLOC, c);
    if (s == FCONV_OK) put(take_slot(r), c, 0);
    { /* the same file as a model bundle (consuming no input) */
        fconv_bundle *b = (fconv_bundle *)SENTINEL;
        fconv_status sb = fconv_bundle_open(path, &b);
        check_ctor("fconv_bundle_open", sb, S(FCONV_ERR_IO) | S(FCONV_ERR_FORMAT), b);
        if (sb == FCONV_OK) fconv_bundle_free(b);
    }
}

static void op_dense(reader *r) {
    int64_t xs[2 + MAX_ORDER], ws[2 + MAX_ORDER], st[MAX_ORDER], pd[MAX_ORDER], dl[MAX_ORDER], os[2 + MAX_ORDER];
    size_t order = (size_t)range(r, 1, 3), ndim = order + 2, wndim, nsp, i, xn, wn, on, cap;
    float *x, *w, *b, *y;
    const int64_t *pdp;
    fconv_status s1, s2;
    xs[0] = range(r, 1, 2);
    xs[1] = range(r, 1, 4);
    ws[0] = range(r, 1, 4);
    ws[1] = chance(r, 12) ? range(r, 1, 4) : xs[1];
    for (i = 0; i < order; ++i) {
        xs[2 + i] = range(r, 1, 6);
        ws[2 + i] = range(r, 1, 3);
        st[i] = chance(r, 10) ? fuzz_int(r, -1, 3) : range(r, 1, 2);
        pd[i] = chance(r, 10) ? fuzz_int(r, -1, 3) : range(r, 0, 2);
        dl[i] = chance(r, 10) ? fuzz_int(r, -1, 3) : range(r, 1, 2);
    }
    wndim = chance(r, 10) ? (size_t)range(r, 0, ndim + 1) : ndim;
    nsp = chance(r, 10) ? (size_t)range(r, 0, MAX_ORDER) : order;
    if (nsp > order) nsp = order; /* our geometry arrays hold `order` valid entries */
    if (chance(r, 10)) xs[u8(r) % ndim] = fuzz_int(r, -1, 6);
    pdp = chance(r, 16) ? NULL : pd;
    s1 = check("fconv_dense_conv_output_shape",
               fconv_dense_conv_output_shape(xs, ndim, ws, wndim > ndim ? ndim : wndim, st, pdp, dl, nsp, os,
                                             chance(r, 16) ? (size_t)range(r, 0, ndim) : ndim),
               S(FCONV_ERR_SHAPE_MISMATCH) | S(FCONV_ERR_BUFFER_TOO_SMALL));
    xn = elems(xs, ndim);
    wn = elems(ws, ndim);
    if (xn == (size_t)-1 || wn == (size_t)-1) return;
    on = s1 == FCONV_OK ? elems(os, ndim) : 16;
    if (on == (size_t)-1) return;
    cap = chance(r, 16) && on > 0 ? on - 1 : on;
    x = (float *)malloc(xn * sizeof(float));
    w = (float *)malloc(wn * sizeof(float));
    b = (float *)malloc((size_t)ws[0] * sizeof(float));
    y = (float *)malloc((cap ? cap : 1) * sizeof(float));
    for (i = 0; i < xn; ++i) x[i] = (float)(i % 7) - 3.0f;
    for (i = 0; i < wn; ++i) w[i] = (float)(i % 5) / 5.0f;
    for (i = 0; i < (size_t)ws[0]; ++i) b[i] = 0.5f;
    if (chance(r, 10)) x[u8(r) % xn] = fuzz_float(r);
    s2 = check("fconv_dense_conv_forward",
               fconv_dense_conv_forward(chance(r, 8) ? NULL : x, xs, ndim, chance(r, 8) ? NULL : w, ws, wndim > ndim ? ndim : wndim,
                                        chance(r, 128) ? b : NULL, st, pdp, dl, nsp, chance(r, 8) ? NULL : y, cap),
               S(FCONV_ERR_SHAPE_MISMATCH) | S(FCONV_ERR_BUFFER_TOO_SMALL) | S(FCONV_ERR_NUMERICAL) | ALLOC);
    if (s2 == FCONV_OK && s1 != FCONV_OK && s1 != FCONV_ERR_BUFFER_TOO_SMALL)
        violation("dense forward accepted what output_shape refused", "fconv_dense_conv_forward", s2);
    free(x);
    free(w);
    free(b);
    free(y);
}

/* Model bundles of the table's layers, consuming no input (corpus entries replay as before):
 * every live whole layer under a fixed name (one of them UTF-8) saved to memory and to a file
 * must open again with the names in order and layers equal to the originals; a truncated
 * bundle, a single-layer file opened as a bundle and a bundle loaded as one layer are
 * FCONV_ERR_FORMAT; sub-convolutions, stale handles and duplicate names are refused when saving;
 * bundle handles of the wrong type or freed are refused. `picked` is a conv argument as
 * pick_conv gives it (live, stale, NULL or foreign). */
static void op_bundle(fconv_conv *picked, int picked_live) {
    static const char *const all_names[N_SLOTS] = {"m.0", "m.1", "m.\xc3\xa9", "m.3", "m.4", "m.5", "m.6", "m.7"};
    const fconv_conv *convs[N_SLOTS + 1];
    const char *names[N_SLOTS + 1];
    fconv_bundle *b = (fconv_bundle *)SENTINEL;
    fconv_conv *layer;
    unsigned char *bytes;
    size_t n = 0, size = 0, count = 0, i;
    char path[320];
    fconv_status s;
    for (i = 0; i < N_SLOTS; ++i) {
        if (!slots[i].live || slots[i].sub) continue;
        convs[n] = slots[i].conv;
        names[n] = all_names[n];
        ++n;
    }
    s = check("fconv_bundle_save_to_buffer", fconv_bundle_save_to_buffer(n, names, convs, NULL, 0, &size),
              S(FCONV_ERR_BUFFER_TOO_SMALL));
    if (s != FCONV_ERR_BUFFER_TOO_SMALL) {
        if (s != FCONV_ERR_OUT_OF_MEMORY) violation("a bundle of live layers cannot be sized", "fconv_bundle_save_to_buffer", s);
        return;
    }
    bytes = (unsigned char *)malloc(size);
    s = check("fconv_bundle_save_to_buffer", fconv_bundle_save_to_buffer(n, names, convs, bytes, size, &size), 0);
    if (s == FCONV_OK) {
        s = fconv_bundle_open_buffer(bytes, size, &b);
        check_ctor("fconv_bundle_open_buffer", s, 0, b);
        if (s == FCONV_ERR_INVALID_ARGUMENT) violation("a saved bundle does not open", "fconv_bundle_open_buffer", s);
        if (s == FCONV_OK) {
            if (check("fconv_bundle_count", fconv_bundle_count(b, &count), 0) != FCONV_OK || count != n)
                violation("the bundle's count differs from the layers saved", "fconv_bundle_count", s);
            for (i = 0; i < n; ++i) {
                const char *name = NULL;
                if (check("fconv_bundle_name", fconv_bundle_name(b, i, &name), 0) != FCONV_OK || strcmp(name, names[i]) != 0)
                    violation("a name differs from the one saved", "fconv_bundle_name", s);
                layer = (fconv_conv *)SENTINEL;
                s = fconv_bundle_get_layer(b, names[i], &layer);
                check_ctor("fconv_bundle_get_layer", s, 0, layer);
                if (s != FCONV_OK) continue;
                if (fingerprint(layer, 1) != fingerprint(convs[i], 1))
                    violation("a layer of a bundle differs from the original", "fconv_bundle_get_layer", s);
                fconv_conv_free(layer);
            }
            layer = (fconv_conv *)SENTINEL;
            s = fconv_bundle_get_layer(b, "m.absent", &layer);
            check_ctor("fconv_bundle_get_layer", s, 0, layer);
            if (s == FCONV_OK) violation("an absent name was found", "fconv_bundle_get_layer", s);
            check("fconv_bundle_name", fconv_bundle_name(b, n, NULL), S(FCONV_ERR_INDEX_OUT_OF_RANGE));
            fconv_conv_free((fconv_conv *)(void *)b); /* must be ignored: wrong type */
            fconv_bundle_free(b);
            if (fconv_bundle_count(b, &count) != FCONV_ERR_INVALID_ARGUMENT)
                violation("a freed bundle was used", "fconv_bundle_count", FCONV_OK);
            fconv_bundle_free(b); /* a double free: no-op */
        }
        /* Truncated: refused. */
        b = (fconv_bundle *)SENTINEL;
        s = fconv_bundle_open_buffer(bytes, size * (n + 1) / (n + 3), &b);
        check_ctor("fconv_bundle_open_buffer", s, S(FCONV_ERR_FORMAT), b);
        if (s == FCONV_OK) violation("a truncated bundle opened", "fconv_bundle_open_buffer", s);
        /* A bundle is not a layer file. */
        layer = (fconv_conv *)SENTINEL;
        s = fconv_conv_load_from_buffer(bytes, size, &layer);
        check_ctor("fconv_conv_load_from_buffer", s, S(FCONV_ERR_FORMAT), layer);
        if (s == FCONV_OK) violation("a bundle loaded as one layer", "fconv_conv_load_from_buffer", s);
    }
    free(bytes);
    /* The same through a file. */
    snprintf(path, sizeof path, "%s/bundle.safetensors", temp_dir);
    s = check("fconv_bundle_save", fconv_bundle_save(path, n, names, convs), S(FCONV_ERR_IO));
    if (s == FCONV_OK) {
        b = (fconv_bundle *)SENTINEL;
        s = fconv_bundle_open(path, &b);
        check_ctor("fconv_bundle_open", s, S(FCONV_ERR_IO) | S(FCONV_ERR_FORMAT), b);
        if (s != FCONV_OK && s != FCONV_ERR_OUT_OF_MEMORY) violation("a saved bundle file does not open", "fconv_bundle_open", s);
        if (s == FCONV_OK && (fconv_bundle_count(b, &count) != FCONV_OK || count != n))
            violation("the bundle file's count differs", "fconv_bundle_count", s);
        if (s == FCONV_OK) fconv_bundle_free(b);
    }
    /* A single-layer file is not a bundle. */
    if (n > 0 && fconv_conv_save(convs[0], path) == FCONV_OK) {
        b = (fconv_bundle *)SENTINEL;
        s = fconv_bundle_open(path, &b);
        check_ctor("fconv_bundle_open", s, S(FCONV_ERR_FORMAT), b);
        if (s == FCONV_OK) violation("a layer file opened as a bundle", "fconv_bundle_open", s);
    }
    /* The picked handle (stale, NULL, foreign, or a sub-convolution) added: refused unless it is
     * a live whole layer; a repeated name is always refused. */
    if (n < N_SLOTS) {
        facts f;
        int whole = picked_live && get_facts(picked, &f) == 0 && !f.is_sub;
        convs[n] = picked;
        names[n] = "m.picked";
        s = check("fconv_bundle_save_to_buffer", fconv_bundle_save_to_buffer(n + 1, names, convs, NULL, 0, &size),
                  S(FCONV_ERR_BUFFER_TOO_SMALL));
        if (!whole && s != FCONV_ERR_INVALID_ARGUMENT) violation("a bundle with a stale or sub-convolution handle", "fconv_bundle_save_to_buffer", s);
        if (n > 0) {
            names[n] = names[0];
            s = check("fconv_bundle_save_to_buffer", fconv_bundle_save_to_buffer(n + 1, names, convs, NULL, 0, &size),
                      S(FCONV_ERR_BUFFER_TOO_SMALL));
            if (s != FCONV_ERR_INVALID_ARGUMENT) violation("a bundle with a repeated name", "fconv_bundle_save_to_buffer", s);
        }
    }
    /* A conv handle is not a bundle. */
    check("fconv_bundle_count", fconv_bundle_count((const fconv_bundle *)(void *)picked, &count), 0);
    if (picked_live && fconv_bundle_count((const fconv_bundle *)(void *)picked, &count) != FCONV_ERR_INVALID_ARGUMENT)
        violation("a conv handle used as a bundle", "fconv_bundle_count", FCONV_OK);
    fconv_bundle_free((fconv_bundle *)(void *)picked); /* must be ignored: wrong type */
}

static void op_misc(reader *r) {
    uint8_t k = u8(r) % 6;
    if (k == 0) {
        int32_t n = chance(r, 16) ? (int32_t)fuzz_int(r, -1, 2000) : (int32_t)range(r, 0, 2);
        fconv_status s = check("fconv_set_num_threads", fconv_set_num_threads(n), 0);
        if (s == FCONV_OK && fconv_get_num_threads() < 1) violation("get_num_threads < 1", "fconv_get_num_threads", s);
        if (s == FCONV_OK && n > 0 && fconv_get_num_threads() != n) violation("get_num_threads != set", "fconv_get_num_threads", s);
    } else if (k == 1) {
        static const uint64_t limits[] = {0, 1, 1024, 1 << 16, 1 << 20, 4 << 20, 32 << 20, UINT64_MAX, (uint64_t)INT64_MAX};
        uint64_t v = limits[u8(r) % 9];
        fconv_status s = check("fconv_set_memory_limit", fconv_set_memory_limit(v), 0);
        if (fconv_get_memory_limit() == 0) violation("memory limit 0", "fconv_get_memory_limit", s);
        if (s == FCONV_OK && v != 0 && fconv_get_memory_limit() != v) violation("memory limit not applied", "fconv_get_memory_limit", s);
        /* Above 512 MiB the library may rightly allocate more than libFuzzer's -malloc_limit_mb
           (1024) allows, which is then reported as an out-of-memory crash (a 3.9 GB
           reconstructed kernel under UINT64_MAX did): keep the setter's coverage, not the bound. */
        if (fconv_get_memory_limit() > (512u << 20)) fconv_set_memory_limit(512u << 20);
    } else if (k == 2) {
        const char *name = fconv_status_string((fconv_status)fuzz_int(r, -3, 14));
        if (name == NULL || name[0] == '\0') violation("empty status string", "fconv_status_string", 0);
        if (fconv_version_string() == NULL || fconv_abi_version() != FCONV_ABI_VERSION) violation("version", "fconv_abi_version", 0);
        /* Process-wide memory and check settings, consuming no input (corpus entries replay as
           before): release between any two calls, and only 0 or 1 for the output check. */
        fconv_release_memory();
        /* An interrupt reaches only calls in progress (none here): later calls must not be
           cancelled, which every check() below and after would report as an unexpected status. */
        fconv_interrupt();
        if (check("fconv_set_output_check", fconv_set_output_check(2), 0) == FCONV_OK)
            violation("output check 2 accepted", "fconv_set_output_check", FCONV_OK);
        check("fconv_set_output_check", fconv_set_output_check(1), 0);
        if (fconv_get_output_check() != 1) violation("output check not on", "fconv_get_output_check", 0);
    } else if (k == 3) {
        /* Options functions on things that are not options handles. */
        int live;
        fconv_options *o = (fconv_options *)(void *)pick_conv(r, &live);
        int64_t v = 1;
        check("fconv_options_set_int", fconv_options_set_int(o, "seed", 1), 0);
        check("fconv_options_set_ints", fconv_options_set_ints(o, "stride", &v, 1), 0);
        check("fconv_options_set_float", fconv_options_set_float(o, "tol", 0.1), 0);
        check("fconv_options_set_string", fconv_options_set_string(o, "init", "svd"), 0);
        check("fconv_options_set_progress", fconv_options_set_progress(o, NULL, NULL), 0);
        fconv_options_free(o); /* a conv handle given to options_free must be ignored */
        check_ctor("fconv_options_create", fconv_options_create(NULL), 0, NULL);
    } else if (k == 4) {
        /* An options handle (live or freed) used as a conv. */
        fconv_options *o = NULL;
        size_t count;
        { fconv_status so_ = fconv_options_create(&o); check_ctor("fconv_options_create", so_, 0, o); }
        if (chance(r, 128)) fconv_options_free(o);
        check("fconv_conv_parameter_count", fconv_conv_parameter_count((const fconv_conv *)(void *)o, &count), 0);
        fconv_conv_free((fconv_conv *)(void *)o); /* must be ignored: wrong type */
        fconv_options_free(o);                     /* frees it, or a double free (no-op) */
    } else {
        /* Concurrent-safe getters on a sub-convolution and its parent after frees. */
        int live;
        fconv_conv *c = pick_conv(r, &live);
        if (live) (void)fingerprint(c, 1);
        op_bundle(c, live);
    }
}

/* ---------------------------------------------------------------------------------------- */
/* Entry point                                                                              */
/* ---------------------------------------------------------------------------------------- */

static void init_once(void) {
    static int done = 0;
    if (done) return;
    done = 1;
    snprintf(temp_dir, sizeof temp_dir, "%s/fconv-fuzz-%ld", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (long)getpid());
    mkdir(temp_dir, 0700);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    reader r = {data, size, 0};
    int ops = 0, i;
    init_once();
    memset(slots, 0, sizeof slots);
    /* Start every input from the same process-wide settings: 1 worker thread, a 32 MiB bound
       (anything bigger must be refused with FCONV_ERR_OUT_OF_MEMORY before allocating). */
    fconv_set_num_threads(1);
    fconv_set_memory_limit(32u << 20);
    while (remaining(&r) && ops++ < MAX_OPS) {
        switch (u8(&r) % 20) {
        case 0: case 1: op_create(&r); break;
        case 2: op_from_conv(&r, 0); break;
        case 3: op_from_conv(&r, 1); break;
        case 4: op_get_conv(&r); break;
        case 5: op_free(&r); break;
        case 6: case 7: op_forward(&r); break;
        case 8: op_output_shape_raw(&r); break;
        case 9: op_set(&r); break;
        case 10: op_transduct(&r); break;
        case 11: op_set_implementation(&r); break;
        case 12: op_parameters_read(&r); break;
        case 13: op_set_parameters(&r); break;
        case 14: op_kernel(&r); break;
        case 15: op_reset(&r); break;
        case 16: op_info(&r); break;
        case 17: op_save_load(&r); break;
        case 18: op_dense(&r); if (chance(&r, 64)) op_load_garbage(&r); break;
        default: op_misc(&r); break;
        }
    }
    /* Free what is left in a fuzzer-chosen order (children and parents mixed). */
    for (i = 0; i < N_SLOTS; ++i) {
        int j = (i * 3 + (int)(size & 7)) % N_SLOTS;
        if (slots[j].live) fconv_conv_free(slots[j].conv);
        slots[j].live = 0;
    }
    for (i = 0; i < N_SLOTS; ++i) slots[i].live = 0;
    return 0;
}

#ifdef FUZZ_REPLAY_MAIN
/* Runs every file given (or every file in every directory given) through the harness once. */
static int run_file(const char *path) {
    FILE *f = fopen(path, "rb");
    uint8_t *buf;
    long n;
    if (!f) return 0;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = (uint8_t *)malloc((size_t)(n > 0 ? n : 1));
    n = (long)fread(buf, 1, (size_t)n, f);
    fclose(f);
    LLVMFuzzerTestOneInput(buf, (size_t)n);
    free(buf);
    return 1;
}

int main(int argc, char **argv) {
    int i, count = 0;
    char path[4096];
    for (i = 1; i < argc; ++i) {
        struct stat st;
        if (stat(argv[i], &st) != 0) continue;
        if (S_ISDIR(st.st_mode)) {
            DIR *d = opendir(argv[i]);
            struct dirent *e;
            while (d && (e = readdir(d)) != NULL) {
                if (e->d_name[0] == '.') continue;
                snprintf(path, sizeof path, "%s/%s", argv[i], e->d_name);
                count += run_file(path);
            }
            if (d) closedir(d);
        } else {
            count += run_file(argv[i]);
        }
    }
    printf("replayed %d inputs through the C ABI harness: no invariant violated\n", count);
    {
        char tmp[320];
        snprintf(tmp, sizeof tmp, "rm -rf '%s'", temp_dir);
        if (temp_dir[0]) (void)system(tmp);
    }
    return 0;
}
#endif
