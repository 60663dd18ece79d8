#if canImport(Glibc)
import Glibc
#endif

/// A process-wide pool of reusable scratch buffers.
///
/// glibc returns large freed blocks to the OS, so a fresh temporary per call page-faults on every
/// call. Hot paths borrow a buffer here instead and give it back.
///
/// What the pool keeps is bounded: at most `maxRetained` buffers and `maxRetainedBytes()` bytes
/// (a quarter of the memory bound for the shared pool), and buffers nobody borrowed for
/// `idleSeconds` are freed the next time any buffer is borrowed or given back — the pool has no
/// thread of its own, so an idle process keeps them until then, or until `releaseAll`.
public final class Workspace: Sendable {
    /// The shared pool.
    public static let shared = Workspace(maxRetained: 16, idleSeconds: 5, maxRetainedBytes: { MemoryLimit.bytes / 4 })

    // Unchecked: a buffer is owned by exactly one borrower or by the pool, never both.
    private struct Buffer: @unchecked Sendable {
        var pointer: UnsafeMutableRawPointer
        var bytes: Int
        /// When it was last given back (`clock`), for idle trimming.
        var lastUse: Double
    }
    /// The retained buffers and their total size.
    private struct Retained { var buffers: [Buffer] = []; var bytes = 0 }
    private let retained = LibraryMutex(Retained())
    private let maxRetained: Int
    private let idleSeconds: Double
    private let maxRetainedBytes: @Sendable () -> Int
    private let clock: @Sendable () -> Double

    /// A pool keeping at most `maxRetained` buffers of at most `maxRetainedBytes()` bytes in
    /// all, freeing those unused for `idleSeconds` of `clock` (seconds, monotonic; tests pass
    /// their own).
    init(maxRetained: Int, idleSeconds: Double, maxRetainedBytes: @escaping @Sendable () -> Int,
         clock: @escaping @Sendable () -> Double = Workspace.monotonicSeconds) {
        self.maxRetained = maxRetained
        self.idleSeconds = idleSeconds
        self.maxRetainedBytes = maxRetainedBytes
        self.clock = clock
    }

    /// Seconds of `CLOCK_MONOTONIC`.
    static func monotonicSeconds() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
    }

    /// Lends `body` an uninitialized buffer of at least `count` elements of `T` (64-byte aligned).
    /// The buffer is only valid inside `body`.
    public func withBuffer<T, R>(of _: T.Type, count: Int, _ body: (UnsafeMutablePointer<T>) throws -> R) rethrows -> R {
        let bytes = max(64, count * MemoryLayout<T>.stride)
        let buffer = take(bytes: bytes)
        defer { giveBack(buffer) }
        return try body(buffer.pointer.bindMemory(to: T.self, capacity: max(count, 1)))
    }

    /// Frees every retained buffer and asks the allocator to return free memory to the system
    /// (`malloc_trim`). Buffers lent out at the time come back to the pool as usual.
    /// - Returns: the bytes of the buffers freed.
    @discardableResult
    public func releaseAll() -> Int {
        let all = retained.withLock { pool in
            defer { pool = Retained() }
            return pool.buffers
        }
        for buffer in all { buffer.pointer.deallocate() }
        _ = Self.trimHeap?(0)
        return all.reduce(0) { $0 + $1.bytes }
    }

    /// glibc's `malloc_trim`, which returns free memory inside the heap (not only at its top) to
    /// the system; looked up at run time because Swift's Glibc module does not declare it (nil
    /// under another C library).
    private static let trimHeap: (@convention(c) (Int) -> Int32)? = {
        guard let handle = dlopen(nil, RTLD_NOW), let symbol = dlsym(handle, "malloc_trim") else { return nil }
        return unsafeBitCast(symbol, to: (@convention(c) (Int) -> Int32).self)
    }()

    /// The bytes of the buffers the pool keeps now.
    public var retainedBytes: Int { retained.withLock { $0.bytes } }

    private func take(bytes: Int) -> Buffer {
        let now = clock()
        let (reused, expired): (Buffer?, [Buffer]) = retained.withLock { pool in
            let expired = removeIdle(&pool, now: now)
            // Best fit: the smallest retained buffer that is large enough.
            var best: Int? = nil
            for (i, b) in pool.buffers.enumerated() where b.bytes >= bytes {
                if best == nil || b.bytes < pool.buffers[best!].bytes { best = i }
            }
            return (best.map { remove(&pool, at: $0) }, expired)
        }
        for buffer in expired { buffer.pointer.deallocate() }
        if let reused { return reused }
        return Buffer(pointer: UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64), bytes: bytes, lastUse: now)
    }

    private func giveBack(_ buffer: Buffer) {
        let now = clock(), byteCap = maxRetainedBytes()
        let evicted: [Buffer] = retained.withLock { pool in
            var returned = buffer
            returned.lastUse = now
            pool.buffers.append(returned)
            pool.bytes += returned.bytes
            var evicted = removeIdle(&pool, now: now)
            if pool.buffers.count > maxRetained {
                // Drop the smallest buffer: large ones are the expensive ones to fault in again.
                evicted.append(remove(&pool, at: pool.buffers.indices.min { pool.buffers[$0].bytes < pool.buffers[$1].bytes }!))
            }
            // Over the byte cap, drop the least recently used first (the one just returned too,
            // if it alone is over the cap).
            while pool.bytes > byteCap, let oldest = pool.buffers.indices.min(by: { pool.buffers[$0].lastUse < pool.buffers[$1].lastUse }) {
                evicted.append(remove(&pool, at: oldest))
            }
            return evicted
        }
        for buffer in evicted { buffer.pointer.deallocate() }
    }

    /// Removes (without freeing) the buffers given back more than `idleSeconds` before `now`.
    private func removeIdle(_ pool: inout Retained, now: Double) -> [Buffer] {
        guard pool.buffers.contains(where: { now - $0.lastUse > idleSeconds }) else { return [] }
        let idle = pool.buffers.filter { now - $0.lastUse > idleSeconds }
        pool.buffers.removeAll { now - $0.lastUse > idleSeconds }
        pool.bytes -= idle.reduce(0) { $0 + $1.bytes }
        return idle
    }

    /// Removes buffer `i` from the pool and returns it (for the caller to free or lend).
    private func remove(_ pool: inout Retained, at i: Int) -> Buffer {
        pool.bytes -= pool.buffers[i].bytes
        return pool.buffers.remove(at: i)
    }
}
