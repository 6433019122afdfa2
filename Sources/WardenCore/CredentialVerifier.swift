import Crypto
import Foundation
import JWTKit

/// Turns a compact JWS into a `Credential` after checking the authority signature. Parsing uses jwt-kit's
/// synchronous parser; the ES256 check is done here with swift-crypto so the decision path stays synchronous and the
/// key is chosen strictly by `kid` (no default key, no algorithm other than ES256: no `none`, no HMAC confusion).
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
        let parts = bytes.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard parts.count == 3 else { throw CredentialError(.malformed, "a credential is a compact JWS: three parts") }
        let parsed: (header: JWTHeader, payload: CredentialClaims, signature: Data)
        do {
            parsed = try DefaultJWTParser().parse(bytes, as: CredentialClaims.self)
        } catch {
            throw CredentialError(.malformed, "credential JWS does not parse: \(error)")
        }
        guard parsed.header.alg == "ES256" else {
            throw CredentialError(.unsupportedAlgorithm, "alg '\(parsed.header.alg ?? "none")' is not accepted; only ES256")
        }
        guard let kid = parsed.header.kid, !kid.isEmpty else {
            throw CredentialError(.unknownKeyID, "credential has no kid")
        }
        guard let key = authority[kid] else {
            throw CredentialError(.unknownKeyID, "authority key '\(kid)' is not trusted by this board")
        }
        let signingInput = Data(bytes[..<(parts[0].count + 1 + parts[1].count)])
        guard parsed.signature.count == 64,
            let signature = try? P256.Signing.ECDSASignature(rawRepresentation: parsed.signature),
            key.isValidSignature(signature, for: SHA256.hash(data: signingInput))
        else { throw CredentialError(.badSignature, "authority signature does not verify") }
        return try Credential(keyID: kid, claims: parsed.payload)
    }
}
