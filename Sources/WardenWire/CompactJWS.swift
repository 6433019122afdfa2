import Crypto
import Foundation

/// The one reader of authority-signed objects (credentials, access-list updates, signed commands): a compact JWS,
/// ES256 only, the key chosen strictly by `kid` from the board's `AuthorityKeySet`. Board and cloud both use it, so
/// there is exactly one place where "signed by the authority" is decided.
///
/// Order of checks (a token gets the same error code wherever it is read): the three parts decode as canonical
/// base64url, the header is strict JSON (a `crit` header is refused), the payload parses (the caller's strict
/// parser), the signature part decodes; then `alg`, `kid`, signature. The caller's parser runs before the signature
/// check so that error codes do not depend on which key a board holds.
public enum CompactJWS {
    /// A parsed but not yet verified token. `signingInputCount` is the length of `header.payload`, the exact bytes
    /// the authority signed (a prefix of the token).
    public struct Parsed<Payload> {
        public var alg: String?
        public var kid: String?
        public var payload: Payload
        public var signature: [UInt8]
        public var signingInputCount: Int
    }

    /// P-256's group order n, big-endian: an ECDSA signature (r, s) is also valid as (r, n - s).
    static let order: [UInt8] = [
        0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        0xBC, 0xE6, 0xFA, 0xAD, 0xA7, 0x17, 0x9E, 0x84, 0xF3, 0xB9, 0xCA, 0xC2, 0xFC, 0x63, 0x25, 0x51,
    ]
    static let halfOrder: [UInt8] = [
        0x7F, 0xFF, 0xFF, 0xFF, 0x80, 0x00, 0x00, 0x00, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        0xDE, 0x73, 0x7D, 0x56, 0xD3, 0x8B, 0xCF, 0x42, 0x79, 0xDC, 0xE5, 0x61, 0x7E, 0x31, 0x92, 0xA8,
    ]

    /// Splits and decodes `token`; `payload` parses the decoded payload bytes (throwing `.malformed` on bad input).
    /// `what` names the object in errors ("credential", "access-list update").
    public static func parse<Payload>(
        _ token: [UInt8],
        what: String,
        payload: ([UInt8]) throws(JWSError) -> Payload
    ) throws(JWSError) -> Parsed<Payload> {
        guard let dot1 = token.firstIndex(of: UInt8(ascii: ".")),
            let dot2 = token[(dot1 + 1)...].firstIndex(of: UInt8(ascii: ".")),
            !token[(dot2 + 1)...].contains(UInt8(ascii: "."))
        else { throw JWSError(.malformed, "a \(what) is a compact JWS: three parts") }
        guard let headerJSON = Base64URL.decodeCanonical(token[..<dot1]),
            let payloadJSON = Base64URL.decodeCanonical(token[(dot1 + 1)..<dot2])
        else { throw JWSError(.malformed, "\(what) header or payload is not canonical base64url") }
        let (alg, kid) = try header(headerJSON)
        let value = try payload(payloadJSON)
        let signaturePart = token[(dot2 + 1)...]
        guard let signature = Base64URL.decodeCanonical(signaturePart) else {
            // Not base64url at all: malformed. Base64url letters but not the canonical spelling of 64 bytes (a
            // truncated or re-encoded signature): an empty signature, refused as `.badSignature` by `verify`,
            // without guessing what the other spelling meant.
            let base64URLish = signaturePart.allSatisfy { Base64URL.isAlphabet($0) || $0 == UInt8(ascii: "=") }
            guard base64URLish, signaturePart.count % 4 != 1 else {
                throw JWSError(.malformed, "\(what) signature is not base64url")
            }
            return Parsed(alg: alg, kid: kid, payload: value, signature: [], signingInputCount: dot2)
        }
        return Parsed(alg: alg, kid: kid, payload: value, signature: signature, signingInputCount: dot2)
    }

    /// Checks `alg`, `kid` and the ES256 signature of a parsed `token`; returns the key id that signed it.
    public static func verify<Payload>(
        _ parsed: Parsed<Payload>,
        of token: [UInt8],
        authority: AuthorityKeySet,
        what: String
    ) throws(JWSError) -> String {
        guard parsed.alg == "ES256" else {
            throw JWSError(.unsupportedAlgorithm, "alg '\(parsed.alg ?? "none")' is not accepted; only ES256")
        }
        guard let kid = parsed.kid, !kid.isEmpty else { throw JWSError(.unknownKeyID, "\(what) has no kid") }
        guard let key = authority[kid] else {
            throw JWSError(.unknownKeyID, "authority key '\(kid)' is not trusted by this board")
        }
        guard parsed.signature.count == 64,
            let signature = try? P256.Signing.ECDSASignature(rawRepresentation: parsed.signature),
            key.isValidSignature(signature, for: SHA256.hash(data: token[..<parsed.signingInputCount]))
        else { throw JWSError(.badSignature, "authority signature of the \(what) does not verify") }
        return kid
    }

    /// Parses and verifies a token whose payload is plain JSON for a `Decodable` type (access-list updates, signed
    /// commands; credentials have their own strict parser on the decision path). `maxBytes` is checked first.
    public static func verifiedJSON<Payload: Decodable>(
        _ token: String,
        as type: Payload.Type,
        authority: AuthorityKeySet,
        what: String,
        maxBytes: Int
    ) throws(JWSError) -> Payload {
        let bytes = Array(token.utf8)
        guard bytes.count <= maxBytes else { throw JWSError(.malformed, "a \(what) is at most \(maxBytes) bytes") }
        return try verified(bytes, authority: authority, what: what) { (json) throws(JWSError) in
            do {
                return try JSONDecoder().decode(Payload.self, from: Data(json))
            } catch {
                throw JWSError(.malformed, "\(what) does not parse: \(error)")
            }
        }.payload
    }

    /// Parses and verifies in one call.
    public static func verified<Payload>(
        _ token: [UInt8],
        authority: AuthorityKeySet,
        what: String,
        payload: ([UInt8]) throws(JWSError) -> Payload
    ) throws(JWSError) -> (kid: String, payload: Payload) {
        let parsed = try parse(token, what: what, payload: payload)
        return (try verify(parsed, of: token, authority: authority, what: what), parsed.payload)
    }

    /// A raw (r ‖ s) signature in low-S form (s ≤ n/2). ECDSA signatures are malleable: (r, n - s) verifies too, so
    /// a token has two spellings. The authority signs in low-S form only, and the board keys anything it
    /// remembers about a token (its verified-credential cache) by `canonicalIdentity`, so both spellings are one.
    public static func lowS(_ signature: [UInt8]) -> [UInt8] {
        guard signature.count == 64 else { return signature }
        let s = Array(signature[32...])
        guard s.lexicographicallyPrecedes(halfOrder) || s == halfOrder else {
            var out = Array(signature[..<32])
            out += subtract(order, s)
            return out
        }
        return signature
    }

    /// Whether a raw signature is already in low-S form.
    public static func isLowS(_ signature: [UInt8]) -> Bool { lowS(signature) == signature }

    /// SHA-256 of the signing input followed by the low-S signature: the same for both spellings of one token.
    public static func canonicalIdentity<Payload>(_ parsed: Parsed<Payload>, of token: [UInt8]) -> SHA256Digest {
        var h = SHA256()
        h.update(data: token[..<parsed.signingInputCount])
        h.update(data: lowS(parsed.signature))
        return h.finalize()
    }

    /// `canonicalIdentity` straight from a token, without parsing header or payload (a cache key taken before any
    /// other work); nil when the token has no decodable signature part.
    public static func canonicalIdentity(of token: [UInt8]) -> SHA256Digest? {
        guard let dot2 = token.lastIndex(of: UInt8(ascii: ".")),
            let signature = Base64URL.decodeCanonical(token[(dot2 + 1)...])
        else { return nil }
        var h = SHA256()
        h.update(data: token[..<dot2])
        h.update(data: lowS(signature))
        return h.finalize()
    }

    /// a - b for 32-byte big-endian numbers with a > b.
    static func subtract(_ a: [UInt8], _ b: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: a.count)
        var borrow = 0
        for i in stride(from: a.count - 1, through: 0, by: -1) {
            var d = Int(a[i]) - Int(b[i]) - borrow
            borrow = d < 0 ? 1 : 0
            if d < 0 { d += 256 }
            out[i] = UInt8(d)
        }
        return out
    }

    /// The JOSE header: `alg` and `kid` when they are strings (anything else reads as absent and is refused by
    /// `verify` with the usual code), other fields checked for syntax and ignored, `crit` refused.
    static func header(_ json: [UInt8]) throws(JWSError) -> (alg: String?, kid: String?) {
        var r = try StrictJSONReader(json, path: "header")
        var alg: String?
        var kid: String?
        try r.object { (r, key) throws(JWSError) in
            switch key {
            case "alg", "kid":
                let value: String?
                do {
                    var probe = r
                    value = try probe.string()
                    r = probe
                } catch {
                    value = nil
                    try r.skipValue(depth: 2)
                }
                if key == "alg" { alg = value } else { kid = value }
            case "crit": throw r.fail("crit header: no JWS extensions are understood")
            default: try r.skipValue(depth: 2)
            }
        }
        try r.end()
        return (alg, kid)
    }
}
