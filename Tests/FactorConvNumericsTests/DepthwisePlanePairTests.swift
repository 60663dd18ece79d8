@testable import FactorConvNumerics
import FactorConvTestSupport
import Testing

/// The one-pass depthwise convolutions over the last two modes: two per-mode stages fused
/// (`DepthwisePlanePair`) and a full 2-D kernel, by every plane kernel this CPU has
/// (`PlaneKernel`: AVX-512, AVX2), against float64 plain loops over widths in every lane phase, row geometry of every kind and
/// 'same' columns of 1–8 taps; through `ConvPipeline`, the pair equal to its stages run one at a
/// time, with and without the kernel taking the width.
@Suite(.enabled(if: KernelSet.best != nil)) struct DepthwisePlanePairTests {
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
        for kernel in PlaneKernel.available { for width in PlaneCase.widths {
            for _ in 0..<6 {
                let t = PlaneCase(width: width, rng: &rng)
                let (first, second) = try Self.stages(order: t.order, channels: t.channels, kr: t.kr, pr: t.pr, dr: t.dr,
                                                      kc: t.kc, pc: t.pc, dc: t.dc, rng: &rng)
                let pair = try #require(DepthwisePlanePair(first, second, kernel: kernel))
                #expect(pair.handles(width: width) == t.taken(by: kernel), "\(kernel) \(t)")
                guard t.taken(by: kernel) else { continue }
                let x = rng.tensor([t.channels] + t.spatial)
                var y = t.untouchedOutput
                x.scalars.withUnsafeBufferPointer { xp in
                    y.withUnsafeMutableBufferPointer { yp in
                        pair.forward(input: xp.baseAddress!, spatial: t.spatial, outputRows: t.outRows,
                                     output: yp.baseAddress!, channels: 1..<t.channels)
                    }
                }
                let wr = pair.rowTaps.scalars, wc = pair.columnTaps.scalars
                t.check(y, x: x) { c, _, i, j in Double(wr[c * t.kr + i]) * Double(wc[c * t.kc + j]) }
            }
        }}
    }

    /// A full kernel over the last two modes and, in 3-D, an outer mode of 1–3 taps with stride,
    /// padding and dilation (CP's mobilenet path, `fck_depthwise_2d` per outer tap, added up), on
    /// channels 1..<C (channel 0 must stay untouched) against a float64 plain loop; outputs whose
    /// outer taps all fall in the padding are zero, and cases the kernel does not take write nothing.
    @Test func fullKernelMatchesPlainLoop() throws {
        var rng = TestRandom(seed: 6405)
        for kernel in PlaneKernel.available { for width in PlaneCase.widths + [257] {
            for _ in 0..<6 {
                let t = PlaneCase(width: width, outerTaps: true, rng: &rng)
                let x = rng.tensor([t.channels] + t.spatial), w = rng.tensor([t.channels] + t.kernel)
                let geometry = try t.geometry()
                var y = t.untouchedOutput
                let ran = x.scalars.withUnsafeBufferPointer { xp in
                    w.scalars.withUnsafeBufferPointer { wp in
                        y.withUnsafeMutableBufferPointer { yp in
                            DepthwiseConvolution.overLastTwoModes(
                                input: xp.baseAddress!, spatial: t.spatial, taps: wp.baseAddress!, kernel: t.kernel,
                                geometry: geometry, outputSpatial: t.outputSpatial, output: yp.baseAddress!,
                                channels: 1..<t.channels, kernel: kernel)
                        }
                    }
                }
                #expect(ran == t.taken(by: kernel), "\(kernel) \(t)")
                guard ran else { #expect(y == t.untouchedOutput); continue }
                t.check(y, x: x) { c, a, i, j in Double(w.scalars[((c * t.ko + a) * t.kr + i) * t.kc + j]) }
            }
        }}
    }

    /// The cases a kernel does not take: a lane period past its table (256 vectors of 16 lanes
    /// with AVX-512, 64 of 8 with AVX2), more than 8 taps, a column tap reaching past 16 columns.
    @Test(arguments: PlaneKernel.available)
    func refusesWhatTheKernelDoesNotHandle(kernel: PlaneKernel) throws {
        var rng = TestRandom(seed: 6402)
        let (a, b) = try Self.stages(order: 2, channels: 2, kr: 3, pr: 1, dr: 1, kc: 3, pc: 1, dc: 1, rng: &rng)
        let pair = try #require(DepthwisePlanePair(a, b, kernel: kernel))
        if kernel == .avx512 {
            #expect(pair.handles(width: 256 * 16) && pair.handles(width: 255) && !pair.handles(width: 257))
        } else {
            #expect(pair.handles(width: 64 * 8) && pair.handles(width: 63) && pair.handles(width: 126))
            #expect(!pair.handles(width: 65) && !pair.handles(width: 130) && !pair.handles(width: 65 * 8))
        }
        #expect(!pair.handles(width: 0))
        let (c, d) = try Self.stages(order: 2, channels: 2, kr: 3, pr: 1, dr: 1, kc: 3, pc: 17, dc: 17, rng: &rng)
        #expect(try #require(DepthwisePlanePair(c, d, kernel: kernel)).handles(width: 56) == false)
        let (e, f) = try Self.stages(order: 2, channels: 2, kr: 3, pr: 1, dr: 1, kc: 9, pc: 4, dc: 1, rng: &rng)
        #expect(try #require(DepthwisePlanePair(e, f, kernel: kernel)).handles(width: 56) == false)
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

/// A random case of the one-pass depthwise kernels: `channels` channels of `outer` planes (order
/// 3) of `rows` × `width`; rows: `kr` taps, padding `pr`, dilation `dr`, stride 1; columns: `kc`
/// taps, dilation `dc`, 'same' padding `pc`; with `outerTaps`, an outer mode of `ko` taps, stride
/// `so`, padding `po` and dilation `dOuter` (else 1 tap, trivial geometry).
private struct PlaneCase: CustomStringConvertible {
    /// Widths below, at and above a vector, in each of the lane periods up to 57 (the table's
    /// phases) and beyond.
    static let widths = [1, 2, 3, 7, 14, 15, 16, 17, 31, 32, 33, 48, 56, 57, 100, 130]

    let order, channels, outer, rows, width, outRows, kr, pr, dr, kc, pc, dc: Int
    let ko, so, po, dOuter, outerOut: Int

    init(width: Int, outerTaps: Bool = false, rng: inout TestRandom) {
        order = rng.int(2...3)
        channels = rng.int(2...4)
        kr = rng.int(1...9)
        dr = rng.int(1...3)
        pr = rng.int(0...(dr * (kr - 1) + 1))
        (kc, dc) = [(1, 1), (2, 2), (3, 1), (3, 2), (4, 2), (5, 1), (7, 1), (8, 2), (3, 8)][rng.int(0...8)]
        pc = dc * (kc - 1) / 2
        rows = max(1, dr * (kr - 1) + 1 - 2 * pr) + rng.int(0...12)
        self.width = width
        outRows = rows + 2 * pr - dr * (kr - 1)
        let taps = outerTaps && order == 3
        ko = taps ? rng.int(1...3) : 1
        so = taps ? rng.int(1...2) : 1
        dOuter = taps ? rng.int(1...2) : 1
        po = taps ? rng.int(0...2) : 0
        // Every outer tap may fall in the padding for some outputs (po up to 2, dilation 2).
        outer = order == 3 ? max(1, dOuter * (ko - 1) + 1 - 2 * po) + rng.int(0...3) : 1
        outerOut = (outer + 2 * po - dOuter * (ko - 1) - 1) / so + 1
    }

    var spatial: [Int] { (order == 3 ? [outer] : []) + [rows, width] }
    var outputSpatial: [Int] { (order == 3 ? [outerOut] : []) + [outRows, width] }
    /// The kernel shape after the channel.
    var kernel: [Int] { (order == 3 ? [ko] : []) + [kr, kc] }
    /// The geometry (stride, padding, dilation per mode).
    func geometry() throws -> ConvGeometry {
        let outerMode = order == 3
        return try ConvGeometry(order: order, stride: (outerMode ? [so] : []) + [1, 1],
                                padding: (outerMode ? [po] : []) + [pr, pc],
                                dilation: (outerMode ? [dOuter] : []) + [dr, dc])
    }
    /// Whether `kernel` takes the case: at most 8 taps a mode, column taps within 16 columns, a
    /// width whose lanes' columns repeat within 256 vectors of 16 lanes (AVX-512) or 64 of 8 (AVX2).
    func taken(by kernel: PlaneKernel) -> Bool {
        let (lanes, periods) = kernel == .avx512 ? (16, 256) : (8, 64)
        let gcd = [16, 8, 4, 2, 1].first { $0 <= lanes && width % $0 == 0 }!
        return kr <= 8 && kc <= 8 && pc <= 16 && width / gcd <= periods
    }
    /// An output buffer filled with 99, the value a channel that is not computed keeps.
    var untouchedOutput: [Float] { [Float](repeating: 99, count: channels * outerOut * outRows * width) }
    var description: String {
        "order \(order) outer \(outer) (k \(ko) s \(so) p \(po) d \(dOuter)) rows \(rows) width \(width) kr \(kr) pr \(pr) dr \(dr) kc \(kc) pc \(pc) dc \(dc)"
    }

    /// Expects channel 0 of `y` untouched and channels 1..<C within 1e-5 of the float64 loop with
    /// kernel tap (outer tap a, row i, column j) of channel c `weight(c, a, i, j)`.
    func check(_ y: [Float], x: Tensor<Float>, weight: (Int, Int, Int, Int) -> Double) {
        var worst = 0.0
        for c in 0..<channels { for b in 0..<outerOut { for o in 0..<outRows { for col in 0..<width {
            let got = Double(y[((c * outerOut + b) * outRows + o) * width + col])
            guard c > 0 else { #expect(got == 99); continue }
            var want = 0.0
            for a in 0..<ko {
                let plane = b * so - po + a * dOuter
                guard plane >= 0 && plane < outer else { continue }
                for i in 0..<kr {
                    let r = o - pr + i * dr
                    guard r >= 0 && r < rows else { continue }
                    for j in 0..<kc {
                        let k = col - pc + j * dc
                        guard k >= 0 && k < width else { continue }
                        want += weight(c, a, i, j) * Double(x.scalars[((c * outer + plane) * rows + r) * width + k])
                    }
                }
            }
            worst = max(worst, abs(got - want))
        }}}}
        #expect(worst <= 1e-5, "\(self)")
    }
}
