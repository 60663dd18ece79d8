/// Tucker decomposition by higher-order orthogonal iteration (TensorLy's `tucker`, spec §10.3).
///
/// SVD init; then per sweep and mode n, `U_n` = the `R_n` leading left singular vectors of
/// `unfold(T ×_{k≠n} U_kᵀ, n)` (Gauss–Seidel); error `sqrt(|‖T‖² − ‖core‖²|)/‖T‖`; stop after at
/// least 3 sweeps when it changes by less than `tol`.
///
/// Modes whose rank equals their size (fixed modes, 3-tap spatial modes at 'same') get a square
/// orthogonal factor. Such a factor rotates the other unfoldings' row spaces only, leaving their
/// left singular vectors and the core norm unchanged, so it is computed once after the sweeps
/// instead of in every sweep — the same iterates as TensorLy, for a fraction of the work.
/// - Parameters:
///   - ranks: one rank per mode (≥ 1); ranks above a mode's size are clamped to it.
///   - progress: called after each sweep; returning false cancels.
/// - Returns: the core (shape = the ranks used), orthonormal factors, the ranks used, the error history.
/// - Throws: `.invalidArgument`, `.numerical` (non-finite input, LAPACK failure), `.cancelled`.
public func tucker(_ tensor: Tensor<Double>, ranks: [Int], options: TuckerOptions = TuckerOptions(),
                   progress: DecompositionProgress? = nil) throws -> TuckerDecomposition {
    try DecompositionKit.validateInput(tensor, "tucker")
    let shape = tensor.shape, order = shape.count
    guard ranks.count == order else {
        throw FactorConvError.invalid("tucker: \(ranks.count) ranks given for a tensor of order \(order) (shape \(shape))")
    }
    guard ranks.allSatisfy({ $0 >= 1 }) else { throw FactorConvError.invalid("tucker: every rank must be ≥ 1, got \(ranks)") }
    guard options.nIterMax >= 0 else { throw FactorConvError.invalid("tucker: nIterMax must be ≥ 0, got \(options.nIterMax)") }
    guard options.tol >= 0, options.tol.isFinite else { throw FactorConvError.invalid("tucker: tol must be finite and ≥ 0, got \(options.tol)") }
    var used = zip(ranks, shape).map { min($0, $1) }
    for mode in options.fixedModes {
        guard (0..<order).contains(mode) else { throw FactorConvError.invalid("tucker: fixed mode \(mode) out of range for order \(order)") }
        used[mode] = shape[mode]
    }
    try BLAS.require()
    return try DecompositionKit.HOOI(tensor: tensor, ranks: used, options: options).run(progress)
}

extension DecompositionKit {
    /// The state of one HOOI run.
    struct HOOI {
        let tensor: Tensor<Double>
        let shape: [Int]
        let ranks: [Int]
        let options: TuckerOptions

        init(tensor: Tensor<Double>, ranks: [Int], options: TuckerOptions) {
            self.tensor = tensor
            shape = tensor.shape
            self.ranks = ranks
            self.options = options
        }

        func run(_ progress: DecompositionProgress?) throws -> TuckerDecomposition {
            let order = shape.count
            let active = (0..<order).filter { ranks[$0] < shape[$0] }
            let normT2 = tensor.scalars.reduce(0) { $0 + $1 * $1 }
            let normT = normT2.squareRoot()
            var factors = [Tensor<Double>?](repeating: nil, count: order)
            var rng = Random(seed: options.seed)
            // The first active mode's initial factor is never read: the first sweep recomputes it
            // from the others before anything uses it. Skipping it saves one SVD, same iterates.
            for n in active.dropFirst() {
                switch options.initialization {
                case .svd: factors[n] = try leadingVectors(tensor, mode: n, count: ranks[n])
                case .random:
                    factors[n] = Tensor(uncheckedShape: [shape[n], ranks[n]],
                                        scalars: (0..<(shape[n] * ranks[n])).map { _ in rng.uniform() })
                }
            }
            var errors: [Double] = []
            var sweeps = 0
            if let last = active.last {
                for it in 0..<options.nIterMax {
                    var lastY = tensor
                    for n in active {
                        let y = try project(tensor, factors: factors, modes: active.filter { $0 != n })
                        factors[n] = try leadingVectors(y, mode: n, count: ranks[n])
                        if n == last { lastY = y }
                    }
                    // ‖core‖ = ‖U_lastᵀ unfold(Y_last, last)‖ (square modes do not change the norm).
                    let core = try lastY.modeProduct(transpose(factors[last]!), mode: last)
                    let norm2 = core.scalars.reduce(0) { $0 + $1 * $1 }
                    let residual = abs(normT2 - norm2).squareRoot()
                    let error = normT > 0 ? residual / normT : residual
                    errors.append(error)
                    sweeps = it + 1
                    try report(progress, sweeps, error, "tucker")
                    if it > 1 && abs(errors[errors.count - 2] - error) < options.tol { break }
                }
            }
            if nIterMaxIsZero(active) {
                // No sweep ran: the first active mode still needs its SVD factor.
                factors[active[0]] = try leadingVectors(tensor, mode: active[0], count: ranks[active[0]])
            }
            // Square orthogonal factors, from the final factors of the other modes (one shared projection).
            let projected = try project(tensor, factors: factors, modes: active)
            let square = (0..<order).filter { ranks[$0] == shape[$0] }
            for n in square { factors[n] = try leadingVectors(projected, mode: n, count: shape[n]) }
            let all = factors.map { $0! }
            let core = try project(projected, factors: all, modes: square)
            return TuckerDecomposition(core: core, factors: all, ranks: ranks, errors: errors, iterations: sweeps)
        }

        /// Whether active modes exist but no sweep will run (their first factor was not initialized).
        private func nIterMaxIsZero(_ active: [Int]) -> Bool { !active.isEmpty && options.nIterMax == 0 }

        /// `T ×_k U_kᵀ` over `modes`, contracting the most-reducing modes first (cheapest order).
        private func project(_ t: Tensor<Double>, factors: [Tensor<Double>?], modes: [Int]) throws -> Tensor<Double> {
            var y = t
            let ordered = modes.sorted { Double(ranks[$0]) / Double(shape[$0]) < Double(ranks[$1]) / Double(shape[$1]) }
            for k in ordered { y = try y.modeProduct(transpose(factors[k]!), mode: k) }
            return y
        }

        /// The `count` leading left singular vectors of `unfold(t, mode)`, sign-flipped.
        private func leadingVectors(_ t: Tensor<Double>, mode: Int, count: Int) throws -> Tensor<Double> {
            let unfolded = try t.unfolded(mode)
            let rows = t.shape[mode], cols = t.count / rows
            let svd = try unfolded.scalars.withUnsafeBufferPointer {
                try leftSingular($0.baseAddress!, m: rows, n: cols, k: count, project: false)
            }
            return svd.u.tensor(shape: [rows, count])
        }
    }

    /// The transpose of a matrix tensor.
    static func transpose(_ m: Tensor<Double>) throws -> Tensor<Double> { try m.permuted([1, 0]) }
}
