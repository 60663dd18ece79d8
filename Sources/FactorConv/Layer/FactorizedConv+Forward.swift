/// The forward pass (behaviour notes §5) and the choice made by `implementation='auto'`.
extension FactorizedConv {
    /// Applies layer `layer` of the grid to `x` (B, C_in, S_1..S_N); `[]` for a single conv.
    /// An interruptible call (`Interruption`): an interrupted forward throws `.cancelled` and
    /// leaves the layer unchanged and usable.
    /// - Throws: `.shapeMismatch` for a wrong input rank or channel count or a too small input,
    ///   `.indexOutOfRange` for a bad layer index, `.numerical` for NaN/Inf in `x` or an output
    ///   that overflowed to inf/NaN (`FiniteCheck.checksOutputs`), `.outOfMemory` beyond the
    ///   memory bound, `.cancelled`. A batch of 0 gives an empty output.
    public func forward(_ x: Tensor<Float>, layer: [Int] = []) throws -> Tensor<Float> {
        try BLAS.require()
        let plan = try plan(inputShape: x.shape, layer: layer)
        let y = try x.scalars.withUnsafeBufferPointer { xp in
            try Tensor<Float>.uninitializedFloats(plan.outputCount) { yp in
                try plan.pipeline.forward(input: xp.baseAddress!, inputShape: x.shape, imageShapes: plan.imageShapes,
                                          output: yp, rejectingNonFinite: true)
            }
        }
        return try Tensor(shape: plan.outputShape, scalars: y)
    }

    /// `forward` on raw buffers (the C ABI's path): `input` holds `Π inputShape` floats.
    ///
    /// The output is checked against the plan that runs, not against an earlier shape query, so
    /// a `set` on another thread can change the result's shape but never make this write past
    /// `output`: `output` must hold the output's elements (else `.bufferTooSmall`) and, when
    /// `expectedShape` is given, the output must have exactly that shape (else `.shapeMismatch`).
    /// Interruptible as `forward(_:layer:)` (then `output` is partly written).
    ///
    /// One snapshot of the layer, one validation of the input and one plan (cached per input
    /// shape) serve the whole call. With `requiringBLAS: false` the caller has already loaded
    /// BLAS (the C boundary's `guarded` does it once per call).
    /// - Returns: the output shape.
    @discardableResult
    package func forward(input: UnsafePointer<Float>, inputShape: [Int], output: UnsafeMutableBufferPointer<Float>,
                        expectedShape: [Int]? = nil, layer: [Int] = [], requiringBLAS: Bool = true) throws -> [Int] {
        if requiringBLAS { try BLAS.require() }
        let plan = try plan(inputShape: inputShape, layer: layer)
        let outShape = plan.outputShape
        if let expectedShape, expectedShape != outShape {
            throw FactorConvError.shape("the output has shape \(outShape), not the expected \(expectedShape) (did the layer change?)")
        }
        guard output.count >= plan.outputCount, let base = output.baseAddress else {
            throw FactorConvError(.bufferTooSmall, "output holds \(output.count) elements but the output \(outShape) needs \(plan.outputCount)")
        }
        try plan.pipeline.forward(input: input, inputShape: inputShape, imageShapes: plan.imageShapes, output: base,
                                  rejectingNonFinite: true)
        return outShape
    }

    /// The output shape (B, C_out, S'...) of layer `layer` for an input of shape `inputShape`.
    /// - Throws: as `forward` for the input and index, and `.outOfMemory` when the output alone
    ///   exceeds the memory bound (so that callers never allocate an output `forward` refuses).
    public func outputShape(inputShape: [Int], layer: [Int] = []) throws -> [Int] {
        let s = snapshot
        try validateInput(inputShape, state: s)
        let g = s.geometry[try layers.flatIndex(layer)]
        let shape = [inputShape[0], outChannels] + (try g.outputSpatial(input: Array(inputShape.dropFirst(2)), kernel: s.kernelSize))
        try MemoryLimit.check(elements: try Checked.product(shape, "output shape"), "the output of shape \(shape)")
        return shape
    }

    /// The implementation a forward of layer `layer` on `inputShape` uses: the layer's own, or
    /// for `.auto` the cheapest candidate under `CostModel`.
    public func chosenImplementation(inputShape: [Int], layer: [Int] = []) throws -> Implementation {
        let s = snapshot
        try validateInput(inputShape, state: s)
        return try choose(s, flat: try layers.flatIndex(layer), inputShape: inputShape)
    }

    // MARK: - Internals

    /// The plan of one forward call: the input validated against one snapshot of the layer, the
    /// plan for its shape (cached per shape in the state: the `.auto` choice, the pipeline, the
    /// image and output shapes), and the memory check. BLAS must be loaded. On a shape seen
    /// before, the snapshot and the plan come from one lock section.
    func plan(inputShape: [Int], layer: [Int]) throws -> ForwardPlan {
        let flatIndex = Result(catching: { try layers.flatIndex(layer) })
        let (s, cached) = state.withLock { s in
            (s, (try? flatIndex.get()).flatMap { s.plans[layer: $0, input: inputShape] })
        }
        try validateInput(inputShape, state: s)
        let flat = try flatIndex.get()
        let plan: ForwardPlan
        if let cached {
            plan = cached
        } else {
            let implementation = try choose(s, flat: flat, inputShape: inputShape)
            let pipeline = try cheapestPipeline(s, flat: flat, implementation: implementation, inputShape: inputShape).pipeline
            let (images, outShape) = try pipeline.imageAndOutputShapes(input: inputShape)
            plan = ForwardPlan(pipeline: pipeline, imageShapes: images, outputShape: outShape,
                               outputCount: try Checked.product(outShape, "output shape"))
            // Kept only if the parameters did not change meanwhile.
            state.withLock { current in
                if current.version == s.version { current.plans.insert(plan, layer: flat, input: inputShape) }
            }
        }
        // The output plus what the pipeline allocates with the workers it will use: refuse before
        // allocating (each call: the thread count and the memory bound may have changed).
        try MemoryLimit.check(elements: try Checked.add(plan.outputCount,
                                                        try plan.pipeline.workspaceFloats(input: inputShape, imageShapes: plan.imageShapes,
                                                                                          workers: Parallel.threadCount), "workspace"),
                              "forward of input \(inputShape)")
        return plan
    }

    /// Of the pipelines of layer `flat` for a concrete implementation (`ForwardPlans.variants`),
    /// the one `CostModel` estimates cheapest on `inputShape`, with that estimate.
    func cheapestPipeline(_ s: State, flat: Int, implementation: Implementation,
                          inputShape: [Int]) throws -> (pipeline: ConvPipeline, seconds: Double) {
        var best: (pipeline: ConvPipeline, seconds: Double)?
        for variant in ForwardPlans.variants(for: try layerTensor(s, flat: flat), implementation: implementation) {
            let pipeline = try cachedPipeline(s, flat: flat, implementation: implementation, variant: variant)
            let seconds = try CostModel.seconds(pipeline, input: inputShape)
            if best == nil || seconds < best!.seconds { best = (pipeline, seconds) }
        }
        return best!
    }

    /// The factorized tensor of layer `flat`.
    func layerTensor(_ s: State, flat: Int) throws -> FactorizedTensor {
        layers.isSingle ? s.weight : try s.weight.selectingLayer(layers.indices(ofFlat: flat))
    }

    /// The cached (or newly built) pipeline of layer `flat` for a concrete implementation.
    func cachedPipeline(_ s: State, flat: Int, implementation: Implementation,
                        variant: ForwardPlans.Variant = .standard) throws -> ConvPipeline {
        try cache.pipeline(layer: flat, implementation: implementation, variant: variant, version: s.version) {
            if implementation == .reconstructed {
                // The kernel and, for Winograd-eligible kernels, its transform (16/9 of it).
                let kernel = try Checked.product([outChannels, inChannels] + s.kernelSize, "kernel")
                try MemoryLimit.check(elements: try Checked.multiply(3, kernel, "kernel and its transform"),
                                      "the reconstructed kernel")
            }
            return try ForwardPlans.pipeline(for: try layerTensor(s, flat: flat), implementation: implementation,
                                             variant: variant, geometry: s.geometry[flat], bias: biasRow(s, flat: flat))
        }
    }

    /// The bias applied by layer `flat`, if any.
    func biasRow(_ s: State, flat: Int) -> [Float]? {
        guard let bias = s.bias, s.hasBias[flat] else { return nil }
        return Array(bias.scalars[(flat * outChannels)..<((flat + 1) * outChannels)])
    }

    /// Resolves `.auto` to the cheapest valid implementation under the cost model. A candidate
    /// that cannot be built (its sizes overflow or pass a 32-bit or memory bound, e.g. the
    /// mobilenet or dense kernel of a huge factorized one) is skipped; only when none can be
    /// built is the first one's error thrown.
    func choose(_ s: State, flat: Int, inputShape: [Int]) throws -> Implementation {
        guard s.implementation == .auto else { return s.implementation }
        let candidates: [Implementation] = switch factorization {
        case .cp: [.factorized, .mobilenet, .reconstructed]
        case .tucker, .tt: [.factorized, .reconstructed]
        case .dense: [.reconstructed]
        }
        var best: Implementation?, bestCost = Double.infinity
        var firstError: FactorConvError?
        for candidate in candidates {
            let cost: Double
            do {
                cost = try cheapestPipeline(s, flat: flat, implementation: candidate, inputShape: inputShape).seconds
            } catch let error as FactorConvError where error.kind == .invalidArgument || error.kind == .outOfMemory {
                firstError = firstError ?? error
                continue
            }
            if best == nil || cost < bestCost { best = candidate; bestCost = cost }
        }
        guard let best else {
            throw firstError ?? FactorConvError(.internal, "no forward implementation for \(factorization)")
        }
        return best
    }

    /// Input rank, channels and sizes.
    func validateInput(_ shape: [Int], state s: State) throws {
        let order = s.kernelSize.count
        guard shape.count == order + 2 else {
            throw FactorConvError.shape("input shape \(shape) must have \(order + 2) dimensions (batch, \(inChannels) channels, \(order) spatial)")
        }
        // An empty batch is allowed (its output is empty, as in PyTorch); empty channels or
        // spatial sizes are not.
        for (axis, v) in shape.enumerated() where v < (axis == 0 ? 0 : 1) || v > (1 << 62) {
            throw FactorConvError.invalid("input shape \(shape): size \(v) at axis \(axis) must be \(axis == 0 ? "at least 0" : "positive") and at most 2^62")
        }
        _ = try Checked.product(shape, "input shape \(shape)")
        guard shape[1] == inChannels else {
            throw FactorConvError.shape("input has \(shape[1]) channels (shape \(shape)) but the layer expects \(inChannels)")
        }
    }

    /// Rejects NaN and infinities in `values`, naming them `name`.
    static func checkFinite(_ values: [Float], _ name: String) throws {
        let finite = values.withUnsafeBufferPointer { FiniteCheck.allFiniteParallel($0) }
        if !finite { throw FactorConvError.nonFinite(name) }
    }
}
