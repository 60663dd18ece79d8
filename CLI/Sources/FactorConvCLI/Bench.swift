import ArgumentParser
import FactorConv

/// `factorconv bench`: time a layer file's (or a bundle layer's) implementations on an input shape.
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Time a layer file's forward implementations on a random input of a given shape.",
        discussion: "Prints the median and minimum time per forward of each implementation the factorization has, and auto's choice.")

    @OptionGroup var source: LayerSelection

    @Option(name: .customLong("input-shape"), help: "The input shape, e.g. 8,64,56,56 (batch, in_channels, spatial...).")
    var inputShape: IntList

    @Option(help: "Timed repetitions per implementation.")
    var repeats: Int = 10

    mutating func validate() throws {
        guard repeats >= 1 && repeats <= 100_000 else { throw ValidationError("--repeats must be in 1...100000") }
    }

    func run() throws {
        let conv = try source.load()
        let index = source.index
        let shape = inputShape.values
        guard shape.allSatisfy({ $0 >= 1 }), let count = try? Checked.product(shape, "--input-shape"),
              count < 1 << 31 else {
            throw ToolError(message: "--input-shape \(shape) must have sizes >= 1 and fewer than 2^31 elements")
        }
        var state: UInt64 = 0x9E3779B97F4A7C15
        let x = try Tensor(shape: shape, scalars: (0..<count).map { _ -> Float in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(state >> 40) / Float(1 << 24) - 0.5
        })
        let outShape = try conv.outputShape(inputShape: shape, layer: index)
        print("\(conv.description)")
        print("input \(shape) -> output \(outShape), \(repeats) repeats")
        let clock = ContinuousClock()
        var timed = 0
        var lastError: FactorConvError?
        for implementation in Implementation.allCases {
            guard (try? conv.setImplementation(implementation)) != nil else { continue }
            do {
                _ = try conv.forward(x, layer: index)  // warm-up: caches derived weights and workspaces
            } catch let error as FactorConvError where error.kind == .invalidArgument || error.kind == .outOfMemory {
                // An implementation whose weights cannot be built (e.g. a dense kernel beyond 64-bit
                // sizes or the memory limit) is reported and the others are still timed.
                print("  \(implementation.rawValue.padding(14))  cannot run: \(error.message)")
                lastError = error
                continue
            }
            timed += 1
            var times: [Double] = []
            for _ in 0..<repeats {
                let start = clock.now
                _ = try conv.forward(x, layer: index)
                times.append(seconds(clock.now - start))
            }
            times.sort()
            var line = "  \(implementation.rawValue.padding(14))  median \(fixed(times[times.count / 2] * 1e3, 3)) ms  min \(fixed(times[0] * 1e3, 3)) ms"
            if implementation == .auto {
                line += "  (chose \(try conv.chosenImplementation(inputShape: shape, layer: index)))"
            }
            print(line)
        }
        if timed == 0, let lastError { throw lastError }
    }
}

private extension String {
    func padding(_ width: Int) -> String { count >= width ? self : self + String(repeating: " ", count: width - count) }
}
