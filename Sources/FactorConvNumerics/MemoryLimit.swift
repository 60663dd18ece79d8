#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// A process-wide bound on what one operation may allocate. Requests beyond it (a huge layer,
/// input, rank or file) are refused with `.outOfMemory` before anything is allocated, instead of
/// the process being killed by the OS halfway through.
public enum MemoryLimit {
    private static let configured = Atomic<Int>(0)

    /// The default: `FACTORCONV_MAX_BYTES` if set and valid, else 3/4 of physical memory.
    public static var defaultBytes: Int {
        if let raw = getenv("FACTORCONV_MAX_BYTES"), let n = Int(String(cString: raw)), n > 0 { return n }
        return threeQuartersOfPhysicalMemory
    }

    /// Read once: `sysconf(_SC_PHYS_PAGES)` is a system call, and every forward call checks.
    private static let threeQuartersOfPhysicalMemory: Int = {
        let pages = sysconf(Int32(_SC_PHYS_PAGES)), pageSize = sysconf(Int32(_SC_PAGESIZE))
        guard pages > 0, pageSize > 0 else { return 1 << 34 }
        let (physical, overflow) = pages.multipliedReportingOverflow(by: pageSize)
        return overflow ? Int.max / 4 * 3 : physical / 4 * 3
    }()

    /// The bound in bytes (> 0). Setting 0 restores the default.
    public static var bytes: Int {
        get {
            let n = configured.load(ordering: .relaxed)
            return n > 0 ? n : defaultBytes
        }
        set { configured.store(max(0, newValue), ordering: .relaxed) }
    }

    /// Throws `.outOfMemory` when `elements` values of `bytesPerElement` bytes exceed the bound.
    /// - Parameter what: what the memory is for, for the message.
    package static func check(elements: Int, bytesPerElement: Int = 4, _ what: @autoclosure () -> String) throws {
        let (total, overflow) = elements.multipliedReportingOverflow(by: bytesPerElement)
        let limit = bytes
        if overflow || elements < 0 || total > limit {
            let needed = overflow ? "more than 2^63 bytes" : readable(total)
            throw FactorConvError(.outOfMemory,
                "\(what()) needs \(needed) but the memory limit is \(readable(limit)) (raise it with fconv_set_memory_limit or FACTORCONV_MAX_BYTES)")
        }
    }

    /// `bytes` in the largest binary unit that keeps the number ≥ 1, e.g. "1.5 GiB", "200 KiB".
    static func readable(_ bytes: Int) -> String {
        let units = ["bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]
        var value = Double(bytes), unit = 0
        while value >= 1024 && unit < units.count - 1 { value /= 1024; unit += 1 }
        return unit == 0 ? "\(bytes) bytes" : "\((value * 100).rounded() / 100) \(units[unit])"
    }
}
