/// A small, strict, allocation-light JSON reader for the few fixed schemas on the decision path (the credential
/// header and claims). It is a cursor, not a tree builder: the caller walks objects key by key and asks for the type
/// it expects, so a wrong type, a missing field or anything outside RFC 8259 is an error at the byte where it happens.
///
/// Stricter than RFC 8259 / Foundation's `JSONDecoder` on purpose, because a credential is produced by our own
/// issuer and anything unusual is a sign of tampering or a bug, never something to guess about:
/// - a key may appear once per object (a duplicate is an error, never "last one wins");
/// - integers are canonical: `-?(0|[1-9][0-9]*)` within Int64, no fraction, exponent or `-0`;
/// - strings must be valid UTF-8 with valid escapes (a lone UTF-16 surrogate is an error), no raw control bytes;
/// - no trailing commas (`[1,]`, `{"a":1,}`: Foundation's parser lets them through);
/// - nesting deeper than `maxDepth` is an error (no stack-exhaustion from `[[[[...`);
/// - no byte-order mark, nothing but whitespace after the top-level value.
/// Unknown keys are the caller's choice: `skipValue()` validates the value's syntax and moves past it.
public struct StrictJSONReader {
    static let maxDepth = 32

    private let bytes: [UInt8]
    private(set) var index: Int
    /// Where the caller is (`"claims"`) and the key being read (`"nbf"`), for error messages only.
    public let path: String
    public var field: String?

    public init(_ bytes: [UInt8], path: String) throws(JWSError) {
        self.bytes = bytes
        self.index = 0
        self.path = path
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { throw fail("a byte-order mark is not accepted") }
    }

    // MARK: errors

    public func fail(_ what: String) -> JWSError {
        JWSError(.malformed, "\(path)\(field.map { "." + $0 } ?? ""): \(what) (JSON byte \(index))")
    }

    // MARK: structure

    private mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0A, 0x0D: index += 1
            default: return
            }
        }
    }

    private mutating func peek() throws(JWSError) -> UInt8 {
        skipWhitespace()
        guard index < bytes.count else { throw fail("unexpected end of JSON") }
        return bytes[index]
    }

    /// Whether the next value is `null` (consumed if so): optional fields accept null as absent, like `JSONDecoder`.
    public mutating func consumeNull() throws(JWSError) -> Bool {
        guard try peek() == UInt8(ascii: "n") else { return false }
        try literal("null")
        return true
    }

    /// Walks an object: `body` is called once per key and must consume that key's value. A repeated key is an error.
    public mutating func object(
        depth: Int = 1,
        _ body: (inout StrictJSONReader, String) throws(JWSError) -> Void
    ) throws(JWSError) {
        guard depth <= Self.maxDepth else { throw fail("nested deeper than \(Self.maxDepth)") }
        guard try peek() == UInt8(ascii: "{") else { throw fail("expected an object") }
        index += 1
        var seen: [String] = []
        var seenSet: Set<String> = []
        if try peek() == UInt8(ascii: "}") {
            index += 1
            return
        }
        while true {
            guard try peek() == UInt8(ascii: "\"") else {
                throw fail(bytes[index] == UInt8(ascii: "}") ? "trailing comma" : "expected a key")
            }
            let key = try string()
            // Linear for the handful of keys a credential has; a set once an object grows (a hostile header).
            if seen.count < 16 {
                guard !seen.contains(key) else { throw fail("duplicate key \"\(key)\"") }
                seen.append(key)
            } else {
                if seenSet.isEmpty { seenSet = Set(seen) }
                guard seenSet.insert(key).inserted else { throw fail("duplicate key \"\(key)\"") }
            }
            guard try peek() == UInt8(ascii: ":") else { throw fail("expected ':'") }
            index += 1
            try body(&self, key)
            switch try peek() {
            case UInt8(ascii: ","): index += 1
            case UInt8(ascii: "}"):
                index += 1
                return
            default: throw fail("expected ',' or '}'")
            }
        }
    }

    /// Walks an array: `body` is called once per element and must consume it.
    public mutating func array(
        depth: Int = 1,
        _ body: (inout StrictJSONReader) throws(JWSError) -> Void
    ) throws(JWSError) {
        guard depth <= Self.maxDepth else { throw fail("nested deeper than \(Self.maxDepth)") }
        guard try peek() == UInt8(ascii: "[") else { throw fail("expected an array") }
        index += 1
        if try peek() == UInt8(ascii: "]") {
            index += 1
            return
        }
        while true {
            if try peek() == UInt8(ascii: "]") { throw fail("trailing comma") }
            try body(&self)
            switch try peek() {
            case UInt8(ascii: ","): index += 1
            case UInt8(ascii: "]"):
                index += 1
                return
            default: throw fail("expected ',' or ']'")
            }
        }
    }

    /// After the top-level value: only whitespace may follow.
    public mutating func end() throws(JWSError) {
        skipWhitespace()
        guard index == bytes.count else { throw fail("data after the end of the JSON value") }
    }

    // MARK: values

    private mutating func literal(_ word: StaticString) throws(JWSError) {
        let n = word.utf8CodeUnitCount
        guard index + n <= bytes.count else { throw fail("unexpected end of JSON") }
        for k in 0..<n where bytes[index + k] != word.utf8Start[k] { throw fail("invalid literal") }
        index += n
    }

    public mutating func bool() throws(JWSError) -> Bool {
        switch try peek() {
        case UInt8(ascii: "t"):
            try literal("true")
            return true
        case UInt8(ascii: "f"):
            try literal("false")
            return false
        default: throw fail("expected true or false")
        }
    }

    /// A canonical JSON integer within Int64.
    public mutating func int64() throws(JWSError) -> Int64 {
        let start = try peek()
        let negative = start == UInt8(ascii: "-")
        if negative { index += 1 }
        guard index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) else {
            throw fail("expected an integer")
        }
        var value: Int64 = 0
        if bytes[index] == UInt8(ascii: "0") {
            index += 1
            if negative { throw fail("-0 is not a canonical integer") }
        } else {
            while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) {
                let digit = Int64(bytes[index] &- UInt8(ascii: "0"))
                // Accumulate negatively so Int64.min is representable.
                let (m, o1) = value.multipliedReportingOverflow(by: 10)
                let (s, o2) = m.subtractingReportingOverflow(digit)
                guard !o1, !o2 else { throw fail("integer does not fit in 64 bits") }
                value = s
                index += 1
            }
        }
        if index < bytes.count {
            switch bytes[index] {
            case UInt8(ascii: "."), UInt8(ascii: "e"), UInt8(ascii: "E"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                throw fail("expected an integer without fraction, exponent or leading zero")
            default: break
            }
        }
        if negative { return value }
        guard value != Int64.min else { throw fail("integer does not fit in 64 bits") }
        return -value
    }

    public mutating func string() throws(JWSError) -> String {
        guard try peek() == UInt8(ascii: "\"") else { throw fail("expected a string") }
        index += 1
        let start = index
        // Fast path: plain ASCII with no escapes, which is every string our issuer writes except "\/".
        while index < bytes.count {
            let b = bytes[index]
            if b == UInt8(ascii: "\"") {
                let s = String(decoding: bytes[start..<index], as: UTF8.self)
                index += 1
                return s
            }
            if b == UInt8(ascii: "\\") || b >= 0x80 || b < 0x20 { break }
            index += 1
        }
        var out: [UInt8] = Array(bytes[start..<index])
        while index < bytes.count {
            let b = bytes[index]
            switch b {
            case UInt8(ascii: "\""):
                index += 1
                guard let s = String(validating: out, as: UTF8.self) else { throw fail("string is not valid UTF-8") }
                return s
            case UInt8(ascii: "\\"):
                index += 1
                guard index < bytes.count else { throw fail("unexpected end of JSON") }
                let e = bytes[index]
                index += 1
                switch e {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = UInt32(try hex4())
                    if (0xD800...0xDBFF).contains(scalar) {
                        guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"),
                            bytes[index + 1] == UInt8(ascii: "u")
                        else { throw fail("lone UTF-16 surrogate in a string") }
                        index += 2
                        let low = UInt32(try hex4())
                        guard (0xDC00...0xDFFF).contains(low) else { throw fail("lone UTF-16 surrogate in a string") }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    } else if (0xDC00...0xDFFF).contains(scalar) {
                        throw fail("lone UTF-16 surrogate in a string")
                    }
                    guard let u = Unicode.Scalar(scalar) else { throw fail("invalid \\u escape") }
                    out.append(contentsOf: UTF8.encode(u)!)
                default: throw fail("invalid escape in a string")
                }
            default:
                guard b >= 0x20 else { throw fail("control character in a string") }
                out.append(b)
                index += 1
            }
        }
        throw fail("unterminated string")
    }

    private mutating func hex4() throws(JWSError) -> UInt16 {
        guard index + 4 <= bytes.count else { throw fail("unexpected end of JSON") }
        var v: UInt16 = 0
        for _ in 0..<4 {
            let c = bytes[index]
            let d: UInt8
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): d = c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): d = c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): d = c - UInt8(ascii: "A") + 10
            default: throw fail("invalid \\u escape")
            }
            v = v << 4 | UInt16(d)
            index += 1
        }
        return v
    }

    /// Validates and moves past any JSON value (an unknown claim or header field).
    public mutating func skipValue(depth: Int = 1) throws(JWSError) {
        switch try peek() {
        case UInt8(ascii: "{"):
            try object(depth: depth) { (r, _) throws(JWSError) in try r.skipValue(depth: depth + 1) }
        case UInt8(ascii: "["):
            try array(depth: depth) { (r) throws(JWSError) in try r.skipValue(depth: depth + 1) }
        case UInt8(ascii: "\""): _ = try string()
        case UInt8(ascii: "t"), UInt8(ascii: "f"): _ = try bool()
        case UInt8(ascii: "n"): try literal("null")
        default: try skipNumber()
        }
    }

    /// RFC 8259 number syntax; the value itself is not needed.
    private mutating func skipNumber() throws(JWSError) {
        func digits(_ r: inout StrictJSONReader) -> Int {
            let s = r.index
            while r.index < r.bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(r.bytes[r.index]) {
                r.index += 1
            }
            return r.index - s
        }
        if bytes[index] == UInt8(ascii: "-") { index += 1 }
        guard index < bytes.count else { throw fail("unexpected end of JSON") }
        if bytes[index] == UInt8(ascii: "0") {
            index += 1
        } else {
            guard digits(&self) > 0 else { throw fail("expected a value") }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            guard digits(&self) > 0 else { throw fail("expected digits after '.'") }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
                index += 1
            }
            guard digits(&self) > 0 else { throw fail("expected digits in the exponent") }
        }
    }
}
