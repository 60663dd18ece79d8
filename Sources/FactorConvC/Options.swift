import CFactorConvABI
import FactorConv

/// The object behind an `fconv_options *`: typed values by key, validated when set.
final class OptionsHandle {
    enum Value {
        case int(Int)
        case ints([Int])
        case float(Double)
        case string(String)
    }

    /// Every key and the value kinds it accepts (see the header's fconv_options comment).
    static let accepted: [String: Set<String>] = [
        "factorization": ["string"], "implementation": ["string"], "rank": ["string", "float", "int", "ints"],
        "fixed_rank_modes": ["ints", "string"], "stride": ["int", "ints"], "padding": ["int", "ints"],
        "dilation": ["int", "ints"], "bias": ["int"], "has_bias": ["int", "ints"], "n_layers": ["int", "ints"],
        "seed": ["int"], "decompose": ["int"], "n_iter_max": ["int"], "tol": ["float"], "l2_reg": ["float"],
        "init": ["string"], "cp_regularization": ["string"], "n_restarts": ["int"],
    ]

    var values: [String: Value] = [:]
    var progress: (fn: fconv_progress_fn, userData: UnsafeMutableRawPointer?)?

    func set(_ key: String, _ value: Value) throws {
        guard let kinds = Self.accepted[key] else {
            throw FactorConvError.invalid("unknown option key '\(key)'; known keys: \(Self.accepted.keys.sorted().joined(separator: ", "))")
        }
        let kind: String = switch value { case .int: "int"; case .ints: "ints"; case .float: "float"; case .string: "string" }
        guard kinds.contains(kind) else {
            throw FactorConvError.invalid("option '\(key)' takes \(kinds.sorted().joined(separator: " or ")), not \(kind)")
        }
        values[key] = value
    }

    // MARK: typed reads with defaults

    func ints(_ key: String, default fallback: [Int]) -> [Int] {
        switch values[key] {
        case .int(let v): [v]
        case .ints(let v): v
        default: fallback
        }
    }

    func int(_ key: String, default fallback: Int) -> Int {
        if case .int(let v) = values[key] { return v }
        return fallback
    }

    func float(_ key: String) -> Double? {
        if case .float(let v) = values[key] { return v }
        return nil
    }

    func string(_ key: String) -> String? {
        if case .string(let v) = values[key] { return v }
        return nil
    }

    func flag(_ key: String, default fallback: Bool) throws -> Bool {
        let v = int(key, default: fallback ? 1 : 0)
        guard v == 0 || v == 1 else { throw FactorConvError.invalid("option '\(key)' must be 0 or 1, got \(v)") }
        return v == 1
    }

    var factorization: Factorization {
        get throws { try string("factorization").map(Factorization.init(parsing:)) ?? .cp }
    }

    func implementation(default fallback: Implementation) throws -> Implementation {
        try string("implementation").map(Implementation.init(parsing:)) ?? fallback
    }

    var rank: RankSpec {
        get throws {
            switch values["rank"] {
            case nil: return .same
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
    }

    var fixedRankModes: FixedRankModes? {
        get throws {
            switch values["fixed_rank_modes"] {
            case nil: return nil
            case .string(let s):
                guard s == "spatial" else { throw FactorConvError.invalid("option 'fixed_rank_modes' string must be 'spatial', got '\(s)'") }
                return .spatial
            case .ints(let m): return .modes(m)
            default: return nil
            }
        }
    }

    var seed: UInt64 {
        get throws {
            let s = int("seed", default: 0)
            guard s >= 0 else { throw FactorConvError.invalid("option 'seed' must be >= 0, got \(s)") }
            return UInt64(s)
        }
    }

    var decomposition: DecompositionOptions {
        get throws {
            var o = DecompositionOptions(seed: try seed)
            if case .int(let n) = values["n_iter_max"] { o.nIterMax = n }
            if case .int(let n) = values["n_restarts"] {
                guard n >= 1 && n <= 100 else { throw FactorConvError.invalid("option 'n_restarts' must be in 1...100, got \(n)") }
                o.restarts = n
            }
            o.tol = float("tol")
            if let l2 = float("l2_reg") { o.l2Reg = l2 }
            switch string("init") {
            case nil, "svd": o.randomInit = false
            case "random": o.randomInit = true
            case let other?: throw FactorConvError.invalid("option 'init' must be 'svd' or 'random', got '\(other)'")
            }
            switch string("cp_regularization") {
            case nil, "proximal": o.tltorchRidge = false
            case "ridge": o.tltorchRidge = true
            case let other?: throw FactorConvError.invalid("option 'cp_regularization' must be 'proximal' or 'ridge', got '\(other)'")
            }
            return o
        }
    }

    /// The progress callback as a Swift closure (nil when none is set).
    var progressHook: FromConvProgress? {
        guard let progress else { return nil }
        let fn = progress.fn
        nonisolated(unsafe) let userData = progress.userData
        return { iteration, total, error in fn(Int64(iteration), Int64(total), error, userData) != 0 }
    }
}

/// Options given as NULL mean "all defaults".
func options(_ pointer: OpaquePointer?) throws -> OptionsHandle {
    guard pointer != nil else { return OptionsHandle() }
    return try Handles.resolve(pointer, as: OptionsHandle.self, "options")
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
