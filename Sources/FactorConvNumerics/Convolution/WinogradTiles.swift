import FactorConvKernels

/// The per-row kernels of the Winograd plans' input and output transforms, written on
/// `SIMD4<Float>` over 4 consecutive tiles (SSE at the baseline target) with scalar tails: the
/// portable path. With `kernels` (the plans pass `KernelSet.best` by default), each runs
/// `FactorConvKernels`' version for that instruction set instead: AVX-512 over 16 tiles per
/// vector, AVX2 over 8.
enum WinogradTiles {
    /// Splits input row `x` (`width` floats, or nil for a padding row) into its even and odd
    /// columns after `pad` zeros of left padding: `even[k] = x[2k − pad]`,
    /// `odd[k] = x[2k + 1 − pad]` for k in 0..<count, zero outside the row.
    static func deinterleave(_ x: UnsafePointer<Float>?, width: Int, pad: Int, count: Int,
                             even: UnsafeMutablePointer<Float>, odd: UnsafeMutablePointer<Float>, kernels: KernelSet?) {
        switch kernels {
        case .avx512: return fck_deinterleave(x, Int32(width), Int32(pad), Int32(count), even, odd)
        case .avx2: return fck_deinterleave_avx2(x, Int32(width), Int32(pad), Int32(count), even, odd)
        case nil: break
        }
        guard let x else {
            even.update(repeating: 0, count: count)
            odd.update(repeating: 0, count: count)
            return
        }
        @inline(__always) func at(_ i: Int) -> Float { i >= 0 && i < width ? x[i] : 0 }
        // Vector range: 8 source floats [2k − pad, 2k − pad + 8) inside the row.
        let first = min(count, (pad + 1) / 2)
        var k = 0
        while k < first { even[k] = at(2 * k - pad); odd[k] = at(2 * k + 1 - pad); k += 1 }
        while k + 4 <= count && 2 * k - pad + 8 <= width {
            let v = UnsafeRawPointer(x + (2 * k - pad)).loadUnaligned(as: SIMD8<Float>.self)
            UnsafeMutableRawPointer(even + k).storeBytes(of: v.evenHalf, as: SIMD4<Float>.self)
            UnsafeMutableRawPointer(odd + k).storeBytes(of: v.oddHalf, as: SIMD4<Float>.self)
            k += 4
        }
        while k < count { even[k] = at(2 * k - pad); odd[k] = at(2 * k + 1 - pad); k += 1 }
    }

    /// Bᵀ d B of `tiles` consecutive 4×4 tiles whose rows are given split into even and odd
    /// columns (`even[i]`, `odd[i]`, each `tiles + 1` long; tile k covers columns e_k, o_k,
    /// e_{k+1}, o_{k+1}). Writes ξ = 4i + j at `v + ξ · xiStride`, tiles contiguous.
    /// Bᵀ = [[1, 0, −1, 0], [0, 1, 1, 0], [0, −1, 1, 0], [0, 1, 0, −1]].
    static func inputTiles(even: UnsafePointer<Float>, odd: UnsafePointer<Float>, rowStride: Int, tiles: Int,
                           v: UnsafeMutablePointer<Float>, xiStride: Int, kernels: KernelSet?) {
        switch kernels {
        case .avx512: return fck_winograd_input_2x2(even, odd, rowStride, Int32(tiles), v, xiStride)
        case .avx2: return fck_winograd_input_2x2_avx2(even, odd, rowStride, Int32(tiles), v, xiStride)
        case nil: break
        }
        // Along the first axis: r_i = d_a + sign · d_b.
        let combos: [(a: Int, b: Int, sign: Float)] = [(0, 2, -1), (1, 2, 1), (2, 1, -1), (1, 3, -1)]
        for (i, combo) in combos.enumerated() {
            let ea = even + combo.a * rowStride, eb = even + combo.b * rowStride
            let oa = odd + combo.a * rowStride, ob = odd + combo.b * rowStride
            let sign = combo.sign, sign4 = SIMD4<Float>(repeating: combo.sign)
            let v0 = v + 4 * i * xiStride, v1 = v0 + xiStride, v2 = v1 + xiStride, v3 = v2 + xiStride
            var k = 0
            while k + 4 <= tiles {
                let re0 = load4(ea + k) + sign4 * load4(eb + k), re1 = load4(ea + k + 1) + sign4 * load4(eb + k + 1)
                let ro0 = load4(oa + k) + sign4 * load4(ob + k), ro1 = load4(oa + k + 1) + sign4 * load4(ob + k + 1)
                store4(re0 - re1, v0 + k); store4(ro0 + re1, v1 + k); store4(re1 - ro0, v2 + k); store4(ro0 - ro1, v3 + k)
                k += 4
            }
            while k < tiles {
                let re0 = ea[k] + sign * eb[k], re1 = ea[k + 1] + sign * eb[k + 1]
                let ro0 = oa[k] + sign * ob[k], ro1 = oa[k + 1] + sign * ob[k + 1]
                v0[k] = re0 - re1; v1[k] = ro0 + re1; v2[k] = re1 - ro0; v3[k] = ro0 - ro1
                k += 1
            }
        }
    }

    /// Aᵀ m A + bias of `tiles` consecutive tiles (ξ = 4i + j at `m + ξ · xiStride`), written as
    /// two output rows (`row1` nil past the output's end) of `width` columns, tile k at 2k.
    /// Aᵀ = [[1, 1, 1, 0], [0, 1, −1, −1]].
    static func outputTiles(m: UnsafePointer<Float>, xiStride: Int, tiles: Int, bias: Float, width: Int,
                            row0: UnsafeMutablePointer<Float>, row1: UnsafeMutablePointer<Float>?, kernels: KernelSet?) {
        switch kernels {
        case .avx512: return fck_winograd_output_2x2_tiles(m, xiStride, Int32(tiles), bias, Int32(width), row0, row1)
        case .avx2: return fck_winograd_output_2x2_tiles_avx2(m, xiStride, Int32(tiles), bias, Int32(width), row0, row1)
        case nil: break
        }
        @inline(__always) func mm(_ xi: Int, _ k: Int) -> SIMD4<Float> { load4(m + xi * xiStride + k) }
        let b4 = SIMD4<Float>(repeating: bias)
        var k = 0
        // Vector tiles write 8 full columns.
        while k + 4 <= tiles && 2 * k + 8 <= width {
            // Along the first axis: s_j (output row 0), d_j (output row 1).
            let s0 = mm(0, k) + mm(4, k) + mm(8, k), d0 = mm(4, k) - mm(8, k) - mm(12, k)
            let s1 = mm(1, k) + mm(5, k) + mm(9, k), d1 = mm(5, k) - mm(9, k) - mm(13, k)
            let s2 = mm(2, k) + mm(6, k) + mm(10, k), d2 = mm(6, k) - mm(10, k) - mm(14, k)
            let s3 = mm(3, k) + mm(7, k) + mm(11, k), d3 = mm(7, k) - mm(11, k) - mm(15, k)
            store8(interleave(s0 + s1 + s2 + b4, s1 - s2 - s3 + b4), row0 + 2 * k)
            if let row1 { store8(interleave(d0 + d1 + d2 + b4, d1 - d2 - d3 + b4), row1 + 2 * k) }
            k += 4
        }
        while k < tiles {
            @inline(__always) func s(_ xi: Int) -> Float { m[xi * xiStride + k] }
            let s0 = s(0) + s(4) + s(8), d0 = s(4) - s(8) - s(12)
            let s1 = s(1) + s(5) + s(9), d1 = s(5) - s(9) - s(13)
            let s2 = s(2) + s(6) + s(10), d2 = s(6) - s(10) - s(14)
            let s3 = s(3) + s(7) + s(11), d3 = s(7) - s(11) - s(15)
            let x = 2 * k
            row0[x] = s0 + s1 + s2 + bias
            if x + 1 < width { row0[x + 1] = s1 - s2 - s3 + bias }
            if let row1 {
                row1[x] = d0 + d1 + d2 + bias
                if x + 1 < width { row1[x + 1] = d1 - d2 - d3 + bias }
            }
            k += 1
        }
    }

    // MARK: Output transforms of tile-major products (the packed GEMMs'), vectorized over channels

    /// Aᵀ m A + bias of F(2×2, 3×3) for `tileRows` rows of `tiles` tiles and `channels` channels,
    /// position ξ of tile t (of tile row tr), channel c at `m[ξ · xiStride + (tr · tiles + t) ·
    /// tileStride + c]`; channel c's output row 2 tr + i at `output + c · planeStride + (2 tr + i)
    /// · width`, stopping at `rows` rows and `width` columns. Runs on `kernel`'s instruction set
    /// (`fck_winograd_output_2x2`, or its AVX2 twin), which must be available.
    static func tileMajorOutput(_ m: UnsafePointer<Float>, xiStride: Int, tileStride: Int, tiles: Int, tileRows: Int,
                                channels: Int, bias: UnsafePointer<Float>?, output: UnsafeMutablePointer<Float>,
                                planeStride: Int, width: Int, rows: Int, kernel: PackedGemm.Kernel) {
        switch kernel {
        case .avx512:
            fck_winograd_output_2x2(m, xiStride, tileStride, Int32(tiles), Int32(tileRows), Int32(channels), bias, output,
                                    planeStride, Int32(width), Int32(rows))
        case .avx2:
            fck_winograd_output_2x2_avx2(m, xiStride, tileStride, Int32(tiles), Int32(tileRows), Int32(channels), bias,
                                         output, planeStride, Int32(width), Int32(rows))
        }
    }

    /// Aᵀ m + bias of F(2, r) (`taps` r = 3 or 5) for `tiles` tiles and `channels` channels laid
    /// out as for `tileMajorOutput`; channel c's outputs at `output + c · planeStride`, stopping at
    /// `width`. Runs on `kernel`'s instruction set (`fck_winograd_output_line`, or its AVX2 twin).
    static func tileMajorLineOutput(taps: Int, m: UnsafePointer<Float>, xiStride: Int, tileStride: Int, tiles: Int,
                                    channels: Int, bias: UnsafePointer<Float>?, output: UnsafeMutablePointer<Float>,
                                    planeStride: Int, width: Int, kernel: PackedGemm.Kernel) {
        switch kernel {
        case .avx512:
            fck_winograd_output_line(Int32(taps), m, xiStride, tileStride, Int32(tiles), Int32(channels), bias, output,
                                     planeStride, Int32(width))
        case .avx2:
            fck_winograd_output_line_avx2(Int32(taps), m, xiStride, tileStride, Int32(tiles), Int32(channels), bias,
                                          output, planeStride, Int32(width))
        }
    }

    @inline(__always) static func load4(_ p: UnsafePointer<Float>) -> SIMD4<Float> {
        UnsafeRawPointer(p).loadUnaligned(as: SIMD4<Float>.self)
    }
    @inline(__always) static func store4(_ v: SIMD4<Float>, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD4<Float>.self)
    }
    @inline(__always) static func store8(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Float>.self)
    }
    /// (a0, b0, a1, b1, a2, b2, a3, b3).
    @inline(__always) static func interleave(_ a: SIMD4<Float>, _ b: SIMD4<Float>) -> SIMD8<Float> {
        SIMD8(a[0], b[0], a[1], b[1], a[2], b[2], a[3], b[3])
    }

    // MARK: 1-D F(2, r) for the points 0, 1, −1, 2, −2, ∞ (`ToomCook` gives the same matrices)

    /// Bᵀ d for `tiles` consecutive tiles of F(2, 3) or F(2, 5): tile k's inputs are
    /// d_{2i} = even[k + i], d_{2i+1} = odd[k + i]; ξ goes to `v + ξ · xiStride`.
    /// F(2, 3): Bᵀ d = (d0 − d2, (d1 + d2)/2, (d2 − d1)/2, d3 − d1).
    /// F(2, 5): (d0 − 5/4 d2 + 1/4 d4, t + s, s − t, w + u, u − w, 4 d1 − 5 d3 + d5) with
    /// s = 2/3 d2 − 1/6 d4, t = 2/3 d1 − 1/6 d3, u = (d4 − d2)/24, w = (d3 − d1)/12.
    static func lineInputTiles(taps: Int, even: UnsafePointer<Float>, odd: UnsafePointer<Float>, tiles: Int,
                               v: UnsafeMutablePointer<Float>, xiStride: Int, kernels: KernelSet?) {
        switch kernels {
        case .avx512: return fck_winograd_input_line(Int32(taps), even, odd, Int32(tiles), v, xiStride)
        case .avx2: return fck_winograd_input_line_avx2(Int32(taps), even, odd, Int32(tiles), v, xiStride)
        case nil: break
        }
        let v0 = v, v1 = v0 + xiStride, v2 = v1 + xiStride, v3 = v2 + xiStride
        if taps == 3 {
            var k = 0
            while k + 4 <= tiles {
                let d0 = load4(even + k), d1 = load4(odd + k), d2 = load4(even + k + 1), d3 = load4(odd + k + 1)
                store4(d0 - d2, v0 + k); store4(0.5 * (d1 + d2), v1 + k); store4(0.5 * (d2 - d1), v2 + k); store4(d3 - d1, v3 + k)
                k += 4
            }
            while k < tiles {
                let d0 = even[k], d1 = odd[k], d2 = even[k + 1], d3 = odd[k + 1]
                v0[k] = d0 - d2; v1[k] = 0.5 * (d1 + d2); v2[k] = 0.5 * (d2 - d1); v3[k] = d3 - d1
                k += 1
            }
            return
        }
        precondition(taps == 5, "no F(2, \(taps)) transform")
        let v4 = v3 + xiStride, v5 = v4 + xiStride
        let c23: Float = 2.0 / 3.0, c16: Float = 1.0 / 6.0, c124: Float = 1.0 / 24.0, c112: Float = 1.0 / 12.0
        var k = 0
        while k + 4 <= tiles {
            let d0 = load4(even + k), d1 = load4(odd + k), d2 = load4(even + k + 1)
            let d3 = load4(odd + k + 1), d4 = load4(even + k + 2), d5 = load4(odd + k + 2)
            let s = c23 * d2 - c16 * d4, t = c23 * d1 - c16 * d3
            let u = c124 * (d4 - d2), w = c112 * (d3 - d1)
            store4(d0 - 1.25 * d2 + 0.25 * d4, v0 + k)
            store4(t + s, v1 + k); store4(s - t, v2 + k)
            store4(w + u, v3 + k); store4(u - w, v4 + k)
            store4(4 * d1 - 5 * d3 + d5, v5 + k)
            k += 4
        }
        while k < tiles {
            let d0 = even[k], d1 = odd[k], d2 = even[k + 1], d3 = odd[k + 1], d4 = even[k + 2], d5 = odd[k + 2]
            let s = c23 * d2 - c16 * d4, t = c23 * d1 - c16 * d3
            let u = c124 * (d4 - d2), w = c112 * (d3 - d1)
            v0[k] = d0 - 1.25 * d2 + 0.25 * d4
            v1[k] = t + s; v2[k] = s - t
            v3[k] = w + u; v4[k] = u - w
            v5[k] = 4 * d1 - 5 * d3 + d5
            k += 1
        }
    }

    /// Aᵀ m + bias for `tiles` consecutive tiles of F(2, 3) or F(2, 5), written interleaved to
    /// `row` (tile k at 2k), stopping at `width` outputs.
    /// F(2, 3): (m0 + m1 + m2, m1 − m2 + m3). F(2, 5): (m0 + m1 + m2 + m3 + m4, m1 − m2 + 2 (m3 − m4) + m5).
    static func lineOutputTiles(taps: Int, m: UnsafePointer<Float>, xiStride: Int, tiles: Int, bias: Float,
                                width: Int, row: UnsafeMutablePointer<Float>) {
        let m0 = m, m1 = m0 + xiStride, m2 = m1 + xiStride, m3 = m2 + xiStride
        let b4 = SIMD4<Float>(repeating: bias)
        var k = 0
        if taps == 3 {
            while k + 4 <= tiles && 2 * k + 8 <= width {
                let a = load4(m0 + k), b = load4(m1 + k), c = load4(m2 + k), d = load4(m3 + k)
                store8(interleave(a + b + c + b4, b - c + d + b4), row + 2 * k)
                k += 4
            }
            while k < tiles {
                row[2 * k] = m0[k] + m1[k] + m2[k] + bias
                if 2 * k + 1 < width { row[2 * k + 1] = m1[k] - m2[k] + m3[k] + bias }
                k += 1
            }
            return
        }
        let m4 = m3 + xiStride, m5 = m4 + xiStride
        while k + 4 <= tiles && 2 * k + 8 <= width {
            let a = load4(m0 + k), b = load4(m1 + k), c = load4(m2 + k), d = load4(m3 + k), e = load4(m4 + k), f = load4(m5 + k)
            store8(interleave(a + b + c + d + e + b4, b - c + 2 * (d - e) + f + b4), row + 2 * k)
            k += 4
        }
        while k < tiles {
            row[2 * k] = m0[k] + m1[k] + m2[k] + m3[k] + m4[k] + bias
            if 2 * k + 1 < width { row[2 * k + 1] = m1[k] - m2[k] + 2 * (m3[k] - m4[k]) + m5[k] + bias }
            k += 1
        }
    }
}
