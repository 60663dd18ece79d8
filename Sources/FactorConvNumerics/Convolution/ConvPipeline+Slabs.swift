/// Streaming one image of a large CP layer through its stages in slabs along its first spatial
/// mode: the depth planes of a 3-D image, the rows of a 2-D one.
///
/// The factorized CP layer runs three steps: a channel mixing C_in → R, the depthwise convs of
/// every mode in one pass (`DepthwiseVolumeTriple` in 3-D, `DepthwisePlanePair` in 2-D) and a
/// mixing R → C_out. Run step after step, each step writes its whole R-channel intermediate
/// before the next reads it back, and at R · Π S floats an intermediate often exceeds the
/// caches (6 MB per image for a 2×32×16×32×32 layer at rank 0.25, 3.5 MB for a 64-channel
/// 112×112 image at rank 0.25), so that it goes to memory and back twice.
///
/// Streamed, the outputs go in slabs of a few planes (or rows). For each slab the first mixing
/// makes the intermediate planes that the slab's first-mode taps reach and no earlier slab made,
/// the depthwise step makes the slab's planes of the second intermediate, and the last mixing
/// the slab's output planes: each intermediate plane is read back soon after it is written,
/// while it is still in cache. No plane is made twice. Every value is computed as the
/// step-by-step run computes it (a mixing's column is the same dot product whatever columns run
/// beside it; a depthwise output sums the same inputs in the same order, the planes outside a
/// slab that it would read being the image's padding), so the output is the same bit for bit.
/// The intermediates keep their whole-image layout in the pipeline's two buffers, but with a
/// cache line between channels whose planes are a multiple of 1 KB (`streamedChannelStride`):
/// the volumes of power-of-two sides would otherwise put a block's rows, one per channel, in a
/// few sets of L1 and L2, which hold 8 lines each. AVX2 only: the AVX-512 kernels were not
/// measured streamed.
extension ConvPipeline {
    /// 2 MB: the smallest first intermediate (R · Π S floats) that streams. Smaller ones stay in
    /// the caches between steps, and the slabs' extra calls would only add overhead.
    static let defaultMinStreamedBytes = 2 << 20

    /// 1 MB: the bytes of intermediate planes a slab aims to make (at least one plane), so that a
    /// slab's planes and the few before it that its first-mode taps reach stay in L2 or L3.
    static let defaultSlabBytes = 1 << 20

    /// The depthwise step between a streamed image's two mixings.
    enum StreamedStep {
        case triple(DepthwiseVolumeTriple)
        case pair(DepthwisePlanePair)

        /// The inputs along the first spatial mode that the step's outputs read.
        var reach: LineReach {
            switch self {
            case .triple(let triple): triple.depthReach
            case .pair(let pair): pair.rowReach
            }
        }
    }

    /// The depthwise step of an image of shapes `shapes` (`imageShapes`) that may stream: the
    /// pipeline is [pointwise, a depthwise triple taking the 3-D image, pointwise] or [pointwise,
    /// an AVX2 depthwise pair taking the 2-D image, pointwise], and its slabs read input
    /// (`LineReach.slabsReadInput`).
    func streamedStep(_ shapes: [[Int]]) -> StreamedStep? {
        guard stages.count >= 4, case .pointwise = stages[0], case .pointwise = stages[stages.count - 1] else { return nil }
        let step: StreamedStep
        if stages.count == 5, shapes[1].count == 4, let triple = volumeTriples[1], triple.handles(shape: shapes[1]) {
            step = .triple(triple)
        } else if stages.count == 4, shapes[1].count == 3, let pair = planePairs[1], pair.kernel == .avx2,
                  pair.handles(width: shapes[1][2]) {
            step = .pair(pair)
        } else {
            return nil
        }
        return step.reach.slabsReadInput ? step : nil
    }

    /// Output planes per slab when an image of shapes `shapes` (`imageShapes`) streams, or nil
    /// when it runs step by step: it streams when it has a `streamedStep` and its first
    /// intermediate holds at least `minStreamedBytes`; a slab has as many planes as `slabBytes`
    /// holds of that intermediate, at least one.
    func slabPlanes(_ shapes: [[Int]]) -> Int? {
        guard streamedStep(shapes) != nil else { return nil }
        let middle = shapes[1], planeBytes = middle[0] * middle.dropFirst(2).reduce(1, *) * MemoryLayout<Float>.stride
        guard planeBytes * middle[1] >= minStreamedBytes else { return nil }
        return max(1, slabBytes / planeBytes)
    }

    /// The floats from one channel to the next in a streamed image's intermediate of `count`
    /// floats per channel: one cache line more than `count` when `count` is a multiple of 256
    /// floats (1 KB), so that consecutive channels start in different cache sets.
    static func streamedChannelStride(_ count: Int) -> Int { count % 256 == 0 ? count + 16 : count }

    /// Floats of a buffer that holds either intermediate of a streamed image of shapes `shapes`,
    /// with its channels `streamedChannelStride` apart.
    func streamedIntermediateFloats(_ shapes: [[Int]]) -> Int {
        [shapes[1], shapes[stages.count - 1]].map { $0[0] * Self.streamedChannelStride($0.dropFirst().reduce(1, *)) }.max()!
    }

    /// Runs the image `input` (shapes `shapes`, for which `slabPlanes` gave `planesPerSlab`) into
    /// `output`, slab by slab, with the first intermediate in `first` and the second in `second`
    /// (each with room for `streamedIntermediateFloats`), every step split over `workers` threads.
    /// The mixings check their input and output as `apply` does when given `nonFinite` and
    /// `nonFiniteOutput` (one flag per worker). Inside an interrupted call, slabs not started are
    /// skipped.
    func runSlabs(_ planesPerSlab: Int, input: UnsafePointer<Float>, shapes: [[Int]], first: UnsafeMutablePointer<Float>,
                  second: UnsafeMutablePointer<Float>, output: UnsafeMutablePointer<Float>, workers: Int,
                  nonFinite: UnsafeMutablePointer<Int32>?, nonFiniteOutput: UnsafeMutablePointer<Int32>?) {
        let last = stages.count - 1
        guard case .pointwise(let into, let intoBias) = stages[0], case .pointwise(let outOf, let outOfBias) = stages[last],
              let step = streamedStep(shapes)
        else { preconditionFailure("runSlabs on a pipeline slabPlanes did not accept") }
        let depth = shapes[1][1], plane = shapes[1].dropFirst(2).reduce(1, *)
        let outDepth = shapes[last][1], outPlane = shapes[last].dropFirst(2).reduce(1, *)
        let firstStride = Self.streamedChannelStride(depth * plane)
        let secondStride = Self.streamedChannelStride(outDepth * outPlane)
        var made = 0   // planes of the first intermediate made so far: 0..<made
        var start = 0
        while start < outDepth {
            if Interruption.isRequested { return }
            let planes = start..<min(outDepth, start + planesPerSlab)
            let reached = step.reach.inputs(for: planes, count: depth).upperBound
            if reached > made {
                mix(weight: into, bias: intoBias, input: input + made * plane, ldx: depth * plane,
                    output: first + made * plane, ldy: firstStride, columns: (reached - made) * plane,
                    workers: workers, nonFinite: nonFinite, nonFiniteOutput: nil)
                made = reached
            }
            switch step {
            case .triple(let triple):
                applyTriple(triple, input: first, shape: shapes[1], output: second, outputShape: shapes[last],
                            outputPlanes: planes, channelStrides: (firstStride, secondStride), workers: workers)
            case .pair(let pair):
                applyPair(pair, input: first, shape: shapes[1], output: second, outputShape: shapes[last],
                          rowSlab: planes, channelStrides: (firstStride, secondStride), workers: workers)
            }
            mix(weight: outOf, bias: outOfBias, input: second + planes.lowerBound * outPlane, ldx: secondStride,
                output: output + planes.lowerBound * outPlane, ldy: outDepth * outPlane,
                columns: planes.count * outPlane, workers: workers, nonFinite: nil, nonFiniteOutput: nonFiniteOutput)
            start = planes.upperBound
        }
    }
}
