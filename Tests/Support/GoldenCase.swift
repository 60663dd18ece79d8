import Foundation
import FactorConvNumerics

/// One golden case: its configuration and its arrays (read lazily from the shared blob).
public struct GoldenCase: @unchecked Sendable, CustomStringConvertible {
    /// Unique name, e.g. `single_cp_2d_factorized_v0`.
    public let name: String
    /// "single", "multi", "from_conv" or "transduct".
    public let kind: String
    /// "cp", "tucker" or "tt".
    public let factorization: String
    /// Convolution order (spatial dimensions); nil for transduct cases (see `raw`).
    public let order: Int?
    /// "factorized", "reconstructed" or "mobilenet".
    public let implementation: String
    /// Input channels.
    public let inChannels: Int
    /// Output channels.
    public let outChannels: Int
    /// Kernel size per spatial dim (nil for transduct cases).
    public let kernelSize: [Int]?
    /// Per-dim stride/padding/dilation of a single-layer case (multi cases: see `layers`).
    public let stride: [Int]?, padding: [Int]?, dilation: [Int]?
    /// Whether the layer has a bias (single / from_conv cases).
    public let bias: Bool?
    /// The requested rank (`rank_arg`), nil when absent or null.
    public let rankArg: GoldenRankArg?
    /// `fixed_rank_modes`: nil, the string "spatial", or a list (see `raw`).
    public let fixedRankModes: String?
    /// The factorized weight (for transduct cases: `weight_before`).
    public let weight: GoldenWeight?
    /// `n_layers` of multi cases.
    public let nLayers: Int?
    /// Per-layer settings of multi cases.
    public let layers: [GoldenLayer]
    /// Array descriptors by name.
    public let tensors: [String: GoldenTensorInfo]
    /// The case's JSON object, for fields not modelled here.
    public let raw: [String: Any]
    private let blob: Data

    init(json: [String: Any], blob: Data) throws {
        raw = json
        self.blob = blob
        guard let name = json["name"] as? String else { throw GoldenError("a case has no name") }
        self.name = name
        func string(_ key: String) throws -> String {
            guard let v = json[key] as? String else { throw GoldenError("\(name): missing string '\(key)'") }
            return v
        }
        func int(_ key: String) throws -> Int {
            guard let v = json[key] as? Int else { throw GoldenError("\(name): missing int '\(key)'") }
            return v
        }
        kind = try string("kind")
        factorization = try string("factorization")
        implementation = try string("implementation")
        inChannels = try int("in_channels")
        outChannels = try int("out_channels")
        order = json["order"] as? Int
        kernelSize = json["kernel_size"] as? [Int]
        stride = json["stride"] as? [Int]
        padding = json["padding"] as? [Int]
        dilation = json["dilation"] as? [Int]
        bias = json["bias"] as? Bool
        rankArg = GoldenRankArg(json: json["rank_arg"])
        fixedRankModes = json["fixed_rank_modes"] as? String
        weight = try GoldenWeight(json: json["weight"] ?? json["weight_before"], name)
        nLayers = json["n_layers"] as? Int
        layers = try (json["layers"] as? [[String: Any]] ?? []).map { try GoldenLayer(json: $0, name) }
        guard let tensorJSON = json["tensors"] as? [String: [String: Any]] else { throw GoldenError("\(name): no tensors map") }
        var infos: [String: GoldenTensorInfo] = [:]
        for (key, value) in tensorJSON { infos[key] = try GoldenTensorInfo(json: value, "\(name).\(key)", blobSize: blob.count) }
        tensors = infos
    }

    /// The weight after transduction (transduct cases only).
    public var weightAfter: GoldenWeight? { try? GoldenWeight(json: raw["weight_after"], name) }

    /// Array names that start with `prefix` (e.g. "fact.", "layer1.fact."), sorted.
    public func tensorNames(prefix: String) -> [String] { tensors.keys.filter { $0.hasPrefix(prefix) }.sorted() }

    /// Whether an array called `name` exists.
    public func has(_ name: String) -> Bool { tensors[name] != nil }

    /// An f32 array as a Float tensor.
    /// - Throws: `GoldenError` for a missing name or another dtype.
    public func tensor(_ name: String) throws -> Tensor<Float> {
        let info = try lookup(name, dtype: "f32")
        return try Tensor(shape: info.shape, scalars: read(info, as: UInt32.self).map { Float(bitPattern: $0) })
    }

    /// An f64 array as a Double tensor (f32 arrays are widened).
    public func tensorF64(_ name: String) throws -> Tensor<Double> {
        guard let info = tensors[name] else { throw GoldenError("\(self.name): no array '\(name)'") }
        if info.dtype == "f32" { return try tensor(name).converted() }
        _ = try lookup(name, dtype: "f64")
        return try Tensor(shape: info.shape, scalars: read(info, as: UInt64.self).map { Double(bitPattern: $0) })
    }

    /// An i64 array: its shape and its values.
    public func tensorI64(_ name: String) throws -> (shape: [Int], values: [Int64]) {
        let info = try lookup(name, dtype: "i64")
        return (info.shape, read(info, as: UInt64.self).map { Int64(bitPattern: $0) })
    }

    private func lookup(_ name: String, dtype: String) throws -> GoldenTensorInfo {
        guard let info = tensors[name] else { throw GoldenError("\(self.name): no array '\(name)'") }
        guard info.dtype == dtype else { throw GoldenError("\(self.name).\(name) is \(info.dtype), not \(dtype)") }
        return info
    }

    /// Reads `count` little-endian words at `offset` (bounds were checked at load time).
    private func read<W: FixedWidthInteger>(_ info: GoldenTensorInfo, as _: W.Type) -> [W] {
        blob.withUnsafeBytes { bytes in
            (0..<info.count).map { i in
                W(littleEndian: bytes.loadUnaligned(fromByteOffset: info.offset + i * MemoryLayout<W>.size, as: W.self))
            }
        }
    }

    public var description: String { name }
}
