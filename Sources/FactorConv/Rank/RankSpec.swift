/// A requested rank, as passed to a constructor (tltorch's `rank=` argument).
public enum RankSpec: Equatable, Sendable, CustomStringConvertible {
    /// `'same'`: about as many parameters as the dense tensor (exactly the fraction 1.0).
    case same
    /// A fraction of the dense parameter count (a Python float).
    case fraction(Double)
    /// One integer rank (a Python int): CP rank, every Tucker mode, or every inner TT rank.
    case int(Int)
    /// An explicit rank per mode: Tucker `(R_0, ..., R_{N-1})` or TT `(1, R_1, ..., 1)`.
    case perMode([Int])

    /// The fraction this spec stands for, if it is `'same'` or a float.
    public var fractionValue: Double? {
        switch self {
        case .same: 1.0
        case .fraction(let f): f
        case .int, .perMode: nil
        }
    }

    /// Python-style text: `'same'`, `0.5`, `10`, `(5, 3, 2, 2)`.
    public var description: String {
        switch self {
        case .same: "'same'"
        case .fraction(let f): "\(f)"
        case .int(let r): "\(r)"
        case .perMode(let ranks): pythonTuple(ranks)
        }
    }
}

/// Modes of a Tucker factorization whose rank is pinned to the mode size (tltorch `fixed_rank_modes`).
public enum FixedRankModes: Equatable, Sendable {
    /// Absolute mode indices of the factorized tensor (layer modes included), used verbatim.
    case modes([Int])
    /// Every kernel-spatial mode: `2 + layerModes ..< 2 + layerModes + order`.
    case spatial

    /// The absolute mode indices for a factorized tensor with `layerModes` leading layer modes
    /// and `order` spatial modes.
    public func resolved(layerModes: Int, order: Int) -> [Int] {
        switch self {
        case .modes(let m): m
        case .spatial: Array((2 + layerModes)..<(2 + layerModes + order))
        }
    }
}

/// Formats integers as a Python tuple: `(3,)`, `(30, 15, 3, 3)`.
func pythonTuple(_ values: [Int]) -> String {
    values.count == 1 ? "(\(values[0]),)" : "(" + values.map(String.init).joined(separator: ", ") + ")"
}
