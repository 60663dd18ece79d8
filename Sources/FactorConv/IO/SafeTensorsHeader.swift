/// The validated header of a safetensors file: where each tensor is and how it is stored.
struct SafeTensorsHeader {
    /// The element types FactorConv reads, with their sizes in bytes.
    enum DType: String {
        case f32 = "F32", f64 = "F64", f16 = "F16", bf16 = "BF16"

        var size: Int {
            switch self {
            case .f32: 4
            case .f64: 8
            case .f16, .bf16: 2
            }
        }
    }

    /// One tensor's entry.
    struct Entry {
        let name: String
        let dtype: DType
        let shape: [Int]
        /// Element count (shape product, checked).
        let count: Int
        let begin: Int
        let end: Int

        /// The tensor's values converted to float32.
        func decode(_ data: [UInt8]) throws -> Tensor<Float> {
            guard begin >= 0, end <= data.count, end - begin == count * dtype.size else {
                throw FactorConvError(.format, "tensor '\(name)': data range \(begin)..<\(end) is invalid")
            }
            var scalars = [Float](repeating: 0, count: count)
            data.withUnsafeBytes { raw in
                let base = raw.baseAddress! + begin
                for i in 0..<count {
                    switch dtype {
                    case .f32:
                        scalars[i] = Float(bitPattern: UInt32(littleEndian: base.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self)))
                    case .f64:
                        scalars[i] = Float(Double(bitPattern: UInt64(littleEndian: base.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self))))
                    case .f16:
                        scalars[i] = Self.halfToFloat(UInt16(littleEndian: base.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)))
                    case .bf16:
                        scalars[i] = Float(bitPattern: UInt32(UInt16(littleEndian: base.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self))) << 16)
                    }
                }
            }
            return try Tensor(shape: shape, scalars: scalars)
        }

        /// IEEE 754 binary16 → binary32 (exact).
        static func halfToFloat(_ h: UInt16) -> Float {
            let sign: Float = (h & 0x8000) != 0 ? -1 : 1
            let exponent = Int((h >> 10) & 0x1F)
            let mantissa = Float(h & 0x3FF)
            switch exponent {
            case 0: return sign * mantissa * 0x1p-24
            case 31: return mantissa == 0 ? sign * .infinity : .nan
            default: return sign * (1 + mantissa / 1024) * Float(sign: .plus, exponent: exponent - 15, significand: 1)
            }
        }
    }

    let entries: [Entry]
    let metadata: [String: String]

    /// Sum over entries.
    func reduce(_ initial: Int, _ f: (Int, Entry) -> Int) -> Int { entries.reduce(initial, f) }

    /// Parses and validates a header against `dataLength` bytes of data: known dtypes, shapes
    /// whose byte size equals the offsets' span, offsets inside the data, no overlaps, and the
    /// tensors covering the data without gaps (as the format requires).
    static func parse(_ header: [UInt8], dataLength: Int, context: String) throws -> SafeTensorsHeader {
        let json: JSONValue
        do { json = try JSONValue.parse(header) } catch let e as FactorConvError {
            throw FactorConvError(.format, "\(context): the header is not valid JSON (\(e.message))")
        }
        let members = try json.objectMembers("\(context): the header")
        var entries: [Entry] = []
        var metadata: [String: String] = [:]
        for (name, value) in members {
            let what = "\(context): tensor '\(name)'"
            if name == "__metadata__" {
                for (key, v) in try value.objectMembers("\(context): __metadata__") {
                    metadata[key] = try v.stringValue("\(context): __metadata__ entry '\(key)'")
                }
                continue
            }
            let dtypeName = try value.member("dtype", of: what).stringValue("\(what) dtype")
            guard let dtype = DType(rawValue: dtypeName) else {
                throw FactorConvError(.format, "\(what) has dtype '\(dtypeName)'; FactorConv reads F32, F64, F16 and BF16")
            }
            let shape = try value.member("shape", of: what).intArray("\(what) shape", maxCount: 32)
            let offsets = try value.member("data_offsets", of: what).intArray("\(what) data_offsets")
            guard offsets.count == 2 else { throw FactorConvError(.format, "\(what) data_offsets must be [begin, end]") }
            let (begin, end) = (offsets[0], offsets[1])
            guard begin <= end else { throw FactorConvError(.format, "\(what) data_offsets [\(begin), \(end)] end before they begin") }
            guard end <= dataLength else {
                throw FactorConvError(.format, "\(what) data_offsets [\(begin), \(end)] reach past the \(dataLength) data bytes of the file")
            }
            var count = 1
            for s in shape {
                let (p, overflow) = count.multipliedReportingOverflow(by: s)
                guard !overflow, p <= dataLength else {
                    throw FactorConvError(.format, "\(what) shape \(shape) holds more elements than the file's \(dataLength) data bytes")
                }
                count = p
            }
            guard count * dtype.size == end - begin else {
                throw FactorConvError(.format, "\(what) shape \(shape) of \(dtypeName) needs \(count * dtype.size) bytes but data_offsets span \(end - begin)")
            }
            entries.append(Entry(name: name, dtype: dtype, shape: shape, count: count, begin: begin, end: end))
        }
        var position = 0
        for e in entries.sorted(by: { ($0.begin, $0.end) < ($1.begin, $1.end) }) {
            guard e.begin >= position else {
                throw FactorConvError(.format, "\(context): tensor '\(e.name)' data_offsets [\(e.begin), \(e.end)] overlap another tensor's data")
            }
            guard e.begin == position else {
                throw FactorConvError(.format, "\(context): a gap of \(e.begin - position) bytes before tensor '\(e.name)' (tensors must cover the data contiguously)")
            }
            position = e.end
        }
        guard position == dataLength else {
            throw FactorConvError(.format, "\(context): the tensors cover \(position) bytes but the file has \(dataLength) data bytes")
        }
        return SafeTensorsHeader(entries: entries, metadata: metadata)
    }
}
