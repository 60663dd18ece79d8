@testable import FactorConvNumerics
import FactorConvTestSupport
import Testing

/// `PackedGemm` (AVX-512 panels, transposed output) against a float64 triple loop: row counts
/// inside one panel, across panels and at their edges (including last half panels of 16 rows),
/// every column remainder of the 12-column micro-tile, overwrite and accumulate, and channel
/// ranges that start at a later panel.
@Suite(.enabled(if: PackedGemm.isAvailable, "needs AVX-512"))
struct PackedGemmTests {
    @Test(arguments: [1, 16, 17, 32, 33, 48, 64, 70])
    func matchesTripleLoop(rows: Int) throws {
        var rng = TestRandom(seed: UInt64(4200 + rows))
        for columns in [1, 2, 3, 5, 7, 11, 12, 13, 25, 49] {
            let depth = rng.int(1...40), lda = depth + rng.int(0...3), ldb = columns + rng.int(0...3)
            let ldc = rows + rng.int(0...5)
            let a = rng.tensor([rows * lda]).scalars, b = rng.tensor([depth * ldb]).scalars
            let start = rng.tensor([columns * ldc]).scalars
            var packed = [Float](repeating: .nan, count: PackedGemm.paddedRows(rows) * depth)
            a.withUnsafeBufferPointer { PackedGemm.pack($0.baseAddress!, lda: lda, rows: rows, depth: depth, into: &packed) }
            for accumulate in [false, true] {
                // Rows from the first panel, and (when there are several) from the second one on.
                for first in Set([0, rows > 32 ? 32 : 0]) {
                    var c = start
                    packed.withUnsafeBufferPointer { p in
                        b.withUnsafeBufferPointer { bp in
                            c.withUnsafeMutableBufferPointer { cp in
                                PackedGemm.multiply(packed: p.baseAddress! + first * depth, rows: rows - first, depth: depth,
                                                    b: bp.baseAddress!, ldb: ldb, columns: columns,
                                                    c: cp.baseAddress! + first, ldc: ldc, accumulate: accumulate)
                            }
                        }
                    }
                    var worst = 0.0
                    for j in 0..<columns {
                        for i in 0..<ldc {
                            let got = Double(c[j * ldc + i])
                            // Rows outside [first, rows) and the padding of ldc are left alone.
                            guard i >= first && i < rows else { #expect(got == Double(start[j * ldc + i])); continue }
                            var want = accumulate ? Double(start[j * ldc + i]) : 0
                            for k in 0..<depth { want += Double(a[i * lda + k]) * Double(b[k * ldb + j]) }
                            worst = max(worst, abs(got - want) / max(1, abs(want)))
                        }
                    }
                    #expect(worst <= 1e-5, "rows \(rows) columns \(columns) depth \(depth) first \(first)")
                }
            }
        }
    }
}
