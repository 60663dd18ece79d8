@testable import FactorConvNumerics
import FactorConvTestSupport
import Testing

/// The line path (outer strides 1) against the plain-loop reference, with tiny slabs so that
/// every image is cut into several slabs, both parallel strategies, and the products of
/// kernels with one outer tap run by BLAS and by each channel-mixing kernel the CPU has.
@Suite struct LineConvolutionTests {
    @Test(arguments: [2, 3, 4], [1, 2])
    func matchesReferenceAcrossSlabs(order: Int, threads: Int) throws {
        var rng = TestRandom(seed: UInt64(300 + order * 10 + threads))
        for trial in 0..<6 * (1 + KernelSet.available.count) {
            let mixingKernels = trial < 6 ? nil : KernelSet.available[trial / 6 - 1]
            let batch = rng.int(1...2), cin = rng.int(1...4), cout = rng.int(1...5)
            // Every other trial spans the innermost dimension only (one outer tap), as a
            // tensor-train stage does, so that the channel-mixing kernels run the product.
            let kernel = (0..<order).map { d in trial % 2 == 1 && d < order - 1 ? 1 : rng.int(1...3) }
            var stride = Array(repeating: 1, count: order)
            stride[order - 1] = rng.int(1...3)
            let padding = (0..<order).map { _ in rng.int(0...2) }
            let dilation = (0..<order).map { _ in rng.int(1...2) }
            let sizes = (0..<order).map { d in dilation[d] * (kernel[d] - 1) + 1 + rng.int(0...(order == 4 ? 3 : 6)) }
            let x = rng.tensor([batch, cin] + sizes), w = rng.tensor([cout, cin] + kernel)
            let bias = rng.tensor([cout]).scalars
            let g = try ConvGeometry(order: order, stride: stride, padding: padding, dilation: dilation)
            let problem = try ConvProblem(inputShape: x.shape, weightShape: w.shape, geometry: g)
            guard let plan = LineConvolution(problem, slabFloats: 64, mixing: mixingKernels) else {
                #expect(problem.isPointwise, "line path must apply to \(problem)")
                continue
            }
            let y = try runOnBuffers(x, weight: w, bias: bias, outputShape: problem.outputShape) {
                plan.run(input: $0, weight: $1, bias: $2, output: $3, workers: threads)
            }
            let ref = referenceConv(x, weight: w, bias: bias, stride: stride, padding: padding, dilation: dilation)
            #expect(relativeMaxError(y, ref) <= 1e-5, "\(problem)")
        }
    }
}
