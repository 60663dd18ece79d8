/// A factorized tensor of any kind: the weight of a factorized convolution (tltorch's
/// `FactorizedTensor`). Layer modes (`n_layers`) come first in `shape`; a TT tensor is in
/// `(C_in, K..., C_out)` layout, see `KernelLayout` and `kernel(layerModes:)`.
public enum FactorizedTensor: Equatable, Sendable, CustomStringConvertible {
    /// CP factorization.
    case cp(CPTensor)
    /// Tucker factorization.
    case tucker(TuckerTensor)
    /// Tensor-train factorization.
    case tt(TTTensor)
    /// No factorization.
    case dense(DenseTensor)

    /// Which factorization this is.
    public var factorization: Factorization {
        switch self {
        case .cp: .cp
        case .tucker: .tucker
        case .tt: .tt
        case .dense: .dense
        }
    }

    /// The shape of the factorized tensor (layer modes included; TT layout for TT).
    public var shape: [Int] {
        switch self {
        case .cp(let t): t.shape
        case .tucker(let t): t.shape
        case .tt(let t): t.shape
        case .dense(let t): t.shape
        }
    }

    /// The current rank (always read from the parameters, never a stale snapshot).
    public var rank: TensorRank {
        switch self {
        case .cp(let t): .cp(t.rank)
        case .tucker(let t): .tucker(t.rank)
        case .tt(let t): .tt(t.rank)
        case .dense: .dense
        }
    }

    /// The number of scalars stored.
    public var parameterCount: Int {
        switch self {
        case .cp(let t): t.parameterCount
        case .tucker(let t): t.parameterCount
        case .tt(let t): t.parameterCount
        case .dense(let t): t.parameterCount
        }
    }

    /// The full tensor in factorization layout, computed in Float.
    public func reconstruct() throws -> Tensor<Float> {
        switch self {
        case .cp(let t): try t.reconstruct()
        case .tucker(let t): try t.reconstruct()
        case .tt(let t): try t.reconstruct()
        case .dense(let t): t.reconstruct()
        }
    }

    /// The full tensor in factorization layout, computed in Double from the Float parameters.
    public func reconstructDouble() throws -> Tensor<Double> {
        switch self {
        case .cp(let t): try t.reconstructDouble()
        case .tucker(let t): try t.reconstructDouble()
        case .tt(let t): try t.reconstructDouble()
        case .dense(let t): t.reconstructDouble()
        }
    }

    /// The reconstruction in PyTorch kernel layout `(layers..., C_out, C_in, K...)`: for TT the
    /// last axis (C_out) moves to just after the `layerModes` leading layer modes.
    public func kernel(layerModes: Int = 0) throws -> Tensor<Float> {
        try KernelLayout.tensorToKernel(reconstruct(), factorization: factorization, layerModes: layerModes)
    }

    /// `kernel(layerModes:)` computed in Double.
    public func kernelDouble(layerModes: Int = 0) throws -> Tensor<Double> {
        try KernelLayout.tensorToKernel(reconstructDouble(), factorization: factorization, layerModes: layerModes)
    }

    /// The tensor with its leading (layer) modes fixed at `indices` (behaviour notes §5.2), as a new value.
    /// - Throws: `.indexOutOfRange` for an index outside its mode; `.invalidArgument` when every
    ///   mode would be indexed.
    public func selectingLayer(_ indices: [Int]) throws -> FactorizedTensor {
        switch self {
        case .cp(let t): .cp(try t.selectingLayer(indices))
        case .tucker(let t): .tucker(try t.selectingLayer(indices))
        case .tt(let t): .tt(try t.selectingLayer(indices))
        case .dense(let t): .dense(try t.selectingLayer(indices))
        }
    }

    /// Whether every parameter is finite.
    public var isFinite: Bool { namedParameters(prefix: "").allSatisfy { $0.1.allFinite } }

    /// tltorch's repr: `CPTensor(shape=(32, 16, 3, 3), rank=43)`.
    public var description: String {
        "\(factorization.displayName)Tensor(shape=\(pythonTuple(shape)), rank=\(rank))"
    }
}
