/*
 * test_interrupt.c — fconv_interrupt from a signal handler stops the long calls in progress.
 *
 * A SIGALRM handler calls fconv_interrupt (async-signal-safe; the signal may land on any thread,
 * the library's workers included). A decomposition that would never converge arms a one-shot
 * timer from its first progress report, when it is certainly running; it must return
 * FCONV_ERR_CANCELLED soon after the signal and create nothing. A forward that would run far
 * longer than the test waits runs under a periodic timer (an interrupt reaches only calls already
 * under way, and nothing marks when the forward has started); it must return FCONV_ERR_CANCELLED
 * with part of its output never written, and leave the layer giving the same results as before.
 * Calls started after the interrupts run normally. Exits 1 on any failure.
 */
#define _XOPEN_SOURCE 700

#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "factorconv.h"

/* How long an interrupted call may take to return. Check points come every few milliseconds
 * natively; the margin covers valgrind, which runs the library tens of times slower. */
#define RETURNS_WITHIN 10.0

static volatile sig_atomic_t fired;
static struct timespec fired_at;
static int failures;

static void on_alarm(int signal_number) {
    (void)signal_number;
    clock_gettime(CLOCK_MONOTONIC, &fired_at);   /* async-signal-safe, as fconv_interrupt */
    fired = 1;
    fconv_interrupt();
}

/* Arms SIGALRM `ms` milliseconds from now, then every `period_ms` (0: once); `arm(0, 0)`
 * disarms it and waits for a signal already on its way to be delivered. */
static void arm(long ms, long period_ms) {
    struct itimerval timer;
    memset(&timer, 0, sizeof timer);
    timer.it_value.tv_sec = ms / 1000;
    timer.it_value.tv_usec = (ms % 1000) * 1000;
    timer.it_interval.tv_sec = period_ms / 1000;
    timer.it_interval.tv_usec = (period_ms % 1000) * 1000;
    if (ms != 0) fired = 0;
    setitimer(ITIMER_REAL, &timer, NULL);
    if (ms == 0) {
        struct timespec pause = {0, 100 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
}

static double seconds_since(const struct timespec *start) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - start->tv_sec) + 1e-9 * (double)(now.tv_nsec - start->tv_nsec);
}

static void expect(int ok, const char *what) {
    printf("%s %s\n", ok ? "ok  " : "FAIL", what);
    if (!ok) failures++;
}

/* Arms the timer on the first progress report: the decomposition is then certainly running. */
static int32_t arm_on_first(int64_t iteration, int64_t max_iterations, double error, void *user_data) {
    (void)max_iterations; (void)error; (void)user_data;
    if (iteration == 1) arm(50, 0);
    return 1;
}

static float uniform(uint64_t *state) {
    *state = *state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (float)((*state >> 40) & 0xFFFFFF) / (float)0x1000000 - 0.5f;
}

static void fill(float *values, size_t count, uint64_t seed) {
    for (size_t i = 0; i < count; i++) values[i] = uniform(&seed);
}

static void decomposition(void) {
    static float kernel[16 * 16 * 3 * 3];
    const int64_t shape[4] = {16, 16, 3, 3};
    fill(kernel, sizeof kernel / sizeof kernel[0], 1);
    fconv_options *options = NULL;
    fconv_options_create(&options);
    fconv_options_set_string(options, "factorization", "cp");
    fconv_options_set_string(options, "rank", "same");
    fconv_options_set_int(options, "n_iter_max", 1000000);
    fconv_options_set_int(options, "n_restarts", 1);
    fconv_options_set_float(options, "tol", 0.0);
    fconv_options_set_progress(options, arm_on_first, NULL);

    fconv_conv *conv = (fconv_conv *)&conv;   /* must come back NULL */
    fconv_status status = fconv_conv_from_conv(kernel, shape, 4, NULL, options, &conv);
    double seconds = seconds_since(&fired_at);
    expect(fired && status == FCONV_ERR_CANCELLED, "from_conv interrupted by fconv_interrupt in a signal handler");
    if (status != FCONV_ERR_CANCELLED) printf("     status %s: %s\n", fconv_status_string(status), fconv_last_error_message());
    expect(fired && seconds < RETURNS_WITHIN, "from_conv returned promptly after the signal");
    printf("     %.3f s after the signal\n", seconds);
    expect(conv == NULL, "from_conv created no layer");
    fconv_conv_free(conv);

    /* Started after the interrupt: runs to its end. */
    fconv_options_set_progress(options, NULL, NULL);
    fconv_options_set_int(options, "n_iter_max", 2);
    status = fconv_conv_from_conv(kernel, shape, 4, NULL, options, &conv);
    expect(status == FCONV_OK && conv != NULL, "a from_conv started after the interrupt succeeds");
    fconv_conv_free(conv);
    fconv_options_free(options);
}

static void forward(void) {
    /* A 3-D kernel of 11^3 taps on 16 channels: much arithmetic on little memory. */
    enum { C = 16, K = 11, S = 40, SMALL = 2 };
    const int64_t kernel_size[3] = {K, K, K};
    const int64_t input_shape[5] = {1, C, S, S, S}, small_shape[5] = {1, C, SMALL, SMALL, SMALL};
    const size_t count = (size_t)C * S * S * S, small_count = (size_t)C * SMALL * SMALL * SMALL;
    float *x = malloc(count * sizeof *x), *y = malloc(count * sizeof *y);
    float *small = malloc(small_count * sizeof *small);
    float *before = malloc(small_count * sizeof *before), *after = malloc(small_count * sizeof *after);
    fill(x, count, 2);
    fill(small, small_count, 3);

    fconv_options *options = NULL;
    fconv_options_create(&options);
    fconv_options_set_string(options, "factorization", "dense");
    fconv_options_set_string(options, "implementation", "reconstructed");
    fconv_options_set_int(options, "padding", K / 2);
    fconv_conv *conv = NULL;
    fconv_status status = fconv_conv_create(C, C, kernel_size, 3, options, &conv);
    expect(status == FCONV_OK, "dense 3-D layer created");
    fconv_options_free(options);
    if (status != FCONV_OK) return;
    fconv_conv_forward(conv, small, small_shape, 5, NULL, 0, before, small_count);

    for (size_t i = 0; i < count; i++) y[i] = NAN;
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    arm(50, 50);
    status = fconv_conv_forward(conv, x, input_shape, 5, NULL, 0, y, count);
    double seconds = seconds_since(&start);
    arm(0, 0);
    expect(fired && status == FCONV_ERR_CANCELLED, "forward interrupted by fconv_interrupt in a signal handler");
    if (status != FCONV_ERR_CANCELLED) printf("     status %s\n", fconv_status_string(status));
    expect(seconds < RETURNS_WITHIN, "forward returned promptly");
    printf("     %.3f s after it started\n", seconds);
    size_t unwritten = 0;
    for (size_t i = 0; i < count; i++) unwritten += isnan(y[i]) ? 1 : 0;
    expect(unwritten > 0, "the interrupted forward skipped the rest of its work");

    status = fconv_conv_forward(conv, small, small_shape, 5, NULL, 0, after, small_count);
    expect(status == FCONV_OK && memcmp(before, after, small_count * sizeof *after) == 0,
           "the layer gives the same results after the interrupted forward");
    fconv_conv_free(conv);
    free(x); free(y); free(small); free(before); free(after);
}

int main(void) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = on_alarm;
    action.sa_flags = SA_RESTART;
    sigemptyset(&action.sa_mask);
    sigaction(SIGALRM, &action, NULL);
    /* One worker thread keeps the calls long on any machine. */
    fconv_set_num_threads(1);

    decomposition();
    forward();
    printf("%s\n", failures == 0 ? "interrupt: all checks passed" : "interrupt: FAILED");
    return failures == 0 ? 0 : 1;
}
