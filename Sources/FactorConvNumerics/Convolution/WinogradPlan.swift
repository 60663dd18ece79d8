/// What the Winograd convolutions (`WinogradConvolution`, `WinogradLineConvolution`) share: work
/// cut into blocks, each transformed (V), multiplied (M = U · V, one GEMM per transform position)
/// and transformed back; and the driver that runs the blocks over the workers.
protocol WinogradPlan {
    associatedtype Block
    /// The transformed kernel's layout.
    var kernel: WinogradKernel { get }
    var problem: ConvProblem { get }
    /// The blocks of the whole problem.
    var blocks: [Block] { get }
    /// `blocks.count`, without building them.
    var blockCount: Int { get }
    /// Tiles of `block` (its share of the work).
    func tileCount(_ block: Block) -> Int
    /// Floats of one block's V, of its M, and of one worker's scratch (for the input transform,
    /// and then for the products).
    var inputBlockCount: Int { get }
    var productBlockCount: Int { get }
    var scratchCount: Int { get }
    /// Fills V for `block`, input channels `channels`.
    func transformInput(_ input: UnsafePointer<Float>, block: Block, channels: Range<Int>,
                        v: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>)
    /// M = U · V for `block`, rows (output channels) `channels`, transform positions `positions`
    /// (of `kernel.positionCount`); `scratch` is the worker's `scratchCount` floats.
    func multiply(u: UnsafePointer<Float>, v: UnsafePointer<Float>, m: UnsafeMutablePointer<Float>,
                  block: Block, channels: Range<Int>, positions: Range<Int>, scratch: UnsafeMutablePointer<Float>)
    /// Writes `block`'s outputs of `channels` from M, plus the bias.
    func transformOutput(_ m: UnsafePointer<Float>, block: Block, channels: Range<Int>,
                         bias: UnsafePointer<Float>?, output: UnsafeMutablePointer<Float>)
}

extension WinogradPlan {
    /// Runs the whole convolution with U already computed (`DenseConvolution.forward`'s buffer
    /// contract). Blocks not started when the interruptible call is interrupted are skipped.
    func run(input: UnsafePointer<Float>, transformedWeight u: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
             output: UnsafeMutablePointer<Float>, workers: Int) {
        let blocks = self.blocks
        if workers > 1 && !Self.blocksBalance(blocks.map(tileCount), workers: workers) {
            return runSplittingEachBlock(blocks, input: input, transformedWeight: u, bias: bias, output: output,
                                         workers: workers)
        }
        let cout = problem.outChannels
        Parallel.forEach(blocks.count, maxWorkers: workers) { item in
            if Interruption.isRequested { return }
            Workspace.shared.withBuffer(of: Float.self, count: inputBlockCount + productBlockCount + scratchCount) { buffer in
                let block = blocks[item], v = buffer, m = v + inputBlockCount, scratch = m + productBlockCount
                transformInput(input, block: block, channels: 0..<problem.inChannels, v: v, scratch: scratch)
                multiply(u: u, v: v, m: m, block: block, channels: 0..<cout, positions: 0..<kernel.positionCount,
                         scratch: scratch)
                transformOutput(m, block: block, channels: 0..<cout, bias: bias, output: output)
            }
        }
    }

    /// Whether whole blocks of `tiles` tiles each, in the contiguous shares `Parallel.forEach`
    /// gives `workers` workers, leave the busiest worker at most 10% over an even share. (A
    /// 28×28 plane of 75 channels is 7 rows of 4×4 tiles, blocked as 4 rows and 3: 28 and 21 tiles.)
    static func blocksBalance(_ tiles: [Int], workers: Int) -> Bool {
        guard tiles.count >= workers else { return false }
        let busiest = (0..<workers).map { part in
            Parallel.share(of: tiles.count, part: part, parts: workers).reduce(0) { $0 + tiles[$1] }
        }.max()!
        return 10 * busiest * workers <= 11 * tiles.reduce(0, +)
    }

    /// Runs `blocks` one after another, each in three parallel regions over one V and one M, so
    /// that every worker gets an equal share of every step: the input transform split by input
    /// channels, the products by transform positions (each worker reads its positions' part of
    /// U), the output transform by output channels. For few or unequal blocks, which whole
    /// blocks per worker would leave some workers idle; shares of output channels for the
    /// products would be cut at U's packed panels, 16-row tiles in the AVX2 kernel (75 channels
    /// make 5 tiles: 2 and 3 for two workers).
    private func runSplittingEachBlock(_ blocks: [Block], input: UnsafePointer<Float>, transformedWeight u: UnsafePointer<Float>,
                                       bias: UnsafePointer<Float>?, output: UnsafeMutablePointer<Float>, workers: Int) {
        let cin = problem.inChannels, cout = problem.outChannels, positions = kernel.positionCount
        /// Runs `body` on `workers` parts of `count` items (at most one item per part).
        func split(_ count: Int, _ body: (Range<Int>) -> Void) {
            let parts = min(workers, count)
            Parallel.forEach(parts, maxWorkers: parts) { body(Parallel.share(of: count, part: $0, parts: parts)) }
        }
        Workspace.shared.withBuffer(of: Float.self, count: inputBlockCount + productBlockCount) { v in
            let m = v + inputBlockCount
            for block in blocks where !Interruption.isRequested {
                split(cin) { channels in
                    Workspace.shared.withBuffer(of: Float.self, count: scratchCount) { scratch in
                        transformInput(input, block: block, channels: channels, v: v, scratch: scratch)
                    }
                }
                split(positions) { share in
                    Workspace.shared.withBuffer(of: Float.self, count: scratchCount) { scratch in
                        multiply(u: u, v: v, m: m, block: block, channels: 0..<cout, positions: share, scratch: scratch)
                    }
                }
                split(cout) { channels in transformOutput(m, block: block, channels: channels, bias: bias, output: output) }
            }
        }
    }

    /// An upper bound on the floats `run(…, workers:)` borrows: one block's V, M and scratch
    /// for each running worker (`Parallel.simultaneousWorkers`) of the split over blocks; with
    /// fewer blocks than workers, one V and M plus each running worker's scratch (the split of
    /// each block, which also runs blocks that divide unevenly, and borrows less then).
    func workspaceFloats(workers: Int) throws -> Int {
        let buffers = inputBlockCount + productBlockCount
        if blockCount >= workers {
            return try Checked.multiply(Parallel.simultaneousWorkers(blockCount, maxWorkers: workers), buffers + scratchCount,
                                        "Winograd workspace")
        }
        let scratch = try Checked.multiply(Parallel.simultaneousWorkers(workers, maxWorkers: workers), scratchCount,
                                           "Winograd workspace")
        return try Checked.add(buffers, scratch, "Winograd workspace")
    }

    /// Runs the whole convolution, transforming the weight first.
    func run(input: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
             output: UnsafeMutablePointer<Float>, workers: Int) {
        Workspace.shared.withBuffer(of: Float.self, count: kernel.transformedCount) { u in
            kernel.transform(weight, into: u)
            run(input: input, transformedWeight: u, bias: bias, output: output, workers: workers)
        }
    }
}
