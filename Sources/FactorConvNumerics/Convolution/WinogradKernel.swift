
/// The kernel side of a Winograd convolution — F(2×2, 3×3) or F(4×4, 3×3) over the last two
/// dimensions (`WinogradConvolution`) or F(m, r) for 1-D kernels (`WinogradLineConvolution`): which kernels
/// qualify and the transformed kernel U (G g Gᵀ, or G g), which depends only on the kernel and
/// geometry, so that callers with fixed weights (a layer's pipeline) compute it once.
///
/// Layout of U: `[ξ][group][C_out][stack · C_in]`, ξ over the transform positions (α i + j for the
/// α×α tile, α = 4 for F(2×2, 3×3) and 6 for F(4×4, 3×3)). The outer taps of the last outer
/// dimension (when its dilation is 1) are `stack` consecutive input slices, stacked into one
/// GEMM's depth; the other outer taps form
/// `groups` (1-D kernels: both 1). When `packed`, each `[ξ][group]` matrix (C_out × depth) is
/// stored as `PackedGemm` panels instead, its rows padded to whole panels.
package struct WinogradKernel: Sendable, Equatable {
    /// Output tile sizes m of the planar F(m×m, 3×3) paths.
    static let planarTiles = [2, 4]
    /// G (α × 3, row-major) of F(m×m, 3×3) for m = 2 and 4 (Lavin & Gray's matrices, points 0,
    /// ±1, (±2,) ∞): U = G g Gᵀ.
    static func planarG(tile: Int) -> [Float] {
        tile == 2 ? [1, 0, 0, 0.5, 0.5, 0.5, 0.5, -0.5, 0.5, 0, 0, 1]
            : [0.25, 0, 0, -1 / 6, -1 / 6, -1 / 6, -1 / 6, 1 / 6, -1 / 6, 1 / 24, 1 / 12, 1 / 6,
               1 / 24, -1 / 12, 1 / 6, 0, 0, 1]
    }
    /// Smallest channel counts for which the transforms pay for themselves (set by benchmarking).
    static let minChannels = 16
    /// `PackedGemm.avx2MaxDepth` for F(4×4, 3×3)'s U: its 36 GEMMs per block have few columns,
    /// and OpenBLAS re-packs each 36th of U on every call, which cost more than the AVX2 kernel's
    /// chunked deep products up to this depth (256 × 256 on 28×28 planes was faster packed; 384
    /// and 512 channels were not).
    static let avx2MaxDepth4x4 = 256
    /// 1-D kernel sizes handled (each has hand-written transforms in `WinogradTiles`), and the
    /// outputs per tile used for each.
    static let lineTaps = [3, 5]
    static func lineOutputs(taps: Int) -> Int { 2 }

    let outChannels: Int, inChannels: Int
    /// Outer taps stacked into one GEMM's depth, and the number of remaining tap groups.
    let stack: Int, groups: Int
    /// For a 1-D kernel, its size r; nil for F(m×m, 3×3).
    let lineTaps: Int?
    /// Outputs per tile side m of F(m×m, 3×3) (2 or 4; 2 for 1-D kernels, unused there).
    let tile: Int
    /// Whether U is stored as `PackedGemm` panels (so products come out tile-major); else
    /// row-major for BLAS.
    let packed: Bool

    /// The layout for a kernel (C_out, C_in, K...), or nil unless its last two dimensions are 3×3
    /// with stride 1 and dilation 1, every stride is 1, and both channel counts are at least
    /// `minChannels`.
    /// `packed` asks for `PackedGemm` panels or not; by default they are used when they suit the
    /// output channel count and the GEMM depth (`PackedGemm.suits`, up to `avx2MaxDepth4x4` for
    /// F(4×4)). `tile` is m of F(m×m, 3×3)
    /// (`planarTiles`), ignored for 1-D kernels.
    init?(weightShape: [Int], geometry g: ConvGeometry, minChannels: Int = WinogradKernel.minChannels,
          packed: Bool? = nil, tile: Int = 2) {
        let n = weightShape.count - 2
        guard n >= 1, n == g.order, g.stride.allSatisfy({ $0 == 1 }), Self.planarTiles.contains(tile),
              weightShape[0] >= minChannels, weightShape[1] >= minChannels else { return nil }
        let kernel = Array(weightShape.dropFirst(2))
        if n == 1 {
            guard Self.lineTaps.contains(kernel[0]), g.dilation[0] == 1 else { return nil }
            (outChannels, inChannels, stack, groups, lineTaps, self.tile) = (weightShape[0], weightShape[1], 1, 1, kernel[0], 2)
        } else {
            lineTaps = nil
            self.tile = tile
            for d in (n - 2)..<n where kernel[d] != 3 || g.dilation[d] != 1 { return nil }
            outChannels = weightShape[0]
            inChannels = weightShape[1]
            let outer = n - 2
            stack = outer > 0 && g.dilation[outer - 1] == 1 ? kernel[outer - 1] : 1
            groups = kernel.prefix(outer).reduce(1, *) / stack
        }
        self.packed = packed ?? PackedGemm.suits(rows: outChannels, depth: stack * inChannels,
                                                 avx2MaxDepth: self.tile == 4 ? Self.avx2MaxDepth4x4 : PackedGemm.avx2MaxDepth)
    }

    /// GEMM depth: stacked taps × input channels.
    var depth: Int { stack * inChannels }
    /// Transform positions ξ: α² = (m + 2)² (16 or 36), or α = m + r − 1 for a 1-D kernel.
    var positionCount: Int { lineTaps.map { Self.lineOutputs(taps: $0) + $0 - 1 } ?? (tile + 2) * (tile + 2) }
    /// Outputs of one tile (m×m, or m), and the direct convolution's multiplications for them
    /// per (input, output) channel pair over one outer tap.
    var outputsPerTile: Int { lineTaps.map { Self.lineOutputs(taps: $0) } ?? tile * tile }
    var directMultipliesPerTile: Int { outputsPerTile * (lineTaps ?? 9) }
    /// Rows of one `[ξ][group]` matrix of U as stored (C_out, padded to whole panels when packed).
    var storedRows: Int { packed ? PackedGemm.paddedRows(outChannels) : outChannels }
    /// Floats of U.
    var transformedCount: Int { positionCount * groups * storedRows * depth }
    /// Kernel taps per (output, input) channel pair.
    var kernelVolume: Int { lineTaps ?? groups * stack * 9 }
    /// An upper bound on the floats computing U allocates: U itself and the scratch of
    /// `transform` (the row-major U before packing, or 9 + 3α floats per input channel).
    var transformFloats: Int { 2 * transformedCount + (9 + 3 * (tile + 2)) * inChannels }

    /// U for `weight` (laid out for this kernel), in new memory.
    func transformed(_ weight: UnsafePointer<Float>) -> TransformedKernel {
        let u = TransformedKernel(count: transformedCount)
        transform(weight, into: u.pointer)
        return u
    }

    /// Writes U for `weight` (C_out, C_in, K...) into `u` (`transformedCount` floats).
    func transform(_ weight: UnsafePointer<Float>, into u: UnsafeMutablePointer<Float>) {
        guard packed else { return transformRowMajor(weight, into: u) }
        let matrices = positionCount * groups, rows = outChannels
        Workspace.shared.withBuffer(of: Float.self, count: matrices * rows * depth) { rowMajor in
            transformRowMajor(weight, into: rowMajor)
            for i in 0..<matrices {
                PackedGemm.pack(rowMajor + i * rows * depth, lda: depth, rows: rows, depth: depth,
                                into: u + i * storedRows * depth)
            }
        }
    }

    /// Writes U = G g Gᵀ (`planarG`) of every (output channel, input channel, outer tap) 3×3 slice of
    /// `weight` (C_out, C_in, K_outer..., 3, 3) in the row-major layout
    /// `[ξ][group][C_out][stack · C_in]` (or G g of a 1-D kernel).
    private func transformRowMajor(_ weight: UnsafePointer<Float>, into u: UnsafeMutablePointer<Float>) {
        if let taps = lineTaps {
            // U[ξ][o][c] = Σ_k G[ξ][k] g[o][c][k].
            let tc = ToomCook(outputs: Self.lineOutputs(taps: taps), taps: taps)
            let pairs = outChannels * inChannels
            for xi in 0..<tc.alpha {
                let row = (0..<taps).map { Float(tc.g[xi * taps + $0]) }
                let dst = u + xi * pairs
                for p in 0..<pairs {
                    var sum: Float = 0
                    for k in 0..<taps { sum += row[k] * weight[p * taps + k] }
                    dst[p] = sum
                }
            }
            return
        }
        let cin = inChannels, cout = outChannels
        let outerTaps = groups * stack
        let volume = outerTaps * 9
        let xiStride = groups * cout * depth
        let alpha = tile + 2, gm = Self.planarG(tile: tile)
        Workspace.shared.withBuffer(of: Float.self, count: (9 + 3 * alpha) * cin) { scratch in
            // g[ab][c] for the 9 kernel entries, then t[a][j] = (g Gᵀ)[a][j] for 3α entries.
            let g = scratch, t = scratch + 9 * cin
            for o in 0..<cout {
                for tap in 0..<outerTaps {
                    // With stacking, the last outer dimension's tap is the fastest-varying index.
                    let group = tap / stack, s = tap % stack
                    let dst = u + group * cout * depth + o * depth + s * cin
                    let src = weight + o * cin * volume + tap * 9
                    for c in 0..<cin {
                        for ab in 0..<9 { g[ab &* cin &+ c] = src[c &* volume &+ ab] }
                    }
                    // Along the last axis: (x0, x1, x2) → G x (α values).
                    for a in 0..<3 {
                        let x0 = g + 3 * a * cin, x1 = x0 + cin, x2 = x1 + cin
                        for j in 0..<alpha {
                            let (p, q, r) = (gm[3 * j], gm[3 * j + 1], gm[3 * j + 2])
                            let y = t + (alpha * a + j) * cin
                            for c in 0..<cin { y[c] = p * x0[c] + q * x1[c] + r * x2[c] }
                        }
                    }
                    // The same map along the first axis, into U[ξ = α i + j].
                    for j in 0..<alpha {
                        let x0 = t + j * cin, x1 = x0 + alpha * cin, x2 = x1 + alpha * cin
                        for i in 0..<alpha {
                            let (p, q, r) = (gm[3 * i], gm[3 * i + 1], gm[3 * i + 2])
                            let y = dst + (alpha * i + j) * xiStride
                            for c in 0..<cin { y[c] = p * x0[c] + q * x1[c] + r * x2[c] }
                        }
                    }
                }
            }
        }
    }
}

/// A transformed kernel U in 64-byte-aligned memory (`PackedGemm`'s panel loads then never
/// straddle cache lines). Immutable once written.
final class TransformedKernel: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<Float>
    init(count: Int) {
        pointer = UnsafeMutableRawPointer.allocate(byteCount: max(1, count) * 4, alignment: 64)
            .bindMemory(to: Float.self, capacity: max(1, count))
    }
    deinit { pointer.deallocate() }
}

/// A fixed weight's transformed kernels, each computed on first use and then shared: a pipeline
/// that `implementation='auto'` builds only to cost it never pays for a transform or its memory.
/// A planar 3×3 kernel has one slot per tile size (`WinogradKernel.planarTiles`), since the plan
/// `DenseConvolution` picks depends on the image size.
final class LazyWinogradKernel: Sendable {
    /// The layouts a plan may ask for, and their U once computed (same order).
    private let layouts: [WinogradKernel]
    private let weight: Tensor<Float>
    private let transformed: LibraryMutex<[TransformedKernel?]>

    /// Slots for `weight` if it qualifies for a Winograd path, else nil.
    init?(_ weight: Tensor<Float>, geometry: ConvGeometry) {
        var layouts: [WinogradKernel] = []
        for tile in WinogradKernel.planarTiles {
            if let layout = WinogradKernel(weightShape: weight.shape, geometry: geometry, tile: tile),
               !layouts.contains(layout) { layouts.append(layout) }
        }
        guard !layouts.isEmpty else { return nil }
        self.layouts = layouts
        self.weight = weight
        transformed = LibraryMutex(Array(repeating: nil, count: layouts.count), kind: .winogradKernel)
    }

    /// An upper bound on the floats the next `withTransformed` still has to allocate: the
    /// largest `WinogradKernel.transformFloats` of a layout not yet computed (one call computes
    /// at most one), or 0 once all exist.
    var pendingFloats: Int {
        let missing = transformed.withLock { slots in slots.indices.filter { slots[$0] == nil } }
        return missing.map { layouts[$0].transformFloats }.max() ?? 0
    }

    /// Calls `body` with U in `layout`, computing it on the first call for that layout (a layout
    /// this weight has no slot for is transformed into scratch for this call only). The
    /// transform runs outside the lock (it may be long and parallel, see `LibraryMutex`):
    /// concurrent first callers each compute an equal U, and the first one stored is kept.
    func withTransformed<R>(_ layout: WinogradKernel, _ body: (UnsafePointer<Float>) -> R) -> R {
        guard let slot = layouts.firstIndex(of: layout) else {
            return Workspace.shared.withBuffer(of: Float.self, count: layout.transformedCount) { u in
                weight.scalars.withUnsafeBufferPointer { layout.transform($0.baseAddress!, into: u) }
                return body(u)
            }
        }
        let u: TransformedKernel
        if let cached = transformed.withLock({ $0[slot] }) {
            u = cached
        } else {
            let fresh = weight.scalars.withUnsafeBufferPointer { layout.transformed($0.baseAddress!) }
            u = transformed.withLock { slots in
                if let value = slots[slot] { return value }
                slots[slot] = fresh
                return fresh
            }
        }
        return withExtendedLifetime(u) { body(u.pointer) }
    }
}
