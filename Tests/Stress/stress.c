/*
 * stress.c — concurrent forwards on shared layers while other threads churn their own layers.
 *
 * Usage: stress [SECONDS=20] [FORWARD_THREADS=8] [CHURN_THREADS=2]
 *
 * Shared layers: CP (factorized, mobilenet, auto), Tucker (factorized, reconstructed, auto),
 * TT (factorized, auto), Dense, a 1-D and a 3-D CP layer, and a 3-layer TT grid used through
 * its sub-convolutions. A serial reference output is computed first for every (layer, input);
 * then FORWARD_THREADS threads run forwards on random shared layers and compare every result
 * bit for bit with the reference, while CHURN_THREADS threads create, run, compress
 * (from_conv), save/load, re-parameterize, transduct and free layers and sub-convolutions of
 * their own (freeing parents before children), flip the stride of one shared layer between 1
 * and 2 under the forwards (which must give the result of one stride or the other, bit for bit)
 * and now and then fork a child that runs shared layers and checks them the same way. Every
 * output buffer is followed by canaries that must survive the forward. The main thread samples
 * VmRSS every 250 ms.
 *
 * Fails (exit 1) on any mismatch, any unexpected status, or an RSS trend: after the first
 * quarter of the run (warm-up: thread stacks, BLAS buffers, workspace pools), the least-squares
 * RSS slope projected over the rest of the run must stay below max(16 MiB, 10% of the RSS).
 */
#define _DEFAULT_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "factorconv.h"
#include "proc_status.h"

enum { MAX_SHARED = 16, MAX_SAMPLES = 1 << 16 };

typedef struct {
    const char *name;
    fconv_conv *conv;       /* the handle forwards run on (a sub-convolution for the grid) */
    int64_t x_shape[5];
    size_t x_ndim, x_count, y_count;
    float *x, *reference;
} shared_layer;

static shared_layer shared[MAX_SHARED];
static int n_shared = 0;
static volatile int stop = 0;
static volatile long mismatches = 0, errors = 0;

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void fail(const char *what, fconv_status s) {
    fprintf(stderr, "stress: %s: %s: %s\n", what, fconv_status_string(s), fconv_last_error_message());
    __sync_fetch_and_add(&errors, 1);
}

#define OK(call, what)                                                                          \
    do {                                                                                        \
        fconv_status s_ = (call);                                                               \
        if (s_ != FCONV_OK) fail(what, s_);                                                     \
    } while (0)

static uint32_t next(uint32_t *state) {
    *state = *state * 1664525u + 1013904223u;
    return *state >> 8;
}

static float uniform(uint32_t *state) { return (float)next(state) / 8388608.0f - 1.0f; }

static fconv_conv *make(int64_t cin, int64_t cout, const int64_t *kernel, size_t order, const char *factorization,
                        const char *implementation, double rank, int64_t n_layers, int64_t seed) {
    fconv_options *o = NULL;
    fconv_conv *c = NULL;
    OK(fconv_options_create(&o), "options_create");
    OK(fconv_options_set_string(o, "factorization", factorization), "factorization");
    OK(fconv_options_set_string(o, "implementation", implementation), "implementation");
    if (rank > 0) OK(fconv_options_set_float(o, "rank", rank), "rank");
    OK(fconv_options_set_int(o, "padding", 1), "padding");
    OK(fconv_options_set_int(o, "bias", 1), "bias");
    OK(fconv_options_set_int(o, "seed", seed), "seed");
    if (n_layers > 1) OK(fconv_options_set_int(o, "n_layers", n_layers), "n_layers");
    OK(fconv_conv_create(cin, cout, kernel, order, o, &c), factorization);
    fconv_options_free(o);
    return c;
}

/* Adds a shared layer with a fixed input and its serial reference output. */
static void add_shared(const char *name, fconv_conv *conv, const int64_t *x_shape, size_t x_ndim) {
    shared_layer *s = &shared[n_shared++];
    int64_t y_shape[5];
    size_t i;
    uint32_t state = (uint32_t)n_shared * 7919u;
    float bias[64];
    s->name = name;
    s->conv = conv;
    memcpy(s->x_shape, x_shape, x_ndim * sizeof(int64_t));
    s->x_ndim = x_ndim;
    s->x_count = 1;
    for (i = 0; i < x_ndim; ++i) s->x_count *= (size_t)x_shape[i];
    OK(fconv_conv_output_shape(conv, x_shape, x_ndim, NULL, 0, y_shape, 5), "output_shape");
    s->y_count = 1;
    for (i = 0; i < x_ndim; ++i) s->y_count *= (size_t)y_shape[i];
    s->x = (float *)malloc(s->x_count * sizeof(float));
    s->reference = (float *)malloc(s->y_count * sizeof(float));
    for (i = 0; i < s->x_count; ++i) s->x[i] = uniform(&state);
    /* A nonzero bias (padding 1 kept), so the bias path is compared too. */
    {
        int64_t out_c = 0, order = 0, pad[3] = {1, 1, 1};
        size_t n;
        OK(fconv_conv_get_ints(conv, FCONV_INFO_OUT_CHANNELS, &out_c, 1, &n), "get_ints");
        OK(fconv_conv_get_ints(conv, FCONV_INFO_ORDER, &order, 1, &n), "get_ints");
        for (i = 0; i < 64; ++i) bias[i] = uniform(&state);
        OK(fconv_conv_set(conv, NULL, 0, NULL, pad, NULL, (size_t)order, bias, (size_t)out_c), "set bias");
    }
    OK(fconv_conv_forward(conv, s->x, x_shape, x_ndim, NULL, 0, s->reference, s->y_count), name);
}

/* The shared layer whose stride a churn thread flips between 1 and 2 while forwards run on it:
 * references for both strides; a forward must give one of them bit for bit. */
static fconv_conv *flip_layer;
static float flip_x[2 * 8 * 12 * 12], flip_reference[2][2 * 16 * 12 * 12];
static const int64_t flip_x_shape[4] = {2, 8, 12, 12}, flip_y_shape[2][4] = {{2, 16, 12, 12}, {2, 16, 6, 6}};
static const size_t flip_y_count[2] = {2 * 16 * 12 * 12, 2 * 16 * 6 * 6};

enum { CANARY_FLOATS = 16 };
static const uint32_t canary_bits = 0x7fc0dea1u;

/* Fills the CANARY_FLOATS floats after y[count]; canary_intact tells whether they survived. */
static void set_canary(float *y, size_t count) {
    size_t i;
    for (i = 0; i < CANARY_FLOATS; ++i) memcpy(&y[count + i], &canary_bits, sizeof canary_bits);
}

static int canary_intact(const float *y, size_t count) {
    size_t i;
    for (i = 0; i < CANARY_FLOATS; ++i)
        if (memcmp(&y[count + i], &canary_bits, sizeof canary_bits) != 0) return 0;
    return 1;
}

/* A forward on the flipping layer with the stride-1 shape, else the stride-2 one. */
static void flip_forward(float *y) {
    int k;
    for (k = 0; k < 2; ++k) {
        fconv_status st;
        set_canary(y, flip_y_count[k]);
        st = fconv_conv_forward_shaped(flip_layer, flip_x, flip_x_shape, 4, NULL, 0, y, flip_y_shape[k], 4);
        if (st == FCONV_ERR_SHAPE_MISMATCH) continue;
        if (st != FCONV_OK) { fail("flip forward", st); return; }
        if (!canary_intact(y, flip_y_count[k])) {
            fprintf(stderr, "stress: OVERRUN on the flipping layer\n");
            __sync_fetch_and_add(&mismatches, 1);
        } else if (memcmp(y, flip_reference[k], flip_y_count[k] * sizeof(float)) != 0) {
            fprintf(stderr, "stress: MISMATCH on the flipping layer (stride %d)\n", k + 1);
            __sync_fetch_and_add(&mismatches, 1);
        }
        return;
    }
}

static void *forward_worker(void *arg) {
    uint32_t state = (uint32_t)(uintptr_t)arg * 2654435761u + 1;
    long *ops = (long *)malloc(sizeof(long));
    float *y = NULL;
    size_t cap = 0;
    *ops = 0;
    while (!stop) {
        shared_layer *s = &shared[next(&state) % (uint32_t)n_shared];
        fconv_status st;
        size_t need = s->y_count > flip_y_count[0] ? s->y_count : flip_y_count[0];
        if (cap < need) {
            free(y);
            cap = need;
            y = (float *)malloc((cap + CANARY_FLOATS) * sizeof(float));
        }
        if (next(&state) % 8 == 0) {
            flip_forward(y);
            ++*ops;
            continue;
        }
        set_canary(y, s->y_count);
        st = fconv_conv_forward(s->conv, s->x, s->x_shape, s->x_ndim, NULL, 0, y, s->y_count);
        if (st != FCONV_OK) {
            fail(s->name, st);
        } else if (!canary_intact(y, s->y_count)) {
            fprintf(stderr, "stress: OVERRUN on %s\n", s->name);
            __sync_fetch_and_add(&mismatches, 1);
        } else if (memcmp(y, s->reference, s->y_count * sizeof(float)) != 0) {
            fprintf(stderr, "stress: MISMATCH on %s\n", s->name);
            __sync_fetch_and_add(&mismatches, 1);
        }
        ++*ops;
    }
    free(y);
    return ops;
}

/* Forks a child that runs a shared layer and the flipping one and compares with the
 * references; returns 0 when the child exited 0 (a hang is killed by its alarm). */
static int fork_and_check(uint32_t *state) {
    pid_t pid = fork();
    int status = 0;
    if (pid == 0) {
        shared_layer *s = &shared[next(state) % (uint32_t)n_shared];
        float *y = (float *)malloc((s->y_count + flip_y_count[0] + CANARY_FLOATS) * sizeof(float));
        alarm(20);
        if (fconv_conv_forward(s->conv, s->x, s->x_shape, s->x_ndim, NULL, 0, y, s->y_count) != FCONV_OK) _exit(2);
        if (memcmp(y, s->reference, s->y_count * sizeof(float)) != 0) _exit(3);
        flip_forward(y);
        _exit(mismatches || errors ? 4 : 0);
    }
    if (pid < 0) return -1;
    waitpid(pid, &status, 0);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return 0;
    fprintf(stderr, "stress: fork child failed (%s %d)\n", WIFSIGNALED(status) ? "signal" : "exit status",
            WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
    return 1;
}

/* Creates, runs, compresses, saves/loads, re-parameterizes and frees layers of its own. */
static void *churn_worker(void *arg) {
    static const char *const factorizations[] = {"cp", "tucker", "tt", "dense"};
    static const char *const implementations[] = {"factorized", "reconstructed", "auto", "reconstructed"};
    uint32_t state = (uint32_t)(uintptr_t)arg * 40503u + 7;
    long *ops = (long *)malloc(sizeof(long));
    char path[256];
    *ops = 0;
    snprintf(path, sizeof path, "%s/fconv-stress-%ld-%lu.safetensors", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp",
             (long)getpid(), (unsigned long)(uintptr_t)arg);
    while (!stop) {
        int f = (int)(next(&state) % 4);
        int64_t kernel[2] = {3, 3}, x_shape[4] = {1, 6, 10, 10}, y_shape[4], layer = (int64_t)(next(&state) % 3);
        fconv_conv *grid = make(6, 8, kernel, 2, factorizations[f], implementations[f], 0.5, 3, (int64_t)next(&state) % 100);
        fconv_conv *sub = NULL, *loaded = NULL, *compressed = NULL;
        float x[600], y[800], w[6 * 8 * 9];
        size_t i;
        if (!grid) continue;
        for (i = 0; i < 600; ++i) x[i] = uniform(&state);
        OK(fconv_conv_get_conv(grid, &layer, 1, &sub), "get_conv");
        OK(fconv_conv_output_shape(sub, x_shape, 4, NULL, 0, y_shape, 4), "output_shape");
        OK(fconv_conv_forward(sub, x, x_shape, 4, NULL, 0, y, 800), "churn forward");
        OK(fconv_conv_forward(grid, x, x_shape, 4, &layer, 1, y, 800), "churn grid forward");
        OK(fconv_conv_reset_parameters(grid, 0.05, next(&state)), "reset_parameters");
        if (next(&state) % 4 == 0) {
            OK(fconv_conv_save(grid, path), "save");
            OK(fconv_conv_load(path, &loaded), "load");
            OK(fconv_conv_forward(loaded, x, x_shape, 4, &layer, 1, y, 800), "loaded forward");
            fconv_conv_free(loaded);
        }
        if (next(&state) % 4 == 0) {
            fconv_options *o = NULL;
            int64_t ws[4] = {8, 6, 3, 3};
            for (i = 0; i < 6 * 8 * 9; ++i) w[i] = uniform(&state);
            OK(fconv_options_create(&o), "options");
            OK(fconv_options_set_string(o, "factorization", factorizations[next(&state) % 3]), "factorization");
            OK(fconv_options_set_float(o, "rank", 0.3), "rank");
            OK(fconv_options_set_int(o, "n_iter_max", 3), "n_iter_max");
            OK(fconv_conv_from_conv(w, ws, 4, NULL, o, &compressed), "from_conv");
            fconv_options_free(o);
            OK(fconv_conv_forward(compressed, x, x_shape, 4, NULL, 0, y, 800), "compressed forward");
        }
        {   /* Flip the shared layer's stride under the forwards. */
            int64_t stride[2] = {1 + (int64_t)(next(&state) % 2), 0}, pad[2] = {1, 1};
            stride[1] = stride[0];
            OK(fconv_conv_set(flip_layer, NULL, 0, stride, pad, NULL, 2, NULL, 0), "flip set");
        }
        if (next(&state) % 8 == 0) {   /* A spatial dimension added to a layer of its own. */
            int64_t x3_shape[5] = {1, 6, 3, 10, 10};
            float *x3 = (float *)calloc(6 * 3 * 10 * 10, sizeof(float)), *y3 = (float *)malloc(8 * 3 * 10 * 10 * sizeof(float));
            fconv_conv *t = make(6, 8, kernel, 2, factorizations[f], implementations[f], 0.5, 1, (int64_t)next(&state) % 100);
            OK(fconv_conv_transduct(t, 3, 0, 1, 1, 1), "transduct");
            OK(fconv_conv_forward(t, x3, x3_shape, 5, NULL, 0, y3, 8 * 3 * 10 * 10), "transducted forward");
            fconv_conv_free(t);
            free(x3);
            free(y3);
        }
        if (next(&state) % 64 == 0 && fork_and_check(&state) != 0) __sync_fetch_and_add(&errors, 1);
        /* Free the parent first: the sub-convolution keeps it alive and must still run. */
        fconv_conv_free(grid);
        OK(fconv_conv_forward(sub, x, x_shape, 4, NULL, 0, y, 800), "orphan sub forward");
        fconv_conv_free(sub);
        fconv_conv_free(compressed);
        ++*ops;
    }
    remove(path);
    return ops;
}

int main(int argc, char **argv) {
    double seconds = argc > 1 ? atof(argv[1]) : 20.0;
    int n_forward = argc > 2 ? atoi(argv[2]) : 8, n_churn = argc > 3 ? atoi(argv[3]) : 2, i;
    const int64_t k2[2] = {3, 3}, k1[1] = {5}, k3[3] = {3, 3, 3};
    const int64_t x2[4] = {2, 8, 12, 12}, x1[3] = {2, 8, 40}, x3[5] = {1, 8, 6, 6, 6};
    pthread_t *threads = (pthread_t *)calloc((size_t)(n_forward + n_churn), sizeof(pthread_t));
    long forward_ops = 0, churn_ops = 0, *samples = (long *)malloc(MAX_SAMPLES * sizeof(long));
    double *times = (double *)malloc(MAX_SAMPLES * sizeof(double)), t0, t_end;
    int n_samples = 0;
    fconv_conv *grid, *grid_sub = NULL;
    int64_t layer = 2;

    /* Shared layers and their serial references. */
    add_shared("cp/factorized", make(8, 16, k2, 2, "cp", "factorized", 0.5, 1, 1), x2, 4);
    add_shared("cp/mobilenet", make(8, 16, k2, 2, "cp", "mobilenet", 0.5, 1, 2), x2, 4);
    add_shared("cp/auto", make(8, 16, k2, 2, "cp", "auto", 0.5, 1, 3), x2, 4);
    add_shared("tucker/factorized", make(8, 16, k2, 2, "tucker", "factorized", 0.5, 1, 4), x2, 4);
    add_shared("tucker/reconstructed", make(8, 16, k2, 2, "tucker", "reconstructed", 0.5, 1, 5), x2, 4);
    add_shared("tucker/auto", make(8, 16, k2, 2, "tucker", "auto", 0.5, 1, 6), x2, 4);
    add_shared("tt/factorized", make(8, 16, k2, 2, "tt", "factorized", 0.5, 1, 7), x2, 4);
    add_shared("tt/auto", make(8, 16, k2, 2, "tt", "auto", 0.5, 1, 8), x2, 4);
    add_shared("dense/reconstructed", make(8, 16, k2, 2, "dense", "reconstructed", 0, 1, 9), x2, 4);
    add_shared("cp-1d/factorized", make(8, 8, k1, 1, "cp", "factorized", 0.5, 1, 10), x1, 3);
    add_shared("tucker-3d/auto", make(8, 8, k3, 3, "tucker", "auto", 0.5, 1, 11), x3, 5);
    grid = make(8, 16, k2, 2, "tt", "factorized", 0.5, 3, 12);
    OK(fconv_conv_get_conv(grid, &layer, 1, &grid_sub), "grid get_conv");
    add_shared("tt-grid[2]/sub", grid_sub, x2, 4);
    {
        uint32_t state = 4242u;
        int64_t pad[2] = {1, 1}, stride2[2] = {2, 2};
        size_t i;
        for (i = 0; i < sizeof flip_x / sizeof flip_x[0]; ++i) flip_x[i] = uniform(&state);
        flip_layer = make(8, 16, k2, 2, "cp", "factorized", 0.5, 1, 13);
        OK(fconv_conv_forward(flip_layer, flip_x, flip_x_shape, 4, NULL, 0, flip_reference[0], flip_y_count[0]), "flip reference");
        OK(fconv_conv_set(flip_layer, NULL, 0, stride2, pad, NULL, 2, NULL, 0), "flip set");
        OK(fconv_conv_forward(flip_layer, flip_x, flip_x_shape, 4, NULL, 0, flip_reference[1], flip_y_count[1]), "flip reference");
    }
    if (errors) return 1;

    printf("stress: %d shared layers, %d forward threads, %d churn threads, %.0f s, %d worker threads per call\n",
           n_shared, n_forward, n_churn, seconds, (int)fconv_get_num_threads());
    t0 = now();
    t_end = t0 + seconds;
    for (i = 0; i < n_forward; ++i) pthread_create(&threads[i], NULL, forward_worker, (void *)(uintptr_t)(i + 1));
    for (i = 0; i < n_churn; ++i) pthread_create(&threads[n_forward + i], NULL, churn_worker, (void *)(uintptr_t)(i + 1));
    while (now() < t_end && n_samples < MAX_SAMPLES) {
        usleep(250000);
        times[n_samples] = now() - t0;
        samples[n_samples++] = proc_status_kib("VmRSS:");
    }
    stop = 1;
    for (i = 0; i < n_forward + n_churn; ++i) {
        long *ops;
        pthread_join(threads[i], (void **)&ops);
        if (i < n_forward) forward_ops += *ops; else churn_ops += *ops;
        free(ops);
    }

    {
        /* RSS trend after warm-up: least-squares slope over the last three quarters. */
        int start = n_samples / 4, n = n_samples - start, j;
        double mt = 0, mr = 0, sxy = 0, sxx = 0, slope = 0, projected, allowed;
        long first = n_samples ? samples[start] : 0, last = n_samples ? samples[n_samples - 1] : 0, max_rss = 0;
        for (j = start; j < n_samples; ++j) {
            mt += times[j] / n;
            mr += (double)samples[j] / n;
            if (samples[j] > max_rss) max_rss = samples[j];
        }
        for (j = start; j < n_samples; ++j) {
            sxy += (times[j] - mt) * ((double)samples[j] - mr);
            sxx += (times[j] - mt) * (times[j] - mt);
        }
        if (sxx > 0) slope = sxy / sxx;
        projected = slope * (n > 1 ? times[n_samples - 1] - times[start] : 0);
        allowed = mr * 0.10 > 16384 ? mr * 0.10 : 16384;
        printf("stress: %ld forwards (%.0f/s) compared bit for bit: %ld mismatches; %ld churn rounds "
               "(create grid, get_conv, forwards, reset, save/load, from_conv, stride flips, transduct, fork, free parent first); %ld errors\n",
               forward_ops, forward_ops / seconds, mismatches, churn_ops, errors);
        printf("stress: RSS after warm-up %ld KiB, at end %ld KiB, max %ld KiB, trend %+.1f KiB/s "
               "(%+.0f KiB over the run, allowed %.0f); peak RSS (VmHWM) %ld KiB; %d samples\n",
               first, last, max_rss, slope, projected, allowed, proc_status_kib("VmHWM:"), n_samples);
        for (i = 0; i < n_shared; ++i) {
            if (shared[i].conv != grid_sub) fconv_conv_free(shared[i].conv);
            free(shared[i].x);
            free(shared[i].reference);
        }
        fconv_conv_free(grid);
        fconv_conv_free(grid_sub);
        free(threads);
        free(samples);
        free(times);
        if (mismatches || errors || projected > allowed) {
            printf("stress: FAILED\n");
            return 1;
        }
    }
    printf("stress: passed\n");
    return 0;
}
