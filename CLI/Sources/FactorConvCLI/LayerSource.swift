import FactorConv

/// The layer a `run` or `bench` works on: a layer file's, or the layer `layerName` of a model
/// bundle (which a bundle of one layer may omit). `--layer-name` on a single-layer file, a
/// missing name for a bundle of several layers and an unknown name are errors that list the
/// bundle's layers.
func loadLayer(path: String, layerName: String?) throws -> FactorizedConv {
    guard try SafeTensors.readMetadata(from: path)[LayerBundle.metadataKey] != nil else {
        if let layerName {
            throw ToolError(message: "'\(path)' is a single-layer file, not a model bundle: --layer-name '\(layerName)' does not apply")
        }
        return try FactorizedConv.load(from: path)
    }
    let bundle = try LayerBundle.load(from: path)
    let listed = bundle.names.prefix(20).map { "'\($0)'" }.joined(separator: ", ") + (bundle.count > 20 ? ", ..." : "")
    guard let layerName else {
        guard bundle.count == 1 else {
            throw ToolError(message: "'\(path)' is a model bundle of \(bundle.count) layers: choose one with --layer-name (\(listed))")
        }
        return bundle.layers[0].layer
    }
    guard let conv = bundle[layerName] else {
        throw ToolError(message: "'\(path)' has no layer named '\(layerName)'; its \(bundle.count) layers: \(listed)")
    }
    return conv
}
