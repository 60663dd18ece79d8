@testable import FactorConvNumerics
import FactorConvTestSupport
import Testing

/// `ModeConvolution` with each kernel this CPU runs (AVX-512, AVX2 + FMA) against the plain-loop
/// reference: orders 1–3, kernels spanning any one dimension with random taps, stride (not on the
/// innermost), padding and dilation, output channel counts from 1 to 30 (groups of up to 12
/// channels over two vectors, split sums below 4), rows and lines shorter and longer than two
/// vectors, with and without bias, images over the workers and (batch 1, 2 workers) output
/// channels over the workers.
@Suite(.enabled(if: KernelSet.best != nil, "needs AVX-512 or AVX2 + FMA"))
struct ModeConvolutionTests {
    /// The kernels this CPU runs (an AVX-512 CPU also runs the AVX2 kernel).
    static let kernels: [ModeConvolution.Kernel] = KernelSet.available

    @Test(arguments: kernels, [1, 2])
    func matchesReference(kernel: ModeConvolution.Kernel, threads: Int) throws {
        var rng = TestRandom(seed: UInt64(7100 + threads))
        for _ in 0..<60 {
            let order = rng.int(1...3), mode = rng.int(0...(order - 1))
            let cin = rng.int(1...9), cout = rng.int(1...30), k = rng.int(1...5)
            let s = mode == order - 1 ? 1 : rng.int(1...3), p = rng.int(0...2), d = rng.int(1...2)
            var sizes = (0..<order).map { _ in rng.int(1...7) }
            // Rows of up to 40 floats after an outer mode: the kernel's vector pairs and odd ends.
            if mode < order - 1 { sizes[order - 1] = rng.int(1...40) }
            sizes[mode] = max(1, d * (k - 1) + 1 - 2 * p) + rng.int(0...35)
            func along(_ v: Int, other: Int) -> [Int] { (0..<order).map { $0 == mode ? v : other } }
            let g = try ConvGeometry(order: order, stride: along(s, other: 1), padding: along(p, other: 0),
                                     dilation: along(d, other: 1))
            let x = rng.tensor([rng.int(1...2), cin] + sizes), w = rng.tensor([cout, cin] + along(k, other: 1))
            let bias: [Float]? = rng.int(0...1) == 1 ? rng.tensor([cout]).scalars : nil
            let problem = try ConvProblem(inputShape: x.shape, weightShape: w.shape, geometry: g)
            guard k > 1 || p > 0 || s > 1 else { continue }   // pointwise: not this path
            // A strided mode with nothing after it to vectorize over is refused (tested below).
            guard s == 1 || sizes[(mode + 1)...].reduce(1, *) > 1 else { continue }
            // The AVX2 kernel leaves stages with more outputs than C_in · taps on short innermost
            // lines to the GEMM (fck_mode_conv_avx2 itself is tested on them directly).
            let inner = sizes[(mode + 1)...].reduce(1, *)
            guard ModeConvolution.isWithinBounds(kernel, depth: cin * k, outChannels: cout, size: sizes[mode], inner: inner)
            else { continue }
            let plan = try #require(ModeConvolution(problem, kernel: kernel), "\(problem)")
            #expect(plan.kernel == kernel)
            let y = try runOnBuffers(x, weight: w, optionalBias: bias, outputShape: problem.outputShape) {
                plan.run(input: $0, weight: $1, bias: $2, output: $3, workers: threads)
            }
            let ref = referenceConv(x, weight: w, bias: bias, stride: g.stride, padding: g.padding, dilation: g.dilation)
            #expect(relativeMaxError(y, ref) <= 1e-5, "\(problem)")
        }
    }

    @Test func refusesOtherProblems() throws {
        func plan(_ kernel: [Int], stride: [Int] = [1, 1], cin: Int = 4, cout: Int = 4) throws -> ModeConvolution? {
            let g = try ConvGeometry(order: 2, stride: stride, padding: [0, 0])
            return ModeConvolution(try ConvProblem(inputShape: [1, cin, 20, 20], weightShape: [cout, cin] + kernel, geometry: g))
        }
        #expect(try plan([3, 1]) != nil)
        #expect(try plan([1, 3]) != nil)
        #expect(try plan([3, 3]) == nil)                       // spans two dimensions
        #expect(try plan([1, 3], stride: [1, 2]) == nil)       // strided innermost mode
        #expect(try plan([3, 1], stride: [2, 1]) != nil)
        let column = try ConvProblem(inputShape: [1, 4, 20, 1], weightShape: [4, 4, 3, 1],
                                     geometry: try ConvGeometry(order: 2, stride: [2, 1]))
        #expect(ModeConvolution(column) == nil)                // strided, nothing after the mode
    }

    @Test(arguments: kernels)
    func refusesBeyondBounds(kernel: ModeConvolution.Kernel) throws {
        func plan(_ taps: [Int], cin: Int, cout: Int, sizes: [Int] = [20, 20]) throws -> ModeConvolution? {
            let g = try ConvGeometry(order: 2, stride: [1, 1], padding: [0, 0])
            return ModeConvolution(try ConvProblem(inputShape: [1, cin] + sizes, weightShape: [cout, cin] + taps, geometry: g),
                                   kernel: kernel)
        }
        // C_in · taps and C_out at and past the kernel's bounds, the mode first (rows of 20).
        let (depth, fewDepth, few, outputs) = kernel == .avx512
            ? (ModeConvolution.maxDepth, ModeConvolution.maxDepth, ModeConvolution.maxOutChannels, ModeConvolution.maxOutChannels)
            : (ModeConvolution.avx2MaxDepth, ModeConvolution.avx2MaxDepthFewOutputs, ModeConvolution.avx2FewOutputs,
               ModeConvolution.avx2MaxOutChannels)
        #expect(try plan([4, 1], cin: depth / 4, cout: few + 1) != nil)
        #expect(try plan([4, 1], cin: depth / 4 + 1, cout: few + 1) == nil)
        #expect(try plan([4, 1], cin: fewDepth / 4, cout: few) != nil)
        #expect(try plan([4, 1], cin: fewDepth / 4 + 1, cout: few) == nil)
        #expect(try plan([3, 1], cin: 4, cout: outputs) != nil)
        #expect(try plan([3, 1], cin: 4, cout: outputs + 1) == nil)
        if kernel == .avx2 {
            // More outputs than C_in · taps: refused on short innermost lines only.
            let line = ModeConvolution.avx2MinExpandingLine
            #expect(try plan([1, 3], cin: 2, cout: 7, sizes: [4, line - 1]) == nil)
            #expect(try plan([1, 3], cin: 2, cout: 7, sizes: [4, line]) != nil)
            #expect(try plan([3, 1], cin: 2, cout: 7, sizes: [4, line - 1]) != nil)
            #expect(try plan([1, 3], cin: 3, cout: 7, sizes: [4, line - 1]) != nil)
        }
    }
}
