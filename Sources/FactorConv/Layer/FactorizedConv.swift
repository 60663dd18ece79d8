
/// An N-D convolution whose kernel is stored as a CP, Tucker, tensor-train or dense factorized
/// tensor — TensorLy-Torch's `tltorch.FactorizedConv`, for any order ≥ 1.
///
/// Several convolutions can share one factorization (`nLayers`, a grid of layers); each has its
/// own stride, padding, dilation and optional bias, and is selected with a layer index.
///
/// Threads: `forward` may be called concurrently from any number of threads and gives identical
/// results; mutating calls (`set`, `loadStateDict`, `transduct`, `resetParameters`) are atomic
/// with respect to forwards (a forward sees the parameters before or after, never a mix).
/// Derived weights (reconstructed kernels, folded factors) are computed once per parameter
/// change and cached.
public final class FactorizedConv: @unchecked Sendable {
    /// Input channels.
    public let inChannels: Int
    /// Output channels.
    public let outChannels: Int
    /// The grid of convolutions sharing the factorization.
    public let layers: LayerGrid
    /// The factorization of the kernel.
    public let factorization: Factorization

    /// Everything that can change after construction; replaced as a whole under `state`'s lock.
    struct State: Sendable {
        var weight: FactorizedTensor
        /// Shape `layers.shape + [outChannels]`, or nil when the layer was built without bias.
        var bias: Tensor<Float>?
        /// Per flat layer: whether its bias row is applied.
        var hasBias: [Bool]
        /// Per flat layer geometry.
        var geometry: [ConvGeometry]
        var kernelSize: [Int]
        var implementation: Implementation
        /// Increments on every change; cached pipelines of older versions are discarded.
        var version: Int
        /// The forward plans made for this version (emptied by every change).
        var plans = ForwardPlanCache()
    }

    let state: LibraryMutex<State>
    let cache: PipelineCache

    /// Creates a layer with every argument of tltorch's constructor (behaviour notes §2), initialized
    /// (behaviour notes §4 `reset_parameters`: reconstruction ~ N(0, 0.02²), bias 0) from `seed`.
    ///
    /// - Parameters:
    ///   - inChannels: the input channels.
    ///   - outChannels: the output channels.
    ///   - kernelSize: one size per spatial dimension; its count is the order (any order ≥ 1).
    ///   - stride: one value (broadcast) or one per spatial dimension; the same for every layer
    ///     of the grid (use `set` for per-layer values), like `padding` and `dilation`.
    ///   - padding: zero padding, one value or one per spatial dimension.
    ///   - dilation: one value or one per spatial dimension.
    ///   - bias: whether a bias parameter (one row per layer) exists.
    ///   - hasBias: per-layer flags (one, broadcast, or one per layer); nil means "same as `bias`".
    ///   - nLayers: the layer grid (`[]`/`[1]` single, `[L]`, or a tuple such as `[2, 2]`).
    ///   - factorization: CP, Tucker, TT or Dense.
    ///   - rank: 'same', a fraction of the dense parameter count, an int, or per-mode ranks.
    ///   - implementation: the forward path (`auto` picks one per input shape).
    ///   - fixedRankModes: Tucker only; modes whose rank equals their size.
    ///   - seed: initialization seed (the same seed gives the same parameters).
    /// - Throws: `FactorConvError` naming the argument for any invalid value.
    public convenience init(inChannels: Int, outChannels: Int, kernelSize: [Int],
                stride: [Int] = [1], padding: [Int] = [0], dilation: [Int] = [1],
                bias: Bool = false, hasBias: [Bool]? = nil, nLayers: [Int] = [],
                factorization: Factorization = .cp, rank: RankSpec = .same,
                implementation: Implementation = .factorized, fixedRankModes: FixedRankModes? = nil,
                seed: UInt64 = 0) throws {
        let grid = try LayerGrid(nLayers)
        let kernel = try Self.validatedKernelSize(kernelSize)
        try Self.validateChannels(inChannels, outChannels)
        try implementation.validate(for: factorization)
        let order = kernel.count
        let geometry = try ConvGeometry(order: order, stride: Self.broadcast(stride, order, "stride"),
                                        padding: Self.broadcast(padding, order, "padding"),
                                        dilation: Self.broadcast(dilation, order, "dilation"))
        let kernelShape = [outChannels, inChannels] + kernel
        let shape = try KernelLayout.factorizationShape(kernelShape: kernelShape, factorization: factorization, layers: grid.shape)
        let fixed = fixedRankModes?.resolved(layerModes: grid.modes, order: order) ?? []
        let weight = try FactorizedTensor.make(factorization, shape: shape, rank: rank, fixedRankModes: fixed,
                                               initialization: .normal(std: 0.02, seed: seed))
        var flags = try Self.biasFlags(hasBias, default: bias, count: grid.count)
        if flags.contains(true) && !bias {
            throw FactorConvError.invalid("has_bias requests a bias for some layer but bias=False created no bias parameter")
        }
        // tltorch: a single convolution applies its bias whenever it exists (has_bias is ignored).
        if grid.isSingle { flags = [bias] }
        self.init(inChannels: inChannels, outChannels: outChannels, layers: grid, state: State(
            weight: weight, bias: bias ? Tensor(shape: grid.shape + [outChannels]) : nil, hasBias: flags,
            geometry: Array(repeating: geometry, count: grid.count), kernelSize: kernel,
            implementation: implementation, version: 0))
    }

    /// Wraps a validated state.
    init(inChannels: Int, outChannels: Int, layers: LayerGrid, state: State) {
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.layers = layers
        self.factorization = state.weight.factorization
        self.state = LibraryMutex(state, kind: .layerState)
        self.cache = PipelineCache()
    }

    // MARK: - Read-only properties (always current)

    /// A consistent copy of the mutable state.
    var snapshot: State { state.withLock { $0 } }

    /// The number of spatial dimensions.
    public var order: Int { snapshot.kernelSize.count }
    /// The kernel size per spatial dimension.
    public var kernelSize: [Int] { snapshot.kernelSize }
    /// The forward implementation.
    public var implementation: Implementation { snapshot.implementation }
    /// The factorized weight (a value: later changes to the layer do not affect it).
    public var weight: FactorizedTensor { snapshot.weight }
    /// The current rank, read from the parameters.
    public var rank: TensorRank { snapshot.weight.rank }
    /// The shape of the factorized tensor (layer modes first; TT layout for TT).
    public var shape: [Int] { snapshot.weight.shape }
    /// The bias parameter (`layers.shape + [outChannels]`), or nil.
    public var bias: Tensor<Float>? { snapshot.bias }
    /// Per-layer flags (row-major over the grid): whether the layer applies its bias.
    public var hasBias: [Bool] { snapshot.hasBias }
    /// Per-layer geometry (row-major over the grid).
    public var geometry: [ConvGeometry] { snapshot.geometry }
    /// Scalars stored: factorization parameters plus bias.
    public var parameterCount: Int {
        let s = snapshot
        return s.weight.parameterCount + (s.bias?.count ?? 0)
    }

    /// The geometry of layer `indices`.
    public func geometry(layer indices: [Int] = []) throws -> ConvGeometry {
        let s = snapshot
        return s.geometry[try layers.flatIndex(indices)]
    }

    /// Changes the forward implementation.
    /// - Throws: `.unsupported` when it does not exist for this factorization.
    public func setImplementation(_ implementation: Implementation) throws {
        try implementation.validate(for: factorization)
        mutate { $0.implementation = implementation }
    }

    // MARK: - Helpers shared by the extensions

    /// Applies `change` to the state atomically and invalidates cached derived weights.
    func mutate(_ change: (inout State) throws -> Void) rethrows {
        try state.withLock { current in
            var next = current
            try change(&next)
            next.version = current.version + 1
            next.plans = ForwardPlanCache()
            current = next
        }
    }

    /// The largest supported order (spatial dimensions); layer files store at most this many.
    public static let maxOrder = 16

    static func validatedKernelSize(_ kernelSize: [Int]) throws -> [Int] {
        guard !kernelSize.isEmpty else { throw FactorConvError.invalid("kernel_size must have at least one entry (order >= 1)") }
        guard kernelSize.count <= maxOrder else {
            throw FactorConvError.invalid("kernel_size \(kernelSize) has more than \(maxOrder) dimensions")
        }
        for k in kernelSize where k < 1 || k > (1 << 20) {
            throw FactorConvError.invalid("kernel_size \(kernelSize) must have sizes in 1...\(1 << 20)")
        }
        return kernelSize
    }

    static func validateChannels(_ inChannels: Int, _ outChannels: Int) throws {
        for (name, v) in [("in_channels", inChannels), ("out_channels", outChannels)] where v < 1 || v > (1 << 24) {
            throw FactorConvError.invalid("\(name) must be in 1...\(1 << 24), got \(v)")
        }
    }

    /// One value for every spatial dimension, or a full list.
    static func broadcast(_ values: [Int], _ order: Int, _ name: String) throws -> [Int] {
        if values.count == 1 { return Array(repeating: values[0], count: order) }
        guard values.count == order else {
            throw FactorConvError.invalid("\(name) has \(values.count) entries; expected 1 or \(order) (the order)")
        }
        return values
    }

    /// Per-layer bias flags: nil → `defaultValue` everywhere; one flag → broadcast; else one per layer.
    static func biasFlags(_ flags: [Bool]?, default defaultValue: Bool, count: Int) throws -> [Bool] {
        guard let flags else { return Array(repeating: defaultValue, count: count) }
        if flags.count == 1 { return Array(repeating: flags[0], count: count) }
        guard flags.count == count else {
            throw FactorConvError.invalid("has_bias has \(flags.count) entries; expected 1 or \(count) (one per layer)")
        }
        return flags
    }
}
