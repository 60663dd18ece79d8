import Foundation
import Testing
import FactorConv

// Shared helpers of the IO tests: temporary files and error expectations.

/// A fresh temporary directory for one test, removed by `cleanup()`.
struct IOScratch {
    let directory: URL

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("factorconv-io-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    /// A path inside the directory.
    func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    /// Writes raw bytes to `name` and returns its path.
    func write(_ bytes: [UInt8], _ name: String) throws -> String {
        let p = path(name)
        try Data(bytes).write(to: URL(fileURLWithPath: p))
        return p
    }

    func cleanup() { try? FileManager.default.removeItem(at: directory) }
}

/// Checks that `body` throws a `FactorConvError` of one of `kinds` with a non-empty message.
func expectIOError(_ kinds: Set<FactorConvError.Kind>, _ what: String,
                   sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void) {
    do {
        try body()
        Issue.record("\(what): expected one of \(kinds), nothing was thrown", sourceLocation: sourceLocation)
    } catch let error as FactorConvError {
        #expect(kinds.contains(error.kind), "\(what): got .\(error.kind): \(error.message)", sourceLocation: sourceLocation)
        #expect(!error.message.isEmpty, sourceLocation: sourceLocation)
    } catch {
        Issue.record("\(what): unexpected error \(error)", sourceLocation: sourceLocation)
    }
}

/// A safetensors file from a header text and data bytes (header length prefix added).
func safetensorsBytes(header: String, data: [UInt8], lengthOverride: UInt64? = nil) -> [UInt8] {
    let h = Array(header.utf8)
    var n = lengthOverride ?? UInt64(h.count)
    var out = [UInt8]()
    for _ in 0..<8 { out.append(UInt8(n & 0xFF)); n >>= 8 }
    return out + h + data
}

/// Deterministic pseudo-random floats.
func ioRandomTensor(_ shape: [Int], seed: UInt64) throws -> Tensor<Float> {
    var state = seed &* 6364136223846793005 &+ 1442695040888963407
    let count = shape.reduce(1, *)
    let values = (0..<count).map { _ -> Float in
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return Float(Int64(bitPattern: state >> 11) % 2001 - 1000) / 1000
    }
    return try Tensor(shape: shape, scalars: values)
}
