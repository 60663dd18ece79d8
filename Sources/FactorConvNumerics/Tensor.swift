/// A dense N-D array of `Float` or `Double`, row-major (C order: the last index varies fastest).
///
/// A value type with copy-on-write storage (a Swift `Array`). Shapes are validated on creation;
/// operations that combine tensors throw `FactorConvError` on disagreement instead of trapping.
/// The element count always equals the shape's product: the kernels read `count` elements from
/// the storage on the strength of the shape, so no mutation may change it.
public struct Tensor<Scalar: TensorScalar>: Equatable, Sendable {
    /// The size of each dimension.
    public private(set) var shape: [Int]
    /// The storage; its count is the shape's product (checked by every mutation).
    private var storage: [Scalar]

    /// The elements in row-major order (`scalars.count == shape.product`). Elements may be
    /// changed in place (`t.scalars[i] = v`); a mutation that changes their number (assigning an
    /// array of another size, appending, removing) traps, like an out-of-range index, before a
    /// forward could read past the storage. Build a tensor of another size with `init(shape:scalars:)`.
    public var scalars: [Scalar] {
        get { storage }
        set {
            precondition(newValue.count == storage.count,
                         "Tensor.scalars must keep \(storage.count) elements for shape \(shape), got \(newValue.count)")
            storage = newValue
        }
        _modify {
            let count = storage.count
            yield &storage
            precondition(storage.count == count,
                         "Tensor.scalars must keep \(count) elements for shape \(shape), got \(storage.count)")
        }
    }

    /// Creates a tensor from `scalars` laid out in row-major order.
    /// - Throws: `.invalidArgument` for a negative size or an element count that does not match.
    public init(shape: [Int], scalars: [Scalar]) throws {
        guard shape.allSatisfy({ $0 >= 0 }) else { throw FactorConvError.invalid("tensor shape \(shape) has a negative size") }
        let count = try Checked.product(shape, "tensor shape \(shape)")
        guard count == scalars.count else {
            throw FactorConvError.shape("tensor shape \(shape) holds \(count) elements but \(scalars.count) were given")
        }
        self.shape = shape
        self.storage = scalars
    }

    /// Creates a tensor filled with `value` (zeros by default). Sizes must be non-negative.
    public init(repeating value: Scalar = 0, shape: [Int]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative size in \(shape)")
        self.shape = shape
        self.storage = [Scalar](repeating: value, count: shape.reduce(1, *))
    }

    /// Internal unchecked initializer for results whose shape is already known to be valid.
    @usableFromInline init(uncheckedShape shape: [Int], scalars: [Scalar]) {
        self.shape = shape
        self.storage = scalars
    }

    /// The number of dimensions.
    public var rank: Int { shape.count }
    /// The number of elements.
    public var count: Int { scalars.count }

    /// Row-major strides in elements.
    public var strides: [Int] { Tensor.rowMajorStrides(shape) }

    /// Row-major strides (in elements) of `shape`.
    public static func rowMajorStrides(_ shape: [Int]) -> [Int] {
        var strides = [Int](repeating: 1, count: shape.count)
        var acc = 1
        for axis in stride(from: shape.count - 1, through: 0, by: -1) {
            strides[axis] = acc
            acc *= shape[axis]
        }
        return strides
    }

    /// The element at a multi-index (bounds are checked with preconditions: for tests and tools).
    public subscript(_ index: Int...) -> Scalar {
        get { scalars[flatIndex(index)] }
        set { scalars[flatIndex(index)] = newValue }
    }

    private func flatIndex(_ index: [Int]) -> Int {
        precondition(index.count == shape.count, "index \(index) does not match shape \(shape)")
        var flat = 0
        for (i, (v, n)) in zip(index, shape).enumerated() {
            precondition(v >= 0 && v < n, "index \(index) out of range for shape \(shape) at axis \(i)")
            flat = flat * n + v
        }
        return flat
    }

    /// The same elements viewed with another shape of equal element count.
    public func reshaped(_ newShape: [Int]) throws -> Tensor {
        try Tensor(shape: newShape, scalars: scalars)
    }

    /// This tensor converted to another scalar type.
    public func converted<T: TensorScalar>(to _: T.Type = T.self) -> Tensor<T> {
        // Concrete loops for the Float <-> Double cases: the generic BinaryFloatingPoint
        // conversion is much slower.
        if T.self == Scalar.self { return unsafeBitCast(self, to: Tensor<T>.self) }
        if Scalar.self == Float.self && T.self == Double.self {
            let wide: [Double] = scalars.withUnsafeBufferPointer { src in
                src.withMemoryRebound(to: Float.self) { f in f.map { Double($0) } }
            }
            return Tensor<T>(uncheckedShape: shape, scalars: unsafeBitCast(wide, to: [T].self))
        }
        if Scalar.self == Double.self && T.self == Float.self {
            let narrow: [Float] = scalars.withUnsafeBufferPointer { src in
                src.withMemoryRebound(to: Double.self) { d in d.map { Float($0) } }
            }
            return Tensor<T>(uncheckedShape: shape, scalars: unsafeBitCast(narrow, to: [T].self))
        }
        return Tensor<T>(uncheckedShape: shape, scalars: scalars.map { T($0) })
    }

    /// An array of `count` floats written by `fill` (which must set every element), without the
    /// zero-filling pass of `Array(repeating:count:)` — outputs are large and written anyway.
    public static func uninitializedFloats(_ count: Int, _ fill: (UnsafeMutablePointer<Float>) throws -> Void) rethrows -> [Float] {
        try [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            if count > 0 { try fill(buffer.baseAddress!) }
            initialized = count
        }
    }

    /// Frobenius norm, accumulated in Double.
    public var norm: Double {
        var s = 0.0
        for v in scalars { let d = Double(v); s += d * d }
        return s.squareRoot()
    }
}
