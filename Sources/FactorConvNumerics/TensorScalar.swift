import FactorConvBLAS

/// The element type of a ``Tensor``: `Float` (float32) or `Double` (float64).
public protocol TensorScalar: BinaryFloatingPoint, Sendable
where Self.RawSignificand: FixedWidthInteger {
    /// A short dtype name: "float32" or "float64".
    static var dtypeName: String { get }
}

/// A tensor element type with BLAS/LAPACK routines (`Float` and `Double`). Package access: the
/// routines are the numerics' own, not part of the library's public API.
package protocol BLASScalar: TensorScalar {
    /// `C = alpha * op(A) * op(B) + beta * C`, row-major (cblas_?gemm).
    static func gemm(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Self,
        a: UnsafePointer<Self>, lda: Int, b: UnsafePointer<Self>, ldb: Int,
        beta: Self, c: UnsafeMutablePointer<Self>, ldc: Int)

    /// Symmetric eigen-decomposition of the row-major n×n matrix `a` (LAPACKE_?syevd):
    /// eigenvalues ascending into `w`, eigenvectors overwrite `a` as columns. Returns LAPACK's info.
    static func syevd(n: Int, a: UnsafeMutablePointer<Self>, w: UnsafeMutablePointer<Self>) -> Int32

    /// Thin SVD of the row-major m×n matrix `a` (LAPACKE_?gesdd, jobz 'S'): `u` m×k, `s` k,
    /// `vt` k×n with k = min(m, n); `a` is destroyed. Returns LAPACK's info.
    static func gesdd(
        m: Int, n: Int, a: UnsafeMutablePointer<Self>, s: UnsafeMutablePointer<Self>,
        u: UnsafeMutablePointer<Self>, vt: UnsafeMutablePointer<Self>) -> Int32

    /// Solves `A X = B` for symmetric positive-definite n×n `A` (row-major, overwritten by its
    /// Cholesky factor) and n×nrhs `B` (overwritten by X) (LAPACKE_?posv). Returns LAPACK's info.
    static func posv(n: Int, nrhs: Int, a: UnsafeMutablePointer<Self>, b: UnsafeMutablePointer<Self>) -> Int32

    /// Solves `A X = B` for a general n×n `A` by LU with partial pivoting (LAPACKE_?gesv).
    static func gesv(n: Int, nrhs: Int, a: UnsafeMutablePointer<Self>, b: UnsafeMutablePointer<Self>) -> Int32
}


extension Float: BLASScalar {
    package static func gemm(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        factorconv_sgemm(transA ? 1 : 0, transB ? 1 : 0, Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }
    package static func syevd(n: Int, a: UnsafeMutablePointer<Float>, w: UnsafeMutablePointer<Float>) -> Int32 {
        factorconv_ssyevd(Int32(n), a, w)
    }
    package static func gesdd(
        m: Int, n: Int, a: UnsafeMutablePointer<Float>, s: UnsafeMutablePointer<Float>,
        u: UnsafeMutablePointer<Float>, vt: UnsafeMutablePointer<Float>
    ) -> Int32 {
        factorconv_sgesdd(Int32(m), Int32(n), a, s, u, vt)
    }
    package static func posv(n: Int, nrhs: Int, a: UnsafeMutablePointer<Float>, b: UnsafeMutablePointer<Float>) -> Int32 {
        factorconv_sposv(Int32(n), Int32(nrhs), a, b)
    }
    package static func gesv(n: Int, nrhs: Int, a: UnsafeMutablePointer<Float>, b: UnsafeMutablePointer<Float>) -> Int32 {
        var pivots = [Int32](repeating: 0, count: n)
        return factorconv_sgesv(Int32(n), Int32(nrhs), a, b, &pivots)
    }
    public static var dtypeName: String { "float32" }
}

extension Double: BLASScalar {
    package static func gemm(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Double,
        a: UnsafePointer<Double>, lda: Int, b: UnsafePointer<Double>, ldb: Int,
        beta: Double, c: UnsafeMutablePointer<Double>, ldc: Int
    ) {
        factorconv_dgemm(transA ? 1 : 0, transB ? 1 : 0, Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }
    package static func syevd(n: Int, a: UnsafeMutablePointer<Double>, w: UnsafeMutablePointer<Double>) -> Int32 {
        factorconv_dsyevd(Int32(n), a, w)
    }
    package static func gesdd(
        m: Int, n: Int, a: UnsafeMutablePointer<Double>, s: UnsafeMutablePointer<Double>,
        u: UnsafeMutablePointer<Double>, vt: UnsafeMutablePointer<Double>
    ) -> Int32 {
        factorconv_dgesdd(Int32(m), Int32(n), a, s, u, vt)
    }
    package static func posv(n: Int, nrhs: Int, a: UnsafeMutablePointer<Double>, b: UnsafeMutablePointer<Double>) -> Int32 {
        factorconv_dposv(Int32(n), Int32(nrhs), a, b)
    }
    package static func gesv(n: Int, nrhs: Int, a: UnsafeMutablePointer<Double>, b: UnsafeMutablePointer<Double>) -> Int32 {
        var pivots = [Int32](repeating: 0, count: n)
        return factorconv_dgesv(Int32(n), Int32(nrhs), a, b, &pivots)
    }
    public static var dtypeName: String { "float64" }
}
