/// A parser for the Python-literal dictionary of a `.npy` header, e.g.
/// `{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }` — strings, booleans and tuples
/// of non-negative integers only (anything else is a `.format` error).
struct NPYHeaderParser {
    /// A header value.
    enum Value: Equatable {
        case string(String)
        case bool(Bool)
        case tuple([Int])
    }

    private let chars: [Character]
    private let context: String
    private var position = 0

    init(text: String, context: String) {
        self.chars = Array(text)
        self.context = context
    }

    private func error(_ what: String) -> FactorConvError {
        FactorConvError(.format, "\(context): bad .npy header at character \(position): \(what)")
    }

    private mutating func skipSpace() {
        while position < chars.count, chars[position].isWhitespace { position += 1 }
    }

    private mutating func expect(_ c: Character) throws {
        skipSpace()
        guard position < chars.count, chars[position] == c else { throw error("expected '\(c)'") }
        position += 1
    }

    private mutating func peek() -> Character? {
        skipSpace()
        return position < chars.count ? chars[position] : nil
    }

    /// Parses the whole dictionary (trailing whitespace and newline allowed).
    mutating func parse() throws -> [String: Value] {
        try expect("{")
        var out: [String: Value] = [:]
        while peek() != "}" {
            let key = try string()
            try expect(":")
            guard out[key] == nil else { throw error("duplicate key '\(key)'") }
            out[key] = try value()
            guard peek() == "," || peek() == "}" else { throw error("expected ',' or '}'") }
            if peek() == "," { position += 1 }
        }
        position += 1
        skipSpace()
        guard position == chars.count else { throw error("unexpected text after the dictionary") }
        return out
    }

    private mutating func string() throws -> String {
        guard let quote = peek(), quote == "'" || quote == "\"" else { throw error("expected a quoted string") }
        position += 1
        var s = ""
        while position < chars.count, chars[position] != quote {
            guard chars[position] != "\\" else { throw error("escapes are not supported") }
            s.append(chars[position])
            position += 1
        }
        guard position < chars.count else { throw error("unterminated string") }
        position += 1
        return s
    }

    private mutating func value() throws -> Value {
        switch peek() {
        case "'", "\"": return .string(try string())
        case "(": return .tuple(try tuple())
        case "T", "F":
            for (word, v) in [("True", true), ("False", false)] where chars[position...].starts(with: word) {
                position += word.count
                return .bool(v)
            }
            throw error("expected True or False")
        default: throw error("expected a string, True/False or a tuple")
        }
    }

    private mutating func tuple() throws -> [Int] {
        try expect("(")
        var items: [Int] = []
        while peek() != ")" {
            guard items.count < 64 else { throw error("tuple too long") }
            var digits = ""
            while position < chars.count, let d = chars[position].wholeNumberValue, chars[position].isASCII {
                _ = d
                digits.append(chars[position])
                position += 1
            }
            guard !digits.isEmpty, digits.count <= 18, let v = Int(digits) else { throw error("expected a non-negative integer") }
            items.append(v)
            guard peek() == "," || peek() == ")" else { throw error("expected ',' or ')'") }
            if peek() == "," { position += 1 }
        }
        position += 1
        return items
    }
}
