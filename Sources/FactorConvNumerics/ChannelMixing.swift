import FactorConvKernels

/// Channel mixing `Y = W · X + bias` of channel-major data — a 1×1 convolution, and the
/// pointwise stages of every factorized forward path — where W is small (C_out × C_in) and X has
/// many columns (positions).
enum ChannelMixing {
    /// Y (`rows` × `columns`, row stride `ldy`) = W (`rows` × `depth`, row-major, dense) ·
    /// X (`depth` × `columns`, row stride `ldx`) + bias (`rows` floats, or nil).
    ///
    /// With `kernels` (default: the best the CPU has) AVX-512, `fck_mix_channels`: it reads X in
    /// place (through a small scratch block only when X's rows alias in L1) and writes each
    /// output once, where OpenBLAS copies all of X into a packed buffer and zero-fills Y before
    /// multiplying (a large share of a low-rank layer's forward); with AVX2, its 8-wide
    /// counterpart `fck_mix_channels_avx2`; with nil, a BLAS GEMM plus a bias pass.
    ///
    /// When `nonFinite` is given, X is also checked for NaN and infinities (by the kernels through
    /// Y's first row, which any of them makes non-finite: no extra pass over X; with BLAS, by a
    /// pass over X) and `nonFinite.pointee` set to 1 if it has any. When `nonFiniteOutput` is
    /// given, Y is checked the same way and `nonFiniteOutput.pointee` set to 1 if it holds any:
    /// by the AVX2 kernel as it stores Y (at about no cost), else by a pass over Y's rows.
    ///
    /// `scratch`, when given, holds `scratchFloats(depth:kernels:)` floats the call uses instead of
    /// borrowing its own from `Workspace.shared`: callers that mix many small blocks in a loop
    /// borrow once for all of them.
    static func apply(weight: UnsafePointer<Float>, rows: Int, depth: Int, input: UnsafePointer<Float>, ldx: Int,
                      columns: Int, output: UnsafeMutablePointer<Float>, ldy: Int, bias: UnsafePointer<Float>?,
                      nonFinite: UnsafeMutablePointer<Int32>? = nil, nonFiniteOutput: UnsafeMutablePointer<Int32>? = nil,
                      kernels: KernelSet? = KernelSet.best, scratch given: UnsafeMutablePointer<Float>? = nil) {
        guard rows > 0, columns > 0 else { return }
        if let kernels {
            func run(_ scratch: UnsafeMutablePointer<Float>) {
                switch kernels {
                case .avx512:
                    fck_mix_channels(weight, depth, Int32(rows), Int32(depth), input, ldx, Int32(columns), output, ldy,
                                     bias, scratch, nonFinite)
                case .avx2:
                    fck_mix_channels_avx2(weight, depth, Int32(rows), Int32(depth), input, ldx, Int32(columns), output,
                                          ldy, bias, scratch, nonFinite, nonFiniteOutput)
                }
            }
            if let given {
                run(given)
            } else {
                Workspace.shared.withBuffer(of: Float.self, count: scratchFloats(depth: depth, kernels: kernels), run)
            }
        } else {
            if let nonFinite, (0..<depth).contains(where: { !FiniteCheck.allFinite(UnsafeBufferPointer(start: input + $0 * ldx, count: columns)) }) {
                nonFinite.pointee = 1
            }
            Float.gemm(transA: false, transB: false, m: rows, n: columns, k: depth, alpha: 1, a: weight, lda: depth,
                       b: input, ldb: ldx, beta: 0, c: output, ldc: ldy)
            if let bias {
                for r in 0..<rows {
                    let row = output + r * ldy, v = bias[r]
                    for j in 0..<columns { row[j] += v }
                }
            }
        }
        // The AVX2 kernel checks Y as it stores it; after the others, a pass over Y's rows.
        if kernels != .avx2, let nonFiniteOutput,
           (0..<rows).contains(where: { !FiniteCheck.allFinite(UnsafeBufferPointer(start: output + $0 * ldy, count: columns)) }) {
            nonFiniteOutput.pointee = 1
        }
    }

    /// `apply` split over `workers` threads (`shares`: output rows or aligned columns), with
    /// `nonFinite` and `nonFiniteOutput`, when given, holding one flag per worker (each written
    /// by its worker only).
    static func applySplit(weight: UnsafePointer<Float>, rows: Int, depth: Int, input: UnsafePointer<Float>, ldx: Int,
                           columns: Int, output: UnsafeMutablePointer<Float>, ldy: Int, bias: UnsafePointer<Float>?,
                           workers: Int, nonFinite: UnsafeMutablePointer<Int32>? = nil,
                           nonFiniteOutput: UnsafeMutablePointer<Int32>? = nil) {
        let share = shares(rows: rows, columns: columns, workers: workers, output: output)
        Parallel.forEach(workers, maxWorkers: workers) { part in
            let (r, c) = share(part)
            guard !r.isEmpty, !c.isEmpty else { return }
            apply(weight: weight + r.lowerBound * depth, rows: r.count, depth: depth, input: input + c.lowerBound,
                  ldx: ldx, columns: c.count, output: output + r.lowerBound * ldy + c.lowerBound, ldy: ldy,
                  bias: bias.map { $0 + r.lowerBound }, nonFinite: nonFinite.map { $0 + part },
                  nonFiniteOutput: nonFiniteOutput.map { $0 + part })
        }
    }

    /// Worker `part`'s share of a channel mixing with `rows` output channels over `columns`
    /// positions, split over `workers`: output rows or columns, whichever leaves the busiest
    /// worker the least work (ties go to columns).
    ///
    /// The kernel runs whole blocks of 16 columns (one cache line of output), each block a pass
    /// of every row's weights over it; a narrow block (the head before Y's first aligned column,
    /// the tail) costs a full pass. A column split gives each worker the whole, small, weight
    /// and a slice of the image, cut where the output row is 64-byte aligned, so that every share
    /// but the first and last runs full blocks and stores whole cache lines. A row split gives
    /// each worker a share of the weight's rows over the whole image: better when the columns
    /// make few blocks, which divide unevenly (a 14×14 image's 196 columns are 12 full blocks and
    /// a narrow one: 6 and 7 passes per worker, against 6.5 each for halves of the rows), and
    /// the only split for images narrower than two blocks per worker.
    static func shares(rows: Int, columns: Int, workers: Int, output: UnsafeMutablePointer<Float>)
        -> (Int) -> (rows: Range<Int>, columns: Range<Int>) {
        let line = 64 / MemoryLayout<Float>.stride
        let byRows: (Int) -> (rows: Range<Int>, columns: Range<Int>) = { part in
            (Parallel.share(of: rows, part: part, parts: workers), 0..<columns)
        }
        guard columns >= 2 * line * workers else { return byRows }
        let head = (line - (Int(bitPattern: output) / MemoryLayout<Float>.stride) % line) % line
        func cut(_ part: Int) -> Int {
            if part == 0 { return 0 }
            if part == workers { return columns }
            let even = columns * part / workers
            return min(columns, head + (even - head + line / 2) / line * line)
        }
        /// The kernel's blocks over `count` columns, the first `lead` of them before an aligned one.
        func blocks(_ count: Int, lead: Int) -> Int {
            lead > 0 && lead < count ? 1 + (count - lead + line - 1) / line : (count + line - 1) / line
        }
        let busiestByColumns = (0..<workers).map { blocks(cut($0 + 1) - cut($0), lead: $0 == 0 ? head : 0) }.max()!
        let busiestByRows = (rows + workers - 1) / workers * blocks(columns, lead: head)
        if busiestByRows < rows * busiestByColumns { return byRows }
        return { part in (0..<rows, cut(part)..<cut(part + 1)) }
    }

    /// Floats of workspace one `apply` of inner dimension `depth` borrows: the kernel's block of
    /// X's columns (32 wide for AVX-512, 16 for AVX2; used when X's rows alias in L1), none with BLAS.
    static func scratchFloats(depth: Int, kernels: KernelSet? = KernelSet.best) -> Int {
        switch kernels {
        case .avx512: 32 * depth
        case .avx2: 16 * depth
        case nil: 0
        }
    }
}
