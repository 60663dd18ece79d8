import FactorConvKernels

/// Dense convolution whose last two kernel dimensions are 3×3 with stride 1 and dilation 1, by
/// Winograd's minimal filtering F(m×m, 3×3) (Lavin & Gray, "Fast Algorithms for Convolutional
/// Neural Networks", 2016): each m×m output tile is `Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A` of an α×α input
/// tile `d` (α = m + 2), so the channel reduction becomes α² independent GEMMs (one per transform
/// position ξ). F(2×2, 3×3) (16 GEMMs) has 2.25× fewer multiplications than direct convolution,
/// F(4×4, 3×3) (36 GEMMs) 4× fewer but costlier transforms and more padded outputs at the edges;
/// `preferredTile` picks one.
///
/// Outer spatial dimensions (3-D and up) need stride 1 and are handled like `LineConvolution`'s
/// outer taps: the input is transformed once per padded outer slice, and each outer kernel tap
/// selects a shifted slice. The taps of the last outer dimension (when its dilation is 1) are
/// consecutive slices, so they are stacked into the GEMM's depth (C_in · K) instead of
/// accumulated. Work is blocked (a slab of outer rows × a chunk of tile rows) so that the
/// transformed input V and the GEMM results M of one block stay in the core's L2 cache.
///
/// Layouts: U (transformed weight) `[ξ][group][C_out][stack · C_in]` (or packed panels, see
/// `WinogradKernel`, whose `tile` is m); V `[ξ][slice][C_in][tile]`; M `[ξ][outSlice][C_out][tile]`, or
/// `[ξ][outSlice][tile][C_out]` with packed U (`PackedGemm` writes its products transposed), for
/// the tiles of one block.
struct WinogradConvolution: WinogradPlan {
    let problem: ConvProblem
    /// Output tiles along the last two dimensions.
    let tilesH: Int, tilesW: Int
    /// Number of outer spatial dimensions (order − 2).
    let outer: Int
    /// Padded outer input sizes P_d = S_d + 2 p_d.
    let padded: [Int]
    /// The transformed kernel's layout.
    let kernel: WinogradKernel
    /// The instruction set the transforms run on (nil: the portable `WinogradTiles`).
    let transformKernels: KernelSet?
    /// The instruction set of the packed GEMMs and of the output transform of their tile-major
    /// products, when U is packed.
    let gemmKernel: PackedGemm.Kernel?
    /// Outer-dimension-0 output rows per slab (1 for 2-D), and tile rows per chunk.
    let slabRows: Int, chunkRows: Int
    /// Halo of a slab in outer dimension 0 (its kernel span), outer-dimension-0 output rows,
    /// and the products of the other outer dimensions' padded input and output sizes (all 1 or
    /// 0 for 2-D).
    let span0: Int, outRows0: Int, restPadded: Int, restOut: Int

    /// Outputs per tile side m (2 or 4), and the transform positions ξ, (m + 2)².
    var m: Int { kernel.tile }
    var positions: Int { kernel.positionCount }
    /// Target bytes of one block's V and M together (half of a 2 MB per-core L2).
    static let blockBytes = 1 << 20
    /// Fewest tiles per GEMM that the block sizing aims for.
    static let minGemmColumns = 32
    /// Smallest channel counts for which the transforms pay for themselves (`WinogradKernel.minChannels`).
    static let minChannels = WinogradKernel.minChannels

    /// The plan, or nil when the problem is not a 3×3, stride-1, dilation-1 convolution in its
    /// last two dimensions with stride 1 in the others, or has too few channels.
    /// `blockBytes`, `minChannels`, `packed` (`WinogradKernel.packed`), `transformKernels` and
    /// `gemmKernel` are parameters so that tests can force several blocks, exercise the path on
    /// small problems, and run every variant. Nil also when U is packed without a `gemmKernel`.
    /// `tile` is m (by default `preferredTile`); F(4×4, 3×3) transforms run on AVX2 whenever
    /// `transformKernels` is non-nil.
    init?(_ problem: ConvProblem, blockBytes: Int = WinogradConvolution.blockBytes,
          minChannels: Int = WinogradConvolution.minChannels, packed: Bool? = nil,
          transformKernels: KernelSet? = KernelSet.best, gemmKernel: PackedGemm.Kernel? = PackedGemm.kernel,
          tile: Int? = nil) {
        guard let kernel = WinogradKernel(weightShape: problem.weightShape, geometry: problem.geometry,
                                          minChannels: minChannels, packed: packed,
                                          tile: tile ?? Self.preferredTile(problem)), kernel.lineTaps == nil,
              !kernel.packed || gemmKernel != nil else { return nil }
        let n = problem.order, g = problem.geometry
        self.problem = problem
        self.kernel = kernel
        self.transformKernels = transformKernels
        self.gemmKernel = gemmKernel
        outer = n - 2
        let m = kernel.tile
        tilesH = (problem.outputSpatial[n - 2] + m - 1) / m
        tilesW = (problem.outputSpatial[n - 1] + m - 1) / m
        padded = (0..<outer).map { problem.inputSpatial[$0] + 2 * g.padding[$0] }

        let cin = problem.inChannels, cout = problem.outChannels
        let span0 = outer > 0 ? g.dilation[0] * (problem.kernel[0] - 1) : 0
        let restPadded = padded.dropFirst().reduce(1, *)
        let restOut = outer > 0 ? problem.outputSpatial[1..<outer].reduce(1, *) : 1
        let outRows0 = outer > 0 ? problem.outputSpatial[0] : 1
        (self.span0, self.restPadded, self.restOut, self.outRows0) = (span0, restPadded, restOut, outRows0)
        // Block sizing. Outer slabs recompute span0 halo slices of V, so prefer tall slabs; but
        // keep at least `minGemmColumns` tiles per GEMM (OpenBLAS's small-matrix kernels run
        // 32-column GEMMs at full speed) and the block within `blockBytes`.
        let outerCount = outer, tw = tilesW, th = tilesH, positions = kernel.positionCount
        let bytes = { (rows: Int, tileRows: Int) -> Int in
            let slices = outerCount > 0 ? (rows + span0) * restPadded : 1
            let outSlices = rows * restOut
            return 4 * positions * tileRows * tw * (slices * cin + outSlices * cout)
        }
        let fewestTileRows = min(th, (Self.minGemmColumns + tw - 1) / tw)
        var best = (rows: 1, tileRows: 1, redundancy: Double.infinity)
        // Within the budget, else within twice the budget: a wide layer (many channels on a small
        // image) runs faster as one slightly larger block than as two blocks of few tiles each.
        for budget in [blockBytes, 2 * blockBytes] where best.redundancy == .infinity {
            for tileRows in stride(from: th, through: fewestTileRows, by: -1) {
                var rows = 0
                while rows < outRows0 && bytes(rows + 1, tileRows) <= budget { rows += 1 }
                guard rows > 0 else { continue }
                let redundancy = Double(rows + span0) / Double(rows)
                if redundancy < best.redundancy - 1e-9 { best = (rows, tileRows, redundancy) }
            }
        }
        if best.redundancy == .infinity {
            // Not even one outer row of the fewest tile rows fits: one row, tile rows that fit.
            var tileRows = 1
            while tileRows < th && bytes(1, tileRows + 1) <= blockBytes { tileRows += 1 }
            best = (1, tileRows, 0)
        }
        // As many slabs and chunks as the sizes found make, of equal sizes (7 tile rows as 4 + 3,
        // not 6 + 1): the blocks then share out evenly among workers, and no block's GEMMs read
        // all of U for a few columns.
        func evened(_ total: Int, _ size: Int) -> Int {
            let parts = (total + size - 1) / size
            return (total + parts - 1) / parts
        }
        (slabRows, chunkRows) = (evened(outRows0, best.rows), evened(th, best.tileRows))
    }

    /// Fewest 4×4 output tiles per image plane for F(4×4, 3×3): with fewer, its GEMMs have too
    /// few columns to amortize reading U (2.25× larger than F(2×2)'s) and the transforms
    /// (on this machine 14×14 planes, 16 tiles, ran slower with F(4×4); 20×20, 25 tiles, faster).
    static let minTiles4x4 = 25

    /// m for `problem`: 4 when F(4×4, 3×3) measured faster than F(2×2, 3×3) on an AVX2 machine —
    /// the CPU runs the kernel sets (AVX2 transforms, packed GEMMs), U for F(4×4) is packed
    /// (`WinogradKernel.packed`), the image plane has at least `minTiles4x4` 4×4 tiles, and
    /// counting padded tiles F(4×4) does at most 3/4 of F(2×2)'s multiplications — else 2.
    static func preferredTile(_ problem: ConvProblem) -> Int {
        let n = problem.order
        guard n >= 2 else { return 2 }
        let h = problem.outputSpatial[n - 2], w = problem.outputSpatial[n - 1]
        let tiles4 = ((h + 3) / 4) * ((w + 3) / 4), tiles2 = ((h + 1) / 2) * ((w + 1) / 2)
        guard KernelSet.best != nil, tiles4 >= minTiles4x4, 4 * 36 * tiles4 <= 3 * 16 * tiles2,
              let kernel = WinogradKernel(weightShape: problem.weightShape, geometry: problem.geometry, tile: 4),
              kernel.lineTaps == nil, kernel.packed else { return 2 }
        return 4
    }

    private var stack: Int { kernel.stack }
    private var groups: Int { kernel.groups }
    private var depth: Int { kernel.depth }
    /// Padded outer slices and output outer slices of one slab.
    private var slabSlices: Int { outer > 0 ? (slabRows + span0) * restPadded : 1 }
    private var slabOutSlices: Int { slabRows * restOut }
    private var chunkTiles: Int { chunkRows * tilesW }
    /// Floats of V and of M for one block.
    var inputBlockCount: Int { positions * slabSlices * problem.inChannels * chunkTiles }
    var productBlockCount: Int { positions * slabOutSlices * problem.outChannels * chunkTiles }
    /// Scratch floats per worker: for the input transform, the block's m · (tile rows) + 2 input
    /// rows, each split into its m column phases of `phaseFloats` floats; then for the
    /// channel-mixing kernel of the row-major products (`multiply`), when U is not packed.
    var scratchCount: Int {
        max((m * chunkRows + 2) * m * phaseFloats,
            kernel.packed ? 0 : ChannelMixing.scratchFloats(depth: kernel.depth, kernels: transformKernels))
    }
    /// Floats of one column phase of an input row: the `tilesW + 1` the tiles use, for F(4×4)
    /// padded to whole vectors of the AVX2 input transform (`WinogradTiles.phaseFloats`).
    private var phaseFloats: Int { m == 4 ? WinogradTiles.phaseFloats(tiles: tilesW) : tilesW + 1 }
}

// MARK: - Input transform, GEMMs, output transform

extension WinogradConvolution {
    /// One block of work: image `image`, outer-dimension-0 output rows [row0, row0 + rows),
    /// tile rows [tileRow0, tileRow0 + tileRows).
    struct Block {
        let image: Int, row0: Int, rows: Int, tileRow0: Int, tileRows: Int
    }

    /// The number of blocks: images × slabs × tile-row chunks.
    var blockCount: Int {
        problem.batch * ((outRows0 + slabRows - 1) / slabRows) * ((tilesH + chunkRows - 1) / chunkRows)
    }

    /// Output tiles of `block`: its outer rows' slices times its tile rows' tiles.
    func tileCount(_ block: Block) -> Int { block.rows * restOut * block.tileRows * tilesW }

    /// The blocks of the whole problem, in order.
    var blocks: [Block] {
        var list: [Block] = []
        for b in 0..<problem.batch {
            for r0 in stride(from: 0, to: outRows0, by: slabRows) {
                for t0 in stride(from: 0, to: tilesH, by: chunkRows) {
                    list.append(Block(image: b, row0: r0, rows: min(slabRows, outRows0 - r0),
                                      tileRow0: t0, tileRows: min(chunkRows, tilesH - t0)))
                }
            }
        }
        return list
    }

    /// Fills V for `block`, input channels `channels`: Bᵀ d B of every α×α input tile, zero for
    /// padding slices. `scratch` holds `scratchCount` floats.
    func transformInput(_ input: UnsafePointer<Float>, block: Block, channels: Range<Int>,
                        v: UnsafeMutablePointer<Float>, scratch rowScratch: UnsafeMutablePointer<Float>) {
        let n = problem.order, g = problem.geometry
        let cin = problem.inChannels
        let height = problem.inputSpatial[n - 2], width = problem.inputSpatial[n - 1]
        let padH = g.padding[n - 2], padW = g.padding[n - 1]
        let plane = height * width
        let ct = chunkTiles, tw = tilesW
        let xiStride = slabSlices * cin * ct
        let image = input + block.image * problem.inputImageCount
        let spatialCount = problem.inputSpatial.reduce(1, *)
        let blockSlices = outer > 0 ? (block.rows + span0) * restPadded : 1
        // Input rows of the block's tile rows, each split into its m column phases once (for
        // m = 2: even and odd columns).
        let m = self.m, rowCount = m * block.tileRows + 2, phaseLength = phaseFloats
        var coord = [Int](repeating: 0, count: outer)

        for slice in 0..<blockSlices {
            // The input plane of this padded outer slice, or nil in the padding.
            var planeOffset: Int? = 0
            if outer > 0 {
                var rest = slice
                for d in stride(from: outer - 1, through: 0, by: -1) {
                    let size = d == 0 ? slabRows + span0 : padded[d]
                    coord[d] = rest % size
                    rest /= size
                }
                var offset = 0
                for d in 0..<outer {
                    let i = (d == 0 ? coord[0] + block.row0 : coord[d]) - g.padding[d]
                    if i < 0 || i >= problem.inputSpatial[d] { planeOffset = nil; break }
                    offset = offset * problem.inputSpatial[d] + i
                }
                if planeOffset != nil { planeOffset = offset * plane }
            }
            for c in channels {
                let vBase = v + (slice * cin + c) * ct
                guard let planeOffset else {
                    for xi in 0..<positions { (vBase + xi * xiStride).update(repeating: 0, count: block.tileRows * tw) }
                    continue
                }
                let src = image + c * spatialCount + planeOffset
                if transformKernels != nil && c + 1 < channels.upperBound {
                    // The next channel's rows are another stretch of memory: start loading them
                    // now (without this the input's first touch stalls the transform).
                    let first = max(0, m * block.tileRow0 - padH), last = min(height, m * block.tileRow0 - padH + rowCount)
                    if last > first { fck_prefetch(src + spatialCount + first * width, 4 * (last - first) * width) }
                }
                for r in 0..<rowCount {
                    let ih = m * block.tileRow0 - padH + r
                    let row = ih >= 0 && ih < height ? src + ih * width : nil, phases = rowScratch + m * r * phaseLength
                    if m == 2 {
                        WinogradTiles.deinterleave(row, width: width, pad: padW, count: phaseLength, even: phases,
                                                   odd: phases + phaseLength, kernels: transformKernels)
                    } else {
                        WinogradTiles.deinterleave4(row, width: width, pad: padW, count: phaseLength, out: phases,
                                                    stride: phaseLength, kernels: transformKernels)
                    }
                }
                for tr in 0..<block.tileRows {
                    let phases = rowScratch + m * (m * tr) * phaseLength
                    if m == 2 {
                        WinogradTiles.inputTiles(even: phases, odd: phases + phaseLength, rowStride: 2 * phaseLength,
                                                 tiles: tw, v: vBase + tr * tw, xiStride: xiStride,
                                                 kernels: transformKernels)
                    } else {
                        WinogradTiles.inputTiles4(phases: phases, phaseStride: phaseLength, rowStride: 4 * phaseLength,
                                                  tiles: tw, v: vBase + tr * tw, xiStride: xiStride,
                                                  kernels: transformKernels)
                    }
                }
            }
        }
    }

    /// The GEMMs of `block` for output channels `channels` (rows of M): M[ξ] = U[ξ] · V[ξ] for
    /// every ξ, one per output outer slice, with outer tap groups accumulated.
    func multiply(u: UnsafePointer<Float>, v: UnsafePointer<Float>, m: UnsafeMutablePointer<Float>,
                  block: Block, channels: Range<Int>, positions xis: Range<Int>, scratch: UnsafeMutablePointer<Float>) {
        guard !channels.isEmpty else { return }
        let cin = problem.inChannels, cout = problem.outChannels, g = problem.geometry
        let ct = chunkTiles, n = block.tileRows * tilesW
        let rowsStored = kernel.storedRows
        let vXi = slabSlices * cin * ct, mXi = slabOutSlices * cout * ct, uXi = groups * rowsStored * depth
        let outSizes = outer > 0 ? [block.rows] + Array(problem.outputSpatial[1..<outer]) : []
        let slabPadded = outer > 0 ? [slabRows + span0] + Array(padded.dropFirst()) : []
        let paddedStrides = Tensor<Float>.rowMajorStrides(slabPadded)
        let outSlices = outSizes.reduce(1, *)
        // Outer taps of each group (the stacked last dimension's tap is 0 within a group).
        let groupTaps: [[Int]] = (0..<groups).map { group in
            var rest = group * stack, tap = [Int](repeating: 0, count: outer)
            for d in stride(from: outer - 1, through: 0, by: -1) { tap[d] = rest % problem.kernel[d]; rest /= problem.kernel[d] }
            return tap
        }
        var q = [Int](repeating: 0, count: outer)
        let c0 = channels.lowerBound
        for xi in xis {
            for outSlice in 0..<outSlices {
                var rest = outSlice
                for d in stride(from: outer - 1, through: 0, by: -1) { q[d] = rest % outSizes[d]; rest /= outSizes[d] }
                for (group, tap) in groupTaps.enumerated() {
                    var slice = 0
                    for d in 0..<outer { slice += (q[d] + tap[d] * g.dilation[d]) * paddedStrides[d] }
                    // Packed panels start every 32 rows, so row c0 (a panel boundary) is at c0 · depth either way.
                    let a = u + xi * uXi + (group * rowsStored + c0) * depth, b = v + xi * vXi + slice * cin * ct
                    if kernel.packed {
                        PackedGemm.multiply(packed: a, rows: channels.count, depth: depth, b: b, ldb: ct, columns: n,
                                            c: m + xi * mXi + outSlice * ct * cout + c0, ldc: cout, accumulate: group > 0,
                                            kernel: gemmKernel)
                    } else if group == 0 {
                        // A written (not accumulated) product, row-major like BLAS's: the channel-mixing
                        // kernel, which reads V in place where OpenBLAS copies U and V into packed
                        // buffers on every call (most of the time of these small-row products).
                        ChannelMixing.apply(weight: a, rows: channels.count, depth: depth, input: b, ldx: ct, columns: n,
                                            output: m + xi * mXi + (outSlice * cout + c0) * ct, ldy: ct, bias: nil,
                                            kernels: transformKernels, scratch: scratch)
                    } else {
                        Float.gemm(transA: false, transB: false, m: channels.count, n: n, k: depth, alpha: 1,
                                   a: a, lda: depth, b: b, ldb: ct,
                                   beta: 1, c: m + xi * mXi + (outSlice * cout + c0) * ct, ldc: ct)
                    }
                }
            }
        }
    }

    /// Writes the outputs of `block` for output channels `channels` from M: Aᵀ m A per tile,
    /// clipped at output sizes that are not multiples of m, plus the bias.
    func transformOutput(_ m: UnsafePointer<Float>, block: Block, channels: Range<Int>,
                         bias: UnsafePointer<Float>?, output: UnsafeMutablePointer<Float>) {
        let n = problem.order, cout = problem.outChannels
        let outH = problem.outputSpatial[n - 2], outW = problem.outputSpatial[n - 1]
        let ct = chunkTiles, tw = tilesW
        let xiStride = slabOutSlices * cout * ct
        let blockOutSlices = block.rows * restOut
        let image = output + block.image * cout * problem.outputPositions
        for outSlice in 0..<blockOutSlices {
            // Output outer slices of a slab are rows (row0 + r) × the rest, contiguous in the output.
            let planeIndex = outer > 0 ? block.row0 * restOut + outSlice : 0
            if kernel.packed {
                // M is tile-major: one call covers the block's tile rows and channels.
                let c0 = channels.lowerBound, oh = self.m * block.tileRow0
                let dst = image + c0 * problem.outputPositions + planeIndex * outH * outW + oh * outW
                if self.m == 4 {
                    WinogradTiles.tileMajorOutput4(m + outSlice * ct * cout + c0, xiStride: xiStride, tileStride: cout,
                                                   tiles: tw, tileRows: block.tileRows, channels: channels.count,
                                                   bias: bias.map { $0 + c0 }, output: dst,
                                                   planeStride: problem.outputPositions, width: outW, rows: outH - oh)
                    continue
                }
                WinogradTiles.tileMajorOutput(m + outSlice * ct * cout + c0, xiStride: xiStride, tileStride: cout,
                                              tiles: tw, tileRows: block.tileRows, channels: channels.count,
                                              bias: bias.map { $0 + c0 }, output: dst, planeStride: problem.outputPositions,
                                              width: outW, rows: outH - oh, kernel: gemmKernel!)
                continue
            }
            for o in channels {
                let mBase = m + (outSlice * cout + o) * ct
                let dst = image + o * problem.outputPositions + planeIndex * outH * outW
                for tr in 0..<block.tileRows where self.m == 4 {
                    let oh = 4 * (block.tileRow0 + tr)
                    WinogradTiles.outputTiles4(m: mBase + tr * tw, xiStride: xiStride, tiles: tw, bias: bias?[o] ?? 0,
                                               width: outW, rows: outH - oh, out: dst + oh * outW, kernels: transformKernels)
                }
                for tr in 0..<block.tileRows where self.m == 2 {
                    let oh = 2 * (block.tileRow0 + tr)
                    let row0 = dst + oh * outW
                    WinogradTiles.outputTiles(m: mBase + tr * tw, xiStride: xiStride, tiles: tw, bias: bias?[o] ?? 0,
                                              width: outW, row0: row0, row1: oh + 1 < outH ? row0 + outW : nil,
                                              kernels: transformKernels)
                }
            }
        }
    }
}
