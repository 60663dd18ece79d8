/// A CP-factorized tensor: `T = Σ_r weights[r] · factors[0][:, r] ∘ factors[1][:, r] ∘ …`.
///
/// Parameters: `weights` of shape `(R,)` and one factor `(shape[i], R)` per mode (state_dict
/// names `weight.weights`, `weight.factors.factor_i`). A value type: every change makes a new value.
public struct CPTensor: Equatable, Sendable {
    /// The weights λ, shape `(R,)`.
    public let weights: Tensor<Float>
    /// One factor per mode, shape `(shape[i], R)`.
    public let factors: [Tensor<Float>]

    /// Creates a CP tensor from its parameters.
    /// - Throws: `.shapeMismatch` naming the parameter when `weights` is not a non-empty vector or
    ///   a factor is not a `(dim, R)` matrix; `.invalidArgument` when there are no factors.
    public init(weights: Tensor<Float>, factors: [Tensor<Float>]) throws {
        try ParameterCheck.expectRank("weights", weights, 1, "a vector (R,) with R >= 1")
        guard !factors.isEmpty else { throw FactorConvError.invalid("a CP tensor needs at least one factor") }
        let r = weights.shape[0]
        for (i, f) in factors.enumerated() {
            try ParameterCheck.expectRank("factor_\(i)", f, 2, "a matrix (dim, \(r))")
            try ParameterCheck.expect("factor_\(i)", f, [f.shape[0], r])
        }
        self.weights = weights
        self.factors = factors
    }

    /// The shape of the factorized tensor (`factors[i].shape[0]` for each mode).
    public var shape: [Int] { factors.map { $0.shape[0] } }
    /// The CP rank R.
    public var rank: Int { weights.shape[0] }
    /// The number of scalars stored (weights included).
    public var parameterCount: Int { factors.reduce(weights.count) { $0 + $1.count } }

    /// The full tensor, computed in Float with GEMM.
    public func reconstruct() throws -> Tensor<Float> {
        try Reconstruction.cp(weights: weights.scalars, factors: factors, shape: shape)
    }

    /// The full tensor computed in Double from the Float parameters (for references).
    public func reconstructDouble() throws -> Tensor<Double> {
        try Reconstruction.cp(weights: weights.scalars.map(Double.init), factors: factors.map { $0.converted() }, shape: shape)
    }

    /// The tensor with its leading modes fixed at `indices` (behaviour notes §5.2): `weights ∘ F_j[idx_j, :]`
    /// for each indexed mode j, the remaining factors unchanged. An empty list returns `self`.
    /// - Throws: `.indexOutOfRange` for an index outside its mode; `.invalidArgument` when
    ///   every mode would be indexed.
    public func selectingLayer(_ indices: [Int]) throws -> CPTensor {
        try ParameterCheck.layerIndices(indices, shape: shape)
        var w = weights
        let r = rank
        for (mode, index) in indices.enumerated() {
            for c in 0..<r { w.scalars[c] *= factors[mode].scalars[index * r + c] }
        }
        return try CPTensor(weights: w, factors: Array(factors.dropFirst(indices.count)))
    }

    /// A CP tensor initialized as tltorch's `normal_(0, std)`: weights 1, factors i.i.d.
    /// `N(0, σ²)` with `σ = (std / √R)^(1/N)`, so the reconstruction has variance `std²`.
    /// - Throws: `.invalidArgument` for a rank below 1, an empty shape or an invalid std.
    public static func random(shape: [Int], rank: Int, std: Double = 0.02, seed: UInt64) throws -> CPTensor {
        var zero = try zeros(shape: shape, rank: rank)
        try ParameterCheck.std(std)
        let sigma = initSigma(std: std, terms: Double(rank), count: shape.count)
        var rng = NormalGenerator(seed: seed)
        zero = try CPTensor(weights: zero.weights, factors: zero.factors.map { rng.normalTensor(shape: $0.shape, std: sigma) })
        return zero
    }

    /// A CP tensor with weights 1 and zero factors (reconstructs to zeros).
    /// - Throws: `.invalidArgument` for a rank below 1, an empty shape or an unallocatable size.
    public static func zeros(shape: [Int], rank: Int) throws -> CPTensor {
        guard rank >= 1 else { throw FactorConvError.invalid("CP rank must be at least 1, got \(rank)") }
        guard !shape.isEmpty else { throw FactorConvError.invalid("a CP tensor needs at least one mode") }
        for (i, d) in shape.enumerated() { try ParameterCheck.allocatable([d, rank], "factor_\(i)") }
        return try CPTensor(weights: Tensor(repeating: 1, shape: [rank]), factors: shape.map { Tensor(shape: [$0, rank]) })
    }
}
