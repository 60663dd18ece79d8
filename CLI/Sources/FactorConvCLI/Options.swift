import ArgumentParser
import FactorConv

/// The layer `run` and `bench` work on, declared once so that both name and describe it the
/// same way: a layer file or a model bundle (positional), the bundle's layer by name
/// (`--layer-name`) and the layer of a grid (`--layer`).
struct LayerSelection: ParsableArguments {
    @Argument(help: "A layer file or a model bundle (.safetensors).")
    var layerFile: String

    @Option(help: "The layer of a grid, e.g. 1 or 0,2 (default: the single convolution).")
    var layer: IntList?

    @Option(help: "The layer of a model bundle, by name (e.g. backbone.layer1.0.conv1; needed unless the bundle has one layer).")
    var layerName: String?

    /// The grid index of `--layer`; empty (the single convolution) when it is not given.
    var index: [Int] { layer?.values ?? [] }

    /// The selected layer (`loadLayer`: the file's, or the bundle's layer `--layer-name`).
    func load() throws -> FactorizedConv { try loadLayer(path: layerFile, layerName: layerName) }
}

/// `-o`/`--output`: the file a command writes (`run`, `compress`).
struct OutputOption: ParsableArguments {
    @Option(name: .shortAndLong, help: "The file to write.")
    var output: String
}
