/// Tucker decomposition by higher-order orthogonal iteration (TensorLy's `tucker`, behaviour notes §10.3).
///
/// SVD init; then per sweep and mode n, `U_n` = the `R_n` leading left singular vectors of
/// `unfold(T ×_{k≠n} U_kᵀ, n)` (Gauss–Seidel); error `sqrt(|‖T‖² − ‖core‖²|)/‖T‖`; stop after at
/// least 3 sweeps when it changes by less than `tol`.
///
/// Modes whose rank equals their size (fixed modes, 3-tap spatial modes at 'same') get a square
/// orthogonal factor. Such a factor rotates the other unfoldings' row spaces only, leaving their
/// left singular vectors and the core norm unchanged, so it is computed once after the sweeps
/// instead of in every sweep — the same iterates as TensorLy, for a fraction of the work.
///
/// An interruptible call (`Interruption`): checked per mode of every sweep.
/// - Parameters:
///   - ranks: one rank per mode (≥ 1); ranks above a mode's size are clamped to it.
///   - progress: called after each sweep; returning false cancels.
/// - Returns: the core (shape = the ranks used), orthonormal factors, the ranks used, the error history.
/// - Throws: `.invalidArgument`, `.numerical` (non-finite input, LAPACK failure), `.cancelled`
///   (progress hook, interruption).
package func tucker(_ tensor: Tensor<Double>, ranks: [Int], options: TuckerOptions = TuckerOptions(),
                   progress: DecompositionProgress? = nil) throws -> TuckerDecomposition {
    let normT2 = try DecompositionKit.validatedSquaredNorm(tensor, "tucker")
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
    return try Interruption.interruptible("tucker") {
        try DecompositionKit.HOOI(tensor: tensor, ranks: used, options: options, normT2: normT2).run(progress)
    }
}

extension DecompositionKit {
    /// A partially projected tensor whose axes are a permutation of the original modes: only the
    /// Gram matrix of a mode's unfolding (and norms) are needed, and those ignore column order.
    struct Projected {
        var tensor: Tensor<Double>
        /// `modes[axis]` is the original mode held by `axis`.
        var modes: [Int]
        func axis(of mode: Int) -> Int { modes.firstIndex(of: mode)! }

        /// This tensor with `mode`'s axis first (a copy unless it already is): its row-major
        /// storage is then the mode's unfolding, up to the column order.
        func front(_ mode: Int) -> Projected {
            let axis = axis(of: mode)
            if axis == 0 { return self }
            var order = modes
            order.remove(at: axis)
            return Projected(tensor: movedToFront(tensor, axis: axis), modes: [mode] + order)
        }

        /// `self ×_mode Uᵀ` for `U` (I_mode × R), mode `mode` first in the result: one GEMM. (The
        /// mode product in place runs one small GEMM per outer index: 4096 GEMMs of 3×3×3 for a
        /// spatial mode of a (64, 64, 3, 3) core.)
        func product(_ u: Tensor<Double>, mode: Int) -> Projected {
            let y = front(mode)
            return Projected(tensor: frontProduct(y.tensor, u), modes: y.modes)
        }
    }

    /// `moveaxis(t, axis, 0)` as contiguous copies: viewing `t` as (outer, size, inner), each
    /// (outer, j) run of `inner` elements moves as one block, copied by a plain loop: the general
    /// permutation's odometer pays per element, and a memcpy call per short run (9 elements for a
    /// 3×3 kernel) costs more than the copy.
    static func movedToFront(_ t: Tensor<Double>, axis: Int) -> Tensor<Double> {
        let shape = t.shape
        let outer = shape[..<axis].reduce(1, *), size = shape[axis], inner = shape[(axis + 1)...].reduce(1, *)
        var newShape = shape
        newShape.remove(at: axis)
        newShape.insert(size, at: 0)
        if outer == 1 { return Tensor(uncheckedShape: newShape, scalars: t.scalars) }
        if inner == 1 {
            return Tensor(uncheckedShape: newShape, scalars: Tensor<Double>.transposed(t.scalars, rows: outer, cols: size))
        }
        let values = [Double](unsafeUninitializedCapacity: t.count) { out, initialized in
            t.scalars.withUnsafeBufferPointer { src in
                let dst = out.baseAddress!, s = src.baseAddress!
                // Large copies are split over the workers by outer index.
                let parts = t.count >= (1 << 17) ? min(Parallel.threadCount, outer) : 1
                Parallel.forEach(parts) { part in
                    for o in Parallel.share(of: outer, part: part, parts: parts) {
                        for j in 0..<size {
                            let to = dst + (j * outer + o) * inner, from = s + (o * size + j) * inner
                            for e in 0..<inner { to[e] = from[e] }
                        }
                    }
                }
            }
            initialized = t.count
        }
        return Tensor(uncheckedShape: newShape, scalars: values)
    }

    /// The state of one HOOI run.
    final class HOOI {
        let tensor: Tensor<Double>
        let shape: [Int]
        let ranks: [Int]
        let options: TuckerOptions
        /// ‖T‖², computed once by the caller's validation.
        let normT2: Double
        /// Cached unfoldings of the input, one per mode that starts a projection (constant across sweeps).
        private var unfoldings: [Int: Tensor<Double>] = [:]

        init(tensor: Tensor<Double>, ranks: [Int], options: TuckerOptions, normT2: Double) {
            self.tensor = tensor
            shape = tensor.shape
            self.ranks = ranks
            self.options = options
            self.normT2 = normT2
        }

        func run(_ progress: DecompositionProgress?) throws -> TuckerDecomposition {
            let order = shape.count
            let active = (0..<order).filter { ranks[$0] < shape[$0] }
            let normT = normT2.squareRoot()
            let identity = Projected(tensor: tensor, modes: Array(0..<order))
            var factors = [Tensor<Double>?](repeating: nil, count: order)
            var rng = Random(seed: options.seed)
            // The first active mode's initial factor is never read: the first sweep recomputes it
            // from the others before anything uses it. Skipping it saves one SVD, same iterates.
            for n in active.dropFirst() {
                try Interruption.check("tucker")
                switch options.initialization {
                case .svd: factors[n] = try leadingVectors(identity, mode: n, count: ranks[n]).u
                case .random:
                    factors[n] = Tensor(uncheckedShape: [shape[n], ranks[n]],
                                        scalars: (0..<(shape[n] * ranks[n])).map { _ in rng.uniform() })
                }
            }
            var errors: [Double] = []
            var sweeps = 0
            // The last active mode's projection `T ×_{k≠last} U_kᵀ` of the latest sweep, mode `last` first.
            var lastY: Projected? = nil
            if let last = active.last {
                for it in 0..<options.nIterMax {
                    var coreNorm2 = 0.0
                    for n in active {
                        try Interruption.check("tucker")
                        let y = try project(factors: factors, modes: active.filter { $0 != n }).front(n)
                        let svd = try leadingVectors(y, mode: n, count: ranks[n])
                        factors[n] = svd.u
                        if n == last {
                            lastY = y
                            // ‖core‖² = ‖U_lastᵀ unfold(Y_last)‖² = Σ σ_c² over the kept singular
                            // values of that unfolding (U_last holds their vectors); square modes
                            // do not change the norm. No core product per sweep.
                            coreNorm2 = svd.s.reduce(0) { $0 + $1 * $1 }
                        }
                    }
                    let residual = abs(normT2 - coreNorm2).squareRoot()
                    let error = normT > 0 ? residual / normT : residual
                    errors.append(error)
                    sweeps = it + 1
                    try report(progress, sweeps, error, "tucker")
                    if it > 1 && abs(errors[errors.count - 2] - error) < options.tol { break }
                }
                if options.nIterMax == 0 {
                    // No sweep ran: the first active mode still needs its SVD factor.
                    factors[active[0]] = try leadingVectors(identity, mode: active[0], count: ranks[active[0]]).u
                }
            }
            // T ×_k U_kᵀ over every active mode: the last sweep's Y_last times U_lastᵀ (one GEMM,
            // the projection that sweep already made), or a fresh projection when no sweep ran.
            var projected: Projected
            if let y = lastY, let last = active.last {
                projected = y
                projected.tensor = frontProduct(y.tensor, factors[last]!)
            } else {
                projected = try project(factors: factors, modes: active)
            }
            // Square orthogonal factors, from the final factors of the other modes (one shared projection).
            let square = (0..<order).filter { ranks[$0] == shape[$0] }
            for n in square {
                try Interruption.check("tucker")
                factors[n] = try leadingVectors(projected.front(n), mode: n, count: shape[n]).u
            }
            let all = factors.map { $0! }
            for n in square { projected = projected.product(all[n], mode: n) }
            // Back to the original mode order.
            let core = try projected.tensor.permuted((0..<order).map { projected.axis(of: $0) })
            return TuckerDecomposition(core: core, factors: all, ranks: ranks, errors: errors, iterations: sweeps)
        }

        /// `T ×_k U_kᵀ` over `modes`: the most-reducing mode first as one GEMM on the cached
        /// unfolding, then the others (each a copy bringing its axis first, then one GEMM).
        private func project(factors: [Tensor<Double>?], modes: [Int]) throws -> Projected {
            let ordered = modes.sorted { Double(ranks[$0]) / Double(shape[$0]) < Double(ranks[$1]) / Double(shape[$1]) }
            guard let first = ordered.first else { return Projected(tensor: tensor, modes: Array(0..<shape.count)) }
            let unfolded = unfolding(first)
            var axes = Array(0..<shape.count)
            axes.remove(at: first)
            var y = Projected(tensor: frontProduct(unfolded, factors[first]!), modes: [first] + axes)
            for k in ordered.dropFirst() { y = y.product(factors[k]!, mode: k) }
            return y
        }

        /// The input with `mode` first, cached.
        private func unfolding(_ mode: Int) -> Tensor<Double> {
            if let u = unfoldings[mode] { return u }
            let u = movedToFront(tensor, axis: mode)
            unfoldings[mode] = u
            return u
        }

        /// The `count` leading left singular vectors of the unfolding of original mode `mode`,
        /// sign-flipped, with the kept singular values.
        private func leadingVectors(_ t: Projected, mode: Int, count: Int) throws -> (u: Tensor<Double>, s: [Double]) {
            // The input itself: share the cached unfolding with later projections.
            let isInput = t.modes == Array(0..<shape.count) && t.tensor.shape == shape
            let y = isInput ? Projected(tensor: unfolding(mode), modes: [mode] + (0..<shape.count).filter { $0 != mode })
                            : t.front(mode)
            let rows = y.tensor.shape[0], cols = y.tensor.count / rows
            let svd = try y.tensor.scalars.withUnsafeBufferPointer {
                try leftSingular($0.baseAddress!, m: rows, n: cols, k: count, project: false)
            }
            return (svd.u.tensor(shape: [rows, count]), svd.s)
        }
    }

    /// `Uᵀ · X` for `X` (I × cols, the row-major storage of a tensor whose first axis has size I)
    /// and `U` (I × R): the R × cols product, shape `[R] + X.shape[1...]`. Column blocks are
    /// spread over the workers (at most a last-bit difference between thread counts).
    static func frontProduct(_ x: Tensor<Double>, _ u: Tensor<Double>) -> Tensor<Double> {
        let i = x.shape[0], r = u.shape[1], cols = x.count / max(i, 1)
        var shape = x.shape
        shape[0] = r
        let values = [Double](unsafeUninitializedCapacity: r * cols) { out, initialized in
            x.scalars.withUnsafeBufferPointer { xb in
                u.scalars.withUnsafeBufferPointer { ub in
                    let blocks = max(1, min(Parallel.threadCount, cols / 256))
                    Parallel.forEach(blocks) { b in
                        let lo = cols * b / blocks, hi = cols * (b + 1) / blocks
                        Double.gemm(transA: true, transB: false, m: r, n: hi - lo, k: i, alpha: 1, a: ub.baseAddress!, lda: r,
                                    b: xb.baseAddress! + lo, ldb: cols, beta: 0, c: out.baseAddress! + lo, ldc: cols)
                    }
                }
            }
            initialized = r * cols
        }
        return Tensor(uncheckedShape: shape, scalars: values)
    }
}
