/// Overflow-checked size arithmetic, so no shape reachable from the C ABI can trap. The `what`
/// of an error message is built only when it is thrown: these run on every forward call, where
/// formatting the shapes into the message up front would be a visible part of a small layer's call.
public enum Checked {
    /// The product of `values`, or an `.invalidArgument` error naming `what` on overflow.
    /// Inlinable so that callers in other modules get it specialized: unspecialized, through
    /// witness tables, it is a visible part of a small layer's forward call.
    @inlinable
    public static func product<S: Sequence>(_ values: S, _ what: @autoclosure () -> String) throws -> Int where S.Element == Int {
        var total = 1
        for v in values {
            let (p, overflow) = total.multipliedReportingOverflow(by: v)
            if overflow { throw FactorConvError.invalid("\(what()): the element count overflows a 64-bit integer") }
            total = p
        }
        return total
    }

    /// `count`, or an `.invalidArgument` error naming `what` when it exceeds Int32.max: the
    /// kernels and BLAS take sizes, a channel's plane above all, as 32-bit ints.
    public static func int32(_ count: Int, _ what: @autoclosure () -> String) throws -> Int {
        guard count <= Int(Int32.max) else {
            throw FactorConvError.invalid("\(what()) is \(count), more than the 2^31 - 1 that kernels and BLAS index with 32-bit ints")
        }
        return count
    }

    /// `a * b` or an error naming `what` on overflow.
    public static func multiply(_ a: Int, _ b: Int, _ what: @autoclosure () -> String) throws -> Int {
        let (p, overflow) = a.multipliedReportingOverflow(by: b)
        if overflow { throw FactorConvError.invalid("\(what()): the size overflows a 64-bit integer") }
        return p
    }

    /// `a + b` or an error naming `what` on overflow.
    public static func add(_ a: Int, _ b: Int, _ what: @autoclosure () -> String) throws -> Int {
        let (s, overflow) = a.addingReportingOverflow(b)
        if overflow { throw FactorConvError.invalid("\(what()): the size overflows a 64-bit integer") }
        return s
    }
}
