@testable import FactorConvNumerics
import FactorConvTestSupport
import Testing

/// The Winograd F(2×2, 3×3) path against the plain-loop reference: orders 2–4, odd and even
/// output sizes, any padding, outer taps with and without dilation (stacked or accumulated),
/// blocks small enough that images are cut into several slabs and chunks, both parallel
/// strategies, with the packed-panel GEMMs of every instruction set the CPU runs (AVX-512, AVX2)
/// and with row-major products (BLAS, or the channel-mixing kernel of the transforms'
/// instruction set for each first tap group, BLAS accumulating the others).
@Suite struct WinogradConvolutionTests {
    /// The (packed GEMM kernel or nil for row-major products, transform kernels or nil for
    /// portable transforms and BLAS products) combinations this machine can run: each
    /// instruction set on its own, and mixed with the portable path.
    static let variants: [(KernelSet?, KernelSet?)] = {
        var list: [(KernelSet?, KernelSet?)] = [(nil, nil)]
        for set in KernelSet.available { list += [(set, nil), (nil, set), (set, set)] }
        return list
    }()

    /// Each trial's problem runs on every variant against one reference.
    @Test(arguments: [2, 3, 4], [1, 2])
    func matchesReference(order: Int, threads: Int) throws {
        var rng = TestRandom(seed: UInt64(900 + order * 10 + threads))
        for trial in 0..<6 {
            // Output channels past one 32-row panel and not a multiple of 16 in half the trials.
            let batch = rng.int(1...3), cin = rng.int(1...5), cout = trial < 3 ? rng.int(1...6) : rng.int(33...70)
            var kernel = Array(repeating: 3, count: order), dilation = Array(repeating: 1, count: order)
            for d in 0..<(order - 2) { kernel[d] = rng.int(1...3); dilation[d] = rng.int(1...2) }
            let padding = (0..<order).map { _ in rng.int(0...2) }
            let extra = order == 4 ? 3 : 7
            var sizes = [Int]()
            for d in 0..<order { sizes.append(dilation[d] * (kernel[d] - 1) + 1 + rng.int(0...extra)) }
            let x = rng.tensor([batch, cin] + sizes), w = rng.tensor([cout, cin] + kernel)
            let bias = rng.tensor([cout]).scalars
            let g = try ConvGeometry(order: order, padding: padding, dilation: dilation)
            let problem = try ConvProblem(inputShape: x.shape, weightShape: w.shape, geometry: g)
            let ref = referenceConv(x, weight: w, bias: bias, stride: Array(repeating: 1, count: order),
                                    padding: padding, dilation: dilation)
            // Alternate between one block per image and tiny blocks (one tile row, one outer row).
            let blockBytes = trial % 2 == 0 ? 1 << 20 : 64
            for (gemm, transformKernels) in Self.variants {
                let plan = try #require(WinogradConvolution(problem, blockBytes: blockBytes, minChannels: 1,
                                                            packed: gemm != nil, transformKernels: transformKernels,
                                                            gemmKernel: gemm))
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
        func plan(_ kernel: [Int], stride: [Int], dilation: [Int]) throws -> WinogradConvolution? {
            let g = try ConvGeometry(order: kernel.count, stride: stride, padding: Array(repeating: 1, count: kernel.count),
                                     dilation: dilation)
            let p = try ConvProblem(inputShape: [1, 32] + Array(repeating: 9, count: kernel.count),
                                    weightShape: [32, 32] + kernel, geometry: g)
            return WinogradConvolution(p)
        }
        #expect(try plan([3, 3], stride: [1, 1], dilation: [1, 1]) != nil)
        #expect(try plan([3], stride: [1], dilation: [1]) == nil)
        #expect(try plan([3, 5], stride: [1, 1], dilation: [1, 1]) == nil)
        #expect(try plan([3, 3], stride: [1, 2], dilation: [1, 1]) == nil)
        #expect(try plan([3, 3], stride: [1, 1], dilation: [2, 1]) == nil)
        #expect(try plan([3, 3, 3], stride: [2, 1, 1], dilation: [1, 1, 1]) == nil)
        #expect(try plan([5, 3, 3], stride: [1, 1, 1], dilation: [2, 1, 1]) != nil)
    }

    /// Through `ConvPipeline` (which transforms the kernel once, when built): a lone dense stage
    /// (the reconstructed path) and a pointwise → dense chain (the per-image path, Tucker-like),
    /// orders 2 and 3, 1 and 2 threads, against the plain-loop reference.
    @Test(arguments: [2, 3], [1, 2])
    func pipelineWithCachedKernel(order: Int, threads: Int) throws {
        let saved = Parallel.threadCount
        defer { Parallel.threadCount = saved }
        Parallel.threadCount = threads
        var rng = TestRandom(seed: UInt64(950 + order * 10 + threads))
        let cin = 16, mid = 17, cout = 18
        let sizes = order == 2 ? [13, 10] : [5, 7, 6]
        let kernel = order == 2 ? [3, 3] : [2, 3, 3]
        let padding = order == 2 ? [1, 2] : [1, 0, 1]
        let g = try ConvGeometry(order: order, padding: padding)
        let x = rng.tensor([3, cin] + sizes)
        let w = rng.tensor([cout, cin] + kernel), bias = rng.tensor([cout]).scalars
        #expect(WinogradKernel(weightShape: w.shape, geometry: g) != nil)
        let lone = try ConvPipeline(stages: [.dense(weight: w, geometry: g, bias: bias)]).forward(x)
        let ones = Array(repeating: 1, count: order)
        #expect(relativeMaxError(lone, referenceConv(x, weight: w, bias: bias, stride: ones, padding: padding,
                                                      dilation: ones)) <= 1e-5)
        let mix = rng.tensor([mid, cin]), w2 = rng.tensor([cout, mid] + kernel)
        let chain = try ConvPipeline(stages: [.pointwise(weight: mix, bias: nil),
                                              .dense(weight: w2, geometry: g, bias: bias)]).forward(x)
        let mixedExact = referenceConv(x, weight: try mix.reshaped([mid, cin] + ones), stride: ones,
                                       padding: Array(repeating: 0, count: order), dilation: ones)
        let mixed = try Tensor<Float>(shape: mixedExact.shape, scalars: mixedExact.scalars.map { Float($0) })
        #expect(relativeMaxError(chain, referenceConv(mixed, weight: w2, bias: bias, stride: ones, padding: padding,
                                                       dilation: ones)) <= 1e-5)
    }

    /// The functional conv's kernel cache never serves a stale kernel: alternating between two
    /// weights of one shape, and one weight changed in a single element, each matches the
    /// reference.
    @Test func functionalCacheMatchesEveryWeight() throws {
        var rng = TestRandom(seed: 990)
        let x = rng.tensor([2, 16, 9, 8])
        let g = try ConvGeometry(order: 2, padding: [1, 1])
        let first = rng.tensor([16, 16, 3, 3]), second = rng.tensor([16, 16, 3, 3])
        var tweaked = first
        tweaked.scalars[77] += 0.5
        for w in [first, second, first, tweaked, first] {
            let y = try DenseConvolution.forward(x, weight: w, geometry: g)
            let ref = referenceConv(x, weight: w, stride: [1, 1], padding: [1, 1], dilation: [1, 1])
            #expect(relativeMaxError(y, ref) <= 1e-5)
        }
    }

    /// The public dense conv at real channel counts (≥ 16, so the Winograd paths are chosen by
    /// `DenseConvolution` itself, with their default block sizes and the kernel cache) against
    /// the plain-loop reference: 1-D k3/k5, 2-D and 3-D 3×3, odd sizes, 1 and 2 threads.
    @Test(arguments: [1, 2])
    func publicPathAtRealChannelCounts(threads: Int) throws {
        let saved = Parallel.threadCount
        defer { Parallel.threadCount = saved }
        Parallel.threadCount = threads
        var rng = TestRandom(seed: UInt64(970 + threads))
        let cases: [(input: [Int], kernel: [Int], padding: [Int])] = [
            ([2, 16, 301], [5], [2]), ([1, 17, 64], [3], [0]),
            ([2, 16, 23, 31], [3, 3], [1, 1]), ([1, 20, 9, 40], [3, 3], [0, 2]),
            ([1, 16, 5, 11, 12], [3, 3, 3], [1, 1, 1]),
        ]
        for c in cases {
            let cout = rng.int(16...19)
            let x = rng.tensor(c.input), w = rng.tensor([cout, c.input[1]] + c.kernel)
            let bias = rng.tensor([cout])
            let g = try ConvGeometry(order: c.kernel.count, padding: c.padding)
            let problem = try ConvProblem(inputShape: x.shape, weightShape: w.shape, geometry: g)
            #expect(WinogradConvolution(problem) != nil || WinogradLineConvolution(problem) != nil)
            let y = try DenseConvolution.forward(x, weight: w, bias: bias, geometry: g)
            let ones = Array(repeating: 1, count: c.kernel.count)
            let ref = referenceConv(x, weight: w, bias: bias.scalars, stride: ones, padding: c.padding, dilation: ones)
            #expect(relativeMaxError(y, ref) <= 1e-5, "\(problem)")
        }
    }
}
