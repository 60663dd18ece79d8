import FactorConvForkGate
import FactorConvKernels
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

    /// Part `part`'s share of `count` items split as evenly as whole items allow over `parts`
    /// parts: count·part/parts ..< count·(part+1)/parts (shares differ by at most one item, and
    /// together cover 0..<count once).
    package static func share(of count: Int, part: Int, parts: Int) -> Range<Int> {
        (count * part / parts)..<(count * (part + 1) / parts)
    }

    /// The workers, 1 through `workers`, that one piece of work of `flops` FLOPs splits over
    /// when each must get at least `minimumPerWorker` FLOPs (0: always `workers`).
    package static func workers(forFlops flops: Double, minimumPerWorker: Double, upTo workers: Int) -> Int {
        guard minimumPerWorker > 0 else { return workers }
        return Int(max(1, min(Double(workers), flops / minimumPerWorker)))
    }

    /// The online processors (`sysconf(_SC_NPROCESSORS_ONLN)`), read once.
    package static let processorCount = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))

    /// The most workers of `forEach(count, maxWorkers: workers)` that run at the same time:
    /// min(count, workers, processors), since the worker pool runs a call's parts on the caller's
    /// thread and at most processors − 1 pool threads. Memory estimates count the scratch each
    /// running worker borrows with it, so that threads beyond the processors or the work add
    /// nothing (at least 1).
    package static func simultaneousWorkers(_ count: Int, maxWorkers workers: Int) -> Int {
        max(1, min(count, workers, processorCount))
    }

    /// Runs `body(i)` for every `i` in `0..<count`, spread over up to `threadCount` workers in
    /// contiguous chunks. `body` must be safe to run concurrently for distinct `i`. The workers
    /// run as part of the caller's interruptible call, if any (`Interruption.isRequested` in
    /// `body` reports the caller's interruption). Scratch a worker needs should be borrowed inside
    /// `body`, so that only the workers running at once (`simultaneousWorkers`) hold some.
    ///
    /// The chunks run on the calling thread and on the threads of a persistent pool
    /// (`fck_pool_run`), which wake within microseconds, so splitting even one small image's
    /// stages pays. When the pool is busy — another thread's call holds it, or `body` itself
    /// calls `forEach` — the chunks run on the calling thread, one after another: the cores are
    /// taken already, and more threads would only oversubscribe them.
    package static func forEach(_ count: Int, maxWorkers: Int? = nil, _ body: (Int) -> Void) {
        let workers = min(count, maxWorkers ?? threadCount)
        if workers <= 1 {
            for i in 0..<count { body(i) }
            return
        }
        let parts = min(workers, 0xFFFF)
        let helpers = simultaneousWorkers(parts, maxWorkers: parts) - 1
        // The caller guarantees `body` is safe for concurrent distinct indices; the closure does
        // not outlive this call (fck_pool_run returns once every part has run).
        let ran = withoutActuallyEscaping(body) { escapable -> Int32 in
            var job = PoolJob(count: count, parts: parts, scope: Interruption.currentScope, body: escapable)
            return withUnsafeMutablePointer(to: &job) { pointer in
                fck_pool_run(Int32(parts), Int32(helpers), { context, part in
                    context!.assumingMemoryBound(to: PoolJob.self).pointee.run(part: Int(part))
                }, pointer, fcgate_fork_generation())
            }
        }
        if ran == 0 {
            for i in 0..<count { body(i) }
        }
    }
}

/// One `Parallel.forEach` call as the pool sees it: part `p` runs indices
/// count·p/parts ..< count·(p+1)/parts as part of the caller's interruptible call.
private struct PoolJob {
    let count: Int
    let parts: Int
    let scope: fck_interrupt_scope
    let body: (Int) -> Void

    func run(part: Int) {
        Interruption.working(for: scope) { for i in Parallel.share(of: count, part: part, parts: parts) { body(i) } }
    }
}
