import FactorConvKernels
@testable import FactorConvNumerics
import FactorConvTestSupport
import Testing

/// `fck_mode_conv_avx2` called directly against a float64 plain loop of its contract: every tap
/// count up to FCK_MODE_CONV_MAX_TAPS, output channel counts 1–70 (groups of 1–6 channels, split
/// sums below 4), every tail length of its 16-output passes, strides 1–3 (not on the innermost
/// mode), padding and dilation, the mode first, in the middle and last of 1-, 2- and 3-D blocks,
/// short innermost lines run as one flat run.
/// Channel strides leave gaps between the channels, and the input is surrounded by NaN (before,
/// between and after the channels): a read outside the contract's rows shows as a NaN or a wrong
/// value, a write outside them as a changed gap of the output.
@Suite(.enabled(if: AVX2.isAvailable, "needs AVX2 and FMA"))
struct ModeConvolutionAVX2Tests {
    /// One call's arguments (the buffers are made by `check`).
    struct Case: CustomStringConvertible {
        var cin = 1, cout = 1, outer = 1, size = 1, inner = 1, taps = 1, stride = 1, pad = 0, dilation = 1
        var bias = true
        /// Floats between one channel's end and the next channel's start, in the input and output.
        var inGap = 0, outGap = 0
        var outSize: Int { (size + 2 * pad - dilation * (taps - 1) - 1) / stride + 1 }
        var description: String {
            "cin \(cin) cout \(cout) outer \(outer) size \(size) inner \(inner) taps \(taps) stride \(stride) "
                + "pad \(pad) dilation \(dilation) bias \(bias) gaps \(inGap)/\(outGap)"
        }
    }

    /// Guard floats before the first input channel and after the last.
    static let guardFloats = 80
    /// The output's untouched value (gaps between channels).
    static let sentinel: Float = -7777

    /// Runs `c` on random data and checks every output against the float64 loop (relative to the
    /// sum of its terms' magnitudes) and every output gap against the sentinel.
    func check(_ c: Case, _ rng: inout TestRandom) {
        precondition(c.outSize >= 1, "\(c)")
        let inPlane = c.outer * c.size * c.inner, outPlane = c.outer * c.outSize * c.inner
        let inCS = inPlane + c.inGap, outCS = outPlane + c.outGap
        var input = [Float](repeating: .nan, count: Self.guardFloats * 2 + c.cin * inCS)
        for ch in 0..<c.cin {
            for i in 0..<inPlane { input[Self.guardFloats + ch * inCS + i] = Float(rng.int(-1000...1000)) / 1000 }
        }
        let weight = (0..<(c.cout * c.cin * c.taps)).map { _ in Float(rng.int(-1000...1000)) / 1000 }
        let bias = (0..<c.cout).map { _ in Float(rng.int(-1000...1000)) / 1000 }
        var output = [Float](repeating: Self.sentinel, count: c.cout * outCS)
        let status = input.withUnsafeBufferPointer { x in
            output.withUnsafeMutableBufferPointer { y in
                bias.withUnsafeBufferPointer { b in
                    fck_mode_conv_avx2(x.baseAddress! + Self.guardFloats, Int32(c.cin), inCS, y.baseAddress!,
                                       Int32(c.cout), outCS, Int32(c.outer), Int32(c.size), Int32(c.inner),
                                       Int32(c.outSize), weight, Int32(c.taps), Int32(c.stride), Int32(c.pad),
                                       Int32(c.dilation), c.bias ? b.baseAddress! : nil)
                }
            }
        }
        #expect(status == 0, "\(c)")
        var worst = 0.0, gapsChanged = 0
        for o in 0..<c.cout {
            for b in 0..<c.outer {
                for r in 0..<c.outSize {
                    for j in 0..<c.inner {
                        var sum = c.bias ? Double(bias[o]) : 0, magnitude = abs(sum)
                        for ch in 0..<c.cin {
                            for t in 0..<c.taps {
                                let row = r * c.stride - c.pad + t * c.dilation
                                guard row >= 0 && row < c.size else { continue }
                                let term = Double(weight[(o * c.cin + ch) * c.taps + t])
                                    * Double(input[Self.guardFloats + ch * inCS + (b * c.size + row) * c.inner + j])
                                sum += term
                                magnitude += abs(term)
                            }
                        }
                        let got = Double(output[o * outCS + (b * c.outSize + r) * c.inner + j])
                        let error = got.isFinite ? abs(got - sum) / max(magnitude, 1e-30) : .infinity
                        worst = max(worst, error)
                    }
                }
            }
            gapsChanged += output[(o * outCS + outPlane)..<(o * outCS + outCS)].filter { $0 != Self.sentinel }.count
        }
        #expect(worst <= 1e-5, "\(c): relative error \(worst)")
        #expect(gapsChanged == 0, "\(c): \(gapsChanged) floats written between output channels")
    }

    /// A random case along a mode of `layout` (the sizes before and after it in the block:
    /// outer 1 and inner 1 are the 1-D line).
    func randomCase(_ rng: inout TestRandom, taps: Int, cout: Int, outer: Int, inner: Int, stride: Int) -> Case {
        var c = Case()
        c.cin = rng.int(1...9)
        c.cout = cout
        c.taps = taps
        c.outer = outer
        c.inner = inner
        c.stride = stride
        c.dilation = rng.int(1...3)
        c.pad = rng.int(0...((taps - 1) * c.dilation + 1))
        c.size = max(1, c.dilation * (taps - 1) + 1 - 2 * c.pad) + rng.int(0...40)
        c.bias = rng.int(0...1) == 1
        c.inGap = rng.int(0...5)
        c.outGap = rng.int(0...5)
        return c
    }

    @Test func everyTapCount() {
        var rng = TestRandom(seed: 7300)
        for taps in 1...Int(FCK_MODE_CONV_MAX_TAPS) {
            // A line (the innermost mode) and rows (a strided mode before one of 1–20 floats).
            var line = randomCase(&rng, taps: taps, cout: rng.int(1...8), outer: rng.int(1...2), inner: 1, stride: 1)
            line.cin = rng.int(1...4)
            check(line, &rng)
            var rows = randomCase(&rng, taps: taps, cout: rng.int(1...8), outer: 1, inner: rng.int(2...20),
                                  stride: rng.int(1...3))
            rows.cin = rng.int(1...3)
            check(rows, &rng)
        }
    }

    @Test func everyOutputChannelCount() {
        var rng = TestRandom(seed: 7400)
        for cout in 1...70 {
            // The mode last (a line per block), in the middle, and first of a 3-D block.
            let inner = [1, rng.int(2...9), rng.int(10...40)][cout % 3]
            let stride = inner == 1 ? 1 : rng.int(1...3)
            var c = randomCase(&rng, taps: rng.int(1...5), cout: cout, outer: cout % 3 == 2 ? 1 : rng.int(1...5),
                               inner: inner, stride: stride)
            c.cin = cout % 9 + 1
            check(c, &rng)
        }
    }

    @Test func everyTailLength() {
        var rng = TestRandom(seed: 7500)
        // Stride 1: 1–48 outputs in a flat line (a line, or rows after a mode of 1–6 floats);
        // strided: rows of 2–49 floats, whose last pass covers every tail of 16 columns.
        for n in 1...48 {
            var line = randomCase(&rng, taps: rng.int(1...7), cout: rng.int(1...13), outer: rng.int(1...3), inner: 1,
                                  stride: 1)
            line.pad = rng.int(0...3)
            line.size = n + line.dilation * (line.taps - 1) - 2 * line.pad
            if line.size < 1 { line.pad = 0; line.size = n + line.dilation * (line.taps - 1) }
            check(line, &rng)
            let strided = randomCase(&rng, taps: rng.int(1...5), cout: rng.int(1...13), outer: rng.int(1...2),
                                     inner: n + 1, stride: rng.int(2...3))
            check(strided, &rng)
            let flat = randomCase(&rng, taps: rng.int(1...5), cout: rng.int(1...13), outer: 1, inner: rng.int(1...6),
                                  stride: 1)
            check(flat, &rng)
        }
    }

    @Test func stridesPaddingAndDilation() {
        var rng = TestRandom(seed: 7600)
        for stride in 1...3 {
            for dilation in 1...3 {
                for pad in 0...4 {
                    var c = randomCase(&rng, taps: rng.int(1...6), cout: rng.int(1...20), outer: rng.int(1...4),
                                       inner: rng.int(2...24), stride: stride)
                    c.dilation = dilation
                    c.pad = pad
                    c.size = max(1, dilation * (c.taps - 1) + 1 - 2 * pad) + rng.int(0...20)
                    check(c, &rng)
                }
            }
        }
    }

    @Test func shortLinesKeepingTheirLength() {
        // The innermost mode, 'same' padding, several lines shorter than FCK_SHORT_LINE: one
        // flat run masked per lane to each output's own line (lines of 1 to 40, and 127, 128).
        var rng = TestRandom(seed: 7700)
        for size in Array(1...40) + [127, 128] {
            let taps = 2 * rng.int(0...4) + 1
            var c = randomCase(&rng, taps: taps, cout: rng.int(1...13), outer: rng.int(2...5), inner: 1, stride: 1)
            c.size = size
            c.pad = (taps - 1) * c.dilation / 2
            check(c, &rng)
        }
    }

    @Test func refusesWithoutWriting() {
        // More taps than FCK_MODE_CONV_MAX_TAPS, and a strided innermost mode: -1, output untouched.
        let taps = Int(FCK_MODE_CONV_MAX_TAPS) + 1
        let x = [Float](repeating: 1, count: 200), w = [Float](repeating: 1, count: taps)
        var y = [Float](repeating: Self.sentinel, count: 200)
        #expect(fck_mode_conv_avx2(x, 1, 200, &y, 1, 200, 1, 200, 1, Int32(200 - taps + 1), w, Int32(taps), 1, 0, 1, nil) == -1)
        #expect(fck_mode_conv_avx2(x, 1, 200, &y, 1, 200, 1, 200, 1, 99, w, 3, 2, 0, 1, nil) == -1)
        #expect(y.allSatisfy { $0 == Self.sentinel })
    }
}
