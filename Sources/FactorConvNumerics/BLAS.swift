import FactorConvBLAS

/// Access to the run-time loaded OpenBLAS/LAPACKE (see factorconv_blas.h for why it is loaded
/// at run time rather than linked).
package enum BLAS {
    private static let loadResult: String? = {
        var message = [CChar](repeating: 0, count: 512)
        return factorconv_blas_load(&message, message.count) == 0 ? nil : String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }()

    /// Loads OpenBLAS and LAPACKE if needed. Every operation that reaches BLAS calls this first.
    /// - Throws: `.unsupported` with the loader's message when the libraries are missing.
    package static func require() throws {
        if let message = loadResult { throw FactorConvError(.unsupported, message) }
    }

    /// OpenBLAS's name for the kernels in use (e.g. "SkylakeX"), or "" when not loaded.
    package static var kernelName: String { String(cString: factorconv_blas_corename()) }
}
