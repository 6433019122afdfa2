/// Bounds-checked reading of peer bytes: every read either succeeds or throws `badFrame`, never traps.
struct ByteReader {
    private let bytes: [UInt8]
    private(set) var offset = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var remaining: Int { bytes.count - offset }

    mutating func take(_ n: Int, _ what: String) throws(ProtocolError) -> [UInt8] {
        guard n >= 0, remaining >= n else {
            throw ProtocolError(.badFrame, "truncated \(what): need \(n) bytes, have \(remaining)")
        }
        defer { offset += n }
        return Array(bytes[offset..<offset + n])
    }

    mutating func u8(_ what: String) throws(ProtocolError) -> UInt8 { try take(1, what)[0] }

    mutating func u16(_ what: String) throws(ProtocolError) -> Int {
        let b = try take(2, what)
        return Int(b[0]) << 8 | Int(b[1])
    }

    mutating func u64(_ what: String) throws(ProtocolError) -> UInt64 {
        try take(8, what).reduce(0) { $0 << 8 | UInt64($1) }
    }

    func end(_ what: String) throws(ProtocolError) {
        guard remaining == 0 else {
            throw ProtocolError(.badFrame, "\(remaining) unexpected trailing bytes in \(what)")
        }
    }
}

extension Array where Element == UInt8 {
    mutating func appendU16(_ v: Int) { append(contentsOf: [UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)]) }
    mutating func appendU64(_ v: UInt64) { for i in (0..<8).reversed() { append(UInt8(v >> (UInt64(i) * 8) & 0xFF)) } }
}
