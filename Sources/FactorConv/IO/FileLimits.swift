import Synchronization

/// Bounds applied when reading files (safetensors, `.npy`), checked before anything is allocated.
public enum FileLimits {
    private static let maxBytesStorage = Atomic<Int>(4 << 30)

    /// The largest amount of tensor data (in bytes, after conversion to float32) one file may
    /// claim; larger claims fail with `.outOfMemory` before allocating. Default 4 GiB.
    /// Process-wide; change it while no file is being read.
    public static var maxBytes: Int {
        get { maxBytesStorage.load(ordering: .relaxed) }
        set { maxBytesStorage.store(max(0, newValue), ordering: .relaxed) }
    }

    /// The largest JSON header a safetensors file may have (100 MB, as the reference reader).
    public static let maxHeaderBytes = 100_000_000

    /// Throws `.outOfMemory` when `bytes` exceeds `maxBytes` or the process-wide `MemoryLimit`.
    static func checkMemory(_ bytes: Int, _ what: String) throws {
        guard bytes <= maxBytes else {
            throw FactorConvError(.outOfMemory, "\(what) needs \(bytes) bytes, beyond the file memory bound of \(maxBytes) bytes (FileLimits.maxBytes)")
        }
        try MemoryLimit.check(elements: bytes, bytesPerElement: 1, what)
    }
}
