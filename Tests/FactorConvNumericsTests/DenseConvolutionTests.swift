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

    /// Pointwise convs of fewer images than workers split each image over the workers (output
    /// channels of a narrow image, aligned columns of a wide one, at any alignment of the
    /// output): the same output bit for bit as one worker, and that equals the float64 loop.
    @Test func pointwiseSmallBatchSplitMatchesOneWorker() throws {
        var rng = TestRandom(seed: 31)
        let geometry = try ConvGeometry(order: 2)
        for (xShape, cout) in [([1, 64, 40, 40], 96), ([1, 256, 7, 7], 256), ([2, 96, 13, 37], 80)] {
            let x = rng.tensor(xShape), w = rng.tensor([cout, xShape[1], 1, 1]), bias = rng.tensor([cout])
            let problem = try ConvProblem(inputShape: xShape, weightShape: w.shape, geometry: geometry)
            let ref = referenceConv(x, weight: w, bias: bias.scalars, stride: [1, 1], padding: [0, 0], dilation: [1, 1])
            for offset in [0, 3, 12] {
                var outputs: [[Float]] = []
                for workers in 1...3 {
                    var y = [Float](repeating: .nan, count: problem.outputCount + offset)
                    x.scalars.withUnsafeBufferPointer { xp in
                        w.scalars.withUnsafeBufferPointer { wp in
                            bias.scalars.withUnsafeBufferPointer { bp in
                                y.withUnsafeMutableBufferPointer { yp in
                                    DenseConvolution.forward(problem, input: xp.baseAddress!, weight: wp.baseAddress!,
                                                             bias: bp.baseAddress!, output: yp.baseAddress! + offset,
                                                             workers: workers)
                                }
                            }
                        }
                    }
                    outputs.append(Array(y[offset...]))
                }
                #expect(outputs[1] == outputs[0] && outputs[2] == outputs[0], "\(xShape) → \(cout), offset \(offset)")
                #expect(relativeMaxError(try Tensor(shape: ref.shape, scalars: outputs[0]), ref) <= 1e-5)
            }
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
