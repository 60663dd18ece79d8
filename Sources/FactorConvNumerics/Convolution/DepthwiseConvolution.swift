import FactorConvKernels

/// Depthwise N-D convolution of one image: channel c is convolved with its own kernel
/// `taps[c, k_1..k_N]` (PyTorch `groups = channels`, one filter per group).
///
/// Computed tap by tap as shifted, scaled accumulations over the valid output range, so each
/// inner loop is a unit-stride (or strided) axpy along the innermost dimension. A kernel that is
/// 1 along all but one dimension is the per-mode 1-D depthwise conv of the CP separable path.
enum DepthwiseConvolution {
    /// Convolves channels `channels` of `input` (C × ΠS) into `output` (C × ΠS').
    /// `taps` is (C × ΠK) row-major. Sizes are validated by the caller.
    static func forward(input: UnsafePointer<Float>, spatial: [Int], taps: UnsafePointer<Float>, kernel: [Int],
                        geometry: ConvGeometry, outputSpatial: [Int], output: UnsafeMutablePointer<Float>,
                        channels: Range<Int>) {
        // The separable CP path convolves along one mode at a time: a faster dedicated kernel.
        let modes = activeModes(kernel: kernel, geometry: geometry)
        if modes.count == 1 {
            alongMode(modes[0], input: input, spatial: spatial, taps: taps, kernel: kernel[modes[0]], geometry: geometry,
                      outputSpatial: outputSpatial, output: output, channels: channels)
            return
        }
        if modes.suffix(2) == [spatial.count - 2, spatial.count - 1],
           overLastTwoModes(input: input, spatial: spatial, taps: taps, kernel: kernel, geometry: geometry,
                            outputSpatial: outputSpatial, output: output, channels: channels) {
            return
        }
        let n = spatial.count
        let inCount = spatial.reduce(1, *), outCount = outputSpatial.reduce(1, *)
        let tapCount = kernel.reduce(1, *)
        let inStrides = Tensor<Float>.rowMajorStrides(spatial), outStrides = Tensor<Float>.rowMajorStrides(outputSpatial)
        let s = geometry.stride, p = geometry.padding, d = geometry.dilation
        var tap = [Int](repeating: 0, count: n)
        var lo = [Int](repeating: 0, count: n), hi = [Int](repeating: 0, count: n)
        var index = [Int](repeating: 0, count: n)
        let lastStride = s[n - 1]

        for c in channels {
            let src = input + c * inCount, dst = output + c * outCount
            dst.update(repeating: 0, count: outCount)
            for t in 0..<tapCount {
                let w = taps[c * tapCount + t]
                if w == 0 { continue }
                var rest = t
                for k in stride(from: n - 1, through: 0, by: -1) { tap[k] = rest % kernel[k]; rest /= kernel[k] }
                // Valid outputs: 0 <= o*s - p + tap*d < S  per dimension.
                var empty = false
                for k in 0..<n {
                    let shift = tap[k] * d[k] - p[k]           // input index = o*s + shift
                    lo[k] = shift >= 0 ? 0 : (-shift + s[k] - 1) / s[k]
                    hi[k] = min(outputSpatial[k], spatial[k] - shift <= 0 ? 0 : (spatial[k] - 1 - shift) / s[k] + 1)
                    if lo[k] >= hi[k] { empty = true; break }
                }
                if empty { continue }
                // Odometer over the outer dimensions; the innermost one is the axpy.
                for k in 0..<n { index[k] = lo[k] }
                let innerLength = hi[n - 1] - lo[n - 1]
                let innerShift = tap[n - 1] * d[n - 1] - p[n - 1]
                while true {
                    var srcOffset = 0, dstOffset = 0
                    for k in 0..<(n - 1) {
                        srcOffset += (index[k] * s[k] + tap[k] * d[k] - p[k]) * inStrides[k]
                        dstOffset += index[k] * outStrides[k]
                    }
                    let o0 = lo[n - 1]
                    let out = dst + dstOffset + o0
                    let inp = src + srcOffset + o0 * lastStride + innerShift
                    if lastStride == 1 {
                        for j in 0..<innerLength { out[j] += w * inp[j] }
                    } else {
                        for j in 0..<innerLength { out[j] += w * inp[j * lastStride] }
                    }
                    var k = n - 2
                    while k >= 0 {
                        index[k] += 1
                        if index[k] < hi[k] { break }
                        index[k] = lo[k]
                        k -= 1
                    }
                    if k < 0 { break }
                }
            }
        }
    }
}

extension DepthwiseConvolution {
    /// The modes a depthwise kernel acts along: more than one tap, or padding, stride or dilation.
    static func activeModes(kernel: [Int], geometry: ConvGeometry) -> [Int] {
        (0..<kernel.count).filter { kernel[$0] != 1 || !ForwardGeometry.trivial(geometry, $0) }
    }

    /// A kernel whose last two modes are the rows (stride 1) and the columns ('same', stride 1),
    /// with any outer modes (CP's mobilenet path): for each outer output position, the kernel's
    /// 2-D slice at each valid outer tap in one pass (`PlaneKernel.twoD`), the first written and
    /// the rest added, by `kernel` (default: the one this CPU runs, `KernelSet.best`).
    /// False (nothing written) when `kernel` is nil or does not take the shape. It replaces the
    /// tap-by-tap loops above, which re-read the output once per tap, and gains most on 3-D
    /// kernels (more taps per output).
    static func overLastTwoModes(input: UnsafePointer<Float>, spatial: [Int], taps: UnsafePointer<Float>, kernel: [Int],
                                 geometry: ConvGeometry, outputSpatial: [Int], output: UnsafeMutablePointer<Float>,
                                 channels: Range<Int>, kernel planeKernel: PlaneKernel? = KernelSet.best) -> Bool {
        let n = spatial.count, rows = n - 2, columns = n - 1
        let s = geometry.stride, p = geometry.padding, d = geometry.dilation
        guard let planeKernel, s[rows] == 1, s[columns] == 1, outputSpatial[columns] == spatial[columns],
              planeKernel.takes(width: spatial[columns], rowTaps: kernel[rows], rowDilation: d[rows],
                                columnTaps: kernel[columns], columnPadding: p[columns], columnDilation: d[columns])
        else { return false }
        guard !channels.isEmpty else { return true }
        let inPlane = spatial[rows] * spatial[columns], outPlane = outputSpatial[rows] * spatial[columns]
        let inCount = spatial.reduce(1, *), outCount = outputSpatial.reduce(1, *)
        let slice = kernel[rows] * kernel[columns], volume = kernel.reduce(1, *)
        let outerOutputs = outputSpatial[..<rows].reduce(1, *), outerTaps = kernel[..<rows].reduce(1, *)
        let c = channels.lowerBound
        for o in 0..<outerOutputs {
            let out = output + c * outCount + o * outPlane
            var written = false
            for t in 0..<outerTaps {
                // The input plane of outer output o and outer tap t (row-major multi-indices).
                var plane = 0, restO = o, restT = t, scale = 1, valid = true
                for m in stride(from: rows - 1, through: 0, by: -1) {
                    let i = restO % outputSpatial[m] * s[m] - p[m] + restT % kernel[m] * d[m]
                    restO /= outputSpatial[m]
                    restT /= kernel[m]
                    guard i >= 0 && i < spatial[m] else { valid = false; break }
                    plane += i * scale
                    scale *= spatial[m]
                }
                guard valid else { continue }
                let status = planeKernel.twoD(
                    input + c * inCount + plane * inPlane, sourceStride: inCount, out, destinationStride: outCount,
                    channels: Int32(channels.count), rows: Int32(spatial[rows]), width: Int32(spatial[columns]),
                    outRows: Int32(outputSpatial[rows]), kernels: taps + c * volume + t * slice, kernelStride: volume,
                    rowTaps: Int32(kernel[rows]), rowPadding: Int32(p[rows]), rowDilation: Int32(d[rows]),
                    columnTaps: Int32(kernel[columns]), columnPadding: Int32(p[columns]),
                    columnDilation: Int32(d[columns]), accumulate: written)
                precondition(status == 0, "the \(planeKernel) 2-D kernel refused a case takes(width:...) accepted")
                written = true
            }
            if !written {   // every outer tap in the padding
                for k in 0..<channels.count { (out + k * outCount).update(repeating: 0, count: outPlane) }
            }
        }
        return true
    }
}

/// Per-dimension geometry predicates.
enum ForwardGeometry {
    /// True when dimension `d` has stride 1, padding 0 and dilation 1.
    static func trivial(_ g: ConvGeometry, _ d: Int) -> Bool {
        g.stride[d] == 1 && g.padding[d] == 0 && g.dilation[d] == 1
    }
}

extension DepthwiseConvolution {
    /// Depthwise 1-D convolution along spatial dimension `mode` (every other dimension has a
    /// single tap and trivial geometry, so its size is unchanged). Each output row along the
    /// mode is written once as a weighted sum of its valid input rows — contiguous blocks of
    /// the dimensions after `mode`, so the inner loops are unit-stride and vectorize. With
    /// `kernels` (default: the best the CPU has) AVX-512, `fck_depthwise_mode` instead, which
    /// accumulates each output over the taps in registers and writes it once (these per-tap
    /// passes at the baseline SSE width read and write the output once per tap); with AVX2,
    /// its 8-wide counterpart `fck_depthwise_mode_avx2`; with nil, the portable loops below.
    static func alongMode(_ mode: Int, input: UnsafePointer<Float>, spatial: [Int], taps: UnsafePointer<Float>, kernel k: Int,
                          geometry: ConvGeometry, outputSpatial: [Int], output: UnsafeMutablePointer<Float>,
                          channels: Range<Int>, kernels: KernelSet? = KernelSet.best) {
        let outer = spatial[..<mode].reduce(1, *), inner = spatial[(mode + 1)...].reduce(1, *)
        let size = spatial[mode], outSize = outputSpatial[mode]
        let s = geometry.stride[mode], p = geometry.padding[mode], d = geometry.dilation[mode]
        let inCount = outer * size * inner, outCount = outer * outSize * inner
        if kernels == .avx512 {
            for c in channels {
                fck_depthwise_mode(input + c * inCount, output + c * outCount, Int32(outer), Int32(size), Int32(inner),
                                   Int32(outSize), taps + c * k, Int32(k), Int32(s), Int32(p), Int32(d))
            }
            return
        }
        if kernels == .avx2 {
            for c in channels {
                fck_depthwise_mode_avx2(input + c * inCount, output + c * outCount, Int32(outer), Int32(size), Int32(inner),
                                        Int32(outSize), taps + c * k, Int32(k), Int32(s), Int32(p), Int32(d))
            }
            return
        }
        for c in channels {
            let w = taps + c * k
            for block in 0..<outer {
                let src = input + c * inCount + block * size * inner
                let dst = output + c * outCount + block * outSize * inner
                if inner == 1 && s == 1 {
                    // Innermost mode, stride 1: one vectorizable axpy over the line per tap.
                    dst.update(repeating: 0, count: outSize)
                    for t in 0..<k {
                        let shift = t * d - p
                        let lo = max(0, -shift), hi = min(outSize, size - shift)
                        let wt = w[t]
                        guard hi > lo else { continue }
                        // Zero-based loops over offset pointers vectorize (no index overflow checks).
                        let out = dst + lo, inp = src + (lo + shift)
                        for j in 0..<(hi - lo) { out[j] += wt * inp[j] }
                    }
                    continue
                }
                if inner == 1 {
                    // Innermost mode, strided: one dot product per output element.
                    for o in 0..<outSize {
                        var acc: Float = 0
                        var i = o * s - p
                        for t in 0..<k {
                            if i >= 0 && i < size { acc += w[t] * src[i] }
                            i += d
                        }
                        dst[o] = acc
                    }
                    continue
                }
                for o in 0..<outSize {
                    let out = dst + o * inner
                    var first = true
                    var i = o * s - p
                    for t in 0..<k {
                        defer { i += d }
                        guard i >= 0 && i < size else { continue }
                        let row = src + i * inner, wt = w[t]
                        if first {
                            for j in 0..<inner { out[j] = wt * row[j] }
                            first = false
                        } else {
                            for j in 0..<inner { out[j] += wt * row[j] }
                        }
                    }
                    if first { out.update(repeating: 0, count: inner) }
                }
            }
        }
    }
}
