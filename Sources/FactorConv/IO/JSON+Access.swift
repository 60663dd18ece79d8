/// Typed accessors for reading validated values out of a parsed `JSONValue`; every mismatch is
/// a `.format` error naming the field.
extension JSONValue {
    /// The members of an object.
    func objectMembers(_ what: String) throws -> [(String, JSONValue)] {
        guard case .object(let members) = self else { throw FactorConvError(.format, "\(what) must be a JSON object") }
        return members
    }

    /// The elements of an array.
    func arrayItems(_ what: String) throws -> [JSONValue] {
        guard case .array(let items) = self else { throw FactorConvError(.format, "\(what) must be a JSON array") }
        return items
    }

    /// A string value.
    func stringValue(_ what: String) throws -> String {
        guard case .string(let s) = self else { throw FactorConvError(.format, "\(what) must be a string") }
        return s
    }

    /// A boolean value.
    func boolValue(_ what: String) throws -> Bool {
        guard case .bool(let b) = self else { throw FactorConvError(.format, "\(what) must be true or false") }
        return b
    }

    /// An exact integer in `range` (JSON numbers are exact up to 2^53).
    func intValue(_ what: String, in range: ClosedRange<Int> = 0...(1 << 53)) throws -> Int {
        guard case .number(let d) = self, d.isFinite, d == d.rounded() else {
            throw FactorConvError(.format, "\(what) must be an integer")
        }
        guard d >= -9.007199254740992e15 && d <= 9.007199254740992e15, range.contains(Int(d)) else {
            throw FactorConvError(.format, "\(what) = \(d) is outside \(range.lowerBound)...\(range.upperBound)")
        }
        return Int(d)
    }

    /// An array of integers in `range`.
    func intArray(_ what: String, in range: ClosedRange<Int> = 0...(1 << 53), maxCount: Int = 64) throws -> [Int] {
        let items = try arrayItems(what)
        guard items.count <= maxCount else { throw FactorConvError(.format, "\(what) has \(items.count) entries (at most \(maxCount))") }
        return try items.enumerated().map { try $0.element.intValue("\(what)[\($0.offset)]", in: range) }
    }

    /// A required member of an object.
    func member(_ key: String, of what: String) throws -> JSONValue {
        guard case .object = self else { throw FactorConvError(.format, "\(what) must be a JSON object") }
        guard let value = self[key] else { throw FactorConvError(.format, "\(what) has no \"\(key)\" entry") }
        return value
    }
}
