@testable import FactorConvNumerics
import FactorConvTestSupport
import Testing

/// The output transforms of tile-major products (`WinogradTiles.tileMajorOutput`,
/// `tileMajorLineOutput`) on every instruction set the CPU runs, against Aᵀ m A (Aᵀ m) computed
/// in float64 from the definition: channel counts around the vector widths, tile counts around
/// the 8- and 16-tile blocks, odd output widths and row counts (clipped tiles), padded strides,
/// with and without bias; nothing outside the output may change.
@Suite(.enabled(if: PackedGemm.isAvailable, "needs AVX-512 or AVX2"))
struct WinogradTileMajorOutputTests {
    static let kernels = KernelSet.available

    @Test(arguments: kernels)
    func planarMatchesDefinition(kernel: KernelSet) {
        var rng = TestRandom(seed: 5100)
        let at: [[Double]] = [[1, 1, 1, 0], [0, 1, -1, -1]]
        for channels in [1, 3, 7, 8, 9, 16, 17, 33] {
            for tiles in [1, 2, 7, 8, 9, 15, 16, 17, 25] {
                let tileRows = rng.int(1...3), tileStride = channels + rng.int(0...3)
                let xiStride = tileRows * tiles * tileStride + rng.int(0...5)
                let width = 2 * tiles - rng.int(0...1), rows = 2 * tileRows - rng.int(0...1)
                let planeStride = rows * width + rng.int(0...4)
                let m = rng.tensor([16 * xiStride]).scalars
                let bias: [Float]? = rng.int(0...1) == 0 ? nil : rng.tensor([channels]).scalars
                let sentinel: Float = 12345
                var out = [Float](repeating: sentinel, count: channels * planeStride)
                let biasValues = bias ?? [0]
                m.withUnsafeBufferPointer { mp in
                    biasValues.withUnsafeBufferPointer { bp in
                        out.withUnsafeMutableBufferPointer { op in
                            WinogradTiles.tileMajorOutput(mp.baseAddress!, xiStride: xiStride, tileStride: tileStride,
                                                          tiles: tiles, tileRows: tileRows, channels: channels,
                                                          bias: bias == nil ? nil : bp.baseAddress!,
                                                          output: op.baseAddress!, planeStride: planeStride, width: width,
                                                          rows: rows, kernel: kernel)
                        }
                    }
                }
                var worst = 0.0, untouched = true
                for c in 0..<channels {
                    for i in 0..<planeStride {
                        let got = out[c * planeStride + i]
                        let (y, x) = (i / width, i % width)
                        guard i < rows * width else { untouched = untouched && got == sentinel; continue }
                        let (tr, r, t, j) = (y / 2, y % 2, x / 2, x % 2)
                        var want = Double(bias?[c] ?? 0)
                        for a in 0..<4 {
                            for bb in 0..<4 {
                                let xi = 4 * a + bb
                                want += at[r][a] * at[j][bb] * Double(m[xi * xiStride + (tr * tiles + t) * tileStride + c])
                            }
                        }
                        worst = max(worst, abs(Double(got) - want))
                    }
                }
                #expect(untouched, "\(kernel) channels \(channels) tiles \(tiles) wrote outside the output")
                #expect(worst <= 1e-5, "\(kernel) channels \(channels) tiles \(tiles) rows \(rows) width \(width)")
            }
        }
    }

    @Test(arguments: [3, 5], kernels)
    func lineMatchesDefinition(taps: Int, kernel: KernelSet) {
        var rng = TestRandom(seed: UInt64(5200 + taps))
        let at: [[Double]] = taps == 3 ? [[1, 1, 1, 0], [0, 1, -1, 1]] : [[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 1]]
        let alpha = taps + 1
        for channels in [1, 3, 7, 8, 9, 16, 17, 33] {
            for tiles in [1, 2, 7, 8, 9, 15, 16, 17, 25] {
                let tileStride = channels + rng.int(0...3), xiStride = tiles * tileStride + rng.int(0...5)
                let width = 2 * tiles - rng.int(0...1), planeStride = width + rng.int(0...4)
                let m = rng.tensor([alpha * xiStride]).scalars
                let bias: [Float]? = rng.int(0...1) == 0 ? nil : rng.tensor([channels]).scalars
                let sentinel: Float = 12345
                var out = [Float](repeating: sentinel, count: channels * planeStride)
                let biasValues = bias ?? [0]
                m.withUnsafeBufferPointer { mp in
                    biasValues.withUnsafeBufferPointer { bp in
                        out.withUnsafeMutableBufferPointer { op in
                            WinogradTiles.tileMajorLineOutput(taps: taps, m: mp.baseAddress!, xiStride: xiStride,
                                                              tileStride: tileStride, tiles: tiles, channels: channels,
                                                              bias: bias == nil ? nil : bp.baseAddress!,
                                                              output: op.baseAddress!, planeStride: planeStride,
                                                              width: width, kernel: kernel)
                        }
                    }
                }
                var worst = 0.0, untouched = true
                for c in 0..<channels {
                    for x in 0..<planeStride {
                        let got = out[c * planeStride + x]
                        guard x < width else { untouched = untouched && got == sentinel; continue }
                        var want = Double(bias?[c] ?? 0)
                        for xi in 0..<alpha { want += at[x % 2][xi] * Double(m[xi * xiStride + (x / 2) * tileStride + c]) }
                        worst = max(worst, abs(Double(got) - want))
                    }
                }
                #expect(untouched, "\(kernel) F(2, \(taps)) channels \(channels) tiles \(tiles) wrote outside the output")
                #expect(worst <= 1e-5, "\(kernel) F(2, \(taps)) channels \(channels) tiles \(tiles) width \(width)")
            }
        }
    }
}
