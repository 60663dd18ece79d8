/// A tensor-train (TT) factorized tensor: `T[i_0, …] = G_0[0, i_0, :] · G_1[:, i_1, :] ⋯ G_{N-1}[:, i_{N-1}, 0]`.
///
/// Parameters: cores `(R_i, shape[i], R_{i+1})` with `R_0 = R_N = 1` (state_dict names
/// `weight.factors.factor_i`). For a convolution the factorized tensor is `(C_in, K..., C_out)`
/// (see `KernelLayout`).
public struct TTTensor: Equatable, Sendable {
    /// The cores, shape `(R_i, shape[i], R_{i+1})`.
    public let cores: [Tensor<Float>]

    /// Creates a TT tensor from its cores.
    /// - Throws: `.shapeMismatch` naming the core (`factor_i`) when a core is not 3-D, its left
    ///   rank differs from the previous core's right rank, or a boundary rank is not 1;
    ///   `.invalidArgument` when there are no cores.
    public init(cores: [Tensor<Float>]) throws {
        guard !cores.isEmpty else { throw FactorConvError.invalid("a TT tensor needs at least one core") }
        var left = 1
        for (i, g) in cores.enumerated() {
            try ParameterCheck.expectRank("factor_\(i)", g, 3, "a core (\(left), dim, rank)")
            let right = i == cores.count - 1 ? 1 : g.shape[2]
            try ParameterCheck.expect("factor_\(i)", g, [left, g.shape[1], right])
            left = right
        }
        self.cores = cores
    }

    /// The shape of the factorized tensor.
    public var shape: [Int] { cores.map { $0.shape[1] } }
    /// The TT rank `(1, R_1, …, R_{N-1}, 1)`.
    public var rank: [Int] { cores.map { $0.shape[0] } + [1] }
    /// The number of scalars stored.
    public var parameterCount: Int { cores.reduce(0) { $0 + $1.count } }

    /// The full tensor (in factorization layout), computed in Float by successive GEMMs.
    public func reconstruct() throws -> Tensor<Float> {
        try Reconstruction.tt(cores: cores, shape: shape)
    }

    /// The full tensor computed in Double from the Float parameters (for references).
    public func reconstructDouble() throws -> Tensor<Double> {
        try Reconstruction.tt(cores: cores.map { $0.converted() }, shape: shape)
    }

    /// The tensor with its leading modes fixed at `indices` (behaviour notes §5.2): the `(1, R)` slices
    /// `G_j[:, idx_j, :]` are multiplied together and into the next core, which becomes the new
    /// first core `(1, dim, R')`.
    /// - Throws: `.indexOutOfRange` for an index outside its mode; `.invalidArgument` when every
    ///   mode would be indexed.
    public func selectingLayer(_ indices: [Int]) throws -> TTTensor {
        guard !indices.isEmpty else { return self }
        try ParameterCheck.layerIndices(indices, shape: shape)
        // row: the (1, R) product of the selected slices so far.
        var row = Tensor<Float>(repeating: 1, shape: [1, 1])
        for (mode, index) in indices.enumerated() {
            let g = cores[mode]
            let (rl, dim, rr) = (g.shape[0], g.shape[1], g.shape[2])
            // Slice G[:, index, :] as an (R_l, R_r) matrix.
            var slice = Tensor<Float>(shape: [rl, rr])
            for a in 0..<rl {
                for b in 0..<rr { slice.scalars[a * rr + b] = g.scalars[(a * dim + index) * rr + b] }
            }
            row = try row.matmul(slice)
        }
        let next = cores[indices.count]
        let (rl, dim, rr) = (next.shape[0], next.shape[1], next.shape[2])
        let merged = try row.matmul(next.reshaped([rl, dim * rr])).reshaped([1, dim, rr])
        return try TTTensor(cores: [merged] + cores.dropFirst(indices.count + 1))
    }

    /// A TT tensor with i.i.d. `N(0, σ²)` cores, `σ = (std / √(Π R_i))^(1/N)`, so the
    /// reconstruction has variance `std²`. (Deliberate fix: tltorch uses `(std / Π R_i)^(1/N)`,
    /// which makes the reconstruction std `std / √(Π R_i)`.)
    /// - Throws: `.invalidArgument` for an invalid rank or std.
    public static func random(shape: [Int], rank: [Int], std: Double = 0.02, seed: UInt64) throws -> TTTensor {
        let zero = try zeros(shape: shape, rank: rank)
        try ParameterCheck.std(std)
        let sigma = initSigma(std: std, terms: rank.reduce(1.0) { $0 * Double($1) }, count: shape.count)
        var rng = NormalGenerator(seed: seed)
        return try TTTensor(cores: zero.cores.map { rng.normalTensor(shape: $0.shape, std: sigma) })
    }

    /// A TT tensor with zero cores.
    /// - Throws: `.invalidArgument` for a rank that is not `(1, R_1 >= 1, …, 1)` of length N + 1.
    public static func zeros(shape: [Int], rank: [Int]) throws -> TTTensor {
        guard !shape.isEmpty, rank.count == shape.count + 1, rank.first == 1, rank.last == 1 else {
            throw FactorConvError.invalid("TT rank \(rank) does not fit a tensor of shape \(shape): it needs \(shape.count + 1) entries starting and ending with 1")
        }
        let coreShapes = shape.indices.map { [rank[$0], shape[$0], rank[$0 + 1]] }
        for (i, s) in coreShapes.enumerated() { try ParameterCheck.allocatable(s, "factor_\(i)") }
        return try TTTensor(cores: coreShapes.map { Tensor(shape: $0) })
    }
}
