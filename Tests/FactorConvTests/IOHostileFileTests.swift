import Foundation
import Testing
import FactorConv

// The loader against truncated, corrupted and hostile files: each must fail with a clear
// .format / .io / .outOfMemory error — never a crash, never a huge allocation.

private let f32x4 = [UInt8](repeating: 0, count: 16)
private let validMeta = #"{"format_version":1,"library_version":"\#(FactorizedConv.libraryVersion)","factorization":"dense","in_channels":1,"out_channels":1,"kernel_size":[4],"rank":[],"n_layers":[],"stride":[[1]],"padding":[[0]],"dilation":[[1]],"has_bias":[false],"implementation":"reconstructed"}"#

/// A header with one 4-float tensor named weight.tensor plus `metadata` (JSON-escaped).
private func denseHeader(metadata: String?, tensor: String = #""dtype":"F32","shape":[1,1,4],"data_offsets":[0,16]"#) -> String {
    var members = [#""weight.tensor":{\#(tensor)}"#]
    if let metadata { members.insert(#""__metadata__":{"factorconv":\#(jsonString(metadata))}"#, at: 0) }
    return "{" + members.joined(separator: ",") + "}"
}

private func jsonString(_ s: String) -> String { JSONValue.string(s).serialized }

/// The metadata with one field replaced by raw JSON text.
private func meta(_ key: String, _ raw: String) -> String {
    var value = try! JSONValue.parse(Array(validMeta.utf8))
    guard case .object(var members) = value else { fatalError() }
    if let i = members.firstIndex(where: { $0.0 == key }) {
        if raw.isEmpty { members.remove(at: i) } else { members[i].1 = try! JSONValue.parse(Array(raw.utf8)) }
    }
    value = .object(members)
    return value.serialized
}

/// (name, bytes, accepted error kinds)
private let hostileCases: [(String, [UInt8], Set<FactorConvError.Kind>)] = {
    let valid = safetensorsBytes(header: denseHeader(metadata: validMeta), data: f32x4)
    var cases: [(String, [UInt8], Set<FactorConvError.Kind>)] = [
        ("empty file", [], [.format]),
        ("7 bytes", [1, 0, 0, 0, 0, 0, 0], [.format]),
        ("truncated header", Array(valid.prefix(40)), [.format]),
        ("truncated data", Array(valid.dropLast(3)), [.format]),
        ("trailing bytes", valid + [0, 0, 0, 0], [.format]),
        ("header length > file", safetensorsBytes(header: denseHeader(metadata: validMeta), data: f32x4, lengthOverride: 1 << 20), [.format]),
        ("header length 2^63", safetensorsBytes(header: "{}", data: [], lengthOverride: 1 << 63), [.format]),
        ("header length > 100 MB", safetensorsBytes(header: "{}", data: [], lengthOverride: 200_000_000), [.format]),
        ("bad JSON", safetensorsBytes(header: "{\"a\": [1, 2", data: []), [.format]),
        ("JSON not an object", safetensorsBytes(header: "[1]", data: []), [.format]),
        ("deep nesting", safetensorsBytes(header: String(repeating: "[", count: 100_000), data: []), [.format]),
        ("invalid UTF-8", safetensorsBytes(header: "{\"\u{FFFD}\":1}", data: []).map { $0 == 0xEF ? 0xFF : $0 }, [.format]),
        ("duplicate key", safetensorsBytes(header: #"{"a":{"dtype":"F32","shape":[],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0]), [.format]),
        ("unknown dtype", safetensorsBytes(header: denseHeader(metadata: validMeta, tensor: #""dtype":"I64","shape":[1,1,2],"data_offsets":[0,16]"#), data: f32x4), [.format]),
        ("dtype not a string", safetensorsBytes(header: denseHeader(metadata: validMeta, tensor: #""dtype":4,"shape":[1,1,4],"data_offsets":[0,16]"#), data: f32x4), [.format]),
        ("missing shape", safetensorsBytes(header: denseHeader(metadata: validMeta, tensor: #""dtype":"F32","data_offsets":[0,16]"#), data: f32x4), [.format]),
        ("negative shape", safetensorsBytes(header: denseHeader(metadata: validMeta, tensor: #""dtype":"F32","shape":[-1,1,4],"data_offsets":[0,16]"#), data: f32x4), [.format]),
        ("fractional shape", safetensorsBytes(header: denseHeader(metadata: validMeta, tensor: #""dtype":"F32","shape":[1.5,1,4],"data_offsets":[0,16]"#), data: f32x4), [.format]),
        ("offsets out of range", safetensorsBytes(header: denseHeader(metadata: validMeta, tensor: #""dtype":"F32","shape":[1,1,4],"data_offsets":[0,1600]"#), data: f32x4), [.format]),
        ("end < begin", safetensorsBytes(header: denseHeader(metadata: validMeta, tensor: #""dtype":"F32","shape":[1,1,4],"data_offsets":[16,0]"#), data: f32x4), [.format]),
        ("offsets huge", safetensorsBytes(header: denseHeader(metadata: validMeta, tensor: #""dtype":"F32","shape":[1,1,4],"data_offsets":[18446744073709551600,18446744073709551615]"#), data: f32x4), [.format]),
        ("three offsets", safetensorsBytes(header: denseHeader(metadata: validMeta, tensor: #""dtype":"F32","shape":[1,1,4],"data_offsets":[0,8,16]"#), data: f32x4), [.format]),
        ("shape product != byte length", safetensorsBytes(header: denseHeader(metadata: validMeta, tensor: #""dtype":"F32","shape":[1,1,3],"data_offsets":[0,16]"#), data: f32x4), [.format]),
        ("huge claimed shape 2^62", safetensorsBytes(header: denseHeader(metadata: validMeta, tensor: #""dtype":"F32","shape":[4611686018427387904,1,4],"data_offsets":[0,16]"#), data: f32x4), [.format]),
        ("shape product overflows", safetensorsBytes(header: denseHeader(metadata: validMeta, tensor: #""dtype":"F32","shape":[4294967296,4294967296,0],"data_offsets":[0,0]"#), data: []), [.format]),
        ("overlapping tensors", safetensorsBytes(header: #"{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}"#, data: f32x4), [.format]),
        ("gap between tensors", safetensorsBytes(header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[12,16]}}"#, data: f32x4), [.format]),
        ("missing metadata", safetensorsBytes(header: denseHeader(metadata: nil), data: f32x4), [.format]),
        ("metadata not JSON", safetensorsBytes(header: denseHeader(metadata: "{nope"), data: f32x4), [.format]),
        ("metadata value not a string", safetensorsBytes(header: #"{"__metadata__":{"factorconv":{"a":1}},"weight.tensor":{"dtype":"F32","shape":[1,1,4],"data_offsets":[0,16]}}"#, data: f32x4), [.format]),
        ("NaN weights", safetensorsBytes(header: denseHeader(metadata: validMeta), data: [0, 0, 0xC0, 0x7F] + [UInt8](repeating: 0, count: 12)), [.format]),
        ("unknown tensor name", safetensorsBytes(header: #"{"__metadata__":{"factorconv":\#(jsonString(validMeta))},"weight.tensor":{"dtype":"F32","shape":[1,1,4],"data_offsets":[0,16]},"weight.extra":{"dtype":"F32","shape":[],"data_offsets":[16,20]}}"#, data: f32x4 + [0, 0, 0, 0]), [.format]),
        ("bias tensor of wrong shape", safetensorsBytes(header: #"{"__metadata__":{"factorconv":\#(jsonString(meta("has_bias", "[true]")))},"bias":{"dtype":"F32","shape":[2],"data_offsets":[16,24]},"weight.tensor":{"dtype":"F32","shape":[1,1,4],"data_offsets":[0,16]}}"#, data: f32x4 + [UInt8](repeating: 0, count: 8)), [.format]),
        ("has_bias without a bias tensor", safetensorsBytes(header: denseHeader(metadata: meta("has_bias", "[true]")), data: f32x4), [.format]),
        ("tensor shape disagrees with kernel_size", safetensorsBytes(header: denseHeader(metadata: meta("kernel_size", "[2]")), data: f32x4), [.format]),
    ]
    // Wrong metadata types and values, one field at a time.
    let fieldCases: [(String, String)] = [
        ("format_version", "2"), ("format_version", "\"1\""), ("format_version", ""),
        ("factorization", "\"svd\""), ("factorization", "3"), ("factorization", ""),
        ("in_channels", "0"), ("in_channels", "-3"), ("in_channels", "1e300"), ("in_channels", "\"1\""),
        ("kernel_size", "[]"), ("kernel_size", "4"), ("kernel_size", "[0]"),
        ("rank", "[3]"), ("rank", "\"same\""),
        ("n_layers", "[0]"), ("n_layers", "[2]"), ("n_layers", "[4294967296, 4294967296]"),
        ("stride", "[[0]]"), ("stride", "[[1, 1]]"), ("stride", "[]"), ("stride", "[1]"),
        ("padding", "[[-1]]"), ("dilation", "[[null]]"),
        ("has_bias", "[1]"), ("has_bias", "[]"), ("has_bias", "true"),
        ("implementation", "\"factorized\""), ("implementation", "\"fast\""), ("implementation", "null"),
        ("library_version", "1"),
    ]
    for (key, raw) in fieldCases {
        cases.append(("metadata \(key) = \(raw.isEmpty ? "<missing>" : raw)",
                      safetensorsBytes(header: denseHeader(metadata: meta(key, raw)), data: f32x4), [.format]))
    }
    return cases
}()

@Suite("IO hostile files")
struct IOHostileFileTests {
    @Test("the valid base file of the table loads")
    func baseLoads() throws {
        let scratch = try IOScratch()
        defer { scratch.cleanup() }
        let conv = try FactorizedConv.load(from: scratch.write(safetensorsBytes(header: denseHeader(metadata: validMeta), data: f32x4), "ok.safetensors"))
        #expect(conv.factorization == .dense && conv.kernelSize == [4])
    }

    @Test("each hostile file fails with a clear error", arguments: hostileCases.indices)
    func hostile(index: Int) throws {
        let (name, bytes, kinds) = hostileCases[index]
        let scratch = try IOScratch()
        defer { scratch.cleanup() }
        let path = try scratch.write(bytes, "hostile.safetensors")
        expectIOError(kinds, name) { _ = try FactorizedConv.load(from: path) }
    }

    @Test("missing file, directory and empty path are .io errors")
    func ioErrors() throws {
        let scratch = try IOScratch()
        defer { scratch.cleanup() }
        expectIOError([.io], "missing") { _ = try FactorizedConv.load(from: scratch.path("none.safetensors")) }
        expectIOError([.io], "directory") { _ = try FactorizedConv.load(from: scratch.directory.path) }
        expectIOError([.io], "empty path") { _ = try FactorizedConv.load(from: "") }
    }

    @Test("every truncation of a valid layer file fails cleanly")
    func everyTruncation() throws {
        let scratch = try IOScratch()
        defer { scratch.cleanup() }
        let conv = try FactorizedConv(inChannels: 2, outChannels: 3, kernelSize: [2], bias: true, factorization: .tt, rank: .int(2))
        let path = scratch.path("tt.safetensors")
        try conv.save(to: path)
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        for n in 0..<bytes.count {
            let p = try scratch.write(Array(bytes.prefix(n)), "t.safetensors")
            expectIOError([.format], "truncated to \(n) bytes") { _ = try FactorizedConv.load(from: p) }
        }
    }
}
