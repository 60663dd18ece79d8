@testable import FactorConvNumerics
import FactorConvTestSupport
import Testing

/// `PackedGemm` (panels, transposed output) on every kernel the CPU runs (AVX-512, AVX2)
/// against a float64 triple loop: row counts inside one panel, across panels and at their edges
/// (including last half panels of 16 rows), every column remainder of the micro-tiles,
/// overwrite and accumulate, and channel ranges that start at a later panel.
@Suite(.enabled(if: PackedGemm.isAvailable, "needs AVX-512 or AVX2"))
struct PackedGemmTests {
    static let kernels = KernelSet.available

    @Test(arguments: [1, 16, 17, 32, 33, 48, 64, 70], kernels)
    func matchesTripleLoop(rows: Int, kernel: KernelSet) throws {
        var rng = TestRandom(seed: UInt64(4200 + rows))
        for columns in [1, 2, 3, 5, 7, 11, 12, 13, 25, 49] {
            let depth = rng.int(1...40)
            for first in Set([0, rows > 32 ? 32 : 0]) {
                // Rows from the first panel, and (when there are several) from the second one on.
                check(rows: rows, depth: depth, columns: columns, first: first, kernel: kernel, rng: &rng)
            }
        }
    }

    /// Every row count 1...70 (so every tail of a 32-row panel and of a 16-row half, and last
    /// half panels), every column count 1...30 (every remainder of 6- and 12-column tiles), depths
    /// 1...300.
    @Test(arguments: kernels)
    func everyTail(kernel: KernelSet) throws {
        var rng = TestRandom(seed: 4300)
        for rows in 1...70 {
            for columns in 1...30 {
                check(rows: rows, depth: rng.int(1...12), columns: columns, first: 0, kernel: kernel, rng: &rng)
            }
            check(rows: rows, depth: rng.int(13...300), columns: rng.int(1...30), first: 0, kernel: kernel, rng: &rng)
        }
    }

    /// Deep products with several panels (the AVX2 kernel runs the depth in chunks of 128, each
    /// after the first accumulating): depths across one and several chunk edges, row counts past
    /// two panels.
    @Test(arguments: kernels)
    func deepProducts(kernel: KernelSet) throws {
        var rng = TestRandom(seed: 4400)
        for rows in [65, 96, 130] {
            for depth in [127, 128, 129, 257, 513, 1100] {
                for columns in [1, 6, 7, 13] {
                    check(rows: rows, depth: depth, columns: columns, first: rows > 96 ? 32 : 0, kernel: kernel, rng: &rng)
                }
            }
        }
    }

    /// One product with A (`rows` × `depth`, padded row stride), B (padded row stride) and C
    /// (padded ldc), rows [first, rows) from a panel start, checked after overwriting and after
    /// accumulating; C's other rows and its padding must be left alone.
    private func check(rows: Int, depth: Int, columns: Int, first: Int, kernel: KernelSet,
                       rng: inout TestRandom) {
        let lda = depth + rng.int(0...3), ldb = columns + rng.int(0...3)
        let ldc = rows + rng.int(0...5)
        let a = rng.tensor([rows * lda]).scalars, b = rng.tensor([depth * ldb]).scalars
        let start = rng.tensor([columns * ldc]).scalars
        var packed = [Float](repeating: .nan, count: PackedGemm.paddedRows(rows) * depth)
        a.withUnsafeBufferPointer { PackedGemm.pack($0.baseAddress!, lda: lda, rows: rows, depth: depth, into: &packed) }
        // The float64 product, once.
        var product = [Double](repeating: 0, count: rows * columns)
        a.withUnsafeBufferPointer { ap in
            b.withUnsafeBufferPointer { bp in
                for i in first..<rows {
                    for k in 0..<depth {
                        let aik = Double(ap[i * lda + k])
                        for j in 0..<columns { product[i * columns + j] += aik * Double(bp[k * ldb + j]) }
                    }
                }
            }
        }
        for accumulate in [false, true] {
            var c = start
            packed.withUnsafeBufferPointer { p in
                b.withUnsafeBufferPointer { bp in
                    c.withUnsafeMutableBufferPointer { cp in
                        PackedGemm.multiply(packed: p.baseAddress! + first * depth, rows: rows - first, depth: depth,
                                            b: bp.baseAddress!, ldb: ldb, columns: columns, c: cp.baseAddress! + first,
                                            ldc: ldc, accumulate: accumulate, kernel: kernel)
                    }
                }
            }
            var worst = 0.0, untouched = true
            for j in 0..<columns {
                for i in 0..<ldc {
                    let got = Double(c[j * ldc + i])
                    guard i >= first && i < rows else { untouched = untouched && got == Double(start[j * ldc + i]); continue }
                    let want = (accumulate ? Double(start[j * ldc + i]) : 0) + product[i * columns + j]
                    worst = max(worst, abs(got - want) / max(1, abs(want)))
                }
            }
            #expect(untouched, "\(kernel) rows \(rows) columns \(columns) depth \(depth) first \(first) wrote outside C")
            #expect(worst <= 1e-5 * Double(max(1, depth / 40)),
                    "\(kernel) rows \(rows) columns \(columns) depth \(depth) first \(first) accumulate \(accumulate)")
        }
    }
}
