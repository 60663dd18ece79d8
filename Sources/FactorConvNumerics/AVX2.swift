import FactorConvKernels
#if canImport(Glibc)
import Glibc
#endif

/// Whether the AVX2 + FMA kernels (the `*_avx2` functions of `FactorConvKernels`: channel
/// mixing, the per-mode and plane depthwise convs of `PlaneKernel`, the TT per-mode dense convs
/// of `ModeConvolution`, `PackedGemm`, the Winograd transforms) run: on x86-64 CPUs that have
/// AVX2 and FMA, used where the AVX-512 kernels (`AVX512`) are unavailable or turned off
/// (`KernelSet`). `FACTORCONV_AVX2=0` turns them off (to compare with OpenBLAS and the portable
/// Swift loops).
enum AVX2 {
    static let isAvailable: Bool = {
        if let setting = getenv("FACTORCONV_AVX2"), String(cString: setting) == "0" { return false }
        return fck_avx2_available() != 0
    }()
}
