/// A safetensors file in memory: named float32 tensors and string metadata.
///
/// The format: an 8-byte little-endian header length N, N bytes of UTF-8 JSON
/// `{name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {str: str}}`, then
/// the raw little-endian data; offsets are relative to the start of the data. Reading checks every
/// offset, length, dtype and shape before allocating (F32, F64, F16 and BF16 are accepted and
/// converted to float32); writing stores float32 tensors in the given order, contiguously.
public struct SafeTensors: Sendable {
    /// The tensors in file order.
    public var tensors: [(name: String, value: Tensor<Float>)]
    /// The `__metadata__` entries.
    public var metadata: [String: String]

    /// Creates a file's contents.
    public init(tensors: [(name: String, value: Tensor<Float>)] = [], metadata: [String: String] = [:]) {
        self.tensors = tensors
        self.metadata = metadata
    }

    /// The tensor named `name`, if present.
    public subscript(name: String) -> Tensor<Float>? { tensors.first { $0.name == name }?.value }

    /// Reads and validates a safetensors file.
    /// - Throws: `.io` (cannot read, or not a regular file: FIFOs, devices and directories are
    ///   refused without waiting on them), `.format` (anything malformed, naming it),
    ///   `.outOfMemory` (data beyond `FileLimits.maxBytes`).
    public static func read(from path: String) throws -> SafeTensors {
        let file = try InputFile(path: path)
        let (entries, headerLength) = try readHeader(file)
        let dataLength = file.size - 8 - headerLength
        try FileLimits.checkMemory(entries.reduce(0) { $0 + $1.count * 4 }, "'\(path)' (tensor data as float32)")
        try FileLimits.checkMemory(dataLength, "'\(path)' (raw tensor data)")
        let data = try file.read(offset: 8 + headerLength, count: dataLength)
        return SafeTensors(tensors: try entries.entries.map { ($0.name, try $0.decode(data)) }, metadata: entries.metadata)
    }

    /// The `__metadata__` entries of a safetensors file, read and validated (the whole header,
    /// with every check of `read(from:)` on it) without reading the tensor data: what a tool
    /// looks at to tell a single-layer file from a model bundle.
    /// - Throws: as `read(from:)`.
    public static func readMetadata(from path: String) throws -> [String: String] {
        try readHeader(try InputFile(path: path)).header.metadata
    }

    /// Reads and validates the header of an open file; returns it and its length in bytes.
    private static func readHeader(_ file: InputFile) throws -> (header: SafeTensorsHeader, length: Int) {
        let path = file.path
        guard file.size >= 8 else {
            throw FactorConvError(.format, "'\(path)' has \(file.size) bytes: too short for a safetensors header (8-byte length)")
        }
        let start = try file.read(offset: 0, count: min(file.size, 9))
        try checkStart(start, "'\(path)' is not a safetensors file")
        let length = start[0..<8].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        guard length <= UInt64(FileLimits.maxHeaderBytes) else {
            throw FactorConvError(.format, "'\(path)': header length \(length) exceeds the limit of \(FileLimits.maxHeaderBytes) bytes")
        }
        guard length <= UInt64(file.size - 8) else {
            throw FactorConvError(.format, "'\(path)': header length \(length) exceeds the file's remaining \(file.size - 8) bytes (truncated file?)")
        }
        let headerLength = Int(length)
        let header = try file.read(offset: 8, count: headerLength)
        let dataLength = file.size - 8 - headerLength
        return (try SafeTensorsHeader.parse(header, dataLength: dataLength, context: "'\(path)'"), headerLength)
    }

    /// Parses safetensors bytes held in memory (the same checks as `read(from:)`).
    public static func decode(_ bytes: [UInt8]) throws -> SafeTensors {
        guard bytes.count >= 8 else { throw FactorConvError(.format, "\(bytes.count) bytes: too short for a safetensors header") }
        try checkStart(bytes.prefix(9), "the bytes are not a safetensors file")
        let length = bytes[0..<8].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        guard length <= UInt64(FileLimits.maxHeaderBytes), length <= UInt64(bytes.count - 8) else {
            throw FactorConvError(.format, "header length \(length) exceeds the \(bytes.count - 8) bytes that follow it (or the 100 MB limit)")
        }
        let headerEnd = 8 + Int(length)
        let entries = try SafeTensorsHeader.parse(Array(bytes[8..<headerEnd]), dataLength: bytes.count - headerEnd, context: "safetensors data")
        try FileLimits.checkMemory(entries.reduce(0) { $0 + $1.count * 4 }, "safetensors data (tensor data as float32)")
        let data = Array(bytes[headerEnd...])
        return SafeTensors(tensors: try entries.entries.map { ($0.name, try $0.decode(data)) }, metadata: entries.metadata)
    }

    /// Throws `.format` with `notSafeTensors` and what the bytes are instead when the first
    /// bytes (at most 9) cannot start a safetensors file: its JSON header, right after the 8-byte
    /// length, is an object and so starts with `{`. This names a `.npy` file (or any other one)
    /// as what it is instead of reading its first 8 bytes as an absurd header length.
    static func checkStart<Bytes: Collection<UInt8>>(_ start: Bytes, _ notSafeTensors: String) throws {
        let bytes = Array(start)
        let npyMagic: [UInt8] = [0x93] + Array("NUMPY".utf8)
        if bytes.starts(with: npyMagic) {
            throw FactorConvError(.format, "\(notSafeTensors) (it is a .npy file)")
        }
        if bytes.count > 8 && bytes[8] != UInt8(ascii: "{") {
            throw FactorConvError(.format, "\(notSafeTensors) (its header does not start with '{' after the 8-byte length)")
        }
    }

    /// The file's bytes: header (padded with spaces to a multiple of 8, as the reference writer
    /// does) then the float32 data in tensor order.
    /// - Throws: `.invalidArgument` for duplicate or empty names, or a name "__metadata__".
    public func encoded() throws -> [UInt8] {
        var seen = Set<String>()
        var members: [(String, JSONValue)] = []
        if !metadata.isEmpty {
            members.append(("__metadata__", .object(metadata.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) })))
        }
        var offset = 0
        for (name, value) in tensors {
            guard !name.isEmpty, name != "__metadata__", seen.insert(name).inserted else {
                throw FactorConvError.invalid("tensor name '\(name)' is empty, reserved or repeated")
            }
            let end = offset + value.count * 4
            members.append((name, .object([
                ("dtype", .string("F32")),
                ("shape", .array(value.shape.map { .number(Double($0)) })),
                ("data_offsets", .array([.number(Double(offset)), .number(Double(end))])),
            ])))
            offset = end
        }
        var header = Array(JSONValue.object(members).serialized.utf8)
        while header.count % 8 != 0 { header.append(0x20) }
        var out = [UInt8]()
        out.reserveCapacity(8 + header.count + offset)
        var n = UInt64(header.count)
        for _ in 0..<8 { out.append(UInt8(n & 0xFF)); n >>= 8 }
        out += header
        for (_, value) in tensors {
            for v in value.scalars {
                var bits = v.bitPattern.littleEndian
                withUnsafeBytes(of: &bits) { out.append(contentsOf: $0) }
            }
        }
        return out
    }

    /// Writes the file atomically (temporary file in the target's directory, then rename),
    /// through symlinks, keeping an existing file's mode and owner; a path that is not a regular
    /// file is refused.
    /// - Throws: `.io` when the file cannot be written or `path` is not a regular file;
    ///   `.invalidArgument` as `encoded()`.
    public func write(to path: String) throws {
        try AtomicFile.write(try encoded(), to: path)
    }
}
