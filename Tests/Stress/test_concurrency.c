/*
 * test_concurrency.c — regression tests for misuse across threads and processes: races the
 * header forbids must fail safely (an error status, never memory corruption, a crash, a hang or
 * another caller's object), and fork must leave the child usable.
 *
 * Usage: test_concurrency [SECONDS_PER_CASE=1] [CASE]   (CASE: run only the case of that name)
 *
 *   set_vs_forward   a thread alternates fconv_conv_set between stride 1 and 2 while two threads
 *                    run forwards whose output buffer holds exactly the stride-2 output and ends
 *                    at a PROT_NONE page: every forward is FCONV_OK with the stride-2 result or
 *                    FCONV_ERR_BUFFER_TOO_SMALL; none writes past its buffer (the guard page).
 *   free_vs_forward  threads run forwards on a layer that another thread frees: each call is
 *                    FCONV_OK or FCONV_ERR_INVALID_ARGUMENT, never a use after free.
 *   transduct_vs_forward  forwards on a 2-D input while another thread adds a spatial dimension:
 *                    each forward is FCONV_OK with the 2-D layer's result (before) or
 *                    FCONV_ERR_SHAPE_MISMATCH (after), never a mix or a fault.
 *   stale_handles    a freed handle stays invalid while new layers are created and freed (the
 *                    allocator reuses addresses): it never resolves to, or frees, a new layer.
 *   fork_churn       children forked while threads create, run, set and free layers (and run
 *                    multi-threaded forwards) create, run and free layers of their own, and
 *                    reuse the parent's layers; every child exits 0 within its alarm.
 *
 * Exit status 0 when every check passed; the last line says how many ran.
 */
#define _DEFAULT_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "factorconv.h"

static int failures = 0, checks = 0;
static double seconds_per_case = 1.0;

#define CHECK(cond, ...)                                                                        \
    do {                                                                                        \
        __sync_fetch_and_add(&checks, 1);                                                       \
        if (!(cond)) {                                                                          \
            __sync_fetch_and_add(&failures, 1);                                                 \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                                \
            fprintf(stderr, __VA_ARGS__);                                                       \
            fprintf(stderr, "\n");                                                              \
        }                                                                                       \
    } while (0)

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* A CP layer 8 -> 8, 3x3, padding 1, stride `stride`, with a bias. */
static fconv_conv *make_layer(int64_t stride, int64_t seed) {
    fconv_options *o = NULL;
    fconv_conv *c = NULL;
    int64_t kernel[2] = {3, 3};
    if (fconv_options_create(&o) != FCONV_OK) return NULL;
    fconv_options_set_string(o, "factorization", "cp");
    fconv_options_set_float(o, "rank", 0.5);
    fconv_options_set_int(o, "padding", 1);
    fconv_options_set_int(o, "stride", stride);
    fconv_options_set_int(o, "bias", 1);
    fconv_options_set_int(o, "seed", seed);
    fconv_conv_create(8, 8, kernel, 2, o, &c);
    fconv_options_free(o);
    return c;
}

/* `count` floats whose end touches a PROT_NONE page, so that a write past them faults. */
static float *guarded_floats(size_t count, void **mapping, size_t *mapping_bytes) {
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t bytes = count * sizeof(float);
    size_t data_pages = (bytes + page - 1) / page;
    char *base;
    *mapping_bytes = (data_pages + 1) * page;
    base = mmap(NULL, *mapping_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED) return NULL;
    mprotect(base + data_pages * page, page, PROT_NONE);
    *mapping = base;
    return (float *)(base + data_pages * page - bytes);
}

/* ---- set_vs_forward ------------------------------------------------------------------------ */

static fconv_conv *race_layer;
static int race_stop;   /* read and written with __atomic builtins (ThreadSanitizer-clean) */
#define STOPPED() __atomic_load_n(&race_stop, __ATOMIC_ACQUIRE)
#define SET_STOP(v) __atomic_store_n(&race_stop, (v), __ATOMIC_RELEASE)
static float race_input[1 * 8 * 64 * 64];
static float race_reference[8 * 32 * 32];   /* the stride-2 output */
static volatile long race_ok, race_too_small, race_other, race_mismatch;

static void *forward_with_exact_capacity(void *arg) {
    int64_t x_shape[4] = {1, 8, 64, 64};
    size_t capacity = 8 * 32 * 32, mapping_bytes;
    void *mapping = NULL;
    float *y = guarded_floats(capacity, &mapping, &mapping_bytes);
    (void)arg;
    while (!STOPPED()) {
        fconv_status s = fconv_conv_forward(race_layer, race_input, x_shape, 4, NULL, 0, y, capacity);
        if (s == FCONV_OK) {
            __sync_fetch_and_add(&race_ok, 1);
            /* atomic: the stride-2 parameters throughout, never a mix */
            if (memcmp(y, race_reference, sizeof race_reference) != 0) __sync_fetch_and_add(&race_mismatch, 1);
        } else if (s == FCONV_ERR_BUFFER_TOO_SMALL) {
            __sync_fetch_and_add(&race_too_small, 1);
        } else {
            __sync_fetch_and_add(&race_other, 1);
        }
    }
    munmap(mapping, mapping_bytes);
    return NULL;
}

static void *alternate_stride(void *arg) {
    int64_t one[2] = {1, 1}, two[2] = {2, 2}, pad[2] = {1, 1};
    long flips = 0;
    (void)arg;
    while (!STOPPED()) {
        fconv_conv_set(race_layer, NULL, 0, (flips++ & 1) ? two : one, pad, NULL, 2, NULL, 0);
    }
    return NULL;
}

static void test_set_vs_forward(void) {
    pthread_t forwards[2], setter;
    size_t i;
    for (i = 0; i < sizeof race_input / sizeof race_input[0]; i++) race_input[i] = (float)(i % 17) * 0.1f - 0.8f;
    int64_t x_shape[4] = {1, 8, 64, 64};
    race_layer = make_layer(2, 1);
    CHECK(race_layer != NULL, "create: %s", fconv_last_error_message());
    CHECK(fconv_conv_forward(race_layer, race_input, x_shape, 4, NULL, 0, race_reference, 8 * 32 * 32) == FCONV_OK,
          "reference forward: %s", fconv_last_error_message());
    SET_STOP(0);
    pthread_create(&forwards[0], NULL, forward_with_exact_capacity, NULL);
    pthread_create(&forwards[1], NULL, forward_with_exact_capacity, NULL);
    pthread_create(&setter, NULL, alternate_stride, NULL);
    usleep((useconds_t)(seconds_per_case * 1e6));
    SET_STOP(1);
    pthread_join(forwards[0], NULL);
    pthread_join(forwards[1], NULL);
    pthread_join(setter, NULL);
    CHECK(race_other == 0, "set_vs_forward: %ld forwards failed with another status", race_other);
    CHECK(race_mismatch == 0, "set_vs_forward: %ld OK forwards differ from the stride-2 output", race_mismatch);
    CHECK(race_ok > 0 && race_too_small > 0, "set_vs_forward: both outcomes expected (ok %ld, too small %ld)",
          race_ok, race_too_small);
    printf("set_vs_forward: %ld OK, %ld BUFFER_TOO_SMALL, no write past the buffer\n", race_ok, race_too_small);
    fconv_conv_free(race_layer);
}

/* ---- free_vs_forward ----------------------------------------------------------------------- */

static fconv_conv *victim;   /* swapped with __atomic builtins */
static volatile long victim_ok, victim_invalid, victim_other;

static void *forward_on_victim(void *arg) {
    int64_t x_shape[4] = {1, 8, 16, 16};
    static const float x[8 * 16 * 16];
    float y[8 * 16 * 16];
    (void)arg;
    while (!STOPPED()) {
        fconv_status s = fconv_conv_forward(__atomic_load_n(&victim, __ATOMIC_ACQUIRE), x, x_shape, 4, NULL, 0, y, sizeof y / sizeof y[0]);
        if (s == FCONV_OK) __sync_fetch_and_add(&victim_ok, 1);
        else if (s == FCONV_ERR_INVALID_ARGUMENT) __sync_fetch_and_add(&victim_invalid, 1);
        else __sync_fetch_and_add(&victim_other, 1);
    }
    return NULL;
}

static void test_free_vs_forward(void) {
    pthread_t threads[3];
    int i;
    long rounds = 0;
    double end = now() + seconds_per_case;
    victim = make_layer(1, 2);
    SET_STOP(0);
    for (i = 0; i < 3; i++) pthread_create(&threads[i], NULL, forward_on_victim, NULL);
    while (now() < end) {
        fconv_conv *old = __atomic_load_n(&victim, __ATOMIC_ACQUIRE);
        usleep(200);
        __atomic_store_n(&victim, make_layer(1, 3 + rounds), __ATOMIC_RELEASE);
        fconv_conv_free(old);   /* forwards may still be running on it */
        rounds++;
    }
    SET_STOP(1);
    for (i = 0; i < 3; i++) pthread_join(threads[i], NULL);
    fconv_conv_free(victim);
    CHECK(victim_other == 0, "free_vs_forward: %ld forwards failed with another status", victim_other);
    printf("free_vs_forward: %ld layers freed under forwards: %ld OK, %ld INVALID_ARGUMENT\n", rounds,
           victim_ok, victim_invalid);
}

/* ---- transduct_vs_forward ----------------------------------------------------------------- */

static fconv_conv *transduct_layer;
static float transduct_input[2 * 8 * 16 * 16], transduct_reference[2 * 8 * 16 * 16];
static volatile long transduct_ok, transduct_shape, transduct_other, transduct_mismatch;

static void *forward_until_transducted(void *arg) {
    int64_t x_shape[4] = {2, 8, 16, 16};
    float *y = malloc(sizeof transduct_reference);
    (void)arg;
    while (!STOPPED()) {
        fconv_status s = fconv_conv_forward(transduct_layer, transduct_input, x_shape, 4, NULL, 0, y,
                                            sizeof transduct_reference / sizeof(float));
        if (s == FCONV_OK) {
            __sync_fetch_and_add(&transduct_ok, 1);
            if (memcmp(y, transduct_reference, sizeof transduct_reference) != 0) __sync_fetch_and_add(&transduct_mismatch, 1);
        } else if (s == FCONV_ERR_SHAPE_MISMATCH) {
            __sync_fetch_and_add(&transduct_shape, 1);
        } else {
            __sync_fetch_and_add(&transduct_other, 1);
        }
    }
    free(y);
    return NULL;
}

static void test_transduct_vs_forward(void) {
    pthread_t threads[2];
    int64_t x_shape[4] = {2, 8, 16, 16};
    int i, rounds = 0;
    double end = now() + seconds_per_case;
    for (i = 0; i < 2 * 8 * 16 * 16; i++) transduct_input[i] = (float)((i * 7) % 23) * 0.05f - 0.5f;
    while (now() < end) {
        transduct_layer = make_layer(1, 40 + rounds);
        fconv_conv_forward(transduct_layer, transduct_input, x_shape, 4, NULL, 0, transduct_reference,
                           sizeof transduct_reference / sizeof(float));
        SET_STOP(0);
        for (i = 0; i < 2; i++) pthread_create(&threads[i], NULL, forward_until_transducted, NULL);
        usleep(2000);
        CHECK(fconv_conv_transduct(transduct_layer, 3, 0, 1, 1, 1) == FCONV_OK, "transduct: %s", fconv_last_error_message());
        usleep(2000);
        SET_STOP(1);
        for (i = 0; i < 2; i++) pthread_join(threads[i], NULL);
        fconv_conv_free(transduct_layer);
        rounds++;
    }
    CHECK(transduct_other == 0, "transduct_vs_forward: %ld forwards failed with another status", transduct_other);
    CHECK(transduct_mismatch == 0, "transduct_vs_forward: %ld OK forwards differ from the 2-D result", transduct_mismatch);
    CHECK(transduct_ok > 0 && transduct_shape > 0, "transduct_vs_forward: both outcomes expected (ok %ld, shape %ld)",
          transduct_ok, transduct_shape);
    printf("transduct_vs_forward: %d transducts under forwards: %ld OK, %ld SHAPE_MISMATCH\n", rounds, transduct_ok,
           transduct_shape);
}

/* ---- stale_handles ------------------------------------------------------------------------- */

static void test_stale_handles(void) {
    enum { N = 200 };
    fconv_conv *stale[N], *fresh[N];
    int64_t value;
    size_t count;
    int i, j, aliased = 0, accepted = 0;
    for (i = 0; i < N; i++) {
        stale[i] = make_layer(1, i);
        fconv_conv_free(stale[i]);
        fresh[i] = make_layer(1, 1000 + i);   /* the allocator may reuse the freed layer's memory */
    }
    for (i = 0; i < N; i++) {
        for (j = 0; j < N; j++) aliased += stale[i] == fresh[j];
        accepted += fconv_conv_get_ints(stale[i], FCONV_INFO_IN_CHANNELS, &value, 1, &count) == FCONV_OK;
        fconv_conv_free(stale[i]);   /* must not free whatever now lives at that address */
    }
    for (i = 0; i < N; i++)
        CHECK(fconv_conv_get_ints(fresh[i], FCONV_INFO_IN_CHANNELS, &value, 1, &count) == FCONV_OK,
              "a live layer was destroyed through a stale handle: %s", fconv_last_error_message());
    for (i = 0; i < N; i++) fconv_conv_free(fresh[i]);
    CHECK(aliased == 0, "stale_handles: %d stale handles equal a live one", aliased);
    CHECK(accepted == 0, "stale_handles: %d stale handles were accepted", accepted);
    printf("stale_handles: %d freed handles, none aliased or accepted\n", N);
}

/* ---- fork_churn ---------------------------------------------------------------------------- */

static fconv_conv *shared_layer;

static void *churn(void *arg) {
    int64_t x_shape[4] = {4, 8, 32, 32}, pad[2] = {1, 1}, stride[2] = {1, 1};
    static float x[4 * 8 * 32 * 32];
    static float y[2][4 * 8 * 32 * 32];
    long seed = (long)(intptr_t)arg;
    while (!STOPPED()) {
        fconv_conv *c = make_layer(1, seed++);
        fconv_conv_forward(c, x, x_shape, 4, NULL, 0, y[(intptr_t)arg & 1], 4 * 8 * 32 * 32);
        fconv_conv_set(c, NULL, 0, stride, pad, NULL, 2, NULL, 0);
        fconv_conv_forward(shared_layer, x, x_shape, 4, NULL, 0, y[(intptr_t)arg & 1], 4 * 8 * 32 * 32);
        fconv_conv_free(c);
    }
    return NULL;
}

/* The child's work: new layers, the inherited layer, a set and frees; exit code 0 if all OK. */
static int child_work(void) {
    int64_t x_shape[4] = {2, 8, 16, 16}, pad[2] = {1, 1}, stride[2] = {2, 2};
    static float x[2 * 8 * 16 * 16], y[2 * 8 * 16 * 16];
    fconv_conv *c;
    alarm(20);   /* a hang fails the test instead of blocking it */
    c = make_layer(1, 7);
    if (!c) return 2;
    if (fconv_conv_forward(c, x, x_shape, 4, NULL, 0, y, sizeof y / sizeof y[0]) != FCONV_OK) return 3;
    if (fconv_conv_set(c, NULL, 0, stride, pad, NULL, 2, NULL, 0) != FCONV_OK) return 4;
    if (fconv_conv_forward(c, x, x_shape, 4, NULL, 0, y, sizeof y / sizeof y[0]) != FCONV_OK) return 5;
    fconv_conv_free(c);
    if (fconv_conv_forward(shared_layer, x, x_shape, 4, NULL, 0, y, sizeof y / sizeof y[0]) != FCONV_OK) return 7;
    fconv_conv_free(shared_layer);
    return 0;
}

static void test_fork_churn(void) {
    pthread_t threads[2];
    int i, children = 0, bad = 0;
    double end = now() + seconds_per_case * 2;
    shared_layer = make_layer(1, 99);
    fconv_set_num_threads(2);
    SET_STOP(0);
    for (i = 0; i < 2; i++) pthread_create(&threads[i], NULL, churn, (void *)(intptr_t)(i * 100000));
    while (now() < end) {
        int status = 0;
        pid_t pid = fork();
        if (pid == 0) _exit(child_work());
        if (pid < 0) { perror("fork"); break; }
        waitpid(pid, &status, 0);
        children++;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            bad++;
            if (bad <= 5) {
                if (WIFSIGNALED(status)) fprintf(stderr, "fork child %d: killed by signal %d%s\n", children,
                                                 WTERMSIG(status), WTERMSIG(status) == SIGALRM ? " (hang)" : "");
                else fprintf(stderr, "fork child %d: exit status %d\n", children, WEXITSTATUS(status));
            }
        }
    }
    SET_STOP(1);
    for (i = 0; i < 2; i++) pthread_join(threads[i], NULL);
    fconv_conv_free(shared_layer);
    fconv_set_num_threads(0);
    CHECK(bad == 0, "fork_churn: %d of %d children failed", bad, children);
    printf("fork_churn: %d children forked during churn, %d failed\n", children, bad);
}

int main(int argc, char **argv) {
    fconv_conv *probe;
    if (argc > 1) seconds_per_case = atof(argv[1]);
    probe = make_layer(1, 0);
    if (!probe) {
        fprintf(stderr, "test_concurrency: cannot create a layer: %s\n", fconv_last_error_message());
        return 1;
    }
    fconv_conv_free(probe);
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc <= 2 || strcmp(argv[2], "set_vs_forward") == 0) test_set_vs_forward();
    if (argc <= 2 || strcmp(argv[2], "free_vs_forward") == 0) test_free_vs_forward();
    if (argc <= 2 || strcmp(argv[2], "transduct_vs_forward") == 0) test_transduct_vs_forward();
    if (argc <= 2 || strcmp(argv[2], "stale_handles") == 0) test_stale_handles();
    if (argc <= 2 || strcmp(argv[2], "fork_churn") == 0) test_fork_churn();
    printf("%s: %d of %d checks passed\n", failures ? "FAILED" : "test_concurrency", checks - failures, checks);
    return failures ? 1 : 0;
}
