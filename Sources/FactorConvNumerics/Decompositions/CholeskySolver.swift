import FactorConvBLAS

/// A blocked, parallel Cholesky factorization `A = L Lᵀ` and the row solve `X A = B`, built on
/// GEMM tiles. CP-ALS needs it for R×R normal equations with R up to ~10⁴ (a 9162² matrix is
/// 671 MB and 256 GFLOP to factor): LAPACK's potrf would run on one core here because BLAS is
/// single-threaded inside our one level of parallelism, and a row-major LAPACKE call would also
/// copy the matrix. Diagonal blocks are factored (potrf) and inverted (trsm on the identity) by
/// LAPACK/BLAS; everything else is GEMM tiles spread over `Parallel.forEach`.
extension DecompositionKit {
    final class CholeskySolver {
        /// Block size: large enough for efficient GEMM tiles, small enough for the scalar diagonal work.
        static let block = 256

        let n: Int
        /// The factor L in the lower triangle of the caller's matrix (factored in place).
        private let l: UnsafeMutablePointer<Double>
        /// Inverses of the diagonal blocks of L (lower triangular, block × block each).
        private var inverses: [Matrix] = []

        /// Factors the lower triangle of the n×n row-major `a` in place; nil if not positive
        /// definite, or when the interruptible call it runs in is interrupted (checked per block
        /// column; `a` is then partly factored).
        init?(factoring a: UnsafeMutablePointer<Double>, n: Int) {
            self.n = n
            self.l = a
            let nb = Self.block
            var k0 = 0
            while k0 < n {
                if Interruption.isRequested { return nil }
                let kb = min(nb, n - k0)
                let diag = a + k0 * n + k0
                guard Self.factorDiagonal(diag, kb: kb, ld: n) else { return nil }
                let inv = Self.invertLower(diag, kb: kb, ld: n)
                inverses.append(inv)
                let t0 = k0 + kb, below = n - t0
                if below > 0 {
                    // Panel: A[t0..<n, k0..<t0] ← A · L_kk⁻ᵀ (GEMM with the explicit inverse).
                    let panels = (below + tile - 1) / tile
                    Parallel.forEach(panels) { p in
                        let lo = t0 + p * tile, rows = min(tile, n - lo)
                        let tmp = Matrix(rows: rows, cols: kb)
                        Double.gemm(transA: false, transB: true, m: rows, n: kb, k: kb, alpha: 1,
                                    a: a + lo * n + k0, lda: n, b: inv.data, ldb: kb, beta: 0, c: tmp.data, ldc: kb)
                        for r in 0..<rows { (a + (lo + r) * n + k0).update(from: tmp.data + r * kb, count: kb) }
                    }
                    // Trailing lower triangle: A[i, j] -= panel_i · panel_jᵀ for t0 ≤ j ≤ i
                    // (tiles also touch the strict upper part of diagonal tiles, which is never read).
                    let blocks = balancedLowerBlocks(below, block: tile)
                    Parallel.forEach(blocks.count) { b in
                        let (lo, hi) = blocks[b]
                        Double.gemm(transA: false, transB: true, m: hi - lo, n: hi, k: kb, alpha: -1,
                                    a: a + (t0 + lo) * n + k0, lda: n, b: a + t0 * n + k0, ldb: n,
                                    beta: 1, c: a + (t0 + lo) * n + t0, ldc: n)
                    }
                }
                k0 += kb
            }
        }

        /// Solves `X (L Lᵀ) = B` in place for the m rows of `b` (m × n row-major). Row blocks
        /// not started when the interruptible call is interrupted are left as they are.
        func solveRows(_ b: UnsafeMutablePointer<Double>, m: Int) {
            let rowBlocks = (m + tile - 1) / tile
            let nb = Self.block, blocks = inverses.count
            Parallel.forEach(rowBlocks) { p in
                if Interruption.isRequested { return }
                let r0 = p * tile, rows = min(tile, m - r0)
                let rhs = b + r0 * n
                let tmp = Matrix(rows: rows, cols: nb)
                // Y Lᵀ = B, forward over column blocks: Y_J = (B_J − Σ_{I<J} Y_I L_JIᵀ) L_JJ⁻ᵀ.
                for j in 0..<blocks {
                    let j0 = j * nb, jb = min(nb, n - j0)
                    if j0 > 0 {
                        Double.gemm(transA: false, transB: true, m: rows, n: jb, k: j0, alpha: -1,
                                    a: rhs, lda: n, b: l + j0 * n, ldb: n, beta: 1, c: rhs + j0, ldc: n)
                    }
                    Double.gemm(transA: false, transB: true, m: rows, n: jb, k: jb, alpha: 1,
                                a: rhs + j0, lda: n, b: inverses[j].data, ldb: jb, beta: 0, c: tmp.data, ldc: nb)
                    for r in 0..<rows { (rhs + r * n + j0).update(from: tmp.data + r * nb, count: jb) }
                }
                // X L = Y, backward: X_J = (Y_J − Σ_{I>J} X_I L_IJ) L_JJ⁻¹.
                for j in stride(from: blocks - 1, through: 0, by: -1) {
                    let j0 = j * nb, jb = min(nb, n - j0), after = j0 + jb
                    if after < n {
                        Double.gemm(transA: false, transB: false, m: rows, n: jb, k: n - after, alpha: -1,
                                    a: rhs + after, lda: n, b: l + after * n + j0, ldb: n, beta: 1, c: rhs + j0, ldc: n)
                    }
                    Double.gemm(transA: false, transB: false, m: rows, n: jb, k: jb, alpha: 1,
                                a: rhs + j0, lda: n, b: inverses[j].data, ldb: jb, beta: 0, c: tmp.data, ldc: nb)
                    for r in 0..<rows { (rhs + r * n + j0).update(from: tmp.data + r * nb, count: jb) }
                }
            }
        }

        /// Cholesky of a kb×kb diagonal block (lower, leading dimension ld) by LAPACK.
        private static func factorDiagonal(_ a: UnsafeMutablePointer<Double>, kb: Int, ld: Int) -> Bool {
            // Row-major lower storage is column-major upper storage of the same numbers.
            fcb_LAPACKE_dpotrf(FCB_COL_MAJOR, CChar(UInt8(ascii: "U")), Int32(kb), a, Int32(ld)) == 0
        }

        /// The inverse of the lower-triangular kb×kb block: `L X = I` solved by trsm.
        private static func invertLower(_ a: UnsafePointer<Double>, kb: Int, ld: Int) -> Matrix {
            let inv = Matrix(rows: kb, cols: kb, repeating: 0)
            for i in 0..<kb { inv.data[i * kb + i] = 1 }
            fcb_cblas_dtrsm(FCB_ROW_MAJOR, FCB_LEFT, FCB_LOWER, FCB_NO_TRANS, FCB_NON_UNIT,
                            Int32(kb), Int32(kb), 1, a, Int32(ld), inv.data, Int32(kb))
            return inv
        }
    }

    /// Solves `X A = B` in place for a symmetric (both triangles) n×n `a` by LU with partial
    /// pivoting: the fallback when `A` is numerically not positive definite. `a` is destroyed.
    static func luSolveRows(_ a: UnsafeMutablePointer<Double>, n: Int, _ b: UnsafeMutablePointer<Double>, m: Int) -> Bool {
        // A is symmetric, so X A = B ⇔ A Xᵀ = Bᵀ; gesv wants the right-hand sides as columns.
        let bt = Matrix(rows: n, cols: m)
        for i in 0..<m { for j in 0..<n { bt.data[j * m + i] = b[i * n + j] } }
        let info = Double.gesv(n: n, nrhs: m, a: a, b: bt.data)
        guard info == 0 else { return false }
        for i in 0..<m { for j in 0..<n { b[i * n + j] = bt.data[j * m + i] } }
        return true
    }
}
