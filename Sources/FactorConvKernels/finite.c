// fck_all_finite: the NaN/Inf test behind FiniteCheck, which runs over every forward's input
// and output. Portable C that the compiler vectorizes, cloned for AVX2 (twice as many lanes;
// the clone is picked at load time), so it runs on any CPU, not only AVX-512 ones.
#include <stdint.h>
#include <string.h>

#include "factorconv_kernels.h"

#if defined(__x86_64__) && defined(__clang__)
#define FCK_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define FCK_CLONES
#endif

FCK_CLONES int fck_all_finite(const float *x, size_t n) {
    // An all-ones exponent plus one carries into the sign bit, and only NaN/Inf have an
    // all-ones exponent: OR-reducing that (unlike a floating-point sum) vectorizes.
    uint32_t flag = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t bits;
        memcpy(&bits, x + i, sizeof bits);
        flag |= (bits & 0x7F800000u) + 0x00800000u;
    }
    return (flag & 0x80000000u) == 0;
}
