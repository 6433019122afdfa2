import Crypto
import Foundation
import JWTKit
import Synchronization
import WardenWire

/// Signs credentials, access-list updates and commands with the org authority key. The cloud holds it in
/// production; the demo, tests and `wardenctl dev` use it to stand in for the cloud. The board never links this
/// module (it only verifies, with `CompactJWS`).
public struct CredentialIssuer: Sendable {
    public let keyID: String
    public let privateKey: P256.Signing.PrivateKey
    /// The key imported into jwt-kit once, not per token: a revocation signs one update per door, thousands at a time.
    private let keys = JWTKeyCollection()
    private let prepared = Prepared()

    public init(keyID: String, privateKey: P256.Signing.PrivateKey) {
        self.keyID = keyID
        self.privateKey = privateKey
    }

    /// A compact JWS (ES256, `kid`) over `payload`'s JSON, its signature in low-S form (one spelling per token;
    /// `CompactJWS.lowS`).
    public func sign(_ payload: some Encodable & Sendable) async throws -> String {
        if !prepared.flag.load(ordering: .acquiring) {
            await keys.add(
                ecdsa: try ES256PrivateKey(pem: privateKey.pemRepresentation),
                kid: JWKIdentifier(string: keyID)
            )
            prepared.flag.store(true, ordering: .releasing)
        }
        let token = try await keys.sign(AuthorityPayload(payload), kid: JWKIdentifier(string: keyID))
        return Self.normalisedToLowS(token)
    }

    public var publicKeySet: AuthorityKeySet { AuthorityKeySet([keyID: privateKey.publicKey]) }

    static func normalisedToLowS(_ token: String) -> String {
        let bytes = Array(token.utf8)
        guard let dot = bytes.lastIndex(of: UInt8(ascii: ".")),
            let signature = Base64URL.decodeCanonical(bytes[(dot + 1)...])
        else { return token }
        return String(decoding: bytes[...dot], as: UTF8.self) + Base64URL.encode(CompactJWS.lowS(signature))
    }
}

/// Any Encodable as a jwt-kit payload, encoded exactly as the value itself. Claims are checked on the board against
/// its trusted time, never by jwt-kit against the signer's wall clock.
struct AuthorityPayload<Value: Encodable & Sendable>: JWTPayload {
    let value: Value
    init(_ value: Value) { self.value = value }
    func encode(to encoder: any Encoder) throws { try value.encode(to: encoder) }
    init(from decoder: any Decoder) throws {
        throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "AuthorityPayload is sign-only"))
    }
    func verify(using algorithm: some JWTAlgorithm) async throws {}
}

/// Whether the signing key is in the collection yet (a class: `Atomic` cannot live in a copyable struct).
private final class Prepared: Sendable {
    let flag = Atomic<Bool>(false)
}
