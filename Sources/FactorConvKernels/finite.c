// fck_all_finite: the NaN/Inf test behind FiniteCheck, which runs over every forward's input
// and output. Portable C that the compiler vectorizes, compiled twice: for AVX2 (twice as many
// lanes) and for the baseline; the AVX2 copy is used when the CPU has it, so it runs on any CPU,
// not only AVX-512 ones. The choice is made in C at the first call rather than by
// target_clones: that attribute makes an ifunc whose resolver runs during relocation, before a
// sanitizer runtime is ready (ThreadSanitizer builds crashed at load time).
#include <stdint.h>
#include <string.h>

#include "factorconv_kernels.h"

// An all-ones exponent plus one carries into the sign bit, and only NaN/Inf have an all-ones
// exponent: OR-reducing that (unlike a floating-point sum) vectorizes. Inlined into each copy,
// so that each is vectorized for its own target.
static inline __attribute__((always_inline)) int all_finite(const float *x, size_t n) {
    uint32_t flag = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t bits;
        memcpy(&bits, x + i, sizeof bits);
        flag |= (bits & 0x7F800000u) + 0x00800000u;
    }
    return (flag & 0x80000000u) == 0;
}

static int all_finite_baseline(const float *x, size_t n) { return all_finite(x, n); }

#if defined(__x86_64__) && defined(__clang__)
__attribute__((target("avx2"))) static int all_finite_avx2(const float *x, size_t n) { return all_finite(x, n); }

int fck_all_finite(const float *x, size_t n) {
    // 0 unknown, 1 baseline, 2 AVX2; a race only computes the same answer twice.
    static int choice;
    int c = __atomic_load_n(&choice, __ATOMIC_RELAXED);
    if (c == 0) {
        c = __builtin_cpu_supports("avx2") ? 2 : 1;
        __atomic_store_n(&choice, c, __ATOMIC_RELAXED);
    }
    return c == 2 ? all_finite_avx2(x, n) : all_finite_baseline(x, n);
}
#else
int fck_all_finite(const float *x, size_t n) { return all_finite_baseline(x, n); }
#endif
