import Crypto
import Foundation

/// Turns a compact JWS into a `Credential` after checking the authority signature. Parsing is `CredentialParser`
/// (strict, schema-specific, no `JSONDecoder`: this is on the decision path). The ES256 check is done here with
/// swift-crypto over the exact signing input (the token's bytes up to the second `.`), so the decision path stays
/// synchronous and the key is chosen strictly by `kid` (no default key, no algorithm other than ES256: no `none`, no
/// HMAC confusion). Errors come in jwt-kit's order: parse (`.malformed`), alg, kid, signature, then claim semantics.
public struct CredentialVerifier: Sendable {
    public var authority: AuthorityKeySet
    /// Tokens longer than this are refused before any parsing (a credential is a few hundred bytes).
    public static let maxTokenBytes = 4096

    public init(authority: AuthorityKeySet) { self.authority = authority }

    public func verify(_ token: String) throws(CredentialError) -> Credential {
        let bytes = Array(token.utf8)
        guard bytes.count <= Self.maxTokenBytes else {
            throw CredentialError(.malformed, "token is \(bytes.count) bytes, the limit is \(Self.maxTokenBytes)")
        }
        let parsed = try CredentialParser.parse(bytes)
        guard parsed.alg == "ES256" else {
            throw CredentialError(.unsupportedAlgorithm, "alg '\(parsed.alg ?? "none")' is not accepted; only ES256")
        }
        guard let kid = parsed.kid, !kid.isEmpty else {
            throw CredentialError(.unknownKeyID, "credential has no kid")
        }
        guard let key = authority[kid] else {
            throw CredentialError(.unknownKeyID, "authority key '\(kid)' is not trusted by this board")
        }
        guard parsed.signature.count == 64,
            let signature = try? P256.Signing.ECDSASignature(rawRepresentation: parsed.signature),
            key.isValidSignature(signature, for: SHA256.hash(data: bytes[..<parsed.signingInputCount]))
        else { throw CredentialError(.badSignature, "authority signature does not verify") }
        return try Credential(keyID: kid, claims: parsed.claims)
    }
}
