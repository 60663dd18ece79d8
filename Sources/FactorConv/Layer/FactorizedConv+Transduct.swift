/// Transduction (behaviour notes §8): adds a spatial dimension to a trained N-D layer, making it (N+1)-D.
extension FactorizedConv {
    /// Inserts a new spatial dimension of kernel size `kernelSize` before spatial dimension
    /// `mode` (0...order), with its stride, padding and dilation inserted at the same position
    /// in every layer's geometry. The new kernel is:
    /// - CP: the old kernel at the centre tap, zero elsewhere (a factor that is 1 at `k/2`), so
    ///   with padding `k/2` each output frame equals the old conv of the same input frame;
    /// - TT: the old kernel replicated along the new dimension (an identity core at every tap);
    /// - Tucker (tltorch cannot): a rank-1 mode whose factor is the centre impulse — as CP;
    /// - Dense: the old kernel at the centre tap.
    /// - Throws: `.invalidArgument` for a mode outside 0...order or invalid geometry; the layer
    ///   is unchanged on error.
    public func transduct(kernelSize k: Int, mode: Int = 0, padding: Int = 0, stride: Int = 1, dilation: Int = 1) throws {
        try mutate { s in
            let order = s.kernelSize.count
            guard mode >= 0 && mode <= order else {
                throw FactorConvError.invalid("transduct mode \(mode) must be in 0...\(order) (the new dimension's position)")
            }
            guard k >= 1 && k <= (1 << 20) else { throw FactorConvError.invalid("transduct kernel_size must be in 1...\(1 << 20), got \(k)") }
            guard order < Self.maxOrder else {
                throw FactorConvError.invalid("transduct would make the layer \(order + 1)-D; at most \(Self.maxOrder) spatial dimensions are supported")
            }
            let geometry = try s.geometry.map { try $0.inserting(at: mode, stride: stride, padding: padding, dilation: dilation) }
            let position = layers.modes + (factorization == .tt ? 1 : 2) + mode
            s.weight = try Self.inserting(k, at: position, into: s.weight)
            s.geometry = geometry
            s.kernelSize.insert(k, at: mode)
        }
    }

    /// `tensor` with a new mode of size `k` at `position`, initialized as documented in `transduct`.
    static func inserting(_ k: Int, at position: Int, into tensor: FactorizedTensor) throws -> FactorizedTensor {
        switch tensor {
        case .cp(let cp):
            var factors = cp.factors
            factors.insert(centreImpulse(k, columns: cp.rank), at: position)
            return .cp(try CPTensor(weights: cp.weights, factors: factors))
        case .tucker(let tucker):
            var factors = tucker.factors
            factors.insert(centreImpulse(k, columns: 1), at: position)
            var coreShape = tucker.core.shape
            coreShape.insert(1, at: position)
            return .tucker(try TuckerTensor(core: try tucker.core.reshaped(coreShape), factors: factors))
        case .tt(let tt):
            let r = tt.cores[position].shape[0]
            var core = Tensor<Float>(shape: [r, k, r])
            for i in 0..<r { for t in 0..<k { core[i, t, i] = 1 } }
            var cores = tt.cores
            cores.insert(core, at: position)
            return .tt(try TTTensor(cores: cores))
        case .dense(let dense):
            // new[..., t, ...] = (t == k/2) ? old : 0, via the mode product with a (k, 1) impulse.
            var shape = dense.tensor.shape
            shape.insert(1, at: position)
            let lifted = try dense.tensor.reshaped(shape).modeProduct(centreImpulse(k, columns: 1), mode: position)
            return .dense(try DenseTensor(tensor: lifted))
        }
    }

    /// A (k, columns) matrix that is 1 on row k/2 and 0 elsewhere.
    static func centreImpulse(_ k: Int, columns: Int) -> Tensor<Float> {
        var m = Tensor<Float>(shape: [k, columns])
        for c in 0..<columns { m[k / 2, c] = 1 }
        return m
    }
}
