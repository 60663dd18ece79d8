/// The instruction sets FactorConv's hand-written kernels (`FactorConvKernels`) come in, in order
/// of preference: a caller that has both runs the first available one, and its portable or BLAS
/// path when neither is. Tests pass each available one explicitly.
enum KernelSet: CaseIterable, Sendable, CustomStringConvertible {
    /// AVX-512 F/VL (`AVX512`).
    case avx512
    /// AVX2 and FMA (`AVX2`): the `*_avx2` kernels.
    case avx2

    /// Whether this CPU runs it (and it is not turned off: `FACTORCONV_AVX512=0`, `FACTORCONV_AVX2=0`).
    var isAvailable: Bool {
        switch self {
        case .avx512: AVX512.isAvailable
        case .avx2: AVX2.isAvailable
        }
    }

    /// The first available one, or nil.
    static let best: KernelSet? = allCases.first { $0.isAvailable }
    /// Every available one (for tests).
    static var available: [KernelSet] { allCases.filter(\.isAvailable) }

    var description: String { self == .avx512 ? "avx512" : "avx2" }
}
