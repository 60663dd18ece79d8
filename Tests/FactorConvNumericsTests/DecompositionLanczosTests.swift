import Foundation
import Testing
@testable import FactorConvNumerics

/// The Lanczos path of the Gram SVD (few of many leading eigenpairs): accepted only when certified.
@Suite("Decomposition: Lanczos leading eigenpairs")
struct DecompositionLanczosTests {
    typealias F = DecompositionFixtures

    /// Row-major lower (= column-major upper) Gram of a known spectrum: Q diag(λ) Qᵀ.
    static func gram(_ m: Int, _ lambda: [Double], seed: UInt64) -> (g: [Double], q: [Double]) {
        var rng = F.Normal(seed: seed)
        let q = DecompositionSVDTests.orthogonal(m, &rng)
        var g = [Double](repeating: 0, count: m * m)
        for i in 0..<m { for j in 0..<m { for c in 0..<m { g[i * m + j] += q[i * m + c] * lambda[c] * q[j * m + c] } } }
        return (g, q)
    }

    @Test("Separated leading eigenvalues: certified, equal to the known vectors")
    func separated() throws {
        try BLAS.require()
        let m = 160, k = 4
        let lambda = (0..<m).map { 10 * pow(0.9, Double($0)) }
        let (g, q) = Self.gram(m, lambda, seed: 11)
        let u = DecompositionKit.Matrix(rows: m, cols: k)
        var top = [Double](repeating: 0, count: k)
        let ok = g.withUnsafeBufferPointer { DecompositionKit.lanczosEigenvectors($0.baseAddress!, m: m, k: k, u: u, top: &top) }
        #expect(ok)
        for c in 0..<k {
            #expect(abs(top[c] - lambda[c]) <= 1e-12 * lambda[0])
            var dot = 0.0
            for i in 0..<m { dot += u.data[i * k + c] * q[i * m + c] }
            #expect(abs(abs(dot) - 1) < 1e-12, "column \(c)")
        }
    }

    @Test("A multiple eigenvalue, the identity and zero are not certified (dsyevr takes over)",
          arguments: ["multiple", "identity", "zero"])
    func uncertified(_ kind: String) throws {
        try BLAS.require()
        let m = 160, k = 3
        var lambda = (0..<m).map { 10 * pow(0.9, Double($0)) }
        switch kind {
        case "multiple": lambda[1] = lambda[0]; lambda[2] = lambda[0]   // top eigenvalue of multiplicity 3
        case "identity": lambda = Array(repeating: 1, count: m)
        default: lambda = Array(repeating: 0, count: m)
        }
        let (g, _) = Self.gram(m, lambda, seed: 12)
        let u = DecompositionKit.Matrix(rows: m, cols: k)
        var top = [Double](repeating: 0, count: k)
        let ok = g.withUnsafeBufferPointer { DecompositionKit.lanczosEigenvectors($0.baseAddress!, m: m, k: k, u: u, top: &top) }
        #expect(!ok)
    }

    @Test("truncatedSVD through the Lanczos path matches the thin SVD; multiplicities fall back correctly",
          arguments: [false, true])
    func throughSVD(_ repeated: Bool) throws {
        let m = 200, n = 300, k = 5
        var s = (0..<m).map { 10 * pow(0.95, Double($0)) }
        if repeated { s[3] = s[4]; s[5] = s[4] }   // σ4 = σ5 = σ6: the 5th vector is not unique, its subspace is
        let (a, _) = DecompositionSVDTests.known(m, n, s, seed: 5)
        // Which path the Gram SVD takes: Lanczos certified, or not (dsyevr).
        var g = [Double](repeating: 0, count: m * m)
        a.scalars.withUnsafeBufferPointer { ap in
            g.withUnsafeMutableBufferPointer { DecompositionKit.rowGramLower(ap.baseAddress!, n: m, k: n, lda: n, into: $0.baseAddress!, ldc: m) }
        }
        let probe = DecompositionKit.Matrix(rows: m, cols: k)
        var probeTop = [Double](repeating: 0, count: k)
        let certified = g.withUnsafeBufferPointer { DecompositionKit.lanczosEigenvectors($0.baseAddress!, m: m, k: k, u: probe, top: &probeTop) }
        #expect(certified == !repeated)
        let gram = try truncatedSVD(a, rank: k, projection: true, method: .gram)
        let thin = try truncatedSVD(a, rank: k, projection: true, method: .thin)
        for c in 0..<k { #expect(abs(gram.singularValues[c] - thin.singularValues[c]) <= 1e-10 * s[0]) }
        #expect(F.orthonormalityDefect(gram.u) < 1e-12)
        let unique = repeated ? 3 : k
        for c in 0..<unique {
            for i in 0..<m { #expect(abs(gram.u.scalars[i * k + c] - thin.u.scalars[i * k + c]) < 1e-9) }
        }
    }
}
