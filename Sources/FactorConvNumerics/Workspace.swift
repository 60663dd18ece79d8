import Synchronization

/// A process-wide pool of reusable scratch buffers.
///
/// glibc returns large freed blocks to the OS, so a fresh temporary per call page-faults on every
/// call (2–5× slowdowns were measured). Hot paths borrow a buffer here instead and give it back.
public final class Workspace: Sendable {
    /// The shared pool.
    public static let shared = Workspace(maxRetained: 16)

    // Unchecked: a buffer is owned by exactly one borrower or by the pool, never both.
    private struct Buffer: @unchecked Sendable { var pointer: UnsafeMutableRawPointer; var bytes: Int }
    private let free: LibraryMutex<[Buffer]>
    private let maxRetained: Int

    init(maxRetained: Int) {
        self.maxRetained = maxRetained
        self.free = LibraryMutex([])
    }

    /// Lends `body` an uninitialized buffer of at least `count` elements of `T` (64-byte aligned).
    /// The buffer is only valid inside `body`.
    public func withBuffer<T, R>(of _: T.Type, count: Int, _ body: (UnsafeMutablePointer<T>) throws -> R) rethrows -> R {
        let bytes = max(64, count * MemoryLayout<T>.stride)
        let buffer = take(bytes: bytes)
        defer { giveBack(buffer) }
        return try body(buffer.pointer.bindMemory(to: T.self, capacity: max(count, 1)))
    }

    private func take(bytes: Int) -> Buffer {
        let reused: Buffer? = free.withLock { list in
            // Best fit: the smallest retained buffer that is large enough.
            var best: Int? = nil
            for (i, b) in list.enumerated() where b.bytes >= bytes {
                if best == nil || b.bytes < list[best!].bytes { best = i }
            }
            return best.map { list.remove(at: $0) }
        }
        if let reused { return reused }
        return Buffer(pointer: UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64), bytes: bytes)
    }

    private func giveBack(_ buffer: Buffer) {
        let evicted: Buffer? = free.withLock { list in
            list.append(buffer)
            guard list.count > maxRetained else { return nil }
            // Drop the smallest buffer: large ones are the expensive ones to fault in again.
            let i = list.indices.min { list[$0].bytes < list[$1].bytes }!
            return list.remove(at: i)
        }
        evicted?.pointer.deallocate()
    }
}
