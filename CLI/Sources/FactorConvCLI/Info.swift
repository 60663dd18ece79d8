import ArgumentParser
import FactorConv

/// `factorconv info`: describe a layer file.
struct Info: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Describe a layer file: repr, configuration, tensors, parameter count.")

    @Argument(help: "A layer file (.safetensors) written by factorconv.")
    var file: String

    func run() throws {
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
