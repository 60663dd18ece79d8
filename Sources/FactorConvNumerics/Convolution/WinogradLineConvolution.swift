import FactorConvKernels

/// Dense 1-D convolution with stride 1, dilation 1 and 3 or 5 taps by Winograd's minimal
/// filtering F(2, r) (`ToomCook`, points 0, ±1, ±2, ∞): each tile of 2 outputs is
/// `Aᵀ [(G g) ⊙ (Bᵀ d)]` of α = r + 1 inputs, so the channel reduction becomes α GEMMs over the
/// tiles with 2r / α times fewer multiplications than direct convolution (F(2, 5): 10 → 6).
///
/// Inputs are split once per row into even and odd columns, so that input j of every tile is a
/// contiguous run and the transforms (`WinogradTiles.lineInputTiles`) are vector loops.
/// Work is blocked in chunks of tiles of one image so that a chunk's V `[ξ][C_in][tile]` and
/// M `[ξ][C_out][tile]` (`[ξ][tile][C_out]` with packed U) stay in L2. U comes from
/// `WinogradKernel` (layout `[ξ][C_out][C_in]`, or `PackedGemm` panels).
struct WinogradLineConvolution: WinogradPlan {
    let problem: ConvProblem
    let kernel: WinogradKernel
    /// The instruction set the input transform runs on (nil: the portable `WinogradTiles`).
    let transformKernels: KernelSet?
    /// The instruction set of the packed GEMMs and of the output transform of their tile-major
    /// products, when U is packed.
    let gemmKernel: PackedGemm.Kernel?
    /// Outputs per tile m, taps r, inputs per tile α.
    let outputs: Int, taps: Int, alpha: Int
    /// Output tiles per image, and tiles per chunk.
    let tiles: Int, chunkTiles: Int

    /// Target bytes of one chunk's V and M together.
    static let blockBytes = 1 << 20

    /// The plan, or nil unless the problem is 1-D, stride 1, dilation 1, 3 or 5 taps, with at least
    /// `minChannels` input and output channels (and nil when U is packed without a `gemmKernel`).
    init?(_ problem: ConvProblem, blockBytes: Int = WinogradLineConvolution.blockBytes,
          minChannels: Int = WinogradKernel.minChannels, packed: Bool? = nil,
          transformKernels: KernelSet? = KernelSet.best, gemmKernel: PackedGemm.Kernel? = PackedGemm.kernel) {
        guard let kernel = WinogradKernel(weightShape: problem.weightShape, geometry: problem.geometry,
                                          minChannels: minChannels, packed: packed), let r = kernel.lineTaps,
              !kernel.packed || gemmKernel != nil else { return nil }
        self.problem = problem
        self.kernel = kernel
        self.transformKernels = transformKernels
        self.gemmKernel = gemmKernel
        taps = r
        outputs = WinogradKernel.lineOutputs(taps: r)
        alpha = outputs + r - 1
        tiles = (problem.outputSpatial[0] + outputs - 1) / outputs
        let perTile = 4 * alpha * (problem.inChannels + problem.outChannels)
        let most = min(tiles, max(WinogradConvolution.minGemmColumns, blockBytes / perTile))
        let chunks = (tiles + most - 1) / most
        chunkTiles = (tiles + chunks - 1) / chunks
    }

    /// One chunk: tiles [tile0, tile0 + count) of image `image`.
    struct Block { let image: Int, tile0: Int, count: Int }

    /// Tiles of `block`.
    func tileCount(_ block: Block) -> Int { block.count }

    /// The number of blocks: images × chunks.
    var blockCount: Int { problem.batch * ((tiles + chunkTiles - 1) / chunkTiles) }

    var blocks: [Block] {
        var list: [Block] = []
        for b in 0..<problem.batch {
            for t0 in stride(from: 0, to: tiles, by: chunkTiles) { list.append(Block(image: b, tile0: t0, count: min(chunkTiles, tiles - t0))) }
        }
        return list
    }

    /// Phase entries per array: the tiles' inputs reach index count − 1 + (α − 1) / m.
    private var phaseLength: Int { chunkTiles + (alpha - 1) / outputs + 1 }

    /// Scratch floats per worker: the even and odd input arrays of the input transform; then the
    /// channel-mixing kernel's, for the row-major products (`multiply`) when U is not packed.
    var scratchCount: Int {
        max(2 * phaseLength, kernel.packed ? 0 : ChannelMixing.scratchFloats(depth: kernel.depth, kernels: transformKernels))
    }
    var inputBlockCount: Int { alpha * problem.inChannels * chunkTiles }
    var productBlockCount: Int { alpha * problem.outChannels * chunkTiles }

    /// Fills V for `block`, input channels `channels`: Bᵀ d of every tile.
    func transformInput(_ input: UnsafePointer<Float>, block: Block, channels: Range<Int>,
                        v: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>) {
        let length = problem.inputSpatial[0], m = outputs, ct = chunkTiles
        let xiStride = problem.inChannels * ct
        let phaseCount = block.count + (alpha - 1) / m + 1
        let base = m * block.tile0 - problem.geometry.padding[0]
        for c in channels {
            let x = input + (block.image * problem.inChannels + c) * length
            // even[k] = x[base + 2k], odd[k] = x[base + 2k + 1], zero outside the row.
            let even = scratch, odd = scratch + phaseLength
            WinogradTiles.deinterleave(x, width: length, pad: -base, count: phaseCount, even: even, odd: odd,
                                       kernels: transformKernels)
            WinogradTiles.lineInputTiles(taps: taps, even: even, odd: odd, tiles: block.count, v: v + c * ct,
                                         xiStride: xiStride, kernels: transformKernels)
        }
    }

    /// M[ξ] = U[ξ] · V[ξ] for every transform position, output channels `channels`.
    func multiply(u: UnsafePointer<Float>, v: UnsafePointer<Float>, m: UnsafeMutablePointer<Float>,
                  block: Block, channels: Range<Int>, positions xis: Range<Int>, scratch: UnsafeMutablePointer<Float>) {
        guard !channels.isEmpty else { return }
        let cin = problem.inChannels, cout = problem.outChannels, ct = chunkTiles, c0 = channels.lowerBound
        for xi in xis {
            let a = u + (xi * kernel.storedRows + c0) * cin, b = v + xi * cin * ct
            if kernel.packed {
                PackedGemm.multiply(packed: a, rows: channels.count, depth: cin, b: b, ldb: ct, columns: block.count,
                                    c: m + xi * cout * ct + c0, ldc: cout, accumulate: false, kernel: gemmKernel)
            } else {
                // Row-major like BLAS's, by the channel-mixing kernel (as WinogradConvolution.multiply).
                ChannelMixing.apply(weight: a, rows: channels.count, depth: cin, input: b, ldx: ct, columns: block.count,
                                    output: m + (xi * cout + c0) * ct, ldy: ct, bias: nil, kernels: transformKernels,
                                    scratch: scratch)
            }
        }
    }

    /// Writes the outputs of `block` for output channels `channels`: Aᵀ m + bias per tile,
    /// clipped at the end of the row.
    func transformOutput(_ mBuffer: UnsafePointer<Float>, block: Block, channels: Range<Int>, bias: UnsafePointer<Float>?,
                         output: UnsafeMutablePointer<Float>) {
        let outLength = problem.outputSpatial[0], cout = problem.outChannels, ct = chunkTiles
        if kernel.packed {
            // M is tile-major: one call covers every channel.
            let c0 = channels.lowerBound
            WinogradTiles.tileMajorLineOutput(taps: taps, m: mBuffer + c0, xiStride: cout * ct, tileStride: cout,
                                              tiles: block.count, channels: channels.count, bias: bias.map { $0 + c0 },
                                              output: output + (block.image * cout + c0) * outLength + outputs * block.tile0,
                                              planeStride: outLength, width: outLength - outputs * block.tile0,
                                              kernel: gemmKernel!)
            return
        }
        for o in channels {
            let y = output + (block.image * cout + o) * outLength + outputs * block.tile0
            WinogradTiles.lineOutputTiles(taps: taps, m: mBuffer + o * ct, xiStride: cout * ct, tiles: block.count,
                                          bias: bias?[o] ?? 0, width: outLength - outputs * block.tile0, row: y)
        }
    }
}
