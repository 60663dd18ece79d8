/// A model bundle: many named layers in one `.safetensors` file, e.g. every factorized
/// convolution of a network under its module path (`backbone.layer1.0.conv1`).
///
/// The file holds each layer's parameters as tensors named `<name>.<state_dict key>`
/// (`backbone.layer1.0.conv1.weight.factors.factor_0`) and, under the "factorconv_bundle" key of
/// `__metadata__`, a JSON table of contents: a format version and the ordered list of layers, each
/// with its name, its configuration (the JSON object a single-layer file stores under
/// "factorconv") and the names of its tensors (`LayerBundleManifest`). Reading never splits a
/// tensor name at dots: the table says which tensors are whose.
///
/// A single-layer file (`FactorizedConv.save`) is not a bundle and is refused by the bundle
/// loaders with a `.format` error that says so (its layer has no name to give); a bundle given to
/// `FactorizedConv.load` is refused in the same way.
///
/// Layer names are non-empty UTF-8 of at most `maxNameBytes` bytes with no control characters,
/// unique within a bundle (compared as Swift strings: canonically equivalent spellings are one
/// name).
public struct LayerBundle: Sendable {
    /// The metadata key of the bundle's table of contents.
    public static let metadataKey = "factorconv_bundle"
    /// The longest layer name, in UTF-8 bytes.
    public static let maxNameBytes = 1024
    /// The most layers one bundle may hold.
    public static let maxLayers = 100_000

    /// The layers in order, each under its name.
    public let layers: [(name: String, layer: FactorizedConv)]
    /// Name → position in `layers`.
    private let positions: [String: Int]

    /// A bundle of `layers` in the given order. The layers are held, not copied: a later change
    /// to one is what a later save writes.
    /// - Throws: `.invalidArgument` for an invalid or repeated name, or more than `maxLayers`
    ///   layers.
    public init(_ layers: [(name: String, layer: FactorizedConv)]) throws {
        guard layers.count <= Self.maxLayers else {
            throw FactorConvError.invalid("a bundle holds at most \(Self.maxLayers) layers, not \(layers.count)")
        }
        var positions: [String: Int] = [:]
        for (i, entry) in layers.enumerated() {
            try Self.checkName(entry.name)
            guard positions.updateValue(i, forKey: entry.name) == nil else {
                throw FactorConvError.invalid("the layer name '\(entry.name)' is given twice (names must be unique)")
            }
        }
        self.layers = layers
        self.positions = positions
    }

    /// The layer names in order.
    public var names: [String] { layers.map(\.name) }

    /// The number of layers.
    public var count: Int { layers.count }

    /// The layer named `name`, if any.
    public subscript(name: String) -> FactorizedConv? { positions[name].map { layers[$0].layer } }

    /// Throws unless `name` can name a layer of a bundle: non-empty, at most `maxNameBytes`
    /// UTF-8 bytes, and free of control characters (U+0000–U+001F, U+007F–U+009F).
    /// - Throws: `.invalidArgument` saying what is wrong.
    public static func checkName(_ name: String) throws {
        guard !name.isEmpty else { throw FactorConvError.invalid("a layer name must not be empty") }
        guard name.utf8.count <= maxNameBytes else {
            throw FactorConvError.invalid("the layer name '\(name.prefix(40))...' has \(name.utf8.count) bytes (at most \(maxNameBytes))")
        }
        if let bad = name.unicodeScalars.first(where: { $0.properties.generalCategory == .control }) {
            throw FactorConvError.invalid("the layer name \(String(reflecting: name)) contains the control character U+\(String(bad.value, radix: 16, uppercase: true))")
        }
    }

    // MARK: - Saving

    /// Saves the bundle to `path`, atomically, as `FactorizedConv.save(to:)` does: a temporary
    /// file in the same directory renamed over `path`, so a failure leaves whatever was there.
    /// Each layer is saved from one consistent snapshot of its parameters.
    /// - Throws: `.io` when the file cannot be written or `path` is not a regular file.
    public func save(to path: String) throws {
        try fileContents().write(to: path)
    }

    /// The bytes `save(to:)` writes.
    public func fileBytes() throws -> [UInt8] {
        try fileContents().encoded()
    }

    /// The file: every layer's tensors under `<name>.<key>`, and the table of contents.
    func fileContents() -> SafeTensors {
        var tensors: [(name: String, value: Tensor<Float>)] = []
        var entries: [LayerBundleManifest.Entry] = []
        for (name, layer) in layers {
            let s = layer.snapshot
            let own = FactorizedConv.fileTensors(s).map { (name: name + "." + $0.name, value: $0.value) }
            entries.append(.init(name: name, configuration: LayerFileConfiguration(layer, state: s), tensors: own.map(\.name)))
            tensors += own
        }
        return SafeTensors(tensors: tensors, metadata: [Self.metadataKey: LayerBundleManifest(entries: entries).json])
    }

    // MARK: - Loading

    /// Opens a bundle saved by `save(to:)`. Everything is checked before a layer is built: the
    /// safetensors structure (offsets inside the file, no overlapping or unclaimed bytes), the
    /// table of contents (format version, counts, names unique and valid), that every listed
    /// tensor exists and belongs to exactly one layer and every tensor to some layer, then each
    /// layer's tensors against its configuration as `FactorizedConv.load(from:)` does.
    /// - Throws: `.io` (cannot read, or not a regular file), `.format` (malformed or inconsistent,
    ///   naming the layer and what), `.outOfMemory` (data beyond `FileLimits.maxBytes` or the
    ///   memory limit).
    public static func load(from path: String) throws -> LayerBundle {
        let file = try SafeTensors.read(from: path)
        do {
            return try make(from: file)
        } catch let e as FactorConvError where e.kind != .outOfMemory && e.kind != .io {
            throw FactorConvError(.format, "'\(path)': \(e.message)")
        }
    }

    /// A bundle from the bytes of a bundle file (`fileBytes()`, or a file's contents), with the
    /// checks of `load(from:)`.
    /// - Throws: `.format`, `.outOfMemory`.
    public static func load(fileBytes bytes: [UInt8]) throws -> LayerBundle {
        let file = try SafeTensors.decode(bytes)
        do {
            return try make(from: file)
        } catch let e as FactorConvError where e.kind != .outOfMemory {
            throw FactorConvError(.format, "bundle bytes: \(e.message)")
        }
    }

    /// Builds the bundle from a parsed file (errors are mapped to `.format` by the callers).
    static func make(from file: SafeTensors) throws -> LayerBundle {
        guard let text = file.metadata[metadataKey] else {
            if file.metadata[LayerFileConfiguration.metadataKey] != nil {
                throw FactorConvError(.format, "it is a single-layer file (\"\(LayerFileConfiguration.metadataKey)\" metadata), not a model bundle: load it as one layer (FactorizedConv.load, fconv_conv_load, fc.FactorizedConv.load)")
            }
            throw FactorConvError(.format, "no \"\(metadataKey)\" entry in __metadata__: not a FactorConv model bundle")
        }
        if file.metadata[LayerFileConfiguration.metadataKey] != nil {
            throw FactorConvError(.format, "__metadata__ has both \"\(LayerFileConfiguration.metadataKey)\" and \"\(metadataKey)\": a file is a single layer or a bundle, not both")
        }
        let manifest = try LayerBundleManifest(json: text)
        let values = Dictionary(file.tensors.map { ($0.name, $0.value) }, uniquingKeysWith: { first, _ in first })
        // Every listed tensor exists and is listed once in the whole bundle, and every tensor of
        // the file is listed: no two layers share parameters, and no bytes go unexplained.
        var owner: [String: String] = [:]
        for entry in manifest.entries {
            for tensor in entry.tensors {
                if let other = owner.updateValue(entry.name, forKey: tensor) {
                    let who = other == entry.name ? "twice by layer '\(other)'" : "by layers '\(other)' and '\(entry.name)'"
                    throw FactorConvError(.format, "tensor '\(tensor)' is claimed \(who) (each tensor belongs to one layer)")
                }
                guard values[tensor] != nil else {
                    throw FactorConvError(.format, "layer '\(entry.name)': tensor '\(tensor)' is missing from the file")
                }
            }
        }
        if let stray = file.tensors.first(where: { owner[$0.name] == nil }) {
            throw FactorConvError(.format, "tensor '\(stray.name)' belongs to no layer of the bundle's table of contents")
        }
        var layers: [(name: String, layer: FactorizedConv)] = []
        layers.reserveCapacity(manifest.entries.count)
        for entry in manifest.entries {
            let tensors = entry.tensors.map { (name: entry.key(of: $0), value: values[$0]!) }
            do {
                layers.append((entry.name, try FactorizedConv.make(entry.configuration, tensors: tensors)))
            } catch let e as FactorConvError where e.kind != .outOfMemory {
                throw FactorConvError(.format, "layer '\(entry.name)': \(e.message)")
            }
        }
        return try LayerBundle(layers)
    }
}
