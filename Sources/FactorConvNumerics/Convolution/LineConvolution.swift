/// Dense convolution for order ≥ 2 with stride 1 in every outer spatial dimension (the common
/// case): im2col over the innermost kernel dimension only, on an input zero-padded in the outer
/// dimensions; each outer kernel tap is then one GEMM over a shifted window of that buffer.
///
/// Compared with full im2col this writes K_1·…·K_{N-1} times less (9× less for a 3×3×3 kernel)
/// and its GEMMs have a short depth (C_in·K_N) that keeps the packed panels in cache, at the price
/// of accumulating into the output once per outer tap. That wins with few output channels and
/// loses with many (one deep GEMM then beats several shallow ones), hence the channel bound below.
struct LineConvolution {
    let problem: ConvProblem
    /// Outer (all but innermost) spatial dimensions.
    let outer: Int
    /// Padded outer input sizes P_d = S_d + 2 p_d.
    let padded: [Int]
    /// Rows of the line buffer: C_in · K_N.
    let depth: Int
    /// Output rows (along the first spatial dimension) per slab.
    let slabRows: Int
    /// Kernel taps over the outer dimensions.
    let outerTaps: Int
    /// The channel-mixing kernels that compute the product when there is one outer tap (a kernel
    /// spanning the innermost dimension only, as a tensor-train stage's): one pass that adds the
    /// bias, where BLAS's GEMM of few rows or a shallow depth is slow and needs a transpose and a
    /// bias pass. Nil: BLAS.
    let mixingKernels: KernelSet?

    /// Target size of one slab's line buffer, in floats (4 MB).
    static let slabFloats = 1 << 20

    /// The plan for `problem`, or nil when the path does not apply (order 1, an outer stride
    /// other than 1, or a pointwise problem, which is a plain GEMM).
    /// `slabFloats` bounds the line buffer (tests pass a small value to exercise several slabs);
    /// `mixing` is the kernel set for `mixingKernels` (tests pass nil for BLAS).
    init?(_ problem: ConvProblem, slabFloats: Int = LineConvolution.slabFloats, mixing: KernelSet? = KernelSet.best) {
        let n = problem.order
        guard n >= 2, !problem.isPointwise, problem.geometry.stride.dropLast().allSatisfy({ $0 == 1 }) else { return nil }
        // Full im2col costs about 2 / C_out bytes written per flop, so it only hurts with few
        // output channels; with many, one deep GEMM beats several shallow ones.
        guard problem.outChannels <= 128 else { return nil }
        self.problem = problem
        outer = n - 1
        padded = (0..<(n - 1)).map { problem.inputSpatial[$0] + 2 * problem.geometry.padding[$0] }
        depth = problem.inChannels * problem.kernel[n - 1]
        outerTaps = problem.kernel.dropLast().reduce(1, *)
        mixingKernels = outerTaps == 1 ? mixing : nil
        let span0 = problem.geometry.dilation[0] * (problem.kernel[0] - 1)
        let rowFloats = depth * padded.dropFirst().reduce(1, *) * problem.outputSpatial[n - 1]
        let rows = max(1, slabFloats / max(rowFloats, 1) - span0)
        slabRows = min(problem.outputSpatial[0], rows)
    }

    /// Line-buffer floats for one slab.
    var slabBufferCount: Int {
        let span0 = problem.geometry.dilation[0] * (problem.kernel[0] - 1)
        return depth * (slabRows + span0) * padded.dropFirst().reduce(1, *) * problem.outputSpatial[outer]
    }

    /// The kernel regrouped per outer tap: `outerTaps` contiguous (C_out × C_in·K_N) matrices.
    func packedWeight(_ weight: UnsafePointer<Float>, into packed: UnsafeMutablePointer<Float>) {
        let cout = problem.outChannels, cin = problem.inChannels
        let inner = problem.kernel[outer], taps = problem.kernelVolume
        for t in 0..<outerTaps {
            let dst = packed + t * cout * depth
            for o in 0..<cout {
                for c in 0..<cin {
                    let src = weight + (o * cin + c) * taps + t * inner
                    (dst + o * depth + c * inner).update(from: src, count: inner)
                }
            }
        }
    }

    /// Computes output rows [row0, row0 + rows) (first spatial dimension) of image `image` for
    /// output channels `channels`, plus their bias, with the slab's line buffer `lines` already
    /// filled. Stops between GEMMs when the interruptible call is interrupted (a slab of a large
    /// kernel is many GEMMs), leaving those rows incomplete.
    func multiply(packed: UnsafePointer<Float>, lines: UnsafePointer<Float>, row0: Int, rows: Int,
                  output: UnsafeMutablePointer<Float>, channels: Range<Int>, bias: UnsafePointer<Float>?) {
        let n = problem.order
        let g = problem.geometry
        let innerOut = problem.outputSpatial[n - 1]
        let outPositions = problem.outputPositions
        let lineColumns = (rows + g.dilation[0] * (problem.kernel[0] - 1)) * padded.dropFirst().reduce(1, *) * innerOut
        // Output "runs": contiguous column ranges of the output that map to contiguous ranges of
        // the line buffer. For order 2 one run covers the slab; otherwise one per combination
        // of the outer coordinates except the last outer dimension.
        let runLength = (n == 2 ? rows : problem.outputSpatial[n - 2]) * innerOut
        let middle = n >= 3 ? Array(problem.outputSpatial[0..<(n - 2)]) : []
        var runs = n == 2 ? 1 : rows
        for d in 1..<max(1, n - 2) { runs *= middle[d] }
        let paddedStrides = Tensor<Float>.rowMajorStrides(padded)   // over outer padded dims
        let taps: [[Int]] = (0..<outerTaps).map { t in
            var rest = t, tap = [Int](repeating: 0, count: outer)
            for d in stride(from: outer - 1, through: 0, by: -1) { tap[d] = rest % problem.kernel[d]; rest /= problem.kernel[d] }
            return tap
        }
        // With few output channels a BLAS GEMM is computed transposed (positions × channels, a
        // tall GEMM, which OpenBLAS runs faster than a wide one) in a small buffer, then
        // transposed into place.
        let transposed = mixingKernels == nil && channels.count <= Self.transposeBelowChannels
        let scratch = transposed ? runLength * channels.count : 0
        Workspace.shared.withBuffer(of: Float.self, count: max(scratch, 1)) { tile in
            var coord = [Int](repeating: 0, count: max(n - 2, 0))
            for run in 0..<runs {
                // Outer output coordinates of the run (dims 0 ..< n-2), relative row in the slab.
                var r = run
                for d in stride(from: n - 3, through: 0, by: -1) {
                    let size = d == 0 ? rows : middle[d]
                    coord[d] = r % size
                    r /= size
                }
                var outColumn = 0
                for d in 0..<(n - 2) { outColumn = outColumn * problem.outputSpatial[d] + (d == 0 ? coord[d] + row0 : coord[d]) }
                outColumn = n == 2 ? row0 * innerOut : outColumn * problem.outputSpatial[n - 2] * innerOut
                let y = output + channels.lowerBound * outPositions + outColumn
                for (t, tap) in taps.enumerated() {
                    if Interruption.isRequested { return }
                    var lineColumn = 0
                    for d in 0..<(n - 2) { lineColumn += (coord[d] + tap[d] * g.dilation[d]) * paddedStrides[d] }
                    let last = n - 2                                          // last outer dimension
                    lineColumn = (lineColumn + tap[last] * g.dilation[last] * paddedStrides[last]) * innerOut
                    let weightBlock = packed + t * problem.outChannels * depth + channels.lowerBound * depth
                    if let mixingKernels {
                        // The only outer tap: the whole product, with its bias.
                        ChannelMixing.apply(weight: weightBlock, rows: channels.count, depth: depth,
                                            input: lines + lineColumn, ldx: lineColumns, columns: runLength, output: y,
                                            ldy: outPositions, bias: bias.map { $0 + channels.lowerBound },
                                            kernels: mixingKernels)
                    } else if transposed {
                        Float.gemm(transA: true, transB: true, m: runLength, n: channels.count, k: depth, alpha: 1,
                                   a: lines + lineColumn, lda: lineColumns, b: weightBlock, ldb: depth,
                                   beta: t == 0 ? 0 : 1, c: tile, ldc: channels.count)
                    } else {
                        Float.gemm(transA: false, transB: false, m: channels.count, n: runLength, k: depth, alpha: 1,
                                   a: weightBlock, lda: depth, b: lines + lineColumn, ldb: lineColumns,
                                   beta: t == 0 ? 0 : 1, c: y, ldc: outPositions)
                    }
                }
                if transposed {
                    Self.transpose(tile, rows: runLength, columns: channels.count, into: y, rowStride: outPositions)
                }
            }
        }
        if mixingKernels == nil, let bias { addBias(bias, output: output, row0: row0, rows: rows, channels: channels) }
    }

    /// Adds the bias to output rows [row0, row0 + rows) (first spatial dimension) of `output`
    /// (one image) for `channels`.
    func addBias(_ bias: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, row0: Int, rows: Int,
                 channels: Range<Int>) {
        let rowPositions = problem.outputPositions / problem.outputSpatial[0]
        for c in channels {
            let row = output + c * problem.outputPositions + row0 * rowPositions
            let v = bias[c]
            for j in 0..<(rows * rowPositions) { row[j] += v }
        }
    }

    /// Writes the transpose of the row-major (rows × columns) `source` as `columns` rows of `rows`
    /// floats, `rowStride` apart. 4×4 blocks are transposed in SIMD registers (a scalar loop's
    /// strided reads are a visible share of a TT layer's forward).
    static func transpose(_ source: UnsafePointer<Float>, rows: Int, columns: Int,
                          into destination: UnsafeMutablePointer<Float>, rowStride: Int) {
        var c = 0
        while c + 4 <= columns {
            var j = 0
            while j + 4 <= rows {
                let a = WinogradTiles.load4(source + (j * columns + c)), b = WinogradTiles.load4(source + ((j + 1) * columns + c))
                let e = WinogradTiles.load4(source + ((j + 2) * columns + c)), f = WinogradTiles.load4(source + ((j + 3) * columns + c))
                WinogradTiles.store4(SIMD4(a[0], b[0], e[0], f[0]), destination + (c * rowStride + j))
                WinogradTiles.store4(SIMD4(a[1], b[1], e[1], f[1]), destination + ((c + 1) * rowStride + j))
                WinogradTiles.store4(SIMD4(a[2], b[2], e[2], f[2]), destination + ((c + 2) * rowStride + j))
                WinogradTiles.store4(SIMD4(a[3], b[3], e[3], f[3]), destination + ((c + 3) * rowStride + j))
                j += 4
            }
            for r in j..<rows { for k in c..<(c + 4) { destination[k * rowStride + r] = source[r * columns + k] } }
            c += 4
        }
        for k in c..<columns {
            let row = destination + k * rowStride
            for r in 0..<rows { row[r] = source[r * columns + k] }
        }
    }

    /// Channel count at or below which `multiply` computes the transposed GEMM.
    static let transposeBelowChannels = 48

    /// Fills rows `rowRange` (c·K_N + k) of the line buffer for output rows [row0, row0 + rows)
    /// of `image` (C_in × ΠS). Column layout: (q_0 − row0, q_1, …, q_{N−2}, o_N) over padded outer
    /// coordinates and the innermost output coordinate.
    func fillLines(image: UnsafePointer<Float>, row0: Int, rows: Int, lines: UnsafeMutablePointer<Float>,
                   rowRange: Range<Int>) {
        let n = problem.order
        let g = problem.geometry
        let sizes = problem.inputSpatial
        let innerOut = problem.outputSpatial[n - 1], innerSize = sizes[n - 1]
        let innerStride = g.stride[n - 1], innerDilation = g.dilation[n - 1], innerPad = g.padding[n - 1]
        let inner = problem.kernel[n - 1]
        let slabLines = (rows + g.dilation[0] * (problem.kernel[0] - 1)) * padded.dropFirst().reduce(1, *)
        let columns = slabLines * innerOut
        let imageStride = sizes.reduce(1, *)
        let inStrides = Tensor<Float>.rowMajorStrides(sizes)
        var q = [Int](repeating: 0, count: outer)
        for r in rowRange {
            let channel = r / inner, k = r % inner
            let src = image + channel * imageStride
            let base = k * innerDilation - innerPad                 // input index = o·s + base
            let dstRow = lines + r * columns
            for line in 0..<slabLines {
                var rest = line
                for d in stride(from: outer - 1, through: 0, by: -1) {
                    let size = d == 0 ? slabLines / padded.dropFirst().reduce(1, *) : padded[d]
                    q[d] = rest % size
                    rest /= size
                }
                let out = dstRow + line * innerOut
                var offset = 0, inside = true
                for d in 0..<outer {
                    let i = (d == 0 ? q[d] + row0 : q[d]) - g.padding[d]
                    if i < 0 || i >= sizes[d] { inside = false; break }
                    offset += i * inStrides[d]
                }
                if !inside { out.update(repeating: 0, count: innerOut); continue }
                let lineIn = src + offset
                if innerStride == 1 {
                    let lo = min(max(0, -base), innerOut), hi = max(min(innerOut, innerSize - base), lo)
                    // The padding at either end is a few floats: a loop, not a memset call.
                    for j in 0..<lo { out[j] = 0 }
                    if hi > lo { (out + lo).update(from: lineIn + (lo + base), count: hi - lo) }
                    for j in hi..<innerOut { out[j] = 0 }
                } else {
                    var i = base
                    for j in 0..<innerOut {
                        out[j] = (i >= 0 && i < innerSize) ? lineIn[i] : 0
                        i += innerStride
                    }
                }
            }
        }
    }
}

extension LineConvolution {
    /// An upper bound on the floats `run(…, workers:)` borrows: the kernel regrouped per outer
    /// tap, a line buffer for each running worker (`Parallel.simultaneousWorkers`) of the split
    /// over slabs (one shared buffer when there are fewer slabs than workers), and `multiply`'s
    /// tile for products computed transposed (a run of output positions × the channels of the
    /// call, when they are few).
    func workspaceFloats(workers: Int) throws -> Int {
        let n = problem.order, cout = problem.outChannels
        let items = try Checked.multiply(problem.batch, (problem.outputSpatial[0] + slabRows - 1) / slabRows, "slabs")
        let runLength = try Checked.multiply(n == 2 ? slabRows : problem.outputSpatial[n - 2], problem.outputSpatial[n - 1], "run")
        let packed = try Checked.product([outerTaps, cout, depth], "regrouped kernel")
        // What a product borrows besides the line buffer: the mixing kernel's block of columns,
        // or the tile of a transposed GEMM.
        let mixingScratch = mixingKernels.map { ChannelMixing.scratchFloats(depth: depth, kernels: $0) } ?? 0
        if items >= workers {
            // Each worker computes every channel of its slabs.
            let tile = mixingKernels == nil && cout <= Self.transposeBelowChannels
                ? try Checked.multiply(runLength, cout, "tile") : mixingScratch
            let perWorker = try Checked.add(slabBufferCount, tile, "line buffer")
            return try Checked.add(packed, try Checked.multiply(Parallel.simultaneousWorkers(items, maxWorkers: workers), perWorker,
                                                                "line buffers"), "workspace")
        }
        // One shared line buffer; each running worker's tile holds at most its share of the
        // channels, ⌈C_out / workers⌉, when that is few enough to be transposed.
        let share = min((cout + workers - 1) / workers, Self.transposeBelowChannels)
        let tile = mixingKernels == nil ? try Checked.multiply(runLength, share, "tile") : mixingScratch
        let tiles = try Checked.multiply(Parallel.simultaneousWorkers(workers, maxWorkers: workers), tile, "tiles")
        return try Checked.add(try Checked.add(packed, slabBufferCount, "workspace"), tiles, "workspace")
    }

    /// Runs the whole convolution (see `DenseConvolution.forward` for the buffer contract).
    /// Slabs not started when the interruptible call is interrupted are skipped.
    func run(input: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
             output: UnsafeMutablePointer<Float>, workers: Int) {
        let cout = problem.outChannels
        let slabs = (problem.outputSpatial[0] + slabRows - 1) / slabRows
        let items = problem.batch * slabs
        Workspace.shared.withBuffer(of: Float.self, count: outerTaps * cout * depth) { packed in
            packedWeight(weight, into: packed)

            func slab(_ item: Int) -> (image: Int, row0: Int, rows: Int) {
                let b = item / slabs, row0 = (item % slabs) * slabRows
                return (b, row0, min(slabRows, problem.outputSpatial[0] - row0))
            }

            if items >= workers {
                Parallel.forEach(items, maxWorkers: workers) { item in
                    if Interruption.isRequested { return }
                    let (b, row0, rows) = slab(item)
                    let y = output + b * cout * problem.outputPositions
                    Workspace.shared.withBuffer(of: Float.self, count: slabBufferCount) { lines in
                        fillLines(image: input + b * problem.inputImageCount, row0: row0, rows: rows, lines: lines, rowRange: 0..<depth)
                        multiply(packed: packed, lines: lines, row0: row0, rows: rows, output: y, channels: 0..<cout,
                                 bias: bias)
                    }
                }
                return
            }
            // Few slabs: split each slab's fill by rows and its GEMMs by output channels.
            Workspace.shared.withBuffer(of: Float.self, count: slabBufferCount) { lines in
                for item in 0..<items where !Interruption.isRequested {
                    let (b, row0, rows) = slab(item)
                    let y = output + b * cout * problem.outputPositions
                    Parallel.forEach(workers, maxWorkers: workers) { w in
                        fillLines(image: input + b * problem.inputImageCount, row0: row0, rows: rows, lines: lines,
                                  rowRange: (depth * w / workers)..<(depth * (w + 1) / workers))
                    }
                    Parallel.forEach(workers, maxWorkers: workers) { w in
                        let channels = (cout * w / workers)..<(cout * (w + 1) / workers)
                        guard !channels.isEmpty else { return }
                        multiply(packed: packed, lines: lines, row0: row0, rows: rows, output: y, channels: channels,
                                 bias: bias)
                    }
                }
            }
        }
    }
}
