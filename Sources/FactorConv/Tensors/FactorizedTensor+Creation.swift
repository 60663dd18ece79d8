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
        try MemoryLimit.check(elements: parameterElements(shape: shape, rank: rank), "a \(factorization) tensor of shape \(shape) and rank \(rank)")
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

    /// Resolves `rank` (behaviour notes §3) for `shape` and creates the tensor: `make(_:shape:rank:initialization:)`
    /// after `RankResolver.resolve`.
    public static func make(
        _ factorization: Factorization, shape: [Int], rank: RankSpec, fixedRankModes: [Int] = [],
        initialization: ParameterInitialization = .normal(std: 0.02, seed: 0)
    ) throws -> FactorizedTensor {
        let resolved = try RankResolver.resolve(rank, factorization: factorization, shape: shape, fixedModes: fixedRankModes)
        return try make(factorization, shape: shape, rank: resolved, initialization: initialization)
    }
}

/// The number of scalars a tensor of `shape` and `rank` stores (overflow-checked), computed
/// before allocating so oversized requests fail cleanly.
func parameterElements(shape: [Int], rank: TensorRank) throws -> Int {
    let what = "parameters of shape \(shape), rank \(rank)"
    switch rank {
    case .cp(let r):
        var sum = 1  // the weights
        for size in shape { sum = try Checked.add(sum, size, what) }
        return try Checked.multiply(r, sum, what)
    case .tucker(let r):
        var total = try Checked.product(r, what)
        for (size, ri) in zip(shape, r) { total = try Checked.add(total, try Checked.multiply(size, ri, what), what) }
        return total
    case .tt(let r):
        var total = 0
        for (i, size) in shape.enumerated() where i + 1 < r.count {
            total = try Checked.add(total, try Checked.product([r[i], size, r[i + 1]], what), what)
        }
        return total
    case .dense:
        return try Checked.product(shape, what)
    }
}
