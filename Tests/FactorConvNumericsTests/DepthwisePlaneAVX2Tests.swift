@testable import FactorConvNumerics
import FactorConvTestSupport
import Testing

/// The AVX2 one-pass plane kernels (`PlaneKernel.avx2`: `fck_depthwise_plane_avx2`,
/// `fck_depthwise_2d_avx2`) on every plane width from 1 to 40 and wider ones of each lane period
/// class, heights 1 to 20, 1–8 taps a mode with any row padding and dilation and 'same' columns,
/// odd channel counts: against a float64 plain loop, and the separable pass against the two
/// per-mode AVX2 passes it replaces. Nothing outside the requested channels' outputs is written.
@Suite(.enabled(if: AVX2.isAvailable)) struct DepthwisePlaneAVX2Tests {
    /// Widths 1...40 (every tail of one to five 8-lane vectors), then wider planes whose lanes'
    /// columns repeat every 7 (56, 112, 224), 16, 32, 63 and 64 vectors.
    static let widths = Array(1...40) + [56, 63, 112, 126, 128, 224, 256, 512]

    /// A random geometry: rows `kr` taps, padding `pr` (0..<kr·dr, at least one output row), dilation
    /// `dr`; columns `kc` taps with dilation `dc` and 'same' padding; `rows` 1...20.
    private struct Geometry: CustomStringConvertible {
        let channels, outer, rows, width, outRows, kr, pr, dr, kc, pc, dc: Int
        init(width: Int, rng: inout TestRandom) {
            self.width = width
            channels = [1, 3, 5][rng.int(0...2)]
            outer = rng.int(1...2)
            kr = rng.int(1...8)
            dr = rng.int(1...3)
            let reach = dr * (kr - 1)
            rows = rng.int(1...20)
            // Padding from 0 up to the taps' reach, but at least one output row.
            pr = min(rng.int(0...max(0, reach)), reach)
            let rowsOut = rows + 2 * pr - reach
            (kc, dc) = [(1, 1), (2, 2), (3, 1), (3, 2), (4, 2), (5, 1), (5, 3), (6, 2), (7, 1), (8, 2), (3, 8)][rng.int(0...10)]
            pc = dc * (kc - 1) / 2
            outRows = rowsOut
        }
        var valid: Bool { outRows >= 1 }
        var description: String {
            "C \(channels) outer \(outer) rows \(rows) width \(width) kr \(kr) pr \(pr) dr \(dr) kc \(kc) pc \(pc) dc \(dc)"
        }

        /// Output (channel c, plane b, row o, column x) of the float64 loop with kernel tap (i, j) of
        /// channel c `weight(c, i, j)`.
        func reference(_ x: [Float], weight: (Int, Int, Int) -> Double, c: Int, b: Int, o: Int, col: Int) -> Double {
            var want = 0.0
            for i in 0..<kr {
                let r = o - pr + i * dr
                guard r >= 0 && r < rows else { continue }
                for j in 0..<kc {
                    let k = col - pc + j * dc
                    guard k >= 0 && k < width else { continue }
                    want += weight(c, i, j) * Double(x[((c * outer + b) * rows + r) * width + k])
                }
            }
            return want
        }
    }

    /// Separable: channels 1..<C of C + 1 (channel 0 and the one after the last stay untouched)
    /// against the float64 loop, and equal float for float to the two per-mode AVX2 passes.
    @Test func separableMatchesPlainLoopAndTwoPasses() throws {
        var rng = TestRandom(seed: 18_201)
        var ran = 0
        for width in Self.widths {
            for _ in 0..<5 {
                let g = Geometry(width: width, rng: &rng)
                guard g.valid else { continue }
                let all = g.channels + 2
                let x = rng.tensor([all, g.outer, g.rows, width]).scalars
                let wr = rng.tensor([all, g.kr]).scalars, wc = rng.tensor([all, g.kc]).scalars
                let outCount = g.outer * g.outRows * width
                var y = [Float](repeating: 99, count: all * outCount)
                let status = x.withUnsafeBufferPointer { xp in
                    y.withUnsafeMutableBufferPointer { yp in
                        wr.withUnsafeBufferPointer { rp in
                            wc.withUnsafeBufferPointer { cp in
                                PlaneKernel.avx2.plane(
                                    xp.baseAddress! + g.outer * g.rows * width, yp.baseAddress! + outCount,
                                    channels: Int32(g.channels), outer: Int32(g.outer), rows: Int32(g.rows),
                                    width: Int32(width), outRows: Int32(g.outRows), rowWeights: rp.baseAddress! + g.kr,
                                    rowTaps: Int32(g.kr), rowPadding: Int32(g.pr), rowDilation: Int32(g.dr),
                                    columnWeights: cp.baseAddress! + g.kc, columnTaps: Int32(g.kc),
                                    columnPadding: Int32(g.pc), columnDilation: Int32(g.dc))
                            }
                        }
                    }
                }
                #expect(status == 0, "\(g)")
                guard status == 0 else { continue }
                ran += 1
                // The two per-mode passes: along the rows into a buffer, then along the columns.
                let spatial = [g.outer, g.rows, width], between = [g.outer, g.outRows, width]
                let rowGeometry = try ConvGeometry(order: 3, padding: [0, g.pr, 0], dilation: [1, g.dr, 1])
                let columnGeometry = try ConvGeometry(order: 3, padding: [0, 0, g.pc], dilation: [1, 1, g.dc])
                var middle = [Float](repeating: 0, count: all * outCount), twoPass = middle
                x.withUnsafeBufferPointer { xp in
                    middle.withUnsafeMutableBufferPointer { mp in
                        twoPass.withUnsafeMutableBufferPointer { tp in
                            wr.withUnsafeBufferPointer { rp in
                                wc.withUnsafeBufferPointer { cp in
                                    DepthwiseConvolution.alongMode(
                                        1, input: xp.baseAddress!, spatial: spatial, taps: rp.baseAddress!, kernel: g.kr,
                                        geometry: rowGeometry, outputSpatial: between, output: mp.baseAddress!,
                                        channels: 1..<(g.channels + 1), kernels: .avx2)
                                    DepthwiseConvolution.alongMode(
                                        2, input: mp.baseAddress!, spatial: between, taps: cp.baseAddress!, kernel: g.kc,
                                        geometry: columnGeometry, outputSpatial: between, output: tp.baseAddress!,
                                        channels: 1..<(g.channels + 1), kernels: .avx2)
                                }
                            }
                        }
                    }
                }
                let inside = outCount..<((g.channels + 1) * outCount)
                let differing = inside.filter { y[$0] != twoPass[$0] }.count
                #expect(differing == 0, "\(g): \(differing) of \(inside.count) differ from the two passes")
                var worst = 0.0
                for c in 0..<all { for b in 0..<g.outer { for o in 0..<g.outRows { for col in 0..<width {
                    let got = y[((c * g.outer + b) * g.outRows + o) * width + col]
                    guard c >= 1 && c <= g.channels else { #expect(got == 99, "\(g)"); continue }
                    let want = g.reference(x, weight: { c, i, j in Double(wr[c * g.kr + i]) * Double(wc[c * g.kc + j]) },
                                           c: c, b: b, o: o, col: col)
                    worst = max(worst, abs(Double(got) - want))
                }}}}
                #expect(worst <= 1e-5, "\(g): \(worst)")
            }
        }
        #expect(ran > 200)
    }

    /// A full kernel per channel, written or added to the output (`accumulate`), planes at channel
    /// strides with gaps between them (the gaps stay untouched), against the float64 loop.
    @Test(arguments: [false, true])
    func fullKernelMatchesPlainLoop(accumulate: Bool) throws {
        var rng = TestRandom(seed: accumulate ? 18_203 : 18_202)
        var ran = 0
        for width in Self.widths {
            for _ in 0..<4 {
                let g = Geometry(width: width, rng: &rng)
                guard g.valid else { continue }
                let inPlane = g.rows * width, outPlane = g.outRows * width
                let sourceStride = inPlane + rng.int(0...9), destinationStride = outPlane + rng.int(0...9)
                let kernelStride = g.kr * g.kc + rng.int(0...3)
                let x = rng.tensor([g.channels * sourceStride]).scalars
                let k = rng.tensor([g.channels * kernelStride]).scalars
                let before = accumulate ? rng.tensor([g.channels * destinationStride]).scalars
                    : [Float](repeating: 99, count: g.channels * destinationStride)
                var y = before
                let status = x.withUnsafeBufferPointer { xp in
                    y.withUnsafeMutableBufferPointer { yp in
                        k.withUnsafeBufferPointer { kp in
                            PlaneKernel.avx2.twoD(
                                xp.baseAddress!, sourceStride: sourceStride, yp.baseAddress!,
                                destinationStride: destinationStride, channels: Int32(g.channels), rows: Int32(g.rows),
                                width: Int32(width), outRows: Int32(g.outRows), kernels: kp.baseAddress!,
                                kernelStride: kernelStride, rowTaps: Int32(g.kr), rowPadding: Int32(g.pr),
                                rowDilation: Int32(g.dr), columnTaps: Int32(g.kc), columnPadding: Int32(g.pc),
                                columnDilation: Int32(g.dc), accumulate: accumulate)
                        }
                    }
                }
                #expect(status == 0, "\(g)")
                guard status == 0 else { continue }
                ran += 1
                // The loop reads plane c at c · sourceStride: one "plane" per channel, outer = 1.
                var worst = 0.0
                for c in 0..<g.channels {
                    for i in outPlane..<destinationStride {
                        #expect(y[c * destinationStride + i] == before[c * destinationStride + i], "\(g) gap")
                    }
                    for o in 0..<g.outRows { for col in 0..<width {
                        var want = accumulate ? Double(before[c * destinationStride + o * width + col]) : 0
                        for i in 0..<g.kr {
                            let r = o - g.pr + i * g.dr
                            guard r >= 0 && r < g.rows else { continue }
                            for j in 0..<g.kc {
                                let q = col - g.pc + j * g.dc
                                guard q >= 0 && q < width else { continue }
                                want += Double(k[c * kernelStride + i * g.kc + j]) * Double(x[c * sourceStride + r * width + q])
                            }
                        }
                        worst = max(worst, abs(Double(y[c * destinationStride + o * width + col]) - want))
                    }}
                }
                #expect(worst <= 1e-5, "\(g): \(worst)")
            }
        }
        #expect(ran > 150)
    }

    /// Widths whose lanes' columns repeat after more than 64 vectors, more than 8 taps, column
    /// taps reaching past 16 columns, columns that are not 'same', a width of 0: −1, nothing
    /// written; the rule is `fck_depthwise_plane_avx2_handles` (`takes`).
    @Test func refusesWhatItDoesNotTake() {
        for width in 1...600 {
            let gcd = [8, 4, 2, 1].first { width % $0 == 0 }!
            let takes = PlaneKernel.avx2.takes(width: width, rowTaps: 3, rowDilation: 1, columnTaps: 3,
                                               columnPadding: 1, columnDilation: 1)
            #expect(takes == (width / gcd <= 64), "width \(width)")
        }
        // (width, row taps, column taps, column padding, column dilation)
        let refused = [(65, 3, 3, 1, 1), (130, 3, 3, 1, 1), (520, 3, 3, 1, 1), (0, 3, 3, 1, 1), (14, 9, 3, 1, 1),
                       (14, 3, 9, 4, 1), (14, 3, 3, 17, 17), (14, 3, 3, 0, 1), (14, 0, 3, 1, 1), (14, 3, 3, 2, 1)]
        for (width, kr, kc, pc, dc) in refused {
            #expect(!PlaneKernel.avx2.takes(width: width, rowTaps: kr, rowDilation: 1, columnTaps: kc,
                                            columnPadding: pc, columnDilation: dc))
            let rows = 4, w = max(width, 1)
            let x = [Float](repeating: 1, count: rows * w), taps = [Float](repeating: 1, count: 81)
            var y = [Float](repeating: 99, count: rows * w)
            let status = x.withUnsafeBufferPointer { xp in
                y.withUnsafeMutableBufferPointer { yp in
                    taps.withUnsafeBufferPointer { tp in
                        PlaneKernel.avx2.plane(xp.baseAddress!, yp.baseAddress!, channels: 1, outer: 1, rows: Int32(rows),
                                               width: Int32(width), outRows: Int32(rows), rowWeights: tp.baseAddress!,
                                               rowTaps: Int32(kr), rowPadding: Int32(max(kr - 1, 0) / 2), rowDilation: 1,
                                               columnWeights: tp.baseAddress!, columnTaps: Int32(kc),
                                               columnPadding: Int32(pc), columnDilation: Int32(dc))
                    }
                }
            }
            #expect(status == -1 && y.allSatisfy { $0 == 99 }, "width \(width) kr \(kr) kc \(kc) pc \(pc)")
        }
    }
}
