import Testing
import FactorConv

// implementation=auto skips a candidate that cannot be built: a CP layer of
// rank 1 with four modes of 2^20 taps runs as 'factorized', but its mobilenet and reconstructed
// kernels have 2^80 elements, which overflows; auto refused the whole forward because of them.
// With four modes of 2^10 taps the mobilenet kernel (2^40 floats) does not overflow but is far
// beyond the memory limit: building it aborted on the allocation.

@Suite("auto skips candidates that cannot be built")
struct AutoChoiceTests {
    /// The layer of the issue: CP rank 1, kernel_size [2^log2Taps] x 4, padding half of it
    /// (2^20 taps in the issue).
    private func hugeKernelLayer(_ implementation: Implementation, log2Taps: Int = 20) throws -> FactorizedConv {
        try FactorizedConv(inChannels: 1, outChannels: 1, kernelSize: Array(repeating: 1 << log2Taps, count: 4),
                           padding: [1 << (log2Taps - 1)], factorization: .cp, rank: .int(1),
                           implementation: implementation, seed: 2)
    }

    @Test("a kernel whose dense element count overflows or passes the memory limit runs as factorized under auto",
          arguments: [20, 10])
    func overflowingCandidatesSkipped(log2Taps: Int) throws {
        let auto = try hugeKernelLayer(.auto, log2Taps: log2Taps)
        let factorized = try hugeKernelLayer(.factorized, log2Taps: log2Taps)
        let x = try Tensor<Float>(shape: [1, 1, 1, 1, 1, 1], scalars: [0.75])
        #expect(try auto.chosenImplementation(inputShape: x.shape) == .factorized)
        let y = try auto.forward(x)
        #expect(y.shape == [1, 1, 2, 2, 2, 2])
        #expect(y == (try factorized.forward(x)))
    }

    @Test("a candidate that cannot be built is still an error when asked for by name",
          arguments: [(20, FactorConvError.Kind.invalidArgument), (10, .outOfMemory)])
    func namedCandidateStillRefused(log2Taps: Int, kind: FactorConvError.Kind) throws {
        let x = try Tensor<Float>(shape: [1, 1, 1, 1, 1, 1], scalars: [0.75])
        for implementation in [Implementation.mobilenet, .reconstructed] {
            let conv = try hugeKernelLayer(implementation, log2Taps: log2Taps)
            let error = #expect(throws: FactorConvError.self) { try conv.forward(x) }
            #expect(error?.kind == kind, "\(implementation): \(String(describing: error))")
        }
    }
}
