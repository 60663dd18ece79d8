import FactorConvBLAS

/// Parallel kernels on symmetric matrices: lower-triangle Gram matrices and mirroring. Only the
/// lower triangle (row-major) is computed and read; work is split over row blocks with
/// `Parallel.forEach` while BLAS runs single-threaded inside each worker. `gramLower`'s split never
/// changes the arithmetic of an element, so its results do not depend on the thread count
/// (`rowGramLower`'s can differ in the last bit, see there).
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

    /// The lower triangle (row-major) of the n×n Gram `C = A Aᵀ` of a row-major n × k matrix `A`
    /// (leading dimension `lda`) into `c` (`ldc`): the Gram of an unfolding's rows, by SYRK, which
    /// computes one triangle only (half the flops of the GEMM that `gramLower` runs on 128-row tiles).
    ///
    /// One worker: a single SYRK. W workers: W row bands of equal triangle area (boundaries at
    /// n·sqrt(w/W)), each a SYRK on its diagonal block plus one GEMM for the rectangle to its left.
    /// Few large calls matter: many narrow bands run well below a single SYRK's speed and gain
    /// nothing from a second thread, while two equal bands halve the time on two.
    /// SYRK and GEMM can round an element differently, so 1 and 2 threads may differ in the last bit.
    static func rowGramLower(_ a: UnsafePointer<Double>, n: Int, k: Int, lda: Int,
                             into c: UnsafeMutablePointer<Double>, ldc: Int) {
        guard n > 0 else { return }
        if k == 0 {
            for i in 0..<n { for j in 0...i { c[i * ldc + j] = 0 } }
            return
        }
        let parts = min(Parallel.threadCount, n / 64)
        if parts <= 1 {
            fcb_cblas_dsyrk(FCB_ROW_MAJOR, FCB_LOWER, FCB_NO_TRANS, Int32(n), Int32(k), 1, a, Int32(lda), 0, c, Int32(ldc))
            return
        }
        // Band boundaries, multiples of 8 (GEMM kernels work on 8-row panels).
        let bounds = (0...parts).map { w in w == parts ? n : min(n, 8 * Int((Double(n) * (Double(w) / Double(parts)).squareRoot() / 8).rounded())) }
        Parallel.forEach(parts) { w in
            let lo = bounds[w], hi = bounds[w + 1]
            guard hi > lo else { return }
            fcb_cblas_dsyrk(FCB_ROW_MAJOR, FCB_LOWER, FCB_NO_TRANS, Int32(hi - lo), Int32(k), 1, a + lo * lda, Int32(lda),
                            0, c + lo * ldc + lo, Int32(ldc))
            if lo > 0 {
                Double.gemm(transA: false, transB: true, m: hi - lo, n: lo, k: k, alpha: 1, a: a + lo * lda, lda: lda,
                            b: a, ldb: lda, beta: 0, c: c + lo * ldc, ldc: ldc)
            }
        }
    }

    /// Copies the lower triangle of the n×n row-major matrix onto its upper triangle.
    static func mirrorLower(_ a: UnsafeMutablePointer<Double>, n: Int) {
        for i in 0..<n { for j in (i + 1)..<n { a[i * n + j] = a[j * n + i] } }
    }
}
