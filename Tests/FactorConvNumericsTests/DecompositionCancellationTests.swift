import Testing
@testable import FactorConvNumerics

/// The progress hook sees each iteration and can cancel; bad arguments are clear errors.
@Suite("Decomposition: progress, cancellation, validation")
struct DecompositionCancellationTests {
    typealias F = DecompositionFixtures

    static func expectKind(_ kind: FactorConvError.Kind, _ body: () throws -> Void) {
        do {
            try body()
            Issue.record("expected a \(kind) error")
        } catch let error as FactorConvError {
            #expect(error.kind == kind, "\(error.message)")
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    @Test("Returning false from the hook throws .cancelled for CP, Tucker and TT")
    func cancel() throws {
        var rng = F.Normal(seed: 2)
        let t = rng.tensor([6, 5, 4])
        var seen: [Int] = []
        Self.expectKind(.cancelled) {
            _ = try parafac(t, rank: 3, progress: { it, err in seen.append(it); #expect(err.isFinite); return it < 2 })
        }
        #expect(seen == [1, 2])
        Self.expectKind(.cancelled) { _ = try tucker(t, ranks: [2, 2, 2], progress: { _, _ in false }) }
        Self.expectKind(.cancelled) { _ = try tensorTrain(t, ranks: [1, 2, 2, 1], progress: { it, _ in it < 2 }) }
        // The hook sees the same errors the result reports.
        var reported: [Double] = []
        let cp = try parafac(t, rank: 3, options: CPOptions(nIterMax: 7), progress: { reported.append($1); return true })
        #expect(reported == cp.errors)
        #expect(cp.iterations == 7)
    }

    @Test("A shared SVD start gives the run computed without it; the stall stop ends a stalled run")
    func sharedStartAndStall() throws {
        var rng = F.Normal(seed: 4)
        let t = rng.tensor([7, 6, 3])
        let start = try cpSVDStart(t, rank: 5)
        for seed: UInt64 in [0, 1, 2] {   // mode 2 (size 3 < rank 5) has seeded random columns
            let options = CPOptions(nIterMax: 20, seed: seed)
            #expect(try parafac(t, rank: 5, options: options, start: start) == parafac(t, rank: 5, options: options))
        }
        // Without it, tol 0 runs every sweep; with it, the run stops at the first sweep whose error
        // fell by less than stallTol × error over the last stallWindow sweeps, and no earlier.
        let w = CPOptions.stallWindow, stall = 1e-3
        let plain = try parafac(t, rank: 5, options: CPOptions(nIterMax: 200, tol: 0))
        #expect(plain.iterations == 200)
        let stopped = try parafac(t, rank: 5, options: CPOptions(nIterMax: 200, tol: 0, stallTol: stall))
        let e = plain.errors
        let expected = (w..<e.count).first { e[$0 - w] - e[$0] < stall * e[$0] }.map { $0 + 1 } ?? 200
        #expect(stopped.iterations == expected)
        #expect(expected < 200)
        #expect(stopped.errors == Array(e.prefix(expected)))
    }

    @Test("Invalid ranks, options and non-finite inputs")
    func validation() throws {
        var rng = F.Normal(seed: 3)
        let t = rng.tensor([4, 3, 2])
        Self.expectKind(.invalidArgument) { _ = try parafac(t, rank: 0) }
        Self.expectKind(.invalidArgument) { _ = try parafac(t, rank: 2, options: CPOptions(tol: -1)) }
        Self.expectKind(.invalidArgument) { _ = try parafac(t, rank: 2, options: CPOptions(l2Reg: .nan)) }
        Self.expectKind(.invalidArgument) { _ = try parafac(t, rank: 2, options: CPOptions(stallTol: -1)) }
        Self.expectKind(.invalidArgument) { _ = try parafac(t, rank: 2, options: CPOptions(stallTol: .infinity)) }
        // An SVD start computed for another rank or shape is refused, not read out of bounds.
        let start = try cpSVDStart(t, rank: 2)
        Self.expectKind(.invalidArgument) { _ = try parafac(t, rank: 3, start: start) }
        Self.expectKind(.invalidArgument) { _ = try parafac(rng.tensor([4, 3, 3]), rank: 2, start: start) }
        Self.expectKind(.invalidArgument) { _ = try tucker(t, ranks: [2, 2]) }
        Self.expectKind(.invalidArgument) { _ = try tucker(t, ranks: [2, 0, 1]) }
        Self.expectKind(.invalidArgument) { _ = try tucker(t, ranks: [2, 2, 1], options: TuckerOptions(fixedModes: [3])) }
        Self.expectKind(.invalidArgument) { _ = try tensorTrain(t, ranks: [1, 2, 1]) }
        Self.expectKind(.invalidArgument) { _ = try tensorTrain(t, ranks: [2, 2, 2, 1]) }
        Self.expectKind(.invalidArgument) { _ = try tensorTrain(t, ranks: [1, 0, 2, 1]) }
        var bad = t
        bad.scalars[3] = .infinity
        Self.expectKind(.numerical) { _ = try parafac(bad, rank: 2) }
        Self.expectKind(.numerical) { _ = try tucker(bad, ranks: [2, 2, 2]) }
        Self.expectKind(.numerical) { _ = try tensorTrain(bad, ranks: [1, 2, 2, 1]) }
    }
}
