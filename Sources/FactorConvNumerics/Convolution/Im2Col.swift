/// im2col for N-D convolutions: gathers, for a range of output positions of one image, every
/// input value each kernel tap sees, so the convolution becomes one GEMM with the kernel.
///
/// The block is cut into runs along the innermost output dimension; for each run the outer
/// input coordinates are precomputed once, so the per-row work is a range check and a copy.
struct Im2Col {
    let problem: ConvProblem
    /// Positions of the output covered by the column block: [start, start + count).
    let start: Int
    let count: Int

    /// Fills rows `rows` of the column block `col` (row-major, `count` columns) from `image`
    /// (C_in × ΠS, row-major). Row r = c·ΠK + (flattened kernel tap), the weight's layout.
    func fill(image: UnsafePointer<Float>, col: UnsafeMutablePointer<Float>, rows: Range<Int>) {
        let n = problem.order, outer = n - 1
        let inner = problem.outputSpatial[outer]
        let geometry = problem.geometry
        let taps = problem.kernelVolume
        let imageStride = problem.inputSpatial.reduce(1, *)
        let inStrides = Tensor<Float>.rowMajorStrides(problem.inputSpatial)

        // Runs: (first column, first inner output coordinate, length) and, per outer
        // dimension, the input coordinate of tap 0 (o·s − p).
        var runColumn = [Int](), runInner = [Int](), runLength = [Int](), runOrigin = [Int]()
        var p = start, filled = 0
        while filled < count {
            let line = p / inner, innerStart = p % inner
            let length = min(inner - innerStart, count - filled)
            var rest = line
            var origin = [Int](repeating: 0, count: outer)
            for d in stride(from: outer - 1, through: 0, by: -1) {
                let o = rest % problem.outputSpatial[d]
                rest /= problem.outputSpatial[d]
                origin[d] = o * geometry.stride[d] - geometry.padding[d]
            }
            runColumn.append(filled); runInner.append(innerStart); runLength.append(length)
            runOrigin += origin
            filled += length
            p += length
        }
        let runs = runColumn.count

        let lastSize = problem.inputSpatial[outer], lastStride = geometry.stride[outer]
        var tap = [Int](repeating: 0, count: n)
        runColumn.withUnsafeBufferPointer { column in
        runInner.withUnsafeBufferPointer { innerStart in
        runLength.withUnsafeBufferPointer { length in
        runOrigin.withUnsafeBufferPointer { origin in
        problem.inputSpatial.withUnsafeBufferPointer { sizes in
        inStrides.withUnsafeBufferPointer { strides in
        tap.withUnsafeMutableBufferPointer { tap in
            var tapOffset = [Int](repeating: 0, count: max(outer, 1))
            for r in rows {
                let channel = r / taps
                var rem = r % taps
                for d in stride(from: n - 1, through: 0, by: -1) {
                    tap[d] = rem % problem.kernel[d]
                    rem /= problem.kernel[d]
                }
                for d in 0..<outer { tapOffset[d] = tap[d] * geometry.dilation[d] }
                let channelBase = image + channel * imageStride
                let dst = col + r * count
                let base = tap[outer] * geometry.dilation[outer] - geometry.padding[outer]
                for run in 0..<runs {
                    let out = dst + column[run]
                    let len = length[run]
                    var offset = 0
                    var valid = true
                    let o = run * outer
                    for d in 0..<outer {
                        let i = origin[o + d] + tapOffset[d]
                        if i < 0 || i >= sizes[d] { valid = false; break }
                        offset += i * strides[d]
                    }
                    if !valid {
                        out.update(repeating: 0, count: len)
                        continue
                    }
                    let line = channelBase + offset
                    if lastStride == 1 {
                        // Input index = o + base: one contiguous copy between zero-filled edges.
                        let o0 = innerStart[run], o1 = o0 + len
                        let lo = min(max(o0, -base), o1), hi = max(min(o1, lastSize - base), lo)
                        if lo > o0 { out.update(repeating: 0, count: lo - o0) }
                        if hi > lo { (out + (lo - o0)).update(from: line + (lo + base), count: hi - lo) }
                        if o1 > hi { (out + (hi - o0)).update(repeating: 0, count: o1 - hi) }
                    } else {
                        var i = innerStart[run] * lastStride + base
                        for j in 0..<len {
                            out[j] = (i >= 0 && i < lastSize) ? line[i] : 0
                            i += lastStride
                        }
                    }
                }
            }
        }}}}}}}
    }
}
