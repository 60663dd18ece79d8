import CFactorConvABI
import FactorConv

/// Validation of raw C arguments: every pointer, count and size is checked here before the
/// library touches caller memory, so no input reachable from C can trap.
enum Arguments {
    /// Largest ndim accepted anywhere (order ≤ 30 spatial dimensions is far beyond any real use).
    static let maxNDim = 32

    /// Reads `ndim` int64 sizes from `shape` into Ints.
    static func shape(_ pointer: UnsafePointer<Int64>?, _ ndim: Int, _ name: String) throws -> [Int] {
        guard let pointer else { throw FactorConvError.invalid("\(name) is NULL") }
        guard ndim >= 1 && ndim <= maxNDim else {
            throw FactorConvError.shape("\(name): ndim \(ndim) must be in 1...\(maxNDim)")
        }
        return (0..<ndim).map { Int(pointer[$0]) }
    }

    /// Reads an optional per-dimension geometry array (NULL means "use the default").
    static func geometryArray(_ pointer: UnsafePointer<Int64>?, _ count: Int) -> [Int]? {
        guard let pointer else { return nil }
        return (0..<count).map { Int(pointer[$0]) }
    }

    /// Builds a validated geometry from three optional arrays of `nSpatial` entries.
    static func geometry(_ stride: UnsafePointer<Int64>?, _ padding: UnsafePointer<Int64>?,
                         _ dilation: UnsafePointer<Int64>?, nSpatial: Int) throws -> ConvGeometry {
        guard nSpatial >= 1 && nSpatial <= maxNDim - 2 else {
            throw FactorConvError.invalid("n_spatial \(nSpatial) must be in 1...\(maxNDim - 2)")
        }
        return try ConvGeometry(order: nSpatial, stride: geometryArray(stride, nSpatial),
                                padding: geometryArray(padding, nSpatial), dilation: geometryArray(dilation, nSpatial))
    }

    /// Requires a non-NULL pointer.
    static func required<T>(_ pointer: T?, _ name: String) throws -> T {
        guard let pointer else { throw FactorConvError.invalid("\(name) is NULL") }
        return pointer
    }

    /// Requires `capacity` ≥ `needed` elements.
    static func capacity(_ capacity: Int, needed: Int, _ name: String) throws {
        guard capacity >= needed else {
            throw FactorConvError(.bufferTooSmall, "\(name) holds \(capacity) elements but \(needed) are needed")
        }
    }

    /// Copies a caller's file image (`size` bytes at `data`) after checking the size against the
    /// memory bound; `what` names the file kind in the error ("a layer file", "a bundle").
    static func fileBytes(_ data: UnsafeRawPointer?, _ size: Int, _ what: String) throws -> [UInt8] {
        guard size >= 0 else { throw FactorConvError.invalid("size \(UInt(bitPattern: size)) is beyond any buffer") }
        try MemoryLimit.check(elements: size, bytesPerElement: 1, "\(what) of \(size) bytes")
        let data = try required(data, "data")
        return [UInt8](UnsafeRawBufferPointer(start: data, count: size))
    }
}
