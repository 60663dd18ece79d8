@testable import FactorConvNumerics
import FactorConvTestSupport
import Testing

/// How a Winograd plan shares its blocks among workers: whole blocks when they divide evenly,
/// else each block split three ways (input channels, transform positions, output channels).
/// Either way every output sums the same products in the same order as one worker does.
@Suite struct WinogradSplitTests {
    @Test func blocksBalanceOnlyWhenContiguousSharesAreEven() {
        #expect(WinogradConvolution.blocksBalance([4, 4], workers: 2))
        #expect(WinogradConvolution.blocksBalance([6, 6, 6, 5], workers: 2))          // 12 and 11 tiles
        #expect(!WinogradConvolution.blocksBalance([28, 21], workers: 2))             // 28×28, 75 channels
        #expect(!WinogradConvolution.blocksBalance([4, 4, 4], workers: 2))            // 8 and 4
        #expect(!WinogradConvolution.blocksBalance([9], workers: 2))                   // fewer blocks than workers
        #expect(WinogradConvolution.blocksBalance([9], workers: 1))
    }

    /// Unevenly blocked and single-block problems (2-D F(4×4) and F(2×2), 3-D, 1-D F(2, 5)) on
    /// 2 and 3 workers give one worker's output bit for bit, and that matches the plain loop.
    @Test(arguments: [2, 3])
    func splitBlocksMatchOneWorkerBitForBit(workers: Int) throws {
        var rng = TestRandom(seed: 4400 + UInt64(workers))
        let cases: [(input: [Int], cout: Int, kernel: [Int], blockBytes: Int)] = [
            ([1, 75, 20, 20], 75, [3, 3], 350_000),      // F(4×4): blocks of 3 tile rows and 2
            ([1, 40, 14, 14], 37, [3, 3], 1 << 20),       // F(2×2), one block
            ([3, 16, 12, 12], 50, [3, 3], 1 << 20),       // three images, one block each
            ([1, 12, 6, 10, 10], 19, [3, 3, 3], 1 << 20), // 3-D
            ([1, 33, 301], 29, [5], 1 << 14),              // 1-D line plan, several blocks
            ([1, 33, 301], 29, [5], 1 << 20),              // 1-D line plan, one block
        ]
        for c in cases {
            let order = c.kernel.count
            let padding = c.kernel.map { $0 / 2 }
            let x = rng.tensor(c.input), w = rng.tensor([c.cout, c.input[1]] + c.kernel)
            let bias = rng.tensor([c.cout]).scalars
            let g = try ConvGeometry(order: order, padding: padding)
            let problem = try ConvProblem(inputShape: x.shape, weightShape: w.shape, geometry: g)
            let run: (Int) throws -> Tensor<Float>
            if order == 1 {
                let plan = try #require(WinogradLineConvolution(problem, blockBytes: c.blockBytes, minChannels: 1))
                run = { n in
                    try runOnBuffers(x, weight: w, bias: bias, outputShape: problem.outputShape) {
                        plan.run(input: $0, weight: $1, bias: $2, output: $3, workers: n)
                    }
                }
            } else {
                let plan = try #require(WinogradConvolution(problem, blockBytes: c.blockBytes, minChannels: 1))
                if c.cout == 75 {    // the case the split exists for, if this CPU runs F(4×4)
                    #expect(plan.kernel.tile == 4 || WinogradConvolution.preferredTile(problem) == 2)
                    #expect(!WinogradConvolution.blocksBalance(plan.blocks.map(plan.tileCount), workers: 2))
                }
                run = { n in
                    try runOnBuffers(x, weight: w, bias: bias, outputShape: problem.outputShape) {
                        plan.run(input: $0, weight: $1, bias: $2, output: $3, workers: n)
                    }
                }
            }
            let one = try run(1), split = try run(workers)
            #expect(split.scalars == one.scalars, "\(c.input) → \(c.cout)")
            let ref = referenceConv(x, weight: w, bias: bias, stride: Array(repeating: 1, count: order),
                                    padding: padding, dilation: Array(repeating: 1, count: order))
            #expect(relativeMaxError(one, ref) <= 1e-5, "\(c.input) → \(c.cout)")
        }
    }
}
