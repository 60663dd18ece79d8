import CFactorConvABI
import FactorConv

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

/// Every live handle the library has given out.
///
/// A handle is not the object's address but a serial number that is never reused (and that no
/// real pointer can equal), so a stale handle stays invalid after its object is freed and the
/// allocator reuses the memory: NULL, freed, foreign and wrong-type handles are always
/// `FCONV_ERR_INVALID_ARGUMENT`, never another caller's object. `resolve` takes its strong
/// reference under the registry lock, so a free racing a call cannot destroy the object while
/// the call uses it: the call finishes on it, and later calls see the handle as freed.
enum Handles {
    private struct Registry {
        /// The next serial number (starts at 1; 2^52 handles before it could wrap).
        var next: UInt = 1
        /// Handle value → the retained object's address XOR `mask`.
        var objects: [UInt: UInt] = [:]
    }

    private static let registry = LibraryMutex(Registry(), kind: .handleRegistry)

    /// Handle values are `base | serial << 4`: above every user-space address on 64-bit
    /// Linux (a caller that dereferences one faults at once), and 16-byte aligned.
    private static let base: UInt = 0x0FAC_0000_0000_0000

    /// Object addresses are stored XOR-ed with this mask: a leak checker (valgrind, LeakSanitizer)
    /// scanning memory conservatively would otherwise take the registry's entries for
    /// references and never report a handle the caller forgot to free.
    private static let mask: UInt = 0xA5A5_5A5A_A5A5_5A5A

    /// Retains `object` and returns a new handle for it.
    static func register<T: AnyObject>(_ object: T) -> OpaquePointer {
        let address = UInt(bitPattern: Unmanaged.passRetained(object as AnyObject).toOpaque())
        let value = registry.withLock { r -> UInt in
            let value = base | (r.next << 4)
            r.next += 1
            r.objects[value] = address ^ mask
            return value
        }
        return OpaquePointer(bitPattern: value)!
    }

    /// The object behind a live handle of type `T` (a strong reference, valid even if another
    /// thread frees the handle meanwhile).
    static func resolve<T: AnyObject>(_ pointer: OpaquePointer?, as _: T.Type, _ name: String) throws -> T {
        guard let pointer else { throw FactorConvError.invalid("\(name) is NULL") }
        let value = UInt(bitPattern: Int(bitPattern: UnsafeRawPointer(pointer)))
        let object: AnyObject? = registry.withLock { r in
            guard let masked = r.objects[value], let raw = UnsafeRawPointer(bitPattern: masked ^ mask) else { return nil }
            return Unmanaged<AnyObject>.fromOpaque(raw).takeUnretainedValue()   // retained before the unlock
        }
        guard let object else {
            throw FactorConvError.invalid("\(name) is not a live handle (freed, or not created by this library)")
        }
        guard let typed = object as? T else { throw FactorConvError.invalid("\(name) is a handle of another type") }
        return typed
    }

    /// Releases a live handle of type `T`; false if it was not one (NULL, foreign, already
    /// freed, or of another type, which stays live).
    @discardableResult
    static func release<T: AnyObject>(_ pointer: OpaquePointer?, as _: T.Type) -> Bool {
        guard let pointer else { return false }
        let value = UInt(bitPattern: Int(bitPattern: UnsafeRawPointer(pointer)))
        let removed: Unmanaged<AnyObject>? = registry.withLock { r in
            guard let masked = r.objects[value], let raw = UnsafeRawPointer(bitPattern: masked ^ mask) else { return nil }
            let object = Unmanaged<AnyObject>.fromOpaque(raw)
            guard object.takeUnretainedValue() is T else { return nil }
            r.objects[value] = nil
            return object
        }
        // Released outside the lock: a layer's deinit may be long, and calls that resolved it
        // before the removal still hold their own references.
        removed?.release()
        return removed != nil
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
