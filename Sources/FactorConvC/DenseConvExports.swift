import CFactorConvABI
import FactorConv

/// Validates the arguments shared by the dense-conv shape query and forward.
private func denseProblem(
    _ inputShape: UnsafePointer<Int64>?, _ inputNDim: Int, _ weightShape: UnsafePointer<Int64>?, _ weightNDim: Int,
    _ stride: UnsafePointer<Int64>?, _ padding: UnsafePointer<Int64>?, _ dilation: UnsafePointer<Int64>?, _ nSpatial: Int
) throws -> ConvProblem {
    let input = try Arguments.shape(inputShape, inputNDim, "input_shape")
    let weight = try Arguments.shape(weightShape, weightNDim, "weight_shape")
    guard inputNDim >= 3 else {
        throw FactorConvError.shape("input_ndim is \(inputNDim) but must be at least 3 (batch, channels, spatial...)")
    }
    guard weightNDim == inputNDim else {
        throw FactorConvError.shape("weight_ndim \(weightNDim) must equal input_ndim \(inputNDim)")
    }
    guard nSpatial == inputNDim - 2 else {
        throw FactorConvError.shape("n_spatial \(nSpatial) must equal input_ndim - 2 = \(inputNDim - 2)")
    }
    let geometry = try Arguments.geometry(stride, padding, dilation, nSpatial: nSpatial)
    return try ConvProblem(inputShape: input, weightShape: weight, geometry: geometry)
}

@c @implementation
public func fconv_dense_conv_output_shape(
    _ inputShape: UnsafePointer<Int64>?, _ inputNDim: Int, _ weightShape: UnsafePointer<Int64>?, _ weightNDim: Int,
    _ stride: UnsafePointer<Int64>?, _ padding: UnsafePointer<Int64>?, _ dilation: UnsafePointer<Int64>?,
    _ nSpatial: Int, _ outShape: UnsafeMutablePointer<Int64>?, _ outShapeCapacity: Int
) -> fconv_status {
    guarded("fconv_dense_conv_output_shape") {
        let problem = try denseProblem(inputShape, inputNDim, weightShape, weightNDim, stride, padding, dilation, nSpatial)
        let out = try Arguments.required(outShape, "out_shape")
        try Arguments.capacity(outShapeCapacity, needed: inputNDim, "out_shape (out_shape_capacity)")
        // An output the forward would refuse for its size alone is refused here, before the
        // caller allocates it.
        try MemoryLimit.check(elements: problem.outputCount, "the output of shape \(problem.outputShape)")
        for (i, v) in problem.outputShape.enumerated() { out[i] = Int64(v) }
    }
}

@c @implementation
public func fconv_dense_conv_forward(
    _ input: UnsafePointer<Float>?, _ inputShape: UnsafePointer<Int64>?, _ inputNDim: Int,
    _ weight: UnsafePointer<Float>?, _ weightShape: UnsafePointer<Int64>?, _ weightNDim: Int,
    _ bias: UnsafePointer<Float>?, _ stride: UnsafePointer<Int64>?, _ padding: UnsafePointer<Int64>?,
    _ dilation: UnsafePointer<Int64>?, _ nSpatial: Int, _ output: UnsafeMutablePointer<Float>?, _ outputCapacity: Int
) -> fconv_status {
    guarded("fconv_dense_conv_forward") {
        let problem = try denseProblem(inputShape, inputNDim, weightShape, weightNDim, stride, padding, dilation, nSpatial)
        let x = try Arguments.required(input, "input")
        let w = try Arguments.required(weight, "weight")
        let y = try Arguments.required(output, "output")
        try Arguments.capacity(outputCapacity, needed: problem.outputCount, "output (output_capacity)")
        // The output plus the workspace of the workers this call will use, before allocating.
        let workers = Parallel.threadCount
        try DenseConvolution.checkMemory(problem, workers: workers)
        try Interruption.interruptible("fconv_dense_conv_forward") {
            try DenseConvolution.checkedForward(problem, input: x, weight: w, bias: bias, output: y, workers: workers)
        }
    }
}
