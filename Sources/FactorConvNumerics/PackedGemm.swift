import FactorConvKernels

/// GEMMs whose left matrix is packed once into 32-row panels and then reused on every call (the
/// transformed kernel of a Winograd convolution, fixed per weight), run by the hand-written
/// kernels of `FactorConvKernels`: AVX-512 where the CPU has it (`AVX512`), else AVX2 + FMA
/// (`AVX2`). OpenBLAS has no such interface: it re-packs A on every call, and its small-N
/// kernels are slower than these on the Winograd GEMMs' shapes (e.g. 256 × 256 × 49).
/// Unavailable on CPUs with neither; callers use BLAS then.
enum PackedGemm {
    /// The kernels: `fck_gemm_packed` (AVX-512, 32 rows × 12 columns per micro-tile) and
    /// `fck_gemm_packed_avx2` (16 rows × 6 columns per micro-tile, twice per panel).
    typealias Kernel = KernelSet

    /// The kernel this CPU runs, or nil.
    static let kernel: Kernel? = KernelSet.best
    /// Whether this CPU runs one of the kernels.
    static var isAvailable: Bool { kernel != nil }
    /// Rows per full panel (a last panel may have 16); calls start at a panel.
    static let panelRows = Int(FCK_PANEL_ROWS)

    /// Rows of a packed matrix of `rows` rows, padding included (panels of 32, and a last one of
    /// 16 when at most 16 rows remain).
    static func paddedRows(_ rows: Int) -> Int { Int(fck_packed_rows(Int32(rows))) }

    /// The deepest product the AVX2 kernel takes over from OpenBLAS (F(2×2, 3×3) and 1-D Winograd
    /// GEMMs; F(4×4) has its own bound, `WinogradKernel.avx2MaxDepth4x4`). Beyond 128 the kernel
    /// runs the depth in chunks and reloads C per chunk, but OpenBLAS re-packs the whole weight
    /// matrix on every call, which costs more on the few-column GEMMs of small planes (Tucker
    /// cores of 150–301 channels on 7×7 and 14×14); at depth 512 OpenBLAS was much faster
    /// (Benchmarks/RESULTS.md, "Measurements behind design choices").
    static let avx2MaxDepth = 320

    /// Whether a matrix of `rows` rows multiplying `depth` rows of B should be packed: on CPUs
    /// that run a kernel, when the padding wastes at most a tenth of the work (with more, e.g.
    /// 24 output channels padded to 32, OpenBLAS on the unpadded matrix is faster; both kernels
    /// compute whole 16-row halves of a panel, so the padding costs them alike), and for the
    /// AVX2 kernel when `depth` ≤ `maxDepth` (by default `avx2MaxDepth`).
    static func suits(rows: Int, depth: Int, avx2MaxDepth maxDepth: Int = avx2MaxDepth) -> Bool {
        guard let kernel, 10 * paddedRows(rows) <= 11 * rows else { return false }
        return kernel == .avx512 || depth <= maxDepth
    }

    /// Packs the `rows` × `depth` row-major matrix `a` (row stride `lda`) into `packed`
    /// (`paddedRows(rows) · depth` floats, 64-byte aligned for full speed).
    static func pack(_ a: UnsafePointer<Float>, lda: Int, rows: Int, depth: Int, into packed: UnsafeMutablePointer<Float>) {
        fck_pack_panels(a, lda, Int32(rows), Int32(depth), packed)
    }

    /// C = A · B (or C += A · B when `accumulate`) with A given packed, `rows` rows from a panel
    /// start to a multiple of 32 rows or to the matrix's end; B row-major `depth` × `columns`
    /// (row stride `ldb`); C stored transposed: element (i, j) at `c[j · ldc + i]`. Runs on
    /// `kernel` (tests pass each available one), which must be available.
    static func multiply(packed: UnsafePointer<Float>, rows: Int, depth: Int, b: UnsafePointer<Float>, ldb: Int,
                         columns: Int, c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool,
                         kernel: Kernel? = PackedGemm.kernel) {
        guard let kernel else { preconditionFailure("PackedGemm.multiply on a CPU without its kernels") }
        switch kernel {
        case .avx512:
            fck_gemm_packed(packed, Int32(rows), Int32(depth), b, ldb, Int32(columns), c, ldc, accumulate ? 1 : 0)
        case .avx2:
            fck_gemm_packed_avx2(packed, Int32(rows), Int32(depth), b, ldb, Int32(columns), c, ldc, accumulate ? 1 : 0)
        }
    }
}
