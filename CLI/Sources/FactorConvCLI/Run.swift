import ArgumentParser
import FactorConv

/// `factorconv run`: forward a .npy input through a layer file or one layer of a model bundle.
struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a layer file (or a layer of a model bundle) on a .npy input and write the output as .npy.",
        discussion: """
            The input is (batch, in_channels, spatial...), float32 or float64; the output is float32. \
            A model bundle needs --layer-name unless it holds exactly one layer.
            """)

    @Argument(help: "A layer file or a model bundle (.safetensors).")
    var layerFile: String

    @Argument(help: "The input .npy file.")
    var input: String

    @Option(name: .shortAndLong, help: "The output .npy file.")
    var output: String

    @Option(help: "The layer of a grid, e.g. 1 or 0,2 (default: the single convolution).")
    var layer: IntList?

    @Option(help: "The layer of a model bundle to run, by name (e.g. backbone.layer1.0.conv1).")
    var layerName: String?

    @Option(help: "Override the file's forward implementation.")
    var implementation: Implementation?

    func run() throws {
        let conv = try loadLayer(path: layerFile, layerName: layerName)
        if let implementation { try conv.setImplementation(implementation) }
        let x = try NPY.read(from: input)
        let index = layer?.values ?? []
        let y = try conv.forward(x, layer: index)
        try NPY.write(y, to: output)
        print("\(x.shape) -> \(y.shape) (\(try conv.chosenImplementation(inputShape: x.shape, layer: index))), wrote \(output)")
    }
}
