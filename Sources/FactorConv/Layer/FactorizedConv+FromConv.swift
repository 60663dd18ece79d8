/// Progress of `fromConv`: the iteration so far (counting across CP restarts and TT cores), an
/// upper bound on the number of iterations, and the current relative error. Return false to cancel.
public typealias FromConvProgress = (_ iteration: Int, _ maxIterations: Int, _ relativeError: Double) -> Bool

/// Building layers from dense convolutions (`from_conv`, `from_conv_list`, behaviour notes §6) and from an
/// existing factorized tensor (`from_factorization`).
extension FactorizedConv {
    /// One dense convolution to compress: its kernel, bias and geometry.
    public struct DenseConv: Sendable {
        /// Kernel in PyTorch layout (C_out, C_in, K...).
        public var weight: Tensor<Float>
        /// C_out values, or nil.
        public var bias: [Float]?
        /// Stride, padding and dilation (per dimension; kept as given, unlike tltorch's stride[0]).
        public var geometry: ConvGeometry

        /// Describes a dense convolution; `geometry` defaults to stride 1, padding 0, dilation 1.
        public init(weight: Tensor<Float>, bias: [Float]? = nil, geometry: ConvGeometry? = nil) throws {
            guard weight.rank >= 3 else {
                throw FactorConvError.shape("conv weight shape \(weight.shape) must be (out_channels, in_channels, kernel...)")
            }
            self.weight = weight
            self.bias = bias
            self.geometry = try geometry ?? ConvGeometry(order: weight.rank - 2)
            guard self.geometry.order == weight.rank - 2 else {
                throw FactorConvError.shape("geometry has \(self.geometry.order) dimensions but the kernel \(weight.shape) has \(weight.rank - 2)")
            }
            if let bias, bias.count != weight.shape[0] {
                throw FactorConvError.shape("bias has \(bias.count) values but the kernel has \(weight.shape[0]) output channels")
            }
            if let bias { try FactorizedConv.checkFinite(bias, "bias") }
        }
    }

    /// Compresses a dense convolution (tltorch `FactorizedConv.from_conv`): decomposes its kernel
    /// (in float64) at `rank` and keeps its bias and geometry. With `decompose: false` the layer
    /// is initialized instead (bias zero). `progress` may cancel (`.cancelled`, nothing created),
    /// and so may `Interruption.interruptCallsInProgress()`: the decomposition is an
    /// interruptible call.
    public static func fromConv(_ conv: DenseConv, rank: RankSpec = .same, factorization: Factorization = .cp,
                                implementation: Implementation = .reconstructed, decompose: Bool = true,
                                options: DecompositionOptions = DecompositionOptions(),
                                fixedRankModes: FixedRankModes? = nil, seed: UInt64 = 0,
                                progress: FromConvProgress? = nil) throws -> FactorizedConv {
        try make([conv], grid: [], rank: rank, factorization: factorization, implementation: implementation,
                 decompose: decompose, options: options, fixedRankModes: fixedRankModes, seed: seed, progress: progress)
    }

    /// Compresses several dense convolutions of equal kernel shape into one grid of
    /// `convs.count` layers sharing a factorization (tltorch `from_conv_list`); each layer keeps
    /// its own geometry and bias (a layer whose conv has no bias applies none). Cancellable as
    /// `fromConv`.
    public static func fromConvList(_ convs: [DenseConv], rank: RankSpec = .same, factorization: Factorization = .cp,
                                    implementation: Implementation = .reconstructed, decompose: Bool = true,
                                    options: DecompositionOptions = DecompositionOptions(),
                                    fixedRankModes: FixedRankModes? = nil, seed: UInt64 = 0,
                                    progress: FromConvProgress? = nil) throws -> FactorizedConv {
        guard !convs.isEmpty else { throw FactorConvError.invalid("from_conv_list needs at least one convolution") }
        return try make(convs, grid: [convs.count], rank: rank, factorization: factorization,
                        implementation: implementation, decompose: decompose, options: options,
                        fixedRankModes: fixedRankModes, seed: seed, progress: progress)
    }

    /// Wraps an existing factorized tensor (tltorch `from_factorization`). Its shape gives the
    /// channels and kernel size; `nLayers` says how many leading modes are layer modes.
    /// `bias` has shape `nLayers + [C_out]` (every layer applies it) or is nil.
    public static func fromFactorization(_ tensor: FactorizedTensor, implementation: Implementation = .factorized,
                                         stride: [Int] = [1], padding: [Int] = [0], dilation: [Int] = [1],
                                         bias: Tensor<Float>? = nil, nLayers: [Int] = []) throws -> FactorizedConv {
        let grid = try LayerGrid(nLayers)
        guard tensor.shape.count >= grid.modes + 3, Array(tensor.shape.prefix(grid.modes)) == grid.shape else {
            throw FactorConvError.shape("a tensor of shape \(tensor.shape) cannot hold n_layers \(grid.shape) convolutions")
        }
        let kernelShape = try KernelLayout.kernelShape(factorizationShape: tensor.shape, factorization: tensor.factorization,
                                                       layerModes: grid.modes)
        let (cout, cin) = (kernelShape[grid.modes], kernelShape[grid.modes + 1])
        let kernel = Array(kernelShape.dropFirst(grid.modes + 2))
        try validateChannels(cin, cout)
        try implementation.validate(for: tensor.factorization)
        let order = kernel.count
        let geometry = try ConvGeometry(order: order, stride: broadcast(stride, order, "stride"),
                                        padding: broadcast(padding, order, "padding"), dilation: broadcast(dilation, order, "dilation"))
        if let bias, bias.shape != grid.shape + [cout] {
            throw FactorConvError.shape("bias has shape \(bias.shape) but expected \(grid.shape + [cout])")
        }
        return FactorizedConv(inChannels: cin, outChannels: cout, layers: grid, state: State(
            weight: tensor, bias: bias, hasBias: Array(repeating: bias != nil, count: grid.count),
            geometry: Array(repeating: geometry, count: grid.count), kernelSize: kernel,
            implementation: implementation, version: 0))
    }

    /// The shared body of `fromConv` and `fromConvList`.
    private static func make(_ convs: [DenseConv], grid nLayers: [Int], rank: RankSpec, factorization: Factorization,
                             implementation: Implementation, decompose: Bool, options: DecompositionOptions,
                             fixedRankModes: FixedRankModes?, seed: UInt64,
                             progress: FromConvProgress?) throws -> FactorizedConv {
        let grid = try LayerGrid(nLayers)
        let kernelShape = convs[0].weight.shape
        for (i, c) in convs.enumerated() where c.weight.shape != kernelShape {
            throw FactorConvError.shape("conv \(i) has kernel shape \(c.weight.shape) but conv 0 has \(kernelShape)")
        }
        let (cout, cin) = (kernelShape[0], kernelShape[1])
        let kernel = try validatedKernelSize(Array(kernelShape.dropFirst(2)))
        try validateChannels(cin, cout)
        try implementation.validate(for: factorization)
        let shape = try KernelLayout.factorizationShape(kernelShape: kernelShape, factorization: factorization, layers: grid.shape)
        let fixed = fixedRankModes?.resolved(layerModes: grid.modes, order: kernel.count) ?? []
        let resolved = try RankResolver.resolve(rank, factorization: factorization, shape: shape, fixedModes: fixed)

        let weight: FactorizedTensor
        if decompose {
            for (i, c) in convs.enumerated() where !c.weight.allFinite {
                throw FactorConvError.nonFinite(convs.count == 1 ? "weight" : "conv \(i)'s kernel")
            }
            weight = try Interruption.interruptible(convs.count == 1 ? "from_conv" : "from_conv_list") {
                let stacked = try Tensor(shape: grid.shape + kernelShape, scalars: convs.flatMap(\.weight.scalars))
                let target = try KernelLayout.kernelToTensor(stacked, factorization: factorization, layerModes: grid.modes)
                return try decomposition(of: target.converted(to: Double.self), factorization: factorization,
                                         rank: resolved, options: options, progress: progress)
            }
        } else {
            weight = try FactorizedTensor.make(factorization, shape: shape, rank: resolved,
                                               initialization: .normal(std: 0.02, seed: seed))
        }
        let anyBias = convs.contains { $0.bias != nil }
        var bias: Tensor<Float>? = nil
        if anyBias && decompose {
            bias = try Tensor(shape: grid.shape + [cout], scalars: convs.flatMap { $0.bias ?? Array(repeating: 0, count: cout) })
        } else if anyBias {
            bias = Tensor(shape: grid.shape + [cout])
        }
        return FactorizedConv(inChannels: cin, outChannels: cout, layers: grid, state: State(
            weight: weight, bias: bias, hasBias: convs.map { $0.bias != nil }, geometry: convs.map(\.geometry),
            kernelSize: kernel, implementation: implementation, version: 0))
    }

    /// Runs the decomposition of `tensor` (factorization layout) and stores it in float32.
    static func decomposition(of tensor: Tensor<Double>, factorization: Factorization, rank: TensorRank,
                              options: DecompositionOptions, progress: FromConvProgress?) throws -> FactorizedTensor {
        // float64 working set: a few copies of the tensor, the factors and (CP) a few R×R matrices.
        let what = "the decomposition of a tensor of shape \(tensor.shape) at rank \(rank)"
        var working = try Checked.multiply(3, tensor.count, what)
        working = try Checked.add(working, try parameterElements(shape: tensor.shape, rank: rank), what)
        if case .cp(let r) = rank { working = try Checked.add(working, try Checked.product([4, r, r], what), what) }
        try MemoryLimit.check(elements: working, bytesPerElement: 8, what)
        switch rank {
        case .cp(let r):
            let runs = options.cpRuns(count: tensor.count, rank: r)
            var full = options.cp
            // Screening: every seed for a few sweeps, then the best one from scratch until ALS
            // stalls (same seed, same sweeps: its first sweeps repeat the screening run's).
            let screen = runs > 1 ? options.cpScreenSweeps.flatMap { $0 < full.nIterMax ? $0 : nil } : nil
            if screen != nil { full.stallTol = DecompositionOptions.cpScreenedStallTol }
            let total = screen.map { runs * $0 + full.nIterMax } ?? runs * full.nIterMax
            var done = 0
            let start = runs > 1 && full.initialization == .svd ? try cpSVDStart(tensor, rank: r) : nil
            func run(seed: UInt64, sweeps: Int) throws -> CPDecomposition {
                var cp = full
                cp.seed = seed
                cp.nIterMax = sweeps
                let offset = done
                let d = try parafac(tensor, rank: r, options: cp, progress: progress.map { report in
                    { iteration, error in report(offset + iteration, total, error) }
                }, start: start)
                done += d.iterations
                return d
            }
            var best: CPDecomposition? = nil
            var bestSeed = options.seed
            for k in 0..<runs {
                let seed = options.seed &+ UInt64(k)
                let d = try run(seed: seed, sweeps: screen ?? full.nIterMax)
                if best == nil || (d.errors.last ?? .infinity) < (best!.errors.last ?? .infinity) { best = d; bestSeed = seed }
            }
            if screen != nil { best = try run(seed: bestSeed, sweeps: full.nIterMax) }
            let d = best!
            return .cp(try CPTensor(weights: d.weights.converted(), factors: d.factors.map { $0.converted() }))
        case .tucker(let ranks):
            let total = options.tucker.nIterMax
            let d = try tucker(tensor, ranks: ranks, options: options.tucker,
                               progress: progress.map { report in { report($0, total, $1) } })
            return .tucker(try TuckerTensor(core: d.core.converted(), factors: d.factors.map { $0.converted() }))
        case .tt(let ranks):
            let total = max(tensor.rank - 1, 1)   // one SVD per core but the last
            let d = try tensorTrain(tensor, ranks: ranks, progress: progress.map { report in { report($0, total, $1) } })
            return .tt(try TTTensor(cores: d.cores.map { $0.converted() }))
        case .dense:
            return .dense(try DenseTensor(tensor: tensor.converted()))
        }
    }
}
