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
        let denseCount = conv.layers.count * conv.outChannels * conv.inChannels * conv.kernelSize.reduce(1, *)
            + (conv.bias?.count ?? 0)
        print(conv.description)
        print("")
        print("factorization   \(conv.factorization)")
        print("channels        in \(conv.inChannels), out \(conv.outChannels)")
        print("kernel size     \(conv.kernelSize)")
        print("rank            \(conv.rank)")
        print("n_layers        \(conv.layers.isSingle ? "1" : "\(conv.layers.shape)")")
        print("implementation  \(conv.implementation)")
        print("parameters      \(grouped(conv.parameterCount)) (dense equivalent: \(grouped(denseCount)), "
              + "\(fixed(Double(denseCount) / Double(max(conv.parameterCount, 1)), 2))x)")
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
