import CFactorConvABI
@testable import FactorConvNumerics
import FactorConvTestSupport
import Testing

// The locks one `fconv_conv_forward_shaped` takes on a repeated input shape, counted on the
// calling thread (`LockCounts`) around the C export itself. Worker threads are not counted, so
// the layer is small (one image) and factorized, whose stages then run on the calling thread.

/// Fails the test with the library's message unless `status` is FCONV_OK.
func check(_ status: fconv_status, _ what: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
    guard status == FCONV_OK else {
        let message = String(cString: fconv_last_error_message())
        Issue.record("\(what): \(String(cString: fconv_status_string(status))) \(message)", sourceLocation: sourceLocation)
        throw CancellationError()
    }
}

@Test func repeatedShapeForwardShapedTakesEachLockOnce() throws {
    // A CP layer (8 → 6 channels, 3×3, padding 1, bias) compressed from a random kernel.
    var random = TestRandom(seed: 20)
    let weight = random.tensor([6, 8, 3, 3]), bias = (0..<6).map { Float($0) / 8 }
    let x = random.tensor([1, 8, 10, 10])
    var options: OpaquePointer?
    try check(fconv_options_create(&options), "options_create")
    defer { fconv_options_free(options) }
    try check(fconv_options_set_int(options, "rank", 4), "rank")
    try check(fconv_options_set_int(options, "padding", 1), "padding")
    try check(fconv_options_set_string(options, "implementation", "factorized"), "implementation")
    var conv: OpaquePointer?
    let weightShape: [Int64] = [6, 8, 3, 3], inputShape: [Int64] = [1, 8, 10, 10], outputShape: [Int64] = [1, 6, 10, 10]
    try check(fconv_conv_from_conv(weight.scalars, weightShape, 4, bias, options, &conv), "from_conv")
    defer { fconv_conv_free(conv) }

    var y = [Float](repeating: .nan, count: 600)
    func forward() throws { try check(fconv_conv_forward_shaped(conv, x.scalars, inputShape, 4, nil, 0, &y, outputShape, 4), "forward") }
    try forward()   // plans the shape and builds the pipeline
    let before = LockCounts.current
    try forward()
    let counted = LockCounts.current.since(before)
    print("fconv_conv_forward_shaped on a repeated shape: \(counted)")

    // The output is the layer's convolution: a float64 plain loop over its reconstructed kernel.
    var kernel = [Float](repeating: .nan, count: 6 * 8 * 9)
    try check(fconv_conv_reconstruct_kernel(conv, nil, 0, &kernel, kernel.count), "reconstruct")
    let reference = referenceConv(x, weight: try Tensor(shape: [6, 8, 3, 3], scalars: kernel), bias: bias,
                                  stride: [1, 1], padding: [1, 1], dilation: [1, 1])
    #expect(relativeMaxError(try Tensor(shape: [1, 6, 10, 10], scalars: y), reference) < 1e-5)

    // One handle lookup, one read of the layer state with the plan for the shape, and one scratch
    // buffer taken from the pool and given back; the fork gate is entered for each of those.
    // The two pointwise stages: with a mixing kernel (AVX-512 or AVX2), each borrows its block of
    // scratch from the pool and gives it back (two more pool locks each) and calls no BLAS;
    // without one, each is a BLAS call (a fork-gate section each).
    let mixingKernel = ChannelMixing.scratchFloats(depth: 8) > 0
    #expect(counted.locks == [.handleRegistry: 1, .layerState: 1, .workspacePool: mixingKernel ? 6 : 2])
    #expect(counted.gateSections == counted.totalLocks + (mixingKernel ? 0 : 2))
}
