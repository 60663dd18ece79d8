import Foundation
import Testing
@testable import FactorConvNumerics

/// Exact low-rank tensors are recovered; results checked by plain-loop reconstructions.
@Suite("Decomposition: exact low-rank recovery")
struct DecompositionRecoveryTests {
    typealias F = DecompositionFixtures

    /// A random CP tensor of exact rank r (Gaussian factors).
    static func cpTensor(_ shape: [Int], rank r: Int, seed: UInt64) -> Tensor<Double> {
        var rng = F.Normal(seed: seed)
        return F.cpDense(weights: [Double](repeating: 1, count: r), factors: shape.map { rng.matrix($0, r) })
    }

    @Test("CP-ALS recovers exact-rank tensors to ≤ 1e-5 (tltorch's ridge stalls near 1e-4)",
          arguments: [([8, 6, 3, 3], 4), ([10, 9, 8], 5), ([16, 12, 3, 3], 8)])
    func cpExact(_ c: ([Int], Int)) throws {
        let (shape, r) = c
        let t = Self.cpTensor(shape, rank: r, seed: UInt64(r * 31))
        let cp = try parafac(t, rank: r)
        let rebuilt = F.cpDense(weights: cp.weights.scalars, factors: cp.factors)
        let err = F.relErr(rebuilt, t)
        #expect(err <= 1e-5, "rank \(r) on \(shape): error \(err) after \(cp.iterations) sweeps")
        #expect(abs(cp.errors.last! - err) <= 1e-6)                // TensorLy's error formula is right
        #expect(cp.weights.scalars.allSatisfy { $0 == 1 })
        #expect(abs(try cp.reconstructed().relativeError(to: rebuilt)) <= 1e-12)
        // tltorch's ridge (toward zero) keeps a bias; record it for the report.
        let ridge = try parafac(t, rank: r, options: .tltorch)
        let ridgeErr = F.relErr(F.cpDense(weights: ridge.weights.scalars, factors: ridge.factors), t)
        print("CP exact rank \(r) on \(shape): proximal \(err) (\(cp.iterations) sweeps), tltorch ridge \(ridgeErr) (\(ridge.iterations) sweeps)")
        #expect(err < ridgeErr)
    }

    @Test("CP: ranks above the mode sizes, random init, determinism per seed")
    func cpOverparameterized() throws {
        var rng = F.Normal(seed: 11)
        let t = rng.tensor([5, 4, 3])
        let a = try parafac(t, rank: 9, options: CPOptions(nIterMax: 30, seed: 5))
        let b = try parafac(t, rank: 9, options: CPOptions(nIterMax: 30, seed: 5))
        let c = try parafac(t, rank: 9, options: CPOptions(nIterMax: 30, seed: 6))
        #expect(a == b)
        #expect(a.factors != c.factors)
        #expect(a.factors.map(\.shape) == [[5, 9], [4, 9], [3, 9]])
        #expect(a.errors.last! < a.errors.first!)
        let r = try parafac(t, rank: 3, options: CPOptions(nIterMax: 50, initialization: .random, seed: 1))
        #expect(r.errors.last! < 0.9)
        #expect(abs(F.relErr(F.cpDense(weights: r.weights.scalars, factors: r.factors), t) - r.errors.last!) < 1e-9)
        // Thread count does not change results.
        let saved = Parallel.threadCount
        Parallel.threadCount = 1
        let one = try parafac(t, rank: 9, options: CPOptions(nIterMax: 30, seed: 5))
        Parallel.threadCount = saved
        #expect(one == a)
    }

    @Test("Tucker-HOOI recovers exact multilinear rank to ≤ 1e-6, clamps ranks, square fixed modes")
    func tuckerExact() throws {
        var rng = F.Normal(seed: 21)
        let ranks = [3, 4, 2, 3], shape = [7, 6, 5, 3]
        let truth = F.tuckerDense(core: rng.tensor(ranks), factors: zip(shape, ranks).map { rng.matrix($0, $1) })
        let tk = try tucker(truth, ranks: ranks)
        #expect(tk.ranks == ranks)
        #expect(tk.core.shape == ranks)
        let err = F.relErr(F.tuckerDense(core: tk.core, factors: tk.factors), truth)
        #expect(err <= 1e-6, "Tucker error \(err)")
        #expect(tk.iterations >= 3)
        for f in tk.factors { #expect(F.orthonormalityDefect(f) < 1e-12) }
        // Ranks above the sizes are clamped and reported; fixed modes get square orthogonal factors.
        let clamped = try tucker(truth, ranks: [9, 4, 2, 8], options: TuckerOptions(fixedModes: [2]))
        #expect(clamped.ranks == [7, 4, 5, 3])
        #expect(clamped.factors[2].shape == [5, 5])
        #expect(F.orthonormalityDefect(clamped.factors[2]) < 1e-12)
        #expect(F.relErr(try clamped.reconstructed(), truth) <= 1e-6)
    }

    @Test("TT-SVD recovers exact TT rank to ≤ 1e-6")
    func ttExact() throws {
        var rng = F.Normal(seed: 31)
        let shape = [6, 3, 3, 8], ranks = [1, 3, 2, 4, 1]
        let cores = (0..<4).map { rng.tensor([ranks[$0], shape[$0], ranks[$0 + 1]]) }
        let truth = F.ttDense(cores: cores)
        let tt = try tensorTrain(truth, ranks: ranks)
        #expect(tt.ranks == ranks)
        let err = F.relErr(F.ttDense(cores: tt.cores), truth)
        #expect(err <= 1e-6, "TT error \(err)")
        #expect(tt.relativeError <= 1e-6)
        #expect(F.relErr(try tt.reconstructed(), truth) <= 1e-6)
    }

    @Test("TT ranks are truncated to what the unfoldings allow: (1,7,5,6,1) on (6,3,3,5) → (1,6,5,5,1)")
    func ttTruncation() throws {
        var rng = F.Normal(seed: 41)
        let t = rng.tensor([6, 3, 3, 5])
        let tt = try tensorTrain(t, ranks: [1, 7, 5, 6, 1])
        #expect(tt.ranks == [1, 6, 5, 5, 1])
        #expect(tt.cores.map(\.shape) == [[1, 6, 6], [6, 3, 5], [5, 3, 5], [5, 5, 1]])
        // The error estimate from the discarded singular values is the true error.
        #expect(abs(F.relErr(F.ttDense(cores: tt.cores), t) - tt.relativeError) <= 1e-9)
        let small = try tensorTrain(t, ranks: [1, 2, 2, 2, 1])
        #expect(abs(F.relErr(F.ttDense(cores: small.cores), t) - small.relativeError) <= 1e-9)
    }
}
