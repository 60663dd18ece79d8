import ArgumentParser
import FactorConv

/// A comma-separated list of integers, e.g. `8,64,56,56` or `2`.
struct IntList: ExpressibleByArgument, CustomStringConvertible {
    /// The values.
    let values: [Int]

    init(_ values: [Int]) { self.values = values }

    init?(argument: String) {
        let parts = argument.split(separator: ",", omittingEmptySubsequences: false)
        let values = parts.compactMap { Int($0.trimmingCharacters(in: " ")) }
        guard !parts.isEmpty, values.count == parts.count else { return nil }
        self.values = values
    }

    var description: String { values.map(String.init).joined(separator: ",") }
}

/// `--rank`: `same`, a float (fraction of the dense parameter count), an int, or a comma list.
struct RankArgument: ExpressibleByArgument, CustomStringConvertible {
    /// The parsed rank.
    let spec: RankSpec

    init?(argument: String) {
        let text = argument.lowercased()
        if text == "same" {
            spec = .same
        } else if text.contains(",") {
            guard let list = IntList(argument: text) else { return nil }
            spec = .perMode(list.values)
        } else if let r = Int(text) {
            spec = .int(r)
        } else if let f = Double(text), f.isFinite, f > 0 {
            spec = .fraction(f)
        } else {
            return nil
        }
    }

    var description: String { spec.description }
}

extension Factorization: @retroactive ExpressibleByArgument {
    /// Accepts cp, tucker, tt, dense (case-insensitive).
    public init?(argument: String) { try? self.init(parsing: argument) }
    public static var allValueStrings: [String] { allCases.map(\.rawValue) }
}

extension Implementation: @retroactive ExpressibleByArgument {
    /// Accepts factorized, reconstructed, mobilenet, auto (case-insensitive).
    public init?(argument: String) { try? self.init(parsing: argument) }
    public static var allValueStrings: [String] { allCases.map(\.rawValue) }
}

private extension Substring {
    func trimmingCharacters(in set: Character) -> Substring {
        var s = self
        while s.first == set { s = s.dropFirst() }
        while s.last == set { s = s.dropLast() }
        return s
    }
}

/// Reads a kernel (or any tensor) from a `.npy` file or a tensor of a `.safetensors` file.
func readTensor(path: String, tensorName: String?) throws -> Tensor<Float> {
    if path.hasSuffix(".npy") {
        return try NPY.read(from: path)
    }
    let file = try SafeTensors.read(from: path)
    if let tensorName {
        guard let t = file[tensorName] else {
            throw ToolError(message: "'\(path)' has no tensor '\(tensorName)'; it has \(file.tensors.map(\.name))")
        }
        return t
    }
    if file.tensors.count == 1 { return file.tensors[0].value }
    for name in ["weight", "conv.weight"] { if let t = file[name] { return t } }
    throw ToolError(message: "'\(path)' has \(file.tensors.count) tensors \(file.tensors.map(\.name)); choose one with --tensor")
}

/// Formats a count with thousands separators: 1,234,567.
func grouped(_ n: Int) -> String {
    let digits = String(n.magnitude)
    var out = ""
    for (i, c) in digits.enumerated() {
        if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
        out.append(c)
    }
    return (n < 0 ? "-" : "") + out
}

/// Seconds of a Duration.
func seconds(_ d: Duration) -> Double {
    Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
}

/// A fixed-point decimal rendering; values whose digits would not fit in an Int (from
/// 2^62 / 10^digits on) are given in scientific notation instead of trapping.
func fixed(_ x: Double, _ digits: Int) -> String {
    guard x.isFinite else { return "\(x)" }
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let r = (abs(x) * scale).rounded()
    guard r < 0x1p62 else { return scientific(x) }
    let whole = Int(r / scale)
    var frac = String(Int(r - Double(whole) * scale))
    while frac.count < digits { frac = "0" + frac }
    return (x < 0 && r != 0 ? "-" : "") + "\(whole)" + (digits > 0 ? "." + frac : "")
}

/// Scientific rendering with 3 significant digits: 1.23e-04.
func scientific(_ x: Double) -> String {
    guard x.isFinite, x != 0 else { return x == 0 ? "0" : "\(x)" }
    var e = 0
    var m = abs(x)
    while m >= 10 { m /= 10; e += 1 }
    while m < 1 { m *= 10; e -= 1 }
    return (x < 0 ? "-" : "") + fixed(m, 2) + "e" + (e < 0 ? "-" : "+") + (abs(e) < 10 ? "0" : "") + "\(abs(e))"
}
