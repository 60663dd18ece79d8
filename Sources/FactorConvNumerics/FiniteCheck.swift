/// A fast test for NaN and infinities in float32 data.
public enum FiniteCheck {
    /// True when every value is finite. Works on the bit patterns with an OR-reduction (which,
    /// unlike a floating-point sum, the compiler vectorizes): an all-ones exponent plus one
    /// carries into the sign bit, and only NaN/Inf have an all-ones exponent.
    public static func allFinite(_ values: UnsafeBufferPointer<Float>) -> Bool {
        guard let base = values.baseAddress else { return true }
        let bits = UnsafeRawPointer(base).assumingMemoryBound(to: UInt32.self)
        var flag: UInt32 = 0
        for i in 0..<values.count { flag |= (bits[i] & 0x7F80_0000) &+ 0x0080_0000 }
        return flag & 0x8000_0000 == 0
    }

    /// `allFinite` split over up to `Parallel.threadCount` workers (it runs on every forward
    /// input, and a single core streams only about half the memory bandwidth).
    public static func allFiniteParallel(_ values: UnsafeBufferPointer<Float>) -> Bool {
        let parts = values.count >= (1 << 18) ? Parallel.threadCount : 1
        if parts <= 1 { return allFinite(values) }
        let bad = UnsafeMutablePointer<Bool>.allocate(capacity: parts)
        defer { bad.deallocate() }
        Parallel.forEach(parts) { part in
            let lo = values.count * part / parts, hi = values.count * (part + 1) / parts
            bad[part] = !allFinite(UnsafeBufferPointer(rebasing: values[lo..<hi]))
        }
        return !(0..<parts).contains { bad[$0] }
    }

    /// `allFinite` over an array.
    public static func allFinite(_ values: [Float]) -> Bool {
        values.withUnsafeBufferPointer { allFinite($0) }
    }
}
