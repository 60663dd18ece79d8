import FactorConvKernels

/// Cooperative interruption of running FactorConv calls, process-wide, as `sqlite3_interrupt`
/// does for a database connection (the C ABI's `fconv_interrupt`).
///
/// The long calls — decompositions (`parafac`, `tucker`, `tensorTrain`, `truncatedSVD`, and the
/// layer's `fromConv` / `fromConvList` around them) and forwards (`ConvPipeline`,
/// `DenseConvolution`, the layer's `forward`) — run as *interruptible calls*: each records the
/// interrupt epoch when it starts. `interruptCallsInProgress()` advances the epoch, so every
/// interruptible call that is running on any thread at that moment throws
/// `FactorConvError(.cancelled, …)` at its next check point, and calls that start afterwards run
/// normally. Check points sit between the iterations and steps of the decompositions (per mode
/// of a sweep, per block of their factorizations and products, per Lanczos step) and between the
/// images, stages and blocks of a forward; a single BLAS or LAPACK call in progress runs to its
/// end.
///
/// What is left after an interrupted call: nothing it would have created (a decomposition is a
/// pure function; a layer built by `fromConv` is never returned), a forward's output buffer
/// partly written, and every layer unchanged and usable: the caches a forward fills (pipelines,
/// transformed kernels) are never left half computed.
public enum Interruption {
    /// Interrupts every interruptible call in progress on any thread: each throws `.cancelled`
    /// at its next check point. Calls started afterwards are not affected. Async-signal-safe
    /// (one lock-free atomic increment): it may be called from a signal handler.
    public static func interruptCallsInProgress() { fck_interrupt() }

    /// Runs `body` as one interruptible call on the calling thread. Inside an interruptible call
    /// already running on this thread, `body` belongs to that call (it is interrupted with it).
    /// When the call is interrupted while `body` runs, this throws `.cancelled` — after `body`
    /// returns, since work skipped at a check point may have left its results incomplete, and in
    /// place of any other error `body` throws, which such incomplete work may have caused.
    /// - Parameter what: names the call in the `.cancelled` message.
    package static func interruptible<Result>(_ what: @autoclosure () -> String,
                                             _ body: () throws -> Result) throws -> Result {
        try interruptible(what(), source: nil, body)
    }

    /// `interruptible(_:_:)` for a call that `source` can also interrupt (when this is the
    /// outermost interruptible call on the thread).
    static func interruptible<Result>(_ what: @autoclosure () -> String, source: InterruptSource?,
                                      _ body: () throws -> Result) throws -> Result {
        let outermost = fck_interrupt_enter(source.map { UnsafeRawPointer($0.counter) }) != 0
        defer { if outermost { fck_interrupt_leave() } }
        let result: Result
        do {
            result = try body()
        } catch let error as FactorConvError where error.kind == .cancelled {
            throw error
        } catch {
            try check(what())
            throw error
        }
        try check(what())
        return result
    }

    /// Whether the interruptible call running on this thread (or, on a worker thread, the call
    /// it works for) has been interrupted. False outside interruptible calls. Non-throwing code
    /// inside a parallel loop reads it to skip the rest of its work; the call's owner then
    /// throws through `check` or at the end of `interruptible`.
    package static var isRequested: Bool { fck_interrupt_requested() != 0 }

    /// Throws `.cancelled` when the interruptible call running on this thread has been
    /// interrupted (a check point). `what` names the call in the message.
    package static func check(_ what: @autoclosure () -> String) throws {
        if fck_interrupt_requested() != 0 {
            throw FactorConvError(.cancelled, "\(what()) was interrupted (fconv_interrupt)")
        }
    }

    /// The calling thread's interruptible call, for `Parallel` to hand to its workers.
    static var currentScope: fck_interrupt_scope { fck_interrupt_current() }

    /// Runs `body` on a worker thread as part of the call `scope` (from `currentScope` on the
    /// caller's thread), restoring the worker's own scope afterwards.
    static func working<Result>(for scope: fck_interrupt_scope, _ body: () throws -> Result) rethrows -> Result {
        let saved = fck_interrupt_current()
        fck_interrupt_adopt(scope)
        defer { fck_interrupt_adopt(saved) }
        return try body()
    }
}

/// An interrupt that reaches only the interruptible calls started under it
/// (`Interruption.interruptible(_:source:_:)`), besides `interruptCallsInProgress()`, which
/// reaches them too. Tests interrupt their own calls with it: the process-wide interrupt would
/// also cancel the calls of tests running in parallel.
final class InterruptSource: @unchecked Sendable {
    /// The C counter (`fck_interrupt_source_create`); only touched through atomic operations.
    let counter: UnsafeMutableRawPointer

    init() {
        guard let counter = fck_interrupt_source_create() else { fatalError("out of memory for an interrupt source") }
        self.counter = counter
    }

    deinit { fck_interrupt_source_free(counter) }

    /// Interrupts the calls in progress that were started under this source.
    func interrupt() { fck_interrupt_source_trigger(counter) }
}

/// A scope crosses to the worker threads of a parallel loop: its source pointer is only read
/// atomically, and the source outlives the calls recorded with it.
extension fck_interrupt_scope: @unchecked @retroactive Sendable {}
