@testable import FactorConvNumerics
import FactorConvTestSupport
import Testing

/// The per-row Winograd transforms of `WinogradTiles` on every instruction set the CPU runs
/// (AVX-512, AVX2) against the portable path (`kernels: nil`): row widths and tile counts
/// around the vector widths, left and right padding, padding rows, odd widths; nothing past the
/// outputs may change.
@Suite(.enabled(if: !KernelSet.available.isEmpty, "needs AVX-512 or AVX2"))
struct WinogradTransformKernelTests {
    private func close(_ a: [Float], _ b: [Float]) -> Bool {
        zip(a, b).allSatisfy { abs($0 - $1) <= 1e-5 * max(1, abs($0)) }
    }

    @Test(arguments: KernelSet.available)
    func deinterleave(kernels: KernelSet) {
        var rng = TestRandom(seed: 6100)
        for width in [1, 2, 3, 7, 15, 16, 17, 31, 32, 33, 56, 57] {
            for pad in [-5, -1, 0, 1, 2, 3] {
                for count in [1, 8, 9, (width + 1) / 2 + 2, width + 3] {
                    let x = rng.tensor([width]).scalars
                    for row in [true, false] {
                        var out = [[Float]]()
                        for k in [nil, kernels] as [KernelSet?] {
                            var buffer = [Float](repeating: 12345, count: 2 * count + 3)
                            x.withUnsafeBufferPointer { xp in
                                buffer.withUnsafeMutableBufferPointer { b in
                                    WinogradTiles.deinterleave(row ? xp.baseAddress! : nil, width: width, pad: pad,
                                                               count: count, even: b.baseAddress!,
                                                               odd: b.baseAddress! + count + 1, kernels: k)
                                }
                            }
                            out.append(buffer)
                        }
                        #expect(out[0] == out[1], "\(kernels) width \(width) pad \(pad) count \(count) row \(row)")
                    }
                }
            }
        }
    }

    @Test(arguments: KernelSet.available)
    func planarTransforms(kernels: KernelSet) {
        var rng = TestRandom(seed: 6200)
        for tiles in [1, 2, 7, 8, 9, 15, 16, 17, 28, 33] {
            // Input: 4 rows of even and odd arrays, tiles + 1 long, padded row stride.
            let rowStride = tiles + 1 + rng.int(0...3), xiStride = tiles + rng.int(0...3)
            let even = rng.tensor([4 * rowStride]).scalars, odd = rng.tensor([4 * rowStride]).scalars
            var results = [[Float]]()
            for k in [nil, kernels] as [KernelSet?] {
                var v = [Float](repeating: 12345, count: 16 * xiStride + 2)
                even.withUnsafeBufferPointer { e in
                    odd.withUnsafeBufferPointer { o in
                        v.withUnsafeMutableBufferPointer { vp in
                            WinogradTiles.inputTiles(even: e.baseAddress!, odd: o.baseAddress!, rowStride: rowStride,
                                                     tiles: tiles, v: vp.baseAddress!, xiStride: xiStride, kernels: k)
                        }
                    }
                }
                results.append(v)
            }
            #expect(close(results[0], results[1]), "\(kernels) input transform, tiles \(tiles)")

            // Output: products channel-major, two rows (or one at the output's end), odd widths.
            let m = rng.tensor([16 * xiStride]).scalars, bias = rng.tensor([1]).scalars[0]
            for width in [2 * tiles, 2 * tiles - 1] {
                for twoRows in [true, false] {
                    var outs = [[Float]]()
                    for k in [nil, kernels] as [KernelSet?] {
                        var out = [Float](repeating: 12345, count: 2 * (width + 3))
                        m.withUnsafeBufferPointer { mp in
                            out.withUnsafeMutableBufferPointer { op in
                                WinogradTiles.outputTiles(m: mp.baseAddress!, xiStride: xiStride, tiles: tiles, bias: bias,
                                                          width: width, row0: op.baseAddress!,
                                                          row1: twoRows ? op.baseAddress! + width + 3 : nil, kernels: k)
                            }
                        }
                        outs.append(out)
                    }
                    #expect(close(outs[0], outs[1]), "\(kernels) output transform, tiles \(tiles) width \(width)")
                }
            }
        }
    }

    @Test(arguments: [3, 5], KernelSet.available)
    func lineInputTransform(taps: Int, kernels: KernelSet) {
        var rng = TestRandom(seed: UInt64(6300 + taps))
        for tiles in [1, 2, 7, 8, 9, 15, 16, 17, 33, 512] {
            let xiStride = tiles + rng.int(0...3), phases = tiles + 3
            let even = rng.tensor([phases]).scalars, odd = rng.tensor([phases]).scalars
            var results = [[Float]]()
            for k in [nil, kernels] as [KernelSet?] {
                var v = [Float](repeating: 12345, count: (taps + 1) * xiStride + 2)
                even.withUnsafeBufferPointer { e in
                    odd.withUnsafeBufferPointer { o in
                        v.withUnsafeMutableBufferPointer { vp in
                            WinogradTiles.lineInputTiles(taps: taps, even: e.baseAddress!, odd: o.baseAddress!, tiles: tiles,
                                                         v: vp.baseAddress!, xiStride: xiStride, kernels: k)
                        }
                    }
                }
                results.append(v)
            }
            #expect(close(results[0], results[1]), "\(kernels) F(2, \(taps)) input transform, tiles \(tiles)")
        }
    }
}
