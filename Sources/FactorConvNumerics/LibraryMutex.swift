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

    /// A lock guarding `value`.
    package init(_ value: Value) {
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
        fcgate_enter()
        pthread_mutex_lock(mutex)
        defer {
            pthread_mutex_unlock(mutex)
            fcgate_leave()
        }
        return try body(&value)
    }
}
