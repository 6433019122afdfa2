import Crypto
import Foundation
import WardenWire

/// Turns a compact JWS into a `Credential` after checking the authority signature. Parsing is `CredentialParser`
/// (strict, schema-specific, no `JSONDecoder`: this is on the decision path); the ES256 check is `CompactJWS`'s, with
/// swift-crypto over the exact signing input (the token's bytes up to the second `.`), so the decision path stays
/// synchronous and the key is chosen strictly by `kid` (no default key, no algorithm other than ES256: no `none`, no
/// HMAC confusion). Errors come in jwt-kit's order: parse (`.malformed`), alg, kid, signature, then claim semantics.
public struct CredentialVerifier: Sendable {
    public var authority: AuthorityKeySet
    /// Tokens longer than this are refused before any parsing (a credential is a few hundred bytes).
    public static let maxTokenBytes = 4096

    public init(authority: AuthorityKeySet) { self.authority = authority }

    public func verify(_ token: String) throws(JWSError) -> Credential {
        let bytes = Array(token.utf8)
        guard bytes.count <= Self.maxTokenBytes else {
            throw JWSError(.malformed, "token is \(bytes.count) bytes, the limit is \(Self.maxTokenBytes)")
        }
        let parsed = try CredentialParser.parse(bytes)
        let kid = try CompactJWS.verify(parsed, of: bytes, authority: authority, what: "credential")
        return try Credential(keyID: kid, claims: parsed.payload)
    }
}
