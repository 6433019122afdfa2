import Crypto
import Foundation
import JWTKit

/// Signs credentials and other authority objects with the org authority key. The cloud holds it in production; the
/// demo, tests and `wardenctl dev` use it to stand in for the cloud.
public struct CredentialIssuer: Sendable {
    public let keyID: String
    public let privateKey: P256.Signing.PrivateKey

    public init(keyID: String, privateKey: P256.Signing.PrivateKey) {
        self.keyID = keyID
        self.privateKey = privateKey
    }

    public func sign(_ payload: some JWTPayload) async throws -> String {
        let keys = JWTKeyCollection()
        await keys.add(ecdsa: try ES256PrivateKey(pem: privateKey.pemRepresentation), kid: JWKIdentifier(string: keyID))
        return try await keys.sign(payload, kid: JWKIdentifier(string: keyID))
    }

    public var publicKeySet: AuthorityKeySet { AuthorityKeySet([keyID: privateKey.publicKey]) }
}
