import FactorConvNumerics

/// Runs `body` with `Parallel.threadCount` set to `threads`, restoring the previous count after
/// (tests that need a given number of workers, e.g. to split a batch-1 image).
public func withThreadCount<T>(_ threads: Int, _ body: () throws -> T) rethrows -> T {
    let saved = Parallel.threadCount
    defer { Parallel.threadCount = saved }
    Parallel.threadCount = threads
    return try body()
}
