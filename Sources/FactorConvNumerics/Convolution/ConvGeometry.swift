/// Per-dimension stride, padding and dilation of an N-D convolution, validated.
///
/// Output size per dimension follows PyTorch: `floor((S + 2p - d(K - 1) - 1) / s) + 1`.
public struct ConvGeometry: Equatable, Hashable, Sendable, CustomStringConvertible {
    /// Step between output positions, per spatial dimension (≥ 1).
    public let stride: [Int]
    /// Zero padding on both sides, per spatial dimension (≥ 0).
    public let padding: [Int]
    /// Spacing between kernel taps, per spatial dimension (≥ 1).
    public let dilation: [Int]

    /// The number of spatial dimensions.
    public var order: Int { stride.count }

    /// Validates and stores a geometry; `nil` arrays mean the defaults (stride 1, padding 0, dilation 1).
    /// - Throws: `.invalidArgument` for an order < 1, a wrong array length, stride/dilation < 1,
    ///   padding < 0, or values beyond 2^31 (no real convolution needs them).
    public init(order: Int, stride: [Int]? = nil, padding: [Int]? = nil, dilation: [Int]? = nil) throws {
        guard order >= 1 else { throw FactorConvError.invalid("convolution order must be >= 1, got \(order)") }
        func check(_ name: String, _ values: [Int]?, _ fallback: Int, minimum: Int) throws -> [Int] {
            guard let values else { return Array(repeating: fallback, count: order) }
            guard values.count == order else {
                throw FactorConvError.invalid("\(name) has \(values.count) entries but the convolution has \(order) spatial dimensions")
            }
            for v in values where v < minimum || v > Int(Int32.max) {
                throw FactorConvError.invalid("\(name) \(values) must be in \(minimum)...\(Int32.max) per dimension")
            }
            return values
        }
        self.stride = try check("stride", stride, 1, minimum: 1)
        self.padding = try check("padding", padding, 0, minimum: 0)
        self.dilation = try check("dilation", dilation, 1, minimum: 1)
    }

    /// The default geometry (stride 1, padding 0, dilation 1) for `order` spatial dimensions.
    public static func identity(order: Int) -> ConvGeometry {
        // order ≥ 1 is the only failure mode of init; callers pass a validated order.
        try! ConvGeometry(order: max(order, 1))
    }

    /// True when stride, padding and dilation are all defaults.
    public var isIdentity: Bool {
        stride.allSatisfy { $0 == 1 } && padding.allSatisfy { $0 == 0 } && dilation.allSatisfy { $0 == 1 }
    }

    /// Output spatial sizes for input sizes `spatial` and kernel sizes `kernel`.
    /// - Throws: `.shapeMismatch` when a (dilated) kernel is larger than the padded input.
    public func outputSpatial(input spatial: [Int], kernel: [Int]) throws -> [Int] {
        guard spatial.count == order, kernel.count == order else {
            throw FactorConvError.shape("input spatial \(spatial) and kernel \(kernel) must both have \(order) dimensions")
        }
        var out = [Int]()
        out.reserveCapacity(order)
        for n in 0..<order {
            // All operands are ≤ 2^31 and sizes are validated ≤ 2^62, so this cannot overflow.
            let span = dilation[n] * (kernel[n] - 1) + 1
            let padded = spatial[n] + 2 * padding[n]
            guard padded >= span else {
                throw FactorConvError.shape(
                    "spatial dimension \(n): the kernel spans \(span) (size \(kernel[n]), dilation \(dilation[n])) but the padded input has only \(padded) (size \(spatial[n]), padding \(padding[n]))")
            }
            out.append((padded - span) / stride[n] + 1)
        }
        return out
    }

    /// A new geometry with one dimension inserted at `position` (used by transduction).
    package func inserting(at position: Int, stride s: Int, padding p: Int, dilation d: Int) throws -> ConvGeometry {
        var st = stride, pa = padding, di = dilation
        st.insert(s, at: position); pa.insert(p, at: position); di.insert(d, at: position)
        return try ConvGeometry(order: order + 1, stride: st, padding: pa, dilation: di)
    }

    public var description: String { "stride=\(stride), padding=\(padding), dilation=\(dilation)" }
}
