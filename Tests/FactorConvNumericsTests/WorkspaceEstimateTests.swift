@testable import FactorConvNumerics
import FactorConvTestSupport
import Testing

/// The forward memory estimates (`ConvPipeline.workspaceFloats`, `DenseConvolution.workspaceFloats`)
/// count per-worker scratch only for workers that run at once. Whether they
/// bound what a forward really allocates is measured from outside (peak RSS in
/// bindings/python/tests/test_numerics_limits.py): the shared pool cannot be attributed to one
/// call while other tests run.
@Suite struct WorkspaceEstimateTests {
    @Test("running workers are at most the work items, the threads and the processors, and at least 1")
    func simultaneousWorkers() {
        let p = Parallel.processorCount
        #expect(Parallel.simultaneousWorkers(1, maxWorkers: 64) == 1)
        #expect(Parallel.simultaneousWorkers(0, maxWorkers: 64) == 1)
        #expect(Parallel.simultaneousWorkers(1000, maxWorkers: 64) == min(64, p))
        #expect(Parallel.simultaneousWorkers(1000, maxWorkers: 1) == 1)
    }

    @Test("the Winograd plans count their blocks without building them")
    func winogradBlockCounts() throws {
        // 2-D and 3-D F(2×2, 3×3) and F(4×4, 3×3) with small blocks (several slabs and tile-row chunks), and 1-D F(2, r).
        let planar: [([Int], [Int], [Int])] = [
            ([3, 16, 17, 23], [16, 16, 3, 3], [1, 1]), ([2, 16, 7, 9, 12], [16, 16, 3, 3, 3], [1, 1, 1]),
        ]
        for (input, weight, padding) in planar {
            let problem = try ConvProblem(inputShape: input, weightShape: weight,
                                          geometry: ConvGeometry(order: padding.count, padding: padding))
            for blockBytes in [1 << 12, 1 << 16, 1 << 20] {
                for tile in WinogradKernel.planarTiles {
                    let plan = try #require(WinogradConvolution(problem, blockBytes: blockBytes, tile: tile))
                    #expect(plan.blockCount == plan.blocks.count, "\(input) blockBytes \(blockBytes) tile \(tile)")
                }
            }
        }
        for taps in [3, 5] {
            let problem = try ConvProblem(inputShape: [3, 16, 301], weightShape: [16, 16, taps],
                                          geometry: ConvGeometry(order: 1, padding: [taps / 2]))
            for blockBytes in [1 << 10, 1 << 14, 1 << 20] {
                let plan = try #require(WinogradLineConvolution(problem, blockBytes: blockBytes))
                #expect(plan.blockCount == plan.blocks.count, "taps \(taps) blockBytes \(blockBytes)")
            }
        }
    }

    @Test("threads beyond the processors add nothing to a forward's estimate, and a batch of 0 needs nothing")
    func estimatesStopAtTheProcessors() throws {
        var rng = TestRandom(seed: 5)
        let g3 = try ConvGeometry(order: 2, padding: [1, 1])
        let pipelines: [(String, ConvPipeline)] = [
            ("pointwise-depthwise-pointwise", ConvPipeline(stages: [
                .pointwise(weight: rng.tensor([8, 32]), bias: nil),
                .depthwise(taps: rng.tensor([8, 3, 3]), geometry: g3),
                .pointwise(weight: rng.tensor([32, 8]), bias: nil)])),
            ("core dense stage", ConvPipeline(stages: [
                .pointwise(weight: rng.tensor([16, 32]), bias: nil),
                .dense(weight: rng.tensor([16, 16, 3, 3]), geometry: g3, bias: nil),
                .pointwise(weight: rng.tensor([32, 16]), bias: nil)])),
            ("lone dense stage", ConvPipeline(stages: [.dense(weight: rng.tensor([32, 32, 3, 3]), geometry: g3, bias: nil)])),
        ]
        let p = Parallel.processorCount
        for (name, pipeline) in pipelines {
            for batch in [1, 3, 64] {
                let input = [batch, 32, 96, 80]
                let images = try pipeline.imageShapes(input: Array(input.dropFirst()))
                let atProcessors = try pipeline.workspaceFloats(input: input, imageShapes: images, workers: p)
                let at1024 = try pipeline.workspaceFloats(input: input, imageShapes: images, workers: 1024)
                // Only the check flags (one per worker of a split inside an image) may grow.
                #expect(at1024 <= atProcessors + batch * 1024, "\(name) batch \(batch): \(atProcessors) → \(at1024)")
            }
            let empty = try pipeline.imageShapes(input: [32, 96, 80])
            #expect(try pipeline.workspaceFloats(input: [0, 32, 96, 80], imageShapes: empty, workers: 8) == 0)
        }
    }
}
