@testable import FactorConvNumerics
import Synchronization
import Testing

/// A clock the test moves by hand.
private final class ManualClock: Sendable {
    private let now = Mutex(1000.0)
    func read() -> Double { now.withLock { $0 } }
    func advance(_ seconds: Double) { now.withLock { $0 += seconds } }
}

/// The workspace pool keeps what it lends for reuse, but bounded: by count, by bytes, by idle
/// time (checked when a buffer is borrowed or given back), and releasable at once (an unbounded
/// pool kept its largest buffers after every layer was closed).
@Suite struct WorkspaceTests {
    private static let mib = 1 << 20

    /// Borrows `bytes` bytes of `pool`, writing them (so a wrong size would be caught by ASan).
    private func use(_ pool: Workspace, _ bytes: Int) {
        pool.withBuffer(of: UInt8.self, count: bytes) { $0.update(repeating: 7, count: bytes) }
    }

    @Test("a returned buffer is kept and lent again")
    func reuse() {
        let pool = Workspace(maxRetained: 4, idleSeconds: 5, maxRetainedBytes: { 1 << 40 })
        var first: UnsafeMutableRawPointer? = nil
        pool.withBuffer(of: Float.self, count: 1000) { first = UnsafeMutableRawPointer($0) }
        #expect(pool.retainedBytes == 4000)
        pool.withBuffer(of: Float.self, count: 900) { #expect(UnsafeMutableRawPointer($0) == first) }
    }

    @Test("buffers idle for longer than idleSeconds are freed on the next borrow or return")
    func idleTrimming() {
        let clock = ManualClock()
        let pool = Workspace(maxRetained: 16, idleSeconds: 5, maxRetainedBytes: { 1 << 40 }, clock: { clock.read() })
        // Two buffers, 8 MiB and 64 bytes, both last used now.
        pool.withBuffer(of: UInt8.self, count: 8 * Self.mib) { _ in use(pool, 64) }
        #expect(pool.retainedBytes == 8 * Self.mib + 64)
        clock.advance(4)
        use(pool, 64)                    // the small one again; the large one is 4 s idle: kept
        #expect(pool.retainedBytes == 8 * Self.mib + 64)
        clock.advance(2)                 // the large one is 6 s idle, the small one 2 s
        use(pool, 64)
        #expect(pool.retainedBytes == 64)
        clock.advance(60)
        use(pool, 128)                   // the 64-byte buffer is idle too; the new one stays
        #expect(pool.retainedBytes == 128)
    }

    @Test("the retained total stays within maxRetainedBytes, dropping the least recently used first")
    func byteCap() {
        let clock = ManualClock()
        let pool = Workspace(maxRetained: 16, idleSeconds: 1000, maxRetainedBytes: { 3 * WorkspaceTests.mib }, clock: { clock.read() })
        // Three buffers lent at once (2, 1 and 1 MiB), returned a second apart, innermost first.
        pool.withBuffer(of: UInt8.self, count: 2 * Self.mib) { _ in
            pool.withBuffer(of: UInt8.self, count: Self.mib) { _ in
                pool.withBuffer(of: UInt8.self, count: Self.mib) { _ in }
                clock.advance(1)
            }
            clock.advance(1)
        }
        // 4 MiB returned: the 1 MiB buffer returned first (least recently used) was dropped.
        #expect(pool.retainedBytes == 3 * Self.mib)
        use(pool, 2 * Self.mib)
        #expect(pool.retainedBytes == 3 * Self.mib)
        // A buffer larger than the cap is never kept.
        use(pool, 4 * Self.mib)
        #expect(pool.retainedBytes <= 3 * Self.mib)
    }

    @Test("at most maxRetained buffers are kept, the smallest dropped first")
    func countCap() {
        let pool = Workspace(maxRetained: 2, idleSeconds: 1000, maxRetainedBytes: { 1 << 40 })
        pool.withBuffer(of: UInt8.self, count: 300) { _ in
            pool.withBuffer(of: UInt8.self, count: 100) { _ in
                pool.withBuffer(of: UInt8.self, count: 200) { _ in }
            }
        }
        #expect(pool.retainedBytes == 500)
    }

    @Test("releaseAll frees everything retained and reports it; lent buffers come back afterwards")
    func releaseAll() {
        let pool = Workspace(maxRetained: 16, idleSeconds: 1000, maxRetainedBytes: { 1 << 40 })
        use(pool, 3 * Self.mib)
        pool.withBuffer(of: UInt8.self, count: 4 * Self.mib) { _ in   // larger: a new buffer
            #expect(pool.releaseAll() == 3 * Self.mib)
            #expect(pool.retainedBytes == 0)
        }
        #expect(pool.retainedBytes == 4 * Self.mib)
        #expect(pool.releaseAll() == 4 * Self.mib)
        #expect(pool.releaseAll() == 0)
    }

    @Test("concurrent borrowers never share a buffer")
    func concurrentBorrowers() {
        let pool = Workspace(maxRetained: 4, idleSeconds: 0, maxRetainedBytes: { 64 * 1024 })
        let collisions = Atomic<Int>(0)
        Parallel.forEach(64, maxWorkers: 8) { i in
            for round in 0..<50 {
                let count = 256 + (i * 37 + round * 11) % 2048
                pool.withBuffer(of: Int.self, count: count) { p in
                    p.update(repeating: i, count: count)
                    if (0..<count).contains(where: { p[$0] != i }) { collisions.add(1, ordering: .relaxed) }
                }
            }
        }
        #expect(collisions.load(ordering: .relaxed) == 0)
    }
}
