@testable import FactorConvNumerics
import FactorConvTestSupport
import Testing

/// The one-pass depth, rows and columns depthwise stages of 3-D images (`DepthwiseVolumeTriple`,
/// AVX2): against a float64 plain loop on channels 1..<C (channel 0 untouched), depth taps 1–3
/// with padding 0–2 (so that some output planes have every tap in the padding) and dilation 1–2,
/// widths in several lane phases; through `ConvPipeline`, equal bit for bit to the three stages
/// run one at a time, split over 1 and 2 workers; and formed only from the right stages.
@Suite(.enabled(if: KernelSet.available.contains(.avx2))) struct DepthwiseVolumeTripleTests {
    /// A depthwise stage along `mode` of a 3-D image: `k` taps, stride `s`, padding `p`, dilation `d`.
    static func line(_ mode: Int, channels: Int, k: Int, s: Int = 1, p: Int, d: Int,
                             rng: inout TestRandom) throws -> ConvStage {
        func along(_ v: Int, other: Int) -> [Int] { (0..<3).map { $0 == mode ? v : other } }
        return .depthwise(taps: rng.tensor([channels] + along(k, other: 1)),
                          geometry: try ConvGeometry(order: 3, stride: along(s, other: 1), padding: along(p, other: 0),
                                                     dilation: along(d, other: 1)))
    }

    /// Depth, rows (stride 1) and 'same' columns stages of a random case over `channels` channels.
    private static func stages(channels: Int, rng: inout TestRandom) throws -> [ConvStage] {
        let kd = rng.int(1...3), dd = rng.int(1...2), pd = rng.int(0...2)
        let kr = rng.int(1...5), dr = rng.int(1...2), pr = rng.int(0...2)
        let (kc, dc) = [(1, 1), (3, 1), (3, 2), (5, 1), (2, 2)][rng.int(0...4)]
        return [try line(0, channels: channels, k: kd, p: pd, d: dd, rng: &rng),
                try line(1, channels: channels, k: kr, p: pr, d: dr, rng: &rng),
                try line(2, channels: channels, k: kc, p: dc * (kc - 1) / 2, d: dc, rng: &rng)]
    }

    @Test func matchesPlainLoop() throws {
        var rng = TestRandom(seed: 6501)
        for width in [1, 3, 7, 8, 14, 17, 32, 33] {
            for _ in 0..<4 {
                let channels = rng.int(2...4)
                let s = try Self.stages(channels: channels, rng: &rng)
                let triple = try #require(DepthwiseVolumeTriple(s[0], s[1], s[2], kernel: .avx2))
                let spatial = [rng.int(5...8), rng.int(9...12), width]   // every tap span fits
                let shapes = try ConvPipeline(stages: s).imageShapes(input: [channels] + spatial)
                let outSpatial = Array(shapes.last!.dropFirst())
                #expect(triple.handles(shape: shapes[0]))
                let x = rng.tensor([channels] + spatial)
                var y = [Float](repeating: 99, count: channels * outSpatial.reduce(1, *))
                var plane = [Float](repeating: .nan, count: triple.planeFloats(shape: shapes[0]))
                x.scalars.withUnsafeBufferPointer { xp in
                    y.withUnsafeMutableBufferPointer { yp in
                        plane.withUnsafeMutableBufferPointer { pp in
                            triple.forward(input: xp.baseAddress!, spatial: spatial, outputSpatial: outSpatial,
                                           output: yp.baseAddress!, channels: 1..<channels, plane: pp.baseAddress!)
                        }
                    }
                }
                let plane0 = outSpatial.reduce(1, *)
                #expect(y[0..<plane0].allSatisfy { $0 == 99 }, "channel 0 was written")
                let expected = reference(x, stages: s, outSpatial: outSpatial)
                var worst = 0.0
                for i in plane0..<y.count { worst = max(worst, abs(Double(y[i]) - expected[i])) }
                let scale = expected[plane0...].map(abs).max() ?? 0
                #expect(worst <= 1e-5 * max(scale, 1), "width \(width) spatial \(spatial): error \(worst)")
            }
        }
    }

    /// The three stages in float64 (zero padding, stride 1 in every mode).
    private func reference(_ x: Tensor<Float>, stages: [ConvStage], outSpatial: [Int]) -> [Double] {
        var taps = [[Float]](), k = [Int](), p = [Int](), d = [Int]()
        for (mode, stage) in stages.enumerated() {
            guard case .depthwise(let t, let g) = stage else { return [] }
            taps.append(t.scalars)
            k.append(t.shape[1 + mode])
            p.append(g.padding[mode])
            d.append(g.dilation[mode])
        }
        let (channels, depth, rows, width) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (od, oh, ow) = (outSpatial[0], outSpatial[1], outSpatial[2])
        var y = [Double](repeating: 0, count: channels * od * oh * ow)
        for c in 0..<channels { for a in 0..<od { for b in 0..<oh { for e in 0..<ow {
            var sum = 0.0
            for t in 0..<k[0] { for i in 0..<k[1] { for j in 0..<k[2] {
                let z = a - p[0] + t * d[0], r = b - p[1] + i * d[1], q = e - p[2] + j * d[2]
                guard (0..<depth).contains(z), (0..<rows).contains(r), (0..<width).contains(q) else { continue }
                sum += Double(taps[0][c * k[0] + t]) * Double(taps[1][c * k[1] + i]) * Double(taps[2][c * k[2] + j])
                    * Double(x.scalars[((c * depth + z) * rows + r) * width + q])
            }}}
            y[((c * od + a) * oh + b) * ow + e] = sum
        }}}}
        return y
    }

    /// pointwise → depth → rows → columns → pointwise: the same floats with the triple fused as
    /// with each stage run as a pipeline of its own (the fused pass adds in the same order).
    @Test(arguments: [1, 2])
    func pipelineEqualsStagesOneAtATime(threads: Int) throws {
        var rng = TestRandom(seed: 6502 + UInt64(threads))
        for width in [32, 14, 9] {
            let middle = try Self.stages(channels: 5, rng: &rng)
            let first = ConvStage.pointwise(weight: rng.tensor([5, 4]), bias: nil)
            let last = ConvStage.pointwise(weight: rng.tensor([3, 5]), bias: [0.5, -1, 2])
            let all = [first] + middle + [last]
            let x = rng.tensor([2, 4, 6, 9, width])
            let pipeline = ConvPipeline(stages: all, minFlopsPerWorker: 0)
            #expect(pipeline.runsAsTriple(1, imageShape: [5, 6, 9, width]))
            let fused = try withThreadCount(threads) { try pipeline.forward(x) }
            var stepwise = x
            for stage in all { stepwise = try ConvPipeline(stages: [stage]).forward(stepwise) }
            #expect(fused.shape == stepwise.shape)
            let differing = zip(fused.scalars, stepwise.scalars).filter { $0 != $1 }.count
            #expect(differing == 0, "width \(width): \(differing) of \(fused.count) differ")
        }
    }

    @Test func formsOnlyFromTheRightStages() throws {
        var rng = TestRandom(seed: 6503)
        let s = try Self.stages(channels: 3, rng: &rng)
        #expect(DepthwiseVolumeTriple(s[0], s[1], s[2], kernel: .avx2) != nil)
        #expect(DepthwiseVolumeTriple(s[0], s[1], s[2], kernel: .avx512) == nil)
        #expect(DepthwiseVolumeTriple(s[0], s[1], s[2], kernel: nil) == nil)
        // The depth stage strided, along another mode, or over other channels; the pair missing.
        let strided = try Self.line(0, channels: 3, k: 3, s: 2, p: 1, d: 1, rng: &rng)
        #expect(DepthwiseVolumeTriple(strided, s[1], s[2], kernel: .avx2) == nil)
        #expect(DepthwiseVolumeTriple(s[1], s[1], s[2], kernel: .avx2) == nil)
        let fewer = try Self.line(0, channels: 2, k: 3, p: 1, d: 1, rng: &rng)
        #expect(DepthwiseVolumeTriple(fewer, s[1], s[2], kernel: .avx2) == nil)
        #expect(DepthwiseVolumeTriple(s[0], s[2], s[1], kernel: .avx2) == nil)
        let mixing = ConvStage.pointwise(weight: rng.tensor([3, 3]), bias: nil)
        #expect(DepthwiseVolumeTriple(mixing, s[1], s[2], kernel: .avx2) == nil)
        // 2-D images have no depth mode.
        let rows2 = ConvStage.depthwise(taps: rng.tensor([3, 3, 1]), geometry: try ConvGeometry(order: 2, padding: [1, 0]))
        let cols2 = ConvStage.depthwise(taps: rng.tensor([3, 1, 3]), geometry: try ConvGeometry(order: 2, padding: [0, 1]))
        #expect(DepthwiseVolumeTriple(rows2, rows2, cols2, kernel: .avx2) == nil)
    }
}
