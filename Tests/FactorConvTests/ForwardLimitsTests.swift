import FactorConv
import FactorConvTestSupport
import Testing

// Finite inputs whose outputs overflow float32 (refused with .numerical, as NaN inputs are),
// empty batches (an empty output, as in PyTorch), and outputs
// beyond the memory bound (refused by outputShape, before a caller allocates them).

/// Runs `body` and returns the `FactorConvError` it throws (recording an issue if it throws
/// nothing or something else).
private func thrownError(_ what: String, sourceLocation: SourceLocation = #_sourceLocation,
                         _ body: () throws -> Void) -> FactorConvError? {
    do {
        try body()
        Issue.record("\(what): expected an error, nothing was thrown", sourceLocation: sourceLocation)
    } catch let error as FactorConvError {
        return error
    } catch {
        Issue.record("\(what): unexpected error \(error)", sourceLocation: sourceLocation)
    }
    return nil
}

/// Every (factorization, implementation) pair a layer can have.
private let everyImplementation: [(Factorization, Implementation)] = [
    (.cp, .factorized), (.cp, .reconstructed), (.cp, .mobilenet), (.cp, .auto),
    (.tucker, .factorized), (.tucker, .reconstructed), (.tucker, .auto),
    (.tt, .factorized), (.tt, .reconstructed), (.tt, .auto), (.dense, .reconstructed),
]

/// A 16 → 16 3×3 layer (padding 1) compressed from an all-ones kernel, which has rank 1, so every
/// factorization reproduces it: a position of the output is the sum of the 16 × 9 input values
/// it sees (16 channels are enough for the Winograd and AVX-512 paths).
private func onesLayer(_ f: Factorization, _ implementation: Implementation, stride: Int = 1) throws -> FactorizedConv {
    let ones = Tensor<Float>(repeating: 1, shape: [16, 16, 3, 3])
    let dense = try FactorizedConv.DenseConv(weight: ones, geometry: ConvGeometry(order: 2, stride: [stride, stride], padding: [1, 1]))
    return try FactorizedConv.fromConv(dense, rank: f == .dense ? .same : .int(1), factorization: f,
                                       implementation: implementation)
}

@Suite(.serialized) struct ForwardLimitsTests {
    @Test("a finite input whose output overflows to inf/NaN is refused by every implementation")
    func overflowIsRefused() throws {
        for (f, implementation) in everyImplementation {
            for stride in [1, 2] {
                let conv = try onesLayer(f, implementation, stride: stride)
                for batch in [1, 3] {
                    let what = "\(f) \(implementation) stride \(stride) batch \(batch)"
                    // Everywhere: 1e38 · 144 overflows at every output position.
                    let everywhere = Tensor<Float>(repeating: 1e38, shape: [batch, 16, 10, 12])
                    let error = thrownError("\(what): 1e38 everywhere") { _ = try conv.forward(everywhere) }
                    #expect(error?.kind == .numerical, "\(what): \(error?.message ?? "")")
                    #expect(error?.message.contains("overflowed") == true, "\(what): \(error?.message ?? "")")
                    // One spot of the last image: only the outputs around it overflow.
                    var rng = TestRandom(seed: 7)
                    var spot = rng.tensor([batch, 16, 10, 12])
                    for c in 0..<16 { spot.scalars[((batch - 1) * 16 + c) * 120 + 5 * 12 + 7] = 3e38 }
                    let spotError = thrownError("\(what): one spot") { _ = try conv.forward(spot) }
                    #expect(spotError?.kind == .numerical && spotError?.message.contains("overflowed") == true,
                            "\(what): \(spotError?.message ?? "")")
                    // The raw-buffer forward (the C ABI's) refuses it too.
                    let outShape = try conv.outputShape(inputShape: spot.shape)
                    var out = [Float](repeating: 0, count: outShape.reduce(1, *))
                    let rawError = thrownError("\(what): raw buffers") {
                        try spot.scalars.withUnsafeBufferPointer { xp in
                            _ = try out.withUnsafeMutableBufferPointer { op in
                                try conv.forward(input: xp.baseAddress!, inputShape: spot.shape, output: op)
                            }
                        }
                    }
                    #expect(rawError?.kind == .numerical, "\(what): \(rawError?.message ?? "")")
                    // NaN in the input is still named as the input's fault.
                    spot.scalars[3] = .nan
                    let nanError = thrownError("\(what): NaN") { _ = try conv.forward(spot) }
                    #expect(nanError?.kind == .numerical && nanError?.message.contains("input") == true,
                            "\(what): \(nanError?.message ?? "")")
                }
            }
        }
    }

    @Test("large inputs whose outputs stay finite pass and match the float64 reference")
    func largeFiniteOutputsPass() throws {
        for (f, implementation) in everyImplementation {
            let conv = try onesLayer(f, implementation)
            var rng = TestRandom(seed: 11)
            var x = rng.tensor([2, 16, 10, 12])
            for i in x.scalars.indices { x.scalars[i] *= 1e35 }   // |y| ≤ 144e35 < 3.4e38
            let y = try conv.forward(x)
            let reference = referenceConv(x, weight: try conv.reconstructKernel(), stride: [1, 1], padding: [1, 1], dilation: [1, 1])
            #expect(y.scalars.allSatisfy { $0.isFinite }, "\(f) \(implementation)")
            #expect(relativeMaxError(y, reference) <= 1e-5, "\(f) \(implementation)")
        }
    }

    @Test("the dense convolution refuses outputs that overflow, and names a non-finite input")
    func denseOverflowIsRefused() throws {
        // 16 channels, 3×3: the Winograd path; 4 channels: im2col; 1×1: channel mixing; 1-D.
        let cases: [(input: [Int], weight: [Int], padding: [Int])] = [
            ([2, 16, 9, 11], [16, 16, 3, 3], [1, 1]), ([1, 4, 9, 11], [5, 4, 3, 3], [0, 0]),
            ([3, 8, 6, 7], [8, 8, 1, 1], [0, 0]), ([2, 16, 40], [16, 16, 5], [2]),
        ]
        for (inputShape, weightShape, padding) in cases {
            let what = "input \(inputShape) weight \(weightShape)"
            let geometry = try ConvGeometry(order: padding.count, padding: padding)
            let w = Tensor<Float>(repeating: 1, shape: weightShape)
            let x = Tensor<Float>(repeating: 1e38, shape: inputShape)
            let error = thrownError(what) { _ = try DenseConvolution.forward(x, weight: w, geometry: geometry) }
            #expect(error?.kind == .numerical && error?.message.contains("overflowed") == true, "\(what): \(error?.message ?? "")")
            var nan = Tensor<Float>(repeating: 1, shape: inputShape)
            nan.scalars[nan.count - 1] = .nan
            let nanError = thrownError(what) { _ = try DenseConvolution.forward(nan, weight: w, geometry: geometry) }
            #expect(nanError?.kind == .numerical && nanError?.message.contains("input") == true, "\(what): \(nanError?.message ?? "")")
        }
    }

    @Test("a batch of 0 gives an empty output of the right shape; empty spatial sizes stay refused")
    func emptyBatch() throws {
        for (f, implementation) in everyImplementation {
            let conv = try onesLayer(f, implementation, stride: 2)
            #expect(try conv.outputShape(inputShape: [0, 16, 10, 12]) == [0, 16, 5, 6], "\(f) \(implementation)")
            let y = try conv.forward(Tensor<Float>(shape: [0, 16, 10, 12]))
            #expect(y.shape == [0, 16, 5, 6] && y.count == 0, "\(f) \(implementation)")
            let zeroSpatial = thrownError("\(f) \(implementation): zero height") { _ = try conv.forward(Tensor<Float>(shape: [1, 16, 0, 12])) }
            #expect(zeroSpatial?.kind == .invalidArgument)
            let zeroChannels = thrownError("\(f) \(implementation): zero channels") { _ = try conv.outputShape(inputShape: [1, 0, 10, 12]) }
            #expect(zeroChannels != nil)
        }
        let y = try DenseConvolution.forward(Tensor<Float>(shape: [0, 4, 6, 6]), weight: Tensor<Float>(repeating: 1, shape: [3, 4, 3, 3]),
                                             geometry: ConvGeometry(order: 2, stride: [2, 1]))
        #expect(y.shape == [0, 3, 2, 4] && y.count == 0)
    }

    @Test("outputShape refuses an output beyond the memory bound, so callers never allocate it")
    func outputShapeRefusesOutputsBeyondTheBound() throws {
        let conv = try FactorizedConv(inChannels: 4, outChannels: 6, kernelSize: [3, 3], padding: [1, 1])
        // 2^20 · 6 · 2^14 · 2^10 floats: 384 TiB, far beyond any default bound (3/4 of memory).
        let error = thrownError("huge output") { _ = try conv.outputShape(inputShape: [1 << 20, 4, 1 << 14, 1 << 10]) }
        #expect(error?.kind == .outOfMemory, "\(error?.message ?? "")")
        #expect(error?.message.contains("memory limit") == true)
    }
}
