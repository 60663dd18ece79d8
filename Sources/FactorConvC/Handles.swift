import CFactorConvABI
import FactorConv
import Synchronization

/// The object behind an `fconv_conv *`: a layer, or one layer of a parent's grid.
final class ConvHandle {
    let conv: FactorizedConv
    /// The layer a sub-convolution stands for; nil for a whole layer.
    let fixedLayer: [Int]?

    init(conv: FactorizedConv, fixedLayer: [Int]? = nil) {
        self.conv = conv
        self.fixedLayer = fixedLayer
    }

    /// The layer index a call means: a sub-convolution's own, else the caller's.
    func layer(_ pointer: UnsafePointer<Int64>?, _ ndim: Int, _ name: String = "layer") throws -> [Int] {
        if let fixedLayer {
            guard ndim == 0 else {
                throw FactorConvError.invalid("\(name): a sub-convolution always uses its own layer \(fixedLayer); pass layer_ndim 0")
            }
            return fixedLayer
        }
        guard ndim >= 0 && ndim <= 8 else { throw FactorConvError(.indexOutOfRange, "\(name)_ndim \(UInt(bitPattern: ndim)) must be at most 8") }
        if ndim == 0 { return [] }
        guard let pointer else { throw FactorConvError.invalid("\(name) is NULL but \(name)_ndim is \(ndim)") }
        return (0..<ndim).map { Int(pointer[$0]) }
    }
}

/// Every live handle the library has given out, so a NULL, freed or foreign pointer is an
/// error instead of a crash, and a double free is reported rather than corrupting memory.
enum Handles {
    private static let live = Mutex<Set<UInt>>([])

    /// Addresses are stored XOR-ed with this mask: a leak checker (valgrind, LeakSanitizer)
    /// scanning memory conservatively would otherwise take the registry's entries for
    /// references and never report a handle the caller forgot to free.
    private static let mask: UInt = 0xA5A5_5A5A_A5A5_5A5A

    private static func key(_ raw: UnsafeRawPointer) -> UInt { UInt(bitPattern: raw) ^ mask }

    /// Retains `object` and returns its opaque pointer.
    static func register<T: AnyObject>(_ object: T) -> OpaquePointer {
        let raw = UnsafeRawPointer(Unmanaged.passRetained(object).toOpaque())
        live.withLock { _ = $0.insert(key(raw)) }
        return OpaquePointer(raw)
    }

    /// The object behind a live pointer of type `T`.
    static func resolve<T: AnyObject>(_ pointer: OpaquePointer?, as _: T.Type, _ name: String) throws -> T {
        guard let pointer else { throw FactorConvError.invalid("\(name) is NULL") }
        let raw = UnsafeRawPointer(pointer)
        guard live.withLock({ $0.contains(key(raw)) }) else {
            throw FactorConvError.invalid("\(name) is not a live handle (freed, or not created by this library)")
        }
        guard let object = Unmanaged<AnyObject>.fromOpaque(raw).takeUnretainedValue() as? T else {
            throw FactorConvError.invalid("\(name) is a handle of another type")
        }
        return object
    }

    /// Releases a live pointer; false if it was not live (NULL, foreign or already freed).
    @discardableResult
    static func release(_ pointer: OpaquePointer?) -> Bool {
        guard let pointer else { return false }
        let raw = UnsafeRawPointer(pointer)
        guard live.withLock({ $0.remove(key(raw)) != nil }) else { return false }
        Unmanaged<AnyObject>.fromOpaque(raw).release()
        return true
    }
}

extension Arguments {
    /// Reads a C string argument.
    static func string(_ pointer: UnsafePointer<CChar>?, _ name: String) throws -> String {
        guard let pointer else { throw FactorConvError.invalid("\(name) is NULL") }
        return String(cString: pointer)
    }

    /// Copies `text` NUL-terminated into a caller buffer, reporting the needed length.
    static func copy(_ text: String, into buffer: UnsafeMutablePointer<CChar>?, capacity: Int,
                     length: UnsafeMutablePointer<Int>?, _ name: String) throws {
        let bytes = Array(text.utf8)
        length?.pointee = bytes.count
        guard capacity > bytes.count else {
            throw FactorConvError(.bufferTooSmall, "\(name) holds \(capacity) bytes but \(bytes.count + 1) are needed")
        }
        let out = try required(buffer, name)
        for (i, b) in bytes.enumerated() { out[i] = CChar(bitPattern: b) }
        out[bytes.count] = 0
    }

    /// Copies integers into a caller array, reporting the count.
    static func copy(_ values: [Int], into buffer: UnsafeMutablePointer<Int64>?, capacity: Int,
                     count: UnsafeMutablePointer<Int>?, _ name: String) throws {
        count?.pointee = values.count
        try Arguments.capacity(capacity, needed: values.count, name)
        if values.isEmpty { return }
        let out = try required(buffer, name)
        for (i, v) in values.enumerated() { out[i] = Int64(v) }
    }
}
