import FactorConvKernels
#if canImport(Glibc)
import Glibc
#endif

/// Whether FactorConv's hand-written AVX-512 kernels (`FactorConvKernels`: `PackedGemm`,
/// `ChannelMixing`, the Winograd transforms, the per-mode depthwise conv, `ModeConvolution`) run
/// on this CPU; every caller falls back to BLAS and portable Swift otherwise.
/// `FACTORCONV_AVX512=0` turns them off (to compare, or to rule them out).
enum AVX512 {
    static let isAvailable: Bool = {
        if let setting = getenv("FACTORCONV_AVX512"), String(cString: setting) == "0" { return false }
        return fck_avx512_available() != 0
    }()
}
