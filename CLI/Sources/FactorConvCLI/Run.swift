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
        let conv = try loadLayer()
        if let implementation { try conv.setImplementation(implementation) }
        let x = try NPY.read(from: input)
        let index = layer?.values ?? []
        let y = try conv.forward(x, layer: index)
        try NPY.write(y, to: output)
        print("\(x.shape) -> \(y.shape) (\(try conv.chosenImplementation(inputShape: x.shape, layer: index))), wrote \(output)")
    }

    /// The layer to run: the file's, or the bundle's layer chosen by `--layer-name` (which a
    /// bundle of one layer may omit).
    func loadLayer() throws -> FactorizedConv {
        guard try SafeTensors.readMetadata(from: layerFile)[LayerBundle.metadataKey] != nil else {
            if let layerName {
                throw ToolError(message: "'\(layerFile)' is a single-layer file, not a model bundle: --layer-name '\(layerName)' does not apply")
            }
            return try FactorizedConv.load(from: layerFile)
        }
        let bundle = try LayerBundle.load(from: layerFile)
        let listed = bundle.names.prefix(20).map { "'\($0)'" }.joined(separator: ", ") + (bundle.count > 20 ? ", ..." : "")
        guard let layerName else {
            guard bundle.count == 1 else {
                throw ToolError(message: "'\(layerFile)' is a model bundle of \(bundle.count) layers: choose one with --layer-name (\(listed))")
            }
            return bundle.layers[0].layer
        }
        guard let conv = bundle[layerName] else {
            throw ToolError(message: "'\(layerFile)' has no layer named '\(layerName)'; its \(bundle.count) layers: \(listed)")
        }
        return conv
    }
}
