import Dispatch
#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// The library's one level of parallelism: work is split across `Parallel.threadCount` workers
/// by FactorConv itself, while OpenBLAS runs single-threaded inside each worker (the BLAS loader
/// sets that: OpenBLAS threads are process-wide, and nesting both levels oversubscribes the cores).
public enum Parallel {
    private static let configured = Atomic<Int>(0)
    /// The default worker count: `FACTORCONV_NUM_THREADS` if set and valid, else the core count.
    public static var defaultThreadCount: Int {
        if let raw = getenv("FACTORCONV_NUM_THREADS"), let n = Int(String(cString: raw)), n >= 1, n <= 1024 {
            return n
        }
        return max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    }

    /// How many workers one call may use (always ≥ 1). Set 0 to restore the default.
    public static var threadCount: Int {
        get {
            let n = configured.load(ordering: .relaxed)
            return n > 0 ? n : defaultThreadCount
        }
        set { configured.store(max(0, newValue), ordering: .relaxed) }
    }

    /// The online processors (`sysconf(_SC_NPROCESSORS_ONLN)`), read once.
    package static let processorCount = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))

    /// The most workers of `forEach(count, maxWorkers: workers)` that run at the same time:
    /// min(count, workers, processors), since `DispatchQueue.concurrentPerform` runs its
    /// iterations on at most one thread per active processor (libdispatch counts those the
    /// thread's CPU affinity allows, never more than the online ones). Memory estimates count
    /// the scratch each running worker borrows with it, so that threads beyond the processors
    /// or the work add nothing (at least 1).
    package static func simultaneousWorkers(_ count: Int, maxWorkers workers: Int) -> Int {
        max(1, min(count, workers, processorCount))
    }

    /// Runs `body(i)` for every `i` in `0..<count`, spread over up to `threadCount` workers in
    /// contiguous chunks. `body` must be safe to run concurrently for distinct `i`. The workers
    /// run as part of the caller's interruptible call, if any (`Interruption.isRequested` in
    /// `body` reports the caller's interruption). Scratch a worker needs should be borrowed inside
    /// `body`, so that only the workers running at once (`simultaneousWorkers`) hold some.
    package static func forEach(_ count: Int, maxWorkers: Int? = nil, _ body: (Int) -> Void) {
        let workers = min(count, maxWorkers ?? threadCount)
        if workers <= 1 {
            for i in 0..<count { body(i) }
            return
        }
        let scope = Interruption.currentScope
        // The caller guarantees `body` is safe for concurrent distinct indices; the closure does
        // not outlive this call, so the unchecked capture is sound.
        withoutActuallyEscaping(body) { escapable in
            nonisolated(unsafe) let work = escapable
            DispatchQueue.concurrentPerform(iterations: workers) { w in
                let lo = count * w / workers, hi = count * (w + 1) / workers
                Interruption.working(for: scope) { for i in lo..<hi { work(i) } }
            }
        }
    }
}
