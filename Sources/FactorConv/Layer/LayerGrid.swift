/// The grid of convolutions that share one factorization (tltorch's `n_layers`): empty for a
/// single convolution, `[L]` for an int, or any tuple such as `[2, 3]`.
public struct LayerGrid: Equatable, Sendable {
    /// The grid's shape; the leading modes of the factorized tensor.
    public let shape: [Int]

    /// Creates a grid. `[]` and `[1]` both mean a single convolution (tltorch: `n_layers=1`).
    /// - Throws: `.invalidArgument` for a size below 1 or a grid of more than 2^31 layers.
    public init(_ shape: [Int]) throws {
        for s in shape where s < 1 { throw FactorConvError.invalid("n_layers \(shape) must have sizes >= 1") }
        let total = try Checked.product(shape, "n_layers \(shape)")
        guard total <= Int(Int32.max) else { throw FactorConvError.invalid("n_layers \(shape) has too many layers") }
        self.shape = shape == [1] ? [] : shape
    }

    /// True for a single convolution (no layer modes).
    public var isSingle: Bool { shape.isEmpty }
    /// The number of leading layer modes of the factorized tensor.
    public var modes: Int { shape.count }
    /// The number of convolutions.
    public var count: Int { shape.reduce(1, *) }

    /// The flat (row-major) position of `indices`, validating them (behaviour notes §5).
    /// A single convolution accepts `[]` or `[0]`.
    /// - Throws: `.indexOutOfRange` with the grid's shape in the message.
    public func flatIndex(_ indices: [Int]) throws -> Int {
        if isSingle {
            guard indices.isEmpty || indices == [0] else {
                throw FactorConvError(.indexOutOfRange,
                    "only one convolution is parametrized (n_layers=1) but layer \(indices) was requested")
            }
            return 0
        }
        guard indices.count == shape.count else {
            throw FactorConvError(.indexOutOfRange,
                "layer index \(indices) must have \(shape.count) entr\(shape.count == 1 ? "y" : "ies") for n_layers \(shape)")
        }
        var flat = 0
        for (i, (v, n)) in zip(indices, shape).enumerated() {
            guard v >= 0 && v < n else {
                throw FactorConvError(.indexOutOfRange, "layer index \(indices) is out of range at position \(i) for n_layers \(shape)")
            }
            flat = flat * n + v
        }
        return flat
    }

    /// The multi-index of flat position `flat` (row-major).
    public func indices(ofFlat flat: Int) -> [Int] {
        var rest = flat
        var out = [Int](repeating: 0, count: shape.count)
        for d in stride(from: shape.count - 1, through: 0, by: -1) { out[d] = rest % shape[d]; rest /= shape[d] }
        return out
    }
}
