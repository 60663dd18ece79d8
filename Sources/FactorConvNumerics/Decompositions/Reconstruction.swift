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
    /// The dense tensor `Σ_r w_r U_0[:, r] ∘ … ∘ U_{N-1}[:, r]`, computed as
    /// `(U_0 diag(w)) · KR(U_1, …)ᵀ` with the Khatri-Rao product streamed in chunks.
    package func reconstructed() throws -> Tensor<Double> {
        guard let first = factors.first else { throw FactorConvError.invalid("CP reconstruction: no factors") }
        let r = weights.count
        guard factors.allSatisfy({ $0.rank == 2 && $0.shape[1] == r }) else {
            throw FactorConvError.shape("CP reconstruction: factors \(factors.map(\.shape)) do not all have \(r) columns")
        }
        try BLAS.require()
        let shape = self.shape
        let i0 = shape[0]
        let j = try Checked.product(shape.dropFirst(), "CP reconstruction")
        let scaled = DecompositionKit.Matrix(rows: i0, cols: r, copying: first.scalars)
        for i in 0..<i0 { for c in 0..<r { scaled.data[i * r + c] *= weights.scalars[c] } }
        let rest = factors.dropFirst().map { DecompositionKit.Matrix(rows: $0.shape[0], cols: r, copying: $0.scalars) }
        var out = [Double](repeating: 0, count: try Checked.multiply(i0, j, "CP reconstruction"))
        let chunk = max(1, min(j, DecompositionKit.khatriRaoChunkBytes / (8 * max(r, 1))))
        let kr = DecompositionKit.Matrix(rows: chunk, cols: r)
        out.withUnsafeMutableBufferPointer { o in
            var j0 = 0
            while j0 < j {
                let j1 = min(j, j0 + chunk)
                DecompositionKit.khatriRaoRows(rest, rows: j0, j1, columns: 0, r, into: kr.data)
                Double.gemm(transA: false, transB: true, m: i0, n: j1 - j0, k: r, alpha: 1, a: scaled.data, lda: r,
                            b: kr.data, ldb: r, beta: 0, c: o.baseAddress! + j0, ldc: j)
                j0 = j1
            }
        }
        return Tensor(uncheckedShape: shape, scalars: out)
    }
}

extension TuckerDecomposition {
    /// The dense tensor `core ×_0 U_0 ×_1 U_1 …`.
    package func reconstructed() throws -> Tensor<Double> {
        guard factors.count == core.rank else {
            throw FactorConvError.shape("Tucker reconstruction: \(factors.count) factors for a core of order \(core.rank)")
        }
        try BLAS.require()
        var t = core
        for (n, u) in factors.enumerated() { t = try t.modeProduct(u, mode: n) }
        return t
    }
}

extension TTDecomposition {
    /// The dense tensor: cores contracted left to right over their shared ranks.
    package func reconstructed() throws -> Tensor<Double> {
        guard let first = cores.first, first.rank == 3, first.shape[0] == 1 else {
            throw FactorConvError.shape("TT reconstruction: the first core must have shape (1, I, r)")
        }
        try BLAS.require()
        var acc = try first.reshaped([first.shape[1], first.shape[2]])
        var shape = [first.shape[1]]
        for core in cores.dropFirst() {
            guard core.rank == 3, core.shape[0] == acc.shape[1] else {
                throw FactorConvError.shape("TT reconstruction: core \(core.shape) does not follow rank \(acc.shape[1])")
            }
            let next = try acc.matmul(core.reshaped([core.shape[0], core.shape[1] * core.shape[2]]))
            shape.append(core.shape[1])
            acc = try next.reshaped([next.count / core.shape[2], core.shape[2]])
        }
        guard acc.shape[1] == 1 else { throw FactorConvError.shape("TT reconstruction: the last core must end in rank 1") }
        return try acc.reshaped(shape)
    }
}
