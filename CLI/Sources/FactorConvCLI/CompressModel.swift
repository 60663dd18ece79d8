import ArgumentParser
#if canImport(Glibc)
import Glibc
#endif

/// `factorconv compress-model`: every convolution of a model compressed into one bundle. The one
/// implementation is the Python package's (`python -m factorconv compress-model`: the readers of
/// safetensors, PyTorch and ONNX files live in Python), so this subcommand replaces the tool's
/// process with that Python command, arguments unchanged: its output, Ctrl-C handling and exit
/// status (0, 1, 2, 130 when interrupted) are the command's own.
struct CompressModel: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compress-model",
        abstract: "Compress every convolution of a model into a bundle (runs the factorconv Python package).",
        discussion: """
            Runs `python3 -m factorconv compress-model` with the same arguments: it needs python3 \
            with the factorconv Python package importable (pip install of this repository); \
            $FACTORCONV_PYTHON names another interpreter. Its options: WEIGHTS -o BUNDLE \
            [--report REPORT.json] [--plot PLOT.png] [--factorization cp|tucker|tt] [--rank R] \
            [--max-error E] [--include PAT] [--exclude PAT] [--geometry NAME=s,p,d[,g]] \
            [--workers N] [--scheduler ADDRESS] [--seed S] [-q]; `factorconv compress-model \
            --help` prints the Python command's help with every default, this text is \
            `factorconv help compress-model`.
            """)

    /// Environment variable naming the Python interpreter to run (default `python3` on PATH).
    static let pythonVariable = "FACTORCONV_PYTHON"

    /// Imports the package's command line, or says plainly why it cannot (exit 1).
    static let bootstrap = """
        import sys
        try:
            import factorconv.__main__ as command
        except ImportError as error:
            sys.stderr.write("factorconv: error: compress-model runs the factorconv Python package, "
                             "which %s cannot import (%s); install it (pip install . in this "
                             "repository) or set PYTHONPATH and FACTORCONV_LIB\\n" % (sys.executable, error))
            sys.exit(1)
        sys.exit(command.main(sys.argv[1:]))
        """

    @Argument(parsing: .captureForPassthrough,
              help: "The arguments of `python3 -m factorconv compress-model` (WEIGHTS -o BUNDLE ...).")
    var arguments: [String] = []

    func run() throws {
        let python = getenv(Self.pythonVariable).map { String(cString: $0) } ?? "python3"
        // A leading `--` only kept the tool's parser off the arguments (`compress-model -- --help`).
        let passed = arguments.first == "--" ? Array(arguments.dropFirst()) : arguments
        let argv = [python, "-c", Self.bootstrap, "compress-model"] + passed
        var cArguments: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) }
        cArguments.append(nil)
        execvp(python, &cArguments)
        // Only reached when the interpreter could not be started.
        let reason = String(cString: strerror(errno))
        throw ToolError(message: "compress-model runs `\(python) -m factorconv compress-model`, "
                        + "but \(python) cannot be started (\(reason)); install Python 3 with the "
                        + "factorconv package, or name the interpreter in $\(Self.pythonVariable)")
    }
}
