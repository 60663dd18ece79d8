import FactorConvKernels
#if canImport(Glibc)
import Glibc
#endif

/// Whether the AVX2 + FMA kernels (`fck_depthwise_mode_avx2`, the plane kernels of
/// `PlaneKernel`, `fck_mode_conv_avx2` of `ModeConvolution`) run: on x86-64 CPUs that have AVX2
/// and FMA, used where the AVX-512 kernels (`AVX512`) are unavailable or turned off.
/// `FACTORCONV_AVX2=0` turns them off (to compare with the portable Swift loops).
enum AVX2 {
    static let isAvailable: Bool = {
        if let setting = getenv("FACTORCONV_AVX2"), String(cString: setting) == "0" { return false }
        return fck_avx2_available() != 0
    }()
}
