import Testing
import FactorConv
import FactorConvTestSupport

// Golden parity of the FactorizedConv layer (single and multi cases):
// every layer is built through the public constructor with the case's configuration, the
// factors tltorch stored are loaded with `loadStateDict` under tltorch's state_dict names, and
// the forward is compared with tltorch's own output `y` and with the float64 reference
// `y_ref_f64`. transduct_* and from_conv_* cases are covered by the lead's tests.

private let goldenLayerTolerance = 1e-5
private let goldenSingleNames = GoldenManifest.shared.cases(kind: "single").map(\.name)
private let goldenMultiLayerNames = GoldenManifest.shared.cases(kind: "multi").map(\.name)

/// The requested rank of a case as the constructor's `RankSpec`.
private func goldenRankSpec(_ c: GoldenCase) throws -> RankSpec {
    switch try #require(c.rankArg, "\(c.name) has no rank_arg") {
    case .same: return .same
    case .fraction(let f): return .fraction(f)
    case .int(let i): return .int(i)
    case .list(let l): return .perMode(l)
    }
}

/// The implementations that exist for a factorization (the constructor accepts exactly these).
private func validImplementations(_ f: Factorization) -> [Implementation] {
    switch f {
    case .cp: [.factorized, .reconstructed, .mobilenet, .auto]
    case .tucker, .tt: [.factorized, .reconstructed, .auto]
    case .dense: [.reconstructed, .auto]
    }
}

/// tltorch's state_dict name for a stored factor array `fact.<stem>`:
/// `weights` → `weight.weights`, `core` → `weight.core`, `factor_i` → `weight.factors.factor_i`,
/// TT `core_i` → `weight.factors.factor_i` (tltorch keeps TT cores in its `factors` list).
private func tltorchName(stem: String) throws -> String {
    if stem == "weights" { return "weight.weights" }
    if stem == "core" { return "weight.core" }
    if stem.hasPrefix("factor_") { return "weight.factors.\(stem)" }
    if stem.hasPrefix("core_"), let i = Int(stem.dropFirst("core_".count)) { return "weight.factors.factor_\(i)" }
    throw GoldenError("unexpected stored factor array '\(stem)'")
}

/// The case's stored factors (`fact.*`) and, if present, its bias under tltorch's names.
private func goldenStateDict(_ c: GoldenCase, biasArray: String?) throws -> [String: Tensor<Float>] {
    var dict: [String: Tensor<Float>] = [:]
    let names = c.tensorNames(prefix: "fact.")
    #expect(!names.isEmpty, "\(c.name) stores no factors")
    for name in names {
        dict[try tltorchName(stem: String(name.dropFirst("fact.".count)))] = try c.tensor(name)
    }
    if let biasArray { dict["bias"] = try c.tensor(biasArray) }
    return dict
}

/// `y` vs the references of one forward, with the shape checked first (a shape bug must fail,
/// not crash the comparison).
private func expectMatches(_ y: Tensor<Float>, _ reference: Tensor<Double>, _ what: String,
                           sourceLocation: SourceLocation = #_sourceLocation) {
    guard y.shape == reference.shape else {
        Issue.record("\(what): output shape \(y.shape), expected \(reference.shape)", sourceLocation: sourceLocation)
        return
    }
    let error = relativeMaxError(y, reference)
    #expect(error <= goldenLayerTolerance, "\(what): relative error \(error)", sourceLocation: sourceLocation)
}

/// A single-layer case built through the constructor with its configuration (before loading).
private func makeSingleLayer(_ c: GoldenCase) throws -> FactorizedConv {
    try FactorizedConv(
        inChannels: c.inChannels, outChannels: c.outChannels, kernelSize: try #require(c.kernelSize),
        stride: try #require(c.stride), padding: try #require(c.padding), dilation: try #require(c.dilation),
        bias: try #require(c.bias as Bool?), factorization: try Factorization(parsing: c.factorization),
        rank: try goldenRankSpec(c), implementation: try Implementation(parsing: c.implementation),
        fixedRankModes: c.fixedRankModes == "spatial" ? .spatial : nil, seed: 1)
}

/// A loaded single-layer case.
private func loadedSingleLayer(_ c: GoldenCase) throws -> FactorizedConv {
    let conv = try makeSingleLayer(c)
    try conv.loadStateDict(try goldenStateDict(c, biasArray: c.bias == true ? "bias" : nil))
    return conv
}

/// A multi case: n_layers with `bias_all`, has_bias per layer as tltorch's, and each layer's
/// stride/padding/dilation set through `set`.
private func loadedMultiLayer(_ c: GoldenCase) throws -> FactorizedConv {
    let nLayers = try #require(c.nLayers)
    #expect(c.layers.count == nLayers)
    let conv = try FactorizedConv(
        inChannels: c.inChannels, outChannels: c.outChannels, kernelSize: try #require(c.kernelSize),
        bias: true, hasBias: c.layers.map(\.hasBias), nLayers: [nLayers],
        factorization: try Factorization(parsing: c.factorization), rank: try goldenRankSpec(c),
        implementation: try Implementation(parsing: c.implementation), seed: 1)
    try conv.loadStateDict(try goldenStateDict(c, biasArray: "bias_all"))
    for layer in c.layers {
        try conv.set(layer: [layer.index], stride: layer.stride, padding: layer.padding, dilation: layer.dilation)
    }
    return conv
}

@Suite("Layer golden parity")
struct LayerGoldenTests {
    // MARK: coverage (nothing silently skipped)

    @Test("every single and multi case of the manifest is covered, and only transduct/from_conv are left out")
    func coverage() throws {
        var expectedSingles = Set<String>()
        for f in ["cp", "tucker", "tt"] {
            for d in 1...3 {
                for impl in ["factorized", "reconstructed"] + (f == "cp" ? ["mobilenet"] : []) {
                    for v in 0...1 { expectedSingles.insert("single_\(f)_\(d)d_\(impl)_v\(v)") }
                }
            }
        }
        expectedSingles.insert("single_tucker_2d_factorized_fixedspatial")
        #expect(expectedSingles.count == 43)
        #expect(goldenSingleNames.count == 43)
        #expect(Set(goldenSingleNames) == expectedSingles)

        let expectedMultis = Set(["cp", "tucker", "tt"].flatMap { f in
            ["factorized", "reconstructed"].map { "multi_\(f)_\($0)" }
        })
        #expect(goldenMultiLayerNames.count == 6)
        #expect(Set(goldenMultiLayerNames) == expectedMultis)

        let m = GoldenManifest.shared
        let others = m.cases.filter { $0.kind != "single" && $0.kind != "multi" }
        #expect(Set(others.map(\.kind)) == ["transduct", "from_conv"])
        #expect(goldenSingleNames.count + goldenMultiLayerNames.count + others.count == m.cases.count)
    }

    // MARK: single cases

    @Test("the constructor resolves the case's rank and factorized shape as tltorch did", arguments: goldenSingleNames)
    func singleConstruction(_ name: String) throws {
        let c = try GoldenManifest.shared.named(name)
        let conv = try makeSingleLayer(c)
        let weight = try #require(c.weight)
        #expect(conv.shape == weight.shape)
        #expect(conv.rank.values == weight.rank)
        #expect(conv.layers.isSingle)
        #expect((conv.bias != nil) == c.bias)
        #expect(conv.stateDict().map(\.name).sorted()
            == (try goldenStateDict(c, biasArray: c.bias == true ? "bias" : nil)).keys.sorted())
    }

    @Test("the stored factors forward like tltorch in the case's implementation", arguments: goldenSingleNames)
    func singleForward(_ name: String) throws {
        let c = try GoldenManifest.shared.named(name)
        let conv = try loadedSingleLayer(c)
        #expect(conv.implementation == (try Implementation(parsing: c.implementation)))
        let x = try c.tensor("x")
        let y = try conv.forward(x)
        let expectedShape = try c.tensor("y").shape
        #expect(try conv.outputShape(inputShape: x.shape) == expectedShape)
        expectMatches(y, try c.tensorF64("y"), "\(name) vs tltorch y")
        expectMatches(y, try c.tensorF64("y_ref_f64"), "\(name) vs y_ref_f64")
        // Explicit layer index 0 is the same convolution (tltorch's forward(x, 0)).
        #expect(try conv.forward(x, layer: [0]) == y)
    }

    @Test("every other implementation of the same loaded layer matches y_ref_f64", arguments: goldenSingleNames)
    func singleAllImplementations(_ name: String) throws {
        let c = try GoldenManifest.shared.named(name)
        let conv = try loadedSingleLayer(c)
        let x = try c.tensor("x")
        let reference = try c.tensorF64("y_ref_f64")
        let implementations = validImplementations(conv.factorization)
        #expect(implementations.count == (c.factorization == "cp" ? 4 : 3))
        for implementation in implementations {
            try conv.setImplementation(implementation)
            #expect(conv.implementation == implementation)
            expectMatches(try conv.forward(x), reference, "\(name) with \(implementation)")
            let chosen = try conv.chosenImplementation(inputShape: x.shape)
            if implementation == .auto {
                #expect(chosen != .auto && implementations.contains(chosen), "\(name): auto chose \(chosen)")
            } else {
                #expect(chosen == implementation)
            }
        }
    }

    @Test("the reconstructed kernel of the loaded layer is tltorch's kernel", arguments: goldenSingleNames)
    func singleKernel(_ name: String) throws {
        let c = try GoldenManifest.shared.named(name)
        let conv = try loadedSingleLayer(c)
        let kernel = try conv.reconstructKernel()
        let expected = try c.tensor("kernel")
        #expect(kernel.shape == expected.shape)
        #expect(TensorCompare.relativeError(kernel, expected) <= 1e-6)
    }

    // MARK: multi cases

    @Test("multi-layer: each layer with its own geometry and bias forwards like tltorch", arguments: goldenMultiLayerNames)
    func multiForward(_ name: String) throws {
        let c = try GoldenManifest.shared.named(name)
        let conv = try loadedMultiLayer(c)
        #expect(conv.shape == c.weight?.shape)
        #expect(conv.rank.values == c.weight?.rank)
        let x = try c.tensor("x")
        for layer in c.layers {
            let y = try conv.forward(x, layer: [layer.index])
            expectMatches(y, try c.tensorF64("layer\(layer.index).y"), "\(name) layer \(layer.index) vs tltorch y")
            expectMatches(y, try c.tensorF64("layer\(layer.index).y_ref_f64"), "\(name) layer \(layer.index) vs y_ref_f64")
        }
    }

    @Test("multi-layer: every valid implementation matches y_ref_f64 on every layer", arguments: goldenMultiLayerNames)
    func multiAllImplementations(_ name: String) throws {
        let c = try GoldenManifest.shared.named(name)
        let conv = try loadedMultiLayer(c)
        let x = try c.tensor("x")
        for implementation in validImplementations(conv.factorization) {
            try conv.setImplementation(implementation)
            for layer in c.layers {
                expectMatches(try conv.forward(x, layer: [layer.index]), try c.tensorF64("layer\(layer.index).y_ref_f64"),
                              "\(name) layer \(layer.index) with \(implementation)")
            }
        }
    }

    @Test("multi-layer: biases given through set(layer:bias:) turn on exactly those layers' bias", arguments: goldenMultiLayerNames)
    func multiBiasThroughSet(_ name: String) throws {
        let c = try GoldenManifest.shared.named(name)
        let nLayers = try #require(c.nLayers)
        // tltorch's own construction: bias parameter present, has_bias off everywhere, then set(i, bias=...).
        let conv = try FactorizedConv(
            inChannels: c.inChannels, outChannels: c.outChannels, kernelSize: try #require(c.kernelSize),
            bias: true, hasBias: [false], nLayers: [nLayers],
            factorization: try Factorization(parsing: c.factorization), rank: try goldenRankSpec(c),
            implementation: try Implementation(parsing: c.implementation), seed: 2)
        #expect(conv.hasBias == Array(repeating: false, count: nLayers))
        try conv.loadStateDict(try goldenStateDict(c, biasArray: nil), strict: false)
        let biasAll = try c.tensor("bias_all")
        for layer in c.layers {
            let row = Array(biasAll.scalars[(layer.index * c.outChannels)..<((layer.index + 1) * c.outChannels)])
            try conv.set(layer: [layer.index], stride: layer.stride, padding: layer.padding, dilation: layer.dilation,
                         bias: layer.hasBias ? row : nil)
        }
        #expect(conv.hasBias == c.layers.map(\.hasBias))
        let x = try c.tensor("x")
        for layer in c.layers {
            expectMatches(try conv.forward(x, layer: [layer.index]), try c.tensorF64("layer\(layer.index).y_ref_f64"),
                          "\(name) layer \(layer.index)")
        }
    }

    @Test("multi-layer: per-layer kernels equal tltorch's per-layer kernels", arguments: goldenMultiLayerNames)
    func multiKernels(_ name: String) throws {
        let c = try GoldenManifest.shared.named(name)
        let conv = try loadedMultiLayer(c)
        for layer in c.layers {
            let kernel = try conv.reconstructKernel(layer: [layer.index])
            let expected = try c.tensor("layer\(layer.index).kernel")
            #expect(kernel.shape == expected.shape)
            #expect(TensorCompare.relativeError(kernel, expected) <= 1e-6, "\(name) layer \(layer.index)")
        }
    }
}
