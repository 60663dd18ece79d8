import Foundation
import Testing
@testable import FactorConvNumerics

/// The truncated SVD helper against matrices with known singular values and vectors.
@Suite("Decomposition: truncated SVD")
struct DecompositionSVDTests {
    typealias F = DecompositionFixtures

    /// An m×m orthogonal matrix as a product of Householder reflections (independent of LAPACK).
    static func orthogonal(_ m: Int, _ rng: inout F.Normal) -> [Double] {
        var q = [Double](repeating: 0, count: m * m)
        for i in 0..<m { q[i * m + i] = 1 }
        for _ in 0..<m {
            let v = (0..<m).map { _ in rng.next() }
            let vv = v.reduce(0) { $0 + $1 * $1 }
            for row in 0..<m {   // q ← q (I − 2 v vᵀ / vᵀv)
                var dot = 0.0
                for j in 0..<m { dot += q[row * m + j] * v[j] }
                for j in 0..<m { q[row * m + j] -= 2 * dot / vv * v[j] }
            }
        }
        return q
    }

    /// A = Q1[:, :p] diag(s) Q2[:, :p]ᵀ with known s (descending), p = min(m, n).
    static func known(_ m: Int, _ n: Int, _ s: [Double], seed: UInt64) -> (Tensor<Double>, [Double]) {
        var rng = F.Normal(seed: seed)
        let q1 = orthogonal(m, &rng), q2 = orthogonal(n, &rng)
        var a = [Double](repeating: 0, count: m * n)
        for i in 0..<m { for j in 0..<n { for c in 0..<s.count { a[i * n + j] += q1[i * m + c] * s[c] * q2[j * n + c] } } }
        return (Tensor(uncheckedShape: [m, n], scalars: a), q1)
    }

    @Test("Gram and thin paths give the known singular values and subspaces, with TensorLy's sign rule",
          arguments: [(6, 40), (40, 6), (12, 12)])
    func knownSpectrum(_ dims: (Int, Int)) throws {
        let (m, n) = dims
        let p = min(m, n)
        let s = (0..<p).map { 10 * pow(0.6, Double($0)) }
        let (a, q1) = Self.known(m, n, s, seed: UInt64(m * 100 + n))
        let k = min(4, p)
        for method in [SVDMethod.gram, .thin, .automatic] {
            let svd = try truncatedSVD(a, rank: k, projection: true, method: method)
            for c in 0..<k { #expect(abs(svd.singularValues[c] - s[c]) <= 1e-10 * s[0], "\(method) σ\(c)") }
            #expect(F.orthonormalityDefect(svd.u) < 1e-12)
            for c in 0..<k {
                // Same direction as the known vector (up to sign), and the largest entry positive.
                var dot = 0.0
                for i in 0..<m { dot += svd.u.scalars[i * k + c] * q1[i * m + c] }
                #expect(abs(abs(dot) - 1) < 1e-9, "\(method) column \(c)")
                let column = (0..<m).map { svd.u.scalars[$0 * k + c] }
                let peak = column.max { abs($0) < abs($1) }!
                #expect(peak > 0)
            }
            // Uᵀ A = diag(S) Vᵀ: its rows are orthogonal with norms σ.
            let proj = try #require(svd.projection)
            for c in 0..<k {
                let norm = (0..<n).reduce(0.0) { $0 + pow(proj.scalars[c * n + $1], 2) }.squareRoot()
                #expect(abs(norm - s[c]) <= 1e-10 * s[0])
            }
        }
    }

    @Test("Columns beyond min(m, n) complete an orthonormal basis")
    func completion() throws {
        let (a, _) = Self.known(9, 3, [3, 2, 1], seed: 7)
        let svd = try truncatedSVD(a, rank: 7)
        #expect(svd.u.shape == [9, 7])
        #expect(svd.singularValues.count == 3)
        #expect(F.orthonormalityDefect(svd.u) < 1e-12)
    }

    @Test("Bad arguments are clear errors")
    func validation() throws {
        let a = Tensor<Double>(repeating: 1, shape: [3, 4])
        #expect(throws: FactorConvError.self) { try truncatedSVD(a, rank: 0) }
        #expect(throws: FactorConvError.self) { try truncatedSVD(a, rank: 4) }
        #expect(throws: FactorConvError.self) { try truncatedSVD(Tensor<Double>(repeating: 1, shape: [3, 4, 1]), rank: 1) }
        var bad = a
        bad.scalars[5] = .nan
        do {
            _ = try truncatedSVD(bad, rank: 1)
            Issue.record("NaN input was accepted")
        } catch let error as FactorConvError {
            #expect(error.kind == .numerical)
        }
    }
}
