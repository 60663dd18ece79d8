/// Saving and loading a layer as one `.safetensors` file: the parameters under tltorch's
/// state_dict names, the configuration as JSON under the "factorconv" metadata key.
extension FactorizedConv {
    /// Saves the layer (parameters and configuration) to `path`, atomically: the file is
    /// written under a temporary name in the same directory and renamed, so a failure never
    /// leaves a partial file at `path`. A symlink is followed and its target replaced; an
    /// existing file keeps its mode and, where permitted, its owner.
    /// - Throws: `.io` when the file cannot be written, or `path` names something other than a
    ///   regular file (a directory, FIFO, device or socket, which is left as it is).
    public func save(to path: String) throws {
        try fileContents().write(to: path)
    }

    /// The bytes of the layer's `.safetensors` file (what `save(to:)` writes), for a caller that
    /// keeps or sends them itself: pickling, a network, weights compiled into a binary.
    public func fileBytes() throws -> [UInt8] {
        try fileContents().encoded()
    }

    /// A layer from the bytes of a layer file (`fileBytes()`, or a file's contents), with the
    /// checks of `load(from:)`.
    /// - Throws: `.format` (malformed or inconsistent bytes, naming what), `.outOfMemory`.
    public static func load(fileBytes bytes: [UInt8]) throws -> FactorizedConv {
        let file = try SafeTensors.decode(bytes)
        do {
            return try make(from: file)
        } catch let e as FactorConvError where e.kind != .outOfMemory {
            throw FactorConvError(.format, "layer file bytes: \(e.message)")
        }
    }

    /// Parameters and configuration of one consistent snapshot, as a layer file.
    func fileContents() -> SafeTensors {
        let s = snapshot
        let configuration = LayerFileConfiguration(self, state: s)
        return SafeTensors(tensors: Self.fileTensors(s), metadata: [LayerFileConfiguration.metadataKey: configuration.json])
    }

    /// The tensors a layer file holds for state `s`, under their state_dict names, in file
    /// order: the factorized tensor's parameters (`namedParameters` order), then the bias.
    static func fileTensors(_ s: State) -> [(name: String, value: Tensor<Float>)] {
        var tensors = s.weight.namedParameters(prefix: "weight").map { (name: $0.0, value: $0.1) }
        if let bias = s.bias { tensors.append((name: "bias", value: bias)) }
        return tensors
    }

    /// Loads a layer saved by `save(to:)`, or written by another safetensors writer (e.g. the
    /// `safetensors` Python package) with the same tensor names and "factorconv" metadata.
    /// Every value is validated: the configuration's fields, the tensors' names and shapes
    /// against the configuration, and finiteness.
    /// - Throws: `.io` (cannot read, or not a regular file: a FIFO, device or directory is
    ///   refused without being waited on), `.format` (malformed or inconsistent file, naming what),
    ///   `.outOfMemory` (data beyond `FileLimits.maxBytes`).
    public static func load(from path: String) throws -> FactorizedConv {
        let file = try SafeTensors.read(from: path)
        do {
            return try make(from: file)
        } catch let e as FactorConvError where e.kind != .outOfMemory && e.kind != .io {
            throw FactorConvError(.format, "'\(path)': \(e.message)")
        }
    }

    /// An independent layer with this one's parameters and configuration (what a save and load
    /// would give, without the bytes): later changes to either leave the other as it is.
    public func copy() throws -> FactorizedConv {
        let s = snapshot
        return try Self.make(LayerFileConfiguration(self, state: s), tensors: Self.fileTensors(s))
    }

    /// Builds a layer from a parsed file (errors are mapped to `.format` by the caller).
    static func make(from file: SafeTensors) throws -> FactorizedConv {
        guard let text = file.metadata[LayerFileConfiguration.metadataKey] else {
            if file.metadata[LayerBundle.metadataKey] != nil {
                throw FactorConvError(.format, "it is a model bundle (\"\(LayerBundle.metadataKey)\" metadata), not a single-layer file: open it as a bundle (LayerBundle.load, fconv_bundle_open, fc.load_layers)")
            }
            throw FactorConvError(.format, "no \"\(LayerFileConfiguration.metadataKey)\" entry in __metadata__: not a FactorConv layer file")
        }
        if file.metadata[LayerBundle.metadataKey] != nil {
            throw FactorConvError(.format, "__metadata__ has both \"\(LayerFileConfiguration.metadataKey)\" and \"\(LayerBundle.metadataKey)\": a file is a single layer or a bundle, not both")
        }
        return try make(try LayerFileConfiguration(json: text), tensors: file.tensors)
    }

    /// Builds a layer from its configuration and its tensors under their state_dict names
    /// ("bias", "weight.factors.factor_0", ...): every name, shape and value is checked against
    /// the configuration (errors are mapped to `.format` by the caller).
    static func make(_ config: LayerFileConfiguration, tensors: [(name: String, value: Tensor<Float>)]) throws -> FactorizedConv {
        try config.implementation.validate(for: config.factorization)
        var values: [String: Tensor<Float>] = [:]
        for (name, value) in tensors { values[name] = value }
        let bias = values.removeValue(forKey: "bias")
        for (name, value) in values where !value.allFinite {
            throw FactorConvError(.format, "parameter \(name) contains NaN or infinite values")
        }
        if let bias, !bias.allFinite { throw FactorConvError(.format, "parameter bias contains NaN or infinite values") }
        let tensor = try FactorizedTensor.fromNamedParameters(config.factorization, values, prefix: "weight")
        let grid = try LayerGrid(config.nLayers)
        let expectedShape = try KernelLayout.factorizationShape(
            kernelShape: [config.outChannels, config.inChannels] + config.kernelSize,
            factorization: config.factorization, layers: grid.shape)
        guard tensor.shape == expectedShape else {
            throw FactorConvError(.format, "the factors describe a tensor of shape \(tensor.shape) but the configuration (channels, kernel_size, n_layers) needs \(expectedShape)")
        }
        guard tensor.rank.values == config.rank else {
            throw FactorConvError(.format, "the factors have rank \(tensor.rank) but the configuration says \(config.rank)")
        }
        if bias == nil && config.hasBias.contains(true) {
            throw FactorConvError(.format, "has_bias is set for some layer but the file has no 'bias' tensor")
        }
        let conv = try fromFactorization(tensor, implementation: config.implementation, bias: bias, nLayers: config.nLayers)
        conv.mutate { s in
            s.geometry = config.geometry
            s.hasBias = config.hasBias
        }
        return conv
    }
}
