/// im2col for N-D convolutions: gathers, for a range of output positions of one image, every
/// input value each kernel tap sees, so the convolution becomes one GEMM with the kernel.
struct Im2Col {
    let problem: ConvProblem
    /// Positions of the output covered by the column block: [start, start + count).
    let start: Int
    let count: Int

    /// One run of output positions along the innermost spatial dimension.
    private struct Segment {
        var column: Int          // first column of the block it fills
        var innerStart: Int      // innermost output coordinate of its first position
        var length: Int
        var outerIndex: Int      // index of its outer output coordinates in `outerCoords`
    }

    /// Fills rows `rows` of the column block `col` (row-major, `count` columns) from `image`
    /// (C_in × ΠS, row-major). Row r = c·ΠK + (flattened kernel tap), the weight's layout.
    func fill(image: UnsafePointer<Float>, col: UnsafeMutablePointer<Float>, rows: Range<Int>) {
        let n = problem.order
        let inner = problem.outputSpatial[n - 1]
        let s = problem.geometry.stride, pad = problem.geometry.padding, dil = problem.geometry.dilation
        let sizes = problem.inputSpatial, kernel = problem.kernel
        let inStrides = Tensor<Float>.rowMajorStrides(sizes)
        let imageStride = sizes.reduce(1, *)
        let taps = problem.kernelVolume

        // Split the block into runs along the innermost output dimension, remembering the
        // outer output coordinates of each run.
        var segments = [Segment]()
        var outerCoords = [Int]()
        var p = start, filled = 0
        while filled < count {
            let line = p / inner, innerStart = p % inner
            let length = min(inner - innerStart, count - filled)
            var rest = line
            var coords = [Int](repeating: 0, count: n - 1)
            for d in stride(from: n - 2, through: 0, by: -1) {
                coords[d] = rest % problem.outputSpatial[d]
                rest /= problem.outputSpatial[d]
            }
            segments.append(Segment(column: filled, innerStart: innerStart, length: length, outerIndex: outerCoords.count))
            outerCoords += coords
            filled += length
            p += length
        }

        let lastSize = sizes[n - 1], lastStride = s[n - 1]
        var tap = [Int](repeating: 0, count: n)
        for r in rows {
            let channel = r / taps
            var rem = r % taps
            for d in stride(from: n - 1, through: 0, by: -1) {
                tap[d] = rem % kernel[d]
                rem /= kernel[d]
            }
            let channelBase = image + channel * imageStride
            let dst = col + r * count
            let base = tap[n - 1] * dil[n - 1] - pad[n - 1]
            for seg in segments {
                let out = dst + seg.column
                var offset = 0
                var valid = true
                for d in 0..<(n - 1) {
                    let i = outerCoords[seg.outerIndex + d] * s[d] - pad[d] + tap[d] * dil[d]
                    if i < 0 || i >= sizes[d] { valid = false; break }
                    offset += i * inStrides[d]
                }
                if !valid {
                    out.update(repeating: 0, count: seg.length)
                    continue
                }
                let line = channelBase + offset
                if lastStride == 1 {
                    // Input index = o + base: one contiguous copy between two zero-filled edges.
                    let o0 = seg.innerStart, o1 = seg.innerStart + seg.length
                    let lo = min(max(o0, -base), o1), hi = max(min(o1, lastSize - base), lo)
                    if lo > o0 { out.update(repeating: 0, count: lo - o0) }
                    if hi > lo { (out + (lo - o0)).update(from: line + (lo + base), count: hi - lo) }
                    if o1 > hi { (out + (hi - o0)).update(repeating: 0, count: o1 - hi) }
                } else {
                    var i = seg.innerStart * lastStride + base
                    for j in 0..<seg.length {
                        out[j] = (i >= 0 && i < lastSize) ? line[i] : 0
                        i += lastStride
                    }
                }
            }
        }
    }
}
