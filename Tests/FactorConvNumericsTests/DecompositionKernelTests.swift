import Foundation
import Testing
@testable import FactorConvNumerics

/// CP-ALS building blocks (streamed Khatri-Rao MTTKRP, dimension tree, blocked Cholesky)
/// against plain loops.
@Suite("Decomposition: CP kernels")
struct DecompositionKernelTests {
    typealias F = DecompositionFixtures
    typealias K = DecompositionKit

    static func matrix(_ t: Tensor<Double>) -> K.Matrix { K.Matrix(rows: t.shape[0], cols: t.shape[1], copying: t.scalars) }

    /// MTTKRP by plain loops: M[i, r] = Σ T[…, i_n = i, …] Π_{k≠n} F_k[i_k, r].
    static func naiveMTTKRP(_ t: Tensor<Double>, _ factors: [Tensor<Double>], mode n: Int) -> [Double] {
        let r = factors[0].shape[1]
        var m = [Double](repeating: 0, count: t.shape[n] * r)
        for flat in 0..<t.count {
            let idx = F.index(flat, t.shape)
            for c in 0..<r {
                var p = t.scalars[flat]
                for k in 0..<t.rank where k != n { p *= factors[k].scalars[idx[k] * r + c] }
                m[idx[n] * r + c] += p
            }
        }
        return m
    }

    @Test("Direct streamed MTTKRP and the dimension tree match plain loops for every mode")
    func mttkrp() throws {
        var rng = F.Normal(seed: 3)
        let shape = [7, 5, 3, 4], r = 70
        let t = rng.tensor(shape)
        let factors = shape.map { rng.matrix($0, r) }
        let mats = factors.map(Self.matrix)
        var left: K.Matrix?
        for n in 0..<shape.count {
            let expected = Self.naiveMTTKRP(t, factors, mode: n)
            // Direct path on the unfolding.
            var others = mats
            others.remove(at: n)
            let unfolded = try t.unfolded(n)
            let direct = K.Matrix(rows: shape[n], cols: r)
            unfolded.scalars.withUnsafeBufferPointer {
                K.mttkrpDirect($0.baseAddress!, rows: shape[n], cols: t.count / shape[n], factors: others, rank: r, into: direct)
            }
            let scale = expected.map(abs).max()!
            #expect(zip(direct.array, expected).allSatisfy { abs($0 - $1) <= 1e-12 * scale }, "direct mode \(n)")
            // Tree path.
            if n == 0 {
                left = t.scalars.withUnsafeBufferPointer { K.leftContraction($0.baseAddress!, i0: shape[0], j0: t.count / shape[0], factor: mats[0]) }
            } else {
                let l = try #require(left)
                let tree = K.mttkrpFromLeft(l, size: shape[n], rest: l.cols / shape[n], right: Array(mats[(n + 1)...]))
                #expect(zip(tree.array, expected).allSatisfy { abs($0 - $1) <= 1e-12 * scale }, "tree mode \(n)")
                left = K.advanceLeft(l, size: shape[n], rest: l.cols / shape[n], factor: mats[n])
            }
        }
    }

    @Test("Khatri-Rao chunks equal the library's full Khatri-Rao product")
    func khatriRaoChunks() throws {
        var rng = F.Normal(seed: 4)
        let fs = [rng.matrix(3, 5), rng.matrix(4, 5), rng.matrix(2, 5)]
        let full = try Tensor.khatriRao(fs)
        let out = K.Matrix(rows: 7, cols: 3)
        K.khatriRaoRows(fs.map(Self.matrix), rows: 9, 16, columns: 1, 4, into: out.data)
        for j in 0..<7 { for c in 0..<3 { #expect(out.data[j * 3 + c] == full.scalars[(9 + j) * 5 + 1 + c]) } }
    }

    @Test("Blocked Cholesky solve of X A = B over several blocks", arguments: [5, 191, 450])
    func cholesky(_ n: Int) throws {
        try BLAS.require()
        var rng = F.Normal(seed: UInt64(n))
        let g = rng.matrix(n + 3, n)
        // A = GᵀG + I (SPD), built by loops.
        var a = [Double](repeating: 0, count: n * n)
        for i in 0..<n { for j in 0..<n {
            var s = i == j ? 1.0 : 0.0
            for k in 0..<(n + 3) { s += g.scalars[k * n + i] * g.scalars[k * n + j] }
            a[i * n + j] = s
        } }
        let m = 130
        let b = rng.matrix(m, n)
        let work = K.Matrix(rows: n, cols: n, copying: a)
        let x = Self.matrix(b)
        let solver = try #require(K.CholeskySolver(factoring: work.data, n: n))
        solver.solveRows(x.data, m: m)
        var worst = 0.0, scale = 0.0
        for i in 0..<m { for j in 0..<n {
            var s = 0.0
            for k in 0..<n { s += x.data[i * n + k] * a[k * n + j] }
            worst = max(worst, abs(s - b.scalars[i * n + j]))
            scale = max(scale, abs(b.scalars[i * n + j]))
        } }
        #expect(worst <= 1e-9 * scale)
        // An indefinite matrix is refused, and the LU fallback solves it.
        var indefinite = a
        indefinite[0] = -1
        let w2 = K.Matrix(rows: n, cols: n, copying: indefinite)
        #expect(K.CholeskySolver(factoring: w2.data, n: n) == nil)
        // The LU fallback solves the indefinite symmetric system (first row/column changed alike).
        var sym = a
        sym[0] = -1
        let lu = K.Matrix(rows: n, cols: n, copying: sym)
        let y = Self.matrix(b)
        #expect(K.luSolveRows(lu.data, n: n, y.data, m: m))
        var worstLU = 0.0
        for i in 0..<m { for j in 0..<n {
            var s = 0.0
            for k in 0..<n { s += y.data[i * n + k] * sym[k * n + j] }
            worstLU = max(worstLU, abs(s - b.scalars[i * n + j]))
        } }
        #expect(worstLU <= 1e-8 * scale)
    }
}
