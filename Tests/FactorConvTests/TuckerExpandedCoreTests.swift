@testable import FactorConv
import FactorConvNumerics
import FactorConvTestSupport
import Testing

/// The expanded-core variant of factorized Tucker layers (`ForwardPlans.tuckerExpanded`: a bank
/// of shared filters and a channel mixing instead of the core conv) against a float64 direct
/// convolution with the reconstructed kernel, and which layers offer it.
@Suite struct TuckerExpandedCoreTests {
    /// Spatial ranks per mode, kernel, geometry and channels of each case: 1-D and 2-D, square
    /// and mixed spatial ranks (one of them 1), stride, dilation and padding, and both tails
    /// (C_out large enough that the core and the output factor stay two mixings, and small
    /// enough that they fold into one).
    static let cases: [(ranks: [Int], kernel: [Int], stride: [Int], padding: [Int], dilation: [Int], cin: Int, cout: Int, input: [Int])] = [
        ([6, 5, 2, 2], [3, 3], [1, 1], [1, 1], [1, 1], 12, 40, [2, 12, 9, 11]),
        ([6, 5, 2, 2], [3, 3], [1, 1], [1, 1], [1, 1], 12, 3, [1, 12, 7, 7]),
        ([7, 4, 1, 2], [3, 3], [2, 1], [0, 1], [1, 1], 9, 20, [2, 9, 10, 8]),
        ([5, 6, 2, 1], [3, 5], [1, 2], [2, 1], [2, 1], 8, 11, [1, 8, 12, 13]),
        ([9, 8, 2], [5], [1], [2], [1], 16, 30, [3, 16, 40]),
        ([9, 8, 2], [5], [2], [0], [2], 16, 4, [2, 16, 33]),
    ]

    @Test func matchesDirectConvolution() throws {
        var rng = TestRandom(seed: 4412)
        for c in Self.cases {
            let conv = try FactorizedConv(inChannels: c.cin, outChannels: c.cout, kernelSize: c.kernel, stride: c.stride,
                                          padding: c.padding, dilation: c.dilation, bias: true, factorization: .tucker,
                                          rank: .perMode(c.ranks), seed: 3)
            let what = "ranks \(c.ranks) kernel \(c.kernel) stride \(c.stride) C_out \(c.cout)"
            #expect(ForwardPlans.variants(for: conv.weight, implementation: .factorized) == [.standard, .expandedCore], "\(what)")
            let s = conv.snapshot
            let pipeline = try ForwardPlans.pipeline(for: conv.weight, implementation: .factorized, variant: .expandedCore,
                                                     geometry: s.geometry[0], bias: conv.biasRow(s, flat: 0))
            guard case .expansion = pipeline.stages[1] else {
                Issue.record("\(what): no expansion stage")
                continue
            }
            let x = rng.tensor(c.input)
            let y = try pipeline.forward(x)
            let reference = referenceConv(x, weight: try conv.reconstructKernel(), bias: s.bias.map { Array($0.scalars) },
                                          stride: c.stride, padding: c.padding, dilation: c.dilation)
            #expect(relativeMaxError(y, reference) <= 1e-5, "\(what): \(relativeMaxError(y, reference))")
        }
    }

    /// Spatial ranks all 1 (the separable path), ranks too large for their kernel, 3-D layers and
    /// other implementations keep the standard pipeline only.
    @Test func offeredOnlyForSmallSpatialRanks() throws {
        func variants(_ ranks: [Int], _ kernel: [Int], _ implementation: Implementation = .factorized) throws -> [ForwardPlans.Variant] {
            let conv = try FactorizedConv(inChannels: 8, outChannels: 8, kernelSize: kernel, factorization: .tucker,
                                          rank: .perMode(ranks), seed: 1)
            return ForwardPlans.variants(for: conv.weight, implementation: implementation)
        }
        #expect(try variants([4, 4, 1, 1], [3, 3]) == [.standard])
        #expect(try variants([4, 4, 3, 2], [3, 3]) == [.standard])       // 6 > 9 / 2
        #expect(try variants([4, 4, 3], [5]) == [.standard])             // 3 > 5 / 2
        #expect(try variants([4, 4, 2, 2, 2], [3, 3, 3]) == [.standard]) // 3-D
        #expect(try variants([4, 4, 2, 2], [3, 3], .reconstructed) == [.standard])
        #expect(try variants([4, 4, 2, 2], [3, 3]) == [.standard, .expandedCore])
    }
}
