#if canImport(Glibc)
import Glibc
#endif

/// One step of a factorized convolution, applied to one image (C, S_1..S_N).
package enum ConvStage: Sendable {
    /// Channel mixing `y = W · x (+ bias)`: `weight` is (C_out, C_in); spatial size unchanged.
    case pointwise(weight: Tensor<Float>, bias: [Float]?)
    /// Depthwise conv: channel c convolved with `taps[c]`; `taps` is (C, K_1..K_N).
    case depthwise(taps: Tensor<Float>, geometry: ConvGeometry)
    /// Dense conv: `weight` is (C_out, C_in, K_1..K_N).
    case dense(weight: Tensor<Float>, geometry: ConvGeometry, bias: [Float]?)
    /// Depthwise conv of `copies` copies of the input (C channels into copies · C): output
    /// channel f · C + c is input channel c convolved with `taps[f · C + c]`; `taps` is
    /// (copies · C, K_1..K_N). A Tucker core with small spatial ranks runs as such a bank of
    /// shared filters followed by a channel mixing (`ForwardPlans.tuckerExpanded`).
    case expansion(taps: Tensor<Float>, copies: Int, geometry: ConvGeometry)

    /// Channels this stage expects.
    var inChannels: Int {
        switch self {
        case .pointwise(let w, _): return w.shape[1]
        case .depthwise(let t, _): return t.shape[0]
        case .dense(let w, _, _): return w.shape[1]
        case .expansion(let t, let copies, _): return t.shape[0] / copies
        }
    }

    /// The (C', S'...) this stage produces from (C, S...), validating the input.
    func outputShape(_ image: [Int]) throws -> [Int] {
        guard image.first == inChannels else {
            throw FactorConvError.shape("stage expects \(inChannels) channels but the input has shape \(image)")
        }
        let spatial = Array(image.dropFirst())
        switch self {
        case .pointwise(let w, _):
            return [w.shape[0]] + spatial
        case .depthwise(let t, let g), .expansion(let t, _, let g):
            return [t.shape[0]] + (try g.outputSpatial(input: spatial, kernel: Array(t.shape.dropFirst())))
        case .dense(let w, let g, _):
            // The full validation (sizes, overflow) that `apply` relies on.
            return Array(try ConvProblem(inputShape: [1] + image, weightShape: w.shape, geometry: g).outputShape.dropFirst())
        }
    }

    /// Multiply-adds × 2 for one image of shape `image` producing `output`.
    func flops(_ image: [Int], _ output: [Int]) -> Double {
        let positions = Double(output.dropFirst().reduce(1, *))
        switch self {
        case .pointwise(let w, _): return 2 * positions * Double(w.count)
        case .depthwise(let t, _), .expansion(let t, _, _): return 2 * positions * Double(t.count)
        case .dense(let w, _, _): return 2 * positions * Double(w.count)
        }
    }
}

/// A chain of `ConvStage`s run image by image, with intermediates in reused workspace buffers:
/// the execution engine of every factorized forward path (CP, Tucker, TT, mobilenet) and of the
/// reconstructed path (a single dense stage).
package struct ConvPipeline: Sendable {
    /// The stages, applied in order.
    package let stages: [ConvStage]
    /// Per stage, the Winograd-transformed kernel of a dense stage that qualifies (else nil):
    /// computed on the stage's first run rather than on every forward call.
    private let winogradKernels: [LazyWinogradKernel?]
    /// Per stage, the pair it forms with the next one when both run as one pass (else nil).
    private let planePairs: [DepthwisePlanePair?]
    /// Per stage, the triple it forms with the next two when all three run as one pass (else
    /// nil); tried before the pair.
    let volumeTriples: [DepthwiseVolumeTriple?]

    /// Fewest multiply-adds × 2 per worker when one image's stages are split over workers
    /// (see `forward`); tests lower it to exercise the split on small images.
    let minFlopsPerWorker: Double
    /// Fewest bytes of a first intermediate image for which an image streams through its stages
    /// in slabs of planes, and the bytes of intermediate planes a slab aims at (`slabPlan`);
    /// tests lower them to stream small images in many slabs.
    let minStreamedBytes: Int, slabBytes: Int
    /// 2 MFLOP, or `FACTORCONV_MIN_SPLIT_MFLOP` (in millions, ≥ 0; 0 splits every image). Read
    /// when a pipeline is built (a layer builds its pipelines on first use and keeps them), so
    /// that a benchmark can build layers with different settings in one process and alternate
    /// them, to find where splitting one image starts to pay on a given machine.
    static var defaultMinFlopsPerWorker: Double {
        if let raw = getenv("FACTORCONV_MIN_SPLIT_MFLOP"), let value = Double(String(cString: raw)),
           value.isFinite, value >= 0 {
            return value * 1e6
        }
        return 2e6
    }

    /// Creates a pipeline; stage shapes are checked against each other on first use.
    package init(stages: [ConvStage]) {
        self.init(stages: stages, minFlopsPerWorker: Self.defaultMinFlopsPerWorker)
    }

    init(stages: [ConvStage], minFlopsPerWorker: Double, minStreamedBytes: Int = Self.defaultMinStreamedBytes,
         slabBytes: Int = Self.defaultSlabBytes) {
        self.stages = stages
        self.minFlopsPerWorker = minFlopsPerWorker
        self.minStreamedBytes = minStreamedBytes
        self.slabBytes = slabBytes
        winogradKernels = stages.map { stage in
            guard case .dense(let w, let geometry, _) = stage else { return nil }
            return LazyWinogradKernel(w, geometry: geometry)
        }
        planePairs = stages.indices.map { $0 + 1 < stages.count ? DepthwisePlanePair(stages[$0], stages[$0 + 1]) : nil }
        volumeTriples = stages.indices.map {
            $0 + 2 < stages.count ? DepthwiseVolumeTriple(stages[$0], stages[$0 + 1], stages[$0 + 2]) : nil
        }
    }

    /// The per-image shapes (C, S...) before the first stage and after each stage.
    /// - Throws: `.shapeMismatch` for an image the stages do not fit, `.invalidArgument` for
    ///   channels or a plane (Π S) beyond 32-bit ints (`Checked.int32`).
    package func imageShapes(input image: [Int]) throws -> [[Int]] {
        var shapes = [image]
        for stage in stages { shapes.append(try stage.outputShape(shapes.last!)) }
        for shape in shapes {
            _ = try Checked.int32(shape[0], "the channel count of image shape \(shape)")
            _ = try Checked.int32(Checked.product(shape.dropFirst(), "image shape \(shape)"),
                                  "the plane size of image shape \(shape)")
        }
        return shapes
    }

    /// Output shape (B, C_out, S'...) for an input shape (B, C_in, S...).
    package func outputShape(input: [Int]) throws -> [Int] {
        try imageAndOutputShapes(input: input).output
    }

    /// The image shapes (`imageShapes`) and the output shape for an input shape (B, C_in, S...):
    /// what a forward call needs first, for its memory check and its buffers.
    package func imageAndOutputShapes(input: [Int]) throws -> (images: [[Int]], output: [Int]) {
        guard input.count >= 3 else { throw FactorConvError.shape("input shape \(input) needs (batch, channels, spatial...)") }
        let images = try imageShapes(input: Array(input.dropFirst()))
        return (images, [input[0]] + images.last!)
    }

    /// Multiply-adds × 2 of a forward pass over `input` (B, C, S...): a cost model for 'auto'.
    package func flops(input: [Int]) throws -> Double {
        try imageFlops(imageShapes(input: Array(input.dropFirst()))) * Double(input[0])
    }

    /// Multiply-adds × 2 of one image, given its shapes before and after each stage.
    private func imageFlops(_ shapes: [[Int]]) -> Double {
        var total = 0.0
        for (i, stage) in stages.enumerated() { total += stage.flops(shapes[i], shapes[i + 1]) }
        return total
    }

    /// Whether stage `index` and the next one run as one pass (`DepthwisePlanePair`) on an image
    /// of shape `shape` (channels first) before stage `index`.
    func runsAsPair(_ index: Int, imageShape shape: [Int]) -> Bool {
        planePairs[index]?.handles(width: shape.last!) ?? false
    }

    /// Whether stage `index` and the next two run as one pass (`DepthwiseVolumeTriple`) on an
    /// image of shape `shape` (channels first) before stage `index`; checked before `runsAsPair`.
    func runsAsTriple(_ index: Int, imageShape shape: [Int]) -> Bool {
        volumeTriples[index]?.handles(shape: shape) ?? false
    }

    /// How many stages from `index` on run as one depthwise pass on an image of shape `shape`
    /// before stage `index`: 3 (`runsAsTriple`), 2 (`runsAsPair`), or 1 (the stage alone).
    func stagesInOnePass(from index: Int, imageShape shape: [Int]) -> Int {
        runsAsTriple(index, imageShape: shape) ? 3 : runsAsPair(index, imageShape: shape) ? 2 : 1
    }

    /// Runs the pipeline on a tensor.
    package func forward(_ x: Tensor<Float>) throws -> Tensor<Float> {
        try BLAS.require()
        let (images, outShape) = try imageAndOutputShapes(input: x.shape)
        let y = try x.scalars.withUnsafeBufferPointer { xp in
            try Tensor<Float>.uninitializedFloats(try Checked.product(outShape, "output shape")) { yp in
                try forward(input: xp.baseAddress!, inputShape: x.shape, imageShapes: images, output: yp,
                            rejectingNonFinite: false)
            }
        }
        return Tensor(uncheckedShape: outShape, scalars: y)
    }

    /// Runs the pipeline on raw buffers: `input` of shape `inputShape` (B, C, S...), `output` with
    /// room for `outputShape(input:)`. Parallel over images when there are enough of them, else
    /// inside each stage. Safe to call concurrently (all state is per call).
    ///
    /// With `rejectingNonFinite`, an input holding NaN or infinities throws `.numerical`, and so
    /// (while `FiniteCheck.checksOutputs` is on) does an output that overflowed to inf/NaN
    /// (`FactorConvError.overflow`); the output may then be partly written. When the first stage
    /// is a pointwise one (it reads every input value), its channel mixing checks the input;
    /// else it is checked in a pass before. When the last stage is a pointwise one, its channel
    /// mixing checks each image's output as it writes it; else each image's output is checked
    /// right after it is written, while it is still in cache (a lone dense stage's, after the
    /// whole batch).
    package func forward(input: UnsafePointer<Float>, inputShape: [Int], output: UnsafeMutablePointer<Float>,
                        rejectingNonFinite: Bool = false) throws {
        try forward(input: input, inputShape: inputShape, imageShapes: imageShapes(input: Array(inputShape.dropFirst())),
                    output: output, rejectingNonFinite: rejectingNonFinite)
    }

    /// `forward(input:inputShape:output:rejectingNonFinite:)` for a caller that has already
    /// computed (and so validated) `imageShapes(input:)` of the input's image shape, `shapes`:
    /// a layer's forward call needs them first for its memory check.
    ///
    /// An interruptible call (`Interruption`), checked per image, between stages and per block
    /// of a dense stage: when interrupted it throws `.cancelled` with the output partly written.
    package func forward(input: UnsafePointer<Float>, inputShape: [Int], imageShapes shapes: [[Int]],
                        output: UnsafeMutablePointer<Float>, rejectingNonFinite: Bool) throws {
        try Interruption.interruptible("forward") {
            try run(input: input, inputShape: inputShape, imageShapes: shapes, output: output,
                    rejectingNonFinite: rejectingNonFinite)
        }
    }

    /// The body of `forward(input:inputShape:imageShapes:output:rejectingNonFinite:)`. Inside an
    /// interrupted call, images and stages not started are skipped.
    private func run(input: UnsafePointer<Float>, inputShape: [Int], imageShapes shapes: [[Int]],
                     output: UnsafeMutablePointer<Float>, rejectingNonFinite: Bool) throws {
        let batch = inputShape[0]
        // An empty batch has an empty output (as in PyTorch).
        guard batch > 0 else { return }
        let counts = shapes.map { $0.reduce(1, *) }
        // Two intermediate images, with 16 floats to spare for `alignedLike`.
        // Whether (and how) each image streams slab by slab (ConvPipeline+Slabs.swift).
        let slabPlan = self.slabPlan(shapes)
        let scratch = intermediateFloats(shapes, streamed: slabPlan != nil)
        let bufferCount = 2 * scratch + 16
        let workers = Parallel.threadCount
        let checkOutput = rejectingNonFinite && FiniteCheck.checksOutputs

        // The input check: inside a first pointwise stage (its kernel sees every input value);
        // else per image, just before the image's first stage reads it (then mostly from cache);
        // else (a lone dense stage, batched; no stages) over the whole input first.
        var checkInFirstStage = false, checkEachImage = false
        if rejectingNonFinite {
            if case .pointwise = stages.first {
                checkInFirstStage = true
            } else if stages.count > 1 {
                checkEachImage = true
            } else if !FiniteCheck.allFiniteParallel(UnsafeBufferPointer(start: input, count: batch * counts[0])) {
                throw FactorConvError.nonFinite("input")
            }
        }

        // A lone dense stage (the reconstructed path) is one batched dense convolution, which
        // has its own, better, blocking and parallel strategy. Its input was checked above, so
        // a non-finite output is an overflow.
        if stages.count == 1, case .dense(let w, let geometry, let bias) = stages[0] {
            let problem = try ConvProblem(inputShape: inputShape, weightShape: w.shape, geometry: geometry)
            runDense(problem, stage: 0, weight: w, bias: bias, input: input, output: output, workers: workers)
            if checkOutput && !FiniteCheck.allFinite(UnsafeBufferPointer(start: output, count: problem.outputCount), workers: workers) {
                throw FactorConvError.overflow
            }
            return
        }

        // Images run in parallel (one worker each), or one after another with each stage split
        // over `innerWorkers`.
        let parallelImages = batch >= workers
        let innerWorkers = parallelImages ? 1 : self.innerWorkers(shapes, workers: workers)
        // Per image: one input-check flag per worker of its first stage (the first one also for
        // the check of the whole image), then one output-check flag per worker of its last stage
        // (the first one also for the check of the whole image); each written by one thread only.
        let flagsPerImage = 2 * innerWorkers
        // The output check inside a last pointwise stage (its kernel sees every output value).
        let checkInLastStage: Bool
        if checkOutput, case .pointwise = stages.last { checkInLastStage = true } else { checkInLastStage = false }
        let flags = UnsafeMutablePointer<Int32>.allocate(capacity: batch * flagsPerImage)
        flags.initialize(repeating: 0, count: batch * flagsPerImage)
        defer { flags.deallocate() }

        func runImage(_ b: Int, workspace: UnsafeMutablePointer<Float>) {
            var src = input + b * counts[0]
            if checkEachImage && !FiniteCheck.allFinite(UnsafeBufferPointer(start: src, count: counts[0]), workers: innerWorkers) {
                flags[b * flagsPerImage] = 1            // an input flag: the image is not computed
                return
            }
            let image = output + b * counts.last!
            let buffers = Self.alignedLike(image, workspace)
            // Each step (a stage, or a pair run as one pass) writes the buffer it does not read,
            // the last one the image.
            var slot = 0
            func destination(lastStage: Int) -> UnsafeMutablePointer<Float> {
                defer { slot = 1 - slot }
                return lastStage == stages.count - 1 ? image : buffers + slot * scratch
            }
            var i = 0
            if let slabPlan {
                // The whole chain, slab by slab.
                runSlabs(slabPlan, input: src, shapes: shapes, first: buffers, second: buffers + scratch, output: image,
                         workers: innerWorkers, nonFinite: checkInFirstStage ? flags + b * flagsPerImage : nil,
                         nonFiniteOutput: checkInLastStage ? flags + b * flagsPerImage + innerWorkers : nil)
                i = stages.count
            }
            while i < stages.count {
                if Interruption.isRequested { return }
                if let triple = volumeTriples[i], triple.handles(shape: shapes[i]) {
                    let dst = destination(lastStage: i + 2)
                    applyTriple(triple, input: src, shape: shapes[i], output: dst, outputShape: shapes[i + 3],
                                workers: innerWorkers)
                    src = UnsafePointer(dst)
                    i += 3
                } else if let pair = planePairs[i], pair.handles(width: shapes[i].last!) {
                    let dst = destination(lastStage: i + 1)
                    applyPair(pair, input: src, shape: shapes[i], output: dst, outputShape: shapes[i + 2], workers: innerWorkers)
                    src = UnsafePointer(dst)
                    i += 2
                } else {
                    let dst = destination(lastStage: i)
                    let last = i == stages.count - 1
                    apply(stages[i], index: i, input: src, shape: shapes[i], output: dst, outputShape: shapes[i + 1],
                          workers: innerWorkers, nonFinite: i == 0 && checkInFirstStage ? flags + b * flagsPerImage : nil,
                          nonFiniteOutput: last && checkInLastStage ? flags + b * flagsPerImage + innerWorkers : nil)
                    src = UnsafePointer(dst)
                    i += 1
                }
            }
            if stages.isEmpty { output.advanced(by: b * counts[0]).update(from: src, count: counts[0]) }
            // Checked right after it is written, while much of it is still in cache.
            if checkOutput && !checkInLastStage
                && !FiniteCheck.allFinite(UnsafeBufferPointer(start: image, count: counts.last!), workers: innerWorkers) {
                flags[b * flagsPerImage + innerWorkers] = 1
            }
        }

        if parallelImages {
            Parallel.forEach(batch, maxWorkers: workers) { b in
                Workspace.shared.withBuffer(of: Float.self, count: bufferCount) { runImage(b, workspace: $0) }
            }
        } else {
            Workspace.shared.withBuffer(of: Float.self, count: bufferCount) { workspace in
                for b in 0..<batch { runImage(b, workspace: workspace) }
            }
        }
        // A non-finite input is named first: it makes the output non-finite too.
        for b in 0..<batch where (0..<innerWorkers).contains(where: { flags[b * flagsPerImage + $0] != 0 }) {
            throw FactorConvError.nonFinite("input")
        }
        for b in 0..<batch where (innerWorkers..<flagsPerImage).contains(where: { flags[b * flagsPerImage + $0] != 0 }) {
            throw FactorConvError.overflow
        }
    }

    /// Floats of one intermediate image buffer for an image of shapes `shapes` (before and after
    /// each stage): the largest image between stages (not the input or output), or when it is
    /// `streamed` (`slabPlan`), of its padded intermediates (`streamedIntermediateFloats`),
    /// rounded up to whole cache lines so that both buffers share an alignment.
    private func intermediateFloats(_ shapes: [[Int]], streamed: Bool) -> Int {
        var floats = shapes.dropFirst().dropLast().map { $0.reduce(1, *) }.max() ?? 0
        if streamed { floats = max(floats, streamedIntermediateFloats(shapes)) }
        return (floats + 15) / 16 * 16
    }

    /// The workers each stage of an image is split over when images run one after another: one
    /// per `minFlopsPerWorker` of the image's work. Below that, a split image's stages are so short
    /// that waking and joining a worker costs about what it saves (Benchmarks/RESULTS.md, "Batch-1
    /// split over threads", on idle cores; with other processes on the cores, a worker the OS
    /// schedules late delays the whole stage, and a split small image can run slower than one
    /// thread would).
    private func innerWorkers(_ shapes: [[Int]], workers: Int) -> Int {
        Parallel.workers(forFlops: imageFlops(shapes), minimumPerWorker: minFlopsPerWorker, upTo: workers)
    }

    /// An upper bound on the floats `forward` over an input of shape `input` (B, C, S...) with
    /// image shapes `shapes` (`imageShapes(input:)`) allocates besides its output when it may
    /// use `workers` threads. Only workers that run at once count (`Parallel.simultaneousWorkers`):
    /// images in flight are min(B, workers, processors) when images run in parallel, else one,
    /// whose stages split over the workers `innerWorkers` allows. Per image in flight: its two
    /// intermediate buffers and the largest scratch of a stage (`DenseConvolution.workspaceFloats`,
    /// the channel mixing's block per running worker); plus the check flags and the Winograd
    /// kernels of dense stages not yet transformed.
    package func workspaceFloats(input: [Int], imageShapes shapes: [[Int]], workers requested: Int) throws -> Int {
        let batch = input[0], workers = max(1, requested)
        guard batch > 0 else { return 0 }
        func plus(_ a: Int, _ b: Int) throws -> Int { try Checked.add(a, b, "workspace") }
        let pending = winogradKernels.reduce(0) { $0 + ($1?.pendingFloats ?? 0) }
        if stages.count == 1, case .dense(let w, let geometry, _) = stages[0] {
            let problem = try ConvProblem(inputShape: input, weightShape: w.shape, geometry: geometry)
            return try plus(try DenseConvolution.workspaceFloats(problem, workers: workers, transformedWeight: true), pending)
        }
        let parallelImages = batch >= workers
        let inner = parallelImages ? 1 : innerWorkers(shapes, workers: workers)
        var stageScratch = 0
        for (i, stage) in stages.enumerated() {
            switch stage {
            case .pointwise(let weight, _):
                // ChannelMixing's kernels borrow a block of columns per worker (BLAS: nothing).
                let running = Parallel.simultaneousWorkers(inner, maxWorkers: inner)
                stageScratch = max(stageScratch, try Checked.multiply(running, ChannelMixing.scratchFloats(depth: weight.shape[1]),
                                                                      "mixing"))
            case .depthwise:
                // A triple starting here borrows a plane per running worker.
                if let triple = volumeTriples[i], triple.handles(shape: shapes[i]) {
                    let running = Parallel.simultaneousWorkers(inner, maxWorkers: inner)
                    stageScratch = max(stageScratch, try Checked.multiply(running, triple.planeFloats(shape: shapes[i]),
                                                                          "depthwise planes"))
                }
            case .expansion:
                break
            case .dense(let weight, let geometry, _):
                let problem = try ConvProblem(inputShape: [1] + shapes[i], weightShape: weight.shape, geometry: geometry)
                stageScratch = max(stageScratch, try DenseConvolution.workspaceFloats(problem, workers: inner, transformedWeight: true))
            }
        }
        let intermediates = intermediateFloats(shapes, streamed: slabPlan(shapes) != nil)
        let perImage = try plus(try plus(try Checked.multiply(2, intermediates, "intermediates"), 16),
                                stageScratch)
        let flags = try Checked.multiply(batch, 2 * inner, "flags")
        let inFlight = parallelImages ? Parallel.simultaneousWorkers(batch, maxWorkers: workers) : 1
        return try plus(try plus(try Checked.multiply(inFlight, perImage, "workspace"), flags), pending)
    }

    /// `workspace` advanced by 0–15 floats to the offset of `target` (an image of the output)
    /// within a 64-byte cache line. A channel mixing aligns its stores to a cache line (its head
    /// block), which aligns its loads too only when input and output share that offset: numpy's
    /// arrays sit 16 bytes past one. Intermediates placed at the output's offset let the
    /// mixings that read them load aligned as well as store aligned.
    static func alignedLike(_ target: UnsafeMutablePointer<Float>, _ workspace: UnsafeMutablePointer<Float>)
        -> UnsafeMutablePointer<Float> {
        workspace + ((Int(bitPattern: target) - Int(bitPattern: workspace)) & 63) / MemoryLayout<Float>.stride
    }

    /// Applies one stage to one image, splitting the work over `workers` threads. A pointwise
    /// stage given `nonFinite` (one flag per worker) also checks its input for NaN/infinities,
    /// and given `nonFiniteOutput` (one flag per worker) its output.
    private func apply(_ stage: ConvStage, index: Int, input: UnsafePointer<Float>, shape: [Int],
                       output: UnsafeMutablePointer<Float>, outputShape: [Int], workers: Int,
                       nonFinite: UnsafeMutablePointer<Int32>?, nonFiniteOutput: UnsafeMutablePointer<Int32>?) {
        let positions = shape.dropFirst().reduce(1, *)
        switch stage {
        case .pointwise(let w, let bias):
            mix(weight: w, bias: bias, input: input, ldx: positions, output: output, ldy: positions, columns: positions,
                workers: workers, nonFinite: nonFinite, nonFiniteOutput: nonFiniteOutput)
        case .depthwise(let taps, let geometry):
            let channels = shape[0]
            taps.scalars.withUnsafeBufferPointer { tp in
                Parallel.forEach(workers, maxWorkers: workers) { part in
                    DepthwiseConvolution.forward(
                        input: input, spatial: Array(shape.dropFirst()), taps: tp.baseAddress!,
                        kernel: Array(taps.shape.dropFirst()), geometry: geometry,
                        outputSpatial: Array(outputShape.dropFirst()), output: output,
                        channels: Parallel.share(of: channels, part: part, parts: workers))
                }
            }
        case .expansion(let taps, let copies, let geometry):
            // Each worker convolves its share of the input channels with every copy's taps, so
            // that it reads its channels once from cache while it writes their copies.
            let channels = shape[0], tapCount = taps.count / taps.shape[0]
            let outputCount = outputShape.dropFirst().reduce(1, *)
            taps.scalars.withUnsafeBufferPointer { tp in
                Parallel.forEach(workers, maxWorkers: workers) { part in
                    for f in 0..<copies {
                        DepthwiseConvolution.forward(
                            input: input, spatial: Array(shape.dropFirst()), taps: tp.baseAddress! + f * channels * tapCount,
                            kernel: Array(taps.shape.dropFirst()), geometry: geometry,
                            outputSpatial: Array(outputShape.dropFirst()), output: output + f * channels * outputCount,
                            channels: Parallel.share(of: channels, part: part, parts: workers))
                    }
                }
            }
        case .dense(let w, let geometry, let bias):
            // Validated by imageShapes (outputShape builds the same problem), so this cannot throw.
            let problem = try! ConvProblem(inputShape: [1] + shape, weightShape: w.shape, geometry: geometry)
            runDense(problem, stage: index, weight: w, bias: bias, input: input, output: output, workers: workers)
        }
    }

    /// The channel mixing of a pointwise stage with weight `w` (C_out, C_in) and `bias` over
    /// `columns` positions of an image whose channels are `ldx` floats apart in `input` and `ldy`
    /// apart in `output`, split over `workers` threads (`ChannelMixing.applySplit`); with
    /// `nonFinite` or `nonFiniteOutput` (one flag per worker), checking its input or output as
    /// `apply` says.
    func mix(weight w: Tensor<Float>, bias: [Float]?, input: UnsafePointer<Float>, ldx: Int,
             output: UnsafeMutablePointer<Float>, ldy: Int, columns count: Int, workers: Int,
             nonFinite: UnsafeMutablePointer<Int32>?, nonFiniteOutput: UnsafeMutablePointer<Int32>?) {
        w.scalars.withUnsafeBufferPointer { wp in
            func run(_ bias: UnsafePointer<Float>?) {
                ChannelMixing.applySplit(weight: wp.baseAddress!, rows: w.shape[0], depth: w.shape[1], input: input,
                                         ldx: ldx, columns: count, output: output, ldy: ldy, bias: bias,
                                         workers: workers, nonFinite: nonFinite, nonFiniteOutput: nonFiniteOutput)
            }
            if let bias { bias.withUnsafeBufferPointer { run($0.baseAddress!) } } else { run(nil) }
        }
    }

    /// Applies two depthwise stages that form `pair` to one image in one pass, splitting the
    /// channels over `workers` threads (as `apply` splits a depthwise stage).
    private func applyPair(_ pair: DepthwisePlanePair, input: UnsafePointer<Float>, shape: [Int],
                           output: UnsafeMutablePointer<Float>, outputShape: [Int], workers: Int) {
        let channels = shape[0], spatial = Array(shape.dropFirst()), outputRows = outputShape[outputShape.count - 2]
        Parallel.forEach(workers, maxWorkers: workers) { part in
            pair.forward(input: input, spatial: spatial, outputRows: outputRows, output: output,
                         channels: Parallel.share(of: channels, part: part, parts: workers))
        }
    }

    /// Applies three depthwise stages that form `triple` to one image in one pass, splitting the
    /// channels over `workers` threads, each with a plane buffer of its own: the output planes
    /// `outputPlanes` (default: all) of channels `channelStrides` apart (default: contiguous; see
    /// `DepthwiseVolumeTriple.forward`).
    func applyTriple(_ triple: DepthwiseVolumeTriple, input: UnsafePointer<Float>, shape: [Int],
                     output: UnsafeMutablePointer<Float>, outputShape: [Int], outputPlanes: Range<Int>? = nil,
                     channelStrides: (input: Int, output: Int)? = nil, workers: Int) {
        let channels = shape[0], spatial = Array(shape.dropFirst()), outputSpatial = Array(outputShape.dropFirst())
        Parallel.forEach(workers, maxWorkers: workers) { part in
            Workspace.shared.withBuffer(of: Float.self, count: triple.planeFloats(shape: shape)) { plane in
                triple.forward(input: input, spatial: spatial, outputSpatial: outputSpatial, output: output,
                               channels: Parallel.share(of: channels, part: part, parts: workers),
                               outputPlanes: outputPlanes, channelStrides: channelStrides, plane: plane)
            }
        }
    }

    /// Runs dense stage `stage` (with its cached Winograd kernel, if any) on validated buffers.
    private func runDense(_ problem: ConvProblem, stage: Int, weight: Tensor<Float>, bias: [Float]?,
                          input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, workers: Int) {
        /// The dense convolution with the given transformed kernel (or none).
        func run(_ winograd: UnsafePointer<Float>?) {
            weight.scalars.withUnsafeBufferPointer { wp in
                if let bias {
                    bias.withUnsafeBufferPointer { bp in
                        DenseConvolution.forward(problem, input: input, weight: wp.baseAddress!, bias: bp.baseAddress!,
                                                 output: output, workers: workers, winogradWeight: winograd)
                    }
                } else {
                    DenseConvolution.forward(problem, input: input, weight: wp.baseAddress!, bias: nil,
                                             output: output, workers: workers, winogradWeight: winograd)
                }
            }
        }
        if let slot = winogradKernels[stage], let layout = DenseConvolution.winogradLayout(problem) {
            slot.withTransformed(layout) { run($0) }
        } else {
            run(nil)
        }
    }
}
