/// A Tucker-factorized tensor: `T = core ×_0 factors[0] ×_1 factors[1] …`.
///
/// Parameters: `core` of shape `(R_0, …, R_{N-1})` and one factor `(shape[i], R_i)` per mode
/// (state_dict names `weight.core`, `weight.factors.factor_i`).
public struct TuckerTensor: Equatable, Sendable {
    /// The core tensor, shape = the Tucker rank.
    public let core: Tensor<Float>
    /// One factor per mode, shape `(shape[i], R_i)`.
    public let factors: [Tensor<Float>]

    /// Creates a Tucker tensor from its parameters.
    /// - Throws: `.shapeMismatch` naming the parameter when the core is empty or a factor is not a
    ///   `(dim, R_i)` matrix; `.invalidArgument` when the factor count differs from the core's order.
    public init(core: Tensor<Float>, factors: [Tensor<Float>]) throws {
        guard core.rank >= 1 else { throw FactorConvError.shape("core has shape \(core.shape) but expected at least one mode") }
        try ParameterCheck.expectRank("core", core, core.rank, "")
        guard factors.count == core.rank else {
            throw FactorConvError.invalid("a Tucker core of shape \(core.shape) needs \(core.rank) factors, got \(factors.count)")
        }
        for (i, f) in factors.enumerated() {
            try ParameterCheck.expectRank("factor_\(i)", f, 2, "a matrix (dim, \(core.shape[i]))")
            try ParameterCheck.expect("factor_\(i)", f, [f.shape[0], core.shape[i]])
        }
        self.core = core
        self.factors = factors
    }

    /// The shape of the factorized tensor.
    public var shape: [Int] { factors.map { $0.shape[0] } }
    /// The Tucker rank: the core's shape.
    public var rank: [Int] { core.shape }
    /// The number of scalars stored (core and factors).
    public var parameterCount: Int { factors.reduce(core.count) { $0 + $1.count } }

    /// The full tensor, computed in Float by successive mode products (GEMM).
    public func reconstruct() throws -> Tensor<Float> {
        try Reconstruction.tucker(core: core, factors: factors)
    }

    /// The full tensor computed in Double from the Float parameters (for references).
    public func reconstructDouble() throws -> Tensor<Double> {
        try Reconstruction.tucker(core: core.converted(), factors: factors.map { $0.converted() })
    }

    /// The core with the factors of `modes` multiplied in (`core ×_n U_n` for n in `modes`),
    /// other modes keeping their rank size. E.g. the Tucker conv's spatial kernel
    /// `(R_out, R_in, K...)` is `coreTimesFactors(modes: Set(2..<shape.count))`.
    /// - Throws: `.invalidArgument` for a mode out of range.
    package func coreTimesFactors(modes: Set<Int>) throws -> Tensor<Float> {
        for m in modes where !factors.indices.contains(m) {
            throw FactorConvError.invalid("mode \(m) is out of range for a Tucker tensor with \(factors.count) modes")
        }
        return try Reconstruction.tuckerModes(core: core, factors: factors.indices.map { modes.contains($0) ? factors[$0] : nil })
    }

    /// The tensor with its leading modes fixed at `indices` (behaviour notes §5.2): each indexed mode's factor
    /// row is contracted into the core (`core ×_0 U_j[idx_j, :]`), the remaining factors unchanged.
    /// - Throws: `.indexOutOfRange` for an index outside its mode; `.invalidArgument` when every
    ///   mode would be indexed.
    public func selectingLayer(_ indices: [Int]) throws -> TuckerTensor {
        try ParameterCheck.layerIndices(indices, shape: shape)
        var c = core
        for (mode, index) in indices.enumerated() {
            let r = factors[mode].shape[1]
            let row = Array(factors[mode].scalars[(index * r)..<((index + 1) * r)])
            // Each contraction removes mode 0, so the next layer mode is mode 0 again.
            c = try c.contracting(row, mode: 0)
        }
        return try TuckerTensor(core: c, factors: Array(factors.dropFirst(indices.count)))
    }

    /// A Tucker tensor initialized as tltorch's `normal_(0, std)`: core and factors i.i.d.
    /// `N(0, σ²)` with `σ = (std / Π √R_i)^(1/(N+1))`, so the reconstruction has variance `std²`.
    /// - Throws: `.invalidArgument` for a rank of the wrong length or below 1, or an invalid std.
    public static func random(shape: [Int], rank: [Int], std: Double = 0.02, seed: UInt64) throws -> TuckerTensor {
        let zero = try zeros(shape: shape, rank: rank)
        try ParameterCheck.std(std)
        let sigma = initSigma(std: std, terms: rank.reduce(1.0) { $0 * Double($1) }, count: shape.count + 1)
        var rng = NormalGenerator(seed: seed)
        let core = rng.normalTensor(shape: rank, std: sigma)
        return try TuckerTensor(core: core, factors: zero.factors.map { rng.normalTensor(shape: $0.shape, std: sigma) })
    }

    /// A Tucker tensor with zero core and factors.
    /// - Throws: `.invalidArgument` for a rank of the wrong length or below 1, or an unallocatable size.
    public static func zeros(shape: [Int], rank: [Int]) throws -> TuckerTensor {
        guard !shape.isEmpty, rank.count == shape.count else {
            throw FactorConvError.invalid("Tucker rank \(rank) does not match a tensor of shape \(shape)")
        }
        try ParameterCheck.allocatable(rank, "core")
        for (i, (d, r)) in zip(shape, rank).enumerated() { try ParameterCheck.allocatable([d, r], "factor_\(i)") }
        return try TuckerTensor(core: Tensor(shape: rank), factors: zip(shape, rank).map { Tensor(shape: [$0, $1]) })
    }
}
