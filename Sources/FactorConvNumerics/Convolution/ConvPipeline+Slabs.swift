/// Streaming one image of a 3-D CP layer through its stages in slabs of depth planes.
///
/// The factorized CP layer of a 3-D image runs three steps: a channel mixing C_in → R, the
/// depthwise triple (depth, rows, columns: `DepthwiseVolumeTriple`) and a mixing R → C_out. Run
/// step after step, each step writes its whole R-channel intermediate before the next reads it
/// back, and at R · D · H · W floats an intermediate often exceeds the caches (6 MB per image
/// for a 2×32×16×32×32 layer at rank 0.25), so that it goes to memory and back twice.
///
/// Streamed, the output planes go in slabs of a few planes. For each slab the first mixing makes
/// the intermediate planes that the slab's depth taps reach and no earlier slab made, the triple
/// makes the slab's planes of the second intermediate, and the last mixing the slab's output
/// planes: each intermediate plane is read back soon after it is written, while it is still in
/// cache. No plane is made twice. Every value is computed as the step-by-step run computes it
/// (a mixing's column is the same dot product whatever columns run beside it; the triple's
/// output plane sums the same input planes in the same order), so the output is the same bit
/// for bit. The intermediates keep their whole-image layout in the pipeline's two buffers, but
/// with a cache line between channels whose planes are a multiple of 1 KB
/// (`streamedChannelStride`): the volumes of power-of-two sides would otherwise put a block's
/// rows, one per channel, in a few sets of L1 and L2, which hold 8 lines each. That padding
/// does most of the good; the slabs add a little (Benchmarks/RESULTS.md). 2-D layers run step
/// by step: streamed, they were no faster.
extension ConvPipeline {
    /// 2 MB: the smallest first intermediate (R · D · H · W floats) that streams. Smaller ones
    /// stay in the caches between steps, and the slabs' extra calls would only add overhead.
    static let defaultMinStreamedBytes = 2 << 20

    /// 1 MB: the bytes of intermediate planes a slab aims to make (at least one plane), so that a
    /// slab's planes and the few before it that its depth taps reach stay in L2 or L3.
    static let defaultSlabBytes = 1 << 20

    /// How an image streams: the steps of the chain and the output planes of a slab.
    struct SlabPlan {
        /// The first mixing (C_in → R), the triple, and the last mixing (R → C_out).
        let into: Tensor<Float>, intoBias: [Float]?
        let triple: DepthwiseVolumeTriple
        let outOf: Tensor<Float>, outOfBias: [Float]?
        /// Output planes per slab, at least one.
        let planesPerSlab: Int
    }

    /// The plan of an image of shapes `shapes` (`imageShapes`) that streams, or nil when it runs
    /// step by step: it streams when the pipeline is [pointwise, a depthwise triple that takes
    /// the image and whose slabs read input (`DepthwiseVolumeTriple.slabsReadInput`), pointwise]
    /// and its first intermediate holds at least `minStreamedBytes`; a slab has as many planes
    /// as `slabBytes` holds of that intermediate, at least one.
    func slabPlan(_ shapes: [[Int]]) -> SlabPlan? {
        guard stages.count == 5, case .pointwise(let into, let intoBias) = stages[0],
              case .pointwise(let outOf, let outOfBias) = stages[4],
              let triple = volumeTriples[1], triple.handles(shape: shapes[1]), triple.slabsReadInput
        else { return nil }
        let middle = shapes[1], planeBytes = middle[0] * middle[2] * middle[3] * MemoryLayout<Float>.stride
        guard planeBytes * middle[1] >= minStreamedBytes else { return nil }
        return SlabPlan(into: into, intoBias: intoBias, triple: triple, outOf: outOf, outOfBias: outOfBias,
                        planesPerSlab: max(1, slabBytes / planeBytes))
    }

    /// The floats from one channel to the next in a streamed image's intermediate of `count`
    /// floats per channel: one cache line more than `count` when `count` is a multiple of 256
    /// floats (1 KB), so that consecutive channels start in different cache sets.
    static func streamedChannelStride(_ count: Int) -> Int { count % 256 == 0 ? count + 16 : count }

    /// Floats of a buffer that holds either intermediate of a streamed image of shapes `shapes`,
    /// with its channels `streamedChannelStride` apart.
    func streamedIntermediateFloats(_ shapes: [[Int]]) -> Int {
        [shapes[1], shapes[4]].map { $0[0] * Self.streamedChannelStride($0.dropFirst().reduce(1, *)) }.max()!
    }

    /// Runs the image `input` (shapes `shapes`, for which `slabPlan` gave `plan`) into `output`,
    /// slab by slab, with the first intermediate in `first` and the second in `second`
    /// (each with room for its whole image), every step split over `workers` threads. The
    /// mixings check their input and output as `apply` does when given `nonFinite` and
    /// `nonFiniteOutput` (one flag per worker). Inside an interrupted call, slabs not started are
    /// skipped.
    func runSlabs(_ plan: SlabPlan, input: UnsafePointer<Float>, shapes: [[Int]], first: UnsafeMutablePointer<Float>,
                  second: UnsafeMutablePointer<Float>, output: UnsafeMutablePointer<Float>, workers: Int,
                  nonFinite: UnsafeMutablePointer<Int32>?, nonFiniteOutput: UnsafeMutablePointer<Int32>?) {
        let depth = shapes[1][1], plane = shapes[1][2] * shapes[1][3]
        let outDepth = shapes[4][1], outPlane = shapes[4][2] * shapes[4][3]
        let firstStride = Self.streamedChannelStride(depth * plane)
        let secondStride = Self.streamedChannelStride(outDepth * outPlane)
        var made = 0   // planes of the first intermediate made so far: 0..<made
        var start = 0
        while start < outDepth {
            if Interruption.isRequested { return }
            let planes = start..<min(outDepth, start + plan.planesPerSlab)
            let reached = plan.triple.inputPlanes(for: planes, depth: depth).upperBound
            if reached > made {
                mix(weight: plan.into, bias: plan.intoBias, input: input + made * plane, ldx: depth * plane,
                    output: first + made * plane, ldy: firstStride, columns: (reached - made) * plane,
                    workers: workers, nonFinite: nonFinite, nonFiniteOutput: nil)
                made = reached
            }
            applyTriple(plan.triple, input: first, shape: shapes[1], output: second, outputShape: shapes[4],
                        outputPlanes: planes, channelStrides: (firstStride, secondStride), workers: workers)
            mix(weight: plan.outOf, bias: plan.outOfBias, input: second + planes.lowerBound * outPlane,
                ldx: secondStride, output: output + planes.lowerBound * outPlane, ldy: outDepth * outPlane,
                columns: planes.count * outPlane, workers: workers, nonFinite: nil, nonFiniteOutput: nonFiniteOutput)
            start = planes.upperBound
        }
    }
}
