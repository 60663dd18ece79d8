import Foundation
import FactorConvNumerics

/// The golden vectors produced by real tltorch (`Tests/Fixtures/golden`, see its README.md):
/// `manifest.json` describes the cases, `tensors.bin` holds every array (little-endian, C order).
public struct GoldenManifest: @unchecked Sendable {
    /// Every case, in manifest order.
    public let cases: [GoldenCase]
    /// The whole manifest as parsed JSON, for fields not modelled here (versions, known_failures, …).
    /// Immutable after loading (hence the unchecked Sendable).
    public let raw: [String: Any]

    /// The fixtures directory, found relative to this source file.
    public static var directory: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Fixtures/golden")
    }

    /// The manifest loaded once per test process.
    public static let shared: GoldenManifest = {
        do { return try GoldenManifest(directory: directory) } catch { fatalError("cannot load golden fixtures: \(error)") }
    }()

    /// Loads `manifest.json` and `tensors.bin` from `directory`.
    /// - Throws: `GoldenError` when a file is missing or malformed.
    public init(directory: URL) throws {
        let manifestData = try Data(contentsOf: directory.appendingPathComponent("manifest.json"))
        let blob = try Data(contentsOf: directory.appendingPathComponent("tensors.bin"))
        guard let json = try JSONSerialization.jsonObject(with: manifestData) as? [String: Any],
              let list = json["cases"] as? [[String: Any]] else {
            throw GoldenError("manifest.json has no 'cases' list")
        }
        raw = json
        cases = try list.map { try GoldenCase(json: $0, blob: blob) }
    }

    /// The case called `name`.
    public func named(_ name: String) throws -> GoldenCase {
        guard let c = cases.first(where: { $0.name == name }) else { throw GoldenError("no golden case named \(name)") }
        return c
    }

    /// The cases of one `kind` ("single", "multi", "from_conv", "transduct").
    public func cases(kind: String) -> [GoldenCase] { cases.filter { $0.kind == kind } }
}

/// A failure to read the golden fixtures.
public struct GoldenError: Error, CustomStringConvertible {
    /// What went wrong.
    public let description: String
    /// Creates an error with a message.
    public init(_ description: String) { self.description = description }
}
