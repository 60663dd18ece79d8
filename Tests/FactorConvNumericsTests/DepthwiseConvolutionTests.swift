@testable import FactorConvNumerics
import FactorConvTestSupport
import Testing

/// The per-mode depthwise convolution of CP's separable path — the AVX-512 and AVX2 kernels
/// (where available) and the portable Swift loops — against a float64 plain loop: orders 1–3, every
/// mode, random taps, stride, padding and dilation (including outputs whose taps all fall in
/// the padding), a channel range that skips the first channel.
@Suite struct DepthwiseConvolutionTests {
    @Test(arguments: DepthwiseKernel.available)
    func alongModeMatchesPlainLoop(kernel: DepthwiseKernel) throws {
        var rng = TestRandom(seed: 6100 + UInt64(kernel.rawValue))
        for _ in 0..<60 {
            let order = rng.int(1...3), mode = rng.int(0...(order - 1))
            let k = rng.int(1...9), s = rng.int(1...3), p = rng.int(0...3), d = rng.int(1...3)
            var spatial = (0..<order).map { _ in rng.int(1...6) }
            spatial[mode] = max(1, d * (k - 1) + 1 - 2 * p) + rng.int(0...40)
            try checkAlongMode(mode, spatial: spatial, taps: k, stride: s, padding: p, dilation: d,
                               kernel: kernel, rng: &rng)
        }
    }

    /// Stride-1 modes long enough that the kernel has vectors whose taps all fall inside (run
    /// unmasked) between its masked ends: lines of up to 200, rows of 63–100 floats (up to 64,
    /// a block of rows runs as one flat line), and a padding as wide as the mode.
    @Test(arguments: DepthwiseKernel.available)
    func longModesMatchPlainLoop(kernel: DepthwiseKernel) throws {
        var rng = TestRandom(seed: 6300 + UInt64(kernel.rawValue))
        for _ in 0..<30 {
            let k = rng.int(1...9), d = rng.int(1...2), size = rng.int(20...200)
            let p = rng.int(0...1) == 0 ? rng.int(0...(d * (k - 1))) : size
            try checkAlongMode(0, spatial: [size], taps: k, stride: 1, padding: p, dilation: d,
                               kernel: kernel, rng: &rng)
            let inner = [63, 64, 65, 100][rng.int(0...3)]
            try checkAlongMode(0, spatial: [d * (k - 1) + rng.int(1...9), inner], taps: k, stride: 1, padding: min(p, 4),
                               dilation: d, kernel: kernel, rng: &rng)
        }
    }

    /// The innermost mode at 'same' padding (output as long as the input), where the kernel runs
    /// all lines as one flat run with per-lane column masks: lines shorter and longer than a
    /// vector, and not a multiple of it, so that vectors straddle line ends in every phase.
    @Test(arguments: DepthwiseKernel.available)
    func sameLinesMatchPlainLoop(kernel: DepthwiseKernel) throws {
        var rng = TestRandom(seed: 6200 + UInt64(kernel.rawValue))
        for size in [1, 2, 3, 7, 14, 15, 16, 17, 31, 33, 56] {
            // 6 and 8 taps (dilation 2) run the kernel's runtime-count loop, 9 line by line.
            for (k, d) in [(1, 1), (3, 1), (3, 2), (5, 1), (5, 3), (6, 2), (8, 2), (9, 1)] where d * (k - 1) % 2 == 0 {
                let lines = rng.int(1...5), order = rng.int(2...3)
                let spatial = (order == 3 ? [rng.int(1...3)] : []) + [lines, size]
                try checkAlongMode(order - 1, spatial: spatial, taps: k, stride: 1, padding: d * (k - 1) / 2, dilation: d,
                                   kernel: kernel, rng: &rng)
            }
        }
    }
}

/// The implementations of `DepthwiseConvolution.alongMode`: the portable Swift loops, and the
/// kernels this CPU runs.
enum DepthwiseKernel: Int, CustomStringConvertible {
    case portable = 0, avx512 = 1, avx2 = 2
    static var available: [DepthwiseKernel] {
        [.portable] + (AVX512.isAvailable ? [.avx512] : []) + (AVX2.isAvailable ? [.avx2] : [])
    }
    var description: String { ["portable", "avx512", "avx2"][rawValue] }
    /// The kernel set `DepthwiseConvolution.alongMode` takes (nil: portable).
    var set: KernelSet? { [nil, .avx512, .avx2][rawValue] }
}

/// `DepthwiseConvolution.alongMode` on random channels (all but the first, which must stay
/// untouched) against a float64 plain loop.
private func checkAlongMode(_ mode: Int, spatial: [Int], taps k: Int, stride s: Int, padding p: Int, dilation d: Int,
                            kernel: DepthwiseKernel, rng: inout TestRandom) throws {
    let order = spatial.count, channels = rng.int(2...4)
    /// `v` along the mode, the trivial `other` elsewhere.
    func along(_ v: Int, other: Int) -> [Int] { (0..<order).map { $0 == mode ? v : other } }
    let geometry = try ConvGeometry(order: order, stride: along(s, other: 1), padding: along(p, other: 0),
                                    dilation: along(d, other: 1))
    let outSize = (spatial[mode] + 2 * p - d * (k - 1) - 1) / s + 1
    var outSpatial = spatial
    outSpatial[mode] = outSize
    let x = rng.tensor([channels] + spatial), w = rng.tensor([channels, k])
    let outer = spatial[..<mode].reduce(1, *), inner = spatial[(mode + 1)...].reduce(1, *)
    let outCount = outer * outSize * inner
    var y = [Float](repeating: 99, count: channels * outCount)
    x.scalars.withUnsafeBufferPointer { xp in
        w.scalars.withUnsafeBufferPointer { wp in
            y.withUnsafeMutableBufferPointer { yp in
                DepthwiseConvolution.alongMode(mode, input: xp.baseAddress!, spatial: spatial, taps: wp.baseAddress!,
                                               kernel: k, geometry: geometry, outputSpatial: outSpatial,
                                               output: yp.baseAddress!, channels: 1..<channels, kernels: kernel.set)
            }
        }
    }
    var worst = 0.0
    for c in 0..<channels {
        for a in 0..<outer {
            for o in 0..<outSize {
                for j in 0..<inner {
                    let got = Double(y[c * outCount + (a * outSize + o) * inner + j])
                    guard c > 0 else { #expect(got == 99); continue }
                    var want = 0.0
                    for t in 0..<k {
                        let i = o * s - p + t * d
                        guard i >= 0 && i < spatial[mode] else { continue }
                        want += Double(w.scalars[c * k + t]) * Double(x.scalars[c * outer * spatial[mode] * inner + (a * spatial[mode] + i) * inner + j])
                    }
                    worst = max(worst, abs(got - want))
                }
            }
        }
    }
    #expect(worst <= 1e-5, "spatial \(spatial) mode \(mode) k \(k) s \(s) p \(p) d \(d)")
}
