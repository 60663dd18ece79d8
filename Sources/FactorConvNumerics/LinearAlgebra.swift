/// Matrix products, mode-n products and the Khatri-Rao product, all through BLAS GEMM.
extension Tensor where Scalar: BLASScalar {
    /// `op(self) · op(other)` for 2-D tensors (op = transpose when the flag is set).
    package func matmul(_ other: Tensor, transposeSelf: Bool = false, transposeOther: Bool = false) throws -> Tensor {
        try BLAS.require()
        guard rank == 2, other.rank == 2 else {
            throw FactorConvError.shape("matmul needs two matrices, got shapes \(shape) and \(other.shape)")
        }
        let (m, k) = transposeSelf ? (shape[1], shape[0]) : (shape[0], shape[1])
        let (k2, n) = transposeOther ? (other.shape[1], other.shape[0]) : (other.shape[0], other.shape[1])
        guard k == k2 else {
            throw FactorConvError.shape("matmul inner dimensions differ: \(shape)\(transposeSelf ? "ᵀ" : "") · \(other.shape)\(transposeOther ? "ᵀ" : "")")
        }
        var out = [Scalar](repeating: 0, count: m * n)
        if m > 0 && n > 0 && k > 0 {
            scalars.withUnsafeBufferPointer { a in
                other.scalars.withUnsafeBufferPointer { b in
                    out.withUnsafeMutableBufferPointer { c in
                        Scalar.gemm(transA: transposeSelf, transB: transposeOther, m: m, n: n, k: k, alpha: 1,
                                    a: a.baseAddress!, lda: shape[1], b: b.baseAddress!, ldb: other.shape[1],
                                    beta: 0, c: c.baseAddress!, ldc: n)
                    }
                }
            }
        }
        return Tensor(uncheckedShape: [m, n], scalars: out)
    }

    /// The mode-n product `T ×_n M` with `M` of shape `(J, I_n)`: mode n becomes size J.
    package func modeProduct(_ matrix: Tensor, mode: Int) throws -> Tensor {
        try BLAS.require()
        guard (0..<rank).contains(mode) else { throw FactorConvError.invalid("mode \(mode) out of range for rank \(rank)") }
        guard matrix.rank == 2, matrix.shape[1] == shape[mode] else {
            throw FactorConvError.shape("mode-\(mode) product needs a (J, \(shape[mode])) matrix, got \(matrix.shape)")
        }
        var newShape = shape
        newShape[mode] = matrix.shape[0]
        // Treat T as (outer, I_n, inner): each outer block is an (I_n, inner) matrix, left-multiplied by M.
        let outer = shape[..<mode].reduce(1, *), inner = shape[(mode + 1)...].reduce(1, *)
        let iN = shape[mode], j = matrix.shape[0]
        var out = [Scalar](repeating: 0, count: outer * j * inner)
        if out.isEmpty || iN == 0 { return Tensor(uncheckedShape: newShape, scalars: out) }
        scalars.withUnsafeBufferPointer { t in
            matrix.scalars.withUnsafeBufferPointer { m in
                out.withUnsafeMutableBufferPointer { o in
                    if outer == 1 || inner > 1 {
                        for b in 0..<outer {
                            Scalar.gemm(transA: false, transB: false, m: j, n: inner, k: iN, alpha: 1,
                                        a: m.baseAddress!, lda: iN, b: t.baseAddress! + b * iN * inner, ldb: inner,
                                        beta: 0, c: o.baseAddress! + b * j * inner, ldc: inner)
                        }
                    } else {
                        // inner == 1: T is (outer, I_n); result (outer, J) = T · Mᵀ in one GEMM.
                        Scalar.gemm(transA: false, transB: true, m: outer, n: j, k: iN, alpha: 1,
                                    a: t.baseAddress!, lda: iN, b: m.baseAddress!, ldb: iN,
                                    beta: 0, c: o.baseAddress!, ldc: j)
                    }
                }
            }
        }
        return Tensor(uncheckedShape: newShape, scalars: out)
    }

    /// Contracts mode `mode` with a vector `v` of length `shape[mode]`; the mode disappears.
    package func contracting(_ v: [Scalar], mode: Int) throws -> Tensor {
        let row = try Tensor(shape: [1, v.count], scalars: v)
        let result = try modeProduct(row, mode: mode)
        var s = result.shape
        s.remove(at: mode)
        return Tensor(uncheckedShape: s, scalars: result.scalars)
    }

    /// Khatri-Rao (column-wise Kronecker) product of matrices with equal column counts; the first
    /// matrix's row index varies slowest, matching `unfolded`.
    package static func khatriRao(_ matrices: [Tensor]) throws -> Tensor {
        guard let first = matrices.first else { throw FactorConvError.invalid("khatriRao needs at least one matrix") }
        let r = first.shape.count == 2 ? first.shape[1] : -1
        guard matrices.allSatisfy({ $0.rank == 2 && $0.shape[1] == r }) else {
            throw FactorConvError.shape("khatriRao needs matrices with the same column count, got \(matrices.map { $0.shape })")
        }
        let rows = try Checked.product(matrices.map { $0.shape[0] }, "khatriRao rows")
        _ = try Checked.multiply(rows, r, "khatriRao size")
        return khatriRaoProduct(matrices[...], columns: r)
    }
}
