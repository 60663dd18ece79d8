#if canImport(Glibc)
import Glibc
#endif
import FactorConvForkGate

/// The lock for state that outlives one call (a layer's parameters, caches, the workspace pool,
/// the C handle registry).
///
/// - Its sections also hold the fork gate (`factorconv_fork_gate.h`), so `fork()` never copies
///   it locked: the child of a process whose threads were using the library inherits every such
///   lock free and what it guards whole.
/// - It is a pthread mutex rather than `Synchronization.Mutex`, whose futex protocol
///   ThreadSanitizer cannot see (it reports every section as a race).
///
/// Keep sections short (copies and table updates), and never run a caller's callback or parallel
/// work inside one: `fork()` waits for the sections in progress.
package final class LibraryMutex<Value>: @unchecked Sendable {
    /// Heap-allocated: a pthread mutex must not move.
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private var value: Value
    /// What the lock guards, for the acquisition counts (`LockCounts`).
    private let kind: LockKind

    /// A lock of kind `kind` guarding `value`.
    package init(_ value: Value, kind: LockKind) {
        self.kind = kind
        mutex = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
        self.value = value
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    /// Runs `body` with exclusive access to the value.
    package func withLock<Result>(_ body: (inout Value) throws -> Result) rethrows -> Result {
        fcgate_enter_lock(kind.rawValue)
        pthread_mutex_lock(mutex)
        defer {
            pthread_mutex_unlock(mutex)
            fcgate_leave()
        }
        return try body(&value)
    }
}

/// The library's locks by what they guard; each `LibraryMutex` has one kind, counted per thread
/// when taken (`LockCounts`). The raw values are the fork gate's counter slots (1..7).
package enum LockKind: UInt32, CaseIterable, Sendable {
    /// The C ABI's handle registry (FactorConvC's `Handles`).
    case handleRegistry = 1
    /// A layer's parameters and settings, and its forward plans (`FactorizedConv`'s state).
    case layerState
    /// A layer's derived pipelines (`PipelineCache`).
    case pipelineCache
    /// The shared pool of scratch buffers (`Workspace`).
    case workspacePool
    /// A dense kernel's Winograd transform, computed once (`WinogradKernel`).
    case winogradKernel
    /// The process-wide cache of Winograd transforms (`WinogradKernelCache`).
    case winogradKernelCache
}

/// How many locks the calling thread has taken, per kind, and how many fork gate sections it
/// has entered (every lock section, every BLAS or LAPACK call). Tests read it before and after
/// a call to see exactly what the call locks on its own thread (not on worker threads).
package struct LockCounts: Equatable, CustomStringConvertible, Sendable {
    /// Acquisitions per lock kind.
    package var locks: [LockKind: Int]
    /// Fork gate sections entered, nested ones included.
    package var gateSections: Int

    /// The calling thread's counts since it started.
    package static var current: LockCounts {
        var locks: [LockKind: Int] = [:]
        for kind in LockKind.allCases { locks[kind] = Int(fcgate_thread_count(kind.rawValue)) }
        return LockCounts(locks: locks, gateSections: Int(fcgate_thread_count(0)))
    }

    /// What was counted between `earlier` and `self`, dropping kinds with no acquisition.
    package func since(_ earlier: LockCounts) -> LockCounts {
        var locks: [LockKind: Int] = [:]
        for (kind, n) in self.locks where n != earlier.locks[kind, default: 0] { locks[kind] = n - earlier.locks[kind, default: 0] }
        return LockCounts(locks: locks, gateSections: gateSections - earlier.gateSections)
    }

    /// Lock acquisitions of every kind.
    package var totalLocks: Int { locks.values.reduce(0, +) }

    package var description: String {
        let parts = LockKind.allCases.compactMap { k in locks[k].map { "\(k): \($0)" } }
        return "locks {\(parts.joined(separator: ", "))}, gate sections \(gateSections)"
    }
}
