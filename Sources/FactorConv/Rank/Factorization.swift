/// The kind of factorization of a convolution kernel (tltorch's registry names, real-valued only).
public enum Factorization: String, CaseIterable, Sendable, CustomStringConvertible {
    /// CANDECOMP/PARAFAC: a weighted sum of rank-one tensors.
    case cp
    /// Tucker: a core tensor multiplied by one factor matrix per mode.
    case tucker
    /// Tensor train: a chain of third-order cores; factorizes the `(C_in, K..., C_out)` tensor.
    case tt
    /// No factorization: the full tensor is the parameter.
    case dense

    /// Parses a factorization name case-insensitively (`"CP"`, `"Tucker"`, `"tt"`, `"Dense"`).
    /// - Throws: `.invalidArgument` naming the accepted values for anything else.
    public init(parsing name: String) throws {
        guard let value = Factorization(rawValue: name.lowercased()) else {
            let accepted = Factorization.allCases.map { "'\($0.rawValue)'" }.joined(separator: ", ")
            throw FactorConvError.invalid("unknown factorization '\(name)': expected one of \(accepted) (case-insensitive)")
        }
        self = value
    }

    /// tltorch's class-style name, as in `CPTensor(shape=..., rank=...)`: "CP", "Tucker", "TT", "Dense".
    public var displayName: String {
        switch self {
        case .cp: "CP"
        case .tucker: "Tucker"
        case .tt: "TT"
        case .dense: "Dense"
        }
    }

    /// The lower-case registry name ("cp", "tucker", "tt", "dense").
    public var description: String { rawValue }
}
