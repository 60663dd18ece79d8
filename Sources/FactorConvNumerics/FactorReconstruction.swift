/// Full-tensor reconstructions of CP, Tucker and TT factors, generic over the scalar: the one
/// implementation behind the layer's factorized tensors (Float, and Double for their
/// `reconstructDouble`) and the decompositions' `reconstructed()`. All heavy work is GEMM;
/// inputs are assumed validated by the caller.
package enum Reconstruction {
    /// CP: `Σ_r λ_r a⁽⁰⁾_r ∘ … ∘ a⁽ᴹ⁻¹⁾_r`, computed as `KR(F_0 diag λ, …, F_{k-1}) · KR(F_k, …)ᵀ`.
    /// The split point k minimizes the two Khatri-Rao products' rows, which keeps the temporary
    /// small (a single split after mode 0 would build a `(Π_{i>0} I_i) × R` matrix).
    package static func cp<S: BLASScalar>(weights: [S], factors: [Tensor<S>], shape: [Int]) throws -> Tensor<S> {
        let r = weights.count
        var scaled = factors
        // Fold λ into the first factor's columns.
        for row in 0..<shape[0] {
            for c in 0..<r { scaled[0].scalars[row * r + c] *= weights[c] }
        }
        var split = 1, best = Int.max
        for k in 1...max(1, shape.count - 1) {
            let cost = shape[..<k].reduce(1, *) + shape[k...].reduce(1, *)
            if cost < best { best = cost; split = k }
        }
        let left = khatriRaoProduct(scaled[..<split], columns: r)
        let right = khatriRaoProduct(scaled[split...], columns: r)
        let full = try left.matmul(right, transposeOther: true)
        return try full.reshaped(shape)
    }

    /// Tucker: `core ×_0 U_0 ×_1 U_1 …`; see `tuckerModes`.
    package static func tucker<S: BLASScalar>(core: Tensor<S>, factors: [Tensor<S>]) throws -> Tensor<S> {
        try tuckerModes(core: core, factors: factors.map { Optional($0) })
    }

    /// `core ×_n U_n` for every mode n whose factor is non-nil (other modes keep the core's size).
    ///
    /// One GEMM per mode and no strided small GEMMs: processing modes last to first, the current
    /// tensor is viewed as `(rest, R_n)` and `U_n · viewᵀ` gives `(I_n, rest)`, i.e. the product
    /// with mode n already rotated to the front; after all modes the original order is restored.
    /// A mode without a factor is only rotated (a 2-D transpose).
    package static func tuckerModes<S: BLASScalar>(core: Tensor<S>, factors: [Tensor<S>?]) throws -> Tensor<S> {
        var t = core
        var shape = core.shape
        for mode in factors.indices.reversed() {
            let r = shape[shape.count - 1]
            let rest = t.count / r
            let view = try t.reshaped([rest, r])
            let rotated: Tensor<S>
            if let u = factors[mode] {
                rotated = try u.matmul(view, transposeOther: true)
            } else {
                rotated = try view.permuted([1, 0])
            }
            shape = [rotated.shape[0]] + shape.dropLast()
            t = try rotated.reshaped(shape)
        }
        return t
    }

    /// TT: `W[i_0..] = G_0[0, i_0, :] · G_1[:, i_1, :] ⋯`. Cores left of a split k are chained into
    /// a `(I_0⋯I_{k-1}, R_k)` matrix, cores right of it into `(R_k, I_k⋯I_{N-1})`, and one GEMM
    /// joins them. The split minimizing the flop count is chosen: with a small middle rank (the
    /// usual conv case) this is far cheaper than chaining left to right.
    package static func tt<S: BLASScalar>(cores: [Tensor<S>], shape: [Int]) throws -> Tensor<S> {
        let split = ttSplit(shape: shape, rank: cores.map { $0.shape[0] } + [1])
        var left = try cores[0].reshaped([cores[0].shape[1], cores[0].shape[2]])
        for core in cores[1..<split] {
            let product = try left.matmul(core.reshaped([core.shape[0], core.shape[1] * core.shape[2]]))
            left = try product.reshaped([left.shape[0] * core.shape[1], core.shape[2]])
        }
        guard split < cores.count else { return try left.reshaped(shape) }
        let last = cores[cores.count - 1]
        var right = try last.reshaped([last.shape[0], last.shape[1]])
        for core in cores[split..<(cores.count - 1)].reversed() {
            let product = try core.reshaped([core.shape[0] * core.shape[1], core.shape[2]]).matmul(right)
            right = try product.reshaped([core.shape[0], core.shape[1] * right.shape[1]])
        }
        return try left.matmul(right).reshaped(shape)
    }

    /// The number of leading cores to chain from the left (1...N; N means no right part) that
    /// minimizes the multiply-add count of `tt`.
    package static func ttSplit(shape: [Int], rank: [Int]) -> Int {
        let n = shape.count
        // leftCost[k]: chaining cores 0..<k; rows[k] = I_0⋯I_{k-1}.
        var leftCost = [Double](repeating: 0, count: n + 1), rows = [Double](repeating: 1, count: n + 1)
        rows[1] = Double(shape[0])
        if n >= 2 {
            for k in 2...n {
                let j = k - 1
                leftCost[k] = leftCost[k - 1] + rows[j] * Double(rank[j] * shape[j]) * Double(rank[j + 1])
                rows[k] = rows[j] * Double(shape[j])
            }
        }
        // rightCost[k]: chaining cores k..<n; cols[k] = I_k⋯I_{n-1}.
        var rightCost = [Double](repeating: 0, count: n + 1), cols = [Double](repeating: 1, count: n + 1)
        cols[n - 1] = Double(shape[n - 1])
        if n >= 2 {
            for k in stride(from: n - 2, through: 0, by: -1) {
                rightCost[k] = rightCost[k + 1] + Double(rank[k] * shape[k]) * Double(rank[k + 1]) * cols[k + 1]
                cols[k] = cols[k + 1] * Double(shape[k])
            }
        }
        var best = n, bestCost = leftCost[n]
        for k in 1..<n {
            let cost = leftCost[k] + rightCost[k] + rows[k] * Double(rank[k]) * cols[k]
            if cost < bestCost { best = k; bestCost = cost }
        }
        return best
    }
}
