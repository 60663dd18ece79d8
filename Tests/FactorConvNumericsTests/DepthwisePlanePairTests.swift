@testable import FactorConvNumerics
import FactorConvTestSupport
import Testing

/// The one-pass depthwise convolutions over the last two modes: two per-mode stages fused
/// (`DepthwisePlanePair`, `fck_depthwise_plane`) and a full 2-D kernel (`fck_depthwise_2d`),
/// against float64 plain loops over widths in every lane phase, row geometry of every kind and
/// 'same' columns of 1–8 taps; through `ConvPipeline`, the pair equal to its stages run one at a
/// time, with and without the kernel taking the width.
@Suite(.enabled(if: AVX512.isAvailable)) struct DepthwisePlanePairTests {
    /// The pair of a row stage (`kr` taps, padding `pr`, dilation `dr`, stride `sr`) and a column
    /// stage (`kc` taps, padding `pc`, dilation `dc`) over `channels` channels of order `order`.
    private static func stages(order: Int, channels: Int, kr: Int, pr: Int, dr: Int, sr: Int = 1, kc: Int, pc: Int,
                               dc: Int, rng: inout TestRandom) throws -> (ConvStage, ConvStage) {
        func line(_ mode: Int, _ v: Int, other: Int) -> [Int] { (0..<order).map { $0 == mode ? v : other } }
        let rows = ConvStage.depthwise(
            taps: rng.tensor([channels] + line(order - 2, kr, other: 1)),
            geometry: try ConvGeometry(order: order, stride: line(order - 2, sr, other: 1),
                                       padding: line(order - 2, pr, other: 0), dilation: line(order - 2, dr, other: 1)))
        let columns = ConvStage.depthwise(
            taps: rng.tensor([channels] + line(order - 1, kc, other: 1)),
            geometry: try ConvGeometry(order: order, padding: line(order - 1, pc, other: 0),
                                       dilation: line(order - 1, dc, other: 1)))
        return (rows, columns)
    }

    /// Channels 1..<C of the fused pass (channel 0 must stay untouched) against a float64 loop.
    @Test func matchesPlainLoop() throws {
        var rng = TestRandom(seed: 6401)
        // Widths below, at and above a vector, in each of the lane periods up to 57 (the table's
        // phases), and a period past the table (257: not taken, checked below).
        for width in [1, 2, 3, 7, 14, 15, 16, 17, 31, 32, 33, 48, 56, 57, 100, 130] {
            for _ in 0..<6 {
                let order = rng.int(2...3), channels = rng.int(2...4)
                let kr = rng.int(1...9), dr = rng.int(1...3), pr = rng.int(0...(dr * (kr - 1) + 1))
                let (kc, dc) = [(1, 1), (2, 2), (3, 1), (3, 2), (4, 2), (5, 1), (7, 1), (8, 2), (3, 8)][rng.int(0...8)]
                let pc = dc * (kc - 1) / 2
                let rows = max(1, dr * (kr - 1) + 1 - 2 * pr) + rng.int(0...12)
                let outer = order == 3 ? rng.int(1...3) : 1
                let (first, second) = try Self.stages(order: order, channels: channels, kr: kr, pr: pr, dr: dr, kc: kc,
                                                      pc: pc, dc: dc, rng: &rng)
                let pair = try #require(DepthwisePlanePair(first, second))
                let takes = kr <= 8 && kc <= 8 && pc <= 16
                #expect(pair.handles(width: width) == takes, "kr \(kr) kc \(kc) pc \(pc) width \(width)")
                guard takes else { continue }
                let spatial = (order == 3 ? [outer] : []) + [rows, width]
                let outRows = rows + 2 * pr - dr * (kr - 1)
                let x = rng.tensor([channels] + spatial)
                var y = [Float](repeating: 99, count: channels * outer * outRows * width)
                x.scalars.withUnsafeBufferPointer { xp in
                    y.withUnsafeMutableBufferPointer { yp in
                        pair.forward(input: xp.baseAddress!, spatial: spatial, outputRows: outRows,
                                     output: yp.baseAddress!, channels: 1..<channels)
                    }
                }
                let wr = pair.rowTaps.scalars, wc = pair.columnTaps.scalars
                var worst = 0.0
                for c in 0..<channels { for a in 0..<outer { for o in 0..<outRows { for col in 0..<width {
                    let got = Double(y[((c * outer + a) * outRows + o) * width + col])
                    guard c > 0 else { #expect(got == 99); continue }
                    var want = 0.0
                    for u in 0..<kc {
                        let j = col - pc + u * dc
                        guard j >= 0 && j < width else { continue }
                        var v = 0.0
                        for t in 0..<kr {
                            let i = o - pr + t * dr
                            guard i >= 0 && i < rows else { continue }
                            v += Double(wr[c * kr + t]) * Double(x.scalars[((c * outer + a) * rows + i) * width + j])
                        }
                        want += Double(wc[c * kc + u]) * v
                    }
                    worst = max(worst, abs(got - want))
                }}}}
                #expect(worst <= 1e-5, "width \(width) rows \(rows) order \(order) kr \(kr) pr \(pr) dr \(dr) kc \(kc) dc \(dc)")
            }
        }
    }

    /// A full kernel over the last two modes (CP's mobilenet path, `fck_depthwise_2d`) on
    /// channels 1..<C (channel 0 must stay untouched) against a float64 plain loop, with the
    /// same widths and geometry as `matchesPlainLoop`; cases the kernel does not take write nothing.
    @Test func fullKernelMatchesPlainLoop() throws {
        var rng = TestRandom(seed: 6405)
        for width in [1, 2, 3, 7, 14, 15, 16, 17, 31, 32, 33, 48, 56, 57, 100, 130, 257] {
            for _ in 0..<6 {
                let order = rng.int(2...3), channels = rng.int(2...4)
                let kr = rng.int(1...9), dr = rng.int(1...3), pr = rng.int(0...(dr * (kr - 1) + 1))
                let (kc, dc) = [(1, 1), (2, 2), (3, 1), (3, 2), (4, 2), (5, 1), (7, 1), (8, 2), (3, 8)][rng.int(0...8)]
                let pc = dc * (kc - 1) / 2
                let rows = max(1, dr * (kr - 1) + 1 - 2 * pr) + rng.int(0...12)
                let outer = order == 3 ? rng.int(1...3) : 1
                let spatial = (order == 3 ? [outer] : []) + [rows, width]
                let outRows = rows + 2 * pr - dr * (kr - 1)
                let outputSpatial = (order == 3 ? [outer] : []) + [outRows, width]
                let kernel = (order == 3 ? [1] : []) + [kr, kc]
                let geometry = try ConvGeometry(order: order, padding: (order == 3 ? [0] : []) + [pr, pc],
                                                dilation: (order == 3 ? [1] : []) + [dr, dc])
                let x = rng.tensor([channels] + spatial), w = rng.tensor([channels, kr, kc])
                var y = [Float](repeating: 99, count: channels * outer * outRows * width)
                let ran = x.scalars.withUnsafeBufferPointer { xp in
                    w.scalars.withUnsafeBufferPointer { wp in
                        y.withUnsafeMutableBufferPointer { yp in
                            DepthwiseConvolution.overLastTwoModes(
                                input: xp.baseAddress!, spatial: spatial, taps: wp.baseAddress!, kernel: kernel,
                                geometry: geometry, outputSpatial: outputSpatial, output: yp.baseAddress!,
                                channels: 1..<channels)
                        }
                    }
                }
                let takes = kr <= 8 && kc <= 8 && pc <= 16 && width != 257
                #expect(ran == takes, "kr \(kr) kc \(kc) pc \(pc) width \(width)")
                guard ran else { #expect(y.allSatisfy { $0 == 99 }); continue }
                var worst = 0.0
                for c in 0..<channels { for a in 0..<outer { for o in 0..<outRows { for col in 0..<width {
                    let got = Double(y[((c * outer + a) * outRows + o) * width + col])
                    guard c > 0 else { #expect(got == 99); continue }
                    var want = 0.0
                    for t in 0..<kr {
                        let i = o - pr + t * dr
                        guard i >= 0 && i < rows else { continue }
                        for u in 0..<kc {
                            let j = col - pc + u * dc
                            guard j >= 0 && j < width else { continue }
                            want += Double(w.scalars[(c * kr + t) * kc + u]) * Double(x.scalars[((c * outer + a) * rows + i) * width + j])
                        }
                    }
                    worst = max(worst, abs(got - want))
                }}}}
                #expect(worst <= 1e-5, "width \(width) rows \(rows) order \(order) kr \(kr) pr \(pr) dr \(dr) kc \(kc) dc \(dc)")
            }
        }
    }

    /// The cases the kernel does not take: a lane period past its table, more than 8 taps, a
    /// column tap reaching past one vector.
    @Test func refusesWhatTheKernelDoesNotHandle() throws {
        var rng = TestRandom(seed: 6402)
        let (a, b) = try Self.stages(order: 2, channels: 2, kr: 3, pr: 1, dr: 1, kc: 3, pc: 1, dc: 1, rng: &rng)
        let pair = try #require(DepthwisePlanePair(a, b))
        #expect(pair.handles(width: 256 * 16) && pair.handles(width: 255) && !pair.handles(width: 257))
        let (c, d) = try Self.stages(order: 2, channels: 2, kr: 3, pr: 1, dr: 1, kc: 3, pc: 17, dc: 17, rng: &rng)
        #expect(try #require(DepthwisePlanePair(c, d)).handles(width: 56) == false)
        let (e, f) = try Self.stages(order: 2, channels: 2, kr: 3, pr: 1, dr: 1, kc: 9, pc: 4, dc: 1, rng: &rng)
        #expect(try #require(DepthwisePlanePair(e, f)).handles(width: 56) == false)
    }

    /// Stage pairs that are not two line stages of the last two modes, the first at stride 1 and
    /// the second 'same', do not form a pair.
    @Test func formsOnlyFromTheRightStages() throws {
        var rng = TestRandom(seed: 6403)
        let (rows, columns) = try Self.stages(order: 2, channels: 3, kr: 3, pr: 1, dr: 1, kc: 3, pc: 1, dc: 1, rng: &rng)
        #expect(DepthwisePlanePair(rows, columns) != nil)
        #expect(DepthwisePlanePair(columns, rows) == nil)
        let (strided, _) = try Self.stages(order: 2, channels: 3, kr: 3, pr: 1, dr: 1, sr: 2, kc: 3, pc: 1, dc: 1, rng: &rng)
        #expect(DepthwisePlanePair(strided, columns) == nil)
        let (_, valid) = try Self.stages(order: 2, channels: 3, kr: 3, pr: 1, dr: 1, kc: 3, pc: 0, dc: 1, rng: &rng)
        #expect(DepthwisePlanePair(rows, valid) == nil)
        let (_, fewer) = try Self.stages(order: 2, channels: 2, kr: 3, pr: 1, dr: 1, kc: 3, pc: 1, dc: 1, rng: &rng)
        #expect(DepthwisePlanePair(rows, fewer) == nil)
        let mixing = ConvStage.pointwise(weight: rng.tensor([3, 3]), bias: nil)
        #expect(DepthwisePlanePair(rows, mixing) == nil && DepthwisePlanePair(mixing, columns) == nil)
    }

    /// A pipeline pointwise → rows → columns → pointwise gives the same floats with the pair
    /// fused as with its stages run one at a time (the fused pass adds in the same order), with
    /// 1 and 2 workers per image, for a width the kernel takes and one it does not (257).
    @Test(arguments: [1, 2])
    func pipelineEqualsStagesOneAtATime(threads: Int) throws {
        let saved = Parallel.threadCount
        defer { Parallel.threadCount = saved }
        Parallel.threadCount = threads
        var rng = TestRandom(seed: 6404)
        for (width, kr, pr, kc, dc) in [(56, 3, 1, 3, 1), (14, 5, 0, 5, 2), (257, 3, 1, 3, 1), (9, 2, 1, 7, 1)] {
            let (rows, columns) = try Self.stages(order: 2, channels: 5, kr: kr, pr: pr, dr: 1, kc: kc,
                                                  pc: dc * (kc - 1) / 2, dc: dc, rng: &rng)
            let first = ConvStage.pointwise(weight: rng.tensor([5, 4]), bias: nil)
            let last = ConvStage.pointwise(weight: rng.tensor([3, 5]), bias: [0.5, -1, 2])
            let x = rng.tensor([2, 4, 11, width])
            let fused = try ConvPipeline(stages: [first, rows, columns, last], minFlopsPerWorker: 0).forward(x)
            var stepwise = x
            for stage in [first, rows, columns, last] { stepwise = try ConvPipeline(stages: [stage]).forward(stepwise) }
            #expect(fused.shape == stepwise.shape)
            let differing = zip(fused.scalars, stepwise.scalars).filter { $0 != $1 }.count
            #expect(differing == 0, "width \(width) kr \(kr) kc \(kc): \(differing) of \(fused.count) differ")
        }
    }
}
