import CFactorConvABI
import FactorConv

/// Geometry from the options' stride/padding/dilation for `order` spatial dimensions.
private func geometry(_ o: LayerOptions, order: Int) throws -> ConvGeometry {
    func values(_ key: String, _ set: [Int]?, _ fallback: Int) throws -> [Int] {
        let v = set ?? [fallback]
        if v.count == 1 { return Array(repeating: v[0], count: order) }
        guard v.count == order else { throw FactorConvError.invalid("option '\(key)' has \(v.count) entries; expected 1 or \(order)") }
        return v
    }
    return try ConvGeometry(order: order, stride: values("stride", o.stride, 1), padding: values("padding", o.padding, 0),
                            dilation: values("dilation", o.dilation, 1))
}

/// Reads a dense conv's bias (out_channels values); NaN/Inf is refused like in the kernel, since a
/// layer holding it could be saved but never loaded back (the file reader rejects non-finite data).
private func denseBias(_ data: UnsafePointer<Float>?, count: Int, _ name: String) throws -> [Float]? {
    guard let data else { return nil }
    let values = Array(UnsafeBufferPointer(start: data, count: count))
    guard values.allSatisfy(\.isFinite) else { throw FactorConvError.nonFinite(name) }
    return values
}

/// Reads a kernel: shape (out, in, K...) and its data, validated.
/// `alreadyCopied` kernel elements were copied before (from_conv_list): the bound covers them all.
private func denseKernel(_ data: UnsafePointer<Float>?, _ shape: UnsafePointer<Int64>?, _ ndim: Int, _ name: String,
                         alreadyCopied: Int = 0) throws -> Tensor<Float> {
    let dims = try Arguments.shape(shape, ndim, "\(name)_shape")
    guard dims.count >= 3 else {
        throw FactorConvError.shape("\(name)_ndim is \(dims.count) but a kernel has at least 3 dimensions (out_channels, in_channels, kernel...)")
    }
    for (axis, v) in dims.enumerated() where v < 1 || v > (1 << 40) {
        throw FactorConvError.invalid("\(name)_shape \(dims): size \(v) at axis \(axis) must be in 1...2^40")
    }
    let count = try Checked.product(dims, "\(name)_shape \(dims)")
    // The copy below is an allocation of the kernel's size: bound it before reading the caller's data.
    try MemoryLimit.check(elements: try Checked.add(alreadyCopied, count, "kernel sizes"),
                          alreadyCopied == 0 ? "\(name) of shape \(dims)" : "\(name) of shape \(dims) after \(alreadyCopied) kernel values")
    let data = try Arguments.required(data, name)
    return try Tensor(shape: dims, scalars: Array(UnsafeBufferPointer(start: data, count: count)))
}

@c @implementation
public func fconv_conv_create(_ inChannels: Int64, _ outChannels: Int64, _ kernelSize: UnsafePointer<Int64>?, _ order: Int,
                              _ optionsPointer: OpaquePointer?, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> fconv_status {
    out?.pointee = nil
    return guarded("fconv_conv_create") {
        let out = try Arguments.required(out, "out")
        let (o, _) = try options(optionsPointer)
        let kernel = try Arguments.shape(kernelSize, order, "kernel_size")
        let g = try geometry(o, order: kernel.count)
        let conv = try FactorizedConv(
            inChannels: Int(inChannels), outChannels: Int(outChannels), kernelSize: kernel,
            stride: g.stride, padding: g.padding, dilation: g.dilation, bias: o.bias ?? false, hasBias: o.hasBias,
            nLayers: o.nLayers ?? [], factorization: o.factorization ?? .cp, rank: o.rank ?? .same,
            implementation: o.implementation ?? .factorized, fixedRankModes: o.fixedRankModes, seed: o.seed)
        out.pointee = Handles.register(ConvHandle(conv: conv))
    }
}

@c @implementation
public func fconv_conv_from_conv(_ weight: UnsafePointer<Float>?, _ weightShape: UnsafePointer<Int64>?, _ weightNDim: Int,
                                 _ bias: UnsafePointer<Float>?, _ optionsPointer: OpaquePointer?,
                                 _ out: UnsafeMutablePointer<OpaquePointer?>?) -> fconv_status {
    out?.pointee = nil
    return guarded("fconv_conv_from_conv") {
        let out = try Arguments.required(out, "out")
        let (o, progress) = try options(optionsPointer)
        let kernel = try denseKernel(weight, weightShape, weightNDim, "weight")
        let biasValues = try denseBias(bias, count: kernel.shape[0], "bias")
        let dense = try FactorizedConv.DenseConv(weight: kernel, bias: biasValues, geometry: geometry(o, order: kernel.rank - 2))
        let conv = try FactorizedConv.fromConv(
            dense, rank: o.rank ?? .same, factorization: o.factorization ?? .cp, implementation: o.implementation ?? .reconstructed,
            decompose: o.decompose ?? true, options: o.decomposition, fixedRankModes: o.fixedRankModes,
            seed: o.seed, progress: progress)
        out.pointee = Handles.register(ConvHandle(conv: conv))
    }
}

@c @implementation
public func fconv_conv_from_conv_list(
    _ nConvs: Int, _ weights: UnsafePointer<UnsafePointer<Float>?>?, _ weightShape: UnsafePointer<Int64>?, _ weightNDim: Int,
    _ biases: UnsafePointer<UnsafePointer<Float>?>?, _ strides: UnsafePointer<Int64>?, _ paddings: UnsafePointer<Int64>?,
    _ dilations: UnsafePointer<Int64>?, _ optionsPointer: OpaquePointer?, _ out: UnsafeMutablePointer<OpaquePointer?>?
) -> fconv_status {
    out?.pointee = nil
    return guarded("fconv_conv_from_conv_list") {
        let out = try Arguments.required(out, "out")
        let (o, progress) = try options(optionsPointer)
        guard nConvs >= 1 && nConvs <= 1 << 20 else { throw FactorConvError.invalid("n_convs \(UInt(bitPattern: nConvs)) must be in 1...2^20") }
        let weights = try Arguments.required(weights, "weights")
        var convs = [FactorizedConv.DenseConv]()
        var copied = 0
        for i in 0..<nConvs {
            let kernel = try denseKernel(weights[i], weightShape, weightNDim, "weights[\(i)]", alreadyCopied: copied)
            copied += kernel.count
            let order = kernel.rank - 2
            func row(_ p: UnsafePointer<Int64>?) -> [Int]? { p.map { p in (0..<order).map { Int(p[i * order + $0]) } } }
            let g = try ConvGeometry(order: order, stride: row(strides), padding: row(paddings), dilation: row(dilations))
            let bias = try denseBias(biases?[i], count: kernel.shape[0], "biases[\(i)]")
            convs.append(try FactorizedConv.DenseConv(weight: kernel, bias: bias, geometry: g))
        }
        let conv = try FactorizedConv.fromConvList(
            convs, rank: o.rank ?? .same, factorization: o.factorization ?? .cp, implementation: o.implementation ?? .reconstructed,
            decompose: o.decompose ?? true, options: o.decomposition, fixedRankModes: o.fixedRankModes,
            seed: o.seed, progress: progress)
        out.pointee = Handles.register(ConvHandle(conv: conv))
    }
}

@c @implementation
public func fconv_conv_free(_ conv: OpaquePointer?) {
    Handles.release(conv, as: ConvHandle.self)
}
