import ArgumentParser
import FactorConv

/// `factorconv compress`: a dense kernel → a factorized layer file.
struct Compress: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compress a dense convolution kernel into a factorized layer file.",
        discussion: """
            The kernel has PyTorch's layout (out_channels, in_channels, k1, ..., kN), e.g. from \
            np.save("w.npy", conv.weight.detach().numpy()). It is decomposed in float64 (CP-ALS, \
            Tucker-HOOI or TT-SVD) and written as a .safetensors layer file. Prints the rank, \
            parameter counts, compression ratio, relative kernel error and time. A progress bar \
            is drawn on stderr when stderr is a terminal.

            Example: factorconv compress w.npy -o layer.safetensors --factorization tucker --rank 0.25 --padding 1
            """)

    @Argument(help: "The kernel: a .npy file (float32/float64, C order) or a .safetensors file.")
    var kernel: String

    @OptionGroup var destination: OutputOption

    @Option(help: "With a .safetensors kernel: the tensor to read (default: its only tensor, or 'weight').")
    var tensor: String?

    @Option(help: "cp, tucker, tt or dense.")
    var factorization: Factorization = .cp

    @Option(help: ArgumentHelp(
        "same | a fraction of the dense parameter count (0.25) | an int | per-mode ints (Tucker/TT, comma-separated).",
        discussion: """
            A number with a decimal point is the share of the dense layer's parameter count to \
            keep: 0.25 keeps about a quarter, 1.0 ('same') about as many, and a value above 1 \
            makes the factorized layer larger than the dense conv (the tool then warns). An \
            integer is the rank itself (CP: the number of components; Tucker/TT: every rank).
            """))
    var rank: RankArgument = RankArgument(argument: "same")!

    @Option(help: "Stride: one value or one per spatial dimension (comma-separated).")
    var stride: IntList = IntList([1])

    @Option(help: "Zero padding: one value or one per spatial dimension.")
    var padding: IntList = IntList([0])

    @Option(help: "Dilation: one value or one per spatial dimension.")
    var dilation: IntList = IntList([1])

    @Option(name: .customLong("bias-npy"), help: "The bias (out_channels values) as a .npy file.")
    var biasNPY: String?

    @Option(name: .customLong("n-iter-max"), help: "Maximum CP-ALS / Tucker-HOOI sweeps (default 100).")
    var nIterMax: Int?

    @Option(help: "Convergence tolerance (default CP 1e-8, Tucker 1e-4).")
    var tol: Double?

    @Option(help: "Seed of the decomposition's random choices.")
    var seed: UInt64 = 0

    @Option(help: "Forward implementation stored in the file: factorized, reconstructed, mobilenet (CP) or auto.")
    var implementation: Implementation = .reconstructed

    @Flag(name: .shortAndLong, help: "No progress bar and no summary.")
    var quiet = false

    mutating func validate() throws {
        if let nIterMax, nIterMax < 0 { throw ValidationError("--n-iter-max must be >= 0") }
        if let tol, !(tol >= 0) { throw ValidationError("--tol must be >= 0") }
    }

    func run() throws {
        let weight = try readTensor(path: kernel, tensorName: tensor)
        guard weight.rank >= 3 else {
            throw ToolError(message: "the kernel has shape \(weight.shape); expected (out_channels, in_channels, k1, ...)")
        }
        let order = weight.rank - 2
        func perDimension(_ list: IntList, _ name: String) throws -> [Int] {
            if list.values.count == 1 { return Array(repeating: list.values[0], count: order) }
            guard list.values.count == order else {
                throw ToolError(message: "--\(name) has \(list.values.count) values; expected 1 or \(order) (the kernel's spatial dimensions)")
            }
            return list.values
        }
        let geometry = try ConvGeometry(order: order, stride: perDimension(stride, "stride"),
                                        padding: perDimension(padding, "padding"), dilation: perDimension(dilation, "dilation"))
        let bias = try biasNPY.map { try NPY.read(from: $0).scalars }
        let dense = try FactorizedConv.DenseConv(weight: weight, bias: bias, geometry: geometry)
        let bar = ProgressBar(quiet: quiet)
        let clock = ContinuousClock()
        let start = clock.now
        let conv: FactorizedConv
        do {
            conv = try FactorizedConv.fromConv(
                dense, rank: rank.spec, factorization: factorization, implementation: implementation,
                options: DecompositionOptions(nIterMax: nIterMax, tol: tol, seed: seed), seed: seed,
                progress: { bar.update(iteration: $0, total: $1, error: $2) })
        } catch {
            bar.finish()
            throw error
        }
        bar.finish()
        let elapsed = seconds(clock.now - start)
        try conv.save(to: destination.output)
        let denseCount = weight.count + (bias?.count ?? 0)
        if conv.parameterCount > denseCount {
            writeStderr("factorconv: warning: rank \(rank) gives \(grouped(conv.parameterCount)) parameters, more than " +
                        "the dense conv's \(grouped(denseCount)): the layer is larger, not compressed\n")
        }
        guard !quiet else { return }
        let reconstructed = try conv.reconstructKernel()
        var diff = 0.0, norm = 0.0
        for (a, b) in zip(reconstructed.scalars, weight.scalars) {
            diff += (Double(a) - Double(b)) * (Double(a) - Double(b))
            norm += Double(b) * Double(b)
        }
        print("factorization   \(conv.factorization)")
        print("kernel          \(weight.shape)")
        print("rank            \(conv.rank)")
        print("parameters      \(grouped(conv.parameterCount)) (dense: \(grouped(denseCount)))")
        print("compression     \(fixed(Double(denseCount) / Double(max(conv.parameterCount, 1)), 2))x")
        print("kernel error    \(scientific(norm > 0 ? (diff / norm).squareRoot() : diff.squareRoot())) (relative Frobenius)")
        print("time            \(fixed(elapsed, 3)) s")
        print("wrote           \(destination.output)")
    }
}
