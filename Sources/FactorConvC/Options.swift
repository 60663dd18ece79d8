import CFactorConvABI
import FactorConv

/// Every option of a layer-building call (`fconv_conv_create`, `fconv_conv_from_conv`,
/// `fconv_conv_from_conv_list`) as the typed value it was parsed into when set; nil means not
/// set (the call's default).
struct LayerOptions {
    var factorization: Factorization?
    var implementation: Implementation?
    var rank: RankSpec?
    var fixedRankModes: FixedRankModes?
    var stride: [Int]?
    var padding: [Int]?
    var dilation: [Int]?
    var bias: Bool?
    var hasBias: [Bool]?
    var nLayers: [Int]?
    var decompose: Bool?
    /// The decomposition's options; its `seed` is the "seed" option, which seeds the layer too.
    var decomposition = DecompositionOptions()

    /// The seed of the layer's random parameters and of the decomposition.
    var seed: UInt64 { decomposition.seed }
}

/// The object behind an `fconv_options *`: the typed options, each parsed and validated when
/// set (a bad value fails its setter and leaves the option as it was), and the progress callback.
final class OptionsHandle {
    /// One value as a setter passes it.
    enum Value {
        case int(Int)
        case ints([Int])
        case float(Double)
        case string(String)

        /// The setter kind: "int", "ints", "float" or "string".
        var kind: String {
            switch self { case .int: "int"; case .ints: "ints"; case .float: "float"; case .string: "string" }
        }
    }

    /// An option: the value kinds it accepts and how a value of one of them is stored.
    struct Entry: Sendable {
        let kinds: Set<String>
        let store: @Sendable (inout LayerOptions, Value) throws -> Void

        init(_ kinds: Set<String>, _ store: @escaping @Sendable (inout LayerOptions, Value) throws -> Void) {
            self.kinds = kinds
            self.store = store
        }
    }

    /// Every key (see the header's fconv_options comment), the value kinds it accepts and its
    /// parser. A parser only receives a value of an accepted kind.
    static let accepted: [String: Entry] = [
        "factorization": Entry(["string"]) { o, v in o.factorization = try Factorization(parsing: try v.text) },
        "implementation": Entry(["string"]) { o, v in o.implementation = try Implementation(parsing: try v.text) },
        "rank": Entry(["string", "float", "int", "ints"]) { o, v in o.rank = try rank(v) },
        "fixed_rank_modes": Entry(["ints", "string"]) { o, v in o.fixedRankModes = try fixedRankModes(v) },
        "stride": Entry(["int", "ints"]) { o, v in o.stride = try v.list },
        "padding": Entry(["int", "ints"]) { o, v in o.padding = try v.list },
        "dilation": Entry(["int", "ints"]) { o, v in o.dilation = try v.list },
        "bias": Entry(["int"]) { o, v in o.bias = try flag("bias", try v.integer) },
        "has_bias": Entry(["int", "ints"]) { o, v in
            o.hasBias = try v.list.map { f in
                guard f == 0 || f == 1 else { throw FactorConvError.invalid("option 'has_bias' entries must be 0 or 1, got \(f)") }
                return f == 1
            }
        },
        "n_layers": Entry(["int", "ints"]) { o, v in o.nLayers = try v.list },
        "seed": Entry(["int"]) { o, v in
            let seed = try v.integer
            guard seed >= 0 else { throw FactorConvError.invalid("option 'seed' must be >= 0, got \(seed)") }
            o.decomposition.seed = UInt64(seed)
        },
        "decompose": Entry(["int"]) { o, v in o.decompose = try flag("decompose", try v.integer) },
        "n_iter_max": Entry(["int"]) { o, v in o.decomposition.nIterMax = try v.integer },
        "tol": Entry(["float"]) { o, v in o.decomposition.tol = try v.number },
        "l2_reg": Entry(["float"]) { o, v in o.decomposition.l2Reg = try v.number },
        "init": Entry(["string"]) { o, v in
            switch try v.text {
            case "svd": o.decomposition.randomInit = false
            case "random": o.decomposition.randomInit = true
            case let other: throw FactorConvError.invalid("option 'init' must be 'svd' or 'random', got '\(other)'")
            }
        },
        "cp_regularization": Entry(["string"]) { o, v in
            switch try v.text {
            case "proximal": o.decomposition.tltorchRidge = false
            case "ridge": o.decomposition.tltorchRidge = true
            case let other: throw FactorConvError.invalid("option 'cp_regularization' must be 'proximal' or 'ridge', got '\(other)'")
            }
        },
        "n_restarts": Entry(["int"]) { o, v in
            let n = try v.integer
            guard (1...100).contains(n) else { throw FactorConvError.invalid("option 'n_restarts' must be in 1...100, got \(n)") }
            o.decomposition.restarts = n
        },
    ]

    /// The options set so far.
    private(set) var options = LayerOptions()
    var progress: (fn: fconv_progress_fn, userData: UnsafeMutableRawPointer?)?

    /// Parses `value` into option `key`; on error nothing changes.
    func set(_ key: String, _ value: Value) throws {
        guard let entry = Self.accepted[key] else {
            throw FactorConvError.invalid("unknown option key '\(key)'; known keys: \(Self.accepted.keys.sorted().joined(separator: ", "))")
        }
        guard entry.kinds.contains(value.kind) else {
            throw FactorConvError.invalid("option '\(key)' takes \(entry.kinds.sorted().joined(separator: " or ")), not \(value.kind)")
        }
        var next = options
        try entry.store(&next, value)
        options = next
    }

    // MARK: parsers shared by the table

    private static func flag(_ key: String, _ v: Int) throws -> Bool {
        guard v == 0 || v == 1 else { throw FactorConvError.invalid("option '\(key)' must be 0 or 1, got \(v)") }
        return v == 1
    }

    private static func rank(_ value: Value) throws -> RankSpec {
        switch value {
        case .string(let s):
            guard s.lowercased() == "same" else { throw FactorConvError.invalid("option 'rank' string must be 'same', got '\(s)'") }
            return .same
        case .float(let f):
            guard f.isFinite && f > 0 else { throw FactorConvError.invalid("option 'rank' fraction must be finite and > 0, got \(f)") }
            return .fraction(f)
        case .int(let r): return .int(r)
        case .ints(let r): return .perMode(r)
        }
    }

    private static func fixedRankModes(_ value: Value) throws -> FixedRankModes {
        if case .string(let s) = value {
            guard s == "spatial" else { throw FactorConvError.invalid("option 'fixed_rank_modes' string must be 'spatial', got '\(s)'") }
            return .spatial
        }
        return .modes(try value.list)
    }

    /// The progress callback as a Swift closure (nil when none is set).
    var progressHook: FromConvProgress? {
        guard let progress else { return nil }
        let fn = progress.fn
        nonisolated(unsafe) let userData = progress.userData
        return { iteration, total, error in fn(Int64(iteration), Int64(total), error, userData) != 0 }
    }
}

/// Reads of a value whose kind the option table has already checked (a mismatch would be a
/// table error: `.internal`).
private extension OptionsHandle.Value {
    private var mismatch: FactorConvError { FactorConvError(.internal, "option value of kind \(kind) read as another kind") }

    /// An int, or ints.
    var list: [Int] {
        get throws {
            switch self {
            case .int(let v): return [v]
            case .ints(let v): return v
            case .float, .string: throw mismatch
            }
        }
    }

    var integer: Int {
        get throws {
            guard case .int(let v) = self else { throw mismatch }
            return v
        }
    }

    var number: Double {
        get throws {
            guard case .float(let v) = self else { throw mismatch }
            return v
        }
    }

    var text: String {
        get throws {
            guard case .string(let v) = self else { throw mismatch }
            return v
        }
    }
}

/// The options and progress callback of a handle; NULL means "all defaults" and no callback.
func options(_ pointer: OpaquePointer?) throws -> (LayerOptions, FromConvProgress?) {
    guard pointer != nil else { return (LayerOptions(), nil) }
    let handle = try Handles.resolve(pointer, as: OptionsHandle.self, "options")
    return (handle.options, handle.progressHook)
}

@c @implementation
public func fconv_options_create(_ out: UnsafeMutablePointer<OpaquePointer?>?) -> fconv_status {
    out?.pointee = nil
    return guarded("fconv_options_create") {
        let out = try Arguments.required(out, "out")
        out.pointee = Handles.register(OptionsHandle())
    }
}

@c @implementation
public func fconv_options_free(_ options: OpaquePointer?) {
    Handles.release(options, as: OptionsHandle.self)
}

/// Shared body of the typed setters.
private func setOption(_ function: String, _ handle: OpaquePointer?, _ key: UnsafePointer<CChar>?,
                       _ value: () throws -> OptionsHandle.Value) -> fconv_status {
    guarded(function) {
        let options = try Handles.resolve(handle, as: OptionsHandle.self, "options")
        try options.set(try Arguments.string(key, "key"), try value())
    }
}

@c @implementation
public func fconv_options_set_int(_ options: OpaquePointer?, _ key: UnsafePointer<CChar>?, _ value: Int64) -> fconv_status {
    setOption("fconv_options_set_int", options, key) { .int(Int(value)) }
}

@c @implementation
public func fconv_options_set_ints(_ options: OpaquePointer?, _ key: UnsafePointer<CChar>?,
                                   _ values: UnsafePointer<Int64>?, _ count: Int) -> fconv_status {
    setOption("fconv_options_set_ints", options, key) {
        guard count >= 1 && count <= 64 else { throw FactorConvError.invalid("count \(UInt(bitPattern: count)) must be in 1...64") }
        let values = try Arguments.required(values, "values")
        return .ints((0..<count).map { Int(values[$0]) })
    }
}

@c @implementation
public func fconv_options_set_float(_ options: OpaquePointer?, _ key: UnsafePointer<CChar>?, _ value: Double) -> fconv_status {
    setOption("fconv_options_set_float", options, key) {
        guard value.isFinite else { throw FactorConvError.invalid("value must be finite, got \(value)") }
        return .float(value)
    }
}

@c @implementation
public func fconv_options_set_string(_ options: OpaquePointer?, _ key: UnsafePointer<CChar>?,
                                     _ value: UnsafePointer<CChar>?) -> fconv_status {
    setOption("fconv_options_set_string", options, key) { .string(try Arguments.string(value, "value")) }
}

@c @implementation
public func fconv_options_set_progress(_ options: OpaquePointer?, _ fn: fconv_progress_fn?,
                                       _ userData: UnsafeMutableRawPointer?) -> fconv_status {
    guarded("fconv_options_set_progress") {
        let options = try Handles.resolve(options, as: OptionsHandle.self, "options")
        options.progress = fn.map { (fn: $0, userData: userData) }
    }
}
