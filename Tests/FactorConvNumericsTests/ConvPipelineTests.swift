@testable import FactorConvNumerics
import FactorConvTestSupport
import Testing

@Suite struct ConvPipelineTests {
    /// A depthwise conv equals a dense conv whose kernel is zero off the channel diagonal.
    @Test(arguments: 1...4)
    func depthwiseMatchesDiagonalDenseKernel(order: Int) throws {
        var rng = TestRandom(seed: UInt64(50 + order))
        for _ in 0..<4 {
            let channels = rng.int(1...4), batch = rng.int(1...3)
            let kernel = (0..<order).map { _ in rng.int(1...3) }
            let stride = (0..<order).map { _ in rng.int(1...2) }
            let padding = (0..<order).map { _ in rng.int(0...2) }
            let dilation = (0..<order).map { _ in rng.int(1...2) }
            let sizes = (0..<order).map { d in dilation[d] * (kernel[d] - 1) + 1 + rng.int(0...5) }
            let x = rng.tensor([batch, channels] + sizes)
            let taps = rng.tensor([channels] + kernel)
            let g = try ConvGeometry(order: order, stride: stride, padding: padding, dilation: dilation)
            var dense = Tensor<Float>(shape: [channels, channels] + kernel)
            let volume = kernel.reduce(1, *)
            for c in 0..<channels {
                for t in 0..<volume { dense.scalars[(c * channels + c) * volume + t] = taps.scalars[c * volume + t] }
            }
            let y = try ConvPipeline(stages: [.depthwise(taps: taps, geometry: g)]).forward(x)
            let ref = referenceConv(x, weight: dense, stride: stride, padding: padding, dilation: dilation)
            #expect(relativeMaxError(y, ref) <= 1e-5, "order \(order) \(g)")
        }
    }

    /// A hand-built rank-R CP kernel run as pointwise → depthwise per mode → pointwise (+bias)
    /// equals the dense conv of the reconstructed kernel, with anisotropic geometry; with 2
    /// threads and batch 1, also with every stage split over the workers (small images are not
    /// split by default).
    @Test(arguments: [1, 2], [1, 3])
    func separableCPChainMatchesDense(threads: Int, batch: Int) throws {
        let saved = Parallel.threadCount
        defer { Parallel.threadCount = saved }
        Parallel.threadCount = threads
        var rng = TestRandom(seed: 77)
        let cin = 5, cout = 4, rank = 6
        let kernel = [3, 2]
        let stride = [2, 1], padding = [1, 2], dilation = [1, 2]
        let uIn = rng.tensor([cin, rank]), uOut = rng.tensor([cout, rank])
        let u0 = rng.tensor([kernel[0], rank]), u1 = rng.tensor([kernel[1], rank])
        let bias = rng.tensor([cout])
        var w = Tensor<Float>(shape: [cout, cin] + kernel)
        for o in 0..<cout { for c in 0..<cin { for a in 0..<kernel[0] { for b in 0..<kernel[1] {
            var v: Float = 0
            for r in 0..<rank { v += uOut[o, r] * uIn[c, r] * u0[a, r] * u1[b, r] }
            w[o, c, a, b] = v
        }}}}
        let x = rng.tensor([batch, cin, 11, 9])
        let geometries = try (0..<2).map { m in
            try ConvGeometry(order: 2, stride: (0..<2).map { $0 == m ? stride[m] : 1 },
                             padding: (0..<2).map { $0 == m ? padding[m] : 0 },
                             dilation: (0..<2).map { $0 == m ? dilation[m] : 1 })
        }
        let stages: [ConvStage] = [
            .pointwise(weight: try uIn.permuted([1, 0]), bias: nil),
            .depthwise(taps: try u0.permuted([1, 0]).reshaped([rank, kernel[0], 1]), geometry: geometries[0]),
            .depthwise(taps: try u1.permuted([1, 0]).reshaped([rank, 1, kernel[1]]), geometry: geometries[1]),
            .pointwise(weight: uOut, bias: bias.scalars),
        ]
        let ref = referenceConv(x, weight: w, bias: bias.scalars, stride: stride, padding: padding, dilation: dilation)
        for split in [ConvPipeline.defaultMinFlopsPerWorker, 0] {
            let y = try ConvPipeline(stages: stages, minFlopsPerWorker: split).forward(x)
            #expect(y.shape == ref.shape)
            #expect(relativeMaxError(y, ref) <= 1e-5)
        }
    }

    /// The intermediates start at the output's offset within a cache line, 0–15 floats into the
    /// workspace, whatever the two addresses.
    @Test func intermediatesShareTheOutputsCacheLineOffset() {
        let base = UnsafeMutablePointer<Float>.allocate(capacity: 64)
        defer { base.deallocate() }
        for w in 0..<16 {
            for t in 0..<16 {
                let workspace = base + w, target = base + 32 + t
                let buffers = ConvPipeline.alignedLike(target, workspace)
                #expect((0..<16).contains(buffers - workspace))
                #expect((Int(bitPattern: buffers) - Int(bitPattern: target)) % 64 == 0)
            }
        }
    }

    /// Wherever the output starts within a cache line (numpy's arrays start 16 bytes past one),
    /// the results are the same bit for bit: the channel mixings split their columns where the
    /// output is aligned, but sum every output in the same order.
    @Test func outputOffsetDoesNotChangeTheResult() throws {
        var rng = TestRandom(seed: 5301)
        let x = rng.tensor([2, 6, 9, 11])
        let stages: [ConvStage] = [
            .pointwise(weight: rng.tensor([5, 6]), bias: nil),
            .depthwise(taps: rng.tensor([5, 3, 1]), geometry: try ConvGeometry(order: 2, padding: [1, 0])),
            .depthwise(taps: rng.tensor([5, 1, 3]), geometry: try ConvGeometry(order: 2, padding: [0, 1])),
            .pointwise(weight: rng.tensor([7, 5]), bias: rng.tensor([7]).scalars),
        ]
        let pipeline = ConvPipeline(stages: stages)
        let count = 2 * 7 * 9 * 11
        let storage = UnsafeMutablePointer<Float>.allocate(capacity: count + 16)
        defer { storage.deallocate() }
        var results: [[Float]] = []
        for offset in 0..<16 {
            try x.scalars.withUnsafeBufferPointer { xp in
                try pipeline.forward(input: xp.baseAddress!, inputShape: x.shape, output: storage + offset)
            }
            results.append(Array(UnsafeBufferPointer(start: storage + offset, count: count)))
        }
        #expect(results.allSatisfy { $0 == results[0] })
        #expect(try pipeline.forward(x).scalars == results[0])         // a tensor's own output buffer
    }

    /// Batch 1 split over 2 workers (rows of a narrow image, aligned columns of a wide one) gives
    /// the unsplit result bit for bit: every output sums its products in the same order.
    @Test(arguments: [[7, 7], [28, 28], [3, 40]])
    func splitImageMatchesUnsplitBitForBit(spatial: [Int]) throws {
        try withThreadCount(2) { try checkSplitImageMatchesUnsplit(spatial: spatial) }
    }

    private func checkSplitImageMatchesUnsplit(spatial: [Int]) throws {
        var rng = TestRandom(seed: 5302)
        let x = rng.tensor([1, 13] + spatial)
        let stages: [ConvStage] = [
            .pointwise(weight: rng.tensor([11, 13]), bias: rng.tensor([11]).scalars),
            .depthwise(taps: rng.tensor([11, 3, 1]), geometry: try ConvGeometry(order: 2, padding: [1, 0])),
            .depthwise(taps: rng.tensor([11, 1, 3]), geometry: try ConvGeometry(order: 2, padding: [0, 1])),
            .pointwise(weight: rng.tensor([17, 11]), bias: rng.tensor([17]).scalars),
        ]
        let split = try ConvPipeline(stages: stages, minFlopsPerWorker: 0).forward(x)
        let whole = try ConvPipeline(stages: stages, minFlopsPerWorker: .infinity).forward(x)
        #expect(split.scalars == whole.scalars)
    }

    /// A pipeline whose first stage is not pointwise (a TT path starting with a mode conv) checks
    /// each image just before its first stage: a single NaN or infinity in any image is refused
    /// as the input's, at batch 1 and 3, on 1 and 2 threads, split or not.
    @Test(arguments: [1, 2])
    func nonFiniteInputBeforeAModeConvIsTheInputs(threads: Int) throws {
        try withThreadCount(threads) { try checkNonFiniteInputBeforeAModeConv() }
    }

    private func checkNonFiniteInputBeforeAModeConv() throws {
        var rng = TestRandom(seed: 5304)
        let stages: [ConvStage] = [
            .dense(weight: rng.tensor([3, 5, 3, 1]), geometry: try ConvGeometry(order: 2, padding: [1, 0]), bias: nil),
            .pointwise(weight: rng.tensor([6, 3]), bias: nil),
        ]
        for split in [ConvPipeline.defaultMinFlopsPerWorker, 0] {
            let pipeline = ConvPipeline(stages: stages, minFlopsPerWorker: split)
            for batch in [1, 3] {
                var x = rng.tensor([batch, 5, 6, 7])
                for spot in [0, x.count - 1, x.count / 2] {
                    for bad in [Float.nan, .infinity] {
                        let kept = x.scalars[spot]
                        x.scalars[spot] = bad
                        var output = [Float](repeating: 0, count: batch * 6 * 6 * 7)
                        let error = #expect(throws: FactorConvError.self) {
                            try x.scalars.withUnsafeBufferPointer { xp in
                                try output.withUnsafeMutableBufferPointer { yp in
                                    try pipeline.forward(input: xp.baseAddress!, inputShape: x.shape, output: yp.baseAddress!,
                                                         rejectingNonFinite: true)
                                }
                            }
                        }
                        #expect(error?.kind == .numerical && error?.message.hasPrefix("input contains") == true,
                                "batch \(batch) \(bad) at \(spot): \(error?.message ?? "")")
                        x.scalars[spot] = kept
                    }
                }
            }
        }
    }

    /// An output that overflows is refused as an overflow wherever it is: the last pointwise
    /// stage checks it as it writes it, each worker of a split image into its own flag. A spot
    /// of huge input values at the start, middle or end of one image (so in either worker's
    /// share of rows or columns), at batch 1 and 3, on 1 and 2 threads, split or not; with
    /// finite outputs the same input scaled down passes.
    @Test(arguments: [1, 2])
    func overflowInTheLastMixingIsRefused(threads: Int) throws {
        try withThreadCount(threads) { try checkOverflowInTheLastMixing() }
    }

    private func checkOverflowInTheLastMixing() throws {
        var rng = TestRandom(seed: 5306)
        // All-positive weights: a large input value adds up, it cannot cancel.
        func positive(_ shape: [Int]) -> Tensor<Float> {
            var t = rng.tensor(shape)
            for i in t.scalars.indices { t.scalars[i] = 0.5 + abs(t.scalars[i]) }
            return t
        }
        let stages: [ConvStage] = [
            .pointwise(weight: positive([7, 5]), bias: nil),
            .depthwise(taps: positive([7, 3, 3]), geometry: try ConvGeometry(order: 2, padding: [1, 1])),
            .pointwise(weight: positive([9, 7]), bias: nil),
        ]
        for spatial in [[5, 6], [20, 40]] {            // rows split, columns split
            for split in [ConvPipeline.defaultMinFlopsPerWorker, 0] {
                let pipeline = ConvPipeline(stages: stages, minFlopsPerWorker: split)
                for batch in [1, 3] {
                    let plane = spatial.reduce(1, *)
                    for position in [0, plane / 2, plane - 1] {
                        var x = rng.tensor([batch] + [5] + spatial)
                        for i in x.scalars.indices { x.scalars[i] = abs(x.scalars[i]) }
                        for c in 0..<5 { x.scalars[((batch - 1) * 5 + c) * plane + position] = 3e37 }
                        func run(_ input: Tensor<Float>) throws {
                            var output = [Float](repeating: 0, count: batch * 9 * plane)
                            try input.scalars.withUnsafeBufferPointer { xp in
                                try output.withUnsafeMutableBufferPointer { yp in
                                    try pipeline.forward(input: xp.baseAddress!, inputShape: input.shape,
                                                         output: yp.baseAddress!, rejectingNonFinite: true)
                                }
                            }
                        }
                        let what = "\(spatial) split \(split) batch \(batch) position \(position)"
                        let error = #expect(throws: FactorConvError.self, "\(what)") { try run(x) }
                        #expect(error?.message.contains("overflowed") == true, "\(what): \(error?.message ?? "")")
                        for i in x.scalars.indices { x.scalars[i] *= 1e-20 }
                        #expect(throws: Never.self, "\(what), scaled down") { try run(x) }
                    }
                }
            }
        }
    }

    /// Planes beyond the kernels' 32-bit ints are refused from the shapes alone.
    @Test func refusesPlanesBeyond32BitInts() {
        let pipeline = ConvPipeline(stages: [.pointwise(weight: Tensor(shape: [2, 3]), bias: nil)])
        let error = #expect(throws: FactorConvError.self) { _ = try pipeline.imageShapes(input: [3, 1 << 16, 1 << 15]) }
        #expect(error?.kind == .invalidArgument)
        #expect(throws: Never.self) { _ = try pipeline.imageShapes(input: [3, 1 << 16, (1 << 15) - 1]) }
    }

    @Test func rejectsChannelMismatch() throws {
        let pipeline = ConvPipeline(stages: [.pointwise(weight: Tensor(shape: [2, 3]), bias: nil)])
        #expect(throws: FactorConvError.self) { try pipeline.forward(Tensor(shape: [1, 4, 5])) }
    }
}

/// The cost model behind implementation='auto'.
@Suite struct CostModelTests {
    /// Two depthwise stages that run as one pass (`DepthwisePlanePair`) are charged one pass of
    /// memory traffic: a CP layer's separable path (3 + 3 taps) then costs less than its
    /// mobilenet path (one 3×3 depthwise stage, 9 taps, the same traffic), at every rate set.
    @Test func separablePairCostsLessThanMobilenet() throws {
        var rng = TestRandom(seed: 5303)
        let rank = 24, input = [1, 32, 28, 28]
        let first = ConvStage.pointwise(weight: rng.tensor([rank, 32]), bias: nil)
        let last = ConvStage.pointwise(weight: rng.tensor([32, rank]), bias: nil)
        let separable = ConvPipeline(stages: [
            first,
            .depthwise(taps: rng.tensor([rank, 3, 1]), geometry: try ConvGeometry(order: 2, padding: [1, 0])),
            .depthwise(taps: rng.tensor([rank, 1, 3]), geometry: try ConvGeometry(order: 2, padding: [0, 1])),
            last,
        ])
        let mobilenet = ConvPipeline(stages: [
            first, .depthwise(taps: rng.tensor([rank, 3, 3]), geometry: try ConvGeometry(order: 2, padding: [1, 1])), last,
        ])
        #expect(separable.runsAsPair(1, imageShape: [rank, 28, 28]))
        for rates in [CostModel.avx512Rates, CostModel.avx2Rates] {
            let pair = try CostModel.seconds(separable, input: input, rates: rates)
            let single = try CostModel.seconds(mobilenet, input: input, rates: rates)
            #expect(pair < single)
        }
    }
}
