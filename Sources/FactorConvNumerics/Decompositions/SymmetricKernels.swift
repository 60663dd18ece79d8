/// Parallel kernels on symmetric matrices: lower-triangle Gram matrices and mirroring. Only the
/// lower triangle (row-major) is computed and read; work is split over row blocks with
/// `Parallel.forEach` while BLAS runs single-threaded inside each worker. The split never changes
/// the arithmetic of an element, so results do not depend on the thread count.
extension DecompositionKit {
    /// Rows per tile of the blocked kernels.
    static let tile = 128

    /// The lower triangle of an n×n Gram matrix into `c` (leading dimension `ldc`):
    /// `columns == true`: `C = Aᵀ A` for `A` (k × n, lda) — the Gram of a factor's columns;
    /// `columns == false`: `C = A Aᵀ` for `A` (n × k, lda) — the Gram of an unfolding's rows.
    static func gramLower(_ a: UnsafePointer<Double>, n: Int, k: Int, lda: Int, columns: Bool,
                          into c: UnsafeMutablePointer<Double>, ldc: Int) {
        let blocks = balancedLowerBlocks(n, block: tile)
        Parallel.forEach(blocks.count) { b in
            let (lo, hi) = blocks[b]
            if k == 0 {
                for i in lo..<hi { for j in 0..<hi { c[i * ldc + j] = 0 } }
                return
            }
            if columns {
                Double.gemm(transA: true, transB: false, m: hi - lo, n: hi, k: k, alpha: 1,
                            a: a + lo, lda: lda, b: a, ldb: lda, beta: 0, c: c + lo * ldc, ldc: ldc)
            } else {
                Double.gemm(transA: false, transB: true, m: hi - lo, n: hi, k: k, alpha: 1,
                            a: a + lo * lda, lda: lda, b: a, ldb: lda, beta: 0, c: c + lo * ldc, ldc: ldc)
            }
        }
    }

    /// Copies the lower triangle of the n×n row-major matrix onto its upper triangle.
    static func mirrorLower(_ a: UnsafeMutablePointer<Double>, n: Int) {
        for i in 0..<n { for j in (i + 1)..<n { a[i * n + j] = a[j * n + i] } }
    }
}
