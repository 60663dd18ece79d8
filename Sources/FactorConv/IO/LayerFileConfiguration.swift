/// The configuration of a layer stored as JSON under the "factorconv" key of a safetensors
/// file's `__metadata__`: everything the tensors alone do not say. A model bundle
/// (`LayerBundle`) stores the same JSON object once per layer inside its own metadata entry.
struct LayerFileConfiguration: Equatable {
    /// Bumped when the layout of this configuration changes incompatibly.
    static let formatVersion = 1
    /// The metadata key.
    static let metadataKey = "factorconv"
    /// The version of the library that writes files.
    static let libraryVersion = FactorizedConv.libraryVersion

    var factorization: Factorization
    var inChannels: Int
    var outChannels: Int
    var kernelSize: [Int]
    /// The rank as a list (`TensorRank.values`): CP `[R]`, Tucker/TT per mode, Dense `[]`.
    var rank: [Int]
    /// The layer grid (`[]` for a single convolution).
    var nLayers: [Int]
    /// Per flat layer.
    var geometry: [ConvGeometry]
    /// Per flat layer.
    var hasBias: [Bool]
    var implementation: Implementation

    /// The configuration of `conv` in state `s` (one snapshot, the one whose tensors are saved).
    init(_ conv: FactorizedConv, state s: FactorizedConv.State) {
        factorization = conv.factorization
        inChannels = conv.inChannels
        outChannels = conv.outChannels
        kernelSize = s.kernelSize
        rank = s.weight.rank.values
        nLayers = conv.layers.shape
        geometry = s.geometry
        hasBias = s.hasBias
        implementation = s.implementation
    }

    /// The JSON text stored in the metadata.
    var json: String { jsonValue.serialized }

    /// The configuration as a JSON object.
    var jsonValue: JSONValue {
        func ints(_ v: [Int]) -> JSONValue { .array(v.map { .number(Double($0)) }) }
        return JSONValue.object([
            ("format_version", .number(Double(Self.formatVersion))),
            ("library_version", .string(Self.libraryVersion)),
            ("factorization", .string(factorization.rawValue)),
            ("in_channels", .number(Double(inChannels))),
            ("out_channels", .number(Double(outChannels))),
            ("kernel_size", ints(kernelSize)),
            ("rank", ints(rank)),
            ("n_layers", ints(nLayers)),
            ("stride", .array(geometry.map { ints($0.stride) })),
            ("padding", .array(geometry.map { ints($0.padding) })),
            ("dilation", .array(geometry.map { ints($0.dilation) })),
            ("has_bias", .array(hasBias.map { .bool($0) })),
            ("implementation", .string(implementation.rawValue)),
        ])
    }

    /// Parses and validates the metadata JSON; every field is required and type-checked.
    /// - Throws: `.format` naming the field.
    init(json text: String) throws {
        let what = "metadata \"\(Self.metadataKey)\""
        let value: JSONValue
        do { value = try JSONValue.parse(Array(text.utf8)) } catch let e as FactorConvError {
            throw FactorConvError(.format, "\(what) is not valid JSON (\(e.message))")
        }
        try self.init(value: value, what: what)
    }

    /// Validates a parsed configuration object; `what` names it in messages.
    /// - Throws: `.format` naming the field.
    init(value: JSONValue, what: String) throws {
        func field(_ key: String) throws -> JSONValue { try value.member(key, of: what) }
        let version = try field("format_version").intValue("\(what) format_version", in: 0...1_000_000)
        guard version == Self.formatVersion else {
            throw FactorConvError(.format, "\(what) has format_version \(version); this library reads version \(Self.formatVersion)")
        }
        _ = try field("library_version").stringValue("\(what) library_version")
        do {
            factorization = try Factorization(parsing: try field("factorization").stringValue("\(what) factorization"))
            implementation = try Implementation(parsing: try field("implementation").stringValue("\(what) implementation"))
        } catch let e as FactorConvError where e.kind == .invalidArgument {
            throw FactorConvError(.format, "\(what): \(e.message)")
        }
        inChannels = try field("in_channels").intValue("\(what) in_channels", in: 1...(1 << 24))
        outChannels = try field("out_channels").intValue("\(what) out_channels", in: 1...(1 << 24))
        let kernel = try field("kernel_size").intArray("\(what) kernel_size", in: 1...(1 << 20), maxCount: 16)
        kernelSize = kernel
        guard !kernel.isEmpty else { throw FactorConvError(.format, "\(what) kernel_size is empty") }
        rank = try field("rank").intArray("\(what) rank", in: 1...(1 << 40))
        let grid = try field("n_layers").intArray("\(what) n_layers", in: 1...Int(Int32.max), maxCount: 8)
        nLayers = grid
        let layerCount = try? Checked.product(grid, "n_layers")
        guard let layerCount, layerCount <= 1 << 20 else { throw FactorConvError(.format, "\(what) n_layers \(grid) has too many layers") }
        func perLayer(_ key: String, _ range: ClosedRange<Int>) throws -> [[Int]] {
            let rows = try field(key).arrayItems("\(what) \(key)")
            guard rows.count == layerCount else {
                throw FactorConvError(.format, "\(what) \(key) has \(rows.count) rows but n_layers \(grid) has \(layerCount) layers")
            }
            return try rows.enumerated().map { i, row in
                let v = try row.intArray("\(what) \(key)[\(i)]", in: range, maxCount: 16)
                guard v.count == kernel.count else {
                    throw FactorConvError(.format, "\(what) \(key)[\(i)] has \(v.count) entries but kernel_size has \(kernel.count)")
                }
                return v
            }
        }
        let strides = try perLayer("stride", 1...Int(Int32.max))
        let paddings = try perLayer("padding", 0...Int(Int32.max))
        let dilations = try perLayer("dilation", 1...Int(Int32.max))
        geometry = try (0..<layerCount).map {
            try ConvGeometry(order: kernel.count, stride: strides[$0], padding: paddings[$0], dilation: dilations[$0])
        }
        let flags = try field("has_bias").arrayItems("\(what) has_bias")
        guard flags.count == layerCount else {
            throw FactorConvError(.format, "\(what) has_bias has \(flags.count) entries but there are \(layerCount) layers")
        }
        hasBias = try flags.enumerated().map { try $0.element.boolValue("\(what) has_bias[\($0.offset)]") }
    }
}
