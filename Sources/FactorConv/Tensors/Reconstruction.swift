/// Full-tensor reconstructions shared by the Float and Double paths. All heavy work is GEMM;
/// inputs are assumed validated by the owning factorized tensor.
enum Reconstruction {
    /// CP: `Σ_r λ_r a⁽⁰⁾_r ∘ … ∘ a⁽ᴹ⁻¹⁾_r`, computed as `KR(F_0 diag λ, …, F_{k-1}) · KR(F_k, …)ᵀ`.
    /// The split point k minimizes the two Khatri-Rao products' rows, which keeps the temporary
    /// small (a single split after mode 0 would build a `(Π_{i>0} I_i) × R` matrix).
    static func cp<S: TensorScalar>(weights: [S], factors: [Tensor<S>], shape: [Int]) throws -> Tensor<S> {
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

    /// Tucker: `core ×_0 U_0 ×_1 U_1 …`. Modes are applied in increasing order of growth
    /// `I_i / R_i` so that intermediates stay as small as possible.
    static func tucker<S: TensorScalar>(core: Tensor<S>, factors: [Tensor<S>]) throws -> Tensor<S> {
        let order = factors.indices.sorted {
            // I_a / R_a < I_b / R_b without division.
            factors[$0].shape[0] * factors[$1].shape[1] < factors[$1].shape[0] * factors[$0].shape[1]
        }
        var t = core
        for mode in order { t = try t.modeProduct(factors[mode], mode: mode) }
        return t
    }

    /// TT: `W[i_0..] = G_0[0, i_0, :] · G_1[:, i_1, :] ⋯`, by successive `(P, R_k) · (R_k, I_k R_{k+1})` GEMMs.
    static func tt<S: TensorScalar>(cores: [Tensor<S>], shape: [Int]) throws -> Tensor<S> {
        var acc = try cores[0].reshaped([cores[0].shape[1], cores[0].shape[2]])
        for core in cores.dropFirst() {
            let rk = core.shape[0]
            let product = try acc.matmul(core.reshaped([rk, core.shape[1] * core.shape[2]]))
            acc = try product.reshaped([acc.shape[0] * core.shape[1], core.shape[2]])
        }
        return try acc.reshaped(shape)
    }
}
