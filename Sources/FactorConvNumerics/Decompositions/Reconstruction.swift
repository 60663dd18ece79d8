/// Dense reconstructions of decompositions and the relative error used to judge them.
extension Tensor where Scalar == Double {
    /// `‖self − reference‖ / ‖reference‖` (Frobenius); the absolute error when `reference` is zero.
    /// - Throws: `.shapeMismatch` when the shapes differ.
    package func relativeError(to reference: Tensor<Double>) throws -> Double {
        guard shape == reference.shape else {
            throw FactorConvError.shape("relativeError: shapes \(shape) and \(reference.shape) differ")
        }
        var diff = 0.0, ref = 0.0
        for (a, b) in zip(scalars, reference.scalars) { diff += (a - b) * (a - b); ref += b * b }
        return ref > 0 ? (diff / ref).squareRoot() : diff.squareRoot()
    }
}

extension CPDecomposition {
    /// The dense tensor `Σ_r w_r U_0[:, r] ∘ … ∘ U_{N-1}[:, r]` (`Reconstruction.cp`).
    package func reconstructed() throws -> Tensor<Double> {
        guard !factors.isEmpty else { throw FactorConvError.invalid("CP reconstruction: no factors") }
        let r = weights.count
        guard factors.allSatisfy({ $0.rank == 2 && $0.shape[1] == r }) else {
            throw FactorConvError.shape("CP reconstruction: factors \(factors.map(\.shape)) do not all have \(r) columns")
        }
        try BLAS.require()
        let shape = self.shape
        _ = try Checked.product(shape, "CP reconstruction")
        return try Reconstruction.cp(weights: weights.scalars, factors: factors, shape: shape)
    }
}

extension TuckerDecomposition {
    /// The dense tensor `core ×_0 U_0 ×_1 U_1 …` (`Reconstruction.tucker`).
    package func reconstructed() throws -> Tensor<Double> {
        guard factors.count == core.rank else {
            throw FactorConvError.shape("Tucker reconstruction: \(factors.count) factors for a core of order \(core.rank)")
        }
        guard zip(factors, core.shape).allSatisfy({ $0.rank == 2 && $0.shape[1] == $1 }) else {
            throw FactorConvError.shape("Tucker reconstruction: factors \(factors.map(\.shape)) do not match the core \(core.shape)")
        }
        try BLAS.require()
        _ = try Checked.product(factors.map { $0.shape[0] }, "Tucker reconstruction")
        return try Reconstruction.tucker(core: core, factors: factors)
    }
}

extension TTDecomposition {
    /// The dense tensor: the cores contracted over their shared ranks (`Reconstruction.tt`).
    package func reconstructed() throws -> Tensor<Double> {
        guard let first = cores.first, first.rank == 3, first.shape[0] == 1 else {
            throw FactorConvError.shape("TT reconstruction: the first core must have shape (1, I, r)")
        }
        for (previous, core) in zip(cores, cores.dropFirst()) {
            guard core.rank == 3, core.shape[0] == previous.shape[2] else {
                throw FactorConvError.shape("TT reconstruction: core \(core.shape) does not follow rank \(previous.shape[2])")
            }
        }
        guard cores.last!.shape[2] == 1 else { throw FactorConvError.shape("TT reconstruction: the last core must end in rank 1") }
        try BLAS.require()
        let shape = cores.map { $0.shape[1] }
        _ = try Checked.product(shape, "TT reconstruction")
        return try Reconstruction.tt(cores: cores, shape: shape)
    }
}
