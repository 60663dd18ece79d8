/// Parameters under tltorch's state_dict names (`weight.weights`, `weight.core`,
/// `weight.factors.factor_i`, `bias`).
extension FactorizedConv {
    /// Every parameter under its tltorch name, in PyTorch's order (the layer's own `bias` first,
    /// then the weight's parameters).
    public func stateDict() -> [(name: String, value: Tensor<Float>)] {
        let s = snapshot
        var out = s.weight.namedParameters(prefix: "weight").map { (name: $0.0, value: $0.1) }
        if let bias = s.bias { out.insert((name: "bias", value: bias), at: 0) }
        return out
    }

    /// Replaces parameters from a name → tensor dictionary (a tltorch state_dict converted to
    /// arrays loads as is). Every name must be known and every shape must fit; then all are
    /// replaced at once. With `strict`, every parameter must be present. A complete set of
    /// factors may carry another rank than the current one (the tensor's shape must match).
    /// - Throws: `.format` for unknown or missing names, `.shapeMismatch` for wrong shapes,
    ///   `.numerical` for NaN/Inf values; the layer is unchanged on any error.
    public func loadStateDict(_ values: [String: Tensor<Float>], strict: Bool = true) throws {
        // Validate and replace under the lock, so a concurrent change cannot slip in between.
        try mutate { state in try Self.load(values, strict: strict, into: &state, factorization: factorization) }
    }

    /// The body of `loadStateDict`: checks `values` against `s` and replaces its parameters.
    private static func load(_ values: [String: Tensor<Float>], strict: Bool, into s: inout State,
                             factorization: Factorization) throws {
        var weightValues = values
        let biasValue = weightValues.removeValue(forKey: "bias")
        let known = Set(s.weight.parameterNames(prefix: "weight"))
        let unknown = weightValues.keys.filter { !known.contains($0) }.sorted()
        guard unknown.isEmpty else {
            throw FactorConvError(.format, "unknown parameter name(s) \(unknown); expected \(known.sorted() + (s.bias == nil ? [] : ["bias"]))")
        }
        for (name, value) in values where !value.allFinite {
            throw FactorConvError.nonFinite("parameter \(name)")
        }
        var newBias = s.bias
        if let biasValue {
            guard let current = s.bias else {
                throw FactorConvError(.format, "'bias' given but the layer was created with bias=False")
            }
            guard biasValue.shape == current.shape else {
                throw FactorConvError.shape("bias has shape \(biasValue.shape) but expected \(current.shape)")
            }
            newBias = biasValue
        } else if strict && s.bias != nil {
            throw FactorConvError(.format, "missing parameter 'bias'")
        }
        let newWeight: FactorizedTensor
        do {
            // A complete set may change the rank (e.g. factors of a truncated decomposition);
            // a partial one must keep every shape.
            newWeight = weightValues.count == known.count
                ? try FactorizedTensor.fromNamedParameters(factorization, weightValues, prefix: "weight")
                : try s.weight.replacing(named: weightValues, prefix: "weight", requireAll: strict)
        } catch let error as FactorConvError where error.kind == .invalidArgument {
            throw FactorConvError(.format, error.message)
        }
        guard newWeight.shape == s.weight.shape else {
            throw FactorConvError.shape("the loaded factors describe a tensor of shape \(newWeight.shape) but the layer's is \(s.weight.shape)")
        }
        s.weight = newWeight
        s.bias = newBias
    }
}
