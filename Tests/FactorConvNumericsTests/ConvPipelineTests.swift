@testable import FactorConvNumerics
import FactorConvTestSupport
import Testing

@Suite struct ConvPipelineTests {
    /// A depthwise conv equals a dense conv whose kernel is zero off the channel diagonal.
    @Test(arguments: 1...4)
    func depthwiseMatchesDiagonalDenseKernel(order: Int) throws {
        var rng = TestRandom(seed: UInt64(50 + order))
        for _ in 0..<4 {
            let channels = rng.int(1...4), batch = rng.int(1...3)
            let kernel = (0..<order).map { _ in rng.int(1...3) }
            let stride = (0..<order).map { _ in rng.int(1...2) }
            let padding = (0..<order).map { _ in rng.int(0...2) }
            let dilation = (0..<order).map { _ in rng.int(1...2) }
            let sizes = (0..<order).map { d in dilation[d] * (kernel[d] - 1) + 1 + rng.int(0...5) }
            let x = rng.tensor([batch, channels] + sizes)
            let taps = rng.tensor([channels] + kernel)
            let g = try ConvGeometry(order: order, stride: stride, padding: padding, dilation: dilation)
            var dense = Tensor<Float>(shape: [channels, channels] + kernel)
            let volume = kernel.reduce(1, *)
            for c in 0..<channels {
                for t in 0..<volume { dense.scalars[(c * channels + c) * volume + t] = taps.scalars[c * volume + t] }
            }
            let y = try ConvPipeline(stages: [.depthwise(taps: taps, geometry: g)]).forward(x)
            let ref = referenceConv(x, weight: dense, stride: stride, padding: padding, dilation: dilation)
            #expect(relativeMaxError(y, ref) <= 1e-5, "order \(order) \(g)")
        }
    }

    /// A hand-built rank-R CP kernel run as pointwise → depthwise per mode → pointwise (+bias)
    /// equals the dense conv of the reconstructed kernel, with anisotropic geometry; with 2
    /// threads and batch 1, also with every stage split over the workers (small images are not
    /// split by default).
    @Test(arguments: [1, 2], [1, 3])
    func separableCPChainMatchesDense(threads: Int, batch: Int) throws {
        let saved = Parallel.threadCount
        defer { Parallel.threadCount = saved }
        Parallel.threadCount = threads
        var rng = TestRandom(seed: 77)
        let cin = 5, cout = 4, rank = 6
        let kernel = [3, 2]
        let stride = [2, 1], padding = [1, 2], dilation = [1, 2]
        let uIn = rng.tensor([cin, rank]), uOut = rng.tensor([cout, rank])
        let u0 = rng.tensor([kernel[0], rank]), u1 = rng.tensor([kernel[1], rank])
        let bias = rng.tensor([cout])
        var w = Tensor<Float>(shape: [cout, cin] + kernel)
        for o in 0..<cout { for c in 0..<cin { for a in 0..<kernel[0] { for b in 0..<kernel[1] {
            var v: Float = 0
            for r in 0..<rank { v += uOut[o, r] * uIn[c, r] * u0[a, r] * u1[b, r] }
            w[o, c, a, b] = v
        }}}}
        let x = rng.tensor([batch, cin, 11, 9])
        let geometries = try (0..<2).map { m in
            try ConvGeometry(order: 2, stride: (0..<2).map { $0 == m ? stride[m] : 1 },
                             padding: (0..<2).map { $0 == m ? padding[m] : 0 },
                             dilation: (0..<2).map { $0 == m ? dilation[m] : 1 })
        }
        let stages: [ConvStage] = [
            .pointwise(weight: try uIn.permuted([1, 0]), bias: nil),
            .depthwise(taps: try u0.permuted([1, 0]).reshaped([rank, kernel[0], 1]), geometry: geometries[0]),
            .depthwise(taps: try u1.permuted([1, 0]).reshaped([rank, 1, kernel[1]]), geometry: geometries[1]),
            .pointwise(weight: uOut, bias: bias.scalars),
        ]
        let ref = referenceConv(x, weight: w, bias: bias.scalars, stride: stride, padding: padding, dilation: dilation)
        for split in [ConvPipeline.defaultMinFlopsPerWorker, 0] {
            let y = try ConvPipeline(stages: stages, minFlopsPerWorker: split).forward(x)
            #expect(y.shape == ref.shape)
            #expect(relativeMaxError(y, ref) <= 1e-5)
        }
    }

    @Test func rejectsChannelMismatch() throws {
        let pipeline = ConvPipeline(stages: [.pointwise(weight: Tensor(shape: [2, 3]), bias: nil)])
        #expect(throws: FactorConvError.self) { try pipeline.forward(Tensor(shape: [1, 4, 5])) }
    }
}
