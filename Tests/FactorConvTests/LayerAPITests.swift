import Testing
import FactorConv
import FactorConvTestSupport
import Foundation

// The FactorizedConv API beyond the forward numbers: set, sub-convolutions, layer indexing,
// state dict validation (a bad dict leaves the layer unchanged), description strings (behaviour notes §9
// without the dangling ", "), reconstructKernel on grids, resetParameters, and argument errors.

// MARK: - Helpers

/// Runs `body` and checks it throws a `FactorConvError` of `kind`.
private func expectError(_ kind: FactorConvError.Kind, _ what: String, mentioning: String? = nil,
                         sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void) {
    do {
        try body()
        Issue.record("\(what): expected a .\(kind) error, nothing was thrown", sourceLocation: sourceLocation)
    } catch let error as FactorConvError {
        #expect(error.kind == kind, "\(what): got .\(error.kind): \(error.message)", sourceLocation: sourceLocation)
        #expect(!error.message.isEmpty, sourceLocation: sourceLocation)
        if let mentioning {
            #expect(error.message.contains(mentioning), "\(what): \(error.message)", sourceLocation: sourceLocation)
        }
    } catch {
        Issue.record("\(what): unexpected error \(error)", sourceLocation: sourceLocation)
    }
}

/// Everything observable about a layer's parameters and settings, to compare before/after.
private struct LayerSnapshot: Equatable {
    var names: [String]
    var values: [Tensor<Float>]
    var geometry: [ConvGeometry]
    var hasBias: [Bool]
    var rank: TensorRank
    var implementation: Implementation
    var description: String

    init(_ conv: FactorizedConv) {
        let dict = conv.stateDict()
        names = dict.map(\.name)
        values = dict.map(\.value)
        geometry = conv.geometry
        hasBias = conv.hasBias
        rank = conv.rank
        implementation = conv.implementation
        description = conv.description
    }
}

/// Row `flat` of a `(layers..., C_out)` bias.
private func biasRow(_ bias: Tensor<Float>?, flat: Int, outChannels: Int) -> [Float]? {
    bias.map { Array($0.scalars[(flat * outChannels)..<((flat + 1) * outChannels)]) }
}

/// The stateDict as a name → value dictionary.
private func dictionary(_ conv: FactorizedConv) -> [String: Tensor<Float>] {
    Dictionary(uniqueKeysWithValues: conv.stateDict().map { ($0.name, $0.value) })
}

/// `forward` of one layer vs the plain-loop reference of its reconstructed kernel, bias and geometry.
private func expectForwardMatchesReference(_ conv: FactorizedConv, _ x: Tensor<Float>, layer: [Int], _ what: String,
                                           sourceLocation: SourceLocation = #_sourceLocation) throws {
    let flat = try conv.layers.flatIndex(layer)
    let g = try conv.geometry(layer: layer)
    let bias = conv.hasBias[flat] ? biasRow(conv.bias, flat: flat, outChannels: conv.outChannels) : nil
    let reference = referenceConv(x, weight: try conv.reconstructKernel(layer: layer), bias: bias,
                                  stride: g.stride, padding: g.padding, dilation: g.dilation)
    let y = try conv.forward(x, layer: layer)
    guard y.shape == reference.shape else {
        Issue.record("\(what): shape \(y.shape), expected \(reference.shape)", sourceLocation: sourceLocation)
        return
    }
    let error = relativeMaxError(y, reference)
    #expect(error <= 1e-5, "\(what): relative error \(error)", sourceLocation: sourceLocation)
}

/// A small 2-D layer with a non-zero bias.
private func smallLayer(_ f: Factorization = .cp, nLayers: [Int] = [], bias: Bool = true,
                        implementation: Implementation = .factorized, seed: UInt64 = 3) throws -> FactorizedConv {
    let conv = try FactorizedConv(inChannels: 4, outChannels: 6, kernelSize: [3, 3], bias: bias, nLayers: nLayers,
                                  factorization: f, rank: f == .dense ? .same : .fraction(0.5),
                                  implementation: f == .dense ? .reconstructed : implementation, seed: seed)
    if bias {
        var rng = TestRandom(seed: seed &+ 1000)
        try conv.loadStateDict(["bias": rng.tensor(nLayers + [6])], strict: false)
    }
    return conv
}

// MARK: - set

@Suite("Layer API: set")
struct LayerSetTests {
    @Test("set changes the geometry and bias of one layer only")
    func setChangesOneLayerOnly() throws {
        let conv = try smallLayer(nLayers: [3])
        var rng = TestRandom(seed: 11)
        let x = rng.tensor([2, 4, 9, 8])
        let before = try (0..<3).map { try conv.forward(x, layer: [$0]) }
        let biasBefore = try #require(conv.bias)
        let newRow: [Float] = [1, -2, 3, -4, 5, -6]
        try conv.set(layer: [1], stride: [2, 1], padding: [1, 2], dilation: [1, 2], bias: newRow)

        #expect(try conv.geometry(layer: [1]) == ConvGeometry(order: 2, stride: [2, 1], padding: [1, 2], dilation: [1, 2]))
        #expect(try conv.geometry(layer: [0]) == .identity(order: 2))
        #expect(try conv.geometry(layer: [2]) == .identity(order: 2))
        let biasAfter = try #require(conv.bias)
        #expect(biasRow(biasAfter, flat: 1, outChannels: 6) == newRow)
        #expect(biasRow(biasAfter, flat: 0, outChannels: 6) == biasRow(biasBefore, flat: 0, outChannels: 6))
        #expect(biasRow(biasAfter, flat: 2, outChannels: 6) == biasRow(biasBefore, flat: 2, outChannels: 6))
        // The other layers compute exactly what they did; layer 1 follows its new geometry and bias.
        #expect(try conv.forward(x, layer: [0]) == before[0])
        #expect(try conv.forward(x, layer: [2]) == before[2])
        #expect(try conv.forward(x, layer: [1]).shape == [2, 6, 5, 8])
        try expectForwardMatchesReference(conv, x, layer: [1], "layer 1 after set")
    }

    @Test("set turns on the bias of exactly the layer it is given to")
    func setBiasTurnsOnThatLayer() throws {
        let conv = try FactorizedConv(inChannels: 3, outChannels: 2, kernelSize: [3], bias: true,
                                      hasBias: [false, false, false], nLayers: [3], seed: 4)
        #expect(conv.hasBias == [false, false, false])
        try conv.set(layer: [2], padding: [1], bias: [0.5, -0.25])
        #expect(conv.hasBias == [false, false, true])
        var rng = TestRandom(seed: 12)
        let x = rng.tensor([1, 3, 7])
        // Layers without bias: same as the bias-free reference; layer 2 adds its row.
        for layer in 0..<3 { try expectForwardMatchesReference(conv, x, layer: [layer], "layer \(layer)") }
        let withBias = try conv.forward(x, layer: [2])
        try conv.set(layer: [2], padding: [1]) // bias nil never turns it off (tltorch)
        #expect(conv.hasBias == [false, false, true])
        #expect(try conv.forward(x, layer: [2]) == withBias)
    }

    @Test("unspecified values of set reset to stride 1, padding 0, dilation 1 (tltorch)")
    func setResetsUnspecifiedValues() throws {
        let conv = try smallLayer(nLayers: [2])
        try conv.set(layer: [0], stride: [2], padding: [1], dilation: [2])
        #expect(try conv.geometry(layer: [0]) == ConvGeometry(order: 2, stride: [2, 2], padding: [1, 1], dilation: [2, 2]))
        try conv.set(layer: [0], padding: [0, 3])
        #expect(try conv.geometry(layer: [0]) == ConvGeometry(order: 2, stride: [1, 1], padding: [0, 3], dilation: [1, 1]))
    }

    @Test("set on a single convolution with an empty or zero index")
    func setOnSingleConvolution() throws {
        let conv = try smallLayer()
        try conv.set(stride: [1, 2], padding: [1])
        #expect(conv.geometry == [try ConvGeometry(order: 2, stride: [1, 2], padding: [1, 1], dilation: [1, 1])])
        try conv.set(layer: [0], dilation: [2, 1])
        #expect(conv.geometry == [try ConvGeometry(order: 2, dilation: [2, 1])])
        var rng = TestRandom(seed: 13)
        try expectForwardMatchesReference(conv, rng.tensor([2, 4, 8, 7]), layer: [], "single conv after set")
    }

    @Test("invalid set arguments throw and leave the layer unchanged")
    func setRejectsInvalidArguments() throws {
        let conv = try smallLayer(nLayers: [2])
        let noBias = try smallLayer(nLayers: [2], bias: false)
        let before = LayerSnapshot(conv), noBiasBefore = LayerSnapshot(noBias)
        expectError(.indexOutOfRange, "layer 2 of 2") { try conv.set(layer: [2], stride: [2]) }
        expectError(.indexOutOfRange, "empty index on a grid") { try conv.set(layer: [], stride: [2]) }
        expectError(.invalidArgument, "stride with 3 entries for order 2") { try conv.set(layer: [0], stride: [1, 2, 1]) }
        expectError(.invalidArgument, "stride 0") { try conv.set(layer: [0], stride: [0]) }
        expectError(.invalidArgument, "negative padding") { try conv.set(layer: [0], padding: [-1]) }
        expectError(.invalidArgument, "dilation 0") { try conv.set(layer: [1], dilation: [1, 0]) }
        expectError(.shapeMismatch, "bias of 5 values for 6 channels") { try conv.set(layer: [1], stride: [2], bias: [1, 2, 3, 4, 5]) }
        expectError(.numerical, "NaN bias") { try conv.set(layer: [1], stride: [2], bias: [1, 2, .nan, 4, 5, 6]) }
        expectError(.invalidArgument, "bias on a layer built without bias") { try noBias.set(layer: [0], bias: [1, 2, 3, 4, 5, 6]) }
        #expect(LayerSnapshot(conv) == before)
        #expect(LayerSnapshot(noBias) == noBiasBefore)
    }
}

// MARK: - sub-convolutions and indexing

@Suite("Layer API: sub-convolutions and layer indices")
struct LayerSubConvTests {
    @Test("a sub-convolution forwards its layer and sees every later change of the parent", arguments: [Factorization.cp, .tucker, .tt])
    func subConvSharesParameters(_ f: Factorization) throws {
        let conv = try smallLayer(f, nLayers: [2, 2])
        let sub = try conv.subConv(at: [1, 0])
        #expect(sub.layer == [1, 0])
        #expect(sub.parent === conv)
        var rng = TestRandom(seed: 21)
        let x = rng.tensor([2, 4, 7, 6])
        let y0 = try sub.forward(x)
        #expect(y0 == (try conv.forward(x, layer: [1, 0])))

        // New parameters loaded into the parent (another seed's factors, another bias).
        let other = try smallLayer(f, nLayers: [2, 2], seed: 99)
        try conv.loadStateDict(dictionary(other))
        let y1 = try sub.forward(x)
        #expect(y1 != y0)
        #expect(y1 == (try other.forward(x, layer: [1, 0])))
        try expectForwardMatchesReference(conv, x, layer: [1, 0], "parent after load")

        // Geometry and bias set on the parent.
        try conv.set(layer: [1, 0], stride: [2], padding: [1], bias: [1, 1, 1, 1, 1, 1])
        #expect(sub.geometry == (try ConvGeometry(order: 2, stride: [2, 2], padding: [1, 1])))
        let y2 = try sub.forward(x)
        #expect(y2.shape == [2, 6, 4, 3])
        #expect(y2 == (try conv.forward(x, layer: [1, 0])))

        // Re-initialization of the parent.
        try conv.resetParameters(seed: 5)
        #expect(try sub.forward(x) == (try conv.forward(x, layer: [1, 0])))
        #expect(try sub.forward(x) != y2)
    }

    @Test("sub-convolution errors: single conv, bad indices")
    func subConvErrors() throws {
        let single = try smallLayer()
        expectError(.invalidArgument, "subConv of a single convolution") { _ = try single.subConv(at: [0]) }
        let grid = try smallLayer(nLayers: [3])
        expectError(.indexOutOfRange, "subConv at 3 of 3") { _ = try grid.subConv(at: [3]) }
        expectError(.indexOutOfRange, "subConv with 2 indices of a 1-D grid") { _ = try grid.subConv(at: [0, 0]) }
        expectError(.indexOutOfRange, "subConv at -1") { _ = try grid.subConv(at: [-1]) }
    }

    @Test("sub-convolution description: tltorch's layout with bias=False printed only for a layer without bias")
    func subConvDescription() throws {
        let conv = try FactorizedConv(inChannels: 4, outChannels: 6, kernelSize: [3, 3], bias: true,
                                      hasBias: [true, false], nLayers: [2], seed: 1)
        try conv.set(layer: [0], stride: [2, 1], padding: [1])
        #expect(try conv.subConv(at: [0]).description
            == "SubConv 0 from main factorized layer.\n        SubFactorizedConv(in_channels=4, out_channels=6, stride=[2, 1], padding=[1, 1])")
        #expect(try conv.subConv(at: [1]).description
            == "SubConv 1 from main factorized layer.\n        SubFactorizedConv(in_channels=4, out_channels=6, bias=False)")
        let grid = try FactorizedConv(inChannels: 4, outChannels: 6, kernelSize: [3], bias: false, nLayers: [2, 2], seed: 1)
        try grid.set(layer: [1, 0], dilation: [2])
        #expect(try grid.subConv(at: [1, 0]).description
            == "SubConv (1, 0) from main factorized layer.\n        SubFactorizedConv(in_channels=4, out_channels=6, dilation=[2], bias=False)")
    }

    @Test("out-of-range and wrong-arity layer indices are .indexOutOfRange everywhere")
    func layerIndexErrors() throws {
        var rng = TestRandom(seed: 22)
        let x = rng.tensor([1, 4, 6, 6])
        let cases: [([Int], [[Int]])] = [
            ([], [[1], [-1], [0, 0]]),
            ([3], [[], [3], [-1], [0, 0]]),
            ([2, 2], [[], [0], [2, 0], [0, 2], [0, 0, 0], [-1, 0]]),
        ]
        for (grid, badIndices) in cases {
            let conv = try smallLayer(nLayers: grid)
            for index in badIndices {
                let what = "n_layers \(grid) index \(index)"
                expectError(.indexOutOfRange, "forward " + what) { _ = try conv.forward(x, layer: index) }
                expectError(.indexOutOfRange, "outputShape " + what) { _ = try conv.outputShape(inputShape: x.shape, layer: index) }
                expectError(.indexOutOfRange, "chosenImplementation " + what) { _ = try conv.chosenImplementation(inputShape: x.shape, layer: index) }
                expectError(.indexOutOfRange, "geometry " + what) { _ = try conv.geometry(layer: index) }
                expectError(.indexOutOfRange, "reconstructKernel " + what) { _ = try conv.reconstructKernel(layer: index) }
                expectError(.indexOutOfRange, "set " + what) { try conv.set(layer: index, stride: [2]) }
            }
        }
        // The valid ones work: a single conv accepts [] and [0] and they are the same convolution.
        let single = try smallLayer()
        #expect(try single.forward(x, layer: []) == (try single.forward(x, layer: [0])))
    }
}

// MARK: - state dict

@Suite("Layer API: state dict")
struct LayerStateDictTests {
    @Test("stateDict uses tltorch's names and order (bias first, then the weight's parameters)")
    func stateDictNames() throws {
        #expect(try smallLayer(.cp).stateDict().map(\.name)
            == ["bias", "weight.weights", "weight.factors.factor_0", "weight.factors.factor_1", "weight.factors.factor_2", "weight.factors.factor_3"])
        #expect(try smallLayer(.tucker, bias: false).stateDict().map(\.name)
            == ["weight.core", "weight.factors.factor_0", "weight.factors.factor_1", "weight.factors.factor_2", "weight.factors.factor_3"])
        #expect(try smallLayer(.tt, nLayers: [2]).stateDict().map(\.name)
            == ["bias", "weight.factors.factor_0", "weight.factors.factor_1", "weight.factors.factor_2", "weight.factors.factor_3", "weight.factors.factor_4"])
        #expect(try smallLayer(.dense).stateDict().map(\.name) == ["bias", "weight.tensor"])
        let grid = try smallLayer(.cp, nLayers: [2, 3])
        #expect(grid.bias?.shape == [2, 3, 6])
        #expect(dictionary(grid)["weight.factors.factor_1"]?.shape.first == 3)
    }

    @Test("a state dict round-trips into another layer of the same configuration", arguments: Factorization.allCases)
    func roundTrip(_ f: Factorization) throws {
        let a = try smallLayer(f, nLayers: [2], seed: 1)
        let b = try smallLayer(f, nLayers: [2], seed: 2)
        var rng = TestRandom(seed: 31)
        let x = rng.tensor([2, 4, 6, 5])
        #expect(try a.forward(x, layer: [1]) != (try b.forward(x, layer: [1])))
        try b.loadStateDict(dictionary(a))
        #expect(LayerSnapshot(b) == LayerSnapshot(a))
        for layer in 0..<2 { #expect(try b.forward(x, layer: [layer]) == (try a.forward(x, layer: [layer]))) }
    }

    @Test("a bad state dict throws the right error and leaves the layer unchanged", arguments: Factorization.allCases)
    func badStateDictLeavesLayerUnchanged(_ f: Factorization) throws {
        let conv = try smallLayer(f, nLayers: [2])
        var rng = TestRandom(seed: 32)
        let x = rng.tensor([2, 4, 6, 5])
        let before = LayerSnapshot(conv)
        let y0 = try conv.forward(x, layer: [0]), y1 = try conv.forward(x, layer: [1])
        let good = dictionary(conv)
        let firstWeight = try #require(conv.stateDict().first { $0.name != "bias" }?.name)

        // A full, otherwise valid dict with fresh values in every other entry, so a partial
        // application of any bad dict below would be visible.
        let fresh = dictionary(try smallLayer(f, nLayers: [2], seed: 77))

        var wrongName = fresh
        wrongName["weight.factors.factor_9"] = Tensor(repeating: 1, shape: [2, 2])
        expectError(.format, "\(f): unknown name") { try conv.loadStateDict(wrongName) }

        var renamed = fresh
        renamed["weights.bias"] = renamed.removeValue(forKey: "bias")
        expectError(.format, "\(f): misspelled bias") { try conv.loadStateDict(renamed) }

        var missing = fresh
        missing.removeValue(forKey: firstWeight)
        expectError(.format, "\(f): strict load without \(firstWeight)") { try conv.loadStateDict(missing) }
        expectError(.format, "\(f): strict load without bias") { try conv.loadStateDict(fresh.filter { $0.key != "bias" }) }

        var wrongBiasShape = fresh
        wrongBiasShape["bias"] = Tensor(repeating: 1, shape: [2, 5])
        expectError(.shapeMismatch, "\(f): bias shape") { try conv.loadStateDict(wrongBiasShape) }

        let target = try #require(fresh[firstWeight])
        var wrongShape = fresh
        wrongShape[firstWeight] = Tensor(repeating: 0.5, shape: target.shape.map { $0 + 1 })
        expectError(.shapeMismatch, "\(f): \(firstWeight) shape in a full dict") { try conv.loadStateDict(wrongShape) }
        expectError(.shapeMismatch, "\(f): \(firstWeight) shape alone") {
            try conv.loadStateDict([firstWeight: Tensor(repeating: 0.5, shape: target.shape.map { $0 + 1 })], strict: false)
        }

        for bad in [Float.nan, .infinity] {
            var nonFinite = fresh
            var t = target
            t.scalars[t.count - 1] = bad
            nonFinite[firstWeight] = t
            expectError(.numerical, "\(f): \(bad) in \(firstWeight)") { try conv.loadStateDict(nonFinite) }
            var nonFiniteBias = fresh
            var b = try #require(fresh["bias"])
            b.scalars[0] = bad
            nonFiniteBias["bias"] = b
            expectError(.numerical, "\(f): \(bad) in bias") { try conv.loadStateDict(nonFiniteBias) }
        }

        #expect(LayerSnapshot(conv) == before)
        #expect(dictionary(conv) == good)
        #expect(try conv.forward(x, layer: [0]) == y0)
        #expect(try conv.forward(x, layer: [1]) == y1)

        // And the fresh dict itself loads (so the errors above came from the defects).
        try conv.loadStateDict(fresh)
        #expect(dictionary(conv) == fresh)
    }

    @Test("partial loads (bias only, one factor) invalidate the cached derived weights", arguments: Factorization.allCases)
    func partialLoadsInvalidateCache(_ f: Factorization) throws {
        for implementation in [Implementation.reconstructed, .auto] + (f == .dense ? [] : [.factorized]) {
            let conv = try smallLayer(f, nLayers: [2], implementation: implementation)
            if f == .dense { try conv.setImplementation(implementation) }
            var rng = TestRandom(seed: 34)
            let x = rng.tensor([2, 4, 6, 6])
            let y0 = try conv.forward(x, layer: [1])   // builds and caches the pipeline
            try conv.loadStateDict(["bias": rng.tensor([2, 6])], strict: false)
            let y1 = try conv.forward(x, layer: [1])
            #expect(y1 != y0, "\(f) \(implementation): bias-only load not seen")
            try expectForwardMatchesReference(conv, x, layer: [1], "\(f) \(implementation) after bias load")
            let (name, value) = try #require(conv.stateDict().last)
            try conv.loadStateDict([name: rng.tensor(value.shape)], strict: false)
            #expect(try conv.forward(x, layer: [1]) != y1, "\(f) \(implementation): \(name)-only load not seen")
            try expectForwardMatchesReference(conv, x, layer: [1], "\(f) \(implementation) after \(name) load")
        }
    }

    @Test("bias given to a layer built without bias is a format error")
    func biasForBiasFreeLayer() throws {
        let conv = try smallLayer(bias: false)
        let before = LayerSnapshot(conv)
        expectError(.format, "bias for bias=False") { try conv.loadStateDict(["bias": Tensor(repeating: 1, shape: [6])], strict: false) }
        #expect(LayerSnapshot(conv) == before)
    }

    @Test("a complete set of factors of another rank loads; rank and description follow it")
    func loadAnotherRank() throws {
        let conv = try smallLayer(.cp, bias: false)
        #expect(conv.rank == .cp(7)) // (6, 4, 3, 3) at 0.5: 216 · 0.5 / 16 = 6.75 → 7
        var rng = TestRandom(seed: 33)
        let r = 5
        let dict: [String: Tensor<Float>] = [
            "weight.weights": rng.tensor([r]),
            "weight.factors.factor_0": rng.tensor([6, r]), "weight.factors.factor_1": rng.tensor([4, r]),
            "weight.factors.factor_2": rng.tensor([3, r]), "weight.factors.factor_3": rng.tensor([3, r]),
        ]
        try conv.loadStateDict(dict)
        #expect(conv.rank == .cp(5))
        #expect(conv.description.contains("rank=5,"))
        try expectForwardMatchesReference(conv, rng.tensor([2, 4, 6, 6]), layer: [], "rank-5 CP")
    }
}

// MARK: - description

@Suite("Layer API: description (behaviour notes §9 layout without the dangling comma)")
struct LayerDescriptionTests {
    @Test("default single conv with bias")
    func singleWithBias() throws {
        let conv = try FactorizedConv(inChannels: 16, outChannels: 32, kernelSize: [3, 3], bias: true, rank: .fraction(0.5))
        #expect(conv.description == "in_channels=16, out_channels=32, kernel_size=(3, 3), rank=43, order=2")
    }

    @Test("single TT conv with geometry and no bias")
    func singleWithGeometry() throws {
        let conv = try FactorizedConv(inChannels: 16, outChannels: 32, kernelSize: [3, 5], stride: [2, 1], padding: [1, 2],
                                      dilation: [1, 2], factorization: .tt, rank: .perMode([1, 20, 9, 40, 1]))
        #expect(conv.description
            == "in_channels=16, out_channels=32, kernel_size=(3, 5), rank=(1, 20, 9, 40, 1), order=2, stride=[2, 1], padding=[1, 2], dilation=[1, 2], bias=False")
    }

    @Test("1-D tuples, Tucker ranks, only non-default items")
    func tuplesAndRanks() throws {
        let conv = try FactorizedConv(inChannels: 16, outChannels: 16, kernelSize: [3], padding: [1], bias: true, factorization: .tucker)
        #expect(conv.description == "in_channels=16, out_channels=16, kernel_size=(3,), rank=(12, 12, 2), order=1, padding=[1]")
        let tucker = try FactorizedConv(inChannels: 16, outChannels: 32, kernelSize: [3, 3], dilation: [2], factorization: .tucker)
        #expect(tucker.description == "in_channels=16, out_channels=32, kernel_size=(3, 3), rank=(30, 15, 3, 3), order=2, dilation=[2, 2], bias=False")
    }

    @Test("multi-layer: one line per layer, bias=False on every line of a bias-free grid")
    func multiLayerWithoutBias() throws {
        let conv = try FactorizedConv(inChannels: 4, outChannels: 6, kernelSize: [3, 3], nLayers: [2])
        try conv.set(layer: [0], padding: [1])
        try conv.set(layer: [1], stride: [2])
        #expect(conv.description == "in_channels=4, out_channels=6, kernel_size=(3, 3), rank=24, order=2"
            + "\n * Conv(0,): padding=[1, 1], bias=False\n * Conv(1,): stride=[2, 2], bias=False")
    }

    @Test("multi-layer with bias: no bias=False; a 2-D grid prints index tuples")
    func multiLayerWithBias() throws {
        let conv = try FactorizedConv(inChannels: 4, outChannels: 6, kernelSize: [3, 3], bias: true, nLayers: [2])
        try conv.set(layer: [0], padding: [1])
        try conv.set(layer: [1], stride: [2], padding: [0, 1], dilation: [1, 2])
        #expect(conv.description == "in_channels=4, out_channels=6, kernel_size=(3, 3), rank=24, order=2"
            + "\n * Conv(0,): padding=[1, 1]\n * Conv(1,): stride=[2, 2], padding=[0, 1], dilation=[1, 2]")
        let grid = try FactorizedConv(inChannels: 2, outChannels: 2, kernelSize: [1], bias: true, nLayers: [1, 2], factorization: .tt, rank: .int(1))
        try grid.set(layer: [0, 1], stride: [3])
        #expect(grid.description == "in_channels=2, out_channels=2, kernel_size=(1,), rank=(1, 1, 1, 1, 1, 1), order=1"
            + "\n * Conv(0, 0): \n * Conv(0, 1): stride=[3]")
    }
}

// MARK: - kernels, reset, errors

@Suite("Layer API: kernels, reset and errors")
struct LayerMiscAPITests {
    @Test("reconstructKernel of a grid stacks the per-layer kernels", arguments: Factorization.allCases)
    func gridKernelStacksLayers(_ f: Factorization) throws {
        let conv = try FactorizedConv(inChannels: 3, outChannels: 5, kernelSize: [2, 3], nLayers: [2, 3],
                                      factorization: f, rank: f == .dense ? .same : .fraction(0.7),
                                      implementation: f == .dense ? .reconstructed : .factorized, seed: 8)
        let full = try conv.reconstructKernel()
        #expect(full.shape == [2, 3, 5, 3, 2, 3])
        let block = 5 * 3 * 2 * 3
        for i in 0..<2 {
            for j in 0..<3 {
                let layer = try conv.reconstructKernel(layer: [i, j])
                #expect(layer.shape == [5, 3, 2, 3])
                let flat = i * 3 + j
                let slice = Array(full.scalars[(flat * block)..<((flat + 1) * block)])
                let error = TensorCompare.relativeError(layer, try Tensor(shape: [5, 3, 2, 3], scalars: slice))
                #expect(error <= 1e-6, "\(f) layer (\(i), \(j)): \(error)")
            }
        }
        // Distinct layers really differ (the comparison above is not between zero kernels).
        #expect(try conv.reconstructKernel(layer: [0, 0]) != (try conv.reconstructKernel(layer: [1, 2])))
        #expect(full.norm > 0)
    }

    @Test("reconstructKernel of a single conv: nil, [] and [0] give the (C_out, C_in, K...) kernel", arguments: Factorization.allCases)
    func singleKernel(_ f: Factorization) throws {
        let conv = try smallLayer(f)
        let k = try conv.reconstructKernel()
        #expect(k.shape == [6, 4, 3, 3])
        #expect(try conv.reconstructKernel(layer: []) == k)
        #expect(try conv.reconstructKernel(layer: [0]) == k)
        #expect(TensorCompare.relativeError(k, try conv.weight.kernel()) <= 1e-6)
    }

    @Test("resetParameters zeroes the bias, is deterministic per seed and changes the forward", arguments: Factorization.allCases)
    func resetParameters(_ f: Factorization) throws {
        let a = try smallLayer(f, nLayers: [2], seed: 1)
        let b = try smallLayer(f, nLayers: [2], seed: 2)
        var rng = TestRandom(seed: 41)
        let x = rng.tensor([2, 4, 6, 6])
        let before = try a.forward(x, layer: [1])
        #expect(a.bias.map { $0.scalars.contains { $0 != 0 } } == true)
        try a.resetParameters(seed: 7)
        try b.resetParameters(seed: 7)
        #expect(a.bias == Tensor(repeating: 0, shape: [2, 6]))
        #expect(dictionary(a) == dictionary(b))
        #expect(try a.forward(x, layer: [1]) == (try b.forward(x, layer: [1])))
        #expect(try a.forward(x, layer: [1]) != before)
        try expectForwardMatchesReference(a, x, layer: [1], "\(f) after reset")
        try b.resetParameters(seed: 8)
        #expect(dictionary(a) != dictionary(b))
        // The construction seed gives the same parameters as resetting with that seed.
        let c = try FactorizedConv(inChannels: 4, outChannels: 6, kernelSize: [3, 3], bias: true, nLayers: [2],
                                   factorization: f, rank: f == .dense ? .same : .fraction(0.5),
                                   implementation: f == .dense ? .reconstructed : .factorized, seed: 7)
        #expect(dictionary(c) == dictionary(a))
    }

    @Test("resetParameters: reconstruction std follows std (also for TT), invalid std is rejected", arguments: Factorization.allCases)
    func resetStd(_ f: Factorization) throws {
        let conv = try FactorizedConv(inChannels: 16, outChannels: 16, kernelSize: [3, 3], factorization: f,
                                      implementation: f == .dense ? .reconstructed : .factorized, seed: 1)
        // One draw's norm fluctuates a lot (3×3 spatial factors), so average the variance over seeds.
        var variance = 0.0
        let seeds = 1...24
        for seed in seeds {
            try conv.resetParameters(std: 0.05, seed: UInt64(seed))
            let k = try conv.reconstructKernel()
            variance += k.norm * k.norm / Double(k.count)
        }
        let std = (variance / Double(seeds.count)).squareRoot()
        #expect(std > 0.05 * 0.75 && std < 0.05 * 1.25, "\(f): reconstruction std \(std)")
        let before = LayerSnapshot(conv)
        expectError(.invalidArgument, "negative std") { try conv.resetParameters(std: -1) }
        expectError(.invalidArgument, "NaN std") { try conv.resetParameters(std: .nan) }
        #expect(LayerSnapshot(conv) == before)
    }

    @Test("ranks that resolve to 0 are errors")
    func zeroRanks() throws {
        for f in [Factorization.cp, .tucker, .tt] {
            expectError(.invalidArgument, "\(f) rank 0") {
                _ = try FactorizedConv(inChannels: 4, outChannels: 6, kernelSize: [3], factorization: f, rank: .int(0))
            }
            expectError(.invalidArgument, "\(f) rank -0.5") {
                _ = try FactorizedConv(inChannels: 4, outChannels: 6, kernelSize: [3], factorization: f, rank: .fraction(-0.5))
            }
        }
        // CP: (2, 2, 1) at 0.625 → 2·2·1·0.625/5 = 0.5 → round-half-even 0 (tltorch builds an empty tensor).
        expectError(.invalidArgument, "CP fraction rounding to 0") {
            _ = try FactorizedConv(inChannels: 2, outChannels: 2, kernelSize: [1], factorization: .cp, rank: .fraction(0.625))
        }
        expectError(.invalidArgument, "TT ranks without boundary 1") {
            _ = try FactorizedConv(inChannels: 4, outChannels: 6, kernelSize: [3], factorization: .tt, rank: .perMode([2, 3, 3, 1]))
        }
    }

    @Test("implementations that do not exist for a factorization are .unsupported; unknown names are invalid")
    func implementationErrors() throws {
        for (f, implementation) in [(Factorization.tucker, Implementation.mobilenet), (.tt, .mobilenet), (.dense, .mobilenet), (.dense, .factorized)] {
            expectError(.unsupported, "\(implementation) on \(f) at construction") {
                _ = try FactorizedConv(inChannels: 4, outChannels: 6, kernelSize: [3], factorization: f, implementation: implementation)
            }
            let conv = try FactorizedConv(inChannels: 4, outChannels: 6, kernelSize: [3], factorization: f, implementation: .reconstructed)
            expectError(.unsupported, "setImplementation(\(implementation)) on \(f)") { try conv.setImplementation(implementation) }
            #expect(conv.implementation == .reconstructed)
        }
        expectError(.invalidArgument, "unknown implementation name") { _ = try Implementation(parsing: "fast") }
        #expect(try Implementation(parsing: "MobileNet") == .mobilenet)
        #expect(try Implementation(parsing: "auto") == .auto)
    }

    @Test("invalid constructor arguments are errors naming the argument")
    func constructorErrors() {
        func make(kernel: [Int] = [3, 3], stride: [Int] = [1], bias: Bool = false, hasBias: [Bool]? = nil,
                  nLayers: [Int] = [], f: Factorization = .cp, fixed: FixedRankModes? = nil, inChannels: Int = 4) throws {
            _ = try FactorizedConv(inChannels: inChannels, outChannels: 6, kernelSize: kernel, stride: stride, bias: bias,
                                   hasBias: hasBias, nLayers: nLayers, factorization: f, fixedRankModes: fixed)
        }
        expectError(.invalidArgument, "empty kernel") { try make(kernel: []) }
        expectError(.invalidArgument, "kernel size 0") { try make(kernel: [3, 0]) }
        expectError(.invalidArgument, "3 strides for order 2") { try make(stride: [1, 1, 1]) }
        expectError(.invalidArgument, "0 input channels") { try make(inChannels: 0) }
        expectError(.invalidArgument, "has_bias without bias") { try make(hasBias: [true]) }
        expectError(.invalidArgument, "has_bias of the wrong length") { try make(bias: true, hasBias: [true, false], nLayers: [3]) }
        expectError(.invalidArgument, "n_layers 0") { try make(nLayers: [0]) }
        expectError(.invalidArgument, "fixed_rank_modes for CP") { try make(fixed: .spatial) }
    }

    @Test("has_bias defaults to bias; a single conv with bias=false has no bias parameter")
    func hasBiasDefault() throws {
        #expect(try FactorizedConv(inChannels: 4, outChannels: 6, kernelSize: [3], bias: true, nLayers: [2, 2]).hasBias == [true, true, true, true])
        #expect(try FactorizedConv(inChannels: 4, outChannels: 6, kernelSize: [3], nLayers: [3]).hasBias == [false, false, false])
        let single = try FactorizedConv(inChannels: 4, outChannels: 6, kernelSize: [3])
        #expect(single.bias == nil)
        #expect(single.hasBias == [false])
    }

    @Test("a single conv applies its bias whenever the parameter exists (behaviour notes §5: has_bias is ignored for n_layers=1)")
    func singleConvBiasIgnoresHasBias() throws {
        // Either refusing the contradictory flags or applying the bias matches tltorch's semantics;
        // silently dropping the bias does not.
        let conv: FactorizedConv
        do {
            conv = try FactorizedConv(inChannels: 3, outChannels: 2, kernelSize: [3], bias: true, hasBias: [false], seed: 1)
        } catch let error as FactorConvError {
            #expect(error.kind == .invalidArgument)
            return
        }
        try conv.loadStateDict(["bias": try Tensor(shape: [2], scalars: [1, -1])], strict: false)
        var rng = TestRandom(seed: 51)
        let x = rng.tensor([1, 3, 6])
        let reference = referenceConv(x, weight: try conv.reconstructKernel(), bias: [1, -1], stride: [1], padding: [0], dilation: [1])
        let y = try conv.forward(x)
        try #require(y.shape == reference.shape)
        #expect(relativeMaxError(y, reference) <= 1e-5, "the bias parameter exists but the forward ignores it")
        #expect(!conv.description.contains("bias=False"))
    }

    /// The factorized paths check the input inside their first (pointwise) stage, image by image
    /// and worker by worker, or image by image before their first stage (a TT path whose first
    /// stage is a mode conv); the reconstructed path checks it first. Every implementation must
    /// still see a single bad value anywhere (and name the input, not an overflowed output):
    /// first, last, in the last image, with stride 2, batch 1 and 3.
    @Test("every implementation rejects a single NaN or infinity anywhere in the input")
    func forwardRejectsNonFiniteAnywhere() throws {
        for f in Factorization.allCases {
            let candidates: [Implementation] = f == .dense ? [.reconstructed] : f == .cp
                ? [.factorized, .reconstructed, .mobilenet, .auto] : [.factorized, .reconstructed, .auto]
            for implementation in candidates {
                for stride in [1, 2] {
                    let conv = try FactorizedConv(inChannels: 4, outChannels: 6, kernelSize: [3, 3], stride: [stride, stride],
                                                  factorization: f, rank: f == .dense ? .same : .fraction(0.5),
                                                  implementation: implementation, seed: 5)
                    for batch in [1, 3] {
                        var rng = TestRandom(seed: 62)
                        var x = rng.tensor([batch, 4, 7, 9])
                        _ = try conv.forward(x)
                        for spot in [0, x.count - 1, x.count / 2, rng.int(0...(x.count - 1))] {
                            let kept = x.scalars[spot]
                            for bad in [Float.nan, .infinity, -.infinity] {
                                x.scalars[spot] = bad
                                expectError(.numerical, "\(f) \(implementation) stride \(stride) batch \(batch): \(bad) at \(spot)",
                                            mentioning: "input contains") {
                                    _ = try conv.forward(x)
                                }
                            }
                            x.scalars[spot] = kept
                        }
                    }
                }
            }
        }
    }

    @Test("forward rejects non-finite inputs (.numerical) and wrong shapes (.shapeMismatch)")
    func forwardErrors() throws {
        for f in Factorization.allCases {
            let conv = try smallLayer(f)
            var rng = TestRandom(seed: 61)
            var x = rng.tensor([2, 4, 6, 6])
            let y = try conv.forward(x)
            #expect(y.shape == [2, 6, 4, 4])
            x.scalars[17] = .nan
            expectError(.numerical, "\(f): NaN input") { _ = try conv.forward(x) }
            x.scalars[17] = -.infinity
            expectError(.numerical, "\(f): -inf input") { _ = try conv.forward(x) }
            expectError(.shapeMismatch, "\(f): 3 channels for 4") { _ = try conv.forward(rng.tensor([2, 3, 6, 6])) }
            expectError(.shapeMismatch, "\(f): 1-D input for a 2-D conv") { _ = try conv.forward(rng.tensor([2, 4, 6])) }
            expectError(.shapeMismatch, "\(f): input smaller than the kernel") { _ = try conv.forward(rng.tensor([2, 4, 2, 6])) }
            expectError(.shapeMismatch, "\(f): outputShape with wrong channels") { _ = try conv.outputShape(inputShape: [2, 5, 6, 6]) }
        }
    }

    @Test("concurrent forwards during parameter swaps see one parameter set or the other, never a mix")
    func concurrentForwards() async throws {
        for f in [Factorization.cp, .tt] {
            let conv = try smallLayer(f, implementation: .auto, seed: 1)
            let dictA = dictionary(conv), dictB = dictionary(try smallLayer(f, seed: 2))
            var rng = TestRandom(seed: 71)
            let x = rng.tensor([2, 4, 8, 8])
            let yA = try conv.forward(x)
            try conv.loadStateDict(dictB)
            let yB = try conv.forward(x)
            #expect(yA != yB)
            let mixed = try await withThrowingTaskGroup(of: Int.self) { group in
                group.addTask {
                    for i in 0..<40 { try conv.loadStateDict(i % 2 == 0 ? dictA : dictB) }
                    return 0
                }
                for _ in 0..<4 {
                    group.addTask {
                        var count = 0
                        for _ in 0..<20 {
                            let y = try conv.forward(x)
                            if y != yA && y != yB { count += 1 }
                        }
                        return count
                    }
                }
                return try await group.reduce(0, +)
            }
            #expect(mixed == 0, "\(f): forwards that matched neither parameter set")
        }
    }

    @Test("ranks through the constructor for n_layers = 3 (behaviour notes §3.4 table rows)")
    func gridRanks() throws {
        func rank(_ f: Factorization, _ kernel: (out: Int, in: Int), _ spec: RankSpec, fixed: FixedRankModes? = nil) throws -> [Int] {
            try FactorizedConv(inChannels: kernel.in, outChannels: kernel.out, kernelSize: [3, 3], nLayers: [3],
                               factorization: f, rank: spec, fixedRankModes: fixed).rank.values
        }
        #expect(try rank(.cp, (5, 6), .same) == [40])
        #expect(try rank(.tucker, (5, 6), .same) == [3, 5, 6, 3, 3])
        #expect(try rank(.tt, (5, 6), .same) == [1, 9, 9, 6, 8, 1])
        #expect(try rank(.tucker, (32, 16), .fraction(0.5), fixed: .spatial) == [2, 24, 12, 3, 3])
        let tt = try FactorizedConv(inChannels: 6, outChannels: 5, kernelSize: [3, 3], nLayers: [3], factorization: .tt)
        #expect(tt.shape == [3, 6, 3, 3, 5])
    }

    @Test("a dense layer prints rank=None")
    func denseDescription() throws {
        let conv = try FactorizedConv(inChannels: 2, outChannels: 3, kernelSize: [1, 1], bias: true, factorization: .dense,
                                      implementation: .reconstructed)
        #expect(conv.description == "in_channels=2, out_channels=3, kernel_size=(1, 1), rank=None, order=2")
    }

    @Test("the raw-buffer forward equals the tensor forward and validates the same way")
    func rawBufferForward() throws {
        let conv = try smallLayer(.tt, nLayers: [2])
        try conv.set(layer: [1], stride: [2, 1], padding: [1])
        var rng = TestRandom(seed: 81)
        let x = rng.tensor([2, 4, 7, 6])
        let expected = try conv.forward(x, layer: [1])
        let outShape = try conv.outputShape(inputShape: x.shape, layer: [1])
        #expect(outShape == expected.shape)
        var out = [Float](repeating: .nan, count: outShape.reduce(1, *))
        _ = try x.scalars.withUnsafeBufferPointer { xp in
            try out.withUnsafeMutableBufferPointer { op in
                try conv.forward(input: xp.baseAddress!, inputShape: x.shape, output: op, layer: [1])
            }
        }
        #expect(out == expected.scalars)
        x.scalars.withUnsafeBufferPointer { xp in
            out.withUnsafeMutableBufferPointer { op in
                expectError(.indexOutOfRange, "raw forward layer [2]") {
                    try conv.forward(input: xp.baseAddress!, inputShape: x.shape, output: op, layer: [2])
                }
                expectError(.shapeMismatch, "raw forward with 5 channels") {
                    try conv.forward(input: xp.baseAddress!, inputShape: [2, 5, 7, 6], output: op, layer: [0])
                }
                // The buffer is checked against the plan that runs: one element short, or a
                // shape other than the expected one, writes nothing.
                let short = UnsafeMutableBufferPointer(rebasing: op[..<(op.count - 1)])
                expectError(.bufferTooSmall, "raw forward one element short") {
                    try conv.forward(input: xp.baseAddress!, inputShape: x.shape, output: short, layer: [1])
                }
                var wrong = outShape
                wrong[3] += 1
                expectError(.shapeMismatch, "raw forward with another expected shape") {
                    try conv.forward(input: xp.baseAddress!, inputShape: x.shape, output: op, expectedShape: wrong, layer: [1])
                }
                #expect((try? conv.forward(input: xp.baseAddress!, inputShape: x.shape, output: op, expectedShape: outShape,
                                           layer: [1])) == outShape)
            }
        }
    }
}
