#if canImport(Glibc)
import Glibc
#endif

/// A one-line progress bar on stderr for decompositions, drawn only when stderr is a terminal.
final class ProgressBar {
    private let enabled: Bool
    private var drawn = false

    /// A bar, disabled when stderr is not a terminal or `quiet`.
    init(quiet: Bool) {
        self.enabled = !quiet && isatty(2) == 1
    }

    /// Redraws the bar for `iteration` of at most `total` with the current relative error;
    /// always continues.
    func update(iteration: Int, total: Int, error: Double) -> Bool {
        guard enabled else { return true }
        let total = max(total, 1)
        let width = 30
        // In floating point: iteration * width could overflow for a huge --n-iter-max.
        let filled = min(width, max(0, Int(Double(iteration) / Double(total) * Double(width))))
        let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
        writeStderr("\r  [\(bar)] iteration \(iteration)/\(total)  error \(scientific(error))   ")
        drawn = true
        return true
    }

    /// Clears the bar's line.
    func finish() {
        if drawn { writeStderr("\r" + String(repeating: " ", count: 78) + "\r") }
    }
}
