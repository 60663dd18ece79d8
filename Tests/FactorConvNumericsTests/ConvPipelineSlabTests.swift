@testable import FactorConvNumerics
import FactorConvTestSupport
import Testing

/// A 3-D CP chain (pointwise → depth, rows, columns → pointwise) streamed slab by slab of planes
/// (ConvPipeline+Slabs.swift): the same floats, bit for bit, as the chain run step by step, for
/// slabs of 1–3 planes, depth taps 1–3 with padding up to their reach and dilation 1–2, planes
/// whose size makes the intermediates' channels padded (a multiple of 256 floats) or not, at
/// batch 1 and 2 on 1 and 2 threads, split inside an image or not; never streamed when the
/// depth padding exceeds the taps' reach; and a non-finite input or an overflowing output
/// refused as when run step by step.
@Suite(.enabled(if: KernelSet.available.contains(.avx2))) struct ConvPipelineSlabTests {
    /// pointwise (4 → `rank`) → depth (k, padding p, dilation d) → rows (3, 'same') → columns
    /// (`kc` taps, 'same') → pointwise (`rank` → 3, with bias).
    private static func chain(rank: Int, k: Int, p: Int, d: Int, kc: Int, rng: inout TestRandom) throws -> [ConvStage] {
        [.pointwise(weight: rng.tensor([rank, 4]), bias: nil),
         try DepthwiseVolumeTripleTests.line(0, channels: rank, k: k, p: p, d: d, rng: &rng),
         try DepthwiseVolumeTripleTests.line(1, channels: rank, k: 3, p: 1, d: 1, rng: &rng),
         try DepthwiseVolumeTripleTests.line(2, channels: rank, k: kc, p: (kc - 1) / 2, d: 1, rng: &rng),
         .pointwise(weight: rng.tensor([3, rank]), bias: [0.25, -1, 2])]
    }

    /// Bytes of one plane of the first intermediate (all its channels) of input `x` (B, C, D, H, W).
    private static func planeBytes(rank: Int, _ x: Tensor<Float>) -> Int { rank * x.shape[3] * x.shape[4] * 4 }

    @Test(arguments: [1, 2])
    func streamedEqualsStepByStep(threads: Int) throws {
        var rng = TestRandom(seed: 7101 + UInt64(threads))
        // (rows, width): 8 × 32 = 256 floats per plane pads the intermediates' channels.
        for (rows, width) in [(8, 32), (5, 14), (6, 9)] {
            for _ in 0..<3 {
                let k = rng.int(1...3), d = rng.int(1...2), p = rng.int(0...((k - 1) * d))
                let rank = rng.int(2...7), kc = [1, 3, 5][rng.int(0...2)]
                let stages = try Self.chain(rank: rank, k: k, p: p, d: d, kc: kc, rng: &rng)
                // At least the planes the depth taps span beyond the padding.
                let x = rng.tensor([rng.int(1...2), 4, rng.int(max(1, (k - 1) * d + 1 - 2 * p)...7), rows, width])
                let stepwise = try ConvPipeline(stages: stages, minFlopsPerWorker: 0, minStreamedBytes: .max).forward(x)
                for planes in 1...3 {
                    for split in [0, Double.infinity] {
                        let pipeline = ConvPipeline(stages: stages, minFlopsPerWorker: split, minStreamedBytes: 0,
                                                    slabBytes: planes * Self.planeBytes(rank: rank, x))
                        let shapes = try pipeline.imageShapes(input: Array(x.shape.dropFirst()))
                        #expect(pipeline.slabPlan(shapes)?.planesPerSlab == planes)
                        let streamed = try withThreadCount(threads) { try pipeline.forward(x) }
                        let what = "x \(x.shape) rank \(rank) depth k \(k) p \(p) d \(d), \(planes) planes, split \(split)"
                        #expect(streamed.shape == stepwise.shape, "\(what)")
                        let differing = zip(streamed.scalars, stepwise.scalars).filter { $0 != $1 }.count
                        #expect(differing == 0, "\(what): \(differing) of \(streamed.count) differ")
                    }
                }
            }
        }
    }

    @Test func notStreamedWhenThePaddingExceedsTheTapsReach() throws {
        var rng = TestRandom(seed: 7103)
        // Depth padding 3 > (3 − 1) · 1: the first and last output planes read no input plane.
        let stages = try Self.chain(rank: 3, k: 3, p: 3, d: 1, kc: 3, rng: &rng)
        let pipeline = ConvPipeline(stages: stages, minFlopsPerWorker: 0, minStreamedBytes: 0, slabBytes: 1)
        let shapes = try pipeline.imageShapes(input: [4, 5, 6, 7])
        #expect(pipeline.runsAsTriple(1, imageShape: shapes[1]))
        #expect(pipeline.slabPlan(shapes) == nil)
        let x = rng.tensor([1, 4, 5, 6, 7])
        var stepwise = x
        for stage in stages { stepwise = try ConvPipeline(stages: [stage]).forward(stepwise) }
        #expect(try pipeline.forward(x).scalars == stepwise.scalars)
    }

    /// A NaN in any plane of any image is refused as the input's, and huge input values that
    /// overflow the output as an overflow, streamed in slabs of one plane.
    @Test(arguments: [1, 2])
    func nonFiniteInputAndOverflowAreRefused(threads: Int) throws {
        var rng = TestRandom(seed: 7104 + UInt64(threads))
        var stages = try Self.chain(rank: 5, k: 3, p: 1, d: 1, kc: 3, rng: &rng)
        // Weights of at least 1: large input values add up, they cannot cancel.
        stages = stages.map { stage in
            switch stage {
            case .pointwise(var w, let bias):
                for i in w.scalars.indices { w.scalars[i] = 1 + abs(w.scalars[i]) }
                return .pointwise(weight: w, bias: bias.map { $0.map(abs) })
            case .depthwise(var t, let g):
                for i in t.scalars.indices { t.scalars[i] = 1 + abs(t.scalars[i]) }
                return .depthwise(taps: t, geometry: g)
            default: return stage
            }
        }
        for batch in [1, 2] {
            var x = rng.tensor([batch, 4, 6, 8, 32])
            for i in x.scalars.indices { x.scalars[i] = abs(x.scalars[i]) }
            let pipeline = ConvPipeline(stages: stages, minFlopsPerWorker: 0, minStreamedBytes: 0,
                                        slabBytes: Self.planeBytes(rank: 5, x))
            let shapes = try pipeline.imageShapes(input: Array(x.shape.dropFirst()))
            #expect(pipeline.slabPlan(shapes)?.planesPerSlab == 1)
            func run(_ input: Tensor<Float>) throws {
                var output = [Float](repeating: 0, count: try pipeline.outputShape(input: input.shape).reduce(1, *))
                try input.scalars.withUnsafeBufferPointer { xp in
                    try output.withUnsafeMutableBufferPointer { yp in
                        try withThreadCount(threads) {
                            try pipeline.forward(input: xp.baseAddress!, inputShape: input.shape, output: yp.baseAddress!,
                                                 rejectingNonFinite: true)
                        }
                    }
                }
            }
            let image = x.count / batch, plane = image / 4
            for spot in [0, x.count / 2 + 5, x.count - 1] {
                var bad = x
                bad.scalars[spot] = .nan
                let error = #expect(throws: FactorConvError.self) { try run(bad) }
                #expect(error?.message.hasPrefix("input contains") == true, "batch \(batch) NaN at \(spot)")
                // 1e38 in every channel at that position: the first mixing's sum exceeds Float's range.
                for c in 0..<4 { bad.scalars[spot / image * image + c * plane + spot % plane] = 1e38 }
                let overflow = #expect(throws: FactorConvError.self) { try run(bad) }
                #expect(overflow?.message.contains("overflowed") == true, "batch \(batch) 3e37 at \(spot)")
            }
            #expect(throws: Never.self) { try run(x) }
        }
    }
}
