import CFactorConvABI
import FactorConv

/// The named parameters of a handle's layer.
private func parameters(_ conv: OpaquePointer?) throws -> [(name: String, value: Tensor<Float>)] {
    try convHandle(conv).conv.stateDict()
}

private func parameter(_ conv: OpaquePointer?, _ name: UnsafePointer<CChar>?) throws -> Tensor<Float> {
    let key = try Arguments.string(name, "name")
    let all = try parameters(conv)
    guard let found = all.first(where: { $0.name == key }) else {
        throw FactorConvError(.format, "unknown parameter name '\(key)'; the layer has \(all.map(\.name))")
    }
    return found.value
}

@c @implementation
public func fconv_conv_parameter_count(_ conv: OpaquePointer?, _ count: UnsafeMutablePointer<Int>?) -> fconv_status {
    guarded("fconv_conv_parameter_count") {
        let out = try Arguments.required(count, "count")
        out.pointee = try parameters(conv).count
    }
}

@c @implementation
public func fconv_conv_parameter_name(_ conv: OpaquePointer?, _ index: Int, _ buffer: UnsafeMutablePointer<CChar>?,
                                      _ capacity: Int, _ length: UnsafeMutablePointer<Int>?) -> fconv_status {
    guarded("fconv_conv_parameter_name") {
        let all = try parameters(conv)
        guard index >= 0 && index < all.count else {
            throw FactorConvError(.indexOutOfRange, "index \(UInt(bitPattern: index)) must be below the parameter count \(all.count)")
        }
        try Arguments.copy(all[index].name, into: buffer, capacity: capacity, length: length, "buffer (capacity)")
    }
}

@c @implementation
public func fconv_conv_parameter_shape(_ conv: OpaquePointer?, _ name: UnsafePointer<CChar>?, _ shape: UnsafeMutablePointer<Int64>?,
                                       _ capacity: Int, _ ndim: UnsafeMutablePointer<Int>?) -> fconv_status {
    guarded("fconv_conv_parameter_shape") {
        let value = try parameter(conv, name)
        try Arguments.copy(value.shape, into: shape, capacity: capacity, count: ndim, "shape (capacity)")
    }
}

@c @implementation
public func fconv_conv_get_parameter(_ conv: OpaquePointer?, _ name: UnsafePointer<CChar>?, _ values: UnsafeMutablePointer<Float>?,
                                     _ capacity: Int) -> fconv_status {
    guarded("fconv_conv_get_parameter") {
        let value = try parameter(conv, name)
        try Arguments.capacity(capacity, needed: value.count, "values (capacity)")
        let out = try Arguments.required(values, "values")
        value.scalars.withUnsafeBufferPointer { out.update(from: $0.baseAddress!, count: value.count) }
    }
}

@c @implementation
public func fconv_conv_set_parameters(_ conv: OpaquePointer?, _ count: Int, _ names: UnsafePointer<UnsafePointer<CChar>?>?,
                                      _ values: UnsafePointer<UnsafePointer<Float>?>?, _ shapes: UnsafePointer<UnsafePointer<Int64>?>?,
                                      _ ndims: UnsafePointer<Int>?, _ strict: Int32) -> fconv_status {
    guarded("fconv_conv_set_parameters") {
        let handle = try convHandle(conv)
        guard count >= 0 && count <= 4096 else { throw FactorConvError.invalid("count \(UInt(bitPattern: count)) must be at most 4096") }
        var dict = [String: Tensor<Float>]()
        if count > 0 {
            let names = try Arguments.required(names, "names")
            let values = try Arguments.required(values, "values")
            let shapes = try Arguments.required(shapes, "shapes")
            let ndims = try Arguments.required(ndims, "ndims")
            var copied = 0   // elements copied so far: the copies are bounded by the memory limit
            for i in 0..<count {
                let name = try Arguments.string(names[i], "names[\(i)]")
                let dims = try Arguments.shape(shapes[i], ndims[i], "shapes[\(i)] (\(name))")
                for (axis, v) in dims.enumerated() where v < 1 || v > (1 << 40) {
                    throw FactorConvError.shape("parameter \(name): size \(v) at axis \(axis) must be in 1...2^40")
                }
                let n = try Checked.product(dims, "parameter \(name) shape \(dims)")
                copied = try Checked.add(copied, n, "parameters")
                try MemoryLimit.check(elements: copied, "parameter \(name) of shape \(dims)")
                let data = try Arguments.required(values[i], "values[\(i)] (\(name))")
                guard dict[name] == nil else { throw FactorConvError(.format, "parameter \(name) is given twice") }
                dict[name] = try Tensor(shape: dims, scalars: Array(UnsafeBufferPointer(start: data, count: n)))
            }
        }
        try handle.conv.loadStateDict(dict, strict: strict != 0)
    }
}

/// The kernel of a handle's layer (or every layer) in PyTorch layout.
private func kernel(_ handle: ConvHandle, _ layer: UnsafePointer<Int64>?, _ layerNDim: Int) throws -> Tensor<Float> {
    let index = try handle.layer(layer, layerNDim)
    return try handle.conv.reconstructKernel(layer: index.isEmpty && handle.conv.layers.isSingle == false ? nil : index)
}

@c @implementation
public func fconv_conv_reconstruct_kernel(_ conv: OpaquePointer?, _ layer: UnsafePointer<Int64>?, _ layerNDim: Int,
                                          _ out: UnsafeMutablePointer<Float>?, _ capacity: Int) -> fconv_status {
    guarded("fconv_conv_reconstruct_kernel") {
        let k = try kernel(try convHandle(conv), layer, layerNDim)
        try Arguments.capacity(capacity, needed: k.count, "kernel (capacity)")
        let out = try Arguments.required(out, "kernel")
        k.scalars.withUnsafeBufferPointer { out.update(from: $0.baseAddress!, count: k.count) }
    }
}

@c @implementation
public func fconv_conv_kernel_shape(_ conv: OpaquePointer?, _ layer: UnsafePointer<Int64>?, _ layerNDim: Int,
                                    _ shape: UnsafeMutablePointer<Int64>?, _ capacity: Int, _ ndim: UnsafeMutablePointer<Int>?) -> fconv_status {
    guarded("fconv_conv_kernel_shape") {
        let handle = try convHandle(conv)
        let index = try handle.layer(layer, layerNDim)
        let c = handle.conv
        var dims = [c.outChannels, c.inChannels] + c.kernelSize
        if index.isEmpty && !c.layers.isSingle { dims = c.layers.shape + dims } else { _ = try c.layers.flatIndex(index) }
        try Arguments.copy(dims, into: shape, capacity: capacity, count: ndim, "shape (capacity)")
    }
}

@c @implementation
public func fconv_conv_reset_parameters(_ conv: OpaquePointer?, _ std: Double, _ seed: UInt64) -> fconv_status {
    guarded("fconv_conv_reset_parameters") { try convHandle(conv).conv.resetParameters(std: std, seed: seed) }
}
