import ArgumentParser
import FactorConv

/// `factorconv info`: describe a layer file, or list the layers of a model bundle.
struct Info: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Describe a layer file (repr, configuration, tensors, parameter count) or list a model bundle's layers.")

    @Argument(help: "A layer file or a model bundle (.safetensors) written by factorconv.")
    var file: String

    func run() throws {
        if try SafeTensors.readMetadata(from: file)[LayerBundle.metadataKey] != nil {
            return describeBundle(try LayerBundle.load(from: file))
        }
        let conv = try FactorizedConv.load(from: file)
        let raw = try SafeTensors.read(from: file)
        print(conv.description)
        print("")
        print("factorization   \(conv.factorization)")
        print("channels        in \(conv.inChannels), out \(conv.outChannels)")
        print("kernel size     \(conv.kernelSize)")
        print("rank            \(conv.rank)")
        print("n_layers        \(conv.layers.isSingle ? "1" : "\(conv.layers.shape)")")
        print("implementation  \(conv.implementation)")
        print("parameters      \(grouped(conv.parameterCount)) (\(denseEquivalent(conv)))")
        for (flat, g) in conv.geometry.enumerated() {
            let name = conv.layers.isSingle ? "layer" : "layer \(conv.layers.indices(ofFlat: flat))"
            print("\(name)  stride \(g.stride) padding \(g.padding) dilation \(g.dilation) bias \(conv.hasBias[flat] ? "on" : "off")")
        }
        print("tensors:")
        for (name, value) in raw.tensors { print("  \(name)  \(value.shape)") }
        print("metadata:")
        for key in raw.metadata.keys.sorted() { print("  \(key): \(raw.metadata[key]!)") }
    }
}

/// Lists a bundle's layers after a line with their count and total parameters, one row each:
/// name, factorization, layer grid, dense kernel shape (out, in, kernel...), rank, parameters.
func describeBundle(_ bundle: LayerBundle) {
    let header = ["name", "factorization", "n_layers", "kernel (out, in, k...)", "rank", "parameters"]
    let rows = bundle.layers.map { name, conv in
        [name, conv.factorization.rawValue, conv.layers.isSingle ? "1" : "\(conv.layers.shape)",
         "\([conv.outChannels, conv.inChannels] + conv.kernelSize)", "\(conv.rank)", grouped(conv.parameterCount)]
    }
    let widths = header.indices.map { column in ([header] + rows).map { $0[column].count }.max()! }
    func line(_ cells: [String]) -> String {
        cells.indices.map { i in
            i == cells.count - 1 ? cells[i] : cells[i] + String(repeating: " ", count: widths[i] - cells[i].count + 2)
        }.joined()
    }
    let total = bundle.layers.reduce(0) { $0 + $1.layer.parameterCount }
    print("model bundle: \(bundle.count) layer\(bundle.count == 1 ? "" : "s"), \(grouped(total)) parameters")
    print(line(header))
    for row in rows { print(line(row)) }
}

/// "dense equivalent: N, Rx": the parameter count of the dense layers the factorization stands
/// for (every layer's full kernel plus the bias) and the compression ratio. A file the loader
/// accepts can describe a dense kernel beyond 2^63 elements (e.g. four modes of 2^20 taps), so the
/// count is computed with overflow checks, and one that overflows is given in floating point.
func denseEquivalent(_ conv: FactorizedConv) -> String {
    let sizes = [conv.layers.count, conv.outChannels, conv.inChannels] + conv.kernelSize
    let parameters = Double(max(conv.parameterCount, 1))
    if let kernel = checkedProduct(sizes),
       let count = checkedSum(kernel, conv.bias?.count ?? 0) {
        return "dense equivalent: \(grouped(count)), \(fixed(Double(count) / parameters, 2))x"
    }
    let count = sizes.reduce(1.0) { $0 * Double($1) }
    return "dense equivalent: \(scientific(count)) (beyond a 64-bit count), \(scientific(count / parameters))x"
}
