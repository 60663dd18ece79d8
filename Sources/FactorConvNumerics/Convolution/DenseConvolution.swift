/// Dense N-D convolution with PyTorch semantics (cross-correlation, zero padding), float32.
///
/// Pointwise convolutions are channel mixing (one GEMM) per image; 3×3 and 1-D 3- or 5-tap
/// stride-1 kernels with enough channels use Winograd's minimal filtering; with AVX-512, kernels
/// spanning one dimension with few channels are computed directly (`ModeConvolution`); 1-D
/// convolutions with stride 1 take one GEMM per tap on a padded copy (`ShiftConvolution`).
/// Convolutions of order ≥ 2 with stride 1 in the outer dimensions use `LineConvolution` (im2col
/// over the innermost kernel dimension only). The rest build im2col column blocks of a bounded
/// size (so the block stays in cache and is reused from the workspace pool) and multiply each by
/// the kernel viewed as a (C_out × C_in·ΠK) matrix.
public enum DenseConvolution {
    /// Target size of one im2col column block, in floats (2 MB: measured best among 0.125-16 MB
    /// on the benchmark layers; large enough for efficient GEMM panels, small enough for L2/L3).
    static let columnBlockFloats = 1 << 19

    /// Convolves tensors: `x` (B, C_in, S...), `weight` (C_out, C_in, K...), optional `bias` (C_out).
    /// - Throws: `FactorConvError` on any shape or geometry problem.
    public static func forward(_ x: Tensor<Float>, weight: Tensor<Float>, bias: Tensor<Float>? = nil,
                               geometry: ConvGeometry) throws -> Tensor<Float> {
        try BLAS.require()
        let problem = try ConvProblem(inputShape: x.shape, weightShape: weight.shape, geometry: geometry)
        if let bias, bias.shape != [problem.outChannels] {
            throw FactorConvError.shape("bias has shape \(bias.shape) but expected [\(problem.outChannels)]")
        }
        let out = x.scalars.withUnsafeBufferPointer { xp in
            weight.scalars.withUnsafeBufferPointer { wp in
                Tensor<Float>.uninitializedFloats(problem.outputCount) { op in
                    if let bias {
                        bias.scalars.withUnsafeBufferPointer { bp in
                            forward(problem, input: xp.baseAddress!, weight: wp.baseAddress!, bias: bp.baseAddress!, output: op)
                        }
                    } else {
                        forward(problem, input: xp.baseAddress!, weight: wp.baseAddress!, bias: nil, output: op)
                    }
                }
            }
        }
        return Tensor(uncheckedShape: problem.outputShape, scalars: out)
    }

    /// Convolves raw buffers whose sizes `problem` describes (validated by the caller):
    /// `input` has `problem.inputCount` floats, `weight` `problem.weightCount`, `bias` C_out or nil,
    /// `output` `problem.outputCount`. Uses up to `workers` threads (1 inside a caller's own
    /// parallel loop). Requires `BLAS.require()` to have succeeded. `winogradWeight`, when given,
    /// is the kernel already transformed by `WinogradKernel.transformed` (callers with fixed
    /// weights compute it once).
    public static func forward(_ problem: ConvProblem, input: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                               bias: UnsafePointer<Float>?, output: UnsafeMutablePointer<Float>,
                               workers: Int = Parallel.threadCount, winogradWeight: UnsafePointer<Float>? = nil) {
        let positions = problem.outputPositions
        let depth = problem.inChannels * problem.kernelVolume
        // Equal blocks of at most columnBlockFloats (a short last block makes a slow GEMM).
        let maxColumns = max(16, min(positions, columnBlockFloats / max(depth, 1)))
        let blocksPerImage = (positions + maxColumns - 1) / maxColumns
        let blockColumns = (positions + blocksPerImage - 1) / blocksPerImage
        let items = problem.batch * blocksPerImage

        // The AVX-512 channel-mixing kernel for pointwise convolutions (small depth); BLAS for
        // the deep im2col blocks.
        let mixingKernels = problem.isPointwise && AVX512.isAvailable
        /// Computes output columns [p0, p0 + n) of image b for output channels `channels`,
        /// from a filled column block (or straight from the input for pointwise convolutions).
        func multiply(b: Int, p0: Int, n: Int, columns: UnsafePointer<Float>, ldColumns: Int, channels: Range<Int>) {
            let y = output + (b * problem.outChannels + channels.lowerBound) * positions + p0
            ChannelMixing.apply(weight: weight + channels.lowerBound * depth, rows: channels.count, depth: depth,
                                input: columns, ldx: ldColumns, columns: n, output: y, ldy: positions,
                                bias: bias.map { $0 + channels.lowerBound }, useKernels: mixingKernels)
        }

        if problem.isPointwise {
            // The input image already is the (C_in × positions) column matrix.
            Parallel.forEach(items, maxWorkers: workers) { item in
                let b = item / blocksPerImage, p0 = (item % blocksPerImage) * blockColumns
                let n = min(blockColumns, positions - p0)
                multiply(b: b, p0: p0, n: n, columns: input + b * problem.inputImageCount + p0,
                         ldColumns: positions, channels: 0..<problem.outChannels)
            }
            return
        }

        let winograd: (any WinogradPlan)? = WinogradConvolution(problem) ?? WinogradLineConvolution(problem)
        if let winograd {
            withWinogradKernel(winograd.kernel, problem: problem, weight: weight, given: winogradWeight, workers: workers) { u in
                winograd.run(input: input, transformedWeight: u, bias: bias, output: output, workers: workers)
            }
            return
        }
        if let modeConv = ModeConvolution(problem) {
            modeConv.run(input: input, weight: weight, bias: bias, output: output, workers: workers)
            return
        }
        if let shifts = ShiftConvolution(problem) {
            shifts.run(input: input, weight: weight, bias: bias, output: output, workers: workers)
            return
        }
        if let lines = LineConvolution(problem) {
            lines.run(input: input, weight: weight, bias: bias, output: output, workers: workers)
            return
        }

        if items >= workers {
            // Enough independent blocks: each worker fills and multiplies whole blocks.
            Parallel.forEach(items, maxWorkers: workers) { item in
                let b = item / blocksPerImage, p0 = (item % blocksPerImage) * blockColumns
                let n = min(blockColumns, positions - p0)
                Workspace.shared.withBuffer(of: Float.self, count: depth * n) { col in
                    Im2Col(problem: problem, start: p0, count: n)
                        .fill(image: input + b * problem.inputImageCount, col: col, rows: 0..<depth)
                    multiply(b: b, p0: p0, n: n, columns: col, ldColumns: n, channels: 0..<problem.outChannels)
                }
            }
            return
        }

        // Few blocks (small batch and image): split each block's rows, then its output channels.
        for item in 0..<items {
            let b = item / blocksPerImage, p0 = (item % blocksPerImage) * blockColumns
            let n = min(blockColumns, positions - p0)
            Workspace.shared.withBuffer(of: Float.self, count: depth * n) { col in
                let filler = Im2Col(problem: problem, start: p0, count: n)
                let image = input + b * problem.inputImageCount
                Parallel.forEach(workers, maxWorkers: workers) { w in
                    filler.fill(image: image, col: col, rows: (depth * w / workers)..<(depth * (w + 1) / workers))
                }
                Parallel.forEach(workers, maxWorkers: workers) { w in
                    let lo = problem.outChannels * w / workers, hi = problem.outChannels * (w + 1) / workers
                    if hi > lo { multiply(b: b, p0: p0, n: n, columns: col, ldColumns: n, channels: lo..<hi) }
                }
            }
        }
    }

    /// Forgets the Winograd-transformed kernels of recent weights that the functional
    /// convolution keeps (see `forward`); they are computed again when next needed.
    public static func releaseCachedKernels() {
        WinogradKernelCache.shared.removeAll()
    }

    /// Calls `body` with the transformed kernel: the caller's (`given`), else one from the cache
    /// of recently used weights (callers that pass the raw weight on every call, such as the
    /// functional conv, pay the transform once per distinct weight).
    private static func withWinogradKernel(_ layout: WinogradKernel, problem: ConvProblem, weight: UnsafePointer<Float>,
                                           given: UnsafePointer<Float>?, workers: Int,
                                           _ body: (UnsafePointer<Float>) -> Void) {
        if let given { return body(given) }
        WinogradKernelCache.shared.withTransformed(weight, count: problem.weightCount, layout: layout, workers: workers, body)
    }
}
