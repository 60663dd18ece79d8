@testable import FactorConvNumerics
import FactorConvTestSupport
import Testing

/// `ChannelMixing.apply` with the AVX2 + FMA kernel (`fck_mix_channels_avx2`, up to 6 rows × 16
/// columns per tile) against a float64 plain loop, on every row count 1–14 (each tile height and
/// balanced split) and column count 1–40 (every masked tail of the 16- and 8-column tiles, after
/// an unaligned head block; beyond 6 rows those narrow blocks are read from a zero-padded copy
/// in scratch), depths up to 300, row strides a multiple of 4 KB (X read through scratch beyond
/// 24 rows, as are deep blocks), Y and X at unaligned addresses; its
/// NaN/infinity flag in every column; and its check of Y against a pass over Y. Skipped where the
/// CPU lacks AVX2 or FMA.
@Suite(.enabled(if: AVX2.isAvailable)) struct ChannelMixingAVX2Tests {
    /// Runs the AVX2 mixing of a random problem and compares every output with a float64 loop;
    /// floats around the output (Y's row padding, before and after Y) must stay untouched.
    func check(rows: Int, columns: Int, depth: Int, ldx: Int, rng: inout TestRandom) {
        let ldy = columns + rng.int(0...3), yOffset = rng.int(0...15), xOffset = rng.int(0...7)
        let w = rng.tensor([rows * depth]).scalars
        let x = [Float](repeating: 0, count: xOffset) + rng.tensor([depth * ldx]).scalars
        let bias: [Float]? = rng.int(0...1) == 1 ? rng.tensor([rows]).scalars : nil
        let sentinel: Float = 7
        var y = [Float](repeating: sentinel, count: yOffset + rows * ldy + 16)
        w.withUnsafeBufferPointer { wp in
            x.withUnsafeBufferPointer { xp in
                y.withUnsafeMutableBufferPointer { yp in
                    func run(_ b: UnsafePointer<Float>?) {
                        ChannelMixing.apply(weight: wp.baseAddress!, rows: rows, depth: depth, input: xp.baseAddress! + xOffset,
                                            ldx: ldx, columns: columns, output: yp.baseAddress! + yOffset, ldy: ldy, bias: b,
                                            kernels: .avx2)
                    }
                    if let bias { bias.withUnsafeBufferPointer { run($0.baseAddress!) } } else { run(nil) }
                }
            }
        }
        var worst = 0.0, untouched = true
        x.withUnsafeBufferPointer { xp in
            w.withUnsafeBufferPointer { wp in
                for i in 0..<y.count {
                    let at = i - yOffset, r = at / ldy, j = at % ldy
                    guard at >= 0, r < rows, j < columns else { untouched = untouched && y[i] == sentinel; continue }
                    let b = Double(bias?[r] ?? 0)
                    var want = b, magnitude = abs(b)
                    for k in 0..<depth {
                        let term = Double(wp[r * depth + k]) * Double(xp[xOffset + k * ldx + j])
                        want += term
                        magnitude += abs(term)
                    }
                    // Float32 accumulation error bound: (depth + 1) roundings of partial sums of |terms|.
                    let allowed = Double(depth + 2) * Double(Float.ulpOfOne) * magnitude + 1e-30
                    worst = max(worst, abs(Double(y[i]) - want) / allowed)
                }
            }
        }
        #expect(untouched, "wrote outside Y: rows \(rows) columns \(columns) depth \(depth) ldx \(ldx)")
        #expect(worst <= 1, "rows \(rows) columns \(columns) depth \(depth) ldx \(ldx) bias \(bias != nil): \(worst)× the bound")
    }

    @Test func everyTileHeightAndTail() {
        var rng = TestRandom(seed: 5301)
        for rows in 1...14 {
            for columns in 1...40 {
                let depth = rng.int(0...3) == 0 ? rng.int(150...300) : rng.int(1...40)
                let ldx = rng.int(0...3) == 0 ? 1024 : columns + rng.int(0...5)
                check(rows: rows, columns: columns, depth: depth, ldx: ldx, rng: &rng)
            }
        }
    }

    /// More than 24 rows with X's rows 4 KB apart: the blocks go through scratch.
    @Test func aliasedRowsThroughScratch() {
        var rng = TestRandom(seed: 5302)
        for rows in [25, 33, 47, 70] {
            for columns in [1, 7, 8, 9, 15, 16, 17, 23, 31, 33, 40] {
                check(rows: rows, columns: columns, depth: rng.int(1...60), ldx: 1024 * rng.int(1...2), rng: &rng)
            }
        }
        check(rows: 40, columns: 1000, depth: 300, ldx: 1024, rng: &rng)
    }

    /// Long rows, deep blocks (through scratch beyond 24 rows), many tiles.
    @Test func largeProblems() {
        var rng = TestRandom(seed: 5303)
        for (rows, columns, depth, ldx) in [(6, 3136, 32, 3136), (64, 784, 64, 784), (17, 4099, 5, 4100), (100, 200, 300, 200),
                                            (13, 1025, 128, 2048), (26, 37, 128, 40), (31, 100, 129, 101)] {
            check(rows: rows, columns: columns, depth: depth, ldx: ldx, rng: &rng)
        }
    }

    /// A NaN, +Inf or -Inf in any column 0–39 of X (any lane of the head, full and masked
    /// blocks) and any row is flagged; one in the row padding just past `columns` is not read.
    @Test func flagsNonFiniteInEveryColumn() {
        var rng = TestRandom(seed: 5304)
        for columns in 1...40 {
            let depth = rng.int(1...9), rows = rng.int(1...14), ldx = columns + 1
            let w = [Float](repeating: 0, count: rows * depth)   // 0 · NaN and 0 · ∞ are NaN: Y's first row shows it
            var y = [Float](repeating: 0, count: rows * columns + 5)
            func flag(_ x: [Float]) -> Int32 {
                var nonFinite: Int32 = 0
                y.withUnsafeMutableBufferPointer { yp in
                    ChannelMixing.apply(weight: w, rows: rows, depth: depth, input: x, ldx: ldx, columns: columns,
                                        output: yp.baseAddress! + columns % 5, ldy: columns, bias: nil,
                                        nonFinite: &nonFinite, kernels: .avx2)
                }
                return nonFinite
            }
            var x = rng.tensor([depth * ldx]).scalars
            for k in 0..<depth { x[k * ldx + columns] = .nan }
            #expect(flag(x) == 0, "padding read, columns \(columns)")
            for j in 0..<columns {
                var bad = x
                bad[rng.int(0...(depth - 1)) * ldx + j] = [Float.nan, .infinity, -.infinity][j % 3]
                #expect(flag(bad) == 1, "column \(j) of \(columns)")
            }
        }
    }
    /// The output check (`nonFiniteOutput`) flags exactly the outputs a pass over Y finds
    /// non-finite: for every tile height and the head, full and masked blocks, an output that
    /// overflows to ±infinity (from finite operands) at a random position, or NaN outputs from a
    /// NaN in X, are flagged, and outputs near Float's largest value, whose sums overflow
    /// although each is finite, are not. Each kernel (AVX2, BLAS) is checked the same way.
    @Test func outputCheckFlagsExactlyNonFiniteOutputs() {
        var rng = TestRandom(seed: 8817)
        for kernels in [KernelSet.avx2, nil] {
            for trial in 0..<300 {
                let rows = rng.int(1...40), columns = rng.int(1...70), depth = rng.int(1...6)
                var x = rng.tensor([depth * columns]).scalars
                var w = rng.tensor([rows * depth]).scalars
                let bias = (0..<rows).map { _ in Float(rng.int(-2...2)) }
                switch trial % 3 {
                case 0:     // one output overflows: a huge weight times a huge input
                    let r = rng.int(0...(rows - 1)), j = rng.int(0...(columns - 1)), k = rng.int(0...(depth - 1))
                    w[r * depth + k] = 3e38
                    x[k * columns + j] = [Float(4), -4][rng.int(0...1)]
                case 1:     // every output finite but near the largest float: their sums overflow
                    w = [Float](repeating: 0, count: rows * depth)
                    x = [Float](repeating: 3e38, count: depth * columns)
                    for r in 0..<rows { w[r * depth] = 1 }
                default:    // a NaN in X makes a column of outputs NaN
                    x[rng.int(0...(depth * columns - 1))] = .nan
                }
                var y = [Float](repeating: 0, count: rows * columns + 8)
                var flag: Int32 = 0
                let offset = rng.int(0...7)
                y.withUnsafeMutableBufferPointer { yp in
                    ChannelMixing.apply(weight: w, rows: rows, depth: depth, input: x, ldx: columns, columns: columns,
                                        output: yp.baseAddress! + offset, ldy: columns, bias: bias,
                                        nonFiniteOutput: &flag, kernels: kernels)
                }
                let expected: Int32 = y[offset..<(offset + rows * columns)].allSatisfy(\.isFinite) ? 0 : 1
                #expect(flag == expected, "\(kernels.map { "\($0)" } ?? "BLAS") trial \(trial): rows \(rows) columns \(columns)")
                if trial % 3 == 0 { #expect(expected == 1, "the trial must overflow") }
                if trial % 3 == 1 { #expect(expected == 0, "the trial must stay finite") }
            }
        }
    }
}
