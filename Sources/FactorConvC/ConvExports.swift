import CFactorConvABI
import FactorConv

/// Resolves a conv handle argument.
func convHandle(_ pointer: OpaquePointer?) throws -> ConvHandle {
    try Handles.resolve(pointer, as: ConvHandle.self, "conv")
}

extension Implementation {
    /// The pinned FCONV_IMPL_* value.
    var code: Int32 {
        switch self {
        case .factorized: FCONV_IMPL_FACTORIZED
        case .reconstructed: FCONV_IMPL_RECONSTRUCTED
        case .mobilenet: FCONV_IMPL_MOBILENET
        case .auto: FCONV_IMPL_AUTO
        }
    }

    /// The implementation of a pinned FCONV_IMPL_* value.
    init(code: Int32) throws {
        switch code {
        case FCONV_IMPL_FACTORIZED: self = .factorized
        case FCONV_IMPL_RECONSTRUCTED: self = .reconstructed
        case FCONV_IMPL_MOBILENET: self = .mobilenet
        case FCONV_IMPL_AUTO: self = .auto
        default: throw FactorConvError.invalid("implementation \(code) is not an FCONV_IMPL_* value (0...3)")
        }
    }
}

@c @implementation
public func fconv_conv_set(_ conv: OpaquePointer?, _ layer: UnsafePointer<Int64>?, _ layerNDim: Int,
                           _ stride: UnsafePointer<Int64>?, _ padding: UnsafePointer<Int64>?, _ dilation: UnsafePointer<Int64>?,
                           _ nSpatial: Int, _ bias: UnsafePointer<Float>?, _ biasCount: Int) -> fconv_status {
    guarded("fconv_conv_set") {
        let handle = try convHandle(conv)
        let index = try handle.layer(layer, layerNDim)
        let order = handle.conv.order
        if stride != nil || padding != nil || dilation != nil {
            guard nSpatial == order else {
                throw FactorConvError.shape("n_spatial \(UInt(bitPattern: nSpatial)) must equal the layer's order \(order)")
            }
        }
        func values(_ p: UnsafePointer<Int64>?, _ fallback: Int) -> [Int] { p.map { p in (0..<order).map { Int(p[$0]) } } ?? [fallback] }
        var biasValues: [Float]? = nil
        if let bias {
            guard biasCount == handle.conv.outChannels else {
                throw FactorConvError.shape("bias_count \(UInt(bitPattern: biasCount)) must equal out_channels \(handle.conv.outChannels)")
            }
            biasValues = Array(UnsafeBufferPointer(start: bias, count: biasCount))
        }
        try handle.conv.set(layer: index, stride: values(stride, 1), padding: values(padding, 0),
                            dilation: values(dilation, 1), bias: biasValues)
    }
}

@c @implementation
public func fconv_conv_get_conv(_ conv: OpaquePointer?, _ layer: UnsafePointer<Int64>?, _ layerNDim: Int,
                                _ out: UnsafeMutablePointer<OpaquePointer?>?) -> fconv_status {
    out?.pointee = nil
    return guarded("fconv_conv_get_conv") {
        let out = try Arguments.required(out, "out")
        let handle = try convHandle(conv)
        guard handle.fixedLayer == nil else { throw FactorConvError.invalid("conv is already a sub-convolution") }
        let index = try handle.layer(layer, layerNDim)
        _ = try handle.conv.subConv(at: index)   // validates the index and the grid
        out.pointee = Handles.register(ConvHandle(conv: handle.conv, fixedLayer: index))
    }
}

@c @implementation
public func fconv_conv_transduct(_ conv: OpaquePointer?, _ kernelSize: Int64, _ mode: Int64, _ padding: Int64,
                                 _ stride: Int64, _ dilation: Int64) -> fconv_status {
    guarded("fconv_conv_transduct") {
        let handle = try convHandle(conv)
        guard handle.fixedLayer == nil else { throw FactorConvError.invalid("transduct a whole layer, not a sub-convolution") }
        try handle.conv.transduct(kernelSize: Int(kernelSize), mode: Int(mode), padding: Int(padding),
                                  stride: Int(stride), dilation: Int(dilation))
    }
}

@c @implementation
public func fconv_conv_output_shape(_ conv: OpaquePointer?, _ inputShape: UnsafePointer<Int64>?, _ inputNDim: Int,
                                    _ layer: UnsafePointer<Int64>?, _ layerNDim: Int, _ outShape: UnsafeMutablePointer<Int64>?,
                                    _ outShapeCapacity: Int) -> fconv_status {
    guarded("fconv_conv_output_shape") {
        let handle = try convHandle(conv)
        let shape = try Arguments.shape(inputShape, inputNDim, "input_shape")
        let result = try handle.conv.outputShape(inputShape: shape, layer: try handle.layer(layer, layerNDim))
        try Arguments.copy(result, into: outShape, capacity: outShapeCapacity, count: nil, "out_shape (out_shape_capacity)")
    }
}

@c @implementation
public func fconv_conv_forward(_ conv: OpaquePointer?, _ input: UnsafePointer<Float>?, _ inputShape: UnsafePointer<Int64>?,
                               _ inputNDim: Int, _ layer: UnsafePointer<Int64>?, _ layerNDim: Int,
                               _ output: UnsafeMutablePointer<Float>?, _ outputCapacity: Int) -> fconv_status {
    guarded("fconv_conv_forward") {
        let handle = try convHandle(conv)
        let shape = try Arguments.shape(inputShape, inputNDim, "input_shape")
        let index = try handle.layer(layer, layerNDim)
        let x = try Arguments.required(input, "input")
        let y = try Arguments.required(output, "output")
        try handle.conv.forward(input: x, inputShape: shape, output: UnsafeMutableBufferPointer(start: y, count: outputCapacity),
                                layer: index, requiringBLAS: false)   // guarded has loaded it
    }
}

@c @implementation
public func fconv_conv_forward_shaped(_ conv: OpaquePointer?, _ input: UnsafePointer<Float>?, _ inputShape: UnsafePointer<Int64>?,
                                      _ inputNDim: Int, _ layer: UnsafePointer<Int64>?, _ layerNDim: Int,
                                      _ output: UnsafeMutablePointer<Float>?, _ outputShape: UnsafePointer<Int64>?,
                                      _ outputNDim: Int) -> fconv_status {
    guarded("fconv_conv_forward_shaped") {
        let handle = try convHandle(conv)
        let shape = try Arguments.shape(inputShape, inputNDim, "input_shape")
        let expected = try Arguments.shape(outputShape, outputNDim, "output_shape")
        let index = try handle.layer(layer, layerNDim)
        let x = try Arguments.required(input, "input")
        let y = try Arguments.required(output, "output")
        let count = try Checked.product(expected, "output_shape")
        try handle.conv.forward(input: x, inputShape: shape, output: UnsafeMutableBufferPointer(start: y, count: count),
                                expectedShape: expected, layer: index, requiringBLAS: false)   // guarded has loaded it
    }
}

@c @implementation
public func fconv_conv_set_implementation(_ conv: OpaquePointer?, _ implementation: fconv_implementation) -> fconv_status {
    guarded("fconv_conv_set_implementation") {
        try convHandle(conv).conv.setImplementation(try Implementation(code: implementation))
    }
}

@c @implementation
public func fconv_conv_chosen_implementation(_ conv: OpaquePointer?, _ inputShape: UnsafePointer<Int64>?, _ inputNDim: Int,
                                             _ layer: UnsafePointer<Int64>?, _ layerNDim: Int,
                                             _ implementation: UnsafeMutablePointer<fconv_implementation>?) -> fconv_status {
    guarded("fconv_conv_chosen_implementation") {
        let handle = try convHandle(conv)
        let out = try Arguments.required(implementation, "implementation")
        let shape = try Arguments.shape(inputShape, inputNDim, "input_shape")
        out.pointee = try handle.conv.chosenImplementation(inputShape: shape, layer: handle.layer(layer, layerNDim)).code
    }
}
