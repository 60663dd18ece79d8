import FactorConvKernels

/// The per-row kernels of F(4×4, 3×3)'s input and output transforms (`WinogradConvolution` with
/// 4×4 output tiles): a portable scalar path, and with `kernels` non-nil the AVX2 kernels of
/// `FactorConvKernels` (which AVX-512 CPUs run too), 8 tiles or channels per vector.
/// Bᵀ = [[4, 0, −5, 0, 1, 0], [0, −4, −4, 1, 1, 0], [0, 4, −4, −1, 1, 0],
///       [0, −2, −1, 2, 1, 0], [0, 2, −1, −2, 1, 0], [0, 4, 0, −5, 0, 1]],
/// Aᵀ = [[1, 1, 1, 1, 1, 0], [0, 1, −1, 2, −2, 0], [0, 1, 1, 4, 4, 0], [0, 1, −1, 8, −8, 1]].
extension WinogradTiles {
    /// Splits input row `x` (`width` floats, or nil for a padding row) into its 4 column phases
    /// after `pad` zeros of left padding: `out[r · stride + k] = x[4k + r − pad]` for r < 4 and
    /// k in 0..<count, zero outside the row.
    static func deinterleave4(_ x: UnsafePointer<Float>?, width: Int, pad: Int, count: Int,
                              out: UnsafeMutablePointer<Float>, stride: Int, kernels: KernelSet?) {
        if kernels != nil { return fck_deinterleave4_avx2(x, Int32(width), Int32(pad), Int32(count), out, stride) }
        for r in 0..<4 {
            let dst = out + r * stride
            for k in 0..<count {
                let i = 4 * k + r - pad
                dst[k] = x != nil && i >= 0 && i < width ? x![i] : 0
            }
        }
    }

    /// Bᵀ x of 6 values.
    @inline(__always) private static func input6(_ x: [Float]) -> [Float] {
        let a = x[4] - 4 * x[2], b = x[3] - 4 * x[1], c = x[4] - x[2], d = 2 * (x[3] - x[1])
        return [4 * x[0] - 5 * x[2] + x[4], a + b, a - b, c + d, c - d, 4 * x[1] - 5 * x[3] + x[5]]
    }

    /// Aᵀ m of 6 values.
    @inline(__always) private static func output6(_ m: [Float]) -> (Float, Float, Float, Float) {
        let p12 = m[1] + m[2], n12 = m[1] - m[2], p34 = m[3] + m[4], n34 = m[3] - m[4]
        return (m[0] + p12 + p34, n12 + 2 * n34, p12 + 4 * p34, n12 + 8 * n34 + m[5])
    }

    /// Floats of each column phase `inputTiles4` may read for `tiles` tiles: the `tiles + 1` it
    /// uses, rounded up so that the AVX2 kernel loads whole vectors of 8 tiles (a masked load is
    /// slow on some CPUs; the lanes past `tiles` are not written).
    static func phaseFloats(tiles: Int) -> Int { 8 * ((tiles + 7) / 8) + 1 }

    /// Bᵀ d B of `tiles` consecutive 6×6 tiles whose 6 rows a are given as 4 column phases
    /// (`deinterleave4`) at `phases + a · rowStride + r · phaseStride`, each `tiles + 1` long and
    /// `phaseFloats(tiles:)` readable (tile k covers columns 4k … 4k + 5). Writes ξ = 6i + j at
    /// `v + ξ · xiStride`, tiles contiguous.
    static func inputTiles4(phases: UnsafePointer<Float>, phaseStride: Int, rowStride: Int, tiles: Int,
                            v: UnsafeMutablePointer<Float>, xiStride: Int, kernels: KernelSet?) {
        if kernels != nil { return fck_winograd_input_4x4_avx2(phases, phaseStride, rowStride, Int32(tiles), v, xiStride) }
        for k in 0..<tiles {
            // t[a][j]: row a after Bᵀ along the columns.
            let t = (0..<6).map { a -> [Float] in
                let p = phases + a * rowStride + k
                return input6([p[0], p[phaseStride], p[2 * phaseStride], p[3 * phaseStride], p[1], p[phaseStride + 1]])
            }
            for j in 0..<6 {
                let col = input6((0..<6).map { t[$0][j] })
                for i in 0..<6 { v[(6 * i + j) * xiStride + k] = col[i] }
            }
        }
    }

    /// Aᵀ m A + bias of `tiles` consecutive tiles of one channel and tile row (ξ = 6i + j at
    /// `m + ξ · xiStride`, tiles contiguous): output row i of tile k at `out[i · width + 4k + j]`,
    /// stopping at `rows` rows and `width` columns.
    static func outputTiles4(m: UnsafePointer<Float>, xiStride: Int, tiles: Int, bias: Float, width: Int, rows: Int,
                             out: UnsafeMutablePointer<Float>, kernels: KernelSet?) {
        if kernels != nil {
            return fck_winograd_output_4x4_tiles_avx2(m, xiStride, Int32(tiles), bias, Int32(width), Int32(rows), out)
        }
        var s = [Float](repeating: 0, count: 24)  // s[6r + j]: Aᵀ along the first axis
        for k in 0..<tiles {
            for j in 0..<6 {
                let y = output6((0..<6).map { m[(6 * $0 + j) * xiStride + k] })
                (s[j], s[6 + j], s[12 + j], s[18 + j]) = y
            }
            for r in 0..<min(rows, 4) {
                let y = output6(Array(s[(6 * r)..<(6 * r + 6)]))
                let values = [y.0, y.1, y.2, y.3]
                for c in 0..<4 where 4 * k + c < width { out[r * width + 4 * k + c] = values[c] + bias }
            }
        }
    }

    /// Aᵀ m A + bias of F(4×4, 3×3) for products stored tile-major (the packed GEMMs'), laid out
    /// as for `tileMajorOutput`, vectorized over channels; channel c's output row 4 tr + i at
    /// `output + c · planeStride + (4 tr + i) · width`, stopping at `rows` rows and `width`
    /// columns. Runs the AVX2 kernel: packed products exist only with a `PackedGemm.Kernel`, and
    /// every CPU that runs one runs AVX2.
    static func tileMajorOutput4(_ m: UnsafePointer<Float>, xiStride: Int, tileStride: Int, tiles: Int, tileRows: Int,
                                 channels: Int, bias: UnsafePointer<Float>?, output: UnsafeMutablePointer<Float>,
                                 planeStride: Int, width: Int, rows: Int) {
        fck_winograd_output_4x4_avx2(m, xiStride, tileStride, Int32(tiles), Int32(tileRows), Int32(channels), bias, output,
                                     planeStride, Int32(width), Int32(rows))
    }
}
