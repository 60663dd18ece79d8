/// The R×R matrices of CP-ALS: factor Gram matrices `G_k = F_kᵀ F_k` and their Hadamard products.
/// For a big rank each is R² doubles (671 MB at R = 9162), so only the Grams of large modes are
/// cached (lower triangle); those of small modes (a 3-tap spatial factor) are recomputed per
/// tile from the factor, which costs about as much as reading a cached Gram.
extension DecompositionKit {
    final class CPGrams {
        /// Modes of at most this size are never cached.
        static let smallMode = 8

        let rank: Int
        private(set) var grams: [Matrix?]
        private let cacheable: [Bool]

        /// `cache: false` recomputes every Gram per tile (no R×R storage at all).
        init(sizes: [Int], rank: Int, cache: Bool = true) {
            self.rank = rank
            grams = Array(repeating: nil, count: sizes.count)
            cacheable = sizes.map { cache && $0 > Self.smallMode }
        }

        /// Recomputes the cached Gram of `mode` from its (new) factor.
        func refresh(_ mode: Int, _ factor: Matrix) {
            guard cacheable[mode] else { return }
            let g = grams[mode] ?? Matrix(rows: rank, cols: rank)
            gramLower(factor.data, n: rank, k: factor.rows, lda: rank, columns: true, into: g.data, ldc: rank)
            grams[mode] = g
        }

        /// Frees the cached Gram of `mode` (it is stale and no longer needed in this sweep).
        func drop(_ mode: Int) { grams[mode] = nil }

        /// Rows `[lo, hi)`, columns `[0, hi)` of `Π_{k ≠ excluded} G_k` into `out` (leading dimension `ld`).
        private func hadamardTile(_ lo: Int, _ hi: Int, excluding: Int?, factors: [Matrix],
                                  into out: UnsafeMutablePointer<Double>, ld: Int, scratch: Matrix) {
            for i in lo..<hi { for j in 0..<hi { out[(i - lo) * ld + j] = 1 } }
            for (k, f) in factors.enumerated() where k != excluding {
                let source: UnsafePointer<Double>
                let sld: Int
                if let g = grams[k] {
                    source = UnsafePointer(g.data + lo * rank)
                    sld = rank
                } else {
                    Double.gemm(transA: true, transB: false, m: hi - lo, n: hi, k: f.rows, alpha: 1,
                                a: f.data + lo, lda: rank, b: f.data, ldb: rank, beta: 0, c: scratch.data, ldc: hi)
                    source = UnsafePointer(scratch.data)
                    sld = hi
                }
                for i in 0..<(hi - lo) {
                    let o = out + i * ld, s = source + i * sld
                    for j in 0..<hi { o[j] *= s[j] }
                }
            }
        }

        /// The lower triangle of `Π_{k ≠ mode} G_k + shift · I` into `p` (R × R).
        func normalMatrix(excluding mode: Int, factors: [Matrix], shift: Double, into p: Matrix) {
            let blocks = balancedLowerBlocks(rank, block: tile)
            Parallel.forEach(blocks.count) { b in
                let (lo, hi) = blocks[b]
                let scratch = Matrix(rows: hi - lo, cols: hi)
                hadamardTile(lo, hi, excluding: mode, factors: factors, into: p.data + lo * rank, ld: rank, scratch: scratch)
                for i in lo..<hi { p.data[i * rank + i] += shift }
            }
        }

        /// `Σ_{r,s} Π_k G_k[r, s]`: the squared norm of the CP tensor (unit weights).
        func cpSquaredNorm(factors: [Matrix]) -> Double {
            let blocks = balancedLowerBlocks(rank, block: tile)
            var partial = [Double](repeating: 0, count: blocks.count)
            partial.withUnsafeMutableBufferPointer { sums in
                Parallel.forEach(blocks.count) { b in
                    let (lo, hi) = blocks[b]
                    let tileBuffer = Matrix(rows: hi - lo, cols: hi), scratch = Matrix(rows: hi - lo, cols: hi)
                    hadamardTile(lo, hi, excluding: nil, factors: factors, into: tileBuffer.data, ld: hi, scratch: scratch)
                    var s = 0.0
                    for i in lo..<hi {
                        let row = tileBuffer.data + (i - lo) * hi
                        var off = 0.0
                        for j in 0..<i { off += row[j] }
                        s += 2 * off + row[i]
                    }
                    sums[b] = s
                }
            }
            return partial.reduce(0, +)
        }
    }
}
