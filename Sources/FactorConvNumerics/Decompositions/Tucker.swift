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
    /// A partially projected tensor whose axes are a permutation of the original modes: only the
    /// Gram matrix of a mode's unfolding (and norms) are needed, and those ignore column order.
    struct Projected {
        var tensor: Tensor<Double>
        /// `modes[axis]` is the original mode held by `axis`.
        var modes: [Int]
        func axis(of mode: Int) -> Int { modes.firstIndex(of: mode)! }
    }

    /// The state of one HOOI run.
    final class HOOI {
        let tensor: Tensor<Double>
        let shape: [Int]
        let ranks: [Int]
        let options: TuckerOptions
        /// Cached unfoldings of the input, one per mode that starts a projection (constant across sweeps).
        private var unfoldings: [Int: Tensor<Double>] = [:]

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
            let identity = Projected(tensor: tensor, modes: Array(0..<order))
            var factors = [Tensor<Double>?](repeating: nil, count: order)
            var rng = Random(seed: options.seed)
            // The first active mode's initial factor is never read: the first sweep recomputes it
            // from the others before anything uses it. Skipping it saves one SVD, same iterates.
            for n in active.dropFirst() {
                switch options.initialization {
                case .svd: factors[n] = try leadingVectors(identity, mode: n, count: ranks[n])
                case .random:
                    factors[n] = Tensor(uncheckedShape: [shape[n], ranks[n]],
                                        scalars: (0..<(shape[n] * ranks[n])).map { _ in rng.uniform() })
                }
            }
            var errors: [Double] = []
            var sweeps = 0
            if let last = active.last {
                for it in 0..<options.nIterMax {
                    var lastY = identity
                    for n in active {
                        let y = try project(factors: factors, modes: active.filter { $0 != n })
                        factors[n] = try leadingVectors(y, mode: n, count: ranks[n])
                        if n == last { lastY = y }
                    }
                    // ‖core‖ = ‖U_lastᵀ unfold(Y_last, last)‖ (square modes do not change the norm).
                    let core = try lastY.tensor.modeProduct(transpose(factors[last]!), mode: lastY.axis(of: last))
                    let norm2 = core.scalars.reduce(0) { $0 + $1 * $1 }
                    let residual = abs(normT2 - norm2).squareRoot()
                    let error = normT > 0 ? residual / normT : residual
                    errors.append(error)
                    sweeps = it + 1
                    try report(progress, sweeps, error, "tucker")
                    if it > 1 && abs(errors[errors.count - 2] - error) < options.tol { break }
                }
                if options.nIterMax == 0 {
                    // No sweep ran: the first active mode still needs its SVD factor.
                    factors[active[0]] = try leadingVectors(identity, mode: active[0], count: ranks[active[0]])
                }
            }
            // Square orthogonal factors, from the final factors of the other modes (one shared projection).
            var projected = try project(factors: factors, modes: active)
            let square = (0..<order).filter { ranks[$0] == shape[$0] }
            for n in square { factors[n] = try leadingVectors(projected, mode: n, count: shape[n]) }
            let all = factors.map { $0! }
            for n in square {
                projected.tensor = try projected.tensor.modeProduct(transpose(all[n]), mode: projected.axis(of: n))
            }
            // Back to the original mode order.
            let core = try projected.tensor.permuted((0..<order).map { projected.axis(of: $0) })
            return TuckerDecomposition(core: core, factors: all, ranks: ranks, errors: errors, iterations: sweeps)
        }

        /// `T ×_k U_kᵀ` over `modes`: the most-reducing mode first as one GEMM on the cached
        /// unfolding (a single large GEMM instead of many small ones), the rest as mode products.
        private func project(factors: [Tensor<Double>?], modes: [Int]) throws -> Projected {
            let ordered = modes.sorted { Double(ranks[$0]) / Double(shape[$0]) < Double(ranks[$1]) / Double(shape[$1]) }
            guard let first = ordered.first else { return Projected(tensor: tensor, modes: Array(0..<shape.count)) }
            if unfoldings[first] == nil { unfoldings[first] = try tensor.unfolded(first) }
            let product = try transpose(factors[first]!).matmul(unfoldings[first]!)
            var rest = shape
            rest.remove(at: first)
            var axes = Array(0..<shape.count)
            axes.remove(at: first)
            var y = Projected(tensor: try product.reshaped([ranks[first]] + rest), modes: [first] + axes)
            for k in ordered.dropFirst() {
                y.tensor = try y.tensor.modeProduct(transpose(factors[k]!), mode: y.axis(of: k))
            }
            return y
        }

        /// The `count` leading left singular vectors of the unfolding of original mode `mode`, sign-flipped.
        private func leadingVectors(_ t: Projected, mode: Int, count: Int) throws -> Tensor<Double> {
            let axis = t.axis(of: mode)
            let unfolded: Tensor<Double>
            if t.modes == Array(0..<shape.count) && t.tensor.shape == shape {
                // The input itself: share the cached unfolding with later projections.
                if unfoldings[mode] == nil { unfoldings[mode] = try tensor.unfolded(mode) }
                unfolded = unfoldings[mode]!
            } else {
                unfolded = try t.tensor.unfolded(axis)
            }
            let rows = t.tensor.shape[axis], cols = t.tensor.count / rows
            let svd = try unfolded.scalars.withUnsafeBufferPointer {
                try leftSingular($0.baseAddress!, m: rows, n: cols, k: count, project: false)
            }
            return svd.u.tensor(shape: [rows, count])
        }
    }

    /// The transpose of a matrix tensor.
    static func transpose(_ m: Tensor<Double>) throws -> Tensor<Double> { try m.permuted([1, 0]) }
}
