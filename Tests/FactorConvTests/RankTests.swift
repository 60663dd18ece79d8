import Testing
@testable import FactorConv

/// One row of behaviour notes §3.4: the kernel shape (C_out, C_in, K...), a rank, and tltorch's resolved ranks.
struct RankRow: Sendable, CustomTestStringConvertible {
    let kernel: [Int]
    let rank: RankSpec
    let cp: Int
    let tucker: [Int]
    let tuckerSpatial: [Int]?
    let tt: [Int]
    var testDescription: String { "\(kernel) rank \(rank)" }
}

/// Spec §3.4, verified against TensorLy; TT uses the (C_in, K..., C_out) layout.
let rankTable: [RankRow] = [
    .init(kernel: [32, 16, 3, 3], rank: .same, cp: 85, tucker: [30, 15, 3, 3], tuckerSpatial: [28, 14, 3, 3], tt: [1, 30, 9, 55, 1]),
    .init(kernel: [32, 16, 3, 3], rank: .fraction(0.5), cp: 43, tucker: [24, 12, 2, 2], tuckerSpatial: [19, 9, 3, 3], tt: [1, 18, 6, 34, 1]),
    .init(kernel: [32, 16, 3, 3], rank: .fraction(0.1), cp: 9, tucker: [10, 5, 1, 1], tuckerSpatial: [7, 3, 3, 3], tt: [1, 5, 2, 10, 1]),
    .init(kernel: [32, 16, 3, 3], rank: .fraction(1.5), cp: 128, tucker: [34, 17, 3, 3], tuckerSpatial: nil, tt: [1, 39, 12, 71, 1]),
    .init(kernel: [32, 16, 3, 3], rank: .int(10), cp: 10, tucker: [10, 10, 10, 10], tuckerSpatial: [10, 10, 3, 3], tt: [1, 10, 10, 10, 1]),
    .init(kernel: [64, 128, 3, 3], rank: .same, cp: 372, tucker: [59, 119, 3, 3], tuckerSpatial: [56, 111, 3, 3], tt: [1, 323, 15, 165, 1]),
    .init(kernel: [64, 128, 3, 3], rank: .fraction(0.25), cp: 93, tucker: [36, 71, 2, 2], tuckerSpatial: [24, 49, 3, 3], tt: [1, 101, 5, 52, 1]),
    .init(kernel: [256, 256, 3, 3], rank: .fraction(0.5), cp: 569, tucker: [194, 194, 2, 2], tuckerSpatial: [155, 155, 3, 3], tt: [1, 506, 12, 506, 1]),
    .init(kernel: [64, 3, 7, 7], rank: .same, cp: 116, tucker: [56, 3, 6, 6], tuckerSpatial: [51, 2, 7, 7], tt: [1, 8, 12, 60, 1]),
    .init(kernel: [16, 16, 3], rank: .same, cp: 22, tucker: [12, 12, 2], tuckerSpatial: [11, 11, 3], tt: [1, 12, 12, 1]),
    .init(kernel: [8, 4, 3, 3, 3], rank: .same, cp: 41, tucker: [8, 4, 3, 3, 3], tuckerSpatial: [8, 4, 3, 3, 3], tt: [1, 9, 8, 8, 14, 1]),
]

@Suite("Rank resolution (behaviour notes §3)")
struct RankTests {
    @Test("behaviour notes §3.4 table", arguments: rankTable)
    func table(_ row: RankRow) throws {
        let ttShape = try KernelLayout.factorizationShape(kernelShape: row.kernel, factorization: .tt)
        #expect(try RankResolver.resolve(row.rank, factorization: .cp, shape: row.kernel) == .cp(row.cp))
        #expect(try RankResolver.resolve(row.rank, factorization: .tucker, shape: row.kernel) == .tucker(row.tucker))
        #expect(try RankResolver.resolve(row.rank, factorization: .tt, shape: ttShape) == .tt(row.tt))
        if let spatial = row.tuckerSpatial {
            let fixed = FixedRankModes.spatial.resolved(layerModes: 0, order: row.kernel.count - 2)
            #expect(try RankResolver.tuckerRank(shape: row.kernel, rank: row.rank, fixedModes: fixed) == spatial)
        }
    }

    @Test("behaviour notes §3.4 table, n_layers = 3")
    func layered() throws {
        let kernel = [5, 6, 3, 3]
        let shape = try KernelLayout.factorizationShape(kernelShape: kernel, factorization: .cp, layers: [3])
        #expect(shape == [3, 5, 6, 3, 3])
        let ttShape = try KernelLayout.factorizationShape(kernelShape: kernel, factorization: .tt, layers: [3])
        #expect(ttShape == [3, 6, 3, 3, 5])
        #expect(try RankResolver.cpRank(shape: shape, rank: .same) == 40)
        #expect(try RankResolver.tuckerRank(shape: shape, rank: .same) == [3, 5, 6, 3, 3])
        #expect(try RankResolver.ttRank(shape: ttShape, rank: .same) == [1, 9, 9, 6, 8, 1])
        let fixed = FixedRankModes.spatial.resolved(layerModes: 1, order: 2)
        #expect(fixed == [3, 4])
        #expect(try RankResolver.tuckerRank(shape: [3, 32, 16, 3, 3], rank: .fraction(0.5), fixedModes: fixed) == [2, 24, 12, 3, 3])
    }

    @Test("CP rounds half to even, computing (prod * f) / sum")
    func cpHalfEven() throws {
        #expect(try RankResolver.cpRank(shape: [4, 2, 10], rank: .fraction(0.25)) == 1)  // 80*0.25/16 = 1.25
        #expect(try RankResolver.cpRank(shape: [2, 2, 2, 2, 2, 2], rank: .fraction(0.9375)) == 5)  // 64*.9375/12 = 5.0
        #expect(try RankResolver.cpRank(shape: [2, 2, 1], rank: .fraction(1.875)) == 2)  // 7.5/5 = 1.5 -> 2
        #expect(try RankResolver.cpRank(shape: [2, 2, 1], rank: .fraction(3.125)) == 2)  // 12.5/5 = 2.5 -> 2
        #expect(try RankResolver.cpRank(shape: [2, 2, 1], rank: .fraction(4.375)) == 4)  // 17.5/5 = 3.5 -> 4
        #expect(roundHalfEvenCheck(0.5) == 0 && roundHalfEvenCheck(1.5) == 2 && roundHalfEvenCheck(2.5) == 2)
        #expect(roundHalfEvenCheck(-0.5) == 0 && roundHalfEvenCheck(3.5000001) == 4 && roundHalfEvenCheck(2.4999999) == 2)
    }

    @Test("CP rank resolving to 0 is an error")
    func cpZero() {
        // (2, 2, 1) with 0.625: 4 * 0.625 / 5 = 0.5 -> 0 (tltorch silently builds an empty tensor).
        let error = #expect(throws: FactorConvError.self) { try RankResolver.cpRank(shape: [2, 2, 1], rank: .fraction(0.625)) }
        #expect(error?.kind == .invalidArgument)
        #expect(error?.message.contains("resolves to 0") == true)
        #expect(throws: FactorConvError.self) { try RankResolver.cpRank(shape: [4, 4], rank: .int(0)) }
        #expect(throws: FactorConvError.self) { try RankResolver.cpRank(shape: [4, 4], rank: .fraction(-1)) }
        #expect(throws: FactorConvError.self) { try RankResolver.cpRank(shape: [4, 4], rank: .fraction(.nan)) }
        #expect(throws: FactorConvError.self) { try RankResolver.cpRank(shape: [4, 4], rank: .perMode([2, 2])) }
    }

    @Test("Tucker and TT clamp tiny fractions to 1")
    func clamp() throws {
        #expect(try RankResolver.tuckerRank(shape: [32, 16, 3, 3], rank: .fraction(0.001)) == [1, 1, 1, 1])
        #expect(try RankResolver.ttRank(shape: [16, 3, 3, 32], rank: .fraction(0.0001)) == [1, 1, 1, 1, 1])
    }

    @Test("Tucker root satisfies its equation")
    func tuckerRoot() {
        let shape = [64, 128, 3, 3]
        let x = RankResolver.tuckerRoot(shape: shape, fraction: 0.25, fixed: [])
        let p = 64.0 * 128 * 9
        let residual = p * x * x * x * x + (64.0 * 64 + 128 * 128 + 9 + 9) * x - 0.25 * p
        #expect(abs(residual) < 1e-6)
        #expect(x > 0 && x < 1)
    }

    @Test("Tucker int rank with fixed modes, list validation")
    func tuckerLists() throws {
        #expect(try RankResolver.tuckerRank(shape: [8, 4, 3, 3], rank: .int(2), fixedModes: [2, 3]) == [2, 2, 3, 3])
        #expect(try RankResolver.tuckerRank(shape: [8, 4, 3, 3], rank: .perMode([5, 3, 2, 2]), fixedModes: [2]) == [5, 3, 2, 2])
        #expect(throws: FactorConvError.self) { try RankResolver.tuckerRank(shape: [8, 4, 3, 3], rank: .perMode([5, 3, 2])) }
        #expect(throws: FactorConvError.self) { try RankResolver.tuckerRank(shape: [8, 4, 3, 3], rank: .perMode([5, 0, 2, 2])) }
        #expect(throws: FactorConvError.self) { try RankResolver.tuckerRank(shape: [8, 4, 3, 3], rank: .same, fixedModes: [4]) }
        #expect(throws: FactorConvError.self) { try RankResolver.tuckerRank(shape: [8, 4, 3, 3], rank: .same, fixedModes: [2, 2]) }
    }

    @Test("TT tuple validation")
    func ttLists() throws {
        #expect(try RankResolver.ttRank(shape: [6, 3, 3, 8], rank: .perMode([1, 3, 2, 4, 1])) == [1, 3, 2, 4, 1])
        for bad in [[1, 3, 2, 1], [2, 3, 2, 4, 1], [1, 3, 2, 4, 2], [1, 0, 2, 4, 1], [1, 3, 2, 4, 5, 1]] {
            let error = #expect(throws: FactorConvError.self) { try RankResolver.ttRank(shape: [6, 3, 3, 8], rank: .perMode(bad)) }
            #expect(error?.kind == .invalidArgument)
        }
        #expect(try RankResolver.ttRank(shape: [7], rank: .same) == [1, 1])
        // d = 2: avg0 = 6, a = avg0² I0 = 144, b = 4*6 + 8*6 = 72, c = -32: x = 0.2836, round(6x) = 2.
        #expect(try RankResolver.ttRank(shape: [4, 8], rank: .same) == [1, 2, 1])
    }

    @Test("dispatch: fixed modes only for Tucker; factorization names parse case-insensitively")
    func dispatch() throws {
        #expect(throws: FactorConvError.self) { try RankResolver.resolve(.same, factorization: .cp, shape: [4, 4, 3], fixedModes: [2]) }
        #expect(try RankResolver.resolve(.same, factorization: .dense, shape: [4, 4, 3]) == .dense)
        #expect(try Factorization(parsing: "CP") == .cp)
        #expect(try Factorization(parsing: "Tucker") == .tucker)
        #expect(try Factorization(parsing: "tT") == .tt)
        #expect(try Factorization(parsing: "Dense") == .dense)
        let error = #expect(throws: FactorConvError.self) { try Factorization(parsing: "ComplexTT") }
        #expect(error?.kind == .invalidArgument)
        #expect(TensorRank.tt([1, 30, 9, 55, 1]).description == "(1, 30, 9, 55, 1)")
        #expect(TensorRank.cp(85).description == "85")
    }
}

/// Routes through the internal helper so the test checks the exact rounding used by the resolvers.
private func roundHalfEvenCheck(_ x: Double) -> Int { (try? roundHalfEvenToInt(x, "test")) ?? Int.min }
