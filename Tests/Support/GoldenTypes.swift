import Foundation

/// A requested rank as stored in `rank_arg`.
public enum GoldenRankArg: Equatable, Sendable {
    /// `'same'`.
    case same
    /// A float fraction.
    case fraction(Double)
    /// A Python int.
    case int(Int)
    /// A tuple/list of ints.
    case list([Int])

    /// Parses a JSON value; nil for null/absent or an unknown form.
    init?(json: Any?) {
        switch json {
        case let s as String where s == "same": self = .same
        case let list as [Int]: self = .list(list)
        case let n as NSNumber:
            // A JSON integer bridges to Int; a non-integral number does not. (An integral float
            // written as "1.0" would read as .int; the manifest has none.)
            if let i = json as? Int { self = .int(i) } else { self = .fraction(n.doubleValue) }
        default: return nil
        }
    }
}

/// The factorized weight description: `{type, shape, rank}`.
public struct GoldenWeight: Sendable, Equatable {
    /// "CP", "Tucker" or "TT".
    public let type: String
    /// The factorized tensor's shape (layer modes first; TT layout for TT).
    public let shape: [Int]
    /// The rank: one element for CP, per mode for Tucker/TT.
    public let rank: [Int]

    init?(json: Any?, _ caseName: String) throws {
        guard let json = json as? [String: Any] else { return nil }
        guard let type = json["type"] as? String, let shape = json["shape"] as? [Int] else {
            throw GoldenError("\(caseName): malformed weight \(json)")
        }
        self.type = type
        self.shape = shape
        if let r = json["rank"] as? Int { rank = [r] } else if let r = json["rank"] as? [Int] { rank = r } else {
            throw GoldenError("\(caseName): malformed weight rank \(String(describing: json["rank"]))")
        }
    }
}

/// One layer of a multi case.
public struct GoldenLayer: Sendable {
    /// Layer index.
    public let index: Int
    /// Per-dim stride, padding, dilation of this layer.
    public let stride: [Int], padding: [Int], dilation: [Int]
    /// Whether tltorch applies a bias to this layer.
    public let hasBias: Bool
    /// The selected layer's factorized weight.
    public let weight: GoldenWeight?

    init(json: [String: Any], _ caseName: String) throws {
        guard let index = json["index"] as? Int, let stride = json["stride"] as? [Int],
              let padding = json["padding"] as? [Int], let dilation = json["dilation"] as? [Int],
              let hasBias = json["has_bias"] as? Bool else {
            throw GoldenError("\(caseName): malformed layer \(json)")
        }
        self.index = index
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
        self.hasBias = hasBias
        weight = try GoldenWeight(json: json["weight"], caseName)
    }
}

/// Where one array lives in `tensors.bin`.
public struct GoldenTensorInfo: Sendable, Equatable {
    /// "f32", "f64" or "i64".
    public let dtype: String
    /// Row-major shape.
    public let shape: [Int]
    /// Byte offset in `tensors.bin`.
    public let offset: Int
    /// Element count.
    public let count: Int

    init(json: [String: Any], _ what: String, blobSize: Int) throws {
        guard let dtype = json["dtype"] as? String, let shape = json["shape"] as? [Int],
              let offset = json["offset"] as? Int, let count = json["count"] as? Int else {
            throw GoldenError("\(what): malformed tensor descriptor \(json)")
        }
        let width: Int
        switch dtype {
        case "f32": width = 4
        case "f64", "i64": width = 8
        default: throw GoldenError("\(what): unknown dtype \(dtype)")
        }
        guard shape.reduce(1, *) == count, offset >= 0, offset + count * width <= blobSize else {
            throw GoldenError("\(what): shape \(shape) / count \(count) / offset \(offset) do not fit tensors.bin (\(blobSize) bytes)")
        }
        self.dtype = dtype
        self.shape = shape
        self.offset = offset
        self.count = count
    }
}
