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

    @OptionGroup var source: LayerSelection

    @Argument(help: "The input .npy file.")
    var input: String

    @OptionGroup var destination: OutputOption

    @Option(help: "Override the file's forward implementation.")
    var implementation: Implementation?

    func run() throws {
        let conv = try source.load()
        if let implementation { try conv.setImplementation(implementation) }
        let x = try NPY.read(from: input)
        let y = try conv.forward(x, layer: source.index)
        try NPY.write(y, to: destination.output)
        print("\(x.shape) -> \(y.shape) (\(try conv.chosenImplementation(inputShape: x.shape, layer: source.index))), wrote \(destination.output)")
    }
}
