import Foundation

/// CP decomposition by alternating least squares (TensorLy's `parafac` as called by tltorch, behaviour notes §10.2).
///
/// Per sweep and mode n: `P = Π_{k≠n} F_kᵀF_k + λI`, `M = unfold(T, n) · KR(F_k, k≠n)`,
/// `F_n = M P⁻¹` (ridge) or `(M + λ F_n) P⁻¹` (proximal, our default). The error after a sweep is
/// `sqrt(|‖T‖² + ‖CP‖² − 2⟨T, CP⟩|) / ‖T‖`, and the loop stops when it changes by less than `tol`
/// (or, with `stallTol > 0`, when it has stalled: see `CPOptions.stallTol`).
///
/// Scales to big ranks: `P` is solved by a parallel blocked Cholesky (LU fallback), MTTKRPs
/// stream Khatri-Rao chunks through GEMM, modes ≥ 1 reuse one left contraction `F_0ᵀ T_(0)`
/// (a dimension tree: two tensor-sized GEMMs per sweep instead of N), and at most a few R×R
/// matrices are alive at once. Runs in float64 and is deterministic for a given seed.
///
/// An interruptible call (`Interruption`): checked per mode of every sweep and inside its
/// solves and products.
/// - Parameters:
///   - tensor: the tensor to decompose (finite values).
///   - rank: the CP rank R ≥ 1.
///   - options: iteration limits, regularization, initialization and seed.
///   - progress: called after each sweep; returning false cancels.
///   - start: `cpSVDStart(tensor, rank:)` computed once for runs from several seeds (SVD
///     initialization only); nil computes it here. The result is the same either way.
/// - Returns: unit weights, one `(I_n, R)` factor per mode, the error history and sweep count.
/// - Throws: `.invalidArgument` (rank, options, shape), `.numerical` (non-finite input, failed
///   solve, divergence), `.cancelled` (progress hook, interruption).
package func parafac(_ tensor: Tensor<Double>, rank: Int, options: CPOptions = CPOptions(),
                    progress: DecompositionProgress? = nil, start: CPSVDStart? = nil) throws -> CPDecomposition {
    try DecompositionKit.validateInput(tensor, "parafac")
    if let start, start.shape != tensor.shape || start.rank != rank {
        throw FactorConvError.invalid("parafac: the SVD start is for shape \(start.shape) at rank \(start.rank), not \(tensor.shape) at rank \(rank)")
    }
    guard rank >= 1 else { throw FactorConvError.invalid("parafac: rank must be ≥ 1, got \(rank)") }
    guard options.nIterMax >= 0 else { throw FactorConvError.invalid("parafac: nIterMax must be ≥ 0, got \(options.nIterMax)") }
    guard options.tol >= 0, options.tol.isFinite else { throw FactorConvError.invalid("parafac: tol must be finite and ≥ 0, got \(options.tol)") }
    guard options.stallTol >= 0, options.stallTol.isFinite else { throw FactorConvError.invalid("parafac: stallTol must be finite and ≥ 0, got \(options.stallTol)") }
    guard options.l2Reg >= 0, options.l2Reg.isFinite else { throw FactorConvError.invalid("parafac: l2Reg must be finite and ≥ 0, got \(options.l2Reg)") }
    _ = try Checked.product([rank, rank, 8], "parafac: the \(rank)×\(rank) normal matrix")
    for size in tensor.shape { _ = try Checked.product([size, rank, 8], "parafac: a \(size)×\(rank) factor") }
    try BLAS.require()
    return try Interruption.interruptible("parafac") {
        var als = DecompositionKit.CPALS(tensor: tensor, rank: rank, options: options)
        als.start = start
        return try als.run(progress)
    }
}

/// The seed-independent part of CP-ALS's SVD initialization: per mode, the leading left singular
/// vectors of the unfolding (mode 0 scaled by the singular values). Runs from several seeds
/// share it instead of recomputing the same SVDs.
package struct CPSVDStart: Sendable {
    /// The shape of the tensor it was computed from.
    package let shape: [Int]
    /// The CP rank it was computed for.
    package let rank: Int
    /// Per mode, a row-major `(I_n, min(R, I_n))` matrix.
    let bases: [DecompositionKit.Matrix]
}

/// Computes the `CPSVDStart` of `tensor` at `rank` (interruptible, like `parafac`).
/// - Throws: `.invalidArgument` (rank, shape), `.numerical` (non-finite input), `.cancelled`.
package func cpSVDStart(_ tensor: Tensor<Double>, rank: Int) throws -> CPSVDStart {
    try DecompositionKit.validateInput(tensor, "parafac")
    guard rank >= 1 else { throw FactorConvError.invalid("parafac: rank must be ≥ 1, got \(rank)") }
    for size in tensor.shape { _ = try Checked.product([size, rank, 8], "parafac: a \(size)×\(rank) factor") }
    try BLAS.require()
    return try Interruption.interruptible("parafac") {
        CPSVDStart(shape: tensor.shape, rank: rank, bases: try DecompositionKit.cpSVDBases(tensor, rank: rank))
    }
}

extension DecompositionKit {
    /// The bases of `CPSVDStart`, for an already validated tensor inside an interruptible call.
    static func cpSVDBases(_ tensor: Tensor<Double>, rank: Int) throws -> [Matrix] {
        var bases: [Matrix] = []
        for (n, size) in tensor.shape.enumerated() {
            try Interruption.check("parafac")
            let k = min(rank, size)
            let unfolded = n == 0 ? tensor : try tensor.unfolded(n)
            let svd = try unfolded.scalars.withUnsafeBufferPointer {
                try leftSingular($0.baseAddress!, m: size, n: tensor.count / size, k: k, project: false)
            }
            let b = Matrix(rows: size, cols: k, repeating: 0)
            for i in 0..<size {
                for c in 0..<k {
                    let scale = n == 0 && c < svd.s.count ? svd.s[c] : 1
                    b.data[i * k + c] = svd.u.data[i * k + c] * scale
                }
            }
            bases.append(b)
        }
        return bases
    }
}

extension DecompositionKit {
    /// The state of one CP-ALS run.
    struct CPALS {
        /// Largest left contraction `F_0ᵀ T_(0)` (bytes) for which the dimension tree is used.
        static let treeBudget = 1_280 << 20

        let tensor: Tensor<Double>
        let shape: [Int]
        let rank: Int
        let options: CPOptions
        /// Precomputed SVD bases (SVD initialization); nil computes them.
        var start: CPSVDStart?

        init(tensor: Tensor<Double>, rank: Int, options: CPOptions) {
            self.tensor = tensor
            shape = tensor.shape
            self.rank = rank
            self.options = options
        }

        func run(_ progress: DecompositionProgress?) throws -> CPDecomposition {
            let order = shape.count, r = rank
            var factors = try initialFactors()
            let normT2 = tensor.scalars.reduce(0) { $0 + $1 * $1 }
            let normT = normT2.squareRoot()
            let grams = CPGrams(sizes: shape, rank: r)
            for k in 0..<order { grams.refresh(k, factors[k]) }
            let p = Matrix(rows: r, cols: r)
            let j0 = tensor.count / shape[0]
            let useTree = order >= 2 && r * j0 <= Self.treeBudget / 8
            var errors: [Double] = []
            var sweeps = 0
            var jumpRoot = 2.0, jumpFailures = 0   // jump = sweep^(1/jumpRoot); the root grows after repeated rejections
            for it in 0..<options.nIterMax {
                let start = factors
                var left: Matrix?          // F_0ᵀ T_(0) contracted with F_1…F_{n-1} (tree path)
                var lastM: Matrix?         // MTTKRP of the last mode, for ⟨T, CP⟩
                for n in 0..<order {
                    try Interruption.check("parafac")
                    grams.normalMatrix(excluding: n, factors: factors, shift: options.l2Reg, into: p)
                    if n + 1 < order { grams.drop(n + 1) }   // its old value is dead from here on
                    grams.drop(n)
                    let m = try mttkrp(mode: n, factors: factors, left: left, useTree: useTree)
                    if n == order - 1 { lastM = m.copy() }
                    if options.regularization == .proximal && options.l2Reg > 0 {
                        let f = factors[n]
                        for x in 0..<m.count { m.data[x] += options.l2Reg * f.data[x] }
                    }
                    try solve(p, rows: m, mode: n, factors: factors, grams: grams)
                    try ensureFinite(m, "parafac (mode \(n), sweep \(it + 1))")
                    factors[n] = m
                    if useTree && n + 1 < order {
                        if n == 0 {
                            left = tensor.scalars.withUnsafeBufferPointer {
                                leftContraction($0.baseAddress!, i0: shape[0], j0: j0, factor: m)
                            }
                        } else if let l = left {
                            left = advanceLeft(l, size: shape[n], rest: l.cols / shape[n], factor: m)
                        }
                    }
                    grams.refresh(n, m)
                }
                left = nil
                // Error from the last mode's MTTKRP and the new factors (no reconstruction).
                let fLast = factors[order - 1]
                var inner = 0.0
                if let lastM { for x in 0..<lastM.count { inner += lastM.data[x] * fLast.data[x] } }
                let cpNorm2 = grams.cpSquaredNorm(factors: factors)
                let residual = abs(normT2 + cpNorm2 - 2 * inner).squareRoot()
                var error = normT > 0 ? residual / normT : residual
                if options.lineSearch && it >= 2 {
                    // Extrapolate along this sweep's step; keep it only if the error drops.
                    let jump = pow(Double(it + 1), 1 / jumpRoot)
                    let trial = zip(start, factors).map { old, new -> Matrix in
                        let x = Matrix(rows: new.rows, cols: new.cols)
                        for i in 0..<x.count { x.data[i] = old.data[i] + jump * (new.data[i] - old.data[i]) }
                        return x
                    }
                    let trialError = try cpError(trial, normT2: normT2)
                    try Interruption.check("parafac")
                    if trialError < error {
                        factors = trial
                        error = trialError
                        for k in 0..<order { grams.refresh(k, factors[k]) }
                        jumpFailures = 0
                    } else {
                        jumpFailures += 1
                        if jumpFailures >= 2 { jumpRoot += 1; jumpFailures = 0 }
                    }
                }
                errors.append(error)
                sweeps = it + 1
                try report(progress, sweeps, error, "parafac")
                if it >= 1 && abs(errors[errors.count - 2] - error) < options.tol { break }
                let w = CPOptions.stallWindow
                if options.stallTol > 0 && errors.count > w && errors[errors.count - 1 - w] - error < options.stallTol * error { break }
            }
            return CPDecomposition(weights: Tensor(uncheckedShape: [r], scalars: [Double](repeating: 1, count: r)),
                                   factors: factors.enumerated().map { $0.element.tensor(shape: [shape[$0.offset], r]) },
                                   errors: errors, iterations: sweeps)
        }

        /// The relative error of arbitrary factors: `⟨T, CP⟩` from a mode-0 MTTKRP, `‖CP‖²` from
        /// Gram tiles recomputed on the fly (no R×R storage).
        private func cpError(_ factors: [Matrix], normT2: Double) throws -> Double {
            let m = try mttkrp(mode: 0, factors: factors, left: nil, useTree: false)
            var inner = 0.0
            for x in 0..<m.count { inner += m.data[x] * factors[0].data[x] }
            let cpNorm2 = CPGrams(sizes: shape, rank: rank, cache: false).cpSquaredNorm(factors: factors)
            let residual = abs(normT2 + cpNorm2 - 2 * inner).squareRoot()
            let normT = normT2.squareRoot()
            return normT > 0 ? residual / normT : residual
        }

        /// `unfold(T, n) · KR(F_k, k ≠ n)` by the dimension tree (modes ≥ 1) or directly.
        private func mttkrp(mode n: Int, factors: [Matrix], left: Matrix?, useTree: Bool) throws -> Matrix {
            let m = Matrix(rows: shape[n], cols: rank)
            if useTree, n >= 1, let left {
                let rest = left.cols / shape[n]
                return mttkrpFromLeft(left, size: shape[n], rest: rest, right: Array(factors[(n + 1)...]))
            }
            var others = factors
            others.remove(at: n)
            let unfolded = n == 0 ? tensor : try tensor.unfolded(n)
            unfolded.scalars.withUnsafeBufferPointer {
                mttkrpDirect($0.baseAddress!, rows: shape[n], cols: tensor.count / shape[n], factors: others, rank: rank, into: m)
            }
            return m
        }

        /// `rows ← rows · P⁻¹` by Cholesky; if P is numerically indefinite, rebuilds it and uses LU.
        private func solve(_ p: Matrix, rows m: Matrix, mode n: Int, factors: [Matrix], grams: CPGrams) throws {
            if let solver = CholeskySolver(factoring: p.data, n: rank) {
                solver.solveRows(m.data, m: m.rows)
                return
            }
            // An interrupted factorization stops early and fails: not a reason for LU.
            try Interruption.check("parafac")
            // The Grams of modes already dropped are recomputed from the factors per tile.
            grams.normalMatrix(excluding: n, factors: factors, shift: options.l2Reg, into: p)
            mirrorLower(p.data, n: rank)
            guard luSolveRows(p.data, n: rank, m.data, m: m.rows) else {
                throw FactorConvError(.numerical, "parafac: the \(rank)×\(rank) normal equations of mode \(n) are singular; use l2Reg > 0")
            }
        }

        /// SVD or random initial factors (behaviour notes §10.2 `initialize_cp`).
        private func initialFactors() throws -> [Matrix] {
            var rng = Random(seed: options.seed)
            var factors: [Matrix] = []
            let bases = options.initialization == .svd ? try start?.bases ?? cpSVDBases(tensor, rank: rank) : []
            for (n, size) in shape.enumerated() {
                try Interruption.check("parafac")
                let f = Matrix(rows: size, cols: rank, repeating: 0)
                switch options.initialization {
                case .random:
                    for x in 0..<f.count { f.data[x] = rng.uniform() }
                case .svd:
                    let k = min(rank, size)
                    let b = bases[n]
                    for i in 0..<size { for c in 0..<k { f.data[i * rank + c] = b.data[i * k + c] } }
                    // Modes smaller than the rank: uniform [0, 1) columns, row by row (as numpy's
                    // random_sample((I_n, R - I_n)) is laid out), unscaled.
                    if size < rank {
                        for i in 0..<size { for c in size..<rank { f.data[i * rank + c] = rng.uniform() } }
                    }
                }
                factors.append(f)
            }
            return factors
        }
    }
}
