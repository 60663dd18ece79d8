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
        // The memory bound, counted as the layer forward counts it: the output plus the workspace
        // (one im2col column block per worker, at most max(2^19 floats, 16 columns), as in
        // DenseConvolution.forward). Without it this call never refused anything.
        let depth = problem.inChannels * problem.kernelVolume   // im2col size checked by ConvProblem
        let block = min(try Checked.multiply(problem.outputPositions, depth, "im2col size"), max(1 << 19, 16 * depth))
        // Winograd paths also hold the transformed kernel (at most 16/9 of the kernel) and may
        // cache it with a copy of the kernel: counted as 3 kernels.
        let kernels = try Checked.multiply(3, problem.weightCount, "transformed kernel")
        try MemoryLimit.check(elements: try Checked.add(try Checked.add(problem.outputCount, kernels, "workspace"),
                                                        try Checked.multiply(Parallel.threadCount, block, "workspace"), "workspace"),
                              "dense convolution of input \(problem.inputShape)")
        try Interruption.interruptible("fconv_dense_conv_forward") {
            DenseConvolution.forward(problem, input: x, weight: w, bias: bias, output: y)
        }
    }
}
