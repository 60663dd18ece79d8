/// Conversions between a convolution kernel `(C_out, C_in, K...)` and the tensor that is actually
/// factorized: identical for CP/Tucker/Dense; `(C_in, K..., C_out)` for TT so that the first core
/// maps input channels and the last core output channels (behaviour notes §2.1). Leading layer modes
/// (`n_layers`) stay in front in both layouts.
package enum KernelLayout {
    /// The factorized tensor shape for a kernel shape: `layers + kernel`, the out-channel axis
    /// moved last for TT.
    /// - Throws: `.invalidArgument` when the kernel has fewer than 2 modes or a size below 1.
    package static func factorizationShape(kernelShape: [Int], factorization: Factorization, layers: [Int] = []) throws -> [Int] {
        guard kernelShape.count >= 2 else {
            throw FactorConvError.invalid("a kernel shape needs (out, in, k...) but got \(kernelShape)")
        }
        guard (kernelShape + layers).allSatisfy({ $0 >= 1 }) else {
            throw FactorConvError.invalid("kernel shape \(kernelShape) with layers \(layers) has a size below 1")
        }
        var shape = kernelShape
        if factorization == .tt { shape.append(shape.removeFirst()) }
        return layers + shape
    }

    /// The kernel shape `(layers..., C_out, C_in, K...)` for a factorized tensor shape with
    /// `layerModes` leading layer modes (inverse of `factorizationShape`).
    /// - Throws: `.invalidArgument` when fewer than 2 non-layer modes remain.
    package static func kernelShape(factorizationShape shape: [Int], factorization: Factorization, layerModes: Int = 0) throws -> [Int] {
        guard layerModes >= 0, shape.count - layerModes >= 2 else {
            throw FactorConvError.invalid("factorized shape \(shape) with \(layerModes) layer modes has no (out, in) modes")
        }
        var result = shape
        if factorization == .tt { result.insert(result.removeLast(), at: layerModes) }
        return result
    }

    /// Moves a kernel `(layers..., C_out, C_in, K...)` into factorization layout (TT: out-channel axis last).
    package static func kernelToTensor<S: TensorScalar>(_ kernel: Tensor<S>, factorization: Factorization, layerModes: Int = 0) throws -> Tensor<S> {
        guard factorization == .tt else { return kernel }
        guard kernel.rank - layerModes >= 2 else {
            throw FactorConvError.invalid("kernel of shape \(kernel.shape) with \(layerModes) layer modes has no (out, in) modes")
        }
        return try BatchedTranspose.movingAxisLast(kernel, from: layerModes)
    }

    /// Moves a tensor in factorization layout back to kernel layout (TT: last axis to just after the layer modes).
    package static func tensorToKernel<S: TensorScalar>(_ tensor: Tensor<S>, factorization: Factorization, layerModes: Int = 0) throws -> Tensor<S> {
        guard factorization == .tt else { return tensor }
        guard tensor.rank - layerModes >= 2 else {
            throw FactorConvError.invalid("tensor of shape \(tensor.shape) with \(layerModes) layer modes has no (out, in) modes")
        }
        return try BatchedTranspose.movingLastAxis(tensor, to: layerModes)
    }
}
