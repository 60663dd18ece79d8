import Foundation
import Testing
import FactorConv

// Helpers of the tests on special files (FIFOs, device nodes, symlinks): creating them, reading
// their type, and running a call that might block on a FIFO against a deadline, so that a
// regression fails the test instead of hanging the suite.

/// How a call run by `runAgainstFIFODeadline` ended.
enum DeadlineOutcome {
    /// The call returned normally.
    case returned
    /// The call threw this error.
    case threw(any Error)
    /// The call was still running at the deadline (it blocked on the FIFO).
    case timedOut
}

/// The result slot shared between the test thread and the thread running the call.
private final class OutcomeSlot: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: DeadlineOutcome?
    var value: DeadlineOutcome? {
        get { lock.withLock { stored } }
        set { lock.withLock { stored = newValue } }
    }
}

/// Runs `body` on another thread and waits up to `seconds` for it. When the deadline passes, the
/// FIFO at `fifo` is opened for reading and writing, which releases a reader blocked in `open`
/// (so the thread does not leak, blocked forever), and `.timedOut` is returned.
func runAgainstFIFODeadline(fifo: String, seconds: Double = 10,
                            _ body: @escaping @Sendable () throws -> Void) -> DeadlineOutcome {
    let slot = OutcomeSlot()
    let done = DispatchSemaphore(value: 0)
    Thread.detachNewThread {
        do { try body(); slot.value = .returned } catch { slot.value = .threw(error) }
        done.signal()
    }
    if done.wait(timeout: .now() + seconds) == .success { return slot.value ?? .returned }
    let unblock = open(fifo, O_RDWR | O_NONBLOCK)
    _ = done.wait(timeout: .now() + seconds)
    if unblock >= 0 { close(unblock) }
    return .timedOut
}

/// Expects `outcome` to be a `.io` error naming `path` and saying it is not a regular file.
func expectNotRegularFile(_ outcome: DeadlineOutcome, _ path: String, _ what: String,
                          sourceLocation: SourceLocation = #_sourceLocation) {
    switch outcome {
    case .returned:
        Issue.record("\(what): '\(path)' was accepted", sourceLocation: sourceLocation)
    case .timedOut:
        Issue.record("\(what): blocked on '\(path)' until the deadline", sourceLocation: sourceLocation)
    case .threw(let error):
        expectNotRegularFileError(error, path, what, sourceLocation: sourceLocation)
    }
}

/// Expects `error` to be a `.io` error naming `path` and saying it is not a regular file.
func expectNotRegularFileError(_ error: any Error, _ path: String, _ what: String,
                               sourceLocation: SourceLocation = #_sourceLocation) {
    guard let error = error as? FactorConvError else {
        Issue.record("\(what): unexpected error \(error)", sourceLocation: sourceLocation)
        return
    }
    #expect(error.kind == .io, "\(what): .\(error.kind): \(error.message)", sourceLocation: sourceLocation)
    #expect(error.message.contains(path), "\(what): the message does not name the path: \(error.message)",
            sourceLocation: sourceLocation)
    #expect(error.message.contains("not a regular file"), "\(what): \(error.message)", sourceLocation: sourceLocation)
}

/// The `lstat` of `path` (the link itself for a symlink), or nil when it does not exist.
func linkStatus(_ path: String) -> stat? {
    var info = stat()
    return lstat(path, &info) == 0 ? info : nil
}

/// The file type bits (`S_IFMT`) of `path` without following a symlink, or nil when absent.
func fileType(_ path: String) -> mode_t? {
    linkStatus(path).map { $0.st_mode & S_IFMT }
}

/// Creates a FIFO at `path`.
func makeFIFO(_ path: String) throws {
    guard mkfifo(path, 0o644) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
}

/// Creates a character device node at `path` with the numbers of /dev/null (1, 3), inside a test's
/// scratch directory (root only). /dev/null itself is never touched.
func makeCharacterDevice(_ path: String) throws {
    // glibc's makedev(1, 3) (a macro Swift does not import): minor in bits 0-7, major in bits 8-19.
    let nullDevice: dev_t = 1 << 8 | 3
    guard mknod(path, S_IFCHR | 0o666, nullDevice) == 0 else {
        throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
    }
}

/// True when the tests run as root (device nodes and chown to other users need it).
let runningAsRoot = getuid() == 0

/// The names in `directory`, sorted.
func directoryNames(_ directory: URL) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []).sorted()
}
