@testable import FactorConvNumerics
import FactorConvTestSupport
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `Parallel.forEach` on the persistent worker pool: every index runs exactly once, in any
/// nesting and from concurrent callers, and the workers run as part of the caller's
/// interruptible call.
@Suite(.serialized) struct ParallelPoolTests {
    /// Counts, per index, how often `forEach` ran it.
    final class Hits: @unchecked Sendable {
        let counts: UnsafeMutablePointer<Atomic<Int>>
        let n: Int
        init(_ n: Int) {
            self.n = n
            counts = .allocate(capacity: n)
            for i in 0..<n { (counts + i).initialize(to: Atomic(0)) }
        }
        deinit { counts.deallocate() }
        func hit(_ i: Int) { counts[i].add(1, ordering: .relaxed) }
        var allOnce: Bool { (0..<n).allSatisfy { counts[$0].load(ordering: .relaxed) == 1 } }
    }

    @Test("each index runs exactly once, for every count and worker count, over many jobs in a row")
    func everyIndexOnce() {
        for workers in [2, 3, 4, 7, 64] {
            for count in [1, 2, 3, 5, 17, 100, 1000] {
                for _ in 0..<20 {
                    let hits = Hits(count)
                    Parallel.forEach(count, maxWorkers: workers) { hits.hit($0) }
                    #expect(hits.allOnce, "count \(count), workers \(workers)")
                }
            }
        }
    }

    @Test("the writes of every part are visible to the caller when forEach returns")
    func writesVisible() {
        let n = 4096
        let values = UnsafeMutablePointer<Int>.allocate(capacity: n)
        defer { values.deallocate() }
        for round in 0..<200 {
            Parallel.forEach(n, maxWorkers: 2) { values[$0] = $0 &* 31 &+ round }
            #expect((0..<n).allSatisfy { values[$0] == $0 &* 31 &+ round })
        }
    }

    @Test("a nested forEach (the pool is busy) runs its indices on the calling thread, each once")
    func nested() {
        let outer = 6, inner = 50
        let hits = Hits(outer * inner)
        Parallel.forEach(outer, maxWorkers: 3) { o in
            Parallel.forEach(inner, maxWorkers: 4) { hits.hit(o * inner + $0) }
        }
        #expect(hits.allOnce)
    }

    /// What each caller thread of `concurrentCallers` reports back.
    final class CallerResults: Sendable {
        let failures = Atomic<Int>(0)
        let rounds = Atomic<Int>(0)
    }

    @Test("concurrent callers on distinct threads each get all their indices run once")
    func concurrentCallers() {
        let threads = 4
        let results = CallerResults()
        var ids: [pthread_t] = []
        for _ in 0..<threads {
            var id = pthread_t()
            let rc = pthread_create(&id, nil, { raw in
                let results = Unmanaged<CallerResults>.fromOpaque(raw!).takeRetainedValue()
                for _ in 0..<100 {
                    let hits = Hits(257)
                    Parallel.forEach(257, maxWorkers: 2) { hits.hit($0) }
                    if !hits.allOnce { results.failures.add(1, ordering: .relaxed) }
                    results.rounds.add(1, ordering: .relaxed)
                }
                return nil
            }, Unmanaged.passRetained(results).toOpaque())
            #expect(rc == 0)
            ids.append(id)
        }
        for id in ids { pthread_join(id, nil) }
        #expect(results.failures.load(ordering: .relaxed) == 0)
        #expect(results.rounds.load(ordering: .relaxed) == threads * 100)
    }

    @Test("workers see the caller's interruption")
    func interruptionReachesWorkers() throws {
        let source = InterruptSource()
        let seen = Atomic<Int>(0)
        try? Interruption.interruptible("test", source: source) {
            source.interrupt()
            Parallel.forEach(8, maxWorkers: 2) { _ in
                if Interruption.isRequested { seen.add(1, ordering: .relaxed) }
            }
        }
        #expect(seen.load(ordering: .relaxed) == 8)
        // Outside the call, a pool worker reports no interruption.
        let after = Atomic<Int>(0)
        Parallel.forEach(8, maxWorkers: 2) { _ in
            if Interruption.isRequested { after.add(1, ordering: .relaxed) }
        }
        #expect(after.load(ordering: .relaxed) == 0)
    }
}
