/// Per-layer geometry and bias (`set`), sub-convolutions, kernels and re-initialization.
extension FactorizedConv {
    /// Sets layer `layer`'s stride, padding and dilation (one value or one per spatial dimension;
    /// like tltorch, unspecified values reset to 1 / 0 / 1) and, if given, its bias row (which
    /// also turns the layer's bias on). Nothing changes if any argument is invalid.
    /// - Throws: `.indexOutOfRange`, `.invalidArgument`, or `.shapeMismatch` for a bias that is
    ///   not `outChannels` long; `.invalidArgument` when the layer was built without bias;
    ///   `.numerical` for a NaN/Inf bias.
    public func set(layer: [Int] = [], stride: [Int] = [1], padding: [Int] = [0], dilation: [Int] = [1],
                    bias: [Float]? = nil) throws {
        let flat = try layers.flatIndex(layer)
        try mutate { s in
            let order = s.kernelSize.count
            let g = try ConvGeometry(order: order, stride: Self.broadcast(stride, order, "stride"),
                                     padding: Self.broadcast(padding, order, "padding"),
                                     dilation: Self.broadcast(dilation, order, "dilation"))
            if let bias {
                guard var row = s.bias else {
                    throw FactorConvError.invalid("bias given for layer \(layer) but the layer was created with bias=False")
                }
                guard bias.count == outChannels else {
                    throw FactorConvError.shape("bias has \(bias.count) values but out_channels is \(outChannels)")
                }
                try Self.checkFinite(bias, "bias")
                row.scalars.replaceSubrange((flat * outChannels)..<((flat + 1) * outChannels), with: bias)
                s.bias = row
                s.hasBias[flat] = true
            }
            s.geometry[flat] = g
        }
    }

    /// The convolution at `layer` of the grid as its own object, sharing this layer's parameters
    /// (changes through either are seen by both). tltorch's `get_conv` / `conv[indices]`.
    /// - Throws: `.invalidArgument` for a single convolution, `.indexOutOfRange` for a bad index.
    public func subConv(at layer: [Int]) throws -> SubFactorizedConv {
        guard !layers.isSingle else {
            throw FactorConvError.invalid("a single convolution is parametrized; use the layer itself")
        }
        _ = try layers.flatIndex(layer)
        return SubFactorizedConv(parent: self, layer: layer)
    }

    /// The dense kernel(s) in PyTorch layout: `(C_out, C_in, K...)` for one layer, or for
    /// `layer == nil` on a grid every layer stacked, `(layers..., C_out, C_in, K...)`.
    public func reconstructKernel(layer: [Int]? = nil) throws -> Tensor<Float> {
        let s = snapshot
        if let layer, !layers.isSingle {
            _ = try layers.flatIndex(layer)
            return try s.weight.selectingLayer(layer).kernel()
        }
        if let layer { _ = try layers.flatIndex(layer) }
        try MemoryLimit.check(elements: try Checked.product(layers.shape + [outChannels, inChannels] + s.kernelSize, "kernel"),
                              "the reconstructed kernel")
        return try s.weight.kernel(layerModes: layers.modes)
    }

    /// Re-initializes: reconstruction ~ N(0, std²) reproducibly from `seed`, bias zero.
    /// - Throws: `.invalidArgument` for a negative or non-finite std.
    public func resetParameters(std: Double = 0.02, seed: UInt64 = 0) throws {
        guard std.isFinite && std >= 0 else { throw FactorConvError.invalid("std must be finite and >= 0, got \(std)") }
        let s = snapshot
        let fresh = try FactorizedTensor.make(factorization, shape: s.weight.shape, rank: s.weight.rank,
                                              initialization: .normal(std: std, seed: seed))
        mutate { s in
            s.weight = fresh
            if let b = s.bias { s.bias = Tensor(shape: b.shape) }
        }
    }
}

/// One convolution of a `FactorizedConv` grid (tltorch's `SubFactorizedConv`): a view that keeps
/// its parent alive and shares its parameters.
public final class SubFactorizedConv: Sendable, CustomStringConvertible {
    /// The layer grid owner.
    public let parent: FactorizedConv
    /// This convolution's index in the grid.
    public let layer: [Int]

    init(parent: FactorizedConv, layer: [Int]) {
        self.parent = parent
        self.layer = layer
    }

    /// `parent.forward(x, layer: layer)`.
    public func forward(_ x: Tensor<Float>) throws -> Tensor<Float> { try parent.forward(x, layer: layer) }

    /// This convolution's geometry.
    public var geometry: ConvGeometry { (try? parent.geometry(layer: layer)) ?? .identity(order: parent.order) }

    /// tltorch's SubFactorizedConv repr, with the bias flag printed correctly.
    public var description: String { parent.subConvDescription(layer: layer) }
}
