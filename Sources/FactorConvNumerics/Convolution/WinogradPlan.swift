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
    /// Floats of one block's V, of its M, and of one worker's scratch (for the input transform,
    /// and then for the products).
    var inputBlockCount: Int { get }
    var productBlockCount: Int { get }
    var scratchCount: Int { get }
    /// Fills V for `block`, input channels `channels`.
    func transformInput(_ input: UnsafePointer<Float>, block: Block, channels: Range<Int>,
                        v: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>)
    /// M = U · V for `block`, rows (output channels) `channels`, every transform position;
    /// `scratch` is the worker's `scratchCount` floats.
    func multiply(u: UnsafePointer<Float>, v: UnsafePointer<Float>, m: UnsafeMutablePointer<Float>,
                  block: Block, channels: Range<Int>, scratch: UnsafeMutablePointer<Float>)
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
        let cin = problem.inChannels, cout = problem.outChannels
        let workerFloats = inputBlockCount + productBlockCount + scratchCount

        /// One block, output channels `channels`, in one worker's buffer.
        func process(_ block: Block, channels: Range<Int>, buffer: UnsafeMutablePointer<Float>) {
            let v = buffer, m = v + inputBlockCount, scratch = m + productBlockCount
            transformInput(input, block: block, channels: 0..<cin, v: v, scratch: scratch)
            multiply(u: u, v: v, m: m, block: block, channels: channels, scratch: scratch)
            transformOutput(m, block: block, channels: channels, bias: bias, output: output)
        }

        if blocks.count >= workers {
            Parallel.forEach(blocks.count, maxWorkers: workers) { item in
                if Interruption.isRequested { return }
                Workspace.shared.withBuffer(of: Float.self, count: workerFloats) { process(blocks[item], channels: 0..<cout, buffer: $0) }
            }
            return
        }
        // Few blocks: every worker transforms the whole input of a block (cheap: C_in × tiles)
        // into its own V, then computes the products and outputs of its share of the output
        // channels: one parallel region per call instead of three (idle workers park between
        // regions and pay a wake-up in each). Only workers with a share borrow a buffer, and
        // only while they run.
        let shares = channelShares(workers)
        Parallel.forEach(shares.count, maxWorkers: shares.count) { w in
            Workspace.shared.withBuffer(of: Float.self, count: workerFloats) { buffer in
                for block in blocks where !Interruption.isRequested { process(block, channels: shares[w], buffer: buffer) }
            }
        }
    }

    /// The non-empty output-channel shares (`channelShare`) of a split over `workers`.
    func channelShares(_ workers: Int) -> [Range<Int>] {
        (0..<workers).map { channelShare($0, of: workers) }.filter { !$0.isEmpty }
    }

    /// An upper bound on the floats `run(…, workers:)` borrows: one block's V, M and scratch
    /// for each running worker (`Parallel.simultaneousWorkers`) of the split over blocks, or,
    /// with fewer blocks than workers, of the split over non-empty output-channel shares.
    func workspaceFloats(workers: Int) throws -> Int {
        let buffers = blockCount >= workers ? Parallel.simultaneousWorkers(blockCount, maxWorkers: workers)
            : Parallel.simultaneousWorkers(channelShares(workers).count, maxWorkers: workers)
        return try Checked.multiply(buffers, inputBlockCount + productBlockCount + scratchCount, "Winograd workspace")
    }

    /// Worker `w`'s share of the output channels, cut at panel boundaries when U is packed
    /// (a packed GEMM starts at a panel).
    func channelShare(_ w: Int, of workers: Int) -> Range<Int> {
        let cout = problem.outChannels, unit = kernel.packed ? PackedGemm.panelRows : 1
        func cut(_ i: Int) -> Int { i == workers ? cout : min(cout, (cout * i / workers + unit / 2) / unit * unit) }
        return cut(w)..<cut(w + 1)
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
