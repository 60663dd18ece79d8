#include "factorconv_kernels.h"

int fck_avx512_available(void) {
#if defined(__x86_64__)
    // __builtin_cpu_supports also checks that the OS saves the AVX-512 register state.
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl");
#else
    return 0;
#endif
}
