import Foundation
import Testing
@testable import FactorConvNumerics

/// CP-ALS quality on low-rank-plus-noise tensors (the shape of a trained conv kernel: a few strong
/// components under noise), judged by references that share no code with the library: the
/// planted model and a plain-loop float64 ALS from random starts.
@Suite("Decomposition: CP quality on low-rank plus noise")
struct CPQualityTests {
    typealias F = DecompositionFixtures

    /// `truth + noise`, with `truth` a CP tensor of rank `planted` (Gaussian factors) and the
    /// noise Gaussian with ‖noise‖ = `level`·‖truth‖. Returns the tensor and the planted model's
    /// relative error ‖noise‖ / ‖tensor‖.
    static func lowRankPlusNoise(_ shape: [Int], planted: Int, level: Double, seed: UInt64) -> (Tensor<Double>, Double) {
        var rng = F.Normal(seed: seed)
        let truth = F.cpDense(weights: [Double](repeating: 1, count: planted), factors: shape.map { rng.matrix($0, planted) })
        let noise = rng.tensor(shape)
        let normTruth = truth.scalars.reduce(0) { $0 + $1 * $1 }.squareRoot()
        let normNoise = noise.scalars.reduce(0) { $0 + $1 * $1 }.squareRoot()
        let scale = level * normTruth / normNoise
        let t = Tensor(uncheckedShape: shape, scalars: zip(truth.scalars, noise.scalars).map { $0 + scale * $1 })
        let normT = t.scalars.reduce(0) { $0 + $1 * $1 }.squareRoot()
        return (t, level * normTruth / normT)
    }

    /// Plain-loop float64 CP-ALS (no regularization): Gaussian initial factors from `seed`, then
    /// `sweeps` sweeps of F_n = unfold(T, n) · KR(F_k, k≠n) · (∘_{k≠n} F_kᵀF_k)⁻¹, the MTTKRP by
    /// a loop over every entry and the solve by Gaussian elimination with partial pivoting.
    /// Returns the relative error of the final factors, by a plain-loop reconstruction.
    static func referenceALS(_ t: Tensor<Double>, rank r: Int, sweeps: Int, seed: UInt64) -> Double {
        let shape = t.shape, order = shape.count
        var rng = F.Normal(seed: seed)
        var factors = shape.map { rng.matrix($0, r).scalars }
        for _ in 0..<sweeps {
            for n in 0..<order {
                var m = [Double](repeating: 0, count: shape[n] * r)
                for flat in 0..<t.count {
                    let idx = F.index(flat, shape), x = t.scalars[flat]
                    for c in 0..<r {
                        var p = x
                        for k in 0..<order where k != n { p *= factors[k][idx[k] * r + c] }
                        m[idx[n] * r + c] += p
                    }
                }
                var g = [Double](repeating: 1, count: r * r)
                for k in 0..<order where k != n {
                    for a in 0..<r {
                        for b in 0..<r {
                            var s = 0.0
                            for i in 0..<shape[k] { s += factors[k][i * r + a] * factors[k][i * r + b] }
                            g[a * r + b] *= s
                        }
                    }
                }
                // F_n G = M  ⇔  G Fᵀ = Mᵀ (G symmetric): solve for the rows of F_n at once.
                factors[n] = solveRows(g, m, r: r, rows: shape[n])
            }
        }
        let rebuilt = F.cpDense(weights: [Double](repeating: 1, count: r),
                                factors: (0..<order).map { Tensor(uncheckedShape: [shape[$0], r], scalars: factors[$0]) })
        return F.relErr(rebuilt, t)
    }

    /// X with X·G = M for a symmetric r×r G and a rows×r M, by Gaussian elimination on Gᵀ = G.
    static func solveRows(_ gIn: [Double], _ mIn: [Double], r: Int, rows: Int) -> [Double] {
        var g = gIn
        var rhs = (0..<r).map { c in (0..<rows).map { mIn[$0 * r + c] } }   // column c of M = row c of Mᵀ
        for col in 0..<r {
            let pivot = (col..<r).max { abs(g[$0 * r + col]) < abs(g[$1 * r + col]) }!
            if pivot != col {
                for j in 0..<r { g.swapAt(col * r + j, pivot * r + j) }
                rhs.swapAt(col, pivot)
            }
            let d = g[col * r + col]
            for row in (col + 1)..<r {
                let f = g[row * r + col] / d
                if f == 0 { continue }
                for j in col..<r { g[row * r + j] -= f * g[col * r + j] }
                for i in 0..<rows { rhs[row][i] -= f * rhs[col][i] }
            }
        }
        for col in stride(from: r - 1, through: 0, by: -1) {
            for i in 0..<rows {
                var s = rhs[col][i]
                for j in (col + 1)..<r { s -= g[col * r + j] * rhs[j][i] }
                rhs[col][i] = s / g[col * r + col]
            }
        }
        var x = [Double](repeating: 0, count: rows * r)
        for c in 0..<r { for i in 0..<rows { x[i * r + c] = rhs[c][i] } }
        return x
    }

    /// (shape, planted rank, CP rank): a 2-D kernel and a 1-D one, CP ranks above the kernel
    /// sizes (as tltorch's fraction ranks are).
    @Test("CP-ALS beats the planted model, a plain-loop ALS (best of 3 random starts, as many sweeps) and tltorch's iteration",
          arguments: [([16, 12, 3, 3], 5, 8), ([24, 20, 3], 4, 7)])
    func lowRankPlusNoise(_ c: ([Int], Int, Int)) throws {
        let (shape, planted, r) = c
        let (t, plantedError) = Self.lowRankPlusNoise(shape, planted: planted, level: 0.1, seed: UInt64(7 * r))
        let cp = try parafac(t, rank: r)
        let ours = F.relErr(F.cpDense(weights: cp.weights.scalars, factors: cp.factors), t)
        let reference = (0..<3).map { Self.referenceALS(t, rank: r, sweeps: 100, seed: UInt64(100 + $0)) }.min()!
        let tl = try parafac(t, rank: r, options: .tltorch)
        let tlError = F.relErr(F.cpDense(weights: tl.weights.scalars, factors: tl.factors), t)
        print("CP rank \(r) on \(shape) (rank \(planted) + 10% noise): ours \(ours) (\(cp.iterations) sweeps), "
              + "planted \(plantedError), plain-loop ALS \(reference), tltorch's iteration \(tlError) (\(tl.iterations) sweeps)")
        // The rank-r model space contains the planted rank-`planted` model: a good fit is closer.
        #expect(ours < plantedError)
        #expect(ours <= reference * (1 + 1e-6))
        #expect(ours <= tlError * (1 + 1e-6))
        #expect(abs(cp.errors.last! - ours) <= 1e-9)
    }
}
