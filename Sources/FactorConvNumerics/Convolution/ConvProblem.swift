/// The validated sizes of one dense N-D convolution: input (B, C_in, S...), kernel
/// (C_out, C_in, K...), geometry, and the derived output (B, C_out, S'...).
package struct ConvProblem: Equatable, Sendable {
    /// Batch size.
    package let batch: Int
    /// Input channels.
    package let inChannels: Int
    /// Output channels.
    package let outChannels: Int
    /// Input spatial sizes S_1..S_N.
    package let inputSpatial: [Int]
    /// Kernel spatial sizes K_1..K_N.
    package let kernel: [Int]
    /// Output spatial sizes S'_1..S'_N.
    package let outputSpatial: [Int]
    /// Stride, padding and dilation.
    package let geometry: ConvGeometry

    /// The number of spatial dimensions N.
    package var order: Int { kernel.count }
    /// Full input shape (B, C_in, S...).
    package var inputShape: [Int] { [batch, inChannels] + inputSpatial }
    /// Full kernel shape (C_out, C_in, K...).
    package var weightShape: [Int] { [outChannels, inChannels] + kernel }
    /// Full output shape (B, C_out, S'...).
    package var outputShape: [Int] { [batch, outChannels] + outputSpatial }
    /// Elements per input image, kernel taps per output channel, output positions per image.
    package var inputImageCount: Int { inChannels * inputSpatial.reduce(1, *) }
    package var kernelVolume: Int { kernel.reduce(1, *) }
    package var outputPositions: Int { outputSpatial.reduce(1, *) }
    /// Element counts of the whole input, kernel and output.
    package var inputCount: Int { batch * inputImageCount }
    package var weightCount: Int { outChannels * inChannels * kernelVolume }
    package var outputCount: Int { batch * outChannels * outputPositions }
    /// Multiply-adds × 2.
    package var flops: Double { 2 * Double(outputCount) * Double(inChannels * kernelVolume) }

    /// Validates an input shape and a kernel shape against each other and the geometry.
    /// - Throws: `.invalidArgument` for non-positive sizes (but a batch of 0) or overflowing element counts,
    ///   `.shapeMismatch` for rank or channel disagreement or a kernel larger than the padded input.
    package init(inputShape: [Int], weightShape: [Int], geometry: ConvGeometry) throws {
        let n = geometry.order
        guard inputShape.count == n + 2 else {
            throw FactorConvError.shape("input shape \(inputShape) must have \(n + 2) dimensions (batch, channels, \(n) spatial)")
        }
        guard weightShape.count == n + 2 else {
            throw FactorConvError.shape("weight shape \(weightShape) must have \(n + 2) dimensions (out_channels, in_channels, \(n) kernel sizes)")
        }
        for (name, shape) in [("input", inputShape), ("weight", weightShape)] {
            // An empty batch is allowed (an empty output, as in PyTorch); no other size may be 0.
            for (axis, size) in shape.enumerated() where size < (name == "input" && axis == 0 ? 0 : 1) || size > (1 << 62) {
                let least = name == "input" && axis == 0 ? "at least 0" : "positive"
                throw FactorConvError.invalid("\(name) shape \(shape): size \(size) at axis \(axis) must be \(least) and at most 2^62")
            }
            _ = try Checked.product(shape, "\(name) shape \(shape)")
        }
        guard inputShape[1] == weightShape[1] else {
            throw FactorConvError.shape("input has \(inputShape[1]) channels (shape \(inputShape)) but the weight expects \(weightShape[1]) (shape \(weightShape))")
        }
        let outSpatial = try geometry.outputSpatial(input: Array(inputShape[2...]), kernel: Array(weightShape[2...]))
        _ = try Checked.product([inputShape[0], weightShape[0]] + outSpatial, "output shape")
        _ = try Checked.product([weightShape[1]] + weightShape[2...] + outSpatial, "im2col size")
        // Sizes the kernels and BLAS take as 32-bit ints.
        _ = try Checked.int32(inputShape[1], "the channel count of input shape \(inputShape)")
        _ = try Checked.int32(weightShape[0], "the output channel count of weight shape \(weightShape)")
        _ = try Checked.int32(Checked.product(weightShape[1...], "weight shape"), "in_channels × kernel volume of weight shape \(weightShape)")
        _ = try Checked.int32(Checked.product(inputShape[2...], "input shape"), "the plane size of input shape \(inputShape)")
        _ = try Checked.int32(Checked.product(outSpatial, "output shape"), "the output plane size \(outSpatial)")
        batch = inputShape[0]
        inChannels = inputShape[1]
        outChannels = weightShape[0]
        inputSpatial = Array(inputShape[2...])
        kernel = Array(weightShape[2...])
        outputSpatial = outSpatial
        self.geometry = geometry
    }

    /// True when the convolution is a plain channel mix: 1×…×1 kernel, stride 1, no padding.
    package var isPointwise: Bool { Self.isPointwise(kernel: kernel, geometry: geometry) }

    /// `isPointwise` for kernel sizes K... and a geometry, before any input shape is known.
    static func isPointwise(kernel: some Collection<Int>, geometry: ConvGeometry) -> Bool {
        kernel.allSatisfy { $0 == 1 } && geometry.stride.allSatisfy { $0 == 1 } && geometry.padding.allSatisfy { $0 == 0 }
    }
}
