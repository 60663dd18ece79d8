/// Shape checks for user-provided parameters, with messages naming the parameter.
enum ParameterCheck {
    /// Throws `.shapeMismatch` "`name` has shape [a, b] but expected [c, d]" unless the shapes agree.
    static func expect(_ name: String, _ tensor: Tensor<Float>, _ expected: [Int]) throws {
        guard tensor.shape == expected else {
            throw FactorConvError.shape("\(name) has shape \(tensor.shape) but expected \(expected)")
        }
    }

    /// Throws `.shapeMismatch` unless `tensor` has `rank` dimensions, all at least 1.
    static func expectRank(_ name: String, _ tensor: Tensor<Float>, _ rank: Int, _ what: String) throws {
        guard tensor.rank == rank else {
            throw FactorConvError.shape("\(name) has shape \(tensor.shape) but expected \(what)")
        }
        guard tensor.shape.allSatisfy({ $0 >= 1 }) else {
            throw FactorConvError.shape("\(name) has shape \(tensor.shape) with an empty dimension; every size must be at least 1")
        }
    }

    /// Validates layer indices against the leading modes of `shape`, leaving at least one mode.
    static func layerIndices(_ indices: [Int], shape: [Int]) throws {
        guard indices.count < shape.count else {
            throw FactorConvError.invalid("\(indices.count) layer indices would contract every mode of a tensor of shape \(shape)")
        }
        for (mode, index) in indices.enumerated() where !(0..<shape[mode]).contains(index) {
            throw FactorConvError(.indexOutOfRange, "layer index \(index) is out of range for mode \(mode) of size \(shape[mode]) (shape \(shape))")
        }
    }

    /// Validates an init standard deviation.
    static func std(_ std: Double) throws {
        guard std.isFinite, std >= 0 else { throw FactorConvError.invalid("init std must be finite and non-negative, got \(std)") }
    }

    /// Validates that a parameter of `shape` can be allocated without overflow.
    static func allocatable(_ shape: [Int], _ name: String) throws {
        guard shape.allSatisfy({ $0 >= 1 }) else { throw FactorConvError.invalid("\(name) shape \(shape) has a size below 1") }
        _ = try Checked.product(shape, name)
    }
}

extension Tensor where Scalar == Float {
    /// Whether every element is finite (no NaN or infinity).
    var allFinite: Bool { FiniteCheck.allFinite(scalars) }
}
