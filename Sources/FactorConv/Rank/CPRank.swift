extension RankResolver {
    /// CP rank (TensorLy `validate_cp_rank`): for a fraction f, `round_half_even(prod(shape) * f / sum(shape))`;
    /// an int is used as is.
    /// - Throws: `.invalidArgument` when the rank is not positive (a small fraction can round to 0;
    ///   tltorch would silently build an empty tensor) or a per-mode list is given.
    package static func cpRank(shape: [Int], rank: RankSpec) throws -> Int {
        try validateRankShape(shape)
        switch rank {
        case .same, .fraction:
            let f = rank.fractionValue!
            try validateFraction(f)
            // Same operation order as TensorLy so that exact ties round identically.
            let product = shape.reduce(1.0) { $0 * Double($1) }
            let sum = shape.reduce(0.0) { $0 + Double($1) }
            let r = try roundHalfEvenToInt(product * f / sum, "CP rank for shape \(shape)")
            guard r >= 1 else {
                throw FactorConvError.invalid(
                    "CP rank \(rank) for shape \(shape) resolves to \(r) (prod \(Int(product)) * \(f) / sum \(Int(sum)) rounds to \(r)); use a larger rank")
            }
            return r
        case .int(let r):
            guard r >= 1 else { throw FactorConvError.invalid("CP rank must be at least 1, got \(r)") }
            return r
        case .perMode(let ranks):
            throw FactorConvError.invalid("a CP rank is a single int or fraction, got the per-mode list \(ranks)")
        }
    }
}
