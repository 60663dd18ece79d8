import ArgumentParser
import FactorConv

/// The layer file a command reads (`info`, `run`, `bench`): one positional argument, declared
/// once so that every command names and describes it the same way.
struct LayerFileArgument: ParsableArguments {
    @Argument(help: "A layer file (.safetensors) written by factorconv.")
    var layerFile: String

    /// The layer loaded from `layerFile`.
    func load() throws -> FactorizedConv { try FactorizedConv.load(from: layerFile) }
}

/// `--layer`: which layer of a grid (`n_layers` > 1) a command runs (`run`, `bench`).
struct GridLayerOption: ParsableArguments {
    @Option(help: "The layer of a grid, e.g. 1 or 0,2 (default: the single convolution).")
    var layer: IntList?

    /// The layer's grid index; empty (the single convolution) when `--layer` is not given.
    var index: [Int] { layer?.values ?? [] }
}

/// `-o`/`--output`: the file a command writes (`run`, `compress`).
struct OutputOption: ParsableArguments {
    @Option(name: .shortAndLong, help: "The file to write.")
    var output: String
}
