/// How a factorized convolution computes its forward pass (tltorch's `implementation=`).
public enum Implementation: String, CaseIterable, Sendable, CustomStringConvertible {
    /// Separable stages straight from the factors (CP: 1×1 → depthwise 1-D per mode → 1×1;
    /// Tucker: 1×1 → core conv → 1×1; TT: 1×1 → one R_n→R_{n+1} 1-D conv per mode → 1×1).
    case factorized
    /// One dense convolution with the reconstructed kernel (cached until the parameters change).
    case reconstructed
    /// CP only: 1×1 → one depthwise N-D conv with the per-rank outer-product kernel → 1×1.
    case mobilenet
    /// FactorConv's own: the fastest of the above for the layer and input shape, chosen by a
    /// cost model (`FactorizedConv.chosenImplementation(inputShape:layer:)` tells which).
    case auto

    /// Parses a case-insensitive name ('factorized', 'reconstructed', 'mobilenet', 'auto').
    /// - Throws: `.invalidArgument` naming the accepted values.
    public init(parsing name: String) throws {
        guard let value = Implementation(rawValue: name.lowercased()) else {
            throw FactorConvError.invalid(
                "implementation '\(name)' is not one of 'factorized', 'reconstructed', 'mobilenet', 'auto'")
        }
        self = value
    }

    public var description: String { rawValue }

    /// Checks that this implementation exists for `factorization`.
    /// - Throws: `.unsupported` for mobilenet on non-CP tensors and factorized/mobilenet on dense ones.
    func validate(for factorization: Factorization) throws {
        switch (self, factorization) {
        case (.mobilenet, .tucker), (.mobilenet, .tt), (.mobilenet, .dense), (.factorized, .dense):
            throw FactorConvError(.unsupported,
                "implementation '\(rawValue)' is not available for factorization '\(factorization.rawValue)'"
                + (factorization == .dense ? " (use 'reconstructed' or 'auto')" : " (mobilenet is CP-only)"))
        default: return
        }
    }
}
