import FactorConvKernels

/// Dense convolution whose kernel spans a single spatial dimension (1 in every other, with
/// trivial geometry there) and whose channels are few — the per-mode R_n → R_{n+1} stages of
/// the tensor-train path — computed directly by `fck_mode_conv` (AVX-512: 8–12 output channels
/// per pass) or `fck_mode_conv_avx2` (AVX2 + FMA: up to 6), vectorized over positions. For such
/// problems the GEMM paths spend more time arranging their operands (line buffers, transposes,
/// zero fills) than multiplying.
struct ModeConvolution {
    /// The kernel that runs the convolution.
    /// `fck_mode_conv` (AVX-512) or `fck_mode_conv_avx2` (AVX2 + FMA).
    typealias Kernel = KernelSet

    let problem: ConvProblem
    let kernel: Kernel
    /// The spatial dimension the kernel spans.
    let mode: Int
    /// Floats before, and after, the mode in one channel's block layout.
    let outer: Int, inner: Int

    /// Largest C_in · taps and C_out `fck_mode_conv` handles: beyond them a GEMM reuses its
    /// operands better (chosen on the benchmarks' TT layers, whose stages lie well inside them).
    static let maxDepth = 256, maxOutChannels = 64

    /// The bounds of `fck_mode_conv_avx2`, measured against the GEMM paths on an AVX2 CPU on the
    /// TT stages of the benchmarks' layers and their neighbours: C_in · taps up to `avx2MaxDepth`,
    /// or up to `avx2MaxDepthFewOutputs` with at most `avx2FewOutputs` output channels (where
    /// a GEMM's few rows reuse nothing); at most `avx2MaxOutChannels`. A stage with more output
    /// channels than C_in · taps on innermost lines shorter than `avx2MinExpandingLine` is left
    /// to the GEMM, which is faster there (few multiply-adds per output, every pass masked).
    static let avx2MaxDepth = 512, avx2MaxDepthFewOutputs = 2048, avx2FewOutputs = 16, avx2MaxOutChannels = 256,
               avx2MinExpandingLine = 128

    /// Whether `kernel` runs a stage of `depth` = C_in · taps and `outChannels` outputs along a
    /// mode of `size` positions followed by `inner` floats per position.
    static func isWithinBounds(_ kernel: Kernel, depth: Int, outChannels: Int, size: Int, inner: Int) -> Bool {
        switch kernel {
        case .avx512:
            return depth <= maxDepth && outChannels <= maxOutChannels
        case .avx2:
            let shortExpandingLine = inner == 1 && size < avx2MinExpandingLine && depth < outChannels
            return depth <= (outChannels <= avx2FewOutputs ? avx2MaxDepthFewOutputs : avx2MaxDepth)
                && outChannels <= avx2MaxOutChannels && !shortExpandingLine
        }
    }

    /// The plan, or nil unless a kernel is given (default: the CPU's, `KernelSet.best`), the
    /// kernel spans one dimension with the others trivial, and the stage is within the kernel's
    /// bounds (`isWithinBounds`).
    init?(_ problem: ConvProblem, kernel: Kernel? = KernelSet.best) {
        let g = problem.geometry, n = problem.order
        let spanning = (0..<n).filter { problem.kernel[$0] != 1 || g.stride[$0] != 1 || g.padding[$0] != 0 }
        guard let kernel, spanning.count == 1, let mode = spanning.first,
              problem.kernel[mode] <= Int(FCK_MODE_CONV_MAX_TAPS)
        else { return nil }
        let inner = problem.inputSpatial[(mode + 1)...].reduce(1, *)
        // The kernels vectorize a strided mode only across the dimensions after it.
        guard inner > 1 || g.stride[mode] == 1,
              Self.isWithinBounds(kernel, depth: problem.inChannels * problem.kernel[mode],
                                  outChannels: problem.outChannels, size: problem.inputSpatial[mode], inner: inner)
        else { return nil }
        self.problem = problem
        self.kernel = kernel
        self.mode = mode
        self.inner = inner
        outer = problem.inputSpatial[..<mode].reduce(1, *)
    }

    /// Runs the whole convolution (see `DenseConvolution.forward` for the buffer contract):
    /// images over the workers, or with fewer images than workers, output channels. Items not
    /// started when the interruptible call is interrupted are skipped (the output is then incomplete).
    func run(input: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
             output: UnsafeMutablePointer<Float>, workers: Int) {
        let cin = problem.inChannels, cout = problem.outChannels, k = problem.kernel[mode], g = problem.geometry
        let inPlane = problem.inputSpatial.reduce(1, *), outPlane = problem.outputPositions
        let parts = problem.batch >= workers ? 1 : workers
        Parallel.forEach(problem.batch * parts, maxWorkers: workers) { item in
            let image = item / parts, part = item % parts
            let channels = Parallel.share(of: cout, part: part, parts: parts)
            guard !channels.isEmpty, !Interruption.isRequested else { return }
            let o0 = channels.lowerBound
            let convolve = kernel == .avx512 ? fck_mode_conv : fck_mode_conv_avx2
            let status = convolve(input + image * cin * inPlane, Int32(cin), inPlane,
                                  output + (image * cout + o0) * outPlane, Int32(channels.count), outPlane,
                                  Int32(outer), Int32(problem.inputSpatial[mode]), Int32(inner),
                                  Int32(problem.outputSpatial[mode]), weight + o0 * cin * k, Int32(k),
                                  Int32(g.stride[mode]), Int32(g.padding[mode]), Int32(g.dilation[mode]),
                                  bias.map { $0 + o0 })
            precondition(status == 0, "the mode conv kernel refused a problem ModeConvolution accepted")
        }
    }
}
