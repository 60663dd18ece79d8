/// Dense 1-D convolution with stride 1, without im2col: on a zero-padded copy of each input
/// row, tap k of the kernel sees the same row shifted by k·d, so the convolution is one GEMM
/// per tap, `Y += W_k · X_pad[:, k·d ..< k·d + O]`, reading the padded rows in place: no im2col
/// buffer K times the input's size is written and read back.
struct ShiftConvolution {
    let problem: ConvProblem
    /// Padded input length L + 2p.
    let paddedLength: Int

    /// The plan, or nil unless the problem is 1-D with stride 1 and not pointwise.
    init?(_ problem: ConvProblem) {
        guard problem.order == 1, problem.geometry.stride[0] == 1, !problem.isPointwise else { return nil }
        self.problem = problem
        paddedLength = problem.inputSpatial[0] + 2 * problem.geometry.padding[0]
    }

    /// An upper bound on the floats `run(…, workers:)` borrows: the regrouped kernel, and a padded
    /// copy of an image's rows for each running worker (`Parallel.simultaneousWorkers`) of the
    /// split over images (one shared copy when there are fewer images than workers).
    func workspaceFloats(workers: Int) throws -> Int {
        let rows = try Checked.multiply(problem.inChannels, paddedLength, "padded rows")
        let copies = problem.batch >= workers ? Parallel.simultaneousWorkers(problem.batch, maxWorkers: workers) : 1
        return try Checked.add(problem.kernel[0] * problem.outChannels * problem.inChannels,
                               try Checked.multiply(copies, rows, "padded rows"), "workspace")
    }

    /// Runs the whole convolution (see `DenseConvolution.forward` for the buffer contract).
    /// Images not started when the interruptible call is interrupted are skipped.
    func run(input: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
             output: UnsafeMutablePointer<Float>, workers: Int) {
        let cin = problem.inChannels, cout = problem.outChannels, k = problem.kernel[0]
        let length = problem.inputSpatial[0], outLength = problem.outputSpatial[0]
        let pad = problem.geometry.padding[0], dilation = problem.geometry.dilation[0]
        Workspace.shared.withBuffer(of: Float.self, count: k * cout * cin) { packed in
            // W_k = weight[:, :, k] as contiguous (C_out × C_in) matrices.
            for t in 0..<k {
                for o in 0..<cout { for c in 0..<cin { packed[(t * cout + o) * cin + c] = weight[(o * cin + c) * k + t] } }
            }

            func padRows(_ image: Int, into rows: UnsafeMutablePointer<Float>, channels: Range<Int>) {
                for c in channels {
                    let dst = rows + c * paddedLength, src = input + (image * cin + c) * length
                    dst.update(repeating: 0, count: pad)
                    (dst + pad).update(from: src, count: length)
                    (dst + pad + length).update(repeating: 0, count: pad)
                }
            }

            func multiply(_ image: Int, rows: UnsafePointer<Float>, channels: Range<Int>) {
                let y = output + (image * cout + channels.lowerBound) * outLength
                for t in 0..<k {
                    if Interruption.isRequested { return }
                    Float.gemm(transA: false, transB: false, m: channels.count, n: outLength, k: cin, alpha: 1,
                               a: packed + (t * cout + channels.lowerBound) * cin, lda: cin, b: rows + t * dilation,
                               ldb: paddedLength, beta: t == 0 ? 0 : 1, c: y, ldc: outLength)
                }
                if let bias {
                    for c in channels {
                        let row = output + (image * cout + c) * outLength, v = bias[c]
                        for j in 0..<outLength { row[j] += v }
                    }
                }
            }

            let count = cin * paddedLength
            if problem.batch >= workers {
                Parallel.forEach(problem.batch, maxWorkers: workers) { image in
                    if Interruption.isRequested { return }
                    Workspace.shared.withBuffer(of: Float.self, count: count) { rows in
                        padRows(image, into: rows, channels: 0..<cin)
                        multiply(image, rows: rows, channels: 0..<cout)
                    }
                }
                return
            }
            Workspace.shared.withBuffer(of: Float.self, count: count) { rows in
                for image in 0..<problem.batch where !Interruption.isRequested {
                    Parallel.forEach(workers, maxWorkers: workers) { w in
                        padRows(image, into: rows, channels: (cin * w / workers)..<(cin * (w + 1) / workers))
                    }
                    Parallel.forEach(workers, maxWorkers: workers) { w in
                        let channels = (cout * w / workers)..<(cout * (w + 1) / workers)
                        if !channels.isEmpty { multiply(image, rows: rows, channels: channels) }
                    }
                }
            }
        }
    }
}
