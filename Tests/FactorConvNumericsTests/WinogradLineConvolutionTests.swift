@testable import FactorConvNumerics
import FactorConvTestSupport
import Testing

/// The 1-D Winograd path F(m, r) against the plain-loop reference, and its transform matrices
/// against the definition of correlation.
@Suite struct WinogradLineConvolutionTests {
    /// `Aᵀ [(G g) ⊙ (Bᵀ d)]` equals the correlation `y_i = Σ_k d_{i+k} g_k` for random d, g, in
    /// float64 (the construction is exact up to rounding).
    @Test(arguments: [(2, 3), (2, 4), (2, 5), (4, 3), (3, 3), (4, 5)])
    func toomCookComputesCorrelation(outputs: Int, taps: Int) {
        let tc = ToomCook(outputs: outputs, taps: taps)
        var rng = TestRandom(seed: UInt64(outputs * 10 + taps))
        let a = tc.alpha
        let d = (0..<a).map { _ in Double(rng.tensor([1]).scalars[0]) }
        let g = (0..<taps).map { _ in Double(rng.tensor([1]).scalars[0]) }
        let gg = (0..<a).map { xi in (0..<taps).reduce(0.0) { $0 + tc.g[xi * taps + $1] * g[$1] } }
        let bd = (0..<a).map { xi in (0..<a).reduce(0.0) { $0 + tc.bt[xi * a + $1] * d[$1] } }
        for i in 0..<outputs {
            let y = (0..<a).reduce(0.0) { $0 + tc.at[i * a + $1] * gg[$1] * bd[$1] }
            let expected = (0..<taps).reduce(0.0) { $0 + d[i + $1] * g[$1] }
            #expect(abs(y - expected) <= 1e-12 * max(1, abs(expected)), "F(\(outputs), \(taps)) output \(i)")
        }
    }

    /// Every (GEMM, transform) variant the CPU runs (BLAS and packed panels on each instruction
    /// set; portable and AVX-512 transforms), output channels within one panel and across panels.
    @Test(arguments: [3, 5], [1, 2])
    func matchesReference(taps: Int, threads: Int) throws {
        var rng = TestRandom(seed: UInt64(700 + taps * 10 + threads))
        for trial in 0..<6 {
            let batch = rng.int(1...3), cin = rng.int(1...6), cout = trial < 3 ? rng.int(1...6) : rng.int(33...70)
            let padding = rng.int(0...3)
            let length = taps + rng.int(0...40)
            let x = rng.tensor([batch, cin, length]), w = rng.tensor([cout, cin, taps])
            let bias = rng.tensor([cout]).scalars
            let g = try ConvGeometry(order: 1, padding: [padding])
            let problem = try ConvProblem(inputShape: x.shape, weightShape: w.shape, geometry: g)
            let ref = referenceConv(x, weight: w, bias: bias, stride: [1], padding: [padding], dilation: [1])
            for (gemm, transformKernels) in WinogradConvolutionTests.variants {
                // Alternate between whole-image chunks and chunks of a few tiles.
                let plan = try #require(WinogradLineConvolution(problem, blockBytes: trial % 2 == 0 ? 1 << 20 : 16,
                                                                minChannels: 1, packed: gemm != nil,
                                                                transformKernels: transformKernels, gemmKernel: gemm))
                #expect(plan.kernel.packed == (gemm != nil))
                let y = try runOnBuffers(x, weight: w, bias: bias, outputShape: problem.outputShape) {
                    plan.run(input: $0, weight: $1, bias: $2, output: $3, workers: threads)
                }
                #expect(relativeMaxError(y, ref) <= 1e-5,
                        "\(problem), packed \(String(describing: gemm)), transform kernels \(String(describing: transformKernels))")
            }
        }
    }

    @Test func refusesOtherGeometries() throws {
        func plan(_ k: Int, stride: Int = 1, dilation: Int = 1, channels: Int = 32) throws -> WinogradLineConvolution? {
            let g = try ConvGeometry(order: 1, stride: [stride], padding: [1], dilation: [dilation])
            let p = try ConvProblem(inputShape: [1, channels, 40], weightShape: [channels, channels, k], geometry: g)
            return WinogradLineConvolution(p)
        }
        #expect(try plan(5) != nil)
        #expect(try plan(3) != nil)
        #expect(try plan(2) == nil)
        #expect(try plan(4) == nil)
        #expect(try plan(7) == nil)
        #expect(try plan(5, stride: 2) == nil)
        #expect(try plan(5, dilation: 2) == nil)
        #expect(try plan(5, channels: 8) == nil)
    }
}
