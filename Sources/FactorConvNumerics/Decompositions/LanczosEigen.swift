import FactorConvBLAS

/// A few leading eigenpairs of a larger symmetric matrix by Lanczos, for the Gram path of the SVD.
///
/// dsyevr spends most of its time reducing the whole matrix to tridiagonal form even when a few
/// eigenvectors are wanted (e.g. 3 of 336 for TT-SVD's second core of a 256×256×3×3 kernel).
/// Lanczos needs only matrix-vector products (a few dozen there, one-triangle SYMV) and the
/// Cholesky check below. Its result is accepted only when certified, so it returns the same
/// eigenvectors as LAPACK to rounding, or hands over to dsyevr.
extension DecompositionKit {
    /// Lanczos is tried for the k leading of m eigenpairs when m is at least this (and k ≤ m/16).
    static let lanczosMinimumSize = 128

    /// The k leading eigenpairs of the symmetric m×m matrix `g` (column-major upper triangle =
    /// row-major lower; not modified) into `u` (row-major m × k, columns by descending eigenvalue)
    /// and `top`. Lanczos from a fixed pseudo-random start with full reorthogonalization (twice,
    /// classical Gram-Schmidt), so the result is deterministic.
    ///
    /// Returns false, leaving `u` and `top` unspecified, when the interruptible call it runs in is
    /// interrupted (checked every step), and unless the result is certified:
    /// - every Ritz pair's residual ‖G x − θ x‖ ≤ 1e-13·θ_1, and
    /// - no other eigenvalue lies above σ = θ_k − 1e-4·θ_1, proved by a Cholesky factorization of
    ///   `σI − G + 2θ_1·XXᵀ` (X the Ritz vectors): positive definite exactly when the eigenvalues not
    ///   represented in X are below σ. A single Krylov sequence cannot see the second copy of a
    ///   multiple eigenvalue (nor a direction its start vector misses); this check catches both.
    /// Then each vector's error is about residual / gap with gap > 1e-4·θ_1: at most 1e-9, 1e-13 on
    /// TT's Grams.
    static func lanczosEigenvectors(_ g: UnsafePointer<Double>, m: Int, k: Int, u: Matrix, top: inout [Double]) -> Bool {
        guard k >= 1, m >= 2 * k else { return false }
        var maxDiagonal = 0.0
        for i in 0..<m { maxDiagonal = max(maxDiagonal, g[i * m + i]) }
        guard maxDiagonal > 0, maxDiagonal.isFinite else { return false }   // zero or odd: leave it to LAPACK
        let maxSteps = min(m, 3 * k + 64)
        let t = maxSteps                                   // the largest tridiagonal
        let tridiagonalWork = 1 + 4 * t + t * t
        let count = (maxSteps + 1) * m + m * m + 2 * m + (maxSteps + 1) + 4 * t + t * t + tridiagonalWork
        return Workspace.shared.withBuffer(of: Double.self, count: count) { buffer in
            Workspace.shared.withBuffer(of: Int32.self, count: 3 + 5 * t) { iwork in
                let q = buffer                                  // Lanczos vectors, one per row
                let spd = q + (maxSteps + 1) * m                // the Cholesky check's matrix
                let w = spd + m * m, x = w + m                  // x: scratch (the start vector)
                let h = x + m                                   // reorthogonalization coefficients
                let alpha = h + (maxSteps + 1), beta = alpha + t
                let d = beta + t, e = d + t, z = e + t, work = z + t * t

                var rng = Random(seed: 0x1A7C_2050)
                var norm2 = 0.0
                for i in 0..<m { x[i] = rng.uniform() - 0.5; norm2 += x[i] * x[i] }
                let inverse = 1 / norm2.squareRoot()
                for i in 0..<m { q[i] = x[i] * inverse }

                var steps = 0
                var converged = false
                var theta = 0.0                                 // θ_1, the largest Ritz value
                for j in 0..<maxSteps {
                    if Interruption.isRequested { return false }
                    let qj = q + j * m
                    fcb_cblas_dsymv(FCB_COL_MAJOR, FCB_UPPER, Int32(m), 1, g, Int32(m), qj, 1, 0, w, 1)
                    var a = 0.0
                    for i in 0..<m { a += qj[i] * w[i] }
                    alpha[j] = a
                    for i in 0..<m { w[i] -= a * qj[i] }
                    if j > 0 {
                        let b = beta[j - 1], previous = qj - m
                        for i in 0..<m { w[i] -= b * previous[i] }
                    }
                    // Full reorthogonalization: w -= Qᵀ(Q w), twice (once loses orthogonality as
                    // soon as Ritz vectors converge).
                    for _ in 0..<2 {
                        fcb_cblas_dgemv(FCB_ROW_MAJOR, FCB_NO_TRANS, Int32(j + 1), Int32(m), 1, q, Int32(m), w, 1, 0, h, 1)
                        fcb_cblas_dgemv(FCB_ROW_MAJOR, FCB_TRANS, Int32(j + 1), Int32(m), -1, q, Int32(m), h, 1, 1, w, 1)
                    }
                    var b2 = 0.0
                    for i in 0..<m { b2 += w[i] * w[i] }
                    let b = b2.squareRoot()
                    beta[j] = b
                    steps = j + 1
                    // An invariant subspace (b ≈ 0) ends the sequence: its Ritz pairs are exact.
                    let exhausted = b <= 1e-15 * maxDiagonal
                    // Checked every 4 steps from 4k + 8 on (converging takes ~10k + 30 steps; the
                    // checks are cheap but not free), and whenever the sequence ends.
                    let check = steps >= 4 * k + 8 && steps % 4 == 0
                    if steps >= k && (check || exhausted || steps == maxSteps) {
                        // Eigen-decomposition of the steps × steps tridiagonal (α, β).
                        for i in 0..<steps { d[i] = alpha[i] }
                        for i in 0..<(steps - 1) { e[i] = beta[i] }
                        let info = fcb_LAPACKE_dstedc_work(FCB_COL_MAJOR, CChar(UInt8(ascii: "I")), Int32(steps), d, e, z,
                                                           Int32(steps), work, Int32(tridiagonalWork), iwork, Int32(3 + 5 * t))
                        guard info == 0 else { return false }
                        theta = d[steps - 1]
                        // Residual of Ritz pair c: β_j · |last component of its tridiagonal eigenvector|.
                        converged = theta > 0 && (0..<k).allSatisfy { c in
                            b * abs(z[(steps - 1 - c) * steps + steps - 1]) <= 1e-13 * theta
                        }
                        if converged { break }
                    }
                    if exhausted { break }
                    let next = q + (j + 1) * m
                    for i in 0..<m { next[i] = w[i] / b }
                }
                guard converged else { return false }

                // Ritz vectors X = Q_stepsᵀ S into u, column c for the c-th largest θ.
                for c in 0..<k {
                    let s = z + (steps - 1 - c) * steps
                    for i in 0..<m { x[i] = 0 }
                    for r in 0..<steps {
                        let coefficient = s[r], row = q + r * m
                        for i in 0..<m { x[i] += coefficient * row[i] }
                    }
                    for i in 0..<m { u.data[i * k + c] = x[i] }
                    top[c] = d[steps - 1 - c]
                }

                // Certificate: σI − G + 2θ_1 XXᵀ positive definite (column-major upper triangle).
                let sigma = top[k - 1] - 1e-4 * theta
                for col in 0..<m {
                    let source = g + col * m, target = spd + col * m
                    for row in 0...col { target[row] = -source[row] }
                    target[col] += sigma
                }
                // u (row-major m × k) read column-major is the k × m matrix Xᵀ: C += 2θ_1 X Xᵀ.
                fcb_cblas_dsyrk(FCB_COL_MAJOR, FCB_UPPER, FCB_TRANS, Int32(m), Int32(k), 2 * theta, u.data, Int32(k),
                                1, spd, Int32(m))
                return fcb_LAPACKE_dpotrf(FCB_COL_MAJOR, CChar(UInt8(ascii: "U")), Int32(m), spd, Int32(m)) == 0
            }
        }
    }
}
