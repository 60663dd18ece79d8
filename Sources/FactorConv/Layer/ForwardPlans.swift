/// Builds the `ConvPipeline` of one convolution (one layer of the grid) for each implementation
/// (behaviour notes §5.3–5.7). The derived weights computed here (reconstructed kernel, Tucker core kernel,
/// CP λ folded into the output factor, mobilenet kernel) are what the layer caches.
enum ForwardPlans {
    /// The ways one implementation can run a layer: pipelines that compute the same convolution
    /// and differ in speed only. A forward runs, per input shape, the one `CostModel` estimates
    /// cheapest (`FactorizedConv.cheapestPipeline`).
    enum Variant: Hashable, Sendable {
        /// The implementation's pipeline as behaviour notes §5.3–5.7 describe it.
        case standard
        /// A Tucker core with small spatial ranks as a bank of shared filters and a channel
        /// mixing (`tuckerExpanded`): faster on small planes and 1-D lines, slower where the
        /// core conv runs Winograd F(4×4).
        case expandedCore
    }

    /// The variants of `implementation` for a single-layer `tensor`: `.expandedCore` besides
    /// `.standard` for a factorized 1-D or 2-D Tucker layer whose spatial ranks are not all 1
    /// and are small enough (`expandsCore`). (3-D is left out: on the benchmark's 3-D layers it
    /// ran 1.5–1.7× slower than the core conv, with full N-D filters on the portable depthwise
    /// loops as well as with one expansion per mode, whose intermediates stream through memory.)
    static func variants(for tensor: FactorizedTensor, implementation: Implementation) -> [Variant] {
        guard implementation == .factorized, case .tucker(let tucker) = tensor else { return [.standard] }
        let spatialRanks = Array(tucker.core.shape.dropFirst(2))
        let kernel = tucker.factors.dropFirst(2).map { $0.shape[0] }
        guard spatialRanks.count <= 2, !spatialRanks.allSatisfy({ $0 == 1 }),
              expandsCore(spatialRanks: spatialRanks, kernel: kernel) else { return [.standard] }
        return [.standard, .expandedCore]
    }

    /// The pipeline computing `conv(x, kernel(tensor)) + bias` for a single-layer `tensor`.
    /// `implementation` must be concrete (not `.auto`) and valid for the factorization, and
    /// `variant` one of its `variants`.
    static func pipeline(for tensor: FactorizedTensor, implementation: Implementation, variant: Variant = .standard,
                         geometry: ConvGeometry, bias: [Float]?) throws -> ConvPipeline {
        switch (implementation, tensor) {
        case (.reconstructed, _):
            return ConvPipeline(stages: [.dense(weight: try tensor.kernel(), geometry: geometry, bias: bias)])
        case (.factorized, .cp(let cp)):
            return try cpSeparable(cp, geometry: geometry, bias: bias)
        case (.mobilenet, .cp(let cp)):
            return try cpMobilenet(cp, geometry: geometry, bias: bias)
        case (.factorized, .tucker(let tucker)):
            return variant == .expandedCore ? try tuckerExpanded(tucker, geometry: geometry, bias: bias)
                                            : try tuckerBottleneck(tucker, geometry: geometry, bias: bias)
        case (.factorized, .tt(let tt)):
            return try ttChain(tt, geometry: geometry, bias: bias)
        default:
            try implementation.validate(for: tensor.factorization)
            throw FactorConvError(.internal, "no forward plan for \(implementation) on \(tensor.factorization)")
        }
    }

    /// The geometry of a 1-D convolution along spatial mode `mode` only.
    static func alongMode(_ mode: Int, of geometry: ConvGeometry) throws -> ConvGeometry {
        let n = geometry.order
        return try ConvGeometry(order: n,
                                stride: (0..<n).map { $0 == mode ? geometry.stride[mode] : 1 },
                                padding: (0..<n).map { $0 == mode ? geometry.padding[mode] : 0 },
                                dilation: (0..<n).map { $0 == mode ? geometry.dilation[mode] : 1 })
    }

    /// A kernel shape that is `size` along `mode` and 1 elsewhere, prefixed by `leading`.
    static func lineKernelShape(_ leading: [Int], size: Int, mode: Int, order: Int) -> [Int] {
        leading + (0..<order).map { $0 == mode ? size : 1 }
    }

    /// CP: 1×1 (C_in → R) → depthwise 1-D per spatial mode → 1×1 (R → C_out, λ folded in) + bias.
    static func cpSeparable(_ cp: CPTensor, geometry: ConvGeometry, bias: [Float]?) throws -> ConvPipeline {
        var scale = cp.weights.scalars
        let depthwise = try perModeDepthwise(Array(cp.factors[2...]), geometry: geometry, scale: &scale)
        return ConvPipeline(stages: [.pointwise(weight: try cp.factors[1].permuted([1, 0]), bias: nil)] + depthwise
                            + [.pointwise(weight: scaledColumns(cp.factors[0], scale), bias: bias)])
    }

    /// The depthwise stages of a separable path: along spatial mode m, channel r is convolved with
    /// column r of `factors[m]` (K_m × R). A mode with a single tap and trivial geometry is a
    /// per-channel scale: it is multiplied into `scale` (R floats) instead of becoming a stage.
    static func perModeDepthwise(_ factors: [Tensor<Float>], geometry: ConvGeometry,
                                 scale: inout [Float]) throws -> [ConvStage] {
        let order = geometry.order
        var stages: [ConvStage] = []
        for (mode, factor) in factors.enumerated() {
            let rank = factor.shape[1]
            let line = try alongMode(mode, of: geometry)
            if factor.shape[0] == 1 && line.isIdentity {
                for r in 0..<rank { scale[r] *= factor.scalars[r] }
                continue
            }
            let taps = try factor.permuted([1, 0]).reshaped(lineKernelShape([rank], size: factor.shape[0], mode: mode, order: order))
            stages.append(.depthwise(taps: taps, geometry: line))
        }
        return stages
    }

    /// CP mobilenet: 1×1 → one depthwise N-D conv with kernel D[r] = ⊗_m K_m[:, r] → 1×1 + bias.
    static func cpMobilenet(_ cp: CPTensor, geometry: ConvGeometry, bias: [Float]?) throws -> ConvPipeline {
        let order = geometry.order, rank = cp.rank
        let spatialFactors = Array(cp.factors[2...])
        let kernel = spatialFactors.map { $0.shape[0] }
        let volume = try Checked.product(kernel, "mobilenet kernel")
        // The kernel is the factors' outer product, far larger than they are: refuse it before
        // allocating (auto then skips this plan).
        try MemoryLimit.check(elements: try Checked.multiply(rank, volume, "mobilenet kernel"), "the mobilenet kernel")
        var taps = Tensor<Float>(shape: [rank] + kernel)
        for r in 0..<rank {
            for t in 0..<volume {
                var rest = t, v: Float = 1
                for m in stride(from: order - 1, through: 0, by: -1) {
                    v *= spatialFactors[m].scalars[(rest % kernel[m]) * rank + r]
                    rest /= kernel[m]
                }
                taps.scalars[r * volume + t] = v
            }
        }
        return ConvPipeline(stages: [
            .pointwise(weight: try cp.factors[1].permuted([1, 0]), bias: nil),
            .depthwise(taps: taps, geometry: geometry),
            .pointwise(weight: scaledColumns(cp.factors[0], cp.weights.scalars), bias: bias),
        ])
    }

    /// Tucker: 1×1 (C_in → R_1) → dense conv with the core kernel (R_0, R_1, K...) → 1×1 (R_0 → C_out) + bias;
    /// `tuckerSeparable` when every spatial rank is 1.
    static func tuckerBottleneck(_ tucker: TuckerTensor, geometry: ConvGeometry, bias: [Float]?) throws -> ConvPipeline {
        if tucker.core.shape.dropFirst(2).allSatisfy({ $0 == 1 }) {
            return try tuckerSeparable(tucker, geometry: geometry, bias: bias)
        }
        var coreKernel = tucker.core
        for mode in 0..<geometry.order {
            coreKernel = try coreKernel.modeProduct(tucker.factors[2 + mode], mode: 2 + mode)
        }
        return ConvPipeline(stages: [
            .pointwise(weight: try tucker.factors[1].permuted([1, 0]), bias: nil),
            .dense(weight: coreKernel, geometry: geometry, bias: nil),
            .pointwise(weight: tucker.factors[0], bias: bias),
        ])
    }

    /// Whether a Tucker core with spatial ranks `spatialRanks` over a kernel of size `kernel` may
    /// run as `tuckerExpanded`: when the spatial ranks' product F is at most half the kernel's taps,
    /// so that its F multiply-adds per output and channel pair are no more than what the core
    /// conv's Winograd path does (F(2×2, 3×3): 4 per output; F(2, 5): 3) or a third of what its
    /// direct paths do (3-D 3×3×3: 27). Winograd F(4×4) does 2.25 on large planes, but has
    /// transforms and a 4× larger intermediate to pass through.
    static func expandsCore(spatialRanks: [Int], kernel: [Int]) -> Bool {
        2 * spatialRanks.reduce(1, *) <= kernel.reduce(1, *)
    }

    /// Tucker with small spatial ranks (R_s1, …, R_sN), F = Π R_s: the core conv is a sum over the
    /// F spatial index tuples (a_1, …, a_N) of the core's slice G[:, :, a] (R_0 × R_1) times the
    /// shared filter ⊗_m U_m[:, a_m] (the factors' columns). It runs as 1×1 (C_in → R_1) → every
    /// channel convolved with each of the F filters (`.expansion`, R_1 → F·R_1) → 1×1
    /// (F·R_1 → R_0, the core) → 1×1 (R_0 → C_out) + bias, the last two folded into one when that
    /// is fewer multiply-adds. Per output and R_0·R_1 pair it does F multiply-adds in one deep
    /// channel mixing, where the core conv does ΠK directly or 2.25–4 through Winograd's
    /// transforms and small per-position GEMMs.
    static func tuckerExpanded(_ tucker: TuckerTensor, geometry: ConvGeometry, bias: [Float]?) throws -> ConvPipeline {
        let core = tucker.core, r0 = core.shape[0], r1 = core.shape[1]
        let spatialRanks = Array(core.shape.dropFirst(2)), filters = spatialRanks.reduce(1, *)
        let spatial = Array(tucker.factors.dropFirst(2))                     // (K_m, R_sm)
        let kernel = spatial.map { $0.shape[0] }, taps = kernel.reduce(1, *)
        // Filter f (row-major over the spatial index tuples) at tap t (row-major over K...),
        // repeated for each of the R_1 channels it convolves.
        var bank = Tensor<Float>(shape: [filters * r1] + kernel)
        for f in 0..<filters {
            for t in 0..<taps {
                var value: Float = 1, restF = f, restT = t
                for m in stride(from: spatial.count - 1, through: 0, by: -1) {
                    value *= spatial[m].scalars[(restT % kernel[m]) * spatialRanks[m] + restF % spatialRanks[m]]
                    restF /= spatialRanks[m]
                    restT /= kernel[m]
                }
                for q in 0..<r1 { bank.scalars[(f * r1 + q) * taps + t] = value }
            }
        }
        // The core as a mixing of the expanded channels: W[p, f·R_1 + q] = G[p, q, a(f)].
        var mixing = Tensor<Float>(shape: [r0, filters * r1])
        for p in 0..<r0 {
            for q in 0..<r1 {
                for f in 0..<filters { mixing.scalars[p * filters * r1 + f * r1 + q] = core.scalars[(p * r1 + q) * filters + f] }
            }
        }
        let outFactor = tucker.factors[0], cout = outFactor.shape[0]          // (C_out, R_0)
        let separate = r0 * filters * r1 + cout * r0, folded = cout * filters * r1
        let tail: [ConvStage] = folded <= separate
            ? [.pointwise(weight: try outFactor.matmul(mixing), bias: bias)]
            : [.pointwise(weight: mixing, bias: nil), .pointwise(weight: outFactor, bias: bias)]
        return ConvPipeline(stages: [
            .pointwise(weight: try tucker.factors[1].permuted([1, 0]), bias: nil),
            .expansion(taps: bank, copies: filters, geometry: geometry),
        ] + tail)
    }

    /// Tucker with spatial ranks all 1: the kernel is (U_0 G U_1ᵀ) ⊗ f_1 ⊗ … ⊗ f_N, so its spatial
    /// part is one filter shared by every channel. It commutes with the channel mixing, so it
    /// runs as per-mode depthwise convs on the narrower side of the core G (R_0 × R_1):
    /// 1×1 (C_in → r) → depthwise 1-D per mode → 1×1 (r → C_out) + bias, r = min(R_0, R_1), with G
    /// folded into the other 1×1. Per position C_in·r + r·C_out multiply-adds (plus the taps),
    /// where the core conv path does C_in·R_1 + R_0·R_1·ΠK + R_0·C_out (2.3× as many on the
    /// rank-0.1 3×3 layers of the benchmarks).
    static func tuckerSeparable(_ tucker: TuckerTensor, geometry: ConvGeometry, bias: [Float]?) throws -> ConvPipeline {
        let r0 = tucker.core.shape[0], r1 = tucker.core.shape[1]
        let core = try tucker.core.reshaped([r0, r1])
        let outFactor = tucker.factors[0], inFactor = tucker.factors[1]       // (C_out, R_0), (C_in, R_1)
        let first, last: Tensor<Float>                                       // (r, C_in), (C_out, r)
        if r1 <= r0 {
            first = try inFactor.permuted([1, 0])
            last = try outFactor.matmul(core)
        } else {
            first = try core.matmul(inFactor, transposeOther: true)
            last = outFactor
        }
        let r = min(r0, r1)
        // f_m (K_m × 1) as the same column for every channel.
        let spatial = try tucker.factors[2...].map { f in
            try Tensor<Float>(shape: [f.shape[0], r], scalars: f.scalars.flatMap { [Float](repeating: $0, count: r) })
        }
        var scale = [Float](repeating: 1, count: r)
        let depthwise = try perModeDepthwise(spatial, geometry: geometry, scale: &scale)
        return ConvPipeline(stages: [.pointwise(weight: first, bias: nil)] + depthwise
                            + [.pointwise(weight: scaledColumns(last, scale), bias: bias)])
    }

    /// TT: 1×1 (C_in → R_1) → per spatial mode a full 1-D conv R_m → R_{m+1} → 1×1 (R_N → C_out) + bias.
    ///
    /// The 1×1 at either end is folded into the neighbouring mode conv when that takes fewer
    /// multiply-adds per position — when the rank beyond that conv is small: first
    /// C_in·R_2·K_1 < C_in·R_1 + R_1·R_2·K_1, last R_N·C_out·K_N < R_N·R_{N+1}·K_N + R_{N+1}·C_out.
    /// tltorch's rank 0.1 on 3×3 kernels gives such ranks (64 → 26 → 2 → 26 → 64: 3,640 → 768 per
    /// position; 256 → 112 → 3 → 112 → 256: 59,000 → 4,600).
    static func ttChain(_ tt: TTTensor, geometry: ConvGeometry, bias: [Float]?) throws -> ConvPipeline {
        let order = geometry.order
        let first = tt.cores[0], last = tt.cores[order + 1]       // (1, C_in, R_1), (R_N, C_out, 1)
        let cin = first.shape[1], cout = last.shape[1]
        var convs = try (0..<order).map { try tt.cores[1 + $0].permuted([2, 0, 1]) }   // (R_{m+1}, R_m, K_m)
        var inMatrix: Tensor<Float>? = try first.reshaped([cin, first.shape[2]])           // (C_in, R_1)
        var outMatrix: Tensor<Float>? = try last.reshaped([last.shape[0], cout])           // (R_{N+1}, C_out)
        if let a = inMatrix, cin * convs[0].shape[0] * convs[0].shape[2] < cin * a.shape[1] + convs[0].count {
            convs[0] = try foldingInput(convs[0], a)
            inMatrix = nil
        }
        let n = order - 1
        if let b = outMatrix, convs[n].shape[1] * cout * convs[n].shape[2] < convs[n].count + convs[n].shape[0] * cout {
            convs[n] = try foldingOutput(convs[n], b)
            outMatrix = nil
        }
        var stages: [ConvStage] = []
        if let a = inMatrix { stages.append(.pointwise(weight: try a.permuted([1, 0]), bias: nil)) }
        for (mode, w) in convs.enumerated() {
            let weight = try w.reshaped(lineKernelShape([w.shape[0], w.shape[1]], size: w.shape[2], mode: mode, order: order))
            let ownsBias = mode == n && outMatrix == nil
            stages.append(.dense(weight: weight, geometry: try alongMode(mode, of: geometry), bias: ownsBias ? bias : nil))
        }
        if let b = outMatrix { stages.append(.pointwise(weight: try b.permuted([1, 0]), bias: bias)) }
        return ConvPipeline(stages: stages)
    }

    /// The conv `w` (R_out, R_in, K) applied after the 1×1 `a` (C, R_in): (R_out, C, K).
    static func foldingInput(_ w: Tensor<Float>, _ a: Tensor<Float>) throws -> Tensor<Float> {
        let (rOut, rIn, k) = (w.shape[0], w.shape[1], w.shape[2])
        return try w.permuted([0, 2, 1]).reshaped([rOut * k, rIn]).matmul(a, transposeOther: true)
            .reshaped([rOut, k, a.shape[0]]).permuted([0, 2, 1])
    }

    /// The 1×1 `b` (R_out, C) applied after the conv `w` (R_out, R_in, K): (C, R_in, K).
    static func foldingOutput(_ w: Tensor<Float>, _ b: Tensor<Float>) throws -> Tensor<Float> {
        let (rOut, rIn, k) = (w.shape[0], w.shape[1], w.shape[2])
        return try b.matmul(w.reshaped([rOut, rIn * k]), transposeSelf: true).reshaped([b.shape[1], rIn, k])
    }

    /// `matrix` (rows × R) with column r multiplied by `scale[r]`.
    static func scaledColumns(_ matrix: Tensor<Float>, _ scale: [Float]) -> Tensor<Float> {
        var out = matrix
        let cols = matrix.shape[1]
        for i in 0..<out.count { out.scalars[i] *= scale[i % cols] }
        return out
    }
}
