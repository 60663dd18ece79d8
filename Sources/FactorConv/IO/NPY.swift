/// NumPy `.npy` files (format versions 1.0–3.0) of little-endian float32 or float64 arrays in C
/// order — kernels and activations exchanged with numpy (`np.save`). Reading converts to float32
/// and checks the header dictionary, the shape and the data length before allocating.
public enum NPY {
    private static let magic: [UInt8] = [0x93] + Array("NUMPY".utf8)

    /// Reads an array saved by `np.save` (dtype `<f4` or `<f8`, `fortran_order: False`).
    /// - Throws: `.io` (cannot read, or not a regular file), `.format` (bad magic, header, dtype, order, shape or data
    ///   length, naming which), `.outOfMemory` (beyond `FileLimits.maxBytes`).
    public static func read(from path: String) throws -> Tensor<Float> {
        let file = try InputFile(path: path)
        let prefix = try file.read(offset: 0, count: min(file.size, 12))
        let (headerStart, headerLength) = try preamble(prefix, context: "'\(path)'")
        let header = try file.read(offset: headerStart, count: headerLength)
        let (dtypeSize, shape, count) = try parseHeader(header, context: "'\(path)'")
        let dataStart = headerStart + headerLength
        try checkLength(count: count, dtypeSize: dtypeSize, available: file.size - dataStart, context: "'\(path)'")
        return try convert(try file.read(offset: dataStart, count: count * dtypeSize), dtypeSize: dtypeSize, shape: shape)
    }

    /// Parses `.npy` bytes held in memory (the same checks as `read(from:)`).
    public static func decode(_ bytes: [UInt8]) throws -> Tensor<Float> {
        let (headerStart, headerLength) = try preamble(Array(bytes.prefix(12)), context: "npy data")
        guard headerLength <= bytes.count - headerStart else {
            throw FactorConvError(.format, "npy data: header length \(headerLength) exceeds the \(bytes.count - headerStart) bytes that follow")
        }
        let (dtypeSize, shape, count) = try parseHeader(Array(bytes[headerStart..<(headerStart + headerLength)]), context: "npy data")
        let dataStart = headerStart + headerLength
        try checkLength(count: count, dtypeSize: dtypeSize, available: bytes.count - dataStart, context: "npy data")
        return try convert(Array(bytes[dataStart..<(dataStart + count * dtypeSize)]), dtypeSize: dtypeSize, shape: shape)
    }

    /// The bytes of a version 1.0 `.npy` file holding `tensor` as little-endian float32.
    public static func encode(_ tensor: Tensor<Float>) -> [UInt8] {
        let shapeText = tensor.shape.count == 1 ? "(\(tensor.shape[0]),)" : "(" + tensor.shape.map(String.init).joined(separator: ", ") + ")"
        var header = Array("{'descr': '<f4', 'fortran_order': False, 'shape': \(shapeText), }".utf8)
        // magic (6) + version (2) + length (2) + header + '\n' is padded to a multiple of 64.
        while (10 + header.count + 1) % 64 != 0 { header.append(0x20) }
        header.append(0x0A)
        var out = magic + [1, 0, UInt8(header.count & 0xFF), UInt8(header.count >> 8)] + header
        out.reserveCapacity(out.count + tensor.count * 4)
        for v in tensor.scalars {
            var bits = v.bitPattern.littleEndian
            withUnsafeBytes(of: &bits) { out.append(contentsOf: $0) }
        }
        return out
    }

    /// Writes `tensor` as a float32 `.npy` file, atomically and through symlinks, keeping an
    /// existing file's mode and owner (see `FactorizedConv.save(to:)`).
    /// - Throws: `.io` when the file cannot be written or `path` is not a regular file.
    public static func write(_ tensor: Tensor<Float>, to path: String) throws {
        try AtomicFile.write(encode(tensor), to: path)
    }

    /// Checks the magic and version; returns where the header dictionary starts and its length.
    private static func preamble(_ prefix: [UInt8], context: String) throws -> (Int, Int) {
        guard prefix.count >= 10, Array(prefix[0..<6]) == magic else {
            throw FactorConvError(.format, "\(context) is not a .npy file (missing the \\x93NUMPY magic)")
        }
        switch prefix[6] {
        case 1: return (10, Int(prefix[8]) | Int(prefix[9]) << 8)
        case 2, 3:
            guard prefix.count >= 12 else { throw FactorConvError(.format, "\(context): truncated .npy preamble") }
            let length = Int(prefix[8]) | Int(prefix[9]) << 8 | Int(prefix[10]) << 16 | Int(prefix[11]) << 24
            guard length <= 1 << 20 else { throw FactorConvError(.format, "\(context): .npy header length \(length) is implausibly large") }
            return (12, length)
        default:
            throw FactorConvError(.format, "\(context): unsupported .npy format version \(prefix[6]).\(prefix[7])")
        }
    }

    /// Parses the header dictionary: returns the element size (4 or 8), the shape and its product.
    static func parseHeader(_ header: [UInt8], context: String) throws -> (Int, [Int], Int) {
        guard let text = String(validating: header, as: UTF8.self) else {
            throw FactorConvError(.format, "\(context): the .npy header is not UTF-8 text")
        }
        var dict = NPYHeaderParser(text: text, context: context)
        let entries = try dict.parse()
        guard let descr = entries["descr"], case .string(let d) = descr else {
            throw FactorConvError(.format, "\(context): the .npy header has no 'descr' string")
        }
        let size: Int
        switch d {
        case "<f4", "f4", "float32": size = 4
        case "<f8", "f8", "float64": size = 8
        default: throw FactorConvError(.format, "\(context): dtype '\(d)' is not supported; save float32 or float64 little-endian arrays")
        }
        guard let order = entries["fortran_order"], case .bool(let fortran) = order else {
            throw FactorConvError(.format, "\(context): the .npy header has no 'fortran_order' True/False")
        }
        guard !fortran else {
            throw FactorConvError(.format, "\(context): the array is in Fortran order; save it with np.ascontiguousarray first")
        }
        guard let shapeValue = entries["shape"], case .tuple(let shape) = shapeValue else {
            throw FactorConvError(.format, "\(context): the .npy header has no 'shape' tuple")
        }
        guard shape.count <= 32 else { throw FactorConvError(.format, "\(context): shape \(shape) has more than 32 dimensions") }
        var count = 1
        for s in shape {
            let (p, overflow) = count.multipliedReportingOverflow(by: s)
            guard !overflow, p <= 1 << 56 else { throw FactorConvError(.format, "\(context): shape \(shape) has too many elements") }
            count = p
        }
        return (size, shape, count)
    }

    /// The data must hold exactly `count` elements (numpy writes no trailing bytes) within the bound.
    private static func checkLength(count: Int, dtypeSize: Int, available: Int, context: String) throws {
        try FileLimits.checkMemory(count * 4, "\(context) (\(count) float32 values)")
        guard count * dtypeSize == available else {
            throw FactorConvError(.format, "\(context): the shape needs \(count * dtypeSize) data bytes but the file has \(available)")
        }
    }

    private static func convert(_ data: [UInt8], dtypeSize: Int, shape: [Int]) throws -> Tensor<Float> {
        let count = data.count / dtypeSize
        var scalars = [Float](repeating: 0, count: count)
        data.withUnsafeBytes { raw in
            guard let base = raw.baseAddress else { return }
            for i in 0..<count {
                scalars[i] = dtypeSize == 4
                    ? Float(bitPattern: UInt32(littleEndian: base.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self)))
                    : Float(Double(bitPattern: UInt64(littleEndian: base.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self))))
            }
        }
        return try Tensor(shape: shape, scalars: scalars)
    }
}
