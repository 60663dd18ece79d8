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
    /// Target size of one im2col column block, in floats (2 MB: the best of the sizes tried on the
    /// benchmark layers; large enough for efficient GEMM panels, small enough for L2/L3).
    static let columnBlockFloats = 1 << 19

    /// Convolves tensors: `x` (B, C_in, S...), `weight` (C_out, C_in, K...), optional `bias` (C_out).
    /// An interruptible call (`Interruption`).
    /// - Throws: `FactorConvError` on any shape or geometry problem, `.outOfMemory` beyond the
    ///   memory bound, `.numerical` for an output holding NaN/Inf (`checkedForward`), `.cancelled`
    ///   when interrupted.
    public static func forward(_ x: Tensor<Float>, weight: Tensor<Float>, bias: Tensor<Float>? = nil,
                               geometry: ConvGeometry) throws -> Tensor<Float> {
        try BLAS.require()
        let problem = try ConvProblem(inputShape: x.shape, weightShape: weight.shape, geometry: geometry)
        if let bias, bias.shape != [problem.outChannels] {
            throw FactorConvError.shape("bias has shape \(bias.shape) but expected [\(problem.outChannels)]")
        }
        let workers = Parallel.threadCount
        try checkMemory(problem, workers: workers)
        let out = try Interruption.interruptible("the dense convolution") { try x.scalars.withUnsafeBufferPointer { xp in
            try weight.scalars.withUnsafeBufferPointer { wp in
                try Tensor<Float>.uninitializedFloats(problem.outputCount) { op in
                    if let bias {
                        try bias.scalars.withUnsafeBufferPointer { bp in
                            try checkedForward(problem, input: xp.baseAddress!, weight: wp.baseAddress!, bias: bp.baseAddress!,
                                               output: op, workers: workers)
                        }
                    } else {
                        try checkedForward(problem, input: xp.baseAddress!, weight: wp.baseAddress!, bias: nil, output: op,
                                           workers: workers)
                    }
                }
            }
        } }
        return Tensor(uncheckedShape: problem.outputShape, scalars: out)
    }

    /// Throws `.outOfMemory` when the output of `problem` plus what a forward on `workers` threads
    /// allocates (`workspaceFloats`, with the weight's transform not yet cached) exceed the memory
    /// bound: the functional convolution's check before it allocates anything.
    package static func checkMemory(_ problem: ConvProblem, workers: Int) throws {
        try MemoryLimit.check(elements: try Checked.add(problem.outputCount,
                                                        try workspaceFloats(problem, workers: workers, transformedWeight: false),
                                                        "workspace"),
                              "dense convolution of input \(problem.inputShape)")
    }

    /// `forward` on raw buffers, then the output check (`FiniteCheck.checksOutputs`): an output
    /// holding NaN/Inf throws `.numerical`, naming the input, weight or bias if one holds NaN/Inf,
    /// else as an overflow. The output pass runs only over memory the forward just wrote.
    package static func checkedForward(_ problem: ConvProblem, input: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                                      bias: UnsafePointer<Float>?, output: UnsafeMutablePointer<Float>, workers: Int) throws {
        forward(problem, input: input, weight: weight, bias: bias, output: output, workers: workers)
        try FiniteCheck.requireFiniteOutput(output, count: problem.outputCount, workers: workers, operands: [
            ("input", input, problem.inputCount), ("weight", weight, problem.weightCount), ("bias", bias, problem.outChannels),
        ])
    }

    /// Convolves raw buffers whose sizes `problem` describes (validated by the caller):
    /// `input` has `problem.inputCount` floats, `weight` `problem.weightCount`, `bias` C_out or nil,
    /// `output` `problem.outputCount`. Uses up to `workers` threads (1 inside a caller's own
    /// parallel loop). Requires `BLAS.require()` to have succeeded. `winogradWeight`, when given,
    /// is the kernel already transformed by `WinogradKernel.transformed` (callers with fixed
    /// weights compute it once).
    ///
    /// Blocks of work not started when the interruptible call it runs in is interrupted are
    /// skipped, leaving the output incomplete: callers run it inside `Interruption.interruptible`,
    /// which then throws `.cancelled`. A transformed kernel it caches is always complete.
    package static func forward(_ problem: ConvProblem, input: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                               bias: UnsafePointer<Float>?, output: UnsafeMutablePointer<Float>,
                               workers: Int = Parallel.threadCount, winogradWeight: UnsafePointer<Float>? = nil) {
        // An empty batch has nothing to compute (and every plan below assumes images).
        guard problem.batch > 0 else { return }
        let positions = problem.outputPositions
        let depth = problem.inChannels * problem.kernelVolume
        let (blocksPerImage, blockColumns) = columnBlocks(problem)
        let items = problem.batch * blocksPerImage

        // The channel-mixing kernels (AVX-512, else AVX2) for pointwise convolutions (small
        // depth); BLAS for the deep im2col blocks.
        let mixingKernel = problem.isPointwise ? KernelSet.best : nil
        /// Computes output columns [p0, p0 + n) of image b for output channels `channels`,
        /// from a filled column block (or straight from the input for pointwise convolutions).
        func multiply(b: Int, p0: Int, n: Int, columns: UnsafePointer<Float>, ldColumns: Int, channels: Range<Int>) {
            let y = output + (b * problem.outChannels + channels.lowerBound) * positions + p0
            ChannelMixing.apply(weight: weight + channels.lowerBound * depth, rows: channels.count, depth: depth,
                                input: columns, ldx: ldColumns, columns: n, output: y, ldy: positions,
                                bias: bias.map { $0 + channels.lowerBound }, kernels: mixingKernel)
        }

        if problem.isPointwise {
            // The input image already is the (C_in × positions) column matrix.
            let parts = pointwiseWorkersPerImage(problem, items: items, workers: workers)
            if parts > 1 {
                // Fewer blocks than workers (a small batch): each image's mixing is split over
                // the workers, by output channels or aligned columns.
                for b in 0..<problem.batch where !Interruption.isRequested {
                    ChannelMixing.applySplit(weight: weight, rows: problem.outChannels, depth: depth,
                                             input: input + b * problem.inputImageCount, ldx: positions,
                                             columns: positions, output: output + b * problem.outChannels * positions,
                                             ldy: positions, bias: bias, workers: parts)
                }
                return
            }
            Parallel.forEach(items, maxWorkers: workers) { item in
                if Interruption.isRequested { return }
                let b = item / blocksPerImage, p0 = (item % blocksPerImage) * blockColumns
                let n = min(blockColumns, positions - p0)
                multiply(b: b, p0: p0, n: n, columns: input + b * problem.inputImageCount + p0,
                         ldColumns: positions, channels: 0..<problem.outChannels)
            }
            return
        }

        if let winograd = winogradPlan(problem) {
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
                if Interruption.isRequested { return }
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
        for item in 0..<items where !Interruption.isRequested {
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

    /// The workers one image of a pointwise `problem` is split over: 1 when its `items` column
    /// blocks keep `workers` busy, else as many as get at least the pipelines' minimum work per
    /// worker (`ConvPipeline.defaultMinFlopsPerWorker`: waking a worker for less costs more than
    /// it saves).
    private static func pointwiseWorkersPerImage(_ problem: ConvProblem, items: Int, workers: Int) -> Int {
        guard items < workers else { return 1 }
        return Parallel.workers(forFlops: problem.flops / Double(problem.batch),      // one image's
                                minimumPerWorker: ConvPipeline.defaultMinFlopsPerWorker, upTo: workers)
    }

    /// The Winograd plan `forward` runs for `problem`, if any.
    private static func winogradPlan(_ problem: ConvProblem) -> (any WinogradPlan)? {
        if problem.isPointwise { return nil }
        if let planar = WinogradConvolution(problem) { return planar }
        return WinogradLineConvolution(problem)
    }

    /// The layout of the transformed kernel (`winogradWeight`) that `forward` expects for
    /// `problem`, or nil when it runs no Winograd plan.
    package static func winogradLayout(_ problem: ConvProblem) -> WinogradKernel? {
        winogradPlan(problem)?.kernel
    }

    /// The im2col column blocks: blocks per image and columns per block, equal blocks of at most
    /// `columnBlockFloats` (a short last block makes a slow GEMM).
    private static func columnBlocks(_ problem: ConvProblem) -> (perImage: Int, columns: Int) {
        let positions = problem.outputPositions, depth = problem.inChannels * problem.kernelVolume
        let maxColumns = max(16, min(positions, columnBlockFloats / max(depth, 1)))
        let perImage = (positions + maxColumns - 1) / maxColumns
        return (perImage, (positions + perImage - 1) / perImage)
    }

    /// What transforming a weight for the cache of recent weights allocates: U, its scratch, and
    /// the copy of the weight an entry keeps (`WinogradKernelCache`).
    private static func cacheEntryFloats(_ kernel: WinogradKernel) -> Int {
        kernel.transformFloats + kernel.outChannels * kernel.inChannels * kernel.kernelVolume
    }

    /// An upper bound on the floats `forward(problem, …, workers:)` takes from the workspace
    /// pool or allocates besides its output: per path, the scratch of the workers that run at
    /// once (`Parallel.simultaneousWorkers`: never more than the work items, output-channel
    /// shares of a split inside one item, or processors), plus the weight's Winograd transform
    /// and its cache entry unless `transformedWeight` (the caller passes U). Counts from the
    /// plans the forward itself would choose.
    package static func workspaceFloats(_ problem: ConvProblem, workers requested: Int, transformedWeight: Bool) throws -> Int {
        guard problem.batch > 0 else { return 0 }
        let workers = max(1, requested)
        let depth = problem.inChannels * problem.kernelVolume
        let (blocksPerImage, blockColumns) = columnBlocks(problem)
        let items = try Checked.multiply(problem.batch, blocksPerImage, "im2col blocks")
        func times(_ count: Int, _ floats: Int) throws -> Int { try Checked.multiply(count, floats, "workspace") }
        func plus(_ a: Int, _ b: Int) throws -> Int { try Checked.add(a, b, "workspace") }

        if problem.isPointwise {
            // ChannelMixing's kernels borrow a block of columns per call; BLAS borrows nothing of ours.
            let running = max(Parallel.simultaneousWorkers(items, maxWorkers: workers),
                              Parallel.simultaneousWorkers(pointwiseWorkersPerImage(problem, items: items, workers: workers),
                                                           maxWorkers: workers))
            return try times(running, ChannelMixing.scratchFloats(depth: depth))
        }
        if let winograd = WinogradConvolution(problem) {
            return try plus(winograd.workspaceFloats(workers: workers), transformedWeight ? 0 : cacheEntryFloats(winograd.kernel))
        }
        if let winograd = WinogradLineConvolution(problem) {
            return try plus(winograd.workspaceFloats(workers: workers), transformedWeight ? 0 : cacheEntryFloats(winograd.kernel))
        }
        if ModeConvolution(problem) != nil { return 0 }
        if let shifts = ShiftConvolution(problem) { return try shifts.workspaceFloats(workers: workers) }
        if let lines = LineConvolution(problem) { return try lines.workspaceFloats(workers: workers) }
        // One column block per running worker with enough blocks, else one shared block.
        return try times(items >= workers ? Parallel.simultaneousWorkers(items, maxWorkers: workers) : 1,
                         try times(depth, blockColumns))
    }

    /// Forgets the Winograd-transformed kernels of recent weights that the functional
    /// convolution keeps (see `forward`); they are computed again when next needed.
    package static func releaseCachedKernels() {
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
