extension RankResolver {
    /// TT ranks (TensorLy `validate_tt_rank`, without `constant_rank`), length `shape.count + 1`.
    ///
    /// For a fraction f with `avg_k = (I_k + I_{k+1}) / 2`: `a = Σ_{i=1}^{d-2} avg_{i-1} I_i avg_i`
    /// (`avg_0² I_0` when d = 2), `b = I_0 avg_0 + I_{d-1} avg_{d-2}`, `c = -prod(I) f`,
    /// `x = (-b + sqrt(b² - 4ac)) / 2a`, inner rank k = `max(round_half_even(avg_{k-1} x), 1)`.
    /// An int r gives `(1, r, ..., r, 1)`; a list must have length d + 1, ones at both ends and
    /// positive entries. A one-mode tensor has ranks `(1, 1)`.
    /// - Throws: `.invalidArgument` for an invalid fraction, int or list.
    package static func ttRank(shape: [Int], rank: RankSpec) throws -> [Int] {
        try validateRankShape(shape)
        let d = shape.count
        switch rank {
        case .same, .fraction:
            let f = rank.fractionValue!
            try validateFraction(f)
            if d == 1 { return [1, 1] }
            let dims = shape.map(Double.init)
            let avg = (0..<(d - 1)).map { (dims[$0] + dims[$0 + 1]) / 2 }
            var a = 0.0
            if d == 2 {
                a = avg[0] * avg[0] * dims[0]
            } else {
                for i in 1...(d - 2) { a += avg[i - 1] * dims[i] * avg[i] }
            }
            let b = dims[0] * avg[0] + dims[d - 1] * avg[d - 2]
            let c = -dims.reduce(1.0, *) * f
            let x = (-b + (b * b - 4 * a * c).squareRoot()) / (2 * a)
            let inner = try avg.enumerated().map { k, v in
                max(try roundHalfEvenToInt(v * x, "TT rank \(k + 1)"), 1)
            }
            return [1] + inner + [1]
        case .int(let r):
            guard r >= 1 else { throw FactorConvError.invalid("TT rank must be at least 1, got \(r)") }
            return [1] + Array(repeating: r, count: d - 1) + [1]
        case .perMode(let ranks):
            guard ranks.count == d + 1 else {
                throw FactorConvError.invalid("TT rank \(pythonTuple(ranks)) has \(ranks.count) entries but a tensor with \(d) modes needs \(d + 1)")
            }
            guard ranks.first == 1, ranks.last == 1 else {
                throw FactorConvError.invalid("TT rank \(pythonTuple(ranks)) must start and end with 1")
            }
            guard ranks.allSatisfy({ $0 >= 1 }) else {
                throw FactorConvError.invalid("TT rank \(pythonTuple(ranks)) has an entry below 1")
            }
            return ranks
        }
    }
}
