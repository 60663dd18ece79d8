import ArgumentParser
import FactorConv
#if canImport(Glibc)
import Glibc
#endif

/// The `factorconv` command: compress a dense convolution kernel into a factorized layer file,
/// describe it, run it and time it.
///
/// Exit codes (stable, for scripts): 0 success; 1 a FactorConv error (bad file, shape mismatch,
/// I/O, ...), reported on stderr as `factorconv: error: <message>`; 2 a usage error (unknown
/// option, missing or invalid argument), reported the same way and followed by the usage.
@main
struct FactorConvTool: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "factorconv",
        abstract: "Compress, inspect, run and time factorized convolution layers (.safetensors layer files).",
        discussion: """
            A layer file is a .safetensors file holding the layer's parameters under tltorch's \
            state_dict names and its configuration as JSON in __metadata__["factorconv"]. Files \
            load in Swift (FactorizedConv.load), C (fconv_conv_load) and Python \
            (factorconv.FactorizedConv.load). A model bundle holds many named layers in one \
            .safetensors file (factorconv.save_layers, fconv_bundle_save): info lists its \
            layers and run takes one with --layer-name.

            Exit status: 0 on success, 1 on a FactorConv error, 2 on a usage error; either error \
            is printed on stderr as "factorconv: error: <message>".
            """,
        version: FactorizedConv.libraryVersion,
        subcommands: [Compress.self, CompressModel.self, Info.self, Run.self, Bench.self, Completion.self])

    /// Parses the arguments, runs the subcommand and maps every failure to the documented exit
    /// code. Every error, usage or runtime, is printed in one style: `factorconv: error: <message>`
    /// on stderr (a usage error followed by the usage and where to find help).
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch let error as FactorConvError {
            printError(error.message)
            Glibc.exit(1)
        } catch let error as ToolError {
            printError(error.message)
            Glibc.exit(1)
        } catch {
            if exitCode(for: error) == .success {
                print(fullMessage(for: error))
                Glibc.exit(0)
            }
            writeStderr(usageErrorText(fullMessage(for: error)))
            Glibc.exit(2)
        }
    }

    /// Writes `factorconv: error: <message>` to stderr.
    static func printError(_ message: String) {
        writeStderr("factorconv: error: \(message)\n")
    }

    /// ArgumentParser's text for a usage error ("Error: <message>", then the usage) in the
    /// tool's error style: its first line becomes `factorconv: error: <message>`.
    static func usageErrorText(_ text: String) -> String {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if let first = lines.first {
            lines[0] = "factorconv: error: " + (first.hasPrefix("Error: ") ? String(first.dropFirst(7)) : first)
        }
        return lines.joined(separator: "\n") + "\n"
    }
}

/// A failure of the tool itself (not of the library), reported with exit code 1.
struct ToolError: Error {
    /// What went wrong.
    let message: String
}
