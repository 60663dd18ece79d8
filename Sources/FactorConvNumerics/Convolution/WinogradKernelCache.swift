#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// Transformed kernels (`WinogradKernel`) of the last few weights seen by callers that pass a
/// raw weight on every call — the functional dense convolution (`fconv_dense_conv_forward`,
/// `fc.conv`) run in an inference loop. An entry matches only a weight with the same layout and
/// exactly the same bytes (compared in full: a sequential read of the weight costs a fraction of
/// transforming it). Entries are immutable, so concurrent callers share them safely.
final class WinogradKernelCache: Sendable {
    /// The process-wide cache used by `DenseConvolution`.
    static let shared = WinogradKernelCache(capacity: 4, maxWeightCount: 1 << 20)

    private final class Entry: Sendable {
        let layout: WinogradKernel
        let weight: [Float]
        let transformed: TransformedKernel
        init(layout: WinogradKernel, weight: [Float], transformed: TransformedKernel) {
            self.layout = layout; self.weight = weight; self.transformed = transformed
        }
    }

    private let entries = LibraryMutex<[Entry]>([], kind: .winogradKernelCache)
    private let capacity: Int
    /// Larger weights are transformed per call and never retained (bounds the cache's memory:
    /// at most capacity × 20 MB: U of F(4×4, 3×3) is 4× the weight, plus the weight's copy).
    private let maxWeightCount: Int

    init(capacity: Int, maxWeightCount: Int) {
        self.capacity = capacity
        self.maxWeightCount = maxWeightCount
    }

    /// Calls `body` with U for `weight` (`count` floats, laid out for `layout`): a cached one
    /// when this exact weight was seen recently, else a fresh transform, which is then cached.
    /// The comparison is split over `workers` threads.
    func withTransformed<R>(_ weight: UnsafePointer<Float>, count: Int, layout: WinogradKernel, workers: Int,
                            _ body: (UnsafePointer<Float>) -> R) -> R {
        guard count <= maxWeightCount else {
            return Workspace.shared.withBuffer(of: Float.self, count: layout.transformedCount) { u in
                layout.transform(weight, into: u)
                return body(u)
            }
        }
        let candidates = entries.withLock { list in list.filter { $0.layout == layout && $0.weight.count == count } }
        for entry in candidates.reversed() {
            if entry.weight.withUnsafeBufferPointer({ Self.equal($0.baseAddress!, weight, count: count, workers: workers) }) {
                return withExtendedLifetime(entry) { body(entry.transformed.pointer) }
            }
        }
        let transformed = layout.transformed(weight)
        let entry = Entry(layout: layout, weight: Array(UnsafeBufferPointer(start: weight, count: count)),
                          transformed: transformed)
        entries.withLock { list in
            list.append(entry)
            if list.count > capacity { list.removeFirst() }
        }
        return withExtendedLifetime(transformed) { body(transformed.pointer) }
    }

    /// Forgets every entry; each one's memory is freed once no running call still uses it.
    func removeAll() {
        entries.withLock { $0.removeAll() }
    }

    /// Whether `count` floats at `a` and `b` are bitwise equal, comparing parts in parallel.
    private static func equal(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int, workers: Int) -> Bool {
        let parts = count >= 1 << 16 ? workers : 1
        let differs = Atomic<Bool>(false)
        Parallel.forEach(parts, maxWorkers: parts) { part in
            let range = Parallel.share(of: count, part: part, parts: parts)
            if memcmp(a + range.lowerBound, b + range.lowerBound, range.count * 4) != 0 {
                differs.store(true, ordering: .relaxed)
            }
        }
        return !differs.load(ordering: .relaxed)
    }
}
