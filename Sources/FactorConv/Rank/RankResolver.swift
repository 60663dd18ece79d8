/// Rank resolution for factorized tensors, exactly as TensorLy's validators (behaviour notes §3).
///
/// The shape is always the *factorized tensor* shape: layer modes first, and for TT the
/// `(C_in, K..., C_out)` layout (see `KernelLayout`).
package enum RankResolver {
    /// Resolves `rank` for a tensor of `shape` factorized as `factorization`.
    ///
    /// `fixedModes` (absolute mode indices) is only meaningful for Tucker; passing a non-empty list
    /// for another factorization is an error here (tltorch warns and ignores it).
    /// - Throws: `.invalidArgument` for a rank that resolves below 1, malformed lists, a rank for a
    ///   dense tensor other than `'same'`, or misplaced fixed modes.
    package static func resolve(
        _ rank: RankSpec, factorization: Factorization, shape: [Int], fixedModes: [Int] = []
    ) throws -> TensorRank {
        if factorization != .tucker && !fixedModes.isEmpty {
            throw FactorConvError.invalid(
                "fixed_rank_modes \(fixedModes) is only used for factorization='tucker', got factorization='\(factorization.rawValue)'")
        }
        switch factorization {
        case .cp: return .cp(try cpRank(shape: shape, rank: rank))
        case .tucker: return .tucker(try tuckerRank(shape: shape, rank: rank, fixedModes: fixedModes))
        case .tt: return .tt(try ttRank(shape: shape, rank: rank))
        case .dense:
            try validateRankShape(shape)
            return .dense
        }
    }
}
