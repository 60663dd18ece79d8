/// A resolved rank of a factorized tensor.
public enum TensorRank: Equatable, Hashable, Sendable, CustomStringConvertible {
    /// CP rank R (number of rank-one terms).
    case cp(Int)
    /// Tucker ranks: the core's shape `(R_0, ..., R_{N-1})`.
    case tucker([Int])
    /// TT ranks `(1, R_1, ..., R_{N-1}, 1)`, length N + 1.
    case tt([Int])
    /// A dense tensor has no rank (tltorch prints `None`).
    case dense

    /// The rank as a list: `[R]` for CP, the per-mode ranks otherwise, `[]` for dense.
    public var values: [Int] {
        switch self {
        case .cp(let r): [r]
        case .tucker(let r), .tt(let r): r
        case .dense: []
        }
    }

    /// The factorization this rank belongs to.
    public var factorization: Factorization {
        switch self {
        case .cp: .cp
        case .tucker: .tucker
        case .tt: .tt
        case .dense: .dense
        }
    }

    /// Python-style text as in tltorch's reprs: `85`, `(30, 15, 3, 3)`, `(1, 30, 9, 55, 1)`, `None`.
    public var description: String {
        switch self {
        case .cp(let r): "\(r)"
        case .tucker(let r), .tt(let r): pythonTuple(r)
        case .dense: "None"
        }
    }
}
