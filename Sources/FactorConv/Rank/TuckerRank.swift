extension RankResolver {
    /// Tucker ranks (TensorLy `validate_tucker_rank`).
    ///
    /// For a fraction f: with `P = prod(shape)`, `M` free modes, `Sc`/`Sf` the sums of squared free/fixed
    /// mode sizes, solve `P x^M + (Sc + Sf) x - f P = 0` on `[0, max(f, 1)]`; free mode i gets
    /// `max(round_half_even(s_i x), 1)`, fixed modes get `s_i`. An int r gives r (or `s_i` for fixed
    /// modes) everywhere; a per-mode list is used as is but must have one positive entry per mode.
    /// - Throws: `.invalidArgument` for an invalid fraction, int, list or fixed mode index.
    package static func tuckerRank(shape: [Int], rank: RankSpec, fixedModes: [Int] = []) throws -> [Int] {
        try validateRankShape(shape)
        let fixed = try validatedFixedModes(fixedModes, modeCount: shape.count)
        switch rank {
        case .same, .fraction:
            let f = rank.fractionValue!
            try validateFraction(f)
            let x = tuckerRoot(shape: shape, fraction: f, fixed: fixed)
            return try shape.indices.map { i in
                if fixed.contains(i) { return shape[i] }
                return max(try roundHalfEvenToInt(Double(shape[i]) * x, "Tucker rank of mode \(i)"), 1)
            }
        case .int(let r):
            guard r >= 1 else { throw FactorConvError.invalid("Tucker rank must be at least 1, got \(r)") }
            return shape.indices.map { fixed.contains($0) ? shape[$0] : r }
        case .perMode(let ranks):
            guard ranks.count == shape.count else {
                throw FactorConvError.invalid("Tucker rank \(pythonTuple(ranks)) has \(ranks.count) entries but the tensor of shape \(shape) has \(shape.count) modes")
            }
            guard ranks.allSatisfy({ $0 >= 1 }) else {
                throw FactorConvError.invalid("Tucker rank \(pythonTuple(ranks)) has an entry below 1")
            }
            return ranks
        }
    }

    /// The root of `P x^M + (Sc + Sf) x - f P` on `[0, max(f, 1)]` by bisection to machine precision.
    /// The function is increasing there, negative at 0 and non-negative at the right end.
    static func tuckerRoot(shape: [Int], fraction f: Double, fixed: Set<Int>) -> Double {
        let p = shape.reduce(1.0) { $0 * Double($1) }
        let freeCount = shape.indices.filter { !fixed.contains($0) }.count
        let squares = shape.reduce(0.0) { $0 + Double($1) * Double($1) }  // Sc + Sf
        func g(_ x: Double) -> Double {
            var power = 1.0
            for _ in 0..<freeCount { power *= x }
            return p * power + squares * x - f * p
        }
        var lo = 0.0, hi = max(f, 1.0)
        // 200 halvings always exhaust Double precision; stop early once the bracket cannot shrink.
        for _ in 0..<200 {
            let mid = 0.5 * (lo + hi)
            if mid <= lo || mid >= hi { break }
            if g(mid) < 0 { lo = mid } else { hi = mid }
        }
        return 0.5 * (lo + hi)
    }

    /// Checks fixed mode indices: in range and without repeats.
    static func validatedFixedModes(_ modes: [Int], modeCount: Int) throws -> Set<Int> {
        for m in modes where !(0..<modeCount).contains(m) {
            throw FactorConvError.invalid("fixed_rank_modes entry \(m) is out of range for a tensor with \(modeCount) modes")
        }
        let set = Set(modes)
        guard set.count == modes.count else { throw FactorConvError.invalid("fixed_rank_modes \(modes) has a repeated mode") }
        return set
    }
}
