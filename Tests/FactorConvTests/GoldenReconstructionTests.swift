import Testing
import FactorConv
import FactorConvTestSupport

/// Builds the factorized tensor stored under `prefix` ("fact.", "layer1.fact.", …) of a golden case.
func goldenFactorized(_ c: GoldenCase, prefix: String) throws -> FactorizedTensor {
    let factorization = try Factorization(parsing: c.factorization)
    func list(_ stem: String) throws -> [Tensor<Float>] {
        var out: [Tensor<Float>] = []
        while c.has("\(prefix)\(stem)_\(out.count)") { out.append(try c.tensor("\(prefix)\(stem)_\(out.count)")) }
        return out
    }
    switch factorization {
    case .cp: return .cp(try CPTensor(weights: c.tensor(prefix + "weights"), factors: list("factor")))
    case .tucker: return .tucker(try TuckerTensor(core: c.tensor(prefix + "core"), factors: list("factor")))
    case .tt: return .tt(try TTTensor(cores: list("core")))
    case .dense: throw FactorConvError.invalid("no dense golden cases")
    }
}

/// (factor prefix, stored kernel name, expected weight description) for every stored factorization
/// of a case whose kernel is stored; multi cases' full tensors have no stored kernel.
func goldenKernelPairs(_ c: GoldenCase) -> [(prefix: String, kernel: String, weight: GoldenWeight?)] {
    var pairs: [(String, String, GoldenWeight?)] = []
    switch c.kind {
    case "multi":
        for layer in c.layers { pairs.append(("layer\(layer.index).fact.", "layer\(layer.index).kernel", layer.weight)) }
    case "transduct":
        pairs.append(("before.fact.", "kernel2d", c.weight))
        pairs.append(("after.fact.", "kernel3d", c.weightAfter))
    default:
        pairs.append(("fact.", "kernel", c.weight))
    }
    return pairs
}

let goldenCaseNames = GoldenManifest.shared.cases.map(\.name)
let goldenMultiNames = GoldenManifest.shared.cases(kind: "multi").map(\.name)

@Suite("Golden reconstructions")
struct GoldenReconstructionTests {
    @Test("the manifest has every kind of case")
    func manifestShape() {
        let m = GoldenManifest.shared
        #expect(m.cases.count == 68)
        #expect(m.cases(kind: "single").count == 43)
        #expect(m.cases(kind: "multi").count == 6)
        #expect(m.cases(kind: "from_conv").count == 15)
        #expect(m.cases(kind: "transduct").count == 4)
        #expect((m.raw["versions"] as? [String: String])?["tltorch"] == "0.5.0")
    }

    @Test("stored factors reconstruct the stored kernel", arguments: goldenCaseNames)
    func reconstruction(_ name: String) throws {
        let c = try GoldenManifest.shared.named(name)
        let pairs = goldenKernelPairs(c)
        #expect(!pairs.isEmpty)
        for (prefix, kernelName, weight) in pairs {
            let t = try goldenFactorized(c, prefix: prefix)
            let weight = try #require(weight)
            #expect(t.shape == weight.shape, "\(prefix) shape")
            #expect(t.rank.values == weight.rank, "\(prefix) rank")
            let expected = try c.tensor(kernelName)
            let kernel = try t.kernel()
            let error = TensorCompare.relativeError(kernel, expected)
            #expect(error <= 1e-6, "\(name) \(prefix): relative error \(error)")
            // The Double path agrees too (it is the reference for forward tests).
            #expect(TensorCompare.relativeError(try t.kernelDouble(), expected) <= 1e-6)
        }
    }

    @Test("layer selection equals the stored per-layer factors and slices of the full tensor", arguments: goldenMultiNames)
    func layerSelection(_ name: String) throws {
        let c = try GoldenManifest.shared.named(name)
        let full = try goldenFactorized(c, prefix: "fact.")
        #expect(full.shape == c.weight?.shape)
        let fullKernel = try full.kernel(layerModes: 1)
        let nLayers = try #require(c.nLayers)
        #expect(fullKernel.shape.first == nLayers)
        for layer in c.layers {
            let selected = try full.selectingLayer([layer.index])
            let stored = try goldenFactorized(c, prefix: "layer\(layer.index).fact.")
            #expect(selected.shape == stored.shape)
            #expect(selected.rank == stored.rank)
            for ((n1, a), (_, b)) in zip(selected.namedParameters(), stored.namedParameters()) {
                #expect(TensorCompare.relativeError(a, b) <= 1e-6, "\(name) layer \(layer.index) \(n1)")
            }
            let kernel = try selected.kernel()
            #expect(TensorCompare.relativeError(kernel, try c.tensor("layer\(layer.index).kernel")) <= 1e-6)
            let slice = try sliceLeading(fullKernel, layer.index)
            #expect(TensorCompare.relativeError(kernel, slice) <= 1e-6)
        }
        let error = #expect(throws: FactorConvError.self) { try full.selectingLayer([nLayers]) }
        #expect(error?.kind == .indexOutOfRange)
    }

    @Test("rank resolution reproduces tltorch's ranks for single and multi cases")
    func ranks() throws {
        let cases = GoldenManifest.shared.cases.filter { $0.kind == "single" || $0.kind == "multi" }
        #expect(cases.count == 49)
        for c in cases {
            let factorization = try Factorization(parsing: c.factorization)
            let weight = try #require(c.weight)
            let spec: RankSpec
            switch try #require(c.rankArg) {
            case .same: spec = .same
            case .fraction(let f): spec = .fraction(f)
            case .int(let i): spec = .int(i)
            case .list(let l): spec = .perMode(l)
            }
            let layerModes = c.nLayers.map { $0 > 1 ? 1 : 0 } ?? 0
            let fixed = c.fixedRankModes == "spatial"
                ? FixedRankModes.spatial.resolved(layerModes: layerModes, order: try #require(c.order)) : []
            let kernelShape = [c.outChannels, c.inChannels] + (try #require(c.kernelSize))
            let shape = try KernelLayout.factorizationShape(
                kernelShape: kernelShape, factorization: factorization, layers: c.nLayers.map { $0 > 1 ? [$0] : [] } ?? [])
            #expect(shape == weight.shape, "\(c.name)")
            let rank = try RankResolver.resolve(spec, factorization: factorization, shape: shape, fixedModes: fixed)
            #expect(rank.values == weight.rank, "\(c.name)")
        }
    }
}

/// `t[index, ...]` for the leading axis, by plain indexing.
func sliceLeading<S: TensorScalar>(_ t: Tensor<S>, _ index: Int) throws -> Tensor<S> {
    let rest = Array(t.shape.dropFirst())
    let block = rest.reduce(1, *)
    return try Tensor(shape: rest, scalars: Array(t.scalars[(index * block)..<((index + 1) * block)]))
}
