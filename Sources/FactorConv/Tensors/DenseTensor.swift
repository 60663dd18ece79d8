/// An unfactorized tensor (tltorch `DenseTensor`, state_dict name `weight.tensor`).
public struct DenseTensor: Equatable, Sendable {
    /// The full tensor.
    public let tensor: Tensor<Float>

    /// Wraps a full tensor.
    /// - Throws: `.shapeMismatch` when it has no modes or an empty mode.
    public init(tensor: Tensor<Float>) throws {
        guard tensor.rank >= 1 else { throw FactorConvError.shape("tensor has shape \(tensor.shape) but expected at least one mode") }
        try ParameterCheck.expectRank("tensor", tensor, tensor.rank, "")
        self.tensor = tensor
    }

    /// The tensor's shape.
    public var shape: [Int] { tensor.shape }
    /// The number of scalars stored.
    public var parameterCount: Int { tensor.count }

    /// The tensor itself.
    public func reconstruct() -> Tensor<Float> { tensor }

    /// The tensor in Double.
    public func reconstructDouble() -> Tensor<Double> { tensor.converted() }

    /// `tensor[indices]` on the leading modes.
    /// - Throws: `.indexOutOfRange` for an index outside its mode; `.invalidArgument` when every
    ///   mode would be indexed.
    public func selectingLayer(_ indices: [Int]) throws -> DenseTensor {
        try ParameterCheck.layerIndices(indices, shape: shape)
        let rest = Array(shape.dropFirst(indices.count))
        let block = rest.reduce(1, *)
        var offset = 0
        for (mode, index) in indices.enumerated() { offset = offset * shape[mode] + index }
        let values = Array(tensor.scalars[(offset * block)..<((offset + 1) * block)])
        return try DenseTensor(tensor: Tensor(shape: rest, scalars: values))
    }

    /// A tensor of i.i.d. `N(0, std²)` entries.
    public static func random(shape: [Int], std: Double = 0.02, seed: UInt64) throws -> DenseTensor {
        try ParameterCheck.allocatable(shape, "tensor")
        try ParameterCheck.std(std)
        var rng = NormalGenerator(seed: seed)
        return try DenseTensor(tensor: rng.normalTensor(shape: shape, std: std))
    }

    /// A zero tensor.
    public static func zeros(shape: [Int]) throws -> DenseTensor {
        try ParameterCheck.allocatable(shape, "tensor")
        return try DenseTensor(tensor: Tensor(shape: shape))
    }
}
