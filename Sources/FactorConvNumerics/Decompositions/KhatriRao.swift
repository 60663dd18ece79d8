/// Matricized-tensor times Khatri-Rao product (MTTKRP) kernels for CP-ALS that never form a
/// large Khatri-Rao product: it is generated in row chunks of a few MB right before the GEMM
/// that consumes them (a 13824 × 9162 Khatri-Rao would be 1 GB in float64).
extension DecompositionKit {
    /// Bytes of one generated Khatri-Rao chunk per worker (at least 256 rows, for efficient GEMM).
    static let khatriRaoChunkBytes = 8 << 20

    /// Writes rows `[j0, j1)` and columns `[c0, c1)` of `KR(factors)` into `out` (row-major,
    /// leading dimension `c1 - c0`). The first factor's row index varies slowest (matches
    /// `unfold`); with no factors the product is a single row of ones.
    static func khatriRaoRows(_ factors: [Matrix], rows j0: Int, _ j1: Int, columns c0: Int, _ c1: Int,
                              into out: UnsafeMutablePointer<Double>) {
        let w = c1 - c0, d = factors.count
        guard j1 > j0, w > 0 else { return }
        if d == 0 {
            for j in 0..<(j1 - j0) { for c in 0..<w { out[j * w + c] = 1 } }
            return
        }
        let ld = factors[0].cols
        // Multi-index of row j0 (last mode fastest).
        var index = [Int](repeating: 0, count: d)
        var rem = j0
        for k in stride(from: d - 1, through: 0, by: -1) { index[k] = rem % factors[k].rows; rem /= factors[k].rows }
        // prefix[k] = F_0[i_0] ∘ … ∘ F_k[i_k] on the column range; recomputed from the lowest changed mode.
        let prefix = Matrix(rows: d, cols: w)
        var dirty = 0
        for j in 0..<(j1 - j0) {
            for k in dirty..<d {
                let row = factors[k].data + index[k] * ld + c0
                let dst = prefix.data + k * w
                if k == 0 {
                    dst.update(from: row, count: w)
                } else {
                    let prev = prefix.data + (k - 1) * w
                    for c in 0..<w { dst[c] = prev[c] * row[c] }
                }
            }
            (out + j * w).update(from: prefix.data + (d - 1) * w, count: w)
            // Advance the odometer.
            var k = d - 1
            while k >= 0 {
                index[k] += 1
                if index[k] < factors[k].rows { break }
                index[k] = 0
                k -= 1
            }
            dirty = max(k, 0)
        }
    }

    /// `M = A · KR(factors)` for `A` (rows × J, row-major), `J = Π factor rows`, into `m` (rows × R).
    /// Work is split over row ranges of A (or column ranges of R when A has few rows); each task
    /// streams Khatri-Rao chunks through GEMM. Stops between chunks when the interruptible call
    /// is interrupted (`m` is then incomplete; the caller's check point throws).
    static func mttkrpDirect(_ a: UnsafePointer<Double>, rows: Int, cols j: Int, factors: [Matrix], rank r: Int, into m: Matrix) {
        let workers = max(1, Parallel.threadCount)
        var tasks: [(rows: Range<Int>, cols: Range<Int>)] = []
        if rows >= 8 * workers || r < 32 * workers {
            let n = min(workers, rows)
            for t in 0..<n { tasks.append((rows * t / n ..< rows * (t + 1) / n, 0..<r)) }
        } else {
            let n = min(workers, r / 16)
            for t in 0..<n { tasks.append((0..<rows, r * t / n ..< r * (t + 1) / n)) }
        }
        Parallel.forEach(tasks.count) { t in
            let (rr, cr) = tasks[t]
            let w = cr.count
            let chunk = min(j, max(256, khatriRaoChunkBytes / (8 * max(w, 1))))
            let kr = Matrix(rows: chunk, cols: w)
            var j0 = 0
            while j0 < j {
                if Interruption.isRequested { return }
                let j1 = min(j, j0 + chunk)
                khatriRaoRows(factors, rows: j0, j1, columns: cr.lowerBound, cr.upperBound, into: kr.data)
                Double.gemm(transA: false, transB: false, m: rr.count, n: w, k: j1 - j0, alpha: 1,
                            a: a + rr.lowerBound * j + j0, lda: j, b: kr.data, ldb: w,
                            beta: j0 == 0 ? 0 : 1, c: m.data + rr.lowerBound * r + cr.lowerBound, ldc: r)
                j0 = j1
            }
        }
    }

    /// Work (output elements × (I0 + 8), the 8 for writing the output) of one GEMM piece of
    /// `leftContraction`: its output can be hundreds of MB, written by one GEMM per worker, and
    /// an interruption is only seen between GEMMs.
    static let leftContractionPieceWork = 1 << 26

    /// The left partial contraction `L[r, :] = F_0[:, r]ᵀ T_(0)` (R × J0) of a tensor viewed as
    /// `T_(0)` (I0 × J0): the start of the dimension tree that serves modes 1…N-1 of a sweep.
    /// Each worker's share is computed in pieces of about `leftContractionPieceWork`, and of at
    /// least 256 rows (every row piece packs all of `T_(0)` again) or 256 columns; pieces not
    /// started when the interruptible call is interrupted are skipped (`L` is then incomplete;
    /// the caller's check point throws).
    static func leftContraction(_ t: UnsafePointer<Double>, i0: Int, j0: Int, factor f: Matrix) -> Matrix {
        let r = f.cols
        let l = Matrix(rows: r, cols: j0)
        let workers = max(1, Parallel.threadCount)
        let byRows = r >= 64 * workers
        let n = byRows ? workers : max(1, min(workers, j0 / 256))
        Parallel.forEach(n) { b in
            if byRows {
                let lo = r * b / n, hi = r * (b + 1) / n
                let step = max(256, leftContractionPieceWork / max(1, j0 * (i0 + 8)))
                for p0 in stride(from: lo, to: hi, by: step) where !Interruption.isRequested {
                    let p1 = min(hi, p0 + step)
                    Double.gemm(transA: true, transB: false, m: p1 - p0, n: j0, k: i0, alpha: 1, a: f.data + p0, lda: r,
                                b: t, ldb: j0, beta: 0, c: l.data + p0 * j0, ldc: j0)
                }
            } else {
                let lo = j0 * b / n, hi = j0 * (b + 1) / n
                let step = max(256, leftContractionPieceWork / max(1, r * (i0 + 8)))
                for p0 in stride(from: lo, to: hi, by: step) where !Interruption.isRequested {
                    let p1 = min(hi, p0 + step)
                    Double.gemm(transA: true, transB: false, m: r, n: p1 - p0, k: i0, alpha: 1, a: f.data, lda: r,
                                b: t + p0, ldb: j0, beta: 0, c: l.data + p0, ldc: j0)
                }
            }
        }
        return l
    }

    /// MTTKRP of mode n from the left contraction `L` (R × (I_n · rest)):
    /// `M[i, r] = Σ_b L[r, i, b] · KR(right)[b, r]`, with `right` the factors of modes n+1… .
    /// Stops between columns when the interruptible call is interrupted (as `mttkrpDirect`).
    static func mttkrpFromLeft(_ l: Matrix, size i: Int, rest: Int, right: [Matrix]) -> Matrix {
        let r = l.rows
        let m = Matrix(rows: i, cols: r)
        let blocks = min(r, max(1, Parallel.threadCount) * 4)
        Parallel.forEach(blocks) { b in
            let lo = r * b / blocks, hi = r * (b + 1) / blocks
            let w = Matrix(rows: rest, cols: 1), col = Matrix(rows: i, cols: 1)
            for c in lo..<hi {
                if Interruption.isRequested { return }
                khatriRaoRows(right, rows: 0, rest, columns: c, c + 1, into: w.data)
                Double.gemm(transA: false, transB: false, m: i, n: 1, k: rest, alpha: 1, a: l.data + c * l.cols, lda: rest,
                            b: w.data, ldb: 1, beta: 0, c: col.data, ldc: 1)
                for x in 0..<i { m.data[x * r + c] = col.data[x] }
            }
        }
        return m
    }

    /// Contracts mode n of the left contraction with the updated factor:
    /// `L'[r, b] = Σ_i L[r, i, b] F_n[i, r]` (R × rest). Stops between columns when the
    /// interruptible call is interrupted (as `mttkrpDirect`).
    static func advanceLeft(_ l: Matrix, size i: Int, rest: Int, factor f: Matrix) -> Matrix {
        let r = l.rows
        let next = Matrix(rows: r, cols: rest)
        let blocks = min(r, max(1, Parallel.threadCount) * 4)
        Parallel.forEach(blocks) { b in
            let lo = r * b / blocks, hi = r * (b + 1) / blocks
            let col = Matrix(rows: i, cols: 1)
            for c in lo..<hi {
                if Interruption.isRequested { return }
                for x in 0..<i { col.data[x] = f.data[x * r + c] }
                Double.gemm(transA: true, transB: false, m: rest, n: 1, k: i, alpha: 1, a: l.data + c * l.cols, lda: rest,
                            b: col.data, ldb: 1, beta: 0, c: next.data + c * rest, ldc: 1)
            }
        }
        return next
    }
}
