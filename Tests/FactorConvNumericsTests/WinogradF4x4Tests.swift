@testable import FactorConvNumerics
import FactorConvTestSupport
import Testing

/// Winograd F(4×4, 3×3) (`WinogradConvolution` with `tile: 4`) against the float64 plain-loop
/// reference: output sizes 1…13 (multiples of 4 and not), padding 0 and 1, odd channel counts
/// ≥ 16, several blocks per image, bias and none, packed (tile-major products) and row-major U,
/// portable and AVX2 transforms; NaN and ±inf spreading only over the tiles they touch; the AVX2
/// row kernels against the portable ones; the transformed kernels a pipeline caches per tile size.
@Suite struct WinogradF4x4Tests {
    /// (packed GEMM kernel or nil for row-major products, transform kernels or nil for portable)
    /// pairs this machine runs (WinogradConvolutionTests.variants).
    static let variants = WinogradConvolutionTests.variants

    /// Largest error relative to max |y| allowed. F(4×4, 3×3)'s transforms scale values by up to
    /// 100 and back, so its rounding errors are about ten times F(2×2)'s; a wrong coefficient in
    /// any matrix gives errors of order 0.1–1.
    static let tolerance = 3e-5

    @Test(arguments: [2, 3], [1, 2])
    func matchesReference(order: Int, threads: Int) throws {
        var rng = TestRandom(seed: UInt64(4400 + order * 10 + threads))
        for trial in 0..<5 {
            let batch = trial == 0 ? 2 : 1, cin = [16, 17, 19, 33][rng.int(0...3)], cout = trial < 3 ? rng.int(16...23) : rng.int(33...70)
            let pad = rng.int(0...1)
            // Output sizes 1…13 in the last two dimensions.
            let outH = rng.int(1...13), outW = rng.int(1...13)
            var kernel = [3, 3], sizes = [outH + 2 - 2 * pad, outW + 2 - 2 * pad], padding = [pad, pad]
            if order == 3 { kernel.insert(rng.int(1...3), at: 0); sizes.insert(kernel[0] + rng.int(0...2), at: 0); padding.insert(rng.int(0...1), at: 0) }
            let ones = Array(repeating: 1, count: order)
            let x = rng.tensor([batch, cin] + sizes), w = rng.tensor([cout, cin] + kernel)
            let bias: [Float]? = trial % 3 == 2 ? nil : rng.tensor([cout]).scalars
            let g = try ConvGeometry(order: order, padding: padding)
            let problem = try ConvProblem(inputShape: x.shape, weightShape: w.shape, geometry: g)
            let ref = referenceConv(x, weight: w, bias: bias, stride: ones, padding: padding, dilation: ones)
            // One block per image, or tiny blocks (one tile row, one outer row).
            let blockBytes = trial % 2 == 0 ? 1 << 20 : 64
            for (gemm, transformKernels) in Self.variants {
                let plan = try #require(WinogradConvolution(problem, blockBytes: blockBytes, packed: gemm != nil,
                                                            transformKernels: transformKernels, gemmKernel: gemm, tile: 4))
                #expect(plan.m == 4 && plan.positions == 36 && plan.kernel.packed == (gemm != nil))
                let y = try runOnBuffers(x, weight: w, optionalBias: bias, outputShape: problem.outputShape) {
                    plan.run(input: $0, weight: $1, bias: $2, output: $3, workers: threads)
                }
                #expect(relativeMaxError(y, ref) <= Self.tolerance,
                        "\(problem) packed \(String(describing: gemm)) transforms \(String(describing: transformKernels))")
            }
        }
    }

    /// A NaN or an infinity in the input makes every output whose 3×3 window covers it
    /// non-finite (as direct convolution and F(2×2) do), and leaves the outputs of tiles whose
    /// 6×6 input window misses it finite and correct.
    @Test(arguments: [Float.nan, .infinity, -.infinity])
    func nonFiniteInputsStayInTheirTiles(value: Float) throws {
        var rng = TestRandom(seed: 4500)
        let cin = 17, cout = 19, h = 13, w = 11
        var x = rng.tensor([1, cin, h, w])
        let weight = rng.tensor([cout, cin, 3, 3]), bias = rng.tensor([cout]).scalars
        let (pc, ph, pw) = (5, 6, 9)
        x.scalars[(pc * h + ph) * w + pw] = value
        let g = try ConvGeometry(order: 2, padding: [1, 1])
        let problem = try ConvProblem(inputShape: x.shape, weightShape: weight.shape, geometry: g)
        var clean = x
        clean.scalars[(pc * h + ph) * w + pw] = 0
        let ref = referenceConv(clean, weight: weight, bias: bias, stride: [1, 1], padding: [1, 1], dilation: [1, 1])
        for (gemm, transformKernels) in Self.variants {
            let plan = try #require(WinogradConvolution(problem, packed: gemm != nil, transformKernels: transformKernels,
                                                        gemmKernel: gemm, tile: 4))
            let y = try runOnBuffers(x, weight: weight, bias: bias, outputShape: problem.outputShape) {
                plan.run(input: $0, weight: $1, bias: $2, output: $3, workers: 1)
            }
            for o in 0..<cout {
                for r in 0..<h {
                    for c in 0..<w {
                        let v = y.scalars[(o * h + r) * w + c]
                        // Input rows/columns of the output's 3×3 window and of its tile's 6×6 window (padding 1).
                        let inWindow = abs(r - ph) <= 1 && abs(c - pw) <= 1
                        let tileRows = (r / 4 * 4 - 1)...(r / 4 * 4 + 4), tileCols = (c / 4 * 4 - 1)...(c / 4 * 4 + 4)
                        if inWindow {
                            #expect(!v.isFinite, "output (\(o), \(r), \(c)) of \(value)")
                        } else if !tileRows.contains(ph) || !tileCols.contains(pw) {
                            let e = abs(Double(v) - ref.scalars[(o * h + r) * w + c])
                            #expect(v.isFinite && e <= 1e-4, "output (\(o), \(r), \(c)) of \(value): \(v)")
                        }
                    }
                }
            }
        }
    }

    /// The AVX2 row kernels against the portable ones on tile counts around the vector width,
    /// left and right padding and padding rows; nothing past the outputs may change.
    @Test(.enabled(if: !KernelSet.available.isEmpty, "needs AVX2"), arguments: KernelSet.available)
    func rowKernelsMatchPortable(kernels: KernelSet) {
        var rng = TestRandom(seed: 4600)
        for width in [1, 3, 4, 5, 13, 31, 32, 33, 56, 60] {
            for pad in [0, 1, 2] {
                for count in [1, 7, 8, 9, (width + 3) / 4 + 1, width + 3] {
                    let x = rng.tensor([width]).scalars
                    for row in [true, false] {
                        var out = [[Float]]()
                        for k in [nil, kernels] as [KernelSet?] {
                            var buffer = [Float](repeating: 12345, count: 4 * (count + 1) + 2)
                            x.withUnsafeBufferPointer { xp in
                                buffer.withUnsafeMutableBufferPointer { b in
                                    WinogradTiles.deinterleave4(row ? xp.baseAddress! : nil, width: width, pad: pad,
                                                                count: count, out: b.baseAddress!, stride: count + 1, kernels: k)
                                }
                            }
                            out.append(buffer)
                        }
                        #expect(out[0] == out[1], "deinterleave4 width \(width) pad \(pad) count \(count) row \(row)")
                    }
                }
            }
        }
        func close(_ a: [Float], _ b: [Float]) -> Bool { zip(a, b).allSatisfy { abs($0 - $1) <= 1e-5 * max(1, abs($0)) } }
        for tiles in [1, 2, 7, 8, 9, 15, 16, 17, 33] {
            // Phases as long as the kernel may read (it loads whole vectors of 8 tiles).
            let phaseStride = WinogradTiles.phaseFloats(tiles: tiles) + rng.int(0...2)
            let rowStride = 4 * phaseStride + rng.int(0...2)
            let xiStride = tiles + rng.int(0...3)
            let phases = rng.tensor([6 * rowStride]).scalars
            var inputs = [[Float]]()
            for k in [nil, kernels] as [KernelSet?] {
                var v = [Float](repeating: 12345, count: 36 * xiStride + 2)
                phases.withUnsafeBufferPointer { p in
                    v.withUnsafeMutableBufferPointer { vp in
                        WinogradTiles.inputTiles4(phases: p.baseAddress!, phaseStride: phaseStride, rowStride: rowStride,
                                                  tiles: tiles, v: vp.baseAddress!, xiStride: xiStride, kernels: k)
                    }
                }
                inputs.append(v)
            }
            #expect(close(inputs[0], inputs[1]), "inputTiles4 tiles \(tiles)")
            let m = rng.tensor([36 * xiStride]).scalars
            for rows in [1, 3, 4] {
                for width in [4 * tiles, 4 * tiles - 1, 4 * tiles - 3] {
                    var outputs = [[Float]]()
                    for k in [nil, kernels] as [KernelSet?] {
                        var out = [Float](repeating: 12345, count: 4 * width + 2)
                        m.withUnsafeBufferPointer { mp in
                            out.withUnsafeMutableBufferPointer { o in
                                WinogradTiles.outputTiles4(m: mp.baseAddress!, xiStride: xiStride, tiles: tiles, bias: 0.25,
                                                           width: width, rows: rows, out: o.baseAddress!, kernels: k)
                            }
                        }
                        outputs.append(out)
                    }
                    #expect(close(outputs[0], outputs[1]), "outputTiles4 tiles \(tiles) rows \(rows) width \(width)")
                    #expect(outputs[1][(rows * width)...].allSatisfy { $0 == 12345 })
                }
            }
        }
    }

    /// A pipeline's cached kernel has one U per tile size: `withTransformed` returns the layout
    /// asked for, equal to transforming afresh, for F(2×2) and F(4×4) alike.
    @Test func lazyKernelKeepsOneTransformPerTile() throws {
        var rng = TestRandom(seed: 4700)
        let w = rng.tensor([18, 16, 3, 3])
        let g = try ConvGeometry(order: 2, padding: [1, 1])
        let lazy = try #require(LazyWinogradKernel(w, geometry: g))
        for tile in WinogradKernel.planarTiles {
            let layout = try #require(WinogradKernel(weightShape: w.shape, geometry: g, tile: tile))
            let fresh = w.scalars.withUnsafeBufferPointer { layout.transformed($0.baseAddress!) }
            for _ in 0..<2 {
                let same = lazy.withTransformed(layout) { u in
                    (0..<layout.transformedCount).allSatisfy { u[$0] == fresh.pointer[$0] }
                }
                #expect(same, "tile \(tile)")
            }
        }
        #expect(lazy.pendingFloats == 0)
    }
}

/// Which tile size `DenseConvolution` runs, and the layers' path (`ConvPipeline`, which caches U
/// per tile size) and the functional path (`WinogradKernelCache`) on images that pick F(4×4)
/// and F(2×2) with one weight.
@Suite struct WinogradTileSelectionTests {
    private func problem(_ channels: Int, _ size: Int, cout: Int? = nil) throws -> ConvProblem {
        try ConvProblem(inputShape: [1, channels, size, size], weightShape: [cout ?? channels, channels, 3, 3],
                        geometry: try ConvGeometry(order: 2, padding: [1, 1]))
    }

    @Test(.enabled(if: PackedGemm.kernel == .avx2 && KernelSet.best != nil, "the rule measured on AVX2"))
    func picksF4x4OnLargePlanes() throws {
        #expect(WinogradConvolution.preferredTile(try problem(64, 28)) == 4)
        #expect(WinogradConvolution.preferredTile(try problem(64, 56)) == 4)
        #expect(WinogradConvolution.preferredTile(try problem(256, 28)) == 4)
        // Few tiles per plane, U too deep for the packed AVX2 GEMM, or U not packed (24 rows pad to 32).
        #expect(WinogradConvolution.preferredTile(try problem(64, 14)) == 2)
        #expect(WinogradConvolution.preferredTile(try problem(128, 7)) == 2)
        #expect(WinogradConvolution.preferredTile(try problem(512, 28)) == 2)
        #expect(WinogradConvolution.preferredTile(try problem(32, 28, cout: 24)) == 2)
        #expect(WinogradConvolution(try problem(64, 28))?.m == 4)
    }

    @Test(arguments: [1, 2])
    func layerAndFunctionalPathsMatchReference(threads: Int) throws {
        let saved = Parallel.threadCount
        defer { Parallel.threadCount = saved }
        Parallel.threadCount = threads
        var rng = TestRandom(seed: 4800 + UInt64(threads))
        let cin = 17, cout = 32
        let w = rng.tensor([cout, cin, 3, 3]), bias = rng.tensor([cout]).scalars
        let g = try ConvGeometry(order: 2, padding: [1, 1])
        let pipeline = try ConvPipeline(stages: [.dense(weight: w, geometry: g, bias: bias)])
        // 22×22 picks F(4×4) on AVX2 (36 tiles), 10×10 F(2×2); each twice (the second time from the caches).
        for size in [22, 10] {
            let x = rng.tensor([1, cin, size, size])
            let ref = referenceConv(x, weight: w, bias: bias, stride: [1, 1], padding: [1, 1], dilation: [1, 1])
            let kernels = KernelSet.best != nil && PackedGemm.kernel != nil
            let layout = DenseConvolution.winogradLayout(try ConvProblem(inputShape: x.shape, weightShape: w.shape, geometry: g))
            #expect(layout?.tile == (size == 22 && kernels ? 4 : 2))
            for _ in 0..<2 {
                let viaLayer = try pipeline.forward(x)
                let functional = try DenseConvolution.forward(x, weight: w, bias: try Tensor(shape: [cout], scalars: bias),
                                                              geometry: g)
                #expect(relativeMaxError(viaLayer, ref) <= WinogradF4x4Tests.tolerance, "size \(size)")
                #expect(relativeMaxError(functional, ref) <= WinogradF4x4Tests.tolerance, "size \(size)")
            }
        }
    }
}
