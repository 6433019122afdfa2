import Crypto
import Foundation

/// The org authority's public keys the board trusts, by key id. Several at once so the authority can rotate: a new
/// key is added everywhere before credentials signed with it appear, and the old one removed after they expire.
public struct AuthorityKeySet: Sendable {
    private var keys: [String: P256.Signing.PublicKey]

    public init(_ keys: [String: P256.Signing.PublicKey] = [:]) { self.keys = keys }

    /// Keys from PEM text (SubjectPublicKeyInfo), as provisioning writes them.
    public init(pems: [String: String]) throws(JWSError) {
        var keys: [String: P256.Signing.PublicKey] = [:]
        for (kid, pem) in pems {
            guard let key = try? P256.Signing.PublicKey(pemRepresentation: pem) else {
                throw JWSError(.malformed, "authority key '\(kid)' is not a P-256 public key in PEM form")
            }
            keys[kid] = key
        }
        self.keys = keys
    }

    public subscript(kid: String) -> P256.Signing.PublicKey? { keys[kid] }
    public var keyIDs: [String] { keys.keys.sorted() }
    public var isEmpty: Bool { keys.isEmpty }
}
