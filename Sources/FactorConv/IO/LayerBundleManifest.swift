/// The table of contents of a model bundle, stored as JSON under the "factorconv_bundle" key of
/// its `__metadata__`:
///
///     {"format_version": 1, "library_version": "0.1.0",
///      "layers": [{"name": "backbone.conv1", "configuration": {...}, "tensors": ["backbone.conv1.weight.weights", ...]},
///                 ...]}
///
/// `configuration` is a layer file's configuration object (`LayerFileConfiguration`), and
/// `tensors` lists the file's tensors that hold the layer's parameters, each named
/// `<name>.<state_dict key>`. The names come from this list, never from splitting tensor names at
/// dots, so a layer name may itself contain dots (a module path).
struct LayerBundleManifest {
    /// Bumped when the layout of this table changes incompatibly.
    static let formatVersion = 1
    /// The most tensors one layer lists: a layer has at most 16 spatial modes, 2 channel modes
    /// and 8 grid modes of factors, plus CP weights or a Tucker core, plus the bias.
    static let maxTensorsPerLayer = 64

    /// One layer of the bundle.
    struct Entry {
        /// The layer's name (`LayerBundle.checkName` holds).
        var name: String
        var configuration: LayerFileConfiguration
        /// The file's tensor names of the layer's parameters, each `"<name>.<state_dict key>"`.
        var tensors: [String]

        /// The state_dict key of one of `tensors` (what follows `"<name>."`).
        func key(of tensor: String) -> String { String(decoding: tensor.utf8.dropFirst(name.utf8.count + 1), as: UTF8.self) }
    }

    /// The layers in file order.
    var entries: [Entry]

    init(entries: [Entry]) { self.entries = entries }

    /// The JSON text stored in the metadata.
    var json: String {
        JSONValue.object([
            ("format_version", .number(Double(Self.formatVersion))),
            ("library_version", .string(LayerFileConfiguration.libraryVersion)),
            ("layers", .array(entries.map { entry in
                .object([
                    ("name", .string(entry.name)),
                    ("configuration", entry.configuration.jsonValue),
                    ("tensors", .array(entry.tensors.map { .string($0) })),
                ])
            })),
        ]).serialized
    }

    /// Parses and validates the metadata JSON: the format version, the number of layers, every
    /// name (valid and unique), every layer's configuration, and the tensor lists (at most
    /// `maxTensorsPerLayer`, each name `"<layer name>.<key>"`). Whether the listed tensors exist
    /// and belong to one layer each is checked against the file by `LayerBundle`.
    /// - Throws: `.format` naming the field and the layer.
    init(json text: String) throws {
        let what = "metadata \"\(LayerBundle.metadataKey)\""
        let value: JSONValue
        do { value = try JSONValue.parse(Array(text.utf8)) } catch let e as FactorConvError {
            throw FactorConvError(.format, "\(what) is not valid JSON (\(e.message))")
        }
        let version = try value.member("format_version", of: what).intValue("\(what) format_version", in: 0...1_000_000)
        guard version == Self.formatVersion else {
            throw FactorConvError(.format, "\(what) has format_version \(version); this library reads version \(Self.formatVersion)")
        }
        _ = try value.member("library_version", of: what).stringValue("\(what) library_version")
        let items = try value.member("layers", of: what).arrayItems("\(what) layers")
        guard items.count <= LayerBundle.maxLayers else {
            throw FactorConvError(.format, "\(what) lists \(items.count) layers (at most \(LayerBundle.maxLayers))")
        }
        var seen = Set<String>()
        entries = try items.enumerated().map { i, item in
            let place = "\(what) layers[\(i)]"
            let name = try item.member("name", of: place).stringValue("\(place) name")
            do { try LayerBundle.checkName(name) } catch let e as FactorConvError {
                throw FactorConvError(.format, "\(place) name: \(e.message)")
            }
            guard seen.insert(name).inserted else {
                throw FactorConvError(.format, "\(place): the name '\(name)' is used by an earlier layer (names must be unique)")
            }
            let layer = "\(what) layer '\(name)'"
            let configuration = try LayerFileConfiguration(value: try item.member("configuration", of: layer), what: "\(layer) configuration")
            let list = try item.member("tensors", of: layer).arrayItems("\(layer) tensors")
            guard list.count <= Self.maxTensorsPerLayer else {
                throw FactorConvError(.format, "\(layer) lists \(list.count) tensors (at most \(Self.maxTensorsPerLayer))")
            }
            let prefix = name + "."
            let tensors = try list.enumerated().map { j, t in
                let tensor = try t.stringValue("\(layer) tensors[\(j)]")
                guard tensor.utf8.count > prefix.utf8.count, tensor.utf8.starts(with: prefix.utf8) else {
                    throw FactorConvError(.format, "\(layer) tensors[\(j)] is '\(tensor)', which is not the layer's name followed by '.' and a parameter name")
                }
                return tensor
            }
            return Entry(name: name, configuration: configuration, tensors: tensors)
        }
    }
}
