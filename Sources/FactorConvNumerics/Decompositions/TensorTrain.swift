/// Tensor-train decomposition by TT-SVD (TensorLy's `tensor_train`, behaviour notes §10.4).
///
/// `Z = T`; for k = 0…N−2: `Z = reshape(Z, (r_k I_k, −1))`, `r_{k+1} = min(rows, cols, rank[k+1])`,
/// core k = the `r_{k+1}` leading (sign-flipped) left singular vectors, `Z = diag(S) Vᵀ`; the last
/// core is the remaining `Z`. Wide unfoldings use the Gram path, where `diag(S) Vᵀ = Uᵀ Z` is one
/// GEMM and V is never formed; tall ones use the thin SVD.
///
/// An interruptible call (`Interruption`): checked before every core's SVD and inside it.
/// - Parameters:
///   - ranks: N+1 ranks with `ranks[0] == ranks[N] == 1`, each ≥ 1; larger ranks than an unfolding
///     allows are truncated (e.g. (1,7,5,6,1) on (6,3,3,5) gives (1,6,5,5,1)).
///   - progress: called after each core with the error so far (from the discarded singular values).
/// - Returns: cores `(r_k, I_k, r_{k+1})`, the ranks used and the relative error.
/// - Throws: `.invalidArgument`, `.numerical`, `.cancelled` (progress hook, interruption).
package func tensorTrain(_ tensor: Tensor<Double>, ranks: [Int], progress: DecompositionProgress? = nil) throws -> TTDecomposition {
    let normT2 = try DecompositionKit.validatedSquaredNorm(tensor, "tensorTrain")
    let shape = tensor.shape, order = shape.count
    guard ranks.count == order + 1 else {
        throw FactorConvError.invalid("tensorTrain: \(ranks.count) ranks given; a tensor of order \(order) needs \(order + 1)")
    }
    guard ranks.first == 1, ranks.last == 1 else { throw FactorConvError.invalid("tensorTrain: the boundary ranks must be 1, got \(ranks)") }
    guard ranks.allSatisfy({ $0 >= 1 }) else { throw FactorConvError.invalid("tensorTrain: every rank must be ≥ 1, got \(ranks)") }
    try BLAS.require()
    return try Interruption.interruptible("tensorTrain") {
        try tensorTrainSteps(tensor, ranks: ranks, normT2: normT2, progress: progress)
    }
}

/// The steps of `tensorTrain` on a validated tensor of squared norm `normT2`.
private func tensorTrainSteps(_ tensor: Tensor<Double>, ranks: [Int], normT2: Double,
                              progress: DecompositionProgress?) throws -> TTDecomposition {
    let shape = tensor.shape, order = shape.count
    let normT = normT2.squareRoot()
    // The remainder Z; nil while it is still the input, which the first step reads in place.
    var z: DecompositionKit.Matrix? = nil
    var zNorm2 = normT2
    var used = [1]
    var cores: [Tensor<Double>] = []
    var discarded = 0.0
    for k in 0..<(order - 1) {
        try Interruption.check("tensorTrain")
        let rows = used[k] * shape[k], cols = tensor.count / shape[0...k].reduce(1, *)
        let r = min(rows, cols, ranks[k + 1])
        let svd: DecompositionKit.LeftSingular
        if let z {
            svd = try DecompositionKit.leftSingular(z.data, m: rows, n: cols, k: r, project: true)
        } else {
            svd = try tensor.scalars.withUnsafeBufferPointer {
                try DecompositionKit.leftSingular($0.baseAddress!, m: rows, n: cols, k: r, project: true)
            }
        }
        cores.append(svd.u.tensor(shape: [used[k], shape[k], r]))
        let projection = svd.projection!
        z = projection
        let kept = projection.squaredNorm
        discarded += max(0, zNorm2 - kept)   // the TT error is the sum of what each step drops
        zNorm2 = kept
        used.append(r)
        let error = normT > 0 ? discarded.squareRoot() / normT : discarded.squareRoot()
        try DecompositionKit.report(progress, k + 1, error, "tensorTrain")
    }
    cores.append(z?.tensor(shape: [used[order - 1], shape[order - 1], 1]) ?? Tensor(uncheckedShape: [1, shape[0], 1], scalars: tensor.scalars))
    used.append(1)
    let error = normT > 0 ? discarded.squareRoot() / normT : discarded.squareRoot()
    return TTDecomposition(cores: cores, ranks: used, relativeError: error)
}
