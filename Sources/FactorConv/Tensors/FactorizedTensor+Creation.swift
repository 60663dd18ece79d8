/// How to fill the parameters of a new factorized tensor.
public enum ParameterInitialization: Equatable, Sendable {
    /// Zero factors/cores (CP weights 1): the reconstruction is zero.
    case zeros
    /// tltorch's `reset_parameters(std)`: the reconstruction's entries are ~ `N(0, std²)`
    /// (also for TT, where tltorch's variance is off), reproducible from `seed`.
    case normal(std: Double, seed: UInt64)
}

extension FactorizedTensor {
    /// A new factorized tensor of `shape` (factorization layout, layer modes included) with a
    /// resolved `rank` whose kind matches `factorization`.
    /// - Throws: `.invalidArgument` when the rank does not fit the factorization or shape, or the
    ///   parameters cannot be allocated.
    public static func make(
        _ factorization: Factorization, shape: [Int], rank: TensorRank,
        initialization: ParameterInitialization = .normal(std: 0.02, seed: 0)
    ) throws -> FactorizedTensor {
        guard rank.factorization == factorization else {
            throw FactorConvError.invalid("rank \(rank) is a \(rank.factorization) rank but the factorization is \(factorization)")
        }
        switch (rank, initialization) {
        case (.cp(let r), .zeros): return .cp(try .zeros(shape: shape, rank: r))
        case (.cp(let r), .normal(let std, let seed)): return .cp(try .random(shape: shape, rank: r, std: std, seed: seed))
        case (.tucker(let r), .zeros): return .tucker(try .zeros(shape: shape, rank: r))
        case (.tucker(let r), .normal(let std, let seed)): return .tucker(try .random(shape: shape, rank: r, std: std, seed: seed))
        case (.tt(let r), .zeros): return .tt(try .zeros(shape: shape, rank: r))
        case (.tt(let r), .normal(let std, let seed)): return .tt(try .random(shape: shape, rank: r, std: std, seed: seed))
        case (.dense, .zeros): return .dense(try .zeros(shape: shape))
        case (.dense, .normal(let std, let seed)): return .dense(try .random(shape: shape, std: std, seed: seed))
        }
    }

    /// Resolves `rank` (spec §3) for `shape` and creates the tensor: `make(_:shape:rank:initialization:)`
    /// after `RankResolver.resolve`.
    public static func make(
        _ factorization: Factorization, shape: [Int], rank: RankSpec, fixedRankModes: [Int] = [],
        initialization: ParameterInitialization = .normal(std: 0.02, seed: 0)
    ) throws -> FactorizedTensor {
        let resolved = try RankResolver.resolve(rank, factorization: factorization, shape: shape, fixedModes: fixedRankModes)
        return try make(factorization, shape: shape, rank: resolved, initialization: initialization)
    }
}
