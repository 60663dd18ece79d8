/* The machine's float32 multiply-add peak: THREADS threads each run independent chains of vector
 * fused multiply-adds (AVX-512 when the CPU has it, else AVX2 + FMA, else scalar), with enough
 * chains in flight to cover the FMA latency on every FMA unit. No real kernel can run faster, so
 * FLOPs / this rate is a true lower bound on a layer's time, which a measured GEMM rate is not
 * (a GEMM also loads, stores and packs).
 * Prints "<GFLOP/s over all threads>". Usage: fma_peak [THREADS] [SECONDS] */
#define _POSIX_C_SOURCE 199309L
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

/* Independent accumulators per thread: more than FMA latency (4-5 cycles) x FMA units (2). They
 * are named one by one (EACH): in an array, compilers keep them in memory at -O2. */
#define EACH(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
enum { CHAINS = 12 };
static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

/* Each function runs `rounds` rounds of CHAINS FMAs and returns the FLOPs done (2 per lane) plus
 * a value that depends on every accumulator, so the compiler cannot drop the work. */
#if defined(__x86_64__)
__attribute__((target("avx512f"))) static double run_avx512(long rounds, float *sink) {
#define INIT(c) __m512 acc##c = _mm512_set1_ps((float)(c));
#define STEP(c) acc##c = _mm512_fmadd_ps(acc##c, a, b);
#define SUM(c) total += _mm512_reduce_add_ps(acc##c);
    const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
    EACH(INIT)
    for (long r = 0; r < rounds; r++) { EACH(STEP) }
    float total = 0;
    EACH(SUM)
    *sink = total;
    return 2.0 * 16 * CHAINS * (double)rounds;
#undef INIT
#undef STEP
#undef SUM
}

__attribute__((target("avx2,fma"))) static double run_avx2(long rounds, float *sink) {
#define INIT(c) __m256 acc##c = _mm256_set1_ps((float)(c));
#define STEP(c) acc##c = _mm256_fmadd_ps(acc##c, a, b);
#define SUM(c) { _mm256_storeu_ps(lanes, acc##c); for (int i = 0; i < 8; i++) total += lanes[i]; }
    const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
    EACH(INIT)
    for (long r = 0; r < rounds; r++) { EACH(STEP) }
    float lanes[8], total = 0;
    EACH(SUM)
    *sink = total;
    return 2.0 * 8 * CHAINS * (double)rounds;
#undef INIT
#undef STEP
#undef SUM
}
#endif

static double run_scalar(long rounds, float *sink) {
    float acc[CHAINS];
    for (int c = 0; c < CHAINS; c++) acc[c] = (float)c;
    for (long r = 0; r < rounds; r++)
        for (int c = 0; c < CHAINS; c++) acc[c] = acc[c] * 0.999999f + 1e-7f;
    float total = 0;
    for (int c = 0; c < CHAINS; c++) total += acc[c];
    *sink = total;
    return 2.0 * CHAINS * (double)rounds;
}

typedef double (*runner)(long, float *);

struct job {
    runner run;
    long rounds;
    double flops;
    float sink;
};

static void *work(void *arg) {
    struct job *job = arg;
    job->flops = job->run(job->rounds, &job->sink);
    return NULL;
}

/* The FLOP/s of `threads` threads each running `rounds` rounds at once. */
static double rate(runner run, int threads, long rounds) {
    pthread_t ids[64];
    struct job jobs[64];
    const double start = now();
    for (int t = 0; t < threads; t++) {
        jobs[t] = (struct job){run, rounds, 0, 0};
        pthread_create(&ids[t], NULL, work, &jobs[t]);
    }
    double flops = 0;
    for (int t = 0; t < threads; t++) {
        pthread_join(ids[t], NULL);
        flops += jobs[t].flops;
    }
    return flops / (now() - start);
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 1;
    const double seconds = argc > 2 ? atof(argv[2]) : 0.5;
    if (threads < 1 || threads > 64) threads = 1;
    runner run = run_scalar;
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) run = run_avx512;
    else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) run = run_avx2;
#endif
    /* Calibrate to about 5 ms per trial, then keep the fastest trial of `seconds` worth: other
     * processes on a shared machine only ever slow a trial down, and a short trial has a better
     * chance of running between their time slices. */
    long rounds = 1 << 16;
    while (rounds < (1L << 40)) {
        const double t0 = now();
        rate(run, threads, rounds);
        if (now() - t0 > 0.005) break;
        rounds *= 2;
    }
    double best = 0;
    for (const double end = now() + seconds; now() < end;) {
        const double r = rate(run, threads, rounds);
        if (r > best) best = r;
    }
    printf("%.1f\n", best / 1e9);
    return 0;
}
