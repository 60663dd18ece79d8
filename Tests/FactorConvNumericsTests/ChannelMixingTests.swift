@testable import FactorConvNumerics
import FactorConvTestSupport
import Testing

/// The implementations of `ChannelMixing.apply`: BLAS, and the kernels this CPU runs.
enum MixingKernel: Int, CustomStringConvertible {
    case blas = 0, avx512 = 1, avx2 = 2
    static var available: [MixingKernel] {
        [.blas] + (AVX512.isAvailable ? [.avx512] : []) + (AVX2.isAvailable ? [.avx2] : [])
    }
    var description: String { ["blas", "avx512", "avx2"][rawValue] }
    /// The kernel set `ChannelMixing.apply` takes (nil: BLAS).
    var set: KernelSet? { [nil, .avx512, .avx2][rawValue] }
}

/// `ChannelMixing` — the AVX-512 and AVX2 kernels (where available) and the BLAS fallback —
/// against a float64 triple loop: every row remainder of the 12-row micro-tile, column counts
/// around the 32-column vectors, padded row strides and 4 KB ones, with and without bias;
/// outputs outside the matrix are left alone.
@Suite struct ChannelMixingTests {
    /// A channel mixing's shares cover every (row, column) of the output exactly once; wide
    /// images split columns at 64-byte-aligned output addresses, narrow ones split rows.
    @Test func mixingSharesCoverTheOutputOnce() {
        let base = UnsafeMutablePointer<Float>.allocate(capacity: 16)
        defer { base.deallocate() }
        for workers in 1...5 {
            for rows in [1, 5, 7, 64] {
                for columns in [1, 15, 49, 63, 64, 100, 196, 785] {
                    for offset in 0..<16 {
                        let output = base + offset
                        let share = ChannelMixing.shares(rows: rows, columns: columns, workers: workers, output: output)
                        var covered = [Int](repeating: 0, count: rows * columns)
                        for part in 0..<workers {
                            let (r, c) = share(part)
                            for i in r { for j in c { covered[i * columns + j] += 1 } }
                            let splitsColumns = c.count < columns
                            if splitsColumns && c.lowerBound > 0 {
                                #expect((Int(bitPattern: output + c.lowerBound)) % 64 == 0)
                            }
                            if splitsColumns { #expect(c.count >= 16 || c.upperBound == columns) }
                        }
                        #expect(covered.allSatisfy { $0 == 1 }, "rows \(rows) columns \(columns) workers \(workers)")
                    }
                }
            }
        }
    }

    /// The split leaves the busiest worker the fewest (row × 16-column block) passes: a 14×14
    /// image (12 full blocks and a narrow one) splits its rows over 2 workers, a 56×56 one (196
    /// full blocks) its columns, and a 7×7 one (narrower than two blocks per worker) its rows.
    @Test func mixingSharesPickTheBalancedSplit() {
        let output = UnsafeMutablePointer<Float>.allocate(capacity: 16)
        defer { output.deallocate() }
        let aligned = output + (16 - (Int(bitPattern: output) / 4) % 16) % 16
        func splitsRows(rows: Int, columns: Int, workers: Int) -> Bool {
            ChannelMixing.shares(rows: rows, columns: columns, workers: workers, output: aligned)(0).columns.count == columns
        }
        #expect(splitsRows(rows: 114, columns: 196, workers: 2))
        #expect(!splitsRows(rows: 64, columns: 3136, workers: 2))
        #expect(splitsRows(rows: 229, columns: 49, workers: 2))
        #expect(!splitsRows(rows: 7, columns: 196, workers: 2))      // 4 rows × 13 blocks > 7 × 7
    }

    @Test(arguments: MixingKernel.available)
    func matchesTripleLoop(kernel: MixingKernel) {
        var rng = TestRandom(seed: 5100 + UInt64(kernel.rawValue))
        for rows in [1, 2, 3, 5, 11, 12, 13, 27, 31, 40, 65, 100] {
            for columns in [1, 15, 16, 17, 31, 32, 33, 100] {
                // Row strides a multiple of 4 KB (X read through scratch when rows > 64) in some of the cases.
                let aliased = rng.int(0...2) == 0
                let depth = rng.int(1...70), ldx = aliased ? 1024 : columns + rng.int(0...3), ldy = columns + rng.int(0...3)
                let w = rng.tensor([rows * depth]).scalars, x = rng.tensor([depth * ldx]).scalars
                let bias: [Float]? = rng.int(0...1) == 1 ? rng.tensor([rows]).scalars : nil
                var y = [Float](repeating: 7, count: rows * ldy)
                w.withUnsafeBufferPointer { wp in
                    x.withUnsafeBufferPointer { xp in
                        y.withUnsafeMutableBufferPointer { yp in
                            func run(_ b: UnsafePointer<Float>?) {
                                ChannelMixing.apply(weight: wp.baseAddress!, rows: rows, depth: depth, input: xp.baseAddress!,
                                                    ldx: ldx, columns: columns, output: yp.baseAddress!, ldy: ldy, bias: b,
                                                    kernels: kernel.set)
                            }
                            if let bias { bias.withUnsafeBufferPointer { run($0.baseAddress!) } } else { run(nil) }
                        }
                    }
                }
                var worst = 0.0
                for r in 0..<rows {
                    for j in 0..<ldy {
                        let got = Double(y[r * ldy + j])
                        guard j < columns else { #expect(got == 7); continue }
                        var want = Double(bias?[r] ?? 0)
                        for k in 0..<depth { want += Double(w[r * depth + k]) * Double(x[k * ldx + j]) }
                        worst = max(worst, abs(got - want) / max(1, abs(want)))
                    }
                }
                #expect(worst <= 1e-5, "rows \(rows) columns \(columns) depth \(depth) bias \(bias != nil)")
            }
        }
    }

    /// The optional non-finite check: a single NaN, +Inf or -Inf anywhere in X's `columns`
    /// (first and last column, either vector of a block, the last block, an aliased X) sets the
    /// flag, also where the first row of W is zero (the kernel looks at Y's first row first);
    /// finite extremes (largest float, subnormals, -0), products that overflow to infinity, and
    /// non-finite values in the row padding beyond `columns` do not.
    @Test(arguments: MixingKernel.available)
    func flagsNonFiniteInput(kernel: MixingKernel) {
        var rng = TestRandom(seed: 5200 + UInt64(kernel.rawValue))
        func flag(_ x: [Float], rows: Int, depth: Int, ldx: Int, columns: Int, zeroFirstRow: Bool = true) -> Int32 {
            var w = [Float](repeating: 0.5, count: rows * depth)
            if zeroFirstRow { for k in 0..<depth { w[k] = 0 } }
            var y = [Float](repeating: 0, count: rows * columns)
            var nonFinite: Int32 = 0
            ChannelMixing.apply(weight: w, rows: rows, depth: depth, input: x, ldx: ldx, columns: columns, output: &y,
                                ldy: columns, bias: nil, nonFinite: &nonFinite, kernels: kernel.set)
            return nonFinite
        }
        for (depth, columns, ldx) in [(1, 1, 1), (3, 17, 20), (5, 32, 32), (7, 33, 40), (70, 100, 1024), (13, 3136, 3136)] {
            let rows = rng.int(1...30)
            var x = rng.tensor([depth * ldx]).scalars
            x[0] = .greatestFiniteMagnitude
            x[x.count - 1] = -.leastNonzeroMagnitude
            if x.count > 2 { x[1] = -0.0 }
            for k in 0..<depth where ldx > columns { x[k * ldx + columns] = .nan }   // padding: not read
            #expect(flag(x, rows: rows, depth: depth, ldx: ldx, columns: columns) == 0, "depth \(depth) columns \(columns)")
            let huge = [Float](repeating: .greatestFiniteMagnitude, count: depth * ldx)
            #expect(flag(huge, rows: 2, depth: depth, ldx: ldx, columns: columns, zeroFirstRow: false) == 0,
                    "overflow, depth \(depth) columns \(columns)")
            let spots = [(0, 0), (depth - 1, columns - 1), (depth / 2, min(16, columns - 1)), (depth / 3, min(8, columns - 1)),
                         (rng.int(0...(depth - 1)), rng.int(0...(columns - 1)))]
            for (k, j) in spots {
                for bad in [Float.nan, .infinity, -.infinity] {
                    var y = x
                    y[k * ldx + j] = bad
                    #expect(flag(y, rows: rows, depth: depth, ldx: ldx, columns: columns) == 1,
                            "\(bad) at row \(k) column \(j), depth \(depth) columns \(columns)")
                }
            }
        }
    }
}
