/*
 * fuzz_load.c — a random-mutation fuzzer of fconv_conv_load and fconv_bundle_open (the
 * .safetensors layer and model bundle loaders).
 *
 * It writes valid layer files (CP, Tucker, TT, Dense; bias; layer grids) with fconv_conv_save
 * and a model bundle of several of them with fconv_bundle_save, then repeatedly mutates a copy
 * (bit flips, byte writes, insertions, deletions, truncation, chunk duplication, header-length
 * rewrites, number and token splices in the JSON header), loads it both as a layer and as a
 * bundle (at most one may succeed), and when a load succeeds runs a forward and a save/load
 * round trip on the layer, or takes every layer out of the bundle and saves and reopens it.
 * Inputs run in forked workers: a worker killed by a signal (a Swift trap is SIGILL/SIGTRAP)
 * is a crash; its input is kept in <dir>/crashes/ and fuzzing goes on with a new worker.
 *
 * Usage: fuzz_load SECONDS [SEED] [DIR]      exit status 0 when no crash was found, 1 otherwise.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "factorconv.h"

#define MAX_SEEDS 16
#define BATCH 200

typedef struct { unsigned char *data; size_t size; } buffer;

static uint64_t rng_state;
static uint64_t next_random(void) {
    rng_state ^= rng_state << 13; rng_state ^= rng_state >> 7; rng_state ^= rng_state << 17;
    return rng_state;
}
static size_t below(size_t n) { return n ? (size_t)(next_random() % n) : 0; }

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int read_file(const char *path, buffer *out) {
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    out->data = malloc((size_t)n + 1);
    out->size = fread(out->data, 1, (size_t)n, f);
    fclose(f);
    return 0;
}

static int write_file(const char *path, const unsigned char *data, size_t size) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    fwrite(data, 1, size, f);
    fclose(f);
    return 0;
}

/* Creates one seed layer file; returns 0 on success. */
static int make_seed(const char *path, const char *factorization, int64_t order, int bias, int64_t n_layers) {
    fconv_options *o = NULL;
    fconv_conv *conv = NULL;
    int64_t kernel[3] = {3, 2, 2};
    if (fconv_options_create(&o) != FCONV_OK) return -1;
    fconv_options_set_string(o, "factorization", factorization);
    fconv_options_set_string(o, "implementation", strcmp(factorization, "dense") ? "factorized" : "reconstructed");
    fconv_options_set_int(o, "bias", bias);
    fconv_options_set_int(o, "n_layers", n_layers);
    fconv_options_set_int(o, "padding", 1);
    fconv_status s = fconv_conv_create(3, 4, kernel, (size_t)order, o, &conv);
    fconv_options_free(o);
    if (s != FCONV_OK) return -1;
    if (n_layers > 1) {
        int64_t layer = 1, stride[3] = {2, 1, 1};
        float b[4] = {1, 2, 3, 4};
        fconv_conv_set(conv, &layer, 1, stride, NULL, NULL, (size_t)order, bias ? b : NULL, bias ? 4 : 0);
    }
    s = fconv_conv_save(conv, path);
    fconv_conv_free(conv);
    return s == FCONV_OK ? 0 : -1;
}

/* Overwrites a run of digits in the JSON header with a hostile number. */
static void splice_number(buffer *b) {
    static const char *numbers[] = {"0", "-1", "18446744073709551615", "4611686018427387904", "9007199254740993",
                                    "1e308", "1.5", "2147483648", "65536", "99999999999999999999999", "3"};
    size_t header_end = b->size < 8 ? b->size : 8 + (size_t)(b->data[0] | b->data[1] << 8);
    if (header_end > b->size) header_end = b->size;
    for (int tries = 0; tries < 20; tries++) {
        size_t i = 8 + below(header_end > 8 ? header_end - 8 : 1);
        if (i >= b->size || b->data[i] < '0' || b->data[i] > '9') continue;
        size_t j = i;
        while (j < b->size && b->data[j] >= '0' && b->data[j] <= '9') j++;
        const char *n = numbers[below(sizeof numbers / sizeof *numbers)];
        size_t len = strlen(n), size = b->size - (j - i) + len;
        unsigned char *d = malloc(size + 1);
        memcpy(d, b->data, i);
        memcpy(d + i, n, len);
        memcpy(d + i + len, b->data + j, b->size - j);
        /* keep the 8-byte header length consistent half of the time */
        if (next_random() & 1) {
            uint64_t h = 0;
            for (int k = 7; k >= 0; k--) h = h << 8 | d[k];
            h = h + len - (j - i);
            for (int k = 0; k < 8; k++) d[k] = (unsigned char)(h >> (8 * k));
        }
        free(b->data);
        b->data = d;
        b->size = size;
        return;
    }
}

static void mutate(buffer *b) {
    int n = 1 + (int)below(6);
    for (int m = 0; m < n; m++) {
        size_t size = b->size;
        switch (below(9)) {
        case 0: if (size) b->data[below(size)] ^= (unsigned char)(1u << below(8)); break;
        case 1: if (size) b->data[below(size)] = (unsigned char)next_random(); break;
        case 2: if (size) b->size = below(size); break;
        case 3: { /* delete a range */
            if (size < 2) break;
            size_t i = below(size), len = 1 + below(size - i < 64 ? size - i : 64);
            memmove(b->data + i, b->data + i + len, size - i - len);
            b->size -= len;
            break;
        }
        case 4: { /* insert random or duplicated bytes */
            size_t len = 1 + below(32), i = below(size + 1);
            unsigned char *d = malloc(size + len + 1);
            memcpy(d, b->data, i);
            for (size_t k = 0; k < len; k++) d[i + k] = size && (next_random() & 1) ? b->data[below(size)] : (unsigned char)next_random();
            memcpy(d + i + len, b->data + i, size - i);
            free(b->data);
            b->data = d;
            b->size = size + len;
            break;
        }
        case 5: { /* rewrite the header length */
            if (size < 8) break;
            uint64_t v = next_random() & 1 ? next_random() : (uint64_t)below(size + 16);
            for (int k = 0; k < 8; k++) b->data[k] = (unsigned char)(v >> (8 * k));
            break;
        }
        case 6: case 7: splice_number(b); break;
        case 8: { /* replace a JSON structural character */
            static const char tokens[] = "{}[]\":,0-e\\";
            if (size > 8) b->data[8 + below(size - 8)] = (unsigned char)tokens[below(sizeof tokens - 1)];
            break;
        }
        }
    }
}

/* Loads the file; on success exercises the layer. Returns the load status. */
static fconv_status exercise(const char *path, const char *resave) {
    fconv_conv *conv = NULL;
    fconv_status s = fconv_conv_load(path, &conv);
    if (s != FCONV_OK) return s;
    int64_t in_c[1], order[1], layers[8], shape[8], out_shape[8];
    size_t count = 0, n_layers = 0;
    fconv_conv_get_ints(conv, FCONV_INFO_IN_CHANNELS, in_c, 1, &count);
    fconv_conv_get_ints(conv, FCONV_INFO_ORDER, order, 1, &count);
    fconv_conv_get_ints(conv, FCONV_INFO_N_LAYERS, layers, 8, &n_layers);
    int64_t index[8] = {0};
    if (order[0] >= 1 && order[0] <= 4 && in_c[0] <= 64) {
        shape[0] = 1; shape[1] = in_c[0];
        for (int64_t d = 0; d < order[0]; d++) shape[2 + d] = 6;
        if (fconv_conv_output_shape(conv, shape, (size_t)order[0] + 2, index, n_layers, out_shape, 8) == FCONV_OK) {
            size_t in_n = 1, out_n = 1;
            for (int64_t d = 0; d < order[0] + 2; d++) { in_n *= (size_t)shape[d]; out_n *= (size_t)out_shape[d]; }
            if (out_n < (1u << 24)) {
                float *x = calloc(in_n, sizeof *x), *y = calloc(out_n, sizeof *y);
                for (size_t i = 0; i < in_n; i++) x[i] = (float)(i % 7) - 3.0f;
                fconv_conv_forward(conv, x, shape, (size_t)order[0] + 2, index, n_layers, y, out_n);
                free(x);
                free(y);
            }
        }
    }
    char repr[4096];
    fconv_conv_repr(conv, repr, sizeof repr, NULL);
    if (fconv_conv_save(conv, resave) == FCONV_OK) {
        fconv_conv *again = NULL;
        if (fconv_conv_load(resave, &again) != FCONV_OK) {
            fprintf(stderr, "a re-saved layer failed to load: %s\n", fconv_last_error_message());
            abort();
        }
        fconv_conv_free(again);
    }
    fconv_conv_free(conv);
    return s;
}

/* Opens the file as a model bundle; on success takes every layer out by name and saves the
 * bundle again, which must open. Returns the open status. */
static fconv_status exercise_bundle(const char *path, const char *resave) {
    fconv_bundle *bundle = NULL, *again = NULL;
    fconv_status s = fconv_bundle_open(path, &bundle);
    if (s != FCONV_OK) return s;
    size_t count = 0;
    fconv_bundle_count(bundle, &count);
    const char **names = calloc(count + 1, sizeof *names);
    fconv_conv **convs = calloc(count + 1, sizeof *convs);
    for (size_t i = 0; i < count; i++) {
        if (fconv_bundle_name(bundle, i, &names[i]) != FCONV_OK ||
            fconv_bundle_get_layer(bundle, names[i], &convs[i]) != FCONV_OK) {
            fprintf(stderr, "layer %zu of an opened bundle cannot be taken out: %s\n", i, fconv_last_error_message());
            abort();
        }
    }
    if (fconv_bundle_save(resave, count, names, (const fconv_conv *const *)convs) == FCONV_OK) {
        if (fconv_bundle_open(resave, &again) != FCONV_OK) {
            fprintf(stderr, "a re-saved bundle failed to open: %s\n", fconv_last_error_message());
            abort();
        }
        fconv_bundle_free(again);
    }
    for (size_t i = 0; i < count; i++) fconv_conv_free(convs[i]);
    free(convs);
    free(names);
    fconv_bundle_free(bundle);
    return s;
}

/* Writes a bundle of the first `n` seed layers' files (loaded back) to `path`; 0 on success. */
static int make_bundle_seed(const char *path, const char *dir, size_t n) {
    static const char *const names[] = {"features.0", "features.1.conv", "head", "a.b.c.d", "x", "y", "z", "w"};
    fconv_conv *convs[8] = {NULL};
    char layer_path[4096];
    fconv_status s = FCONV_OK;
    for (size_t i = 0; i < n && s == FCONV_OK; i++) {
        snprintf(layer_path, sizeof layer_path, "%s/seed-%zu.safetensors", dir, i);
        s = fconv_conv_load(layer_path, &convs[i]);
    }
    if (s == FCONV_OK) s = fconv_bundle_save(path, n, names, (const fconv_conv *const *)convs);
    for (size_t i = 0; i < n; i++) fconv_conv_free(convs[i]);
    return s == FCONV_OK ? 0 : -1;
}

int main(int argc, char **argv) {
    double seconds = argc > 1 ? atof(argv[1]) : 60;
    uint64_t seed = argc > 2 ? strtoull(argv[2], NULL, 10) : (uint64_t)time(NULL);
    const char *dir = argc > 3 ? argv[3] : "/tmp/factorconv-fuzz";
    char path[4096], cur[4096], resave[4096], crash[4096];
    mkdir(dir, 0755);
    snprintf(path, sizeof path, "%s/crashes", dir);
    mkdir(path, 0755);
    fconv_set_memory_limit(512u << 20);   /* refuse anything large instead of swapping */

    static const struct { const char *f; int64_t order; int bias; int64_t layers; } configs[] = {
        {"cp", 2, 1, 1}, {"tucker", 2, 0, 1}, {"tt", 1, 1, 1}, {"dense", 2, 1, 1},
        {"cp", 1, 1, 3}, {"tucker", 3, 1, 3}, {"tt", 2, 0, 3}, {"dense", 1, 1, 3},
    };
    buffer seeds[MAX_SEEDS];
    int n_seeds = 0;
    for (size_t i = 0; i < sizeof configs / sizeof *configs; i++) {
        snprintf(path, sizeof path, "%s/seed-%zu.safetensors", dir, i);
        if (make_seed(path, configs[i].f, configs[i].order, configs[i].bias, configs[i].layers) != 0 ||
            read_file(path, &seeds[n_seeds]) != 0) {
            fprintf(stderr, "cannot create seed %zu: %s\n", i, fconv_last_error_message());
            return 2;
        }
        if (exercise(path, path) != FCONV_OK) {
            fprintf(stderr, "seed %zu does not load: %s\n", i, fconv_last_error_message());
            return 2;
        }
        n_seeds++;
    }
    snprintf(path, sizeof path, "%s/seed-bundle.safetensors", dir);
    if (make_bundle_seed(path, dir, sizeof configs / sizeof *configs) != 0 || read_file(path, &seeds[n_seeds]) != 0 ||
        exercise_bundle(path, path) != FCONV_OK) {
        fprintf(stderr, "cannot create the bundle seed: %s\n", fconv_last_error_message());
        return 2;
    }
    n_seeds++;

    long long executions = 0, crashes = 0, loaded = 0, bundles = 0;
    long long statuses[16] = {0};
    double start = now();
    unsigned batch_index = 0;
    while (now() - start < seconds) {
        int pipefd[2];
        if (pipe(pipefd) != 0) return 2;
        uint64_t batch_seed = seed * 1000003u + batch_index++;
        snprintf(cur, sizeof cur, "%s/current-%u.safetensors", dir, batch_index % 2);
        pid_t pid = fork();
        if (pid == 0) {
            close(pipefd[0]);
            struct rlimit limit = {8ull << 30, 8ull << 30};
            setrlimit(RLIMIT_AS, &limit);
            rng_state = batch_seed | 1;
            snprintf(resave, sizeof resave, "%s/resave-%d.safetensors", dir, (int)getpid());
            long long counts[18] = {0};
            for (int i = 0; i < BATCH; i++) {
                buffer b = seeds[below((size_t)n_seeds)];
                unsigned char *copy = malloc(b.size + 1);
                memcpy(copy, b.data, b.size);
                b.data = copy;
                mutate(&b);
                write_file(cur, b.data, b.size);
                free(b.data);
                fconv_status s = exercise(cur, resave), sb = exercise_bundle(cur, resave);
                if (s == FCONV_OK && sb == FCONV_OK) {
                    fprintf(stderr, "a file loaded both as a layer and as a bundle\n");
                    abort();
                }
                counts[s >= 0 && s < 16 ? s : 15]++;
                counts[16]++;
                counts[17] += sb == FCONV_OK;
            }
            unlink(resave);
            if (write(pipefd[1], counts, sizeof counts) != (ssize_t)sizeof counts) _exit(3);
            _exit(0);
        }
        close(pipefd[1]);
        long long counts[18] = {0};
        ssize_t got = read(pipefd[0], counts, sizeof counts);
        close(pipefd[0]);
        int status = 0;
        waitpid(pid, &status, 0);
        if (WIFSIGNALED(status) || got != (ssize_t)sizeof counts) {
            crashes++;
            snprintf(crash, sizeof crash, "%s/crashes/crash-%lld.safetensors", dir, crashes);
            rename(cur, crash);
            fprintf(stderr, "CRASH (signal %d) on batch seed %llu; input kept as %s\n",
                    WIFSIGNALED(status) ? WTERMSIG(status) : 0, (unsigned long long)batch_seed, crash);
            executions += BATCH / 2;   /* unknown part of the batch ran */
            continue;
        }
        executions += counts[16];
        loaded += counts[0];
        bundles += counts[17];
        for (int k = 0; k < 16; k++) statuses[k] += counts[k];
    }
    double elapsed = now() - start;
    printf("fuzz_load: %lld executions in %.0f s (%.0f/s), %lld loaded as a layer, %lld opened as a bundle, %lld crashes\n",
           executions, elapsed, (double)executions / elapsed, loaded, bundles, crashes);
    printf("statuses:");
    for (int k = 0; k < 16; k++)
        if (statuses[k]) printf(" %s=%lld", fconv_status_string(k), statuses[k]);
    printf("\n");
    return crashes ? 1 : 0;
}
