import Testing
@testable import FactorConv
import FactorConvTestSupport

// factorized == reconstructed == mobilenet (CP) == auto on random seeded layers:
// orders 1–4, random anisotropic stride/padding/dilation per layer, with and without
// bias, n_layers [], [3] and [2, 2]. Every forward of every layer index is compared with a plain
// float64 loop convolution (`referenceConv`) of that layer's `reconstructKernel(layer:)`.

private let equivalenceTolerance = 1e-5

/// The implementations that exist for a factorization.
private func implementations(for f: Factorization) -> [Implementation] {
    switch f {
    case .cp: [.factorized, .reconstructed, .mobilenet, .auto]
    case .tucker, .tt: [.factorized, .reconstructed, .auto]
    case .dense: [.reconstructed, .auto]
    }
}

/// Every multi-index of a grid, row-major; `[[]]` for a single convolution.
private func layerIndices(_ grid: [Int]) -> [[Int]] {
    var out: [[Int]] = [[]]
    for n in grid { out = out.flatMap { prefix in (0..<n).map { prefix + [$0] } } }
    return out
}

/// A random geometry for `order` dims; small ranges for high orders so the plain-loop reference stays fast.
private func randomGeometry(_ rng: inout TestRandom, order: Int) throws -> ConvGeometry {
    let maxStride = order <= 2 ? 3 : 2
    let maxPadding = order <= 3 ? 2 : 1
    return try ConvGeometry(order: order,
                            stride: (0..<order).map { _ in rng.int(1...maxStride) },
                            padding: (0..<order).map { _ in rng.int(0...maxPadding) },
                            dilation: (0..<order).map { _ in rng.int(1...2) })
}

/// Spatial input sizes valid for every geometry (the dilated kernel fits the padded input).
private func randomInputSizes(_ rng: inout TestRandom, kernel: [Int], geometries: [ConvGeometry]) -> [Int] {
    let order = kernel.count
    let base: ClosedRange<Int> = switch order { case 1: 6...12; case 2: 4...8; case 3: 3...6; default: 3...4 }
    return (0..<order).map { d in
        let needed = geometries.map { g in g.dilation[d] * (kernel[d] - 1) + 1 - 2 * g.padding[d] }.max() ?? 1
        return max(rng.int(base), needed)
    }
}

/// Builds a random seeded layer, randomizes what initialization leaves trivial (CP weights are
/// all 1, the bias is 0), gives every layer of the grid its own geometry, and checks every
/// implementation on every layer index against the float64 reference.
private func checkRandomLayer(factorization f: Factorization, order: Int, grid: [Int], withBias: Bool, seed: UInt64) throws {
    var rng = TestRandom(seed: seed)
    let cin = rng.int(2...4), cout = rng.int(2...4)
    let kernel = (0..<order).map { _ in rng.int(1...3) }
    let ranks: [RankSpec] = [.same, .fraction(0.5), .int(3)]
    let rank = f == .dense ? RankSpec.same : ranks[rng.int(0...2)]
    let layerCount = grid.reduce(1, *)
    var flags: [Bool]? = nil
    if withBias && layerCount > 1 {
        var picked = (0..<layerCount).map { _ in rng.int(0...1) == 1 }
        picked[rng.int(0...(layerCount - 1))] = true
        flags = picked
    }
    let constructorGeometry = try randomGeometry(&rng, order: order)
    let what = "\(f) order \(order) n_layers \(grid) bias \(withBias) seed \(seed) kernel \(kernel) rank \(rank)"
    let conv = try FactorizedConv(
        inChannels: cin, outChannels: cout, kernelSize: kernel,
        stride: constructorGeometry.stride, padding: constructorGeometry.padding, dilation: constructorGeometry.dilation,
        bias: withBias, hasBias: flags, nLayers: grid, factorization: f, rank: rank,
        implementation: f == .dense ? .reconstructed : .factorized, seed: seed)
    #expect(conv.geometry.count == layerCount, "\(what)")
    #expect(conv.geometry.allSatisfy { $0 == constructorGeometry }, "\(what): constructor geometry applies to every layer")

    var updates: [String: Tensor<Float>] = [:]
    if withBias { updates["bias"] = rng.tensor(grid + [cout]) }
    if case .cp(let cp) = conv.weight {
        var weights = rng.tensor(cp.weights.shape)
        for i in weights.scalars.indices { weights.scalars[i] += weights.scalars[i] < 0 ? -0.5 : 0.5 }
        updates["weight.weights"] = weights
    }
    if !updates.isEmpty { try conv.loadStateDict(updates, strict: false) }

    // Per-layer geometry (a single conv keeps its anisotropic constructor geometry).
    var geometries = [constructorGeometry]
    if layerCount > 1 {
        geometries = []
        for index in layerIndices(grid) {
            let g = try randomGeometry(&rng, order: order)
            try conv.set(layer: index, stride: g.stride, padding: g.padding, dilation: g.dilation)
            geometries.append(g)
        }
    }
    #expect(conv.geometry == geometries, "\(what)")
    let x = rng.tensor([2, cin] + randomInputSizes(&rng, kernel: kernel, geometries: geometries))
    let bias = conv.bias
    let hasBias = conv.hasBias
    #expect(hasBias == (flags ?? Array(repeating: withBias, count: layerCount)), "\(what)")

    var references: [Tensor<Double>] = []
    for (flat, index) in layerIndices(grid).enumerated() {
        let weight = try conv.reconstructKernel(layer: index)
        #expect(weight.shape == [cout, cin] + kernel, "\(what)")
        let row = hasBias[flat] ? bias.map { Array($0.scalars[(flat * cout)..<((flat + 1) * cout)]) } : nil
        let g = geometries[flat]
        references.append(referenceConv(x, weight: weight, bias: row, stride: g.stride, padding: g.padding, dilation: g.dilation))
    }
    for implementation in implementations(for: f) {
        try conv.setImplementation(implementation)
        for (flat, index) in layerIndices(grid).enumerated() {
            let y = try conv.forward(x, layer: index)
            let reference = references[flat]
            guard y.shape == reference.shape else {
                Issue.record("\(what) \(implementation) layer \(index): shape \(y.shape), expected \(reference.shape)")
                continue
            }
            #expect(try conv.outputShape(inputShape: x.shape, layer: index) == y.shape)
            let error = relativeMaxError(y, reference)
            #expect(error <= equivalenceTolerance, "\(what) \(implementation) layer \(index): relative error \(error)")
        }
    }
}

@Suite("Layer forward equivalence")
struct LayerEquivalenceTests {
    @Test("all implementations equal the reference conv of the reconstructed kernel (n_layers [], [3], [2, 2]; with/without bias)",
          arguments: [Factorization.cp, .tucker, .tt, .dense], 1...4)
    func randomLayers(_ factorization: Factorization, _ order: Int) throws {
        let grids: [[Int]] = [[], [3], [2, 2]]
        for (g, grid) in grids.enumerated() {
            for withBias in [false, true] {
                let seed = UInt64(1000 * order + 100 * (Factorization.allCases.firstIndex(of: factorization) ?? 0) + 10 * g + (withBias ? 1 : 0))
                try checkRandomLayer(factorization: factorization, order: order, grid: grid, withBias: withBias, seed: seed)
            }
        }
    }

    @Test("more random CP/Tucker/TT 2-D and 3-D layers with several seeds", arguments: [Factorization.cp, .tucker, .tt], [2, 3])
    func moreSeeds(_ factorization: Factorization, _ order: Int) throws {
        for seed in UInt64(1)...4 {
            try checkRandomLayer(factorization: factorization, order: order, grid: seed % 2 == 0 ? [2] : [],
                                 withBias: seed % 2 == 1, seed: 50_000 + 100 * seed + UInt64(order))
        }
    }

    @Test("a single-tap kernel with padding and stride (CP may fold 1-tap modes) still matches the reference")
    func singleTapModes() throws {
        for f in [Factorization.cp, .tucker, .tt] {
            var rng = TestRandom(seed: 77)
            let conv = try FactorizedConv(inChannels: 3, outChannels: 4, kernelSize: [1, 3, 1],
                                          stride: [1, 1, 2], padding: [1, 0, 0], dilation: [1, 2, 3],
                                          bias: true, factorization: f, rank: .fraction(0.5), seed: 9)
            try conv.loadStateDict(["bias": rng.tensor([4])], strict: false)
            let x = rng.tensor([2, 3, 4, 7, 5])
            let reference = referenceConv(x, weight: try conv.reconstructKernel(), bias: conv.bias?.scalars,
                                          stride: [1, 1, 2], padding: [1, 0, 0], dilation: [1, 2, 3])
            for implementation in implementations(for: f) {
                try conv.setImplementation(implementation)
                let y = try conv.forward(x)
                try #require(y.shape == reference.shape, "\(f) \(implementation)")
                #expect(relativeMaxError(y, reference) <= equivalenceTolerance, "\(f) \(implementation)")
            }
        }
    }

    @Test("pointwise (all-1) kernels, with and without stride/padding", arguments: Factorization.allCases)
    func pointwiseKernels(_ f: Factorization) throws {
        for (stride, padding) in [([1, 1], [0, 0]), ([2, 1], [0, 1]), ([1, 3], [2, 0])] {
            let conv = try FactorizedConv(inChannels: 5, outChannels: 3, kernelSize: [1, 1], stride: stride, padding: padding,
                                          bias: true, factorization: f, rank: f == .dense ? .same : .int(2),
                                          implementation: f == .dense ? .reconstructed : .factorized, seed: 12)
            var rng = TestRandom(seed: 13)
            try conv.loadStateDict(["bias": rng.tensor([3])], strict: false)
            let x = rng.tensor([2, 5, 6, 7])
            let reference = referenceConv(x, weight: try conv.reconstructKernel(), bias: conv.bias?.scalars,
                                          stride: stride, padding: padding, dilation: [1, 1])
            for implementation in implementations(for: f) {
                try conv.setImplementation(implementation)
                let y = try conv.forward(x)
                try #require(y.shape == reference.shape, "\(f) \(implementation) stride \(stride) padding \(padding)")
                #expect(relativeMaxError(y, reference) <= equivalenceTolerance, "\(f) \(implementation) stride \(stride) padding \(padding)")
            }
        }
    }

    @Test("a moderately sized 2-D layer at rank 'same' (blocked GEMM paths)", arguments: Factorization.allCases)
    func moderateSize(_ f: Factorization) throws {
        let conv = try FactorizedConv(inChannels: 16, outChannels: 24, kernelSize: [3, 3], stride: [1, 2], padding: [1, 1],
                                      bias: true, factorization: f,
                                      implementation: f == .dense ? .reconstructed : .factorized, seed: 14)
        var rng = TestRandom(seed: 15)
        try conv.loadStateDict(["bias": rng.tensor([24])], strict: false)
        let x = rng.tensor([2, 16, 13, 14])
        let reference = referenceConv(x, weight: try conv.reconstructKernel(), bias: conv.bias?.scalars,
                                      stride: [1, 2], padding: [1, 1], dilation: [1, 1])
        for implementation in implementations(for: f) {
            try conv.setImplementation(implementation)
            let y = try conv.forward(x)
            try #require(y.shape == reference.shape, "\(f) \(implementation)")
            let error = relativeMaxError(y, reference)
            #expect(error <= equivalenceTolerance, "\(f) \(implementation): \(error)")
        }
    }
}

@Suite("Tucker layers with spatial ranks 1 (the separable plan)")
struct TuckerSeparableTests {
    /// The core's narrower side is R_1 (in) or R_0 (out): the spatial filter runs on that side and
    /// the core is folded into the other 1×1. Both, over random geometries of orders 1–3.
    @Test("factorized equals the reference conv of the reconstructed kernel", arguments: [(3, 5), (5, 3), (4, 4)], 1...3)
    func matchesReference(_ ranks: (Int, Int), _ order: Int) throws {
        var rng = TestRandom(seed: UInt64(9000 + 10 * ranks.0 + ranks.1 + 100 * order))
        for trial in 0..<3 {
            let kernel = (0..<order).map { _ in rng.int(1...3) }
            let ranks = [ranks.0, ranks.1] + Array(repeating: 1, count: order)
            let conv = try checkFactorizedForward(.tucker, ranks: ranks, kernel: kernel, geometry: try randomGeometry(&rng, order: order),
                                                  seed: UInt64(trial + 1), rng: &rng)
            #expect(conv.weight.rank == .tucker(ranks))
        }
    }
}

/// Builds a 6 → 7 channel `f` layer with per-mode `ranks`, `kernel`, geometry `g` and a random
/// bias, and checks its factorized forward against the float64 reference conv of its kernel.
private func checkFactorizedForward(_ f: Factorization, ranks: [Int], kernel: [Int], geometry g: ConvGeometry,
                                    seed: UInt64, rng: inout TestRandom) throws -> FactorizedConv {
    let conv = try FactorizedConv(inChannels: 6, outChannels: 7, kernelSize: kernel, stride: g.stride, padding: g.padding,
                                  dilation: g.dilation, bias: true, factorization: f, rank: .perMode(ranks),
                                  implementation: .factorized, seed: seed)
    try conv.loadStateDict(["bias": rng.tensor([7])], strict: false)
    let x = rng.tensor([2, 6] + randomInputSizes(&rng, kernel: kernel, geometries: [g]))
    let reference = referenceConv(x, weight: try conv.reconstructKernel(), bias: conv.bias?.scalars,
                                  stride: g.stride, padding: g.padding, dilation: g.dilation)
    let y = try conv.forward(x)
    try #require(y.shape == reference.shape, "\(f) ranks \(ranks) kernel \(kernel) \(g)")
    let error = relativeMaxError(y, reference)
    #expect(error <= equivalenceTolerance, "\(f) ranks \(ranks) kernel \(kernel) \(g): relative error \(error)")
    return conv
}

@Suite("TT layers with small inner ranks (the end 1×1s folded into the mode convs)")
struct TTFoldedEndsTests {
    /// Ranks that make ForwardPlans fold the first 1×1, the last, both or neither (for any kernel
    /// of 2 or 3 taps; 6 → 7 channels), over random geometries: every plan equals the reference.
    @Test("factorized equals the reference conv of the reconstructed kernel",
          arguments: [([1, 5, 1, 5, 1], true, true), ([1, 1, 6, 1, 1], false, false), ([1, 5, 1, 6, 1, 1], true, false),
                      ([1, 1, 6, 1, 5, 1], false, true), ([1, 5, 1, 1, 5, 1], true, true), ([1, 5, 1, 1], true, false),
                      ([1, 1, 5, 1], false, true)])
    func matchesReference(_ ranks: [Int], _ foldsFirst: Bool, _ foldsLast: Bool) throws {
        let order = ranks.count - 3
        var rng = TestRandom(seed: UInt64(9500 + ranks.reduce(0, { 10 * $0 + $1 })))
        for trial in 0..<3 {
            let kernel = (0..<order).map { _ in rng.int(2...3) }
            let g = try randomGeometry(&rng, order: order)
            let conv = try checkFactorizedForward(.tt, ranks: ranks, kernel: kernel, geometry: g, seed: UInt64(trial + 1), rng: &rng)
            #expect(conv.weight.rank == .tt(ranks))
            let plan = try ForwardPlans.pipeline(for: conv.weight, implementation: .factorized, geometry: g, bias: nil)
            #expect(plan.stages.count == order + 2 - (foldsFirst ? 1 : 0) - (foldsLast ? 1 : 0), "ranks \(ranks)")
            if case .pointwise = plan.stages.first { #expect(!foldsFirst, "ranks \(ranks)") } else { #expect(foldsFirst, "ranks \(ranks)") }
            if case .pointwise = plan.stages.last { #expect(!foldsLast, "ranks \(ranks)") } else { #expect(foldsLast, "ranks \(ranks)") }
        }
    }
}
