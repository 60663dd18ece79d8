import ArgumentParser
import FactorConv

/// `factorconv run`: forward a .npy input through a layer file.
struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a layer file on a .npy input and write the output as .npy.",
        discussion: "The input is (batch, in_channels, spatial...), float32 or float64; the output is float32.")

    @OptionGroup var source: LayerFileArgument

    @Argument(help: "The input .npy file.")
    var input: String

    @OptionGroup var destination: OutputOption

    @OptionGroup var grid: GridLayerOption

    @Option(help: "Override the file's forward implementation.")
    var implementation: Implementation?

    func run() throws {
        let conv = try source.load()
        if let implementation { try conv.setImplementation(implementation) }
        let x = try NPY.read(from: input)
        let y = try conv.forward(x, layer: grid.index)
        try NPY.write(y, to: destination.output)
        print("\(x.shape) -> \(y.shape) (\(try conv.chosenImplementation(inputShape: x.shape, layer: grid.index))), wrote \(destination.output)")
    }
}
