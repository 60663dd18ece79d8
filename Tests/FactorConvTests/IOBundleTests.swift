import Foundation
import Testing
import FactorConv

// Model bundles (LayerBundle): many named layers in one .safetensors file. A round trip gives
// layers identical to the originals (parameters, configuration, outputs bit for bit) in the
// saved order; hostile bundles (duplicate names, shared or missing tensors, overlapping bytes,
// truncation, wrong shapes, unknown versions, absurd counts) fail with .format.

/// Three small layers of different kinds under module-path names (dots, Unicode).
private func sampleLayers() throws -> [(name: String, layer: FactorizedConv)] {
    let grid = try FactorizedConv(inChannels: 3, outChannels: 4, kernelSize: [3, 3], bias: true, nLayers: [2],
                                  factorization: .cp, rank: .fraction(0.5), seed: 1)
    try grid.set(layer: [1], stride: [2, 1], padding: [1, 1], bias: [1, 2, 3, 4])
    let tucker = try FactorizedConv(inChannels: 4, outChannels: 2, kernelSize: [1, 3], padding: [0, 1], bias: true,
                                    factorization: .tucker, rank: .fraction(0.7), implementation: .reconstructed, seed: 2)
    let tt = try FactorizedConv(inChannels: 3, outChannels: 3, kernelSize: [2, 2], factorization: .tt, rank: .int(2), seed: 3)
    return [("backbone.layer1.0.conv1", grid), ("backbone.layer1.0.conv2", tucker), ("head.ü.conv", tt)]
}

/// The layers must be equal: configuration, state_dict and outputs, bit for bit.
private func expectSame(_ a: FactorizedConv, _ b: FactorizedConv, sourceLocation: SourceLocation = #_sourceLocation) throws {
    #expect(a.description == b.description, sourceLocation: sourceLocation)
    #expect(a.geometry == b.geometry && a.hasBias == b.hasBias && a.implementation == b.implementation, sourceLocation: sourceLocation)
    let da = a.stateDict(), db = b.stateDict()
    #expect(da.map(\.name) == db.map(\.name), sourceLocation: sourceLocation)
    for (x, y) in zip(da, db) { #expect(x.value == y.value, "\(x.name)", sourceLocation: sourceLocation) }
    let x = try ioRandomTensor([2, a.inChannels, 6, 5], seed: 9)
    for flat in 0..<a.layers.count {
        let layer = a.layers.isSingle ? [] : a.layers.indices(ofFlat: flat)
        #expect(try a.forward(x, layer: layer) == b.forward(x, layer: layer), sourceLocation: sourceLocation)
    }
}

/// A bundle file split into its header JSON and data bytes, to be altered and put back.
private struct BundleParts {
    var header: [(String, JSONValue)]
    var data: [UInt8]

    init(_ bytes: [UInt8]) throws {
        let length = bytes[0..<8].reversed().reduce(0) { $0 << 8 | Int($1) }
        guard case .object(let members) = try JSONValue.parse(bytes[8..<(8 + length)]) else { fatalError("not an object") }
        header = members
        data = Array(bytes[(8 + length)...])
    }

    /// The table of contents, parsed.
    var manifest: JSONValue {
        get {
            guard case .object(let meta) = header.first(where: { $0.0 == "__metadata__" })!.1,
                  case .string(let text) = meta.first(where: { $0.0 == LayerBundle.metadataKey })!.1 else { fatalError() }
            return try! JSONValue.parse(Array(text.utf8))
        }
        set { setMetadata(LayerBundle.metadataKey, newValue.serialized) }
    }

    mutating func setMetadata(_ key: String, _ value: String?) {
        let i = header.firstIndex { $0.0 == "__metadata__" }!
        guard case .object(var meta) = header[i].1 else { fatalError() }
        meta.removeAll { $0.0 == key }
        if let value { meta.append((key, .string(value))) }
        header[i].1 = .object(meta)
    }

    /// The manifest's `layers` array, altered by `body`.
    mutating func editLayers(_ body: (inout [JSONValue]) -> Void) {
        guard case .object(var top) = manifest, let i = top.firstIndex(where: { $0.0 == "layers" }),
              case .array(var layers) = top[i].1 else { fatalError() }
        body(&layers)
        top[i].1 = .array(layers)
        manifest = .object(top)
    }

    var bytes: [UInt8] { safetensorsBytes(header: JSONValue.object(header).serialized, data: data) }
}

/// Sets member `key` of a JSON object.
private func setting(_ value: JSONValue, _ key: String, _ new: JSONValue) -> JSONValue {
    guard case .object(var members) = value else { fatalError() }
    if let i = members.firstIndex(where: { $0.0 == key }) { members[i].1 = new } else { members.append((key, new)) }
    return .object(members)
}

/// Member `key` of a JSON object.
private func member(_ value: JSONValue, _ key: String) -> JSONValue { value[key]! }

@Suite("IO model bundles")
struct IOBundleTests {
    @Test("round trip through a file and through bytes: same order, identical layers")
    func roundTrip() throws {
        let scratch = try IOScratch()
        defer { scratch.cleanup() }
        let layers = try sampleLayers()
        let bundle = try LayerBundle(layers)
        let path = scratch.path("model.safetensors")
        try bundle.save(to: path)
        let bytes = try bundle.fileBytes()
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == Data(bytes))
        for loaded in [try LayerBundle.load(from: path), try LayerBundle.load(fileBytes: bytes)] {
            #expect(loaded.names == layers.map(\.name))
            for (name, layer) in layers { try expectSame(layer, try #require(loaded[name])) }
            // Saving what was loaded gives the same bytes.
            #expect(try loaded.fileBytes() == bytes)
        }
        // The tensors are named <name>.<state_dict key>, readable by any safetensors reader.
        let raw = try SafeTensors.read(from: path)
        #expect(raw.tensors.map(\.name).contains("backbone.layer1.0.conv1.weight.factors.factor_0"))
        #expect(raw.tensors.map(\.name).contains("backbone.layer1.0.conv2.bias"))
    }

    @Test("an empty bundle round-trips; the same layer may appear under two names")
    func emptyAndShared() throws {
        let empty = try LayerBundle([])
        #expect(try LayerBundle.load(fileBytes: empty.fileBytes()).count == 0)
        let conv = try sampleLayers()[2].layer
        let twice = try LayerBundle.load(fileBytes: LayerBundle([("a", conv), ("b", conv)]).fileBytes())
        try expectSame(conv, try #require(twice["a"]))
        try expectSame(conv, try #require(twice["b"]))
        #expect(twice["a"] !== twice["b"])
    }

    @Test("a copy is independent of its original")
    func copyIsIndependent() throws {
        let conv = try sampleLayers()[1].layer
        let copy = try conv.copy()
        try expectSame(conv, copy)
        let before = conv.stateDict()
        try copy.resetParameters(std: 0.5, seed: 99)
        let core = try #require(before.first { $0.name == "weight.core" }?.value)
        #expect(copy.stateDict().first { $0.name == "weight.core" }?.value != core)
        #expect(conv.stateDict().map(\.value) == before.map(\.value))
    }

    @Test("invalid and repeated names are refused when building a bundle")
    func names() throws {
        let conv = try sampleLayers()[2].layer
        for name in ["", "a\u{0}b", "tab\there", "new\nline", "del\u{7F}", "c1\u{85}", String(repeating: "x", count: LayerBundle.maxNameBytes + 1)] {
            expectIOError([.invalidArgument], "name \(String(reflecting: name.prefix(20)))") { _ = try LayerBundle([(name, conv)]) }
        }
        _ = try LayerBundle([(String(repeating: "é", count: LayerBundle.maxNameBytes / 2), conv), ("a b/c:d", conv)])
        expectIOError([.invalidArgument], "duplicate") { _ = try LayerBundle([("a", conv), ("b", conv), ("a", conv)]) }
    }

    @Test("single-layer files and bundles are each refused by the other's loader, saying what they are")
    func kinds() throws {
        let conv = try sampleLayers()[0].layer
        do {
            _ = try LayerBundle.load(fileBytes: try conv.fileBytes())
            Issue.record("a layer file opened as a bundle")
        } catch let e as FactorConvError {
            #expect(e.kind == .format && e.message.contains("single-layer file"), "\(e.message)")
        }
        do {
            _ = try FactorizedConv.load(fileBytes: try LayerBundle([("a", conv)]).fileBytes())
            Issue.record("a bundle opened as a layer file")
        } catch let e as FactorConvError {
            #expect(e.kind == .format && e.message.contains("model bundle"), "\(e.message)")
        }
        // A file claiming to be both is refused by both.
        var both = try BundleParts(try LayerBundle([("a", conv)]).fileBytes())
        both.setMetadata("factorconv", try SafeTensors.decode(try conv.fileBytes()).metadata["factorconv"])
        expectIOError([.format], "both keys, as a bundle") { _ = try LayerBundle.load(fileBytes: both.bytes) }
        expectIOError([.format], "both keys, as a layer") { _ = try FactorizedConv.load(fileBytes: both.bytes) }
    }

    @Test("hostile bundles fail with .format, naming the problem")
    func hostile() throws {
        let valid = try LayerBundle(try sampleLayers()).fileBytes()
        let parts = try BundleParts(valid)
        var cases: [(String, [UInt8], String)] = []
        func alter(_ what: String, _ expected: String, _ body: (inout BundleParts) -> Void) {
            var p = parts
            body(&p)
            cases.append((what, p.bytes, expected))
        }
        func layers(_ what: String, _ expected: String, _ body: @escaping (inout [JSONValue]) -> Void) {
            alter(what, expected) { $0.editLayers(body) }
        }
        layers("duplicate names", "used by an earlier layer") { l in l[1] = setting(l[1], "name", member(l[0], "name")) }
        layers("tensor claimed by two layers", "claimed by layers") { l in
            // The first layer renamed "backbone" may list tensors named "backbone.*", and lists
            // one of the second layer's: the ownership check, not the name check, refuses it.
            guard case .array(var t) = member(l[0], "tensors"), case .array(let second) = member(l[1], "tensors") else { fatalError() }
            t.append(second[0])
            l[0] = setting(setting(l[0], "tensors", .array(t)), "name", .string("backbone"))
        }
        layers("tensor claimed twice by one layer", "twice by layer") { l in
            guard case .array(let t) = member(l[2], "tensors") else { fatalError() }
            l[2] = setting(l[2], "tensors", .array(t + [t[0]]))
        }
        layers("missing tensor", "is missing from the file") { l in
            guard case .array(var t) = member(l[2], "tensors") else { fatalError() }
            t[0] = .string("head.ü.conv.weight.factors.factor_9")
            l[2] = setting(l[2], "tensors", .array(t))
        }
        layers("unlisted tensor", "belongs to no layer") { l in
            guard case .array(let t) = member(l[2], "tensors") else { fatalError() }
            l[2] = setting(l[2], "tensors", .array(Array(t.dropLast())))
        }
        layers("tensor outside the layer's names", "not the layer's name") { l in
            guard case .array(var t) = member(l[2], "tensors") else { fatalError() }
            t[0] = .string("head.weight.factors.factor_0")
            l[2] = setting(l[2], "tensors", .array(t))
        }
        layers("a layer dropped (its tensors unclaimed)", "belongs to no layer") { l in l.removeLast() }
        layers("wrong kernel size for the tensors", "layer 'head.ü.conv'") { l in
            l[2] = setting(l[2], "configuration", setting(member(l[2], "configuration"), "kernel_size", .array([.number(3), .number(2)])))
        }
        layers("wrong rank in the configuration", "rank") { l in
            l[2] = setting(l[2], "configuration", setting(member(l[2], "configuration"), "rank", .array([.number(1), .number(3), .number(2), .number(2), .number(1)])))
        }
        layers("configuration of another layer", "layer 'backbone.layer1.0.conv2'") { l in
            l[1] = setting(l[1], "configuration", member(l[2], "configuration"))
        }
        layers("empty name", "must not be empty") { l in l[0] = setting(l[0], "name", .string("")) }
        layers("control character in a name", "control character") { l in l[0] = setting(l[0], "name", .string("a\u{1B}b")) }
        layers("name too long", "bytes (at most") { l in
            l[0] = setting(l[0], "name", .string(String(repeating: "n", count: LayerBundle.maxNameBytes + 1)))
        }
        layers("name not a string", "must be a string") { l in l[0] = setting(l[0], "name", .number(3)) }
        layers("missing configuration", "has no \"configuration\"") { l in
            guard case .object(let m) = l[0] else { fatalError() }
            l[0] = .object(m.filter { $0.0 != "configuration" })
        }
        layers("too many tensors", "tensors (at most") { l in
            l[0] = setting(l[0], "tensors", .array(Array(repeating: .string("backbone.layer1.0.conv1.bias"), count: 65)))
        }
        layers("absurd layer count", "layers (at most") { l in
            l = Array(repeating: .null, count: LayerBundle.maxLayers + 1)
        }
        alter("format version 2", "format_version 2") { p in p.manifest = setting(p.manifest, "format_version", .number(2)) }
        alter("layers not an array", "must be a JSON array") { p in p.manifest = setting(p.manifest, "layers", .object([])) }
        alter("manifest not JSON", "not valid JSON") { p in p.setMetadata(LayerBundle.metadataKey, "{\"layers\": [") }
        alter("no manifest", "not a FactorConv model bundle") { p in p.setMetadata(LayerBundle.metadataKey, nil) }
        alter("NaN in a parameter", "NaN") { p in
            for i in 0..<4 { p.data[p.data.count - 4 + i] = [0x00, 0x00, 0xC0, 0x7F][i] }
        }
        alter("two tensors on the same bytes", "overlap") { p in
            // The last tensor's offsets moved onto the first one's bytes (same length).
            let names = p.header.map(\.0).filter { $0 != "__metadata__" }
            let first = p.header.first { $0.0 == names[0] }!.1
            let last = p.header.firstIndex { $0.0 == names.last! }!
            guard case .array(let a) = member(first, "data_offsets"), case .array(let b) = member(p.header[last].1, "data_offsets"),
                  case .number(let a0) = a[0], case .number(let b0) = b[0], case .number(let b1) = b[1] else { fatalError() }
            p.header[last].1 = setting(p.header[last].1, "data_offsets", .array([.number(a0), .number(a0 + b1 - b0)]))
            p.data.removeLast(Int(b1 - b0))
        }
        for (what, bytes, expected) in cases {
            do {
                _ = try LayerBundle.load(fileBytes: bytes)
                Issue.record("\(what): loaded")
            } catch let e as FactorConvError {
                #expect(e.kind == .format, "\(what): .\(e.kind) \(e.message)")
                #expect(e.message.contains(expected), "\(what): \(e.message)")
            }
        }
    }

    @Test("truncated bundles fail with .format at every cut, from a file and from bytes")
    func truncated() throws {
        let scratch = try IOScratch()
        defer { scratch.cleanup() }
        let bytes = try LayerBundle(try sampleLayers()).fileBytes()
        let step = max(1, bytes.count / 97)
        for cut in stride(from: 0, to: bytes.count, by: step) + [bytes.count - 1] {
            let prefix = Array(bytes.prefix(cut))
            expectIOError([.format], "bytes cut at \(cut)") { _ = try LayerBundle.load(fileBytes: prefix) }
        }
        let path = try scratch.write(Array(bytes.dropLast(5)), "cut.safetensors")
        expectIOError([.format], "file cut") { _ = try LayerBundle.load(from: path) }
        expectIOError([.io], "a directory") { _ = try LayerBundle.load(from: scratch.directory.path) }
    }

    @Test("saving is atomic: a failed save leaves the previous file")
    func atomicSave() throws {
        let scratch = try IOScratch()
        defer { scratch.cleanup() }
        let path = scratch.path("model.safetensors")
        let layers = try sampleLayers()
        try LayerBundle(Array(layers.prefix(1))).save(to: path)
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        expectIOError([.io], "a save into a missing directory") { try LayerBundle(layers).save(to: scratch.path("none/model.safetensors")) }
        expectIOError([.io], "a save over a directory") { try LayerBundle(layers).save(to: scratch.directory.path) }
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before)
        try LayerBundle(layers).save(to: path)
        #expect(try LayerBundle.load(from: path).names == layers.map(\.name))
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: scratch.directory.path).filter { $0.hasPrefix(".fconv-") }
        #expect(leftovers.isEmpty)
    }
}
