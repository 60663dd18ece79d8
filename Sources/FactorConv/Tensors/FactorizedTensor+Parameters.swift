/// tltorch state_dict naming: `weight.weights`, `weight.core`, `weight.factors.factor_i`
/// (TT cores included), `weight.tensor` (Dense).
extension FactorizedTensor {
    /// The parameters in tltorch's registration order, named `"<prefix>.<name>"` (just
    /// `"<name>"` for an empty prefix): CP weights then factors, Tucker core then factors,
    /// TT cores as factors, Dense `tensor`.
    public func namedParameters(prefix: String = "weight") -> [(String, Tensor<Float>)] {
        let p = prefix.isEmpty ? "" : prefix + "."
        func factorList(_ list: [Tensor<Float>]) -> [(String, Tensor<Float>)] {
            list.enumerated().map { ("\(p)factors.factor_\($0.offset)", $0.element) }
        }
        switch self {
        case .cp(let t): return [("\(p)weights", t.weights)] + factorList(t.factors)
        case .tucker(let t): return [("\(p)core", t.core)] + factorList(t.factors)
        case .tt(let t): return factorList(t.cores)
        case .dense(let t): return [("\(p)tensor", t.tensor)]
        }
    }

    /// The names of `namedParameters(prefix:)`, in order.
    public func parameterNames(prefix: String = "weight") -> [String] {
        namedParameters(prefix: prefix).map(\.0)
    }

    /// A new tensor of the same kind and shapes with the given parameters replaced.
    ///
    /// Every key must be one of `parameterNames(prefix:)` and every tensor must have exactly the
    /// current shape of that parameter (a state_dict load cannot change the rank). With
    /// `requireAll`, every parameter must be given. `self` is a value and is never modified.
    /// - Throws: `.invalidArgument` for an unknown or missing name; `.shapeMismatch` naming the
    ///   parameter, e.g. "weight.factors.factor_2 has shape [3, 5] but expected [3, 7]".
    public func replacing(named values: [String: Tensor<Float>], prefix: String = "weight", requireAll: Bool = false) throws -> FactorizedTensor {
        let current = namedParameters(prefix: prefix)
        let known = Set(current.map(\.0))
        for name in values.keys.sorted() where !known.contains(name) {
            throw FactorConvError.invalid("unknown parameter '\(name)' for \(self): expected one of \(current.map(\.0))")
        }
        var updated: [Tensor<Float>] = []
        for (name, old) in current {
            guard let new = values[name] else {
                if requireAll { throw FactorConvError.invalid("missing parameter '\(name)' for \(self)") }
                updated.append(old)
                continue
            }
            try ParameterCheck.expect(name, new, old.shape)
            updated.append(new)
        }
        switch self {
        case .cp: return .cp(try CPTensor(weights: updated[0], factors: Array(updated.dropFirst())))
        case .tucker: return .tucker(try TuckerTensor(core: updated[0], factors: Array(updated.dropFirst())))
        case .tt: return .tt(try TTTensor(cores: updated))
        case .dense: return .dense(try DenseTensor(tensor: updated[0]))
        }
    }

    /// Builds a tensor of `factorization` from a complete set of named parameters (a tltorch
    /// state_dict slice), inferring shapes and rank from the parameters themselves.
    /// - Throws: `.invalidArgument` for missing, unknown or non-contiguous (`factor_0, factor_2`)
    ///   names; `.shapeMismatch` naming the parameter when shapes are inconsistent.
    public static func fromNamedParameters(
        _ factorization: Factorization, _ values: [String: Tensor<Float>], prefix: String = "weight"
    ) throws -> FactorizedTensor {
        let p = prefix.isEmpty ? "" : prefix + "."
        var used = Set<String>()
        func take(_ name: String) throws -> Tensor<Float> {
            guard let t = values[p + name] else { throw FactorConvError.invalid("missing parameter '\(p + name)'") }
            used.insert(p + name)
            return t
        }
        func factors() -> [Tensor<Float>] {
            var list: [Tensor<Float>] = []
            while let t = values["\(p)factors.factor_\(list.count)"] {
                used.insert("\(p)factors.factor_\(list.count)")
                list.append(t)
            }
            return list
        }
        let result: FactorizedTensor
        switch factorization {
        case .cp: result = .cp(try CPTensor(weights: try take("weights"), factors: factors()))
        case .tucker: result = .tucker(try TuckerTensor(core: try take("core"), factors: factors()))
        case .tt: result = .tt(try TTTensor(cores: factors()))
        case .dense: result = .dense(try DenseTensor(tensor: try take("tensor")))
        }
        for name in values.keys.sorted() where !used.contains(name) {
            throw FactorConvError.invalid("unexpected parameter '\(name)' for a \(factorization.displayName) tensor (factors must be numbered factor_0, factor_1, ... without gaps)")
        }
        return result
    }
}
