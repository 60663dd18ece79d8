import FactorConvBLAS

/// How `truncatedSVD` computes the leading singular vectors.
public enum SVDMethod: Sendable, Equatable {
    /// The Gram path for wide (and square) matrices, the thin path for tall ones.
    case automatic
    /// Eigen-decomposition (syevd) of the small m×m Gram matrix `A Aᵀ`; V is never formed.
    /// Loses accuracy on singular values below about 1e-8 of the largest (they are squared).
    case gram
    /// LAPACK's thin SVD (gesdd, `min(m, n)` singular triplets); never the full V.
    case thin
}

/// The leading left singular vectors of a matrix (TensorLy's u-based sign convention).
public struct TruncatedSVD: Sendable, Equatable {
    /// `m × k` left singular vectors; each column's largest-magnitude entry is positive. Columns
    /// beyond `min(m, n)` (when requested) complete the basis orthonormally.
    public var u: Tensor<Double>
    /// The `min(k, m, n)` leading singular values, descending.
    public var singularValues: [Double]
    /// `Uᵀ A` (`k × n`, equal to `diag(S) Vᵀ`) when requested; only for `k ≤ min(m, n)`.
    public var projection: Tensor<Double>?
}

/// The `rank` leading left singular vectors and singular values of the `m × n` matrix `matrix`,
/// sign-flipped like TensorLy's `svd_flip(u_based_decision=True)`. Never forms the full `V`.
/// An interruptible call (`Interruption`).
/// - Parameters:
///   - rank: how many columns of U, `1 ≤ rank ≤ m`; columns beyond `min(m, n)` are an orthonormal completion.
///   - projection: also return `Uᵀ A` (needs `rank ≤ min(m, n)`), as TT-SVD does.
/// - Throws: `.invalidArgument` for a non-matrix or a bad rank, `.numerical` for non-finite input or a LAPACK failure,
///   `.cancelled` when interrupted.
public func truncatedSVD(_ matrix: Tensor<Double>, rank: Int, projection: Bool = false,
                         method: SVDMethod = .automatic) throws -> TruncatedSVD {
    guard matrix.rank == 2 else { throw FactorConvError.invalid("truncatedSVD needs a matrix, got shape \(matrix.shape)") }
    try DecompositionKit.validateInput(matrix, "truncatedSVD")
    let m = matrix.shape[0], n = matrix.shape[1]
    guard rank >= 1, rank <= m else { throw FactorConvError.invalid("truncatedSVD: rank \(rank) must be in 1...\(m) (the row count)") }
    if projection && rank > min(m, n) {
        throw FactorConvError.invalid("truncatedSVD: a projection needs rank ≤ min(m, n) = \(min(m, n)), got \(rank)")
    }
    let r = try Interruption.interruptible("truncatedSVD") {
        try matrix.scalars.withUnsafeBufferPointer {
            try DecompositionKit.leftSingular($0.baseAddress!, m: m, n: n, k: rank, project: projection, method: method)
        }
    }
    return TruncatedSVD(u: r.u.tensor(shape: [m, rank]), singularValues: r.s,
                        projection: r.projection.map { $0.tensor(shape: [rank, n]) })
}

extension DecompositionKit {
    /// Result of `leftSingular`: U (m × k), the leading singular values, optionally Uᵀ A (k × n).
    struct LeftSingular {
        var u: Matrix
        var s: [Double]
        var projection: Matrix?
    }

    /// See `truncatedSVD`; `a` is a row-major m × n matrix and is not modified.
    static func leftSingular(_ a: UnsafePointer<Double>, m: Int, n: Int, k: Int, project: Bool,
                             method: SVDMethod = .automatic) throws -> LeftSingular {
        let useGram = method == .gram || (method == .automatic && m <= n)
        var result = useGram ? try gramPath(a, m: m, n: n, k: k) : try thinPath(a, m: m, n: n, k: k, project: project)
        flipSigns(&result)
        if project && useGram {
            // Uᵀ A = diag(S) Vᵀ for the kept directions, computed from the sign-flipped U.
            let p = Matrix(rows: k, cols: n)
            let u = result.u.data
            let blocks = max(1, min(Parallel.threadCount, n / 256))
            Parallel.forEach(blocks) { b in
                let lo = n * b / blocks, hi = n * (b + 1) / blocks
                Double.gemm(transA: true, transB: false, m: k, n: hi - lo, k: m, alpha: 1, a: u, lda: k,
                            b: a + lo, ldb: n, beta: 0, c: p.data + lo, ldc: n)
            }
            result.projection = p
        }
        return result
    }

    /// U from the eigenvectors of the m×m Gram matrix `A Aᵀ` (descending eigenvalues).
    private static func gramPath(_ a: UnsafePointer<Double>, m: Int, n: Int, k: Int) throws -> LeftSingular {
        let u = Matrix(rows: m, cols: k)
        var top = [Double](repeating: 0, count: k)   // the k largest eigenvalues, descending
        try Workspace.shared.withBuffer(of: Double.self, count: m * m) { g in
            rowGramLower(a, n: m, k: n, lda: n, into: g, ldc: m)
            try Interruption.check("a truncated SVD")
            // Row-major lower = column-major upper, which is what LAPACK is given below.
            if 16 * k <= m {
                // Few of many: Lanczos when it can certify its answer (LanczosEigen.swift), else dsyevr.
                if m < lanczosMinimumSize || !lanczosEigenvectors(g, m: m, k: k, u: u, top: &top) {
                    // Lanczos also gives up when interrupted: then no dsyevr.
                    try Interruption.check("a truncated SVD")
                    try fewEigenvectors(g, m: m, k: k, u: u, top: &top)
                }
            } else {
                try leadingEigenvectors(g, m: m, k: k, u: u, top: &top)
            }
        }
        let kept = min(k, n)
        let s = (0..<kept).map { max(top[$0], 0).squareRoot() }
        return LeftSingular(u: u, s: s, projection: nil)
    }

    /// Few of many: MRRR's driver computes just the wanted eigenvectors (dsyevr; for a partial
    /// range it runs bisection and inverse iteration). Faster than `leadingEigenvectors` up to
    /// about k = m/16 (e.g. TT's 3 of 336), much slower beyond, where inverse iteration dominates.
    private static func fewEigenvectors(_ g: UnsafeMutablePointer<Double>, m: Int, k: Int, u: Matrix,
                                        top: inout [Double]) throws {
        var found: Int32 = 0
        var w = [Double](repeating: 0, count: m)
        let z = Matrix(rows: k, cols: m)              // column-major m × k: row j is eigenvector j
        var support = [Int32](repeating: 0, count: 2 * k)
        let info = fcb_LAPACKE_dsyevr(FCB_COL_MAJOR, CChar(UInt8(ascii: "V")), CChar(UInt8(ascii: "I")),
                                      CChar(UInt8(ascii: "U")), Int32(m), g, Int32(m), 0, 0,
                                      Int32(m - k + 1), Int32(m), 0, &found, &w, z.data, Int32(m), &support)
        guard info == 0, found == Int32(k) else {
            throw FactorConvError(.numerical, "eigen-decomposition (dsyevr) of a \(m)×\(m) Gram matrix failed (info \(info))")
        }
        for c in 0..<k {
            let src = z.data + (k - 1 - c) * m            // ascending order: the largest is last
            for i in 0..<m { u.data[i * k + c] = src[i] }
            top[c] = w[k - 1 - c]
        }
    }

    /// The k leading eigenvectors by dsyevd's own steps — tridiagonal reduction (dsytrd), divide and
    /// conquer on the tridiagonal (dstedc), back-transformation (dormtr) — except that only the k
    /// wanted columns are back-transformed instead of all m, with workspace from the pool
    /// (LAPACKE's drivers allocate it per call). Single-threaded: the back-transformation is too
    /// short for splitting its columns over workers to pay.
    /// `g`: column-major upper triangle, destroyed.
    private static func leadingEigenvectors(_ g: UnsafeMutablePointer<Double>, m: Int, k: Int, u: Matrix,
                                            top: inout [Double]) throws {
        let upper = CChar(UInt8(ascii: "U"))
        let n32 = Int32(m)
        // dsyevd's scaling: keep the matrix norm within [sqrt(smlnum), sqrt(bignum)] so that the
        // reduction neither underflows nor overflows. The largest entry of a Gram is on its diagonal.
        var norm = 0.0
        for i in 0..<m { norm = max(norm, abs(g[i * m + i])) }
        let smallest = (Double.leastNormalMagnitude / Double.ulpOfOne).squareRoot()
        let largest = (1 / (Double.leastNormalMagnitude / Double.ulpOfOne)).squareRoot()
        var scale = 1.0
        if norm > 0 && norm < smallest { scale = smallest / norm } else if norm > largest { scale = largest / norm }
        if scale != 1 { for j in 0..<m { for i in 0...j { g[j * m + i] *= scale } } }

        // Workspace sizes (LAPACK's queries, lwork = -1).
        var query = 0.0, iquery: Int32 = 0, info: Int32 = 0
        var lwork = 1 + 4 * m + m * m, liwork = 3 + 5 * m
        info = fcb_LAPACKE_dsytrd_work(FCB_COL_MAJOR, upper, n32, g, n32, nil, nil, nil, &query, -1)
        if info == 0 { lwork = max(lwork, Int(query)) }
        info = fcb_LAPACKE_dstedc_work(FCB_COL_MAJOR, CChar(UInt8(ascii: "I")), n32, nil, nil, nil, n32, &query, -1, &iquery, -1)
        if info == 0 { lwork = max(lwork, Int(query)); liwork = max(liwork, Int(iquery)) }
        info = fcb_LAPACKE_dormtr_work(FCB_COL_MAJOR, CChar(UInt8(ascii: "L")), upper, CChar(UInt8(ascii: "N")), n32, Int32(k),
                                       g, n32, nil, nil, n32, &query, -1)
        // dormtr's query omits the 65×64 block-reflector buffer that its blocked dormql/dormqr need
        // (LAPACK 3.11); without it they silently fall back to the much slower unblocked code.
        lwork = max(lwork, max(info == 0 ? Int(query) : 0, 64 * max(k, 1)) + 65 * 64)

        try Workspace.shared.withBuffer(of: Double.self, count: 3 * m + m * m + lwork) { buffer in
            let d = buffer, e = buffer + m, tau = buffer + 2 * m, z = buffer + 3 * m, work = z + m * m
            try Workspace.shared.withBuffer(of: Int32.self, count: liwork) { iwork in
                info = fcb_LAPACKE_dsytrd_work(FCB_COL_MAJOR, upper, n32, g, n32, d, e, tau, work, Int32(lwork))
                guard info == 0 else { throw FactorConvError(.numerical, "tridiagonal reduction (dsytrd) of a \(m)×\(m) Gram matrix failed (info \(info))") }
                // d: eigenvalues ascending; z: the tridiagonal's eigenvectors as columns.
                info = fcb_LAPACKE_dstedc_work(FCB_COL_MAJOR, CChar(UInt8(ascii: "I")), n32, d, e, z, n32, work, Int32(lwork),
                                               iwork, Int32(liwork))
                guard info == 0 else { throw FactorConvError(.numerical, "eigen-decomposition (dstedc) of a \(m)×\(m) Gram matrix failed (info \(info))") }
            }
            // Q · (the last k columns of z): the eigenvectors of the k largest eigenvalues.
            info = fcb_LAPACKE_dormtr_work(FCB_COL_MAJOR, CChar(UInt8(ascii: "L")), upper, CChar(UInt8(ascii: "N")),
                                           n32, Int32(k), g, n32, tau, z + (m - k) * m, n32, work, Int32(lwork))
            guard info == 0 else { throw FactorConvError(.numerical, "back-transformation (dormtr) of Gram eigenvectors failed (info \(info))") }
            for c in 0..<k {
                let src = z + (m - 1 - c) * m              // ascending order: the largest is last
                for i in 0..<m { u.data[i * k + c] = src[i] }
                top[c] = d[m - 1 - c] / scale
            }
        }
    }

    /// U from LAPACK's thin SVD (gesdd). Computed as the SVD of Aᵀ in column-major order, which
    /// is A's own row-major memory: no transposed copies.
    private static func thinPath(_ a: UnsafePointer<Double>, m: Int, n: Int, k: Int, project: Bool) throws -> LeftSingular {
        let p = min(m, n)
        let work = Matrix(rows: m, cols: n)
        work.data.initialize(from: a, count: m * n)
        var s = [Double](repeating: 0, count: p)
        let vt = Matrix(rows: p, cols: n)   // column-major "U" of Aᵀ (n × p) = row-major Vᵀ
        let uFull = Matrix(rows: m, cols: p) // column-major "Vᵀ" of Aᵀ (p × m) = row-major U
        let info = fcb_LAPACKE_dgesdd(FCB_COL_MAJOR, CChar(UInt8(ascii: "S")), Int32(n), Int32(m), work.data, Int32(n),
                                  &s, vt.data, Int32(n), uFull.data, Int32(p))
        guard info == 0 else { throw FactorConvError(.numerical, "thin SVD (dgesdd) of a \(m)×\(n) matrix failed (info \(info))") }
        let u = Matrix(rows: m, cols: k, repeating: 0)
        let kept = min(k, p)
        for i in 0..<m { for c in 0..<kept { u.data[i * k + c] = uFull.data[i * p + c] } }
        if k > kept { completeOrthonormal(u, from: kept) }
        var projection: Matrix?
        if project {
            let pr = Matrix(rows: kept, cols: n)
            for c in 0..<kept { for j in 0..<n { pr.data[c * n + j] = s[c] * vt.data[c * n + j] } }
            projection = pr
        }
        return LeftSingular(u: u, s: Array(s[0..<kept]), projection: projection)
    }

    /// Fills columns `from..<k` of `u` (m × k, first columns orthonormal) with an orthonormal
    /// completion: unit vectors e_0, e_1, … orthogonalized twice (deterministic).
    static func completeOrthonormal(_ u: Matrix, from: Int) {
        let m = u.rows, k = u.cols
        var filled = from
        var v = [Double](repeating: 0, count: m)
        var candidate = 0
        while filled < k && candidate < m {
            for i in 0..<m { v[i] = i == candidate ? 1 : 0 }
            for _ in 0..<2 {
                for c in 0..<filled {
                    var dot = 0.0
                    for i in 0..<m { dot += u.data[i * k + c] * v[i] }
                    for i in 0..<m { v[i] -= dot * u.data[i * k + c] }
                }
            }
            let norm = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
            if norm > 0.5 {
                for i in 0..<m { u.data[i * k + filled] = v[i] / norm }
                filled += 1
            }
            candidate += 1
        }
    }

    /// TensorLy's u-based `svd_flip`: the first largest-magnitude entry of each U column becomes
    /// positive; the matching projection row flips with it.
    private static func flipSigns(_ r: inout LeftSingular) {
        let m = r.u.rows, k = r.u.cols
        for c in 0..<k {
            var best = 0.0, sign = 1.0
            for i in 0..<m {
                let v = r.u.data[i * k + c]
                if abs(v) > best { best = abs(v); sign = v < 0 ? -1 : 1 }
            }
            guard sign < 0 else { continue }
            for i in 0..<m { r.u.data[i * k + c] = -r.u.data[i * k + c] }
            if let p = r.projection, c < p.rows {
                for j in 0..<p.cols { p.data[c * p.cols + j] = -p.data[c * p.cols + j] }
            }
        }
    }
}
