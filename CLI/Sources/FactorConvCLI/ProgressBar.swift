#if canImport(Glibc)
import Glibc
#endif

/// A one-line progress bar on stderr for decompositions, drawn only when stderr is a terminal:
/// the iterations done out of the bound, the current error, the time elapsed and, from the
/// average time per iteration, an estimate of the time left if every iteration up to the bound
/// runs (a decomposition that converges stops sooner, so it is an upper estimate: "≤").
final class ProgressBar {
    private let enabled: Bool
    private var drawn = false
    private let clock = ContinuousClock()
    private let start: ContinuousClock.Instant

    /// A bar, disabled when stderr is not a terminal or `quiet`; its clock starts now.
    init(quiet: Bool) {
        self.enabled = !quiet && isatty(2) == 1
        self.start = clock.now
    }

    /// Redraws the bar for `iteration` of at most `total` with the current relative error;
    /// always continues.
    func update(iteration: Int, total: Int, error: Double) -> Bool {
        guard enabled else { return true }
        let elapsed = seconds(clock.now - start)
        writeStderr("\r" + Self.line(iteration: iteration, total: total, error: error, elapsed: elapsed) + "   ")
        drawn = true
        return true
    }

    /// The bar's text for `iteration` of at most `total`, `elapsed` seconds after the start.
    static func line(iteration: Int, total: Int, error: Double, elapsed: Double) -> String {
        let total = max(total, 1)
        let width = 30
        // In floating point: iteration * width could overflow for a huge --n-iter-max.
        let done = min(1, max(0, Double(iteration) / Double(total)))
        let filled = Int(done * Double(width))
        let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
        var text = "  [\(bar)] iteration \(iteration)/\(total)  error \(scientific(error))  \(duration(elapsed))"
        if iteration > 0 && iteration < total {
            let left = elapsed / Double(iteration) * Double(total - iteration)
            text += ", ≤ \(duration(left)) left"
        }
        return text
    }

    /// Clears the bar's line.
    func finish() {
        if drawn { writeStderr("\r" + String(repeating: " ", count: 100) + "\r") }
    }
}

/// A duration for the progress bar: `4.2s`, `3m07s`, `2h05m`.
func duration(_ seconds: Double) -> String {
    guard seconds.isFinite, seconds >= 0 else { return "?" }
    if seconds < 60 { return fixed(seconds, 1) + "s" }
    let whole = seconds < 0x1p52 ? Int(seconds) : Int(0x1p52)
    func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
    if whole < 3600 { return "\(whole / 60)m\(two(whole % 60))s" }
    return "\(whole / 3600)h\(two(whole / 60 % 60))m"
}
