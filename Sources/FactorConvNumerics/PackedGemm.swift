import FactorConvKernels
#if canImport(Glibc)
import Glibc
#endif

/// GEMMs whose left matrix is packed once into 32-row panels and then reused on every call (the
/// transformed kernel of a Winograd convolution, fixed per weight), run by the AVX-512 kernels
/// of `FactorConvKernels`. OpenBLAS has no such interface: it re-packs A on every call, and its
/// small-N kernels run the Winograd GEMMs (e.g. 256 × 256 × 49) at ~95 GFLOP/s here, against
/// ~135 for these. Only available on CPUs with AVX-512 F/VL; callers use BLAS otherwise.
enum PackedGemm {
    /// Whether this CPU runs the kernels. `FACTORCONV_PACKED_GEMM=0` turns them off (to compare
    /// or to rule them out).
    static let isAvailable: Bool = {
        if let setting = getenv("FACTORCONV_PACKED_GEMM"), String(cString: setting) == "0" { return false }
        return fck_avx512_available() != 0
    }()
    /// Rows per panel; a packed matrix's rows are padded to a multiple of this.
    static let panelRows = Int(FCK_PANEL_ROWS)

    /// Rows of a packed matrix of `rows` rows, padding included.
    static func paddedRows(_ rows: Int) -> Int { (rows + panelRows - 1) / panelRows * panelRows }

    /// Packs the `rows` × `depth` row-major matrix `a` (row stride `lda`) into `packed`
    /// (`paddedRows(rows) · depth` floats, 64-byte aligned for full speed).
    static func pack(_ a: UnsafePointer<Float>, lda: Int, rows: Int, depth: Int, into packed: UnsafeMutablePointer<Float>) {
        fck_pack_panels(a, lda, Int32(rows), Int32(depth), packed)
    }

    /// C = A · B (or C += A · B when `accumulate`) with A given packed, starting at a panel
    /// boundary, `rows` rows; B row-major `depth` × `columns` (row stride `ldb`); C stored
    /// transposed: element (i, j) at `c[j · ldc + i]`.
    static func multiply(packed: UnsafePointer<Float>, rows: Int, depth: Int, b: UnsafePointer<Float>, ldb: Int,
                         columns: Int, c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool) {
        fck_gemm_packed(packed, Int32(rows), Int32(depth), b, ldb, Int32(columns), c, ldc, accumulate ? 1 : 0)
    }
}
