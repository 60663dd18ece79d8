import FactorConvForkGate
import Synchronization

/// The mutex for state that outlives one call (a layer's parameters, caches, the workspace pool,
/// the C handle registry). It is a `Mutex` whose sections also hold the fork gate
/// (`factorconv_fork_gate.h`), so that `fork()` never copies it locked: the child of a process
/// whose threads were using the library inherits every such lock free and what it guards whole.
///
/// Keep sections short (copies and table updates) and never run a caller's callback or
/// parallel work inside one: `fork()` waits for the sections in progress.
package struct LibraryMutex<Value: ~Copyable>: ~Copyable {
    private let mutex: Mutex<Value>

    /// A mutex guarding `value`.
    package init(_ value: consuming sending Value) {
        mutex = Mutex(value)
    }

    /// Runs `body` with exclusive access to the value.
    package borrowing func withLock<Result: ~Copyable, E: Error>(
        _ body: (inout sending Value) throws(E) -> sending Result
    ) throws(E) -> sending Result {
        fcgate_enter()
        defer { fcgate_leave() }
        return try mutex.withLock(body)
    }
}

extension LibraryMutex: @unchecked Sendable where Value: ~Copyable {}
