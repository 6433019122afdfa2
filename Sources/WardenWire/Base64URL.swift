import Foundation

/// Unpadded base64url (RFC 4648 section 5), as JOSE uses it.
public enum Base64URL {
    public static func encode(_ bytes: some Sequence<UInt8>) -> String {
        Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    public static func decode(_ text: some StringProtocol) -> Data? {
        var s = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        guard !s.contains("=") else { return nil }
        while s.count % 4 != 0 { s += "=" }
        return Data(base64Encoded: s)
    }
}

extension Base64URL {
    private static let alphabetValues: [UInt8] = {
        var t = [UInt8](repeating: 0xFF, count: 256)
        for (i, c) in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8.enumerated() {
            t[Int(c)] = UInt8(i)
        }
        return t
    }()

    static func isAlphabet(_ c: UInt8) -> Bool { alphabetValues[Int(c)] != 0xFF }

    /// Strict, canonical unpadded base64url for the decision path: only `A-Z a-z 0-9 - _`, no `=` padding, no
    /// whitespace, a length that is not 1 mod 4, and zero unused bits in the last character. So each byte string has
    /// exactly one accepted text, and nothing goes through `String` or Foundation. Nil when any rule is broken.
    public static func decodeCanonical(_ text: ArraySlice<UInt8>) -> [UInt8]? {
        let n = text.count
        guard n % 4 != 1 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(n * 3 / 4)
        var acc: UInt32 = 0
        var bits = 0
        for c in text {
            let v = alphabetValues[Int(c)]
            guard v != 0xFF else { return nil }
            acc = (acc << 6) | UInt32(v)
            bits += 6
            if bits >= 8 {
                bits -= 8
                out.append(UInt8(truncatingIfNeeded: acc >> UInt32(bits)))
                acc &= (1 << UInt32(bits)) - 1
            }
        }
        guard acc == 0 else { return nil }  // non-zero leftover bits: a second spelling of the same bytes
        return out
    }
}
