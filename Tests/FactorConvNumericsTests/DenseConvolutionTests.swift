import FactorConvNumerics
import FactorConvTestSupport
import Testing

@Suite struct DenseConvolutionTests {
    /// Random cases of orders 1-4 with random stride, padding, dilation and bias.
    @Test(arguments: 1...4)
    func matchesPlainLoopReference(order: Int) throws {
        var rng = TestRandom(seed: UInt64(1000 + order))
        for _ in 0..<(order <= 2 ? 12 : 6) {
            let batch = rng.int(1...3), cin = rng.int(1...5), cout = rng.int(1...6)
            let kernel = (0..<order).map { _ in rng.int(1...(order >= 3 ? 3 : 5)) }
            let stride = (0..<order).map { _ in rng.int(1...3) }
            let padding = (0..<order).map { _ in rng.int(0...2) }
            let dilation = (0..<order).map { _ in rng.int(1...2) }
            let sizes = (0..<order).map { d in
                max(dilation[d] * (kernel[d] - 1) + 1 - 2 * padding[d], 1) + rng.int(0...(order >= 3 ? 4 : 9))
            }
            let x = rng.tensor([batch, cin] + sizes)
            let w = rng.tensor([cout, cin] + kernel)
            let bias: Tensor<Float>? = rng.int(0...1) == 1 ? rng.tensor([cout]) : nil
            let geometry = try ConvGeometry(order: order, stride: stride, padding: padding, dilation: dilation)
            let y = try DenseConvolution.forward(x, weight: w, bias: bias, geometry: geometry)
            let ref = referenceConv(x, weight: w, bias: bias?.scalars, stride: stride, padding: padding, dilation: dilation)
            #expect(y.shape == ref.shape)
            #expect(relativeMaxError(y, ref) <= 1e-5, "order \(order) x\(x.shape) w\(w.shape) \(geometry)")
        }
    }

    /// Pointwise (1×1) kernels take the GEMM-only path; strided 1×1 kernels the im2col path.
    @Test func pointwiseAndStridedOneByOne() throws {
        var rng = TestRandom(seed: 7)
        let x = rng.tensor([2, 6, 9, 7])
        let w = rng.tensor([5, 6, 1, 1])
        for stride in [[1, 1], [2, 3]] {
            let g = try ConvGeometry(order: 2, stride: stride)
            let y = try DenseConvolution.forward(x, weight: w, geometry: g)
            let ref = referenceConv(x, weight: w, stride: stride, padding: [0, 0], dilation: [1, 1])
            #expect(relativeMaxError(y, ref) <= 1e-5)
        }
    }

    /// Large enough to use several column blocks and both parallel strategies.
    @Test(arguments: [1, 2])
    func blockedAndParallelPathsAgree(threads: Int) throws {
        var rng = TestRandom(seed: 99)
        let saved = Parallel.threadCount
        defer { Parallel.threadCount = saved }
        Parallel.threadCount = threads
        for (xShape, wShape) in [([1, 16, 40, 40], [8, 16, 3, 3]), ([3, 4, 700], [5, 4, 5])] {
            let x = rng.tensor(xShape), w = rng.tensor(wShape)
            let order = xShape.count - 2
            let pad = Array(repeating: 1, count: order)
            let g = try ConvGeometry(order: order, padding: pad)
            let y = try DenseConvolution.forward(x, weight: w, geometry: g)
            let ref = referenceConv(x, weight: w, stride: Array(repeating: 1, count: order), padding: pad,
                                    dilation: Array(repeating: 1, count: order))
            #expect(relativeMaxError(y, ref) <= 1e-5)
        }
    }

    @Test func rejectsBadShapes() throws {
        let g = try ConvGeometry(order: 2)
        let x = Tensor<Float>(shape: [1, 3, 4, 4])
        #expect(throws: FactorConvError.self) { try DenseConvolution.forward(x, weight: Tensor(shape: [2, 4, 3, 3]), geometry: g) }
        #expect(throws: FactorConvError.self) { try DenseConvolution.forward(x, weight: Tensor(shape: [2, 3, 5, 5]), geometry: g) }
        #expect(throws: FactorConvError.self) { try DenseConvolution.forward(x, weight: Tensor(shape: [2, 3, 3]), geometry: g) }
        #expect(throws: FactorConvError.self) { try ConvGeometry(order: 2, stride: [0, 1]) }
        #expect(throws: FactorConvError.self) { try ConvGeometry(order: 2, padding: [-1, 0]) }
    }
}
