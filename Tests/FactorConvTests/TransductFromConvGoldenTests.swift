import FactorConv
import FactorConvTestSupport
import Testing

/// Golden `transduct_*` and `from_conv_*` cases through the layer API, plus transduction
/// properties for the factorizations tltorch cannot transduct (Tucker, Dense).
@Suite struct TransductFromConvGoldenTests {
    static let manifest = GoldenManifest.shared

    /// Maps golden `fact.*` names (with a prefix such as "before.") to tltorch state_dict names.
    static func stateDict(_ c: GoldenCase, prefix: String) throws -> [String: Tensor<Float>] {
        var dict = [String: Tensor<Float>]()
        for name in c.tensorNames(prefix: prefix + "fact.") {
            // CP/Tucker store fact.factor_i (+ weights/core); TT stores its cores as fact.core_i.
            let short = name.dropFirst(prefix.count + 5)
            let tltorchName = short.hasPrefix("core_") ? "factors.factor_" + short.dropFirst(5)
                : short.replacingOccurrences(of: "factor_", with: "factors.factor_")
            dict["weight." + tltorchName] = try c.tensor(name)
        }
        if c.has("bias") { dict["bias"] = try c.tensor("bias") }
        return dict
    }

    static func rankSpec(_ weight: GoldenWeight) -> RankSpec {
        weight.rank.count == 1 ? .int(weight.rank[0]) : .perMode(weight.rank)
    }

    @Test(arguments: GoldenManifest.shared.cases(kind: "transduct"))
    func transductReproducesTltorch(_ c: GoldenCase) throws {
        let before = try #require(c.weight)
        let args = try #require(c.raw["transduct_args"] as? [String: Any])
        let mode = try #require(args["mode"] as? Int), k = try #require(args["kernel_size"] as? Int)
        let pad = try #require(args["padding"] as? Int)
        var padding2d = try #require(c.padding)
        padding2d.remove(at: mode)
        let factorization = try Factorization(parsing: c.factorization)
        let kernelShape = try KernelLayout.kernelShape(factorizationShape: before.shape, factorization: factorization)
        let conv = try FactorizedConv(
            inChannels: c.inChannels, outChannels: c.outChannels, kernelSize: Array(kernelShape.dropFirst(2)),
            padding: padding2d, bias: c.has("bias"), factorization: factorization, rank: Self.rankSpec(before),
            implementation: try Implementation(parsing: c.implementation))
        try conv.loadStateDict(Self.stateDict(c, prefix: "before."))
        let y2d = try conv.forward(c.tensor("x2d")), want2d = try c.tensor("y2d")
        #expect(relativeMaxError(y2d, want2d) <= 1e-5)

        try conv.transduct(kernelSize: k, mode: mode, padding: pad)
        #expect(conv.order == 3)
        let expected = try Self.stateDict(c, prefix: "after.")
        for (name, value) in conv.stateDict() {
            let want = try #require(expected[name], "unexpected parameter \(name)")
            #expect(value.shape == want.shape && relativeMaxError(value, want) <= 1e-6, "\(name)")
        }
        let y3d = try conv.forward(c.tensor("x3d")), want3d = try c.tensorF64("y3d_ref_f64")
        #expect(relativeMaxError(y3d, want3d) <= 1e-5)
    }

    /// Tucker and Dense (extensions): with padding k/2 each output frame equals the 2-D conv of
    /// the same input frame, as for CP; with a grid the new geometry lands at `mode`.
    @Test(arguments: [Factorization.tucker, .dense, .cp])
    func transductIsFramewise(_ factorization: Factorization) throws {
        let conv = try FactorizedConv(inChannels: 3, outChannels: 4, kernelSize: [3, 3], padding: [1, 1], bias: true,
                                      nLayers: [2], factorization: factorization, rank: .same,
                                      implementation: factorization == .dense ? .reconstructed : .factorized, seed: 5)
        try conv.set(layer: [1], stride: [2, 1], padding: [0, 1], bias: [0.5, -0.5, 0.25, 1])
        var rng = TestRandom(seed: 11)
        let frames = 4
        let x = rng.tensor([2, 3, frames, 7, 6])
        var before = [Tensor<Float>]()
        for layer in 0..<2 {
            for t in 0..<frames {
                let frame = try frameSlice(x, t)
                before.append(try conv.forward(frame, layer: [layer]))
            }
        }
        try conv.transduct(kernelSize: 3, mode: 0, padding: 1)
        #expect(try conv.geometry(layer: [1]).stride == [1, 2, 1])
        #expect(try conv.geometry(layer: [1]).padding == [1, 0, 1])
        for layer in 0..<2 {
            let y = try conv.forward(x, layer: [layer])
            for t in 0..<frames {
                let frame = try frameSlice(y, t)
                #expect(relativeMaxError(frame, before[layer * frames + t]) <= 1e-5, "layer \(layer) frame \(t)")
            }
        }
    }

    /// The frame `t` of a (B, C, T, H, W) tensor as (B, C, H, W).
    func frameSlice(_ x: Tensor<Float>, _ t: Int) throws -> Tensor<Float> {
        let (b, c, f, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3], x.shape[4])
        var out = [Float]()
        for i in 0..<(b * c) {
            let base = (i * f + t) * h * w
            out += x.scalars[base..<(base + h * w)]
        }
        return try Tensor(shape: [b, c, h, w], scalars: out)
    }

    @Test(arguments: GoldenManifest.shared.cases(kind: "from_conv"))
    func fromConvMatchesTltorchError(_ c: GoldenCase) throws {
        let weight = try c.tensor("conv_weight")
        let order = weight.rank - 2
        let geometry = try ConvGeometry(order: order, stride: c.stride, padding: c.padding, dilation: c.dilation)
        let dense = try FactorizedConv.DenseConv(weight: weight, bias: try c.tensor("conv_bias").scalars, geometry: geometry)
        let resolved = try #require(c.weight)
        let conv = try FactorizedConv.fromConv(
            dense, rank: Self.rankSpec(resolved), factorization: try Factorization(parsing: c.factorization),
            implementation: try Implementation(parsing: c.implementation))
        let storedError = try #require(c.raw["kernel_rel_err"] as? Double)
        let kernel = try conv.reconstructKernel()
        let error = try relativeFrobeniusError(kernel, weight)
        #expect(error <= storedError + 0.005, "\(c.name): ours \(error) vs tltorch \(storedError)")
        if c.raw["exact_rank_of_source_kernel"] as? Int != nil || c.raw["exact_rank_of_source_kernel"] is [Any] {
            #expect(error <= 1e-5, "\(c.name): exact-rank kernel recovered to \(error)")
        }
        // The layer's forward is the dense conv of its own kernel, and as close to the source
        // conv's output as tltorch's (same definition: Frobenius norm ratio).
        let x = try c.tensor("x")
        let y = try conv.forward(x)
        let ref = referenceConv(x, weight: kernel, bias: try c.tensor("conv_bias").scalars,
                                stride: geometry.stride, padding: geometry.padding, dilation: geometry.dilation)
        #expect(relativeMaxError(y, ref) <= 1e-5)
        let storedOutputError = try #require(c.raw["rel_err_y_vs_conv"] as? Double)
        let outputError = try relativeFrobeniusError(y, try c.tensor("y_conv"))
        #expect(outputError <= storedOutputError + 0.02, "\(c.name): output error \(outputError) vs tltorch \(storedOutputError)")
    }

    func relativeFrobeniusError(_ a: Tensor<Float>, _ b: Tensor<Float>) throws -> Double {
        var num = 0.0, den = 0.0
        for (u, v) in zip(a.scalars, b.scalars) {
            num += (Double(u) - Double(v)) * (Double(u) - Double(v))
            den += Double(v) * Double(v)
        }
        return (num / den).squareRoot()
    }

    @Test func fromConvListKeepsPerLayerGeometryAndBias() throws {
        var rng = TestRandom(seed: 3)
        let convs = try [
            FactorizedConv.DenseConv(weight: rng.tensor([4, 3, 3, 3]), bias: nil,
                                     geometry: ConvGeometry(order: 2, stride: [1, 1], padding: [1, 1])),
            FactorizedConv.DenseConv(weight: rng.tensor([4, 3, 3, 3]), bias: rng.tensor([4]).scalars,
                                     geometry: ConvGeometry(order: 2, stride: [2, 1], padding: [0, 2], dilation: [1, 2])),
        ]
        let conv = try FactorizedConv.fromConvList(convs, rank: .perMode([2, 4, 3, 3, 3]), factorization: .tucker)
        #expect(conv.hasBias == [false, true])
        let x = rng.tensor([2, 3, 9, 8])
        for (i, dense) in convs.enumerated() {
            let y = try conv.forward(x, layer: [i])
            let g = dense.geometry
            let ref = referenceConv(x, weight: dense.weight, bias: dense.bias, stride: g.stride, padding: g.padding, dilation: g.dilation)
            // Full Tucker ranks: the decomposition is exact up to rounding.
            #expect(relativeMaxError(y, ref) <= 1e-4, "layer \(i)")
        }
    }

    @Test func fromConvProgressCanCancelAndValidates() throws {
        var rng = TestRandom(seed: 4)
        let dense = try FactorizedConv.DenseConv(weight: rng.tensor([4, 3, 3, 3]))
        let cancelled = #expect(throws: FactorConvError.self) {
            _ = try FactorizedConv.fromConv(dense, rank: .int(5)) { _, _, _ in false }
        }
        #expect(cancelled?.kind == .cancelled)
        var nan = rng.tensor([4, 3, 3, 3])
        nan.scalars[5] = .nan
        let invalid = #expect(throws: FactorConvError.self) { _ = try FactorizedConv.fromConv(try .init(weight: nan)) }
        #expect(invalid?.kind == .numerical)
    }
}
